/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * l2/format.h — layout 2's codecs: one encoder/decoder per on-disk structure
 * of docs/FORMAT.md Part II (block header §L2, journal entries §L3, records,
 * checkpoints, table leaves, index pages, filter blocks and footers §L6).
 *
 * Owns: every byte layout of layout 2 and the format parameters derived from
 * them (struct l2_geom).  Pure functions over memory: no flash I/O, no
 * allocation.  Decoders validate everything they read against the geometry
 * and never trust a length from flash without a bound.
 */
#ifndef EKV_L2_FORMAT_H
#define EKV_L2_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ekv.h"

#define L2_MAGIC 0x32564b45u /* "EKV2" */
#define L2_VERSION 1
#define L2_HDR_SIZE 64
#define L2_KIND_JOURNAL 1
#define L2_KIND_TABLE 2
#define L2_COMPAT_NAND 0x01
#define L2_INCOMPAT_KNOWN 0x00 /* bits a version 1 reader accepts */
#define L2_NO_LINK 0xffffffffu

/* §L1 ranges */
#define L2_BLOCK_MIN 128u
#define L2_BLOCK_MAX (16u << 20)
#define L2_BLOCKS_MIN 6u
#define L2_PU_MAX 65536u
#define L2_KEY_MAX 1024u
#define L2_VALUE_MAX ((1u << 20) - 1)
#define L2_JOURNAL_MIN 2u
#define L2_JOURNAL_MAX 255u
#define L2_LEVELS 16u

/* Format parameters (§L1), the same in every block header of an image, plus
 * what is derived from them. */
struct l2_geom {
	uint32_t block_size;   /* B */
	uint32_t block_count;  /* N */
	uint32_t pu;           /* U */
	uint32_t align;        /* A */
	uint8_t erase_value;   /* E */
	uint8_t journal_blocks; /* J */
	uint16_t memtable_kib; /* M */
	uint16_t max_key;      /* K */
	uint32_t max_value;    /* V */
	uint8_t compat, incompat;
	uint64_t image_id;
	/* derived by l2_geom_check */
	uint32_t payload;       /* B - H: stream bytes per table block */
	uint32_t spare;         /* S */
	uint32_t continue_room; /* room kept for a CONTINUE at a journal block's end */
	uint32_t leaf_target;   /* table leaf size the writer aims at */
	uint32_t index_target;  /* index page size the writer aims at */
	uint32_t max_record;    /* largest encoded record */
};

/* Validate the parameters (ranges of §L1) and fill the derived fields. */
int l2_geom_check(struct l2_geom *g, char *msg, size_t msg_size);
/* Defaults of §L1 for a device: B, N, U given; the rest default. */
void l2_geom_default(struct l2_geom *g, uint32_t block_size, uint32_t block_count, uint32_t pu,
		     uint8_t erase_value, bool nand);

static inline uint32_t l2_align_up(uint32_t n, uint32_t a)
{
	return (n + a - 1) / a * a;
}

/* ---- block header §L2 ---------------------------------------------------- */

struct l2_block_hdr {
	uint8_t kind;
	uint64_t block_seq;
	uint32_t erase_count;
	uint32_t owner, index, link;
};

void l2_hdr_encode(const struct l2_geom *g, const struct l2_block_hdr *h, uint8_t out[L2_HDR_SIZE]);
/* 0 and *h, *g filled (g's derived fields checked) for a valid header;
 * EKV_ECORRUPT for anything else (erased, torn, damaged, other format);
 * EKV_ENOTSUP for a valid header with incompatible features we do not know
 * (msg says which). */
int l2_hdr_decode(const uint8_t in[L2_HDR_SIZE], struct l2_block_hdr *h, struct l2_geom *g,
		  char *msg, size_t msg_size);
/* Same geometry fields and image id (what makes two headers one image). */
bool l2_geom_same(const struct l2_geom *a, const struct l2_geom *b);

bool l2_is_erased(const uint8_t *p, size_t n, uint8_t erase_value);

/* ---- LEB128 -------------------------------------------------------------- */

uint32_t l2_varint_size(uint32_t v);
uint32_t l2_varint_put(uint8_t *out, uint32_t v);
/* bytes used (1..5) or 0 if malformed, truncated or not minimal */
uint32_t l2_varint_get(const uint8_t *p, size_t avail, uint32_t *v);

/* ---- records §L3.1 ------------------------------------------------------- */

struct l2_rec {
	const uint8_t *key;
	uint32_t klen;
	const uint8_t *val;
	uint32_t vlen;
	bool del;
};

uint32_t l2_rec_size(uint32_t klen, uint32_t vlen);
uint32_t l2_rec_encode(uint8_t *out, const struct l2_rec *r);
/* bytes used, or 0 if malformed or beyond the geometry's limits */
uint32_t l2_rec_decode(const uint8_t *p, size_t avail, const struct l2_geom *g, struct l2_rec *r);
/* bytewise, a prefix first */
int l2_key_cmp(const uint8_t *a, uint32_t al, const uint8_t *b, uint32_t bl);

/* ---- journal entries §L3 ------------------------------------------------- */

#define L2_E_COMMIT 1
#define L2_E_CHECKPOINT 2
#define L2_E_CONTINUE 3
#define L2_F_MORE 0x1
#define L2_F_RESUMED 0x2
#define L2_F_CONT 0x4 /* continues the previous entry's payload */
#define L2_ENTRY_MIN 12u      /* header word, seq, crc */
#define L2_CONTINUE_LEN 24u

struct l2_entry_hdr {
	uint8_t type, flags;
	uint32_t len;         /* whole entry, crc included, padding excluded */
	uint32_t seq_lo;
	uint32_t resume_from; /* RESUMED only */
	uint32_t hdr_size;    /* payload starts here */
};

static inline uint32_t l2_entry_hdr_size(uint8_t flags)
{
	return (flags & L2_F_RESUMED) ? 12 : 8;
}
/* Entry bytes for a payload of n bytes with these flags (before padding). */
static inline uint32_t l2_entry_len(uint8_t flags, uint32_t payload)
{
	return l2_entry_hdr_size(flags) + payload + 4;
}
/* Writes the header (hdr_size bytes); the caller appends the payload, then
 * l2_entry_seal() writes the CRC. */
void l2_entry_hdr_encode(uint8_t *out, const struct l2_entry_hdr *h);
void l2_entry_seal(const struct l2_geom *g, uint8_t *entry, uint32_t len);
/* Plausibility of the first 12 bytes (type, flags, length within avail);
 * 0 or EKV_ECORRUPT. */
int l2_entry_hdr_decode(const uint8_t *p, uint32_t avail, struct l2_entry_hdr *h);
bool l2_entry_crc_ok(const struct l2_geom *g, const uint8_t *entry, uint32_t len);

struct l2_continue {
	uint32_t next_block, next_epoch, next_index;
};
void l2_continue_encode(uint8_t out[12], const struct l2_continue *c);
void l2_continue_decode(const uint8_t in[12], struct l2_continue *c);

/* ---- checkpoints §L3.2 --------------------------------------------------- */

#define L2_CKPT_FLUSH 1
#define L2_CKPT_UPDATE 2
#define L2_TF_COMPACT_INPUT 0x01
#define L2_NO_CURSOR 0xff
#define L2_CKPT_FIXED 24u
#define L2_CKPT_TABLE 16u

struct l2_ckpt_table {
	uint32_t id;
	uint8_t level, flags;
	uint32_t nblocks;
	uint32_t stream_len;
};

struct l2_ckpt {
	uint64_t seq;
	uint32_t epoch, next_table_id;
	uint8_t kind;
	uint16_t ntables;
	struct l2_ckpt_table *tables; /* ntables entries (decode: caller's array) */
	uint8_t cursor_level;         /* L2_NO_CURSOR: none */
	uint32_t cursor_klen;
	const uint8_t *cursor_key;    /* decode: points into the input */
};

uint32_t l2_ckpt_size(const struct l2_ckpt *c);
void l2_ckpt_encode(const struct l2_ckpt *c, uint8_t *out);
/* tables: an array of max_tables; EKV_ECORRUPT if malformed. */
int l2_ckpt_decode(const uint8_t *p, uint32_t n, const struct l2_geom *g, struct l2_ckpt *c,
		   struct l2_ckpt_table *tables, uint32_t max_tables);

/* ---- tables §L6 ---------------------------------------------------------- */

#define L2_FOOTER_MAGIC 0x324c4254u /* "TBL2" */
#define L2_FOOTER_FIXED 32u
#define L2_FILTER_BLOCK 64u
#define L2_FILTER_BITS 480u

/* CRC of a leaf or index page at a stream offset of a table */
uint32_t l2_stream_crc(const struct l2_geom *g, uint32_t table_id, uint32_t off,
		       const uint8_t *p, uint32_t n);

struct l2_footer {
	uint32_t table_id;
	uint8_t level, filter_k;
	uint32_t records;
	uint32_t top_off, top_len;
	uint32_t filter_off, filter_blocks;
	uint32_t min_klen, max_klen;
	const uint8_t *min_key, *max_key; /* decode: into the input */
};
uint32_t l2_footer_size(const struct l2_footer *f);
void l2_footer_encode(const struct l2_geom *g, const struct l2_footer *f, uint8_t *out);
/* p, n: the footer's bytes (n from the trailing length field) */
int l2_footer_decode(const struct l2_geom *g, const uint8_t *p, uint32_t n, uint32_t stream_len,
		     struct l2_footer *f);

/* One entry of an index page or of the top index. */
struct l2_index_entry {
	const uint8_t *key;
	uint32_t klen;
	uint32_t off, len;
};
uint32_t l2_index_entry_size(uint32_t klen, uint32_t off, uint32_t len);
uint32_t l2_index_entry_encode(uint8_t *out, const struct l2_index_entry *e);
uint32_t l2_index_entry_decode(const uint8_t *p, size_t avail, const struct l2_geom *g,
			       struct l2_index_entry *e);

uint64_t l2_hash64(uint64_t seed, const uint8_t *key, uint32_t klen);
/* the k bit positions of a key inside its filter block, and the block */
uint32_t l2_filter_block_of(uint64_t h, uint32_t nblocks);
void l2_filter_set(uint8_t block[L2_FILTER_BLOCK], uint64_t h, uint8_t k);
bool l2_filter_test(const uint8_t block[L2_FILTER_BLOCK], uint64_t h, uint8_t k);
void l2_filter_seal(const struct l2_geom *g, uint32_t table_id, uint32_t blockno,
		    uint8_t block[L2_FILTER_BLOCK]);
bool l2_filter_block_ok(const struct l2_geom *g, uint32_t table_id, uint32_t blockno,
			const uint8_t block[L2_FILTER_BLOCK]);

#endif
