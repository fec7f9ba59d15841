/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * lock_fd.c — flock for readers and writers, plus the writer-intent OFD
 * lock that keeps a failed shared -> exclusive conversion shared.  See
 * lock_fd.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* F_OFD_SETLK; also built alone by tests/mtd/run */
#endif
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "lock_fd.h"

#define POLL_NS 10000000L /* 10 ms */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap(void)
{
	struct timespec d = {0, POLL_NS};
	nanosleep(&d, NULL);
}

/* One attempt (wait: block) at flock; 0, EKV_EBUSY or -errno. */
static int try_flock(int fd, int how, bool wait)
{
	while (flock(fd, how | (wait ? 0 : LOCK_NB)) < 0) {
		if (errno == EINTR)
			continue;
		return errno == EWOULDBLOCK ? EKV_EBUSY : -errno;
	}
	return 0;
}

/* The writer-intent lock: exclusive (F_WRLCK) or released (F_UNLCK). */
static int intent(int fd, short type, bool wait)
{
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
	while (fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl) < 0) {
		if (errno == EINTR)
			continue;
		return errno == EAGAIN || errno == EACCES ? EKV_EBUSY : -errno;
	}
	return 0;
}

/* Retry `attempt` until it stops being EKV_EBUSY or the deadline passes. */
#define RETRY_UNTIL(deadline, timeout_ms, attempt)                                        \
	({                                                                                 \
		int r_;                                                                    \
		while ((r_ = (attempt)) == EKV_EBUSY && (timeout_ms) != 0 &&               \
		       ((timeout_ms) < 0 || now_ms() < (deadline)))                         \
			nap();                                                             \
		r_;                                                                        \
	})

int lock_fd_op(struct lock_fd *l, int op, int timeout_ms)
{
	int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	int e;
	if (op != EKV_LOCK_SH && op != EKV_LOCK_EX && op != EKV_LOCK_UN)
		return EKV_EINVAL;
	if (op == l->held)
		return 0;
	if (op != EKV_LOCK_EX) {
		/* leave exclusive (or take shared): flock first, then the intent */
		int how = op == EKV_LOCK_SH ? LOCK_SH : LOCK_UN;
		e = op == EKV_LOCK_UN ? try_flock(l->fd, how, true)
				      : RETRY_UNTIL(deadline, timeout_ms,
						    try_flock(l->fd, how, timeout_ms < 0));
		if (e < 0)
			return e;
		if (l->held == EKV_LOCK_EX)
			intent(l->fd, F_UNLCK, false);
		l->held = op;
		return 0;
	}
	/* exclusive: the intent first, so no other writer can get in while a
	 * conversion has dropped our shared lock */
	e = RETRY_UNTIL(deadline, timeout_ms, intent(l->fd, F_WRLCK, timeout_ms < 0));
	if (e < 0)
		return e;
	bool was_shared = l->held == EKV_LOCK_SH;
	for (;;) {
		e = try_flock(l->fd, LOCK_EX, !was_shared && timeout_ms < 0);
		if (e != EKV_EBUSY)
			break;
		if (was_shared) {
			/* the attempt dropped it; no writer can hold EX (we hold the
			 * intent), so taking it back only waits for nothing */
			int r = try_flock(l->fd, LOCK_SH, true);
			if (r < 0) {
				l->held = EKV_LOCK_UN;
				intent(l->fd, F_UNLCK, false);
				return r;
			}
		}
		if (timeout_ms == 0 || (timeout_ms > 0 && now_ms() >= deadline))
			break;
		nap();
	}
	if (e < 0) {
		intent(l->fd, F_UNLCK, false);
		return e;
	}
	l->held = EKV_LOCK_EX;
	return 0;
}
