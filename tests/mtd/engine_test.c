/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * engine_test.c — mtd_engine_test: the engine on a real MTD device inside
 * the tests/mtd VM.
 *
 * Owns four groups of cases, run once per usable device (EKV_MTD_EXPECT=ok):
 *   model  the randomized model test of tests/test_model.c on the device:
 *          random puts, deletes, multi-key commits, aborts and compactions,
 *          remounts (close and reopen the flash and the database) between
 *          them, everything checked against an in-memory model after each
 *          remount and at the end.  The flash is opened with
 *          EKV_MTD_VERIFY_ERASED (every program is checked against erased
 *          flash first) and the profile comes from the device geometry.
 *   fill   1000-byte values until EKV_ENOSPC: everything acknowledged stays
 *          (also after a remount and read-only), the failed transaction
 *          leaves nothing.
 *   multiprocess  three processes, each with one handle for its whole life,
 *          commit in turns; after each commit a scan through that handle
 *          must show every commit any process had acknowledged (no stale
 *          reads, no stale writer), and at the end everything is there.
 *   busy   one process holds a write transaction open; a second process gets
 *          EKV_EBUSY from ekv_wtx_begin (busy_timeout_ms 0 and 300), and
 *          "ekvctl --device DEV put k v" exits 5, writing nothing (the device
 *          bytes are compared); "ekvctl --wait" succeeds once the holder is
 *          done; afterwards k is absent and the database is intact.
 * Other devices: exit 77 (skipped).  Destructive: formats the device.
 *
 * Usage: mtd_engine_test /dev/mtdN      (environment: see tests/mtd/guest.sh)
 *   EKV_MTD_MODEL_SEED   seed of the model test (default: from the label)
 *   EKV_MTD_MODEL_STEPS  steps of the model test (default 1000)
 * Output: "ok - NAME" / "not ok - NAME: why" per case, "# ..." diagnostics.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

static const char *g_dev;
static const char *g_ekvctl;

/* ---- model test ------------------------------------------------------------------ */

struct op {
	uint8_t key[1100];
	size_t kl;
	bool del;
	uint8_t val[65536];
	size_t vl;
};

struct model_stats {
	int steps, commits, aborts, full, remounts, checks, compactions;
};

/* Close and reopen flash and database; then compare with the model. */
static int remount(struct devdb *d, const struct model *m, uint32_t *seed, struct model_stats *st)
{
	struct ekv_options o;
	char why[600];

	o = d->o;
	devdb_close(d);
	*seed = *seed * 7 + 1;
	o.seed = *seed;
	if (devdb_open(d, g_dev, 0, &o, why, sizeof why) < 0) {
		tap_fail("remount %d: %s", st->remounts, why);
		return -1;
	}
	st->remounts++;
	if (model_check(d->db, m, &d->p, why, sizeof why) < 0) {
		tap_fail("after remount %d (step %d): %s", st->remounts, st->steps, why);
		return -1;
	}
	st->checks++;
	return 0;
}

static void sort_ops(struct op *ops, uint32_t n)
{
	for (uint32_t a = 1; a < n; a++)
		for (uint32_t b = a; b > 0 && bkey_cmp(ops[b - 1].key, ops[b - 1].kl, ops[b].key,
						       ops[b].kl) > 0; b--) {
			struct op tmp;

			memcpy(&tmp, &ops[b], sizeof tmp);
			memcpy(&ops[b], &ops[b - 1], sizeof tmp);
			memcpy(&ops[b - 1], &tmp, sizeof tmp);
		}
}

/* One random transaction (1..8 ascending keys); commits or aborts. */
static int random_tx(struct devdb *d, struct model *m, uint64_t *s, uint32_t pool, uint32_t r,
		     struct op *ops, struct model_stats *st)
{
	const struct ekv_profile *p = &d->p;
	uint32_t nops = 1 + (uint32_t)(rng_u64(s) % (r < 40 ? 8 : 1)), n = 0;
	struct model next;
	bool abort_it;
	ekv_wtx *tx;
	int e = 0;

	for (uint32_t j = 0; j < nops; j++) {
		uint32_t id = (uint32_t)(rng_u64(s) % pool);
		size_t kl = id % (p->max_key_size + 1);
		uint8_t key[1100];
		bool dup = false;

		for (size_t x = 0; x < kl; x++)
			key[x] = (uint8_t)(id * 31 + x * 7);
		if (kl >= 2) {
			key[0] = (uint8_t)(id >> 8);
			key[1] = (uint8_t)id;
		}
		for (uint32_t q = 0; q < n; q++)
			if (!bkey_cmp(ops[q].key, ops[q].kl, key, kl))
				dup = true;
		if (dup)
			continue;
		memcpy(ops[n].key, key, kl);
		ops[n].kl = kl;
		ops[n].del = rng_u64(s) % 4 == 0;
		ops[n].vl = ops[n].del ? 0 : rng_u64(s) % (p->max_value_size + 1);
		if (rng_u64(s) % 3 == 0)
			ops[n].vl /= 16;
		for (size_t x = 0; x < ops[n].vl; x++)
			ops[n].val[x] = (uint8_t)rng_u64(s);
		n++;
	}
	sort_ops(ops, n);
	abort_it = rng_u64(s) % 10 == 0;
	e = ekv_wtx_begin(d->db, &tx);
	if (e < 0) {
		tap_fail("step %d: ekv_wtx_begin: %s", st->steps, ekv_strerror(e));
		return -1;
	}
	model_copy(&next, m);
	for (uint32_t j = 0; j < n && e == 0; j++)
		e = model_wtx_apply(tx, &next, ops[j].del, ops[j].key, ops[j].kl, ops[j].val,
				    ops[j].vl);
	if (e == EKV_ENOSPC) {
		st->full++;
		ekv_wtx_abort(tx);
		model_free(&next);
		return 0;
	}
	if (e != 0) {
		tap_fail("step %d: put/delete: %s", st->steps, ekv_strerror(e));
		ekv_wtx_abort(tx);
		model_free(&next);
		return -1;
	}
	if (abort_it) {
		ekv_wtx_abort(tx);
		model_free(&next);
		st->aborts++;
		return 0;
	}
	e = ekv_wtx_commit(tx);
	if (e != 0) {
		tap_fail("step %d: commit: %s", st->steps, ekv_strerror(e));
		model_free(&next);
		return -1;
	}
	model_free(m);
	*m = next;
	st->commits++;
	return 0;
}

/* A range cursor from a random live key to the end, against the model. */
static int spot_check_range(struct devdb *d, const struct model *m, uint64_t *s,
			    struct model_stats *st)
{
	uint8_t *k = malloc(d->p.max_key_size + 1), *v = malloc(d->p.max_value_size + 1);
	const struct kv *lo = &m->a[rng_u64(s) % m->n];
	size_t idx = (size_t)(lo - m->a), kl, vl;
	ekv_cursor *c = NULL;
	ekv_rtx *rt = NULL;
	int e, rc = -1;

	e = ekv_rtx_begin(d->db, &rt);
	if (e == 0)
		e = ekv_cursor_open(rt, lo->k, lo->kl, NULL, 0, &c);
	if (e < 0) {
		tap_fail("step %d: range cursor: %s", st->steps, ekv_strerror(e));
		goto out;
	}
	while ((e = ekv_cursor_next(c, k, d->p.max_key_size, &kl, v, d->p.max_value_size, &vl)) ==
	       1) {
		if (idx >= m->n || bkey_cmp(k, kl, m->a[idx].k, m->a[idx].kl) ||
		    bkey_cmp(v, vl, m->a[idx].v, m->a[idx].vl)) {
			tap_fail("step %d: range cursor entry %zu differs from the model", st->steps,
				 idx);
			goto out;
		}
		idx++;
	}
	if (e < 0 || idx != m->n) {
		tap_fail("step %d: range cursor ended at %zu of %zu: %s", st->steps, idx, m->n,
			 e < 0 ? ekv_strerror(e) : "early");
		goto out;
	}
	rc = 0;
out:
	if (c)
		ekv_cursor_close(c);
	if (rt)
		ekv_rtx_end(rt);
	free(k);
	free(v);
	return rc;
}

static void test_model(uint64_t seed, int steps)
{
	struct model_stats st = { 0 };
	struct model m = { 0 };
	struct ekv_options o;
	struct op *ops = calloc(8, sizeof *ops);
	struct devdb d;
	uint64_t s = seed;
	uint32_t pool, dbseed = (uint32_t)seed | 1, avg_rec;
	uint64_t capacity;
	double t0 = now_ms();
	char why[600];
	int e;

	tap_begin();
	ekv_options_default(&o);
	o.seed = dbseed;
	o.seed_set = true;
	if (ops == NULL || devdb_open(&d, g_dev, 0, &o, why, sizeof why) < 0) {
		tap_fail("open: %s", ops ? why : "out of memory");
		tap_end("model-open-format");
		free(ops);
		return;
	}
	e = ekv_format(d.db);
	CHECK(e == 0, "ekv_format: %s", ekv_strerror(e));
	printf("# model profile: page_size %u page_count %u max_page_count %u (others default)\n",
	       d.p.page_size, d.p.page_count, d.p.max_page_count);
	tap_end("model-open-format");
	if (e != 0) {
		devdb_close(&d);
		free(ops);
		return;
	}

	/* a key pool small enough that overwrites and deletes are common; sizes
	 * keep the live data around a third of the flash (as in test_model.c) */
	pool = 40 + (uint32_t)(rng_u64(&s) % 200);
	capacity = (uint64_t)d.p.page_size * d.p.page_count / 4;
	avg_rec = 4 + d.p.max_key_size / 2 + d.p.max_value_size / 4;
	if ((uint64_t)pool * avg_rec > capacity)
		pool = (uint32_t)(capacity / avg_rec) + 1;

	tap_begin();
	for (st.steps = 0; st.steps < steps && !tap_failed(); st.steps++) {
		uint32_t r = (uint32_t)(rng_u64(&s) % 100);

		if (r < 4) {
			remount(&d, &m, &dbseed, &st);
			continue;
		}
		if (r < 6) {
			if (model_check(d.db, &m, &d.p, why, sizeof why) < 0)
				tap_fail("check at step %d: %s", st.steps, why);
			st.checks++;
			continue;
		}
		if (r < 8) {
			e = ekv_compact(d.db);
			CHECK(e >= 0, "step %d: ekv_compact: %s", st.steps, ekv_strerror(e));
			st.compactions++;
			continue;
		}
		if (random_tx(&d, &m, &s, pool, r, ops, &st) < 0)
			break;
		if (st.steps % 97 == 0 && m.n)
			spot_check_range(&d, &m, &s, &st);
	}
	if (!tap_failed() && model_check(d.db, &m, &d.p, why, sizeof why) < 0)
		tap_fail("final check: %s", why);
	if (!tap_failed())
		remount(&d, &m, &dbseed, &st);
	printf("# model: %d steps, %d commits, %d aborts, %d full, %d remounts, %d checks, "
	       "%d compactions, %zu keys live, pool %u, %.1f s\n",
	       st.steps, st.commits, st.aborts, st.full, st.remounts, st.checks, st.compactions,
	       m.n, pool, (now_ms() - t0) / 1e3);
	CHECK(st.remounts >= steps / 100, "only %d remounts in %d steps", st.remounts, steps);
	tap_end("model-random-transactions-with-remounts");
	devdb_close(&d);

	/* the same contents through a read-only opening (as ekvctl get/list do) */
	tap_begin();
	if (devdb_open(&d, g_dev, EKV_MTD_RDONLY, NULL, why, sizeof why) < 0)
		tap_fail("read-only open: %s", why);
	else if (model_check(d.db, &m, &d.p, why, sizeof why) < 0)
		tap_fail("read-only: %s", why);
	devdb_close(&d);
	tap_end("model-read-only-open-matches");

	model_free(&m);
	free(ops);
}

/* ---- a full device ---------------------------------------------------------------- */

/*
 * Fill the device with 1000-byte values, 8 keys per transaction, until
 * EKV_ENOSPC; every acknowledged transaction must survive a remount and a
 * read-only opening, the failed one must have left nothing.  Then one small
 * overwrite and one delete (either may be refused while full, like the
 * crate; reported) and the contents checked again.
 */
static void test_fill(void)
{
	struct model m = { 0 };
	struct devdb d;
	uint8_t val[1000];
	char why[600], key[32];
	int e = 0, txs = 0, keys = 0;
	double t0 = now_ms();
	uint32_t seed = 77;

	tap_begin();
	if (devdb_open(&d, g_dev, 0, NULL, why, sizeof why) < 0) {
		tap_fail("open: %s", why);
		tap_end("fill-to-enospc-keeps-acknowledged-data");
		return;
	}
	e = ekv_format(d.db);
	CHECK(e == 0, "ekv_format: %s", ekv_strerror(e));
	while (e == 0 && !tap_failed()) {
		struct model next;
		ekv_wtx *tx;

		e = ekv_wtx_begin(d.db, &tx);
		if (e < 0)
			break;
		model_copy(&next, &m);
		for (int j = 0; j < 8 && e == 0; j++) {
			int id = txs * 8 + j;

			snprintf(key, sizeof key, "fill/%06d", id);
			for (size_t x = 0; x < sizeof val; x++)
				val[x] = (uint8_t)(id * 131 + x * 7);
			e = ekv_wtx_put(tx, key, strlen(key), val, sizeof val);
			model_put(&next, (uint8_t *)key, strlen(key), val, sizeof val);
		}
		if (e == 0)
			e = ekv_wtx_commit(tx);
		else
			ekv_wtx_abort(tx);
		if (e == 0) {
			model_free(&m);
			m = next;
			txs++;
			keys += 8;
		} else {
			model_free(&next);
		}
	}
	CHECK(e == EKV_ENOSPC, "filling ended with %s after %d transactions, want EKV_ENOSPC",
	      ekv_strerror(e), txs);
	if (!tap_failed() && model_check(d.db, &m, &d.p, why, sizeof why) < 0)
		tap_fail("full, before a remount: %s", why);
	if (!tap_failed())
		remount(&d, &m, &seed, &(struct model_stats){ 0 });
	printf("# fill: %d transactions, %d keys of 1000 bytes (%d KiB, device %u KiB) before "
	       "EKV_ENOSPC, %.1f s\n",
	       txs, keys, keys * 1000 / 1024, d.p.page_size / 1024 * d.p.page_count,
	       (now_ms() - t0) / 1e3);
	CHECK(keys * 1000ull > (uint64_t)d.p.page_size * d.p.page_count / 3,
	      "only %d keys of 1000 bytes fit", keys);
	if (!tap_failed()) {
		int put, del;

		put = devdb_put(&d, "fill/000000", "small");
		if (put == 0)
			model_put(&m, (uint8_t *)"fill/000000", 11, (uint8_t *)"small", 5);
		del = devdb_put(&d, "fill/000001", NULL);
		if (del == 0)
			model_del(&m, (uint8_t *)"fill/000001", 11);
		printf("# full database: a small overwrite gives %s, a delete %s\n",
		       ekv_strerror(put), ekv_strerror(del));
		CHECK((put == 0 || put == EKV_ENOSPC) && (del == 0 || del == EKV_ENOSPC),
		      "overwrite: %s, delete: %s", ekv_strerror(put), ekv_strerror(del));
		if (!tap_failed())
			remount(&d, &m, &seed, &(struct model_stats){ 0 });
	}
	devdb_close(&d);
	if (!tap_failed()) {
		if (devdb_open(&d, g_dev, EKV_MTD_RDONLY, NULL, why, sizeof why) < 0)
			tap_fail("read-only open: %s", why);
		else if (model_check(d.db, &m, &d.p, why, sizeof why) < 0)
			tap_fail("read-only: %s", why);
		devdb_close(&d);
	}
	tap_end("fill-to-enospc-keeps-acknowledged-data");
	model_free(&m);
}

static int wait_rc(pid_t pid)
{
	int status = 0;

	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---- several processes with long-lived handles -------------------------------------- */

#define MP_PROCS 3
#define MP_ITERS 40
#define MP_VAL 600

/* Published by each child after its commit k returns: k + 1. */
struct mp_shared {
	volatile uint32_t committed[MP_PROCS];
	volatile uint32_t mounted; /* start barrier: children that have mounted */
};

static void mp_value(int who, int k, uint8_t *v)
{
	for (int x = 0; x < MP_VAL; x++)
		v[x] = (uint8_t)(who * 61 + k * 13 + x);
}

/*
 * Child who: one handle for its whole life.  Iteration k: one transaction
 * (its own key p/WHO/K and a shared hot key), then a scan through the same
 * handle that must show every key any process had acknowledged before the
 * scan began (read from shared memory), with the right values.
 */
static void mp_child(int who, struct mp_shared *sh)
{
	uint8_t v[MP_VAL], got[MP_VAL + 1], key[64];
	struct ekv_options o;
	struct devdb d;
	char why[600], k1[32], hot[32];
	int e;

	ekv_options_default(&o);
	o.busy_timeout_ms = 60000;
	if (devdb_open(&d, g_dev, 0, &o, why, sizeof why) < 0) {
		fprintf(stderr, "child %d: %s\n", who, why);
		_exit(2);
	}
	e = ekv_mount(d.db);
	if (e < 0) {
		fprintf(stderr, "child %d: ekv_mount: %s\n", who, ekv_strerror(e));
		_exit(2);
	}
	/* all mount first, then they take turns at random */
	__atomic_add_fetch(&sh->mounted, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&sh->mounted, __ATOMIC_SEQ_CST) < MP_PROCS)
		sleep_ms(1);
	for (int k = 0; k < MP_ITERS; k++) {
		sleep_ms((who * 7 + k * 3) % 4);
		uint32_t seen[MP_PROCS], count[MP_PROCS] = { 0 };
		ekv_cursor *c;
		ekv_rtx *r;
		ekv_wtx *tx = NULL;
		size_t kl, vl;

		snprintf(k1, sizeof k1, "p/%d/%03d", who, k);
		snprintf(hot, sizeof hot, "z/hot/%d", k % 5);
		mp_value(who, k, v);
		e = ekv_wtx_begin(d.db, &tx);
		if (e == 0)
			e = ekv_wtx_put(tx, k1, strlen(k1), v, sizeof v);
		if (e == 0)
			e = ekv_wtx_put(tx, hot, strlen(hot), v, sizeof v / 2);
		if (e == 0)
			e = ekv_wtx_commit(tx);
		else if (tx)
			ekv_wtx_abort(tx);
		if (e < 0) {
			fprintf(stderr, "child %d iteration %d: %s\n", who, k, ekv_strerror(e));
			_exit(3);
		}
		__atomic_store_n(&sh->committed[who], (uint32_t)k + 1, __ATOMIC_SEQ_CST);
		for (int j = 0; j < MP_PROCS; j++)
			seen[j] = __atomic_load_n(&sh->committed[j], __ATOMIC_SEQ_CST);
		e = ekv_rtx_begin(d.db, &r);
		if (e == 0) {
			e = ekv_cursor_open_prefix(r, "p/", 2, &c);
			while (e == 0 && (e = ekv_cursor_next(c, key, sizeof key - 1, &kl, got,
							      sizeof got, &vl)) == 1) {
				int pw, pk;

				key[kl] = 0;
				e = 0;
				if (sscanf((char *)key, "p/%d/%d", &pw, &pk) != 2 || pw < 0 ||
				    pw >= MP_PROCS || pk != (int)count[pw]) {
					fprintf(stderr, "child %d: unexpected key %s\n", who, key);
					_exit(4);
				}
				mp_value(pw, pk, v);
				if (vl != MP_VAL || memcmp(got, v, MP_VAL) != 0) {
					fprintf(stderr, "child %d: wrong value of %s\n", who, key);
					_exit(4);
				}
				count[pw]++;
			}
			ekv_cursor_close(c);
			ekv_rtx_end(r);
		}
		if (e < 0) {
			fprintf(stderr, "child %d iteration %d: scan: %s\n", who, k, ekv_strerror(e));
			_exit(3);
		}
		for (int j = 0; j < MP_PROCS; j++)
			if (count[j] < seen[j]) {
				fprintf(stderr,
					"child %d iteration %d: a stale read: %u keys of process %d, "
					"which had acknowledged %u before the scan\n",
					who, k, count[j], j, seen[j]);
				_exit(5);
			}
	}
	devdb_close(&d);
	_exit(0);
}

static void test_multiprocess(void)
{
	struct mp_shared *sh;
	struct model m = { 0 };
	struct devdb d;
	pid_t pids[MP_PROCS];
	uint8_t v[MP_VAL];
	char why[600], key[32];
	double t0 = now_ms();
	int e;

	tap_begin();
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		tap_fail("mmap: %s", strerror(errno));
		tap_end("multiprocess-long-lived-handles");
		return;
	}
	memset((void *)sh, 0, sizeof *sh);
	if (devdb_open(&d, g_dev, 0, NULL, why, sizeof why) < 0) {
		tap_fail("open: %s", why);
	} else {
		e = ekv_format(d.db);
		CHECK(e == 0, "ekv_format: %s", ekv_strerror(e));
		devdb_close(&d);
	}
	for (int i = 0; i < MP_PROCS; i++) {
		pids[i] = -1;
		if (tap_failed())
			continue;
		fflush(stdout);
		pids[i] = fork();
		if (pids[i] == 0)
			mp_child(i, sh);
		if (pids[i] < 0)
			tap_fail("fork: %s", strerror(errno));
	}
	for (int i = 0; i < MP_PROCS; i++) {
		int rc;

		if (pids[i] <= 0)
			continue;
		rc = wait_rc(pids[i]);
		CHECK(rc == 0, "process %d exited %d (see its message above)", i, rc);
	}
	/* everything every process wrote, through a fresh handle */
	for (int i = 0; i < MP_PROCS; i++)
		for (int k = 0; k < MP_ITERS; k++) {
			snprintf(key, sizeof key, "p/%d/%03d", i, k);
			mp_value(i, k, v);
			model_put(&m, (uint8_t *)key, strlen(key), v, sizeof v);
		}
	if (!tap_failed()) {
		if (devdb_open(&d, g_dev, EKV_MTD_RDONLY, NULL, why, sizeof why) < 0) {
			tap_fail("open: %s", why);
		} else {
			ekv_cursor *c;
			ekv_rtx *r;

			/* the hot keys' last values depend on the interleaving: take
			 * them from the database (there must be 5), check the rest */
			e = ekv_rtx_begin(d.db, &r);
			if (e == 0) {
				uint8_t kb[64], vb[MP_VAL];
				size_t kl, vl;
				int n = 0;

				e = ekv_cursor_open_prefix(r, "z/hot/", 6, &c);
				while (e == 0 && (e = ekv_cursor_next(c, kb, sizeof kb, &kl, vb,
								      sizeof vb, &vl)) == 1) {
					model_put(&m, kb, kl, vb, vl);
					e = 0;
					n++;
				}
				ekv_cursor_close(c);
				ekv_rtx_end(r);
				CHECK(e == 0 && n == 5, "hot keys: %d (%s)", n, ekv_strerror(e));
			}
			if (!tap_failed() && model_check(d.db, &m, &d.p, why, sizeof why) < 0)
				tap_fail("afterwards: %s", why);
			devdb_close(&d);
		}
	}
	printf("# multiprocess: %d processes x %d transactions with long-lived handles, %.1f s\n",
	       MP_PROCS, MP_ITERS, (now_ms() - t0) / 1e3);
	tap_end("multiprocess-long-lived-handles-see-each-others-commits");
	munmap((void *)sh, sizeof *sh);
	model_free(&m);
}

/* ---- busy ------------------------------------------------------------------------ */

/* Wait for one byte on fd (timeout_ms); returns it, or -1. */
static int read_byte(int fd, int timeout_ms)
{
	struct pollfd pf = { .fd = fd, .events = POLLIN };
	char c;

	if (poll(&pf, 1, timeout_ms) <= 0)
		return -1;
	return read(fd, &c, 1) == 1 ? (unsigned char)c : -1;
}

/*
 * The holder: its own flash and database (never the parent's: the lock is
 * flock() on the flash object's fd), ekv_wtx_begin, "R" to the parent, then
 * wait for "c" (put holder=1 and commit) or anything else (abort).
 */
static void holder_main(int ready_fd, int go_fd)
{
	struct devdb d;
	char why[600];
	ekv_wtx *tx;
	int e, c;

	if (devdb_open(&d, g_dev, 0, NULL, why, sizeof why) < 0) {
		fprintf(stderr, "holder: %s\n", why);
		_exit(2);
	}
	e = ekv_wtx_begin(d.db, &tx);
	if (e < 0) {
		fprintf(stderr, "holder: ekv_wtx_begin: %s\n", ekv_strerror(e));
		_exit(2);
	}
	if (write(ready_fd, "R", 1) != 1)
		_exit(2);
	c = read_byte(go_fd, 60000);
	if (c == 'c') {
		e = ekv_wtx_put(tx, "holder", 6, "1", 1);
		if (e == 0)
			e = ekv_wtx_commit(tx);
		else
			ekv_wtx_abort(tx);
		if (e < 0) {
			fprintf(stderr, "holder: put/commit: %s\n", ekv_strerror(e));
			_exit(3);
		}
	} else {
		ekv_wtx_abort(tx);
	}
	devdb_close(&d);
	_exit(0);
}

static pid_t spawn(char *const argv[])
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static void test_busy(void)
{
	struct model m = { 0 };
	struct devdb d, stale;
	struct ekv_options o;
	int ready[2] = { -1, -1 }, go[2] = { -1, -1 }, e, rc;
	uint8_t *before = NULL, *after = NULL;
	size_t nb = 0, na = 0;
	pid_t holder = -1, waiter = -1;
	char why[600], out[600], buf[64], key[16];
	ekv_wtx *tx;
	double t0;

	/* setup: a database with 20 keys in one transaction */
	tap_begin();
	if (devdb_open(&d, g_dev, 0, NULL, why, sizeof why) < 0) {
		tap_fail("open: %s", why);
		tap_end("busy-setup");
		return;
	}
	e = ekv_format(d.db);
	if (e == 0)
		e = ekv_wtx_begin(d.db, &tx);
	for (int i = 0; i < 20 && e == 0; i++) {
		snprintf(key, sizeof key, "base/%02d", i);
		snprintf(buf, sizeof buf, "value-%d", i * i);
		e = ekv_wtx_put(tx, key, strlen(key), buf, strlen(buf));
		model_put(&m, (uint8_t *)key, strlen(key), (uint8_t *)buf, strlen(buf));
	}
	if (e == 0)
		e = ekv_wtx_commit(tx);
	CHECK(e == 0, "format/fill: %s", ekv_strerror(e));
	devdb_close(&d);
	/* a handle mounted before the other processes write (checked at the end) */
	if (devdb_open(&stale, g_dev, 0, NULL, why, sizeof why) < 0)
		tap_fail("open: %s", why);
	else if ((e = devdb_get(&stale, "base/00", buf, sizeof buf)) != 0)
		tap_fail("get base/00: %s", ekv_strerror(e));
	if (pipe(ready) < 0 || pipe(go) < 0)
		tap_fail("pipe: %s", strerror(errno));
	if (!tap_failed()) {
		fflush(stdout);
		holder = fork();
		if (holder == 0) {
			close(ready[0]);
			close(go[1]);
			holder_main(ready[1], go[0]);
		}
		close(ready[1]);
		close(go[0]);
		ready[1] = go[0] = -1;
		if (holder < 0 || read_byte(ready[0], 30000) != 'R')
			tap_fail("the holder did not begin its write transaction");
	}
	tap_end("busy-setup-holder-has-wtx");
	if (holder < 0)
		goto out;
	before = dev_read_all(g_dev, &nb);

	/* the library: a second process's ekv_wtx_begin */
	tap_begin();
	ekv_options_default(&o);
	o.busy_timeout_ms = 0;
	if (devdb_open(&d, g_dev, 0, &o, why, sizeof why) < 0) {
		tap_fail("open: %s", why);
	} else {
		t0 = now_ms();
		e = ekv_wtx_begin(d.db, &tx);
		if (e == 0)
			ekv_wtx_abort(tx);
		CHECK(e == EKV_EBUSY, "busy_timeout_ms 0: ekv_wtx_begin = %d (%s), want EKV_EBUSY", e,
		      ekv_strerror(e));
		CHECK(now_ms() - t0 < 2000, "busy_timeout_ms 0 took %.0f ms", now_ms() - t0);
		devdb_close(&d);
	}
	tap_end("busy-library-wtx-begin-ebusy-at-once");

	tap_begin();
	o.busy_timeout_ms = 300;
	if (devdb_open(&d, g_dev, 0, &o, why, sizeof why) < 0) {
		tap_fail("open: %s", why);
	} else {
		t0 = now_ms();
		e = ekv_wtx_begin(d.db, &tx);
		if (e == 0)
			ekv_wtx_abort(tx);
		double ms = now_ms() - t0;
		CHECK(e == EKV_EBUSY, "busy_timeout_ms 300: ekv_wtx_begin = %d (%s)", e,
		      ekv_strerror(e));
		CHECK(ms >= 250 && ms < 5000, "busy_timeout_ms 300 gave up after %.0f ms", ms);
		devdb_close(&d);
	}
	tap_end("busy-library-wtx-begin-ebusy-after-timeout");

	/* ekvctl: exit 5 and nothing written */
	if (g_ekvctl) {
		char *put[] = { (char *)g_ekvctl, "--device", (char *)g_dev, "put", "k", "v", NULL };
		char *del[] = { (char *)g_ekvctl, "--device", (char *)g_dev, "delete", "base/00",
				NULL };
		char *get[] = { (char *)g_ekvctl, "--device", (char *)g_dev, "get", "base/01", NULL };

		tap_begin();
		rc = run_cmd(put, out, sizeof out);
		CHECK(rc == 5, "ekvctl put exited %d, want 5: %s", rc, out);
		printf("# ekvctl put while held: exit %d: %s\n", rc, out);
		tap_end("busy-ekvctl-put-exits-5");
		tap_begin();
		rc = run_cmd(del, out, sizeof out);
		CHECK(rc == 5, "ekvctl delete exited %d, want 5: %s", rc, out);
		tap_end("busy-ekvctl-delete-exits-5");
		rc = run_cmd(get, out, sizeof out);
		printf("# (information) ekvctl get while a writer holds the device: exit %d: %s\n",
		       rc, out);
	} else {
		tap_skip("busy-ekvctl-*", "no ekvctl in the guest");
	}
	tap_begin();
	after = dev_read_all(g_dev, &na);
	if (before == NULL || after == NULL || na != nb) {
		tap_fail("cannot read %s", g_dev);
	} else if (memcmp(before, after, nb) != 0) {
		size_t i = 0;

		while (before[i] == after[i])
			i++;
		tap_fail("the device changed at offset %zu (page %zu) while another process held "
			 "the write transaction",
			 i, i / stale.p.page_size);
	}
	tap_end("busy-nothing-written");

	/* ekvctl --wait gets through once the holder commits */
	if (g_ekvctl) {
		char *wput[] = { (char *)g_ekvctl, "--device", (char *)g_dev, "--wait=60", "put", "w",
				 "1", NULL };

		tap_begin();
		waiter = spawn(wput);
		sleep_ms(300);
		CHECK(waitpid(waiter, &rc, WNOHANG) == 0,
		      "ekvctl --wait put did not wait for the holder");
	}
	if (write(go[1], "c", 1) != 1)
		tap_fail("cannot signal the holder");
	rc = wait_rc(holder);
	holder = -1;
	CHECK(rc == 0, "the holder exited %d", rc);
	model_put(&m, (const uint8_t *)"holder", 6, (const uint8_t *)"1", 1);
	if (waiter > 0) {
		rc = wait_rc(waiter);
		waiter = -1;
		CHECK(rc == 0, "ekvctl --wait=60 put w 1 exited %d after the holder committed", rc);
		model_put(&m, (const uint8_t *)"w", 1, (const uint8_t *)"1", 1);
		tap_end("busy-ekvctl-wait-succeeds-after-release");
	}

	/* afterwards: k absent, everything else intact, through a fresh handle */
	tap_begin();
	if (devdb_open(&d, g_dev, EKV_MTD_RDONLY, NULL, why, sizeof why) < 0) {
		tap_fail("open: %s", why);
	} else {
		e = devdb_get(&d, "k", buf, sizeof buf);
		CHECK(e == EKV_ENOTFOUND, "k: %s (value '%s')", ekv_strerror(e), e ? "" : buf);
		if (model_check(d.db, &m, &d.p, why, sizeof why) < 0)
			tap_fail("%s", why);
		devdb_close(&d);
	}
	if (g_ekvctl) {
		char *getk[] = { (char *)g_ekvctl, "--device", (char *)g_dev, "get", "k", NULL };

		rc = run_cmd(getk, out, sizeof out);
		CHECK(rc == 1, "ekvctl get k exited %d, want 1 (not found): %s", rc, out);
	}
	tap_end("busy-afterwards-k-absent-db-intact");

	/* the handle mounted before: another process's commits are visible */
	tap_begin();
	e = devdb_get(&stale, "holder", buf, sizeof buf);
	CHECK(e == 0 && !strcmp(buf, "1"),
	      "a handle mounted before another process committed does not see the commit: "
	      "get holder = %s",
	      ekv_strerror(e));
	if (!tap_failed() && model_check(stale.db, &m, &stale.p, why, sizeof why) < 0)
		tap_fail("%s", why);
	tap_end("busy-earlier-handle-sees-other-processes-commits");

out:
	if (holder > 0) {
		kill(holder, SIGKILL);
		wait_rc(holder);
	}
	if (waiter > 0) {
		kill(waiter, SIGKILL);
		wait_rc(waiter);
	}
	for (int i = 0; i < 2; i++) {
		if (ready[i] >= 0)
			close(ready[i]);
		if (go[i] >= 0)
			close(go[i]);
	}
	devdb_close(&stale);
	free(before);
	free(after);
	model_free(&m);
}

int main(int argc, char **argv)
{
	const char *expect = getenv("EKV_MTD_EXPECT");
	const char *label = getenv("EKV_MTD_LABEL");
	uint64_t dflt = 0x6d6f64656cull;
	long steps;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 2) {
		fprintf(stderr, "usage: %s /dev/mtdN\n", argv[0]);
		return 2;
	}
	if (expect && strcmp(expect, "ok") != 0) {
		printf("# %s: EKV_MTD_EXPECT=%s: not a usable device, skipped\n", argv[1], expect);
		return 77;
	}
	g_dev = argv[1];
	g_ekvctl = getenv("EKVCTL");
	if (g_ekvctl && !*g_ekvctl)
		g_ekvctl = NULL;
	for (const char *c = label ? label : ""; *c; c++)
		dflt = dflt * 131 + (unsigned char)*c;
	steps = env_long("EKV_MTD_MODEL_STEPS", 1000);
	test_model(env_seed("EKV_MTD_MODEL_SEED", dflt), (int)steps);
	test_fill();
	test_multiprocess();
	test_busy();
	return tap_summary(g_dev);
}
