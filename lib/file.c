/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * file.c — files, meta log, mount, format, readers, searcher and writer.
 * See file.h for what this layer owns; docs/FORMAT.md §5–§7 for the bytes.
 *
 * Every walk over flash-derived links is bounded: backward walks require a
 * strictly decreasing seq (so no page is visited twice), and chain walks at
 * mount mark pages used (a page reached twice is corruption).
 */
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "flash.h"

/* ---- helpers --------------------------------------------------------------- */

static int seq_add(uint32_t a, uint64_t n, uint32_t *out)
{
	uint64_t s = (uint64_t)a + n;
	if (s > UINT32_MAX)
		return EKV_ECORRUPT;
	*out = (uint32_t)s;
	return 0;
}

uint32_t max_trailing_zeros_between(uint32_t a, uint32_t b)
{
	if (a == 0)
		return 32;
	if (a >= b)
		return 0;
	return 31u - (uint32_t)__builtin_clz((a - 1) ^ (b - 1));
}

uint32_t skiplist_index(const struct geom *g, uint32_t left, uint32_t right)
{
	uint32_t bits = max_trailing_zeros_between(left, right);
	uint32_t i = bits > g->skiplist_shift ? bits - g->skiplist_shift : 0;
	return i < g->skiplist_len - 1 ? i : g->skiplist_len - 1;
}

uint32_t skiplist_seq(const struct geom *g, uint32_t curr, uint32_t index)
{
	if (curr == 0)
		return 0;
	uint32_t bits = index == 0 ? 0 : index + g->skiplist_shift;
	if (bits >= 32)
		return 0;
	return ((curr - 1) >> bits) << bits;
}

int read_data_header(const struct geom *g, struct ekv_flash *f, uint32_t page,
		     struct data_header *h)
{
	uint8_t raw[EKV_LAYER_HDR_MAX];
	if (page >= g->page_count)
		return EKV_ECORRUPT;
	int e = page_read_header(g, f, page, DATA_MAGIC, raw, g->data_hdr_size);
	if (e < 0)
		return e;
	data_header_decode(g, raw, h);
	return 0;
}

static int open_data_page(struct page_reader *pr, uint32_t page, struct data_header *h)
{
	uint8_t raw[EKV_LAYER_HDR_MAX];
	if (page >= pr->g->page_count)
		return EKV_ECORRUPT;
	int e = page_reader_open(pr, page, DATA_MAGIC, raw, pr->g->data_hdr_size);
	if (e < 0)
		return e;
	data_header_decode(pr->g, raw, h);
	return 0;
}

struct page_ptr {
	uint32_t page;
	struct data_header h;
};

/* Previous page of a chain, or none (*has = false) once seq_limit is reached. */
static int ptr_prev(const struct geom *g, struct ekv_flash *f, struct page_ptr *p,
		    uint32_t seq_limit, bool *has)
{
	*has = false;
	if (p->h.seq <= seq_limit)
		return 0;
	uint16_t prev = p->h.skiplist[0];
	if (prev == NO_PAGE)
		return 0;
	struct data_header h2;
	int e = read_data_header(g, f, prev, &h2);
	if (e < 0)
		return e == EKV_EIO ? e : EKV_ECORRUPT;
	if (h2.seq >= p->h.seq)
		return EKV_ECORRUPT;
	p->page = prev;
	p->h = h2;
	*has = true;
	return 0;
}

/* Walk back from p to the page that contains seq. */
static int ptr_prev_seq(const struct geom *g, struct ekv_flash *f, struct page_ptr *p,
			uint32_t seq)
{
	while (p->h.seq > seq) {
		uint32_t i = skiplist_index(g, seq, p->h.seq);
		uint16_t prev = p->h.skiplist[i];
		if (prev == NO_PAGE)
			return EKV_ECORRUPT;
		struct data_header h2;
		int e = read_data_header(g, f, prev, &h2);
		if (e < 0)
			return e == EKV_EIO ? e : EKV_ECORRUPT;
		if (h2.seq >= p->h.seq)
			return EKV_ECORRUPT;
		p->page = prev;
		p->h = h2;
	}
	return 0;
}

static int get_file_page(const struct geom *g, struct ekv_flash *f, const struct file_state *fs,
			 uint32_t seq, struct page_ptr *out, bool *has)
{
	*has = false;
	if (!fs->has_last || seq < fs->first_seq || seq >= fs->last_seq)
		return 0;
	out->page = fs->last_page;
	out->h = fs->last_hdr;
	int e = ptr_prev_seq(g, f, out, seq);
	if (e < 0)
		return e;
	*has = true;
	return 0;
}

int fm_file_pages(struct file_manager *m, uint32_t file, uint32_t *n)
{
	const struct file_state *f = &m->files[file];
	*n = 0;
	if (!f->has_last)
		return 0;
	struct page_ptr p = {.page = f->last_page, .h = f->last_hdr};
	for (bool has = true; has && *n <= m->g->page_count;) {
		(*n)++;
		int e = ptr_prev(m->g, m->f, &p, f->first_seq, &has);
		if (e < 0)
			return e;
	}
	return *n > m->g->page_count ? EKV_ECORRUPT : 0;
}

/* ---- manager --------------------------------------------------------------- */

int fm_init(struct file_manager *m, const struct geom *g, struct ekv_flash *f, uint32_t seed)
{
	memset(m, 0, sizeof(*m));
	m->g = g;
	m->f = f;
	m->random = seed;
	m->dirty = true;
	return alloc_init(&m->alloc, g->page_count);
}

void fm_destroy(struct file_manager *m)
{
	alloc_destroy(&m->alloc);
	free(m->pending);
	m->pending = NULL;
}

static uint32_t fm_random(struct file_manager *m)
{
	m->random *= 1750509587u;
	return m->random;
}

int fm_allocate(struct file_manager *m, uint32_t *page)
{
	for (;;) {
		if (m->pin_hook)
			m->pin_hook(m->pin_ctx, false);
		int64_t p = alloc_try_allocate(&m->alloc);
		if (p >= 0) {
			*page = (uint32_t)p;
			return 0;
		}
		if (!m->pin_hook || alloc_pinned_free(&m->alloc) == 0)
			return EKV_ENOSPC;
		/* only pages pinned by open snapshots are free: wait for them */
		int e = m->pin_hook(m->pin_ctx, true);
		if (e < 0)
			return e;
	}
}

/* Append to a growable array of page ids. */
static int pages_push(uint32_t **a, uint32_t *n, uint32_t *cap, uint32_t page)
{
	if (*n == *cap) {
		uint32_t c = *cap ? *cap * 2 : 16;
		uint32_t *p = realloc(*a, c * sizeof(*p));
		if (!p)
			return EKV_ENOMEM;
		*a = p;
		*cap = c;
	}
	(*a)[(*n)++] = page;
	return 0;
}

static int pending_add(struct file_manager *m, uint32_t page)
{
	return pages_push(&m->pending, &m->n_pending, &m->cap_pending, page);
}

/* The part of a meta page's headers written first by a rollover: what
 * follows magic and page id. */
#define META_HDR_SPLIT 8

/* Program a meta page header in two writes: the MetaHeader (and CRC) first,
 * then magic + page_id.  A torn second write leaves magic or page_id wrong,
 * so a meta page is never valid with a half-written seq or page_count. */
static int write_meta_header(struct file_manager *m, struct page_writer *w, uint32_t seq)
{
	const struct geom *g = m->g;
	uint8_t hdr[EKV_META_HDR_SIZE], buf[EKV_PAGE_HDR_MAX + EKV_META_HDR_SIZE];
	meta_header_encode(&(struct meta_header){g->page_count, seq}, hdr);
	int e = page_writer_erase_if_needed(w);
	if (e < 0)
		return e;
	page_header_encode(g, w->page, META_MAGIC, hdr, g->meta_hdr_size, buf);
	e = flash_write(m->f, w->page, META_HDR_SPLIT, buf + META_HDR_SPLIT,
			g->ph_size + g->meta_hdr_size - META_HDR_SPLIT);
	if (e < 0)
		return e;
	return flash_write(m->f, w->page, 0, buf, META_HDR_SPLIT);
}

int fm_format(struct file_manager *m)
{
	const struct geom *g = m->g;
	m->dirty = true;
	m->mounted = false;
	alloc_reset(&m->alloc, g->page_count, fm_random(m));
	memset(m->files, 0, sizeof(m->files));
	uint32_t meta;
	int e = fm_allocate(m, &meta);
	if (e < 0)
		return e;
	/* erase every valid meta page: a stale one could otherwise win on seq */
	uint8_t hdr[EKV_META_HDR_SIZE];
	for (uint32_t p = 0; p < g->page_count; p++) {
		e = page_read_header(g, m->f, p, META_MAGIC, hdr, g->meta_hdr_size);
		if (e == EKV_ECORRUPT)
			continue;
		if (e < 0)
			return e;
		e = flash_erase(m->f, p);
		if (e < 0)
			return e;
	}
	struct page_writer w;
	page_writer_open(&w, g, m->f, meta, g->meta_hdr_size);
	meta_header_encode(&(struct meta_header){g->page_count, 1}, hdr);
	e = page_writer_write_header(&w, META_MAGIC, hdr, g->meta_hdr_size);
	if (e < 0)
		return e;
	m->meta_page = meta;
	m->meta_seq = 1;
	m->seq_floor = 0;
	m->meta_append_offset = g->ph_size + g->meta_hdr_size;
	m->meta_clean = true;
	m->n_pending = 0;
	m->dirty = false;
	m->mounted = true;
	if (m->on_publish)
		m->on_publish(m->pin_ctx, NULL, 0);
	return 0;
}

/*
 * Read the meta log of page `meta`.  A chunk that is implausible (bad length,
 * CRC, or an entry that cannot be valid) is a torn append: it and everything
 * after it count as not written.  Fills metas[] (last entry per file wins),
 * *end (where the next chunk would go), *clean (tail erased) and *chunks
 * (valid chunks read).
 */
static int meta_log_read(struct file_manager *m, uint32_t meta, uint32_t page_count,
			 struct file_meta *metas, uint32_t *end, bool *clean, uint32_t *chunks)
{
	const struct geom *g = m->g;
	struct page_reader r;
	uint8_t hdr[EKV_META_HDR_SIZE];
	uint8_t *buf = malloc(g->chunk_max);
	if (!buf)
		return EKV_ENOMEM;
	page_reader_init(&r, g, m->f, 0);
	r.lenient = true;
	int e = page_reader_open(&r, meta, META_MAGIC, hdr, g->meta_hdr_size);
	bool torn = false;
	*chunks = 0;
	while (e >= 0) {
		e = page_reader_at_eof(&r);
		if (e != 0)
			break;
		uint32_t len = r.chunk_len;
		uint32_t at = r.chunk_offset;
		e = page_reader_read(&r, buf, len);
		if (e < 0)
			break;
		bool ok = (uint32_t)e == len && len % FILE_META_SIZE == 0;
		for (uint32_t i = 0; ok && i < len; i += FILE_META_SIZE) {
			struct file_meta fmeta;
			file_meta_decode(buf + i, &fmeta);
			ok = file_meta_valid(g, page_count, &fmeta);
		}
		if (!ok) {
			torn = true;
			r.chunk_offset = at;
			e = 0;
			break;
		}
		for (uint32_t i = 0; i < len; i += FILE_META_SIZE) {
			struct file_meta fmeta;
			file_meta_decode(buf + i, &fmeta);
			metas[fmeta.file_id] = fmeta;
		}
		(*chunks)++;
	}
	if (e >= 0) {
		e = 0;
		*end = r.chunk_offset < g->page_size ? r.chunk_offset : g->page_size;
		*clean = !torn && !r.torn_tail;
		if (*clean && *end < g->page_size)
			e = page_tail_is_erased(g, m->f, meta, *end, clean);
	}
	page_reader_free(&r);
	free(buf);
	return e;
}

/*
 * Mount the state of one meta page.  *weak is set when the page has no valid
 * log chunk but is not erased after its header: that is what a stale meta
 * page looks like after an interrupted erase kept its header (fm_mount).
 */
static int mount_candidate(struct file_manager *m, uint32_t meta, uint32_t seq,
			   uint32_t page_count, uint32_t random, bool *weak)
{
	const struct geom *g = m->g;
	struct file_meta metas[MAX_FILE_COUNT];
	uint32_t end, chunks;
	bool clean;
	*weak = false;
	if (page_count == 0 || page_count > g->page_count || meta >= page_count)
		return EKV_ECORRUPT;
	alloc_reset(&m->alloc, page_count, random);
	alloc_mark_used(&m->alloc, meta);
	for (uint32_t i = 0; i < g->file_count; i++)
		metas[i] = (struct file_meta){.file_id = (uint8_t)i, .last_page = NO_PAGE};
	int e = meta_log_read(m, meta, page_count, metas, &end, &clean, &chunks);
	if (e < 0)
		return e;
	*weak = chunks == 0 && !clean;
	memset(m->files, 0, sizeof(m->files));
	struct page_reader r;
	page_reader_init(&r, g, m->f, 0);
	for (uint32_t id = 0; id < g->file_count && e >= 0; id++) {
		struct file_meta *fmeta = &metas[id];
		if (fmeta->last_page == NO_PAGE)
			continue;
		struct page_ptr p = {.page = fmeta->last_page};
		e = open_data_page(&r, p.page, &p.h);
		if (e < 0)
			break;
		/* the page length is the sum of its chunks; bounded by the page */
		e = page_reader_skip(&r, g->page_size);
		if (e < 0)
			break;
		uint32_t last_seq;
		e = seq_add(p.h.seq, (uint32_t)e, &last_seq);
		if (e < 0)
			break;
		if (fmeta->first_seq >= last_seq) {
			e = EKV_ECORRUPT;
			break;
		}
		m->files[id] = (struct file_state){
			.has_last = true,
			.last_page = p.page,
			.last_hdr = p.h,
			.first_seq = fmeta->first_seq,
			.last_seq = last_seq,
			.flags = fmeta->flags,
		};
		for (;;) {
			e = alloc_mark_used(&m->alloc, p.page);
			if (e < 0)
				break;
			bool has;
			e = ptr_prev(g, m->f, &p, fmeta->first_seq, &has);
			if (e < 0 || !has)
				break;
		}
	}
	page_reader_free(&r);
	if (e < 0) {
		memset(m->files, 0, sizeof(m->files));
		return e == EKV_EIO || e == EKV_ENOMEM ? e : EKV_ECORRUPT;
	}
	m->meta_page = meta;
	m->meta_seq = seq;
	m->meta_append_offset = end;
	m->meta_clean = clean;
	return 0;
}

/* newest first: higher seq, then (the crate's tie rule) lower page index */
int meta_candidate_cmp(const void *a, const void *b)
{
	const struct meta_candidate *x = a, *y = b;
	if (x->seq != y->seq)
		return x->seq > y->seq ? -1 : 1;
	return x->page < y->page ? -1 : x->page > y->page;
}

int fm_mount(struct file_manager *m)
{
	const struct geom *g = m->g;
	m->dirty = true;
	m->mounted = false;
	struct meta_candidate *c = malloc(sizeof(*c) * g->page_count);
	if (!c)
		return EKV_ENOMEM;
	uint32_t n = 0;
	int e = 0;
	for (uint32_t p = 0; p < g->page_count; p++) {
		uint8_t hdr[EKV_META_HDR_SIZE];
		struct meta_header mh;
		e = page_read_header(g, m->f, p, META_MAGIC, hdr, g->meta_hdr_size);
		if (e == EKV_ECORRUPT)
			continue;
		if (e < 0)
			goto out;
		meta_header_decode(hdr, &mh);
		if (mh.seq == 0) /* the crate never selects seq 0 */
			continue;
		c[n++] = (struct meta_candidate){p, mh.seq, mh.page_count};
	}
	if (n == 0) {
		e = EKV_ENOFMT;
		goto out;
	}
	qsort(c, n, sizeof(*c), meta_candidate_cmp);
	uint32_t random = fm_random(m);
	/* The newest valid meta page wins.  If it fails validation (a page
	 * half-erased into a valid-looking header, a damaged log), fall back to
	 * the next newest, as the crate's format would have it without the
	 * damage.  Pages whose page_count differs from the device are tried only
	 * after all others.
	 *
	 * A "weak" page (no valid log chunk, not erased after the header) is
	 * tried only after every other page: an interrupted erase of a stale
	 * meta page leaves exactly that when the header survives, typically
	 * with a larger seq (bits move towards 0xff) and a log whose first chunk
	 * no longer parses, which would otherwise mount as an empty database.
	 * A legitimate newest page looks weak only if its rollover found every
	 * file empty (a rollover writes its entries before its header) and the
	 * first append after it was torn; the next-newest page then holds the
	 * state before that last compaction, which has the same contents, and
	 * if it does not validate the weak page is used after all. */
	int first_err = 0;
	int64_t weak_first = -1;
	uint32_t chosen = 0;
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t i = 0; i < n; i++) {
			bool exact = c[i].page_count == g->page_count;
			if (exact != (pass == 0))
				continue;
			bool weak;
			e = mount_candidate(m, c[i].page, c[i].seq, c[i].page_count, random, &weak);
			chosen = i;
			if (e == 0 && !weak)
				goto ok;
			if (e == 0) {
				if (weak_first < 0)
					weak_first = i;
				continue;
			}
			if (e == EKV_EIO || e == EKV_ENOMEM)
				goto out;
			if (!first_err)
				first_err = e;
		}
	}
	if (weak_first >= 0) {
		bool weak;
		uint32_t i = (uint32_t)weak_first;
		e = mount_candidate(m, c[i].page, c[i].seq, c[i].page_count, random, &weak);
		chosen = i;
		if (e == 0)
			goto ok;
		goto out;
	}
	e = first_err ? first_err : EKV_ECORRUPT;
	goto out;
ok:
	/* Fell back past a newer page: it stays on flash, and could validate
	 * later (say, once a page it names is written again) and then win a
	 * mount over every commit made from here.  So the next commit rolls
	 * over to a meta page numbered above all pages seen. */
	m->seq_floor = 0;
	if (chosen != 0) {
		m->seq_floor = c[0].seq;
		m->meta_clean = false;
	}
	m->dirty = false;
	m->mounted = true;
	/* pages of a failed transaction's frees may be referenced by snapshots
	 * taken before it, whether or not its commit reached flash */
	if (m->on_publish)
		m->on_publish(m->pin_ctx, m->pending, m->n_pending);
	m->n_pending = 0;
out:
	free(c);
	return e;
}

/* ---- file-level transaction -------------------------------------------------- */

void fm_tx_begin(struct file_manager *m)
{
	for (uint32_t i = 0; i < m->g->file_count; i++)
		m->files[i].changed = false;
	m->n_pending = 0;
}

static void touch(struct file_manager *m, uint32_t file)
{
	m->dirty = true;
	m->files[file].changed = true;
	m->files[file].dirty = true;
}

void fm_set_flags(struct file_manager *m, uint32_t file, uint8_t flags)
{
	m->dirty = true;
	struct file_state *f = &m->files[file];
	/* flags only stick to non-empty files */
	if (f->has_last && f->flags != flags) {
		f->flags = flags;
		touch(m, file);
	}
}

void fm_rename(struct file_manager *m, uint32_t from, uint32_t to)
{
	struct file_state t = m->files[from];
	m->files[from] = m->files[to];
	m->files[to] = t;
	touch(m, from);
	touch(m, to);
}

int fm_truncate(struct file_manager *m, uint32_t file, uint32_t bytes)
{
	const struct geom *g = m->g;
	if (bytes == 0)
		return 0;
	m->dirty = true;
	struct file_state *f = &m->files[file];
	if (!f->has_last)
		return EKV_ECORRUPT;
	uint32_t len = f->last_seq - f->first_seq;
	uint32_t seq = f->first_seq + (bytes < len ? bytes : len);
	uint32_t old_seq = f->first_seq;
	struct page_ptr p;
	bool has = true;
	int e;
	if (seq == f->last_seq) {
		p.page = f->last_page;
		p.h = f->last_hdr;
	} else {
		e = get_file_page(g, m->f, f, seq, &p, &has);
		if (e < 0)
			return e;
		if (!has)
			return EKV_ECORRUPT;
		e = ptr_prev(g, m->f, &p, old_seq, &has);
		if (e < 0)
			return e;
	}
	/* free from p back to the file's first page: deferred until the meta
	 * append that commits this truncation is durable (hole B) */
	while (has) {
		if (!alloc_is_used(&m->alloc, p.page))
			return EKV_ECORRUPT;
		e = pending_add(m, p.page);
		if (e < 0)
			return e;
		e = ptr_prev(g, m->f, &p, old_seq, &has);
		if (e < 0)
			return e;
	}
	if (seq == f->last_seq) {
		*f = (struct file_state){.dirty = f->dirty};
	} else {
		f->first_seq = seq;
	}
	touch(m, file);
	return 0;
}

/* The FileMeta entry of a file as the working state has it. */
static void file_meta_of(const struct file_manager *m, uint32_t id, uint8_t *b)
{
	const struct file_state *f = &m->files[id];
	file_meta_encode(&(struct file_meta){
				 .file_id = (uint8_t)id,
				 .flags = f->flags,
				 .last_page = f->has_last ? (uint16_t)f->last_page : NO_PAGE,
				 .first_seq = f->has_last ? f->first_seq : 0,
			 },
			 b);
}

static int meta_rollover(struct file_manager *m)
{
	const struct geom *g = m->g;
	uint32_t page;
	uint32_t seq = m->meta_seq > m->seq_floor ? m->meta_seq : m->seq_floor;
	if (seq == UINT32_MAX)
		return EKV_ECORRUPT;
	seq++;
	int e = fm_allocate(m, &page);
	if (e < 0)
		return e;
	struct page_writer w;
	page_writer_open(&w, g, m->f, page, g->meta_hdr_size);
	for (uint32_t id = 0; id < g->file_count; id++) {
		if (!m->files[id].has_last)
			continue;
		uint8_t b[FILE_META_SIZE];
		file_meta_of(m, id, b);
		e = page_writer_write(&w, b, FILE_META_SIZE);
		if (e >= 0 && e != FILE_META_SIZE)
			e = EKV_ECORRUPT;
		if (e < 0)
			goto fail;
	}
	e = page_writer_commit(&w);
	if (e < 0)
		goto fail;
	/* hole A: the header goes last, so the new page is never valid before it
	 * holds the full state */
	e = write_meta_header(m, &w, seq);
	if (e < 0)
		goto fail;
	alloc_free(&m->alloc, m->meta_page);
	m->meta_page = page;
	m->meta_seq = seq;
	m->seq_floor = 0;
	m->meta_append_offset = w.chunk_offset;
	m->meta_clean = true;
	return 0;
fail:
	alloc_free(&m->alloc, page);
	return e;
}

static bool is_pow2(uint32_t n)
{
	return n && !(n & (n - 1));
}

int fm_tx_commit(struct file_manager *m)
{
	const struct geom *g = m->g;
	int e;
	m->dirty = true;
	uint8_t entries[MAX_FILE_COUNT * 2 * FILE_META_SIZE];
	uint32_t n = 0;
	for (uint32_t id = 0; id < g->file_count; id++) {
		bool log = m->rust_meta_log ? m->files[id].dirty : m->files[id].changed;
		if (log)
			file_meta_of(m, id, entries + FILE_META_SIZE * n++);
	}
	/* Erase value 0x00 without CRC: a torn chunk length can only lose bits,
	 * so it could look like a shorter valid chunk holding a prefix of the
	 * entries.  With a power-of-two entry count the length has one bit set
	 * and tears to 0 or to the full length.  Repeats of the last entry are
	 * harmless (the last entry per file wins). */
	if (!m->rust_meta_log && !g->crc && g->erase_value == 0x00 && n && !is_pow2(n)) {
		uint32_t want = n;
		while (!is_pow2(want))
			want++;
		for (; n < want; n++)
			memcpy(entries + FILE_META_SIZE * n, entries + FILE_META_SIZE * (n - 1),
			       FILE_META_SIZE);
	}
	bool full = !m->meta_clean;
	if (!full && n) {
		struct page_writer w;
		page_writer_open_at(&w, g, m->f, m->meta_page, g->meta_hdr_size,
				    m->meta_append_offset, true);
		for (uint32_t i = 0; i < n && !full; i++) {
			e = page_writer_write(&w, entries + FILE_META_SIZE * i, FILE_META_SIZE);
			if (e < 0)
				goto fail;
			if (e != FILE_META_SIZE)
				full = true;
		}
		if (full) {
			/* bytes written past the last chunk make the page unusable
			 * for appends, like a torn append */
			m->meta_clean = false;
		} else {
			e = page_writer_commit(&w);
			if (e < 0)
				goto fail;
			m->meta_append_offset = w.chunk_offset;
		}
	}
	if (full) {
		e = meta_rollover(m);
		if (e < 0)
			goto fail;
	}
	/* durable: the pages freed by this transaction may now be reused */
	for (uint32_t i = 0; i < m->n_pending; i++)
		alloc_free(&m->alloc, m->pending[i]);
	for (uint32_t id = 0; id < g->file_count; id++)
		m->files[id].changed = false;
	m->dirty = false;
	if (m->on_publish)
		m->on_publish(m->pin_ctx, m->pending, m->n_pending);
	m->n_pending = 0;
	return 0;
fail:
	/* the working state is ahead of flash: the next operation remounts */
	m->meta_clean = false;
	return e;
}

/* ---- reader ---------------------------------------------------------------- */

void file_reader_init(struct file_reader *r, const struct geom *g, struct ekv_flash *f,
		      const struct file_state *fs, struct page_reader *pr)
{
	r->g = g;
	r->f = f;
	r->fs = fs;
	r->pr = pr;
	r->state = FR_CREATED;
	r->seq = 0;
}

uint32_t file_reader_curr_seq(const struct file_reader *r)
{
	switch (r->state) {
	case FR_CREATED:
		return r->fs->first_seq;
	case FR_READING:
		return r->seq;
	default:
		return r->fs->has_last ? r->fs->last_seq : 0;
	}
}

int file_reader_seek_seq(struct file_reader *r, uint32_t seq)
{
	struct page_ptr p;
	bool has;
	int e = get_file_page(r->g, r->f, r->fs, seq, &p, &has);
	if (e < 0)
		return e;
	if (!has) {
		r->state = FR_FINISHED;
		return 0;
	}
	struct data_header h;
	e = open_data_page(r->pr, p.page, &h);
	if (e < 0)
		return e == EKV_EIO ? e : EKV_ECORRUPT;
	if (seq < h.seq)
		return EKV_ECORRUPT;
	uint32_t n = seq - h.seq;
	e = page_reader_skip(r->pr, n);
	if (e < 0)
		return e;
	if ((uint32_t)e != n)
		return EKV_ECORRUPT;
	e = page_reader_at_eof(r->pr);
	if (e < 0)
		return e;
	if (e) /* a hole: the file says seq exists, the page ends before it */
		return EKV_ECORRUPT;
	r->state = FR_READING;
	r->seq = seq;
	return 0;
}

static int next_page(struct file_reader *r)
{
	bool was_reading = r->state == FR_READING;
	uint32_t prev_page = r->pr->page;
	int e = file_reader_seek_seq(r, file_reader_curr_seq(r));
	if (e < 0)
		return e;
	/* a page that yields no bytes where the file says there are some would
	 * loop forever */
	if (was_reading && r->state == FR_READING && r->pr->page == prev_page)
		return EKV_ECORRUPT;
	return 0;
}

int file_reader_read(struct file_reader *r, void *buf, uint32_t len)
{
	uint8_t *out = buf;
	bool read_some = false;
	/* each iteration reads bytes or moves to a page with a larger seq */
	while (len) {
		int e;
		switch (r->state) {
		case FR_FINISHED:
			return read_some ? EKV_ECORRUPT : FILE_EOF;
		case FR_CREATED:
			e = next_page(r);
			if (e < 0)
				return e;
			break;
		default:
			e = page_reader_read(r->pr, out, len);
			if (e < 0)
				return e;
			if (e == 0) {
				e = next_page(r);
				if (e < 0)
					return e;
			} else {
				out += e;
				len -= (uint32_t)e;
				if (seq_add(r->seq, (uint32_t)e, &r->seq) < 0)
					return EKV_ECORRUPT;
				read_some = true;
			}
		}
	}
	return 0;
}

int file_reader_skip(struct file_reader *r, uint32_t len)
{
	if (r->state == FR_READING && len < r->g->payload_max) {
		int e = page_reader_skip(r->pr, len);
		if (e < 0)
			return e;
		len -= (uint32_t)e;
		r->seq += (uint32_t)e;
	}
	if (len == 0)
		return 0;
	if (r->state == FR_FINISHED)
		return FILE_EOF;
	uint32_t seq = file_reader_curr_seq(r), new_seq;
	if (seq_add(seq, len, &new_seq) < 0 || new_seq > r->fs->last_seq)
		return FILE_EOF;
	return file_reader_seek_seq(r, new_seq);
}

void file_reader_save(const struct file_reader *r, struct file_pos *pos)
{
	pos->state = r->state;
	pos->seq = r->seq;
	page_reader_save(r->pr, &pos->pp);
}

void file_reader_restore(struct file_reader *r, const struct file_pos *pos)
{
	r->state = pos->state;
	r->seq = pos->seq;
	if (pos->state == FR_READING)
		page_reader_restore(r->pr, &pos->pp);
}

/* ---- searcher -------------------------------------------------------------- */

#define TOO_MUCH_LEFT 2

static int seek_to_page(struct file_searcher *s, uint32_t page, uint32_t target)
{
	const struct geom *g = s->r.g;
	uint32_t right_limit = s->right;
	struct data_header h;
	/* right_limit strictly decreases, so no page is visited twice */
	for (;;) {
		int e = read_data_header(g, s->r.f, page, &h);
		if (e < 0)
			return e == EKV_EIO ? e : EKV_ECORRUPT;
		if (h.seq >= right_limit || h.seq > target)
			return EKV_ECORRUPT;
		if (h.seq <= s->left)
			return TOO_MUCH_LEFT;
		if (h.record_boundary != NO_BOUNDARY)
			break;
		if (h.skiplist[0] == NO_PAGE)
			return EKV_ECORRUPT;
		page = h.skiplist[0];
		right_limit = h.seq;
	}
	int e = open_data_page(s->r.pr, page, &h);
	if (e < 0)
		return e == EKV_EIO ? e : EKV_ECORRUPT;
	uint32_t b = h.record_boundary;
	if (b >= g->payload_max)
		return EKV_ECORRUPT;
	uint32_t boundary_seq;
	if (seq_add(h.seq, b, &boundary_seq) < 0 || boundary_seq >= right_limit)
		return EKV_ECORRUPT;
	if (boundary_seq <= s->left)
		return TOO_MUCH_LEFT;
	e = page_reader_skip(s->r.pr, b);
	if (e < 0)
		return e;
	if ((uint32_t)e != b)
		return EKV_ECORRUPT;
	s->curr_mid = boundary_seq;
	s->curr_high = target > boundary_seq ? target : boundary_seq;
	s->r.state = FR_READING;
	s->r.seq = s->curr_mid;
	s->curr_low = h.seq;
	memcpy(s->curr_skiplist, h.skiplist, sizeof(s->curr_skiplist));
	if (!(s->left <= s->curr_low && s->curr_high <= s->right))
		return EKV_ECORRUPT;
	return 0;
}

static int really_seek(struct file_searcher *s)
{
	const struct geom *g = s->r.g;
	uint32_t left1;
	if (seq_add(s->left, 1, &left1) < 0)
		return EKV_ECORRUPT;
	uint32_t i = left1 >= s->right ? 0 : skiplist_index(g, left1, s->right);
	for (;;) {
		if (s->right > s->left) {
			uint16_t page = s->right_skiplist[i];
			if (page != NO_PAGE) {
				uint32_t seq = skiplist_seq(g, s->right, i);
				if (seq >= s->left) {
					int e = seek_to_page(s, page, seq);
					if (e == 0)
						return 1;
					if (e != TOO_MUCH_LEFT)
						return e;
					if (seq_add(seq, 1, &s->left) < 0)
						return EKV_ECORRUPT;
				}
			}
		}
		if (i == 0) {
			int e = file_reader_seek_seq(&s->r, s->result);
			return e < 0 ? e : 0;
		}
		i--;
	}
}

int file_searcher_start(struct file_searcher *s)
{
	const struct geom *g = s->r.g;
	const struct file_state *f = s->r.fs;
	s->result = s->left = f->first_seq;
	s->right = f->last_seq;
	if (!f->has_last)
		return 0;
	if (f->last_seq <= f->last_hdr.seq)
		return EKV_ECORRUPT;
	memcpy(s->right_skiplist, f->last_hdr.skiplist, sizeof(s->right_skiplist));
	uint32_t top = skiplist_index(g, f->last_hdr.seq, f->last_seq) + 1;
	for (uint32_t i = 0; i < top; i++)
		s->right_skiplist[i] = (uint16_t)f->last_page;
	return really_seek(s);
}

int file_searcher_seek(struct file_searcher *s, bool right)
{
	if (right) {
		if (seq_add(s->curr_high, 1, &s->left) < 0)
			return EKV_ECORRUPT;
		s->result = s->curr_mid;
	} else {
		s->right = s->curr_low;
		memcpy(s->right_skiplist, s->curr_skiplist, sizeof(s->right_skiplist));
	}
	return really_seek(s);
}

/* ---- writer ---------------------------------------------------------------- */

static int writer_track(struct file_writer *w, uint32_t page)
{
	return pages_push(&w->pages, &w->n_pages, &w->cap_pages, page);
}

static int writer_new_page(struct file_writer *w, struct file_manager *m, uint32_t *page)
{
	int e = fm_allocate(m, page);
	if (e < 0)
		return e;
	e = writer_track(w, *page);
	if (e < 0) {
		alloc_free(&m->alloc, *page);
		return e;
	}
	page_writer_open(&w->w, m->g, m->f, *page, m->g->data_hdr_size);
	w->writing = true;
	return 0;
}

int file_writer_open(struct file_writer *w, struct file_manager *m, struct page_reader *pr,
		     uint32_t file)
{
	const struct geom *g = m->g;
	const struct file_state *f = &m->files[file];
	memset(w, 0, sizeof(*w));
	w->file = file;
	w->has_last = f->has_last;
	w->last_page = f->last_page;
	w->last_hdr = f->last_hdr;
	w->seq = f->has_last ? f->last_seq : 0;
	w->at_record_boundary = true;
	w->has_boundary = true;
	w->record_boundary = 0;
	if (!f->has_last)
		return 0;
	/* Copy a non-full last page to a fresh page before appending, so that
	 * progressive compaction never leaves half-empty pages mid-file. */
	struct data_header h;
	int e = open_data_page(pr, f->last_page, &h);
	if (e < 0)
		return e == EKV_EIO ? e : EKV_ECORRUPT;
	e = page_reader_skip(pr, g->page_size);
	if (e < 0)
		return e;
	uint32_t page_len = (uint32_t)e;
	if (page_len > g->payload_max)
		return EKV_ECORRUPT;
	if (g->payload_max - page_len < geom_align_up(g, g->ch_size + 1))
		return 0;
	e = open_data_page(pr, f->last_page, &h);
	if (e < 0)
		return e;
	uint32_t page;
	e = writer_new_page(w, m, &page);
	if (e < 0)
		return e;
	uint8_t buf[128];
	for (;;) {
		int n = page_reader_read(pr, buf, sizeof(buf));
		if (n < 0)
			return n;
		if (n == 0)
			break;
		e = page_writer_write(&w->w, buf, (uint32_t)n);
		if (e < 0)
			return e;
		if (e != n)
			return EKV_ECORRUPT;
	}
	w->seq = f->last_hdr.seq;
	w->at_record_boundary = true;
	w->has_boundary = f->last_hdr.record_boundary != NO_BOUNDARY;
	w->record_boundary = w->has_boundary ? f->last_hdr.record_boundary : 0;
	struct page_ptr p = {.page = f->last_page, .h = f->last_hdr};
	bool has;
	e = ptr_prev(g, m->f, &p, f->first_seq, &has);
	if (e < 0)
		return e;
	w->has_last = has;
	w->last_page = p.page;
	w->last_hdr = p.h;
	w->rewritten = true;
	w->rewritten_page = f->last_page;
	return 0;
}

static int flush_header(struct file_writer *w, struct file_manager *m)
{
	const struct geom *g = m->g;
	struct data_header h;
	memset(&h, 0, sizeof(h));
	for (uint32_t i = 0; i < MAX_SKIPLIST_LEN; i++)
		h.skiplist[i] = NO_PAGE;
	if (w->has_last) {
		memcpy(h.skiplist, w->last_hdr.skiplist, sizeof(h.skiplist));
		uint32_t top = skiplist_index(g, w->last_hdr.seq, w->seq) + 1;
		for (uint32_t i = 0; i < top; i++)
			h.skiplist[i] = (uint16_t)w->last_page;
	}
	uint32_t len = w->w.total_len, next_seq;
	if (seq_add(w->seq, len, &next_seq) < 0)
		return EKV_ECORRUPT;
	h.seq = w->seq;
	h.record_boundary =
		w->has_boundary && w->record_boundary < len ? w->record_boundary : NO_BOUNDARY;
	uint8_t raw[EKV_LAYER_HDR_MAX];
	data_header_encode(g, &h, raw);
	int e = page_writer_write_header(&w->w, DATA_MAGIC, raw, g->data_hdr_size);
	if (e < 0)
		return e;
	e = page_writer_commit(&w->w);
	if (e < 0)
		return e;
	w->seq = next_seq;
	w->has_last = true;
	w->last_page = w->w.page;
	w->last_hdr = h;
	w->has_boundary = w->at_record_boundary;
	w->record_boundary = 0;
	w->writing = false;
	return 0;
}

static int writer_next_page(struct file_writer *w, struct file_manager *m)
{
	if (w->writing) {
		int e = flush_header(w, m);
		if (e < 0)
			return e;
	}
	uint32_t page;
	return writer_new_page(w, m, &page);
}

int file_writer_write(struct file_writer *w, struct file_manager *m, const void *data,
		      uint32_t len)
{
	const uint8_t *p = data;
	while (len) {
		if (!w->writing) {
			int e = writer_next_page(w, m);
			if (e < 0)
				return e;
			continue;
		}
		int n = page_writer_write(&w->w, p, len);
		if (n < 0)
			return n;
		p += n;
		len -= (uint32_t)n;
		if (n == 0) {
			int e = writer_next_page(w, m);
			if (e < 0)
				return e;
		}
		w->at_record_boundary = false;
	}
	return 0;
}

void file_writer_record_end(struct file_writer *w)
{
	if (!w->has_boundary && w->writing) {
		w->record_boundary = (uint16_t)w->w.total_len;
		w->has_boundary = true;
	}
	w->at_record_boundary = true;
}

uint32_t file_writer_space_left_on_page(const struct file_writer *w, const struct geom *g)
{
	if (!w->writing)
		return 0;
	return g->payload_max > w->w.total_len ? g->payload_max - w->w.total_len : 0;
}

int file_writer_commit(struct file_writer *w, struct file_manager *m)
{
	if (!w->writing)
		return 0;
	int e = flush_header(w, m);
	if (e < 0)
		return e;
	struct file_state *f = &m->files[w->file];
	f->has_last = true;
	f->last_page = w->last_page;
	f->last_hdr = w->last_hdr;
	f->last_seq = w->seq;
	touch(m, w->file);
	w->n_pages = 0; /* now part of the file */
	if (w->rewritten) {
		w->rewritten = false;
		e = pending_add(m, w->rewritten_page);
		if (e < 0)
			return e;
	}
	return 0;
}

void file_writer_discard(struct file_writer *w, struct file_manager *m)
{
	for (uint32_t i = 0; i < w->n_pages; i++)
		if (alloc_is_used(&m->alloc, w->pages[i]))
			alloc_free(&m->alloc, w->pages[i]);
	w->n_pages = 0;
	w->writing = false;
}

void file_writer_free(struct file_writer *w)
{
	free(w->pages);
	w->pages = NULL;
	w->n_pages = w->cap_pages = 0;
}
