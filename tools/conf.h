/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * conf.h — /etc/ekv.conf: INI-style sections, one per named database, whose
 * keys are the long option names of ekvctl and ekvd (see ekv.conf(5)).
 */
#ifndef EKV_TOOL_CONF_H
#define EKV_TOOL_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* Numbers up to UINT32_MAX, decimal or 0x-hex ("064" is refused: neither
 * octal nor decimal would be what everyone expects), and
 * yes/no/true/false/on/off/1/0: the value syntax of ekv.conf and of the
 * options it mirrors. */
bool conf_parse_u32(const char *s, uint32_t *out);
bool conf_parse_bool(const char *s, bool *out);

#endif
