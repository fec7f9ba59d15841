/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * api.c — every public function of ekv.h that takes a handle.
 *
 * Owns: the one argument discipline of the public API (ekv.h, "Handles and
 * NULL"): clear the results, refuse a NULL handle, a NULL result pointer or
 * a NULL buffer with a nonzero length with EKV_EINVAL, let closing NULL do
 * nothing — then dispatch through the handle's ops table (handle.h).
 * Must never: know which implementation is behind a handle, or judge an
 * argument that only the implementation can (sizes, transaction state).
 */
#include <string.h>

#include "handle.h"

/* a buffer pointer that is NULL although its length says there are bytes */
#define MISSING(buf, len) (!(buf) && (len))

void ekv_close(ekv_db *db)
{
	if (db)
		db->ops->close(db);
}

int ekv_format(ekv_db *db)
{
	if (!db)
		return EKV_EINVAL;
	return db->ops->format(db);
}

int ekv_mount(ekv_db *db)
{
	if (!db)
		return EKV_EINVAL;
	return db->ops->mount(db);
}

int ekv_stat(ekv_db *db, struct ekv_stat *st)
{
	if (st)
		memset(st, 0, sizeof(*st));
	if (!db || !st)
		return EKV_EINVAL;
	return db->ops->stat(db, st);
}

int ekv_compact(ekv_db *db)
{
	if (!db)
		return EKV_EINVAL;
	return db->ops->compact(db);
}

int ekv_remote_info(ekv_db *db, struct ekv_remote_info *info)
{
	if (info)
		memset(info, 0, sizeof(*info));
	if (!db || !info)
		return EKV_EINVAL;
	return db->ops->remote_info(db, info);
}

/* ---- read transactions and cursors ---------------------------------------- */

int ekv_rtx_begin(ekv_db *db, ekv_rtx **out)
{
	if (out)
		*out = NULL;
	if (!db || !out)
		return EKV_EINVAL;
	return db->ops->rtx_begin(db, out);
}

void ekv_rtx_end(ekv_rtx *rtx)
{
	if (rtx)
		rtx->ops->rtx_end(rtx);
}

int ekv_rtx_get(ekv_rtx *rtx, const void *key, size_t key_len, void *value, size_t value_cap,
		size_t *value_len)
{
	if (!rtx || MISSING(key, key_len) || MISSING(value, value_cap))
		return EKV_EINVAL;
	return rtx->ops->rtx_get(rtx, key, key_len, value, value_cap, value_len);
}

int ekv_cursor_open(ekv_rtx *rtx, const void *start, size_t start_len, const void *end,
		    size_t end_len, ekv_cursor **out)
{
	if (out)
		*out = NULL;
	if (!rtx || !out)
		return EKV_EINVAL;
	/* a NULL bound is no bound: its length does not matter */
	return rtx->ops->cursor_open(rtx, start, start ? start_len : 0, end, end ? end_len : 0,
				     out);
}

int ekv_cursor_open_prefix(ekv_rtx *rtx, const void *prefix, size_t prefix_len, ekv_cursor **out)
{
	if (out)
		*out = NULL;
	if (!rtx || !out || MISSING(prefix, prefix_len))
		return EKV_EINVAL;
	return rtx->ops->cursor_open_prefix(rtx, prefix, prefix_len, out);
}

int ekv_cursor_next(ekv_cursor *c, void *key, size_t key_cap, size_t *key_len, void *value,
		    size_t value_cap, size_t *value_len)
{
	if (!c || MISSING(key, key_cap) || MISSING(value, value_cap))
		return EKV_EINVAL;
	return c->ops->cursor_next(c, key, key_cap, key_len, value, value_cap, value_len);
}

void ekv_cursor_close(ekv_cursor *c)
{
	if (c)
		c->ops->cursor_close(c);
}

/* ---- write transactions ----------------------------------------------------- */

int ekv_wtx_begin(ekv_db *db, ekv_wtx **out)
{
	if (out)
		*out = NULL;
	if (!db || !out)
		return EKV_EINVAL;
	return db->ops->wtx_begin(db, out);
}

int ekv_wtx_put(ekv_wtx *tx, const void *key, size_t key_len, const void *value, size_t value_len)
{
	if (!tx || MISSING(key, key_len) || MISSING(value, value_len))
		return EKV_EINVAL;
	return tx->ops->wtx_put(tx, key, key_len, value, value_len);
}

int ekv_wtx_delete(ekv_wtx *tx, const void *key, size_t key_len)
{
	if (!tx || MISSING(key, key_len))
		return EKV_EINVAL;
	return tx->ops->wtx_delete(tx, key, key_len);
}

int ekv_wtx_commit(ekv_wtx *tx)
{
	if (!tx)
		return EKV_EINVAL;
	return tx->ops->wtx_commit(tx);
}

void ekv_wtx_abort(ekv_wtx *tx)
{
	if (tx)
		tx->ops->wtx_abort(tx);
}
