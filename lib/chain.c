/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * chain.c — skiplists and bounded walks over a file's chain of data pages.
 * See chain.h; docs/FORMAT.md §6 for the bytes.
 */
#include "chain.h"
#include "flash.h"

int seq_add(uint32_t a, uint64_t n, uint32_t *out)
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

int open_data_page(struct page_reader *pr, uint32_t page, struct data_header *h)
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

/* Move p to page prev, which must hold a strictly smaller seq. */
static int ptr_step(const struct geom *g, struct ekv_flash *f, struct page_ptr *p, uint16_t prev)
{
	struct data_header h;
	if (prev == NO_PAGE)
		return EKV_ECORRUPT;
	int e = read_data_header(g, f, prev, &h);
	if (e < 0)
		return e == EKV_EIO ? e : EKV_ECORRUPT;
	if (h.seq >= p->h.seq)
		return EKV_ECORRUPT;
	p->page = prev;
	p->h = h;
	return 0;
}

int ptr_prev(const struct geom *g, struct ekv_flash *f, struct page_ptr *p, uint32_t seq_limit,
	     bool *has)
{
	*has = false;
	if (p->h.seq <= seq_limit || p->h.skiplist[0] == NO_PAGE)
		return 0;
	int e = ptr_step(g, f, p, p->h.skiplist[0]);
	*has = e == 0;
	return e;
}

int ptr_prev_seq(const struct geom *g, struct ekv_flash *f, struct page_ptr *p, uint32_t seq)
{
	while (p->h.seq > seq) {
		int e = ptr_step(g, f, p, p->h.skiplist[skiplist_index(g, seq, p->h.seq)]);
		if (e < 0)
			return e;
	}
	return 0;
}

int get_file_page(const struct geom *g, struct ekv_flash *f, const struct file_state *fs,
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

int chain_page_count(const struct geom *g, struct ekv_flash *f, const struct file_state *fs,
		     uint32_t *n)
{
	*n = 0;
	if (!fs->has_last)
		return 0;
	struct page_ptr p = {.page = fs->last_page, .h = fs->last_hdr};
	for (bool has = true; has && *n <= g->page_count;) {
		(*n)++;
		int e = ptr_prev(g, f, &p, fs->first_seq, &has);
		if (e < 0)
			return e;
	}
	return *n > g->page_count ? EKV_ECORRUPT : 0;
}
