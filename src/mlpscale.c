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

/* Owner of the extension in the current database (the role that created it). */
Oid
MlpExtensionOwner(void)
{
	Oid			extoid = get_extension_oid("mlpscale", true);
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tup;
	Oid			owner = InvalidOid;

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
	if (HeapTupleIsValid(tup))
		owner = ((Form_pg_extension) GETSTRUCT(tup))->extowner;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	if (!OidIsValid(owner))
		elog(ERROR, "could not find the owner of extension \"mlpscale\"");
	return owner;
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
