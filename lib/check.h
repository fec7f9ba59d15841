/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * check.h — verification of a whole image (fsck and dump), for the public
 * ekv_check/ekv_dump and for probe.
 *
 * Owns: reading every structure of docs/FORMAT.md again with the engine's
 * codec and parsers, independently of a mounted handle, and saying what is
 * wrong in words.  Must never: write to flash.
 */
#ifndef EKV_CHECK_H
#define EKV_CHECK_H

#include "ekv.h"

/* Where report lines go, and how many errors and warnings were said. */
struct reporter {
	ekv_line_fn fn;
	void *ctx;
	uint32_t errors, warnings;
};
void say(struct reporter *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define WHAT_RECORDS 0x100 /* check records (probe's structural pass leaves them out) */

/* Verify (what: WHAT_RECORDS and EKV_DUMP_* bits) the image on f with
 * profile p: findings to rep, dump lines to dump (may be NULL). */
int check_run(struct ekv_flash *f, const struct ekv_profile *p, unsigned what,
	      struct reporter *rep, struct reporter *dump, ekv_progress_fn progress, void *pctx,
	      struct ekv_check_result *res);

#endif
