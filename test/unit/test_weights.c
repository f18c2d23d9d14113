/* test_weights.c - safetensors export/import of models: round trips, overrides, refusals */
#include <sys/resource.h>

#include "arch.h"
#include "model.h"
#include "safetensors.h"
#include "tap.h"
#include "weights.h"

static void
make_model(MlpModel *m, const char *arch_text, int64_t in_dim, int classes, uint64_t seed)
{
	MlpArch		a;
	MlpRng		r;
	char		err[256];

	if (mlp_arch_parse(arch_text, &a, err, sizeof(err)) != 0)
	{
		fprintf(stderr, "%s\n", err);
		exit(2);
	}
	a.in_dim = in_dim;
	a.classes = classes;
	if (mlp_model_create(m, &a, false, err, sizeof(err)) != 0)
	{
		fprintf(stderr, "%s\n", err);
		exit(2);
	}
	mlp_rng_seed(&r, seed, 0);
	mlp_model_init_weights(m, &r);
	/* LayerNorm params are 1 and 0 after init; make them distinctive too */
	for (size_t i = 0; i < m->num_params; i++)
		m->params[i] += (float) (i % 7) * 1e-3f;
}

/* A hand-built file from the model's tensors with one thing changed. */
typedef struct FileSpec
{
	const char *skip;			/* leave this tensor out */
	const char *extra;			/* add a tensor of this name */
	const char *reshape;		/* give this tensor shape [reshape_len] */
	int64_t		reshape_len;
	const char *nan_in;			/* put a NaN into this tensor */
	const char *meta[16];		/* key, value, ..., NULL */
} FileSpec;

static uint8_t *
make_file(MlpModel *m, const FileSpec *s, size_t *len)
{
	static float zeros[4096];
	StWriter   *w = st_writer_create();
	uint8_t    *buf;
	float		saved = 0;
	size_t		nan_at = 0;

	for (int i = 0; i < m->num_tensors; i++)
	{
		const MlpTensor *t = &m->tensors[i];

		if (s->skip && strcmp(t->name, s->skip) == 0)
			continue;
		if (s->reshape && strcmp(t->name, s->reshape) == 0)
			st_writer_add(w, t->name, zeros, 1, &s->reshape_len);
		else
			st_writer_add(w, t->name, m->params + t->offset, t->ndim, t->shape);
		if (s->nan_in && strcmp(t->name, s->nan_in) == 0)
			nan_at = t->offset + 1;
	}
	if (s->extra)
	{
		int64_t		n = 3;

		st_writer_add(w, s->extra, zeros, 1, &n);
	}
	for (int i = 0; s->meta[i]; i += 2)
		st_writer_meta(w, s->meta[i], s->meta[i + 1]);
	if (nan_at)
	{
		saved = m->params[nan_at];
		m->params[nan_at] = NAN;
	}
	st_writer_finish(w, &buf, len);
	if (nan_at)
		m->params[nan_at] = saved;
	return buf;
}

static void
test_round_trip(const char *arch_text, int C, int H, int W, int classes)
{
	MlpModel	m,
				m2;
	MlpModelMeta meta = {0},
				meta2;
	const char *names[] = {"airplane", "quote \" and \\", "caf\xc3\xa9", "d", "e", "f", "g",
	"h", "i", "j"};
	uint8_t    *buf;
	size_t		len;
	char		err[512] = "";
	MlpWeightsStatus st;
	StFile		f;

	make_model(&m, arch_text, (int64_t) C * H * W, classes, 1);
	meta.input = (MlpImageSpec) {C, H, W};
	meta.classes = classes;
	for (int c = 0; c < C; c++)
	{
		meta.mean[c] = 0.4914f - 0.01f * c;
		meta.std[c] = 0.2470f + 0.003f * c;
	}
	meta.num_class_names = classes;
	meta.class_names = (char **) names;

	st = mlp_weights_export(&m, &meta, &buf, &len, err, sizeof(err));
	if (!is_int(st, MLP_WEIGHTS_OK, "export"))
		diag("%s", err);

	/* the file itself: reference names, layout order, metadata strings */
	ok(st_parse(buf, len, &f, err, sizeof(err)) == 0 && f.num_tensors == m.num_tensors,
	   "%s: export holds %d tensors", arch_text, m.num_tensors);
	int			same_order = 1;

	for (int i = 0; i < f.num_tensors && i < m.num_tensors; i++)
		same_order &= strcmp(f.tensors[i].name, m.tensors[i].name) == 0 &&
			f.tensors[i].ndim == m.tensors[i].ndim && f.tensors[i].shape[0] == m.tensors[i].shape[0];
	ok(same_order, "tensors in layout order with the model's names and shapes");
	ok(st_find(&f, "linear_in.weight") && st_find(&f, "linear_in.weight")->shape[1] == (int64_t) C * H * W,
	   "linear_in.weight is [W, C*H*W]");
	ok(st_meta(&f, "format") && strcmp(st_meta(&f, "format"), "mlpscale") == 0, "format metadata");
	diag("arch \"%s\" input_shape \"%s\" mean \"%s\" std \"%s\"", st_meta(&f, "arch"),
		 st_meta(&f, "input_shape"), st_meta(&f, "mean"), st_meta(&f, "std"));
	if (C == 3)
		ok(strcmp(st_meta(&f, "mean"), "0.4914,0.4814,0.4714") == 0, "mean written in short form");
	st_free(&f);

	st = mlp_weights_import(buf, len, NULL, &m2, &meta2, err, sizeof(err));
	if (!is_int(st, MLP_WEIGHTS_OK, "import"))
		diag("%s", err);
	else
	{
		char		a1[64],
					a2[64];

		mlp_arch_format(&m.arch, a1, sizeof(a1));
		mlp_arch_format(&m2.arch, a2, sizeof(a2));
		ok(strcmp(a1, a2) == 0 && m2.arch.in_dim == m.arch.in_dim && m2.arch.classes == classes &&
		   m2.arch.expansion == m.arch.expansion, "%s: architecture inferred (%s)", a1, a2);
		ok(m2.num_params == m.num_params &&
		   memcmp(m2.params, m.params, m.num_params * sizeof(float)) == 0,
		   "parameters round-trip bit-exactly (%zu floats)", m.num_params);
		ok(m2.grads == NULL, "imported model has no gradients");
		ok(meta2.input.channels == C && meta2.input.height == H && meta2.input.width == W,
		   "input shape from metadata");
		int			norm_ok = 1;

		for (int c = 0; c < C; c++)
			norm_ok &= meta2.mean[c] == meta.mean[c] && meta2.std[c] == meta.std[c];
		ok(norm_ok, "mean and std round-trip exactly");
		int			names_ok = meta2.num_class_names == classes && meta2.classes == classes;

		for (int i = 0; names_ok && i < classes; i++)
			names_ok &= strcmp(meta2.class_names[i], names[i]) == 0;
		ok(names_ok, "class names round-trip");
		mlp_model_free(&m2);
		mlp_model_meta_free(&meta2);
	}
	free(buf);
	mlp_model_free(&m);
}

/* A bare state dict (what torch's safetensors.save_file writes): tensors, no metadata. */
static void
test_bare_state_dict_and_overrides(void)
{
	MlpModel	m,
				m2;
	MlpModelMeta meta2;
	FileSpec	bare = {0};
	size_t		len;
	uint8_t    *buf;
	char		err[512] = "";
	MlpImportOverrides ov = {0};
	const char *names[] = {"a", "b", "c"};

	make_model(&m, "B_2-Wi_8", 2 * 3 * 4, 3, 2);
	buf = make_file(&m, &bare, &len);

	is_int(mlp_weights_import(buf, len, NULL, &m2, &meta2, err, sizeof(err)),
		   MLP_WEIGHTS_NO_INPUT_SHAPE, "bare state dict without an input shape is refused");
	diag("%s", err);
	ok(strstr(err, "24") != NULL, "the message gives the input dimension");

	ov.has_input = true;
	ov.input = (MlpImageSpec) {2, 3, 4};
	if (!is_int(mlp_weights_import(buf, len, &ov, &m2, &meta2, err, sizeof(err)), MLP_WEIGHTS_OK,
				"bare state dict with an input-shape override imports"))
		diag("%s", err);
	else
	{
		ok(meta2.mean[0] == 0.0f && meta2.mean[1] == 0.0f && meta2.std[0] == 1.0f &&
		   meta2.std[1] == 1.0f, "mean 0 and std 1 by default");
		ok(meta2.num_class_names == 0 && meta2.class_names == NULL && meta2.classes == 3,
		   "no class names by default");
		ok(memcmp(m2.params, m.params, m.num_params * sizeof(float)) == 0, "values imported");
		mlp_model_free(&m2);
		mlp_model_meta_free(&meta2);
	}

	/* overrides win over metadata */
	FileSpec	withmeta = {.meta = {"input_shape", "2,4,3", "mean", "0.1,0.2", "std", "0.5,0.6",
	"class_names", "[\"x\",\"y\",\"z\"]", NULL}};

	free(buf);
	buf = make_file(&m, &withmeta, &len);
	ov.num_mean = 2;
	ov.mean[0] = 0.3f;
	ov.mean[1] = 0.4f;
	ov.num_class_names = 3;
	ov.class_names = names;
	if (!is_int(mlp_weights_import(buf, len, &ov, &m2, &meta2, err, sizeof(err)), MLP_WEIGHTS_OK,
				"import with overrides and metadata"))
		diag("%s", err);
	else
	{
		ok(meta2.input.channels == 2 && meta2.input.height == 3 && meta2.input.width == 4,
		   "input shape override beats metadata");
		ok(meta2.mean[0] == 0.3f && meta2.mean[1] == 0.4f, "mean override beats metadata");
		ok(meta2.std[0] == 0.5f && meta2.std[1] == 0.6f, "std from metadata when not overridden");
		ok(meta2.num_class_names == 3 && strcmp(meta2.class_names[2], "c") == 0,
		   "class names override beats metadata");
		mlp_model_free(&m2);
		mlp_model_meta_free(&meta2);
	}
	/* metadata alone */
	if (is_int(mlp_weights_import(buf, len, NULL, &m2, &meta2, err, sizeof(err)), MLP_WEIGHTS_OK,
			   "import with metadata only"))
	{
		ok(meta2.input.channels == 2 && meta2.input.height == 4 && meta2.input.width == 3 &&
		   meta2.mean[1] == 0.2f && meta2.num_class_names == 3 &&
		   strcmp(meta2.class_names[0], "x") == 0, "input shape, mean and class names from metadata");
		mlp_model_free(&m2);
		mlp_model_meta_free(&meta2);
	}
	free(buf);
	mlp_model_free(&m);
}

static void
expect_status(MlpModel *m, const FileSpec *spec, const MlpImportOverrides *ov,
			  MlpWeightsStatus want, const char *what, const char *const *needles)
{
	size_t		len;
	uint8_t    *buf = make_file(m, spec, &len);
	MlpModel	m2;
	MlpModelMeta meta2;
	char		err[512] = "";
	MlpWeightsStatus st = mlp_weights_import(buf, len, ov, &m2, &meta2, err, sizeof(err));
	int			has_all = 1;

	for (int i = 0; needles && needles[i]; i++)
		has_all &= strstr(err, needles[i]) != NULL;
	if (!ok(st == want && has_all, "%s", what))
		diag("  status %d (want %d), message \"%s\"", st, want, err);
	else
		diag("  %s", err);
	ok(m2.params == NULL && m2.tensors == NULL && meta2.class_names == NULL,
	   "nothing left allocated after the failure");
	if (st == MLP_WEIGHTS_OK)
	{
		mlp_model_free(&m2);
		mlp_model_meta_free(&meta2);
	}
	free(buf);
}

static void
test_failures(void)
{
	MlpModel	m;
	MlpImportOverrides shape = {.has_input = true, .input = {3, 2, 2}};
	char		err[256];
	MlpModel	m2;
	MlpModelMeta meta2;
	uint8_t		junk[40] = {1, 2, 3};

	make_model(&m, "B_2-Wi_8", 12, 4, 3);

	is_int(mlp_weights_import(junk, sizeof(junk), &shape, &m2, &meta2, err, sizeof(err)),
		   MLP_WEIGHTS_CORRUPT, "garbage is CORRUPT");
	diag("  %s", err);

	{
		FileSpec	s = {.skip = "blocks.1.block.2.bias"};
		const char *n[] = {"blocks.1.block.2.bias", "missing", NULL};

		expect_status(&m, &s, &shape, MLP_WEIGHTS_BAD_MODEL, "missing tensor", n);
	}
	{
		FileSpec	s = {.skip = "linear_out.weight"};
		const char *n[] = {"linear_out.weight", NULL};

		expect_status(&m, &s, &shape, MLP_WEIGHTS_BAD_MODEL, "missing head", n);
	}
	{
		FileSpec	s = {.skip = "linear_in.weight"};
		const char *n[] = {"linear_in.weight", NULL};

		expect_status(&m, &s, &shape, MLP_WEIGHTS_BAD_MODEL, "missing linear_in", n);
	}
	{
		FileSpec	s = {.reshape = "layernorms.0.weight", .reshape_len = 7};
		const char *n[] = {"layernorms.0.weight", "[7]", "[8]", NULL};

		expect_status(&m, &s, &shape, MLP_WEIGHTS_BAD_MODEL, "wrong shape, both shapes named", n);
	}
	{
		FileSpec	s = {.reshape = "blocks.0.block.0.weight", .reshape_len = 32};
		const char *n[] = {"blocks.0.block.0.weight", NULL};

		expect_status(&m, &s, &shape, MLP_WEIGHTS_BAD_MODEL, "1-d first block weight", n);
	}
	{
		FileSpec	s = {.extra = "extra.weight"};
		const char *n[] = {"unexpected tensor \"extra.weight\"", NULL};

		expect_status(&m, &s, &shape, MLP_WEIGHTS_BAD_MODEL, "unexpected tensor", n);
	}
	{
		FileSpec	s = {.extra = "blocks.5.block.2.weight"};
		const char *n[] = {"blocks.5.block.2.weight", NULL};

		expect_status(&m, &s, &shape, MLP_WEIGHTS_BAD_MODEL, "stray block tensor", n);
	}
	{
		FileSpec	s = {.nan_in = "blocks.0.block.2.weight"};
		const char *n[] = {"blocks.0.block.2.weight", "NaN", NULL};

		expect_status(&m, &s, &shape, MLP_WEIGHTS_BAD_MODEL, "NaN weight", n);
	}
	{
		FileSpec	s = {.meta = {"arch", "B_3-Wi_8", NULL}};
		const char *n[] = {"B_3-Wi_8", "B_2-Wi_8", NULL};

		expect_status(&m, &s, &shape, MLP_WEIGHTS_BAD_MODEL, "arch metadata disagrees", n);
	}
	{
		FileSpec	s = {.meta = {"classes", "10", NULL}};
		const char *n[] = {"classes", NULL};

		expect_status(&m, &s, &shape, MLP_WEIGHTS_BAD_MODEL, "classes metadata disagrees", n);
	}
	{
		FileSpec	s = {0};
		const char *n[] = {"input shape", NULL};

		expect_status(&m, &s, NULL, MLP_WEIGHTS_NO_INPUT_SHAPE, "no input shape anywhere", n);
	}
	{
		FileSpec	s = {.meta = {"input_shape", "3,4,4", NULL}};
		const char *n[] = {"3,4,4", "48", "12", NULL};

		expect_status(&m, &s, NULL, MLP_WEIGHTS_BAD_MODEL, "metadata input shape disagrees, both sizes named", n);
	}
	{
		FileSpec	s = {.meta = {"input_shape", "3x2x2", NULL}};
		const char *n[] = {"3x2x2", NULL};

		expect_status(&m, &s, NULL, MLP_WEIGHTS_BAD_MODEL, "malformed input_shape metadata", n);
	}
	{
		FileSpec	s = {0};
		MlpImportOverrides ov = {.has_input = true, .input = {1, 4, 4}};
		const char *n[] = {"1,4,4", "16", "12", NULL};

		expect_status(&m, &s, &ov, MLP_WEIGHTS_BAD_ARGUMENT, "input shape override disagrees", n);
	}
	{
		FileSpec	s = {0};
		MlpImportOverrides ov = {.has_input = true, .input = {3, 2, 2}, .num_mean = 2};
		const char *n[] = {"2 mean values", "3 input channels", NULL};

		expect_status(&m, &s, &ov, MLP_WEIGHTS_BAD_ARGUMENT, "mean override of the wrong length", n);
	}
	{
		FileSpec	s = {0};
		MlpImportOverrides ov = {.has_input = true, .input = {3, 2, 2}, .num_std = 3};
		const char *n[] = {"std", "positive", NULL};

		expect_status(&m, &s, &ov, MLP_WEIGHTS_BAD_ARGUMENT, "zero std override", n);
	}
	{
		FileSpec	s = {0};
		const char *names[] = {"a", "b"};
		MlpImportOverrides ov = {.has_input = true, .input = {3, 2, 2}, .num_class_names = 2,
		.class_names = names};
		const char *n[] = {"2 class names", "4 classes", NULL};

		expect_status(&m, &s, &ov, MLP_WEIGHTS_BAD_ARGUMENT, "class names override of the wrong count", n);
	}
	{
		FileSpec	s = {.meta = {"mean", "0.1,0.2", NULL}};
		const char *n[] = {"mean", "2 values", "3 input channels", NULL};

		expect_status(&m, &s, &shape, MLP_WEIGHTS_BAD_MODEL, "mean metadata of the wrong length", n);
	}
	{
		FileSpec	s = {.meta = {"class_names", "[\"a\",\"b\"]", NULL}};
		const char *n[] = {"2 names", "4 classes", NULL};

		expect_status(&m, &s, &shape, MLP_WEIGHTS_BAD_MODEL, "class_names metadata of the wrong count", n);
	}
	{
		FileSpec	s = {.meta = {"class_names", "[\"a\",\"b\",3,\"d\"]", NULL}};
		const char *n[] = {"element 2", NULL};

		expect_status(&m, &s, &shape, MLP_WEIGHTS_BAD_MODEL, "class_names metadata with a number", n);
	}
	{
		FileSpec	s = {.meta = {"class_names", "a,b,c,d", NULL}};
		const char *n[] = {"class_names", NULL};

		expect_status(&m, &s, &shape, MLP_WEIGHTS_BAD_MODEL, "class_names metadata not JSON", n);
	}

	/* export refuses metadata inconsistent with the model */
	MlpModelMeta bad = {.input = {3, 4, 4}, .classes = 4};
	uint8_t    *buf;
	size_t		len;

	is_int(mlp_weights_export(&m, &bad, &buf, &len, err, sizeof(err)), MLP_WEIGHTS_BAD_ARGUMENT,
		   "export with an input shape that does not match is refused");
	diag("  %s", err);
	mlp_model_free(&m);

	/* a standard MLP's file whose expansion does not divide: B_ with 12-row first block */
	make_model(&m, "B_1-Wi_8-X_2", 12, 4, 4);
	{
		FileSpec	s = {.meta = {"input_shape", "3,2,2", NULL}};
		size_t		l;
		uint8_t    *b = make_file(&m, &s, &l);

		if (is_int(mlp_weights_import(b, l, NULL, &m2, &meta2, err, sizeof(err)), MLP_WEIGHTS_OK,
				   "expansion 2 is inferred"))
		{
			ok(m2.arch.expansion == 2, "expansion is 2");
			mlp_model_free(&m2);
			mlp_model_meta_free(&meta2);
		}
		free(b);
	}
	mlp_model_free(&m);
}

/* Mutated exports (mostly in the header, where names and metadata are) never crash import. */
static void
test_fuzz(void)
{
	MlpModel	m;
	MlpModelMeta meta = {.input = {3, 2, 2}, .classes = 3, .mean = {0.5f, 0.5f, 0.5f},
	.std = {0.25f, 0.25f, 0.25f}, .num_class_names = 3};
	const char *names[] = {"cat", "dog", "bird"};
	uint8_t    *valid,
			   *buf;
	size_t		vlen,
				header_end;
	char		err[512];
	MlpRng		r;
	int			counts[6] = {0},
				no_message = 0;

	make_model(&m, "B_1-Wi_4", 12, 3, 5);
	meta.class_names = (char **) names;
	mlp_weights_export(&m, &meta, &valid, &vlen, err, sizeof(err));
	header_end = 8;
	for (int i = 0; i < 8; i++)
		header_end += (size_t) valid[i] << (8 * i);
	buf = malloc(vlen);
	mlp_rng_seed(&r, 31, 0);
	for (int iter = 0; iter < 3000; iter++)
	{
		size_t		len = vlen;
		MlpModel	m2;
		MlpModelMeta meta2;
		MlpWeightsStatus st;

		memcpy(buf, valid, vlen);
		for (int k = 0, n = 1 + (int) mlp_rng_below(&r, 4); k < n; k++)
		{
			static const char interesting[] = "{}[]\",:0123456789-.e ,";

			buf[8 + mlp_rng_below(&r, header_end - 8)] = mlp_rng_below(&r, 2)
				? (uint8_t) interesting[mlp_rng_below(&r, sizeof(interesting) - 1)]
				: (uint8_t) mlp_rng_below(&r, 256);
		}
		if (mlp_rng_below(&r, 8) == 0)
			len = mlp_rng_below(&r, vlen + 1);
		err[0] = '\0';
		st = mlp_weights_import(buf, len, NULL, &m2, &meta2, err, sizeof(err));
		if (st <= 0 && st >= -5)
			counts[-st]++;
		if (st == MLP_WEIGHTS_OK)
		{
			mlp_model_free(&m2);
			mlp_model_meta_free(&meta2);
		}
		else if (err[0] == '\0')
			no_message++;
	}
	diag("fuzz: %d imported, %d corrupt, %d bad model, %d no input shape, %d bad argument",
		 counts[0], counts[1], counts[2], counts[3], counts[4]);
	ok(counts[0] > 0 && counts[1] > 0 && counts[2] > 0, "mutated exports are imported or refused, never crash");
	is_int(no_message, 0, "every refusal has a message");
	free(buf);
	free(valid);
	mlp_model_free(&m);
}

#ifdef __SANITIZE_ADDRESS__
/* Under ASan, an allocation above 4 GiB returns NULL (as the rlimit below does otherwise). */
const char *__asan_default_options(void);
const char *
__asan_default_options(void)
{
	return "max_allocation_size_mb=4096:allocator_may_return_null=1";
}
#endif

/*
 * Found by test/fuzz/fuzz_weights: a 16 KB file whose linear_in.weight says width 16384 and
 * whose blocks.0.block.0.weight is an empty [65536, 0] made the import allocate and zero the
 * 2^31 parameters of B_1-Wi_16384 (8 GiB) before finding that the tensors are missing.  The
 * shapes must be checked before anything of the model's size is allocated, so memory stays
 * proportional to the file.  Allocations are capped at 4 GiB here, so the old code fails with
 * "out of memory" instead of taking the machine's memory.
 */
static void
test_small_file_large_model(void)
{
	const int	W = 16384;
	char		header[512];
	size_t		hlen,
				len;
	uint8_t    *buf;
	MlpModel	m;
	MlpModelMeta meta;
	char		err[512] = "";
	MlpWeightsStatus st;
	struct rlimit saved;
	bool		limited = false;

	snprintf(header, sizeof(header),
			 "{\"linear_in.weight\":{\"dtype\":\"U8\",\"shape\":[%d,1],\"data_offsets\":[0,%d]},"
			 "\"blocks.0.block.0.weight\":{\"dtype\":\"U8\",\"shape\":[%d,0],\"data_offsets\":[%d,%d]},"
			 "\"linear_out.weight\":{\"dtype\":\"U8\",\"shape\":[1,0],\"data_offsets\":[%d,%d]}}",
			 W, W, 4 * W, W, W, W, W);
	hlen = strlen(header);
	len = 8 + hlen + (size_t) W;
	buf = calloc(1, len);
	for (int i = 0; i < 8; i++)
		buf[i] = (uint8_t) ((uint64_t) hlen >> (8 * i));
	memcpy(buf + 8, header, hlen);

#ifndef __SANITIZE_ADDRESS__
	if (getrlimit(RLIMIT_AS, &saved) == 0)
	{
		struct rlimit lim = saved;

		lim.rlim_cur = (rlim_t) 4 << 30;
		if (saved.rlim_max == RLIM_INFINITY || saved.rlim_max > lim.rlim_cur)
			limited = setrlimit(RLIMIT_AS, &lim) == 0;
	}
#endif
	st = mlp_weights_import(buf, len, NULL, &m, &meta, err, sizeof(err));
	if (limited)
		setrlimit(RLIMIT_AS, &saved);
	is_int(st, MLP_WEIGHTS_BAD_MODEL, "a 16 KB file claiming B_1-Wi_16384 is refused as a bad model");
	ok(strstr(err, "tensor linear_in.bias of architecture B_1-Wi_16384 is missing") != NULL,
	   "before its 8 GiB of parameters are allocated (%s)", err);
	if (st == MLP_WEIGHTS_OK)
	{
		mlp_model_free(&m);
		mlp_model_meta_free(&meta);
	}
	free(buf);
}

int
main(void)
{
	test_round_trip("B_2-Wi_16", 3, 4, 4, 10);
	test_round_trip("B_1-Wi_8-X_2", 1, 5, 3, 3);
	test_round_trip("S_3-Wi_12", 3, 2, 2, 4);
	test_round_trip("S_1-Wi_8", 2, 2, 2, 2);
	test_bare_state_dict_and_overrides();
	test_failures();
	test_fuzz();
	test_small_file_large_model();
	return tap_done();
}
