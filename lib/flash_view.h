/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * flash_view.h — the same bytes seen with another page size, read-only: the
 * tools check and probe images whose page size differs from the device's
 * erase size (a multiple or a divisor of it).
 *
 * Owns: address translation from (page, offset) in the view to the base
 * flash.  Must never: write or erase (both fail with EKV_EROFS).
 */
#ifndef EKV_FLASH_VIEW_H
#define EKV_FLASH_VIEW_H

#include "ekv.h"

struct view {
	struct ekv_flash *base;
	uint32_t page_size;
};

/* Make vf a read-only flash of page_size pages over base (v: its state,
 * owned by the caller).  EKV_EINVAL if the sizes do not divide. */
int flash_view_init(struct ekv_flash *vf, struct view *v, struct ekv_flash *base,
		    uint32_t page_size, uint8_t erase_value);

#endif
