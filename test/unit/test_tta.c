/*
 * test_tta.c - test-time augmentation of evaluate.h: one identity view is plain evaluation
 * bit for bit; the views' probabilities (not logits) are averaged; the views of an image
 * come from the stream (seed, image number) only, so results repeat for a seed, change with
 * it, and do not depend on how the images are cut into calls.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "blas.h"
#include "evaluate.h"
#include "rng.h"
#include "status.h"
#include "tap.h"

#define N_IMG 11
#define CLASSES 12

/* A small random model with input 3 x 6 x 6, and N_IMG random images of size `in`. */
typedef struct Fixture
{
	MlpModel	m;
	MlpImageSpec in;
	MlpImageSpec out;
	uint8_t    *images;
	int32_t		labels[N_IMG];
} Fixture;

static void
fixture_make(Fixture *f, MlpImageSpec in)
{
	char		err[MLP_ERRBUF];
	MlpArch		arch;
	MlpRng		rng;
	size_t		bytes = (size_t) in.channels * in.height * in.width;

	f->in = in;
	f->out = (MlpImageSpec) {3, 6, 6};
	if (mlp_arch_parse("B_1-Wi_16", &arch, err, sizeof(err)) != 0)
		diag("arch: %s", err);
	arch.in_dim = 3 * 6 * 6;
	arch.classes = CLASSES;
	if (mlp_model_create(&f->m, &arch, false, err, sizeof(err)) != 0)
		diag("model: %s", err);
	mlp_rng_seed(&rng, 11, 0);
	mlp_model_init_weights(&f->m, &rng);
	f->images = malloc(bytes * N_IMG);
	for (size_t k = 0; k < bytes * N_IMG; k++)
		f->images[k] = (uint8_t) mlp_rng_below(&rng, 256);
	for (int i = 0; i < N_IMG; i++)
		f->labels[i] = (int32_t) mlp_rng_below(&rng, CLASSES);
}

static void
fixture_free(Fixture *f)
{
	free(f->images);
	mlp_model_free(&f->m);
}

static void
fixture_aug(const Fixture *f, MlpAugmentConfig *aug)
{
	mlp_tta_augment_defaults(aug, f->in, f->out);
	for (int c = 0; c < 3; c++)
	{
		aug->mean[c] = 0.45f + 0.01f * c;
		aug->std[c] = 0.25f;
	}
}

static size_t
image_bytes(const Fixture *f)
{
	return (size_t) f->in.channels * f->in.height * f->in.width;
}

/*
 * mlp_eval_add_tta over the fixture's images in calls of `chunk` images; x, when not NULL,
 * receives every view [N_IMG * views, in_dim].
 */
static MlpStatus
run_tta(const Fixture *f, const MlpAugmentConfig *aug, int views, uint64_t seed, int chunk,
		MlpEvalTotals *tot, float *all_x)
{
	int64_t		D = f->m.arch.in_dim;
	float	   *x = malloc(sizeof(float) * chunk * views * D);
	float	   *logits = malloc(sizeof(float) * chunk * views * CLASSES);
	float	   *scratch = malloc(sizeof(float) * mlp_model_scratch_floats(&f->m, chunk * views));
	MlpStatus	st = MLP_OK;
	MlpError	err;

	memset(tot, 0, sizeof(*tot));
	for (int start = 0; start < N_IMG && st == MLP_OK; start += chunk)
	{
		int			B = N_IMG - start < chunk ? N_IMG - start : chunk;

		st = mlp_eval_add_tta(tot, &f->m, aug, views, seed, start,
							  f->images + (size_t) start * image_bytes(f), B,
							  f->labels + start, x, logits, scratch, &err);
		if (st != MLP_OK)
			diag("tta: %s", err.message);
		if (all_x)
			memcpy(all_x + (size_t) start * views * D, x, sizeof(float) * B * views * D);
	}
	free(x);
	free(logits);
	free(scratch);
	return st;
}

/* Plain evaluation (mlp_preprocess_image, mlp_eval_add_batch) in calls of `chunk` images. */
static void
run_plain(const Fixture *f, int chunk, MlpEvalTotals *tot)
{
	int64_t		D = f->m.arch.in_dim;
	MlpAugmentConfig pre;
	float	   *x = malloc(sizeof(float) * chunk * D);
	float	   *logits = malloc(sizeof(float) * chunk * CLASSES);
	float	   *scratch = malloc(sizeof(float) * mlp_model_scratch_floats(&f->m, chunk));

	fixture_aug(f, &pre);
	memset(tot, 0, sizeof(*tot));
	for (int start = 0; start < N_IMG; start += chunk)
	{
		int			B = N_IMG - start < chunk ? N_IMG - start : chunk;

		for (int i = 0; i < B; i++)
			mlp_preprocess_image(&pre, f->images + (size_t) (start + i) * image_bytes(f),
								 x + (size_t) i * D);
		mlp_eval_add_batch(tot, &f->m, x, B, f->labels + start, logits, scratch);
	}
	free(x);
	free(logits);
	free(scratch);
}

static int
same_totals(const MlpEvalTotals *a, const MlpEvalTotals *b)
{
	return a->loss_sum == b->loss_sum && a->correct == b->correct &&
		a->correct_top5 == b->correct_top5 && a->n == b->n;
}

/* One view without crop and flip is the preprocessed image: plain evaluation, bit for bit. */
static void
test_identity_view(MlpImageSpec in, const char *what)
{
	Fixture		f;
	MlpAugmentConfig aug;
	MlpEvalTotals plain,
				tta;
	const int	chunks[3] = {1, 4, N_IMG};

	fixture_make(&f, in);
	fixture_aug(&f, &aug);
	aug.random_crop = false;
	aug.flip = false;
	for (int k = 0; k < 3; k++)
	{
		run_plain(&f, chunks[k], &plain);
		run_tta(&f, &aug, 1, 99, chunks[k], &tta, NULL);
		ok(same_totals(&plain, &tta),
		   "%s, calls of %d images: one identity view gives plain evaluation's totals exactly",
		   what, chunks[k]);
		if (!same_totals(&plain, &tta))
			diag("  loss %.17g vs %.17g, top-1 %lld vs %lld, top-5 %lld vs %lld",
				 tta.loss_sum, plain.loss_sum, (long long) tta.correct,
				 (long long) plain.correct, (long long) tta.correct_top5,
				 (long long) plain.correct_top5);
	}
	/* the comparison must see misses and hits, or it would not compare ranks */
	ok(plain.correct_top5 > plain.correct && plain.correct_top5 < N_IMG,
	   "%s: the images have top-5 hits that are not top-1 and top-5 misses (%lld, %lld of %d)",
	   what, (long long) plain.correct, (long long) plain.correct_top5, N_IMG);

	/*
	 * Three equal views average to the same probabilities.  The product of 12 rows rounds
	 * differently from that of 4 (OpenBLAS), hence float precision here.
	 */
	run_tta(&f, &aug, 3, 99, 4, &tta, NULL);
	run_plain(&f, 4, &plain);
	is_close(tta.loss_sum, plain.loss_sum, 1e-6, 0, "three identical views: the loss of one");
	ok(tta.correct == plain.correct && tta.correct_top5 == plain.correct_top5 && tta.n == N_IMG,
	   "three identical views: the ranks of one, each image counted once");
	fixture_free(&f);
}

/*
 * Three views of three classes where averaging probabilities and averaging logits disagree:
 * one view very sure of class 0 (logits 10, 0, 0), two fairly sure of class 1 (0, 4, 0).
 * Mean logits (10/3, 8/3, 0) pick class 0; mean probabilities pick class 1:
 *   p0 = (e^10 / (e^10 + 2) + 2 / (e^4 + 2)) / 3      ~ 0.3451
 *   p1 = (1 / (e^10 + 2) + 2 e^4 / (e^4 + 2)) / 3     ~ 0.6431
 */
static void
test_probabilities_averaged(void)
{
	const float view_logits[3][3] = {{10, 0, 0}, {0, 4, 0}, {0, 4, 0}};
	float		logits[2 * 3 * 3];
	const int32_t labels[2] = {1, 0};
	double		e10 = exp(10.0),
				e4 = exp(4.0);
	double		p0 = (e10 / (e10 + 2) + 2 / (e4 + 2)) / 3;
	double		p1 = (1 / (e10 + 2) + 2 * e4 / (e4 + 2)) / 3;
	double		logit_mean_p1 = exp(8.0 / 3) / (exp(10.0 / 3) + exp(8.0 / 3) + 1);
	MlpEvalTotals one = {0},
				two = {0};
	MlpError	err;

	/* two images with the same views, labels 1 and 0 */
	for (int i = 0; i < 2; i++)
		memcpy(logits + i * 9, view_logits, sizeof(view_logits));
	ok(mlp_eval_add_views(&one, logits, 1, 3, 3, labels, &err) == MLP_OK, "three views of one image");
	is_int(one.correct, 1, "label 1: top-1 by the mean probability (the mean logit says 0)");
	is_close(one.loss_sum, -log(p1), 1e-12, 0, "label 1: loss -log(mean probability)");
	ok(fabs(-log(p1) - -log(logit_mean_p1)) > 0.5,
	   "the hand values tell the two apart (%.4f against %.4f)", -log(p1), -log(logit_mean_p1));

	ok(mlp_eval_add_views(&two, logits, 2, 3, 3, labels, &err) == MLP_OK, "two images of three views");
	is_int(two.n, 2, "two images counted, not six views");
	is_int(two.correct, 1, "label 0: not top-1");
	is_int(two.correct_top5, 2, "three classes: both top-5");
	is_close(two.loss_sum, -log(p1) - log(p0), 1e-12, 0, "loss sum -log(p1) - log(p0)");

	/* probabilities far below float's range still average (the log domain) */
	{
		const float tiny[2][2] = {{0, -300}, {0, -200}};
		const int32_t lab[1] = {1};
		MlpEvalTotals t = {0};
		double		want = -(-200.0 + log1p(exp(-100.0)) - log(2.0));

		mlp_eval_add_views(&t, &tiny[0][0], 1, 2, 2, lab, &err);
		is_close(t.loss_sum, want, 1e-12, 0, "probabilities of e^-200 and e^-300 average without underflow");
	}

	ok(mlp_eval_add_views(&one, logits, 1, 0, 3, labels, &err) == MLP_ERR_INVALID_ARGUMENT &&
	   strstr(err.message, "between 1 and 64, not 0") != NULL, "0 views refused: %s", err.message);
	ok(mlp_eval_add_views(&one, logits, 1, MLP_TTA_MAX_VIEWS + 1, 3, labels, &err) ==
	   MLP_ERR_INVALID_ARGUMENT && one.n == 1, "65 views refused, totals unchanged");
}

/* The whole pipeline against views drawn by hand and probabilities averaged here. */
static void
test_against_reference(void)
{
	Fixture		f;
	MlpAugmentConfig aug;
	MlpEvalTotals tot;
	int			views = 5;
	int64_t		D;
	float	   *x,
			   *want_x,
			   *logits,
			   *scratch;
	double		want_loss = 0.0,
				logit_mean_loss = 0.0;
	int			want_top1 = 0;
	int			views_differ = 0;
	int			chunk = 4;

	fixture_make(&f, (MlpImageSpec) {3, 9, 7});
	fixture_aug(&f, &aug);
	D = f.m.arch.in_dim;
	x = malloc(sizeof(float) * N_IMG * views * D);
	want_x = malloc(sizeof(float) * N_IMG * views * D);
	logits = malloc(sizeof(float) * N_IMG * views * CLASSES);
	scratch = malloc(sizeof(float) * mlp_model_scratch_floats(&f.m, chunk * views));
	ok(run_tta(&f, &aug, views, 12345, chunk, &tot, x) == MLP_OK,
	   "five views of 9x7 images for a 6x6 model");

	for (int i = 0; i < N_IMG; i++)
	{
		MlpRng		rng;
		float	   *vx = want_x + (size_t) i * views * D;

		mlp_rng_seed(&rng, 12345, (uint64_t) i);
		for (int v = 0; v < views; v++)
			mlp_augment_image(&aug, f.images + (size_t) i * image_bytes(&f), vx + v * D, &rng);
		for (int v = 1; v < views; v++)
			views_differ += memcmp(vx, vx + v * D, sizeof(float) * D) != 0;
	}
	/* products of the same rows as run_tta's, so that the logits are the same bits */
	for (int start = 0; start < N_IMG; start += chunk)
	{
		int			B = N_IMG - start < chunk ? N_IMG - start : chunk;

		mlp_model_infer(&f.m, want_x + (size_t) start * views * D, B * views,
						logits + (size_t) start * views * CLASSES, scratch);
	}
	for (int i = 0; i < N_IMG; i++)
	{
		double		mean[CLASSES] = {0},
					zmean[CLASSES] = {0},
					zs = 0.0;
		int			best = 0,
					a = f.labels[i];

		for (int v = 0; v < views; v++)
		{
			const float *z = logits + ((size_t) i * views + v) * CLASSES;
			double		s = 0.0;

			for (int c = 0; c < CLASSES; c++)
				s += exp((double) z[c]);
			for (int c = 0; c < CLASSES; c++)
			{
				mean[c] += exp((double) z[c]) / s / views;
				zmean[c] += (double) z[c] / views;
			}
		}
		for (int c = 1; c < CLASSES; c++)
			if (mean[c] > mean[best])
				best = c;
		for (int c = 0; c < CLASSES; c++)
			zs += exp(zmean[c]);
		want_top1 += best == a;
		want_loss += -log(mean[a]);
		logit_mean_loss += -(zmean[a] - log(zs));
	}
	ok(memcmp(x, want_x, sizeof(float) * N_IMG * views * D) == 0,
	   "view v of image i is draw v of mlp_augment_image from the stream (seed, i)");
	ok(views_differ >= N_IMG * (views - 1) - 1, "the views of an image differ (%d of %d)",
	   views_differ, N_IMG * (views - 1));
	is_close(tot.loss_sum, want_loss, 1e-12, 0, "loss: -log of the mean of the views' softmax");
	ok(fabs(want_loss - logit_mean_loss) > 1e-4 * want_loss,
	   "... which the softmax of the mean logits would not give (%.6f against %.6f)",
	   want_loss / N_IMG, logit_mean_loss / N_IMG);
	is_int(tot.correct, want_top1, "top-1 from the mean probabilities");
	is_int(tot.n, N_IMG, "every image once");
	free(x);
	free(want_x);
	free(logits);
	free(scratch);
	fixture_free(&f);
}

static void
test_seeds_and_batches(void)
{
	Fixture		f;
	MlpAugmentConfig aug;
	MlpEvalTotals a,
				b,
				other,
				plain;
	int64_t		D;
	float	   *xa,
			   *xb;
	const int	chunks[3] = {1, 3, N_IMG};

	fixture_make(&f, (MlpImageSpec) {3, 8, 8});
	fixture_aug(&f, &aug);
	D = f.m.arch.in_dim;
	xa = malloc(sizeof(float) * N_IMG * 4 * D);
	xb = malloc(sizeof(float) * N_IMG * 4 * D);

	run_tta(&f, &aug, 4, 7, 4, &a, xa);
	run_tta(&f, &aug, 4, 7, 4, &b, xb);
	ok(same_totals(&a, &b) && memcmp(xa, xb, sizeof(float) * N_IMG * 4 * D) == 0,
	   "the same seed: the same views and totals, bit for bit");
	run_tta(&f, &aug, 4, 8, 4, &other, xb);
	ok(memcmp(xa, xb, sizeof(float) * N_IMG * 4 * D) != 0 && other.loss_sum != a.loss_sum,
	   "another seed: other views, another loss (%.6f against %.6f)",
	   other.loss_sum / N_IMG, a.loss_sum / N_IMG);
	run_plain(&f, 4, &plain);
	ok(a.loss_sum != plain.loss_sum, "augmented views are not the plain image (loss %.6f against %.6f)",
	   a.loss_sum / N_IMG, plain.loss_sum / N_IMG);

	for (int k = 0; k < 3; k++)
	{
		run_tta(&f, &aug, 4, 7, chunks[k], &b, xb);
		ok(memcmp(xa, xb, sizeof(float) * N_IMG * 4 * D) == 0,
		   "calls of %d images: the same views as calls of 4", chunks[k]);
		/* the products round by their row count (OpenBLAS); the views do not depend on it */
		is_close(b.loss_sum, a.loss_sum, 1e-6, 0, "... the same loss up to float rounding");
		ok(b.correct == a.correct && b.correct_top5 == a.correct_top5 && b.n == a.n,
		   "... the same top-1 and top-5 counts");
	}
	free(xa);
	free(xb);
	fixture_free(&f);
}

/* The crops of a test-time view keep 0.35-1 of the area (up to rounding to whole pixels). */
static void
test_crop_scale(void)
{
	MlpAugmentConfig aug;
	MlpRng		rng;
	double		lo = 1.0,
				hi = 0.0;
	int			flips = 0;

	mlp_tta_augment_defaults(&aug, (MlpImageSpec) {3, 32, 32}, (MlpImageSpec) {3, 32, 32});
	ok(aug.random_crop && aug.flip && aug.scale_min == 0.35 && aug.scale_max == 1.0 &&
	   fabs(aug.ratio_min - 0.75) < 1e-12 && fabs(aug.ratio_max - 4.0 / 3) < 1e-12,
	   "test-time views: crop scale 0.35-1, ratio 3/4-4/3, flip");
	mlp_rng_seed(&rng, 3, 0);
	for (int k = 0; k < 2000; k++)
	{
		int			t,
					l,
					h,
					w;
		double		s;

		mlp_random_crop_params(&aug, &rng, &t, &l, &h, &w);
		s = (double) h * w / (32 * 32);
		if (s < lo)
			lo = s;
		if (s > hi)
			hi = s;
		flips += mlp_rng_uniform(&rng) < 0.5;
	}
	ok(lo >= 0.33 && lo < 0.4 && hi > 0.9, "2000 crops cover %.3f-%.3f of the area", lo, hi);
	ok(flips > 900 && flips < 1100, "a flip draw is p = 0.5 (%d of 2000)", flips);
}

static void
test_bad_shapes(void)
{
	Fixture		f;
	MlpAugmentConfig aug;
	MlpEvalTotals tot = {0};
	MlpError	err;
	float		x[1],
				logits[1],
				scratch[1];

	fixture_make(&f, (MlpImageSpec) {3, 6, 6});
	mlp_tta_augment_defaults(&aug, f.in, (MlpImageSpec) {3, 5, 5});
	ok(mlp_eval_add_tta(&tot, &f.m, &aug, 2, 0, 0, f.images, 1, f.labels, x, logits, scratch,
						&err) == MLP_ERR_INVALID_ARGUMENT && tot.n == 0,
	   "views of another size than the model's input are refused: %s", err.message);
	fixture_aug(&f, &aug);
	ok(mlp_eval_add_tta(&tot, &f.m, &aug, 65, 0, 0, f.images, 1, f.labels, x, logits, scratch,
						&err) == MLP_ERR_INVALID_ARGUMENT && tot.n == 0,
	   "65 views are refused before any work: %s", err.message);
	fixture_free(&f);
}

int
main(void)
{
	char		err[MLP_ERRBUF];

	if (mlp_blas_init(err, sizeof(err)) != 0)
	{
		printf("Bail out! OpenBLAS: %s\n", err);
		return 1;
	}
	mlp_blas_set_threads(1);
	test_identity_view((MlpImageSpec) {3, 6, 6}, "images at the model's size");
	test_identity_view((MlpImageSpec) {3, 10, 8}, "images resized to the model's");
	test_probabilities_averaged();
	test_against_reference();
	test_seeds_and_batches();
	test_crop_scale();
	test_bad_shapes();
	return tap_done();
}
