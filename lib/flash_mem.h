/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * flash_mem.h — internals of the RAM backend, including its fault model
 * (power cuts with torn programs and erases, injected I/O errors).
 */
#ifndef EKV_FLASH_MEM_H
#define EKV_FLASH_MEM_H

#include <pthread.h>

#include "ekv.h"
#include "ekv_test.h"

enum { MEM_OP_READ = 1, MEM_OP_WRITE = 2, MEM_OP_ERASE = 4 };

struct mem_flash {
	uint8_t *data;
	uint32_t page_size, page_count;
	uint8_t erase_value;
	bool strict;
	pthread_mutex_t lock;
	struct ekv_mem_stats stats;
	uint64_t *page_erases;
	uint64_t rng;
	/* fault model */
	struct ekv_mem_fault fault;
	uint64_t mut_ops, mut_bytes;      /* program+erase ops and bytes since arming */
	uint64_t err_seen[3];             /* ops seen per kind since arming */
	bool powered_off;
	bool err_latched;
};

/* Returns <0 to fail the op, 1 to tear it (power cut now), 0 to run it. */
int mem_fault_before(struct mem_flash *m, int op, uint32_t page, uint32_t off, uint32_t len);
int mem_tear_write(struct mem_flash *m, uint8_t *dst, const uint8_t *src, uint32_t len);
int mem_tear_erase(struct mem_flash *m, uint8_t *dst);

#endif
