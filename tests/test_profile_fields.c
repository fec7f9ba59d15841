/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * test_profile_fields.c — the table of lib/profile_fields.h agrees with
 * what uses it: the defaults are ekv_profile_default's, each range end is
 * where geom_init starts refusing, and HELLO carries the fields in table
 * order (the order is part of the protocol).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "profile_fields.h"
#include "proto.h"

static void test_defaults_are_the_table_s(void **state)
{
	(void)state;
	struct ekv_profile p;
	ekv_profile_default(&p);
	for (int i = 0; i < EKV_PF_COUNT; i++)
		assert_int_equal(ekv_pf_get(&p, (enum ekv_pf_id)i), ekv_pf_table[i].def);
	assert_int_equal(ekv_profile_check(&p, NULL, 0), 0);
	/* spot checks against ekv.h's documented defaults */
	assert_int_equal(p.page_size, 4096);
	assert_int_equal(p.erase_value, 0xff);
	assert_false(p.crc);
	assert_int_equal(p.scratch_page_count, 4);
}

/* A possible profile with room around its fields, so that the field set
 * out of range is what makes it impossible where it can be. */
static void loose_profile(struct ekv_profile *p, enum ekv_pf_id id)
{
	ekv_profile_default(p);
	p->max_page_count = id == EKV_PF_page_count ? 65536 : 4096;
	p->page_count = 4096;
}

static void test_geom_init_refuses_just_outside_each_range(void **state)
{
	(void)state;
	for (int i = 0; i < EKV_PF_COUNT; i++) {
		const struct ekv_pf *pf = &ekv_pf_table[i];
		if (pf->kind != EKV_PF_NUM)
			continue;
		struct ekv_profile p;
		char msg[256];
		if (pf->min > 0) {
			loose_profile(&p, (enum ekv_pf_id)i);
			ekv_pf_set(&p, (enum ekv_pf_id)i, pf->min - 1);
			if (ekv_profile_check(&p, msg, sizeof(msg)) != EKV_EINVAL)
				fail_msg("%s %u (below the table's min) accepted", pf->key,
					 pf->min - 1);
		}
		if (pf->max < UINT32_MAX) {
			loose_profile(&p, (enum ekv_pf_id)i);
			ekv_pf_set(&p, (enum ekv_pf_id)i, pf->max + 1);
			if (ekv_profile_check(&p, msg, sizeof(msg)) != EKV_EINVAL)
				fail_msg("%s %u (above the table's max) accepted", pf->key,
					 pf->max + 1);
		}
	}
}

/* A profile from "key=value ..." with the table's keys (others default). */
static void profile_from(const char *spec, struct ekv_profile *p)
{
	ekv_profile_default(p);
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", spec);
	char *save = NULL;
	for (char *kv = strtok_r(buf, " ", &save); kv; kv = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(kv, '=');
		assert_non_null(eq);
		*eq = 0;
		int i = 0;
		while (i < EKV_PF_COUNT && strcmp(ekv_pf_table[i].key, kv))
			i++;
		assert_true(i < EKV_PF_COUNT);
		ekv_pf_set(p, (enum ekv_pf_id)i, (uint32_t)strtoul(eq + 1, NULL, 0));
	}
}

/* The ends themselves are possible in a profile that suits them, but for
 * the minima of page-count, max-page-count and max-chunk-size, which other
 * rules (the free-page reserve, a meta chunk's room) always refuse. */
static void test_each_range_end_is_possible_somewhere(void **state)
{
	(void)state;
	static const char *const possible[] = {
		"page-size=128 page-count=32 max-page-count=32 max-value-size=16 scratch-pages=0",
		"page-size=128 page-count=32 max-page-count=32 max-key-size=1 max-value-size=1 "
		"align=1 scratch-pages=0",
		"page-size=65536 page-count=32 max-page-count=32",
		"page-count=65535 max-page-count=65536 max-key-size=1024 max-value-size=65536 "
		"branching-factor=4 align=1 max-chunk-size=65535",
	};
	for (size_t i = 0; i < sizeof(possible) / sizeof(possible[0]); i++) {
		struct ekv_profile p;
		char msg[256];
		profile_from(possible[i], &p);
		if (ekv_profile_check(&p, msg, sizeof(msg)) < 0)
			fail_msg("%s: %s", possible[i], msg);
	}
}

static void test_hello_carries_the_fields_in_table_order(void **state)
{
	(void)state;
	/* the wire order of PROTOCOL.md §6: a row moved is a protocol change */
	static const char *const wire[] = {
		"page-size",      "page-count",       "max-page-count", "align",
		"erase-value",    "crc",              "max-chunk-size", "branching-factor",
		"max-key-size",   "max-value-size",   "scratch-pages",
	};
	assert_true(EKV_PF_COUNT >= sizeof(wire) / sizeof(wire[0]));
	for (size_t i = 0; i < sizeof(wire) / sizeof(wire[0]); i++)
		assert_string_equal(ekv_pf_table[i].key, wire[i]);

	struct proto_hello h = {.max_frame = 65536};
	for (int i = 0; i < EKV_PF_COUNT; i++) {
		enum ekv_pf_kind kind = ekv_pf_table[i].kind;
		uint32_t v = kind == EKV_PF_NUM ? 1000u + (uint32_t)i : ekv_pf_kind_max(kind);
		ekv_pf_set(&h.profile, (enum ekv_pf_id)i, v);
	}
	uint8_t buf[512];
	struct proto_writer w;
	proto_writer_init(&w, buf, sizeof(buf));
	proto_hello_encode(&w, &h);
	assert_false(w.overflow);
	assert_int_equal(w.len, 8 + 4 * EKV_PF_COUNT + 4 + 4);
	for (int i = 0; i < EKV_PF_COUNT; i++) {
		const uint8_t *b = buf + 8 + 4 * i;
		uint32_t v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
			     (uint32_t)b[3] << 24;
		assert_int_equal(v, ekv_pf_get(&h.profile, (enum ekv_pf_id)i));
	}
	struct proto_hello g;
	assert_int_equal(proto_hello_decode(buf, (uint32_t)w.len, &g), 0);
	for (int i = 0; i < EKV_PF_COUNT; i++)
		assert_int_equal(ekv_pf_get(&g.profile, (enum ekv_pf_id)i),
				 ekv_pf_get(&h.profile, (enum ekv_pf_id)i));
}

/* A value its member cannot hold is a protocol error, not a wrap. */
static void test_hello_refuses_a_value_its_member_cannot_hold(void **state)
{
	(void)state;
	struct proto_hello h = {.max_frame = 65536}, g;
	ekv_profile_default(&h.profile);
	uint8_t buf[512];
	struct proto_writer w;
	proto_writer_init(&w, buf, sizeof(buf));
	proto_hello_encode(&w, &h);
	assert_int_equal(proto_hello_decode(buf, (uint32_t)w.len, &g), 0);
	for (int i = 0; i < EKV_PF_COUNT; i++) {
		if (ekv_pf_table[i].kind == EKV_PF_NUM)
			continue;
		uint8_t bad[sizeof(buf)];
		memcpy(bad, buf, w.len);
		bad[8 + 4 * i + 1] = 1; /* +256 */
		assert_int_equal(proto_hello_decode(bad, (uint32_t)w.len, &g), EKV_EPROTO);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_are_the_table_s),
		cmocka_unit_test(test_geom_init_refuses_just_outside_each_range),
		cmocka_unit_test(test_each_range_end_is_possible_somewhere),
		cmocka_unit_test(test_hello_carries_the_fields_in_table_order),
		cmocka_unit_test(test_hello_refuses_a_value_its_member_cannot_hold),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
