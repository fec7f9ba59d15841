/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * mtd_flash_test.c — in-guest test of lib/flash_mtd.c against a real MTD
 * device (mtdram, block2mtd, nandsim) inside the tests/mtd VM.
 *
 * Owns: checking ekv_flash_mtd_open() and its ops on one device.  It is
 * built by tests/mtd/run as a static binary from this file plus
 * lib/flash_mtd.c and tests/support/tap.c only (no libekv), so it defines
 * ekv_flash_close() itself.
 * It is destructive: it erases and programs the whole device.
 *
 * Usage: mtd_flash_test /dev/mtdN
 * Environment (set by tests/mtd/guest.sh):
 *   EKV_MTD_EXPECT  "ok" (default), "geometry" (huge device: open and read
 *                   only) or "refuse:TEXT": the open must fail with
 *                   EKV_ENOTSUP and a message containing TEXT
 *   EKV_MTD_SIM     mtdram | block2mtd | nandsim (which simulator)
 * Output: one line per test case, "ok - NAME" or "not ok - NAME: reason",
 * plus "# ..." diagnostics.  Exit 0 if every case passed, 1 otherwise.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ekv.h"
#include "tap.h" /* tests/support: TAP-style cases, CHECK, now_ms */

/* ekv_flash_close() lives in the engine; this test does not link it. */
void ekv_flash_close(struct ekv_flash *f)
{
	if (f == NULL)
		return;
	if (f->ops->destroy)
		f->ops->destroy(f->ctx);
	free(f);
}

/* ---- tiny harness ------------------------------------------------------------ */

/* ---- device facts from /proc/mtd and sysfs ----------------------------------- */

struct devinfo {
	int index;
	unsigned long long size;
	unsigned long erasesize, writesize;
	char name[128];
};

static int read_sysfs_ul(int index, const char *attr, unsigned long *v)
{
	char path[128];
	FILE *f;
	int ok;

	snprintf(path, sizeof path, "/sys/class/mtd/mtd%d/%s", index, attr);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	ok = fscanf(f, "%lu", v) == 1;
	fclose(f);
	return ok ? 0 : -1;
}

static int get_devinfo(const char *dev, struct devinfo *di)
{
	struct stat st;
	char line[256];
	FILE *f;
	int found = 0;

	memset(di, 0, sizeof *di);
	if (stat(dev, &st) < 0 || !S_ISCHR(st.st_mode) || major(st.st_rdev) != 90)
		return -1;
	di->index = (int)(minor(st.st_rdev) / 2);
	f = fopen("/proc/mtd", "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f)) {
		int idx;
		unsigned long long size;
		unsigned long es;
		char *q1, *q2;

		if (sscanf(line, "mtd%d: %llx %lx", &idx, &size, &es) != 3 || idx != di->index)
			continue;
		q1 = strchr(line, '"');
		q2 = q1 ? strrchr(line, '"') : NULL;
		if (q1 && q2 > q1)
			snprintf(di->name, sizeof di->name, "%.*s", (int)(q2 - q1 - 1), q1 + 1);
		di->size = size;
		di->erasesize = es;
		found = 1;
	}
	fclose(f);
	if (!found)
		return -1;
	if (read_sysfs_ul(di->index, "writesize", &di->writesize) < 0)
		di->writesize = 0;
	return 0;
}

/* ---- helpers ----------------------------------------------------------------- */

static struct ekv_flash *open_or_fail(const char *dev, unsigned flags)
{
	struct ekv_flash *f = NULL;
	char msg[256] = "";
	int r = ekv_flash_mtd_open(dev, flags, &f, msg, sizeof msg);

	if (r != 0) {
		tap_fail("ekv_flash_mtd_open(%s, 0x%x) = %d (%s): %s", dev, flags, r, strerror(-r), msg);
		return NULL;
	}
	if (f == NULL)
		tap_fail("ekv_flash_mtd_open(%s) returned 0 but no flash", dev);
	return f;
}

static uint8_t pattern_byte(uint32_t seed, uint32_t i)
{
	uint32_t x = seed * 2654435761u + i * 40503u;

	x ^= x >> 13;
	x *= 0x5bd1e995u;
	x ^= x >> 15;
	return (uint8_t)(x & 0xFF);
}

static void fill(uint8_t *buf, uint32_t len, uint32_t seed)
{
	for (uint32_t i = 0; i < len; i++)
		buf[i] = pattern_byte(seed, i);
}

static int all_ff(const uint8_t *buf, uint32_t len, uint32_t *where)
{
	for (uint32_t i = 0; i < len; i++) {
		if (buf[i] != 0xFF) {
			if (where)
				*where = i;
			return 0;
		}
	}
	return 1;
}

static int first_diff(const uint8_t *a, const uint8_t *b, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		if (a[i] != b[i])
			return (int)i;
	return -1;
}

/* Run fn(arg) in a child process; its return (NULL = pass, else reason) comes back. */
typedef const char *(*child_fn)(void *arg, char *buf, size_t size);

struct child {
	pid_t pid;
	int rfd;
};

static int child_start(struct child *ch, child_fn fn, void *arg)
{
	int p[2];

	if (pipe(p) < 0)
		return -1;
	fflush(stdout);
	ch->pid = fork();
	if (ch->pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (ch->pid == 0) {
		char buf[400];
		const char *why;

		close(p[0]);
		why = fn(arg, buf, sizeof buf);
		if (why && write(p[1], why, strlen(why)) < 0)
			_exit(3);
		_exit(why ? 1 : 0);
	}
	close(p[1]);
	ch->rfd = p[0];
	return 0;
}

static void child_finish(struct child *ch, const char *what)
{
	char buf[400];
	ssize_t n, total = 0;
	int status = 0;

	while ((n = read(ch->rfd, buf + total, sizeof buf - 1 - (size_t)total)) > 0)
		total += n;
	buf[total] = '\0';
	close(ch->rfd);
	while (waitpid(ch->pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status))
		tap_fail("%s: child died (status 0x%x)", what, status);
	else if (WEXITSTATUS(status) != 0)
		tap_fail("%s: %s", what, total ? buf : "child failed");
}

static void run_child(child_fn fn, void *arg, const char *what)
{
	struct child ch;

	if (child_start(&ch, fn, arg) < 0) {
		tap_fail("%s: fork: %s", what, strerror(errno));
		return;
	}
	child_finish(&ch, what);
}

/* ---- refusal tests ------------------------------------------------------------ */

static void test_refused(const char *dev, const struct devinfo *di, const char *want)
{
	static const unsigned flag_sets[] = { 0, EKV_MTD_RDONLY, EKV_MTD_VERIFY_ERASED };
	char msg[512], msg0[512] = "", name_dev[200], nums[2][64];
	struct ekv_flash *f;
	int r;

	printf("# %s: expecting refusal containing \"%s\"\n", dev, want);

	tap_begin();
	f = (struct ekv_flash *)0x1;
	r = ekv_flash_mtd_open(dev, 0, &f, msg0, sizeof msg0);
	printf("# refusal message: %s\n", msg0);
	CHECK(r == EKV_ENOTSUP, "open returned %d (%s), want EKV_ENOTSUP; msg: %s", r,
	      strerror(-r), msg0);
	CHECK(f == NULL, "*out not NULL after a refusal");
	CHECK(strstr(msg0, want) != NULL, "message \"%s\" lacks \"%s\"", msg0, want);
	if (r == 0 && f != NULL && f != (struct ekv_flash *)0x1)
		ekv_flash_close(f);
	tap_end("refused-with-message");

	tap_begin();
	snprintf(nums[0], sizeof nums[0], "erasesize %lu", di->erasesize);
	snprintf(nums[1], sizeof nums[1], "writesize %lu", di->writesize);
	CHECK(strstr(msg0, nums[0]) || strstr(msg0, nums[1]),
	      "message \"%s\" names neither \"%s\" nor \"%s\"", msg0, nums[0], nums[1]);
	snprintf(nums[0], sizeof nums[0], "mtd%d", di->index);
	CHECK(strstr(msg0, nums[0]) != NULL, "message does not name %s", nums[0]);
	tap_end("refusal-names-numbers");

	tap_begin();
	for (size_t i = 0; i < sizeof flag_sets / sizeof flag_sets[0]; i++) {
		f = NULL;
		msg[0] = '\0';
		r = ekv_flash_mtd_open(dev, flag_sets[i], &f, msg, sizeof msg);
		CHECK(r == EKV_ENOTSUP && f == NULL && strcmp(msg, msg0) == 0,
		      "flags 0x%x: rc %d msg \"%s\"", flag_sets[i], r, msg);
		if (r == 0)
			ekv_flash_close(f);
	}
	f = NULL;
	r = ekv_flash_mtd_open(dev, 0, &f, NULL, 0);
	CHECK(r == EKV_ENOTSUP && f == NULL, "msg=NULL: rc %d", r);
	if (r == 0)
		ekv_flash_close(f);
	tap_end("refused-all-flags");

	tap_begin();
	snprintf(name_dev, sizeof name_dev, "mtd:%s", di->name);
	f = NULL;
	msg[0] = '\0';
	r = ekv_flash_mtd_open(name_dev, 0, &f, msg, sizeof msg);
	CHECK(r == EKV_ENOTSUP && strstr(msg, want) != NULL, "%s: rc %d msg \"%s\"", name_dev, r,
	      msg);
	if (r == 0)
		ekv_flash_close(f);
	tap_end("refused-by-name");

	tap_begin();
	snprintf(name_dev, sizeof name_dev, "/dev/mtd%dro", di->index);
	if (access(name_dev, F_OK) == 0) {
		f = NULL;
		r = ekv_flash_mtd_open(name_dev, 0, &f, msg, sizeof msg);
		CHECK(r == EKV_ENOTSUP && strstr(msg, want) != NULL, "%s: rc %d msg \"%s\"",
		      name_dev, r, msg);
		if (r == 0)
			ekv_flash_close(f);
	}
	tap_end("refused-ro-node");
}

/* ---- tests on usable devices -------------------------------------------------- */

struct ctx {
	const char *dev;
	struct devinfo di;
	const char *sim;
	uint32_t ps, pc;
	uint8_t *model; /* expected contents of the pages the tests program */
};

static void test_open_geometry(struct ctx *t)
{
	struct ekv_flash *f;
	char msg[256] = "x";
	int r;

	tap_begin();
	f = NULL;
	r = ekv_flash_mtd_open(t->dev, 0, &f, msg, sizeof msg);
	CHECK(r == 0 && f != NULL, "open: %d %s", r, msg);
	CHECK(r != 0 || msg[0] == '\0', "message left on success: \"%s\"", msg);
	if (f) {
		printf("# %s: page_size %u page_count %u write_size %u erase_value 0x%02x "
		       "(/proc/mtd: size %llu erasesize %lu, writesize %lu, \"%s\")\n",
		       t->dev, f->page_size, f->page_count, f->write_size, f->erase_value,
		       t->di.size, t->di.erasesize, t->di.writesize, t->di.name);
		CHECK(f->ops && f->ops->read && f->ops->write && f->ops->erase && f->ops->destroy &&
			      f->ops->lock,
		      "missing ops");
		CHECK(f->page_size == t->di.erasesize, "page_size %u != erasesize %lu", f->page_size,
		      t->di.erasesize);
		CHECK((unsigned long long)f->page_size * f->page_count == t->di.size,
		      "page_size*page_count %llu != size %llu",
		      (unsigned long long)f->page_size * f->page_count, t->di.size);
		CHECK(f->write_size == t->di.writesize, "write_size %u != sysfs writesize %lu",
		      f->write_size, t->di.writesize);
		CHECK(f->erase_value == 0xFF, "erase_value 0x%02x", f->erase_value);
		CHECK(!f->read_only, "read_only set on a read-write open");
		t->ps = f->page_size;
		t->pc = f->page_count;
		ekv_flash_close(f);
	}
	tap_end("open-geometry");
}

static void test_erase_all(struct ctx *t)
{
	struct ekv_flash *f;
	uint8_t *buf;
	double t0;

	tap_begin();
	f = open_or_fail(t->dev, 0);
	buf = malloc(t->ps);
	if (f && buf) {
		/* dirty the first page so the erase has something to do */
		memset(buf, 0x00, t->ps);
		CHECK(f->ops->write(f->ctx, 0, 0, buf, t->ps) == 0, "pre-dirty write failed");
		t0 = now_ms();
		for (uint32_t p = 0; p < t->pc; p++) {
			int r = f->ops->erase(f->ctx, p);
			if (r != 0) {
				tap_fail("erase page %u: %d (%s)", p, r, strerror(-r));
				break;
			}
		}
		for (uint32_t p = 0; p < t->pc; p++) {
			uint32_t at = 0;
			int r = f->ops->read(f->ctx, p, 0, buf, t->ps);
			if (r != 0) {
				tap_fail("read page %u: %d", p, r);
				break;
			}
			if (!all_ff(buf, t->ps, &at)) {
				tap_fail("page %u byte %u is 0x%02x after erase", p, at, buf[at]);
				break;
			}
		}
		printf("# erase+verify of %u pages: %.1f ms\n", t->pc, now_ms() - t0);
		memset(t->model, 0xFF, (size_t)t->ps * 4);
	}
	free(buf);
	ekv_flash_close(f);
	tap_end("erase-all-reads-ff");
}

/* The pages the tests program: 0, 1, the middle one, the last one. */
static uint32_t test_page(const struct ctx *t, int i)
{
	switch (i) {
	case 0:
		return 0;
	case 1:
		return 1;
	case 2:
		return t->pc / 2;
	default:
		return t->pc - 1;
	}
}

static void check_pages_match_model(struct ekv_flash *f, const struct ctx *t, const char *when)
{
	uint8_t *buf = malloc(t->ps);

	if (buf == NULL) {
		tap_fail("malloc");
		return;
	}
	for (int i = 0; i < 4; i++) {
		uint32_t p = test_page(t, i);
		int r = f->ops->read(f->ctx, p, 0, buf, t->ps);
		int d;

		if (r != 0) {
			tap_fail("%s: read page %u: %d", when, p, r);
			break;
		}
		d = first_diff(buf, t->model + (size_t)i * t->ps, t->ps);
		if (d >= 0) {
			tap_fail("%s: page %u byte %d reads 0x%02x, want 0x%02x", when, p, d, buf[d],
			     t->model[(size_t)i * t->ps + (size_t)d]);
			break;
		}
	}
	free(buf);
}

static void test_program(struct ctx *t)
{
	/* (offset, len) pairs: all multiples of 4; some at the page end */
	const uint32_t ps = t->ps;
	const uint32_t spans[][2] = {
		{ 0, 4 },     { 4, 8 },        { 16, 256 },         { 512, 100 },
		{ 1024, 4 },  { ps / 2, 1024 }, { ps - 4, 4 },       { ps - 260, 256 },
	};
	struct ekv_flash *f;
	uint8_t buf[1024];
	uint32_t seed = 1;

	tap_begin();
	f = open_or_fail(t->dev, 0);
	for (int i = 0; f && i < 3; i++) { /* pages 0, 1, middle: small spans */
		uint32_t p = test_page(t, i);

		for (size_t s = 0; s < sizeof spans / sizeof spans[0]; s++, seed++) {
			uint32_t off = spans[s][0], len = spans[s][1];
			int r;

			fill(buf, len, seed);
			r = f->ops->write(f->ctx, p, off, buf, len);
			if (r != 0) {
				tap_fail("write page %u off %u len %u: %d (%s)", p, off, len, r,
				     strerror(-r));
				break;
			}
			memcpy(t->model + (size_t)i * ps + off, buf, len);
			memset(buf, 0, len);
			r = f->ops->read(f->ctx, p, off, buf, len);
			CHECK(r == 0 && memcmp(buf, t->model + (size_t)i * ps + off, len) == 0,
			      "read-back page %u off %u len %u mismatch (rc %d)", p, off, len, r);
		}
	}
	if (f) { /* last page: one full-page program */
		uint8_t *full = malloc(ps);
		uint32_t last = test_page(t, 3);

		if (full) {
			fill(full, ps, 999);
			CHECK(f->ops->write(f->ctx, last, 0, full, ps) == 0, "full-page write failed");
			memcpy(t->model + (size_t)3 * ps, full, ps);
			free(full);
		}
		check_pages_match_model(f, t, "after programming");
	}
	ekv_flash_close(f);
	tap_end("program-readback");

	/* the same bytes through a plain pread of the device (not our read op) */
	tap_begin();
	{
		int fd = open(t->dev, O_RDONLY);
		uint8_t *pg = malloc(ps);

		CHECK(fd >= 0 && pg, "open %s: %s", t->dev, strerror(errno));
		for (int i = 0; fd >= 0 && pg && i < 4; i++) {
			off_t off = (off_t)test_page(t, i) * ps;
			CHECK(pread(fd, pg, ps, off) == (ssize_t)ps, "pread: %s", strerror(errno));
			CHECK(memcmp(pg, t->model + (size_t)i * ps, ps) == 0,
			      "raw pread of page %u differs from the model", test_page(t, i));
		}
		free(pg);
		if (fd >= 0)
			close(fd);
	}
	tap_end("raw-pread-agrees");

	tap_begin();
	f = open_or_fail(t->dev, 0);
	if (f)
		check_pages_match_model(f, t, "after reopen");
	ekv_flash_close(f);
	tap_end("persist-across-reopen");
}

/* The flash's log: the refusals of EKV_MTD_VERIFY_ERASED are told here. */
struct log_lines {
	int n;
	char last[256];
};

static void collect_line(void *ctx, const char *line)
{
	struct log_lines *l = ctx;
	l->n++;
	snprintf(l->last, sizeof(l->last), "%s", line);
}

static void test_verify_erased(struct ctx *t)
{
	struct log_lines log = {0, ""};
	struct ekv_flash *f;
	uint8_t a[64], b[64], got[64];
	const uint32_t p = test_page(t, 1), off = t->ps - 1024; /* still erased in page 1 */
	int r;

	tap_begin();
	f = open_or_fail(t->dev, EKV_MTD_VERIFY_ERASED);
	if (f) {
		fill(a, sizeof a, 0xA1);
		fill(b, sizeof b, 0xB2);
		CHECK(!all_ff(a, 64, NULL) && !all_ff(b, 64, NULL), "bad pattern");
		r = f->ops->write(f->ctx, p, off, a, sizeof a);
		CHECK(r == 0, "program of an erased range with VERIFY_ERASED: %d", r);
		f->log = collect_line;
		f->log_ctx = &log;
		r = f->ops->write(f->ctx, p, off, b, sizeof b);
		CHECK(r == EKV_EIO, "second program of the same range: %d, want EKV_EIO", r);
		r = f->ops->write(f->ctx, p, off + 32, b, 32); /* partly overlapping */
		CHECK(r == EKV_EIO, "overlapping program: %d, want EKV_EIO", r);
		CHECK(log.n == 2 && strstr(log.last, "program of a non-erased byte"),
		      "the refusals told the flash's log %d times (want 2), last: %s", log.n,
		      log.last);
		printf("# log: %s\n", log.last);
		CHECK(f->ops->read(f->ctx, p, off, got, sizeof got) == 0, "read failed");
		CHECK(memcmp(got, a, sizeof a) == 0, "refused program changed the data");
		memcpy(t->model + (size_t)1 * t->ps + off, a, sizeof a);
		/* the neighbouring erased bytes are still programmable */
		r = f->ops->write(f->ctx, p, off + 64, b, sizeof b);
		CHECK(r == 0, "program right after the used range: %d", r);
		memcpy(t->model + (size_t)1 * t->ps + off + 64, b, sizeof b);
		/* after an erase the range is programmable again */
		CHECK(f->ops->erase(f->ctx, p) == 0, "erase failed");
		memset(t->model + (size_t)1 * t->ps, 0xFF, t->ps);
		r = f->ops->write(f->ctx, p, off, b, sizeof b);
		CHECK(r == 0, "program after erase: %d", r);
		memcpy(t->model + (size_t)1 * t->ps + off, b, sizeof b);
		check_pages_match_model(f, t, "after verify-erased");
	}
	ekv_flash_close(f);
	tap_end("verify-erased-catches-reprogram");

	/*
	 * Without the flag the device decides.  mtdram and block2mtd are RAM:
	 * the second program silently overwrites (why the flag exists).
	 */
	tap_begin();
	f = open_or_fail(t->dev, 0);
	if (f) {
		fill(a, sizeof a, 0xC3);
		r = f->ops->write(f->ctx, p, off, a, sizeof a);
		CHECK(r == 0, "reprogram without VERIFY_ERASED: %d", r);
		CHECK(f->ops->read(f->ctx, p, off, got, sizeof got) == 0, "read failed");
		if (strcmp(t->sim, "mtdram") == 0 || strcmp(t->sim, "block2mtd") == 0) {
			CHECK(memcmp(got, a, sizeof a) == 0,
			      "%s did not overwrite (RAM semantics expected)", t->sim);
		}
		printf("# %s: reprogram without erase reads back %s\n", t->sim,
		       memcmp(got, a, sizeof a) == 0 ? "the new data (overwrite)" : "other data");
		memcpy(t->model + (size_t)1 * t->ps + off, got, sizeof got);
	}
	ekv_flash_close(f);
	tap_end("reprogram-without-flag-overwrites");
}

static void test_read_only(struct ctx *t)
{
	struct ekv_flash *f;
	uint8_t buf[16];
	char ro[64];

	tap_begin();
	f = open_or_fail(t->dev, EKV_MTD_RDONLY);
	if (f) {
		memset(buf, 0, sizeof buf);
		CHECK(f->read_only, "read_only not set");
		CHECK(f->ops->write(f->ctx, 2, 0, buf, 4) == EKV_EROFS, "write not EKV_EROFS");
		CHECK(f->ops->erase(f->ctx, 0) == EKV_EROFS, "erase not EKV_EROFS");
		check_pages_match_model(f, t, "read-only");
	}
	ekv_flash_close(f);
	tap_end("rdonly-refuses-write-erase");

	tap_begin();
	snprintf(ro, sizeof ro, "/dev/mtd%dro", t->di.index);
	for (int k = 0; k < 2; k++) {
		f = open_or_fail(ro, k ? EKV_MTD_RDONLY : 0);
		if (!f)
			break;
		CHECK(f->read_only, "%s: read_only not set (flags %d)", ro, k);
		CHECK(f->page_size == t->ps && f->page_count == t->pc, "%s: geometry differs", ro);
		CHECK(f->ops->write(f->ctx, 2, 0, buf, 4) == EKV_EROFS, "%s: write not EROFS", ro);
		CHECK(f->ops->erase(f->ctx, 2) == EKV_EROFS, "%s: erase not EROFS", ro);
		check_pages_match_model(f, t, ro);
		ekv_flash_close(f);
	}
	tap_end("ro-node-is-read-only");
}

/* child: open DEV, take LOCK op with timeout, expect rc; reports elapsed */
struct lock_probe {
	const char *dev;
	int op, timeout_ms, want;
	double min_ms, max_ms;
	int ready_fd; /* write a byte here just before locking (-1: none) */
};

static const char *lock_probe_child(void *arg, char *buf, size_t size)
{
	struct lock_probe *lp = arg;
	struct ekv_flash *f = NULL;
	char msg[256] = "";
	double t0, dt;
	int r = ekv_flash_mtd_open(lp->dev, EKV_MTD_RDONLY, &f, msg, sizeof msg);

	if (r != 0) {
		snprintf(buf, size, "child open %s: %d %s", lp->dev, r, msg);
		return buf;
	}
	if (lp->ready_fd >= 0 && write(lp->ready_fd, "x", 1) != 1)
		return "ready write failed";
	t0 = now_ms();
	r = f->ops->lock(f->ctx, lp->op, lp->timeout_ms);
	dt = now_ms() - t0;
	ekv_flash_close(f);
	if (r != lp->want) {
		snprintf(buf, size, "lock(op %d, timeout %d) in a second process = %d, want %d",
			 lp->op, lp->timeout_ms, r, lp->want);
		return buf;
	}
	if (dt < lp->min_ms || dt > lp->max_ms) {
		snprintf(buf, size, "lock(op %d, timeout %d) took %.1f ms, want %.0f..%.0f", lp->op,
			 lp->timeout_ms, dt, lp->min_ms, lp->max_ms);
		return buf;
	}
	return NULL;
}

static void probe(const char *dev, int op, int timeout, int want, double min_ms, double max_ms,
		  const char *what)
{
	struct lock_probe lp = { dev, op, timeout, want, min_ms, max_ms, -1 };

	run_child(lock_probe_child, &lp, what);
}

static void test_locks(struct ctx *t)
{
	struct ekv_flash *f;
	char name_dev[200], lockfile[64], ro[64];
	struct stat st;

	snprintf(name_dev, sizeof name_dev, "mtd:%s", t->di.name);
	snprintf(ro, sizeof ro, "/dev/mtd%dro", t->di.index);

	tap_begin();
	f = open_or_fail(t->dev, 0);
	if (f) {
		CHECK(f->ops->lock(f->ctx, EKV_LOCK_EX, 0) == 0, "EX with timeout 0 on a free lock");
		probe(t->dev, EKV_LOCK_EX, 0, EKV_EBUSY, 0, 500, "EX/0 vs EX");
		probe(t->dev, EKV_LOCK_SH, 0, EKV_EBUSY, 0, 500, "SH/0 vs EX");
		probe(t->dev, EKV_LOCK_EX, 100, EKV_EBUSY, 90, 2000, "EX/100ms vs EX");
		probe(ro, EKV_LOCK_EX, 0, EKV_EBUSY, 0, 500, "ro node shares the lock");
		CHECK(f->ops->lock(f->ctx, EKV_LOCK_UN, 0) == 0, "UN failed");
		probe(t->dev, EKV_LOCK_EX, 0, 0, 0, 500, "EX/0 after UN");
	}
	ekv_flash_close(f);
	tap_end("lock-ex-excludes-second-process");

	tap_begin();
	f = open_or_fail(t->dev, EKV_MTD_RDONLY);
	if (f) {
		CHECK(f->ops->lock(f->ctx, EKV_LOCK_SH, 0) == 0, "SH on a free lock");
		probe(t->dev, EKV_LOCK_SH, 0, 0, 0, 500, "SH/0 vs SH");
		probe(t->dev, EKV_LOCK_EX, 0, EKV_EBUSY, 0, 500, "EX/0 vs SH");
		CHECK(f->ops->lock(f->ctx, EKV_LOCK_UN, -1) == 0, "UN failed");
		CHECK(f->ops->lock(f->ctx, 99, 0) == EKV_EINVAL, "bad op not EKV_EINVAL");
	}
	ekv_flash_close(f);
	tap_end("lock-sh-shares");

	/* waiting: a second process gets the lock when the first releases it */
	tap_begin();
	f = open_or_fail(t->dev, 0);
	for (int k = 0; f && k < 2; k++) {
		int p[2];
		char c;
		struct child ch;
		struct lock_probe lp = { t->dev, EKV_LOCK_EX, k ? -1 : 5000, 0, 100, 4000, -1 };

		CHECK(f->ops->lock(f->ctx, EKV_LOCK_EX, -1) == 0, "EX blocking on a free lock");
		if (pipe(p) < 0) {
			tap_fail("pipe");
			break;
		}
		lp.ready_fd = p[1];
		if (child_start(&ch, lock_probe_child, &lp) < 0) {
			tap_fail("fork");
			break;
		}
		close(p[1]);
		CHECK(read(p[0], &c, 1) == 1, "child never got ready");
		close(p[0]);
		sleep_ms(200);
		CHECK(f->ops->lock(f->ctx, EKV_LOCK_UN, 0) == 0, "UN failed");
		child_finish(&ch, k ? "blocking EX waits for UN" : "EX/5000ms waits for UN");
	}
	ekv_flash_close(f);
	tap_end("lock-waits-for-release");

	/* mtd:NAME and the ro node resolve to the same index (same lock) */
	tap_begin();
	f = open_or_fail(name_dev, 0);
	if (f) {
		CHECK(f->page_size == t->ps && f->page_count == t->pc, "%s: geometry differs",
		      name_dev);
		check_pages_match_model(f, t, name_dev);
		CHECK(f->ops->lock(f->ctx, EKV_LOCK_EX, 0) == 0, "EX through the name");
		probe(t->dev, EKV_LOCK_EX, 0, EKV_EBUSY, 0, 500, "name vs /dev/mtdN lock");
		f->ops->lock(f->ctx, EKV_LOCK_UN, 0);
	}
	ekv_flash_close(f);
	snprintf(lockfile, sizeof lockfile, "/run/lock/ekv/mtd%d.lock", t->di.index);
	CHECK(stat(lockfile, &st) == 0 && S_ISREG(st.st_mode), "%s missing", lockfile);
	printf("# %s -> mtd%d, lock file %s\n", name_dev, t->di.index, lockfile);
	tap_end("name-resolves-to-same-index");
}

/* The commit counter in the lock file: one handle's mark_changed is seen by
 * every other handle (process) of the same device, by any name. */
struct token_arg {
	const char *dev;
	uint64_t want;
};

static const char *token_child(void *arg, char *buf, size_t size)
{
	const struct token_arg *ta = arg;
	struct ekv_flash *f = NULL;
	char msg[256] = "";
	uint64_t tok = 0;
	int r = ekv_flash_mtd_open(ta->dev, EKV_MTD_RDONLY, &f, msg, sizeof msg);

	if (r != 0) {
		snprintf(buf, size, "child open: %d %s", r, msg);
		return buf;
	}
	r = f->ops->change_token(f->ctx, &tok);
	ekv_flash_close(f);
	if (r != 0 || tok != ta->want) {
		snprintf(buf, size, "token in a second process = %llu (r %d), want %llu",
			 (unsigned long long)tok, r, (unsigned long long)ta->want);
		return buf;
	}
	return NULL;
}

static void test_change_token(struct ctx *t)
{
	struct ekv_flash *w, *r = NULL;
	struct token_arg ta;
	char name_dev[200];
	uint64_t t0 = 0, t1 = 0, t2 = 0;

	snprintf(name_dev, sizeof name_dev, "mtd:%s", t->di.name);
	tap_begin();
	w = open_or_fail(t->dev, 0);
	if (w)
		r = open_or_fail(name_dev, EKV_MTD_RDONLY);
	if (w && r) {
		CHECK(w->ops->change_token && w->ops->mark_changed, "no change_token/mark_changed op");
		if (w->ops->change_token && w->ops->mark_changed) {
			CHECK(r->ops->change_token(r->ctx, &t0) == 0, "change_token (read-only)");
			CHECK(w->ops->lock(w->ctx, EKV_LOCK_EX, 0) == 0, "EX");
			CHECK(w->ops->mark_changed(w->ctx) == 0, "mark_changed");
			CHECK(w->ops->lock(w->ctx, EKV_LOCK_UN, 0) == 0, "UN");
			CHECK(r->ops->change_token(r->ctx, &t1) == 0 && t1 != t0,
			      "token unchanged after mark_changed (%llu)", (unsigned long long)t1);
			CHECK(w->ops->change_token(w->ctx, &t2) == 0 && t2 == t1,
			      "the two handles disagree: %llu vs %llu", (unsigned long long)t2,
			      (unsigned long long)t1);
			CHECK(r->ops->mark_changed(r->ctx) == EKV_EROFS,
			      "mark_changed on a read-only handle");
			ta.dev = t->dev;
			ta.want = t1;
			run_child(token_child, &ta, "token seen by another process");
		}
	}
	ekv_flash_close(r);
	ekv_flash_close(w);
	printf("# change token (commit counter in the lock file): %llu -> %llu\n",
	       (unsigned long long)t0, (unsigned long long)t1);
	tap_end("change-token-counts-commits-across-handles");
}

static void test_errors(struct ctx *t)
{
	struct ekv_flash *f;
	char msg[256];
	uint8_t buf[8] = { 0 };
	int r;

	tap_begin();
	f = open_or_fail(t->dev, 0);
	if (f) {
		CHECK(f->ops->read(f->ctx, t->pc, 0, buf, 4) == EKV_EINVAL, "read past last page");
		CHECK(f->ops->read(f->ctx, 0, t->ps - 4, buf, 8) == EKV_EINVAL,
		      "read across the page end");
		CHECK(f->ops->write(f->ctx, t->pc, 0, buf, 4) == EKV_EINVAL, "write past last page");
		CHECK(f->ops->write(f->ctx, 0, t->ps, buf, 4) == EKV_EINVAL, "write at page end");
		CHECK(f->ops->erase(f->ctx, t->pc) == EKV_EINVAL, "erase past last page");
		CHECK(f->ops->read(f->ctx, 0, t->ps, buf, 0) == 0, "empty read at page end");
	}
	ekv_flash_close(f);
	tap_end("out-of-range-is-einval");

	tap_begin();
	f = NULL;
	msg[0] = '\0';
	r = ekv_flash_mtd_open("mtd:no such mtd device", 0, &f, msg, sizeof msg);
	CHECK(r == -ENOENT && f == NULL, "unknown name: %d", r);
	CHECK(strstr(msg, "no such mtd device") != NULL, "message \"%s\" lacks the name", msg);
	printf("# unknown name: %s\n", msg);
	msg[0] = '\0';
	r = ekv_flash_mtd_open("/dev/mtd987", 0, &f, msg, sizeof msg);
	CHECK(r == -ENOENT && msg[0], "missing node: %d \"%s\"", r, msg);
	r = ekv_flash_mtd_open("/dev/null", 0, &f, msg, sizeof msg);
	CHECK(r == EKV_ENOTSUP && msg[0], "/dev/null: %d \"%s\"", r, msg);
	printf("# /dev/null: %s\n", msg);
	r = ekv_flash_mtd_open(t->dev, 0x100, &f, msg, sizeof msg);
	CHECK(r == EKV_EINVAL, "unknown flag: %d", r);
	r = ekv_flash_mtd_open(t->dev, 0, NULL, msg, sizeof msg);
	CHECK(r == EKV_EINVAL, "NULL out: %d", r);
	tap_end("open-errors");
}

/* threads programming and reading different pages of one handle at once */
struct thr {
	struct ekv_flash *f;
	uint32_t ps, first, step, pc;
	int id;
	char why[200];
};

static void *thr_main(void *arg)
{
	struct thr *th = arg;
	uint8_t *w = malloc(th->ps), *r = malloc(th->ps);

	th->why[0] = '\0';
	for (int round = 0; w && r && round < 3 && !th->why[0]; round++) {
		for (uint32_t p = th->first; p < th->pc && !th->why[0]; p += th->step) {
			uint32_t chunk = th->ps / 4;
			int rc = th->f->ops->erase(th->f->ctx, p);

			fill(w, th->ps, p * 7u + (uint32_t)round * 131u + (uint32_t)th->id);
			for (uint32_t o = 0; rc == 0 && o < th->ps; o += chunk)
				rc = th->f->ops->write(th->f->ctx, p, o, w + o, chunk);
			if (rc == 0)
				rc = th->f->ops->read(th->f->ctx, p, 0, r, th->ps);
			if (rc != 0)
				snprintf(th->why, sizeof th->why, "thread %d page %u: rc %d", th->id,
					 p, rc);
			else if (memcmp(w, r, th->ps) != 0)
				snprintf(th->why, sizeof th->why, "thread %d page %u: data mismatch",
					 th->id, p);
		}
	}
	if (!w || !r)
		snprintf(th->why, sizeof th->why, "malloc");
	free(w);
	free(r);
	return NULL;
}

static void test_threads(struct ctx *t)
{
	enum { N = 4 };
	struct thr th[N];
	pthread_t tid[N];
	struct ekv_flash *f;
	uint32_t lo = 2, hi = t->pc / 2; /* pages 2 .. middle-1 are not in the model */

	tap_begin();
	f = open_or_fail(t->dev, EKV_MTD_VERIFY_ERASED);
	if (hi > lo + 32)
		hi = lo + 32;
	for (int i = 0; f && i < N; i++) {
		th[i] = (struct thr){ f, t->ps, lo + (uint32_t)i, N, hi, i, "" };
		if (pthread_create(&tid[i], NULL, thr_main, &th[i]) != 0) {
			tap_fail("pthread_create");
			for (int j = 0; j < i; j++)
				pthread_join(tid[j], NULL);
			goto out;
		}
	}
	if (f) {
		/* meanwhile, this thread keeps reading the model pages */
		for (int k = 0; k < 5; k++)
			check_pages_match_model(f, t, "concurrent read");
		for (int i = 0; i < N; i++) {
			pthread_join(tid[i], NULL);
			CHECK(!th[i].why[0], "%s", th[i].why);
		}
	}
out:
	ekv_flash_close(f);
	tap_end("threads-on-different-pages");
}

/* "geometry": a usable but huge device; open and read only, never write. */
static void test_geometry_only(struct ctx *t)
{
	struct ekv_flash *f;
	uint8_t buf[64];

	tap_begin();
	f = open_or_fail(t->dev, EKV_MTD_RDONLY);
	if (f) {
		CHECK(f->read_only, "read_only not set");
		CHECK(f->page_count == t->pc && f->page_size == t->ps, "geometry differs");
		CHECK(f->ops->read(f->ctx, 0, 0, buf, sizeof buf) == 0, "read of page 0");
		CHECK(f->ops->read(f->ctx, f->page_count - 1, f->page_size - sizeof buf, buf,
				   sizeof buf) == 0,
		      "read at the end of the last page");
		CHECK(f->ops->read(f->ctx, f->page_count, 0, buf, 4) == EKV_EINVAL,
		      "read past the last page");
		printf("# %s: %u pages accepted\n", t->dev, f->page_count);
	}
	ekv_flash_close(f);
	tap_end("rdonly-open-and-read-ends");
}

static void cleanup_erase(struct ctx *t)
{
	struct ekv_flash *f;

	tap_begin();
	f = open_or_fail(t->dev, 0);
	for (uint32_t p = 0; f && p < t->pc; p++) {
		int r = f->ops->erase(f->ctx, p);
		if (r != 0) {
			tap_fail("erase %u: %d", p, r);
			break;
		}
	}
	ekv_flash_close(f);
	tap_end("final-erase");
}

int main(int argc, char **argv)
{
	const char *expect = getenv("EKV_MTD_EXPECT");
	const char *sim = getenv("EKV_MTD_SIM");
	struct ctx t;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 2) {
		fprintf(stderr, "usage: %s /dev/mtdN\n", argv[0]);
		return 2;
	}
	memset(&t, 0, sizeof t);
	t.dev = argv[1];
	if (get_devinfo(t.dev, &t.di) < 0) {
		printf("not ok - device-info: %s is not in /proc/mtd\n", t.dev);
		return 1;
	}
	if (sim == NULL || !*sim)
		sim = strstr(t.di.name, "NAND") ? "nandsim"
		      : strstr(t.di.name, "block2mtd") ? "block2mtd"
							: "mtdram";
	t.sim = sim;
	printf("# device %s: mtd%d \"%s\" (%s) size %llu erasesize %lu writesize %lu\n", t.dev,
	       t.di.index, t.di.name, t.sim, t.di.size, t.di.erasesize, t.di.writesize);

	if (expect && strncmp(expect, "refuse:", 7) == 0) {
		test_refused(t.dev, &t.di, expect + 7);
	} else if (expect && strcmp(expect, "geometry") == 0) {
		test_open_geometry(&t);
		test_geometry_only(&t);
	} else {
		test_open_geometry(&t);
		if (t.ps == 0 || t.pc < 4) {
			printf("not ok - setup: unusable geometry\n");
			return 1;
		}
		t.model = malloc((size_t)t.ps * 4);
		if (t.model == NULL)
			return 1;
		memset(t.model, 0xFF, (size_t)t.ps * 4);
		test_erase_all(&t);
		test_program(&t);
		test_verify_erased(&t);
		test_read_only(&t);
		test_locks(&t);
		test_change_token(&t);
		test_errors(&t);
		test_threads(&t);
		cleanup_erase(&t);
		free(t.model);
	}
	return tap_summary(t.dev);
}
