/*
 * thread_pool.c - the persistent threads of thread_pool.h.
 *
 * A task is published by bumping a generation counter; workers spin on it for a short while
 * and then wait on a condition variable, so that back-to-back tasks cost no system call and
 * an idle pool costs no CPU.  Threads are created on first use, in the process that needs
 * them (never in the postmaster), and detached: they live as long as the process.
 */
#include "thread_pool.h"

#include "clock.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void) 0)
#endif

#define SPIN_SECONDS 0.0002

static struct
{
	int			started;		/* threads that exist, the caller included */
	unsigned	start_gen[MLP_POOL_MAX_THREADS];	/* gen when worker t was created */
	atomic_uint gen;			/* bumped once per task */
	atomic_int	pending;		/* workers still in the current task */
	atomic_int	sleepers;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	MlpPoolTask task;
	void	   *arg;
	int			parts;
}			pool = {.started = 1, .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static int	pool_wanted = 1;

void
mlp_pool_set_threads(int n)
{
	pool_wanted = n < 1 ? 1 : (n > MLP_POOL_MAX_THREADS ? MLP_POOL_MAX_THREADS : n);
}

int
mlp_pool_threads(void)
{
	return pool_wanted;
}

static void *
pool_worker(void *varg)
{
	int			t = (int) (intptr_t) varg;
	unsigned	seen = pool.start_gen[t];	/* not gen now: a task may have begun */

	for (;;)
	{
		double		start = 0.0;
		int			spins = 0;

		while (atomic_load_explicit(&pool.gen, memory_order_acquire) == seen)
		{
			if ((++spins & 63) == 0)
			{
				double		now = mlp_seconds_now();

				if (start == 0.0)
					start = now;
				else if (now - start > SPIN_SECONDS)
				{
					pthread_mutex_lock(&pool.mu);
					atomic_fetch_add(&pool.sleepers, 1);
					while (atomic_load(&pool.gen) == seen)
						pthread_cond_wait(&pool.cv, &pool.mu);
					atomic_fetch_sub(&pool.sleepers, 1);
					pthread_mutex_unlock(&pool.mu);
					break;
				}
			}
			cpu_relax();
		}
		seen = atomic_load_explicit(&pool.gen, memory_order_acquire);
		if (t < pool.parts)
			pool.task(pool.arg, t, pool.parts);
		atomic_fetch_sub_explicit(&pool.pending, 1, memory_order_release);
	}
	return NULL;
}

int
mlp_thread_create(pthread_t *tid, const pthread_attr_t *attr, void *(*fn) (void *), void *arg)
{
	sigset_t	all,
				old;
	int			rc;

	/* the new thread inherits the mask of its creator: block everything just for the call */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(tid, attr, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

/* Grows the pool to pool_wanted threads; on failure it keeps what it has. */
static void
pool_grow(void)
{
	while (pool.started < pool_wanted)
	{
		pthread_attr_t attr;
		pthread_t	tid;
		int			rc;

		pool.start_gen[pool.started] = atomic_load(&pool.gen);
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		rc = mlp_thread_create(&tid, &attr, pool_worker, (void *) (intptr_t) pool.started);
		pthread_attr_destroy(&attr);
		if (rc != 0)
			break;
		pool.started++;
	}
}

int
mlp_pool_run(MlpPoolTask task, void *arg, int parts)
{
	if (parts > pool_wanted)
		parts = pool_wanted;
	if (parts > 1 && pool.started < parts)
		pool_grow();
	if (parts > pool.started)
		parts = pool.started;
	if (parts <= 1)
	{
		task(arg, 0, 1);
		return 1;
	}

	/* every started worker takes the task; those past `parts` only check in */
	pool.task = task;
	pool.arg = arg;
	pool.parts = parts;
	atomic_store(&pool.pending, pool.started - 1);
	/* seq_cst with the sleepers count: a worker going to sleep either sees the new gen or is seen */
	atomic_fetch_add(&pool.gen, 1);
	if (atomic_load(&pool.sleepers) > 0)
	{
		pthread_mutex_lock(&pool.mu);
		pthread_cond_broadcast(&pool.cv);
		pthread_mutex_unlock(&pool.mu);
	}
	task(arg, 0, parts);
	while (atomic_load_explicit(&pool.pending, memory_order_acquire) > 0)
		cpu_relax();
	return parts;
}
