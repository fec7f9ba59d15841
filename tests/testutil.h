/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* testutil.h — helpers shared by the cmocka unit tests: RAM databases, a
 * cmocka check against the model map of tests/support, hex and file helpers. */
#ifndef EKV_TESTUTIL_H
#define EKV_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ekv.h"
#include "ekv_test.h"
#include "model.h" /* tests/support: the model map, bkey_cmp */
#include "rng.h"   /* tests/support: rng_u64 */

struct tdb {
	struct ekv_flash *flash;
	ekv_db *db;
	struct ekv_profile p;
	struct ekv_options o;
};

/* A RAM flash + database with profile p (NULL: defaults), formatted. */
void tdb_new(struct tdb *t, const struct ekv_profile *p, uint32_t seed);
/* Close and reopen the database on the same flash (a remount). */
void tdb_reopen(struct tdb *t);
void tdb_free(struct tdb *t);

int tdb_put(struct tdb *t, const char *key, const char *value);
int tdb_del(struct tdb *t, const char *key);
/* get into a static buffer; returns NULL if not found (asserts on errors) */
const char *tdb_get(struct tdb *t, const char *key);

/* cmocka check: the database holds exactly the model (a whole scan, point
 * gets of about 50 keys: model_check_sampled) */
void assert_model(ekv_db *db, const struct model *m, const struct ekv_profile *p);

uint8_t *read_file(const char *path, size_t *len);
const char *testdata_path(const char *name); /* static buffer */
bool hex_decode(const char *s, uint8_t *out, size_t *len);
void hex_encode(const uint8_t *b, size_t n, char *out); /* "-" for empty */

/* Every pair of the database as "hexkey=hexvalue;" in key order (cap: the
 * size of out, which must hold them), or "ERR n" for an error n. */
void db_listing(ekv_db *db, char *out, size_t cap);

#endif
