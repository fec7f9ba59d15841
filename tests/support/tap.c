/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* tap.c — see tap.h: TAP-style case reporting and monotonic time for the
 * cmocka-free test programs. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "tap.h"

/* ---- TAP-style cases ---------------------------------------------------------- */

static int g_pass, g_fail;
static char g_why[1024];

void tap_begin(void)
{
	g_why[0] = '\0';
}

void tap_fail(const char *fmt, ...)
{
	va_list ap;

	if (g_why[0])
		return; /* keep the first reason */
	va_start(ap, fmt);
	vsnprintf(g_why, sizeof g_why, fmt, ap);
	va_end(ap);
	if (!g_why[0])
		snprintf(g_why, sizeof g_why, "failed");
}

bool tap_failed(void)
{
	return g_why[0] != '\0';
}

void tap_end(const char *name)
{
	for (char *c = g_why; *c; c++)
		if (*c == '\n')
			*c = ' ';
	if (g_why[0]) {
		printf("not ok - %s: %s\n", name, g_why);
		g_fail++;
	} else {
		printf("ok - %s\n", name);
		g_pass++;
	}
	fflush(stdout);
	g_why[0] = '\0';
}

void tap_skip(const char *name, const char *why)
{
	printf("# skipped %s: %s\n", name, why);
	fflush(stdout);
}

int tap_summary(const char *dev)
{
	printf("# %s: %d passed, %d failed\n", dev, g_pass, g_fail);
	fflush(stdout);
	return g_fail ? 1 : 0;
}

double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}
