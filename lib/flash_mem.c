/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * flash_mem.c — RAM flash for tests and benchmarks.
 *
 * Owns: a byte array with real NOR semantics, operation counters and
 * per-page erase counts.  Never used on a real device.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "flash.h"
#include "flash_mem.h"

static struct mem_flash *mem_of(struct ekv_flash *f)
{
	return f->ctx;
}

static int mem_read(void *ctx, uint32_t page, uint32_t off, void *buf, uint32_t len)
{
	struct mem_flash *m = ctx;
	int r = mem_fault_before(m, MEM_OP_READ, page, off, len);
	if (r < 0)
		return r;
	memcpy(buf, m->data + (size_t)page * m->page_size + off, len);
	pthread_mutex_lock(&m->lock);
	m->stats.read_count++;
	m->stats.read_bytes += len;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

static int mem_write(void *ctx, uint32_t page, uint32_t off, const void *buf, uint32_t len)
{
	struct mem_flash *m = ctx;
	uint8_t *dst = m->data + (size_t)page * m->page_size + off;
	int r = mem_fault_before(m, MEM_OP_WRITE, page, off, len);
	if (r < 0)
		return r;
	if (r > 0) /* power cut during this program: apply a torn subset */
		return mem_tear_write(m, dst, buf, len);
	if (!flash_program_bytes(dst, buf, len, m->erase_value, m->strict))
		return EKV_EIO;
	pthread_mutex_lock(&m->lock);
	m->stats.write_count++;
	m->stats.write_bytes += len;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

static int mem_erase(void *ctx, uint32_t page)
{
	struct mem_flash *m = ctx;
	uint8_t *dst = m->data + (size_t)page * m->page_size;
	int r = mem_fault_before(m, MEM_OP_ERASE, page, 0, m->page_size);
	if (r < 0)
		return r;
	if (r > 0)
		return mem_tear_erase(m, dst);
	memset(dst, m->erase_value, m->page_size);
	pthread_mutex_lock(&m->lock);
	m->stats.erase_count++;
	m->page_erases[page]++;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

static void mem_destroy(void *ctx)
{
	struct mem_flash *m = ctx;
	pthread_mutex_destroy(&m->lock);
	free(m->page_erases);
	free(m->data);
	free(m);
}

static const struct ekv_flash_ops mem_ops = {
	.read = mem_read,
	.write = mem_write,
	.erase = mem_erase,
	.destroy = mem_destroy,
};

int ekv_flash_mem_new(uint32_t page_size, uint32_t page_count, uint8_t erase_value,
		      struct ekv_flash **out)
{
	*out = NULL;
	if (page_size == 0 || page_count == 0 || page_count > 65536 ||
	    (uint64_t)page_size * page_count > ((uint64_t)1 << 32))
		return EKV_EINVAL;
	struct ekv_flash *f = calloc(1, sizeof(*f));
	struct mem_flash *m = calloc(1, sizeof(*m));
	if (m) {
		m->data = malloc((size_t)page_size * page_count);
		m->page_erases = calloc(page_count, sizeof(uint64_t));
	}
	if (!f || !m || !m->data || !m->page_erases) {
		if (m) {
			free(m->data);
			free(m->page_erases);
		}
		free(m);
		free(f);
		return EKV_ENOMEM;
	}
	memset(m->data, erase_value, (size_t)page_size * page_count);
	m->page_size = page_size;
	m->page_count = page_count;
	m->erase_value = erase_value;
	m->rng = 0x9e3779b97f4a7c15ull;
	pthread_mutex_init(&m->lock, NULL);
	f->ops = &mem_ops;
	f->ctx = m;
	f->page_size = page_size;
	f->page_count = page_count;
	f->write_size = 1;
	f->erase_value = erase_value;
	*out = f;
	return 0;
}

void ekv_flash_mem_stats(struct ekv_flash *f, struct ekv_mem_stats *st)
{
	struct mem_flash *m = mem_of(f);
	pthread_mutex_lock(&m->lock);
	*st = m->stats;
	pthread_mutex_unlock(&m->lock);
}

void ekv_flash_mem_reset_stats(struct ekv_flash *f)
{
	struct mem_flash *m = mem_of(f);
	pthread_mutex_lock(&m->lock);
	memset(&m->stats, 0, sizeof(m->stats));
	pthread_mutex_unlock(&m->lock);
}

const uint64_t *ekv_flash_mem_page_erases(struct ekv_flash *f)
{
	return mem_of(f)->page_erases;
}

uint8_t *ekv_flash_mem_data(struct ekv_flash *f)
{
	return mem_of(f)->data;
}

void ekv_flash_mem_set_strict(struct ekv_flash *f, bool strict)
{
	mem_of(f)->strict = strict;
}
