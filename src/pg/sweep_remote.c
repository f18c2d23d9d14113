/*
 * sweep_remote.c - sweeps spread over servers: mlp_sweep(..., servers), and the remote side
 * of mlp_wait_sweep, mlp_cancel_sweep, mlp_resume_sweep and mlp_sweep_results.
 *
 * Each run is queued on one server, round robin over the list, by that server's own
 * mlp_train (so its source is resolved there, as the mapping's role), in a remote
 * transaction that commits when the caller's transaction commits (at PRE_COMMIT, as
 * postgres_fdw does) and rolls back when it aborts: a rolled-back mlp_sweep leaves no runs
 * anywhere.  The coordinator keeps one row per run in mlpscale.sweep_remote_runs: where it
 * went, the statement that queued it (to queue it again on another server) and its status as
 * last read from there; a server that cannot be reached marks its unfinished runs
 * 'unreachable', which mlp_resume_sweep can queue again there or elsewhere.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "libpq-fe.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/datum.h"
#include "utils/tuplestore.h"

#include "mlpscale.h"
#include "privilege.h"
#include "remote.h"
#include "sql_values.h"
#include "sweep_remote.h"

/* ---- remote transactions that end with the local one ------------------------------------ */

typedef struct OpenServer
{
	char	   *name;
	PGconn	   *conn;
	char	   *schema;
} OpenServer;

static List *open_servers = NIL;	/* in TopMemoryContext */
static bool callback_registered = false;

static void
CloseAll(void)
{
	ListCell   *lc;

	foreach(lc, open_servers)
		PQfinish(((OpenServer *) lfirst(lc))->conn);
	list_free_deep(open_servers);
	open_servers = NIL;
}

static void
RemoteXactCallback(XactEvent event, void *arg)
{
	ListCell   *lc;

	if (open_servers == NIL)
		return;
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PARALLEL_PRE_COMMIT:
			/* an error here aborts the local transaction; servers committed before stay */
			foreach(lc, open_servers)
			{
				OpenServer *s = lfirst(lc);

				PQclear(MlpRemoteExec(s->conn, s->name, "COMMIT", 0, NULL, NULL, NULL,
									  PGRES_COMMAND_OK));
			}
			CloseAll();
			break;
		case XACT_EVENT_PRE_PREPARE:
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot prepare a transaction that queued runs on other servers")));
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			/* closing a connection rolls its open transaction back */
			CloseAll();
			break;
		default:
			break;
	}
}

/* The server's connection in this transaction, with a remote transaction open. */
static OpenServer *
ServerInTransaction(const char *name)
{
	ListCell   *lc;
	OpenServer *s;
	MemoryContext old;
	PGconn	   *conn;

	foreach(lc, open_servers)
		if (strcmp(((OpenServer *) lfirst(lc))->name, name) == 0)
			return lfirst(lc);
	if (!callback_registered)
	{
		RegisterXactCallback(RemoteXactCallback, NULL);
		callback_registered = true;
	}
	conn = MlpRemoteConnect(name);
	old = MemoryContextSwitchTo(TopMemoryContext);
	s = palloc(sizeof(OpenServer));
	s->name = pstrdup(name);
	s->conn = conn;
	s->schema = NULL;
	open_servers = lappend(open_servers, s);
	MemoryContextSwitchTo(old);
	s->schema = MemoryContextStrdup(TopMemoryContext, MlpRemoteSchema(conn, name));
	PQclear(MlpRemoteExec(conn, name, "BEGIN", 0, NULL, NULL, NULL, PGRES_COMMAND_OK));
	return s;
}

bool
MlpSweepRemotePending(void)
{
	return open_servers != NIL;
}

/* ---- queueing ---------------------------------------------------------------------------- */

static bool
IsNotRunArg(const char *name)
{
	return strcmp(name, "sweep_name") == 0 || strcmp(name, "grid") == 0 ||
		strcmp(name, "trials") == 0 || strcmp(name, "trials_seed") == 0 ||
		strcmp(name, "servers") == 0 || strcmp(name, "source") == 0;
}

/* Runs sql (with %s for the schema) with text params on s; returns the run id it gives. */
static int64
QueueOn(OpenServer *s, const char *call_sql, int nparams, const char *const *params)
{
	PGresult   *res = MlpRemoteExec(s->conn, s->name, psprintf(call_sql, s->schema), nparams,
									params, NULL, NULL, PGRES_TUPLES_OK);
	int64		id;

	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
	{
		PQclear(res);
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("server \"%s\" returned no run id", s->name)));
	}
	id = DatumGetInt64(DirectFunctionCall1(int8in, CStringGetDatum(PQgetvalue(res, 0, 0))));
	PQclear(res);
	return id;
}

static Datum
TextArrayDatum(char **items, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		d[i] = CStringGetTextDatum(items[i]);
	return PointerGetDatum(construct_array(d, n, TEXTOID, -1, false, TYPALIGN_INT));
}

static void
InsertRemoteRun(int64 sweep_id, int k, const char *server, int64 remote_id,
				const char *combination, const char *call_sql, char **params, int nparams)
{
	Oid			types[7] = {INT8OID, INT4OID, TEXTOID, INT8OID, TEXTOID, TEXTOID, TEXTARRAYOID};
	Datum		values[7];
	MlpSavedUser saved;
	int			rc;

	values[0] = Int64GetDatum(sweep_id);
	values[1] = Int32GetDatum(k);
	values[2] = CStringGetTextDatum(server);
	values[3] = Int64GetDatum(remote_id);
	values[4] = CStringGetTextDatum(combination);
	values[5] = CStringGetTextDatum(call_sql);
	values[6] = TextArrayDatum(params, nparams);
	MlpSpiConnect();
	MlpBecomeExtensionOwner(&saved);
	rc = SPI_execute_with_args("INSERT INTO " MLP_TABLE(sweep_remote_runs) " (sweep_id, k, server, "
							   "remote_run_id, combination, call_sql, call_params) "
							   "VALUES ($1, $2, $3, $4, $5::pg_catalog.jsonb, $6, $7)",
							   7, types, values, NULL, false, 0);
	MlpRestoreUser(&saved);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "recording run %d of sweep " INT64_FORMAT " failed: %s", k, sweep_id,
			 SPI_result_code_string(rc));
	SPI_finish();
}

void
MlpSweepQueueRemote(const MlpArgs *args, int64 sweep_id, const char *sweep_name, int k,
					const char *combination, const char *server)
{
	StringInfoData sql;
	char	  **params = palloc(sizeof(char *) * (args->nargs + 2));
	int			n = 0;
	OpenServer *s = ServerInTransaction(server);
	int64		remote_id;

	initStringInfo(&sql);
	params[n++] = psprintf("%s/%d", sweep_name, k);
	params[n++] = MlpArgText(args, "source");
	appendStringInfoString(&sql, "SELECT %s.mlp_train(model_name => $1::pg_catalog.text, "
						   "source => $2::pg_catalog.text");
	for (int i = 0; i < args->nargs; i++)
	{
		Oid			out;
		bool		varlena;

		if (args->names[i] == NULL || IsNotRunArg(args->names[i]) || args->nulls[i])
			continue;			/* a NULL argument is the remote default, as here */
		getTypeOutputInfo(args->types[i], &out, &varlena);
		params[n++] = OidOutputFunctionCall(out, args->values[i]);
		appendStringInfo(&sql, ", %s => $%d::%s", quote_identifier(args->names[i]), n,
						 format_type_be_qualified(args->types[i]));
	}
	appendStringInfoChar(&sql, ')');
	remote_id = QueueOn(s, sql.data, n, (const char *const *) params);
	InsertRemoteRun(sweep_id, k, server, remote_id, combination, sql.data, params, n);
}

/* ---- reading and changing the remote runs -------------------------------------------------- */

typedef struct RemoteRun
{
	int			k;
	char	   *server;
	int64		remote_id;
	char	   *status;
	char	   *call_sql;
	Datum		call_params;	/* text[] */
} RemoteRun;

/* The sweep's remote runs (as the extension owner; the caller owns the sweep). */
static List *
ReadRemoteRuns(int64 sweep_id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(sweep_id)};
	MemoryContext caller = CurrentMemoryContext;
	MlpSavedUser saved;
	List	   *runs = NIL;
	int			rc;

	MlpSpiConnect();
	MlpBecomeExtensionOwner(&saved);
	rc = SPI_execute_with_args("SELECT k, server, remote_run_id, status, call_sql, call_params FROM "
							   MLP_TABLE(sweep_remote_runs) " WHERE sweep_id" MLP_EQ "$1 ORDER BY k",
							   1, types, values, NULL, false, 0);
	MlpRestoreUser(&saved);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading the runs of sweep " INT64_FORMAT " failed", sweep_id);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	d = SPI_tuptable->tupdesc;
		MemoryContext old = MemoryContextSwitchTo(caller);
		RemoteRun  *r = palloc(sizeof(RemoteRun));
		bool		isnull;

		r->k = DatumGetInt32(SPI_getbinval(t, d, 1, &isnull));
		r->server = SPI_getvalue(t, d, 2);
		r->remote_id = DatumGetInt64(SPI_getbinval(t, d, 3, &isnull));
		r->status = SPI_getvalue(t, d, 4);
		r->call_sql = SPI_getvalue(t, d, 5);
		r->call_params = datumCopy(SPI_getbinval(t, d, 6, &isnull), false, -1);
		runs = lappend(runs, r);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return runs;
}

static void
UpdateRemoteRun(int64 sweep_id, int k, const char *status, const char *started,
				const char *finished, const char *server, int64 remote_id)
{
	Oid			types[7] = {INT8OID, INT4OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID};
	Datum		values[7];
	char		nulls[7] = "       ";
	MlpSavedUser saved;

	values[0] = Int64GetDatum(sweep_id);
	values[1] = Int32GetDatum(k);
	values[2] = CStringGetTextDatum(status);
	values[3] = started ? CStringGetTextDatum(started) : (Datum) 0;
	nulls[3] = started ? ' ' : 'n';
	values[4] = finished ? CStringGetTextDatum(finished) : (Datum) 0;
	nulls[4] = finished ? ' ' : 'n';
	values[5] = CStringGetTextDatum(server);
	values[6] = Int64GetDatum(remote_id);
	MlpSpiConnect();
	MlpBecomeExtensionOwner(&saved);
	if (SPI_execute_with_args("UPDATE " MLP_TABLE(sweep_remote_runs) " SET status = $3, "
							  "started_at = $4::pg_catalog.timestamptz, finished_at = $5::pg_catalog.timestamptz, "
							  "server = $6, remote_run_id = $7, checked_at = pg_catalog.now() "
							  "WHERE sweep_id" MLP_EQ "$1 AND k" MLP_EQ "$2",
							  7, types, values, nulls, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "updating run %d of sweep " INT64_FORMAT " failed", k, sweep_id);
	MlpRestoreUser(&saved);
	SPI_finish();
}

static bool
IsActive(const char *status)
{
	return strcmp(status, "queued") == 0 || strcmp(status, "running") == 0;
}

typedef void (*ServerFn) (PGconn *conn, const char *server, List *runs, void *arg);

/*
 * A connection to server, or NULL (with a WARNING) when it cannot be reached and
 * mark_unreachable: then the caller's subtransaction has been rolled back.
 */
static pg_noinline PGconn *
ConnectOrNull(const char *server, bool mark_unreachable, MemoryContext cxt, ResourceOwner owner)
{
	PGconn	   *volatile conn = NULL;

	PG_TRY();
	{
		conn = MlpRemoteConnect(server);
	}
	PG_CATCH();
	{
		ErrorData  *e;

		MemoryContextSwitchTo(cxt);
		e = CopyErrorData();
		if (!mark_unreachable || e->sqlerrcode != ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION)
			PG_RE_THROW();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		ereport(WARNING,
				(errmsg("server \"%s\" cannot be reached: its unfinished runs are marked unreachable",
						server),
				 errdetail_internal("%s", e->detail ? e->detail : e->message)));
	}
	PG_END_TRY();
	return conn;
}

static pg_noinline void
RunOnServer(PGconn *conn, const char *server, List *runs, ServerFn fn, void *arg)
{
	PG_TRY();
	{
		fn(conn, server, runs, arg);
	}
	PG_CATCH();
	{
		PQfinish(conn);
		PG_RE_THROW();
	}
	PG_END_TRY();
	PQfinish(conn);
}

/* The runs of one server, in a subtransaction of its own. */
static void
OneServer(int64 sweep_id, const char *server, List *runs, ServerFn fn, void *arg,
		  bool mark_unreachable)
{
	List	   *mine = NIL;
	ListCell   *lc;
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	PGconn	   *conn;

	foreach(lc, runs)
		if (strcmp(((RemoteRun *) lfirst(lc))->server, server) == 0)
			mine = lappend(mine, lfirst(lc));
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	conn = ConnectOrNull(server, mark_unreachable, cxt, owner);
	if (conn == NULL)
	{
		foreach(lc, mine)
		{
			RemoteRun  *r = lfirst(lc);

			if (IsActive(r->status))
				UpdateRemoteRun(sweep_id, r->k, "unreachable", NULL, NULL, r->server,
								r->remote_id);
		}
		return;
	}
	RunOnServer(conn, server, mine, fn, arg);
	ReleaseCurrentSubTransaction();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
}

/*
 * fn(conn, server, runs of that server, arg) for each server of runs, each in a
 * subtransaction: a server that cannot be reached marks its unfinished runs 'unreachable'
 * (when mark_unreachable), otherwise its error goes on.
 */
static void
ForEachServer(int64 sweep_id, List *runs, ServerFn fn, void *arg, bool mark_unreachable)
{
	List	   *servers = NIL;
	ListCell   *lc;

	foreach(lc, runs)
	{
		RemoteRun  *r = lfirst(lc);
		ListCell   *sc;
		bool		seen = false;

		foreach(sc, servers)
			seen |= strcmp(lfirst(sc), r->server) == 0;
		if (!seen)
			servers = lappend(servers, r->server);
	}
	foreach(lc, servers)
		OneServer(sweep_id, lfirst(lc), runs, fn, arg, mark_unreachable);
}

static char *
IdArray(List *runs)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	foreach(lc, runs)
		appendStringInfo(&buf, "%s" INT64_FORMAT, buf.len > 1 ? "," : "",
						 ((RemoteRun *) lfirst(lc))->remote_id);
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

static void
RefreshServer(PGconn *conn, const char *server, List *runs, void *arg)
{
	int64		sweep_id = *(int64 *) arg;
	const char *params[1] = {IdArray(runs)};
	PGresult   *res = MlpRemoteExec(conn, server,
									"SELECT id, status, started_at, finished_at FROM mlpscale.runs "
									"WHERE id OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.int8[])",
									1, params, NULL, NULL, PGRES_TUPLES_OK);
	ListCell   *lc;

	foreach(lc, runs)
	{
		RemoteRun  *r = lfirst(lc);
		const char *status = "unreachable";		/* the run is gone from the server */
		const char *started = NULL;
		const char *finished = NULL;

		for (int i = 0; i < PQntuples(res); i++)
			if (DatumGetInt64(DirectFunctionCall1(int8in, CStringGetDatum(PQgetvalue(res, i, 0)))) == r->remote_id)
			{
				status = PQgetvalue(res, i, 1);
				started = PQgetisnull(res, i, 2) ? NULL : PQgetvalue(res, i, 2);
				finished = PQgetisnull(res, i, 3) ? NULL : PQgetvalue(res, i, 3);
			}
		UpdateRemoteRun(sweep_id, r->k, status, started, finished, r->server, r->remote_id);
	}
	PQclear(res);
}

bool
MlpSweepRefreshRemote(int64 sweep_id)
{
	List	   *runs = ReadRemoteRuns(sweep_id);

	if (runs == NIL)
		return false;
	ForEachServer(sweep_id, runs, RefreshServer, &sweep_id, true);
	return true;
}

static void
CancelServer(PGconn *conn, const char *server, List *runs, void *arg)
{
	int		   *canceled = arg;
	char	   *sql = psprintf("SELECT %s.mlp_cancel($1::pg_catalog.int8)",
							   MlpRemoteSchema(conn, server));
	ListCell   *lc;

	foreach(lc, runs)
	{
		RemoteRun  *r = lfirst(lc);
		char		id[32];
		const char *params[1] = {id};
		PGresult   *res;

		if (!IsActive(r->status))
			continue;
		snprintf(id, sizeof(id), INT64_FORMAT, r->remote_id);
		res = MlpRemoteExec(conn, server, sql, 1, params, NULL, NULL, PGRES_TUPLES_OK);
		if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
			(*canceled)++;
		PQclear(res);
	}
}

int
MlpSweepCancelRemote(int64 sweep_id)
{
	int			canceled = 0;
	List	   *runs;

	(void) MlpSweepRefreshRemote(sweep_id);
	runs = ReadRemoteRuns(sweep_id);
	ForEachServer(sweep_id, runs, CancelServer, &canceled, true);
	(void) MlpSweepRefreshRemote(sweep_id);
	return canceled;
}

static bool
IsResumable(const char *status)
{
	return strcmp(status, "interrupted") == 0 || strcmp(status, "failed") == 0 ||
		strcmp(status, "canceled") == 0 || strcmp(status, "unreachable") == 0;
}

int
MlpSweepResumeRemote(int64 sweep_id, ArrayType *servers)
{
	List	   *runs;
	ListCell   *lc;
	int			resumed = 0;
	Datum	   *names = NULL;
	int			nservers = 0;

	(void) MlpSweepRefreshRemote(sweep_id);
	runs = ReadRemoteRuns(sweep_id);
	if (servers)
	{
		MlpArrayElements(servers, TEXTOID, "servers", &names, &nservers);
		if (nservers == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("servers must name at least one server"),
					 errhint("Pass NULL to resume the runs where they are.")));
	}
	foreach(lc, runs)
	{
		RemoteRun  *r = lfirst(lc);

		if (!IsResumable(r->status))
			continue;
		if (servers)
		{
			/* a fresh run on another server: the statement that queued this one */
			char	   *to = TextDatumGetCString(names[resumed % nservers]);
			Datum	   *pd;
			int			np;
			char	  **params;

			MlpArrayElements(DatumGetArrayTypeP(r->call_params), TEXTOID, "call_params", &pd, &np);
			params = palloc(sizeof(char *) * Max(np, 1));
			for (int i = 0; i < np; i++)
				params[i] = TextDatumGetCString(pd[i]);
			UpdateRemoteRun(sweep_id, r->k, "queued", NULL, NULL, to,
							QueueOn(ServerInTransaction(to), r->call_sql, np,
									(const char *const *) params));
		}
		else
		{
			OpenServer *s = ServerInTransaction(r->server);
			char		id[32];
			const char *params[1] = {id};

			snprintf(id, sizeof(id), INT64_FORMAT, r->remote_id);
			PQclear(MlpRemoteExec(s->conn, s->name,
								  psprintf("SELECT %s.mlp_resume($1::pg_catalog.int8)", s->schema),
								  1, params, NULL, NULL, PGRES_TUPLES_OK));
			UpdateRemoteRun(sweep_id, r->k, "queued", NULL, NULL, r->server, r->remote_id);
		}
		resumed++;
	}
	return resumed;
}

/* ---- results ------------------------------------------------------------------------------- */

typedef struct ResultsArg
{
	Tuplestorestate *store;
	TupleDesc	desc;
	AttInMetadata *meta;
	int64		sweep_id;
	const char *sweep_name;
} ResultsArg;

static void
ResultsServer(PGconn *conn, const char *server, List *runs, void *arg)
{
	ResultsArg *a = arg;
	const char *params[1] = {IdArray(runs)};
	PGresult   *res = MlpRemoteExec(conn, server,
									"SELECT * FROM mlpscale.results WHERE run_id OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.int8[]) ORDER BY run_id",
									1, params, NULL, NULL, PGRES_TUPLES_OK);
	int			natts = a->desc->natts;
	char	  **values = palloc(sizeof(char *) * natts);
	char		sweep_id[32];

	if (PQnfields(res) != natts)
	{
		PQclear(res);
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("mlpscale.results on server \"%s\" has %d columns, here %d", server,
						PQnfields(res), natts),
				 errhint("Install the same mlpscale version on every server.")));
	}
	snprintf(sweep_id, sizeof(sweep_id), INT64_FORMAT, a->sweep_id);
	for (int i = 0; i < PQntuples(res); i++)
	{
		for (int c = 0; c < natts; c++)
		{
			const char *col = NameStr(TupleDescAttr(a->desc, c)->attname);

			if (strcmp(col, "sweep_id") == 0)
				values[c] = sweep_id;
			else if (strcmp(col, "sweep") == 0)
				values[c] = (char *) a->sweep_name;
			else
				values[c] = PQgetisnull(res, i, c) ? NULL : PQgetvalue(res, i, c);
		}
		tuplestore_puttuple(a->store, BuildTupleFromCStrings(a->meta, values));
	}
	PQclear(res);
}

/* fn's rows from every server of the sweep into fcinfo's materialised result. */
static void
RemoteRowsInto(FunctionCallInfo fcinfo, int64 sweep_id, const char *sweep_name, ServerFn fn)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ResultsArg	a;

	a.store = rsinfo->setResult;
	a.desc = rsinfo->setDesc;
	a.meta = TupleDescGetAttInMetadata(rsinfo->setDesc);
	a.sweep_id = sweep_id;
	a.sweep_name = sweep_name;
	ForEachServer(sweep_id, ReadRemoteRuns(sweep_id), fn, &a, false);
}

void
MlpSweepResultsRemote(FunctionCallInfo fcinfo, int64 sweep_id, const char *sweep_name)
{
	RemoteRowsInto(fcinfo, sweep_id, sweep_name, ResultsServer);
}

/* ---- epochs -------------------------------------------------------------------------------- */

#define EPOCH_COLUMNS "e.epoch, e.train_loss, e.train_accuracy, e.val_loss, e.val_accuracy, " \
	"e.val_top5, e.examples_seen, e.cumulative_flops, e.seconds"

static void
EpochsServer(PGconn *conn, const char *server, List *runs, void *arg)
{
	ResultsArg *a = arg;
	const char *params[1] = {IdArray(runs)};
	PGresult   *res = MlpRemoteExec(conn, server,
									"SELECT r.id, " EPOCH_COLUMNS " FROM mlpscale.epochs e "
									"JOIN mlpscale.runs r ON r.id OPERATOR(pg_catalog.=) e.run_id "
									"WHERE r.id OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.int8[]) ORDER BY r.id, e.epoch",
									1, params, NULL, NULL, PGRES_TUPLES_OK);
	int			natts = a->desc->natts;	/* k, server, run_id, then the epoch columns */
	char	  **values = palloc(sizeof(char *) * natts);

	for (int i = 0; i < PQntuples(res); i++)
	{
		int64		id = DatumGetInt64(DirectFunctionCall1(int8in, CStringGetDatum(PQgetvalue(res, i, 0))));
		ListCell   *lc;

		values[0] = NULL;
		foreach(lc, runs)
			if (((RemoteRun *) lfirst(lc))->remote_id == id)
				values[0] = psprintf("%d", ((RemoteRun *) lfirst(lc))->k);
		values[1] = (char *) server;
		for (int c = 0; c < PQnfields(res) && c + 2 < natts; c++)
			values[c + 2] = PQgetisnull(res, i, c) ? NULL : PQgetvalue(res, i, c);
		tuplestore_puttuple(a->store, BuildTupleFromCStrings(a->meta, values));
	}
	PQclear(res);
}

void
MlpSweepEpochsRemote(FunctionCallInfo fcinfo, int64 sweep_id)
{
	RemoteRowsInto(fcinfo, sweep_id, NULL, EpochsServer);
}
