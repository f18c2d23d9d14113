/*
 * copy_writer.h - one load as one transaction: BEGIN, create (or check) the table, COPY ...
 * FROM STDIN (FORMAT binary), COMMIT.  Any failure before the commit rolls everything back,
 * so a bad input never leaves a half-written table.
 */
#ifndef MLP_LOADER_COPY_WRITER_H
#define MLP_LOADER_COPY_WRITER_H

#include "loader.h"

#include <libpq-fe.h>

typedef struct LoadTarget
{
	const char *table;			/* an SQL name, optionally schema-qualified and quoted */
	const char *image_column;
	const char *label_column;
	const char *split_column;
	const char *class_column;	/* the class names' column, written when the input names its classes */
	const char *split;			/* NULL: no split column is written */
	int			append;			/* add to an existing table (created when missing) */
	int			replace;		/* drop an existing table first (same transaction) */
	const char *compression;	/* of a new table's images: "lz4", "pglz", "none"; NULL: lz4
								 * when the server has it */
} LoadTarget;

typedef struct CopyWriter
{
	PGconn	   *conn;
	LoadBuffer	buf;
	int			label_width;	/* bytes of the label column's integer type: 2, 4 or 8 */
	int			ncolumns;
	size_t		split_len;
	const char *split;
	char	  **class_names;	/* the input's, for the class column, or NULL */
	int			nclasses;
	int			write_class;	/* the table has the class column: a name (or NULL) per row */
	char	   *table_sql;		/* the quoted, qualified name, for messages and SQL */
	int			created;
	int			in_copy;
} CopyWriter;

/*
 * Connects (libpq conventions: conninfo may be a name or a connection string, PG* variables
 * fill in the rest), opens the transaction, prepares the table and starts the COPY.  A new
 * table gets the class column when class_names is given (nclasses names, NULL for a label
 * without one); an existing one is written that column when it has it.
 */
int			copy_writer_begin(CopyWriter *w, const char *const *keywords,
							  const char *const *values, const LoadTarget *t,
							  char **class_names, int nclasses, char *err, size_t errlen);

/*
 * The classes of a table loaded before: its distinct (label, class name) pairs, as names[label]
 * (NULL for labels it holds no name of).  Each label must have one name and each name one
 * label.  Returns 0, or -1 with err; -2 when the database cannot be reached.
 */
int			copy_writer_read_classes(const char *const *keywords, const char *const *values,
									 const char *table, const char *label_column,
									 const char *class_column, char ***names, int *count,
									 char *err, size_t errlen);
int			copy_writer_row(CopyWriter *w, const LoadSample *s, char *err, size_t errlen);
/* Ends the COPY, runs ANALYZE and commits; returns the rows the server counted or -1. */
long long	copy_writer_commit(CopyWriter *w, char *err, size_t errlen);
/* Aborts the COPY with reason and rolls back; always safe to call. */
void		copy_writer_abort(CopyWriter *w, const char *reason);

#endif
