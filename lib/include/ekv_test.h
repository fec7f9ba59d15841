/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * ekv_test.h — fault injection in the RAM backend, for tests and fuzzers.
 * Not part of the stable API.
 */
#ifndef EKV_TEST_H
#define EKV_TEST_H

#include "ekv.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ekv_mem_fault {
	/* Power cut: when cut_after_ops program/erase operations have completed
	 * (or the program crossing cut_after_bytes programmed bytes starts), that
	 * operation is torn and every later operation fails with EKV_EIO until
	 * the fault is cleared. 0 = off (use cut_enabled). */
	bool cut_enabled;
	uint64_t cut_after_ops;
	bool cut_by_bytes;
	uint64_t cut_after_bytes;
	/* Torn program: the first bytes land fully, then each intended bit change
	 * of the rest lands with probability 1/2.  Torn erase: each bit moves to
	 * the erased value with probability 1/2 (after a fully erased prefix
	 * of random length when erase_prefix is set). */
	bool erase_prefix;
	uint64_t seed;
	/* Injected I/O error on the error_nth (0-based) operation of the kinds in
	 * error_ops (1 read, 2 write, 4 erase); sticky: that and all later ones. */
	int error_ops;
	uint64_t error_nth;
	bool error_sticky;
};

/* Arm a fault (replaces any earlier one; counters restart at zero). */
void ekv_flash_mem_set_fault(struct ekv_flash *f, const struct ekv_mem_fault *fault);
/* Clear faults and power back on. */
void ekv_flash_mem_clear_fault(struct ekv_flash *f);
/* True once a power cut has happened. */
bool ekv_flash_mem_powered_off(struct ekv_flash *f);
/* Program/erase operations since the fault was armed. */
uint64_t ekv_flash_mem_mut_ops(struct ekv_flash *f);

#ifdef __cplusplus
}
#endif
#endif
