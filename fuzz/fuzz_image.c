/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * fuzz_image.c — arbitrary image bytes must only ever produce error codes.
 *
 * Input: byte 0 selects a profile, the rest is the flash image (shorter
 * inputs are padded with the erased value).  The target mounts it, reads
 * keys (from the input and from the scan), scans everything with a full,
 * a range and a prefix cursor, writes and commits one transaction (which
 * must then read back, also after a remount), runs one compaction step and
 * scans again.  Any crash, sanitizer report, hang (libFuzzer -timeout) or
 * result code other than "corrupted / not formatted / full / not found" is a
 * finding.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ekv.h"
#include "ekv_test.h"
#include "fuzz_common.h"
#include "fuzz_profiles.h"

/* sorts after every key of at most 5 bytes, so the delete (<= 4 bytes)
 * can come first in the transaction */
#define PUT_KEY "\xff\xff\xff\xff\xff\xff"

static struct ekv_flash *flashes[N_IMAGE_PROFILES];
static uint8_t kbuf[1100], vbuf[70000], vbuf2[70000];

static ekv_db *open_db(struct ekv_flash *f, const struct ekv_profile *p, uint32_t seed)
{
	struct ekv_options o;
	ekv_options_default(&o);
	o.seed = seed;
	o.seed_set = true;
	o.busy_timeout_ms = 0;
	ekv_db *db;
	int e = ekv_open(f, p, &o, &db);
	if (e < 0)
		FUZZ_FAIL("ekv_open: %s", ekv_strerror(e));
	return db;
}

/* Iterate a cursor to its end; it must terminate within one record per image
 * byte.  Every key found is also looked up. */
static void drain(ekv_rtx *rtx, ekv_cursor *c, size_t limit, bool lookups)
{
	size_t kl, vl, n = 0;
	int e;
	while ((e = ekv_cursor_next(c, kbuf, sizeof(kbuf), &kl, vbuf, sizeof(vbuf), &vl)) == 1) {
		if (++n > limit)
			FUZZ_FAIL("cursor returned more records than the image has bytes");
		if (lookups && n % 7 == 1) {
			size_t gl;
			fuzz_expect_code(ekv_rtx_get(rtx, kbuf, kl, vbuf2, sizeof(vbuf2), &gl),
					 "get of a scanned key");
		}
	}
	fuzz_expect_code(e, "cursor next");
}

static void scan_all(ekv_db *db, const uint8_t *data, size_t size, size_t limit)
{
	ekv_rtx *rtx;
	int e = ekv_rtx_begin(db, &rtx);
	fuzz_expect_code(e, "rtx begin");
	if (e < 0)
		return;
	/* point lookups of keys taken from the input */
	for (size_t i = 0; i < 4 && size > 1; i++) {
		size_t at = (i * 7919) % size, len = data[at] % 9;
		if (at + len > size)
			len = size - at;
		size_t gl;
		fuzz_expect_code(ekv_rtx_get(rtx, data + at, len, vbuf2, sizeof(vbuf2), &gl), "get");
	}
	ekv_cursor *c;
	e = ekv_cursor_open(rtx, NULL, 0, NULL, 0, &c);
	fuzz_expect_code(e, "cursor open");
	if (e == 0) {
		drain(rtx, c, limit, true);
		ekv_cursor_close(c);
	}
	if (size > 4) {
		e = ekv_cursor_open(rtx, data + 1, 2, data + 2, 3, &c);
		fuzz_expect_code(e, "range cursor open");
		if (e == 0) {
			drain(rtx, c, limit, false);
			ekv_cursor_close(c);
		}
		e = ekv_cursor_open_prefix(rtx, data + 3, 1, &c);
		fuzz_expect_code(e, "prefix cursor open");
		if (e == 0) {
			drain(rtx, c, limit, false);
			ekv_cursor_close(c);
		}
	}
	ekv_rtx_end(rtx);
}

/* The key written by the target must read back after an acknowledged
 * commit. */
static void expect_written(ekv_db *db, const uint8_t *val, size_t vlen, const char *when)
{
	ekv_rtx *rtx;
	int e = ekv_rtx_begin(db, &rtx);
	if (e < 0)
		FUZZ_FAIL("read transaction after an acknowledged commit (%s): %s", when,
			  ekv_strerror(e));
	size_t gl = 0;
	e = ekv_rtx_get(rtx, PUT_KEY, 6, vbuf2, sizeof(vbuf2), &gl);
	if (e < 0 || gl != vlen || memcmp(vbuf2, val, vlen) != 0)
		FUZZ_FAIL("acknowledged write does not read back (%s): %s", when,
			  e < 0 ? ekv_strerror(e) : "wrong value");
	ekv_rtx_end(rtx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t pi = data[0] % N_IMAGE_PROFILES;
	const struct fprof *fp = &image_profiles[pi];
	struct ekv_profile p;
	fprof_profile(fp, &p);
	size_t img = (size_t)fp->page_size * fp->pages;
	if (!flashes[pi] && ekv_flash_mem_new(fp->page_size, fp->pages, fp->erase, &flashes[pi]) < 0)
		abort();
	struct ekv_flash *f = flashes[pi];
	uint8_t *d = ekv_flash_mem_data(f);
	size_t n = size - 1 < img ? size - 1 : img;
	memcpy(d, data + 1, n);
	memset(d + n, fp->erase, img - n);

	ekv_db *db = open_db(f, &p, 7);
	int e = ekv_mount(db);
	fuzz_expect_code(e, "mount");
	if (e < 0) {
		ekv_close(db);
		return 0;
	}
	scan_all(db, data + 1, size - 1, img);

	/* one write transaction */
	uint8_t val[40];
	size_t vlen = size > 40 ? 40 : size;
	memcpy(val, data, vlen);
	if (vlen > fp->max_value)
		vlen = fp->max_value;
	ekv_wtx *tx;
	e = ekv_wtx_begin(db, &tx);
	fuzz_expect_code(e, "wtx begin");
	bool acked = false;
	if (e == 0) {
		size_t dl = size > 3 ? data[size / 2] % 5 : 0;
		e = ekv_wtx_delete(tx, data + 1, size - 1 < dl ? size - 1 : dl);
		fuzz_expect_code(e, "delete");
		if (e == 0) {
			e = ekv_wtx_put(tx, PUT_KEY, 6, val, vlen);
			fuzz_expect_code(e, "put");
		}
		if (e == 0) {
			e = ekv_wtx_commit(tx);
			fuzz_expect_code(e, "commit");
			acked = e == 0;
		} else {
			ekv_wtx_abort(tx);
		}
	}
	if (acked)
		expect_written(db, val, vlen, "same handle");
	fuzz_expect_code(ekv_compact(db), "compact");
	scan_all(db, data + 1, size - 1, img);
	ekv_close(db);

	/* a remount sees the same */
	db = open_db(f, &p, 8);
	e = ekv_mount(db);
	if (acked && e < 0)
		FUZZ_FAIL("remount after an acknowledged commit: %s", ekv_strerror(e));
	fuzz_expect_code(e, "remount");
	if (e == 0) {
		if (acked)
			expect_written(db, val, vlen, "after a remount");
		scan_all(db, data + 1, size - 1, img);
	}
	ekv_close(db);
	return 0;
}
