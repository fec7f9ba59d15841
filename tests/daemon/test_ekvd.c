/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * test_ekvd.c — ekvd as its clients see it: the daemon runs as a real
 * process on a file image in a temporary directory, clients use ekv_connect
 * (or raw frames, to misbehave).  Usage: test_ekvd PATH/TO/ekvd
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ekv.h"
#include "proto.h"
#include "rng.h" /* tests/support: rng_u64 */

static const char *ekvd_path;
static char root[64];
/* daemons running now: a failed test leaves none behind (see reap_daemons) */
static pid_t running[8];

/* ---- the daemon ----------------------------------------------------------- */

struct daemon {
	pid_t pid;
	int notify_fd;
	char dir[80], sock[100], img[100], notify[100];
	char notes[4096]; /* sd_notify messages received */
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Collect sd_notify messages until one contains `what` (or the timeout). */
static bool await_note(struct daemon *d, const char *what, int timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;
	while (!strstr(d->notes, what)) {
		int left = (int)(end - now_ms());
		if (left <= 0)
			return false;
		struct pollfd p = {d->notify_fd, POLLIN, 0};
		if (poll(&p, 1, left) <= 0)
			continue;
		char msg[1024];
		ssize_t n = recv(d->notify_fd, msg, sizeof(msg) - 1, 0);
		if (n <= 0)
			continue;
		msg[n] = 0;
		size_t have = strlen(d->notes);
		snprintf(d->notes + have, sizeof(d->notes) - have, "%s\n", msg);
	}
	return true;
}

/* A fresh directory for one daemon: DIR/ekv.sock, DIR/db.img. */
static void daemon_init(struct daemon *d, const char *name)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "%s/%s", root, name);
	mkdir(d->dir, 0700);
	snprintf(d->sock, sizeof(d->sock), "%s/ekv.sock", d->dir);
	snprintf(d->img, sizeof(d->img), "%s/db.img", d->dir);
	snprintf(d->notify, sizeof(d->notify), "%s/notify", d->dir);
	d->notify_fd = -1;
}

/* Start ekvd on d->img and d->sock with extra options (NULL-terminated);
 * returns once it said READY=1.  listen_fd >= 0: pass it as systemd does. */
static void daemon_start_fd(struct daemon *d, int listen_fd, const char *const *extra)
{
	if (d->notify_fd < 0) {
		d->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		assert_true(d->notify_fd >= 0);
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", d->notify);
		unlink(d->notify);
		assert_int_equal(bind(d->notify_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	}
	d->notes[0] = 0;
	const char *argv[32] = {ekvd_path, "--image", d->img, "--seed", "7"};
	int n = 5;
	if (listen_fd < 0) {
		argv[n++] = "--socket";
		argv[n++] = d->sock;
	}
	for (; extra && *extra; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	fflush(NULL);
	d->pid = fork();
	assert_true(d->pid >= 0);
	if (d->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* nor does a test that dies */
		setenv("NOTIFY_SOCKET", d->notify, 1);
		if (listen_fd >= 0) {
			if (listen_fd != 3) {
				dup2(listen_fd, 3);
				close(listen_fd);
			}
			char pid[32];
			snprintf(pid, sizeof(pid), "%d", (int)getpid());
			setenv("LISTEN_PID", pid, 1);
			setenv("LISTEN_FDS", "1", 1);
		}
		execv(ekvd_path, (char **)argv);
		_exit(127);
	}
	for (size_t i = 0; i < sizeof(running) / sizeof(running[0]); i++)
		if (!running[i]) {
			running[i] = d->pid;
			break;
		}
	if (!await_note(d, "READY=1", 20000)) {
		kill(d->pid, SIGKILL);
		fail_msg("ekvd did not become ready");
	}
}

static void daemon_start(struct daemon *d, const char *const *extra)
{
	daemon_start_fd(d, -1, extra);
}

/* SIGTERM (or another signal) and wait; returns the exit status, or
 * 128 + the signal that ended it. */
static int daemon_stop(struct daemon *d, int sig)
{
	kill(d->pid, sig);
	int st;
	while (waitpid(d->pid, &st, 0) < 0 && errno == EINTR)
		;
	for (size_t i = 0; i < sizeof(running) / sizeof(running[0]); i++)
		if (running[i] == d->pid)
			running[i] = 0;
	d->pid = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void daemon_done(struct daemon *d)
{
	if (d->pid > 0)
		assert_int_equal(daemon_stop(d, SIGTERM), 0);
	if (d->notify_fd >= 0)
		close(d->notify_fd);
	d->notify_fd = -1;
}

static ekv_db *connect_to(struct daemon *d, int busy_ms)
{
	struct ekv_connect_options o;
	ekv_connect_options_default(&o);
	o.busy_timeout_ms = busy_ms;
	ekv_db *db = NULL;
	int e = ekv_connect(d->sock, &o, &db);
	if (e)
		fail_msg("ekv_connect: %s", ekv_strerror(e));
	return db;
}

/* ---- small helpers ------------------------------------------------------------- */

static int put1(ekv_db *db, const char *k, const char *v)
{
	ekv_wtx *tx;
	int e = ekv_wtx_begin(db, &tx);
	if (e)
		return e;
	e = ekv_wtx_put(tx, k, strlen(k), v, strlen(v));
	if (e) {
		ekv_wtx_abort(tx);
		return e;
	}
	return ekv_wtx_commit(tx);
}

/* get into a static buffer; NULL if not found, fails on other errors */
static const char *get1(ekv_db *db, const char *k)
{
	static char v[1100];
	ekv_rtx *r;
	assert_int_equal(ekv_rtx_begin(db, &r), 0);
	size_t n = 0;
	int e = ekv_rtx_get(r, k, strlen(k), v, sizeof(v) - 1, &n);
	ekv_rtx_end(r);
	if (e == EKV_ENOTFOUND)
		return NULL;
	assert_int_equal(e, 0);
	v[n] = 0;
	return v;
}

/* ---- parity: the same script on a remote and a local handle ------------------ */

struct transcript {
	char s[32768];
	size_t n;
};

static void note(struct transcript *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(t->s + t->n, sizeof(t->s) - t->n, fmt, ap);
	va_end(ap);
	if (k > 0)
		t->n += (size_t)k < sizeof(t->s) - t->n ? (size_t)k : sizeof(t->s) - t->n - 1;
}

static void note_bytes(struct transcript *t, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		note(t, "%02x", p[i]);
	note(t, " ");
}

static void scan(struct transcript *t, ekv_rtx *r, const char *what, const void *start, size_t sl,
		 const void *end, size_t el, bool prefix)
{
	ekv_cursor *c;
	int e = prefix ? ekv_cursor_open_prefix(r, start, sl, &c)
		       : ekv_cursor_open(r, start, sl, end, el, &c);
	note(t, "%s open %d: ", what, e);
	if (e)
		return;
	uint8_t k[1100], v[1100];
	size_t kl, vl;
	while ((e = ekv_cursor_next(c, k, sizeof(k), &kl, v, sizeof(v), &vl)) == 1) {
		note_bytes(t, k, kl);
		note_bytes(t, v, vl);
	}
	note(t, "-> %d\n", e);
	ekv_cursor_close(c);
}

/* Everything the API offers, with its results written down. */
static void run_script(ekv_db *db, struct transcript *t)
{
	ekv_wtx *tx;
	ekv_rtx *r;
	int e;
	char big[70];
	memset(big, 'k', sizeof(big));
	note(t, "format %d\n", ekv_format(db));
	note(t, "mount %d\n", ekv_mount(db));

	e = ekv_wtx_begin(db, &tx);
	note(t, "begin %d put %d", e, ekv_wtx_put(tx, "a", 1, "1", 1));
	note(t, " toobig %d", ekv_wtx_put(tx, big, sizeof(big), "x", 1));
	note(t, " put %d", ekv_wtx_put(tx, "b", 1, "2", 1));
	note(t, " put %d", ekv_wtx_put(tx, "b\0", 2, "", 0));
	note(t, " commit %d\n", ekv_wtx_commit(tx));

	e = ekv_wtx_begin(db, &tx);
	note(t, "unsorted: put %d", ekv_wtx_put(tx, "z", 1, "1", 1));
	note(t, " put %d", ekv_wtx_put(tx, "y", 1, "1", 1));
	note(t, " put %d", ekv_wtx_put(tx, "zz", 2, "1", 2));
	note(t, " commit %d\n", ekv_wtx_commit(tx));

	e = ekv_wtx_begin(db, &tx);
	static const uint8_t bk[] = {0, 1, 0xff}, bv[] = {0, 0, 0x80, 0};
	note(t, "binary: put %d", ekv_wtx_put(tx, bk, 3, bv, 4));
	uint8_t val[1025];
	memset(val, 0xa5, sizeof(val));
	note(t, " put %d", ekv_wtx_put(tx, "max", 3, val, 1024));
	note(t, " over %d", ekv_wtx_put(tx, "over", 4, val, 1025));
	note(t, " commit %d\n", ekv_wtx_commit(tx));

	e = ekv_wtx_begin(db, &tx);
	note(t, "abort: put %d\n", ekv_wtx_put(tx, "gone", 4, "x", 1));
	ekv_wtx_abort(tx);

	e = ekv_wtx_begin(db, &tx);
	note(t, "delete %d", ekv_wtx_delete(tx, "b", 1));
	note(t, " commit %d\n", ekv_wtx_commit(tx));

	e = ekv_rtx_begin(db, &r);
	note(t, "rtx %d\n", e);
	uint8_t v[2000];
	size_t vl = 12345;
	e = ekv_rtx_get(r, "a", 1, v, sizeof(v), &vl);
	note(t, "get a %d ", e);
	note_bytes(t, v, e ? 0 : vl);
	vl = 12345;
	note(t, "get b %d %zu\n", ekv_rtx_get(r, "b", 1, v, sizeof(v), &vl), vl);
	note(t, "get gone %d\n", ekv_rtx_get(r, "gone", 4, v, sizeof(v), NULL));
	vl = 0;
	note(t, "get max cap 10 %d len %zu\n", ekv_rtx_get(r, "max", 3, v, 10, &vl), vl);
	vl = 0;
	note(t, "get max %d len %zu\n", ekv_rtx_get(r, "max", 3, v, sizeof(v), &vl), vl);
	note(t, "get toobig %d\n", ekv_rtx_get(r, big, sizeof(big), v, sizeof(v), &vl));
	note(t, "get null %d\n", ekv_rtx_get(r, NULL, 1, v, sizeof(v), &vl));
	vl = 0;
	e = ekv_rtx_get(r, bk, 3, v, sizeof(v), &vl);
	note(t, "get binary %d ", e);
	note_bytes(t, v, vl);
	note(t, "\n");

	scan(t, r, "all", NULL, 0, NULL, 0, false);
	scan(t, r, "range [a,c)", "a", 1, "c", 1, false);
	scan(t, r, "range [,)", "", 0, "", 0, false);
	scan(t, r, "from m", "m", 1, NULL, 0, false);
	scan(t, r, "prefix b", "b", 1, NULL, 0, true);
	scan(t, r, "prefix empty", "", 0, NULL, 0, true);
	scan(t, r, "prefix ff", "\xff", 1, NULL, 0, true);
	scan(t, r, "prefix toobig", big, sizeof(big), NULL, 0, true);

	/* a too small buffer does not advance; the cursor outlives its rtx */
	ekv_cursor *c;
	e = ekv_cursor_open(r, NULL, 0, NULL, 0, &c);
	note(t, "cursor %d\n", e);
	ekv_rtx_end(r);
	uint8_t k[64];
	size_t kl = 0;
	vl = 0;
	note(t, "small key buf %d", ekv_cursor_next(c, k, 0, &kl, v, sizeof(v), &vl));
	note(t, " lens %zu %zu", kl, vl);
	note(t, " again %d", ekv_cursor_next(c, k, sizeof(k), &kl, v, sizeof(v), &vl));
	note_bytes(t, k, kl);
	int n = 0;
	while ((e = ekv_cursor_next(c, k, sizeof(k), &kl, v, sizeof(v), &vl)) == 1)
		n++;
	note(t, "rest %d end %d\n", n, e);
	ekv_cursor_close(c);

	/* a snapshot does not see later commits */
	assert_int_equal(ekv_rtx_begin(db, &r), 0);
	note(t, "put during rtx %d\n", put1(db, "a", "new"));
	note(t, "old snapshot %d ", ekv_rtx_get(r, "a", 1, v, sizeof(v), &vl));
	note_bytes(t, v, vl);
	ekv_rtx_end(r);
	assert_int_equal(ekv_rtx_begin(db, &r), 0);
	note(t, "new snapshot %d ", ekv_rtx_get(r, "a", 1, v, sizeof(v), &vl));
	note_bytes(t, v, vl);
	note(t, "\n");
	ekv_rtx_end(r);

	/* enough commits to make compactions happen */
	for (int i = 0; i < 300; i++) {
		char key[16], value[64];
		snprintf(key, sizeof(key), "n%03d", i % 50);
		snprintf(value, sizeof(value), "value-%d-%040d", i, i);
		e = put1(db, key, value);
		if (e) {
			note(t, "bulk put %d failed %d\n", i, e);
			break;
		}
	}
	note(t, "compact %d\n", ekv_compact(db));
	struct ekv_stat st;
	e = ekv_stat(db, &st);
	note(t, "stat %d used %u free %u files %u gen %llu meta %u/%u\n", e, st.pages_used,
	     st.pages_free, st.file_count, (unsigned long long)st.generation, st.meta_page,
	     st.meta_seq);
	assert_int_equal(ekv_rtx_begin(db, &r), 0);
	scan(t, r, "final", NULL, 0, NULL, 0, false);
	ekv_rtx_end(r);
}

static void test_remote_handle_behaves_like_local(void **state)
{
	(void)state;
	struct daemon d;
	daemon_init(&d, "parity");
	daemon_start(&d, NULL);
	ekv_db *db = connect_to(&d, 5000);
	struct ekv_remote_info info;
	assert_int_equal(ekv_remote_info(db, &info), 0);
	assert_false(info.read_only);
	assert_int_equal(info.profile.page_size, 4096);
	assert_int_equal(info.profile.max_value_size, 1024);
	assert_non_null(strstr(info.database, "image:"));
	assert_non_null(strstr(info.database, "/parity/db.img"));
	static struct transcript remote, local;
	run_script(db, &remote);
	ekv_close(db);
	daemon_done(&d);

	char img[PATH_MAX + 16];
	snprintf(img, sizeof(img), "%s/local.img", d.dir);
	struct ekv_profile p;
	ekv_profile_default(&p);
	p.layout = 1; /* the Rust crate's layout */
	struct ekv_flash *f;
	assert_int_equal(ekv_flash_file_open(img, p.page_size, p.page_count, 0xff, EKV_FILE_CREATE,
					     &f),
			 0);
	struct ekv_options o;
	ekv_options_default(&o);
	o.seed = 7;
	o.seed_set = true;
	assert_int_equal(ekv_open(f, &p, &o, &db), 0);
	assert_int_equal(ekv_remote_info(db, &info), EKV_EINVAL);
	ekv_mount(db); /* as ekvd does at start */
	run_script(db, &local);
	ekv_close(db);
	ekv_flash_close(f);
	if (strcmp(remote.s, local.s)) {
		printf("remote:\n%s\nlocal:\n%s\n", remote.s, local.s);
		fail_msg("transcripts differ");
	}
	/* and the flash contents are the same bytes */
	char cmd[3 * PATH_MAX];
	snprintf(cmd, sizeof(cmd), "cmp -s '%s' '%s'", d.img, img);
	assert_int_equal(system(cmd), 0);
}

/* ---- 64 concurrent clients --------------------------------------------------- */

#define GROUPS 8
#define GROUP_KEYS 6
#define CLIENTS 64
#define SHARED_HANDLE_CLIENTS 8 /* these share one handle (its connection pool) */

struct stress {
	struct daemon *d;
	ekv_db *shared;
	atomic_ullong gen;
	atomic_int errors, commits, busy, gets, scans;
	int iterations;
	char first_error[256];
	pthread_mutex_t lock;
};

struct client {
	struct stress *s;
	int index;
	unsigned long long seen[GROUPS]; /* newest generation seen per group */
	uint64_t rng;
};

static void stress_error(struct stress *s, const char *fmt, ...)
{
	pthread_mutex_lock(&s->lock);
	if (!s->first_error[0]) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(s->first_error, sizeof(s->first_error), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&s->lock);
	atomic_fetch_add(&s->errors, 1);
}

static uint32_t crand(struct client *c)
{
	return (uint32_t)rng_u64(&c->rng);
}

static void group_key(char *k, int g, int i)
{
	sprintf(k, "g%02d/k%02d", g, i);
}

/* Every key of each chosen group gets the same new generation, in one tx. */
static void client_write(struct client *c, ekv_db *db)
{
	struct stress *s = c->s;
	bool chosen[GROUPS] = {false};
	int n = 1 + (int)(crand(c) % 3);
	for (int i = 0; i < n; i++)
		chosen[crand(c) % GROUPS] = true;
	ekv_wtx *tx;
	int e = ekv_wtx_begin(db, &tx);
	if (e == EKV_EBUSY) {
		atomic_fetch_add(&s->busy, 1);
		return;
	}
	if (e) {
		stress_error(s, "client %d: wtx_begin: %s", c->index, ekv_strerror(e));
		return;
	}
	unsigned long long gen = atomic_fetch_add(&s->gen, 1) + 1;
	char v[32], k[16];
	snprintf(v, sizeof(v), "%020llu", gen);
	for (int g = 0; g < GROUPS && !e; g++)
		for (int i = 0; chosen[g] && i < GROUP_KEYS && !e; i++) {
			group_key(k, g, i);
			e = ekv_wtx_put(tx, k, strlen(k), v, strlen(v));
		}
	if (e) {
		ekv_wtx_abort(tx);
		stress_error(s, "client %d: put: %s", c->index, ekv_strerror(e));
		return;
	}
	e = ekv_wtx_commit(tx);
	if (e) {
		stress_error(s, "client %d: commit: %s", c->index, ekv_strerror(e));
		return;
	}
	for (int g = 0; g < GROUPS; g++)
		if (chosen[g] && gen > c->seen[g])
			c->seen[g] = gen;
	atomic_fetch_add(&s->commits, 1);
}

/* A group read in one snapshot must show one generation, never older than
 * one this client saw (or wrote) before. */
static void check_group(struct client *c, int g, char vals[GROUP_KEYS][32], int n, const char *how)
{
	if (n != GROUP_KEYS) {
		stress_error(c->s, "client %d: %s: group %d has %d keys", c->index, how, g, n);
		return;
	}
	for (int i = 1; i < n; i++) {
		if (strcmp(vals[i], vals[0])) {
			stress_error(c->s, "client %d: %s: group %d torn: %s vs %s", c->index, how,
				     g, vals[0], vals[i]);
			return;
		}
	}
	unsigned long long gen = strtoull(vals[0], NULL, 10);
	if (gen < c->seen[g]) {
		stress_error(c->s, "client %d: %s: group %d went back from %llu to %llu", c->index,
			     how, g, c->seen[g], gen);
		return;
	}
	c->seen[g] = gen;
}

static void client_gets(struct client *c, ekv_db *db)
{
	ekv_rtx *r;
	int e = ekv_rtx_begin(db, &r);
	if (e) {
		stress_error(c->s, "client %d: rtx_begin: %s", c->index, ekv_strerror(e));
		return;
	}
	int g = (int)(crand(c) % GROUPS);
	char vals[GROUP_KEYS][32], k[16];
	int n = 0;
	for (int i = 0; i < GROUP_KEYS; i++) {
		group_key(k, g, i);
		size_t vl;
		e = ekv_rtx_get(r, k, strlen(k), vals[n], 31, &vl);
		if (e) {
			stress_error(c->s, "client %d: get %s: %s", c->index, k, ekv_strerror(e));
			break;
		}
		vals[n++][vl] = 0;
		if (i == 2)
			sched_yield(); /* let writers commit in between */
	}
	ekv_rtx_end(r);
	if (!e)
		check_group(c, g, vals, n, "get");
	atomic_fetch_add(&c->s->gets, 1);
}

static void client_scan(struct client *c, ekv_db *db)
{
	ekv_rtx *r;
	int e = ekv_rtx_begin(db, &r);
	if (e) {
		stress_error(c->s, "client %d: rtx_begin: %s", c->index, ekv_strerror(e));
		return;
	}
	bool whole = crand(c) % 2;
	int only = (int)(crand(c) % GROUPS);
	char prefix[8];
	snprintf(prefix, sizeof(prefix), "g%02d/", only);
	ekv_cursor *cur;
	e = whole ? ekv_cursor_open(r, NULL, 0, NULL, 0, &cur)
		  : ekv_cursor_open_prefix(r, prefix, strlen(prefix), &cur);
	if (e) {
		ekv_rtx_end(r);
		stress_error(c->s, "client %d: cursor_open: %s", c->index, ekv_strerror(e));
		return;
	}
	/* the snapshot is the cursor's from here on */
	if (crand(c) % 2)
		ekv_rtx_end(r), r = NULL;
	char vals[GROUP_KEYS][32], k[32];
	int group = -1, n = 0, groups = 0;
	size_t kl, vl;
	char v[32];
	while ((e = ekv_cursor_next(cur, k, sizeof(k) - 1, &kl, v, 31, &vl)) == 1) {
		k[kl] = 0;
		v[vl] = 0;
		int g = atoi(k + 1);
		if (g != group) {
			if (group >= 0)
				check_group(c, group, vals, n, "scan");
			group = g;
			n = 0;
			groups++;
			sched_yield();
		}
		if (n < GROUP_KEYS)
			strcpy(vals[n], v);
		n++;
	}
	if (e < 0)
		stress_error(c->s, "client %d: cursor_next: %s", c->index, ekv_strerror(e));
	else if (group >= 0)
		check_group(c, group, vals, n, "scan");
	if (groups != (whole ? GROUPS : 1))
		stress_error(c->s, "client %d: scan saw %d groups", c->index, groups);
	ekv_cursor_close(cur);
	if (r)
		ekv_rtx_end(r);
	atomic_fetch_add(&c->s->scans, 1);
}

static void *client_main(void *arg)
{
	struct client *c = arg;
	struct stress *s = c->s;
	ekv_db *db = s->shared;
	bool own = c->index >= SHARED_HANDLE_CLIENTS;
	if (own) {
		struct ekv_connect_options o;
		ekv_connect_options_default(&o);
		o.busy_timeout_ms = 30000;
		int e = ekv_connect(s->d->sock, &o, &db);
		if (e) {
			stress_error(s, "client %d: connect: %s", c->index, ekv_strerror(e));
			return NULL;
		}
	}
	for (int i = 0; i < s->iterations; i++) {
		uint32_t r = crand(c) % 100;
		if (r < 25)
			client_write(c, db);
		else if (r < 65)
			client_gets(c, db);
		else
			client_scan(c, db);
	}
	if (own)
		ekv_close(db);
	return NULL;
}

static void test_64_clients_see_consistent_snapshots(void **state)
{
	(void)state;
	struct daemon d;
	daemon_init(&d, "stress");
	daemon_start(&d, NULL);
	static struct stress s;
	memset(&s, 0, sizeof(s));
	pthread_mutex_init(&s.lock, NULL);
	s.d = &d;
	s.iterations = 60;
	s.shared = connect_to(&d, 30000);
	assert_int_equal(ekv_format(s.shared), 0);
	/* every group exists from the start, at generation 0 */
	ekv_wtx *tx;
	assert_int_equal(ekv_wtx_begin(s.shared, &tx), 0);
	char k[16];
	for (int g = 0; g < GROUPS; g++)
		for (int i = 0; i < GROUP_KEYS; i++) {
			group_key(k, g, i);
			assert_int_equal(ekv_wtx_put(tx, k, strlen(k), "00000000000000000000", 20), 0);
		}
	assert_int_equal(ekv_wtx_commit(tx), 0);

	static struct client clients[CLIENTS];
	pthread_t threads[CLIENTS];
	int64_t t0 = now_ms();
	for (int i = 0; i < CLIENTS; i++) {
		clients[i] = (struct client){.s = &s, .index = i, .rng = 0x1234567ull * (i + 1)};
		assert_int_equal(pthread_create(&threads[i], NULL, client_main, &clients[i]), 0);
	}
	for (int i = 0; i < CLIENTS; i++)
		pthread_join(threads[i], NULL);
	printf("64 clients: %d commits (%d busy), %d get rounds, %d scans in %lld ms\n",
	       atomic_load(&s.commits), atomic_load(&s.busy), atomic_load(&s.gets),
	       atomic_load(&s.scans), (long long)(now_ms() - t0));
	if (atomic_load(&s.errors))
		fail_msg("%d errors; first: %s", atomic_load(&s.errors), s.first_error);
	assert_int_equal(atomic_load(&s.busy), 0); /* writers waited their turn */
	assert_true(atomic_load(&s.commits) > 0);
	ekv_close(s.shared);
	daemon_done(&d);
	pthread_mutex_destroy(&s.lock);
}

/* ---- the writer queue ---------------------------------------------------------- */

struct waiting_writer {
	struct daemon *d;
	int busy_ms;
	int result;
	int64_t waited_ms;
};

static void *wait_for_writer(void *arg)
{
	struct waiting_writer *w = arg;
	ekv_db *db = connect_to(w->d, w->busy_ms);
	int64_t t0 = now_ms();
	ekv_wtx *tx;
	w->result = ekv_wtx_begin(db, &tx);
	w->waited_ms = now_ms() - t0;
	if (w->result == 0) {
		ekv_wtx_put(tx, "waiter", 6, "1", 1);
		w->result = ekv_wtx_commit(tx);
	}
	ekv_close(db);
	return NULL;
}

static void test_second_writer_waits_its_turn_then_gets_busy(void **state)
{
	(void)state;
	struct daemon d;
	daemon_init(&d, "queue");
	daemon_start(&d, NULL);
	ekv_db *a = connect_to(&d, 5000);
	assert_int_equal(ekv_format(a), 0);
	ekv_wtx *tx;
	assert_int_equal(ekv_wtx_begin(a, &tx), 0);

	/* a writer with a short timeout gives up with EKV_EBUSY after it */
	struct waiting_writer quick = {&d, 300, 1, 0};
	pthread_t t;
	pthread_create(&t, NULL, wait_for_writer, &quick);
	pthread_join(t, NULL);
	assert_int_equal(quick.result, EKV_EBUSY);
	assert_true(quick.waited_ms >= 250);
	assert_true(quick.waited_ms < 3000);

	/* a patient one gets the writer as soon as the first commits */
	struct waiting_writer patient = {&d, 10000, 1, 0};
	pthread_create(&t, NULL, wait_for_writer, &patient);
	usleep(300 * 1000);
	assert_int_equal(ekv_wtx_put(tx, "first", 5, "1", 1), 0);
	assert_int_equal(ekv_wtx_commit(tx), 0);
	pthread_join(t, NULL);
	assert_int_equal(patient.result, 0);
	assert_true(patient.waited_ms >= 250);
	assert_string_equal(get1(a, "first"), "1");
	assert_string_equal(get1(a, "waiter"), "1");
	ekv_close(a);
	daemon_done(&d);
}

/* ---- raw frames ------------------------------------------------------------------ */

static int raw_connect(struct daemon *d)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", d->sock);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	struct timeval tv = {10, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static void raw_send(int fd, const void *p, size_t n)
{
	assert_int_equal(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

static void raw_request(int fd, struct proto_request q)
{
	uint8_t buf[4096];
	struct proto_writer w;
	proto_writer_init(&w, buf, sizeof(buf));
	long n = proto_request_encode(&w, &q);
	assert_true(n > 0);
	raw_send(fd, buf, (size_t)n);
}

static bool raw_recv_all(int fd, uint8_t *p, size_t n)
{
	while (n) {
		ssize_t k = recv(fd, p, n, 0);
		if (k <= 0)
			return false;
		p += k;
		n -= (size_t)k;
	}
	return true;
}

/* Read one reply; returns its type (and the error code), or -1 at EOF. */
static int raw_reply(int fd, uint32_t *id, int *code)
{
	uint8_t hdr[PROTO_HEADER_SIZE], payload[70000];
	if (!raw_recv_all(fd, hdr, sizeof(hdr)))
		return -1;
	struct proto_header h;
	assert_int_equal(proto_header_decode(hdr, sizeof(payload), &h, NULL), 0);
	assert_true(raw_recv_all(fd, payload, h.payload_len));
	if (id)
		*id = h.id;
	if (h.type == PROTO_ERROR)
		assert_int_equal(proto_error_decode(payload, h.payload_len, code, NULL), 0);
	return h.type;
}

static void raw_hello(int fd)
{
	raw_request(fd, (struct proto_request){.type = PROTO_HELLO, .id = 1, .max_frame = 1 << 20});
	assert_int_equal(raw_reply(fd, NULL, NULL), PROTO_OK);
}

/* The daemon answers with EKV_EPROTO for request `id` and hangs up. */
static void expect_violation(int fd, uint32_t want_id)
{
	uint32_t id = 999;
	int code = 0;
	assert_int_equal(raw_reply(fd, &id, &code), PROTO_ERROR);
	assert_int_equal(code, EKV_EPROTO);
	assert_int_equal(id, want_id);
	assert_int_equal(raw_reply(fd, NULL, NULL), -1);
	close(fd);
}

static void test_client_leaving_mid_transaction_aborts_it(void **state)
{
	(void)state;
	struct daemon d;
	daemon_init(&d, "leave");
	daemon_start(&d, NULL);
	ekv_db *db = connect_to(&d, 2000);
	assert_int_equal(ekv_format(db), 0);
	int fd = raw_connect(&d);
	raw_hello(fd);
	raw_request(fd, (struct proto_request){.type = PROTO_WTX_BEGIN, .id = 2, .timeout_ms = 1000});
	assert_int_equal(raw_reply(fd, NULL, NULL), PROTO_OK);
	raw_request(fd, (struct proto_request){.type = PROTO_PUT, .id = 3,
					       .key = {(const uint8_t *)"ghost", 5},
					       .value = {(const uint8_t *)"boo", 3}});
	assert_int_equal(raw_reply(fd, NULL, NULL), PROTO_OK);
	close(fd);
	/* the next writer does not wait out a timeout, and sees nothing */
	int64_t t0 = now_ms();
	assert_int_equal(put1(db, "real", "1"), 0);
	assert_true(now_ms() - t0 < 1500);
	assert_null(get1(db, "ghost"));
	assert_string_equal(get1(db, "real"), "1");

	/* a client that closes its handle with a transaction open (its bug):
	 * the same */
	ekv_db *sloppy = connect_to(&d, 2000);
	ekv_wtx *tx;
	assert_int_equal(ekv_wtx_begin(sloppy, &tx), 0);
	assert_int_equal(ekv_wtx_put(tx, "ghost2", 6, "x", 1), 0);
	ekv_close(sloppy);
	assert_int_equal(put1(db, "real2", "1"), 0);
	assert_null(get1(db, "ghost2"));
	free(tx); /* what the sloppy client leaked */
	ekv_close(db);
	daemon_done(&d);
}

static void test_malformed_frames_get_an_error_and_the_connection_closes(void **state)
{
	(void)state;
	struct daemon d;
	daemon_init(&d, "malformed");
	static const char *const opts[] = {"--max-frame-size", "8192", NULL};
	daemon_start(&d, opts);
	ekv_db *db = connect_to(&d, 2000);
	assert_int_equal(ekv_format(db), 0);
	assert_int_equal(put1(db, "k", "v"), 0);

	struct {
		const char *what;
		bool hello;
		uint8_t bytes[32];
		size_t n;
		uint32_t id;
	} bad[] = {
		{"wrong version", false, {0, 0, 0, 0, 9, PROTO_HELLO, 0, 0, 5, 0, 0, 0}, 12, 5},
		{"reserved flags", false, {0, 0, 0, 0, 1, PROTO_STAT, 1, 0, 6, 0, 0, 0}, 12, 6},
		{"unknown type", true, {0, 0, 0, 0, 1, 0x7f, 0, 0, 7, 0, 0, 0}, 12, 7},
		{"a reply as request", true, {0, 0, 0, 0, 1, PROTO_OK, 0, 0, 8, 0, 0, 0}, 12, 8},
		{"oversized", true, {0xf5, 0x1f, 0, 0, 1, PROTO_GET, 0, 0, 9, 0, 0, 0}, 12, 9},
		{"huge length", true, {0xff, 0xff, 0xff, 0xff, 1, PROTO_PUT, 0, 0, 10, 0, 0, 0}, 12, 10},
		{"id 0", true, {0, 0, 0, 0, 1, PROTO_STAT, 0, 0, 0, 0, 0, 0}, 12, 0},
		{"before HELLO", false, {0, 0, 0, 0, 1, PROTO_STAT, 0, 0, 11, 0, 0, 0}, 12, 11},
		{"HELLO twice", true, {8, 0, 0, 0, 1, PROTO_HELLO, 0, 0, 12, 0, 0, 0, 0, 0, 1, 0}, 20, 12},
		{"GET without rtx", true, {5, 0, 0, 0, 1, PROTO_GET, 0, 0, 13, 0, 0, 0, 1, 0, 0, 0, 'k'}, 17, 13},
		{"PUT without wtx", true, {8, 0, 0, 0, 1, PROTO_PUT, 0, 0, 14, 0, 0, 0}, 20, 14},
		{"COMMIT without wtx", true, {0, 0, 0, 0, 1, PROTO_COMMIT, 0, 0, 15, 0, 0, 0}, 12, 15},
		{"ABORT without wtx", true, {0, 0, 0, 0, 1, PROTO_ABORT, 0, 0, 16, 0, 0, 0}, 12, 16},
		{"RTX_END without rtx", true, {0, 0, 0, 0, 1, PROTO_RTX_END, 0, 0, 17, 0, 0, 0}, 12, 17},
		{"unknown cursor", true, {8, 0, 0, 0, 1, PROTO_CURSOR_NEXT, 0, 0, 18, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0}, 20, 18},
		{"key past payload", true, {5, 0, 0, 0, 1, PROTO_DELETE, 0, 0, 19, 0, 0, 0, 9, 0, 0, 0, 'k'}, 17, 19},
		{"trailing bytes", true, {1, 0, 0, 0, 1, PROTO_STAT, 0, 0, 20, 0, 0, 0, 'x'}, 13, 20},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		printf("  %s\n", bad[i].what);
		int fd = raw_connect(&d);
		if (bad[i].hello)
			raw_hello(fd);
		raw_send(fd, bad[i].bytes, bad[i].n);
		expect_violation(fd, bad[i].id);
	}

	/* out of sequence within transactions */
	int fd = raw_connect(&d);
	raw_hello(fd);
	raw_request(fd, (struct proto_request){.type = PROTO_RTX_BEGIN, .id = 2});
	assert_int_equal(raw_reply(fd, NULL, NULL), PROTO_OK);
	raw_request(fd, (struct proto_request){.type = PROTO_WTX_BEGIN, .id = 3});
	expect_violation(fd, 3);

	fd = raw_connect(&d);
	raw_hello(fd);
	raw_request(fd, (struct proto_request){.type = PROTO_WTX_BEGIN, .id = 2, .timeout_ms = 1000});
	assert_int_equal(raw_reply(fd, NULL, NULL), PROTO_OK);
	raw_request(fd, (struct proto_request){.type = PROTO_GET, .id = 3,
					       .key = {(const uint8_t *)"k", 1}});
	expect_violation(fd, 3);

	/* a frame cut short, then silence: the client leaves, nothing to answer */
	fd = raw_connect(&d);
	raw_hello(fd);
	raw_send(fd, (const uint8_t[]){50, 0, 0, 0, 1, PROTO_PUT}, 6);
	close(fd);

	/* a client frame limit below the protocol's minimum */
	fd = raw_connect(&d);
	raw_request(fd, (struct proto_request){.type = PROTO_HELLO, .id = 1, .max_frame = 100});
	expect_violation(fd, 1);
	int code = 0;

	/* engine errors are ordinary replies: the connection stays */
	fd = raw_connect(&d);
	raw_hello(fd);
	raw_request(fd, (struct proto_request){.type = PROTO_RTX_BEGIN, .id = 2});
	assert_int_equal(raw_reply(fd, NULL, NULL), PROTO_OK);
	raw_request(fd, (struct proto_request){.type = PROTO_GET, .id = 3,
					       .key = {(const uint8_t *)"nope", 4}});
	assert_int_equal(raw_reply(fd, NULL, &code), PROTO_ERROR);
	assert_int_equal(code, EKV_ENOTFOUND);
	raw_request(fd, (struct proto_request){.type = PROTO_GET, .id = 4,
					       .key = {(const uint8_t *)"k", 1}});
	assert_int_equal(raw_reply(fd, NULL, NULL), PROTO_OK);
	/* pipelined: two requests in one write, two replies in order */
	uint8_t two[64];
	struct proto_writer w;
	proto_writer_init(&w, two, sizeof(two));
	proto_request_encode(&w, &(struct proto_request){.type = PROTO_GET, .id = 5,
							 .key = {(const uint8_t *)"k", 1}});
	proto_request_encode(&w, &(struct proto_request){.type = PROTO_GET, .id = 6,
							 .key = {(const uint8_t *)"x", 1}});
	raw_send(fd, two, w.len);
	uint32_t id;
	assert_int_equal(raw_reply(fd, &id, NULL), PROTO_OK);
	assert_int_equal(id, 5);
	assert_int_equal(raw_reply(fd, &id, &code), PROTO_ERROR);
	assert_int_equal(id, 6);
	close(fd);

	/* the daemon is unharmed */
	assert_string_equal(get1(db, "k"), "v");
	ekv_close(db);
	daemon_done(&d);
}

/* ---- access control -------------------------------------------------------------- */

static void check_read_only(struct daemon *d)
{
	ekv_db *db = connect_to(d, 1000);
	struct ekv_remote_info info;
	assert_int_equal(ekv_remote_info(db, &info), 0);
	assert_true(info.read_only);
	assert_string_equal(get1(db, "k"), "v");
	ekv_wtx *tx;
	assert_int_equal(ekv_wtx_begin(db, &tx), EKV_EPERM);
	assert_int_equal(put1(db, "k", "w"), EKV_EPERM);
	assert_int_equal(ekv_format(db), EKV_EPERM);
	assert_int_equal(ekv_compact(db), EKV_EPERM);
	struct ekv_stat st;
	assert_int_equal(ekv_stat(db, &st), 0);
	assert_string_equal(get1(db, "k"), "v");
	ekv_close(db);
}

static void test_read_only_clients_are_refused_writes(void **state)
{
	(void)state;
	struct daemon d;
	daemon_init(&d, "readonly");
	daemon_start(&d, NULL);
	ekv_db *db = connect_to(&d, 1000);
	assert_int_equal(ekv_format(db), 0);
	assert_int_equal(put1(db, "k", "v"), 0);
	ekv_close(db);
	daemon_done(&d);

	/* by user id */
	char uid[32];
	snprintf(uid, sizeof(uid), "%u", (unsigned)getuid());
	const char *by_uid[] = {"--read-only-uid", uid, NULL};
	daemon_start(&d, by_uid);
	check_read_only(&d);
	daemon_done(&d);

	/* by group: our own primary group is one we are a member of */
	struct group *g = getgrgid(getgid());
	assert_non_null(g);
	const char *by_group[] = {"--read-only-group", g->gr_name, NULL};
	daemon_start(&d, by_group);
	check_read_only(&d);
	daemon_done(&d);

	/* a group we are not in leaves us writing; the socket has the mode asked */
	const char *other[] = {"--read-only-group", getgid() == 0 ? "nogroup" : "root",
			       "--socket-mode", "0600", NULL};
	daemon_start(&d, other);
	struct stat st;
	assert_int_equal(stat(d.sock, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	db = connect_to(&d, 1000);
	assert_int_equal(put1(db, "k", "w"), 0);
	ekv_close(db);
	daemon_done(&d);
}

/* ---- crashes and shutdown ------------------------------------------------------- */

#define CRASH_KEYS 8

struct killer {
	pid_t pid;
	int delay_ms;
};

static void *kill_later(void *arg)
{
	struct killer *k = arg;
	usleep((useconds_t)k->delay_ms * 1000);
	kill(k->pid, SIGKILL);
	return NULL;
}

/* One transaction: "c0".."c7" = n. */
static int commit_one(ekv_db *db, long n)
{
	ekv_wtx *tx;
	int e = ekv_wtx_begin(db, &tx);
	if (e)
		return e;
	char k[8], v[32];
	snprintf(v, sizeof(v), "%012ld", n);
	for (int i = 0; i < CRASH_KEYS && !e; i++) {
		snprintf(k, sizeof(k), "c%d", i);
		e = ekv_wtx_put(tx, k, strlen(k), v, strlen(v));
	}
	if (e) {
		ekv_wtx_abort(tx);
		return e;
	}
	return ekv_wtx_commit(tx);
}

/* Commit n, n+1, ... until the connection fails; returns the last n
 * acknowledged. */
static long commit_stream(ekv_db *db, long n)
{
	while (commit_one(db, n) == 0)
		n++;
	return n - 1;
}

/* All keys hold one value: the committed state, all or nothing. */
static long read_stream_state(ekv_db *db)
{
	ekv_rtx *r;
	assert_int_equal(ekv_rtx_begin(db, &r), 0);
	long first = -1;
	for (int i = 0; i < CRASH_KEYS; i++) {
		char k[8], v[32];
		size_t vl;
		snprintf(k, sizeof(k), "c%d", i);
		assert_int_equal(ekv_rtx_get(r, k, strlen(k), v, sizeof(v) - 1, &vl), 0);
		v[vl] = 0;
		long n = atol(v);
		if (i == 0)
			first = n;
		assert_int_equal(n, first);
	}
	ekv_rtx_end(r);
	return first;
}

static void test_sigkill_during_commits_keeps_acknowledged_ones(void **state)
{
	(void)state;
	struct daemon d;
	daemon_init(&d, "sigkill");
	daemon_start(&d, NULL);
	ekv_db *db = connect_to(&d, 2000);
	assert_int_equal(ekv_format(db), 0);
	assert_int_equal(commit_one(db, 0), 0);
	ekv_close(db);
	daemon_done(&d);

	long next = 1, acked;
	unsigned seed = 12345;
	for (int round = 0; round < 6; round++) {
		daemon_start(&d, NULL);
		db = connect_to(&d, 2000);
		long state_before = read_stream_state(db);
		assert_true(state_before >= next - 1);
		next = state_before + 1;
		struct killer k = {d.pid, 30 + (int)(rand_r(&seed) % 250)};
		pthread_t t;
		pthread_create(&t, NULL, kill_later, &k);
		acked = commit_stream(db, next);
		pthread_join(t, NULL);
		assert_int_equal(daemon_stop(&d, SIGKILL), 128 + SIGKILL);
		ekv_close(db);

		daemon_start(&d, NULL);
		db = connect_to(&d, 2000);
		long after = read_stream_state(db);
		printf("  round %d: %ld acknowledged, %ld after restart\n", round, acked, after);
		/* acknowledged commits survive; the one in flight is whole or absent */
		assert_true(after == acked || after == acked + 1);
		next = after + 1;
		ekv_close(db);
		daemon_done(&d);
	}
}

static void *stream_until_error(void *arg)
{
	ekv_db *db = arg;
	long *acked = malloc(sizeof(long));
	*acked = commit_stream(db, 1);
	return acked;
}

static void test_sigterm_finishes_commits_and_aborts_transactions(void **state)
{
	(void)state;
	struct daemon d;
	daemon_init(&d, "sigterm");
	daemon_start(&d, NULL);
	ekv_db *db = connect_to(&d, 2000);
	assert_int_equal(ekv_format(db), 0);
	assert_int_equal(put1(db, "keep", "1"), 0);
	assert_int_equal(commit_one(db, 0), 0);

	/* a stream of commits and a reader holding a snapshot */
	ekv_db *reader = connect_to(&d, 2000), *streamer = connect_to(&d, 60000);
	ekv_rtx *r;
	assert_int_equal(ekv_rtx_begin(reader, &r), 0);
	pthread_t st;
	pthread_create(&st, NULL, stream_until_error, streamer);
	usleep(300 * 1000);
	kill(d.pid, SIGTERM);
	assert_true(await_note(&d, "STOPPING=1", 10000));
	assert_int_equal(daemon_stop(&d, 0), 0);
	void *ret;
	pthread_join(st, &ret);
	long acked = *(long *)ret;
	free(ret);
	char v[8];
	size_t vl;
	assert_int_equal(ekv_rtx_get(r, "keep", 4, v, sizeof(v), &vl), EKV_ECANCELED);
	ekv_rtx_end(r);
	ekv_close(reader);
	ekv_close(streamer);
	ekv_close(db);
	daemon_start(&d, NULL);
	db = connect_to(&d, 2000);
	long after = read_stream_state(db);
	printf("  %ld commits acknowledged, %ld present\n", acked, after);
	assert_true(acked > 0);
	assert_true(after == acked || after == acked + 1);

	/* an open write transaction and a writer waiting behind it */
	ekv_db *open = connect_to(&d, 2000);
	ekv_wtx *tx;
	assert_int_equal(ekv_wtx_begin(open, &tx), 0);
	assert_int_equal(ekv_wtx_put(tx, "aborted", 7, "x", 1), 0);
	struct waiting_writer waiter = {&d, 60000, 1, 0};
	pthread_t wt;
	pthread_create(&wt, NULL, wait_for_writer, &waiter);
	usleep(300 * 1000);
	int64_t t0 = now_ms();
	assert_int_equal(daemon_stop(&d, SIGTERM), 0);
	assert_true(now_ms() - t0 < 5000);
	pthread_join(wt, NULL);
	/* the waiting writer was told, not dropped; the open one is over */
	assert_int_equal(waiter.result, EKV_ECANCELED);
	assert_int_equal(ekv_wtx_commit(tx), EKV_ECANCELED);
	ekv_close(open);
	ekv_close(db);

	daemon_start(&d, NULL);
	db = connect_to(&d, 2000);
	assert_null(get1(db, "aborted"));
	assert_null(get1(db, "waiter"));
	assert_string_equal(get1(db, "keep"), "1");
	ekv_close(db);
	daemon_done(&d);
}

/* ekvd caches flash pages; a process that writes the image directly (as
 * ekvctl --direct may) takes the image lock, and ekvd sees its commits. */
static void test_direct_writer_is_seen_through_the_page_cache(void **state)
{
	(void)state;
	struct daemon d;
	daemon_init(&d, "direct");
	daemon_start(&d, NULL);
	ekv_db *db = connect_to(&d, 5000);
	assert_int_equal(ekv_format(db), 0);
	for (int i = 0; i < 20; i++)
		assert_int_equal(put1(db, "k", i % 2 ? "odd" : "even"), 0);
	assert_string_equal(get1(db, "k"), "odd");

	struct ekv_profile p;
	ekv_profile_default(&p);
	p.layout = 1; /* the Rust crate's layout */
	struct ekv_flash *f;
	ekv_db *direct;
	assert_int_equal(ekv_flash_file_open(d.img, p.page_size, p.page_count, 0xff, 0, &f), 0);
	assert_int_equal(ekv_open(f, &p, NULL, &direct), 0);
	for (int round = 0; round < 30; round++) {
		char v[16];
		snprintf(v, sizeof(v), "direct-%d", round);
		assert_int_equal(put1(direct, "k", v), 0);
		assert_string_equal(get1(db, "k"), v);
		snprintf(v, sizeof(v), "daemon-%d", round);
		assert_int_equal(put1(db, "k", v), 0);
		assert_string_equal(get1(direct, "k"), v);
	}
	ekv_close(direct);
	ekv_flash_close(f);
	ekv_close(db);
	daemon_done(&d);
}

/* ---- limits -------------------------------------------------------------------- */

static void test_idle_connections_are_closed_and_the_pool_reconnects(void **state)
{
	(void)state;
	struct daemon d;
	daemon_init(&d, "idle");
	static const char *const opts[] = {"--idle-timeout", "1", NULL};
	daemon_start(&d, opts);
	ekv_db *db = connect_to(&d, 2000);
	assert_int_equal(ekv_format(db), 0);
	assert_int_equal(put1(db, "k", "v"), 0);
	ekv_rtx *r;
	assert_int_equal(ekv_rtx_begin(db, &r), 0);
	ekv_wtx *tx;
	assert_int_equal(ekv_wtx_begin(db, &tx), 0);
	sleep(2);
	char v[8];
	size_t vl;
	/* a transaction left idle is over */
	assert_int_equal(ekv_rtx_get(r, "k", 1, v, sizeof(v), &vl), EKV_ECANCELED);
	assert_int_equal(ekv_wtx_put(tx, "k", 1, "w", 1), EKV_ECANCELED);
	ekv_wtx_abort(tx);
	ekv_rtx_end(r);
	/* the handle itself goes on: pooled connections are replaced */
	assert_int_equal(put1(db, "k", "w"), 0);
	sleep(2);
	assert_string_equal(get1(db, "k"), "w");
	ekv_close(db);
	daemon_done(&d);
}

static void test_clients_beyond_the_limit_are_told_busy(void **state)
{
	(void)state;
	struct daemon d;
	daemon_init(&d, "maxclients");
	static const char *const opts[] = {"--max-clients", "2", NULL};
	daemon_start(&d, opts);
	ekv_db *a = connect_to(&d, 1000), *b = connect_to(&d, 1000);
	ekv_db *c = NULL;
	assert_int_equal(ekv_connect(d.sock, NULL, &c), EKV_EBUSY);
	assert_null(c);
	ekv_close(b);
	usleep(200 * 1000); /* the daemon notices b is gone */
	assert_int_equal(ekv_connect(d.sock, NULL, &c), 0);
	ekv_close(a);
	ekv_close(c);
	daemon_done(&d);
}

/* ---- how it is started --------------------------------------------------------- */

static void test_socket_activation(void **state)
{
	(void)state;
	struct daemon d;
	daemon_init(&d, "activation");
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", d.sock);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 16), 0);
	daemon_start_fd(&d, fd, NULL);
	close(fd);
	ekv_db *db = connect_to(&d, 1000);
	assert_int_equal(ekv_format(db), 0);
	assert_int_equal(put1(db, "activated", "yes"), 0);
	assert_string_equal(get1(db, "activated"), "yes");
	ekv_close(db);
	daemon_done(&d);
	/* the socket belongs to "systemd": ekvd leaves it in place */
	struct stat st;
	assert_int_equal(stat(d.sock, &st), 0);
}

static void test_database_by_name_from_the_config_file(void **state)
{
	(void)state;
	struct daemon d;
	daemon_init(&d, "config");
	char conf[PATH_MAX + 16], text[2 * PATH_MAX];
	snprintf(conf, sizeof(conf), "%s/ekv.conf", d.dir);
	snprintf(text, sizeof(text),
		 "# databases of this board\n[default]\ndevice = mtd:nothere\n\n"
		 "[board]\nimage = %s\npage-size = 4096\ncrc = yes\nmax-value-size = 8192\n"
		 "wait = 3\n",
		 d.img);
	FILE *f = fopen(conf, "w");
	fputs(text, f);
	fclose(f);
	const char *argv[] = {ekvd_path, "-c", conf, "--db", "board", "--socket", d.sock, NULL};
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execv(ekvd_path, (char **)argv);
		_exit(127);
	}
	running[0] = pid; /* the only one of this test */
	ekv_db *db = NULL;
	for (int i = 0; i < 200 && ekv_connect(d.sock, NULL, &db); i++)
		usleep(50 * 1000);
	assert_non_null(db);
	struct ekv_remote_info info;
	assert_int_equal(ekv_remote_info(db, &info), 0);
	assert_string_equal(info.name, "board");
	assert_true(info.profile.crc);
	assert_int_equal(info.profile.max_value_size, 8192);
	/* a client that cannot take the profile's largest pair is told so */
	struct ekv_connect_options small;
	ekv_connect_options_default(&small);
	small.max_frame_size = 4096;
	ekv_db *tiny = NULL;
	assert_int_equal(ekv_connect(d.sock, &small, &tiny), EKV_EINVAL);
	assert_non_null(strstr(info.database, "/config/db.img"));
	assert_int_equal(ekv_format(db), 0);
	char big[8192];
	memset(big, 'v', sizeof(big));
	ekv_wtx *tx;
	assert_int_equal(ekv_wtx_begin(db, &tx), 0);
	assert_int_equal(ekv_wtx_put(tx, "big", 3, big, sizeof(big)), 0);
	assert_int_equal(ekv_wtx_commit(tx), 0);
	ekv_close(db);
	kill(pid, SIGTERM);
	int st;
	waitpid(pid, &st, 0);
	running[0] = 0;
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	/* a syntax error names the file and line */
	f = fopen(conf, "w");
	fputs("[board]\nimage\n", f);
	fclose(f);
	char cmd[3 * PATH_MAX];
	snprintf(cmd, sizeof(cmd), "'%s' -c '%s' --db board 2>&1 | grep -q 'ekv.conf:2:'",
		 ekvd_path, conf);
	assert_int_equal(system(cmd), 0);
}

/* Teardown of every test: a test that failed half-way leaves its daemon
 * running; it must not outlive the test (it holds the output pipe). */
static int reap_daemons(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(running) / sizeof(running[0]); i++) {
		if (running[i]) {
			kill(running[i], SIGKILL);
			waitpid(running[i], NULL, 0);
			running[i] = 0;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s PATH/TO/ekvd\n", argv[0]);
		return 2;
	}
	ekvd_path = argv[1];
	setvbuf(stdout, NULL, _IOLBF, 0); /* in order with the daemon's log */
	signal(SIGPIPE, SIG_IGN);
	snprintf(root, sizeof(root), "/tmp/ekvd-test.XXXXXX");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_remote_handle_behaves_like_local, reap_daemons),
		cmocka_unit_test_teardown(test_64_clients_see_consistent_snapshots, reap_daemons),
		cmocka_unit_test_teardown(test_second_writer_waits_its_turn_then_gets_busy, reap_daemons),
		cmocka_unit_test_teardown(test_client_leaving_mid_transaction_aborts_it, reap_daemons),
		cmocka_unit_test_teardown(test_malformed_frames_get_an_error_and_the_connection_closes, reap_daemons),
		cmocka_unit_test_teardown(test_read_only_clients_are_refused_writes, reap_daemons),
		cmocka_unit_test_teardown(test_sigkill_during_commits_keeps_acknowledged_ones, reap_daemons),
		cmocka_unit_test_teardown(test_sigterm_finishes_commits_and_aborts_transactions, reap_daemons),
		cmocka_unit_test_teardown(test_direct_writer_is_seen_through_the_page_cache, reap_daemons),
		cmocka_unit_test_teardown(test_idle_connections_are_closed_and_the_pool_reconnects, reap_daemons),
		cmocka_unit_test_teardown(test_clients_beyond_the_limit_are_told_busy, reap_daemons),
		cmocka_unit_test_teardown(test_socket_activation, reap_daemons),
		cmocka_unit_test_teardown(test_database_by_name_from_the_config_file, reap_daemons),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", root);
	return rc;
}
