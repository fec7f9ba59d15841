/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * gen_corpus.c — writes the seed corpora of the fuzz targets.
 *
 *   gen_corpus OUTDIR TESTDATA_DIR [STAMP_FILE]
 *
 * OUTDIR/fuzz_image: the images in TESTDATA_DIR (the Rust crate's, raw or
 * gzip) prefixed with the selector byte of their profile, trailing erased
 * bytes trimmed; plus images this library writes for every profile (empty,
 * after a few transactions, after many with rollovers and compactions).
 * OUTDIR/fuzz_ops: deterministic pseudo-random operation streams for every
 * profile, and a few that are mostly power cuts or mostly I/O errors.
 * OUTDIR/fuzz_proto: a valid frame of every request type, one stream of all
 * of them, and one of every kind of reply.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "ekv.h"
#include "ekv_test.h"
#include "fuzz_profiles.h"
#include "proto.h"
#include "rng.h"

static void mkdir_p(const char *path)
{
	char buf[4096];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p == '/') {
			*p = 0;
			mkdir(buf, 0755);
			*p = '/';
		}
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST) {
		perror(buf);
		exit(1);
	}
}

static void write_seed(const char *dir, const char *name, uint8_t sel, const uint8_t *b,
		       size_t n, uint8_t erase)
{
	while (n && b[n - 1] == erase) /* the target pads with the erased value */
		n--;
	char path[8400];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(&sel, 1, 1, f) != 1 || (n && fwrite(b, 1, n, f) != n) || fclose(f)) {
		perror(path);
		exit(1);
	}
}

/* Read a file, gunzipping it if it is gzip (zlib reads plain files too). */
static uint8_t *load(const char *path, size_t *len)
{
	gzFile z = gzopen(path, "rb");
	if (!z)
		return NULL;
	size_t cap = 1 << 20, n = 0;
	uint8_t *b = malloc(cap);
	for (;;) {
		if (n == cap) {
			cap *= 2;
			b = realloc(b, cap);
		}
		int r = gzread(z, b + n, (unsigned)(cap - n));
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	gzclose(z);
	*len = n;
	return b;
}

/* Images written by this library for profile sel after `txs` transactions. */
static void own_image(const char *dir, uint8_t sel, int txs)
{
	const struct fprof *fp = &image_profiles[sel];
	struct ekv_profile p;
	fprof_profile(fp, &p);
	struct ekv_flash *f;
	ekv_db *db;
	struct ekv_options o;
	ekv_options_default(&o);
	o.seed = 1000u + sel;
	o.seed_set = true;
	if (ekv_flash_mem_new(fp->page_size, fp->pages, fp->erase, &f) < 0 ||
	    ekv_open(f, &p, &o, &db) < 0 || ekv_format(db) < 0) {
		fprintf(stderr, "gen_corpus: cannot create a database for %s\n", fp->name);
		exit(1);
	}
	uint64_t s = sel * 7919u + (uint64_t)txs;
	uint8_t v[2048];
	for (int t = 0; t < txs; t++) {
		ekv_wtx *tx;
		if (ekv_wtx_begin(db, &tx) < 0)
			break;
		int n = 1 + (int)(rng_u64(&s) % 3), e = 0;
		uint32_t id = (uint32_t)(rng_u64(&s) % 40);
		for (int i = 0; i < n && e == 0; i++, id += 1 + (uint32_t)(rng_u64(&s) % 4)) {
			char k[16];
			snprintf(k, sizeof(k), "key%03u", id);
			if (rng_u64(&s) % 5 == 0) {
				e = ekv_wtx_delete(tx, k, strlen(k));
			} else {
				uint32_t len = (uint32_t)(rng_u64(&s) % (fp->max_value + 1));
				for (uint32_t j = 0; j < len; j++)
					v[j] = (uint8_t)rng_u64(&s);
				e = ekv_wtx_put(tx, k, strlen(k), v, len);
			}
		}
		if (e == 0)
			ekv_wtx_commit(tx);
		else
			ekv_wtx_abort(tx);
	}
	char name[64];
	snprintf(name, sizeof(name), "own-%s-%d", fp->name, txs);
	write_seed(dir, name, sel, ekv_flash_mem_data(f), (size_t)fp->page_size * fp->pages,
		   fp->erase);
	ekv_close(db);
	ekv_flash_close(f);
}

/* ---- fuzz_proto: frames as a socket delivers them ------------------------------------ */

/* A stream for fuzz_proto: byte 0 sets the frame limit (64 + 64 KiB), then
 * the frames w holds. */
static void write_stream(const char *dir, const char *name, const struct proto_writer *w)
{
	if (w->overflow) {
		fprintf(stderr, "gen_corpus: %s does not fit\n", name);
		exit(1);
	}
	char path[8400];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	uint8_t sel = 64;
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(&sel, 1, 1, f) != 1 || fwrite(w->p, 1, w->len, f) != w->len || fclose(f)) {
		perror(path);
		exit(1);
	}
}

/* A valid request of each type (one seed each and one stream of all of
 * them), and a reply of each kind.  Returns the number of seeds. */
static int proto_seeds(const char *dir)
{
	static uint8_t all[16384], one[1024];
	static const uint8_t key[] = "key", val[] = "value";
	static const uint8_t types[] = {
		PROTO_HELLO, PROTO_STAT, PROTO_MOUNT, PROTO_FORMAT, PROTO_COMPACT,
		PROTO_RTX_BEGIN, PROTO_GET, PROTO_CURSOR_OPEN, PROTO_CURSOR_NEXT,
		PROTO_CURSOR_CLOSE, PROTO_RTX_END, PROTO_WTX_BEGIN, PROTO_PUT, PROTO_DELETE,
		PROTO_COMMIT, PROTO_WTX_BEGIN, PROTO_ABORT,
	};
	struct proto_writer w_all, w;
	proto_writer_init(&w_all, all, sizeof(all));
	int count = 0;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct proto_request r = {.type = types[i], .id = (uint32_t)i + 1,
					  .max_frame = PROTO_DEFAULT_MAX_FRAME, .timeout_ms = 100,
					  .max_pairs = 8, .cursor_id = 1};
		if (r.type == PROTO_GET || r.type == PROTO_PUT || r.type == PROTO_DELETE)
			r.key = (struct proto_bytes){key, 3};
		if (r.type == PROTO_PUT)
			r.value = (struct proto_bytes){val, 5};
		proto_writer_init(&w, one, sizeof(one));
		proto_request_encode(&w, &r);
		proto_request_encode(&w_all, &r);
		/* a seed the decoder takes, so that fuzzing starts past it */
		struct proto_header hd;
		struct proto_request back;
		if (proto_header_decode(one, PROTO_DEFAULT_MAX_FRAME, &hd, NULL) < 0 ||
		    proto_request_decode(&hd, one + PROTO_HEADER_SIZE, &back, NULL) < 0) {
			fprintf(stderr, "gen_corpus: request type 0x%02x does not decode\n",
				r.type);
			exit(1);
		}
		char name[64];
		snprintf(name, sizeof(name), "request-%02x-%zu", r.type, i);
		write_stream(dir, name, &w);
		count++;
	}
	write_stream(dir, "requests", &w_all);

	/* replies: hello, stat, a value, an i32, a batch, an error */
	proto_writer_init(&w, all, sizeof(all));
	struct proto_hello h = {.max_frame = PROTO_DEFAULT_MAX_FRAME,
				.database = {(const uint8_t *)"image:/x.img", 12},
				.name = {(const uint8_t *)"default", 7}};
	ekv_profile_default(&h.profile);
	proto_frame_begin(&w, PROTO_OK, 1);
	proto_hello_encode(&w, &h);
	proto_frame_end(&w);
	struct ekv_stat st = {.page_count = 256, .pages_used = 3, .file_count = 2};
	st.file_pages[1] = 2;
	st.file_bytes[1] = 100;
	proto_frame_begin(&w, PROTO_OK, 2);
	proto_stat_encode(&w, &st);
	proto_frame_end(&w);
	proto_frame_begin(&w, PROTO_OK, 3);
	proto_put_bytes(&w, val, 5);
	proto_frame_end(&w);
	proto_frame_begin(&w, PROTO_OK, 4);
	proto_put_u32(&w, 1);
	proto_frame_end(&w);
	proto_frame_begin(&w, PROTO_OK, 5);
	size_t head = proto_batch_begin(&w, 1);
	proto_put_bytes(&w, key, 3);
	proto_put_bytes(&w, val, 5);
	proto_put_bytes(&w, val, 5);
	proto_put_bytes(&w, key, 3);
	proto_batch_finish(&w, head, PROTO_BATCH_END, 2);
	proto_frame_end(&w);
	proto_frame_begin(&w, PROTO_ERROR, 6);
	proto_error_encode(&w, EKV_EBUSY, "another writer holds it");
	proto_frame_end(&w);
	write_stream(dir, "replies", &w);
	return count + 2;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: gen_corpus OUTDIR TESTDATA_DIR [STAMP_FILE]\n");
		return 2;
	}
	char img_dir[4096], ops_dir[4096], proto_dir[4096], path[8400];
	snprintf(img_dir, sizeof(img_dir), "%s/fuzz_image", argv[1]);
	snprintf(ops_dir, sizeof(ops_dir), "%s/fuzz_ops", argv[1]);
	snprintf(proto_dir, sizeof(proto_dir), "%s/fuzz_proto", argv[1]);
	mkdir_p(img_dir);
	mkdir_p(ops_dir);
	mkdir_p(proto_dir);
	int count = proto_seeds(proto_dir);

	/* the Rust crate's images, for the profiles fuzz_image knows */
	static const struct {
		const char *file;
		const char *profile;
	} rust[] = {
		{"small.bin", "default"},        {"medium.bin", "default"},
		{"profiles/p128.bin.gz", "p128"}, {"profiles/p128crc.bin.gz", "p128crc"},
		{"profiles/p256a1.bin.gz", "p256a1"}, {"profiles/p1024.bin.gz", "p1024"},
		{"profiles/default.bin.gz", "default"}, {"profiles/crc.bin.gz", "crc"},
		{"profiles/e00.bin.gz", "e00"},         {"profiles/bf4.bin.gz", "bf4"},
		{"profiles/p256a2.bin.gz", "p256a2"}, {"profiles/c512crc.bin.gz", "c512crc"},
		{"profiles/a2e00crc.bin.gz", "a2e00crc"}, {"profiles/p65536.bin.gz", "p65536"},
		{"profiles/bf3.bin.gz", "bf3"},
	};
	for (size_t i = 0; i < sizeof(rust) / sizeof(rust[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", argv[2], rust[i].file);
		size_t n;
		uint8_t *b = load(path, &n);
		if (!b) {
			fprintf(stderr, "gen_corpus: %s missing, skipped\n", path);
			continue;
		}
		uint8_t sel = 0;
		while (sel < N_IMAGE_PROFILES && strcmp(image_profiles[sel].name, rust[i].profile))
			sel++;
		char name[256];
		snprintf(name, sizeof(name), "rust-%s", strrchr(path, '/') + 1);
		write_seed(img_dir, name, sel, b, n, image_profiles[sel].erase);
		free(b);
		count++;
	}
	/* our own images, every profile */
	static const int txs[] = {0, 5, 60, 400};
	for (uint8_t sel = 0; sel < N_IMAGE_PROFILES; sel++) {
		bool big = (size_t)image_profiles[sel].page_size * image_profiles[sel].pages > 65536;
		for (size_t i = 0; i < sizeof(txs) / sizeof(txs[0]); i++, count++)
			own_image(img_dir, sel, big && txs[i] > 60 ? 150 : txs[i]);
	}

	/* operation streams: byte 0 selects the profile */
	for (uint8_t sel = 0; sel < N_OPS_PROFILES; sel++) {
		for (int kind = 0; kind < 4; kind++, count++) {
			uint64_t s = sel * 131u + (uint64_t)kind;
			uint8_t b[600];
			b[0] = sel;
			for (size_t i = 1; i < sizeof(b); i++)
				b[i] = (uint8_t)rng_u64(&s);
			/* kind 1: every op a power cut; kind 2: every op an I/O error;
			 * kind 3: short */
			size_t n = kind == 3 ? 40 : sizeof(b);
			for (size_t i = 1; kind && kind < 3 && i < n; i += 8)
				b[i] = kind == 1 ? 7 : 10;
			char name[64];
			snprintf(name, sizeof(name), "ops-%s-%d", ops_profiles[sel].name, kind);
			snprintf(path, sizeof(path), "%s/%s", ops_dir, name);
			FILE *f = fopen(path, "wb");
			if (!f || fwrite(b, 1, n, f) != n || fclose(f)) {
				perror(path);
				return 1;
			}
		}
	}
	if (argc > 3) {
		FILE *f = fopen(argv[3], "w");
		if (!f) {
			perror(argv[3]);
			return 1;
		}
		fprintf(f, "%d seeds\n", count);
		fclose(f);
	}
	printf("gen_corpus: %d seeds in %s\n", count, argv[1]);
	return 0;
}
