/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* test_cursor.c — ordered iteration (lib/cursor.c): the merge of every file
 * of a snapshot in key order, the newest file winning, tombstones hiding
 * older values, range and prefix bounds (prefixes ending in 0xff bytes),
 * and EKV_ERANGE that leaves the cursor where it was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

/* one write transaction of sorted (key, value) pairs; value NULL: delete */
struct op {
	const char *k;
	size_t kl;
	const char *v;
};
#define PUT(k, v) {k, sizeof(k) - 1, v}
#define DEL(k) {k, sizeof(k) - 1, NULL}

static void commit(struct tdb *t, const struct op *ops, size_t n)
{
	ekv_wtx *tx;
	assert_int_equal(ekv_wtx_begin(t->db, &tx), 0);
	for (size_t i = 0; i < n; i++) {
		if (ops[i].v)
			assert_int_equal(ekv_wtx_put(tx, ops[i].k, ops[i].kl, ops[i].v,
						     strlen(ops[i].v)), 0);
		else
			assert_int_equal(ekv_wtx_delete(tx, ops[i].k, ops[i].kl), 0);
	}
	assert_int_equal(ekv_wtx_commit(tx), 0);
}

/* Every pair the cursor yields as "key=value;" with bytes outside
 * printable ASCII as \xHH. */
static void scan(ekv_cursor *c, char *out, size_t cap)
{
	uint8_t k[1024], v[1024];
	size_t kl, vl, o = 0;
	int e;
	out[0] = 0;
	while ((e = ekv_cursor_next(c, k, sizeof(k), &kl, v, sizeof(v), &vl)) == 1) {
		for (size_t i = 0; i < kl + vl + 1; i++) {
			uint8_t b = i < kl ? k[i] : i == kl ? '=' : v[i - kl - 1];
			if (b >= 0x20 && b < 0x7f)
				o += (size_t)snprintf(out + o, cap - o, "%c", b);
			else
				o += (size_t)snprintf(out + o, cap - o, "\\x%02x", b);
		}
		o += (size_t)snprintf(out + o, cap - o, ";");
		assert_true(o < cap);
	}
	assert_int_equal(e, 0);
	/* the end is sticky */
	assert_int_equal(ekv_cursor_next(c, k, sizeof(k), &kl, v, sizeof(v), &vl), 0);
}

/* The scan of [start, end) (NULL: unbounded) or, with is_prefix, of the keys
 * starting with start must be `want`. */
static void expect(struct tdb *t, bool is_prefix, const char *start, size_t sl,
		   const char *end, size_t el, const char *want)
{
	ekv_rtx *r;
	ekv_cursor *c;
	char out[1024];
	assert_int_equal(ekv_rtx_begin(t->db, &r), 0);
	if (is_prefix)
		assert_int_equal(ekv_cursor_open_prefix(r, start, sl, &c), 0);
	else
		assert_int_equal(ekv_cursor_open(r, start, sl, end, el, &c), 0);
	scan(c, out, sizeof(out));
	ekv_cursor_close(c);
	ekv_rtx_end(r);
	assert_string_equal(out, want);
}

static int setup(void **state)
{
	static uint32_t seed = 11;
	struct tdb *t = malloc(sizeof(*t));
	if (!t)
		return -1;
	tdb_new(t, NULL, seed++);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	tdb_free(*state);
	free(*state);
	return 0;
}

/* Files holding data (each write transaction makes a new one until
 * compaction merges them). */
static uint32_t files_in_use(struct tdb *t)
{
	struct ekv_stat st;
	uint32_t n = 0;
	assert_int_equal(ekv_stat(t->db, &st), 0);
	for (uint32_t i = 0; i < st.file_count; i++)
		n += st.file_bytes[i] != 0;
	return n;
}

static void test_merge_yields_key_order_across_files_newest_value_wins(void **state)
{
	struct tdb *t = *state;
	/* three files, keys interleaved between them */
	commit(t, (struct op[]){PUT("b", "1"), PUT("e", "1"), PUT("h", "1")}, 3);
	commit(t, (struct op[]){PUT("a", "2"), PUT("e", "2"), PUT("i", "2")}, 3);
	commit(t, (struct op[]){PUT("c", "3"), PUT("e", "3"), PUT("h", "3")}, 3);
	assert_true(files_in_use(t) >= 2);
	expect(t, false, NULL, 0, NULL, 0, "a=2;b=1;c=3;e=3;h=3;i=2;");
	/* a prefix of another key sorts first; bytes compare unsigned */
	commit(t, (struct op[]){PUT("c\x00", "4"), PUT("cc", "4"), PUT("c\x80", "4")}, 3);
	expect(t, false, "c", 1, "d", 1, "c=3;c\\x00=4;cc=4;c\\x80=4;");
}

static void test_tombstones_hide_older_values_and_are_never_yielded(void **state)
{
	struct tdb *t = *state;
	commit(t, (struct op[]){PUT("a", "1"), PUT("b", "1"), PUT("c", "1"), PUT("d", "1")}, 4);
	commit(t, (struct op[]){DEL("a"), DEL("c"), DEL("x")}, 3);
	expect(t, false, NULL, 0, NULL, 0, "b=1;d=1;");
	/* put again after the delete: the newest file decides */
	commit(t, (struct op[]){PUT("c", "2")}, 1);
	expect(t, false, NULL, 0, NULL, 0, "b=1;c=2;d=1;");
	/* a tombstone newer than the put hides it again, also at a range start */
	commit(t, (struct op[]){DEL("b"), DEL("c")}, 2);
	expect(t, false, "b", 1, NULL, 0, "d=1;");
	/* everything deleted: an empty scan, whatever the files still hold */
	commit(t, (struct op[]){DEL("d")}, 1);
	expect(t, false, NULL, 0, NULL, 0, "");
	/* and after compaction merged the files (tombstones dropped at the top) */
	for (int i = 0; i < 100 && ekv_compact(t->db) == 1; i++)
		;
	expect(t, false, NULL, 0, NULL, 0, "");
}

static void test_ranges_are_half_open(void **state)
{
	struct tdb *t = *state;
	commit(t, (struct op[]){PUT("a", "1"), PUT("b", "1"), PUT("c", "1")}, 3);
	commit(t, (struct op[]){PUT("bb", "2"), PUT("d", "2")}, 2);
	expect(t, false, "b", 1, "c", 1, "b=1;bb=2;");
	expect(t, false, "ba", 2, "d", 1, "bb=2;c=1;");
	expect(t, false, "c", 1, "c", 1, "");
	expect(t, false, "z", 1, NULL, 0, "");
	expect(t, false, NULL, 0, "a", 1, "");
	/* an empty end key is below every key */
	expect(t, false, NULL, 0, "", 0, "");
}

static void test_prefix_ends_past_trailing_0xff_bytes(void **state)
{
	struct tdb *t = *state;
	commit(t, (struct op[]){PUT("a", "1"), PUT("a\xff", "1"), PUT("a\xff\x00", "1"),
				 PUT("a\xff\xff", "1"), PUT("b", "1")}, 5);
	commit(t, (struct op[]){PUT("\xff", "2"), PUT("\xff\x01", "2"), PUT("\xff\xff", "2"),
				 PUT("\xff\xff\xff", "2")}, 4);
	/* "a\xff" ends at "b" (the last byte carries into the one before it) */
	expect(t, true, "a\xff", 2, NULL, 0, "a\\xff=1;a\\xff\\x00=1;a\\xff\\xff=1;");
	expect(t, true, "a", 1, NULL, 0, "a=1;a\\xff=1;a\\xff\\x00=1;a\\xff\\xff=1;");
	/* all 0xff: no key is above every key with this prefix, so no end */
	expect(t, true, "\xff\xff", 2, NULL, 0, "\\xff\\xff=2;\\xff\\xff\\xff=2;");
	expect(t, true, "\xff", 1, NULL, 0, "\\xff=2;\\xff\\x01=2;\\xff\\xff=2;\\xff\\xff\\xff=2;");
	/* the empty prefix: everything */
	expect(t, true, "", 0, NULL, 0,
	       "a=1;a\\xff=1;a\\xff\\x00=1;a\\xff\\xff=1;b=1;"
	       "\\xff=2;\\xff\\x01=2;\\xff\\xff=2;\\xff\\xff\\xff=2;");
}

static void test_prefix_of_the_largest_key_size(void **state)
{
	struct tdb *t = *state;
	char key[64];
	memset(key, 0xff, sizeof(key));
	commit(t, (struct op[]){{key, sizeof(key), "max"}}, 1);
	ekv_rtx *r;
	ekv_cursor *c;
	assert_int_equal(ekv_rtx_begin(t->db, &r), 0);
	assert_int_equal(ekv_cursor_open_prefix(r, key, sizeof(key), &c), 0);
	uint8_t k[64], v[8];
	size_t kl, vl;
	assert_int_equal(ekv_cursor_next(c, k, sizeof(k), &kl, v, sizeof(v), &vl), 1);
	assert_int_equal(kl, 64);
	assert_int_equal(ekv_cursor_next(c, k, sizeof(k), &kl, v, sizeof(v), &vl), 0);
	ekv_cursor_close(c);
	/* one byte more than a key can have */
	char longer[65];
	memset(longer, 'x', sizeof(longer));
	assert_int_equal(ekv_cursor_open_prefix(r, longer, sizeof(longer), &c), EKV_ETOOBIG);
	ekv_rtx_end(r);
}

static void test_erange_reports_lengths_and_does_not_advance(void **state)
{
	struct tdb *t = *state;
	commit(t, (struct op[]){PUT("key1", "value-one"), PUT("key2", "v2")}, 2);
	commit(t, (struct op[]){PUT("key1", "value-1")}, 1);
	ekv_rtx *r;
	ekv_cursor *c;
	assert_int_equal(ekv_rtx_begin(t->db, &r), 0);
	assert_int_equal(ekv_cursor_open(r, NULL, 0, NULL, 0, &c), 0);
	char k[16], v[16];
	size_t kl = 0, vl = 0;
	/* key buffer too small */
	assert_int_equal(ekv_cursor_next(c, k, 3, &kl, v, sizeof(v), &vl), EKV_ERANGE);
	assert_int_equal(kl, 4);
	assert_int_equal(vl, 7);
	/* value buffer too small, the same pair again */
	kl = vl = 0;
	assert_int_equal(ekv_cursor_next(c, k, sizeof(k), &kl, v, 6, &vl), EKV_ERANGE);
	assert_int_equal(kl, 4);
	assert_int_equal(vl, 7);
	/* exactly large enough: the first pair, then the second */
	assert_int_equal(ekv_cursor_next(c, k, 4, &kl, v, 7, &vl), 1);
	assert_memory_equal(k, "key1", 4);
	assert_memory_equal(v, "value-1", 7);
	assert_int_equal(ekv_cursor_next(c, k, sizeof(k), &kl, v, sizeof(v), &vl), 1);
	assert_memory_equal(k, "key2", 4);
	assert_int_equal(vl, 2);
	assert_int_equal(ekv_cursor_next(c, k, sizeof(k), &kl, v, sizeof(v), &vl), 0);
	ekv_cursor_close(c);
	ekv_rtx_end(r);
}

static void test_cursor_keeps_its_snapshot_across_commits_and_compaction(void **state)
{
	struct tdb *t = *state;
	char key[16], val[16];
	for (int i = 0; i < 40; i++) {
		snprintf(key, sizeof(key), "k%03d", i);
		assert_int_equal(tdb_put(t, key, "old"), 0);
	}
	ekv_rtx *r;
	ekv_cursor *c;
	assert_int_equal(ekv_rtx_begin(t->db, &r), 0);
	assert_int_equal(ekv_cursor_open(r, NULL, 0, NULL, 0, &c), 0);
	ekv_rtx_end(r); /* the cursor outlives its read transaction */
	uint8_t k[16], v[16];
	size_t kl, vl;
	assert_int_equal(ekv_cursor_next(c, k, sizeof(k), &kl, v, sizeof(v), &vl), 1);
	/* rewrite and delete everything, and compact, while the cursor is open */
	for (int i = 0; i < 40; i++) {
		snprintf(key, sizeof(key), "k%03d", i);
		snprintf(val, sizeof(val), "new%d", i);
		assert_int_equal(i % 2 ? tdb_del(t, key) : tdb_put(t, key, val), 0);
	}
	for (int i = 0; i < 100 && ekv_compact(t->db) == 1; i++)
		;
	int n = 1;
	while (ekv_cursor_next(c, k, sizeof(k), &kl, v, sizeof(v), &vl) == 1) {
		snprintf(key, sizeof(key), "k%03d", n);
		assert_int_equal(kl, 4);
		assert_memory_equal(k, key, 4);
		assert_int_equal(vl, 3);
		assert_memory_equal(v, "old", 3);
		n++;
	}
	assert_int_equal(n, 40);
	ekv_cursor_close(c);
	assert_string_equal(tdb_get(t, "k002"), "new2");
	assert_null(tdb_get(t, "k003"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_merge_yields_key_order_across_files_newest_value_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tombstones_hide_older_values_and_are_never_yielded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ranges_are_half_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prefix_ends_past_trailing_0xff_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prefix_of_the_largest_key_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_erange_reports_lengths_and_does_not_advance, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cursor_keeps_its_snapshot_across_commits_and_compaction, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
