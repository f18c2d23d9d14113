/*
 * blas_setup.c - OpenBLAS in the processes that compute: loaded on first use (never in the
 * postmaster), its kernel logged once, and the thread count of scoring.
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/xact.h"

#include "blas_setup.h"
#include "core/blas.h"
#include "core/gemm_bf16.h"
#include "settings.h"
#include "privilege.h"

/* OpenBLAS's own thread count when it loaded (one per core), and what we last set. */
static int	blas_default_threads = -1;
static int	blas_current_threads = -1;

void
MlpEnsureBlas(void)
{
	char		err[256];

	if (mlp_blas_loaded())
		return;
	if (mlp_blas_init(err, sizeof(err)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("could not load OpenBLAS: %s", err),
				 errhint("Install Debian's libopenblas0 package.")));
	if (mlp_blas_chosen_coretype()[0] != '\0')
		elog(LOG, "mlpscale: OpenBLAS kernel %s (OPENBLAS_CORETYPE=%s chosen for this CPU), %d threads, bf16 kernel %s",
			 mlp_blas_corename(), mlp_blas_chosen_coretype(), mlp_blas_threads(),
			 mlp_gemm_bf16_kernel());
	else
		elog(LOG, "mlpscale: OpenBLAS kernel %s, %d threads, bf16 kernel %s",
			 mlp_blas_corename(), mlp_blas_threads(), mlp_gemm_bf16_kernel());
}

void
MlpScoringPrepareBlas(int batch)
{
	int			want;

	MlpEnsureBlas();
	/*
	 * OpenBLAS starts with one thread per core, but our pool (the bf16 products) with one:
	 * blas_current_threads stays -1 until the first call sets both, or a new session's first
	 * bf16 batch would run on one thread.
	 */
	if (blas_default_threads < 0)
		blas_default_threads = Max(mlp_blas_threads(), 1);
	/* Workers of a parallel query already use every core; more BLAS threads would fight. */
	if (IsParallelWorker() || IsInParallelMode())
		want = 1;

	/*
	 * One image is a matrix-vector product bound by reading the weights; with one thread
	 * mlp_sgemv streams them at the speed of a plain read, while OpenBLAS's threaded sgemv
	 * was slower here even when asked for (B_6-Wi_512: 435 img/s on one thread, 285 on two).
	 */
	else if (batch == 1)
		want = 1;
	else if (mlp_scoring_threads > 0)
		want = mlp_scoring_threads;
	else
		want = blas_default_threads;
	if (want != blas_current_threads)
	{
		mlp_blas_set_threads(want);
		blas_current_threads = want;
	}
}
