/*
 * train_thread.h - one chunk of a streamed epoch trained on a thread of its own.
 *
 * A streamed run reads its next window through PostgreSQL while it trains on the current
 * one.  Only the worker's own thread may call PostgreSQL, so the training moves instead: it
 * runs mlp_trainer_train_chunk on this thread (signals blocked, nothing but the numeric core),
 * and the worker's thread reads, then takes the steps' reports here and answers them (its
 * progress, interrupts, cancel) until the chunk is done.  The chunk trains exactly as it
 * would on the caller's thread: same steps, same results.
 *
 * Plain C, no PostgreSQL headers.  One train thread at a time, and while it runs the caller
 * uses neither the trainer nor the thread pool (thread_pool.h).
 */
#ifndef MLP_TRAIN_THREAD_H
#define MLP_TRAIN_THREAD_H

#include "trainer.h"

/* What the trainer's step callback was given, for the caller to act on. */
typedef struct MlpStepReport
{
	int			epoch;
	int64_t		step;
	int64_t		steps;
	double		loss;
	double		images_per_second;
} MlpStepReport;

typedef struct MlpTrainThread MlpTrainThread;

/*
 * Starts training chunk (rows: its order, as mlp_trainer_train_chunk) into stats; chunk,
 * rows and stats must stay until mlp_train_thread_join.  NULL with err filled when no thread
 * can be started.
 */
MlpTrainThread *mlp_train_thread_start(MlpTrainer *t, const MlpDataset *chunk,
									   const int64_t *rows, MlpEpochStats *stats,
									   MlpError *err);

/*
 * Waits up to timeout_ms for news: 1 with *report the latest step (steps the caller has not
 * taken are skipped, only the latest counts), 0 when nothing happened, -1 when the chunk is
 * done (the last step is reported before that).
 */
int			mlp_train_thread_wait(MlpTrainThread *tt, int timeout_ms, MlpStepReport *report);

/* Asks the chunk to stop after its current step (then stats->stopped, as a callback's 1). */
void		mlp_train_thread_stop(MlpTrainThread *tt);

/* Waits for the end, frees tt and returns what mlp_trainer_train_chunk returned. */
MlpStatus	mlp_train_thread_join(MlpTrainThread *tt, MlpError *err);

#endif
