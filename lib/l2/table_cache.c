/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * l2/table_cache.c — the cache of verified index pages shared by the
 * tables of one handle (see table.h): an LRU keyed by table id and the
 * page's stream offset, bounded in bytes, under one mutex.
 *
 * Owns: the budget (entries are evicted least recently used first; a page
 * larger than the budget is not cached) and the rule that a page leaves
 * the cache only by copy, under the lock, so no reader ever holds a
 * pointer into it.  Must never hold a page that was not verified (callers
 * insert only pages whose CRC and contents they checked).
 */
#include <stdlib.h>
#include <string.h>

#include "l2/table_int.h"

struct cpage {
	struct cpage *hnext;       /* hash chain */
	struct cpage *prev, *next; /* LRU list, most recent first */
	uint32_t table_id, off, len;
	uint8_t data[];
};

struct l2_cache {
	pthread_mutex_t lock;
	uint32_t budget;
	uint32_t bytes; /* entries and their headers; written under lock, read atomically */
	uint32_t nbuckets; /* a power of two */
	struct cpage **buckets;
	struct cpage lru; /* sentinel: lru.next most recent, lru.prev least */
};

static uint32_t bucket_of(const struct l2_cache *c, uint32_t table_id, uint32_t off)
{
	uint64_t h = ((uint64_t)table_id << 32 | off) * 0x9e3779b97f4a7c15ull;
	return (uint32_t)(h >> 32) & (c->nbuckets - 1);
}

static uint32_t entry_bytes(uint32_t len)
{
	return (uint32_t)sizeof(struct cpage) + len;
}

int l2_cache_new(uint32_t budget_bytes, struct l2_cache **out)
{
	struct l2_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return EKV_ENOMEM;
	c->budget = budget_bytes;
	c->nbuckets = 16;
	while (c->nbuckets < budget_bytes / 512 && c->nbuckets < (1u << 16))
		c->nbuckets *= 2;
	c->buckets = calloc(c->nbuckets, sizeof(*c->buckets));
	if (!c->buckets || pthread_mutex_init(&c->lock, NULL) != 0) {
		free(c->buckets);
		free(c);
		return EKV_ENOMEM;
	}
	c->lru.next = c->lru.prev = &c->lru;
	*out = c;
	return 0;
}

static void lru_unlink(struct cpage *p)
{
	p->prev->next = p->next;
	p->next->prev = p->prev;
}

static void lru_push_front(struct l2_cache *c, struct cpage *p)
{
	p->next = c->lru.next;
	p->prev = &c->lru;
	c->lru.next->prev = p;
	c->lru.next = p;
}

/* Unlink p from its hash chain and the LRU list and free it (under lock). */
static void remove_entry(struct l2_cache *c, struct cpage *p)
{
	struct cpage **pp = &c->buckets[bucket_of(c, p->table_id, p->off)];
	while (*pp != p)
		pp = &(*pp)->hnext;
	*pp = p->hnext;
	lru_unlink(p);
	__atomic_store_n(&c->bytes, c->bytes - entry_bytes(p->len), __ATOMIC_RELAXED);
	free(p);
}

void l2_cache_free(struct l2_cache *c)
{
	if (!c)
		return;
	while (c->lru.next != &c->lru)
		remove_entry(c, c->lru.next);
	pthread_mutex_destroy(&c->lock);
	free(c->buckets);
	free(c);
}

static struct cpage *find(struct l2_cache *c, uint32_t table_id, uint32_t off)
{
	struct cpage *p = c->buckets[bucket_of(c, table_id, off)];
	while (p && (p->table_id != table_id || p->off != off))
		p = p->hnext;
	return p;
}

int l2_cache_lookup(struct l2_cache *c, uint32_t table_id, uint32_t off, uint8_t *buf,
		    uint32_t len)
{
	pthread_mutex_lock(&c->lock);
	struct cpage *p = find(c, table_id, off);
	bool hit = p && p->len == len;
	if (hit) {
		memcpy(buf, p->data, len);
		lru_unlink(p);
		lru_push_front(c, p);
	}
	pthread_mutex_unlock(&c->lock);
	return hit;
}

void l2_cache_insert(struct l2_cache *c, uint32_t table_id, uint32_t off, const uint8_t *data,
		     uint32_t len)
{
	uint32_t need = entry_bytes(len);
	if (len > c->budget || need > c->budget)
		return;
	struct cpage *p = malloc(need);
	if (!p)
		return; /* a cache that cannot grow just misses */
	p->table_id = table_id;
	p->off = off;
	p->len = len;
	memcpy(p->data, data, len);
	pthread_mutex_lock(&c->lock);
	if (find(c, table_id, off)) {
		/* another reader inserted it meanwhile */
		pthread_mutex_unlock(&c->lock);
		free(p);
		return;
	}
	while (c->bytes + need > c->budget)
		remove_entry(c, c->lru.prev);
	uint32_t b = bucket_of(c, table_id, off);
	p->hnext = c->buckets[b];
	c->buckets[b] = p;
	lru_push_front(c, p);
	__atomic_store_n(&c->bytes, c->bytes + need, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&c->lock);
}

void l2_cache_drop_table(struct l2_cache *c, uint32_t table_id)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	for (struct cpage *p = c->lru.next, *nx; p != &c->lru; p = nx) {
		nx = p->next;
		if (p->table_id == table_id)
			remove_entry(c, p);
	}
	pthread_mutex_unlock(&c->lock);
}

uint32_t l2_cache_bytes(const struct l2_cache *c)
{
	if (!c)
		return 0;
	return (uint32_t)(sizeof(*c) + sizeof(*c->buckets) * c->nbuckets) +
	       __atomic_load_n(&c->bytes, __ATOMIC_RELAXED);
}
