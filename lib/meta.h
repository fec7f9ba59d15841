/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * meta.h — the meta page and its log, mount, format and the file-level
 * transaction (docs/FORMAT.md §4, §5, §9).
 *
 * Owns: the mapping file id → chain of data pages of the working state; the
 * page allocator's view of which pages are reachable; the meta page log
 * that makes file-level changes durable with one chunk append (the commit
 * point); the rule that pages freed by a file-level transaction stay
 * allocated until that transaction's meta append is durable (hole B); the
 * rollover write order that writes a new meta page's header last (hole A);
 * which meta page mount settles on.  docs/DESIGN.md has the reasoning.
 * Must never: know about keys, values or records.
 */
#ifndef EKV_META_H
#define EKV_META_H

#include "alloc.h"
#include "chain.h"

/* Committed state the last mount found damaged and did not use: the newest
 * meta page it could not mount as a whole, and what that cost. */
struct fm_recovery {
	bool damaged;
	uint32_t page, seq;   /* the newest damaged meta page */
	uint32_t lost_chunks; /* log chunks (commits) not applied */
	uint32_t lost_files;  /* files whose newest state was not mounted */
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
	uint32_t n_pending;
	size_t cap_pending;
	/* snapshot pins: called before each allocation (wait = false: refresh
	 * the pinned bitmap) and when only pinned pages are free (wait = true:
	 * wait for a snapshot to end; 0 to retry, EKV_EBUSY on timeout) */
	int (*pin_hook)(void *ctx, bool wait);
	void *pin_ctx;
	/* a new committed state: after each durable file-level transaction and
	 * each mount; freed = pages the previous states may still reference */
	void (*on_publish)(void *ctx, const uint32_t *freed, uint32_t n);
	/* on_damage refuse: a mount that finds damage fails with EKV_ECORRUPT
	 * instead of falling back (docs/FORMAT.md §9) */
	bool refuse_damage;
	struct fm_recovery recovery; /* what the last mount skipped */
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

/* Pages of a file's chain (walks the chain). */
int fm_file_pages(struct file_manager *m, uint32_t file, uint32_t *n);

/* file-level transaction: changes apply to the working state at once and
 * become durable with fm_tx_commit (one meta append) */
void fm_tx_begin(struct file_manager *m);
/* A file changed in the transaction in progress: log it at commit. */
void fm_touch(struct file_manager *m, uint32_t file);
/* Free page once the transaction in progress is durable (hole B). */
int fm_defer_free(struct file_manager *m, uint32_t page);
void fm_set_flags(struct file_manager *m, uint32_t file, uint8_t flags);
void fm_rename(struct file_manager *m, uint32_t from, uint32_t to);
int fm_truncate(struct file_manager *m, uint32_t file, uint32_t bytes);
int fm_tx_commit(struct file_manager *m);

static inline bool fm_is_empty(const struct file_manager *m, uint32_t file)
{
	return !m->files[file].has_last;
}

/* ---- the meta log, for mount and the tools ---------------------------------- */

/* One valid chunk of a meta log: n FileMeta entries, raw, at offset. */
struct meta_chunk {
	uint32_t offset;
	const uint8_t *entries;
	uint32_t n;
};
/* Called for each valid chunk in log order; a negative return stops the
 * read with that code. */
typedef int (*meta_chunk_fn)(void *ctx, const struct meta_chunk *c);

/* How a meta log ended (docs/FORMAT.md §5, §9). */
struct meta_log_end {
	uint32_t chunks; /* valid chunks */
	uint32_t end;    /* offset after the last valid chunk: where the next goes */
	bool clean;      /* erased from end on: appendable */
	/* when not clean, exactly one of: */
	bool torn;       /* a torn last append: rolled back, not damage */
	bool damaged;    /* committed chunks lost: the one at end (and valid ones after) */
	bool noise;      /* bytes no append wrote; nothing committed is lost */
	uint32_t lost_chunks; /* damaged: chunks not applied (the bad one and the valid after) */
	uint32_t lost_offset; /* damaged: where the first valid chunk after the damage is
				 (or end when only the chunk at end was lost) */
	uint64_t lost_files;  /* damaged: bit i set: file i named by a lost chunk */
};

/*
 * Read the log of meta page `page` in a database of page_count pages and
 * call fn for each valid chunk up to the first one that is implausible
 * (bad length or CRC, no entries, a length that is not a multiple of
 * FILE_META_SIZE, an entry that cannot be valid) or absent.  Then tell what
 * follows (DESIGN.md §2): erased bytes, a torn last append, damage or
 * noise.  The page header must be valid (EKV_ECORRUPT otherwise).
 */
int meta_log_read(const struct geom *g, struct ekv_flash *f, uint32_t page, uint32_t page_count,
		  meta_chunk_fn fn, void *ctx, struct meta_log_end *out);

/*
 * A page whose meta header is not valid, yet a meta log chunk follows it
 * (b: its first ph_size + meta_hdr_size + ch_size bytes).  0: not such a
 * page; 1: magic and page id partly programmed, what a torn rollover (one
 * chunk, then the header last) or an interrupted erase leaves; 2: a header
 * no power cut leaves — damaged.
 */
int meta_header_orphan(const struct geom *g, const uint8_t *b, uint32_t page);
/* Valid chunks at the start of the log of a page whose header is damaged,
 * and the files they name (bit i: file i). */
int meta_log_orphan_chunks(const struct geom *g, struct ekv_flash *f, uint32_t page,
			   uint32_t *chunks, uint64_t *files);

#endif
