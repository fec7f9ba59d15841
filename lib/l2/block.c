/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * l2/block.c — block states, allocation, erase counts and the PU writer.
 * See block.h; the rules are docs/FORMAT.md §L8 and §L12.
 */
#include "l2/block.h"

#include <stdlib.h>
#include <string.h>

#include "flash.h"

#define EC_UNKNOWN UINT32_MAX

int l2_blocks_init(struct l2_blocks *bl, const struct l2_geom *g, struct ekv_flash *f)
{
	memset(bl, 0, sizeof(*bl));
	bl->g = g;
	bl->f = f;
	bl->n = g->block_count;
	bl->state = calloc(bl->n, 1);
	bl->ec = malloc(sizeof(uint32_t) * bl->n);
	bl->pinned = calloc((bl->n + 7) / 8, 1);
	bl->erased = calloc((bl->n + 7) / 8, 1);
	if (!bl->state || !bl->ec || !bl->pinned || !bl->erased) {
		l2_blocks_destroy(bl);
		return EKV_ENOMEM;
	}
	l2_blocks_reset(bl, 0);
	return 0;
}

void l2_blocks_destroy(struct l2_blocks *bl)
{
	free(bl->state);
	free(bl->ec);
	free(bl->pinned);
	free(bl->erased);
	bl->state = NULL;
	bl->ec = NULL;
	bl->pinned = NULL;
	bl->erased = NULL;
}

void l2_blocks_reset(struct l2_blocks *bl, uint32_t random)
{
	memset(bl->state, L2B_FREE, bl->n);
	memset(bl->pinned, 0, (bl->n + 7) / 8);
	memset(bl->erased, 0, (bl->n + 7) / 8);
	for (uint32_t i = 0; i < bl->n; i++)
		bl->ec[i] = EC_UNKNOWN;
	bl->cursor = random % bl->n;
	bl->n_free = bl->n;
	bl->n_bad = 0;
}

void l2_blocks_set(struct l2_blocks *bl, uint32_t b, enum l2_bstate s)
{
	bool was_free = l2_blocks_is_free(bl, b);
	if (bl->state[b] == L2B_BAD)
		bl->n_bad--;
	bl->state[b] = (uint8_t)s;
	bool is_free = l2_blocks_is_free(bl, b);
	if (s == L2B_BAD)
		bl->n_bad++;
	if (was_free && !is_free)
		bl->n_free--;
	else if (!was_free && is_free)
		bl->n_free++;
}

uint32_t l2_blocks_available(const struct l2_blocks *bl)
{
	uint32_t n = 0;
	for (uint32_t b = 0; b < bl->n; b++)
		if (l2_blocks_is_free(bl, b) && !l2_blocks_pinned(bl, b))
			n++;
	return n;
}

int l2_blocks_alloc(struct l2_blocks *bl, uint32_t *out)
{
	for (uint32_t i = 0; i < bl->n; i++) {
		uint32_t b = (bl->cursor + i) % bl->n;
		if (l2_blocks_is_free(bl, b) && !l2_blocks_pinned(bl, b)) {
			bl->cursor = (b + 1) % bl->n;
			l2_blocks_set(bl, b, L2B_USED);
			*out = b;
			return 0;
		}
	}
	return EKV_ENOSPC;
}

void l2_blocks_release(struct l2_blocks *bl, uint32_t b)
{
	if (bl->state[b] != L2B_BAD)
		l2_blocks_set(bl, b, L2B_FREE);
}

void l2_blocks_clear_pins(struct l2_blocks *bl)
{
	memset(bl->pinned, 0, (bl->n + 7) / 8);
}

void l2_blocks_pin(struct l2_blocks *bl, uint32_t b)
{
	bl->pinned[b / 8] |= (uint8_t)(1u << (b % 8));
}

uint32_t l2_blocks_mean_ec(const struct l2_blocks *bl)
{
	uint64_t sum = 0, n = 0;
	for (uint32_t b = 0; b < bl->n; b++)
		if (bl->ec[b] != EC_UNKNOWN) {
			sum += bl->ec[b];
			n++;
		}
	return n ? (uint32_t)(sum / n) : 0;
}

uint32_t l2_blocks_next_ec(const struct l2_blocks *bl, uint32_t b)
{
	return bl->ec[b] != EC_UNKNOWN ? bl->ec[b] : l2_blocks_mean_ec(bl);
}

int l2_blocks_erase(struct l2_blocks *bl, uint32_t b)
{
	uint32_t ec = l2_blocks_next_ec(bl, b);
	int e = flash_erase(bl->f, b);
	if (e < 0)
		return e;
	bl->erases++;
	bl->ec[b] = ec == EC_UNKNOWN - 1 ? ec : ec + 1;
	bl->erased[b / 8] |= (uint8_t)(1u << (b % 8));
	return 0;
}

/* ---- PU writer ----------------------------------------------------------- */

int l2_bw_init(struct l2_bw *w, struct l2_blocks *bl)
{
	memset(w, 0, sizeof(*w));
	w->bl = bl;
	w->cap = L2_HDR_SIZE + bl->g->pu;
	w->buf = malloc(w->cap);
	return w->buf ? 0 : EKV_ENOMEM;
}

void l2_bw_free(struct l2_bw *w)
{
	free(w->buf);
	w->buf = NULL;
}

int l2_bw_open(struct l2_bw *w, uint32_t block, const struct l2_block_hdr *h)
{
	struct l2_blocks *bl = w->bl;
	if (!l2_blocks_known_erased(bl, block)) {
		int e = l2_blocks_erase(bl, block);
		if (e < 0)
			return e;
	}
	bl->erased[block / 8] &= (uint8_t)~(1u << (block % 8));
	struct l2_block_hdr hh = *h;
	hh.erase_count = bl->ec[block];
	hh.block_seq = bl->next_seq++;
	l2_hdr_encode(bl->g, &hh, w->buf);
	l2_blocks_set(bl, block, L2B_USED);
	w->block = block;
	w->prog = 0;
	w->pos = L2_HDR_SIZE;
	w->hdr_pending = true;
	w->open = true;
	return 0;
}

void l2_bw_resume(struct l2_bw *w, uint32_t block, uint32_t pos)
{
	w->block = block;
	w->prog = pos;
	w->pos = pos;
	w->hdr_pending = false;
	w->open = true;
}

static int grow(struct l2_bw *w, uint32_t need)
{
	if (need <= w->cap)
		return 0;
	uint32_t cap = w->cap * 2 > need ? w->cap * 2 : need;
	uint8_t *b = realloc(w->buf, cap);
	if (!b)
		return EKV_ENOMEM;
	w->buf = b;
	w->cap = cap;
	return 0;
}

/* Program [off, off + n) of the open block from p (whole PUs), leaving out
 * the PUs that are entirely erased: §L8.1 never programs one (it reads
 * back the same unprogrammed). */
static int program_pus(struct l2_bw *w, uint32_t off, const uint8_t *p, uint32_t n)
{
	const struct l2_geom *g = w->bl->g;
	for (uint32_t i = 0, j; i < n; i = j) {
		while (i < n && l2_is_erased(p + i, g->pu, g->erase_value))
			i += g->pu;
		for (j = i; j < n && !l2_is_erased(p + j, g->pu, g->erase_value);)
			j += g->pu;
		int e = flash_write(w->bl->f, w->block, off + i, p + i, j - i);
		if (e < 0)
			return e;
	}
	return 0;
}

/* Program the staged bytes [prog, upto) — upto a multiple of U. */
static int program_staged(struct l2_bw *w, uint32_t upto)
{
	if (upto <= w->prog)
		return 0;
	uint32_t n = upto - w->prog;
	int e = program_pus(w, w->prog, w->buf, n);
	if (e < 0)
		return e;
	uint32_t left = w->pos - upto;
	memmove(w->buf, w->buf + n, left);
	w->prog = upto;
	w->hdr_pending = false;
	return 0;
}

int l2_bw_append(struct l2_bw *w, const void *data, uint32_t len)
{
	const struct l2_geom *g = w->bl->g;
	const uint8_t *d = data;
	if (!w->open || len > g->block_size - w->pos)
		return EKV_EINVAL;
	uint32_t staged = w->pos - w->prog;
	if (staged == 0 && w->pos % g->pu == 0) {
		/* aligned and nothing staged: program whole PUs straight from data */
		uint32_t direct = len / g->pu * g->pu;
		if (direct) {
			int e = program_pus(w, w->pos, d, direct);
			if (e < 0)
				return e;
			w->pos += direct;
			w->prog = w->pos;
		}
		memcpy(w->buf, d + direct, len - direct);
		w->pos += len - direct;
		return 0;
	}
	int e = grow(w, staged + len);
	if (e < 0)
		return e;
	memcpy(w->buf + staged, d, len);
	w->pos += len;
	return program_staged(w, w->pos / g->pu * g->pu);
}

int l2_bw_sync(struct l2_bw *w)
{
	const struct l2_geom *g = w->bl->g;
	uint32_t staged = w->pos - w->prog;
	if (staged == 0)
		return 0;
	uint32_t end = l2_align_up(w->pos, g->pu);
	int e = grow(w, end - w->prog);
	if (e < 0)
		return e;
	memset(w->buf + staged, g->erase_value, end - w->pos);
	w->pos = end;
	return program_staged(w, end);
}

void l2_bw_close(struct l2_bw *w)
{
	w->open = false;
}
