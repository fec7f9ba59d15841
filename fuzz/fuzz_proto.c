/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * fuzz_proto.c — libFuzzer target for the ekvd frame parser (lib/proto.c):
 * the input is a stream of frames as a socket would deliver them; each is
 * decoded as a request, and its payload also as every kind of reply.
 * Decoding must never read outside the input or crash, whatever the bytes.
 * Seeds: gen_corpus writes a frame of every type.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the first byte picks the frame size limit, as a daemon option would */
	if (size < 1)
		return 0;
	uint32_t max_payload = 64u + ((uint32_t)data[0] << 10);
	data++;
	size--;
	while (size >= PROTO_HEADER_SIZE) {
		struct proto_header h;
		const char *why;
		if (proto_header_decode(data, max_payload, &h, &why) < 0)
			break;
		if (h.payload_len > size - PROTO_HEADER_SIZE)
			break;
		/* a copy of exactly the payload, so that ASan sees any overread */
		uint8_t *p = malloc(h.payload_len ? h.payload_len : 1);
		if (!p)
			return 0;
		if (h.payload_len)
			memcpy(p, data + PROTO_HEADER_SIZE, h.payload_len);
		struct proto_request r;
		if (proto_request_decode(&h, p, &r, &why) == 0) {
			/* every byte string must lie inside the payload */
			const struct proto_bytes *bs[] = {&r.key, &r.value, &r.start, &r.end};
			for (int i = 0; i < 4; i++)
				if (bs[i]->len && (bs[i]->p < p ||
						   bs[i]->p + bs[i]->len > p + h.payload_len))
					abort();
		}
		int code;
		struct proto_bytes b, k, v;
		proto_error_decode(p, h.payload_len, &code, &b);
		struct proto_hello hello;
		proto_hello_decode(p, h.payload_len, &hello);
		struct ekv_stat st;
		proto_stat_decode(p, h.payload_len, &st);
		int32_t i32;
		proto_i32_decode(p, h.payload_len, &i32);
		proto_value_decode(p, h.payload_len, &b);
		struct proto_batch batch;
		if (proto_batch_decode(p, h.payload_len, &batch) == 0) {
			uint32_t n = 0;
			int e;
			while ((e = proto_batch_next(&batch, &k, &v)) == 1)
				n++;
			/* a batch that decoded walks to its count without error */
			if (e < 0 || n != batch.count)
				abort();
		}
		free(p);
		data += PROTO_HEADER_SIZE + h.payload_len;
		size -= PROTO_HEADER_SIZE + h.payload_len;
	}
	return 0;
}
