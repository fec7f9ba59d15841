/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * layout.c — encoders and decoders of the on-disk structures.  See layout.h;
 * docs/FORMAT.md is the authority for every offset used here.
 */
#include <string.h>
#include <zlib.h>

#include "layout.h"

uint32_t ekv_crc32(uint32_t crc, const void *buf, size_t len)
{
	/* zlib's crc32 = reflected CRC-32, poly 0xEDB88320, init/final 0xFFFFFFFF;
	 * the same function the crate implements bit by bit. */
	return (uint32_t)crc32(crc, buf, (uInt)len);
}

/* ---- PageHeader: magic u32, page_id u32, (crc) u32 ------------------------ */

#define PH_MAGIC 0
#define PH_PAGE_ID 4
#define PH_CRC 8

uint32_t page_header_size(bool crc)
{
	return crc ? 12 : 8;
}

int page_header_verify(const uint8_t *buf, uint32_t page, uint32_t magic, bool crc,
		       uint32_t ph_size, uint32_t hdr_size)
{
	if (get_le32(buf + PH_MAGIC) != magic || get_le32(buf + PH_PAGE_ID) != page)
		return EKV_ECORRUPT;
	if (crc && get_le32(buf + PH_CRC) != ekv_crc32(0, buf + ph_size, hdr_size))
		return EKV_ECORRUPT;
	return 0;
}

void page_header_encode(const struct geom *g, uint32_t page, uint32_t magic, const uint8_t *hdr,
			uint32_t hdr_size, uint8_t *out)
{
	memset(out, g->erase_value, g->ph_size);
	put_le32(out + PH_MAGIC, magic);
	put_le32(out + PH_PAGE_ID, page);
	if (g->crc)
		put_le32(out + PH_CRC, ekv_crc32(0, hdr, hdr_size));
	memcpy(out + g->ph_size, hdr, hdr_size);
}

void page_header_peek(const uint8_t *buf, uint32_t *magic, uint32_t *page_id)
{
	*magic = get_le32(buf + PH_MAGIC);
	*page_id = get_le32(buf + PH_PAGE_ID);
}

/* ---- ChunkHeader: magic u16, len u16, (crc) u32 --------------------------- */

uint32_t chunk_header_size(bool crc)
{
	return crc ? 8 : 4;
}

void chunk_header_encode(const struct geom *g, uint32_t len, uint32_t crc, uint8_t *out)
{
	put_le16(out, CHUNK_MAGIC);
	put_le16(out + 2, (uint16_t)len);
	if (g->crc)
		put_le32(out + 4, crc);
}

bool chunk_header_decode(const struct geom *g, const uint8_t *in, uint32_t *len, uint32_t *crc)
{
	if (get_le16(in) != CHUNK_MAGIC)
		return false;
	*len = get_le16(in + 2);
	*crc = g->crc ? get_le32(in + 4) : 0;
	return true;
}

/* ---- MetaHeader: page_count u32, seq u32 ------------------------------------ */

void meta_header_encode(const struct meta_header *h, uint8_t *out)
{
	put_le32(out, h->page_count);
	put_le32(out + 4, h->seq);
}

void meta_header_decode(const uint8_t *in, struct meta_header *h)
{
	h->page_count = get_le32(in);
	h->seq = get_le32(in + 4);
}

/* ---- FileMeta: file_id u8, flags u8, last_page_id u16, first_seq u32 -------- */

void file_meta_encode(const struct file_meta *fm, uint8_t *out)
{
	out[0] = fm->file_id;
	out[1] = fm->flags;
	put_le16(out + 2, fm->last_page);
	put_le32(out + 4, fm->first_seq);
}

void file_meta_decode(const uint8_t *in, struct file_meta *fm)
{
	fm->file_id = in[0];
	fm->flags = in[1];
	fm->last_page = get_le16(in + 2);
	fm->first_seq = get_le32(in + 4);
}

bool file_meta_valid(const struct geom *g, uint32_t page_count, const struct file_meta *fm)
{
	if (fm->file_id >= g->file_count)
		return false;
	if (fm->last_page != NO_PAGE)
		return fm->last_page < page_count;
	return fm->first_seq == 0;
}

/* ---- DataHeader: seq u32, skiplist u16[SKIPLIST_LEN], record_boundary u16 -- */

void data_header_encode(const struct geom *g, const struct data_header *h, uint8_t *out)
{
	memset(out, g->erase_value, g->data_hdr_size);
	put_le32(out, h->seq);
	for (uint32_t i = 0; i < g->skiplist_len; i++)
		put_le16(out + 4 + 2 * i, h->skiplist[i]);
	put_le16(out + 4 + 2 * g->skiplist_len, h->record_boundary);
}

void data_header_decode(const struct geom *g, const uint8_t *in, struct data_header *h)
{
	memset(h, 0, sizeof(*h));
	h->seq = get_le32(in);
	for (uint32_t i = 0; i < g->skiplist_len; i++)
		h->skiplist[i] = get_le16(in + 4 + 2 * i);
	h->record_boundary = get_le16(in + 4 + 2 * g->skiplist_len);
}

/* ---- record header: key_len | value_len << KEY_BITS | is_delete << ... ------ */

static uint32_t rec_hdr_word(const struct geom *g, const uint8_t *raw)
{
	uint32_t v = 0;
	for (uint32_t i = 0; i < g->rec_hdr_size; i++)
		v |= (uint32_t)raw[i] << (8 * i);
	return v;
}

int rec_hdr_decode(const struct geom *g, const uint8_t *raw, struct rec_hdr *h)
{
	uint32_t v = rec_hdr_word(g, raw);
	h->key_len = v & ((1u << g->key_bits) - 1);
	h->value_len = (v >> g->key_bits) & ((1u << g->value_bits) - 1);
	h->is_delete = (v >> (g->key_bits + g->value_bits)) & 1;
	if (h->key_len > g->max_key || h->value_len > g->max_value ||
	    (h->is_delete && h->value_len))
		return EKV_ECORRUPT;
	return 0;
}

void rec_hdr_encode(const struct geom *g, const struct rec_hdr *h, uint8_t *raw)
{
	uint32_t v = h->key_len | h->value_len << g->key_bits |
		     (uint32_t)h->is_delete << (g->key_bits + g->value_bits);
	for (uint32_t i = 0; i < g->rec_hdr_size; i++)
		raw[i] = (uint8_t)(v >> (8 * i));
}

bool rec_hdr_spare_bits_clear(const struct geom *g, const uint8_t *raw)
{
	uint32_t used = 1 + g->key_bits + g->value_bits;
	return used >= 32 || (rec_hdr_word(g, raw) >> used) == 0;
}
