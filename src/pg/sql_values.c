/*
 * sql_values.c - values in and out of SQL functions (see sql_values.h).
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "sql_values.h"

/* ---- arguments by name ------------------------------------------------------------------- */

void
MlpArgsInit(MlpArgs *args, FunctionCallInfo fcinfo)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fcinfo->flinfo->fn_oid));
	char	   *modes;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for function %u", fcinfo->flinfo->fn_oid);
	args->nargs = get_func_arg_info(tup, &args->types, &args->names, &modes);
	ReleaseSysCache(tup);
	if (args->names == NULL)
		elog(ERROR, "function %u has no argument names", fcinfo->flinfo->fn_oid);
	args->values = palloc(sizeof(Datum) * Max(args->nargs, 1));
	args->nulls = palloc(sizeof(bool) * Max(args->nargs, 1));
	for (int i = 0; i < args->nargs && i < fcinfo->nargs; i++)
	{
		args->values[i] = fcinfo->args[i].value;
		args->nulls[i] = fcinfo->args[i].isnull;
	}
}

void
MlpArgsCopy(MlpArgs *dst, const MlpArgs *src)
{
	*dst = *src;
	dst->values = palloc(sizeof(Datum) * Max(src->nargs, 1));
	dst->nulls = palloc(sizeof(bool) * Max(src->nargs, 1));
	memcpy(dst->values, src->values, sizeof(Datum) * src->nargs);
	memcpy(dst->nulls, src->nulls, sizeof(bool) * src->nargs);
}

void
MlpArgSet(MlpArgs *args, const char *name, Datum value, bool isnull)
{
	int			i = MlpArgIndex(args, name);

	args->values[i] = value;
	args->nulls[i] = isnull;
}

int
MlpArgIndex(const MlpArgs *args, const char *name)
{
	for (int i = 0; i < args->nargs; i++)
		if (args->names[i] != NULL && strcmp(args->names[i], name) == 0)
			return i;
	elog(ERROR, "the SQL signature has no argument \"%s\"", name);
	return -1;					/* not reached */
}

bool
MlpArgIsNull(const MlpArgs *args, const char *name)
{
	return args->nulls[MlpArgIndex(args, name)];
}

Datum
MlpArgRequired(const MlpArgs *args, const char *name)
{
	int			i = MlpArgIndex(args, name);

	if (args->nulls[i])
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", name)));
	return args->values[i];
}

char *
MlpArgText(const MlpArgs *args, const char *name)
{
	return TextDatumGetCString(MlpArgRequired(args, name));
}

char *
MlpArgTextOrNull(const MlpArgs *args, const char *name)
{
	int			i = MlpArgIndex(args, name);

	return args->nulls[i] ? NULL : TextDatumGetCString(args->values[i]);
}

/* ---- arrays ------------------------------------------------------------------------------- */

void
MlpArrayElements(ArrayType *arr, Oid elemtype, const char *argname, Datum **elems, int *n)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;
	bool	   *nulls;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array, not %d-dimensional", argname,
						ARR_NDIM(arr))));
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(arr, elemtype, typlen, typbyval, typalign, elems, &nulls, n);
	for (int i = 0; i < *n; i++)
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not contain nulls", argname)));
}

int
MlpChannelValues(ArrayType *arr, const char *argname, bool positive, float *out, int max)
{
	Datum	   *elems;
	int			n;

	MlpArrayElements(arr, FLOAT4OID, argname, &elems, &n);
	if (n < 1 || n > max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must have 1 to %d values (one per channel), not %d", argname, max, n)));
	for (int i = 0; i < n; i++)
	{
		float		v = DatumGetFloat4(elems[i]);

		if (!isfinite(v) || (positive && !(v > 0)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s[%d] must be %s, not %g", argname, i + 1,
							positive ? "positive and finite" : "finite", v)));
		out[i] = v;
	}
	return n;
}

/* ---- buffers ------------------------------------------------------------------------------ */

bytea *
MlpBufferToBytea(uint8_t **buf, size_t len, const char *what)
{
	uint8_t    *grown;

	if (len > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s of %zu bytes is larger than the 1 GB a bytea can hold", what, len)));
	grown = realloc(*buf, VARHDRSZ + len);
	if (grown == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory for %s of %zu bytes", what, len)));
	*buf = grown;
	memmove(grown + VARHDRSZ, grown, len);
	SET_VARSIZE(grown, VARHDRSZ + len);
	return (bytea *) grown;
}
