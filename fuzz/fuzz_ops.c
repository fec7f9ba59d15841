/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * fuzz_ops.c — random operations against an in-memory model, with power cuts
 * (torn programs and erases), injected I/O errors and remounts in between.
 *
 * Input: byte 0 selects a profile; the rest is a stream of operations and
 * their arguments (puts, deletes, multi-key transactions, aborts, gets,
 * full and range scans, compaction steps, remounts, a transaction cut by a
 * power failure after n flash operations, a transaction hit by an I/O
 * error).  After a cut the database must mount and hold the state before or
 * after the interrupted transaction, never a mix; after an I/O error the
 * same handle and a remount must agree; acknowledged transactions are never
 * lost.  Any difference from the model is a finding.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ekv.h"
#include "ekv_test.h"
#include "fuzz_common.h"
#include "fuzz_profiles.h"

#define N_KEYS 12
#define MAX_OPS 160

struct model {
	bool present[N_KEYS];
	uint8_t len[N_KEYS];
	uint8_t val[N_KEYS][128];
};

struct st {
	const uint8_t *in;
	size_t n, pos;
	struct ekv_profile p;
	struct ekv_flash *f;
	ekv_db *db;
	struct model m;
	uint32_t seed;
};

static struct ekv_flash *flashes[N_OPS_PROFILES];

static uint8_t next(struct st *s)
{
	return s->pos < s->n ? s->in[s->pos++] : 0;
}

/* Key id 0 is the empty key, the last one as long as the profile allows;
 * byte order of keys = id order. */
static size_t key_of(const struct st *s, uint32_t id, uint8_t *k)
{
	if (id == 0)
		return 0;
	k[0] = 'k';
	k[1] = (uint8_t)('a' + id);
	if (id == N_KEYS - 1) {
		memset(k + 2, 'z', s->p.max_key_size - 2);
		return s->p.max_key_size;
	}
	return 2;
}

static void open_db(struct st *s)
{
	struct ekv_options o;
	ekv_options_default(&o);
	o.seed = s->seed++;
	o.seed_set = true;
	o.busy_timeout_ms = 0;
	int e = ekv_open(s->f, &s->p, &o, &s->db);
	if (e < 0)
		FUZZ_FAIL("open: %s", ekv_strerror(e));
}

static void remount(struct st *s)
{
	ekv_close(s->db);
	open_db(s);
}

/* Compare the whole database with a model: 0 equal, -1 different. */
static int compare(struct st *s, const struct model *m, int *err)
{
	static uint8_t kb[1100], vb[70000];
	uint8_t want[1100];
	ekv_rtx *rtx;
	*err = ekv_rtx_begin(s->db, &rtx);
	if (*err < 0)
		return -1;
	ekv_cursor *c;
	*err = ekv_cursor_open(rtx, NULL, 0, NULL, 0, &c);
	if (*err < 0) {
		ekv_rtx_end(rtx);
		return -1;
	}
	int r = 0;
	uint32_t id = 0;
	size_t kl, vl;
	int e;
	while ((e = ekv_cursor_next(c, kb, sizeof(kb), &kl, vb, sizeof(vb), &vl)) == 1) {
		while (id < N_KEYS && !m->present[id])
			id++;
		size_t wl = id < N_KEYS ? key_of(s, id, want) : 0;
		if (id >= N_KEYS || kl != wl || memcmp(kb, want, kl) || vl != m->len[id] ||
		    memcmp(vb, m->val[id], vl)) {
			r = -1;
			break;
		}
		id++;
	}
	if (e < 0) {
		*err = e;
		r = -1;
	}
	while (r == 0 && id < N_KEYS && !m->present[id])
		id++;
	if (r == 0 && id < N_KEYS)
		r = -1;
	ekv_cursor_close(c);
	/* point lookups agree */
	for (uint32_t i = 0; r == 0 && i < N_KEYS; i++) {
		size_t wl = key_of(s, i, want), gl = 0;
		e = ekv_rtx_get(rtx, want, wl, vb, sizeof(vb), &gl);
		if (m->present[i] ? (e != 0 || gl != m->len[i] || memcmp(vb, m->val[i], gl))
				  : e != EKV_ENOTFOUND) {
			if (e < 0 && e != EKV_ENOTFOUND)
				*err = e;
			r = -1;
		}
	}
	ekv_rtx_end(rtx);
	return r;
}

static void expect_model(struct st *s, const char *when)
{
	int err = 0;
	if (compare(s, &s->m, &err) < 0)
		FUZZ_FAIL("database differs from the model %s (%s)", when,
			  err ? ekv_strerror(err) : "contents");
}

/* A transaction from the input: 1..3 ascending keys, puts and deletes.
 * Applies to *after (the model if it commits).  Returns the commit result. */
static int run_tx(struct st *s, struct model *after, bool abort_it)
{
	uint8_t b = next(s);
	uint32_t n = 1 + b % 3;
	uint32_t id = next(s) % N_KEYS;
	ekv_wtx *tx;
	int e = ekv_wtx_begin(s->db, &tx);
	if (e < 0)
		return e;
	for (uint32_t i = 0; i < n && id < N_KEYS && e == 0; i++) {
		uint8_t k[1100];
		size_t kl = key_of(s, id, k);
		uint8_t a = next(s);
		if (a % 5 == 0) {
			e = ekv_wtx_delete(tx, k, kl);
			if (e == 0)
				after->present[id] = false;
		} else {
			uint32_t len = next(s) % (s->p.max_value_size + 1);
			uint8_t v[128];
			for (uint32_t j = 0; j < len; j++)
				v[j] = (uint8_t)(a + j * 37);
			e = ekv_wtx_put(tx, k, kl, v, len);
			if (e == 0) {
				after->present[id] = true;
				after->len[id] = (uint8_t)len;
				memcpy(after->val[id], v, len);
			}
		}
		id += 1 + next(s) % 3;
	}
	if (abort_it || e < 0) {
		ekv_wtx_abort(tx);
		return abort_it && e == 0 ? 1 : e;
	}
	return ekv_wtx_commit(tx);
}

/* busy_ok: a reader is open, so a writer that needs pages the reader pins
 * may give up with "busy" */
static void op_tx(struct st *s, bool abort_it, bool busy_ok)
{
	struct model after = s->m;
	int e = run_tx(s, &after, abort_it);
	if (e == 0)
		s->m = after;
	else if (e != 1 && !(busy_ok && e == EKV_EBUSY))
		fuzz_expect_code(e, "transaction");
	expect_model(s, abort_it ? "after an abort" : "after a transaction");
}

/* A transaction cut by a power failure after a number of flash ops. */
static void op_cut(struct st *s)
{
	struct model before = s->m, after = s->m;
	struct ekv_mem_fault f = {
		.cut_enabled = true,
		.cut_after_ops = next(s) % 48,
		.erase_prefix = next(s) & 1,
		.seed = next(s),
	};
	if (next(s) & 1) { /* or after a number of programmed bytes */
		f.cut_enabled = false;
		f.cut_by_bytes = true;
		f.cut_after_bytes = (uint64_t)next(s) * 4;
	}
	ekv_flash_mem_set_fault(s->f, &f);
	int e = run_tx(s, &after, false);
	bool acked = e == 0 && !ekv_flash_mem_powered_off(s->f);
	ekv_flash_mem_clear_fault(s->f);
	remount(s);
	int e1 = ekv_mount(s->db);
	if (e1 < 0)
		FUZZ_FAIL("mount after a power cut: %s", ekv_strerror(e1));
	int err = 0;
	if (compare(s, &after, &err) == 0) {
		s->m = after;
	} else if (!acked && err == 0 && compare(s, &before, &err) == 0) {
		s->m = before;
	} else {
		FUZZ_FAIL("after a power cut (transaction %s): %s", acked ? "acknowledged" : "in flight",
			  err ? ekv_strerror(err) : "neither the state before nor after it");
	}
}

/* A transaction hit by an injected I/O error (one-shot or sticky). */
static void op_ioerr(struct st *s)
{
	struct model before = s->m, after = s->m;
	struct ekv_mem_fault f = {
		.error_ops = 1 << (next(s) % 3),
		.error_nth = next(s) % 64,
		.error_sticky = next(s) & 1,
	};
	ekv_flash_mem_set_fault(s->f, &f);
	int e = run_tx(s, &after, false);
	ekv_flash_mem_clear_fault(s->f);
	if (e < 0 && e != EKV_EIO)
		fuzz_expect_code(e, "transaction with an I/O error");
	for (int pass = 0; pass < 2; pass++) {
		int err = 0;
		if (compare(s, &after, &err) == 0) {
			s->m = after;
		} else if (e != 0 && err == 0 && compare(s, &before, &err) == 0) {
			s->m = before;
		} else {
			FUZZ_FAIL("after an I/O error (transaction %s)%s: %s",
				  e == 0 ? "acknowledged" : "failed", pass ? ", remounted" : "",
				  err ? ekv_strerror(err) : "neither the state before nor after it");
		}
		before = after = s->m;
		remount(s);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct st s = {.in = data, .n = size, .pos = 1, .seed = 1};
	size_t pi = data[0] % N_OPS_PROFILES;
	const struct fprof *op = &ops_profiles[pi];
	fprof_profile(op, &s.p);
	if (!flashes[pi] && ekv_flash_mem_new(op->page_size, op->pages, op->erase, &flashes[pi]) < 0)
		abort();
	s.f = flashes[pi];
	ekv_flash_mem_clear_fault(s.f);
	memset(ekv_flash_mem_data(s.f), op->erase, (size_t)op->page_size * op->pages);
	ekv_flash_mem_set_strict(s.f, true);
	open_db(&s);
	int e = ekv_format(s.db);
	if (e < 0)
		FUZZ_FAIL("format: %s", ekv_strerror(e));
	for (int ops = 0; ops < MAX_OPS && s.pos < s.n; ops++) {
		switch (next(&s) % 12) {
		case 0:
		case 1:
		case 2:
			op_tx(&s, false, false);
			break;
		case 3:
			op_tx(&s, true, false);
			break;
		case 4:
			expect_model(&s, "on a read");
			break;
		case 5: {
			int r = ekv_compact(s.db);
			fuzz_expect_code(r, "compact");
			expect_model(&s, "after a compaction step");
			break;
		}
		case 6:
			remount(&s);
			expect_model(&s, "after a remount");
			break;
		case 7:
		case 8:
		case 9:
			op_cut(&s);
			break;
		case 10:
			op_ioerr(&s);
			break;
		default: {
			/* a read transaction kept open across a write and a compaction
			 * sees its snapshot */
			struct model snap = s.m;
			ekv_rtx *rtx;
			e = ekv_rtx_begin(s.db, &rtx);
			if (e < 0)
				FUZZ_FAIL("rtx: %s", ekv_strerror(e));
			op_tx(&s, false, true);
			int r = ekv_compact(s.db);
			if (r != EKV_EBUSY)
				fuzz_expect_code(r, "compact under a reader");
			uint8_t k[1100], v[200];
			for (uint32_t i = 0; i < N_KEYS; i++) {
				size_t kl = key_of(&s, i, k), vl = 0;
				e = ekv_rtx_get(rtx, k, kl, v, sizeof(v), &vl);
				if (snap.present[i] ? (e != 0 || vl != snap.len[i] ||
						       memcmp(v, snap.val[i], vl))
						    : e != EKV_ENOTFOUND)
					FUZZ_FAIL("snapshot changed under a read transaction");
			}
			ekv_rtx_end(rtx);
			break;
		}
		}
	}
	remount(&s);
	expect_model(&s, "at the end");
	ekv_close(s.db);
	return 0;
}
