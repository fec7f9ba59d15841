/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * test_durability.c — a file image survives a crash of the machine
 * (docs/DESIGN.md §2, the file backend's write barriers).
 *
 * The test records every pwrite and fdatasync the file backend makes on
 * the image (by interposing them: its own definitions of pwrite, pwrite64
 * and fdatasync pass through to the C library's), while a workload commits
 * transactions.  It checks the order against the power-loss argument: each
 * commit record (a meta log chunk header, a new meta page's header) comes
 * right after a completed sync, and every commit ends with one.  Then it
 * builds crash images under the page cache's model: every write before the
 * last completed sync survives; each later write, sector by sector (512
 * bytes), is kept or lost independently.  Each image must mount, report no
 * damage and show the acknowledged state or, for the commit in flight, the
 * state after it: acknowledged commits are durable, the others all or
 * nothing.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#define SECTOR 512
#define N_COMMITS 40
#define SAMPLES 8
#define LIST_CAP 4096

/* ---- the log of writes and syncs on the image --------------------------------- */

struct event {
	bool sync;
	off_t off;
	size_t len;
	uint8_t *data;
};

static struct {
	bool on;
	ino_t ino;
	dev_t dev;
	struct event *ev;
	size_t n, cap;
} rec;

static bool is_image(int fd)
{
	struct stat st;
	return rec.on && fstat(fd, &st) == 0 && st.st_ino == rec.ino && st.st_dev == rec.dev;
}

static void log_event(bool sync, off_t off, const void *buf, size_t len)
{
	if (rec.n == rec.cap) {
		rec.cap = rec.cap ? rec.cap * 2 : 1024;
		rec.ev = realloc(rec.ev, rec.cap * sizeof(*rec.ev));
	}
	struct event *e = &rec.ev[rec.n++];
	*e = (struct event){.sync = sync, .off = off, .len = len};
	if (!sync) {
		e->data = malloc(len);
		memcpy(e->data, buf, len);
	}
}

static ssize_t real_pwrite(int fd, const void *buf, size_t len, off_t off)
{
	static ssize_t (*fn)(int, const void *, size_t, off_t);
	if (!fn)
		fn = (ssize_t(*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite64");
	return fn(fd, buf, len, off);
}

/* the library is built with 64-bit file offsets: its pwrite is pwrite64 */
ssize_t pwrite64(int fd, const void *buf, size_t len, off64_t off)
{
	ssize_t r = real_pwrite(fd, buf, len, off);
	if (r > 0 && is_image(fd))
		log_event(false, off, buf, (size_t)r);
	return r;
}

int fdatasync(int fd)
{
	static int (*fn)(int);
	if (!fn)
		fn = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	int r = fn(fd);
	if (r == 0 && is_image(fd))
		log_event(true, 0, NULL, 0);
	return r;
}

/* ---- the workload ------------------------------------------------------------------ */

static void listing(ekv_db *db, char *out)
{
	db_listing(db, out, LIST_CAP);
}

struct run {
	struct ekv_profile p;
	size_t size;
	uint8_t *initial;               /* the image before the first logged event */
	size_t start[N_COMMITS + 1];    /* event index where commit i begins */
	char state[N_COMMITS + 1][LIST_CAP];
};

static void workload(struct run *w, const char *path)
{
	struct ekv_flash *f;
	ekv_db *db;
	struct ekv_options o;
	ekv_options_default(&o);
	o.seed = 7;
	o.seed_set = true;
	unlink(path);
	assert_int_equal(ekv_flash_file_open(path, w->p.page_size, w->p.page_count, 0xff,
					     EKV_FILE_CREATE, &f), 0);
	assert_int_equal(ekv_open(f, &w->p, &o, &db), 0);
	assert_int_equal(ekv_format(db), 0);
	listing(db, w->state[0]);
	w->size = (size_t)w->p.page_size * w->p.page_count;
	w->initial = malloc(w->size);
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0 && pread(fd, w->initial, w->size, 0) == (ssize_t)w->size);
	struct stat st;
	fstat(fd, &st);
	close(fd);
	rec.ino = st.st_ino;
	rec.dev = st.st_dev;
	rec.on = true;
	uint64_t rng = 11;
	for (int c = 0; c < N_COMMITS; c++) {
		w->start[c] = rec.n;
		ekv_wtx *tx;
		assert_int_equal(ekv_wtx_begin(db, &tx), 0);
		int keys = 1 + (int)(rng_u64(&rng) % 4);
		for (int i = 0; i < keys; i++) {
			char k[16], v[48];
			snprintf(k, sizeof(k), "key%02d", (c * 3 + i * 7) % 20 + i * 20);
			snprintf(v, sizeof(v), "commit %d value %d", c, i);
			if (rng_u64(&rng) % 5 == 0)
				assert_int_equal(ekv_wtx_delete(tx, k, strlen(k)), 0);
			else
				assert_int_equal(ekv_wtx_put(tx, k, strlen(k), v, strlen(v)), 0);
		}
		assert_int_equal(ekv_wtx_commit(tx), 0);
		listing(db, w->state[c + 1]);
	}
	w->start[N_COMMITS] = rec.n;
	rec.on = false;
	ekv_close(db);
	ekv_flash_close(f);
	unlink(path);
}

/* ---- the order of writes and syncs ------------------------------------------- */

static void apply(uint8_t *img, const struct event *e)
{
	if (!e->sync)
		memcpy(img + e->off, e->data, e->len);
}

static bool meta_magic_at(const uint8_t *img, const struct ekv_profile *p, uint32_t page)
{
	const uint8_t *b = img + (size_t)page * p->page_size;
	return b[0] == 0xde && b[1] == 0xbc && b[2] == 0x81 && b[3] == 0x1d;
}

/* Check the commit's events against DESIGN.md §2; img: the image before it,
 * advanced past it. */
static void check_order(const struct run *w, int c, uint8_t *img)
{
	const struct ekv_profile *p = &w->p;
	size_t s = w->start[c], end = w->start[c + 1];
	uint32_t h = p->crc ? 8 : 4, hdr_end = (p->crc ? 12 : 8) + 8;
	/* the meta pages this commit writes: meta pages once it is done */
	uint8_t *after = malloc(w->size);
	memcpy(after, img, w->size);
	for (size_t i = s; i < end; i++)
		apply(after, &rec.ev[i]);
	assert_true(end > s && rec.ev[end - 1].sync); /* acknowledged = durable */
	size_t last_record = s;
	for (size_t i = s; i < end; i++) {
		const struct event *e = &rec.ev[i];
		if (e->sync)
			continue;
		uint32_t page = (uint32_t)(e->off / p->page_size), off = e->off % p->page_size;
		if (!meta_magic_at(after, p, page) || e->len == p->page_size)
			continue; /* data pages (unreachable until the commit record), erases */
		bool header = off < hdr_end;
		bool record = !header && e->len == h && e->data[0] == 0xc5 && e->data[1] == 0x59;
		if (record || (header && (i == s || !(rec.ev[i - 1].sync == false &&
						       rec.ev[i - 1].off / p->page_size == page &&
						       rec.ev[i - 1].off % p->page_size < hdr_end)))) {
			/* a commit record, or the first write of a new meta page's
			 * header: everything before it is durable */
			if (!(i > s && rec.ev[i - 1].sync))
				fail_msg("commit %d: write %zu (page %u offset %u, %zu bytes) makes "
					 "data valid without a sync before it", c, i - s, page, off,
					 e->len);
			last_record = i;
		}
	}
	/* after the last commit record, only its header's second write */
	for (size_t i = last_record + 1; i < end; i++) {
		const struct event *e = &rec.ev[i];
		if (!e->sync && e->off % p->page_size >= hdr_end)
			fail_msg("commit %d: write %zu after the commit record", c, i - s);
	}
	memcpy(img, after, w->size);
	free(after);
}

/* ---- crash images ------------------------------------------------------------- */

static uint64_t crash_rng = 99;

/* img: the image at the barrier; the writes in (from, to) land per sector. */
static void crash_image(uint8_t *out, const uint8_t *img, size_t size, size_t from, size_t to)
{
	memcpy(out, img, size);
	for (size_t i = from + 1; i < to; i++) {
		const struct event *e = &rec.ev[i];
		if (e->sync)
			continue;
		for (size_t o = 0; o < e->len;) {
			size_t at = (size_t)e->off + o;
			size_t n = SECTOR - at % SECTOR;
			if (n > e->len - o)
				n = e->len - o;
			if (rng_u64(&crash_rng) & 1)
				memcpy(out + at, e->data + o, n);
			o += n;
		}
	}
}

static void test_file_image_survives_crashes_at_every_barrier(void **state)
{
	(void)state;
	static struct run w;
	memset(&w, 0, sizeof(w));
	ekv_profile_default(&w.p);
	w.p.layout = 1; /* the Rust crate's layout (layout 2's barriers: powercut_l2) */
	w.p.page_size = 512;
	w.p.page_count = w.p.max_page_count = 64;
	w.p.max_value_size = 64;
	char path[] = "/tmp/ekv-durability-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	workload(&w, path);

	uint8_t *img = malloc(w.size), *crash = malloc(w.size);
	memcpy(img, w.initial, w.size);
	for (int c = 0; c < N_COMMITS; c++)
		check_order(&w, c, img);

	struct ekv_flash *f;
	assert_int_equal(ekv_flash_mem_new(w.p.page_size, w.p.page_count, 0xff, &f), 0);
	static char got[LIST_CAP];
	unsigned barriers = 0, images = 0;
	memcpy(img, w.initial, w.size);
	size_t prev = 0;
	int acked = 0;
	/* a crash between barrier `prev` (or the start) and the next one */
	for (size_t i = 0; i <= rec.n; i++) {
		if (i < rec.n && !rec.ev[i].sync)
			continue;
		size_t from = barriers ? prev : (size_t)-1;
		while (acked < N_COMMITS && w.start[acked + 1] <= (barriers ? prev + 1 : 0))
			acked++;
		for (int k = 0; k < SAMPLES; k++) {
			crash_image(crash, img, w.size, from, i);
			for (int policy = EKV_ON_DAMAGE_FALLBACK; policy <= EKV_ON_DAMAGE_REFUSE;
			     policy++) {
				memcpy(ekv_flash_mem_data(f), crash, w.size);
				struct ekv_options o;
				ekv_options_default(&o);
				o.on_damage = (enum ekv_on_damage)policy;
				ekv_db *db;
				struct ekv_stat st;
				assert_int_equal(ekv_open(f, &w.p, &o, &db), 0);
				int e = ekv_mount(db);
				if (e == 0)
					e = ekv_stat(db, &st);
				if (e < 0 || st.damaged)
					fail_msg("crash after barrier %u: mount %s", barriers,
						 e < 0 ? ekv_strerror(e) : "reports damage");
				listing(db, got);
				ekv_close(db);
				bool ok = !strcmp(got, w.state[acked]) ||
					  (acked < N_COMMITS && !strcmp(got, w.state[acked + 1]));
				if (!ok)
					fail_msg("crash after barrier %u (%d commits acknowledged): %s", barriers,
						 acked, got);
				images++;
			}
		}
		/* advance the image to this barrier */
		for (size_t j = barriers ? prev : 0; j < i && j < rec.n; j++)
			apply(img, &rec.ev[j]);
		prev = i;
		barriers++;
	}
	print_message("  %d commits, %zu writes and syncs, %u barriers, %u crash images mounted\n",
		      N_COMMITS, rec.n, barriers, images);
	ekv_flash_close(f);
	free(img);
	free(crash);
	free(w.initial);
	for (size_t i = 0; i < rec.n; i++)
		free(rec.ev[i].data);
	free(rec.ev);
	memset(&rec, 0, sizeof(rec));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_image_survives_crashes_at_every_barrier),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
