/*
 * data_source.c - reading (image, label) rows of a table, view or query with SPI.
 *
 * Used by training (in the background worker) and by mlp_evaluate.  The rows are read with
 * the privileges of the current role, through a cursor so that only one batch of tuples is
 * in memory besides the packed uint8 result.
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/acl.h"
#include "utils/memutils.h"
#include "utils/plancache.h"
#include "utils/regproc.h"
#include "utils/rel.h"
#include "storage/bufmgr.h"
#include "storage/itemptr.h"

#include "core/arch.h"
#include "core/stream.h"
#include "data_source.h"
#include "image_type.h"

/* rows per fetch: their tuples and detoasted copies are memory beside the data */
#define MLP_SOURCE_FETCH_ROWS 100
#define MLP_SOURCE_SHOWN_CHARS 60

static const char *query_keywords[] = {"select", "with", "values", "table"};

bool
MlpSourceIsQuery(const char *source)
{
	const char *p = source;

	while (*p && (isspace((unsigned char) *p) || *p == '('))
		p++;
	for (int i = 0; i < lengthof(query_keywords); i++)
	{
		size_t		len = strlen(query_keywords[i]);

		if (pg_strncasecmp(p, query_keywords[i], len) == 0 &&
			!(isalnum((unsigned char) p[len]) || p[len] == '_' || p[len] == '$'))
			return true;
	}
	return false;
}

/* The source as shown in messages: queries can be long. */
static char *
ShownSource(const char *source)
{
	if (strlen(source) <= MLP_SOURCE_SHOWN_CHARS)
		return pstrdup(source);
	return psprintf("%.*s...", pg_mbcliplen(source, strlen(source), MLP_SOURCE_SHOWN_CHARS - 3),
					source);
}

/* "(query)" with trailing semicolons removed, on its own lines so a final comment is harmless. */
static char *
WrappedQuery(const char *query)
{
	size_t		len = strlen(query);

	while (len > 0 && (isspace((unsigned char) query[len - 1]) || query[len - 1] == ';'))
		len--;
	return psprintf("(\n%.*s\n) AS mlp_source", (int) len, query);
}

#define SOURCE_HINT "Give a table or view name, or a query starting with SELECT, WITH, VALUES or TABLE."

/* The OID of a relation name, with the current search_path; ERROR when there is none. */
static Oid
ResolveRelation(const char *source, const char *what)
{
	List	   *names;
	RangeVar   *rv;
	Oid			relid;

	if (source[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", what),
				 errhint(SOURCE_HINT)));
	names = stringToQualifiedNameList(source);
	rv = makeRangeVarFromNameList(names);
	relid = RangeVarGetRelid(rv, NoLock, true);
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("%s relation \"%s\" does not exist", what, source),
				 errhint(SOURCE_HINT)));
	return relid;
}

/* The quoted, schema-qualified name of relid; ERROR when it was dropped. */
static char *
QualifiedRelationName(Oid relid, const char *what, const char *shown)
{
	char	   *rel = get_rel_name(relid);
	char	   *nsp = rel ? get_namespace_name(get_rel_namespace(relid)) : NULL;

	if (rel == NULL || nsp == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("%s relation %s (OID %u) does not exist any more", what, shown, relid),
				 errhint("The relation named when the run was queued was dropped.")));
	return quote_qualified_identifier(nsp, rel);
}

static char *
SourceFromClause(const char *source, const char *what)
{
	if (MlpSourceIsQuery(source))
		return WrappedQuery(source);
	return QualifiedRelationName(ResolveRelation(source, what), what, source);
}

/* Attribute number of column name in desc, or 0; ERROR when the name is ambiguous. */
int
MlpColumnNumber(TupleDesc desc, const char *name, const char *what)
{
	int			found = 0;

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped || strcmp(NameStr(att->attname), name) != 0)
			continue;
		if (found != 0)
			ereport(ERROR,
					(errcode(ERRCODE_AMBIGUOUS_COLUMN),
					 errmsg("%s has more than one column \"%s\"", what, name)));
		found = i + 1;
	}
	return found;
}

static char *
ColumnList(TupleDesc desc)
{
	StringInfoData s;

	initStringInfo(&s);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			continue;
		appendStringInfo(&s, "%s%s %s", s.len ? ", " : "", quote_identifier(NameStr(att->attname)),
						 format_type_be(att->atttypid));
	}
	return s.data;
}

static int
RequireColumn(TupleDesc desc, const char *name, const char *what, const char *option)
{
	int			attno = MlpColumnNumber(desc, name, what);

	if (attno == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("%s has no column \"%s\"", what, name),
				 errdetail("Its columns are: %s.", ColumnList(desc)),
				 errhint("Rename the column in a query (SELECT ... AS %s), or pass %s.",
						 quote_identifier(name), option)));
	return attno;
}

/* The image and label columns of desc exist and have the right types; ERROR otherwise. */
static void
CheckColumns(TupleDesc desc, const char *image_column, const char *label_column,
			 const char *what, int *image_att, int *label_att, Oid *label_type)
{
	*image_att = RequireColumn(desc, image_column, what, "image_column");
	if (TupleDescAttr(desc, *image_att - 1)->atttypid != MlpImageTypeOid())
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" of the %s has type %s, not image", image_column, what,
						format_type_be(TupleDescAttr(desc, *image_att - 1)->atttypid)),
				 errhint("Convert with image_from_bytes(data, channels, height, width) or image_decode(data).")));
	*label_att = 0;
	*label_type = InvalidOid;
	if (label_column != NULL)
	{
		*label_att = RequireColumn(desc, label_column, what, "label_column");
		*label_type = TupleDescAttr(desc, *label_att - 1)->atttypid;
		if (!MlpIsIntegerType(*label_type))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" of the %s has type %s, not an integer type",
							label_column, what, format_type_be(*label_type)),
					 errhint("Labels are class numbers from 0; cast them in a query.")));
	}
}

/* ERROR 42501 unless the current role may read the columns of relid the source uses. */
static void
CheckReadable(Oid relid, const char *what, const char *name, const char *image_column,
			  const char *label_column)
{
	Oid			user = GetUserId();
	const char *cols[2] = {image_column, label_column};

	if (pg_class_aclcheck(relid, user, ACL_SELECT) == ACLCHECK_OK)
		return;
	for (int i = 0; i < 2; i++)
	{
		AttrNumber	att;

		if (cols[i] == NULL)
			continue;
		att = get_attnum(relid, cols[i]);
		if (att == InvalidAttrNumber ||
			pg_attribute_aclcheck(relid, att, user, ACL_SELECT) != ACLCHECK_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to read %s relation %s", what, name),
					 errdetail("Role \"%s\" has no SELECT privilege on %s%s%s.",
							   GetUserNameFromId(user, false), name,
							   att == InvalidAttrNumber ? "" : " column ",
							   att == InvalidAttrNumber ? "" : quote_identifier(cols[i])),
					 errhint("The training worker reads the data as the role that queued the run.")));
	}
}

void
MlpResolveSource(const char *source, const char *what, const char *image_column,
				 const char *label_column, MlpResolvedSource *out)
{
	char	   *sql;
	SPIPlanPtr	plan;
	List	   *sources;
	TupleDesc	desc;
	int			image_att,
				label_att;
	Oid			label_type;

	if (MlpSourceIsQuery(source))
	{
		out->relid = InvalidOid;
		out->name = pstrdup(source);
		sql = psprintf("SELECT * FROM %s", WrappedQuery(source));
	}
	else
	{
		out->relid = ResolveRelation(source, what);
		out->name = QualifiedRelationName(out->relid, what, source);
		CheckReadable(out->relid, what, out->name, image_column, label_column);
		sql = psprintf("SELECT * FROM %s", out->name);
	}

	/* Parse and plan only: nothing of the source runs in the caller's transaction. */
	plan = SPI_prepare(sql, 0, NULL);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for %s \"%s\": %s", what, ShownSource(source),
			 SPI_result_code_string(SPI_result));
	sources = SPI_plan_get_plan_sources(plan);
	if (list_length(sources) != 1 ||
		((CachedPlanSource *) linitial(sources))->resultDesc == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a single query that returns rows", what),
				 errhint(SOURCE_HINT)));
	desc = ((CachedPlanSource *) linitial(sources))->resultDesc;
	CheckColumns(desc, image_column, label_column, what, &image_att, &label_att, &label_type);
	SPI_freeplan(plan);
}

void
MlpSourceClassCounts(const MlpResolvedSource *src, const char *label_column,
					 MlpClassCounts *out)
{
	char	   *from = OidIsValid(src->relid) ?
		QualifiedRelationName(src->relid, "source", src->name) : WrappedQuery(src->name);
	char	   *sql;
	int			ret;

	/* count is qualified: the caller's search_path may put a schema before pg_catalog */
	sql = psprintf("SELECT l, pg_catalog.count(*) FROM (SELECT %s AS l FROM %s) AS mlp_labels "
				   "WHERE l IS NOT NULL GROUP BY l ORDER BY l",
				   quote_identifier(label_column), from);
	ret = SPI_execute(sql, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not count the classes of the source: %s",
			 SPI_result_code_string(ret));
	out->k = (int) SPI_processed;
	out->labels = SPI_palloc(sizeof(int64) * Max(out->k, 1));
	out->counts = SPI_palloc(sizeof(int64) * Max(out->k, 1));
	out->total = 0;
	for (int i = 0; i < out->k; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		out->labels[i] = MlpIntegerDatum(SPI_getbinval(tup, desc, 1, &isnull),
										 TupleDescAttr(desc, 0)->atttypid);
		out->counts[i] = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
		out->total += out->counts[i];
	}
	SPI_freetuptable(SPI_tuptable);
}

Portal
MlpOpenSelectCursor(const char *query, const char *columns)
{
	SPIPlanPtr	plan;

	plan = SPI_prepare(query, 0, NULL);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	/* Only a plain SELECT: an INSERT ... RETURNING would write under a read-only snapshot. */
	if (!SPI_is_cursor_plan(plan) ||
		((CachedPlanSource *) linitial(SPI_plan_get_plan_sources(plan)))->commandTag != CMDTAG_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("query must be a single SELECT statement"),
				 errhint("Give a SELECT of the columns %s.", columns)));
	return SPI_cursor_open(NULL, plan, NULL, NULL, true);
}

bool
MlpIsIntegerType(Oid type)
{
	return type == INT2OID || type == INT4OID || type == INT8OID;
}

int64
MlpIntegerDatum(Datum d, Oid type)
{
	switch (type)
	{
		case INT2OID:
			return DatumGetInt16(d);
		case INT4OID:
			return DatumGetInt32(d);
		default:
			return DatumGetInt64(d);
	}
}

/* What MlpLoadSource keeps while it reads, row by row. */
typedef struct SourceReader
{
	const MlpSourceOptions *opts;
	const char *what;
	const char *image_column;
	const char *label_column;
	MemoryContext result_cxt;
	int			image_att;
	int			label_att;
	Oid			label_type;
	Size		image_bytes;
	int64		capacity;		/* rows out->images has room for */
	MlpSourceData *out;
} SourceReader;

/* The cursor over the source's rows, its columns checked. */
static Portal
OpenSourceCursor(SourceReader *r, const char *shown)
{
	const MlpSourceOptions *opts = r->opts;
	char	   *sql;
	SPIPlanPtr	plan;
	Portal		portal;

	if (OidIsValid(opts->relid))
	{
		/* Exactly the relation resolved when the run was queued, only the columns it uses. */
		char	   *rel = QualifiedRelationName(opts->relid, r->what, shown);

		if (r->label_column != NULL)
			sql = psprintf("SELECT %s, %s FROM %s", quote_identifier(r->image_column),
						   quote_identifier(r->label_column), rel);
		else
			sql = psprintf("SELECT %s FROM %s", quote_identifier(r->image_column), rel);
	}
	else
		sql = psprintf("SELECT * FROM %s", SourceFromClause(opts->source, r->what));
	plan = SPI_prepare(sql, 0, NULL);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for %s \"%s\": %s", r->what, shown,
			 SPI_result_code_string(SPI_result));
	portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);
	CheckColumns(portal->tupDesc, r->image_column, r->label_column, r->what, &r->image_att,
				 &r->label_att, &r->label_type);
	return portal;
}

/*
 * Room for row n (0-based) in out->images and out->labels, within the memory limit; false
 * (with stop_over_limit) when there is none.
 */
static bool
MakeRoom(SourceReader *r, int64 n)
{
	const MlpSourceOptions *opts = r->opts;
	MlpSourceData *out = r->out;
	int64		want;

	if (n < r->capacity)
		return true;
	want = r->capacity == 0 ? 1024 : r->capacity * 2;
	/* a training run's budget covers the fetch too (its tuples and their detoasted copies) */
	if (opts->memory_limit > 0 && opts->stop_over_limit &&
		(Size) (n + 1 + 2 * MLP_SOURCE_FETCH_ROWS) * r->image_bytes > opts->memory_limit)
	{
		out->over_limit = true;
		return false;
	}
	if (opts->memory_limit > 0 && (Size) (n + 1) * r->image_bytes > opts->memory_limit)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the images of the %s need more than %zu bytes of memory, the limit",
						r->what, opts->memory_limit),
				 errdetail("%lld rows of %zu bytes were read so far.",
						   (long long) (n + 1), r->image_bytes),
				 opts->memory_setting ?
				 errhint("Use fewer rows or smaller images, or raise %s.", opts->memory_setting) :
				 errhint("Use fewer rows or smaller images.")));
	if (opts->memory_limit > 0 && (Size) want * r->image_bytes > opts->memory_limit)
		want = Max(n + 1, (int64) (opts->memory_limit / r->image_bytes));
	if (out->images == NULL)
		out->images = MemoryContextAllocHuge(r->result_cxt, want * r->image_bytes);
	else
		out->images = repalloc_huge(out->images, want * r->image_bytes);
	if (r->label_column != NULL)
	{
		if (out->labels == NULL)
			out->labels = MemoryContextAllocHuge(r->result_cxt, want * sizeof(int32));
		else
			out->labels = repalloc_huge(out->labels, want * sizeof(int32));
	}
	r->capacity = want;
	return true;
}

/*
 * The image of row n (0-based), detoasted in batch_cxt, checked against the first row's
 * shape; false when it does not fit the memory limit (stop_over_limit).
 */
static bool
ReadImage(SourceReader *r, HeapTuple tup, TupleDesc desc, int64 n, MemoryContext batch_cxt)
{
	MlpSourceData *out = r->out;
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, r->image_att, &isnull);
	MlpImage   *img;
	MemoryContext old;

	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("row %lld of the %s has a null image", (long long) (n + 1), r->what),
				 errhint("Filter the rows in a query: WHERE %s IS NOT NULL.",
						 quote_identifier(r->image_column))));
	old = MemoryContextSwitchTo(batch_cxt);
	img = DatumGetMlpImageP(d);
	MemoryContextSwitchTo(old);

	if (n == 0)
	{
		out->channels = img->channels;
		out->height = img->height;
		out->width = img->width;
		r->image_bytes = MlpImageNumBytes(img);
	}
	else if (img->channels != out->channels || img->height != out->height ||
			 img->width != out->width)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("row %lld of the %s has an image of shape %dx%dx%d, not %dx%dx%d like the first row",
						(long long) (n + 1), r->what, img->channels, img->height, img->width,
						out->channels, out->height, out->width),
				 errhint("Resize the images in a query with image_resize(image, height, width).")));
	if (!MakeRoom(r, n))
		return false;
	memcpy(out->images + (Size) n * r->image_bytes, img->data, r->image_bytes);
	return true;
}

/* The label of row n (0-based), checked to be in [0, classes). */
static void
ReadLabel(SourceReader *r, HeapTuple tup, TupleDesc desc, int64 n)
{
	const MlpSourceOptions *opts = r->opts;
	int			limit = opts->classes > 0 ? opts->classes : MLP_ARCH_MAX_CLASSES;
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, r->label_att, &isnull);
	int64		label;

	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("row %lld of the %s has a null label", (long long) (n + 1), r->what),
				 errhint("Filter the rows in a query: WHERE %s IS NOT NULL.",
						 quote_identifier(r->label_column))));
	label = MlpIntegerDatum(d, r->label_type);
	if (label < 0 || label >= limit)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("row %lld of the %s has label %lld, outside [0, %d)",
						(long long) (n + 1), r->what, (long long) label, limit),
				 opts->classes > 0 ?
				 errdetail("The model has %d classes.", opts->classes) : 0));
	r->out->labels[n] = (int32) label;
	r->out->max_label = Max(r->out->max_label, (int32) label);
}

void
MlpLoadSource(const MlpSourceOptions *opts, MlpSourceData *out)
{
	SourceReader r;
	MemoryContext batch_cxt;
	Portal		portal;
	int64		n = 0;
	char	   *shown;

	memset(&r, 0, sizeof(r));
	r.opts = opts;
	r.what = opts->what ? opts->what : "source";
	r.image_column = opts->image_column ? opts->image_column : "image";
	r.label_column = opts->label_column;
	r.result_cxt = CurrentMemoryContext;
	r.out = out;
	if (opts->source == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", r.what)));
	shown = ShownSource(opts->source);
	memset(out, 0, sizeof(*out));
	out->max_label = -1;

	portal = OpenSourceCursor(&r, shown);
	batch_cxt = AllocSetContextCreate(CurrentMemoryContext, "mlpscale source batch",
									  ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		SPI_cursor_fetch(portal, true, MLP_SOURCE_FETCH_ROWS);
		if (SPI_processed == 0)
			break;
		for (uint64 i = 0; i < SPI_processed && !out->over_limit; i++, n++)
		{
			if (!ReadImage(&r, SPI_tuptable->vals[i], SPI_tuptable->tupdesc, n, batch_cxt))
				break;
			if (r.label_column != NULL)
				ReadLabel(&r, SPI_tuptable->vals[i], SPI_tuptable->tupdesc, n);
		}
		SPI_freetuptable(SPI_tuptable);
		MemoryContextReset(batch_cxt);
		if (out->over_limit)
			break;
	}
	SPI_cursor_close(portal);
	MemoryContextDelete(batch_cxt);
	if (out->over_limit)
	{
		/* the caller streams instead: give the memory back now */
		if (out->images)
			pfree(out->images);
		if (out->labels)
			pfree(out->labels);
		out->images = NULL;
		out->labels = NULL;
		out->n = 0;
		return;
	}

	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s \"%s\" has no rows", r.what, shown)));
	out->n = n;
}

/* ---- streaming ------------------------------------------------------------------------------ */


bool
MlpSourceRangeReadable(Oid relid)
{
	char		kind = OidIsValid(relid) ? get_rel_relkind(relid) : '\0';

	return kind == RELKIND_RELATION || kind == RELKIND_MATVIEW;
}

BlockNumber
MlpSourceBlocks(Oid relid)
{
	Relation	rel;
	BlockNumber n;

	if (!MlpSourceRangeReadable(relid))
		return 0;
	rel = table_open(relid, AccessShareLock);
	n = RelationGetNumberOfBlocks(rel);
	table_close(rel, AccessShareLock);
	return n;
}

void
MlpStreamOpen(MlpSourceStream *s, const MlpSourceOptions *opts, int64 range_blocks,
			  uint64 seed, int epoch, int channels, int height, int width)
{
	const char *label_column = opts->label_column;
	char	   *sql;

	memset(s, 0, sizeof(*s));
	s->opts = *opts;
	s->what = opts->what ? opts->what : "source";
	s->image_column = opts->image_column ? opts->image_column : "image";
	if (opts->source == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", s->what)));
	s->shown = ShownSource(opts->source);
	s->channels = channels;
	s->height = height;
	s->width = width;
	s->image_bytes = (Size) channels * height * width;
	s->max_label = -1;
	s->by_ranges = range_blocks > 0 && MlpSourceRangeReadable(opts->relid);
	if (OidIsValid(opts->relid))
	{
		char	   *rel = QualifiedRelationName(opts->relid, s->what, s->shown);
		char	   *cols = label_column ?
			psprintf("%s, %s", quote_identifier(s->image_column), quote_identifier(label_column)) :
			pstrdup(quote_identifier(s->image_column));

		/* qualified operators: the user's search_path may come before pg_catalog */
		if (s->by_ranges)
			sql = psprintf("SELECT %s FROM %s WHERE ctid OPERATOR(pg_catalog.>=) $1 "
						   "AND ctid OPERATOR(pg_catalog.<) $2", cols, rel);
		else
			sql = psprintf("SELECT %s FROM %s", cols, rel);
	}
	else
		sql = psprintf("SELECT * FROM %s", SourceFromClause(opts->source, s->what));

	if (s->by_ranges)
	{
		Oid			types[2] = {TIDOID, TIDOID};

		s->plan = SPI_prepare(sql, 2, types);
		s->range_blocks = range_blocks;
		s->nblocks = MlpSourceBlocks(opts->relid);
		s->nranges = ((int64) s->nblocks + range_blocks - 1) / range_blocks;
		s->ranges = palloc(sizeof(int64) * Max(s->nranges, 1));
		mlp_stream_range_order(seed, epoch, s->ranges, s->nranges);
	}
	else
		s->plan = SPI_prepare(sql, 0, NULL);
	if (s->plan == NULL)
		elog(ERROR, "SPI_prepare failed for %s \"%s\": %s", s->what, s->shown,
			 SPI_result_code_string(SPI_result));
	s->batch_cxt = AllocSetContextCreate(CurrentMemoryContext, "mlpscale stream batch",
										 ALLOCSET_DEFAULT_SIZES);
}

/* The cursor of the next range (or the only cursor); false when there is none left. */
static bool
StreamNextPortal(MlpSourceStream *s)
{
	if (s->by_ranges)
	{
		ItemPointerData from,
					to;
		Datum		values[2];
		int64		r;
		BlockNumber first,
					end;

		if (s->next_range >= s->nranges)
			return false;
		r = s->ranges[s->next_range++];
		first = (BlockNumber) (r * s->range_blocks);
		/* the last range is open above: rows of blocks added since are visible to none */
		end = r == s->nranges - 1 ? MaxBlockNumber : (BlockNumber) ((r + 1) * s->range_blocks);
		ItemPointerSet(&from, first, 0);
		ItemPointerSet(&to, end, 0);
		values[0] = PointerGetDatum(&from);
		values[1] = PointerGetDatum(&to);
		s->portal = SPI_cursor_open(NULL, s->plan, values, NULL, true);
	}
	else
	{
		if (s->done)
			return false;
		s->done = true;			/* one cursor only */
		s->portal = SPI_cursor_open(NULL, s->plan, NULL, NULL, true);
	}
	if (s->image_att == 0)
		CheckColumns(s->portal->tupDesc, s->image_column, s->opts.label_column, s->what,
					 &s->image_att, &s->label_att, &s->label_type);
	return true;
}

/* Row s->rows of the stream into images[at] and labels[at], checked. */
static void
StreamRow(MlpSourceStream *s, HeapTuple tup, TupleDesc desc, uint8 *images, int32 *labels,
		  int64 at)
{
	int64		n = s->rows;
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, s->image_att, &isnull);
	MlpImage   *img;
	MemoryContext old;

	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("row %lld read of the %s has a null image", (long long) (n + 1), s->what),
				 errhint("Filter the rows in a query: WHERE %s IS NOT NULL.",
						 quote_identifier(s->image_column))));
	old = MemoryContextSwitchTo(s->batch_cxt);
	img = DatumGetMlpImageP(d);
	MemoryContextSwitchTo(old);
	if (s->channels == 0)
	{
		s->channels = img->channels;
		s->height = img->height;
		s->width = img->width;
		s->image_bytes = MlpImageNumBytes(img);
	}
	else if (img->channels != s->channels || img->height != s->height ||
			 img->width != s->width)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("row %lld read of the %s has an image of shape %dx%dx%d, not %dx%dx%d like the others",
						(long long) (n + 1), s->what, img->channels, img->height, img->width,
						s->channels, s->height, s->width),
				 errhint("Resize the images in a query with image_resize(image, height, width).")));
	if (images == NULL)
	{
		if (s->scratch == NULL)
		{
			s->scratch = MemoryContextAllocHuge(s->scratch_cxt, s->scratch_rows * s->image_bytes);
			s->scratch_labels = MemoryContextAlloc(s->scratch_cxt,
												   s->scratch_rows * sizeof(int32));
		}
		images = s->scratch;
		labels = s->scratch_labels;
	}
	memcpy(images + (Size) at * s->image_bytes, img->data, s->image_bytes);

	if (s->opts.label_column != NULL)
	{
		int			limit = s->opts.classes > 0 ? s->opts.classes : MLP_ARCH_MAX_CLASSES;
		int64		label;

		d = SPI_getbinval(tup, desc, s->label_att, &isnull);
		if (isnull)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("row %lld read of the %s has a null label", (long long) (n + 1),
							s->what),
					 errhint("Filter the rows in a query: WHERE %s IS NOT NULL.",
							 quote_identifier(s->opts.label_column))));
		label = MlpIntegerDatum(d, s->label_type);
		if (label < 0 || label >= limit)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("row %lld read of the %s has label %lld, outside [0, %d)",
							(long long) (n + 1), s->what, (long long) label, limit),
					 s->opts.classes > 0 ?
					 errdetail("The model has %d classes.", s->opts.classes) : 0));
		labels[at] = (int32) label;
		s->max_label = Max(s->max_label, (int32) label);
	}
	s->rows++;
}

int64
MlpStreamRead(MlpSourceStream *s, uint8 *images, int32 *labels, int64 capacity)
{
	int64		got = 0;

	if (images == NULL && s->scratch_rows == 0)
	{
		s->scratch_rows = capacity;
		s->scratch_cxt = CurrentMemoryContext;
	}
	Assert(images != NULL || capacity <= s->scratch_rows);
	while (got < capacity)
	{
		if (s->portal == NULL && !StreamNextPortal(s))
			break;
		CHECK_FOR_INTERRUPTS();
		SPI_cursor_fetch(s->portal, true, (long) Min(capacity - got, MLP_STREAM_FETCH_ROWS));
		if (SPI_processed == 0)
		{
			SPI_freetuptable(SPI_tuptable);
			SPI_cursor_close(s->portal);
			s->portal = NULL;
			continue;
		}
		for (uint64 i = 0; i < SPI_processed; i++, got++)
			StreamRow(s, SPI_tuptable->vals[i], SPI_tuptable->tupdesc, images, labels, got);
		SPI_freetuptable(SPI_tuptable);
		MemoryContextReset(s->batch_cxt);
	}
	return got;
}

void
MlpStreamClose(MlpSourceStream *s)
{
	if (s->portal)
		SPI_cursor_close(s->portal);
	s->portal = NULL;
	if (s->plan)
		SPI_freeplan(s->plan);
	s->plan = NULL;
	if (s->batch_cxt)
		MemoryContextDelete(s->batch_cxt);
	s->batch_cxt = NULL;
	if (s->scratch)
		pfree(s->scratch);
	if (s->scratch_labels)
		pfree(s->scratch_labels);
	s->scratch = NULL;
	s->scratch_labels = NULL;
}
