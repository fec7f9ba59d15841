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

/* A buffer pointer that is NULL although its length says there are bytes. */
#define MISSING(buf, len) (!(buf) && (len))
/* Clear a result handle pointer first; false if there is none. */
#define CLEARED(out) ((out) ? (*(out) = NULL, true) : false)
/* Zero a result struct first; false if there is none. */
#define ZEROED(res) ((res) ? (memset((res), 0, sizeof(*(res))), true) : false)

void ekv_close(ekv_db *db)
{
	if (db)
		db->ops->close(db);
}

int ekv_format(ekv_db *db)
{
	return db ? db->ops->format(db) : EKV_EINVAL;
}

int ekv_mount(ekv_db *db)
{
	return db ? db->ops->mount(db) : EKV_EINVAL;
}

int ekv_stat(ekv_db *db, struct ekv_stat *st)
{
	return ZEROED(st) && db ? db->ops->stat(db, st) : EKV_EINVAL;
}

int ekv_compact(ekv_db *db)
{
	return db ? db->ops->compact(db) : EKV_EINVAL;
}

int ekv_remote_info(ekv_db *db, struct ekv_remote_info *info)
{
	return ZEROED(info) && db ? db->ops->remote_info(db, info) : EKV_EINVAL;
}

/* ---- read transactions and cursors ---------------------------------------- */

int ekv_rtx_begin(ekv_db *db, ekv_rtx **out)
{
	return CLEARED(out) && db ? db->ops->rtx_begin(db, out) : EKV_EINVAL;
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
	if (!CLEARED(out) || !rtx)
		return EKV_EINVAL;
	/* a NULL bound is no bound: its length does not matter */
	return rtx->ops->cursor_open(rtx, start, start ? start_len : 0, end, end ? end_len : 0,
				     out);
}

int ekv_cursor_open_prefix(ekv_rtx *rtx, const void *prefix, size_t prefix_len, ekv_cursor **out)
{
	if (!CLEARED(out) || !rtx || MISSING(prefix, prefix_len))
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
	return CLEARED(out) && db ? db->ops->wtx_begin(db, out) : EKV_EINVAL;
}

int ekv_wtx_put(ekv_wtx *tx, const void *key, size_t key_len, const void *value, size_t value_len)
{
	if (!tx || MISSING(key, key_len) || MISSING(value, value_len))
		return EKV_EINVAL;
	return tx->ops->wtx_put(tx, key, key_len, value, value_len);
}

int ekv_wtx_delete(ekv_wtx *tx, const void *key, size_t key_len)
{
	return tx && !MISSING(key, key_len) ? tx->ops->wtx_delete(tx, key, key_len) : EKV_EINVAL;
}

int ekv_wtx_commit(ekv_wtx *tx)
{
	return tx ? tx->ops->wtx_commit(tx) : EKV_EINVAL;
}

void ekv_wtx_abort(ekv_wtx *tx)
{
	if (tx)
		tx->ops->wtx_abort(tx);
}
