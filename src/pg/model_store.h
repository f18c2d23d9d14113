/*
 * model_store.h - versions of models in mlpscale.models.
 *
 * A model reference is a name, meaning its latest version, or "name@N" for version N.
 * Rows are read and written as the extension owner (the table is not writable by users, and
 * row-level security hides other roles' rows from them); models.owner records the role that
 * owns the name, and only that role (or its members, or a superuser) may add versions.  Every
 * look-up below refuses (42501) a model the current role neither owns nor was shared.  Models returned here are created by the numeric core with
 * malloc: free them with mlp_model_free() and mlp_model_meta_free().
 */
#ifndef MLP_MODEL_STORE_H
#define MLP_MODEL_STORE_H

#include "postgres.h"

#include "datatype/timestamp.h"

#include "core/model.h"
#include "core/weights.h"

/* Longest model name in bytes (names are also used in messages and cache keys). */
#define MLP_MODEL_NAME_MAX 63

/* ERROR (ERRCODE_INVALID_PARAMETER_VALUE) unless name is a valid name for a new model. */
extern void MlpCheckModelName(const char *name);

/*
 * Splits a reference into a palloc'd name and a version (0 = latest).  ERROR on an empty
 * name or a bad version suffix.
 */
extern void MlpParseModelRef(const char *ref, char **name_out, int *version_out);

/*
 * Id of the version that ref means (0 when there is none), with its version and creation
 * time (either output may be NULL).  Never errors on a missing model; for the cache.
 */
extern int64 MlpModelStoreResolve(const char *ref, int *version_out,
								  TimestampTz *created_out);

/* Like MlpModelStoreResolve but ERROR (ERRCODE_UNDEFINED_OBJECT) when ref means no model. */
extern int64 MlpModelStoreResolveOrError(const char *ref, int *version_out);

/*
 * Inserts a new version of name: version = max + 1, the weights serialised as safetensors
 * with meta.  run_id and parent_model_id are 0 for none.  owner is the role adding the model;
 * ERROR (ERRCODE_INSUFFICIENT_PRIVILEGE) when name exists and belongs to another role and
 * owner is not a superuser.  Uses SPI (nested SPI_connect is fine), writes as the extension
 * owner, returns models.id and sets *version_out (may be NULL).
 */
extern int64 MlpModelStoreInsert(const char *name, const MlpModel *model,
								 const MlpModelMeta *meta, int64 run_id,
								 int64 parent_model_id, Oid owner, int *version_out);

/*
 * Stores the model as exactly version `version` of name (an import of a published version):
 * nothing happens when that version exists with the same content (the SHA-256 of the
 * serialised weights); ERROR (42710) when it holds other content, or when the number was
 * given before and dropped.  Ownership as for MlpModelStoreInsert; returns models.id.
 */
extern int64 MlpModelStoreInsertAs(const char *name, const MlpModel *model,
								   const MlpModelMeta *meta, int version, Oid owner);

/*
 * Loads the version that name (a reference: "name" or "name@N") means.  ERROR
 * ERRCODE_UNDEFINED_OBJECT "model \"%s\" does not exist" when there is none.
 */
extern void MlpModelStoreLoad(const char *name, MlpModel *model_out, MlpModelMeta *meta_out,
							  int64 *model_id_out);

/* Loads the version with this models.id (ERROR when it has gone). */
extern void MlpModelStoreLoadById(int64 model_id, MlpModel *model_out, MlpModelMeta *meta_out);

/* Owner of model name (the role of its first version); InvalidOid when there is none. */
extern Oid	MlpModelStoreOwner(const char *name);

/*
 * ERROR 42501 unless the current role has the privileges of the owner of model name (or is
 * a superuser); ERROR 42704 when there is no such model.  action is a verb ("drop").
 */
extern void MlpCheckModelOwnership(const char *name, const char *action);

/*
 * ERROR 42501 unless the current role may add a version to model name (a new name, or one
 * owned by a role whose privileges it has): mlp_train checks before hours of training.
 */
extern void MlpCheckCanAddVersion(const char *name);

/* The architecture of the version with this models.id (palloc'd; ERROR when it has gone). */
extern char *MlpModelStoreArch(int64 model_id);

/* The stored safetensors bytes of the version ref means (palloc'd, ERROR when none). */
extern bytea *MlpModelStoreWeights(const char *ref, int64 *model_id_out);

/*
 * The content_sha256 of the version that ref means and its number, with the access check
 * of MlpModelStoreWeights but without reading the weights.
 */
extern bytea *MlpModelStoreContentHash(const char *ref, int *version_out);

#endif
