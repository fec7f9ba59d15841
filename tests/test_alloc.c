/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* test_alloc.c — the page allocator (lib/alloc.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "alloc.h"
#include "ekv.h"

static void test_allocation_is_next_fit_from_the_random_start_and_wraps(void **state)
{
	(void)state;
	struct alloc a;
	assert_int_equal(alloc_init(&a, 16), 0);
	alloc_reset(&a, 10, 2132356002u); /* 2132356002 % 10 = 2 */
	for (int i = 0; i < 10; i++)
		assert_int_equal(alloc_try_allocate(&a), (2 + i) % 10);
	assert_int_equal(alloc_try_allocate(&a), -1);
	assert_int_equal(alloc_free(&a, 5), 0);
	assert_int_equal(alloc_free(&a, 1), 0);
	/* the cursor goes on from where it stopped: 2, so 5 before 1 */
	assert_int_equal(alloc_try_allocate(&a), 5);
	assert_int_equal(alloc_try_allocate(&a), 1);
	alloc_destroy(&a);
}

static void test_double_use_and_double_free_are_corruption(void **state)
{
	(void)state;
	struct alloc a;
	assert_int_equal(alloc_init(&a, 8), 0);
	alloc_reset(&a, 8, 0);
	assert_int_equal(alloc_mark_used(&a, 3), 0);
	assert_int_equal(alloc_mark_used(&a, 3), EKV_ECORRUPT);
	assert_int_equal(alloc_mark_used(&a, 8), EKV_ECORRUPT);
	assert_int_equal(alloc_free(&a, 3), 0);
	assert_int_equal(alloc_free(&a, 3), EKV_ECORRUPT);
	assert_int_equal(alloc_free_pages(&a), 8);
	alloc_destroy(&a);
}

static void test_pinned_pages_are_skipped(void **state)
{
	(void)state;
	struct alloc a;
	assert_int_equal(alloc_init(&a, 8), 0);
	alloc_reset(&a, 4, 0);
	alloc_pin(&a, 0);
	alloc_pin(&a, 2);
	assert_int_equal(alloc_try_allocate(&a), 1);
	assert_int_equal(alloc_try_allocate(&a), 3);
	assert_int_equal(alloc_try_allocate(&a), -1);
	assert_int_equal(alloc_pinned_free(&a), 2);
	alloc_clear_pins(&a);
	assert_int_equal(alloc_try_allocate(&a), 0);
	alloc_destroy(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allocation_is_next_fit_from_the_random_start_and_wraps),
		cmocka_unit_test(test_double_use_and_double_free_are_corruption),
		cmocka_unit_test(test_pinned_pages_are_skipped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
