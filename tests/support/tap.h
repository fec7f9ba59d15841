/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * tap.h — TAP-style case reporting for the cmocka-free test programs (the
 * MTD guest programs): "ok - NAME" or "not ok - NAME: reason" per case, a
 * "# DEV: N passed, N failed" summary; and monotonic time helpers.
 *
 * Owns: the process's pass/fail counts and the current case's first failure
 * reason.  Must never: abort or exit on a failed check (the case records the
 * reason and goes on or returns; the programs fork).
 */
#ifndef EKV_SUPPORT_TAP_H
#define EKV_SUPPORT_TAP_H

#include <stdbool.h>

void tap_begin(void);
void tap_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
bool tap_failed(void);
void tap_end(const char *name);
void tap_skip(const char *name, const char *why);
int tap_summary(const char *dev); /* prints "# DEV: N passed, N failed"; returns exit code */

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond))                                                                       \
			tap_fail(__VA_ARGS__);                                                     \
	} while (0)

/* CLOCK_MONOTONIC in milliseconds; a sleep that resumes after signals */
double now_ms(void);
void sleep_ms(int ms);

#endif
