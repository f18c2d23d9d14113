/*
 * run_config.h - the definition of a run: what mlp_train and mlp_finetune take, what
 * runs.config stores, and what the worker trains with.
 *
 * One table in run_config.c lists every option stored in runs.config with its JSON key and
 * type; the writer (mlp_train) and the reader (the worker) both walk it, so a new option is
 * one line there plus its argument in the SQL signature.  Arguments are found by name in the
 * function's signature (MlpArgs, sql_values.h), never by position.
 */
#ifndef MLP_RUN_CONFIG_H
#define MLP_RUN_CONFIG_H

#include "postgres.h"

#include "utils/jsonb.h"

#include "core/augment.h"
#include "core/blas.h"

typedef struct MlpRunConfig
{
	/* columns of mlpscale.runs, not in config */
	char	   *model_name;
	bool		finetune;
	char	   *source;			/* a query, or the quoted qualified name of source_relid */
	char	   *validation;		/* NULL = none */
	char	   *arch;
	int			epochs;
	int64		sweep_id;		/* the sweep that queued the run; 0 = none */
	/* runs.config */
	int64		base_model_id;	/* fine-tuning: the base model's version; 0 = none */
	int			batch_size;
	char	   *optimizer;
	double		lr;
	double		weight_decay;
	double		body_lr_mult;
	double		label_smoothing;
	double		mixup;
	bool		augment;
	int			resolution;		/* 0 = the images' own */
	int64		seed;
	char	   *image_column;
	char	   *label_column;
	bool		cosine;
	double		clip_norm;
	int			classes;		/* 0 = max label + 1 */
	int			num_mean;		/* 0 = computed from the training images */
	float		mean[MLP_MAX_CHANNELS];
	int			num_std;
	float		std[MLP_MAX_CHANNELS];
	int			threads;
	MlpMatmulPrecision matmul_precision;	/* of the training products; fp32 = 0 */
	Oid			source_relid;	/* the relation resolved by the call; InvalidOid: a query */
	Oid			validation_relid;
	char	   *search_path;	/* the caller's, for query sources; NULL = the worker's */
	int64		train_size;		/* rows of the class-balanced subset; 0 = every row */
	int64		per_class;		/* train_size / the classes of the source at the call */
	int			early_stop;		/* epochs without a better val_loss before stopping; 0 = off */
} MlpRunConfig;

/* runs.config of cfg, as JSON text (every key of the table; NULL options as null). */
extern char *MlpRunConfigToJson(const MlpRunConfig *cfg);

/*
 * The options of config into cfg (its column fields, arch and epochs included, are left
 * alone: the columns count, and the tests shorten a run by updating runs.epochs).  A key that is
 * missing or null takes its default: configs of older versions lack the newer keys.
 * ERROR (22023) on a value of the wrong type or an unknown matmul_precision.
 */
extern void MlpRunConfigFromJsonb(Jsonb *config, MlpRunConfig *cfg);

/*
 * The precision named by matmul_precision ('fp32' or 'bf16'); ERROR when the name is unknown
 * or this CPU cannot run it (mlp_train checks it, and the worker again: a run may be resumed
 * on another machine).
 */
extern MlpMatmulPrecision MlpCheckMatmulPrecision(const char *name);

#endif
