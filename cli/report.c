/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * report.c — ekvctl's messages, exit status and progress bar (report.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "ekv.h"
#include "report.h"

const char *const prog = "ekvctl";

int exit_status(int err)
{
	switch (err) {
	case 0:
		return 0;
	case EKV_ENOTFOUND:
		return EXIT_NOTFOUND;
	case EKV_ECORRUPT:
	case EKV_ENOFMT:
		return EXIT_CORRUPT;
	case EKV_EBUSY:
		return EXIT_BUSY;
	case EKV_ENOSPC:
		return EXIT_NOSPC;
	case EKV_EINVAL:
	case EKV_ETOOBIG:
	case EKV_ENOTSORTED:
		return EXIT_USAGE;
	default:
		return EXIT_IO;
	}
}

int report_failure(int err, const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, ekv_strerror(err));
	return exit_status(err);
}

int usage_error(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help' for more information.\n", prog);
	return EXIT_USAGE;
}

void progress_init(struct progress *pg, bool quiet, const char *label)
{
	pg->on = !quiet && isatty(STDERR_FILENO);
	pg->label = label;
	pg->shown = -1;
}

void progress_cb(void *ctx, uint64_t done, uint64_t total)
{
	struct progress *pg = ctx;
	if (!pg->on || total == 0)
		return;
	int pm = (int)(done * 1000 / total);
	if (pm == pg->shown || (pm - pg->shown < 10 && pm != 1000))
		return;
	pg->shown = pm;
	char bar[41];
	int fill = pm * 40 / 1000;
	for (int i = 0; i < 40; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[40] = 0;
	fprintf(stderr, "\r%s [%s] %3d%%", pg->label, bar, pm / 10);
}

void progress_end(struct progress *pg)
{
	if (pg->on && pg->shown >= 0)
		fprintf(stderr, "\r\033[K");
	pg->shown = -1;
}
