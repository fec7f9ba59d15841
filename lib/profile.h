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
#define MAX_SKIPLIST_LEN 14 /* ilog2(65536) - 2 */
#define MAX_FILE_COUNT 33   /* 2 * ilog2(65536) + 1 */
#define MIN_FREE_PAGE_COUNT_COMPACT 1

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

static inline uint32_t geom_align_up(const struct geom *g, uint32_t n)
{
	return (n + g->align - 1) / g->align * g->align;
}

static inline uint32_t geom_align_down(const struct geom *g, uint32_t n)
{
	return n / g->align * g->align;
}

/* Record size as the crate's space checks count it (4-byte header). */
static inline uint32_t geom_record_size(uint32_t key_len, uint32_t value_len)
{
	return 4 + key_len + value_len;
}

#endif
