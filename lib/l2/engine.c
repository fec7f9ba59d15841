/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * l2/engine.c — layout 2's engine: lifecycle, format, mount, versions,
 * snapshots and reads.  Flushes, commits and compaction are in compact.c.
 * See engine.h; the rules are docs/FORMAT.md §L4, §L10, §L11.
 */
#include "l2/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flash.h"
#include "l2/merge.h"

/* ---- versions ------------------------------------------------------------ */

int l2_version_new(uint32_t n, struct l2_version **out)
{
	struct l2_version *v = calloc(1, sizeof(*v));
	if (!v)
		return EKV_ENOMEM;
	v->t = calloc(n ? n : 1, sizeof(*v->t));
	if (!v->t) {
		free(v);
		return EKV_ENOMEM;
	}
	v->n = n;
	v->refs = 1;
	*out = v;
	return 0;
}

void l2_version_put(struct l2_version *v)
{
	if (!v || __atomic_sub_fetch(&v->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	for (uint32_t i = 0; i < v->n; i++)
		if (v->t[i])
			l2_table_put(v->t[i]);
	free(v->t);
	free(v);
}

void l2_engine_publish(struct l2_engine *en, struct l2_version *v, struct l2_mem *mem,
		       uint64_t seq)
{
	pthread_mutex_lock(&en->lock);
	struct l2_version *ov = NULL;
	struct l2_mem *om = NULL;
	if (v) {
		ov = en->cur;
		en->cur = v;
	}
	if (mem) {
		om = en->mem;
		en->mem = mem;
	}
	en->seq = seq;
	pthread_mutex_unlock(&en->lock);
	l2_version_put(ov);
	l2_mem_put(om);
}

int l2_engine_retire(struct l2_engine *en, struct l2_table *t)
{
	if (en->n_retired == en->cap_retired) {
		uint32_t cap = en->cap_retired ? en->cap_retired * 2 : 16;
		struct l2_table **r = realloc(en->retired, cap * sizeof(*r));
		if (!r)
			return EKV_ENOMEM;
		en->retired = r;
		en->cap_retired = cap;
	}
	l2_table_get_ref(t);
	en->retired[en->n_retired++] = t;
	/* no longer live: its blocks wait, in use, for the last reader */
	for (uint32_t b = 0; b < t->nblocks; b++)
		if (t->blocks[b] < en->bl.n && en->bl.state[t->blocks[b]] == L2B_TABLE)
			l2_blocks_set(&en->bl, t->blocks[b], L2B_USED);
	return 0;
}

void l2_engine_reclaim(struct l2_engine *en)
{
	uint32_t k = 0;
	for (uint32_t i = 0; i < en->n_retired; i++) {
		struct l2_table *t = en->retired[i];
		if (__atomic_load_n(&t->refs, __ATOMIC_ACQUIRE) == 1) {
			/* a remount may have found the same blocks live again */
			for (uint32_t b = 0; b < t->nblocks; b++)
				if (t->blocks[b] < en->bl.n && en->bl.state[t->blocks[b]] == L2B_USED)
					l2_blocks_release(&en->bl, t->blocks[b]);
			l2_cache_drop_table(en->cache, t->id);
			l2_table_put(t);
		} else {
			en->retired[k++] = t;
		}
	}
	en->n_retired = k;
}

int l2_ckpt_build(const struct l2_engine *en, const struct l2_version *v, uint8_t kind,
		  uint8_t **out, uint32_t *len)
{
	struct l2_ckpt_table *tt = calloc(v->n ? v->n : 1, sizeof(*tt));
	if (!tt)
		return EKV_ENOMEM;
	for (uint32_t i = 0; i < v->n; i++) {
		const struct l2_table *t = v->t[i];
		tt[i] = (struct l2_ckpt_table){.id = t->id, .level = t->level,
					       .nblocks = t->nblocks, .stream_len = t->stream_len};
	}
	struct l2_ckpt c = {.epoch = v->epoch, .next_table_id = v->next_table_id, .kind = kind,
			    .ntables = (uint16_t)v->n, .tables = tt,
			    .cursor_level = L2_NO_CURSOR};
	(void)en;
	uint32_t n = l2_ckpt_size(&c);
	uint8_t *p = malloc(n);
	if (!p) {
		free(tt);
		return EKV_ENOMEM;
	}
	l2_ckpt_encode(&c, p);
	free(tt);
	*out = p;
	*len = n;
	return 0;
}

/* ---- lifecycle ----------------------------------------------------------- */

int l2_engine_new(struct ekv_flash *f, const struct l2_geom *g, uint32_t seed,
		  struct l2_engine **out)
{
	struct l2_engine *en = calloc(1, sizeof(*en));
	if (!en)
		return EKV_ENOMEM;
	en->g = *g;
	int e = l2_geom_check(&en->g, NULL, 0);
	if (e == 0 && (f->page_size != g->block_size || f->page_count < g->block_count))
		e = EKV_EINVAL;
	if (e < 0) {
		free(en);
		return e;
	}
	en->f = f;
	en->random = seed ? seed : 1;
	en->cache_budget = 8192;
	en->on_damage = L2_DAMAGE_REFUSE;
	pthread_mutex_init(&en->lock, NULL);
	e = l2_blocks_init(&en->bl, &en->g, f);
	if (e == 0)
		e = l2_jrn_init(&en->j, &en->g, &en->bl);
	if (e == 0)
		e = l2_cache_new(en->cache_budget, &en->cache);
	if (e < 0) {
		l2_engine_free(en);
		return e;
	}
	*out = en;
	return 0;
}

/*
 * Forget the published state.  Its tables may still be read by snapshots:
 * they join the retired ones, whose blocks a later mount keeps out of use
 * until the last reader lets go (keep_retired); freeing the engine drops
 * everything.
 */
static void drop_state(struct l2_engine *en, bool keep_retired)
{
	pthread_mutex_lock(&en->lock);
	struct l2_version *v = en->cur;
	struct l2_mem *m = en->mem;
	en->cur = NULL;
	en->mem = NULL;
	en->seq = 0;
	pthread_mutex_unlock(&en->lock);
	if (v && keep_retired)
		for (uint32_t i = 0; i < v->n; i++)
			if (l2_engine_retire(en, v->t[i]) < 0)
				keep_retired = false;
	l2_version_put(v);
	l2_mem_put(m);
	if (!keep_retired) {
		for (uint32_t i = 0; i < en->n_retired; i++)
			l2_table_put(en->retired[i]);
		en->n_retired = 0;
	}
	en->mounted = false;
}

/* After a mount: blocks of retired tables that are not part of the new
 * state stay in use until reclaimed. */
static void hold_retired(struct l2_engine *en)
{
	for (uint32_t i = 0; i < en->n_retired; i++) {
		struct l2_table *t = en->retired[i];
		for (uint32_t b = 0; b < t->nblocks; b++)
			if (t->blocks[b] < en->bl.n && en->bl.state[t->blocks[b]] == L2B_FREE)
				l2_blocks_set(&en->bl, t->blocks[b], L2B_USED);
	}
}

void l2_engine_free(struct l2_engine *en)
{
	if (!en)
		return;
	drop_state(en, false);
	free(en->retired);
	l2_jrn_destroy(&en->j);
	l2_blocks_destroy(&en->bl);
	l2_cache_free(en->cache);
	pthread_mutex_destroy(&en->lock);
	free(en);
}

static uint32_t next_random(struct l2_engine *en)
{
	en->random = en->random * 1750509587u + 1;
	return en->random;
}

int l2_engine_format(struct l2_engine *en)
{
	drop_state(en, false); /* the caller made sure no snapshot is open */
	if (en->g.image_id == 0) {
		uint64_t id = (uint64_t)next_random(en) << 32 | next_random(en);
		en->g.image_id = id ? id : 1;
	}
	l2_blocks_reset(&en->bl, next_random(en));
	en->bl.next_seq = 1;
	for (uint32_t b = 0; b < en->g.block_count; b++) {
		int e = l2_blocks_erase(&en->bl, b);
		if (e < 0)
			return e;
		en->bl.ec[b] = 0;
	}
	struct l2_version *v;
	int e = l2_version_new(0, &v);
	if (e < 0)
		return e;
	v->epoch = 1;
	v->next_table_id = 1;
	en->next_table_id = 1;
	uint8_t *p;
	uint32_t n;
	e = l2_ckpt_build(en, v, L2_CKPT_FLUSH, &p, &n);
	if (e == 0) {
		e = l2_jrn_format(&en->j, p, n);
		free(p);
	}
	struct l2_mem *m = NULL;
	if (e == 0)
		e = l2_mem_new(&en->g, 1, &m);
	if (e < 0) {
		l2_version_put(v);
		return e;
	}
	l2_engine_publish(en, v, m, 1);
	memset(&en->rec, 0, sizeof(en->rec));
	en->mounted = true;
	en->broken = false;
	return 0;
}

/* ---- mount --------------------------------------------------------------- */

struct thdr {
	uint32_t owner, index, block, img;
	uint64_t bseq;
	uint32_t stamp;
};

struct jhdr {
	struct l2_jblock b;
	uint32_t epoch, img;
};

struct mount {
	struct l2_engine *en;
	struct thdr *th;
	uint32_t nth, capth;
	struct jhdr *jh;
	uint32_t njh, capjh;
	uint32_t max_epoch;
	uint32_t foreign_images;
	bool have_newest_stamp;
	uint64_t newest_table_bseq;
	uint32_t newest_stamp;
	/* the last checkpoint of the epoch being parsed */
	uint32_t epoch;
	struct l2_ckpt_table *ct;
	uint32_t nct;
	uint32_t next_table_id;
	uint64_t flush_seq;
	struct l2_mem *mem;
	bool bad_payload;
};

static int grow(void **p, uint32_t *cap, uint32_t n, size_t elem)
{
	if (n < *cap)
		return 0;
	uint32_t c = *cap ? *cap * 2 : 64;
	void *q = realloc(*p, c * elem);
	if (!q)
		return EKV_ENOMEM;
	*p = q;
	*cap = c;
	return 0;
}

/* Only the newest two epochs of an image matter. */
static void prune_journal(struct mount *m, uint32_t img, uint32_t max_epoch)
{
	uint32_t k = 0;
	for (uint32_t i = 0; i < m->njh; i++)
		if (m->jh[i].img != img || m->jh[i].epoch + 1 >= max_epoch)
			m->jh[k++] = m->jh[i];
	m->njh = k;
}

/* Read every header once: collect journal and table headers per image,
 * then keep the image whose newest block has the highest block sequence
 * number (another image's blocks are leftovers of an interrupted format). */
#define MAX_IMAGES 4
static int scan(struct mount *m)
{
	struct l2_engine *en = m->en;
	struct l2_blocks *bl = &en->bl;
	uint8_t buf[L2_HDR_SIZE];
	struct l2_geom img[MAX_IMAGES];
	uint64_t img_seq[MAX_IMAGES] = {0};
	uint32_t img_epoch[MAX_IMAGES] = {0};
	uint32_t nimg = 0;
	for (uint32_t b = 0; b < en->g.block_count; b++) {
		int e = flash_read(en->f, b, 0, buf, sizeof(buf));
		if (e < 0)
			return e;
		struct l2_block_hdr h;
		struct l2_geom gg;
		if (l2_hdr_decode(buf, &h, &gg, NULL, 0) < 0)
			continue;
		if (gg.block_size != en->g.block_size || gg.block_count != en->g.block_count)
			continue;
		uint32_t i = 0;
		while (i < nimg && !l2_geom_same(&img[i], &gg))
			i++;
		if (i == nimg) {
			if (nimg == MAX_IMAGES)
				continue;
			img[nimg++] = gg;
		}
		if (h.block_seq > img_seq[i])
			img_seq[i] = h.block_seq;
		bl->ec[b] = h.erase_count;
		if (h.kind == L2_KIND_TABLE) {
			e = grow((void **)&m->th, &m->capth, m->nth, sizeof(*m->th));
			if (e < 0)
				return e;
			m->th[m->nth++] = (struct thdr){h.owner, h.index, b, i, h.block_seq, h.link};
		} else {
			if (h.owner + 1 < img_epoch[i])
				continue;
			if (h.owner > img_epoch[i]) {
				img_epoch[i] = h.owner;
				prune_journal(m, i, h.owner);
			}
			e = grow((void **)&m->jh, &m->capjh, m->njh, sizeof(*m->jh));
			if (e < 0)
				return e;
			m->jh[m->njh++] = (struct jhdr){{b, h.index, h.link, h.block_seq}, h.owner, i};
		}
	}
	if (nimg == 0)
		return EKV_ENOFMT;
	uint32_t best = 0;
	for (uint32_t i = 1; i < nimg; i++)
		if (img_seq[i] > img_seq[best])
			best = i;
	en->g = img[best];
	l2_geom_check(&en->g, NULL, 0);
	bl->next_seq = img_seq[best] + 1;
	m->max_epoch = img_epoch[best];
	m->foreign_images = nimg - 1;
	/* keep the chosen image's headers */
	uint32_t k = 0;
	for (uint32_t i = 0; i < m->nth; i++) {
		if (m->th[i].img != best)
			continue;
		if (!m->have_newest_stamp || m->th[i].bseq > m->newest_table_bseq) {
			m->have_newest_stamp = true;
			m->newest_table_bseq = m->th[i].bseq;
			m->newest_stamp = m->th[i].stamp;
		}
		m->th[k++] = m->th[i];
	}
	m->nth = k;
	k = 0;
	for (uint32_t i = 0; i < m->njh; i++)
		if (m->jh[i].img == best)
			m->jh[k++] = m->jh[i];
	m->njh = k;
	return 0;
}

static int cmp_thdr(const void *a, const void *b)
{
	const struct thdr *x = a, *y = b;
	if (x->owner != y->owner)
		return x->owner < y->owner ? -1 : 1;
	if (x->index != y->index)
		return x->index < y->index ? -1 : 1;
	return 0;
}

static int cmp_jblock(const void *a, const void *b)
{
	const struct l2_jblock *x = a, *y = b;
	if (x->index != y->index)
		return x->index < y->index ? -1 : 1;
	return x->bseq < y->bseq ? -1 : x->bseq > y->bseq;
}

static bool v_stamp(void *ctx, uint32_t seq_lo)
{
	struct mount *m = ctx;
	return m->have_newest_stamp && (int32_t)(m->newest_stamp - seq_lo) >= 0;
}

static int v_commit(void *ctx, uint64_t seq, const uint8_t *p, uint32_t n)
{
	struct mount *m = ctx;
	if (!m->mem)
		return EKV_ECORRUPT;
	return l2_mem_insert_payload(m->mem, seq, p, n);
}

static int v_checkpoint(void *ctx, uint64_t seq, const uint8_t *p, uint32_t n)
{
	struct mount *m = ctx;
	struct l2_engine *en = m->en;
	if (n < L2_CKPT_FIXED)
		return EKV_ECORRUPT;
	uint32_t cnt = (uint32_t)p[18] | (uint32_t)p[19] << 8;
	if (cnt > en->g.block_count)
		return EKV_ECORRUPT;
	struct l2_ckpt_table *t = calloc(cnt ? cnt : 1, sizeof(*t));
	if (!t)
		return EKV_ENOMEM;
	struct l2_ckpt c;
	int e = l2_ckpt_decode(p, n, &en->g, &c, t, cnt);
	bool first = m->mem == NULL;
	if (e == 0 && (c.seq != seq || c.epoch != m->epoch ||
		       c.kind != (first ? L2_CKPT_FLUSH : L2_CKPT_UPDATE) ||
		       c.next_table_id < m->next_table_id))
		e = EKV_ECORRUPT;
	if (e < 0) {
		free(t);
		return e;
	}
	free(m->ct);
	m->ct = t;
	m->nct = c.ntables;
	m->next_table_id = c.next_table_id;
	if (first) {
		m->flush_seq = seq;
		e = l2_mem_new(&en->g, seq, &m->mem);
		if (e < 0)
			return e;
	}
	return 0;
}

/* The chain of one epoch from the collected journal headers. */
static int epoch_chain(struct mount *m, uint32_t epoch, struct l2_jblock **out, uint32_t *n)
{
	uint32_t k = 0;
	for (uint32_t i = 0; i < m->njh; i++)
		if (m->jh[i].epoch == epoch)
			k++;
	struct l2_jblock *c = calloc(k ? k : 1, sizeof(*c));
	if (!c)
		return EKV_ENOMEM;
	k = 0;
	for (uint32_t i = 0; i < m->njh; i++)
		if (m->jh[i].epoch == epoch)
			c[k++] = m->jh[i].b;
	qsort(c, k, sizeof(*c), cmp_jblock);
	*out = c;
	*n = k;
	return 0;
}

static void reset_parse(struct mount *m, uint32_t epoch)
{
	free(m->ct);
	m->ct = NULL;
	m->nct = 0;
	m->next_table_id = 0;
	l2_mem_put(m->mem);
	m->mem = NULL;
	m->epoch = epoch;
}

static void note(struct l2_recovery *r, const char *what)
{
	if (!r->what[0])
		snprintf(r->what, sizeof(r->what), "%s", what);
}

/* Load the tables of the parsed checkpoint; lost ones are counted. */
static int load_tables(struct mount *m, struct l2_version **out)
{
	struct l2_engine *en = m->en;
	struct l2_version *v;
	int e = l2_version_new(m->nct, &v);
	if (e < 0)
		return e;
	v->epoch = m->epoch;
	v->next_table_id = m->next_table_id;
	if (m->nth)
		qsort(m->th, m->nth, sizeof(*m->th), cmp_thdr);
	uint32_t k = 0;
	for (uint32_t i = 0; i < m->nct; i++) {
		const struct l2_ckpt_table *ct = &m->ct[i];
		struct thdr key = {.owner = ct->id};
		struct thdr *lo =
			m->nth ? bsearch(&key, m->th, m->nth, sizeof(*m->th), cmp_thdr) : NULL;
		char msg[160] = "";
		uint32_t *blocks = malloc(sizeof(uint32_t) * ct->nblocks);
		if (!blocks) {
			l2_version_put(v);
			return EKV_ENOMEM;
		}
		bool ok = lo != NULL;
		if (ok) {
			size_t at = (size_t)(lo - m->th);
			for (uint32_t b = 0; b < ct->nblocks; b++, at++) {
				if (at >= m->nth || m->th[at].owner != ct->id ||
				    m->th[at].index != b || en->bl.state[m->th[at].block] != L2B_FREE) {
					ok = false;
					break;
				}
				blocks[b] = m->th[at].block;
			}
			if (ok && at < m->nth && m->th[at].owner == ct->id)
				ok = false; /* more blocks than the checkpoint says */
		}
		struct l2_table *t = NULL;
		if (ok) {
			e = l2_table_load(&en->g, en->f, ct->id, ct->level, ct->nblocks,
					  ct->stream_len, blocks, &t, msg, sizeof(msg));
			if (e < 0 && e != EKV_ECORRUPT) {
				free(blocks);
				l2_version_put(v);
				return e;
			}
			ok = e == 0;
		}
		if (ok) {
			for (uint32_t b = 0; b < ct->nblocks; b++)
				l2_blocks_set(&en->bl, blocks[b], L2B_TABLE);
			v->t[k++] = t;
		} else {
			en->rec.damaged = true;
			en->rec.tables_lost++;
			char w[200];
			snprintf(w, sizeof(w), "table %u (level %u, %u blocks) is unreadable%s%s",
				 ct->id, ct->level, ct->nblocks, msg[0] ? ": " : "", msg);
			note(&en->rec, w);
		}
		free(blocks);
	}
	v->n = k;
	*out = v;
	return 0;
}

int l2_engine_mount(struct l2_engine *en)
{
	drop_state(en, true);
	memset(&en->rec, 0, sizeof(en->rec));
	l2_blocks_reset(&en->bl, next_random(en));
	struct mount m = {.en = en};
	struct l2_jblock *chain = NULL;
	uint32_t nchain = 0;
	struct l2_jrn_verdict v;
	struct l2_version *ver = NULL;
	struct l2_jrn_visitor vis = {.ctx = &m, .commit = v_commit, .checkpoint = v_checkpoint,
				     .stamp_at_or_after = v_stamp};
	int e = scan(&m);
	if (e < 0)
		goto out;
	uint32_t epoch = m.max_epoch;
	en->rec.epoch_found = epoch;
	for (int attempt = 0; attempt < 2; attempt++) {
		free(chain);
		chain = NULL;
		reset_parse(&m, epoch);
		e = epoch_chain(&m, epoch, &chain, &nchain);
		if (e < 0)
			goto out;
		if (nchain == 0 || chain[0].index != 0) {
			e = EKV_ECORRUPT;
			memset(&v, 0, sizeof(v));
			v.damaged = true;
			snprintf(v.what, sizeof(v.what), "the first block of epoch %u is missing",
				 epoch);
		} else {
			e = l2_jrn_parse(&en->g, en->f, epoch, chain, nchain, &vis, &v);
		}
		if (e == 0 && m.mem)
			break;
		if (e < 0 && e != EKV_ECORRUPT)
			goto out;
		/* no usable checkpoint at the start of this epoch */
		if (v.damaged) {
			en->rec.damaged = true;
			note(&en->rec, v.what);
		}
		if (attempt == 1 || epoch <= 1) {
			if (!en->rec.damaged) {
				en->rec.damaged = true;
				note(&en->rec, "no epoch of the journal has a valid checkpoint");
			}
			e = EKV_ECORRUPT;
			goto out;
		}
		if (v.damaged && en->on_damage == L2_DAMAGE_REFUSE) {
			e = EKV_ECORRUPT;
			goto out;
		}
		epoch--;
		en->rec.fell_back = v.damaged;
		en->rec.torn = en->rec.torn || v.torn;
	}
	en->rec.epoch_mounted = epoch;
	en->rec.torn = en->rec.torn || v.torn;
	if (v.damaged) {
		en->rec.damaged = true;
		char w[200];
		snprintf(w, sizeof(w), "block %u offset %u: %s", v.damage_block, v.damage_off,
			 v.what);
		note(&en->rec, w);
	}
	e = load_tables(&m, &ver);
	if (e < 0)
		goto out;
	if (en->rec.damaged && en->on_damage == L2_DAMAGE_REFUSE) {
		e = EKV_ECORRUPT;
		goto out;
	}
	e = l2_jrn_resume(&en->j, epoch, chain, nchain, &v);
	if (e < 0)
		goto out;
	/* table ids are never reused, not even those of tables a cut left
	 * unfinished: their blocks may still carry headers */
	en->next_table_id = ver->next_table_id;
	for (uint32_t i = 0; i < m.nth; i++)
		if (m.th[i].owner >= en->next_table_id)
			en->next_table_id = m.th[i].owner + 1;
	en->j.next_seq = v.last_seq + 1;
	hold_retired(en);
	l2_engine_publish(en, ver, m.mem, v.last_seq);
	ver = NULL;
	m.mem = NULL;
	en->mounted = true;
	/* after damage or a fallback, start a new epoch at the first write so
	 * that what was skipped can never be read as part of the chain */
	en->broken = false;
	en->j.tail = (en->rec.damaged || en->rec.fell_back) && en->j.tail != L2_TAIL_CONTINUED
			     ? L2_TAIL_UNCLEAN
			     : en->j.tail;
	en->force_flush = en->rec.damaged || en->rec.fell_back;
out:
	l2_version_put(ver);
	free(chain);
	free(m.th);
	free(m.jh);
	free(m.ct);
	l2_mem_put(m.mem);
	if (e < 0)
		l2_blocks_reset(&en->bl, next_random(en));
	return e;
}

/* ---- snapshots and reads ------------------------------------------------- */

void l2_engine_snap(struct l2_engine *en, struct l2_snap *s)
{
	pthread_mutex_lock(&en->lock);
	s->v = en->cur;
	s->mem = en->mem;
	s->seq = en->seq;
	if (s->v)
		__atomic_add_fetch(&s->v->refs, 1, __ATOMIC_RELAXED);
	if (s->mem)
		l2_mem_get_ref(s->mem);
	pthread_mutex_unlock(&en->lock);
}

void l2_snap_release(struct l2_snap *s)
{
	l2_version_put(s->v);
	l2_mem_put(s->mem);
	s->v = NULL;
	s->mem = NULL;
}

int l2_snap_get(struct l2_snap *s, struct l2_treader *r, const uint8_t *key, uint32_t klen,
		uint8_t *value, size_t cap, size_t *vlen)
{
	bool del = false;
	int e = s->mem ? l2_mem_get(s->mem, s->seq, key, klen, &del, value, cap, vlen) : 0;
	if (e == 1)
		return del ? EKV_ENOTFOUND : 0;
	if (e < 0)
		return e;
	const struct l2_version *v = s->v;
	if (!v)
		return EKV_ENOTFOUND;
	/* the last table that may hold the key is read without its filter */
	int64_t last = -1;
	for (uint32_t i = 0; i < v->n; i++)
		if (l2_table_covers(v->t[i], key, klen))
			last = i;
	for (uint32_t i = 0; last >= 0 && i <= (uint32_t)last; i++) {
		struct l2_table *t = v->t[i];
		if (!l2_table_covers(t, key, klen))
			continue;
		e = l2_table_get(t, r, key, klen, i != (uint32_t)last, &del, value, cap, vlen);
		if (e == 1)
			return del ? EKV_ENOTFOUND : 0;
		if (e < 0)
			return e;
	}
	return EKV_ENOTFOUND;
}

int l2_snap_iter(struct l2_snap *s, struct l2_treader *r, struct l2_src **out)
{
	uint32_t n = (s->v ? s->v->n : 0) + 1;
	struct l2_src **src = calloc(n, sizeof(*src));
	if (!src)
		return EKV_ENOMEM;
	uint32_t k = 0;
	int e = 0;
	if (s->mem)
		e = l2_mem_iter(s->mem, s->seq, &src[k++]);
	for (uint32_t i = 0; e == 0 && s->v && i < s->v->n; i++)
		e = l2_table_iter(s->v->t[i], r, &src[k++]);
	if (e == 0)
		e = l2_merge_new(src, k, true, out);
	if (e < 0)
		for (uint32_t i = 0; i < k; i++)
			if (src[i])
				src[i]->close(src[i]);
	free(src);
	return e;
}
