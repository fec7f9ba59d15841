/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * report.h — how ekvctl tells the user what happened: one line per problem
 * on stderr, the exit status (ekvctl(1), EXIT STATUS) and the progress bar
 * of long operations.
 */
#ifndef EKVCTL_REPORT_H
#define EKVCTL_REPORT_H

#include <stdbool.h>
#include <stdint.h>

enum { EXIT_NOTFOUND = 1, EXIT_USAGE = 2, EXIT_IO = 3, EXIT_CORRUPT = 4, EXIT_BUSY = 5,
       EXIT_NOSPC = 6 };

extern const char *const prog;

/* The exit status for an EKV_E* code. */
int exit_status(int err);
/* "ekvctl: WHAT: <text of err>" on stderr; returns exit_status(err). */
int report_failure(int err, const char *what);
/* The message, then a hint at --help; returns EXIT_USAGE. */
int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A progress bar on stderr, drawn only when stderr is a terminal. */
struct progress {
	bool on;
	const char *label;
	int shown; /* per mille last drawn, -1 none */
};
void progress_init(struct progress *pg, bool quiet, const char *label);
void progress_cb(void *ctx, uint64_t done, uint64_t total);
void progress_end(struct progress *pg);

#endif
