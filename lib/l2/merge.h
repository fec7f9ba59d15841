/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * l2/merge.h — merging sources of records (the memtable, tables) in key
 * order, the newest version of each key winning (docs/FORMAT.md §L5, §L9.3).
 *
 * Owns: the order "sources[0] is the newest": for equal keys only the
 * record of the lowest-numbered source is produced.  Optionally drops
 * tombstones (a compaction into the bottom level; a cursor, which never
 * shows deleted keys).  Never reads flash itself.
 */
#ifndef EKV_L2_MERGE_H
#define EKV_L2_MERGE_H

#include "l2/table.h"

/*
 * A merge of n sources as one source (seek/next/close, cur).  Takes
 * ownership of the sources (close closes them; so does a failure here).
 * drop_tombstones: skip keys whose newest record is a tombstone.
 */
int l2_merge_new(struct l2_src **srcs, uint32_t n, bool drop_tombstones, struct l2_src **out);

#endif
