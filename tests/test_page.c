/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* test_page.c — page headers, chunks, page reader and writer (lib/page.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "page.h"
#include "testutil.h"

struct fixture {
	struct geom g;
	struct ekv_flash *f;
};

static void setup_geom(struct fixture *x, uint32_t page_size, uint32_t chunk, bool crc,
		       uint32_t align)
{
	struct ekv_profile p;
	ekv_profile_default(&p);
	p.page_size = page_size;
	p.max_chunk_size = chunk;
	p.crc = crc;
	p.align = align;
	assert_int_equal(geom_init(&x->g, &p, NULL, 0), 0);
	assert_int_equal(ekv_flash_mem_new(page_size, p.page_count, 0xff, &x->f), 0);
	ekv_flash_mem_set_strict(x->f, true);
}

static void test_crc32_is_zlib_crc32(void **state)
{
	(void)state;
	assert_int_equal(ekv_crc32(0, "a", 1), 0xE8B7BE43u);
	assert_int_equal(ekv_crc32(0, "123456789", 9), 0xCBF43926u);
}

static void write_page(struct fixture *x, uint32_t page, const uint8_t *data, uint32_t len,
		       uint32_t step, bool commit_last)
{
	struct page_writer w;
	uint8_t hdr[20] = {0};
	page_writer_open(&w, &x->g, x->f, page, x->g.data_hdr_size);
	for (uint32_t off = 0; off < len;) {
		uint32_t n = len - off < step ? len - off : step;
		int e = page_writer_write(&w, data + off, n);
		assert_true(e > 0);
		off += (uint32_t)e;
	}
	if (len == x->g.payload_max) /* a full page accepts nothing more */
		assert_int_equal(page_writer_write(&w, data, 1), 0);
	assert_int_equal(page_writer_write_header(&w, DATA_MAGIC, hdr, x->g.data_hdr_size), 0);
	if (commit_last)
		assert_int_equal(page_writer_commit(&w), 0);
}

static uint32_t read_page(struct fixture *x, uint32_t page, uint8_t *out, uint32_t step)
{
	struct page_reader r;
	uint8_t hdr[20];
	page_reader_init(&r, &x->g, x->f, 16);
	assert_int_equal(page_reader_open(&r, page, DATA_MAGIC, hdr, x->g.data_hdr_size), 0);
	uint32_t n = 0;
	for (;;) {
		int e = page_reader_read(&r, out + n, step);
		assert_true(e >= 0);
		if (e == 0)
			break;
		n += (uint32_t)e;
	}
	page_reader_free(&r);
	return n;
}

static void test_payload_round_trips_across_chunks_alignments_and_crc(void **state)
{
	(void)state;
	uint32_t aligns[] = {1, 2, 4};
	for (int c = 0; c < 2; c++)
		for (int a = 0; a < 3; a++) {
			struct fixture x;
			setup_geom(&x, 1024, 200, c, aligns[a]);
			uint8_t data[1024], out[1100];
			for (int i = 0; i < 1024; i++)
				data[i] = (uint8_t)(i * 7 + 3);
			uint32_t len = x.g.payload_max;
			write_page(&x, 3, data, len, 13, true);
			memset(out, 0, sizeof(out));
			assert_int_equal(read_page(&x, 3, out, 29), len);
			assert_memory_equal(out, data, len);
			ekv_flash_close(x.f);
		}
}

static void test_uncommitted_chunk_is_invisible(void **state)
{
	(void)state;
	struct fixture x;
	setup_geom(&x, 1024, 4096, false, 4);
	uint8_t data[100], out[1024];
	memset(data, 0x5a, sizeof(data));
	write_page(&x, 1, data, sizeof(data), 100, false);
	assert_int_equal(read_page(&x, 1, out, 64), 0);
	ekv_flash_close(x.f);
}

static void test_append_after_torn_chunk_acts_full(void **state)
{
	(void)state;
	struct fixture x;
	setup_geom(&x, 1024, 4096, false, 4);
	uint8_t data[40], out[1024];
	memset(data, 0x11, sizeof(data));
	struct page_writer w;
	page_writer_open(&w, &x.g, x.f, 2, x.g.meta_hdr_size);
	uint8_t hdr[8] = {0};
	assert_int_equal(page_writer_write_header(&w, META_MAGIC, hdr, 8), 0);
	assert_int_equal(page_writer_write(&w, data, 16), 16);
	assert_int_equal(page_writer_commit(&w), 0);
	/* a second chunk's data without its header: a torn append leaves the
	 * tail after the last chunk not erased, and a writer told so is full */
	uint32_t end = w.chunk_offset;
	assert_int_equal(page_writer_write(&w, data, 8), 8);
	bool erased;
	assert_int_equal(page_tail_is_erased(&x.g, x.f, 2, end, &erased), 0);
	assert_false(erased);
	page_writer_open_at(&w, &x.g, x.f, 2, 8, end, erased);
	assert_int_equal(page_writer_write(&w, data, 8), 0);
	/* a clean page appends after its last chunk */
	page_writer_open(&w, &x.g, x.f, 4, 8);
	assert_int_equal(page_writer_write_header(&w, META_MAGIC, hdr, 8), 0);
	assert_int_equal(page_writer_write(&w, data, 8), 8);
	assert_int_equal(page_writer_commit(&w), 0);
	end = w.chunk_offset;
	assert_int_equal(page_tail_is_erased(&x.g, x.f, 4, end, &erased), 0);
	assert_true(erased);
	page_writer_open_at(&w, &x.g, x.f, 4, 8, end, erased);
	assert_int_equal(page_writer_write(&w, data, 8), 8);
	assert_int_equal(page_writer_commit(&w), 0);
	struct page_reader r;
	page_reader_init(&r, &x.g, x.f, 0);
	assert_int_equal(page_reader_open(&r, 4, META_MAGIC, hdr, 8), 0);
	int n = page_reader_read(&r, out, sizeof(out));
	n += page_reader_read(&r, out + n, sizeof(out));
	assert_int_equal(n, 16);
	page_reader_free(&r);
	ekv_flash_close(x.f);
}

static void test_bad_chunks_are_corruption_or_end_when_lenient(void **state)
{
	(void)state;
	struct fixture x;
	setup_geom(&x, 1024, 4096, true, 4);
	uint8_t data[64], out[64], hdr[20];
	memset(data, 0x33, sizeof(data));
	write_page(&x, 5, data, sizeof(data), 64, true);
	/* flip a data bit: the chunk CRC fails */
	uint8_t *img = ekv_flash_mem_data(x.f) + 5 * 1024;
	img[x.g.ph_size + x.g.data_hdr_size + x.g.ch_size + 3] ^= 0x01;
	struct page_reader r;
	page_reader_init(&r, &x.g, x.f, 0);
	assert_int_equal(page_reader_open(&r, 5, DATA_MAGIC, hdr, x.g.data_hdr_size),
			 EKV_ECORRUPT);
	r.lenient = true;
	assert_int_equal(page_reader_open(&r, 5, DATA_MAGIC, hdr, x.g.data_hdr_size), 0);
	assert_true(r.torn_tail);
	assert_int_equal(page_reader_read(&r, out, sizeof(out)), 0);
	/* a header CRC mismatch makes the page invalid */
	img[x.g.ph_size] ^= 0x80;
	assert_int_equal(page_read_header(&x.g, x.f, 5, DATA_MAGIC, hdr, x.g.data_hdr_size),
			 EKV_ECORRUPT);
	/* wrong page id */
	assert_int_equal(page_read_header(&x.g, x.f, 6, DATA_MAGIC, hdr, x.g.data_hdr_size),
			 EKV_ECORRUPT);
	page_reader_free(&r);
	ekv_flash_close(x.f);
}

static void test_reader_position_saves_and_restores(void **state)
{
	(void)state;
	struct fixture x;
	setup_geom(&x, 1024, 160, false, 4);
	uint8_t data[900], a[50], b[50], hdr[20];
	for (int i = 0; i < 900; i++)
		data[i] = (uint8_t)i;
	write_page(&x, 7, data, 900, 77, true);
	struct page_reader r, r2;
	page_reader_init(&r, &x.g, x.f, 8);
	page_reader_init(&r2, &x.g, x.f, 8);
	assert_int_equal(page_reader_open(&r, 7, DATA_MAGIC, hdr, x.g.data_hdr_size), 0);
	assert_int_equal(page_reader_skip(&r, 250), 250);
	struct page_pos pos;
	page_reader_save(&r, &pos);
	assert_int_equal(page_reader_read(&r, a, 50), 50);
	page_reader_restore(&r2, &pos);
	assert_int_equal(page_reader_read(&r2, b, 50), 50);
	assert_memory_equal(a, b, 50);
	assert_memory_equal(a, data + 250, 50);
	page_reader_free(&r);
	page_reader_free(&r2);
	ekv_flash_close(x.f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32_is_zlib_crc32),
		cmocka_unit_test(test_payload_round_trips_across_chunks_alignments_and_crc),
		cmocka_unit_test(test_uncommitted_chunk_is_invisible),
		cmocka_unit_test(test_append_after_torn_chunk_acts_full),
		cmocka_unit_test(test_bad_chunks_are_corruption_or_end_when_lenient),
		cmocka_unit_test(test_reader_position_saves_and_restores),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
