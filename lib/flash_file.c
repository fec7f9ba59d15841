/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * flash_file.c — a flash image in a regular file, with real flash semantics.
 *
 * Owns: erase = one pwrite of erase_value bytes over the page; program = one
 * pread of the target bytes, then one pwrite of the result of moving bits
 * away from the erased value (AND for 0xFF, OR for 0x00).  Only pread and
 * pwrite touch the file: no mmap, no stdio.  The image carries the process
 * lock (lock_fd.h: flock for readers and writers, an OFD writer intent).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "flash.h"
#include "lock_fd.h"
#include "util.h"

struct file_flash {
	int fd;
	uint32_t page_size;
	uint8_t erase_value;
	bool strict;
	bool nolock;
	bool nosync;
	struct lock_fd lock; /* on fd (docs/DESIGN.md §4) */
};

/* A failed pwrite as the backend reports it: a full file system, or an I/O error. */
static int write_error(int e)
{
	return e == -ENOSPC ? EKV_ENOSPC : e < 0 ? EKV_EIO : 0;
}

static int file_read(void *ctx, uint32_t page, uint32_t off, void *buf, uint32_t len)
{
	struct file_flash *ff = ctx;
	return pread_full(ff->fd, buf, len, (off_t)page * ff->page_size + off) < 0 ? EKV_EIO : 0;
}

static int file_write(void *ctx, uint32_t page, uint32_t off, const void *buf, uint32_t len)
{
	struct file_flash *ff = ctx;
	off_t pos = (off_t)page * ff->page_size + off;
	uint8_t stackbuf[512];
	uint8_t *old = len <= sizeof(stackbuf) ? stackbuf : malloc(len);
	if (!old)
		return EKV_ENOMEM;
	int r = pread_full(ff->fd, old, len, pos) < 0 ? EKV_EIO : 0;
	if (r == 0) {
		if (!flash_program_bytes(old, buf, len, ff->erase_value, ff->strict))
			r = EKV_EIO;
		else
			r = write_error(pwrite_full(ff->fd, old, len, pos));
	}
	if (old != stackbuf)
		free(old);
	return r;
}

static int file_erase(void *ctx, uint32_t page)
{
	struct file_flash *ff = ctx;
	uint8_t *buf = malloc(ff->page_size);
	if (!buf)
		return EKV_ENOMEM;
	memset(buf, ff->erase_value, ff->page_size);
	int r = write_error(pwrite_full(ff->fd, buf, ff->page_size, (off_t)page * ff->page_size));
	free(buf);
	return r;
}

static int file_lock(void *ctx, int op, int timeout_ms)
{
	struct file_flash *ff = ctx;
	if (ff->nolock)
		return 0;
	return lock_fd_op(&ff->lock, op, timeout_ms);
}

/* The image's mtime is the change token.  Each commit ends by setting it
 * explicitly to a fine-grained, strictly increasing time, so two commits
 * never leave the same token even within one coarse clock tick. */
static int file_change_token(void *ctx, uint64_t *token)
{
	struct file_flash *ff = ctx;
	struct stat st;
	if (fstat(ff->fd, &st) < 0)
		return EKV_EIO;
	*token = (uint64_t)st.st_mtim.tv_sec * 1000000000u + (uint64_t)st.st_mtim.tv_nsec;
	*token ^= (uint64_t)st.st_ino << 32 ^ (uint64_t)st.st_size;
	return 0;
}

static int file_mark_changed(void *ctx)
{
	struct file_flash *ff = ctx;
	struct stat st;
	struct timespec now;
	if (fstat(ff->fd, &st) < 0)
		return EKV_EIO;
	clock_gettime(CLOCK_REALTIME, &now);
	if (now.tv_sec < st.st_mtim.tv_sec ||
	    (now.tv_sec == st.st_mtim.tv_sec && now.tv_nsec <= st.st_mtim.tv_nsec)) {
		now = st.st_mtim;
		if (++now.tv_nsec >= 1000000000) {
			now.tv_sec++;
			now.tv_nsec = 0;
		}
	}
	struct timespec times[2] = {{0, UTIME_OMIT}, now};
	return futimens(ff->fd, times) < 0 ? EKV_EIO : 0;
}

static int file_sync(void *ctx)
{
	struct file_flash *ff = ctx;
	if (ff->nosync)
		return 0;
	while (fdatasync(ff->fd) < 0) {
		if (errno != EINTR)
			return EKV_EIO;
	}
	return 0;
}

static void file_destroy(void *ctx)
{
	struct file_flash *ff = ctx;
	close(ff->fd);
	free(ff);
}

static const struct ekv_flash_ops file_ops = {
	.read = file_read,
	.write = file_write,
	.erase = file_erase,
	.destroy = file_destroy,
	.lock = file_lock,
	.change_token = file_change_token,
	.mark_changed = file_mark_changed,
	.sync = file_sync,
};

int ekv_flash_file_open(const char *path, uint32_t page_size, uint32_t page_count,
			uint8_t erase_value, unsigned flags, struct ekv_flash **out)
{
	if (out)
		*out = NULL;
	if (!path || !out || page_size == 0)
		return EKV_EINVAL;
	bool ro = flags & EKV_FILE_RDONLY;
	int oflags = (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	int fd = open(path, oflags);
	bool created = false;
	if (fd < 0 && errno == ENOENT && (flags & EKV_FILE_CREATE) && !ro) {
		if (page_count == 0)
			return EKV_EINVAL;
		fd = open(path, oflags | O_CREAT | O_EXCL, 0644);
		created = true;
	}
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		close(fd);
		return EKV_EINVAL;
	}
	struct file_flash *ff = calloc(1, sizeof(*ff));
	struct ekv_flash *f = calloc(1, sizeof(*f));
	if (!ff || !f) {
		free(ff);
		free(f);
		close(fd);
		return EKV_ENOMEM;
	}
	ff->fd = fd;
	ff->page_size = page_size;
	ff->erase_value = erase_value;
	ff->strict = flags & EKV_FILE_STRICT;
	ff->nolock = flags & EKV_FILE_NOLOCK;
	ff->nosync = flags & EKV_FILE_NOSYNC;
	ff->lock = (struct lock_fd){.fd = fd, .held = EKV_LOCK_UN};
	f->ops = &file_ops;
	f->ctx = ff;
	f->page_size = page_size;
	f->write_size = 1;
	f->erase_value = erase_value;
	f->read_only = ro;
	if (created) {
		f->page_count = page_count;
		for (uint32_t i = 0; i < page_count; i++) {
			int r = file_erase(ff, i);
			if (r < 0) {
				ekv_flash_close(f);
				unlink(path);
				return r;
			}
		}
	} else {
		uint64_t size = (uint64_t)st.st_size;
		if (size == 0 || size % page_size != 0 || size / page_size > 65536) {
			ekv_flash_close(f);
			return EKV_EINVAL;
		}
		f->page_count = (uint32_t)(size / page_size);
	}
	*out = f;
	return 0;
}
