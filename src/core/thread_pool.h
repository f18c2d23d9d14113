/*
 * thread_pool.h - a few persistent threads for the bf16 matrix products and the element-wise
 * layers around them.
 *
 * OpenBLAS keeps its own threads; this pool is for the work OpenBLAS does not do.  Its
 * threads spin briefly after a task (during training the next one follows within
 * microseconds), then sleep.  They run only the task functions given to them, which must not
 * call PostgreSQL (or anything else that is not thread-safe).
 *
 * Plain C, no PostgreSQL headers.
 */
#ifndef MLP_THREAD_POOL_H
#define MLP_THREAD_POOL_H

#include <pthread.h>

/* The most threads a pool may have, the caller's included. */
#define MLP_POOL_MAX_THREADS 64

typedef void (*MlpPoolTask) (void *arg, int part, int parts);

/*
 * Threads of later tasks, the caller's included (1 = run everything on the caller), cut to
 * [1, MLP_POOL_MAX_THREADS].
 */
void		mlp_pool_set_threads(int n);
int			mlp_pool_threads(void);

/*
 * Runs task(arg, p, parts) for every p in [0, parts) at the same time, part 0 on the calling
 * thread, and returns when all are done.  parts is first cut to the threads the pool has
 * (it may have fewer than asked for when threads cannot be created): the return value is the
 * count used.  Not reentrant: one calling thread per process.
 */
int			mlp_pool_run(MlpPoolTask task, void *arg, int parts);

/*
 * pthread_create with every signal blocked in the new thread, so that signals meant for the
 * process (SIGTERM, SIGINT, PostgreSQL's SIGUSR1 ...) are handled by the thread that runs
 * the process's code and never by a numeric helper.  Returns pthread_create's result.
 */
int			mlp_thread_create(pthread_t *tid, const pthread_attr_t *attr,
							  void *(*fn) (void *), void *arg);

#endif
