/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * l2/merge.c — a k-way merge of record sources, the newest version of each
 * key winning (see merge.h; docs/FORMAT.md §L5, §L9.3).
 *
 * Owns: the choice of the smallest key among the sources with ties going
 * to the lowest-numbered (newest) source, stepping every source past a key
 * once it is delivered, and dropping keys whose newest record is a
 * tombstone when asked.  Sources are few (the memtable, L0 tables and one
 * table per level), so the smallest key is found by a scan, not a heap.
 * Must never deliver a key twice or an older version of a key.
 */
#include <stdlib.h>

#include "l2/merge.h"

struct merge {
	struct l2_src src; /* first: the merge's l2_src */
	struct l2_src **s;
	uint32_t n;
	bool drop_tombstones;
	bool *live;   /* source i is positioned */
	uint32_t win; /* source of the record in src.cur */
	bool positioned;
};

static int key_cmp(const struct l2_rec *a, const struct l2_rec *b)
{
	return l2_key_cmp(a->key, a->klen, b->key, b->klen);
}

/* Step every source positioned on the winner's key past it (the winner
 * last: its key is the one compared with). */
static int step_past_winner(struct merge *m)
{
	const struct l2_rec *k = &m->s[m->win]->cur;
	for (uint32_t i = 0; i < m->n; i++) {
		if (i == m->win || !m->live[i] || key_cmp(&m->s[i]->cur, k) != 0)
			continue;
		int r = m->s[i]->next(m->s[i]);
		if (r < 0)
			return r;
		m->live[i] = r == 1;
	}
	int r = m->s[m->win]->next(m->s[m->win]);
	if (r < 0)
		return r;
	m->live[m->win] = r == 1;
	return 0;
}

/* Position on the smallest key among the live sources (skipping keys whose
 * newest record is a tombstone when asked).  Every round that skips steps
 * at least one source forward, so this ends when the sources do. */
static int settle(struct merge *m)
{
	for (;;) {
		bool any = false;
		for (uint32_t i = 0; i < m->n; i++) {
			if (m->live[i] &&
			    (!any || key_cmp(&m->s[i]->cur, &m->s[m->win]->cur) < 0)) {
				m->win = i;
				any = true;
			}
		}
		if (!any) {
			m->positioned = false;
			return 0;
		}
		if (!(m->drop_tombstones && m->s[m->win]->cur.del))
			break;
		int r = step_past_winner(m);
		if (r < 0) {
			m->positioned = false;
			return r;
		}
	}
	m->src.cur = m->s[m->win]->cur;
	m->positioned = true;
	return 1;
}

static int merge_seek(struct l2_src *src, const uint8_t *key, uint32_t klen, bool incl)
{
	struct merge *m = (struct merge *)src;
	m->positioned = false;
	for (uint32_t i = 0; i < m->n; i++) {
		int r = m->s[i]->seek(m->s[i], key, klen, incl);
		if (r < 0)
			return r;
		m->live[i] = r == 1;
	}
	return settle(m);
}

static int merge_next(struct l2_src *src)
{
	struct merge *m = (struct merge *)src;
	if (!m->positioned)
		return 0;
	int r = step_past_winner(m);
	if (r < 0) {
		m->positioned = false;
		return r;
	}
	return settle(m);
}

static void merge_close(struct l2_src *src)
{
	struct merge *m = (struct merge *)src;
	for (uint32_t i = 0; i < m->n; i++)
		m->s[i]->close(m->s[i]);
	free(m->s);
	free(m->live);
	free(m);
}

int l2_merge_new(struct l2_src **srcs, uint32_t n, bool drop_tombstones, struct l2_src **out)
{
	struct merge *m = calloc(1, sizeof(*m));
	if (m) {
		m->s = malloc(sizeof(*m->s) * (n ? n : 1));
		m->live = calloc(n ? n : 1, sizeof(*m->live));
	}
	if (!m || !m->s || !m->live) {
		if (m) {
			free(m->s);
			free(m->live);
			free(m);
		}
		for (uint32_t i = 0; i < n; i++)
			srcs[i]->close(srcs[i]);
		return EKV_ENOMEM;
	}
	for (uint32_t i = 0; i < n; i++)
		m->s[i] = srcs[i];
	m->n = n;
	m->drop_tombstones = drop_tombstones;
	m->src.seek = merge_seek;
	m->src.next = merge_next;
	m->src.close = merge_close;
	*out = &m->src;
	return 0;
}
