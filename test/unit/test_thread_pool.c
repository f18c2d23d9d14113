/*
 * test_thread_pool.c - the persistent pool: every part runs once per task, on distinct
 * threads at the same time, thousands of tasks in a row without a lost wake-up; and the GELU
 * layers split across it give the same bits as on one thread.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blas.h"
#include "layers.h"
#include "rng.h"
#include "tap.h"
#include "thread_pool.h"

typedef struct Count
{
	atomic_int	runs[8];
	atomic_int	inside;			/* parts running right now */
	atomic_int	max_inside;
	pthread_t	who[8];
	int			parts_seen;
} Count;

static void
count_task(void *arg, int part, int parts)
{
	Count	   *c = arg;
	int			now = atomic_fetch_add(&c->inside, 1) + 1;
	int			seen = atomic_load(&c->max_inside);

	while (now > seen && !atomic_compare_exchange_weak(&c->max_inside, &seen, now))
		;
	atomic_fetch_add(&c->runs[part], 1);
	c->who[part] = pthread_self();
	c->parts_seen = parts;
	/* hold on (up to 5 s on a busy machine) until the other parts have started too */
	for (int ms = 0; ms < 5000 && atomic_load(&c->max_inside) < parts; ms++)
		usleep(1000);
	atomic_fetch_sub(&c->inside, 1);
}

static void
sum_task(void *arg, int part, int parts)
{
	atomic_long *total = arg;

	(void) parts;

	atomic_fetch_add(total, part + 1);
}

static void
test_pool(void)
{
	Count		c;
	atomic_long total = 0;
	long		want = 0;
	int			used;

	memset(&c, 0, sizeof(c));
	mlp_pool_set_threads(1);
	used = mlp_pool_run(count_task, &c, 4);
	ok(used == 1 && atomic_load(&c.runs[0]) == 1 && pthread_equal(c.who[0], pthread_self()),
	   "one thread: the single part runs on the caller");

	memset(&c, 0, sizeof(c));
	mlp_pool_set_threads(2);
	is_int(mlp_pool_threads(), 2, "two threads asked for");
	used = mlp_pool_run(count_task, &c, 5);
	is_int(used, 2, "parts are cut to the threads");
	ok(atomic_load(&c.runs[0]) == 1 && atomic_load(&c.runs[1]) == 1 && c.parts_seen == 2,
	   "each part ran once and saw the part count");
	ok(pthread_equal(c.who[0], pthread_self()) && !pthread_equal(c.who[1], pthread_self()),
	   "part 0 on the caller, part 1 on a pool thread");
	is_int(atomic_load(&c.max_inside), 2, "the parts ran at the same time");

	memset(&c, 0, sizeof(c));
	mlp_pool_set_threads(3);
	used = mlp_pool_run(count_task, &c, 2);
	ok(used == 2 && atomic_load(&c.runs[0]) == 1 && atomic_load(&c.runs[1]) == 1 &&
	   atomic_load(&c.runs[2]) == 0, "fewer parts than threads: the extra thread idles");

	/* back to back, and after the workers have gone to sleep */
	for (int i = 0; i < 20000; i++)
	{
		mlp_pool_run(sum_task, &total, 3);
		want += 6;
		if (i % 5000 == 4999)
			usleep(5000);		/* longer than the spin: wake from the condition variable */
	}
	ok(atomic_load(&total) == want, "20,000 tasks, none lost (%ld of %ld)", (long) atomic_load(&total),
	   want);
	mlp_pool_set_threads(2);
}

/* Part 1 records whether SIGTERM and SIGUSR1 are blocked in its (pool) thread. */
typedef struct MaskSeen
{
	int			term_blocked;
	int			usr1_blocked;
} MaskSeen;

static void
mask_task(void *arg, int part, int parts)
{
	MaskSeen   *m = arg;
	sigset_t	cur;

	(void) parts;
	if (part != 1)
		return;
	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	m->term_blocked = sigismember(&cur, SIGTERM);
	m->usr1_blocked = sigismember(&cur, SIGUSR1);
}

static void
test_signal_mask(void)
{
	MaskSeen	m = {-1, -1};
	sigset_t	before,
				after;

	pthread_sigmask(SIG_BLOCK, NULL, &before);
	mlp_pool_set_threads(4);		/* creates two more threads now */
	is_int(mlp_pool_run(mask_task, &m, 2), 2, "a task on two threads");
	ok(m.term_blocked == 1 && m.usr1_blocked == 1,
	   "pool threads block SIGTERM and SIGUSR1: the process's own thread handles signals");
	pthread_sigmask(SIG_BLOCK, NULL, &after);
	ok(sigismember(&after, SIGTERM) == sigismember(&before, SIGTERM) &&
	   sigismember(&after, SIGUSR1) == sigismember(&before, SIGUSR1),
	   "the caller's signal mask is as it was");
	mlp_pool_set_threads(2);
}

static MlpRng test_rng;

/* Uniform in [-4, 4), from the core's seeded generator. */
static float
frand(void)
{
	return (float) mlp_rng_uniform_range(&test_rng, -4, 4);
}

/* bf16 mode splits GELU across the pool; the bits must be those of the single-thread path. */
static void
test_gelu_split(void)
{
	int			B = 300,
				N = 1000;			/* not a multiple of the vector width */
	size_t		n = (size_t) B * N;
	float	   *pre1 = malloc(sizeof(float) * n),
			   *pre2 = malloc(sizeof(float) * n),
			   *a1 = malloc(sizeof(float) * n),
			   *a2 = malloc(sizeof(float) * n),
			   *dy = malloc(sizeof(float) * n),
			   *d1 = malloc(sizeof(float) * n),
			   *d2 = malloc(sizeof(float) * n),
			   *bias = malloc(sizeof(float) * N),
			   *db1 = calloc(N, sizeof(float)),
			   *db2 = calloc(N, sizeof(float));

	for (size_t i = 0; i < n; i++)
	{
		pre1[i] = pre2[i] = frand();
		dy[i] = frand();
	}
	for (int j = 0; j < N; j++)
		bias[j] = frand();

	mlp_blas_set_matmul_precision(MLP_MATMUL_FP32);
	mlp_bias_gelu_forward(pre1, a1, bias, B, N);
	mlp_gelu_backward(d1, db1, dy, pre1, B, N);
	if (mlp_blas_set_matmul_precision(MLP_MATMUL_BF16) != 0)
	{
		diag("no AVX512_BF16: the split GELU path is not taken on this CPU");
		ok(1, "# SKIP split GELU forward");
		ok(1, "# SKIP split GELU backward");
	}
	else
	{
		mlp_pool_set_threads(2);
		mlp_bias_gelu_forward(pre2, a2, bias, B, N);
		mlp_gelu_backward(d2, db2, dy, pre2, B, N);
		ok(memcmp(pre1, pre2, sizeof(float) * n) == 0 && memcmp(a1, a2, sizeof(float) * n) == 0,
		   "GELU forward split over 2 threads: same bits as one thread");
		ok(memcmp(d1, d2, sizeof(float) * n) == 0 && memcmp(db1, db2, sizeof(float) * N) == 0,
		   "GELU backward and bias sums split over 2 threads: same bits as one thread");
		mlp_blas_set_matmul_precision(MLP_MATMUL_FP32);
	}
	free(pre1);
	free(pre2);
	free(a1);
	free(a2);
	free(dy);
	free(d1);
	free(d2);
	free(bias);
	free(db1);
	free(db2);
}

int
main(void)
{
	mlp_rng_seed(&test_rng, 4242, 0);
	test_pool();
	test_signal_mask();
	test_gelu_split();
	return tap_done();
}
