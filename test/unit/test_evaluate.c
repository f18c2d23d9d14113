/*
 * test_evaluate.c - the evaluation totals of evaluate.h on logits whose answers are known,
 * batches added one at a time, inference through mlp_eval_add_batch; and the failures of
 * status.h that the core reports.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "evaluate.h"
#include "rng.h"
#include "status.h"
#include "tap.h"

#define C_ 7

/* -log softmax(z)[label] in double */
static double
xent(const float *z, int label)
{
	double		mx = z[0],
				s = 0.0;

	for (int c = 1; c < C_; c++)
		if (z[c] > mx)
			mx = z[c];
	for (int c = 0; c < C_; c++)
		s += exp((double) z[c] - mx);
	return -((double) z[label] - mx - log(s));
}

static void
test_known_logits(void)
{
	/* label first (top-1), third (top-5 only), last of seven (neither) */
	const float logits[3 * C_] = {
		3, 1, 0, 0, 0, 0, 0,
		0, 5, 4, 3, 0, 0, 0,
		6, 5, 4, 3, 2, 1, -1,
	};
	const int32_t labels[3] = {0, 3, 6};
	double		want_loss = (xent(logits, 0) + xent(logits + C_, 3) + xent(logits + 2 * C_, 6)) / 3;
	MlpEvalTotals tot = {0},
				split = {0};
	MlpEvalStats st;

	mlp_eval_add_logits(&tot, logits, 3, C_, labels);
	mlp_eval_stats(&tot, &st);
	is_int(st.n, 3, "three images counted");
	is_close(st.accuracy, 1.0 / 3, 0, 1e-12, "top-1: the first image only");
	is_close(st.top5, 2.0 / 3, 0, 1e-12, "top-5: the first two (the label ranks third in the second)");
	is_close(st.loss, want_loss, 1e-6, 1e-7, "loss: the mean cross-entropy, no smoothing");

	/* the same images in two batches */
	mlp_eval_add_logits(&split, logits, 1, C_, labels);
	mlp_eval_add_logits(&split, logits + C_, 2, C_, labels + 1);
	mlp_eval_stats(&split, &st);
	is_int(st.n, 3, "two batches: three images");
	is_int(split.correct, 1, "two batches: one top-1 hit");
	is_int(split.correct_top5, 2, "two batches: two top-5 hits");
	is_close(st.loss, want_loss, 1e-6, 1e-7, "two batches: the same loss");

	memset(&split, 0, sizeof(split));
	mlp_eval_add_logits(&split, logits, 0, C_, labels);
	mlp_eval_stats(&split, &st);
	ok(st.n == 0 && st.loss == 0 && st.accuracy == 0 && st.top5 == 0,
	   "no images: zeros, not NaN");
}

/* mlp_eval_add_batch is inference followed by the logits' totals, bit for bit. */
static void
test_add_batch(void)
{
	char		err[MLP_ERRBUF];
	MlpArch		arch;
	MlpModel	m;
	MlpRng		rng;
	int			B = 5;
	float	   *x,
			   *logits,
			   *ref,
			   *scratch;
	int32_t		labels[5] = {0, 1, 2, 3, 1};
	MlpEvalTotals a = {0},
				b = {0};

	if (mlp_arch_parse("B_1-Wi_16", &arch, err, sizeof(err)) != 0)
		diag("arch: %s", err);
	arch.in_dim = 12;
	arch.classes = 4;
	ok(mlp_model_create(&m, &arch, false, err, sizeof(err)) == 0, "a small model");
	mlp_rng_seed(&rng, 5, 0);
	mlp_model_init_weights(&m, &rng);
	x = malloc(sizeof(float) * B * 12);
	logits = malloc(sizeof(float) * B * 4);
	ref = malloc(sizeof(float) * B * 4);
	scratch = malloc(sizeof(float) * mlp_model_scratch_floats(&m, B));
	for (int i = 0; i < B * 12; i++)
		x[i] = (float) mlp_rng_uniform_range(&rng, -1, 1);

	mlp_eval_add_batch(&a, &m, x, B, labels, logits, scratch);
	mlp_model_infer(&m, x, B, ref, scratch);
	mlp_eval_add_logits(&b, ref, B, 4, labels);
	ok(memcmp(logits, ref, sizeof(float) * B * 4) == 0, "mlp_eval_add_batch leaves the logits of inference");
	ok(a.loss_sum == b.loss_sum && a.correct == b.correct && a.correct_top5 == b.correct_top5 &&
	   a.n == b.n, "and adds what mlp_eval_add_logits adds for them");
	free(x);
	free(logits);
	free(ref);
	free(scratch);
	mlp_model_free(&m);
}

static MlpStatus
fails_with_hint(MlpError *e)
{
	mlp_error_set(e, MLP_ERR_NUMERIC, "the loss diverged (%g) at step %d", INFINITY, 3);
	mlp_error_hint(e, "Try a smaller learning rate.");
	return e->status;
}

static void
test_status(void)
{
	MlpError	e;

	mlp_error_clear(&e);
	ok(e.status == MLP_OK && e.message[0] == '\0' && e.hint[0] == '\0', "a cleared error is empty");
	is_int(fails_with_hint(&e), MLP_ERR_NUMERIC, "the kind is returned and recorded");
	ok(strcmp(e.message, "the loss diverged (inf) at step 3") == 0, "the message: %s", e.message);
	ok(strcmp(e.hint, "Try a smaller learning rate.") == 0, "the hint apart: %s", e.hint);
	is_int(mlp_error_set(&e, MLP_ERR_INVALID_ARGUMENT, "bad %s", "value"), MLP_ERR_INVALID_ARGUMENT,
		   "a new failure replaces the old");
	ok(e.hint[0] == '\0', "... and its hint");
	ok(strcmp(e.message, "bad value") == 0, "... and its message");
	is_int(mlp_error_set(NULL, MLP_ERR_OUT_OF_MEMORY, "x"), MLP_ERR_OUT_OF_MEMORY,
		   "no error record: the kind is still returned");
	mlp_error_hint(NULL, "nothing");
	ok(strcmp(mlp_status_name(MLP_ERR_DATA_CORRUPTED), "data corrupted") == 0 &&
	   strcmp(mlp_status_name(MLP_ERR_NOT_SUPPORTED), "not supported") == 0,
	   "kinds have names for logs");
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
	test_known_logits();
	test_add_batch();
	test_status();
	return tap_done();
}
