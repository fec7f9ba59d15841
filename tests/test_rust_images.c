/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * test_rust_images.c — interoperability with the Rust ekv crate: images it
 * wrote read back identical to their .expected listings; replaying its
 * workload scripts here gives the same contents, and with the crate's meta
 * log policy the same bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

static char *list_hex(ekv_db *db, const struct ekv_profile *p)
{
	size_t cap = 1 << 20, len = 0;
	char *out = malloc(cap);
	uint8_t *k = malloc(p->max_key_size), *v = malloc(p->max_value_size);
	char *hk = malloc(2 * p->max_key_size + 2), *hv = malloc(2 * p->max_value_size + 2);
	ekv_rtx *r;
	ekv_cursor *c;
	assert_int_equal(ekv_rtx_begin(db, &r), 0);
	assert_int_equal(ekv_cursor_open(r, NULL, 0, NULL, 0, &c), 0);
	for (;;) {
		size_t kl, vl;
		int e = ekv_cursor_next(c, k, p->max_key_size, &kl, v, p->max_value_size, &vl);
		assert_true(e >= 0);
		if (e == 0)
			break;
		hex_encode(k, kl, hk);
		hex_encode(v, vl, hv);
		size_t need = strlen(hk) + strlen(hv) + 3;
		if (len + need >= cap) {
			cap *= 2;
			out = realloc(out, cap);
		}
		len += (size_t)sprintf(out + len, "%s %s\n", hk, hv);
	}
	out[len] = 0;
	ekv_cursor_close(c);
	ekv_rtx_end(r);
	free(k);
	free(v);
	free(hk);
	free(hv);
	return out;
}

static void check_image(const char *name)
{
	char bin[256], exp[256];
	snprintf(bin, sizeof(bin), "%s.bin", name);
	snprintf(exp, sizeof(exp), "%s.bin.expected", name);
	size_t n, en;
	uint8_t *img = read_file(testdata_path(bin), &n);
	char *want = (char *)read_file(testdata_path(exp), &en);
	assert_non_null(img);
	assert_non_null(want);
	struct ekv_profile p;
	ekv_profile_default(&p);
	p.layout = 1; /* the Rust crate's layout */
	assert_int_equal(n, (size_t)p.page_size * p.page_count);
	struct ekv_flash *f;
	assert_int_equal(ekv_flash_mem_new(p.page_size, p.page_count, 0xff, &f), 0);
	memcpy(ekv_flash_mem_data(f), img, n);
	ekv_db *db;
	assert_int_equal(ekv_open(f, &p, NULL, &db), 0);
	char *got = list_hex(db, &p);
	assert_string_equal(got, want);
	free(got);
	ekv_close(db);
	ekv_flash_close(f);
	free(img);
	free(want);
}

static void test_small_image_lists_expected(void **state)
{
	(void)state;
	check_image("small");
}

static void test_medium_image_lists_expected(void **state)
{
	(void)state;
	check_image("medium");
}

/* Apply a .script (w/d/begin/commit, hex, '-' = empty) to db. */
static void replay(ekv_db *db, const char *name)
{
	size_t n;
	char *s = (char *)read_file(testdata_path(name), &n);
	assert_non_null(s);
	ekv_wtx *tx = NULL;
	bool block = false;
	static uint8_t k[2048], v[70000];
	for (char *line = strtok(s, "\n"); line; line = strtok(NULL, "\n")) {
		char w0[16], w1[2100], w2[140000];
		int f = sscanf(line, "%15s %2099s %139999s", w0, w1, w2);
		if (f < 1 || w0[0] == '#')
			continue;
		if (!strcmp(w0, "begin")) {
			assert_int_equal(ekv_wtx_begin(db, &tx), 0);
			block = true;
			continue;
		}
		if (!strcmp(w0, "commit")) {
			assert_int_equal(ekv_wtx_commit(tx), 0);
			block = false;
			continue;
		}
		size_t kl, vl = 0;
		assert_true(hex_decode(w1, k, &kl));
		if (!block)
			assert_int_equal(ekv_wtx_begin(db, &tx), 0);
		if (!strcmp(w0, "w")) {
			assert_true(hex_decode(w2, v, &vl));
			assert_int_equal(ekv_wtx_put(tx, k, kl, v, vl), 0);
		} else {
			assert_int_equal(ekv_wtx_delete(tx, k, kl), 0);
		}
		if (!block)
			assert_int_equal(ekv_wtx_commit(tx), 0);
	}
	free(s);
}

static void check_replay(const char *name, bool rust_log)
{
	char script[256], exp[256], bin[256];
	snprintf(script, sizeof(script), "%s.script", name);
	snprintf(exp, sizeof(exp), "%s.bin.expected", name);
	snprintf(bin, sizeof(bin), "%s.bin", name);
	struct ekv_profile p;
	ekv_profile_default(&p);
	p.layout = 1; /* the Rust crate's layout */
	struct ekv_flash *f;
	assert_int_equal(ekv_flash_mem_new(p.page_size, p.page_count, 0xff, &f), 0);
	ekv_flash_mem_set_strict(f, true);
	struct ekv_options o;
	ekv_options_default(&o);
	o.seed = 0x12345678;
	o.seed_set = true;
	o.rust_meta_log = rust_log;
	ekv_db *db;
	assert_int_equal(ekv_open(f, &p, &o, &db), 0);
	assert_int_equal(ekv_format(db), 0);
	replay(db, script);
	size_t en;
	char *want = (char *)read_file(testdata_path(exp), &en);
	char *got = list_hex(db, &p);
	assert_string_equal(got, want);
	free(got);
	free(want);
	if (rust_log) {
		size_t n;
		uint8_t *img = read_file(testdata_path(bin), &n);
		const uint8_t *mine = ekv_flash_mem_data(f);
		size_t diff = 0, first = n;
		for (size_t i = 0; i < n; i++)
			if (img[i] != mine[i]) {
				if (first == n)
					first = i;
				diff++;
			}
		if (diff)
			printf("%s: %zu bytes differ, first at page %zu offset %zu\n", name, diff,
			       first / p.page_size, first % p.page_size);
		assert_int_equal(diff, 0);
		free(img);
	}
	ekv_close(db);
	ekv_flash_close(f);
}

static void test_replay_small_script_gives_expected(void **state)
{
	(void)state;
	check_replay("small", false);
}

static void test_replay_medium_script_gives_expected(void **state)
{
	(void)state;
	check_replay("medium", false);
}

static void test_replay_small_with_crate_meta_log_is_byte_identical(void **state)
{
	(void)state;
	check_replay("small", true);
}

static void test_replay_medium_with_crate_meta_log_is_byte_identical(void **state)
{
	(void)state;
	check_replay("medium", true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_image_lists_expected),
		cmocka_unit_test(test_medium_image_lists_expected),
		cmocka_unit_test(test_replay_small_script_gives_expected),
		cmocka_unit_test(test_replay_medium_script_gives_expected),
		cmocka_unit_test(test_replay_small_with_crate_meta_log_is_byte_identical),
		cmocka_unit_test(test_replay_medium_with_crate_meta_log_is_byte_identical),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
