/*
 * trainer.h - the training loop of the paper's recipe over a uint8 dataset in memory.
 *
 * Used by the background worker; free of PostgreSQL, so it is unit-tested and benchmarked on
 * its own.  The worker passes a callback, called on the calling thread after every
 * mini-batch, that reports progress and returns nonzero to stop (cancel, shutdown).
 *
 * Failures are an MlpStatus with an MlpError (status.h): the kind, the message and a hint
 * apart.
 */
#ifndef MLP_TRAINER_H
#define MLP_TRAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch.h"
#include "augment.h"
#include "blas.h"
#include "evaluate.h"
#include "model.h"
#include "optimizer.h"
#include "status.h"

typedef struct MlpDataset
{
	const uint8_t *images;		/* n * C*H*W bytes, planar per image */
	const int32_t *labels;		/* n labels in [0, classes) */
	int64_t		n;
	MlpImageSpec spec;
} MlpDataset;

typedef struct MlpTrainConfig
{
	MlpArch		arch;			/* in_dim and classes filled in */
	MlpImageSpec input;			/* model input: channels of the data, training resolution */
	int			epochs;
	int			batch_size;
	MlpOptConfig opt;			/* head_offset filled in by the trainer */
	bool		cosine;			/* per-epoch cosine schedule */
	double		clip_norm;		/* 0 = off */
	float		label_smoothing;	/* 0.3 */
	float		mixup_alpha;	/* 0.8; 0 = off */
	bool		augment;		/* random-resized crop + flip */
	float		mean[MLP_MAX_CHANNELS];
	float		std[MLP_MAX_CHANNELS];
	uint64_t	seed;
	int			threads;		/* BLAS and element-wise threads; the trainer sizes the
								 * thread pool (thread_pool.h) of batch assembly with it */
	MlpMatmulPrecision precision;	/* of the matrix products (fp32 = 0, the default) */
} MlpTrainConfig;

typedef struct MlpEpochStats
{
	int			epoch;			/* 1-based */
	double		train_loss;
	double		train_accuracy; /* against the un-mixed label */
	int64_t		examples;		/* seen in this epoch */
	double		seconds;
	double		images_per_second;
	bool		stopped;		/* the callback asked to stop: the epoch is not complete */
} MlpEpochStats;

/* Called after each step; nonzero stops the epoch (stats->stopped is then set). */
typedef int (*MlpStepCallback) (void *arg, int epoch, int64_t step, int64_t steps,
								double loss, double images_per_second);

typedef struct MlpTrainer MlpTrainer;

/*
 * Creates model, optimizer and buffers, or returns NULL with err filled: a config the
 * trainer cannot run (MLP_ERR_INVALID_ARGUMENT), bf16 products on a CPU without
 * AVX512_BF16 (MLP_ERR_NOT_SUPPORTED), or memory.  When base is not NULL (fine-tuning), the
 * body is copied from it and a fresh head is initialised for cfg->arch.classes.
 */
MlpTrainer *mlp_trainer_new(const MlpTrainConfig *cfg, const MlpModel *base, MlpError *err);
void		mlp_trainer_free(MlpTrainer *t);

/* Bytes the trainer will allocate for this config (checked against a budget first). */
size_t		mlp_trainer_memory_estimate(const MlpTrainConfig *cfg);

/*
 * Bytes beyond the estimate that a run holds at times: the product threads' packing buffers
 * and stacks, and a checkpoint's two copies of the state (the buffer and the row written)
 * less the batch memory released while it is written.
 */
size_t		mlp_trainer_overhead_memory(const MlpTrainConfig *cfg);

/*
 * Gives the memory pages of the per-batch buffers (activations, the batch, the gradients)
 * back to the system, e.g. while a checkpoint is written between epochs.  Nothing is lost:
 * they are rewritten before they are read, and the next step faults them in again.
 */
void		mlp_trainer_release_batch_memory(MlpTrainer *t);

/*
 * Runs epoch (0-based) over data.  MLP_OK when the epoch is done or the callback stopped it
 * (stats->stopped); else the failure: a dataset that does not fit the model
 * (MLP_ERR_INVALID_ARGUMENT), a loss that diverged (MLP_ERR_NUMERIC, with a hint), memory.
 */
MlpStatus	mlp_trainer_train_epoch(MlpTrainer *t, const MlpDataset *data, int epoch,
									MlpStepCallback cb, void *cb_arg, MlpEpochStats *stats,
									MlpError *err);

/*
 * An epoch over a source too large for memory, as a sequence of chunks (the worker's
 * stream windows).  epoch_begin starts epoch (0-based) of n rows (for the callback's step
 * count only); train_chunk trains the rows of chunk in the order rows[0..chunk->n) (NULL:
 * 0, 1, ...); epoch_end trains what is left and fills stats for the whole epoch.
 *
 * Batches are cut across chunk boundaries: the rows of a chunk that do not fill a batch are
 * copied into a carry-over buffer of batch_size - 1 images and begin the next batch, so every
 * step but the epoch's last has batch_size images and step s draws its randomness from
 * (seed, epoch, s) as train_epoch does.  Given the chunks of one dataset in train_epoch's
 * order, the result is train_epoch's, bit for bit.  The carry-over buffer (allocated at the
 * first chunk) is counted by mlp_trainer_stream_memory.
 *
 * train_chunk returns MLP_OK with stats->stopped when the callback stops the epoch (then
 * do not call epoch_end); the errors of train_epoch, and MLP_ERR_INVALID_ARGUMENT for a
 * chunk whose image shape differs from the first chunk's.
 */
MlpStatus	mlp_trainer_epoch_begin(MlpTrainer *t, int epoch, int64_t n, MlpEpochStats *stats,
									MlpError *err);
MlpStatus	mlp_trainer_train_chunk(MlpTrainer *t, const MlpDataset *chunk,
									const int64_t *rows, MlpStepCallback cb, void *cb_arg,
									MlpEpochStats *stats, MlpError *err);
MlpStatus	mlp_trainer_epoch_end(MlpTrainer *t, MlpStepCallback cb, void *cb_arg,
								  MlpEpochStats *stats, MlpError *err);

/* Bytes of the carry-over buffer of a streamed epoch over images of image_bytes. */
size_t		mlp_trainer_stream_memory(const MlpTrainConfig *cfg, size_t image_bytes);

/*
 * Validation in chunks: adds the chunk's rows to tot (mlp_eval_stats gives the figures).
 * mlp_trainer_eval_dataset is this over one chunk.
 */
MlpStatus	mlp_trainer_eval_chunk(MlpTrainer *t, const MlpDataset *chunk, MlpEvalTotals *tot,
								   MlpError *err);

/*
 * Evaluation (evaluate.h) without augmentation, images resized to the model input, with the
 * forward of training: MLP_OK, or MLP_ERR_INVALID_ARGUMENT for a dataset that does not fit.
 */
MlpStatus	mlp_trainer_eval_dataset(MlpTrainer *t, const MlpDataset *data,
									 MlpEvalStats *stats, MlpError *err);

const MlpModel *mlp_trainer_model(const MlpTrainer *t);

/*
 * Checkpoint: params and optimizer state (safetensors), and the epochs completed, into a
 * malloc'd buffer.  Restoring refuses a damaged checkpoint or one of another optimizer or
 * architecture with MLP_ERR_DATA_CORRUPTED.
 */
MlpStatus	mlp_trainer_checkpoint(const MlpTrainer *t, int epochs_done, uint8_t **out,
								   size_t *outlen, MlpError *err);
MlpStatus	mlp_trainer_restore(MlpTrainer *t, const uint8_t *buf, size_t len,
								int *epochs_done, MlpError *err);

#endif
