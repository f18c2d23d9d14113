/*
 * settings.h - the values of mlpscale's settings (settings.c defines them all).
 */
#ifndef MLP_SETTINGS_H
#define MLP_SETTINGS_H

/* training */
extern int	mlp_max_concurrent_runs;
extern int	mlp_max_training_memory_mb;
extern int	mlp_training_threads;
extern bool mlp_streaming;
extern int	mlp_stream_buffer_rows;

/* scoring */
extern int	mlp_scoring_batch_size;
extern int	mlp_scoring_threads;
extern int	mlp_model_cache_size;
extern int	mlp_evaluate_max_memory_mb;
extern int	mlp_scoring_precision;	/* MlpMatmulPrecision */

/* testing: the hold points of test_hold.c */
extern bool mlp_test_hold_points;

/* Defines every mlpscale.* setting; called once from _PG_init. */
extern void MlpSettingsInit(void);

/* The model cache's eviction, run when mlpscale.model_cache_size changes (lowered: frees). */
extern void MlpOnModelCacheSizeChange(void (*hook) (void));

#endif
