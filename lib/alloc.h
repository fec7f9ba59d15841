/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * alloc.h — the page allocator: a bitmap of used pages and a cyclic
 * next-fit cursor that starts at a random page at every format and mount
 * (wear leveling).  docs/FORMAT.md §8.
 *
 * Owns: which pages are in use by the working state.  Also keeps the
 * "pinned" bitmap — pages that are free in the working state but may still
 * be read by an open snapshot, or whose freeing is not durable yet — which
 * allocation skips.  Never touches flash.
 */
#ifndef EKV_ALLOC_H
#define EKV_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct alloc {
	uint32_t page_count;
	uint32_t used;
	uint32_t next;
	uint8_t *bits;   /* used */
	uint8_t *pinned; /* free but not allocatable */
};

int alloc_init(struct alloc *a, uint32_t max_pages);
void alloc_destroy(struct alloc *a);
void alloc_reset(struct alloc *a, uint32_t page_count, uint32_t random);
/* Next free, unpinned page at or after the cursor; -1 if none. */
int64_t alloc_try_allocate(struct alloc *a);
/* Returns EKV_ECORRUPT if the page is already used (a page in two files). */
int alloc_mark_used(struct alloc *a, uint32_t page);
int alloc_free(struct alloc *a, uint32_t page);
bool alloc_is_used(const struct alloc *a, uint32_t page);
static inline uint32_t alloc_free_pages(const struct alloc *a)
{
	return a->page_count - a->used;
}
/* Free pages that are pinned. */
uint32_t alloc_pinned_free(const struct alloc *a);
void alloc_clear_pins(struct alloc *a);
void alloc_pin(struct alloc *a, uint32_t page);

/* Append page to the growable array of page ids *a (n used, cap
 * allocated). */
int page_ids_push(uint32_t **a, uint32_t *n, size_t *cap, uint32_t page);

#endif
