/*
 * model.h - an MLP of arch.h with all parameters in one contiguous buffer.
 *
 * Gradients and optimizer state use the same layout, so an optimizer is one loop over
 * num_params floats.  Tensors are laid out in the order of the reference PyTorch state dict
 * and carry its names (linear_in.weight, ..., linear_out.bias), which is what safetensors
 * import and export map onto.  linear_out comes last, so [head_offset, num_params) is the head
 * (fine-tuning trains it with a larger learning rate than the body).
 */
#ifndef MLP_MODEL_H
#define MLP_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch.h"
#include "gemm_bf16.h"
#include "rng.h"

#define MLP_TENSOR_NAME_MAX 64

typedef struct MlpTensor
{
	char		name[MLP_TENSOR_NAME_MAX];	/* reference PyTorch name */
	int			ndim;		/* 1 or 2 */
	int64_t		shape[2];	/* PyTorch shape: weights are [out, in] */
	size_t		offset;		/* in floats, into params/grads */
	size_t		numel;
} MlpTensor;

typedef struct MlpModel
{
	MlpArch		arch;
	size_t		num_params;
	float	   *params;		/* [num_params] */
	float	   *grads;		/* [num_params], NULL when created for inference */
	int			num_tensors;
	MlpTensor  *tensors;	/* layout order */
	size_t		head_offset;	/* first float of linear_out.weight */
} MlpModel;

/*
 * Saved activations of one forward pass for a batch of up to max_batch images, enough for
 * backward.  One allocation.
 */
typedef struct MlpActivations
{
	int			max_batch;
	size_t		num_floats;
	float	   *buf;
	/* pointers into buf are private to model.c */
	void	   *priv;
} MlpActivations;

/* Allocates params (and grads when with_grads), zeroed.  0, or -1 with a message. */
int			mlp_model_create(MlpModel *m, const MlpArch *arch, bool with_grads,
							 char *err, size_t errlen);

/*
 * mlp_model_create in two steps: the tensor table only (params and grads NULL; small
 * whatever the architecture), then the parameters.  Import checks a file's tensors against
 * the layout before it allocates what the file claims.  Each frees m on failure.
 */
int			mlp_model_create_layout(MlpModel *m, const MlpArch *arch, char *err, size_t errlen);
int			mlp_model_alloc_params(MlpModel *m, bool with_grads, char *err, size_t errlen);
void		mlp_model_free(MlpModel *m);

/* PyTorch default init: U(+-1/sqrt(fan_in)) for weights and biases, LayerNorm 1 and 0. */
void		mlp_model_init_weights(MlpModel *m, MlpRng *rng);

/* Re-initialises only linear_out (fine-tuning a new head). */
void		mlp_model_init_head(MlpModel *m, MlpRng *rng);

/* Tensor by reference name, or NULL. */
const MlpTensor *mlp_model_find_tensor(const MlpModel *m, const char *name);

/* Floats an MlpActivations for max_batch images holds (memory budgets before allocating). */
size_t		mlp_activations_floats(const MlpArch *arch, int max_batch);

int			mlp_activations_create(MlpActivations *a, const MlpModel *m, int max_batch,
								   char *err, size_t errlen);
void		mlp_activations_free(MlpActivations *a);

/*
 * Forward of B <= acts->max_batch images x [B, in_dim] (normalised floats) into
 * logits [B, classes], saving what backward needs in acts.
 */
void		mlp_model_forward(const MlpModel *m, MlpActivations *acts, const float *x, int B,
							  float *logits);

/*
 * Backward from dlogits [B, classes] of the last forward: ADDS into m->grads.
 * x is the same input that forward saw (linear_in's weight gradient needs it).
 */
void		mlp_model_backward(MlpModel *m, MlpActivations *acts, const float *x,
							   const float *dlogits, int B);

void		mlp_model_zero_grads(MlpModel *m);

/* Inference without saved activations: scratch must hold mlp_model_scratch_floats(m, B). */
size_t		mlp_model_scratch_floats(const MlpModel *m, int B);
void		mlp_model_infer(const MlpModel *m, const float *x, int B, float *logits,
							float *scratch);

/*
 * bf16 scoring: the weights rounded to bf16 (nearest even) once per model, and inference
 * whose products take bf16 operands with float sums (needs AVX512_BF16; LayerNorm, GELU and
 * the additions stay float).  Each form is made on first need: one image reads w16 (2 bytes
 * per weight, matrix-vector products); a batch multiplies against the linear layers' weights
 * packed once into the bf16 kernel's panels, with bias and GELU in the product's epilogue.
 * Both round the same weights to the same values.
 */
typedef struct MlpBf16Weights
{
	uint16_t   *w16;			/* num_params values in the model's layout, or NULL */
	int			num_packed;		/* linear layers, in layout order; 0 until packed */
	size_t	   *packed_offset;	/* [num_packed] float offset of each layer's weight */
	MlpBf16PackedB *packed;		/* [num_packed] */
} MlpBf16Weights;

/* Makes the form B images need (w16 for B == 1, else the packed layers); 0, or -1 without memory or AVX512_BF16. */
int			mlp_model_bf16_prepare(const MlpModel *m, MlpBf16Weights *w, int B);
void		mlp_model_bf16_free(MlpBf16Weights *w);
/* Bytes of what mlp_model_bf16_prepare made. */
size_t		mlp_model_bf16_bytes(const MlpModel *m, const MlpBf16Weights *w);

/* The w16 form alone (malloc'd, NULL without memory). */
uint16_t   *mlp_model_bf16_weights(const MlpModel *m);

/* Inference in bf16; w must hold what mlp_model_bf16_prepare(m, w, B) made. */
void		mlp_model_infer_bf16(const MlpModel *m, const MlpBf16Weights *w, const float *x,
								 int B, float *logits, float *scratch);

#endif
