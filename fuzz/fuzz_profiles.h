/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * fuzz_profiles.h — the profiles the fuzz targets use, selected by the first
 * input byte; shared with gen_corpus, which writes seeds for each of them.
 */
#ifndef EKV_FUZZ_PROFILES_H
#define EKV_FUZZ_PROFILES_H

#include <stdbool.h>
#include <stdint.h>

#include "ekv.h"

struct fprof {
	const char *name;
	uint32_t page_size, pages, align;
	uint8_t erase;
	bool crc;
	uint32_t max_key, max_value, scratch;
	uint32_t bf, chunk; /* 0: the default (2, 4096) */
};

/* fuzz_image: the profiles of the seed images in tests/data (the Rust
 * crate's, tests/test_rust_profiles.c), plus a small one with erase value
 * 0x00 and crc; small ones fuzz fastest.  New profiles go at the end: the
 * selector byte of existing corpus files must keep its meaning. */
static const struct fprof image_profiles[] = {
	{"p128", 128, 32, 4, 0xff, false, 64, 16, 0, 0, 0},
	{"p128crc", 128, 32, 4, 0xff, true, 64, 16, 0, 0, 0},
	{"p256a1", 256, 64, 1, 0xff, false, 64, 128, 4, 0, 0},
	{"p1024", 1024, 16, 4, 0xff, false, 64, 16, 0, 0, 0},
	{"default", 4096, 256, 4, 0xff, false, 64, 1024, 4, 0, 0},
	{"e00a2crc", 256, 64, 2, 0x00, true, 64, 128, 4, 0, 0},
	{"crc", 4096, 256, 4, 0xff, true, 64, 1024, 4, 0, 0},
	{"e00", 4096, 256, 4, 0x00, false, 64, 1024, 4, 0, 0},
	{"bf4", 512, 128, 4, 0xff, false, 64, 1024, 4, 4, 0},
	{"p256a2", 256, 256, 2, 0xff, false, 64, 1024, 8, 0, 0},
	{"c512crc", 4096, 256, 4, 0xff, true, 64, 1024, 4, 0, 512},
	{"a2e00crc", 2048, 128, 2, 0x00, true, 64, 1024, 4, 0, 0},
	{"p65536", 65536, 32, 4, 0xff, false, 64, 1024, 4, 0, 0},
	{"bf3", 4096, 1024, 4, 0xff, false, 64, 1024, 4, 3, 0},
};
#define N_IMAGE_PROFILES (sizeof(image_profiles) / sizeof(image_profiles[0]))

/* fuzz_ops: small flashes, so that power cuts, compactions and rollovers
 * come quickly */
static const struct fprof ops_profiles[] = {
	{"p256a1", 256, 32, 1, 0xff, false, 8, 64, 2, 0, 0},
	{"p128crc", 128, 32, 4, 0xff, true, 8, 16, 0, 0, 0},
	{"p256a2e00", 256, 32, 2, 0x00, false, 8, 64, 2, 0, 0},
	{"p512crc", 512, 16, 4, 0xff, true, 8, 100, 0, 0, 0},
};
#define N_OPS_PROFILES (sizeof(ops_profiles) / sizeof(ops_profiles[0]))

static inline void fprof_profile(const struct fprof *fp, struct ekv_profile *p)
{
	ekv_profile_default(p);
	p->layout = 1; /* the Rust crate's layout */
	p->page_size = fp->page_size;
	p->page_count = p->max_page_count = fp->pages;
	p->align = fp->align;
	p->erase_value = fp->erase;
	p->crc = fp->crc;
	p->max_key_size = fp->max_key;
	p->max_value_size = fp->max_value;
	p->scratch_page_count = fp->scratch;
	if (fp->bf)
		p->branching_factor = fp->bf;
	if (fp->chunk)
		p->max_chunk_size = fp->chunk;
}

#endif
