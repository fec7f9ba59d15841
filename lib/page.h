/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * page.h — pages and chunks (docs/FORMAT.md §3, §4).
 *
 * Owns: the PageHeader (magic, page_id, optional CRC of the higher-layer
 * header), the chunk list of a page body, CRCs of chunks, the write order
 * "chunk data before chunk header", and the rule that no byte is programmed
 * twice between erases.  Knows nothing of files, seqs or records: the
 * higher-layer header is opaque bytes here.
 */
#ifndef EKV_PAGE_H
#define EKV_PAGE_H

#include "layout.h"

#define PAGE_WIN_CAP 4096

/*
 * Read and validate a page header: magic, page_id == page, and (crc) the CRC
 * of the hdr_size higher-layer header bytes, which are copied to hdr.
 * EKV_ECORRUPT means "no valid page of this kind here" (a normal outcome
 * when scanning).
 */
int page_read_header(const struct geom *g, struct ekv_flash *f, uint32_t page, uint32_t magic,
		     uint8_t *hdr, uint32_t hdr_size);

struct page_reader {
	const struct geom *g;
	struct ekv_flash *f;
	uint32_t page;
	uint32_t hdr_size;
	bool lenient;          /* implausible chunk = end of page (meta log) */
	bool at_end;
	bool torn_tail;        /* lenient mode stopped at an implausible chunk */
	uint32_t prev_len;     /* payload bytes of the chunks before this one */
	uint32_t chunk_offset; /* offset of the current chunk header */
	uint32_t chunk_len;
	uint32_t chunk_crc;
	uint32_t chunk_pos;
	uint32_t readahead;    /* bytes to load on a miss (0 = as much as fits) */
	uint8_t *win;          /* cached chunk data [win_lo, win_hi) */
	uint32_t win_lo, win_hi;
};

void page_reader_init(struct page_reader *r, const struct geom *g, struct ekv_flash *f,
		      uint32_t readahead);
void page_reader_free(struct page_reader *r);
/* Open a page: validate its header (copied to hdr) and open its first chunk. */
int page_reader_open(struct page_reader *r, uint32_t page, uint32_t magic, uint8_t *hdr,
		     uint32_t hdr_size);
/* Read up to len bytes of the page payload; returns bytes read (0 = end). */
int page_reader_read(struct page_reader *r, void *buf, uint32_t len);
/* Skip up to len payload bytes; returns bytes skipped. */
int page_reader_skip(struct page_reader *r, uint32_t len);
/* Move to the next chunk, even if bytes of this one are unread (at_end set
 * when there is none).  0 or <0 error. */
int page_reader_next_chunk(struct page_reader *r);
/* 1 if no payload byte is left in the page, 0 if some is, <0 error. */
int page_reader_at_eof(struct page_reader *r);
/* Payload position within the page. */
static inline uint32_t page_reader_pos(const struct page_reader *r)
{
	return r->prev_len + r->chunk_pos;
}

/* A saved reader position, cheap to keep for many files (cursors). */
struct page_pos {
	uint32_t page, hdr_size;
	bool at_end;
	uint32_t prev_len, chunk_offset, chunk_len, chunk_crc, chunk_pos;
};
void page_reader_save(const struct page_reader *r, struct page_pos *pos);
void page_reader_restore(struct page_reader *r, const struct page_pos *pos);

struct page_writer {
	const struct geom *g;
	struct ekv_flash *f;
	uint32_t page;
	uint32_t hdr_size;
	bool needs_erase;
	uint8_t align_buf[EKV_ALIGN_MAX];
	uint32_t total_len;    /* payload bytes in the page, all chunks */
	uint32_t chunk_offset; /* offset of the chunk being written */
	uint32_t chunk_pos;    /* data bytes in the chunk being written */
	uint32_t crc;
	bool barrier;          /* flash_sync before each chunk header (commit records) */
};

/* Start writing a fresh page (erased lazily at the first write). */
void page_writer_open(struct page_writer *w, const struct geom *g, struct ekv_flash *f,
		      uint32_t page, uint32_t hdr_size);
/* Continue writing a page at a known chunk offset (its tail is known to be
 * erased, or not: then the writer acts full). */
void page_writer_open_at(struct page_writer *w, const struct geom *g, struct ekv_flash *f,
			 uint32_t page, uint32_t hdr_size, uint32_t chunk_offset, bool clean);
/* Whether every byte of page from offset `from` to the end is erased. */
int page_tail_is_erased(const struct geom *g, struct ekv_flash *f, uint32_t page, uint32_t from,
			bool *erased);
/* Write up to len bytes; returns bytes accepted (0 = page full) or <0. */
int page_writer_write(struct page_writer *w, const void *data, uint32_t len);
/* Make the chunk being written visible: flush, then write its header. */
int page_writer_commit(struct page_writer *w);
/* Write the page header with the higher-layer header. */
int page_writer_write_header(struct page_writer *w, uint32_t magic, const uint8_t *hdr,
			     uint32_t hdr_size);
/* Erase now if not erased yet (so a header can be written last). */
int page_writer_erase_if_needed(struct page_writer *w);

#endif
