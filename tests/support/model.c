/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* model.c — see model.h: the sorted byte-string map tests compare a database
 * with, and the comparison itself. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

int bkey_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	size_t n = al < bl ? al : bl;
	int c = n ? memcmp(a, b, n) : 0;

	if (c)
		return c < 0 ? -1 : 1;
	return al < bl ? -1 : al > bl;
}

static size_t model_pos(const struct model *m, const uint8_t *k, size_t kl, bool *found)
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

static uint8_t *dup_bytes(const uint8_t *b, size_t n)
{
	uint8_t *p = malloc(n + 1);

	if (p == NULL) {
		perror("malloc");
		exit(3);
	}
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
		m->a[i].v = dup_bytes(v, vl);
		m->a[i].vl = vl;
		return;
	}
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 64;
		m->a = realloc(m->a, m->cap * sizeof(*m->a));
		if (m->a == NULL) {
			perror("realloc");
			exit(3);
		}
	}
	memmove(&m->a[i + 1], &m->a[i], (m->n - i) * sizeof(*m->a));
	m->a[i] = (struct kv){ dup_bytes(k, kl), dup_bytes(v, vl), kl, vl };
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

struct kv *model_find(const struct model *m, const uint8_t *k, size_t kl)
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

int model_wtx_apply(ekv_wtx *tx, struct model *m, bool del, const uint8_t *k, size_t kl,
		    const uint8_t *v, size_t vl)
{
	if (del) {
		model_del(m, k, kl);
		return ekv_wtx_delete(tx, k, kl);
	}
	model_put(m, k, kl, v, vl);
	return ekv_wtx_put(tx, k, kl, v, vl);
}

static void hex_short(const uint8_t *b, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	if (n == 0) {
		snprintf(out, cap, "-");
		return;
	}
	for (size_t i = 0; i < n && o + 3 < cap; i++)
		o += (size_t)snprintf(out + o, cap - o, "%02x", b[i]);
}

int model_check(ekv_db *db, const struct model *m, const struct ekv_profile *p, char *why,
		size_t why_size)
{
	return model_check_sampled(db, m, p, 1, why, why_size);
}

int model_check_sampled(ekv_db *db, const struct model *m, const struct ekv_profile *p,
			size_t stride, char *why, size_t why_size)
{
	uint8_t *k = malloc(p->max_key_size + 1), *v = malloc(p->max_value_size + 1);
	ekv_rtx *r = NULL;
	ekv_cursor *c = NULL;
	char hk[80];
	size_t i = 0;
	int rc = -1, e;

	if (k == NULL || v == NULL) {
		snprintf(why, why_size, "out of memory");
		goto out;
	}
	e = ekv_rtx_begin(db, &r);
	if (e < 0) {
		snprintf(why, why_size, "ekv_rtx_begin: %s", ekv_strerror(e));
		r = NULL;
		goto out;
	}
	e = ekv_cursor_open(r, NULL, 0, NULL, 0, &c);
	if (e < 0) {
		snprintf(why, why_size, "ekv_cursor_open: %s", ekv_strerror(e));
		c = NULL;
		goto out;
	}
	for (;;) {
		size_t kl = 0, vl = 0;

		e = ekv_cursor_next(c, k, p->max_key_size, &kl, v, p->max_value_size, &vl);
		if (e < 0) {
			snprintf(why, why_size, "ekv_cursor_next after %zu entries: %s", i,
				 ekv_strerror(e));
			goto out;
		}
		if (e == 0)
			break;
		if (i >= m->n) {
			hex_short(k, kl, hk, sizeof hk);
			snprintf(why, why_size, "scan: extra key %s (model has %zu entries)", hk,
				 m->n);
			goto out;
		}
		if (bkey_cmp(k, kl, m->a[i].k, m->a[i].kl)) {
			hex_short(k, kl, hk, sizeof hk);
			snprintf(why, why_size, "scan entry %zu: key %s, model's differs", i, hk);
			goto out;
		}
		if (bkey_cmp(v, vl, m->a[i].v, m->a[i].vl)) {
			hex_short(k, kl, hk, sizeof hk);
			snprintf(why, why_size,
				 "scan entry %zu (key %s): value of %zu bytes differs from the "
				 "model's %zu bytes",
				 i, hk, vl, m->a[i].vl);
			goto out;
		}
		i++;
	}
	if (i != m->n) {
		snprintf(why, why_size, "scan: %zu entries, model %zu", i, m->n);
		goto out;
	}
	for (size_t j = 0; j < m->n; j += stride ? stride : 1) {
		size_t vl = 0;

		e = ekv_rtx_get(r, m->a[j].k, m->a[j].kl, v, p->max_value_size, &vl);
		if (e < 0 || bkey_cmp(v, vl, m->a[j].v, m->a[j].vl)) {
			hex_short(m->a[j].k, m->a[j].kl, hk, sizeof hk);
			snprintf(why, why_size, "get of entry %zu (key %s): %s", j, hk,
				 e < 0 ? ekv_strerror(e) : "value differs");
			goto out;
		}
	}
	rc = 0;
out:
	if (c)
		ekv_cursor_close(c);
	if (r)
		ekv_rtx_end(r);
	free(k);
	free(v);
	return rc;
}
