/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * log.c — ekvd's log (log.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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
	/* one write per message: the lines of session threads do not mix */
	char line[1024];
	int n = log_to_journal ? snprintf(line, sizeof(line), "<%d>", level)
			       : snprintf(line, sizeof(line), "ekvd: ");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	strcat(line, "\n");
	fputs(line, stderr);
}
