/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * util.c — the helpers of util.h.
 *
 * Owns: one growable array, the monotonic clock, full pread/pwrite loops and
 * flock with a timeout.  Must never: print, keep state, or wait without the
 * bound its caller gave.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ekv.h"
#include "util.h"

#define FLOCK_POLL_NS 10000000L /* 10 ms */

int grow_array(void *arrayp, size_t *cap, size_t want, size_t elem_size, size_t min_cap)
{
	if (*cap >= want)
		return 0;
	size_t n = *cap ? *cap : (min_cap ? min_cap : 1);
	while (n < want) {
		if (n > SIZE_MAX / 2)
			return EKV_ENOMEM;
		n *= 2;
	}
	if (elem_size && n > SIZE_MAX / elem_size)
		return EKV_ENOMEM;
	/* the array pointer is read and stored as bytes: arrayp is a T **, not
	 * a void ** (every object pointer has the same representation here) */
	void *old;
	memcpy(&old, arrayp, sizeof(old));
	void *p = realloc(old, n * elem_size);
	if (!p)
		return EKV_ENOMEM;
	memcpy(arrayp, &p, sizeof(p));
	*cap = n;
	return 0;
}

int64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t monotonic_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void deadline_after(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

int cond_init_monotonic(pthread_cond_t *cond)
{
	pthread_condattr_t ca;
	int e = pthread_condattr_init(&ca);
	if (e)
		return -e;
	e = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (e == 0)
		e = pthread_cond_init(cond, &ca);
	pthread_condattr_destroy(&ca);
	return -e;
}

enum io_op { IO_PREAD, IO_PWRITE, IO_SEND };

/* The one loop behind pread_full, pwrite_full and send_full. */
static int io_full(enum io_op op, int fd, uint8_t *p, size_t len, off_t off)
{
	while (len) {
		ssize_t n = op == IO_PREAD    ? pread(fd, p, len, off)
			    : op == IO_PWRITE ? pwrite(fd, p, len, off)
					      : send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno ? -errno : -EIO;
		if (n == 0) /* the file or device ends first, or no progress */
			return -EIO;
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

int pread_full(int fd, void *buf, size_t len, off_t off)
{
	return io_full(IO_PREAD, fd, buf, len, off);
}

int pwrite_full(int fd, const void *buf, size_t len, off_t off)
{
	/* the loop only passes the pointer on to pwrite() */
	return io_full(IO_PWRITE, fd, (uint8_t *)(uintptr_t)buf, len, off);
}

int send_full(int fd, const void *buf, size_t len)
{
	return io_full(IO_SEND, fd, (uint8_t *)(uintptr_t)buf, len, 0);
}

static int flock_wait(int fd, int how)
{
	while (flock(fd, how) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

int flock_timeout(int fd, int how, int timeout_ms)
{
	if (how == LOCK_UN || timeout_ms < 0)
		return flock_wait(fd, how);
	int64_t deadline = monotonic_ms() + timeout_ms;
	for (;;) {
		if (flock(fd, how | LOCK_NB) == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK)
			return -errno;
		int64_t left = deadline - monotonic_ms();
		if (left <= 0)
			return EKV_EBUSY;
		struct timespec d = {0, left * 1000000 < FLOCK_POLL_NS ? (long)left * 1000000
								      : FLOCK_POLL_NS};
		nanosleep(&d, NULL); /* EINTR: just poll again */
	}
}
