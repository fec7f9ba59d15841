/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * l2/memtable.h — the commits of the current epoch in RAM, every version of
 * every key with its sequence number (docs/FORMAT.md §L7, §L11).
 *
 * Owns: the multi-version sorted index of the epoch's records, its size
 * against the memtable cap, and the visibility rule "a snapshot at seq S
 * sees, per key, the newest record with seq <= S".  One writer inserts
 * (whole commits, under the write lock) while readers look up and iterate
 * (under the read lock): readers wait only while a commit is inserted.
 * Refcounted: snapshots keep a memtable after a flush replaced it.
 */
#ifndef EKV_L2_MEMTABLE_H
#define EKV_L2_MEMTABLE_H

#include <pthread.h>

#include "l2/table.h"

struct l2_mem {
	pthread_rwlock_t lock;
	uint64_t base;      /* sequence numbers are stored as seq - base */
	uint8_t *arena;     /* entries: u32 seq - base, then the record (§L3.1) */
	uint32_t used, cap;
	uint32_t *idx;      /* arena offsets, sorted by key, then newest first */
	uint32_t n, idx_cap;
	uint32_t keys;      /* distinct keys */
	unsigned refs;      /* atomic */
	const struct l2_geom *g;
};

int l2_mem_new(const struct l2_geom *g, uint64_t base_seq, struct l2_mem **out);
void l2_mem_get_ref(struct l2_mem *m);
void l2_mem_put(struct l2_mem *m);
/* Bytes of RAM it holds (arena + index): what the memtable cap counts. */
uint32_t l2_mem_bytes(const struct l2_mem *m);
/* RAM it would hold after inserting records of `rec_bytes` bytes, n records */
uint32_t l2_mem_bytes_after(const struct l2_mem *m, uint32_t rec_bytes, uint32_t n);
/* Insert one commit's records (sorted, distinct keys) with sequence number
 * seq.  All or nothing (EKV_ENOMEM leaves it unchanged). */
int l2_mem_insert(struct l2_mem *m, uint64_t seq, const struct l2_rec *recs, uint32_t n);
/* Insert the records of a COMMIT payload (as read from the journal). */
int l2_mem_insert_payload(struct l2_mem *m, uint64_t seq, const uint8_t *p, uint32_t n);
/* Check a COMMIT payload: records decode, keys strictly ascending; the
 * record count goes to *n. */
int l2_commit_payload_check(const struct l2_geom *g, const uint8_t *p, uint32_t len, uint32_t *n);

/* Newest record of key visible at seq: 1 found (value / tombstone as in
 * l2_table_get, EKV_ERANGE when cap is short), 0 not in the memtable. */
int l2_mem_get(struct l2_mem *m, uint64_t seq, const uint8_t *key, uint32_t klen, bool *del,
	       uint8_t *value, size_t cap, size_t *vlen);

/* An iterator (l2_src) over the records visible at seq, one per key, in key
 * order, tombstones included.  Holds a reference on m.  The current record
 * is copied out, so concurrent inserts do not disturb it. */
int l2_mem_iter(struct l2_mem *m, uint64_t seq, struct l2_src **out);

#endif
