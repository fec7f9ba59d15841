/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * flash_fault.c — the RAM backend's fault model: power cuts that tear the
 * interrupted program or erase, and injected I/O errors.
 *
 * A torn program only ever moves bits away from the erased value (what a
 * partially programmed NOR cell can do); a torn erase only moves bits to the
 * erased value.  Never used outside tests, fuzzers and benchmarks.
 */
#include <string.h>

#include "flash_mem.h"

static uint64_t rng_next(uint64_t *s)
{
	/* splitmix64 */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void ekv_flash_mem_set_fault(struct ekv_flash *f, const struct ekv_mem_fault *fault)
{
	struct mem_flash *m = f->ctx;
	pthread_mutex_lock(&m->lock);
	m->fault = *fault;
	m->rng = fault->seed ^ 0x5bd1e995u;
	m->mut_ops = m->mut_bytes = 0;
	memset(m->err_seen, 0, sizeof(m->err_seen));
	m->powered_off = false;
	m->err_latched = false;
	pthread_mutex_unlock(&m->lock);
}

void ekv_flash_mem_clear_fault(struct ekv_flash *f)
{
	struct ekv_mem_fault none = {0};
	ekv_flash_mem_set_fault(f, &none);
}

/* The fault model's state, read under the lock. */
static void fault_state(struct ekv_flash *f, bool *powered_off, uint64_t *mut_ops)
{
	struct mem_flash *m = f->ctx;
	pthread_mutex_lock(&m->lock);
	*powered_off = m->powered_off;
	*mut_ops = m->mut_ops;
	pthread_mutex_unlock(&m->lock);
}

bool ekv_flash_mem_powered_off(struct ekv_flash *f)
{
	bool off;
	uint64_t ops;
	fault_state(f, &off, &ops);
	return off;
}

uint64_t ekv_flash_mem_mut_ops(struct ekv_flash *f)
{
	bool off;
	uint64_t ops;
	fault_state(f, &off, &ops);
	return ops;
}

int mem_fault_before(struct mem_flash *m, int op, uint32_t page, uint32_t off, uint32_t len)
{
	(void)page;
	(void)off;
	int r = 0;
	pthread_mutex_lock(&m->lock);
	if (m->powered_off) {
		r = EKV_EIO;
		goto out;
	}
	if (m->fault.error_ops & op) {
		int kind = op == MEM_OP_READ ? 0 : op == MEM_OP_WRITE ? 1 : 2;
		uint64_t n = m->err_seen[kind]++;
		if (n == m->fault.error_nth && m->fault.error_sticky)
			m->err_latched = true;
		if (n == m->fault.error_nth || m->err_latched) {
			r = EKV_EIO;
			goto out;
		}
	}
	if (op == MEM_OP_READ)
		goto out;
	if (m->fault.cut_enabled && m->mut_ops >= m->fault.cut_after_ops)
		r = 1;
	if (m->fault.cut_by_bytes && op == MEM_OP_WRITE &&
	    m->mut_bytes + len > m->fault.cut_after_bytes)
		r = 1;
	if (r == 1)
		m->powered_off = true;
	m->mut_ops++;
	if (op == MEM_OP_WRITE)
		m->mut_bytes += len;
out:
	pthread_mutex_unlock(&m->lock);
	return r;
}

int mem_tear_write(struct mem_flash *m, uint8_t *dst, const uint8_t *src, uint32_t len)
{
	pthread_mutex_lock(&m->lock);
	uint32_t prefix = len ? (uint32_t)(rng_next(&m->rng) % (len + 1)) : 0;
	if (m->fault.cut_by_bytes && m->mut_bytes > m->fault.cut_after_bytes) {
		/* cut at an exact byte count: only the bytes before it land fully */
		uint64_t over = m->mut_bytes - m->fault.cut_after_bytes;
		prefix = over >= len ? 0 : len - (uint32_t)over;
	}
	for (uint32_t i = 0; i < len; i++) {
		uint8_t want;
		if (m->erase_value == 0xff)
			want = dst[i] & src[i];
		else
			want = dst[i] | src[i];
		if (i < prefix) {
			dst[i] = want;
		} else {
			uint8_t change = dst[i] ^ want;
			dst[i] ^= change & (uint8_t)rng_next(&m->rng);
		}
	}
	pthread_mutex_unlock(&m->lock);
	return EKV_EIO;
}

int mem_tear_erase(struct mem_flash *m, uint8_t *dst)
{
	pthread_mutex_lock(&m->lock);
	uint32_t prefix = 0;
	if (m->fault.erase_prefix)
		prefix = (uint32_t)(rng_next(&m->rng) % (m->page_size + 1));
	memset(dst, m->erase_value, prefix);
	for (uint32_t i = prefix; i < m->page_size; i++) {
		uint8_t bits = (uint8_t)rng_next(&m->rng);
		if (m->erase_value == 0xff)
			dst[i] |= bits;
		else
			dst[i] &= (uint8_t)~bits;
	}
	pthread_mutex_unlock(&m->lock);
	return EKV_EIO;
}
