/*
 * test_model.c - layer kernels and whole models (B_ and S_) against finite differences.
 *
 * Gradient checks run the float code and compare its analytic gradient with central
 * differences of the same float code; objectives are accumulated in double so the only noise
 * is float rounding of the forward pass (~1e-7 relative), which a step of h = 3e-3 turns into
 * ~3e-5 absolute noise in a difference quotient, while the truncation error O(h^2) stays
 * smaller.  Hence the tolerance: an element passes when |analytic - numeric| <=
 * 2e-3 * max|analytic| + 2e-2 * |analytic|; the worst element uses about a fifth of it, and a
 * real bug (a wrong sign, a missing term, a transposed product) gives errors of the order of
 * the gradient itself.
 * Dimensions are odd on purpose (13, 7, ...) so vector tails are exercised.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "layers.h"
#include "loss.h"
#include "model.h"
#include "rng.h"
#include "tap.h"

#define FD_H 3e-3f

static MlpRng rng;

static float *
rand_buf(size_t n, float scale)
{
	float	   *p = malloc(sizeof(float) * (n ? n : 1));

	for (size_t i = 0; i < n; i++)
		p[i] = (float) mlp_rng_uniform_range(&rng, -scale, scale);
	return p;
}

static float *
zeros(size_t n)
{
	return calloc(n ? n : 1, sizeof(float));
}

static double
dot(const float *a, const float *b, size_t n)
{
	double		s = 0.0;

	for (size_t i = 0; i < n; i++)
		s += (double) a[i] * b[i];
	return s;
}

/* Compares analytic with numeric gradients; prints the worst element. */
static int
check_grads(const char *name, const float *analytic, const double *numeric, size_t n)
{
	double		amax = 0.0,
				worst = 0.0;
	size_t		wi = 0;
	int			good = 1;

	for (size_t i = 0; i < n; i++)
		if (fabs(analytic[i]) > amax)
			amax = fabs(analytic[i]);
	for (size_t i = 0; i < n; i++)
	{
		double		e = fabs(analytic[i] - numeric[i]);
		double		tol = 2e-3 * amax + 2e-2 * fabs(analytic[i]);

		if (e > tol)
			good = 0;
		if (e / (tol > 0 ? tol : 1e-30) > worst)
			worst = e / (tol > 0 ? tol : 1e-30), wi = i;
	}
	ok(good && amax > 0,
	   "%s: %zu gradients match finite differences (worst at %zu: %.6g vs %.6g, %.2f of tolerance)",
	   name, n, wi, n ? analytic[wi] : 0.0, n ? numeric[wi] : 0.0, worst);
	return good;
}

/* ---- per-layer checks: objective sum(out * R) ------------------------------------------ */

typedef struct LinearCase
{
	int			B,
				K,
				N;
	float	   *inp,
			   *w,
			   *b,
			   *resid,
			   *out,
			   *R;
} LinearCase;

static double
linear_obj(LinearCase *c)
{
	mlp_linear_forward(c->out, c->inp, c->w, c->b, c->resid, c->B, c->K, c->N);
	return dot(c->out, c->R, (size_t) c->B * c->N);
}

static void
fd_of(double (*f) (void *), void *arg, float *x, size_t n, double *out)
{
	for (size_t i = 0; i < n; i++)
	{
		float		keep = x[i];
		double		fp,
					fm;

		x[i] = keep + FD_H;
		fp = f(arg);
		x[i] = keep - FD_H;
		fm = f(arg);
		x[i] = keep;
		out[i] = (fp - fm) / (2.0 * FD_H);
	}
}

static double
linear_obj_v(void *a)
{
	return linear_obj(a);
}

static void
test_linear(void)
{
	LinearCase	c = {5, 13, 7, NULL, NULL, NULL, NULL, NULL, NULL};
	size_t		ni = 5 * 13,
				nw = 7 * 13,
				no = 5 * 7;
	float	   *dinp = zeros(ni),
			   *dw = zeros(nw),
			   *db = zeros(7);
	double	   *num = malloc(sizeof(double) * nw);

	c.inp = rand_buf(ni, 1);
	c.w = rand_buf(nw, 1);
	c.b = rand_buf(7, 1);
	c.resid = rand_buf(no, 1);
	c.out = zeros(no);
	c.R = rand_buf(no, 1);

	/* forward against the definition */
	linear_obj(&c);
	{
		double		worst = 0;

		for (int i = 0; i < c.B; i++)
			for (int j = 0; j < c.N; j++)
			{
				double		s = c.b[j] + c.resid[i * c.N + j];

				for (int k = 0; k < c.K; k++)
					s += (double) c.inp[i * c.K + k] * c.w[j * c.K + k];
				worst = fmax(worst, fabs(s - c.out[i * c.N + j]));
			}
		ok(worst < 1e-5, "linear forward with bias and residual = X W^T + b + r (err %.2g)", worst);
	}
	/* resid aliasing out: the in-place residual stream */
	{
		float	   *o2 = malloc(sizeof(float) * no);

		memcpy(o2, c.resid, sizeof(float) * no);
		mlp_linear_forward(o2, c.inp, c.w, c.b, o2, c.B, c.K, c.N);
		ok(memcmp(o2, c.out, sizeof(float) * no) == 0, "linear forward with resid aliasing out");
		free(o2);
	}

	/* dweight and dbias accumulate: start from 1 and subtract it back */
	for (size_t i = 0; i < nw; i++)
		dw[i] = 1.0f;
	mlp_linear_backward(dinp, dw, db, c.R, c.inp, c.w, c.B, c.K, c.N);
	for (size_t i = 0; i < nw; i++)
		dw[i] -= 1.0f;
	fd_of(linear_obj_v, &c, c.inp, ni, num);
	check_grads("linear dinp", dinp, num, ni);
	fd_of(linear_obj_v, &c, c.w, nw, num);
	check_grads("linear dweight (accumulated)", dw, num, nw);
	fd_of(linear_obj_v, &c, c.b, 7, num);
	check_grads("linear dbias", db, num, 7);
	fd_of(linear_obj_v, &c, c.resid, no, num);
	{
		/* d/d resid of sum(out R) is R */
		check_grads("residual path of linear", c.R, num, no);
	}
	free(dinp);
	free(dw);
	free(db);
	free(num);
	free(c.inp);
	free(c.w);
	free(c.b);
	free(c.resid);
	free(c.out);
	free(c.R);
}

typedef struct LnCase
{
	int			B,
				C;
	float	   *x,
			   *g,
			   *b,
			   *out,
			   *mean,
			   *rstd,
			   *R;
} LnCase;

static double
ln_obj(void *a)
{
	LnCase	   *c = a;

	mlp_layernorm_forward(c->out, c->mean, c->rstd, c->x, c->g, c->b, c->B, c->C);
	return dot(c->out, c->R, (size_t) c->B * c->C);
}

static void
test_layernorm(int C)
{
	LnCase		c = {4, C, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
	size_t		n = (size_t) 4 * C;
	float	   *dx = zeros(n),
			   *dg = zeros(C),
			   *db = zeros(C),
			   *dres = rand_buf(n, 1),
			   *dx2 = zeros(n);
	double	   *num = malloc(sizeof(double) * n);
	char		name[64];

	c.x = rand_buf(n, 2);
	c.g = rand_buf(C, 1.5);
	c.b = rand_buf(C, 1);
	c.out = zeros(n);
	c.mean = zeros(4);
	c.rstd = zeros(4);
	c.R = rand_buf(n, 1);
	/* one row with a large offset: the two-pass variance must not cancel */
	for (int j = 0; j < C; j++)
		c.x[j] += 1000.0f;

	/* normalisation itself: with gamma 1 and beta 0 rows have mean 0 and variance ~1 */
	{
		float	   *one = malloc(sizeof(float) * C),
				   *zero = zeros(C);
		double		worst = 0;

		for (int j = 0; j < C; j++)
			one[j] = 1.0f;
		mlp_layernorm_forward(c.out, NULL, NULL, c.x, one, zero, c.B, C);
		for (int i = 0; i < c.B; i++)
		{
			double		m = 0,
						v = 0,
						xm = 0,
						xv = 0;

			for (int j = 0; j < C; j++)
				m += c.out[i * C + j], xm += c.x[i * C + j];
			m /= C;
			xm /= C;
			for (int j = 0; j < C; j++)
				v += (c.out[i * C + j] - m) * (c.out[i * C + j] - m),
					xv += (c.x[i * C + j] - xm) * (c.x[i * C + j] - xm);
			v /= C;
			xv /= C;
			/* PyTorch: biased variance, eps inside the square root */
			worst = fmax(worst, fabs(m));
			worst = fmax(worst, fabs(v - xv / (xv + 1e-5)));
		}
		snprintf(name, sizeof(name), "layernorm C=%d normalises rows (err %.2g)", C, worst);
		ok(worst < 2e-4, "%s", name);
		free(one);
		free(zero);
	}
	/* a step of 3e-3 is near float resolution at 1000: finite differences on plain rows */
	for (int j = 0; j < C; j++)
		c.x[j] -= 1000.0f;

	ln_obj(&c);
	mlp_layernorm_backward(dx, dg, db, c.R, c.x, c.mean, c.rstd, c.g, NULL, c.B, C);
	fd_of(ln_obj, &c, c.x, n, num);
	snprintf(name, sizeof(name), "layernorm C=%d dinp", C);
	check_grads(name, dx, num, n);
	fd_of(ln_obj, &c, c.g, C, num);
	snprintf(name, sizeof(name), "layernorm C=%d dgamma", C);
	check_grads(name, dg, num, C);
	fd_of(ln_obj, &c, c.b, C, num);
	snprintf(name, sizeof(name), "layernorm C=%d dbeta", C);
	check_grads(name, db, num, C);

	/* the residual form adds the stream's gradient, also in place */
	memcpy(dx2, dres, sizeof(float) * n);
	mlp_layernorm_backward(dx2, dg, db, c.R, c.x, c.mean, c.rstd, c.g, dx2, c.B, C);
	{
		double		worst = 0;

		for (size_t i = 0; i < n; i++)
			worst = fmax(worst, fabs(dx2[i] - (dx[i] + dres[i])));
		ok(worst < 1e-5, "layernorm C=%d backward with an in-place residual adds it (err %.2g)",
		   C, worst);
	}
	free(dx);
	free(dg);
	free(db);
	free(dres);
	free(dx2);
	free(num);
	free(c.x);
	free(c.g);
	free(c.b);
	free(c.out);
	free(c.mean);
	free(c.rstd);
	free(c.R);
}

typedef struct GeluCase
{
	int			B,
				N;
	float	   *x,
			   *bias,
			   *pre,
			   *out,
			   *R;
} GeluCase;

static double
gelu_obj(void *a)
{
	GeluCase   *c = a;

	memcpy(c->pre, c->x, sizeof(float) * c->B * c->N);
	mlp_bias_gelu_forward(c->pre, c->out, c->bias, c->B, c->N);
	return dot(c->out, c->R, (size_t) c->B * c->N);
}

/*
 * The training forward keeps GELU' in place of the pre-activation; its output, that
 * derivative and the backward from it must be the bits of the plain functions.
 */
static void
test_gelu_train(void)
{
	enum
	{
		B = 5, N = 37				/* two vectors and a tail with AVX-512 */
	};
	static float x[B * N],
				bias[N],
				pre[B * N],
				kept[B * N],
				out1[B * N],
				out2[B * N],
				dy[B * N],
				d1[B * N],
				d2[B * N],
				db1[N],
				db2[N];
	bool		grad_same = true;

	for (int i = 0; i < B * N; i++)
	{
		x[i] = (float) mlp_rng_uniform_range(&rng, -6, 6);
		dy[i] = (float) mlp_rng_uniform_range(&rng, -1, 1);
	}
	x[0] = 0.0f;
	x[1] = -1e-3f;
	x[2] = 40.0f;				/* past the clamps of erf and exp */
	x[3] = -40.0f;
	for (int j = 0; j < N; j++)
		bias[j] = (float) mlp_rng_uniform_range(&rng, -0.5, 0.5);
	memcpy(pre, x, sizeof(pre));
	memcpy(kept, x, sizeof(kept));
	mlp_bias_gelu_forward(pre, out1, bias, B, N);
	mlp_bias_gelu_forward_train(kept, out2, bias, B, N);
	ok(memcmp(out1, out2, sizeof(out1)) == 0, "training GELU forward: the same outputs, bit for bit");
	for (int i = 0; i < B * N; i++)
	{
		float		g = mlp_gelu_grad(pre[i]);

		grad_same &= memcmp(&g, &kept[i], sizeof(g)) == 0;
	}
	ok(grad_same, "... and it leaves GELU' of the pre-activation (with the bias) in place");
	memset(db1, 0, sizeof(db1));
	memset(db2, 0, sizeof(db2));
	mlp_gelu_backward(d1, db1, dy, pre, B, N);
	mlp_gelu_backward_grad(d2, db2, dy, kept, B, N);
	ok(memcmp(d1, d2, sizeof(d1)) == 0 && memcmp(db1, db2, sizeof(db1)) == 0,
	   "GELU backward from the kept derivative: the bits of the backward from the input");
}

static void
test_gelu(void)
{
	GeluCase	c = {3, 21, NULL, NULL, NULL, NULL, NULL};
	size_t		n = 3 * 21;
	float	   *dx = zeros(n),
			   *db = zeros(21);
	double	   *num = malloc(sizeof(double) * n);
	double		worst_erf = 0,
				worst_gelu = 0,
				worst_grad = 0;

	/* the polynomial erf and the GELU built on it, against libm in double */
	for (double x = -10; x <= 10; x += 1.0 / 1024)
	{
		double		g = 0.5 * x * (1 + erf(x / sqrt(2.0)));
		double		dg = 0.5 * (1 + erf(x / sqrt(2.0))) + x * exp(-0.5 * x * x) / sqrt(2 * M_PI);

		worst_erf = fmax(worst_erf, fabs(mlp_erf((float) x) - erf(x)));
		worst_gelu = fmax(worst_gelu, fabs(mlp_gelu((float) x) - g) / (1 + fabs(g)));
		worst_grad = fmax(worst_grad, fabs(mlp_gelu_grad((float) x) - dg));
	}
	ok(worst_erf < 1e-6, "polynomial erf within 1e-6 of libm on [-10, 10] (%.2g)", worst_erf);
	ok(worst_gelu < 2e-6, "GELU within 2e-6 of the exact erf form (%.2g)", worst_gelu);
	ok(worst_grad < 2e-6, "GELU' within 2e-6 of the exact derivative (%.2g)", worst_grad);
	ok(mlp_gelu(0) == 0 && isfinite(mlp_gelu_grad(1e30f)) && isfinite(mlp_gelu_grad(-1e30f)),
	   "GELU(0) = 0, GELU' finite at +-1e30");

	c.x = rand_buf(n, 4);
	c.bias = rand_buf(21, 1);
	c.pre = zeros(n);
	c.out = zeros(n);
	c.R = rand_buf(n, 1);
	gelu_obj(&c);
	{
		double		worst = 0;

		for (size_t i = 0; i < n; i++)
		{
			double		v = (double) c.x[i] + c.bias[i % 21];

			worst = fmax(worst, fabs(c.pre[i] - v));
			worst = fmax(worst, fabs(c.out[i] - 0.5 * v * (1 + erf(v / sqrt(2.0)))));
		}
		ok(worst < 1e-5, "bias + GELU forward keeps pre = x + b, out = GELU(pre) (err %.2g)", worst);
	}
	mlp_gelu_backward(dx, db, c.R, c.pre, c.B, c.N);
	fd_of(gelu_obj, &c, c.x, n, num);
	check_grads("GELU dinp", dx, num, n);
	fd_of(gelu_obj, &c, c.bias, 21, num);
	check_grads("GELU dbias (folded bias)", db, num, 21);
	/* in place: dinp aliasing dout (pre recomputed: the last difference left it stale) */
	gelu_obj(&c);
	{
		float	   *d = malloc(sizeof(float) * n);

		memcpy(d, c.R, sizeof(float) * n);
		mlp_gelu_backward(d, NULL, d, c.pre, c.B, c.N);
		ok(memcmp(d, dx, sizeof(float) * n) == 0, "GELU backward in place gives the same result");
		free(d);
	}
	free(dx);
	free(db);
	free(num);
	free(c.x);
	free(c.bias);
	free(c.pre);
	free(c.out);
	free(c.R);
}

static void
test_residual(void)
{
	float		a[5] = {1, 2, 3, 4, 5},
				b[5] = {.5, .25, -1, 0, 2},
				o[5],
				da[5] = {1, 1, 1, 1, 1},
				db[5] = {0},
				dout[5] = {3, -1, 2, 0.5, 7};
	int			good = 1;

	mlp_residual_forward(o, a, b, 5);
	mlp_residual_backward(da, db, dout, 5);
	for (int i = 0; i < 5; i++)
		good &= o[i] == a[i] + b[i] && da[i] == 1 + dout[i] && db[i] == dout[i];
	ok(good, "residual forward adds, backward adds dout into both branches");
}

/* ---- whole model ----------------------------------------------------------------------- */

typedef struct ModelCase
{
	MlpModel	m;
	MlpActivations acts;
	int			B;
	float	   *x,
			   *logits;
	int32_t    *la,
			   *lb;
} ModelCase;

static double
model_loss(void *a)
{
	ModelCase  *c = a;

	mlp_model_forward(&c->m, &c->acts, c->x, c->B, c->logits);
	return mlp_softmax_xent(c->logits, c->B, c->m.arch.classes, c->la, c->lb, 0.7f, 0.3f,
							NULL).loss;
}

static void
test_model(const char *archs)
{
	ModelCase	c;
	MlpArch		arch;
	char		err[256],
				name[128];
	const int	B = 6,
				maxB = 9;
	float	   *dlogits,
			   *logits2,
			   *scratch,
			   *grads1;
	double	   *num;
	size_t		np;

	memset(&c, 0, sizeof(c));
	mlp_arch_parse(archs, &arch, err, sizeof(err));
	arch.in_dim = 19;
	arch.classes = 5;
	if (!ok(mlp_model_create(&c.m, &arch, true, err, sizeof(err)) == 0, "%s: model created", archs))
	{
		diag("%s", err);
		return;
	}
	np = c.m.num_params;

	/* layout */
	{
		int			good = 1;
		size_t		off = 0;

		for (int t = 0; t < c.m.num_tensors; t++)
		{
			good &= c.m.tensors[t].offset == off;
			good &= c.m.tensors[t].numel == (size_t) c.m.tensors[t].shape[0] *
				(c.m.tensors[t].ndim == 2 ? (size_t) c.m.tensors[t].shape[1] : 1);
			off += c.m.tensors[t].numel;
		}
		ok(good && off == np && (int64_t) np == mlp_arch_param_count(&arch),
		   "%s: %d tensors tile the %zu parameters", archs, c.m.num_tensors, np);
		ok(strcmp(c.m.tensors[c.m.num_tensors - 2].name, "linear_out.weight") == 0 &&
		   strcmp(c.m.tensors[c.m.num_tensors - 1].name, "linear_out.bias") == 0 &&
		   c.m.head_offset == c.m.tensors[c.m.num_tensors - 2].offset,
		   "%s: linear_out is last and starts at head_offset", archs);
	}
	if (arch.kind == MLP_KIND_BOTTLENECK)
	{
		int			last = arch.depth - 1;
		char		n0[64],
					n2[64],
					nl[64],
					nx[64];
		const MlpTensor *t0,
				   *t2,
				   *ln,
				   *in = mlp_model_find_tensor(&c.m, "linear_in.weight");

		snprintf(n0, sizeof(n0), "blocks.%d.block.0.weight", last);
		snprintf(n2, sizeof(n2), "blocks.%d.block.2.weight", last);
		snprintf(nl, sizeof(nl), "layernorms.%d.bias", last);
		snprintf(nx, sizeof(nx), "blocks.%d.block.0.weight", arch.depth);
		t0 = mlp_model_find_tensor(&c.m, n0);
		t2 = mlp_model_find_tensor(&c.m, n2);
		ln = mlp_model_find_tensor(&c.m, nl);
		ok(t0 && t0->shape[0] == arch.expansion * arch.width && t0->shape[1] == arch.width &&
		   t2 && t2->shape[0] == arch.width && t2->shape[1] == arch.expansion * arch.width &&
		   mlp_model_find_tensor(&c.m, nx) == NULL &&
		   ln && ln->ndim == 1 && ln->shape[0] == arch.width &&
		   in && in->shape[0] == arch.width && in->shape[1] == 19,
		   "%s: PyTorch names and [out, in] shapes", archs);
	}
	else
	{
		char		nt[64],
					nn[64],
					nx[64];
		const MlpTensor *t,
				   *ln;

		snprintf(nt, sizeof(nt), "layers.%d.weight", arch.depth - 2);
		snprintf(nn, sizeof(nn), "layernorms.%d.weight", arch.depth - 2);
		snprintf(nx, sizeof(nx), "layers.%d.weight", arch.depth - 1);
		t = mlp_model_find_tensor(&c.m, nt);
		ln = mlp_model_find_tensor(&c.m, nn);
		ok((arch.depth == 1 || (t && t->shape[0] == arch.width && t->shape[1] == arch.width && ln)) &&
		   mlp_model_find_tensor(&c.m, nx) == NULL && c.m.num_tensors == 4 * arch.depth,
		   "%s: PyTorch names, depth - 1 hidden layers", archs);
	}
	ok(mlp_model_find_tensor(&c.m, "no.such.tensor") == NULL, "%s: unknown name gives NULL", archs);

	/* init: LayerNorm 1 and 0; linear in its PyTorch bound */
	{
		const MlpTensor *lw = mlp_model_find_tensor(&c.m, "layernorms.0.weight"),
				   *lb = mlp_model_find_tensor(&c.m, "layernorms.0.bias"),
				   *iw = mlp_model_find_tensor(&c.m, "linear_in.weight");
		int			good = 1;
		double		bound = 1 / sqrt(19.0),
					amax = 0;

		mlp_rng_seed(&rng, 42, 1);
		mlp_model_init_weights(&c.m, &rng);
		for (size_t i = 0; lw && i < lw->numel; i++)
			good &= c.m.params[lw->offset + i] == 1.0f && c.m.params[lb->offset + i] == 0.0f;
		for (size_t i = 0; i < iw->numel; i++)
			amax = fmax(amax, fabs(c.m.params[iw->offset + i]));
		ok(good && amax <= bound && amax > 0.8 * bound,
		   "%s: init has LayerNorm 1/0 and linear_in in U(+-1/sqrt(19)) (max %.3f)", archs, amax);
	}
	/* make LayerNorm affine non-trivial so its gradients are exercised */
	for (int t = 0; t < c.m.num_tensors; t++)
		if (strncmp(c.m.tensors[t].name, "layernorms.", 11) == 0)
			for (size_t i = 0; i < c.m.tensors[t].numel; i++)
				c.m.params[c.m.tensors[t].offset + i] += (float) mlp_rng_uniform_range(&rng, -0.5, 0.5);

	mlp_activations_create(&c.acts, &c.m, maxB, err, sizeof(err));
	ok(c.acts.buf != NULL && c.acts.num_floats == mlp_activations_floats(&arch, maxB),
	   "%s: activations for batch %d (%zu floats)", archs, maxB, c.acts.num_floats);

	c.B = B;
	c.x = rand_buf((size_t) maxB * 19, 2);
	c.logits = zeros((size_t) maxB * 5);
	c.la = malloc(sizeof(int32_t) * maxB);
	c.lb = malloc(sizeof(int32_t) * maxB);
	for (int i = 0; i < maxB; i++)
		c.la[i] = (int32_t) mlp_rng_below(&rng, 5);
	for (int i = 0; i < maxB; i++)
		c.lb[i] = c.la[(i + maxB - 1) % maxB];
	dlogits = zeros((size_t) maxB * 5);
	logits2 = zeros((size_t) maxB * 5);
	num = malloc(sizeof(double) * np);
	grads1 = malloc(sizeof(float) * np);

	/* analytic gradient of the mixed, smoothed loss */
	model_loss(&c);
	mlp_softmax_xent(c.logits, B, 5, c.la, c.lb, 0.7f, 0.3f, dlogits);
	mlp_model_zero_grads(&c.m);
	mlp_model_backward(&c.m, &c.acts, c.x, dlogits, B);
	memcpy(grads1, c.m.grads, sizeof(float) * np);

	fd_of(model_loss, &c, c.m.params, np, num);
	for (int t = 0; t < c.m.num_tensors; t++)
	{
		const MlpTensor *tt = &c.m.tensors[t];

		snprintf(name, sizeof(name), "%s %s", archs, tt->name);
		check_grads(name, grads1 + tt->offset, num + tt->offset, tt->numel);
	}

	/* backward adds into the gradients */
	mlp_model_forward(&c.m, &c.acts, c.x, B, c.logits);
	mlp_model_backward(&c.m, &c.acts, c.x, dlogits, B);
	{
		double		worst = 0;

		for (size_t i = 0; i < np; i++)
			worst = fmax(worst, fabs(c.m.grads[i] - 2 * grads1[i]));
		ok(worst < 1e-6, "%s: a second backward doubles the gradients (err %.2g)", archs, worst);
	}
	mlp_model_zero_grads(&c.m);
	{
		int			z = 1;

		for (size_t i = 0; i < np; i++)
			z &= c.m.grads[i] == 0.0f;
		ok(z, "%s: zero_grads clears them", archs);
	}

	/* inference with scratch equals the training forward; rows are independent */
	mlp_model_forward(&c.m, &c.acts, c.x, maxB, c.logits);
	scratch = malloc(sizeof(float) * mlp_model_scratch_floats(&c.m, maxB));
	mlp_model_infer(&c.m, c.x, maxB, logits2, scratch);
	{
		double		worst = 0;

		for (int i = 0; i < maxB * 5; i++)
			worst = fmax(worst, fabs(c.logits[i] - logits2[i]));
		ok(worst < 1e-6, "%s: infer matches forward at full capacity (err %.2g)", archs, worst);
		mlp_model_infer(&c.m, c.x + 3 * 19, 1, logits2, scratch);
		worst = 0;
		for (int j = 0; j < 5; j++)
			worst = fmax(worst, fabs(c.logits[3 * 5 + j] - logits2[j]));
		ok(worst < 1e-5, "%s: one image alone gives its row of the batch (err %.2g)", archs, worst);
	}
	free(scratch);
	free(dlogits);
	free(logits2);
	free(num);
	free(grads1);
	free(c.x);
	free(c.logits);
	free(c.la);
	free(c.lb);
	mlp_activations_free(&c.acts);
	mlp_model_free(&c.m);
}

/*
 * A single image takes the matrix-vector path (SGEMV) in every linear layer, a batch the
 * matrix-matrix path: each image inferred alone, and through the training forward with B = 1,
 * must give its row of the batched inference within 1e-5 relative to the row's largest logit.
 * Widths and input sizes are large enough that both products use their vector kernels.
 */
static void
test_single_image(const char *archs, int in_dim, int classes)
{
	MlpModel	m;
	MlpActivations acts;
	MlpArch		arch;
	char		err[256];
	const int	B = 5;
	float	   *x,
			   *batch,
			   *one,
			   *scratch;
	double		worst_infer = 0,
				worst_forward = 0;
	bool		differs = false;

	mlp_arch_parse(archs, &arch, err, sizeof(err));
	arch.in_dim = in_dim;
	arch.classes = classes;
	if (!ok(mlp_model_create(&m, &arch, false, err, sizeof(err)) == 0 &&
			mlp_activations_create(&acts, &m, 1, err, sizeof(err)) == 0,
			"%s: model and single-image activations created", archs))
	{
		diag("%s", err);
		return;
	}
	mlp_model_init_weights(&m, &rng);
	/* non-trivial LayerNorm affine and biases, so every term of a layer shows */
	for (int t = 0; t < m.num_tensors; t++)
		if (m.tensors[t].ndim == 1)
			for (size_t i = 0; i < m.tensors[t].numel; i++)
				m.params[m.tensors[t].offset + i] += (float) mlp_rng_uniform_range(&rng, -0.5, 0.5);
	x = rand_buf((size_t) B * in_dim, 2);
	batch = zeros((size_t) B * classes);
	one = zeros(classes);
	scratch = malloc(sizeof(float) * mlp_model_scratch_floats(&m, B));

	mlp_model_infer(&m, x, B, batch, scratch);
	for (int i = 0; i < B; i++)
	{
		const float *row = batch + (size_t) i * classes;
		double		scale = 0;

		for (int j = 0; j < classes; j++)
			scale = fmax(scale, fabs(row[j]));
		scale = fmax(scale, 1e-6);

		mlp_model_infer(&m, x + (size_t) i * in_dim, 1, one, scratch);
		for (int j = 0; j < classes; j++)
			worst_infer = fmax(worst_infer, fabs(one[j] - row[j]) / scale);

		mlp_model_forward(&m, &acts, x + (size_t) i * in_dim, 1, one);
		for (int j = 0; j < classes; j++)
			worst_forward = fmax(worst_forward, fabs(one[j] - row[j]) / scale);
		/* rows must differ from one another, or a test of rows would prove little */
		if (i > 0)
			for (int j = 0; j < classes; j++)
				differs |= fabs(row[j] - batch[j]) > 1e-3 * scale;
	}
	ok(differs, "%s: the images of the batch have different logits", archs);
	ok(worst_infer < 1e-5, "%s: infer of one image equals its row of a batch of %d (rel err %.2g)",
	   archs, B, worst_infer);
	ok(worst_forward < 1e-5, "%s: forward of one image equals its row of a batch of %d (rel err %.2g)",
	   archs, B, worst_forward);
	free(x);
	free(batch);
	free(one);
	free(scratch);
	mlp_activations_free(&acts);
	mlp_model_free(&m);
}

static void
test_errors(void)
{
	MlpArch		arch;
	MlpModel	m;
	MlpActivations acts;
	char		err[256] = "";

	mlp_arch_parse("B_2-Wi_8", &arch, err, sizeof(err));
	arch.in_dim = 0;
	arch.classes = 3;
	ok(mlp_model_create(&m, &arch, true, err, sizeof(err)) == -1 && m.params == NULL,
	   "model with in_dim 0 refused: %s", err);
	arch.in_dim = 4;
	mlp_model_create(&m, &arch, false, err, sizeof(err));
	ok(m.grads == NULL && m.params != NULL, "inference model has no gradients");
	ok(mlp_activations_create(&acts, &m, 0, err, sizeof(err)) == -1,
	   "activations for batch 0 refused: %s", err);
	mlp_model_free(&m);
}

int
main(void)
{
	char		err[256];

	if (mlp_blas_init(err, sizeof(err)) != 0)
	{
		ok(0, "OpenBLAS loads: %s", err);
		return tap_done();
	}
	mlp_rng_seed(&rng, 7, 0);
	test_linear();
	test_layernorm(13);
	test_layernorm(32);
	test_gelu();
	test_gelu_train();
	test_residual();
	test_model("B_2-Wi_13");		/* widths below one vector: the tail code */
	test_model("B_1-Wi_8-X_2");
	test_model("B_2-Wi_16-X_2");	/* whole vectors (AVX-512 has 16 floats) */
	test_model("S_3-Wi_13");
	test_model("S_2-Wi_35");		/* vectors and a tail */
	test_model("S_1-Wi_7");
	/* one BLAS thread takes mlp_sgemv's own kernel, two take cblas_sgemv */
	for (int threads = 1; threads <= 2; threads++)
	{
		mlp_blas_set_threads(threads);
		diag("single images with %d BLAS thread%s", threads, threads > 1 ? "s" : "");
		test_single_image("B_2-Wi_64", 3 * 8 * 8, 10);
		test_single_image("B_1-Wi_37-X_3", 301, 7);	/* odd sizes: vector tails in SGEMV */
		test_single_image("S_3-Wi_129", 250, 11);
	}
	test_errors();
	return tap_done();
}
