/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * net.h — the transport under the ekvd protocol, shared by the client
 * (remote.c) and the daemon (daemon/session.c): a buffered stream socket
 * that is read frame by frame.
 *
 * Owns: every recv() of a protocol connection, the short busy poll before
 * sleeping, and the input buffer.  Must never: look at the bytes (proto.c
 * decodes them), or wait longer than the socket's own timeouts allow.
 */
#ifndef EKV_NET_H
#define EKV_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Received bytes: [off, len) are not consumed yet. */
struct net_in {
	uint8_t *buf;
	size_t cap, len, off;
};

/*
 * Have at least `want` unconsumed bytes in `in`, reading from fd.  Returns
 * 0; 1 at the end of the stream; EKV_ENOMEM; or a negative errno of recv()
 * (-EAGAIN / -EWOULDBLOCK: the socket's receive timeout passed — calling
 * again resumes).  Before each recv() that would sleep, polls without
 * sleeping for up to spin_us microseconds (0: never): a reply or the next
 * request of a busy peer usually arrives within a few microseconds, and
 * waking a sleeping thread on another CPU costs more than that on small
 * (virtual) machines.
 */
int net_fill(struct net_in *in, int fd, size_t want, unsigned spin_us);

/* Consume n buffered bytes (n <= len - off). */
void net_consume(struct net_in *in, size_t n);

void net_in_free(struct net_in *in);

/* Sending: send_full() of util.h (whole buffers, MSG_NOSIGNAL). */

#endif
