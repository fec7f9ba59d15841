/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * session.h — ekvd's client connections (one thread each) and the state
 * they share: the database handle, the limits, the writer queue, and the
 * list of live sessions that shutdown walks.
 */
#ifndef EKVD_SESSION_H
#define EKVD_SESSION_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ekv.h"

struct session;
struct writer_waiter;

struct server {
	ekv_db *db;
	struct ekv_profile profile;
	const char *database;   /* "image:PATH" or "device:DEV", told in HELLO */
	const char *name;       /* ekv.conf section, or "" */
	uint32_t max_frame;     /* largest frame accepted from or sent to a client */
	unsigned max_clients;
	unsigned max_cursors;   /* per connection */
	int idle_timeout_ms;    /* 0: none */
	unsigned busy_poll_us;  /* poll for the next request this long before sleeping */
	bool verbose;

	atomic_bool stopping;   /* set once, under lock; read anywhere */
	pthread_mutex_t lock;   /* everything below */
	pthread_cond_t cond;    /* writer queue and session count changes (CLOCK_MONOTONIC) */
	bool writer_busy;       /* a session holds the writer (a write tx, format or compact) */
	struct writer_waiter *wq_head, *wq_tail; /* FIFO of sessions waiting for the writer */
	struct session *sessions; /* live sessions */
	unsigned n_sessions;
	uint64_t commits;
	bool status_dirty;      /* sessions or commits changed since the last status line */
};

/* Frame size a profile needs: its largest pair in a cursor batch reply. */
uint32_t server_min_frame(const struct ekv_profile *p);

int server_init(struct server *srv);
void server_destroy(struct server *srv);

/*
 * Register a new connection (called by the accepting thread, so that the
 * client limit holds).  Returns NULL if the daemon is stopping or full;
 * *why says which.  The session then runs on its own thread with
 * session_run(), which closes fd and frees the session.
 */
struct session *session_new(struct server *srv, int fd, bool read_only, const char *peer,
			    const char **why);
void *session_run(void *session);

/* Shutdown: refuse new work, wake every session (a commit in progress
 * completes and is answered; open transactions are aborted), then wait
 * until all have ended. */
void server_stop(struct server *srv);
void server_wait_sessions(struct server *srv);

/* Send a farewell ERROR frame (id 0) on a connection that is not served. */
void send_farewell(int fd, int code, const char *msg);

#endif
