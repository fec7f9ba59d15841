/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * common.c — see common.h: databases on an MTD device with the geometry
 * profile, and process helpers for the in-guest engine tests of tests/mtd
 * (TAP reporting, the model map and the generator are tests/support's).
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
