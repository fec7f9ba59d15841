/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * check.c — the tools' view of an image: verification (fsck), a dump of
 * pages, files and records, and profile recognition (probe).
 *
 * Owns: reading every structure of docs/FORMAT.md again, independently of
 * the engine's mount, and saying what is wrong with it in words.  It reuses
 * the page and file layers' readers (page.h, file.h) and the record header
 * codec (record.h), and the engine's own mount (fm_mount) to tell which
 * state the engine would use; it never writes to flash.
 *
 * Every walk is bounded by the page count, not by anything read from flash:
 * chains are walked with strictly decreasing seqs and a visited bitmap.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meta.h"
#include "flash.h"
#include "record.h"

/* ---- reporting -------------------------------------------------------------- */

struct reporter {
	ekv_line_fn fn;
	void *ctx;
	uint32_t errors, warnings;
};

static void say(struct reporter *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct reporter *r, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (r->fn)
		r->fn(r->ctx, line);
}

#define damage(r, ...) ((r)->errors++, say((r), "error: " __VA_ARGS__))
#define notice(r, ...) ((r)->warnings++, say((r), "warning: " __VA_ARGS__))

/* Escape bytes for a report line: printable ASCII as is, the rest \xHH. */
static const char *esc(const uint8_t *s, uint32_t n, char *out, size_t cap)
{
	size_t o = 0;
	for (uint32_t i = 0; i < n && o + 8 < cap; i++) {
		if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\')
			out[o++] = (char)s[i];
		else
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", s[i]);
	}
	if (o + 8 >= cap && n)
		o += (size_t)snprintf(out + o, cap - o, "...");
	out[o] = 0;
	return out;
}

int ekv_file_level(const struct ekv_profile *p, uint32_t file_id, int *level, int *slot)
{
	struct geom g;
	int e = geom_init(&g, p, NULL, 0);
	if (e < 0)
		return e;
	if (file_id >= g.file_count)
		return EKV_EINVAL;
	if (file_id == 0) {
		*level = -1; /* the destination of a level-0 compaction */
		*slot = 0;
	} else {
		*level = (int)((file_id - 1) / g.bf);
		*slot = (int)((file_id - 1) % g.bf);
	}
	return 0;
}

/* ---- page classification ---------------------------------------------------- */

enum page_kind { PK_ERASED, PK_META, PK_DATA, PK_BADCRC, PK_OTHER };

struct page_info {
	enum page_kind kind;
	uint32_t meta_page_count, meta_seq; /* PK_META */
	struct data_header dh;              /* PK_DATA */
	uint32_t magic;                     /* PK_BADCRC: which kind of header */
};

/* Classify one page: a valid meta or data header, a header whose magic and
 * page id match but whose CRC does not, erased, or anything else. */
static int classify(const struct geom *g, struct ekv_flash *f, uint32_t page,
		    struct page_info *pi)
{
	uint8_t hdr[EKV_LAYER_HDR_MAX];
	memset(pi, 0, sizeof(*pi));
	int e = page_read_header(g, f, page, META_MAGIC, hdr, g->meta_hdr_size);
	if (e == 0) {
		struct meta_header mh;
		meta_header_decode(hdr, &mh);
		pi->kind = PK_META;
		pi->meta_page_count = mh.page_count;
		pi->meta_seq = mh.seq;
		return 0;
	}
	if (e != EKV_ECORRUPT)
		return e;
	e = page_read_header(g, f, page, DATA_MAGIC, hdr, g->data_hdr_size);
	if (e == 0) {
		pi->kind = PK_DATA;
		data_header_decode(g, hdr, &pi->dh);
		return 0;
	}
	if (e != EKV_ECORRUPT)
		return e;
	uint8_t raw[EKV_PAGE_HDR_MAX];
	e = flash_read(f, page, 0, raw, g->ph_size);
	if (e < 0)
		return e;
	uint32_t magic, id;
	page_header_peek(raw, &magic, &id);
	if ((magic == META_MAGIC || magic == DATA_MAGIC) && id == page) {
		pi->kind = PK_BADCRC; /* only a CRC can fail once magic and id match */
		pi->magic = magic;
		return 0;
	}
	bool erased;
	e = page_tail_is_erased(g, f, page, 0, &erased);
	if (e < 0)
		return e;
	pi->kind = erased ? PK_ERASED : PK_OTHER;
	pi->magic = magic;
	return 0;
}

/* ---- meta log ----------------------------------------------------------------- */

struct meta_state {
	struct file_meta files[MAX_FILE_COUNT]; /* last entry per file */
	struct meta_log_end log;
	struct reporter *dump;
};

static int note_chunk(void *ctx, const struct meta_chunk *c)
{
	struct meta_state *ms = ctx;
	if (ms->dump)
		say(ms->dump, "  log chunk at %u: %u entries", c->offset, c->n);
	for (uint32_t i = 0; i < c->n; i++) {
		struct file_meta fm;
		file_meta_decode(c->entries + FILE_META_SIZE * i, &fm);
		ms->files[fm.file_id] = fm;
		if (!ms->dump)
			continue;
		if (fm.last_page == NO_PAGE)
			say(ms->dump, "    file %u: empty", fm.file_id);
		else
			say(ms->dump, "    file %u: last page %u first seq %u flags 0x%02x", fm.file_id,
			    fm.last_page, fm.first_seq, fm.flags);
	}
	return 0;
}

/* Read a meta page's log with the engine's parser, reporting each chunk to
 * `dump` if given. */
static int read_meta_log(const struct geom *g, struct ekv_flash *f, uint32_t page,
			 uint32_t page_count, struct meta_state *ms, struct reporter *dump)
{
	memset(ms, 0, sizeof(*ms));
	for (uint32_t i = 0; i < MAX_FILE_COUNT; i++)
		ms->files[i] = (struct file_meta){.file_id = (uint8_t)i, .last_page = NO_PAGE};
	ms->dump = dump;
	return meta_log_read(g, f, page, page_count, note_chunk, ms, &ms->log);
}

/* ---- files ------------------------------------------------------------------- */

struct chain_page {
	uint32_t page;
	struct data_header h;
	uint32_t len; /* payload bytes */
};

struct checker {
	const struct geom *g;
	struct ekv_flash *f;
	struct reporter *rep;
	uint8_t *owner;      /* per page: 0 free, 1 meta, 2 + file id */
	struct page_info *pi;
	struct chain_page *chain;
	uint32_t *starts;    /* record start seqs of the file being checked */
	uint32_t n_starts, cap_starts;
	uint8_t *key, *prev_key, *value;
	ekv_progress_fn progress;
	void *pctx;
	uint64_t done, total;
	struct ekv_check_result *res;
	unsigned dump_records; /* dump mode: print records instead of checking quietly */
};

static void progress_step(struct checker *c, uint64_t n)
{
	c->done += n;
	if (c->progress)
		c->progress(c->pctx, c->done, c->total);
}

/* Payload length of a data page; chunk damage is reported. */
static int page_payload_len(struct checker *c, struct page_reader *pr, uint32_t page,
			    uint32_t file, uint32_t *len)
{
	uint8_t hdr[EKV_LAYER_HDR_MAX];
	int e = page_reader_open(pr, page, DATA_MAGIC, hdr, c->g->data_hdr_size);
	if (e == 0)
		e = page_reader_skip(pr, c->g->page_size);
	if (e == EKV_ECORRUPT) {
		damage(c->rep, "file %u: page %u: damaged chunk at offset %u%s", file, page,
		       pr->chunk_offset, c->g->crc ? " (bad length or CRC)" : " (bad length)");
		return e;
	}
	if (e < 0)
		return e;
	*len = (uint32_t)e;
	/* a committed data page is never appended to (the writer copies a
	 * page it continues), so everything after its chunk list is erased */
	uint32_t end = pr->chunk_offset;
	bool erased = true;
	if (end < c->g->page_size) {
		int t = page_tail_is_erased(c->g, c->f, page, end, &erased);
		if (t < 0)
			return t;
	}
	if (!erased)
		damage(c->rep, "file %u: page %u: bytes after its last chunk (offset %u) are not "
			       "erased", file, page, end);
	return 0;
}

static int add_start(struct checker *c, uint32_t seq)
{
	if (c->n_starts == c->cap_starts) {
		uint32_t cap = c->cap_starts ? c->cap_starts * 2 : 1024;
		uint32_t *p = realloc(c->starts, cap * sizeof(*p));
		if (!p)
			return EKV_ENOMEM;
		c->starts = p;
		c->cap_starts = cap;
	}
	c->starts[c->n_starts++] = seq;
	return 0;
}

static bool is_start(const struct checker *c, uint32_t seq)
{
	uint32_t lo = 0, hi = c->n_starts;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (c->starts[mid] == seq)
			return true;
		if (c->starts[mid] < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* Parse every record of a file: headers valid, keys strictly ascending, the
 * file ends at a record end.  Records its start seqs for the boundary check. */
static int check_records(struct checker *c, uint32_t file, const struct file_state *fs,
			 struct reporter *dump)
{
	const struct geom *g = c->g;
	struct page_reader pr;
	struct file_reader r;
	page_reader_init(&pr, g, c->f, 0);
	file_reader_init(&r, g, c->f, fs, &pr);
	uint32_t prev_len = 0;
	bool have_prev = false;
	int e = 0;
	c->n_starts = 0;
	/* every record consumes at least its header: at most file-length steps */
	for (;;) {
		uint32_t at = file_reader_curr_seq(&r);
		uint8_t raw[EKV_REC_HDR_MAX];
		struct rec_hdr h;
		e = file_reader_read(&r, raw, g->rec_hdr_size);
		if (e == FILE_EOF) {
			e = 0;
			break;
		}
		if (e == 0) {
			e = add_start(c, at);
			if (e < 0)
				break;
			e = rec_hdr_decode(g, raw, &h);
			/* a set spare bit is damage (or, for probe, another split of
			 * key and value bits) */
			if (e == 0 && !rec_hdr_spare_bits_clear(g, raw))
				e = EKV_ECORRUPT;
			if (e == EKV_ECORRUPT) {
				damage(c->rep, "file %u: invalid record header at seq %u", file, at);
				break;
			}
		}
		if (e == 0) {
			e = file_reader_read(&r, c->key, h.key_len);
			if (e == 0 && h.value_len)
				e = file_reader_read(&r, c->value, h.value_len);
			if (e == FILE_EOF)
				e = EKV_ECORRUPT;
		}
		if (e == EKV_ECORRUPT) {
			damage(c->rep, "file %u: record at seq %u cannot be read (file ends inside it, "
				       "or a page of it is damaged)", file, at);
			break;
		}
		if (e < 0)
			break;
		c->res->records++;
		if (h.key_len > c->res->max_key_len)
			c->res->max_key_len = h.key_len;
		if (h.value_len > c->res->max_value_len)
			c->res->max_value_len = h.value_len;
		if (h.is_delete)
			c->res->tombstones++;
		if (have_prev && key_cmp(c->prev_key, prev_len, c->key, h.key_len) >= 0) {
			char k[200];
			damage(c->rep, "file %u: key \"%s\" at seq %u is not above the key before it",
			       file, esc(c->key, h.key_len, k, sizeof(k)), at);
		}
		if (dump) {
			char k[200], v[200];
			if (h.is_delete)
				say(dump, "    seq %u: delete \"%s\"", at, esc(c->key, h.key_len, k, sizeof(k)));
			else
				say(dump, "    seq %u: put \"%s\" = \"%s\"", at,
				    esc(c->key, h.key_len, k, sizeof(k)),
				    esc(c->value, h.value_len, v, sizeof(v)));
		}
		memcpy(c->prev_key, c->key, h.key_len);
		prev_len = h.key_len;
		have_prev = true;
	}
	page_reader_free(&pr);
	return e;
}

static const char *kind_name(const struct page_info *pi)
{
	switch (pi->kind) {
	case PK_ERASED:
		return "an erased page";
	case PK_META:
		return "a meta page";
	case PK_DATA:
		return "a data page";
	case PK_BADCRC:
		return "a page with a bad header CRC";
	default:
		return "not a valid page";
	}
}

/* Walk one file's chain from its last page back to its first seq and verify
 * pages, chunks, seqs, skiplists, record boundaries and (check_recs) records. */
static int check_file(struct checker *c, uint32_t file, const struct file_meta *me,
		      bool check_recs, struct reporter *dump)
{
	const struct geom *g = c->g;
	uint32_t errors_before = c->rep->errors;
	uint32_t n = 0, page = me->last_page;
	int e = 0;
	if (page >= g->page_count) {
		damage(c->rep, "file %u: last page %u is beyond the device (%u pages)", file, page,
		       g->page_count);
		return 0;
	}
	/* backward walk: seqs strictly decrease, so at most page_count steps */
	for (;;) {
		const struct page_info *pi = &c->pi[page];
		if (pi->kind != PK_DATA) {
			if (n == 0)
				damage(c->rep, "file %u: its last page %u is %s", file, page,
				       kind_name(pi));
			else
				damage(c->rep, "file %u: broken chain: page %u links to page %u, "
					       "which is %s", file, c->chain[n - 1].page, page,
				       kind_name(pi));
			return 0;
		}
		if (n && pi->dh.seq >= c->chain[n - 1].h.seq) {
			damage(c->rep, "file %u: broken chain: page %u (seq %u) links to page %u "
				       "with seq %u, not below it", file, c->chain[n - 1].page,
			       c->chain[n - 1].h.seq, page, pi->dh.seq);
			return 0;
		}
		if (c->owner[page]) {
			if (c->owner[page] == 1)
				damage(c->rep, "file %u: page %u is also the meta page", file, page);
			else
				damage(c->rep, "file %u: page %u also belongs to file %u", file, page,
				       c->owner[page] - 2);
			return 0;
		}
		if (n >= g->page_count)
			return EKV_ECORRUPT; /* unreachable: seqs strictly decrease */
		c->chain[n++] = (struct chain_page){.page = page, .h = pi->dh};
		if (pi->dh.seq <= me->first_seq)
			break;
		uint16_t prev = pi->dh.skiplist[0];
		if (prev == NO_PAGE) {
			damage(c->rep, "file %u: broken chain: page %u (seq %u) has no previous page, "
				       "but the file starts at seq %u", file, page, pi->dh.seq,
			       me->first_seq);
			return 0;
		}
		if (prev >= g->page_count) {
			damage(c->rep, "file %u: broken chain: page %u links to page %u beyond the "
				       "device", file, page, prev);
			return 0;
		}
		page = prev;
	}
	for (uint32_t i = 0; i < n; i++)
		c->owner[c->chain[i].page] = (uint8_t)(2 + file);
	/* oldest first from here on */
	for (uint32_t i = 0; i < n / 2; i++) {
		struct chain_page t = c->chain[i];
		c->chain[i] = c->chain[n - 1 - i];
		c->chain[n - 1 - i] = t;
	}
	struct page_reader pr;
	page_reader_init(&pr, g, c->f, 0);
	for (uint32_t i = 0; i < n && e >= 0; i++) {
		e = page_payload_len(c, &pr, c->chain[i].page, file, &c->chain[i].len);
		if (e == EKV_ECORRUPT) {
			e = 0;
			c->chain[i].len = 0;
		}
	}
	page_reader_free(&pr);
	if (e < 0)
		return e;
	if (c->rep->errors != errors_before)
		return 0;
	struct chain_page *last = &c->chain[n - 1];
	uint64_t last_seq = (uint64_t)last->h.seq + last->len;
	if (last_seq > UINT32_MAX || me->first_seq >= last_seq) {
		damage(c->rep, "file %u: first seq %u is not below its end %llu", file, me->first_seq,
		       (unsigned long long)last_seq);
		return 0;
	}
	for (uint32_t i = 0; i + 1 < n; i++) {
		struct chain_page *a = &c->chain[i], *b = &c->chain[i + 1];
		if ((uint64_t)a->h.seq + a->len != b->h.seq)
			damage(c->rep, "file %u: page %u ends at seq %llu but the next page %u starts "
				       "at seq %u", file, a->page,
			       (unsigned long long)a->h.seq + a->len, b->page, b->h.seq);
		if (a->len == 0)
			damage(c->rep, "file %u: page %u holds no data", file, a->page);
		/* the writer's rule: copy the predecessor's skiplist, then point
		 * entries 0..=skiplist_index(prev.seq, this.seq) at the predecessor */
		uint16_t want[MAX_SKIPLIST_LEN];
		memcpy(want, a->h.skiplist, sizeof(want));
		uint32_t top = skiplist_index(g, a->h.seq, b->h.seq) + 1;
		for (uint32_t k = 0; k < top; k++)
			want[k] = (uint16_t)a->page;
		for (uint32_t k = 0; k < g->skiplist_len; k++) {
			if (b->h.skiplist[k] != want[k]) {
				damage(c->rep, "file %u: page %u: skiplist entry %u is %u, expected %u",
				       file, b->page, k, b->h.skiplist[k], want[k]);
				break;
			}
		}
	}
	if (c->rep->errors != errors_before)
		return 0;
	c->res->files++;
	c->res->payload_bytes += last_seq - me->first_seq;
	if (dump) {
		int level = 0, slot = 0;
		char pages[400];
		size_t o = 0;
		for (uint32_t i = 0; i < n && o + 16 < sizeof(pages); i++)
			o += (size_t)snprintf(pages + o, sizeof(pages) - o, " %u", c->chain[i].page);
		if (o + 16 >= sizeof(pages))
			snprintf(pages + o, sizeof(pages) - o, " ...");
		ekv_file_level(&g->p, file, &level, &slot);
		say(dump, "file %u (level %d slot %d): seq %u..%llu, %llu bytes, flags 0x%02x, "
			  "%u pages:%s", file, level, slot, me->first_seq,
		    (unsigned long long)last_seq, (unsigned long long)(last_seq - me->first_seq),
		    me->flags, n, pages);
	}
	if (!check_recs)
		return 0;
	struct file_state fs = {
		.has_last = true,
		.last_page = last->page,
		.last_hdr = last->h,
		.first_seq = me->first_seq,
		.last_seq = (uint32_t)last_seq,
		.flags = me->flags,
	};
	e = check_records(c, file, &fs, c->dump_records ? dump : NULL);
	if (e < 0 && e != EKV_ECORRUPT)
		return e;
	if (e == EKV_ECORRUPT || c->rep->errors != errors_before)
		return 0;
	for (uint32_t i = 0; i < n; i++) {
		struct chain_page *a = &c->chain[i];
		uint32_t b = a->h.record_boundary;
		if (b == NO_BOUNDARY)
			continue;
		if (b >= a->len) {
			damage(c->rep, "file %u: page %u: record boundary %u is past its %u bytes", file,
			       a->page, b, a->len);
			continue;
		}
		uint32_t seq = a->h.seq + b;
		if (seq >= me->first_seq && !is_start(c, seq))
			damage(c->rep, "file %u: page %u: record boundary %u (seq %u) is not the start "
				       "of a record", file, a->page, b, seq);
	}
	return 0;
}

/* ---- a flash seen with another page size ------------------------------------ */

struct view {
	struct ekv_flash *base;
	uint32_t page_size;
};

static int view_read(void *ctx, uint32_t page, uint32_t off, void *buf, uint32_t len)
{
	struct view *v = ctx;
	uint64_t addr = (uint64_t)page * v->page_size + off;
	uint8_t *out = buf;
	uint32_t bps = v->base->page_size;
	while (len) {
		uint32_t bp = (uint32_t)(addr / bps), bo = (uint32_t)(addr % bps);
		uint32_t k = bps - bo < len ? bps - bo : len;
		int e = flash_read(v->base, bp, bo, out, k);
		if (e < 0)
			return e;
		out += k;
		addr += k;
		len -= k;
	}
	return 0;
}

static int view_refuse(void *ctx, uint32_t page, uint32_t off, const void *buf, uint32_t len)
{
	(void)ctx, (void)page, (void)off, (void)buf, (void)len;
	return EKV_EROFS;
}

static int view_refuse_erase(void *ctx, uint32_t page)
{
	(void)ctx, (void)page;
	return EKV_EROFS;
}

static const struct ekv_flash_ops view_ops = {
	.read = view_read,
	.write = view_refuse,
	.erase = view_refuse_erase,
};

/* A read-only flash of page_size pages over base (same bytes). */
static int view_init(struct ekv_flash *vf, struct view *v, struct ekv_flash *base,
		     uint32_t page_size, uint8_t erase_value)
{
	uint64_t total = (uint64_t)base->page_size * base->page_count;
	if (page_size == 0 || total % page_size || total / page_size > EKV_MAX_PAGE_COUNT_MAX)
		return EKV_EINVAL;
	*v = (struct view){.base = base, .page_size = page_size};
	*vf = (struct ekv_flash){
		.ops = &view_ops,
		.ctx = v,
		.page_size = page_size,
		.page_count = (uint32_t)(total / page_size),
		.write_size = 1,
		.erase_value = erase_value,
		.read_only = true,
	};
	return 0;
}

/* ---- the whole check ---------------------------------------------------------- */


#define WHAT_RECORDS 0x100 /* check records (probe's structural pass leaves them out) */

static int run(struct ekv_flash *base, const struct ekv_profile *p, unsigned what,
	       struct reporter *rep, struct reporter *dump, ekv_progress_fn progress, void *pctx,
	       struct ekv_check_result *res)
{
	struct geom g;
	struct ekv_flash vf;
	struct view v;
	struct ekv_flash *f = base;
	memset(res, 0, sizeof(*res));
	int e = geom_init(&g, p, NULL, 0);
	if (e < 0)
		return e;
	if (base->page_size != p->page_size) {
		e = view_init(&vf, &v, base, p->page_size, p->erase_value);
		if (e < 0)
			return e;
		f = &vf;
	}
	if (f->page_count < g.page_count) {
		damage(rep, "the device has %u pages, fewer than the profile's %u (truncated image?)",
		       f->page_count, g.page_count);
		g.page_count = f->page_count;
	}
	struct checker c = {
		.g = &g,
		.f = f,
		.rep = rep,
		.progress = progress,
		.pctx = pctx,
		.total = g.page_count,
		.res = res,
		.dump_records = what & EKV_DUMP_RECORDS,
	};
	struct meta_candidate *cand = NULL;
	uint32_t n_cand = 0;
	c.owner = calloc(g.page_count, 1);
	c.pi = calloc(g.page_count, sizeof(*c.pi));
	c.chain = calloc(g.page_count, sizeof(*c.chain));
	c.key = malloc(g.max_key + 1);
	c.prev_key = malloc(g.max_key + 1);
	c.value = malloc(g.max_value + 1);
	cand = calloc(g.page_count, sizeof(*cand));
	if (!c.owner || !c.pi || !c.chain || !c.key || !c.prev_key || !c.value || !cand) {
		e = EKV_ENOMEM;
		goto out;
	}
	res->pages = g.page_count;
	for (uint32_t pg = 0; pg < g.page_count; pg++) {
		struct page_info *pi = &c.pi[pg];
		e = classify(&g, f, pg, pi);
		if (e < 0)
			goto out;
		progress_step(&c, 1);
		if (pi->kind == PK_META && pi->meta_seq != 0)
			cand[n_cand++] = (struct meta_candidate){pg, pi->meta_seq, pi->meta_page_count};
		if (pi->kind == PK_BADCRC && pi->magic == META_MAGIC)
			damage(rep, "page %u: meta page header fails its CRC", pg);
		if (dump && (what & EKV_DUMP_PAGES)) {
			switch (pi->kind) {
			case PK_ERASED:
				say(dump, "page %u: erased", pg);
				break;
			case PK_META:
				say(dump, "page %u: meta seq %u page_count %u", pg, pi->meta_seq,
				    pi->meta_page_count);
				struct meta_state ms;
				e = read_meta_log(&g, f, pg, g.page_count, &ms, dump);
				if (e < 0)
					goto out;
				if (ms.log.torn)
					say(dump, "  log ends at %u (torn or implausible chunk)",
					    ms.log.end);
				break;
			case PK_DATA: {
				struct page_reader pr;
				uint8_t hdr[EKV_LAYER_HDR_MAX];
				page_reader_init(&pr, &g, f, 0);
				e = page_reader_open(&pr, pg, DATA_MAGIC, hdr, g.data_hdr_size);
				uint32_t chunks = 0, len = 0;
				while (e == 0 && (e = page_reader_at_eof(&pr)) == 0) {
					chunks++;
					len += pr.chunk_len;
					pr.chunk_pos = pr.chunk_len;
				}
				bool bad = e == EKV_ECORRUPT;
				page_reader_free(&pr);
				if (e < 0 && !bad)
					goto out;
				e = 0;
				char sl[200];
				size_t o = 0;
				for (uint32_t k = 0; k < g.skiplist_len; k++) {
					uint16_t s = pi->dh.skiplist[k];
					o += (size_t)(s == NO_PAGE
							      ? snprintf(sl + o, sizeof(sl) - o, " -")
							      : snprintf(sl + o, sizeof(sl) - o, " %u", s));
				}
				char bnd[16] = "none";
				if (pi->dh.record_boundary != NO_BOUNDARY)
					snprintf(bnd, sizeof(bnd), "%u", pi->dh.record_boundary);
				say(dump, "page %u: data seq %u, %u chunks, %u bytes%s, boundary %s, "
					  "skiplist%s", pg, pi->dh.seq, chunks, len,
				    bad ? " (then a damaged chunk)" : "", bnd, sl);
				break;
			}
			case PK_BADCRC:
				say(dump, "page %u: %s header with a bad CRC", pg,
				    pi->magic == META_MAGIC ? "meta" : "data");
				break;
			default:
				say(dump, "page %u: not erased, no valid header (magic 0x%08x)", pg,
				    pi->magic);
			}
		}
	}
	if (n_cand == 0) {
		damage(rep, "no valid meta page: not formatted, or not this profile "
			    "(try 'ekvctl probe')");
		goto out;
	}
	res->meta_candidates = n_cand;
	/* the engine's order: newest first, pages formatted for this page count
	 * before others */
	qsort(cand, n_cand, sizeof(*cand), meta_candidate_cmp);
	struct meta_candidate *newest = &cand[0];
	for (uint32_t i = 0; i < n_cand; i++) {
		if (cand[i].page_count == g.page_count) {
			newest = &cand[i];
			break;
		}
	}
	if (newest->page_count > g.page_count)
		damage(rep, "meta page %u was formatted for %u pages, the device has %u "
			    "(truncated image?)", newest->page, newest->page_count, g.page_count);
	else if (newest->page_count != g.page_count)
		notice(rep, "meta page %u was formatted for %u pages, the device has %u",
		       newest->page, newest->page_count, g.page_count);
	res->meta_page = newest->page;
	res->meta_seq = newest->seq;
	c.owner[newest->page] = 1;
	struct meta_state ms;
	uint32_t mpc = newest->page_count < g.page_count ? newest->page_count : g.page_count;
	e = read_meta_log(&g, f, newest->page, mpc, &ms, NULL);
	if (e < 0)
		goto out;
	if (ms.log.torn)
		notice(rep, "meta page %u: the log ends in a torn or damaged commit at offset %u; "
			    "the engine rolls it back", newest->page, ms.log.end);
	for (uint32_t id = 0; id < g.file_count; id++) {
		if (ms.files[id].last_page == NO_PAGE)
			continue;
		e = check_file(&c, id, &ms.files[id], what & WHAT_RECORDS,
			       (what & EKV_DUMP_FILES) ? dump : NULL);
		if (e < 0)
			goto out;
	}
	uint32_t dests = 0;
	for (uint32_t id = 0; id < g.file_count; id++)
		dests += ms.files[id].last_page != NO_PAGE &&
			 (ms.files[id].flags & FLAG_COMPACT_DEST);
	if (dests > 1)
		damage(rep, "%u files are marked as compaction destination", dests);
	for (uint32_t pg = 0; pg < g.page_count; pg++) {
		if (c.owner[pg]) {
			res->pages_used++;
			continue;
		}
		if (c.pi[pg].kind == PK_ERASED)
			res->pages_free_erased++;
		else
			res->pages_free_stale++;
	}
	/* what the engine itself mounts: the newest state, or an older one if
	 * the newest does not verify (it says which) */
	struct file_manager fm;
	e = fm_init(&fm, &g, f, 1);
	if (e < 0)
		goto out;
	int me = fm_mount(&fm);
	uint32_t mounted_page = fm.meta_page, mounted_seq = fm.meta_seq;
	fm_destroy(&fm);
	if (me == EKV_EIO || me == EKV_ENOMEM) {
		e = me;
		goto out;
	}
	if (me < 0) {
		damage(rep, "the engine cannot mount this image: %s", ekv_strerror(me));
	} else {
		res->mounted = true;
		if (mounted_page != newest->page)
			damage(rep, "the newest state (meta page %u, seq %u) does not verify: the engine "
				    "falls back to meta page %u (seq %u) and later commits are lost",
			       newest->page, newest->seq, mounted_page, mounted_seq);
	}
	e = 0;
out:
	free(c.owner);
	free(c.pi);
	free(c.chain);
	free(c.starts);
	free(c.key);
	free(c.prev_key);
	free(c.value);
	free(cand);
	if (e == 0) {
		res->errors = rep->errors;
		res->warnings = rep->warnings;
	}
	return e;
}

int ekv_check(struct ekv_flash *f, const struct ekv_profile *p, ekv_line_fn report,
	      ekv_progress_fn progress, void *ctx, struct ekv_check_result *res)
{
	struct reporter rep = {.fn = report, .ctx = ctx};
	return run(f, p, WHAT_RECORDS, &rep, NULL, progress, ctx, res);
}

int ekv_dump(struct ekv_flash *f, const struct ekv_profile *p, unsigned what, ekv_line_fn out,
	     void *ctx)
{
	struct reporter rep = {.fn = out, .ctx = ctx};
	struct reporter dump = {.fn = out, .ctx = ctx};
	struct ekv_check_result res;
	if (what & EKV_DUMP_RECORDS)
		what |= EKV_DUMP_FILES | WHAT_RECORDS;
	return run(f, p, what, &rep, &dump, NULL, NULL, &res);
}

/* ---- probe ------------------------------------------------------------------ */

/* Pages whose first words are a valid magic and their own index, seen with
 * page size ps; *count_match: meta pages formatted for exactly this many pages;
 * *crc_votes: meta pages whose header CRC checks. */
static int score_page_size(struct ekv_flash *base, uint32_t ps, uint32_t *score,
			   uint32_t *count_match, int *crc_votes)
{
	struct ekv_flash vf;
	struct view v;
	*score = *count_match = 0;
	*crc_votes = 0;
	int e = view_init(&vf, &v, base, ps, base->erase_value);
	if (e < 0)
		return e;
	for (uint32_t pg = 0; pg < vf.page_count; pg++) {
		uint8_t h[EKV_PAGE_HDR_MAX + EKV_META_HDR_SIZE];
		e = flash_read(&vf, pg, 0, h, sizeof(h));
		if (e < 0)
			return e;
		uint32_t magic, id;
		page_header_peek(h, &magic, &id);
		if ((magic != META_MAGIC && magic != DATA_MAGIC) || id != pg)
			continue;
		(*score)++;
		if (magic != META_MAGIC)
			continue;
		uint32_t ph_crc = page_header_size(true);
		bool crc = page_header_verify(h, pg, META_MAGIC, true, ph_crc, EKV_META_HDR_SIZE) == 0;
		*crc_votes += crc ? 1 : -1;
		struct meta_header mh;
		meta_header_decode(h + (crc ? ph_crc : page_header_size(false)), &mh);
		if (mh.page_count == vf.page_count)
			(*count_match)++;
	}
	return 0;
}

/* Pages whose last word is 0xFF and 0x00 bytes: a vote for the erase value. */
static int count_erased(struct ekv_flash *f, uint32_t *ff, uint32_t *zero)
{
	uint8_t *buf = malloc(f->page_size);
	if (!buf)
		return EKV_ENOMEM;
	*ff = *zero = 0;
	for (uint32_t pg = 0; pg < f->page_count; pg++) {
		int e = flash_read(f, pg, 0, buf, f->page_size);
		if (e < 0) {
			free(buf);
			return e;
		}
		/* a page's last bytes are rarely written: payloads seldom fill a
		 * page to the byte */
		const uint8_t *w = buf + f->page_size - 4;
		if (w[0] == w[1] && w[1] == w[2] && w[2] == w[3]) {
			if (w[0] == 0xff)
				(*ff)++;
			else if (w[0] == 0x00)
				(*zero)++;
		}
	}
	free(buf);
	return 0;
}

/* The length of full chunks (a chunk followed by another in its page):
 * that is CHUNK_MAX, so max_chunk_size when it is below the page room. */
static int observe_chunk_max(const struct geom *g, struct ekv_flash *f, uint32_t *out)
{
	struct page_reader pr;
	uint8_t hdr[EKV_LAYER_HDR_MAX];
	*out = 0;
	page_reader_init(&pr, g, f, 0);
	for (uint32_t pg = 0; pg < g->page_count; pg++) {
		if (page_reader_open(&pr, pg, DATA_MAGIC, hdr, g->data_hdr_size) < 0)
			continue;
		uint32_t prev = 0;
		/* bounded: each chunk advances by at least its header */
		while (page_reader_at_eof(&pr) == 0) {
			if (prev > *out)
				*out = prev;
			prev = pr.chunk_len;
			pr.chunk_pos = pr.chunk_len;
		}
	}
	page_reader_free(&pr);
	return 0;
}

/* Mounts and verifies; strict: without warnings either (a wrong erase value
 * shows as a meta log that does not end in erased bytes). */
static bool try_profile(struct ekv_flash *f, const struct ekv_profile *p, unsigned what,
			bool strict, struct ekv_check_result *res)
{
	if (ekv_profile_check(p, NULL, 0) < 0)
		return false;
	struct reporter quiet = {0};
	int e = run(f, p, what, &quiet, NULL, NULL, NULL, res);
	return e == 0 && res->mounted && res->errors == 0 && (!strict || res->warnings == 0);
}

static int add_u32(uint32_t *list, uint32_t *n, uint32_t v)
{
	for (uint32_t i = 0; i < *n; i++)
		if (list[i] == v)
			return 0;
	list[(*n)++] = v;
	return 0;
}

int ekv_probe(struct ekv_flash *f, const struct ekv_profile *hint, unsigned fixed,
	      ekv_line_fn log, void *ctx, struct ekv_probe_result *out)
{
	struct reporter rep = {.fn = log, .ctx = ctx};
	struct ekv_profile def, p;
	ekv_profile_default(&def);
	if (!hint)
		hint = &def;
	memset(out, 0, sizeof(*out));
	uint64_t total = (uint64_t)f->page_size * f->page_count;

	/* 1. page size: the one under which most pages carry their own index */
	uint32_t best_ps = 0, best_score = 0, best_match = 0;
	int crc_votes = 0;
	for (uint32_t ps = EKV_PAGE_SIZE_MIN; ps <= EKV_PAGE_SIZE_MAX; ps *= 2) {
		if ((fixed & EKV_PROBE_PAGE_SIZE) && ps != hint->page_size)
			continue;
		if (total % ps || total / ps > NO_PAGE ||
		    (ps % f->page_size && f->page_size % ps))
			continue;
		uint32_t score, match;
		int votes;
		int e = score_page_size(f, ps, &score, &match, &votes);
		if (e < 0)
			return e;
		if (score > best_score || (score == best_score && score && match > best_match)) {
			best_ps = ps;
			best_score = score;
			best_match = match;
			crc_votes = votes;
		}
	}
	if (!best_score) {
		say(&rep, "no page with a valid ekv header at any page size from %u to %u",
		    EKV_PAGE_SIZE_MIN, EKV_PAGE_SIZE_MAX);
		return 0;
	}
	struct ekv_flash vf;
	struct view v;
	int e = view_init(&vf, &v, f, best_ps, 0xff);
	if (e < 0)
		return e;
	say(&rep, "page size %u: %u pages with valid headers", best_ps, best_score);

	/* 2. erase value from erased pages; crc from meta header CRCs */
	uint32_t n_ff, n_00;
	e = count_erased(&vf, &n_ff, &n_00);
	if (e < 0)
		return e;
	uint8_t evs[2] = {0xff, 0x00};
	if ((fixed & EKV_PROBE_ERASE_VALUE) ? hint->erase_value == 0x00 : n_00 > n_ff) {
		evs[0] = 0x00;
		evs[1] = 0xff;
	}
	uint32_t n_evs = (fixed & EKV_PROBE_ERASE_VALUE) ? 1 : 2;
	bool crcs[2] = {crc_votes > 0, crc_votes <= 0};
	if (fixed & EKV_PROBE_CRC)
		crcs[0] = hint->crc;
	uint32_t n_crcs = (fixed & EKV_PROBE_CRC) ? 1 : 2;

	uint32_t pc = vf.page_count;
	uint32_t mpcs[24], n_mpc = 0;
	if (fixed & EKV_PROBE_MAX_PAGE_COUNT) {
		mpcs[n_mpc++] = hint->max_page_count;
	} else {
		add_u32(mpcs, &n_mpc, pc > 256 ? pc : 256);
		for (uint32_t m = EKV_MAX_PAGE_COUNT_MIN; m <= EKV_MAX_PAGE_COUNT_MAX; m *= 2)
			if (m >= pc)
				add_u32(mpcs, &n_mpc, m);
		add_u32(mpcs, &n_mpc, pc);
	}
	uint32_t aligns[3] = {4, 2, 1}, n_align = 3;
	if (fixed & EKV_PROBE_ALIGN) {
		aligns[0] = hint->align;
		n_align = 1;
	}
	uint32_t bfs[3] = {2, 3, 4}, n_bf = 3;
	if (fixed & EKV_PROBE_BRANCHING_FACTOR) {
		bfs[0] = hint->branching_factor;
		n_bf = 1;
	} else if (hint->branching_factor >= 2 && hint->branching_factor <= 4) {
		bfs[0] = hint->branching_factor;
		bfs[hint->branching_factor - 2] = 2;
	}

	/* 3. structure: pages, chunks, meta log, chains (records left out) */
	struct ekv_check_result res;
	bool found = false;
	p = *hint;
	p.page_size = best_ps;
	p.page_count = pc;
	/* the structure does not depend on key and value sizes or the reserve:
	 * the smallest ones keep small profiles valid */
	p.max_key_size = p.max_value_size = 1;
	p.scratch_page_count = 0;
	for (int strict = 1; strict >= 0 && !found; strict--)
	for (uint32_t ci = 0; ci < n_crcs && !found; ci++)
		for (uint32_t ei = 0; ei < n_evs && !found; ei++)
			for (uint32_t ai = 0; ai < n_align && !found; ai++)
				for (uint32_t mi = 0; mi < n_mpc && !found; mi++)
					for (uint32_t bi = 0; bi < n_bf && !found; bi++) {
						p.crc = crcs[ci];
						p.erase_value = evs[ei];
						p.align = aligns[ai];
						p.max_page_count = mpcs[mi];
						p.branching_factor = bfs[bi];
						p.max_chunk_size = (fixed & EKV_PROBE_MAX_CHUNK_SIZE)
									   ? hint->max_chunk_size
									   : 4096;
						if (ekv_profile_check(&p, NULL, 0) < 0)
							continue;
						vf.erase_value = p.erase_value;
						found = try_profile(&vf, &p, 0, strict, &res);
						if (found || (fixed & EKV_PROBE_MAX_CHUNK_SIZE))
							continue;
						struct geom g;
						uint32_t obs;
						if (geom_init(&g, &p, NULL, 0) < 0 ||
						    observe_chunk_max(&g, &vf, &obs) < 0 || !obs ||
						    obs == g.chunk_max || obs % p.align)
							continue;
						p.max_chunk_size = obs;
						found = try_profile(&vf, &p, 0, strict, &res);
					}
	if (!found) {
		say(&rep, "page size %u looks right, but no profile mounts and verifies the image",
		    best_ps);
		return 0;
	}
	/* full chunks (followed by another in their page) are CHUNK_MAX long:
	 * a max chunk size below the page's room shows there */
	if (!(fixed & EKV_PROBE_MAX_CHUNK_SIZE)) {
		struct geom g;
		uint32_t obs;
		if (geom_init(&g, &p, NULL, 0) == 0 && observe_chunk_max(&g, &vf, &obs) == 0 &&
		    obs && obs < g.chunk_max && obs % p.align == 0) {
			struct ekv_profile q = p;
			q.max_chunk_size = obs;
			if (try_profile(&vf, &q, 0, false, &res)) {
				p = q;
				out->determined |= EKV_PROBE_MAX_CHUNK_SIZE;
			}
		}
	}
	out->determined |= EKV_PROBE_PAGE_SIZE;
	if (crc_votes != 0)
		out->determined |= EKV_PROBE_CRC;
	if (n_ff + n_00)
		out->determined |= EKV_PROBE_ERASE_VALUE;

	/* 4. records: key and value sizes decide the record header's bit fields */
	p.max_key_size = (fixed & EKV_PROBE_MAX_KEY_SIZE) ? hint->max_key_size : def.max_key_size;
	p.max_value_size = (fixed & EKV_PROBE_MAX_VALUE_SIZE) ? hint->max_value_size
							      : def.max_value_size;
	if (!try_profile(&vf, &p, WHAT_RECORDS, false, &res)) {
		found = false;
		struct ekv_profile q = p;
		for (uint32_t kb = 1; kb <= EKV_KEY_BITS_MAX && !found; kb++) {
			/* the widest value field that reads every record: it
			 * allows the largest values that this header admits */
			for (uint32_t vb = EKV_VALUE_BITS_MAX; vb >= 1 && !found; vb--) {
				if ((fixed & EKV_PROBE_MAX_KEY_SIZE) && kb != geom_size_bits(hint->max_key_size))
					continue;
				if ((fixed & EKV_PROBE_MAX_VALUE_SIZE) &&
				    vb != geom_size_bits(hint->max_value_size))
					continue;
				q.max_key_size = (fixed & EKV_PROBE_MAX_KEY_SIZE) ? hint->max_key_size
										   : (1u << kb) - 1;
				if (q.max_key_size > EKV_KEY_SIZE_LIMIT)
					q.max_key_size = EKV_KEY_SIZE_LIMIT;
				q.max_value_size = (fixed & EKV_PROBE_MAX_VALUE_SIZE)
							   ? hint->max_value_size
							   : (1u << vb) - 1;
				if (q.max_value_size > EKV_VALUE_SIZE_LIMIT)
					q.max_value_size = EKV_VALUE_SIZE_LIMIT;
				found = try_profile(&vf, &q, WHAT_RECORDS, false, &res);
			}
		}
		if (!found) {
			say(&rep, "pages and files verify with page size %u, but no key and value "
				  "sizes read every record", best_ps);
			return 0;
		}
		/* the round size the crate's configs use, if every record fits it */
		uint32_t kb = geom_size_bits(q.max_key_size), vb = geom_size_bits(q.max_value_size);
		if (!(fixed & EKV_PROBE_MAX_KEY_SIZE) && res.max_key_len <= (1u << (kb - 1)))
			q.max_key_size = 1u << (kb - 1);
		if (!(fixed & EKV_PROBE_MAX_VALUE_SIZE) && res.max_value_len <= (1u << (vb - 1)))
			q.max_value_size = 1u << (vb - 1);
		if (!try_profile(&vf, &q, WHAT_RECORDS, false, &res)) {
			q.max_key_size = (1u << kb) - 1 > EKV_KEY_SIZE_LIMIT ? EKV_KEY_SIZE_LIMIT
									  : (1u << kb) - 1;
			q.max_value_size = (1u << vb) - 1 > EKV_VALUE_SIZE_LIMIT ? EKV_VALUE_SIZE_LIMIT
										: (1u << vb) - 1;
			try_profile(&vf, &q, WHAT_RECORDS, false, &res);
		}
		p = q;
		out->determined |= EKV_PROBE_MAX_KEY_SIZE | EKV_PROBE_MAX_VALUE_SIZE;
	} else if (res.records) {
		/* the default sizes read every record; other bit splits would not */
		out->determined |= EKV_PROBE_MAX_KEY_SIZE | EKV_PROBE_MAX_VALUE_SIZE;
	}
	out->check = res;

	/* 5. which of align and branching factor the image decides */
	struct ekv_check_result other;
	bool align_alone = true, bf_alone = true;
	for (uint32_t ai = 0; ai < 3; ai++) {
		struct ekv_profile q = p;
		q.align = (uint32_t[]){4, 2, 1}[ai];
		if (q.align != p.align && q.max_chunk_size % q.align == 0 &&
		    try_profile(&vf, &q, WHAT_RECORDS, false, &other))
			align_alone = false;
	}
	for (uint32_t bf = EKV_BF_MIN; bf <= EKV_BF_MAX; bf++) {
		struct ekv_profile q = p;
		q.branching_factor = bf;
		if (bf != p.branching_factor && try_profile(&vf, &q, WHAT_RECORDS, false, &other))
			bf_alone = false;
	}
	/* the reserve cannot be read from an image: the hint's if the profile
	 * allows it, else the largest that it does */
	for (uint32_t sp = hint->scratch_page_count + 1; sp-- > 0;) {
		struct ekv_profile q = p;
		q.scratch_page_count = sp;
		if (ekv_profile_check(&q, NULL, 0) == 0) {
			p = q;
			break;
		}
	}
	if (align_alone)
		out->determined |= EKV_PROBE_ALIGN;
	if (bf_alone)
		out->determined |= EKV_PROBE_BRANCHING_FACTOR;
	out->profile = p;
	return 1;
}
