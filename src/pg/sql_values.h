/*
 * sql_values.h - values in and out of SQL functions: arguments by name, arrays of them,
 * and the core's malloc'd buffers handed back as bytea.
 */
#ifndef MLP_SQL_VALUES_H
#define MLP_SQL_VALUES_H

#include "postgres.h"

#include "fmgr.h"
#include "utils/array.h"

/* ---- arguments by name ------------------------------------------------------------------- */

typedef struct MlpArgs
{
	int			nargs;
	char	  **names;			/* of the function's signature (pg_proc.proargnames) */
	Oid		   *types;			/* pg_proc.proargtypes */
	Datum	   *values;			/* the call's values, or values set by MlpArgSet */
	bool	   *nulls;
} MlpArgs;

extern void MlpArgsInit(MlpArgs *args, FunctionCallInfo fcinfo);
/* A copy of src whose values MlpArgSet may change without touching src (mlp_sweep). */
extern void MlpArgsCopy(MlpArgs *dst, const MlpArgs *src);
extern void MlpArgSet(MlpArgs *args, const char *name, Datum value, bool isnull);
/* Position of argument name; ERROR (internal) when the signature has none. */
extern int	MlpArgIndex(const MlpArgs *args, const char *name);
extern bool MlpArgIsNull(const MlpArgs *args, const char *name);
/* ERROR 22004 "<name> must not be null" when it is. */
extern Datum MlpArgRequired(const MlpArgs *args, const char *name);
extern char *MlpArgText(const MlpArgs *args, const char *name);		/* required */
extern char *MlpArgTextOrNull(const MlpArgs *args, const char *name);

/* ---- arrays ------------------------------------------------------------------------------- */

/*
 * Elements of a one-dimensional array without nulls; ERROR naming the argument otherwise.
 */
extern void MlpArrayElements(ArrayType *arr, Oid elemtype, const char *argname, Datum **elems,
							 int *n);

/*
 * A real[] of one finite value per channel (1 to max; positive when asked) into out;
 * returns how many.  ERROR naming the argument and the bad element.
 */
extern int	MlpChannelValues(ArrayType *arr, const char *argname, bool positive, float *out,
							 int max);

/* ---- buffers ------------------------------------------------------------------------------ */

/*
 * The core's malloc'd buffer *buf of len bytes turned into a bytea in place: grown by the
 * header and shifted (realloc of a large block moves pages, not bytes), so no second full
 * copy exists.  *buf then points to the bytea (still malloc'd: free() it).  ERROR naming
 * what beyond a bytea's 1 GB or without memory (the buffer is left to the caller to free).
 */
extern bytea *MlpBufferToBytea(uint8_t **buf, size_t len, const char *what);

#endif
