/*
 * shmem.c - mlpscale's shared memory: one request hook and one startup hook, chained to
 * those of other libraries, for the launcher's queue and the progress slots.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"

#include "launcher.h"
#include "progress.h"
#include "shmem.h"

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
ShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(add_size(MlpLauncherShmemSize(), MlpProgressShmemSize()));
}

static void
ShmemStartup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	MlpLauncherShmemInit();
	MlpProgressShmemInit();
	LWLockRelease(AddinShmemInitLock);
}

void
MlpShmemInit(void)
{
	/* Without shared_preload_libraries there is none: scoring works, training says why. */
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = ShmemRequest;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = ShmemStartup;
}
