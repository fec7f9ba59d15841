/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * record.h — records on top of files: a record's head (header and key),
 * point lookups over a snapshot's files and seeks (docs/FORMAT.md §8).
 *
 * Owns: the record stream of a file (keys strictly ascending, a tombstone
 * hides older values) and the order of files (higher id = newer).
 * Must never: read or write page bytes itself (it works on the file layer),
 * or decide where files go (compact.h).
 */
#ifndef EKV_RECORD_H
#define EKV_RECORD_H

#include "file.h"
#include "meta.h"

/* Bytewise order, a prefix before the longer key: <0, 0, >0. */
int key_cmp(const uint8_t *a, uint32_t al, const uint8_t *b, uint32_t bl);

/* EOF in the middle of a record is corruption. */
static inline int rec_no_eof(int e)
{
	return e == FILE_EOF ? EKV_ECORRUPT : e;
}
/* Read one record header and its key (key: max_key bytes): 0, FILE_EOF at
 * the end of the file, or <0. */
int rec_read_head(struct file_reader *r, struct rec_hdr *h, uint8_t *key);
/* Append a record header and its key; the value follows. */
int rec_write_head(struct file_writer *w, struct file_manager *m, const struct rec_hdr *h,
		   const uint8_t *key);

/* Point lookup in a snapshot's files: 0 found (*vlen set, value copied
 * unless EKV_ERANGE), EKV_ENOTFOUND, or an error. */
int rec_get(const struct geom *g, struct ekv_flash *f, const struct file_state *files,
	    struct page_reader *pr, const uint8_t *key, uint32_t klen, uint8_t *value,
	    size_t cap, size_t *vlen);

/* Position a reader on the first record >= key (or > key if !incl) of one
 * file.  *found = false: no such record. */
int rec_seek_file(struct file_reader *r, const uint8_t *key, uint32_t klen, bool incl,
		  bool *found);

#endif
