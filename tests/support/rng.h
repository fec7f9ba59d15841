/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * rng.h — the one pseudo-random generator of the tests, the MTD guest
 * programs and the fuzzers: splitmix64, so a seed names a whole run.
 *
 * Owns: the generator's sequence (changing it changes every seeded test,
 * corpus and sweep).  Must never: depend on cmocka or libekv, or keep state
 * outside the caller's seed word.
 */
#ifndef EKV_SUPPORT_RNG_H
#define EKV_SUPPORT_RNG_H

#include <stdint.h>

/* The next value of the sequence; advances *s. */
static inline uint64_t rng_u64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

#endif
