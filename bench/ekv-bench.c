/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * ekv-bench.c — the deterministic workloads of bench/WORKLOADS.md
 * (read, write, overwrite) on the RAM flash backend, so that our flash
 * operation counts compare 1:1 with the Rust ekv crate's reference table.
 *
 * Owns: the key/value generator (64-bit LCG, seed 1), the three workloads,
 * the measured window (counters reset after the setup that WORKLOADS.md
 * excludes) and the report, whose last line is machine-readable key=value
 * pairs.  Uses the public API only (ekv.h); never looks inside the engine.
 *
 * Counters are the RAM backend's: one per read/write/erase call plus bytes.
 * libekv has no RAM page cache, so --no-cache is accepted but changes
 * nothing: both modes count the same flash operations.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ekv.h>
#include <ekv_test.h> /* the RAM flash and its counters */

#define DEFAULT_SEED 0x12345678u

/* ---- generator ------------------------------------------------------------ */

/* WORKLOADS.md: s = s*6364136223846793005 + 1442695040888963407 (mod 2^64);
 * each byte is s >> 56 taken after one step; s0 = 1. */
struct lcg {
	uint64_t s;
};

static uint8_t lcg_byte(struct lcg *g)
{
	g->s = g->s * 6364136223846793005ull + 1442695040888963407ull;
	return (uint8_t)(g->s >> 56);
}

static void lcg_fill(struct lcg *g, uint8_t *buf, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		buf[i] = lcg_byte(g);
}

/*
 * The data set: keys in generation order (keys[0] = "foo"), their values,
 * and the permutation that lists them in ascending key order.
 */
struct dataset {
	uint32_t n, keylen, vallen;
	uint8_t *keys;     /* n slots of max(keylen, 3) bytes */
	uint32_t *key_len; /* 3 for "foo", keylen for the others */
	uint8_t *values;   /* n slots of vallen bytes, indexed like keys */
	uint32_t *sorted;  /* generation indices in ascending key order */
	uint32_t stride;
};

static const uint8_t *ds_key(const struct dataset *d, uint32_t i)
{
	return d->keys + (size_t)i * d->stride;
}

static uint8_t *ds_value(const struct dataset *d, uint32_t i)
{
	return d->values + (size_t)i * d->vallen;
}

/* The engine's key order: bytewise, a proper prefix sorts first. */
static int key_cmp(const uint8_t *a, uint32_t al, const uint8_t *b, uint32_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);
	if (c)
		return c;
	return al < bl ? -1 : al > bl;
}

struct key_ref {
	const uint8_t *key;
	uint32_t len, index;
};

static int key_ref_cmp(const void *x, const void *y)
{
	const struct key_ref *a = x, *b = y;
	return key_cmp(a->key, a->len, b->key, b->len);
}

/* Sort generation indices idx[0..n) by key. */
static int sort_by_key(const struct dataset *d, uint32_t *idx, uint32_t n)
{
	struct key_ref *refs = malloc((n ? n : 1) * sizeof(*refs));
	if (!refs)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++)
		refs[i] = (struct key_ref){ds_key(d, idx[i]), d->key_len[idx[i]], idx[i]};
	qsort(refs, n, sizeof(*refs), key_ref_cmp);
	for (uint32_t i = 0; i < n; i++)
		idx[i] = refs[i].index;
	free(refs);
	return 0;
}

static uint64_t key_hash(const uint8_t *k, uint32_t len)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
	for (uint32_t i = 0; i < len; i++)
		h = (h ^ k[i]) * 0x100000001b3ull;
	return h;
}

/* Draw the next round of values: VALLEN bytes per key, in key order. */
static void ds_draw_values(struct dataset *d, struct lcg *g)
{
	for (uint32_t i = 0; i < d->n; i++)
		lcg_fill(g, ds_value(d, d->sorted[i]), d->vallen);
}

static void ds_free(struct dataset *d)
{
	free(d->keys);
	free(d->key_len);
	free(d->values);
	free(d->sorted);
	memset(d, 0, sizeof(*d));
}

/*
 * keys[0] = "foo"; then KEYLEN bytes at a time, duplicates skipped (their
 * bytes still consumed), until N keys; then the first values.
 */
static int ds_generate(struct dataset *d, struct lcg *g, uint32_t n, uint32_t keylen,
		       uint32_t vallen)
{
	memset(d, 0, sizeof(*d));
	d->n = n;
	d->keylen = keylen;
	d->vallen = vallen;
	d->stride = keylen > 3 ? keylen : 3;
	uint32_t cap = 16;
	while (cap < 2 * n)
		cap *= 2;
	uint32_t *table = malloc(cap * sizeof(*table)); /* index + 1, 0 = empty */
	d->keys = malloc((size_t)n * d->stride);
	d->key_len = malloc(n * sizeof(*d->key_len));
	d->values = malloc((size_t)n * (vallen ? vallen : 1));
	d->sorted = malloc(n * sizeof(*d->sorted));
	if (!table || !d->keys || !d->key_len || !d->values || !d->sorted) {
		free(table);
		ds_free(d);
		return -ENOMEM;
	}
	memset(table, 0, cap * sizeof(*table));
	uint8_t cand[1024];
	uint32_t have = 0;
	memcpy(cand, "foo", 3);
	uint32_t cand_len = 3;
	/* check_sizes() refused key spaces smaller than N; the draw bound only
	 * guards against an LCG that never reaches some keys of a tiny space */
	uint64_t draws_left = 64ull * n + (1u << 20);
	for (;;) {
		uint32_t slot = (uint32_t)key_hash(cand, cand_len) & (cap - 1);
		bool dup = false;
		while (table[slot]) {
			uint32_t j = table[slot] - 1;
			if (d->key_len[j] == cand_len && !memcmp(ds_key(d, j), cand, cand_len)) {
				dup = true;
				break;
			}
			slot = (slot + 1) & (cap - 1);
		}
		if (!dup) {
			memcpy(d->keys + (size_t)have * d->stride, cand, cand_len);
			d->key_len[have] = cand_len;
			table[slot] = ++have;
		}
		if (have == n)
			break;
		if (draws_left-- == 0) {
			free(table);
			ds_free(d);
			return -ERANGE;
		}
		lcg_fill(g, cand, keylen);
		cand_len = keylen;
	}
	free(table);
	for (uint32_t i = 0; i < n; i++)
		d->sorted[i] = i;
	int e = sort_by_key(d, d->sorted, n);
	if (e < 0) {
		ds_free(d);
		return e;
	}
	ds_draw_values(d, g);
	return 0;
}

/* ---- database on RAM flash -------------------------------------------------- */

struct bench {
	struct ekv_profile p;
	struct ekv_options o;
	struct ekv_flash *flash;
	ekv_db *db;
	bool no_cache;
};

static int die(const char *what, int e)
{
	fprintf(stderr, "ekv-bench: %s: %s\n", what, ekv_strerror(e));
	return 1;
}

static int bench_setup(struct bench *b)
{
	int e = ekv_flash_mem_new(b->p.page_size, b->p.page_count, b->p.erase_value, &b->flash);
	if (e < 0)
		return die("RAM flash", e);
	e = ekv_open(b->flash, &b->p, &b->o, &b->db);
	if (e < 0)
		return die("open", e);
	e = ekv_format(b->db);
	if (e < 0)
		return die("format", e);
	return 0;
}

static void bench_teardown(struct bench *b)
{
	ekv_close(b->db);
	if (b->flash)
		ekv_flash_close(b->flash);
}

static int put_sorted(struct bench *b, const struct dataset *d, const uint32_t *idx, uint32_t n)
{
	ekv_wtx *tx;
	int e = ekv_wtx_begin(b->db, &tx);
	if (e < 0)
		return e;
	for (uint32_t i = 0; i < n; i++) {
		e = ekv_wtx_put(tx, ds_key(d, idx[i]), d->key_len[idx[i]], ds_value(d, idx[i]),
				d->vallen);
		if (e < 0) {
			ekv_wtx_abort(tx);
			return e;
		}
	}
	return ekv_wtx_commit(tx);
}

/* One key per transaction, in generation order. */
static int put_each(struct bench *b, const struct dataset *d)
{
	for (uint32_t i = 0; i < d->n; i++) {
		int e = put_sorted(b, d, &i, 1);
		if (e < 0)
			return e;
	}
	return 0;
}

/* Read key i in its own read transaction; 1 = wrong value, <0 = error. */
static int get_check(struct bench *b, const struct dataset *d, uint32_t i, uint8_t *buf,
		     size_t cap)
{
	ekv_rtx *rtx;
	size_t len = 0;
	int e = ekv_rtx_begin(b->db, &rtx);
	if (e < 0)
		return e;
	e = ekv_rtx_get(rtx, ds_key(d, i), d->key_len[i], buf, cap, &len);
	ekv_rtx_end(rtx);
	if (e < 0)
		return e;
	if (len != d->vallen || memcmp(buf, ds_value(d, i), len) != 0)
		return 1;
	return 0;
}

/* Every key reads back with its current value; prints the first mismatch. */
static int check_all(struct bench *b, const struct dataset *d)
{
	uint8_t *buf = malloc(b->p.max_value_size);
	if (!buf)
		return die("check", -ENOMEM);
	int rc = 0;
	for (uint32_t i = 0; i < d->n && rc == 0; i++) {
		int e = get_check(b, d, i, buf, b->p.max_value_size);
		if (e < 0)
			rc = die("get", e);
		else if (e > 0) {
			fprintf(stderr, "ekv-bench: key #%" PRIu32 " read back a wrong value\n", i);
			rc = 1;
		}
	}
	free(buf);
	return rc;
}

/* ---- measured window and report ------------------------------------------- */

struct window {
	struct timespec t0, cpu0;
	double seconds, cpu_seconds;
	struct ekv_mem_stats st;
	uint32_t meta_seq0, meta_seq1; /* meta page sequence: +1 per rollover */
};

static uint32_t meta_seq(struct bench *b)
{
	struct ekv_stat st;
	return ekv_stat(b->db, &st) == 0 ? st.meta_seq : 0;
}

/* ekv_stat reads flash: called before the counters are reset and after
 * they are taken, so it never shows in the figures */
static void window_start(struct bench *b, struct window *w)
{
	w->meta_seq0 = meta_seq(b);
	ekv_flash_mem_reset_stats(b->flash);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &w->cpu0);
	clock_gettime(CLOCK_MONOTONIC, &w->t0);
}

static double seconds_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static void window_stop(struct bench *b, struct window *w)
{
	struct timespec t1, cpu1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu1);
	ekv_flash_mem_stats(b->flash, &w->st);
	w->seconds = seconds_between(&w->t0, &t1);
	w->cpu_seconds = seconds_between(&w->cpu0, &cpu1);
	w->meta_seq1 = meta_seq(b);
}

struct wear {
	uint64_t min, max;
	double mean;
};

static void wear_get(struct bench *b, struct wear *w)
{
	const uint64_t *pe = ekv_flash_mem_page_erases(b->flash);
	uint64_t sum = 0;
	w->min = UINT64_MAX;
	w->max = 0;
	for (uint32_t i = 0; i < b->p.page_count; i++) {
		sum += pe[i];
		w->min = pe[i] < w->min ? pe[i] : w->min;
		w->max = pe[i] > w->max ? pe[i] : w->max;
	}
	w->mean = (double)sum / b->p.page_count;
}

static double ratio(uint64_t num, uint64_t den)
{
	return den ? (double)num / (double)den : 0.0;
}

/*
 * Human-readable lines, then the machine-readable last line: the keys of
 * the issue in their order, then extras after ops_per_s.
 */
static void report(struct bench *b, const char *workload, const char *params,
		   const struct window *w, uint64_t ops, uint64_t tx_count, uint64_t baseline)
{
	struct wear wr;
	wear_get(b, &wr);
	const struct ekv_mem_stats *s = &w->st;
	double ops_per_s = w->seconds > 0 ? (double)ops / w->seconds : 0.0;
	double ops_per_cpu_s = w->cpu_seconds > 0 ? (double)ops / w->cpu_seconds : 0.0;
	double read_amp = ratio(s->read_bytes, baseline);
	double write_amp = ratio(s->write_bytes, baseline);
	double erases_per_tx = ratio(s->erase_count, tx_count);

	printf("measured: %" PRIu64 " operations in %" PRIu64 " transactions, %.4f s wall"
	       " (%.0f ops/s), %.4f s CPU (%.0f ops per CPU second)\n",
	       ops, tx_count, w->seconds, ops_per_s, w->cpu_seconds, ops_per_cpu_s);
	printf("flash reads:  %" PRIu64 " calls, %" PRIu64 " bytes (read amplification %.2f)\n",
	       s->read_count, s->read_bytes, read_amp);
	printf("flash writes: %" PRIu64 " calls, %" PRIu64 " bytes (write amplification %.2f)\n",
	       s->write_count, s->write_bytes, write_amp);
	printf("erases:       %" PRIu64 " (%.3f per transaction), of which %" PRIu32
	       " meta page rollovers\n",
	       s->erase_count, erases_per_tx, w->meta_seq1 - w->meta_seq0);
	printf("wear (whole run, %" PRIu32 " pages): min %" PRIu64 ", max %" PRIu64
	       ", mean %.2f erases per page\n",
	       b->p.page_count, wr.min, wr.max, wr.mean);
	printf("workload=%s %s read_count=%" PRIu64 " read_bytes=%" PRIu64 " write_count=%" PRIu64
	       " write_bytes=%" PRIu64 " erase_count=%" PRIu64 " erase_min=%" PRIu64
	       " erase_max=%" PRIu64 " erase_mean=%.2f ops_per_s=%.0f ops_per_cpu_s=%.0f read_amp=%.2f"
	       " write_amp=%.2f erases_per_tx=%.3f tx=%" PRIu64 " seed=0x%08" PRIx32
	       " cache=%s meta_log=%s\n",
	       workload, params, s->read_count, s->read_bytes, s->write_count, s->write_bytes,
	       s->erase_count, wr.min, wr.max, wr.mean, ops_per_s, ops_per_cpu_s, read_amp, write_amp,
	       erases_per_tx, tx_count, b->o.seed, b->no_cache ? "off" : "none",
	       b->o.rust_meta_log ? "rust" : "changed");
}

static void print_setup(struct bench *b, const char *line)
{
	printf("ekv-bench %s: %s\n", EKV_VERSION, line);
	printf("profile: page_size %" PRIu32 ", page_count %" PRIu32 ", align %" PRIu32
	       ", erase 0x%02X, crc %s, max key %" PRIu32 ", max value %" PRIu32
	       "; allocator seed 0x%08" PRIx32 "\n",
	       b->p.page_size, b->p.page_count, b->p.align, b->p.erase_value,
	       b->p.crc ? "on" : "off", b->p.max_key_size, b->p.max_value_size, b->o.seed);
	printf("meta log: %s; RAM page cache: none in libekv (--no-cache changes nothing)\n",
	       b->o.rust_meta_log ? "every file touched since mount (Rust-identical)"
				  : "files changed by each commit");
}

/* ---- workloads ------------------------------------------------------------- */

static int check_sizes(struct bench *b, uint32_t n, uint32_t keylen, uint32_t vallen)
{
	if (n == 0 || keylen == 0) {
		fprintf(stderr, "ekv-bench: N and KEYLEN must be at least 1\n");
		return 1;
	}
	if (keylen > b->p.max_key_size || vallen > b->p.max_value_size) {
		fprintf(stderr, "ekv-bench: KEYLEN %" PRIu32 " / VALLEN %" PRIu32
			" exceed the profile's %" PRIu32 " / %" PRIu32 "\n",
			keylen, vallen, b->p.max_key_size, b->p.max_value_size);
		return 1;
	}
	/* distinct keys available: 256^keylen, +1 for "foo" unless it is one */
	if (keylen < 4) {
		uint64_t space = (1ull << (8 * keylen)) + (keylen != 3);
		if (n > space) {
			fprintf(stderr, "ekv-bench: at most %" PRIu64 " distinct keys with KEYLEN %" PRIu32
				"\n", space, keylen);
			return 1;
		}
	}
	return 0;
}

/* Check the sizes, generate the data set, print the setup lines. */
static int prepare(struct bench *b, struct dataset *d, struct lcg *g, uint32_t n,
		   uint32_t keylen, uint32_t vallen, const char *what)
{
	if (check_sizes(b, n, keylen, vallen))
		return 1;
	int e = ds_generate(d, g, n, keylen, vallen);
	if (e < 0)
		return die("generate keys", e);
	print_setup(b, what);
	return 0;
}

static int run_read(struct bench *b, uint32_t n, uint32_t keylen, uint32_t vallen)
{
	struct dataset d;
	struct lcg g = {1};
	struct window w;
	char params[128];
	snprintf(params, sizeof(params), "n=%" PRIu32 " keylen=%" PRIu32 " vallen=%" PRIu32, n,
		 keylen, vallen);
	if (prepare(b, &d, &g, n, keylen, vallen,
		    "read: one key per write transaction, then one read transaction per get"))
		return 1;
	int rc = bench_setup(b);
	int e = rc ? 0 : put_each(b, &d);
	if (e < 0)
		rc = die("write", e);
	uint8_t *buf = malloc(b->p.max_value_size);
	if (!rc && !buf)
		rc = die("read", -ENOMEM);
	if (!rc) {
		window_start(b, &w);
		for (uint32_t i = 0; i < n && !rc; i++) {
			e = get_check(b, &d, i, buf, b->p.max_value_size);
			if (e < 0)
				rc = die("get", e);
			else if (e > 0) {
				fprintf(stderr, "ekv-bench: key #%" PRIu32 " read a wrong value\n", i);
				rc = 1;
			}
		}
		window_stop(b, &w);
	}
	if (!rc)
		report(b, "read", params, &w, n, n, (uint64_t)n * (keylen + vallen));
	free(buf);
	bench_teardown(b);
	ds_free(&d);
	return rc;
}

static int run_write(struct bench *b, uint32_t n, uint32_t keylen, uint32_t vallen,
		     uint32_t txsize)
{
	struct dataset d;
	struct lcg g = {1};
	struct window w;
	char params[160];
	snprintf(params, sizeof(params),
		 "n=%" PRIu32 " keylen=%" PRIu32 " vallen=%" PRIu32 " txsize=%" PRIu32, n, keylen,
		 vallen, txsize);
	if (txsize == 0) {
		fprintf(stderr, "ekv-bench: TXSIZE must be at least 1\n");
		return 1;
	}
	if (prepare(b, &d, &g, n, keylen, vallen,
		    "write: chunks of TXSIZE keys (generation order), each sorted, one "
		    "transaction per chunk"))
		return 1;
	/* chunks are sorted before the window opens: only the engine is timed */
	uint32_t *order = malloc(n * sizeof(*order));
	int rc = order ? 0 : die("write", -ENOMEM);
	for (uint32_t i = 0; !rc && i < n; i++)
		order[i] = i;
	for (uint32_t at = 0; !rc && at < n; at += txsize) {
		uint32_t len = n - at < txsize ? n - at : txsize;
		if (sort_by_key(&d, order + at, len) < 0)
			rc = die("write", -ENOMEM);
	}
	if (!rc)
		rc = bench_setup(b);
	uint64_t tx_count = 0;
	if (!rc) {
		window_start(b, &w);
		for (uint32_t at = 0; at < n && !rc; at += txsize, tx_count++) {
			uint32_t len = n - at < txsize ? n - at : txsize;
			int e = put_sorted(b, &d, order + at, len);
			if (e < 0)
				rc = die("commit", e);
		}
		window_stop(b, &w);
	}
	if (!rc)
		rc = check_all(b, &d);
	if (!rc)
		report(b, "write", params, &w, n, tx_count, (uint64_t)n * (keylen + vallen));
	free(order);
	bench_teardown(b);
	ds_free(&d);
	return rc;
}

static int run_overwrite(struct bench *b, uint32_t n, uint32_t rounds, uint32_t keylen,
			 uint32_t vallen)
{
	struct dataset d;
	struct lcg g = {1};
	struct window w;
	char params[160];
	snprintf(params, sizeof(params),
		 "n=%" PRIu32 " rounds=%" PRIu32 " keylen=%" PRIu32 " vallen=%" PRIu32, n, rounds,
		 keylen, vallen);
	if (rounds == 0) {
		fprintf(stderr, "ekv-bench: ROUNDS must be at least 1\n");
		return 1;
	}
	if (prepare(b, &d, &g, n, keylen, vallen,
		    "overwrite: round 0 writes every key, rounds 1..ROUNDS rewrite every key, "
		    "one key per transaction; measured: rounds 1..ROUNDS"))
		return 1;
	int rc = bench_setup(b);
	int e = rc ? 0 : put_each(b, &d);
	if (e < 0)
		rc = die("round 0", e);
	if (!rc) {
		struct ekv_mem_stats r0;
		ekv_flash_mem_stats(b->flash, &r0);
		printf("round 0 (not measured): %" PRIu64 " reads, %" PRIu64 " writes (%" PRIu64
		       " bytes), %" PRIu64 " erases\n",
		       r0.read_count, r0.write_count, r0.write_bytes, r0.erase_count);
		/* values are drawn outside the window: only the engine is timed */
		uint8_t *all = malloc((size_t)rounds * n * (vallen ? vallen : 1));
		if (!all)
			rc = die("overwrite", -ENOMEM);
		for (uint32_t r = 0; !rc && r < rounds; r++) {
			ds_draw_values(&d, &g);
			memcpy(all + (size_t)r * n * vallen, d.values, (size_t)n * vallen);
		}
		if (!rc) {
			uint8_t *first = d.values;
			window_start(b, &w);
			for (uint32_t r = 0; r < rounds && !rc; r++) {
				d.values = all + (size_t)r * n * vallen;
				e = put_each(b, &d);
				if (e < 0)
					rc = die("overwrite", e);
			}
			window_stop(b, &w);
			if (!rc)
				rc = check_all(b, &d);
			d.values = first;
		}
		free(all);
	}
	if (!rc)
		report(b, "overwrite", params, &w, (uint64_t)n * rounds, (uint64_t)n * rounds,
		       (uint64_t)n * rounds * (keylen + vallen));
	bench_teardown(b);
	ds_free(&d);
	return rc;
}

/* ---- command line ----------------------------------------------------------- */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ekv-bench [OPTIONS] read N KEYLEN VALLEN\n"
		"       ekv-bench [OPTIONS] write N KEYLEN VALLEN TXSIZE\n"
		"       ekv-bench [OPTIONS] overwrite N ROUNDS KEYLEN VALLEN\n"
		"\n"
		"Runs a workload of WORKLOADS.md on the RAM flash backend and counts flash\n"
		"operations (calls and bytes per read/write/erase) in the measured window:\n"
		"  read       format, write each key in its own transaction, then measure one\n"
		"             read transaction + get per key (values checked; exit 1 if wrong)\n"
		"  write      format, then measure: chunks of TXSIZE keys, one transaction each\n"
		"  overwrite  format, round 0 writes every key, then measure rounds 1..ROUNDS,\n"
		"             each rewriting every key, one key per transaction\n"
		"The last line is key=value pairs: workload n keylen vallen [txsize|rounds]\n"
		"read_count read_bytes write_count write_bytes erase_count erase_min erase_max\n"
		"erase_mean ops_per_s, then extras (ops_per_cpu_s read_amp write_amp\n"
		"erases_per_tx tx seed cache meta_log).  erase_min/max/mean: erases per page\n"
		"over the whole run.  ops_per_s: gets or key writes per second of wall time.\n"
		"\n"
		"options:\n"
		"  --no-cache          run without a RAM page cache.  libekv has none yet, so\n"
		"                      both modes count the same flash operations.\n"
		"  --seed N            allocator seed (default 0x%08X)\n"
		"  --rust-meta-log     log every file touched since mount in each meta entry,\n"
		"                      as the crate does (byte-identical to the crate's writes)\n"
		"  --page-size N       profile page size (default 4096)\n"
		"  --page-count N      profile page count (default 256)\n"
		"  --align N           profile alignment 1, 2 or 4 (default 4)\n"
		"  --crc               profile with CRC-32 of headers and chunks\n"
		"  -h, --help          this text\n"
		"Other profile fields are the Rust crate's defaults (erase 0xFF, max key 64,\n"
		"max value 1024, chunk 4096, branching factor 2, 4 scratch pages).\n",
		DEFAULT_SEED);
}

static int parse_u32(const char *s, const char *what, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s || *end || v > UINT32_MAX || s[0] == '-') {
		fprintf(stderr, "ekv-bench: bad %s '%s'\n", what, s);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

int main(int argc, char **argv)
{
	enum { OPT_NO_CACHE = 256, OPT_SEED, OPT_RUST_META, OPT_PAGE_SIZE, OPT_PAGE_COUNT,
	       OPT_ALIGN, OPT_CRC };
	static const struct option opts[] = {
		{"no-cache", no_argument, NULL, OPT_NO_CACHE},
		{"seed", required_argument, NULL, OPT_SEED},
		{"rust-meta-log", no_argument, NULL, OPT_RUST_META},
		{"page-size", required_argument, NULL, OPT_PAGE_SIZE},
		{"page-count", required_argument, NULL, OPT_PAGE_COUNT},
		{"align", required_argument, NULL, OPT_ALIGN},
		{"crc", no_argument, NULL, OPT_CRC},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct bench b = {0};
	ekv_profile_default(&b.p);
	b.p.layout = 1; /* the Rust crate's layout */
	ekv_options_default(&b.o);
	b.o.seed = DEFAULT_SEED;
	b.o.seed_set = true;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_NO_CACHE:
			b.no_cache = true;
			break;
		case OPT_SEED:
			if (parse_u32(optarg, "seed", &b.o.seed) < 0)
				return 2;
			break;
		case OPT_RUST_META:
			b.o.rust_meta_log = true;
			break;
		case OPT_PAGE_SIZE:
			if (parse_u32(optarg, "page size", &b.p.page_size) < 0)
				return 2;
			break;
		case OPT_PAGE_COUNT:
			if (parse_u32(optarg, "page count", &b.p.page_count) < 0)
				return 2;
			b.p.max_page_count = b.p.page_count > 256 ? b.p.page_count : 256;
			break;
		case OPT_ALIGN:
			if (parse_u32(optarg, "align", &b.p.align) < 0)
				return 2;
			break;
		case OPT_CRC:
			b.p.crc = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	char msg[256];
	if (ekv_profile_check(&b.p, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "ekv-bench: impossible profile: %s\n", msg);
		return 2;
	}
	int nargs = argc - optind;
	const char *cmd = nargs > 0 ? argv[optind] : "";
	uint32_t v[4];
	int want = !strcmp(cmd, "read") ? 3 : !strcmp(cmd, "write") ? 4
					: !strcmp(cmd, "overwrite") ? 4 : -1;
	if (want < 0 || nargs - 1 != want) {
		usage(stderr);
		return 2;
	}
	static const char *const names[3][4] = {
		{"N", "KEYLEN", "VALLEN"},
		{"N", "KEYLEN", "VALLEN", "TXSIZE"},
		{"N", "ROUNDS", "KEYLEN", "VALLEN"},
	};
	int which = cmd[0] == 'r' ? 0 : cmd[0] == 'w' ? 1 : 2;
	for (int i = 0; i < want; i++)
		if (parse_u32(argv[optind + 1 + i], names[which][i], &v[i]) < 0)
			return 2;
	switch (which) {
	case 0:
		return run_read(&b, v[0], v[1], v[2]);
	case 1:
		return run_write(&b, v[0], v[1], v[2], v[3]);
	default:
		return run_overwrite(&b, v[0], v[1], v[2], v[3]);
	}
}
