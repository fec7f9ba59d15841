/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * lock_fd.h — the process lock of a database on one file descriptor, for
 * the backends' lock op (docs/DESIGN.md §4).
 *
 * Owns: shared (readers) and exclusive (a writer) locks with flock(), and
 * the writer-intent lock that makes a shared -> exclusive conversion safe:
 * flock converts by dropping the shared lock first, so every exclusive
 * holder first takes an exclusive OFD lock (fcntl F_OFD_SETLK on byte 0,
 * independent of flock).  While a converting handle has let go of its
 * shared lock, no other process can take the exclusive one, and a failed
 * conversion ends holding the shared lock again.  A handle with open
 * snapshots therefore never runs while another process writes.
 * Must never: return from a failed EKV_LOCK_EX without the lock it held
 * before.
 */
#ifndef EKV_LOCK_FD_H
#define EKV_LOCK_FD_H

#include "ekv.h"

struct lock_fd {
	int fd;
	int held; /* EKV_LOCK_SH, EKV_LOCK_EX or EKV_LOCK_UN: what this fd holds */
};

/* The lock op of ekv_flash_ops on l->fd: op EKV_LOCK_SH/EX/UN, timeout_ms
 * < 0 forever, 0 one attempt.  0, EKV_EBUSY, or a negative errno. */
int lock_fd_op(struct lock_fd *l, int op, int timeout_ms);

#endif
