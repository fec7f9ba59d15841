/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * l2/compact.c — layout 2's writes: commits, flushes (and large commits
 * applied as flushes), compaction between levels, and the space they need
 * (docs/FORMAT.md §L8.4, §L9, §L13).
 *
 * Owns: when a flush or a compaction happens, which tables a compaction
 * merges and how its output is split, and the write order "new tables
 * durable, then the checkpoint that lists them, then the old ones retired".
 * A failure before the checkpoint leaves the published state untouched
 * (the new tables' blocks go back); a failure inside the journal append
 * marks the engine broken (the handle remounts before the next use).
 */
#include <stdlib.h>
#include <string.h>

#include "flash.h"
#include "l2/engine.h"
#include "l2/merge.h"

#define L0_MAX 8

static uint32_t l0_max(const struct l2_engine *en)
{
	uint32_t room = en->g.block_count - en->g.spare - en->g.journal_blocks;
	uint32_t m = room / 8;
	return m < 2 ? 2 : m > L0_MAX ? L0_MAX : m;
}

/* Largest output table, in blocks. */
static uint32_t table_blocks_max(const struct l2_engine *en)
{
	uint32_t t = en->g.block_count / 32;
	return t < 1 ? 1 : t > 64 ? 64 : t;
}

/* Blocks a table stream of `bytes` takes when split into tables of at
 * most T blocks (each split may leave a partly used block). */
static uint32_t stream_blocks(const struct l2_engine *en, uint64_t bytes)
{
	uint64_t P = en->g.payload;
	uint64_t per = (uint64_t)table_blocks_max(en) * P / 8 * 7;
	uint64_t tables = per ? (bytes + per - 1) / per : 1;
	return (uint32_t)((bytes + P - 1) / P + (tables > 1 ? tables - 1 : 0));
}

static uint64_t level_target(const struct l2_engine *en, uint32_t level)
{
	uint64_t t = (uint64_t)en->g.memtable_kib * 1024 * 4;
	uint64_t min = (uint64_t)table_blocks_max(en) * en->g.payload;
	if (t < min)
		t = min;
	for (uint32_t i = 1; i < level; i++)
		t *= 8;
	return t;
}

/* Largest commit payload that goes through the journal. */
static uint32_t journal_commit_max(const struct l2_engine *en)
{
	uint32_t a = l2_jrn_max_payload(&en->g);
	uint32_t b = en->g.journal_blocks * en->g.payload / 4;
	return a < b ? a : b;
}

/* ---- an array of records as a source (the transaction of a big commit) -- */

struct arr_src {
	struct l2_src src;
	const struct l2_rec *r;
	uint32_t n, at;
};

static int arr_seek(struct l2_src *s, const uint8_t *key, uint32_t klen, bool incl)
{
	struct arr_src *a = (struct arr_src *)s;
	a->at = 0;
	while (key && a->at < a->n) {
		int c = l2_key_cmp(a->r[a->at].key, a->r[a->at].klen, key, klen);
		if (c > 0 || (c == 0 && incl))
			break;
		a->at++;
	}
	if (a->at >= a->n)
		return 0;
	s->cur = a->r[a->at];
	return 1;
}

static int arr_next(struct l2_src *s)
{
	struct arr_src *a = (struct arr_src *)s;
	if (++a->at >= a->n)
		return 0;
	s->cur = a->r[a->at];
	return 1;
}

static void arr_close(struct l2_src *s)
{
	free(s);
}

static int arr_new(const struct l2_rec *r, uint32_t n, struct l2_src **out)
{
	struct arr_src *a = calloc(1, sizeof(*a));
	if (!a)
		return EKV_ENOMEM;
	a->src.seek = arr_seek;
	a->src.next = arr_next;
	a->src.close = arr_close;
	a->r = r;
	a->n = n;
	*out = &a->src;
	return 0;
}

/* ---- writing merged records into tables ---------------------------------- */

struct outputs {
	struct l2_table **t;
	uint32_t n, cap;
};

static void outputs_abort(struct l2_engine *en, struct outputs *o)
{
	for (uint32_t i = 0; i < o->n; i++) {
		struct l2_table *t = o->t[i];
		for (uint32_t b = 0; b < t->nblocks; b++)
			l2_blocks_release(&en->bl, t->blocks[b]);
		l2_cache_drop_table(en->cache, t->id);
		l2_table_put(t);
	}
	free(o->t);
	o->t = NULL;
	o->n = o->cap = 0;
}

static int outputs_push(struct outputs *o, struct l2_table *t)
{
	if (o->n == o->cap) {
		uint32_t cap = o->cap ? o->cap * 2 : 4;
		struct l2_table **x = realloc(o->t, cap * sizeof(*x));
		if (!x)
			return EKV_ENOMEM;
		o->t = x;
		o->cap = cap;
	}
	o->t[o->n++] = t;
	return 0;
}

/* A key bound: NULL key = unbounded. */
struct bound {
	const uint8_t *key;
	uint32_t klen;
};

/*
 * Drain a merged source, from lo (inclusive) to hi (exclusive), into new
 * tables of `level`, each at most max_blocks blocks (0: one table), ids
 * from *next_id.  filter_keys as in l2_twriter_new (0: no filter).
 */
static int write_tables(struct l2_engine *en, struct l2_src *src, uint8_t level,
			uint32_t max_blocks, uint32_t filter_keys, struct bound lo, struct bound hi,
			uint32_t *next_id, struct outputs *o)
{
	struct l2_twriter *w = NULL;
	uint32_t stamp = (uint32_t)l2_jrn_last_seq(&en->j);
	int r = src->seek(src, lo.key, lo.klen, true);
	while (r == 1) {
		if (hi.key && l2_key_cmp(src->cur.key, src->cur.klen, hi.key, hi.klen) >= 0)
			break;
		if (!w) {
			r = l2_twriter_new(&en->g, &en->bl, en->cache, (*next_id)++, level, stamp,
					   filter_keys, &w);
			if (r < 0)
				break;
		}
		r = l2_twriter_add(w, &src->cur);
		if (r < 0)
			break;
		/* close a table when its data fills max_blocks less room for its
		 * index, filter and footer */
		if (max_blocks &&
		    l2_twriter_bytes(w) >= (uint64_t)max_blocks * en->g.payload / 8 * 7) {
			struct l2_table *t;
			r = l2_twriter_finish(w, &t);
			w = NULL;
			if (r < 0)
				break;
			r = outputs_push(o, t);
			if (r < 0) {
				l2_table_put(t);
				break;
			}
		}
		r = src->next(src);
	}
	if (r >= 0 && w) {
		struct l2_table *t;
		r = l2_twriter_finish(w, &t);
		w = NULL;
		if (r == 0) {
			r = outputs_push(o, t);
			if (r < 0)
				l2_table_put(t);
		}
	}
	if (w)
		l2_twriter_abort(w);
	return r < 0 ? r : 0;
}

static void mark_tables(struct l2_engine *en, struct outputs *o)
{
	for (uint32_t i = 0; i < o->n; i++)
		for (uint32_t b = 0; b < o->t[i]->nblocks; b++)
			l2_blocks_set(&en->bl, o->t[i]->blocks[b], L2B_TABLE);
}

/* ---- flush --------------------------------------------------------------- */

int l2_flush(struct l2_engine *en, const struct l2_rec *tx, uint32_t n_tx)
{
	struct l2_version *v = en->cur;
	struct l2_mem *mem = en->mem;
	bool have_mem = mem->n > 0;
	/* with nothing to write, a new epoch still frees a journal that
	 * checkpoints grew */
	if (!have_mem && n_tx == 0 && !en->force_flush && en->j.nchain <= 1)
		return 0;
	struct l2_src *srcs[2] = {NULL, NULL};
	uint32_t ns = 0;
	int e = 0;
	if (n_tx)
		e = arr_new(tx, n_tx, &srcs[ns++]);
	if (e == 0 && have_mem)
		e = l2_mem_iter(mem, en->seq, &srcs[ns++]);
	struct l2_src *merged = NULL;
	if (e == 0 && ns)
		e = l2_merge_new(srcs, ns, v->n == 0, &merged);
	else
		for (uint32_t i = 0; i < ns; i++)
			srcs[i]->close(srcs[i]);
	struct outputs o = {0};
	struct bound none = {NULL, 0};
	if (e == 0 && merged)
		e = write_tables(en, merged, 0, 0, mem->keys + n_tx, none, none, &en->next_table_id,
				 &o);
	if (merged)
		merged->close(merged);
	struct l2_version *nv = NULL;
	if (e == 0)
		e = l2_version_new(v->n + o.n, &nv);
	if (e < 0) {
		outputs_abort(en, &o);
		return e;
	}
	for (uint32_t i = 0; i < o.n; i++)
		nv->t[i] = o.t[i];
	for (uint32_t i = 0; i < v->n; i++) {
		l2_table_get_ref(v->t[i]);
		nv->t[o.n + i] = v->t[i];
	}
	nv->epoch = v->epoch + 1;
	nv->next_table_id = en->next_table_id;
	uint8_t *p = NULL;
	uint32_t plen;
	struct l2_mem *nm = NULL;
	uint32_t *old = NULL, n_old = 0;
	uint64_t seq;
	e = l2_ckpt_build(en, nv, L2_CKPT_FLUSH, &p, &plen);
	if (e == 0)
		e = l2_mem_new(&en->g, en->j.next_seq, &nm);
	if (e < 0) {
		free(p);
		for (uint32_t i = 0; i < o.n; i++)
			l2_table_get_ref(o.t[i]); /* nv's reference goes with nv */
		l2_version_put(nv);
		outputs_abort(en, &o);
		return e;
	}
	e = l2_jrn_new_epoch(&en->j, p, plen, &seq, &old, &n_old);
	free(p);
	if (e < 0) {
		/* the journal may hold a part of the new epoch: remount */
		en->broken = true;
		l2_mem_put(nm);
		l2_version_put(nv); /* frees the outputs; their blocks wait for the remount */
		free(o.t);
		return e;
	}
	nm->base = seq;
	mark_tables(en, &o);
	free(o.t);
	l2_engine_publish(en, nv, nm, seq);
	for (uint32_t i = 0; i < n_old; i++)
		l2_blocks_release(&en->bl, old[i]);
	free(old);
	en->flushes++;
	en->force_flush = false;
	return 0;
}

/* ---- compaction ---------------------------------------------------------- */

static uint32_t max_level(const struct l2_version *v)
{
	uint32_t m = 0;
	for (uint32_t i = 0; i < v->n; i++)
		if (v->t[i]->level > m)
			m = v->t[i]->level;
	return m;
}

static uint64_t level_bytes(const struct l2_version *v, uint32_t level, uint32_t *count)
{
	uint64_t s = 0;
	uint32_t c = 0;
	for (uint32_t i = 0; i < v->n; i++)
		if (v->t[i]->level == level) {
			s += v->t[i]->stream_len;
			c++;
		}
	if (count)
		*count = c;
	return s;
}

/* Which levels to merge: from `up` (all its tables) into `down`.  0: none. */
static int pick(const struct l2_engine *en, const struct l2_version *v, bool full, uint32_t *up,
		uint32_t *down)
{
	uint32_t l0;
	level_bytes(v, 0, &l0);
	uint32_t top = max_level(v);
	if (l0 >= l0_max(en) || (full && l0 > 0)) {
		*up = 0;
		*down = 1;
		return 1;
	}
	for (uint32_t lv = 1; lv < top; lv++) {
		uint32_t c;
		if (level_bytes(v, lv, &c) > level_target(en, lv) && c) {
			*up = lv;
			*down = lv + 1;
			return 1;
		}
	}
	if (full) {
		/* merge the highest non-empty level into the next non-empty one */
		int64_t first = -1;
		for (uint32_t lv = 1; lv <= top; lv++) {
			uint32_t c;
			level_bytes(v, lv, &c);
			if (!c)
				continue;
			if (first < 0) {
				first = lv;
				continue;
			}
			*up = (uint32_t)first;
			*down = lv;
			return 1;
		}
	}
	return 0;
}

/*
 * The inputs of a compaction from level `up`: level 0's oldest tables, as
 * many as the free blocks take (newer ones stay above and are still read
 * first); from a level >= 1, one table, taking turns.  At least one.
 */
static uint32_t pick_inputs(struct l2_engine *en, const struct l2_version *v, uint32_t up,
			    struct l2_table **u)
{
	uint32_t n = 0, budget = l2_blocks_available(&en->bl) / 2;
	if (up == 0) {
		/* level 0 is listed newest first: take from its end */
		uint32_t l0 = 0;
		while (l0 < v->n && v->t[l0]->level == 0)
			l0++;
		uint32_t used = 0, from = l0;
		while (from > 0 && (from == l0 || used + v->t[from - 1]->nblocks <= budget)) {
			from--;
			used += v->t[from]->nblocks;
		}
		/* newest first: the merge lets the first source win */
		for (uint32_t i = from; i < l0; i++)
			u[n++] = v->t[i];
		return n;
	}
	uint32_t c = 0;
	for (uint32_t i = 0; i < v->n; i++)
		if (v->t[i]->level == up)
			c++;
	uint32_t want = c ? en->turn[up % L2_LEVELS]++ % c : 0;
	for (uint32_t i = 0; i < v->n; i++)
		if (v->t[i]->level == up && want-- == 0) {
			u[n++] = v->t[i];
			break;
		}
	return n;
}

static int by_min_key(const void *a, const void *b)
{
	const struct l2_table *x = *(struct l2_table *const *)a, *y = *(struct l2_table *const *)b;
	if (x->level != y->level)
		return x->level < y->level ? -1 : 1;
	return l2_key_cmp(x->min_key, x->min_klen, y->min_key, y->min_klen);
}

/*
 * Publish version nv with an UPDATE checkpoint; retire the tables of the
 * current version that nv no longer lists.  Consumes nv.
 */
static int checkpoint_update(struct l2_engine *en, struct l2_version *nv)
{
	uint8_t *p = NULL;
	uint32_t plen;
	uint64_t seq;
	int e = l2_ckpt_build(en, nv, L2_CKPT_UPDATE, &p, &plen);
	if (e == 0) {
		/* room was made before the step (step_room); J + 1 bounds a journal
		 * that checkpoints alone would otherwise grow */
		e = l2_jrn_append(&en->j, L2_E_CHECKPOINT, p, plen, en->g.journal_blocks + 1u, true,
				  &seq);
		if (e == L2_JFULL)
			e = EKV_ENOSPC;
		else if (e < 0)
			en->broken = true;
	}
	free(p);
	if (e < 0) {
		l2_version_put(nv);
		return e;
	}
	struct l2_version *v = en->cur;
	for (uint32_t i = 0; i < v->n; i++) {
		bool kept = false;
		for (uint32_t k = 0; k < nv->n && !kept; k++)
			kept = nv->t[k] == v->t[i];
		if (!kept)
			l2_engine_retire(en, v->t[i]);
	}
	for (uint32_t k = 0; k < nv->n; k++)
		for (uint32_t b = 0; b < nv->t[k]->nblocks; b++)
			l2_blocks_set(&en->bl, nv->t[k]->blocks[b], L2B_TABLE);
	l2_engine_publish(en, nv, NULL, seq);
	l2_engine_reclaim(en);
	return 0;
}

/*
 * The version after one step: the current tables minus `drop` (n_drop of
 * them) plus the outputs; levels >= 1 sorted by key.
 */
static int next_version(struct l2_engine *en, struct l2_table **drop, uint32_t n_drop,
			struct outputs *o, struct l2_version **out)
{
	struct l2_version *v = en->cur, *nv;
	int e = l2_version_new(v->n - n_drop + o->n, &nv);
	if (e < 0)
		return e;
	uint32_t at = 0;
	for (uint32_t i = 0; i < v->n; i++) {
		bool dropped = false;
		for (uint32_t k = 0; k < n_drop && !dropped; k++)
			dropped = drop[k] == v->t[i];
		if (dropped)
			continue;
		l2_table_get_ref(v->t[i]);
		nv->t[at++] = v->t[i];
	}
	for (uint32_t i = 0; i < o->n; i++) {
		l2_table_get_ref(o->t[i]);
		nv->t[at++] = o->t[i];
	}
	nv->n = at;
	uint32_t first = 0;
	while (first < nv->n && nv->t[first]->level == 0)
		first++;
	qsort(nv->t + first, nv->n - first, sizeof(*nv->t), by_min_key);
	nv->epoch = v->epoch;
	nv->next_table_id = en->next_table_id;
	*out = nv;
	return 0;
}

/*
 * Before a compaction step: its checkpoint must fit in the journal (else a
 * new epoch starts first, which also flushes the memtable), and its output
 * (at most the inputs' streams) must fit in the free blocks with one to
 * spare for the journal: else the step waits (EKV_ENOSPC).
 */
static int step_room(struct l2_engine *en, uint32_t nu, struct l2_table **u, struct l2_table *d,
		     uint32_t steps)
{
	uint32_t ckpt = L2_CKPT_FIXED + L2_CKPT_TABLE * (en->cur->n + nu + 4) + 8;
	if (!l2_jrn_fits(&en->j, ckpt, en->g.journal_blocks + 1u)) {
		int e = l2_flush(en, NULL, 0);
		if (e < 0)
			return e;
	}
	/* the output is no larger than the lower table and the upper tables'
	 * records in its key range — a share of them, here assumed even; a step
	 * that needs more fails on the way (EKV_ENOSPC, its output dropped)
	 * without harm.  The inputs come back when the checkpoint retires them. */
	uint64_t up = 0;
	for (uint32_t i = 0; i < nu; i++)
		up += u[i]->stream_len;
	uint64_t bytes = (d ? d->stream_len : 0) + up / steps;
	return l2_blocks_available(&en->bl) >= stream_blocks(en, bytes) + 1 ? 0 : EKV_ENOSPC;
}

/*
 * Merge every table of level `up` into level `down`, one step per table of
 * `down` (docs/FORMAT.md §L9.3): each step writes the outputs that replace
 * one lower table and checkpoints, so the space a compaction needs is the
 * upper level plus one step's output.  The upper tables are read before the
 * lower level at every step (they hold the same newest versions as the
 * outputs), and leave with the last step.
 */
static int compact_levels(struct l2_engine *en, uint32_t up, uint32_t down)
{
	struct l2_version *v0 = en->cur; /* the plan; en->cur moves at every step */
	__atomic_add_fetch(&v0->refs, 1, __ATOMIC_RELAXED);
	struct l2_table **u = calloc(v0->n ? v0->n : 1, sizeof(*u));
	struct l2_table **d = calloc(v0->n ? v0->n : 1, sizeof(*d));
	int e = u && d ? 0 : EKV_ENOMEM;
	uint32_t nu = 0, nd = 0;
	bool bottom = true;
	uint64_t up_bytes = 0, up_recs = 0;
	if (e == 0)
		nu = pick_inputs(en, v0, up, u);
	if (e == 0 && up == 0 && down == 0 && nu < 2)
		e = EKV_ENOSPC; /* merging one level 0 table with itself gains nothing */
	/* the key range of the inputs, and the lower tables it overlaps */
	const uint8_t *lo_k = NULL, *hi_k = NULL;
	uint32_t lo_l = 0, hi_l = 0;
	for (uint32_t i = 0; i < nu; i++) {
		if (!lo_k || l2_key_cmp(u[i]->min_key, u[i]->min_klen, lo_k, lo_l) < 0) {
			lo_k = u[i]->min_key;
			lo_l = u[i]->min_klen;
		}
		if (!hi_k || l2_key_cmp(u[i]->max_key, u[i]->max_klen, hi_k, hi_l) > 0) {
			hi_k = u[i]->max_key;
			hi_l = u[i]->max_klen;
		}
		up_bytes += u[i]->stream_len;
		up_recs += u[i]->records;
	}
	for (uint32_t i = 0; e == 0 && nu && i < v0->n; i++) {
		struct l2_table *t = v0->t[i];
		if (down == 0) {
			bottom = false; /* level 0 into level 0: older data may be below */
			break;
		}
		if (t->level == down &&
		    l2_key_cmp(t->max_key, t->max_klen, lo_k, lo_l) >= 0 &&
		    l2_key_cmp(t->min_key, t->min_klen, hi_k, hi_l) <= 0)
			d[nd++] = t; /* levels >= 1 are listed by key */
		else if (t->level > down)
			bottom = false;
	}
	if (e == 0 && nu == 0)
		e = EKV_ENOSPC; /* not even one input fits */
	struct l2_treader rd;
	l2_treader_init(&rd, &en->g, en->f, en->cache);
	uint32_t steps = nd ? nd : 1;
	for (uint32_t k = 0; e == 0 && k < steps; k++) {
		e = step_room(en, nu, u, nd ? d[k] : NULL, steps);
		if (e < 0)
			break;
		struct bound lo = {NULL, 0}, hi = {NULL, 0};
		if (k > 0)
			lo = (struct bound){d[k]->min_key, d[k]->min_klen};
		if (k + 1 < nd)
			hi = (struct bound){d[k + 1]->min_key, d[k + 1]->min_klen};
		struct l2_src **srcs = calloc(nu + 1, sizeof(*srcs));
		if (!srcs) {
			e = EKV_ENOMEM;
			break;
		}
		uint32_t ns = 0;
		for (uint32_t i = 0; e == 0 && i < nu; i++)
			e = l2_table_iter(u[i], &rd, &srcs[ns++]);
		if (e == 0 && nd)
			e = l2_table_iter(d[k], &rd, &srcs[ns++]);
		struct l2_src *merged = NULL;
		if (e == 0) {
			e = l2_merge_new(srcs, ns, bottom, &merged);
		} else {
			for (uint32_t i = 0; i < ns; i++)
				if (srcs[i])
					srcs[i]->close(srcs[i]);
		}
		free(srcs);
		struct outputs o = {0};
		if (e == 0) {
			/* a filter sized for the records one output table holds */
			uint64_t bytes = up_bytes / steps + (nd ? d[k]->stream_len : 0);
			uint64_t recs = up_recs / steps + (nd ? d[k]->records : 0);
			uint64_t per = recs ? bytes / recs + 1 : 1;
			uint64_t fit = (uint64_t)table_blocks_max(en) * en->g.payload / per + 1;
			uint64_t keys = recs < fit ? recs : fit;
			uint32_t fk = down == 1 ? (uint32_t)(keys > 8192 ? 8192 : keys) : 0;
			e = write_tables(en, merged, (uint8_t)down, table_blocks_max(en), fk, lo, hi,
					 &en->next_table_id, &o);
		}
		if (merged)
			merged->close(merged);
		struct l2_table *drop[1 + L2_LEVELS];
		struct l2_table **dropv = drop;
		uint32_t ndrop = 0;
		bool last = k + 1 == steps;
		if (last) {
			dropv = calloc(nu + 1, sizeof(*dropv));
			if (!dropv && e == 0)
				e = EKV_ENOMEM;
		}
		if (e == 0) {
			if (nd)
				dropv[ndrop++] = d[k];
			if (last)
				for (uint32_t i = 0; i < nu; i++)
					dropv[ndrop++] = u[i];
		}
		struct l2_version *nv = NULL;
		if (e == 0)
			e = next_version(en, dropv, ndrop, &o, &nv);
		if (dropv != drop)
			free(dropv);
		if (e == 0)
			e = checkpoint_update(en, nv);
		if (e < 0 && !en->broken)
			outputs_abort(en, &o);
		else {
			for (uint32_t i = 0; i < o.n; i++)
				l2_table_put(o.t[i]);
			free(o.t);
		}
	}
	l2_treader_free(&rd);
	free(u);
	free(d);
	l2_version_put(v0);
	if (e < 0)
		return e;
	en->compactions++;
	return 1;
}

/* A compaction by pick(); when level 0 cannot go down for lack of blocks,
 * its oldest tables merge among themselves (fewer, smaller tables). */
static int compact(struct l2_engine *en, uint32_t up, uint32_t down)
{
	int e = compact_levels(en, up, down);
	if (e == EKV_ENOSPC && up == 0 && down == 1)
		e = compact_levels(en, 0, 0);
	return e;
}

int l2_engine_compact(struct l2_engine *en, bool full)
{
	l2_engine_reclaim(en);
	if (en->force_flush || (full && en->mem->n > 0)) {
		int e = l2_flush(en, NULL, 0);
		return e < 0 ? e : 1;
	}
	uint32_t up, down;
	if (!pick(en, en->cur, full, &up, &down))
		return 0;
	return compact(en, up, down);
}

/* ---- space --------------------------------------------------------------- */

/* The memtable is flushed past its cap, or earlier when free blocks are few:
 * its table must always fit (an eighth of the free space). */
static uint32_t memtable_limit(const struct l2_engine *en)
{
	uint32_t cap = (uint32_t)en->g.memtable_kib * 1024;
	uint64_t room = (uint64_t)l2_blocks_available(&en->bl) * en->g.payload / 8;
	if (room < 256)
		room = 256;
	return room < cap ? (uint32_t)room : cap;
}

/*
 * Blocks the engine may need before maintenance gives any back
 * (docs/FORMAT.md §L13), for a memtable of mem_bytes:
 *  A. the journal grows to J blocks (jgrow more), then
 *  B. the flush writes the memtable's table (F) and the next epoch's block,
 *     while the old journal is still held; it then frees the old journal;
 *  C. the largest compaction step writes its output (C: one upper table,
 *     the new one included, plus one lower table) and may need a journal
 *     block for its checkpoint.
 * A and B come before anything is freed; C comes after the old journal's
 * nchain + jgrow blocks went back.
 */
static uint32_t blocks_needed(const struct l2_engine *en, uint32_t mem_bytes)
{
	const struct l2_geom *g = &en->g;
	const struct l2_version *v = en->cur;
	uint32_t nchain = en->j.nchain;
	uint32_t jgrow = g->journal_blocks > nchain ? g->journal_blocks - nchain : 0;
	/* the memtable's RAM bytes bound its table's stream: a table holds only
	 * the newest versions, without sequence numbers and index */
	uint32_t F = stream_blocks(en, mem_bytes);
	if (F == 0)
		F = 1;
	/* a compaction can always go one upper table at a time (pick_inputs):
	 * its largest step merges the largest such table with one lower one */
	uint32_t top = max_level(v);
	uint64_t big = mem_bytes, lower = 0;
	uint64_t T = (uint64_t)table_blocks_max(en) * g->payload;
	for (uint32_t i = 0; i < v->n; i++) {
		const struct l2_table *t = v->t[i];
		if ((t->level < top || t->level == 0) && t->stream_len > big)
			big = t->stream_len;
		if (t->level >= 1 && t->stream_len > lower)
			lower = t->stream_len;
	}
	uint32_t C = stream_blocks(en, big + (lower < T ? lower : T));
	uint32_t ab = jgrow + F + 1;
	uint32_t c = F + 1 + C + 1 > nchain ? F + 1 + C + 1 - nchain : 0;
	return ab > c ? ab : c;
}

/* Whether a commit can make the data larger: a put of a new key or of a
 * longer value (looked up only when space is short). */
static bool grows(struct l2_engine *en, const struct l2_rec *recs, uint32_t n)
{
	struct l2_snap s;
	struct l2_treader rd;
	bool g = false;
	l2_engine_snap(en, &s);
	l2_treader_init(&rd, &en->g, en->f, en->cache);
	for (uint32_t i = 0; i < n && !g; i++) {
		if (recs[i].del)
			continue;
		size_t old = 0;
		int e = l2_snap_get(&s, &rd, recs[i].key, recs[i].klen, NULL, 0, &old);
		g = (e != 0 && e != EKV_ERANGE) || old < recs[i].vlen;
	}
	l2_treader_free(&rd);
	l2_snap_release(&s);
	return g;
}

/* Room for a commit of `bytes` record bytes: 0, or EKV_ENOSPC after trying
 * to make room. */
static int make_room(struct l2_engine *en, const struct l2_rec *recs, uint32_t n, uint32_t bytes)
{
	/* a commit that grows the data leaves room for a few more that do not
	 * (deletes, same-size overwrites): half a block of memtable more */
	uint32_t slack = en->g.payload / 2;
	for (int attempt = 0;; attempt++) {
		uint32_t after = l2_mem_bytes_after(en->mem, bytes, n);
		uint32_t need = blocks_needed(en, after);
		uint32_t avail = l2_blocks_available(&en->bl);
		if (avail >= blocks_needed(en, after + slack))
			return 0;
		if (avail >= need && !grows(en, recs, n))
			return 0;
		if (attempt == 2)
			return EKV_ENOSPC;
		/* flush and merge what can be merged, then look again */
		int e = attempt == 0 ? l2_flush(en, NULL, 0) : 0;
		if (e < 0)
			return e;
		uint32_t up, down;
		while (e >= 0 && pick(en, en->cur, true, &up, &down))
			e = compact(en, up, down);
		if (e < 0 && e != EKV_ENOSPC)
			return e;
	}
}

/* ---- commits ------------------------------------------------------------- */

int l2_engine_commit(struct l2_engine *en, const struct l2_rec *recs, uint32_t n)
{
	l2_engine_reclaim(en);
	uint32_t bytes = 0;
	for (uint32_t i = 0; i < n; i++)
		bytes += l2_rec_size(recs[i].klen, recs[i].vlen);
	int e;
	if (en->force_flush) {
		e = l2_flush(en, NULL, 0);
		if (e < 0)
			return e;
	}
	e = make_room(en, recs, n, bytes);
	if (e < 0)
		return e;
	if (bytes > journal_commit_max(en)) {
		/* a large transaction becomes a table: the flush is its commit point */
		e = l2_flush(en, recs, n);
		goto maintain;
	}
	if (l2_mem_bytes_after(en->mem, bytes, n) > memtable_limit(en)) {
		e = l2_flush(en, NULL, 0);
		if (e < 0)
			return e;
	}
	uint8_t *p = malloc(bytes);
	if (!p)
		return EKV_ENOMEM;
	uint32_t at = 0;
	for (uint32_t i = 0; i < n; i++)
		at += l2_rec_encode(p + at, &recs[i]);
	uint64_t seq;
	e = l2_jrn_append(&en->j, L2_E_COMMIT, p, bytes, en->g.journal_blocks, true, &seq);
	if (e == L2_JFULL) {
		e = l2_flush(en, NULL, 0);
		if (e == 0)
			e = l2_jrn_append(&en->j, L2_E_COMMIT, p, bytes, en->g.journal_blocks, true,
					  &seq);
		if (e == L2_JFULL)
			e = EKV_ENOSPC;
	}
	free(p);
	if (e < 0) {
		en->broken = true; /* the entry may be on flash, torn or whole */
		return e;
	}
	e = l2_mem_insert(en->mem, seq, recs, n);
	if (e < 0) {
		en->broken = true; /* durable but not in RAM: remount */
		return e;
	}
	l2_engine_publish(en, NULL, NULL, seq);
	en->commits++;
maintain:
	if (e < 0)
		return e;
	/* keep the levels in shape; a failure here loses nothing */
	for (int i = 0; i < 4; i++) {
		uint32_t up, down;
		if (!pick(en, en->cur, false, &up, &down) || compact(en, up, down) <= 0)
			break;
	}
	return 0;
}
