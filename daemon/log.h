/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * log.h — ekvd's log: syslog levels, written to stderr, with "<N>" level
 * prefixes when the journal reads it ($JOURNAL_STREAM).
 */
#ifndef EKVD_LOG_H
#define EKVD_LOG_H

#include <stdbool.h>
#include <syslog.h>

/* Where and how much: called once by main, before any thread starts. */
void ekvd_log_init(bool to_journal, bool verbose);
/* Messages at LOG_DEBUG are written only when verbose. */
void ekvd_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
