/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * test_file.c — files, seqs, skiplists, truncation and mount (lib/file.c),
 * driven through the file manager directly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "file.h"
#include "meta.h"
#include "testutil.h"

static void test_max_trailing_zeros_between_matches_brute_force(void **state)
{
	(void)state;
	for (uint32_t a = 0; a < 300; a++)
		for (uint32_t b = a + 1; b < 300; b++) {
			uint32_t best = 0;
			for (uint32_t x = a; x < b; x++) {
				uint32_t tz = x == 0 ? 32 : (uint32_t)__builtin_ctz(x);
				if (tz > best)
					best = tz;
			}
			assert_int_equal(max_trailing_zeros_between(a, b), best);
		}
}

struct fx {
	struct geom g;
	struct ekv_flash *f;
	struct file_manager m;
	struct page_reader pr;
};

static void fx_new(struct fx *x, uint32_t page_size, uint32_t pages)
{
	struct ekv_profile p;
	ekv_profile_default(&p);
	p.page_size = page_size;
	p.page_count = p.max_page_count = pages;
	p.max_value_size = 16;
	assert_int_equal(geom_init(&x->g, &p, NULL, 0), 0);
	assert_int_equal(ekv_flash_mem_new(page_size, pages, 0xff, &x->f), 0);
	ekv_flash_mem_set_strict(x->f, true);
	assert_int_equal(fm_init(&x->m, &x->g, x->f, 7), 0);
	assert_int_equal(fm_format(&x->m), 0);
	page_reader_init(&x->pr, &x->g, x->f, 0);
}

static void fx_free(struct fx *x)
{
	page_reader_free(&x->pr);
	fm_destroy(&x->m);
	ekv_flash_close(x->f);
}

/* append `len` bytes of pattern (byte = seq & 0xff) to file 3 in one commit,
 * with a record boundary every 10 bytes */
static void append(struct fx *x, uint32_t len)
{
	struct file_writer w;
	assert_int_equal(file_writer_open(&w, &x->m, &x->pr, 3), 0);
	uint32_t seq = w.seq + (w.writing ? w.w.total_len : 0);
	for (uint32_t i = 0; i < len; i++) {
		uint8_t b = (uint8_t)(seq + i);
		assert_int_equal(file_writer_write(&w, &x->m, &b, 1), 0);
		if ((seq + i + 1) % 10 == 0)
			file_writer_record_end(&w);
	}
	file_writer_record_end(&w);
	fm_tx_begin(&x->m);
	assert_int_equal(file_writer_commit(&w, &x->m), 0);
	assert_int_equal(fm_tx_commit(&x->m), 0);
	file_writer_free(&w);
}

static void check_contents(struct fx *x)
{
	const struct file_state *fs = &x->m.files[3];
	struct file_reader r;
	file_reader_init(&r, &x->g, x->f, fs, &x->pr);
	uint8_t buf[97];
	uint32_t seq = fs->first_seq;
	for (;;) {
		uint32_t n = fs->last_seq - seq < sizeof(buf) ? fs->last_seq - seq : sizeof(buf);
		if (n == 0)
			break;
		assert_int_equal(file_reader_read(&r, buf, n), 0);
		for (uint32_t i = 0; i < n; i++)
			assert_int_equal(buf[i], (uint8_t)(seq + i));
		seq += n;
	}
	assert_int_equal(file_reader_read(&r, buf, 1), FILE_EOF);
	/* seeks land on the right byte from anywhere */
	for (uint32_t s = fs->first_seq; s < fs->last_seq; s += 37) {
		file_reader_init(&r, &x->g, x->f, fs, &x->pr);
		assert_int_equal(file_reader_seek_seq(&r, s), 0);
		assert_int_equal(file_reader_read(&r, buf, 1), 0);
		assert_int_equal(buf[0], (uint8_t)s);
	}
}

static void test_long_file_reads_back_after_appends_truncates_and_remounts(void **state)
{
	(void)state;
	struct fx x;
	fx_new(&x, 256, 128);
	for (int round = 0; round < 30; round++) {
		append(&x, 200 + round * 13);
		check_contents(&x);
		if (round % 4 == 3) {
			uint32_t len = x.m.files[3].last_seq - x.m.files[3].first_seq;
			fm_tx_begin(&x.m);
			assert_int_equal(fm_truncate(&x.m, 3, len / 2), 0);
			assert_int_equal(fm_tx_commit(&x.m), 0);
			check_contents(&x);
		}
		if (round % 5 == 4) {
			struct file_state before = x.m.files[3];
			uint32_t used = x.m.alloc.used;
			assert_int_equal(fm_mount(&x.m), 0);
			assert_int_equal(x.m.files[3].first_seq, before.first_seq);
			assert_int_equal(x.m.files[3].last_seq, before.last_seq);
			assert_int_equal(x.m.alloc.used, used);
			check_contents(&x);
		}
	}
	fx_free(&x);
}

static void test_truncated_pages_stay_allocated_until_the_commit(void **state)
{
	(void)state;
	struct fx x;
	fx_new(&x, 256, 64);
	append(&x, 2000);
	uint32_t used = x.m.alloc.used;
	uint32_t len = x.m.files[3].last_seq - x.m.files[3].first_seq;
	fm_tx_begin(&x.m);
	assert_int_equal(fm_truncate(&x.m, 3, len - 10), 0);
	/* hole B: not reusable before the meta append is durable */
	assert_int_equal(x.m.alloc.used, used);
	assert_int_equal(fm_tx_commit(&x.m), 0);
	assert_true(x.m.alloc.used < used);
	fx_free(&x);
}

static void test_searcher_finds_record_boundaries_in_long_file(void **state)
{
	(void)state;
	struct fx x;
	fx_new(&x, 256, 128);
	append(&x, 5000);
	const struct file_state *fs = &x.m.files[3];
	struct file_searcher s;
	file_reader_init(&s.r, &x.g, x.f, fs, &x.pr);
	int ok = file_searcher_start(&s);
	int steps = 0;
	/* walk towards seq 3333: every probe position is a record boundary */
	while (ok > 0 && steps < 64) {
		assert_int_equal(s.curr_mid % 10, 0);
		ok = file_searcher_seek(&s, s.curr_mid < 3333);
		steps++;
	}
	assert_true(ok == 0);
	assert_true(steps < 20);
	uint32_t at = file_reader_curr_seq(&s.r);
	assert_true(at <= 3333);
	assert_true(3333 - at < 2 * x.g.payload_max + 10);
	fx_free(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_max_trailing_zeros_between_matches_brute_force),
		cmocka_unit_test(test_long_file_reads_back_after_appends_truncates_and_remounts),
		cmocka_unit_test(test_truncated_pages_stay_allocated_until_the_commit),
		cmocka_unit_test(test_searcher_finds_record_boundaries_in_long_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
