/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * detect.c — which layout a flash or an image file holds (ekv_detect,
 * ekv_detect_image): a layout 2 block header anywhere, else a layout 1 page
 * header (docs/FORMAT.md §2, §L2).
 *
 * Owns: the order of the look (layout 2 first: its headers carry a CRC) and
 * the bound of every scan (the flash's blocks, the file's size).  Reads
 * only; never trusts a header without its CRC.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flash.h"
#include "l2/format.h"
#include "profile.h"
#include "util.h"

static void fill_profile(struct ekv_profile *p, const struct l2_geom *g)
{
	if (!p)
		return;
	p->layout = 2;
	p->block_size = g->block_size;
	p->block_count = g->block_count;
	p->write_size = g->pu;
	p->align = g->align;
	p->erase_value = g->erase_value;
	p->max_key_size = g->max_key;
	p->max_value_size = g->max_value;
	p->journal_blocks = g->journal_blocks;
	p->memtable_kib = g->memtable_kib;
	p->nand = (g->compat & L2_COMPAT_NAND) != 0;
}

int ekv_detect(struct ekv_flash *f, struct ekv_profile *p)
{
	if (!f)
		return EKV_EINVAL;
	uint8_t buf[L2_HDR_SIZE];
	uint32_t n = f->page_size < L2_HDR_SIZE ? f->page_size : L2_HDR_SIZE;
	bool layout1 = false;
	for (uint32_t b = 0; b < f->page_count; b++) {
		int e = flash_read(f, b, 0, buf, n);
		if (e < 0)
			return e;
		struct l2_block_hdr h;
		struct l2_geom g;
		if (n == L2_HDR_SIZE && l2_hdr_decode(buf, &h, &g, NULL, 0) == 0 &&
		    g.block_size == f->page_size && g.block_count <= f->page_count &&
		    b < g.block_count) {
			fill_profile(p, &g);
			return 2;
		}
		uint32_t magic = get_le32(buf);
		if (n >= 8 && (magic == META_MAGIC || magic == DATA_MAGIC) && get_le32(buf + 4) == b)
			layout1 = true;
	}
	return layout1 ? 1 : 0;
}

int ekv_detect_image(const char *path, struct ekv_profile *p)
{
	if (!path)
		return EKV_EINVAL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	int ret = 0;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto out;
	}
	uint64_t size = (uint64_t)st.st_size;
	enum { CHUNK = 1 << 16 };
	uint8_t *buf = malloc(CHUNK);
	if (!buf) {
		ret = EKV_ENOMEM;
		goto out;
	}
	for (uint64_t at = 0; at + L2_HDR_SIZE <= size && ret == 0; at += CHUNK) {
		size_t want = size - at < CHUNK ? (size_t)(size - at) : CHUNK;
		int e = pread_full(fd, buf, want, (off_t)at);
		if (e < 0) {
			ret = e;
			break;
		}
		for (size_t off = 0; off + L2_HDR_SIZE <= want; off += L2_BLOCK_MIN) {
			struct l2_block_hdr h;
			struct l2_geom g;
			if (get_le32(buf + off) != L2_MAGIC ||
			    l2_hdr_decode(buf + off, &h, &g, NULL, 0) < 0)
				continue;
			uint64_t pos = at + off;
			if (pos % g.block_size || (uint64_t)g.block_size * g.block_count > size)
				continue;
			fill_profile(p, &g);
			ret = 2;
			break;
		}
	}
	free(buf);
out:
	close(fd);
	return ret;
}
