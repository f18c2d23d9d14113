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
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/rel.h"

#include "mlpscale.h"
#include "core/blas.h"
#include "test_hold.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	ModelCacheInit();
	RunQueueInit();
	ProgressShmemInit();
	LauncherInit();
	MlpTestHoldInit();
	MarkGUCPrefixReserved("mlpscale");
}

/*
 * Owner, schema and version of the extension in the current database, read from
 * pg_extension (PostgreSQL 15 exports no function for the schema).  ERROR when it is not
 * installed here.
 */
static void
ExtensionInfo(Oid *owner, Oid *schema, char **version)
{
	Oid			extoid = get_extension_oid("mlpscale", true);
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tup;
	bool		isnull;
	Datum		d;

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
	d = heap_getattr(tup, Anum_pg_extension_extversion, RelationGetDescr(rel), &isnull);
	*version = isnull ? pstrdup("") : TextDatumGetCString(d);
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
}

bool
MlpExtensionVersionMatches(void)
{
	Oid			owner,
				schema;
	char	   *version;

	if (!OidIsValid(get_extension_oid("mlpscale", true)))
		return false;
	ExtensionInfo(&owner, &schema, &version);
	return strcmp(version, MLPSCALE_VERSION) == 0;
}

/*
 * The role that created the extension in this database.  Its bookkeeping tables have the
 * columns of one version: with another one installed, refuse plainly rather than fail on
 * a missing column (or write rows that the policies of the new version would not cover).
 */
Oid
MlpExtensionOwner(void)
{
	Oid			owner,
				schema;
	char	   *version;

	ExtensionInfo(&owner, &schema, &version);
	if (strcmp(version, MLPSCALE_VERSION) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"mlpscale\" is at version %s in this database, but the library is version %s",
						version, MLPSCALE_VERSION),
				 errhint("Run ALTER EXTENSION mlpscale UPDATE.")));
	return owner;
}

/* The schema of CREATE EXTENSION, where the type and the functions live. */
Oid
MlpExtensionSchema(void)
{
	Oid			owner,
				schema;
	char	   *version;

	ExtensionInfo(&owner, &schema, &version);
	return schema;
}

/*
 * What PostgreSQL's documentation prescribes for SECURITY DEFINER functions, done in C:
 * the owner's statements see search_path = pg_catalog, pg_temp (temporary objects last, so
 * a pg_temp type or domain cannot stand in for a catalog one; functions and operators are
 * never looked up in pg_temp), whatever the caller or user SQL set before.  The setting
 * lives in a GUC nest level of its own, so nothing set inside leaks out either.
 * SECURITY_LOCAL_USERID_CHANGE keeps SET ROLE from undoing the switch and
 * SECURITY_RESTRICTED_OPERATION forbids role changes and temporary tables under it.  An
 * error aborts the (sub)transaction, which restores user and settings by itself.
 */
static void
BecomeOwner(MlpSavedUser *saved, Oid owner)
{
	GetUserIdAndSecContext(&saved->userid, &saved->sec_context);
	SetUserIdAndSecContext(owner, saved->sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	saved->guc_nest = MlpPinSearchPath();
}

void
MlpBecomeExtensionOwner(MlpSavedUser *saved)
{
	BecomeOwner(saved, MlpExtensionOwner());
}

void
MlpBecomeExtensionOwnerAnyVersion(MlpSavedUser *saved)
{
	Oid			owner,
				schema;
	char	   *version;

	ExtensionInfo(&owner, &schema, &version);
	BecomeOwner(saved, owner);
}

void
MlpRestoreUser(const MlpSavedUser *saved)
{
	MlpUnpinSearchPath(saved->guc_nest);
	SetUserIdAndSecContext(saved->userid, saved->sec_context);
}

int
MlpPinSearchPath(void)
{
	int			nest = NewGUCNestLevel();

	(void) set_config_option("search_path", MLP_SAFE_SEARCH_PATH, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return nest;
}

void
MlpUnpinSearchPath(int nest)
{
	/* false: also undo what was SET (not only SET LOCAL) inside, like an aborted function */
	AtEOXact_GUC(false, nest);
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
