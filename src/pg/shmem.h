/*
 * shmem.h - mlpscale's shared memory hooks (only under shared_preload_libraries).
 */
#ifndef MLP_SHMEM_H
#define MLP_SHMEM_H

extern void MlpShmemInit(void);

#endif
