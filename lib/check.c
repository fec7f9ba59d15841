/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * check.c — the tools' view of an image: verification (fsck) and a dump of
 * pages, files and records.  See check.h.
 *
 * It reads with the engine's codec (layout.h), page and file readers and
 * meta log parser (meta_log_read), so it can never disagree with mount
 * about what the bytes say; it checks more than mount does (every record,
 * skiplist and boundary) and uses the engine's own mount (fm_mount) to tell
 * which state the engine would use.  It never writes to flash.
 *
 * Every walk is bounded by the page count, not by anything read from flash:
 * chains are walked with strictly decreasing seqs and a visited bitmap.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "flash.h"
#include "flash_view.h"
#include "meta.h"
#include "record.h"

/* ---- reporting -------------------------------------------------------------- */

void say(struct reporter *r, const char *fmt, ...)
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
	if (!level || !slot)
		return EKV_EINVAL;
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
	uint32_t n_starts;
	size_t cap_starts;
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
	int e = grow_array(&c->starts, &c->cap_starts, (size_t)c->n_starts + 1, sizeof(*c->starts),
			   1024);
	if (e < 0)
		return e;
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

/* ---- the whole check ---------------------------------------------------------- */


int check_run(struct ekv_flash *base, const struct ekv_profile *p, unsigned what,
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
		e = flash_view_init(&vf, &v, base, p->page_size, p->erase_value);
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
					say(dump, "  log ends at %u in a torn append", ms.log.end);
				else if (ms.log.damaged)
					say(dump, "  log damaged at %u: %u commits lost", ms.log.end,
					    ms.log.lost_chunks);
				else if (ms.log.noise)
					say(dump, "  log ends at %u, followed by bytes no append wrote",
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
		notice(rep, "meta page %u: the log ends in a torn commit at offset %u (a power cut); "
			    "the engine rolls it back", newest->page, ms.log.end);
	else if (ms.log.damaged)
		damage(rep, "meta page %u: the commit logged at offset %u is damaged%s; %u committed "
			    "transactions from there on cannot be used", newest->page, ms.log.end,
		       ms.log.lost_chunks > 1 ? " and valid ones follow it" : "",
		       ms.log.lost_chunks);
	else if (ms.log.noise)
		notice(rep, "meta page %u: bytes after its log (offset %u) are not erased, though no "
			    "commit wrote them; the next commit moves to a new meta page",
		       newest->page, ms.log.end);
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
	struct fm_recovery rec = fm.recovery;
	fm_destroy(&fm);
	if (me == EKV_EIO || me == EKV_ENOMEM) {
		e = me;
		goto out;
	}
	if (me < 0) {
		damage(rep, "the engine cannot mount this image: %s", ekv_strerror(me));
	} else {
		res->mounted = true;
		if (rec.damaged)
			damage(rep, "the newest state (meta page %u, seq %u) is damaged: the engine falls "
				    "back to meta page %u (seq %u); %u commits and the newest state of "
				    "%u files are lost (with --on-damage refuse it does not mount)",
			       rec.page, rec.seq, mounted_page, mounted_seq, rec.lost_chunks,
			       rec.lost_files);
		else if (mounted_page != newest->page)
			notice(rep, "meta page %u (seq %u) has no valid log: a stale meta page whose "
				    "erase was interrupted; the engine uses meta page %u (seq %u)",
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
	if (res)
		memset(res, 0, sizeof(*res));
	if (!f || !p || !res)
		return EKV_EINVAL;
	return check_run(f, p, WHAT_RECORDS, &rep, NULL, progress, ctx, res);
}

int ekv_dump(struct ekv_flash *f, const struct ekv_profile *p, unsigned what, ekv_line_fn out,
	     void *ctx)
{
	struct reporter rep = {.fn = out, .ctx = ctx};
	struct reporter dump = {.fn = out, .ctx = ctx};
	struct ekv_check_result res;
	if (!f || !p)
		return EKV_EINVAL;
	if (what & EKV_DUMP_RECORDS)
		what |= EKV_DUMP_FILES | WHAT_RECORDS;
	return check_run(f, p, what, &rep, &dump, NULL, NULL, &res);
}
