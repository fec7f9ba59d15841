/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * test_damage.c — damage is never silent (docs/FORMAT.md §9).
 *
 * An image holds several committed transactions.  Each structure on it — a
 * meta page header, every meta log chunk header and its entries, data page
 * headers, the skiplist, data chunk headers and record bytes — is damaged
 * in turn (one byte zeroed, or one bit flipped), and the image mounted with
 * on_damage fallback and refuse.  What the engine then shows must be the
 * newest state, an error, or a state it reports as a loss (ekv_stat's
 * damaged, and fsck errors); never an older committed state without a
 * word.  With crc every covered byte is checked, so a listing that differs
 * from the newest state must be reported too; without crc only the
 * structure is (FORMAT.md §9 lists which fields), and a changed key or
 * value byte can go unseen: those are counted, not failed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "layout.h"
#include "testutil.h"

#define N_TX 8
#define LIST_CAP 8192

static void listing(ekv_db *db, char *out)
{
	db_listing(db, out, LIST_CAP);
}

struct image {
	struct ekv_profile p;
	struct geom g;
	size_t size;
	uint8_t *bytes;
	char states[N_TX + 1][LIST_CAP]; /* after 0..N_TX commits */
};

/* Format, then N_TX transactions of puts and deletes. */
static void make_image(struct image *im, const struct ekv_profile *p, uint32_t seed)
{
	struct tdb t;
	im->p = *p;
	assert_int_equal(geom_init(&im->g, p, NULL, 0), 0);
	tdb_new(&t, p, seed);
	listing(t.db, im->states[0]);
	uint64_t rng = seed;
	for (int tx = 0; tx < N_TX; tx++) {
		ekv_wtx *w;
		assert_int_equal(ekv_wtx_begin(t.db, &w), 0);
		for (int i = 0; i < 12; i++) {
			char key[16], val[64];
			snprintf(key, sizeof(key), "key%02d", i);
			uint64_t r = rng_u64(&rng);
			if (r % 3 == 0)
				continue;
			if (r % 5 == 0) {
				assert_int_equal(ekv_wtx_delete(w, key, strlen(key)), 0);
			} else {
				snprintf(val, sizeof(val), "value %d of tx %d, %llu", i, tx,
					 (unsigned long long)(r % 100000));
				assert_int_equal(ekv_wtx_put(w, key, strlen(key), val, strlen(val)), 0);
			}
		}
		assert_int_equal(ekv_wtx_commit(w), 0);
		listing(t.db, im->states[tx + 1]);
	}
	im->size = (size_t)p->page_size * p->page_count;
	im->bytes = malloc(im->size);
	memcpy(im->bytes, ekv_flash_mem_data(t.flash), im->size);
	tdb_free(&t);
}

struct region {
	const char *kind;
	uint32_t page, from, to; /* bytes [from, to) of page */
	/* the newest meta page's header or its last chunk's header: bits moved
	 * towards the erased value there look like a torn last write */
	bool last_commit;
};

#define MAX_REGIONS 4096

static void add(struct region *r, size_t *n, const char *kind, uint32_t page, uint32_t from,
		uint32_t to)
{
	assert_true(*n < MAX_REGIONS);
	if (to > from)
		r[(*n)++] = (struct region){kind, page, from, to, false};
}

/* Every structure of every valid page, found with the engine's codec. */
static size_t regions_of(const struct image *im, struct region *r)
{
	const struct geom *g = &im->g;
	size_t n = 0, last = 0, newest_hdr = 0;
	uint32_t newest_seq = 0;
	for (uint32_t pg = 0; pg < g->page_count; pg++) {
		const uint8_t *b = im->bytes + (size_t)pg * g->page_size;
		uint32_t hdr;
		bool meta = page_header_check(g, b, pg, META_MAGIC, g->meta_hdr_size) == 0;
		if (meta) {
			hdr = g->meta_hdr_size;
			add(r, &n, "meta page header", pg, 0, g->ph_size + hdr);
			if (get_le32(b + g->ph_size + 4) >= newest_seq)
				newest_hdr = n;
		} else if (page_header_check(g, b, pg, DATA_MAGIC, g->data_hdr_size) == 0) {
			hdr = g->data_hdr_size;
			add(r, &n, "data page header", pg, 0, g->ph_size + 4);
			add(r, &n, "skiplist", pg, g->ph_size + 4, g->ph_size + 4 + 2 * g->skiplist_len);
			add(r, &n, "record boundary", pg, g->ph_size + 4 + 2 * g->skiplist_len,
			    g->ph_size + 6 + 2 * g->skiplist_len);
		} else {
			continue;
		}
		/* the chunk list; bounded by the page */
		for (uint32_t off = g->ph_size + hdr; off + g->ch_size <= g->page_size;) {
			uint32_t len, crc;
			if (!chunk_header_decode(g, b + off, &len, &crc) || len > g->chunk_max ||
			    off + g->ch_size + len > g->page_size)
				break;
			add(r, &n, meta ? "meta log chunk header" : "data chunk header", pg, off,
			    off + g->ch_size);
			if (meta && get_le32(b + g->ph_size + 4) >= newest_seq) {
				newest_seq = get_le32(b + g->ph_size + 4);
				last = n;
			}
			add(r, &n, meta ? "meta log entries" : "records", pg, off + g->ch_size,
			    off + g->ch_size + len);
			off += g->ch_size + geom_align_up(g, len);
		}
	}
	if (last)
		r[last - 1].last_commit = true;
	if (newest_hdr)
		r[newest_hdr - 1].last_commit = true;
	return n;
}

struct tally {
	unsigned images, newest, reported, errors, unseen, torn_like, violations;
};

static int older_state(const struct image *im, const char *got)
{
	for (int i = 0; i < N_TX; i++)
		if (!strcmp(im->states[i], got))
			return i;
	return -1;
}

/* Mount the damaged image in ram with one policy; judge what it shows. */
static void judge(struct image *im, struct ekv_flash *f, enum ekv_on_damage policy,
		  const struct region *rg, uint32_t at, const char *how, bool torn_like,
		  struct tally *t)
{
	static char got[LIST_CAP];
	const struct ekv_options o = {
		.busy_timeout_ms = 5000, .seed = 3, .seed_set = true, .on_damage = policy};
	ekv_db *db;
	assert_int_equal(ekv_open(f, &im->p, &o, &db), 0);
	int e = ekv_mount(db);
	struct ekv_stat st = {0};
	if (e == 0)
		e = ekv_stat(db, &st);
	if (e == 0)
		listing(db, got);
	ekv_close(db);
	t->images++;
	int older = e == 0 ? older_state(im, got) : -1;
	bool reported = e < 0 || st.damaged || !strncmp(got, "ERR", 3);
	const char *verdict = NULL;
	bool torn = false;
	if (e == 0 && !strcmp(got, im->states[N_TX]))
		t->newest++;
	else if (reported)
		t->reported++, t->errors += e < 0 || !strncmp(got, "ERR", 3);
	else if (older == N_TX - 1 && torn_like)
		t->torn_like++, torn = true;
	else if (older >= 0)
		verdict = "an older committed state, silently";
	else if (im->p.crc)
		verdict = "a changed state with crc on, silently";
	else
		t->unseen++;
	/* fsck says so whenever mount fell back or would list an older state */
	if ((st.damaged || (older >= 0 && !torn)) && !verdict) {
		struct ekv_check_result res;
		assert_int_equal(ekv_check(f, &im->p, NULL, NULL, NULL, &res), 0);
		if (res.errors == 0)
			verdict = "fsck says clean, yet mount lost commits";
	}
	if (verdict) {
		t->violations++;
		print_error("%s %s at page %u byte %u (%s, policy %d): %s (tx %d)\n", rg->kind, how,
			    rg->page, at, im->p.crc ? "crc" : "no crc", policy, verdict, older);
	}
}

static void sweep(const struct ekv_profile *p, uint32_t seed)
{
	struct image *im = calloc(1, sizeof(*im));
	struct region *rg = calloc(MAX_REGIONS, sizeof(*rg));
	make_image(im, p, seed);
	size_t n = regions_of(im, rg);
	struct ekv_flash *f;
	assert_int_equal(ekv_flash_mem_new(p->page_size, p->page_count, p->erase_value, &f), 0);
	uint8_t *ram = ekv_flash_mem_data(f);
	struct tally t = {0};
	for (size_t i = 0; i < n; i++) {
		uint32_t at[3] = {rg[i].from, (rg[i].from + rg[i].to) / 2, rg[i].to - 1};
		for (int a = 0; a < 3; a++) {
			if (a && at[a] == at[a - 1])
				continue;
			static const struct {
				const char *how;
				uint8_t and_mask, xor_mask;
			} dmg[] = {{"zeroed", 0x00, 0x00}, {"bit 0 flipped", 0xff, 0x01},
				   {"bit 7 flipped", 0xff, 0x80}};
			for (size_t d = 0; d < sizeof(dmg) / sizeof(dmg[0]); d++) {
				size_t pos = (size_t)rg[i].page * p->page_size + at[a];
				memcpy(ram, im->bytes, im->size);
				uint8_t old = ram[pos];
				ram[pos] = (uint8_t)((old & dmg[d].and_mask) ^ dmg[d].xor_mask);
				if (ram[pos] == old)
					continue;
				/* bits of the last commit record's header moved towards
				 * the erased value only: exactly what a torn write of it
				 * leaves, so it rolls back like one (FORMAT.md §9) */
				uint8_t ev = p->erase_value;
				bool torn_like = rg[i].last_commit &&
						 (ev == 0xff ? (ram[pos] & old) == old
							     : (ram[pos] | old) == old);
				judge(im, f, EKV_ON_DAMAGE_FALLBACK, &rg[i], at[a], dmg[d].how, torn_like,
				      &t);
				judge(im, f, EKV_ON_DAMAGE_REFUSE, &rg[i], at[a], dmg[d].how, torn_like,
				      &t);
			}
		}
	}
	print_message("  %s: %zu structures, %u mounts: %u newest state, %u reported (%u as errors), "
		      "%u last commit rolled back as torn, %u changed unseen (no crc), "
		      "%u violations\n",
		      p->crc ? "crc" : "no crc", n, t.images, t.newest, t.reported, t.errors,
		      t.torn_like, t.unseen, t.violations);
	assert_int_equal(t.violations, 0);
	assert_true(t.reported > 0);
	ekv_flash_close(f);
	free(im->bytes);
	free(im);
	free(rg);
}

/* page size, pages, align, erase value, max value size */
static const struct {
	uint32_t page_size, pages, align;
	uint8_t erase;
	uint32_t max_value;
} shapes[] = {
	{4096, 32, 4, 0xff, 1024},
	{256, 64, 1, 0xff, 64},
	{256, 64, 4, 0x00, 64},
	{256, 64, 2, 0x00, 64},
};

/* without crc damage must never show an older state in silence; with crc
 * every damage that changes what is read is reported */
static void test_damage_is_never_silent(void **state)
{
	(void)state;
	for (int crc = 0; crc < 2; crc++) {
		for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
			struct ekv_profile p;
			ekv_profile_default(&p);
			p.page_size = shapes[i].page_size;
			p.page_count = p.max_page_count = shapes[i].pages;
			p.align = shapes[i].align;
			p.erase_value = shapes[i].erase;
			p.max_value_size = shapes[i].max_value;
			p.scratch_page_count = 1;
			p.crc = crc;
			sweep(&p, 5 + (uint32_t)i + (uint32_t)crc * 10);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_damage_is_never_silent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
