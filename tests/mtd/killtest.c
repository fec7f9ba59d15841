/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * killtest.c — mtd_killtest: power-cut style test of the engine on a real
 * MTD device inside the tests/mtd VM (mtdram devices; others exit 77).
 *
 * A writer process runs transactions on the device (opened with
 * EKV_MTD_VERIFY_ERASED).  Transaction g sets the keys gen/0..gen/5 to g,
 * puts one pad key and deletes another, both chosen (with the value length)
 * by a hash of g, so the whole database after transaction G is a function of
 * G.  After each acknowledged commit the writer appends g to a log on tmpfs
 * and fsyncs it.  The parent SIGKILLs the writer at random points (mostly
 * while it commits, sometimes while it mounts), then opens the device
 * read-only and checks:
 *   - acknowledged-durable: the database's generation G >= the last logged g;
 *   - all-or-nothing: G <= last logged + 1 (only the in-flight transaction
 *     may be visible) and the database equals exactly the state after G
 *     (every gen/i is G, every pad key as transactions 1..G left it);
 *   - G never goes backwards.
 * The next writer continues from G + 1.  At the end the parent commits one
 * more transaction itself and checks again.
 *
 * Usage: mtd_killtest /dev/mtdN       (environment: see tests/mtd/guest.sh)
 *   EKV_MTD_KILLS       number of kills (default 24)
 *   EKV_MTD_KILL_SEED   seed of the kill schedule (default: time)
 *   EKV_MTD_KILL_MAX_MS longest run of a writer before its kill (default 400)
 *   EKV_MTD_KILL_SELFTEST  "split-tx" (commit each transaction in two halves)
 *                       or "early-ack" (log g before committing it): a broken
 *                       writer, to see that the checks catch it (they must fail)
 * Output: "ok - NAME" / "not ok - NAME: why", "# ..." diagnostics (one line
 * per kill: when, acknowledged and found generation).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#define GEN_KEYS 6
#define PAD_POOL 64
#define PAD_MIN 16
#define PAD_SPREAD 900

static const char *g_dev;
static char g_log[128];

static uint64_t hash(uint64_t g, uint64_t salt)
{
	uint64_t s = g * 0x100000001b3ull + salt;

	return rng_u64(&s);
}

static void enc64(uint8_t *b, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t dec64(const uint8_t *b)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

/* What transaction g writes. */
struct txdesc {
	char gen_key[GEN_KEYS][8];
	uint8_t gen_val[16];
	char pad_put[16], pad_del[16];
	uint8_t pad_val[8 + PAD_MIN + PAD_SPREAD];
	size_t pad_len;
	bool has_del;
};

static void describe(uint64_t g, struct txdesc *t)
{
	unsigned put = (unsigned)(hash(g, 1) % PAD_POOL), del = (unsigned)(hash(g, 3) % PAD_POOL);

	for (int i = 0; i < GEN_KEYS; i++)
		snprintf(t->gen_key[i], sizeof t->gen_key[i], "gen/%d", i);
	enc64(t->gen_val, g);
	enc64(t->gen_val + 8, ~g);
	snprintf(t->pad_put, sizeof t->pad_put, "pad/%03u", put);
	snprintf(t->pad_del, sizeof t->pad_del, "pad/%03u", del);
	t->has_del = del != put;
	t->pad_len = 8 + PAD_MIN + hash(g, 2) % PAD_SPREAD;
	enc64(t->pad_val, g);
	for (size_t i = 8; i < t->pad_len; i++)
		t->pad_val[i] = (uint8_t)hash(g * 4099 + i, 4);
}

/* Apply transaction g to the model; returns its key + value bytes. */
static size_t model_apply(struct model *m, uint64_t g)
{
	struct txdesc t;
	size_t bytes;

	describe(g, &t);
	for (int i = 0; i < GEN_KEYS; i++)
		model_put(m, (uint8_t *)t.gen_key[i], strlen(t.gen_key[i]), t.gen_val,
			  sizeof t.gen_val);
	model_put(m, (uint8_t *)t.pad_put, strlen(t.pad_put), t.pad_val, t.pad_len);
	bytes = GEN_KEYS * (5 + sizeof t.gen_val) + strlen(t.pad_put) + t.pad_len;
	if (t.has_del) {
		model_del(m, (uint8_t *)t.pad_del, strlen(t.pad_del));
		bytes += strlen(t.pad_del);
	}
	return bytes;
}

/* EKV_MTD_KILL_SELFTEST: a deliberately broken writer, to see the checks fail. */
static bool g_split_tx, g_early_ack;

/* Transaction g on db (keys in ascending order). */
static int run_tx(ekv_db *db, uint64_t g)
{
	struct txdesc t;
	ekv_wtx *tx;
	int e;

	describe(g, &t);
	e = ekv_wtx_begin(db, &tx);
	if (e < 0)
		return e;
	for (int i = 0; i < GEN_KEYS && e == 0; i++) {
		e = ekv_wtx_put(tx, t.gen_key[i], strlen(t.gen_key[i]), t.gen_val,
				sizeof t.gen_val);
		if (g_split_tx && i == GEN_KEYS / 2 && e == 0) {
			/* broken: the transaction is committed in two halves */
			e = ekv_wtx_commit(tx);
			if (e == 0)
				e = ekv_wtx_begin(db, &tx);
			if (e < 0)
				return e;
		}
	}
	/* the pad keys: "pad/NNN" sort numerically */
	if (e == 0 && t.has_del && strcmp(t.pad_del, t.pad_put) < 0)
		e = ekv_wtx_delete(tx, t.pad_del, strlen(t.pad_del));
	if (e == 0)
		e = ekv_wtx_put(tx, t.pad_put, strlen(t.pad_put), t.pad_val, t.pad_len);
	if (e == 0 && t.has_del && strcmp(t.pad_del, t.pad_put) > 0)
		e = ekv_wtx_delete(tx, t.pad_del, strlen(t.pad_del));
	if (e < 0) {
		ekv_wtx_abort(tx);
		return e;
	}
	return ekv_wtx_commit(tx);
}

/* The generation in the database: gen/0's value, 0 if absent, <0 on error. */
static int64_t db_generation(ekv_db *db, char *why, size_t why_size)
{
	uint8_t v[64];
	size_t vl = 0;
	ekv_rtx *r;
	int e = ekv_rtx_begin(db, &r);

	if (e < 0) {
		snprintf(why, why_size, "ekv_rtx_begin: %s", ekv_strerror(e));
		return -1;
	}
	e = ekv_rtx_get(r, "gen/0", 5, v, sizeof v, &vl);
	ekv_rtx_end(r);
	if (e == EKV_ENOTFOUND)
		return 0;
	if (e < 0 || vl != 16 || dec64(v) != ~dec64(v + 8)) {
		snprintf(why, why_size, "gen/0: %s (%zu bytes)", e < 0 ? ekv_strerror(e) : "bad value",
			 vl);
		return -1;
	}
	return (int64_t)dec64(v);
}

/* ---- the writer (a child process) ------------------------------------------------------ */

static void writer_main(int ready_fd)
{
	struct devdb d;
	char why[600];
	int64_t g0;
	int logfd, e;

	/* an early kill may come after the parent stopped listening */
	signal(SIGPIPE, SIG_IGN);
	if (devdb_open(&d, g_dev, 0, NULL, why, sizeof why) < 0) {
		fprintf(stderr, "writer: %s\n", why);
		_exit(2);
	}
	g0 = db_generation(d.db, why, sizeof why);
	if (g0 < 0) {
		fprintf(stderr, "writer: %s\n", why);
		_exit(2);
	}
	logfd = open(g_log, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (logfd < 0) {
		fprintf(stderr, "writer: %s: %s\n", g_log, strerror(errno));
		_exit(2);
	}
	if (write(ready_fd, "R", 1) != 1) {
		/* the parent is not listening (early kill): go on */
	}
	close(ready_fd);
	for (uint64_t g = (uint64_t)g0 + 1;; g++) {
		uint8_t b[8];

		enc64(b, g);
		if (g_early_ack && (write(logfd, b, 8) != 8 || fsync(logfd) < 0))
			_exit(4); /* broken: acknowledged before the commit */
		e = run_tx(d.db, g);
		if (e < 0) {
			fprintf(stderr, "writer: transaction %llu: %s\n", (unsigned long long)g,
				ekv_strerror(e));
			_exit(3);
		}
		if (!g_early_ack && (write(logfd, b, 8) != 8 || fsync(logfd) < 0)) {
			fprintf(stderr, "writer: log: %s\n", strerror(errno));
			_exit(4);
		}
	}
}

/* ---- the parent ------------------------------------------------------------------------- */

static uint64_t last_acked(void)
{
	struct stat st;
	uint8_t b[8];
	int fd = open(g_log, O_RDONLY | O_CLOEXEC);
	uint64_t v = 0;

	if (fd < 0)
		return 0;
	if (fstat(fd, &st) == 0 && st.st_size >= 8 &&
	    pread(fd, b, 8, (st.st_size / 8 - 1) * 8) == 8)
		v = dec64(b);
	close(fd);
	return v;
}

struct state {
	struct model m;   /* the database after transaction m_gen */
	uint64_t m_gen;
	uint64_t prev_gen;
	int kills, checks, inflight_visible, early_kills;
	uint64_t commits;
	uint64_t bytes;   /* key + value bytes of transactions 1..m_gen */
};

/* The model after transaction g (g never goes below m_gen: rebuilt if so). */
static void model_to(struct state *s, uint64_t g)
{
	if (g < s->m_gen) {
		model_free(&s->m);
		s->m_gen = 0;
	}
	while (s->m_gen < g)
		s->bytes += model_apply(&s->m, ++s->m_gen);
}

/* Open read-only and check the invariants against acked; returns the generation or -1. */
static int64_t check_db(struct state *s, uint64_t acked, const char *when)
{
	struct devdb d;
	char why[600];
	int64_t g;

	if (devdb_open(&d, g_dev, EKV_MTD_RDONLY, NULL, why, sizeof why) < 0) {
		tap_fail("%s: open: %s", when, why);
		return -1;
	}
	g = db_generation(d.db, why, sizeof why);
	if (g < 0) {
		tap_fail("%s: %s", when, why);
	} else if ((uint64_t)g < acked) {
		tap_fail("%s: acknowledged generation %llu lost: the database has %lld", when,
			 (unsigned long long)acked, (long long)g);
	} else if ((uint64_t)g > acked + 1) {
		tap_fail("%s: generation %lld but only %llu acknowledged (at most one in flight)",
			 when, (long long)g, (unsigned long long)acked);
	} else if ((uint64_t)g < s->prev_gen) {
		tap_fail("%s: generation went back from %llu to %lld", when,
			 (unsigned long long)s->prev_gen, (long long)g);
	} else {
		model_to(s, (uint64_t)g);
		if (model_check(d.db, &s->m, &d.p, why, sizeof why) < 0)
			tap_fail("%s: the database is not the state after transaction %lld: %s", when,
				 (long long)g, why);
	}
	devdb_close(&d);
	s->checks++;
	if (tap_failed())
		return -1;
	if ((uint64_t)g == acked + 1)
		s->inflight_visible++;
	s->prev_gen = (uint64_t)g;
	return g;
}

static int wait_byte(int fd, int timeout_ms)
{
	struct pollfd pf = { .fd = fd, .events = POLLIN };
	char c;

	if (poll(&pf, 1, timeout_ms) <= 0)
		return -1;
	return read(fd, &c, 1) == 1 ? c : -1;
}

int main(int argc, char **argv)
{
	const char *expect = getenv("EKV_MTD_EXPECT"), *sim = getenv("EKV_MTD_SIM");
	long kills = env_long("EKV_MTD_KILLS", 24), max_ms = env_long("EKV_MTD_KILL_MAX_MS", 400);
	const char *selftest = getenv("EKV_MTD_KILL_SELFTEST");
	struct state s = { 0 };
	uint64_t rs, acked = 0;
	struct devdb d;
	char why[600], when[80];
	double t0 = now_ms();
	int fd, e;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 2) {
		fprintf(stderr, "usage: %s /dev/mtdN\n", argv[0]);
		return 2;
	}
	g_dev = argv[1];
	if ((expect && strcmp(expect, "ok") != 0) || (sim && strcmp(sim, "mtdram") != 0)) {
		printf("# %s: %s/%s: the kill test runs on usable mtdram devices only\n", g_dev,
		       sim ? sim : "?", expect ? expect : "?");
		return 77;
	}
	if (selftest && *selftest) {
		g_split_tx = strcmp(selftest, "split-tx") == 0;
		g_early_ack = strcmp(selftest, "early-ack") == 0;
		printf("# SELFTEST %s: a broken writer; the kill checks must fail\n", selftest);
	}
	rs = env_seed("EKV_MTD_KILL_SEED", (uint64_t)time(NULL));
	snprintf(g_log, sizeof g_log, "/tmp/ekv-killtest-%s.log", strrchr(g_dev, '/') + 1);

	/* an empty database and an empty log */
	tap_begin();
	fd = open(g_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	CHECK(fd >= 0, "%s: %s", g_log, strerror(errno));
	if (fd >= 0)
		close(fd);
	if (devdb_open(&d, g_dev, 0, NULL, why, sizeof why) < 0) {
		tap_fail("open: %s", why);
	} else {
		e = ekv_format(d.db);
		CHECK(e == 0, "ekv_format: %s", ekv_strerror(e));
		devdb_close(&d);
	}
	tap_end("killtest-format");
	if (tap_failed())
		return tap_summary(g_dev);

	tap_begin();
	for (int k = 0; k < kills && !tap_failed(); k++) {
		int ready[2], status = 0, delay;
		bool early = rng_u64(&rs) % 6 == 0;
		uint64_t before = acked;
		pid_t pid;

		if (pipe(ready) < 0) {
			tap_fail("pipe: %s", strerror(errno));
			break;
		}
		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			close(ready[0]);
			writer_main(ready[1]);
		}
		close(ready[1]);
		if (pid < 0) {
			close(ready[0]);
			tap_fail("fork: %s", strerror(errno));
			break;
		}
		if (early) {
			/* somewhere in its start-up and mount, or its first transactions */
			delay = (int)(rng_u64(&rs) % 40);
			s.early_kills++;
		} else {
			delay = 5 + (int)(rng_u64(&rs) % (uint64_t)max_ms);
			if (wait_byte(ready[0], 60000) != 'R')
				tap_fail("kill %d: the writer did not start", k + 1);
		}
		close(ready[0]);
		sleep_ms(delay);
		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
			tap_fail("kill %d: the writer ended on its own (status 0x%x) before the kill",
				 k + 1, status);
			break;
		}
		s.kills++;
		acked = last_acked();
		s.commits += acked - before;
		snprintf(when, sizeof when, "after kill %d", k + 1);
		int64_t g = check_db(&s, acked, when);
		printf("# kill %2d %s %3d ms: %4llu commits acknowledged in all, database at %lld%s\n",
		       k + 1, early ? "at start," : "after", delay, (unsigned long long)acked,
		       (long long)g, g >= 0 && (uint64_t)g == acked + 1 ? " (in-flight tx visible)"
									: "");
	}
	printf("# %d kills, %d checks, %llu commits (%llu KiB of keys and values), in-flight "
	       "transaction visible %d times, %d kills during start-up, %.1f s\n",
	       s.kills, s.checks, (unsigned long long)s.commits,
	       (unsigned long long)(s.bytes >> 10), s.inflight_visible, s.early_kills,
	       (now_ms() - t0) / 1e3);
	CHECK(s.commits > 0, "no transaction was ever acknowledged");
	tap_end("killtest-durable-and-all-or-nothing-after-sigkill");

	/* the database stays writable: one more transaction by the parent */
	tap_begin();
	if (devdb_open(&d, g_dev, 0, NULL, why, sizeof why) < 0) {
		tap_fail("open: %s", why);
	} else {
		int64_t g = db_generation(d.db, why, sizeof why);

		e = g < 0 ? EKV_EIO : run_tx(d.db, (uint64_t)g + 1);
		CHECK(e == 0, "transaction %lld: %s", (long long)g + 1,
		      g < 0 ? why : ekv_strerror(e));
		devdb_close(&d);
		if (e == 0)
			check_db(&s, (uint64_t)g + 1, "after a clean commit");
	}
	tap_end("killtest-writable-after-kills");
	model_free(&s.m);
	unlink(g_log);
	return tap_summary(g_dev);
}
