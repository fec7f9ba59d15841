/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * compact.c — the LSM tree: write transactions, compaction and the
 * free-space reserve (docs/FORMAT.md §7).  See compact.h.
 *
 * The decisions here (file placement, which level to compact, when to stop
 * a progressive compaction) reproduce the crate's, so that an image written
 * here keeps working when the crate writes to it, and the other way round.
 */
#include <stdlib.h>
#include <string.h>

#include "compact.h"

/* ---- engine --------------------------------------------------------------- */

int rec_engine_init(struct rec_engine *en, const struct geom *g, struct ekv_flash *f,
		    uint32_t seed)
{
	memset(en, 0, sizeof(*en));
	int e = fm_init(&en->fm, g, f, seed);
	if (e < 0)
		return e;
	for (uint32_t i = 0; i < EKV_BF_MAX + 1; i++)
		page_reader_init(&en->readers[i], g, f, 0);
	en->key_bufs = malloc((size_t)g->bf * g->max_key + 1);
	if (!en->key_bufs) {
		rec_engine_destroy(en);
		return EKV_ENOMEM;
	}
	return 0;
}

void rec_engine_destroy(struct rec_engine *en)
{
	for (uint32_t i = 0; i < EKV_BF_MAX + 1; i++)
		page_reader_free(&en->readers[i]);
	free(en->key_bufs);
	en->key_bufs = NULL;
	fm_destroy(&en->fm);
}

/* crate: record.rs Inner::file_id */
static uint32_t file_id(const struct geom *g, uint32_t level, uint32_t i)
{
	return 1 + level * g->bf + i;
}

/* The first empty slot of a level with no non-empty slot after it.
 * crate: record.rs Inner::new_file_in_level */
static int new_file_in_level(struct file_manager *m, uint32_t level)
{
	int res = -1;
	for (uint32_t i = 0; i < m->g->bf; i++) {
		uint32_t id = file_id(m->g, level, i);
		if (fm_is_empty(m, id)) {
			if (res < 0)
				res = (int)id;
		} else {
			res = -1;
		}
	}
	return res;
}

static uint32_t level_file_count(struct file_manager *m, uint32_t level)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < m->g->bf; i++)
		n += !fm_is_empty(m, file_id(m->g, level, i));
	return n;
}

/* Find compaction work: sources src[] (n), destination *dst. 0 = none.
 * crate: record.rs Inner::compact_find_work */
static int compact_find_work(struct file_manager *m, uint32_t *src, uint32_t *n, uint32_t *dst)
{
	const struct geom *g = m->g;
	int dest = -1;
	for (uint32_t id = 0; id < g->file_count; id++) {
		if (m->files[id].flags & FLAG_COMPACT_DEST) {
			if (dest >= 0)
				return EKV_ECORRUPT;
			dest = (int)id;
		}
	}
	*n = 0;
	if (dest >= 0) {
		for (uint32_t id = 0; id < g->file_count; id++) {
			if (!(m->files[id].flags & FLAG_COMPACT_SRC))
				continue;
			if ((int)id <= dest || *n == g->bf)
				return EKV_ECORRUPT;
			src[(*n)++] = id;
		}
		if (*n == 0)
			return EKV_ECORRUPT;
		*dst = (uint32_t)dest;
		return 1;
	}
	if (!fm_is_empty(m, 0))
		return EKV_ECORRUPT;
	/* the fullest level whose upper level is not full; ties: the deepest */
	uint32_t best = 0, best_count = 0;
	bool any = false;
	for (uint32_t lv = 0; lv < g->level_count; lv++) {
		if (lv > 0 && level_file_count(m, lv - 1) == g->bf)
			continue;
		uint32_t c = level_file_count(m, lv);
		if (!any || c >= best_count) {
			best = lv;
			best_count = c;
			any = true;
		}
	}
	if (best == 0) {
		*dst = 0;
	} else {
		int d = new_file_in_level(m, best - 1);
		if (d < 0)
			return EKV_ECORRUPT;
		*dst = (uint32_t)d;
	}
	for (uint32_t i = 0; i < g->bf; i++) {
		uint32_t id = file_id(g, best, i);
		if (!fm_is_empty(m, id))
			src[(*n)++] = id;
	}
	if (*n == 0 || (*n == 1 && best == 0))
		return 0;
	return 1;
}

struct key_slot {
	bool valid;
	struct rec_hdr h;
	uint8_t *key;
};

static int read_slot(struct file_reader *r, struct key_slot *k)
{
	int e = rec_read_head(r, &k->h, k->key);
	if (e == FILE_EOF) {
		k->valid = false;
		return 0;
	}
	if (e < 0)
		return e;
	k->valid = true;
	return 0;
}

static int copy_bytes(struct file_manager *m, struct file_reader *r, struct file_writer *w,
		      uint32_t len)
{
	uint8_t buf[128];
	while (len) {
		uint32_t n = len < sizeof(buf) ? len : sizeof(buf);
		int e = rec_no_eof(file_reader_read(r, buf, n));
		if (e < 0)
			return e;
		e = file_writer_write(w, m, buf, n);
		if (e < 0)
			return e;
		len -= n;
	}
	return 0;
}

/* crate: record.rs Inner::do_compact */
static int do_compact(struct rec_engine *en, const uint32_t *src, uint32_t n, uint32_t dst)
{
	struct file_manager *m = &en->fm;
	const struct geom *g = m->g;
	bool topmost = dst == 0;
	int e;
	if (fm_is_empty(m, dst) && n == 1) {
		fm_tx_begin(m);
		fm_rename(m, src[0], dst);
		return fm_tx_commit(m);
	}
	struct file_writer w;
	e = file_writer_open(&w, m, &en->readers[g->bf], dst);
	if (e < 0)
		goto out;
	struct file_reader r[EKV_BF_MAX];
	struct key_slot k[EKV_BF_MAX];
	uint32_t trunc[EKV_BF_MAX] = {0};
	for (uint32_t i = 0; i < n; i++) {
		file_reader_init(&r[i], g, m->f, &m->files[src[i]], &en->readers[i]);
		k[i].key = en->key_bufs + (size_t)i * g->max_key;
		e = read_slot(&r[i], &k[i]);
		if (e < 0)
			goto out;
	}
	bool progress = false, done;
	for (;;) {
		/* bits: the sources holding the smallest key; the highest wins */
		uint32_t bits = 0;
		int hi = -1;
		for (uint32_t i = 0; i < n; i++) {
			if (!k[i].valid)
				continue;
			if (hi < 0) {
				bits = 1u << i;
				hi = (int)i;
				continue;
			}
			int c = key_cmp(k[hi].key, k[hi].h.key_len, k[i].key, k[i].h.key_len);
			if (c > 0)
				bits = 1u << i;
			else if (c == 0)
				bits |= 1u << i;
			if (c >= 0)
				hi = (int)i;
		}
		if (hi < 0) {
			done = true;
			break;
		}
		struct key_slot *ks = &k[hi];
		uint64_t need = (uint64_t)geom_record_size(ks->h.key_len, ks->h.value_len) +
				(uint64_t)MIN_FREE_PAGE_COUNT_COMPACT * g->payload_max;
		uint64_t avail = file_writer_space_left_on_page(&w, g) +
				 (uint64_t)alloc_free_pages(&m->alloc) * g->payload_max;
		if (need > avail) {
			done = false;
			break;
		}
		progress = true;
		if (!(topmost && ks->h.is_delete)) {
			e = rec_write_head(&w, m, &ks->h, ks->key);
			if (e == 0)
				e = copy_bytes(m, &r[hi], &w, ks->h.value_len);
			if (e < 0)
				goto out;
			file_writer_record_end(&w);
		}
		for (uint32_t j = 0; j < n; j++) {
			if (!(bits & (1u << j)))
				continue;
			if ((int)j != hi) {
				e = rec_no_eof(file_reader_skip(&r[j], k[j].h.value_len));
				if (e < 0)
					goto out;
			}
			trunc[j] = file_reader_offset(&r[j]);
			e = read_slot(&r[j], &k[j]);
			if (e < 0)
				goto out;
		}
	}
	if (!progress) {
		e = EKV_ECORRUPT;
		goto out;
	}
	uint8_t src_flag = done ? 0 : FLAG_COMPACT_SRC;
	uint8_t dst_flag = done ? 0 : FLAG_COMPACT_DEST;
	fm_tx_begin(m);
	for (uint32_t i = 0; i < n; i++) {
		fm_set_flags(m, src[i], src_flag);
		e = fm_truncate(m, src[i], trunc[i]);
		if (e < 0)
			goto out;
	}
	e = file_writer_commit(&w, m);
	if (e < 0)
		goto out;
	fm_set_flags(m, dst, dst_flag);
	if (topmost && done)
		fm_rename(m, 0, file_id(g, 0, 0));
	e = fm_tx_commit(m);
out:
	if (e < 0) {
		/* the working state is now unknown: remount before the next use
		 * (which also reclaims the destination's unreferenced pages) */
		m->dirty = true;
	}
	file_writer_free(&w);
	return e;
}

int rec_compact(struct rec_engine *en)
{
	uint32_t src[EKV_BF_MAX], n, dst;
	int e = compact_find_work(&en->fm, src, &n, &dst);
	if (e <= 0)
		return e;
	e = do_compact(en, src, n, dst);
	return e < 0 ? e : 1;
}

/* crate: record.rs Inner::ensure_write_transaction_started */
static int wtx_start(struct rec_engine *en, struct rec_wtx *tx)
{
	struct file_manager *m = &en->fm;
	int id;
	/* a full last level is compacted until a slot frees up; every step
	 * moves data one level up, so this ends (the guard only protects
	 * against a corrupted state that keeps reporting work) */
	for (int guard = 0; (id = new_file_in_level(m, m->g->level_count - 1)) < 0; guard++) {
		int e = rec_compact(en);
		if (e < 0)
			return e;
		if (e == 0 || guard > 100000)
			return EKV_ECORRUPT;
	}
	int e = file_writer_open(&tx->w, m, &en->readers[0], (uint32_t)id);
	if (e < 0)
		return e;
	tx->started = true;
	return 0;
}

int rec_wtx_write(struct rec_engine *en, struct rec_wtx *tx, const uint8_t *key, uint32_t klen,
		  const uint8_t *value, uint32_t vlen, bool is_delete)
{
	struct file_manager *m = &en->fm;
	const struct geom *g = m->g;
	int e;
	if (!tx->started) {
		e = wtx_start(en, tx);
		if (e < 0)
			return e;
	}
	if (tx->has_last_key && key_cmp(key, klen, tx->last_key, tx->last_key_len) <= 0)
		return EKV_ENOTSORTED;
	memcpy(tx->last_key, key, klen);
	tx->last_key_len = klen;
	tx->has_last_key = true;
	struct rec_hdr h = {.key_len = klen, .value_len = vlen, .is_delete = is_delete};
	for (;;) {
		uint64_t need = (uint64_t)geom_record_size(klen, vlen) +
				(uint64_t)g->min_free_pages * g->payload_max;
		uint64_t avail = file_writer_space_left_on_page(&tx->w, g) +
				 (uint64_t)alloc_free_pages(&m->alloc) * g->payload_max;
		if (need <= avail)
			break;
		e = rec_compact(en);
		if (e < 0)
			return e;
		if (e == 0)
			return EKV_ENOSPC;
	}
	e = rec_write_head(&tx->w, m, &h, key);
	if (e == 0)
		e = file_writer_write(&tx->w, m, value, vlen);
	if (e < 0)
		return e;
	file_writer_record_end(&tx->w);
	return 0;
}

int rec_wtx_commit(struct rec_engine *en, struct rec_wtx *tx)
{
	struct file_manager *m = &en->fm;
	if (!tx->started)
		return 0;
	fm_tx_begin(m);
	int e = file_writer_commit(&tx->w, m);
	if (e == 0)
		e = fm_tx_commit(m);
	if (e < 0)
		m->dirty = true;
	tx->started = false;
	file_writer_free(&tx->w);
	return e;
}

void rec_wtx_discard(struct rec_engine *en, struct rec_wtx *tx)
{
	if (tx->started && !en->fm.dirty)
		file_writer_discard(&tx->w, &en->fm);
	tx->started = false;
	file_writer_free(&tx->w);
}
