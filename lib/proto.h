/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * proto.h — the ekvd wire protocol, as specified in docs/PROTOCOL.md: the
 * frame header and the payload of every request and reply, encoded and
 * decoded.  Shared by the client (remote.c) and the daemon (daemon/).
 *
 * Owns: the byte layout and the validation of single frames (every length
 * checked against the bytes actually present, every reserved field zero).
 * Must never: do I/O, allocate, keep state between frames, or judge whether
 * a request makes sense in the connection's state (the daemon's session
 * does that) — decoding a frame is a pure function of its bytes.
 */
#ifndef EKV_PROTO_H
#define EKV_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ekv.h"

#define PROTO_VERSION 1
#define PROTO_HEADER_SIZE 12
/* Frame size limits (header included).  The default suits every profile:
 * the largest single pair is 1024 + 65536 bytes. */
#define PROTO_DEFAULT_MAX_FRAME (256u * 1024u)
#define PROTO_MIN_MAX_FRAME 4096u
#define PROTO_HARD_MAX_FRAME (64u * 1024u * 1024u)
#define PROTO_MAX_TEXT 1024u /* error messages, database names */
/* Overhead of a cursor batch reply around its pairs, and per pair. */
#define PROTO_BATCH_OVERHEAD (PROTO_HEADER_SIZE + 12u)
#define PROTO_PAIR_OVERHEAD 8u

/*
 * The request types, one row each: X(NAME, lower-case name, type byte,
 * fields, reply, precondition).  The row is all that the codec and ekvd's
 * dispatch know of a request: proto.c encodes and decodes the fields in
 * the order of the PROTO_F_* bits; ekvd checks the precondition, then calls
 * the handler on_<lower-case name> (daemon/session.c; a row without one
 * does not compile).  A new request is a row here, its handler there, and
 * a slot in the handle ops table (handle.h) with its client side in
 * remote.c.
 */
#define PROTO_REQUESTS(X)                                                                       \
	X(HELLO, hello, 0x01, PROTO_F_MAX_FRAME | PROTO_F_RESERVED, PROTO_R_HELLO,              \
	  PROTO_NEED_NONE)                                                                      \
	X(STAT, stat, 0x02, 0, PROTO_R_STAT, PROTO_NEED_NO_TX)                                  \
	X(MOUNT, mount, 0x03, 0, PROTO_R_EMPTY, PROTO_NEED_NO_TX)                               \
	X(FORMAT, format, 0x04, PROTO_F_TIMEOUT, PROTO_R_EMPTY, PROTO_NEED_NO_TX)               \
	X(COMPACT, compact, 0x05, PROTO_F_TIMEOUT, PROTO_R_I32, PROTO_NEED_NO_TX)               \
	X(RTX_BEGIN, rtx_begin, 0x10, 0, PROTO_R_EMPTY, PROTO_NEED_NO_TX)                       \
	X(RTX_END, rtx_end, 0x11, 0, PROTO_R_NONE, PROTO_NEED_RTX)                              \
	X(GET, get, 0x12, PROTO_F_KEY, PROTO_R_VALUE, PROTO_NEED_RTX)                           \
	X(CURSOR_OPEN, cursor_open, 0x20, PROTO_F_FLAGS | PROTO_F_MAX_PAIRS |                   \
	  PROTO_F_START | PROTO_F_END, PROTO_R_BATCH, PROTO_NEED_RTX)                           \
	X(CURSOR_NEXT, cursor_next, 0x21, PROTO_F_CURSOR | PROTO_F_MAX_PAIRS,                   \
	  PROTO_R_BATCH, PROTO_NEED_CURSOR)                                                     \
	X(CURSOR_CLOSE, cursor_close, 0x22, PROTO_F_CURSOR, PROTO_R_NONE, PROTO_NEED_CURSOR)    \
	X(WTX_BEGIN, wtx_begin, 0x30, PROTO_F_TIMEOUT, PROTO_R_EMPTY, PROTO_NEED_NO_TX)         \
	X(PUT, put, 0x31, PROTO_F_KEY | PROTO_F_VALUE, PROTO_R_EMPTY, PROTO_NEED_WTX)           \
	X(DELETE, delete, 0x32, PROTO_F_KEY, PROTO_R_EMPTY, PROTO_NEED_WTX)                     \
	X(COMMIT, commit, 0x33, 0, PROTO_R_EMPTY, PROTO_NEED_WTX)                               \
	X(ABORT, abort, 0x34, 0, PROTO_R_NONE, PROTO_NEED_WTX)

/* Request fields, in the order they stand in a payload. */
enum proto_field {
	PROTO_F_MAX_FRAME = 1u << 0, /* u32 max_frame */
	PROTO_F_RESERVED = 1u << 1,  /* u32 reserved flags, 0 */
	PROTO_F_TIMEOUT = 1u << 2,   /* i32 timeout_ms */
	PROTO_F_FLAGS = 1u << 3,     /* u32 flags (PROTO_CURSOR_*) */
	PROTO_F_CURSOR = 1u << 4,    /* u32 cursor_id */
	PROTO_F_MAX_PAIRS = 1u << 5, /* u32 max_pairs, >= 1 */
	PROTO_F_KEY = 1u << 6,       /* bytes key */
	PROTO_F_VALUE = 1u << 7,     /* bytes value */
	PROTO_F_START = 1u << 8,     /* bytes start (cursor lower bound or prefix) */
	PROTO_F_END = 1u << 9,       /* bytes end (cursor upper bound) */
};

/* What the daemon answers. */
enum proto_reply_kind {
	PROTO_R_NONE,  /* nothing (the request ends something) */
	PROTO_R_EMPTY, /* OK with an empty payload */
	PROTO_R_HELLO, /* struct proto_hello */
	PROTO_R_STAT,  /* struct ekv_stat */
	PROTO_R_I32,   /* one i32 (COMPACT: 1 work done, 0 none) */
	PROTO_R_VALUE, /* one byte string */
	PROTO_R_BATCH, /* struct proto_batch */
};

/* What must hold on the connection before the request runs. */
enum proto_need {
	PROTO_NEED_NONE,   /* nothing (HELLO; every other request needs HELLO first) */
	PROTO_NEED_NO_TX,  /* no transaction open */
	PROTO_NEED_RTX,    /* a read transaction open */
	PROTO_NEED_WTX,    /* the write transaction open */
	PROTO_NEED_CURSOR, /* cursor_id names an open cursor */
};

/* Frame types: requests below 0x80, replies 0x80 and up. */
#define PROTO_TYPE_ENUM(NAME, lower, type, fields, reply, need) PROTO_##NAME = type,
enum proto_type {
	PROTO_REQUESTS(PROTO_TYPE_ENUM)
	PROTO_OK = 0x80,
	PROTO_ERROR = 0x81,
};
#undef PROTO_TYPE_ENUM
#define PROTO_REQ_LIMIT 0x80 /* request types are below */

struct proto_req_desc {
	const char *name; /* NULL: not a request type */
	uint32_t fields;  /* PROTO_F_* */
	uint8_t reply;    /* PROTO_R_* */
	uint8_t need;     /* PROTO_NEED_* */
};
/* The rows of PROTO_REQUESTS, indexed by type. */
extern const struct proto_req_desc proto_reqs[PROTO_REQ_LIMIT];
/* The row of a request type, or NULL. */
const struct proto_req_desc *proto_req(uint8_t type);

/* HELLO flags */
#define PROTO_HELLO_READ_ONLY 0x1u /* reply: this peer may only read */

/* CURSOR_OPEN flags */
#define PROTO_CURSOR_HAS_START 0x1u
#define PROTO_CURSOR_HAS_END 0x2u
#define PROTO_CURSOR_PREFIX 0x4u /* start is a prefix; no end */

/* Cursor batch status */
#define PROTO_BATCH_MORE 0 /* the cursor has (or may have) more pairs */
#define PROTO_BATCH_END 1  /* the cursor reached its end and is closed */

/* Request id 0 is never used by a client: an ERROR frame with id 0 is the
 * daemon's farewell (shutdown, idle timeout, too many clients). */
#define PROTO_ID_NONE 0u

struct proto_header {
	uint32_t payload_len;
	uint8_t version;
	uint8_t type;
	uint16_t flags;
	uint32_t id;
};

struct proto_bytes {
	const uint8_t *p;
	uint32_t len;
};

/* A decoded request; byte strings point into the frame's payload. */
struct proto_request {
	uint8_t type;
	uint32_t id;
	uint32_t max_frame;  /* HELLO: largest frame the client accepts */
	int32_t timeout_ms;  /* WTX_BEGIN, COMPACT, FORMAT: wait for the writer; <0 forever */
	uint32_t flags;      /* CURSOR_OPEN: PROTO_CURSOR_* */
	uint32_t cursor_id;  /* CURSOR_NEXT, CURSOR_CLOSE */
	uint32_t max_pairs;  /* CURSOR_OPEN, CURSOR_NEXT: batch size wanted (>= 1) */
	struct proto_bytes key, value; /* GET, DELETE: key; PUT: both */
	struct proto_bytes start, end; /* CURSOR_OPEN: bounds (or start = the prefix) */
};

/* HELLO reply */
struct proto_hello {
	uint32_t max_frame; /* largest frame the daemon accepts */
	uint32_t flags;     /* PROTO_HELLO_* */
	struct ekv_profile profile;
	struct proto_bytes database; /* "image:PATH" or "device:DEV" */
	struct proto_bytes name;     /* config section name, or empty */
};

/* Cursor batch reply: header fields, then count pairs to walk with
 * proto_batch_next(). */
struct proto_batch {
	uint32_t cursor_id;
	int32_t status; /* PROTO_BATCH_MORE, PROTO_BATCH_END, or an EKV_E* after the pairs */
	uint32_t count;
	const uint8_t *pairs;
	size_t pairs_len, off;
	uint32_t seen;
};

/* An output buffer of fixed capacity; overflow is sticky and reported by
 * proto_frame_end(), so encoders need not check every append. */
struct proto_writer {
	uint8_t *p;
	size_t cap, len;
	size_t frame_start;
	bool overflow;
};

void proto_writer_init(struct proto_writer *w, uint8_t *buf, size_t cap);
void proto_put_u8(struct proto_writer *w, uint8_t v);
void proto_put_u16(struct proto_writer *w, uint16_t v);
void proto_put_u32(struct proto_writer *w, uint32_t v);
void proto_put_u64(struct proto_writer *w, uint64_t v);
void proto_put_bytes(struct proto_writer *w, const void *p, size_t len); /* u32 length + bytes */
void proto_put_raw(struct proto_writer *w, const void *p, size_t len);
/* Reserve room for `len` raw bytes and return where they go (NULL on overflow). */
uint8_t *proto_reserve(struct proto_writer *w, size_t len);

/* Start a frame at the writer's position; end it (fills payload_len).
 * proto_frame_end returns the frame's size or EKV_ETOOBIG on overflow. */
void proto_frame_begin(struct proto_writer *w, uint8_t type, uint32_t id);
long proto_frame_end(struct proto_writer *w);

/*
 * Decode a frame header.  Returns 0, or EKV_EPROTO with *why set to a
 * static message: wrong version, reserved flags set, unknown type, or a
 * payload longer than max_payload.
 */
int proto_header_decode(const uint8_t *buf, uint32_t max_payload, struct proto_header *h,
			const char **why);

/* Requests: encode (client) and decode (daemon), field by field as their
 * row says.  Decoding checks the payload's exact length and layout, not
 * whether the request fits the connection's state. */
long proto_request_encode(struct proto_writer *w, const struct proto_request *r);
int proto_request_decode(const struct proto_header *h, const uint8_t *payload,
			 struct proto_request *r, const char **why);
/* True for requests that get no reply (PROTO_R_NONE: RTX_END, CURSOR_CLOSE, ABORT). */
bool proto_request_is_void(uint8_t type);

/* Replies (payload only; the caller frames them with PROTO_OK / PROTO_ERROR). */
void proto_error_encode(struct proto_writer *w, int code, const char *msg);
int proto_error_decode(const uint8_t *payload, uint32_t len, int *code, struct proto_bytes *msg);
void proto_hello_encode(struct proto_writer *w, const struct proto_hello *h);
int proto_hello_decode(const uint8_t *payload, uint32_t len, struct proto_hello *h);
void proto_stat_encode(struct proto_writer *w, const struct ekv_stat *st);
int proto_stat_decode(const uint8_t *payload, uint32_t len, struct ekv_stat *st);
/* i32 results (COMPACT) and single byte strings (GET) */
int proto_i32_decode(const uint8_t *payload, uint32_t len, int32_t *v);
int proto_value_decode(const uint8_t *payload, uint32_t len, struct proto_bytes *v);
/* Cursor batches: the daemon writes the head, then pairs, then patches the
 * head with proto_batch_finish(); the client walks them. */
size_t proto_batch_begin(struct proto_writer *w, uint32_t cursor_id);
void proto_batch_finish(struct proto_writer *w, size_t head, int32_t status, uint32_t count);
int proto_batch_decode(const uint8_t *payload, uint32_t len, struct proto_batch *b);
/* 1 and the next pair, 0 after the last, EKV_EPROTO if the pairs are malformed. */
int proto_batch_next(struct proto_batch *b, struct proto_bytes *key, struct proto_bytes *value);


/* Clients and ekvd poll this long (microseconds) for a reply or the next
 * request before sleeping in recv() (net.h). */
#define PROTO_DEFAULT_BUSY_POLL_US 50

#endif
