/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * flash_view.c — a read-only flash that shows another flash's bytes with a
 * different page size.  See flash_view.h.
 */
#include "flash.h"
#include "flash_view.h"
#include "profile.h"

static int view_read(void *ctx, uint32_t page, uint32_t off, void *buf, uint32_t len)
{
	struct view *v = ctx;
	uint64_t addr = (uint64_t)page * v->page_size + off;
	uint8_t *out = buf;
	uint32_t bps = v->base->page_size;
	while (len) {
		uint32_t bp = (uint32_t)(addr / bps), bo = (uint32_t)(addr % bps);
		uint32_t k = bps - bo < len ? bps - bo : len;
		int e = flash_read(v->base, bp, bo, out, k);
		if (e < 0)
			return e;
		out += k;
		addr += k;
		len -= k;
	}
	return 0;
}

static int view_refuse(void *ctx, uint32_t page, uint32_t off, const void *buf, uint32_t len)
{
	(void)ctx, (void)page, (void)off, (void)buf, (void)len;
	return EKV_EROFS;
}

static int view_refuse_erase(void *ctx, uint32_t page)
{
	(void)ctx, (void)page;
	return EKV_EROFS;
}

static const struct ekv_flash_ops view_ops = {
	.read = view_read,
	.write = view_refuse,
	.erase = view_refuse_erase,
};

int flash_view_init(struct ekv_flash *vf, struct view *v, struct ekv_flash *base,
		     uint32_t page_size, uint8_t erase_value)
{
	uint64_t total = (uint64_t)base->page_size * base->page_count;
	if (page_size == 0 || total % page_size || total / page_size > EKV_MAX_PAGE_COUNT_MAX)
		return EKV_EINVAL;
	*v = (struct view){.base = base, .page_size = page_size};
	*vf = (struct ekv_flash){
		.ops = &view_ops,
		.ctx = v,
		.page_size = page_size,
		.page_count = (uint32_t)(total / page_size),
		.write_size = 1,
		.erase_value = erase_value,
		.read_only = true,
	};
	return 0;
}
