/*
 * test_fixtures.c - the C core against PyTorch on the golden fixtures of
 * test/fixtures/make_fixtures.py: logits, loss, every gradient, and the parameters after
 * three LION and three AdamW steps.
 *
 * Fixture files are found in $MLPSCALE_FIXTURES, by default test/fixtures (run from the
 * repository root, as `make unit` and CI do).  The fixture models are also exported as
 * safetensors and imported back; with $MLPSCALE_EXPORT_DIR set the exports are written there
 * as <case>.safetensors, which `make_fixtures.py --check-export` loads into PyTorch with
 * load_state_dict(strict=True).
 *
 * Tolerances.  The fixtures are PyTorch computed in float64 from float32 weights and inputs,
 * i.e. the exact answer; we compute in float32.  Every element must satisfy
 *     |got - want| <= RTOL * |want| + ATOL_REL * max|want over the tensor|
 * with RTOL = 1e-5 and ATOL_REL = 1e-5.  The relative part is what float32 arithmetic through
 * a few layers achieves (a few ulp of 6e-8 per operation, growing with depth); the absolute
 * floor, scaled by the tensor's own magnitude, covers elements that are the small difference
 * of large terms (a gradient entry near zero has an absolute error like its neighbours but
 * an unbounded relative one).
 * LION takes sign(b1 m + (1 - b1) g): where that argument is ~0, float32 rounding may flip
 * the sign and move a parameter by 2 lr in that step.  The fixtures store, per element, the
 * smallest |argument| over the three steps; an element whose margin is below
 * LION_MARGIN_REL * max|margin| may differ by up to 2 lr per step (6 lr), every other element
 * gets the normal tolerance, and fewer than 1% of elements may be in that exempt set.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "loss.h"
#include "model.h"
#include "optimizer.h"
#include "tap.h"
#include "weights.h"

#define RTOL 1e-5
#define ATOL_REL 1e-5
#define LION_MARGIN_REL 1e-4

typedef struct Rec
{
	char		name[128];
	int			dtype;			/* 0 float32, 1 int32, 2 float64 */
	int			ndim;
	uint32_t	dims[4];
	size_t		numel;
	void	   *data;
} Rec;

typedef struct Fixture
{
	int			count;
	Rec		   *recs;
} Fixture;

static void
fixture_free(Fixture *f)
{
	for (int i = 0; i < f->count; i++)
		free(f->recs[i].data);
	free(f->recs);
	memset(f, 0, sizeof(*f));
}

static int
read_u32(FILE *fp, uint32_t *v)
{
	unsigned char b[4];

	if (fread(b, 1, 4, fp) != 4)
		return -1;
	*v = b[0] | (uint32_t) b[1] << 8 | (uint32_t) b[2] << 16 | (uint32_t) b[3] << 24;
	return 0;
}

/* Reads the whole file; -1 with a message on any malformation. */
static int
fixture_read(const char *path, Fixture *f, char *err, int errlen)
{
	FILE	   *fp = fopen(path, "rb");
	char		magic[8];
	uint32_t	count;

	memset(f, 0, sizeof(*f));
	if (fp == NULL)
	{
		snprintf(err, errlen, "cannot open %s: %s (set MLPSCALE_FIXTURES or run from the repository root)",
				 path, strerror(errno));
		return -1;
	}
	if (fread(magic, 1, 8, fp) != 8 || memcmp(magic, "MLPFIX01", 8) != 0 ||
		read_u32(fp, &count) != 0 || count > 10000)
		goto bad;
	f->recs = calloc(count, sizeof(Rec));
	for (uint32_t i = 0; i < count; i++)
	{
		Rec		   *r = &f->recs[i];
		uint32_t	nlen,
					dtype,
					ndim;
		size_t		esize;

		if (read_u32(fp, &nlen) != 0 || nlen >= sizeof(r->name) ||
			fread(r->name, 1, nlen, fp) != nlen ||
			read_u32(fp, &dtype) != 0 || dtype > 2 || read_u32(fp, &ndim) != 0 || ndim > 4)
			goto bad;
		r->dtype = (int) dtype;
		r->ndim = (int) ndim;
		r->numel = 1;
		for (uint32_t d = 0; d < ndim; d++)
		{
			if (read_u32(fp, &r->dims[d]) != 0)
				goto bad;
			r->numel *= r->dims[d];
		}
		esize = dtype == 2 ? 8 : 4;
		r->data = malloc(esize * (r->numel ? r->numel : 1));
		if (fread(r->data, esize, r->numel, fp) != r->numel)
			goto bad;
		f->count++;
	}
	fclose(fp);
	return 0;

bad:
	snprintf(err, errlen, "%s is not a valid fixture file (truncated or corrupt)", path);
	fclose(fp);
	fixture_free(f);
	return -1;
}

static const Rec *
find(const Fixture *f, const char *name)
{
	for (int i = 0; i < f->count; i++)
		if (strcmp(f->recs[i].name, name) == 0)
			return &f->recs[i];
	return NULL;
}

static double
scalar(const Fixture *f, const char *name)
{
	const Rec  *r = find(f, name);

	if (r == NULL)
		return NAN;
	if (r->dtype == 2)
		return ((double *) r->data)[0];
	if (r->dtype == 1)
		return ((int32_t *) r->data)[0];
	return ((float *) r->data)[0];
}

/*
 * The tensor comparison: prints the worst relative and absolute errors and the element.
 * margin (may be NULL) marks LION's sign-ambiguous elements, which may be off by up to slack.
 */
static int
compare(const char *what, const char *name, const float *got, const Rec *want,
		const float *margin, double slack)
{
	const float *w = want->data;
	double		wmax = 0,
				mmax = 0,
				worst_ratio = 0,
				worst_abs = 0,
				worst_rel = 0;
	size_t		wi = 0,
				exempt = 0,
				flipped = 0;
	int			good = 1;

	for (size_t i = 0; i < want->numel; i++)
		wmax = fmax(wmax, fabs(w[i]));
	if (margin)
		for (size_t i = 0; i < want->numel; i++)
			if (isfinite(margin[i]))
				mmax = fmax(mmax, fabs(margin[i]));
	for (size_t i = 0; i < want->numel; i++)
	{
		double		e = fabs((double) got[i] - w[i]);
		double		tol = RTOL * fabs(w[i]) + ATOL_REL * wmax;

		if (margin && margin[i] < LION_MARGIN_REL * mmax)
		{
			exempt++;
			flipped += e > tol;
			if (e > tol + slack)
				good = 0;
			continue;
		}
		if (!(e <= tol))
			good = 0;
		if (e / tol > worst_ratio || isnan(e))
		{
			worst_ratio = isnan(e) ? INFINITY : e / tol;
			wi = i;
		}
		worst_abs = fmax(worst_abs, e);
		if (fabs(w[i]) > 0)
			worst_rel = fmax(worst_rel, e / fabs(w[i]));
	}
	if (margin && exempt * 100 > want->numel)
		good = 0;
	ok(good, "%s %s: %zu values, worst abs %.3g (%.3g of max %.3g), worst rel %.3g",
	   what, name, want->numel, worst_abs, wmax > 0 ? worst_abs / wmax : 0.0, wmax, worst_rel);
	if (exempt)
		diag("  %zu elements with a LION sign margin below %g x max, %zu of them off by a step",
			 exempt, LION_MARGIN_REL, flipped);
	if (!good)
	{
		diag("  worst element %zu: got %.9g want %.9g (%.2f of the tolerance %g rel + %g x max)",
			 wi, got[wi], w[wi], worst_ratio, RTOL, ATOL_REL);
		if (margin)
			diag("  at most %zu sign-ambiguous elements are allowed", want->numel / 100);
	}
	return good;
}

/* Copies every "param:NAME" record into the model; all tensors must be covered. */
static int
load_params(MlpModel *m, const Fixture *f, const char *prefix)
{
	int			loaded = 0;
	char		key[160];

	for (int t = 0; t < m->num_tensors; t++)
	{
		const MlpTensor *mt = &m->tensors[t];
		const Rec  *r;

		snprintf(key, sizeof(key), "%s%s", prefix, mt->name);
		r = find(f, key);
		if (r == NULL || r->dtype != 0 || r->ndim != mt->ndim || r->dims[0] != mt->shape[0] ||
			(mt->ndim == 2 && r->dims[1] != mt->shape[1]))
		{
			diag("fixture record %s missing or of the wrong shape", key);
			return -1;
		}
		memcpy(m->params + mt->offset, r->data, sizeof(float) * mt->numel);
		loaded++;
	}
	/* and nothing in the fixture that the model lacks */
	for (int i = 0; i < f->count; i++)
		if (strncmp(f->recs[i].name, prefix, strlen(prefix)) == 0 &&
			mlp_model_find_tensor(m, f->recs[i].name + strlen(prefix)) == NULL)
		{
			diag("fixture tensor %s has no counterpart in the model", f->recs[i].name);
			return -1;
		}
	return loaded;
}

/* Forward, loss and gradient at the current parameters. */
static MlpLossResult
step_grads(MlpModel *m, MlpActivations *acts, const Fixture *f, float *logits, float *dlogits)
{
	const Rec  *x = find(f, "input");
	int			B = (int) x->dims[0];
	MlpLossResult r;

	mlp_model_forward(m, acts, x->data, B, logits);
	r = mlp_softmax_xent(logits, B, m->arch.classes, find(f, "label_a")->data,
						 find(f, "label_b")->data, (float) scalar(f, "lam"),
						 (float) scalar(f, "smoothing"), dlogits);
	mlp_model_zero_grads(m);
	mlp_model_backward(m, acts, x->data, dlogits, B);
	return r;
}

static void
run_optimizer(MlpModel *m, MlpActivations *acts, const Fixture *f, MlpOptKind kind,
			  const char *tag, float *logits, float *dlogits)
{
	MlpOptConfig cfg;
	MlpOptimizer o;
	char		err[256],
				key[160],
				lrkey[64],
				wdkey[64],
				what[64];

	snprintf(lrkey, sizeof(lrkey), "%s_lr", tag);
	snprintf(wdkey, sizeof(wdkey), "%s_wd", tag);
	if (find(f, lrkey) == NULL)
		return;
	load_params(m, f, "param:");
	mlp_opt_defaults(&cfg, kind, m->num_params);
	cfg.lr = (float) scalar(f, lrkey);
	cfg.weight_decay = (float) scalar(f, wdkey);
	if (!ok(mlp_opt_create(&o, &cfg, m->num_params, err, sizeof(err)) == 0, "%s optimizer", tag))
		return;
	for (int s = 0; s < 3; s++)
	{
		step_grads(m, acts, f, logits, dlogits);
		mlp_opt_step(&o, m->params, m->grads, cfg.lr);
	}
	snprintf(what, sizeof(what), "after 3 %s steps", tag);
	for (int t = 0; t < m->num_tensors; t++)
	{
		const MlpTensor *mt = &m->tensors[t];
		const Rec  *want,
				   *margin = NULL;

		snprintf(key, sizeof(key), "%s:%s", tag, mt->name);
		want = find(f, key);
		if (kind == MLP_OPT_LION)
		{
			snprintf(key, sizeof(key), "lion_margin:%s", mt->name);
			margin = find(f, key);
		}
		if (!ok(want != NULL && want->numel == mt->numel, "fixture has %s:%s", tag, mt->name))
			continue;
		compare(what, mt->name, m->params + mt->offset, want, margin ? margin->data : NULL,
				6.0 * cfg.lr);
	}
	mlp_opt_free(&o);
}

/*
 * Export to safetensors, import back, and check the imported model scores the fixture input
 * exactly as the original; optionally leave the file for PyTorch to read.
 */
static void
check_export(const MlpModel *m, const Fixture *f, const char *file)
{
	const Rec  *x = find(f, "input");
	int			B = (int) x->dims[0];
	MlpModelMeta meta;
	MlpModel	back;
	MlpModelMeta back_meta;
	MlpImportOverrides ov;
	uint8_t    *buf = NULL;
	size_t		len = 0;
	char		err[512];
	const char *outdir = getenv("MLPSCALE_EXPORT_DIR");
	float	   *l1 = malloc(sizeof(float) * B * m->arch.classes),
			   *l2 = malloc(sizeof(float) * B * m->arch.classes),
			   *scratch = malloc(sizeof(float) * mlp_model_scratch_floats(m, B));

	memset(&meta, 0, sizeof(meta));
	memset(&ov, 0, sizeof(ov));
	meta.input.channels = 3;
	meta.input.height = meta.input.width = 8;
	meta.classes = m->arch.classes;
	for (int c = 0; c < 3; c++)
		meta.std[c] = 1.0f;
	MlpWeightsStatus st = mlp_weights_export(m, &meta, &buf, &len, err, sizeof(err));

	if (!ok(st == MLP_WEIGHTS_OK, "%s: safetensors export (%zu bytes)", file, len))
	{
		diag("%s", err);
		goto done;
	}
	if (ok(mlp_weights_import(buf, len, &ov, &back, &back_meta, err, sizeof(err)) == MLP_WEIGHTS_OK,
		   "%s: import of the export", file))
	{
		mlp_model_infer(m, x->data, B, l1, scratch);
		mlp_model_infer(&back, x->data, B, l2, scratch);
		ok(back.num_params == m->num_params &&
		   memcmp(l1, l2, sizeof(float) * B * m->arch.classes) == 0,
		   "%s: the imported model gives identical logits", file);
		mlp_model_free(&back);
		mlp_model_meta_free(&back_meta);
	}
	else
		diag("%s", err);
	if (outdir && outdir[0])
	{
		char		path[1024];
		FILE	   *fp;
		char		base[256];

		snprintf(base, sizeof(base), "%s", file);
		if (strrchr(base, '.'))
			*strrchr(base, '.') = '\0';
		snprintf(path, sizeof(path), "%s/%s.safetensors", outdir, base);
		fp = fopen(path, "wb");
		ok(fp && fwrite(buf, 1, len, fp) == len && fclose(fp) == 0, "wrote %s", path);
	}
done:
	free(buf);
	free(l1);
	free(l2);
	free(scratch);
}

static void
run_case(const char *dir, const char *file)
{
	char		path[1024],
				err[1400],
				archs[64] = "";
	Fixture		f;
	const Rec  *ar,
			   *x,
			   *want_logits;
	MlpArch		arch;
	MlpModel	m;
	MlpActivations acts;
	float	   *logits,
			   *dlogits;
	MlpLossResult r;
	int			B;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (!ok(fixture_read(path, &f, err, sizeof(err)) == 0, "read %s", path))
	{
		diag("%s", err);
		return;
	}
	ar = find(&f, "arch");
	for (size_t i = 0; ar && i < ar->numel && i < sizeof(archs) - 1; i++)
		archs[i] = (char) ((int32_t *) ar->data)[i];
	if (!ok(mlp_arch_parse(archs, &arch, err, sizeof(err)) == 0, "%s: architecture %s", file, archs))
	{
		fixture_free(&f);
		return;
	}
	arch.in_dim = (int64_t) scalar(&f, "in_dim");
	arch.classes = (int) scalar(&f, "classes");
	x = find(&f, "input");
	want_logits = find(&f, "logits");
	B = (int) x->dims[0];
	if (mlp_model_create(&m, &arch, true, err, sizeof(err)) != 0 ||
		mlp_activations_create(&acts, &m, B, err, sizeof(err)) != 0)
	{
		ok(0, "%s: model: %s", file, err);
		fixture_free(&f);
		return;
	}
	is_int(load_params(&m, &f, "param:"), m.num_tensors, "all parameters loaded by name");

	logits = malloc(sizeof(float) * want_logits->numel);
	dlogits = malloc(sizeof(float) * want_logits->numel);
	r = step_grads(&m, &acts, &f, logits, dlogits);
	compare(archs, "logits", logits, want_logits, NULL, 0);
	is_close(r.loss, scalar(&f, "loss"), RTOL, 0, "loss with label smoothing 0.3 and MixUp");
	diag("loss %.9g, PyTorch %.9g", r.loss, scalar(&f, "loss"));
	for (int t = 0; t < m.num_tensors; t++)
	{
		char		key[160];
		const Rec  *g;

		snprintf(key, sizeof(key), "grad:%s", m.tensors[t].name);
		g = find(&f, key);
		if (ok(g != NULL && g->numel == m.tensors[t].numel, "fixture has %s", key))
			compare(archs, key, m.grads + m.tensors[t].offset, g, NULL, 0);
	}
	/* inference path on the same weights */
	{
		float	   *scratch = malloc(sizeof(float) * mlp_model_scratch_floats(&m, B));

		mlp_model_infer(&m, x->data, B, logits, scratch);
		compare("inference", "logits", logits, want_logits, NULL, 0);
		free(scratch);
	}
	check_export(&m, &f, file);
	run_optimizer(&m, &acts, &f, MLP_OPT_LION, "lion", logits, dlogits);
	run_optimizer(&m, &acts, &f, MLP_OPT_ADAMW, "adamw", logits, dlogits);

	free(logits);
	free(dlogits);
	mlp_activations_free(&acts);
	mlp_model_free(&m);
	fixture_free(&f);
}

int
main(void)
{
	const char *dir = getenv("MLPSCALE_FIXTURES");
	char		err[256];

	if (dir == NULL || dir[0] == '\0')
		dir = "test/fixtures";
	if (mlp_blas_init(err, sizeof(err)) != 0)
	{
		ok(0, "OpenBLAS loads: %s", err);
		return tap_done();
	}
	run_case(dir, "b2_wi32.bin");
	run_case(dir, "s3_wi16.bin");
	return tap_done();
}
