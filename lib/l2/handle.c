/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * l2/handle.c — the local handle of a layout 2 database (the slots of
 * l2_local_ops, handle.h): open, format, mount, statistics, read
 * transactions, cursors and write transactions over the layout 2 engine.
 * Its arguments were checked by api.c.
 *
 * Owns: turning a profile into layout 2 format parameters (refusing the ones
 * that contradict the image), when the engine mounts (first use, another
 * process committed, a write failed half-way), and the lifetime of
 * snapshots: a read transaction or a cursor holds the shared process lock
 * and a snapshot (version + memtable + sequence number) until it ends, so
 * neither this process nor another reuses the blocks it reads.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "flash.h"
#include "handle.h"
#include "hcore.h"
#include "l2/engine.h"
#include "l2/merge.h"
#include "util.h"



struct db2 {
	struct ekv_db h;         /* the public handle: l2_local_ops */
	struct hcore c;
	struct ekv_flash *f;
	struct ekv_profile p;    /* what the caller asked for (0: the image's) */
	bool have_p;
	uint32_t seed;
	struct l2_engine *en;    /* NULL until the first mount or format */
	unsigned readers;        /* open read transactions and cursors (c.lock) */
};

static struct db2 *db2_of(ekv_db *h)
{
	return container_of(h, struct db2, h);
}

static void logf_(struct db2 *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(struct db2 *d, const char *fmt, ...)
{
	if (!d->c.o.log)
		return;
	char line[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	d->c.o.log(d->c.o.log_ctx, line);
}

/* ---- format parameters from a profile ------------------------------------ */

/* The parameters to format with: the profile's, the flash's where 0. */
static int format_geom(const struct db2 *d, struct l2_geom *g, char *msg, size_t msg_size)
{
	const struct ekv_profile *p = &d->p;
	struct ekv_flash *f = d->f;
	uint32_t bs = p->block_size ? p->block_size : f->page_size;
	uint32_t n = p->block_count ? p->block_count : f->page_count;
	uint32_t align = d->have_p && p->align ? p->align : 4;
	uint32_t pu = p->write_size ? p->write_size : f->write_size;
	if (pu < align)
		pu = align;
	uint8_t ev = d->have_p ? p->erase_value : f->erase_value;
	l2_geom_default(g, bs, n, pu, ev, d->have_p && p->nand);
	g->align = align;
	g->pu = pu; /* at least the align, which may be below the default's */
	if (d->have_p) {
		g->max_key = (uint16_t)(p->max_key_size > 0xffff ? 0xffff : p->max_key_size);
		g->max_value = p->max_value_size;
		if (p->journal_blocks)
			g->journal_blocks = (uint8_t)(p->journal_blocks > 255 ? 255 : p->journal_blocks);
		if (p->memtable_kib)
			g->memtable_kib =
				(uint16_t)(p->memtable_kib > 0xffff ? 0xffff : p->memtable_kib);
	}
	if (bs != f->page_size || n > f->page_count) {
		snprintf(msg, msg_size, "block size %u x %u blocks does not match the flash (%u x %u)",
			 bs, n, f->page_size, f->page_count);
		return EKV_EINVAL;
	}
	return l2_geom_check(g, msg, msg_size);
}

/* Options given (nonzero) that the image contradicts: EKV_EINVAL, logged. */
static int check_against_image(struct db2 *d, const struct l2_geom *g)
{
	const struct ekv_profile *p = &d->p;
	if (!d->have_p)
		return 0;
	struct {
		const char *name;
		uint32_t asked, image;
	} f[] = {
		{"block size", p->block_size, g->block_size},
		{"block count", p->block_count, g->block_count},
		{"write size", p->write_size, g->pu},
		{"journal blocks", p->journal_blocks, g->journal_blocks},
		{"memtable KiB", p->memtable_kib, g->memtable_kib},
	};
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (f[i].asked && f[i].asked != f[i].image) {
			logf_(d, "%s %u given, the image has %u", f[i].name, f[i].asked,
			      f[i].image);
			return EKV_EINVAL;
		}
	return 0;
}

/* ---- open, close --------------------------------------------------------- */

int l2_open(struct ekv_flash *flash, const struct ekv_profile *p, const struct ekv_options *o,
	    ekv_db **out)
{
	struct db2 *d = calloc(1, sizeof(*d));
	if (!d)
		return EKV_ENOMEM;
	int e = hcore_init(&d->c, flash, o);
	if (e < 0) {
		free(d);
		return e;
	}
	d->f = flash;
	if (p) {
		d->p = *p;
		d->have_p = true;
	}
	d->seed = d->c.o.seed;
	if (!d->c.o.seed_set && getrandom(&d->seed, sizeof(d->seed), 0) != sizeof(d->seed))
		d->seed = (uint32_t)time(NULL) ^ (uint32_t)(uintptr_t)d;
	d->h.ops = &l2_local_ops;
	*out = &d->h;
	return 0;
}

static void l2h_close(ekv_db *h)
{
	struct db2 *d = db2_of(h);
	l2_engine_free(d->en);
	hcore_destroy(&d->c);
	free(d);
}

/* A fresh engine for geometry g (the old one goes when no reader holds it:
 * never, since callers check d->readers first). */
static int new_engine(struct db2 *d, const struct l2_geom *g)
{
	struct l2_engine *en;
	int e = l2_engine_new(d->f, g, d->seed, &en);
	if (e < 0)
		return e;
	l2_engine_free(d->en);
	d->en = en;
	return 0;
}

/* Mount if nothing is mounted, another process committed, or a write
 * failed half-way.  Called by the writer-slot holder. */
static int ensure_mounted(struct db2 *d)
{
	bool stale = hcore_take_stale(&d->c);
	if (d->en && d->en->mounted && !d->en->broken && !stale)
		return 0;
	if (!d->en) {
		/* the geometry comes from the image's headers */
		struct ekv_profile found;
		memset(&found, 0, sizeof(found));
		int r = ekv_detect(d->f, &found);
		if (r < 0)
			return r;
		if (r != 2)
			return EKV_ENOFMT;
		struct l2_geom g;
		l2_geom_default(&g, found.block_size, found.block_count, found.write_size,
				found.erase_value, found.nand);
		g.align = found.align;
		g.pu = found.write_size;
		g.max_key = (uint16_t)found.max_key_size;
		g.max_value = found.max_value_size;
		g.journal_blocks = (uint8_t)found.journal_blocks;
		g.memtable_kib = (uint16_t)found.memtable_kib;
		r = check_against_image(d, &g);
		if (r == 0)
			r = new_engine(d, &g);
		if (r < 0)
			return r;
	}
	/* every layout 2 structure has a CRC: auto refuses damage */
	d->en->on_damage = d->c.o.on_damage == EKV_ON_DAMAGE_FALLBACK ? L2_DAMAGE_FALLBACK
									: L2_DAMAGE_REFUSE;
	int e = l2_engine_mount(d->en);
	if (e == 0)
		e = check_against_image(d, &d->en->g);
	if (e == 0 && d->en->rec.damaged)
		logf_(d, "recovered from damage: %s", d->en->rec.what);
	return e;
}

static int with_slot(struct db2 *d, bool write, int (*op)(struct db2 *d))
{
	int e = write ? hcore_writer_acquire_rw(&d->c) : hcore_slot_acquire(&d->c);
	if (e < 0)
		return e;
	if (!write) {
		e = hcore_lock_shared(&d->c);
		if (e < 0) {
			hcore_slot_release(&d->c);
			return e;
		}
	}
	e = op(d);
	if (write) {
		hcore_writer_release(&d->c);
	} else {
		hcore_unlock_shared(&d->c);
		hcore_slot_release(&d->c);
	}
	return e;
}

static int do_format(struct db2 *d)
{
	pthread_mutex_lock(&d->c.lock);
	bool readers = d->readers > 0;
	pthread_mutex_unlock(&d->c.lock);
	if (readers)
		return EKV_EBUSY;
	struct l2_geom g;
	char msg[200];
	int e = format_geom(d, &g, msg, sizeof(msg));
	if (e < 0) {
		logf_(d, "%s", msg);
		return e;
	}
	e = new_engine(d, &g);
	if (e == 0)
		e = l2_engine_format(d->en);
	if (e == 0)
		d->c.gen++;
	return e;
}

static int l2h_format(ekv_db *h)
{
	return with_slot(db2_of(h), true, do_format);
}

static int do_mount(struct db2 *d)
{
	return ensure_mounted(d);
}

static int l2h_mount(ekv_db *h)
{
	return with_slot(db2_of(h), false, do_mount);
}

/* ---- statistics ---------------------------------------------------------- */

static int do_stat(struct db2 *d, struct ekv_stat *st)
{
	int e = ensure_mounted(d);
	if (e < 0)
		return e;
	struct l2_engine *en = d->en;
	const struct l2_geom *g = &en->g;
	l2_engine_reclaim(en);
	st->layout = 2;
	st->generation = d->c.gen;
	st->damaged = en->rec.damaged;
	st->lost_files = en->rec.tables_lost;
	st->block_size = g->block_size;
	st->block_count = g->block_count;
	st->write_size = g->pu;
	uint32_t emin = UINT32_MAX, emax = 0;
	uint64_t esum = 0, en_known = 0;
	for (uint32_t b = 0; b < en->bl.n; b++) {
		uint8_t s = en->bl.state[b];
		if (s == L2B_BAD) {
			st->blocks_bad++;
			continue;
		}
		if (l2_blocks_is_free(&en->bl, b)) {
			st->blocks_free++;
			if (l2_blocks_pinned(&en->bl, b))
				st->blocks_pinned++;
		} else {
			st->blocks_used++;
		}
		uint32_t ec = en->bl.ec[b];
		if (ec != UINT32_MAX) {
			emin = ec < emin ? ec : emin;
			emax = ec > emax ? ec : emax;
			esum += ec;
			en_known++;
		}
	}
	st->erase_min = en_known ? emin : 0;
	st->erase_max = emax;
	st->erase_mean = en_known ? (uint32_t)(esum / en_known) : 0;
	st->blocks_spare = g->spare;
	st->journal_blocks = g->journal_blocks;
	st->journal_used = en->j.nchain;
	struct l2_snap s;
	l2_engine_snap(en, &s);
	st->epoch = s.v ? s.v->epoch : 0;
	st->seq = s.seq;
	st->memtable_cap = (uint32_t)g->memtable_kib * 1024;
	if (s.mem) {
		st->memtable_bytes = l2_mem_bytes(s.mem);
		st->memtable_records = s.mem->n;
	}
	uint64_t heap = sizeof(*en) + en->bl.n * (1 + sizeof(uint32_t)) + (en->bl.n + 7) / 4 +
			l2_cache_bytes(en->cache) + st->memtable_bytes;
	for (uint32_t i = 0; s.v && i < s.v->n; i++) {
		const struct l2_table *t = s.v->t[i];
		st->tables++;
		if (t->level < 16) {
			st->level_tables[t->level]++;
			st->level_bytes[t->level] += t->stream_len;
			if (t->level + 1u > st->levels)
				st->levels = t->level + 1u;
		}
		heap += l2_table_ram(t);
	}
	st->heap_bytes = heap;
	st->flushes = en->flushes;
	st->compactions = en->compactions;
	l2_snap_release(&s);
	return 0;
}

static int l2h_stat(ekv_db *h, struct ekv_stat *st)
{
	struct db2 *d = db2_of(h);
	int e = hcore_slot_acquire(&d->c);
	if (e < 0)
		return e;
	e = hcore_lock_shared(&d->c);
	if (e == 0) {
		e = do_stat(d, st);
		hcore_unlock_shared(&d->c);
	}
	hcore_slot_release(&d->c);
	return e;
}

static int do_compact(struct db2 *d)
{
	int e = ensure_mounted(d);
	if (e < 0)
		return e;
	uint64_t before = d->en->flushes + d->en->compactions;
	e = l2_engine_compact(d->en, true);
	if (d->en->flushes + d->en->compactions != before)
		d->c.gen++;
	return e;
}

static int l2h_compact(ekv_db *h)
{
	return with_slot(db2_of(h), true, do_compact);
}

static int l2h_remote_info(ekv_db *h, struct ekv_remote_info *info)
{
	(void)h;
	(void)info;
	return EKV_EINVAL;
}

/* ---- read transactions --------------------------------------------------- */

struct rtx2 {
	struct ekv_rtx h;
	struct db2 *d;
	struct l2_snap s;
	struct l2_treader r;
};

static struct rtx2 *rtx2_of(ekv_rtx *h)
{
	return container_of(h, struct rtx2, h);
}

/* A snapshot for a reader, with the shared process lock held (released by
 * end_reader). */
static int begin_reader(struct db2 *d, struct l2_snap *s)
{
	int e = hcore_lock_shared(&d->c);
	if (e < 0)
		return e;
	pthread_mutex_lock(&d->c.lock);
	bool ok = d->en && d->en->mounted && !d->en->broken && !d->c.stale;
	pthread_mutex_unlock(&d->c.lock);
	if (!ok) {
		e = hcore_slot_acquire(&d->c);
		if (e == 0) {
			e = ensure_mounted(d);
			hcore_slot_release(&d->c);
		}
	}
	if (e == 0) {
		l2_engine_snap(d->en, s);
		pthread_mutex_lock(&d->c.lock);
		d->readers++;
		pthread_mutex_unlock(&d->c.lock);
	} else {
		hcore_unlock_shared(&d->c);
	}
	return e;
}

static void end_reader(struct db2 *d, struct l2_snap *s)
{
	l2_snap_release(s);
	pthread_mutex_lock(&d->c.lock);
	d->readers--;
	pthread_cond_broadcast(&d->c.cond);
	pthread_mutex_unlock(&d->c.lock);
	hcore_unlock_shared(&d->c);
}

static int l2h_rtx_begin(ekv_db *h, ekv_rtx **out)
{
	struct db2 *d = db2_of(h);
	struct rtx2 *t = calloc(1, sizeof(*t));
	if (!t)
		return EKV_ENOMEM;
	int e = begin_reader(d, &t->s);
	if (e < 0) {
		free(t);
		return e;
	}
	t->h.ops = &l2_local_ops;
	t->d = d;
	l2_treader_init(&t->r, &d->en->g, d->f, d->en->cache);
	*out = &t->h;
	return 0;
}

static void l2h_rtx_end(ekv_rtx *h)
{
	struct rtx2 *t = rtx2_of(h);
	l2_treader_free(&t->r);
	end_reader(t->d, &t->s);
	free(t);
}

static int l2h_rtx_get(ekv_rtx *h, const void *key, size_t key_len, void *value,
		       size_t value_cap, size_t *value_len)
{
	struct rtx2 *t = rtx2_of(h);
	if (key_len > t->r.g->max_key)
		return EKV_ETOOBIG;
	size_t vlen = 0;
	int e = l2_snap_get(&t->s, &t->r, key, (uint32_t)key_len, value, value_cap, &vlen);
	if (value_len && (e == 0 || e == EKV_ERANGE))
		*value_len = vlen;
	return e;
}

/* ---- cursors ------------------------------------------------------------- */

struct cursor2 {
	struct ekv_cursor h;
	struct db2 *d;
	struct l2_snap s;
	struct l2_treader r;
	struct l2_src *it;
	bool positioned;   /* it->cur is the next pair to hand out */
	bool done;
	uint8_t *end;
	uint32_t end_len;
	bool has_end;
};

static struct cursor2 *cursor2_of(ekv_cursor *h)
{
	return container_of(h, struct cursor2, h);
}

static void l2h_cursor_close(ekv_cursor *h)
{
	struct cursor2 *c = cursor2_of(h);
	if (c->it)
		c->it->close(c->it);
	l2_treader_free(&c->r);
	end_reader(c->d, &c->s);
	free(c->end);
	free(c);
}

static int cursor_open(struct rtx2 *t, const uint8_t *start, size_t start_len, const uint8_t *end,
		       size_t end_len, bool has_end, ekv_cursor **out)
{
	struct db2 *d = t->d;
	const struct l2_geom *g = t->r.g;
	if ((start && start_len > g->max_key) || (has_end && end_len > g->max_key + 1u))
		return EKV_ETOOBIG;
	struct cursor2 *c = calloc(1, sizeof(*c));
	if (!c)
		return EKV_ENOMEM;
	/* its own snapshot reference and process lock: it may outlive t */
	int e = hcore_lock_shared(&d->c);
	if (e < 0) {
		free(c);
		return e;
	}
	c->h.ops = &l2_local_ops;
	c->d = d;
	c->s = t->s;
	if (c->s.v)
		__atomic_add_fetch(&c->s.v->refs, 1, __ATOMIC_RELAXED);
	if (c->s.mem)
		l2_mem_get_ref(c->s.mem);
	pthread_mutex_lock(&d->c.lock);
	d->readers++;
	pthread_mutex_unlock(&d->c.lock);
	l2_treader_init(&c->r, g, d->f, d->en->cache);
	if (has_end) {
		c->has_end = true;
		c->end_len = (uint32_t)end_len;
		c->end = malloc(end_len ? end_len : 1);
		if (!c->end) {
			l2h_cursor_close(&c->h);
			return EKV_ENOMEM;
		}
		if (end_len)
			memcpy(c->end, end, end_len);
	}
	e = l2_snap_iter(&c->s, &c->r, &c->it);
	if (e == 0) {
		e = c->it->seek(c->it, start && start_len ? start : NULL, (uint32_t)start_len, true);
		if (e >= 0) {
			c->positioned = e == 1;
			c->done = e == 0;
			e = 0;
		}
	}
	if (e < 0) {
		l2h_cursor_close(&c->h);
		return e;
	}
	*out = &c->h;
	return 0;
}

static int l2h_cursor_open(ekv_rtx *h, const void *start, size_t start_len, const void *end,
			   size_t end_len, ekv_cursor **out)
{
	return cursor_open(rtx2_of(h), start, start_len, end, end_len, end != NULL, out);
}

static int l2h_cursor_open_prefix(ekv_rtx *h, const void *prefix, size_t prefix_len,
				  ekv_cursor **out)
{
	struct rtx2 *t = rtx2_of(h);
	if (prefix_len > t->r.g->max_key)
		return EKV_ETOOBIG;
	/* end = the smallest key greater than every key with this prefix */
	uint8_t end[L2_KEY_MAX];
	size_t n = prefix_len;
	if (n)
		memcpy(end, prefix, n);
	while (n && end[n - 1] == 0xff)
		n--;
	if (n == 0)
		return cursor_open(t, prefix, prefix_len, NULL, 0, false, out);
	end[n - 1]++;
	return cursor_open(t, prefix, prefix_len, end, n, true, out);
}

static int l2h_cursor_next(ekv_cursor *h, void *key, size_t key_cap, size_t *key_len,
			   void *value, size_t value_cap, size_t *value_len)
{
	struct cursor2 *c = cursor2_of(h);
	if (c->done || !c->positioned)
		return 0;
	const struct l2_rec *r = &c->it->cur;
	if (c->has_end && l2_key_cmp(r->key, r->klen, c->end, c->end_len) >= 0) {
		c->done = true;
		return 0;
	}
	if (key_len)
		*key_len = r->klen;
	if (value_len)
		*value_len = r->vlen;
	if (r->klen > key_cap || r->vlen > value_cap)
		return EKV_ERANGE; /* not advanced */
	if (r->klen)
		memcpy(key, r->key, r->klen);
	if (r->vlen)
		memcpy(value, r->val, r->vlen);
	int e = c->it->next(c->it);
	if (e < 0)
		return e;
	c->positioned = e == 1;
	c->done = e == 0;
	return 1;
}

/* ---- write transactions -------------------------------------------------- */

/* A record of a write transaction: offsets into its buffer (which moves as
 * it grows). */
struct wrec {
	size_t koff, voff;
	uint32_t klen, vlen;
	bool del;
};

struct wtx2 {
	struct ekv_wtx h;
	struct db2 *d;
	struct wrec *recs;
	size_t n, cap;
	uint8_t *buf;      /* keys and values, back to back */
	size_t used, buf_cap;
	bool canceled;
};

static struct wtx2 *wtx2_of(ekv_wtx *h)
{
	return container_of(h, struct wtx2, h);
}

static int l2h_wtx_begin(ekv_db *h, ekv_wtx **out)
{
	struct db2 *d = db2_of(h);
	struct wtx2 *tx = calloc(1, sizeof(*tx));
	if (!tx)
		return EKV_ENOMEM;
	int e = hcore_writer_acquire_rw(&d->c);
	if (e < 0) {
		free(tx);
		return e;
	}
	tx->h.ops = &l2_local_ops;
	tx->d = d;
	*out = &tx->h;
	return 0;
}

static int wtx_write(struct wtx2 *tx, const void *key, size_t klen, const void *value, size_t vlen,
		     bool del)
{
	if (tx->canceled)
		return EKV_ECANCELED;
	/* as in layout 1: a database that is not there fails the first write */
	int e = ensure_mounted(tx->d);
	if (e < 0) {
		tx->canceled = true;
		return e;
	}
	const struct l2_geom *g = &tx->d->en->g;
	if (klen > g->max_key || vlen > g->max_value)
		return EKV_ETOOBIG; /* does not cancel the transaction */
	if (tx->n) {
		const struct wrec *last = &tx->recs[tx->n - 1];
		if (l2_key_cmp(tx->buf + last->koff, last->klen, key, (uint32_t)klen) >= 0)
			return EKV_ENOTSORTED;
	}
	e = grow_array(&tx->recs, &tx->cap, tx->n + 1, sizeof(*tx->recs), 16);
	if (e == 0)
		e = grow_array(&tx->buf, &tx->buf_cap, tx->used + klen + vlen + 1, 1, 256);
	if (e < 0) {
		tx->canceled = true;
		return e;
	}
	struct wrec *r = &tx->recs[tx->n++];
	r->koff = tx->used;
	r->klen = (uint32_t)klen;
	if (klen)
		memcpy(tx->buf + tx->used, key, klen);
	tx->used += klen;
	r->voff = tx->used;
	r->vlen = (uint32_t)vlen;
	if (vlen)
		memcpy(tx->buf + tx->used, value, vlen);
	tx->used += vlen;
	r->del = del;
	return 0;
}

static int l2h_wtx_put(ekv_wtx *h, const void *key, size_t key_len, const void *value,
		       size_t value_len)
{
	return wtx_write(wtx2_of(h), key, key_len, value ? value : "", value_len, false);
}

static int l2h_wtx_delete(ekv_wtx *h, const void *key, size_t key_len)
{
	return wtx_write(wtx2_of(h), key, key_len, "", 0, true);
}

static void wtx_free(struct wtx2 *tx)
{
	free(tx->recs);
	free(tx->buf);
	free(tx);
}

static int l2h_wtx_commit(ekv_wtx *h)
{
	struct wtx2 *tx = wtx2_of(h);
	struct db2 *d = tx->d;
	int e = tx->canceled ? EKV_ECANCELED : 0;
	if (e == 0 && tx->n) {
		struct l2_rec *recs = malloc(tx->n * sizeof(*recs));
		e = recs ? 0 : EKV_ENOMEM;
		for (size_t i = 0; e == 0 && i < tx->n; i++) {
			const struct wrec *w = &tx->recs[i];
			recs[i] = (struct l2_rec){.key = tx->buf + w->koff, .klen = w->klen,
						  .val = tx->buf + w->voff, .vlen = w->vlen,
						  .del = w->del};
		}
		if (e == 0)
			e = l2_engine_commit(d->en, recs, (uint32_t)tx->n);
		free(recs);
		if (e == 0)
			d->c.gen++;
	}
	hcore_writer_release(&d->c);
	wtx_free(tx);
	return e;
}

static void l2h_wtx_abort(ekv_wtx *h)
{
	struct wtx2 *tx = wtx2_of(h);
	hcore_writer_release(&tx->d->c);
	wtx_free(tx);
}

#define L2_SLOT(slot) .slot = l2h_##slot,
const struct ekv_ops l2_local_ops = {EKV_OPS_SLOTS(L2_SLOT)};
