/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * meta_log.c — reading a meta page's log, and telling a torn last append
 * from damage (docs/FORMAT.md §5, docs/DESIGN.md §2).  See meta.h.
 *
 * A power cut tears at most the last append of a log: its data words are
 * programmed first, its chunk header last, and nothing is appended after a
 * torn append (the page is not appendable any more).  So after the last
 * valid chunk a torn append leaves a chunk header whose every field is a
 * partial programming of some plausible header (bits moved away from the
 * erased value only), complete entries behind a header that was started,
 * and erased bytes after them.  Anything else there is not a power cut:
 * valid chunks after a bad one, or a bad chunk whose data holds entries
 * that its header cannot have been torn from, are damage — committed
 * transactions that mount cannot use.  Bytes that hold neither are noise
 * in the erased tail: nothing committed is lost.
 *
 * Every scan here is bounded by the page size.
 */
#include <stdlib.h>
#include <string.h>

#include "flash.h"
#include "meta.h"

/* A field value a torn program can leave on the way from the erased value
 * to `intended`: only bits that intended programs have moved. */
static bool reachable(uint32_t stored, uint32_t intended, uint8_t erase_value)
{
	if (erase_value == 0xff)
		return (~stored & intended) == 0;
	return (stored & ~intended) == 0;
}

static bool all_erased(const struct geom *g, const uint8_t *b, uint32_t from, uint32_t to)
{
	for (uint32_t i = from; i < to; i++)
		if (b[i] != g->erase_value)
			return false;
	return true;
}

static bool entry_valid(const struct geom *g, uint32_t page_count, const uint8_t *b)
{
	struct file_meta fm;
	file_meta_decode(b, &fm);
	return file_meta_valid(g, page_count, &fm);
}

/* Size of the valid chunk at off (header + aligned data) with at least one
 * entry, or 0. */
static uint32_t valid_chunk_at(const struct geom *g, uint32_t page_count, const uint8_t *b,
			       uint32_t off)
{
	uint32_t len, crc;
	if ((uint64_t)off + g->ch_size > g->page_size || !chunk_header_decode(g, b + off, &len, &crc))
		return 0;
	if (len == 0 || len > g->chunk_max || len % FILE_META_SIZE ||
	    (uint64_t)off + g->ch_size + len > g->page_size)
		return 0;
	const uint8_t *d = b + off + g->ch_size;
	for (uint32_t i = 0; i < len; i += FILE_META_SIZE)
		if (!entry_valid(g, page_count, d + i))
			return 0;
	if (g->crc && ekv_crc32(0, d, len) != crc)
		return 0;
	return g->ch_size + geom_align_up(g, len);
}

/* Number of consecutive valid chunks from off; *files gets the file ids
 * they name. */
static uint32_t valid_run_at(const struct geom *g, uint32_t page_count, const uint8_t *b,
			     uint32_t off, uint64_t *files)
{
	uint32_t n = 0;
	/* each chunk advances off by at least a chunk header */
	for (uint32_t size; (size = valid_chunk_at(g, page_count, b, off)) != 0; off += size) {
		for (uint32_t i = g->ch_size; i < size; i += FILE_META_SIZE)
			if (off + i + FILE_META_SIZE <= g->page_size &&
			    entry_valid(g, page_count, b + off + i))
				*files |= 1ull << b[off + i];
		n++;
	}
	return n;
}

/* Is the FILE_META_SIZE slot at off erased (or past the page end)? */
static bool slot_erased(const struct geom *g, const uint8_t *b, uint32_t off)
{
	uint32_t to = g->page_size - off < FILE_META_SIZE ? g->page_size : off + FILE_META_SIZE;
	return off >= g->page_size || all_erased(g, b, off, to);
}

/* Could the bytes from end on be a torn append, then erased bytes? */
static bool torn_append_at(const struct geom *g, uint32_t page_count, const uint8_t *b,
			   uint32_t end)
{
	uint32_t h = g->ch_size, ev = g->erase_value;
	if ((uint64_t)end + h > g->page_size)
		return false;
	const uint8_t *hdr = b + end;
	uint32_t data = end + h;
	if (all_erased(g, b, end, data)) {
		/* cut before the header: entries of one append, written since the
		 * last completed sync — any of them may be missing (a file
		 * image's page cache writes sectors in any order) — then erased
		 * bytes */
		uint32_t lim = data + geom_align_up(g, g->chunk_max);
		return lim >= g->page_size || all_erased(g, b, lim, g->page_size);
	}
	/* the header was being written, so the append's entries were complete:
	 * some length L of whole entries that the stored length and CRC can be
	 * torn from, with an erased slot after them */
	if (!reachable(get_le16(hdr), CHUNK_MAGIC, ev))
		return false;
	uint32_t len_s = get_le16(hdr + 2), crc_s = g->crc ? get_le32(hdr + 4) : 0;
	uint32_t crc = ekv_crc32(0, NULL, 0);
	for (uint32_t len = FILE_META_SIZE; len <= g->chunk_max && data + len <= g->page_size;
	     len += FILE_META_SIZE) {
		if (!entry_valid(g, page_count, b + data + len - FILE_META_SIZE))
			return false; /* no longer length holds only entries */
		crc = ekv_crc32(crc, b + data + len - FILE_META_SIZE, FILE_META_SIZE);
		if (!reachable(len_s, len, ev) || !slot_erased(g, b, data + len))
			continue;
		if (!g->crc || reachable(crc_s, crc, ev))
			return true;
	}
	return false;
}

/* A bad chunk at end that held committed entries: its header cannot be a
 * torn one, yet it is complete, or entries that are not erased bytes
 * follow it.  *files gets the file ids they name. */
static bool damaged_append_at(const struct geom *g, uint32_t page_count, const uint8_t *b,
			      uint32_t end, uint64_t *files)
{
	uint32_t data = end + g->ch_size, len, crc;
	/* a header written in full (not torn) vouches for complete entries:
	 * if they are not valid, they were damaged */
	if (chunk_header_decode(g, b + end, &len, &crc) && len && len % FILE_META_SIZE == 0 &&
	    len <= g->chunk_max && data + len <= g->page_size && !all_erased(g, b, data, data + len))
		*files |= 1; /* which files it named is not known */
	uint32_t lim = g->page_size - data < g->chunk_max ? g->page_size : data + g->chunk_max;
	for (uint32_t off = data; off + FILE_META_SIZE <= lim; off += FILE_META_SIZE)
		if (!all_erased(g, b, off, off + FILE_META_SIZE) &&
		    entry_valid(g, page_count, b + off))
			*files |= 1ull << b[off];
	return *files != 0;
}

/* Classify the non-erased bytes from out->end on (whole page in b). */
static void classify_tail(const struct geom *g, uint32_t page_count, const uint8_t *b,
			  struct meta_log_end *out)
{
	uint32_t end = out->end;
	bool torn = torn_append_at(g, page_count, b, end);
	if (torn && !all_erased(g, b, end, end + g->ch_size)) {
		out->torn = true;
		return;
	}
	/* valid chunks after the end are never a torn append's entries */
	for (uint32_t off = end + g->align; off + g->ch_size <= g->page_size; off += g->align) {
		uint32_t n = valid_run_at(g, page_count, b, off, &out->lost_files);
		if (n) {
			out->damaged = true;
			out->lost_chunks = n + 1;
			out->lost_offset = off;
			return;
		}
	}
	if (torn) {
		out->torn = true;
	} else if (damaged_append_at(g, page_count, b, end, &out->lost_files)) {
		out->damaged = true;
		out->lost_chunks = 1;
		out->lost_offset = end;
	} else {
		out->noise = true;
	}
}

int meta_log_read(const struct geom *g, struct ekv_flash *f, uint32_t page, uint32_t page_count,
		  meta_chunk_fn fn, void *ctx, struct meta_log_end *out)
{
	struct page_reader r;
	uint8_t hdr[EKV_META_HDR_SIZE];
	*out = (struct meta_log_end){0};
	uint8_t *buf = malloc(g->chunk_max);
	if (!buf)
		return EKV_ENOMEM;
	page_reader_init(&r, g, f, 0);
	r.lenient = true;
	int e = page_reader_open(&r, page, META_MAGIC, hdr, g->meta_hdr_size);
	bool bad = false;
	/* each chunk advances the offset by at least the chunk header */
	while (e >= 0 && !r.at_end) {
		struct meta_chunk c = {.offset = r.chunk_offset, .entries = buf};
		uint32_t len = r.chunk_len;
		e = page_reader_read(&r, buf, len);
		if (e < 0)
			break;
		/* no writer appends an empty chunk: a length torn to 0 */
		bool ok = (uint32_t)e == len && len && len % FILE_META_SIZE == 0;
		for (uint32_t i = 0; ok && i < len; i += FILE_META_SIZE)
			ok = entry_valid(g, page_count, buf + i);
		if (!ok) {
			bad = true;
			r.chunk_offset = c.offset;
			e = 0;
			break;
		}
		c.n = len / FILE_META_SIZE;
		out->chunks++;
		if (fn) {
			e = fn(ctx, &c);
			if (e < 0)
				break;
		}
		e = page_reader_next_chunk(&r);
	}
	page_reader_free(&r);
	free(buf);
	if (e < 0)
		return e;
	out->end = r.chunk_offset < g->page_size ? r.chunk_offset : g->page_size;
	out->clean = !bad && !r.torn_tail;
	if (out->clean && out->end < g->page_size) {
		e = page_tail_is_erased(g, f, page, out->end, &out->clean);
		if (e < 0)
			return e;
	}
	if (out->clean || out->end >= g->page_size)
		return 0;
	/* something follows the log: a torn append, damage or noise */
	uint8_t *page_buf = malloc(g->page_size);
	if (!page_buf)
		return EKV_ENOMEM;
	e = flash_read(f, page, 0, page_buf, g->page_size);
	if (e == 0)
		classify_tail(g, page_count, page_buf, out);
	free(page_buf);
	return e;
}

int meta_header_orphan(const struct geom *g, const uint8_t *b, uint32_t page)
{
	uint32_t magic, id, len, crc;
	/* only a page with a meta log behind its header matters (its entries
	 * are read by meta_log_orphan_chunks) */
	if (!chunk_header_decode(g, b + g->ph_size + g->meta_hdr_size, &len, &crc) || !len ||
	    len % FILE_META_SIZE || len > g->chunk_max)
		return 0;
	page_header_peek(b, &magic, &id);
	if (magic == META_MAGIC && id == page)
		return 2; /* written last, yet the MetaHeader or CRC is wrong */
	/* magic and page id are written last, after the MetaHeader: a torn
	 * rollover (or an interrupted erase) leaves them partly programmed */
	if (reachable(magic, META_MAGIC, g->erase_value) && reachable(id, page, g->erase_value))
		return 1;
	return 2;
}

int meta_log_orphan_chunks(const struct geom *g, struct ekv_flash *f, uint32_t page,
			   uint32_t *chunks, uint64_t *files)
{
	uint8_t *b = malloc(g->page_size);
	if (!b)
		return EKV_ENOMEM;
	int e = flash_read(f, page, 0, b, g->page_size);
	*files = 0;
	*chunks = e < 0 ? 0 : valid_run_at(g, g->page_count, b, g->ph_size + g->meta_hdr_size,
					    files);
	free(b);
	return e;
}
