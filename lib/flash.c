/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * flash.c — what every flash backend shares outside the inline calls of
 * flash.h: closing a flash object.
 *
 * Owns: ekv_flash_close().  Must never: know any particular backend.
 */
#include <stdlib.h>

#include "ekv.h"

void ekv_flash_close(struct ekv_flash *f)
{
	if (!f)
		return;
	if (f->ops && f->ops->destroy)
		f->ops->destroy(f->ctx);
	free(f);
}
