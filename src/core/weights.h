/*
 * weights.h - a model and its metadata to and from a safetensors file.
 *
 * Tensor names and shapes are those of the reference PyTorch code, so
 * torch's load_state_dict(strict=True) accepts an export.  The header's __metadata__ holds
 * (all values are strings): "format" = "mlpscale", "arch" (e.g. "B_6-Wi_512"),
 * "input_shape" ("3,32,32"), "classes" ("10"), "mean" and "std" ("0.4914,0.4822,0.4465"),
 * "class_names" (a JSON array of strings).  On import the architecture is inferred from the
 * tensor shapes (and checked against "arch" when present); arguments override metadata.
 */
#ifndef MLP_WEIGHTS_H
#define MLP_WEIGHTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "augment.h"
#include "model.h"

typedef struct MlpModelMeta
{
	MlpImageSpec input;			/* C, H, W */
	int			classes;
	float		mean[MLP_MAX_CHANNELS];	/* 0-1 scale */
	float		std[MLP_MAX_CHANNELS];
	int			num_class_names;	/* 0 or classes */
	char	  **class_names;	/* malloc'd strings */
} MlpModelMeta;

void		mlp_model_meta_free(MlpModelMeta *meta);

/* What the caller of mlp_import gives; each part optional. */
typedef struct MlpImportOverrides
{
	bool		has_input;
	MlpImageSpec input;
	int			num_mean;		/* 0 = not given; else must equal channels */
	float		mean[MLP_MAX_CHANNELS];
	int			num_std;
	float		std[MLP_MAX_CHANNELS];
	int			num_class_names;	/* 0 = not given; else must equal classes */
	const char *const *class_names;
} MlpImportOverrides;

typedef enum MlpWeightsStatus
{
	MLP_WEIGHTS_OK = 0,
	MLP_WEIGHTS_CORRUPT = -1,	/* not a valid safetensors file */
	MLP_WEIGHTS_BAD_MODEL = -2, /* valid file, but tensors missing, extra or of wrong shape */
	MLP_WEIGHTS_NO_INPUT_SHAPE = -3,	/* shape known from neither metadata nor overrides */
	MLP_WEIGHTS_BAD_ARGUMENT = -4,	/* overrides inconsistent with the model */
	MLP_WEIGHTS_NO_MEMORY = -5
} MlpWeightsStatus;

/* Serialises params of m with meta into a malloc'd safetensors buffer. */
MlpWeightsStatus mlp_weights_export(const MlpModel *m, const MlpModelMeta *meta,
									uint8_t **out, size_t *outlen, char *err, size_t errlen);

/*
 * Parses buf, infers and checks the architecture, creates *m (inference only, no grads) with
 * its params and fills *meta.  Mean and std default to 0 and 1 when given by neither.
 */
MlpWeightsStatus mlp_weights_import(const uint8_t *buf, size_t len,
									const MlpImportOverrides *ov, MlpModel *m,
									MlpModelMeta *meta, char *err, size_t errlen);

#endif
