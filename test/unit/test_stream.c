/*
 * test_stream.c - a streamed epoch (stream.c, the chunk functions of trainer.c): the order
 * of ranges and windows visits each index once, is the same for a seed and differs between
 * epochs and seeds; an epoch trained as chunks with carried-over batches is train_epoch's,
 * bit for bit; validation and normalisation statistics in chunks are those of the whole.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "blas.h"
#include "rng.h"
#include "stream.h"
#include "tap.h"
#include "train_thread.h"
#include "trainer.h"

#define C_	1
#define H_	6
#define W_	6
#define N_	203
#define CLASSES 3

/* every index of 0..n-1 exactly once */
static int
is_permutation(const int64_t *order, int64_t n)
{
	char	   *seen = calloc((size_t) n, 1);
	int			ok = 1;

	for (int64_t i = 0; i < n && ok; i++)
	{
		if (order[i] < 0 || order[i] >= n || seen[order[i]])
			ok = 0;
		else
			seen[order[i]] = 1;
	}
	free(seen);
	return ok;
}

static int
same(const int64_t *a, const int64_t *b, int64_t n)
{
	return memcmp(a, b, (size_t) n * sizeof(int64_t)) == 0;
}

static void
test_orders(void)
{
	enum {N = 1000};
	int64_t    *a = malloc(N * sizeof(int64_t));
	int64_t    *b = malloc(N * sizeof(int64_t));
	int			all_perm = 1;

	for (int64_t n = 1; n <= 64; n++)
	{
		mlp_stream_range_order(7, (int) n, a, n);
		mlp_stream_window_order(7, 3, n, b, n);
		all_perm &= is_permutation(a, n) && is_permutation(b, n);
	}
	ok(all_perm, "range and window orders of 1..64 items visit each index once");

	mlp_stream_range_order(42, 0, a, N);
	ok(is_permutation(a, N), "1000 ranges: a permutation");
	mlp_stream_range_order(42, 0, b, N);
	ok(same(a, b, N), "the same seed and epoch give the same range order");
	mlp_stream_range_order(42, 1, b, N);
	ok(!same(a, b, N), "another epoch gives another range order");
	mlp_stream_range_order(43, 0, b, N);
	ok(!same(a, b, N), "another seed gives another range order");

	mlp_stream_window_order(42, 0, 0, a, N);
	mlp_stream_window_order(42, 0, 0, b, N);
	ok(is_permutation(a, N) && same(a, b, N), "a window order: a permutation, repeatable");
	mlp_stream_window_order(42, 0, 1, b, N);
	ok(!same(a, b, N), "the next window of the epoch is shuffled otherwise");
	mlp_stream_window_order(42, 1, 0, b, N);
	ok(!same(a, b, N), "the same window of another epoch is shuffled otherwise");
	mlp_stream_window_order(41, 0, 0, b, N);
	ok(!same(a, b, N), "the same window with another seed is shuffled otherwise");

	/* windows of a permutation of ranges: the epoch still visits each row once */
	{
		enum {RANGES = 37, PER = 11};
		int64_t		ranges[RANGES];
		int64_t		rows[RANGES * PER];
		int64_t		win[3 * PER];
		int64_t		k = 0;

		mlp_stream_range_order(5, 2, ranges, RANGES);
		for (int w = 0; w * 3 < RANGES; w++)
		{
			int			nr = RANGES - w * 3 < 3 ? RANGES - w * 3 : 3;

			mlp_stream_window_order(5, 2, w, win, nr * PER);
			for (int i = 0; i < nr * PER; i++)
				rows[k++] = ranges[w * 3 + win[i] / PER] * PER + win[i] % PER;
		}
		ok(k == RANGES * PER && is_permutation(rows, k),
		   "ranges in windows of 3: %lld rows, each visited once", (long long) k);
	}
	free(a);
	free(b);
}

static void
make_dataset(uint8_t **images, int32_t **labels, MlpDataset *d)
{
	MlpRng		rng;
	size_t		sz = C_ * H_ * W_;

	*images = malloc(N_ * sz);
	*labels = malloc(N_ * sizeof(int32_t));
	mlp_rng_seed(&rng, 3, 0);
	for (int64_t i = 0; i < N_; i++)
	{
		int			k = (int) mlp_rng_below(&rng, CLASSES);

		(*labels)[i] = k;
		for (size_t p = 0; p < sz; p++)
			(*images)[i * sz + p] = (uint8_t) ((p / W_) * CLASSES / H_ == (size_t) k ?
											   150 + mlp_rng_below(&rng, 100) :
											   mlp_rng_below(&rng, 90));
	}
	*d = (MlpDataset) {*images, *labels, N_, {C_, H_, W_}};
}

static void
config(MlpTrainConfig *cfg)
{
	char		err[128];

	memset(cfg, 0, sizeof(*cfg));
	if (mlp_arch_parse("B_1-Wi_16", &cfg->arch, err, sizeof(err)) != 0)
		diag("arch: %s", err);
	cfg->input = (MlpImageSpec) {C_, H_, W_};
	cfg->arch.in_dim = C_ * H_ * W_;
	cfg->arch.classes = CLASSES;
	cfg->epochs = 3;
	cfg->batch_size = 16;		/* 203 rows: 12 full batches and one of 11 */
	mlp_opt_defaults(&cfg->opt, MLP_OPT_ADAMW, 0);
	cfg->opt.lr = 2e-3f;
	cfg->cosine = true;
	cfg->label_smoothing = 0.1f;
	cfg->mixup_alpha = 0.8f;
	cfg->augment = true;
	cfg->mean[0] = 0.3f;
	cfg->std[0] = 0.3f;
	cfg->seed = 99;
	cfg->threads = 1;
}

/* train_epoch's order of epoch e (trainer.c: seed, (epoch << 32) | 0xFFFFFFFF) */
static void
epoch_order(uint64_t seed, int e, int64_t *order)
{
	MlpRng		rng;

	for (int64_t i = 0; i < N_; i++)
		order[i] = i;
	mlp_rng_seed(&rng, seed, ((uint64_t) e << 32) | 0xFFFFFFFFu);
	mlp_rng_shuffle(&rng, order, N_);
}

static int
count_step(void *arg, int epoch, int64_t step, int64_t steps, double loss, double ips)
{
	int64_t    *calls = arg;

	(void) epoch;
	(void) step;
	(void) steps;
	(void) loss;
	(void) ips;
	(*calls)++;
	return 0;
}

static void
test_chunked_epoch(void)
{
	uint8_t    *images;
	int32_t    *labels;
	MlpDataset	d;
	MlpTrainConfig cfg;
	MlpTrainer *whole,
			   *chunked;
	MlpError	e;
	MlpEpochStats sw,
				sc;
	int64_t		order[N_];
	/* uneven chunks: shorter than a batch, a batch exactly, longer, and the rest */
	static const int64_t cuts[] = {5, 3, 16, 40, 1, 70};
	int			equal_stats = 1;
	int64_t		steps_whole = 0,
				steps_chunked = 0;
	size_t		sz = C_ * H_ * W_;
	uint8_t    *copy = malloc(N_ * sz);
	int32_t    *copy_labels = malloc(N_ * sizeof(int32_t));
	MlpEvalStats ew,
				ec;
	MlpEvalTotals tot = {0};

	make_dataset(&images, &labels, &d);
	config(&cfg);
	whole = mlp_trainer_new(&cfg, NULL, &e);
	chunked = mlp_trainer_new(&cfg, NULL, &e);
	ok(whole && chunked, "two trainers");
	if (!whole || !chunked)
		return;
	for (int ep = 0; ep < cfg.epochs; ep++)
	{
		int64_t		at = 0;
		int			ci = 0;

		if (mlp_trainer_train_epoch(whole, &d, ep, count_step, &steps_whole, &sw, &e) != MLP_OK)
			diag("train_epoch: %s", e.message);
		epoch_order(cfg.seed, ep, order);
		/* the chunks hold train_epoch's order; the second half is given by a rows array */
		for (int64_t i = 0; i < N_; i++)
		{
			memcpy(copy + i * sz, images + order[i] * sz, sz);
			copy_labels[i] = labels[order[i]];
		}
		if (mlp_trainer_epoch_begin(chunked, ep, N_, &sc, &e) != MLP_OK)
			diag("epoch_begin: %s", e.message);
		while (at < N_)
		{
			int64_t		n = ci < (int) (sizeof(cuts) / sizeof(cuts[0])) ? cuts[ci++] : N_ - at;
			MlpDataset	chunk;
			int64_t		rows[N_];

			if (n > N_ - at)
				n = N_ - at;
			if (ci % 2 == 0)
			{
				/* rows in reverse in memory, put right by the rows array */
				static uint8_t rev[N_ * C_ * H_ * W_];
				static int32_t rev_labels[N_];

				for (int64_t i = 0; i < n; i++)
				{
					memcpy(rev + (n - 1 - i) * sz, copy + (at + i) * sz, sz);
					rev_labels[n - 1 - i] = copy_labels[at + i];
					rows[i] = n - 1 - i;
				}
				chunk = (MlpDataset) {rev, rev_labels, n, d.spec};
				if (mlp_trainer_train_chunk(chunked, &chunk, rows, count_step, &steps_chunked,
											&sc, &e) != MLP_OK)
					diag("train_chunk: %s", e.message);
			}
			else
			{
				chunk = (MlpDataset) {copy + at * sz, copy_labels + at, n, d.spec};
				if (mlp_trainer_train_chunk(chunked, &chunk, NULL, count_step, &steps_chunked,
											&sc, &e) != MLP_OK)
					diag("train_chunk: %s", e.message);
			}
			at += n;
		}
		if (mlp_trainer_epoch_end(chunked, count_step, &steps_chunked, &sc, &e) != MLP_OK)
			diag("epoch_end: %s", e.message);
		equal_stats &= sc.examples == N_ && sw.examples == N_ && sc.epoch == sw.epoch &&
			sc.train_loss == sw.train_loss && sc.train_accuracy == sw.train_accuracy;
	}
	ok(memcmp(mlp_trainer_model(whole)->params, mlp_trainer_model(chunked)->params,
			  mlp_trainer_model(whole)->num_params * sizeof(float)) == 0,
	   "3 epochs in uneven chunks (carry-over batches) = train_epoch, bit for bit");
	ok(equal_stats, "... with the same epoch stats: %lld examples, loss %.6f",
	   (long long) sc.examples, sc.train_loss);
	ok(steps_chunked == steps_whole, "... and the same steps (%lld)", (long long) steps_whole);

	/* validation in chunks of 7: the same totals */
	(void) mlp_trainer_eval_dataset(whole, &d, &ew, &e);
	for (int64_t at = 0; at < N_; at += 7)
	{
		MlpDataset	chunk = {images + at * sz, labels + at, N_ - at < 7 ? N_ - at : 7, d.spec};

		(void) mlp_trainer_eval_chunk(whole, &chunk, &tot, &e);
	}
	mlp_eval_stats(&tot, &ec);
	is_int(ec.n, ew.n, "validation in chunks counts every row");
	ok(ec.accuracy == ew.accuracy && ec.top5 == ew.top5,
	   "... with the same accuracy (%.4f) and top-5", ec.accuracy);
	/* the same up to float rounding: BLAS picks its kernels by shape, 7 rows or all */
	ok(ec.loss > ew.loss - 1e-6 && ec.loss < ew.loss + 1e-6,
	   "... and the same loss (%.9f, %.9f)", ec.loss, ew.loss);

	/* a chunk of another shape is refused */
	{
		MlpDataset	odd = {images, labels, 4, {C_, 3, 12}};

		(void) mlp_trainer_epoch_begin(chunked, 0, N_, &sc, &e);
		(void) mlp_trainer_train_chunk(chunked, &d, NULL, NULL, NULL, &sc, &e);
		ok(mlp_trainer_train_chunk(chunked, &odd, NULL, NULL, NULL, &sc, &e) ==
		   MLP_ERR_INVALID_ARGUMENT, "a chunk of another shape is refused: %s", e.message);
	}
	ok(mlp_trainer_epoch_begin(chunked, 0, 0, &sc, &e) == MLP_ERR_INVALID_ARGUMENT,
	   "an epoch of no rows is refused");
	ok(mlp_trainer_stream_memory(&cfg, sz) == 16 * (sz + 4), "the carry-over buffer's bytes");

	mlp_trainer_free(whole);
	mlp_trainer_free(chunked);
	free(images);
	free(labels);
	free(copy);
	free(copy_labels);
}

/* a chunk trained on its own thread is the same chunk trained on the caller's */
static void
test_train_thread(void)
{
	uint8_t    *images;
	int32_t    *labels;
	MlpDataset	d;
	MlpTrainConfig cfg;
	MlpTrainer *here,
			   *there;
	MlpError	e;
	MlpEpochStats sh,
				st;
	MlpStepReport rep;
	int64_t		steps_here = 0,
				reports = 0,
				last_step = -1;
	int			r;
	MlpTrainThread *tt;

	make_dataset(&images, &labels, &d);
	config(&cfg);
	here = mlp_trainer_new(&cfg, NULL, &e);
	there = mlp_trainer_new(&cfg, NULL, &e);
	ok(here && there, "two trainers");
	if (!here || !there)
		return;
	(void) mlp_trainer_epoch_begin(here, 0, N_, &sh, &e);
	(void) mlp_trainer_train_chunk(here, &d, NULL, count_step, &steps_here, &sh, &e);
	(void) mlp_trainer_epoch_end(here, count_step, &steps_here, &sh, &e);

	(void) mlp_trainer_epoch_begin(there, 0, N_, &st, &e);
	tt = mlp_train_thread_start(there, &d, NULL, &st, &e);
	ok(tt != NULL, "a train thread starts");
	while ((r = mlp_train_thread_wait(tt, 1000, &rep)) >= 0)
		if (r == 1)
		{
			reports++;
			last_step = rep.step;
		}
	ok(mlp_train_thread_join(tt, &e) == MLP_OK, "... and ends well");
	ok(reports >= 1 && reports <= steps_here - 1 && last_step == steps_here - 1,
	   "its steps are reported, the latest last (%lld reports, last step %lld of the 12 in the chunk)",
	   (long long) reports, (long long) last_step);
	(void) mlp_trainer_epoch_end(there, count_step, &reports, &st, &e);
	ok(memcmp(mlp_trainer_model(here)->params, mlp_trainer_model(there)->params,
			  mlp_trainer_model(here)->num_params * sizeof(float)) == 0 &&
	   sh.train_loss == st.train_loss, "the same weights and loss as on the caller's thread");

	/* asked to stop, it stops after a step, as a callback returning 1 */
	(void) mlp_trainer_epoch_begin(there, 1, N_, &st, &e);
	tt = mlp_train_thread_start(there, &d, NULL, &st, &e);
	mlp_train_thread_stop(tt);
	while (mlp_train_thread_wait(tt, 1000, &rep) >= 0)
		;
	ok(mlp_train_thread_join(tt, &e) == MLP_OK && st.stopped, "stopped, the chunk says so");

	mlp_trainer_free(here);
	mlp_trainer_free(there);
	free(images);
	free(labels);
}

static void
test_channel_stats(void)
{
	enum {N = 97, SZ = 3 * 5 * 4};
	MlpImageSpec spec = {3, 5, 4};
	uint8_t    *images = malloc(N * SZ);
	float		mean[3],
				std[3],
				mean2[3],
				std2[3];
	MlpChannelHist *h = calloc(1, sizeof(MlpChannelHist));
	MlpRng		rng;

	mlp_rng_seed(&rng, 11, 0);
	for (int i = 0; i < N * SZ; i++)
		images[i] = (uint8_t) mlp_rng_below(&rng, 256);
	mlp_channel_stats(images, N, spec, mean, std);
	for (int at = 0, n = 1; at < N; at += n, n = n * 2 + 1)
		mlp_channel_hist_add(h, images + (size_t) at * SZ, at + n > N ? N - at : n, spec);
	mlp_channel_hist_stats(h, spec, mean2, std2);
	ok(memcmp(mean, mean2, sizeof(mean)) == 0 && memcmp(std, std2, sizeof(std)) == 0,
	   "normalisation statistics in chunks of 1, 3, 7, ... = those of the whole, bit for bit");
	free(h);
	free(images);
}

int
main(void)
{
	char		err[256];

	if (mlp_blas_init(err, sizeof(err)) != 0)
	{
		printf("Bail out! OpenBLAS: %s\n", err);
		return 1;
	}
	mlp_blas_set_threads(1);
	test_orders();
	test_chunked_epoch();
	test_train_thread();
	test_channel_stats();
	return tap_done();
}
