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
#include "storage/block.h"

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
	bool		stop_over_limit;	/* over memory_limit: stop and set over_limit, no ERROR */
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
	bool		over_limit;		/* stop_over_limit: the rows did not fit; nothing kept */
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


/* Rows per fetch of a stream: their detoasted images are held besides the window. */
#define MLP_STREAM_FETCH_ROWS 100

/* ---- streaming: a source read window by window (docs/design.md, "Streaming training") ---- */

/*
 * An open read of a source, in the order of an epoch: for a plain table (or materialized
 * view) read by ranges, its blocks cut in ranges of range_blocks, read with TID range scans
 * in the seeded order of mlp_stream_range_order; otherwise one cursor in the source's order.
 * Every read of one stream uses the active snapshot of the call that opened it: it must stay
 * pushed (and the transaction open) until MlpStreamClose.  SPI must be connected.
 */
typedef struct MlpSourceStream
{
	MlpSourceOptions opts;
	const char *what;
	const char *image_column;
	char	   *shown;
	int			image_att;
	int			label_att;
	Oid			label_type;
	SPIPlanPtr	plan;			/* the query (with $1, $2: the TID range) */
	Portal		portal;			/* the open cursor; NULL between ranges */
	bool		by_ranges;
	int64	   *ranges;			/* [nranges] the epoch's order of ranges */
	int64		nranges;
	int64		next_range;
	int64		range_blocks;
	BlockNumber nblocks;		/* of the table when the stream was opened */
	bool		done;
	MemoryContext batch_cxt;	/* the detoasted images of one fetch */
	/* the rows read so far: their shape (the first's, or given), count and largest label */
	int			channels;
	int			height;
	int			width;
	Size		image_bytes;
	int64		rows;
	int32		max_label;
	/* MlpStreamRead with images NULL: the rows go here (capacity of the first call) */
	uint8	   *scratch;
	int32	   *scratch_labels;
	int64		scratch_rows;
	MemoryContext scratch_cxt;
} MlpSourceStream;

/* True when relid can be read by TID ranges: a plain table or a materialized view. */
extern bool MlpSourceRangeReadable(Oid relid);

/* Blocks of relid now (0 when it is not range readable). */
extern BlockNumber MlpSourceBlocks(Oid relid);

/*
 * Opens s over opts' source.  range_blocks > 0 (with opts->relid range readable): by ranges
 * in the order of (seed, epoch); 0: one cursor.  channels/height/width: the shape every row
 * must have (0: the first row's).  ERROR as MlpLoadSource for a missing relation or column.
 */
extern void MlpStreamOpen(MlpSourceStream *s, const MlpSourceOptions *opts, int64 range_blocks,
						  uint64 seed, int epoch, int channels, int height, int width);

/*
 * Up to capacity rows into images (capacity * image bytes) and labels (NULL without a label
 * column), in the stream's order; 0 when every row was read.  With images NULL (a stream of
 * unknown shape), into s->scratch and s->scratch_labels, allocated for capacity rows.  ERROR (as MlpLoadSource) on a
 * null image or label, an image of another shape, a label out of range.
 */
extern int64 MlpStreamRead(MlpSourceStream *s, uint8 *images, int32 *labels, int64 capacity);

/* Closes the cursor and frees what the stream allocated (the scratch rows included). */
extern void MlpStreamClose(MlpSourceStream *s);

#endif
