/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * file.h — files, the meta page log, seqs, skiplists, mount and format
 * (docs/FORMAT.md §5–§7).
 *
 * Owns: the mapping file id → chain of data pages; the meta page log that
 * makes file-level changes durable with one chunk append (the commit point);
 * the rule that pages freed by a file-level transaction stay allocated until
 * that transaction's meta append is durable (hole B); the rollover write
 * order that writes a new meta page's header last (hole A).  Knows nothing
 * of keys, values or records.
 */
#ifndef EKV_FILE_H
#define EKV_FILE_H

#include "alloc.h"
#include "page.h"

#define FILE_EOF 1 /* positive: end of file before any byte was read */

/* One file as of a snapshot (or the working state).  Immutable once a
 * snapshot holds it: readers use it without locks. */
struct file_state {
	bool has_last;            /* non-empty */
	uint32_t last_page;
	struct data_header last_hdr;
	uint32_t first_seq, last_seq;
	uint8_t flags;
	bool dirty;   /* touched since mount (the crate's meta log quirk) */
	bool changed; /* touched by the file-level transaction in progress */
};

struct file_manager {
	const struct geom *g;
	struct ekv_flash *f;
	struct file_state files[MAX_FILE_COUNT];
	uint32_t meta_page, meta_seq;
	/* mount fell back past a meta page with this (larger) seq: the next
	 * commit rolls over to a page numbered above it (0: none) */
	uint32_t seq_floor;
	uint32_t meta_append_offset; /* where the next log chunk goes */
	bool meta_clean;             /* bytes from meta_append_offset on are erased */
	struct alloc alloc;
	uint32_t random;
	bool mounted;
	bool dirty;         /* working state differs from flash: remount before use */
	bool rust_meta_log; /* log all files touched since mount, like the crate */
	/* pages freed by the file-level transaction in progress (hole B) */
	uint32_t *pending;
	uint32_t n_pending, cap_pending;
	/* snapshot pins: called before each allocation (wait = false: refresh
	 * the pinned bitmap) and when only pinned pages are free (wait = true:
	 * wait for a snapshot to end; 0 to retry, EKV_EBUSY on timeout) */
	int (*pin_hook)(void *ctx, bool wait);
	void *pin_ctx;
	/* a new committed state: after each durable file-level transaction and
	 * each mount; freed = pages the previous states may still reference */
	void (*on_publish)(void *ctx, const uint32_t *freed, uint32_t n);
};

/* A valid meta page found by a scan; sorted newest first by
 * meta_candidate_cmp (the order mount tries them in). */
struct meta_candidate {
	uint32_t page, seq, page_count;
};
int meta_candidate_cmp(const void *a, const void *b);

int fm_init(struct file_manager *m, const struct geom *g, struct ekv_flash *f, uint32_t seed);
void fm_destroy(struct file_manager *m);
int fm_format(struct file_manager *m);
int fm_mount(struct file_manager *m);
static inline int fm_remount_if_dirty(struct file_manager *m)
{
	return (m->dirty || !m->mounted) ? fm_mount(m) : 0;
}
int fm_allocate(struct file_manager *m, uint32_t *page);
/* Number of pages in a file's chain (walks the chain). */
int fm_file_pages(struct file_manager *m, uint32_t file, uint32_t *n);

/* file-level transaction: changes apply to the working state at once and
 * become durable with fm_tx_commit (one meta append) */
void fm_tx_begin(struct file_manager *m);
void fm_set_flags(struct file_manager *m, uint32_t file, uint8_t flags);
void fm_rename(struct file_manager *m, uint32_t from, uint32_t to);
int fm_truncate(struct file_manager *m, uint32_t file, uint32_t bytes);
int fm_tx_commit(struct file_manager *m);

static inline bool fm_is_empty(const struct file_manager *m, uint32_t file)
{
	return !m->files[file].has_last;
}

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
	uint32_t n_pages, cap_pages;
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

/* skiplist arithmetic (exposed for tests) */
uint32_t max_trailing_zeros_between(uint32_t a, uint32_t b);
uint32_t skiplist_index(const struct geom *g, uint32_t left, uint32_t right);
uint32_t skiplist_seq(const struct geom *g, uint32_t curr, uint32_t index);

/* Read and validate a data page's headers. */
int read_data_header(const struct geom *g, struct ekv_flash *f, uint32_t page,
		     struct data_header *h);

#endif
