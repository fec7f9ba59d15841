/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * powercut.c — the power-cut sweep (docs/DESIGN.md §2): proves that cutting power at
 * any program or erase operation never loses or half-applies a transaction.
 *
 * How it works
 *   1. Record.  Each workload runs once on a recording RAM flash: every
 *      program (with its bytes) and erase after a setup phase goes to an op
 *      log, and after each step (a write transaction or an explicit
 *      compaction step) the number of ops done so far is noted together with
 *      a hash of the model state the step leaves behind.
 *   2. Replay.  For every op k of the log ("cut point") and several variants
 *      (op k not applied at all; op k torn: a programmed prefix plus a random
 *      subset of the remaining bit changes, or a random subset of an erase's
 *      bits, after an optionally fully erased prefix) the image "initial +
 *      ops[0..k) + torn op k" is built on a copy-on-write overlay flash and
 *      checked:
 *        1. ekv_mount succeeds (never Corrupted, never an empty database) and
 *           reports no damage (a torn write is not damage);
 *        2./3. a full cursor scan equals the state after the last
 *           acknowledged step, or after the step in flight (all or nothing:
 *           a multi-key transaction is never half there); a point lookup
 *           agrees with the scan;
 *        4. recovery writes (two transactions, two compaction steps) on the
 *           recovered image, with a second power cut after a random number
 *           of ops; after a remount the same all-or-nothing rule holds;
 *        5. afterwards a new multi-key transaction and up to three
 *           compaction steps succeed and leave exactly the expected state.
 *   States are compared by an order-independent 64-bit hash of the (key,
 *   value) pairs; the scan also checks that keys come in ascending order.
 *
 * Schedule: a pass cuts every op of every workload: critical ops (erases,
 * headers, programs into meta pages) four times, the others once (see
 * job_cuts); passes 0 and 1 together cut every op clean and torn, later
 * passes add torn variants with new random choices.  The default set is
 * DEFAULT_PASSES passes; --cuts N runs exactly the first N cuts of that
 * (unbounded) schedule; --budget S stops after S seconds.  Workers take jobs
 * (pass, slice of the log, workload) in schedule order, a slice being every
 * n-th op of the log with n chosen per workload for jobs of about JOB_CUTS
 * cuts, so a time-limited run covers every workload and the whole log
 * before it repeats any, even on a slow target.
 *
 * Output: one line per workload (its cuts and second cuts), how many
 * workloads got cuts, then exactly "powercut: N cuts, V violations"
 * (N = simulated power cuts of recorded images; second cuts during recovery
 * are reported per workload).  Exit status 0 iff V == 0 (and, with
 * --every-workload, every selected workload got a cut).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ekv.h"
#include "rng.h" /* tests/support: rng_u64 */

#define DEFAULT_PASSES 24
#define MAX_REPORTED 40

/* ---- small helpers --------------------------------------------------------- */

static uint64_t mix3(uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t s = a * 0x9e3779b97f4a7c15ull ^ b * 0xc2b2ae3d27d4eb4full ^ c;
	rng_u64(&s);
	return rng_u64(&s);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		fprintf(stderr, "powercut: out of memory\n");
		exit(2);
	}
	return p;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t hash_bytes(uint64_t h, const uint8_t *p, size_t n)
{
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		h = (h ^ w) * 0x100000001b3ull;
		h ^= h >> 29;
		p += 8;
		n -= 8;
	}
	while (n--) {
		h = (h ^ *p++) * 0x100000001b3ull;
	}
	return h;
}

/* Hash of one (key, value) pair; a state is the sum over its pairs, so
 * adding, replacing and removing pairs is cheap. */
static uint64_t pair_hash(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
	uint64_t h = hash_bytes(0xcbf29ce484222325ull ^ kl, k, kl);
	h = hash_bytes(h ^ (vl * 0x9e3779b97f4a7c15ull), v, vl);
	uint64_t s = h;
	return rng_u64(&s) | 1; /* never 0: a pair always changes the sum */
}

static void fill_value(uint8_t *v, size_t n, uint64_t seed)
{
	uint64_t s = seed;
	for (size_t i = 0; i < n; i += 8) {
		uint64_t r = rng_u64(&s);
		memcpy(v + i, &r, n - i < 8 ? n - i : 8);
	}
}

/* ---- workloads --------------------------------------------------------------- */

struct spec {
	const char *name;
	uint32_t page_size, page_count, align;
	uint8_t erase_value;
	bool crc;
	uint32_t max_value;
	uint32_t keys;          /* size of the key pool */
	uint32_t setup_steps;   /* run before recording starts */
	uint32_t steps;         /* recorded steps */
	uint32_t max_tx_keys;   /* keys per transaction: 1..max_tx_keys */
	uint32_t small_max;     /* most values are 0..small_max bytes */
	uint32_t large_pct;     /* the rest (this %) are up to max_value */
	uint32_t del_pct;       /* % of writes that are deletes */
	uint32_t compact_every; /* an explicit compaction step every n steps */
	bool empty_key;         /* key 0 is the empty key */
	bool may_fill;          /* ENOSPC is an expected outcome (nearly full flash) */
	uint64_t seed;
};

/*
 * The workloads: every profile the issue names, small and large values,
 * multi-key transactions, deletes, overwrites forcing meta rollovers and
 * compactions, and a nearly full flash.
 */
static const struct spec specs[] = {
	{"default-mixed", 4096, 256, 4, 0xff, false, 1024, 300, 150, 260, 4, 48, 10, 15, 40,
	 true, false, 1},
	{"default-crc", 4096, 256, 4, 0xff, true, 1024, 200, 100, 200, 4, 64, 8, 15, 50, false,
	 false, 2},
	{"default-large", 4096, 128, 4, 0xff, false, 1024, 60, 40, 90, 3, 900, 60, 10, 0, false,
	 false, 3},
	{"small-a1", 256, 64, 1, 0xff, false, 128, 48, 30, 300, 3, 24, 10, 20, 30, true, false,
	 4},
	{"small-a1-crc", 256, 64, 1, 0xff, true, 128, 40, 30, 260, 3, 24, 10, 20, 30, false,
	 false, 5},
	{"erase00", 4096, 64, 4, 0x00, false, 1024, 120, 60, 200, 4, 48, 10, 15, 40, true, false,
	 6},
	{"erase00-small-crc", 256, 64, 2, 0x00, true, 128, 40, 30, 260, 3, 24, 10, 20, 30, false,
	 false, 7},
	{"erase00-small", 256, 64, 1, 0x00, false, 128, 40, 30, 260, 3, 24, 10, 20, 0, false,
	 false, 8},
	{"nearly-full", 4096, 32, 4, 0xff, false, 1024, 132, 110, 70, 2, 900, 70, 10, 0, false,
	 true, 9},
	{"nearly-full-small", 256, 64, 1, 0xff, true, 128, 160, 200, 60, 2, 100, 30, 10, 0,
	 false, true, 10},
};
#define N_SPECS (sizeof(specs) / sizeof(specs[0]))

enum { OP_PROG = 1, OP_ERASE = 2 };

struct op {
	uint8_t kind;
	bool critical; /* an erase, a header, or a program into a meta page */
	uint32_t page, off, len;
	size_t data; /* offset in the arena (programs) */
};

struct workload {
	const struct spec *s;
	struct ekv_profile p;
	size_t img_size;
	uint8_t *init; /* image when recording started */
	struct op *ops;
	size_t n_ops, cap_ops;
	uint8_t *arena;
	size_t n_arena, cap_arena;
	/* step j (0-based) returned after ack[j] ops; state[j] is the state hash
	 * before step j, state[n_steps] the final one */
	size_t n_steps;
	size_t *ack;
	uint64_t *state;
	uint32_t programs, erases, rollovers, enospc, compactions, critical;
	uint32_t header_end; /* page header + the larger of meta and data header */
	uint32_t slices;     /* the schedule's stride over the log (job_slices) */
	/* results */
	atomic_uint_fast64_t cuts, second_cuts, violations;
	bool bad; /* the recording itself failed */
};

static struct workload *workloads;

/* ---- recording flash --------------------------------------------------------- */

struct recflash {
	struct ekv_flash fl;
	struct workload *w;
	uint8_t *img;
	bool on;
};

static int rec_read(void *ctx, uint32_t page, uint32_t off, void *buf, uint32_t len)
{
	struct recflash *r = ctx;
	memcpy(buf, r->img + (size_t)page * r->fl.page_size + off, len);
	return 0;
}

static void program(uint8_t *dst, const uint8_t *src, uint32_t len, uint8_t ev)
{
	if (ev == 0xff)
		for (uint32_t i = 0; i < len; i++)
			dst[i] &= src[i];
	else
		for (uint32_t i = 0; i < len; i++)
			dst[i] |= src[i];
}

static void log_op(struct workload *w, const uint8_t *pg, uint8_t kind, uint32_t page,
		   uint32_t off, const uint8_t *data, uint32_t len)
{
	if (w->n_ops == w->cap_ops) {
		w->cap_ops = w->cap_ops ? 2 * w->cap_ops : 4096;
		w->ops = realloc(w->ops, w->cap_ops * sizeof(*w->ops));
		if (!w->ops)
			exit(2);
	}
	struct op *o = &w->ops[w->n_ops++];
	/* pg: the page before the op; a meta page starts with its magic and id */
	bool meta = pg[0] == 0xde && pg[1] == 0xbc && pg[2] == 0x81 && pg[3] == 0x1d &&
		    pg[4] == (uint8_t)page && pg[5] == (uint8_t)(page >> 8);
	*o = (struct op){kind, kind == OP_ERASE || off < w->header_end || meta, page, off, len,
			 w->n_arena};
	w->critical += o->critical;
	if (kind == OP_PROG) {
		if (w->n_arena + len > w->cap_arena) {
			w->cap_arena = (w->cap_arena + len) * 2;
			w->arena = realloc(w->arena, w->cap_arena);
			if (!w->arena)
				exit(2);
		}
		memcpy(w->arena + w->n_arena, data, len);
		w->n_arena += len;
		w->programs++;
		/* the second write of a meta page header (magic, page id) */
		if (off == 0 && len == 8 && data[0] == 0xde && data[1] == 0xbc && data[2] == 0x81 &&
		    data[3] == 0x1d)
			w->rollovers++;
	} else {
		w->erases++;
	}
}

static int rec_write(void *ctx, uint32_t page, uint32_t off, const void *buf, uint32_t len)
{
	struct recflash *r = ctx;
	uint8_t *pg = r->img + (size_t)page * r->fl.page_size;
	if (r->on)
		log_op(r->w, pg, OP_PROG, page, off, buf, len);
	program(pg + off, buf, len, r->fl.erase_value);
	return 0;
}

static int rec_erase(void *ctx, uint32_t page)
{
	struct recflash *r = ctx;
	uint8_t *pg = r->img + (size_t)page * r->fl.page_size;
	if (r->on)
		log_op(r->w, pg, OP_ERASE, page, 0, NULL, 0);
	memset(pg, r->fl.erase_value, r->fl.page_size);
	return 0;
}

static const struct ekv_flash_ops rec_ops = {
	.read = rec_read,
	.write = rec_write,
	.erase = rec_erase,
};

/* ---- the model of a workload --------------------------------------------------- */

struct model {
	uint32_t n;
	bool *present;
	uint32_t *vlen;
	uint8_t **v;
	uint64_t hash;
};

static uint32_t key_of(const struct spec *s, uint32_t id, uint8_t *k)
{
	if (id == 0 && s->empty_key)
		return 0;
	/* two big-endian id bytes keep the byte order of keys = the id order
	 * (the first byte stays below 0xff: recovery keys start with 0xff) */
	k[0] = (uint8_t)(id >> 8);
	k[1] = (uint8_t)id;
	uint64_t r = mix3(s->seed, id, 77);
	uint32_t len = 2 + (uint32_t)(r % 14);
	if (id % 11 == 5)
		len = 64; /* the largest key */
	for (uint32_t i = 2; i < len; i++)
		k[i] = (uint8_t)(r >> (8 * (i % 8))) ^ (uint8_t)i;
	return len;
}

/* ---- scanning a database ---------------------------------------------------------- */

struct scanbuf {
	uint8_t key[1100], prev[1100], probe_key[1100];
	uint8_t *val, *probe_val, *get_val;
	size_t vcap;
};

struct scan {
	uint64_t hash;
	uint32_t count;
};

/* Full cursor scan: hash and count of every pair, keys strictly ascending,
 * and one point lookup (pair number `probe`) that must agree with the scan. */
static int scan_db(ekv_db *db, struct scanbuf *b, uint32_t probe, struct scan *out, char *why,
		   size_t why_size)
{
	ekv_rtx *rtx;
	ekv_cursor *c;
	out->hash = 0;
	out->count = 0;
	int e = ekv_rtx_begin(db, &rtx);
	if (e < 0) {
		snprintf(why, why_size, "read transaction: %s", ekv_strerror(e));
		return -1;
	}
	e = ekv_cursor_open(rtx, NULL, 0, NULL, 0, &c);
	if (e < 0) {
		snprintf(why, why_size, "cursor open: %s", ekv_strerror(e));
		ekv_rtx_end(rtx);
		return -1;
	}
	size_t kl, vl, pl = 0, probe_kl = 0, probe_vl = 0;
	bool have_probe = false;
	while ((e = ekv_cursor_next(c, b->key, sizeof(b->key), &kl, b->val, b->vcap, &vl)) == 1) {
		if (out->count > 0) {
			size_t n = kl < pl ? kl : pl;
			int cmp = n ? memcmp(b->prev, b->key, n) : 0;
			if (cmp > 0 || (cmp == 0 && pl >= kl)) {
				snprintf(why, why_size, "cursor keys out of order at pair %u",
					 out->count);
				e = -1;
				break;
			}
		}
		memcpy(b->prev, b->key, kl);
		pl = kl;
		out->hash += pair_hash(b->key, kl, b->val, vl);
		if (out->count == probe) {
			memcpy(b->probe_key, b->key, kl);
			memcpy(b->probe_val, b->val, vl);
			probe_kl = kl;
			probe_vl = vl;
			have_probe = true;
		}
		out->count++;
	}
	ekv_cursor_close(c);
	if (e < 0) {
		if (e != -1)
			snprintf(why, why_size, "cursor next after %u pairs: %s", out->count,
				 ekv_strerror(e));
		ekv_rtx_end(rtx);
		return -1;
	}
	if (have_probe) {
		size_t gl = 0;
		e = ekv_rtx_get(rtx, b->probe_key, probe_kl, b->get_val, b->vcap, &gl);
		if (e < 0 || gl != probe_vl || memcmp(b->get_val, b->probe_val, gl) != 0) {
			snprintf(why, why_size, "get of scanned key #%u: %s", probe,
				 e < 0 ? ekv_strerror(e) : "value differs from the scan");
			ekv_rtx_end(rtx);
			return -1;
		}
	}
	ekv_rtx_end(rtx);
	return 0;
}

static void scanbuf_init(struct scanbuf *b, uint32_t max_value)
{
	b->vcap = max_value + 16;
	b->val = xmalloc(b->vcap);
	b->probe_val = xmalloc(b->vcap);
	b->get_val = xmalloc(b->vcap);
}

static void scanbuf_free(struct scanbuf *b)
{
	free(b->val);
	free(b->probe_val);
	free(b->get_val);
}

/* ---- recording a workload ---------------------------------------------------------- */

static void set_profile(const struct spec *s, struct ekv_profile *p)
{
	ekv_profile_default(p);
	p->layout = 1; /* the Rust crate's layout */
	p->page_size = s->page_size;
	p->page_count = s->page_count;
	p->max_page_count = s->page_count > 256 ? s->page_count : (s->page_size < 1024 ? 64 : 256);
	if (p->max_page_count < p->page_count)
		p->max_page_count = p->page_count;
	p->align = s->align;
	p->erase_value = s->erase_value;
	p->crc = s->crc;
	p->max_value_size = s->max_value;
}

static void model_set(struct model *m, const struct spec *s, uint32_t id, const uint8_t *v,
		      uint32_t vl)
{
	uint8_t k[80];
	uint32_t kl = key_of(s, id, k);
	if (m->present[id])
		m->hash -= pair_hash(k, kl, m->v[id], m->vlen[id]);
	m->present[id] = v != NULL;
	if (v) {
		memcpy(m->v[id], v, vl);
		m->vlen[id] = vl;
		m->hash += pair_hash(k, kl, v, vl);
	}
}

/* One step of a workload: a write transaction, or (every compact_every
 * steps) an explicit compaction step.  Returns 0 if it took effect. */
static int run_step(ekv_db *db, const struct spec *s, struct model *m, uint64_t *rng,
		    uint32_t step, uint8_t *vbuf, bool *compact, uint32_t *enospc)
{
	*compact = s->compact_every && step % s->compact_every == s->compact_every - 1;
	if (*compact) {
		int e = ekv_compact(db);
		return e < 0 ? e : 0;
	}
	uint32_t nk = 1 + (uint32_t)(rng_u64(rng) % s->max_tx_keys);
	uint32_t ids[8];
	uint32_t n = 0;
	while (n < nk) {
		uint32_t id = (uint32_t)(rng_u64(rng) % s->keys);
		bool dup = false;
		for (uint32_t i = 0; i < n; i++)
			dup |= ids[i] == id;
		if (!dup)
			ids[n++] = id;
	}
	for (uint32_t i = 1; i < n; i++) /* ascending key order */
		for (uint32_t j = i; j > 0 && ids[j - 1] > ids[j]; j--) {
			uint32_t t = ids[j];
			ids[j] = ids[j - 1];
			ids[j - 1] = t;
		}
	struct {
		bool del;
		uint32_t vl;
		uint64_t seed;
	} w[8];
	ekv_wtx *tx;
	int e = ekv_wtx_begin(db, &tx);
	if (e < 0)
		return e;
	for (uint32_t i = 0; i < n && e == 0; i++) {
		uint8_t k[80];
		uint32_t kl = key_of(s, ids[i], k);
		w[i].del = rng_u64(rng) % 100 < s->del_pct;
		w[i].seed = rng_u64(rng);
		if (rng_u64(rng) % 100 < s->large_pct)
			w[i].vl = s->small_max + 1 +
				  (uint32_t)(rng_u64(rng) % (s->max_value - s->small_max));
		else
			w[i].vl = (uint32_t)(rng_u64(rng) % (s->small_max + 1));
		if (w[i].del) {
			e = ekv_wtx_delete(tx, k, kl);
		} else {
			fill_value(vbuf, w[i].vl, w[i].seed);
			e = ekv_wtx_put(tx, k, kl, vbuf, w[i].vl);
		}
	}
	if (e < 0) {
		ekv_wtx_abort(tx);
	} else {
		e = ekv_wtx_commit(tx);
	}
	if (e == EKV_ENOSPC || (e == EKV_ECANCELED)) {
		(*enospc)++;
		return s->may_fill ? 1 : e;
	}
	if (e < 0)
		return e;
	for (uint32_t i = 0; i < n; i++) {
		if (w[i].del) {
			model_set(m, s, ids[i], NULL, 0);
		} else {
			fill_value(vbuf, w[i].vl, w[i].seed);
			model_set(m, s, ids[i], vbuf, w[i].vl);
		}
	}
	return 0;
}

static void record_workload(struct workload *w, const struct spec *s)
{
	memset(w, 0, sizeof(*w));
	w->s = s;
	set_profile(s, &w->p);
	char msg[200];
	if (ekv_profile_check(&w->p, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "powercut: workload %s: bad profile: %s\n", s->name, msg);
		w->bad = true;
		return;
	}
	w->img_size = (size_t)s->page_size * s->page_count;
	struct ekv_geometry geo;
	ekv_profile_geometry(&w->p, &geo);
	w->header_end = geo.page_header_size + (geo.meta_header_size > geo.data_header_size
							? geo.meta_header_size
							: geo.data_header_size);
	struct recflash rf = {
		.fl = {.ops = &rec_ops, .page_size = s->page_size, .page_count = s->page_count,
		       .write_size = 1, .erase_value = s->erase_value},
		.w = w,
		.img = xmalloc(w->img_size),
	};
	rf.fl.ctx = &rf;
	memset(rf.img, s->erase_value, w->img_size);
	struct model m = {.n = s->keys};
	m.present = calloc(s->keys, sizeof(bool));
	m.vlen = calloc(s->keys, sizeof(uint32_t));
	m.v = calloc(s->keys, sizeof(uint8_t *));
	for (uint32_t i = 0; i < s->keys; i++)
		m.v[i] = xmalloc(s->max_value);
	uint8_t *vbuf = xmalloc(s->max_value + 8);
	struct ekv_options o;
	ekv_options_default(&o);
	o.seed = (uint32_t)s->seed * 2654435761u;
	o.seed_set = true;
	ekv_db *db;
	int e = ekv_open(&rf.fl, &w->p, &o, &db);
	if (e == 0)
		e = ekv_format(db);
	uint64_t rng = s->seed;
	uint32_t enospc = 0;
	for (uint32_t i = 0; e == 0 && i < s->setup_steps; i++) {
		bool compact;
		int r = run_step(db, s, &m, &rng, i, vbuf, &compact, &enospc);
		if (r < 0)
			e = r;
	}
	if (e < 0) {
		fprintf(stderr, "powercut: workload %s: setup failed: %s\n", s->name,
			ekv_strerror(e));
		w->bad = true;
		goto out;
	}
	w->init = xmalloc(w->img_size);
	memcpy(w->init, rf.img, w->img_size);
	w->n_steps = s->steps;
	w->ack = xmalloc(s->steps * sizeof(size_t));
	w->state = xmalloc((s->steps + 1) * sizeof(uint64_t));
	w->state[0] = m.hash;
	rf.on = true;
	for (uint32_t i = 0; i < s->steps; i++) {
		bool compact;
		int r = run_step(db, s, &m, &rng, s->setup_steps + i, vbuf, &compact, &w->enospc);
		if (r < 0) {
			fprintf(stderr, "powercut: workload %s: step %u failed: %s\n", s->name, i,
				ekv_strerror(r));
			w->bad = true;
			goto out;
		}
		w->compactions += compact;
		w->ack[i] = w->n_ops;
		w->state[i + 1] = m.hash;
	}
	rf.on = false;
	/* the recording must itself end in the model state, after a remount */
	ekv_close(db);
	db = NULL;
	e = ekv_open(&rf.fl, &w->p, &o, &db);
	struct scanbuf sb;
	scanbuf_init(&sb, s->max_value);
	struct scan sc;
	char why[200] = "";
	if (e < 0 || ekv_mount(db) < 0 || scan_db(db, &sb, 0, &sc, why, sizeof(why)) < 0 ||
	    sc.hash != m.hash) {
		fprintf(stderr, "powercut: workload %s: recorded run does not match its model %s\n",
			s->name, why);
		w->bad = true;
	}
	scanbuf_free(&sb);
out:
	ekv_close(db);
	for (uint32_t i = 0; i < s->keys; i++)
		free(m.v[i]);
	free(m.v);
	free(m.vlen);
	free(m.present);
	free(vbuf);
	free(rf.img);
}

/* ---- replay flash: copy-on-write overlay with a fault model --------------------------- */

struct ovl {
	struct ekv_flash fl;
	uint32_t ps, pc;
	uint8_t ev;
	uint8_t *base;   /* initial image + ops[0..k) */
	uint8_t *shadow; /* private copies of touched pages, same layout */
	bool *dirty;
	uint32_t *dlist, nd;
	/* power cut after cut_at program/erase ops (when armed) */
	bool armed, off;
	uint64_t cut_at, nops;
	uint64_t rng;
};

static uint8_t *ovl_page(struct ovl *v, uint32_t page, bool for_write)
{
	size_t at = (size_t)page * v->ps;
	if (v->dirty[page])
		return v->shadow + at;
	if (!for_write)
		return v->base + at;
	memcpy(v->shadow + at, v->base + at, v->ps);
	v->dirty[page] = true;
	v->dlist[v->nd++] = page;
	return v->shadow + at;
}

static void ovl_reset(struct ovl *v)
{
	for (uint32_t i = 0; i < v->nd; i++)
		v->dirty[v->dlist[i]] = false;
	v->nd = 0;
	v->armed = v->off = false;
	v->nops = 0;
}

/* Torn program: the first `prefix` bytes land, then each remaining intended
 * bit change lands at random.  Bits only move away from the erased value. */
static void tear_program(uint8_t *dst, const uint8_t *src, uint32_t len, uint8_t ev,
			 uint32_t prefix, bool subset, uint64_t *rng)
{
	for (uint32_t i = 0; i < len; i++) {
		uint8_t want = ev == 0xff ? (dst[i] & src[i]) : (dst[i] | src[i]);
		if (i < prefix)
			dst[i] = want;
		else if (subset)
			dst[i] ^= (dst[i] ^ want) & (uint8_t)rng_u64(rng);
	}
}

/* Torn erase: an optionally fully erased prefix, then a random subset of the
 * bits moves to the erased value. */
static void tear_erase(uint8_t *dst, uint32_t ps, uint8_t ev, uint32_t prefix, uint64_t *rng)
{
	memset(dst, ev, prefix);
	for (uint32_t i = prefix; i < ps; i++) {
		uint8_t bits = (uint8_t)rng_u64(rng);
		if (ev == 0xff)
			dst[i] |= bits;
		else
			dst[i] &= (uint8_t)~bits;
	}
}

/* Variant t of a torn op (t = 0, 1, 2, ...): for programs, alternately a
 * random prefix plus a random subset of the rest, an exact prefix only, and a
 * random subset from the start; for erases, random bits and an erased prefix
 * plus random bits. */
static void apply_torn(uint8_t *page, const struct op *o, const uint8_t *arena, uint32_t ps,
		       uint8_t ev, uint32_t t, uint64_t *rng)
{
	if (o->kind == OP_PROG) {
		uint32_t prefix = (uint32_t)(rng_u64(rng) % (o->len + 1));
		switch (t % 3) {
		case 0:
			tear_program(page + o->off, arena + o->data, o->len, ev, prefix, true, rng);
			break;
		case 1:
			tear_program(page + o->off, arena + o->data, o->len, ev, prefix, false, rng);
			break;
		default:
			tear_program(page + o->off, arena + o->data, o->len, ev, 0, true, rng);
			break;
		}
	} else {
		uint32_t prefix = t % 2 ? (uint32_t)(rng_u64(rng) % (ps + 1)) : 0;
		tear_erase(page, ps, ev, prefix, rng);
	}
}

static int ovl_read(void *ctx, uint32_t page, uint32_t off, void *buf, uint32_t len)
{
	struct ovl *v = ctx;
	if (v->off)
		return EKV_EIO;
	memcpy(buf, ovl_page(v, page, false) + off, len);
	return 0;
}

/* Returns true if this op is the one the power cut tears. */
static bool ovl_cut_now(struct ovl *v)
{
	if (!v->armed)
		return false;
	if (v->nops++ < v->cut_at)
		return false;
	v->off = true;
	return true;
}

static int ovl_write(void *ctx, uint32_t page, uint32_t off, const void *buf, uint32_t len)
{
	struct ovl *v = ctx;
	if (v->off)
		return EKV_EIO;
	uint8_t *p = ovl_page(v, page, true);
	if (ovl_cut_now(v)) {
		uint32_t prefix = (uint32_t)(rng_u64(&v->rng) % (len + 1));
		tear_program(p + off, buf, len, v->ev, prefix, rng_u64(&v->rng) & 1, &v->rng);
		return EKV_EIO;
	}
	program(p + off, buf, len, v->ev);
	return 0;
}

static int ovl_erase(void *ctx, uint32_t page)
{
	struct ovl *v = ctx;
	if (v->off)
		return EKV_EIO;
	uint8_t *p = ovl_page(v, page, true);
	if (ovl_cut_now(v)) {
		uint32_t prefix = rng_u64(&v->rng) & 1 ? (uint32_t)(rng_u64(&v->rng) % (v->ps + 1)) : 0;
		tear_erase(p, v->ps, v->ev, prefix, &v->rng);
		return EKV_EIO;
	}
	memset(p, v->ev, v->ps);
	return 0;
}

static const struct ekv_flash_ops ovl_ops = {
	.read = ovl_read,
	.write = ovl_write,
	.erase = ovl_erase,
};

/* ---- checking one cut -------------------------------------------------------------- */

struct worker {
	struct ovl v;
	struct scanbuf sb;
	uint8_t *vbuf;
	size_t cap; /* image size the buffers hold */
	uint32_t vcap;
};

static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_uint_fast64_t total_violations;
static atomic_uint_fast64_t check_violations[6]; /* by check number */

static void violation(struct workload *w, size_t k, int variant, uint32_t pass, int check,
		      const char *fmt, ...)
{
	atomic_fetch_add(&w->violations, 1);
	atomic_fetch_add(&check_violations[check], 1);
	uint64_t n = atomic_fetch_add(&total_violations, 1);
	if (n >= MAX_REPORTED)
		return;
	char msg[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	const char *what = "end of log";
	uint32_t page = 0, off = 0, len = 0;
	if (k < w->n_ops) {
		const struct op *o = &w->ops[k];
		what = o->kind == OP_PROG ? "program" : "erase";
		page = o->page;
		off = o->off;
		len = o->len;
	}
	pthread_mutex_lock(&report_lock);
	printf("VIOLATION %s pass %u cut %zu (%s page %u off %u len %u, %s): check %d: %s\n",
	       w->s->name, pass, k, what, page, off, len,
	       variant < 0 ? "clean" : "torn", check, msg);
	fflush(stdout);
	pthread_mutex_unlock(&report_lock);
}

static int open_db(struct worker *wk, struct workload *w, uint32_t seed, ekv_db **db)
{
	struct ekv_options o;
	ekv_options_default(&o);
	o.seed = seed;
	o.seed_set = true;
	o.busy_timeout_ms = 0;
	int e = ekv_open(&wk->v.fl, &w->p, &o, db);
	if (e == 0) {
		e = ekv_mount(*db);
		if (e < 0) {
			ekv_close(*db);
			*db = NULL;
		}
	}
	return e;
}

/* Recovery keys sort after every workload key (first byte 0xff). */
static uint32_t rkey(uint32_t i, uint8_t *k)
{
	k[0] = 0xff;
	k[1] = 0xff;
	k[2] = 'r';
	k[3] = (uint8_t)i;
	return 4;
}

struct rval {
	uint32_t len;
	uint64_t seed;
};

static uint64_t rpair(struct worker *wk, uint32_t i, struct rval r)
{
	uint8_t k[4];
	rkey(i, k);
	fill_value(wk->vbuf, r.len, r.seed);
	return pair_hash(k, 4, wk->vbuf, r.len);
}

/* A write transaction of recovery keys: puts (len != UINT32_MAX) and deletes,
 * in key order. */
static int rtx_write(struct worker *wk, ekv_db *db, const uint32_t *ids, const struct rval *vals,
		     uint32_t n)
{
	ekv_wtx *tx;
	int e = ekv_wtx_begin(db, &tx);
	if (e < 0)
		return e;
	for (uint32_t i = 0; i < n && e == 0; i++) {
		uint8_t k[4];
		rkey(ids[i], k);
		if (vals[i].len == UINT32_MAX) {
			e = ekv_wtx_delete(tx, k, 4);
		} else {
			fill_value(wk->vbuf, vals[i].len, vals[i].seed);
			e = ekv_wtx_put(tx, k, 4, wk->vbuf, vals[i].len);
		}
	}
	if (e < 0) {
		ekv_wtx_abort(tx);
		return e;
	}
	return ekv_wtx_commit(tx);
}

static bool expected_error(struct workload *w, int e)
{
	return w->s->may_fill && (e == EKV_ENOSPC || e == EKV_ECANCELED);
}

/*
 * Checks 1–5 on the image the overlay currently shows.  lo/hi: the states
 * the cut may leave (the last acknowledged one and the one in flight).
 * Returns the number of second cuts done.
 */
static int check_cut(struct worker *wk, struct workload *w, size_t k, int variant, uint32_t pass,
		     uint64_t lo, uint64_t hi, uint64_t seed)
{
	char why[300] = "";
	ekv_db *db = NULL;
	uint64_t rng = seed;
	int second = 0;
	struct scan sc;

	/* 1. mount */
	int e = open_db(wk, w, (uint32_t)rng_u64(&rng), &db);
	if (e < 0) {
		violation(w, k, variant, pass, 1, "mount failed: %s", ekv_strerror(e));
		return 0;
	}
	/* a power cut is never damage (mount would fail with on_damage refuse,
	 * and tools would report a loss) */
	struct ekv_stat st;
	e = ekv_stat(db, &st);
	if (e < 0 || st.damaged) {
		violation(w, k, variant, pass, 1, "mount reported damage after a power cut: %s",
			  e < 0 ? ekv_strerror(e) : "damaged set in ekv_stat");
		goto out;
	}
	/* 2./3. acknowledged steps present, the one in flight all or nothing */
	uint32_t probe = (uint32_t)(rng_u64(&rng) % 64);
	if (scan_db(db, &wk->sb, probe, &sc, why, sizeof(why)) < 0) {
		violation(w, k, variant, pass, 2, "%s", why);
		goto out;
	}
	if (sc.hash != lo && sc.hash != hi) {
		violation(w, k, variant, pass, sc.count ? 3 : 1,
			  "state after mount (%u pairs) is neither the acknowledged state "
			  "nor the one in flight",
			  sc.count);
		goto out;
	}
	/* 4. recovery writes with a second power cut, then remount */
	uint64_t x[5];
	x[0] = sc.hash;
	struct rval v0 = {(uint32_t)(rng_u64(&rng) % 16), rng_u64(&rng)};
	struct rval v1 = {(uint32_t)(rng_u64(&rng) % (w->s->max_value / 4 + 1)), rng_u64(&rng)};
	struct rval v2 = {(uint32_t)(rng_u64(&rng) % 8), rng_u64(&rng)};
	struct rval v3 = {w->s->max_value / 2 + (uint32_t)(rng_u64(&rng) % (w->s->max_value / 2)),
			  rng_u64(&rng)};
	struct rval del = {UINT32_MAX, 0};
	uint32_t ids1[3] = {0, 1, 2}, ids2[2] = {1, 3};
	struct rval vals1[3] = {v0, v1, v2}, vals2[2] = {del, v3};
	x[1] = x[0] + rpair(wk, 0, v0) + rpair(wk, 1, v1) + rpair(wk, 2, v2);
	x[2] = x[1] - rpair(wk, 1, v1) + rpair(wk, 3, v3);
	x[3] = x[4] = x[2];
	wk->v.armed = true;
	wk->v.nops = 0;
	/* mostly inside the two transactions, sometimes in the compactions */
	wk->v.cut_at = rng_u64(&rng) % (rng_u64(&rng) % 4 ? 48 : 600);
	int done = 0; /* steps acknowledged */
	for (int step = 0; step < 4; step++) {
		if (step == 0)
			e = rtx_write(wk, db, ids1, vals1, 3);
		else if (step == 1)
			e = rtx_write(wk, db, ids2, vals2, 2);
		else
			e = ekv_compact(db);
		if (e < 0 && expected_error(w, e) && !wk->v.off)
			break; /* a full flash refused the step: nothing changed */
		if (e < 0) {
			if (!wk->v.off) {
				violation(w, k, variant, pass, 4, "recovery step %d failed: %s",
					  step, ekv_strerror(e));
				goto out;
			}
			break;
		}
		done = step + 1;
	}
	second = wk->v.off;
	ekv_close(db);
	db = NULL;
	wk->v.armed = wk->v.off = false;
	e = open_db(wk, w, (uint32_t)rng_u64(&rng), &db);
	if (e < 0) {
		violation(w, k, variant, pass, 4, "remount after %s: %s",
			  second ? "second cut" : "recovery writes", ekv_strerror(e));
		goto out;
	}
	if (scan_db(db, &wk->sb, probe, &sc, why, sizeof(why)) < 0) {
		violation(w, k, variant, pass, 4, "after remount: %s", why);
		goto out;
	}
	int state;
	if (sc.hash == x[done])
		state = done;
	else if (second && done < 4 && sc.hash == x[done + 1])
		state = done + 1;
	else {
		violation(w, k, variant, pass, 4,
			  "after %s at recovery step %d: state is neither acknowledged nor in "
			  "flight",
			  second ? "second cut" : "remount", done);
		goto out;
	}
	/* 5. new transactions and compactions work */
	bool r0 = state >= 1;
	struct rval v4 = {(uint32_t)(rng_u64(&rng) % (w->s->max_value + 1)), rng_u64(&rng)};
	struct rval v5 = {(uint32_t)(rng_u64(&rng) % 32), rng_u64(&rng)};
	uint32_t ids3[3] = {0, 4, 5};
	struct rval vals3[3] = {del, v4, v5};
	uint64_t want = sc.hash + rpair(wk, 4, v4) + rpair(wk, 5, v5) - (r0 ? rpair(wk, 0, v0) : 0);
	e = rtx_write(wk, db, ids3, vals3, 3);
	if (e < 0 && expected_error(w, e)) {
		want = sc.hash;
		e = 0;
	}
	for (int i = 0; e >= 0 && i < 3; i++) {
		e = ekv_compact(db);
		if (e == 0)
			break;
	}
	if (e < 0 && !expected_error(w, e)) {
		violation(w, k, variant, pass, 5, "write or compaction after recovery: %s",
			  ekv_strerror(e));
		goto out;
	}
	if (scan_db(db, &wk->sb, probe, &sc, why, sizeof(why)) < 0 || sc.hash != want) {
		violation(w, k, variant, pass, 5, "state after new writes: %s",
			  why[0] ? why : "differs from the expected state");
		goto out;
	}
out:
	ekv_close(db);
	return second;
}

/* ---- schedule ------------------------------------------------------------------------ */

/* A job: the cut points k of one workload with k % w->slices == slice, in
 * one pass.  Jobs go pass by pass, slice by slice, workload by workload, and
 * a workload has as many slices as it takes to keep its jobs at about
 * JOB_CUTS cuts, so a time-limited run interleaves the workloads in small
 * jobs (on a slow target too: under qemu-user one job of a quarter of a log
 * used to fill a 30 s budget) and spreads over the whole log of each. */
#define MIN_SLICES 4
#define JOB_CUTS 64

struct job {
	struct workload *w;
	uint32_t pass, slice;
	uint64_t limit; /* cuts to run in this job */
};

static struct job *jobs;
static size_t n_jobs;
static atomic_size_t next_job;
static double deadline;
static atomic_bool time_up;
static atomic_uint_fast64_t total_cuts, total_second;

/*
 * Cuts per pass.  Critical ops (erases, page and data headers, programs into
 * a meta page: where the holes were) get four cuts per pass: in pass 0 clean
 * and three torn variants, later four more torn variants.  Other ops (data
 * bytes of pages nothing references yet) get one: passes 0 and 1 together
 * cut each once clean and once torn, alternating between the two passes so
 * that each pass alone covers every region of the log both ways; pass
 * p >= 2 adds torn variant p.  Pass 0 also cuts after the last op.
 */
#define CRITICAL_CUTS 4

static uint64_t job_cuts(const struct workload *w, uint32_t pass, uint32_t slice)
{
	uint64_t n = 0;
	for (size_t k = slice; k < w->n_ops; k += w->slices)
		n += w->ops[k].critical ? CRITICAL_CUTS : 1;
	return n + (pass == 0 && w->n_ops % w->slices == slice);
}

/* The stride for w: at least MIN_SLICES, and jobs of about JOB_CUTS cuts. */
static uint32_t job_slices(const struct workload *w)
{
	uint64_t n = 0;
	for (size_t k = 0; k < w->n_ops; k++)
		n += w->ops[k].critical ? CRITICAL_CUTS : 1;
	uint64_t sl = (n + JOB_CUTS - 1) / JOB_CUTS;
	return sl < MIN_SLICES ? MIN_SLICES : (uint32_t)sl;
}

/* -1: clean cut; t >= 0: torn variant t (see apply_torn) */
static int cut_variant(size_t k, bool critical, uint32_t pass, int vi)
{
	if (critical)
		return pass == 0 ? vi - 1 : (int)(CRITICAL_CUTS * pass) + vi - 1;
	if (pass == 0)
		return k % 2 ? 0 : -1;
	if (pass == 1)
		return k % 2 ? -1 : 1;
	return (int)pass;
}

static void ensure_worker(struct worker *wk, const struct workload *w)
{
	size_t need = w->img_size;
	uint32_t pages = w->s->page_count;
	ovl_reset(&wk->v); /* drop the previous job's private pages */
	if (need > wk->cap || pages > wk->v.pc || w->s->max_value > wk->vcap) {
		free(wk->v.base);
		free(wk->v.shadow);
		free(wk->v.dirty);
		free(wk->v.dlist);
		free(wk->vbuf);
		scanbuf_free(&wk->sb);
		wk->cap = need;
		wk->vcap = 65536;
		wk->v.base = xmalloc(need);
		wk->v.shadow = xmalloc(need);
		wk->v.dirty = calloc(65536, sizeof(bool));
		wk->v.dlist = xmalloc(65536 * sizeof(uint32_t));
		wk->vbuf = xmalloc(wk->vcap + 8);
		scanbuf_init(&wk->sb, wk->vcap);
	}
	wk->v.ps = w->s->page_size;
	wk->v.pc = pages;
	wk->v.ev = w->s->erase_value;
	wk->v.fl = (struct ekv_flash){.ops = &ovl_ops, .ctx = &wk->v, .page_size = w->s->page_size,
				      .page_count = pages, .write_size = 1,
				      .erase_value = w->s->erase_value};
	memcpy(wk->v.base, w->init, need);
}

static void apply_op(uint8_t *img, const struct workload *w, const struct op *o)
{
	uint8_t *page = img + (size_t)o->page * w->s->page_size;
	if (o->kind == OP_PROG)
		program(page + o->off, w->arena + o->data, o->len, w->s->erase_value);
	else
		memset(page, w->s->erase_value, w->s->page_size);
}

static void run_job(struct worker *wk, const struct job *j)
{
	struct workload *w = j->w;
	ensure_worker(wk, w);
	uint64_t done = 0;
	size_t acked = 0; /* steps acknowledged before the cut point */
	for (size_t k = 0; k <= w->n_ops && done < j->limit; k++) {
		if (k > 0)
			apply_op(wk->v.base, w, &w->ops[k - 1]);
		if (k % w->slices != j->slice)
			continue;
		while (acked < w->n_steps && w->ack[acked] <= k)
			acked++;
		uint64_t lo = w->state[acked];
		uint64_t hi = acked < w->n_steps ? w->state[acked + 1] : lo;
		if (k == w->n_ops && j->pass != 0)
			break;
		bool crit = k < w->n_ops && w->ops[k].critical;
		for (int vi = 0; vi < (crit ? CRITICAL_CUTS : 1) && done < j->limit; vi++) {
			if (atomic_load_explicit(&time_up, memory_order_relaxed))
				return;
			if ((done & 15) == 0 && now_s() > deadline) {
				atomic_store(&time_up, true);
				return;
			}
			int t = k == w->n_ops ? -1 : cut_variant(k, crit, j->pass, vi);
			uint64_t seed = mix3(w->s->seed, k, (uint64_t)j->pass * 8 + (uint64_t)vi);
			ovl_reset(&wk->v);
			wk->v.rng = seed ^ 0x1234;
			if (t >= 0 && k < w->n_ops) {
				const struct op *o = &w->ops[k];
				uint64_t rng = seed;
				apply_torn(ovl_page(&wk->v, o->page, true), o, w->arena,
					   w->s->page_size, w->s->erase_value, (uint32_t)t, &rng);
			}
			int second = check_cut(wk, w, k, t, j->pass, lo, hi, seed);
			done++;
			atomic_fetch_add_explicit(&w->cuts, 1, memory_order_relaxed);
			atomic_fetch_add_explicit(&total_cuts, 1, memory_order_relaxed);
			if (second) {
				atomic_fetch_add_explicit(&w->second_cuts, 1, memory_order_relaxed);
				atomic_fetch_add_explicit(&total_second, 1, memory_order_relaxed);
			}
		}
	}
}

static void *worker_main(void *arg)
{
	(void)arg;
	struct worker wk;
	memset(&wk, 0, sizeof(wk));
	for (;;) {
		size_t i = atomic_fetch_add(&next_job, 1);
		if (i >= n_jobs || atomic_load(&time_up))
			break;
		run_job(&wk, &jobs[i]);
	}
	free(wk.v.base);
	free(wk.v.shadow);
	free(wk.v.dirty);
	free(wk.v.dlist);
	free(wk.vbuf);
	scanbuf_free(&wk.sb);
	return NULL;
}

static void *record_main(void *arg)
{
	size_t i = (size_t)arg;
	record_workload(&workloads[i], &specs[i]);
	return NULL;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: powercut [--cuts N] [--budget SECONDS] [--threads N] [--workload NAME]\n"
		"                [--every-workload]\n"
		"  --cuts N        run exactly the first N cuts of the fixed schedule\n"
		"  --budget S      stop after S seconds (whichever comes first)\n"
		"  --every-workload  fail unless every workload got at least one cut\n"
		"  neither         run the full default set (%d passes)\n",
		DEFAULT_PASSES);
}

int main(int argc, char **argv)
{
	uint64_t max_cuts = 0;
	double budget = 0;
	long threads = sysconf(_SC_NPROCESSORS_ONLN);
	const char *only = NULL;
	bool every = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--cuts") && i + 1 < argc)
			max_cuts = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--budget") && i + 1 < argc)
			budget = strtod(argv[++i], NULL);
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			threads = strtol(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--workload") && i + 1 < argc)
			only = argv[++i];
		else if (!strcmp(argv[i], "--every-workload"))
			every = true;
		else {
			usage();
			return 2;
		}
	}
	if (threads < 1)
		threads = 1;
	if (threads > 64)
		threads = 64;
	double t0 = now_s();
	deadline = budget > 0 ? t0 + budget : 1e300;
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* record every workload (in parallel) */
	workloads = calloc(N_SPECS, sizeof(*workloads));
	pthread_t th[N_SPECS];
	for (size_t i = 0; i < N_SPECS; i++)
		pthread_create(&th[i], NULL, record_main, (void *)i);
	for (size_t i = 0; i < N_SPECS; i++)
		pthread_join(th[i], NULL);
	uint64_t recording_failures = 0;
	for (size_t i = 0; i < N_SPECS; i++)
		recording_failures += workloads[i].bad;

	/* the schedule: passes of every selected workload; --cuts N cuts it at
	 * exactly N cuts, otherwise DEFAULT_PASSES passes */
	size_t n_sel = 0;
	for (size_t i = 0; i < N_SPECS; i++)
		n_sel += !workloads[i].bad && (!only || !strcmp(only, specs[i].name));
	uint64_t per_pass = 0;
	uint32_t max_slices = 0, sum_slices = 0;
	for (size_t i = 0; i < N_SPECS; i++) {
		struct workload *w = &workloads[i];
		if (w->bad || (only && strcmp(only, specs[i].name)))
			continue;
		w->slices = job_slices(w);
		max_slices = w->slices > max_slices ? w->slices : max_slices;
		sum_slices += w->slices;
		for (uint32_t sl = 0; sl < w->slices; sl++)
			per_pass += job_cuts(w, 1, sl);
	}
	uint32_t passes = DEFAULT_PASSES;
	if (max_cuts && per_pass)
		passes = (uint32_t)(max_cuts / per_pass + 2);
	jobs = calloc((size_t)passes * sum_slices + 1, sizeof(*jobs));
	uint64_t scheduled = 0;
	for (uint32_t p = 0; p < passes && n_sel; p++) {
		for (uint32_t sl = 0; sl < max_slices; sl++) {
			for (size_t i = 0; i < N_SPECS; i++) {
				struct workload *w = &workloads[i];
				if (w->bad || (only && strcmp(only, specs[i].name)) ||
				    sl >= w->slices)
					continue;
				uint64_t c = job_cuts(w, p, sl);
				if (max_cuts && scheduled + c > max_cuts)
					c = max_cuts - scheduled;
				if (c == 0)
					continue;
				jobs[n_jobs++] = (struct job){w, p, sl, c};
				scheduled += c;
			}
		}
	}
	printf("powercut: %zu workloads recorded in %.1f s; %" PRIu64
	       " cuts scheduled on %ld threads%s\n",
	       n_sel, now_s() - t0, scheduled, threads, budget > 0 ? " (time budget)" : "");

	pthread_t *wth = calloc((size_t)threads, sizeof(*wth));
	for (long i = 0; i < threads; i++)
		pthread_create(&wth[i], NULL, worker_main, NULL);
	for (long i = 0; i < threads; i++)
		pthread_join(wth[i], NULL);

	for (size_t i = 0; i < N_SPECS; i++) {
		struct workload *w = &workloads[i];
		const struct spec *s = &specs[i];
		if (only && strcmp(only, s->name))
			continue;
		printf("workload %-18s %5ux%-3u align %u erase 0x%02x crc %-3s: %6zu ops "
		       "(%u erases, %u critical), %3zu steps (%u compaction steps, %u refused "
		       "full), %3u meta rollovers; %7" PRIu64 " cuts, %6" PRIu64
		       " second cuts, %" PRIu64 " violations%s\n",
		       s->name, s->page_size, s->page_count, s->align, s->erase_value,
		       s->crc ? "on" : "off", w->n_ops, w->erases, w->critical, w->n_steps,
		       w->compactions,
		       w->enospc, w->rollovers, (uint64_t)w->cuts, (uint64_t)w->second_cuts,
		       (uint64_t)w->violations, w->bad ? " (RECORDING FAILED)" : "");
	}
	uint64_t n = total_cuts, v = total_violations + recording_failures;
	size_t n_cut = 0;
	for (size_t i = 0; i < N_SPECS; i++)
		n_cut += workloads[i].cuts > 0;
	printf("powercut: %.1f s, %" PRIu64 " second cuts during recovery%s; %zu of %zu "
	       "workloads cut\n",
	       now_s() - t0, (uint64_t)total_second,
	       time_up ? ", stopped by the time budget" : "", n_cut, n_sel);
	if (total_violations)
		printf("powercut: violations by check: 1 mount %" PRIu64 ", 2 scan %" PRIu64
		       ", 3 state %" PRIu64 ", 4 second cut %" PRIu64 ", 5 new writes %" PRIu64 "\n",
		       (uint64_t)check_violations[1], (uint64_t)check_violations[2],
		       (uint64_t)check_violations[3], (uint64_t)check_violations[4],
		       (uint64_t)check_violations[5]);
	int rc = v == 0 ? 0 : 1;
	if (every && n_cut < n_sel) {
		printf("powercut: FAIL: %zu of %zu workloads got no cut\n", n_sel - n_cut, n_sel);
		rc = 1;
	}
	printf("powercut: %" PRIu64 " cuts, %" PRIu64 " violations\n", n, v);
	for (size_t i = 0; i < N_SPECS; i++) {
		free(workloads[i].init);
		free(workloads[i].ops);
		free(workloads[i].arena);
		free(workloads[i].ack);
		free(workloads[i].state);
	}
	free(workloads);
	free(jobs);
	free(wth);
	return rc;
}
