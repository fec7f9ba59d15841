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

int bkey_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	size_t n = al < bl ? al : bl;
	int c = n ? memcmp(a, b, n) : 0;
	if (c)
		return c < 0 ? -1 : 1;
	return al < bl ? -1 : al > bl;
}

static size_t model_pos(struct model *m, const uint8_t *k, size_t kl, bool *found)
{
	size_t lo = 0, hi = m->n;
	*found = false;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = bkey_cmp(m->a[mid].k, m->a[mid].kl, k, kl);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static uint8_t *dup(const uint8_t *b, size_t n)
{
	uint8_t *p = malloc(n + 1);
	assert_non_null(p);
	if (n)
		memcpy(p, b, n);
	return p;
}

void model_put(struct model *m, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
	bool found;
	size_t i = model_pos(m, k, kl, &found);
	if (found) {
		free(m->a[i].v);
		m->a[i].v = dup(v, vl);
		m->a[i].vl = vl;
		return;
	}
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 64;
		m->a = realloc(m->a, m->cap * sizeof(*m->a));
		assert_non_null(m->a);
	}
	memmove(&m->a[i + 1], &m->a[i], (m->n - i) * sizeof(*m->a));
	m->a[i] = (struct kv){dup(k, kl), dup(v, vl), kl, vl};
	m->n++;
}

void model_del(struct model *m, const uint8_t *k, size_t kl)
{
	bool found;
	size_t i = model_pos(m, k, kl, &found);
	if (!found)
		return;
	free(m->a[i].k);
	free(m->a[i].v);
	memmove(&m->a[i], &m->a[i + 1], (m->n - i - 1) * sizeof(*m->a));
	m->n--;
}

struct kv *model_find(struct model *m, const uint8_t *k, size_t kl)
{
	bool found;
	size_t i = model_pos(m, k, kl, &found);
	return found ? &m->a[i] : NULL;
}

void model_copy(struct model *dst, const struct model *src)
{
	memset(dst, 0, sizeof(*dst));
	for (size_t i = 0; i < src->n; i++)
		model_put(dst, src->a[i].k, src->a[i].kl, src->a[i].v, src->a[i].vl);
}

void model_free(struct model *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->a[i].k);
		free(m->a[i].v);
	}
	free(m->a);
	memset(m, 0, sizeof(*m));
}

int model_check(ekv_db *db, const struct model *m, const struct ekv_profile *p)
{
	ekv_rtx *r;
	ekv_cursor *c;
	uint8_t *k = malloc(p->max_key_size + 1), *v = malloc(p->max_value_size + 1);
	int rc = 0;
	int e = ekv_rtx_begin(db, &r);
	if (e < 0) {
		printf("model_check: rtx_begin: %s\n", ekv_strerror(e));
		free(k);
		free(v);
		return -1;
	}
	e = ekv_cursor_open(r, NULL, 0, NULL, 0, &c);
	if (e < 0) {
		printf("model_check: cursor: %s\n", ekv_strerror(e));
		rc = -1;
		goto out;
	}
	size_t i = 0;
	for (;;) {
		size_t kl, vl;
		e = ekv_cursor_next(c, k, p->max_key_size, &kl, v, p->max_value_size, &vl);
		if (e < 0) {
			printf("model_check: cursor_next: %s\n", ekv_strerror(e));
			rc = -1;
			break;
		}
		if (e == 0)
			break;
		if (i >= m->n || bkey_cmp(k, kl, m->a[i].k, m->a[i].kl) ||
		    bkey_cmp(v, vl, m->a[i].v, m->a[i].vl)) {
			char hk[2100];
			hex_encode(k, kl, hk);
			printf("model_check: entry %zu differs (db key %s, model has %zu entries)\n",
			       i, hk, m->n);
			rc = -1;
			break;
		}
		i++;
	}
	ekv_cursor_close(c);
	if (rc == 0 && i != m->n) {
		printf("model_check: db has %zu entries, model %zu\n", i, m->n);
		rc = -1;
	}
	for (size_t j = 0; rc == 0 && j < m->n; j += 1 + m->n / 50) {
		size_t vl = 0;
		e = ekv_rtx_get(r, m->a[j].k, m->a[j].kl, v, p->max_value_size, &vl);
		if (e < 0 || bkey_cmp(v, vl, m->a[j].v, m->a[j].vl)) {
			printf("model_check: get of entry %zu: %s\n", j, ekv_strerror(e));
			rc = -1;
		}
	}
out:
	ekv_rtx_end(r);
	free(k);
	free(v);
	return rc;
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

uint64_t rng_u64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
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
