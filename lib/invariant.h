/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * invariant.h — EKV_ASSERT(cond): internal invariants, checked in test and
 * fuzz builds only.
 *
 * Owns: the one switch for invariant checks.  Built with EKV_ASSERTS (meson
 * -Dasserts=true, which scripts/test.sh and the libFuzzer build set), a
 * false cond prints file, line and condition and aborts; otherwise cond is
 * not even evaluated.
 * Must never: check a value derived from flash contents, I/O results or API
 * arguments.  Those are error codes (EKV_ECORRUPT, EKV_EIO, EKV_EINVAL...),
 * never aborts, in every build.
 */
#ifndef EKV_INVARIANT_H
#define EKV_INVARIANT_H

#ifdef EKV_ASSERTS
#include <stdio.h>
#include <stdlib.h>

static inline void ekv_assert_failed(const char *cond, const char *file, int line)
{
	fprintf(stderr, "%s:%d: internal invariant violated: %s\n", file, line, cond);
	abort();
}
#define EKV_ASSERT(cond) ((cond) ? (void)0 : ekv_assert_failed(#cond, __FILE__, __LINE__))
#else
#define EKV_ASSERT(cond) ((void)sizeof(!(cond)))
#endif

#endif
