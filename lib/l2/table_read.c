/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * l2/table_read.c — reading a table: index pages, leaves, point lookups
 * and ordered iteration (docs/FORMAT.md §L6).
 *
 * Owns: the check of every index page (CRC, entries decodable, keys
 * strictly ascending from its top index key and below the next one, leaves
 * inside the stream before the filter) before it is used or cached, and of
 * every leaf (CRC, records decodable within the geometry's limits and
 * filling it exactly, keys strictly ascending from its index key and below
 * the next leaf's; the table's last leaf ends at its largest key).  So a
 * table read in full order is strictly ascending across leaves and pages.
 * Must never use a byte of a page or leaf before that check, or loop on a
 * count read from flash without a bound of its own; anything inconsistent
 * is EKV_ECORRUPT.
 */
#include <stdlib.h>
#include <string.h>

#include "l2/table_int.h"
#include "util.h"

/* ---- index pages ---------------------------------------------------------- */

/* An exclusive upper bound on a key range, or the table's largest key
 * inclusive (the last leaf / page). */
struct bound {
	const uint8_t *key;
	uint32_t klen;
	bool incl;
};

static bool below(const uint8_t *k, uint32_t kl, const struct bound *b)
{
	int c = l2_key_cmp(k, kl, b->key, b->klen);
	return b->incl ? c <= 0 : c < 0;
}

/* Upper bound of top entry ti's page. */
static struct bound page_bound(const struct l2_table *t, uint32_t ti)
{
	if (ti + 1 < t->ntop)
		return (struct bound){t->top[ti + 1].key, t->top[ti + 1].klen, false};
	return (struct bound){t->max_key, t->max_klen, true};
}

/* Entry count of a checked page and the offset of its first entry. */
static uint32_t page_count(const uint8_t *p, uint32_t n, uint32_t *count)
{
	return l2_varint_get(p, n, count);
}

static int page_check(const struct l2_geom *g, const struct l2_table *t, uint32_t ti,
		      const uint8_t *p, uint32_t n)
{
	const struct l2_index_entry *te = &t->top[ti];
	uint32_t count;
	if (n < 8 || get_le32(p + n - 4) != l2_stream_crc(g, t->id, te->off, p, n - 4))
		return EKV_ECORRUPT;
	uint32_t body = n - 4, pos = page_count(p, body, &count);
	if (!pos || count == 0 || count > (body - pos) / 3)
		return EKV_ECORRUPT;
	uint32_t end = l2_table_data_end(t), leaf_max = l2_leaf_max(g), prev_end = 0;
	struct l2_index_entry prev = {0}, e;
	for (uint32_t i = 0; i < count; i++) {
		uint32_t k = l2_index_entry_decode(p + pos, body - pos, g, &e);
		if (!k || e.off < prev_end || e.off > end || e.len > end - e.off ||
		    e.len > leaf_max || e.len < 6 || /* one record of an empty key, and the CRC */
		    (i == 0 ? l2_key_cmp(e.key, e.klen, te->key, te->klen) != 0
			    : l2_key_cmp(prev.key, prev.klen, e.key, e.klen) >= 0))
			return EKV_ECORRUPT;
		prev = e;
		prev_end = e.off + e.len;
		pos += k;
	}
	struct bound b = page_bound(t, ti);
	if (pos != body || !below(prev.key, prev.klen, &b))
		return EKV_ECORRUPT;
	return 0;
}

/* Index page ti of t into r->page: from the cache, or read and checked
 * (then cached). */
static int page_fetch(struct l2_treader *r, const struct l2_table *t, uint32_t ti)
{
	const struct l2_index_entry *te = &t->top[ti];
	int e = l2_tbuf_reserve(&r->page, &r->page_cap, te->len);
	if (e < 0)
		return e;
	if (r->cache && l2_cache_lookup(r->cache, t->id, te->off, r->page, te->len))
		return 0;
	e = l2_tstream_read(r->g, r->f, t, te->off, r->page, te->len);
	if (e == 0)
		e = page_check(r->g, t, ti, r->page, te->len);
	if (e == 0 && r->cache)
		l2_cache_insert(r->cache, t->id, te->off, r->page, te->len);
	return e;
}

/* In a checked page: the last entry whose key is <= key (the first one
 * when all are greater), its position (*at) and index (*idx), and the
 * bound of its leaf. */
static void page_find(const struct l2_geom *g, const struct l2_table *t, uint32_t ti,
		      const uint8_t *p, uint32_t n, const uint8_t *key, uint32_t klen,
		      struct l2_index_entry *found, uint32_t *at, uint32_t *idx, struct bound *b)
{
	uint32_t count, body = n - 4, pos = page_count(p, body, &count);
	*b = page_bound(t, ti);
	*at = pos;
	*idx = 0;
	pos += l2_index_entry_decode(p + pos, body - pos, g, found);
	for (uint32_t i = 1; i < count; i++) {
		struct l2_index_entry e;
		uint32_t k = l2_index_entry_decode(p + pos, body - pos, g, &e);
		if (l2_key_cmp(e.key, e.klen, key, klen) > 0) {
			*b = (struct bound){e.key, e.klen, false};
			return;
		}
		*found = e;
		*at = pos;
		*idx = i;
		pos += k;
	}
}

/* ---- leaves --------------------------------------------------------------- */

/* Read the leaf of index entry e into r->leaf and check its CRC. */
static int leaf_fetch(struct l2_treader *r, const struct l2_table *t,
		      const struct l2_index_entry *e)
{
	int err = l2_tbuf_reserve(&r->leaf, &r->leaf_cap, e->len);
	if (err == 0)
		err = l2_tstream_read(r->g, r->f, t, e->off, r->leaf, e->len);
	if (err == 0 && get_le32(r->leaf + e->len - 4) !=
				l2_stream_crc(r->g, t->id, e->off, r->leaf, e->len - 4))
		err = EKV_ECORRUPT;
	return err;
}

/*
 * Check a leaf's n record bytes: every record decodes within the geometry's
 * limits, they fill the leaf, the first key is the index entry's, keys
 * ascend strictly and stay within b (the table's last leaf ends exactly at
 * the largest key).  *at: offset of the first record >= key (> key when
 * !incl; n when none; 0 when key is NULL).
 */
static int leaf_check(const struct l2_geom *g, const uint8_t *p, uint32_t n,
		      const struct l2_index_entry *ie, const struct bound *b, const uint8_t *key,
		      uint32_t klen, bool incl, uint32_t *at)
{
	struct l2_rec rec, prev = {0};
	uint32_t pos = 0;
	*at = key ? n : 0;
	while (pos < n) { /* each record takes at least 3 bytes */
		uint32_t k = l2_rec_decode(p + pos, n - pos, g, &rec);
		if (!k || !below(rec.key, rec.klen, b) ||
		    (pos == 0 ? l2_key_cmp(rec.key, rec.klen, ie->key, ie->klen) != 0
			      : l2_key_cmp(prev.key, prev.klen, rec.key, rec.klen) >= 0))
			return EKV_ECORRUPT;
		if (*at == n) {
			int c = l2_key_cmp(rec.key, rec.klen, key, klen);
			if (c > 0 || (c == 0 && incl))
				*at = pos;
		}
		prev = rec;
		pos += k;
	}
	if (n == 0 || (b->incl && l2_key_cmp(prev.key, prev.klen, b->key, b->klen) != 0))
		return EKV_ECORRUPT;
	return 0;
}

/* ---- point lookups -------------------------------------------------------- */

/* 0: the filter says the key is absent, 1: it may be present. */
static int filter_may_hold(struct l2_table *t, struct l2_treader *r, const uint8_t *key,
			   uint32_t klen)
{
	uint8_t blk[L2_FILTER_BLOCK];
	uint64_t h = l2_hash64(r->g->image_id, key, klen);
	uint32_t b = l2_filter_block_of(h, t->filter_blocks);
	int e = l2_tstream_read(r->g, r->f, t, t->filter_off + b * L2_FILTER_BLOCK, blk,
				L2_FILTER_BLOCK);
	if (e < 0)
		return e;
	if (!l2_filter_block_ok(r->g, t->id, b, blk))
		return EKV_ECORRUPT;
	return l2_filter_test(blk, h, t->filter_k) ? 1 : 0;
}

int l2_table_get(struct l2_table *t, struct l2_treader *r, const uint8_t *key, uint32_t klen,
		 bool use_filter, bool *del, uint8_t *value, size_t cap, size_t *vlen)
{
	if (!l2_table_covers(t, key, klen))
		return 0;
	int e;
	if (use_filter && t->filter_blocks) {
		e = filter_may_hold(t, r, key, klen);
		if (e <= 0)
			return e;
	}
	e = l2_table_load_top(t, r->g, r->f);
	if (e < 0)
		return e;
	uint32_t ti = l2_table_top_find(t, key, klen), at, idx;
	e = page_fetch(r, t, ti);
	if (e < 0)
		return e;
	struct l2_index_entry ie;
	struct bound b;
	page_find(r->g, t, ti, r->page, t->top[ti].len, key, klen, &ie, &at, &idx, &b);
	e = leaf_fetch(r, t, &ie);
	if (e == 0)
		e = leaf_check(r->g, r->leaf, ie.len - 4, &ie, &b, key, klen, true, &at);
	if (e < 0)
		return e;
	struct l2_rec rec;
	if (at == ie.len - 4 || !l2_rec_decode(r->leaf + at, ie.len - 4 - at, r->g, &rec) ||
	    l2_key_cmp(rec.key, rec.klen, key, klen) != 0)
		return 0;
	*del = rec.del;
	*vlen = rec.vlen;
	if (rec.del)
		return 1;
	if (cap < rec.vlen)
		return EKV_ERANGE;
	if (rec.vlen)
		memcpy(value, rec.val, rec.vlen);
	return 1;
}

/* ---- iteration ------------------------------------------------------------ */

#define NO_INDEX_PAGE UINT32_MAX

struct titer {
	struct l2_src src; /* first: the table's l2_src */
	struct l2_table *t;
	struct l2_treader rd; /* its own buffers: cur points into rd.leaf */
	uint32_t ti;          /* top entry of the page in rd.page, or NO_INDEX_PAGE */
	uint32_t pcount, pidx, ppos; /* the page's entries; the next one at ppos */
	uint32_t lend, lpos;  /* the leaf's record bytes; the next record at lpos */
	bool positioned;
};

static int it_load_page(struct titer *it, uint32_t ti)
{
	int e = page_fetch(&it->rd, it->t, ti);
	if (e < 0)
		return e;
	it->ti = ti;
	it->ppos = page_count(it->rd.page, it->t->top[ti].len - 4, &it->pcount);
	it->pidx = 0;
	return 0;
}

/* Load the leaf of the page's next entry (the next page's first when this
 * page is done) and check it; lpos at the first record >= key (> key when
 * !incl) when key is given.  1 loaded, 0 past the last leaf, <0 error. */
static int it_next_leaf(struct titer *it, const uint8_t *key, uint32_t klen, bool incl)
{
	struct l2_table *t = it->t;
	const struct l2_geom *g = it->rd.g;
	if (it->ti == NO_INDEX_PAGE || it->pidx == it->pcount) {
		uint32_t next = it->ti == NO_INDEX_PAGE ? 0 : it->ti + 1;
		if (next >= t->ntop)
			return 0;
		int e = it_load_page(it, next); /* a checked page holds >= 1 entry */
		if (e < 0)
			return e;
	}
	uint32_t body = t->top[it->ti].len - 4;
	struct l2_index_entry ie, nx;
	it->ppos += l2_index_entry_decode(it->rd.page + it->ppos, body - it->ppos, g, &ie);
	it->pidx++;
	struct bound b = page_bound(t, it->ti);
	if (it->pidx < it->pcount) {
		l2_index_entry_decode(it->rd.page + it->ppos, body - it->ppos, g, &nx);
		b = (struct bound){nx.key, nx.klen, false};
	}
	int e = leaf_fetch(&it->rd, t, &ie);
	if (e == 0)
		e = leaf_check(g, it->rd.leaf, ie.len - 4, &ie, &b, key, klen, incl, &it->lpos);
	if (e < 0)
		return e;
	it->lend = ie.len - 4;
	return 1;
}

/* Deliver the record at lpos, moving to later leaves while the current
 * one is exhausted (at most every leaf once). */
static int it_deliver(struct titer *it)
{
	while (it->lpos == it->lend) {
		int e = it_next_leaf(it, NULL, 0, true);
		if (e <= 0) {
			it->positioned = false;
			return e;
		}
	}
	uint32_t k = l2_rec_decode(it->rd.leaf + it->lpos, it->lend - it->lpos, it->rd.g,
				   &it->src.cur);
	it->lpos += k; /* checked leaf: k > 0 */
	it->positioned = true;
	return 1;
}

static int it_seek(struct l2_src *s, const uint8_t *key, uint32_t klen, bool incl)
{
	struct titer *it = (struct titer *)s;
	struct l2_table *t = it->t;
	it->positioned = false;
	it->ti = NO_INDEX_PAGE;
	it->lpos = it->lend = 0;
	int e = l2_table_load_top(t, it->rd.g, it->rd.f);
	if (e < 0)
		return e;
	if (key) {
		int c = l2_key_cmp(key, klen, t->max_key, t->max_klen);
		if (c > 0 || (c == 0 && !incl))
			return 0;
		uint32_t ti = l2_table_top_find(t, key, klen);
		e = it_load_page(it, ti);
		if (e < 0)
			return e;
		/* position on the entry whose leaf may hold key: it_next_leaf
		 * loads it */
		struct l2_index_entry ie;
		struct bound b;
		page_find(it->rd.g, t, ti, it->rd.page, t->top[ti].len, key, klen, &ie, &it->ppos,
			  &it->pidx, &b);
	}
	e = it_next_leaf(it, key, klen, incl);
	if (e <= 0)
		return e;
	return it_deliver(it);
}

static int it_next(struct l2_src *s)
{
	struct titer *it = (struct titer *)s;
	if (!it->positioned)
		return 0;
	return it_deliver(it);
}

static void it_close(struct l2_src *s)
{
	struct titer *it = (struct titer *)s;
	l2_treader_free(&it->rd);
	l2_table_put(it->t);
	free(it);
}

int l2_table_iter(struct l2_table *t, struct l2_treader *r, struct l2_src **out)
{
	struct titer *it = calloc(1, sizeof(*it));
	if (!it)
		return EKV_ENOMEM;
	it->src.seek = it_seek;
	it->src.next = it_next;
	it->src.close = it_close;
	l2_treader_init(&it->rd, r->g, r->f, r->cache);
	l2_table_get_ref(t);
	it->t = t;
	it->ti = NO_INDEX_PAGE;
	*out = &it->src;
	return 0;
}
