/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * db.c — the local handle (ekv_open; the slots of db_local_ops, handle.h):
 * open/close, format/mount, read and write transactions, and the machinery
 * that lets them run at the same time.  Its arguments were checked by
 * api.c.
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
#include "util.h"

void ekv_options_default(struct ekv_options *o)
{
	if (o)
		*o = (struct ekv_options){.busy_timeout_ms = 5000};
}

/* ---- snapshots and pins -------------------------------------------------- */

/* For EKV_ASSERT in *_locked functions: the handle mutex is held (by some
 * thread: a default mutex cannot say by which). */
static inline bool lock_held(struct db *db)
{
	return hcore_lock_held(&db->c);
}

static void snapshot_unlink_locked(struct db *db, struct snapshot *s)
{
	EKV_ASSERT(lock_held(db));
	s->prev->next = s->next;
	s->next->prev = s->prev;
	free(s);
	db->pins_stale = true;
	pthread_cond_broadcast(&db->c.cond);
}

struct snapshot *db_snapshot_get(struct db *db)
{
	pthread_mutex_lock(&db->c.lock);
	struct snapshot *s = db->current;
	if (s)
		s->refs++;
	pthread_mutex_unlock(&db->c.lock);
	return s;
}

void db_snapshot_put(struct db *db, struct snapshot *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&db->c.lock);
	if (--s->refs == 0)
		snapshot_unlink_locked(db, s);
	pthread_mutex_unlock(&db->c.lock);
}

static int limbo_add_locked(struct db *db, uint32_t page, uint64_t gen)
{
	EKV_ASSERT(lock_held(db));
	int e = grow_array(&db->limbo, &db->cap_limbo, (size_t)db->n_limbo + 1,
			   sizeof(*db->limbo), 64);
	if (e < 0)
		return e;
	db->limbo[db->n_limbo++] = (struct limbo_entry){page, gen};
	return 0;
}

static void on_publish(void *ctx, const uint32_t *freed, uint32_t n)
{
	struct db *db = ctx;
	struct snapshot *s = malloc(sizeof(*s));
	pthread_mutex_lock(&db->c.lock);
	db->c.gen++;
	/* every freed page goes to limbo: a reader may hold the very snapshot
	 * that is current right now; refresh_pins_locked() drops entries no
	 * live snapshot needs */
	for (uint32_t i = 0; i < n; i++) {
		if (limbo_add_locked(db, freed[i], db->c.gen) < 0) {
			/* cannot track the pin: keep the page out of use for good
			 * rather than risk erasing it under a reader */
			alloc_mark_used(&db->en.fm.alloc, freed[i]);
		}
	}
	db->pins_stale = true;
	struct snapshot *old = db->current;
	if (s) {
		s->refs = 1;
		s->gen = db->c.gen;
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
	pthread_mutex_unlock(&db->c.lock);
}

static void refresh_pins_locked(struct db *db)
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

static int pin_hook(void *ctx, bool wait)
{
	struct db *db = ctx;
	pthread_mutex_lock(&db->c.lock);
	int e = 0;
	if (wait) {
		struct timespec dl;
		bool bounded = db->c.o.busy_timeout_ms >= 0;
		if (bounded)
			deadline_after(&dl, db->c.o.busy_timeout_ms);
		while (!db->pins_stale) {
			if (!hcore_wait_locked(&db->c, bounded ? &dl : NULL) && !db->pins_stale) {
				e = EKV_EBUSY;
				break;
			}
		}
	}
	refresh_pins_locked(db);
	pthread_mutex_unlock(&db->c.lock);
	return e;
}

/* ---- open, close, format, mount ------------------------------------------ */

/* A layout 1 handle (the Rust crate's format): the profile is required. */
static int l1_open(struct ekv_flash *flash, const struct ekv_profile *p,
		   const struct ekv_options *o, ekv_db **out)
{
	struct db *db = calloc(1, sizeof(*db));
	if (!db)
		return EKV_ENOMEM;
	bool have_engine = false, have_core = false;
	int e = geom_init(&db->g, p, NULL, 0);
	if (e == 0 && (flash->page_size != p->page_size || flash->page_count < p->page_count))
		e = EKV_EINVAL;
	if (e == 0)
		e = hcore_init(&db->c, flash, o);
	if (e < 0)
		goto fail;
	have_core = true;
	db->f = flash;
	uint32_t seed = db->c.o.seed;
	if (!db->c.o.seed_set && getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (uint32_t)time(NULL) ^ (uint32_t)(uintptr_t)db;
	e = rec_engine_init(&db->en, &db->g, flash, seed);
	if (e < 0)
		goto fail;
	have_engine = true;
	db->en.fm.rust_meta_log = db->c.o.rust_meta_log;
	db->en.fm.refuse_damage = db->c.o.on_damage == EKV_ON_DAMAGE_REFUSE ||
				  (db->c.o.on_damage == EKV_ON_DAMAGE_AUTO && p->crc);
	db->en.fm.pin_hook = pin_hook;
	db->en.fm.pin_ctx = db;
	db->en.fm.on_publish = on_publish;
	db->live.next = db->live.prev = &db->live;
	db->h.ops = &db_local_ops;
	*out = &db->h;
	return 0;
fail:
	if (have_core)
		hcore_destroy(&db->c);
	if (have_engine)
		rec_engine_destroy(&db->en);
	free(db);
	return e;
}

int ekv_open(struct ekv_flash *flash, const struct ekv_profile *p, const struct ekv_options *o,
	     ekv_db **out)
{
	if (out)
		*out = NULL;
	if (!flash || !out || (p && p->layout > 2) ||
	    (o && (unsigned)o->on_damage > EKV_ON_DAMAGE_REFUSE))
		return EKV_EINVAL;
	uint32_t layout = p ? p->layout : 0;
	if (layout == 0) {
		/* what the flash holds decides; a blank flash gets layout 2 */
		int d = ekv_detect(flash, NULL);
		if (d < 0)
			return d;
		layout = d == 1 ? 1 : 2;
	}
	if (layout == 1)
		return p ? l1_open(flash, p, o, out) : EKV_EINVAL;
	return l2_open(flash, p, o, out);
}

static struct db *db_of(ekv_db *h)
{
	return container_of(h, struct db, h);
}

static void local_close(ekv_db *h)
{
	struct db *db = db_of(h);
	/* snapshots still referenced by open transactions are the caller's bug;
	 * free them all here so nothing leaks */
	for (struct snapshot *s = db->live.next, *next; s != &db->live; s = next) {
		next = s->next;
		free(s);
	}
	rec_engine_destroy(&db->en);
	free(db->limbo);
	hcore_destroy(&db->c);
	free(db);
}

/* Run op holding the writer slot and the exclusive process lock. */
static int with_writer(ekv_db *h, int (*op)(struct db *db))
{
	struct db *db = db_of(h);
	int e = hcore_writer_acquire_rw(&db->c);
	if (e < 0)
		return e;
	e = op(db);
	hcore_writer_release(&db->c);
	return e;
}

static int format_as_writer(struct db *db)
{
	pthread_mutex_lock(&db->c.lock);
	bool readers = db->live.next != &db->live &&
		       (db->live.next != db->current || db->live.next->next != &db->live);
	pthread_mutex_unlock(&db->c.lock);
	return readers ? EKV_EBUSY : fm_format(&db->en.fm);
}

static int local_format(ekv_db *h)
{
	return with_writer(h, format_as_writer);
}

/* Mount if nothing is mounted yet, the engine needs a remount, or another
 * process changed the flash.  Called by the writer-slot holder. */
static int ensure_mounted_writer(struct db *db)
{
	if (hcore_take_stale(&db->c))
		db->en.fm.dirty = true;
	return fm_remount_if_dirty(&db->en.fm);
}

static int local_mount(ekv_db *h)
{
	struct db *db = db_of(h);
	int e = hcore_slot_acquire(&db->c);
	if (e < 0)
		return e;
	e = hcore_lock_shared(&db->c);
	if (e == 0) {
		e = ensure_mounted_writer(db);
		hcore_unlock_shared(&db->c);
	}
	hcore_slot_release(&db->c);
	return e;
}

/* Readers need a current snapshot: mount first if there is none or another
 * process changed the flash.  Called holding the shared process lock. */
static int ensure_snapshot(struct db *db)
{
	pthread_mutex_lock(&db->c.lock);
	bool ok = db->current != NULL && !db->c.stale;
	pthread_mutex_unlock(&db->c.lock);
	if (ok)
		return 0;
	int e = hcore_slot_acquire(&db->c);
	if (e < 0)
		return e;
	e = ensure_mounted_writer(db);
	hcore_slot_release(&db->c);
	return e;
}

static int local_stat(ekv_db *h, struct ekv_stat *st)
{
	struct db *db = db_of(h);
	int e = hcore_lock_shared(&db->c);
	if (e < 0)
		return e;
	e = hcore_slot_acquire(&db->c);
	if (e < 0) {
		hcore_unlock_shared(&db->c);
		return e;
	}
	e = ensure_mounted_writer(db);
	if (e == 0) {
		struct file_manager *m = &db->en.fm;
		pthread_mutex_lock(&db->c.lock);
		refresh_pins_locked(db);
		st->generation = db->c.gen;
		pthread_mutex_unlock(&db->c.lock);
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
	hcore_slot_release(&db->c);
	hcore_unlock_shared(&db->c);
	return e;
}

/* ---- read transactions ---------------------------------------------------- */

static int local_rtx_begin(ekv_db *h, ekv_rtx **out)
{
	struct db *db = db_of(h);
	struct rtx *t = calloc(1, sizeof(*t));
	if (!t)
		return EKV_ENOMEM;
	int e = hcore_lock_shared(&db->c);
	if (e < 0)
		goto fail;
	e = ensure_snapshot(db);
	if (e == 0) {
		t->s = db_snapshot_get(db);
		if (!t->s)
			e = EKV_ENOFMT;
	}
	if (e < 0) {
		hcore_unlock_shared(&db->c);
		goto fail;
	}
	t->h.ops = &db_local_ops;
	t->db = db;
	page_reader_init(&t->pr, &db->g, db->f, 256);
	*out = &t->h;
	return 0;
fail:
	free(t);
	return e;
}

static void local_rtx_end(ekv_rtx *h)
{
	struct rtx *t = rtx_of(h);
	page_reader_free(&t->pr);
	db_snapshot_put(t->db, t->s);
	hcore_unlock_shared(&t->db->c);
	free(t);
}

static int local_rtx_get(ekv_rtx *h, const void *key, size_t key_len, void *value,
			 size_t value_cap, size_t *value_len)
{
	struct rtx *t = rtx_of(h);
	size_t vlen = 0;
	if (key_len > t->db->g.max_key)
		return EKV_ETOOBIG;
	int e = rec_get(&t->db->g, t->db->f, t->s->files, &t->pr, key, (uint32_t)key_len, value,
			value_cap, &vlen);
	if (value_len && (e == 0 || e == EKV_ERANGE))
		*value_len = vlen;
	return e;
}

/* ---- write transactions --------------------------------------------------- */

/* A local write transaction. */
struct wtx {
	struct ekv_wtx h;     /* the public handle: db_local_ops */
	struct db *db;
	struct rec_wtx rt;
	bool canceled;
};

static struct wtx *wtx_of(ekv_wtx *h)
{
	return container_of(h, struct wtx, h);
}

static int local_wtx_begin(ekv_db *h, ekv_wtx **out)
{
	struct db *db = db_of(h);
	struct wtx *tx = calloc(1, sizeof(*tx));
	if (!tx)
		return EKV_ENOMEM;
	int e = hcore_writer_acquire_rw(&db->c);
	if (e < 0) {
		free(tx);
		return e;
	}
	tx->h.ops = &db_local_ops;
	tx->db = db;
	*out = &tx->h;
	return 0;
}

static int wtx_write(struct wtx *tx, const void *key, size_t klen, const void *value, size_t vlen,
		     bool is_delete)
{
	if (tx->canceled)
		return EKV_ECANCELED;
	const struct geom *g = &tx->db->g;
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

static int local_wtx_put(ekv_wtx *h, const void *key, size_t key_len, const void *value,
			 size_t value_len)
{
	return wtx_write(wtx_of(h), key, key_len, value ? value : "", value_len, false);
}

static int local_wtx_delete(ekv_wtx *h, const void *key, size_t key_len)
{
	return wtx_write(wtx_of(h), key, key_len, "", 0, true);
}

static int local_wtx_commit(ekv_wtx *h)
{
	struct wtx *tx = wtx_of(h);
	struct db *db = tx->db;
	int e = tx->canceled ? EKV_ECANCELED : rec_wtx_commit(&db->en, &tx->rt);
	if (e < 0)
		rec_wtx_discard(&db->en, &tx->rt);
	hcore_writer_release(&db->c);
	free(tx);
	return e;
}

static void local_wtx_abort(ekv_wtx *h)
{
	struct wtx *tx = wtx_of(h);
	rec_wtx_discard(&tx->db->en, &tx->rt);
	hcore_writer_release(&tx->db->c);
	free(tx);
}

static int compact_as_writer(struct db *db)
{
	int e = ensure_mounted_writer(db);
	return e < 0 ? e : rec_compact(&db->en);
}

static int local_compact(ekv_db *h)
{
	return with_writer(h, compact_as_writer);
}

/* A local handle is served by no daemon. */
static int local_remote_info(ekv_db *h, struct ekv_remote_info *info)
{
	(void)h;
	(void)info;
	return EKV_EINVAL;
}

#define LOCAL_SLOT(slot) .slot = local_##slot,
const struct ekv_ops db_local_ops = {EKV_OPS_SLOTS(LOCAL_SLOT)};
