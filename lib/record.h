/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * record.h — records, the LSM file tree, point lookups, write transactions
 * and compaction (docs/FORMAT.md §8–§9).
 *
 * Owns: record encoding; the order of files (higher id = newer); where a new
 * transaction's file goes; when and how compaction merges files and drops
 * tombstones; the free-space reserve.  Works on the file layer only: never
 * reads or writes page bytes itself.
 */
#ifndef EKV_RECORD_H
#define EKV_RECORD_H

#include "file.h"
#include "meta.h"

int key_cmp(const uint8_t *a, uint32_t al, const uint8_t *b, uint32_t bl);

/* Point lookup in a snapshot's files: 0 found (*vlen set, value copied
 * unless EKV_ERANGE), EKV_ENOTFOUND, or an error. */
int rec_get(const struct geom *g, struct ekv_flash *f, const struct file_state *files,
	    struct page_reader *pr, const uint8_t *key, uint32_t klen, uint8_t *value,
	    size_t cap, size_t *vlen);

/* Position a reader on the first record >= key (or > key if !incl) of one
 * file.  *found = false: no such record. */
int rec_seek_file(struct file_reader *r, const uint8_t *key, uint32_t klen, bool incl,
		  bool *found);

/* the writer side: file manager + page readers for compaction */
struct rec_engine {
	struct file_manager fm;
	struct page_reader readers[EKV_BF_MAX + 1]; /* BF sources + the destination */
	uint8_t *key_bufs;             /* BF key slots */
};

int rec_engine_init(struct rec_engine *e, const struct geom *g, struct ekv_flash *f,
		    uint32_t seed);
void rec_engine_destroy(struct rec_engine *e);

/* One compaction step: 1 done, 0 no work, <0 error. */
int rec_compact(struct rec_engine *e);

struct rec_wtx {
	bool started;
	struct file_writer w;
	bool has_last_key;
	uint32_t last_key_len;
	uint8_t last_key[EKV_KEY_SIZE_LIMIT];
};

int rec_wtx_write(struct rec_engine *e, struct rec_wtx *tx, const uint8_t *key, uint32_t klen,
		  const uint8_t *value, uint32_t vlen, bool is_delete);
int rec_wtx_commit(struct rec_engine *e, struct rec_wtx *tx);
void rec_wtx_discard(struct rec_engine *e, struct rec_wtx *tx);

#endif
