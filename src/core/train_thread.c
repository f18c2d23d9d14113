/*
 * train_thread.c - see train_thread.h.
 */
#include "train_thread.h"

#include "thread_pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct MlpTrainThread
{
	pthread_t	tid;
	pthread_mutex_t mu;
	pthread_cond_t cv;			/* a step was reported, or the chunk is done */
	MlpTrainer *trainer;
	MlpDataset	chunk;
	const int64_t *rows;
	MlpEpochStats *stats;
	/* under mu */
	MlpStepReport last;
	bool		fresh;			/* last not yet taken by the caller */
	bool		done;
	bool		stop;
	/* written by the thread before done */
	MlpStatus	status;
	MlpError	err;
};

/* The trainer's step callback on the train thread: report, and stop when asked to. */
static int
report_step(void *arg, int epoch, int64_t step, int64_t steps, double loss,
			double images_per_second)
{
	MlpTrainThread *tt = arg;
	bool		stop;

	pthread_mutex_lock(&tt->mu);
	tt->last = (MlpStepReport) {epoch, step, steps, loss, images_per_second};
	tt->fresh = true;
	stop = tt->stop;
	pthread_cond_signal(&tt->cv);
	pthread_mutex_unlock(&tt->mu);
	return stop ? 1 : 0;
}

static void *
train_thread_main(void *arg)
{
	MlpTrainThread *tt = arg;
	MlpStatus	status;

	status = mlp_trainer_train_chunk(tt->trainer, &tt->chunk, tt->rows, report_step, tt,
									 tt->stats, &tt->err);
	pthread_mutex_lock(&tt->mu);
	tt->status = status;
	tt->done = true;
	pthread_cond_signal(&tt->cv);
	pthread_mutex_unlock(&tt->mu);
	return NULL;
}

MlpTrainThread *
mlp_train_thread_start(MlpTrainer *t, const MlpDataset *chunk, const int64_t *rows,
					   MlpEpochStats *stats, MlpError *err)
{
	MlpTrainThread *tt = calloc(1, sizeof(*tt));
	pthread_condattr_t ca;
	int			rc;

	if (tt == NULL)
	{
		mlp_error_set(err, MLP_ERR_OUT_OF_MEMORY, "out of memory for a training thread");
		return NULL;
	}
	tt->trainer = t;
	tt->chunk = *chunk;
	tt->rows = rows;
	tt->stats = stats;
	pthread_mutex_init(&tt->mu, NULL);
	/* timed waits on the monotonic clock: a change of the wall clock does not stretch them */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&tt->cv, &ca);
	pthread_condattr_destroy(&ca);
	rc = mlp_thread_create(&tt->tid, NULL, train_thread_main, tt);
	if (rc != 0)
	{
		pthread_cond_destroy(&tt->cv);
		pthread_mutex_destroy(&tt->mu);
		free(tt);
		mlp_error_set(err, MLP_ERR_OUT_OF_MEMORY, "could not start a training thread: %s",
					  strerror(rc));
		return NULL;
	}
	return tt;
}

int
mlp_train_thread_wait(MlpTrainThread *tt, int timeout_ms, MlpStepReport *report)
{
	struct timespec until;
	int			result = 0;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long) (timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L)
	{
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&tt->mu);
	while (!tt->fresh && !tt->done)
		if (pthread_cond_timedwait(&tt->cv, &tt->mu, &until) == ETIMEDOUT)
			break;
	if (tt->fresh)
	{
		*report = tt->last;
		tt->fresh = false;
		result = 1;
	}
	else if (tt->done)
		result = -1;
	pthread_mutex_unlock(&tt->mu);
	return result;
}

void
mlp_train_thread_stop(MlpTrainThread *tt)
{
	pthread_mutex_lock(&tt->mu);
	tt->stop = true;
	pthread_mutex_unlock(&tt->mu);
}

MlpStatus
mlp_train_thread_join(MlpTrainThread *tt, MlpError *err)
{
	MlpStatus	status;

	pthread_join(tt->tid, NULL);
	status = tt->status;
	if (status != MLP_OK && err != NULL)
		*err = tt->err;
	pthread_cond_destroy(&tt->cv);
	pthread_mutex_destroy(&tt->mu);
	free(tt);
	return status;
}
