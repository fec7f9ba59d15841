/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * file.c — reading, searching and writing files.  See file.h for what this
 * layer owns; docs/FORMAT.md §6 for the bytes.
 *
 * Every walk over flash-derived links is bounded: backward walks require a
 * strictly decreasing seq (chain.c), so no page is visited twice.
 */
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "flash.h"
#include "meta.h"

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

/* crate: file.rs FileReader::seek_seq */
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

/* crate: file.rs FileReader::next_page */
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

/*
 * Position the searcher at the first record boundary at or before target,
 * walking back from page to the first page with a boundary.  0: positioned;
 * *too_much_left: that boundary is not right of s->left (the crate's
 * SearchSeekError::TooMuchLeft), nothing positioned; <0 error.
 * crate: file.rs FileSearcher::seek_to_page
 */
static int seek_to_page(struct file_searcher *s, uint32_t page, uint32_t target,
			bool *too_much_left)
{
	const struct geom *g = s->r.g;
	uint32_t right_limit = s->right;
	struct data_header h;
	*too_much_left = false;
	/* right_limit strictly decreases, so no page is visited twice */
	for (;;) {
		int e = read_data_header(g, s->r.f, page, &h);
		if (e < 0)
			return e == EKV_EIO ? e : EKV_ECORRUPT;
		if (h.seq >= right_limit || h.seq > target)
			return EKV_ECORRUPT;
		if (h.seq <= s->left) {
			*too_much_left = true;
			return 0;
		}
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
	if (boundary_seq <= s->left) {
		*too_much_left = true;
		return 0;
	}
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

/* Try the skiplist entries of the right end from the highest useful one
 * down: 1 positioned at a boundary, 0 at s->result for a linear scan.
 * crate: file.rs FileSearcher::really_seek */
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
					bool too_much_left;
					int e = seek_to_page(s, page, seq, &too_much_left);
					if (e < 0)
						return e;
					if (!too_much_left)
						return 1;
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

/* crate: file.rs FileSearcher::start */
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

/* crate: file.rs FileSearcher::seek */
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
	return page_ids_push(&w->pages, &w->n_pages, &w->cap_pages, page);
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

/* crate: file.rs FileWriter::new */
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

/* crate: file.rs FileWriter::flush_header */
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

/* crate: file.rs FileWriter::commit */
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
	fm_touch(m, w->file);
	w->n_pages = 0; /* now part of the file */
	if (w->rewritten) {
		w->rewritten = false;
		e = fm_defer_free(m, w->rewritten_page);
		if (e < 0)
			return e;
	}
	return 0;
}

/* crate: file.rs FileWriter::discard */
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
