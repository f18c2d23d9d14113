/*
 * copy_writer.c - streams samples into a table with COPY FROM STDIN (FORMAT binary).
 *
 * Rows are packed into a 1 MiB buffer before PQputCopyData: one call per row would cost a
 * syscall each.  The image field uses the image type's binary form (int32 channels, height,
 * width in network order, then the planar pixels; see src/image_type.h).
 */
#include "copy_writer.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COPY_FLUSH_BYTES (1 << 20)

static const char copy_signature[11] = "PGCOPY\n\377\r\n\0";

/* Copies libpq's message without its trailing newline. */
static void
set_pq_error(char *err, size_t errlen, const char *what, const char *msg)
{
	size_t		n;

	snprintf(err, errlen, "%s: %s", what, msg && *msg ? msg : "unknown error");
	n = strlen(err);
	while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
		err[--n] = '\0';
}

/* Runs a statement with text parameters; returns the result or NULL with err set. */
static PGresult *
run(CopyWriter *w, const char *sql, int nparams, const char *const *params,
	ExecStatusType want, char *err, size_t errlen)
{
	PGresult   *res = PQexecParams(w->conn, sql, nparams, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(res) != want)
	{
		set_pq_error(err, errlen, "database", PQresultErrorMessage(res));
		PQclear(res);
		return NULL;
	}
	return res;
}

static int
run_command(CopyWriter *w, const char *sql, char *err, size_t errlen)
{
	PGresult   *res = run(w, sql, 0, NULL, PGRES_COMMAND_OK, err, errlen);

	if (!res)
		return -1;
	PQclear(res);
	return 0;
}

static char *
quote_ident(CopyWriter *w, const char *name)
{
	char	   *q = PQescapeIdentifier(w->conn, name, strlen(name));
	char	   *copy = q ? strdup(q) : NULL;

	PQfreemem(q);
	return copy;
}

/*
 * Checks the columns of an existing table against what we write.  The label's integer width
 * matters because binary COPY sends exactly the bytes of the column's type.
 */
static int
check_existing_table(CopyWriter *w, const LoadTarget *t, char *err, size_t errlen)
{
	const char *params[5] = {w->table_sql, t->image_column, t->label_column,
		t->split ? t->split_column : NULL, t->class_column};
	PGresult   *res;
	const char *image_ok;
	const char *label_type;
	const char *split_type;
	const char *class_type;

	res = run(w,
			  "SELECT (SELECT atttypid = to_regtype('image') FROM pg_attribute "
			  "         WHERE attrelid = $1::regclass AND attname = $2 AND NOT attisdropped),"
			  "       (SELECT atttypid::regtype::text FROM pg_attribute "
			  "         WHERE attrelid = $1::regclass AND attname = $3 AND NOT attisdropped),"
			  "       (SELECT atttypid::regtype::text FROM pg_attribute "
			  "         WHERE attrelid = $1::regclass AND attname = $4 AND NOT attisdropped),"
			  "       (SELECT atttypid::regtype::text FROM pg_attribute "
			  "         WHERE attrelid = $1::regclass AND attname = $5 AND NOT attisdropped)",
			  5, params, PGRES_TUPLES_OK, err, errlen);
	if (!res)
		return -1;
	image_ok = PQgetisnull(res, 0, 0) ? NULL : PQgetvalue(res, 0, 0);
	label_type = PQgetisnull(res, 0, 1) ? NULL : PQgetvalue(res, 0, 1);
	split_type = PQgetisnull(res, 0, 2) ? NULL : PQgetvalue(res, 0, 2);
	class_type = PQgetisnull(res, 0, 3) ? NULL : PQgetvalue(res, 0, 3);
	if (!image_ok || strcmp(image_ok, "t") != 0)
	{
		snprintf(err, errlen, "table %s has no column \"%s\" of type image%s", w->table_sql,
				 t->image_column, " (--image-column names another one)");
		goto fail;
	}
	if (!label_type)
	{
		snprintf(err, errlen, "table %s has no column \"%s\" (--label-column names another one)",
				 w->table_sql, t->label_column);
		goto fail;
	}
	if (strcmp(label_type, "integer") == 0)
		w->label_width = 4;
	else if (strcmp(label_type, "smallint") == 0)
		w->label_width = 2;
	else if (strcmp(label_type, "bigint") == 0)
		w->label_width = 8;
	else
	{
		snprintf(err, errlen, "column \"%s\" of table %s has type %s, not an integer type",
				 t->label_column, w->table_sql, label_type);
		goto fail;
	}
	if (t->split)
	{
		if (!split_type)
		{
			snprintf(err, errlen, "table %s has no column \"%s\" for --split (it was loaded "
					 "without --split; --replace reloads it)", w->table_sql, t->split_column);
			goto fail;
		}
		if (strcmp(split_type, "text") != 0 && strcmp(split_type, "character varying") != 0)
		{
			snprintf(err, errlen, "column \"%s\" of table %s has type %s, not text",
					 t->split_column, w->table_sql, split_type);
			goto fail;
		}
	}
	/* a table loaded without class names (IDX) has no such column: its rows get none */
	if (class_type)
	{
		if (strcmp(class_type, "text") != 0 && strcmp(class_type, "character varying") != 0)
		{
			snprintf(err, errlen, "column \"%s\" of table %s has type %s, not text",
					 t->class_column, w->table_sql, class_type);
			goto fail;
		}
		w->write_class = 1;
	}
	PQclear(res);
	return 0;

fail:
	PQclear(res);
	return -1;
}

static int
prepare_table(CopyWriter *w, const LoadTarget *t, char *err, size_t errlen)
{
	const char *params[1] = {t->table};
	PGresult   *res;
	int			exists;
	char	   *image_col = quote_ident(w, t->image_column);
	char	   *label_col = quote_ident(w, t->label_column);
	char	   *split_col = quote_ident(w, t->split_column);
	char	   *class_col = quote_ident(w, t->class_column);
	char		sql[2048];
	int			rc = -1;

	if (!image_col || !label_col || !split_col || !class_col)
	{
		set_pq_error(err, errlen, "database", PQerrorMessage(w->conn));
		goto done;
	}
	res = run(w, "SELECT to_regtype('image') IS NOT NULL", 0, NULL, PGRES_TUPLES_OK,
			  err, errlen);
	if (!res)
		goto done;
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
	{
		PQclear(res);
		snprintf(err, errlen, "type image does not exist in database \"%s\"; run CREATE "
				 "EXTENSION mlpscale in it first (or add its schema to search_path)",
				 PQdb(w->conn));
		goto done;
	}
	PQclear(res);

	/* parse_ident folds and unquotes the name as SQL would; each part is then re-quoted */
	res = run(w,
			  "SELECT string_agg(quote_ident(part), '.' ORDER BY n), "
			  "       to_regclass($1) IS NOT NULL "
			  "  FROM unnest(parse_ident($1)) WITH ORDINALITY AS p(part, n)",
			  1, params, PGRES_TUPLES_OK, err, errlen);
	if (!res)
	{
		char		inner[1024];

		snprintf(inner, sizeof(inner), "%s", err);
		snprintf(err, errlen, "--table \"%s\" is not a valid table name (%s)", t->table, inner);
		goto done;
	}
	w->table_sql = strdup(PQgetvalue(res, 0, 0));
	exists = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	PQclear(res);

	if (exists && t->replace)
	{
		snprintf(sql, sizeof(sql), "DROP TABLE %s", w->table_sql);
		if (run_command(w, sql, err, errlen) != 0)
			goto done;
		exists = 0;
	}
	if (exists && !t->append)
	{
		snprintf(err, errlen, "table %s already exists; --append adds rows to it, --replace "
				 "drops and reloads it", w->table_sql);
		goto done;
	}
	if (exists && t->compression)
	{
		snprintf(err, errlen, "table %s already exists; --compression sets the storage of a "
				 "table the loader creates (--replace reloads it)", w->table_sql);
		goto done;
	}
	if (exists)
	{
		if (check_existing_table(w, t, err, errlen) != 0)
			goto done;
	}
	else
	{
		/*
		 * lz4 when the server has it: pglz compression of each image was most of the
		 * server's time in a load (a 64x64 RGB row: 70 us against 8 us with lz4).  "none"
		 * is storage external: images over the TOAST threshold go out of line uncompressed,
		 * which spares the server a compression attempt per row that photographs do not
		 * repay (docs/performance.md).
		 */
		const char *compression = "";
		const char *storage = "";

		if (!t->compression)
		{
			res = run(w, "SELECT 'lz4' = ANY (enumvals) FROM pg_settings "
					  " WHERE name = 'default_toast_compression'", 0, NULL, PGRES_TUPLES_OK,
					  err, errlen);
			if (!res)
				goto done;
			if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0)
				compression = " COMPRESSION lz4";
			PQclear(res);
		}
		else if (strcmp(t->compression, "lz4") == 0)
			compression = " COMPRESSION lz4";
		else if (strcmp(t->compression, "pglz") == 0)
			compression = " COMPRESSION pglz";
		else
			storage = " STORAGE EXTERNAL";
		w->write_class = w->class_names != NULL;
		snprintf(sql, sizeof(sql),
				 "CREATE TABLE %s (id bigserial PRIMARY KEY, %s image%s NOT NULL, "
				 "%s integer NOT NULL%s%s%s%s%s%s)", w->table_sql, image_col,
				 compression, label_col,
				 w->write_class ? ", " : "", w->write_class ? class_col : "",
				 w->write_class ? " text" : "",
				 t->split ? ", " : "", t->split ? split_col : "", t->split ? " text" : "");
		if (run_command(w, sql, err, errlen) != 0)
			goto done;
		/* PostgreSQL 15's CREATE TABLE takes no STORAGE clause */
		if (*storage)
		{
			snprintf(sql, sizeof(sql), "ALTER TABLE %s ALTER %s SET%s", w->table_sql,
					 image_col, storage);
			if (run_command(w, sql, err, errlen) != 0)
				goto done;
		}
		w->label_width = 4;
		w->created = 1;
	}

	/*
	 * FREEZE for a table made in this transaction: its rows are written frozen, so the first
	 * read (training) does not rewrite every page to set hint bits
	 */
	snprintf(sql, sizeof(sql), "COPY %s (%s, %s%s%s%s%s) FROM STDIN (FORMAT binary%s)",
			 w->table_sql, image_col, label_col, w->write_class ? ", " : "",
			 w->write_class ? class_col : "", t->split ? ", " : "",
			 t->split ? split_col : "", w->created ? ", FREEZE" : "");
	res = PQexec(w->conn, sql);
	if (PQresultStatus(res) != PGRES_COPY_IN)
	{
		set_pq_error(err, errlen, "database", PQresultErrorMessage(res));
		PQclear(res);
		goto done;
	}
	PQclear(res);
	w->in_copy = 1;
	rc = 0;

done:
	free(image_col);
	free(label_col);
	free(split_col);
	free(class_col);
	return rc;
}

static int
flush(CopyWriter *w, char *err, size_t errlen)
{
	if (w->buf.len == 0)
		return 0;
	if (PQputCopyData(w->conn, (const char *) w->buf.data, (int) w->buf.len) != 1)
	{
		set_pq_error(err, errlen, "database", PQerrorMessage(w->conn));
		return -1;
	}
	w->buf.len = 0;
	return 0;
}

static void
put16(LoadBuffer *b, uint16_t v)
{
	v = htons(v);
	memcpy(b->data + b->len, &v, 2);
	b->len += 2;
}

static void
put32(LoadBuffer *b, uint32_t v)
{
	v = htonl(v);
	memcpy(b->data + b->len, &v, 4);
	b->len += 4;
}

int
copy_writer_begin(CopyWriter *w, const char *const *keywords, const char *const *values,
				  const LoadTarget *t, char **class_names, int nclasses, char *err,
				  size_t errlen)
{
	memset(w, 0, sizeof(*w));
	w->class_names = class_names;
	w->nclasses = class_names ? nclasses : 0;
	w->conn = PQconnectdbParams(keywords, values, 1);
	if (!w->conn || PQstatus(w->conn) != CONNECTION_OK)
	{
		set_pq_error(err, errlen, "cannot connect", w->conn ? PQerrorMessage(w->conn) :
					 "out of memory");
		return -1;
	}
	if (run_command(w, "BEGIN", err, errlen) != 0)
		return -1;
	if (prepare_table(w, t, err, errlen) != 0)
		return -1;
	w->split = t->split;
	w->split_len = t->split ? strlen(t->split) : 0;
	w->ncolumns = 2 + (t->split != NULL) + w->write_class;
	if (load_buffer_reserve(&w->buf, COPY_FLUSH_BYTES + 64) != 0)
	{
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memcpy(w->buf.data, copy_signature, sizeof(copy_signature));
	w->buf.len = sizeof(copy_signature);
	put32(&w->buf, 0);			/* flags */
	put32(&w->buf, 0);			/* header extension length */
	return 0;
}

int
copy_writer_row(CopyWriter *w, const LoadSample *s, char *err, size_t errlen)
{
	size_t		npix = (size_t) s->channels * s->height * s->width;
	const char *cls = w->write_class && s->label >= 0 && s->label < w->nclasses ?
		w->class_names[s->label] : NULL;
	size_t		cls_len = cls ? strlen(cls) : 0;
	size_t		need = 2 + 4 + 12 + npix + 4 + 8 + (w->split ? 4 + w->split_len : 0) +
		4 + cls_len;
	LoadBuffer *b = &w->buf;

	if (load_buffer_reserve(b, need) != 0)
	{
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	put16(b, (uint16_t) w->ncolumns);
	put32(b, (uint32_t) (12 + npix));
	put32(b, (uint32_t) s->channels);
	put32(b, (uint32_t) s->height);
	put32(b, (uint32_t) s->width);
	memcpy(b->data + b->len, s->pixels, npix);
	b->len += npix;
	put32(b, (uint32_t) w->label_width);
	if (w->label_width == 2)
		put16(b, (uint16_t) s->label);
	else if (w->label_width == 4)
		put32(b, (uint32_t) s->label);
	else
	{
		put32(b, 0);
		put32(b, (uint32_t) s->label);
	}
	if (w->write_class)
	{
		put32(b, cls ? (uint32_t) cls_len : 0xffffffffu);	/* -1: NULL */
		if (cls)
		{
			memcpy(b->data + b->len, cls, cls_len);
			b->len += cls_len;
		}
	}
	if (w->split)
	{
		put32(b, (uint32_t) w->split_len);
		memcpy(b->data + b->len, w->split, w->split_len);
		b->len += w->split_len;
	}
	if (b->len >= COPY_FLUSH_BYTES)
		return flush(w, err, errlen);
	return 0;
}

long long
copy_writer_commit(CopyWriter *w, char *err, size_t errlen)
{
	PGresult   *res;
	long long	rows;
	char		sql[1024];

	if (load_buffer_reserve(&w->buf, 2) != 0)
	{
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	put16(&w->buf, 0xffff);		/* end-of-data marker */
	if (flush(w, err, errlen) != 0)
		return -1;
	if (PQputCopyEnd(w->conn, NULL) != 1)
	{
		set_pq_error(err, errlen, "database", PQerrorMessage(w->conn));
		return -1;
	}
	w->in_copy = 0;
	res = PQgetResult(w->conn);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		set_pq_error(err, errlen, "database", PQresultErrorMessage(res));
		PQclear(res);
		while ((res = PQgetResult(w->conn)) != NULL)
			PQclear(res);
		return -1;
	}
	rows = atoll(PQcmdTuples(res));
	PQclear(res);
	while ((res = PQgetResult(w->conn)) != NULL)
		PQclear(res);
	snprintf(sql, sizeof(sql), "ANALYZE %s", w->table_sql);
	if (run_command(w, sql, err, errlen) != 0)
		return -1;
	if (run_command(w, "COMMIT", err, errlen) != 0)
		return -1;
	PQfinish(w->conn);
	w->conn = NULL;
	free(w->buf.data);
	free(w->table_sql);
	memset(w, 0, sizeof(*w));
	return rows;
}

void
copy_writer_abort(CopyWriter *w, const char *reason)
{
	PGresult   *res;

	if (w->conn && PQstatus(w->conn) == CONNECTION_OK)
	{
		if (w->in_copy)
		{
			PQputCopyEnd(w->conn, reason ? reason : "mlpscale-load aborted");
			while ((res = PQgetResult(w->conn)) != NULL)
				PQclear(res);
		}
		res = PQexec(w->conn, "ROLLBACK");
		PQclear(res);
	}
	if (w->conn)
		PQfinish(w->conn);
	free(w->buf.data);
	free(w->table_sql);
	memset(w, 0, sizeof(*w));
}

/* One class of a table: for the check that no name has two labels. */
typedef struct TableClass
{
	const char *name;
	long		label;
} TableClass;

static int
compare_table_classes(const void *a, const void *b)
{
	return strcmp(((const TableClass *) a)->name, ((const TableClass *) b)->name);
}

/* The pairs of res (label, name; ordered by label) as names[label]; -1 with err. */
static int
classes_from_result(PGresult *res, const char *table, const char *class_column,
					char ***names, int *count, char *err, size_t errlen)
{
	int			n = PQntuples(res);
	long		max_label = -1;
	TableClass *byname = calloc((size_t) n + 1, sizeof(TableClass));

	if (!byname)
		goto oom;
	for (int i = 0; i < n; i++)
	{
		long		label = atol(PQgetvalue(res, i, 0));

		if (label < 0 || label >= 10000000)
		{
			snprintf(err, errlen, "table %s has label %ld, which is no class number (0 to "
					 "9999999)", table, label);
			goto fail;
		}
		if (label == max_label)
		{
			snprintf(err, errlen, "table %s gives label %ld two names in column \"%s\" "
					 "(\"%s\" and \"%s\")", table, label, class_column,
					 PQgetvalue(res, i - 1, 1), PQgetvalue(res, i, 1));
			goto fail;
		}
		max_label = label;
		byname[i] = (TableClass) {PQgetvalue(res, i, 1), label};
	}
	qsort(byname, (size_t) n, sizeof(TableClass), compare_table_classes);
	for (int i = 1; i < n; i++)
		if (strcmp(byname[i - 1].name, byname[i].name) == 0)
		{
			snprintf(err, errlen, "table %s names labels %ld and %ld both \"%s\"", table,
					 byname[i - 1].label, byname[i].label, byname[i].name);
			goto fail;
		}
	*count = (int) max_label + 1;
	*names = calloc((size_t) *count, sizeof(char *));
	if (!*names)
		goto oom;
	for (int i = 0; i < n; i++)
		if (!((*names)[byname[i].label] = strdup(byname[i].name)))
		{
			for (int k = 0; k < *count; k++)
				free((*names)[k]);
			free(*names);
			*names = NULL;
			goto oom;
		}
	free(byname);
	return 0;

oom:
	snprintf(err, errlen, "out of memory");
fail:
	free(byname);
	return -1;
}

int
copy_writer_read_classes(const char *const *keywords, const char *const *values,
						 const char *table, const char *label_column,
						 const char *class_column, char ***names, int *count,
						 char *err, size_t errlen)
{
	CopyWriter	w = {0};
	const char *params[2] = {table, class_column};
	PGresult   *res = NULL;
	char	   *table_sql = NULL;
	char	   *label_col = NULL;
	char	   *class_col = NULL;
	char		sql[2048];
	int			rc = -1;

	*names = NULL;
	*count = 0;
	w.conn = PQconnectdbParams(keywords, values, 1);
	if (!w.conn || PQstatus(w.conn) != CONNECTION_OK)
	{
		set_pq_error(err, errlen, "cannot connect", w.conn ? PQerrorMessage(w.conn) :
					 "out of memory");
		rc = -2;
		goto done;
	}
	res = run(&w,
			  "SELECT string_agg(quote_ident(part), '.' ORDER BY n), "
			  "       to_regclass($1) IS NOT NULL "
			  "  FROM unnest(parse_ident($1)) WITH ORDINALITY AS p(part, n)",
			  1, params, PGRES_TUPLES_OK, err, errlen);
	if (!res)
		goto done;
	if (strcmp(PQgetvalue(res, 0, 1), "t") != 0)
	{
		snprintf(err, errlen, "table %s does not exist (the training classes are read from "
				 "it)", PQgetvalue(res, 0, 0));
		goto done;
	}
	table_sql = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	res = run(&w,
			  "SELECT count(*) FROM pg_attribute "
			  " WHERE attrelid = to_regclass($1) AND attname = $2 AND NOT attisdropped",
			  2, params, PGRES_TUPLES_OK, err, errlen);
	if (!res)
		goto done;
	if (strcmp(PQgetvalue(res, 0, 0), "1") != 0)
	{
		snprintf(err, errlen, "table %s has no column \"%s\" of class names (mlpscale-load "
				 "writes one when its input names the classes); give --classes FILE",
				 table_sql, class_column);
		goto done;
	}
	PQclear(res);
	label_col = quote_ident(&w, label_column);
	class_col = quote_ident(&w, class_column);
	if (!table_sql || !label_col || !class_col)
	{
		res = NULL;
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	snprintf(sql, sizeof(sql),
			 "SELECT %s::bigint, %s::text FROM %s WHERE %s IS NOT NULL "
			 "GROUP BY 1, 2 ORDER BY 1, 2", label_col, class_col, table_sql, class_col);
	res = run(&w, sql, 0, NULL, PGRES_TUPLES_OK, err, errlen);
	if (!res)
		goto done;
	if (PQntuples(res) == 0)
	{
		snprintf(err, errlen, "table %s holds no class names in column \"%s\"", table_sql,
				 class_column);
		goto done;
	}
	rc = classes_from_result(res, table_sql, class_column, names, count, err, errlen);

done:
	PQclear(res);
	if (w.conn)
		PQfinish(w.conn);
	free(table_sql);
	free(label_col);
	free(class_col);
	return rc;
}
