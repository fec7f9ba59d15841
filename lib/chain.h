/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * chain.h — a file as a chain of data pages (docs/FORMAT.md §6).
 *
 * Owns: struct file_state (one file as of a snapshot: its last page and its
 * seq range), seq arithmetic, the skiplist arithmetic, and the walks along
 * the backward links of a chain.  Every step of a walk must reach a page
 * with a strictly smaller seq, so no walk visits a page twice and each ends
 * within page_count steps, whatever the flash says.
 * Must never: write to flash, or know about the meta log or records.
 */
#ifndef EKV_CHAIN_H
#define EKV_CHAIN_H

#include "page.h"

/* One file as of a snapshot (or the working state).  Immutable once a
 * snapshot holds it: readers use it without locks. */
struct file_state {
	bool has_last;            /* non-empty */
	uint32_t last_page;
	struct data_header last_hdr;
	uint32_t first_seq, last_seq;
	uint8_t flags;
	bool touched_since_mount; /* the crate logs every such file at each commit */
	bool changed; /* touched by the file-level transaction in progress */
};

/* *out = a + n; EKV_ECORRUPT past 2^32 - 1 (a file's seq never wraps). */
int seq_add(uint32_t a, uint64_t n, uint32_t *out);

/* skiplist arithmetic (FORMAT.md §6; exposed for tests) */
uint32_t max_trailing_zeros_between(uint32_t a, uint32_t b);
uint32_t skiplist_index(const struct geom *g, uint32_t left, uint32_t right);
uint32_t skiplist_seq(const struct geom *g, uint32_t curr, uint32_t index);

/* Read and validate a data page's headers (EKV_ECORRUPT: not a data page,
 * or page beyond the device). */
int read_data_header(const struct geom *g, struct ekv_flash *f, uint32_t page,
		     struct data_header *h);
/* The same, opening the page's chunk list in pr. */
int open_data_page(struct page_reader *pr, uint32_t page, struct data_header *h);

/* A data page and its header, the step of every walk. */
struct page_ptr {
	uint32_t page;
	struct data_header h;
};

/* Previous page of a chain, or none (*has = false) once seq_limit is
 * reached.  crate: file.rs PagePointer::prev */
int ptr_prev(const struct geom *g, struct ekv_flash *f, struct page_ptr *p, uint32_t seq_limit,
	     bool *has);
/* Walk back from p to the page that contains seq, along the skiplists.
 * crate: file.rs PagePointer::prev_seq */
int ptr_prev_seq(const struct geom *g, struct ekv_flash *f, struct page_ptr *p, uint32_t seq);
/* The page of fs that contains seq; *has = false when seq is outside the
 * file.  crate: file.rs FileManager::get_file_page */
int get_file_page(const struct geom *g, struct ekv_flash *f, const struct file_state *fs,
		  uint32_t seq, struct page_ptr *out, bool *has);
/* Number of pages in a file's chain. */
int chain_page_count(const struct geom *g, struct ekv_flash *f, const struct file_state *fs,
		     uint32_t *n);

#endif
