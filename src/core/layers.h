/*
 * layers.h - forward and backward of the layers the MLPs are made of, with explicit sizes.
 *
 * Activations are row-major [B, N]: one row per image.  Weights are PyTorch's [out, in]
 * row-major, so a linear layer is Y = X W^T + b.  Conventions of every backward function:
 * parameter gradients (dweight, dbias, dgamma, dbeta) are ADDED to, so a batch may be split;
 * the input gradient is WRITTEN, except where an explicit residual argument says otherwise.
 * Every function works on rows independently apart from those parameter-gradient sums, so a
 * caller may split a batch across threads by rows (with per-thread parameter gradients).
 *
 * Plain C, no PostgreSQL headers.
 */
#ifndef MLP_LAYERS_H
#define MLP_LAYERS_H

#include <stdbool.h>
#include <stddef.h>

#define MLP_LAYERNORM_EPS 1e-5f

/*
 * out[B,N] = inp[B,K] W[N,K]^T + bias[N] + resid[B,N].  bias and resid may be NULL; resid may
 * alias out (the residual stream updated in place).  The additions happen in one pass before
 * a single matrix product that accumulates into out (SGEMV when B is 1).
 */
void		mlp_linear_forward(float *out, const float *inp, const float *weight,
							   const float *bias, const float *resid, int B, int K, int N);

/*
 * The additions of mlp_linear_forward: out = bias + resid (either may be NULL); returns the
 * beta with which the product must accumulate into out (0 when there was nothing to add).
 */
float		mlp_linear_init_out(float *out, const float *bias, const float *resid, int B, int N);

/*
 * dinp[B,K] = dout[B,N] W[N,K] (skipped when dinp is NULL, e.g. for the input layer);
 * dweight[N,K] += dout^T inp; dbias[N] += column sums of dout (skipped when NULL).
 */
void		mlp_linear_backward(float *dinp, float *dweight, float *dbias, const float *dout,
								const float *inp, const float *weight, int B, int K, int N);

/*
 * LayerNorm over the last dimension C with affine gamma, beta (eps MLP_LAYERNORM_EPS, biased
 * variance, as PyTorch).  mean and rstd [B] are saved for backward unless NULL (inference).
 * out may alias inp.
 */
void		mlp_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
								  const float *gamma, const float *beta, int B, int C);

/*
 * dinp[B,C] = dresid + d(LayerNorm)/d(inp) applied to dout; dresid may be NULL or alias dinp
 * (the gradient of the residual stream flowing past the block).  dgamma, dbeta += ...
 * dinp may not alias dout.
 */
void		mlp_layernorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
								   const float *inp, const float *mean, const float *rstd,
								   const float *gamma, const float *dresid, int B, int C);

/*
 * pre[B,N] += bias (when not NULL), then out = GELU(pre) with the exact erf form
 * 0.5 x (1 + erf(x / sqrt 2)).  pre keeps the pre-activation for backward; out may alias pre
 * when nothing needs it (inference).
 */
void		mlp_bias_gelu_forward(float *pre, float *out, const float *bias, int B, int N);

/*
 * dinp[B,N] = dout * GELU'(pre); dbias[N] += column sums of dinp (when not NULL), which is the
 * gradient of the bias folded into pre.  dinp may alias dout.
 */
void		mlp_gelu_backward(float *dinp, float *dbias, const float *dout, const float *pre,
							  int B, int N);

/*
 * For training: pre_grad[B,N] += bias (when not NULL), out = GELU(pre_grad), and then
 * pre_grad = GELU'(pre_grad), all in one pass: the backward pass needs only the derivative,
 * and computing it here reuses the erf of the forward value.
 */
void		mlp_bias_gelu_forward_train(float *pre_grad, float *out, const float *bias, int B,
										int N);

/*
 * The same two as the epilogue of a bf16 product (MlpGemmEpilogue of gemm_bf16.h), tile by
 * tile while the tile is in cache: arg is an MlpGeluEpilogue, the product's C is pre (or
 * pre_grad), out has C's stride.  Same bits as the separate pass.
 */
typedef struct MlpGeluEpilogue
{
	const float *bias;			/* [N] or NULL */
	float	   *out;			/* [M, ldc]; may be the product's C itself */
	bool		save_grad;		/* mlp_bias_gelu_forward_train: C ends holding GELU' */
} MlpGeluEpilogue;

void		mlp_gelu_epilogue(void *arg, float *c, int ldc, int i0, int j0, int m, int n);

/*
 * mlp_linear_forward (no bias, no residual) followed by mlp_bias_gelu_forward_train, with the
 * same bits: with bf16 products the GELU runs in the product's epilogue, tile by tile while
 * the tile is in cache, instead of a pass over pre_grad and out afterwards.
 */
void		mlp_linear_gelu_forward_train(float *pre_grad, float *out, const float *inp,
										  const float *weight, const float *gelu_bias, int B,
										  int K, int N);

/* mlp_gelu_backward from the derivative that mlp_bias_gelu_forward_train left in grad. */
void		mlp_gelu_backward_grad(float *dinp, float *dbias, const float *dout,
								   const float *grad, int B, int N);

/* out[n] = a + b (may alias either). */
void		mlp_residual_forward(float *out, const float *a, const float *b, size_t n);

/* da += dout; db += dout. */
void		mlp_residual_backward(float *da, float *db, const float *dout, size_t n);

/* dbias[N] += column sums of dout[B,N]. */
void		mlp_bias_backward(float *dbias, const float *dout, int B, int N);

/* Scalar forms of the GELU the vector code computes (same approximations), for tests. */
float		mlp_erf(float x);
float		mlp_gelu(float x);
float		mlp_gelu_grad(float x);

#endif
