/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * text.c — ekvctl's text formats (see text.h and ekvctl(1), FORMATS).
 *
 * Every parser here reads a whole input before the caller writes anything:
 * a bad line, a read error or an input cut short (a last line without its
 * newline) rejects the input, and nothing of it is applied.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

int bytes_push(struct bytes *b, const void *data, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 32;
		while (cap < b->n + n + 1)
			cap *= 2;
		uint8_t *p = realloc(b->p, cap);
		if (!p)
			return -1;
		b->p = p;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->n, data, n);
	b->n += n;
	b->p[b->n] = 0;
	return 0;
}

void bytes_free(struct bytes *b)
{
	free(b->p);
	*b = (struct bytes){0};
}

void print_escaped(FILE *out, const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\')
			fputs("\\\\", out);
		else if (s[i] >= 0x20 && s[i] < 0x7f)
			putc(s[i], out);
		else
			fprintf(out, "\\x%02x", s[i]);
	}
}

void print_export_escaped(FILE *out, const uint8_t *s, size_t n, bool is_key)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];
		bool plain = c > 0x20 && c < 0x7f && c != '\\' && c != '"' &&
			     !(is_key && (c == '=' || (i == 0 && c == '#')));
		/* inner spaces are plain; at either end they would be lost to a
		 * reader that trims */
		if (c == ' ' && i > 0 && i + 1 < n)
			plain = true;
		if (c == '\\')
			fputs("\\\\", out);
		else if (plain)
			putc(c, out);
		else
			fprintf(out, "\\x%02x", c);
	}
}

void print_hex(FILE *out, const uint8_t *s, size_t n)
{
	if (n == 0) {
		putc('-', out);
		return;
	}
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%02x", s[i]);
}

void print_json_string(FILE *out, const uint8_t *s, size_t n)
{
	putc('"', out);
	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];
		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c >= 0x20 && c < 0x7f)
			putc(c, out);
		else
			fprintf(out, "\\u%04x", c);
	}
	putc('"', out);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

bool unescape(const char *s, size_t n, struct bytes *out)
{
	out->n = 0;
	if (bytes_push(out, "", 0) < 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)s[i];
		if (c == '\\') {
			if (i + 1 < n && s[i + 1] == '\\') {
				i++;
			} else if (i + 3 < n && s[i + 1] == 'x' && hexval(s[i + 2]) >= 0 &&
				   hexval(s[i + 3]) >= 0) {
				c = (uint8_t)(hexval(s[i + 2]) << 4 | hexval(s[i + 3]));
				i += 3;
			} else {
				return false;
			}
		}
		if (bytes_push(out, &c, 1) < 0)
			return false;
	}
	return true;
}

bool parse_hex(const char *s, struct bytes *out)
{
	out->n = 0;
	if (bytes_push(out, "", 0) < 0)
		return false;
	if (!strcmp(s, "-"))
		return true;
	size_t n = strlen(s);
	if (n == 0 || n % 2)
		return false;
	for (size_t i = 0; i < n; i += 2) {
		int hi = hexval(s[i]), lo = hexval(s[i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		uint8_t b = (uint8_t)(hi << 4 | lo);
		if (bytes_push(out, &b, 1) < 0)
			return false;
	}
	return true;
}

/* ---- write sets --------------------------------------------------------- */

struct op *opset_add(struct opset *s)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct op *p = realloc(s->ops, cap * sizeof(*p));
		if (!p)
			return NULL;
		s->ops = p;
		s->cap = cap;
	}
	struct op *op = &s->ops[s->n];
	memset(op, 0, sizeof(*op));
	op->order = s->n++;
	return op;
}

int key_compare(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	size_t n = al < bl ? al : bl;
	int c = n ? memcmp(a, b, n) : 0;
	if (c)
		return c;
	return al < bl ? -1 : al > bl;
}

static int op_cmp(const void *x, const void *y)
{
	const struct op *a = x, *b = y;
	int c = key_compare(a->key.p, a->key.n, b->key.p, b->key.n);
	if (c)
		return c;
	return a->order < b->order ? -1 : a->order > b->order;
}

void opset_sort_unique(struct opset *s)
{
	if (s->n == 0)
		return;
	qsort(s->ops, s->n, sizeof(*s->ops), op_cmp);
	size_t k = 0;
	for (size_t i = 0; i < s->n; i++) {
		bool last_of_key = i + 1 == s->n ||
				   key_compare(s->ops[i].key.p, s->ops[i].key.n, s->ops[i + 1].key.p,
					       s->ops[i + 1].key.n) != 0;
		if (!last_of_key) {
			bytes_free(&s->ops[i].key);
			bytes_free(&s->ops[i].val);
			continue;
		}
		s->ops[k++] = s->ops[i];
	}
	s->n = k;
}

void opset_truncate(struct opset *s, size_t n)
{
	while (s->n > n) {
		s->n--;
		bytes_free(&s->ops[s->n].key);
		bytes_free(&s->ops[s->n].val);
	}
}

void opset_free(struct opset *s)
{
	opset_truncate(s, 0);
	free(s->ops);
	*s = (struct opset){0};
}

/* ---- key=value scripts ---------------------------------------------------- */

static bool is_blank(int c)
{
	return c == ' ' || c == '\t';
}

/* The end of the input: 0, or a read error (its errno, negated, and msg). */
static int read_end(FILE *in, int err, char *msg, size_t msg_size)
{
	if (!ferror(in))
		return 0;
	err = err ? err : EIO;
	snprintf(msg, msg_size, "read error: %s", strerror(err));
	return -err;
}

int parse_script(FILE *in, struct opset *s, int *bad_line, char *msg, size_t msg_size)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int lineno = 0;
	size_t start = s->n;
	bool ok = true;
	errno = 0;
	while (ok && (len = getline(&line, &cap, in)) >= 0) {
		lineno++;
		size_t n = (size_t)len;
		if (line[n - 1] != '\n') {
			snprintf(msg, msg_size, TEXT_CUT_SHORT);
			ok = false;
			break;
		}
		n--;
		if (n && line[n - 1] == '\r')
			n--;
		size_t i = 0;
		while (i < n && is_blank(line[i]))
			i++;
		if (i == n || line[i] == '#')
			continue;
		if (memchr(line + i, 0, n - i)) {
			snprintf(msg, msg_size, "NUL byte in the line (write it as \\x00)");
			ok = false;
			break;
		}
		char *eq = memchr(line + i, '=', n - i);
		if (!eq) {
			snprintf(msg, msg_size, "expected key=value (key= deletes the key)");
			ok = false;
			break;
		}
		size_t kend = (size_t)(eq - line);
		while (kend > i && is_blank(line[kend - 1]))
			kend--;
		if (kend == i) {
			snprintf(msg, msg_size, "empty key before '='");
			ok = false;
			break;
		}
		struct op *op = opset_add(s);
		if (!op) {
			snprintf(msg, msg_size, "out of memory");
			ok = false;
			break;
		}
		op->line = lineno;
		if (!unescape(line + i, kend - i, &op->key)) {
			snprintf(msg, msg_size, "bad escape in the key (use \\\\ or \\xHH)");
			ok = false;
			break;
		}
		const char *v = eq + 1;
		size_t vn = n - (size_t)(v - line);
		if (vn == 0) {
			op->del = true;
			bytes_push(&op->val, "", 0);
		} else if (vn == 2 && v[0] == '"' && v[1] == '"') {
			bytes_push(&op->val, "", 0);
		} else if (!unescape(v, vn, &op->val)) {
			snprintf(msg, msg_size, "bad escape in the value (use \\\\ or \\xHH)");
			ok = false;
			break;
		}
	}
	int r = ok ? read_end(in, errno, msg, msg_size) : -EINVAL;
	free(line);
	if (r < 0) {
		*bad_line = lineno;
		opset_truncate(s, start);
	}
	return r;
}

/* ---- JSON ------------------------------------------------------------------ */

struct jin {
	FILE *in;
	int c;
	int line;
};

static void jnext(struct jin *j)
{
	if (j->c == '\n')
		j->line++;
	j->c = getc(j->in);
}

static void jspace(struct jin *j)
{
	while (j->c == ' ' || j->c == '\t' || j->c == '\n' || j->c == '\r')
		jnext(j);
}

static void put_utf8(struct bytes *b, uint32_t cp)
{
	uint8_t u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (uint8_t)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (uint8_t)(0xc0 | cp >> 6);
		u[1] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (uint8_t)(0xe0 | cp >> 12);
		u[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (uint8_t)(0xf0 | cp >> 18);
		u[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 4;
	}
	bytes_push(b, u, n);
}

static bool jhex4(struct jin *j, uint32_t *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		jnext(j);
		int h = hexval(j->c);
		if (h < 0)
			return false;
		*v = *v << 4 | (uint32_t)h;
	}
	return true;
}

/* A JSON string: \u0000..\u00ff are single bytes (what export writes), other
 * escapes and literal characters are their UTF-8 bytes. */
static bool jstring(struct jin *j, struct bytes *out)
{
	out->n = 0;
	bytes_push(out, "", 0);
	if (j->c != '"')
		return false;
	for (;;) {
		jnext(j);
		if (j->c == EOF || j->c == '\n')
			return false;
		if (j->c == '"') {
			jnext(j);
			return true;
		}
		uint8_t c = (uint8_t)j->c;
		if (c != '\\') {
			bytes_push(out, &c, 1);
			continue;
		}
		jnext(j);
		uint32_t v;
		switch (j->c) {
		case '"': case '\\': case '/': c = (uint8_t)j->c; break;
		case 'b': c = '\b'; break;
		case 'f': c = '\f'; break;
		case 'n': c = '\n'; break;
		case 'r': c = '\r'; break;
		case 't': c = '\t'; break;
		case 'u':
			if (!jhex4(j, &v))
				return false;
			if (v <= 0xff) {
				c = (uint8_t)v;
				break;
			}
			if (v >= 0xd800 && v < 0xdc00) {
				uint32_t lo;
				jnext(j);
				if (j->c != '\\')
					return false;
				jnext(j);
				if (j->c != 'u' || !jhex4(j, &lo) || lo < 0xdc00 || lo >= 0xe000)
					return false;
				v = 0x10000 + ((v - 0xd800) << 10) + (lo - 0xdc00);
			}
			put_utf8(out, v);
			continue;
		default:
			return false;
		}
		bytes_push(out, &c, 1);
	}
}

/* One "key": "value" or "key": null member into s: NULL, or what is wrong. */
static const char *json_member(struct jin *j, struct opset *s)
{
	struct op *op = opset_add(s);
	if (!op)
		return "out of memory";
	op->line = j->line;
	if (!jstring(j, &op->key))
		return "expected a key string";
	jspace(j);
	if (j->c != ':')
		return "expected ':'";
	jnext(j);
	jspace(j);
	if (j->c != 'n')
		return jstring(j, &op->val) ? NULL : "expected a value string or null";
	for (const char *lit = "null"; *lit; lit++, jnext(j))
		if (j->c != *lit)
			return "expected a string or null";
	op->del = true;
	bytes_push(&op->val, "", 0);
	return NULL;
}

/* A whole JSON object of members: NULL, or what is wrong. */
static const char *json_object(struct jin *j, struct opset *s)
{
	jnext(j);
	jspace(j);
	if (j->c != '{')
		return "expected a JSON object '{'";
	jnext(j);
	jspace(j);
	bool more = j->c != '}';
	if (!more)
		jnext(j);
	while (more) {
		const char *why = json_member(j, s);
		if (why)
			return why;
		jspace(j);
		more = j->c == ',';
		if (!more && j->c != '}')
			return "expected ',' or '}'";
		jnext(j); /* the ',' or the closing '}' */
		jspace(j);
	}
	return j->c == EOF ? NULL : "unexpected text after the JSON object";
}

int parse_json(FILE *in, struct opset *s, int *bad_line, char *msg, size_t msg_size)
{
	struct jin j = {.in = in, .line = 1};
	size_t start = s->n;
	errno = 0;
	const char *why = json_object(&j, s);
	/* a read error ends the input like EOF: it comes first */
	int r = read_end(in, errno, msg, msg_size);
	if (!r && why) {
		snprintf(msg, msg_size, "%s", why);
		r = -EINVAL;
	}
	if (r < 0) {
		*bad_line = j.line;
		opset_truncate(s, start);
	}
	return r;
}
