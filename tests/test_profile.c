/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* test_profile.c — profiles and their derived sizes (lib/profile.c,
 * docs/FORMAT.md §1): the sizes as a table worked out from the formulas,
 * and the profiles the format cannot serve, with their reasons. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ekv.h"
#include "ekv_test.h"

/* Profile fields a row changes from ekv_profile_default() (0: unchanged). */
struct change {
	uint32_t page_size, page_count, max_page_count, align, max_chunk_size;
	uint32_t branching_factor, max_key_size, max_value_size, scratch_plus1;
	bool crc, erase_zero;
};

#define FIELD(name) {offsetof(struct change, name), offsetof(struct ekv_profile, name)}
static const struct {
	size_t in_change, in_profile;
} u32_fields[] = {
	FIELD(page_size),        FIELD(page_count),       FIELD(max_page_count),
	FIELD(align),            FIELD(max_chunk_size),   FIELD(branching_factor),
	FIELD(max_key_size),     FIELD(max_value_size),
};

static struct ekv_profile profile_of(const struct change *c)
{
	struct ekv_profile p;
	ekv_profile_default(&p);
	p.layout = 1; /* the profile describes layout 1 (the Rust crate's) */
	for (size_t i = 0; i < sizeof(u32_fields) / sizeof(u32_fields[0]); i++) {
		uint32_t v;
		memcpy(&v, (const char *)c + u32_fields[i].in_change, sizeof(v));
		if (v)
			memcpy((char *)&p + u32_fields[i].in_profile, &v, sizeof(v));
	}
	if (c->scratch_plus1)
		p.scratch_page_count = c->scratch_plus1 - 1;
	p.crc = c->crc;
	if (c->erase_zero)
		p.erase_value = 0x00;
	return p;
}

/*
 * FORMAT.md §1, worked out by hand for each row:
 * P = 8 (+4 crc); H = 4 (+4 crc); MetaHeader 8; SKIPLIST_LEN = ilog2(max_page_count) - 2;
 * DataHeader = round_up(4 + 2·SKIPLIST_LEN + 2, 4); CHUNK_MAX = min(max_chunk, page - P - H);
 * PAYLOAD_MAX = n·CHUNK_MAX + max(0, r - H), (n, r) = divmod(page - P - DataHeader,
 * align_up(H + CHUNK_MAX)); SKIPLIST_SHIFT = ilog2(PAYLOAD_MAX) + 1;
 * LEVEL_COUNT = floor(log_BF(max_page_count)); FILE_COUNT = BF·LEVEL_COUNT + 1;
 * KEY_BITS, VALUE_BITS = log2(next_pow2(max + 1)); RECORD_HEADER = ceil((1 + KB + VB) / 8);
 * MIN_FREE = 1 + scratch + 1 + BF + ceil((4 + max_key + max_value) / PAYLOAD_MAX).
 */
static const struct {
	const char *name;
	struct change c;
	struct ekv_geometry want;
} sizes[] = {
	/* body 4096-8-20 = 4068 = 0·4088 + 4068: 4068 - 4 */
	{"default", {0}, {8, 4, 8, 20, 4084, 4064, 6, 12, 8, 17, 7, 11, 3, 9}},
	/* body 4096-12-20 = 4064: 4064 - 8 */
	{"crc", {.crc = true}, {12, 8, 8, 20, 4076, 4056, 6, 12, 8, 17, 7, 11, 3, 9}},
	/* 4068 = 7·513 + 477: 7·509 + 473 */
	{"align 1, chunk 509", {.align = 1, .max_chunk_size = 509},
	 {8, 4, 8, 20, 509, 4036, 6, 12, 8, 17, 7, 11, 3, 9}},
	/* 4068 = 7·514 + 470: 7·510 + 466 */
	{"align 2, chunk 510, erase 0x00", {.align = 2, .max_chunk_size = 510, .erase_zero = true},
	 {8, 4, 8, 20, 510, 4036, 6, 12, 8, 17, 7, 11, 3, 9}},
	/* 4068 = 7·516 + 456: 7·512 + 452 */
	{"chunk 512", {.max_chunk_size = 512}, {8, 4, 8, 20, 512, 4036, 6, 12, 8, 17, 7, 11, 3, 9}},
	/* 3^5 = 243 <= 256 < 729: 5 levels, 16 files; reserve 1+4+1+3+1 */
	{"bf 3", {.branching_factor = 3}, {8, 4, 8, 20, 4084, 4064, 6, 12, 5, 16, 7, 11, 3, 10}},
	/* 4^4 = 256: 4 levels, 17 files; reserve 1+4+1+4+1 */
	{"bf 4, crc", {.branching_factor = 4, .crc = true},
	 {12, 8, 8, 20, 4076, 4056, 6, 12, 4, 17, 7, 11, 3, 11}},
	/* L = 4, D = round_up(14, 4) = 16; body 104: 104 - 4; ilog2(100) + 1 = 7; 2^6 = 64;
	 * key 8: 4 bits, value 16: 5 bits, 10 bits: 2 bytes; 1+0+1+2+ceil(28/100) */
	{"page 128",
	 {.page_size = 128, .page_count = 64, .max_page_count = 64, .max_key_size = 8,
	  .max_value_size = 16, .scratch_plus1 = 1},
	 {8, 4, 8, 16, 116, 100, 4, 7, 6, 13, 4, 5, 2, 5}},
	/* L = 5, D = 16; CHUNK_MAX 256-12-8 = 236, body 228: 228 - 8; ilog2(220) + 1 = 8 */
	{"page 256, crc",
	 {.page_size = 256, .page_count = 128, .max_page_count = 128, .crc = true,
	  .max_key_size = 16, .max_value_size = 32, .scratch_plus1 = 2},
	 {12, 8, 8, 16, 236, 220, 5, 8, 7, 15, 5, 6, 2, 6}},
	/* body 65508 = 15·4100 + 4008: 15·4096 + 4004 = 65444; ilog2 = 15 */
	{"page 65536, chunk 4096", {.page_size = 65536, .page_count = 32},
	 {8, 4, 8, 20, 4096, 65444, 6, 16, 8, 17, 7, 11, 3, 9}},
	/* L = 14, D = 36; body 4052: 4048; 16 levels, 33 files; 11 + 17 bits + 1: 4 bytes;
	 * 1+4+1+2+ceil(66564/4048) = 25 */
	{"65535 pages, the largest keys and values",
	 {.page_count = 65535, .max_page_count = 65536, .max_key_size = 1024,
	  .max_value_size = 65536},
	 {8, 4, 8, 36, 4084, 4048, 14, 12, 16, 33, 11, 17, 4, 25}},
	/* 1 bit each: 3 bits, 1 byte; 1+0+1+2+1 */
	{"key 1, value 1", {.max_key_size = 1, .max_value_size = 1, .scratch_plus1 = 1},
	 {8, 4, 8, 20, 4084, 4064, 6, 12, 8, 17, 1, 1, 1, 5}},
};

static void test_derived_sizes_match_format_md(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct ekv_profile p = profile_of(&sizes[i].c);
		struct ekv_geometry g;
		char msg[256];
		int e = ekv_profile_check(&p, msg, sizeof(msg));
		if (e != 0)
			print_error("%s: rejected: %s\n", sizes[i].name, msg);
		assert_int_equal(e, 0);
		assert_int_equal(ekv_profile_geometry(&p, &g), 0);
		if (memcmp(&g, &sizes[i].want, sizeof(g)) != 0) {
			const uint32_t *got = (const uint32_t *)&g, *want = (const uint32_t *)&sizes[i].want;
			for (size_t k = 0; k < sizeof(g) / sizeof(uint32_t); k++)
				if (got[k] != want[k])
					print_error("%s: field %zu is %u, FORMAT.md says %u\n",
						    sizes[i].name, k, got[k], want[k]);
			fail();
		}
	}
}

static void test_default_profile_is_the_crates(void **state)
{
	(void)state;
	struct ekv_profile p;
	ekv_profile_default(&p);
	assert_int_equal(p.page_size, 4096);
	assert_int_equal(p.page_count, 256);
	assert_int_equal(p.max_page_count, 256);
	assert_int_equal(p.align, 4);
	assert_int_equal(p.erase_value, 0xff);
	assert_false(p.crc);
	assert_int_equal(p.max_chunk_size, 4096);
	assert_int_equal(p.branching_factor, 2);
	assert_int_equal(p.max_key_size, 64);
	assert_int_equal(p.max_value_size, 1024);
	assert_int_equal(p.scratch_page_count, 4);
}

/* Profiles the format cannot serve, and the words that say why. */
static const struct {
	struct change c;
	const char *reason;
} rejected[] = {
	{{.align = 3}, "align 3 not supported (1, 2 or 4)"},
	{{.align = 8}, "align 8 not supported"},
	{{.page_size = 100}, "page size 100 not supported (128 to 65536, a multiple of 4)"},
	{{.page_size = 4098}, "page size 4098 not supported"},
	{{.page_size = 131072}, "page size 131072 not supported"},
	{{.branching_factor = 1}, "branching factor 1 not supported (2 to 4)"},
	{{.branching_factor = 5}, "branching factor 5 not supported (2 to 4)"},
	{{.max_page_count = 4, .page_count = 4}, "max page count 4 not supported (8 to 65536)"},
	{{.max_page_count = 131072}, "max page count 131072 not supported"},
	{{.page_count = 300}, "page count 300 must be 1 to max page count 256"},
	{{.page_count = 65536, .max_page_count = 65536},
	 "page count 65536 too large: page index 65535 is reserved by the format"},
	{{.max_key_size = 1025}, "max key size 1025 not supported (1 to 1024)"},
	{{.max_value_size = 65537}, "max value size 65537 not supported (1 to 65536)"},
	{{.max_chunk_size = 8}, "max chunk size 8 not supported (16 to 65535, a multiple of align 4)"},
	{{.max_chunk_size = 510}, "max chunk size 510 not supported"},
	/* 13 files need 104 bytes; a 128-byte crc page leaves 128 - 12 - 8 - 8 */
	{{.page_size = 128, .page_count = 64, .max_page_count = 64, .crc = true,
	  .max_key_size = 8, .max_value_size = 16, .scratch_plus1 = 1},
	 "13 files need 104 bytes in one meta chunk, but this page size and max chunk size "
	 "leave 100"},
	/* PAYLOAD_MAX 4072: 1 + 4 + 1 + 2 + ceil(65604 / 4072) = 25 >= 32 / 2 */
	{{.max_value_size = 65536, .max_page_count = 32, .page_count = 32},
	 "reserve of 25 free pages is not below half of max page count 32"},
	/* the default reserve is 9 pages */
	{{.page_count = 17}, "17 pages are too few: this profile needs at least 18"},
};

static void test_impossible_profiles_are_rejected_with_the_reason(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rejected) / sizeof(rejected[0]); i++) {
		struct ekv_profile p = profile_of(&rejected[i].c);
		struct ekv_geometry g;
		char msg[256] = "";
		assert_int_equal(ekv_profile_check(&p, msg, sizeof(msg)), EKV_EINVAL);
		if (!strstr(msg, rejected[i].reason)) {
			print_error("row %zu: \"%s\" does not say \"%s\"\n", i, msg, rejected[i].reason);
			fail();
		}
		assert_int_equal(ekv_profile_geometry(&p, &g), EKV_EINVAL);
		/* and a handle is never opened on it */
		struct ekv_flash *f = NULL;
		ekv_db *db = (ekv_db *)&g;
		if (ekv_flash_mem_new(4096, 16, 0xff, &f) == 0) {
			assert_int_equal(ekv_open(f, &p, NULL, &db), EKV_EINVAL);
			assert_null(db);
			ekv_flash_close(f);
		}
	}
}

static void test_message_buffer_is_optional_and_cleared(void **state)
{
	(void)state;
	struct ekv_profile p;
	ekv_profile_default(&p);
	char msg[8] = "garbage";
	assert_int_equal(ekv_profile_check(&p, msg, sizeof(msg)), 0);
	assert_string_equal(msg, "");
	p.align = 3;
	assert_int_equal(ekv_profile_check(&p, NULL, 0), EKV_EINVAL);
	/* a short buffer gets a truncated, terminated message */
	assert_int_equal(ekv_profile_check(&p, msg, sizeof(msg)), EKV_EINVAL);
	assert_int_equal(strlen(msg), sizeof(msg) - 1);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_derived_sizes_match_format_md),
	cmocka_unit_test(test_default_profile_is_the_crates),
	cmocka_unit_test(test_impossible_profiles_are_rejected_with_the_reason),
	cmocka_unit_test(test_message_buffer_is_optional_and_cleared),
};

int main(void)
{
	return cmocka_run_group_tests(tests, NULL, NULL);
}
