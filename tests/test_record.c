/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * test_record.c — the transaction and cursor API: semantics of puts,
 * deletes, aborts, errors, compaction and ranges.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

static void test_put_get_overwrite_delete(void **state)
{
	(void)state;
	struct tdb t;
	tdb_new(&t, NULL, 1);
	assert_null(tdb_get(&t, "a"));
	assert_int_equal(tdb_put(&t, "a", "1"), 0);
	assert_string_equal(tdb_get(&t, "a"), "1");
	assert_int_equal(tdb_put(&t, "a", "22"), 0);
	assert_string_equal(tdb_get(&t, "a"), "22");
	assert_int_equal(tdb_del(&t, "a"), 0);
	assert_null(tdb_get(&t, "a"));
	assert_int_equal(tdb_del(&t, "missing"), 0);
	tdb_free(&t);
}

static void test_empty_key_and_empty_value(void **state)
{
	(void)state;
	struct tdb t;
	tdb_new(&t, NULL, 2);
	assert_int_equal(tdb_put(&t, "", "empty-key"), 0);
	assert_int_equal(tdb_put(&t, "k", ""), 0);
	assert_string_equal(tdb_get(&t, ""), "empty-key");
	assert_string_equal(tdb_get(&t, "k"), "");
	for (int i = 0; i < 40; i++)
		assert_int_equal(ekv_compact(t.db) >= 0, 1);
	tdb_reopen(&t);
	assert_string_equal(tdb_get(&t, ""), "empty-key");
	assert_string_equal(tdb_get(&t, "k"), "");
	tdb_free(&t);
}

static void test_uncommitted_writes_are_invisible_and_abort_discards(void **state)
{
	(void)state;
	struct tdb t;
	tdb_new(&t, NULL, 3);
	ekv_wtx *tx;
	assert_int_equal(ekv_wtx_begin(t.db, &tx), 0);
	assert_int_equal(ekv_wtx_put(tx, "x", 1, "y", 1), 0);
	assert_null(tdb_get(&t, "x"));
	ekv_wtx_abort(tx);
	assert_null(tdb_get(&t, "x"));
	struct ekv_stat st;
	assert_int_equal(ekv_stat(t.db, &st), 0);
	assert_int_equal(st.pages_used, 1); /* only the meta page */
	tdb_reopen(&t);
	assert_null(tdb_get(&t, "x"));
	tdb_free(&t);
}

static void test_out_of_order_keys_are_refused_and_cancel(void **state)
{
	(void)state;
	struct tdb t;
	tdb_new(&t, NULL, 4);
	ekv_wtx *tx;
	assert_int_equal(ekv_wtx_begin(t.db, &tx), 0);
	assert_int_equal(ekv_wtx_put(tx, "b", 1, "1", 1), 0);
	assert_int_equal(ekv_wtx_put(tx, "a", 1, "1", 1), EKV_ENOTSORTED);
	assert_int_equal(ekv_wtx_put(tx, "c", 1, "1", 1), EKV_ECANCELED);
	assert_int_equal(ekv_wtx_commit(tx), EKV_ECANCELED);
	assert_null(tdb_get(&t, "b"));
	assert_int_equal(ekv_wtx_begin(t.db, &tx), 0);
	assert_int_equal(ekv_wtx_put(tx, "b", 1, "1", 1), 0);
	assert_int_equal(ekv_wtx_put(tx, "b", 1, "2", 1), EKV_ENOTSORTED);
	ekv_wtx_abort(tx);
	tdb_free(&t);
}

static void test_too_big_key_or_value_does_not_cancel(void **state)
{
	(void)state;
	struct tdb t;
	tdb_new(&t, NULL, 5);
	char big[2000];
	memset(big, 'x', sizeof(big));
	ekv_wtx *tx;
	assert_int_equal(ekv_wtx_begin(t.db, &tx), 0);
	assert_int_equal(ekv_wtx_put(tx, big, 65, "v", 1), EKV_ETOOBIG);
	assert_int_equal(ekv_wtx_put(tx, "k", 1, big, 1025), EKV_ETOOBIG);
	assert_int_equal(ekv_wtx_put(tx, big, 64, big, 1024), 0);
	assert_int_equal(ekv_wtx_commit(tx), 0);
	ekv_rtx *r;
	char v[2000];
	size_t n;
	assert_int_equal(ekv_rtx_begin(t.db, &r), 0);
	assert_int_equal(ekv_rtx_get(r, big, 64, v, 10, &n), EKV_ERANGE);
	assert_int_equal(n, 1024);
	assert_int_equal(ekv_rtx_get(r, big, 64, v, sizeof(v), &n), 0);
	assert_memory_equal(v, big, 1024);
	assert_int_equal(ekv_rtx_get(r, big, 65, v, sizeof(v), &n), EKV_ETOOBIG);
	ekv_rtx_end(r);
	tdb_free(&t);
}

static void test_unformatted_flash_reports_no_database(void **state)
{
	(void)state;
	struct ekv_profile p;
	ekv_profile_default(&p);
	struct ekv_flash *f;
	assert_int_equal(ekv_flash_mem_new(p.page_size, p.page_count, 0xff, &f), 0);
	ekv_db *db;
	assert_int_equal(ekv_open(f, &p, NULL, &db), 0);
	assert_int_equal(ekv_mount(db), EKV_ENOFMT);
	ekv_rtx *r;
	assert_int_equal(ekv_rtx_begin(db, &r), EKV_ENOFMT);
	ekv_wtx *tx;
	assert_int_equal(ekv_wtx_begin(db, &tx), 0);
	assert_int_equal(ekv_wtx_put(tx, "a", 1, "b", 1), EKV_ENOFMT);
	assert_int_equal(ekv_wtx_commit(tx), EKV_ECANCELED);
	ekv_close(db);
	ekv_flash_close(f);
}

static void test_read_only_handle_refuses_writes(void **state)
{
	(void)state;
	struct tdb t;
	tdb_new(&t, NULL, 6);
	assert_int_equal(tdb_put(&t, "a", "1"), 0);
	ekv_close(t.db);
	t.o.read_only = true;
	assert_int_equal(ekv_open(t.flash, &t.p, &t.o, &t.db), 0);
	ekv_wtx *tx;
	assert_int_equal(ekv_wtx_begin(t.db, &tx), EKV_EROFS);
	assert_int_equal(ekv_format(t.db), EKV_EROFS);
	assert_string_equal(tdb_get(&t, "a"), "1");
	tdb_free(&t);
}

static void test_impossible_profiles_are_rejected_with_a_reason(void **state)
{
	(void)state;
	struct ekv_profile p;
	char msg[256];
	ekv_profile_default(&p);
	p.align = 3;
	assert_int_equal(ekv_profile_check(&p, msg, sizeof(msg)), EKV_EINVAL);
	assert_non_null(strstr(msg, "align"));
	ekv_profile_default(&p);
	p.page_count = 10;
	assert_int_equal(ekv_profile_check(&p, msg, sizeof(msg)), EKV_EINVAL);
	assert_non_null(strstr(msg, "too few"));
	ekv_profile_default(&p);
	p.max_chunk_size = 128;
	assert_int_equal(ekv_profile_check(&p, msg, sizeof(msg)), EKV_EINVAL);
	ekv_profile_default(&p);
	p.page_size = 131072;
	assert_int_equal(ekv_profile_check(&p, msg, sizeof(msg)), EKV_EINVAL);
	ekv_profile_default(&p);
	p.page_count = 300;
	assert_int_equal(ekv_profile_check(&p, msg, sizeof(msg)), EKV_EINVAL);
	assert_non_null(strstr(msg, "max page count"));
}

static void test_geometry_matches_the_crate(void **state)
{
	(void)state;
	struct ekv_profile p;
	struct ekv_geometry g;
	ekv_profile_default(&p);
	assert_int_equal(ekv_profile_geometry(&p, &g), 0);
	assert_int_equal(g.data_header_size, 20);
	assert_int_equal(g.chunk_max_len, 4084);
	assert_int_equal(g.page_max_payload, 4064);
	assert_int_equal(g.skiplist_len, 6);
	assert_int_equal(g.skiplist_shift, 12);
	assert_int_equal(g.file_count, 17);
	assert_int_equal(g.record_header_size, 3);
	assert_int_equal(g.min_free_page_count, 9);
	p.crc = true;
	assert_int_equal(ekv_profile_geometry(&p, &g), 0);
	assert_int_equal(g.page_max_payload, 4056);
	p.crc = false;
	p.max_chunk_size = 512;
	assert_int_equal(ekv_profile_geometry(&p, &g), 0);
	assert_int_equal(g.page_max_payload, 4036);
	ekv_profile_default(&p);
	p.page_size = 256;
	p.page_count = p.max_page_count = 64;
	p.max_value_size = 128;
	p.align = 1;
	assert_int_equal(ekv_profile_geometry(&p, &g), 0);
	assert_int_equal(g.data_header_size, 16);
	assert_int_equal(g.chunk_max_len, 244);
	assert_int_equal(g.page_max_payload, 228);
	assert_int_equal(g.skiplist_len, 4);
	assert_int_equal(g.skiplist_shift, 8);
	assert_int_equal(g.file_count, 13);
	assert_int_equal(g.record_header_size, 2);
	assert_int_equal(g.min_free_page_count, 9);
}

static int collect(ekv_db *db, const char *start, const char *end, const char *prefix,
		   char *out)
{
	ekv_rtx *r;
	ekv_cursor *c;
	out[0] = 0;
	assert_int_equal(ekv_rtx_begin(db, &r), 0);
	if (prefix)
		assert_int_equal(ekv_cursor_open_prefix(r, prefix, strlen(prefix), &c), 0);
	else
		assert_int_equal(ekv_cursor_open(r, start, start ? strlen(start) : 0, end,
						 end ? strlen(end) : 0, &c), 0);
	char k[64], v[64];
	size_t kl, vl;
	int n = 0, e;
	while ((e = ekv_cursor_next(c, k, sizeof(k), &kl, v, sizeof(v), &vl)) == 1) {
		k[kl] = 0;
		strcat(out, k);
		strcat(out, ",");
		n++;
	}
	assert_int_equal(e, 0);
	ekv_cursor_close(c);
	ekv_rtx_end(r);
	return n;
}

static void test_cursor_ranges_prefixes_and_newest_wins(void **state)
{
	(void)state;
	struct tdb t;
	tdb_new(&t, NULL, 7);
	const char *keys[] = {"a", "ab", "abc", "b", "ba", "c"};
	for (int i = 0; i < 6; i++)
		assert_int_equal(tdb_put(&t, keys[i], "old"), 0);
	assert_int_equal(tdb_put(&t, "ab", "new"), 0);
	assert_int_equal(tdb_del(&t, "b"), 0);
	char out[256];
	assert_int_equal(collect(t.db, NULL, NULL, NULL, out), 5);
	assert_string_equal(out, "a,ab,abc,ba,c,");
	collect(t.db, "ab", "ba", NULL, out);
	assert_string_equal(out, "ab,abc,");
	collect(t.db, "aa", NULL, NULL, out);
	assert_string_equal(out, "ab,abc,ba,c,");
	collect(t.db, NULL, NULL, "ab", out);
	assert_string_equal(out, "ab,abc,");
	collect(t.db, NULL, NULL, "b", out);
	assert_string_equal(out, "ba,");
	collect(t.db, NULL, NULL, "", out);
	assert_string_equal(out, "a,ab,abc,ba,c,");
	assert_string_equal(tdb_get(&t, "ab"), "new");
	ekv_rtx *r;
	ekv_cursor *c;
	assert_int_equal(ekv_rtx_begin(t.db, &r), 0);
	assert_int_equal(ekv_cursor_open(r, NULL, 0, NULL, 0, &c), 0);
	char k[8], v[8];
	size_t kl, vl;
	assert_int_equal(ekv_cursor_next(c, k, 0, &kl, v, 0, &vl), EKV_ERANGE);
	assert_int_equal(kl, 1);
	assert_int_equal(ekv_cursor_next(c, k, sizeof(k), &kl, v, sizeof(v), &vl), 1);
	assert_memory_equal(k, "a", 1);
	ekv_cursor_close(c);
	ekv_rtx_end(r);
	tdb_free(&t);
}

static void test_compaction_removes_tombstones_and_frees_pages(void **state)
{
	(void)state;
	struct tdb t;
	tdb_new(&t, NULL, 8);
	char k[16];
	for (int i = 0; i < 200; i++) {
		snprintf(k, sizeof(k), "key%04d", i);
		assert_int_equal(tdb_put(&t, k, "value"), 0);
	}
	for (int i = 0; i < 200; i++) {
		snprintf(k, sizeof(k), "key%04d", i);
		assert_int_equal(tdb_del(&t, k), 0);
	}
	int steps = 0;
	while (ekv_compact(t.db) == 1 && steps < 1000)
		steps++;
	assert_true(steps < 1000);
	struct ekv_stat st;
	assert_int_equal(ekv_stat(t.db, &st), 0);
	assert_int_equal(st.pages_used, 1);
	char out[64];
	assert_int_equal(collect(t.db, NULL, NULL, NULL, out), 0);
	tdb_free(&t);
}

static void test_database_full_is_a_clean_error(void **state)
{
	(void)state;
	struct ekv_profile p;
	ekv_profile_default(&p);
	p.page_size = 256;
	p.page_count = p.max_page_count = 32;
	p.max_value_size = 128;
	p.scratch_page_count = 0;
	struct tdb t;
	tdb_new(&t, &p, 9);
	char k[16], v[129];
	memset(v, 'v', 128);
	v[128] = 0;
	int i, e = 0;
	for (i = 0; i < 1000; i++) {
		snprintf(k, sizeof(k), "k%05d", i);
		e = tdb_put(&t, k, v);
		if (e)
			break;
	}
	assert_int_equal(e, EKV_ENOSPC);
	/* everything acknowledged is still there, also after a remount (like
	 * the crate, a completely full database may refuse even deletes: the
	 * free-space reserve is kept for compaction) */
	tdb_reopen(&t);
	for (int j = 0; j < i; j++) {
		snprintf(k, sizeof(k), "k%05d", j);
		assert_non_null(tdb_get(&t, k));
	}
	e = tdb_put(&t, "k00000", "small");
	assert_true(e == 0 || e == EKV_ENOSPC);
	assert_string_equal(tdb_get(&t, "k00000"), e == 0 ? "small" : v);
	tdb_free(&t);
}

/* a caller's own backend: a plain ops table over a byte array */
struct my_flash {
	uint8_t bytes[64 * 256];
	int erases, writes;
};

static int my_read(void *ctx, uint32_t page, uint32_t off, void *buf, uint32_t len)
{
	struct my_flash *m = ctx;
	memcpy(buf, m->bytes + page * 256 + off, len);
	return 0;
}

static int my_write(void *ctx, uint32_t page, uint32_t off, const void *buf, uint32_t len)
{
	struct my_flash *m = ctx;
	const uint8_t *b = buf;
	for (uint32_t i = 0; i < len; i++) {
		if (m->bytes[page * 256 + off + i] != 0xff)
			return EKV_EIO; /* programmed twice: a bug in the caller of ops */
		m->bytes[page * 256 + off + i] = b[i];
	}
	m->writes++;
	return 0;
}

static int my_erase(void *ctx, uint32_t page)
{
	struct my_flash *m = ctx;
	memset(m->bytes + page * 256, 0xff, 256);
	m->erases++;
	return 0;
}

static void test_custom_flash_ops_table(void **state)
{
	(void)state;
	static const struct ekv_flash_ops ops = {.read = my_read, .write = my_write,
						 .erase = my_erase};
	struct my_flash *m = calloc(1, sizeof(*m));
	struct ekv_flash f = {.ops = &ops, .ctx = m, .page_size = 256, .page_count = 64,
			      .write_size = 1, .erase_value = 0xff};
	struct ekv_profile p;
	ekv_profile_default(&p);
	p.page_size = 256;
	p.page_count = p.max_page_count = 64;
	p.max_value_size = 64;
	ekv_db *db;
	assert_int_equal(ekv_open(&f, &p, NULL, &db), 0);
	assert_int_equal(ekv_format(db), 0);
	ekv_wtx *tx;
	assert_int_equal(ekv_wtx_begin(db, &tx), 0);
	assert_int_equal(ekv_wtx_put(tx, "k", 1, "v", 1), 0);
	assert_int_equal(ekv_wtx_commit(tx), 0);
	ekv_close(db);
	assert_int_equal(ekv_open(&f, &p, NULL, &db), 0);
	ekv_rtx *r;
	char v[8];
	size_t n;
	assert_int_equal(ekv_rtx_begin(db, &r), 0);
	assert_int_equal(ekv_rtx_get(r, "k", 1, v, sizeof(v), &n), 0);
	assert_int_equal(n, 1);
	ekv_rtx_end(r);
	ekv_close(db);
	assert_true(m->erases > 0 && m->writes > 0);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get_overwrite_delete),
		cmocka_unit_test(test_empty_key_and_empty_value),
		cmocka_unit_test(test_uncommitted_writes_are_invisible_and_abort_discards),
		cmocka_unit_test(test_out_of_order_keys_are_refused_and_cancel),
		cmocka_unit_test(test_too_big_key_or_value_does_not_cancel),
		cmocka_unit_test(test_unformatted_flash_reports_no_database),
		cmocka_unit_test(test_read_only_handle_refuses_writes),
		cmocka_unit_test(test_impossible_profiles_are_rejected_with_a_reason),
		cmocka_unit_test(test_geometry_matches_the_crate),
		cmocka_unit_test(test_cursor_ranges_prefixes_and_newest_wins),
		cmocka_unit_test(test_compaction_removes_tombstones_and_frees_pages),
		cmocka_unit_test(test_database_full_is_a_clean_error),
		cmocka_unit_test(test_custom_flash_ops_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
