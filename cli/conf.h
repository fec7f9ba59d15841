/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * conf.h — /etc/ekv.conf: INI-style sections, one per named database, whose
 * keys are ekvctl's long option names (see ekv.conf(5)).
 */
#ifndef EKVCTL_CONF_H
#define EKVCTL_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ekv.h"

struct conf_entry {
	char *key, *value;
	int line;
};

struct conf {
	struct conf_entry *e;
	size_t n;
	bool section_found;
};

/*
 * Read the whole file and keep the entries of `section`.  Every line of the
 * file must be a comment, blank, "[name]" or "key = value" with a key that
 * known() accepts.  Returns 0, -ENOENT if the file does not exist, or -1
 * with msg naming the file and line.
 */
int conf_load(const char *path, const char *section, bool (*known)(const char *key),
	      struct conf *c, char *msg, size_t msg_size);
void conf_free(struct conf *c);

/* Numbers (decimal, 0x hex, 0 octal) up to UINT32_MAX, and yes/no/true/false/on/off/1/0:
 * the value syntax of ekv.conf and of the options it mirrors. */
bool conf_parse_u32(const char *s, uint32_t *out);
bool conf_parse_bool(const char *s, bool *out);

/* Apply one profile setting by its ekv.conf / long option name ("page-size",
 * "crc", "erase-value", ...; value NULL means "yes" for crc): 1 applied, 0 not
 * a profile setting, -1 a bad value (msg says why). */
int conf_apply_profile(struct ekv_profile *p, const char *name, const char *value, char *msg,
		       size_t msg_size);

#endif
