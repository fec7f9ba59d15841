/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * l2/table.h — layout 2's tables: immutable sorted runs that own whole
 * blocks (docs/FORMAT.md §L5, §L6).  Writing one front to back, loading one
 * at mount, point lookups and ordered iteration.
 *
 * Owns: the table stream (stream offset <-> block and offset), leaves, index
 * pages, the top index, the filter and the footer, and the check of every
 * one of them (CRC, bounds, key order) before use.  Never trusts an offset,
 * length or key read from flash without checking it against the table's
 * stream length and the geometry; reports anything inconsistent as
 * EKV_ECORRUPT, never aborts.  Knows nothing of checkpoints, levels'
 * meaning or snapshots.
 */
#ifndef EKV_L2_TABLE_H
#define EKV_L2_TABLE_H

#include <pthread.h>

#include "l2/block.h"

/* A cache of verified index pages shared by the tables of one handle
 * (LRU, bounded in bytes; thread-safe). */
struct l2_cache;
int l2_cache_new(uint32_t budget_bytes, struct l2_cache **out);
void l2_cache_free(struct l2_cache *c);
/* Forget everything of one table (it is gone). */
void l2_cache_drop_table(struct l2_cache *c, uint32_t table_id);
/* bytes currently held (for the heap figures) */
uint32_t l2_cache_bytes(const struct l2_cache *c);

/* A table as the engine knows it: immutable once built or loaded,
 * refcounted (versions and iterators hold references). */
struct l2_table {
	uint32_t id;
	uint8_t level;
	uint32_t nblocks, stream_len;
	uint32_t *blocks;          /* block id of each block index */
	uint32_t records;
	uint8_t *min_key, *max_key;
	uint32_t min_klen, max_klen;
	uint8_t filter_k;
	uint32_t filter_off, filter_blocks;
	uint32_t top_off, top_len;
	/* the decoded top index, loaded on first use */
	pthread_mutex_t lock;
	bool top_loaded;
	uint32_t ntop;
	struct l2_index_entry *top; /* keys point into top_buf */
	uint8_t *top_buf;
	unsigned refs;             /* atomic */
};

/*
 * Load a table listed by a checkpoint: blocks[] holds its nblocks block ids
 * by index (copied).  Reads and checks the footer (and nothing else).
 * EKV_ECORRUPT if the footer is missing or inconsistent (msg says what).
 */
int l2_table_load(const struct l2_geom *g, struct ekv_flash *f, uint32_t id, uint8_t level,
		  uint32_t nblocks, uint32_t stream_len, const uint32_t *blocks,
		  struct l2_table **out, char *msg, size_t msg_size);
void l2_table_get_ref(struct l2_table *t);
void l2_table_put(struct l2_table *t);
/* RAM the table object holds (for the heap figures). */
size_t l2_table_ram(const struct l2_table *t);

/* Per-reader scratch (one per read transaction / cursor / compaction
 * input): buffers for a leaf and an index page. */
struct l2_treader {
	const struct l2_geom *g;
	struct ekv_flash *f;
	struct l2_cache *cache;
	uint8_t *leaf, *page;
	uint32_t leaf_cap, page_cap;
};
void l2_treader_init(struct l2_treader *r, const struct l2_geom *g, struct ekv_flash *f,
		     struct l2_cache *cache);
void l2_treader_free(struct l2_treader *r);

/*
 * Point lookup.  1: the table holds the key: *del says whether it is a
 * tombstone; otherwise the value length goes to *vlen and min(vlen, cap)
 * bytes to value — EKV_ERANGE instead of 1 when cap < vlen (nothing
 * copied).  0: the table does not hold the key.  use_filter: consult the
 * filter first (the engine skips it for the last table it asks).
 */
int l2_table_get(struct l2_table *t, struct l2_treader *r, const uint8_t *key, uint32_t klen,
		 bool use_filter, bool *del, uint8_t *value, size_t cap, size_t *vlen);

/* Whether a key lies within [min_key, max_key]. */
bool l2_table_covers(const struct l2_table *t, const uint8_t *key, uint32_t klen);

/* ---- ordered iteration --------------------------------------------------- */

/* A source of records in key order (tables, the memtable), for cursors and
 * compaction.  `cur` is valid while positioned, until the next call. */
struct l2_src {
	/* 1 positioned on the first record >= key (> key if !incl; key NULL:
	 * the first record), 0 nothing there, <0 error */
	int (*seek)(struct l2_src *s, const uint8_t *key, uint32_t klen, bool incl);
	/* 1 positioned on the next record, 0 at the end, <0 error */
	int (*next)(struct l2_src *s);
	void (*close)(struct l2_src *s);
	struct l2_rec cur;
};

/* An iterator over one table (holds a reference on it).  It has buffers of
 * its own (cur points into them): r only lends the geometry, the flash and
 * the cache, and may be reused or freed while the iterator lives. */
int l2_table_iter(struct l2_table *t, struct l2_treader *r, struct l2_src **out);

/* ---- writing ------------------------------------------------------------- */

struct l2_twriter;

/*
 * Start table `id` of `level`: allocates its blocks one at a time from bl
 * (each opened with a table header whose link is `stamp`).  filter_keys > 0
 * asks for a filter sized for that many keys (0: none).
 */
int l2_twriter_new(const struct l2_geom *g, struct l2_blocks *bl, struct l2_cache *cache,
		   uint32_t id, uint8_t level, uint32_t stamp, uint32_t filter_keys,
		   struct l2_twriter **out);
/* Append a record; keys strictly ascending (EKV_EINVAL otherwise). */
int l2_twriter_add(struct l2_twriter *w, const struct l2_rec *r);
/* Stream bytes so far (the caller splits outputs by size). */
uint32_t l2_twriter_bytes(const struct l2_twriter *w);
uint32_t l2_twriter_records(const struct l2_twriter *w);
/* Blocks the table would own if it were finished now. */
uint32_t l2_twriter_blocks(const struct l2_twriter *w);
/*
 * Write the filter, top index and footer, program everything and make it
 * durable (flash_sync).  *out: the table (refs = 1), its blocks left in state
 * L2B_USED (the engine marks them L2B_TABLE when a checkpoint lists it).
 * At least one record must have been added (EKV_EINVAL).  Frees w; on
 * failure it also releases w's blocks, as l2_twriter_abort does.
 */
int l2_twriter_finish(struct l2_twriter *w, struct l2_table **out);
/* Give up: release the blocks it allocated, free w. */
void l2_twriter_abort(struct l2_twriter *w);

#endif
