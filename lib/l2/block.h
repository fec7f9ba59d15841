/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * l2/block.h — layout 2's erase blocks: what each block holds, allocation,
 * erase counts, and the program-unit writer (docs/FORMAT.md §L8, §L12).
 *
 * Owns: the RAM state of every block (free, erased by us, journal, table,
 * bad, reserved), the cyclic allocator and the pins that keep blocks a
 * snapshot may read out of use, the block sequence counter, and the rule
 * that every PU is programmed once and in ascending order with the block
 * header going out with the first program.  Knows nothing of entries or
 * tables: it moves bytes.  Must never program below a block's programmed
 * end, program an all-erased PU, or erase a bad or pinned block.
 */
#ifndef EKV_L2_BLOCK_H
#define EKV_L2_BLOCK_H

#include "l2/format.h"

enum l2_bstate {
	L2B_FREE = 0,  /* holds nothing live; erase before use (unless known erased) */
	L2B_JOURNAL,   /* a block of the current epoch's chain */
	L2B_TABLE,     /* a block of a live table */
	L2B_USED,      /* allocated by a writer in progress (not reachable yet) */
	L2B_RESERVED,  /* named by the current epoch's last CONTINUE, not written */
	L2B_BAD,
};

struct l2_blocks {
	const struct l2_geom *g;
	struct ekv_flash *f;
	uint32_t n;
	uint8_t *state;        /* enum l2_bstate per block */
	uint32_t *ec;          /* erase count; UINT32_MAX unknown */
	uint8_t *pinned;       /* bitmap: free but a snapshot may read it */
	uint8_t *erased;       /* bitmap: erased by this handle, not programmed since */
	uint32_t cursor;       /* next block the allocator looks at */
	uint64_t next_seq;     /* block sequence number for the next open */
	uint32_t n_free;       /* FREE, pinned or not */
	uint32_t n_bad;
	uint64_t erases;       /* erases issued by this handle */
};

int l2_blocks_init(struct l2_blocks *bl, const struct l2_geom *g, struct ekv_flash *f);
void l2_blocks_destroy(struct l2_blocks *bl);
/* Every block FREE (or BAD, per the flash), no pins; cursor from random. */
void l2_blocks_reset(struct l2_blocks *bl, uint32_t random);
void l2_blocks_set(struct l2_blocks *bl, uint32_t b, enum l2_bstate s);
static inline bool l2_blocks_is_free(const struct l2_blocks *bl, uint32_t b)
{
	return bl->state[b] == L2B_FREE;
}
static inline bool l2_blocks_known_erased(const struct l2_blocks *bl, uint32_t b)
{
	return bl->erased[b / 8] & (1u << (b % 8));
}
/* Free blocks that can be allocated now (not pinned). */
uint32_t l2_blocks_available(const struct l2_blocks *bl);
/* Next available block at or after the cursor: 0 and *b (state USED), or
 * EKV_ENOSPC. */
int l2_blocks_alloc(struct l2_blocks *bl, uint32_t *b);
/* Give a block back (FREE). */
void l2_blocks_release(struct l2_blocks *bl, uint32_t b);
void l2_blocks_clear_pins(struct l2_blocks *bl);
void l2_blocks_pin(struct l2_blocks *bl, uint32_t b);
static inline bool l2_blocks_pinned(const struct l2_blocks *bl, uint32_t b)
{
	return bl->pinned[b / 8] & (1u << (b % 8));
}
/* Erase count the next header of b gets. */
uint32_t l2_blocks_next_ec(const struct l2_blocks *bl, uint32_t b);
/* Erase b now (known erased until its first program). */
int l2_blocks_erase(struct l2_blocks *bl, uint32_t b);
/* mean erase count of the blocks whose count is known */
uint32_t l2_blocks_mean_ec(const struct l2_blocks *bl);

/* ---- the PU writer -------------------------------------------------------- */

/*
 * Writes one block front to back.  Bytes are appended at `pos`; whole PUs
 * are programmed as soon as they are complete (on NOR, where U = A, every
 * append is programmed at once); l2_bw_sync() programs the partial PU with
 * erased padding and moves `pos` to the next PU boundary.  The block header
 * is programmed together with the first bytes.
 */
struct l2_bw {
	struct l2_blocks *bl;
	uint32_t block;
	uint32_t pos;      /* next byte offset in the block */
	uint32_t prog;     /* bytes [0, prog) are programmed (a multiple of U) */
	bool hdr_pending;  /* header in buf, not programmed yet */
	uint8_t *buf;      /* staging for [prog, pos): header + partial PU */
	uint32_t cap;      /* bytes buf holds */
	bool open;
};

int l2_bw_init(struct l2_bw *w, struct l2_blocks *bl);
void l2_bw_free(struct l2_bw *w);
/* Start a block: erase it unless known erased, stage the header (pos = H). */
int l2_bw_open(struct l2_bw *w, uint32_t block, const struct l2_block_hdr *h);
/* Continue a block whose bytes from pos on are erased and were never
 * programmed (pos a multiple of U). */
void l2_bw_resume(struct l2_bw *w, uint32_t block, uint32_t pos);
int l2_bw_append(struct l2_bw *w, const void *data, uint32_t len);
/* Program what is staged, padding the partial PU; pos becomes a multiple of
 * U.  Nothing staged: nothing happens. */
int l2_bw_sync(struct l2_bw *w);
static inline uint32_t l2_bw_room(const struct l2_bw *w)
{
	return w->bl->g->block_size - w->pos;
}
/* Bytes staged but not programmed. */
static inline uint32_t l2_bw_staged(const struct l2_bw *w)
{
	return w->pos - w->prog;
}
void l2_bw_close(struct l2_bw *w);

#endif
