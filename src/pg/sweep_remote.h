/*
 * sweep_remote.h - the runs of sweeps spread over postgres_fdw servers (sweep_remote.c).
 */
#ifndef MLP_SWEEP_REMOTE_H
#define MLP_SWEEP_REMOTE_H

#include "postgres.h"

#include "fmgr.h"
#include "utils/array.h"

#include "sql_values.h"

/*
 * Queues run k of the sweep (args named as mlp_sweep's, the combination set) on server with
 * that server's mlp_train, in a remote transaction that commits with the caller's, and
 * records it in mlpscale.sweep_remote_runs.
 */
extern void MlpSweepQueueRemote(const MlpArgs *args, int64 sweep_id, const char *sweep_name,
								int k, const char *combination, const char *server);

/* True when this transaction has queued runs on servers that commit with it. */
extern bool MlpSweepRemotePending(void);

/*
 * Reads the status of the sweep's remote runs from their servers into
 * mlpscale.sweep_remote_runs; the unfinished runs of a server that cannot be reached become
 * 'unreachable' (with a WARNING).  False when the sweep has no remote runs.
 */
extern bool MlpSweepRefreshRemote(int64 sweep_id);

/* mlp_cancel on every queued or running remote run; returns how many it canceled. */
extern int	MlpSweepCancelRemote(int64 sweep_id);

/*
 * The interrupted, failed, canceled and unreachable remote runs queued again: resumed on
 * their servers (servers NULL), or queued anew round robin on servers.  Returns how many.
 */
extern int	MlpSweepResumeRemote(int64 sweep_id, ArrayType *servers);

/* The mlpscale.results rows of the remote runs into fcinfo's materialised result. */
extern void MlpSweepResultsRemote(FunctionCallInfo fcinfo, int64 sweep_id,
								  const char *sweep_name);

/* The epochs of the remote runs (k, server, remote run id, epoch columns) into fcinfo's result. */
extern void MlpSweepEpochsRemote(FunctionCallInfo fcinfo, int64 sweep_id);

#endif
