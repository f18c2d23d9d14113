/*
 * json.h - a small strict JSON parser and writer helpers, for safetensors headers and the
 * metadata values that hold JSON (class names).
 *
 * Strict means RFC 8259 and nothing more: no comments, no trailing commas, no leading zeros,
 * valid UTF-8, escapes checked (\uXXXX with surrogate pairs becomes UTF-8); and, as our
 * inputs need, no duplicate object keys, no "\u0000" (strings are C strings) and a nesting limit.
 */
#ifndef MLP_JSON_H
#define MLP_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MLP_JSON_MAX_DEPTH 64

typedef enum MlpJsonType
{
	MLP_JSON_NULL,
	MLP_JSON_BOOL,
	MLP_JSON_NUMBER,
	MLP_JSON_STRING,
	MLP_JSON_ARRAY,
	MLP_JSON_OBJECT
} MlpJsonType;

typedef struct MlpJsonValue
{
	MlpJsonType type;
	size_t		offset;			/* byte offset of the value in the text, for messages */
	bool		boolean;
	double		number;
	bool		is_integer;		/* written without fraction or exponent and fits int64 */
	int64_t		integer;
	char	   *string;			/* MLP_JSON_STRING: malloc'd, NUL-terminated UTF-8 */
	int			count;			/* elements of an array, members of an object */
	char	  **keys;			/* MLP_JSON_OBJECT: member names, in text order */
	struct MlpJsonValue *items; /* array elements or member values */
} MlpJsonValue;

/* Parses text[0..len) (trailing whitespace allowed).  0, or -1 with the byte offset in err. */
int			mlp_json_parse(const char *text, size_t len, MlpJsonValue *out,
						   char *err, size_t errlen);
void		mlp_json_free(MlpJsonValue *v);

/* Member of an object by name, or NULL. */
const MlpJsonValue *mlp_json_get(const MlpJsonValue *obj, const char *key);

const char *mlp_json_type_name(MlpJsonType t);

/* A growing string; after an allocation failure it stays failed and appends do nothing. */
typedef struct MlpStrBuf
{
	char	   *data;
	size_t		len;
	size_t		cap;
	bool		failed;
} MlpStrBuf;

void		mlp_strbuf_init(MlpStrBuf *b);
void		mlp_strbuf_append(MlpStrBuf *b, const char *s, size_t n);
void		mlp_strbuf_puts(MlpStrBuf *b, const char *s);
void		mlp_strbuf_printf(MlpStrBuf *b, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));
void		mlp_strbuf_free(MlpStrBuf *b);

/* Appends s as a quoted JSON string, escaping what JSON requires. */
void		mlp_json_append_string(MlpStrBuf *b, const char *s);

#endif
