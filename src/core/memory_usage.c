/*
 * memory_usage.c - see memory_usage.h.
 */
#include "memory_usage.h"

#include <stdio.h>
#include <unistd.h>

size_t
mlp_private_memory_bytes(void)
{
	FILE	   *f = fopen("/proc/self/statm", "r");
	unsigned long size,
				resident,
				shared;
	long		page = sysconf(_SC_PAGESIZE);
	int			got;

	if (f == NULL)
		return 0;
	/* pages: total, resident, resident and shared (file-backed or shared memory) */
	got = fscanf(f, "%lu %lu %lu", &size, &resident, &shared);
	fclose(f);
	if (got != 3 || page <= 0 || resident < shared)
		return 0;
	return (size_t) (resident - shared) * (size_t) page;
}
