/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * fuzz_smoke.c — runs the libFuzzer target fuzz/fuzz_proto.c without
 * libFuzzer (any compiler, every test run): valid frames of every type,
 * then a deterministic stream of mutations of them and of random bytes.
 * Run under ASan/UBSan it is a quick guard; the real fuzzing is
 * `fuzz_proto` built with clang -fsanitize=fuzzer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "rng.h" /* tests/support: rng_u64 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t rng = 0x9e3779b97f4a7c15ull; /* the seed: the mutations are the same each run */

static uint32_t next_rand(void)
{
	return (uint32_t)rng_u64(&rng);
}

/* A stream holding one valid frame of every kind. */
static size_t seed_stream(uint8_t *buf, size_t cap)
{
	struct proto_writer w;
	proto_writer_init(&w, buf, cap);
	proto_put_u8(&w, 4);
	static const uint8_t key[] = "key", val[] = "value";
	const struct proto_request reqs[] = {
		{.type = PROTO_HELLO, .id = 1, .max_frame = 65536},
		{.type = PROTO_RTX_BEGIN, .id = 2},
		{.type = PROTO_GET, .id = 3, .key = {key, 3}},
		{.type = PROTO_CURSOR_OPEN, .id = 4, .flags = PROTO_CURSOR_HAS_START | PROTO_CURSOR_PREFIX,
		 .max_pairs = 16, .start = {key, 1}},
		{.type = PROTO_CURSOR_NEXT, .id = 5, .cursor_id = 1, .max_pairs = 4},
		{.type = PROTO_CURSOR_CLOSE, .id = 6, .cursor_id = 1},
		{.type = PROTO_RTX_END, .id = 7},
		{.type = PROTO_WTX_BEGIN, .id = 8, .timeout_ms = 100},
		{.type = PROTO_PUT, .id = 9, .key = {key, 3}, .value = {val, 5}},
		{.type = PROTO_DELETE, .id = 10, .key = {key, 2}},
		{.type = PROTO_COMMIT, .id = 11},
		{.type = PROTO_STAT, .id = 12},
	};
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++)
		proto_request_encode(&w, &reqs[i]);
	proto_frame_begin(&w, PROTO_ERROR, 0);
	proto_error_encode(&w, EKV_EBUSY, "busy");
	proto_frame_end(&w);
	proto_frame_begin(&w, PROTO_OK, 4);
	size_t head = proto_batch_begin(&w, 1);
	proto_put_bytes(&w, key, 3);
	proto_put_bytes(&w, val, 5);
	proto_batch_finish(&w, head, PROTO_BATCH_END, 1);
	proto_frame_end(&w);
	return w.overflow ? 0 : w.len;
}

int main(int argc, char **argv)
{
	long rounds = argc > 1 ? atol(argv[1]) : 200000;
	uint8_t seed[2048], buf[2048];
	size_t n = seed_stream(seed, sizeof(seed));
	if (!n) {
		fprintf(stderr, "seed stream too large\n");
		return 1;
	}
	LLVMFuzzerTestOneInput(seed, n);
	for (long i = 0; i < rounds; i++) {
		size_t len = n;
		memcpy(buf, seed, n);
		switch (next_rand() % 4) {
		case 0: /* flip bytes */
			for (int k = 1 + next_rand() % 8; k > 0; k--)
				buf[next_rand() % len] = (uint8_t)next_rand();
			break;
		case 1: /* truncate */
			len = next_rand() % (n + 1);
			break;
		case 2: /* small or huge lengths in a header or a byte string */
			for (int k = 1 + next_rand() % 3; k > 0; k--) {
				size_t at = next_rand() % (len - 4);
				uint32_t v = next_rand() % 2 ? next_rand() % 64 : next_rand();
				memcpy(buf + at, &v, 4);
			}
			break;
		default: /* random bytes */
			len = next_rand() % sizeof(buf);
			for (size_t k = 0; k < len; k++)
				buf[k] = (uint8_t)next_rand();
			break;
		}
		/* the input on the heap, exactly sized, so ASan sees overreads */
		uint8_t *p = malloc(len ? len : 1);
		if (len)
			memcpy(p, buf, len);
		LLVMFuzzerTestOneInput(p, len);
		free(p);
	}
	printf("%ld inputs\n", rounds + 1);
	return 0;
}
