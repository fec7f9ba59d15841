/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * hcore.c — the writer slot, the process lock and the change token shared
 * by the local handles of both layouts.  See hcore.h.
 */
#include "hcore.h"

#include <string.h>

#include "flash.h"
#include "invariant.h"
#include "util.h"

int hcore_init(struct hcore *c, struct ekv_flash *f, const struct ekv_options *o)
{
	memset(c, 0, sizeof(*c));
	c->f = f;
	if (o)
		c->o = *o;
	else
		ekv_options_default(&c->o);
	int e = -pthread_mutex_init(&c->lock, NULL);
	if (e < 0)
		return e;
	/* busy timeouts wait on the monotonic clock: wall-clock steps do not
	 * shorten or stretch them */
	e = cond_init_monotonic(&c->cond);
	if (e < 0) {
		pthread_mutex_destroy(&c->lock);
		return e;
	}
	if (c->o.log && !f->log) {
		f->log = c->o.log;
		f->log_ctx = c->o.log_ctx;
		c->installed_log = true;
	}
	return 0;
}

void hcore_destroy(struct hcore *c)
{
	if (c->installed_log && c->f->log == c->o.log) {
		c->f->log = NULL;
		c->f->log_ctx = NULL;
	}
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
}

bool hcore_lock_held(struct hcore *c)
{
	if (pthread_mutex_trylock(&c->lock) != 0)
		return true;
	pthread_mutex_unlock(&c->lock);
	return false;
}

bool hcore_wait_locked(struct hcore *c, const struct timespec *deadline)
{
	EKV_ASSERT(hcore_lock_held(c));
	if (!deadline) {
		pthread_cond_wait(&c->cond, &c->lock);
		return true;
	}
	return pthread_cond_timedwait(&c->cond, &c->lock, deadline) == 0;
}

int hcore_slot_acquire(struct hcore *c)
{
	struct timespec dl;
	bool bounded = c->o.busy_timeout_ms >= 0;
	if (bounded)
		deadline_after(&dl, c->o.busy_timeout_ms);
	pthread_mutex_lock(&c->lock);
	while (c->writer_busy) {
		if (!hcore_wait_locked(c, bounded ? &dl : NULL) && c->writer_busy) {
			pthread_mutex_unlock(&c->lock);
			return EKV_EBUSY;
		}
	}
	c->writer_busy = true;
	c->gen_at_acquire = c->gen;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

void hcore_slot_release(struct hcore *c)
{
	pthread_mutex_lock(&c->lock);
	c->writer_busy = false;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

/* Look at the change token; note a remount if another process committed.
 * Called holding a process lock. */
static void check_foreign_changes_locked(struct hcore *c)
{
	EKV_ASSERT(hcore_lock_held(c));
	if (flash_changed(c->f, &c->token, c->have_token) > 0)
		c->stale = true;
	c->have_token = true;
}

int hcore_writer_acquire(struct hcore *c)
{
	int e = hcore_slot_acquire(c);
	if (e < 0)
		return e;
	/* Readers of this handle must not take the lock while it converts
	 * (hcore_lock_shared waits).  The built-in backends keep the shared
	 * lock through a failed conversion (lock_fd.h); for others, whose
	 * flock may have dropped it, take it back for our readers
	 * (docs/DESIGN.md §4). */
	pthread_mutex_lock(&c->lock);
	c->pl_converting = true;
	pthread_mutex_unlock(&c->lock);
	e = flash_lock(c->f, EKV_LOCK_EX, c->o.busy_timeout_ms);
	pthread_mutex_lock(&c->lock);
	c->pl_converting = false;
	pthread_cond_broadcast(&c->cond);
	if (e < 0) {
		if (c->pl_shared) {
			flash_lock(c->f, EKV_LOCK_SH, -1);
			check_foreign_changes_locked(c);
		}
	} else {
		c->pl_exclusive = true;
		check_foreign_changes_locked(c);
	}
	pthread_mutex_unlock(&c->lock);
	if (e < 0)
		hcore_slot_release(c);
	return e;
}

int hcore_writer_acquire_rw(struct hcore *c)
{
	if (c->o.read_only || c->f->read_only)
		return EKV_EROFS;
	return hcore_writer_acquire(c);
}

void hcore_writer_release(struct hcore *c)
{
	pthread_mutex_lock(&c->lock);
	if (c->gen != c->gen_at_acquire) {
		/* tell other processes; remember the token our change left */
		flash_mark_changed(c->f);
		flash_changed(c->f, &c->token, false);
		c->have_token = true;
	}
	c->pl_exclusive = false;
	flash_lock(c->f, c->pl_shared ? EKV_LOCK_SH : EKV_LOCK_UN, -1);
	c->writer_busy = false;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

int hcore_lock_shared(struct hcore *c)
{
	pthread_mutex_lock(&c->lock);
	int e = 0;
	while (c->pl_converting && c->pl_shared == 0)
		pthread_cond_wait(&c->cond, &c->lock);
	if (!c->pl_exclusive && c->pl_shared == 0) {
		e = flash_lock(c->f, EKV_LOCK_SH, c->o.busy_timeout_ms);
		if (e == 0)
			check_foreign_changes_locked(c);
	}
	if (e == 0)
		c->pl_shared++;
	pthread_mutex_unlock(&c->lock);
	return e;
}

void hcore_unlock_shared(struct hcore *c)
{
	pthread_mutex_lock(&c->lock);
	if (c->pl_shared && --c->pl_shared == 0 && !c->pl_exclusive)
		flash_lock(c->f, EKV_LOCK_UN, -1);
	pthread_mutex_unlock(&c->lock);
}

bool hcore_take_stale(struct hcore *c)
{
	pthread_mutex_lock(&c->lock);
	bool s = c->stale;
	c->stale = false;
	pthread_mutex_unlock(&c->lock);
	return s;
}
