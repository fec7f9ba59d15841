/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * model.h — the in-memory model of a database that tests compare it with:
 * a sorted map of byte strings, and the byte-string order of keys.
 *
 * Owns: struct model and its entries (every k/v is a malloc'd copy).
 * Must never: depend on cmocka (the MTD guest programs are cmocka-free and
 * fork), or abort on a difference: model_check reports it and the caller
 * decides.  Out of memory ends the process (exit status 3).
 */
#ifndef EKV_SUPPORT_MODEL_H
#define EKV_SUPPORT_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ekv.h"

/* Keys' order: bytewise, a prefix before its extensions; -1, 0 or 1. */
int bkey_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl);

struct kv {
	uint8_t *k, *v;
	size_t kl, vl;
};
struct model {
	struct kv *a; /* ascending by bkey_cmp */
	size_t n, cap;
};
void model_put(struct model *m, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl);
void model_del(struct model *m, const uint8_t *k, size_t kl);
struct kv *model_find(const struct model *m, const uint8_t *k, size_t kl);
void model_copy(struct model *dst, const struct model *src);
void model_free(struct model *m);
/* One operation of a write transaction, done in tx and in m alike: a delete
 * when del, else a put.  Returns ekv_wtx_delete's or ekv_wtx_put's result; m
 * changes either way (a caller drops its copy when the transaction fails). */
int model_wtx_apply(ekv_wtx *tx, struct model *m, bool del, const uint8_t *k, size_t kl,
		    const uint8_t *v, size_t vl);
/*
 * Compare the whole database with the model: a full cursor scan, then a point
 * get of every key.  0 if equal; else -1 with the first difference in why.
 */
int model_check(ekv_db *db, const struct model *m, const struct ekv_profile *p, char *why,
		size_t why_size);
/* The same with a point get of every stride-th key only (the scan is whole). */
int model_check_sampled(ekv_db *db, const struct model *m, const struct ekv_profile *p,
			size_t stride, char *why, size_t why_size);

#endif
