/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * hexbatch.c — `batch --hex`: the hex workload scripts (w/d/begin/commit
 * lines) of the Rust crate's test data.  The whole file is parsed and
 * checked before its first transaction commits: a bad line, a read error
 * or a file cut short applies nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ekvctl.h"
#include "open.h"
#include "report.h"
#include "text.h"

struct hex_op {
	bool del;
	struct bytes key, val;
	int tx;
	int line;
};

int run_hex_batch(struct opts *o, const char *path)
{
	FILE *in = strcmp(path, "-") ? fopen(path, "re") : stdin;
	if (!in) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return EXIT_IO;
	}
	struct hex_op *ops = NULL;
	size_t n = 0, cap = 0;
	char *line = NULL;
	size_t lcap = 0;
	int lineno = 0, tx = 0, rc = 0;
	bool in_block = false;
	int block_line = 0;
	ssize_t len;
	errno = 0;
	while ((len = getline(&line, &lcap, in)) >= 0) {
		lineno++;
		if (line[len - 1] != '\n') {
			fprintf(stderr, "%s: %s:%d: %s\n", prog, path, lineno, TEXT_CUT_SHORT);
			rc = EXIT_USAGE;
			break;
		}
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
			struct hex_op *p = realloc(ops, cap * sizeof(*p));
			if (!p) {
				rc = report_failure(EKV_ENOMEM, "batch");
				break;
			}
			ops = p;
		}
		struct hex_op *op = &ops[n];
		memset(op, 0, sizeof(*op));
		op->del = del;
		op->line = lineno;
		n++;
		if (!parse_hex(w1, &op->key) || (!del && !parse_hex(w2, &op->val))) {
			fprintf(stderr, "%s: %s:%d: invalid hex string\n", prog, path, lineno);
			rc = EXIT_USAGE;
			break;
		}
		if (!in_block)
			tx++;
		op->tx = tx;
		if (n > 1 && ops[n - 2].tx == tx &&
		    key_compare(ops[n - 2].key.p, ops[n - 2].key.n, op->key.p, op->key.n) >= 0) {
			fprintf(stderr,
				"%s: %s:%d: keys of a transaction must be strictly ascending "
				"(the engine requires sorted keys)\n",
				prog, path, lineno);
			rc = EXIT_USAGE;
			break;
		}
	}
	if (!rc && ferror(in)) {
		fprintf(stderr, "%s: %s:%d: read error: %s\n", prog, path, lineno,
			strerror(errno ? errno : EIO));
		rc = EXIT_IO;
	}
	if (!rc && in_block) {
		fprintf(stderr, "%s: %s:%d: 'begin' without 'commit'\n", prog, path, block_line);
		rc = EXIT_USAGE;
	}
	free(line);
	if (in != stdin)
		fclose(in);
	struct handle h = {0};
	if (!rc)
		rc = open_db(o, DBSPEC_WRITE, &h, NULL);
	for (size_t i = 0; i < n && !rc; i++) {
		if (ops[i].key.n > h.p.max_key_size || ops[i].val.n > h.p.max_value_size) {
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
			e = ops[j].del ? ekv_wtx_delete(t, ops[j].key.p, ops[j].key.n)
				       : ekv_wtx_put(t, ops[j].key.p, ops[j].key.n, ops[j].val.p,
						     ops[j].val.n);
		if (e == 0)
			e = ekv_wtx_commit(t);
		else if (t && j > i)
			ekv_wtx_abort(t);
		if (e < 0) {
			char what[64];
			snprintf(what, sizeof(what), "%s:%d", path, ops[i].line);
			rc = report_failure(e, what);
		}
		i = j;
	}
	close_db(&h);
	for (size_t i = 0; i < n; i++) {
		bytes_free(&ops[i].key);
		bytes_free(&ops[i].val);
	}
	free(ops);
	return rc;
}
