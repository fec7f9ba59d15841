/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * profile.h — a profile (struct ekv_profile) and every size derived from it.
 *
 * Owns: the one place where the on-disk geometry is computed.  Every other
 * layer reads sizes from struct geom; none hard-codes a layout constant.
 */
#ifndef EKV_PROFILE_H
#define EKV_PROFILE_H

#include "ekv.h"

#define META_MAGIC 0x1d81bcdeu
#define DATA_MAGIC 0x7fcbf35du
#define CHUNK_MAGIC 0x59c5u
#define FILE_META_SIZE 8
#define NO_PAGE 0xffffu /* OptionPageID none, whatever the erase value */
#define NO_BOUNDARY 0xffffu
#define MIN_FREE_PAGE_COUNT_COMPACT 1

/*
 * Format limits: the largest value each size can take over every profile
 * geom_init accepts.  Fixed buffers are sized by these and nothing else;
 * the _Static_asserts in profile.c tie each one to geom_init's range checks.
 */
#define EKV_PAGE_SIZE_MIN 128
#define EKV_PAGE_SIZE_MAX 65536
#define EKV_MAX_PAGE_COUNT_MIN 8
#define EKV_MAX_PAGE_COUNT_MAX 65536
#define EKV_ALIGN_MAX 4
#define EKV_BF_MIN 2
#define EKV_BF_MAX 4
#define EKV_KEY_SIZE_LIMIT 1024    /* max_key_size */
#define EKV_VALUE_SIZE_LIMIT 65536 /* max_value_size */
#define EKV_CHUNK_SIZE_MIN 16
#define EKV_CHUNK_SIZE_MAX 65535 /* a chunk's u16 length */
#define EKV_PAYLOAD_MAX 65535    /* a page's payload: u16 record boundaries */
#define EKV_PAGE_HDR_MAX 12  /* PageHeader: 8, +4 with crc */
#define EKV_CHUNK_HDR_MAX 8  /* ChunkHeader: 4, +4 with crc */
#define EKV_META_HDR_SIZE 8  /* MetaHeader */
#define EKV_LAYER_HDR_MAX 64 /* the higher-layer header: MetaHeader or DataHeader */
#define EKV_REC_HDR_MAX 4    /* record header */
#define EKV_KEY_BITS_MAX 11   /* bits for 0..EKV_KEY_SIZE_LIMIT */
#define EKV_VALUE_BITS_MAX 17 /* bits for 0..EKV_VALUE_SIZE_LIMIT */
#define MAX_SKIPLIST_LEN 14 /* ilog2(EKV_MAX_PAGE_COUNT_MAX) - 2 */
#define MAX_FILE_COUNT 33   /* BF * floor(log_BF(EKV_MAX_PAGE_COUNT_MAX)) + 1, at most */

struct geom {
	struct ekv_profile p;
	uint32_t page_size, page_count, align;
	uint8_t erase_value;
	bool crc;
	uint32_t ph_size;        /* PageHeader */
	uint32_t ch_size;        /* ChunkHeader */
	uint32_t meta_hdr_size;  /* MetaHeader */
	uint32_t data_hdr_size;  /* DataHeader */
	uint32_t chunk_max;      /* max data bytes of one chunk */
	uint32_t payload_max;    /* PAGE_MAX_PAYLOAD_SIZE */
	uint32_t skiplist_len, skiplist_shift;
	uint32_t level_count, file_count, bf;
	uint32_t key_bits, value_bits, rec_hdr_size;
	uint32_t max_key, max_value;
	uint32_t max_record_size; /* 4 + max_key + max_value, as the crate computes it */
	uint32_t min_free_pages;
};

/* Validate p and fill g; msg gets the reason on failure. */
int geom_init(struct geom *g, const struct ekv_profile *p, char *msg, size_t msg_size);
/* Bits of a length field for 0..max: log2(next_pow2(max + 1)) (KEY_BITS,
 * VALUE_BITS). */
uint32_t geom_size_bits(uint32_t max);

static inline uint32_t geom_align_up(const struct geom *g, uint32_t n)
{
	return (n + g->align - 1) / g->align * g->align;
}

static inline uint32_t geom_align_down(const struct geom *g, uint32_t n)
{
	return n / g->align * g->align;
}

/* Record size as the crate's space checks count it: the header as the u32
 * it is encoded from, whatever the profile's record header size.
 * crate: record.rs Header::record_size */
static inline uint32_t geom_record_size(uint32_t key_len, uint32_t value_len)
{
	return EKV_REC_HDR_MAX + key_len + value_len;
}

#endif
