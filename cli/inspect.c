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
#include "text.h"

/* ---- stat, dump, fsck, probe ----------------------------------------------------- */

int cmd_stat(struct cmd *c)
{
	if (c->nargs)
		return usage_error("stat: unexpected argument '%s'", c->args[0]);
	struct handle h;
	int r = open_db(c->o, OPEN_READ, &h, NULL);
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
		return fail(e, "stat");
	}
	const struct ekv_profile *p = &h.p;
	printf("%s: %s\n", h.is_device ? "device" : "image", h.name);
	printf("size: %llu bytes (%u pages of %u bytes)\n",
	       (unsigned long long)p->page_count * p->page_size, p->page_count, p->page_size);
	printf("profile: --page-size %u --max-page-count %u --align %u --erase-value 0x%02X%s "
	       "--max-chunk-size %u --branching-factor %u --max-key-size %u --max-value-size %u "
	       "--scratch-pages %u\n",
	       p->page_size, p->max_page_count, p->align, p->erase_value, p->crc ? " --crc" : "",
	       p->max_chunk_size, p->branching_factor, p->max_key_size, p->max_value_size,
	       p->scratch_page_count);
	printf("geometry: page header %u, chunk header %u, data header %u, max chunk %u, "
	       "page payload %u, skiplist %u (shift %u), record header %u, levels %u, files %u, "
	       "reserve %u pages\n",
	       g.page_header_size, g.chunk_header_size, g.data_header_size, g.chunk_max_len,
	       g.page_max_payload, g.skiplist_len, g.skiplist_shift, g.record_header_size,
	       g.level_count, g.file_count, g.min_free_page_count);
	printf("pages: %u used, %u free (%u pinned)\n", st.pages_used, st.pages_free,
	       st.pages_pinned);
	printf("meta: page %u, seq %u\n", st.meta_page, st.meta_seq);
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

/* A shared lock keeps writers of other processes out while we read. */
static int lock_shared(struct handle *h, const struct opts *o)
{
	const struct ekv_flash_ops *ops = h->flash->ops;
	if (!ops->lock)
		return 0;
	int e = ops->lock(h->flash->ctx, EKV_LOCK_SH, busy_wait_ms(o, OPEN_READ));
	return e < 0 ? fail(e, "lock") : 0;
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
	int r = open_flash(c->o, OPEN_INSPECT, &h);
	if (!r)
		r = lock_shared(&h, c->o);
	if (r) {
		close_db(&h);
		return r;
	}
	struct line_ctx l = {.out = stdout};
	int e = ekv_dump(h.flash, &h.p, what, print_line, &l);
	close_db(&h);
	if (e < 0)
		return fail(e, "dump");
	return fflush(stdout) ? EXIT_IO : 0;
}

int cmd_fsck(struct cmd *c)
{
	if (c->nargs)
		return usage_error("fsck: unexpected argument '%s'", c->args[0]);
	struct handle h;
	int r = open_flash(c->o, OPEN_INSPECT, &h);
	if (!r)
		r = lock_shared(&h, c->o);
	if (r) {
		close_db(&h);
		return r;
	}
	struct progress pg;
	progress_init(&pg, c->o, "fsck");
	struct line_ctx l = {.out = stdout, .pg = &pg, .quiet = c->o->quiet};
	uint32_t extra = 0;
	if (h.truncated && h.image_size % h.p.page_size) {
		printf("error: image size %llu is not a multiple of the page size %u (truncated?)\n",
		       (unsigned long long)h.image_size, h.p.page_size);
		extra++;
	}
	struct ekv_check_result res;
	int e = ekv_check(h.flash, &h.p, print_line, check_progress, &l, &res);
	progress_end(&pg);
	close_db(&h);
	if (e < 0)
		return fail(e, "fsck");
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
	struct ekv_flash *f = NULL;
	const char *name = o->device ? o->device : o->image;
	if (!name)
		return usage_error("probe: give --image FILE or --device DEV");
	char msg[256] = "";
	int e;
	if (o->device) {
		e = ekv_flash_mtd_open(o->device, EKV_MTD_RDONLY, &f, msg, sizeof(msg));
	} else {
		struct stat st;
		if (stat(o->image, &st) < 0) {
			fprintf(stderr, "%s: %s: %s\n", prog, o->image, strerror(errno));
			return EXIT_IO;
		}
		/* read it in the largest unit that divides it; probe tries every
		 * page size whose multiple that is */
		uint32_t unit = 65536;
		while (unit >= 128 && (st.st_size % unit || st.st_size / unit > 65536))
			unit /= 2;
		if (unit < 128 || st.st_size == 0) {
			fprintf(stderr, "%s: %s: size %lld is not a multiple of 128 bytes\n", prog,
				o->image, (long long)st.st_size);
			return EXIT_NOTFOUND;
		}
		e = ekv_flash_file_open(o->image, unit, (uint32_t)(st.st_size / unit), 0xff,
					EKV_FILE_RDONLY, &f);
	}
	if (e < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, name, msg[0] ? msg : ekv_strerror(e));
		return EXIT_IO;
	}
	unsigned fixed = 0;
	static const struct { enum setting_id s; unsigned bit; } map[] = {
		{S_PAGE_SIZE, EKV_PROBE_PAGE_SIZE}, {S_ALIGN, EKV_PROBE_ALIGN},
		{S_ERASE_VALUE, EKV_PROBE_ERASE_VALUE}, {S_CRC, EKV_PROBE_CRC},
		{S_MAX_PAGE_COUNT, EKV_PROBE_MAX_PAGE_COUNT}, {S_MAX_CHUNK, EKV_PROBE_MAX_CHUNK_SIZE},
		{S_BF, EKV_PROBE_BRANCHING_FACTOR}, {S_MAX_KEY, EKV_PROBE_MAX_KEY_SIZE},
		{S_MAX_VALUE, EKV_PROBE_MAX_VALUE_SIZE},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if ((o->set | o->from_conf) & (1u << map[i].s))
			fixed |= map[i].bit;
	struct ekv_profile hint = o->p;
	if (o->device) {
		/* on a device, a page is an erase block */
		hint.page_size = f->page_size;
		fixed |= EKV_PROBE_PAGE_SIZE;
	}
	struct line_ctx l = {.out = stderr, .quiet = !o->verbose};
	struct ekv_probe_result res;
	e = ekv_probe(f, &hint, fixed, print_line, &l, &res);
	ekv_flash_close(f);
	if (e < 0)
		return fail(e, "probe");
	if (e == 0) {
		fprintf(stderr, "%s: %s: no ekv profile recognised%s\n", prog, name,
			o->verbose ? "" : " (-v says what was tried)");
		return EXIT_NOTFOUND;
	}
	const struct ekv_profile *p = &res.profile;
	struct ekv_profile def;
	ekv_profile_default(&def);
	printf("--page-size %u --max-page-count %u --align %u --erase-value 0x%02X%s "
	       "--max-chunk-size %u --branching-factor %u --max-key-size %u --max-value-size %u",
	       p->page_size, p->max_page_count, p->align, p->erase_value, p->crc ? " --crc" : "",
	       p->max_chunk_size, p->branching_factor, p->max_key_size, p->max_value_size);
	if (p->scratch_page_count != def.scratch_page_count)
		printf(" --scratch-pages %u", p->scratch_page_count);
	putchar('\n');
	if (!o->quiet) {
		bool is_default = p->page_size == def.page_size && p->align == def.align &&
				  p->erase_value == def.erase_value && p->crc == def.crc &&
				  p->max_chunk_size == def.max_chunk_size &&
				  p->branching_factor == def.branching_factor &&
				  p->max_key_size == def.max_key_size &&
				  p->max_value_size == def.max_value_size &&
				  p->max_page_count == (p->page_count > 256 ? p->page_count : 256);
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

