/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * test_l2_engine.c — layout 2's engine against an in-memory model: commits,
 * flushes, compaction, remounts, snapshots and iteration, over NOR and
 * NAND-like geometries (docs/FORMAT.md Part II).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ekv.h"
#include "ekv_test.h"
#include "l2/engine.h"
#include "l2/merge.h"
#include "rng.h" /* tests/support: rng_u64 */

/* ---- a tiny sorted model ------------------------------------------------- */

struct mkv {
	uint8_t k[64];
	uint32_t kl;
	uint8_t v[1100];
	uint32_t vl;
};

struct model {
	struct mkv *e;
	uint32_t n, cap;
};

static int mcmp(const uint8_t *a, uint32_t al, const uint8_t *b, uint32_t bl)
{
	return l2_key_cmp(a, al, b, bl);
}

static int64_t mfind(struct model *m, const uint8_t *k, uint32_t kl, bool *found)
{
	uint32_t lo = 0, hi = m->n;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		int c = mcmp(m->e[mid].k, m->e[mid].kl, k, kl);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < m->n && mcmp(m->e[lo].k, m->e[lo].kl, k, kl) == 0;
	return lo;
}

static void mput(struct model *m, const uint8_t *k, uint32_t kl, const uint8_t *v, uint32_t vl)
{
	bool f;
	int64_t at = mfind(m, k, kl, &f);
	if (!f) {
		if (m->n == m->cap) {
			m->cap = m->cap ? m->cap * 2 : 64;
			m->e = realloc(m->e, m->cap * sizeof(*m->e));
		}
		memmove(m->e + at + 1, m->e + at, (m->n - at) * sizeof(*m->e));
		m->n++;
		memcpy(m->e[at].k, k, kl);
		m->e[at].kl = kl;
	}
	memcpy(m->e[at].v, v, vl);
	m->e[at].vl = vl;
}

static void mdel(struct model *m, const uint8_t *k, uint32_t kl)
{
	bool f;
	int64_t at = mfind(m, k, kl, &f);
	if (f) {
		memmove(m->e + at, m->e + at + 1, (m->n - at - 1) * sizeof(*m->e));
		m->n--;
	}
}

/* ---- fixture ------------------------------------------------------------- */

static uint64_t rng_state;
static uint32_t dbg_t;
static uint32_t rnd(void)
{
	return (uint32_t)(rng_u64(&rng_state) >> 16);
}

struct fx {
	struct ekv_flash *f;
	struct l2_engine *en;
	struct l2_geom g;
	struct model m;
	uint64_t flushes;
};

static void fx_open(struct fx *x, uint32_t bs, uint32_t n, uint32_t pu, uint8_t ev, bool nand)
{
	memset(x, 0, sizeof(*x));
	assert_int_equal(ekv_flash_mem_new(bs, n, ev, &x->f), 0);
	ekv_flash_mem_set_strict(x->f, true);
	l2_geom_default(&x->g, bs, n, pu, ev, nand);
	x->g.max_key = 32;
	x->g.max_value = 200;
	assert_int_equal(l2_geom_check(&x->g, NULL, 0), 0);
	assert_int_equal(l2_engine_new(x->f, &x->g, 7, &x->en), 0);
	assert_int_equal(l2_engine_format(x->en), 0);
}

static void fx_remount(struct fx *x)
{
	x->flushes += x->en->flushes;
	l2_engine_free(x->en);
	assert_int_equal(l2_engine_new(x->f, &x->g, 9, &x->en), 0);
	int me = l2_engine_mount(x->en);
	if (me)
		fprintf(stderr, "dbg mount t=%u: %d %s\n", dbg_t, me, x->en->rec.what);
	assert_int_equal(me, 0);
	assert_false(x->en->rec.damaged);
}

static void fx_close(struct fx *x)
{
	l2_engine_free(x->en);
	ekv_flash_close(x->f);
	free(x->m.e);
}

static void check_all(struct fx *x)
{
	struct l2_snap s;
	struct l2_treader r;
	l2_treader_init(&r, &x->en->g, x->f, x->en->cache);
	l2_engine_snap(x->en, &s);
	uint8_t buf[1100];
	for (uint32_t i = 0; i < x->m.n; i++) {
		size_t vl = 0;
		int e = l2_snap_get(&s, &r, x->m.e[i].k, x->m.e[i].kl, buf, sizeof(buf), &vl);
		if (e) fprintf(stderr, "dbg t=%u key %.6s i=%u/%u flushes=%lu compactions=%lu ntables=%u memn=%u\n", dbg_t, x->m.e[i].k, i, x->m.n, (unsigned long)x->en->flushes, (unsigned long)x->en->compactions, s.v->n, s.mem->n);
		assert_int_equal(e, 0);
		assert_int_equal(vl, x->m.e[i].vl);
		assert_memory_equal(buf, x->m.e[i].v, vl);
	}
	/* iteration equals the model */
	struct l2_src *it;
	assert_int_equal(l2_snap_iter(&s, &r, &it), 0);
	int rr = it->seek(it, NULL, 0, true);
	uint32_t i = 0;
	while (rr == 1) {
		assert_true(i < x->m.n);
		assert_int_equal(it->cur.klen, x->m.e[i].kl);
		assert_memory_equal(it->cur.key, x->m.e[i].k, it->cur.klen);
		assert_int_equal(it->cur.vlen, x->m.e[i].vl);
		assert_memory_equal(it->cur.val, x->m.e[i].v, it->cur.vlen);
		i++;
		rr = it->next(it);
	}
	assert_int_equal(rr, 0);
	assert_int_equal(i, x->m.n);
	it->close(it);
	l2_snap_release(&s);
	l2_treader_free(&r);
}

/* one random transaction of 1..maxn records, applied to engine and model */
static void random_tx(struct fx *x, uint32_t keyspace, uint32_t maxn)
{
	uint32_t n = 1 + rnd() % maxn;
	struct l2_rec *recs = calloc(n, sizeof(*recs));
	uint8_t (*keys)[8] = calloc(n, 8);
	uint8_t (*vals)[200] = calloc(n, 200);
	uint32_t k = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t id = rnd() % keyspace;
		snprintf((char *)keys[k], 8, "%06u", id);
		bool dup = false;
		for (uint32_t j = 0; j < k; j++)
			if (!memcmp(keys[j], keys[k], 6))
				dup = true;
		if (dup)
			continue;
		recs[k].key = keys[k];
		recs[k].klen = 6;
		recs[k].del = rnd() % 5 == 0;
		recs[k].vlen = recs[k].del ? 0 : rnd() % 40;
		for (uint32_t b = 0; b < recs[k].vlen; b++)
			vals[k][b] = (uint8_t)rnd();
		recs[k].val = vals[k];
		k++;
	}
	/* sort by key */
	for (uint32_t a = 1; a < k; a++)
		for (uint32_t b = a; b > 0 && l2_key_cmp(recs[b - 1].key, 6, recs[b].key, 6) > 0;
		     b--) {
			struct l2_rec t = recs[b];
			recs[b] = recs[b - 1];
			recs[b - 1] = t;
		}
	int ce = l2_engine_commit(x->en, recs, k);
	if (ce) {
		uint32_t cnt[8] = {0};
		for (uint32_t b = 0; b < x->en->bl.n; b++)
			cnt[x->en->bl.state[b]]++;
		fprintf(stderr, "dbg states free %u journal %u table %u used %u reserved %u bad %u nchain %u retired %u tables %u\n", cnt[0], cnt[1], cnt[2], cnt[3], cnt[4], cnt[5], x->en->j.nchain, x->en->n_retired, x->en->cur->n);
	}
	if (ce)
		fprintf(stderr, "dbg commit t=%u: %d free=%u avail=%u flushes=%lu compactions=%lu\n", dbg_t, ce, x->en->bl.n_free, l2_blocks_available(&x->en->bl), (unsigned long)x->en->flushes, (unsigned long)x->en->compactions);
	assert_int_equal(ce, 0);
	for (uint32_t i = 0; i < k; i++) {
		if (recs[i].del)
			mdel(&x->m, recs[i].key, 6);
		else
			mput(&x->m, recs[i].key, 6, recs[i].val, recs[i].vlen);
	}
	free(recs);
	free(keys);
	free(vals);
}

static void run_geometry(uint32_t bs, uint32_t n, uint32_t pu, uint8_t ev, bool nand,
			 uint32_t txs, uint32_t keyspace)
{
	struct fx x;
	rng_state = bs * 31u + n + pu + ev;
	fx_open(&x, bs, n, pu, ev, nand);
	for (uint32_t t = 0; t < txs; t++) {
		dbg_t = t;
		random_tx(&x, keyspace, 6);
		if (t % 97 == 0)
			check_all(&x);
		if (t % 211 == 0) {
			fx_remount(&x);
			check_all(&x);
		}
		if (t % 503 == 0)
			while (l2_engine_compact(x.en, true) > 0)
				;
	}
	check_all(&x);
	fx_remount(&x);
	check_all(&x);
	while (l2_engine_compact(x.en, true) > 0)
		;
	check_all(&x);
	fx_remount(&x);
	check_all(&x);
	assert_true(x.flushes + x.en->flushes > 0 || txs < 100);
	fx_close(&x);
}

static void test_nor_4k(void **state)
{
	(void)state;
	run_geometry(4096, 64, 4, 0xff, false, 3000, 400);
}

static void test_nor_small_blocks(void **state)
{
	(void)state;
	run_geometry(512, 128, 4, 0xff, false, 2000, 200);
}

static void test_erase_zero(void **state)
{
	(void)state;
	run_geometry(1024, 64, 4, 0x00, false, 1500, 200);
}

static void test_nand_like(void **state)
{
	(void)state;
	run_geometry(16384, 32, 2048, 0xff, true, 800, 200);
}

static void test_empty_remount(void **state)
{
	(void)state;
	struct fx x;
	fx_open(&x, 4096, 16, 4, 0xff, false);
	fx_remount(&x);
	check_all(&x);
	fx_close(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_remount),
		cmocka_unit_test(test_nor_4k),
		cmocka_unit_test(test_nor_small_blocks),
		cmocka_unit_test(test_erase_zero),
		cmocka_unit_test(test_nand_like),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
