/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * l2/journal.c — appending to the journal and reading it back.  See
 * journal.h; the rules are docs/FORMAT.md §L3, §L4, §L8.3 and §L10.
 */
#include "l2/journal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flash.h"

/* ---- a windowed reader over one block ------------------------------------ */

struct rd {
	const struct l2_geom *g;
	struct ekv_flash *f;
	uint32_t block;
	uint8_t *buf;
	uint32_t cap, lo, hi; /* buf holds [lo, hi) */
};

static void rd_init(struct rd *r, const struct l2_geom *g, struct ekv_flash *f)
{
	memset(r, 0, sizeof(*r));
	r->g = g;
	r->f = f;
}

static void rd_free(struct rd *r)
{
	free(r->buf);
	r->buf = NULL;
}

static void rd_block(struct rd *r, uint32_t block)
{
	r->block = block;
	r->lo = r->hi = 0;
}

/* Make [off, off + len) available; returns a pointer into the window or
 * NULL with *err set. */
static const uint8_t *rd_get(struct rd *r, uint32_t off, uint32_t len, int *err)
{
	uint32_t B = r->g->block_size;
	if (off > B || len > B - off) {
		*err = EKV_ECORRUPT;
		return NULL;
	}
	if (off >= r->lo && off + len <= r->hi)
		return r->buf + (off - r->lo);
	uint32_t want = len > 512 ? len : 512;
	if (want < r->g->pu)
		want = r->g->pu;
	if (want > B - off)
		want = B - off;
	if (want > r->cap) {
		uint8_t *b = realloc(r->buf, want);
		if (!b) {
			*err = EKV_ENOMEM;
			return NULL;
		}
		r->buf = b;
		r->cap = want;
	}
	int e = flash_read(r->f, r->block, off, r->buf, want);
	if (e < 0) {
		*err = e;
		return NULL;
	}
	r->lo = off;
	r->hi = off + want;
	return r->buf;
}

/* ---- parsing ------------------------------------------------------------- */

/* A complete, valid entry at off with a sequence number in
 * [expect, expect + 2^16) (any with `any`): 1, else 0 (or <0 on I/O error). */
static int valid_entry_at(struct rd *r, uint32_t off, uint32_t expect, bool any,
			  struct l2_entry_hdr *h)
{
	const struct l2_geom *g = r->g;
	int err = 0;
	uint32_t B = g->block_size;
	if (off > B - L2_ENTRY_MIN)
		return 0;
	const uint8_t *p = rd_get(r, off, L2_ENTRY_MIN, &err);
	if (!p)
		return err;
	if (l2_entry_hdr_decode(p, B - off, h) < 0)
		return 0;
	if (!any && (uint32_t)(h->seq_lo - expect) >= 65536u)
		return 0;
	p = rd_get(r, off, h->len, &err);
	if (!p)
		return err;
	return l2_entry_crc_ok(g, p, h->len) ? 1 : 0;
}

struct parse {
	const struct l2_geom *g;
	const struct l2_jrn_visitor *vis;
	struct l2_jrn_verdict *v;
	struct rd r;
	uint32_t expect;     /* seq_lo of the next entry */
	uint64_t seq;        /* its full value, once known */
	bool have_seq;
	uint8_t *frag;       /* checkpoint fragments so far */
	uint32_t frag_len, frag_cap;
	uint64_t frag_seq;
	bool in_frag;
	uint8_t *scratch;    /* a copy of the current entry's payload */
	uint32_t scratch_cap;
};

static void damage(struct parse *ps, uint32_t block, uint32_t off, const char *what)
{
	struct l2_jrn_verdict *v = ps->v;
	if (v->damaged)
		return;
	v->damaged = true;
	v->damage_block = block;
	v->damage_off = off;
	snprintf(v->what, sizeof(v->what), "%s", what);
}

static int ensure(uint8_t **buf, uint32_t *cap, uint32_t need)
{
	if (need <= *cap)
		return 0;
	uint32_t c = *cap ? *cap : 256;
	while (c < need)
		c *= 2;
	uint8_t *b = realloc(*buf, c);
	if (!b)
		return EKV_ENOMEM;
	*buf = b;
	*cap = c;
	return 0;
}

/* Deliver one valid entry.  1: it was a CONTINUE (the block ends), 0, <0. */
static int deliver(struct parse *ps, const struct l2_entry_hdr *h, const uint8_t *entry,
		   struct l2_continue *cont)
{
	const uint8_t *pl = entry + h->hdr_size;
	uint32_t n = h->len - h->hdr_size - 4;
	if (!ps->have_seq) {
		/* the epoch's first entry: a FLUSH checkpoint carrying the full seq */
		if (h->type != L2_E_CHECKPOINT || n < 8)
			return EKV_ECORRUPT;
		uint64_t s = (uint64_t)pl[0] | (uint64_t)pl[1] << 8 | (uint64_t)pl[2] << 16 |
			     (uint64_t)pl[3] << 24 | (uint64_t)pl[4] << 32 | (uint64_t)pl[5] << 40 |
			     (uint64_t)pl[6] << 48 | (uint64_t)pl[7] << 56;
		if ((uint32_t)s != h->seq_lo)
			return EKV_ECORRUPT;
		ps->seq = s;
		ps->expect = h->seq_lo;
		ps->have_seq = true;
		ps->v->first_seq = s;
	}
	uint64_t seq = ps->seq;
	ps->v->last_seq = seq;
	ps->v->entries++;
	ps->seq++;
	ps->expect++;
	/* the window may move while the visitor reads flash: copy the payload */
	int e = ensure(&ps->scratch, &ps->scratch_cap, n ? n : 1);
	if (e < 0)
		return e;
	memcpy(ps->scratch, pl, n);
	switch (h->type) {
	case L2_E_COMMIT:
		if (h->flags & (L2_F_MORE | L2_F_CONT))
			return EKV_ECORRUPT;
		ps->in_frag = false; /* an unfinished checkpoint before it: abandoned */
		ps->v->commits++;
		return ps->vis->commit(ps->vis->ctx, seq, ps->scratch, n);
	case L2_E_CHECKPOINT:
		if (!(h->flags & L2_F_CONT)) {
			/* a new logical entry: one whose last fragment never came
			 * was abandoned by its writer and counts as not written */
			ps->frag_len = 0;
			ps->frag_seq = seq;
		} else if (!ps->in_frag) {
			return EKV_ECORRUPT;
		}
		e = ensure(&ps->frag, &ps->frag_cap, ps->frag_len + n);
		if (e < 0)
			return e;
		memcpy(ps->frag + ps->frag_len, ps->scratch, n);
		ps->frag_len += n;
		ps->in_frag = (h->flags & L2_F_MORE) != 0;
		if (ps->in_frag)
			return 0;
		return ps->vis->checkpoint(ps->vis->ctx, ps->frag_seq, ps->frag, ps->frag_len);
	case L2_E_CONTINUE:
		if (n != 12 || (h->flags & (L2_F_MORE | L2_F_CONT)))
			return EKV_ECORRUPT;
		l2_continue_decode(ps->scratch, cont);
		return 1;
	default:
		return EKV_ECORRUPT;
	}
}

enum stop { STOP_CONTINUE, STOP_ERASED, STOP_INVALID, STOP_FULL };

/* Parse one block from H.  *end: offset after the last valid entry. */
static int parse_block(struct parse *ps, uint32_t block, bool first_of_epoch, uint32_t *end,
		       enum stop *why, struct l2_continue *cont)
{
	const struct l2_geom *g = ps->g;
	uint32_t B = g->block_size, U = g->pu, pos = L2_HDR_SIZE;
	struct rd *r = &ps->r;
	int err = 0;
	rd_block(r, block);
	*end = pos;
	for (;;) {
		if (pos > B - L2_ENTRY_MIN) {
			*why = STOP_FULL;
			return 0;
		}
		/* an entry's first byte (type and flags) is never erased */
		const uint8_t *p = rd_get(r, pos, 1, &err);
		if (!p)
			return err;
		if (p[0] == g->erase_value) {
			/* padding to the next PU, a guard, or the end */
			uint32_t q = l2_align_up(pos, U);
			if (q != pos) {
				const uint8_t *pad = rd_get(r, pos, q - pos, &err);
				if (!pad)
					return err;
				if (l2_is_erased(pad, q - pos, g->erase_value)) {
					pos = q;
					continue;
				}
				*why = STOP_INVALID;
				return 0;
			}
			if (pos > B - U) {
				*why = STOP_ERASED;
				return 0;
			}
			const uint8_t *pu = rd_get(r, pos, U, &err);
			if (!pu)
				return err;
			if (!l2_is_erased(pu, U, g->erase_value)) {
				*why = STOP_INVALID;
				return 0;
			}
			struct l2_entry_hdr gh;
			int ok = ps->have_seq ? valid_entry_at(r, pos + U, ps->expect, false, &gh) : 0;
			if (ok < 0)
				return ok;
			if (ok && gh.seq_lo == ps->expect && (gh.flags & L2_F_RESUMED) &&
			    gh.resume_from == pos) {
				pos += U;
				continue;
			}
			if (ok)
				damage(ps, block, pos, "journal entries after an erased gap");
			*why = STOP_ERASED;
			return 0;
		}
		struct l2_entry_hdr h;
		int ok;
		if (ps->have_seq) {
			ok = valid_entry_at(r, pos, ps->expect, false, &h);
			if (ok > 0 && h.seq_lo != ps->expect)
				ok = 0;
		} else {
			/* the epoch's first entry: its seq is not known yet */
			p = rd_get(r, pos, L2_ENTRY_MIN, &err);
			if (!p)
				return err;
			ok = 0;
			if (first_of_epoch && l2_entry_hdr_decode(p, B - pos, &h) == 0) {
				const uint8_t *ent = rd_get(r, pos, h.len, &err);
				if (!ent)
					return err;
				ok = l2_entry_crc_ok(g, ent, h.len);
			}
		}
		if (ok < 0)
			return ok;
		if (!ok || ((h.flags & L2_F_RESUMED) && h.resume_from != pos - U)) {
			*why = STOP_INVALID;
			return 0;
		}
		const uint8_t *ent = rd_get(r, pos, h.len, &err);
		if (!ent)
			return err;
		int d = deliver(ps, &h, ent, cont);
		if (d == EKV_ECORRUPT) {
			damage(ps, block, pos, ps->have_seq ? "a journal entry holds invalid data"
							    : "the epoch does not start with a checkpoint");
			*why = STOP_INVALID;
			return 0;
		}
		if (d < 0)
			return d;
		pos += l2_align_up(h.len, g->align);
		*end = pos;
		if (d == 1) {
			*why = STOP_CONTINUE;
			return 0;
		}
	}
}

/* The tail block stopped at an invalid entry at `at`: torn (the last write)
 * or damage?  Valid entries after it, or a table opened after it, make it
 * damage. */
static int classify_tail(struct parse *ps, uint32_t block, uint32_t at)
{
	const struct l2_geom *g = ps->g;
	struct rd *r = &ps->r;
	for (uint32_t off = at + g->align; off + L2_ENTRY_MIN <= g->block_size; off += g->align) {
		struct l2_entry_hdr h;
		int ok = valid_entry_at(r, off, ps->expect, !ps->have_seq, &h);
		if (ok < 0)
			return ok;
		if (ok) {
			damage(ps, block, at, "a journal entry fails its check but later entries are valid");
			return 0;
		}
	}
	if (ps->have_seq && ps->vis->stamp_at_or_after &&
	    ps->vis->stamp_at_or_after(ps->vis->ctx, ps->expect)) {
		damage(ps, block, at,
		       "a journal entry fails its check but a table was written after it");
		return 0;
	}
	ps->v->torn = true;
	return 0;
}

int l2_jrn_parse(const struct l2_geom *g, struct ekv_flash *f, uint32_t epoch,
		 const struct l2_jblock *chain, uint32_t n, const struct l2_jrn_visitor *vis,
		 struct l2_jrn_verdict *v)
{
	memset(v, 0, sizeof(*v));
	struct parse ps = {.g = g, .vis = vis, .v = v};
	rd_init(&ps.r, g, f);
	int e = 0;
	struct l2_continue cont = {0};
	enum stop why = STOP_FULL;
	uint32_t end = L2_HDR_SIZE;
	for (uint32_t i = 0; i < n; i++) {
		if (chain[i].index != i) {
			damage(&ps, chain[i].block, 0, "a journal block of the epoch is missing");
			break;
		}
		if (i > 0) {
			/* how does block i follow block i-1? */
			bool by_continue = why == STOP_CONTINUE && cont.next_block == chain[i].block &&
					   cont.next_index == i && cont.next_epoch == epoch;
			bool by_link = why != STOP_CONTINUE && chain[i].link == end;
			if (!by_continue && !by_link) {
				damage(&ps, chain[i - 1].block, end,
				       why == STOP_CONTINUE ? "a journal CONTINUE names another block"
							    : "a journal block ends before its successor "
							      "says it does");
				break;
			}
		}
		e = parse_block(&ps, chain[i].block, i == 0, &end, &why, &cont);
		if (e < 0)
			goto out;
		v->tail_index = i;
		v->valid_end = end;
		if (!ps.have_seq) {
			/* block 0 without a valid first entry */
			if (n == 1 && why == STOP_INVALID)
				e = classify_tail(&ps, chain[0].block, L2_HDR_SIZE);
			else if (n > 1)
				damage(&ps, chain[0].block, L2_HDR_SIZE,
				       "the epoch's first checkpoint is unreadable");
			if (e == 0)
				e = EKV_ECORRUPT;
			goto out;
		}
		if (why == STOP_INVALID && i + 1 == n) {
			e = classify_tail(&ps, chain[i].block, end);
			if (e < 0)
				goto out;
		}
		if (v->damaged)
			break;
	}
	if (ps.in_frag && !v->damaged) {
		/* an unfinished checkpoint at the end: the torn last write */
		v->torn = true;
	}
	if (!v->damaged) {
		switch (why) {
		case STOP_CONTINUE:
			v->tail = L2_TAIL_CONTINUED;
			v->dangling = cont;
			break;
		case STOP_INVALID:
			v->tail = L2_TAIL_UNCLEAN;
			break;
		default:
			v->tail = L2_TAIL_CLEAN;
			break;
		}
	} else {
		v->tail = L2_TAIL_UNCLEAN;
	}
out:
	rd_free(&ps.r);
	free(ps.frag);
	free(ps.scratch);
	return e;
}

int l2_jrn_block_has_entries(const struct l2_geom *g, struct ekv_flash *f, uint32_t block)
{
	struct rd r;
	rd_init(&r, g, f);
	rd_block(&r, block);
	int found = 0;
	for (uint32_t off = L2_HDR_SIZE; off + L2_ENTRY_MIN <= g->block_size && !found;
	     off += g->align) {
		struct l2_entry_hdr h;
		found = valid_entry_at(&r, off, 0, true, &h);
	}
	rd_free(&r);
	return found;
}

/* ---- the writer ---------------------------------------------------------- */

int l2_jrn_init(struct l2_jrn *j, const struct l2_geom *g, struct l2_blocks *bl)
{
	memset(j, 0, sizeof(*j));
	j->g = g;
	j->bl = bl;
	return l2_bw_init(&j->w, bl);
}

void l2_jrn_destroy(struct l2_jrn *j)
{
	l2_bw_free(&j->w);
	free(j->chain);
	free(j->ebuf);
	j->chain = NULL;
	j->ebuf = NULL;
}

static int chain_push(struct l2_jrn *j, uint32_t block)
{
	if (j->nchain == j->capchain) {
		uint32_t cap = j->capchain ? j->capchain * 2 : 8;
		uint32_t *c = realloc(j->chain, cap * sizeof(*c));
		if (!c)
			return EKV_ENOMEM;
		j->chain = c;
		j->capchain = cap;
	}
	j->chain[j->nchain++] = block;
	return 0;
}

int l2_jrn_resume(struct l2_jrn *j, uint32_t epoch, const struct l2_jblock *chain, uint32_t n,
		  const struct l2_jrn_verdict *v)
{
	j->epoch = epoch;
	j->nchain = 0;
	uint32_t keep = v->tail_index + 1 < n ? v->tail_index + 1 : n;
	for (uint32_t i = 0; i < keep; i++) {
		int e = chain_push(j, chain[i].block);
		if (e < 0)
			return e;
		l2_blocks_set(j->bl, chain[i].block, L2B_JOURNAL);
	}
	j->next_seq = v->last_seq + 1;
	j->tail = v->tail;
	j->tail_end = v->valid_end;
	j->dangling = v->dangling;
	j->w.open = false;
	if (v->tail == L2_TAIL_CONTINUED && v->dangling.next_block < j->bl->n &&
	    l2_blocks_is_free(j->bl, v->dangling.next_block))
		l2_blocks_set(j->bl, v->dangling.next_block, L2B_RESERVED);
	return 0;
}

uint32_t l2_jrn_max_payload(const struct l2_geom *g)
{
	/* an empty block, after a guard PU, minus the CONTINUE room */
	uint32_t room = g->payload - g->pu - g->continue_room;
	return room / g->align * g->align - 16;
}

/* Bytes the tail block still takes for an entry (before the CONTINUE room);
 * 0 if the tail cannot take entries. */
static uint32_t tail_room(const struct l2_jrn *j)
{
	const struct l2_geom *g = j->g;
	uint32_t B = g->block_size, at;
	switch (j->tail) {
	case L2_TAIL_OPEN:
		at = j->w.pos;
		break;
	case L2_TAIL_CLEAN:
		at = l2_align_up(j->tail_end, g->pu) + g->pu;
		break;
	default:
		return 0;
	}
	if (at + g->continue_room >= B)
		return 0;
	return B - g->continue_room - at;
}

bool l2_jrn_fits(const struct l2_jrn *j, uint32_t payload, uint32_t max_blocks)
{
	const struct l2_geom *g = j->g;
	uint32_t need = l2_align_up(l2_entry_len(L2_F_RESUMED, payload), g->align);
	if (need <= tail_room(j))
		return true;
	if (j->tail == L2_TAIL_CONTINUED && j->dangling.next_epoch != j->epoch)
		return false;
	return j->nchain < max_blocks && payload <= l2_jrn_max_payload(g);
}

static int build(struct l2_jrn *j, uint8_t type, uint8_t flags, uint32_t resume_from,
		 const uint8_t *p, uint32_t n, uint32_t *len)
{
	uint32_t l = l2_entry_len(flags, n);
	uint32_t padded = l2_align_up(l, j->g->align);
	int e = ensure(&j->ebuf, &j->ebuf_cap, padded);
	if (e < 0)
		return e;
	struct l2_entry_hdr h = {.type = type, .flags = flags, .len = l, .resume_from = resume_from};
	h.seq_lo = (uint32_t)j->next_seq;
	l2_entry_hdr_encode(j->ebuf, &h);
	uint32_t hs = l2_entry_hdr_size(flags);
	if (n)
		memcpy(j->ebuf + hs, p, n);
	l2_entry_seal(j->g, j->ebuf, l);
	memset(j->ebuf + l, j->g->erase_value, padded - l);
	*len = padded;
	return 0;
}

int l2_jrn_sync(struct l2_jrn *j)
{
	int e = 0;
	if (j->w.open)
		e = l2_bw_sync(&j->w);
	if (e == 0 && j->need_sync) {
		e = flash_sync(j->bl->f);
		if (e == 0)
			j->need_sync = false;
	}
	return e;
}

/* Write one entry at the writer's position (room checked by the caller). */
static int put_entry(struct l2_jrn *j, uint8_t type, uint8_t flags, const uint8_t *p,
		     uint32_t n, bool patch_seq)
{
	uint32_t len;
	if (j->resume_pending)
		flags |= L2_F_RESUMED;
	int e = build(j, type, flags, j->resume_from, p, n, &len);
	if (e < 0)
		return e;
	if (patch_seq && n >= 8) {
		/* a checkpoint's payload starts with its own sequence number */
		uint8_t *pl = j->ebuf + l2_entry_hdr_size(flags);
		for (int i = 0; i < 8; i++)
			pl[i] = (uint8_t)(j->next_seq >> (8 * i));
		l2_entry_seal(j->g, j->ebuf, l2_entry_len(flags, n));
	}
	e = l2_bw_append(&j->w, j->ebuf, len);
	if (e < 0)
		return e;
	j->next_seq++;
	j->need_sync = true;
	j->resume_pending = false;
	return 0;
}

/* Make the tail block writable at its position: resume a clean tail behind
 * a guard (after checking that it really is erased); the next entry written
 * carries the RESUMED flag. */
static int open_tail(struct l2_jrn *j)
{
	const struct l2_geom *g = j->g;
	if (j->tail != L2_TAIL_CLEAN)
		return 0;
	uint32_t B = g->block_size, from = j->tail_end;
	uint32_t tail = j->chain[j->nchain - 1];
	uint8_t buf[512];
	for (uint32_t off = from; off < B;) {
		uint32_t k = B - off < sizeof(buf) ? B - off : (uint32_t)sizeof(buf);
		int e = flash_read(j->bl->f, tail, off, buf, k);
		if (e < 0)
			return e;
		if (!l2_is_erased(buf, k, g->erase_value)) {
			j->tail = L2_TAIL_UNCLEAN;
			return 0;
		}
		off += k;
	}
	uint32_t guard = l2_align_up(from, g->pu);
	if (guard + g->pu + g->continue_room >= B) {
		/* no room behind a guard: the next block links to this end */
		return 0;
	}
	l2_bw_resume(&j->w, tail, guard + g->pu);
	j->tail = L2_TAIL_OPEN;
	j->resume_pending = true;
	j->resume_from = guard;
	return 0;
}

/* Open the next block of the epoch (index nchain), CONTINUE-ing from the
 * tail when it can take one, else linking by the header. */
static int next_block(struct l2_jrn *j, uint32_t max_blocks)
{
	if (j->nchain >= max_blocks)
		return L2_JFULL;
	struct l2_blocks *bl = j->bl;
	uint32_t y;
	int e;
	bool reuse = j->tail == L2_TAIL_CONTINUED;
	if (reuse) {
		if (j->dangling.next_epoch != j->epoch || j->dangling.next_index != j->nchain ||
		    j->dangling.next_block >= bl->n)
			return L2_JFULL;
		y = j->dangling.next_block;
		l2_blocks_set(bl, y, L2B_USED);
	} else {
		e = l2_blocks_alloc(bl, &y);
		if (e < 0)
			return e;
	}
	uint32_t link = L2_NO_LINK;
	/* y is erased, durably, before anything names it */
	e = l2_blocks_erase(bl, y);
	if (e == 0)
		e = flash_sync(bl->f);
	if (e < 0)
		goto fail;
	if (j->tail == L2_TAIL_OPEN) {
		uint8_t c[12];
		struct l2_continue cc = {.next_block = y, .next_epoch = j->epoch,
					 .next_index = j->nchain};
		l2_continue_encode(c, &cc);
		e = put_entry(j, L2_E_CONTINUE, 0, c, sizeof(c), false);
		if (e == 0)
			e = l2_jrn_sync(j); /* the CONTINUE is durable before y is written */
		if (e < 0)
			goto fail;
	} else if (j->tail == L2_TAIL_UNCLEAN || j->tail == L2_TAIL_CLEAN) {
		link = j->tail_end;
	}
	l2_bw_close(&j->w);
	struct l2_block_hdr h = {.kind = L2_KIND_JOURNAL, .owner = j->epoch, .index = j->nchain,
				 .link = link};
	e = l2_bw_open(&j->w, y, &h);
	if (e < 0)
		goto fail;
	j->resume_pending = false; /* a guard belongs to the block it was left in */
	e = chain_push(j, y);
	if (e < 0)
		goto fail;
	l2_blocks_set(bl, y, L2B_JOURNAL);
	j->tail = L2_TAIL_OPEN;
	return 0;
fail:
	if (!reuse)
		l2_blocks_release(bl, y);
	return e;
}

/* Payload bytes an entry may take at the writer's position (after the
 * CONTINUE room), for an entry with header size hs. */
static uint32_t fragment_room(const struct l2_jrn *j, uint32_t hs)
{
	uint32_t room = tail_room(j);
	uint32_t overhead = hs + 4 + j->g->align;
	return room > overhead ? (room - overhead) / j->g->align * j->g->align : 0;
}

/* Payload bytes a fragment may take in a fresh block. */
static uint32_t fragment_room_fresh(const struct l2_geom *g)
{
	uint32_t room = g->payload - g->continue_room;
	uint32_t overhead = 12 + 4 + g->align;
	return room > overhead ? (room - overhead) / g->align * g->align : 0;
}

int l2_jrn_append(struct l2_jrn *j, uint8_t type, const uint8_t *p, uint32_t n,
		  uint32_t max_blocks, bool sync, uint64_t *seq)
{
	const struct l2_geom *g = j->g;
	if (type == L2_E_COMMIT && !l2_jrn_fits(j, n, max_blocks))
		return L2_JFULL;
	int e = open_tail(j);
	if (e < 0)
		return e;
	/* every block a fragmented entry needs is there before the first
	 * fragment is written */
	uint32_t first = j->tail == L2_TAIL_OPEN ? fragment_room(j, 12) : 0;
	if (n > first) {
		uint32_t per = fragment_room_fresh(g);
		uint32_t more = per ? (n - first + per - 1) / per : UINT32_MAX;
		if (more > l2_blocks_available(j->bl))
			return EKV_ENOSPC;
	}
	*seq = j->next_seq;
	uint32_t done = 0;
	bool fresh = false;
	do {
		uint32_t hs = l2_entry_hdr_size(j->resume_pending ? L2_F_RESUMED : 0);
		uint32_t room = j->tail == L2_TAIL_OPEN ? fragment_room(j, hs) : 0;
		uint32_t rest = n - done;
		bool whole = rest <= room;
		if (!whole && (type == L2_E_COMMIT || room < 16 + g->align)) {
			if (fresh)
				return EKV_ETOOBIG; /* not even an empty block takes it */
			e = next_block(j, max_blocks);
			if (e != 0)
				return e;
			fresh = true;
			continue;
		}
		uint32_t take = whole ? rest : room;
		uint8_t fl = (whole ? 0 : L2_F_MORE) | (done ? L2_F_CONT : 0);
		e = put_entry(j, type, fl, p + done, take, type == L2_E_CHECKPOINT && done == 0);
		if (e < 0)
			return e;
		done += take;
		fresh = false;
	} while (done < n);
	return sync ? l2_jrn_sync(j) : 0;
}

static int start_epoch(struct l2_jrn *j, uint32_t x, const uint8_t *p, uint32_t n,
		       uint64_t *seq)
{
	struct l2_block_hdr h = {.kind = L2_KIND_JOURNAL, .owner = j->epoch, .index = 0,
				 .link = L2_NO_LINK};
	l2_bw_close(&j->w);
	int e = l2_bw_open(&j->w, x, &h);
	if (e < 0)
		return e;
	j->resume_pending = false;
	j->nchain = 0;
	e = chain_push(j, x);
	if (e < 0)
		return e;
	l2_blocks_set(j->bl, x, L2B_JOURNAL);
	j->tail = L2_TAIL_OPEN;
	return l2_jrn_append(j, L2_E_CHECKPOINT, p, n, UINT32_MAX, true, seq);
}

int l2_jrn_new_epoch(struct l2_jrn *j, const uint8_t *p, uint32_t n, uint64_t *seq,
		     uint32_t **old, uint32_t *n_old)
{
	struct l2_blocks *bl = j->bl;
	uint32_t x;
	int e;
	bool reuse = j->tail == L2_TAIL_CONTINUED && j->dangling.next_epoch == j->epoch + 1 &&
		     j->dangling.next_index == 0 && j->dangling.next_block < bl->n;
	if (reuse) {
		x = j->dangling.next_block;
		l2_blocks_set(bl, x, L2B_USED);
	} else {
		e = l2_blocks_alloc(bl, &x);
		if (e < 0)
			return e;
	}
	e = l2_blocks_erase(bl, x);
	if (e == 0)
		e = flash_sync(bl->f);
	if (e < 0)
		goto fail;
	if (j->tail == L2_TAIL_OPEN && tail_room(j) + j->g->continue_room >= L2_CONTINUE_LEN) {
		uint8_t c[12];
		struct l2_continue cc = {.next_block = x, .next_epoch = j->epoch + 1,
					 .next_index = 0};
		l2_continue_encode(c, &cc);
		e = put_entry(j, L2_E_CONTINUE, 0, c, sizeof(c), false);
		if (e == 0)
			e = l2_jrn_sync(j);
		if (e < 0)
			goto fail;
	}
	uint32_t *prev = j->chain;
	uint32_t n_prev = j->nchain;
	j->chain = NULL;
	j->nchain = j->capchain = 0;
	j->epoch++;
	e = start_epoch(j, x, p, n, seq);
	if (e < 0) {
		free(prev);
		return e; /* the caller remounts: the journal is in an unknown state */
	}
	*old = prev;
	*n_old = n_prev;
	return 0;
fail:
	if (!reuse)
		l2_blocks_release(bl, x);
	return e;
}

int l2_jrn_format(struct l2_jrn *j, const uint8_t *p, uint32_t n)
{
	uint32_t x;
	int e = l2_blocks_alloc(j->bl, &x);
	if (e < 0)
		return e;
	j->epoch = 1;
	j->next_seq = 1;
	j->nchain = 0;
	uint64_t seq;
	return start_epoch(j, x, p, n, &seq);
}
