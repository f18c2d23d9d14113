/*
 * test_trainer_release.c - mlp_trainer_release_batch_memory: the pages of the per-batch
 * buffers leave resident memory, and training afterwards is bit-identical to training that
 * never released them (the worker releases between epochs, while it writes a checkpoint).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blas.h"
#include "rng.h"
#include "tap.h"
#include "trainer.h"

#define SIDE 8
#define CLASSES 4

/* Class k: rows [2k, 2k+2) bright over noise. */
static void
make_dataset(int64_t n, uint64_t seed, uint8_t **images, int32_t **labels, MlpDataset *d)
{
	MlpRng		rng;

	*images = malloc((size_t) n * SIDE * SIDE);
	*labels = malloc((size_t) n * sizeof(int32_t));
	mlp_rng_seed(&rng, seed, 0);
	for (int64_t i = 0; i < n; i++)
	{
		int			k = (int) mlp_rng_below(&rng, CLASSES);

		(*labels)[i] = k;
		for (int p = 0; p < SIDE * SIDE; p++)
			(*images)[i * SIDE * SIDE + p] =
				(uint8_t) ((p / SIDE / 2 == k ? 160 : 30) + mlp_rng_below(&rng, 80));
	}
	d->images = *images;
	d->labels = *labels;
	d->n = n;
	d->spec = (MlpImageSpec) {1, SIDE, SIDE};
}

static void
config(MlpTrainConfig *cfg)
{
	char		err[128];

	memset(cfg, 0, sizeof(*cfg));
	if (mlp_arch_parse("B_2-Wi_256", &cfg->arch, err, sizeof(err)) != 0)
		diag("arch: %s", err);
	cfg->input = (MlpImageSpec) {1, SIDE, SIDE};
	cfg->arch.in_dim = SIDE * SIDE;
	cfg->arch.classes = CLASSES;
	cfg->epochs = 3;
	cfg->batch_size = 256;		/* activations of several MB: many whole pages to release */
	mlp_opt_defaults(&cfg->opt, MLP_OPT_LION, 0);
	cfg->opt.lr = 1e-4f;
	cfg->mixup_alpha = 0.8f;
	cfg->label_smoothing = 0.1f;
	cfg->augment = true;
	cfg->mean[0] = 0.4f;
	cfg->std[0] = 0.25f;
	cfg->seed = 77;
	cfg->threads = 1;
}

/* Resident bytes of this process (Linux), or 0 when unknown. */
static long
resident_bytes(void)
{
	FILE	   *f = fopen("/proc/self/statm", "r");
	long		size = 0,
				resident = 0;

	if (f == NULL)
		return 0;
	if (fscanf(f, "%ld %ld", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return resident * sysconf(_SC_PAGESIZE);
}

int
main(void)
{
	char		err[256];
	uint8_t    *images;
	int32_t    *labels;
	MlpDataset	train;
	MlpTrainConfig cfg;
	MlpTrainer *kept,
			   *released;
	MlpEpochStats st_kept,
				st_released;
	MlpEvalStats ev_kept,
				ev_released;
	int			epochs_ok = 1;
	long		before,
				after;
	MlpError	error;

	if (mlp_blas_init(err, sizeof(err)) != 0)
	{
		printf("Bail out! OpenBLAS: %s\n", err);
		return 1;
	}
	mlp_blas_set_threads(1);
	make_dataset(600, 3, &images, &labels, &train);
	config(&cfg);
	kept = mlp_trainer_new(&cfg, NULL, &error);
	released = mlp_trainer_new(&cfg, NULL, &error);
	ok(kept != NULL && released != NULL, "two trainers of one config");
	if (kept == NULL || released == NULL)
		return tap_done();

	/* Releasing before anything was trained is harmless too. */
	mlp_trainer_release_batch_memory(released);
	for (int e = 0; e < cfg.epochs && epochs_ok; e++)
	{
		epochs_ok &= mlp_trainer_train_epoch(kept, &train, e, NULL, NULL, &st_kept,
											 &error) == MLP_OK;
		epochs_ok &= mlp_trainer_train_epoch(released, &train, e, NULL, NULL, &st_released,
											 &error) == MLP_OK;
		before = resident_bytes();
		mlp_trainer_release_batch_memory(released);
		after = resident_bytes();
		if (e == 0)
		{
			/* Activations of 256 images of B_2-Wi_256 are about 5 MB; half must go. */
			diag("resident %.1f MB before the release, %.1f MB after", before / 1048576.0,
				 after / 1048576.0);
			ok(before > 0 && before - after > 2 * 1048576L,
			   "the release gives back %.1f MB of resident memory",
			   (before - after) / 1048576.0);
		}
	}
	ok(epochs_ok, "3 epochs on both, one releasing after each%s%s", epochs_ok ? "" : ": ",
	   epochs_ok ? "" : error.message);
	is_close(st_released.train_loss, st_kept.train_loss, 0, 0, "same last-epoch loss");
	ok(memcmp(mlp_trainer_model(kept)->params, mlp_trainer_model(released)->params,
			  mlp_trainer_model(kept)->num_params * sizeof(float)) == 0,
	   "bit-identical parameters after training across releases");

	/* Evaluation right after a release uses the buffers too. */
	mlp_trainer_release_batch_memory(released);
	(void) mlp_trainer_eval_dataset(kept, &train, &ev_kept, &error);
	(void) mlp_trainer_eval_dataset(released, &train, &ev_released, &error);
	is_close(ev_released.loss, ev_kept.loss, 0, 0, "same evaluation after a release");
	is_int(ev_released.n, 600, "evaluation sees every image");

	mlp_trainer_free(kept);
	mlp_trainer_free(released);
	free(images);
	free(labels);
	return tap_done();
}
