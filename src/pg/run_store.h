/*
 * run_store.h - every statement on mlpscale.runs, mlpscale.epochs and mlpscale.checkpoints.
 *
 * The queue's SQL functions, the training worker and the sweeper go through these; each
 * connects to SPI itself (nested connections are fine) and runs as the extension owner under
 * the pinned search_path (privilege.c).  Nothing here checks who the caller is: that is the
 * caller's business (run_queue.c checks ownership of a run before changing it).
 */
#ifndef MLP_RUN_STORE_H
#define MLP_RUN_STORE_H

#include "postgres.h"

#include "nodes/pg_list.h"
#include "utils/jsonb.h"

#include "run_config.h"

/* What the queue's functions need of a run. */
typedef struct MlpRunRow
{
	char	   *status;
	Oid			run_as;
	int			epochs_done;
	int			epochs;
	bool		has_checkpoint;
} MlpRunRow;

/* One finished epoch, as mlpscale.epochs stores it. */
typedef struct MlpEpochRow
{
	int			epoch;
	double		train_loss;
	double		train_accuracy;
	bool		has_val;
	double		val_loss;
	double		val_accuracy;
	double		val_top5;
	double		images_per_second;
	int64		examples_seen;
	double		cumulative_flops;
	double		lr;
	double		seconds;
	/* the worker's private memory: the highest seen so far, and when the run began */
	int64		peak_memory_bytes;
	int64		base_memory_bytes;
} MlpEpochRow;

/* ---- the queue (run_queue.c) ------------------------------------------------------------ */

/* Inserts a 'queued' run of cfg for role run_as; returns its id. */
extern int64 MlpRunStoreInsert(const MlpRunConfig *cfg, const char *base_model, Oid run_as);

/* The run's row into *row (palloc'd in the caller's context); false when there is none. */
extern bool MlpRunStoreRead(int64 run_id, MlpRunRow *row);

/*
 * A queued run becomes 'canceled'; a running one gets cancel_requested.  Returns the status
 * the run had ("queued" or "running"), or NULL when it had already ended.
 */
extern const char *MlpRunStoreCancel(int64 run_id);

/* An interrupted, failed or canceled run becomes 'queued' again; false when it is not one. */
extern bool MlpRunStoreRequeue(int64 run_id);

/* Ids (int64 *, palloc'd) of this database's queued runs, oldest first. */
extern List *MlpRunStoreQueued(void);

/* ---- sweeps (sweep.c) ------------------------------------------------------------------- */

/* What defines a sweep: calling mlp_sweep again with an equal definition finds it. */
typedef struct MlpSweepDefinition
{
	const char *name;
	const char *source;			/* as given */
	const char *grid;			/* JSON text */
	int			trials;			/* 0 = every combination */
	int64		trials_seed;
	const char *arguments;		/* JSON text: every other argument of the call */
	int			runs;
	Datum		servers;		/* text[]; 0 = the runs are here */
} MlpSweepDefinition;

extern int64 MlpRunStoreInsertSweep(const MlpSweepDefinition *def, Oid owner);

/*
 * The sweep named def->name: its id, owner, and whether its definition equals def; false
 * when there is none.
 */
extern bool MlpRunStoreFindSweep(const MlpSweepDefinition *def, int64 *id, Oid *owner,
								 bool *same);

/*
 * The sweep's owner, status (mlpscale.sweeps), name, and whether its runs are on other
 * servers; false when there is none.
 */
extern bool MlpRunStoreReadSweep(int64 sweep_id, Oid *owner, char **status, char **name,
								 bool *remote);

/* Ids (int64 *, palloc'd) of the sweep's interrupted, failed and canceled runs here. */
extern List *MlpRunStoreSweepResumableRuns(int64 sweep_id);

/* Ids (int64 *, palloc'd) of the sweep's queued and running runs. */
extern List *MlpRunStoreSweepActiveRuns(int64 sweep_id);

/* ---- the training worker (train_worker.c) ----------------------------------------------- */

/*
 * 'queued' -> 'running' with worker_pid = pid; false when the run is not queued any more.
 * Fills the column fields of *cfg, *run_as, *epochs_done and *config, in cxt.
 */
extern bool MlpRunStoreClaim(int64 run_id, int pid, MemoryContext cxt, MlpRunConfig *cfg,
							 Oid *run_as, int *epochs_done, Jsonb **config);

extern void MlpRunStoreRecordSizes(int64 run_id, int64 params, double flops_per_image,
								   int64 train_rows, int64 val_rows, bool has_val,
								   int64 stream_window_rows);

/*
 * The epoch's row, the checkpoint state (a bytea), epochs_done and the run's best_epoch
 * (0: null, no validation), in the current transaction.  keep_best (early_stop): the
 * checkpoint also keeps the state of best_epoch (the checkpoint's best_epoch; its
 * best_state, null while the newest state is the best).
 */
extern void MlpRunStoreCommitEpoch(int64 run_id, const MlpEpochRow *epoch, bytea *state,
								   int best_epoch, bool keep_best);

/*
 * Calls use(state, len, examples_seen, arg) with the run's checkpoint while it is read
 * (checkpoints are large: it is not copied); returns false when the run has none.
 */
extern bool MlpRunStoreReadCheckpoint(int64 run_id,
									  void (*use) (const uint8_t *state, size_t len,
												   int64 examples_seen, void *arg),
									  void *arg);

/* The same with the state of the checkpoint's best_epoch; false when it has none. */
extern bool MlpRunStoreReadBestState(int64 run_id,
									 void (*use) (const uint8_t *state, size_t len,
												  int64 examples_seen, void *arg),
									 void *arg);

/*
 * The epoch (up to epochs_done) of the run's lowest val_loss, the earliest of equals, and
 * that loss; false when no epoch has one.  How a resumed run finds its best epoch so far.
 */
extern bool MlpRunStoreBestEpoch(int64 run_id, int epochs_done, int *epoch, double *val_loss);

/* Deletes epoch rows after epochs_done and sets the run's epochs_done. */
extern void MlpRunStoreRewind(int64 run_id, int epochs_done);

/* status and error of the ended run, its model (0: none), finished now. */
extern void MlpRunStoreFinish(int64 run_id, const char *status, const char *error,
							  int64 model_id);

/* True when the run's row asks for cancellation, or has gone. */
extern bool MlpRunStoreCancelRequested(int64 run_id);

/* ---- the sweeper (launcher.c): statements valid on the tables of every version ---------- */

/* The run of a worker that exited without ending it; returns how many rows (0 or 1). */
extern uint64 MlpRunStoreInterruptOrphan(int64 run_id, int worker_pid);

/* Every run left 'running' by a server stop; returns how many. */
extern uint64 MlpRunStoreInterruptRunning(void);

#endif
