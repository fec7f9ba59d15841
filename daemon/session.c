/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * session.c — one client connection of ekvd: read frames, check that each
 * request fits the connection's state, run it on the shared handle, reply.
 *
 * A connection holds at most one transaction — a read transaction (a
 * snapshot, for as long as the client keeps it) or the write transaction —
 * plus cursors.  Writers queue here in FIFO order for up to the timeout the
 * client sent, then get EKV_EBUSY; the engine's own writer slot is only
 * ever contended briefly behind this queue.  Whatever ends a connection
 * (the client leaving, a protocol error, the idle timeout, shutdown)
 * aborts its write transaction and releases its snapshot and cursors.
 *
 * Owns: the per-connection state machine and the writer queue.  Must never:
 * trust a byte of a frame before proto.c has decoded it, act on a request
 * that is out of sequence (it gets an error reply and the connection is
 * closed), or let a departing client leave anything behind.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "proto.h"
#include "session.h"
#include "util.h"

#define BATCH_BYTES (64u * 1024u) /* cursor batch target; at least one largest pair */

struct writer_waiter {
	struct writer_waiter *next;
	bool granted;
};

struct dcursor {
	uint32_t id;
	ekv_cursor *c;
};

struct session {
	struct server *srv;
	struct session *prev, *next;
	int fd;
	bool read_only;
	bool hello_done;
	bool fatal;          /* close after sending the reply */
	uint32_t reply_max;  /* min(client's limit, ours) */
	ekv_rtx *rtx;
	ekv_wtx *wtx;        /* held together with the writer queue */
	struct dcursor *cursors;
	unsigned n_cursors;
	uint32_t last_cursor_id;
	struct net_in in;
	uint8_t *out;
	size_t out_cap;
	struct proto_writer w;
	uint8_t key[1025];   /* cursor batch scratch: one key */
	char peer[96];
};

uint32_t server_min_frame(const struct ekv_profile *p)
{
	uint32_t need = PROTO_BATCH_OVERHEAD + PROTO_PAIR_OVERHEAD + p->max_key_size +
			p->max_value_size;
	return need > PROTO_MIN_MAX_FRAME ? need : PROTO_MIN_MAX_FRAME;
}

int server_init(struct server *srv)
{
	int e = cond_init_monotonic(&srv->cond);
	if (e < 0)
		return e;
	pthread_mutex_init(&srv->lock, NULL);
	return 0;
}

void server_destroy(struct server *srv)
{
	pthread_cond_destroy(&srv->cond);
	pthread_mutex_destroy(&srv->lock);
}

/* ---- the writer queue ---------------------------------------------------- */

/* Hand the writer to the first waiter, or free it. */
static void writer_release_locked(struct server *srv)
{
	struct writer_waiter *w = srv->wq_head;
	if (w) {
		srv->wq_head = w->next;
		if (!srv->wq_head)
			srv->wq_tail = NULL;
		w->granted = true;
		pthread_cond_broadcast(&srv->cond);
	} else {
		srv->writer_busy = false;
	}
}

static void writer_release(struct server *srv)
{
	pthread_mutex_lock(&srv->lock);
	writer_release_locked(srv);
	pthread_mutex_unlock(&srv->lock);
}

/* Wait for the writer, first come first served; timeout_ms < 0 forever.
 * EKV_EBUSY on timeout, EKV_ECANCELED when the daemon stops meanwhile. */
static int writer_acquire(struct server *srv, int timeout_ms)
{
	struct timespec dl;
	if (timeout_ms >= 0)
		deadline_after(&dl, timeout_ms);
	pthread_mutex_lock(&srv->lock);
	if (srv->stopping) {
		pthread_mutex_unlock(&srv->lock);
		return EKV_ECANCELED;
	}
	if (!srv->writer_busy && !srv->wq_head) {
		srv->writer_busy = true;
		pthread_mutex_unlock(&srv->lock);
		return 0;
	}
	struct writer_waiter me = {NULL, false};
	if (srv->wq_tail)
		srv->wq_tail->next = &me;
	else
		srv->wq_head = &me;
	srv->wq_tail = &me;
	int e = 0;
	while (!me.granted && e == 0) {
		if (srv->stopping)
			e = EKV_ECANCELED;
		else if (timeout_ms < 0)
			pthread_cond_wait(&srv->cond, &srv->lock);
		else if (pthread_cond_timedwait(&srv->cond, &srv->lock, &dl) == ETIMEDOUT &&
			 !me.granted)
			e = EKV_EBUSY;
	}
	if (me.granted && srv->stopping) {
		/* handed over during shutdown: nothing new starts now */
		writer_release_locked(srv);
		me.granted = false;
		e = EKV_ECANCELED;
	} else if (!me.granted) {
		struct writer_waiter **pp = &srv->wq_head, *prev = NULL;
		while (*pp != &me) {
			prev = *pp;
			pp = &(*pp)->next;
		}
		*pp = me.next;
		if (srv->wq_tail == &me)
			srv->wq_tail = prev;
	}
	pthread_mutex_unlock(&srv->lock);
	return me.granted ? 0 : e;
}

/* ---- frames in and out ---------------------------------------------------- */

enum { FILL_OK = 0, FILL_EOF = 1, FILL_IDLE = 2, FILL_ERROR = 3 };

/* Have `want` unconsumed bytes buffered. */
static int fill(struct session *s, size_t want)
{
	int e = net_fill(&s->in, s->fd, want, s->srv->busy_poll_us);
	if (e == 0)
		return FILL_OK;
	if (e == 1)
		return FILL_EOF;
	return e == -EAGAIN || e == -EWOULDBLOCK ? FILL_IDLE : FILL_ERROR;
}

void send_farewell(int fd, int code, const char *msg)
{
	uint8_t buf[PROTO_HEADER_SIZE + 8 + PROTO_MAX_TEXT];
	struct proto_writer w;
	proto_writer_init(&w, buf, sizeof(buf));
	proto_frame_begin(&w, PROTO_ERROR, PROTO_ID_NONE);
	proto_error_encode(&w, code, msg);
	long n = proto_frame_end(&w);
	if (n > 0)
		send(fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Replies are built in s->out; s->w.len bytes are sent after each request. */
static void reply_error(struct session *s, uint32_t id, int code, const char *msg)
{
	proto_writer_init(&s->w, s->out, s->out_cap);
	proto_frame_begin(&s->w, PROTO_ERROR, id);
	proto_error_encode(&s->w, code, msg);
	proto_frame_end(&s->w);
}

/* A request that is malformed or out of sequence: say why, then close. */
static void violation(struct session *s, uint32_t id, const char *why)
{
	ekvd_log(LOG_NOTICE, "%s: protocol error: %s; closing the connection", s->peer, why);
	reply_error(s, id, EKV_EPROTO, why);
	s->fatal = true;
}

static bool reply_begin(struct session *s, uint32_t id, size_t payload_max)
{
	if (grow_array(&s->out, &s->out_cap, PROTO_HEADER_SIZE + payload_max, 1, 4096) < 0) {
		reply_error(s, id, EKV_ENOMEM, NULL);
		return false;
	}
	proto_writer_init(&s->w, s->out, s->out_cap);
	proto_frame_begin(&s->w, PROTO_OK, id);
	return true;
}

static void reply_end(struct session *s, uint32_t id)
{
	if (proto_frame_end(&s->w) < 0)
		reply_error(s, id, EKV_ENOMEM, NULL); /* cannot happen: sized by reply_begin */
}

static void reply_empty(struct session *s, uint32_t id, int e)
{
	if (e < 0) {
		reply_error(s, id, e, NULL);
		return;
	}
	if (reply_begin(s, id, 0))
		reply_end(s, id);
}

/* ---- requests --------------------------------------------------------------- */

static void on_hello(struct session *s, const struct proto_request *q)
{
	struct server *srv = s->srv;
	if (s->hello_done) {
		violation(s, q->id, "HELLO sent twice");
		return;
	}
	if (q->max_frame < PROTO_MIN_MAX_FRAME) {
		violation(s, q->id, "client frame limit below the protocol minimum");
		return;
	}
	s->reply_max = q->max_frame < srv->max_frame ? q->max_frame : srv->max_frame;
	if (s->reply_max < server_min_frame(&srv->profile)) {
		reply_error(s, q->id, EKV_EINVAL,
			    "the client's frame limit is too small for this database's profile");
		s->fatal = true;
		return;
	}
	struct proto_hello h = {
		.max_frame = srv->max_frame,
		.flags = s->read_only ? PROTO_HELLO_READ_ONLY : 0,
		.profile = srv->profile,
		.database = {(const uint8_t *)srv->database, (uint32_t)strlen(srv->database)},
		.name = {(const uint8_t *)srv->name, (uint32_t)strlen(srv->name)},
	};
	if (!reply_begin(s, q->id, 128 + h.database.len + h.name.len))
		return;
	proto_hello_encode(&s->w, &h);
	reply_end(s, q->id);
	s->hello_done = true;
}

static void on_stat(struct session *s, const struct proto_request *q)
{
	struct ekv_stat st;
	int e = ekv_stat(s->srv->db, &st);
	if (e < 0) {
		reply_error(s, q->id, e, NULL);
		return;
	}
	if (!reply_begin(s, q->id, 64 + 64 * 13))
		return;
	proto_stat_encode(&s->w, &st);
	reply_end(s, q->id);
}

/* FORMAT and COMPACT: one-shot writes, queued like a write transaction. */
static int exclusive(struct session *s, const struct proto_request *q, int (*op)(ekv_db *db))
{
	if (s->read_only)
		return EKV_EPERM;
	int e = writer_acquire(s->srv, q->timeout_ms);
	if (e < 0)
		return e;
	e = op(s->srv->db);
	writer_release(s->srv);
	return e;
}

static void on_format(struct session *s, const struct proto_request *q)
{
	reply_empty(s, q->id, exclusive(s, q, ekv_format));
}

static void on_compact(struct session *s, const struct proto_request *q)
{
	int e = exclusive(s, q, ekv_compact);
	if (e < 0) {
		reply_error(s, q->id, e, NULL);
		return;
	}
	if (reply_begin(s, q->id, 4)) {
		proto_put_u32(&s->w, (uint32_t)e);
		reply_end(s, q->id);
	}
}

static void on_mount(struct session *s, const struct proto_request *q)
{
	reply_empty(s, q->id, ekv_mount(s->srv->db));
}

static void on_rtx_begin(struct session *s, const struct proto_request *q)
{
	reply_empty(s, q->id, ekv_rtx_begin(s->srv->db, &s->rtx));
}

static void on_rtx_end(struct session *s, const struct proto_request *q)
{
	(void)q;
	ekv_rtx_end(s->rtx);
	s->rtx = NULL;
}

static void on_get(struct session *s, const struct proto_request *q)
{
	uint32_t max_value = s->srv->profile.max_value_size;
	if (!reply_begin(s, q->id, 4 + (size_t)max_value))
		return;
	uint8_t *lenp = proto_reserve(&s->w, 4);
	size_t vlen = 0;
	int e = ekv_rtx_get(s->rtx, q->key.p, q->key.len, s->w.p + s->w.len, max_value, &vlen);
	if (e < 0) {
		reply_error(s, q->id, e, NULL);
		return;
	}
	put_le32(lenp, (uint32_t)vlen);
	proto_reserve(&s->w, vlen);
	reply_end(s, q->id);
}

static struct dcursor *find_cursor(struct session *s, uint32_t id)
{
	for (unsigned i = 0; i < s->n_cursors; i++)
		if (s->cursors[i].id == id)
			return &s->cursors[i];
	return NULL;
}

static void drop_cursor(struct session *s, struct dcursor *dc)
{
	ekv_cursor_close(dc->c);
	*dc = s->cursors[--s->n_cursors];
}

/*
 * Reply with up to max_pairs pairs of a cursor, within the batch budget.
 * Each value is read straight into the reply, after room for the largest
 * key; a pair that does not fit makes the engine return EKV_ERANGE without
 * advancing, so it simply comes first in the next batch.  A cursor that
 * reaches its end or fails is closed here.
 */
static void send_batch(struct session *s, uint32_t req_id, struct dcursor *dc, uint32_t max_pairs)
{
	const uint32_t max_key = s->srv->profile.max_key_size;
	size_t budget = BATCH_BYTES;
	if (budget < server_min_frame(&s->srv->profile))
		budget = server_min_frame(&s->srv->profile);
	if (budget > s->reply_max)
		budget = s->reply_max;
	if (!reply_begin(s, req_id, budget - PROTO_HEADER_SIZE))
		return;
	size_t end = s->w.len + budget - PROTO_HEADER_SIZE; /* budget counts the header */
	size_t head = proto_batch_begin(&s->w, dc->id);
	uint32_t count = 0;
	int32_t status = PROTO_BATCH_MORE;
	while (count < max_pairs) {
		size_t at = s->w.len;
		if (end - at < PROTO_PAIR_OVERHEAD + max_key)
			break;
		uint8_t *vp = s->w.p + at + PROTO_PAIR_OVERHEAD + max_key;
		size_t vcap = end - at - PROTO_PAIR_OVERHEAD - max_key;
		size_t kl = 0, vl = 0;
		int r = ekv_cursor_next(dc->c, s->key, max_key, &kl, vp, vcap, &vl);
		if (r == 0) {
			status = PROTO_BATCH_END;
			break;
		}
		if (r == EKV_ERANGE && count > 0)
			break;
		if (r < 0) {
			status = r;
			break;
		}
		/* [klen][key][vlen][value]: slide the value down behind the key */
		uint8_t *p = s->w.p + at;
		put_le32(p, (uint32_t)kl);
		memcpy(p + 4, s->key, kl);
		put_le32(p + 4 + kl, (uint32_t)vl);
		memmove(p + 8 + kl, vp, vl);
		proto_reserve(&s->w, PROTO_PAIR_OVERHEAD + kl + vl);
		count++;
	}
	proto_batch_finish(&s->w, head, status, count);
	reply_end(s, req_id);
	if (status != PROTO_BATCH_MORE)
		drop_cursor(s, dc);
}

static void on_cursor_open(struct session *s, const struct proto_request *q)
{
	if (s->n_cursors >= s->srv->max_cursors) {
		reply_error(s, q->id, EKV_ENOMEM, "too many cursors on this connection");
		return;
	}
	if (!s->cursors) {
		s->cursors = calloc(s->srv->max_cursors, sizeof(*s->cursors));
		if (!s->cursors) {
			reply_error(s, q->id, EKV_ENOMEM, NULL);
			return;
		}
	}
	ekv_cursor *c;
	int e;
	if (q->flags & PROTO_CURSOR_PREFIX)
		e = ekv_cursor_open_prefix(s->rtx, q->start.p, q->start.len, &c);
	else
		e = ekv_cursor_open(s->rtx, q->flags & PROTO_CURSOR_HAS_START ? q->start.p : NULL,
				    q->start.len, q->flags & PROTO_CURSOR_HAS_END ? q->end.p : NULL,
				    q->end.len, &c);
	if (e < 0) {
		reply_error(s, q->id, e, NULL);
		return;
	}
	do
		s->last_cursor_id++;
	while (s->last_cursor_id == 0 || find_cursor(s, s->last_cursor_id));
	struct dcursor *dc = &s->cursors[s->n_cursors++];
	dc->id = s->last_cursor_id;
	dc->c = c;
	send_batch(s, q->id, dc, q->max_pairs);
}

static void on_wtx_begin(struct session *s, const struct proto_request *q)
{
	if (s->read_only) {
		reply_error(s, q->id, EKV_EPERM, NULL);
		return;
	}
	int e = writer_acquire(s->srv, q->timeout_ms);
	if (e == 0) {
		e = ekv_wtx_begin(s->srv->db, &s->wtx);
		if (e < 0)
			writer_release(s->srv);
	}
	reply_empty(s, q->id, e);
}

static void end_wtx(struct session *s, bool commit, uint32_t id)
{
	int e = 0;
	if (commit)
		e = ekv_wtx_commit(s->wtx);
	else
		ekv_wtx_abort(s->wtx);
	s->wtx = NULL;
	writer_release(s->srv);
	if (commit) {
		if (e == 0) {
			pthread_mutex_lock(&s->srv->lock);
			s->srv->commits++;
			s->srv->status_dirty = true;
			pthread_mutex_unlock(&s->srv->lock);
		}
		reply_empty(s, id, e);
	}
}

static void on_cursor_next(struct session *s, const struct proto_request *q)
{
	send_batch(s, q->id, find_cursor(s, q->cursor_id), q->max_pairs);
}

static void on_cursor_close(struct session *s, const struct proto_request *q)
{
	drop_cursor(s, find_cursor(s, q->cursor_id));
}

static void on_put(struct session *s, const struct proto_request *q)
{
	reply_empty(s, q->id, ekv_wtx_put(s->wtx, q->key.p, q->key.len, q->value.p, q->value.len));
}

static void on_delete(struct session *s, const struct proto_request *q)
{
	reply_empty(s, q->id, ekv_wtx_delete(s->wtx, q->key.p, q->key.len));
}

static void on_commit(struct session *s, const struct proto_request *q)
{
	end_wtx(s, true, q->id);
}

static void on_abort(struct session *s, const struct proto_request *q)
{
	end_wtx(s, false, q->id);
}

/* The handler of every request row (proto.h): a row without its on_<name>
 * does not compile. */
typedef void (*request_handler)(struct session *s, const struct proto_request *q);
#define HANDLER(NAME, lower, type, fields, reply, need) [PROTO_##NAME] = on_##lower,
static const request_handler handlers[PROTO_REQ_LIMIT] = {PROTO_REQUESTS(HANDLER)};
#undef HANDLER
_Static_assert(sizeof(handlers) / sizeof(handlers[0]) == PROTO_REQ_LIMIT,
	       "one handler slot per request type");

/* Why a request may not run now, or NULL. */
static const char *unmet(struct session *s, const struct proto_request *q, uint8_t need)
{
	switch ((enum proto_need)need) {
	case PROTO_NEED_NONE:
		return NULL;
	case PROTO_NEED_NO_TX:
		return s->rtx || s->wtx ? "a transaction is already open on this connection" : NULL;
	case PROTO_NEED_RTX:
		return s->rtx ? NULL : "no read transaction open";
	case PROTO_NEED_WTX:
		return s->wtx ? NULL : "no write transaction open";
	case PROTO_NEED_CURSOR:
		return find_cursor(s, q->cursor_id) ? NULL : "no such cursor";
	}
	return "not a request";
}

static void handle(struct session *s, const struct proto_request *q)
{
	const struct proto_req_desc *d = proto_req(q->type);
	if (!d || !handlers[q->type]) {
		violation(s, q->id, "not a request");
		return;
	}
	if (!s->hello_done && q->type != PROTO_HELLO) {
		violation(s, q->id, "HELLO must come first");
		return;
	}
	const char *why = unmet(s, q, d->need);
	if (why) {
		violation(s, q->id, why);
		return;
	}
	handlers[q->type](s, q);
}

/* ---- the connection's life --------------------------------------------- */

struct session *session_new(struct server *srv, int fd, bool read_only, const char *peer,
			    const char **why)
{
	pthread_mutex_lock(&srv->lock);
	if (srv->stopping || srv->n_sessions >= srv->max_clients) {
		*why = srv->stopping ? "ekvd is stopping" : "too many clients";
		pthread_mutex_unlock(&srv->lock);
		return NULL;
	}
	struct session *s = calloc(1, sizeof(*s));
	if (!s) {
		*why = "out of memory";
		pthread_mutex_unlock(&srv->lock);
		return NULL;
	}
	s->srv = srv;
	s->fd = fd;
	s->read_only = read_only;
	snprintf(s->peer, sizeof(s->peer), "%s", peer);
	s->next = srv->sessions;
	if (srv->sessions)
		srv->sessions->prev = s;
	srv->sessions = s;
	srv->n_sessions++;
	srv->status_dirty = true;
	pthread_mutex_unlock(&srv->lock);
	return s;
}

static bool stopping(struct server *srv)
{
	return atomic_load(&srv->stopping);
}

static void serve(struct session *s)
{
	struct server *srv = s->srv;
	if (grow_array(&s->out, &s->out_cap, 4096, 1, 4096) < 0)
		return;
	for (;;) {
		if (stopping(srv)) {
			send_farewell(s->fd, EKV_ECANCELED, "ekvd is stopping");
			return;
		}
		int f = fill(s, PROTO_HEADER_SIZE);
		struct proto_header h;
		const char *why = NULL;
		if (f == FILL_OK && proto_header_decode(s->in.buf + s->in.off,
							srv->max_frame - PROTO_HEADER_SIZE, &h,
							&why) == 0 &&
		    h.type >= PROTO_OK)
			why = "a reply frame is not a request";
		if (f == FILL_OK && why) {
			violation(s, h.id, why);
			send_full(s->fd, s->w.p, s->w.len);
			return;
		}
		if (f == FILL_OK)
			f = fill(s, PROTO_HEADER_SIZE + (size_t)h.payload_len);
		if (f == FILL_IDLE) {
			ekvd_log(LOG_INFO, "%s: idle timeout", s->peer);
			send_farewell(s->fd, EKV_ECANCELED, "idle timeout");
			return;
		}
		if (f == FILL_EOF && stopping(srv))
			send_farewell(s->fd, EKV_ECANCELED, "ekvd is stopping");
		if (f != FILL_OK)
			return;
		const uint8_t *payload = s->in.buf + s->in.off + PROTO_HEADER_SIZE;
		net_consume(&s->in, PROTO_HEADER_SIZE + (size_t)h.payload_len);
		struct proto_request q;
		s->w.len = 0;
		if (proto_request_decode(&h, payload, &q, &why) < 0)
			violation(s, h.id, why);
		else
			handle(s, &q);
		if (s->w.len && send_full(s->fd, s->w.p, s->w.len) < 0)
			return;
		if (s->fatal)
			return;
	}
}

void *session_run(void *arg)
{
	struct session *s = arg;
	struct server *srv = s->srv;
	if (srv->idle_timeout_ms > 0) {
		struct timeval tv = {srv->idle_timeout_ms / 1000, (srv->idle_timeout_ms % 1000) * 1000};
		setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(s->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	if (srv->verbose)
		ekvd_log(LOG_INFO, "%s: connected%s", s->peer, s->read_only ? " (read-only)" : "");
	serve(s);
	/* nothing a departing client did stays half-done */
	while (s->n_cursors)
		drop_cursor(s, &s->cursors[0]);
	if (s->rtx)
		ekv_rtx_end(s->rtx);
	if (s->wtx) {
		ekvd_log(LOG_INFO, "%s: write transaction aborted", s->peer);
		end_wtx(s, false, 0);
	}
	if (srv->verbose)
		ekvd_log(LOG_INFO, "%s: disconnected", s->peer);
	free(s->cursors);
	net_in_free(&s->in);
	free(s->out);
	/* unregister last: once the count drops, shutdown may tear down srv */
	pthread_mutex_lock(&srv->lock);
	if (s->prev)
		s->prev->next = s->next;
	else
		srv->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	close(s->fd);
	free(s);
	srv->n_sessions--;
	srv->status_dirty = true;
	pthread_cond_broadcast(&srv->cond);
	pthread_mutex_unlock(&srv->lock);
	return NULL;
}

void server_stop(struct server *srv)
{
	pthread_mutex_lock(&srv->lock);
	srv->stopping = true;
	/* wake readers blocked in recv(); replies can still be sent */
	for (struct session *s = srv->sessions; s; s = s->next)
		shutdown(s->fd, SHUT_RD);
	pthread_cond_broadcast(&srv->cond);
	pthread_mutex_unlock(&srv->lock);
}

void server_wait_sessions(struct server *srv)
{
	pthread_mutex_lock(&srv->lock);
	while (srv->n_sessions)
		pthread_cond_wait(&srv->cond, &srv->lock);
	pthread_mutex_unlock(&srv->lock);
}
