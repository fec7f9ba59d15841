/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * cursor.c — ordered iteration: a k-way merge over every file of a snapshot,
 * newest file wins, tombstones hide older values (the cursor slots of
 * db_local_ops).
 *
 * A cursor owns a snapshot reference, so the pages it reads stay pinned
 * (never erased) until it closes: it is not disturbed by concurrent commits
 * or compactions.
 */
#include <stdlib.h>
#include <string.h>

#include "db.h"

struct cursor_file {
	bool active;           /* has a current record */
	struct file_reader r;  /* positioned after the current record's key */
	struct page_reader pr;
	struct rec_hdr h;
	uint8_t *key;
};

/* A local cursor. */
struct cursor {
	struct ekv_cursor h;   /* the public handle: db_local_ops */
	struct db *db;
	struct snapshot *s;
	bool has_end;
	uint32_t end_len;
	uint8_t *end;
	uint32_t n;
	bool locked;
	struct cursor_file files[MAX_FILE_COUNT];
};

static void file_close(struct cursor_file *cf)
{
	page_reader_free(&cf->pr);
	free(cf->key);
	cf->key = NULL;
	cf->active = false;
}

/* Read the next record head of a file; deactivate it at the end or past the
 * upper bound. */
static int advance_head(struct cursor *c, struct cursor_file *cf)
{
	int e = rec_read_head(&cf->r, &cf->h, cf->key);
	if (e == FILE_EOF) {
		file_close(cf);
		return 0;
	}
	if (e < 0)
		return e;
	if (c->has_end && key_cmp(cf->key, cf->h.key_len, c->end, c->end_len) >= 0)
		file_close(cf);
	return 0;
}

static struct cursor *cursor_of(ekv_cursor *h)
{
	return container_of(h, struct cursor, h);
}

static int cursor_open(struct rtx *rtx, const uint8_t *start, size_t start_len, const uint8_t *end,
		       size_t end_len, bool has_end, ekv_cursor **out)
{
	struct db *db = rtx->db;
	const struct geom *g = &db->g;
	if ((start && start_len > g->max_key) || (has_end && end_len > g->max_key + 1))
		return EKV_ETOOBIG;
	struct cursor *c = calloc(1, sizeof(*c));
	if (!c)
		return EKV_ENOMEM;
	c->h.ops = &db_local_ops;
	c->db = db;
	c->n = g->file_count;
	int e = hcore_lock_shared(&db->c);
	if (e < 0) {
		free(c);
		return e;
	}
	c->locked = true;
	pthread_mutex_lock(&db->c.lock);
	c->s = rtx->s;
	c->s->refs++;
	pthread_mutex_unlock(&db->c.lock);
	if (has_end) {
		c->has_end = true;
		c->end_len = (uint32_t)end_len;
		c->end = malloc(end_len + 1);
		if (!c->end) {
			e = EKV_ENOMEM;
			goto fail;
		}
		if (end_len)
			memcpy(c->end, end, end_len);
	}
	for (uint32_t i = 0; i < c->n; i++) {
		struct cursor_file *cf = &c->files[i];
		const struct file_state *fs = &c->s->files[i];
		if (!fs->has_last)
			continue;
		page_reader_init(&cf->pr, g, db->f, 0);
		cf->key = malloc(g->max_key + 1);
		if (!cf->key) {
			e = EKV_ENOMEM;
			goto fail;
		}
		file_reader_init(&cf->r, g, db->f, fs, &cf->pr);
		cf->active = true;
		if (start) {
			bool found;
			e = rec_seek_file(&cf->r, start, (uint32_t)start_len, true, &found);
			if (e < 0)
				goto fail;
			if (!found) {
				file_close(cf);
				continue;
			}
		}
		e = advance_head(c, cf);
		if (e < 0)
			goto fail;
	}
	*out = &c->h;
	return 0;
fail:
	local_cursor_close(&c->h);
	return e;
}

int local_cursor_open(ekv_rtx *h, const void *start, size_t start_len, const void *end,
		      size_t end_len, ekv_cursor **out)
{
	return cursor_open(rtx_of(h), start, start_len, end, end_len, end != NULL, out);
}

int local_cursor_open_prefix(ekv_rtx *h, const void *prefix, size_t prefix_len, ekv_cursor **out)
{
	struct rtx *rtx = rtx_of(h);
	if (prefix_len > rtx->db->g.max_key)
		return EKV_ETOOBIG;
	/* end = the smallest key greater than every key with this prefix */
	uint8_t end[EKV_KEY_SIZE_LIMIT + 1];
	size_t n = prefix_len;
	if (n)
		memcpy(end, prefix, n);
	while (n && end[n - 1] == 0xff)
		n--;
	if (n == 0)
		return cursor_open(rtx, prefix, prefix_len, NULL, 0, false, out);
	end[n - 1]++;
	return cursor_open(rtx, prefix, prefix_len, end, n, true, out);
}

int local_cursor_next(ekv_cursor *h, void *key, size_t key_cap, size_t *key_len, void *value,
		      size_t value_cap, size_t *value_len)
{
	struct cursor *c = cursor_of(h);
	/* each round consumes at least one record of some file */
	for (;;) {
		int lowest = -1;
		for (uint32_t i = 0; i < c->n; i++) {
			struct cursor_file *cf = &c->files[i];
			if (!cf->active)
				continue;
			if (lowest < 0 || key_cmp(cf->key, cf->h.key_len, c->files[lowest].key,
						  c->files[lowest].h.key_len) < 0)
				lowest = (int)i;
		}
		if (lowest < 0)
			return 0;
		/* the newest file holding this key decides */
		int newest = lowest;
		const uint8_t *lk = c->files[lowest].key;
		uint32_t ll = c->files[lowest].h.key_len;
		for (uint32_t i = c->n; i-- > (uint32_t)lowest;) {
			struct cursor_file *cf = &c->files[i];
			if (cf->active && key_cmp(cf->key, cf->h.key_len, lk, ll) == 0) {
				newest = (int)i;
				break;
			}
		}
		struct cursor_file *win = &c->files[newest];
		bool deliver = !win->h.is_delete;
		if (deliver) {
			if (key_len)
				*key_len = win->h.key_len;
			if (value_len)
				*value_len = win->h.value_len;
			if (win->h.key_len > key_cap || win->h.value_len > value_cap)
				return EKV_ERANGE;
			if (win->h.key_len)
				memcpy(key, win->key, win->h.key_len);
			int e = file_reader_read(&win->r, value, win->h.value_len);
			if (e)
				return e == FILE_EOF ? EKV_ECORRUPT : e;
		}
		/* advance every file positioned on this key */
		uint8_t kcopy[EKV_KEY_SIZE_LIMIT];
		memcpy(kcopy, lk, ll);
		for (uint32_t i = 0; i < c->n; i++) {
			struct cursor_file *cf = &c->files[i];
			if (!cf->active || key_cmp(cf->key, cf->h.key_len, kcopy, ll) != 0)
				continue;
			if (!(deliver && (int)i == newest)) {
				int e = file_reader_skip(&cf->r, cf->h.value_len);
				if (e)
					return e == FILE_EOF ? EKV_ECORRUPT : e;
			}
			int e = advance_head(c, cf);
			if (e < 0)
				return e;
		}
		if (deliver)
			return 1;
	}
}

void local_cursor_close(ekv_cursor *h)
{
	struct cursor *c = cursor_of(h);
	for (uint32_t i = 0; i < c->n; i++)
		file_close(&c->files[i]);
	free(c->end);
	if (c->s)
		db_snapshot_put(c->db, c->s);
	if (c->locked)
		hcore_unlock_shared(&c->db->c);
	free(c);
}
