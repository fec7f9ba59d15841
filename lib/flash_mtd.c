/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * flash_mtd.c — the Linux MTD backend: ekv_flash_mtd_open().
 *
 * Owns: turning "/dev/mtdN", "/dev/mtdNro" or "mtd:NAME" into a struct
 * ekv_flash whose ops read (pread), program (pwrite) and erase (MEMERASE) one
 * MTD character device, refusing geometries the on-disk format cannot serve,
 * and the inter-process lock op on /run/lock/ekv/mtdN.lock (N = the canonical
 * MTD index, so every spelling of one device shares one lock).
 *
 * Must never: print (what a return code cannot say goes to the flash's
 * log callback), link libmtd (a non-PIC static archive; this file goes into
 * libekv.so), keep global mutable state, abort/assert on anything read from
 * the device or sysfs, write outside the requested range, or touch the
 * device before the geometry has been checked.  Uses only libc and the
 * kernel's <mtd/mtd-user.h>.  Every op is thread-safe: the context is
 * immutable after open and all I/O is positional (pread/pwrite/ioctl).
 *
 * Change detection between processes (docs/DESIGN.md §4): the change token
 * is a 64-bit commit counter in the first 8 bytes of the lock file (little
 * endian; an empty file reads 0), incremented by mark_changed.  So a
 * writable opening needs the lock file open for writing: if it cannot be
 * (someone else's 0644 file), the open fails with EKV_EPERM rather than
 * leave other processes with stale state.  /run is a tmpfs: the counter
 * restarts at boot, with no handles.  Tools that write the device without
 * libekv (flashcp, dd) do not count commits.
 *
 * The lock directory is /run/lock/ekv whenever /run/lock exists (or can be
 * made); only a system without it uses /tmp/ekv-lock.  Every process must
 * pick the same file, so there is no per-process fallback.
 *
 * Semantics worth knowing: opening the read-only node /dev/mtdNro implies
 * EKV_MTD_RDONLY.  The lock is flock() on ONE fd per flash object, so it is
 * per handle, not per thread; how the handle counts its holders and what a
 * shared -> exclusive conversion does is in docs/DESIGN.md §4.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <mtd/mtd-user.h>

#include "ekv.h"
#include "lock_fd.h"
#include "flash.h"
#include "util.h"

#define MTD_CHAR_MAJOR 90
#define MTD_SYSFS "/sys/class/mtd"
#define MTD_MAX_ALIGN 4u           /* largest profile align the format has */
#define MTD_MAX_PAGE_SIZE 65536u   /* 16-bit page payload offsets */
#define MTD_MAX_PAGES 65535u       /* 16-bit page ids */
#define LOCK_DIR "/run/lock/ekv"
#define LOCK_DIR_FALLBACK "/tmp/ekv-lock"
#define KERNEL_ENOTSUPP 524        /* kernel-internal "not supported" */

struct mtd_ctx {
	int fd;                  /* the MTD character device */
	int lock_fd;             /* the lock file (process lock; commit counter) */
	struct lock_fd lock;     /* on lock_fd (lock_fd.h) */
	int index;               /* canonical MTD index */
	unsigned flags;          /* EKV_MTD_* */
	bool read_only;
	uint32_t erasesize;
	uint32_t page_count;
	char name[64];           /* "mtdN" for messages */
	const struct ekv_flash *flash; /* its log: what a return code cannot say */
};

static void set_msg(char *msg, size_t msg_size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_msg(char *msg, size_t msg_size, const char *fmt, ...)
{
	va_list ap;

	if (msg == NULL || msg_size == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, msg_size, fmt, ap);
	va_end(ap);
}

/* A line for the flash's log, if it has one (the library never prints). */
static void tell(const struct mtd_ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void tell(const struct mtd_ctx *c, const char *fmt, ...)
{
	char line[256];
	va_list ap;

	if (c->flash == NULL || c->flash->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	c->flash->log(c->flash->log_ctx, line);
}

/* errno of a failed syscall as a negative EKV code. */
static int err_code(int e)
{
	if (e == KERNEL_ENOTSUPP || e == EOPNOTSUPP)
		return EKV_ENOTSUP;
	if (e <= 0)
		return EKV_EIO;
	return -e;
}

/* ---- sysfs helpers ---------------------------------------------------------- */

/* Read a one-line sysfs attribute of mtdN into buf (newline stripped). */
static int sysfs_read(int index, const char *attr, char *buf, size_t size)
{
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, MTD_SYSFS "/mtd%d/%s", index, attr);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	do
		n = read(fd, buf, size - 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n < 0)
		return -EIO;
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	return 0;
}

static int sysfs_u64(int index, const char *attr, uint64_t *out)
{
	char buf[64], *end;
	unsigned long long v;

	if (sysfs_read(index, attr, buf, sizeof buf) < 0)
		return -1;
	errno = 0;
	v = strtoull(buf, &end, 0);
	if (errno != 0 || end == buf)
		return -1;
	*out = v;
	return 0;
}

/* Parse "mtd<digits>" exactly (not "mtd3ro"); -1 otherwise. */
static int parse_mtd_entry(const char *s)
{
	long v = 0;

	if (strncmp(s, "mtd", 3) != 0 || !isdigit((unsigned char)s[3]))
		return -1;
	for (s += 3; *s; s++) {
		if (!isdigit((unsigned char)*s) || v > 1000000)
			return -1;
		v = v * 10 + (*s - '0');
	}
	return (int)v;
}

/* Resolve an MTD name to its index (lowest index on duplicates). */
static int resolve_name(const char *name, char *msg, size_t msg_size)
{
	char buf[256];
	struct dirent *de;
	int best = -1;
	DIR *d;

	d = opendir(MTD_SYSFS);
	if (d == NULL) {
		int e = errno;
		set_msg(msg, msg_size, "mtd:%s: cannot list " MTD_SYSFS ": %s%s", name, strerror(e),
			e == ENOENT ? " (no MTD support in this kernel?)" : "");
		return e == ENOENT ? -ENOENT : err_code(e);
	}
	while ((de = readdir(d)) != NULL) {
		int idx = parse_mtd_entry(de->d_name); /* skips the mtdNro entries */

		if (idx < 0 || (best >= 0 && idx >= best))
			continue;
		if (sysfs_read(idx, "name", buf, sizeof buf) == 0 && strcmp(buf, name) == 0)
			best = idx;
	}
	closedir(d);
	if (best < 0) {
		set_msg(msg, msg_size, "mtd:%s: no MTD device of that name in " MTD_SYSFS "/*/name",
			name);
		return -ENOENT;
	}
	return best;
}

/* ---- ops ---------------------------------------------------------------------- */

static int check_range(const struct mtd_ctx *c, uint32_t page, uint32_t offset, uint32_t len)
{
	if (page >= c->page_count || offset > c->erasesize || len > c->erasesize - offset)
		return EKV_EINVAL;
	return 0;
}

/* A failed pread_full/pwrite_full as an EKV code. */
static int io_code(int r)
{
	return r < 0 ? err_code(-r) : 0;
}

static int mtd_read(void *ctx, uint32_t page, uint32_t offset, void *buf, uint32_t len)
{
	const struct mtd_ctx *c = ctx;
	int r = check_range(c, page, offset, len);

	if (r < 0)
		return r;
	return io_code(pread_full(c->fd, buf, len, (off_t)page * c->erasesize + offset));
}

/* EKV_MTD_VERIFY_ERASED: every byte of the target range must read 0xFF. */
static int verify_erased(const struct mtd_ctx *c, off_t off, uint32_t len)
{
	uint8_t chunk[512];

	while (len > 0) {
		uint32_t n = len < sizeof chunk ? len : (uint32_t)sizeof chunk;
		int r = io_code(pread_full(c->fd, chunk, n, off));

		if (r < 0)
			return r;
		for (uint32_t i = 0; i < n; i++) {
			if (chunk[i] != 0xFF) {
				tell(c, "%s: program of a non-erased byte at offset %lld "
					"(page %lld +%lld, reads 0x%02x): refused",
				     c->name, (long long)(off + i),
				     (long long)((off + i) / c->erasesize),
				     (long long)((off + i) % c->erasesize), chunk[i]);
				return EKV_EIO;
			}
		}
		off += n;
		len -= n;
	}
	return 0;
}

static int mtd_write(void *ctx, uint32_t page, uint32_t offset, const void *buf, uint32_t len)
{
	const struct mtd_ctx *c = ctx;
	off_t off = (off_t)page * c->erasesize + offset;
	int r;

	if (c->read_only)
		return EKV_EROFS;
	r = check_range(c, page, offset, len);
	if (r < 0)
		return r;
	if (c->flags & EKV_MTD_VERIFY_ERASED) {
		r = verify_erased(c, off, len);
		if (r < 0)
			return r;
	}
	return io_code(pwrite_full(c->fd, buf, len, off));
}

static int mtd_erase(void *ctx, uint32_t page)
{
	const struct mtd_ctx *c = ctx;
	struct erase_info_user ei;

	if (c->read_only)
		return EKV_EROFS;
	if (page >= c->page_count)
		return EKV_EINVAL;
	ei.start = page * c->erasesize; /* < 2^32: checked at open */
	ei.length = c->erasesize;
	while (ioctl(c->fd, MEMERASE, &ei) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EPERM || errno == EACCES || errno == EBADF)
			return EKV_EROFS;
		return err_code(errno);
	}
	return 0;
}

static int mtd_lock(void *ctx, int op, int timeout_ms)
{
	struct mtd_ctx *c = ctx;
	return lock_fd_op(&c->lock, op, timeout_ms);
}

/* The commit counter in the lock file (bytes missing from a short file are 0). */
static int read_counter(const struct mtd_ctx *c, uint64_t *v)
{
	uint8_t b[8] = { 0 };
	ssize_t n;

	do
		n = pread(c->lock_fd, b, sizeof b, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return err_code(errno);
	*v = get_le64(b);
	return 0;
}

static int mtd_change_token(void *ctx, uint64_t *token)
{
	return read_counter(ctx, token);
}

/* Called by the writer holding LOCK_EX after a commit. */
static int mtd_mark_changed(void *ctx)
{
	const struct mtd_ctx *c = ctx;
	uint8_t b[8];
	uint64_t v;
	int r;

	if (c->read_only)
		return EKV_EROFS;
	r = read_counter(c, &v);
	if (r < 0)
		return r;
	put_le64(b, v + 1);
	return io_code(pwrite_full(c->lock_fd, b, sizeof b, 0));
}

static void mtd_destroy(void *ctx)
{
	struct mtd_ctx *c = ctx;

	if (c == NULL)
		return;
	if (c->lock_fd >= 0)
		close(c->lock_fd);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

static const struct ekv_flash_ops mtd_ops = FLASH_OPS_ALL(mtd);

/* ---- open ---------------------------------------------------------------------- */

/*
 * Open (creating if needed) DIR/mtdN.lock: read-write, or, for a read-only
 * opening only, read-only if it is not writable for us (flock and reading
 * the counter work on O_RDONLY).  Returns an fd or a negative code, with a
 * message.
 */
static int open_lock_in(const char *dir, int index, bool world_dir, bool read_only, char *msg,
			size_t msg_size)
{
	char path[PATH_MAX];
	int fd, e;

	if (mkdir(dir, world_dir ? 01777 : 0755) == 0) {
		if (world_dir)
			chmod(dir, 01777); /* undo the umask: shared by all users */
	} else if (errno != EEXIST) {
		e = errno;
		set_msg(msg, msg_size, "mtd%d: cannot create the lock directory %s: %s", index, dir,
			strerror(e));
		return -e;
	}
	snprintf(path, sizeof path, "%s/mtd%d.lock", dir, index);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd >= 0)
		return fd;
	e = errno;
	if (read_only && (e == EACCES || e == EROFS || e == EPERM)) {
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd >= 0)
			return fd;
		e = errno;
	}
	if (!read_only && (e == EACCES || e == EROFS || e == EPERM)) {
		set_msg(msg, msg_size,
			"mtd%d: lock file %s is not writable for this process (%s): a writer "
			"must count its commits there for the other processes; open read-only "
			"or fix its permissions",
			index, path, strerror(e));
		return EKV_EPERM;
	}
	set_msg(msg, msg_size, "mtd%d: cannot open the lock file %s: %s", index, path, strerror(e));
	return -e;
}

/* The lock directory: /run/lock/ekv if /run/lock exists (or can be made). */
static int open_lock(int index, bool read_only, char *msg, size_t msg_size)
{
	struct stat st;

	if ((stat("/run/lock", &st) == 0 && S_ISDIR(st.st_mode)) ||
	    mkdir("/run/lock", 0755) == 0 || errno == EEXIST)
		return open_lock_in(LOCK_DIR, index, false, read_only, msg, msg_size);
	return open_lock_in(LOCK_DIR_FALLBACK, index, true, read_only, msg, msg_size);
}

/* The geometry checks; 0 or EKV_ENOTSUP with a message. */
static int check_geometry(int fd, const struct mtd_info_user *mi, const char *label,
			  uint64_t size, char *msg, size_t msg_size)
{
	loff_t blk0 = 0;
	int nregions = 0;

	if (mi->type == MTD_NANDFLASH || mi->type == MTD_MLCNANDFLASH ||
	    ioctl(fd, MEMGETBADBLOCK, &blk0) > 0) {
		set_msg(msg, msg_size,
			"%s (type %u, erasesize %u, writesize %u, oobsize %u) has bad-block "
			"support (NAND): not supported by this layout",
			label, mi->type, mi->erasesize, mi->writesize, mi->oobsize);
		return EKV_ENOTSUP;
	}
	if (mi->writesize > MTD_MAX_ALIGN) {
		set_msg(msg, msg_size,
			"%s: writesize %u exceeds the format's maximum alignment %u", label,
			mi->writesize, MTD_MAX_ALIGN);
		return EKV_ENOTSUP;
	}
	if (mi->erasesize == 0) {
		set_msg(msg, msg_size, "%s: erasesize 0 (not an erasable flash)", label);
		return EKV_ENOTSUP;
	}
	if (mi->erasesize > MTD_MAX_PAGE_SIZE) {
		set_msg(msg, msg_size,
			"%s: erasesize %u makes the page payload exceed the format's 16-bit "
			"limits (> 64 KiB)",
			label, mi->erasesize);
		return EKV_ENOTSUP;
	}
	if (size % mi->erasesize != 0) {
		set_msg(msg, msg_size, "%s: size %llu is not a multiple of erasesize %u", label,
			(unsigned long long)size, mi->erasesize);
		return EKV_ENOTSUP;
	}
	if (size / mi->erasesize > MTD_MAX_PAGES) {
		set_msg(msg, msg_size,
			"%s: %llu erase blocks (size %llu / erasesize %u) exceed the format's "
			"maximum of %u pages",
			label, (unsigned long long)(size / mi->erasesize),
			(unsigned long long)size, mi->erasesize, MTD_MAX_PAGES);
		return EKV_ENOTSUP;
	}
	if (size == 0) {
		set_msg(msg, msg_size, "%s: size 0", label);
		return EKV_ENOTSUP;
	}
	/*
	 * Variable-sector NOR (boot blocks): MEMGETINFO's erasesize is the
	 * largest; a page of that size is erasable with one MEMERASE only if
	 * every region tiles whole pages.
	 */
	if (ioctl(fd, MEMGETREGIONCOUNT, &nregions) == 0 && nregions > 0) {
		for (int i = 0; i < nregions; i++) {
			struct region_info_user ri;
			uint64_t rlen;

			memset(&ri, 0, sizeof ri);
			ri.regionindex = (uint32_t)i;
			if (ioctl(fd, MEMGETREGIONINFO, &ri) < 0) {
				set_msg(msg, msg_size, "%s: MEMGETREGIONINFO %d: %s", label, i,
					strerror(errno));
				return EKV_ENOTSUP;
			}
			rlen = (uint64_t)ri.erasesize * ri.numblocks;
			if (ri.offset % mi->erasesize != 0 || rlen % mi->erasesize != 0) {
				set_msg(msg, msg_size,
					"%s: erase region %d (offset %u, %u blocks of %u) does not "
					"tile erasesize %u pages",
					label, i, ri.offset, ri.numblocks, ri.erasesize,
					mi->erasesize);
				return EKV_ENOTSUP;
			}
		}
	}
	return 0;
}

int ekv_flash_mtd_open(const char *dev, unsigned flags, struct ekv_flash **out, char *msg,
		       size_t msg_size)
{
	char path[PATH_MAX], label[128], sname[80];
	struct mtd_info_user mi;
	struct mtd_ctx *c = NULL;
	struct ekv_flash *f = NULL;
	struct stat st;
	uint64_t size, sys_size;
	bool ro_node, read_only;
	int index, r;

	if (msg != NULL && msg_size > 0)
		msg[0] = '\0';
	if (out != NULL)
		*out = NULL;
	if (out == NULL || dev == NULL) {
		set_msg(msg, msg_size, "ekv_flash_mtd_open: NULL argument");
		return EKV_EINVAL;
	}
	if (flags & ~(unsigned)(EKV_MTD_RDONLY | EKV_MTD_VERIFY_ERASED)) {
		set_msg(msg, msg_size, "%s: unknown flags 0x%x", dev, flags);
		return EKV_EINVAL;
	}

	if (strncmp(dev, "mtd:", 4) == 0) {
		if (dev[4] == '\0') {
			set_msg(msg, msg_size, "mtd:NAME: empty name");
			return EKV_EINVAL;
		}
		index = resolve_name(dev + 4, msg, msg_size);
		if (index < 0)
			return index;
		snprintf(path, sizeof path, "/dev/mtd%d", index);
	} else {
		if (strlen(dev) >= sizeof path) {
			set_msg(msg, msg_size, "device path too long");
			return EKV_EINVAL;
		}
		snprintf(path, sizeof path, "%s", dev);
	}

	/* Which node is it?  A read-only node (/dev/mtdNro, odd minor) implies RDONLY. */
	if (stat(path, &st) < 0) {
		int e = errno;
		set_msg(msg, msg_size, "%s: %s", path, strerror(e));
		return -e;
	}
	if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != MTD_CHAR_MAJOR) {
		set_msg(msg, msg_size,
			"%s is not an MTD character device (expected char major %d)", path,
			MTD_CHAR_MAJOR);
		return EKV_ENOTSUP;
	}
	ro_node = (minor(st.st_rdev) & 1) != 0;
	read_only = (flags & EKV_MTD_RDONLY) || ro_node;

	c = calloc(1, sizeof *c);
	f = calloc(1, sizeof *f);
	if (c == NULL || f == NULL) {
		free(c);
		free(f);
		set_msg(msg, msg_size, "out of memory");
		return EKV_ENOMEM;
	}
	c->fd = -1;
	c->lock_fd = -1;
	c->flags = flags;
	c->read_only = read_only;

	c->fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (c->fd < 0) {
		int e = errno;
		set_msg(msg, msg_size, "%s: open %s: %s%s", path, read_only ? "read-only" : "read-write",
			strerror(e),
			!read_only && (e == EACCES || e == EROFS || e == EPERM)
				? " (device not writable? try EKV_MTD_RDONLY)"
				: "");
		r = -e;
		goto fail;
	}
	/* The canonical index comes from the opened node itself. */
	if (fstat(c->fd, &st) < 0 || !S_ISCHR(st.st_mode) ||
	    major(st.st_rdev) != MTD_CHAR_MAJOR) {
		set_msg(msg, msg_size, "%s is not an MTD character device", path);
		r = EKV_ENOTSUP;
		goto fail;
	}
	index = (int)(minor(st.st_rdev) / 2);
	snprintf(c->name, sizeof c->name, "mtd%d", index);
	c->index = index;
	if (sysfs_read(index, "name", sname, sizeof sname) == 0)
		snprintf(label, sizeof label, "mtd%d \"%s\"", index, sname);
	else
		snprintf(label, sizeof label, "mtd%d", index);

	memset(&mi, 0, sizeof mi);
	if (ioctl(c->fd, MEMGETINFO, &mi) < 0) {
		int e = errno;
		set_msg(msg, msg_size, "%s: MEMGETINFO: %s", label, strerror(e));
		r = e == ENOTTY ? EKV_ENOTSUP : err_code(e);
		goto fail;
	}
	/* MEMGETINFO's size is 32-bit; sysfs has the real one. */
	size = mi.size;
	if (sysfs_u64(index, "size", &sys_size) == 0 && sys_size > size)
		size = sys_size;
	r = check_geometry(c->fd, &mi, label, size, msg, msg_size);
	if (r < 0)
		goto fail;
	c->erasesize = mi.erasesize;
	c->page_count = (uint32_t)(size / mi.erasesize);

	r = open_lock(index, read_only, msg, msg_size);
	if (r < 0)
		goto fail;
	c->lock_fd = r;
	c->lock = (struct lock_fd){.fd = r, .held = EKV_LOCK_UN};

	f->ops = &mtd_ops;
	f->ctx = c;
	c->flash = f;
	f->page_size = mi.erasesize;
	f->page_count = c->page_count;
	f->write_size = mi.writesize ? mi.writesize : 1;
	f->erase_value = 0xFF;
	f->read_only = read_only;
	*out = f;
	return 0;

fail:
	mtd_destroy(c);
	free(f);
	return r;
}
