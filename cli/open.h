/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * open.h — how a command gets its database: through ekvd when it serves
 * the database asked for (or --socket says so), else directly on the flash
 * that tools/dbspec.c resolves, with a progress bar when asked.
 */
#ifndef EKVCTL_OPEN_H
#define EKVCTL_OPEN_H

#include <stdbool.h>
#include <stdint.h>

#include "dbspec.h"
#include "ekv.h"
#include "options.h"
#include "report.h"

struct progress_flash {
	struct ekv_flash f;
	struct ekv_flash *inner;
	struct progress *pg;
};

struct handle {
	struct dbspec spec;      /* the flash, when opened directly */
	ekv_db *db;              /* NULL after open_flash() */
	unsigned layout;         /* on-disk layout of p */
	struct ekv_profile p;    /* the database's profile (ekvd's, through ekvd) */
	const char *name;        /* image, device or ekvd's socket */
	struct progress_flash pf;
	struct ekv_flash_ops pf_ops;
	struct opts *o;          /* told when the database was mounted past damage */
};

/* How long to wait for a database another process holds. */
int busy_wait_ms(const struct opts *o, enum dbspec_mode mode);
/* Open the database (DBSPEC_INSPECT: never through ekvd).  0 or an exit
 * status, the problem told on stderr. */
int open_db(struct opts *o, enum dbspec_mode mode, struct handle *h, struct progress *pg);
/* The flash and profile only (fsck, dump): 0 or an exit status. */
int open_flash(struct opts *o, enum dbspec_mode mode, struct handle *h);
/* Close; first, if the database was mounted past damage, one warning line
 * on stderr naming what was lost (once per run; o->damaged set). */
void close_db(struct handle *h);

#endif
