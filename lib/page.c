/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * page.c — page headers, chunk iteration, page reader and page writer.
 *
 * Power-loss argument (docs/DESIGN.md §2): a chunk becomes visible only when
 * its header is programmed, and that happens after all of its data.  A page
 * becomes valid only when its page header is programmed; callers decide
 * whether that is the first write (data pages of unreachable files) or the
 * last (meta rollover, meta.c).  Every length read from flash is bounded by
 * the page size before it is used.
 */
#include <stdlib.h>
#include <string.h>

#include "flash.h"
#include "invariant.h"
#include "page.h"

/* Read the page header and the higher-layer header (and extra bytes after
 * them into buf) with one flash read and validate them. */
static int read_header(const struct geom *g, struct ekv_flash *f, uint32_t page, uint32_t magic,
		       uint8_t *buf, uint32_t hdr_size, uint32_t extra)
{
	uint32_t n = g->ph_size + hdr_size;
	if (hdr_size > EKV_LAYER_HDR_MAX || n > g->page_size)
		return EKV_EINVAL;
	int e = flash_read(f, page, 0, buf, n + extra);
	if (e < 0)
		return e;
	return page_header_check(g, buf, page, magic, hdr_size);
}

int page_read_header(const struct geom *g, struct ekv_flash *f, uint32_t page, uint32_t magic,
		     uint8_t *hdr, uint32_t hdr_size)
{
	uint8_t buf[EKV_PAGE_HDR_MAX + EKV_LAYER_HDR_MAX];
	int e = read_header(g, f, page, magic, buf, hdr_size, 0);
	if (e < 0)
		return e;
	memcpy(hdr, buf + g->ph_size, hdr_size);
	return 0;
}

/* ---- reader --------------------------------------------------------------- */

void page_reader_init(struct page_reader *r, const struct geom *g, struct ekv_flash *f,
		      uint32_t readahead)
{
	memset(r, 0, sizeof(*r));
	r->g = g;
	r->f = f;
	r->readahead = readahead;
	r->at_end = true;
}

void page_reader_free(struct page_reader *r)
{
	free(r->win);
	r->win = NULL;
}

static uint32_t win_cap(const struct page_reader *r)
{
	uint32_t c = geom_align_up(r->g, r->g->chunk_max);
	return c < PAGE_WIN_CAP ? c : PAGE_WIN_CAP;
}

/* Load chunk data starting at pos (at least one byte) into the window. */
static int load_window(struct page_reader *r, uint32_t pos, uint32_t want)
{
	const struct geom *g = r->g;
	uint32_t cap = win_cap(r);
	if (!r->win) {
		r->win = malloc(cap);
		if (!r->win)
			return EKV_ENOMEM;
	}
	uint32_t start = geom_align_down(g, pos);
	uint32_t fill = r->readahead ? (want > r->readahead ? want : r->readahead) : cap;
	uint64_t end = (uint64_t)pos + fill;
	if (end > r->chunk_len)
		end = r->chunk_len;
	if (end > (uint64_t)start + cap)
		end = (uint64_t)start + cap;
	uint32_t len = geom_align_up(g, (uint32_t)end) - start;
	if (len > cap)
		len = cap;
	int e = flash_read(r->f, r->page, r->chunk_offset + g->ch_size + start, r->win, len);
	if (e < 0) {
		r->win_lo = r->win_hi = 0;
		return e;
	}
	r->win_lo = start;
	r->win_hi = (uint32_t)end;
	return 0;
}

static int chunk_bad(struct page_reader *r)
{
	if (r->lenient) {
		r->at_end = true;
		r->torn_tail = true;
		r->chunk_len = 0;
		r->chunk_pos = 0;
		return 0;
	}
	return EKV_ECORRUPT;
}

static int verify_chunk(struct page_reader *r)
{
	uint32_t crc = ekv_crc32(0, NULL, 0);
	for (uint32_t pos = 0; pos < r->chunk_len;) {
		int e = load_window(r, pos, win_cap(r));
		if (e < 0)
			return e;
		crc = ekv_crc32(crc, r->win + (pos - r->win_lo), r->win_hi - pos);
		pos = r->win_hi;
	}
	if (crc != r->chunk_crc)
		return chunk_bad(r);
	return 0;
}

/* Open the chunk at r->chunk_offset; pre = its header bytes if already read. */
static int open_chunk_pre(struct page_reader *r, const uint8_t *pre)
{
	const struct geom *g = r->g;
	uint8_t h[EKV_CHUNK_HDR_MAX];
	r->chunk_len = 0;
	r->chunk_pos = 0;
	r->win_lo = r->win_hi = 0;
	if ((uint64_t)r->chunk_offset + g->ch_size > g->page_size) {
		r->at_end = true;
		return 0;
	}
	if (pre) {
		memcpy(h, pre, g->ch_size);
	} else {
		int e = flash_read(r->f, r->page, r->chunk_offset, h, g->ch_size);
		if (e < 0)
			return e;
	}
	uint32_t len, crc;
	if (!chunk_header_decode(g, h, &len, &crc)) {
		r->at_end = true;
		return 0;
	}
	if (len > g->chunk_max || (uint64_t)r->chunk_offset + g->ch_size + len > g->page_size)
		return chunk_bad(r);
	r->chunk_len = len;
	r->chunk_crc = crc;
	if (g->crc && len)
		return verify_chunk(r);
	return 0;
}

static int open_chunk(struct page_reader *r)
{
	return open_chunk_pre(r, NULL);
}

int page_reader_next_chunk(struct page_reader *r)
{
	r->prev_len += r->chunk_len;
	r->chunk_offset += r->g->ch_size + geom_align_up(r->g, r->chunk_len);
	return open_chunk(r);
}

/* The page header and the first chunk header are adjacent: read both with
 * one flash read. */
int page_reader_open(struct page_reader *r, uint32_t page, uint32_t magic, uint8_t *hdr,
		     uint32_t hdr_size)
{
	const struct geom *g = r->g;
	uint8_t buf[EKV_PAGE_HDR_MAX + EKV_LAYER_HDR_MAX + EKV_CHUNK_HDR_MAX];
	r->at_end = true;
	uint32_t n = g->ph_size + hdr_size;
	bool with_chunk = n + g->ch_size <= g->page_size;
	int e = read_header(g, r->f, page, magic, buf, hdr_size, with_chunk ? g->ch_size : 0);
	if (e < 0)
		return e;
	memcpy(hdr, buf + g->ph_size, hdr_size);
	r->page = page;
	r->hdr_size = hdr_size;
	r->at_end = false;
	r->torn_tail = false;
	r->prev_len = 0;
	r->chunk_offset = n;
	return open_chunk_pre(r, with_chunk ? buf + n : NULL);
}

int page_reader_at_eof(struct page_reader *r)
{
	/* each step advances chunk_offset by at least the chunk header size, so
	 * this loop ends within page_size / ch_size steps */
	while (!r->at_end && r->chunk_pos == r->chunk_len) {
		int e = page_reader_next_chunk(r);
		if (e < 0)
			return e;
	}
	return r->at_end ? 1 : 0;
}

int page_reader_read(struct page_reader *r, void *buf, uint32_t len)
{
	uint8_t *out = buf;
	if (len == 0)
		return 0;
	int e = page_reader_at_eof(r);
	if (e)
		return e < 0 ? e : 0;
	uint32_t n = r->chunk_len - r->chunk_pos;
	if (n > len)
		n = len;
	uint32_t done = 0;
	while (done < n) {
		uint32_t pos = r->chunk_pos + done;
		if (pos >= r->win_lo && pos < r->win_hi) {
			uint32_t k = r->win_hi - pos;
			if (k > n - done)
				k = n - done;
			memcpy(out + done, r->win + (pos - r->win_lo), k);
			done += k;
			continue;
		}
		uint32_t left = n - done;
		if (left >= win_cap(r) && pos % r->g->align == 0) {
			uint32_t k = geom_align_down(r->g, left);
			e = flash_read(r->f, r->page, r->chunk_offset + r->g->ch_size + pos, out + done,
				       k);
			if (e < 0)
				return e;
			done += k;
			continue;
		}
		e = load_window(r, pos, left);
		if (e < 0)
			return e;
	}
	r->chunk_pos += n;
	return (int)n;
}

int page_reader_skip(struct page_reader *r, uint32_t len)
{
	uint32_t done = 0;
	while (done < len) {
		int e = page_reader_at_eof(r);
		if (e < 0)
			return e;
		if (e)
			break;
		uint32_t k = r->chunk_len - r->chunk_pos;
		if (k > len - done)
			k = len - done;
		r->chunk_pos += k;
		done += k;
	}
	return (int)done;
}

void page_reader_save(const struct page_reader *r, struct page_pos *pos)
{
	*pos = (struct page_pos){
		.page = r->page,
		.hdr_size = r->hdr_size,
		.at_end = r->at_end,
		.prev_len = r->prev_len,
		.chunk_offset = r->chunk_offset,
		.chunk_len = r->chunk_len,
		.chunk_crc = r->chunk_crc,
		.chunk_pos = r->chunk_pos,
	};
}

void page_reader_restore(struct page_reader *r, const struct page_pos *pos)
{
	bool same_chunk = r->page == pos->page && r->chunk_offset == pos->chunk_offset &&
			  r->chunk_len == pos->chunk_len && !r->at_end;
	r->page = pos->page;
	r->hdr_size = pos->hdr_size;
	r->at_end = pos->at_end;
	r->prev_len = pos->prev_len;
	r->chunk_offset = pos->chunk_offset;
	r->chunk_len = pos->chunk_len;
	r->chunk_crc = pos->chunk_crc;
	r->chunk_pos = pos->chunk_pos;
	r->torn_tail = false;
	/* the chunk was verified when it was first opened; its page is pinned by
	 * the snapshot, so cached window bytes of the same chunk stay valid */
	if (!same_chunk)
		r->win_lo = r->win_hi = 0;
}

/* ---- writer --------------------------------------------------------------- */

void page_writer_open(struct page_writer *w, const struct geom *g, struct ekv_flash *f,
		      uint32_t page, uint32_t hdr_size)
{
	memset(w, 0, sizeof(*w));
	w->g = g;
	w->f = f;
	w->page = page;
	w->hdr_size = hdr_size;
	w->needs_erase = true;
	w->chunk_offset = g->ph_size + hdr_size;
	w->crc = ekv_crc32(0, NULL, 0);
}

int page_tail_is_erased(const struct geom *g, struct ekv_flash *f, uint32_t page,
			  uint32_t from, bool *erased)
{
	uint8_t buf[256];
	*erased = true;
	for (uint32_t off = from; off < g->page_size; off += sizeof(buf)) {
		uint32_t n = g->page_size - off < sizeof(buf) ? g->page_size - off : sizeof(buf);
		int e = flash_read(f, page, off, buf, n);
		if (e < 0)
			return e;
		for (uint32_t i = 0; i < n; i++) {
			if (buf[i] != g->erase_value) {
				*erased = false;
				return 0;
			}
		}
	}
	return 0;
}

void page_writer_open_at(struct page_writer *w, const struct geom *g, struct ekv_flash *f,
			 uint32_t page, uint32_t hdr_size, uint32_t chunk_offset, bool clean)
{
	page_writer_open(w, g, f, page, hdr_size);
	w->needs_erase = false;
	w->chunk_offset = clean ? chunk_offset : g->page_size;
}

int page_writer_erase_if_needed(struct page_writer *w)
{
	if (!w->needs_erase)
		return 0;
	int e = flash_erase(w->f, w->page);
	if (e < 0)
		return e;
	w->needs_erase = false;
	return 0;
}

int page_writer_write(struct page_writer *w, const void *data, uint32_t len)
{
	const struct geom *g = w->g;
	const uint8_t *p = data;
	uint32_t avail = g->page_size > w->chunk_offset ? g->page_size - w->chunk_offset : 0;
	avail = geom_align_down(g, avail);
	uint32_t max = avail > g->ch_size + w->chunk_pos ? avail - g->ch_size - w->chunk_pos : 0;
	uint32_t max_chunk = g->chunk_max > w->chunk_pos ? g->chunk_max - w->chunk_pos : 0;
	if (max > max_chunk)
		max = max_chunk;
	uint32_t n = len < max ? len : max;
	if (n == 0)
		return 0;
	int e = page_writer_erase_if_needed(w);
	if (e < 0)
		return e;
	if (g->crc)
		w->crc = ekv_crc32(w->crc, p, n);
	uint32_t base = w->chunk_offset + g->ch_size;
	uint32_t left = n;
	uint32_t in_word = w->chunk_pos % g->align;
	if (in_word) {
		uint32_t k = g->align - in_word;
		if (k > left)
			k = left;
		memcpy(w->align_buf + in_word, p, k);
		p += k;
		left -= k;
		w->chunk_pos += k;
		if (in_word + k == g->align) {
			e = flash_write(w->f, w->page, base + w->chunk_pos - g->align, w->align_buf,
					g->align);
			if (e < 0)
				return e;
		}
	}
	uint32_t whole = left - left % g->align;
	if (whole) {
		e = flash_write(w->f, w->page, base + w->chunk_pos, p, whole);
		if (e < 0)
			return e;
		p += whole;
		left -= whole;
		w->chunk_pos += whole;
	}
	/* The partial word stays in align_buf; like the crate, align_buf is not
	 * cleared between chunks, so padding may repeat earlier bytes. */
	memcpy(w->align_buf, p, left);
	w->chunk_pos += left;
	w->total_len += n;
	EKV_ASSERT(w->chunk_pos <= g->chunk_max);
	if (w->chunk_pos >= g->chunk_max) {
		e = page_writer_commit(w);
		if (e < 0)
			return e;
	}
	return (int)n;
}

int page_writer_commit(struct page_writer *w)
{
	const struct geom *g = w->g;
	EKV_ASSERT(w->chunk_pos <= g->chunk_max);
	if (w->chunk_pos == 0)
		return 0;
	int e = page_writer_erase_if_needed(w);
	if (e < 0)
		return e;
	uint32_t base = w->chunk_offset + g->ch_size;
	if (w->chunk_pos % g->align) {
		e = flash_write(w->f, w->page, base + geom_align_down(g, w->chunk_pos), w->align_buf,
				g->align);
		if (e < 0)
			return e;
	}
	/* the data (and all written before it) is durable before the header
	 * that makes it valid (DESIGN.md §2) */
	if (w->barrier) {
		e = flash_sync(w->f);
		if (e < 0)
			return e;
	}
	uint8_t h[EKV_CHUNK_HDR_MAX];
	chunk_header_encode(g, w->chunk_pos, w->crc, h);
	e = flash_write(w->f, w->page, w->chunk_offset, h, g->ch_size);
	if (e < 0)
		return e;
	w->chunk_offset += g->ch_size + geom_align_up(g, w->chunk_pos);
	w->chunk_pos = 0;
	w->crc = ekv_crc32(0, NULL, 0);
	return 0;
}

int page_writer_write_header(struct page_writer *w, uint32_t magic, const uint8_t *hdr,
			     uint32_t hdr_size)
{
	const struct geom *g = w->g;
	uint8_t buf[EKV_PAGE_HDR_MAX + EKV_LAYER_HDR_MAX];
	if (hdr_size > EKV_LAYER_HDR_MAX)
		return EKV_EINVAL;
	int e = page_writer_erase_if_needed(w);
	if (e < 0)
		return e;
	page_header_encode(g, w->page, magic, hdr, hdr_size, buf);
	return flash_write(w->f, w->page, 0, buf, g->ph_size + hdr_size);
}
