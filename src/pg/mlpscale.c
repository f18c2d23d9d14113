/*
 * mlpscale.c - the module's entry point: each part of the PostgreSQL layer sets itself up.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "launcher.h"
#include "model_cache.h"
#include "settings.h"
#include "shmem.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	MlpSettingsInit();
	MlpModelCacheInit();
	MlpShmemInit();
	MlpLauncherInit();
	MarkGUCPrefixReserved("mlpscale");
}
