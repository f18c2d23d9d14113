/*
 * fits.c - the fits of scaling studies over the rows of a user's query: mlp_fit_power_law
 * and mlp_compute_optimal (the numeric work is src/core/fit.c).
 *
 * The query runs as the caller, read-only, like the query of mlp_classify_batch.  Its
 * columns are found by name; when none of the names is among them, they are the query's
 * first columns in order.  Any numeric type is read as float8; a null is an error naming
 * its row, every other check on the values is the core's.
 */
#include "postgres.h"

#include <limits.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/plancache.h"
#include "utils/tuplestore.h"

#include "core/fit.h"
#include "core_error.h"
#include "data_source.h"
#include "privilege.h"

#define FIT_MAX_COLUMNS 4
#define FIT_FETCH_ROWS 1000

/* The columns a function reads, and the rows read: one array of values per column. */
typedef struct FitColumns
{
	const char *function;
	int			ncols;
	const char *const *names;
	int			att[FIT_MAX_COLUMNS];	/* attribute numbers in the query's result */
	Oid			type[FIT_MAX_COLUMNS];
	double	   *values[FIT_MAX_COLUMNS];
	int			n;
} FitColumns;

static bool
IsNumericType(Oid type)
{
	return MlpIsIntegerType(type) || type == FLOAT4OID || type == FLOAT8OID ||
		type == NUMERICOID;
}

static double
NumberDatum(Datum d, Oid type)
{
	if (MlpIsIntegerType(type))
		return (double) MlpIntegerDatum(d, type);
	switch (type)
	{
		case FLOAT4OID:
			return DatumGetFloat4(d);
		case FLOAT8OID:
			return DatumGetFloat8(d);
		default:
			return DatumGetFloat8(DirectFunctionCall1(numeric_float8, d));
	}
}

/* The names the columns are asked by, for hints: "compute, error". */
static char *
ColumnList(const FitColumns *fc)
{
	StringInfoData s;

	initStringInfo(&s);
	for (int k = 0; k < fc->ncols; k++)
		appendStringInfo(&s, "%s%s", k ? ", " : "", fc->names[k]);
	return s.data;
}

/* fc->att and fc->type from the query's result: by name, or the first columns. */
static void
FindFitColumns(FitColumns *fc, TupleDesc desc)
{
	int			named = 0;

	for (int k = 0; k < fc->ncols; k++)
	{
		fc->att[k] = MlpColumnNumber(desc, fc->names[k], "query");
		if (fc->att[k] != 0)
			named++;
	}
	if (named == 0)
	{
		if (desc->natts < fc->ncols)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("query returns %d column%s, %s needs %d", desc->natts,
							desc->natts == 1 ? "" : "s", fc->function, fc->ncols),
					 errhint("Give the columns %s, by name or in this order.", ColumnList(fc))));
		for (int k = 0; k < fc->ncols; k++)
			fc->att[k] = k + 1;
	}
	else if (named < fc->ncols)
	{
		for (int k = 0; k < fc->ncols; k++)
			if (fc->att[k] == 0)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("query has no column \"%s\"", fc->names[k]),
						 errhint("Name all of the columns %s, or none of them to take the first %d in this order.",
								 ColumnList(fc), fc->ncols)));
	}
	for (int k = 0; k < fc->ncols; k++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, fc->att[k] - 1);

		fc->type[k] = att->atttypid;
		if (!IsNumericType(att->atttypid))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" of the query has type %s, not a number",
							NameStr(att->attname), format_type_be(att->atttypid)),
					 errhint("%s reads %s as smallint, integer, bigint, real, double precision or numeric.",
							 fc->function, ColumnList(fc))));
	}
}

/*
 * Runs the query as the caller and reads its rows into fc->values, allocated in
 * result_cxt (SPI's contexts go with SPI_finish).
 */
static void
ReadFitRows(FitColumns *fc, const char *query)
{
	MemoryContext result_cxt = CurrentMemoryContext;
	Portal		portal;
	int			capacity = 0;

	fc->n = 0;
	MlpSpiConnect();
	portal = MlpOpenSelectCursor(query, ColumnList(fc));
	FindFitColumns(fc, portal->tupDesc);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, FIT_FETCH_ROWS);
		if (SPI_processed == 0)
			break;
		if ((uint64) fc->n + SPI_processed > (uint64) (INT_MAX / 2))
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("query returns more than %d rows", INT_MAX / 2)));
		if (fc->n + (int) SPI_processed > capacity)
		{
			capacity = Max(capacity * 2, fc->n + (int) SPI_processed);
			for (int k = 0; k < fc->ncols; k++)
				fc->values[k] = fc->values[k] == NULL ?
					MemoryContextAllocHuge(result_cxt, sizeof(double) * (Size) capacity) :
					repalloc_huge(fc->values[k], sizeof(double) * (Size) capacity);
		}
		for (uint64 r = 0; r < SPI_processed; r++, fc->n++)
		{
			HeapTuple	tup = SPI_tuptable->vals[r];

			for (int k = 0; k < fc->ncols; k++)
			{
				bool		isnull;
				Datum		d = SPI_getbinval(tup, SPI_tuptable->tupdesc, fc->att[k], &isnull);

				if (isnull)
					ereport(ERROR,
							(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
							 errmsg("column \"%s\" is null in row %d of the query", fc->names[k],
									fc->n + 1),
							 errhint("Leave out the runs without a result, e.g. WHERE %s IS NOT NULL.",
									 fc->names[k])));
				fc->values[k][fc->n] = NumberDatum(d, fc->type[k]);
			}
		}
		SPI_freetuptable(SPI_tuptable);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
	SPI_finish();
}

static char *
QueryArg(FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("query must not be null")));
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

static int
FitErrcode(MlpFitStatus status)
{
	switch (status)
	{
		case MLP_FIT_TOO_FEW_POINTS:
		case MLP_FIT_INVALID_INPUT:
			return ERRCODE_INVALID_PARAMETER_VALUE;
		case MLP_FIT_NOT_CONVERGED:
			/* The rows do not determine a fit: a property of the data. */
			return ERRCODE_DATA_EXCEPTION;
		case MLP_FIT_CONVERGED:
			break;
	}
	return ERRCODE_INTERNAL_ERROR;
}

PG_FUNCTION_INFO_V1(mlp_fit_power_law);
Datum
mlp_fit_power_law(PG_FUNCTION_ARGS)
{
	static const char *const names[] = {"compute", "error"};
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *query = QueryArg(fcinfo, 0);
	int			max_iterations;
	FitColumns	fc = {.function = "mlp_fit_power_law", .ncols = 2, .names = names};
	MlpPowerLawFit fit;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("max_iterations must not be null")));
	max_iterations = PG_GETARG_INT32(1);
	if (max_iterations < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_iterations must be at least 1, not %d", max_iterations)));

	InitMaterializedSRF(fcinfo, 0);
	ReadFitRows(&fc, query);
	if (mlp_power_law_fit(fc.values[0], fc.values[1], fc.n, max_iterations, &fit) !=
		MLP_FIT_CONVERGED)
		ereport(ERROR,
				(errcode(FitErrcode(fit.status)),
				 errmsg("cannot fit the power law: %s", fit.message),
				 fit.status == MLP_FIT_INVALID_INPUT ?
				 errdetail("Points are the rows of the query, numbered from 1.") : 0,
				 fit.hint[0] ? errhint("%s", fit.hint) : 0));
	elog(DEBUG1, "mlp_fit_power_law: %d points, %d iterations, rmse %g", fit.n,
		 fit.iterations, fit.rmse);
	{
		Datum		values[6];
		bool		nulls[6] = {false, false, false, false, false, false};

		values[0] = Float8GetDatum(fit.a);
		values[1] = Float8GetDatum(fit.b);
		values[2] = Float8GetDatum(fit.alpha);
		values[3] = Float8GetDatum(fit.e_inf);
		values[4] = Float8GetDatum(fit.rmse);
		values[5] = Int32GetDatum(fit.n);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(mlp_compute_optimal);
Datum
mlp_compute_optimal(PG_FUNCTION_ARGS)
{
	static const char *const names[] = {"compute", "error", "params", "examples"};
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *query = QueryArg(fcinfo, 0);
	FitColumns	fc = {.function = "mlp_compute_optimal", .ncols = 4, .names = names};
	MlpScalingRun *runs;
	MlpExponentFit fits[2];
	MlpError	err;

	InitMaterializedSRF(fcinfo, 0);
	ReadFitRows(&fc, query);
	runs = palloc(sizeof(MlpScalingRun) * (Size) Max(fc.n, 1));
	for (int i = 0; i < fc.n; i++)
	{
		runs[i].compute = fc.values[0][i];
		runs[i].error = fc.values[1][i];
		runs[i].params = fc.values[2][i];
		runs[i].examples = fc.values[3][i];
	}
	mlp_error_clear(&err);
	if (mlp_frontier_exponents(runs, fc.n, &fits[0], &fits[1], &err) != MLP_OK)
		MlpReportCoreError(&err, "cannot fit the compute-optimal exponents");
	for (int q = 0; q < 2; q++)
	{
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, false};

		values[0] = CStringGetTextDatum(q == 0 ? "params" : "examples");
		values[1] = Float8GetDatum(fits[q].exponent);
		values[2] = Float8GetDatum(fits[q].coefficient);
		values[3] = Float8GetDatum(fits[q].r2);
		values[4] = Int32GetDatum(fits[q].points);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
