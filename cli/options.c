/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * options.c — ekvctl's options (options.h).  The database settings are
 * generated from tools/settings.h, so ekvctl, ekvd and ekv.conf(5) take the
 * same names and values; a new setting or profile field needs nothing here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "report.h"

/* argp keys: the settings' options from OPT_SETTING (settings.h), then
 * ekvctl's own */
enum {
	OPT_SETTING = 1000,
	OPT_SOCKET = 1900,
	OPT_DIRECT,
	OPT_STRICT,
};
_Static_assert(SETTING_NO_OPTION(OPT_SETTING, SET_COUNT) <= OPT_SOCKET, "option keys overlap");

void options_init(struct opts *o)
{
	memset(o, 0, sizeof(*o));
	settings_init(&o->s);
}

void options_free(struct opts *o)
{
	settings_free(&o->s);
}

/* ---- the global options, built from the settings table --------------------------- */

static struct argp_option global_options[17 + 2 * SET_COUNT];
static char setting_helps[SET_COUNT][2][256]; /* [id][negated] */
static char no_names[SET_COUNT][64];          /* "no-KEY" of a yes/no setting */

static void add(size_t *n, struct argp_option opt)
{
	global_options[(*n)++] = opt;
}

static void add_settings(size_t *n, enum setting_group group, int argp_group)
{
	for (int id = 0; id < SET_COUNT; id++) {
		const struct setting_def *d = setting_def((enum setting_id)id);
		if (d->group != group || !(d->programs & SETTING_EKVCTL))
			continue;
		char *help = setting_helps[id][0];
		setting_help((enum setting_id)id, false, help, sizeof(setting_helps[id][0]));
		int key = d->short_opt ? d->short_opt : SETTING_OPTION(OPT_SETTING, id);
		add(n, (struct argp_option){d->key, key, d->arg,
					    d->arg_optional ? OPTION_ARG_OPTIONAL : 0, help,
					    argp_group});
		if (d->arg)
			continue;
		/* a yes/no switch: --KEY and --no-KEY */
		help = setting_helps[id][1];
		setting_help((enum setting_id)id, true, help, sizeof(setting_helps[id][1]));
		snprintf(no_names[id], sizeof(no_names[id]), "no-%s", d->key);
		add(n, (struct argp_option){no_names[id], SETTING_NO_OPTION(OPT_SETTING, id), 0,
					    0, help, argp_group});
	}
}

static void build_global_options(void)
{
	size_t n = 0;
	add(&n, (struct argp_option){0, 0, 0, 0, "Database:", 1});
	add(&n, (struct argp_option){"config", 'c', "FILE", 0,
				     "Configuration file (default " DEFAULT_CONF ", or $EKV_CONF)",
				     1});
	add(&n, (struct argp_option){"db", 'd', "NAME", 0,
				     "Database NAME: a [NAME] section of the configuration file "
				     "(default: [default])",
				     1});
	add_settings(&n, SETTING_DATABASE, 1);
	add(&n, (struct argp_option){0, 0, 0, 0,
				     "Profile (give the one the database was formatted with):", 2});
	add_settings(&n, SETTING_PROFILE, 2);
	add(&n, (struct argp_option){0, 0, 0, 0, "General:", 3});
	add(&n, (struct argp_option){"script", 's', "FILE", 0,
				     "Apply a key=value script as one transaction (= batch FILE)",
				     3});
	add(&n, (struct argp_option){"yes", 'y', 0, 0, "Do not ask for confirmation (format)", 3});
	add(&n, (struct argp_option){"verbose", 'v', 0, 0, "Report the options in effect", 3});
	add(&n, (struct argp_option){"quiet", 'q', 0, 0, "No progress bar or notes, only errors",
				     3});
	add(&n, (struct argp_option){"strict", OPT_STRICT, 0, 0,
				     "list, get and export exit non-zero when the database was "
				     "mounted past damage (see --on-damage)",
				     3});
	add_settings(&n, SETTING_GENERAL, 3);
	add(&n, (struct argp_option){"socket", OPT_SOCKET, "PATH", 0,
				     "Go through ekvd at PATH; without --socket or --direct, ekvd "
				     "at $EKV_SOCKET (else " EKV_DEFAULT_SOCKET
				     ") is used when it serves the database asked for",
				     3});
	add(&n, (struct argp_option){"direct", OPT_DIRECT, 0, 0,
				     "Open the image or device directly, never through ekvd", 3});
	add(&n, (struct argp_option){"help", 'h', 0, 0, "Give this help list", -1});
	add(&n, (struct argp_option){0});
}

static error_t parse_global(int key, char *arg, struct argp_state *state)
{
	struct cmd *c = state->input;
	struct opts *o = c->o;
	char msg[256];
	switch (key) {
	case 'c': o->s.conf_path = arg; o->s.conf_explicit = true; return 0;
	case 'd': o->s.db_name = arg; return 0;
	case 's': o->script = arg; return 0;
	case 'y': o->yes = true; return 0;
	case 'v': o->verbose = true; return 0;
	case 'q': o->quiet = true; return 0;
	case OPT_STRICT: o->strict = true; return 0;
	case OPT_SOCKET: o->socket = arg; o->socket_forced = true; return 0;
	case OPT_DIRECT: o->direct = true; return 0;
	case 'h': argp_state_help(state, stdout, ARGP_HELP_STD_HELP); return 0;
	default: break;
	}
	bool negated;
	int id = setting_of_option(key, OPT_SETTING, &negated);
	if (id < 0)
		return ARGP_ERR_UNKNOWN;
	if (settings_set_option(&o->s, (enum setting_id)id, negated ? "no" : arg, msg,
				sizeof(msg)) < 0)
		argp_error(state, "%s", msg);
	return 0;
}

const struct argp_child *options_global_child(void)
{
	static struct argp global_argp = {global_options, parse_global, 0, 0, 0, 0, 0};
	static const struct argp_child child[] = {{&global_argp, 0, "Global options:", 10}, {0}};
	if (!global_options[0].doc)
		build_global_options();
	return child;
}

/* ---- the commands' options ------------------------------------------------------------ */

error_t options_parse_command(int key, char *arg, struct argp_state *state)
{
	struct cmd *c = state->input;
	switch (key) {
	case 'n': c->value_only = true; return 0;
	case OPT_HEX: c->hex = true; return 0;
	case OPT_RAW: c->raw = true; return 0;
	case OPT_JSON: c->json = true; return 0;
	case OPT_KEYS: c->keys_only = true; return 0;
	case OPT_MUST_EXIST: c->must_exist = true; return 0;
	case OPT_HEX_ARGS: c->hex_args = true; return 0;
	case OPT_REPLACE: c->replace = true; return 0;
	case OPT_PAGES: c->dump_pages = true; return 0;
	case OPT_FILES: c->dump_files = true; return 0;
	case OPT_RECORDS: c->dump_records = true; return 0;
	case OPT_FILE: c->file = arg; return 0;
	case OPT_FROM: c->from = arg; return 0;
	case OPT_TO: c->to = arg; return 0;
	case ARGP_KEY_ARG: {
		char **a = realloc(c->args, sizeof(*a) * (size_t)(c->nargs + 1));
		if (!a)
			return ENOMEM;
		c->args = a;
		c->args[c->nargs++] = arg;
		return 0;
	}
	case ARGP_KEY_INIT:
		state->child_inputs[0] = c;
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

/* ---- the configuration file ------------------------------------------------------------ */

int options_resolve(struct opts *o)
{
	char msg[600];
	if (settings_read_conf(&o->s, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "%s: %s\n", prog, msg);
		return EXIT_USAGE;
	}
	return 0;
}
