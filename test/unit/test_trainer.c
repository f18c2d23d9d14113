/*
 * test_trainer.c - the training loop on a tiny synthetic problem: it learns, it is
 * deterministic (same seed -> bit-identical parameters, whatever the thread count of batch
 * assembly), and a run restored from a checkpoint continues exactly like one that never
 * stopped.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "rng.h"
#include "tap.h"
#include "trainer.h"

#define C_	1
#define H_	8
#define W_	8
#define CLASSES 3

/*
 * Class k: a bright horizontal band in rows [k*H/3, (k+1)*H/3) over a noisy dark background.
 * Separable by a linear model, so a small MLP must reach (almost) perfect accuracy.
 */
static void
make_dataset(int64_t n, uint64_t seed, uint8_t **images, int32_t **labels, MlpDataset *d)
{
	MlpRng		rng;
	size_t		sz = C_ * H_ * W_;

	*images = malloc((size_t) n * sz);
	*labels = malloc((size_t) n * sizeof(int32_t));
	mlp_rng_seed(&rng, seed, 0);
	for (int64_t i = 0; i < n; i++)
	{
		int			k = (int) mlp_rng_below(&rng, CLASSES);
		uint8_t    *img = *images + i * sz;

		(*labels)[i] = k;
		for (int y = 0; y < H_; y++)
			for (int x = 0; x < W_; x++)
			{
				int			band = y * CLASSES / H_ == k;
				int			v = (band ? 170 : 40) + (int) mlp_rng_below(&rng, 60);

				img[y * W_ + x] = (uint8_t) v;
			}
	}
	d->images = *images;
	d->labels = *labels;
	d->n = n;
	d->spec = (MlpImageSpec) {C_, H_, W_};
}

static void
base_config(MlpTrainConfig *cfg, bool augment, float mixup, int threads)
{
	char		err[128];

	memset(cfg, 0, sizeof(*cfg));
	if (mlp_arch_parse("B_2-Wi_32", &cfg->arch, err, sizeof(err)) != 0)
		diag("arch: %s", err);
	cfg->input = (MlpImageSpec) {C_, H_, W_};
	cfg->arch.in_dim = C_ * H_ * W_;
	cfg->arch.classes = CLASSES;
	cfg->epochs = 8;
	cfg->batch_size = 24;		/* 200 images: 8 full batches and a partial one of 8 */
	mlp_opt_defaults(&cfg->opt, MLP_OPT_ADAMW, 0);
	cfg->opt.lr = 3e-3f;
	cfg->opt.weight_decay = 0.0f;
	cfg->label_smoothing = mixup > 0 ? 0.1f : 0.0f;
	cfg->mixup_alpha = mixup;
	cfg->augment = augment;
	cfg->mean[0] = 0.4f;
	cfg->std[0] = 0.25f;
	cfg->seed = 1234;
	cfg->threads = threads;
}

typedef struct StepLog
{
	int			calls;
	int			stop_after;		/* 0 = never */
	int64_t		last_step;
	int64_t		steps;
} StepLog;

static int
record_step(void *arg, int epoch, int64_t step, int64_t steps, double loss, double ips)
{
	StepLog    *log = arg;

	(void) epoch;
	(void) loss;
	(void) ips;
	log->calls++;
	log->last_step = step;
	log->steps = steps;
	return log->stop_after > 0 && log->calls >= log->stop_after;
}

static int
train_epochs(MlpTrainer *t, const MlpDataset *d, int from, int to, MlpEpochStats *last)
{
	MlpError	err;

	for (int e = from; e < to; e++)
	{
		if (mlp_trainer_train_epoch(t, d, e, NULL, NULL, last, &err) != MLP_OK)
		{
			diag("epoch %d: %s", e, err.message);
			return -1;
		}
	}
	return 0;
}

/*
 * What mlp_evaluate does in the server: each image preprocessed to the model input, batches
 * of `batch` through inference, the totals of evaluate.h.
 */
static void
evaluate_like_scoring(const MlpModel *m, const MlpAugmentConfig *pre, const MlpDataset *d,
					  int batch, MlpEvalStats *stats)
{
	size_t		image_bytes = (size_t) d->spec.channels * d->spec.height * d->spec.width;
	float	   *x = malloc((size_t) batch * m->arch.in_dim * sizeof(float));
	float	   *logits = malloc((size_t) batch * m->arch.classes * sizeof(float));
	float	   *scratch = malloc(mlp_model_scratch_floats(m, batch) * sizeof(float));
	MlpEvalTotals tot = {0};

	for (int64_t first = 0; first < d->n; first += batch)
	{
		int			B = (int) (d->n - first < batch ? d->n - first : batch);

		for (int i = 0; i < B; i++)
			mlp_preprocess_image(pre, d->images + (size_t) (first + i) * image_bytes,
								 x + (size_t) i * m->arch.in_dim);
		mlp_eval_add_batch(&tot, m, x, B, d->labels + first, logits, scratch);
	}
	mlp_eval_stats(&tot, stats);
	free(x);
	free(logits);
	free(scratch);
}

static int
same_params(const MlpTrainer *a, const MlpTrainer *b)
{
	const MlpModel *ma = mlp_trainer_model(a);
	const MlpModel *mb = mlp_trainer_model(b);

	return ma->num_params == mb->num_params &&
		memcmp(ma->params, mb->params, ma->num_params * sizeof(float)) == 0;
}

int
main(void)
{
	char		err[256];
	uint8_t    *train_images,
			   *test_images;
	int32_t    *train_labels,
			   *test_labels;
	MlpDataset	train,
				test;
	MlpTrainConfig cfg;
	MlpTrainer *t,
			   *u;
	MlpEpochStats st;
	MlpEvalStats ev,
				ev2;
	StepLog		log = {0};
	MlpError	e;

	if (mlp_blas_init(err, sizeof(err)) != 0)
	{
		printf("Bail out! OpenBLAS: %s\n", err);
		return 1;
	}
	mlp_blas_set_threads(1);
	make_dataset(200, 1, &train_images, &train_labels, &train);
	make_dataset(150, 2, &test_images, &test_labels, &test);

	/* ---- it learns -------------------------------------------------------------------- */
	base_config(&cfg, false, 0.0f, 1);
	t = mlp_trainer_new(&cfg, NULL, &e);
	ok(t != NULL, "trainer created%s%s", t ? "" : ": ", t ? "" : e.message);
	if (t == NULL)
		return tap_done();
	(void) mlp_trainer_eval_dataset(t, &test, &ev, &e);
	diag("before training: test accuracy %.3f, loss %.3f", ev.accuracy, ev.loss);
	ok(train_epochs(t, &train, 0, cfg.epochs, &st) == 0, "8 epochs trained");
	diag("last epoch: loss %.4f, accuracy %.3f, %lld examples", st.train_loss,
		 st.train_accuracy, (long long) st.examples);
	is_int(st.examples, 200, "the last partial batch is kept: 200 examples per epoch");
	is_int(st.epoch, 8, "stats carry the 1-based epoch");
	ok(st.train_accuracy >= 0.95, "train accuracy %.3f >= 0.95", st.train_accuracy);
	(void) mlp_trainer_eval_dataset(t, &test, &ev, &e);
	diag("after training: test accuracy %.3f, loss %.4f, top5 %.3f", ev.accuracy, ev.loss,
		 ev.top5);
	ok(ev.accuracy >= 0.95, "test accuracy %.3f >= 0.95", ev.accuracy);
	is_int(ev.n, 150, "evaluation sees every test image");
	is_close(ev.top5, 1.0, 0, 1e-12, "top-5 of 3 classes is 1");

	{
		MlpAugmentConfig pre;

		mlp_augment_defaults(&pre, test.spec, cfg.input);
		pre.random_crop = pre.flip = false;
		pre.mean[0] = cfg.mean[0];
		pre.std[0] = cfg.std[0];
		evaluate_like_scoring(mlp_trainer_model(t), &pre, &test, 64, &ev2);
		is_int(ev2.n, 150, "the scoring path's evaluation sees every test image");
		is_close(ev2.accuracy, ev.accuracy, 0, 1e-12,
				 "the scoring path (inference, mlp_eval_add_batch) agrees with the trainer's evaluation (accuracy)");
		is_close(ev2.loss, ev.loss, 1e-4, 1e-6, "... and loss");
	}
	mlp_trainer_free(t);

	/* ---- with augmentation, MixUp and smoothing it still learns ---------------------- */
	base_config(&cfg, true, 0.8f, 2);
	cfg.epochs = 15;
	t = mlp_trainer_new(&cfg, NULL, &e);
	ok(t && train_epochs(t, &train, 0, cfg.epochs, &st) == 0, "15 epochs with the full recipe");
	(void) mlp_trainer_eval_dataset(t, &test, &ev, &e);
	diag("full recipe: train loss %.4f, test accuracy %.3f", st.train_loss, ev.accuracy);
	ok(ev.accuracy >= 0.9, "test accuracy with augmentation and MixUp %.3f >= 0.9", ev.accuracy);
	mlp_trainer_free(t);

	/* ---- determinism ------------------------------------------------------------------- */
	base_config(&cfg, true, 0.8f, 1);
	cfg.epochs = 3;
	t = mlp_trainer_new(&cfg, NULL, &e);
	cfg.threads = 3;			/* batch assembly on 3 threads must not change anything */
	u = mlp_trainer_new(&cfg, NULL, &e);
	ok(t && u, "two trainers with the same seed");
	ok(same_params(t, u), "same seed: identical initial parameters");
	ok(train_epochs(t, &train, 0, 3, &st) == 0 && train_epochs(u, &train, 0, 3, &st) == 0,
	   "both trained 3 epochs");
	ok(same_params(t, u), "same seed: bit-identical parameters after 3 epochs (1 vs 3 threads)");
	mlp_trainer_free(u);

	/* batches of 64 are cut into parts of the thread pool (16 images a part at least) */
	{
		MlpTrainConfig wide = cfg;
		MlpTrainer *one,
				   *two;

		wide.batch_size = 64;
		wide.threads = 1;
		one = mlp_trainer_new(&wide, NULL, &e);
		wide.threads = 2;
		two = mlp_trainer_new(&wide, NULL, &e);
		ok(one && two && train_epochs(one, &train, 0, 2, &st) == 0 &&
		   train_epochs(two, &train, 0, 2, &st) == 0 && same_params(one, two),
		   "batches of 64 assembled on 1 and on 2 pool threads: bit-identical parameters");
		if (one && two)
		{
			MlpEvalStats e1,
						e2;

			(void) mlp_trainer_eval_dataset(one, &test, &e1, &e);
			(void) mlp_trainer_eval_dataset(two, &test, &e2, &e);
			ok(e1.loss == e2.loss && e1.accuracy == e2.accuracy,
			   "and the same evaluation (loss %.6f)", e1.loss);
		}
		mlp_trainer_free(one);
		mlp_trainer_free(two);
	}

	cfg.seed = 99;
	u = mlp_trainer_new(&cfg, NULL, &e);
	ok(u && train_epochs(u, &train, 0, 3, &st) == 0 && !same_params(t, u),
	   "another seed gives other parameters");
	mlp_trainer_free(u);
	cfg.seed = 1234;

	/* ---- bf16 products ----------------------------------------------------------------- */
	base_config(&cfg, false, 0.0f, 2);
	cfg.precision = MLP_MATMUL_BF16;
	if (!mlp_blas_bf16_supported())
	{
		u = mlp_trainer_new(&cfg, NULL, &e);
		ok(u == NULL && e.status == MLP_ERR_NOT_SUPPORTED && strstr(e.message, "AVX512_BF16") != NULL,
		   "bf16 refused on a CPU without AVX512_BF16 (not supported): %s", e.message);
		ok(1, "# SKIP bf16 training");
		ok(1, "# SKIP bf16 differs from fp32");
		ok(1, "# SKIP bf16 deterministic");
	}
	else
	{
		MlpTrainer *v;

		u = mlp_trainer_new(&cfg, NULL, &e);
		ok(u && train_epochs(u, &train, 0, cfg.epochs, &st) == 0, "8 epochs with bf16 products");
		(void) mlp_trainer_eval_dataset(u, &test, &ev, &e);
		diag("bf16: train loss %.4f, test accuracy %.3f", st.train_loss, ev.accuracy);
		ok(ev.accuracy >= 0.95, "bf16: test accuracy %.3f >= 0.95", ev.accuracy);
		is_int(mlp_blas_matmul_precision(), MLP_MATMUL_BF16, "the trainer set bf16 for its products");
		cfg.precision = MLP_MATMUL_FP32;
		v = mlp_trainer_new(&cfg, NULL, &e);
		ok(v && train_epochs(v, &train, 0, cfg.epochs, &st) == 0 && !same_params(u, v),
		   "the same run in fp32 ends with other parameters (bf16 was used)");
		is_int(mlp_blas_matmul_precision(), MLP_MATMUL_FP32, "and fp32 set back by the fp32 trainer");
		mlp_trainer_free(v);
		cfg.precision = MLP_MATMUL_BF16;
		v = mlp_trainer_new(&cfg, NULL, &e);
		ok(v && train_epochs(v, &train, 0, cfg.epochs, &st) == 0 && same_params(u, v),
		   "bf16 runs with the same seed are bit-identical");
		mlp_trainer_free(v);
		mlp_blas_set_matmul_precision(MLP_MATMUL_FP32);
	}
	mlp_trainer_free(u);
	cfg.precision = 7;
	u = mlp_trainer_new(&cfg, NULL, &e);
	ok(u == NULL && e.status == MLP_ERR_INVALID_ARGUMENT && strstr(e.message, "precision") != NULL,
	   "an unknown precision is refused as an invalid argument: %s", u ? "(created)" : e.message);
	mlp_trainer_free(u);
	base_config(&cfg, true, 0.8f, 1);
	cfg.epochs = 3;

	/* ---- checkpoint round trip ---------------------------------------------------------- */
	{
		uint8_t    *state = NULL;
		size_t		len = 0;
		int			done = -1;
		MlpTrainer *resumed;

		/* t has done 3 epochs; a second run does 1, checkpoints, and a third resumes. */
		u = mlp_trainer_new(&cfg, NULL, &e);
		ok(u && train_epochs(u, &train, 0, 1, &st) == 0, "one epoch before the checkpoint");
		{
			MlpStatus	rc = mlp_trainer_checkpoint(u, 1, &state, &len, &e);

			ok(rc == MLP_OK && len > 0, "checkpoint saved (%zu bytes)", len);
		}
		mlp_trainer_free(u);

		cfg.seed = 1234;
		resumed = mlp_trainer_new(&cfg, NULL, &e);
		/* Train it a little first, so only a complete restore can make it equal. */
		ok(resumed && train_epochs(resumed, &train, 5, 6, &st) == 0, "a trainer in another state");
		ok(mlp_trainer_restore(resumed, state, len, &done, &e) == MLP_OK,
		   "checkpoint loaded (%s)", e.message);
		is_int(done, 1, "epochs done restored");
		ok(train_epochs(resumed, &train, done, 3, &st) == 0, "epochs 2 and 3 after the restore");
		ok(same_params(t, resumed), "resumed run is bit-identical to the uninterrupted one");

		state[len / 2] ^= 0x55;	/* inside the tensors: still a valid file */
		state[10] = '#';		/* inside the JSON header: not a valid file any more */
		ok(mlp_trainer_restore(resumed, state, len, &done, &e) == MLP_ERR_DATA_CORRUPTED,
		   "a corrupt checkpoint is refused as corrupted data: %s", e.message);
		free(state);
		mlp_trainer_free(resumed);

		/* A checkpoint of another architecture is refused. */
		{
			MlpTrainConfig other = cfg;
			MlpTrainer *o;

			mlp_arch_parse("B_1-Wi_32", &other.arch, err, sizeof(err));
			other.arch.in_dim = cfg.arch.in_dim;
			other.arch.classes = CLASSES;
			o = mlp_trainer_new(&other, NULL, &e);
			ok(o && mlp_trainer_checkpoint(o, 1, &state, &len, &e) == MLP_OK,
			   "checkpoint of B_1-Wi_32");
			ok(mlp_trainer_restore(t, state, len, &done, &e) == MLP_ERR_DATA_CORRUPTED,
			   "refused by a B_2-Wi_32 trainer: %s", e.message);
			free(state);
			mlp_trainer_free(o);
		}
	}

	/* ---- the callback --------------------------------------------------------------------- */
	log.stop_after = 3;
	{
		MlpStatus	rc = mlp_trainer_train_epoch(t, &train, 3, record_step, &log, &st, &e);

		ok(rc == MLP_OK && st.stopped, "a nonzero callback stops the epoch");
		is_int(log.last_step, 3, "after the third step");
		is_int(log.steps, 9, "steps of an epoch of 200 images in batches of 24");
		is_int(st.examples, 72, "examples of the steps done");
	}

	/* ---- fine-tuning: body copied, head new ----------------------------------------------- */
	{
		MlpTrainConfig ft = cfg;
		MlpTrainer *f;
		const MlpModel *bm = mlp_trainer_model(t);
		const MlpModel *fm;

		ft.arch.classes = 5;
		ft.seed = 7;
		f = mlp_trainer_new(&ft, bm, &e);
		ok(f != NULL, "fine-tuning trainer from a 3-class base onto 5 classes (%s)", f ? "" : e.message);
		if (f)
		{
			fm = mlp_trainer_model(f);
			ok(memcmp(fm->params, bm->params, bm->head_offset * sizeof(float)) == 0,
			   "the body is the base model's");
			is_int(fm->num_params - fm->head_offset, 5 * 32 + 5, "a new head of 5 classes");
			mlp_trainer_free(f);
		}
		ft.arch.width = 16;
		ok(mlp_trainer_new(&ft, bm, &e) == NULL,
		   "a base of another width is refused: %s", e.message);
	}

	/* ---- memory estimate and bad configs ------------------------------------------------- */
	ok(mlp_trainer_memory_estimate(&cfg) >
	   (size_t) mlp_arch_param_count(&cfg.arch) * 3 * sizeof(float),
	   "memory estimate covers parameters, gradients and optimizer state");
	{
		/* The estimate must cover what is really allocated, without being wildly above. */
		MlpModel	m;
		MlpActivations acts;
		size_t		real_bytes;
		size_t		estimate = mlp_trainer_memory_estimate(&cfg);

		mlp_model_create(&m, &cfg.arch, true, err, sizeof(err));
		mlp_activations_create(&acts, &m, cfg.batch_size, err, sizeof(err));
		real_bytes = (m.num_params * 4 + acts.num_floats +
					  (size_t) cfg.batch_size * (cfg.arch.in_dim + 2 * CLASSES)) * sizeof(float);
		ok(estimate >= real_bytes && estimate <= 3 * real_bytes,
		   "memory estimate %zu bytes for %zu really allocated (AdamW)", estimate, real_bytes);
		mlp_activations_free(&acts);
		mlp_model_free(&m);
	}
	{
		MlpTrainConfig bad = cfg;

		bad.arch.in_dim = 10;
		ok(mlp_trainer_new(&bad, NULL, &e) == NULL,
		   "input size mismatch refused: %s", e.message);
		bad = cfg;
		bad.std[0] = 0;
		ok(mlp_trainer_new(&bad, NULL, &e) == NULL,
		   "zero std refused: %s", e.message);
		is_int(e.status, MLP_ERR_INVALID_ARGUMENT, "... as an invalid argument");
	}
	{
		int32_t		saved = train_labels[5];
		MlpStatus	rc;

		train_labels[5] = CLASSES;
		rc = mlp_trainer_train_epoch(t, &train, 0, NULL, NULL, &st, &e);
		ok(rc == MLP_ERR_INVALID_ARGUMENT, "a label out of range fails the epoch: %s", e.message);
		train_labels[5] = saved;
	}

	/* ---- a diverging loss: its own kind, the advice as a hint ----------------------------- */
	{
		MlpTrainConfig hot = cfg;
		MlpTrainer *h;
		MlpStatus	rc = MLP_OK;

		hot.opt.lr = 1e30f;
		h = mlp_trainer_new(&hot, NULL, &e);
		for (int ep = 0; h && ep < 3 && rc == MLP_OK; ep++)
			rc = mlp_trainer_train_epoch(h, &train, ep, NULL, NULL, &st, &e);
		ok(h && rc == MLP_ERR_NUMERIC && strstr(e.message, "diverged") != NULL,
		   "learning rate 1e30: the loss diverges (%s)", h ? e.message : "not created");
		ok(strchr(e.message, ';') == NULL && strstr(e.hint, "smaller learning rate") != NULL,
		   "the message names the step, the hint says what to do: %s", e.hint);

		mlp_trainer_free(h);
		hot.threads = 0;
		hot.epochs = 0;
		ok(mlp_trainer_new(&hot, NULL, &e) == NULL && e.status == MLP_ERR_INVALID_ARGUMENT &&
		   strstr(e.message, "epochs and batch size") != NULL && e.hint[0] == '\0',
		   "no epochs: an invalid argument, without a hint (%s)", e.message);
	}

	mlp_trainer_free(t);
	free(train_images);
	free(train_labels);
	free(test_images);
	free(test_labels);
	return tap_done();
}
