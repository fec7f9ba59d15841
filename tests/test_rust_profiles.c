/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * test_rust_profiles.c — images the Rust crate wrote under 13 profiles
 * (page sizes 128..65536, align 1/2/4, erase value 0x00, crc, max chunk
 * size, branching factor 2..4, 16..1024 pages) list identically here, every
 * key reads back by point lookup, and our writer keeps working on them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "testutil.h"

struct rprof {
	const char *name;
	uint32_t page_size, pages, align;
	uint8_t erase;
	bool crc;
	uint32_t max_value, scratch, bf, chunk;
};

/* name, page size, pages (= max page count), align, erase, crc, max value,
 * scratch pages, branching factor, max chunk size; max key size is 64 */
static const struct rprof rprofs[] = {
	{"default", 4096, 256, 4, 0xff, false, 1024, 4, 2, 4096},
	{"crc", 4096, 256, 4, 0xff, true, 1024, 4, 2, 4096},
	{"p128", 128, 32, 4, 0xff, false, 16, 0, 2, 4096},
	{"p128crc", 128, 32, 4, 0xff, true, 16, 0, 2, 4096},
	{"p256a1", 256, 64, 1, 0xff, false, 128, 4, 2, 4096},
	{"p256a2", 256, 256, 2, 0xff, false, 1024, 8, 2, 4096},
	{"p1024", 1024, 16, 4, 0xff, false, 16, 0, 2, 4096},
	{"e00", 4096, 256, 4, 0x00, false, 1024, 4, 2, 4096},
	{"bf3", 4096, 1024, 4, 0xff, false, 1024, 4, 3, 4096},
	{"bf4", 512, 128, 4, 0xff, false, 1024, 4, 4, 4096},
	{"p65536", 65536, 32, 4, 0xff, false, 1024, 4, 2, 4096},
	{"c512crc", 4096, 256, 4, 0xff, true, 1024, 4, 2, 512},
	{"a2e00crc", 2048, 128, 2, 0x00, true, 1024, 4, 2, 4096},
};

static uint8_t *gunzip(const char *path, size_t *len)
{
	gzFile z = gzopen(path, "rb");
	if (!z)
		return NULL;
	size_t cap = 1 << 20, n = 0;
	uint8_t *b = malloc(cap + 1);
	for (;;) {
		if (n == cap) {
			cap *= 2;
			b = realloc(b, cap + 1);
		}
		int r = gzread(z, b + n, (unsigned)(cap - n));
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	gzclose(z);
	b[n] = 0;
	*len = n;
	return b;
}

static void check_profile(const struct rprof *rp)
{
	char path[512];
	struct ekv_profile p;
	ekv_profile_default(&p);
	p.layout = 1; /* the Rust crate's layout */
	p.page_size = rp->page_size;
	p.page_count = p.max_page_count = rp->pages;
	p.align = rp->align;
	p.erase_value = rp->erase;
	p.crc = rp->crc;
	p.max_value_size = rp->max_value;
	p.scratch_page_count = rp->scratch;
	p.branching_factor = rp->bf;
	p.max_chunk_size = rp->chunk;
	snprintf(path, sizeof(path), "profiles/%s.bin.gz", rp->name);
	size_t n, en;
	uint8_t *img = gunzip(testdata_path(path), &n);
	assert_non_null(img);
	assert_int_equal(n, (size_t)p.page_size * p.page_count);
	snprintf(path, sizeof(path), "profiles/%s.bin.expected.gz", rp->name);
	char *want = (char *)gunzip(testdata_path(path), &en);
	assert_non_null(want);
	struct ekv_flash *f;
	assert_int_equal(ekv_flash_mem_new(p.page_size, p.page_count, p.erase_value, &f), 0);
	ekv_flash_mem_set_strict(f, true);
	memcpy(ekv_flash_mem_data(f), img, n);
	ekv_db *db;
	struct ekv_options o;
	ekv_options_default(&o);
	o.seed = 99;
	o.seed_set = true;
	assert_int_equal(ekv_open(f, &p, &o, &db), 0);
	/* build the model from the expected listing */
	struct model m = {0};
	static uint8_t k[1100], v[70000];
	for (char *line = strtok(want, "\n"); line; line = strtok(NULL, "\n")) {
		char *sp = strchr(line, ' ');
		assert_non_null(sp);
		*sp = 0;
		size_t kl, vl;
		assert_true(hex_decode(line, k, &kl));
		assert_true(hex_decode(sp + 1, v, &vl));
		model_put(&m, k, kl, v, vl);
	}
	char why[512];
	if (model_check_sampled(db, &m, &p, 1 + m.n / 50, why, sizeof(why)) != 0)
		fail_msg("profile %s: listing differs from the crate's: %s", rp->name, why);
	/* our writer on the crate's image: overwrite and delete some keys */
	uint64_t s = 5;
	size_t initial = m.n;
	for (int i = 0; i < 200 && m.n; i++) {
		struct kv *e = &m.a[rng_u64(&s) % m.n];
		uint8_t key[1100];
		size_t kl = e->kl;
		memcpy(key, e->k, kl);
		ekv_wtx *tx;
		assert_int_equal(ekv_wtx_begin(db, &tx), 0);
		if (i % 5 == 0 && m.n > initial / 2) {
			assert_int_equal(ekv_wtx_delete(tx, key, kl), 0);
			model_del(&m, key, kl);
		} else {
			size_t vl = rng_u64(&s) % (p.max_value_size + 1);
			for (size_t j = 0; j < vl; j++)
				v[j] = (uint8_t)rng_u64(&s);
			assert_int_equal(ekv_wtx_put(tx, key, kl, v, vl), 0);
			model_put(&m, key, kl, v, vl);
		}
		assert_int_equal(ekv_wtx_commit(tx), 0);
	}
	ekv_close(db);
	assert_int_equal(ekv_open(f, &p, &o, &db), 0);
	if (model_check_sampled(db, &m, &p, 1 + m.n / 50, why, sizeof(why)) != 0)
		fail_msg("profile %s: wrong after writing to the crate's image: %s", rp->name, why);
	printf("  %-9s %zu keys ok\n", rp->name, m.n);
	model_free(&m);
	ekv_close(db);
	ekv_flash_close(f);
	free(img);
	free(want);
}

static void test_crate_images_of_every_profile_list_identically_and_accept_writes(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rprofs) / sizeof(rprofs[0]); i++)
		check_profile(&rprofs[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crate_images_of_every_profile_list_identically_and_accept_writes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
