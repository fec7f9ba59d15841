/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * common.c — see common.h: TAP-style cases, the model map, databases on an
 * MTD device with the geometry profile, and process helpers for the in-guest
 * engine tests of tests/mtd.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

/* ---- TAP-style cases ---------------------------------------------------------- */

static int g_pass, g_fail;
static char g_why[1024];

void tap_begin(void)
{
	g_why[0] = '\0';
}

void tap_fail(const char *fmt, ...)
{
	va_list ap;

	if (g_why[0])
		return; /* keep the first reason */
	va_start(ap, fmt);
	vsnprintf(g_why, sizeof g_why, fmt, ap);
	va_end(ap);
	if (!g_why[0])
		snprintf(g_why, sizeof g_why, "failed");
}

bool tap_failed(void)
{
	return g_why[0] != '\0';
}

void tap_end(const char *name)
{
	for (char *c = g_why; *c; c++)
		if (*c == '\n')
			*c = ' ';
	if (g_why[0]) {
		printf("not ok - %s: %s\n", name, g_why);
		g_fail++;
	} else {
		printf("ok - %s\n", name);
		g_pass++;
	}
	fflush(stdout);
	g_why[0] = '\0';
}

void tap_skip(const char *name, const char *why)
{
	printf("# skipped %s: %s\n", name, why);
	fflush(stdout);
}

int tap_summary(const char *dev)
{
	printf("# %s: %d passed, %d failed\n", dev, g_pass, g_fail);
	fflush(stdout);
	return g_fail ? 1 : 0;
}

double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

uint64_t rng_u64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t env_seed(const char *name, uint64_t dflt)
{
	const char *s = getenv(name);
	uint64_t v = dflt;

	if (s && *s)
		v = strtoull(s, NULL, 0);
	printf("# seed %s=%llu\n", name, (unsigned long long)v);
	return v;
}

long env_long(const char *name, long dflt)
{
	const char *s = getenv(name);

	return s && *s ? strtol(s, NULL, 0) : dflt;
}

/* ---- model ---------------------------------------------------------------------- */

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
	for (size_t j = 0; j < m->n; j++) {
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

/* ---- databases on the device ------------------------------------------------------ */

void dev_profile(const struct ekv_flash *f, struct ekv_profile *p)
{
	ekv_profile_default(p);
	p->layout = 1; /* the Rust crate's layout */
	p->page_size = f->page_size;
	p->page_count = f->page_count;
	p->max_page_count = f->page_count > 256 ? f->page_count : 256;
}

int devdb_open(struct devdb *d, const char *dev, unsigned mtd_flags, const struct ekv_options *o,
	       char *why, size_t why_size)
{
	char msg[256] = "", pmsg[200] = "";
	unsigned fl = mtd_flags;
	int e;

	memset(d, 0, sizeof *d);
	if (!(fl & EKV_MTD_RDONLY))
		fl |= EKV_MTD_VERIFY_ERASED;
	e = ekv_flash_mtd_open(dev, fl, &d->flash, msg, sizeof msg);
	if (e < 0) {
		snprintf(why, why_size, "ekv_flash_mtd_open(%s, 0x%x): %s: %s", dev, fl,
			 ekv_strerror(e), msg);
		d->flash = NULL;
		return e;
	}
	dev_profile(d->flash, &d->p);
	if (ekv_profile_check(&d->p, pmsg, sizeof pmsg) < 0) {
		snprintf(why, why_size, "profile %u x %u: %s", d->p.page_size, d->p.page_count,
			 pmsg);
		ekv_flash_close(d->flash);
		d->flash = NULL;
		return EKV_EINVAL;
	}
	if (o)
		d->o = *o;
	else
		ekv_options_default(&d->o);
	if (fl & EKV_MTD_RDONLY)
		d->o.read_only = true;
	e = ekv_open(d->flash, &d->p, &d->o, &d->db);
	if (e < 0) {
		snprintf(why, why_size, "ekv_open: %s", ekv_strerror(e));
		ekv_flash_close(d->flash);
		d->flash = NULL;
		d->db = NULL;
		return e;
	}
	return 0;
}

void devdb_close(struct devdb *d)
{
	if (d->db)
		ekv_close(d->db);
	if (d->flash)
		ekv_flash_close(d->flash);
	d->db = NULL;
	d->flash = NULL;
}

int devdb_put(struct devdb *d, const char *key, const char *value)
{
	ekv_wtx *tx;
	int e = ekv_wtx_begin(d->db, &tx);

	if (e < 0)
		return e;
	e = value ? ekv_wtx_put(tx, key, strlen(key), value, strlen(value))
		  : ekv_wtx_delete(tx, key, strlen(key));
	if (e < 0) {
		ekv_wtx_abort(tx);
		return e;
	}
	return ekv_wtx_commit(tx);
}

int devdb_get(struct devdb *d, const char *key, char *buf, size_t cap)
{
	ekv_rtx *r;
	size_t n = 0;
	int e = ekv_rtx_begin(d->db, &r);

	if (e < 0)
		return e;
	e = ekv_rtx_get(r, key, strlen(key), buf, cap - 1, &n);
	ekv_rtx_end(r);
	if (e == 0)
		buf[n] = '\0';
	return e;
}

uint8_t *dev_read_all(const char *dev, size_t *size)
{
	int fd = open(dev, O_RDONLY | O_CLOEXEC);
	off_t end;
	uint8_t *b;
	size_t got = 0;

	if (fd < 0)
		return NULL;
	end = lseek(fd, 0, SEEK_END);
	if (end <= 0 || (b = malloc((size_t)end)) == NULL) {
		close(fd);
		return NULL;
	}
	while (got < (size_t)end) {
		ssize_t n = pread(fd, b + got, (size_t)end - got, (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(b);
			close(fd);
			return NULL;
		}
		got += (size_t)n;
	}
	close(fd);
	*size = got;
	return b;
}

int run_cmd(char *const argv[], char *out, size_t out_size)
{
	int p[2], status = 0;
	size_t total = 0;
	pid_t pid;

	if (pipe(p) < 0)
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		dup2(p[1], 1);
		dup2(p[1], 2);
		close(p[1]);
		execvp(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		char tmp[256];
		ssize_t n = read(p[0], tmp, sizeof tmp);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n && total + 1 < out_size; i++)
			out[total++] = tmp[i] == '\n' ? ' ' : tmp[i];
	}
	if (out_size)
		out[total] = '\0';
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
