/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * l2/table.c — the table stream and the table object (docs/FORMAT.md §L5,
 * §L6): stream offset <-> block and offset, where structures are placed,
 * loading a table by its footer, the top index, references and RAM.
 *
 * Owns: the checks of the footer and of the top index before anything
 * uses them (every offset inside the stream, pages before the filter, keys
 * ascending, the first page starting at the smallest key).  Must never read
 * outside a table's stream or trust a length from flash before checking it;
 * anything inconsistent is EKV_ECORRUPT.  Leaves, index pages and lookups
 * are in table_read.c, writing in table_write.c, the page cache in
 * table_cache.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flash.h"
#include "l2/table_int.h"
#include "util.h"

/* ---- the stream ---------------------------------------------------------- */

/* Block offset of stream offset s, and the end of its read unit. */
static uint32_t unit_end(const struct l2_geom *g, uint32_t s, uint32_t *boff)
{
	uint32_t unit = l2_tread_unit(g);
	*boff = L2_HDR_SIZE + s % g->payload;
	return (*boff / unit + 1) * unit; /* B is a multiple of the unit */
}

bool l2_tstream_crosses(const struct l2_geom *g, uint32_t s, uint32_t n)
{
	uint32_t boff, end = unit_end(g, s, &boff);
	return n > end - boff;
}

uint32_t l2_tstream_place(const struct l2_geom *g, uint32_t s, uint32_t n)
{
	uint32_t boff, end = unit_end(g, s, &boff);
	if (n <= end - boff)
		return s;
	uint32_t unit = l2_tread_unit(g);
	/* room of the unit that starts at `end` (a block's first unit holds
	 * the header) */
	uint32_t room = end < g->block_size ? unit : unit - L2_HDR_SIZE;
	return n <= room ? s + (end - boff) : s;
}

uint32_t l2_leaf_max(const struct l2_geom *g)
{
	uint32_t single = g->max_record + 4;
	return g->leaf_target > single ? g->leaf_target : single;
}

uint32_t l2_page_max(const struct l2_geom *g)
{
	uint32_t single = l2_index_size(1, l2_index_entry_size(g->max_key, UINT32_MAX, UINT32_MAX));
	return g->index_target > single ? g->index_target : single;
}

int l2_tstream_read(const struct l2_geom *g, struct ekv_flash *f, const struct l2_table *t,
		    uint32_t off, void *buf, uint32_t len)
{
	if (off > t->stream_len || len > t->stream_len - off)
		return EKV_ECORRUPT;
	for (uint32_t done = 0, take; done < len; done += take) {
		uint32_t s = off + done, in_block = s % g->payload;
		take = g->payload - in_block < len - done ? g->payload - in_block : len - done;
		int e = flash_read(f, t->blocks[s / g->payload], L2_HDR_SIZE + in_block,
				   (uint8_t *)buf + done, take);
		if (e < 0)
			return e;
	}
	return 0;
}

int l2_tbuf_reserve(uint8_t **buf, uint32_t *cap, uint32_t n)
{
	if (n <= *cap)
		return 0;
	uint8_t *b = realloc(*buf, n);
	if (!b)
		return EKV_ENOMEM;
	*buf = b;
	*cap = n;
	return 0;
}

/* ---- table objects ------------------------------------------------------- */

static void table_free(struct l2_table *t)
{
	pthread_mutex_destroy(&t->lock);
	free(t->min_key); /* max_key shares its allocation */
	free(t->top);
	free(t->top_buf);
	free(t);
}

int l2_table_alloc(uint32_t id, uint8_t level, uint32_t nblocks, uint32_t stream_len,
		   const uint32_t *blocks, struct l2_table **out)
{
	/* the block list lives behind the object */
	struct l2_table *t = calloc(1, sizeof(*t) + sizeof(uint32_t) * nblocks);
	if (!t)
		return EKV_ENOMEM;
	if (pthread_mutex_init(&t->lock, NULL) != 0) {
		free(t);
		return EKV_ENOMEM;
	}
	t->blocks = (uint32_t *)(t + 1);
	memcpy(t->blocks, blocks, sizeof(uint32_t) * nblocks);
	t->id = id;
	t->level = level;
	t->nblocks = nblocks;
	t->stream_len = stream_len;
	t->refs = 1;
	*out = t;
	return 0;
}

int l2_table_set_footer(struct l2_table *t, const struct l2_footer *f)
{
	t->records = f->records;
	t->filter_k = f->filter_k;
	t->filter_off = f->filter_off;
	t->filter_blocks = f->filter_blocks;
	t->top_off = f->top_off;
	t->top_len = f->top_len;
	t->min_key = malloc(f->min_klen + f->max_klen);
	if (!t->min_key)
		return EKV_ENOMEM;
	t->max_key = t->min_key + f->min_klen;
	t->min_klen = f->min_klen;
	t->max_klen = f->max_klen;
	memcpy(t->min_key, f->min_key, f->min_klen);
	memcpy(t->max_key, f->max_key, f->max_klen);
	return 0;
}

void l2_table_get_ref(struct l2_table *t)
{
	__atomic_fetch_add(&t->refs, 1, __ATOMIC_RELAXED);
}

void l2_table_put(struct l2_table *t)
{
	if (t && __atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL) == 0)
		table_free(t);
}

size_t l2_table_ram(const struct l2_table *t)
{
	size_t n = sizeof(*t) + sizeof(uint32_t) * t->nblocks + t->min_klen + t->max_klen;
	if (__atomic_load_n(&t->top_loaded, __ATOMIC_ACQUIRE))
		n += sizeof(*t->top) * t->ntop + t->top_len;
	return n;
}

bool l2_table_covers(const struct l2_table *t, const uint8_t *key, uint32_t klen)
{
	return l2_key_cmp(key, klen, t->min_key, t->min_klen) >= 0 &&
	       l2_key_cmp(key, klen, t->max_key, t->max_klen) <= 0;
}

static int corrupt(char *msg, size_t msg_size, uint32_t id, const char *what)
{
	if (msg && msg_size)
		snprintf(msg, msg_size, "table %u: %s", id, what);
	return EKV_ECORRUPT;
}

/* The footer: guess that it fits in the last FOOTER_GUESS bytes (one read
 * at mount for keys up to ~28 bytes), read the rest if not. */
#define FOOTER_GUESS 96u

static int read_footer(const struct l2_geom *g, struct ekv_flash *f, struct l2_table *t,
		       char *msg, size_t msg_size)
{
	uint32_t max = L2_FOOTER_FIXED + 2 * (l2_varint_size(g->max_key) + g->max_key) + 8;
	uint32_t have = t->stream_len < FOOTER_GUESS ? t->stream_len : FOOTER_GUESS;
	uint8_t *buf = malloc(max > have ? max : have);
	if (!buf)
		return EKV_ENOMEM;
	int e = l2_tstream_read(g, f, t, t->stream_len - have, buf, have);
	if (e < 0)
		goto out;
	uint32_t n = have >= 4 ? get_le32(buf + have - 4) : 0;
	if (n < L2_FOOTER_FIXED + 10 || n > max || n > t->stream_len) {
		e = corrupt(msg, msg_size, t->id, "no footer (its length is out of range)");
		goto out;
	}
	if (n > have) {
		memmove(buf + (n - have), buf, have);
		e = l2_tstream_read(g, f, t, t->stream_len - n, buf, n - have);
		if (e < 0)
			goto out;
	}
	const uint8_t *p = n > have ? buf : buf + (have - n);
	struct l2_footer ft;
	if (l2_footer_decode(g, p, n, t->stream_len, &ft) < 0) {
		e = corrupt(msg, msg_size, t->id, "footer damaged or inconsistent");
		goto out;
	}
	if (ft.table_id != t->id || ft.level != t->level) {
		e = corrupt(msg, msg_size, t->id, "footer of another table or level");
		goto out;
	}
	e = l2_table_set_footer(t, &ft);
out:
	free(buf);
	return e;
}

int l2_table_load(const struct l2_geom *g, struct ekv_flash *f, uint32_t id, uint8_t level,
		  uint32_t nblocks, uint32_t stream_len, const uint32_t *blocks,
		  struct l2_table **out, char *msg, size_t msg_size)
{
	if (msg && msg_size)
		msg[0] = 0;
	if (nblocks == 0 || nblocks > g->block_count || stream_len == 0 ||
	    (uint64_t)stream_len > (uint64_t)nblocks * g->payload ||
	    (uint64_t)stream_len <= (uint64_t)(nblocks - 1) * g->payload)
		return corrupt(msg, msg_size, id, "stream length does not fit its block count");
	for (uint32_t i = 0; i < nblocks; i++)
		if (blocks[i] >= g->block_count)
			return corrupt(msg, msg_size, id, "block number out of range");
	struct l2_table *t;
	int e = l2_table_alloc(id, level, nblocks, stream_len, blocks, &t);
	if (e < 0)
		return e;
	e = read_footer(g, f, t, msg, msg_size);
	if (e < 0) {
		table_free(t);
		return e;
	}
	*out = t;
	return 0;
}

/* ---- the top index ------------------------------------------------------- */

int l2_table_set_top(struct l2_table *t, const struct l2_geom *g, uint8_t *buf, uint32_t n)
{
	uint32_t count, a;
	if (n < 8 || get_le32(buf + n - 4) != l2_stream_crc(g, t->id, t->top_off, buf, n - 4))
		return EKV_ECORRUPT;
	uint32_t body = n - 4; /* entries end here */
	a = l2_varint_get(buf, body, &count);
	/* an entry takes at least 3 bytes (an empty key): the bound on count is
	 * RAM's, not flash's */
	if (!a || count == 0 || count > (body - a) / 3)
		return EKV_ECORRUPT;
	struct l2_index_entry *top = malloc(sizeof(*top) * count);
	if (!top)
		return EKV_ENOMEM;
	uint32_t end = l2_table_data_end(t), prev_end = 0, pos = a, page_max = l2_page_max(g);
	for (uint32_t i = 0; i < count; i++) {
		struct l2_index_entry *e = &top[i];
		uint32_t k = l2_index_entry_decode(buf + pos, body - pos, g, e);
		if (!k || e->off < prev_end || e->off > end || e->len > end - e->off ||
		    e->len > page_max ||
		    (i > 0 && l2_key_cmp(top[i - 1].key, top[i - 1].klen, e->key, e->klen) >= 0))
			goto bad;
		prev_end = e->off + e->len;
		pos += k;
	}
	if (pos != body || l2_key_cmp(top[0].key, top[0].klen, t->min_key, t->min_klen) != 0 ||
	    l2_key_cmp(top[count - 1].key, top[count - 1].klen, t->max_key, t->max_klen) > 0)
		goto bad;
	t->top = top;
	t->ntop = count;
	t->top_buf = buf;
	__atomic_store_n(&t->top_loaded, true, __ATOMIC_RELEASE);
	return 0;
bad:
	free(top);
	return EKV_ECORRUPT;
}

int l2_table_load_top(struct l2_table *t, const struct l2_geom *g, struct ekv_flash *f)
{
	if (__atomic_load_n(&t->top_loaded, __ATOMIC_ACQUIRE))
		return 0;
	pthread_mutex_lock(&t->lock);
	int e = 0;
	if (!t->top_loaded) {
		uint8_t *buf = malloc(t->top_len);
		e = buf ? l2_tstream_read(g, f, t, t->top_off, buf, t->top_len) : EKV_ENOMEM;
		if (e == 0)
			e = l2_table_set_top(t, g, buf, t->top_len);
		if (e < 0)
			free(buf);
	}
	pthread_mutex_unlock(&t->lock);
	return e;
}

uint32_t l2_table_top_find(const struct l2_table *t, const uint8_t *key, uint32_t klen)
{
	uint32_t lo = 0, hi = t->ntop; /* answer in [lo, hi): last entry <= key */
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (l2_key_cmp(t->top[mid].key, t->top[mid].klen, key, klen) <= 0)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* ---- readers ------------------------------------------------------------- */

void l2_treader_init(struct l2_treader *r, const struct l2_geom *g, struct ekv_flash *f,
		     struct l2_cache *cache)
{
	memset(r, 0, sizeof(*r));
	r->g = g;
	r->f = f;
	r->cache = cache;
}

void l2_treader_free(struct l2_treader *r)
{
	free(r->leaf);
	free(r->page);
	r->leaf = r->page = NULL;
	r->leaf_cap = r->page_cap = 0;
}
