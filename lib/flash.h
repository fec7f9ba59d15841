/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * flash.h — the bottom layer: calls into a backend's ops table.
 *
 * Owns: bounds checks on every (page, offset, length) before it reaches a
 * backend, so that no upper-layer bug or flash-derived value can make a
 * backend touch memory or file offsets outside the device.
 */
#ifndef EKV_FLASH_H
#define EKV_FLASH_H

#include "ekv.h"

/* The ops table of a backend with every optional op, its functions named
 * after the slots: FLASH_OPS_ALL(file) is {.read = file_read, ...}. */
#define FLASH_OPS_ALL(prefix)                                                                   \
	{                                                                                       \
		.read = prefix##_read, .write = prefix##_write, .erase = prefix##_erase,        \
		.destroy = prefix##_destroy, .lock = prefix##_lock,                             \
		.change_token = prefix##_change_token, .mark_changed = prefix##_mark_changed,   \
	}

static inline int flash_check(const struct ekv_flash *f, uint32_t page, uint32_t off, uint32_t len)
{
	if (page >= f->page_count || off > f->page_size || len > f->page_size - off)
		return EKV_EINVAL;
	return 0;
}

/* The checks before a read or a program: <0 refused, 1 nothing to do (len
 * 0), 0 go ahead. */
static inline int flash_pre_io(const struct ekv_flash *f, uint32_t page, uint32_t off, uint32_t len)
{
	int r = flash_check(f, page, off, len);
	return r < 0 ? r : len == 0;
}

static inline int flash_read(struct ekv_flash *f, uint32_t page, uint32_t off, void *buf,
			     uint32_t len)
{
	int r = flash_pre_io(f, page, off, len);
	if (r)
		return r < 0 ? r : 0;
	return f->ops->read(f->ctx, page, off, buf, len);
}

static inline int flash_write(struct ekv_flash *f, uint32_t page, uint32_t off, const void *buf,
			      uint32_t len)
{
	int r = flash_pre_io(f, page, off, len);
	if (r)
		return r < 0 ? r : 0;
	if (f->read_only)
		return EKV_EROFS;
	return f->ops->write(f->ctx, page, off, buf, len);
}

static inline int flash_erase(struct ekv_flash *f, uint32_t page)
{
	if (page >= f->page_count)
		return EKV_EINVAL;
	if (f->read_only)
		return EKV_EROFS;
	return f->ops->erase(f->ctx, page);
}

static inline int flash_lock(struct ekv_flash *f, int op, int timeout_ms)
{
	if (!f->ops->lock)
		return 0;
	return f->ops->lock(f->ctx, op, timeout_ms);
}

/* 1: changed since *token (updated), 0: unchanged, <0 error */
static inline int flash_changed(struct ekv_flash *f, uint64_t *token, bool have_token)
{
	if (!f->ops->lock)
		return 0; /* no other process can share this flash */
	if (!f->ops->change_token)
		return 1;
	uint64_t t;
	int e = f->ops->change_token(f->ctx, &t);
	if (e < 0)
		return 1;
	bool changed = !have_token || t != *token;
	*token = t;
	return changed;
}

/* Write barrier: everything written so far is durable (docs/DESIGN.md §2). */
static inline int flash_sync(struct ekv_flash *f)
{
	return f->ops->sync ? f->ops->sync(f->ctx) : 0;
}

static inline void flash_mark_changed(struct ekv_flash *f)
{
	if (f->ops->mark_changed)
		f->ops->mark_changed(f->ctx);
}

/* Program buf over old flash bytes with real flash semantics (bits move away
 * from the erased value only).  Returns false if strict and a byte was not
 * erased. Shared by the RAM and file backends. */
static inline bool flash_program_bytes(uint8_t *dst, const uint8_t *src, uint32_t len,
				       uint8_t erase_value, bool strict)
{
	bool ok = true;
	for (uint32_t i = 0; i < len; i++) {
		if (strict && dst[i] != erase_value)
			ok = false;
	}
	if (!ok)
		return false;
	if (erase_value == 0xff)
		for (uint32_t i = 0; i < len; i++)
			dst[i] &= src[i];
	else
		for (uint32_t i = 0; i < len; i++)
			dst[i] |= src[i];
	return true;
}

#endif
