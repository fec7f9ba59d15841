/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * test_model.c — randomized model test: thousands of random transactions
 * (puts, deletes, multi-key commits, aborts, remounts, cursor scans, range
 * and prefix cursors) checked against an in-memory map, over many profiles.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

struct prof {
	const char *name;
	uint32_t page_size, page_count, max_page_count, align;
	uint8_t erase;
	bool crc;
	uint32_t bf, max_key, max_value, scratch, chunk;
	int txs;
	/* layout 2 (layout 0 here: layout 1) */
	uint32_t layout, write_size, journal, memtable;
	bool nand;
};

static const struct prof profiles[] = {
	{"default", 4096, 256, 256, 4, 0xff, false, 2, 64, 1024, 4, 4096, 1500, 0, 0, 0, 0, false},
	{"crc", 4096, 256, 256, 4, 0xff, true, 2, 64, 1024, 4, 4096, 1000, 0, 0, 0, 0, false},
	{"p128", 128, 64, 64, 4, 0xff, false, 2, 16, 16, 0, 4096, 1500, 0, 0, 0, 0, false},
	{"p128-crc-a1", 128, 32, 32, 1, 0xff, true, 2, 16, 16, 0, 4096, 1000, 0, 0, 0, 0, false},
	{"p256-a1", 256, 64, 64, 1, 0xff, false, 2, 32, 128, 4, 4096, 1500, 0, 0, 0, 0, false},
	{"p256-a2-bf3", 256, 256, 256, 2, 0xff, false, 3, 32, 200, 8, 4096, 1500, 0, 0, 0, 0, false},
	{"p512-bf4", 512, 128, 128, 4, 0xff, false, 4, 32, 100, 2, 4096, 1500, 0, 0, 0, 0, false},
	{"e00", 1024, 128, 128, 4, 0x00, false, 2, 32, 200, 4, 4096, 1500, 0, 0, 0, 0, false},
	{"e00-crc-a2", 2048, 64, 64, 2, 0x00, true, 3, 32, 300, 4, 4096, 800, 0, 0, 0, 0, false},
	{"chunk512-crc", 4096, 64, 64, 4, 0xff, true, 2, 64, 1024, 4, 512, 600, 0, 0, 0, 0, false},
	{"p65536", 65536, 16, 16, 4, 0xff, false, 2, 64, 4000, 2, 4096, 300, 0, 0, 0, 0, false},
	{"bf3-1024", 1024, 1024, 1024, 4, 0xff, false, 3, 32, 100, 4, 4096, 1500, 0, 0, 0, 0, false},
	/* layout 2: block size, blocks, align, erase value, max key/value, write
	 * size, journal, memtable (0: defaults) */
	{"l2-default", 4096, 256, 0, 4, 0xff, false, 0, 64, 1024, 0, 0, 1500, 2, 4, 0, 0, false},
	{"l2-b128", 128, 64, 0, 4, 0xff, false, 0, 16, 16, 0, 0, 1500, 2, 4, 0, 0, false},
	{"l2-b256-a1", 256, 64, 0, 1, 0xff, false, 0, 32, 128, 0, 0, 1500, 2, 1, 0, 0, false},
	{"l2-a8-u16", 1024, 128, 0, 8, 0xff, false, 0, 32, 200, 0, 0, 1500, 2, 16, 0, 0, false},
	{"l2-a16", 2048, 64, 0, 16, 0xff, false, 0, 32, 300, 0, 0, 1000, 2, 16, 0, 0, false},
	{"l2-e00", 1024, 128, 0, 4, 0x00, false, 0, 32, 200, 0, 0, 1500, 2, 4, 0, 0, false},
	{"l2-nand2k", 16384, 32, 0, 4, 0xff, false, 0, 64, 1024, 0, 0, 600, 2, 2048, 0, 0, true},
	{"l2-b64k", 65536, 16, 0, 4, 0xff, false, 0, 64, 4000, 0, 0, 300, 2, 4, 0, 0, false},
	{"l2-bigval", 4096, 64, 0, 4, 0xff, false, 0, 64, 20000, 0, 0, 300, 2, 4, 0, 0, false},
	{"l2-j2-m1", 512, 128, 0, 4, 0xff, false, 0, 32, 100, 0, 0, 1500, 2, 4, 2, 1, false},
	{"l2-6blocks", 4096, 6, 0, 4, 0xff, false, 0, 16, 64, 0, 0, 800, 2, 4, 0, 0, false},
};

static void rand_bytes(uint64_t *s, uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)rng_u64(s);
}

static void run_profile(const struct prof *pp, uint64_t seed)
{
	struct ekv_profile p;
	ekv_profile_default(&p);
	p.layout = pp->layout ? pp->layout : 1;
	if (pp->layout == 2) {
		p.block_size = pp->page_size;
		p.block_count = pp->page_count;
		p.write_size = pp->write_size;
		p.journal_blocks = pp->journal;
		p.memtable_kib = pp->memtable;
		p.nand = pp->nand;
	}
	p.page_size = pp->page_size;
	p.page_count = pp->page_count;
	p.max_page_count = pp->max_page_count;
	p.align = pp->align;
	p.erase_value = pp->erase;
	p.crc = pp->crc;
	p.branching_factor = pp->bf;
	p.max_key_size = pp->max_key;
	p.max_value_size = pp->max_value;
	p.scratch_page_count = pp->scratch;
	p.max_chunk_size = pp->chunk;
	char msg[200];
	if (p.layout == 1 && ekv_profile_check(&p, msg, sizeof(msg)) < 0)
		fail_msg("profile %s: %s", pp->name, msg);
	struct tdb t;
	tdb_new(&t, &p, (uint32_t)seed);
	struct model m = {0};
	uint64_t s = seed;
	/* a key pool small enough that overwrites and deletes are common; sizes
	 * keep the live data around a third of the flash */
	uint32_t pool = 40 + (uint32_t)(rng_u64(&s) % 200);
	uint64_t capacity = (uint64_t)p.page_size * p.page_count / 4;
	uint32_t avg_rec = 4 + p.max_key_size / 2 + p.max_value_size / 4;
	if ((uint64_t)pool * avg_rec > capacity)
		pool = (uint32_t)(capacity / avg_rec) + 1;
	uint8_t *k = malloc(p.max_key_size + 1), *v = malloc(p.max_value_size + 1);
	int full = 0;
	for (int i = 0; i < pp->txs * 4; i++) {
		uint32_t r = (uint32_t)(rng_u64(&s) % 100);
		if (r < 3) {
			tdb_reopen(&t);
			continue;
		}
		if (r < 6) {
			assert_model(t.db, &m, &p);
			continue;
		}
		if (r < 8) {
			int e = ekv_compact(t.db);
			/* layout 2's compaction needs free blocks a full database
			 * may not have */
			if (!(e >= 0 || (e == EKV_ENOSPC && p.layout == 2)))
				fail_msg("%s compact %d: %s", pp->name, i, ekv_strerror(e));
			continue;
		}
		/* a transaction of 1..8 ops with ascending keys */
		uint32_t nops = 1 + (uint32_t)(rng_u64(&s) % (r < 40 ? 8 : 1));
		uint32_t ids[8];
		for (uint32_t j = 0; j < nops; j++)
			ids[j] = (uint32_t)(rng_u64(&s) % pool);
		/* keys: "k" + id as bytes, padded to a per-id length */
		struct model next;
		model_copy(&next, &m);
		struct {
			uint8_t key[1100];
			size_t kl;
			bool del;
			uint8_t val[70000];
			size_t vl;
		} *ops = calloc(nops, sizeof(*ops));
		uint32_t n = 0;
		for (uint32_t j = 0; j < nops; j++) {
			uint32_t id = ids[j];
			size_t kl = id % (p.max_key_size + 1);
			uint8_t key[1100];
			for (size_t x = 0; x < kl; x++)
				key[x] = (uint8_t)(id * 31 + x * 7);
			if (kl >= 2) {
				key[0] = (uint8_t)(id >> 8);
				key[1] = (uint8_t)id;
			}
			bool dup = false;
			for (uint32_t q = 0; q < n; q++)
				if (!bkey_cmp(ops[q].key, ops[q].kl, key, kl))
					dup = true;
			if (dup)
				continue;
			memcpy(ops[n].key, key, kl);
			ops[n].kl = kl;
			ops[n].del = rng_u64(&s) % 4 == 0;
			ops[n].vl = ops[n].del ? 0 : rng_u64(&s) % (p.max_value_size + 1);
			if (rng_u64(&s) % 3 == 0)
				ops[n].vl /= 16;
			rand_bytes(&s, ops[n].val, ops[n].vl);
			n++;
		}
		/* sort ascending */
		for (uint32_t a = 1; a < n; a++)
			for (uint32_t b = a; b > 0 && bkey_cmp(ops[b - 1].key, ops[b - 1].kl,
							      ops[b].key, ops[b].kl) > 0; b--) {
				char tmp[sizeof(*ops)];
				memcpy(tmp, &ops[b], sizeof(*ops));
				memcpy(&ops[b], &ops[b - 1], sizeof(*ops));
				memcpy(&ops[b - 1], tmp, sizeof(*ops));
			}
		bool abort_it = rng_u64(&s) % 10 == 0;
		ekv_wtx *tx;
		assert_int_equal(ekv_wtx_begin(t.db, &tx), 0);
		int e = 0;
		for (uint32_t j = 0; j < n && e == 0; j++)
			e = model_wtx_apply(tx, &next, ops[j].del, ops[j].key, ops[j].kl, ops[j].val,
					    ops[j].vl);
		if (e == EKV_ENOSPC) {
			full++;
			ekv_wtx_abort(tx);
			model_free(&next);
		} else {
			if (e != 0)
				fail_msg("%s tx %d: %s", pp->name, i, ekv_strerror(e));
			if (abort_it) {
				ekv_wtx_abort(tx);
				model_free(&next);
			} else {
				e = ekv_wtx_commit(tx);
				if (e == EKV_ENOSPC && p.layout == 2) {
					/* layout 2 finds a full database at commit:
					 * nothing was applied */
					full++;
					model_free(&next);
				} else {
					if (e != 0)
						fail_msg("%s commit %d: %s", pp->name, i,
							 ekv_strerror(e));
					model_free(&m);
					m = next;
				}
			}
		}
		free(ops);
		/* spot checks: a range cursor and a prefix cursor against the model */
		if (i % 97 == 0 && m.n) {
			struct kv *lo = &m.a[rng_u64(&s) % m.n];
			ekv_rtx *rt;
			ekv_cursor *c;
			assert_int_equal(ekv_rtx_begin(t.db, &rt), 0);
			assert_int_equal(ekv_cursor_open(rt, lo->k, lo->kl, NULL, 0, &c), 0);
			size_t idx = (size_t)(lo - m.a), kl, vl;
			while ((e = ekv_cursor_next(c, k, p.max_key_size, &kl, v, p.max_value_size,
						    &vl)) == 1) {
				assert_true(idx < m.n);
				assert_int_equal(bkey_cmp(k, kl, m.a[idx].k, m.a[idx].kl), 0);
				idx++;
			}
			assert_int_equal(e, 0);
			assert_int_equal(idx, m.n);
			ekv_cursor_close(c);
			ekv_rtx_end(rt);
		}
	}
	assert_model(t.db, &m, &p);
	tdb_reopen(&t);
	assert_model(t.db, &m, &p);
	printf("  %-14s %d txs, %zu keys live, %d full\n", pp->name, pp->txs * 4, m.n, full);
	model_free(&m);
	free(k);
	free(v);
	tdb_free(&t);
}

static void test_random_transactions_match_model_on_every_profile(void **state)
{
	(void)state;
	/* MODEL_ONLY=name runs one profile (debugging) */
	const char *only = getenv("MODEL_ONLY");
	for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++)
		if (!only || !strcmp(only, profiles[i].name))
			run_profile(&profiles[i], 1000 + i);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_transactions_match_model_on_every_profile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
