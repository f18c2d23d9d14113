/*
 * data_source.h - reading (image, label) rows of a user's table, view or SELECT with SPI.
 *
 * The caller must be connected to SPI (SPI_connect) and run as the role whose privileges
 * apply: data is read with that role's rights, never the extension owner's.
 */
#ifndef MLP_DATA_SOURCE_H
#define MLP_DATA_SOURCE_H

#include "postgres.h"

typedef struct MlpSourceOptions
{
	const char *source;			/* table or view name, or a query (SELECT/WITH/VALUES/TABLE) */
	const char *what;			/* "source" or "validation": used in error messages */
	const char *image_column;	/* default "image" */
	const char *label_column;	/* default "label"; NULL reads no labels */
	int			classes;		/* > 0: labels must be in [0, classes); <= 0: no upper bound */
	Size		memory_limit;	/* bytes; ERROR with both figures when the data would exceed */
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

/*
 * The SELECT that reads the image (and label) columns of source, with every identifier
 * quoted; a relation name is checked to exist (ERROR naming it).
 */
extern char *MlpSourceSelect(const char *source, const char *image_column,
							 const char *label_column);

/*
 * Reads every row into memory allocated in CurrentMemoryContext.  ERROR (with an errcode and
 * the offending row number) on: no rows, missing columns, a column of the wrong type, NULL
 * images or labels, images of differing shapes, labels out of range.
 */
extern void MlpLoadSource(const MlpSourceOptions *opts, MlpSourceData *out);

#endif
