/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * ekvctl — command-line access to an ekv database, made for shell scripts.
 *
 * Parsing and presentation only; every decision about the data lives in
 * libekv (transactions, verification, dump and probe included).  The
 * database a command works on is resolved in one place, open_flash(), from
 * the command line and /etc/ekv.conf.  Exit codes: 0 ok, 1 key not found or
 * damage found, 2 usage, 3 device or I/O error, 4 corrupted, 5 busy, 6 no
 * space.  See ekvctl(1).
 */
#include <argp.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "ekv_test.h" /* the RAM flash, for truncated images */
#include "ekvctl.h"
#include "text.h"



const char *prog = "ekvctl";

/* ---- settings: command-line options that ekv.conf may also give ---------- */


static const char *const setting_names[S_COUNT] = {
	"image", "device", "page-size", "page-count", "max-page-count", "align", "erase-value",
	"crc", "max-chunk-size", "branching-factor", "max-key-size", "max-value-size",
	"scratch-pages", "seed", "wait",
};





/* Apply one setting; msg explains a bad value. */
static int apply_setting(struct opts *o, enum setting_id id, const char *arg, char *msg,
			 size_t msg_size)
{
	uint32_t v = 0;
	int r = conf_apply_profile(&o->p, setting_names[id], arg, msg, msg_size);
	if (r)
		return r < 0 ? -1 : 0;
	switch (id) {
	case S_IMAGE:
		o->image = arg;
		return 0;
	case S_DEVICE:
		o->device = arg;
		return 0;
	case S_WAIT:
		if (!arg) {
			o->wait_ms = -1;
			return 0;
		}
		if (!conf_parse_u32(arg, &v) || v > INT_MAX / 1000)
			goto bad;
		o->wait_ms = (int)(v * 1000);
		return 0;
	default:
		break;
	}
	if (!conf_parse_u32(arg, &v))
		goto bad;
	if (id == S_SEED) {
		o->seed = v;
		o->seed_set = true;
	}
	return 0;
bad:
	snprintf(msg, msg_size, "invalid %s '%s'", setting_names[id], arg ? arg : "");
	return -1;
}

static bool setting_known(const char *key)
{
	for (int i = 0; i < S_COUNT; i++)
		if (!strcmp(key, setting_names[i]))
			return true;
	return false;
}

/*
 * Fill what the command line left open from the config file.  A command line
 * that names its database (--image/--device) without -d does not read the
 * file at all, so the minimal interface works alike on every machine.
 */
static int resolve_config(struct opts *o)
{
	bool target_on_cmdline = o->set & (1u << S_IMAGE | 1u << S_DEVICE);
	if (target_on_cmdline && !o->db_name)
		return 0;
	const char *section = o->db_name ? o->db_name : "default";
	struct conf c;
	char msg[512];
	int e = conf_load(o->conf_path, section, setting_known, &c, msg, sizeof(msg));
	if (e == -ENOENT) {
		if (!o->conf_explicit && !o->db_name)
			return 0;
		fprintf(stderr, "%s: %s: no such configuration file%s%s\n", prog, o->conf_path,
			o->db_name ? " (needed for -d " : "", o->db_name ? o->db_name : "");
		if (o->db_name)
			fputs(")\n", stderr);
		return EXIT_USAGE;
	}
	if (e < 0) {
		fprintf(stderr, "%s: %s\n", prog, msg);
		return EXIT_USAGE;
	}
	if (o->db_name && !c.section_found) {
		fprintf(stderr, "%s: %s: no database [%s]\n", prog, o->conf_path, o->db_name);
		conf_free(&c);
		return EXIT_USAGE;
	}
	int rc = 0;
	for (size_t i = 0; i < c.n && !rc; i++) {
		enum setting_id id = 0;
		while (strcmp(setting_names[id], c.e[i].key))
			id++;
		bool is_target = id == S_IMAGE || id == S_DEVICE;
		if ((o->set & (1u << id)) || (is_target && target_on_cmdline))
			continue;
		free(o->strings[id]);
		o->strings[id] = strdup(c.e[i].value);
		if (!o->strings[id] || apply_setting(o, id, o->strings[id], msg, sizeof(msg)) < 0) {
			fprintf(stderr, "%s: %s:%d: %s\n", prog, o->conf_path, c.e[i].line, msg);
			rc = EXIT_USAGE;
		}
		o->from_conf |= 1u << id;
		if (is_target)
			*(id == S_IMAGE ? &o->device : &o->image) = NULL;
	}
	conf_free(&c);
	return rc;
}

/* ---- errors ----------------------------------------------------------------- */

static int exit_code(int err)
{
	switch (err) {
	case 0:
		return 0;
	case EKV_ENOTFOUND:
		return EXIT_NOTFOUND;
	case EKV_ECORRUPT:
	case EKV_ENOFMT:
		return EXIT_CORRUPT;
	case EKV_EBUSY:
		return EXIT_BUSY;
	case EKV_ENOSPC:
		return EXIT_NOSPC;
	case EKV_EINVAL:
	case EKV_ETOOBIG:
	case EKV_ENOTSORTED:
		return EXIT_USAGE;
	default:
		return EXIT_IO;
	}
}

int fail(int err, const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, ekv_strerror(err));
	return exit_code(err);
}

int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int usage_error(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help' for more information.\n", prog);
	return EXIT_USAGE;
}

/* ---- progress bar (stderr, only on a terminal) ----------------------------- */


void progress_init(struct progress *pg, const struct opts *o, const char *label)
{
	pg->on = !o->quiet && isatty(STDERR_FILENO);
	pg->label = label;
	pg->shown = -1;
}

void progress_cb(void *ctx, uint64_t done, uint64_t total)
{
	struct progress *pg = ctx;
	if (!pg->on || total == 0)
		return;
	int pm = (int)(done * 1000 / total);
	if (pm == pg->shown || (pm - pg->shown < 10 && pm != 1000))
		return;
	pg->shown = pm;
	char bar[41];
	int fill = pm * 40 / 1000;
	for (int i = 0; i < 40; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[40] = 0;
	fprintf(stderr, "\r%s [%s] %3d%%", pg->label, bar, pm / 10);
}

void progress_end(struct progress *pg)
{
	if (pg->on && pg->shown >= 0)
		fprintf(stderr, "\r\033[K");
	pg->shown = -1;
}

/* A flash wrapper that reports progress as pages are read or erased (format
 * reads every page header). */

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
	return pf->inner->ops->lock ? pf->inner->ops->lock(pf->inner->ctx, op, timeout_ms) : 0;
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

/* ---- opening: the one place that turns options into a flash and a profile -- */



/* Read an image into a RAM flash of whole pages (for a truncated image). */
static int load_image(const char *path, uint32_t page_size, uint32_t pages, uint8_t erase_value,
		      struct ekv_flash **out)
{
	int e = ekv_flash_mem_new(page_size, pages, erase_value, out);
	if (e < 0)
		return e;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e = -errno;
		ekv_flash_close(*out);
		return e;
	}
	uint8_t *data = ekv_flash_mem_data(*out);
	size_t want = (size_t)page_size * pages, got = 0;
	while (got < want) {
		ssize_t n = read(fd, data + got, want - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	return 0;
}

static void print_profile(const struct handle *h)
{
	fprintf(stderr,
		"%s: %s %s: page-size %u page-count %u max-page-count %u align %u "
		"erase-value 0x%02X crc %s max-chunk-size %u branching-factor %u "
		"max-key-size %u max-value-size %u scratch-pages %u\n",
		prog, h->is_device ? "device" : "image", h->name, h->p.page_size, h->p.page_count,
		h->p.max_page_count, h->p.align, h->p.erase_value, h->p.crc ? "on" : "off",
		h->p.max_chunk_size, h->p.branching_factor, h->p.max_key_size, h->p.max_value_size,
		h->p.scratch_page_count);
}

int open_flash(struct opts *o, enum open_mode mode, struct handle *h)
{
	char msg[256] = "";
	int e;
	bool ro = mode == OPEN_READ || mode == OPEN_INSPECT;
	memset(h, 0, sizeof(*h));
	h->p = o->p;
	if (!o->image && !o->device)
		return usage_error("no database given: use --image FILE, --device DEV, -d NAME "
				   "or a [default] section in %s", o->conf_path);
	if (o->image && o->device)
		return usage_error("--image and --device exclude each other");
	bool set_pc = (o->set | o->from_conf) & (1u << S_PAGE_COUNT);
	bool set_mpc = (o->set | o->from_conf) & (1u << S_MAX_PAGE_COUNT);
	h->is_device = o->device != NULL;
	h->name = o->device ? o->device : o->image;
	if (o->device) {
		e = ekv_flash_mtd_open(o->device, ro ? EKV_MTD_RDONLY : 0, &h->flash, msg,
				       sizeof(msg));
		if (e < 0) {
			fprintf(stderr, "%s: %s: %s\n", prog, o->device, msg[0] ? msg : ekv_strerror(e));
			return e == EKV_ENOTSUP || e == EKV_EINVAL ? EXIT_USAGE : EXIT_IO;
		}
		bool set_ps = (o->set | o->from_conf) & (1u << S_PAGE_SIZE);
		if (set_ps && h->flash->page_size != h->p.page_size) {
			fprintf(stderr, "%s: %s: --page-size %u differs from the device's erase size %u\n",
				prog, o->device, h->p.page_size, h->flash->page_size);
			ekv_flash_close(h->flash);
			return EXIT_USAGE;
		}
		h->p.page_size = h->flash->page_size;
		if (!set_pc)
			h->p.page_count = h->flash->page_count;
	} else {
		struct stat st;
		bool exists = stat(o->image, &st) == 0;
		if (exists && S_ISDIR(st.st_mode)) {
			fprintf(stderr, "%s: %s: is a directory\n", prog, o->image);
			return EXIT_USAGE;
		}
		if (exists) {
			h->image_size = (uint64_t)st.st_size;
			uint64_t pages = (uint64_t)st.st_size / h->p.page_size;
			if (st.st_size == 0 || (uint64_t)st.st_size % h->p.page_size) {
				if (mode != OPEN_INSPECT || pages == 0) {
					fprintf(stderr,
						"%s: %s: size %lld is not a multiple of the page size %u "
						"(give the image's --page-size, or see 'ekvctl probe')\n",
						prog, o->image, (long long)st.st_size, h->p.page_size);
					return EXIT_USAGE;
				}
				h->truncated = true;
			}
			if (pages > 65535) {
				fprintf(stderr, "%s: %s: %llu pages are more than the format's 65535\n",
					prog, o->image, (unsigned long long)pages);
				return EXIT_USAGE;
			}
			if (set_pc && o->p.page_count != pages && mode != OPEN_INSPECT) {
				fprintf(stderr,
					"%s: %s: --page-count %u differs from the image size "
					"(%llu pages)\n",
					prog, o->image, o->p.page_count, (unsigned long long)pages);
				return EXIT_USAGE;
			}
			if (!set_pc || mode != OPEN_INSPECT)
				h->p.page_count = (uint32_t)pages;
		} else if (mode != OPEN_FORMAT) {
			fprintf(stderr, "%s: %s: %s%s\n", prog, o->image, strerror(errno),
				errno == ENOENT ? " (run 'format' first)" : "");
			return EXIT_IO;
		}
	}
	if (!set_mpc)
		h->p.max_page_count = h->p.page_count > 256 ? h->p.page_count : 256;
	uint32_t flash_pages = h->p.page_count;
	if (ekv_profile_check(&h->p, msg, sizeof(msg)) < 0) {
		/* fsck of an image cut short: check it against the page count
		 * it was made for, and let the check report the missing pages */
		struct ekv_profile q = h->p;
		q.page_count = q.max_page_count;
		if (mode != OPEN_INSPECT || !o->image || ekv_profile_check(&q, NULL, 0) < 0) {
			fprintf(stderr, "%s: invalid profile: %s\n", prog, msg);
			if (h->flash)
				ekv_flash_close(h->flash);
			h->flash = NULL;
			return EXIT_USAGE;
		}
		h->p = q;
		h->truncated = true;
	}
	if (o->verbose)
		print_profile(h);
	if (o->image && (h->truncated || (mode == OPEN_INSPECT && flash_pages < h->p.page_count))) {
		e = load_image(o->image, h->p.page_size, flash_pages, h->p.erase_value, &h->flash);
		if (e < 0) {
			fprintf(stderr, "%s: %s: %s\n", prog, o->image, ekv_strerror(e));
			return EXIT_IO;
		}
	} else if (o->image) {
		unsigned fl = ro ? EKV_FILE_RDONLY : 0;
		if (mode == OPEN_FORMAT)
			fl |= EKV_FILE_CREATE;
		e = ekv_flash_file_open(o->image, h->p.page_size, h->p.page_count, h->p.erase_value,
					fl, &h->flash);
		if (e < 0) {
			fprintf(stderr, "%s: %s: %s\n", prog, o->image, ekv_strerror(e));
			return e == EKV_EINVAL ? EXIT_USAGE : EXIT_IO;
		}
	}
	return 0;
}

/* How long to wait for a database another process holds: a writer fails at
 * once unless --wait is given (like a second fw_setenv); a reader waits a
 * few seconds by default, because writers hold the lock only for the length
 * of one transaction. */
int busy_wait_ms(const struct opts *o, enum open_mode mode)
{
	if ((o->set | o->from_conf) & (1u << S_WAIT))
		return o->wait_ms;
	return mode == OPEN_READ ? READ_WAIT_DEFAULT_MS : 0;
}

/* Does the daemon serve the database these options name? */
static bool remote_serves(const struct opts *o, const struct ekv_remote_info *info)
{
	char want[PATH_MAX + 16], real[PATH_MAX];
	if (o->image)
		snprintf(want, sizeof(want), "image:%s", realpath(o->image, real) ? real : o->image);
	else if (o->device)
		snprintf(want, sizeof(want), "device:%s", o->device);
	else
		return o->db_name && info->name[0] && !strcmp(o->db_name, info->name);
	return !strcmp(want, info->database);
}

/* Open through ekvd: 0 done, -1 open directly instead, >0 an exit code.
 * Without --socket or --direct the daemon is used only when it runs and
 * serves the very database asked for. */
static int open_remote(struct opts *o, enum open_mode mode, struct handle *h)
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
	co.read_only = mode == OPEN_READ;
	ekv_db *db;
	int e = ekv_connect(path, &co, &db);
	if (e < 0)
		return o->socket_forced ? fail(e, path) : -1;
	struct ekv_remote_info info;
	e = ekv_remote_info(db, &info);
	if (e < 0 || (!o->socket_forced && !remote_serves(o, &info))) {
		ekv_close(db);
		return e < 0 && o->socket_forced ? fail(e, path) : -1;
	}
	memset(h, 0, sizeof(*h));
	h->db = db;
	h->p = info.profile;
	h->name = path;
	if (o->verbose)
		fprintf(stderr, "%s: through ekvd at %s serving %s\n", prog, path, info.database);
	return 0;
}

int open_db(struct opts *o, enum open_mode mode, struct handle *h, struct progress *pg)
{
	if (mode != OPEN_INSPECT) {
		int rr = open_remote(o, mode, h);
		if (rr >= 0)
			return rr;
	}
	int r = open_flash(o, mode, h);
	if (r)
		return r;
	struct ekv_flash *f = h->flash;
	if (pg && pg->on) {
		/* report progress through a thin wrapper around the real flash */
		h->pf_ops = (struct ekv_flash_ops){
			.read = pf_read, .write = pf_write, .erase = pf_erase,
			.lock = h->flash->ops->lock ? pf_lock : NULL,
			.change_token = h->flash->ops->change_token ? pf_change_token : NULL,
			.mark_changed = h->flash->ops->mark_changed ? pf_mark_changed : NULL,
		};
		h->pf.f = *h->flash;
		h->pf.f.ops = &h->pf_ops;
		h->pf.f.ctx = &h->pf;
		h->pf.inner = h->flash;
		h->pf.pg = pg;
		f = &h->pf.f;
	}
	struct ekv_options eo;
	ekv_options_default(&eo);
	eo.seed = o->seed;
	eo.seed_set = o->seed_set;
	eo.busy_timeout_ms = busy_wait_ms(o, mode);
	eo.read_only = mode == OPEN_READ;
	int e = ekv_open(f, &h->p, &eo, &h->db);
	if (e < 0) {
		ekv_flash_close(h->flash);
		h->flash = NULL;
		return fail(e, "open");
	}
	return 0;
}

void close_db(struct handle *h)
{
	if (h->db)
		ekv_close(h->db);
	if (h->flash)
		ekv_flash_close(h->flash);
	h->db = NULL;
	h->flash = NULL;
}

/* ---- commands: shared option parsing ------------------------------------- */


enum {
	OPT_IMAGE = 'i',
	OPT_PAGE_SIZE = 1000,
	OPT_PAGE_COUNT,
	OPT_MAX_PAGE_COUNT,
	OPT_ALIGN,
	OPT_ERASE_VALUE,
	OPT_CRC,
	OPT_NO_CRC,
	OPT_MAX_CHUNK,
	OPT_BF,
	OPT_MAX_KEY,
	OPT_MAX_VALUE,
	OPT_SCRATCH,
	OPT_SEED,
	OPT_DEVICE,
	OPT_WAIT,
	OPT_SOCKET = 1900,
	OPT_DIRECT,
	/* command options */
	OPT_HEX = 2000,
	OPT_RAW,
	OPT_JSON,
	OPT_KEYS,
	OPT_MUST_EXIST,
	OPT_HEX_ARGS,
	OPT_FILE,
	OPT_FROM,
	OPT_TO,
	OPT_REPLACE,
	OPT_PAGES,
	OPT_FILES,
	OPT_RECORDS,
};

static const enum setting_id opt_setting[] = {
	[OPT_PAGE_SIZE - OPT_PAGE_SIZE] = S_PAGE_SIZE,
	[OPT_PAGE_COUNT - OPT_PAGE_SIZE] = S_PAGE_COUNT,
	[OPT_MAX_PAGE_COUNT - OPT_PAGE_SIZE] = S_MAX_PAGE_COUNT,
	[OPT_ALIGN - OPT_PAGE_SIZE] = S_ALIGN,
	[OPT_ERASE_VALUE - OPT_PAGE_SIZE] = S_ERASE_VALUE,
	[OPT_CRC - OPT_PAGE_SIZE] = S_CRC,
	[OPT_NO_CRC - OPT_PAGE_SIZE] = S_CRC,
	[OPT_MAX_CHUNK - OPT_PAGE_SIZE] = S_MAX_CHUNK,
	[OPT_BF - OPT_PAGE_SIZE] = S_BF,
	[OPT_MAX_KEY - OPT_PAGE_SIZE] = S_MAX_KEY,
	[OPT_MAX_VALUE - OPT_PAGE_SIZE] = S_MAX_VALUE,
	[OPT_SCRATCH - OPT_PAGE_SIZE] = S_SCRATCH,
	[OPT_SEED - OPT_PAGE_SIZE] = S_SEED,
	[OPT_DEVICE - OPT_PAGE_SIZE] = S_DEVICE,
	[OPT_WAIT - OPT_PAGE_SIZE] = S_WAIT,
};

static struct argp_option global_options[] = {
	{0, 0, 0, 0, "Database:", 1},
	{"config", 'c', "FILE", 0, "Configuration file (default " DEFAULT_CONF ", or $EKV_CONF)", 1},
	{"db", 'd', "NAME", 0, "Database NAME: a [NAME] section of the configuration file "
			       "(default: [default])", 1},
	{"image", OPT_IMAGE, "FILE", 0, "Flash image file", 1},
	{"device", OPT_DEVICE, "DEV", 0, "MTD device (/dev/mtdN or mtd:NAME)", 1},
	{0, 0, 0, 0, "Profile (give the one the database was formatted with):", 2},
	{"page-size", OPT_PAGE_SIZE, "N", 0, "Page (erase block) size (default 4096)", 2},
	{"page-count", OPT_PAGE_COUNT, "N", 0, "Pages (default: image size / page size, else 256)", 2},
	{"max-page-count", OPT_MAX_PAGE_COUNT, "N", 0, "Format bound (default max(256, page count))", 2},
	{"align", OPT_ALIGN, "N", 0, "Write alignment 1, 2 or 4 (default 4)", 2},
	{"erase-value", OPT_ERASE_VALUE, "0xFF|0x00", 0, "Erased byte value (default 0xFF)", 2},
	{"crc", OPT_CRC, 0, 0, "CRC-32 of headers and chunks", 2},
	{"no-crc", OPT_NO_CRC, 0, 0, "No CRC (the default)", 2},
	{"max-chunk-size", OPT_MAX_CHUNK, "N", 0, "Max chunk size (default 4096)", 2},
	{"branching-factor", OPT_BF, "N", 0, "LSM branching factor 2-4 (default 2)", 2},
	{"max-key-size", OPT_MAX_KEY, "N", 0, "Max key size (default 64)", 2},
	{"max-value-size", OPT_MAX_VALUE, "N", 0, "Max value size (default 1024)", 2},
	{"scratch-pages", OPT_SCRATCH, "N", 0, "Free-space reserve pages (default 4)", 2},
	{0, 0, 0, 0, "General:", 3},
	{"script", 's', "FILE", 0, "Apply a key=value script as one transaction (= batch FILE)", 3},
	{"yes", 'y', 0, 0, "Do not ask for confirmation (format)", 3},
	{"verbose", 'v', 0, 0, "Report the options in effect", 3},
	{"quiet", 'q', 0, 0, "No progress bar or notes, only errors", 3},
	{"seed", OPT_SEED, "N", 0, "Allocator seed (default: random)", 3},
	{"socket", OPT_SOCKET, "PATH", 0,
	 "Go through ekvd at PATH; without --socket or --direct, ekvd at $EKV_SOCKET (else "
	 EKV_DEFAULT_SOCKET ") is used when it serves the database asked for", 3},
	{"direct", OPT_DIRECT, 0, 0, "Open the image or device directly, never through ekvd", 3},
	{"wait", OPT_WAIT, "SECONDS", OPTION_ARG_OPTIONAL,
	 "Wait for a busy database (default: writes fail at once, reads wait 5 s; no value: forever)", 3},
	{"help", 'h', 0, 0, "Give this help list", -1},
	{0}};

static error_t parse_global(int key, char *arg, struct argp_state *state)
{
	struct cmd *c = state->input;
	struct opts *o = c->o;
	char msg[256];
	switch (key) {
	case 'c':
		o->conf_path = arg;
		o->conf_explicit = true;
		return 0;
	case 'd':
		o->db_name = arg;
		return 0;
	case 's':
		o->script = arg;
		return 0;
	case 'y':
		o->yes = true;
		return 0;
	case 'v':
		o->verbose = true;
		return 0;
	case 'q':
		o->quiet = true;
		return 0;
	case OPT_SOCKET:
		o->socket = arg;
		o->socket_forced = true;
		return 0;
	case OPT_DIRECT:
		o->direct = true;
		return 0;
	case 'h':
		argp_state_help(state, stdout, ARGP_HELP_STD_HELP);
		return 0;
	case OPT_IMAGE:
		o->image = arg;
		o->device = NULL;
		o->set |= 1u << S_IMAGE;
		return 0;
	default:
		break;
	}
	if (key >= OPT_PAGE_SIZE && key <= OPT_WAIT) {
		enum setting_id id = opt_setting[key - OPT_PAGE_SIZE];
		const char *v = key == OPT_CRC ? "yes" : key == OPT_NO_CRC ? "no" : arg;
		if (apply_setting(o, id, v, msg, sizeof(msg)) < 0)
			argp_error(state, "%s", msg);
		if (id == S_DEVICE)
			o->image = NULL;
		o->set |= 1u << id;
		return 0;
	}
	return ARGP_ERR_UNKNOWN;
}

static error_t parse_command(int key, char *arg, struct argp_state *state)
{
	struct cmd *c = state->input;
	switch (key) {
	case 'n': c->value_only = true; return 0;
	case OPT_HEX: c->hex = true; return 0;
	case OPT_RAW: c->raw = true; return 0;
	case OPT_JSON: c->json = true; return 0;
	case OPT_KEYS: c->keys_only = true; return 0;
	case OPT_MUST_EXIST: c->must_exist = true; return 0;
	case OPT_HEX_ARGS: c->hex_args = true; return 0;
	case OPT_REPLACE: c->replace = true; return 0;
	case OPT_PAGES: c->dump_pages = true; return 0;
	case OPT_FILES: c->dump_files = true; return 0;
	case OPT_RECORDS: c->dump_records = true; return 0;
	case OPT_FILE: c->file = arg; return 0;
	case OPT_FROM: c->from = arg; return 0;
	case OPT_TO: c->to = arg; return 0;
	case ARGP_KEY_ARG: {
		char **a = realloc(c->args, sizeof(*a) * (size_t)(c->nargs + 1));
		if (!a)
			return ENOMEM;
		c->args = a;
		c->args[c->nargs++] = arg;
		return 0;
	}
	case ARGP_KEY_INIT:
		state->child_inputs[0] = c;
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

static const struct argp global_argp = {global_options, parse_global, 0, 0, 0, 0, 0};
static const struct argp_child global_child[] = {{&global_argp, 0, "Global options:", 10}, {0}};

#define O_HEX_ARGS {"hex-args", OPT_HEX_ARGS, 0, 0, "KEY, VALUE and prefix arguments are hex strings ('-' = empty)", 0}

/* ---- key and value arguments ------------------------------------------------ */

static bool arg_bytes(const struct cmd *c, const char *s, struct bytes *out)
{
	if (c->hex_args) {
		if (!parse_hex(s, out)) {
			usage_error("'%s' is not a hex string", s);
			return false;
		}
		return true;
	}
	out->n = 0;
	return bytes_push(out, s, strlen(s)) == 0;
}

static bool read_all(FILE *in, struct bytes *out)
{
	char buf[65536];
	size_t n;
	out->n = 0;
	bytes_push(out, "", 0);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (bytes_push(out, buf, n) < 0)
			return false;
	return !ferror(in);
}

static void print_key_escaped_stderr(const char *what, const uint8_t *k, size_t n)
{
	fprintf(stderr, "%s: ", prog);
	print_escaped(stderr, k, n);
	fprintf(stderr, ": %s\n", what);
}

/* ---- get ------------------------------------------------------------------- */

static int cmd_get(struct cmd *c)
{
	if (c->nargs < 1)
		return usage_error("get: no KEY given");
	if (c->raw && c->nargs != 1)
		return usage_error("get --raw takes exactly one KEY");
	if (c->raw && (c->hex || c->json))
		return usage_error("get: --raw excludes --hex");
	struct handle h;
	int r = open_db(c->o, OPEN_READ, &h, NULL);
	if (r)
		return r;
	ekv_rtx *rtx = NULL;
	uint8_t *val = malloc(h.p.max_value_size + 1);
	struct bytes key = {0};
	int e = val ? ekv_rtx_begin(h.db, &rtx) : EKV_ENOMEM;
	int rc = 0;
	for (int i = 0; e == 0 && i < c->nargs; i++) {
		if (!arg_bytes(c, c->args[i], &key)) {
			rc = EXIT_USAGE;
			break;
		}
		size_t vlen = 0;
		int g = ekv_rtx_get(rtx, key.p, key.n, val, h.p.max_value_size, &vlen);
		if (g == EKV_ENOTFOUND) {
			print_key_escaped_stderr("key not found", key.p, key.n);
			if (!rc)
				rc = EXIT_NOTFOUND;
			continue;
		}
		if (g == EKV_ETOOBIG) {
			print_key_escaped_stderr("key longer than the profile's max key size", key.p,
						 key.n);
			rc = EXIT_USAGE;
			continue;
		}
		if (g < 0) {
			e = g;
			break;
		}
		if (c->raw) {
			fwrite(val, 1, vlen, stdout);
		} else if (c->hex) {
			if (!c->value_only) {
				print_hex(stdout, key.p, key.n);
				putchar(' ');
			}
			print_hex(stdout, val, vlen);
			putchar('\n');
		} else {
			if (!c->value_only) {
				print_escaped(stdout, key.p, key.n);
				putchar('=');
			}
			print_escaped(stdout, val, vlen);
			putchar('\n');
		}
	}
	ekv_rtx_end(rtx);
	close_db(&h);
	free(val);
	bytes_free(&key);
	if (e < 0)
		return fail(e, "get");
	if (fflush(stdout))
		return EXIT_IO;
	return rc;
}

/* ---- writing a set of operations as one transaction --------------------------- */

static int check_sizes(const struct handle *h, const struct opset *s, const char *src)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct op *op = &s->ops[i];
		const char *what = op->key.n > h->p.max_key_size ? "key longer than max-key-size"
				   : op->val.n > h->p.max_value_size ? "value longer than max-value-size"
								      : NULL;
		if (!what)
			continue;
		if (src && op->line)
			fprintf(stderr, "%s: %s:%d: %s (%zu > %u)\n", prog, src, op->line, what,
				op->key.n > h->p.max_key_size ? op->key.n : op->val.n,
				op->key.n > h->p.max_key_size ? h->p.max_key_size
							      : h->p.max_value_size);
		else
			print_key_escaped_stderr(what, op->key.p, op->key.n);
		return EXIT_USAGE;
	}
	return 0;
}

/* Apply a sorted, unique op set atomically. */
static int apply_ops(struct handle *h, const struct opset *s, struct progress *pg,
		     const char *what)
{
	if (s->n == 0)
		return 0;
	ekv_wtx *tx;
	int e = ekv_wtx_begin(h->db, &tx);
	if (e < 0)
		return fail(e, what);
	for (size_t i = 0; i < s->n && e == 0; i++) {
		const struct op *op = &s->ops[i];
		e = op->del ? ekv_wtx_delete(tx, op->key.p, op->key.n)
			    : ekv_wtx_put(tx, op->key.p, op->key.n, op->val.p, op->val.n);
		if (pg)
			progress_cb(pg, i + 1, s->n);
	}
	if (pg)
		progress_end(pg);
	if (e < 0) {
		ekv_wtx_abort(tx);
		return fail(e, what);
	}
	e = ekv_wtx_commit(tx);
	return e < 0 ? fail(e, what) : 0;
}

/* ---- put ------------------------------------------------------------------- */

static int cmd_put(struct cmd *c)
{
	struct opset s = {0};
	int rc = 0;
	bool stdin_used = false;
	if (c->file) {
		if (c->nargs != 1)
			return usage_error("put --file FILE takes exactly one KEY");
	} else if (c->nargs < 2 || c->nargs % 2) {
		return usage_error("usage: put KEY VALUE [KEY VALUE]...  (VALUE '-' reads stdin)");
	}
	for (int i = 0; i < c->nargs && !rc; i += 2) {
		struct op *op = opset_add(&s);
		if (!op || !arg_bytes(c, c->args[i], &op->key)) {
			rc = op ? EXIT_USAGE : fail(EKV_ENOMEM, "put");
			break;
		}
		const char *v = c->file ? NULL : c->args[i + 1];
		if (c->file || !strcmp(v, "-")) {
			FILE *in = stdin;
			if (c->file && strcmp(c->file, "-"))
				in = fopen(c->file, "rbe");
			else if (stdin_used)
				rc = usage_error("put: only one VALUE may be '-' (stdin)");
			stdin_used |= in == stdin;
			if (!rc && !in) {
				fprintf(stderr, "%s: %s: %s\n", prog, c->file, strerror(errno));
				rc = EXIT_IO;
			}
			if (!rc && !read_all(in, &op->val)) {
				fprintf(stderr, "%s: reading the value: %s\n", prog, strerror(errno));
				rc = EXIT_IO;
			}
			if (in && in != stdin)
				fclose(in);
		} else if (!arg_bytes(c, v, &op->val)) {
			rc = EXIT_USAGE;
		}
	}
	struct handle h = {0};
	if (!rc) {
		opset_sort_unique(&s);
		rc = open_db(c->o, OPEN_WRITE, &h, NULL);
	}
	if (!rc)
		rc = check_sizes(&h, &s, NULL);
	if (!rc)
		rc = apply_ops(&h, &s, NULL, "put");
	close_db(&h);
	opset_free(&s);
	return rc;
}

/* ---- delete ---------------------------------------------------------------- */

static int cmd_delete(struct cmd *c)
{
	if (c->nargs < 1)
		return usage_error("delete: no KEY given");
	struct opset s = {0};
	int rc = 0;
	for (int i = 0; i < c->nargs && !rc; i++) {
		struct op *op = opset_add(&s);
		if (!op)
			rc = fail(EKV_ENOMEM, "delete");
		else if (!arg_bytes(c, c->args[i], &op->key))
			rc = EXIT_USAGE;
		else
			op->del = true;
	}
	struct handle h = {0};
	if (!rc) {
		opset_sort_unique(&s);
		rc = open_db(c->o, OPEN_WRITE, &h, NULL);
	}
	if (!rc)
		rc = check_sizes(&h, &s, NULL);
	if (!rc) {
		/* Keys that do not exist are left out: no tombstone is written for
		 * them (flash wear).  The result is the same as deleting them in a
		 * transaction ordered at this snapshot.  --must-exist: all or
		 * nothing. */
		ekv_rtx *rtx = NULL;
		int e = ekv_rtx_begin(h.db, &rtx);
		size_t k = 0;
		for (size_t i = 0; e == 0 && i < s.n; i++) {
			size_t vlen;
			int g = ekv_rtx_get(rtx, s.ops[i].key.p, s.ops[i].key.n, NULL, 0, &vlen);
			if (g == EKV_ENOTFOUND) {
				if (c->must_exist) {
					print_key_escaped_stderr("key not found", s.ops[i].key.p,
								 s.ops[i].key.n);
					rc = EXIT_NOTFOUND;
				}
				bytes_free(&s.ops[i].key);
				bytes_free(&s.ops[i].val);
				continue;
			}
			if (g < 0 && g != EKV_ERANGE)
				e = g;
			if (k != i) {
				s.ops[k] = s.ops[i];
				s.ops[i] = (struct op){0};
			}
			k++;
		}
		if (e == 0)
			s.n = k;
		ekv_rtx_end(rtx);
		if (e < 0)
			rc = fail(e, "delete");
	}
	if (!rc)
		rc = apply_ops(&h, &s, NULL, "delete");
	close_db(&h);
	opset_free(&s);
	return rc;
}

/* ---- list and export ------------------------------------------------------------ */

enum list_style { STYLE_ESCAPED, STYLE_HEX, STYLE_JSON, STYLE_EXPORT };

static int list_pairs(struct cmd *c, enum list_style style, const char *prefix_arg, FILE *out)
{
	struct bytes prefix = {0}, from = {0}, to = {0};
	if ((prefix_arg && !arg_bytes(c, prefix_arg, &prefix)) ||
	    (c->from && !arg_bytes(c, c->from, &from)) || (c->to && !arg_bytes(c, c->to, &to)))
		return EXIT_USAGE;
	struct handle h;
	int r = open_db(c->o, OPEN_READ, &h, NULL);
	if (r)
		return r;
	uint8_t *key = malloc(h.p.max_key_size + 1), *val = malloc(h.p.max_value_size + 1);
	ekv_rtx *rtx = NULL;
	ekv_cursor *cur = NULL;
	int e = key && val ? ekv_rtx_begin(h.db, &rtx) : EKV_ENOMEM;
	if (e == 0)
		e = prefix_arg ? ekv_cursor_open_prefix(rtx, prefix.p, prefix.n, &cur)
			       : ekv_cursor_open(rtx, c->from ? from.p : NULL, from.n,
						 c->to ? to.p : NULL, to.n, &cur);
	if (e == 0 && style == STYLE_JSON)
		fputs("{", out);
	if (e == 0 && style == STYLE_EXPORT)
		fputs("# ekv export v1: key=value, bytes outside printable ASCII as \\xHH\n", out);
	size_t count = 0;
	while (e == 0) {
		size_t kl, vl;
		e = ekv_cursor_next(cur, key, h.p.max_key_size, &kl, val, h.p.max_value_size, &vl);
		if (e <= 0)
			break;
		e = 0;
		switch (style) {
		case STYLE_HEX:
			print_hex(out, key, kl);
			if (!c->keys_only) {
				putc(' ', out);
				print_hex(out, val, vl);
			}
			break;
		case STYLE_JSON:
			fputs(count ? ",\n  " : "\n  ", out);
			print_json_string(out, key, kl);
			fputs(": ", out);
			print_json_string(out, val, vl);
			break;
		case STYLE_EXPORT:
			print_export_escaped(out, key, kl, true);
			putc('=', out);
			if (vl == 0)
				fputs("\"\"", out);
			else
				print_export_escaped(out, val, vl, false);
			break;
		default:
			print_escaped(out, key, kl);
			if (!c->keys_only) {
				putc('=', out);
				print_escaped(out, val, vl);
			}
		}
		if (style != STYLE_JSON)
			putc('\n', out);
		count++;
	}
	if (e == 0 && style == STYLE_JSON)
		fputs(count ? "\n}\n" : "}\n", out);
	ekv_cursor_close(cur);
	ekv_rtx_end(rtx);
	close_db(&h);
	free(key);
	free(val);
	bytes_free(&prefix);
	bytes_free(&from);
	bytes_free(&to);
	if (e < 0)
		return fail(e, c->name);
	if (fflush(out) || ferror(out)) {
		fprintf(stderr, "%s: %s: write error\n", prog, c->name);
		return EXIT_IO;
	}
	return 0;
}

static int cmd_list(struct cmd *c)
{
	if (c->nargs > 1)
		return usage_error("list: more than one PREFIX");
	if (c->nargs == 1 && (c->from || c->to))
		return usage_error("list: give a PREFIX or --from/--to, not both");
	if (c->hex + c->json > 1)
		return usage_error("list: --hex and --json exclude each other");
	enum list_style st = c->hex ? STYLE_HEX : c->json ? STYLE_JSON : STYLE_ESCAPED;
	return list_pairs(c, st, c->nargs ? c->args[0] : NULL, stdout);
}

static int cmd_export(struct cmd *c)
{
	if (c->nargs > 1)
		return usage_error("export: more than one FILE");
	FILE *out = stdout;
	const char *path = c->nargs ? c->args[0] : NULL;
	if (path && strcmp(path, "-")) {
		out = fopen(path, "we");
		if (!out) {
			fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
			return EXIT_IO;
		}
	}
	int rc = list_pairs(c, c->json ? STYLE_JSON : STYLE_EXPORT, NULL, out);
	if (out != stdout && fclose(out) && !rc) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		rc = EXIT_IO;
	}
	return rc;
}

/* ---- batch, -s, import ---------------------------------------------------------- */


/* Parse a whole script or JSON input, then apply it as one transaction. */
static int apply_input(struct cmd *c, const char *path, bool json, bool replace)
{
	const char *name = path && strcmp(path, "-") ? path : "<stdin>";
	FILE *in = path && strcmp(path, "-") ? fopen(path, "re") : stdin;
	if (!in) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return EXIT_IO;
	}
	struct opset s = {0};
	char msg[200];
	int line = 0, rc = 0;
	bool ok = json ? parse_json(in, &s, &line, msg, sizeof(msg))
		       : parse_script(in, &s, &line, msg, sizeof(msg));
	if (in != stdin)
		fclose(in);
	if (!ok) {
		fprintf(stderr, "%s: %s:%d: %s; nothing applied\n", prog, name, line, msg);
		opset_free(&s);
		return EXIT_USAGE;
	}
	struct handle h = {0};
	struct progress pg;
	progress_init(&pg, c->o, c->name);
	rc = open_db(c->o, OPEN_WRITE, &h, NULL);
	if (!rc && replace) {
		/* every key not in the input is deleted in the same transaction;
		 * the input's own ops come later, so they win */
		struct opset all = {0};
		uint8_t *key = malloc(h.p.max_key_size + 1), *val = malloc(h.p.max_value_size + 1);
		ekv_rtx *rtx = NULL;
		ekv_cursor *cur = NULL;
		int e = key && val ? ekv_rtx_begin(h.db, &rtx) : EKV_ENOMEM;
		if (e == 0)
			e = ekv_cursor_open(rtx, NULL, 0, NULL, 0, &cur);
		while (e == 0) {
			size_t kl, vl;
			e = ekv_cursor_next(cur, key, h.p.max_key_size, &kl, val, h.p.max_value_size,
					    &vl);
			if (e <= 0)
				break;
			e = 0;
			struct op *op = opset_add(&all);
			if (!op || bytes_push(&op->key, key, kl) < 0)
				e = EKV_ENOMEM;
			else
				op->del = true;
		}
		ekv_cursor_close(cur);
		ekv_rtx_end(rtx);
		free(key);
		free(val);
		for (size_t i = 0; e == 0 && i < s.n; i++) {
			struct op *op = opset_add(&all);
			if (!op) {
				e = EKV_ENOMEM;
				break;
			}
			size_t order = op->order;
			*op = s.ops[i];
			op->order = order;
			s.ops[i] = (struct op){0};
		}
		opset_free(&s);
		s = all;
		if (e < 0)
			rc = fail(e, c->name);
	}
	if (!rc) {
		opset_sort_unique(&s);
		rc = check_sizes(&h, &s, name);
	}
	if (!rc)
		rc = apply_ops(&h, &s, &pg, c->name);
	if (!rc && c->o->verbose)
		fprintf(stderr, "%s: %s: %zu keys written in one transaction\n", prog, name, s.n);
	close_db(&h);
	opset_free(&s);
	return rc;
}

static int cmd_batch(struct cmd *c)
{
	if (c->nargs != 1)
		return usage_error("usage: batch [--hex] FILE|-");
	if (c->hex)
		return run_hex_batch(c->o, c->args[0]);
	return apply_input(c, c->args[0], false, false);
}

static int cmd_import(struct cmd *c)
{
	if (c->nargs > 1)
		return usage_error("import: more than one FILE");
	return apply_input(c, c->nargs ? c->args[0] : NULL, c->json, c->replace);
}

/* ---- format ------------------------------------------------------------------ */

static int cmd_format(struct cmd *c)
{
	if (c->nargs)
		return usage_error("format: unexpected argument '%s'", c->args[0]);
	struct progress pg;
	progress_init(&pg, c->o, "format");
	struct handle h;
	int r = open_db(c->o, OPEN_FORMAT, &h, &pg);
	if (r)
		return r;
	if (h.is_device && !c->o->yes && isatty(STDIN_FILENO)) {
		fprintf(stderr, "%s: erase and format %s (%u pages of %u bytes)? [y/N] ", prog,
			h.name, h.p.page_count, h.p.page_size);
		char answer[16] = "";
		if (!fgets(answer, sizeof(answer), stdin) || (answer[0] != 'y' && answer[0] != 'Y')) {
			fprintf(stderr, "%s: not formatted\n", prog);
			close_db(&h);
			return EXIT_NOTFOUND;
		}
	}
	int e = ekv_format(h.db);
	progress_end(&pg);
	close_db(&h);
	return e < 0 ? fail(e, "format") : 0;
}

/* ---- the command table ------------------------------------------------------------ */

static struct argp_option get_options[] = {
	{"value-only", 'n', 0, 0, "Print the value alone (like fw_printenv -n)", 0},
	{"hex", OPT_HEX, 0, 0, "Print HEXKEY HEXVALUE ('-' for empty)", 0},
	{"raw", OPT_RAW, 0, 0, "Write exactly the value bytes: no key, no newline (one KEY)", 0},
	O_HEX_ARGS,
	{0}};
static struct argp_option put_options[] = {
	{"file", OPT_FILE, "FILE", 0, "Read the value of the one KEY from FILE ('-' = stdin)", 0},
	O_HEX_ARGS,
	{0}};
static struct argp_option delete_options[] = {
	{"must-exist", OPT_MUST_EXIST, 0, 0, "Exit 1 and delete nothing if a KEY does not exist", 0},
	O_HEX_ARGS,
	{0}};
static struct argp_option list_options[] = {
	{"hex", OPT_HEX, 0, 0, "Print HEXKEY HEXVALUE lines ('-' for empty)", 0},
	{"json", OPT_JSON, 0, 0, "Print one JSON object", 0},
	{"keys", OPT_KEYS, 0, 0, "Print keys only", 0},
	{"from", OPT_FROM, "KEY", 0, "Start at KEY (inclusive)", 0},
	{"to", OPT_TO, "KEY", 0, "End before KEY (exclusive)", 0},
	O_HEX_ARGS,
	{0}};
static struct argp_option batch_options[] = {
	{"hex", OPT_HEX, 0, 0, "The input is a hex workload script (w/d/begin/commit lines)", 0},
	{0}};
static struct argp_option export_options[] = {
	{"json", OPT_JSON, 0, 0, "Write JSON instead of the key=value text format", 0},
	{0}};
static struct argp_option import_options[] = {
	{"json", OPT_JSON, 0, 0, "Read JSON instead of the key=value text format", 0},
	{"replace", OPT_REPLACE, 0, 0, "Delete every key the input does not have (same transaction)", 0},
	{0}};
static struct argp_option dump_options[] = {
	{"pages", OPT_PAGES, 0, 0, "Every page: header, chunks, meta log", 0},
	{"files", OPT_FILES, 0, 0, "Every file of the newest state: its chain of pages", 0},
	{"records", OPT_RECORDS, 0, 0, "Every record of every file", 0},
	{0}};
static struct argp_option no_options[] = {{0}};

struct command {
	const char *name;
	const char *args_doc;
	const char *doc;
	struct argp_option *options;
	int (*run)(struct cmd *c);
};

static const struct command commands[] = {
	{"get", "KEY...", "Print KEY=VALUE for each KEY (exit 1 if one is missing; the others are "
			  "printed)", get_options, cmd_get},
	{"put", "KEY VALUE [KEY VALUE]...", "Write the pairs in one atomic transaction (sorted by "
					    "key; the last of a repeated KEY wins; VALUE '-' reads "
					    "stdin)", put_options, cmd_put},
	{"delete", "KEY...", "Delete the keys in one transaction (a missing key is not an error "
			     "unless --must-exist)", delete_options, cmd_delete},
	{"list", "[PREFIX]", "Print every pair in key order (or those starting with PREFIX, or "
			     "in [--from, --to))", list_options, cmd_list},
	{"batch", "FILE|-", "Apply a key=value script as one atomic transaction ('#' comments, "
			    "'key=' deletes); a bad line applies nothing", batch_options, cmd_batch},
	{"export", "[FILE]", "Write every pair in the export format (or JSON) to FILE or stdout",
	 export_options, cmd_export},
	{"import", "[FILE]", "Read pairs in the export format (or JSON) from FILE or stdin, one "
			     "transaction", import_options, cmd_import},
	{"format", "", "Erase and format (an image is created if missing); asks on a terminal for "
		       "a device unless --yes", no_options, cmd_format},
	{"stat", "", "Geometry, profile, pages used and free, files per level", no_options,
	 cmd_stat},
	{"dump", "", "Print pages, files and records for debugging", dump_options, cmd_dump},
	{"fsck", "", "Verify every page, chunk, CRC, file and record; exit 1 on damage",
	 no_options, cmd_fsck},
	{"probe", "", "Recognise the profile of an image or device and print the options to use",
	 no_options, cmd_probe},
	{"devices", "", "List MTD devices", no_options, cmd_devices},
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static int run_command(struct opts *o, const struct command *cm, int argc, char **argv)
{
	struct cmd c = {.o = o, .name = cm->name};
	char progname[64];
	snprintf(progname, sizeof(progname), "%s %s", prog, cm->name);
	argv[0] = progname;
	struct argp argp = {cm->options, parse_command, cm->args_doc, cm->doc, global_child, 0, 0};
	int rc = argp_parse(&argp, argc, argv, 0, NULL, &c);
	if (rc == 0)
		rc = resolve_config(o);
	if (rc == 0)
		rc = cm->run(&c);
	else if (rc != EXIT_USAGE)
		rc = EXIT_USAGE;
	free(c.args);
	return rc;
}

/* ---- main --------------------------------------------------------------------------- */

static const char doc[] =
	"Read and write an ekv key-value database on a flash image or MTD device.\v"
	"Commands (each has --help):\n"
	"  get [-n] [--hex|--raw] KEY...   print KEY=VALUE (-n: the value alone)\n"
	"  put KEY VALUE [KEY VALUE]...    write pairs in one transaction ('-' = stdin)\n"
	"  delete [--must-exist] KEY...    delete keys in one transaction\n"
	"  list [--hex|--json] [PREFIX]    all pairs in key order\n"
	"  batch [--hex] FILE|-            apply a key=value script atomically (also -s FILE)\n"
	"  export [--json] [FILE]          write all pairs in a format import reads back\n"
	"  import [--json] [FILE]          read pairs, one transaction\n"
	"  format                          erase and format\n"
	"  stat | dump | fsck | probe      inspect, verify, recognise the profile\n"
	"  devices                         list MTD devices\n"
	"\n"
	"The database is --image FILE, --device DEV, or a [NAME] section of " DEFAULT_CONF
	" chosen with -d NAME ([default] without -d).\n"
	"Exit status: 0 ok, 1 key not found or damage found, 2 usage, 3 device or I/O error,\n"
	"4 corrupted or not formatted, 5 busy, 6 no space.  See ekvctl(1).";

const char *argp_program_version = "ekvctl " EKV_VERSION;

static error_t parse_top(int key, char *arg, struct argp_state *state)
{
	struct cmd *c = state->input;
	(void)arg;
	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = c;
		return 0;
	case ARGP_KEY_ARG:
		/* the command: everything from here on is the command's */
		c->args = &state->argv[state->next - 1];
		c->nargs = state->argc - state->next + 1;
		state->next = state->argc;
		return 0;
	case ARGP_KEY_NO_ARGS:
		if (!c->o->script)
			argp_error(state, "no command given");
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

int main(int argc, char **argv)
{
	struct opts o;
	memset(&o, 0, sizeof(o));
	ekv_profile_default(&o.p);
	o.wait_ms = 0;
	o.conf_path = getenv("EKV_CONF");
	o.conf_explicit = o.conf_path && *o.conf_path;
	if (!o.conf_explicit)
		o.conf_path = DEFAULT_CONF;
	argp_err_exit_status = EXIT_USAGE;
	struct cmd top = {.o = &o};
	struct argp argp = {0, parse_top, "COMMAND [ARG...]", doc, global_child, 0, 0};
	if (argp_parse(&argp, argc, argv, ARGP_IN_ORDER, NULL, &top))
		return EXIT_USAGE;
	int rc;
	if (o.script) {
		if (top.nargs)
			return usage_error("-s FILE takes no command ('%s' given)", top.args[0]);
		struct cmd c = {.o = &o, .name = "batch"};
		rc = resolve_config(&o);
		if (!rc)
			rc = apply_input(&c, o.script, false, false);
	} else {
		const char *name = top.args[0];
		const struct command *cm = NULL;
		for (size_t i = 0; i < N_COMMANDS; i++)
			if (!strcmp(commands[i].name, name))
				cm = &commands[i];
		if (!cm)
			return usage_error("unknown command '%s'", name);
		rc = run_command(&o, cm, top.nargs, top.args);
	}
	for (int i = 0; i < S_COUNT; i++)
		free(o.strings[i]);
	return rc;
}
