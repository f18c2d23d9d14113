/*
 * train_bench.c - the mlpscale side of the benchmark, at the level of the numeric core.
 *
 * Drives src/core/trainer.h exactly as the background worker does (same recipe: random-resized
 * crop + flip, MixUp 0.8, label smoothing 0.3, LION lr 5e-5 wd 5e-5), without PostgreSQL, so
 * the figures are those of the training loop itself.  Prints "RESULT key=value ..." lines.
 *
 *   train_bench throughput [--arch A] [--batch B] [--steps S] [--reps R] [--sgemm]
 *       training images/s on synthetic 3x32x32 uint8 images (median of R epochs of S steps
 *       after a warm-up), peak RSS against the memory lower bound, and with --sgemm the
 *       GFLOP/s of one training step's worth of mlp_sgemm calls at the same shapes.
 *   train_bench epoch-scale [--arch A] [--batch B] --sizes 8192,16384,...
 *       seconds of one epoch for each dataset size.
 *   train_bench fashion-epoch      IDX loading + channel statistics + one epoch, timed.
 *   train_bench accuracy [--epochs E] [--seed S]    Fashion-MNIST test accuracy.
 *   train_bench infer [--arch A] [--n N]     inference images/s at --infer-batch and at 1.
 *   train_bench tta [--epochs E] [--seed S] [--cifar DIR]  test accuracy and loss without
 *       test-time augmentation and with it, for several crop scales and view counts (the
 *       measurement behind MLP_TTA_SCALE_MIN, docs/design.md): Fashion-MNIST, or with
 *       --cifar the CIFAR-10 binary batches in DIR (train on 1-4, test on 5).
 *
 * Every mode takes --threads T (default: online CPUs), used for BLAS and augmentation alike.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "arch.h"
#include "bench_time.h"
#include "augment.h"
#include "blas.h"
#include "evaluate.h"
#include "gemm_bf16.h"
#include "idx.h"
#include "model.h"
#include "optimizer.h"
#include "rng.h"
#include "trainer.h"

#define MAX_REPS 64
#define MAX_SIZES 32
#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

static const float cifar_mean[3] = {0.4914f, 0.4822f, 0.4465f};
static const float cifar_std[3] = {0.2470f, 0.2435f, 0.2616f};

typedef struct Options
{
	const char *mode;
	const char *arch;
	int			batch;
	int			steps;
	int			reps;
	int			warmup;
	int			epochs;
	uint64_t	seed;
	int			threads;
	MlpMatmulPrecision precision;
	int64_t		n;
	int			infer_batch;
	bool		sgemm;
	bool		augment;
	MlpImageSpec shape;			/* of the synthetic images */
	const char *sizes;
	const char *data_dir;
	const char *cifar_dir;
} Options;

static void
die(const char *fmt, const char *arg)
{
	fprintf(stderr, "train_bench: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	exit(1);
}

static void *
xmalloc(size_t n)
{
	void	   *p = malloc(n ? n : 1);

	if (p == NULL)
		die("out of memory (%s)", "malloc");
	return p;
}

static double
median(double *v, int n)
{
	qsort(v, n, sizeof(double), bench_cmp_double);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/*
 * CPU time of the whole process (all threads, user and system).  Unlike wall time it does
 * not grow when other processes take the cores, so images per CPU-second compare the two
 * sides fairly on a shared machine (busy-waiting threads still count against their side).
 */
static double
cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec +
		ru.ru_stime.tv_usec * 1e-6;
}

/* Peak resident set of this process so far, in bytes. */
static double
peak_rss_bytes(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double) ru.ru_maxrss * 1024.0;
}

static void
blas_start(int threads)
{
	char		err[256];

	if (mlp_blas_init(err, sizeof(err)) != 0)
		die("%s", err);
	mlp_blas_set_threads(threads);
}

static void
parse_arch(const char *s, MlpArch *arch, int64_t in_dim, int classes)
{
	char		err[256];

	if (mlp_arch_parse(s, arch, err, sizeof(err)) != 0)
		die("%s", err);
	arch->in_dim = in_dim;
	arch->classes = classes;
	if (mlp_arch_validate(arch, err, sizeof(err)) != 0)
		die("%s", err);
}

/* The recipe of design.md section 4 for a dataset of the given spec. */
static void
recipe_config(const Options *o, MlpImageSpec spec, const float *mean, const float *std,
			  MlpTrainConfig *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	parse_arch(o->arch, &cfg->arch, (int64_t) spec.channels * spec.height * spec.width, 10);
	cfg->input = spec;
	cfg->epochs = o->epochs;
	cfg->batch_size = o->batch;
	mlp_opt_defaults(&cfg->opt, MLP_OPT_LION, (size_t) mlp_arch_param_count(&cfg->arch));
	cfg->opt.lr = 5e-5f;
	cfg->opt.beta1 = 0.9f;
	cfg->opt.beta2 = 0.99f;
	cfg->opt.weight_decay = 5e-5f;
	cfg->cosine = false;
	cfg->clip_norm = 0;
	cfg->label_smoothing = 0.3f;
	cfg->mixup_alpha = 0.8f;
	cfg->augment = o->augment;
	for (int c = 0; c < spec.channels; c++)
	{
		cfg->mean[c] = mean[c];
		cfg->std[c] = std[c];
	}
	cfg->seed = o->seed;
	cfg->threads = o->threads;
	cfg->precision = o->precision;
}

static MlpTrainer *
trainer_or_die(const MlpTrainConfig *cfg)
{
	MlpError	err;
	MlpTrainer *t = mlp_trainer_new(cfg, NULL, &err);

	if (t == NULL)
		die("%s", err.message);
	return t;
}

/* Synthetic uint8 images with random labels: the throughput does not depend on them. */
static MlpDataset
synthetic_dataset(int64_t n, uint64_t seed, MlpImageSpec spec)
{
	MlpDataset	d;
	size_t		D = (size_t) spec.channels * spec.height * spec.width;
	uint8_t    *img = xmalloc((size_t) n * D);
	int32_t    *lab = xmalloc((size_t) n * sizeof(int32_t));
	MlpRng		rng;

	mlp_rng_seed(&rng, seed, 12345);
	for (size_t i = 0; i < (size_t) n * D; i += 8)
	{
		uint64_t	r = mlp_rng_next(&rng);

		for (size_t k = 0; k < 8 && i + k < (size_t) n * D; k++)
			img[i + k] = (uint8_t) (r >> (8 * k));
	}
	for (int64_t i = 0; i < n; i++)
		lab[i] = (int32_t) mlp_rng_below(&rng, 10);
	d.images = img;
	d.labels = lab;
	d.n = n;
	d.spec = spec;
	return d;
}

static void
free_dataset(MlpDataset *d)
{
	free((void *) d->images);
	free((void *) d->labels);
}

typedef struct StopAfter
{
	int64_t		steps;
} StopAfter;

static int
stop_after_cb(void *arg, int epoch, int64_t step, int64_t steps, double loss, double ips)
{
	(void) epoch;
	(void) steps;
	(void) loss;
	(void) ips;
	return step >= ((StopAfter *) arg)->steps;
}

static void
run_epoch_or_die(MlpTrainer *t, const MlpDataset *d, int epoch, MlpStepCallback cb, void *arg,
				 MlpEpochStats *st)
{
	MlpError	err;

	if (mlp_trainer_train_epoch(t, d, epoch, cb, arg, st, &err) != MLP_OK)
		die("%s", err.message);
}

/*
 * The lower bound of the issue: dataset bytes, parameters with their gradients and optimizer
 * state, and the activations one batch must keep for backward: the input batch, then per block
 * the residual stream, the LayerNorm output, the expansion before and after GELU, and finally
 * the last residual stream and the logits.
 */
static double
memory_lower_bound(const MlpTrainConfig *cfg, const MlpDataset *d)
{
	const MlpArch *a = &cfg->arch;
	double		P = (double) mlp_arch_param_count(a);
	double		states = cfg->opt.kind == MLP_OPT_ADAMW ? 2 : 1;
	double		W = a->width;
	double		hidden = a->kind == MLP_KIND_BOTTLENECK ? (double) a->expansion * W : W;
	double		per_image = (double) a->in_dim + a->depth * (2 * W + 2 * hidden) + W + a->classes;
	double		data = (double) d->n * ((double) a->in_dim + sizeof(int32_t));

	return data + P * (2 + states) * sizeof(float) + cfg->batch_size * per_image * sizeof(float);
}

/* ---- SGEMM at the shapes of one training step ------------------------------------------- */

typedef struct Layer
{
	int			in;
	int			out;
	float	   *w;				/* [out, in] */
	float	   *dw;
	float	   *y;				/* [B, out] output, then reused as its gradient dY */
	float	   *dx;				/* [B, in] */
} Layer;

static void
fill(float *p, size_t n, MlpRng *rng)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (float) (mlp_rng_uniform(rng) - 0.5) * 0.1f;
}

typedef struct SgemmStep
{
	int			B;
	int			L;
	Layer	   *layers;
	float	   *x0;				/* [B, in_dim] input of linear_in */
	double		flops;			/* of one step */
} SgemmStep;

/*
 * The linear layers of arch at batch B, each with its own buffers as in training (so no
 * layer finds another's operands in cache).
 */
static void
sgemm_step_setup(SgemmStep *s, const MlpArch *a, int B)
{
	int			hidden = a->kind == MLP_KIND_BOTTLENECK ? a->expansion * a->width : a->width;
	int			k = 0;
	MlpRng		rng;

	s->B = B;
	s->layers = calloc(2 * a->depth + 2, sizeof(Layer));
	if (s->layers == NULL)
		die("out of memory (%s)", "layers");
	s->x0 = xmalloc((size_t) B * a->in_dim * sizeof(float));
	s->flops = 0;
	mlp_rng_seed(&rng, 1, 1);
	fill(s->x0, (size_t) B * a->in_dim, &rng);
	s->layers[k++] = (Layer) {.in = (int) a->in_dim, .out = a->width};
	if (a->kind == MLP_KIND_BOTTLENECK)
	{
		for (int i = 0; i < a->depth; i++)
		{
			s->layers[k++] = (Layer) {.in = a->width, .out = hidden};
			s->layers[k++] = (Layer) {.in = hidden, .out = a->width};
		}
	}
	else
	{
		for (int i = 1; i < a->depth; i++)
			s->layers[k++] = (Layer) {.in = a->width, .out = a->width};
	}
	s->layers[k++] = (Layer) {.in = a->width, .out = a->classes};
	s->L = k;
	for (int i = 0; i < s->L; i++)
	{
		Layer	   *l = &s->layers[i];

		l->w = xmalloc((size_t) l->out * l->in * sizeof(float));
		l->dw = xmalloc((size_t) l->out * l->in * sizeof(float));
		l->y = xmalloc((size_t) B * l->out * sizeof(float));
		l->dx = xmalloc((size_t) B * l->in * sizeof(float));
		fill(l->w, (size_t) l->out * l->in, &rng);
		memset(l->dw, 0, (size_t) l->out * l->in * sizeof(float));
		/* linear_in needs no dX: two products instead of three. */
		s->flops += 2.0 * B * l->in * l->out * (i == 0 ? 2 : 3);
	}
}

/*
 * The mlp_sgemm calls of one training step: forward Y = X W^T, then backward dX = dY W (not
 * for linear_in) and dW += dY^T X of every layer.  Returns GFLOP/s.
 */
static double
sgemm_step_run(SgemmStep *s)
{
	int			B = s->B;
	double		t0 = bench_now();

	for (int i = 0; i < s->L; i++)
	{
		Layer	   *l = &s->layers[i];
		const float *x = i == 0 ? s->x0 : s->layers[i - 1].y;

		mlp_sgemm(false, true, B, l->out, l->in, 1.0f, x, l->in, l->w, l->in, 0.0f, l->y,
				  l->out);
	}
	for (int i = s->L - 1; i >= 0; i--)
	{
		Layer	   *l = &s->layers[i];
		const float *x = i == 0 ? s->x0 : s->layers[i - 1].y;

		/* l->y stands in for dY: same shape, and its values do not change the timing. */
		if (i > 0)
			mlp_sgemm(false, false, B, l->in, l->out, 1.0f, l->y, l->out, l->w, l->in,
					  0.0f, l->dx, l->in);
		mlp_sgemm(true, false, l->out, l->in, B, 1.0f, l->y, l->out, x, l->in, 1.0f, l->dw,
				  l->in);
	}
	return s->flops / (bench_now() - t0) / 1e9;
}

static void
sgemm_step_free(SgemmStep *s)
{
	for (int i = 0; i < s->L; i++)
	{
		free(s->layers[i].w);
		free(s->layers[i].dw);
		free(s->layers[i].y);
		free(s->layers[i].dx);
	}
	free(s->layers);
	free(s->x0);
}

/* ---- modes ----------------------------------------------------------------------------- */

static void
print_common(const Options *o)
{
	printf(" threads=%d blas_core=%s blas_threads=%d precision=%s bf16_kernel=%s", o->threads,
		   mlp_blas_corename(), mlp_blas_threads(), mlp_matmul_precision_name(o->precision),
		   mlp_gemm_bf16_kernel());
}

static void
mode_throughput(const Options *o)
{
	MlpDataset	d = synthetic_dataset((int64_t) o->batch * o->steps, o->seed, o->shape);
	MlpTrainConfig cfg;
	MlpTrainer *t;
	MlpEpochStats st;
	StopAfter	warm = {o->warmup};
	double		rates[MAX_REPS], cpu_rates[MAX_REPS];
	double		rss, bound, fwd, train_gflops, ips;

	blas_start(o->threads);
	recipe_config(o, d.spec, cifar_mean, cifar_std, &cfg);
	t = trainer_or_die(&cfg);
	if (o->warmup > 0)
		run_epoch_or_die(t, &d, 0, stop_after_cb, &warm, &st);
	for (int r = 0; r < o->reps; r++)
	{
		double		c0 = cpu_seconds();

		run_epoch_or_die(t, &d, r + 1, NULL, NULL, &st);
		rates[r] = st.images_per_second;
		cpu_rates[r] = st.examples / (cpu_seconds() - c0);
		fprintf(stderr, "rep %d: %.1f images/s, %.1f images per CPU-second (loss %.4f)\n", r,
				rates[r], cpu_rates[r], st.train_loss);
	}
	rss = peak_rss_bytes();
	bound = memory_lower_bound(&cfg, &d);
	fwd = mlp_arch_forward_flops(&cfg.arch);
	ips = median(rates, o->reps);
	train_gflops = ips * 3.0 * fwd / 1e9;
	printf("RESULT mode=throughput side=mlpscale arch=%s batch=%d shape=%dx%dx%d params=%lld"
		   " images_per_s=%.1f min=%.1f max=%.1f reps=%d train_gflops=%.1f peak_rss_mb=%.1f"
		   " bound_mb=%.1f rss_over_bound=%.3f estimate_mb=%.1f images_per_cpu_s=%.1f",
		   o->arch, o->batch, d.spec.channels, d.spec.height, d.spec.width,
		   (long long) mlp_arch_param_count(&cfg.arch), ips, rates[0], rates[o->reps - 1],
		   o->reps, train_gflops, rss / 1048576.0, bound / 1048576.0, rss / bound,
		   mlp_trainer_memory_estimate(&cfg) / 1048576.0, median(cpu_rates, o->reps));
	print_common(o);
	printf("\n");
	fflush(stdout);

	/*
	 * The roofline: after the memory figure (its buffers would count in the peak), training
	 * epochs alternate with one step's SGEMM calls, so that a busy neighbour slows both alike.
	 */
	if (o->sgemm)
	{
		SgemmStep	sg;
		double		tr[MAX_REPS], gf[MAX_REPS], ratio[MAX_REPS];

		sgemm_step_setup(&sg, &cfg.arch, o->batch);
		(void) sgemm_step_run(&sg);		/* warm-up */
		for (int r = 0; r < o->reps; r++)
		{
			run_epoch_or_die(t, &d, o->reps + 1 + r, NULL, NULL, &st);
			tr[r] = st.images_per_second * 3.0 * fwd / 1e9;
			gf[r] = sgemm_step_run(&sg);
			ratio[r] = tr[r] / gf[r];
			fprintf(stderr, "roofline rep %d: training %.1f GFLOP/s, SGEMM %.1f GFLOP/s\n", r,
					tr[r], gf[r]);
		}
		printf("RESULT mode=sgemm arch=%s batch=%d step_gflop=%.1f sgemm_gflops=%.1f"
			   " train_gflops=%.1f train_over_sgemm=%.3f",
			   o->arch, o->batch, sg.flops / 1e9, median(gf, o->reps), median(tr, o->reps),
			   median(ratio, o->reps));
		print_common(o);
		printf("\n");
		sgemm_step_free(&sg);
	}
	mlp_trainer_free(t);
	free_dataset(&d);
}

static int
parse_sizes(const char *s, int64_t *out)
{
	int			n = 0;
	char	   *end;

	while (s && *s && n < MAX_SIZES)
	{
		long long	v = strtoll(s, &end, 10);

		if (end == s || v < 1)
			die("bad --sizes list: %s", s);
		out[n++] = v;
		s = *end == ',' ? end + 1 : end;
	}
	return n;
}

static void
mode_epoch_scale(const Options *o)
{
	int64_t		sizes[MAX_SIZES];
	int			ns = parse_sizes(o->sizes, sizes);
	int64_t		nmax = 0;
	MlpDataset	all;
	MlpTrainConfig cfg;
	MlpTrainer *t;
	MlpEpochStats st;
	StopAfter	warm = {o->warmup};

	for (int i = 0; i < ns; i++)
		nmax = sizes[i] > nmax ? sizes[i] : nmax;
	all = synthetic_dataset(nmax, o->seed, o->shape);
	blas_start(o->threads);
	recipe_config(o, all.spec, cifar_mean, cifar_std, &cfg);
	t = trainer_or_die(&cfg);
	run_epoch_or_die(t, &all, 0, stop_after_cb, &warm, &st);
	for (int i = 0; i < ns; i++)
	{
		MlpDataset	d = all;

		d.n = sizes[i];
		run_epoch_or_die(t, &d, i + 1, NULL, NULL, &st);
		printf("RESULT mode=epoch-scale side=mlpscale arch=%s batch=%d n=%lld epoch_s=%.3f"
			   " images_per_s=%.1f", o->arch, o->batch, (long long) d.n, st.seconds,
			   st.images_per_second);
		print_common(o);
		printf("\n");
		fflush(stdout);
	}
	mlp_trainer_free(t);
	free_dataset(&all);
}

/*
 * The Fashion-MNIST split prefix ("train", "t10k") of dir through the core's IDX reader; the
 * images stay in idx (free it after the dataset), the labels are copied to int32.
 */
static MlpDataset
load_fashion(const char *dir, const char *prefix, MlpIdxPair *idx)
{
	char		images[1024],
				labels[1024];
	MlpError	err;
	int32_t    *lab;
	MlpDataset	d;

	snprintf(images, sizeof(images), "%s/%s-images-idx3-ubyte.gz", dir, prefix);
	snprintf(labels, sizeof(labels), "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
	if (mlp_idx_read(images, labels, MLP_IMAGE_FORMAT_MAX_SIDE, idx, &err) != MLP_OK)
		die("%s", err.message);
	lab = xmalloc((size_t) idx->count * sizeof(int32_t));
	for (int64_t i = 0; i < idx->count; i++)
		lab[i] = idx->labels[i];
	d.images = idx->images;
	d.labels = lab;
	d.n = idx->count;
	d.spec = (MlpImageSpec) {1, idx->rows, idx->cols};
	return d;
}

static void
free_fashion(MlpDataset *d, MlpIdxPair *idx)
{
	free((void *) d->labels);
	mlp_idx_free(idx);
}

static void
mode_fashion_epoch(const Options *o)
{
	double		t0 = bench_now(), t_load, t1;
	MlpIdxPair	idx;
	MlpDataset	d = load_fashion(o->data_dir, "train", &idx);
	float		mean[MLP_MAX_CHANNELS], std[MLP_MAX_CHANNELS];
	MlpTrainConfig cfg;
	MlpTrainer *t;
	MlpEpochStats st;

	mlp_channel_stats(d.images, d.n, d.spec, mean, std);
	t_load = bench_now() - t0;
	blas_start(o->threads);
	recipe_config(o, d.spec, mean, std, &cfg);
	t = trainer_or_die(&cfg);
	t1 = bench_now();
	run_epoch_or_die(t, &d, 0, NULL, NULL, &st);
	printf("RESULT mode=fashion-epoch side=mlpscale arch=%s batch=%d n=%lld load_s=%.3f"
		   " train_s=%.3f total_s=%.3f images_per_s=%.1f loss=%.4f",
		   o->arch, o->batch, (long long) d.n, t_load, bench_now() - t1, bench_now() - t0,
		   st.images_per_second, st.train_loss);
	print_common(o);
	printf("\n");
	mlp_trainer_free(t);
	free_fashion(&d, &idx);
}

static void
mode_accuracy(const Options *o)
{
	MlpIdxPair	train_idx,
				test_idx;
	MlpDataset	train = load_fashion(o->data_dir, "train", &train_idx);
	MlpDataset	test = load_fashion(o->data_dir, "t10k", &test_idx);
	float		mean[MLP_MAX_CHANNELS], std[MLP_MAX_CHANNELS];
	MlpTrainConfig cfg;
	MlpTrainer *t;
	MlpEpochStats st = {0};
	MlpEvalStats ev;
	double		t0;

	mlp_channel_stats(train.images, train.n, train.spec, mean, std);
	blas_start(o->threads);
	recipe_config(o, train.spec, mean, std, &cfg);
	t = trainer_or_die(&cfg);
	t0 = bench_now();
	for (int e = 0; e < o->epochs; e++)
	{
		run_epoch_or_die(t, &train, e, NULL, NULL, &st);
		fprintf(stderr, "epoch %d: loss %.4f, %.0f images/s\n", e + 1, st.train_loss,
				st.images_per_second);
	}
	if (mlp_trainer_eval_dataset(t, &test, &ev, NULL) != MLP_OK)
		die("%s", "the test set does not fit the model");
	printf("RESULT mode=accuracy side=mlpscale arch=%s batch=%d epochs=%d seed=%llu"
		   " test_accuracy=%.4f top5=%.4f train_s=%.1f final_loss=%.4f",
		   o->arch, o->batch, o->epochs, (unsigned long long) o->seed, ev.accuracy, ev.top5,
		   bench_now() - t0, st.train_loss);
	print_common(o);
	printf("\n");
	mlp_trainer_free(t);
	free_fashion(&train, &train_idx);
	free_fashion(&test, &test_idx);
}

/* Test-set totals with `views` test-time views of crop scale scale_min-1 (0 views: none). */
static MlpEvalStats
tta_eval(const MlpModel *m, const MlpDataset *test, const float *mean, const float *std,
		 int views, double scale_min, uint64_t seed)
{
	MlpAugmentConfig aug;
	MlpImageSpec out = test->spec;
	size_t		D = (size_t) test->spec.channels * test->spec.height * test->spec.width;
	int			rows = 1024;
	int			per_call = views > 0 ? (rows / views > 0 ? rows / views : 1) : rows;
	int			nrows = views > 0 ? per_call * views : per_call;
	float	   *x = xmalloc(sizeof(float) * nrows * m->arch.in_dim);
	float	   *logits = xmalloc(sizeof(float) * nrows * m->arch.classes);
	float	   *scratch = xmalloc(sizeof(float) * mlp_model_scratch_floats(m, nrows));
	MlpEvalTotals tot = {0};
	MlpEvalStats st;
	MlpError	err;

	mlp_tta_augment_defaults(&aug, test->spec, out);
	aug.scale_min = scale_min;
	memcpy(aug.mean, mean, sizeof(aug.mean));
	memcpy(aug.std, std, sizeof(aug.std));
	for (int64_t first = 0; first < test->n; first += per_call)
	{
		int			B = (int) (test->n - first < per_call ? test->n - first : per_call);

		if (views == 0)
		{
			for (int i = 0; i < B; i++)
				mlp_preprocess_image(&aug, test->images + (first + i) * D,
									 x + (size_t) i * m->arch.in_dim);
			mlp_eval_add_batch(&tot, m, x, B, test->labels + first, logits, scratch);
		}
		else if (mlp_eval_add_tta(&tot, m, &aug, views, seed, first, test->images + first * D,
								  B, test->labels + first, x, logits, scratch, &err) != MLP_OK)
			die("%s", err.message);
	}
	mlp_eval_stats(&tot, &st);
	free(x);
	free(logits);
	free(scratch);
	return st;
}

/* CIFAR-10 binary batches first..last of dir (label byte, then 3x32x32 planar), malloc'ed. */
static MlpDataset
load_cifar(const char *dir, int first, int last)
{
	enum
	{
		PER_FILE = 10000, RECORD = 3073
	};
	int64_t		n = (int64_t) (last - first + 1) * PER_FILE;
	uint8_t    *images = xmalloc((size_t) n * 3072);
	int32_t    *labels = xmalloc((size_t) n * sizeof(int32_t));
	uint8_t    *rec = xmalloc(RECORD);
	MlpDataset	d;

	for (int b = first; b <= last; b++)
	{
		char		path[1024];
		FILE	   *f;

		snprintf(path, sizeof(path), "%s/data_batch_%d.bin", dir, b);
		if ((f = fopen(path, "rb")) == NULL)
			die("cannot open %s", path);
		for (int r = 0; r < PER_FILE; r++)
		{
			int64_t		i = (int64_t) (b - first) * PER_FILE + r;

			if (fread(rec, 1, RECORD, f) != RECORD)
				die("short CIFAR-10 file %s", path);
			labels[i] = rec[0];
			memcpy(images + i * 3072, rec + 1, 3072);
		}
		fclose(f);
	}
	free(rec);
	d.images = images;
	d.labels = labels;
	d.n = n;
	d.spec = (MlpImageSpec) {3, 32, 32};
	return d;
}

static void
mode_tta(const Options *o)
{
	static const double scales[] = {0.08, 0.2, 0.35, 0.5, 0.75, 1.0};
	static const int view_counts[] = {4, 8, 16};
	MlpIdxPair	train_idx,
				test_idx;
	MlpDataset	train,
				test;
	float		mean[MLP_MAX_CHANNELS], std[MLP_MAX_CHANNELS];
	const char *data = o->cifar_dir ? "cifar10" : "fashion";

	if (o->cifar_dir)
	{
		train = load_cifar(o->cifar_dir, 1, 4);
		test = load_cifar(o->cifar_dir, 5, 5);
	}
	else
	{
		train = load_fashion(o->data_dir, "train", &train_idx);
		test = load_fashion(o->data_dir, "t10k", &test_idx);
	}
	MlpTrainConfig cfg;
	MlpTrainer *t;
	MlpEpochStats st = {0};
	MlpEvalStats ev;

	mlp_channel_stats(train.images, train.n, train.spec, mean, std);
	blas_start(o->threads);
	recipe_config(o, train.spec, mean, std, &cfg);
	t = trainer_or_die(&cfg);
	for (int e = 0; e < o->epochs; e++)
	{
		run_epoch_or_die(t, &train, e, NULL, NULL, &st);
		fprintf(stderr, "epoch %d: loss %.4f\n", e + 1, st.train_loss);
	}
	ev = tta_eval(mlp_trainer_model(t), &test, mean, std, 0, 1.0, 0);
	printf("RESULT mode=tta data=%s arch=%s epochs=%d seed=%llu views=0 scale_min=-"
		   " accuracy=%.4f top5=%.4f loss=%.4f\n", data, o->arch, o->epochs,
		   (unsigned long long) o->seed, ev.accuracy, ev.top5, ev.loss);
	for (int v = 0; v < (int) (sizeof(view_counts) / sizeof(view_counts[0])); v++)
		for (int k = 0; k < (int) (sizeof(scales) / sizeof(scales[0])); k++)
		{
			ev = tta_eval(mlp_trainer_model(t), &test, mean, std, view_counts[v], scales[k],
						  o->seed);
			printf("RESULT mode=tta data=%s arch=%s epochs=%d seed=%llu views=%d scale_min=%.2f"
				   " accuracy=%.4f top5=%.4f loss=%.4f\n", data, o->arch, o->epochs,
				   (unsigned long long) o->seed, view_counts[v], scales[k], ev.accuracy,
				   ev.top5, ev.loss);
			fflush(stdout);
		}
	mlp_trainer_free(t);
	if (o->cifar_dir)
	{
		free((void *) train.images);
		free((void *) train.labels);
		free((void *) test.images);
		free((void *) test.labels);
	}
	else
	{
		free_fashion(&train, &train_idx);
		free_fashion(&test, &test_idx);
	}
}

/* Preprocess + forward + argmax of images [first, first+B), as a scoring call does. */
static void
infer_batch(const MlpModel *m, const MlpBf16Weights *w16, const MlpAugmentConfig *pre,
			const MlpDataset *d, int64_t first, int B, float *x, float *logits, float *scratch,
			int32_t *classes)
{
	size_t		D = (size_t) d->spec.channels * d->spec.height * d->spec.width;
	int			C = m->arch.classes;

	for (int i = 0; i < B; i++)
		mlp_preprocess_image(pre, d->images + (first + i) * D, x + (size_t) i * m->arch.in_dim);
	if (w16 != NULL)
		mlp_model_infer_bf16(m, w16, x, B, logits, scratch);
	else
		mlp_model_infer(m, x, B, logits, scratch);
	for (int i = 0; i < B; i++)
	{
		int			best = 0;

		for (int c = 1; c < C; c++)
			if (logits[i * C + c] > logits[i * C + best])
				best = c;
		classes[i] = best;
	}
}

static void
mode_infer(const Options *o)
{
	MlpDataset	d = synthetic_dataset(o->n, o->seed, o->shape);
	MlpArch		arch;
	MlpModel	m;
	MlpAugmentConfig pre;
	MlpRng		rng;
	char		err[256];
	int			B = o->infer_batch;
	float	   *x, *logits, *scratch;
	int32_t    *classes;
	MlpBf16Weights bw = {0};
	const MlpBf16Weights *w16 = NULL;
	double		rates[MAX_REPS], single;
	int64_t		n1 = o->n < 1000 ? o->n : 1000;

	blas_start(o->threads);
	parse_arch(o->arch, &arch, (int64_t) d.spec.channels * d.spec.height * d.spec.width, 10);
	if (mlp_model_create(&m, &arch, false, err, sizeof(err)) != 0)
		die("%s", err);
	mlp_rng_seed(&rng, o->seed, 0);
	mlp_model_init_weights(&m, &rng);
	mlp_augment_defaults(&pre, d.spec, d.spec);
	pre.random_crop = false;
	pre.flip = false;
	for (int c = 0; c < d.spec.channels; c++)
	{
		pre.mean[c] = cifar_mean[c];
		pre.std[c] = cifar_std[c];
	}
	x = xmalloc((size_t) B * arch.in_dim * sizeof(float));
	logits = xmalloc((size_t) B * arch.classes * sizeof(float));
	scratch = xmalloc(mlp_model_scratch_floats(&m, B) * sizeof(float));
	classes = xmalloc((size_t) B * sizeof(int32_t));
	/*
	 * bf16: the weights converted and packed once, as the model cache of scoring does
	 * (TRAIN_BENCH_UNPACKED=1: the batch products convert and pack them per call, as before)
	 */
	if (o->precision == MLP_MATMUL_BF16)
	{
		if (((getenv("TRAIN_BENCH_UNPACKED") == NULL || strcmp(getenv("TRAIN_BENCH_UNPACKED"), "1") != 0) && mlp_model_bf16_prepare(&m, &bw, B) != 0) ||
			mlp_model_bf16_prepare(&m, &bw, 1) != 0)
			die("%s", "no memory for the bf16 weights");
		w16 = &bw;
	}

	for (int r = -1; r < o->reps; r++)
	{
		double		t0 = bench_now();

		for (int64_t s = 0; s < o->n; s += B)
			infer_batch(&m, w16, &pre, &d, s, (int) (o->n - s < B ? o->n - s : B), x, logits,
						scratch, classes);
		if (r >= 0)
			rates[r] = o->n / (bench_now() - t0);
	}
	/* One image per call, what a per-row scoring function pays (model already in memory). */
	{
		double		t0 = bench_now();

		for (int64_t s = 0; s < n1; s++)
			infer_batch(&m, w16, &pre, &d, s, 1, x, logits, scratch, classes);
		single = n1 / (bench_now() - t0);
	}
	printf("RESULT mode=infer side=mlpscale arch=%s shape=%dx%dx%d n=%lld batch=%d"
		   " images_per_s=%.1f single_images_per_s=%.1f", o->arch, d.spec.channels,
		   d.spec.height, d.spec.width, (long long) o->n, B, median(rates, o->reps), single);
	print_common(o);
	printf("\n");
	free(x);
	free(logits);
	free(scratch);
	free(classes);
	mlp_model_bf16_free(&bw);
	mlp_model_free(&m);
	free_dataset(&d);
}

static void
usage(void)
{
	fprintf(stderr,
			"usage: train_bench MODE [options]\n"
			"  modes: throughput, epoch-scale, fashion-epoch, accuracy, infer, tta, info\n"
			"  --arch A (B_6-Wi_256)  --batch B (1024)  --steps S (4)  --reps R (5)\n"
			"  --warmup STEPS (2)  --epochs E (10)  --seed S (0)  --threads T (CPUs)\n"
			"  --n N (10000, infer)  --infer-batch B (1024)  --sgemm  --no-augment\n"
			"  --sizes N1,N2,... (epoch-scale)  --data-dir DIR (%s)\n"
			"  --cifar DIR (tta: CIFAR-10 binary batches instead of Fashion-MNIST)\n"
			"  --shape CxHxW (3x32x32) of the synthetic images\n"
			"  --precision fp32|bf16 (fp32) of the training products\n"
			"  --bf16-kernel auto|avx512 (auto: AMX tiles where the CPU has them)\n", FASHION_DIR);
	exit(2);
}

static int
int_arg(const char *s, int lo, int hi)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		die("bad number: %s", s);
	return (int) v;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"arch", required_argument, NULL, 'a'},
		{"batch", required_argument, NULL, 'b'},
		{"steps", required_argument, NULL, 's'},
		{"reps", required_argument, NULL, 'r'},
		{"warmup", required_argument, NULL, 'w'},
		{"epochs", required_argument, NULL, 'e'},
		{"seed", required_argument, NULL, 'S'},
		{"threads", required_argument, NULL, 't'},
		{"n", required_argument, NULL, 'n'},
		{"infer-batch", required_argument, NULL, 'i'},
		{"sgemm", no_argument, NULL, 'g'},
		{"no-augment", no_argument, NULL, 'A'},
		{"sizes", required_argument, NULL, 'z'},
		{"data-dir", required_argument, NULL, 'd'},
		{"cifar", required_argument, NULL, 'c'},
		{"shape", required_argument, NULL, 'p'},
		{"precision", required_argument, NULL, 'P'},
		{"bf16-kernel", required_argument, NULL, 'K'},
		{NULL, 0, NULL, 0}
	};
	Options		o = {
		.arch = "B_6-Wi_256", .batch = 1024, .steps = 4, .reps = 5, .warmup = 2, .epochs = 10,
		.seed = 0, .threads = (int) sysconf(_SC_NPROCESSORS_ONLN), .n = 10000,
		.infer_batch = 1024, .augment = true, .sizes = "8192,16384,32768,65536",
		.data_dir = FASHION_DIR, .shape = {3, 32, 32}
	};
	int			c;

	if (argc < 2 || argv[1][0] == '-')
		usage();
	o.mode = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1)
	{
		switch (c)
		{
			case 'a': o.arch = optarg; break;
			case 'b': o.batch = int_arg(optarg, 1, 1 << 20); break;
			case 's': o.steps = int_arg(optarg, 1, 1 << 20); break;
			case 'r': o.reps = int_arg(optarg, 1, MAX_REPS); break;
			case 'w': o.warmup = int_arg(optarg, 0, 1 << 20); break;
			case 'e': o.epochs = int_arg(optarg, 1, 100000); break;
			case 'S': o.seed = (uint64_t) int_arg(optarg, 0, 1 << 30); break;
			case 't': o.threads = int_arg(optarg, 1, 1024); break;
			case 'n': o.n = int_arg(optarg, 1, 1 << 30); break;
			case 'i': o.infer_batch = int_arg(optarg, 1, 1 << 20); break;
			case 'g': o.sgemm = true; break;
			case 'A': o.augment = false; break;
			case 'z': o.sizes = optarg; break;
			case 'd': o.data_dir = optarg; break;
			case 'c': o.cifar_dir = optarg; break;
			case 'p':
				if (sscanf(optarg, "%dx%dx%d", &o.shape.channels, &o.shape.height,
						   &o.shape.width) != 3 || o.shape.channels < 1 ||
					o.shape.channels > 3 || o.shape.height < 1 || o.shape.width < 1)
					die("bad --shape (CxHxW, at most 3 channels): %s", optarg);
				break;
			case 'P':
				if (mlp_matmul_precision_parse(optarg, &o.precision) != 0)
					die("bad --precision (fp32 or bf16): %s", optarg);
				if (o.precision == MLP_MATMUL_BF16 && !mlp_blas_bf16_supported())
					die("--precision %s needs a CPU with AVX512_BF16", optarg);
				break;
			case 'K':
				if (strcmp(optarg, "avx512") == 0)
					mlp_gemm_bf16_use_amx(false);
				else if (strcmp(optarg, "auto") != 0)
					die("bad --bf16-kernel (auto or avx512): %s", optarg);
				break;
			default: usage();
		}
	}
	if (o.threads < 1)
		o.threads = 1;

	if (strcmp(o.mode, "throughput") == 0)
		mode_throughput(&o);
	else if (strcmp(o.mode, "epoch-scale") == 0)
		mode_epoch_scale(&o);
	else if (strcmp(o.mode, "fashion-epoch") == 0)
		mode_fashion_epoch(&o);
	else if (strcmp(o.mode, "accuracy") == 0)
		mode_accuracy(&o);
	else if (strcmp(o.mode, "infer") == 0)
		mode_infer(&o);
	else if (strcmp(o.mode, "tta") == 0)
		mode_tta(&o);
	else if (strcmp(o.mode, "info") == 0)
	{
		blas_start(o.threads);
		printf("RESULT mode=info blas_core=%s chosen_coretype=%s blas_threads=%d bf16_kernel=%s\n",
			   mlp_blas_corename(), mlp_blas_chosen_coretype(), mlp_blas_threads(),
			   mlp_gemm_bf16_kernel());
	}
	else
		usage();
	return 0;
}
