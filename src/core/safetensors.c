/*
 * safetensors.c - strict reader and simple writer of safetensors files (see safetensors.h).
 *
 * Files come from users (mlp_import), so the reader checks every field before any tensor data
 * is touched, and every message names the tensor or field at fault.
 */
#include "safetensors.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c copies tensor bytes as they are and needs a little-endian host"
#endif

/* The reference implementation's limit: larger headers are an attack, not a model. */
#define ST_MAX_HEADER (100 * 1000 * 1000)

static const struct
{
	const char *name;
	StDtype		dtype;
	size_t		size;
}			st_dtypes[] =
{
	{"F32", ST_F32, 4},
	{"F16", ST_F16, 2},
	{"BF16", ST_BF16, 2},
	{"F64", ST_F64, 8},
	{"I64", ST_I64, 8},
	{"I32", ST_I32, 4},
	{"U8", ST_U8, 1},
};

static const char *
dtype_name(StDtype d)
{
	for (size_t i = 0; i < sizeof(st_dtypes) / sizeof(st_dtypes[0]); i++)
		if (st_dtypes[i].dtype == d)
			return st_dtypes[i].name;
	return "?";
}

__attribute__((format(printf, 3, 4)))
static int
st_fail(char *err, size_t errlen, const char *fmt,...)
{
	va_list		ap;

	if (err && errlen > 0)
	{
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Tensor names in messages are cut short: a hostile header can hold megabyte-long names. */
#define NAMEFMT "\"%.80s\""

/* Parses one tensor entry {"dtype", "shape", "data_offsets"} into t (name already set). */
static int
parse_entry(const MlpJsonValue *v, size_t data_len, StTensor *t, int64_t *begin_out,
			char *err, size_t errlen)
{
	const MlpJsonValue *dtype,
			   *shape,
			   *offsets;
	const char *name = t->name;
	size_t		esize = 0;
	uint64_t	numel = 1,
				nbytes,
				begin,
				end;

	if (v->type != MLP_JSON_OBJECT)
		return st_fail(err, errlen, "tensor " NAMEFMT ": entry is a JSON %s, not an object",
					   name, mlp_json_type_name(v->type));
	for (int i = 0; i < v->count; i++)
		if (strcmp(v->keys[i], "dtype") != 0 && strcmp(v->keys[i], "shape") != 0 &&
			strcmp(v->keys[i], "data_offsets") != 0)
			return st_fail(err, errlen, "tensor " NAMEFMT ": unexpected field \"%.40s\"",
						   name, v->keys[i]);
	dtype = mlp_json_get(v, "dtype");
	shape = mlp_json_get(v, "shape");
	offsets = mlp_json_get(v, "data_offsets");
	if (!dtype)
		return st_fail(err, errlen, "tensor " NAMEFMT ": missing field \"dtype\"", name);
	if (!shape)
		return st_fail(err, errlen, "tensor " NAMEFMT ": missing field \"shape\"", name);
	if (!offsets)
		return st_fail(err, errlen, "tensor " NAMEFMT ": missing field \"data_offsets\"", name);

	if (dtype->type != MLP_JSON_STRING)
		return st_fail(err, errlen, "tensor " NAMEFMT ": \"dtype\" is a %s, not a string",
					   name, mlp_json_type_name(dtype->type));
	for (size_t i = 0; i < sizeof(st_dtypes) / sizeof(st_dtypes[0]); i++)
		if (strcmp(dtype->string, st_dtypes[i].name) == 0)
		{
			t->dtype = st_dtypes[i].dtype;
			esize = st_dtypes[i].size;
		}
	if (esize == 0)
		return st_fail(err, errlen, "tensor " NAMEFMT ": unsupported dtype \"%.20s\" "
					   "(supported: F32, F16, BF16, F64, I64, I32, U8)", name, dtype->string);

	if (shape->type != MLP_JSON_ARRAY)
		return st_fail(err, errlen, "tensor " NAMEFMT ": \"shape\" is a %s, not an array",
					   name, mlp_json_type_name(shape->type));
	if (shape->count > ST_MAX_DIMS)
		return st_fail(err, errlen, "tensor " NAMEFMT ": %d dimensions, at most %d supported",
					   name, shape->count, ST_MAX_DIMS);
	t->ndim = shape->count;
	for (int d = 0; d < shape->count; d++)
	{
		const MlpJsonValue *e = &shape->items[d];

		if (e->type != MLP_JSON_NUMBER || !e->is_integer || e->integer < 0)
			return st_fail(err, errlen, "tensor " NAMEFMT ": shape dimension %d is not a "
						   "non-negative integer", name, d);
		t->shape[d] = e->integer;
		if (__builtin_mul_overflow(numel, (uint64_t) e->integer, &numel) || numel > INT64_MAX)
			return st_fail(err, errlen, "tensor " NAMEFMT ": shape has too many elements", name);
	}
	t->numel = (int64_t) numel;

	if (offsets->type != MLP_JSON_ARRAY || offsets->count != 2)
		return st_fail(err, errlen, "tensor " NAMEFMT ": \"data_offsets\" must be an array "
					   "[begin, end]", name);
	for (int k = 0; k < 2; k++)
		if (offsets->items[k].type != MLP_JSON_NUMBER || !offsets->items[k].is_integer ||
			offsets->items[k].integer < 0)
			return st_fail(err, errlen, "tensor " NAMEFMT ": data offset %d is not a "
						   "non-negative integer", name, k);
	begin = (uint64_t) offsets->items[0].integer;
	end = (uint64_t) offsets->items[1].integer;
	if (begin > end)
		return st_fail(err, errlen, "tensor " NAMEFMT ": data_offsets [%llu, %llu] end "
					   "before they begin", name, (unsigned long long) begin,
					   (unsigned long long) end);
	if (end > data_len)
		return st_fail(err, errlen, "tensor " NAMEFMT ": data_offsets [%llu, %llu] run past "
					   "the %zu bytes of tensor data", name, (unsigned long long) begin,
					   (unsigned long long) end, data_len);
	if (__builtin_mul_overflow(numel, (uint64_t) esize, &nbytes) || nbytes != end - begin)
		return st_fail(err, errlen, "tensor " NAMEFMT ": %d-dimensional %s shape of %llu "
					   "elements needs %llu bytes, but data_offsets [%llu, %llu] hold %llu",
					   name, t->ndim, dtype->string, (unsigned long long) numel,
					   (unsigned long long) numel * esize, (unsigned long long) begin,
					   (unsigned long long) end, (unsigned long long) (end - begin));
	t->nbytes = (size_t) nbytes;
	*begin_out = (int64_t) begin;
	return 0;
}

static int
parse_metadata(const MlpJsonValue *v, StFile *out, char *err, size_t errlen)
{
	if (v->type != MLP_JSON_OBJECT)
		return st_fail(err, errlen, "\"__metadata__\" is a JSON %s, not an object",
					   mlp_json_type_name(v->type));
	out->meta_keys = calloc((size_t) v->count + 1, sizeof(char *));
	out->meta_values = calloc((size_t) v->count + 1, sizeof(char *));
	if (!out->meta_keys || !out->meta_values)
		return st_fail(err, errlen, "out of memory reading the safetensors metadata");
	for (int i = 0; i < v->count; i++)
	{
		if (v->items[i].type != MLP_JSON_STRING)
			return st_fail(err, errlen, "metadata value \"%.80s\" is a %s, not a string",
						   v->keys[i], mlp_json_type_name(v->items[i].type));
		out->meta_keys[i] = strdup(v->keys[i]);
		out->meta_values[i] = strdup(v->items[i].string);
		out->num_meta = i + 1;
		if (!out->meta_keys[i] || !out->meta_values[i])
			return st_fail(err, errlen, "out of memory reading the safetensors metadata");
	}
	return 0;
}

typedef struct Extent
{
	int64_t		begin;
	int			index;
} Extent;

static int
compare_extents(const void *a, const void *b)
{
	const Extent *x = a,
			   *y = b;

	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	return x->index - y->index;
}

/* The little-endian header length of the first 8 bytes, checked against the limit and the file. */
static int
read_header_length(const uint8_t *buf, size_t len, uint64_t *hlen, char *err, size_t errlen)
{
	uint64_t	h = 0;

	if (len < 8)
		return st_fail(err, errlen, "file of %zu bytes is too short for the 8-byte safetensors "
					   "header length", len);
	for (int i = 7; i >= 0; i--)
		h = (h << 8) | buf[i];
	if (h > ST_MAX_HEADER)
		return st_fail(err, errlen, "safetensors header length %llu exceeds the limit of %d "
					   "bytes", (unsigned long long) h, ST_MAX_HEADER);
	if (h > len - 8)
		return st_fail(err, errlen, "safetensors header length %llu runs past the end of the "
					   "%zu-byte file", (unsigned long long) h, len);
	if (h < 2 || buf[8] != '{')
		return st_fail(err, errlen, "safetensors header does not start with a JSON object");
	*hlen = h;
	return 0;
}

/*
 * The entries of the header object: __metadata__, and one tensor each (with the extent of
 * its bytes in extents[], as many as out->num_tensors).
 */
static int
read_entries(const MlpJsonValue *root, const uint8_t *data, size_t data_len, StFile *out,
			 Extent *extents, char *err, size_t errlen)
{
	for (int i = 0; i < root->count; i++)
	{
		StTensor   *t;
		int64_t		begin = 0;
		int			k = out->num_tensors;

		if (strcmp(root->keys[i], "__metadata__") == 0)
		{
			if (parse_metadata(&root->items[i], out, err, errlen) < 0)
				return -1;
			continue;
		}
		t = &out->tensors[k];
		t->name = strdup(root->keys[i]);
		if (!t->name)
			return st_fail(err, errlen, "out of memory reading the safetensors header");
		out->num_tensors = k + 1;
		if (parse_entry(&root->items[i], data_len, t, &begin, err, errlen) < 0)
			return -1;
		t->data = data + begin;
		extents[k].begin = begin;
		extents[k].index = k;
	}
	return 0;
}

/* Byte ranges must not overlap nor leave holes (empty tensors occupy nothing); sorts extents. */
static int
check_extents(const StFile *out, Extent *extents, const uint8_t *data, size_t data_len,
			  char *err, size_t errlen)
{
	int64_t		prev_end = 0;
	int			prev = -1;
	int			ntensors = out->num_tensors;

	qsort(extents, (size_t) ntensors, sizeof(Extent), compare_extents);
	for (int k = 0; k < ntensors; k++)
	{
		const StTensor *t = &out->tensors[extents[k].index];

		if (t->nbytes == 0)
			continue;
		if (prev >= 0 && extents[k].begin < prev_end)
			return st_fail(err, errlen, "tensors " NAMEFMT " and " NAMEFMT " overlap in the data "
						   "(bytes %lld-%lld and %lld-%lld)", out->tensors[prev].name, t->name,
						   (long long) (out->tensors[prev].data - data), (long long) prev_end,
						   (long long) extents[k].begin, (long long) (extents[k].begin + t->nbytes));
		/* the format forbids holes: every byte of the data belongs to a tensor */
		if (extents[k].begin != prev_end)
			return st_fail(err, errlen, "bytes %lld-%lld of the data belong to no tensor (before " NAMEFMT ")",
						   (long long) prev_end, (long long) extents[k].begin, t->name);
		prev = extents[k].index;
		prev_end = extents[k].begin + (int64_t) t->nbytes;
	}
	if ((size_t) prev_end != data_len)
		return st_fail(err, errlen, "bytes %lld-%llu of the data belong to no tensor (trailing bytes)",
					   (long long) prev_end, (unsigned long long) data_len);
	return 0;
}

int
st_parse(const uint8_t *buf, size_t len, StFile *out, char *err, size_t errlen)
{
	uint64_t	hlen = 0;
	MlpJsonValue root;
	size_t		data_len;
	const uint8_t *data;
	Extent	   *extents = NULL;
	int			rc = -1;

	memset(out, 0, sizeof(*out));
	if (read_header_length(buf, len, &hlen, err, errlen) < 0)
		return -1;
	if (mlp_json_parse((const char *) buf + 8, (size_t) hlen, &root, err, errlen) < 0)
	{
		/* prefix the parser's message, keeping its detail */
		char		inner[256];

		snprintf(inner, sizeof(inner), "%s", err && errlen ? err : "");
		return st_fail(err, errlen, "safetensors header: %s", inner);
	}
	if (root.type != MLP_JSON_OBJECT)
	{
		st_fail(err, errlen, "safetensors header is a JSON %s, not an object",
				mlp_json_type_name(root.type));
		goto done;
	}
	data = buf + 8 + hlen;
	data_len = len - 8 - (size_t) hlen;

	out->tensors = calloc((size_t) root.count + 1, sizeof(StTensor));
	extents = calloc((size_t) root.count + 1, sizeof(Extent));
	if (!out->tensors || !extents)
		st_fail(err, errlen, "out of memory reading the safetensors header");
	else if (read_entries(&root, data, data_len, out, extents, err, errlen) == 0 &&
			 check_extents(out, extents, data, data_len, err, errlen) == 0)
		rc = 0;

done:
	free(extents);
	mlp_json_free(&root);
	if (rc < 0)
		st_free(out);
	return rc;
}

void
st_free(StFile *f)
{
	if (!f)
		return;
	if (f->tensors)
		for (int i = 0; i < f->num_tensors; i++)
			free(f->tensors[i].name);
	free(f->tensors);
	for (int i = 0; i < f->num_meta; i++)
	{
		free(f->meta_keys[i]);
		free(f->meta_values[i]);
	}
	free(f->meta_keys);
	free(f->meta_values);
	memset(f, 0, sizeof(*f));
}

const StTensor *
st_find(const StFile *f, const char *name)
{
	for (int i = 0; i < f->num_tensors; i++)
		if (strcmp(f->tensors[i].name, name) == 0)
			return &f->tensors[i];
	return NULL;
}

const char *
st_meta(const StFile *f, const char *key)
{
	for (int i = 0; i < f->num_meta; i++)
		if (strcmp(f->meta_keys[i], key) == 0)
			return f->meta_values[i];
	return NULL;
}

/* IEEE half to single, subnormals, infinities and NaN included. */
static float
half_to_float(uint16_t h)
{
	uint32_t	sign = (uint32_t) (h & 0x8000) << 16;
	uint32_t	exp = (h >> 10) & 0x1F;
	uint32_t	mant = h & 0x3FF;
	uint32_t	bits;
	float		f;

	if (exp == 0)
	{
		/* zero or subnormal: mant * 2^-24 is exact in float */
		f = ldexpf((float) mant, -24);
		return sign ? -f : f;
	}
	if (exp == 31)
		bits = sign | 0x7F800000 | (mant << 13);
	else
		bits = sign | ((exp + 112) << 23) | (mant << 13);
	memcpy(&f, &bits, sizeof(f));
	return f;
}

int
st_tensor_to_f32(const StTensor *t, float *dst, char *err, size_t errlen)
{
	const uint8_t *p = t->data;

	for (int64_t i = 0; i < t->numel; i++)
	{
		float		v;

		switch (t->dtype)
		{
			case ST_F32:
				memcpy(&v, p + 4 * i, 4);
				break;
			case ST_F16:
				{
					uint16_t	h;

					memcpy(&h, p + 2 * i, 2);
					v = half_to_float(h);
					break;
				}
			case ST_BF16:
				{
					uint16_t	h;
					uint32_t	bits;

					memcpy(&h, p + 2 * i, 2);
					bits = (uint32_t) h << 16;
					memcpy(&v, &bits, 4);
					break;
				}
			case ST_F64:
				{
					double		d;

					memcpy(&d, p + 8 * i, 8);
					if (isfinite(d) && fabs(d) > FLT_MAX)
						return st_fail(err, errlen, "tensor " NAMEFMT " holds %g at element %lld, "
									   "beyond the float32 range", t->name, d, (long long) i);
					v = (float) d;
					break;
				}
			default:
				return st_fail(err, errlen, "tensor " NAMEFMT " has dtype %s; a float dtype (F32, "
							   "F16, BF16 or F64) is needed", t->name, dtype_name(t->dtype));
		}
		if (!isfinite(v))
			return st_fail(err, errlen, "tensor " NAMEFMT " holds %s at element %lld", t->name,
						   isnan(v) ? "NaN" : "infinity", (long long) i);
		dst[i] = v;
	}
	return 0;
}

/* ---- writer -------------------------------------------------------------------------- */

typedef struct StWriterTensor
{
	char	   *name;
	const float *data;
	int			ndim;
	int64_t		shape[ST_MAX_DIMS];
	size_t		numel;
} StWriterTensor;

struct StWriter
{
	int			num_tensors,
				cap_tensors;
	StWriterTensor *tensors;
	int			num_meta,
				cap_meta;
	char	  **meta_keys;
	char	  **meta_values;
};

StWriter *
st_writer_create(void)
{
	return calloc(1, sizeof(StWriter));
}

int
st_writer_add(StWriter *w, const char *name, const float *data, int ndim, const int64_t *shape)
{
	StWriterTensor *t;
	size_t		numel = 1;

	if (ndim < 0 || ndim > ST_MAX_DIMS || name[0] == '\0' || strcmp(name, "__metadata__") == 0)
		return -1;
	for (int d = 0; d < ndim; d++)
		if (shape[d] < 0 || __builtin_mul_overflow(numel, (size_t) shape[d], &numel))
			return -1;
	for (int i = 0; i < w->num_tensors; i++)
		if (strcmp(w->tensors[i].name, name) == 0)
			return -1;
	if (w->num_tensors == w->cap_tensors)
	{
		int			cap = w->cap_tensors ? 2 * w->cap_tensors : 16;
		StWriterTensor *p = realloc(w->tensors, (size_t) cap * sizeof(*p));

		if (!p)
			return -1;
		w->tensors = p;
		w->cap_tensors = cap;
	}
	t = &w->tensors[w->num_tensors];
	t->name = strdup(name);
	if (!t->name)
		return -1;
	t->data = data;
	t->ndim = ndim;
	for (int d = 0; d < ndim; d++)
		t->shape[d] = shape[d];
	t->numel = numel;
	w->num_tensors++;
	return 0;
}

int
st_writer_meta(StWriter *w, const char *key, const char *value)
{
	char	   *k,
			   *v;

	for (int i = 0; i < w->num_meta; i++)
		if (strcmp(w->meta_keys[i], key) == 0)
			return -1;
	if (w->num_meta == w->cap_meta)
	{
		int			cap = w->cap_meta ? 2 * w->cap_meta : 8;
		char	  **pk = realloc(w->meta_keys, (size_t) cap * sizeof(char *));

		if (!pk)
			return -1;
		w->meta_keys = pk;
		pk = realloc(w->meta_values, (size_t) cap * sizeof(char *));
		if (!pk)
			return -1;
		w->meta_values = pk;
		w->cap_meta = cap;
	}
	k = strdup(key);
	v = strdup(value);
	if (!k || !v)
	{
		free(k);
		free(v);
		return -1;
	}
	w->meta_keys[w->num_meta] = k;
	w->meta_values[w->num_meta] = v;
	w->num_meta++;
	return 0;
}

void
st_writer_abort(StWriter *w)
{
	if (!w)
		return;
	for (int i = 0; i < w->num_tensors; i++)
		free(w->tensors[i].name);
	free(w->tensors);
	for (int i = 0; i < w->num_meta; i++)
	{
		free(w->meta_keys[i]);
		free(w->meta_values[i]);
	}
	free(w->meta_keys);
	free(w->meta_values);
	free(w);
}

int
st_writer_finish(StWriter *w, uint8_t **out, size_t *outlen)
{
	MlpStrBuf	h;
	size_t		offset = 0,
				total;
	uint8_t    *buf;
	bool		first = true;

	*out = NULL;
	*outlen = 0;
	mlp_strbuf_init(&h);
	mlp_strbuf_puts(&h, "{");
	if (w->num_meta > 0)
	{
		mlp_strbuf_puts(&h, "\"__metadata__\":{");
		for (int i = 0; i < w->num_meta; i++)
		{
			if (i > 0)
				mlp_strbuf_puts(&h, ",");
			mlp_json_append_string(&h, w->meta_keys[i]);
			mlp_strbuf_puts(&h, ":");
			mlp_json_append_string(&h, w->meta_values[i]);
		}
		mlp_strbuf_puts(&h, "}");
		first = false;
	}
	for (int i = 0; i < w->num_tensors; i++)
	{
		const StWriterTensor *t = &w->tensors[i];
		size_t		nbytes = t->numel * sizeof(float);

		if (!first)
			mlp_strbuf_puts(&h, ",");
		first = false;
		mlp_json_append_string(&h, t->name);
		mlp_strbuf_puts(&h, ":{\"dtype\":\"F32\",\"shape\":[");
		for (int d = 0; d < t->ndim; d++)
			mlp_strbuf_printf(&h, "%s%lld", d ? "," : "", (long long) t->shape[d]);
		mlp_strbuf_printf(&h, "],\"data_offsets\":[%zu,%zu]}", offset, offset + nbytes);
		offset += nbytes;
	}
	mlp_strbuf_puts(&h, "}");
	/* spaces up to a multiple of 8 keep the tensor data 8-byte aligned in the file */
	while (!h.failed && h.len % 8 != 0)
		mlp_strbuf_puts(&h, " ");
	if (h.failed)
	{
		mlp_strbuf_free(&h);
		st_writer_abort(w);
		return -1;
	}

	total = 8 + h.len + offset;
	buf = malloc(total);
	if (!buf)
	{
		mlp_strbuf_free(&h);
		st_writer_abort(w);
		return -1;
	}
	for (int i = 0; i < 8; i++)
		buf[i] = (uint8_t) ((uint64_t) h.len >> (8 * i));
	memcpy(buf + 8, h.data, h.len);
	offset = 8 + h.len;
	for (int i = 0; i < w->num_tensors; i++)
	{
		size_t		nbytes = w->tensors[i].numel * sizeof(float);

		if (nbytes)
			memcpy(buf + offset, w->tensors[i].data, nbytes);
		offset += nbytes;
	}
	mlp_strbuf_free(&h);
	st_writer_abort(w);
	*out = buf;
	*outlen = total;
	return 0;
}
