/* test_safetensors.c - writer/reader round trip, refusal of corrupt files, mutation fuzzing */
#include "json.h"
#include "rng.h"
#include "safetensors.h"
#include "tap.h"

/* A file from a header text and raw data bytes. */
static uint8_t *
make_file(const char *header, const void *data, size_t dlen, size_t *len)
{
	size_t		hlen = strlen(header);
	uint8_t    *buf = malloc(8 + hlen + dlen + 1);

	for (int i = 0; i < 8; i++)
		buf[i] = (uint8_t) ((uint64_t) hlen >> (8 * i));
	memcpy(buf + 8, header, hlen);
	if (dlen)
		memcpy(buf + 8 + hlen, data, dlen);
	*len = 8 + hlen + dlen;
	return buf;
}

static void
test_round_trip(void)
{
	float		a[6] = {1, -2, 3.5f, 1e-30f, -0.0f, 1e30f};
	float		b[3] = {0.25f, 0.5f, 0.75f};
	float		s[1] = {42};
	int64_t		sa[2] = {2, 3},
				sb[1] = {3},
				se[2] = {0, 5};
	StWriter   *w = st_writer_create();
	uint8_t    *buf;
	size_t		len;
	StFile		f;
	char		err[256] = "";
	uint64_t	hlen = 0;

	ok(st_writer_add(w, "layer.weight", a, 2, sa) == 0, "add a 2-d tensor");
	ok(st_writer_add(w, "layer.bias", b, 1, sb) == 0, "add a 1-d tensor");
	ok(st_writer_add(w, "scalar", s, 0, NULL) == 0, "add a 0-d tensor");
	ok(st_writer_add(w, "empty", NULL, 2, se) == 0, "add an empty tensor");
	ok(st_writer_add(w, "layer.bias", b, 1, sb) == -1, "adding a duplicate name fails");
	ok(st_writer_meta(w, "format", "mlpscale") == 0, "add metadata");
	ok(st_writer_meta(w, "note", "quote \" backslash \\ newline \n caf\xc3\xa9 \x01") == 0,
	   "add metadata needing escapes");
	ok(st_writer_meta(w, "format", "x") == -1, "duplicate metadata key fails");
	ok(st_writer_finish(w, &buf, &len) == 0, "finish");

	for (int i = 7; i >= 0; i--)
		hlen = (hlen << 8) | buf[i];
	is_int(hlen % 8, 0, "header length is a multiple of 8");
	is_int(len, 8 + hlen + sizeof(a) + sizeof(b) + sizeof(s), "file length");
	ok(buf[8 + hlen - 1] == '}' || buf[8 + hlen - 1] == ' ', "header padded with spaces");

	if (!ok(st_parse(buf, len, &f, err, sizeof(err)) == 0, "parse the written file"))
		diag("%s", err);
	is_int(f.num_tensors, 4, "four tensors");
	ok(f.num_tensors == 4 && strcmp(f.tensors[0].name, "layer.weight") == 0 &&
	   strcmp(f.tensors[1].name, "layer.bias") == 0 && strcmp(f.tensors[2].name, "scalar") == 0,
	   "tensors in added order");

	const StTensor *t = st_find(&f, "layer.weight");

	ok(t && t->dtype == ST_F32 && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3 &&
	   t->numel == 6 && t->nbytes == 24, "shape and dtype of layer.weight");
	ok(t && memcmp(t->data, a, sizeof(a)) == 0, "bytes of layer.weight");
	ok(t && t->data == buf + 8 + hlen, "first tensor at data offset 0");
	t = st_find(&f, "layer.bias");
	ok(t && t->data == buf + 8 + hlen + 24, "second tensor follows the first");
	float		conv[6];

	ok(t && st_tensor_to_f32(t, conv, err, sizeof(err)) == 0 && memcmp(conv, b, sizeof(b)) == 0,
	   "to_f32 of F32 is exact");
	t = st_find(&f, "scalar");
	ok(t && t->ndim == 0 && t->numel == 1 && *(const float *) t->data == 42.0f, "0-d tensor");
	t = st_find(&f, "empty");
	ok(t && t->numel == 0 && t->nbytes == 0, "empty tensor");
	ok(st_find(&f, "missing") == NULL, "st_find of an absent name is NULL");
	ok(st_meta(&f, "format") && strcmp(st_meta(&f, "format"), "mlpscale") == 0, "metadata");
	ok(st_meta(&f, "note") &&
	   strcmp(st_meta(&f, "note"), "quote \" backslash \\ newline \n caf\xc3\xa9 \x01") == 0,
	   "escaped metadata round-trips");
	ok(st_meta(&f, "absent") == NULL, "absent metadata is NULL");
	st_free(&f);
	free(buf);

	/* an empty writer makes a valid empty file; abort frees */
	w = st_writer_create();
	ok(st_writer_finish(w, &buf, &len) == 0 && st_parse(buf, len, &f, err, sizeof(err)) == 0 &&
	   f.num_tensors == 0 && f.num_meta == 0, "empty file round-trips");
	st_free(&f);
	free(buf);
	w = st_writer_create();
	st_writer_add(w, "x", a, 1, sb);
	st_writer_abort(w);
}

static void
test_escapes_and_dtypes(void)
{
	/* \u escapes (with a surrogate pair) become UTF-8; F16, BF16 and F64 convert */
	const char *header =
		"{\"__metadata__\":{\"k\":\"caf\\u00e9 \\ud83d\\ude00 \\/ \\t\"},"
		"\"h\":{\"dtype\":\"F16\",\"shape\":[5],\"data_offsets\":[0,10]},"
		"\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[10,14]},"
		"\"d\":{\"dtype\":\"F64\",\"shape\":[1,1],\"data_offsets\":[14,22]}}  ";
	uint8_t		data[22] = {0};
	uint16_t	h[5] = {0x3C00, 0xC100, 0x7BFF, 0x0001, 0x8000};	/* 1, -2.5, 65504, 2^-24, -0 */
	uint16_t	bf[2] = {0x3F80, 0x4040};	/* 1, 3 */
	double		d = 0.1;
	size_t		len;
	uint8_t    *buf;
	StFile		f;
	char		err[256] = "";
	float		out[5];

	memcpy(data, h, 10);
	memcpy(data + 10, bf, 4);
	memcpy(data + 14, &d, 8);
	buf = make_file(header, data, sizeof(data), &len);
	if (!ok(st_parse(buf, len, &f, err, sizeof(err)) == 0, "parse F16/BF16/F64 file"))
	{
		diag("%s", err);
		free(buf);
		return;
	}
	ok(strcmp(st_meta(&f, "k"), "caf\xc3\xa9 \xf0\x9f\x98\x80 / \t") == 0,
	   "\\u escapes and surrogate pairs decode to UTF-8");
	ok(st_tensor_to_f32(st_find(&f, "h"), out, err, sizeof(err)) == 0 && out[0] == 1.0f &&
	   out[1] == -2.5f && out[2] == 65504.0f && out[3] == ldexpf(1, -24) && out[4] == 0.0f &&
	   signbit(out[4]), "F16 to F32 (normal, max, subnormal, -0)");
	ok(st_tensor_to_f32(st_find(&f, "b"), out, err, sizeof(err)) == 0 && out[0] == 1.0f &&
	   out[1] == 3.0f, "BF16 to F32");
	ok(st_tensor_to_f32(st_find(&f, "d"), out, err, sizeof(err)) == 0 && out[0] == 0.1f,
	   "F64 to F32");
	st_free(&f);
	free(buf);
}

typedef struct CorruptCase
{
	const char *what;
	const char *header;			/* NULL: raw bytes below */
	size_t		dlen;			/* data bytes after the header (zeros) */
	const char *expect;			/* substring of the message */
} CorruptCase;

static void
expect_refused(const uint8_t *buf, size_t len, const char *what, const char *expect)
{
	StFile		f;
	char		err[512] = "";
	int			rc = st_parse(buf, len, &f, err, sizeof(err));

	if (!ok(rc == -1 && strstr(err, expect) != NULL, "refused: %s", what))
		diag("  rc %d, message \"%s\", expected \"%s\"", rc, err, expect);
	else
		diag("  %s", err);
	if (rc == 0)
		st_free(&f);
}

static void
test_corrupt(void)
{
	static const CorruptCase cases[] = {
		{"bad JSON", "{\"a\":", 0, "invalid JSON"},
		{"JSON array instead of object", "[1, 2]", 0, "does not start with a JSON object"},
		{"trailing garbage", "{} x", 0, "unexpected 'x'"},
		{"trailing comma", "{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},}", 4, "member name expected"},
		{"missing dtype", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "missing field \"dtype\""},
		{"missing shape", "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "missing field \"shape\""},
		{"missing data_offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "missing field \"data_offsets\""},
		{"unexpected field", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4, "unexpected field \"x\""},
		{"entry not an object", "{\"a\":[1]}", 0, "not an object"},
		{"bad dtype", "{\"a\":{\"dtype\":\"F8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "unsupported dtype \"F8\""},
		{"dtype not a string", "{\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "not a string"},
		{"offsets out of range", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8, "run past the 8 bytes"},
		{"offsets reversed", "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", 8, "end before they begin"},
		{"negative offset", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 8, "not a non-negative integer"},
		{"three offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8, "[begin, end]"},
		{"overlapping", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
		 "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "overlap"},
		{"hole between tensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
		 "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12, "belong to no tensor"},
		{"trailing bytes", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8, "trailing bytes"},
		{"shape/byte mismatch", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "needs 12 bytes"},
		{"negative dimension", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "shape dimension 0"},
		{"fractional dimension", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, "shape dimension 0"},
		{"too many dimensions", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, "9 dimensions"},
		{"element count overflow", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", 4, "too many elements"},
		{"huge offset", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,99999999999999999999]}}", 4, "not a non-negative integer"},
		{"duplicate names", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
		 "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "duplicate key \"a\""},
		{"non-string metadata", "{\"__metadata__\":{\"epochs\":10}}", 0, "metadata value \"epochs\" is a number"},
		{"metadata not an object", "{\"__metadata__\":\"x\"}", 0, "\"__metadata__\" is a JSON string"},
		{"invalid UTF-8 in a name", "{\"\xff\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "invalid UTF-8"},
		{"lone surrogate", "{\"__metadata__\":{\"k\":\"\\udc00\"}}", 0, "lone low surrogate"},
		{"unpaired high surrogate", "{\"__metadata__\":{\"k\":\"\\ud800x\"}}", 0, "without its pair"},
		{"NUL escape", "{\"__metadata__\":{\"k\":\"a\\u0000b\"}}", 0, "\\u0000"},
		{"bad escape", "{\"__metadata__\":{\"k\":\"\\q\"}}", 0, "bad escape"},
		{"control character in a string", "{\"__metadata__\":{\"k\":\"a\tb\"}}", 0, "control character"},
		{"leading zero", "{\"a\":{\"dtype\":\"F32\",\"shape\":[01],\"data_offsets\":[0,4]}}", 4, "',' or ']' expected"},
	};
	uint8_t		zeros[64] = {0};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		size_t		len;
		uint8_t    *buf = make_file(cases[i].header, zeros, cases[i].dlen, &len);

		expect_refused(buf, len, cases[i].what, cases[i].expect);
		free(buf);
	}

	/* length-field problems need raw bytes */
	uint8_t		raw[32] = {0};

	expect_refused(raw, 5, "truncated header length", "too short");
	raw[0] = 0xE8;
	raw[1] = 0x03;				/* 1000 */
	expect_refused(raw, sizeof(raw), "header length past the end", "runs past the end of the 32-byte file");
	memset(raw, 0, 8);
	raw[3] = 0x10;				/* 2^28 = 268 MB */
	expect_refused(raw, sizeof(raw), "header length above 100 MB", "exceeds the limit");
	memset(raw, 0, 8);
	raw[7] = 0x80;				/* 2^63: must not wrap */
	expect_refused(raw, sizeof(raw), "header length 2^63", "exceeds the limit");
	memset(raw, 0, 8);
	expect_refused(raw, 8, "header length zero", "does not start with a JSON object");

	/* deep nesting is refused, not a stack overflow */
	{
		char	   *deep = malloc(20000);
		size_t		n = 0,
					len;
		uint8_t    *buf;

		n += sprintf(deep, "{\"__metadata__\":");
		for (int i = 0; i < 5000; i++)
			deep[n++] = '[';
		deep[n] = '\0';
		buf = make_file(deep, NULL, 0, &len);
		expect_refused(buf, len, "deep nesting", "nesting deeper");
		free(buf);
		free(deep);
	}
}

static void
test_value_checks(void)
{
	const char *header =
		"{\"nan\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
		"\"inf\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
		"\"i64\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[16,24]},"
		"\"big\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[24,32]},"
		"\"hinf\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[32,34]}}";
	uint8_t		data[34];
	float		v[2];
	double		big = 1e300;
	uint16_t	hinf = 0x7C00;
	size_t		len;
	uint8_t    *buf;
	StFile		f;
	char		err[256] = "";
	float		out[2];

	v[0] = 1.0f;
	v[1] = NAN;
	memcpy(data, v, 8);
	v[1] = -INFINITY;
	memcpy(data + 8, v, 8);
	memset(data + 16, 0, 8);
	memcpy(data + 24, &big, 8);
	memcpy(data + 32, &hinf, 2);
	buf = make_file(header, data, sizeof(data), &len);
	if (!ok(st_parse(buf, len, &f, err, sizeof(err)) == 0, "parse file with bad values"))
	{
		diag("%s", err);
		free(buf);
		return;
	}
	ok(st_tensor_to_f32(st_find(&f, "nan"), out, err, sizeof(err)) == -1 &&
	   strstr(err, "\"nan\" holds NaN at element 1"), "NaN refused naming the tensor: %s", err);
	ok(st_tensor_to_f32(st_find(&f, "inf"), out, err, sizeof(err)) == -1 &&
	   strstr(err, "\"inf\" holds infinity"), "infinity refused: %s", err);
	ok(st_tensor_to_f32(st_find(&f, "i64"), out, err, sizeof(err)) == -1 &&
	   strstr(err, "dtype I64"), "integer dtype refused: %s", err);
	ok(st_tensor_to_f32(st_find(&f, "big"), out, err, sizeof(err)) == -1 &&
	   strstr(err, "float32 range"), "F64 beyond float range refused: %s", err);
	ok(st_tensor_to_f32(st_find(&f, "hinf"), out, err, sizeof(err)) == -1 &&
	   strstr(err, "infinity"), "F16 infinity refused: %s", err);
	st_free(&f);
	free(buf);
}

static void
test_json_helpers(void)
{
	MlpJsonValue v;
	char		err[200];
	const char *text = " [\"a\", \"b\\\"c\", 12, -3.5e2, true, null, {}] ";

	ok(mlp_json_parse(text, strlen(text), &v, err, sizeof(err)) == 0 && v.type == MLP_JSON_ARRAY &&
	   v.count == 7, "parse an array of mixed values");
	ok(v.items[1].type == MLP_JSON_STRING && strcmp(v.items[1].string, "b\"c") == 0, "escaped quote");
	ok(v.items[2].is_integer && v.items[2].integer == 12, "integer");
	ok(!v.items[3].is_integer && v.items[3].number == -350.0, "float with exponent");
	ok(v.items[4].type == MLP_JSON_BOOL && v.items[4].boolean && v.items[5].type == MLP_JSON_NULL,
	   "true and null");
	mlp_json_free(&v);

	const char *big = "9007199254740993";	/* 2^53 + 1: exact as an integer */

	ok(mlp_json_parse(big, strlen(big), &v, err, sizeof(err)) == 0 && v.is_integer &&
	   v.integer == INT64_C(9007199254740993), "integers beyond 2^53 are exact");
	mlp_json_free(&v);

	MlpStrBuf	b;

	mlp_strbuf_init(&b);
	mlp_json_append_string(&b, "x\"\\\n\x02\xc3\xa9");
	ok(!b.failed && strcmp(b.data, "\"x\\\"\\\\\\n\\u0002\xc3\xa9\"") == 0, "JSON string escaping: %s", b.data);
	ok(mlp_json_parse(b.data, b.len, &v, err, sizeof(err)) == 0 &&
	   strcmp(v.string, "x\"\\\n\x02\xc3\xa9") == 0, "escaped string parses back");
	mlp_json_free(&v);
	mlp_strbuf_free(&b);
}

/* Mutated and truncated versions of a valid file must be parsed or refused, never crash. */
static void
test_fuzz(void)
{
	float		data[64];
	int64_t		s1[2] = {4, 8},
				s2[1] = {16},
				s3[1] = {16};
	StWriter   *w = st_writer_create();
	uint8_t    *valid,
			   *buf;
	size_t		vlen,
				header_end;
	MlpRng		r;
	int			accepted = 0,
				refused = 0,
				no_message = 0;
	float	   *out = malloc(1 << 20);

	for (int i = 0; i < 64; i++)
		data[i] = (float) i - 20.0f;
	st_writer_add(w, "linear_in.weight", data, 2, s1);
	st_writer_add(w, "linear_in.bias", data, 1, s2);
	st_writer_add(w, "linear_out.bias", data + 16, 1, s3);
	st_writer_meta(w, "format", "mlpscale");
	st_writer_meta(w, "class_names", "[\"a\",\"b\"]");
	st_writer_finish(w, &valid, &vlen);
	buf = malloc(vlen + 64);
	header_end = vlen - 256;	/* 64 floats of data follow the header */
	mlp_rng_seed(&r, 77, 0);

	for (int iter = 0; iter < 20000; iter++)
	{
		size_t		len = vlen;
		StFile		f;
		char		err[256] = "";
		int			kind = (int) mlp_rng_below(&r, 4);

		memcpy(buf, valid, vlen);
		if (kind == 0)
			len = mlp_rng_below(&r, vlen + 1);	/* truncation */
		else
		{
			int			nmut = 1 + (int) mlp_rng_below(&r, 8);

			for (int m = 0; m < nmut; m++)
			{
				/* mostly in the header, where the structure is */
				size_t		pos = mlp_rng_below(&r, kind == 1 ? vlen : header_end);
				static const char interesting[] = "{}[]\",:0123456789-eE.\\u tfn\xff\x80";

				if (mlp_rng_below(&r, 2))
					buf[pos] = (uint8_t) mlp_rng_below(&r, 256);
				else
					buf[pos] = (uint8_t) interesting[mlp_rng_below(&r, sizeof(interesting) - 1)];
			}
			if (kind == 3)
				len = mlp_rng_below(&r, vlen + 1);
		}
		if (st_parse(buf, len, &f, err, sizeof(err)) == 0)
		{
			accepted++;
			for (int i = 0; i < f.num_tensors; i++)
			{
				const StTensor *t = &f.tensors[i];

				/* every accepted tensor lies inside the buffer */
				if (t->nbytes && (t->data < buf || t->data + t->nbytes > buf + len))
					no_message += 1000000;
				if (t->nbytes <= (1 << 20) && t->numel <= (1 << 18))
					st_tensor_to_f32(t, out, err, sizeof(err));
			}
			st_free(&f);
		}
		else
		{
			refused++;
			if (err[0] == '\0')
				no_message++;
		}
	}
	diag("fuzz: %d accepted, %d refused", accepted, refused);
	ok(refused > 5000 && accepted > 40, "fuzz loop ran both ways without crashing");
	is_int(no_message, 0, "every refusal has a message and accepted tensors lie inside the buffer");
	free(out);
	free(buf);
	free(valid);
}

int
main(void)
{
	test_round_trip();
	test_escapes_and_dtypes();
	test_corrupt();
	test_value_checks();
	test_json_helpers();
	test_fuzz();
	return tap_done();
}
