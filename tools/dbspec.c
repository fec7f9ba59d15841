/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * dbspec.c — which flash, which profile (see dbspec.h): the open path
 * ekvctl and ekvd share.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dbspec.h"

static int say(char *msg, size_t msg_size, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int say(char *msg, size_t msg_size, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, msg_size, fmt, ap);
	va_end(ap);
	return err;
}

/* ---- an image read into RAM (inspection of an image cut short) -------------- */

/* A RAM copy of an image; the flash over it is read-only, so that nothing
 * but the read path is used (write and erase change only the copy). */
struct image_copy {
	uint8_t *data;
	uint32_t page_size;
	uint8_t erase_value;
};

static uint8_t *copy_at(void *ctx, uint32_t page, uint32_t off)
{
	struct image_copy *c = ctx;
	return c->data + (size_t)page * c->page_size + off;
}

static int copy_read(void *ctx, uint32_t page, uint32_t off, void *buf, uint32_t len)
{
	memcpy(buf, copy_at(ctx, page, off), len);
	return 0;
}

static int copy_write(void *ctx, uint32_t page, uint32_t off, const void *buf, uint32_t len)
{
	memcpy(copy_at(ctx, page, off), buf, len);
	return 0;
}

static int copy_erase(void *ctx, uint32_t page)
{
	struct image_copy *c = ctx;
	memset(copy_at(ctx, page, 0), c->erase_value, c->page_size);
	return 0;
}

static void copy_destroy(void *ctx)
{
	struct image_copy *c = ctx;
	free(c->data);
	free(c);
}

static const struct ekv_flash_ops copy_ops = {
	.read = copy_read, .write = copy_write, .erase = copy_erase, .destroy = copy_destroy,
};

/* The first `pages` whole pages of an image (what is missing reads erased),
 * as a read-only flash. */
static int load_image(const char *path, const struct ekv_profile *p, uint32_t pages,
		      struct ekv_flash **out)
{
	size_t size = (size_t)p->page_size * pages;
	struct ekv_flash *f = calloc(1, sizeof(*f));
	struct image_copy *c = calloc(1, sizeof(*c));
	uint8_t *data = malloc(size ? size : 1);
	if (!f || !c || !data) {
		free(f);
		free(c);
		free(data);
		return EKV_ENOMEM;
	}
	memset(data, p->erase_value, size);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = -errno;
		free(f);
		free(c);
		free(data);
		return e;
	}
	size_t got = 0;
	while (got < size) {
		ssize_t n = read(fd, data + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	*c = (struct image_copy){data, p->page_size, p->erase_value};
	*f = (struct ekv_flash){.ops = &copy_ops, .ctx = c, .page_size = p->page_size,
				.page_count = pages, .write_size = 1,
				.erase_value = p->erase_value, .read_only = true};
	*out = f;
	return 0;
}

/* ---- the open path ------------------------------------------------------------------ */

/* A device: its erase block is the page, its size the page count. */
static int open_device(const struct settings *s, enum dbspec_mode mode, struct dbspec *d,
		       char *msg, size_t msg_size)
{
	char why[256] = "";
	bool ro = mode == DBSPEC_READ || mode == DBSPEC_INSPECT;
	int e = ekv_flash_mtd_open(s->device, ro ? EKV_MTD_RDONLY : 0, &d->flash, why,
				   sizeof(why));
	if (e < 0)
		return say(msg, msg_size, e, "%s: %s", s->device, why[0] ? why : ekv_strerror(e));
	if (settings_given(s, SET_FIELD(page_size)) && d->flash->page_size != d->p.page_size)
		return say(msg, msg_size, EKV_EINVAL,
			   "%s: --page-size %u differs from the device's erase size %u", s->device,
			   d->p.page_size, d->flash->page_size);
	d->p.page_size = d->flash->page_size;
	if (!settings_given(s, SET_FIELD(page_count)))
		d->p.page_count = d->flash->page_count;
	return 0;
}

/* An image: the page count is its size in pages. */
static int size_image(const struct settings *s, enum dbspec_mode mode, struct dbspec *d,
		      char *msg, size_t msg_size)
{
	struct stat st;
	if (stat(s->image, &st) != 0) {
		if (mode == DBSPEC_CREATE && errno == ENOENT) {
			d->created = true;
			return 0;
		}
		return say(msg, msg_size, -errno, "%s: %s%s", s->image, strerror(errno),
			   errno == ENOENT ? " (run 'format' first)" : "");
	}
	if (S_ISDIR(st.st_mode))
		return say(msg, msg_size, EKV_EINVAL, "%s: is a directory", s->image);
	d->image_size = (uint64_t)st.st_size;
	uint64_t pages = d->image_size / d->p.page_size;
	if (d->image_size == 0 || d->image_size % d->p.page_size) {
		if (mode != DBSPEC_INSPECT || pages == 0)
			return say(msg, msg_size, EKV_EINVAL,
				   "%s: size %llu is not a multiple of the page size %u (give the "
				   "image's --page-size, or see 'ekvctl probe')",
				   s->image, (unsigned long long)d->image_size, d->p.page_size);
		d->truncated = true;
	}
	if (pages > 65535)
		return say(msg, msg_size, EKV_EINVAL,
			   "%s: %llu pages are more than the format's 65535", s->image,
			   (unsigned long long)pages);
	bool given = settings_given(s, SET_FIELD(page_count));
	if (given && d->p.page_count != pages && mode != DBSPEC_INSPECT)
		return say(msg, msg_size, EKV_EINVAL,
			   "%s: --page-count %u differs from the image size (%llu pages)",
			   s->image, d->p.page_count, (unsigned long long)pages);
	/* fsck of an image cut short checks it against the given page count */
	if (!given || mode != DBSPEC_INSPECT)
		d->p.page_count = (uint32_t)pages;
	return 0;
}

int dbspec_open(const struct settings *s, enum dbspec_mode mode, struct dbspec *d, char *msg,
		size_t msg_size)
{
	memset(d, 0, sizeof(*d));
	d->p = s->p;
	d->layout = 1;
	if (!s->image && !s->device) {
		if (s->section_found)
			return say(msg, msg_size, EKV_EINVAL,
				   "%s: section [%s] names no image or device", s->conf_path,
				   s->db_name ? s->db_name : "default");
		return say(msg, msg_size, EKV_EINVAL,
			   "no database given: use --image FILE, --device DEV, -d NAME or a "
			   "[default] section in %s",
			   s->conf_path);
	}
	d->is_device = s->device != NULL;
	d->name = s->device ? s->device : s->image;
	int e = s->device ? open_device(s, mode, d, msg, msg_size)
			  : size_image(s, mode, d, msg, msg_size);
	if (e < 0) {
		dbspec_close(d);
		return e;
	}
	if (!settings_given(s, SET_FIELD(max_page_count))) {
		uint32_t floor = ekv_pf_table[EKV_PF_max_page_count].def;
		d->p.max_page_count = d->p.page_count > floor ? d->p.page_count : floor;
	}
	uint32_t flash_pages = d->p.page_count;
	char why[256];
	if (ekv_profile_check(&d->p, why, sizeof(why)) < 0) {
		/* fsck of an image cut short: check it against the page count
		 * it was made for, and let the check report the missing pages */
		struct ekv_profile q = d->p;
		q.page_count = q.max_page_count;
		if (mode != DBSPEC_INSPECT || d->is_device || ekv_profile_check(&q, NULL, 0) < 0) {
			dbspec_close(d);
			return say(msg, msg_size, EKV_EINVAL, "invalid profile: %s", why);
		}
		d->p = q;
		d->truncated = true;
	}
	if (d->is_device)
		return 0;
	if (d->truncated || (mode == DBSPEC_INSPECT && flash_pages < d->p.page_count))
		e = load_image(s->image, &d->p, flash_pages, &d->flash);
	else
		e = ekv_flash_file_open(s->image, d->p.page_size, d->p.page_count, d->p.erase_value,
					mode == DBSPEC_CREATE  ? EKV_FILE_CREATE
					: mode == DBSPEC_WRITE ? 0
							       : EKV_FILE_RDONLY,
					&d->flash);
	if (e < 0)
		return say(msg, msg_size, e, "%s: %s", s->image, ekv_strerror(e));
	return 0;
}

int dbspec_open_unknown(const struct settings *s, struct dbspec *d, char *msg, size_t msg_size)
{
	memset(d, 0, sizeof(*d));
	d->p = s->p;
	d->layout = 1;
	d->is_device = s->device != NULL;
	d->name = s->device ? s->device : s->image;
	if (!d->name)
		return say(msg, msg_size, EKV_EINVAL, "give --image FILE or --device DEV");
	char why[256] = "";
	int e;
	if (s->device) {
		e = ekv_flash_mtd_open(s->device, EKV_MTD_RDONLY, &d->flash, why, sizeof(why));
		if (e == 0)
			d->p.page_size = d->flash->page_size;
	} else {
		struct stat st;
		if (stat(s->image, &st) < 0)
			return say(msg, msg_size, -errno, "%s: %s", s->image, strerror(errno));
		d->image_size = (uint64_t)st.st_size;
		uint32_t unit = 65536;
		while (unit >= 128 && (d->image_size % unit || d->image_size / unit > 65536))
			unit /= 2;
		if (unit < 128 || d->image_size == 0)
			return say(msg, msg_size, EKV_ENOFMT,
				   "%s: size %llu is not a multiple of 128 bytes", s->image,
				   (unsigned long long)d->image_size);
		d->p.page_size = unit;
		e = ekv_flash_file_open(s->image, unit, (uint32_t)(d->image_size / unit), 0xff,
					EKV_FILE_RDONLY, &d->flash);
	}
	if (e < 0)
		return say(msg, msg_size, e, "%s: %s", d->name, why[0] ? why : ekv_strerror(e));
	return 0;
}

void dbspec_close(struct dbspec *d)
{
	ekv_flash_close(d->flash);
	d->flash = NULL;
}

void dbspec_describe(const struct settings *s, char *buf, size_t size)
{
	char real[PATH_MAX];
	if (s->image)
		snprintf(buf, size, "image:%s", realpath(s->image, real) ? real : s->image);
	else if (s->device)
		snprintf(buf, size, "device:%s", s->device);
	else
		snprintf(buf, size, "none");
}

void dbspec_options(const struct settings *s, struct ekv_options *eo)
{
	eo->seed = s->seed;
	eo->seed_set = settings_given(s, SET_SEED);
	eo->on_damage = s->on_damage;
}
