/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * l2/memtable.c — the multi-version memtable.  See memtable.h.
 */
#include "l2/memtable.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

int l2_mem_new(const struct l2_geom *g, uint64_t base_seq, struct l2_mem **out)
{
	struct l2_mem *m = calloc(1, sizeof(*m));
	if (!m)
		return EKV_ENOMEM;
	if (pthread_rwlock_init(&m->lock, NULL) != 0) {
		free(m);
		return EKV_ENOMEM;
	}
	m->g = g;
	m->base = base_seq;
	m->refs = 1;
	*out = m;
	return 0;
}

void l2_mem_get_ref(struct l2_mem *m)
{
	__atomic_add_fetch(&m->refs, 1, __ATOMIC_RELAXED);
}

void l2_mem_put(struct l2_mem *m)
{
	if (!m || __atomic_sub_fetch(&m->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	pthread_rwlock_destroy(&m->lock);
	free(m->arena);
	free(m->idx);
	free(m);
}

uint32_t l2_mem_bytes(const struct l2_mem *m)
{
	return m->used + m->n * (uint32_t)sizeof(uint32_t);
}

uint32_t l2_mem_bytes_after(const struct l2_mem *m, uint32_t rec_bytes, uint32_t n)
{
	return l2_mem_bytes(m) + rec_bytes + n * (4 + (uint32_t)sizeof(uint32_t));
}

/* decode the entry at arena offset off (trusted: we wrote it) */
static void entry_at(const struct l2_mem *m, uint32_t off, uint32_t *dseq, struct l2_rec *r)
{
	*dseq = get_le32(m->arena + off);
	l2_rec_decode(m->arena + off + 4, m->used - off - 4, m->g, r);
}

/* first index position whose key >= key */
static uint32_t lower_bound(const struct l2_mem *m, const uint8_t *key, uint32_t klen)
{
	uint32_t lo = 0, hi = m->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		uint32_t ds;
		struct l2_rec r;
		entry_at(m, m->idx[mid], &ds, &r);
		if (l2_key_cmp(r.key, r.klen, key, klen) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int reserve(struct l2_mem *m, uint32_t arena_more, uint32_t idx_more)
{
	if (m->used + arena_more > m->cap) {
		uint32_t cap = m->cap ? m->cap : 1024;
		while (cap < m->used + arena_more)
			cap *= 2;
		uint8_t *a = realloc(m->arena, cap);
		if (!a)
			return EKV_ENOMEM;
		m->arena = a;
		m->cap = cap;
	}
	if (m->n + idx_more > m->idx_cap) {
		uint32_t cap = m->idx_cap ? m->idx_cap : 64;
		while (cap < m->n + idx_more)
			cap *= 2;
		uint32_t *x = realloc(m->idx, cap * sizeof(*x));
		if (!x)
			return EKV_ENOMEM;
		m->idx = x;
		m->idx_cap = cap;
	}
	return 0;
}

int l2_mem_insert(struct l2_mem *m, uint64_t seq, const struct l2_rec *recs, uint32_t n)
{
	uint32_t bytes = 0;
	for (uint32_t i = 0; i < n; i++)
		bytes += 4 + l2_rec_size(recs[i].klen, recs[i].vlen);
	pthread_rwlock_wrlock(&m->lock);
	int e = reserve(m, bytes, n);
	if (e < 0) {
		pthread_rwlock_unlock(&m->lock);
		return e;
	}
	uint32_t ds = (uint32_t)(seq - m->base);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t off = m->used;
		put_le32(m->arena + off, ds);
		m->used += 4 + l2_rec_encode(m->arena + off + 4, &recs[i]);
		/* the newest version goes first among equal keys */
		uint32_t at = lower_bound(m, recs[i].key, recs[i].klen);
		bool existed = false;
		if (at < m->n) {
			uint32_t d;
			struct l2_rec r;
			entry_at(m, m->idx[at], &d, &r);
			existed = l2_key_cmp(r.key, r.klen, recs[i].key, recs[i].klen) == 0;
		}
		memmove(m->idx + at + 1, m->idx + at, (m->n - at) * sizeof(*m->idx));
		m->idx[at] = off;
		m->n++;
		if (!existed)
			m->keys++;
	}
	pthread_rwlock_unlock(&m->lock);
	return 0;
}

int l2_commit_payload_check(const struct l2_geom *g, const uint8_t *p, uint32_t len, uint32_t *n)
{
	uint32_t at = 0, count = 0;
	struct l2_rec prev = {0};
	while (at < len) {
		struct l2_rec r;
		uint32_t u = l2_rec_decode(p + at, len - at, g, &r);
		if (!u)
			return EKV_ECORRUPT;
		if (count && l2_key_cmp(prev.key, prev.klen, r.key, r.klen) >= 0)
			return EKV_ECORRUPT;
		prev = r;
		at += u;
		count++;
	}
	if (count == 0)
		return EKV_ECORRUPT;
	*n = count;
	return 0;
}

int l2_mem_insert_payload(struct l2_mem *m, uint64_t seq, const uint8_t *p, uint32_t n)
{
	uint32_t count;
	int e = l2_commit_payload_check(m->g, p, n, &count);
	if (e < 0)
		return e;
	struct l2_rec *recs = malloc(sizeof(*recs) * count);
	if (!recs)
		return EKV_ENOMEM;
	uint32_t at = 0;
	for (uint32_t i = 0; i < count; i++)
		at += l2_rec_decode(p + at, n - at, m->g, &recs[i]);
	e = l2_mem_insert(m, seq, recs, count);
	free(recs);
	return e;
}

static int copy_out(const struct l2_rec *r, bool *del, uint8_t *value, size_t cap, size_t *vlen)
{
	*del = r->del;
	if (r->del)
		return 1;
	*vlen = r->vlen;
	if (r->vlen > cap)
		return EKV_ERANGE;
	if (r->vlen)
		memcpy(value, r->val, r->vlen);
	return 1;
}

/* index position of the newest version of the key at `at` visible at ds;
 * -1 if none (all versions newer) */
static int64_t visible_at(const struct l2_mem *m, uint32_t at, uint32_t ds_max)
{
	uint32_t d0;
	struct l2_rec r0;
	entry_at(m, m->idx[at], &d0, &r0);
	for (uint32_t i = at; i < m->n; i++) {
		uint32_t d;
		struct l2_rec r;
		entry_at(m, m->idx[i], &d, &r);
		if (i > at && l2_key_cmp(r.key, r.klen, r0.key, r0.klen) != 0)
			return -1;
		if (d <= ds_max)
			return i;
	}
	return -1;
}

int l2_mem_get(struct l2_mem *m, uint64_t seq, const uint8_t *key, uint32_t klen, bool *del,
	       uint8_t *value, size_t cap, size_t *vlen)
{
	if (seq < m->base)
		return 0; /* the snapshot predates this memtable */
	uint32_t ds = seq - m->base > UINT32_MAX ? UINT32_MAX : (uint32_t)(seq - m->base);
	int ret = 0;
	pthread_rwlock_rdlock(&m->lock);
	uint32_t at = lower_bound(m, key, klen);
	if (at < m->n) {
		uint32_t d;
		struct l2_rec r;
		entry_at(m, m->idx[at], &d, &r);
		if (l2_key_cmp(r.key, r.klen, key, klen) == 0) {
			int64_t v = visible_at(m, at, ds);
			if (v >= 0) {
				entry_at(m, m->idx[v], &d, &r);
				ret = copy_out(&r, del, value, cap, vlen);
			}
		}
	}
	pthread_rwlock_unlock(&m->lock);
	return ret;
}

/* ---- iterator ------------------------------------------------------------ */

struct mem_iter {
	struct l2_src src;
	struct l2_mem *m;
	uint32_t ds;
	bool valid;
	uint8_t *buf; /* copy of the current record's key and value */
	uint32_t buf_cap;
};

/* Position on the first key >= (or >) key whose visible version exists;
 * copy it out.  Called with the read lock held. */
static int iter_settle(struct mem_iter *it, const uint8_t *key, uint32_t klen, bool incl)
{
	struct l2_mem *m = it->m;
	uint32_t at = key ? lower_bound(m, key, klen) : 0;
	while (at < m->n) {
		uint32_t d;
		struct l2_rec r;
		entry_at(m, m->idx[at], &d, &r);
		if (key && !incl && l2_key_cmp(r.key, r.klen, key, klen) == 0) {
			at++;
			continue;
		}
		int64_t v = visible_at(m, at, it->ds);
		if (v >= 0) {
			entry_at(m, m->idx[v], &d, &r);
			/* at least a byte: an empty key must not read as "no key" */
			uint32_t need = r.klen + r.vlen + 1;
			if (need > it->buf_cap) {
				uint8_t *b = realloc(it->buf, need);
				if (!b)
					return EKV_ENOMEM;
				it->buf = b;
				it->buf_cap = need;
			}
			memcpy(it->buf, r.key, r.klen);
			if (r.vlen)
				memcpy(it->buf + r.klen, r.val, r.vlen);
			it->src.cur = (struct l2_rec){.key = it->buf, .klen = r.klen,
						      .val = it->buf + r.klen, .vlen = r.vlen,
						      .del = r.del};
			it->valid = true;
			return 1;
		}
		/* skip every version of this key */
		uint32_t k0 = at;
		struct l2_rec r0 = r;
		while (at < m->n) {
			entry_at(m, m->idx[at], &d, &r);
			if (at > k0 && l2_key_cmp(r.key, r.klen, r0.key, r0.klen) != 0)
				break;
			at++;
		}
	}
	it->valid = false;
	return 0;
}

static int mem_seek(struct l2_src *s, const uint8_t *key, uint32_t klen, bool incl)
{
	struct mem_iter *it = (struct mem_iter *)s;
	pthread_rwlock_rdlock(&it->m->lock);
	int r = iter_settle(it, key, klen, incl);
	pthread_rwlock_unlock(&it->m->lock);
	return r;
}

static int mem_next(struct l2_src *s)
{
	struct mem_iter *it = (struct mem_iter *)s;
	if (!it->valid)
		return 0;
	pthread_rwlock_rdlock(&it->m->lock);
	/* the key was copied: re-seek past it (inserts may have moved things) */
	int r = iter_settle(it, it->buf, it->src.cur.klen, false);
	pthread_rwlock_unlock(&it->m->lock);
	return r;
}

static void mem_close(struct l2_src *s)
{
	struct mem_iter *it = (struct mem_iter *)s;
	l2_mem_put(it->m);
	free(it->buf);
	free(it);
}

int l2_mem_iter(struct l2_mem *m, uint64_t seq, struct l2_src **out)
{
	struct mem_iter *it = calloc(1, sizeof(*it));
	if (!it)
		return EKV_ENOMEM;
	it->src.seek = mem_seek;
	it->src.next = mem_next;
	it->src.close = mem_close;
	it->m = m;
	if (seq < m->base)
		it->ds = 0; /* sees nothing: every entry has ds >= 0... */
	else
		it->ds = seq - m->base > UINT32_MAX ? UINT32_MAX : (uint32_t)(seq - m->base);
	l2_mem_get_ref(m);
	*out = &it->src;
	return 0;
}
