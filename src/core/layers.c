/*
 * layers.c - per-layer forward and backward kernels of the MLPs.
 *
 * Matrix products go through mlp_sgemm; everything else is element-wise or per row and is
 * written with GCC vector extensions, so it is vectorised at the width the build targets
 * (-march=native gives AVX-512) without intrinsics (but vfma) and without -ffast-math.  erf and exp are
 * evaluated by polynomials (glibc's erff/expf are scalar calls the compiler cannot
 * vectorise), and every element, tail included, goes through the same vector code, so a
 * result never depends on where a row starts.
 */
#include "layers.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "blas.h"
#include "gemm_bf16.h"

#include "simd.h"
#include "thread_pool.h"

/*
 * erf by the rational approximation of Eigen and XLA: x P(x^2) / Q(x^2) on [-4, 4], where
 * float erf is +-1 outside; absolute error below 5e-7.
 */
static inline vf
v_erf(vf x)
{
	vf			z,
				p,
				q;

	x = vclamp(x, -4.0f, 4.0f);
	z = x * x;
	p = vfma(z, vsplat(-2.72614225801306e-10f), vsplat(2.77068142495902e-08f));
	p = vfma(z, p, vsplat(-2.10102402082508e-06f));
	p = vfma(z, p, vsplat(-5.69250639462346e-05f));
	p = vfma(z, p, vsplat(-7.34990630326855e-04f));
	p = vfma(z, p, vsplat(-2.95459980854025e-03f));
	p = vfma(z, p, vsplat(-1.60960333262415e-02f));
	q = vfma(z, vsplat(-1.45660718464996e-05f), vsplat(-2.13374055278905e-04f));
	q = vfma(z, q, vsplat(-1.68282697438203e-03f));
	q = vfma(z, q, vsplat(-7.37332916720468e-03f));
	q = vfma(z, q, vsplat(-1.42647390514189e-02f));
	return x * p / q;
}

/*
 * exp for t <= 0 (all GELU' needs): Cephes' expf, range reduction by ln 2 in two parts and a
 * degree-5 polynomial; relative error about 2e-7.  Below -87 the result is clamped to
 * exp(-87) ~ 1.6e-38 instead of going subnormal.
 */
static inline vf
v_exp_nonpos(vf t)
{
	const float magic = 12582912.0f;	/* 1.5 * 2^23: adding it rounds to an integer */
	vf			n,
				r,
				p,
				y;
	vi			bits;

	t = vclamp(t, -87.0f, 0.0f);
	n = (t * 1.44269504088896341f + magic) - magic;
	r = t - n * 0.693359375f - n * -2.12194440e-4f;
	p = vfma(r, vsplat(1.9875691500e-4f), vsplat(1.3981999507e-3f));
	p = vfma(p, r, vsplat(8.3334519073e-3f));
	p = vfma(p, r, vsplat(4.1665795894e-2f));
	p = vfma(p, r, vsplat(1.6666665459e-1f));
	p = vfma(p, r, vsplat(5.0000001201e-1f));
	y = vfma(p * r, r, r) + 1.0f;
	bits = (__builtin_convertvector(n, vi) + 127) << 23;
	return y * (vf) bits;
}

#define SQRT1_2F 0.70710678118654752f
#define INV_SQRT_2PI_F 0.39894228040143268f

static inline vf
v_gelu(vf x)
{
	return 0.5f * x * (1.0f + v_erf(x * SQRT1_2F));
}

/* d/dx x Phi(x) = Phi(x) + x phi(x) */
static inline vf
v_gelu_grad(vf x)
{
	vf			cdf = 0.5f * (1.0f + v_erf(x * SQRT1_2F));
	vf			pdf = v_exp_nonpos(-0.5f * x * x) * INV_SQRT_2PI_F;

	return cdf + x * pdf;
}

/*
 * Both at once, sharing the erf: GELU(x) = x Phi(x), and GELU'(x) in *grad.  The gradient is
 * v_gelu_grad's to the bit; x * (0.5 (1 + erf)) equals v_gelu's (0.5 x)(1 + erf) to the bit
 * too, since halving is exact outside the subnormal range.
 */
static inline vf
v_gelu_and_grad(vf x, vf *grad)
{
	vf			cdf = 0.5f * (1.0f + v_erf(x * SQRT1_2F));
	vf			pdf = v_exp_nonpos(-0.5f * x * x) * INV_SQRT_2PI_F;

	*grad = cdf + x * pdf;
	return x * cdf;
}

float
mlp_erf(float x)
{
	return v_erf(vsplat(x))[0];
}

float
mlp_gelu(float x)
{
	return v_gelu(vsplat(x))[0];
}

float
mlp_gelu_grad(float x)
{
	return v_gelu_grad(vsplat(x))[0];
}

/* ---- linear ---------------------------------------------------------------------------- */

float
mlp_linear_init_out(float *out, const float *bias, const float *resid, int B, int N)
{
	float		beta = 0.0f;

	if (bias != NULL || resid != NULL)
	{
		for (int i = 0; i < B; i++)
		{
			float	   *o = out + (size_t) i * N;
			const float *r = resid ? resid + (size_t) i * N : NULL;

			if (r && bias)
				for (int j = 0; j < N; j++)
					o[j] = r[j] + bias[j];
			else if (bias)
				memcpy(o, bias, sizeof(float) * N);
			else if (r != o)
				memcpy(o, r, sizeof(float) * N);
		}
		beta = 1.0f;
	}
	return beta;
}

void
mlp_linear_forward(float *out, const float *inp, const float *weight,
				   const float *bias, const float *resid, int B, int K, int N)
{
	float		beta = mlp_linear_init_out(out, bias, resid, B, N);

	/*
	 * One image is a matrix-vector product, bound by reading the weights once; SGEMM with
	 * M = 1 packs and blocks for reuse that is not there and runs about three times slower.
	 */
	if (B == 1)
		mlp_sgemv(false, N, K, 1.0f, weight, K, inp, beta, out);
	else
		mlp_sgemm(false, true, B, N, K, 1.0f, inp, K, weight, K, beta, out, N);
}

void
mlp_bias_backward(float *restrict dbias, const float *restrict dout, int B, int N)
{
	for (int i = 0; i < B; i++)
	{
		const float *d = dout + (size_t) i * N;

		for (int j = 0; j < N; j++)
			dbias[j] += d[j];
	}
}

void
mlp_linear_backward(float *dinp, float *dweight, float *dbias, const float *dout,
					const float *inp, const float *weight, int B, int K, int N)
{
	if (dbias != NULL)
		mlp_bias_backward(dbias, dout, B, N);
	mlp_sgemm(true, false, N, K, B, 1.0f, dout, N, inp, K, 1.0f, dweight, K);
	if (dinp != NULL)
		mlp_sgemm(false, false, B, K, N, 1.0f, dout, N, weight, K, 0.0f, dinp, K);
}

/* ---- LayerNorm ------------------------------------------------------------------------- */

void
mlp_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
					  const float *gamma, const float *beta, int B, int C)
{
	for (int i = 0; i < B; i++)
	{
		const float *x = inp + (size_t) i * C;
		float	   *y = out + (size_t) i * C;
		vf			acc = {0};
		float		m,
					var,
					rs;
		int			j;

		/* two passes (mean, then centred squares) for accuracy; the row is in L1 */
		for (j = 0; j + VLEN <= C; j += VLEN)
			acc += vload(x + j);
		m = vsum(acc);
		for (; j < C; j++)
			m += x[j];
		m /= (float) C;

		acc = (vf) {0};
		for (j = 0; j + VLEN <= C; j += VLEN)
		{
			vf			d = vload(x + j) - m;

			acc += d * d;
		}
		var = vsum(acc);
		for (; j < C; j++)
			var += (x[j] - m) * (x[j] - m);
		var /= (float) C;
		rs = 1.0f / sqrtf(var + MLP_LAYERNORM_EPS);

		for (j = 0; j + VLEN <= C; j += VLEN)
			vstore(y + j, (vload(x + j) - m) * rs * vload(gamma + j) + vload(beta + j));
		for (; j < C; j++)
			y[j] = (x[j] - m) * rs * gamma[j] + beta[j];
		if (mean)
			mean[i] = m;
		if (rstd)
			rstd[i] = rs;
	}
}

/*
 * With xhat = (x - mean) rstd and g = dout * gamma:
 *   dx = rstd (g - mean(g) - xhat mean(g xhat)),  dgamma += dout xhat,  dbeta += dout.
 */
void
mlp_layernorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
					   const float *inp, const float *mean, const float *rstd,
					   const float *gamma, const float *dresid, int B, int C)
{
	for (int i = 0; i < B; i++)
	{
		const float *x = inp + (size_t) i * C;
		const float *dy = dout + (size_t) i * C;
		const float *dr = dresid ? dresid + (size_t) i * C : NULL;
		float	   *dx = dinp + (size_t) i * C;
		float		m = mean[i],
					rs = rstd[i];
		vf			acc_g = {0},
					acc_gx = {0};
		float		sum_g,
					sum_gx,
					mg,
					mgx;
		int			j;

		for (j = 0; j + VLEN <= C; j += VLEN)
		{
			vf			xh = (vload(x + j) - m) * rs;
			vf			d = vload(dy + j);
			vf			g = d * vload(gamma + j);

			acc_g += g;
			acc_gx += g * xh;
			vstore(dgamma + j, vload(dgamma + j) + d * xh);
			vstore(dbeta + j, vload(dbeta + j) + d);
		}
		sum_g = vsum(acc_g);
		sum_gx = vsum(acc_gx);
		for (; j < C; j++)
		{
			float		xh = (x[j] - m) * rs;
			float		g = dy[j] * gamma[j];

			sum_g += g;
			sum_gx += g * xh;
			dgamma[j] += dy[j] * xh;
			dbeta[j] += dy[j];
		}
		mg = sum_g / (float) C;
		mgx = sum_gx / (float) C;

		for (j = 0; j + VLEN <= C; j += VLEN)
		{
			vf			xh = (vload(x + j) - m) * rs;
			vf			g = vload(dy + j) * vload(gamma + j);
			vf			v = rs * (g - mg - xh * mgx);

			if (dr)
				v += vload(dr + j);
			vstore(dx + j, v);
		}
		for (; j < C; j++)
		{
			float		xh = (x[j] - m) * rs;
			float		v = rs * (dy[j] * gamma[j] - mg - xh * mgx);

			dx[j] = dr ? dr[j] + v : v;
		}
	}
}

/* ---- GELU ------------------------------------------------------------------------------ */

/*
 * Columns [j0, j1) of mlp_bias_gelu_forward (j0 a multiple of VLEN); with save_grad, pre
 * ends holding GELU'(pre) instead (mlp_bias_gelu_forward_train).
 */
static void
bias_gelu_forward_cols(float *pre, float *out, const float *bias, int B, int N, int j0, int j1,
					   bool save_grad)
{
	for (int i = 0; i < B; i++)
	{
		float	   *h = pre + (size_t) i * N;
		float	   *a = out + (size_t) i * N;
		int			j;

		for (j = j0; j + VLEN <= j1; j += VLEN)
		{
			vf			v = vload(h + j);

			if (bias)
				v += vload(bias + j);
			if (save_grad)
			{
				vf			g,
							y = v_gelu_and_grad(v, &g);

				vstore(a + j, y);
				vstore(h + j, g);
			}
			else
			{
				if (bias)
					vstore(h + j, v);
				vstore(a + j, v_gelu(v));
			}
		}
		if (j < j1)
		{
			float		t[VLEN] = {0};
			vf			v,
						g;
			int			n = j1 - j;

			memcpy(t, h + j, sizeof(float) * n);
			v = vload(t);
			if (bias)
			{
				memcpy(t, bias + j, sizeof(float) * n);
				v += vload(t);
			}
			if (save_grad)
			{
				vstore(t, v_gelu_and_grad(v, &g));
				memcpy(a + j, t, sizeof(float) * n);
				vstore(t, g);
				memcpy(h + j, t, sizeof(float) * n);
			}
			else
			{
				vstore(t, v);
				memcpy(h + j, t, sizeof(float) * n);
				vstore(t, v_gelu(v));
				memcpy(a + j, t, sizeof(float) * n);
			}
		}
	}
}

/*
 * Columns [j0, j1) of mlp_gelu_backward: the bias sums stay per column, in row order.  With
 * have_grad, pre already holds GELU' (mlp_gelu_backward_grad).
 */
static void
gelu_backward_cols(float *dinp, float *dbias, const float *dout, const float *pre, int B, int N,
				   int j0, int j1, bool have_grad)
{
	for (int i = 0; i < B; i++)
	{
		const float *h = pre + (size_t) i * N;
		const float *dy = dout + (size_t) i * N;
		float	   *dx = dinp + (size_t) i * N;
		int			j;

		for (j = j0; j + VLEN <= j1; j += VLEN)
		{
			vf			d = vload(dy + j) * (have_grad ? vload(h + j) : v_gelu_grad(vload(h + j)));

			vstore(dx + j, d);
			if (dbias)
				vstore(dbias + j, vload(dbias + j) + d);
		}
		if (j < j1)
		{
			float		th[VLEN] = {0},
						td[VLEN] = {0};
			int			n = j1 - j;

			memcpy(th, h + j, sizeof(float) * n);
			memcpy(td, dy + j, sizeof(float) * n);
			vstore(td, vload(td) * (have_grad ? vload(th) : v_gelu_grad(vload(th))));
			memcpy(dx + j, td, sizeof(float) * n);
			if (dbias)
				for (int k = 0; k < n; k++)
					dbias[j + k] += td[k];
		}
	}
}

/*
 * GELU is the costliest element-wise work of a step (erf per element).  With bf16 products
 * the pool's threads are otherwise idle between products (OpenBLAS's are not used), so the
 * columns are split across them; each column is computed exactly as on one thread.  With
 * fp32 products OpenBLAS's threads still spin on the cores after each SGEMM and would fight
 * ours, so the work stays on the caller.
 */
#define GELU_MIN_PARALLEL (1 << 16)

typedef struct GeluTask
{
	float	   *out;			/* forward: activations; backward: dinp */
	float	   *pre;
	float	   *dbias;
	const float *bias;
	const float *dout;
	int			B,
				N;
	bool		backward;
	bool		grad;			/* forward: save GELU'; backward: pre holds it */
} GeluTask;

static void
gelu_task(void *arg, int part, int parts)
{
	const GeluTask *t = arg;
	int			vecs = (t->N + VLEN - 1) / VLEN;
	int			j0 = (int) ((int64_t) vecs * part / parts) * VLEN;
	int			j1 = (int) ((int64_t) vecs * (part + 1) / parts) * VLEN;

	if (j1 > t->N)
		j1 = t->N;
	if (j0 >= j1)
		return;
	if (t->backward)
		gelu_backward_cols(t->out, t->dbias, t->dout, t->pre, t->B, t->N, j0, j1, t->grad);
	else
		bias_gelu_forward_cols(t->pre, t->out, t->bias, t->B, t->N, j0, j1, t->grad);
}

static int
gelu_parts(int B, int N)
{
	if ((int64_t) B * N < GELU_MIN_PARALLEL || N < 2 * VLEN ||
		mlp_blas_matmul_precision() != MLP_MATMUL_BF16)
		return 1;
	return mlp_pool_threads();
}

void
mlp_bias_gelu_forward(float *pre, float *out, const float *bias, int B, int N)
{
	GeluTask	t = {.out = out, .pre = pre, .bias = bias, .B = B, .N = N};

	mlp_pool_run(gelu_task, &t, gelu_parts(B, N));
}

void
mlp_linear_gelu_forward_train(float *pre_grad, float *out, const float *inp, const float *weight,
							  const float *gelu_bias, int B, int K, int N)
{
	MlpGeluEpilogue e = {gelu_bias, out, true};

	if (B > 1 && mlp_blas_matmul_precision() == MLP_MATMUL_BF16 &&
		mlp_gemm_bf16_ex(false, true, B, N, K, 1.0f, inp, K, weight, K, 0.0f, pre_grad, N,
						 mlp_gelu_epilogue, &e) == 0)
		return;
	mlp_linear_forward(pre_grad, inp, weight, NULL, NULL, B, K, N);
	mlp_bias_gelu_forward_train(pre_grad, out, gelu_bias, B, N);
}

void
mlp_gelu_epilogue(void *arg, float *c, int ldc, int i0, int j0, int m, int n)
{
	const MlpGeluEpilogue *e = arg;

	bias_gelu_forward_cols(c, e->out + (size_t) i0 * ldc + j0, e->bias ? e->bias + j0 : NULL,
						   m, ldc, 0, n, e->save_grad);
}

void
mlp_gelu_backward(float *dinp, float *dbias, const float *dout, const float *pre, int B, int N)
{
	GeluTask	t = {.out = dinp, .pre = (float *) pre, .dbias = dbias, .dout = dout, .B = B, .N = N,
	.backward = true};

	mlp_pool_run(gelu_task, &t, gelu_parts(B, N));
}

void
mlp_bias_gelu_forward_train(float *pre_grad, float *out, const float *bias, int B, int N)
{
	GeluTask	t = {.out = out, .pre = pre_grad, .bias = bias, .B = B, .N = N, .grad = true};

	mlp_pool_run(gelu_task, &t, gelu_parts(B, N));
}

void
mlp_gelu_backward_grad(float *dinp, float *dbias, const float *dout, const float *grad, int B,
					   int N)
{
	GeluTask	t = {.out = dinp, .pre = (float *) grad, .dbias = dbias, .dout = dout, .B = B,
	.N = N, .backward = true, .grad = true};

	mlp_pool_run(gelu_task, &t, gelu_parts(B, N));
}

/* ---- residual -------------------------------------------------------------------------- */

void
mlp_residual_forward(float *out, const float *a, const float *b, size_t n)
{
	for (size_t j = 0; j < n; j++)
		out[j] = a[j] + b[j];
}

void
mlp_residual_backward(float *restrict da, float *restrict db, const float *restrict dout,
					  size_t n)
{
	for (size_t j = 0; j < n; j++)
	{
		da[j] += dout[j];
		db[j] += dout[j];
	}
}
