/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * options.h — ekvctl's command line: the global options (the database
 * settings of tools/settings.h, generated from its table, and ekvctl's own:
 * -s, -y, -v, -q, --socket, --direct), the options of the commands, and the
 * configuration file that fills what the command line leaves open.
 */
#ifndef EKVCTL_OPTIONS_H
#define EKVCTL_OPTIONS_H

#include <argp.h>
#include <stdbool.h>

#include "settings.h"

struct opts {
	struct settings s;  /* the database, its profile, seed, wait */
	const char *socket; /* --socket: use ekvd there */
	bool socket_forced; /* --socket given: never open directly */
	bool direct;        /* --direct: never use ekvd */
	bool verbose, quiet, yes;
	bool strict;        /* --strict: list, get, export fail on a damaged database */
	bool damaged;       /* a database this run opened was mounted past damage */
	const char *script; /* -s FILE */
};

/* One command as invoked: its arguments and options. */
struct cmd {
	struct opts *o;
	const char *name;
	char **args;
	int nargs;
	bool value_only, hex, raw, json, keys_only, must_exist, hex_args, replace;
	bool dump_pages, dump_files, dump_records;
	const char *file, *from, *to;
};

/* Keys of the commands' options (argp_option.key). */
enum {
	OPT_HEX = 2000,
	OPT_RAW,
	OPT_JSON,
	OPT_KEYS,
	OPT_MUST_EXIST,
	OPT_HEX_ARGS,
	OPT_FILE,
	OPT_FROM,
	OPT_TO,
	OPT_REPLACE,
	OPT_PAGES,
	OPT_FILES,
	OPT_RECORDS,
};
#define O_HEX_ARGS                                                                                 \
	{"hex-args", OPT_HEX_ARGS, 0, 0,                                                           \
	 "KEY, VALUE and prefix arguments are hex strings ('-' = empty)", 0}

void options_init(struct opts *o);
void options_free(struct opts *o);

/* The global options, a child of every parser (its input is a struct cmd). */
const struct argp_child *options_global_child(void);
/* The parser of the commands' options (input: struct cmd). */
error_t options_parse_command(int key, char *arg, struct argp_state *state);

/* Read the configuration file (settings_read_conf): 0 or an exit status,
 * the problem told on stderr. */
int options_resolve(struct opts *o);

#endif
