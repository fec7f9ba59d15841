/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * inspect.c — ekvctl's stat, dump, fsck, probe and devices: presentation of
 * what lib/check.c finds.  Never writes to a database.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ekvctl.h"
#include "open.h"
#include "report.h"
#include "text.h"

/* ---- stat, dump, fsck, probe ----------------------------------------------------- */

int cmd_stat(struct cmd *c)
{
	if (c->nargs)
		return usage_error("stat: unexpected argument '%s'", c->args[0]);
	struct handle h;
	int r = open_db(c->o, DBSPEC_READ, &h, NULL);
	if (r)
		return r;
	struct ekv_stat st;
	struct ekv_geometry g;
	int e = ekv_stat(h.db, &st);
	uint64_t keys = 0;
	if (e == 0) {
		ekv_rtx *rtx;
		ekv_cursor *cur = NULL;
		e = ekv_rtx_begin(h.db, &rtx);
		if (e == 0) {
			e = ekv_cursor_open(rtx, NULL, 0, NULL, 0, &cur);
			uint8_t *key = malloc(h.p.max_key_size + 1);
			uint8_t *val = malloc(h.p.max_value_size + 1);
			if (!key || !val)
				e = EKV_ENOMEM;
			while (e == 0) {
				size_t kl, vl;
				e = ekv_cursor_next(cur, key, h.p.max_key_size, &kl, val,
						    h.p.max_value_size, &vl);
				if (e <= 0)
					break;
				keys++;
				e = 0;
			}
			free(key);
			free(val);
			ekv_cursor_close(cur);
			ekv_rtx_end(rtx);
		}
	}
	ekv_profile_geometry(&h.p, &g);
	if (e < 0) {
		close_db(&h);
		return report_failure(e, "stat");
	}
	const struct ekv_profile *p = &h.p;
	printf("%s: %s\n", h.spec.is_device ? "device" : "image", h.name);
	printf("size: %llu bytes (%u pages of %u bytes)\n",
	       (unsigned long long)p->page_count * p->page_size, p->page_count, p->page_size);
	char line[600];
	printf("profile: %s\n",
	       profile_options_text(p, h.layout, 1u << EKV_PF_page_count, line, sizeof(line)));
	printf("geometry: page header %u, chunk header %u, data header %u, max chunk %u, "
	       "page payload %u, skiplist %u (shift %u), record header %u, levels %u, files %u, "
	       "reserve %u pages\n",
	       g.page_header_size, g.chunk_header_size, g.data_header_size, g.chunk_max_len,
	       g.page_max_payload, g.skiplist_len, g.skiplist_shift, g.record_header_size,
	       g.level_count, g.file_count, g.min_free_page_count);
	printf("pages: %u used, %u free (%u pinned)\n", st.pages_used, st.pages_free,
	       st.pages_pinned);
	printf("meta: page %u, seq %u\n", st.meta_page, st.meta_seq);
	if (st.damaged)
		printf("recovery: damaged: fell back from meta page %u (seq %u) to meta page %u (seq "
		       "%u); %u commits and the newest state of %u files lost\n",
		       st.damaged_meta_page, st.damaged_meta_seq, st.meta_page, st.meta_seq,
		       st.lost_commits, st.lost_files);
	else
		printf("recovery: none (the newest state is mounted)\n");
	printf("keys: %llu\n", (unsigned long long)keys);
	uint64_t bytes = 0;
	for (uint32_t i = 0; i < st.file_count; i++)
		bytes += st.file_bytes[i];
	printf("payload: %llu bytes in files (records, tombstones and older versions)\n",
	       (unsigned long long)bytes);
	int last_level = -2;
	for (uint32_t i = 0; i < st.file_count; i++) {
		int level, slot;
		if (ekv_file_level(p, i, &level, &slot) < 0)
			continue;
		if (level != last_level) {
			if (last_level != -2)
				putchar('\n');
			if (level < 0)
				printf("level -1 (compaction):");
			else
				printf("level %d:", level);
			last_level = level;
		}
		if (st.file_pages[i])
			printf(" [file %u: %u pages, %llu bytes%s]", i, st.file_pages[i],
			       (unsigned long long)st.file_bytes[i],
			       st.file_flags[i] & 1   ? ", compaction dest"
			       : st.file_flags[i] & 2 ? ", compaction src"
						      : "");
		else
			printf(" [file %u: empty]", i);
	}
	putchar('\n');
	printf("erase counts: unknown (the format keeps none; wear leveling is by cyclic "
	       "allocation)\n");
	close_db(&h);
	return fflush(stdout) ? EXIT_IO : 0;
}

struct line_ctx {
	FILE *out;
	struct progress *pg;
	bool quiet;
	bool warnings;
};

static void print_line(void *ctx, const char *line)
{
	struct line_ctx *l = ctx;
	if (l->quiet)
		return;
	if (l->pg)
		progress_end(l->pg);
	fprintf(l->out, "%s\n", line);
}

static void check_progress(void *ctx, uint64_t done, uint64_t total)
{
	struct line_ctx *l = ctx;
	if (l->pg)
		progress_cb(l->pg, done, total);
}

/* The flash alone, read-only (an image cut short tolerated), under a shared
 * lock that keeps writers of other processes out while we read.  0 or an
 * exit status. */
static int open_inspection(const struct cmd *c, struct handle *h)
{
	int r = open_flash(c->o, DBSPEC_INSPECT, h);
	if (r)
		return r;
	const struct ekv_flash_ops *ops = h->spec.flash->ops;
	int e = ops->lock ? ops->lock(h->spec.flash->ctx, EKV_LOCK_SH,
				      busy_wait_ms(c->o, DBSPEC_READ))
			  : 0;
	if (e < 0) {
		close_db(h);
		return report_failure(e, "lock");
	}
	return 0;
}

int cmd_dump(struct cmd *c)
{
	if (c->nargs)
		return usage_error("dump: unexpected argument '%s'", c->args[0]);
	unsigned what = (c->dump_pages ? EKV_DUMP_PAGES : 0) | (c->dump_files ? EKV_DUMP_FILES : 0) |
			(c->dump_records ? EKV_DUMP_RECORDS : 0);
	if (!what)
		what = EKV_DUMP_PAGES | EKV_DUMP_FILES | EKV_DUMP_RECORDS;
	struct handle h;
	int r = open_inspection(c, &h);
	if (r)
		return r;
	struct line_ctx l = {.out = stdout};
	int e = ekv_dump(h.spec.flash, &h.p, what, print_line, &l);
	close_db(&h);
	if (e < 0)
		return report_failure(e, "dump");
	return fflush(stdout) ? EXIT_IO : 0;
}

int cmd_fsck(struct cmd *c)
{
	if (c->nargs)
		return usage_error("fsck: unexpected argument '%s'", c->args[0]);
	struct handle h;
	int r = open_inspection(c, &h);
	if (r)
		return r;
	struct progress pg;
	progress_init(&pg, c->o->quiet, "fsck");
	struct line_ctx l = {.out = stdout, .pg = &pg, .quiet = c->o->quiet};
	uint32_t extra = 0;
	if (h.spec.truncated && h.spec.image_size % h.p.page_size) {
		printf("error: image size %llu is not a multiple of the page size %u (truncated?)\n",
		       (unsigned long long)h.spec.image_size, h.p.page_size);
		extra++;
	}
	struct ekv_check_result res;
	int e = ekv_check(h.spec.flash, &h.p, print_line, check_progress, &l, &res);
	progress_end(&pg);
	close_db(&h);
	if (e < 0)
		return report_failure(e, "fsck");
	res.errors += extra;
	printf("%s: %u pages: %u used, %u free (%u erased); %u files, %u records (%u tombstones), "
	       "%llu bytes; meta page %u seq %u; %u errors, %u warnings: %s\n",
	       h.name, res.pages, res.pages_used, res.pages_free_erased + res.pages_free_stale,
	       res.pages_free_erased, res.files, res.records, res.tombstones,
	       (unsigned long long)res.payload_bytes, res.meta_page, res.meta_seq, res.errors,
	       res.warnings, res.errors ? (res.mounted ? "DAMAGED" : "DAMAGED, not mountable")
					: "clean");
	if (fflush(stdout))
		return EXIT_IO;
	return res.errors ? EXIT_NOTFOUND : 0;
}

int cmd_probe(struct cmd *c)
{
	if (c->nargs)
		return usage_error("probe: unexpected argument '%s'", c->args[0]);
	struct opts *o = c->o;
	struct dbspec d;
	char msg[600];
	int e = dbspec_open_unknown(&o->s, &d, msg, sizeof(msg));
	if (e == EKV_EINVAL)
		return usage_error("probe: %s", msg);
	if (e < 0) {
		fprintf(stderr, "%s: %s\n", prog, msg);
		return e == EKV_ENOFMT ? EXIT_NOTFOUND : EXIT_IO;
	}
	const char *name = d.name;
	/* what the options fix, the probe does not guess */
	static const struct {
		enum ekv_pf_id field;
		unsigned bit;
	} map[] = {
		{EKV_PF_page_size, EKV_PROBE_PAGE_SIZE},
		{EKV_PF_align, EKV_PROBE_ALIGN},
		{EKV_PF_erase_value, EKV_PROBE_ERASE_VALUE},
		{EKV_PF_crc, EKV_PROBE_CRC},
		{EKV_PF_max_page_count, EKV_PROBE_MAX_PAGE_COUNT},
		{EKV_PF_max_chunk_size, EKV_PROBE_MAX_CHUNK_SIZE},
		{EKV_PF_branching_factor, EKV_PROBE_BRANCHING_FACTOR},
		{EKV_PF_max_key_size, EKV_PROBE_MAX_KEY_SIZE},
		{EKV_PF_max_value_size, EKV_PROBE_MAX_VALUE_SIZE},
	};
	unsigned fixed = 0;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (settings_given(&o->s, (enum setting_id)(SET_PROFILE + map[i].field)))
			fixed |= map[i].bit;
	struct ekv_profile hint = o->s.p;
	if (d.is_device) {
		/* on a device, a page is an erase block */
		hint.page_size = d.p.page_size;
		fixed |= EKV_PROBE_PAGE_SIZE;
	}
	struct line_ctx l = {.out = stderr, .quiet = !o->verbose};
	struct ekv_probe_result res;
	e = ekv_probe(d.flash, &hint, fixed, print_line, &l, &res);
	dbspec_close(&d);
	if (e < 0)
		return report_failure(e, "probe");
	if (e == 0) {
		fprintf(stderr, "%s: %s: no ekv profile recognised%s\n", prog, name,
			o->verbose ? "" : " (-v says what was tried)");
		return EXIT_NOTFOUND;
	}
	const struct ekv_profile *p = &res.profile;
	struct ekv_profile def;
	ekv_profile_default(&def);
	/* the options to give: the page count follows from the size, and
	 * scratch-pages cannot be read from an image */
	uint32_t skip = 1u << EKV_PF_page_count;
	if (p->scratch_page_count == def.scratch_page_count)
		skip |= 1u << EKV_PF_scratch_page_count;
	char line[600];
	puts(profile_options_text(p, d.layout, skip, line, sizeof(line)));
	if (!o->quiet) {
		/* the crate's defaults, with max-page-count as the tools derive it */
		def.max_page_count = p->page_count > def.max_page_count ? p->page_count
									: def.max_page_count;
		bool is_default = true;
		for (int i = 0; i < EKV_PF_COUNT; i++)
			if (i != EKV_PF_page_count && i != EKV_PF_scratch_page_count)
				is_default &= ekv_pf_get(p, (enum ekv_pf_id)i) ==
					      ekv_pf_get(&def, (enum ekv_pf_id)i);
		fprintf(stderr, "%s: %s: %s; %u pages, %u files, %u records verify\n", prog, name,
			is_default ? "the default profile (the Rust crate's defaults)"
				   : "a non-default profile",
			p->page_count, res.check.files, res.check.records);
		if (!(res.determined & EKV_PROBE_BRANCHING_FACTOR))
			fprintf(stderr, "%s: note: the branching factor cannot be told from the image "
					"(it reads alike); %u assumed\n", prog, p->branching_factor);
		if (!(res.determined & EKV_PROBE_ALIGN))
			fprintf(stderr, "%s: note: align cannot be told from the image; %u assumed\n",
				prog, p->align);
		if (!(res.determined & EKV_PROBE_MAX_KEY_SIZE))
			fprintf(stderr, "%s: note: no records: key and value sizes assumed\n", prog);
		fprintf(stderr, "%s: note: scratch-pages cannot be read from an image; keep the "
				"one it was made with\n", prog);
	}
	return fflush(stdout) ? EXIT_IO : 0;
}

/* ---- devices ------------------------------------------------------------------ */

static bool read_sys(const char *dir, const char *file, char *buf, size_t cap)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	FILE *in = fopen(path, "re");
	if (!in)
		return false;
	bool ok = fgets(buf, (int)cap, in) != NULL;
	fclose(in);
	if (ok)
		buf[strcspn(buf, "\n")] = 0;
	return ok;
}

int cmd_devices(struct cmd *c)
{
	if (c->nargs)
		return usage_error("devices: unexpected argument '%s'", c->args[0]);
	DIR *d = opendir("/sys/class/mtd");
	if (!d) {
		if (!c->o->quiet)
			fprintf(stderr, "%s: no MTD devices (/sys/class/mtd: %s)\n", prog,
				strerror(errno));
		return EXIT_NOTFOUND;
	}
	struct dirent *de;
	int n = 0;
	char names[256][64];
	while ((de = readdir(d)) && n < 256) {
		unsigned idx;
		char tail;
		if (sscanf(de->d_name, "mtd%u%c", &idx, &tail) == 1)
			snprintf(names[n++], sizeof(names[0]), "%.63s", de->d_name);
	}
	closedir(d);
	qsort(names, (size_t)n, sizeof(names[0]), (int (*)(const void *, const void *))strcmp);
	printf("%-8s %-10s %10s %9s %9s  %s\n", "DEVICE", "TYPE", "SIZE", "ERASESIZE", "WRITESIZE",
	       "NAME");
	for (int i = 0; i < n; i++) {
		char dir[300], name[128] = "", type[32] = "", size[32] = "", es[32] = "", ws[32] = "";
		snprintf(dir, sizeof(dir), "/sys/class/mtd/%.63s", names[i]);
		read_sys(dir, "name", name, sizeof(name));
		read_sys(dir, "type", type, sizeof(type));
		read_sys(dir, "size", size, sizeof(size));
		read_sys(dir, "erasesize", es, sizeof(es));
		read_sys(dir, "writesize", ws, sizeof(ws));
		printf("%-8s %-10s %10s %9s %9s  mtd:%s\n", names[i], type, size, es, ws, name);
	}
	if (n == 0)
		return EXIT_NOTFOUND;
	return fflush(stdout) ? EXIT_IO : 0;
}

/* ---- batch --hex: the workload scripts of tests/data ----------------------------- */

