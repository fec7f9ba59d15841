/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * probe.c — recognise the profile of an image (ekv_probe): page size from
 * the headers that carry their own index, erase value and CRC from votes,
 * then the profile fields that make the whole image mount and verify.
 *
 * Owns: the order in which candidate profiles are tried and which fields
 * the image decides.  Verification itself is check.c's.
 * Must never: write to flash.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "flash.h"
#include "flash_view.h"
#include "page.h"

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
	int e = flash_view_init(&vf, &v, base, ps, base->erase_value);
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
	int e = check_run(f, p, what, &quiet, NULL, NULL, NULL, res);
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
	if (out)
		memset(out, 0, sizeof(*out));
	if (!f || !out)
		return EKV_EINVAL;
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
	int e = flash_view_init(&vf, &v, f, best_ps, 0xff);
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
