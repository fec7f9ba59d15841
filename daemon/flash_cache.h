/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * flash_cache.h — ekvd's read cache of whole flash pages, in front of the
 * flash backend it opened (see flash_cache.c).
 */
#ifndef EKVD_FLASH_CACHE_H
#define EKVD_FLASH_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "ekv.h"

/*
 * Wrap `inner` (which the result then owns: ekv_flash_close() closes both)
 * in a cache of up to budget_bytes of pages.  budget_bytes smaller than a
 * page: no cache, *out = inner.
 */
int flash_cache_wrap(struct ekv_flash *inner, size_t budget_bytes, struct ekv_flash **out);

/* Hits and misses so far (0 for a flash that is not a cache). */
void flash_cache_stats(struct ekv_flash *f, uint64_t *hits, uint64_t *misses);

#endif
