/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * test_l2_table.c — layout 2 tables (lib/l2/table*.c, docs/FORMAT.md §L6)
 * and the merge of record sources (lib/l2/merge.c).
 *
 * Tables are written and read on the RAM flash in strict mode (a byte
 * programmed twice fails) behind a shim that also checks the PU rule of
 * §L8.1 (every program covers whole PUs, ascending within its block) and
 * counts reads.  Every table is checked against a sorted model: each key
 * found with its value or tombstone, absent keys below, between and above
 * not found, EKV_ERANGE with a small buffer, iteration and seeks, the
 * block headers and states, reloading from the footer.  Then damage (a
 * flipped byte answers correctly or EKV_ECORRUPT, never wrongly), fuzzed
 * streams (only error codes), the filter's false-positive rate, the read
 * cost of a get, threads sharing a table and its page cache, and the merge
 * against a model.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flash.h"
#include "l2/merge.h"
#include "l2/table.h"
#include "l2/table_int.h" /* the top index and the page cache, for inspection */
#include "page.h" /* ekv_crc32, get_le32 */
#include "testutil.h"

/* ---- a flash that checks the PU rule and counts reads ---------------------- */

struct pu_flash {
	struct ekv_flash f; /* what the code under test uses */
	struct ekv_flash *mem;
	uint32_t pu;
	uint32_t *prog_end;      /* per block: end of its last program */
	unsigned bad_programs;   /* not whole PUs, below an earlier program, or with an
				  * entirely erased PU (§L8.1) */
	uint64_t reads, read_bytes, writes, syncs;
};

static int pf_read(void *ctx, uint32_t page, uint32_t off, void *buf, uint32_t len)
{
	struct pu_flash *pf = ctx;
	__atomic_fetch_add(&pf->reads, 1, __ATOMIC_RELAXED); /* readers may be threads */
	__atomic_fetch_add(&pf->read_bytes, len, __ATOMIC_RELAXED);
	return flash_read(pf->mem, page, off, buf, len);
}

static int pf_write(void *ctx, uint32_t page, uint32_t off, const void *buf, uint32_t len)
{
	struct pu_flash *pf = ctx;
	bool erased_pu = false;
	for (uint32_t i = 0; i + pf->pu <= len; i += pf->pu)
		erased_pu |= l2_is_erased((const uint8_t *)buf + i, pf->pu, pf->f.erase_value);
	if (off % pf->pu || len % pf->pu || off < pf->prog_end[page] || erased_pu)
		pf->bad_programs++;
	pf->prog_end[page] = off + len;
	pf->writes++;
	return flash_write(pf->mem, page, off, buf, len);
}

static int pf_erase(void *ctx, uint32_t page)
{
	struct pu_flash *pf = ctx;
	pf->prog_end[page] = 0;
	return flash_erase(pf->mem, page);
}

static int pf_sync(void *ctx)
{
	struct pu_flash *pf = ctx;
	pf->syncs++;
	return 0;
}

static const struct ekv_flash_ops pf_ops = {
	.read = pf_read, .write = pf_write, .erase = pf_erase, .sync = pf_sync};

/* ---- fixture: geometry, flash, blocks, cache ------------------------------- */

struct fx {
	struct l2_geom g;
	struct ekv_flash *mem;
	struct pu_flash pf;
	struct l2_blocks bl;
	struct l2_cache *cache;
	uint64_t rng;
	uint32_t next_id;
	/* the records and table of tests that need one (fx_table) */
	struct trec *r;
	uint32_t n;
	struct l2_table *t;
};

static void fx_init(struct fx *x, uint32_t B, uint32_t N, uint32_t pu, uint32_t align,
		    uint8_t ev, uint32_t max_key, uint32_t max_value, uint64_t seed)
{
	memset(x, 0, sizeof(*x));
	l2_geom_default(&x->g, B, N, pu, ev, false);
	x->g.align = align;
	x->g.max_key = (uint16_t)max_key;
	x->g.max_value = max_value;
	x->g.image_id = 0x1234567890abcdefull ^ seed;
	char msg[200];
	assert_int_equal(l2_geom_check(&x->g, msg, sizeof(msg)), 0);
	assert_int_equal(ekv_flash_mem_new(B, N, ev, &x->mem), 0);
	ekv_flash_mem_set_strict(x->mem, true);
	x->pf.mem = x->mem;
	x->pf.pu = pu;
	x->pf.prog_end = calloc(N, sizeof(uint32_t));
	assert_non_null(x->pf.prog_end);
	x->pf.f = (struct ekv_flash){.ops = &pf_ops, .ctx = &x->pf, .page_size = B,
				     .page_count = N, .write_size = pu, .erase_value = ev};
	assert_int_equal(l2_blocks_init(&x->bl, &x->g, &x->pf.f), 0);
	assert_int_equal(l2_cache_new(64 * 1024, &x->cache), 0);
	x->rng = seed;
	x->next_id = 1;
}

static uint32_t rnd(struct fx *x, uint32_t n)
{
	return n ? (uint32_t)(rng_u64(&x->rng) % n) : 0;
}

/* ---- records and the sorted model ------------------------------------------ */

struct trec {
	uint8_t *k, *v;
	uint32_t kl, vl;
	bool del;
};

static int trec_cmp(const void *a, const void *b)
{
	const struct trec *x = a, *y = b;
	return l2_key_cmp(x->k, x->kl, y->k, y->kl);
}

static void recs_free(struct trec *r, uint32_t n)
{
	if (!r)
		return;
	for (uint32_t i = 0; i < n; i++) {
		free(r[i].k);
		free(r[i].v);
	}
	free(r);
}

/* A random key: half of them short over a small alphabet (prefixes and
 * near neighbours), the rest any bytes up to max_key. */
static uint32_t rand_key(struct fx *x, uint8_t *k)
{
	bool small = rnd(x, 2);
	uint32_t max = small ? (x->g.max_key < 8 ? x->g.max_key : 8) : x->g.max_key;
	uint32_t kl = 1 + rnd(x, max);
	for (uint32_t i = 0; i < kl; i++)
		k[i] = small ? (uint8_t)('a' + rnd(x, 4)) : (uint8_t)rnd(x, 256);
	return kl;
}

/* n distinct sorted records; 1 in big_every gets a value up to max_big
 * bytes (0: none), 1 in 10 is a tombstone. */
static struct trec *gen_records(struct fx *x, uint32_t n, uint32_t big_every, uint32_t max_big,
				uint32_t *out_n)
{
	struct trec *r = calloc(n ? n : 1, sizeof(*r));
	assert_non_null(r);
	uint8_t k[L2_KEY_MAX];
	for (uint32_t i = 0; i < n; i++) {
		r[i].kl = rand_key(x, k);
		r[i].k = malloc(r[i].kl);
		memcpy(r[i].k, k, r[i].kl);
		r[i].del = rnd(x, 10) == 0;
		if (!r[i].del)
			r[i].vl = big_every && rnd(x, big_every) == 0 ? rnd(x, max_big + 1)
								      : rnd(x, 33);
		r[i].v = malloc(r[i].vl ? r[i].vl : 1);
		for (uint32_t j = 0; j < r[i].vl; j++)
			r[i].v[j] = (uint8_t)rng_u64(&x->rng);
	}
	qsort(r, n, sizeof(*r), trec_cmp);
	uint32_t m = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (m && trec_cmp(&r[m - 1], &r[i]) == 0) {
			free(r[i].k);
			free(r[i].v);
			continue;
		}
		r[m++] = r[i];
	}
	*out_n = m;
	return r;
}

/* First record >= key (> key when !incl). */
static uint32_t lower_bound(const struct trec *r, uint32_t n, const uint8_t *k, uint32_t kl,
			    bool incl)
{
	uint32_t lo = 0, hi = n;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		int c = l2_key_cmp(r[mid].k, r[mid].kl, k, kl);
		if (c < 0 || (c == 0 && !incl))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool model_has(const struct trec *r, uint32_t n, const uint8_t *k, uint32_t kl)
{
	uint32_t i = lower_bound(r, n, k, kl, true);
	return i < n && l2_key_cmp(r[i].k, r[i].kl, k, kl) == 0;
}

static bool rec_equal(const struct l2_rec *a, const struct trec *b)
{
	return a->klen == b->kl && memcmp(a->key, b->k, b->kl) == 0 && a->del == b->del &&
	       a->vlen == b->vl && (b->vl == 0 || memcmp(a->val, b->v, b->vl) == 0);
}

/* ---- building tables -------------------------------------------------------- */

static int write_table(struct fx *x, const struct trec *r, uint32_t n, uint32_t filter_keys,
		       struct l2_table **out)
{
	struct l2_twriter *w;
	int e = l2_twriter_new(&x->g, &x->bl, x->cache, x->next_id++, 1, 77, filter_keys, &w);
	if (e < 0)
		return e;
	uint32_t last_bytes = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct l2_rec rec = {r[i].k, r[i].kl, r[i].v, r[i].vl, r[i].del};
		e = l2_twriter_add(w, &rec);
		if (e < 0) {
			l2_twriter_abort(w);
			return e;
		}
		assert_true(l2_twriter_bytes(w) >= last_bytes);
		last_bytes = l2_twriter_bytes(w);
	}
	assert_int_equal(l2_twriter_records(w), n);
	uint32_t predicted = l2_twriter_blocks(w);
	uint64_t syncs = x->pf.syncs;
	e = l2_twriter_finish(w, out);
	if (e == 0) {
		assert_int_equal((*out)->nblocks, predicted);
		assert_true(x->pf.syncs > syncs);
	}
	return e;
}

static struct l2_table *build(struct fx *x, const struct trec *r, uint32_t n, bool filter)
{
	struct l2_table *t = NULL;
	assert_int_equal(write_table(x, r, n, filter ? n : 0, &t), 0);
	assert_int_equal(x->pf.bad_programs, 0);
	return t;
}

static void release_table(struct fx *x, struct l2_table *t)
{
	for (uint32_t i = 0; i < t->nblocks; i++)
		l2_blocks_release(&x->bl, t->blocks[i]);
	l2_cache_drop_table(x->cache, t->id);
	l2_table_put(t);
}

static void fx_free(struct fx *x)
{
	if (x->t)
		release_table(x, x->t);
	recs_free(x->r, x->n);
	l2_cache_free(x->cache);
	l2_blocks_destroy(&x->bl);
	free(x->pf.prog_end);
	ekv_flash_close(x->mem);
}

/* x->r: count random records (as gen_records), x->t: their table. */
static void fx_table(struct fx *x, uint32_t count, uint32_t big_every, uint32_t max_big,
		     bool filter)
{
	x->r = gen_records(x, count, big_every, max_big, &x->n);
	x->t = build(x, x->r, x->n, filter);
}

static struct l2_table *reload(struct fx *x, const struct l2_table *t, int *err)
{
	struct l2_table *u = NULL;
	char msg[200];
	*err = l2_table_load(&x->g, &x->pf.f, t->id, t->level, t->nblocks, t->stream_len,
			     t->blocks, &u, msg, sizeof(msg));
	if (*err == 0)
		assert_int_equal(msg[0], 0);
	else
		assert_true(msg[0] != 0);
	return u;
}

/* ---- checking a table against the model ------------------------------------- */

static void check_gets(struct fx *x, struct l2_table *t, const struct trec *r, uint32_t n)
{
	struct l2_treader rd;
	l2_treader_init(&rd, &x->g, &x->pf.f, x->cache);
	uint8_t *val = malloc(x->g.max_value + 1);
	bool del;
	size_t vlen;
	for (uint32_t i = 0; i < n; i++) {
		int e = l2_table_get(t, &rd, r[i].k, r[i].kl, i % 2 == 0, &del, val,
				     x->g.max_value, &vlen);
		assert_int_equal(e, 1);
		assert_int_equal(del, r[i].del);
		if (!r[i].del) {
			assert_int_equal(vlen, r[i].vl);
			assert_memory_equal(val, r[i].v, r[i].vl);
		}
		if (r[i].vl) {
			vlen = 0;
			assert_int_equal(l2_table_get(t, &rd, r[i].k, r[i].kl, true, &del, val,
						      r[i].vl - 1, &vlen),
					 EKV_ERANGE);
			assert_int_equal(vlen, r[i].vl);
		}
	}
	/* absent keys: just after each key (between it and the next), past the
	 * largest, before the smallest, random */
	uint8_t k[L2_KEY_MAX + 1];
	for (uint32_t i = 0; i < n + 200; i++) {
		uint32_t kl;
		if (i < n && r[i].kl < x->g.max_key) {
			memcpy(k, r[i].k, r[i].kl);
			k[r[i].kl] = (uint8_t)rnd(x, 3);
			kl = r[i].kl + 1;
		} else if (i == n) {
			memset(k, 0xff, x->g.max_key);
			kl = x->g.max_key;
		} else if (i == n + 1) {
			k[0] = 0;
			kl = 1;
		} else {
			kl = rand_key(x, k);
		}
		if (model_has(r, n, k, kl))
			continue;
		assert_int_equal(l2_table_get(t, &rd, k, kl, i % 3 == 0, &del, val, x->g.max_value,
					      &vlen),
				 0);
	}
	free(val);
	l2_treader_free(&rd);
}

/* Compare up to `steps` records from the iterator's position with r[from..]. */
static void expect_run(struct l2_src *s, int first, const struct trec *r, uint32_t n,
		       uint32_t from, uint32_t steps)
{
	int e = first;
	uint32_t i = from;
	for (; i < n && steps; i++, steps--) {
		assert_int_equal(e, 1);
		assert_true(rec_equal(&s->cur, &r[i]));
		e = s->next(s);
	}
	if (i == n)
		assert_int_equal(e, 0);
}

static void check_iter(struct fx *x, struct l2_table *t, const struct trec *r, uint32_t n)
{
	struct l2_treader rd;
	l2_treader_init(&rd, &x->g, &x->pf.f, x->cache);
	struct l2_src *s;
	assert_int_equal(l2_table_iter(t, &rd, &s), 0);
	l2_treader_free(&rd); /* the iterator needs none of its buffers */
	expect_run(s, s->seek(s, NULL, 0, true), r, n, 0, UINT32_MAX);
	assert_int_equal(s->next(s), 0);
	uint8_t k[L2_KEY_MAX + 1];
	for (uint32_t j = 0; j < 300; j++) {
		uint32_t kl;
		if (j % 3 == 0 && n) { /* a present key */
			uint32_t i = rnd(x, n);
			memcpy(k, r[i].k, r[i].kl);
			kl = r[i].kl;
		} else {
			kl = rand_key(x, k);
		}
		bool incl = rnd(x, 2);
		uint32_t i = lower_bound(r, n, k, kl, incl);
		expect_run(s, s->seek(s, k, kl, incl), r, n, i, 5);
	}
	s->close(s);
}

static void check_blocks(struct fx *x, const struct l2_table *t, uint32_t stamp)
{
	const struct l2_geom *g = &x->g;
	assert_true((uint64_t)t->stream_len <= (uint64_t)t->nblocks * g->payload);
	assert_true((uint64_t)t->stream_len > (uint64_t)(t->nblocks - 1) * g->payload);
	uint32_t used = 0;
	for (uint32_t b = 0; b < x->bl.n; b++)
		used += x->bl.state[b] == L2B_USED;
	assert_int_equal(used, t->nblocks);
	for (uint32_t i = 0; i < t->nblocks; i++) {
		uint8_t h[L2_HDR_SIZE];
		struct l2_block_hdr bh;
		struct l2_geom g2;
		assert_int_equal(x->bl.state[t->blocks[i]], L2B_USED);
		assert_int_equal(flash_read(x->mem, t->blocks[i], 0, h, sizeof(h)), 0);
		assert_int_equal(l2_hdr_decode(h, &bh, &g2, NULL, 0), 0);
		assert_true(l2_geom_same(g, &g2));
		assert_int_equal(bh.kind, L2_KIND_TABLE);
		assert_int_equal(bh.owner, t->id);
		assert_int_equal(bh.index, i);
		assert_int_equal(bh.link, stamp);
	}
}

static void check_table(struct fx *x, struct l2_table *t, const struct trec *r, uint32_t n)
{
	assert_int_equal(t->records, n);
	check_blocks(x, t, 77);
	check_gets(x, t, r, n);
	check_iter(x, t, r, n);
	/* the same from flash, through the footer */
	int e;
	struct l2_table *u = reload(x, t, &e);
	assert_int_equal(e, 0);
	assert_int_equal(u->records, n);
	assert_int_equal(u->filter_blocks, t->filter_blocks);
	assert_int_equal(u->top_off, t->top_off);
	assert_false(u->top_loaded);
	size_t ram = l2_table_ram(u);
	check_gets(x, u, r, n);
	assert_true(u->top_loaded);
	assert_true(l2_table_ram(u) > ram);
	check_iter(x, u, r, n);
	l2_table_put(u);
}

/* ---- tests: tables over geometries ----------------------------------------- */

struct geo_case {
	uint32_t B, N, pu, align;
	uint8_t ev;
	uint32_t max_key, max_value;
	uint32_t big_every;
	uint32_t nrec[4];
};

static const struct geo_case geo_cases[] = {
	{128, 1000, 4, 4, 0xff, 16, 300, 40, {1, 2, 60, 400}},
	{512, 1024, 16, 8, 0x00, 64, 4000, 50, {1, 37, 900, 3000}},
	{4096, 600, 4, 4, 0xff, 64, 1024, 50, {1, 500, 5000, 20000}},
	{65536, 64, 2048, 8, 0xff, 200, 70000, 300, {1, 100, 3000, 8000}},
	{131072, 48, 2048, 4, 0x00, 1024, 300000, 400, {1, 50, 1000, 3000}},
};

static void test_tables_over_geometries_match_the_model(void **state)
{
	(void)state;
	for (size_t c = 0; c < sizeof(geo_cases) / sizeof(geo_cases[0]); c++) {
		const struct geo_case *gc = &geo_cases[c];
		struct fx x;
		fx_init(&x, gc->B, gc->N, gc->pu, gc->align, gc->ev, gc->max_key, gc->max_value,
			100 + c);
		for (int j = 0; j < 4; j++) {
			uint32_t n;
			struct trec *r = gen_records(&x, gc->nrec[j], gc->big_every, gc->max_value, &n);
			for (int filter = 0; filter < 2; filter++) {
				if (n > 1000 && !filter)
					continue;
				struct l2_table *t = build(&x, r, n, filter);
				assert_int_equal(t->filter_blocks != 0, filter);
				check_table(&x, t, r, n);
				release_table(&x, t);
			}
			recs_free(r, n);
		}
		assert_int_equal(x.pf.bad_programs, 0);
		assert_int_equal(x.bl.n_free, gc->N);
		fx_free(&x);
	}
}

/* A record larger than the leaf target makes a leaf of its own, and values
 * spanning several blocks read back whole. */
static void test_large_records_span_blocks(void **state)
{
	(void)state;
	struct fx x;
	fx_init(&x, 256, 2000, 4, 4, 0xff, 32, 3000, 7);
	fx_table(&x, 200, 3, 3000, true);
	assert_true(x.t->nblocks > 20);
	check_table(&x, x.t, x.r, x.n);
	fx_free(&x);
}

static void test_writer_rejects_unordered_and_oversized_records(void **state)
{
	(void)state;
	uint8_t big[64] = {0};
	struct fx x;
	fx_init(&x, 4096, 64, 4, 4, 0xff, 16, 100, 8);
	struct l2_twriter *w;
	assert_int_equal(l2_twriter_new(&x.g, &x.bl, x.cache, 1, 0, 1, 10, &w), 0);
	struct l2_rec b = {(const uint8_t *)"b", 1, (const uint8_t *)"v", 1, false};
	struct l2_rec a = {(const uint8_t *)"a", 1, NULL, 0, false};
	struct l2_rec longkey = {big, 17, NULL, 0, false};
	struct l2_rec bigval = {(const uint8_t *)"c", 1, big, 101, false};
	struct l2_rec delval = {(const uint8_t *)"d", 1, big, 1, true};
	struct l2_rec empty = {(const uint8_t *)"e", 0, NULL, 0, false};
	assert_int_equal(l2_twriter_add(w, &b), 0);
	assert_int_equal(l2_twriter_add(w, &a), EKV_EINVAL);
	assert_int_equal(l2_twriter_add(w, &b), EKV_EINVAL);
	assert_int_equal(l2_twriter_add(w, &longkey), EKV_EINVAL);
	assert_int_equal(l2_twriter_add(w, &bigval), EKV_EINVAL);
	assert_int_equal(l2_twriter_add(w, &delval), EKV_EINVAL);
	assert_int_equal(l2_twriter_add(w, &empty), EKV_EINVAL);
	assert_int_equal(l2_twriter_records(w), 1);
	struct l2_table *t;
	assert_int_equal(l2_twriter_finish(w, &t), 0);
	release_table(&x, t);
	/* no record: finish refuses and gives everything back */
	assert_int_equal(l2_twriter_new(&x.g, &x.bl, x.cache, 2, 0, 1, 0, &w), 0);
	assert_int_equal(l2_twriter_finish(w, &t), EKV_EINVAL);
	assert_int_equal(x.bl.n_free, 64);
	assert_int_equal(l2_twriter_new(&x.g, &x.bl, x.cache, 3, L2_LEVELS, 1, 0, &w), EKV_EINVAL);
	fx_free(&x);
}

static void test_abort_releases_every_block(void **state)
{
	(void)state;
	struct fx x;
	fx_init(&x, 512, 200, 16, 8, 0xff, 32, 500, 9);
	uint32_t n;
	struct trec *r = x.r = gen_records(&x, 2000, 20, 500, &n);
	x.n = n;
	struct l2_twriter *w;
	assert_int_equal(l2_twriter_new(&x.g, &x.bl, x.cache, 5, 1, 3, n, &w), 0);
	for (uint32_t i = 0; i < n / 2; i++) {
		struct l2_rec rec = {r[i].k, r[i].kl, r[i].v, r[i].vl, r[i].del};
		assert_int_equal(l2_twriter_add(w, &rec), 0);
	}
	assert_true(x.bl.n_free < 200 - 10);
	l2_twriter_abort(w);
	assert_int_equal(x.bl.n_free, 200);
	for (uint32_t b = 0; b < 200; b++)
		assert_int_equal(x.bl.state[b], L2B_FREE);
	/* running out of blocks: the add or finish fails with EKV_ENOSPC, and
	 * the writer gives back what it took */
	uint32_t keep[150];
	for (uint32_t i = 0; i < 150; i++)
		assert_int_equal(l2_blocks_alloc(&x.bl, &keep[i]), 0);
	struct l2_table *t = NULL;
	assert_int_equal(write_table(&x, r, n, n, &t), EKV_ENOSPC);
	assert_int_equal(x.bl.n_free, 50);
	for (uint32_t i = 0; i < 150; i++)
		l2_blocks_release(&x.bl, keep[i]);
	/* and the blocks are usable again (erased before their first program) */
	x.t = build(&x, r, n, true);
	check_table(&x, x.t, r, n);
	fx_free(&x);
}

/* A table's sparse filter (or any data) can hold PUs that are entirely
 * erased: the PU writer leaves them unprogrammed (§L8.1), by the staged
 * path and by the direct one, and they read back the same. */
static void test_pu_writer_never_programs_an_entirely_erased_pu(void **state)
{
	(void)state;
	for (int ev = 0; ev < 2; ev++) {
		struct fx x;
		fx_init(&x, 512, 16, 16, 8, ev ? 0xff : 0x00, 16, 100, 17);
		uint8_t data[16 + 64 + 5], back[L2_HDR_SIZE + sizeof(data)];
		memset(data, 0x5a, sizeof(data));
		memset(data, x.g.erase_value, 16);           /* PU 4: staged with the header */
		memset(data + 16 + 16, x.g.erase_value, 32); /* PUs 6 and 7: programmed directly */
		struct l2_bw bw;
		assert_int_equal(l2_bw_init(&bw, &x.bl), 0);
		struct l2_block_hdr h = {.kind = L2_KIND_TABLE, .owner = 1, .link = 0};
		assert_int_equal(l2_bw_open(&bw, 3, &h), 0);
		assert_int_equal(l2_bw_append(&bw, data, 16), 0);
		assert_int_equal(l2_bw_append(&bw, data + 16, 64), 0);
		assert_int_equal(l2_bw_append(&bw, data + 80, 5), 0);
		assert_int_equal(l2_bw_sync(&bw), 0);
		assert_int_equal(x.pf.bad_programs, 0);
		assert_int_equal(flash_read(x.mem, 3, 0, back, sizeof(back)), 0);
		assert_memory_equal(back + L2_HDR_SIZE, data, sizeof(data));
		l2_bw_free(&bw);
		fx_free(&x);
	}
}

/* ---- tests: what a get costs ------------------------------------------------ */

static void be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* x->r: count 4-byte keys (big-endian i * step) with 10-byte values;
 * x->t: their table, with a filter. */
static void fx_seq_table(struct fx *x, uint32_t count, uint32_t step)
{
	struct trec *r = x->r = calloc(count, sizeof(*r));
	for (uint32_t i = 0; i < count; i++) {
		r[i].k = malloc(4);
		r[i].v = malloc(10);
		be32(r[i].k, i * step);
		r[i].kl = 4;
		r[i].vl = 10;
		memset(r[i].v, (int)i, 10);
	}
	x->n = count;
	x->t = build(x, r, count, true);
}

/* The default NOR geometry (4 KiB blocks, PU 4) with fx_seq_table's table,
 * and a reader (with x's cache unless given one) whose first get loaded the
 * table's top index. */
static void fx_nor_reader(struct fx *x, uint32_t blocks, uint64_t seed, uint32_t count,
			  uint32_t step, struct l2_cache *cache, struct l2_treader *rd)
{
	fx_init(x, 4096, blocks, 4, 4, 0xff, 64, 1024, seed);
	cache = cache ? cache : x->cache;
	fx_seq_table(x, count, step);
	l2_treader_init(rd, &x->g, &x->pf.f, cache);
	uint8_t v[16];
	bool del;
	size_t vl;
	assert_int_equal(l2_table_get(x->t, rd, x->r[0].k, 4, true, &del, v, sizeof(v), &vl), 1);
}

static void test_get_reads_one_leaf_when_the_index_page_is_cached(void **state)
{
	(void)state;
	struct fx x;
	struct l2_treader rd;
	fx_nor_reader(&x, 64, 10, 1000, 1, NULL, &rd);
	struct trec *r = x.r;
	uint8_t v[16];
	bool del;
	size_t vl;
	for (uint32_t i = 0; i < 1000; i++) {
		for (int f = 0; f < 2; f++) {
			uint64_t reads = x.pf.reads, bytes = x.pf.read_bytes;
			assert_int_equal(
				l2_table_get(x.t, &rd, r[i].k, 4, f, &del, v, sizeof(v), &vl), 1);
			assert_memory_equal(v, r[i].v, 10);
			/* the leaf (one read: leaves do not cross blocks), and the
			 * filter block when asked */
			assert_int_equal(x.pf.reads - reads, 1 + f);
			assert_true(x.pf.read_bytes - bytes <= x.g.leaf_target + 64u * f);
		}
	}
	l2_treader_free(&rd);
	fx_free(&x);
}

static void test_get_reads_at_most_2k_uncached_at_16000_keys(void **state)
{
	(void)state;
	struct l2_cache *none;
	assert_int_equal(l2_cache_new(0, &none), 0);
	uint32_t empty = l2_cache_bytes(none);
	struct fx x;
	struct l2_treader rd;
	fx_nor_reader(&x, 4096, 11, 16000, 2, none, &rd);
	struct trec *r = x.r;
	struct l2_table *t = x.t;
	uint64_t worst = 0;
	uint8_t v[16], k[4];
	bool del;
	size_t vl;
	for (uint32_t i = 0; i < 16000; i++) {
		uint64_t reads = x.pf.reads, bytes = x.pf.read_bytes;
		assert_int_equal(l2_table_get(t, &rd, r[i].k, 4, true, &del, v, sizeof(v), &vl), 1);
		assert_true(x.pf.reads - reads <= 3); /* filter, index page, leaf */
		if (x.pf.read_bytes - bytes > worst)
			worst = x.pf.read_bytes - bytes;
		be32(k, i * 2 + 1); /* absent: mostly stopped by the filter */
		assert_int_equal(l2_table_get(t, &rd, k, 4, true, &del, v, sizeof(v), &vl), 0);
	}
	assert_true(worst <= 2048);
	assert_int_equal(l2_cache_bytes(none), empty); /* a zero budget holds nothing */
	l2_treader_free(&rd);
	l2_cache_free(none);
	fx_free(&x);
}

static double pow_u(double b, uint32_t e)
{
	double r = 1;
	while (e--)
		r *= b;
	return r;
}

/* e^-x for x >= 0 without libm: (1 - y + y²/2)^(2^20) with y = x / 2^20 */
static double exp_neg(double x)
{
	double y = x / 1048576.0, r = 1 - y + y * y / 2;
	for (int i = 0; i < 20; i++)
		r *= r;
	return r;
}

/* Expected false-positive rate of the blocked filter: keys per block are
 * Poisson(λ), a key sets k distinct bits of 480. */
static double filter_fp_expected(uint32_t keys, uint32_t blocks, uint32_t k)
{
	double lambda = (double)keys / blocks, fp = 0, p = 0;
	for (uint32_t j = 0; j < 400; j++) {
		p = j == 0 ? exp_neg(lambda) : p * lambda / j;
		double fill = 1 - pow_u(1 - (double)k / L2_FILTER_BITS, j);
		fp += p * pow_u(fill, k);
	}
	return fp;
}

static void test_filter_false_positive_rate_matches_its_size(void **state)
{
	(void)state;
	struct fx x;
	struct l2_treader rd;
	fx_nor_reader(&x, 512, 12, 10000, 2, NULL, &rd);
	/* about 10 bits per key, k = 6 or 7 */
	assert_true(x.t->filter_k == 6 || x.t->filter_k == 7);
	double bits_per_key = (double)x.t->filter_blocks * L2_FILTER_BITS / 10000;
	assert_true(bits_per_key >= 9.5 && bits_per_key <= 11);
	uint8_t v[16], k[5];
	bool del;
	size_t vl;
	uint32_t probes = 100000, passed = 0;
	for (uint32_t i = 0; i < probes; i++) {
		/* absent and inside the key range: a key with a fifth byte */
		be32(k, (i % 9999) * 2);
		k[4] = (uint8_t)(i / 9999);
		uint64_t reads = x.pf.reads;
		assert_int_equal(l2_table_get(x.t, &rd, k, 5, true, &del, v, sizeof(v), &vl), 0);
		passed += x.pf.reads - reads > 1; /* the filter let it through to a leaf */
	}
	double measured = (double)passed / probes;
	double expected = filter_fp_expected(10000, x.t->filter_blocks, x.t->filter_k);
	print_message("filter: %u blocks, k %u, false positives %.3f %% (expected %.3f %%)\n",
		      x.t->filter_blocks, x.t->filter_k, measured * 100, expected * 100);
	assert_true(measured < expected * 1.3 + 0.001);
	assert_true(measured > expected * 0.7);
	l2_treader_free(&rd);
	fx_free(&x);
}

/* ---- tests: damage and fuzzing ----------------------------------------------- */

/* The RAM byte behind stream offset s of t. */
static uint8_t *stream_byte(struct fx *x, const struct l2_table *t, uint32_t s)
{
	return ekv_flash_mem_data(x->mem) + (size_t)t->blocks[s / x->g.payload] * x->g.block_size +
	       L2_HDR_SIZE + s % x->g.payload;
}

static void stream_copy(struct fx *x, const struct l2_table *t, uint32_t off, uint8_t *buf,
			uint32_t len, bool to_flash)
{
	for (uint32_t i = 0; i < len; i++) {
		uint8_t *p = stream_byte(x, t, off + i);
		if (to_flash)
			*p = buf[i];
		else
			buf[i] = *p;
	}
}

/* What reading a (possibly damaged) table gave. */
struct verdict {
	bool load_failed;
	unsigned corrupt;  /* gets or scans that said EKV_ECORRUPT */
	bool scan_failed;
};

/* Load t's stream afresh and read all of it: every answer is the model's
 * or EKV_ECORRUPT (fuzz: any answer, but only return codes the API has,
 * and a scan strictly ascending). */
static struct verdict read_all(struct fx *x, const struct l2_table *t, const struct trec *r,
			       uint32_t n, bool fuzz)
{
	struct verdict v = {0};
	int e;
	struct l2_table *u = reload(x, t, &e);
	if (e < 0) {
		assert_int_equal(e, EKV_ECORRUPT);
		v.load_failed = true;
		return v;
	}
	struct l2_cache *cache;
	assert_int_equal(l2_cache_new(16 * 1024, &cache), 0);
	struct l2_treader rd;
	l2_treader_init(&rd, &x->g, &x->pf.f, cache);
	uint8_t *val = malloc(x->g.max_value + 1);
	bool del;
	size_t vlen;
	for (uint32_t i = 0; i < n; i++) {
		e = l2_table_get(u, &rd, r[i].k, r[i].kl, i % 2, &del, val, x->g.max_value, &vlen);
		if (e == EKV_ECORRUPT) {
			v.corrupt++;
			continue;
		}
		if (fuzz) {
			assert_true(e == 0 || e == 1);
			continue;
		}
		assert_int_equal(e, 1);
		assert_int_equal(del, r[i].del);
		if (!del) {
			assert_int_equal(vlen, r[i].vl);
			assert_memory_equal(val, r[i].v, vlen);
		}
		uint8_t k[L2_KEY_MAX + 1];
		if (r[i].kl < x->g.max_key) {
			memcpy(k, r[i].k, r[i].kl);
			k[r[i].kl] = 0;
			if (!model_has(r, n, k, r[i].kl + 1)) {
				e = l2_table_get(u, &rd, k, r[i].kl + 1, true, &del, val,
						 x->g.max_value, &vlen);
				assert_true(e == 0 || e == EKV_ECORRUPT);
			}
		}
	}
	struct l2_src *s;
	assert_int_equal(l2_table_iter(u, &rd, &s), 0);
	uint8_t prev[L2_KEY_MAX];
	uint32_t prev_len = 0, i = 0;
	for (e = s->seek(s, NULL, 0, true); e == 1; e = s->next(s), i++) {
		assert_true(i <= u->records + 1u || fuzz);
		if (fuzz) {
			assert_true(i == 0 || l2_key_cmp(prev, prev_len, s->cur.key, s->cur.klen) < 0);
			memcpy(prev, s->cur.key, s->cur.klen);
			prev_len = s->cur.klen;
		} else {
			assert_true(i < n && rec_equal(&s->cur, &r[i]));
		}
	}
	if (e == EKV_ECORRUPT)
		v.scan_failed = true;
	else
		assert_true(e == 0 && (fuzz || i == n));
	if (n) {
		e = s->seek(s, r[n / 2].k, r[n / 2].kl, false);
		assert_true(e == 0 || e == 1 || e == EKV_ECORRUPT);
	}
	s->close(s);
	free(val);
	l2_treader_free(&rd);
	l2_cache_free(cache);
	l2_table_put(u);
	return v;
}

/* The byte ranges of a table's structures, by kind. */
enum { S_LEAF, S_PAGE, S_FILTER, S_TOP, S_FOOTER, S_KINDS };
struct span {
	uint32_t off, len;
	int kind;
};

static uint32_t table_spans(struct fx *x, struct l2_table *t, struct span *sp, uint32_t max)
{
	uint32_t n = 0;
	assert_int_equal(l2_table_load_top(t, &x->g, &x->pf.f), 0);
	for (uint32_t ti = 0; ti < t->ntop && n < max; ti++) {
		uint32_t plen = t->top[ti].len, count, pos;
		uint8_t *p = malloc(plen);
		stream_copy(x, t, t->top[ti].off, p, plen, false);
		sp[n++] = (struct span){t->top[ti].off, plen, S_PAGE};
		pos = l2_varint_get(p, plen, &count);
		for (uint32_t i = 0; i < count && n < max; i++) {
			struct l2_index_entry e;
			pos += l2_index_entry_decode(p + pos, plen - 4 - pos, &x->g, &e);
			sp[n++] = (struct span){e.off, e.len, S_LEAF};
		}
		free(p);
	}
	for (uint32_t b = 0; b < t->filter_blocks && n < max; b++)
		sp[n++] = (struct span){t->filter_off + b * L2_FILTER_BLOCK, L2_FILTER_BLOCK, S_FILTER};
	if (n + 2 <= max) {
		sp[n++] = (struct span){t->top_off, t->top_len, S_TOP};
		uint8_t lenf[4];
		stream_copy(x, t, t->stream_len - 4, lenf, 4, false);
		uint32_t flen = get_le32(lenf);
		sp[n++] = (struct span){t->stream_len - flen, flen, S_FOOTER};
	}
	return n;
}

static void test_damage_answers_correctly_or_corrupt(void **state)
{
	(void)state;
	enum { MAX_SPANS = 4096 };
	struct span *sp = malloc(sizeof(*sp) * MAX_SPANS);
	struct fx x;
	fx_init(&x, 512, 512, 16, 8, 0xff, 32, 2000, 13);
	fx_table(&x, 1200, 30, 2000, true);
	struct trec *r = x.r;
	struct l2_table *t = x.t;
	uint32_t n = x.n;
	uint32_t ns = table_spans(&x, t, sp, MAX_SPANS);
	unsigned trials[S_KINDS] = {0}, detected[S_KINDS] = {0};
	for (int kind = 0; kind < S_KINDS; kind++) {
		for (uint32_t tries = 0; tries < 2000 && trials[kind] < 20; tries++) {
			const struct span *s = &sp[rnd(&x, ns)];
			if (s->kind != kind)
				continue;
			uint8_t *b = stream_byte(&x, t, s->off + rnd(&x, s->len));
			uint8_t keep = *b;
			*b ^= (uint8_t)(1u << rnd(&x, 8));
			struct verdict v = read_all(&x, t, r, n, false);
			*b = keep;
			trials[kind]++;
			detected[kind] += v.load_failed || v.scan_failed || v.corrupt;
			/* a full scan reads every leaf, page and the top; a load
			 * reads the footer */
			if (kind != S_FILTER)
				assert_true(v.load_failed || v.scan_failed);
		}
		assert_true(trials[kind] > 0);
		assert_int_equal(detected[kind], trials[kind]);
	}
	/* anywhere in the stream, gaps included */
	for (int i = 0; i < 100; i++) {
		uint8_t *b = stream_byte(&x, t, rnd(&x, t->stream_len));
		uint8_t keep = *b;
		*b ^= (uint8_t)(1u + rnd(&x, 255));
		read_all(&x, t, r, n, false);
		*b = keep;
	}
	struct verdict v = read_all(&x, t, r, n, false);
	assert_false(v.load_failed || v.scan_failed || v.corrupt);
	free(sp);
	fx_free(&x);
}

/* Seal a structure again after changing its bytes (so the checks behind
 * the CRC are what catches the change). */
static void reseal(struct fx *x, const struct l2_table *t, const struct span *s, uint8_t *p)
{
	const struct l2_geom *g = &x->g;
	if (s->kind == S_FILTER) {
		l2_filter_seal(g, t->id, (s->off - t->filter_off) / L2_FILTER_BLOCK, p);
	} else if (s->kind == S_FOOTER) {
		uint8_t id[8];
		for (int i = 0; i < 8; i++)
			id[i] = (uint8_t)(g->image_id >> (8 * i));
		put_le32(p + s->len - 8, ekv_crc32(ekv_crc32(0, id, 8), p, s->len - 8));
	} else {
		put_le32(p + s->len - 4, l2_stream_crc(g, t->id, s->off, p, s->len - 4));
	}
}

static void test_fuzzed_streams_give_only_error_codes(void **state)
{
	(void)state;
	struct fx x;
	fx_init(&x, 512, 512, 16, 8, 0xff, 32, 2000, 14);
	const struct l2_geom *g = &x.g;
	fx_table(&x, 300, 30, 2000, true);
	struct trec *r = x.r;
	struct l2_table *t = x.t;
	uint32_t n = x.n;
	/* structures changed behind valid CRCs */
	struct span sp[512];
	uint32_t ns = table_spans(&x, t, sp, 512);
	uint8_t *buf = malloc(g->block_size * 8);
	unsigned loaded = 0, caught = 0, answered = 0;
	for (int trial = 0; trial < 1500; trial++) {
		const struct span *s = &sp[rnd(&x, ns)];
		uint32_t tail = s->kind == S_FOOTER ? 8 : 4;
		if (s->len <= tail)
			continue;
		uint8_t *save = malloc(s->len);
		stream_copy(&x, t, s->off, save, s->len, false);
		memcpy(buf, save, s->len);
		for (uint32_t m = 1 + rnd(&x, 3); m; m--) {
			uint32_t at = rnd(&x, s->len - tail);
			buf[at] = rnd(&x, 2) ? (uint8_t)rng_u64(&x.rng) : buf[at] ^ (uint8_t)(1u << rnd(&x, 8));
		}
		reseal(&x, t, s, buf);
		stream_copy(&x, t, s->off, buf, s->len, true);
		struct verdict v = read_all(&x, t, r, n, true);
		loaded += !v.load_failed;
		caught += v.load_failed || v.scan_failed || v.corrupt;
		answered += !v.load_failed && !v.scan_failed && !v.corrupt;
		stream_copy(&x, t, s->off, save, s->len, true);
		free(save);
	}
	/* the checks behind the CRCs caught changes, and some changes (a
	 * value's bytes) are answered as they are */
	print_message("resealed: %u loaded, %u caught, %u answered\n", loaded, caught, answered);
	assert_true(loaded > 1000 && caught > 300 && answered > 100);
	/* random bytes as a stream, with and without a sealed footer */
	struct l2_table fake = *t;
	unsigned fake_loaded = 0;
	for (int trial = 0; trial < 300; trial++) {
		fake.nblocks = 1 + rnd(&x, t->nblocks < 6 ? t->nblocks : 6);
		fake.stream_len = (fake.nblocks - 1) * g->payload + 1 + rnd(&x, g->payload);
		for (uint32_t i = 0; i < fake.stream_len; i++)
			*stream_byte(&x, &fake, i) = (uint8_t)rng_u64(&x.rng);
		if (trial % 2 && fake.stream_len > 200) {
			uint32_t body = fake.stream_len - 120; /* room for the footer */
			struct l2_footer f = {.table_id = fake.id, .level = fake.level,
					      .records = 1 + rnd(&x, 1000)};
			f.top_off = rnd(&x, body);
			f.top_len = 1 + rnd(&x, body - f.top_off);
			f.filter_blocks = rnd(&x, 3) ? 0 : rnd(&x, f.top_off / L2_FILTER_BLOCK + 1);
			f.filter_k = f.filter_blocks ? (uint8_t)(1 + rnd(&x, 16)) : 0;
			f.filter_off = rnd(&x, f.top_off - f.filter_blocks * L2_FILTER_BLOCK + 1);
			uint8_t k1[32], k2[32];
			f.min_key = k1;
			f.max_key = k2;
			f.min_klen = rand_key(&x, k1);
			f.max_klen = rand_key(&x, k2);
			if (l2_key_cmp(k1, f.min_klen, k2, f.max_klen) > 0) {
				f.min_key = k2;
				f.max_key = k1;
				uint32_t l = f.min_klen;
				f.min_klen = f.max_klen;
				f.max_klen = l;
			}
			uint32_t fl = l2_footer_size(&f);
			uint8_t fb[128];
			l2_footer_encode(g, &f, fb);
			stream_copy(&x, &fake, fake.stream_len - fl, fb, fl, true);
			if (f.top_len >= 12 && rnd(&x, 2)) { /* and a sealed top index */
				uint8_t *top = malloc(f.top_len);
				for (uint32_t i = 0; i < f.top_len; i++)
					top[i] = (uint8_t)rng_u64(&x.rng);
				top[0] = 1;
				top[1] = (uint8_t)f.min_klen;
				memcpy(top + 2, f.min_key, f.min_klen < f.top_len - 6 ? f.min_klen : 0);
				put_le32(top + f.top_len - 4,
					 l2_stream_crc(g, fake.id, f.top_off, top, f.top_len - 4));
				stream_copy(&x, &fake, f.top_off, top, f.top_len, true);
				free(top);
			}
		}
		fake_loaded += !read_all(&x, &fake, r, n, true).load_failed;
	}
	print_message("random streams: %u of 300 loaded\n", fake_loaded);
	assert_true(fake_loaded > 50); /* the sealed footers get past the load */
	free(buf);
	fx_free(&x);
}

/* ---- tests: sharing --------------------------------------------------------- */

struct reader_arg {
	struct fx *x;
	struct l2_table *t;
	struct l2_cache *cache;
	const struct trec *r;
	uint32_t n;
	uint64_t seed;
	unsigned wrong;
};

static void *reader_thread(void *p)
{
	struct reader_arg *a = p;
	struct l2_treader rd;
	l2_treader_init(&rd, &a->x->g, &a->x->pf.f, a->cache);
	uint8_t *val = malloc(a->x->g.max_value + 1);
	bool del;
	size_t vlen;
	for (int j = 0; j < 4000; j++) {
		const struct trec *r = &a->r[rng_u64(&a->seed) % a->n];
		int e = l2_table_get(a->t, &rd, r->k, r->kl, j % 2, &del, val, a->x->g.max_value,
				     &vlen);
		if (e != 1 || del != r->del || (!del && (vlen != r->vl || memcmp(val, r->v, vlen))))
			a->wrong++;
	}
	free(val);
	l2_treader_free(&rd);
	return NULL;
}

static void test_threads_share_a_table_and_a_small_page_cache(void **state)
{
	(void)state;
	struct fx x;
	fx_init(&x, 4096, 256, 4, 4, 0xff, 64, 1024, 15);
	fx_table(&x, 6000, 50, 1024, true);
	int e;
	struct l2_table *u = reload(&x, x.t, &e); /* top not loaded: the threads race for it */
	assert_int_equal(e, 0);
	struct l2_cache *small;
	assert_int_equal(l2_cache_new(3000, &small), 0);
	pthread_t th[4];
	struct reader_arg a[4];
	for (int i = 0; i < 4; i++) {
		a[i] = (struct reader_arg){&x, u, small, x.r, x.n, 1000 + (uint64_t)i, 0};
		assert_int_equal(pthread_create(&th[i], NULL, reader_thread, &a[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(a[i].wrong, 0);
	}
	assert_true(l2_cache_bytes(small) <= 3000 + 1024);
	/* an iterator keeps its table alive after the last other reference */
	struct l2_treader rd;
	l2_treader_init(&rd, &x.g, &x.pf.f, small);
	struct l2_src *s;
	assert_int_equal(l2_table_iter(u, &rd, &s), 0);
	l2_table_put(u);
	expect_run(s, s->seek(s, NULL, 0, true), x.r, x.n, 0, UINT32_MAX);
	s->close(s);
	l2_treader_free(&rd);
	l2_cache_free(small);
	fx_free(&x);
}

static void test_cache_is_lru_bounded_and_drops_tables(void **state)
{
	(void)state;
	uint8_t page[1000], out[1000];
	struct l2_cache *c;
	assert_int_equal(l2_cache_new(8192, &c), 0);
	uint32_t empty = l2_cache_bytes(c);
	for (uint32_t i = 0; i < 40; i++) {
		memset(page, (int)i, sizeof(page));
		l2_cache_insert(c, i % 2 ? 7 : 8, i * 1000, page, sizeof(page));
		assert_true(l2_cache_bytes(c) <= empty + 8192);
	}
	/* the newest ones stay, the oldest went */
	assert_int_equal(l2_cache_lookup(c, 8, 38000, out, sizeof(out)), 1);
	assert_int_equal(out[0], 38);
	assert_int_equal(l2_cache_lookup(c, 8, 0, out, sizeof(out)), 0);
	assert_int_equal(l2_cache_lookup(c, 7, 39000, out, 999), 0); /* other length */
	/* a hit makes a page the newest: it survives the next insertions */
	assert_int_equal(l2_cache_lookup(c, 7, 33000, out, sizeof(out)), 1);
	for (uint32_t i = 40; i < 45; i++)
		l2_cache_insert(c, 9, i * 1000, page, sizeof(page));
	assert_int_equal(l2_cache_lookup(c, 7, 33000, out, sizeof(out)), 1);
	assert_int_equal(l2_cache_lookup(c, 8, 34000, out, sizeof(out)), 0);
	l2_cache_drop_table(c, 7);
	assert_int_equal(l2_cache_lookup(c, 7, 33000, out, sizeof(out)), 0);
	assert_int_equal(l2_cache_lookup(c, 9, 44000, out, sizeof(out)), 1);
	l2_cache_drop_table(c, 9);
	l2_cache_drop_table(c, 8);
	assert_int_equal(l2_cache_bytes(c), empty);
	uint8_t *huge = calloc(1, 9000);
	l2_cache_insert(c, 1, 0, huge, 9000);
	assert_int_equal(l2_cache_lookup(c, 1, 0, huge, 9000), 0);
	free(huge);
	l2_cache_free(c);
}

/* ---- tests: merge ------------------------------------------------------------ */

/* A source over a sorted array (the memtable's role). */
struct vsrc {
	struct l2_src src;
	const struct trec *r;
	uint32_t n, i;
	unsigned *closed;
};

static int vsrc_at(struct vsrc *v)
{
	if (v->i >= v->n)
		return 0;
	const struct trec *r = &v->r[v->i];
	v->src.cur = (struct l2_rec){r->k, r->kl, r->v, r->vl, r->del};
	return 1;
}

static int vsrc_seek(struct l2_src *s, const uint8_t *key, uint32_t klen, bool incl)
{
	struct vsrc *v = (struct vsrc *)s;
	v->i = key ? lower_bound(v->r, v->n, key, klen, incl) : 0;
	return vsrc_at(v);
}

static int vsrc_next(struct l2_src *s)
{
	struct vsrc *v = (struct vsrc *)s;
	if (v->i < v->n)
		v->i++;
	return vsrc_at(v);
}

static void vsrc_close(struct l2_src *s)
{
	struct vsrc *v = (struct vsrc *)s;
	(*v->closed)++;
	free(v);
}

static struct l2_src *vsrc_new(const struct trec *r, uint32_t n, unsigned *closed)
{
	struct vsrc *v = calloc(1, sizeof(*v));
	v->src = (struct l2_src){.seek = vsrc_seek, .next = vsrc_next, .close = vsrc_close};
	v->r = r;
	v->n = n;
	v->closed = closed;
	return &v->src;
}

static void test_merge_newest_wins_and_drops_tombstones_on_request(void **state)
{
	(void)state;
	struct fx x;
	fx_init(&x, 4096, 256, 4, 4, 0xff, 16, 64, 16);
	enum { S = 5 };
	uint32_t nu;
	struct trec *u = gen_records(&x, 3000, 0, 0, &nu);
	/* source i holds ~40 % of the keys, each with its own value */
	struct trec *src[S];
	uint32_t ns[S] = {0};
	for (int i = 0; i < S; i++) {
		src[i] = calloc(nu, sizeof(struct trec));
		for (uint32_t j = 0; j < nu; j++) {
			if (rnd(&x, 5) >= 2)
				continue;
			struct trec *d = &src[i][ns[i]++];
			d->k = u[j].k;
			d->kl = u[j].kl;
			d->del = rnd(&x, 5) == 0;
			d->vl = d->del ? 0 : 1 + rnd(&x, 8);
			d->v = malloc(d->vl + 1);
			for (uint32_t b = 0; b < d->vl; b++)
				d->v[b] = (uint8_t)(i * 16 + b);
		}
	}
	struct l2_table *tab[S] = {0};
	tab[1] = build(&x, src[1], ns[1], true);
	tab[3] = build(&x, src[3], ns[3], false);
	for (int drop = 0; drop < 2; drop++) {
		/* the model: per key, the newest source's record */
		struct trec *want = calloc(nu, sizeof(*want));
		uint32_t nw = 0, at[S] = {0};
		for (uint32_t j = 0; j < nu; j++) {
			const struct trec *best = NULL;
			for (int i = S - 1; i >= 0; i--) {
				if (at[i] < ns[i] && trec_cmp(&src[i][at[i]], &u[j]) == 0)
					best = &src[i][at[i]++];
			}
			if (best && !(drop && best->del))
				want[nw++] = *best;
		}
		unsigned closed = 0;
		struct l2_src *in[S], *m;
		struct l2_treader rd;
		l2_treader_init(&rd, &x.g, &x.pf.f, x.cache);
		for (int i = 0; i < S; i++) {
			if (tab[i])
				assert_int_equal(l2_table_iter(tab[i], &rd, &in[i]), 0);
			else
				in[i] = vsrc_new(src[i], ns[i], &closed);
		}
		l2_treader_free(&rd);
		assert_int_equal(l2_merge_new(in, S, drop, &m), 0);
		expect_run(m, m->seek(m, NULL, 0, true), want, nw, 0, UINT32_MAX);
		assert_int_equal(m->next(m), 0);
		uint8_t k[L2_KEY_MAX];
		for (int j = 0; j < 400; j++) {
			uint32_t kl;
			if (j % 2) {
				const struct trec *p = &u[rnd(&x, nu)];
				memcpy(k, p->k, p->kl);
				kl = p->kl;
			} else {
				kl = rand_key(&x, k);
			}
			bool incl = rnd(&x, 2);
			expect_run(m, m->seek(m, k, kl, incl), want, nw,
				   lower_bound(want, nw, k, kl, incl), 20);
		}
		m->close(m);
		assert_int_equal(closed, 3);
		free(want);
	}
	/* nothing to merge */
	struct l2_src *m;
	assert_int_equal(l2_merge_new(NULL, 0, true, &m), 0);
	assert_int_equal(m->seek(m, NULL, 0, true), 0);
	assert_int_equal(m->next(m), 0);
	m->close(m);
	release_table(&x, tab[1]);
	release_table(&x, tab[3]);
	for (int i = 0; i < S; i++) {
		for (uint32_t j = 0; j < ns[i]; j++)
			free(src[i][j].v);
		free(src[i]);
	}
	recs_free(u, nu);
	fx_free(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tables_over_geometries_match_the_model),
		cmocka_unit_test(test_large_records_span_blocks),
		cmocka_unit_test(test_writer_rejects_unordered_and_oversized_records),
		cmocka_unit_test(test_abort_releases_every_block),
		cmocka_unit_test(test_pu_writer_never_programs_an_entirely_erased_pu),
		cmocka_unit_test(test_get_reads_one_leaf_when_the_index_page_is_cached),
		cmocka_unit_test(test_get_reads_at_most_2k_uncached_at_16000_keys),
		cmocka_unit_test(test_filter_false_positive_rate_matches_its_size),
		cmocka_unit_test(test_damage_answers_correctly_or_corrupt),
		cmocka_unit_test(test_fuzzed_streams_give_only_error_codes),
		cmocka_unit_test(test_threads_share_a_table_and_a_small_page_cache),
		cmocka_unit_test(test_cache_is_lru_bounded_and_drops_tables),
		cmocka_unit_test(test_merge_newest_wins_and_drops_tombstones_on_request),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
