/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * test_concurrency.c — one writer and many readers on one handle from
 * different threads: every read transaction and cursor sees one consistent
 * snapshot, commits never wait for readers, and snapshots survive
 * compactions that free the pages they read.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#define NKEYS 12
#define ROUNDS 400

struct shared {
	ekv_db *db;
	volatile int done;
	volatile int started; /* readers that began their first transaction */
	int errors;
	long reads;
	pthread_mutex_t lock;
};

static void writer_round(ekv_db *db, int round)
{
	ekv_wtx *tx;
	assert_int_equal(ekv_wtx_begin(db, &tx), 0);
	char k[16], v[64];
	snprintf(v, sizeof(v), "round-%06d-%s", round, "padding-padding-padding");
	for (int i = 0; i < NKEYS; i++) {
		snprintf(k, sizeof(k), "key%02d", i);
		assert_int_equal(ekv_wtx_put(tx, k, strlen(k), v, strlen(v)), 0);
	}
	assert_int_equal(ekv_wtx_commit(tx), 0);
}

static void *reader(void *arg)
{
	struct shared *sh = arg;
	long reads = 0;
	int errors = 0;
	__atomic_add_fetch(&sh->started, 1, __ATOMIC_SEQ_CST);
	while (!sh->done) {
		ekv_rtx *r;
		if (ekv_rtx_begin(sh->db, &r) != 0) {
			errors++;
			continue;
		}
		char first[64] = "", v[64], k[16];
		size_t n;
		/* point reads, slowly, so that commits and compactions happen
		 * in between: all must come from the same snapshot */
		for (int i = 0; i < NKEYS; i++) {
			snprintf(k, sizeof(k), "key%02d", i);
			if (ekv_rtx_get(r, k, strlen(k), v, sizeof(v) - 1, &n) != 0) {
				errors++;
				break;
			}
			v[n] = 0;
			if (i == 0)
				strcpy(first, v);
			else if (strcmp(first, v))
				errors++;
			reads++;
		}
		ekv_cursor *c;
		if (ekv_cursor_open(r, NULL, 0, NULL, 0, &c) == 0) {
			int cnt = 0, e;
			size_t kl, vl;
			while ((e = ekv_cursor_next(c, k, sizeof(k), &kl, v, sizeof(v) - 1, &vl)) ==
			       1) {
				v[vl] = 0;
				if (strcmp(first, v))
					errors++;
				cnt++;
			}
			if (e != 0 || cnt != NKEYS)
				errors++;
			ekv_cursor_close(c);
		} else {
			errors++;
		}
		ekv_rtx_end(r);
	}
	pthread_mutex_lock(&sh->lock);
	sh->errors += errors;
	sh->reads += reads;
	pthread_mutex_unlock(&sh->lock);
	return NULL;
}

static void test_readers_see_consistent_snapshots_while_writer_commits(void **state)
{
	(void)state;
	struct tdb t;
	tdb_new(&t, NULL, 42);
	writer_round(t.db, 0);
	struct shared sh = {.db = t.db};
	pthread_mutex_init(&sh.lock, NULL);
	pthread_t th[6];
	for (int i = 0; i < 6; i++)
		pthread_create(&th[i], NULL, reader, &sh);
	/* on a loaded machine the commits could all be done before a reader
	 * runs at all: let them start (bounded) */
	for (int i = 0; i < 500 && __atomic_load_n(&sh.started, __ATOMIC_SEQ_CST) < 6; i++)
		usleep(10000);
	for (int r = 1; r <= ROUNDS; r++) {
		writer_round(t.db, r);
		if (r % 50 == 0)
			ekv_compact(t.db);
	}
	sh.done = 1;
	for (int i = 0; i < 6; i++)
		pthread_join(th[i], NULL);
	printf("  %ld point reads by 6 readers during %d commits, %d errors\n", sh.reads, ROUNDS,
	       sh.errors);
	assert_int_equal(sh.errors, 0);
	assert_true(sh.reads > 0);
	tdb_free(&t);
}

static void test_cursor_survives_commits_and_compactions_that_free_its_pages(void **state)
{
	(void)state;
	struct tdb t;
	tdb_new(&t, NULL, 43);
	char k[16], v[128];
	memset(v, 'a', sizeof(v));
	for (int i = 0; i < 300; i++) {
		snprintf(k, sizeof(k), "k%04d", i);
		assert_int_equal(tdb_put(&t, k, "original-value"), 0);
	}
	ekv_rtx *r;
	ekv_cursor *c;
	assert_int_equal(ekv_rtx_begin(t.db, &r), 0);
	assert_int_equal(ekv_cursor_open(r, NULL, 0, NULL, 0, &c), 0);
	ekv_rtx_end(r); /* the cursor keeps its own snapshot */
	size_t kl, vl;
	for (int i = 0; i < 10; i++)
		assert_int_equal(ekv_cursor_next(c, k, sizeof(k), &kl, v, sizeof(v), &vl), 1);
	/* rewrite and delete everything, compact repeatedly: the pages the
	 * cursor reads are freed in the working state but stay pinned */
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 300; i += 23) {
			snprintf(k, sizeof(k), "k%04d", i);
			assert_int_equal(round == 2 ? tdb_del(&t, k) : tdb_put(&t, k, "changed"), 0);
		}
		while (ekv_compact(t.db) == 1)
			;
	}
	int n = 10, e;
	while ((e = ekv_cursor_next(c, k, sizeof(k), &kl, v, sizeof(v), &vl)) == 1) {
		assert_int_equal(vl, strlen("original-value"));
		assert_memory_equal(v, "original-value", vl);
		n++;
	}
	assert_int_equal(e, 0);
	assert_int_equal(n, 300);
	ekv_cursor_close(c);
	struct ekv_stat st;
	assert_int_equal(ekv_stat(t.db, &st), 0);
	assert_int_equal(st.pages_pinned, 0);
	tdb_free(&t);
}

static void test_writer_waits_for_pinned_pages_then_reports_busy(void **state)
{
	(void)state;
	struct ekv_profile p;
	ekv_profile_default(&p);
	p.layout = 1; /* the Rust crate's layout */
	p.page_size = 256;
	p.page_count = p.max_page_count = 32;
	p.max_value_size = 64;
	p.scratch_page_count = 0;
	struct tdb t;
	tdb_new(&t, &p, 44);
	ekv_close(t.db);
	t.o.busy_timeout_ms = 50;
	assert_int_equal(ekv_open(t.flash, &t.p, &t.o, &t.db), 0);
	char k[16], v[65];
	memset(v, 'x', 64);
	v[64] = 0;
	for (int i = 0; i < 12; i++) {
		snprintf(k, sizeof(k), "k%02d", i);
		assert_int_equal(tdb_put(&t, k, v), 0);
	}
	ekv_rtx *r;
	assert_int_equal(ekv_rtx_begin(t.db, &r), 0);
	/* overwrite everything again and again while the snapshot pins the old
	 * pages: eventually the writer needs them */
	int e = 0;
	for (int round = 0; round < 50 && e == 0; round++)
		for (int i = 0; i < 12 && e == 0; i++) {
			snprintf(k, sizeof(k), "k%02d", i);
			e = tdb_put(&t, k, v);
		}
	assert_true(e == EKV_EBUSY || e == EKV_ENOSPC);
	/* the snapshot still reads its data */
	size_t n;
	char buf[65];
	assert_int_equal(ekv_rtx_get(r, "k00", 3, buf, sizeof(buf), &n), 0);
	ekv_rtx_end(r);
	/* released: writing works again, nothing acknowledged was lost */
	for (int i = 0; i < 12; i++) {
		snprintf(k, sizeof(k), "k%02d", i);
		assert_int_equal(tdb_put(&t, k, "after"), 0);
	}
	tdb_reopen(&t);
	assert_string_equal(tdb_get(&t, "k05"), "after");
	tdb_free(&t);
}

static void put_kv(ekv_db *db, const char *k, const char *v)
{
	ekv_wtx *tx;
	assert_int_equal(ekv_wtx_begin(db, &tx), 0);
	assert_int_equal(ekv_wtx_put(tx, k, strlen(k), v, strlen(v)), 0);
	assert_int_equal(ekv_wtx_commit(tx), 0);
}

static void expect_kv(ekv_db *db, const char *k, const char *v)
{
	ekv_rtx *r;
	char buf[256];
	size_t n;
	assert_int_equal(ekv_rtx_begin(db, &r), 0);
	assert_int_equal(ekv_rtx_get(r, k, strlen(k), buf, sizeof(buf), &n), 0);
	ekv_rtx_end(r);
	assert_int_equal(n, strlen(v));
	assert_memory_equal(buf, v, n);
}

/* Two handles on one image behave like two processes: each sees the other's
 * commits, and a writer never works from a stale state. */
static void test_second_process_commits_are_seen_and_never_overwritten(void **state)
{
	(void)state;
	char path[] = "/tmp/ekv-test-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	struct ekv_profile p;
	ekv_profile_default(&p);
	p.layout = 1; /* the Rust crate's layout */
	p.page_size = 256;
	p.page_count = p.max_page_count = 64;
	p.max_value_size = 64;
	struct ekv_flash *fa, *fb;
	assert_int_equal(ekv_flash_file_open(path, p.page_size, p.page_count, 0xff,
					     EKV_FILE_CREATE | EKV_FILE_STRICT, &fa), 0);
	assert_int_equal(ekv_flash_file_open(path, p.page_size, p.page_count, 0xff,
					     EKV_FILE_STRICT, &fb), 0);
	struct ekv_options o;
	ekv_options_default(&o);
	o.busy_timeout_ms = 0;
	ekv_db *a, *b;
	assert_int_equal(ekv_open(fa, &p, &o, &a), 0);
	assert_int_equal(ekv_open(fb, &p, &o, &b), 0);
	assert_int_equal(ekv_format(a), 0);
	char k[16], v[64];
	for (int round = 0; round < 60; round++) {
		ekv_db *w = round % 3 ? a : b, *r = round % 3 ? b : a;
		for (int i = 0; i < 5; i++) {
			snprintf(k, sizeof(k), "k%d", i);
			snprintf(v, sizeof(v), "round %d by %s", round, w == a ? "a" : "b");
			put_kv(w, k, v);
		}
		for (int i = 0; i < 5; i++) {
			snprintf(k, sizeof(k), "k%d", i);
			expect_kv(r, k, v);
			expect_kv(w, k, v);
		}
	}
	/* a writer holding the database makes the other one busy, at once */
	ekv_wtx *tx, *tx2;
	assert_int_equal(ekv_wtx_begin(a, &tx), 0);
	assert_int_equal(ekv_wtx_begin(b, &tx2), EKV_EBUSY);
	ekv_wtx_abort(tx);
	ekv_close(a);
	ekv_close(b);
	ekv_flash_close(fa);
	ekv_flash_close(fb);
	unlink(path);
}

struct rewriter {
	ekv_db *db;
	int commits, errors;
};

/* Rewrite every key many times, compacting: pages an old snapshot reads
 * are freed and written again, unless the process lock stops it. */
static void *rewrite_all(void *arg)
{
	struct rewriter *rw = arg;
	char k[16], v[64];
	for (int round = 1; round <= 30; round++) {
		ekv_wtx *tx;
		int e = ekv_wtx_begin(rw->db, &tx);
		for (int i = 0; i < 10 && e == 0; i++) {
			snprintf(k, sizeof(k), "k%d", i);
			snprintf(v, sizeof(v), "round %d, a value long enough to fill pages", round);
			e = ekv_wtx_put(tx, k, strlen(k), v, strlen(v));
		}
		e = e == 0 ? ekv_wtx_commit(tx) : (ekv_wtx_abort(tx), e);
		if (e == 0)
			e = ekv_compact(rw->db) < 0;
		rw->commits += e == 0;
		rw->errors += e != 0;
	}
	return NULL;
}

struct releaser {
	ekv_rtx *rtx;
	int after_ms;
};

static void *release_later(void *arg)
{
	struct releaser *rl = arg;
	usleep((useconds_t)rl->after_ms * 1000);
	ekv_rtx_end(rl->rtx);
	return NULL;
}

/*
 * A handle with an open snapshot tries to write while a reader in another
 * "process" holds the shared lock and a writer there waits for the
 * exclusive one; the reader leaves during the attempt.  flock converts by
 * dropping the shared lock first: without the writer-intent lock the
 * waiting writer got in during the attempt and rewrote the pages the
 * snapshot was reading (an ekvd reader got other commits' values or
 * EKV_ECORRUPT).  Run many times, as the race is timing-dependent.
 */
static void test_failed_lock_conversion_keeps_snapshots_isolated(void **state)
{
	(void)state;
	const struct ekv_profile p = {.page_size = 256, .page_count = 64, .max_page_count = 64,
				      .align = 4, .erase_value = 0xff, .max_chunk_size = 4096,
				      .branching_factor = 2, .max_key_size = 64, .max_value_size = 64,
				      .scratch_page_count = 4};
	char k[16], v[64];
	size_t n;
	int busy = 0;
	for (int iter = 0; iter < 12; iter++) {
		char path[] = "/tmp/ekv-test-XXXXXX";
		int fd = mkstemp(path);
		assert_true(fd >= 0);
		close(fd);
		unlink(path);
		struct ekv_flash *fa, *fb, *fc;
		assert_int_equal(ekv_flash_file_open(path, p.page_size, p.page_count, 0xff,
						     EKV_FILE_CREATE, &fa), 0);
		assert_int_equal(ekv_flash_file_open(path, p.page_size, p.page_count, 0xff, 0, &fb),
				 0);
		assert_int_equal(ekv_flash_file_open(path, p.page_size, p.page_count, 0xff, 0, &fc),
				 0);
		struct ekv_options oa, ob, oc;
		ekv_options_default(&oa);
		oa.busy_timeout_ms = 150;
		ob = oa;
		oc = oa;
		oc.busy_timeout_ms = -1;
		ekv_db *a, *b, *c;
		assert_int_equal(ekv_open(fa, &p, &oa, &a), 0);
		assert_int_equal(ekv_open(fb, &p, &ob, &b), 0);
		assert_int_equal(ekv_open(fc, &p, &oc, &c), 0);
		assert_int_equal(ekv_format(a), 0);
		for (int i = 0; i < 10; i++) {
			snprintf(k, sizeof(k), "k%d", i);
			put_kv(a, k, "the value every reader of this snapshot must see");
		}
		ekv_rtx *ra, *rb;
		assert_int_equal(ekv_rtx_begin(a, &ra), 0);
		assert_int_equal(ekv_rtx_begin(b, &rb), 0);
		struct rewriter rw = {.db = c};
		struct releaser rl = {.rtx = rb, .after_ms = 40 + 10 * (iter % 5)};
		pthread_t tw, tr;
		pthread_create(&tw, NULL, rewrite_all, &rw);
		usleep(10000); /* the writer is waiting for the lock */
		pthread_create(&tr, NULL, release_later, &rl);
		ekv_wtx *tx;
		int e = ekv_wtx_begin(a, &tx);
		if (e == 0)
			ekv_wtx_abort(tx);
		else
			busy++;
		/* whatever the attempt did, the snapshot still reads its state */
		for (int pass = 0; pass < 3; pass++) {
			for (int i = 0; i < 10; i++) {
				snprintf(k, sizeof(k), "k%d", i);
				assert_int_equal(ekv_rtx_get(ra, k, strlen(k), v, sizeof(v), &n), 0);
				assert_int_equal(n, strlen("the value every reader of this snapshot "
							   "must see"));
				assert_memory_equal(v, "the value every", 15);
			}
			usleep(20000);
		}
		ekv_rtx_end(ra);
		pthread_join(tr, NULL);
		pthread_join(tw, NULL);
		assert_int_equal(rw.errors, 0);
		assert_int_equal(rw.commits, 30);
		ekv_close(a);
		ekv_close(b);
		ekv_close(c);
		ekv_flash_close(fa);
		ekv_flash_close(fb);
		ekv_flash_close(fc);
		unlink(path);
	}
	print_message("  %d of 12 write attempts of the snapshot holder timed out\n", busy);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_readers_see_consistent_snapshots_while_writer_commits),
		cmocka_unit_test(test_cursor_survives_commits_and_compactions_that_free_its_pages),
		cmocka_unit_test(test_writer_waits_for_pinned_pages_then_reports_busy),
		cmocka_unit_test(test_second_process_commits_are_seen_and_never_overwritten),
		cmocka_unit_test(test_failed_lock_conversion_keeps_snapshots_isolated),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
