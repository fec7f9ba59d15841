/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * settings.h — the database settings of ekvctl and ekvd: the keys of
 * ekv.conf(5) and the command-line options that mirror them (the image or
 * device, the profile fields of profile_fields.h, the allocator seed, the
 * busy wait), and how a command line and the configuration file combine.
 *
 * Owns: the list of settings with their option names and help texts, the
 * value each one takes (conf.c's syntax, the profile table's ranges), and
 * the precedence of ekv.conf(5): the command line wins key by key, an image
 * or device on the command line replaces both keys of the file, and a file
 * is read only for -d NAME or when the command line names no database.
 * Must never: open a database (dbspec.c does), print or exit (ekvctl tells
 * the user on stderr, ekvd its log).
 *
 * A new setting: an enum value before SET_COUNT, a row in settings.c, a
 * member of struct settings with its case in settings.c's apply().
 */
#ifndef EKV_TOOL_SETTINGS_H
#define EKV_TOOL_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ekv.h"
#include "profile_fields.h"

enum setting_id {
	SET_IMAGE,
	SET_DEVICE,
	SET_PROFILE, /* SET_PROFILE + EKV_PF_x: profile field x (SET_FIELD(x)) */
	SET_SEED = SET_PROFILE + EKV_PF_COUNT,
	SET_WAIT,
	SET_ON_DAMAGE,
	SET_COUNT
};
#define SET_FIELD(field) ((enum setting_id)(SET_PROFILE + EKV_PF_##field))

enum setting_group { SETTING_DATABASE, SETTING_PROFILE, SETTING_GENERAL };

/* Which programs take a setting as an option (both accept every key in the
 * configuration file, and ignore the ones they do not use). */
#define SETTING_EKVCTL 1u
#define SETTING_EKVD 2u

struct setting_def {
	const char *key;   /* ekv.conf key and long option */
	int short_opt;     /* short option letter, 0 if none */
	const char *arg;   /* name of the value in help texts; NULL: a yes/no switch */
	bool arg_optional; /* the option may be given without a value */
	enum setting_group group;
	unsigned programs; /* SETTING_EKVCTL | SETTING_EKVD */
};

const struct setting_def *setting_def(enum setting_id id);
/* SET_* of an ekv.conf key / long option, or -1. */
int setting_find(const char *key);
bool setting_known(const char *key);
/* The help text of an option, its default included; for a yes/no switch
 * `negated` gives the text of --no-KEY. */
void setting_help(enum setting_id id, bool negated, char *buf, size_t size);

/*
 * Numbering of the settings' options in a program's option parser: from
 * `base`, base + SET_x for --KEY and base + SET_COUNT + SET_x for --no-KEY
 * of a yes/no setting; the short letter where a setting has one.  The
 * setting a value stands for, or -1; *negated for --no-KEY.
 */
#define SETTING_OPTION(base, id) ((base) + (int)(id))
#define SETTING_NO_OPTION(base, id) ((base) + SET_COUNT + (int)(id))
int setting_of_option(int val, int base, bool *negated);

/* A profile field's value as ekv.conf and the options write it: "4096",
 * "0xFF", "yes". */
void profile_field_text(const struct ekv_profile *p, enum ekv_pf_id f, char *buf, size_t size);
/* The profile as ekvctl's options ("--page-size 4096 ... --crc ..."): the
 * fields of on-disk layout `layout` but those in `skip` (bits 1 << EKV_PF_x);
 * a yes/no field only when on.  Returns buf. */
const char *profile_options_text(const struct ekv_profile *p, unsigned layout, uint32_t skip,
				 char *buf, size_t size);

struct settings {
	const char *conf_path; /* $EKV_CONF, -c, else /etc/ekv.conf */
	bool conf_explicit;    /* named by $EKV_CONF or -c: it must exist */
	const char *db_name;   /* -d NAME: section [NAME], which must exist */
	bool section_found;    /* the file had the section read */

	const char *image, *device; /* at most one is set */
	struct ekv_profile p;
	uint32_t seed;
	int wait_ms; /* -1: forever */
	enum ekv_on_damage on_damage;

	uint64_t cmdline; /* 1 << SET_*: given on the command line */
	uint64_t conf;    /* 1 << SET_*: taken from the configuration file */
	char *owned[SET_COUNT]; /* the values taken from the file */
};

#define DEFAULT_CONF "/etc/ekv.conf"

/* Defaults, and the configuration file named by $EKV_CONF. */
void settings_init(struct settings *s);
void settings_free(struct settings *s);

/* Given on the command line or in the configuration file. */
bool settings_given(const struct settings *s, enum setting_id id);

/*
 * A command-line option with its value (NULL: given without one, as --crc
 * or --wait; "no" for --no-KEY of a yes/no setting).  0, or -1 with msg.
 */
int settings_set_option(struct settings *s, enum setting_id id, const char *value, char *msg,
			size_t msg_size);

/*
 * Fill what the command line left open from the configuration file:
 * section [db_name], else [default].  A command line that names its
 * database (--image/--device) without -d does not read the file, and a
 * missing file is an error only when it was named or -d was given.
 * 0, or -1 with msg (naming the file and line where one is at fault).
 */
int settings_read_conf(struct settings *s, char *msg, size_t msg_size);

#endif
