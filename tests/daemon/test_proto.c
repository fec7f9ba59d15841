/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * test_proto.c — the wire protocol (lib/proto.c, docs/PROTOCOL.md): every
 * request and reply round-trips, and malformed frames are refused with
 * EKV_EPROTO without reading past the bytes given.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto.h"

static uint8_t buf[4096];

/* Encode r, then decode the header and payload back. */
static void roundtrip(const struct proto_request *r, struct proto_request *out)
{
	struct proto_writer w;
	proto_writer_init(&w, buf, sizeof(buf));
	long n = proto_request_encode(&w, r);
	assert_true(n >= PROTO_HEADER_SIZE);
	struct proto_header h;
	assert_int_equal(proto_header_decode(buf, 1 << 20, &h, NULL), 0);
	assert_int_equal(h.payload_len, n - PROTO_HEADER_SIZE);
	assert_int_equal(h.type, r->type);
	assert_int_equal(h.id, r->id);
	assert_int_equal(proto_request_decode(&h, buf + PROTO_HEADER_SIZE, out, NULL), 0);
}

static void test_every_request_round_trips(void **state)
{
	(void)state;
	struct proto_request q, d;
	static const uint8_t key[] = {0, 1, 0xff, 'k'}, val[] = {'v', 0, 'v'};

	q = (struct proto_request){.type = PROTO_HELLO, .id = 1, .max_frame = 123456};
	roundtrip(&q, &d);
	assert_int_equal(d.max_frame, 123456);

	const uint8_t simple[] = {PROTO_STAT, PROTO_MOUNT, PROTO_RTX_BEGIN, PROTO_RTX_END,
				  PROTO_COMMIT, PROTO_ABORT};
	for (size_t i = 0; i < sizeof(simple); i++) {
		q = (struct proto_request){.type = simple[i], .id = 7 + (uint32_t)i};
		roundtrip(&q, &d);
		assert_int_equal(d.type, simple[i]);
		assert_int_equal(d.id, 7 + i);
	}

	const uint8_t timed[] = {PROTO_FORMAT, PROTO_COMPACT, PROTO_WTX_BEGIN};
	for (size_t i = 0; i < sizeof(timed); i++) {
		q = (struct proto_request){.type = timed[i], .id = 9, .timeout_ms = -1};
		roundtrip(&q, &d);
		assert_int_equal(d.timeout_ms, -1);
	}

	q = (struct proto_request){.type = PROTO_GET, .id = 2, .key = {key, sizeof(key)}};
	roundtrip(&q, &d);
	assert_int_equal(d.key.len, sizeof(key));
	assert_memory_equal(d.key.p, key, sizeof(key));

	q = (struct proto_request){.type = PROTO_PUT, .id = 3, .key = {key, sizeof(key)},
				   .value = {val, sizeof(val)}};
	roundtrip(&q, &d);
	assert_memory_equal(d.key.p, key, sizeof(key));
	assert_int_equal(d.value.len, sizeof(val));
	assert_memory_equal(d.value.p, val, sizeof(val));

	q = (struct proto_request){.type = PROTO_PUT, .id = 3, .key = {key, 0}, .value = {val, 0}};
	roundtrip(&q, &d);
	assert_int_equal(d.key.len, 0);
	assert_int_equal(d.value.len, 0);

	q = (struct proto_request){.type = PROTO_DELETE, .id = 4, .key = {key, 1}};
	roundtrip(&q, &d);
	assert_int_equal(d.key.len, 1);

	q = (struct proto_request){.type = PROTO_CURSOR_OPEN, .id = 5,
				   .flags = PROTO_CURSOR_HAS_START | PROTO_CURSOR_HAS_END,
				   .max_pairs = 16, .start = {key, 2}, .end = {val, 3}};
	roundtrip(&q, &d);
	assert_int_equal(d.flags, PROTO_CURSOR_HAS_START | PROTO_CURSOR_HAS_END);
	assert_int_equal(d.max_pairs, 16);
	assert_int_equal(d.start.len, 2);
	assert_int_equal(d.end.len, 3);

	q = (struct proto_request){.type = PROTO_CURSOR_NEXT, .id = 6, .cursor_id = 42,
				   .max_pairs = 1};
	roundtrip(&q, &d);
	assert_int_equal(d.cursor_id, 42);

	q = (struct proto_request){.type = PROTO_CURSOR_CLOSE, .id = 6, .cursor_id = 43};
	roundtrip(&q, &d);
	assert_int_equal(d.cursor_id, 43);
}

/* Every row of the request table: a known, named request below 0x80 whose
 * fields, all set, come back from encode + decode; a reply kind that says
 * whether the client waits.  (The daemon's handler of each row is checked
 * when ekvd compiles: session.c names on_<name> for every row.) */
static void test_every_request_row_round_trips(void **state)
{
	(void)state;
	static const uint8_t k[] = "kk", v[] = "vvv", st[] = "s", en[] = "eeee";
	unsigned rows = 0;
	for (unsigned t = 0; t < 256; t++) {
		const struct proto_req_desc *d = proto_req((uint8_t)t);
		if (!d) {
			assert_true(t >= PROTO_REQ_LIMIT || !proto_reqs[t].name);
			continue;
		}
		rows++;
		assert_true(t < PROTO_REQ_LIMIT);
		assert_non_null(d->name);
		assert_true(d->reply <= PROTO_R_BATCH && d->need <= PROTO_NEED_CURSOR);
		assert_int_equal(proto_request_is_void((uint8_t)t), d->reply == PROTO_R_NONE);
		struct proto_request q = {.type = (uint8_t)t, .id = 100 + t};
		if (d->fields & PROTO_F_MAX_FRAME)
			q.max_frame = 65536;
		if (d->fields & PROTO_F_TIMEOUT)
			q.timeout_ms = 1234;
		if (d->fields & PROTO_F_FLAGS)
			q.flags = PROTO_CURSOR_HAS_START | PROTO_CURSOR_HAS_END;
		if (d->fields & PROTO_F_CURSOR)
			q.cursor_id = 77;
		if (d->fields & PROTO_F_MAX_PAIRS)
			q.max_pairs = 9;
		if (d->fields & PROTO_F_KEY)
			q.key = (struct proto_bytes){k, 2};
		if (d->fields & PROTO_F_VALUE)
			q.value = (struct proto_bytes){v, 3};
		if (d->fields & PROTO_F_START)
			q.start = (struct proto_bytes){st, 1};
		if (d->fields & PROTO_F_END)
			q.end = (struct proto_bytes){en, 4};
		struct proto_request r;
		roundtrip(&q, &r);
		assert_int_equal(r.type, t);
		assert_int_equal(r.id, 100 + t);
		assert_int_equal(r.max_frame, q.max_frame);
		assert_int_equal(r.timeout_ms, q.timeout_ms);
		assert_int_equal(r.flags, q.flags);
		assert_int_equal(r.cursor_id, q.cursor_id);
		assert_int_equal(r.max_pairs, q.max_pairs);
		const struct proto_bytes *a[] = {&q.key, &q.value, &q.start, &q.end};
		const struct proto_bytes *b[] = {&r.key, &r.value, &r.start, &r.end};
		for (int i = 0; i < 4; i++) {
			assert_int_equal(b[i]->len, a[i]->len);
			if (a[i]->len)
				assert_memory_equal(b[i]->p, a[i]->p, a[i]->len);
		}
	}
	assert_int_equal(rows, 16);
	/* replies are not request rows, and an unknown type is not encoded */
	assert_null(proto_req(PROTO_OK));
	assert_null(proto_req(PROTO_ERROR));
	assert_null(proto_req(0x7f));
	struct proto_writer w;
	proto_writer_init(&w, buf, sizeof(buf));
	struct proto_request bad = {.type = 0x7f, .id = 1};
	assert_int_equal(proto_request_encode(&w, &bad), EKV_EINVAL);
}

static void test_header_layout_is_little_endian(void **state)
{
	(void)state;
	struct proto_writer w;
	proto_writer_init(&w, buf, sizeof(buf));
	struct proto_request q = {.type = PROTO_GET, .id = 0x01020304, .key = {(const uint8_t *)"ab", 2}};
	assert_int_equal(proto_request_encode(&w, &q), 18);
	static const uint8_t want[] = {6, 0, 0, 0, PROTO_VERSION, PROTO_GET, 0, 0, 4, 3, 2, 1,
				       2, 0, 0, 0, 'a', 'b'};
	assert_memory_equal(buf, want, sizeof(want));
}

static void test_bad_headers_are_refused(void **state)
{
	(void)state;
	struct proto_header h;
	const char *why = NULL;
	uint8_t b[PROTO_HEADER_SIZE] = {0, 0, 0, 0, PROTO_VERSION, PROTO_STAT, 0, 0, 1, 0, 0, 0};
	assert_int_equal(proto_header_decode(b, 100, &h, &why), 0);

	b[4] = 2;
	assert_int_equal(proto_header_decode(b, 100, &h, &why), EKV_EPROTO);
	assert_non_null(strstr(why, "version"));
	b[4] = PROTO_VERSION;

	b[6] = 1;
	assert_int_equal(proto_header_decode(b, 100, &h, &why), EKV_EPROTO);
	b[6] = 0;

	b[5] = 0x7f;
	assert_int_equal(proto_header_decode(b, 100, &h, &why), EKV_EPROTO);
	b[5] = PROTO_STAT;

	b[0] = 101;
	assert_int_equal(proto_header_decode(b, 100, &h, &why), EKV_EPROTO);
	assert_non_null(strstr(why, "limit"));
	memset(b, 0xff, 4);
	assert_int_equal(proto_header_decode(b, 100, &h, &why), EKV_EPROTO);
}

/* Decode a request of `type` with the given payload. */
static int decode(uint8_t type, uint32_t id, const uint8_t *payload, uint32_t len)
{
	struct proto_header h = {len, PROTO_VERSION, type, 0, id};
	struct proto_request r;
	/* copy to the heap so that ASan catches a read past the payload */
	uint8_t *p = calloc(1, len ? len : 1);
	if (len)
		memcpy(p, payload, len);
	int e = proto_request_decode(&h, p, &r, NULL);
	free(p);
	return e;
}

static void test_malformed_payloads_are_refused(void **state)
{
	(void)state;
	/* request id 0 is reserved for the daemon's farewell */
	assert_int_equal(decode(PROTO_STAT, 0, NULL, 0), EKV_EPROTO);
	/* trailing bytes */
	assert_int_equal(decode(PROTO_STAT, 1, (const uint8_t *)"x", 1), EKV_EPROTO);
	/* short fixed fields */
	assert_int_equal(decode(PROTO_HELLO, 1, (const uint8_t *)"\0\0\1", 3), EKV_EPROTO);
	assert_int_equal(decode(PROTO_WTX_BEGIN, 1, (const uint8_t *)"\0\0", 2), EKV_EPROTO);
	/* HELLO's reserved flags */
	static const uint8_t hello_flags[] = {0, 0, 1, 0, 1, 0, 0, 0};
	assert_int_equal(decode(PROTO_HELLO, 1, hello_flags, 8), EKV_EPROTO);
	/* a key longer than the payload, and one whose length overflows */
	static const uint8_t long_key[] = {5, 0, 0, 0, 'a', 'b'};
	assert_int_equal(decode(PROTO_GET, 1, long_key, sizeof(long_key)), EKV_EPROTO);
	static const uint8_t huge_key[] = {0xff, 0xff, 0xff, 0xff, 'a'};
	assert_int_equal(decode(PROTO_GET, 1, huge_key, sizeof(huge_key)), EKV_EPROTO);
	/* PUT without its value */
	static const uint8_t put_no_value[] = {1, 0, 0, 0, 'a'};
	assert_int_equal(decode(PROTO_PUT, 1, put_no_value, sizeof(put_no_value)), EKV_EPROTO);
	/* cursor: unknown flag, prefix with an end, end bytes without HAS_END, 0 pairs */
	static const uint8_t cur_bad_flag[] = {8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	assert_int_equal(decode(PROTO_CURSOR_OPEN, 1, cur_bad_flag, 16), EKV_EPROTO);
	static const uint8_t cur_prefix_end[] = {7, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	assert_int_equal(decode(PROTO_CURSOR_OPEN, 1, cur_prefix_end, 16), EKV_EPROTO);
	static const uint8_t cur_stray_end[] = {1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,
						1, 0, 0, 0, 'z'};
	assert_int_equal(decode(PROTO_CURSOR_OPEN, 1, cur_stray_end, 17), EKV_EPROTO);
	static const uint8_t cur_zero[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	assert_int_equal(decode(PROTO_CURSOR_OPEN, 1, cur_zero, 16), EKV_EPROTO);
	static const uint8_t next_zero[] = {1, 0, 0, 0, 0, 0, 0, 0};
	assert_int_equal(decode(PROTO_CURSOR_NEXT, 1, next_zero, 8), EKV_EPROTO);
	/* replies are not requests */
	assert_int_equal(decode(PROTO_OK, 1, NULL, 0), EKV_EPROTO);
	assert_int_equal(decode(PROTO_ERROR, 1, NULL, 0), EKV_EPROTO);
}

static void test_replies_round_trip(void **state)
{
	(void)state;
	struct proto_writer w;

	/* error */
	proto_writer_init(&w, buf, sizeof(buf));
	proto_error_encode(&w, EKV_EBUSY, "queue full");
	int code;
	struct proto_bytes msg;
	assert_int_equal(proto_error_decode(buf, (uint32_t)w.len, &code, &msg), 0);
	assert_int_equal(code, EKV_EBUSY);
	assert_int_equal(msg.len, 10);
	/* an "error" that is not negative would read as success: refused */
	proto_writer_init(&w, buf, sizeof(buf));
	proto_error_encode(&w, 0, NULL);
	assert_int_equal(proto_error_decode(buf, (uint32_t)w.len, &code, &msg), EKV_EPROTO);

	/* hello */
	struct proto_hello h = {.max_frame = 65536, .flags = PROTO_HELLO_READ_ONLY,
				.database = {(const uint8_t *)"image:/x", 8},
				.name = {(const uint8_t *)"cfg", 3}};
	ekv_profile_default(&h.profile);
	h.profile.crc = true;
	h.profile.erase_value = 0;
	proto_writer_init(&w, buf, sizeof(buf));
	proto_hello_encode(&w, &h);
	struct proto_hello g;
	assert_int_equal(proto_hello_decode(buf, (uint32_t)w.len, &g), 0);
	assert_int_equal(g.max_frame, 65536);
	assert_int_equal(g.flags, PROTO_HELLO_READ_ONLY);
	assert_memory_equal(&g.profile, &h.profile, sizeof(h.profile));
	assert_int_equal(g.database.len, 8);
	assert_memory_equal(g.name.p, "cfg", 3);
	assert_int_equal(proto_hello_decode(buf, (uint32_t)w.len - 1, &g), EKV_EPROTO);

	/* stat */
	struct ekv_stat st, st2;
	memset(&st, 0, sizeof(st));
	st.page_count = 256;
	st.pages_used = 17;
	st.file_count = 5;
	st.file_pages[4] = 3;
	st.file_bytes[4] = 1ull << 40;
	st.file_flags[2] = 1;
	st.generation = 99;
	proto_writer_init(&w, buf, sizeof(buf));
	proto_stat_encode(&w, &st);
	assert_int_equal(proto_stat_decode(buf, (uint32_t)w.len, &st2), 0);
	assert_memory_equal(&st, &st2, sizeof(st));

	/* batch */
	proto_writer_init(&w, buf, sizeof(buf));
	size_t head = proto_batch_begin(&w, 77);
	proto_put_bytes(&w, "k1", 2);
	proto_put_bytes(&w, "v1", 2);
	proto_put_bytes(&w, "", 0);
	proto_put_bytes(&w, "", 0);
	proto_batch_finish(&w, head, PROTO_BATCH_END, 2);
	struct proto_batch b;
	assert_int_equal(proto_batch_decode(buf, (uint32_t)w.len, &b), 0);
	assert_int_equal(b.cursor_id, 77);
	assert_int_equal(b.status, PROTO_BATCH_END);
	struct proto_bytes k, v;
	assert_int_equal(proto_batch_next(&b, &k, &v), 1);
	assert_memory_equal(k.p, "k1", 2);
	assert_int_equal(proto_batch_next(&b, &k, &v), 1);
	assert_int_equal(k.len + v.len, 0);
	assert_int_equal(proto_batch_next(&b, &k, &v), 0);
	/* a count larger than the pairs present */
	proto_batch_finish(&w, head, PROTO_BATCH_MORE, 3);
	assert_int_equal(proto_batch_decode(buf, (uint32_t)w.len, &b), EKV_EPROTO);
	proto_batch_finish(&w, head, 5, 2); /* unknown status */
	assert_int_equal(proto_batch_decode(buf, (uint32_t)w.len, &b), EKV_EPROTO);
}

static void test_writer_overflow_is_reported(void **state)
{
	(void)state;
	struct proto_writer w;
	uint8_t small[20];
	proto_writer_init(&w, small, sizeof(small));
	struct proto_request q = {.type = PROTO_PUT, .id = 1, .key = {(const uint8_t *)"k", 1},
				  .value = {buf, 100}};
	assert_int_equal(proto_request_encode(&w, &q), EKV_ETOOBIG);
}

/* Version 1.1: STAT carries what the daemon's mount recovered from; a 1.0
 * reply (without those fields) still decodes, with no recovery known. */
static void test_stat_reply_carries_the_recovery_fields(void **state)
{
	(void)state;
	struct ekv_stat st = {.page_count = 256, .meta_page = 7, .meta_seq = 3, .file_count = 2,
			      .damaged = true, .damaged_meta_page = 9, .damaged_meta_seq = 4,
			      .lost_commits = 5, .lost_files = 3},
			st2;
	struct proto_writer w;
	proto_writer_init(&w, buf, sizeof(buf));
	proto_stat_encode(&w, &st);
	assert_int_equal(proto_stat_decode(buf, (uint32_t)w.len, &st2), 0);
	assert_true(st2.damaged);
	assert_int_equal(st2.damaged_meta_page, 9);
	assert_int_equal(st2.damaged_meta_seq, 4);
	assert_int_equal(st2.lost_commits, 5);
	assert_int_equal(st2.lost_files, 3);
	/* the same reply as a 1.0 daemon sends it: 17 bytes shorter */
	assert_int_equal(proto_stat_decode(buf, (uint32_t)w.len - 17, &st2), 0);
	assert_false(st2.damaged);
	assert_int_equal(st2.meta_seq, 3);
	/* anything else in between is a violation */
	assert_int_equal(proto_stat_decode(buf, (uint32_t)w.len - 3, &st2), EKV_EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_request_round_trips),
		cmocka_unit_test(test_stat_reply_carries_the_recovery_fields),
		cmocka_unit_test(test_every_request_row_round_trips),
		cmocka_unit_test(test_header_layout_is_little_endian),
		cmocka_unit_test(test_bad_headers_are_refused),
		cmocka_unit_test(test_malformed_payloads_are_refused),
		cmocka_unit_test(test_replies_round_trip),
		cmocka_unit_test(test_writer_overflow_is_reported),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
