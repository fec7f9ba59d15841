/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * text.h — ekvctl's text formats: escaped output, hex, the key=value script
 * and export format, JSON, and the sorted write set a transaction is built
 * from.  Presentation and parsing only; no database access.
 */
#ifndef EKVCTL_TEXT_H
#define EKVCTL_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A growable byte string. */
struct bytes {
	uint8_t *p;
	size_t n, cap;
};
int bytes_push(struct bytes *b, const void *data, size_t n);
void bytes_free(struct bytes *b);

/* Output contract: printable ASCII as is, '\' as "\\", every other byte
 * "\xHH".  export also escapes '"', '=' and '#' (round-trip safety). */
void print_escaped(FILE *out, const uint8_t *s, size_t n);
void print_export_escaped(FILE *out, const uint8_t *s, size_t n, bool is_key);
/* "-" for the empty string, else lower-case hex. */
void print_hex(FILE *out, const uint8_t *s, size_t n);
/* JSON string, one code point U+0000..U+00FF per byte. */
void print_json_string(FILE *out, const uint8_t *s, size_t n);

/* Decode "\\" and "\xHH" escapes; false on any other backslash sequence. */
bool unescape(const char *s, size_t n, struct bytes *out);
/* Hex string ("-" = empty); false if not hex. */
bool parse_hex(const char *s, struct bytes *out);

/* One operation of a write transaction. */
struct op {
	bool del;
	struct bytes key, val;
	size_t order; /* input position: the last of equal keys wins */
	int line;
};

struct opset {
	struct op *ops;
	size_t n, cap;
};
struct op *opset_add(struct opset *s);
/* Sort by key and keep the last op of each key. */
void opset_sort_unique(struct opset *s);
/* Drop the ops from the n-th on. */
void opset_truncate(struct opset *s, size_t n);
void opset_free(struct opset *s);
int key_compare(const uint8_t *a, size_t al, const uint8_t *b, size_t bl);

/*
 * Parse a key=value script (batch, -s, import): '#' comments, blank lines,
 * "key=value" puts, "key=" deletes, "key=\"\"" puts an empty value; every
 * line ends with a newline (a last line without one is an input cut short).
 * Returns 0; -EINVAL for a bad line or an input cut short, or a read error
 * (-errno), with *bad_line and msg set and nothing added.
 */
int parse_script(FILE *in, struct opset *s, int *bad_line, char *msg, size_t msg_size);
/* Parse a JSON object of string keys to string values (null deletes); the
 * same results. */
int parse_json(FILE *in, struct opset *s, int *bad_line, char *msg, size_t msg_size);

/* The message for a last line without its newline. */
#define TEXT_CUT_SHORT "the line has no newline at its end: the input was cut short?"

#endif
