/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * layout.h — the codec of every on-disk structure (docs/FORMAT.md §2–§8):
 * PageHeader, ChunkHeader, MetaHeader, FileMeta, DataHeader and the record
 * header.
 *
 * Owns: one encoder and one decoder per structure, and the checks that the
 * bytes of one structure alone allow (magic, page id, CRC, field ranges).
 * Mount, fsck, dump and probe all read flash through these, so they can
 * never disagree about what a byte means.
 * Must never: do I/O, or decide what a structure means for the state of the
 * database (the page, file and meta layers do that).
 */
#ifndef EKV_LAYOUT_H
#define EKV_LAYOUT_H

#include "profile.h"
#include "util.h" /* the little-endian field codec */

/* ---- PageHeader (§2) ---------------------------------------------------- */

/* Bytes of the PageHeader with or without its CRC field. */
uint32_t page_header_size(bool crc);

/*
 * Check the PageHeader at the start of buf, followed by hdr_size bytes of
 * the higher-layer header: magic, page id and (with crc) the CRC of those
 * bytes.  ph_size is page_header_size(crc).  0 or EKV_ECORRUPT.
 */
int page_header_verify(const uint8_t *buf, uint32_t page, uint32_t magic, bool crc,
		       uint32_t ph_size, uint32_t hdr_size);
static inline int page_header_check(const struct geom *g, const uint8_t *buf, uint32_t page,
				    uint32_t magic, uint32_t hdr_size)
{
	return page_header_verify(buf, page, magic, g->crc, g->ph_size, hdr_size);
}

/* Encode PageHeader + higher-layer header into out (g->ph_size + hdr_size
 * bytes). */
void page_header_encode(const struct geom *g, uint32_t page, uint32_t magic, const uint8_t *hdr,
			uint32_t hdr_size, uint8_t *out);

/* The magic and page id fields, whatever the profile (probe). */
void page_header_peek(const uint8_t *buf, uint32_t *magic, uint32_t *page_id);
/* Magic and page id are these (the CRC is not checked). */
static inline bool page_magic_is(const uint8_t *buf, uint32_t magic, uint32_t page)
{
	uint32_t m, id;
	page_header_peek(buf, &m, &id);
	return m == magic && id == page;
}

/* ---- ChunkHeader (§3) ----------------------------------------------------- */

uint32_t chunk_header_size(bool crc);

void chunk_header_encode(const struct geom *g, uint32_t len, uint32_t crc, uint8_t *out);
/* false: not a chunk (no chunk magic: the end of the chunk list). */
bool chunk_header_decode(const struct geom *g, const uint8_t *in, uint32_t *len, uint32_t *crc);

/* ---- MetaHeader and FileMeta (§5) ------------------------------------------ */

struct meta_header {
	uint32_t page_count, seq;
};
void meta_header_encode(const struct meta_header *h, uint8_t *out);
void meta_header_decode(const uint8_t *in, struct meta_header *h);

#define FLAG_COMPACT_DEST 0x01
#define FLAG_COMPACT_SRC 0x02

struct file_meta {
	uint8_t file_id, flags;
	uint16_t last_page; /* NO_PAGE: empty file */
	uint32_t first_seq;
};
void file_meta_encode(const struct file_meta *fm, uint8_t *out);
void file_meta_decode(const uint8_t *in, struct file_meta *fm);
/* An entry that can be valid in a database of page_count pages. */
bool file_meta_valid(const struct geom *g, uint32_t page_count, const struct file_meta *fm);

/* ---- DataHeader (§6) ---------------------------------------------------- */

struct data_header {
	uint32_t seq;
	uint16_t skiplist[MAX_SKIPLIST_LEN];
	uint16_t record_boundary;
};
void data_header_encode(const struct geom *g, const struct data_header *h, uint8_t *out);
void data_header_decode(const struct geom *g, const uint8_t *in, struct data_header *h);

/* ---- record header (§8) ---------------------------------------------------- */

struct rec_hdr {
	uint32_t key_len, value_len;
	bool is_delete;
};
/* EKV_ECORRUPT for lengths beyond the profile or a tombstone with a value. */
int rec_hdr_decode(const struct geom *g, const uint8_t *raw, struct rec_hdr *h);
void rec_hdr_encode(const struct geom *g, const struct rec_hdr *h, uint8_t *raw);
/* The writer leaves the bits above the three fields zero: false if one is
 * set (damage, or another split of key and value bits). */
bool rec_hdr_spare_bits_clear(const struct geom *g, const uint8_t *raw);

uint32_t ekv_crc32(uint32_t crc, const void *buf, size_t len);

#endif
