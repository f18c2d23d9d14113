/*
 * weights.c - models to and from safetensors files with the reference PyTorch names.
 *
 * Import trusts the file no more than safetensors.c does: the architecture is inferred from the
 * tensor names and shapes, a model of that architecture is created, and then every tensor it
 * expects must be in the file with exactly its shape, and nothing else may be.  Metadata only
 * adds what the tensors cannot say (input shape, normalisation, class names) and is checked
 * against them.
 */
#include "weights.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "safetensors.h"

#define TENSOR_NAME_FMT "%.100s"

__attribute__((format(printf, 4, 5)))
static MlpWeightsStatus
wfail(MlpWeightsStatus status, char *err, size_t errlen, const char *fmt,...)
{
	va_list		ap;

	if (err && errlen > 0)
	{
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return status;
}

void
mlp_model_meta_free(MlpModelMeta *meta)
{
	if (!meta)
		return;
	for (int i = 0; i < meta->num_class_names; i++)
		free(meta->class_names[i]);
	free(meta->class_names);
	memset(meta, 0, sizeof(*meta));
}

/* "[a, b]" or "[a]" of a shape, for messages. */
static void
format_shape(char *buf, size_t len, int ndim, const int64_t *shape)
{
	size_t		n = 0;

	n += snprintf(buf + n, len - n, "[");
	for (int d = 0; d < ndim && n < len; d++)
		n += snprintf(buf + n, len - n, "%s%lld", d ? ", " : "", (long long) shape[d]);
	if (n < len)
		snprintf(buf + n, len - n, "]");
}

/* The shortest decimal text that reads back as the same float. */
static void
format_float(char *buf, size_t len, float v)
{
	for (int prec = 6; prec <= 9; prec++)
	{
		snprintf(buf, len, "%.*g", prec, (double) v);
		if (strtof(buf, NULL) == v)
			return;
	}
}

/* "a,b,c" of n floats */
static void
format_floats(MlpStrBuf *b, const float *v, int n)
{
	char		num[32];

	for (int i = 0; i < n; i++)
	{
		format_float(num, sizeof(num), v[i]);
		if (i > 0)
			mlp_strbuf_puts(b, ",");
		mlp_strbuf_puts(b, num);
	}
}

MlpWeightsStatus
mlp_weights_export(const MlpModel *m, const MlpModelMeta *meta,
				   uint8_t **out, size_t *outlen, char *err, size_t errlen)
{
	StWriter   *w;
	MlpStrBuf	b;
	char		text[96];
	int			C = meta->input.channels;

	*out = NULL;
	*outlen = 0;
	if (C < 1 || C > MLP_MAX_CHANNELS || meta->input.height < 1 || meta->input.width < 1 ||
		(int64_t) C * meta->input.height * meta->input.width != m->arch.in_dim)
		return wfail(MLP_WEIGHTS_BAD_ARGUMENT, err, errlen,
					 "input shape %d,%d,%d does not match the model's input dimension %lld",
					 C, meta->input.height, meta->input.width, (long long) m->arch.in_dim);
	if (meta->num_class_names != 0 && meta->num_class_names != m->arch.classes)
		return wfail(MLP_WEIGHTS_BAD_ARGUMENT, err, errlen,
					 "%d class names given for a model of %d classes",
					 meta->num_class_names, m->arch.classes);

	w = st_writer_create();
	if (!w)
		return wfail(MLP_WEIGHTS_NO_MEMORY, err, errlen, "out of memory exporting the model");
	for (int i = 0; i < m->num_tensors; i++)
	{
		const MlpTensor *t = &m->tensors[i];

		if (st_writer_add(w, t->name, m->params + t->offset, t->ndim, t->shape) != 0)
		{
			st_writer_abort(w);
			return wfail(MLP_WEIGHTS_NO_MEMORY, err, errlen, "out of memory exporting the model");
		}
	}

	mlp_strbuf_init(&b);
	mlp_arch_format(&m->arch, text, sizeof(text));
	bool		ok = st_writer_meta(w, "format", "mlpscale") == 0 &&
		st_writer_meta(w, "arch", text) == 0;

	snprintf(text, sizeof(text), "%d,%d,%d", C, meta->input.height, meta->input.width);
	ok = ok && st_writer_meta(w, "input_shape", text) == 0;
	snprintf(text, sizeof(text), "%d", m->arch.classes);
	ok = ok && st_writer_meta(w, "classes", text) == 0;
	format_floats(&b, meta->mean, C);
	ok = ok && !b.failed && st_writer_meta(w, "mean", b.data) == 0;
	b.len = 0;
	format_floats(&b, meta->std, C);
	ok = ok && !b.failed && st_writer_meta(w, "std", b.data) == 0;
	if (meta->num_class_names > 0)
	{
		b.len = 0;
		mlp_strbuf_puts(&b, "[");
		for (int i = 0; i < meta->num_class_names; i++)
		{
			if (i > 0)
				mlp_strbuf_puts(&b, ",");
			mlp_json_append_string(&b, meta->class_names[i]);
		}
		mlp_strbuf_puts(&b, "]");
		ok = ok && !b.failed && st_writer_meta(w, "class_names", b.data) == 0;
	}
	mlp_strbuf_free(&b);
	if (!ok)
	{
		st_writer_abort(w);
		return wfail(MLP_WEIGHTS_NO_MEMORY, err, errlen, "out of memory exporting the model");
	}
	if (st_writer_finish(w, out, outlen) != 0)
		return wfail(MLP_WEIGHTS_NO_MEMORY, err, errlen, "out of memory exporting the model");
	return MLP_WEIGHTS_OK;
}

/* ---- import -------------------------------------------------------------------------- */

/* A 2-d tensor's shape, or BAD_MODEL naming it. */
static MlpWeightsStatus
matrix_shape(const StFile *f, const char *name, int64_t *rows, int64_t *cols,
			 char *err, size_t errlen)
{
	const StTensor *t = st_find(f, name);
	char		shape[128];

	if (!t)
		return wfail(MLP_WEIGHTS_BAD_MODEL, err, errlen, "tensor %s is missing", name);
	if (t->ndim != 2)
	{
		format_shape(shape, sizeof(shape), t->ndim, t->shape);
		return wfail(MLP_WEIGHTS_BAD_MODEL, err, errlen,
					 "tensor %s has shape %s; a matrix was expected", name, shape);
	}
	*rows = t->shape[0];
	*cols = t->shape[1];
	return MLP_WEIGHTS_OK;
}

static bool
has_tensor(const StFile *f, const char *fmt, int i)
{
	char		name[MLP_TENSOR_NAME_MAX];

	snprintf(name, sizeof(name), fmt, i);
	return st_find(f, name) != NULL;
}

static MlpWeightsStatus
infer_arch(const StFile *f, MlpArch *arch, char *err, size_t errlen)
{
	int64_t		rows = 0,
				cols = 0;
	MlpWeightsStatus st;

	memset(arch, 0, sizeof(*arch));
	if ((st = matrix_shape(f, "linear_in.weight", &rows, &cols, err, errlen)) != MLP_WEIGHTS_OK)
		return st;
	if (rows < 1 || rows > MLP_ARCH_MAX_WIDTH || cols < 1)
		return wfail(MLP_WEIGHTS_BAD_MODEL, err, errlen,
					 "tensor linear_in.weight has shape [%lld, %lld]; width must be 1..%d",
					 (long long) rows, (long long) cols, MLP_ARCH_MAX_WIDTH);
	arch->width = (int) rows;
	arch->in_dim = cols;

	if (has_tensor(f, "blocks.%d.block.0.weight", 0))
	{
		arch->kind = MLP_KIND_BOTTLENECK;
		while (arch->depth <= MLP_ARCH_MAX_DEPTH &&
			   has_tensor(f, "blocks.%d.block.0.weight", arch->depth))
			arch->depth++;
		if ((st = matrix_shape(f, "blocks.0.block.0.weight", &rows, &cols, err, errlen)) != MLP_WEIGHTS_OK)
			return st;
		if (rows % arch->width != 0 || rows / arch->width < 1 ||
			rows / arch->width > MLP_ARCH_MAX_EXPANSION)
			return wfail(MLP_WEIGHTS_BAD_MODEL, err, errlen,
						 "tensor blocks.0.block.0.weight has %lld rows, not a multiple 1..%d "
						 "of the width %d", (long long) rows, MLP_ARCH_MAX_EXPANSION, arch->width);
		arch->expansion = (int) (rows / arch->width);
	}
	else
	{
		/* layers.{i} are the L-1 hidden linears; none at all is S_1 */
		arch->kind = MLP_KIND_STANDARD;
		arch->expansion = MLP_ARCH_DEFAULT_EXPANSION;
		arch->depth = 1;
		while (arch->depth <= MLP_ARCH_MAX_DEPTH && has_tensor(f, "layers.%d.weight", arch->depth - 1))
			arch->depth++;
	}

	if ((st = matrix_shape(f, "linear_out.weight", &rows, &cols, err, errlen)) != MLP_WEIGHTS_OK)
		return st;
	if (rows < 1 || rows > MLP_ARCH_MAX_CLASSES)
		return wfail(MLP_WEIGHTS_BAD_MODEL, err, errlen,
					 "tensor linear_out.weight has %lld rows; classes must be 1..%d",
					 (long long) rows, MLP_ARCH_MAX_CLASSES);
	arch->classes = (int) rows;
	if (mlp_arch_validate(arch, err, errlen) != 0)
		return MLP_WEIGHTS_BAD_MODEL;
	return MLP_WEIGHTS_OK;
}

/* Every tensor of m present in f with m's shape, and no other tensor in f. */
static MlpWeightsStatus
check_tensors(const MlpModel *m, const StFile *f, char *err, size_t errlen)
{
	char		arch[64];

	mlp_arch_format(&m->arch, arch, sizeof(arch));
	for (int i = 0; i < m->num_tensors; i++)
	{
		const MlpTensor *mt = &m->tensors[i];
		const StTensor *ft = st_find(f, mt->name);
		bool		same;

		if (!ft)
			return wfail(MLP_WEIGHTS_BAD_MODEL, err, errlen,
						 "tensor %s of architecture %s is missing", mt->name, arch);
		same = ft->ndim == mt->ndim;
		for (int d = 0; same && d < mt->ndim; d++)
			same = ft->shape[d] == mt->shape[d];
		if (!same)
		{
			char		got[128],
						want[64];

			format_shape(got, sizeof(got), ft->ndim, ft->shape);
			format_shape(want, sizeof(want), mt->ndim, mt->shape);
			return wfail(MLP_WEIGHTS_BAD_MODEL, err, errlen,
						 "tensor %s has shape %s, but architecture %s needs %s",
						 mt->name, got, arch, want);
		}
	}
	for (int i = 0; i < f->num_tensors; i++)
		if (!mlp_model_find_tensor(m, f->tensors[i].name))
			return wfail(MLP_WEIGHTS_BAD_MODEL, err, errlen,
						 "unexpected tensor \"" TENSOR_NAME_FMT "\" for architecture %s",
						 f->tensors[i].name, arch);
	return MLP_WEIGHTS_OK;
}

/* Parses "3,32,32" (spaces allowed around numbers). */
static bool
parse_ints(const char *s, long *out, int n)
{
	const char *p = s;

	for (int i = 0; i < n; i++)
	{
		char	   *end;

		while (*p == ' ')
			p++;
		if (*p < '0' || *p > '9')
			return false;
		errno = 0;
		out[i] = strtol(p, &end, 10);
		if (errno != 0)
			return false;
		p = end;
		while (*p == ' ')
			p++;
		if (i < n - 1)
		{
			if (*p != ',')
				return false;
			p++;
		}
	}
	return *p == '\0';
}

/* Parses a comma-separated list of finite floats; returns the count, or -1. */
static int
parse_floats(const char *s, float *out, int max)
{
	const char *p = s;
	int			n = 0;

	for (;;)
	{
		char	   *end;
		float		v;

		while (*p == ' ')
			p++;
		errno = 0;
		v = strtof(p, &end);
		if (end == p || errno == ERANGE || !isfinite(v))
			return -1;
		if (n == max)
			return -1;
		out[n++] = v;
		p = end;
		while (*p == ' ')
			p++;
		if (*p == '\0')
			return n;
		if (*p != ',')
			return -1;
		p++;
	}
}

static MlpWeightsStatus
resolve_input(const StFile *f, const MlpImportOverrides *ov, const MlpArch *arch,
			  MlpImageSpec *in, char *err, size_t errlen)
{
	MlpWeightsStatus bad;
	const char *from;

	if (ov && ov->has_input)
	{
		*in = ov->input;
		bad = MLP_WEIGHTS_BAD_ARGUMENT;
		from = "input shape";
	}
	else
	{
		const char *text = st_meta(f, "input_shape");
		long		v[3];

		if (!text)
			return wfail(MLP_WEIGHTS_NO_INPUT_SHAPE, err, errlen,
						 "the input shape is unknown: the file has no \"input_shape\" metadata "
						 "and none was given (the model takes %lld values, e.g. C*H*W)",
						 (long long) arch->in_dim);
		if (!parse_ints(text, v, 3) || v[0] > 1000000 || v[1] > 1000000 || v[2] > 1000000)
			return wfail(MLP_WEIGHTS_BAD_MODEL, err, errlen,
						 "metadata \"input_shape\" is \"%.40s\"; expected \"C,H,W\"", text);
		in->channels = (int) v[0];
		in->height = (int) v[1];
		in->width = (int) v[2];
		bad = MLP_WEIGHTS_BAD_MODEL;
		from = "metadata input_shape";
	}
	if (in->channels < 1 || in->channels > MLP_MAX_CHANNELS || in->height < 1 || in->width < 1)
		return wfail(bad, err, errlen, "%s %d,%d,%d is invalid: channels must be 1..%d and "
					 "sides at least 1", from, in->channels, in->height, in->width,
					 MLP_MAX_CHANNELS);
	if ((int64_t) in->channels * in->height * in->width != arch->in_dim)
		return wfail(bad, err, errlen, "%s %d,%d,%d gives %lld values, but linear_in.weight "
					 "takes %lld", from, in->channels, in->height, in->width,
					 (long long) in->channels * in->height * in->width, (long long) arch->in_dim);
	return MLP_WEIGHTS_OK;
}

/* mean or std: override, else metadata, else the default. */
static MlpWeightsStatus
resolve_norm(const StFile *f, const char *key, int num_given, const float *given, int channels,
			 float fallback, float *dst, char *err, size_t errlen)
{
	const char *text;
	bool		is_std = strcmp(key, "std") == 0;

	if (num_given > 0)
	{
		if (num_given != channels)
			return wfail(MLP_WEIGHTS_BAD_ARGUMENT, err, errlen,
						 "%d %s values given for %d input channels", num_given, key, channels);
		for (int c = 0; c < channels; c++)
		{
			if (!isfinite(given[c]) || (is_std && given[c] <= 0.0f))
				return wfail(MLP_WEIGHTS_BAD_ARGUMENT, err, errlen,
							 "%s value %g is invalid%s", key, (double) given[c],
							 is_std ? "; std must be positive" : "");
			dst[c] = given[c];
		}
		return MLP_WEIGHTS_OK;
	}
	text = st_meta(f, key);
	if (!text)
	{
		for (int c = 0; c < channels; c++)
			dst[c] = fallback;
		return MLP_WEIGHTS_OK;
	}
	{
		float		v[MLP_MAX_CHANNELS + 1];
		int			n = parse_floats(text, v, MLP_MAX_CHANNELS + 1);

		if (n < 0)
			return wfail(MLP_WEIGHTS_BAD_MODEL, err, errlen,
						 "metadata \"%s\" is \"%.60s\"; expected comma-separated numbers", key, text);
		if (n != channels)
			return wfail(MLP_WEIGHTS_BAD_MODEL, err, errlen,
						 "metadata \"%s\" has %d values for %d input channels", key, n, channels);
		for (int c = 0; c < channels; c++)
		{
			if (is_std && v[c] <= 0.0f)
				return wfail(MLP_WEIGHTS_BAD_MODEL, err, errlen,
							 "metadata \"std\" value %g is not positive", (double) v[c]);
			dst[c] = v[c];
		}
	}
	return MLP_WEIGHTS_OK;
}

static MlpWeightsStatus
copy_class_names(MlpModelMeta *meta, int n, const char *const *names, char *err, size_t errlen)
{
	meta->class_names = calloc((size_t) n, sizeof(char *));
	if (!meta->class_names)
		return wfail(MLP_WEIGHTS_NO_MEMORY, err, errlen, "out of memory for class names");
	for (int i = 0; i < n; i++)
	{
		meta->class_names[i] = strdup(names[i] ? names[i] : "");
		if (!meta->class_names[i])
			return wfail(MLP_WEIGHTS_NO_MEMORY, err, errlen, "out of memory for class names");
		meta->num_class_names = i + 1;
	}
	return MLP_WEIGHTS_OK;
}

static MlpWeightsStatus
resolve_class_names(const StFile *f, const MlpImportOverrides *ov, int classes,
					MlpModelMeta *meta, char *err, size_t errlen)
{
	const char *text;
	MlpJsonValue v;
	char		jerr[160];
	const char **names;
	MlpWeightsStatus st;

	if (ov && ov->num_class_names > 0)
	{
		if (ov->num_class_names != classes)
			return wfail(MLP_WEIGHTS_BAD_ARGUMENT, err, errlen,
						 "%d class names given for a model of %d classes",
						 ov->num_class_names, classes);
		return copy_class_names(meta, classes, ov->class_names, err, errlen);
	}
	text = st_meta(f, "class_names");
	if (!text)
		return MLP_WEIGHTS_OK;
	if (mlp_json_parse(text, strlen(text), &v, jerr, sizeof(jerr)) != 0)
		return wfail(MLP_WEIGHTS_BAD_MODEL, err, errlen,
					 "metadata \"class_names\" is not a JSON array of strings: %s", jerr);
	if (v.type != MLP_JSON_ARRAY)
	{
		mlp_json_free(&v);
		return wfail(MLP_WEIGHTS_BAD_MODEL, err, errlen,
					 "metadata \"class_names\" is not a JSON array of strings");
	}
	if (v.count != classes)
	{
		int			n = v.count;

		mlp_json_free(&v);
		return wfail(MLP_WEIGHTS_BAD_MODEL, err, errlen,
					 "metadata \"class_names\" has %d names for a model of %d classes", n, classes);
	}
	names = calloc((size_t) classes, sizeof(char *));
	if (!names)
	{
		mlp_json_free(&v);
		return wfail(MLP_WEIGHTS_NO_MEMORY, err, errlen, "out of memory for class names");
	}
	for (int i = 0; i < classes; i++)
	{
		if (v.items[i].type != MLP_JSON_STRING)
		{
			free(names);
			mlp_json_free(&v);
			return wfail(MLP_WEIGHTS_BAD_MODEL, err, errlen,
						 "metadata \"class_names\" element %d is not a string", i);
		}
		names[i] = v.items[i].string;
	}
	st = copy_class_names(meta, classes, names, err, errlen);
	free(names);
	mlp_json_free(&v);
	return st;
}

/* "arch" and "classes" metadata, when present, must agree with the tensors. */
static MlpWeightsStatus
check_arch_metadata(const StFile *f, const MlpArch *arch, char *err, size_t errlen)
{
	const char *text = st_meta(f, "arch");
	char		inferred[64];

	mlp_arch_format(arch, inferred, sizeof(inferred));
	if (text)
	{
		MlpArch		a;
		char		perr[128];

		if (mlp_arch_parse(text, &a, perr, sizeof(perr)) != 0)
			return wfail(MLP_WEIGHTS_BAD_MODEL, err, errlen, "metadata \"arch\": %s", perr);
		if (a.kind != arch->kind || a.depth != arch->depth || a.width != arch->width ||
			(a.kind == MLP_KIND_BOTTLENECK && a.expansion != arch->expansion))
			return wfail(MLP_WEIGHTS_BAD_MODEL, err, errlen,
						 "metadata \"arch\" is \"%.40s\", but the tensors are those of %s",
						 text, inferred);
	}
	text = st_meta(f, "classes");
	if (text)
	{
		long		c;

		if (!parse_ints(text, &c, 1) || c != arch->classes)
			return wfail(MLP_WEIGHTS_BAD_MODEL, err, errlen,
						 "metadata \"classes\" is \"%.20s\", but linear_out.weight has %d rows",
						 text, arch->classes);
	}
	return MLP_WEIGHTS_OK;
}

MlpWeightsStatus
mlp_weights_import(const uint8_t *buf, size_t len, const MlpImportOverrides *ov, MlpModel *m,
				   MlpModelMeta *meta, char *err, size_t errlen)
{
	StFile		f;
	MlpArch		arch;
	MlpWeightsStatus st;
	char		cerr[256];

	memset(m, 0, sizeof(*m));
	memset(meta, 0, sizeof(*meta));
	if (st_parse(buf, len, &f, err, errlen) != 0)
		return MLP_WEIGHTS_CORRUPT;

	if ((st = infer_arch(&f, &arch, err, errlen)) != MLP_WEIGHTS_OK ||
		(st = check_arch_metadata(&f, &arch, err, errlen)) != MLP_WEIGHTS_OK)
		goto fail;
	/*
	 * The shapes first, against the layout alone: a small file can claim a huge width
	 * (linear_in.weight [W, 1], an empty blocks.0.block.0.weight [4W, 0]), and the
	 * parameters are allocated only once every tensor of that size is in the file.
	 */
	if (mlp_model_create_layout(m, &arch, cerr, sizeof(cerr)) != 0)
	{
		st = wfail(MLP_WEIGHTS_NO_MEMORY, err, errlen, "%s", cerr);
		goto fail;
	}
	if ((st = check_tensors(m, &f, err, errlen)) != MLP_WEIGHTS_OK)
		goto fail;
	if (mlp_model_alloc_params(m, false, cerr, sizeof(cerr)) != 0)
	{
		st = wfail(MLP_WEIGHTS_NO_MEMORY, err, errlen, "%s", cerr);
		goto fail;
	}

	if ((st = resolve_input(&f, ov, &arch, &meta->input, err, errlen)) != MLP_WEIGHTS_OK)
		goto fail;
	meta->classes = arch.classes;
	if ((st = resolve_norm(&f, "mean", ov ? ov->num_mean : 0, ov ? ov->mean : NULL,
						   meta->input.channels, 0.0f, meta->mean, err, errlen)) != MLP_WEIGHTS_OK ||
		(st = resolve_norm(&f, "std", ov ? ov->num_std : 0, ov ? ov->std : NULL,
						   meta->input.channels, 1.0f, meta->std, err, errlen)) != MLP_WEIGHTS_OK ||
		(st = resolve_class_names(&f, ov, arch.classes, meta, err, errlen)) != MLP_WEIGHTS_OK)
		goto fail;
	for (int c = meta->input.channels; c < MLP_MAX_CHANNELS; c++)
	{
		meta->mean[c] = 0.0f;
		meta->std[c] = 1.0f;
	}

	/* values last: the conversion refuses NaN and infinity, naming the tensor */
	for (int i = 0; i < m->num_tensors; i++)
	{
		const MlpTensor *mt = &m->tensors[i];

		if (st_tensor_to_f32(st_find(&f, mt->name), m->params + mt->offset, err, errlen) != 0)
		{
			st = MLP_WEIGHTS_BAD_MODEL;
			goto fail;
		}
	}
	st_free(&f);
	return MLP_WEIGHTS_OK;

fail:
	st_free(&f);
	mlp_model_free(m);
	mlp_model_meta_free(meta);
	return st;
}
