/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * ekvd-bench.c — throughput of a database served by ekvd, as clients see
 * it: gets/s and commits/s over the socket with 1 and 16 clients.
 *
 * Starts its own ekvd on a fresh file image in a temporary directory
 * (--ekvd PATH; the build's by default), or measures a running one
 * (--socket PATH: then it writes keys "bench/..." there).  Each client is a
 * thread with its own handle (ekv_connect).  A "get" is one ekv_rtx_get in
 * a read transaction held across the run (one round trip); "rtx+get" opens
 * and ends a read transaction around every get, as a one-shot reader
 * would.  A "commit" is ekv_wtx_begin + one put + ekv_wtx_commit.  For
 * scale, "echo round trips/s" is the same machine's ceiling for one client
 * waiting on every reply: two processes bouncing 24 bytes over a socketpair.
 * Public API only; the last line is machine-readable key=value pairs.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ekv.h>

#ifndef EKVD_PATH
#define EKVD_PATH "ekvd"
#endif

enum workload { W_GET, W_RTX_GET, W_COMMIT };

struct bench {
	const char *socket;
	int keys;
	double seconds;
	enum workload w;
	atomic_bool stop;
	atomic_int errors;
	atomic_int ready;
};

struct worker {
	struct bench *b;
	int index;
	long ops;
	pthread_t thread;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void key_of(char *k, size_t n, long i)
{
	snprintf(k, n, "bench/%08ld", i);
}

static uint32_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (uint32_t)*s;
}

static int commit_one(ekv_db *db, const char *k, const char *v)
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

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct bench *b = w->b;
	struct ekv_connect_options o;
	ekv_connect_options_default(&o);
	o.busy_timeout_ms = 60000;
	ekv_db *db;
	int e = ekv_connect(b->socket, &o, &db);
	if (e) {
		fprintf(stderr, "ekvd-bench: connect: %s\n", ekv_strerror(e));
		atomic_fetch_add(&b->errors, 1);
		atomic_fetch_add(&b->ready, 1);
		return NULL;
	}
	uint64_t rng = 0x9e3779b97f4a7c15ull * (uint64_t)(w->index + 1);
	ekv_rtx *held = NULL;
	if (b->w == W_GET && (e = ekv_rtx_begin(db, &held)) != 0) {
		fprintf(stderr, "ekvd-bench: rtx_begin: %s\n", ekv_strerror(e));
		atomic_fetch_add(&b->errors, 1);
	}
	atomic_fetch_add(&b->ready, 1);
	char k[32], v[64];
	uint8_t buf[1100];
	size_t vl;
	while (!atomic_load_explicit(&b->stop, memory_order_relaxed) && !e) {
		long i = (long)(next_rand(&rng) % (uint32_t)b->keys);
		key_of(k, sizeof(k), i);
		switch (b->w) {
		case W_GET:
			e = ekv_rtx_get(held, k, strlen(k), buf, sizeof(buf), &vl);
			break;
		case W_RTX_GET: {
			ekv_rtx *r;
			e = ekv_rtx_begin(db, &r);
			if (!e) {
				e = ekv_rtx_get(r, k, strlen(k), buf, sizeof(buf), &vl);
				ekv_rtx_end(r);
			}
			break;
		}
		case W_COMMIT:
			snprintf(v, sizeof(v), "value-%d-%ld-%08x", w->index, w->ops,
				 next_rand(&rng));
			e = commit_one(db, k, v);
			break;
		}
		if (e) {
			fprintf(stderr, "ekvd-bench: client %d: %s\n", w->index, ekv_strerror(e));
			atomic_fetch_add(&b->errors, 1);
		} else {
			__atomic_fetch_add(&w->ops, 1, __ATOMIC_RELAXED);
		}
	}
	ekv_rtx_end(held);
	ekv_close(db);
	return NULL;
}

/* Run clients for b->seconds; returns operations per second (<0 on error). */
static double run(struct bench *b, enum workload wl, int clients)
{
	b->w = wl;
	atomic_store(&b->stop, false);
	atomic_store(&b->errors, 0);
	atomic_store(&b->ready, 0);
	struct worker *ws = calloc((size_t)clients, sizeof(*ws));
	for (int i = 0; i < clients; i++) {
		ws[i] = (struct worker){.b = b, .index = i};
		pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]);
	}
	while (atomic_load(&b->ready) < clients)
		usleep(1000);
	/* measure from here: connections are made */
	long before = 0;
	for (int i = 0; i < clients; i++)
		before += __atomic_load_n(&ws[i].ops, __ATOMIC_RELAXED);
	double t0 = now_s();
	usleep((useconds_t)(b->seconds * 1e6));
	long after = 0;
	for (int i = 0; i < clients; i++)
		after += __atomic_load_n(&ws[i].ops, __ATOMIC_RELAXED);
	double t1 = now_s();
	atomic_store(&b->stop, true);
	for (int i = 0; i < clients; i++)
		pthread_join(ws[i].thread, NULL);
	free(ws);
	if (atomic_load(&b->errors))
		return -1;
	return (double)(after - before) / (t1 - t0);
}

/* Round trips/s of a bare echo between two processes: what one client that
 * waits for each reply can reach at best on this machine. */
static double echo_round_trips(double seconds)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		close(sv[0]);
		char b[64];
		ssize_t n;
		while ((n = recv(sv[1], b, sizeof(b), 0)) > 0)
			if (send(sv[1], b, (size_t)n, 0) != n)
				break;
		_exit(0);
	}
	close(sv[1]);
	char b[64] = {0};
	long n = 0;
	double t0 = now_s(), t;
	while ((t = now_s()) - t0 < seconds) {
		if (send(sv[0], b, 24, 0) != 24 || recv(sv[0], b, sizeof(b), 0) <= 0)
			break;
		n++;
	}
	close(sv[0]);
	waitpid(pid, NULL, 0);
	return (double)n / (t - t0);
}

/* ---- our own daemon ----------------------------------------------------------- */

static pid_t start_ekvd(const char *ekvd, const char *dir, char *sock, size_t sock_size)
{
	char img[512];
	snprintf(img, sizeof(img), "%s/bench.img", dir);
	snprintf(sock, sock_size, "%s/ekv.sock", dir);
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive the bench */
		execl(ekvd, ekvd, "--image", img, "--page-count", "1024", "--socket", sock,
		      (char *)NULL);
		fprintf(stderr, "ekvd-bench: %s: %s\n", ekvd, strerror(errno));
		_exit(127);
	}
	ekv_db *db;
	for (int i = 0; i < 500; i++) {
		if (ekv_connect(sock, NULL, &db) == 0) {
			int e = ekv_format(db);
			ekv_close(db);
			if (e) {
				fprintf(stderr, "ekvd-bench: format: %s\n", ekv_strerror(e));
				break;
			}
			return pid;
		}
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid)
			return -1;
		usleep(10000);
	}
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	return -1;
}

static void usage(void)
{
	fputs("usage: ekvd-bench [--ekvd PATH | --socket PATH] [--seconds S] [--keys N]\n"
	      "Gets/s and commits/s through ekvd with 1 and 16 clients.\n",
	      stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"ekvd", required_argument, NULL, 'e'}, {"socket", required_argument, NULL, 's'},
		{"seconds", required_argument, NULL, 't'}, {"keys", required_argument, NULL, 'k'},
		{"help", no_argument, NULL, 'h'},	{NULL, 0, NULL, 0},
	};
	const char *ekvd = EKVD_PATH;
	static struct bench b = {.keys = 1000, .seconds = 2.0};
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'e': ekvd = optarg; break;
		case 's': b.socket = optarg; break;
		case 't': b.seconds = atof(optarg); break;
		case 'k': b.keys = atoi(optarg); break;
		default: usage();
		}
	}
	if (b.keys < 1 || b.seconds <= 0)
		usage();
	signal(SIGPIPE, SIG_IGN);
	char dir[] = "/tmp/ekvd-bench.XXXXXX", sock[600];
	pid_t pid = 0;
	if (!b.socket) {
		if (!mkdtemp(dir)) {
			perror("mkdtemp");
			return 1;
		}
		pid = start_ekvd(ekvd, dir, sock, sizeof(sock));
		if (pid < 0) {
			fprintf(stderr, "ekvd-bench: could not start %s\n", ekvd);
			return 1;
		}
		b.socket = sock;
	}

	/* the keys: 1000 pairs of ~30 bytes, 100 per transaction */
	ekv_db *db;
	int e = ekv_connect(b.socket, NULL, &db);
	for (long i = 0; i < b.keys && !e; i += 100) {
		ekv_wtx *tx;
		e = ekv_wtx_begin(db, &tx);
		for (long j = i; j < i + 100 && j < b.keys && !e; j++) {
			char k[32], v[64];
			key_of(k, sizeof(k), j);
			snprintf(v, sizeof(v), "initial-value-%08ld", j);
			e = ekv_wtx_put(tx, k, strlen(k), v, strlen(v));
		}
		if (!e)
			e = ekv_wtx_commit(tx);
	}
	if (!e)
		ekv_close(db);
	if (e) {
		fprintf(stderr, "ekvd-bench: setup: %s\n", ekv_strerror(e));
		return 1;
	}

	printf("ekvd-bench: %d keys, %.1f s per run, socket %s\n", b.keys, b.seconds, b.socket);
	double r[3][2];
	static const char *names[] = {"gets/s (rtx held)", "rtx+get/s", "commits/s"};
	static const int clients[] = {1, 16};
	for (int w = 0; w < 3; w++) {
		for (int ci = 0; ci < 2; ci++) {
			r[w][ci] = run(&b, (enum workload)w, clients[ci]);
			if (r[w][ci] < 0) {
				fprintf(stderr, "ekvd-bench: %s with %d clients failed\n", names[w],
					clients[ci]);
				return 1;
			}
		}
		printf("%-20s %10.0f (1 client) %10.0f (16 clients)\n", names[w], r[w][0], r[w][1]);
	}
	double echo = echo_round_trips(b.seconds);
	printf("%-20s %10.0f (1 client, no ekvd: the ceiling for one waiting client)\n",
	       "echo round trips/s", echo);
	printf("gets_1=%.0f gets_16=%.0f rtx_gets_1=%.0f rtx_gets_16=%.0f commits_1=%.0f "
	       "commits_16=%.0f echo_1=%.0f\n",
	       r[0][0], r[0][1], r[1][0], r[1][1], r[2][0], r[2][1], echo);

	if (pid > 0) {
		kill(pid, SIGTERM);
		int st;
		waitpid(pid, &st, 0);
		char cmd[64];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "ekvd-bench: could not remove %s\n", dir);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "ekvd-bench: ekvd did not exit cleanly\n");
			return 1;
		}
	}
	return 0;
}
