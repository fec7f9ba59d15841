/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * test_util.c — lib/util.c: the growable array, monotonic deadlines (timed
 * waits on a condition made by cond_init_monotonic() use the same clock as
 * deadline_after(), so busy timeouts ignore wall-clock steps), the full
 * pread/pwrite loops, flock with a timeout, and the little-endian codec.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <cmocka.h>

#include "ekv.h"
#include "util.h"

static void test_grow_array_doubles_from_its_minimum(void **state)
{
	(void)state;
	uint32_t *a = NULL;
	size_t cap = 0;
	assert_int_equal(grow_array(&a, &cap, 1, sizeof(*a), 16), 0);
	assert_non_null(a);
	assert_int_equal(cap, 16);
	for (uint32_t i = 0; i < 16; i++)
		a[i] = i;
	assert_int_equal(grow_array(&a, &cap, 16, sizeof(*a), 16), 0); /* fits: unchanged */
	assert_int_equal(cap, 16);
	assert_int_equal(grow_array(&a, &cap, 17, sizeof(*a), 16), 0);
	assert_int_equal(cap, 32);
	assert_int_equal(grow_array(&a, &cap, 100, sizeof(*a), 16), 0);
	assert_int_equal(cap, 128);
	for (uint32_t i = 0; i < 16; i++)
		assert_int_equal(a[i], i); /* kept across reallocations */
	/* an impossible size fails and leaves the array as it was */
	uint32_t *before = a;
	assert_int_equal(grow_array(&a, &cap, SIZE_MAX / 2, sizeof(*a), 16), EKV_ENOMEM);
	assert_ptr_equal(a, before);
	assert_int_equal(cap, 128);
	free(a);
}

static void test_deadlines_and_timed_waits_use_the_monotonic_clock(void **state)
{
	(void)state;
	struct timespec dl, now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	deadline_after(&dl, 1500);
	int64_t d_ms = (int64_t)(dl.tv_sec - now.tv_sec) * 1000 + (dl.tv_nsec - now.tv_nsec) / 1000000;
	assert_true(d_ms >= 1500 && d_ms < 1600);
	assert_true(dl.tv_nsec >= 0 && dl.tv_nsec < 1000000000);

	/* a 100 ms wait lasts about 100 ms: on a condition with another clock
	 * the monotonic deadline would lie decades in the past (or future) */
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t c;
	assert_int_equal(cond_init_monotonic(&c), 0);
	int64_t t0 = monotonic_ms();
	deadline_after(&dl, 100);
	pthread_mutex_lock(&m);
	int r;
	do
		r = pthread_cond_timedwait(&c, &m, &dl);
	while (r == 0);
	pthread_mutex_unlock(&m);
	int64_t took = monotonic_ms() - t0;
	assert_int_equal(r, ETIMEDOUT);
	assert_true(took >= 95 && took < 2000);
	pthread_cond_destroy(&c);
	assert_true(monotonic_us() / 1000 - monotonic_ms() <= 1);
}

static int temp_file(char *path, size_t n)
{
	snprintf(path, n, "/tmp/ekv-util-test.XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	return fd;
}

static void test_full_io_reads_and_writes_everything_or_fails(void **state)
{
	(void)state;
	char path[64];
	int fd = temp_file(path, sizeof(path));
	uint8_t out[10000], in[10000];
	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)(i * 7);
	assert_int_equal(pwrite_full(fd, out, sizeof(out), 100), 0);
	assert_int_equal(pread_full(fd, in, sizeof(in), 100), 0);
	assert_memory_equal(in, out, sizeof(out));
	/* the file ends before the bytes asked for */
	assert_int_equal(pread_full(fd, in, 200, sizeof(out)), -EIO);
	/* a bad descriptor reports its errno */
	assert_int_equal(pread_full(-1, in, 1, 0), -EBADF);
	assert_int_equal(pwrite_full(-1, out, 1, 0), -EBADF);
	close(fd);
	unlink(path);
}

static void test_flock_timeout_waits_then_reports_busy(void **state)
{
	(void)state;
	char path[64];
	int a = temp_file(path, sizeof(path));
	int b = open(path, O_RDWR); /* another open file description: its own lock */
	assert_true(b >= 0);
	assert_int_equal(flock_timeout(a, LOCK_EX, -1), 0);
	assert_int_equal(flock_timeout(b, LOCK_SH, 0), EKV_EBUSY); /* one attempt */
	int64_t t0 = monotonic_ms();
	assert_int_equal(flock_timeout(b, LOCK_SH, 120), EKV_EBUSY);
	int64_t took = monotonic_ms() - t0;
	assert_true(took >= 115 && took < 2000);
	assert_int_equal(flock_timeout(a, LOCK_UN, 0), 0);
	assert_int_equal(flock_timeout(b, LOCK_SH, 120), 0);
	assert_int_equal(flock_timeout(a, LOCK_SH, 0), 0); /* shared by both */
	assert_true(flock_timeout(-1, LOCK_SH, 10) < 0);
	close(a);
	close(b);
	unlink(path);
}

static void test_little_endian_codec(void **state)
{
	(void)state;
	uint8_t b[8];
	put_le16(b, 0x1234);
	assert_int_equal(b[0], 0x34);
	assert_int_equal(b[1], 0x12);
	assert_int_equal(get_le16(b), 0x1234);
	put_le32(b, 0x89abcdefu);
	assert_int_equal(b[0], 0xef);
	assert_int_equal(b[3], 0x89);
	assert_int_equal(get_le32(b), 0x89abcdefu);
	put_le64(b, 0x0102030405060708ull);
	for (int i = 0; i < 8; i++)
		assert_int_equal(b[i], 8 - i);
	assert_true(get_le64(b) == 0x0102030405060708ull);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grow_array_doubles_from_its_minimum),
		cmocka_unit_test(test_deadlines_and_timed_waits_use_the_monotonic_clock),
		cmocka_unit_test(test_full_io_reads_and_writes_everything_or_fails),
		cmocka_unit_test(test_flock_timeout_waits_then_reports_busy),
		cmocka_unit_test(test_little_endian_codec),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
