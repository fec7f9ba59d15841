/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * common.h — helpers shared by the in-guest engine tests of tests/mtd
 * (mtd_engine_test, mtd_killtest): opening a database on an MTD device with
 * the profile taken from the device geometry, and small process helpers.
 * TAP-style reporting, the model map and the generator come from
 * tests/support.
 *
 * Owns nothing on the device: every test formats or erases what it uses.
 * Must never: use cmocka-style aborts (tests fork; a failed check records a
 * reason and the case goes on or returns), or keep a flash object across a
 * fork (the inter-process lock is flock() on the flash object's fd, which a
 * forked child would share).
 */
#ifndef EKV_MTD_COMMON_H
#define EKV_MTD_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ekv.h"
#include "model.h" /* tests/support: the model map, bkey_cmp */
#include "rng.h"   /* tests/support: rng_u64 */
#include "tap.h"   /* tests/support: TAP-style cases, CHECK, now_ms */

/* A seed from $name if set (decimal or 0x hex), else dflt; printed as "# seed". */
uint64_t env_seed(const char *name, uint64_t dflt);
/* An integer from $name if set, else dflt. */
long env_long(const char *name, long dflt);

/* ---- databases on the device ---- */
/* The profile the tests (and ekvctl --device) use: page size and count from
 * the device, every other field default, max_page_count = max(256, count). */
void dev_profile(const struct ekv_flash *f, struct ekv_profile *p);

struct devdb {
	struct ekv_flash *flash;
	ekv_db *db;
	struct ekv_profile p;
	struct ekv_options o;
};
/*
 * Open flash (mtd_flags | EKV_MTD_VERIFY_ERASED unless EKV_MTD_RDONLY) and a
 * database handle with the device profile.  o may be NULL (defaults).
 * Returns 0 or a negative code with a message in why.
 */
int devdb_open(struct devdb *d, const char *dev, unsigned mtd_flags, const struct ekv_options *o,
	       char *why, size_t why_size);
void devdb_close(struct devdb *d);
/* One transaction putting key=value (value NULL: delete). */
int devdb_put(struct devdb *d, const char *key, const char *value);
/* Point get into buf (NUL-terminated); EKV_ENOTFOUND if absent. */
int devdb_get(struct devdb *d, const char *key, char *buf, size_t cap);

/* Read the whole device (size bytes) into a new buffer; NULL on error. */
uint8_t *dev_read_all(const char *dev, size_t *size);

/* Run argv, capturing stdout+stderr (truncated) into out; returns the exit
 * status (0..255), or -1 if it could not run or died from a signal. */
int run_cmd(char *const argv[], char *out, size_t out_size);

#endif
