/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * profile_fields.h — every field of struct ekv_profile, declared once.
 *
 * Owns: the list of profile fields: member, ekv.conf key (= the long option
 * of ekvctl and ekvd), kind of value, default, documented range, the
 * on-disk layouts the field applies to, and its help text.  Generated from
 * it: ekv_profile_default (profile.c), the profile in the HELLO reply
 * (proto.c: the fields in table order, each a u32), the ekv.conf keys and
 * the options of ekvctl and ekvd with their help (tools/settings.c), and
 * the profile lines ekvctl prints (-v, stat, probe).
 * Must never: be the range check.  geom_init (profile.c) decides which
 * profiles are possible; min and max here are the ends of the range it
 * accepts (tests/test_profile_fields.c checks that it refuses min - 1 and
 * max + 1), used for help texts and early option checks.
 *
 * A new field: its member in struct ekv_profile (ekv.h), one row here, its
 * check in geom_init, and its documentation (ekvctl(1), ekvd(8), ekv.conf(5),
 * the bash completion: tests/options_doc_test.sh checks that they name it).
 * New rows go at the end: HELLO carries the rows in this order, so a new
 * row changes the HELLO reply (docs/PROTOCOL.md §6, a protocol version).
 *
 * X(field, key, kind, def, min, max, layouts, help): kind is NUM, BOOL or
 * ERASE (enum ekv_pf_kind without its EKV_PF_ prefix), layouts a mask of
 * EKV_PF_L<n>.
 */
#ifndef EKV_PROFILE_FIELDS_H
#define EKV_PROFILE_FIELDS_H

#include <stdint.h>

#include "ekv.h"

/* How a field's value is written: in ekv.conf, on command lines, in output. */
enum ekv_pf_kind {
	EKV_PF_NUM,   /* a number: decimal or 0x-hex */
	EKV_PF_BOOL,  /* yes/no (ekv.conf), --KEY / --no-KEY (options), on/off (output) */
	EKV_PF_ERASE, /* an erased byte: 0xFF or 0x00 */
};

/* The on-disk layouts a field applies to: a bit per layout. */
#define EKV_PF_LAYOUT(n) (1u << (n))
#define EKV_PF_L1 EKV_PF_LAYOUT(1)

/* clang-format off */
#define EKV_PROFILE_FIELDS(X) \
X(page_size,          "page-size",        NUM,   4096, 128,  65536, EKV_PF_L1, "Page (erase block) size, a multiple of 4") \
X(page_count,         "page-count",       NUM,   256,  1,    65535, EKV_PF_L1, "Pages in use") \
X(max_page_count,     "max-page-count",   NUM,   256,  8,    65536, EKV_PF_L1, "Format bound that sizes on-disk structures") \
X(align,              "align",            NUM,   4,    1,    4,     EKV_PF_L1, "Write alignment: 1, 2 or 4") \
X(erase_value,        "erase-value",      ERASE, 0xFF, 0x00, 0xFF,  EKV_PF_L1, "Erased byte value") \
X(crc,                "crc",              BOOL,  0,    0,    1,     EKV_PF_L1, "CRC-32 of headers and chunks") \
X(max_chunk_size,     "max-chunk-size",   NUM,   4096, 16,   65535, EKV_PF_L1, "Max chunk size, a multiple of align") \
X(branching_factor,   "branching-factor", NUM,   2,    2,    4,     EKV_PF_L1, "LSM branching factor") \
X(max_key_size,       "max-key-size",     NUM,   64,   1,    1024,  EKV_PF_L1, "Max key size") \
X(max_value_size,     "max-value-size",   NUM,   1024, 1,    65536, EKV_PF_L1, "Max value size") \
X(scratch_page_count, "scratch-pages",    NUM,   4,    0,    65535, EKV_PF_L1, "Free-space reserve pages")
/* clang-format on */

/* EKV_PF_page_size, ...: a field's position in the table. */
enum ekv_pf_id {
#define EKV_PF_ID(field, ...) EKV_PF_##field,
	EKV_PROFILE_FIELDS(EKV_PF_ID)
#undef EKV_PF_ID
	EKV_PF_COUNT
};

/* One row of the table as data. */
struct ekv_pf {
	const char *key;
	enum ekv_pf_kind kind;
	uint32_t def, min, max;
	unsigned layouts;
	const char *help;
};

static const struct ekv_pf ekv_pf_table[EKV_PF_COUNT] = {
#define EKV_PF_ROW(field, key, kind, def, min, max, layouts, help)                                 \
	[EKV_PF_##field] = {key, EKV_PF_##kind, def, min, max, layouts, help},
	EKV_PROFILE_FIELDS(EKV_PF_ROW)
#undef EKV_PF_ROW
};

/* A field's value as a u32 (bool: 0 or 1). */
static inline uint32_t ekv_pf_get(const struct ekv_profile *p, enum ekv_pf_id id)
{
	switch (id) {
#define EKV_PF_GET(field, ...)                                                                     \
	case EKV_PF_##field:                                                                       \
		return (uint32_t)p->field;
		EKV_PROFILE_FIELDS(EKV_PF_GET)
#undef EKV_PF_GET
	case EKV_PF_COUNT:
		break;
	}
	return 0;
}

/* Set a field; v must fit its member (see ekv_pf_kind_max). */
static inline void ekv_pf_set(struct ekv_profile *p, enum ekv_pf_id id, uint32_t v)
{
	switch (id) {
#define EKV_PF_SET(field, ...)                                                                     \
	case EKV_PF_##field:                                                                       \
		p->field = (__typeof__(p->field))v;                                                \
		break;
		EKV_PROFILE_FIELDS(EKV_PF_SET)
#undef EKV_PF_SET
	case EKV_PF_COUNT:
		break;
	}
}

/* The largest value a member of this kind holds. */
static inline uint32_t ekv_pf_kind_max(enum ekv_pf_kind kind)
{
	return kind == EKV_PF_BOOL ? 1 : kind == EKV_PF_ERASE ? 0xff : UINT32_MAX;
}

#endif
