/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * compact.h — the LSM tree of files: write transactions, compaction and the
 * free-space reserve (docs/FORMAT.md §7).
 *
 * Owns: where a new transaction's file goes; when and how compaction merges
 * files (newest wins) and drops tombstones; the free-space reserve a write
 * must leave for compaction; the engine state the writer slot holds.
 * Must never: read or write page bytes itself (it works on the file and
 * record layers).
 */
#ifndef EKV_COMPACT_H
#define EKV_COMPACT_H

#include "record.h"

/* the writer side: file manager + page readers for compaction */
struct rec_engine {
	struct file_manager fm;
	struct page_reader readers[EKV_BF_MAX + 1]; /* BF sources + the destination */
	uint8_t *key_bufs;             /* BF key slots */
};

int rec_engine_init(struct rec_engine *en, const struct geom *g, struct ekv_flash *f,
		    uint32_t seed);
void rec_engine_destroy(struct rec_engine *en);

/* One compaction step: 1 done, 0 no work, <0 error. */
int rec_compact(struct rec_engine *en);

struct rec_wtx {
	bool started;
	struct file_writer w;
	bool has_last_key;
	uint32_t last_key_len;
	uint8_t last_key[EKV_KEY_SIZE_LIMIT];
};

int rec_wtx_write(struct rec_engine *en, struct rec_wtx *tx, const uint8_t *key, uint32_t klen,
		  const uint8_t *value, uint32_t vlen, bool is_delete);
int rec_wtx_commit(struct rec_engine *en, struct rec_wtx *tx);
void rec_wtx_discard(struct rec_engine *en, struct rec_wtx *tx);

#endif
