/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * handle.h — what a public handle is: ekv_db, ekv_rtx, ekv_wtx and
 * ekv_cursor each hold only the ops table of the implementation that made
 * them.  Local handles (db.c, cursor.c: db_local_ops) and handles served by
 * ekvd (remote.c: remote_ops) each implement the whole table; an
 * implementation embeds the public struct in its own and gets back to it
 * with container_of().  api.c holds the public functions: they validate the
 * arguments once and call the slot.
 *
 * Owns: the table's contract.  When a slot runs, api.c has checked that
 * the handle is not NULL, that every required result pointer (out, st,
 * info) is not NULL, and that no buffer is NULL with a nonzero length or
 * capacity; *out is NULL and *st / *info are zeroed.  A slot checks what
 * only its implementation knows (sizes against the profile, the state of a
 * transaction).
 * Must never: be punned — a handle is only ever turned back into the struct
 * of the implementation whose table it holds.
 */
#ifndef EKV_HANDLE_H
#define EKV_HANDLE_H

#include "ekv.h"

struct ekv_ops {
	/* ekv_db */
	void (*close)(ekv_db *db);
	int (*format)(ekv_db *db);
	int (*mount)(ekv_db *db);
	int (*stat)(ekv_db *db, struct ekv_stat *st);
	int (*compact)(ekv_db *db);
	int (*remote_info)(ekv_db *db, struct ekv_remote_info *info);
	int (*rtx_begin)(ekv_db *db, ekv_rtx **out);
	int (*wtx_begin)(ekv_db *db, ekv_wtx **out);
	/* ekv_rtx */
	void (*rtx_end)(ekv_rtx *rtx);
	int (*rtx_get)(ekv_rtx *rtx, const void *key, size_t key_len, void *value,
		       size_t value_cap, size_t *value_len);
	int (*cursor_open)(ekv_rtx *rtx, const void *start, size_t start_len, const void *end,
			   size_t end_len, ekv_cursor **out);
	int (*cursor_open_prefix)(ekv_rtx *rtx, const void *prefix, size_t prefix_len,
				  ekv_cursor **out);
	/* ekv_cursor */
	int (*cursor_next)(ekv_cursor *c, void *key, size_t key_cap, size_t *key_len, void *value,
			   size_t value_cap, size_t *value_len);
	void (*cursor_close)(ekv_cursor *c);
	/* ekv_wtx */
	int (*wtx_put)(ekv_wtx *tx, const void *key, size_t key_len, const void *value,
		       size_t value_len);
	int (*wtx_delete)(ekv_wtx *tx, const void *key, size_t key_len);
	int (*wtx_commit)(ekv_wtx *tx);
	void (*wtx_abort)(ekv_wtx *tx);
};

struct ekv_db {
	const struct ekv_ops *ops;
};
struct ekv_rtx {
	const struct ekv_ops *ops;
};
struct ekv_wtx {
	const struct ekv_ops *ops;
};
struct ekv_cursor {
	const struct ekv_ops *ops;
};

/*
 * Every slot by name, for filling a table from functions named after its
 * slots: #define MINE(slot) .slot = mine_##slot,  then
 * const struct ekv_ops mine_ops = {EKV_OPS_SLOTS(MINE)};  — a missing
 * function does not compile, and the assertion below keeps this list and
 * the struct in step.
 */
#define EKV_OPS_SLOTS(X)                                                                        \
	X(close) X(format) X(mount) X(stat) X(compact) X(remote_info) X(rtx_begin) X(wtx_begin) \
	X(rtx_end) X(rtx_get) X(cursor_open) X(cursor_open_prefix) X(cursor_next)               \
	X(cursor_close) X(wtx_put) X(wtx_delete) X(wtx_commit) X(wtx_abort)
#define EKV_OPS_COUNT_SLOT(slot) +1
_Static_assert(sizeof(struct ekv_ops) ==
		       (0 EKV_OPS_SLOTS(EKV_OPS_COUNT_SLOT)) * sizeof(void (*)(void)),
	       "EKV_OPS_SLOTS names every slot of struct ekv_ops");
#undef EKV_OPS_COUNT_SLOT

extern const struct ekv_ops db_local_ops; /* db.c (cursors: cursor.c) */
extern const struct ekv_ops remote_ops;   /* remote.c */

#endif
