/*
 * run_queue.h - queueing and canceling runs, for the functions of other files that do it
 * on behalf of their caller (mlp_sweep and its wait and cancel, sweep.c).
 */
#ifndef MLP_RUN_QUEUE_H
#define MLP_RUN_QUEUE_H

#include "postgres.h"

#include "sql_values.h"

/*
 * Checks the run that args describe (named as mlp_train's arguments, model_name aside) and,
 * unless check_only, queues it as model_name, part of sweep sweep_id (0 = none); returns the
 * run id (0 when check_only).  The launcher is told when the transaction commits.
 */
extern int64 MlpQueueTrainRun(const MlpArgs *args, const char *model_name, int64 sweep_id,
							  bool check_only);

/*
 * Cancels the run (the caller has checked that it may): a queued run at once, a running one
 * once the transaction commits.  False when it had already ended.
 */
extern bool MlpCancelRun(int64 run_id);

/* True when this transaction queued (or resumed) the run: it cannot start before commit. */
extern bool MlpRunQueuedInThisTransaction(int64 run_id);

#endif
