/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * file.h — reading, searching and writing one file (docs/FORMAT.md §6).
 *
 * Owns: the byte stream of a file across its data pages: reading at a seq,
 * the binary search over record boundaries, and the writer that appends
 * pages, closes each with its data header (seq, skiplist, record boundary)
 * and copies a non-full last page before appending.  Works on a snapshot's
 * struct file_state for reading; writing goes through the file manager
 * (meta.h) for pages and the file-level transaction.
 * Must never: write the meta log, or know about keys, values or records.
 */
#ifndef EKV_FILE_H
#define EKV_FILE_H

#include "chain.h"

#define FILE_EOF 1 /* positive: end of file before any byte was read */

struct file_manager; /* meta.h: allocation and the file-level transaction */

/* ---- reading (works on a snapshot's file_state, no manager needed) ------- */

enum { FR_CREATED, FR_READING, FR_FINISHED };

struct file_reader {
	const struct geom *g;
	struct ekv_flash *f;
	const struct file_state *fs;
	struct page_reader *pr; /* borrowed */
	int state;
	uint32_t seq;
};

void file_reader_init(struct file_reader *r, const struct geom *g, struct ekv_flash *f,
		      const struct file_state *fs, struct page_reader *pr);
/* Read exactly len bytes: 0, FILE_EOF (at end, nothing read) or <0
 * (EKV_ECORRUPT for an end inside the requested bytes). */
int file_reader_read(struct file_reader *r, void *buf, uint32_t len);
int file_reader_skip(struct file_reader *r, uint32_t len);
int file_reader_seek_seq(struct file_reader *r, uint32_t seq);
uint32_t file_reader_curr_seq(const struct file_reader *r);
static inline uint32_t file_reader_offset(const struct file_reader *r)
{
	return file_reader_curr_seq(r) - r->fs->first_seq;
}

/* A saved file reader position (state, seq, page reader position). */
struct file_pos {
	int state;
	uint32_t seq;
	struct page_pos pp;
};
void file_reader_save(const struct file_reader *r, struct file_pos *pos);
void file_reader_restore(struct file_reader *r, const struct file_pos *pos);

/* Binary search over a file's pages by record boundaries (FORMAT.md §7.4). */
struct file_searcher {
	struct file_reader r;
	uint32_t result, left, right;
	uint16_t right_skiplist[MAX_SKIPLIST_LEN];
	uint32_t curr_low, curr_mid, curr_high;
	uint16_t curr_skiplist[MAX_SKIPLIST_LEN];
};
/* 1: positioned at a record boundary to probe; 0: positioned for a linear
 * scan (binary search over); <0 error. */
int file_searcher_start(struct file_searcher *s);
int file_searcher_seek(struct file_searcher *s, bool right);

/* ---- writing ----------------------------------------------------------- */

struct file_writer {
	uint32_t file;
	bool has_last;
	uint32_t last_page;
	struct data_header last_hdr;
	uint32_t seq;
	bool writing;
	struct page_writer w;
	bool rewritten;          /* old last page copied: free it at commit */
	uint32_t rewritten_page;
	bool at_record_boundary;
	bool has_boundary;
	uint16_t record_boundary;
	/* pages allocated by this writer, freed by discard */
	uint32_t *pages;
	uint32_t n_pages;
	size_t cap_pages;
};

int file_writer_open(struct file_writer *w, struct file_manager *m, struct page_reader *pr,
		     uint32_t file);
int file_writer_write(struct file_writer *w, struct file_manager *m, const void *data,
		      uint32_t len);
void file_writer_record_end(struct file_writer *w);
uint32_t file_writer_space_left_on_page(const struct file_writer *w, const struct geom *g);
/* Make the written data part of the file in the working state (inside a
 * file-level transaction). */
int file_writer_commit(struct file_writer *w, struct file_manager *m);
/* Free every page this writer allocated; idempotent. */
void file_writer_discard(struct file_writer *w, struct file_manager *m);
void file_writer_free(struct file_writer *w);


#endif
