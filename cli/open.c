/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * open.c — ekvctl's open and close (open.h): through ekvd, or directly on
 * the flash tools/dbspec.c resolves, optionally wrapped so that reads
 * and erases move a progress bar.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "open.h"

#define READ_WAIT_DEFAULT_MS 5000

/* ---- a flash wrapper that reports progress as pages are read or erased
 * (format reads every page header) ------------------------------------------------- */

static int pf_read(void *ctx, uint32_t page, uint32_t off, void *buf, uint32_t len)
{
	struct progress_flash *pf = ctx;
	progress_cb(pf->pg, page + 1, pf->inner->page_count);
	return pf->inner->ops->read(pf->inner->ctx, page, off, buf, len);
}

static int pf_write(void *ctx, uint32_t page, uint32_t off, const void *buf, uint32_t len)
{
	struct progress_flash *pf = ctx;
	return pf->inner->ops->write(pf->inner->ctx, page, off, buf, len);
}

static int pf_erase(void *ctx, uint32_t page)
{
	struct progress_flash *pf = ctx;
	return pf->inner->ops->erase(pf->inner->ctx, page);
}

static int pf_lock(void *ctx, int op, int timeout_ms)
{
	struct progress_flash *pf = ctx;
	return pf->inner->ops->lock(pf->inner->ctx, op, timeout_ms);
}

static int pf_change_token(void *ctx, uint64_t *token)
{
	struct progress_flash *pf = ctx;
	return pf->inner->ops->change_token(pf->inner->ctx, token);
}

static int pf_mark_changed(void *ctx)
{
	struct progress_flash *pf = ctx;
	return pf->inner->ops->mark_changed(pf->inner->ctx);
}

static struct ekv_flash *progress_flash(struct handle *h, struct progress *pg)
{
	const struct ekv_flash_ops *in = h->spec.flash->ops;
	h->pf_ops = (struct ekv_flash_ops){
		.read = pf_read, .write = pf_write, .erase = pf_erase,
		.lock = in->lock ? pf_lock : NULL,
		.change_token = in->change_token ? pf_change_token : NULL,
		.mark_changed = in->mark_changed ? pf_mark_changed : NULL,
	};
	h->pf.f = *h->spec.flash;
	h->pf.f.ops = &h->pf_ops;
	h->pf.f.ctx = &h->pf;
	h->pf.inner = h->spec.flash;
	h->pf.pg = pg;
	return &h->pf.f;
}

/* ---- opening ------------------------------------------------------------------------- */

/* A writer fails at once unless --wait is given (like a second fw_setenv);
 * a reader waits a few seconds by default, because writers hold the lock
 * only for the length of one transaction. */
int busy_wait_ms(const struct opts *o, enum dbspec_mode mode)
{
	if (settings_given(&o->s, SET_WAIT))
		return o->s.wait_ms;
	return mode == DBSPEC_READ ? READ_WAIT_DEFAULT_MS : 0;
}

static void print_profile(const struct handle *h)
{
	fprintf(stderr, "%s: %s %s:", prog, h->spec.is_device ? "device" : "image", h->name);
	for (int i = 0; i < EKV_PF_COUNT; i++) {
		char value[16];
		if (!(ekv_pf_table[i].layouts & EKV_PF_LAYOUT(h->layout)))
			continue;
		profile_field_text(&h->p, (enum ekv_pf_id)i, value, sizeof(value));
		fprintf(stderr, " %s %s", ekv_pf_table[i].key, value);
	}
	fputc('\n', stderr);
}

int open_flash(struct opts *o, enum dbspec_mode mode, struct handle *h)
{
	memset(h, 0, sizeof(*h));
	char msg[600];
	int e = dbspec_open(&o->s, mode, &h->spec, msg, sizeof(msg));
	if (e < 0) {
		fprintf(stderr, "%s: %s\n", prog, msg);
		return e == EKV_EINVAL || e == EKV_ENOTSUP ? EXIT_USAGE : EXIT_IO;
	}
	h->p = h->spec.p;
	h->layout = h->spec.layout;
	h->name = h->spec.name;
	if (o->verbose)
		print_profile(h);
	return 0;
}

/* Does the daemon serve the database these options name? */
static bool remote_serves(const struct opts *o, const struct ekv_remote_info *info)
{
	if (!o->s.image && !o->s.device)
		return o->s.db_name && info->name[0] && !strcmp(o->s.db_name, info->name);
	char want[PATH_MAX + 16];
	dbspec_describe(&o->s, want, sizeof(want));
	return !strcmp(want, info->database);
}

/* Open through ekvd: 0 done, -1 open directly instead, >0 an exit status.
 * Without --socket or --direct the daemon is used only when it runs and
 * serves the very database asked for. */
static int open_remote(struct opts *o, enum dbspec_mode mode, struct handle *h)
{
	if (o->direct)
		return -1;
	const char *path = o->socket ? o->socket : getenv("EKV_SOCKET");
	if (!path)
		path = EKV_DEFAULT_SOCKET;
	struct stat st;
	if (!o->socket_forced && (stat(path, &st) != 0 || !S_ISSOCK(st.st_mode)))
		return -1;
	struct ekv_connect_options co;
	ekv_connect_options_default(&co);
	co.busy_timeout_ms = busy_wait_ms(o, mode);
	co.read_only = mode == DBSPEC_READ;
	ekv_db *db;
	int e = ekv_connect(path, &co, &db);
	if (e < 0)
		return o->socket_forced ? report_failure(e, path) : -1;
	struct ekv_remote_info info;
	e = ekv_remote_info(db, &info);
	if (e < 0 || (!o->socket_forced && !remote_serves(o, &info))) {
		ekv_close(db);
		return e < 0 && o->socket_forced ? report_failure(e, path) : -1;
	}
	memset(h, 0, sizeof(*h));
	h->db = db;
	h->layout = 1;
	h->p = info.profile;
	h->name = path;
	if (o->verbose)
		fprintf(stderr, "%s: through ekvd at %s serving %s\n", prog, path, info.database);
	return 0;
}

int open_db(struct opts *o, enum dbspec_mode mode, struct handle *h, struct progress *pg)
{
	if (mode != DBSPEC_INSPECT) {
		int rr = open_remote(o, mode, h);
		if (rr >= 0) {
			h->o = o;
			return rr;
		}
	}
	int r = open_flash(o, mode, h);
	if (r)
		return r;
	h->o = o;
	struct ekv_options eo;
	ekv_options_default(&eo);
	dbspec_options(&o->s, &eo);
	eo.busy_timeout_ms = busy_wait_ms(o, mode);
	eo.read_only = mode == DBSPEC_READ;
	struct ekv_flash *f = pg && pg->on ? progress_flash(h, pg) : h->spec.flash;
	int e = ekv_open(f, &h->p, &eo, &h->db);
	if (e < 0) {
		dbspec_close(&h->spec);
		return report_failure(e, "open");
	}
	return 0;
}

/* What the mount of h skipped, as one line (FORMAT.md §9). */
static void warn_damage(struct handle *h)
{
	struct ekv_stat st;
	if (!h->db || !h->o || h->o->damaged || ekv_stat(h->db, &st) < 0 || !st.damaged)
		return;
	h->o->damaged = true;
	char where[96];
	if (st.damaged_meta_page == st.meta_page)
		snprintf(where, sizeof(where), "meta page %u (seq %u) up to a damaged commit",
			 st.meta_page, st.meta_seq);
	else
		snprintf(where, sizeof(where), "meta page %u (seq %u), not the newest %u (seq %u)",
			 st.meta_page, st.meta_seq, st.damaged_meta_page, st.damaged_meta_seq);
	fprintf(stderr,
		"%s: warning: %s is damaged: mounted %s; %u commits and the newest state of %u "
		"files are lost ('%s fsck' explains; --on-damage refuse refuses it)\n",
		prog, h->name ? h->name : "the database", where, st.lost_commits, st.lost_files,
		prog);
}

void close_db(struct handle *h)
{
	warn_damage(h);
	if (h->db)
		ekv_close(h->db);
	dbspec_close(&h->spec);
	h->db = NULL;
}
