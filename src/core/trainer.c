/*
 * trainer.c - the training loop of the paper's recipe.
 *
 * Randomness is derived, never carried over: the order of an epoch comes from an RNG seeded
 * with (seed, epoch), and everything random in a step (MixUp's lambda, then one sub-seed per
 * image for its crop and flip) from an RNG seeded with (seed, epoch, step).  So a run resumed
 * from a checkpoint draws exactly what the uninterrupted run would have drawn, and images can
 * be augmented on several threads without the thread count changing the result.
 */
#include "trainer.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "loss.h"
#include "rng.h"
#include "safetensors.h"
#include "thread_pool.h"

/* RNG streams: the step in the low 32 bits, the epoch above; the top values are reserved. */
#define STREAM_STEP(epoch, step)	(((uint64_t) (epoch) << 32) | (uint64_t) (step))
#define STREAM_SHUFFLE(epoch)		(((uint64_t) (epoch) << 32) | 0xFFFFFFFFu)
#define STREAM_INIT					UINT64_MAX
#define STREAM_HEAD_INIT			(UINT64_MAX - 1)

/* Below this many images per thread, starting threads costs more than it saves. */
#define MIN_IMAGES_PER_THREAD 16

#define CHECKPOINT_FORMAT "mlpscale-checkpoint"

struct MlpTrainer
{
	MlpTrainConfig cfg;
	MlpModel	model;
	MlpOptimizer opt;
	MlpActivations acts;
	int64_t		in_dim;
	int			classes;
	float	   *x;				/* [batch, in_dim] */
	float	   *logits;			/* [batch, classes] */
	float	   *dlogits;		/* [batch, classes] */
	int32_t    *label_a;		/* [batch] */
	int32_t    *label_b;		/* [batch] */
	uint64_t   *image_seeds;	/* [batch] */
	int64_t    *eval_rows;		/* [batch] */
	int64_t    *order;			/* [order_n] permutation of the epoch */
	int64_t		order_n;
};

static void
set_err(char *err, size_t errlen, const char *msg)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", msg);
}

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void
augment_config_for(const MlpTrainer *t, const MlpImageSpec *data_spec, bool augment,
				   MlpAugmentConfig *aug)
{
	mlp_augment_defaults(aug, *data_spec, t->cfg.input);
	aug->random_crop = augment;
	aug->flip = augment;
	memcpy(aug->mean, t->cfg.mean, sizeof(aug->mean));
	memcpy(aug->std, t->cfg.std, sizeof(aug->std));
}

/* ---- parallel batch assembly ----------------------------------------------------------- */

typedef struct BatchJob
{
	const MlpAugmentConfig *aug;
	const MlpDataset *data;
	const int64_t *rows;		/* dataset rows of the batch */
	const uint64_t *seeds;		/* NULL: preprocess without randomness */
	float	   *x;
	int64_t		in_dim;
	int			first;
	int			count;
} BatchJob;

static void
batch_job_run(const BatchJob *job)
{
	size_t		image_bytes = (size_t) job->data->spec.channels * job->data->spec.height *
		job->data->spec.width;

	for (int i = job->first; i < job->first + job->count; i++)
	{
		const uint8_t *src = job->data->images + (size_t) job->rows[i] * image_bytes;
		float	   *dst = job->x + (size_t) i * job->in_dim;

		if (job->seeds)
		{
			MlpRng		rng;

			mlp_rng_seed(&rng, job->seeds[i], 0);
			mlp_augment_image(job->aug, src, dst, &rng);
		}
		else
			mlp_preprocess_image(job->aug, src, dst);
	}
}

static void *
batch_job_thread(void *arg)
{
	batch_job_run(arg);
	return NULL;
}

/*
 * Fills x[0..B) from the given rows: augmented with per-image seeds, or preprocessed when
 * seeds is NULL.  Uses up to `threads` threads (the calling one included); when a thread
 * cannot be started its share is done on the calling thread, so the result never changes.
 */
static void
assemble_batch(const MlpAugmentConfig *aug, const MlpDataset *data, const int64_t *rows,
			   const uint64_t *seeds, float *x, int64_t in_dim, int B, int threads)
{
	enum
	{
		MAX_THREADS = 64
	};
	pthread_t	tid[MAX_THREADS];
	bool		started[MAX_THREADS];
	BatchJob	jobs[MAX_THREADS];
	int			nthreads = threads;

	if (nthreads > MAX_THREADS)
		nthreads = MAX_THREADS;
	if (nthreads > B / MIN_IMAGES_PER_THREAD)
		nthreads = B / MIN_IMAGES_PER_THREAD;
	if (nthreads < 1)
		nthreads = 1;

	for (int k = 0; k < nthreads; k++)
	{
		int			first = (int) ((int64_t) B * k / nthreads);
		int			last = (int) ((int64_t) B * (k + 1) / nthreads);

		jobs[k] = (BatchJob) {
			.aug = aug, .data = data, .rows = rows, .seeds = seeds, .x = x,
			.in_dim = in_dim, .first = first, .count = last - first
		};
		started[k] = false;
	}
	for (int k = 1; k < nthreads; k++)
		started[k] = mlp_thread_create(&tid[k], NULL, batch_job_thread, &jobs[k]) == 0;
	batch_job_run(&jobs[0]);
	for (int k = 1; k < nthreads; k++)
	{
		if (started[k])
			pthread_join(tid[k], NULL);
		else
			batch_job_run(&jobs[k]);
	}
}

/* ---- creation ---------------------------------------------------------------------------- */

static int
check_config(const MlpTrainConfig *cfg, char *err, size_t errlen)
{
	char		msg[256];
	int64_t		in_dim = (int64_t) cfg->input.channels * cfg->input.height * cfg->input.width;

	if (cfg->input.channels < 1 || cfg->input.channels > MLP_MAX_CHANNELS ||
		cfg->input.height < 1 || cfg->input.width < 1)
	{
		snprintf(msg, sizeof(msg), "invalid model input %dx%dx%d",
				 cfg->input.channels, cfg->input.height, cfg->input.width);
		set_err(err, errlen, msg);
		return -1;
	}
	if (cfg->arch.in_dim != in_dim)
	{
		snprintf(msg, sizeof(msg), "architecture input size %lld does not match the input %dx%dx%d",
				 (long long) cfg->arch.in_dim, cfg->input.channels, cfg->input.height,
				 cfg->input.width);
		set_err(err, errlen, msg);
		return -1;
	}
	if (mlp_arch_validate(&cfg->arch, err, errlen) != 0)
		return -1;
	if (cfg->epochs < 1 || cfg->batch_size < 1)
	{
		set_err(err, errlen, "epochs and batch size must be at least 1");
		return -1;
	}
	if (cfg->precision != MLP_MATMUL_FP32 && cfg->precision != MLP_MATMUL_BF16)
	{
		set_err(err, errlen, "invalid matmul precision");
		return -1;
	}
	if (cfg->precision == MLP_MATMUL_BF16 && !mlp_blas_bf16_supported())
	{
		set_err(err, errlen, "matmul precision bf16 needs a CPU with AVX512_BF16");
		return -1;
	}
	for (int c = 0; c < cfg->input.channels; c++)
	{
		if (!(cfg->std[c] > 0) || !isfinite(cfg->mean[c]))
		{
			snprintf(msg, sizeof(msg), "invalid normalisation of channel %d (mean %g, std %g)",
					 c, cfg->mean[c], cfg->std[c]);
			set_err(err, errlen, msg);
			return -1;
		}
	}
	return 0;
}

/* The body of base must be the body of cfg's architecture. */
static int
check_base(const MlpTrainConfig *cfg, const MlpModel *base, char *err, size_t errlen)
{
	const MlpArch *a = &cfg->arch;
	const MlpArch *b = &base->arch;
	char		msg[256];

	if (a->kind != b->kind || a->depth != b->depth || a->width != b->width ||
		a->expansion != b->expansion || a->in_dim != b->in_dim)
	{
		char		sa[64],
					sb[64];

		mlp_arch_format(a, sa, sizeof(sa));
		mlp_arch_format(b, sb, sizeof(sb));
		snprintf(msg, sizeof(msg), "base model %s with input size %lld does not match %s with input size %lld",
				 sb, (long long) b->in_dim, sa, (long long) a->in_dim);
		set_err(err, errlen, msg);
		return -1;
	}
	return 0;
}

MlpTrainer *
mlp_trainer_create(const MlpTrainConfig *cfg, const MlpModel *base, char *err, size_t errlen)
{
	MlpTrainer *t;
	MlpRng		rng;
	MlpOptConfig opt;
	size_t		B;

	if (check_config(cfg, err, errlen) != 0)
		return NULL;
	if (base && check_base(cfg, base, err, errlen) != 0)
		return NULL;

	t = calloc(1, sizeof(MlpTrainer));
	if (t == NULL)
	{
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	t->cfg = *cfg;
	t->in_dim = cfg->arch.in_dim;
	t->classes = cfg->arch.classes;
	if (t->cfg.threads < 1)
		t->cfg.threads = 1;

	if (mlp_model_create(&t->model, &cfg->arch, true, err, errlen) != 0)
	{
		free(t);
		return NULL;
	}
	if (base)
	{
		/* The body comes from base, in the same layout; the head is new. */
		memcpy(t->model.params, base->params, base->head_offset * sizeof(float));
		mlp_rng_seed(&rng, cfg->seed, STREAM_HEAD_INIT);
		mlp_model_init_head(&t->model, &rng);
	}
	else
	{
		mlp_rng_seed(&rng, cfg->seed, STREAM_INIT);
		mlp_model_init_weights(&t->model, &rng);
	}

	opt = cfg->opt;
	opt.head_offset = t->model.head_offset;
	t->cfg.opt = opt;
	if (mlp_opt_create(&t->opt, &opt, t->model.num_params, err, errlen) != 0)
	{
		mlp_model_free(&t->model);
		free(t);
		return NULL;
	}
	if (mlp_activations_create(&t->acts, &t->model, cfg->batch_size, err, errlen) != 0)
	{
		mlp_opt_free(&t->opt);
		mlp_model_free(&t->model);
		free(t);
		return NULL;
	}

	B = (size_t) cfg->batch_size;
	t->x = malloc(B * (size_t) t->in_dim * sizeof(float));
	t->logits = malloc(B * t->classes * sizeof(float));
	t->dlogits = malloc(B * t->classes * sizeof(float));
	t->label_a = malloc(B * sizeof(int32_t));
	t->label_b = malloc(B * sizeof(int32_t));
	t->image_seeds = malloc(B * sizeof(uint64_t));
	t->eval_rows = malloc(B * sizeof(int64_t));
	if (!t->x || !t->logits || !t->dlogits || !t->label_a || !t->label_b || !t->image_seeds ||
		!t->eval_rows)
	{
		mlp_trainer_free(t);
		set_err(err, errlen, "out of memory for the batch buffers");
		return NULL;
	}
	return t;
}

void
mlp_trainer_free(MlpTrainer *t)
{
	if (t == NULL)
		return;
	mlp_activations_free(&t->acts);
	mlp_opt_free(&t->opt);
	mlp_model_free(&t->model);
	free(t->x);
	free(t->logits);
	free(t->dlogits);
	free(t->label_a);
	free(t->label_b);
	free(t->image_seeds);
	free(t->eval_rows);
	free(t->order);
	free(t);
}

/* Drops the whole pages inside [p, p + bytes) from memory; they read as zeros afterwards. */
static void
release_pages(void *p, size_t bytes)
{
#ifdef MADV_DONTNEED
	uintptr_t	page = (uintptr_t) sysconf(_SC_PAGESIZE);
	uintptr_t	from = ((uintptr_t) p + page - 1) & ~(page - 1);
	uintptr_t	to = ((uintptr_t) p + bytes) & ~(page - 1);

	/* Only pages wholly inside the block: its neighbours (and malloc's headers) stay. */
	if (p != NULL && to > from)
		(void) madvise((void *) from, to - from, MADV_DONTNEED);
#else
	(void) p;
	(void) bytes;
#endif
}

void
mlp_trainer_release_batch_memory(MlpTrainer *t)
{
	release_pages(t->acts.buf, t->acts.num_floats * sizeof(float));
	release_pages(t->x, (size_t) t->cfg.batch_size * (size_t) t->in_dim * sizeof(float));
	/* Zeroed before every backward pass, so zero pages lose nothing either. */
	if (t->model.grads)
		release_pages(t->model.grads, t->model.num_params * sizeof(float));
}

/*
 * Parameters, gradients and optimizer state, the activations of one batch (an upper bound of
 * what model.c saves: every layer output of a block plus the LayerNorm statistics), and the
 * batch buffers.
 */
size_t
mlp_trainer_memory_estimate(const MlpTrainConfig *cfg)
{
	const MlpArch *a = &cfg->arch;
	double		params = (double) mlp_arch_param_count(a);
	double		state = cfg->opt.kind == MLP_OPT_ADAMW ? 2 : 1;
	double		B = cfg->batch_size;
	double		W = a->width;
	double		hidden = a->kind == MLP_KIND_BOTTLENECK ? (double) a->expansion * W : W;
	double		per_image;
	double		bytes;

	per_image = W						/* linear_in */
		+ (double) a->depth * (3 * W + 2 * hidden + 2)	/* norm, pre/post GELU, output */
		+ 3.0 * a->classes				/* logits, their gradient, head input copy */
		+ 2 * W + 2 * hidden;			/* backward scratch */
	bytes = params * (2 + state) * sizeof(float)
		+ B * per_image * sizeof(float)
		+ B * (double) a->in_dim * sizeof(float)	/* the batch */
		+ B * (2 * sizeof(int32_t) + sizeof(uint64_t));
	return (size_t) (bytes * 1.05);
}

const MlpModel *
mlp_trainer_model(const MlpTrainer *t)
{
	return &t->model;
}

/* ---- training ---------------------------------------------------------------------------- */

static int
prepare_order(MlpTrainer *t, int64_t n, int epoch, char *err, size_t errlen)
{
	MlpRng		rng;

	if (t->order_n != n)
	{
		int64_t    *order = realloc(t->order, (size_t) n * sizeof(int64_t));

		if (order == NULL)
		{
			set_err(err, errlen, "out of memory for the order of the epoch");
			return -1;
		}
		t->order = order;
		t->order_n = n;
	}
	for (int64_t i = 0; i < n; i++)
		t->order[i] = i;
	mlp_rng_seed(&rng, t->cfg.seed, STREAM_SHUFFLE(epoch));
	mlp_rng_shuffle(&rng, t->order, n);
	return 0;
}

static int
check_dataset(const MlpTrainer *t, const MlpDataset *data, bool labels_required,
			  char *err, size_t errlen)
{
	char		msg[256];

	if (data->n < 1)
	{
		set_err(err, errlen, "the dataset has no images");
		return -1;
	}
	if (data->spec.channels != t->cfg.input.channels || data->spec.height < 1 ||
		data->spec.width < 1)
	{
		snprintf(msg, sizeof(msg), "images of %d channels do not fit a model of %d channels",
				 data->spec.channels, t->cfg.input.channels);
		set_err(err, errlen, msg);
		return -1;
	}
	if (labels_required && data->labels == NULL)
	{
		set_err(err, errlen, "the dataset has no labels");
		return -1;
	}
	return 0;
}

int
mlp_trainer_run_epoch(MlpTrainer *t, const MlpDataset *data, int epoch,
					  MlpStepCallback cb, void *cb_arg, MlpEpochStats *stats,
					  char *err, size_t errlen)
{
	const MlpTrainConfig *cfg = &t->cfg;
	MlpAugmentConfig aug;
	int64_t		steps;
	double		start = now_seconds();
	double		loss_sum = 0;
	int64_t		correct = 0;
	int64_t		seen = 0;
	float		lr;
	bool		mixup = cfg->mixup_alpha > 0;

	memset(stats, 0, sizeof(*stats));
	stats->epoch = epoch + 1;
	/* the setting is per process; checked supported when the trainer was created */
	mlp_blas_set_matmul_precision(cfg->precision);
	if (check_dataset(t, data, true, err, errlen) != 0)
		return -1;
	for (int64_t i = 0; i < data->n; i++)
	{
		if (data->labels[i] < 0 || data->labels[i] >= t->classes)
		{
			char		msg[128];

			snprintf(msg, sizeof(msg), "label %d of image %lld is not in [0, %d)",
					 data->labels[i], (long long) i, t->classes);
			set_err(err, errlen, msg);
			return -1;
		}
	}
	if (prepare_order(t, data->n, epoch, err, errlen) != 0)
		return -1;

	augment_config_for(t, &data->spec, cfg->augment, &aug);
	lr = cfg->cosine ? mlp_cosine_lr(cfg->opt.lr, epoch, cfg->epochs) : cfg->opt.lr;
	steps = (data->n + cfg->batch_size - 1) / cfg->batch_size;

	for (int64_t step = 0; step < steps; step++)
	{
		int64_t		first = step * cfg->batch_size;
		int			B = (int) (data->n - first < cfg->batch_size ? data->n - first : cfg->batch_size);
		const int64_t *rows = t->order + first;
		MlpRng		rng;
		float		lam = 1.0f;
		MlpLossResult res;
		double		elapsed;

		mlp_rng_seed(&rng, cfg->seed, STREAM_STEP(epoch, step));
		if (mixup)
			lam = (float) mlp_rng_beta(&rng, cfg->mixup_alpha, cfg->mixup_alpha);
		for (int i = 0; i < B; i++)
			t->image_seeds[i] = mlp_rng_next(&rng);

		assemble_batch(&aug, data, rows, cfg->augment ? t->image_seeds : NULL, t->x,
					   t->in_dim, B, cfg->threads);
		for (int i = 0; i < B; i++)
			t->label_a[i] = data->labels[rows[i]];
		/* Image i is mixed with image i-1 of the batch (cyclic): so is its label. */
		for (int i = 0; i < B; i++)
			t->label_b[i] = t->label_a[(i + B - 1) % B];
		if (mixup)
			mlp_mixup_batch(t->x, B, t->in_dim, lam);

		mlp_model_forward(&t->model, &t->acts, t->x, B, t->logits);
		res = mlp_softmax_xent(t->logits, B, t->classes, t->label_a,
							   mixup ? t->label_b : NULL, lam, cfg->label_smoothing,
							   t->dlogits);
		if (!isfinite(res.loss))
		{
			char		msg[160];

			snprintf(msg, sizeof(msg), "the loss diverged (%g) at step %lld of epoch %d; try a smaller learning rate",
					 res.loss, (long long) step + 1, epoch + 1);
			set_err(err, errlen, msg);
			return -1;
		}
		mlp_model_zero_grads(&t->model);
		mlp_model_backward(&t->model, &t->acts, t->x, t->dlogits, B);
		if (cfg->clip_norm > 0)
			(void) mlp_clip_grad_norm(t->model.grads, t->model.num_params, cfg->clip_norm);
		mlp_opt_step(&t->opt, t->model.params, t->model.grads, lr);

		loss_sum += res.loss * B;
		correct += res.correct;
		seen += B;
		elapsed = now_seconds() - start;
		stats->images_per_second = elapsed > 0 ? seen / elapsed : 0;

		if (cb && cb(cb_arg, epoch + 1, step + 1, steps, res.loss, stats->images_per_second))
		{
			stats->examples = seen;
			stats->train_loss = loss_sum / seen;
			stats->train_accuracy = (double) correct / seen;
			stats->seconds = elapsed;
			return 1;
		}
	}

	stats->examples = seen;
	stats->train_loss = loss_sum / seen;
	stats->train_accuracy = (double) correct / seen;
	stats->seconds = now_seconds() - start;
	stats->images_per_second = stats->seconds > 0 ? seen / stats->seconds : 0;
	return 0;
}

/* ---- evaluation -------------------------------------------------------------------------- */

typedef struct EvalAccum
{
	double		loss_sum;
	int64_t		correct;
	int64_t		correct_top5;
	int64_t		n;
} EvalAccum;

static void
eval_finish(const EvalAccum *acc, MlpEvalStats *stats)
{
	stats->n = acc->n;
	stats->loss = acc->n ? acc->loss_sum / acc->n : 0;
	stats->accuracy = acc->n ? (double) acc->correct / acc->n : 0;
	stats->top5 = acc->n ? (double) acc->correct_top5 / acc->n : 0;
}

static void
eval_batch(EvalAccum *acc, const float *logits, int B, int C, const int32_t *labels)
{
	MlpLossResult res = mlp_softmax_xent(logits, B, C, labels, NULL, 1.0f, 0.0f, NULL);

	acc->loss_sum += res.loss * B;
	acc->correct += res.correct;
	acc->correct_top5 += res.correct_top5;
	acc->n += B;
}

void
mlp_trainer_evaluate(MlpTrainer *t, const MlpDataset *data, MlpEvalStats *stats)
{
	MlpAugmentConfig pre;
	EvalAccum	acc = {0};
	int			batch = t->cfg.batch_size;

	memset(stats, 0, sizeof(*stats));
	if (check_dataset(t, data, true, NULL, 0) != 0)
		return;
	mlp_blas_set_matmul_precision(t->cfg.precision);
	augment_config_for(t, &data->spec, false, &pre);
	for (int64_t first = 0; first < data->n; first += batch)
	{
		int			B = (int) (data->n - first < batch ? data->n - first : batch);

		for (int i = 0; i < B; i++)
			t->eval_rows[i] = first + i;
		assemble_batch(&pre, data, t->eval_rows, NULL, t->x, t->in_dim, B, t->cfg.threads);
		mlp_model_forward(&t->model, &t->acts, t->x, B, t->logits);
		eval_batch(&acc, t->logits, B, t->classes, data->labels + first);
	}
	eval_finish(&acc, stats);
}

void
mlp_evaluate_model(const MlpModel *m, const MlpAugmentConfig *pre, const MlpDataset *data,
				   int batch, MlpEvalStats *stats)
{
	EvalAccum	acc = {0};
	int64_t		in_dim = m->arch.in_dim;
	int			C = m->arch.classes;
	float	   *x;
	float	   *logits;
	float	   *scratch;
	int64_t    *rows;

	memset(stats, 0, sizeof(*stats));
	if (batch < 1 || data->n < 1 || data->labels == NULL)
		return;
	if (batch > data->n)
		batch = (int) data->n;
	x = malloc((size_t) batch * in_dim * sizeof(float));
	logits = malloc((size_t) batch * C * sizeof(float));
	scratch = malloc(mlp_model_scratch_floats(m, batch) * sizeof(float));
	rows = malloc((size_t) batch * sizeof(int64_t));
	if (x && logits && scratch && rows)
	{
		for (int64_t first = 0; first < data->n; first += batch)
		{
			int			B = (int) (data->n - first < batch ? data->n - first : batch);

			for (int i = 0; i < B; i++)
				rows[i] = first + i;
			assemble_batch(pre, data, rows, NULL, x, in_dim, B, 1);
			mlp_model_infer(m, x, B, logits, scratch);
			eval_batch(&acc, logits, B, C, data->labels + first);
		}
		eval_finish(&acc, stats);
	}
	free(x);
	free(logits);
	free(scratch);
	free(rows);
}

/* ---- checkpoints ------------------------------------------------------------------------- */

int
mlp_trainer_save_state(const MlpTrainer *t, int epochs_done, uint8_t **out, size_t *outlen,
					   char *err, size_t errlen)
{
	StWriter   *w = st_writer_create();
	int64_t		shape[1] = {(int64_t) t->model.num_params};
	char		buf[64];
	int			ok = 1;

	if (w == NULL)
	{
		set_err(err, errlen, "out of memory");
		return -1;
	}
	ok &= st_writer_add(w, "params", t->model.params, 1, shape) == 0;
	ok &= st_writer_add(w, "optimizer.m", t->opt.m, 1, shape) == 0;
	if (t->opt.v)
		ok &= st_writer_add(w, "optimizer.v", t->opt.v, 1, shape) == 0;
	ok &= st_writer_meta(w, "format", CHECKPOINT_FORMAT) == 0;
	ok &= st_writer_meta(w, "optimizer", mlp_opt_kind_name(t->opt.cfg.kind)) == 0;
	snprintf(buf, sizeof(buf), "%d", epochs_done);
	ok &= st_writer_meta(w, "epochs_done", buf) == 0;
	snprintf(buf, sizeof(buf), "%lld", (long long) t->opt.step);
	ok &= st_writer_meta(w, "optimizer_step", buf) == 0;
	mlp_arch_format(&t->model.arch, buf, sizeof(buf));
	ok &= st_writer_meta(w, "arch", buf) == 0;
	if (!ok)
	{
		st_writer_abort(w);
		set_err(err, errlen, "out of memory while writing the checkpoint");
		return -1;
	}
	if (st_writer_finish(w, out, outlen) != 0)
	{
		set_err(err, errlen, "out of memory while writing the checkpoint");
		return -1;
	}
	return 0;
}

static int
load_flat(const StFile *f, const char *name, float *dst, size_t n, char *err, size_t errlen)
{
	const StTensor *tensor = st_find(f, name);
	char		msg[160];

	if (tensor == NULL || tensor->dtype != ST_F32 || tensor->numel != (int64_t) n)
	{
		snprintf(msg, sizeof(msg), "checkpoint tensor \"%s\" is missing or has the wrong size", name);
		set_err(err, errlen, msg);
		return -1;
	}
	memcpy(dst, tensor->data, n * sizeof(float));
	return 0;
}

static int
parse_meta_int(const StFile *f, const char *key, long long *value, char *err, size_t errlen)
{
	const char *s = st_meta(f, key);
	char	   *end;
	char		msg[128];

	if (s == NULL || *s == '\0')
		goto bad;
	*value = strtoll(s, &end, 10);
	if (*end != '\0' || *value < 0)
		goto bad;
	return 0;
bad:
	snprintf(msg, sizeof(msg), "checkpoint metadata \"%s\" is missing or invalid", key);
	set_err(err, errlen, msg);
	return -1;
}

int
mlp_trainer_load_state(MlpTrainer *t, const uint8_t *buf, size_t len, int *epochs_done,
					   char *err, size_t errlen)
{
	StFile		f;
	const char *format;
	const char *opt_name;
	char		arch[64];
	long long	done;
	long long	step;
	int			rc = -1;

	if (st_parse(buf, len, &f, err, errlen) != 0)
		return -1;
	format = st_meta(&f, "format");
	opt_name = st_meta(&f, "optimizer");
	mlp_arch_format(&t->model.arch, arch, sizeof(arch));
	if (format == NULL || strcmp(format, CHECKPOINT_FORMAT) != 0)
		set_err(err, errlen, "not an mlpscale checkpoint");
	else if (opt_name == NULL || strcmp(opt_name, mlp_opt_kind_name(t->opt.cfg.kind)) != 0)
		set_err(err, errlen, "the checkpoint was made with another optimizer");
	else if (st_meta(&f, "arch") == NULL || strcmp(st_meta(&f, "arch"), arch) != 0)
		set_err(err, errlen, "the checkpoint was made for another architecture");
	else if (parse_meta_int(&f, "epochs_done", &done, err, errlen) == 0 &&
			 parse_meta_int(&f, "optimizer_step", &step, err, errlen) == 0 &&
			 load_flat(&f, "params", t->model.params, t->model.num_params, err, errlen) == 0 &&
			 load_flat(&f, "optimizer.m", t->opt.m, t->opt.n, err, errlen) == 0 &&
			 (t->opt.v == NULL ||
			  load_flat(&f, "optimizer.v", t->opt.v, t->opt.n, err, errlen) == 0))
	{
		t->opt.step = step;
		*epochs_done = (int) done;
		rc = 0;
	}
	st_free(&f);
	return rc;
}
