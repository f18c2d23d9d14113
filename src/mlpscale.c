/*
 * mlpscale.c - module entry point and the few helpers every part of the PostgreSQL layer uses.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/rel.h"

#include "mlpscale.h"
#include "core/blas.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	ModelCacheInit();
	RunQueueInit();
	ProgressShmemInit();
	LauncherInit();
	MarkGUCPrefixReserved("mlpscale");
}

/*
 * Owner and schema of the extension in the current database, read from pg_extension
 * (PostgreSQL 15 exports no function for the schema).
 */
static void
ExtensionOwnerAndSchema(Oid *owner, Oid *schema)
{
	Oid			extoid = get_extension_oid("mlpscale", true);
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tup;

	if (!OidIsValid(extoid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"mlpscale\" is not installed in this database"),
				 errhint("Run CREATE EXTENSION mlpscale.")));

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(extoid));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "could not find extension \"mlpscale\" in pg_extension");
	*owner = ((Form_pg_extension) GETSTRUCT(tup))->extowner;
	*schema = ((Form_pg_extension) GETSTRUCT(tup))->extnamespace;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
}

/* The role that created the extension in this database. */
Oid
MlpExtensionOwner(void)
{
	Oid			owner,
				schema;

	ExtensionOwnerAndSchema(&owner, &schema);
	return owner;
}

/* The schema of CREATE EXTENSION, where the type and the functions live. */
Oid
MlpExtensionSchema(void)
{
	Oid			owner,
				schema;

	ExtensionOwnerAndSchema(&owner, &schema);
	return schema;
}

/*
 * SECURITY_LOCAL_USERID_CHANGE keeps SET ROLE from undoing the switch; an error aborts the
 * transaction, which restores the user by itself.
 */
void
MlpBecomeExtensionOwner(MlpSavedUser *saved)
{
	Oid			owner = MlpExtensionOwner();

	GetUserIdAndSecContext(&saved->userid, &saved->sec_context);
	SetUserIdAndSecContext(owner, saved->sec_context | SECURITY_LOCAL_USERID_CHANGE);
}

void
MlpRestoreUser(const MlpSavedUser *saved)
{
	SetUserIdAndSecContext(saved->userid, saved->sec_context);
}

void
MlpEnsureBlas(void)
{
	char		err[256];

	if (mlp_blas_loaded())
		return;
	if (mlp_blas_init(err, sizeof(err)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("could not load OpenBLAS: %s", err),
				 errhint("Install Debian's libopenblas0 package.")));
	if (mlp_blas_chosen_coretype()[0] != '\0')
		elog(LOG, "mlpscale: OpenBLAS kernel %s (OPENBLAS_CORETYPE=%s chosen for this CPU), %d threads",
			 mlp_blas_corename(), mlp_blas_chosen_coretype(), mlp_blas_threads());
	else
		elog(LOG, "mlpscale: OpenBLAS kernel %s, %d threads",
			 mlp_blas_corename(), mlp_blas_threads());
}
