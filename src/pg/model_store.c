/*
 * model_store.c - versions of models in mlpscale.models: look-up, insertion, loading.
 *
 * All access goes through SPI with typed parameters, as the extension owner under the pinned
 * search_path (row-level security would hide other roles' rows from the caller, and the
 * checks must see them to say why a model is refused).  A model is usable by its owner's
 * role and the roles it is shared with (mlp_grant); every read checks that for the current
 * role, every insert that the role may add a version to the name.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "core/arch.h"
#include "mlpscale.h"
#include "model_store.h"
#include "privilege.h"
#include "sql_values.h"


/* Advisory lock class that serialises the versions of one name. */
#define MLP_MODEL_LOCK_CLASS 0x6d6c70	/* "mlp" */

void
MlpCheckModelName(const char *name)
{
	if (name == NULL || name[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model name must not be empty")));
	if (strlen(name) > MLP_MODEL_NAME_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("model name \"%s\" is too long", name),
				 errdetail("Model names have at most %d bytes.", MLP_MODEL_NAME_MAX)));
	if (strchr(name, '@') != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model name \"%s\" must not contain \"@\"", name),
				 errhint("\"name@N\" refers to version N of a model.")));
}

void
MlpParseModelRef(const char *ref, char **name_out, int *version_out)
{
	const char *at = strrchr(ref, '@');
	int			version = 0;

	if (at != NULL)
	{
		const char *p = at + 1;
		int64		v = 0;

		if (*p == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid model reference \"%s\"", ref),
					 errhint("Give a model name, or \"name@N\" for version N.")));
		for (; *p; p++)
		{
			if (*p < '0' || *p > '9' || v > INT_MAX / 10)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid model version \"%s\" in \"%s\"", at + 1, ref),
						 errhint("Give a model name, or \"name@N\" for version N.")));
			v = v * 10 + (*p - '0');
		}
		if (v < 1 || v > INT_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid model version \"%s\" in \"%s\"", at + 1, ref),
					 errdetail("Versions start at 1.")));
		version = (int) v;
	}
	if (at == ref || ref[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model name must not be empty")));
	if ((at ? (size_t) (at - ref) : strlen(ref)) > MLP_MODEL_NAME_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("model name \"%s\" is too long", ref),
				 errdetail("Model names have at most %d bytes.", MLP_MODEL_NAME_MAX)));
	*name_out = at ? pnstrdup(ref, at - ref) : pstrdup(ref);
	*version_out = version;
}

/*
 * Whether the role in parameter param (e.g. "$3") may use model m: its own (or of a role
 * whose privileges it has), or shared with it or with every role.  For the owner-side
 * queries below.
 */
#define MLP_MODEL_USABLE_SQL(param) \
	"(pg_catalog.pg_has_role(" param ", m.owner, 'USAGE') OR EXISTS (SELECT 1 FROM " \
	MLP_TABLE(model_acl) " g WHERE g.model_name" MLP_EQ "m.name AND " \
	"(g.grantee" MLP_EQ "0::pg_catalog.oid OR pg_catalog.pg_has_role(" param ", g.grantee, 'USAGE'))))"

/*
 * Runs the look-up of ref (SPI connected) as the extension owner, so that row-level security
 * hides nothing and the access check below is ours; returns the number of rows (0 or 1) with
 * columns id, version, created_at, owner, usable, and extra_column when not NULL.
 */
static uint64
LookupRef(const char *name, int version, const char *extra_column)
{
	char		sql[1024];
	Oid			types[3] = {TEXTOID, INT4OID, OIDOID};
	Datum		values[3];
	MlpSavedUser saved;
	int			rc;

	values[0] = CStringGetTextDatum(name);
	values[1] = Int32GetDatum(version);
	values[2] = ObjectIdGetDatum(GetUserId());
	snprintf(sql, sizeof(sql),
			 "SELECT m.id, m.version, m.created_at, m.owner, " MLP_MODEL_USABLE_SQL("$3") "%s%s "
			 "FROM " MLP_TABLE(models) " m WHERE m.name" MLP_EQ "$1 "
			 "AND ($2" MLP_EQ "0 OR m.version" MLP_EQ "$2) ORDER BY m.version DESC LIMIT 1",
			 extra_column ? ", m." : "", extra_column ? extra_column : "");
	MlpBecomeExtensionOwner(&saved);
	rc = SPI_execute_with_args(sql, 3, types, values, NULL, true, 1);
	MlpRestoreUser(&saved);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "looking up model \"%s\" failed: %s", name, SPI_result_code_string(rc));
	return SPI_processed;
}

static int64
GetInt64Column(int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, &isnull);

	return isnull ? 0 : DatumGetInt64(d);
}

static char *
RoleNameOrDropped(Oid role)
{
	char	   *name = GetUserNameFromId(role, true);

	return name ? name : psprintf("(dropped role %u)", role);
}

/* ERROR 42501 unless the row LookupRef found is usable by the current role. */
static void
CheckLookedUpAccess(const char *name)
{
	bool		isnull;
	Oid			owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
													   SPI_tuptable->tupdesc, 4, &isnull));
	bool		usable = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
													SPI_tuptable->tupdesc, 5, &isnull));

	if (!usable)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for model \"%s\"", name),
				 errdetail("Model \"%s\" belongs to role \"%s\" and is not shared with role \"%s\".",
						   name, RoleNameOrDropped(owner), RoleNameOrDropped(GetUserId())),
				 errhint("Its owner can share it: SELECT mlp_grant('%s', '%s').", name,
						 RoleNameOrDropped(GetUserId()))));
}

int64
MlpModelStoreResolve(const char *ref, int *version_out, TimestampTz *created_out)
{
	char	   *name;
	int			version;
	int64		id = 0;

	MlpParseModelRef(ref, &name, &version);
	MlpSpiConnect();
	if (LookupRef(name, version, NULL) > 0)
	{
		bool		isnull;
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;

		CheckLookedUpAccess(name);
		id = GetInt64Column(1);
		if (version_out)
			*version_out = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
		if (created_out)
			*created_out = DatumGetTimestampTz(SPI_getbinval(tup, desc, 3, &isnull));
	}
	SPI_finish();
	return id;
}

/* ERROR for a reference that means no model (SPI connected). */
static void
ReportMissingModel(const char *ref, const char *name, int version)
{
	if (version > 0 && LookupRef(name, 0, NULL) > 0)
	{
		bool		isnull;
		int			latest;

		CheckLookedUpAccess(name);
		latest = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2,
											 &isnull));
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" has no version %d", name, version),
				 errdetail("Its latest version is %d.", latest)));
	}
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("model \"%s\" does not exist", name),
			 errhint("Models are listed in table mlpscale.models.")));
}

int64
MlpModelStoreResolveOrError(const char *ref, int *version_out)
{
	char	   *name;
	int			version;
	int64		id;

	MlpParseModelRef(ref, &name, &version);
	MlpSpiConnect();
	if (LookupRef(name, version, NULL) == 0)
		ReportMissingModel(ref, name, version);
	CheckLookedUpAccess(name);
	id = GetInt64Column(1);
	if (version_out)
	{
		bool		isnull;

		*version_out = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
												   SPI_tuptable->tupdesc, 2, &isnull));
	}
	SPI_finish();
	return id;
}

Oid
MlpModelStoreOwner(const char *name)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(name)};
	Oid			owner = InvalidOid;
	MlpSavedUser saved;
	int			rc;

	MlpSpiConnect();
	MlpBecomeExtensionOwner(&saved);
	rc = SPI_execute_with_args("SELECT owner FROM " MLP_TABLE(models) " WHERE name" MLP_EQ "$1 "
							   "ORDER BY version LIMIT 1", 1, types, values, NULL, true, 1);
	MlpRestoreUser(&saved);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading the owner of model \"%s\" failed: %s", name,
			 SPI_result_code_string(rc));
	if (SPI_processed == 1)
	{
		bool		isnull;

		owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
											   &isnull));
	}
	SPI_finish();
	return owner;
}

void
MlpCheckModelOwnership(const char *name, const char *action)
{
	Oid			owner = MlpModelStoreOwner(name);

	if (!OidIsValid(owner))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" does not exist", name),
				 errhint("Models are listed in table mlpscale.models.")));
	if (!has_privs_of_role(GetUserId(), owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to %s model \"%s\"", action, name),
				 errdetail("Model \"%s\" belongs to role \"%s\".", name, RoleNameOrDropped(owner)),
				 errhint("Only the owner of a model (or a member of its role, or a superuser) may %s it.",
						 action)));
}

static Datum
MakeInt4Array(const int *values, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * n);

	for (int i = 0; i < n; i++)
		d[i] = Int32GetDatum(values[i]);
	return PointerGetDatum(construct_array(d, n, INT4OID, 4, true, TYPALIGN_INT));
}

static Datum
MakeFloat4Array(const float *values, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * n);

	for (int i = 0; i < n; i++)
		d[i] = Float4GetDatum(values[i]);
	return PointerGetDatum(construct_array(d, n, FLOAT4OID, 4, true, TYPALIGN_INT));
}

static Datum
MakeTextArray(char *const *values, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * n);

	for (int i = 0; i < n; i++)
		d[i] = CStringGetTextDatum(values[i]);
	return PointerGetDatum(construct_array(d, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * The model and its metadata as a safetensors bytea, malloc'd (free() it): the core's buffer
 * grown by the header and shifted in place, so a large model is never held twice.
 */
static bytea *
SerialiseModel(const char *name, const MlpModel *model, const MlpModelMeta *meta)
{
	uint8_t    *buf = NULL;
	uint8_t    *grown;
	size_t		len = 0;
	char		err[MLP_ERRBUF];
	MlpWeightsStatus st;

	st = mlp_weights_export(model, meta, &buf, &len, err, sizeof(err));
	if (st != MLP_WEIGHTS_OK)
		ereport(ERROR,
				(errcode(st == MLP_WEIGHTS_NO_MEMORY ? ERRCODE_OUT_OF_MEMORY : ERRCODE_INTERNAL_ERROR),
				 errmsg("could not serialise model \"%s\": %s", name, err)));
	PG_TRY();
	{
		grown = (uint8_t *) MlpBufferToBytea(&buf, len, psprintf("model \"%s\"", name));
	}
	PG_CATCH();
	{
		free(buf);
		PG_RE_THROW();
	}
	PG_END_TRY();
	return (bytea *) grown;
}

/* ERROR 42501 unless role may add a version to model name, owned by name_owner. */
static void
CheckAddVersion(const char *name, Oid name_owner, Oid role)
{
	if (!has_privs_of_role(role, name_owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to add a version to model \"%s\"", name),
				 errdetail("Model \"%s\" belongs to role \"%s\".", name,
						   RoleNameOrDropped(name_owner)),
				 errhint("Choose another model name.")));
}

void
MlpCheckCanAddVersion(const char *name)
{
	Oid			owner = MlpModelStoreOwner(name);

	if (OidIsValid(owner))
		CheckAddVersion(name, owner, GetUserId());
}

/* Serialises concurrent inserts of one name, which would race for the same version. */
static void
LockModelName(const char *name)
{
	Oid			types[2] = {INT4OID, TEXTOID};
	Datum		values[2] = {Int32GetDatum(MLP_MODEL_LOCK_CLASS), CStringGetTextDatum(name)};
	int			rc;

	rc = SPI_execute_with_args("SELECT pg_catalog.pg_advisory_xact_lock($1, pg_catalog.hashtext($2))",
							   2, types, values, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "locking model name \"%s\" failed: %s", name, SPI_result_code_string(rc));
}

/*
 * The next version of name, and its owner: the role of its first version (later versions
 * belong to it too, even when a superuser or a member of the role adds them), or owner for
 * a new name.  ERROR 42501 when owner may not add to it.
 */
static int
NextVersion(const char *name, Oid *owner_inout)
{
	Oid			owner = *owner_inout;
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(name)};
	bool		isnull;
	Datum		d;
	int			version;
	int			rc;

	rc = SPI_execute_with_args("SELECT (SELECT owner FROM " MLP_TABLE(models) " WHERE name" MLP_EQ "$1 "
							   "ORDER BY version LIMIT 1), "
							   "GREATEST((SELECT pg_catalog.max(version) FROM " MLP_TABLE(models) " WHERE name" MLP_EQ "$1), "
							   "(SELECT last_version FROM " MLP_TABLE(model_versions_issued) " WHERE name" MLP_EQ "$1))",
							   1, types, values, NULL, false, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "reading the versions of model \"%s\" failed: %s", name,
			 SPI_result_code_string(rc));
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
	{
		Oid			name_owner = DatumGetObjectId(d);

		CheckAddVersion(name, name_owner, owner);
		owner = name_owner;
	}
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	version = isnull ? 1 : DatumGetInt32(d) + 1;
	*owner_inout = owner;
	return version;
}

/* The row of the new version (SPI connected, as the extension owner); returns its id. */
static int64
InsertVersionRow(const char *name, int version, const MlpModel *model,
				 const MlpModelMeta *meta, bytea *weights, int64 run_id, int64 parent_model_id,
				 Oid owner)
{
	char		arch[64];
	int			shape[3];
	int			rc;
	int64		id;
	Oid			types[13] = {TEXTOID, INT4OID, TEXTOID, INT4ARRAYOID, INT4OID,
		FLOAT4ARRAYOID, FLOAT4ARRAYOID, TEXTARRAYOID, INT8OID, BYTEAOID, INT8OID, INT8OID,
	OIDOID};
	Datum		values[13];
	char		nulls[13];
	SPIPlanPtr	plan;

	mlp_arch_format(&model->arch, arch, sizeof(arch));
	shape[0] = meta->input.channels;
	shape[1] = meta->input.height;
	shape[2] = meta->input.width;
	memset(nulls, ' ', sizeof(nulls));
	values[0] = CStringGetTextDatum(name);
	values[1] = Int32GetDatum(version);
	values[2] = CStringGetTextDatum(arch);
	values[3] = MakeInt4Array(shape, 3);
	values[4] = Int32GetDatum(meta->classes);
	values[5] = MakeFloat4Array(meta->mean, meta->input.channels);
	values[6] = MakeFloat4Array(meta->std, meta->input.channels);
	if (meta->num_class_names > 0)
		values[7] = MakeTextArray(meta->class_names, meta->num_class_names);
	else
	{
		values[7] = (Datum) 0;
		nulls[7] = 'n';
	}
	values[8] = Int64GetDatum(mlp_arch_param_count(&model->arch));
	values[9] = PointerGetDatum(weights);
	values[10] = Int64GetDatum(run_id);
	nulls[10] = run_id > 0 ? ' ' : 'n';
	values[11] = Int64GetDatum(parent_model_id);
	nulls[11] = parent_model_id > 0 ? ' ' : 'n';
	values[12] = ObjectIdGetDatum(owner);

	/*
	 * A generic plan: a custom one would fold $10 into a constant, a whole copy of the
	 * weights.
	 */
	plan = SPI_prepare_cursor("INSERT INTO " MLP_TABLE(models) " "
							  "(name, version, arch, input_shape, classes, mean, std, "
							  "class_names, params, weights, run_id, parent_model_id, owner, "
							  "content_sha256) "
							  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
							  "pg_catalog.sha256($10)) "
							  "RETURNING id",
							  13, types, CURSOR_OPT_GENERIC_PLAN);
	if (plan == NULL)
		elog(ERROR, "preparing the insert of model \"%s\" failed: %s", name,
			 SPI_result_code_string(SPI_result));
	rc = SPI_execute_plan(plan, values, nulls, false, 1);
	SPI_freeplan(plan);
	if (rc != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
		elog(ERROR, "inserting model \"%s\" failed: %s", name, SPI_result_code_string(rc));
	id = GetInt64Column(1);
	return id;
}

/* version is the highest ever given to name (SPI connected, as the extension owner). */
static void
RecordIssuedVersion(const char *name, int version)
{
	Oid			types[2] = {TEXTOID, INT4OID};
	Datum		values[2] = {CStringGetTextDatum(name), Int32GetDatum(version)};
	int			rc;

	rc = SPI_execute_with_args("INSERT INTO " MLP_TABLE(model_versions_issued) " (name, last_version) "
							   "VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET last_version = "
							   "GREATEST(" MLP_TABLE(model_versions_issued) ".last_version, "
							   "EXCLUDED.last_version)",
							   2, types, values, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "recording version %d of model \"%s\" failed: %s", version, name,
			 SPI_result_code_string(rc));
}

/*
 * True (and *id) when version of name exists with the content of weights; ERROR when it
 * exists with other content; false when it does not exist.
 */
static bool
ExistingVersionWithContent(const char *name, int version, bytea *weights, int64 *id)
{
	Oid			types[3] = {TEXTOID, INT4OID, BYTEAOID};
	Datum		values[3] = {CStringGetTextDatum(name), Int32GetDatum(version),
	PointerGetDatum(weights)};
	bool		isnull;
	SPIPlanPtr	plan;
	int			rc;

	/* generic: a custom plan would copy the weights into the plan as a constant */
	plan = SPI_prepare_cursor("SELECT id, content_sha256" MLP_EQ "pg_catalog.sha256($3) FROM "
							  MLP_TABLE(models) " WHERE name" MLP_EQ "$1 AND version" MLP_EQ "$2",
							  3, types, CURSOR_OPT_GENERIC_PLAN);
	if (plan == NULL)
		elog(ERROR, "preparing the lookup of model \"%s\" failed", name);
	rc = SPI_execute_plan(plan, values, NULL, true, 1);
	SPI_freeplan(plan);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading version %d of model \"%s\" failed: %s", version, name,
			 SPI_result_code_string(rc));
	if (SPI_processed == 0)
		return false;
	*id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("model version %s@%d already exists with other content", name, version),
				 errdetail("Its SHA-256 differs from that of the weights given."),
				 errhint("A stored version never changes; store it under another model name.")));
	return true;
}

static int64
InsertSerialised(const char *name, const MlpModel *model, const MlpModelMeta *meta,
				 bytea *weights, int64 run_id, int64 parent_model_id, Oid owner,
				 int want_version, int *version_out)
{
	int			version;
	int64		id;
	MlpSavedUser saved;

	MlpSpiConnect();
	/* Every statement here runs as the extension owner: the caller may see no row. */
	MlpBecomeExtensionOwner(&saved);
	LockModelName(name);
	version = NextVersion(name, &owner);
	if (want_version > 0)
	{
		if (ExistingVersionWithContent(name, want_version, weights, &id))
		{
			MlpRestoreUser(&saved);
			SPI_finish();
			if (version_out)
				*version_out = want_version;
			return id;
		}
		if (want_version < version)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("version %d of model \"%s\" cannot be stored: its versions have reached %d",
							want_version, name, version - 1),
					 errdetail("Version numbers are given once and in increasing order; a dropped or skipped number is not given later."),
					 errhint("Store it under another model name.")));
		version = want_version;
	}
	id = InsertVersionRow(name, version, model, meta, weights, run_id, parent_model_id, owner);
	RecordIssuedVersion(name, version);
	MlpRestoreUser(&saved);
	SPI_finish();
	if (version_out)
		*version_out = version;
	return id;
}

int64
MlpModelStoreInsert(const char *name, const MlpModel *model, const MlpModelMeta *meta,
					int64 run_id, int64 parent_model_id, Oid owner, int *version_out)
{
	bytea	   *weights;
	int64		id;

	MlpCheckModelName(name);
	weights = SerialiseModel(name, model, meta);
	PG_TRY();
	{
		id = InsertSerialised(name, model, meta, weights, run_id, parent_model_id, owner, 0,
							  version_out);
	}
	PG_FINALLY();
	{
		free(weights);
	}
	PG_END_TRY();
	return id;
}

int64
MlpModelStoreInsertAs(const char *name, const MlpModel *model, const MlpModelMeta *meta,
					  int version, Oid owner)
{
	bytea	   *weights;
	int64		id;

	MlpCheckModelName(name);
	weights = SerialiseModel(name, model, meta);
	PG_TRY();
	{
		id = InsertSerialised(name, model, meta, weights, 0, 0, owner, version, NULL);
	}
	PG_FINALLY();
	{
		free(weights);
	}
	PG_END_TRY();
	return id;
}

/* Unpacks stored safetensors; a failure means the stored row is damaged. */
static void
UnpackWeights(const char *what, bytea *weights, MlpModel *model_out, MlpModelMeta *meta_out)
{
	MlpImportOverrides none;
	char		err[MLP_ERRBUF];
	MlpWeightsStatus st;

	memset(&none, 0, sizeof(none));
	st = mlp_weights_import((const uint8_t *) VARDATA_ANY(weights), VARSIZE_ANY_EXHDR(weights),
							&none, model_out, meta_out, err, sizeof(err));
	if (st == MLP_WEIGHTS_NO_MEMORY)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory loading model %s", what),
				 errdetail("%s", err)));
	if (st != MLP_WEIGHTS_OK)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("stored weights of model %s are invalid: %s", what, err)));
}

void
MlpModelStoreLoad(const char *name, MlpModel *model_out, MlpModelMeta *meta_out,
				  int64 *model_id_out)
{
	char	   *base;
	int			version;
	bool		isnull;
	bytea	   *weights;
	char	   *what;

	MlpParseModelRef(name, &base, &version);
	MlpSpiConnect();
	if (LookupRef(base, version, "weights") == 0)
		ReportMissingModel(name, base, version);
	CheckLookedUpAccess(base);
	if (model_id_out)
		*model_id_out = GetInt64Column(1);
	weights = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 6,
											&isnull));
	what = psprintf("\"%s\"", name);
	UnpackWeights(what, weights, model_out, meta_out);
	SPI_finish();
}

void
MlpModelStoreLoadById(int64 model_id, MlpModel *model_out, MlpModelMeta *meta_out)
{
	Oid			types[2] = {INT8OID, OIDOID};
	Datum		values[2] = {Int64GetDatum(model_id), ObjectIdGetDatum(GetUserId())};
	bool		isnull;
	bytea	   *weights;
	char	   *what;
	char	   *name;
	MlpSavedUser saved;
	int			rc;

	MlpSpiConnect();
	MlpBecomeExtensionOwner(&saved);
	rc = SPI_execute_with_args("SELECT m.name, m.version, m.weights, m.owner, " MLP_MODEL_USABLE_SQL("$2") " "
							   "FROM " MLP_TABLE(models) " m WHERE m.id" MLP_EQ "$1",
							   2, types, values, NULL, true, 1);
	MlpRestoreUser(&saved);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading model %lld failed: %s", (long long) model_id,
			 SPI_result_code_string(rc));
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model with id %lld does not exist", (long long) model_id)));
	name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	CheckLookedUpAccess(name);
	what = psprintf("\"%s\" version %s", name,
					SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2));
	weights = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3,
											&isnull));
	UnpackWeights(what, weights, model_out, meta_out);
	SPI_finish();
}

bytea *
MlpModelStoreWeights(const char *ref, int64 *model_id_out)
{
	MemoryContext caller = CurrentMemoryContext;
	char	   *name;
	int			version;
	bool		isnull;
	Datum		d;
	bytea	   *result;

	MlpParseModelRef(ref, &name, &version);
	MlpSpiConnect();
	if (LookupRef(name, version, "weights") == 0)
		ReportMissingModel(ref, name, version);
	CheckLookedUpAccess(name);
	if (model_id_out)
		*model_id_out = GetInt64Column(1);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 6, &isnull);
	{
		MemoryContext old = MemoryContextSwitchTo(caller);

		result = DatumGetByteaPCopy(d);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return result;
}

bytea *
MlpModelStoreContentHash(const char *ref, int *version_out)
{
	MemoryContext caller = CurrentMemoryContext;
	char	   *name;
	int			version;
	bool		isnull;
	Datum		d;
	bytea	   *result;

	MlpParseModelRef(ref, &name, &version);
	MlpSpiConnect();
	if (LookupRef(name, version, "content_sha256") == 0)
		ReportMissingModel(ref, name, version);
	CheckLookedUpAccess(name);
	if (version_out)
		*version_out = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
												   2, &isnull));
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 6, &isnull);
	{
		MemoryContext old = MemoryContextSwitchTo(caller);

		result = DatumGetByteaPCopy(d);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return result;
}

char *
MlpModelStoreArch(int64 model_id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(model_id)};
	MemoryContext caller = CurrentMemoryContext;
	MlpSavedUser saved;
	char	   *arch;
	int			rc;

	MlpSpiConnect();
	MlpBecomeExtensionOwner(&saved);
	rc = SPI_execute_with_args("SELECT arch FROM " MLP_TABLE(models) " WHERE id" MLP_EQ "$1",
							   1, types, values, NULL, true, 1);
	MlpRestoreUser(&saved);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading model %lld failed: %s", (long long) model_id,
			 SPI_result_code_string(rc));
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model with id %lld does not exist", (long long) model_id)));
	arch = MemoryContextStrdup(caller, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
	SPI_finish();
	return arch;
}
