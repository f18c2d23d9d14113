/*
 * import_export.c - mlp_import, mlp_export, mlp_deploy, mlp_drop_model.
 *
 * Models come in and go out as safetensors with the reference PyTorch tensor names.  The
 * optional arguments of mlp_import supply what a bare state dict lacks and override the
 * file's metadata.  Writes to the bookkeeping tables happen as the extension owner after the
 * ownership checks made here.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "core/model_check.h"
#include "core/weights.h"
#include "image_type.h"
#include "mlpscale.h"
#include "model_store.h"
#include "sql_values.h"
#include "privilege.h"


static const char *
WeightsStatusWord(MlpWeightsStatus st)
{
	switch (st)
	{
		case MLP_WEIGHTS_CORRUPT:
			return "corrupt";
		case MLP_WEIGHTS_BAD_MODEL:
			return "bad model";
		default:
			return "error";
	}
}

/* ERROR for a failed mlp_weights_import, with the SQLSTATE of its kind; nothing when OK. */
static void
ReportImportStatus(MlpWeightsStatus st, const char *name, const char *err)
{
	switch (st)
	{
		case MLP_WEIGHTS_OK:
			break;
		case MLP_WEIGHTS_CORRUPT:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("invalid safetensors data for model \"%s\": %s", name, err),
					 errhint("mlp_import reads safetensors files (8-byte header length, JSON header, raw tensors).")));
			break;
		case MLP_WEIGHTS_BAD_MODEL:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("safetensors data for model \"%s\" do not hold a model of the paper's architectures: %s",
							name, err),
					 errhint("Tensor names and shapes must be those of the reference PyTorch code: linear_in.weight [W, C*H*W], blocks.{i}.block.0.weight [4W, W], ..., linear_out.bias [classes].")));
			break;
		case MLP_WEIGHTS_NO_INPUT_SHAPE:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cannot import model \"%s\": %s", name, err),
					 errhint("Pass input_shape => ARRAY[C,H,W], for example ARRAY[3,32,32].")));
			break;
		case MLP_WEIGHTS_BAD_ARGUMENT:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("arguments do not fit model \"%s\": %s", name, err)));
			break;
		case MLP_WEIGHTS_NO_MEMORY:
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory importing model \"%s\": %s", name, err)));
			break;
		default:
			elog(ERROR, "unexpected %s status %d importing model \"%s\": %s",
				 WeightsStatusWord(st), (int) st, name, err);
	}
}

/* input_shape, mean, std and class_names of mlp_import (arguments 2 to 5) into *ov. */
static void
ImportOverridesArgs(FunctionCallInfo fcinfo, MlpImportOverrides *ov)
{
	char	  **class_names;

	memset(ov, 0, sizeof(*ov));
	if (!PG_ARGISNULL(2))
	{
		Datum	   *elems;
		int			n;

		MlpArrayElements(PG_GETARG_ARRAYTYPE_P(2), INT4OID, "input_shape", &elems, &n);
		if (n != 3)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("input_shape must have 3 elements (channels, height, width), not %d", n),
					 errhint("Pass input_shape => ARRAY[C,H,W], for example ARRAY[3,32,32].")));
		ov->has_input = true;
		ov->input.channels = DatumGetInt32(elems[0]);
		ov->input.height = DatumGetInt32(elems[1]);
		ov->input.width = DatumGetInt32(elems[2]);
		CheckImageShape(ov->input.channels, ov->input.height, ov->input.width);
	}
	if (!PG_ARGISNULL(3))
		ov->num_mean = MlpChannelValues(PG_GETARG_ARRAYTYPE_P(3), "mean", false, ov->mean,
									   MLP_MAX_CHANNELS);
	if (!PG_ARGISNULL(4))
		ov->num_std = MlpChannelValues(PG_GETARG_ARRAYTYPE_P(4), "std", true, ov->std,
									  MLP_MAX_CHANNELS);
	if (!PG_ARGISNULL(5))
	{
		Datum	   *elems;
		int			n;

		MlpArrayElements(PG_GETARG_ARRAYTYPE_P(5), TEXTOID, "class_names", &elems, &n);
		if (n < 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("class_names must not be empty")));
		class_names = palloc(sizeof(char *) * n);
		for (int i = 0; i < n; i++)
			class_names[i] = TextDatumGetCString(elems[i]);
		ov->num_class_names = n;
		ov->class_names = (const char *const *) class_names;
	}

}

PG_FUNCTION_INFO_V1(mlp_import);
Datum
mlp_import(PG_FUNCTION_ARGS)
{
	char	   *name;
	bytea	   *data;
	MlpImportOverrides ov;
	char		err[MLP_ERRBUF];
	MlpModel	model;
	MlpModelMeta meta;
	MlpWeightsStatus st;
	int			version = 0;
	volatile int want_version = 0;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model_name must not be null")));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("data must not be null"),
				 errhint("Pass the bytes of a safetensors file, e.g. pg_read_binary_file('/path/model.safetensors').")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	MlpCheckModelName(name);
	data = PG_GETARG_BYTEA_PP(1);
	if (PG_NARGS() > 6 && !PG_ARGISNULL(6))
	{
		want_version = PG_GETARG_INT32(6);
		if (want_version < 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("version must be at least 1, not %d", want_version),
					 errhint("Leave version NULL to store the next version.")));
	}

	ImportOverridesArgs(fcinfo, &ov);
	st = mlp_weights_import((const uint8_t *) VARDATA_ANY(data), VARSIZE_ANY_EXHDR(data), &ov,
							&model, &meta, err, sizeof(err));
	ReportImportStatus(st, name, err);

	if (mlp_model_check_values(&model, &meta, err, sizeof(err)) != 0)
	{
		mlp_model_free(&model);
		mlp_model_meta_free(&meta);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot import model \"%s\": %s", name, err),
				 errdetail("Parameters must be finite with magnitude at most %g; mean within [-%g, %g] and std within [%g, %g] on the 0-1 pixel scale.",
						   (double) MLP_CHECK_MAX_ABS, (double) MLP_CHECK_MAX_MEAN,
						   (double) MLP_CHECK_MAX_MEAN, (double) MLP_CHECK_MIN_STD,
						   (double) MLP_CHECK_MAX_STD)));
	}

	PG_TRY();
	{
		if (want_version > 0)
		{
			(void) MlpModelStoreInsertAs(name, &model, &meta, want_version, GetUserId());
			version = want_version;
		}
		else
			(void) MlpModelStoreInsert(name, &model, &meta, 0, 0, GetUserId(), &version);
	}
	PG_FINALLY();
	{
		mlp_model_free(&model);
		mlp_model_meta_free(&meta);
	}
	PG_END_TRY();
	PG_RETURN_INT32(version);
}

PG_FUNCTION_INFO_V1(mlp_export);
Datum
mlp_export(PG_FUNCTION_ARGS)
{
	char	   *ref = text_to_cstring(PG_GETARG_TEXT_PP(0));

	PG_RETURN_BYTEA_P(MlpModelStoreWeights(ref, NULL));
}

PG_FUNCTION_INFO_V1(mlp_deploy);
Datum
mlp_deploy(PG_FUNCTION_ARGS)
{
	char	   *ref = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *name;
	int			version;
	Oid			types[2] = {TEXTOID, OIDOID};
	Datum		values[2];
	MlpSavedUser saved;
	int			rc;

	MlpParseModelRef(ref, &name, &version);
	MlpCheckModelOwnership(name, "deploy");
	(void) MlpModelStoreResolveOrError(ref, NULL);

	values[0] = CStringGetTextDatum(ref);
	values[1] = ObjectIdGetDatum(GetUserId());
	MlpSpiConnect();
	MlpBecomeExtensionOwner(&saved);
	rc = SPI_execute_with_args("INSERT INTO " MLP_TABLE(deployment) " (model_name, deployed_by) "
							   "VALUES ($1, $2) ON CONFLICT (singleton) DO UPDATE "
							   "SET model_name = EXCLUDED.model_name, deployed_at = pg_catalog.now(), "
							   "deployed_by = EXCLUDED.deployed_by",
							   2, types, values, NULL, false, 0);
	MlpRestoreUser(&saved);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "writing the deployment failed: %s", SPI_result_code_string(rc));
	SPI_finish();
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(mlp_drop_model);
Datum
mlp_drop_model(PG_FUNCTION_ARGS)
{
	char	   *ref = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *name;
	int			version;
	Oid			types[2] = {TEXTOID, INT4OID};
	Datum		values[2];
	MlpSavedUser saved;
	int			rc;
	uint64		dropped;

	MlpParseModelRef(ref, &name, &version);
	MlpCheckModelOwnership(name, "drop");
	(void) MlpModelStoreResolveOrError(ref, NULL);

	values[0] = CStringGetTextDatum(name);
	values[1] = Int32GetDatum(version);
	MlpSpiConnect();

	MlpBecomeExtensionOwner(&saved);

	/* A deployment that would point at nothing is refused rather than left dangling. */
	rc = SPI_execute("SELECT model_name FROM " MLP_TABLE(deployment) "", true, 1);
	if (rc == SPI_OK_SELECT && SPI_processed == 1)
	{
		char	   *deployed = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		char	   *dname;
		int			dversion;

		MlpParseModelRef(deployed, &dname, &dversion);
		if (strcmp(dname, name) == 0 && (version == 0 || dversion == version))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_IN_USE),
					 errmsg("model \"%s\" is deployed", ref),
					 errhint("Deploy another model first with mlp_deploy().")));
	}

	rc = SPI_execute_with_args(version > 0 ?
							   "DELETE FROM " MLP_TABLE(models) " WHERE name" MLP_EQ "$1 AND version" MLP_EQ "$2" :
							   "DELETE FROM " MLP_TABLE(models) " WHERE name" MLP_EQ "$1",
							   version > 0 ? 2 : 1, types, values, NULL, false, 0);
	if (rc != SPI_OK_DELETE)
		elog(ERROR, "dropping model \"%s\" failed: %s", ref, SPI_result_code_string(rc));
	dropped = SPI_processed;
	/* With its last version gone the name is free: a new model under it starts unshared. */
	rc = SPI_execute_with_args("DELETE FROM " MLP_TABLE(model_acl) " g WHERE g.model_name" MLP_EQ "$1 "
							   "AND NOT EXISTS (SELECT 1 FROM " MLP_TABLE(models) " m "
							   "WHERE m.name" MLP_EQ "$1)",
							   1, types, values, NULL, false, 0);
	if (rc != SPI_OK_DELETE)
		elog(ERROR, "dropping the shares of model \"%s\" failed: %s", ref, SPI_result_code_string(rc));
	MlpRestoreUser(&saved);
	SPI_finish();
	PG_RETURN_INT32((int32) dropped);
}

/*
 * The grantee named by role_name: a role's OID, or 0 for 'public' (every role).  ERROR
 * 42704 when there is no such role.
 */
static Oid
GranteeOid(const char *role_name)
{
	Oid			role;

	if (pg_strcasecmp(role_name, "public") == 0)
		return InvalidOid;
	role = get_role_oid(role_name, true);
	if (!OidIsValid(role))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role \"%s\" does not exist", role_name),
				 errhint("Give a role name, or 'public' for every role.")));
	return role;
}

/* mlp_grant(model, role_name): shares every version of model with the role. */
PG_FUNCTION_INFO_V1(mlp_grant);
Datum
mlp_grant(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *role_name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	Oid			grantee;
	Oid			owner;
	Oid			types[4] = {TEXTOID, OIDOID, OIDOID, OIDOID};
	Datum		values[4];
	MlpSavedUser saved;
	int			rc;

	if (strchr(name, '@') != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot share version \"%s\" alone", name),
				 errhint("A share covers every version of a model: give its name without \"@N\".")));
	grantee = GranteeOid(role_name);
	MlpCheckModelOwnership(name, "share");
	owner = MlpModelStoreOwner(name);

	values[0] = CStringGetTextDatum(name);
	values[1] = ObjectIdGetDatum(grantee);
	values[2] = ObjectIdGetDatum(owner);
	values[3] = ObjectIdGetDatum(GetUserId());
	MlpSpiConnect();
	MlpBecomeExtensionOwner(&saved);
	rc = SPI_execute_with_args("INSERT INTO " MLP_TABLE(model_acl) " "
							   "(model_name, grantee, owner, granted_by) VALUES ($1, $2, $3, $4) "
							   "ON CONFLICT (model_name, grantee) DO NOTHING",
							   4, types, values, NULL, false, 0);
	MlpRestoreUser(&saved);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "sharing model \"%s\" failed: %s", name, SPI_result_code_string(rc));
	SPI_finish();
	PG_RETURN_VOID();
}

/* mlp_revoke(model, role_name): ends a share made by mlp_grant (no error when none). */
PG_FUNCTION_INFO_V1(mlp_revoke);
Datum
mlp_revoke(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *role_name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	Oid			types[2] = {TEXTOID, OIDOID};
	Datum		values[2];
	MlpSavedUser saved;
	int			rc;

	values[0] = CStringGetTextDatum(name);
	values[1] = ObjectIdGetDatum(GranteeOid(role_name));
	MlpCheckModelOwnership(name, "share");
	MlpSpiConnect();
	MlpBecomeExtensionOwner(&saved);
	rc = SPI_execute_with_args("DELETE FROM " MLP_TABLE(model_acl) " WHERE model_name" MLP_EQ "$1 "
							   "AND grantee" MLP_EQ "$2", 2, types, values, NULL, false, 0);
	MlpRestoreUser(&saved);
	if (rc != SPI_OK_DELETE)
		elog(ERROR, "unsharing model \"%s\" failed: %s", name, SPI_result_code_string(rc));
	SPI_finish();
	PG_RETURN_VOID();
}
