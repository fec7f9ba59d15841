/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * settings.c — the database settings of ekvctl and ekvd and their
 * precedence (see settings.h and ekv.conf(5)).
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "settings.h"

#define BOTH (SETTING_EKVCTL | SETTING_EKVD)
#define BIT(id) ((uint64_t)1 << (id))

/* The value of a profile option in help texts; NULL for a yes/no switch. */
#define kind_arg(kind) ((kind) == EKV_PF_BOOL ? NULL : (kind) == EKV_PF_ERASE ? "0xFF|0x00" : "N")

static const struct setting_def defs[SET_COUNT] = {
	[SET_IMAGE] = {"image", 'i', "FILE", false, SETTING_DATABASE, BOTH},
	[SET_DEVICE] = {"device", 0, "DEV", false, SETTING_DATABASE, BOTH},
#define PROFILE_ROW(field, key, kind, ...)                                                         \
	[SET_FIELD(field)] = {key, 0, kind_arg(EKV_PF_##kind), false, SETTING_PROFILE, BOTH},
	EKV_PROFILE_FIELDS(PROFILE_ROW)
#undef PROFILE_ROW
	[SET_SEED] = {"seed", 0, "N", false, SETTING_GENERAL, BOTH},
	[SET_WAIT] = {"wait", 0, "SECONDS", true, SETTING_GENERAL, SETTING_EKVCTL},
	[SET_ON_DAMAGE] = {"on-damage", 0, "auto|fallback|refuse", false, SETTING_GENERAL, BOTH},
};

/* Help of the settings that are not profile fields (those have theirs in
 * profile_fields.h). */
static const char *const helps[SET_COUNT] = {
	[SET_IMAGE] = "Flash image file",
	[SET_DEVICE] = "MTD device (/dev/mtdN or mtd:NAME)",
	[SET_SEED] = "Allocator seed (default: random)",
	[SET_WAIT] = "Wait for a busy database (default: writes fail at once, reads wait 5 s; "
		     "no value: forever)",
	[SET_ON_DAMAGE] = "When mount finds damage: use the newest state that validates "
			  "(fallback) or fail (refuse); auto (the default): refuse with crc, "
			  "fallback without",
};

const struct setting_def *setting_def(enum setting_id id)
{
	return &defs[id];
}

int setting_find(const char *key)
{
	for (int i = 0; i < SET_COUNT; i++)
		if (!strcmp(key, defs[i].key))
			return i;
	return -1;
}

bool setting_known(const char *key)
{
	return setting_find(key) >= 0;
}

int setting_of_option(int val, int base, bool *negated)
{
	*negated = val >= SETTING_NO_OPTION(base, 0) && val < SETTING_NO_OPTION(base, SET_COUNT);
	if (*negated)
		return val - SETTING_NO_OPTION(base, 0);
	if (val >= SETTING_OPTION(base, 0) && val < SETTING_OPTION(base, SET_COUNT))
		return val - SETTING_OPTION(base, 0);
	for (int id = 0; id < SET_COUNT && val; id++)
		if (defs[id].short_opt == val)
			return id;
	return -1;
}

static bool is_field(enum setting_id id)
{
	return id >= SET_PROFILE && id < SET_PROFILE + EKV_PF_COUNT;
}

void setting_help(enum setting_id id, bool negated, char *buf, size_t size)
{
	if (!is_field(id)) {
		snprintf(buf, size, "%s", helps[id]);
		return;
	}
	enum ekv_pf_id f = (enum ekv_pf_id)(id - SET_PROFILE);
	const struct ekv_pf *pf = &ekv_pf_table[f];
	/* dbspec_open derives these two from the flash when they are not given */
	if (f == EKV_PF_page_count)
		snprintf(buf, size, "%s (default: the device's or image's size, else %u)", pf->help,
			 pf->def);
	else if (f == EKV_PF_max_page_count)
		snprintf(buf, size, "%s (default: max(%u, page count))", pf->help, pf->def);
	else if (pf->kind == EKV_PF_BOOL && negated)
		snprintf(buf, size, "Not --%s%s", pf->key, pf->def ? "" : " (the default)");
	else if (pf->kind == EKV_PF_BOOL)
		snprintf(buf, size, "%s (default: %s)", pf->help, pf->def ? "yes" : "no");
	else if (pf->kind == EKV_PF_ERASE)
		snprintf(buf, size, "%s (default 0x%02X)", pf->help, pf->def);
	else
		snprintf(buf, size, "%s (default %u)", pf->help, pf->def);
}

void profile_field_text(const struct ekv_profile *p, enum ekv_pf_id f, char *buf, size_t size)
{
	uint32_t v = ekv_pf_get(p, f);
	switch (ekv_pf_table[f].kind) {
	case EKV_PF_BOOL:
		snprintf(buf, size, "%s", v ? "yes" : "no");
		break;
	case EKV_PF_ERASE:
		snprintf(buf, size, "0x%02X", v);
		break;
	case EKV_PF_NUM:
		snprintf(buf, size, "%u", v);
		break;
	}
}

const char *profile_options_text(const struct ekv_profile *p, unsigned layout, uint32_t skip,
				 char *buf, size_t size)
{
	size_t n = 0;
	buf[0] = 0;
	for (int i = 0; i < EKV_PF_COUNT && n < size; i++) {
		const struct ekv_pf *pf = &ekv_pf_table[i];
		char value[16];
		if ((skip & (1u << i)) || !(pf->layouts & EKV_PF_LAYOUT(layout)))
			continue;
		if (pf->kind == EKV_PF_BOOL) {
			if (ekv_pf_get(p, (enum ekv_pf_id)i))
				n += (size_t)snprintf(buf + n, size - n, "%s--%s", n ? " " : "",
						      pf->key);
			continue;
		}
		profile_field_text(p, (enum ekv_pf_id)i, value, sizeof(value));
		n += (size_t)snprintf(buf + n, size - n, "%s--%s %s", n ? " " : "", pf->key, value);
	}
	return buf;
}

/* ---- values ------------------------------------------------------------------ */

static int bad_number(const char *key, const char *v, char *msg, size_t msg_size)
{
	bool octal_like = v[0] == '0' && isdigit((unsigned char)v[1]);
	snprintf(msg, msg_size, "invalid %s '%s' (a decimal or 0x-hex number%s)", key, v,
		 octal_like ? "; a leading 0 is refused, not read as octal" : "");
	return -1;
}

static int apply_field(struct ekv_profile *p, enum ekv_pf_id f, const char *v, char *msg,
		       size_t msg_size)
{
	const struct ekv_pf *pf = &ekv_pf_table[f];
	uint32_t n = 0;
	bool b = true;
	switch (pf->kind) {
	case EKV_PF_BOOL:
		if (v && !conf_parse_bool(v, &b)) {
			snprintf(msg, msg_size, "invalid %s '%s' (yes or no)", pf->key, v);
			return -1;
		}
		n = b;
		break;
	case EKV_PF_ERASE:
		if (!v || !conf_parse_u32(v, &n) || (n != 0x00 && n != 0xff)) {
			snprintf(msg, msg_size, "invalid %s '%s' (0xFF or 0x00)", pf->key,
				 v ? v : "");
			return -1;
		}
		break;
	case EKV_PF_NUM:
		if (!v || !conf_parse_u32(v, &n))
			return bad_number(pf->key, v ? v : "", msg, msg_size);
		if (n < pf->min || n > pf->max) {
			snprintf(msg, msg_size, "%s %u out of range (%u to %u)", pf->key, n,
				 pf->min, pf->max);
			return -1;
		}
		break;
	}
	ekv_pf_set(p, f, n);
	return 0;
}

static int apply(struct settings *s, enum setting_id id, const char *v, char *msg,
		 size_t msg_size)
{
	if (is_field(id))
		return apply_field(&s->p, (enum ekv_pf_id)(id - SET_PROFILE), v, msg, msg_size);
	uint32_t n;
	switch (id) {
	case SET_IMAGE:
	case SET_DEVICE:
		/* one database: the later of an image and a device wins */
		s->image = id == SET_IMAGE ? v : NULL;
		s->device = id == SET_DEVICE ? v : NULL;
		s->conf &= ~BIT(id == SET_IMAGE ? SET_DEVICE : SET_IMAGE);
		return 0;
	case SET_SEED:
		if (!v || !conf_parse_u32(v, &n))
			return bad_number("seed", v ? v : "", msg, msg_size);
		s->seed = n;
		return 0;
	case SET_WAIT:
		if (!v) {
			s->wait_ms = -1;
			return 0;
		}
		if (!conf_parse_u32(v, &n))
			return bad_number("wait", v, msg, msg_size);
		if (n > INT_MAX / 1000) {
			snprintf(msg, msg_size, "wait %u out of range (0 to %d seconds)", n,
				 INT_MAX / 1000);
			return -1;
		}
		s->wait_ms = (int)(n * 1000);
		return 0;
	case SET_ON_DAMAGE:
		if (v && !strcmp(v, "auto"))
			s->on_damage = EKV_ON_DAMAGE_AUTO;
		else if (v && !strcmp(v, "fallback"))
			s->on_damage = EKV_ON_DAMAGE_FALLBACK;
		else if (v && !strcmp(v, "refuse"))
			s->on_damage = EKV_ON_DAMAGE_REFUSE;
		else {
			snprintf(msg, msg_size, "on-damage '%s' is not auto, fallback or refuse",
				 v ? v : "");
			return -1;
		}
		return 0;
	default:
		snprintf(msg, msg_size, "unknown setting %d", (int)id);
		return -1;
	}
}

/* ---- the two sources ------------------------------------------------------------ */

void settings_init(struct settings *s)
{
	memset(s, 0, sizeof(*s));
	ekv_profile_default(&s->p);
	s->p.layout = 1; /* the Rust crate's layout */
	s->conf_path = getenv("EKV_CONF");
	s->conf_explicit = s->conf_path && *s->conf_path;
	if (!s->conf_explicit)
		s->conf_path = DEFAULT_CONF;
}

void settings_free(struct settings *s)
{
	for (int i = 0; i < SET_COUNT; i++) {
		free(s->owned[i]);
		s->owned[i] = NULL;
	}
}

bool settings_given(const struct settings *s, enum setting_id id)
{
	return (s->cmdline | s->conf) & BIT(id);
}

int settings_set_option(struct settings *s, enum setting_id id, const char *value, char *msg,
			size_t msg_size)
{
	if ((id == SET_IMAGE && (s->cmdline & BIT(SET_DEVICE))) ||
	    (id == SET_DEVICE && (s->cmdline & BIT(SET_IMAGE)))) {
		snprintf(msg, msg_size, "--image and --device exclude each other");
		return -1;
	}
	if (apply(s, id, value, msg, msg_size) < 0)
		return -1;
	s->cmdline |= BIT(id);
	return 0;
}

int settings_read_conf(struct settings *s, char *msg, size_t msg_size)
{
	bool target_on_cmdline = s->cmdline & (BIT(SET_IMAGE) | BIT(SET_DEVICE));
	if (target_on_cmdline && !s->db_name)
		return 0;
	const char *path = s->conf_path;
	struct conf c;
	char why[512];
	int e = conf_load(path, s->db_name ? s->db_name : "default", setting_known, &c, why,
			  sizeof(why));
	if (e == -ENOENT) {
		if (!s->conf_explicit && !s->db_name)
			return 0;
		if (s->db_name)
			snprintf(msg, msg_size, "%s: no such configuration file (needed for -d %s)",
				 path, s->db_name);
		else
			snprintf(msg, msg_size, "%s: no such configuration file", path);
		return -1;
	}
	if (e < 0) {
		snprintf(msg, msg_size, "%s", why);
		return -1;
	}
	s->section_found = c.section_found;
	int rc = 0;
	if (s->db_name && !c.section_found) {
		snprintf(msg, msg_size, "%s: no database [%s]", path, s->db_name);
		rc = -1;
	}
	for (size_t i = 0; i < c.n && !rc; i++) {
		enum setting_id id = (enum setting_id)setting_find(c.e[i].key);
		bool is_target = id == SET_IMAGE || id == SET_DEVICE;
		if ((s->cmdline & BIT(id)) || (is_target && target_on_cmdline))
			continue;
		char *copy = strdup(c.e[i].value);
		if (!copy)
			snprintf(why, sizeof(why), "out of memory");
		if (!copy || apply(s, id, copy, why, sizeof(why)) < 0) {
			snprintf(msg, msg_size, "%s:%d: %s", path, c.e[i].line, why);
			free(copy);
			rc = -1;
			break;
		}
		/* a repeated key: the last one counts */
		free(s->owned[id]);
		s->owned[id] = copy;
		s->conf |= BIT(id);
	}
	conf_free(&c);
	return rc;
}
