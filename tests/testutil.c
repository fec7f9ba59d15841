/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* testutil.c — see testutil.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

void tdb_new(struct tdb *t, const struct ekv_profile *p, uint32_t seed)
{
	memset(t, 0, sizeof(*t));
	if (p)
		t->p = *p;
	else
		ekv_profile_default(&t->p);
	if (!t->p.layout)
		t->p.layout = 1; /* unless asked otherwise: the Rust crate's layout */
	assert_int_equal(ekv_flash_mem_new(t->p.page_size, t->p.page_count, t->p.erase_value,
					   &t->flash), 0);
	ekv_flash_mem_set_strict(t->flash, true);
	ekv_options_default(&t->o);
	t->o.seed = seed;
	t->o.seed_set = true;
	assert_int_equal(ekv_open(t->flash, &t->p, &t->o, &t->db), 0);
	assert_int_equal(ekv_format(t->db), 0);
}

void tdb_reopen(struct tdb *t)
{
	ekv_close(t->db);
	t->o.seed = t->o.seed * 7 + 1;
	assert_int_equal(ekv_open(t->flash, &t->p, &t->o, &t->db), 0);
}

void tdb_free(struct tdb *t)
{
	ekv_close(t->db);
	ekv_flash_close(t->flash);
	memset(t, 0, sizeof(*t));
}

int tdb_put(struct tdb *t, const char *key, const char *value)
{
	ekv_wtx *tx;
	int e = ekv_wtx_begin(t->db, &tx);
	if (e < 0)
		return e;
	e = ekv_wtx_put(tx, key, strlen(key), value, strlen(value));
	if (e < 0) {
		ekv_wtx_abort(tx);
		return e;
	}
	return ekv_wtx_commit(tx);
}

int tdb_del(struct tdb *t, const char *key)
{
	ekv_wtx *tx;
	int e = ekv_wtx_begin(t->db, &tx);
	if (e < 0)
		return e;
	e = ekv_wtx_delete(tx, key, strlen(key));
	if (e < 0) {
		ekv_wtx_abort(tx);
		return e;
	}
	return ekv_wtx_commit(tx);
}

const char *tdb_get(struct tdb *t, const char *key)
{
	static char buf[65537];
	ekv_rtx *r;
	size_t n = 0;
	assert_int_equal(ekv_rtx_begin(t->db, &r), 0);
	int e = ekv_rtx_get(r, key, strlen(key), buf, sizeof(buf) - 1, &n);
	ekv_rtx_end(r);
	if (e == EKV_ENOTFOUND)
		return NULL;
	assert_int_equal(e, 0);
	buf[n] = 0;
	return buf;
}

void assert_model(ekv_db *db, const struct model *m, const struct ekv_profile *p)
{
	char why[512];
	if (model_check_sampled(db, m, p, 1 + m->n / 50, why, sizeof(why)) < 0)
		fail_msg("database differs from the model: %s", why);
}

uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *b = malloc((size_t)n + 1);
	if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
		free(b);
		b = NULL;
	}
	fclose(f);
	if (b) {
		b[n] = 0;
		*len = (size_t)n;
	}
	return b;
}

const char *testdata_path(const char *name)
{
	static char buf[4096];
	const char *dir = getenv("EKV_TESTDATA");
	snprintf(buf, sizeof(buf), "%s/%s", dir ? dir : "tests/data", name);
	return buf;
}

static int hexv(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool hex_decode(const char *s, uint8_t *out, size_t *len)
{
	if (!strcmp(s, "-")) {
		*len = 0;
		return true;
	}
	size_t n = strlen(s);
	if (n % 2)
		return false;
	for (size_t i = 0; i < n; i += 2) {
		int a = hexv(s[i]), b = hexv(s[i + 1]);
		if (a < 0 || b < 0)
			return false;
		out[i / 2] = (uint8_t)(a << 4 | b);
	}
	*len = n / 2;
	return true;
}

void hex_encode(const uint8_t *b, size_t n, char *out)
{
	if (n == 0) {
		strcpy(out, "-");
		return;
	}
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

void db_listing(ekv_db *db, char *out, size_t cap)
{
	ekv_rtx *r;
	ekv_cursor *c;
	uint8_t k[1024], v[1024];
	size_t kl, vl, o = 0;
	int e = ekv_rtx_begin(db, &r);
	if (e == 0) {
		e = ekv_cursor_open(r, NULL, 0, NULL, 0, &c);
		bool opened = e == 0;
		while (e == 0 && (e = ekv_cursor_next(c, k, sizeof(k), &kl, v, sizeof(v), &vl)) == 1) {
			assert_true(o + 2 * (kl + vl) + 8 < cap);
			hex_encode(k, kl, out + o);
			o += strlen(out + o);
			out[o++] = '=';
			hex_encode(v, vl, out + o);
			o += strlen(out + o);
			out[o++] = ';';
			e = 0;
		}
		if (opened)
			ekv_cursor_close(c);
		ekv_rtx_end(r);
	}
	out[o] = 0;
	if (e < 0)
		snprintf(out, cap, "ERR %d", e);
}
