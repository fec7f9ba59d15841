/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * l2/journal.h — layout 2's journal: the chain of blocks of the current
 * epoch, appending entries to it, and reading it back at mount with the
 * torn-or-damaged rule (docs/FORMAT.md §L3, §L4, §L8.3, §L10).
 *
 * Owns: where the next entry goes (padding, guards, CONTINUE, fragments),
 * the entry sequence numbers, and the verdict on every entry the parser
 * reads: valid, the torn tail of the last write, or damage.  Knows nothing
 * of what commit and checkpoint payloads mean: it hands them to a visitor.
 * Must never append after bytes it has not proven erased, or skip an
 * invalid entry that is followed by valid data without calling it damage.
 */
#ifndef EKV_L2_JOURNAL_H
#define EKV_L2_JOURNAL_H

#include "l2/block.h"

#define L2_JFULL 2 /* positive: the epoch has no room; flush first */

/* A journal block of one epoch as the header scan found it. */
struct l2_jblock {
	uint32_t block, index, link;
	uint64_t bseq;
};

enum l2_tail {
	L2_TAIL_OPEN,      /* written in this session: append at w.pos */
	L2_TAIL_CLEAN,     /* mounted, erased after the valid end: guard, then append */
	L2_TAIL_UNCLEAN,   /* torn bytes after the valid end: next block, with link */
	L2_TAIL_CONTINUED, /* ends with a CONTINUE whose target holds no block yet */
};

/* What the parser found. */
struct l2_jrn_verdict {
	uint64_t first_seq, last_seq; /* of the epoch's valid entries */
	uint32_t entries, commits;
	uint32_t tail_index;          /* chain position of the last block read */
	uint32_t valid_end;           /* offset after its last valid entry */
	enum l2_tail tail;
	struct l2_continue dangling;  /* L2_TAIL_CONTINUED */
	bool torn;                    /* a torn last write was dropped */
	/* damage: an invalid entry that is not the torn tail */
	bool damaged;
	uint32_t damage_block, damage_off;
	char what[160];
};

struct l2_jrn_visitor {
	void *ctx;
	/* seq of the entry; payload of a COMMIT or a whole (defragmented)
	 * CHECKPOINT; < 0 stops the parse with that error */
	int (*commit)(void *ctx, uint64_t seq, const uint8_t *p, uint32_t n);
	int (*checkpoint)(void *ctx, uint64_t seq, const uint8_t *p, uint32_t n);
	/* whether a table block exists whose stamp is at or after seq_lo */
	bool (*stamp_at_or_after)(void *ctx, uint32_t seq_lo);
};

/*
 * Read an epoch's chain (blocks sorted by index, chain[0].index == 0) and
 * deliver its entries.  Returns 0 with *v filled (v->damaged says whether
 * something was lost), EKV_ECORRUPT when the epoch has no valid FLUSH
 * checkpoint (the caller may fall back to the previous epoch), or an I/O
 * or visitor error.  Reads stay inside the chain's blocks.
 */
int l2_jrn_parse(const struct l2_geom *g, struct ekv_flash *f, uint32_t epoch,
		 const struct l2_jblock *chain, uint32_t n, const struct l2_jrn_visitor *vis,
		 struct l2_jrn_verdict *v);

/* The writer of the current epoch. */
struct l2_jrn {
	const struct l2_geom *g;
	struct l2_blocks *bl;
	struct l2_bw w;
	uint32_t epoch;
	uint32_t *chain;     /* block of each index of the epoch */
	uint32_t nchain, capchain;
	uint64_t next_seq;   /* sequence number of the next entry */
	enum l2_tail tail;
	uint32_t tail_end;   /* CLEAN/UNCLEAN: valid end of the tail block */
	struct l2_continue dangling;
	uint8_t *ebuf;
	uint32_t ebuf_cap;
	bool need_sync;      /* programs issued since the last flash sync */
	bool resume_pending; /* the next entry carries RESUMED / resume_from */
	uint32_t resume_from;
};

int l2_jrn_init(struct l2_jrn *j, const struct l2_geom *g, struct l2_blocks *bl);
void l2_jrn_destroy(struct l2_jrn *j);
/* Writer state after a mount: the chain and the parser's verdict.  Marks
 * the chain's blocks (and a dangling CONTINUE's target) in the block map. */
int l2_jrn_resume(struct l2_jrn *j, uint32_t epoch, const struct l2_jblock *chain, uint32_t n,
		  const struct l2_jrn_verdict *v);
/* Sequence number of the last entry written (a table block's stamp). */
static inline uint64_t l2_jrn_last_seq(const struct l2_jrn *j)
{
	return j->next_seq - 1;
}
/* Whether an entry of `payload` bytes fits in the epoch's max_blocks. */
bool l2_jrn_fits(const struct l2_jrn *j, uint32_t payload, uint32_t max_blocks);
/* Largest single-entry payload a journal block can take. */
uint32_t l2_jrn_max_payload(const struct l2_geom *g);
/*
 * Append one entry (COMMIT or CHECKPOINT; a CHECKPOINT is split into
 * fragments when needed), moving to a new block of the epoch when the
 * current one is full, as long as the epoch stays within max_blocks
 * (L2_JFULL otherwise, nothing written).  *seq gets the entry's (first
 * fragment's) sequence number.  sync: program and fdatasync before return.
 */
int l2_jrn_append(struct l2_jrn *j, uint8_t type, const uint8_t *p, uint32_t n,
		  uint32_t max_blocks, bool sync, uint64_t *seq);
/* A CHECKPOINT's first 8 payload bytes are replaced by its sequence number. */
/*
 * Start epoch j->epoch + 1 with a FLUSH checkpoint (payload p, n bytes):
 * allocate and erase its block 0, CONTINUE the old tail to it when that is
 * possible, write the checkpoint, sync; *seq gets its sequence number.  On
 * success the old chain's blocks are handed to *old (the caller frees the
 * array and the blocks after publishing).
 */
int l2_jrn_new_epoch(struct l2_jrn *j, const uint8_t *p, uint32_t n, uint64_t *seq,
		     uint32_t **old, uint32_t *n_old);
/* First epoch of a freshly erased image. */
int l2_jrn_format(struct l2_jrn *j, const uint8_t *p, uint32_t n);
/* Whether a block holds any valid entry of this image (1), none (0), <0. */
int l2_jrn_block_has_entries(const struct l2_geom *g, struct ekv_flash *f, uint32_t block);
/* Program what is staged and make it durable. */
int l2_jrn_sync(struct l2_jrn *j);

#endif
