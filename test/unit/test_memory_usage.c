/* test_memory_usage.c - the private memory of the process (memory_usage.c) */
#include <stdlib.h>
#include <string.h>

#include "memory_usage.h"
#include "tap.h"

#define MB (1024 * 1024)

int
main(void)
{
	size_t		before = mlp_private_memory_bytes();
	size_t		touched;
	size_t		sum = 0;
	char	   *p;

	ok(before > 0, "the process has private memory: %zu bytes", before);
	p = malloc(64 * MB);
	ok(p != NULL, "64 MB allocated");
	ok(mlp_private_memory_bytes() < before + 16 * MB,
	   "not yet touched, it is not resident: %zu bytes", mlp_private_memory_bytes());
	memset(p, 1, 64 * MB);
	touched = mlp_private_memory_bytes();
	/* read back, so the writes are not optimised away */
	for (size_t i = 0; i < 64 * MB; i += 4096)
		sum += (unsigned char) p[i];
	ok(sum == 64 * MB / 4096, "the pages hold what was written");
	ok(touched >= before + 63 * MB, "written, 64 MB more are counted: %zu bytes", touched);
	free(p);
	return tap_done();
}
