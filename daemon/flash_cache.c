/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * flash_cache.c — a read cache of whole pages in front of ekvd's flash.
 *
 * Why it is correct: ekvd is the one process that drives its flash, so a
 * page it has read stays what it read until ekvd itself programs or erases
 * it — each write and erase drops the page, before and after the backend
 * call, and a read that raced with one is not kept (per-page stamps).  A
 * process that writes the flash directly anyway (ekvctl --direct) must
 * take the backend's lock, and the engine looks at the change token every
 * time it takes the lock afresh: a token we did not leave ourselves drops
 * the whole cache before the engine reads anything.  Without a change token
 * every fresh lock drops it.
 *
 * Owns: the page copies, their LRU and the stamps.  Must never: hand out
 * bytes older than the last write or erase of their page, or change what
 * reaches the backend (writes, erases, locks and tokens pass through).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "flash_cache.h"

struct cache {
	struct ekv_flash *inner;
	struct ekv_flash_ops ops; /* mirrors which optional ops inner has */
	uint32_t page_size, page_count;
	pthread_mutex_t lock;     /* everything below */
	uint8_t **pages;          /* page_count entries; NULL: not cached */
	uint64_t *stamp;          /* bumped by every write/erase of the page */
	uint64_t *last_use;
	uint64_t clock;
	uint32_t cached, max_cached;
	bool locked;              /* the backend lock is held (any mode) */
	bool have_token;
	uint64_t token;           /* the change token as we last left or saw it */
	uint64_t hits, misses;
};

static void drop_locked(struct cache *c, uint32_t page)
{
	c->stamp[page]++;
	if (c->pages[page]) {
		free(c->pages[page]);
		c->pages[page] = NULL;
		c->cached--;
	}
}

static void drop_all_locked(struct cache *c)
{
	for (uint32_t p = 0; p < c->page_count; p++)
		drop_locked(c, p);
}

static void drop(struct cache *c, uint32_t page)
{
	pthread_mutex_lock(&c->lock);
	drop_locked(c, page);
	pthread_mutex_unlock(&c->lock);
}

/* Keep a page read at stamp `seen`, unless a write or erase came since. */
static void keep(struct cache *c, uint32_t page, uint64_t seen, uint8_t **data)
{
	pthread_mutex_lock(&c->lock);
	if (c->stamp[page] == seen && !c->pages[page]) {
		if (c->cached >= c->max_cached) {
			/* evict the least recently used page; misses are rare once warm */
			uint32_t victim = UINT32_MAX;
			for (uint32_t p = 0; p < c->page_count; p++)
				if (c->pages[p] &&
				    (victim == UINT32_MAX || c->last_use[p] < c->last_use[victim]))
					victim = p;
			if (victim != UINT32_MAX) {
				free(c->pages[victim]);
				c->pages[victim] = NULL;
				c->cached--;
			}
		}
		c->pages[page] = *data;
		c->last_use[page] = ++c->clock;
		c->cached++;
		*data = NULL;
	}
	pthread_mutex_unlock(&c->lock);
}

static int cache_read(void *ctx, uint32_t page, uint32_t off, void *buf, uint32_t len)
{
	struct cache *c = ctx;
	pthread_mutex_lock(&c->lock);
	if (c->pages[page]) {
		memcpy(buf, c->pages[page] + off, len);
		c->last_use[page] = ++c->clock;
		c->hits++;
		pthread_mutex_unlock(&c->lock);
		return 0;
	}
	uint64_t seen = c->stamp[page];
	c->misses++;
	pthread_mutex_unlock(&c->lock);
	uint8_t *data = malloc(c->page_size);
	if (!data)
		return c->inner->ops->read(c->inner->ctx, page, off, buf, len);
	int e = c->inner->ops->read(c->inner->ctx, page, 0, data, c->page_size);
	if (e == 0) {
		memcpy(buf, data + off, len);
		keep(c, page, seen, &data);
	}
	free(data);
	return e;
}

static int cache_write(void *ctx, uint32_t page, uint32_t off, const void *buf, uint32_t len)
{
	struct cache *c = ctx;
	drop(c, page);
	int e = c->inner->ops->write(c->inner->ctx, page, off, buf, len);
	drop(c, page);
	return e;
}

static int cache_erase(void *ctx, uint32_t page)
{
	struct cache *c = ctx;
	drop(c, page);
	int e = c->inner->ops->erase(c->inner->ctx, page);
	drop(c, page);
	return e;
}

static int cache_lock(void *ctx, int op, int timeout_ms)
{
	struct cache *c = ctx;
	int e = c->inner->ops->lock(c->inner->ctx, op, timeout_ms);
	pthread_mutex_lock(&c->lock);
	if (e == 0 && op != EKV_LOCK_UN && !c->locked && !c->inner->ops->change_token)
		drop_all_locked(c); /* no way to tell whether another process wrote */
	if (e == 0)
		c->locked = op != EKV_LOCK_UN;
	pthread_mutex_unlock(&c->lock);
	return e;
}

static int cache_change_token(void *ctx, uint64_t *token)
{
	struct cache *c = ctx;
	int e = c->inner->ops->change_token(c->inner->ctx, token);
	pthread_mutex_lock(&c->lock);
	if (e < 0 || (c->have_token && *token != c->token))
		drop_all_locked(c); /* another process committed */
	if (e == 0) {
		c->token = *token;
		c->have_token = true;
	}
	pthread_mutex_unlock(&c->lock);
	return e;
}

static int cache_mark_changed(void *ctx)
{
	struct cache *c = ctx;
	int e = c->inner->ops->mark_changed(c->inner->ctx);
	/* remember the token our own commit left, so that it is not mistaken
	 * for another process's */
	uint64_t t;
	if (e == 0 && c->inner->ops->change_token &&
	    c->inner->ops->change_token(c->inner->ctx, &t) == 0) {
		pthread_mutex_lock(&c->lock);
		c->token = t;
		c->have_token = true;
		pthread_mutex_unlock(&c->lock);
	}
	return e;
}

static void cache_destroy(void *ctx)
{
	struct cache *c = ctx;
	for (uint32_t p = 0; p < c->page_count; p++)
		free(c->pages[p]);
	free(c->pages);
	free(c->stamp);
	free(c->last_use);
	pthread_mutex_destroy(&c->lock);
	ekv_flash_close(c->inner);
	free(c);
}

int flash_cache_wrap(struct ekv_flash *inner, size_t budget_bytes, struct ekv_flash **out)
{
	*out = inner;
	if (budget_bytes < inner->page_size)
		return 0;
	struct cache *c = calloc(1, sizeof(*c));
	struct ekv_flash *f = calloc(1, sizeof(*f));
	if (c) {
		c->pages = calloc(inner->page_count, sizeof(*c->pages));
		c->stamp = calloc(inner->page_count, sizeof(*c->stamp));
		c->last_use = calloc(inner->page_count, sizeof(*c->last_use));
	}
	if (!c || !f || !c->pages || !c->stamp || !c->last_use) {
		if (c) {
			free(c->pages);
			free(c->stamp);
			free(c->last_use);
		}
		free(c);
		free(f);
		return EKV_ENOMEM;
	}
	c->inner = inner;
	c->page_size = inner->page_size;
	c->page_count = inner->page_count;
	size_t max = budget_bytes / inner->page_size;
	c->max_cached = max > inner->page_count ? inner->page_count : (uint32_t)max;
	pthread_mutex_init(&c->lock, NULL);
	c->ops.read = cache_read;
	c->ops.write = cache_write;
	c->ops.erase = cache_erase;
	c->ops.destroy = cache_destroy;
	c->ops.lock = inner->ops->lock ? cache_lock : NULL;
	c->ops.change_token = inner->ops->change_token ? cache_change_token : NULL;
	c->ops.mark_changed = inner->ops->mark_changed ? cache_mark_changed : NULL;
	*f = *inner;
	f->ops = &c->ops;
	f->ctx = c;
	*out = f;
	return 0;
}

void flash_cache_stats(struct ekv_flash *f, uint64_t *hits, uint64_t *misses)
{
	*hits = *misses = 0;
	if (f->ops->read != cache_read)
		return;
	struct cache *c = f->ctx;
	pthread_mutex_lock(&c->lock);
	*hits = c->hits;
	*misses = c->misses;
	pthread_mutex_unlock(&c->lock);
}
