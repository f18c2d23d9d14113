/*
 * json.c - strict recursive-descent JSON parser (see json.h) and string-building helpers.
 */
#include "json.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct JsonParser
{
	const unsigned char *text;
	size_t		len;
	size_t		pos;
	int			depth;
	char	   *err;
	size_t		errlen;
} JsonParser;

static int	parse_value(JsonParser *ps, MlpJsonValue *v);

__attribute__((format(printf, 2, 3)))
static int
fail(JsonParser *ps, const char *fmt,...)
{
	char		msg[200];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ps->err && ps->errlen > 0)
		snprintf(ps->err, ps->errlen, "invalid JSON at byte %zu: %s", ps->pos, msg);
	return -1;
}

static int
fail_oom(JsonParser *ps)
{
	if (ps->err && ps->errlen > 0)
		snprintf(ps->err, ps->errlen, "out of memory parsing JSON");
	return -1;
}

const char *
mlp_json_type_name(MlpJsonType t)
{
	switch (t)
	{
		case MLP_JSON_NULL:
			return "null";
		case MLP_JSON_BOOL:
			return "boolean";
		case MLP_JSON_NUMBER:
			return "number";
		case MLP_JSON_STRING:
			return "string";
		case MLP_JSON_ARRAY:
			return "array";
		case MLP_JSON_OBJECT:
			return "object";
	}
	return "?";
}

static void
skip_ws(JsonParser *ps)
{
	while (ps->pos < ps->len)
	{
		unsigned char c = ps->text[ps->pos];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		ps->pos++;
	}
}

static const char *
describe_char(JsonParser *ps, char *buf, size_t n)
{
	if (ps->pos >= ps->len)
		return "end of input";
	unsigned char c = ps->text[ps->pos];

	if (c >= 0x20 && c < 0x7f)
		snprintf(buf, n, "'%c'", c);
	else
		snprintf(buf, n, "byte 0x%02x", c);
	return buf;
}

static bool
literal(JsonParser *ps, const char *word)
{
	size_t		n = strlen(word);

	if (ps->len - ps->pos >= n && memcmp(ps->text + ps->pos, word, n) == 0)
	{
		ps->pos += n;
		return true;
	}
	return false;
}

/* ---- strings ------------------------------------------------------------------------- */

typedef struct ByteBuf
{
	char	   *data;
	size_t		len,
				cap;
} ByteBuf;

static bool
bytebuf_put(ByteBuf *b, const void *src, size_t n)
{
	if (b->len + n + 1 > b->cap)
	{
		size_t		cap = b->cap ? b->cap : 32;
		char	   *p;

		while (b->len + n + 1 > cap)
			cap *= 2;
		p = realloc(b->data, cap);
		if (!p)
			return false;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, src, n);
	b->len += n;
	b->data[b->len] = '\0';
	return true;
}

static int
hex4(JsonParser *ps, unsigned *out)
{
	unsigned	v = 0;

	if (ps->len - ps->pos < 4)
		return fail(ps, "truncated \\u escape");
	for (int i = 0; i < 4; i++)
	{
		unsigned char c = ps->text[ps->pos + i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return fail(ps, "bad hex digit in \\u escape");
	}
	ps->pos += 4;
	*out = v;
	return 0;
}

static size_t
utf8_encode(unsigned cp, unsigned char *o)
{
	if (cp < 0x80)
	{
		o[0] = (unsigned char) cp;
		return 1;
	}
	if (cp < 0x800)
	{
		o[0] = (unsigned char) (0xC0 | (cp >> 6));
		o[1] = (unsigned char) (0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000)
	{
		o[0] = (unsigned char) (0xE0 | (cp >> 12));
		o[1] = (unsigned char) (0x80 | ((cp >> 6) & 0x3F));
		o[2] = (unsigned char) (0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (unsigned char) (0xF0 | (cp >> 18));
	o[1] = (unsigned char) (0x80 | ((cp >> 12) & 0x3F));
	o[2] = (unsigned char) (0x80 | ((cp >> 6) & 0x3F));
	o[3] = (unsigned char) (0x80 | (cp & 0x3F));
	return 4;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 when invalid. */
static size_t
utf8_valid_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t		len;
	unsigned char lo = 0x80,
				hi = 0xBF;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c >= 0xE0 && c <= 0xEF)
	{
		len = 3;
		if (c == 0xE0)
			lo = 0xA0;			/* overlong */
		else if (c == 0xED)
			hi = 0x9F;			/* surrogates */
	}
	else if (c >= 0xF0 && c <= 0xF4)
	{
		len = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;			/* above U+10FFFF */
	}
	else
		return 0;
	if (n < len)
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return len;
}

/*
 * The code point of a \u escape whose "\u" was consumed, with the low half of a surrogate
 * pair, into UTF-8 at enc (*n bytes).
 */
static int
parse_unicode_escape(JsonParser *ps, unsigned char *enc, size_t *n)
{
	unsigned	cp,
				lo;

	if (hex4(ps, &cp) < 0)
		return -1;
	if (cp >= 0xDC00 && cp <= 0xDFFF)
		return fail(ps, "lone low surrogate \\u%04X", cp);
	if (cp >= 0xD800 && cp <= 0xDBFF)
	{
		if (ps->len - ps->pos < 2 || ps->text[ps->pos] != '\\' ||
			ps->text[ps->pos + 1] != 'u')
			return fail(ps, "high surrogate \\u%04X without its pair", cp);
		ps->pos += 2;
		if (hex4(ps, &lo) < 0)
			return -1;
		if (lo < 0xDC00 || lo > 0xDFFF)
			return fail(ps, "high surrogate \\u%04X followed by \\u%04X", cp, lo);
		cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
	}
	if (cp == 0)
		return fail(ps, "\\u0000 is not allowed in strings");
	*n = utf8_encode(cp, enc);
	return 0;
}

/* The escape at ps->pos (a backslash) into the bytes enc (*n of them); consumes it. */
static int
parse_escape(JsonParser *ps, unsigned char *enc, size_t *n)
{
	unsigned char e;

	if (ps->pos + 1 >= ps->len)
		return fail(ps, "unterminated string");
	e = ps->text[ps->pos + 1];
	ps->pos += 2;
	*n = 1;
	switch (e)
	{
		case '"':
		case '\\':
		case '/':
			enc[0] = e;
			return 0;
		case 'b':
			enc[0] = '\b';
			return 0;
		case 'f':
			enc[0] = '\f';
			return 0;
		case 'n':
			enc[0] = '\n';
			return 0;
		case 'r':
			enc[0] = '\r';
			return 0;
		case 't':
			enc[0] = '\t';
			return 0;
		case 'u':
			return parse_unicode_escape(ps, enc, n);
		default:
			ps->pos--;
			return fail(ps, "bad escape \\%c", e >= 0x20 && e < 0x7f ? e : '?');
	}
}

/* Consumes the run of plain bytes at ps->pos (up to a quote, backslash or control byte). */
static int
skip_plain_run(JsonParser *ps)
{
	while (ps->pos < ps->len)
	{
		unsigned char d = ps->text[ps->pos];
		size_t		n;

		if (d == '"' || d == '\\' || d < 0x20)
			break;
		n = utf8_valid_len(ps->text + ps->pos, ps->len - ps->pos);
		if (n == 0)
			return fail(ps, "invalid UTF-8 in string");
		ps->pos += n;
	}
	return 0;
}

static int
parse_string_raw(JsonParser *ps, char **out)
{
	ByteBuf		b = {NULL, 0, 0};
	int			rc = -1;

	/* caller checked the opening quote */
	ps->pos++;
	if (!bytebuf_put(&b, "", 0))
		return fail_oom(ps);
	for (;;)
	{
		unsigned char c;

		if (ps->pos >= ps->len)
		{
			fail(ps, "unterminated string");
			break;
		}
		c = ps->text[ps->pos];
		if (c == '"')
		{
			ps->pos++;
			rc = 0;
			break;
		}
		if (c < 0x20)
		{
			fail(ps, "control character 0x%02x in string", c);
			break;
		}
		if (c == '\\')
		{
			unsigned char enc[4];
			size_t		n;

			if (parse_escape(ps, enc, &n) < 0)
				break;
			if (!bytebuf_put(&b, enc, n))
			{
				fail_oom(ps);
				break;
			}
		}
		else
		{
			size_t		start = ps->pos;

			if (skip_plain_run(ps) < 0)
				break;
			if (!bytebuf_put(&b, ps->text + start, ps->pos - start))
			{
				fail_oom(ps);
				break;
			}
		}
	}
	if (rc != 0)
	{
		free(b.data);
		return -1;
	}
	*out = b.data;
	return 0;
}

/* ---- numbers ------------------------------------------------------------------------- */

static int
parse_number(JsonParser *ps, MlpJsonValue *v)
{
	size_t		start = ps->pos;
	bool		integral = true;
	char		buf[64];
	size_t		n;

	if (ps->pos < ps->len && ps->text[ps->pos] == '-')
		ps->pos++;
	if (ps->pos >= ps->len)
		return fail(ps, "truncated number");
	if (ps->text[ps->pos] == '0')
		ps->pos++;
	else if (ps->text[ps->pos] >= '1' && ps->text[ps->pos] <= '9')
	{
		while (ps->pos < ps->len && ps->text[ps->pos] >= '0' && ps->text[ps->pos] <= '9')
			ps->pos++;
	}
	else
		return fail(ps, "bad number");
	if (ps->pos < ps->len && ps->text[ps->pos] == '.')
	{
		integral = false;
		ps->pos++;
		if (ps->pos >= ps->len || ps->text[ps->pos] < '0' || ps->text[ps->pos] > '9')
			return fail(ps, "digit expected after the decimal point");
		while (ps->pos < ps->len && ps->text[ps->pos] >= '0' && ps->text[ps->pos] <= '9')
			ps->pos++;
	}
	if (ps->pos < ps->len && (ps->text[ps->pos] == 'e' || ps->text[ps->pos] == 'E'))
	{
		integral = false;
		ps->pos++;
		if (ps->pos < ps->len && (ps->text[ps->pos] == '+' || ps->text[ps->pos] == '-'))
			ps->pos++;
		if (ps->pos >= ps->len || ps->text[ps->pos] < '0' || ps->text[ps->pos] > '9')
			return fail(ps, "digit expected in the exponent");
		while (ps->pos < ps->len && ps->text[ps->pos] >= '0' && ps->text[ps->pos] <= '9')
			ps->pos++;
	}
	n = ps->pos - start;
	if (n >= sizeof(buf))
	{
		/* long numbers only lose precision; strtod needs them NUL-terminated */
		char	   *tmp = malloc(n + 1);

		if (!tmp)
			return fail_oom(ps);
		memcpy(tmp, ps->text + start, n);
		tmp[n] = '\0';
		v->number = strtod(tmp, NULL);
		free(tmp);
	}
	else
	{
		memcpy(buf, ps->text + start, n);
		buf[n] = '\0';
		v->number = strtod(buf, NULL);
	}
	v->type = MLP_JSON_NUMBER;
	v->is_integer = false;
	if (integral)
	{
		/* exact int64, digit by digit, so offsets beyond 2^53 stay exact */
		const unsigned char *p = ps->text + start;
		bool		neg = *p == '-';
		uint64_t	mag = 0;
		bool		overflow = false;

		if (neg)
			p++;
		for (; p < ps->text + ps->pos; p++)
		{
			unsigned	d = *p - '0';

			if (mag > (UINT64_MAX - d) / 10)
			{
				overflow = true;
				break;
			}
			mag = mag * 10 + d;
		}
		if (!overflow && (neg ? mag <= (uint64_t) INT64_MAX + 1 : mag <= (uint64_t) INT64_MAX))
		{
			v->is_integer = true;
			v->integer = neg ? (int64_t) (0 - mag) : (int64_t) mag;
		}
	}
	return 0;
}

/* ---- containers ---------------------------------------------------------------------- */

static int
grow_items(JsonParser *ps, MlpJsonValue *v, int *cap, bool with_keys)
{
	if (v->count < *cap)
		return 0;
	int			ncap = *cap ? *cap * 2 : 8;
	MlpJsonValue *items;

	if (ncap > (1 << 28))
		return fail(ps, "too many elements");
	items = realloc(v->items, (size_t) ncap * sizeof(MlpJsonValue));
	if (!items)
		return fail_oom(ps);
	v->items = items;
	if (with_keys)
	{
		char	  **keys = realloc(v->keys, (size_t) ncap * sizeof(char *));

		if (!keys)
			return fail_oom(ps);
		v->keys = keys;
	}
	*cap = ncap;
	return 0;
}

static int
compare_key_ptrs(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static int
check_duplicate_keys(JsonParser *ps, const MlpJsonValue *v)
{
	char	  **sorted;

	if (v->count < 2)
		return 0;
	sorted = malloc((size_t) v->count * sizeof(char *));
	if (!sorted)
		return fail_oom(ps);
	memcpy(sorted, v->keys, (size_t) v->count * sizeof(char *));
	qsort(sorted, (size_t) v->count, sizeof(char *), compare_key_ptrs);
	for (int i = 1; i < v->count; i++)
		if (strcmp(sorted[i - 1], sorted[i]) == 0)
		{
			char		name[80];

			snprintf(name, sizeof(name), "%s", sorted[i]);
			free(sorted);
			if (ps->err && ps->errlen > 0)
				snprintf(ps->err, ps->errlen, "invalid JSON: duplicate key \"%s\" in the object at byte %zu",
						 name, v->offset);
			return -1;
		}
	free(sorted);
	return 0;
}

/*
 * An array or an object: values (each after "name": in an object) separated by ',' up to the
 * closing bracket.  Each slot is zeroed and counted before its value is parsed, so that
 * freeing a half-parsed container frees what it holds.
 */
static int
parse_container(JsonParser *ps, MlpJsonValue *v, bool object)
{
	char		close = object ? '}' : ']';
	int			cap = 0;

	v->type = object ? MLP_JSON_OBJECT : MLP_JSON_ARRAY;
	ps->pos++;
	skip_ws(ps);
	if (ps->pos < ps->len && ps->text[ps->pos] == close)
	{
		ps->pos++;
		return 0;
	}
	for (;;)
	{
		char		cbuf[16];

		if (grow_items(ps, v, &cap, object) < 0)
			return -1;
		skip_ws(ps);
		if (object && (ps->pos >= ps->len || ps->text[ps->pos] != '"'))
			return fail(ps, "member name expected, found %s", describe_char(ps, cbuf, sizeof(cbuf)));
		memset(&v->items[v->count], 0, sizeof(MlpJsonValue));
		if (object && parse_string_raw(ps, &v->keys[v->count]) < 0)
			return -1;
		v->count++;
		if (object)
		{
			skip_ws(ps);
			if (ps->pos >= ps->len || ps->text[ps->pos] != ':')
				return fail(ps, "':' expected, found %s", describe_char(ps, cbuf, sizeof(cbuf)));
			ps->pos++;
			skip_ws(ps);
		}
		if (parse_value(ps, &v->items[v->count - 1]) < 0)
			return -1;
		skip_ws(ps);
		if (ps->pos < ps->len && ps->text[ps->pos] == ',')
		{
			ps->pos++;
			continue;
		}
		if (ps->pos < ps->len && ps->text[ps->pos] == close)
		{
			ps->pos++;
			return object ? check_duplicate_keys(ps, v) : 0;
		}
		return fail(ps, "',' or '%c' expected, found %s", close,
					describe_char(ps, cbuf, sizeof(cbuf)));
	}
}

static int
parse_value(JsonParser *ps, MlpJsonValue *v)
{
	char		cbuf[16];
	int			rc;

	memset(v, 0, sizeof(*v));
	v->offset = ps->pos;
	if (ps->pos >= ps->len)
		return fail(ps, "value expected, found end of input");
	switch (ps->text[ps->pos])
	{
		case '{':
		case '[':
			if (++ps->depth > MLP_JSON_MAX_DEPTH)
				return fail(ps, "nesting deeper than %d", MLP_JSON_MAX_DEPTH);
			rc = parse_container(ps, v, ps->text[ps->pos] == '{');
			ps->depth--;
			return rc;
		case '"':
			v->type = MLP_JSON_STRING;
			return parse_string_raw(ps, &v->string);
		case 't':
			if (!literal(ps, "true"))
				break;
			v->type = MLP_JSON_BOOL;
			v->boolean = true;
			return 0;
		case 'f':
			if (!literal(ps, "false"))
				break;
			v->type = MLP_JSON_BOOL;
			return 0;
		case 'n':
			if (!literal(ps, "null"))
				break;
			v->type = MLP_JSON_NULL;
			return 0;
		default:
			if (ps->text[ps->pos] == '-' || (ps->text[ps->pos] >= '0' && ps->text[ps->pos] <= '9'))
				return parse_number(ps, v);
			break;
	}
	return fail(ps, "value expected, found %s", describe_char(ps, cbuf, sizeof(cbuf)));
}

int
mlp_json_parse(const char *text, size_t len, MlpJsonValue *out, char *err, size_t errlen)
{
	JsonParser	ps = {(const unsigned char *) text, len, 0, 0, err, errlen};
	char		cbuf[16];

	skip_ws(&ps);
	if (parse_value(&ps, out) < 0)
	{
		mlp_json_free(out);
		return -1;
	}
	skip_ws(&ps);
	if (ps.pos != ps.len)
	{
		fail(&ps, "unexpected %s after the value", describe_char(&ps, cbuf, sizeof(cbuf)));
		mlp_json_free(out);
		return -1;
	}
	return 0;
}

void
mlp_json_free(MlpJsonValue *v)
{
	if (!v)
		return;
	free(v->string);
	if (v->items)
		for (int i = 0; i < v->count; i++)
			mlp_json_free(&v->items[i]);
	if (v->keys)
		for (int i = 0; i < v->count; i++)
			free(v->keys[i]);
	free(v->items);
	free(v->keys);
	memset(v, 0, sizeof(*v));
}

const MlpJsonValue *
mlp_json_get(const MlpJsonValue *obj, const char *key)
{
	if (!obj || obj->type != MLP_JSON_OBJECT)
		return NULL;
	for (int i = 0; i < obj->count; i++)
		if (strcmp(obj->keys[i], key) == 0)
			return &obj->items[i];
	return NULL;
}

/* ---- writing ------------------------------------------------------------------------- */

void
mlp_strbuf_init(MlpStrBuf *b)
{
	memset(b, 0, sizeof(*b));
}

void
mlp_strbuf_append(MlpStrBuf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap)
	{
		size_t		cap = b->cap ? b->cap : 256;
		char	   *p;

		while (b->len + n + 1 > cap)
			cap *= 2;
		p = realloc(b->data, cap);
		if (!p)
		{
			b->failed = true;
			return;
		}
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
mlp_strbuf_puts(MlpStrBuf *b, const char *s)
{
	mlp_strbuf_append(b, s, strlen(s));
}

void
mlp_strbuf_printf(MlpStrBuf *b, const char *fmt,...)
{
	char		small[256];
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
	{
		b->failed = true;
		return;
	}
	if ((size_t) n < sizeof(small))
	{
		mlp_strbuf_append(b, small, (size_t) n);
		return;
	}
	{
		char	   *big = malloc((size_t) n + 1);

		if (!big)
		{
			b->failed = true;
			return;
		}
		va_start(ap, fmt);
		vsnprintf(big, (size_t) n + 1, fmt, ap);
		va_end(ap);
		mlp_strbuf_append(b, big, (size_t) n);
		free(big);
	}
}

void
mlp_strbuf_free(MlpStrBuf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

void
mlp_json_append_string(MlpStrBuf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *) s;

	mlp_strbuf_append(b, "\"", 1);
	while (*p)
	{
		const unsigned char *run = p;

		while (*p && *p != '"' && *p != '\\' && *p >= 0x20)
			p++;
		mlp_strbuf_append(b, (const char *) run, (size_t) (p - run));
		if (!*p)
			break;
		switch (*p)
		{
			case '"':
				mlp_strbuf_puts(b, "\\\"");
				break;
			case '\\':
				mlp_strbuf_puts(b, "\\\\");
				break;
			case '\n':
				mlp_strbuf_puts(b, "\\n");
				break;
			case '\r':
				mlp_strbuf_puts(b, "\\r");
				break;
			case '\t':
				mlp_strbuf_puts(b, "\\t");
				break;
			default:
				mlp_strbuf_printf(b, "\\u%04x", *p);
				break;
		}
		p++;
	}
	mlp_strbuf_append(b, "\"", 1);
}
