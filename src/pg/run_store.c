/*
 * run_store.c - the SQL of runs, epochs and checkpoints (see run_store.h).
 *
 * Every statement is schema-qualified down to its operators (MLP_EQ) and runs as the
 * extension owner under the pinned search_path.  Plans are generic: a custom plan would fold
 * every parameter into a constant, copying a checkpoint bytea whole.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "privilege.h"
#include "run_store.h"

/*
 * Runs sql as the extension owner (SPI connected by the caller); ERROR unless SPI answers
 * expected.  any_version: the statement is valid on the tables of every version.
 */
static void
ExecAsOwner(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls,
			bool read_only, int expected, bool any_version)
{
	MlpSavedUser saved;
	SPIPlanPtr	plan;
	int			ret;

	if (any_version)
		MlpBecomeExtensionOwnerAnyVersion(&saved);
	else
		MlpBecomeExtensionOwner(&saved);
	plan = SPI_prepare_cursor(sql, nargs, types, CURSOR_OPT_GENERIC_PLAN);
	if (plan == NULL)
		elog(ERROR, "mlpscale: could not prepare \"%s\": %s", sql,
			 SPI_result_code_string(SPI_result));
	ret = SPI_execute_plan(plan, values, nulls, read_only, 0);
	SPI_freeplan(plan);
	MlpRestoreUser(&saved);
	if (ret != expected)
		elog(ERROR, "mlpscale: \"%s\" failed: %s", sql, SPI_result_code_string(ret));
}

/* Column col of the first result row as text, palloc'd in the caller's context (SPI_palloc). */
static char *
ResultText(int col)
{
	char	   *v = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col);
	char	   *copy;

	if (v == NULL)
		return NULL;
	copy = SPI_palloc(strlen(v) + 1);
	strcpy(copy, v);
	return copy;
}

static Datum
ResultDatum(int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, isnull);
}

/* The int64 first column of every result row, as a List of palloc'd int64 in cxt. */
static List *
ResultIds(MemoryContext cxt)
{
	List	   *ids = NIL;

	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		int64	   *id = MemoryContextAlloc(cxt, sizeof(int64));
		MemoryContext old;

		*id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1,
										  &isnull));
		old = MemoryContextSwitchTo(cxt);
		ids = lappend(ids, id);
		MemoryContextSwitchTo(old);
	}
	return ids;
}

/* ---- the queue ----------------------------------------------------------------------------- */

int64
MlpRunStoreInsert(const MlpRunConfig *cfg, const char *base_model, Oid run_as)
{
	Oid			types[11] = {TEXTOID, TEXTOID, OIDOID, OIDOID, TEXTOID, TEXTOID, TEXTOID,
	TEXTOID, INT4OID, TEXTOID, INT8OID};
	Datum		values[11];
	char		nulls[11];
	bool		isnull;
	int64		run_id;

	memset(nulls, ' ', sizeof(nulls));
	values[0] = CStringGetTextDatum(cfg->model_name);
	values[1] = CStringGetTextDatum(cfg->finetune ? "finetune" : "train");
	values[2] = ObjectIdGetDatum(run_as);
	values[3] = ObjectIdGetDatum(MyDatabaseId);
	values[4] = CStringGetTextDatum(cfg->source);
	if (cfg->validation)
		values[5] = CStringGetTextDatum(cfg->validation);
	else
		nulls[5] = 'n';
	if (base_model)
		values[6] = CStringGetTextDatum(base_model);
	else
		nulls[6] = 'n';
	values[7] = CStringGetTextDatum(cfg->arch);
	values[8] = Int32GetDatum(cfg->epochs);
	values[9] = CStringGetTextDatum(MlpRunConfigToJson(cfg));
	values[10] = Int64GetDatum(cfg->sweep_id);
	if (cfg->sweep_id == 0)
		nulls[10] = 'n';

	MlpSpiConnect();
	ExecAsOwner("INSERT INTO " MLP_TABLE(runs) " (model_name, kind, run_as, database, "
				"source, validation, base_model, arch, epochs, config, sweep_id) "
				"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::pg_catalog.jsonb, $11) "
				"RETURNING id",
				11, types, values, nulls, false, SPI_OK_INSERT_RETURNING, false);
	if (SPI_processed != 1)
		elog(ERROR, "could not insert the run");
	run_id = DatumGetInt64(ResultDatum(1, &isnull));
	SPI_finish();
	return run_id;
}

bool
MlpRunStoreRead(int64 run_id, MlpRunRow *row)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(run_id)};
	bool		found;
	bool		isnull;

	MlpSpiConnect();
	ExecAsOwner("SELECT r.status, r.run_as, r.epochs_done, r.epochs, "
				"EXISTS (SELECT 1 FROM " MLP_TABLE(checkpoints) " c WHERE c.run_id" MLP_EQ "r.id) "
				"FROM " MLP_TABLE(runs) " r WHERE r.id" MLP_EQ "$1",
				1, types, values, NULL, false, SPI_OK_SELECT, false);
	found = SPI_processed == 1;
	if (found)
	{
		row->status = ResultText(1);
		row->run_as = DatumGetObjectId(ResultDatum(2, &isnull));
		row->epochs_done = DatumGetInt32(ResultDatum(3, &isnull));
		row->epochs = DatumGetInt32(ResultDatum(4, &isnull));
		row->has_checkpoint = DatumGetBool(ResultDatum(5, &isnull));
	}
	SPI_finish();
	return found;
}

const char *
MlpRunStoreCancel(int64 run_id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(run_id)};
	const char *was = NULL;

	MlpSpiConnect();
	/* The row lock orders us against the worker's own status changes. */
	ExecAsOwner("UPDATE " MLP_TABLE(runs) " SET "
				"status = CASE WHEN status" MLP_EQ "'queued' THEN 'canceled' ELSE status END, "
				"finished_at = CASE WHEN status" MLP_EQ "'queued' THEN pg_catalog.now() ELSE finished_at END, "
				"cancel_requested = true "
				"WHERE id" MLP_EQ "$1 AND status OPERATOR(pg_catalog.=) ANY ('{queued,running}'::pg_catalog.text[]) "
				"RETURNING status",
				1, types, values, NULL, false, SPI_OK_UPDATE_RETURNING, false);
	if (SPI_processed == 1)
		was = strcmp(ResultText(1), "running") == 0 ? "running" : "queued";
	SPI_finish();
	return was;
}

bool
MlpRunStoreRequeue(int64 run_id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(run_id)};
	bool		done;

	MlpSpiConnect();
	ExecAsOwner("UPDATE " MLP_TABLE(runs) " SET status = 'queued', error = NULL, "
				"cancel_requested = false, finished_at = NULL, worker_pid = NULL "
				"WHERE id" MLP_EQ "$1 AND status OPERATOR(pg_catalog.=) "
				"ANY ('{interrupted,failed,canceled}'::pg_catalog.text[])",
				1, types, values, NULL, false, SPI_OK_UPDATE, false);
	done = SPI_processed == 1;
	SPI_finish();
	return done;
}

List *
MlpRunStoreQueued(void)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(MyDatabaseId)};
	MemoryContext caller = CurrentMemoryContext;
	List	   *ids;

	MlpSpiConnect();
	/* valid on every version: the upgrade script posts the runs queued before it */
	ExecAsOwner("SELECT id FROM " MLP_TABLE(runs) " WHERE status" MLP_EQ "'queued' "
				"AND database" MLP_EQ "$1 ORDER BY id",
				1, types, values, NULL, true, SPI_OK_SELECT, true);
	ids = ResultIds(caller);
	SPI_finish();
	return ids;
}

/* ---- sweeps --------------------------------------------------------------------------------- */

int64
MlpRunStoreInsertSweep(const MlpSweepDefinition *def, Oid owner)
{
	Oid			types[9] = {TEXTOID, OIDOID, TEXTOID, TEXTOID, INT4OID, INT8OID, TEXTOID, INT4OID,
	TEXTARRAYOID};
	Datum		values[9];
	char		nulls[9];
	bool		isnull;
	int64		id;

	memset(nulls, ' ', sizeof(nulls));
	values[0] = CStringGetTextDatum(def->name);
	values[1] = ObjectIdGetDatum(owner);
	values[2] = CStringGetTextDatum(def->source);
	values[3] = CStringGetTextDatum(def->grid);
	values[4] = Int32GetDatum(def->trials);
	if (def->trials == 0)
		nulls[4] = 'n';
	values[5] = Int64GetDatum(def->trials_seed);
	values[6] = CStringGetTextDatum(def->arguments);
	values[7] = Int32GetDatum(def->runs);
	values[8] = def->servers;
	if (def->servers == (Datum) 0)
		nulls[8] = 'n';

	MlpSpiConnect();
	ExecAsOwner("INSERT INTO " MLP_TABLE(sweep_definitions) " (name, owner, source, grid, "
				"trials, trials_seed, arguments, runs, servers) VALUES ($1, $2, $3, $4::pg_catalog.jsonb, "
				"$5, $6, $7::pg_catalog.jsonb, $8, $9) RETURNING id",
				9, types, values, nulls, false, SPI_OK_INSERT_RETURNING, false);
	if (SPI_processed != 1)
		elog(ERROR, "could not insert the sweep");
	id = DatumGetInt64(ResultDatum(1, &isnull));
	SPI_finish();
	return id;
}

bool
MlpRunStoreFindSweep(const MlpSweepDefinition *def, int64 *id, Oid *owner, bool *same)
{
	Oid			types[7] = {TEXTOID, TEXTOID, TEXTOID, INT4OID, INT8OID, TEXTOID, TEXTARRAYOID};
	Datum		values[7];
	char		nulls[7];
	bool		isnull;
	bool		found;

	memset(nulls, ' ', sizeof(nulls));
	values[0] = CStringGetTextDatum(def->name);
	values[1] = CStringGetTextDatum(def->source);
	values[2] = CStringGetTextDatum(def->grid);
	values[3] = Int32GetDatum(def->trials);
	if (def->trials == 0)
		nulls[3] = 'n';
	values[4] = Int64GetDatum(def->trials_seed);
	values[5] = CStringGetTextDatum(def->arguments);
	values[6] = def->servers;
	nulls[6] = def->servers == (Datum) 0 ? 'n' : ' ';

	MlpSpiConnect();
	ExecAsOwner("SELECT id, owner, source" MLP_EQ "$2 AND grid" MLP_EQ "$3::pg_catalog.jsonb "
				"AND trials IS NOT DISTINCT FROM $4 AND trials_seed" MLP_EQ "$5 "
				"AND arguments" MLP_EQ "$6::pg_catalog.jsonb AND servers IS NOT DISTINCT FROM $7 "
				"FROM " MLP_TABLE(sweep_definitions) " WHERE name" MLP_EQ "$1",
				7, types, values, nulls, true, SPI_OK_SELECT, false);
	found = SPI_processed == 1;
	if (found)
	{
		*id = DatumGetInt64(ResultDatum(1, &isnull));
		*owner = DatumGetObjectId(ResultDatum(2, &isnull));
		*same = DatumGetBool(ResultDatum(3, &isnull));
	}
	SPI_finish();
	return found;
}

bool
MlpRunStoreReadSweep(int64 sweep_id, Oid *owner, char **status, char **name, bool *remote)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(sweep_id)};
	bool		isnull;
	bool		found;

	MlpSpiConnect();
	/* the view derives the status; as the owner it counts every run of the sweep */
	ExecAsOwner("SELECT d.owner, s.status, d.name, d.servers IS NOT NULL FROM " MLP_TABLE(sweep_definitions) " d "
				"JOIN " MLP_TABLE(sweeps) " s ON s.id" MLP_EQ "d.id WHERE d.id" MLP_EQ "$1",
				1, types, values, NULL, false, SPI_OK_SELECT, false);
	found = SPI_processed == 1;
	if (found)
	{
		*owner = DatumGetObjectId(ResultDatum(1, &isnull));
		*status = ResultText(2);
		*name = ResultText(3);
		*remote = DatumGetBool(ResultDatum(4, &isnull));
	}
	SPI_finish();
	return found;
}

List *
MlpRunStoreSweepResumableRuns(int64 sweep_id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(sweep_id)};
	MemoryContext caller = CurrentMemoryContext;
	List	   *ids;

	MlpSpiConnect();
	ExecAsOwner("SELECT id FROM " MLP_TABLE(runs) " WHERE sweep_id" MLP_EQ "$1 AND status "
				"OPERATOR(pg_catalog.=) ANY ('{interrupted,failed,canceled}'::pg_catalog.text[]) "
				"AND epochs_done" MLP_LT "epochs ORDER BY id",
				1, types, values, NULL, false, SPI_OK_SELECT, false);
	ids = ResultIds(caller);
	SPI_finish();
	return ids;
}

List *
MlpRunStoreSweepActiveRuns(int64 sweep_id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(sweep_id)};
	MemoryContext caller = CurrentMemoryContext;
	List	   *ids;

	MlpSpiConnect();
	ExecAsOwner("SELECT id FROM " MLP_TABLE(runs) " WHERE sweep_id" MLP_EQ "$1 "
				"AND status OPERATOR(pg_catalog.=) ANY ('{queued,running}'::pg_catalog.text[]) ORDER BY id",
				1, types, values, NULL, false, SPI_OK_SELECT, false);
	ids = ResultIds(caller);
	SPI_finish();
	return ids;
}

/* ---- the training worker ------------------------------------------------------------------- */

bool
MlpRunStoreClaim(int64 run_id, int pid, MemoryContext cxt, MlpRunConfig *cfg, Oid *run_as,
				 int *epochs_done, Jsonb **config)
{
	Oid			types[2] = {INT8OID, INT4OID};
	Datum		values[2] = {Int64GetDatum(run_id), Int32GetDatum(pid)};
	bool		claimed;

	MlpSpiConnect();
	ExecAsOwner("UPDATE " MLP_TABLE(runs) " SET status = 'running', worker_pid = $2, error = NULL, "
				"started_at = coalesce(started_at, pg_catalog.now()), finished_at = NULL "
				"WHERE id" MLP_EQ "$1 AND status" MLP_EQ "'queued' "
				"RETURNING model_name, kind, run_as, source, validation, arch, epochs, "
				"epochs_done, config",
				2, types, values, NULL, false, SPI_OK_UPDATE_RETURNING, false);
	claimed = SPI_processed == 1;
	if (claimed)
	{
		bool		isnull;
		MemoryContext old = MemoryContextSwitchTo(cxt);
		char	   *v;

		cfg->model_name = pstrdup(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
		cfg->finetune = strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2),
							   "finetune") == 0;
		*run_as = DatumGetObjectId(ResultDatum(3, &isnull));
		cfg->source = pstrdup(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4));
		v = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5);
		cfg->validation = v ? pstrdup(v) : NULL;
		cfg->arch = pstrdup(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 6));
		cfg->epochs = DatumGetInt32(ResultDatum(7, &isnull));
		*epochs_done = DatumGetInt32(ResultDatum(8, &isnull));
		*config = DatumGetJsonbPCopy(ResultDatum(9, &isnull));
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return claimed;
}

void
MlpRunStoreRecordSizes(int64 run_id, int64 params, double flops_per_image, int64 train_rows,
					   int64 val_rows, bool has_val, int64 stream_window_rows)
{
	Oid			types[6] = {INT8OID, INT8OID, FLOAT8OID, INT8OID, INT8OID, INT8OID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};

	values[0] = Int64GetDatum(run_id);
	values[1] = Int64GetDatum(params);
	values[2] = Float8GetDatum(flops_per_image);
	values[3] = Int64GetDatum(train_rows);
	values[4] = Int64GetDatum(val_rows);
	values[5] = Int64GetDatum(stream_window_rows);
	if (!has_val)
		nulls[4] = 'n';
	MlpSpiConnect();
	/* a resumed run decides again: the keys say how its last worker read the data */
	ExecAsOwner("UPDATE " MLP_TABLE(runs) " SET params = $2, flops_per_image = $3, train_rows = $4, "
				"validation_rows = $5, config = CASE WHEN $6 OPERATOR(pg_catalog.>) 0 "
				"THEN config OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object("
				"'streamed', true, 'stream_window_rows', $6) "
				"ELSE config OPERATOR(pg_catalog.-) "
				"ARRAY['streamed', 'stream_window_rows']::pg_catalog.text[] END "
				"WHERE id" MLP_EQ "$1",
				6, types, values, nulls, false, SPI_OK_UPDATE, false);
	SPI_finish();
}

void
MlpRunStoreCommitEpoch(int64 run_id, const MlpEpochRow *e, bytea *state, int best_epoch,
					   bool keep_best)
{
	Oid			etypes[12] = {INT8OID, INT4OID, FLOAT8OID, FLOAT8OID, FLOAT8OID, FLOAT8OID,
	FLOAT8OID, FLOAT8OID, INT8OID, FLOAT8OID, FLOAT8OID, FLOAT8OID};
	Datum		evalues[12];
	char		enulls[12];
	Oid			ctypes[4] = {INT8OID, INT4OID, BYTEAOID, INT4OID};
	Datum		cvalues[4];
	char		cnulls[4] = {' ', ' ', ' ', ' '};
	Oid			rtypes[5] = {INT8OID, INT4OID, INT4OID, INT8OID, INT8OID};
	Datum		rvalues[5];
	char		rnulls[5] = {' ', ' ', ' ', ' ', ' '};

	memset(enulls, ' ', sizeof(enulls));
	evalues[0] = Int64GetDatum(run_id);
	evalues[1] = Int32GetDatum(e->epoch);
	evalues[2] = Float8GetDatum(e->train_loss);
	evalues[3] = Float8GetDatum(e->train_accuracy);
	evalues[4] = Float8GetDatum(e->val_loss);
	evalues[5] = Float8GetDatum(e->val_accuracy);
	evalues[6] = Float8GetDatum(e->val_top5);
	if (!e->has_val)
		enulls[4] = enulls[5] = enulls[6] = 'n';
	evalues[7] = Float8GetDatum(e->images_per_second);
	evalues[8] = Int64GetDatum(e->examples_seen);
	evalues[9] = Float8GetDatum(e->cumulative_flops);
	evalues[10] = Float8GetDatum(e->lr);
	evalues[11] = Float8GetDatum(e->seconds);
	cvalues[0] = Int64GetDatum(run_id);
	cvalues[1] = Int32GetDatum(e->epoch);
	cvalues[2] = PointerGetDatum(state);
	cvalues[3] = Int32GetDatum(best_epoch);
	if (!keep_best || best_epoch <= 0)
		cnulls[3] = 'n';
	rvalues[0] = Int64GetDatum(run_id);
	rvalues[1] = Int32GetDatum(e->epoch);
	rvalues[2] = Int32GetDatum(best_epoch);
	if (best_epoch <= 0)
		rnulls[2] = 'n';
	rvalues[3] = Int64GetDatum(e->peak_memory_bytes);
	rvalues[4] = Int64GetDatum(e->base_memory_bytes);

	MlpSpiConnect();
	/* A resumed run may redo an epoch whose row a crash left behind. */
	ExecAsOwner("INSERT INTO " MLP_TABLE(epochs) " (run_id, epoch, train_loss, train_accuracy, "
				"val_loss, val_accuracy, val_top5, images_per_second, examples_seen, "
				"cumulative_flops, lr, seconds) "
				"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) "
				"ON CONFLICT (run_id, epoch) DO UPDATE SET train_loss = EXCLUDED.train_loss, "
				"train_accuracy = EXCLUDED.train_accuracy, val_loss = EXCLUDED.val_loss, "
				"val_accuracy = EXCLUDED.val_accuracy, val_top5 = EXCLUDED.val_top5, "
				"images_per_second = EXCLUDED.images_per_second, "
				"examples_seen = EXCLUDED.examples_seen, "
				"cumulative_flops = EXCLUDED.cumulative_flops, lr = EXCLUDED.lr, "
				"seconds = EXCLUDED.seconds, finished_at = pg_catalog.now()",
				12, etypes, evalues, enulls, false, SPI_OK_INSERT, false);

	/*
	 * early_stop: while the newest state is the best, best_state is null and best_epoch is
	 * the checkpoint's own epoch; the first epoch that is not better moves that state aside
	 * into best_state before it is replaced (one copy of it in memory, as many as the insert
	 * makes of the new one), and a better epoch drops it again.  So improving epochs write
	 * nothing more, and the best state is always in the table with its epoch.
	 */
	if (keep_best && best_epoch != e->epoch)
		ExecAsOwner("UPDATE " MLP_TABLE(checkpoints) " SET best_state = state "
					"WHERE run_id" MLP_EQ "$1 AND best_state IS NULL AND best_epoch" MLP_EQ "epochs_done",
					1, ctypes, cvalues, NULL, false, SPI_OK_UPDATE, false);
	ExecAsOwner("INSERT INTO " MLP_TABLE(checkpoints) " (run_id, epochs_done, state, best_epoch) "
				"VALUES ($1, $2, $3, $4) "
				"ON CONFLICT (run_id) DO UPDATE SET "
				"epochs_done = EXCLUDED.epochs_done, state = EXCLUDED.state, "
				"best_epoch = EXCLUDED.best_epoch, "
				"best_state = CASE WHEN EXCLUDED.best_epoch" MLP_EQ "EXCLUDED.epochs_done THEN NULL "
				"ELSE " MLP_TABLE(checkpoints) ".best_state END, "
				"saved_at = pg_catalog.now()",
				4, ctypes, cvalues, cnulls, false, SPI_OK_INSERT, false);
	/* the memory the worker really held, beside the budget it was planned for */
	ExecAsOwner("UPDATE " MLP_TABLE(runs) " SET epochs_done = $2, best_epoch = $3, "
				"config = config OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object("
				"'peak_memory_bytes', $4, 'base_memory_bytes', $5) WHERE id" MLP_EQ "$1",
				5, rtypes, rvalues, rnulls, false, SPI_OK_UPDATE, false);
	SPI_finish();
}

/*
 * The checkpoint's state, or its best epoch's (best_state, or state itself while that is
 * the best), while it is read, and the examples seen by then.
 */
static bool
ReadState(int64 run_id, bool best,
		  void (*use) (const uint8_t *state, size_t len, int64 examples_seen, void *arg),
		  void *arg)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(run_id)};
	bool		found = false;

	MlpSpiConnect();
	if (best)
		ExecAsOwner("SELECT coalesce(c.best_state, c.state), (SELECT e.examples_seen FROM " MLP_TABLE(epochs) " e "
					"WHERE e.run_id" MLP_EQ "c.run_id AND e.epoch" MLP_EQ "c.best_epoch) "
					"FROM " MLP_TABLE(checkpoints) " c WHERE c.run_id" MLP_EQ "$1 AND c.best_epoch IS NOT NULL",
					1, types, values, NULL, true, SPI_OK_SELECT, false);
	else
		ExecAsOwner("SELECT c.state, (SELECT e.examples_seen FROM " MLP_TABLE(epochs) " e "
					"WHERE e.run_id" MLP_EQ "c.run_id AND e.epoch" MLP_EQ "c.epochs_done) "
					"FROM " MLP_TABLE(checkpoints) " c WHERE c.run_id" MLP_EQ "$1",
					1, types, values, NULL, true, SPI_OK_SELECT, false);
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = ResultDatum(1, &isnull);

		found = !isnull;
		if (found)
		{
			bytea	   *state = DatumGetByteaPP(d);
			Datum		seen = ResultDatum(2, &isnull);

			use((const uint8_t *) VARDATA_ANY(state), VARSIZE_ANY_EXHDR(state),
				isnull ? 0 : DatumGetInt64(seen), arg);
		}
	}
	SPI_finish();
	return found;
}

bool
MlpRunStoreReadCheckpoint(int64 run_id,
						  void (*use) (const uint8_t *state, size_t len, int64 examples_seen,
									   void *arg),
						  void *arg)
{
	return ReadState(run_id, false, use, arg);
}

bool
MlpRunStoreReadBestState(int64 run_id,
						 void (*use) (const uint8_t *state, size_t len, int64 examples_seen,
									  void *arg),
						 void *arg)
{
	return ReadState(run_id, true, use, arg);
}

bool
MlpRunStoreBestEpoch(int64 run_id, int epochs_done, int *epoch, double *val_loss)
{
	Oid			types[2] = {INT8OID, INT4OID};
	Datum		values[2] = {Int64GetDatum(run_id), Int32GetDatum(epochs_done)};
	bool		found;

	MlpSpiConnect();
	/* float8 sorts NaN after every number, as the worker's comparison does */
	ExecAsOwner("SELECT epoch, val_loss FROM " MLP_TABLE(epochs) " WHERE run_id" MLP_EQ "$1 "
				"AND $2" MLP_GE "epoch AND val_loss IS NOT NULL ORDER BY val_loss, epoch LIMIT 1",
				2, types, values, NULL, true, SPI_OK_SELECT, false);
	found = SPI_processed == 1;
	if (found)
	{
		bool		isnull;

		*epoch = DatumGetInt32(ResultDatum(1, &isnull));
		*val_loss = DatumGetFloat8(ResultDatum(2, &isnull));
	}
	SPI_finish();
	return found;
}

void
MlpRunStoreRewind(int64 run_id, int epochs_done)
{
	Oid			types[2] = {INT8OID, INT4OID};
	Datum		values[2] = {Int64GetDatum(run_id), Int32GetDatum(epochs_done)};

	MlpSpiConnect();
	ExecAsOwner("DELETE FROM " MLP_TABLE(epochs) " WHERE run_id" MLP_EQ "$1 AND epoch" MLP_GT "$2",
				2, types, values, NULL, false, SPI_OK_DELETE, false);
	ExecAsOwner("UPDATE " MLP_TABLE(runs) " SET epochs_done = $2 WHERE id" MLP_EQ "$1",
				2, types, values, NULL, false, SPI_OK_UPDATE, false);
	SPI_finish();
}

void
MlpRunStoreFinish(int64 run_id, const char *status, const char *error, int64 model_id)
{
	Oid			types[4] = {INT8OID, TEXTOID, TEXTOID, INT8OID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};

	values[0] = Int64GetDatum(run_id);
	values[1] = CStringGetTextDatum(status);
	if (error)
		values[2] = CStringGetTextDatum(error);
	else
		nulls[2] = 'n';
	values[3] = Int64GetDatum(model_id);
	if (model_id == 0)
		nulls[3] = 'n';
	MlpSpiConnect();
	ExecAsOwner("UPDATE " MLP_TABLE(runs) " SET status = $2, error = $3, "
				"model_id = coalesce($4, model_id), finished_at = pg_catalog.now(), worker_pid = NULL "
				"WHERE id" MLP_EQ "$1",
				4, types, values, nulls, false, SPI_OK_UPDATE, false);
	SPI_finish();
}

bool
MlpRunStoreCancelRequested(int64 run_id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(run_id)};
	bool		result = true;	/* the row has gone: nothing to train for */

	MlpSpiConnect();
	ExecAsOwner("SELECT cancel_requested FROM " MLP_TABLE(runs) " WHERE id" MLP_EQ "$1",
				1, types, values, NULL, true, SPI_OK_SELECT, false);
	if (SPI_processed == 1)
	{
		bool		isnull;

		result = DatumGetBool(ResultDatum(1, &isnull));
	}
	SPI_finish();
	return result;
}

/* ---- the sweeper ----------------------------------------------------------------------------- */

uint64
MlpRunStoreInterruptOrphan(int64 run_id, int worker_pid)
{
	Oid			types[2] = {INT8OID, INT4OID};
	Datum		values[2] = {Int64GetDatum(run_id), Int32GetDatum(worker_pid)};
	uint64		n;

	MlpSpiConnect();
	ExecAsOwner("UPDATE " MLP_TABLE(runs) " SET status = 'interrupted', "
				"worker_pid = NULL, finished_at = pg_catalog.now(), "
				"error = 'the training worker exited unexpectedly; see the server log' "
				"WHERE id" MLP_EQ "$1 AND status" MLP_EQ "'running' AND worker_pid" MLP_EQ "$2",
				2, types, values, NULL, false, SPI_OK_UPDATE, true);
	n = SPI_processed;
	SPI_finish();
	return n;
}

uint64
MlpRunStoreInterruptRunning(void)
{
	uint64		n;

	MlpSpiConnect();
	ExecAsOwner("UPDATE " MLP_TABLE(runs) " SET status = 'interrupted', worker_pid = NULL, "
				"finished_at = pg_catalog.now(), "
				"error = 'the server stopped while the run was running' "
				"WHERE status" MLP_EQ "'running'",
				0, NULL, NULL, NULL, false, SPI_OK_UPDATE, true);
	n = SPI_processed;
	SPI_finish();
	return n;
}
