/*
 * memory_usage.h - how much memory this process holds of its own.
 *
 * The training budget (mlpscale.max_training_memory) covers the worker's data, model,
 * optimizer and activations; what a run really used is measured, not estimated: the
 * process's resident pages that are not shared (anonymous memory: malloc, palloc, thread
 * stacks), from /proc/self/statm.  Shared buffers, the server's shared memory and the mapped
 * program are shared pages and do not count.  Plain C, no PostgreSQL headers.
 */
#ifndef MLP_MEMORY_USAGE_H
#define MLP_MEMORY_USAGE_H

#include <stddef.h>

/* Resident bytes of this process that no other process shares; 0 when it cannot be read. */
size_t		mlp_private_memory_bytes(void);

#endif
