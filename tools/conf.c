/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * conf.c — the configuration file parser (ekv.conf(5)) and the value
 * syntax it shares with the command lines of ekvctl and ekvd.
 *
 * Owns: the file's syntax (sections, key = value, comments), numbers and
 * yes/no values.  Must never: interpret a key (settings.c does).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = 0;
	return s;
}

static bool valid_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("_.-:@", *s))
			return false;
	return true;
}

int conf_load(const char *path, const char *section, bool (*known)(const char *key),
	      struct conf *c, char *msg, size_t msg_size)
{
	memset(c, 0, sizeof(*c));
	FILE *in = fopen(path, "re");
	if (!in) {
		if (errno == ENOENT)
			return -ENOENT;
		snprintf(msg, msg_size, "%s: %s", path, strerror(errno));
		return -1;
	}
	char *line = NULL;
	size_t cap = 0;
	int lineno = 0, rc = 0;
	bool in_section = false, any_section = false;
	while (getline(&line, &cap, in) >= 0) {
		lineno++;
		char *s = trim(line);
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *end = strchr(s, ']');
			if (!end || end[1]) {
				snprintf(msg, msg_size, "%s:%d: expected [name]", path, lineno);
				rc = -1;
				break;
			}
			*end = 0;
			char *name = trim(s + 1);
			if (!valid_name(name)) {
				snprintf(msg, msg_size, "%s:%d: invalid section name '%s'", path, lineno,
					 name);
				rc = -1;
				break;
			}
			in_section = !strcmp(name, section);
			c->section_found |= in_section;
			any_section = true;
			continue;
		}
		char *eq = strchr(s, '=');
		if (!eq) {
			snprintf(msg, msg_size, "%s:%d: expected 'key = value' or '[name]'", path,
				 lineno);
			rc = -1;
			break;
		}
		*eq = 0;
		char *key = trim(s), *value = trim(eq + 1);
		size_t vn = strlen(value);
		if (vn >= 2 && value[0] == '"' && value[vn - 1] == '"') {
			value[vn - 1] = 0;
			value++;
		}
		if (!any_section) {
			snprintf(msg, msg_size, "%s:%d: '%s' outside a [section]", path, lineno, key);
			rc = -1;
			break;
		}
		if (!known(key)) {
			snprintf(msg, msg_size, "%s:%d: unknown key '%s'", path, lineno, key);
			rc = -1;
			break;
		}
		if (!in_section)
			continue;
		struct conf_entry *e = realloc(c->e, (c->n + 1) * sizeof(*e));
		if (!e) {
			snprintf(msg, msg_size, "out of memory");
			rc = -1;
			break;
		}
		c->e = e;
		e[c->n].key = strdup(key);
		e[c->n].value = strdup(value);
		e[c->n].line = lineno;
		c->n++;
		if (!e[c->n - 1].key || !e[c->n - 1].value) {
			snprintf(msg, msg_size, "out of memory");
			rc = -1;
			break;
		}
	}
	free(line);
	fclose(in);
	if (rc < 0)
		conf_free(c);
	return rc;
}

void conf_free(struct conf *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->e[i].key);
		free(c->e[i].value);
	}
	free(c->e);
	c->e = NULL;
	c->n = 0;
}

static int digit_value(char c, unsigned base)
{
	int v = c >= '0' && c <= '9' ? c - '0'
		: c >= 'a' && c <= 'f' ? c - 'a' + 10
		: c >= 'A' && c <= 'F' ? c - 'A' + 10
				       : 99;
	return v < (int)base ? v : -1;
}

bool conf_parse_u32(const char *s, uint32_t *out)
{
	unsigned base = 10;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	} else if (s[0] == '0' && s[1]) {
		return false; /* "064": C would read octal 52, a person decimal 64 */
	}
	if (!*s)
		return false;
	uint64_t v = 0;
	for (; *s; s++) {
		int d = digit_value(*s, base);
		if (d < 0)
			return false;
		v = v * base + (unsigned)d;
		if (v > UINT32_MAX)
			return false;
	}
	*out = (uint32_t)v;
	return true;
}

bool conf_parse_bool(const char *s, bool *out)
{
	static const char *yes[] = {"yes", "true", "on", "1"}, *no[] = {"no", "false", "off", "0"};
	for (int i = 0; i < 4; i++) {
		if (!strcasecmp(s, yes[i]) || !strcasecmp(s, no[i])) {
			*out = !strcasecmp(s, yes[i]);
			return true;
		}
	}
	return false;
}
