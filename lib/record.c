/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * record.c — records on top of files: reading a record's head, point
 * lookups and seeks (docs/FORMAT.md §8).  See record.h.
 */
#include <string.h>

#include "record.h"

int key_cmp(const uint8_t *a, uint32_t al, const uint8_t *b, uint32_t bl)
{
	uint32_t n = al < bl ? al : bl;
	int c = n ? memcmp(a, b, n) : 0;
	if (c)
		return c < 0 ? -1 : 1;
	return al < bl ? -1 : al > bl;
}

int rec_read_head(struct file_reader *r, struct rec_hdr *h, uint8_t *key)
{
	const struct geom *g = r->g;
	uint8_t raw[EKV_REC_HDR_MAX];
	int e = file_reader_read(r, raw, g->rec_hdr_size);
	if (e)
		return e;
	e = rec_hdr_decode(g, raw, h);
	if (e < 0)
		return e;
	return rec_no_eof(file_reader_read(r, key, h->key_len));
}

int rec_write_head(struct file_writer *w, struct file_manager *m, const struct rec_hdr *h,
		   const uint8_t *key)
{
	uint8_t raw[EKV_REC_HDR_MAX];
	rec_hdr_encode(m->g, h, raw);
	int e = file_writer_write(w, m, raw, m->g->rec_hdr_size);
	if (e == 0)
		e = file_writer_write(w, m, key, h->key_len);
	return e;
}

/* found: 1; not in this file: 0; tombstone: EKV_ENOTFOUND */
static int take_value(struct file_reader *r, const struct rec_hdr *h, uint8_t *value, size_t cap,
		      size_t *vlen)
{
	if (h->is_delete)
		return EKV_ENOTFOUND;
	*vlen = h->value_len;
	if (h->value_len > cap)
		return EKV_ERANGE;
	int e = rec_no_eof(file_reader_read(r, value, h->value_len));
	return e < 0 ? e : 1;
}

/*
 * Find the first record of the file with a key >= key: a binary search over
 * record boundaries, then a linear scan from the last record known to be
 * smaller (at most about a page; every step consumes file bytes).  1: found,
 * *r after its key, *h its header, *at the position of its header, *cmp
 * the comparison of its key with key (0 or 1); 0: no such record; <0 error.
 */
static int seek_head(struct file_reader *r, const uint8_t *key, uint32_t klen, uint8_t *kbuf,
		     struct rec_hdr *h, struct file_pos *at, int *cmp)
{
	struct file_searcher s;
	s.r = *r;
	int ok = file_searcher_start(&s);
	bool searching = ok > 0;
	if (ok < 0)
		return ok;
	for (;;) {
		file_reader_save(&s.r, at);
		int e = rec_read_head(&s.r, h, kbuf);
		if (e == FILE_EOF)
			return 0;
		if (e < 0)
			return e;
		int c = key_cmp(kbuf, h->key_len, key, klen);
		if (c == 0 || (c > 0 && !searching)) {
			*cmp = c;
			*r = s.r;
			return 1;
		}
		if (searching) {
			ok = file_searcher_seek(&s, c < 0);
			if (ok < 0)
				return ok;
			searching = ok > 0;
		} else {
			e = rec_no_eof(file_reader_skip(&s.r, h->value_len));
			if (e < 0)
				return e;
		}
	}
}

/* crate: record.rs Inner::read_in_file */
static int get_in_file(const struct geom *g, struct ekv_flash *f, const struct file_state *fs,
		       struct page_reader *pr, const uint8_t *key, uint32_t klen, uint8_t *value,
		       size_t cap, size_t *vlen)
{
	struct file_reader r;
	struct file_pos at;
	uint8_t kbuf[EKV_KEY_SIZE_LIMIT];
	struct rec_hdr h;
	int c;
	file_reader_init(&r, g, f, fs, pr);
	int e = seek_head(&r, key, klen, kbuf, &h, &at, &c);
	if (e <= 0 || c != 0)
		return e < 0 ? e : 0;
	return take_value(&r, &h, value, cap, vlen);
}

int rec_get(const struct geom *g, struct ekv_flash *f, const struct file_state *files,
	    struct page_reader *pr, const uint8_t *key, uint32_t klen, uint8_t *value,
	    size_t cap, size_t *vlen)
{
	if (klen > g->max_key)
		return EKV_ETOOBIG;
	for (int id = (int)g->file_count - 1; id >= 0; id--) {
		int e = get_in_file(g, f, &files[id], pr, key, klen, value, cap, vlen);
		if (e == 1)
			return 0;
		if (e < 0)
			return e;
	}
	return EKV_ENOTFOUND;
}

int rec_seek_file(struct file_reader *r, const uint8_t *key, uint32_t klen, bool incl,
		  bool *found)
{
	uint8_t kbuf[EKV_KEY_SIZE_LIMIT];
	struct rec_hdr h;
	struct file_pos at;
	int c;
	*found = false;
	struct file_reader s = *r;
	int e = seek_head(&s, key, klen, kbuf, &h, &at, &c);
	if (e <= 0)
		return e;
	if (c == 0 && !incl) {
		e = rec_no_eof(file_reader_skip(&s, h.value_len));
		if (e < 0)
			return e;
	} else {
		file_reader_restore(&s, &at);
	}
	*r = s;
	*found = true;
	return 0;
}
