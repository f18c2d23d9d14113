/*
 * privilege.h - the extension's own SQL: run as the extension owner under a pinned
 * search_path, against the tables of this library's version (privilege.c).
 */
#ifndef MLP_PRIVILEGE_H
#define MLP_PRIVILEGE_H

#include "postgres.h"

#include "mlpscale.h"

/* The search_path of every statement the extension runs with rights above the caller's. */
#define MLP_SAFE_SEARCH_PATH "pg_catalog, pg_temp"

/*
 * Operators of that SQL, schema-qualified: the pinned search_path already finds pg_catalog's
 * first, and writing them out keeps each statement safe on its own.
 */
#define MLP_EQ " OPERATOR(pg_catalog.=) "
#define MLP_NE " OPERATOR(pg_catalog.<>) "
#define MLP_GT " OPERATOR(pg_catalog.>) "
#define MLP_LT " OPERATOR(pg_catalog.<) "
#define MLP_GE " OPERATOR(pg_catalog.>=) "

/*
 * Bookkeeping rows (runs, epochs, models, checkpoints) are written as the extension's owner,
 * whatever role calls: those tables are readable by all but writable by nobody else, so the
 * history cannot be forged.  Data of users is always read as the calling role.
 */
typedef struct MlpSavedUser
{
	Oid			userid;
	int			sec_context;
	int			guc_nest;
} MlpSavedUser;

/* Owner of the extension in this database; ERROR unless its version is MLPSCALE_VERSION. */
extern Oid	MlpExtensionOwner(void);
/* True when mlpscale is installed here at MLPSCALE_VERSION (no ERROR; for the sweeper). */
extern bool MlpExtensionVersionMatches(void);
extern Oid	MlpExtensionSchema(void);
extern void MlpBecomeExtensionOwner(MlpSavedUser *saved);
extern void MlpRestoreUser(const MlpSavedUser *saved);

/*
 * The same without the version check: only for statements that are valid on the tables of
 * every version (the sweeper marking runs interrupted before ALTER EXTENSION UPDATE).
 */
extern void MlpBecomeExtensionOwnerAnyVersion(MlpSavedUser *saved);

/*
 * search_path = MLP_SAFE_SEARCH_PATH in a new GUC nest level, and the way back (which also
 * rolls back every other setting changed inside).  Returns the nest level.
 */
extern int	MlpPinSearchPath(void);
extern void MlpUnpinSearchPath(int nest);

/* SPI_connect, or ERROR: the one way this layer connects. */
extern void MlpSpiConnect(void);

#endif
