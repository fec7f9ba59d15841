/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * alloc.c — page allocator (see alloc.h).  Allocation order reproduces the
 * crate's: next-fit from the cursor, wrapping, first free page wins.
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "util.h"
#include "ekv.h"

static bool bit(const uint8_t *b, uint32_t i)
{
	return (b[i / 8] >> (i % 8)) & 1;
}

int alloc_init(struct alloc *a, uint32_t max_pages)
{
	memset(a, 0, sizeof(*a));
	size_t n = (max_pages + 7) / 8;
	a->bits = calloc(n ? n : 1, 1);
	a->pinned = calloc(n ? n : 1, 1);
	if (!a->bits || !a->pinned) {
		alloc_destroy(a);
		return EKV_ENOMEM;
	}
	a->page_count = max_pages;
	return 0;
}

void alloc_destroy(struct alloc *a)
{
	free(a->bits);
	free(a->pinned);
	a->bits = a->pinned = NULL;
}

void alloc_reset(struct alloc *a, uint32_t page_count, uint32_t random)
{
	a->page_count = page_count;
	a->next = page_count ? random % page_count : 0;
	a->used = 0;
	memset(a->bits, 0, (page_count + 7) / 8);
}

int64_t alloc_try_allocate(struct alloc *a)
{
	if (a->page_count == 0)
		return -1;
	uint32_t start = a->next;
	for (;;) {
		uint32_t p = a->next;
		a->next = a->next + 1 == a->page_count ? 0 : a->next + 1;
		if (!bit(a->bits, p) && !bit(a->pinned, p)) {
			a->bits[p / 8] |= (uint8_t)(1u << (p % 8));
			a->used++;
			return p;
		}
		if (a->next == start)
			return -1;
	}
}

int alloc_mark_used(struct alloc *a, uint32_t page)
{
	if (page >= a->page_count || bit(a->bits, page))
		return EKV_ECORRUPT;
	a->bits[page / 8] |= (uint8_t)(1u << (page % 8));
	a->used++;
	return 0;
}

int alloc_free(struct alloc *a, uint32_t page)
{
	if (page >= a->page_count || !bit(a->bits, page))
		return EKV_ECORRUPT;
	a->bits[page / 8] &= (uint8_t)~(1u << (page % 8));
	a->used--;
	return 0;
}

bool alloc_is_used(const struct alloc *a, uint32_t page)
{
	return page < a->page_count && bit(a->bits, page);
}

uint32_t alloc_pinned_free(const struct alloc *a)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < a->page_count; i++)
		if (bit(a->pinned, i) && !bit(a->bits, i))
			n++;
	return n;
}

void alloc_clear_pins(struct alloc *a)
{
	memset(a->pinned, 0, (a->page_count + 7) / 8);
}

void alloc_pin(struct alloc *a, uint32_t page)
{
	if (page < a->page_count)
		a->pinned[page / 8] |= (uint8_t)(1u << (page % 8));
}

int page_ids_push(uint32_t **a, uint32_t *n, size_t *cap, uint32_t page)
{
	int e = grow_array(a, cap, (size_t)*n + 1, sizeof(**a), 16);
	if (e < 0)
		return e;
	(*a)[(*n)++] = page;
	return 0;
}
