/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * log.c — ekvd's log (log.h).
 */
#include <stdarg.h>
#include <stdio.h>

#include "log.h"

static bool log_to_journal;
static bool log_verbose;

void ekvd_log_init(bool to_journal, bool verbose)
{
	log_to_journal = to_journal;
	log_verbose = verbose;
}

void ekvd_log(int level, const char *fmt, ...)
{
	if (level >= LOG_DEBUG && !log_verbose)
		return;
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (log_to_journal)
		fprintf(stderr, "<%d>%s\n", level, buf);
	else
		fprintf(stderr, "ekvd: %s\n", buf);
}
