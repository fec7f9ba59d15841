/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * ekvctl — command-line access to an ekv database, made for shell scripts.
 *
 * Parsing and presentation only; every decision about the data lives in
 * libekv (transactions, verification, dump and probe included).  This file
 * holds main() and the data commands (get, put, delete, list, batch,
 * export, import, format); options.c the command line and configuration
 * file, open.c the opening of databases (tools/dbspec.c resolves which
 * flash and which profile, the same way for ekvd), report.c messages and
 * exit codes, inspect.c stat/dump/fsck/probe/devices, hexbatch.c
 * `batch --hex`.  Exit codes: 0 ok, 1 key not found or damage found,
 * 2 usage, 3 device or I/O error, 4 corrupted, 5 busy, 6 no space.  See
 * ekvctl(1).
 */
#include <argp.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ekvctl.h"
#include "open.h"
#include "options.h"
#include "report.h"
#include "text.h"

/* ---- key and value arguments ------------------------------------------------ */

static bool arg_bytes(const struct cmd *c, const char *s, struct bytes *out)
{
	if (c->hex_args) {
		if (!parse_hex(s, out)) {
			usage_error("'%s' is not a hex string", s);
			return false;
		}
		return true;
	}
	out->n = 0;
	return bytes_push(out, s, strlen(s)) == 0;
}

/* Read a value of at most `limit` bytes: 0, EKV_ETOOBIG as soon as there
 * is more (the rest is not read: the input may be endless), or a read
 * error (-errno). */
static int read_value(FILE *in, struct bytes *out, size_t limit)
{
	char buf[65536];
	out->n = 0;
	if (bytes_push(out, "", 0) < 0)
		return EKV_ENOMEM;
	for (;;) {
		size_t want = limit + 1 - out->n;
		size_t n = fread(buf, 1, want < sizeof(buf) ? want : sizeof(buf), in);
		if (n == 0)
			break;
		if (bytes_push(out, buf, n) < 0)
			return EKV_ENOMEM;
		if (out->n > limit)
			return EKV_ETOOBIG;
	}
	return ferror(in) ? -(errno ? errno : EIO) : 0;
}

static void print_key_escaped_stderr(const char *what, const uint8_t *k, size_t n)
{
	fprintf(stderr, "%s: ", prog);
	print_escaped(stderr, k, n);
	fprintf(stderr, ": %s\n", what);
}

/* ---- get ------------------------------------------------------------------- */

static int cmd_get(struct cmd *c)
{
	if (c->nargs < 1)
		return usage_error("get: no KEY given");
	if (c->raw && c->nargs != 1)
		return usage_error("get --raw takes exactly one KEY");
	if (c->raw && (c->hex || c->json))
		return usage_error("get: --raw excludes --hex");
	struct handle h;
	int r = open_db(c->o, DBSPEC_READ, &h, NULL);
	if (r)
		return r;
	ekv_rtx *rtx = NULL;
	uint8_t *val = malloc(h.p.max_value_size + 1);
	struct bytes key = {0};
	int e = val ? ekv_rtx_begin(h.db, &rtx) : EKV_ENOMEM;
	int rc = 0;
	for (int i = 0; e == 0 && i < c->nargs; i++) {
		if (!arg_bytes(c, c->args[i], &key)) {
			rc = EXIT_USAGE;
			break;
		}
		size_t vlen = 0;
		int g = ekv_rtx_get(rtx, key.p, key.n, val, h.p.max_value_size, &vlen);
		if (g == EKV_ENOTFOUND) {
			print_key_escaped_stderr("key not found", key.p, key.n);
			if (!rc)
				rc = EXIT_NOTFOUND;
			continue;
		}
		if (g == EKV_ETOOBIG) {
			print_key_escaped_stderr("key longer than the profile's max key size", key.p,
						 key.n);
			rc = EXIT_USAGE;
			continue;
		}
		if (g < 0) {
			e = g;
			break;
		}
		if (c->raw) {
			fwrite(val, 1, vlen, stdout);
		} else if (c->hex) {
			if (!c->value_only) {
				print_hex(stdout, key.p, key.n);
				putchar(' ');
			}
			print_hex(stdout, val, vlen);
			putchar('\n');
		} else {
			if (!c->value_only) {
				print_escaped(stdout, key.p, key.n);
				putchar('=');
			}
			print_escaped(stdout, val, vlen);
			putchar('\n');
		}
	}
	ekv_rtx_end(rtx);
	close_db(&h);
	free(val);
	bytes_free(&key);
	if (e < 0)
		return report_failure(e, "get");
	if (fflush(stdout))
		return EXIT_IO;
	return rc;
}

/* ---- writing a set of operations as one transaction --------------------------- */

static int check_sizes(const struct handle *h, const struct opset *s, const char *src)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct op *op = &s->ops[i];
		const char *what = op->key.n > h->p.max_key_size ? "key longer than max-key-size"
				   : op->val.n > h->p.max_value_size ? "value longer than max-value-size"
								      : NULL;
		if (!what)
			continue;
		if (src && op->line)
			fprintf(stderr, "%s: %s:%d: %s (%zu > %u)\n", prog, src, op->line, what,
				op->key.n > h->p.max_key_size ? op->key.n : op->val.n,
				op->key.n > h->p.max_key_size ? h->p.max_key_size
							      : h->p.max_value_size);
		else
			print_key_escaped_stderr(what, op->key.p, op->key.n);
		return EXIT_USAGE;
	}
	return 0;
}

/* Apply a sorted, unique op set atomically. */
static int apply_ops(struct handle *h, const struct opset *s, struct progress *pg,
		     const char *what)
{
	if (s->n == 0)
		return 0;
	ekv_wtx *tx;
	int e = ekv_wtx_begin(h->db, &tx);
	if (e < 0)
		return report_failure(e, what);
	for (size_t i = 0; i < s->n && e == 0; i++) {
		const struct op *op = &s->ops[i];
		e = op->del ? ekv_wtx_delete(tx, op->key.p, op->key.n)
			    : ekv_wtx_put(tx, op->key.p, op->key.n, op->val.p, op->val.n);
		if (pg)
			progress_cb(pg, i + 1, s->n);
	}
	if (pg)
		progress_end(pg);
	if (e < 0) {
		ekv_wtx_abort(tx);
		return report_failure(e, what);
	}
	e = ekv_wtx_commit(tx);
	return e < 0 ? report_failure(e, what) : 0;
}

/* ---- put ------------------------------------------------------------------- */

/* The value of `op` from a file or stdin ('-'), after the database is open:
 * its profile bounds what is read. */
static int read_streamed_value(const struct cmd *c, const struct handle *h, struct op *op)
{
	bool from_stdin = !c->file || !strcmp(c->file, "-");
	const char *name = from_stdin ? "stdin" : c->file;
	FILE *in = from_stdin ? stdin : fopen(c->file, "rbe");
	if (!in) {
		fprintf(stderr, "%s: %s: %s\n", prog, name, strerror(errno));
		return EXIT_IO;
	}
	errno = 0;
	int e = read_value(in, &op->val, h->p.max_value_size);
	if (!from_stdin)
		fclose(in);
	if (e == EKV_ETOOBIG) {
		fprintf(stderr, "%s: the value from %s is longer than max-value-size %u\n", prog,
			name, h->p.max_value_size);
		return EXIT_USAGE;
	}
	if (e < 0) {
		fprintf(stderr, "%s: reading the value from %s: %s\n", prog, name, ekv_strerror(e));
		return EXIT_IO;
	}
	return 0;
}

static int cmd_put(struct cmd *c)
{
	struct opset s = {0};
	int rc = 0;
	if (c->file) {
		if (c->nargs != 1)
			return usage_error("put --file FILE takes exactly one KEY");
	} else if (c->nargs < 2 || c->nargs % 2) {
		return usage_error("usage: put KEY VALUE [KEY VALUE]...  (VALUE '-' reads stdin)");
	}
	size_t streamed = SIZE_MAX; /* the op whose value comes from --file or stdin */
	for (int i = 0; i < c->nargs && !rc; i += 2) {
		struct op *op = opset_add(&s);
		if (!op || !arg_bytes(c, c->args[i], &op->key)) {
			rc = op ? EXIT_USAGE : report_failure(EKV_ENOMEM, "put");
			break;
		}
		const char *v = c->file ? NULL : c->args[i + 1];
		if (c->file || !strcmp(v, "-")) {
			if (streamed != SIZE_MAX)
				rc = usage_error("put: only one VALUE may be '-' (stdin)");
			streamed = s.n - 1;
		} else if (!arg_bytes(c, v, &op->val)) {
			rc = EXIT_USAGE;
		}
	}
	struct handle h = {0};
	if (!rc)
		rc = open_db(c->o, DBSPEC_WRITE, &h, NULL);
	if (!rc && streamed != SIZE_MAX)
		rc = read_streamed_value(c, &h, &s.ops[streamed]);
	if (!rc) {
		opset_sort_unique(&s);
		rc = check_sizes(&h, &s, NULL);
	}
	if (!rc)
		rc = apply_ops(&h, &s, NULL, "put");
	close_db(&h);
	opset_free(&s);
	return rc;
}

/* ---- delete ---------------------------------------------------------------- */

static int cmd_delete(struct cmd *c)
{
	if (c->nargs < 1)
		return usage_error("delete: no KEY given");
	struct opset s = {0};
	int rc = 0;
	for (int i = 0; i < c->nargs && !rc; i++) {
		struct op *op = opset_add(&s);
		if (!op)
			rc = report_failure(EKV_ENOMEM, "delete");
		else if (!arg_bytes(c, c->args[i], &op->key))
			rc = EXIT_USAGE;
		else
			op->del = true;
	}
	struct handle h = {0};
	if (!rc) {
		opset_sort_unique(&s);
		rc = open_db(c->o, DBSPEC_WRITE, &h, NULL);
	}
	if (!rc)
		rc = check_sizes(&h, &s, NULL);
	if (!rc) {
		/* Keys that do not exist are left out: no tombstone is written for
		 * them (flash wear).  The result is the same as deleting them in a
		 * transaction ordered at this snapshot.  --must-exist: all or
		 * nothing. */
		ekv_rtx *rtx = NULL;
		int e = ekv_rtx_begin(h.db, &rtx);
		size_t k = 0;
		for (size_t i = 0; e == 0 && i < s.n; i++) {
			size_t vlen;
			int g = ekv_rtx_get(rtx, s.ops[i].key.p, s.ops[i].key.n, NULL, 0, &vlen);
			if (g == EKV_ENOTFOUND) {
				if (c->must_exist) {
					print_key_escaped_stderr("key not found", s.ops[i].key.p,
								 s.ops[i].key.n);
					rc = EXIT_NOTFOUND;
				}
				bytes_free(&s.ops[i].key);
				bytes_free(&s.ops[i].val);
				continue;
			}
			if (g < 0 && g != EKV_ERANGE)
				e = g;
			if (k != i) {
				s.ops[k] = s.ops[i];
				s.ops[i] = (struct op){0};
			}
			k++;
		}
		if (e == 0)
			s.n = k;
		ekv_rtx_end(rtx);
		if (e < 0)
			rc = report_failure(e, "delete");
	}
	if (!rc)
		rc = apply_ops(&h, &s, NULL, "delete");
	close_db(&h);
	opset_free(&s);
	return rc;
}

/* ---- list and export ------------------------------------------------------------ */

enum list_style { STYLE_ESCAPED, STYLE_HEX, STYLE_JSON, STYLE_EXPORT };

static int list_pairs(struct cmd *c, enum list_style style, const char *prefix_arg, FILE *out)
{
	struct bytes prefix = {0}, from = {0}, to = {0};
	if ((prefix_arg && !arg_bytes(c, prefix_arg, &prefix)) ||
	    (c->from && !arg_bytes(c, c->from, &from)) || (c->to && !arg_bytes(c, c->to, &to)))
		return EXIT_USAGE;
	struct handle h;
	int r = open_db(c->o, DBSPEC_READ, &h, NULL);
	if (r)
		return r;
	uint8_t *key = malloc(h.p.max_key_size + 1), *val = malloc(h.p.max_value_size + 1);
	ekv_rtx *rtx = NULL;
	ekv_cursor *cur = NULL;
	int e = key && val ? ekv_rtx_begin(h.db, &rtx) : EKV_ENOMEM;
	if (e == 0)
		e = prefix_arg ? ekv_cursor_open_prefix(rtx, prefix.p, prefix.n, &cur)
			       : ekv_cursor_open(rtx, c->from ? from.p : NULL, from.n,
						 c->to ? to.p : NULL, to.n, &cur);
	if (e == 0 && style == STYLE_JSON)
		fputs("{", out);
	if (e == 0 && style == STYLE_EXPORT)
		fputs("# ekv export v1: key=value, bytes outside printable ASCII as \\xHH\n", out);
	size_t count = 0;
	while (e == 0) {
		size_t kl, vl;
		e = ekv_cursor_next(cur, key, h.p.max_key_size, &kl, val, h.p.max_value_size, &vl);
		if (e <= 0)
			break;
		e = 0;
		switch (style) {
		case STYLE_HEX:
			print_hex(out, key, kl);
			if (!c->keys_only) {
				putc(' ', out);
				print_hex(out, val, vl);
			}
			break;
		case STYLE_JSON:
			fputs(count ? ",\n  " : "\n  ", out);
			print_json_string(out, key, kl);
			fputs(": ", out);
			print_json_string(out, val, vl);
			break;
		case STYLE_EXPORT:
			print_export_escaped(out, key, kl, true);
			putc('=', out);
			if (vl == 0)
				fputs("\"\"", out);
			else
				print_export_escaped(out, val, vl, false);
			break;
		default:
			print_escaped(out, key, kl);
			if (!c->keys_only) {
				putc('=', out);
				print_escaped(out, val, vl);
			}
		}
		if (style != STYLE_JSON)
			putc('\n', out);
		count++;
	}
	if (e == 0 && style == STYLE_JSON)
		fputs(count ? "\n}\n" : "}\n", out);
	ekv_cursor_close(cur);
	ekv_rtx_end(rtx);
	close_db(&h);
	free(key);
	free(val);
	bytes_free(&prefix);
	bytes_free(&from);
	bytes_free(&to);
	if (e < 0)
		return report_failure(e, c->name);
	if (fflush(out) || ferror(out)) {
		fprintf(stderr, "%s: %s: write error\n", prog, c->name);
		return EXIT_IO;
	}
	return 0;
}

static int cmd_list(struct cmd *c)
{
	if (c->nargs > 1)
		return usage_error("list: more than one PREFIX");
	if (c->nargs == 1 && (c->from || c->to))
		return usage_error("list: give a PREFIX or --from/--to, not both");
	if (c->hex + c->json > 1)
		return usage_error("list: --hex and --json exclude each other");
	enum list_style st = c->hex ? STYLE_HEX : c->json ? STYLE_JSON : STYLE_ESCAPED;
	return list_pairs(c, st, c->nargs ? c->args[0] : NULL, stdout);
}

static int cmd_export(struct cmd *c)
{
	if (c->nargs > 1)
		return usage_error("export: more than one FILE");
	FILE *out = stdout;
	const char *path = c->nargs ? c->args[0] : NULL;
	if (path && strcmp(path, "-")) {
		out = fopen(path, "we");
		if (!out) {
			fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
			return EXIT_IO;
		}
	}
	int rc = list_pairs(c, c->json ? STYLE_JSON : STYLE_EXPORT, NULL, out);
	if (out != stdout && fclose(out) && !rc) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		rc = EXIT_IO;
	}
	return rc;
}

/* ---- batch, -s, import ---------------------------------------------------------- */


/* Parse a whole script or JSON input, then apply it as one transaction. */
static int apply_input(struct cmd *c, const char *path, bool json, bool replace)
{
	const char *name = path && strcmp(path, "-") ? path : "<stdin>";
	FILE *in = path && strcmp(path, "-") ? fopen(path, "re") : stdin;
	if (!in) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return EXIT_IO;
	}
	struct opset s = {0};
	char msg[200];
	int line = 0, rc = 0;
	int r = json ? parse_json(in, &s, &line, msg, sizeof(msg))
		     : parse_script(in, &s, &line, msg, sizeof(msg));
	if (in != stdin)
		fclose(in);
	if (r < 0) {
		fprintf(stderr, "%s: %s:%d: %s; nothing applied\n", prog, name, line, msg);
		opset_free(&s);
		return r == -EINVAL ? EXIT_USAGE : EXIT_IO;
	}
	struct handle h = {0};
	struct progress pg;
	progress_init(&pg, c->o->quiet, c->name);
	rc = open_db(c->o, DBSPEC_WRITE, &h, NULL);
	if (!rc && replace) {
		/* every key not in the input is deleted in the same transaction;
		 * the input's own ops come later, so they win */
		struct opset all = {0};
		uint8_t *key = malloc(h.p.max_key_size + 1), *val = malloc(h.p.max_value_size + 1);
		ekv_rtx *rtx = NULL;
		ekv_cursor *cur = NULL;
		int e = key && val ? ekv_rtx_begin(h.db, &rtx) : EKV_ENOMEM;
		if (e == 0)
			e = ekv_cursor_open(rtx, NULL, 0, NULL, 0, &cur);
		while (e == 0) {
			size_t kl, vl;
			e = ekv_cursor_next(cur, key, h.p.max_key_size, &kl, val, h.p.max_value_size,
					    &vl);
			if (e <= 0)
				break;
			e = 0;
			struct op *op = opset_add(&all);
			if (!op || bytes_push(&op->key, key, kl) < 0)
				e = EKV_ENOMEM;
			else
				op->del = true;
		}
		ekv_cursor_close(cur);
		ekv_rtx_end(rtx);
		free(key);
		free(val);
		for (size_t i = 0; e == 0 && i < s.n; i++) {
			struct op *op = opset_add(&all);
			if (!op) {
				e = EKV_ENOMEM;
				break;
			}
			size_t order = op->order;
			*op = s.ops[i];
			op->order = order;
			s.ops[i] = (struct op){0};
		}
		opset_free(&s);
		s = all;
		if (e < 0)
			rc = report_failure(e, c->name);
	}
	if (!rc) {
		opset_sort_unique(&s);
		rc = check_sizes(&h, &s, name);
	}
	if (!rc)
		rc = apply_ops(&h, &s, &pg, c->name);
	if (!rc && c->o->verbose)
		fprintf(stderr, "%s: %s: %zu keys written in one transaction\n", prog, name, s.n);
	close_db(&h);
	opset_free(&s);
	return rc;
}

static int cmd_batch(struct cmd *c)
{
	if (c->nargs != 1)
		return usage_error("usage: batch [--hex] FILE|-");
	if (c->hex)
		return run_hex_batch(c->o, c->args[0]);
	return apply_input(c, c->args[0], false, false);
}

static int cmd_import(struct cmd *c)
{
	if (c->nargs > 1)
		return usage_error("import: more than one FILE");
	return apply_input(c, c->nargs ? c->args[0] : NULL, c->json, c->replace);
}

/* ---- format ------------------------------------------------------------------ */

static int cmd_format(struct cmd *c)
{
	if (c->nargs)
		return usage_error("format: unexpected argument '%s'", c->args[0]);
	struct progress pg;
	progress_init(&pg, c->o->quiet, "format");
	struct handle h;
	int r = open_db(c->o, DBSPEC_CREATE, &h, &pg);
	if (r)
		return r;
	if (h.spec.is_device && !c->o->yes && isatty(STDIN_FILENO)) {
		fprintf(stderr, "%s: erase and format %s (%u pages of %u bytes)? [y/N] ", prog,
			h.name, h.p.page_count, h.p.page_size);
		char answer[16] = "";
		if (!fgets(answer, sizeof(answer), stdin) || (answer[0] != 'y' && answer[0] != 'Y')) {
			fprintf(stderr, "%s: not formatted\n", prog);
			close_db(&h);
			return EXIT_NOTFOUND;
		}
	}
	int e = ekv_format(h.db);
	progress_end(&pg);
	close_db(&h);
	return e < 0 ? report_failure(e, "format") : 0;
}

/* ---- the command table ------------------------------------------------------------ */

static struct argp_option get_options[] = {
	{"value-only", 'n', 0, 0, "Print the value alone (like fw_printenv -n)", 0},
	{"hex", OPT_HEX, 0, 0, "Print HEXKEY HEXVALUE ('-' for empty)", 0},
	{"raw", OPT_RAW, 0, 0, "Write exactly the value bytes: no key, no newline (one KEY)", 0},
	O_HEX_ARGS,
	{0}};
static struct argp_option put_options[] = {
	{"file", OPT_FILE, "FILE", 0, "Read the value of the one KEY from FILE ('-' = stdin)", 0},
	O_HEX_ARGS,
	{0}};
static struct argp_option delete_options[] = {
	{"must-exist", OPT_MUST_EXIST, 0, 0, "Exit 1 and delete nothing if a KEY does not exist", 0},
	O_HEX_ARGS,
	{0}};
static struct argp_option list_options[] = {
	{"hex", OPT_HEX, 0, 0, "Print HEXKEY HEXVALUE lines ('-' for empty)", 0},
	{"json", OPT_JSON, 0, 0, "Print one JSON object", 0},
	{"keys", OPT_KEYS, 0, 0, "Print keys only", 0},
	{"from", OPT_FROM, "KEY", 0, "Start at KEY (inclusive)", 0},
	{"to", OPT_TO, "KEY", 0, "End before KEY (exclusive)", 0},
	O_HEX_ARGS,
	{0}};
static struct argp_option batch_options[] = {
	{"hex", OPT_HEX, 0, 0, "The input is a hex workload script (w/d/begin/commit lines)", 0},
	{0}};
static struct argp_option export_options[] = {
	{"json", OPT_JSON, 0, 0, "Write JSON instead of the key=value text format", 0},
	{0}};
static struct argp_option import_options[] = {
	{"json", OPT_JSON, 0, 0, "Read JSON instead of the key=value text format", 0},
	{"replace", OPT_REPLACE, 0, 0, "Delete every key the input does not have (same transaction)", 0},
	{0}};
static struct argp_option dump_options[] = {
	{"pages", OPT_PAGES, 0, 0, "Every page: header, chunks, meta log", 0},
	{"files", OPT_FILES, 0, 0, "Every file of the newest state: its chain of pages", 0},
	{"records", OPT_RECORDS, 0, 0, "Every record of every file", 0},
	{0}};
static struct argp_option no_options[] = {{0}};

struct command {
	const char *name;
	const char *args_doc;
	const char *doc;
	struct argp_option *options;
	int (*run)(struct cmd *c);
};

static const struct command commands[] = {
	{"get", "KEY...", "Print KEY=VALUE for each KEY (exit 1 if one is missing; the others are "
			  "printed)", get_options, cmd_get},
	{"put", "KEY VALUE [KEY VALUE]...", "Write the pairs in one atomic transaction (sorted by "
					    "key; the last of a repeated KEY wins; VALUE '-' reads "
					    "stdin)", put_options, cmd_put},
	{"delete", "KEY...", "Delete the keys in one transaction (a missing key is not an error "
			     "unless --must-exist)", delete_options, cmd_delete},
	{"list", "[PREFIX]", "Print every pair in key order (or those starting with PREFIX, or "
			     "in [--from, --to))", list_options, cmd_list},
	{"batch", "FILE|-", "Apply a key=value script as one atomic transaction ('#' comments, "
			    "'key=' deletes); a bad line applies nothing", batch_options, cmd_batch},
	{"export", "[FILE]", "Write every pair in the export format (or JSON) to FILE or stdout",
	 export_options, cmd_export},
	{"import", "[FILE]", "Read pairs in the export format (or JSON) from FILE or stdin, one "
			     "transaction", import_options, cmd_import},
	{"format", "", "Erase and format (an image is created if missing); asks on a terminal for "
		       "a device unless --yes", no_options, cmd_format},
	{"stat", "", "Geometry, profile, pages used and free, files per level", no_options,
	 cmd_stat},
	{"dump", "", "Print pages, files and records for debugging", dump_options, cmd_dump},
	{"fsck", "", "Verify every page, chunk, CRC, file and record; exit 1 on damage",
	 no_options, cmd_fsck},
	{"probe", "", "Recognise the profile of an image or device and print the options to use",
	 no_options, cmd_probe},
	{"devices", "", "List MTD devices", no_options, cmd_devices},
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static int run_command(struct opts *o, const struct command *cm, int argc, char **argv)
{
	struct cmd c = {.o = o, .name = cm->name};
	char progname[64];
	snprintf(progname, sizeof(progname), "%s %s", prog, cm->name);
	argv[0] = progname;
	struct argp argp = {cm->options, options_parse_command, cm->args_doc, cm->doc,
			    options_global_child(), 0, 0};
	int rc = argp_parse(&argp, argc, argv, 0, NULL, &c);
	if (rc == 0)
		rc = options_resolve(o);
	if (rc == 0)
		rc = cm->run(&c);
	else if (rc != EXIT_USAGE)
		rc = EXIT_USAGE;
	/* scripts that want zero tolerance: reading a fallback state fails */
	if (rc == 0 && o->strict && o->damaged &&
	    (!strcmp(cm->name, "list") || !strcmp(cm->name, "get") || !strcmp(cm->name, "export")))
		rc = EXIT_CORRUPT;
	free(c.args);
	return rc;
}

/* ---- main --------------------------------------------------------------------------- */

static const char doc[] =
	"Read and write an ekv key-value database on a flash image or MTD device.\v"
	"Commands (each has --help):\n"
	"  get [-n] [--hex|--raw] KEY...   print KEY=VALUE (-n: the value alone)\n"
	"  put KEY VALUE [KEY VALUE]...    write pairs in one transaction ('-' = stdin)\n"
	"  delete [--must-exist] KEY...    delete keys in one transaction\n"
	"  list [--hex|--json] [PREFIX]    all pairs in key order\n"
	"  batch [--hex] FILE|-            apply a key=value script atomically (also -s FILE)\n"
	"  export [--json] [FILE]          write all pairs in a format import reads back\n"
	"  import [--json] [FILE]          read pairs, one transaction\n"
	"  format                          erase and format\n"
	"  stat | dump | fsck | probe      inspect, verify, recognise the profile\n"
	"  devices                         list MTD devices\n"
	"\n"
	"The database is --image FILE, --device DEV, or a [NAME] section of " DEFAULT_CONF
	" chosen with -d NAME ([default] without -d).\n"
	"Exit status: 0 ok, 1 key not found or damage found, 2 usage, 3 device or I/O error,\n"
	"4 corrupted or not formatted, 5 busy, 6 no space.  See ekvctl(1).";

const char *argp_program_version = "ekvctl " EKV_VERSION;

static error_t parse_top(int key, char *arg, struct argp_state *state)
{
	struct cmd *c = state->input;
	(void)arg;
	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = c;
		return 0;
	case ARGP_KEY_ARG:
		/* the command: everything from here on is the command's */
		c->args = &state->argv[state->next - 1];
		c->nargs = state->argc - state->next + 1;
		state->next = state->argc;
		return 0;
	case ARGP_KEY_NO_ARGS:
		if (!c->o->script)
			argp_error(state, "no command given");
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

int main(int argc, char **argv)
{
	struct opts o;
	options_init(&o);
	argp_err_exit_status = EXIT_USAGE;
	struct cmd top = {.o = &o};
	struct argp argp = {0, parse_top, "COMMAND [ARG...]", doc, options_global_child(), 0, 0};
	int rc;
	if (argp_parse(&argp, argc, argv, ARGP_IN_ORDER, NULL, &top)) {
		rc = EXIT_USAGE;
	} else if (o.script) {
		struct cmd c = {.o = &o, .name = "batch"};
		if (top.nargs)
			rc = usage_error("-s FILE takes no command ('%s' given)", top.args[0]);
		else
			rc = options_resolve(&o);
		if (!rc)
			rc = apply_input(&c, o.script, false, false);
	} else {
		const char *name = top.args[0];
		const struct command *cm = NULL;
		for (size_t i = 0; i < N_COMMANDS; i++)
			if (!strcmp(commands[i].name, name))
				cm = &commands[i];
		rc = cm ? run_command(&o, cm, top.nargs, top.args)
			: usage_error("unknown command '%s'", name);
	}
	options_free(&o);
	return rc;
}
