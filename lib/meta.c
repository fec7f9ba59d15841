/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * meta.c — the file manager: meta log, format, mount, allocation and the
 * file-level transaction.  See meta.h for what it owns; docs/FORMAT.md §5
 * and §9 for the bytes and the rules; docs/DESIGN.md for why.
 *
 * Every walk over flash-derived links is bounded: chain walks at mount mark
 * pages used (a page reached twice is corruption), and the log is read
 * chunk by chunk, each advancing by at least a chunk header.
 */
#include <stdlib.h>
#include <string.h>

#include "flash.h"
#include "invariant.h"
#include "meta.h"

/* ---- manager --------------------------------------------------------------- */

int fm_file_pages(struct file_manager *m, uint32_t file, uint32_t *n)
{
	return chain_page_count(m->g, m->f, &m->files[file], n);
}

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

int fm_defer_free(struct file_manager *m, uint32_t page)
{
	return page_ids_push(&m->pending, &m->n_pending, &m->cap_pending, page);
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

/* crate: file.rs FileManager::format */
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
	if (e == 0)
		e = flash_sync(m->f);
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

/* mount: the last entry per file wins */
static int apply_chunk(void *ctx, const struct meta_chunk *c)
{
	struct file_meta *metas = ctx;
	for (uint32_t i = 0; i < c->n; i++) {
		struct file_meta fmeta;
		file_meta_decode(c->entries + FILE_META_SIZE * i, &fmeta);
		metas[fmeta.file_id] = fmeta;
	}
	return 0;
}

/*
 * Mount the state of one meta page: its log (into metas, *log says how it
 * ended) and every file's chain.  *weak is set when the page has no valid
 * log chunk but is not erased after its header and holds no damaged
 * commits: that is what a stale meta page looks like after an interrupted
 * erase kept its header (fm_mount).
 */
static int mount_candidate(struct file_manager *m, const struct meta_candidate *c,
			   uint32_t random, bool *weak, struct meta_log_end *log,
			   struct file_meta *metas)
{
	const struct geom *g = m->g;
	uint32_t meta = c->page, page_count = c->page_count;
	*weak = false;
	*log = (struct meta_log_end){0};
	if (page_count == 0 || page_count > g->page_count || meta >= page_count)
		return EKV_ECORRUPT;
	alloc_reset(&m->alloc, page_count, random);
	alloc_mark_used(&m->alloc, meta);
	for (uint32_t i = 0; i < g->file_count; i++)
		metas[i] = (struct file_meta){.file_id = (uint8_t)i, .last_page = NO_PAGE};
	int e = meta_log_read(g, m->f, meta, page_count, apply_chunk, metas, log);
	if (e < 0)
		return e;
	*weak = log->chunks == 0 && !log->clean && !log->damaged;
	memset(m->files, 0, sizeof(m->files));
	/* file 0 holds data only as the destination of a compaction in
	 * progress (FORMAT.md §7) */
	if (metas[0].last_page != NO_PAGE && !(metas[0].flags & FLAG_COMPACT_DEST))
		return EKV_ECORRUPT;
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
	m->meta_seq = c->seq;
	m->meta_append_offset = log->end;
	m->meta_clean = log->clean;
	return 0;
}

/* Note damage found in candidate c (the first noted is the newest). */
static void note_damage(struct fm_recovery *rec, struct file_meta *newest_metas,
			uint64_t *lost_files, const struct meta_candidate *c, uint32_t lost_chunks,
			uint64_t files, const struct file_meta *metas, uint32_t file_count)
{
	if (!rec->damaged) {
		rec->damaged = true;
		rec->page = c->page;
		rec->seq = c->seq;
		memcpy(newest_metas, metas, sizeof(*metas) * file_count);
	}
	rec->lost_chunks += lost_chunks;
	*lost_files |= files;
}

/* Files whose state in the newest damaged log differs from the mounted one
 * or that a lost chunk named. */
static uint32_t count_lost_files(const struct file_manager *m, const struct file_meta *newest,
				 uint64_t named)
{
	uint32_t n = 0;
	for (uint32_t id = 0; id < m->g->file_count; id++) {
		const struct file_state *f = &m->files[id];
		bool differs = newest[id].last_page != (f->has_last ? f->last_page : NO_PAGE) ||
			       (f->has_last && (newest[id].first_seq != f->first_seq ||
						newest[id].flags != f->flags));
		n += differs || (named >> id & 1);
	}
	return n;
}

/* newest first: higher seq, then (the crate's tie rule) lower page index */
int meta_candidate_cmp(const void *a, const void *b)
{
	const struct meta_candidate *x = a, *y = b;
	if (x->seq != y->seq)
		return x->seq > y->seq ? -1 : 1;
	return x->page < y->page ? -1 : x->page > y->page;
}

/* crate: file.rs FileManager::mount */
int fm_mount(struct file_manager *m)
{
	const struct geom *g = m->g;
	m->dirty = true;
	m->mounted = false;
	struct meta_candidate *c = malloc(sizeof(*c) * g->page_count);
	if (!c)
		return EKV_ENOMEM;
	/* c[0, n): valid meta pages; c[d, page_count): pages with a meta log
	 * behind an invalid header (their seq as stored), damaged when they
	 * hold at least c[].page_count chunks (meta_header_orphan) */
	uint32_t n = 0, d = g->page_count;
	int e = 0;
	uint32_t hsize = g->ph_size + g->meta_hdr_size;
	int orphan;
	for (uint32_t p = 0; p < g->page_count; p++) {
		uint8_t b[EKV_PAGE_HDR_MAX + EKV_META_HDR_SIZE + EKV_CHUNK_HDR_MAX];
		struct meta_header mh;
		bool chunk = hsize + g->ch_size <= g->page_size;
		e = flash_read(m->f, p, 0, b, hsize + (chunk ? g->ch_size : 0));
		if (e < 0)
			goto out;
		meta_header_decode(b + g->ph_size, &mh);
		if (page_header_check(g, b, p, META_MAGIC, g->meta_hdr_size) == 0) {
			if (mh.seq != 0) /* the crate never selects seq 0 */
				c[n++] = (struct meta_candidate){p, mh.seq, mh.page_count};
		} else if (page_magic_is(b, DATA_MAGIC, p)) {
			continue;
		} else if (chunk && (orphan = meta_header_orphan(g, b, p)) != 0) {
			/* page_count: how many log chunks make it damage */
			c[--d] = (struct meta_candidate){p, mh.seq, orphan == 1 ? 2 : 1};
		}
	}
	e = 0;
	if (n == 0) {
		e = d < g->page_count ? EKV_ECORRUPT : EKV_ENOFMT;
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
	/*
	 * Damage (docs/FORMAT.md §9): a log with committed chunks that cannot
	 * be used (meta_log_read), or a page with a valid log whose files do
	 * not validate.  Neither is what a power cut leaves.  Refusing, mount
	 * fails; falling back, it goes on to the newest state that validates
	 * (a damaged log's valid prefix, then older pages) and records what it
	 * skipped.
	 */
	struct fm_recovery rec = {0};
	struct file_meta metas[MAX_FILE_COUNT], newest_metas[MAX_FILE_COUNT];
	uint64_t lost_files = 0;
	int first_err = 0;
	int64_t weak_first = -1;
	uint32_t chosen = 0;
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t i = 0; i < n; i++) {
			bool exact = c[i].page_count == g->page_count;
			if (exact != (pass == 0))
				continue;
			bool weak;
			struct meta_log_end log;
			e = mount_candidate(m, &c[i], random, &weak, &log, metas);
			chosen = i;
			if (e == EKV_EIO || e == EKV_ENOMEM)
				goto out;
			if (log.damaged || (e < 0 && log.chunks > 0)) {
				note_damage(&rec, newest_metas, &lost_files, &c[i],
					    log.damaged ? log.lost_chunks : log.chunks,
					    log.lost_files, metas, g->file_count);
				if (m->refuse_damage) {
					e = EKV_ECORRUPT;
					goto out;
				}
			}
			if (e == 0 && !weak)
				goto ok;
			if (e == 0) {
				if (weak_first < 0)
					weak_first = i;
				continue;
			}
			if (!first_err)
				first_err = e;
		}
	}
	if (weak_first >= 0) {
		bool weak;
		struct meta_log_end log;
		uint32_t i = (uint32_t)weak_first;
		e = mount_candidate(m, &c[i], random, &weak, &log, metas);
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
	/* a meta page newer than the one mounted whose header was damaged:
	 * its commits are lost (a torn rollover holds one chunk: no commit
	 * appends to a page before its header is complete) */
	for (uint32_t i = d; i < g->page_count; i++) {
		if (c[i].seq <= c[chosen].seq)
			continue;
		uint32_t chunks;
		uint64_t files;
		e = meta_log_orphan_chunks(g, m->f, c[i].page, &chunks, &files);
		if (e < 0)
			goto out;
		if (chunks < c[i].page_count)
			continue;
		if (!rec.damaged) {
			/* its state cannot be read: count the files it names */
			for (uint32_t id = 0; id < g->file_count; id++)
				newest_metas[id] = (struct file_meta){
					.file_id = (uint8_t)id,
					.flags = m->files[id].flags,
					.last_page = m->files[id].has_last
							     ? (uint16_t)m->files[id].last_page
							     : NO_PAGE,
					.first_seq = m->files[id].first_seq,
				};
		}
		if (!rec.damaged || c[i].seq > rec.seq) {
			rec.damaged = true;
			rec.page = c[i].page;
			rec.seq = c[i].seq;
		}
		rec.lost_chunks += chunks;
		lost_files |= files;
		if (m->refuse_damage) {
			e = EKV_ECORRUPT;
			goto out;
		}
	}
	if (rec.damaged)
		rec.lost_files = count_lost_files(m, newest_metas, lost_files);
	m->recovery = rec;
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

void fm_touch(struct file_manager *m, uint32_t file)
{
	m->dirty = true;
	m->files[file].changed = true;
	m->files[file].touched_since_mount = true;
}

void fm_set_flags(struct file_manager *m, uint32_t file, uint8_t flags)
{
	m->dirty = true;
	struct file_state *f = &m->files[file];
	/* flags only stick to non-empty files */
	if (f->has_last && f->flags != flags) {
		f->flags = flags;
		fm_touch(m, file);
	}
}

void fm_rename(struct file_manager *m, uint32_t from, uint32_t to)
{
	struct file_state t = m->files[from];
	m->files[from] = m->files[to];
	m->files[to] = t;
	fm_touch(m, from);
	fm_touch(m, to);
}

/* crate: file.rs Transaction::truncate */
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
		e = fm_defer_free(m, p.page);
		if (e < 0)
			return e;
		e = ptr_prev(g, m->f, &p, old_seq, &has);
		if (e < 0)
			return e;
	}
	if (seq == f->last_seq) {
		*f = (struct file_state){.touched_since_mount = f->touched_since_mount};
	} else {
		f->first_seq = seq;
	}
	fm_touch(m, file);
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
	w.barrier = true;
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
	 * holds the full state (and that state is durable first) */
	e = flash_sync(m->f);
	if (e == 0)
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

/* crate: file.rs Transaction::commit */
int fm_tx_commit(struct file_manager *m)
{
	const struct geom *g = m->g;
	int e;
	m->dirty = true;
	uint8_t entries[MAX_FILE_COUNT * 2 * FILE_META_SIZE];
	uint32_t n = 0;
	for (uint32_t id = 0; id < g->file_count; id++) {
		bool log = m->rust_meta_log ? m->files[id].touched_since_mount : m->files[id].changed;
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
	EKV_ASSERT(n <= 2 * MAX_FILE_COUNT);
	bool full = !m->meta_clean;
	if (!full && n) {
		struct page_writer w;
		page_writer_open_at(&w, g, m->f, m->meta_page, g->meta_hdr_size,
				    m->meta_append_offset, true);
		w.barrier = true;
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
	/* the commit record is durable before the commit is acknowledged and
	 * before any page it freed is reused */
	e = flash_sync(m->f);
	if (e < 0)
		goto fail;
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
