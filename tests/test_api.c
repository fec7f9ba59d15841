/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * test_api.c — every public function of ekv.h with NULL arguments (handles,
 * result pointers, buffers), checked against the rules of ekv.h's "Handles
 * and NULL", on a local handle (a file image) and on a remote one (a real
 * ekvd process).  Each handle kind also runs every slot of its ops table
 * once with valid arguments.  Links libekv.so alone: what it tests is what
 * the shared library exports.  Usage: test_api PATH/TO/ekvd
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ekv.h"

static const char *ekvd_path;
static char dir[64];
static pid_t ekvd_pid;

/* a pointer no function may leave behind in an out parameter */
#define JUNK ((void *)(uintptr_t)0x1)

/* A fresh erased image of the default profile in the test's directory. */
static struct ekv_flash *new_image(const char *name, struct ekv_profile *p)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
	ekv_profile_default(p);
	struct ekv_flash *f = NULL;
	assert_int_equal(ekv_flash_file_open(path, p->page_size, p->page_count, p->erase_value,
					     EKV_FILE_CREATE, &f),
			 0);
	return f;
}

static bool all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* ---- functions without a handle ------------------------------------------------ */

static void test_functions_without_a_handle(void **state)
{
	(void)state;
	assert_non_null(ekv_strerror(0));
	assert_non_null(ekv_strerror(EKV_EINVAL));
	assert_non_null(ekv_strerror(-123456));
	assert_non_null(ekv_strerror(77));

	ekv_profile_default(NULL);
	ekv_options_default(NULL);
	ekv_connect_options_default(NULL);
	ekv_flash_close(NULL);

	char msg[128];
	assert_int_equal(ekv_profile_check(NULL, msg, sizeof(msg)), EKV_EINVAL);
	assert_string_equal(msg, "no profile given");
	assert_int_equal(ekv_profile_check(NULL, NULL, 0), EKV_EINVAL);
	struct ekv_profile p;
	struct ekv_flash *f = new_image("plain.img", &p);
	assert_int_equal(ekv_profile_check(&p, NULL, 0), 0);
	struct ekv_geometry g;
	assert_int_equal(ekv_profile_geometry(NULL, &g), EKV_EINVAL);
	assert_int_equal(ekv_profile_geometry(&p, NULL), EKV_EINVAL);
	int level = 0, slot = 0;
	assert_int_equal(ekv_file_level(NULL, 1, &level, &slot), EKV_EINVAL);
	assert_int_equal(ekv_file_level(&p, 1, NULL, &slot), EKV_EINVAL);
	assert_int_equal(ekv_file_level(&p, 1, &level, NULL), EKV_EINVAL);

	struct ekv_flash *none = JUNK;
	assert_int_equal(ekv_flash_file_open(NULL, 4096, 8, 0xff, EKV_FILE_CREATE, &none),
			 EKV_EINVAL);
	assert_null(none);
	assert_int_equal(ekv_flash_file_open("/nonexistent/x", 4096, 8, 0xff, 0, NULL), EKV_EINVAL);
	none = JUNK;
	assert_int_equal(ekv_flash_mtd_open(NULL, 0, &none, msg, sizeof(msg)), EKV_EINVAL);
	assert_null(none);
	assert_int_equal(ekv_flash_mtd_open("/dev/mtd0", 0, NULL, NULL, 0), EKV_EINVAL);

	ekv_db *db = JUNK;
	assert_int_equal(ekv_open(NULL, &p, NULL, &db), EKV_EINVAL);
	assert_null(db);
	db = JUNK;
	assert_int_equal(ekv_open(f, NULL, NULL, &db), EKV_EINVAL);
	assert_null(db);
	assert_int_equal(ekv_open(f, &p, NULL, NULL), EKV_EINVAL);
	assert_int_equal(ekv_open(f, &p, NULL, &db), 0); /* NULL options: defaults */
	ekv_close(db);

	struct ekv_check_result res;
	memset(&res, 0xaa, sizeof(res));
	assert_int_equal(ekv_check(NULL, &p, NULL, NULL, NULL, &res), EKV_EINVAL);
	assert_true(all_zero(&res, sizeof(res)));
	assert_int_equal(ekv_check(f, NULL, NULL, NULL, NULL, &res), EKV_EINVAL);
	assert_int_equal(ekv_check(f, &p, NULL, NULL, NULL, NULL), EKV_EINVAL);
	assert_int_equal(ekv_check(f, &p, NULL, NULL, NULL, &res), 0); /* NULL callbacks */
	assert_int_equal(ekv_dump(NULL, &p, EKV_DUMP_PAGES, NULL, NULL), EKV_EINVAL);
	assert_int_equal(ekv_dump(f, NULL, EKV_DUMP_PAGES, NULL, NULL), EKV_EINVAL);
	assert_int_equal(ekv_dump(f, &p, EKV_DUMP_PAGES, NULL, NULL), 0);
	struct ekv_probe_result pr;
	memset(&pr, 0xaa, sizeof(pr));
	assert_int_equal(ekv_probe(NULL, NULL, 0, NULL, NULL, &pr), EKV_EINVAL);
	assert_true(all_zero(&pr, sizeof(pr)));
	assert_int_equal(ekv_probe(f, NULL, 0, NULL, NULL, NULL), EKV_EINVAL);
	assert_true(ekv_probe(f, NULL, 0, NULL, NULL, &pr) >= 0); /* NULL hint: defaults */
	ekv_flash_close(f);

	assert_int_equal(ekv_connect(NULL, NULL, NULL), EKV_EINVAL);
}

/* ---- NULL handles ------------------------------------------------------------------ */

static void test_null_handles(void **state)
{
	(void)state;
	ekv_close(NULL);
	ekv_rtx_end(NULL);
	ekv_cursor_close(NULL);
	ekv_wtx_abort(NULL);
	assert_int_equal(ekv_format(NULL), EKV_EINVAL);
	assert_int_equal(ekv_mount(NULL), EKV_EINVAL);
	assert_int_equal(ekv_compact(NULL), EKV_EINVAL);
	struct ekv_stat st;
	memset(&st, 0xaa, sizeof(st));
	assert_int_equal(ekv_stat(NULL, &st), EKV_EINVAL);
	assert_true(all_zero(&st, sizeof(st)));
	struct ekv_remote_info info;
	memset(&info, 0xaa, sizeof(info));
	assert_int_equal(ekv_remote_info(NULL, &info), EKV_EINVAL);
	assert_true(all_zero(&info, sizeof(info)));

	ekv_rtx *rtx = JUNK;
	assert_int_equal(ekv_rtx_begin(NULL, &rtx), EKV_EINVAL);
	assert_null(rtx);
	ekv_wtx *wtx = JUNK;
	assert_int_equal(ekv_wtx_begin(NULL, &wtx), EKV_EINVAL);
	assert_null(wtx);
	char v[8];
	size_t vl = 99;
	assert_int_equal(ekv_rtx_get(NULL, "k", 1, v, sizeof(v), &vl), EKV_EINVAL);
	assert_int_equal(vl, 99);
	ekv_cursor *c = JUNK;
	assert_int_equal(ekv_cursor_open(NULL, NULL, 0, NULL, 0, &c), EKV_EINVAL);
	assert_null(c);
	c = JUNK;
	assert_int_equal(ekv_cursor_open_prefix(NULL, "k", 1, &c), EKV_EINVAL);
	assert_null(c);
	char k[8];
	size_t kl;
	assert_int_equal(ekv_cursor_next(NULL, k, sizeof(k), &kl, v, sizeof(v), &vl), EKV_EINVAL);
	assert_int_equal(ekv_wtx_put(NULL, "k", 1, "v", 1), EKV_EINVAL);
	assert_int_equal(ekv_wtx_delete(NULL, "k", 1), EKV_EINVAL);
	assert_int_equal(ekv_wtx_commit(NULL), EKV_EINVAL);
}

/* ---- a live handle: NULL arguments, then every slot once ----------------------------- */

static void write_pairs(ekv_db *db)
{
	ekv_wtx *tx = JUNK;
	assert_int_equal(ekv_wtx_begin(db, NULL), EKV_EINVAL);
	assert_int_equal(ekv_wtx_begin(db, &tx), 0);
	assert_non_null(tx);
	assert_int_equal(ekv_wtx_put(tx, NULL, 1, "v", 1), EKV_EINVAL);
	assert_int_equal(ekv_wtx_put(tx, "a", 1, NULL, 1), EKV_EINVAL);
	assert_int_equal(ekv_wtx_delete(tx, NULL, 1), EKV_EINVAL);
	/* refused arguments do not cancel the transaction */
	assert_int_equal(ekv_wtx_put(tx, "a", 1, NULL, 0), 0); /* empty value */
	assert_int_equal(ekv_wtx_put(tx, "b", 1, "22", 2), 0);
	assert_int_equal(ekv_wtx_delete(tx, "c", 1), 0);
	assert_int_equal(ekv_wtx_commit(tx), 0);
	/* an aborted one leaves nothing */
	assert_int_equal(ekv_wtx_begin(db, &tx), 0);
	assert_int_equal(ekv_wtx_put(tx, "z", 1, "zz", 2), 0);
	ekv_wtx_abort(tx);
}

static void read_pairs(ekv_db *db)
{
	ekv_rtx *rtx = JUNK;
	assert_int_equal(ekv_rtx_begin(db, NULL), EKV_EINVAL);
	assert_int_equal(ekv_rtx_begin(db, &rtx), 0);
	char v[8], k[8];
	size_t vl = 99, kl = 99;
	assert_int_equal(ekv_rtx_get(rtx, NULL, 1, v, sizeof(v), &vl), EKV_EINVAL);
	assert_int_equal(ekv_rtx_get(rtx, "b", 1, NULL, sizeof(v), &vl), EKV_EINVAL);
	assert_int_equal(vl, 99);
	assert_int_equal(ekv_rtx_get(rtx, "b", 1, NULL, 0, &vl), EKV_ERANGE);
	assert_int_equal(vl, 2);
	assert_int_equal(ekv_rtx_get(rtx, "b", 1, v, sizeof(v), NULL), 0); /* no length wanted */
	assert_memory_equal(v, "22", 2);
	assert_int_equal(ekv_rtx_get(rtx, "z", 1, v, sizeof(v), &vl), EKV_ENOTFOUND);

	ekv_cursor *c = JUNK;
	assert_int_equal(ekv_cursor_open(rtx, NULL, 0, NULL, 0, NULL), EKV_EINVAL);
	/* NULL bounds are no bounds, whatever their lengths */
	assert_int_equal(ekv_cursor_open(rtx, NULL, 5, NULL, 7, &c), 0);
	assert_int_equal(ekv_cursor_next(c, NULL, 4, &kl, v, sizeof(v), &vl), EKV_EINVAL);
	assert_int_equal(ekv_cursor_next(c, k, sizeof(k), &kl, NULL, 4, &vl), EKV_EINVAL);
	assert_int_equal(ekv_cursor_next(c, k, sizeof(k), NULL, NULL, 0, NULL), 1); /* "a", empty */
	assert_int_equal(ekv_cursor_next(c, k, sizeof(k), &kl, NULL, 0, &vl), EKV_ERANGE);
	assert_int_equal(vl, 2);
	assert_int_equal(ekv_cursor_next(c, k, sizeof(k), &kl, v, sizeof(v), &vl), 1);
	assert_int_equal(kl, 1);
	assert_memory_equal(k, "b", 1);
	assert_int_equal(ekv_cursor_next(c, k, sizeof(k), &kl, v, sizeof(v), &vl), 0);
	ekv_cursor_close(c);

	c = JUNK;
	assert_int_equal(ekv_cursor_open_prefix(rtx, NULL, 1, &c), EKV_EINVAL);
	assert_null(c);
	assert_int_equal(ekv_cursor_open_prefix(rtx, "b", 1, NULL), EKV_EINVAL);
	assert_int_equal(ekv_cursor_open_prefix(rtx, "b", 1, &c), 0);
	assert_int_equal(ekv_cursor_next(c, k, sizeof(k), &kl, v, sizeof(v), &vl), 1);
	assert_memory_equal(k, "b", 1);
	assert_int_equal(ekv_cursor_next(c, k, sizeof(k), &kl, v, sizeof(v), &vl), 0);
	ekv_cursor_close(c);
	assert_int_equal(ekv_cursor_open_prefix(rtx, NULL, 0, &c), 0); /* every key */
	ekv_cursor_close(c); /* before its end */
	ekv_rtx_end(rtx);
}

static void exercise_handle(ekv_db *db, bool remote)
{
	assert_int_equal(ekv_format(db), 0);
	assert_int_equal(ekv_mount(db), 0);
	write_pairs(db);
	read_pairs(db);
	struct ekv_stat st;
	assert_int_equal(ekv_stat(db, NULL), EKV_EINVAL);
	assert_int_equal(ekv_stat(db, &st), 0);
	assert_true(st.generation >= 1);
	int r = ekv_compact(db);
	assert_true(r == 0 || r == 1);
	struct ekv_remote_info info;
	assert_int_equal(ekv_remote_info(db, NULL), EKV_EINVAL);
	memset(&info, 0xaa, sizeof(info));
	if (remote) {
		assert_int_equal(ekv_remote_info(db, &info), 0);
		assert_int_equal(info.profile.page_size, 4096);
	} else {
		assert_int_equal(ekv_remote_info(db, &info), EKV_EINVAL);
		assert_true(all_zero(&info, sizeof(info)));
	}
	ekv_close(db);
}

static void test_local_handle(void **state)
{
	(void)state;
	struct ekv_profile p;
	struct ekv_flash *f = new_image("local.img", &p);
	struct ekv_options o;
	ekv_options_default(&o);
	o.seed_set = true;
	ekv_db *db = NULL;
	assert_int_equal(ekv_open(f, &p, &o, &db), 0);
	exercise_handle(db, false);
	ekv_flash_close(f);
}

static void count_line(void *ctx, const char *line)
{
	(void)line;
	++*(int *)ctx;
}

/* ekv_options.log: the flash's log while the handle is open, unless the
 * flash has its own. */
static void test_options_log_becomes_the_flash_log(void **state)
{
	(void)state;
	struct ekv_profile p;
	struct ekv_flash *f = new_image("log.img", &p);
	int n = 0, mine = 0;
	struct ekv_options o;
	ekv_options_default(&o);
	assert_null(o.log);
	o.log = count_line;
	o.log_ctx = &n;
	ekv_db *db;
	assert_int_equal(ekv_open(f, &p, &o, &db), 0);
	assert_ptr_equal(f->log, count_line);
	assert_ptr_equal(f->log_ctx, &n);
	ekv_close(db);
	assert_null(f->log);
	f->log = count_line;
	f->log_ctx = &mine;
	assert_int_equal(ekv_open(f, &p, &o, &db), 0);
	ekv_close(db);
	assert_ptr_equal(f->log_ctx, &mine);
	ekv_flash_close(f);
}

static void test_remote_handle(void **state)
{
	(void)state;
	char img[128], sock[128];
	snprintf(img, sizeof(img), "%s/db.img", dir);
	snprintf(sock, sizeof(sock), "%s/ekv.sock", dir);
	fflush(NULL);
	ekvd_pid = fork();
	assert_true(ekvd_pid >= 0);
	if (ekvd_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl(ekvd_path, ekvd_path, "--image", img, "--socket", sock, "--seed", "7",
		      (char *)NULL);
		_exit(127);
	}
	ekv_db *db = NULL;
	int e = EKV_EIO;
	for (int i = 0; i < 400 && e == EKV_EIO; i++) { /* up to 20 s for ekvd to listen */
		e = ekv_connect(sock, NULL, &db);
		if (e == EKV_EIO)
			usleep(50000);
	}
	if (e)
		fail_msg("ekv_connect: %s", ekv_strerror(e));
	exercise_handle(db, true);
}

static int stop_ekvd(void **state)
{
	(void)state;
	if (ekvd_pid > 0) {
		kill(ekvd_pid, SIGTERM);
		waitpid(ekvd_pid, NULL, 0);
		ekvd_pid = 0;
	}
	return 0;
}

/* The group's scratch directory. */
static int make_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/ekv-api-test.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
	(void)state;
	const char *names[] = {"plain.img", "local.img", "log.img", "db.img", "ekv.sock"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char path[128];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	return rmdir(dir);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s PATH/TO/ekvd\n", argv[0]);
		return 2;
	}
	ekvd_path = argv[1];
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_functions_without_a_handle),
		cmocka_unit_test(test_null_handles),
		cmocka_unit_test(test_local_handle),
		cmocka_unit_test(test_options_log_becomes_the_flash_log),
		cmocka_unit_test_teardown(test_remote_handle, stop_ekvd),
	};
	return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
