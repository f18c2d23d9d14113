/*
 * fuzz_json.c - mlp_json_parse on any bytes (NULs included).  A document it accepts is
 * written back as JSON and must parse again to the same tree; every object member must be
 * found by mlp_json_get under its own name.
 */
#include <math.h>

#include "fuzz.h"
#include "json.h"

static void
write_value(MlpStrBuf *b, const MlpJsonValue *v)
{
	switch (v->type)
	{
		case MLP_JSON_NULL:
			mlp_strbuf_puts(b, "null");
			break;
		case MLP_JSON_BOOL:
			mlp_strbuf_puts(b, v->boolean ? "true" : "false");
			break;
		case MLP_JSON_NUMBER:
			if (v->is_integer)
				mlp_strbuf_printf(b, "%lld", (long long) v->integer);
			else if (isinf(v->number))	/* an exponent past the double range */
				mlp_strbuf_puts(b, v->number > 0 ? "1e999" : "-1e999");
			else
			{
				/* %.17g is exact; keep it a fraction or exponent, as it was written */
				char		text[40];

				snprintf(text, sizeof(text), "%.17g", v->number);
				mlp_strbuf_puts(b, text);
				if (!strpbrk(text, ".eE"))
					mlp_strbuf_puts(b, ".0");
			}
			break;
		case MLP_JSON_STRING:
			mlp_json_append_string(b, v->string);
			break;
		case MLP_JSON_ARRAY:
		case MLP_JSON_OBJECT:
			mlp_strbuf_puts(b, v->type == MLP_JSON_ARRAY ? "[" : "{");
			for (int i = 0; i < v->count; i++)
			{
				if (i > 0)
					mlp_strbuf_puts(b, ",");
				if (v->type == MLP_JSON_OBJECT)
				{
					mlp_json_append_string(b, v->keys[i]);
					mlp_strbuf_puts(b, ":");
				}
				write_value(b, &v->items[i]);
			}
			mlp_strbuf_puts(b, v->type == MLP_JSON_ARRAY ? "]" : "}");
			break;
	}
}

static void
check_same(const MlpJsonValue *a, const MlpJsonValue *b)
{
	FUZZ_CHECK(a->type == b->type);
	switch (a->type)
	{
		case MLP_JSON_NULL:
			break;
		case MLP_JSON_BOOL:
			FUZZ_CHECK(a->boolean == b->boolean);
			break;
		case MLP_JSON_NUMBER:
			FUZZ_CHECK(a->is_integer == b->is_integer);
			if (a->is_integer)
				FUZZ_CHECK(a->integer == b->integer);
			FUZZ_CHECK(a->number == b->number || (isnan(a->number) && isnan(b->number)));
			break;
		case MLP_JSON_STRING:
			FUZZ_CHECK(strcmp(a->string, b->string) == 0);
			break;
		case MLP_JSON_ARRAY:
		case MLP_JSON_OBJECT:
			FUZZ_CHECK(a->count == b->count);
			for (int i = 0; i < a->count; i++)
			{
				if (a->type == MLP_JSON_OBJECT)
				{
					FUZZ_CHECK(strcmp(a->keys[i], b->keys[i]) == 0);
					FUZZ_CHECK(mlp_json_get(a, a->keys[i]) == &a->items[i]);
				}
				check_same(&a->items[i], &b->items[i]);
			}
			break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	MlpJsonValue v,
				again;
	MlpStrBuf	b;
	char		err[256];

	err[0] = '\0';
	if (mlp_json_parse((const char *) data, size, &v, err, sizeof(err)) != 0)
	{
		FUZZ_CHECK(err[0] != '\0');
		return 0;
	}
	FUZZ_CHECK(mlp_json_type_name(v.type) != NULL);
	mlp_strbuf_init(&b);
	write_value(&b, &v);
	FUZZ_CHECK(!b.failed);
	if (mlp_json_parse(b.data, b.len, &again, err, sizeof(err)) != 0)
	{
		fprintf(stderr, "written back: %.*s\nrefused: %s\n", (int) b.len, b.data, err);
		FUZZ_CHECK(!"the written-back document parses");
	}
	check_same(&v, &again);
	mlp_json_free(&again);
	mlp_strbuf_free(&b);
	mlp_json_free(&v);
	return 0;
}
