/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * l2/engine.h — layout 2's engine: mount, format, versions and snapshots,
 * commits, flushes and compaction (docs/FORMAT.md §L4, §L9–§L13).
 *
 * Owns: the current version (the table list of the newest checkpoint), the
 * memtable and the visible sequence number; publishing a new state only
 * after the write that makes it durable returned; retiring tables and
 * freeing their blocks only when no snapshot holds them; the recovery
 * verdict of the last mount.  The writer-side functions (format, mount,
 * commit, compact) are called by one thread at a time (the handle's writer
 * slot); snapshots may be taken and read from any thread at any time.
 */
#ifndef EKV_L2_ENGINE_H
#define EKV_L2_ENGINE_H

#include "l2/journal.h"
#include "l2/memtable.h"

/* A table list, immutable once published; refcounted. */
struct l2_version {
	unsigned refs;          /* atomic */
	uint32_t n;
	struct l2_table **t;    /* read order: L0 newest first, then L1, L2, … by key */
	uint32_t epoch, next_table_id;
};

/* What a reader holds: a version, a memtable and a sequence number. */
struct l2_snap {
	struct l2_version *v;
	struct l2_mem *mem;
	uint64_t seq;
};

#define L2_DAMAGE_REFUSE 0
#define L2_DAMAGE_FALLBACK 1

/* What the last mount found besides a clean state. */
struct l2_recovery {
	bool torn;            /* a torn last write was dropped (not damage) */
	bool damaged;         /* something committed was lost or unreadable */
	bool fell_back;       /* mounted an older epoch than the newest */
	uint32_t epoch_found, epoch_mounted;
	uint32_t tables_lost; /* tables of the checkpoint that could not be read */
	uint32_t blocks_unreadable;
	char what[200];
};

struct l2_engine {
	struct l2_geom g;
	struct ekv_flash *f;
	struct l2_blocks bl;
	struct l2_jrn j;
	struct l2_cache *cache;
	pthread_mutex_t lock;      /* cur, mem, seq: taken briefly by readers */
	struct l2_version *cur;
	struct l2_mem *mem;
	uint64_t seq;              /* newest visible entry */
	bool mounted;
	bool broken;               /* a write failed half-way: remount before use */
	bool force_flush;          /* start a new epoch before the next commit */
	uint32_t random;
	uint32_t next_table_id;    /* never reused, not even after an aborted write */
	uint32_t turn[L2_LEVELS];  /* which table of a level compacts next */
	int on_damage;
	struct l2_table **retired; /* removed from the current version, blocks not free yet */
	uint32_t n_retired, cap_retired;
	struct l2_recovery rec;
	uint64_t flushes, compactions, commits;
	uint32_t cache_budget;
};

/* A handle on a flash whose geometry g describes (from a header, or the
 * parameters to format with). */
int l2_engine_new(struct ekv_flash *f, const struct l2_geom *g, uint32_t seed,
		  struct l2_engine **out);
void l2_engine_free(struct l2_engine *en);
/* Erase every good block and write an empty database with en->g (a new
 * image id unless en->g.image_id is set). */
int l2_engine_format(struct l2_engine *en);
/* Read the image (docs/FORMAT.md §L10).  EKV_ENOFMT: no layout 2 image;
 * EKV_ECORRUPT: damage and on_damage refuses (en->rec says what). */
int l2_engine_mount(struct l2_engine *en);

/* Snapshots: any thread. */
void l2_engine_snap(struct l2_engine *en, struct l2_snap *s);
void l2_snap_release(struct l2_snap *s);
/* 0 found (value as in l2_table_get), EKV_ENOTFOUND, EKV_ERANGE, <0 */
int l2_snap_get(struct l2_snap *s, struct l2_treader *r, const uint8_t *key, uint32_t klen,
		uint8_t *value, size_t cap, size_t *vlen);
/* Records visible in s in key order, deleted keys skipped (holds its own
 * references: may outlive s). */
int l2_snap_iter(struct l2_snap *s, struct l2_treader *r, struct l2_src **out);

/* Writer side. */
/* Commit records (keys strictly ascending, at least one): durable on return. */
int l2_engine_commit(struct l2_engine *en, const struct l2_rec *recs, uint32_t n);
/* One maintenance step: 1 did something, 0 nothing to do, <0 error.
 * full: also merge levels down to one (ekv_compact). */
int l2_engine_compact(struct l2_engine *en, bool full);
/* Free the blocks of retired tables no snapshot holds any more. */
void l2_engine_reclaim(struct l2_engine *en);

/* internal, shared by engine.c and compact.c */
int l2_version_new(uint32_t n, struct l2_version **out);
void l2_version_put(struct l2_version *v);
void l2_engine_publish(struct l2_engine *en, struct l2_version *v, struct l2_mem *mem,
		       uint64_t seq);
int l2_engine_retire(struct l2_engine *en, struct l2_table *t);
int l2_ckpt_build(const struct l2_engine *en, const struct l2_version *v, uint8_t kind,
		  uint8_t **out, uint32_t *len);
int l2_flush(struct l2_engine *en, const struct l2_rec *tx, uint32_t n_tx);

#endif
