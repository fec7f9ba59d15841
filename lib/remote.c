/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * remote.c — the client side of ekvd: an ekv_db whose calls travel over a
 * Unix socket (docs/PROTOCOL.md) to the daemon that owns the flash.
 *
 * Owns: a pool of connections per handle — each read or write transaction
 * holds one connection for its lifetime (the daemon allows one transaction
 * per connection), cursors share their transaction's — request/reply
 * exchange with timeouts, and client-side buffering of cursor batches.
 *
 * Must never: raise SIGPIPE in the application (every send is
 * MSG_NOSIGNAL), wait without a bound unless the caller asked for one, or
 * decide anything about the data: every result is the daemon's engine's,
 * so a remote handle behaves like a local one.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "net.h"
#include "proto.h"
#include "handle.h"
#include "util.h"

#define CLIENT_DEFAULT_MAX_FRAME (1024u * 1024u)
#define POOL_IDLE_MAX 8 /* idle connections kept open per handle */
#define BATCH_FIRST 16  /* pairs in a cursor's first batch; grows to BATCH_MAX */
#define BATCH_MAX 1024

struct conn {
	int fd;
	bool broken;        /* unusable: I/O error, timeout, farewell or bad reply */
	bool hung_up;       /* the daemon closed its end */
	unsigned users;     /* the transaction and its cursors; 0 = idle */
	uint32_t last_id;
	pthread_mutex_t lock; /* one exchange at a time (a cursor and its rtx may race) */
	uint8_t *out;
	size_t out_cap;
	struct net_in in;
	struct conn *next, *prev; /* every connection of the handle */
	struct conn *next_idle;
	unsigned busy_poll_us;
};

/* A remote handle (ekv_connect). */
struct remote {
	struct ekv_db h;      /* the public handle: remote_ops */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct ekv_connect_options o;
	uint32_t recv_max; /* largest frame we accept */
	uint32_t send_max; /* largest frame the daemon accepts */
	struct ekv_remote_info info;
	pthread_mutex_t lock; /* the lists and every conn's users */
	struct conn all;      /* sentinel */
	struct conn *idle;
	unsigned n_idle;
};

/* A read or write transaction: a connection of its own. */
struct remote_tx {
	union {
		struct ekv_rtx rtx; /* the public handle of a read transaction */
		struct ekv_wtx wtx; /* or of a write transaction: remote_ops */
	} h;                        /* first: the handle is the allocation */
	struct remote *remote;
	struct conn *c;
};

struct remote_cursor {
	struct ekv_cursor h;  /* the public handle: remote_ops */
	struct remote *remote;
	struct conn *c;
	uint32_t id;
	bool live;        /* still open in the daemon */
	int32_t final;    /* after the buffered pairs: PROTO_BATCH_MORE/END or an error */
	uint32_t batch;   /* pairs to ask for next */
	uint8_t *buf;     /* the current batch's payload */
	size_t buf_cap;
	struct proto_batch b;
	bool have_pair;   /* k, v: the next pair, not yet delivered */
	struct proto_bytes k, v;
};

struct reply {
	const uint8_t *payload;
	uint32_t len;
};

static struct remote *remote_of_db(ekv_db *db)
{
	return container_of(db, struct remote, h);
}

static struct remote_tx *rtx_of(ekv_rtx *h)
{
	return container_of(h, struct remote_tx, h.rtx);
}

static struct remote_tx *wtx_of(ekv_wtx *h)
{
	return container_of(h, struct remote_tx, h.wtx);
}

static struct remote_cursor *cursor_of(ekv_cursor *h)
{
	return container_of(h, struct remote_cursor, h);
}

void ekv_connect_options_default(struct ekv_connect_options *o)
{
	if (o)
		*o = (struct ekv_connect_options){.busy_timeout_ms = 5000,
						  .io_timeout_ms = 30000,
						  .busy_poll_us = PROTO_DEFAULT_BUSY_POLL_US};
}

/* ---- one connection ----------------------------------------------------- */

static void conn_free(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	pthread_mutex_destroy(&c->lock);
	free(c->out);
	net_in_free(&c->in);
	free(c);
}

static int conn_send(struct conn *c, const uint8_t *p, size_t n)
{
	int e = send_full(c->fd, p, n);
	if (e < 0) {
		c->broken = true;
		c->hung_up = e == -EPIPE || e == -ECONNRESET;
		return EKV_EIO;
	}
	return 0;
}

/* Have at least `want` unconsumed bytes buffered.  deadline < 0: none (the
 * socket's receive timeout, if any, only makes us look at the clock). */
static int conn_fill(struct conn *c, size_t want, int64_t deadline)
{
	for (;;) {
		int e = net_fill(&c->in, c->fd, want, c->busy_poll_us);
		if (e == 0)
			return 0;
		bool timed_out = e == -EAGAIN || e == -EWOULDBLOCK;
		if (timed_out && (deadline < 0 || monotonic_ms() < deadline))
			continue;
		c->broken = true; /* end of stream, error or timeout */
		return e == EKV_ENOMEM ? e : EKV_EIO;
	}
}

/* Read the reply to request `id`.  An ERROR frame gives its code; id 0 is
 * the daemon's farewell (the connection is over). */
static int conn_read_reply(struct remote *r, struct conn *c, uint32_t id, int64_t deadline,
			   struct reply *rep)
{
	int e = conn_fill(c, PROTO_HEADER_SIZE, deadline);
	if (e < 0)
		return e;
	struct proto_header h;
	const uint8_t *frame = c->in.buf + c->in.off;
	if (proto_header_decode(frame, r->recv_max - PROTO_HEADER_SIZE, &h, NULL) < 0 ||
	    (h.type != PROTO_OK && h.type != PROTO_ERROR)) {
		c->broken = true;
		return EKV_EPROTO;
	}
	e = conn_fill(c, PROTO_HEADER_SIZE + (size_t)h.payload_len, deadline);
	if (e < 0)
		return e;
	const uint8_t *payload = c->in.buf + c->in.off + PROTO_HEADER_SIZE;
	net_consume(&c->in, PROTO_HEADER_SIZE + (size_t)h.payload_len);
	if (h.type == PROTO_ERROR) {
		int code;
		if (proto_error_decode(payload, h.payload_len, &code, NULL) < 0) {
			c->broken = true;
			return EKV_EPROTO;
		}
		if (h.id == PROTO_ID_NONE) {
			c->broken = true;
			return code;
		}
		if (h.id != id) {
			c->broken = true;
			return EKV_EPROTO;
		}
		return code;
	}
	if (h.id != id) {
		c->broken = true;
		return EKV_EPROTO;
	}
	rep->payload = payload;
	rep->len = h.payload_len;
	return 0;
}

/* Sending failed: the daemon may have said why before it hung up (shutdown,
 * idle timeout, too many clients).  Its farewell is then already buffered. */
static int conn_farewell(struct remote *r, struct conn *c, int err)
{
	if (!c->hung_up)
		return err; /* reading could block */
	struct reply rep;
	int e = conn_read_reply(r, c, PROTO_ID_NONE, monotonic_ms(), &rep);
	return e < 0 && e != EKV_EIO && e != EKV_EPROTO ? e : err;
}

/* Send a request and, unless it is one without a reply, wait for the reply:
 * io_timeout_ms plus wait_ms (the time the daemon may legitimately take,
 * e.g. queueing for the writer).  Called with c->lock held; *rep is valid
 * until it is released. */
static int call(struct remote *r, struct conn *c, struct proto_request *q, int wait_ms,
		struct reply *rep)
{
	if (c->broken)
		return EKV_EIO;
	size_t need = PROTO_HEADER_SIZE + 16 + (size_t)q->key.len + q->value.len + q->start.len +
		      q->end.len;
	if (need > r->send_max)
		return EKV_ETOOBIG;
	if (grow_array(&c->out, &c->out_cap, need, 1, 4096) < 0)
		return EKV_ENOMEM;
	if (++c->last_id == PROTO_ID_NONE)
		c->last_id = 1;
	q->id = c->last_id;
	struct proto_writer w;
	proto_writer_init(&w, c->out, c->out_cap);
	long n = proto_request_encode(&w, q);
	if (n < 0)
		return (int)n;
	int e = conn_send(c, c->out, (size_t)n);
	if (e < 0)
		return conn_farewell(r, c, e);
	if (proto_request_is_void(q->type))
		return 0;
	int64_t deadline = -1;
	if (r->o.io_timeout_ms >= 0 && wait_ms >= 0)
		deadline = monotonic_ms() + r->o.io_timeout_ms + wait_ms;
	return conn_read_reply(r, c, q->id, deadline, rep);
}

static int connect_error(int err)
{
	switch (err) {
	case EACCES:
	case EPERM:
		return EKV_EPERM;
	case ENOMEM:
	case ENOBUFS:
		return EKV_ENOMEM;
	case EAGAIN:
		return EKV_EBUSY; /* the daemon's listen backlog is full */
	default:
		return EKV_EIO;
	}
}

static void copy_text(char *dst, size_t cap, struct proto_bytes b)
{
	size_t n = b.len < cap - 1 ? b.len : cap - 1;
	if (n)
		memcpy(dst, b.p, n);
	dst[n] = 0;
}

/* Connect and say HELLO; the first connection (made by ekv_connect, before
 * the handle is shared) records what the daemon serves. */
static int conn_open(struct remote *r, bool first, struct conn **out)
{
	*out = NULL;
	struct conn *c = calloc(1, sizeof(*c));
	if (!c)
		return EKV_ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	c->busy_poll_us = r->o.busy_poll_us > 0 ? (unsigned)r->o.busy_poll_us : 0;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		int e = connect_error(errno);
		conn_free(c);
		return e;
	}
	if (r->o.io_timeout_ms >= 0) {
		/* also bounds connect() on a full backlog */
		struct timeval tv = {r->o.io_timeout_ms / 1000, (r->o.io_timeout_ms % 1000) * 1000};
		if (tv.tv_sec == 0 && tv.tv_usec == 0)
			tv.tv_usec = 1000;
		setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memcpy(sa.sun_path, r->path, sizeof(sa.sun_path));
	int rc;
	do
		rc = connect(c->fd, (struct sockaddr *)&sa, sizeof(sa));
	while (rc < 0 && errno == EINTR);
	if (rc < 0) {
		int e = connect_error(errno);
		conn_free(c);
		return e;
	}
	struct proto_request q = {.type = PROTO_HELLO, .max_frame = r->recv_max};
	struct reply rep;
	int e = call(r, c, &q, 0, &rep);
	struct proto_hello h;
	if (e == 0 && proto_hello_decode(rep.payload, rep.len, &h) < 0)
		e = EKV_EPROTO;
	if (e < 0) {
		conn_free(c);
		return e;
	}
	if (first) {
		r->send_max = h.max_frame;
		r->info.profile = h.profile;
		r->info.read_only = h.flags & PROTO_HELLO_READ_ONLY;
		r->info.max_frame_size = h.max_frame;
		copy_text(r->info.database, sizeof(r->info.database), h.database);
		copy_text(r->info.name, sizeof(r->info.name), h.name);
	}
	pthread_mutex_lock(&r->lock);
	c->next = r->all.next;
	c->prev = &r->all;
	r->all.next->prev = c;
	r->all.next = c;
	pthread_mutex_unlock(&r->lock);
	*out = c;
	return 0;
}

/* ---- the pool ----------------------------------------------------------- */

static int conn_get(struct remote *r, struct conn **out, bool *pooled)
{
	pthread_mutex_lock(&r->lock);
	struct conn *c = r->idle;
	if (c) {
		r->idle = c->next_idle;
		r->n_idle--;
		c->users = 1;
	}
	pthread_mutex_unlock(&r->lock);
	*pooled = c != NULL;
	if (c) {
		*out = c;
		return 0;
	}
	int e = conn_open(r, false, &c);
	if (e < 0)
		return e;
	pthread_mutex_lock(&r->lock);
	c->users = 1;
	pthread_mutex_unlock(&r->lock);
	*out = c;
	return 0;
}

static void conn_use(struct remote *r, struct conn *c)
{
	pthread_mutex_lock(&r->lock);
	c->users++;
	pthread_mutex_unlock(&r->lock);
}

/* One user is done: the last one returns the connection to the pool, or
 * closes it if it is broken or the pool is full. */
static void conn_put(struct remote *r, struct conn *c)
{
	pthread_mutex_lock(&r->lock);
	bool drop = false;
	if (--c->users == 0) {
		if (c->broken || r->n_idle >= POOL_IDLE_MAX) {
			c->prev->next = c->next;
			c->next->prev = c->prev;
			drop = true;
		} else {
			c->next_idle = r->idle;
			r->idle = c;
			r->n_idle++;
		}
	}
	pthread_mutex_unlock(&r->lock);
	if (drop)
		conn_free(c);
}

/*
 * Take a connection and run a request that starts something (a transaction,
 * stat, ...).  A pooled connection the daemon has closed meanwhile (idle
 * timeout, restart) is replaced once: such a request was not executed.  On
 * success the connection is returned locked, *rep valid until unlocked.
 */
static int acquire_and_call(struct remote *r, struct proto_request *q, int wait_ms,
			    struct conn **out, struct reply *rep)
{
	for (int attempt = 0;; attempt++) {
		struct conn *c;
		bool pooled;
		int e = conn_get(r, &c, &pooled);
		if (e < 0)
			return e;
		pthread_mutex_lock(&c->lock);
		e = call(r, c, q, wait_ms, rep);
		if (e < 0) {
			bool retry = c->broken && pooled && attempt == 0;
			pthread_mutex_unlock(&c->lock);
			conn_put(r, c);
			if (retry)
				continue;
			return e;
		}
		*out = c;
		return 0;
	}
}

/* A reply that must be empty. */
static int expect_empty(struct conn *c, const struct reply *rep)
{
	if (rep->len) {
		c->broken = true;
		return EKV_EPROTO;
	}
	return 0;
}

/* A request with an empty reply on a connection of its own, which the
 * caller then holds (a transaction) or puts back. */
static int start_on_conn(struct remote *r, struct proto_request *q, int wait_ms,
			 struct conn **out)
{
	struct reply rep;
	int e = acquire_and_call(r, q, wait_ms, out, &rep);
	if (e < 0)
		return e;
	e = expect_empty(*out, &rep);
	pthread_mutex_unlock(&(*out)->lock);
	if (e < 0)
		conn_put(r, *out);
	return e;
}

/* Send a request without a reply (an end), then let go of the connection. */
static void end_on_conn(struct remote *r, struct conn *c, struct proto_request *q)
{
	pthread_mutex_lock(&c->lock);
	call(r, c, q, 0, NULL);
	pthread_mutex_unlock(&c->lock);
	conn_put(r, c);
}

static int simple_call(struct remote *r, struct proto_request *q, int wait_ms)
{
	struct conn *c;
	int e = start_on_conn(r, q, wait_ms, &c);
	if (e == 0)
		conn_put(r, c);
	return e;
}

/* ---- the handle --------------------------------------------------------- */

int ekv_connect(const char *socket_path, const struct ekv_connect_options *o, ekv_db **out)
{
	if (!out)
		return EKV_EINVAL;
	*out = NULL;
	if (!socket_path)
		socket_path = getenv("EKV_SOCKET");
	if (!socket_path || !*socket_path)
		socket_path = EKV_DEFAULT_SOCKET;
	struct remote *r = calloc(1, sizeof(*r));
	if (!r)
		return EKV_ENOMEM;
	size_t n = strlen(socket_path);
	if (n >= sizeof(r->path)) {
		free(r);
		return EKV_EINVAL;
	}
	memcpy(r->path, socket_path, n + 1);
	r->h.ops = &remote_ops;
	if (o)
		r->o = *o;
	else
		ekv_connect_options_default(&r->o);
	r->recv_max = r->o.max_frame_size ? r->o.max_frame_size : CLIENT_DEFAULT_MAX_FRAME;
	if (r->recv_max < PROTO_MIN_MAX_FRAME || r->recv_max > PROTO_HARD_MAX_FRAME) {
		free(r);
		return EKV_EINVAL;
	}
	r->send_max = PROTO_MIN_MAX_FRAME; /* until HELLO tells */
	pthread_mutex_init(&r->lock, NULL);
	r->all.next = r->all.prev = &r->all;
	/* connect now, so that a missing daemon is reported here */
	struct conn *c;
	int e = conn_open(r, true, &c);
	if (e < 0) {
		pthread_mutex_destroy(&r->lock);
		free(r);
		return e;
	}
	c->users = 1;
	conn_put(r, c);
	*out = &r->h;
	return 0;
}

static int remote_remote_info(ekv_db *db, struct ekv_remote_info *info)
{
	struct remote *r = remote_of_db(db);
	pthread_mutex_lock(&r->lock);
	*info = r->info;
	pthread_mutex_unlock(&r->lock);
	return 0;
}

static void remote_close(ekv_db *db)
{
	struct remote *r = remote_of_db(db);
	/* connections still used by open transactions are the caller's bug;
	 * close them all so nothing leaks (the daemon aborts their work) */
	struct conn *c = r->all.next;
	while (c != &r->all) {
		struct conn *n = c->next;
		conn_free(c);
		c = n;
	}
	pthread_mutex_destroy(&r->lock);
	free(r);
}

static int remote_format(ekv_db *db)
{
	struct remote *r = remote_of_db(db);
	if (r->o.read_only)
		return EKV_EROFS;
	struct proto_request q = {.type = PROTO_FORMAT, .timeout_ms = r->o.busy_timeout_ms};
	return simple_call(r, &q, r->o.busy_timeout_ms);
}

static int remote_mount(ekv_db *db)
{
	struct proto_request q = {.type = PROTO_MOUNT};
	return simple_call(remote_of_db(db), &q, 0);
}

static int remote_stat(ekv_db *db, struct ekv_stat *st)
{
	struct remote *r = remote_of_db(db);
	struct proto_request q = {.type = PROTO_STAT};
	struct conn *c;
	struct reply rep;
	int e = acquire_and_call(r, &q, r->o.busy_timeout_ms, &c, &rep);
	if (e < 0)
		return e;
	e = proto_stat_decode(rep.payload, rep.len, st);
	if (e < 0)
		c->broken = true;
	pthread_mutex_unlock(&c->lock);
	conn_put(r, c);
	return e;
}

static int remote_compact(ekv_db *db)
{
	struct remote *r = remote_of_db(db);
	if (r->o.read_only)
		return EKV_EROFS;
	struct proto_request q = {.type = PROTO_COMPACT, .timeout_ms = r->o.busy_timeout_ms};
	struct conn *c;
	struct reply rep;
	int e = acquire_and_call(r, &q, r->o.busy_timeout_ms, &c, &rep);
	if (e < 0)
		return e;
	int32_t v;
	if (proto_i32_decode(rep.payload, rep.len, &v) < 0 || v < 0 || v > 1) {
		c->broken = true;
		e = EKV_EPROTO;
	} else {
		e = v;
	}
	pthread_mutex_unlock(&c->lock);
	conn_put(r, c);
	return e;
}

/* ---- read transactions -------------------------------------------------- */

/* Start a transaction with q on a connection of its own. */
static int tx_begin(struct remote *r, struct proto_request *q, struct remote_tx **out)
{
	struct remote_tx *t = calloc(1, sizeof(*t));
	if (!t)
		return EKV_ENOMEM;
	int e = start_on_conn(r, q, r->o.busy_timeout_ms, &t->c);
	if (e < 0) {
		free(t);
		return e;
	}
	t->remote = r;
	*out = t;
	return 0;
}

static int remote_rtx_begin(ekv_db *db, ekv_rtx **out)
{
	struct proto_request q = {.type = PROTO_RTX_BEGIN};
	struct remote_tx *t;
	int e = tx_begin(remote_of_db(db), &q, &t);
	if (e == 0) {
		t->h.rtx.ops = &remote_ops;
		*out = &t->h.rtx;
	}
	return e;
}

/* End a transaction with a request that gets no reply (RTX_END, ABORT). */
static void tx_end(struct remote_tx *t, uint8_t type)
{
	struct proto_request q = {.type = type};
	end_on_conn(t->remote, t->c, &q);
	free(t);
}

static void remote_rtx_end(ekv_rtx *rtx)
{
	tx_end(rtx_of(rtx), PROTO_RTX_END);
}

static int remote_rtx_get(ekv_rtx *rtx, const void *key, size_t key_len, void *value,
			  size_t value_cap, size_t *value_len)
{
	struct remote_tx *t = rtx_of(rtx);
	if (key_len > UINT32_MAX)
		return EKV_ETOOBIG;
	struct proto_request q = {.type = PROTO_GET, .key = {key, (uint32_t)key_len}};
	struct reply rep;
	pthread_mutex_lock(&t->c->lock);
	int e = call(t->remote, t->c, &q, t->remote->o.busy_timeout_ms, &rep);
	if (e == 0) {
		struct proto_bytes v;
		if (proto_value_decode(rep.payload, rep.len, &v) < 0) {
			t->c->broken = true;
			e = EKV_EPROTO;
		} else {
			if (value_len)
				*value_len = v.len;
			if (v.len > value_cap)
				e = EKV_ERANGE;
			else if (v.len)
				memcpy(value, v.p, v.len);
		}
	}
	pthread_mutex_unlock(&t->c->lock);
	return e;
}

/* ---- cursors ------------------------------------------------------------ */

/* Take a batch reply into the cursor's own buffer (the connection's is
 * reused by the next exchange).  Called with the connection locked. */
static int cursor_take_batch(struct remote_cursor *c, const struct reply *rep)
{
	if (grow_array(&c->buf, &c->buf_cap, rep->len ? rep->len : 1, 1, 4096) < 0) {
		c->c->broken = true; /* so that the daemon drops the cursor with it */
		return EKV_ENOMEM;
	}
	if (rep->len)
		memcpy(c->buf, rep->payload, rep->len);
	if (proto_batch_decode(c->buf, rep->len, &c->b) < 0 || (c->live && c->b.cursor_id != c->id)) {
		c->c->broken = true;
		return EKV_EPROTO;
	}
	c->id = c->b.cursor_id;
	c->final = c->b.status;
	c->live = c->b.status == PROTO_BATCH_MORE;
	return 0;
}

/* Send q on the cursor's connection and take the batch it answers. */
static int cursor_call(struct remote_cursor *c, struct proto_request *q)
{
	struct reply rep;
	pthread_mutex_lock(&c->c->lock);
	int e = call(c->remote, c->c, q, c->remote->o.busy_timeout_ms, &rep);
	if (e == 0)
		e = cursor_take_batch(c, &rep);
	pthread_mutex_unlock(&c->c->lock);
	return e;
}

static int cursor_open(struct remote_tx *t, uint32_t flags, const void *start, size_t start_len,
		       const void *end, size_t end_len, ekv_cursor **out)
{
	struct remote *r = t->remote;
	if (start_len > UINT32_MAX || end_len > UINT32_MAX)
		return EKV_ETOOBIG;
	struct remote_cursor *c = malloc(sizeof(*c));
	if (!c)
		return EKV_ENOMEM;
	*c = (struct remote_cursor){
		.h.ops = &remote_ops, .remote = r, .c = t->c, .batch = BATCH_FIRST};
	struct proto_request q = {
		.type = PROTO_CURSOR_OPEN,
		.flags = flags,
		.max_pairs = c->batch,
		.start = {start, (uint32_t)start_len},
		.end = {end, (uint32_t)end_len},
	};
	int e = cursor_call(c, &q);
	if (e < 0) {
		free(c->buf);
		free(c);
		return e;
	}
	conn_use(r, c->c);
	*out = &c->h;
	return 0;
}

static int remote_cursor_open(ekv_rtx *rtx, const void *start, size_t start_len, const void *end,
			      size_t end_len, ekv_cursor **out)
{
	uint32_t flags = (start ? PROTO_CURSOR_HAS_START : 0) | (end ? PROTO_CURSOR_HAS_END : 0);
	return cursor_open(rtx_of(rtx), flags, start, start_len, end, end_len, out);
}

static int remote_cursor_open_prefix(ekv_rtx *rtx, const void *prefix, size_t prefix_len,
				     ekv_cursor **out)
{
	return cursor_open(rtx_of(rtx), PROTO_CURSOR_HAS_START | PROTO_CURSOR_PREFIX, prefix,
			   prefix_len, NULL, 0, out);
}

static int cursor_fetch(struct remote_cursor *c)
{
	struct proto_request q = {
		.type = PROTO_CURSOR_NEXT, .cursor_id = c->id, .max_pairs = c->batch};
	int e = cursor_call(c, &q);
	if (e < 0) {
		c->live = false;
		c->final = e;
		c->b.count = c->b.seen = 0;
		return e;
	}
	if (c->batch < BATCH_MAX)
		c->batch *= 4;
	return 0;
}

static int remote_cursor_next(ekv_cursor *cur, void *key, size_t key_cap, size_t *key_len,
			      void *value, size_t value_cap, size_t *value_len)
{
	struct remote_cursor *c = cursor_of(cur);
	while (!c->have_pair) {
		int n = proto_batch_next(&c->b, &c->k, &c->v);
		if (n < 0)
			return n;
		if (n == 1) {
			c->have_pair = true;
			break;
		}
		if (c->final == PROTO_BATCH_END)
			return 0;
		if (c->final < 0)
			return c->final;
		int e = cursor_fetch(c);
		if (e < 0)
			return e;
	}
	if (key_len)
		*key_len = c->k.len;
	if (value_len)
		*value_len = c->v.len;
	if (c->k.len > key_cap || c->v.len > value_cap)
		return EKV_ERANGE; /* not advanced */
	if (c->k.len)
		memcpy(key, c->k.p, c->k.len);
	if (c->v.len)
		memcpy(value, c->v.p, c->v.len);
	c->have_pair = false;
	return 1;
}

static void remote_cursor_close(ekv_cursor *cur)
{
	struct remote_cursor *c = cursor_of(cur);
	/* a cursor that reported its end is closed in the daemon already */
	struct proto_request q = {.type = PROTO_CURSOR_CLOSE, .cursor_id = c->id};
	if (c->live)
		end_on_conn(c->remote, c->c, &q);
	else
		conn_put(c->remote, c->c);
	free(c->buf);
	free(c);
}

/* ---- write transactions ------------------------------------------------- */

static int remote_wtx_begin(ekv_db *db, ekv_wtx **out)
{
	struct remote *r = remote_of_db(db);
	if (r->o.read_only)
		return EKV_EROFS;
	struct proto_request q = {.type = PROTO_WTX_BEGIN, .timeout_ms = r->o.busy_timeout_ms};
	struct remote_tx *t;
	int e = tx_begin(r, &q, &t);
	if (e == 0) {
		t->h.wtx.ops = &remote_ops;
		*out = &t->h.wtx;
	}
	return e;
}

static int wtx_call(struct remote_tx *t, struct proto_request *q)
{
	struct reply rep;
	pthread_mutex_lock(&t->c->lock);
	int e = call(t->remote, t->c, q, t->remote->o.busy_timeout_ms, &rep);
	if (e == 0)
		e = expect_empty(t->c, &rep);
	pthread_mutex_unlock(&t->c->lock);
	return e;
}

static int remote_wtx_put(ekv_wtx *tx, const void *key, size_t key_len, const void *value,
			  size_t value_len)
{
	if (key_len > UINT32_MAX || value_len > UINT32_MAX)
		return EKV_ETOOBIG;
	struct proto_request q = {
		.type = PROTO_PUT,
		.key = {key, (uint32_t)key_len},
		.value = {value, (uint32_t)value_len},
	};
	return wtx_call(wtx_of(tx), &q);
}

static int remote_wtx_delete(ekv_wtx *tx, const void *key, size_t key_len)
{
	if (key_len > UINT32_MAX)
		return EKV_ETOOBIG;
	struct proto_request q = {.type = PROTO_DELETE, .key = {key, (uint32_t)key_len}};
	return wtx_call(wtx_of(tx), &q);
}

static int remote_wtx_commit(ekv_wtx *tx)
{
	struct remote_tx *t = wtx_of(tx);
	struct proto_request q = {.type = PROTO_COMMIT};
	int e = wtx_call(t, &q);
	conn_put(t->remote, t->c);
	free(t);
	return e;
}

static void remote_wtx_abort(ekv_wtx *tx)
{
	tx_end(wtx_of(tx), PROTO_ABORT);
}

#define REMOTE_SLOT(slot) .slot = remote_##slot,
const struct ekv_ops remote_ops = {EKV_OPS_SLOTS(REMOTE_SLOT)};
