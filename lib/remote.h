/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * remote.h — handles served by ekvd over a Unix socket (ekv_connect).
 *
 * The public handle types ekv_db, ekv_rtx, ekv_wtx and ekv_cursor all begin
 * with a `struct remote *remote` member: NULL for a local object.  When it is
 * set, the object was made by remote.c (and is one of its own structs with
 * that same first member), and each public function hands the call to the
 * matching remote_* function below before touching anything else.
 */
#ifndef EKV_REMOTE_H
#define EKV_REMOTE_H

#include "ekv.h"

struct remote;

void remote_close(ekv_db *db);
int remote_format(ekv_db *db);
int remote_mount(ekv_db *db);
int remote_stat(ekv_db *db, struct ekv_stat *st);
int remote_compact(ekv_db *db);

int remote_rtx_begin(ekv_db *db, ekv_rtx **out);
void remote_rtx_end(ekv_rtx *rtx);
int remote_rtx_get(ekv_rtx *rtx, const void *key, size_t key_len, void *value, size_t value_cap,
		   size_t *value_len);

int remote_cursor_open(ekv_rtx *rtx, const void *start, size_t start_len, const void *end,
		       size_t end_len, ekv_cursor **out);
int remote_cursor_open_prefix(ekv_rtx *rtx, const void *prefix, size_t prefix_len,
			      ekv_cursor **out);
int remote_cursor_next(ekv_cursor *c, void *key, size_t key_cap, size_t *key_len, void *value,
		       size_t value_cap, size_t *value_len);
void remote_cursor_close(ekv_cursor *c);

int remote_wtx_begin(ekv_db *db, ekv_wtx **out);
int remote_wtx_put(ekv_wtx *tx, const void *key, size_t key_len, const void *value,
		   size_t value_len);
int remote_wtx_delete(ekv_wtx *tx, const void *key, size_t key_len);
int remote_wtx_commit(ekv_wtx *tx);
void remote_wtx_abort(ekv_wtx *tx);

#endif
