/*
 * model.c - the MLPs of arch.h over one contiguous parameter buffer: layout, init, forward,
 * backward and scratch-buffer inference.
 *
 * Layout (state-dict names, linear_out moved last so [head_offset, num_params) is the head):
 *   B_: linear_in.{weight,bias}, blocks.{i}.block.{0,2}.{weight,bias}, layernorms.{i}.*,
 *       linear_out.{weight,bias}
 *   S_: linear_in.*, layers.{i}.{weight,bias}, layernorms.{i}.*, linear_out.*
 */
#include "model.h"
#include "gemm_bf16.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"

/* Every buffer starts on a cache line (SGEMM packing and vector loads like that). */
#define MLP_ALIGN_FLOATS 16

static size_t
round_up(size_t n)
{
	return (n + MLP_ALIGN_FLOATS - 1) / MLP_ALIGN_FLOATS * MLP_ALIGN_FLOATS;
}

static float *
alloc_floats(size_t n)
{
	size_t		bytes = round_up(n ? n : 1) * sizeof(float);

	return aligned_alloc(MLP_ALIGN_FLOATS * sizeof(float), bytes);
}

/* ---- layout ---------------------------------------------------------------------------- */

/* Tensor indices into m->tensors, by role. */
static int
t_in_w(void)
{
	return 0;
}

static int
t_out_w(const MlpModel *m)
{
	return m->num_tensors - 2;
}

/* B_: blocks.{l}.block.0.weight; the bias, block.2.weight and block.2.bias follow */
static int
t_block(int l)
{
	return 2 + 4 * l;
}

/* S_: layers.{l}.weight; its bias follows */
static int
t_layer(int l)
{
	return 2 + 2 * l;
}

/* layernorms.{l}.weight (both kinds); its bias follows */
static int
t_norm(const MlpModel *m, int l)
{
	int			nlin = m->arch.kind == MLP_KIND_BOTTLENECK ? 4 * m->arch.depth
		: 2 * (m->arch.depth - 1);

	return 2 + nlin + 2 * l;
}

/* Number of LayerNorms (and of blocks / hidden linears). */
static int
num_layers(const MlpArch *a)
{
	return a->kind == MLP_KIND_BOTTLENECK ? a->depth : a->depth - 1;
}

static float *
P(const MlpModel *m, int t)
{
	return m->params + m->tensors[t].offset;
}

static float *
G(const MlpModel *m, int t)
{
	return m->grads + m->tensors[t].offset;
}

static void
add_tensor(MlpModel *m, size_t *off, int ndim, int64_t d0, int64_t d1, const char *fmt, int i)
{
	MlpTensor  *t = &m->tensors[m->num_tensors++];

	snprintf(t->name, sizeof(t->name), fmt, i);
	t->ndim = ndim;
	t->shape[0] = d0;
	t->shape[1] = ndim == 2 ? d1 : 0;
	t->numel = (size_t) d0 * (ndim == 2 ? (size_t) d1 : 1);
	t->offset = *off;
	*off += t->numel;
}

int
mlp_model_create_layout(MlpModel *m, const MlpArch *arch, char *err, size_t errlen)
{
	int64_t		W = arch->width,
				D = arch->in_dim,
				C = arch->classes,
				kW = (int64_t) arch->expansion * arch->width;
	int			nl;
	size_t		off = 0;

	memset(m, 0, sizeof(*m));
	if (mlp_arch_validate(arch, err, errlen) != 0)
		return -1;
	m->arch = *arch;
	nl = num_layers(arch);
	m->tensors = calloc(6 * (size_t) arch->depth + 4, sizeof(MlpTensor));
	if (m->tensors == NULL)
		goto oom;

	add_tensor(m, &off, 2, W, D, "linear_in.weight", 0);
	add_tensor(m, &off, 1, W, 0, "linear_in.bias", 0);
	for (int l = 0; l < nl; l++)
	{
		if (arch->kind == MLP_KIND_BOTTLENECK)
		{
			add_tensor(m, &off, 2, kW, W, "blocks.%d.block.0.weight", l);
			add_tensor(m, &off, 1, kW, 0, "blocks.%d.block.0.bias", l);
			add_tensor(m, &off, 2, W, kW, "blocks.%d.block.2.weight", l);
			add_tensor(m, &off, 1, W, 0, "blocks.%d.block.2.bias", l);
		}
		else
		{
			add_tensor(m, &off, 2, W, W, "layers.%d.weight", l);
			add_tensor(m, &off, 1, W, 0, "layers.%d.bias", l);
		}
	}
	for (int l = 0; l < nl; l++)
	{
		add_tensor(m, &off, 1, W, 0, "layernorms.%d.weight", l);
		add_tensor(m, &off, 1, W, 0, "layernorms.%d.bias", l);
	}
	m->head_offset = off;
	add_tensor(m, &off, 2, C, W, "linear_out.weight", 0);
	add_tensor(m, &off, 1, C, 0, "linear_out.bias", 0);
	m->num_params = off;
	return 0;

oom:
	if (err && errlen)
		snprintf(err, errlen, "out of memory for the layout of a model of depth %d", arch->depth);
	mlp_model_free(m);
	return -1;
}

int
mlp_model_alloc_params(MlpModel *m, bool with_grads, char *err, size_t errlen)
{
	size_t		n = m->num_params;

	m->params = alloc_floats(n);
	if (m->params == NULL)
		goto oom;
	memset(m->params, 0, n * sizeof(float));
	if (with_grads)
	{
		m->grads = alloc_floats(n);
		if (m->grads == NULL)
			goto oom;
		memset(m->grads, 0, n * sizeof(float));
	}
	return 0;

oom:
	if (err && errlen)
		snprintf(err, errlen, "out of memory for a model of %zu parameters (%.1f MiB%s)",
				 n, n * 4.0 / 1048576.0, with_grads ? ", twice for gradients" : "");
	mlp_model_free(m);
	return -1;
}

int
mlp_model_create(MlpModel *m, const MlpArch *arch, bool with_grads, char *err, size_t errlen)
{
	if (mlp_model_create_layout(m, arch, err, errlen) != 0)
		return -1;
	return mlp_model_alloc_params(m, with_grads, err, errlen);
}

void
mlp_model_free(MlpModel *m)
{
	free(m->params);
	free(m->grads);
	free(m->tensors);
	memset(m, 0, sizeof(*m));
}

const MlpTensor *
mlp_model_find_tensor(const MlpModel *m, const char *name)
{
	for (int i = 0; i < m->num_tensors; i++)
		if (strcmp(m->tensors[i].name, name) == 0)
			return &m->tensors[i];
	return NULL;
}

/* PyTorch's nn.Linear.reset_parameters: weight and bias both U(-1/sqrt(fan_in), +...). */
static void
init_linear(MlpModel *m, int t, MlpRng *rng)
{
	const MlpTensor *w = &m->tensors[t],
			   *b = &m->tensors[t + 1];
	double		bound = 1.0 / sqrt((double) w->shape[1]);

	for (size_t i = 0; i < w->numel; i++)
		m->params[w->offset + i] = (float) mlp_rng_uniform_range(rng, -bound, bound);
	for (size_t i = 0; i < b->numel; i++)
		m->params[b->offset + i] = (float) mlp_rng_uniform_range(rng, -bound, bound);
}

void
mlp_model_init_weights(MlpModel *m, MlpRng *rng)
{
	int			nl = num_layers(&m->arch);

	init_linear(m, t_in_w(), rng);
	for (int l = 0; l < nl; l++)
	{
		if (m->arch.kind == MLP_KIND_BOTTLENECK)
		{
			init_linear(m, t_block(l), rng);
			init_linear(m, t_block(l) + 2, rng);
		}
		else
			init_linear(m, t_layer(l), rng);
		for (int64_t j = 0; j < m->arch.width; j++)
		{
			P(m, t_norm(m, l))[j] = 1.0f;
			P(m, t_norm(m, l) + 1)[j] = 0.0f;
		}
	}
	init_linear(m, t_out_w(m), rng);
}

void
mlp_model_init_head(MlpModel *m, MlpRng *rng)
{
	init_linear(m, t_out_w(m), rng);
}

void
mlp_model_zero_grads(MlpModel *m)
{
	if (m->grads)
		memset(m->grads, 0, m->num_params * sizeof(float));
}

/* ---- activations ----------------------------------------------------------------------- */

/*
 * Pointers into MlpActivations.buf.  B_: x[0..L] residual stream (x[0] = linear_in output,
 * x[L] the head input), ln[l] LayerNorm outputs, h[l] the expansion before GELU (bias
 * included) and, once the forward pass is done, GELU' of it, a[l] GELU outputs.  S_:
 * x[0..L-1] linear outputs (x[0] = linear_in), ln[l] (GELU' of it after the forward pass),
 * a[l] = GELU(ln[l]).  d_* are backward scratch.
 */
typedef struct ActPtrs
{
	float	  **x;
	float	  **ln;
	float	  **h;
	float	  **a;
	float	  **mean;
	float	  **rstd;
	float	   *d_x;
	float	   *d_ln;
	float	   *d_h;
} ActPtrs;

/* Walks the layout once: counts floats when p is NULL, sets p's pointers into buf otherwise. */
static size_t
activations_layout(const MlpArch *arch, size_t Bm, float *buf, ActPtrs *p)
{
	size_t		W = arch->width,
				kW = (size_t) arch->expansion * arch->width;
	int			nl = num_layers(arch);
	bool		bott = arch->kind == MLP_KIND_BOTTLENECK;
	size_t		off = 0;

#define TAKE(ptr, n) do { if (p) (ptr) = buf + off; off += round_up(n); } while (0)
	for (int l = 0; l <= nl; l++)
		TAKE(p->x[l], Bm * W);
	for (int l = 0; l < nl; l++)
	{
		TAKE(p->ln[l], Bm * W);
		if (bott)
		{
			TAKE(p->h[l], Bm * kW);
			TAKE(p->a[l], Bm * kW);
		}
		else
			TAKE(p->a[l], Bm * W);
		TAKE(p->mean[l], Bm);
		TAKE(p->rstd[l], Bm);
	}
	TAKE(p->d_x, Bm * W);
	TAKE(p->d_ln, Bm * W);
	if (bott)
		TAKE(p->d_h, Bm * kW);
#undef TAKE
	return off;
}

size_t
mlp_activations_floats(const MlpArch *arch, int max_batch)
{
	return activations_layout(arch, (size_t) max_batch, NULL, NULL);
}

int
mlp_activations_create(MlpActivations *a, const MlpModel *m, int max_batch,
					   char *err, size_t errlen)
{
	int			nl = num_layers(&m->arch);
	ActPtrs    *p;
	size_t		n;

	memset(a, 0, sizeof(*a));
	if (max_batch < 1)
	{
		if (err && errlen)
			snprintf(err, errlen, "batch size %d must be at least 1", max_batch);
		return -1;
	}
	n = mlp_activations_floats(&m->arch, max_batch);
	p = calloc(1, sizeof(ActPtrs));
	if (p)
	{
		/* one array of 6 * (nl + 1) pointers for the six per-layer lists */
		float	  **lists = calloc(6 * ((size_t) nl + 1), sizeof(float *));

		if (lists)
		{
			p->x = lists;
			p->ln = lists + (nl + 1);
			p->h = lists + 2 * (nl + 1);
			p->a = lists + 3 * (nl + 1);
			p->mean = lists + 4 * (nl + 1);
			p->rstd = lists + 5 * (nl + 1);
			a->buf = alloc_floats(n);
		}
		if (lists == NULL || a->buf == NULL)
		{
			free(lists);
			free(p);
			p = NULL;
		}
	}
	if (p == NULL)
	{
		free(a->buf);
		a->buf = NULL;
		if (err && errlen)
			snprintf(err, errlen, "out of memory for the activations of a batch of %d (%.1f MiB)",
					 max_batch, n * 4.0 / 1048576.0);
		return -1;
	}
	activations_layout(&m->arch, (size_t) max_batch, a->buf, p);
	a->max_batch = max_batch;
	a->num_floats = n;
	a->priv = p;
	return 0;
}

void
mlp_activations_free(MlpActivations *a)
{
	ActPtrs    *p = a->priv;

	if (p)
	{
		free(p->x);				/* the pointer lists are one allocation */
		free(p);
	}
	free(a->buf);
	memset(a, 0, sizeof(*a));
}

/* ---- forward and backward -------------------------------------------------------------- */

static void
check_batch(const MlpActivations *acts, int B)
{
	/* a larger batch would write past the activation buffer: a caller bug, stop here */
	if (B < 0 || B > acts->max_batch)
	{
		fprintf(stderr, "mlpscale: batch %d exceeds the activations' capacity %d\n",
				B, acts->max_batch);
		abort();
	}
}

void
mlp_model_forward(const MlpModel *m, MlpActivations *acts, const float *x, int B,
				  float *logits)
{
	const MlpArch *ar = &m->arch;
	ActPtrs    *p = acts->priv;
	int			W = ar->width,
				D = (int) ar->in_dim,
				C = ar->classes,
				kW = ar->expansion * ar->width;
	int			nl = num_layers(ar);

	check_batch(acts, B);
	if (B == 0)
		return;
	mlp_linear_forward(p->x[0], x, P(m, t_in_w()), P(m, t_in_w() + 1), NULL, B, D, W);
	for (int l = 0; l < nl; l++)
	{
		int			tn = t_norm(m, l);

		mlp_layernorm_forward(p->ln[l], p->mean[l], p->rstd[l], p->x[l],
							  P(m, tn), P(m, tn + 1), B, W);
		if (ar->kind == MLP_KIND_BOTTLENECK)
		{
			int			tb = t_block(l);

			/* h keeps GELU' for backward, not the pre-activation */
			mlp_linear_gelu_forward_train(p->h[l], p->a[l], p->ln[l], P(m, tb), P(m, tb + 1),
										  B, W, kW);
			mlp_linear_forward(p->x[l + 1], p->a[l], P(m, tb + 2), P(m, tb + 3), p->x[l],
							   B, kW, W);
		}
		else
		{
			int			tl = t_layer(l);

			/* GELU(ln) is a fresh buffer; ln keeps GELU' for backward */
			mlp_bias_gelu_forward_train(p->ln[l], p->a[l], NULL, B, W);
			mlp_linear_forward(p->x[l + 1], p->a[l], P(m, tl), P(m, tl + 1), NULL, B, W, W);
		}
	}
	mlp_linear_forward(logits, p->x[nl], P(m, t_out_w(m)), P(m, t_out_w(m) + 1), NULL,
					   B, W, C);
}

void
mlp_model_backward(MlpModel *m, MlpActivations *acts, const float *x,
				   const float *dlogits, int B)
{
	const MlpArch *ar = &m->arch;
	ActPtrs    *p = acts->priv;
	int			W = ar->width,
				D = (int) ar->in_dim,
				C = ar->classes,
				kW = ar->expansion * ar->width;
	int			nl = num_layers(ar);
	float	   *dx = p->d_x;

	check_batch(acts, B);
	if (B == 0 || m->grads == NULL)
		return;
	mlp_linear_backward(dx, G(m, t_out_w(m)), G(m, t_out_w(m) + 1), dlogits, p->x[nl],
						P(m, t_out_w(m)), B, W, C);
	for (int l = nl - 1; l >= 0; l--)
	{
		int			tn = t_norm(m, l);

		if (ar->kind == MLP_KIND_BOTTLENECK)
		{
			int			tb = t_block(l);

			/* dx is the gradient of x[l+1], and through the residual also of x[l] */
			mlp_linear_backward(p->d_h, G(m, tb + 2), G(m, tb + 3), dx, p->a[l], P(m, tb + 2),
								B, kW, W);
			mlp_gelu_backward_grad(p->d_h, G(m, tb + 1), p->d_h, p->h[l], B, kW);
			mlp_linear_backward(p->d_ln, G(m, tb), NULL, p->d_h, p->ln[l], P(m, tb), B, W, kW);
			mlp_layernorm_backward(dx, G(m, tn), G(m, tn + 1), p->d_ln, p->x[l], p->mean[l],
								   p->rstd[l], P(m, tn), dx, B, W);
		}
		else
		{
			int			tl = t_layer(l);

			mlp_linear_backward(p->d_ln, G(m, tl), G(m, tl + 1), dx, p->a[l], P(m, tl), B, W, W);
			mlp_gelu_backward_grad(p->d_ln, NULL, p->d_ln, p->ln[l], B, W);
			mlp_layernorm_backward(dx, G(m, tn), G(m, tn + 1), p->d_ln, p->x[l], p->mean[l],
								   p->rstd[l], P(m, tn), NULL, B, W);
		}
	}
	/* the input needs no gradient: only linear_in's weight and bias */
	mlp_linear_backward(NULL, G(m, t_in_w()), G(m, t_in_w() + 1), dx, x, P(m, t_in_w()),
						B, D, W);
}

/* ---- inference ------------------------------------------------------------------------- */

size_t
mlp_model_scratch_floats(const MlpModel *m, int B)
{
	size_t		W = m->arch.width,
				kW = (size_t) m->arch.expansion * m->arch.width;

	if (m->arch.kind == MLP_KIND_BOTTLENECK)
		return round_up((size_t) B * W) * 2 + round_up((size_t) B * kW);
	return round_up((size_t) B * W) * 2;
}

/* The packed weight of the linear layer at float offset off, or NULL. */
static const MlpBf16PackedB *
packed_layer(const MlpBf16Weights *w, size_t off)
{
	for (int i = 0; i < w->num_packed; i++)
		if (w->packed_offset[i] == off)
			return &w->packed[i];
	return NULL;
}

/*
 * One linear layer of inference: the fp32 path (mlp_linear_forward), or with w the bf16
 * one: a single image by mlp_gemv_bf16 on w16 (2 bytes per weight read), a batch by the
 * product against the packed weight.  gelu_bias (bottleneck expansions) asks for
 * out = GELU(product + gelu_bias): in the bf16 batch product's epilogue, else a pass after.
 */
static void
infer_linear(const MlpModel *m, const MlpBf16Weights *w, float *out, const float *inp,
			 const float *weight, const float *bias, const float *resid, int B, int K, int N,
			 const float *gelu_bias, bool gelu)
{
	float		beta;
	const MlpBf16PackedB *pb;

	if (w == NULL)
	{
		mlp_linear_forward(out, inp, weight, bias, resid, B, K, N);
		if (gelu)
			mlp_bias_gelu_forward(out, out, gelu_bias, B, N);
		return;
	}
	beta = mlp_linear_init_out(out, bias, resid, B, N);
	if (B == 1 && w->w16 != NULL &&
		mlp_gemv_bf16(N, K, w->w16 + (weight - m->params), K, inp, beta, out) == 0)
	{
		if (gelu)
			mlp_bias_gelu_forward(out, out, gelu_bias, B, N);
		return;
	}
	pb = packed_layer(w, (size_t) (weight - m->params));
	if (pb != NULL)
	{
		MlpGeluEpilogue e = {gelu_bias, out, false};

		if (mlp_gemm_bf16_packed(false, B, 1.0f, inp, K, pb, beta, out, N,
								 gelu ? mlp_gelu_epilogue : NULL, &e) == 0)
			return;
	}
	if (mlp_gemm_bf16(false, true, B, N, K, 1.0f, inp, K, weight, K, beta, out, N) != 0)
		mlp_gemm_bf16_reference(false, true, B, N, K, 1.0f, inp, K, weight, K, beta, out, N);
	if (gelu)
		mlp_bias_gelu_forward(out, out, gelu_bias, B, N);
}

static void
infer(const MlpModel *m, const MlpBf16Weights *w, const float *x, int B, float *logits,
	  float *scratch)
{
	const MlpArch *ar = &m->arch;
	int			W = ar->width,
				D = (int) ar->in_dim,
				C = ar->classes,
				kW = ar->expansion * ar->width;
	int			nl = num_layers(ar);
	float	   *xs = scratch;	/* residual stream / current activations */
	float	   *tmp = scratch + round_up((size_t) B * W);
	float	   *h = tmp + round_up((size_t) B * W);

	if (B <= 0)
		return;
	infer_linear(m, w, xs, x, P(m, t_in_w()), P(m, t_in_w() + 1), NULL, B, D, W, NULL, false);
	for (int l = 0; l < nl; l++)
	{
		int			tn = t_norm(m, l);

		mlp_layernorm_forward(tmp, NULL, NULL, xs, P(m, tn), P(m, tn + 1), B, W);
		if (ar->kind == MLP_KIND_BOTTLENECK)
		{
			int			tb = t_block(l);

			infer_linear(m, w, h, tmp, P(m, tb), NULL, NULL, B, W, kW, P(m, tb + 1), true);
			infer_linear(m, w, xs, h, P(m, tb + 2), P(m, tb + 3), xs, B, kW, W, NULL, false);
		}
		else
		{
			int			tl = t_layer(l);

			mlp_bias_gelu_forward(tmp, tmp, NULL, B, W);
			infer_linear(m, w, xs, tmp, P(m, tl), P(m, tl + 1), NULL, B, W, W, NULL, false);
		}
	}
	infer_linear(m, w, logits, xs, P(m, t_out_w(m)), P(m, t_out_w(m) + 1), NULL, B, W, C,
				 NULL, false);
}

void
mlp_model_infer(const MlpModel *m, const float *x, int B, float *logits, float *scratch)
{
	infer(m, NULL, x, B, logits, scratch);
}

uint16_t *
mlp_model_bf16_weights(const MlpModel *m)
{
	uint16_t   *w16 = malloc(sizeof(uint16_t) * (m->num_params > 0 ? m->num_params : 1));

	if (w16 != NULL)
		mlp_floats_to_bf16(m->params, w16, m->num_params);
	return w16;
}

int
mlp_model_bf16_prepare(const MlpModel *m, MlpBf16Weights *w, int B)
{
	int			n = 0;

	if (!mlp_gemm_bf16_supported())
		return -1;
	if (B <= 1)
	{
		if (w->w16 == NULL)
			w->w16 = mlp_model_bf16_weights(m);
		return w->w16 != NULL ? 0 : -1;
	}
	if (w->num_packed > 0)
		return 0;
	/* the 2-D tensors are the linear layers' weights, [out, in] */
	for (int t = 0; t < m->num_tensors; t++)
		n += m->tensors[t].ndim == 2;
	w->packed_offset = calloc(n > 0 ? n : 1, sizeof(size_t));
	w->packed = calloc(n > 0 ? n : 1, sizeof(MlpBf16PackedB));
	if (w->packed_offset == NULL || w->packed == NULL)
		goto fail;
	for (int t = 0; t < m->num_tensors; t++)
	{
		const MlpTensor *te = &m->tensors[t];

		if (te->ndim != 2)
			continue;
		if (mlp_gemm_bf16_pack_b(true, (int) te->shape[0], (int) te->shape[1],
								 m->params + te->offset, (int) te->shape[1],
								 &w->packed[w->num_packed]) != 0)
			goto fail;
		w->packed_offset[w->num_packed++] = te->offset;
	}
	return 0;
fail:
	for (int i = 0; i < w->num_packed; i++)
		mlp_gemm_bf16_packed_free(&w->packed[i]);
	free(w->packed);
	free(w->packed_offset);
	w->packed = NULL;
	w->packed_offset = NULL;
	w->num_packed = 0;
	return -1;
}

void
mlp_model_bf16_free(MlpBf16Weights *w)
{
	for (int i = 0; i < w->num_packed; i++)
		mlp_gemm_bf16_packed_free(&w->packed[i]);
	free(w->packed);
	free(w->packed_offset);
	free(w->w16);
	memset(w, 0, sizeof(*w));
}

size_t
mlp_model_bf16_bytes(const MlpModel *m, const MlpBf16Weights *w)
{
	size_t		bytes = w->w16 != NULL ? sizeof(uint16_t) * m->num_params : 0;

	for (int i = 0; i < w->num_packed; i++)
		bytes += mlp_gemm_bf16_packed_bytes(w->packed[i].N, w->packed[i].K);
	return bytes;
}

void
mlp_model_infer_bf16(const MlpModel *m, const MlpBf16Weights *w, const float *x, int B,
					 float *logits, float *scratch)
{
	infer(m, w, x, B, logits, scratch);
}
