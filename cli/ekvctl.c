/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * ekvctl — command-line access to an ekv database, made for shell scripts.
 *
 * Parsing and presentation only; every decision about the data lives in
 * libekv.  Exit codes: 0 ok, 1 key not found, 2 usage, 3 device or I/O
 * error, 4 corrupted, 5 busy, 6 no space.
 */
#include <argp.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ekv.h"

enum { EXIT_NOTFOUND = 1, EXIT_USAGE = 2, EXIT_IO = 3, EXIT_CORRUPT = 4, EXIT_BUSY = 5,
       EXIT_NOSPC = 6 };

struct opts {
	const char *image;
	const char *device;
	struct ekv_profile p;
	bool set_page_count, set_max_page_count;
	uint32_t seed;
	bool seed_set;
	bool verbose;
	int wait_ms;
	char **args;
	int nargs;
};

static const char *prog = "ekvctl";

static int exit_code(int err)
{
	switch (err) {
	case 0:
		return 0;
	case EKV_ENOTFOUND:
		return EXIT_NOTFOUND;
	case EKV_ECORRUPT:
	case EKV_ENOFMT:
		return EXIT_CORRUPT;
	case EKV_EBUSY:
		return EXIT_BUSY;
	case EKV_ENOSPC:
		return EXIT_NOSPC;
	case EKV_EINVAL:
	case EKV_ETOOBIG:
	case EKV_ENOTSORTED:
		return EXIT_USAGE;
	default:
		return EXIT_IO;
	}
}

static int fail(int err, const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, ekv_strerror(err));
	return exit_code(err);
}

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", prog);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry '%s --help' for more information.\n", prog);
	return EXIT_USAGE;
}

enum {
	OPT_IMAGE = 'i',
	OPT_PAGE_SIZE = 1000,
	OPT_PAGE_COUNT,
	OPT_MAX_PAGE_COUNT,
	OPT_ALIGN,
	OPT_ERASE_VALUE,
	OPT_CRC,
	OPT_MAX_CHUNK,
	OPT_BF,
	OPT_MAX_KEY,
	OPT_MAX_VALUE,
	OPT_SCRATCH,
	OPT_SEED,
	OPT_DEVICE,
	OPT_WAIT,
};

static struct argp_option options[] = {
	{"image", OPT_IMAGE, "FILE", 0, "Flash image file", 0},
	{"device", OPT_DEVICE, "DEV", 0, "MTD device (/dev/mtdN or mtd:NAME)", 0},
	{"page-size", OPT_PAGE_SIZE, "N", 0, "Page (erase block) size (default 4096)", 1},
	{"page-count", OPT_PAGE_COUNT, "N", 0, "Pages (default: image size / page size, else 256)", 1},
	{"max-page-count", OPT_MAX_PAGE_COUNT, "N", 0, "Format bound (default max(256, page count))", 1},
	{"align", OPT_ALIGN, "N", 0, "Write alignment 1, 2 or 4 (default 4)", 1},
	{"erase-value", OPT_ERASE_VALUE, "0xFF|0x00", 0, "Erased byte value (default 0xFF)", 1},
	{"crc", OPT_CRC, 0, 0, "CRC-32 of headers and chunks", 1},
	{"max-chunk-size", OPT_MAX_CHUNK, "N", 0, "Max chunk size (default 4096)", 1},
	{"branching-factor", OPT_BF, "N", 0, "LSM branching factor 2-4 (default 2)", 1},
	{"max-key-size", OPT_MAX_KEY, "N", 0, "Max key size (default 64)", 1},
	{"max-value-size", OPT_MAX_VALUE, "N", 0, "Max value size (default 1024)", 1},
	{"scratch-pages", OPT_SCRATCH, "N", 0, "Free-space reserve pages (default 4)", 1},
	{"seed", OPT_SEED, "N", 0, "Allocator seed (default: random)", 2},
	{"wait", OPT_WAIT, "SECONDS", OPTION_ARG_OPTIONAL, "Wait for a busy database (default: fail at once)", 2},
	{"verbose", 'v', 0, 0, "Report the options in effect", 2},
	{0}};

static const char doc[] =
	"Read and write an ekv key-value database on a flash image or device.\v"
	"Commands:\n"
	"  format                 erase and format (creates FILE if absent)\n"
	"  put KEY VALUE          write one key (one transaction)\n"
	"  get [-n] KEY           print KEY=VALUE (-n: the value alone); exit 1 if missing\n"
	"  delete KEY             delete one key\n"
	"  list [--hex]           all pairs in key order\n"
	"  batch --hex FILE|-     apply a hex workload script (w/d/begin/commit lines)\n"
	"\n"
	"Exit status: 0 ok, 1 key not found, 2 usage, 3 I/O error, 4 corrupted or\n"
	"not formatted, 5 busy, 6 no space.";

const char *argp_program_version = "ekvctl " EKV_VERSION;

static bool parse_u32(const char *s, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s || *end || v > UINT32_MAX || s[0] == '-')
		return false;
	*out = (uint32_t)v;
	return true;
}

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct opts *o = state->input;
	uint32_t v;
	switch (key) {
	case OPT_IMAGE:
		o->image = arg;
		return 0;
	case OPT_DEVICE:
		o->device = arg;
		return 0;
	case 'v':
		o->verbose = true;
		return 0;
	case OPT_CRC:
		o->p.crc = true;
		return 0;
	case OPT_WAIT:
		if (!arg) {
			o->wait_ms = -1;
			return 0;
		}
		if (!parse_u32(arg, &v) || v > INT_MAX / 1000)
			argp_error(state, "invalid --wait value '%s'", arg);
		o->wait_ms = (int)(v * 1000);
		return 0;
	case OPT_ERASE_VALUE:
		if (!strcasecmp(arg, "0xff") || !strcmp(arg, "255"))
			o->p.erase_value = 0xff;
		else if (!strcasecmp(arg, "0x00") || !strcmp(arg, "0") || !strcasecmp(arg, "0x0"))
			o->p.erase_value = 0x00;
		else
			argp_error(state, "invalid --erase-value '%s' (0xFF or 0x00)", arg);
		return 0;
	case OPT_PAGE_SIZE:
	case OPT_PAGE_COUNT:
	case OPT_MAX_PAGE_COUNT:
	case OPT_ALIGN:
	case OPT_MAX_CHUNK:
	case OPT_BF:
	case OPT_MAX_KEY:
	case OPT_MAX_VALUE:
	case OPT_SCRATCH:
	case OPT_SEED:
		if (!parse_u32(arg, &v))
			argp_error(state, "invalid number '%s'", arg);
		switch (key) {
		case OPT_PAGE_SIZE: o->p.page_size = v; break;
		case OPT_PAGE_COUNT: o->p.page_count = v; o->set_page_count = true; break;
		case OPT_MAX_PAGE_COUNT: o->p.max_page_count = v; o->set_max_page_count = true; break;
		case OPT_ALIGN: o->p.align = v; break;
		case OPT_MAX_CHUNK: o->p.max_chunk_size = v; break;
		case OPT_BF: o->p.branching_factor = v; break;
		case OPT_MAX_KEY: o->p.max_key_size = v; break;
		case OPT_MAX_VALUE: o->p.max_value_size = v; break;
		case OPT_SCRATCH: o->p.scratch_page_count = v; break;
		case OPT_SEED: o->seed = v; o->seed_set = true; break;
		}
		return 0;
	case ARGP_KEY_ARG:
		/* the command: everything from here on is the command's */
		o->args = &state->argv[state->next - 1];
		o->nargs = state->argc - state->next + 1;
		state->next = state->argc;
		return 0;
	case ARGP_KEY_NO_ARGS:
		argp_error(state, "no command given");
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

/* ---- output ------------------------------------------------------------ */

static void print_escaped(FILE *out, const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\')
			fputs("\\\\", out);
		else if (s[i] >= 0x20 && s[i] < 0x7f)
			fputc(s[i], out);
		else
			fprintf(out, "\\x%02x", s[i]);
	}
}

static void print_hex(FILE *out, const uint8_t *s, size_t n)
{
	if (n == 0) {
		fputc('-', out);
		return;
	}
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%02x", s[i]);
}

/* ---- opening ---------------------------------------------------------- */

struct handle {
	struct ekv_flash *flash;
	ekv_db *db;
	struct ekv_profile p;
};

static int open_db(struct opts *o, bool for_format, bool read_only, struct handle *h)
{
	char msg[256] = "";
	int e;
	memset(h, 0, sizeof(*h));
	h->p = o->p;
	if (!o->image && !o->device)
		return usage_error("%s", "no database given: use --image FILE or --device DEV");
	if (o->image && o->device)
		return usage_error("%s", "--image and --device exclude each other");
	if (o->device) {
		unsigned fl = read_only ? EKV_MTD_RDONLY : 0;
		e = ekv_flash_mtd_open(o->device, fl, &h->flash, msg, sizeof(msg));
		if (e < 0) {
			fprintf(stderr, "%s: %s: %s\n", prog, o->device, msg[0] ? msg : ekv_strerror(e));
			return e == EKV_ENOTSUP || e == EKV_EINVAL ? EXIT_USAGE : EXIT_IO;
		}
		if (h->flash->page_size != h->p.page_size && h->p.page_size != 4096) {
			fprintf(stderr, "%s: %s: --page-size %u differs from the device's erase size %u\n",
				prog, o->device, h->p.page_size, h->flash->page_size);
			return EXIT_USAGE;
		}
		h->p.page_size = h->flash->page_size;
		if (!o->set_page_count)
			h->p.page_count = h->flash->page_count;
	} else {
		struct stat st;
		bool exists = stat(o->image, &st) == 0;
		if (exists) {
			if (st.st_size == 0 || (uint64_t)st.st_size % h->p.page_size) {
				fprintf(stderr,
					"%s: %s: size %lld is not a multiple of the page size %u "
					"(give the image's --page-size)\n",
					prog, o->image, (long long)st.st_size, h->p.page_size);
				return EXIT_USAGE;
			}
			uint64_t pages = (uint64_t)st.st_size / h->p.page_size;
			if (pages > 65535) {
				fprintf(stderr, "%s: %s: %llu pages are more than the format's 65535\n",
					prog, o->image, (unsigned long long)pages);
				return EXIT_USAGE;
			}
			if (o->set_page_count && o->p.page_count != pages) {
				fprintf(stderr,
					"%s: %s: --page-count %u differs from the image size "
					"(%llu pages)\n",
					prog, o->image, o->p.page_count, (unsigned long long)pages);
				return EXIT_USAGE;
			}
			h->p.page_count = (uint32_t)pages;
		} else if (!for_format) {
			fprintf(stderr, "%s: %s: %s (run 'format' first)\n", prog, o->image,
				strerror(errno));
			return EXIT_IO;
		}
	}
	if (!o->set_max_page_count)
		h->p.max_page_count = h->p.page_count > 256 ? h->p.page_count : 256;
	if (ekv_profile_check(&h->p, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "%s: invalid profile: %s\n", prog, msg);
		return EXIT_USAGE;
	}
	if (o->verbose)
		fprintf(stderr,
			"%s: %s %s: page-size %u page-count %u max-page-count %u align %u "
			"erase-value 0x%02X crc %s max-chunk-size %u branching-factor %u "
			"max-key-size %u max-value-size %u scratch-pages %u\n",
			prog, o->device ? "device" : "image", o->device ? o->device : o->image,
			h->p.page_size, h->p.page_count, h->p.max_page_count, h->p.align,
			h->p.erase_value, h->p.crc ? "on" : "off", h->p.max_chunk_size,
			h->p.branching_factor, h->p.max_key_size, h->p.max_value_size,
			h->p.scratch_page_count);
	if (o->image) {
		unsigned fl = read_only ? EKV_FILE_RDONLY : 0;
		if (for_format)
			fl |= EKV_FILE_CREATE;
		e = ekv_flash_file_open(o->image, h->p.page_size, h->p.page_count,
					h->p.erase_value, fl, &h->flash);
		if (e < 0) {
			fprintf(stderr, "%s: %s: %s\n", prog, o->image, ekv_strerror(e));
			return EXIT_IO;
		}
	}
	struct ekv_options eo;
	ekv_options_default(&eo);
	eo.seed = o->seed;
	eo.seed_set = o->seed_set;
	eo.busy_timeout_ms = o->wait_ms;
	eo.read_only = read_only;
	e = ekv_open(h->flash, &h->p, &eo, &h->db);
	if (e < 0) {
		ekv_flash_close(h->flash);
		h->flash = NULL;
		return fail(e, "open");
	}
	return 0;
}

static void close_db(struct handle *h)
{
	ekv_close(h->db);
	ekv_flash_close(h->flash);
}

/* ---- commands ---------------------------------------------------------- */

static int cmd_format(struct opts *o, int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return usage_error("%s", "usage: format");
	struct handle h;
	int r = open_db(o, true, false, &h);
	if (r)
		return r;
	int e = ekv_format(h.db);
	close_db(&h);
	return e < 0 ? fail(e, "format") : 0;
}

static int write_one(struct opts *o, const char *key, const char *value, bool del)
{
	struct handle h;
	int r = open_db(o, false, false, &h);
	if (r)
		return r;
	ekv_wtx *tx;
	int e = ekv_wtx_begin(h.db, &tx);
	if (e == 0) {
		e = del ? ekv_wtx_delete(tx, key, strlen(key))
			: ekv_wtx_put(tx, key, strlen(key), value, strlen(value));
		if (e == 0)
			e = ekv_wtx_commit(tx);
		else
			ekv_wtx_abort(tx);
	}
	close_db(&h);
	return e < 0 ? fail(e, del ? "delete" : "put") : 0;
}

static int cmd_put(struct opts *o, int argc, char **argv)
{
	int i = 1;
	if (i < argc && !strcmp(argv[i], "--"))
		i++;
	if (argc - i != 2)
		return usage_error("%s", "usage: put KEY VALUE");
	return write_one(o, argv[i], argv[i + 1], false);
}

static int cmd_delete(struct opts *o, int argc, char **argv)
{
	int i = 1;
	if (i < argc && !strcmp(argv[i], "--"))
		i++;
	if (argc - i != 1)
		return usage_error("%s", "usage: delete KEY");
	return write_one(o, argv[i], NULL, true);
}

static int cmd_get(struct opts *o, int argc, char **argv)
{
	bool value_only = false;
	int i = 1;
	for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		}
		if (!strcmp(argv[i], "-n"))
			value_only = true;
		else
			return usage_error("get: unknown option '%s'", argv[i]);
	}
	if (argc - i != 1)
		return usage_error("%s", "usage: get [-n] KEY");
	const char *key = argv[i];
	struct handle h;
	int r = open_db(o, false, true, &h);
	if (r)
		return r;
	ekv_rtx *rtx;
	uint8_t *val = malloc(h.p.max_value_size + 1);
	size_t vlen = 0;
	int e = val ? ekv_rtx_begin(h.db, &rtx) : EKV_ENOMEM;
	if (e == 0) {
		e = ekv_rtx_get(rtx, key, strlen(key), val, h.p.max_value_size, &vlen);
		ekv_rtx_end(rtx);
	}
	close_db(&h);
	if (e == EKV_ENOTFOUND) {
		free(val);
		fprintf(stderr, "%s: %s: key not found\n", prog, key);
		return EXIT_NOTFOUND;
	}
	if (e < 0) {
		free(val);
		return fail(e, "get");
	}
	if (!value_only) {
		print_escaped(stdout, (const uint8_t *)key, strlen(key));
		fputc('=', stdout);
	}
	print_escaped(stdout, val, vlen);
	fputc('\n', stdout);
	free(val);
	return fflush(stdout) ? EXIT_IO : 0;
}

static int cmd_list(struct opts *o, int argc, char **argv)
{
	bool hex = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--hex"))
			hex = true;
		else
			return usage_error("list: unexpected argument '%s'", argv[i]);
	}
	struct handle h;
	int r = open_db(o, false, true, &h);
	if (r)
		return r;
	uint8_t *key = malloc(h.p.max_key_size + 1), *val = malloc(h.p.max_value_size + 1);
	ekv_rtx *rtx = NULL;
	ekv_cursor *c = NULL;
	int e = key && val ? ekv_rtx_begin(h.db, &rtx) : EKV_ENOMEM;
	if (e == 0)
		e = ekv_cursor_open(rtx, NULL, 0, NULL, 0, &c);
	while (e == 0) {
		size_t kl, vl;
		e = ekv_cursor_next(c, key, h.p.max_key_size, &kl, val, h.p.max_value_size, &vl);
		if (e <= 0)
			break;
		e = 0;
		if (hex) {
			print_hex(stdout, key, kl);
			fputc(' ', stdout);
			print_hex(stdout, val, vl);
		} else {
			print_escaped(stdout, key, kl);
			fputc('=', stdout);
			print_escaped(stdout, val, vl);
		}
		fputc('\n', stdout);
	}
	ekv_cursor_close(c);
	ekv_rtx_end(rtx);
	close_db(&h);
	free(key);
	free(val);
	if (e < 0)
		return fail(e, "list");
	return fflush(stdout) ? EXIT_IO : 0;
}

/* ---- batch --hex --------------------------------------------------------- */

struct op {
	bool del;
	uint8_t *key, *val;
	size_t klen, vlen;
	int tx;   /* transaction number */
	int line;
};

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static bool parse_hex(const char *s, uint8_t **out, size_t *len)
{
	if (!strcmp(s, "-")) {
		*out = malloc(1);
		*len = 0;
		return *out != NULL;
	}
	size_t n = strlen(s);
	if (n == 0 || n % 2)
		return false;
	uint8_t *b = malloc(n / 2 + 1);
	if (!b)
		return false;
	for (size_t i = 0; i < n; i += 2) {
		int hi = hexval(s[i]), lo = hexval(s[i + 1]);
		if (hi < 0 || lo < 0) {
			free(b);
			return false;
		}
		b[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	*out = b;
	*len = n / 2;
	return true;
}

static int cmpkey(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	size_t n = al < bl ? al : bl;
	int c = n ? memcmp(a, b, n) : 0;
	if (c)
		return c;
	return al < bl ? -1 : al > bl;
}

static int cmd_batch(struct opts *o, int argc, char **argv)
{
	const char *path = NULL;
	bool hex = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--hex"))
			hex = true;
		else if (!path)
			path = argv[i];
		else
			return usage_error("batch: unexpected argument '%s'", argv[i]);
	}
	if (!hex || !path)
		return usage_error("%s", "usage: batch --hex FILE|-");
	FILE *in = strcmp(path, "-") ? fopen(path, "r") : stdin;
	if (!in) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return EXIT_IO;
	}
	struct op *ops = NULL;
	size_t n = 0, cap = 0;
	char *line = NULL;
	size_t lcap = 0;
	int lineno = 0, tx = 0, rc = 0;
	bool in_block = false;
	int block_line = 0;
	while (getline(&line, &lcap, in) >= 0) {
		lineno++;
		char *save, *w0 = strtok_r(line, " \t\r\n", &save);
		if (!w0 || w0[0] == '#')
			continue;
		char *w1 = strtok_r(NULL, " \t\r\n", &save);
		char *w2 = strtok_r(NULL, " \t\r\n", &save);
		char *w3 = strtok_r(NULL, " \t\r\n", &save);
		if (!strcmp(w0, "begin") && !w1) {
			if (in_block) {
				fprintf(stderr, "%s: %s:%d: 'begin' inside a transaction\n", prog, path, lineno);
				rc = EXIT_USAGE;
				break;
			}
			in_block = true;
			block_line = lineno;
			tx++;
			continue;
		}
		if (!strcmp(w0, "commit") && !w1) {
			if (!in_block) {
				fprintf(stderr, "%s: %s:%d: 'commit' without 'begin'\n", prog, path, lineno);
				rc = EXIT_USAGE;
				break;
			}
			in_block = false;
			continue;
		}
		bool del = !strcmp(w0, "d");
		if ((strcmp(w0, "w") && !del) || !w1 || (del ? w2 != NULL : (!w2 || w3))) {
			fprintf(stderr, "%s: %s:%d: expected 'w HEXKEY HEXVALUE', 'd HEXKEY', "
					"'begin' or 'commit'\n", prog, path, lineno);
			rc = EXIT_USAGE;
			break;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			struct op *p = realloc(ops, cap * sizeof(*p));
			if (!p) {
				rc = fail(EKV_ENOMEM, "batch");
				break;
			}
			ops = p;
		}
		struct op *op = &ops[n];
		memset(op, 0, sizeof(*op));
		op->del = del;
		op->line = lineno;
		if (!parse_hex(w1, &op->key, &op->klen) ||
		    (!del && !parse_hex(w2, &op->val, &op->vlen))) {
			free(op->key);
			fprintf(stderr, "%s: %s:%d: invalid hex string\n", prog, path, lineno);
			rc = EXIT_USAGE;
			break;
		}
		if (!in_block)
			tx++;
		op->tx = tx;
		if (n && ops[n - 1].tx == tx &&
		    cmpkey(ops[n - 1].key, ops[n - 1].klen, op->key, op->klen) >= 0) {
			fprintf(stderr,
				"%s: %s:%d: keys of a transaction must be strictly ascending "
				"(the engine requires sorted keys)\n",
				prog, path, lineno);
			n++;
			rc = EXIT_USAGE;
			break;
		}
		n++;
	}
	if (!rc && in_block) {
		fprintf(stderr, "%s: %s:%d: 'begin' without 'commit'\n", prog, path, block_line);
		rc = EXIT_USAGE;
	}
	free(line);
	if (in != stdin)
		fclose(in);
	struct handle h;
	if (!rc)
		rc = open_db(o, false, false, &h);
	if (!rc) {
		for (size_t i = 0; i < n && !rc; i++) {
			if (ops[i].klen > h.p.max_key_size || ops[i].vlen > h.p.max_value_size) {
				fprintf(stderr, "%s: %s:%d: %s\n", prog, path, ops[i].line,
					ekv_strerror(EKV_ETOOBIG));
				rc = EXIT_USAGE;
			}
		}
		for (size_t i = 0; i < n && !rc;) {
			ekv_wtx *t;
			int e = ekv_wtx_begin(h.db, &t);
			size_t j = i;
			for (; e == 0 && j < n && ops[j].tx == ops[i].tx; j++)
				e = ops[j].del ? ekv_wtx_delete(t, ops[j].key, ops[j].klen)
					       : ekv_wtx_put(t, ops[j].key, ops[j].klen, ops[j].val,
							     ops[j].vlen);
			if (e == 0)
				e = ekv_wtx_commit(t);
			else if (t && j > i)
				ekv_wtx_abort(t);
			if (e < 0) {
				char what[64];
				snprintf(what, sizeof(what), "line %d", ops[i].line);
				rc = fail(e, what);
			}
			i = j;
		}
		close_db(&h);
	}
	for (size_t i = 0; i < n; i++) {
		free(ops[i].key);
		free(ops[i].val);
	}
	free(ops);
	return rc;
}

int main(int argc, char **argv)
{
	struct opts o;
	memset(&o, 0, sizeof(o));
	ekv_profile_default(&o.p);
	o.wait_ms = 0;
	struct argp argp = {options, parse_opt, "COMMAND [ARG...]", doc, NULL, NULL, NULL};
	if (argp_parse(&argp, argc, argv, ARGP_IN_ORDER, NULL, &o))
		return EXIT_USAGE;
	const char *cmd = o.args[0];
	if (!strcmp(cmd, "format"))
		return cmd_format(&o, o.nargs, o.args);
	if (!strcmp(cmd, "put"))
		return cmd_put(&o, o.nargs, o.args);
	if (!strcmp(cmd, "get"))
		return cmd_get(&o, o.nargs, o.args);
	if (!strcmp(cmd, "delete"))
		return cmd_delete(&o, o.nargs, o.args);
	if (!strcmp(cmd, "list"))
		return cmd_list(&o, o.nargs, o.args);
	if (!strcmp(cmd, "batch"))
		return cmd_batch(&o, o.nargs, o.args);
	return usage_error("unknown command '%s'", cmd);
}
