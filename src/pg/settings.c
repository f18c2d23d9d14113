/*
 * settings.c - every setting of mlpscale (mlpscale.*), in one place: what it means, its
 * range, and who may change it (docs/user-guide.md, "Configuration").
 */
#include "postgres.h"

#include <limits.h>

#include "utils/guc.h"

#include "settings.h"
#include "core/blas.h"

/* training */
int			mlp_max_concurrent_runs = 1;
int			mlp_max_training_memory_mb = 8192;
int			mlp_training_threads = 2;
bool		mlp_streaming = false;
int			mlp_stream_buffer_rows = 0;

/* testing */
bool		mlp_test_hold_points = false;

/* scoring */
int			mlp_scoring_batch_size = 256;
int			mlp_scoring_threads = 0;
int			mlp_model_cache_size = 4;
int			mlp_evaluate_max_memory_mb = 4096;
int			mlp_scoring_precision = MLP_MATMUL_FP32;

static const struct config_enum_entry scoring_precision_options[] = {
	{"fp32", MLP_MATMUL_FP32, false},
	{"bf16", MLP_MATMUL_BF16, false},
	{NULL, 0, false}
};

/* bf16 scoring needs AVX512_BF16: refuse the setting, not every later query. */
static bool
CheckScoringPrecision(int *newval, void **extra, GucSource source)
{
	if (*newval == MLP_MATMUL_BF16 && !mlp_blas_bf16_supported())
	{
		GUC_check_errcode(ERRCODE_FEATURE_NOT_SUPPORTED);
		GUC_check_errmsg("mlpscale.scoring_precision 'bf16' needs a CPU with AVX512_BF16");
		return false;
	}
	return true;
}

static void (*model_cache_size_hook) (void) = NULL;

void
MlpOnModelCacheSizeChange(void (*hook) (void))
{
	model_cache_size_hook = hook;
}

static void
AssignModelCacheSize(int newval, void *extra)
{
	mlp_model_cache_size = newval;
	if (model_cache_size_hook != NULL)
		model_cache_size_hook();
}

void
MlpSettingsInit(void)
{
	DefineCustomIntVariable("mlpscale.max_concurrent_runs",
							"Training runs that may run at the same time.",
							"Further runs wait as 'queued'.  Each running run takes one "
							"background worker out of max_worker_processes.",
							&mlp_max_concurrent_runs,
							1, 0, 64,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("mlpscale.max_training_memory",
							"Memory a training run may use for its data, model and buffers.",
							"A run that would need more fails before allocating it.",
							&mlp_max_training_memory_mb,
							8192, 16, INT_MAX / 2,
							PGC_SUSET, GUC_UNIT_MB,
							NULL, NULL, NULL);
	DefineCustomIntVariable("mlpscale.training_threads",
							"Threads of a training run (OpenBLAS and batch assembly).",
							"Read when a run is queued and recorded in its config; with a "
							"seed and one thread, a run is reproducible bit for bit.",
							&mlp_training_threads,
							2, 1, 256,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
	DefineCustomBoolVariable("mlpscale.streaming",
							 "Stream the training source instead of holding it in memory.",
							 "Read when a run is queued and recorded in its config.  Off: a "
							 "run streams only when its data does not fit "
							 "mlpscale.max_training_memory.",
							 &mlp_streaming, false, PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("mlpscale.stream_buffer_rows",
							"Rows of each of the two shuffle windows of a streamed run; 0: as many as "
							"mlpscale.max_training_memory allows, at most an eighth of the source.",
							"Read when a run is queued and recorded in its config.",
							&mlp_stream_buffer_rows, 0, 0, INT_MAX,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("mlpscale.scoring_batch_size",
							"Rows per matrix product in mlp_classify_batch and mlp_evaluate.",
							NULL, &mlp_scoring_batch_size, 256, 1, 65536,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("mlpscale.scoring_precision",
							 "Precision of the matrix products of classify, predict_proba, classify_label, classify_topk and mlp_classify_batch.",
							 "'bf16' rounds the operands to bfloat16 (sums stay float) and keeps a bf16 copy of each cached model: one image reads half the bytes. Needs AVX512_BF16. mlp_evaluate stays fp32.",
							 &mlp_scoring_precision, MLP_MATMUL_FP32, scoring_precision_options,
							 PGC_USERSET, 0, CheckScoringPrecision, NULL, NULL);
	DefineCustomIntVariable("mlpscale.scoring_threads",
							"OpenBLAS threads of scoring in a backend (0: automatic).",
							"Automatic is one per CPU core. Single images (the per-row functions) always use one, as do parallel workers and the leader of a parallel query.",
							&mlp_scoring_threads, 0, 0, 1024,
							PGC_USERSET, 0, NULL, NULL, NULL);
	/*
	 * Superuser-only: every cached model holds its unpacked weights (up to hundreds of MB)
	 * in the backend, so the number is the DBA's memory budget, not a user's choice.
	 */
	DefineCustomIntVariable("mlpscale.model_cache_size",
							"Models each backend keeps unpacked for scoring.",
							"Models used by the running statement are kept even beyond this number. Lowering it frees the excess at once.",
							&mlp_model_cache_size, 4, 1, 1000,
							PGC_SUSET, 0, NULL, AssignModelCacheSize, NULL);
	DefineCustomIntVariable("mlpscale.evaluate_max_memory",
							"Largest amount of image data mlp_evaluate reads into memory.",
							NULL, &mlp_evaluate_max_memory_mb, 4096, 1, INT_MAX / 2,
							PGC_USERSET, GUC_UNIT_MB, NULL, NULL, NULL);
	DefineCustomBoolVariable("mlpscale.test_hold_points",
							 "Stops training workers at hold points that tests hold (a testing aid).",
							 "When on, a training worker waits for a shared advisory lock on "
							 "(run id, 0) before its first step and on (run id, N) after "
							 "epoch N is committed; a session holding pg_advisory_lock(run id, N) "
							 "keeps the run there.  Leave it off outside tests.",
							 &mlp_test_hold_points,
							 false,
							 PGC_SUSET, GUC_NOT_IN_SAMPLE,
							 NULL, NULL, NULL);
}
