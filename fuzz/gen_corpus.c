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

static uint64_t rng(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

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
		int n = 1 + (int)(rng(&s) % 3), e = 0;
		uint32_t id = (uint32_t)(rng(&s) % 40);
		for (int i = 0; i < n && e == 0; i++, id += 1 + (uint32_t)(rng(&s) % 4)) {
			char k[16];
			snprintf(k, sizeof(k), "key%03u", id);
			if (rng(&s) % 5 == 0) {
				e = ekv_wtx_delete(tx, k, strlen(k));
			} else {
				uint32_t len = (uint32_t)(rng(&s) % (fp->max_value + 1));
				for (uint32_t j = 0; j < len; j++)
					v[j] = (uint8_t)rng(&s);
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

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: gen_corpus OUTDIR TESTDATA_DIR [STAMP_FILE]\n");
		return 2;
	}
	char img_dir[4096], ops_dir[4096], path[8400];
	snprintf(img_dir, sizeof(img_dir), "%s/fuzz_image", argv[1]);
	snprintf(ops_dir, sizeof(ops_dir), "%s/fuzz_ops", argv[1]);
	mkdir_p(img_dir);
	mkdir_p(ops_dir);
	int count = 0;

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
				b[i] = (uint8_t)rng(&s);
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
