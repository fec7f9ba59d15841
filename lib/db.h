/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * db.h — the local handle: snapshots (MVCC), the writer slot, page pinning
 * and the inter-process lock.  Shared by db.c (transactions) and cursor.c,
 * which together implement db_local_ops (handle.h).
 */
#ifndef EKV_DB_H
#define EKV_DB_H

#include <pthread.h>

#include "compact.h"
#include "handle.h"
#include "hcore.h"
#include "record.h"
#include "util.h"

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

/* A local handle (ekv_open). */
struct db {
	struct ekv_db h;      /* the public handle: db_local_ops */
	struct hcore c;       /* slot, process lock, change token; c.lock guards
				 everything below except the writer-owned engine */
	struct geom g;
	struct ekv_flash *f;
	struct snapshot *current;
	struct snapshot live; /* sentinel of the live list */
	struct limbo_entry *limbo;
	uint32_t n_limbo;
	size_t cap_limbo;
	bool pins_stale;
	struct rec_engine en; /* owned by the writer slot holder */
};

struct snapshot *db_snapshot_get(struct db *db);
void db_snapshot_put(struct db *db, struct snapshot *s);

/* A local read transaction. */
struct rtx {
	struct ekv_rtx h;     /* the public handle: db_local_ops */
	struct db *db;
	struct snapshot *s;
	struct page_reader pr;
};

static inline struct rtx *rtx_of(ekv_rtx *h)
{
	return container_of(h, struct rtx, h);
}

/* The cursor slots of db_local_ops (cursor.c). */
int local_cursor_open(ekv_rtx *rtx, const void *start, size_t start_len, const void *end,
		      size_t end_len, ekv_cursor **out);
int local_cursor_open_prefix(ekv_rtx *rtx, const void *prefix, size_t prefix_len,
			     ekv_cursor **out);
int local_cursor_next(ekv_cursor *c, void *key, size_t key_cap, size_t *key_len, void *value,
		      size_t value_cap, size_t *value_len);
void local_cursor_close(ekv_cursor *c);

#endif
