/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * db.h — the handle: snapshots (MVCC), the writer slot, page pinning and the
 * inter-process lock.  Shared by db.c (transactions) and cursor.c.
 */
#ifndef EKV_DB_H
#define EKV_DB_H

#include <pthread.h>

#include "compact.h"
#include "remote.h"

struct snapshot {
	unsigned refs;
	uint64_t gen;
	struct snapshot *prev, *next; /* live list */
	struct file_state files[MAX_FILE_COUNT];
};

struct limbo_entry {
	uint32_t page;
	uint64_t freed_gen; /* pinned while a snapshot older than this lives */
};

struct ekv_db {
	struct remote *remote; /* first: non-NULL for a handle served by ekvd (remote.h) */
	struct geom g;
	struct ekv_flash *f;
	struct ekv_options o;
	pthread_mutex_t lock; /* everything below except the writer-owned engine */
	pthread_cond_t cond;
	struct snapshot *current;
	struct snapshot live; /* sentinel of the live list */
	uint64_t gen;
	struct limbo_entry *limbo;
	uint32_t n_limbo, cap_limbo;
	bool pins_stale;
	bool writer_busy;     /* writer slot: a write transaction, mount or format */
	unsigned pl_shared;   /* in-process holders of the shared process lock */
	bool pl_exclusive;
	bool pl_converting;   /* a writer is taking the exclusive lock */
	uint64_t token;       /* flash change token as of our last look */
	bool have_token;
	bool stale;           /* another process changed the flash: remount */
	uint64_t gen_at_acquire;
	struct rec_engine en; /* owned by the writer slot holder */
};

struct snapshot *db_snapshot_get(ekv_db *db);
void db_snapshot_put(ekv_db *db, struct snapshot *s);
int db_lock_shared(ekv_db *db);
void db_unlock_shared(ekv_db *db);

struct ekv_rtx {
	struct remote *remote; /* first, as in ekv_db */
	ekv_db *db;
	struct snapshot *s;
	struct page_reader pr;
};

#endif
