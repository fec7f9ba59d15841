/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * l2/table_int.h — what the table files (table.c, table_read.c,
 * table_write.c) share; nothing outside lib/l2/table*.c includes it.
 *
 * Owns: the placement rule of the table stream (a leaf or index page does
 * not cross a read unit it fits in), the size limits of leaves and index
 * pages (docs/FORMAT.md §L6) and the table object's internal constructor.
 * Must never hold state: plain functions over the geometry and a table.
 */
#ifndef EKV_L2_TABLE_INT_H
#define EKV_L2_TABLE_INT_H

#include "l2/table.h"

/* Streams stay below 2 GiB, so stream offsets plus one block never wrap. */
#define L2_TSTREAM_MAX 0x7fffffffu

/* The unit a leaf or index page does not cross when it fits in one (block
 * offsets): the PU when leaves are PU-sized (NAND-like media, whose reads
 * are whole pages), else the erase block. */
static inline uint32_t l2_tread_unit(const struct l2_geom *g)
{
	return g->pu >= g->leaf_target ? g->pu : g->block_size;
}

/* Whether n bytes at stream offset s cross a read unit's end. */
bool l2_tstream_crosses(const struct l2_geom *g, uint32_t s, uint32_t n);
/* Stream offset of a structure of n bytes written when the stream ends at
 * s: s, or the next read unit when it would cross one it fits in. */
uint32_t l2_tstream_place(const struct l2_geom *g, uint32_t s, uint32_t n);

/* §L6 limits: the largest leaf and index page (a single record or entry
 * may exceed the writer's target; nothing else does). */
uint32_t l2_leaf_max(const struct l2_geom *g);
uint32_t l2_page_max(const struct l2_geom *g);
/* Bytes of an index page or top index of `count` entries of `entries` bytes. */
static inline uint32_t l2_index_size(uint32_t count, uint32_t entries)
{
	return l2_varint_size(count) + entries + 4;
}
/* Where leaves and index pages end: the filter, or the top index. */
static inline uint32_t l2_table_data_end(const struct l2_table *t)
{
	return t->filter_blocks ? t->filter_off : t->top_off;
}

/* Read [off, off + len) of t's stream (EKV_ECORRUPT if outside it). */
int l2_tstream_read(const struct l2_geom *g, struct ekv_flash *f, const struct l2_table *t,
		    uint32_t off, void *buf, uint32_t len);

/* A table object with its block list (copied), refs = 1, nothing else. */
int l2_table_alloc(uint32_t id, uint8_t level, uint32_t nblocks, uint32_t stream_len,
		   const uint32_t *blocks, struct l2_table **out);
/* Take a (checked) footer's fields and keys into t. */
int l2_table_set_footer(struct l2_table *t, const struct l2_footer *f);
/* Check and decode a top index (n bytes read at t->top_off); on success t
 * owns buf and the top is loaded. */
int l2_table_set_top(struct l2_table *t, const struct l2_geom *g, uint8_t *buf, uint32_t n);
/* Load the top index once (under t->lock). */
int l2_table_load_top(struct l2_table *t, const struct l2_geom *g, struct ekv_flash *f);
/* Index of the last top entry whose key is <= key (0 when key is smaller
 * than every one: the first page then holds the smallest keys). */
uint32_t l2_table_top_find(const struct l2_table *t, const uint8_t *key, uint32_t klen);

/* Cache of verified index pages (table_cache.c): 1 and the page copied to
 * buf on a hit, 0 on a miss. */
int l2_cache_lookup(struct l2_cache *c, uint32_t table_id, uint32_t off, uint8_t *buf,
		    uint32_t len);
void l2_cache_insert(struct l2_cache *c, uint32_t table_id, uint32_t off, const uint8_t *p,
		     uint32_t len);

/* Grow a reader buffer to hold n bytes. */
int l2_tbuf_reserve(uint8_t **buf, uint32_t *cap, uint32_t n);

#endif
