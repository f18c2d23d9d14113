/*
 * sweep.c - mlp_sweep, mlp_wait_sweep and mlp_cancel_sweep: a grid of training runs queued,
 * waited for and canceled as one.
 *
 * A sweep is a row of mlpscale.sweep_definitions and the runs that point to it (runs.sweep_id);
 * its status is derived from theirs by the view mlpscale.sweeps.  Each run is checked and
 * queued by mlp_train's own code (MlpQueueTrainRun) on a copy of mlp_sweep's arguments, whose
 * names are mlp_train's, with the grid's values set in it: a sweep accepts exactly what
 * mlp_train accepts.  Everything happens in the caller's transaction, so an error in any
 * combination queues nothing.
 */
#include "postgres.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "executor/spi.h"
#include "funcapi.h"

#include "core/rng.h"
#include "foreign/foreign.h"
#include "launcher.h"
#include "mlpscale.h"
#include "model_store.h"
#include "privilege.h"
#include "run_queue.h"
#include "run_store.h"
#include "sql_values.h"
#include "sweep_remote.h"

/* More runs than this in one sweep is a mistake in the grid, not a study. */
#define MLP_MAX_SWEEP_RUNS	10000
#define MLP_SWEEP_POLL_MS	200
/* The RNG stream of the trials draw (the seed is trials_seed). */
#define MLP_SWEEP_TRIALS_STREAM 0x5357454550ULL

/* mlp_sweep's own arguments; every other one is mlp_train's. */
static const char *const sweep_only_args[] = {"sweep_name", "grid", "trials", "trials_seed",
"servers"};

typedef struct GridKey
{
	const char *name;
	Oid			type;
	int			count;
	Datum	   *values;
	bool	   *nulls;
	char	  **texts;			/* each value as JSON, for messages */
} GridKey;

static bool
IsSweepOnlyArg(const char *name)
{
	for (int i = 0; i < lengthof(sweep_only_args); i++)
		if (strcmp(name, sweep_only_args[i]) == 0)
			return true;
	return false;
}

/* The keys a grid may have, for hints: mlp_train's arguments except source. */
static char *
GridKeyList(const MlpArgs *args)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < args->nargs; i++)
	{
		const char *n = args->names[i];

		if (n == NULL || IsSweepOnlyArg(n) || strcmp(n, "source") == 0)
			continue;
		appendStringInfo(&buf, "%s%s", buf.len ? ", " : "", n);
	}
	return buf.data;
}

static char *
JsonbValueText(JsonbValue *v)
{
	Jsonb	   *j = JsonbValueToJsonb(v);

	return JsonbToCString(NULL, &j->root, VARSIZE(j));
}

static void
BadGridValue(const char *key, const char *text, const char *want)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("grid key \"%s\": value %s is not %s", key, text, want)));
}

/* An integer JSON number (no fraction, within [lo, hi]) from its text. */
static int64
IntegerOf(const char *key, const char *text, int64 lo, int64 hi)
{
	char	   *end;
	long long	v;

	errno = 0;
	v = strtoll(text, &end, 10);
	if (*end == '.')			/* 5.0 is 5; 5.5 is not an integer */
	{
		for (end++; *end == '0'; end++)
			;
	}
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		BadGridValue(key, text, psprintf("an integer between " INT64_FORMAT " and " INT64_FORMAT,
										 lo, hi));
	return (int64) v;
}

static float
RealOf(const char *key, JsonbValue *v, const char *text)
{
	double		d;

	if (v->type != jbvNumeric)
		BadGridValue(key, text, "a number");
	d = DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric)));
	if (!isfinite(d) || fabs(d) > FLT_MAX)
		BadGridValue(key, text, "a number within the range of real");
	return (float) d;
}

/* One value of the grid as a Datum of the argument's SQL type. */
static void
GridDatum(const char *key, Oid type, JsonbValue *v, const char *text, Datum *value,
		  bool *isnull)
{
	*isnull = false;
	if (v->type == jbvNull)
	{
		*isnull = true;			/* the argument's NULL: checked like mlp_train's */
		*value = (Datum) 0;
		return;
	}
	switch (type)
	{
		case TEXTOID:
			if (v->type != jbvString)
				BadGridValue(key, text, "a string");
			*value = PointerGetDatum(cstring_to_text_with_len(v->val.string.val,
															  v->val.string.len));
			break;
		case BOOLOID:
			if (v->type != jbvBool)
				BadGridValue(key, text, "true or false");
			*value = BoolGetDatum(v->val.boolean);
			break;
		case INT4OID:
		case INT8OID:
			if (v->type != jbvNumeric)
				BadGridValue(key, text, "a number");
			{
				int64		i = IntegerOf(key, text, type == INT4OID ? INT_MIN : PG_INT64_MIN,
										  type == INT4OID ? INT_MAX : PG_INT64_MAX);

				*value = type == INT4OID ? Int32GetDatum((int32) i) : Int64GetDatum(i);
			}
			break;
		case FLOAT4OID:
			*value = Float4GetDatum(RealOf(key, v, text));
			break;
		case FLOAT4ARRAYOID:
			{
				JsonbIterator *it;
				JsonbValue	elem;
				JsonbIteratorToken tok;
				Datum	   *elems;
				int			n = 0;

				if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
					BadGridValue(key, text, "an array of numbers");
				elems = palloc(sizeof(Datum) * (JsonContainerSize(v->val.binary.data) + 1));
				it = JsonbIteratorInit(v->val.binary.data);
				while ((tok = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE)
					if (tok == WJB_ELEM)
						elems[n++] = Float4GetDatum(RealOf(key, &elem, text));
				*value = PointerGetDatum(construct_array(elems, n, FLOAT4OID, sizeof(float4),
														 true, TYPALIGN_INT));
				break;
			}
		default:
			elog(ERROR, "mlp_sweep: argument \"%s\" has a type the grid cannot hold", key);
	}
}

/* The grid's keys and values, checked for shape and type; returns how many keys. */
static int
ParseGrid(Jsonb *grid, const MlpArgs *args, GridKey **keys_out)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	GridKey    *keys;
	int			nkeys = 0;

	if (!JB_ROOT_IS_OBJECT(grid) || JB_ROOT_IS_SCALAR(grid))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("grid must be a JSON object of argument names to lists of values"),
				 errhint("For example '{\"arch\": [\"B_4-Wi_128\", \"B_4-Wi_256\"], \"batch_size\": [256, 1024]}'.")));
	keys = palloc0(sizeof(GridKey) * (JsonContainerSize(&grid->root) + 1));
	it = JsonbIteratorInit(&grid->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		GridKey    *k;
		char	   *name;
		int			argno = -1;

		if (tok != WJB_KEY)
			continue;
		name = pnstrdup(v.val.string.val, v.val.string.len);
		for (int i = 0; i < args->nargs; i++)
			if (args->names[i] && strcmp(args->names[i], name) == 0 && !IsSweepOnlyArg(name))
				argno = i;
		if (strcmp(name, "source") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("grid key \"source\" is not allowed: a sweep trains on its source argument"),
					 errhint("Vary the data with train_size, or call mlp_sweep once per source.")));
		if (strcmp(name, "model_name") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("grid key \"model_name\" is not allowed: run k of sweep s makes the model 's/k'")));
		if (argno < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown grid key \"%s\"", name),
					 errhint("Grid keys are arguments of mlp_train: %s.", GridKeyList(args))));

		tok = JsonbIteratorNext(&it, &v, true);
		k = &keys[nkeys++];
		k->name = name;
		k->type = args->types[argno];
		if (v.type != jbvBinary || !JsonContainerIsArray(v.val.binary.data) ||
			JsonContainerSize(v.val.binary.data) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("grid key \"%s\" must be a non-empty JSON array of values, not %s",
							name, JsonbValueText(&v))));
		k->count = JsonContainerSize(v.val.binary.data);
		k->values = palloc(sizeof(Datum) * k->count);
		k->nulls = palloc(sizeof(bool) * k->count);
		k->texts = palloc(sizeof(char *) * k->count);
		{
			JsonbIterator *ait = JsonbIteratorInit(v.val.binary.data);
			JsonbValue	elem;
			int			n = 0;

			while ((tok = JsonbIteratorNext(&ait, &elem, true)) != WJB_DONE)
			{
				if (tok != WJB_ELEM)
					continue;
				k->texts[n] = JsonbValueText(&elem);
				for (int j = 0; j < n; j++)
					if (strcmp(k->texts[j], k->texts[n]) == 0)
						ereport(ERROR,
								(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
								 errmsg("grid key \"%s\" lists %s twice", name, k->texts[n])));
				GridDatum(name, k->type, &elem, k->texts[n], &k->values[n], &k->nulls[n]);
				n++;
			}
		}
	}
	if (nkeys == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("grid must have at least one key"),
				 errhint("For one run, call mlp_train.")));
	*keys_out = keys;
	return nkeys;
}

/* One value of one key, checked on its own; its errors name the key and the value. */
static void
CheckGridValue(const MlpArgs *base, const GridKey *key, int i, const char *sweep_name)
{
	MemoryContext cxt = CurrentMemoryContext;
	MlpArgs		args;

	MlpArgsCopy(&args, base);
	MlpArgSet(&args, key->name, key->values[i], key->nulls[i]);
	PG_TRY();
	{
		(void) MlpQueueTrainRun(&args, sweep_name, 0, true);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		edata->message = psprintf("grid key \"%s\", value %s: %s", key->name, key->texts[i],
								  edata->message);
		ReThrowError(edata);
	}
	PG_END_TRY();
}

/*
 * Each value of each key on its own, checked as mlp_train checks its arguments (no SQL), so
 * that a value one run would refuse is named with its key.
 */
static void
CheckGridValues(const MlpArgs *base, const GridKey *keys, int nkeys, const char *sweep_name)
{
	for (int k = 0; k < nkeys; k++)
		for (int i = 0; i < keys[k].count; i++)
			CheckGridValue(base, &keys[k], i, sweep_name);
}

/* A Datum of an argument as JSON, for the sweep's stored arguments. */
static void
AppendArgJson(StringInfo buf, Oid type, Datum value, bool isnull)
{
	if (isnull)
	{
		appendStringInfoString(buf, "null");
		return;
	}
	switch (type)
	{
		case TEXTOID:
			escape_json(buf, TextDatumGetCString(value));
			break;
		case BOOLOID:
			appendStringInfoString(buf, DatumGetBool(value) ? "true" : "false");
			break;
		case INT4OID:
			appendStringInfo(buf, "%d", DatumGetInt32(value));
			break;
		case INT8OID:
			appendStringInfo(buf, INT64_FORMAT, DatumGetInt64(value));
			break;
		case FLOAT4OID:
			appendStringInfo(buf, "%.9g", DatumGetFloat4(value));
			break;
		case FLOAT4ARRAYOID:
			{
				Datum	   *elems;
				int			n;

				MlpArrayElements(DatumGetArrayTypeP(value), FLOAT4OID, "array", &elems, &n);
				appendStringInfoChar(buf, '[');
				for (int i = 0; i < n; i++)
					appendStringInfo(buf, "%s%.9g", i ? ", " : "", DatumGetFloat4(elems[i]));
				appendStringInfoChar(buf, ']');
				break;
			}
		default:
			elog(ERROR, "mlp_sweep: argument of type %u cannot be stored", type);
	}
}

/* Every run argument that the grid does not set, as a JSON object. */
static char *
ArgumentsJson(const MlpArgs *args, const GridKey *keys, int nkeys)
{
	StringInfoData buf;
	bool		first = true;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (int i = 0; i < args->nargs; i++)
	{
		const char *n = args->names[i];
		bool		in_grid = false;

		if (n == NULL || IsSweepOnlyArg(n) || strcmp(n, "source") == 0)
			continue;
		for (int k = 0; k < nkeys; k++)
			in_grid |= strcmp(keys[k].name, n) == 0;
		if (in_grid)
			continue;
		appendStringInfoString(&buf, first ? "" : ", ");
		first = false;
		escape_json(&buf, n);
		appendStringInfoString(&buf, ": ");
		AppendArgJson(&buf, args->types[i], args->values[i], args->nulls[i]);
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/* The combination being queued, for the CONTEXT of its errors. */
static void
CombinationContext(void *arg)
{
	errcontext("%s", (const char *) arg);
}

/* Combination c of the grid (the last key varies fastest) as JSON, and set in args. */
static char *
SetCombination(MlpArgs *args, const GridKey *keys, int nkeys, int64 c)
{
	StringInfoData buf;
	int64		rest = c;
	int		   *digit = palloc(sizeof(int) * nkeys);

	for (int k = nkeys - 1; k >= 0; k--)
	{
		digit[k] = (int) (rest % keys[k].count);
		rest /= keys[k].count;
	}
	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (int k = 0; k < nkeys; k++)
	{
		MlpArgSet(args, keys[k].name, keys[k].values[digit[k]], keys[k].nulls[digit[k]]);
		appendStringInfo(&buf, "%s\"%s\": %s", k ? ", " : "", keys[k].name,
						 keys[k].texts[digit[k]]);
	}
	appendStringInfoChar(&buf, '}');
	pfree(digit);
	return buf.data;
}

static int
CompareInt64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return x < y ? -1 : x > y;
}

/*
 * The combinations to run: all of them in grid order, or trials of them drawn without
 * replacement by trials_seed (a partial Fisher-Yates shuffle), then put in grid order.
 */
static int64 *
ChooseCombinations(int64 total, int trials, int64 trials_seed, int *n_out)
{
	int64	   *idx = palloc(sizeof(int64) * total);
	int			n = trials > 0 ? trials : (int) total;

	for (int64 i = 0; i < total; i++)
		idx[i] = i;
	if (trials > 0)
	{
		MlpRng		rng;

		mlp_rng_seed(&rng, (uint64_t) trials_seed, MLP_SWEEP_TRIALS_STREAM);
		for (int i = 0; i < n; i++)
		{
			int64		j = i + (int64) mlp_rng_below(&rng, (uint64_t) (total - i));
			int64		t = idx[i];

			idx[i] = idx[j];
			idx[j] = t;
		}
		qsort(idx, n, sizeof(int64), CompareInt64);
	}
	*n_out = n;
	return idx;
}

static void
CheckSweepOwner(int64 sweep_id, Oid owner, const char *action)
{
	if (!has_privs_of_role(GetUserId(), owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to %s sweep " INT64_FORMAT, action, sweep_id),
				 errhint("A sweep is visible only to the role that queued it, its members and superusers.")));
}

/*
 * mlp_sweep(sweep_name, source, grid, trials, <mlp_train's arguments>, trials_seed): the
 * sweep's id.
 */
PG_FUNCTION_INFO_V1(mlp_sweep);
Datum
mlp_sweep(PG_FUNCTION_ARGS)
{
	MlpArgs		args;
	MlpSweepDefinition def;
	GridKey    *keys;
	int			nkeys;
	int64		total = 1;
	int64		sweep_id;
	Oid			owner;
	bool		same;
	int64	   *chosen;
	int			n;
	Datum	   *servers = NULL;
	int			nservers = 0;

	MlpCheckLauncherAvailable();
	(void) MlpExtensionOwner();	/* as in mlp_train: an old version says to update */
	MlpArgsInit(&args, fcinfo);
	memset(&def, 0, sizeof(def));
	def.name = MlpArgText(&args, "sweep_name");
	def.source = MlpArgText(&args, "source");
	if (def.name[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("sweep_name must not be empty")));
	if (!MlpArgIsNull(&args, "trials"))
	{
		def.trials = DatumGetInt32(MlpArgRequired(&args, "trials"));
		if (def.trials < 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("trials must be at least 1, not %d", def.trials),
					 errhint("Leave trials NULL to run every combination.")));
	}
	def.trials_seed = DatumGetInt64(MlpArgRequired(&args, "trials_seed"));
	if (!MlpArgIsNull(&args, "servers"))
	{
		def.servers = MlpArgRequired(&args, "servers");
		MlpArrayElements(DatumGetArrayTypeP(def.servers), TEXTOID, "servers", &servers, &nservers);
		if (nservers == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("servers must name at least one server"),
					 errhint("Leave servers NULL to run the sweep here.")));
		for (int i = 0; i < nservers; i++)
		{
			char	   *name = TextDatumGetCString(servers[i]);

			(void) GetForeignServerByName(name, false);
			for (int j = 0; j < i; j++)
				if (strcmp(name, TextDatumGetCString(servers[j])) == 0)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("servers names \"%s\" twice", name)));
		}
	}

	nkeys = ParseGrid(DatumGetJsonbP(MlpArgRequired(&args, "grid")), &args, &keys);
	for (int k = 0; k < nkeys; k++)
	{
		total *= keys[k].count;
		if (total > MLP_MAX_SWEEP_RUNS)
			break;
	}
	if (def.trials > 0 && def.trials > total)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("trials %d is more than the " INT64_FORMAT " combinations of the grid",
						def.trials, total)));
	if ((def.trials > 0 ? def.trials : total) > MLP_MAX_SWEEP_RUNS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a sweep may queue at most %d runs; this grid has more combinations",
						MLP_MAX_SWEEP_RUNS),
				 errhint("Draw some of them with trials, or split the grid.")));
	def.runs = def.trials > 0 ? def.trials : (int) total;
	def.grid = JsonbToCString(NULL, &DatumGetJsonbP(MlpArgRequired(&args, "grid"))->root, 0);
	def.arguments = ArgumentsJson(&args, keys, nkeys);
	/* the longest model name must be valid: 's/N' */
	MlpCheckModelName(psprintf("%s/%d", def.name, def.runs));

	if (MlpRunStoreFindSweep(&def, &sweep_id, &owner, &same))
	{
		if (!has_privs_of_role(GetUserId(), owner))
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("sweep \"%s\" already exists and belongs to another role", def.name),
					 errhint("Choose another sweep name.")));
		if (!same)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("sweep \"%s\" already exists with a different definition", def.name),
					 errdetail("Calling mlp_sweep again with the same name, source, grid, trials and arguments returns the existing sweep."),
					 errhint("Choose another sweep name.")));
		PG_RETURN_INT64(sweep_id);
	}

	CheckGridValues(&args, keys, nkeys, def.name);

	sweep_id = MlpRunStoreInsertSweep(&def, GetUserId());
	chosen = ChooseCombinations(total, def.trials, def.trials_seed, &n);
	for (int i = 0; i < n; i++)
	{
		MlpArgs		run_args;
		ErrorContextCallback ctx;
		char	   *combination;

		MlpArgsCopy(&run_args, &args);
		combination = SetCombination(&run_args, keys, nkeys, chosen[i]);
		ctx.callback = CombinationContext;
		ctx.arg = psprintf("run %d of sweep \"%s\": %s", i + 1, def.name, combination);
		ctx.previous = error_context_stack;
		error_context_stack = &ctx;
		if (nservers > 0)
			MlpSweepQueueRemote(&run_args, sweep_id, def.name, i + 1, combination,
								TextDatumGetCString(servers[i % nservers]));
		else
			(void) MlpQueueTrainRun(&run_args, psprintf("%s/%d", def.name, i + 1), sweep_id,
									false);
		error_context_stack = ctx.previous;
		CHECK_FOR_INTERRUPTS();
	}
	PG_RETURN_INT64(sweep_id);
}

static char *
ReadSweep(int64 sweep_id, const char *action, bool *remote, char **name)
{
	Oid			owner;
	char	   *status;
	char	   *name_;
	bool		remote_;

	if (!MlpRunStoreReadSweep(sweep_id, &owner, &status, &name_, &remote_))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("sweep " INT64_FORMAT " does not exist", sweep_id)));
	CheckSweepOwner(sweep_id, owner, action);
	if (remote)
		*remote = remote_;
	if (name)
		*name = name_;
	return status;
}

static int64
SweepIdArg(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("sweep_id must not be null")));
	return PG_GETARG_INT64(0);
}

/* mlp_wait_sweep(sweep_id, timeout_seconds): the sweep's status once none of its runs is
 * queued or running, or when the timeout passes. */
PG_FUNCTION_INFO_V1(mlp_wait_sweep);
Datum
mlp_wait_sweep(PG_FUNCTION_ARGS)
{
	int64		sweep_id = SweepIdArg(fcinfo);
	double		timeout = MlpWaitTimeoutArg(fcinfo, 1);
	TimestampTz start = GetCurrentTimestamp();
	char	   *status;
	bool		pending;
	ListCell   *lc;
	bool		remote = false;

	(void) ReadSweep(sweep_id, "wait for", &remote, NULL);
	pending = remote && MlpSweepRemotePending();
	foreach(lc, MlpRunStoreSweepActiveRuns(sweep_id))
		pending |= MlpRunQueuedInThisTransaction(*(int64 *) lfirst(lc));
	if (pending)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("sweep " INT64_FORMAT " was queued in this transaction and cannot start before it commits",
						sweep_id),
				 errhint("Commit, then call mlp_wait_sweep.")));
	MlpCheckWaitIsolation("mlp_wait_sweep", "the runs");
	for (;;)
	{
		if (remote)
			(void) MlpSweepRefreshRemote(sweep_id);
		status = ReadSweep(sweep_id, "wait for", NULL, NULL);
		/* remote servers are asked once a second */
		if ((strcmp(status, "queued") != 0 && strcmp(status, "running") != 0) ||
			!MlpWaitMore(start, timeout, remote ? 1000 : MLP_SWEEP_POLL_MS))
			break;
		pfree(status);
	}
	PG_RETURN_TEXT_P(cstring_to_text(status));
}

/* mlp_cancel_sweep(sweep_id): cancels the sweep's queued and running runs; returns how many. */
PG_FUNCTION_INFO_V1(mlp_cancel_sweep);
Datum
mlp_cancel_sweep(PG_FUNCTION_ARGS)
{
	int64		sweep_id = SweepIdArg(fcinfo);
	int			canceled = 0;
	ListCell   *lc;
	bool		remote;

	(void) ReadSweep(sweep_id, "cancel", &remote, NULL);
	if (remote)
		PG_RETURN_INT32(MlpSweepCancelRemote(sweep_id));
	foreach(lc, MlpRunStoreSweepActiveRuns(sweep_id))
		canceled += MlpCancelRun(*(int64 *) lfirst(lc)) ? 1 : 0;
	PG_RETURN_INT32(canceled);
}

/*
 * mlp_resume_sweep(sweep_id, servers): the sweep's interrupted, failed and canceled runs
 * (and, spread over servers, the unreachable ones) queued again; returns how many.
 */
PG_FUNCTION_INFO_V1(mlp_resume_sweep);
Datum
mlp_resume_sweep(PG_FUNCTION_ARGS)
{
	int64		sweep_id = SweepIdArg(fcinfo);
	bool		remote;
	int			resumed = 0;
	ListCell   *lc;

	MlpCheckLauncherAvailable();
	(void) ReadSweep(sweep_id, "resume", &remote, NULL);
	if (remote)
		PG_RETURN_INT32(MlpSweepResumeRemote(sweep_id, PG_ARGISNULL(1) ? NULL :
											 PG_GETARG_ARRAYTYPE_P(1)));
	if (!PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("sweep " INT64_FORMAT " runs here: servers applies only to a sweep spread over servers",
						sweep_id)));
	foreach(lc, MlpRunStoreSweepResumableRuns(sweep_id))
		resumed += MlpResumeRun(*(int64 *) lfirst(lc)) ? 1 : 0;
	PG_RETURN_INT32(resumed);
}

/* The rows of sql ($1 = sweep_id), run as the caller, into fcinfo's materialised result. */
static void
LocalRowsInto(FunctionCallInfo fcinfo, const char *sql, int64 sweep_id)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(sweep_id)};

	/* as the caller: its own runs, by row-level security */
	MlpSpiConnect();
	if (SPI_execute_with_args(sql, 1, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading the runs of sweep " INT64_FORMAT " failed", sweep_id);
	for (uint64 k = 0; k < SPI_processed; k++)
		tuplestore_puttuple(rsinfo->setResult, SPI_tuptable->vals[k]);
	SPI_finish();
}

/* mlp_sweep_results(sweep_id): mlpscale.results of the sweep, wherever its runs ran. */
PG_FUNCTION_INFO_V1(mlp_sweep_results);
Datum
mlp_sweep_results(PG_FUNCTION_ARGS)
{
	int64		sweep_id = SweepIdArg(fcinfo);
	bool		remote;
	char	   *name;

	(void) ReadSweep(sweep_id, "read", &remote, &name);
	InitMaterializedSRF(fcinfo, 0);
	if (remote)
		MlpSweepResultsRemote(fcinfo, sweep_id, name);
	else
		LocalRowsInto(fcinfo, "SELECT * FROM " MLP_TABLE(results) " WHERE sweep_id" MLP_EQ "$1 ORDER BY run_id",
					  sweep_id);
	return (Datum) 0;
}

/*
 * mlp_sweep_epochs(sweep_id): one row per epoch of the sweep's runs (k, server, run id and
 * the mlpscale.epochs columns), wherever they ran.
 */
PG_FUNCTION_INFO_V1(mlp_sweep_epochs);
Datum
mlp_sweep_epochs(PG_FUNCTION_ARGS)
{
	int64		sweep_id = SweepIdArg(fcinfo);
	bool		remote;

	(void) ReadSweep(sweep_id, "read", &remote, NULL);
	InitMaterializedSRF(fcinfo, 0);
	if (remote)
		MlpSweepEpochsRemote(fcinfo, sweep_id);
	else
		LocalRowsInto(fcinfo, "SELECT (pg_catalog.regexp_match(r.model_name, '/([0-9]+)$'))[1]::pg_catalog.int4, "
								  "NULL::pg_catalog.text, r.id, e.epoch, e.train_loss, e.train_accuracy, "
								  "e.val_loss, e.val_accuracy, e.val_top5, e.examples_seen, e.cumulative_flops, e.seconds "
								  "FROM " MLP_TABLE(epochs) " e JOIN " MLP_TABLE(runs) " r ON r.id" MLP_EQ "e.run_id "
								  "WHERE r.sweep_id" MLP_EQ "$1 ORDER BY r.id, e.epoch",
					  sweep_id);
	return (Datum) 0;
}
