/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * proto.c — the ekvd wire protocol: frames and payloads, byte by byte as
 * docs/PROTOCOL.md specifies them.  All integers are little-endian; a byte
 * string is a u32 length followed by that many bytes.
 *
 * Owns: encoding into a caller's fixed buffer and strict decoding of
 * untrusted bytes.  Every length read from a frame is checked against the
 * bytes remaining before it is used; a payload must be consumed exactly.
 * Must never: read outside the given buffer, allocate, or do I/O.
 */
#include <string.h>

#include "profile_fields.h"
#include "proto.h"
#include "util.h"

/* ---- writer ---------------------------------------------------------------- */

void proto_writer_init(struct proto_writer *w, uint8_t *buf, size_t cap)
{
	w->p = buf;
	w->cap = cap;
	w->len = 0;
	w->frame_start = 0;
	w->overflow = false;
}

uint8_t *proto_reserve(struct proto_writer *w, size_t len)
{
	if (w->overflow || len > w->cap - w->len) {
		w->overflow = true;
		return NULL;
	}
	uint8_t *at = w->p + w->len;
	w->len += len;
	return at;
}

void proto_put_raw(struct proto_writer *w, const void *p, size_t len)
{
	uint8_t *at = proto_reserve(w, len);
	if (at && len)
		memcpy(at, p, len);
}

void proto_put_u8(struct proto_writer *w, uint8_t v)
{
	proto_put_raw(w, &v, 1);
}

void proto_put_u16(struct proto_writer *w, uint16_t v)
{
	uint8_t *at = proto_reserve(w, 2);
	if (at)
		put_le16(at, v);
}

void proto_put_u32(struct proto_writer *w, uint32_t v)
{
	uint8_t *at = proto_reserve(w, 4);
	if (at)
		put_le32(at, v);
}

void proto_put_u64(struct proto_writer *w, uint64_t v)
{
	proto_put_u32(w, (uint32_t)v);
	proto_put_u32(w, (uint32_t)(v >> 32));
}

void proto_put_bytes(struct proto_writer *w, const void *p, size_t len)
{
	if (len > UINT32_MAX) {
		w->overflow = true;
		return;
	}
	proto_put_u32(w, (uint32_t)len);
	proto_put_raw(w, p, len);
}

void proto_frame_begin(struct proto_writer *w, uint8_t type, uint32_t id)
{
	w->frame_start = w->len;
	uint8_t *h = proto_reserve(w, PROTO_HEADER_SIZE);
	if (!h)
		return;
	put_le32(h, 0);
	h[4] = PROTO_VERSION;
	h[5] = type;
	put_le16(h + 6, 0);
	put_le32(h + 8, id);
}

long proto_frame_end(struct proto_writer *w)
{
	if (w->overflow)
		return EKV_ETOOBIG;
	size_t n = w->len - w->frame_start;
	put_le32(w->p + w->frame_start, (uint32_t)(n - PROTO_HEADER_SIZE));
	return (long)n;
}

/* ---- reader ---------------------------------------------------------------- */

struct reader {
	const uint8_t *p;
	size_t len, off;
	bool bad;
};

static void reader_init(struct reader *r, const uint8_t *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
	r->bad = false;
}

static const uint8_t *take(struct reader *r, size_t n)
{
	if (r->bad || n > r->len - r->off) {
		r->bad = true;
		return NULL;
	}
	const uint8_t *at = r->p + r->off;
	r->off += n;
	return at;
}

static uint32_t get_u32(struct reader *r)
{
	const uint8_t *b = take(r, 4);
	return b ? get_le32(b) : 0;
}

static uint64_t get_u64(struct reader *r)
{
	uint64_t lo = get_u32(r);
	return lo | (uint64_t)get_u32(r) << 32;
}

static uint8_t get_u8(struct reader *r)
{
	const uint8_t *b = take(r, 1);
	return b ? b[0] : 0;
}

static struct proto_bytes get_bytes(struct reader *r)
{
	struct proto_bytes b = {NULL, 0};
	uint32_t n = get_u32(r);
	const uint8_t *p = take(r, n);
	if (p) {
		b.p = p;
		b.len = n;
	}
	return b;
}

/* The payload must have been consumed exactly, with nothing malformed. */
static int reader_done(const struct reader *r)
{
	return r->bad || r->off != r->len ? EKV_EPROTO : 0;
}

/* ---- header ---------------------------------------------------------------- */

#define PROTO_REQ_ROW(NAME, lower, type, fields_, reply_, need_) \
	[PROTO_##NAME] = {.name = #NAME, .fields = (fields_), .reply = (reply_), .need = (need_)},
const struct proto_req_desc proto_reqs[PROTO_REQ_LIMIT] = {PROTO_REQUESTS(PROTO_REQ_ROW)};
#undef PROTO_REQ_ROW

const struct proto_req_desc *proto_req(uint8_t type)
{
	return type < PROTO_REQ_LIMIT && proto_reqs[type].name ? &proto_reqs[type] : NULL;
}

static bool known_type(uint8_t t)
{
	return proto_req(t) || t == PROTO_OK || t == PROTO_ERROR;
}

int proto_header_decode(const uint8_t *buf, uint32_t max_payload, struct proto_header *h,
			const char **why)
{
	static const char *unused;
	if (!why)
		why = &unused;
	h->payload_len = get_le32(buf);
	h->version = buf[4];
	h->type = buf[5];
	h->flags = (uint16_t)(buf[6] | buf[7] << 8);
	h->id = get_le32(buf + 8);
	if (h->version != PROTO_VERSION) {
		*why = "unsupported protocol version";
		return EKV_EPROTO;
	}
	if (h->flags) {
		*why = "reserved header flags set";
		return EKV_EPROTO;
	}
	if (!known_type(h->type)) {
		*why = "unknown frame type";
		return EKV_EPROTO;
	}
	if (h->payload_len > max_payload) {
		*why = "frame larger than the size limit";
		return EKV_EPROTO;
	}
	return 0;
}

/* ---- requests -------------------------------------------------------------- */

bool proto_request_is_void(uint8_t type)
{
	const struct proto_req_desc *d = proto_req(type);
	return d && d->reply == PROTO_R_NONE;
}

/* Every request field in wire order: a u32 (or i32) member, a reserved u32
 * that must be 0 (no member), or a byte string. */
#define NO_MEMBER SIZE_MAX
static const struct field {
	uint32_t bit;
	bool bytes;
	size_t off; /* of the member in struct proto_request */
} fields[] = {
	{PROTO_F_MAX_FRAME, false, offsetof(struct proto_request, max_frame)},
	{PROTO_F_RESERVED, false, NO_MEMBER},
	{PROTO_F_TIMEOUT, false, offsetof(struct proto_request, timeout_ms)},
	{PROTO_F_FLAGS, false, offsetof(struct proto_request, flags)},
	{PROTO_F_CURSOR, false, offsetof(struct proto_request, cursor_id)},
	{PROTO_F_MAX_PAIRS, false, offsetof(struct proto_request, max_pairs)},
	{PROTO_F_KEY, true, offsetof(struct proto_request, key)},
	{PROTO_F_VALUE, true, offsetof(struct proto_request, value)},
	{PROTO_F_START, true, offsetof(struct proto_request, start)},
	{PROTO_F_END, true, offsetof(struct proto_request, end)},
};
#define N_FIELDS (sizeof(fields) / sizeof(fields[0]))

long proto_request_encode(struct proto_writer *w, const struct proto_request *r)
{
	const struct proto_req_desc *d = proto_req(r->type);
	if (!d)
		return EKV_EINVAL;
	proto_frame_begin(w, r->type, r->id);
	for (size_t i = 0; i < N_FIELDS; i++) {
		const struct field *fd = &fields[i];
		if (!(d->fields & fd->bit))
			continue;
		if (fd->bytes) {
			struct proto_bytes b;
			memcpy(&b, (const char *)r + fd->off, sizeof(b));
			proto_put_bytes(w, b.p, b.len);
		} else {
			uint32_t v = 0; /* (an i32 member is stored as its u32 bits) */
			if (fd->off != NO_MEMBER)
				memcpy(&v, (const char *)r + fd->off, sizeof(v));
			proto_put_u32(w, v);
		}
	}
	return proto_frame_end(w);
}

/* CURSOR_OPEN's flags against its bounds. */
static bool cursor_flags_consistent(const struct proto_request *r)
{
	const uint32_t known = PROTO_CURSOR_HAS_START | PROTO_CURSOR_HAS_END | PROTO_CURSOR_PREFIX;
	if (r->flags & ~known)
		return false;
	if ((r->flags & PROTO_CURSOR_PREFIX) &&
	    (r->flags & PROTO_CURSOR_HAS_END || !(r->flags & PROTO_CURSOR_HAS_START)))
		return false;
	return !(!(r->flags & PROTO_CURSOR_HAS_START) && r->start.len) &&
	       !(!(r->flags & PROTO_CURSOR_HAS_END) && r->end.len);
}

int proto_request_decode(const struct proto_header *h, const uint8_t *payload,
			 struct proto_request *r, const char **why)
{
	static const char *unused;
	if (!why)
		why = &unused;
	memset(r, 0, sizeof(*r));
	r->type = h->type;
	r->id = h->id;
	if (h->id == PROTO_ID_NONE) {
		*why = "request id 0 is reserved";
		return EKV_EPROTO;
	}
	const struct proto_req_desc *d = proto_req(h->type);
	if (!d) {
		*why = "not a request";
		return EKV_EPROTO;
	}
	struct reader rd;
	reader_init(&rd, payload, h->payload_len);
	*why = "malformed payload";
	uint32_t f = d->fields;
	bool reserved_set = false;
	for (size_t i = 0; i < N_FIELDS; i++) {
		const struct field *fd = &fields[i];
		if (!(f & fd->bit))
			continue;
		if (fd->bytes) {
			struct proto_bytes b = get_bytes(&rd);
			memcpy((char *)r + fd->off, &b, sizeof(b));
		} else {
			uint32_t v = get_u32(&rd);
			if (fd->off != NO_MEMBER)
				memcpy((char *)r + fd->off, &v, sizeof(v));
			else if (v)
				reserved_set = true;
		}
	}
	if (reserved_set) {
		*why = "reserved HELLO flags set"; /* HELLO's is the only reserved field */
		return EKV_EPROTO;
	}
	if (!rd.bad && (f & PROTO_F_FLAGS) && !cursor_flags_consistent(r)) {
		*why = "inconsistent cursor flags";
		return EKV_EPROTO;
	}
	if (!rd.bad && (f & PROTO_F_MAX_PAIRS) && r->max_pairs == 0) {
		*why = "cursor batch of 0 pairs";
		return EKV_EPROTO;
	}
	return reader_done(&rd);
}

/* ---- replies --------------------------------------------------------------- */

void proto_error_encode(struct proto_writer *w, int code, const char *msg)
{
	size_t n = msg ? strlen(msg) : 0;
	if (n > PROTO_MAX_TEXT)
		n = PROTO_MAX_TEXT;
	proto_put_u32(w, (uint32_t)code);
	proto_put_bytes(w, msg, n);
}

int proto_error_decode(const uint8_t *payload, uint32_t len, int *code, struct proto_bytes *msg)
{
	struct reader rd;
	reader_init(&rd, payload, len);
	int32_t c = (int32_t)get_u32(&rd);
	struct proto_bytes m = get_bytes(&rd);
	/* an error is negative; anything else would read as success */
	if (reader_done(&rd) < 0 || c >= 0 || c < -4095 || m.len > PROTO_MAX_TEXT)
		return EKV_EPROTO;
	*code = c;
	if (msg)
		*msg = m;
	return 0;
}

/* The profile travels as one u32 per field of profile_fields.h, in table
 * order (PROTOCOL.md §6). */
void proto_hello_encode(struct proto_writer *w, const struct proto_hello *h)
{
	proto_put_u32(w, h->max_frame);
	proto_put_u32(w, h->flags);
	for (int i = 0; i < EKV_PF_COUNT; i++)
		proto_put_u32(w, ekv_pf_get(&h->profile, (enum ekv_pf_id)i));
	proto_put_bytes(w, h->database.p, h->database.len);
	proto_put_bytes(w, h->name.p, h->name.len);
}

int proto_hello_decode(const uint8_t *payload, uint32_t len, struct proto_hello *h)
{
	struct reader rd;
	reader_init(&rd, payload, len);
	memset(h, 0, sizeof(*h));
	h->max_frame = get_u32(&rd);
	h->flags = get_u32(&rd);
	uint32_t field[EKV_PF_COUNT];
	bool fits = true;
	for (int i = 0; i < EKV_PF_COUNT; i++) {
		field[i] = get_u32(&rd);
		fits &= field[i] <= ekv_pf_kind_max(ekv_pf_table[i].kind);
	}
	h->database = get_bytes(&rd);
	h->name = get_bytes(&rd);
	if (reader_done(&rd) < 0 || !fits || h->max_frame < PROTO_MIN_MAX_FRAME ||
	    h->max_frame > PROTO_HARD_MAX_FRAME || h->database.len > PROTO_MAX_TEXT ||
	    h->name.len > PROTO_MAX_TEXT)
		return EKV_EPROTO;
	for (int i = 0; i < EKV_PF_COUNT; i++)
		ekv_pf_set(&h->profile, (enum ekv_pf_id)i, field[i]);
	return 0;
}

#define STAT_FILES 64 /* entries of the file arrays in struct ekv_stat */

void proto_stat_encode(struct proto_writer *w, const struct ekv_stat *st)
{
	uint32_t n = st->file_count < STAT_FILES ? st->file_count : STAT_FILES;
	proto_put_u32(w, st->page_count);
	proto_put_u32(w, st->pages_used);
	proto_put_u32(w, st->pages_free);
	proto_put_u32(w, st->pages_pinned);
	proto_put_u32(w, st->meta_page);
	proto_put_u32(w, st->meta_seq);
	proto_put_u64(w, st->generation);
	proto_put_u32(w, n);
	for (uint32_t i = 0; i < n; i++) {
		proto_put_u32(w, st->file_pages[i]);
		proto_put_u64(w, st->file_bytes[i]);
		proto_put_u8(w, st->file_flags[i]);
	}
	/* version 1.1: what mount recovered from (PROTOCOL.md §6) */
	proto_put_u8(w, st->damaged);
	proto_put_u32(w, st->damaged_meta_page);
	proto_put_u32(w, st->damaged_meta_seq);
	proto_put_u32(w, st->lost_commits);
	proto_put_u32(w, st->lost_files);
}

int proto_stat_decode(const uint8_t *payload, uint32_t len, struct ekv_stat *st)
{
	struct reader rd;
	reader_init(&rd, payload, len);
	memset(st, 0, sizeof(*st));
	st->page_count = get_u32(&rd);
	st->pages_used = get_u32(&rd);
	st->pages_free = get_u32(&rd);
	st->pages_pinned = get_u32(&rd);
	st->meta_page = get_u32(&rd);
	st->meta_seq = get_u32(&rd);
	st->generation = get_u64(&rd);
	st->file_count = get_u32(&rd);
	if (st->file_count > STAT_FILES)
		return EKV_EPROTO;
	for (uint32_t i = 0; i < st->file_count; i++) {
		st->file_pages[i] = get_u32(&rd);
		st->file_bytes[i] = get_u64(&rd);
		st->file_flags[i] = get_u8(&rd);
	}
	if (rd.off < rd.len) { /* a 1.1 daemon: the recovery fields */
		st->damaged = get_u8(&rd) != 0;
		st->damaged_meta_page = get_u32(&rd);
		st->damaged_meta_seq = get_u32(&rd);
		st->lost_commits = get_u32(&rd);
		st->lost_files = get_u32(&rd);
	}
	return reader_done(&rd);
}

int proto_i32_decode(const uint8_t *payload, uint32_t len, int32_t *v)
{
	struct reader rd;
	reader_init(&rd, payload, len);
	*v = (int32_t)get_u32(&rd);
	return reader_done(&rd);
}

int proto_value_decode(const uint8_t *payload, uint32_t len, struct proto_bytes *v)
{
	struct reader rd;
	reader_init(&rd, payload, len);
	*v = get_bytes(&rd);
	return reader_done(&rd);
}

size_t proto_batch_begin(struct proto_writer *w, uint32_t cursor_id)
{
	size_t head = w->len;
	proto_put_u32(w, cursor_id);
	proto_put_u32(w, 0); /* status, patched */
	proto_put_u32(w, 0); /* count, patched */
	return head;
}

void proto_batch_finish(struct proto_writer *w, size_t head, int32_t status, uint32_t count)
{
	if (w->overflow)
		return;
	put_le32(w->p + head + 4, (uint32_t)status);
	put_le32(w->p + head + 8, count);
}

int proto_batch_decode(const uint8_t *payload, uint32_t len, struct proto_batch *b)
{
	struct reader rd;
	reader_init(&rd, payload, len);
	memset(b, 0, sizeof(*b));
	b->cursor_id = get_u32(&rd);
	b->status = (int32_t)get_u32(&rd);
	b->count = get_u32(&rd);
	if (rd.bad || (b->status != PROTO_BATCH_MORE && b->status != PROTO_BATCH_END &&
		       (b->status >= 0 || b->status < -4095)))
		return EKV_EPROTO;
	b->pairs = rd.p + rd.off;
	b->pairs_len = rd.len - rd.off;
	/* walk every pair now, so that proto_batch_next() cannot fail later;
	 * each pair takes at least 8 bytes, which bounds the loop */
	if (b->count > b->pairs_len / PROTO_PAIR_OVERHEAD)
		return EKV_EPROTO;
	for (uint32_t i = 0; i < b->count; i++) {
		get_bytes(&rd);
		get_bytes(&rd);
	}
	return reader_done(&rd);
}

int proto_batch_next(struct proto_batch *b, struct proto_bytes *key, struct proto_bytes *value)
{
	if (b->seen >= b->count)
		return 0;
	struct reader rd;
	reader_init(&rd, b->pairs, b->pairs_len);
	rd.off = b->off;
	*key = get_bytes(&rd);
	*value = get_bytes(&rd);
	if (rd.bad)
		return EKV_EPROTO;
	b->off = rd.off;
	b->seen++;
	return 1;
}
