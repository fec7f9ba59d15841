/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * util.h — small helpers shared by the library and ekvd: a growable array,
 * monotonic deadlines, full positional I/O, flock with a timeout and the
 * little-endian codec every on-disk and on-wire structure is built from.
 *
 * Owns: nothing but these helpers; each has exactly one implementation here.
 * Must never: know about flash, profiles or the protocol, keep state, or
 * print anything.
 */
#ifndef EKV_UTIL_H
#define EKV_UTIL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* The struct that contains `ptr` as its member `member`. */
#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* ---- growable array ---------------------------------------------------- */

/*
 * Make room for `want` elements of `elem_size` bytes in the array whose
 * pointer is at `arrayp` (a T **; the array may be NULL with *cap 0).  The
 * capacity *cap (in elements) starts at min_cap and doubles.  Returns 0, or
 * EKV_ENOMEM with the array and *cap unchanged.
 */
int grow_array(void *arrayp, size_t *cap, size_t want, size_t elem_size, size_t min_cap);

/* ---- monotonic time ------------------------------------------------------ */

int64_t monotonic_ms(void);
int64_t monotonic_us(void);
/* *ts = now + ms on CLOCK_MONOTONIC (ms >= 0), for pthread_cond_timedwait on
 * a condition made by cond_init_monotonic(). */
void deadline_after(struct timespec *ts, int ms);
/* pthread_cond_init with CLOCK_MONOTONIC: timed waits ignore wall-clock
 * steps.  Returns 0 or a negative errno. */
int cond_init_monotonic(pthread_cond_t *cond);

/* ---- file descriptors ------------------------------------------------------ */

/*
 * Read or write exactly len bytes at off, retrying on EINTR and short
 * transfers.  Returns 0, or a negative errno (-EIO when the file ends first
 * or a write makes no progress).
 */
int pread_full(int fd, void *buf, size_t len, off_t off);
int pwrite_full(int fd, const void *buf, size_t len, off_t off);
/* send() all len bytes the same way, with MSG_NOSIGNAL: never SIGPIPE. */
int send_full(int fd, const void *buf, size_t len);

/*
 * flock(fd, how) (LOCK_SH, LOCK_EX or LOCK_UN) waiting up to timeout_ms:
 * < 0 forever, 0 one attempt; polls every 10 ms.  LOCK_UN never waits.
 * Returns 0, EKV_EBUSY when the time is up, or a negative errno.
 */
int flock_timeout(int fd, int how, int timeout_ms);

/* ---- little-endian codec ------------------------------------------------- */

static inline void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static inline void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}
static inline void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}
static inline uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}
static inline uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

#endif
