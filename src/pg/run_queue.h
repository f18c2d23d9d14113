/*
 * run_queue.h - queueing and canceling runs, for the functions of other files that do it
 * on behalf of their caller (mlp_sweep and its wait and cancel, sweep.c).
 */
#ifndef MLP_RUN_QUEUE_H
#define MLP_RUN_QUEUE_H

#include "postgres.h"

#include "fmgr.h"
#include "sql_values.h"
#include "utils/timestamp.h"

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

/*
 * Queues an interrupted, failed or canceled run again (the caller has checked that it may);
 * false when it is not one.  The launcher is told when the transaction commits.
 */
extern bool MlpResumeRun(int64 run_id);

/* True when this transaction queued (or resumed) the run: it cannot start before commit. */
extern bool MlpRunQueuedInThisTransaction(int64 run_id);

/* ---- waiting (mlp_wait, mlp_wait_sweep) ---- */

/* The timeout_seconds argument argno: -1 when NULL; ERROR outside [0, 1e9]. */
extern double MlpWaitTimeoutArg(FunctionCallInfo fcinfo, int argno);

/*
 * ERROR in a REPEATABLE READ or SERIALIZABLE transaction, whose snapshot would never show
 * what ("the run") end: "<function> cannot see <what> end in a ... transaction".
 */
extern void MlpCheckWaitIsolation(const char *function, const char *what);

/*
 * False once timeout seconds (when >= 0) have passed since start; otherwise waits poll_ms
 * on the latch, interruptibly, and returns true.
 */
extern bool MlpWaitMore(TimestampTz start, double timeout, long poll_ms);

#endif
