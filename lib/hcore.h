/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * hcore.h — what every local handle needs, whatever its layout: the writer
 * slot inside the process, the inter-process lock (shared for readers,
 * exclusive for a writer) and the change token that tells a handle another
 * process committed (docs/DESIGN.md, "The writer and the process lock").
 *
 * Owns: the lock order (handle mutex, then the flash lock), the rule that a
 * handle with open snapshots never runs without the shared process lock,
 * and the bounded waits on the monotonic clock.  Knows nothing of what a
 * layout keeps in its snapshots.
 */
#ifndef EKV_HCORE_H
#define EKV_HCORE_H

#include <pthread.h>

#include "ekv.h"

struct hcore {
	struct ekv_flash *f;
	struct ekv_options o;
	pthread_mutex_t lock;  /* this and whatever the layout guards with it */
	pthread_cond_t cond;   /* the writer slot, snapshots ending, pins */
	bool writer_busy;      /* writer slot: a write transaction, mount or format */
	unsigned pl_shared;    /* in-process holders of the shared process lock */
	bool pl_exclusive;
	bool pl_converting;    /* a writer is taking the exclusive lock */
	uint64_t token;        /* flash change token as of our last look */
	bool have_token;
	bool stale;            /* another process changed the flash: remount */
	uint64_t gen;          /* commits published by this handle */
	uint64_t gen_at_acquire;
	bool installed_log;    /* ekv_open made o.log the flash's log */
};

/* o == NULL: defaults.  Installs o->log as the flash's log if it has none. */
int hcore_init(struct hcore *c, struct ekv_flash *f, const struct ekv_options *o);
void hcore_destroy(struct hcore *c);
/* Wait on c->cond (called locked) until the deadline; false on timeout. */
bool hcore_wait_locked(struct hcore *c, const struct timespec *deadline);
/* The writer slot alone (mount, stat). */
int hcore_slot_acquire(struct hcore *c);
void hcore_slot_release(struct hcore *c);
/* The writer slot and the exclusive process lock (a write). */
int hcore_writer_acquire(struct hcore *c);
/* The same, refused on a read-only handle or flash. */
int hcore_writer_acquire_rw(struct hcore *c);
/* Tell other processes when gen moved, then drop back to the shared lock
 * (or none) and free the slot. */
void hcore_writer_release(struct hcore *c);
/* The shared process lock for a reader (counted). */
int hcore_lock_shared(struct hcore *c);
void hcore_unlock_shared(struct hcore *c);
/* Whether another process changed the flash (clears the flag). */
bool hcore_take_stale(struct hcore *c);
/* For EKV_ASSERT in *_locked functions: c->lock is held (by some thread: a
 * default mutex cannot say by which). */
bool hcore_lock_held(struct hcore *c);

#endif
