/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * net.c — the transport of net.h: buffered reads with a short busy poll.
 * The codec (proto.c) does no I/O; this file does nothing else.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ekv.h"
#include "net.h"
#include "util.h"

/* recv() that first polls without sleeping for up to spin_us microseconds,
 * yielding to other runnable threads (other clients) between polls, so a
 * spin only uses a CPU that would otherwise idle. */
static ssize_t recv_polling(int fd, void *buf, size_t len, unsigned spin_us)
{
	if (spin_us) {
		int64_t t0 = monotonic_us();
		for (;;) {
			ssize_t n = recv(fd, buf, len, MSG_DONTWAIT);
			if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
				return n;
			if (monotonic_us() - t0 >= spin_us)
				break;
			sched_yield();
		}
	}
	return recv(fd, buf, len, 0);
}

int net_fill(struct net_in *in, int fd, size_t want, unsigned spin_us)
{
	if (in->len - in->off >= want)
		return 0;
	if (in->off) {
		memmove(in->buf, in->buf + in->off, in->len - in->off);
		in->len -= in->off;
		in->off = 0;
	}
	if (grow_array(&in->buf, &in->cap, want, 1, 4096) < 0)
		return EKV_ENOMEM;
	while (in->len < want) {
		ssize_t n = recv_polling(fd, in->buf + in->len, in->cap - in->len, spin_us);
		if (n > 0) {
			in->len += (size_t)n;
			continue;
		}
		if (n == 0)
			return 1;
		if (errno == EINTR)
			continue;
		return errno ? -errno : EKV_EIO;
	}
	return 0;
}

void net_consume(struct net_in *in, size_t n)
{
	in->off += n;
	if (in->off == in->len)
		in->off = in->len = 0; /* the bytes stay where they are until the next fill */
}

void net_in_free(struct net_in *in)
{
	free(in->buf);
	in->buf = NULL;
	in->cap = in->len = in->off = 0;
}
