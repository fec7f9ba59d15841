/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * ekv_test.h — the RAM flash backend and its fault model (power cuts with
 * torn programs and erases, injected I/O errors): the static library
 * libekv_test, linked by the tests, the fuzzers, ekv-bench and ekvctl (which
 * loads truncated images into RAM).  Not part of libekv.so nor of the
 * stable API.
 */
#ifndef EKV_TEST_H
#define EKV_TEST_H

#include "ekv.h"

#ifdef __cplusplus
extern "C" {
#endif

/* RAM flash: page_count pages of page_size bytes, initially erased. */
int ekv_flash_mem_new(uint32_t page_size, uint32_t page_count, uint8_t erase_value,
		      struct ekv_flash **out);

/* Counters of the RAM backend (calls and bytes per op). */
struct ekv_mem_stats {
	uint64_t read_count, read_bytes;
	uint64_t write_count, write_bytes;
	uint64_t erase_count;
};
void ekv_flash_mem_stats(struct ekv_flash *f, struct ekv_mem_stats *st);
void ekv_flash_mem_reset_stats(struct ekv_flash *f);
/* Erases per page since creation (not reset by reset_stats); array of page_count. */
const uint64_t *ekv_flash_mem_page_erases(struct ekv_flash *f);
/* Direct access to the RAM image (page_size*page_count bytes). */
uint8_t *ekv_flash_mem_data(struct ekv_flash *f);
/* Fail on programming a byte that is not erased (write-once check). */
void ekv_flash_mem_set_strict(struct ekv_flash *f, bool strict);

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
