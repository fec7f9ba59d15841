/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * db.c — the public handle: open/close, format/mount, read and write
 * transactions, and the machinery that lets them run at the same time.
 *
 * Owns: the snapshots (refcounted file tables), limbo and pins, the writer
 * slot and this handle's share of the process lock.  The model — readers
 * never wait for the writer, a commit never waits for readers, pages a
 * snapshot may read are never erased — is explained in docs/DESIGN.md §3
 * (snapshots, pins, limbo) and §4 (writer slot, process lock).
 * Must never: let the engine run outside the writer slot, or erase a page
 * a live snapshot may read.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "db.h"
#include "flash.h"
#include "invariant.h"

const char *ekv_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case EKV_ENOTFOUND:
		return "key not found";
	case EKV_EIO:
		return "flash I/O error";
	case EKV_ECORRUPT:
		return "database corrupted";
	case EKV_ENOFMT:
		return "no database found (not formatted, or wrong profile)";
	case EKV_ENOSPC:
		return "database full";
	case EKV_EBUSY:
		return "database busy (another writer holds it)";
	case EKV_EINVAL:
		return "invalid argument";
	case EKV_ENOMEM:
		return "out of memory";
	case EKV_ETOOBIG:
		return "key or value too large for the profile";
	case EKV_ENOTSORTED:
		return "keys of a transaction must be written in ascending order";
	case EKV_ECANCELED:
		return "transaction canceled by an earlier error";
	case EKV_ERANGE:
		return "buffer too small";
	case EKV_EPERM:
		return "permission denied";
	case EKV_EROFS:
		return "database is read-only";
	case EKV_EPROTO:
		return "protocol error";
	case EKV_ENOTSUP:
		return "not supported";
	default:
		if (err < 0) {
			const char *s = strerror(-err);
			return s ? s : "unknown error";
		}
		return "unknown error";
	}
}

void ekv_options_default(struct ekv_options *o)
{
	memset(o, 0, sizeof(*o));
	o->busy_timeout_ms = 5000;
}

/* ---- snapshots and pins -------------------------------------------------- */

/* For EKV_ASSERT in *_locked functions: the handle mutex is held (by some
 * thread: a default mutex cannot say by which). */
static inline bool lock_held(ekv_db *db)
{
	if (pthread_mutex_trylock(&db->lock) != 0)
		return true;
	pthread_mutex_unlock(&db->lock);
	return false;
}

static void snapshot_unlink_locked(ekv_db *db, struct snapshot *s)
{
	EKV_ASSERT(lock_held(db));
	s->prev->next = s->next;
	s->next->prev = s->prev;
	free(s);
	db->pins_stale = true;
	pthread_cond_broadcast(&db->cond);
}

struct snapshot *db_snapshot_get(ekv_db *db)
{
	pthread_mutex_lock(&db->lock);
	struct snapshot *s = db->current;
	if (s)
		s->refs++;
	pthread_mutex_unlock(&db->lock);
	return s;
}

void db_snapshot_put(ekv_db *db, struct snapshot *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&db->lock);
	if (--s->refs == 0)
		snapshot_unlink_locked(db, s);
	pthread_mutex_unlock(&db->lock);
}

static int limbo_add_locked(ekv_db *db, uint32_t page, uint64_t gen)
{
	EKV_ASSERT(lock_held(db));
	if (db->n_limbo == db->cap_limbo) {
		uint32_t cap = db->cap_limbo ? db->cap_limbo * 2 : 64;
		struct limbo_entry *l = realloc(db->limbo, cap * sizeof(*l));
		if (!l)
			return EKV_ENOMEM;
		db->limbo = l;
		db->cap_limbo = cap;
	}
	db->limbo[db->n_limbo++] = (struct limbo_entry){page, gen};
	return 0;
}

static void on_publish(void *ctx, const uint32_t *freed, uint32_t n)
{
	ekv_db *db = ctx;
	struct snapshot *s = malloc(sizeof(*s));
	pthread_mutex_lock(&db->lock);
	db->gen++;
	/* every freed page goes to limbo: a reader may hold the very snapshot
	 * that is current right now; refresh_pins_locked() drops entries no
	 * live snapshot needs */
	for (uint32_t i = 0; i < n; i++) {
		if (limbo_add_locked(db, freed[i], db->gen) < 0) {
			/* cannot track the pin: keep the page out of use for good
			 * rather than risk erasing it under a reader */
			alloc_mark_used(&db->en.fm.alloc, freed[i]);
		}
	}
	db->pins_stale = true;
	struct snapshot *old = db->current;
	if (s) {
		s->refs = 1;
		s->gen = db->gen;
		memcpy(s->files, db->en.fm.files, sizeof(s->files));
		s->prev = db->live.prev;
		s->next = &db->live;
		db->live.prev->next = s;
		db->live.prev = s;
		db->current = s;
		if (old && --old->refs == 0)
			snapshot_unlink_locked(db, old);
	} else {
		/* out of memory: readers keep seeing the previous snapshot, and
		 * the engine is remounted so nothing is lost */
		db->en.fm.dirty = true;
	}
	pthread_mutex_unlock(&db->lock);
}

static void refresh_pins_locked(ekv_db *db)
{
	EKV_ASSERT(lock_held(db));
	if (!db->pins_stale)
		return;
	uint64_t min_gen = UINT64_MAX;
	for (struct snapshot *s = db->live.next; s != &db->live; s = s->next)
		if (s->gen < min_gen)
			min_gen = s->gen;
	struct alloc *a = &db->en.fm.alloc;
	alloc_clear_pins(a);
	uint32_t k = 0;
	for (uint32_t i = 0; i < db->n_limbo; i++) {
		if (db->limbo[i].freed_gen <= min_gen)
			continue;
		db->limbo[k++] = db->limbo[i];
		alloc_pin(a, db->limbo[i].page);
	}
	db->n_limbo = k;
	db->pins_stale = false;
}

static void deadline_after(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

/* Wait on the handle's condition; false on timeout. Called locked. */
static bool wait_locked(ekv_db *db, const struct timespec *deadline)
{
	EKV_ASSERT(lock_held(db));
	if (!deadline) {
		pthread_cond_wait(&db->cond, &db->lock);
		return true;
	}
	return pthread_cond_timedwait(&db->cond, &db->lock, deadline) == 0;
}

static int pin_hook(void *ctx, bool wait)
{
	ekv_db *db = ctx;
	pthread_mutex_lock(&db->lock);
	int e = 0;
	if (wait) {
		struct timespec dl;
		bool bounded = db->o.busy_timeout_ms >= 0;
		if (bounded)
			deadline_after(&dl, db->o.busy_timeout_ms);
		while (!db->pins_stale) {
			if (!wait_locked(db, bounded ? &dl : NULL) && !db->pins_stale) {
				e = EKV_EBUSY;
				break;
			}
		}
	}
	refresh_pins_locked(db);
	pthread_mutex_unlock(&db->lock);
	return e;
}

/* ---- writer slot and process lock ---------------------------------------- */

/* The in-process writer slot (no process lock). */
static int slot_acquire(ekv_db *db)
{
	struct timespec dl;
	bool bounded = db->o.busy_timeout_ms >= 0;
	if (bounded)
		deadline_after(&dl, db->o.busy_timeout_ms);
	pthread_mutex_lock(&db->lock);
	while (db->writer_busy) {
		if (!wait_locked(db, bounded ? &dl : NULL) && db->writer_busy) {
			pthread_mutex_unlock(&db->lock);
			return EKV_EBUSY;
		}
	}
	db->writer_busy = true;
	db->gen_at_acquire = db->gen;
	pthread_mutex_unlock(&db->lock);
	return 0;
}

static void slot_release(ekv_db *db)
{
	pthread_mutex_lock(&db->lock);
	db->writer_busy = false;
	pthread_cond_broadcast(&db->cond);
	pthread_mutex_unlock(&db->lock);
}

/* Look at the change token; mark the engine for a remount if another
 * process committed.  Called holding a process lock. */
static void check_foreign_changes_locked(ekv_db *db)
{
	EKV_ASSERT(lock_held(db));
	if (flash_changed(db->f, &db->token, db->have_token) > 0)
		db->stale = true;
	db->have_token = true;
}

/* Writer slot + exclusive process lock, for a write transaction. */
static int writer_acquire(ekv_db *db)
{
	int e = slot_acquire(db);
	if (e < 0)
		return e;
	/* Readers of this handle must not take the lock while it converts
	 * (db_lock_shared waits).  The built-in backends keep the shared lock
	 * through a failed conversion (lock_fd.h); for others, whose flock may
	 * have dropped it, take it back for our readers (DESIGN.md §4). */
	pthread_mutex_lock(&db->lock);
	db->pl_converting = true;
	pthread_mutex_unlock(&db->lock);
	e = flash_lock(db->f, EKV_LOCK_EX, db->o.busy_timeout_ms);
	pthread_mutex_lock(&db->lock);
	db->pl_converting = false;
	pthread_cond_broadcast(&db->cond);
	if (e < 0) {
		if (db->pl_shared) {
			flash_lock(db->f, EKV_LOCK_SH, -1);
			check_foreign_changes_locked(db);
		}
	} else {
		db->pl_exclusive = true;
		check_foreign_changes_locked(db);
	}
	pthread_mutex_unlock(&db->lock);
	if (e < 0)
		slot_release(db);
	return e;
}

static void writer_release(ekv_db *db)
{
	pthread_mutex_lock(&db->lock);
	if (db->gen != db->gen_at_acquire) {
		/* tell other processes; remember the token our change left */
		flash_mark_changed(db->f);
		flash_changed(db->f, &db->token, false);
		db->have_token = true;
	}
	db->pl_exclusive = false;
	flash_lock(db->f, db->pl_shared ? EKV_LOCK_SH : EKV_LOCK_UN, -1);
	db->writer_busy = false;
	pthread_cond_broadcast(&db->cond);
	pthread_mutex_unlock(&db->lock);
}

int db_lock_shared(ekv_db *db)
{
	pthread_mutex_lock(&db->lock);
	int e = 0;
	while (db->pl_converting && db->pl_shared == 0)
		pthread_cond_wait(&db->cond, &db->lock);
	if (!db->pl_exclusive && db->pl_shared == 0) {
		e = flash_lock(db->f, EKV_LOCK_SH, db->o.busy_timeout_ms);
		if (e == 0)
			check_foreign_changes_locked(db);
	}
	if (e == 0)
		db->pl_shared++;
	pthread_mutex_unlock(&db->lock);
	return e;
}

void db_unlock_shared(ekv_db *db)
{
	pthread_mutex_lock(&db->lock);
	if (db->pl_shared && --db->pl_shared == 0 && !db->pl_exclusive)
		flash_lock(db->f, EKV_LOCK_UN, -1);
	pthread_mutex_unlock(&db->lock);
}

/* ---- open, close, format, mount ------------------------------------------ */

int ekv_open(struct ekv_flash *flash, const struct ekv_profile *p, const struct ekv_options *o,
	     ekv_db **out)
{
	*out = NULL;
	if (!flash || !p)
		return EKV_EINVAL;
	ekv_db *db = calloc(1, sizeof(*db));
	if (!db)
		return EKV_ENOMEM;
	int e = geom_init(&db->g, p, NULL, 0);
	if (e == 0 && (flash->page_size != p->page_size || flash->page_count < p->page_count))
		e = EKV_EINVAL;
	if (e < 0) {
		free(db);
		return e;
	}
	if (o)
		db->o = *o;
	else
		ekv_options_default(&db->o);
	if ((unsigned)db->o.on_damage > EKV_ON_DAMAGE_REFUSE) {
		free(db);
		return EKV_EINVAL;
	}
	db->f = flash;
	uint32_t seed = db->o.seed;
	if (!db->o.seed_set && getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (uint32_t)time(NULL) ^ (uint32_t)(uintptr_t)db;
	e = rec_engine_init(&db->en, &db->g, flash, seed);
	if (e < 0) {
		free(db);
		return e;
	}
	db->en.fm.rust_meta_log = db->o.rust_meta_log;
	db->en.fm.refuse_damage = db->o.on_damage == EKV_ON_DAMAGE_REFUSE ||
				  (db->o.on_damage == EKV_ON_DAMAGE_AUTO && p->crc);
	db->en.fm.pin_hook = pin_hook;
	db->en.fm.pin_ctx = db;
	db->en.fm.on_publish = on_publish;
	pthread_mutex_init(&db->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_cond_init(&db->cond, &ca);
	pthread_condattr_destroy(&ca);
	db->live.next = db->live.prev = &db->live;
	*out = db;
	return 0;
}

void ekv_close(ekv_db *db)
{
	if (db && db->remote) { remote_close(db); return; }
	if (!db)
		return;
	/* snapshots still referenced by open transactions are the caller's bug;
	 * free them all here so nothing leaks */
	struct snapshot *s = db->live.next;
	while (s != &db->live) {
		struct snapshot *n = s->next;
		free(s);
		s = n;
	}
	rec_engine_destroy(&db->en);
	free(db->limbo);
	pthread_mutex_destroy(&db->lock);
	pthread_cond_destroy(&db->cond);
	free(db);
}

int ekv_format(ekv_db *db)
{
	if (db && db->remote) return remote_format(db);
	if (db->o.read_only || db->f->read_only)
		return EKV_EROFS;
	int e = writer_acquire(db);
	if (e < 0)
		return e;
	pthread_mutex_lock(&db->lock);
	bool readers = db->live.next != &db->live &&
		       (db->live.next != db->current || db->live.next->next != &db->live);
	pthread_mutex_unlock(&db->lock);
	e = readers ? EKV_EBUSY : fm_format(&db->en.fm);
	writer_release(db);
	return e;
}

/* Mount if nothing is mounted yet, the engine needs a remount, or another
 * process changed the flash.  Called by the writer-slot holder. */
static int ensure_mounted_writer(ekv_db *db)
{
	pthread_mutex_lock(&db->lock);
	if (db->stale) {
		db->en.fm.dirty = true;
		db->stale = false;
	}
	pthread_mutex_unlock(&db->lock);
	return fm_remount_if_dirty(&db->en.fm);
}

int ekv_mount(ekv_db *db)
{
	if (db && db->remote) return remote_mount(db);
	int e = slot_acquire(db);
	if (e < 0)
		return e;
	e = db_lock_shared(db);
	if (e == 0) {
		e = ensure_mounted_writer(db);
		db_unlock_shared(db);
	}
	slot_release(db);
	return e;
}

/* Readers need a current snapshot: mount first if there is none or another
 * process changed the flash.  Called holding the shared process lock. */
static int ensure_snapshot(ekv_db *db)
{
	pthread_mutex_lock(&db->lock);
	bool ok = db->current != NULL && !db->stale;
	pthread_mutex_unlock(&db->lock);
	if (ok)
		return 0;
	int e = slot_acquire(db);
	if (e < 0)
		return e;
	e = ensure_mounted_writer(db);
	slot_release(db);
	return e;
}

int ekv_stat(ekv_db *db, struct ekv_stat *st)
{
	if (db && db->remote) return remote_stat(db, st);
	memset(st, 0, sizeof(*st));
	int e = db_lock_shared(db);
	if (e < 0)
		return e;
	e = slot_acquire(db);
	if (e < 0) {
		db_unlock_shared(db);
		return e;
	}
	e = ensure_mounted_writer(db);
	if (e == 0) {
		struct file_manager *m = &db->en.fm;
		pthread_mutex_lock(&db->lock);
		refresh_pins_locked(db);
		st->generation = db->gen;
		pthread_mutex_unlock(&db->lock);
		st->page_count = m->alloc.page_count;
		st->pages_used = m->alloc.used;
		st->pages_free = alloc_free_pages(&m->alloc);
		st->pages_pinned = alloc_pinned_free(&m->alloc);
		st->meta_page = m->meta_page;
		st->meta_seq = m->meta_seq;
		st->damaged = m->recovery.damaged;
		st->damaged_meta_page = m->recovery.page;
		st->damaged_meta_seq = m->recovery.seq;
		st->lost_commits = m->recovery.lost_chunks;
		st->lost_files = m->recovery.lost_files;
		st->file_count = db->g.file_count;
		for (uint32_t i = 0; i < db->g.file_count; i++) {
			const struct file_state *f = &m->files[i];
			st->file_flags[i] = f->flags;
			if (f->has_last) {
				st->file_bytes[i] = f->last_seq - f->first_seq;
				e = fm_file_pages(m, i, &st->file_pages[i]);
				if (e < 0)
					break;
			}
		}
	}
	slot_release(db);
	db_unlock_shared(db);
	return e;
}

/* ---- read transactions ---------------------------------------------------- */

int ekv_rtx_begin(ekv_db *db, ekv_rtx **out)
{
	if (db && db->remote) return remote_rtx_begin(db, out);
	*out = NULL;
	ekv_rtx *t = calloc(1, sizeof(*t));
	if (!t)
		return EKV_ENOMEM;
	int e = db_lock_shared(db);
	if (e < 0) {
		free(t);
		return e;
	}
	e = ensure_snapshot(db);
	if (e < 0) {
		db_unlock_shared(db);
		free(t);
		return e;
	}
	t->db = db;
	t->s = db_snapshot_get(db);
	if (!t->s) {
		db_unlock_shared(db);
		free(t);
		return EKV_ENOFMT;
	}
	page_reader_init(&t->pr, &db->g, db->f, 256);
	*out = t;
	return 0;
}

void ekv_rtx_end(ekv_rtx *t)
{
	if (t && t->remote) { remote_rtx_end(t); return; }
	if (!t)
		return;
	page_reader_free(&t->pr);
	db_snapshot_put(t->db, t->s);
	db_unlock_shared(t->db);
	free(t);
}

int ekv_rtx_get(ekv_rtx *t, const void *key, size_t key_len, void *value, size_t value_cap,
		size_t *value_len)
{
	if (t && t->remote) return remote_rtx_get(t, key, key_len, value, value_cap, value_len);
	size_t vlen = 0;
	if (!t || (!key && key_len) || (!value && value_cap))
		return EKV_EINVAL;
	if (key_len > t->db->g.max_key)
		return EKV_ETOOBIG;
	int e = rec_get(&t->db->g, t->db->f, t->s->files, &t->pr, key, (uint32_t)key_len, value,
			value_cap, &vlen);
	if (value_len && (e == 0 || e == EKV_ERANGE))
		*value_len = vlen;
	return e;
}

/* ---- write transactions --------------------------------------------------- */

struct ekv_wtx {
	struct remote *remote; /* first, as in ekv_db */
	ekv_db *db;
	struct rec_wtx rt;
	bool canceled;
};

int ekv_wtx_begin(ekv_db *db, ekv_wtx **out)
{
	if (db && db->remote) return remote_wtx_begin(db, out);
	*out = NULL;
	if (db->o.read_only || db->f->read_only)
		return EKV_EROFS;
	ekv_wtx *tx = calloc(1, sizeof(*tx));
	if (!tx)
		return EKV_ENOMEM;
	int e = writer_acquire(db);
	if (e < 0) {
		free(tx);
		return e;
	}
	tx->db = db;
	*out = tx;
	return 0;
}

static int wtx_write(ekv_wtx *tx, const void *key, size_t klen, const void *value, size_t vlen,
		     bool is_delete)
{
	if (!tx)
		return EKV_EINVAL;
	if (tx->canceled)
		return EKV_ECANCELED;
	const struct geom *g = &tx->db->g;
	if ((!key && klen) || (!value && vlen))
		return EKV_EINVAL;
	if (klen > g->max_key || vlen > g->max_value)
		return EKV_ETOOBIG; /* does not cancel the transaction */
	int e = ensure_mounted_writer(tx->db);
	if (e == 0)
		e = rec_wtx_write(&tx->db->en, &tx->rt, key, (uint32_t)klen, value,
				  (uint32_t)vlen, is_delete);
	if (e < 0) {
		tx->canceled = true;
		rec_wtx_discard(&tx->db->en, &tx->rt);
	}
	return e;
}

int ekv_wtx_put(ekv_wtx *tx, const void *key, size_t key_len, const void *value, size_t value_len)
{
	if (tx && tx->remote) return remote_wtx_put(tx, key, key_len, value, value_len);
	return wtx_write(tx, key, key_len, value ? value : "", value_len, false);
}

int ekv_wtx_delete(ekv_wtx *tx, const void *key, size_t key_len)
{
	if (tx && tx->remote) return remote_wtx_delete(tx, key, key_len);
	return wtx_write(tx, key, key_len, "", 0, true);
}

int ekv_wtx_commit(ekv_wtx *tx)
{
	if (tx && tx->remote) return remote_wtx_commit(tx);
	if (!tx)
		return EKV_EINVAL;
	ekv_db *db = tx->db;
	int e = tx->canceled ? EKV_ECANCELED : rec_wtx_commit(&db->en, &tx->rt);
	if (e < 0)
		rec_wtx_discard(&db->en, &tx->rt);
	writer_release(db);
	free(tx);
	return e;
}

void ekv_wtx_abort(ekv_wtx *tx)
{
	if (tx && tx->remote) { remote_wtx_abort(tx); return; }
	if (!tx)
		return;
	rec_wtx_discard(&tx->db->en, &tx->rt);
	writer_release(tx->db);
	free(tx);
}

int ekv_compact(ekv_db *db)
{
	if (db && db->remote) return remote_compact(db);
	if (db->o.read_only || db->f->read_only)
		return EKV_EROFS;
	int e = writer_acquire(db);
	if (e < 0)
		return e;
	e = ensure_mounted_writer(db);
	if (e == 0)
		e = rec_compact(&db->en);
	writer_release(db);
	return e;
}
