/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * l2/table_write.c — writing a table front to back (docs/FORMAT.md §L6,
 * §L8): leaves, index pages between them, the filter, the top index and the
 * footer, over blocks allocated one at a time.
 *
 * Owns: when a leaf or an index page is closed (the next record or entry
 * would pass the geometry's target, or cross a read unit the structure
 * fits in), where each structure goes in the stream (erased gaps only
 * before a read unit or the filter's 64-byte alignment), and every
 * structure's CRC.  Holds in RAM one leaf, one index page, the top index
 * entries and the filter — never the table.  Must never program a PU
 * twice or out of order (all programs go through l2_bw), leave a block it
 * allocated behind when it fails, or report a table before flash_sync.
 */
#include <stdlib.h>
#include <string.h>

#include "flash.h"
#include "l2/table_int.h"
#include "util.h"

/* Filter sizing (§L6): about 10 bits per expected key; k = 6 is the best
 * for 480-bit blocks at that load (≈1 % false positives). */
#define FILTER_BITS_PER_KEY 10u
#define FILTER_K 6u
#define FILTER_MAX_BLOCKS (1u << 24) /* 1 GiB: more is a caller's mistake */
/* Index pages and the top index keep room for their count's LEB128 in
 * front of their entries. */
#define COUNT_ROOM 5u

struct l2_twriter {
	const struct l2_geom *g;
	struct l2_blocks *bl;
	struct l2_cache *cache;
	uint32_t id, stamp;
	uint8_t level;
	int failed;          /* first error: the writer only aborts after it */
	struct l2_bw bw;
	uint32_t *blocks, nblocks, blocks_cap;
	uint32_t pos;        /* stream bytes written */
	uint32_t records;
	uint8_t *bufs; /* one allocation: the leaf, the page and the keys below */
	/* the leaf being filled: records from leaf[0], starting at leaf_off */
	uint8_t *leaf;
	uint32_t leaf_len, leaf_off;
	/* the index page being filled: entries from page[COUNT_ROOM] */
	uint8_t *page;
	uint32_t page_len, page_count;
	/* the top index: entries from top[COUNT_ROOM] */
	uint8_t *top;
	uint32_t top_len, top_cap, ntop;
	/* keys (max_key bytes each): the leaf's and page's first, the table's
	 * first, the last added */
	uint8_t *leaf_key, *page_key, *min_key, *last_key;
	uint32_t leaf_klen, page_klen, min_klen, last_klen;
	uint8_t *filter;
	uint32_t filter_blocks;
};

/* ---- blocks and the stream ------------------------------------------------ */

static int grow_blocks(struct l2_twriter *w)
{
	if (w->nblocks < w->blocks_cap)
		return 0;
	uint32_t cap = w->blocks_cap ? w->blocks_cap * 2 : 8;
	uint32_t *b = realloc(w->blocks, sizeof(uint32_t) * cap);
	if (!b)
		return EKV_ENOMEM;
	w->blocks = b;
	w->blocks_cap = cap;
	return 0;
}

/* Close the current block (its partial PU padded) and open the next one
 * with a table header. */
static int open_next_block(struct l2_twriter *w)
{
	int e = grow_blocks(w);
	if (e < 0)
		return e;
	if (w->bw.open) {
		e = l2_bw_sync(&w->bw);
		if (e < 0)
			return e;
		l2_bw_close(&w->bw);
	}
	uint32_t b;
	e = l2_blocks_alloc(w->bl, &b);
	if (e < 0)
		return e;
	w->blocks[w->nblocks] = b; /* recorded first: abort releases it */
	struct l2_block_hdr h = {.kind = L2_KIND_TABLE, .owner = w->id, .index = w->nblocks,
				 .link = w->stamp};
	w->nblocks++;
	return l2_bw_open(&w->bw, b, &h);
}

/* Move the open block's writer to block offset boff, leaving the bytes in
 * between erased: whole PUs are skipped, a partial one is programmed with
 * erased bytes together with what follows it. */
static int gap_to(struct l2_twriter *w, uint32_t boff)
{
	struct l2_bw *bw = &w->bw;
	uint32_t U = w->g->pu;
	if (boff <= bw->pos)
		return 0;
	if (boff / U > bw->pos / U) {
		int e = l2_bw_sync(bw); /* pads the current PU */
		if (e < 0)
			return e;
		if (boff / U * U > bw->pos)
			l2_bw_resume(bw, bw->block, boff / U * U);
	}
	uint8_t erased[64];
	memset(erased, w->g->erase_value, sizeof(erased));
	while (bw->pos < boff) { /* less than one PU */
		uint32_t n = boff - bw->pos < sizeof(erased) ? boff - bw->pos : sizeof(erased);
		int e = l2_bw_append(bw, erased, n);
		if (e < 0)
			return e;
	}
	return 0;
}

/* Write n bytes at stream offset s >= w->pos (bytes between stay erased),
 * splitting at block ends; appends go in bounded chunks so the PU writer's
 * staging stays small whatever a record's size. */
static int stream_write(struct l2_twriter *w, uint32_t s, const uint8_t *p, uint32_t n)
{
	const struct l2_geom *g = w->g;
	uint32_t chunk = g->pu > 4096 ? g->pu : 4096;
	if (s < w->pos || (uint64_t)s + n > L2_TSTREAM_MAX)
		return EKV_ENOSPC;
	while (n) {
		uint32_t bi = s / g->payload, boff = L2_HDR_SIZE + s % g->payload;
		int e = 0;
		if (bi > w->nblocks)
			return EKV_EINVAL; /* placement never skips a whole block */
		if (bi == w->nblocks)
			e = open_next_block(w);
		if (e == 0)
			e = gap_to(w, boff);
		uint32_t take = g->block_size - boff < n ? g->block_size - boff : n;
		take = take < chunk ? take : chunk;
		if (e == 0)
			e = l2_bw_append(&w->bw, p, take);
		if (e < 0)
			return e;
		s += take;
		p += take;
		n -= take;
	}
	w->pos = s;
	return 0;
}

/* ---- leaves and index pages ------------------------------------------------ */

static void set_key(uint8_t *dst, uint32_t *dlen, const uint8_t *k, uint32_t klen)
{
	memcpy(dst, k, klen);
	*dlen = klen;
}

/* Append an encoded entry to a top index (which grows: one per page). */
static int top_add(struct l2_twriter *w, const struct l2_index_entry *e)
{
	uint32_t es = l2_index_entry_size(e->klen, e->off, e->len);
	uint32_t need = COUNT_ROOM + w->top_len + es + 4;
	int err = l2_tbuf_reserve(&w->top, &w->top_cap,
				  need > w->top_cap && need < 2 * w->top_cap ? 2 * w->top_cap : need);
	if (err < 0)
		return err;
	w->top_len += l2_index_entry_encode(w->top + COUNT_ROOM + w->top_len, e);
	w->ntop++;
	return 0;
}

/* Put the count in front of entries kept at buf + COUNT_ROOM and seal
 * them with the stream CRC for offset `off`; returns the structure's first
 * byte (*size bytes). */
static uint8_t *seal_index(const struct l2_twriter *w, uint8_t *buf, uint32_t count,
			   uint32_t len, uint32_t off, uint32_t *size)
{
	uint8_t *p = buf + COUNT_ROOM - l2_varint_size(count);
	l2_varint_put(p, count);
	*size = l2_index_size(count, len);
	put_le32(p + *size - 4, l2_stream_crc(w->g, w->id, off, p, *size - 4));
	return p;
}

static int write_page(struct l2_twriter *w)
{
	uint32_t size = l2_index_size(w->page_count, w->page_len);
	uint32_t off = l2_tstream_place(w->g, w->pos, size);
	uint8_t *p = seal_index(w, w->page, w->page_count, w->page_len, off, &size);
	int e = stream_write(w, off, p, size);
	if (e < 0)
		return e;
	struct l2_index_entry te = {.key = w->page_key, .klen = w->page_klen, .off = off,
				    .len = size};
	w->page_len = w->page_count = 0;
	return top_add(w, &te);
}

static int page_add(struct l2_twriter *w, const struct l2_index_entry *e)
{
	uint32_t es = l2_index_entry_size(e->klen, e->off, e->len);
	if (w->page_count &&
	    l2_index_size(w->page_count + 1, w->page_len + es) > w->g->index_target) {
		int err = write_page(w);
		if (err < 0)
			return err;
	}
	if (w->page_count == 0)
		set_key(w->page_key, &w->page_klen, e->key, e->klen);
	w->page_len += l2_index_entry_encode(w->page + COUNT_ROOM + w->page_len, e);
	w->page_count++;
	return 0;
}

static int close_leaf(struct l2_twriter *w)
{
	uint32_t len = w->leaf_len + 4;
	put_le32(w->leaf + w->leaf_len,
		 l2_stream_crc(w->g, w->id, w->leaf_off, w->leaf, w->leaf_len));
	int e = stream_write(w, w->leaf_off, w->leaf, len);
	if (e < 0)
		return e;
	w->leaf_len = 0;
	struct l2_index_entry ie = {.key = w->leaf_key, .klen = w->leaf_klen, .off = w->leaf_off,
				    .len = len};
	return page_add(w, &ie);
}

/* ---- the writer ------------------------------------------------------------ */

static void writer_free(struct l2_twriter *w)
{
	l2_bw_free(&w->bw);
	free(w->blocks);
	free(w->bufs);
	free(w->top);
	free(w->filter);
	free(w);
}

int l2_twriter_new(const struct l2_geom *g, struct l2_blocks *bl, struct l2_cache *cache,
		   uint32_t id, uint8_t level, uint32_t stamp, uint32_t filter_keys,
		   struct l2_twriter **out)
{
	uint64_t nfilter = filter_keys ? ((uint64_t)filter_keys * FILTER_BITS_PER_KEY +
					  L2_FILTER_BITS - 1) / L2_FILTER_BITS
				       : 0;
	if (level >= L2_LEVELS || nfilter > FILTER_MAX_BLOCKS)
		return EKV_EINVAL;
	struct l2_twriter *w = calloc(1, sizeof(*w));
	if (!w)
		return EKV_ENOMEM;
	w->g = g;
	w->bl = bl;
	w->cache = cache;
	w->id = id;
	w->level = level;
	w->stamp = stamp;
	w->filter_blocks = (uint32_t)nfilter;
	int e = l2_bw_init(&w->bw, bl);
	uint32_t leaf_max = l2_leaf_max(g), page_max = COUNT_ROOM + l2_page_max(g);
	w->bufs = malloc(leaf_max + page_max + 4u * g->max_key);
	w->filter = nfilter ? calloc(nfilter, L2_FILTER_BLOCK) : NULL;
	if (e < 0 || !w->bufs || (nfilter && !w->filter)) {
		writer_free(w);
		return EKV_ENOMEM;
	}
	w->leaf = w->bufs;
	w->page = w->leaf + leaf_max;
	w->leaf_key = w->page + page_max;
	w->page_key = w->leaf_key + g->max_key;
	w->min_key = w->page_key + g->max_key;
	w->last_key = w->min_key + g->max_key;
	*out = w;
	return 0;
}

int l2_twriter_add(struct l2_twriter *w, const struct l2_rec *r)
{
	const struct l2_geom *g = w->g;
	if (w->failed)
		return w->failed;
	if (r->klen > g->max_key || r->vlen > g->max_value ||
	    (r->del && r->vlen) ||
	    (w->records && l2_key_cmp(w->last_key, w->last_klen, r->key, r->klen) >= 0))
		return EKV_EINVAL;
	uint32_t rs = l2_rec_size(r->klen, r->vlen);
	int e = 0;
	if (w->leaf_len &&
	    (w->leaf_len + rs + 4 > g->leaf_target ||
	     l2_tstream_crosses(g, w->leaf_off, w->leaf_len + rs + 4)))
		e = close_leaf(w);
	if (e == 0 && w->pos > L2_TSTREAM_MAX - g->block_size)
		e = EKV_ENOSPC; /* the stream's size field would not hold it */
	if (e < 0) {
		w->failed = e;
		return e;
	}
	if (w->leaf_len == 0) {
		w->leaf_off = l2_tstream_place(g, w->pos, rs + 4);
		set_key(w->leaf_key, &w->leaf_klen, r->key, r->klen);
	}
	w->leaf_len += l2_rec_encode(w->leaf + w->leaf_len, r);
	if (w->filter_blocks) {
		uint64_t h = l2_hash64(g->image_id, r->key, r->klen);
		l2_filter_set(w->filter + (size_t)L2_FILTER_BLOCK *
						  l2_filter_block_of(h, w->filter_blocks),
			      h, FILTER_K);
	}
	if (w->records == 0)
		set_key(w->min_key, &w->min_klen, r->key, r->klen);
	set_key(w->last_key, &w->last_klen, r->key, r->klen);
	w->records++;
	return 0;
}

uint32_t l2_twriter_bytes(const struct l2_twriter *w)
{
	uint32_t n = w->leaf_len ? w->leaf_off + w->leaf_len + 4 : w->pos;
	return n + (w->page_count ? l2_index_size(w->page_count, w->page_len) : 0);
}

uint32_t l2_twriter_records(const struct l2_twriter *w)
{
	return w->records;
}

static uint32_t footer_size(const struct l2_twriter *w)
{
	struct l2_footer f = {.min_klen = w->min_klen, .max_klen = w->last_klen};
	return l2_footer_size(&f);
}

/* Stream end and top index after writing a page of count entries (len
 * bytes, first key klen bytes) at *s — write_page without writing. */
static void plan_page(const struct l2_geom *g, uint32_t *s, uint32_t count, uint32_t len,
		      uint32_t klen, uint32_t *ntop, uint32_t *top_len)
{
	uint32_t size = l2_index_size(count, len), off = l2_tstream_place(g, *s, size);
	*s = off + size;
	*top_len += l2_index_entry_size(klen, off, size);
	(*ntop)++;
}

/* Where the stream would end if the writer finished now: the steps of
 * l2_twriter_finish without writing. */
uint32_t l2_twriter_blocks(const struct l2_twriter *w)
{
	const struct l2_geom *g = w->g;
	if (w->records == 0)
		return w->nblocks;
	uint32_t s = w->pos, count = w->page_count, len = w->page_len, klen = w->page_klen;
	uint32_t ntop = w->ntop, top_len = w->top_len;
	if (w->leaf_len) { /* close_leaf */
		uint32_t ll = w->leaf_len + 4;
		uint32_t es = l2_index_entry_size(w->leaf_klen, w->leaf_off, ll);
		s = w->leaf_off + ll;
		if (count && l2_index_size(count + 1, len + es) > g->index_target) {
			plan_page(g, &s, count, len, klen, &ntop, &top_len);
			count = len = 0;
		}
		if (count == 0)
			klen = w->leaf_klen;
		count++;
		len += es;
	}
	if (count)
		plan_page(g, &s, count, len, klen, &ntop, &top_len);
	if (w->filter_blocks)
		s = l2_align_up(s, L2_FILTER_BLOCK) + w->filter_blocks * L2_FILTER_BLOCK;
	uint32_t tsize = l2_index_size(ntop, top_len);
	s = l2_tstream_place(g, s, tsize) + tsize + footer_size(w);
	return (s + g->payload - 1) / g->payload;
}

/* The filter, the top index and the footer (its fields filled in f). */
static int write_tail(struct l2_twriter *w, struct l2_footer *f)
{
	const struct l2_geom *g = w->g;
	int e;
	f->filter_off = w->pos;
	if (w->filter_blocks) {
		f->filter_off = l2_align_up(w->pos, L2_FILTER_BLOCK);
		for (uint32_t b = 0; b < w->filter_blocks; b++)
			l2_filter_seal(g, w->id, b, w->filter + (size_t)L2_FILTER_BLOCK * b);
		e = stream_write(w, f->filter_off, w->filter, w->filter_blocks * L2_FILTER_BLOCK);
		if (e < 0)
			return e;
		f->filter_k = FILTER_K;
		f->filter_blocks = w->filter_blocks;
	}
	uint32_t tsize = l2_index_size(w->ntop, w->top_len);
	f->top_off = l2_tstream_place(g, w->pos, tsize);
	uint8_t *p = seal_index(w, w->top, w->ntop, w->top_len, f->top_off, &f->top_len);
	e = stream_write(w, f->top_off, p, f->top_len);
	if (e < 0)
		return e;
	f->table_id = w->id;
	f->level = w->level;
	f->records = w->records;
	f->min_key = w->min_key;
	f->min_klen = w->min_klen;
	f->max_key = w->last_key;
	f->max_klen = w->last_klen;
	uint8_t *fb = malloc(footer_size(w));
	if (!fb)
		return EKV_ENOMEM;
	l2_footer_encode(g, f, fb);
	e = stream_write(w, w->pos, fb, footer_size(w));
	free(fb);
	return e;
}

/* The table object of a finished writer, its top index taken from the
 * bytes just written (checked like a loaded one). */
static int make_table(struct l2_twriter *w, const struct l2_footer *f, struct l2_table **out)
{
	struct l2_table *t;
	int e = l2_table_alloc(w->id, w->level, w->nblocks, w->pos, w->blocks, &t);
	if (e < 0)
		return e;
	uint8_t *top = malloc(f->top_len);
	e = top ? l2_table_set_footer(t, f) : EKV_ENOMEM;
	if (e == 0) {
		memcpy(top, w->top + COUNT_ROOM - l2_varint_size(w->ntop), f->top_len);
		e = l2_table_set_top(t, w->g, top, f->top_len);
	}
	if (e < 0) {
		free(top);
		l2_table_put(t);
		return e;
	}
	*out = t;
	return 0;
}

int l2_twriter_finish(struct l2_twriter *w, struct l2_table **out)
{
	int e = w->failed ? w->failed : w->records ? 0 : EKV_EINVAL;
	if (e == 0 && w->leaf_len)
		e = close_leaf(w);
	if (e == 0 && w->page_count)
		e = write_page(w);
	struct l2_footer f = {0};
	if (e == 0)
		e = write_tail(w, &f);
	if (e == 0)
		e = l2_bw_sync(&w->bw);
	if (e == 0)
		e = flash_sync(w->bl->f);
	if (e == 0)
		e = make_table(w, &f, out);
	if (e < 0) {
		l2_twriter_abort(w);
		return e;
	}
	l2_bw_close(&w->bw);
	writer_free(w);
	return 0;
}

void l2_twriter_abort(struct l2_twriter *w)
{
	if (!w)
		return;
	l2_bw_close(&w->bw);
	for (uint32_t i = 0; i < w->nblocks; i++)
		l2_blocks_release(w->bl, w->blocks[i]);
	/* a table id may be written again after an abort: no page of this
	 * attempt may answer for it */
	l2_cache_drop_table(w->cache, w->id);
	writer_free(w);
}
