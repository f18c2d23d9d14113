/*
 * data_source.h - reading (image, label) rows of a user's table, view or SELECT with SPI.
 *
 * The caller must be connected to SPI (SPI_connect) and run as the role whose privileges
 * apply: data is read with that role's rights, never the extension owner's.
 */
#ifndef MLP_DATA_SOURCE_H
#define MLP_DATA_SOURCE_H

#include "postgres.h"

#include "access/tupdesc.h"
#include "executor/spi.h"

typedef struct MlpSourceOptions
{
	const char *source;			/* table or view name, or a query (SELECT/WITH/VALUES/TABLE) */
	Oid			relid;			/* valid: read exactly this relation (source is its name) */
	const char *what;			/* "source" or "validation": used in error messages */
	const char *image_column;	/* default "image" */
	const char *label_column;	/* default "label"; NULL reads no labels */
	int			classes;		/* > 0: labels must be in [0, classes); <= 0: no upper bound */
	Size		memory_limit;	/* bytes; ERROR with both figures when the data would exceed */
	const char *memory_setting;	/* the setting that sets memory_limit, named in the hint */
} MlpSourceOptions;

typedef struct MlpSourceData
{
	int64		n;				/* rows read */
	int			channels;
	int			height;
	int			width;
	uint8	   *images;			/* n * C*H*W bytes, planar per image (huge palloc) */
	int32	   *labels;			/* n labels, NULL when no label column */
	int32		max_label;		/* -1 when no labels */
} MlpSourceData;

/*
 * True when source is a query rather than a relation name.
 */
extern bool MlpSourceIsQuery(const char *source);

/* A source checked and resolved in the call that names it (mlp_train, mlp_finetune). */
typedef struct MlpResolvedSource
{
	Oid			relid;			/* the table or view; InvalidOid for a query */
	char	   *name;			/* its schema-qualified, quoted name; or the query as given */
} MlpResolvedSource;

/*
 * Resolves source with the current search_path and checks it as the current role: a
 * relation must exist and be readable (SELECT on it, or on both columns); for a relation or
 * a query, the image column must exist with type image and the label column (unless NULL)
 * with an integer type.  ERROR with the relation, column or privilege named.  SPI must be
 * connected.  what is "source" or "validation".
 */
extern void MlpResolveSource(const char *source, const char *what, const char *image_column,
							 const char *label_column, MlpResolvedSource *out);

/* The rows of each label of a source. */
typedef struct MlpClassCounts
{
	int			k;				/* labels that have rows (null labels are not counted) */
	int64	   *labels;			/* the k labels, ascending */
	int64	   *counts;			/* their rows */
	int64		total;			/* the sum of counts */
} MlpClassCounts;

/*
 * Counts the rows of each label of a resolved source with one GROUP BY query, run as the
 * current role under the current search_path (the call's: the caller's data, read with the
 * caller's rights).  SPI must be connected; the arrays are allocated in the context that
 * was current at SPI_connect.
 */
extern void MlpSourceClassCounts(const MlpResolvedSource *src, const char *label_column,
								 MlpClassCounts *out);

/* Attribute number of column name in desc, or 0; ERROR (42702) when what has two. */
extern int	MlpColumnNumber(TupleDesc desc, const char *name, const char *what);

/*
 * A read-only cursor over query, which must be one SELECT (VALUES, TABLE, WITH ... SELECT);
 * ERROR otherwise, with a hint naming the columns expected.  SPI must be connected.
 */
extern Portal MlpOpenSelectCursor(const char *query, const char *columns);

/* Labels and ids: smallint, integer or bigint, and the value of such a datum. */
extern bool MlpIsIntegerType(Oid type);
extern int64 MlpIntegerDatum(Datum d, Oid type);

/*
 * Reads every row into memory allocated in CurrentMemoryContext.  ERROR (with an errcode and
 * the offending row number) on: no rows, missing columns, a column of the wrong type, NULL
 * images or labels, images of differing shapes, labels out of range.
 */
extern void MlpLoadSource(const MlpSourceOptions *opts, MlpSourceData *out);

#endif
