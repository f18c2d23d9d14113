/*
 * run_queue.c - the settings of training and the SQL functions that queue, wait for, cancel
 * and resume runs.
 */
#include "postgres.h"

#include <limits.h>

#include "utils/guc.h"

#include "mlpscale.h"
#include "training.h"

int			mlp_max_concurrent_runs = 1;
int			mlp_max_training_memory_mb = 8192;
int			mlp_training_threads = 2;

void
RunQueueInit(void)
{
	DefineCustomIntVariable("mlpscale.max_concurrent_runs",
							"Training runs that may run at the same time.",
							"More queued runs wait as 'queued'.  Each running run takes one "
							"background worker out of max_worker_processes.",
							&mlp_max_concurrent_runs,
							1, 0, 64,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("mlpscale.max_training_memory",
							"Memory a training run may use for its data, model and buffers.",
							"A run that would need more fails before allocating it.",
							&mlp_max_training_memory_mb,
							8192, 16, INT_MAX / 2,
							PGC_SUSET, GUC_UNIT_MB,
							NULL, NULL, NULL);
	DefineCustomIntVariable("mlpscale.training_threads",
							"Threads of a training run (OpenBLAS and element-wise work).",
							NULL,
							&mlp_training_threads,
							2, 1, 256,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
}
