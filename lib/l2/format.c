/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * l2/format.c — layout 2 codecs (docs/FORMAT.md Part II).  See format.h.
 */
#include "l2/format.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "page.h" /* ekv_crc32 */
#include "util.h"

static int bad(char *msg, size_t msg_size, const char *fmt, ...)
{
	if (msg && msg_size) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, msg_size, fmt, ap);
		va_end(ap);
	}
	return EKV_EINVAL;
}

static bool is_pow2(uint32_t x)
{
	return x && !(x & (x - 1));
}

static uint32_t ilog2(uint32_t x)
{
	return 31u - (uint32_t)__builtin_clz(x);
}

void l2_geom_default(struct l2_geom *g, uint32_t block_size, uint32_t block_count, uint32_t pu,
		     uint8_t erase_value, bool nand)
{
	memset(g, 0, sizeof(*g));
	g->block_size = block_size;
	g->block_count = block_count;
	g->align = 4;
	g->pu = pu < 4 ? 4 : pu;
	g->erase_value = erase_value;
	g->compat = nand ? L2_COMPAT_NAND : 0;
	uint32_t spare = nand ? (block_count + 49) / 50 : 0;
	if (nand && spare < 2)
		spare = 2;
	uint32_t j = block_count > spare ? (block_count - spare) / 8 : 0;
	g->journal_blocks = (uint8_t)(j < L2_JOURNAL_MIN ? L2_JOURNAL_MIN : j > 8 ? 8 : j);
	/* the memtable's flushes must fit the device many times over */
	uint32_t usable = block_count > spare + g->journal_blocks ? block_count - spare - g->journal_blocks
								   : 0;
	uint64_t kib = (uint64_t)usable * (block_size - L2_HDR_SIZE) / 32 / 1024;
	g->memtable_kib = (uint16_t)(kib < 1 ? 1 : kib > 28 ? 28 : kib);
	g->max_key = 64;
	g->max_value = 1024;
}

int l2_geom_check(struct l2_geom *g, char *msg, size_t msg_size)
{
	if (msg && msg_size)
		msg[0] = 0;
	if (g->align != 1 && g->align != 2 && g->align != 4 && g->align != 8 && g->align != 16)
		return bad(msg, msg_size, "align %u not supported (1, 2, 4, 8 or 16)", g->align);
	if (!is_pow2(g->pu) || g->pu > L2_PU_MAX || g->pu < g->align)
		return bad(msg, msg_size,
			   "write size %u not supported (a power of two from the align %u to %u)",
			   g->pu, g->align, L2_PU_MAX);
	if (g->erase_value != 0xff && g->erase_value != 0x00)
		return bad(msg, msg_size, "erase value 0x%02x not supported (0xFF or 0x00)",
			   g->erase_value);
	if (g->block_size < L2_BLOCK_MIN || g->block_size > L2_BLOCK_MAX ||
	    g->block_size % g->pu != 0 || g->block_size / g->pu < 2)
		return bad(msg, msg_size,
			   "block size %u not supported (%u to %u bytes, a multiple of the write "
			   "size %u, at least two write units)",
			   g->block_size, L2_BLOCK_MIN, L2_BLOCK_MAX, g->pu);
	uint32_t spare = (g->compat & L2_COMPAT_NAND) ? (g->block_count + 49) / 50 : 0;
	if ((g->compat & L2_COMPAT_NAND) && spare < 2)
		spare = 2;
	if (g->block_count < L2_BLOCKS_MIN + spare || g->block_count > 0xfffffffeu)
		return bad(msg, msg_size, "block count %u not supported (at least %u%s)",
			   g->block_count, L2_BLOCKS_MIN + spare,
			   spare ? " with the NAND spare reserve" : "");
	if (g->journal_blocks < L2_JOURNAL_MIN)
		return bad(msg, msg_size, "journal length %u not supported (%u to %u blocks)",
			   g->journal_blocks, L2_JOURNAL_MIN, L2_JOURNAL_MAX);
	if (g->journal_blocks + spare + 4 > g->block_count)
		return bad(msg, msg_size,
			   "journal length %u too long for %u blocks (keep 4 blocks besides the "
			   "journal%s)",
			   g->journal_blocks, g->block_count, spare ? " and the spares" : "");
	if (g->memtable_kib == 0)
		return bad(msg, msg_size, "memtable cap must be at least 1 KiB");
	if (g->max_key == 0 || g->max_key > L2_KEY_MAX)
		return bad(msg, msg_size, "max key size %u not supported (1 to %u)", g->max_key,
			   L2_KEY_MAX);
	if (g->max_value > L2_VALUE_MAX)
		return bad(msg, msg_size, "max value size %u not supported (0 to %u)", g->max_value,
			   L2_VALUE_MAX);
	g->payload = g->block_size - L2_HDR_SIZE;
	g->spare = spare;
	g->continue_room = l2_align_up(L2_CONTINUE_LEN, g->pu);
	if (g->continue_room > g->payload / 2)
		return bad(msg, msg_size, "block size %u too small for write size %u", g->block_size,
			   g->pu);
	g->max_record = l2_rec_size(g->max_key, g->max_value);
	/* leaves: one PU on NAND-like media, 256 bytes on NOR; index pages 4x */
	g->leaf_target = g->pu >= 256 ? g->pu : 256;
	if (g->leaf_target > g->payload)
		g->leaf_target = g->payload;
	g->index_target = g->leaf_target * 4 > 4096 ? g->leaf_target : g->leaf_target * 4;
	return 0;
}

bool l2_is_erased(const uint8_t *p, size_t n, uint8_t erase_value)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != erase_value)
			return false;
	return true;
}

/* ---- block header -------------------------------------------------------- */

void l2_hdr_encode(const struct l2_geom *g, const struct l2_block_hdr *h, uint8_t out[L2_HDR_SIZE])
{
	memset(out, 0, L2_HDR_SIZE);
	put_le32(out, L2_MAGIC);
	out[4] = L2_VERSION;
	out[5] = h->kind;
	out[6] = g->incompat;
	out[7] = g->compat;
	put_le64(out + 8, g->image_id);
	put_le64(out + 16, h->block_seq);
	put_le32(out + 24, h->erase_count);
	put_le32(out + 28, h->owner);
	put_le32(out + 32, h->index);
	put_le32(out + 36, h->link);
	put_le32(out + 40, g->block_size);
	put_le32(out + 44, g->block_count);
	out[48] = (uint8_t)ilog2(g->pu);
	out[49] = (uint8_t)ilog2(g->align);
	out[50] = g->erase_value;
	out[51] = g->journal_blocks;
	put_le16(out + 52, g->max_key);
	put_le16(out + 54, g->memtable_kib);
	put_le32(out + 56, g->max_value);
	put_le32(out + 60, ekv_crc32(0, out, 60));
}

int l2_hdr_decode(const uint8_t in[L2_HDR_SIZE], struct l2_block_hdr *h, struct l2_geom *g,
		  char *msg, size_t msg_size)
{
	if (get_le32(in) != L2_MAGIC || in[4] != L2_VERSION ||
	    get_le32(in + 60) != ekv_crc32(0, in, 60))
		return EKV_ECORRUPT;
	if (in[5] != L2_KIND_JOURNAL && in[5] != L2_KIND_TABLE)
		return EKV_ECORRUPT;
	if (in[48] > 16 || in[49] > 4)
		return EKV_ECORRUPT;
	memset(g, 0, sizeof(*g));
	g->incompat = in[6];
	g->compat = in[7];
	g->image_id = get_le64(in + 8);
	g->block_size = get_le32(in + 40);
	g->block_count = get_le32(in + 44);
	g->pu = 1u << in[48];
	g->align = 1u << in[49];
	g->erase_value = in[50];
	g->journal_blocks = in[51];
	g->max_key = get_le16(in + 52);
	g->memtable_kib = get_le16(in + 54);
	g->max_value = get_le32(in + 56);
	if (l2_geom_check(g, NULL, 0) < 0)
		return EKV_ECORRUPT;
	if (g->incompat & ~L2_INCOMPAT_KNOWN) {
		bad(msg, msg_size, "image uses features this version does not know (0x%02x)",
		    g->incompat & ~L2_INCOMPAT_KNOWN);
		return EKV_ENOTSUP;
	}
	h->kind = in[5];
	h->block_seq = get_le64(in + 16);
	h->erase_count = get_le32(in + 24);
	h->owner = get_le32(in + 28);
	h->index = get_le32(in + 32);
	h->link = get_le32(in + 36);
	return 0;
}

bool l2_geom_same(const struct l2_geom *a, const struct l2_geom *b)
{
	return a->image_id == b->image_id && a->block_size == b->block_size &&
	       a->block_count == b->block_count && a->pu == b->pu && a->align == b->align &&
	       a->erase_value == b->erase_value && a->journal_blocks == b->journal_blocks &&
	       a->memtable_kib == b->memtable_kib && a->max_key == b->max_key &&
	       a->max_value == b->max_value && a->compat == b->compat &&
	       a->incompat == b->incompat;
}

/* ---- LEB128 -------------------------------------------------------------- */

uint32_t l2_varint_size(uint32_t v)
{
	uint32_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

uint32_t l2_varint_put(uint8_t *out, uint32_t v)
{
	uint32_t n = 0;
	while (v >= 0x80) {
		out[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	out[n++] = (uint8_t)v;
	return n;
}

uint32_t l2_varint_get(const uint8_t *p, size_t avail, uint32_t *v)
{
	uint64_t x = 0;
	for (uint32_t i = 0; i < 5 && i < avail; i++) {
		x |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if (!(p[i] & 0x80)) {
			if (x > UINT32_MAX || (i > 0 && p[i] == 0))
				return 0; /* too large, or not the shortest encoding */
			*v = (uint32_t)x;
			return i + 1;
		}
	}
	return 0;
}

/* ---- records ------------------------------------------------------------- */

uint32_t l2_rec_size(uint32_t klen, uint32_t vlen)
{
	return l2_varint_size(klen) + l2_varint_size(vlen * 2 + 1) + klen + vlen;
}

uint32_t l2_rec_encode(uint8_t *out, const struct l2_rec *r)
{
	uint32_t n = l2_varint_put(out, r->klen);
	n += l2_varint_put(out + n, r->vlen * 2 + (r->del ? 1 : 0));
	if (r->klen)
		memcpy(out + n, r->key, r->klen);
	n += r->klen;
	if (r->vlen)
		memcpy(out + n, r->val, r->vlen);
	return n + r->vlen;
}

uint32_t l2_rec_decode(const uint8_t *p, size_t avail, const struct l2_geom *g, struct l2_rec *r)
{
	uint32_t klen, v2;
	uint32_t a = l2_varint_get(p, avail, &klen);
	if (!a)
		return 0;
	uint32_t b = l2_varint_get(p + a, avail - a, &v2);
	if (!b)
		return 0;
	uint32_t vlen = v2 >> 1;
	bool del = v2 & 1;
	if (klen > g->max_key || vlen > g->max_value || (del && vlen))
		return 0;
	if ((size_t)a + b + klen + vlen > avail)
		return 0;
	r->klen = klen;
	r->key = p + a + b;
	r->vlen = vlen;
	r->val = p + a + b + klen;
	r->del = del;
	return a + b + klen + vlen;
}

int l2_key_cmp(const uint8_t *a, uint32_t al, const uint8_t *b, uint32_t bl)
{
	uint32_t n = al < bl ? al : bl;
	int c = n ? memcmp(a, b, n) : 0;
	if (c)
		return c;
	return al < bl ? -1 : al > bl ? 1 : 0;
}

/* ---- journal entries ----------------------------------------------------- */

static uint32_t seeded_crc(const struct l2_geom *g, const uint8_t *p, uint32_t n)
{
	uint8_t id[8];
	put_le64(id, g->image_id);
	return ekv_crc32(ekv_crc32(0, id, 8), p, n);
}

void l2_entry_hdr_encode(uint8_t *out, const struct l2_entry_hdr *h)
{
	put_le32(out, (uint32_t)(h->type & 0xf) | (uint32_t)(h->flags & 0xf) << 4 | h->len << 8);
	put_le32(out + 4, h->seq_lo);
	if (h->flags & L2_F_RESUMED)
		put_le32(out + 8, h->resume_from);
}

void l2_entry_seal(const struct l2_geom *g, uint8_t *entry, uint32_t len)
{
	put_le32(entry + len - 4, seeded_crc(g, entry, len - 4));
}

int l2_entry_hdr_decode(const uint8_t *p, uint32_t avail, struct l2_entry_hdr *h)
{
	if (avail < L2_ENTRY_MIN)
		return EKV_ECORRUPT;
	uint32_t w = get_le32(p);
	h->type = w & 0xf;
	h->flags = (w >> 4) & 0xf;
	h->len = w >> 8;
	h->seq_lo = get_le32(p + 4);
	if (h->type < L2_E_COMMIT || h->type > L2_E_CONTINUE || (h->flags & 0x8))
		return EKV_ECORRUPT;
	h->hdr_size = l2_entry_hdr_size(h->flags);
	h->resume_from = (h->flags & L2_F_RESUMED) ? get_le32(p + 8) : 0;
	if (h->len < h->hdr_size + 4 || h->len > avail)
		return EKV_ECORRUPT;
	return 0;
}

bool l2_entry_crc_ok(const struct l2_geom *g, const uint8_t *entry, uint32_t len)
{
	return len >= 4 && get_le32(entry + len - 4) == seeded_crc(g, entry, len - 4);
}

void l2_continue_encode(uint8_t out[12], const struct l2_continue *c)
{
	put_le32(out, c->next_block);
	put_le32(out + 4, c->next_epoch);
	put_le32(out + 8, c->next_index);
}

void l2_continue_decode(const uint8_t in[12], struct l2_continue *c)
{
	c->next_block = get_le32(in);
	c->next_epoch = get_le32(in + 4);
	c->next_index = get_le32(in + 8);
}

/* ---- checkpoints --------------------------------------------------------- */

uint32_t l2_ckpt_size(const struct l2_ckpt *c)
{
	uint32_t n = L2_CKPT_FIXED + L2_CKPT_TABLE * c->ntables + 1;
	if (c->cursor_level != L2_NO_CURSOR)
		n += l2_varint_size(c->cursor_klen) + c->cursor_klen;
	return n;
}

void l2_ckpt_encode(const struct l2_ckpt *c, uint8_t *out)
{
	put_le64(out, c->seq);
	put_le32(out + 8, c->epoch);
	put_le32(out + 12, c->next_table_id);
	out[16] = c->kind;
	out[17] = 0;
	put_le16(out + 18, c->ntables);
	put_le32(out + 20, 0);
	uint8_t *p = out + L2_CKPT_FIXED;
	for (uint32_t i = 0; i < c->ntables; i++, p += L2_CKPT_TABLE) {
		const struct l2_ckpt_table *t = &c->tables[i];
		put_le32(p, t->id);
		p[4] = t->level;
		p[5] = t->flags;
		put_le16(p + 6, 0);
		put_le32(p + 8, t->nblocks);
		put_le32(p + 12, t->stream_len);
	}
	*p++ = c->cursor_level;
	if (c->cursor_level != L2_NO_CURSOR) {
		p += l2_varint_put(p, c->cursor_klen);
		if (c->cursor_klen)
			memcpy(p, c->cursor_key, c->cursor_klen);
	}
}

int l2_ckpt_decode(const uint8_t *p, uint32_t n, const struct l2_geom *g, struct l2_ckpt *c,
		   struct l2_ckpt_table *tables, uint32_t max_tables)
{
	if (n < L2_CKPT_FIXED + 1)
		return EKV_ECORRUPT;
	memset(c, 0, sizeof(*c));
	c->seq = get_le64(p);
	c->epoch = get_le32(p + 8);
	c->next_table_id = get_le32(p + 12);
	c->kind = p[16];
	c->ntables = get_le16(p + 18);
	if ((c->kind != L2_CKPT_FLUSH && c->kind != L2_CKPT_UPDATE) || p[17] || get_le32(p + 20))
		return EKV_ECORRUPT;
	if (c->ntables > max_tables ||
	    (uint64_t)L2_CKPT_FIXED + (uint64_t)L2_CKPT_TABLE * c->ntables + 1 > n)
		return EKV_ECORRUPT;
	const uint8_t *q = p + L2_CKPT_FIXED;
	for (uint32_t i = 0; i < c->ntables; i++, q += L2_CKPT_TABLE) {
		struct l2_ckpt_table *t = &tables[i];
		t->id = get_le32(q);
		t->level = q[4];
		t->flags = q[5];
		t->nblocks = get_le32(q + 8);
		t->stream_len = get_le32(q + 12);
		if (t->level >= L2_LEVELS || (t->flags & ~L2_TF_COMPACT_INPUT) || get_le16(q + 6) ||
		    t->id >= c->next_table_id || t->nblocks == 0 || t->nblocks > g->block_count ||
		    t->stream_len == 0 || (uint64_t)t->stream_len > (uint64_t)t->nblocks * g->payload ||
		    (uint64_t)t->stream_len <= (uint64_t)(t->nblocks - 1) * g->payload)
			return EKV_ECORRUPT;
		for (uint32_t j = 0; j < i; j++)
			if (tables[j].id == t->id)
				return EKV_ECORRUPT;
	}
	c->tables = tables;
	c->cursor_level = *q++;
	uint32_t left = n - (uint32_t)(q - p);
	if (c->cursor_level != L2_NO_CURSOR) {
		if (c->cursor_level >= L2_LEVELS - 1)
			return EKV_ECORRUPT;
		uint32_t a = l2_varint_get(q, left, &c->cursor_klen);
		if (!a || c->cursor_klen > g->max_key || c->cursor_klen > left - a)
			return EKV_ECORRUPT;
		c->cursor_key = q + a;
		left -= a + c->cursor_klen;
	}
	return left == 0 ? 0 : EKV_ECORRUPT;
}

/* ---- tables -------------------------------------------------------------- */

uint32_t l2_stream_crc(const struct l2_geom *g, uint32_t table_id, uint32_t off,
		       const uint8_t *p, uint32_t n)
{
	uint8_t pre[16];
	put_le64(pre, g->image_id);
	put_le32(pre + 8, table_id);
	put_le32(pre + 12, off);
	return ekv_crc32(ekv_crc32(0, pre, 16), p, n);
}

uint32_t l2_footer_size(const struct l2_footer *f)
{
	return L2_FOOTER_FIXED + l2_varint_size(f->min_klen) + f->min_klen +
	       l2_varint_size(f->max_klen) + f->max_klen + 8;
}

void l2_footer_encode(const struct l2_geom *g, const struct l2_footer *f, uint8_t *out)
{
	put_le32(out, L2_FOOTER_MAGIC);
	put_le32(out + 4, f->table_id);
	out[8] = f->level;
	out[9] = f->filter_k;
	put_le16(out + 10, 0);
	put_le32(out + 12, f->records);
	put_le32(out + 16, f->top_off);
	put_le32(out + 20, f->top_len);
	put_le32(out + 24, f->filter_off);
	put_le32(out + 28, f->filter_blocks);
	uint32_t n = L2_FOOTER_FIXED;
	n += l2_varint_put(out + n, f->min_klen);
	if (f->min_klen)
		memcpy(out + n, f->min_key, f->min_klen);
	n += f->min_klen;
	n += l2_varint_put(out + n, f->max_klen);
	if (f->max_klen)
		memcpy(out + n, f->max_key, f->max_klen);
	n += f->max_klen;
	put_le32(out + n, seeded_crc(g, out, n));
	put_le32(out + n + 4, n + 8);
}

int l2_footer_decode(const struct l2_geom *g, const uint8_t *p, uint32_t n, uint32_t stream_len,
		     struct l2_footer *f)
{
	if (n < L2_FOOTER_FIXED + 10 || n > stream_len || get_le32(p + n - 4) != n ||
	    get_le32(p) != L2_FOOTER_MAGIC || get_le32(p + n - 8) != seeded_crc(g, p, n - 8))
		return EKV_ECORRUPT;
	memset(f, 0, sizeof(*f));
	f->table_id = get_le32(p + 4);
	f->level = p[8];
	f->filter_k = p[9];
	f->records = get_le32(p + 12);
	f->top_off = get_le32(p + 16);
	f->top_len = get_le32(p + 20);
	f->filter_off = get_le32(p + 24);
	f->filter_blocks = get_le32(p + 28);
	uint32_t at = L2_FOOTER_FIXED, end = n - 8, a;
	a = l2_varint_get(p + at, end - at, &f->min_klen);
	if (!a || f->min_klen > g->max_key || f->min_klen > end - at - a)
		return EKV_ECORRUPT;
	f->min_key = p + at + a;
	at += a + f->min_klen;
	a = l2_varint_get(p + at, end - at, &f->max_klen);
	if (!a || f->max_klen > g->max_key || f->max_klen != end - at - a)
		return EKV_ECORRUPT;
	f->max_key = p + at + a;
	uint32_t body = stream_len - n; /* everything before the footer */
	if (f->level >= L2_LEVELS || get_le16(p + 10) || f->records == 0 || f->top_len == 0 ||
	    f->top_off > body || f->top_len > body - f->top_off || f->filter_k > 16 ||
	    (f->filter_k == 0) != (f->filter_blocks == 0) ||
	    (uint64_t)f->filter_blocks * L2_FILTER_BLOCK > f->top_off ||
	    f->filter_off > f->top_off - f->filter_blocks * L2_FILTER_BLOCK ||
	    l2_key_cmp(f->min_key, f->min_klen, f->max_key, f->max_klen) > 0)
		return EKV_ECORRUPT;
	return 0;
}

uint32_t l2_index_entry_size(uint32_t klen, uint32_t off, uint32_t len)
{
	return l2_varint_size(klen) + klen + l2_varint_size(off) + l2_varint_size(len);
}

uint32_t l2_index_entry_encode(uint8_t *out, const struct l2_index_entry *e)
{
	uint32_t n = l2_varint_put(out, e->klen);
	if (e->klen)
		memcpy(out + n, e->key, e->klen);
	n += e->klen;
	n += l2_varint_put(out + n, e->off);
	return n + l2_varint_put(out + n, e->len);
}

uint32_t l2_index_entry_decode(const uint8_t *p, size_t avail, const struct l2_geom *g,
			       struct l2_index_entry *e)
{
	uint32_t a = l2_varint_get(p, avail, &e->klen);
	if (!a || e->klen > g->max_key || e->klen > avail - a)
		return 0;
	e->key = p + a;
	uint32_t n = a + e->klen;
	a = l2_varint_get(p + n, avail - n, &e->off);
	if (!a)
		return 0;
	n += a;
	a = l2_varint_get(p + n, avail - n, &e->len);
	if (!a || e->len == 0)
		return 0;
	return n + a;
}

/* ---- filter -------------------------------------------------------------- */

uint64_t l2_hash64(uint64_t seed, const uint8_t *key, uint32_t klen)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (int i = 0; i < 8; i++) {
		h ^= (uint8_t)(seed >> (8 * i));
		h *= 0x100000001b3ull;
	}
	for (uint32_t i = 0; i < klen; i++) {
		h ^= key[i];
		h *= 0x100000001b3ull;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

uint32_t l2_filter_block_of(uint64_t h, uint32_t nblocks)
{
	return (uint32_t)((h >> 32) % nblocks);
}

static uint32_t filter_bit(uint64_t h, uint32_t i)
{
	uint32_t h1 = (uint32_t)(h & 0xffff), h2 = (uint32_t)((h >> 16) & 0xffff) | 1;
	return (h1 + i * h2) % L2_FILTER_BITS;
}

void l2_filter_set(uint8_t block[L2_FILTER_BLOCK], uint64_t h, uint8_t k)
{
	for (uint32_t i = 0; i < k; i++) {
		uint32_t b = filter_bit(h, i);
		block[b / 8] |= (uint8_t)(1u << (b % 8));
	}
}

bool l2_filter_test(const uint8_t block[L2_FILTER_BLOCK], uint64_t h, uint8_t k)
{
	for (uint32_t i = 0; i < k; i++) {
		uint32_t b = filter_bit(h, i);
		if (!(block[b / 8] & (1u << (b % 8))))
			return false;
	}
	return true;
}

static uint32_t filter_crc(const struct l2_geom *g, uint32_t table_id, uint32_t blockno,
			   const uint8_t *block)
{
	return l2_stream_crc(g, table_id, blockno, block, L2_FILTER_BITS / 8);
}

void l2_filter_seal(const struct l2_geom *g, uint32_t table_id, uint32_t blockno,
		    uint8_t block[L2_FILTER_BLOCK])
{
	put_le32(block + L2_FILTER_BITS / 8, filter_crc(g, table_id, blockno, block));
}

bool l2_filter_block_ok(const struct l2_geom *g, uint32_t table_id, uint32_t blockno,
			const uint8_t block[L2_FILTER_BLOCK])
{
	return get_le32(block + L2_FILTER_BITS / 8) == filter_crc(g, table_id, blockno, block);
}
