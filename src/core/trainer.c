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

#include "gemm_bf16.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "clock.h"
#include "evaluate.h"
#include "loss.h"
#include "rng.h"
#include "safetensors.h"
#include "thread_pool.h"

/* RNG streams: the step in the low 32 bits, the epoch above; the top values are reserved. */
#define STREAM_STEP(epoch, step)	(((uint64_t) (epoch) << 32) | (uint64_t) (step))
#define STREAM_SHUFFLE(epoch)		(((uint64_t) (epoch) << 32) | 0xFFFFFFFFu)
#define STREAM_INIT					UINT64_MAX
#define STREAM_HEAD_INIT			(UINT64_MAX - 1)

/* Below this many images per thread, waking threads costs more than it saves. */
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
	/* a streamed epoch (mlp_trainer_epoch_begin .. epoch_end) */
	struct
	{
		int			epoch;
		int64_t		steps;		/* for the callback */
		int64_t		step;		/* steps done */
		double		start;
		double		loss_sum;
		int64_t		correct;
		int64_t		seen;
		float		lr;
		bool		have_spec;	/* spec and aug are the first chunk's */
		MlpImageSpec spec;
		MlpAugmentConfig aug;
		uint8_t    *carry;		/* [batch - 1] images of a chunk's end */
		int32_t    *carry_labels;
		size_t		carry_image_bytes;	/* of the images carry has room for */
		int			carry_n;
	}			ep;
};

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
	int			count;			/* images of the batch */
} BatchJob;

/* A pool task: part `part` of `parts` takes one contiguous share of the images. */
static void
batch_job_part(void *arg, int part, int parts)
{
	const BatchJob *job = arg;
	size_t		image_bytes = (size_t) job->data->spec.channels * job->data->spec.height *
		job->data->spec.width;
	int			first = (int) ((int64_t) job->count * part / parts);
	int			last = (int) ((int64_t) job->count * (part + 1) / parts);

	for (int i = first; i < last; i++)
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

/*
 * Fills x[0..B) from the given rows: augmented with per-image seeds, or preprocessed when
 * seeds is NULL.  Runs on up to `threads` threads of the pool (the calling one included);
 * each image depends only on its own seed, so the result never depends on how many run.
 */
static void
assemble_batch(const MlpAugmentConfig *aug, const MlpDataset *data, const int64_t *rows,
			   const uint64_t *seeds, float *x, int64_t in_dim, int B, int threads)
{
	BatchJob	job = {
		.aug = aug, .data = data, .rows = rows, .seeds = seeds, .x = x, .in_dim = in_dim,
		.count = B
	};
	int			parts = threads;

	if (parts > B / MIN_IMAGES_PER_THREAD)
		parts = B / MIN_IMAGES_PER_THREAD;
	if (parts < 1)
		parts = 1;
	mlp_pool_run(batch_job_part, &job, parts);
}

/* ---- creation ---------------------------------------------------------------------------- */

static MlpStatus
check_config(const MlpTrainConfig *cfg, MlpError *err)
{
	char		msg[MLP_ERRBUF];
	int64_t		in_dim = (int64_t) cfg->input.channels * cfg->input.height * cfg->input.width;

	if (cfg->input.channels < 1 || cfg->input.channels > MLP_MAX_CHANNELS ||
		cfg->input.height < 1 || cfg->input.width < 1)
		return mlp_error_set(err, MLP_ERR_INVALID_ARGUMENT, "invalid model input %dx%dx%d",
							 cfg->input.channels, cfg->input.height, cfg->input.width);
	if (cfg->arch.in_dim != in_dim)
		return mlp_error_set(err, MLP_ERR_INVALID_ARGUMENT,
							 "architecture input size %lld does not match the input %dx%dx%d",
							 (long long) cfg->arch.in_dim, cfg->input.channels,
							 cfg->input.height, cfg->input.width);
	if (mlp_arch_validate(&cfg->arch, msg, sizeof(msg)) != 0)
		return mlp_error_set(err, MLP_ERR_INVALID_ARGUMENT, "%s", msg);
	if (cfg->epochs < 1 || cfg->batch_size < 1)
		return mlp_error_set(err, MLP_ERR_INVALID_ARGUMENT,
							 "epochs and batch size must be at least 1");
	if (mlp_opt_check_config(&cfg->opt, msg, sizeof(msg)) != 0)
		return mlp_error_set(err, MLP_ERR_INVALID_ARGUMENT, "%s", msg);
	if (cfg->precision != MLP_MATMUL_FP32 && cfg->precision != MLP_MATMUL_BF16)
		return mlp_error_set(err, MLP_ERR_INVALID_ARGUMENT, "invalid matmul precision %d",
							 (int) cfg->precision);
	if (cfg->precision == MLP_MATMUL_BF16 && !mlp_blas_bf16_supported())
	{
		mlp_error_set(err, MLP_ERR_NOT_SUPPORTED,
					  "matmul precision bf16 needs a CPU with AVX512_BF16");
		mlp_error_hint(err, "Products in fp32, the default, run on every CPU.");
		return MLP_ERR_NOT_SUPPORTED;
	}
	for (int c = 0; c < cfg->input.channels; c++)
	{
		if (!(cfg->std[c] > 0) || !isfinite(cfg->mean[c]))
			return mlp_error_set(err, MLP_ERR_INVALID_ARGUMENT,
								 "invalid normalisation of channel %d (mean %g, std %g)",
								 c, cfg->mean[c], cfg->std[c]);
	}
	return MLP_OK;
}

/* The body of base must be the body of cfg's architecture. */
static MlpStatus
check_base(const MlpTrainConfig *cfg, const MlpModel *base, MlpError *err)
{
	const MlpArch *a = &cfg->arch;
	const MlpArch *b = &base->arch;
	char		sa[64],
				sb[64];

	if (a->kind == b->kind && a->depth == b->depth && a->width == b->width &&
		a->expansion == b->expansion && a->in_dim == b->in_dim)
		return MLP_OK;
	mlp_arch_format(a, sa, sizeof(sa));
	mlp_arch_format(b, sb, sizeof(sb));
	return mlp_error_set(err, MLP_ERR_INVALID_ARGUMENT,
						 "base model %s with input size %lld does not match %s with input size %lld",
						 sb, (long long) b->in_dim, sa, (long long) a->in_dim);
}

/* The weights: the body copied from base when fine-tuning (same layout), the head new. */
static void
init_params(MlpTrainer *t, const MlpModel *base)
{
	MlpRng		rng;

	if (base)
	{
		memcpy(t->model.params, base->params, base->head_offset * sizeof(float));
		mlp_rng_seed(&rng, t->cfg.seed, STREAM_HEAD_INIT);
		mlp_model_init_head(&t->model, &rng);
	}
	else
	{
		mlp_rng_seed(&rng, t->cfg.seed, STREAM_INIT);
		mlp_model_init_weights(&t->model, &rng);
	}
}

/*
 * Model, optimizer, activations and batch buffers of a checked config: what fails here can
 * only be memory.  On failure the caller frees t.
 */
static MlpStatus
alloc_buffers(MlpTrainer *t, MlpError *err)
{
	char		msg[MLP_ERRBUF];
	size_t		B = (size_t) t->cfg.batch_size;

	if (mlp_model_create(&t->model, &t->cfg.arch, true, msg, sizeof(msg)) != 0)
		return mlp_error_set(err, MLP_ERR_OUT_OF_MEMORY, "%s", msg);
	/* the optimizer trains [head_offset, num_params) as the head */
	t->cfg.opt.head_offset = t->model.head_offset;
	if (mlp_opt_create(&t->opt, &t->cfg.opt, t->model.num_params, msg, sizeof(msg)) != 0 ||
		mlp_activations_create(&t->acts, &t->model, t->cfg.batch_size, msg, sizeof(msg)) != 0)
		return mlp_error_set(err, MLP_ERR_OUT_OF_MEMORY, "%s", msg);
	t->x = malloc(B * (size_t) t->in_dim * sizeof(float));
	t->logits = malloc(B * t->classes * sizeof(float));
	t->dlogits = malloc(B * t->classes * sizeof(float));
	t->label_a = malloc(B * sizeof(int32_t));
	t->label_b = malloc(B * sizeof(int32_t));
	t->image_seeds = malloc(B * sizeof(uint64_t));
	t->eval_rows = malloc(B * sizeof(int64_t));
	if (!t->x || !t->logits || !t->dlogits || !t->label_a || !t->label_b || !t->image_seeds ||
		!t->eval_rows)
		return mlp_error_set(err, MLP_ERR_OUT_OF_MEMORY, "out of memory for the batch buffers");
	return MLP_OK;
}

MlpTrainer *
mlp_trainer_new(const MlpTrainConfig *cfg, const MlpModel *base, MlpError *err)
{
	MlpTrainer *t;

	if (check_config(cfg, err) != MLP_OK || (base && check_base(cfg, base, err) != MLP_OK))
		return NULL;
	t = calloc(1, sizeof(MlpTrainer));
	if (t == NULL)
	{
		mlp_error_set(err, MLP_ERR_OUT_OF_MEMORY, "out of memory");
		return NULL;
	}
	t->cfg = *cfg;
	t->in_dim = cfg->arch.in_dim;
	t->classes = cfg->arch.classes;
	if (t->cfg.threads < 1)
		t->cfg.threads = 1;
	if (alloc_buffers(t, err) != MLP_OK)
	{
		mlp_trainer_free(t);
		return NULL;
	}
	init_params(t, base);
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
	free(t->ep.carry);
	free(t->ep.carry_labels);
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
/* The sizes both memory figures are made of. */
typedef struct TrainerSizes
{
	double		params;
	double		state;			/* optimizer floats per parameter */
	double		B;
	double		W;
	double		hidden;
} TrainerSizes;

static TrainerSizes
trainer_sizes(const MlpTrainConfig *cfg)
{
	const MlpArch *a = &cfg->arch;
	TrainerSizes z;

	z.params = (double) mlp_arch_param_count(a);
	z.state = cfg->opt.kind == MLP_OPT_ADAMW ? 2 : 1;
	z.B = cfg->batch_size;
	z.W = a->width;
	z.hidden = a->kind == MLP_KIND_BOTTLENECK ? (double) a->expansion * z.W : z.W;
	return z;
}

size_t
mlp_trainer_memory_estimate(const MlpTrainConfig *cfg)
{
	const MlpArch *a = &cfg->arch;
	TrainerSizes z = trainer_sizes(cfg);
	double		per_image;
	double		bytes;

	per_image = z.W						/* linear_in */
		+ (double) a->depth * (3 * z.W + 2 * z.hidden + 2)	/* norm, pre/post GELU, output */
		+ 3.0 * a->classes				/* logits, their gradient, head input copy */
		+ 2 * z.W + 2 * z.hidden;		/* backward scratch */
	bytes = z.params * (2 + z.state) * sizeof(float)
		+ z.B * per_image * sizeof(float)
		+ z.B * (double) a->in_dim * sizeof(float)	/* the batch */
		+ z.B * (2 * sizeof(int32_t) + sizeof(uint64_t));
	return (size_t) (bytes * 1.05);
}

size_t
mlp_trainer_overhead_memory(const MlpTrainConfig *cfg)
{
	const MlpArch *a = &cfg->arch;
	TrainerSizes z = trainer_sizes(cfg);
	double		threads = cfg->threads > 0 ? cfg->threads : 1;
	double		per_thread = (1 << 20) +	/* a stack's and an arena's touched pages */
		(cfg->precision == MLP_MATMUL_BF16 ? (double) mlp_gemm_bf16_thread_memory() : 0);
	double		checkpoint = 2 * z.params * (1 + z.state) * sizeof(float);
	double		released = z.params * sizeof(float) + z.B * (double) a->in_dim * sizeof(float) +
		z.B * (z.W + (double) a->depth * (3 * z.W + 2 * z.hidden)) * sizeof(float);
	double		extra = checkpoint > released ? checkpoint - released : 0;

	/* the threads of the products, and the train thread of a streamed run */
	return (size_t) ((threads + 1) * per_thread + extra);
}

const MlpModel *
mlp_trainer_model(const MlpTrainer *t)
{
	return &t->model;
}

/* ---- training ---------------------------------------------------------------------------- */

static MlpStatus
prepare_order(MlpTrainer *t, int64_t n, int epoch, MlpError *err)
{
	MlpRng		rng;

	if (t->order_n != n)
	{
		int64_t    *order = realloc(t->order, (size_t) n * sizeof(int64_t));

		if (order == NULL)
			return mlp_error_set(err, MLP_ERR_OUT_OF_MEMORY,
								 "out of memory for the order of the epoch (%lld images)",
								 (long long) n);
		t->order = order;
		t->order_n = n;
	}
	for (int64_t i = 0; i < n; i++)
		t->order[i] = i;
	mlp_rng_seed(&rng, t->cfg.seed, STREAM_SHUFFLE(epoch));
	mlp_rng_shuffle(&rng, t->order, n);
	return MLP_OK;
}

static MlpStatus
check_dataset(const MlpTrainer *t, const MlpDataset *data, bool labels_required,
			  MlpError *err)
{
	if (data->n < 1)
		return mlp_error_set(err, MLP_ERR_INVALID_ARGUMENT, "the dataset has no images");
	if (data->spec.channels != t->cfg.input.channels || data->spec.height < 1 ||
		data->spec.width < 1)
		return mlp_error_set(err, MLP_ERR_INVALID_ARGUMENT,
							 "images of %d channels do not fit a model of %d channels",
							 data->spec.channels, t->cfg.input.channels);
	if (labels_required && data->labels == NULL)
		return mlp_error_set(err, MLP_ERR_INVALID_ARGUMENT, "the dataset has no labels");
	return MLP_OK;
}

static MlpStatus
check_labels(const MlpTrainer *t, const MlpDataset *data, MlpError *err)
{
	for (int64_t i = 0; i < data->n; i++)
	{
		if (data->labels[i] < 0 || data->labels[i] >= t->classes)
			return mlp_error_set(err, MLP_ERR_INVALID_ARGUMENT,
								 "label %d of image %lld is not in [0, %d)",
								 data->labels[i], (long long) i, t->classes);
	}
	return MLP_OK;
}

/*
 * One step over the B images at rows: the batch assembled (augmented with the step's seeds),
 * MixUp, forward, loss, backward, clipping, the optimizer.  The loss and correct count of
 * the step go to *res.
 */
static MlpStatus
train_step(MlpTrainer *t, const MlpDataset *data, const MlpAugmentConfig *aug, int epoch,
		   int64_t step, const int64_t *rows, int B, float lr, MlpLossResult *res,
		   MlpError *err)
{
	const MlpTrainConfig *cfg = &t->cfg;
	bool		mixup = cfg->mixup_alpha > 0;
	MlpRng		rng;
	float		lam = 1.0f;

	mlp_rng_seed(&rng, cfg->seed, STREAM_STEP(epoch, step));
	if (mixup)
		lam = (float) mlp_rng_beta(&rng, cfg->mixup_alpha, cfg->mixup_alpha);
	for (int i = 0; i < B; i++)
		t->image_seeds[i] = mlp_rng_next(&rng);

	assemble_batch(aug, data, rows, cfg->augment ? t->image_seeds : NULL, t->x,
				   t->in_dim, B, cfg->threads);
	for (int i = 0; i < B; i++)
		t->label_a[i] = data->labels[rows[i]];
	/* Image i is mixed with image i-1 of the batch (cyclic): so is its label. */
	for (int i = 0; i < B; i++)
		t->label_b[i] = t->label_a[(i + B - 1) % B];
	if (mixup)
		mlp_mixup_batch(t->x, B, t->in_dim, lam);

	mlp_model_forward(&t->model, &t->acts, t->x, B, t->logits);
	*res = mlp_softmax_xent(t->logits, B, t->classes, t->label_a,
							mixup ? t->label_b : NULL, lam, cfg->label_smoothing,
							t->dlogits);
	if (!isfinite(res->loss))
	{
		mlp_error_set(err, MLP_ERR_NUMERIC, "the loss diverged (%g) at step %lld of epoch %d",
					  res->loss, (long long) step + 1, epoch + 1);
		mlp_error_hint(err, "Try a smaller learning rate.");
		return MLP_ERR_NUMERIC;
	}
	mlp_model_zero_grads(&t->model);
	mlp_model_backward(&t->model, &t->acts, t->x, t->dlogits, B);
	if (cfg->clip_norm > 0)
		(void) mlp_clip_grad_norm(t->model.grads, t->model.num_params, cfg->clip_norm);
	mlp_opt_step(&t->opt, t->model.params, t->model.grads, lr);
	return MLP_OK;
}

MlpStatus
mlp_trainer_train_epoch(MlpTrainer *t, const MlpDataset *data, int epoch,
						MlpStepCallback cb, void *cb_arg, MlpEpochStats *stats, MlpError *err)
{
	const MlpTrainConfig *cfg = &t->cfg;
	MlpAugmentConfig aug;
	MlpStatus	st;
	int64_t		steps;
	double		start = mlp_seconds_now();
	double		loss_sum = 0;
	int64_t		correct = 0;
	int64_t		seen = 0;
	float		lr;

	memset(stats, 0, sizeof(*stats));
	stats->epoch = epoch + 1;
	/* per-process settings: precision checked supported when the trainer was created */
	mlp_blas_set_matmul_precision(cfg->precision);
	mlp_pool_set_threads(cfg->threads);
	if ((st = check_dataset(t, data, true, err)) != MLP_OK ||
		(st = check_labels(t, data, err)) != MLP_OK ||
		(st = prepare_order(t, data->n, epoch, err)) != MLP_OK)
		return st;

	augment_config_for(t, &data->spec, cfg->augment, &aug);
	lr = cfg->cosine ? mlp_cosine_lr(cfg->opt.lr, epoch, cfg->epochs) : cfg->opt.lr;
	steps = (data->n + cfg->batch_size - 1) / cfg->batch_size;

	for (int64_t step = 0; step < steps; step++)
	{
		int64_t		first = step * cfg->batch_size;
		int			B = (int) (data->n - first < cfg->batch_size ? data->n - first : cfg->batch_size);
		MlpLossResult res;
		double		elapsed;

		if ((st = train_step(t, data, &aug, epoch, step, t->order + first, B, lr, &res,
							 err)) != MLP_OK)
			return st;
		loss_sum += res.loss * B;
		correct += res.correct;
		seen += B;
		elapsed = mlp_seconds_now() - start;
		stats->images_per_second = elapsed > 0 ? seen / elapsed : 0;

		if (cb && cb(cb_arg, epoch + 1, step + 1, steps, res.loss, stats->images_per_second))
		{
			stats->examples = seen;
			stats->train_loss = loss_sum / seen;
			stats->train_accuracy = (double) correct / seen;
			stats->seconds = elapsed;
			stats->stopped = true;
			return MLP_OK;
		}
	}

	stats->examples = seen;
	stats->train_loss = loss_sum / seen;
	stats->train_accuracy = (double) correct / seen;
	stats->seconds = mlp_seconds_now() - start;
	stats->images_per_second = stats->seconds > 0 ? seen / stats->seconds : 0;
	return MLP_OK;
}

/* ---- a streamed epoch ---------------------------------------------------------------- */

size_t
mlp_trainer_stream_memory(const MlpTrainConfig *cfg, size_t image_bytes)
{
	return (size_t) cfg->batch_size * (image_bytes + sizeof(int32_t));
}

MlpStatus
mlp_trainer_epoch_begin(MlpTrainer *t, int epoch, int64_t n, MlpEpochStats *stats,
						MlpError *err)
{
	const MlpTrainConfig *cfg = &t->cfg;

	if (n < 1)
		return mlp_error_set(err, MLP_ERR_INVALID_ARGUMENT, "the dataset has no images");
	memset(stats, 0, sizeof(*stats));
	stats->epoch = epoch + 1;
	mlp_blas_set_matmul_precision(cfg->precision);
	mlp_pool_set_threads(cfg->threads);
	t->ep.epoch = epoch;
	t->ep.steps = (n + cfg->batch_size - 1) / cfg->batch_size;
	t->ep.step = 0;
	t->ep.start = mlp_seconds_now();
	t->ep.loss_sum = 0;
	t->ep.correct = 0;
	t->ep.seen = 0;
	t->ep.lr = cfg->cosine ? mlp_cosine_lr(cfg->opt.lr, epoch, cfg->epochs) : cfg->opt.lr;
	t->ep.have_spec = false;
	t->ep.carry_n = 0;
	return MLP_OK;
}

static void
stream_stats(MlpTrainer *t, MlpEpochStats *stats)
{
	stats->examples = t->ep.seen;
	stats->train_loss = t->ep.seen > 0 ? t->ep.loss_sum / t->ep.seen : 0;
	stats->train_accuracy = t->ep.seen > 0 ? (double) t->ep.correct / t->ep.seen : 0;
	stats->seconds = mlp_seconds_now() - t->ep.start;
	stats->images_per_second = stats->seconds > 0 ? t->ep.seen / stats->seconds : 0;
}

/* One step of the streamed epoch over the B images at rows of data, and the callback. */
static MlpStatus
stream_step(MlpTrainer *t, const MlpDataset *data, const int64_t *rows, int B,
			MlpStepCallback cb, void *cb_arg, MlpEpochStats *stats, MlpError *err)
{
	MlpLossResult res;
	MlpStatus	st;
	double		elapsed;

	if ((st = train_step(t, data, &t->ep.aug, t->ep.epoch, t->ep.step, rows, B, t->ep.lr,
						 &res, err)) != MLP_OK)
		return st;
	t->ep.step++;
	t->ep.loss_sum += res.loss * B;
	t->ep.correct += res.correct;
	t->ep.seen += B;
	elapsed = mlp_seconds_now() - t->ep.start;
	stats->images_per_second = elapsed > 0 ? t->ep.seen / elapsed : 0;
	if (cb && cb(cb_arg, t->ep.epoch + 1, t->ep.step, t->ep.steps, res.loss,
				 stats->images_per_second))
	{
		stream_stats(t, stats);
		stats->stopped = true;
	}
	return MLP_OK;
}

/* The carried-over images as a dataset, and rows 0..carry_n-1 in t->eval_rows. */
static MlpDataset
carry_dataset(MlpTrainer *t)
{
	MlpDataset	d = {t->ep.carry, t->ep.carry_labels, t->ep.carry_n, t->ep.spec};

	for (int i = 0; i < t->ep.carry_n; i++)
		t->eval_rows[i] = i;
	return d;
}

static void
carry_row(MlpTrainer *t, const MlpDataset *chunk, int64_t row, size_t image_bytes)
{
	memcpy(t->ep.carry + (size_t) t->ep.carry_n * image_bytes,
		   chunk->images + (size_t) row * image_bytes, image_bytes);
	t->ep.carry_labels[t->ep.carry_n++] = chunk->labels[row];
}

static MlpStatus
first_chunk(MlpTrainer *t, const MlpDataset *chunk, size_t image_bytes, MlpError *err)
{
	size_t		B = (size_t) t->cfg.batch_size;

	if (t->ep.carry == NULL || t->ep.carry_image_bytes != image_bytes)
	{
		uint8_t    *carry = realloc(t->ep.carry, B * image_bytes);
		int32_t    *labels = realloc(t->ep.carry_labels, B * sizeof(int32_t));

		if (carry)
			t->ep.carry = carry;
		if (labels)
			t->ep.carry_labels = labels;
		if (carry == NULL || labels == NULL)
			return mlp_error_set(err, MLP_ERR_OUT_OF_MEMORY,
								 "out of memory for the carry-over batch of a streamed epoch");
		t->ep.carry_image_bytes = image_bytes;
	}
	t->ep.spec = chunk->spec;
	augment_config_for(t, &chunk->spec, t->cfg.augment, &t->ep.aug);
	t->ep.have_spec = true;
	return MLP_OK;
}

MlpStatus
mlp_trainer_train_chunk(MlpTrainer *t, const MlpDataset *chunk, const int64_t *rows,
						MlpStepCallback cb, void *cb_arg, MlpEpochStats *stats, MlpError *err)
{
	int			B = t->cfg.batch_size;
	size_t		image_bytes;
	int64_t		i = 0;
	MlpStatus	st;

	if ((st = check_dataset(t, chunk, true, err)) != MLP_OK ||
		(st = check_labels(t, chunk, err)) != MLP_OK)
		return st;
	image_bytes = (size_t) chunk->spec.channels * chunk->spec.height * chunk->spec.width;
	if (!t->ep.have_spec)
	{
		if ((st = first_chunk(t, chunk, image_bytes, err)) != MLP_OK)
			return st;
	}
	else if (chunk->spec.height != t->ep.spec.height || chunk->spec.width != t->ep.spec.width)
		return mlp_error_set(err, MLP_ERR_INVALID_ARGUMENT,
							 "a chunk has images of %dx%d, the first chunk of the epoch %dx%d",
							 chunk->spec.height, chunk->spec.width, t->ep.spec.height,
							 t->ep.spec.width);

	/* a batch begun by the previous chunk is completed first */
	if (t->ep.carry_n > 0)
	{
		for (; t->ep.carry_n < B && i < chunk->n; i++)
			carry_row(t, chunk, rows ? rows[i] : i, image_bytes);
		if (t->ep.carry_n == B)
		{
			MlpDataset	d = carry_dataset(t);

			t->ep.carry_n = 0;
			if ((st = stream_step(t, &d, t->eval_rows, B, cb, cb_arg, stats, err)) != MLP_OK ||
				stats->stopped)
				return st;
		}
	}
	for (; chunk->n - i >= B; i += B)
	{
		const int64_t *batch_rows = rows ? rows + i : NULL;

		if (batch_rows == NULL)
		{
			for (int k = 0; k < B; k++)
				t->eval_rows[k] = i + k;
			batch_rows = t->eval_rows;
		}
		if ((st = stream_step(t, chunk, batch_rows, B, cb, cb_arg, stats, err)) != MLP_OK ||
			stats->stopped)
			return st;
	}
	for (; i < chunk->n; i++)
		carry_row(t, chunk, rows ? rows[i] : i, image_bytes);
	return MLP_OK;
}

MlpStatus
mlp_trainer_epoch_end(MlpTrainer *t, MlpStepCallback cb, void *cb_arg, MlpEpochStats *stats,
					  MlpError *err)
{
	MlpStatus	st;

	if (t->ep.carry_n > 0)
	{
		MlpDataset	d = carry_dataset(t);
		int			B = t->ep.carry_n;

		t->ep.carry_n = 0;
		if ((st = stream_step(t, &d, t->eval_rows, B, cb, cb_arg, stats, err)) != MLP_OK ||
			stats->stopped)
			return st;
	}
	if (t->ep.seen == 0)
		return mlp_error_set(err, MLP_ERR_INVALID_ARGUMENT, "the epoch had no images");
	stream_stats(t, stats);
	return MLP_OK;
}

/* ---- evaluation -------------------------------------------------------------------------- */

/*
 * The forward of training (with its saved activations, into the trainer's buffers), so that
 * validation figures are those of the model being trained, bit for bit.
 */
MlpStatus
mlp_trainer_eval_chunk(MlpTrainer *t, const MlpDataset *data, MlpEvalTotals *tot, MlpError *err)
{
	MlpAugmentConfig pre;
	MlpStatus	st;
	int			batch = t->cfg.batch_size;

	if ((st = check_dataset(t, data, true, err)) != MLP_OK)
		return st;
	mlp_blas_set_matmul_precision(t->cfg.precision);
	mlp_pool_set_threads(t->cfg.threads);
	augment_config_for(t, &data->spec, false, &pre);
	for (int64_t first = 0; first < data->n; first += batch)
	{
		int			B = (int) (data->n - first < batch ? data->n - first : batch);

		for (int i = 0; i < B; i++)
			t->eval_rows[i] = first + i;
		assemble_batch(&pre, data, t->eval_rows, NULL, t->x, t->in_dim, B, t->cfg.threads);
		mlp_model_forward(&t->model, &t->acts, t->x, B, t->logits);
		mlp_eval_add_logits(tot, t->logits, B, t->classes, data->labels + first);
	}
	return MLP_OK;
}

/*
 * The forward of training (with its saved activations, into the trainer's buffers), so that
 * validation figures are those of the model being trained, bit for bit.
 */
MlpStatus
mlp_trainer_eval_dataset(MlpTrainer *t, const MlpDataset *data, MlpEvalStats *stats,
						 MlpError *err)
{
	MlpEvalTotals tot = {0};
	MlpStatus	st;

	memset(stats, 0, sizeof(*stats));
	if ((st = mlp_trainer_eval_chunk(t, data, &tot, err)) != MLP_OK)
		return st;
	mlp_eval_stats(&tot, stats);
	return MLP_OK;
}

/* ---- checkpoints ------------------------------------------------------------------------- */

MlpStatus
mlp_trainer_checkpoint(const MlpTrainer *t, int epochs_done, uint8_t **out, size_t *outlen,
					   MlpError *err)
{
	StWriter   *w = st_writer_create();
	int64_t		shape[1] = {(int64_t) t->model.num_params};
	char		buf[64];
	int			ok = 1;

	if (w == NULL)
		return mlp_error_set(err, MLP_ERR_OUT_OF_MEMORY, "out of memory");
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
		return mlp_error_set(err, MLP_ERR_OUT_OF_MEMORY,
							 "out of memory while writing the checkpoint");
	}
	if (st_writer_finish(w, out, outlen) != 0)
		return mlp_error_set(err, MLP_ERR_OUT_OF_MEMORY,
							 "out of memory while writing the checkpoint");
	return MLP_OK;
}

/* A checkpoint that does not match its own run is as unusable as a damaged one. */
static MlpStatus
load_flat(const StFile *f, const char *name, float *dst, size_t n, MlpError *err)
{
	const StTensor *tensor = st_find(f, name);

	if (tensor == NULL || tensor->dtype != ST_F32 || tensor->numel != (int64_t) n)
		return mlp_error_set(err, MLP_ERR_DATA_CORRUPTED,
							 "checkpoint tensor \"%s\" is missing or has the wrong size", name);
	memcpy(dst, tensor->data, n * sizeof(float));
	return MLP_OK;
}

static MlpStatus
parse_meta_int(const StFile *f, const char *key, long long *value, MlpError *err)
{
	const char *s = st_meta(f, key);
	char	   *end;

	if (s != NULL && *s != '\0')
	{
		*value = strtoll(s, &end, 10);
		if (*end == '\0' && *value >= 0)
			return MLP_OK;
	}
	return mlp_error_set(err, MLP_ERR_DATA_CORRUPTED,
						 "checkpoint metadata \"%s\" is missing or invalid", key);
}

/* format, optimizer and architecture of the checkpoint against the trainer's */
static MlpStatus
check_checkpoint_meta(const MlpTrainer *t, const StFile *f, MlpError *err)
{
	const char *format = st_meta(f, "format");
	const char *opt_name = st_meta(f, "optimizer");
	const char *arch_name = st_meta(f, "arch");
	char		arch[64];

	mlp_arch_format(&t->model.arch, arch, sizeof(arch));
	if (format == NULL || strcmp(format, CHECKPOINT_FORMAT) != 0)
		return mlp_error_set(err, MLP_ERR_DATA_CORRUPTED, "not an mlpscale checkpoint");
	if (opt_name == NULL || strcmp(opt_name, mlp_opt_kind_name(t->opt.cfg.kind)) != 0)
		return mlp_error_set(err, MLP_ERR_DATA_CORRUPTED,
							 "the checkpoint was made with another optimizer");
	if (arch_name == NULL || strcmp(arch_name, arch) != 0)
		return mlp_error_set(err, MLP_ERR_DATA_CORRUPTED,
							 "the checkpoint was made for another architecture");
	return MLP_OK;
}

MlpStatus
mlp_trainer_restore(MlpTrainer *t, const uint8_t *buf, size_t len, int *epochs_done,
					MlpError *err)
{
	StFile		f;
	char		msg[MLP_ERRBUF];
	long long	done = 0;
	long long	step = 0;
	MlpStatus	st;

	if (st_parse(buf, len, &f, msg, sizeof(msg)) != 0)
		return mlp_error_set(err, MLP_ERR_DATA_CORRUPTED, "%s", msg);
	if ((st = check_checkpoint_meta(t, &f, err)) == MLP_OK &&
		(st = parse_meta_int(&f, "epochs_done", &done, err)) == MLP_OK &&
		(st = parse_meta_int(&f, "optimizer_step", &step, err)) == MLP_OK &&
		(st = load_flat(&f, "params", t->model.params, t->model.num_params, err)) == MLP_OK &&
		(st = load_flat(&f, "optimizer.m", t->opt.m, t->opt.n, err)) == MLP_OK &&
		(t->opt.v == NULL ||
		 (st = load_flat(&f, "optimizer.v", t->opt.v, t->opt.n, err)) == MLP_OK))
	{
		t->opt.step = step;
		*epochs_done = (int) done;
	}
	st_free(&f);
	return st;
}
