/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * profile.c — runtime geometry.  The crate computes these at compile time in
 * config.rs, page.rs and file.rs; the formulas are reproduced here exactly
 * (for ALIGN <= 4, where v1.0.0 and later crate versions agree), because any
 * difference changes the bytes on flash.  See docs/FORMAT.md §2.  The
 * defaults are the table of profile_fields.h.
 */
#include "layout.h"
#include "profile_fields.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static uint32_t ilog2_u32(uint32_t x)
{
	return 31u - (uint32_t)__builtin_clz(x);
}

uint32_t geom_size_bits(uint32_t max)
{
	uint32_t bits = 0;
	while ((1ull << bits) < (uint64_t)max + 1)
		bits++;
	return bits;
}

static int fail(char *msg, size_t msg_size, const char *fmt, ...)
{
	if (msg && msg_size) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, msg_size, fmt, ap);
		va_end(ap);
	}
	return EKV_EINVAL;
}

void ekv_profile_default(struct ekv_profile *p)
{
	if (!p)
		return;
	memset(p, 0, sizeof(*p));
#define DEFAULT(field, key, kind, def, ...) p->field = def;
	EKV_PROFILE_FIELDS(DEFAULT)
#undef DEFAULT
}

/* The format limits of profile.h hold for every profile the checks below
 * accept. */
_Static_assert(EKV_ALIGN_MAX == 4, "align: 1, 2 or 4");
_Static_assert(12 <= EKV_PAGE_HDR_MAX, "PageHeader with crc");
_Static_assert(8 <= EKV_CHUNK_HDR_MAX, "ChunkHeader with crc");
_Static_assert(EKV_META_HDR_SIZE <= EKV_LAYER_HDR_MAX, "MetaHeader");
_Static_assert((4 + 2 * MAX_SKIPLIST_LEN + 2 + 3) / 4 * 4 <= EKV_LAYER_HDR_MAX, "DataHeader");
_Static_assert(1u << (MAX_SKIPLIST_LEN + 2) == EKV_MAX_PAGE_COUNT_MAX, "skiplist length");
_Static_assert(2 * 16 + 1 <= MAX_FILE_COUNT && 3 * 10 + 1 <= MAX_FILE_COUNT &&
		       4 * 8 + 1 <= MAX_FILE_COUNT && EKV_BF_MAX == 4,
	       "BF * floor(log_BF(max page count)) + 1 for every BF");
_Static_assert(1u << (EKV_KEY_BITS_MAX - 1) < EKV_KEY_SIZE_LIMIT + 1 &&
		       EKV_KEY_SIZE_LIMIT + 1 <= 1u << EKV_KEY_BITS_MAX,
	       "key length bits");
_Static_assert(1u << (EKV_VALUE_BITS_MAX - 1) < EKV_VALUE_SIZE_LIMIT + 1 &&
		       EKV_VALUE_SIZE_LIMIT + 1 <= 1u << EKV_VALUE_BITS_MAX,
	       "value length bits");
_Static_assert((1 + EKV_KEY_BITS_MAX + EKV_VALUE_BITS_MAX + 7) / 8 <= EKV_REC_HDR_MAX,
	       "record header");
_Static_assert(EKV_CHUNK_SIZE_MAX <= 0xffff && EKV_PAYLOAD_MAX <= 0xffff, "u16 lengths");

int geom_init(struct geom *g, const struct ekv_profile *p, char *msg, size_t msg_size)
{
	memset(g, 0, sizeof(*g));
	if (msg && msg_size)
		msg[0] = 0;
	if (!p)
		return fail(msg, msg_size, "no profile given");
	if (p->align != 1 && p->align != 2 && p->align != 4)
		return fail(msg, msg_size, "align %u not supported (1, 2 or 4)", p->align);
	if (p->erase_value != 0xff && p->erase_value != 0x00)
		return fail(msg, msg_size, "erase value 0x%02x not supported (0xFF or 0x00)",
			    p->erase_value);
	if (p->page_size < EKV_PAGE_SIZE_MIN || p->page_size > EKV_PAGE_SIZE_MAX ||
	    p->page_size % 4 != 0)
		return fail(msg, msg_size,
			    "page size %u not supported (%u to %u, a multiple of 4)", p->page_size,
			    EKV_PAGE_SIZE_MIN, EKV_PAGE_SIZE_MAX);
	if (p->branching_factor < EKV_BF_MIN || p->branching_factor > EKV_BF_MAX)
		return fail(msg, msg_size, "branching factor %u not supported (%u to %u)",
			    p->branching_factor, EKV_BF_MIN, EKV_BF_MAX);
	if (p->max_page_count < EKV_MAX_PAGE_COUNT_MIN ||
	    p->max_page_count > EKV_MAX_PAGE_COUNT_MAX)
		return fail(msg, msg_size, "max page count %u not supported (%u to %u)",
			    p->max_page_count, EKV_MAX_PAGE_COUNT_MIN, EKV_MAX_PAGE_COUNT_MAX);
	if (p->page_count == 0 || p->page_count > p->max_page_count)
		return fail(msg, msg_size, "page count %u must be 1 to max page count %u",
			    p->page_count, p->max_page_count);
	if (p->page_count > NO_PAGE)
		return fail(msg, msg_size,
			    "page count %u too large: page index %u is reserved by the format",
			    p->page_count, NO_PAGE);
	if (p->max_key_size < 1 || p->max_key_size > EKV_KEY_SIZE_LIMIT)
		return fail(msg, msg_size, "max key size %u not supported (1 to %u)",
			    p->max_key_size, EKV_KEY_SIZE_LIMIT);
	if (p->max_value_size < 1 || p->max_value_size > EKV_VALUE_SIZE_LIMIT)
		return fail(msg, msg_size, "max value size %u not supported (1 to %u)",
			    p->max_value_size, EKV_VALUE_SIZE_LIMIT);
	if (p->max_chunk_size < EKV_CHUNK_SIZE_MIN || p->max_chunk_size % p->align != 0 ||
	    p->max_chunk_size > EKV_CHUNK_SIZE_MAX)
		return fail(msg, msg_size,
			    "max chunk size %u not supported (%u to %u, a multiple of align %u)",
			    p->max_chunk_size, EKV_CHUNK_SIZE_MIN, EKV_CHUNK_SIZE_MAX, p->align);

	g->p = *p;
	g->page_size = p->page_size;
	g->page_count = p->page_count;
	g->align = p->align;
	g->erase_value = p->erase_value;
	g->crc = p->crc;
	g->bf = p->branching_factor;
	g->max_key = p->max_key_size;
	g->max_value = p->max_value_size;

	g->ph_size = page_header_size(p->crc);
	g->ch_size = chunk_header_size(p->crc);
	g->meta_hdr_size = EKV_META_HDR_SIZE;
	g->skiplist_len = ilog2_u32(p->max_page_count) - 2;
	if (g->skiplist_len > MAX_SKIPLIST_LEN)
		return fail(msg, msg_size, "internal: skiplist too long");
	g->data_hdr_size = (4 + 2 * g->skiplist_len + 2 + 3) / 4 * 4;
	if (g->data_hdr_size > EKV_LAYER_HDR_MAX)
		return fail(msg, msg_size, "internal: data header too long");

	uint32_t room = p->page_size - g->ph_size - g->ch_size;
	g->chunk_max = p->max_chunk_size < room ? p->max_chunk_size : room;

	uint32_t body = p->page_size - g->ph_size - g->data_hdr_size;
	uint32_t full_chunk = geom_align_up(g, g->ch_size + g->chunk_max);
	uint32_t chunks = body / full_chunk, rem = body % full_chunk;
	uint64_t payload = (uint64_t)chunks * g->chunk_max + (rem > g->ch_size ? rem - g->ch_size : 0);
	if (payload == 0)
		return fail(msg, msg_size, "page size %u leaves no room for data", p->page_size);
	if (payload > EKV_PAYLOAD_MAX)
		return fail(msg, msg_size,
			    "page payload %llu exceeds the format's 16-bit limit %u "
			    "(page size %u too large for max chunk size %u)",
			    (unsigned long long)payload, EKV_PAYLOAD_MAX, p->page_size,
			    p->max_chunk_size);
	g->payload_max = (uint32_t)payload;
	g->skiplist_shift = ilog2_u32(g->payload_max) + 1;

	uint32_t levels = 0;
	for (uint64_t n = p->branching_factor; n <= p->max_page_count; n *= p->branching_factor)
		levels++;
	g->level_count = levels;
	g->file_count = p->branching_factor * levels + 1;
	if (g->file_count > MAX_FILE_COUNT)
		return fail(msg, msg_size, "internal: too many files");
	/* A meta rollover writes one entry per non-empty file in one chunk of a
	 * fresh meta page; with every file non-empty that must still fit (the
	 * crate only checks the chunk size, and panics at such a rollover). */
	uint32_t meta_room = geom_align_down(g, p->page_size - g->ph_size - g->meta_hdr_size);
	meta_room = meta_room > g->ch_size ? meta_room - g->ch_size : 0;
	if (meta_room > g->chunk_max)
		meta_room = g->chunk_max;
	if (g->file_count * FILE_META_SIZE > meta_room)
		return fail(msg, msg_size,
			    "%u files need %u bytes in one meta chunk, but this page size and "
			    "max chunk size leave %u (use a larger page, fewer max pages or "
			    "no crc)",
			    g->file_count, g->file_count * FILE_META_SIZE, meta_room);

	g->key_bits = geom_size_bits(p->max_key_size);
	g->value_bits = geom_size_bits(p->max_value_size);
	g->rec_hdr_size = (1 + g->key_bits + g->value_bits + 7) / 8;
	if (g->rec_hdr_size > EKV_REC_HDR_MAX)
		return fail(msg, msg_size, "internal: record header larger than %u bytes", EKV_REC_HDR_MAX);
	g->max_record_size = geom_record_size(p->max_key_size, p->max_value_size);
	g->min_free_pages = 1 + p->scratch_page_count + MIN_FREE_PAGE_COUNT_COMPACT +
			    p->branching_factor +
			    (g->max_record_size + g->payload_max - 1) / g->payload_max;
	if (g->min_free_pages >= p->max_page_count / 2)
		return fail(msg, msg_size,
			    "reserve of %u free pages is not below half of max page count %u "
			    "(lower scratch pages or max value size)",
			    g->min_free_pages, p->max_page_count);
	if (p->page_count < 2 * g->min_free_pages)
		return fail(msg, msg_size,
			    "%u pages are too few: this profile needs at least %u "
			    "(2 x MIN_FREE_PAGE_COUNT %u)",
			    p->page_count, 2 * g->min_free_pages, g->min_free_pages);
	return 0;
}

int ekv_profile_check(const struct ekv_profile *p, char *msg, size_t msg_size)
{
	struct geom g;
	return geom_init(&g, p, msg, msg_size);
}

int ekv_profile_geometry(const struct ekv_profile *p, struct ekv_geometry *out)
{
	if (!out)
		return EKV_EINVAL;
	struct geom g;
	int r = geom_init(&g, p, NULL, 0);
	if (r < 0)
		return r;
	*out = (struct ekv_geometry){
		.page_header_size = g.ph_size,
		.chunk_header_size = g.ch_size,
		.meta_header_size = g.meta_hdr_size,
		.data_header_size = g.data_hdr_size,
		.chunk_max_len = g.chunk_max,
		.page_max_payload = g.payload_max,
		.skiplist_len = g.skiplist_len,
		.skiplist_shift = g.skiplist_shift,
		.level_count = g.level_count,
		.file_count = g.file_count,
		.key_size_bits = g.key_bits,
		.value_size_bits = g.value_bits,
		.record_header_size = g.rec_hdr_size,
		.min_free_page_count = g.min_free_pages,
	};
	return 0;
}
