/*
 * test_infer_bf16.c - bf16 scoring: mlp_gemv_bf16 against its reference loop at every tail
 * of 32 columns, and mlp_model_infer_bf16 (one image through the converted weights, a batch
 * through mlp_gemm_bf16) against each other and close to fp32 inference.
 * On a CPU without AVX512_BF16 the products are skipped and their refusal is checked.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "blas.h"
#include "gemm_bf16.h"
#include "model.h"
#include "rng.h"
#include "tap.h"

static MlpRng rng;

static float *
rand_floats(size_t n, double scale)
{
	float	   *v = malloc(sizeof(float) * (n ? n : 1));

	for (size_t i = 0; i < n; i++)
		v[i] = (float) mlp_rng_uniform_range(&rng, -scale, scale);
	return v;
}

static void
test_gemv(int M, int N, float beta)
{
	float	   *a = rand_floats((size_t) M * N, 1.0);
	float	   *x = rand_floats(N, 1.0);
	float	   *y = rand_floats(M, 1.0);
	float	   *want = malloc(sizeof(float) * M);
	uint16_t   *a16 = malloc(sizeof(uint16_t) * (size_t) M * N);
	double		worst = 0;

	memcpy(want, y, sizeof(float) * M);
	mlp_floats_to_bf16(a, a16, (size_t) M * N);
	mlp_gemv_bf16_reference(M, N, a16, N, x, beta, want);
	ok(mlp_gemv_bf16(M, N, a16, N, x, beta, y) == 0, "gemv %dx%d beta %g runs", M, N, beta);
	for (int i = 0; i < M; i++)
	{
		/* float sums of up to N products of magnitude <= 1 */
		double		d = fabs((double) y[i] - want[i]) / (1.0 + sqrt((double) N));

		if (d > worst)
			worst = d;
	}
	ok(worst < 1e-5, "gemv %dx%d beta %g equals the reference loop (worst scaled error %.2g)", M,
	   N, beta, worst);
	free(a);
	free(x);
	free(y);
	free(want);
	free(a16);
}

static void
test_model(const char *archs, int in_dim, int classes, int B)
{
	MlpArch		arch;
	MlpModel	m;
	char		err[256];
	float	   *x,
			   *fp32,
			   *bf16,
			   *one,
			   *scratch;
	MlpBf16Weights w = {0};
	uint16_t   *w16;
	double		worst_row = 0,
				worst_fp32 = 0;
	int			agree = 0;

	mlp_arch_parse(archs, &arch, err, sizeof(err));
	arch.in_dim = in_dim;
	arch.classes = classes;
	if (!ok(mlp_model_create(&m, &arch, false, err, sizeof(err)) == 0, "%s: model created", archs))
		return;
	mlp_model_init_weights(&m, &rng);
	x = rand_floats((size_t) B * in_dim, 2.0);
	fp32 = malloc(sizeof(float) * (size_t) B * classes);
	bf16 = malloc(sizeof(float) * (size_t) B * classes);
	one = malloc(sizeof(float) * classes);
	scratch = malloc(sizeof(float) * mlp_model_scratch_floats(&m, B));
	w16 = mlp_model_bf16_weights(&m);
	ok(w16 != NULL, "%s: weights converted", archs);
	ok(w16[0] == mlp_float_to_bf16(m.params[0]) &&
	   w16[m.num_params - 1] == mlp_float_to_bf16(m.params[m.num_params - 1]),
	   "%s: in the same layout, rounded to nearest even", archs);

	mlp_model_infer(&m, x, B, fp32, scratch);
	ok(mlp_model_bf16_prepare(&m, &w, B) == 0 && w.w16 == NULL && w.num_packed > 0,
	   "%s: a batch packs the linear layers only", archs);
	ok(mlp_model_bf16_prepare(&m, &w, 1) == 0 && w.w16 != NULL &&
	   memcmp(w.w16, w16, sizeof(uint16_t) * m.num_params) == 0,
	   "%s: one image adds the bf16 values", archs);
	mlp_model_infer_bf16(&m, &w, x, B, bf16, scratch);
	for (int i = 0; i < B; i++)
	{
		const float *rf = fp32 + (size_t) i * classes;
		const float *rb = bf16 + (size_t) i * classes;
		int			af = 0,
					ab = 0;

		/* one image alone: the gemv path on the bf16 weights, same rounding as the batch */
		mlp_model_infer_bf16(&m, &w, x + (size_t) i * in_dim, 1, one, scratch);
		for (int j = 0; j < classes; j++)
		{
			double		dr = fabs((double) one[j] - rb[j]) / (1.0 + fabs(rb[j]));
			double		df = fabs((double) rf[j] - rb[j]) / (1.0 + fabs(rf[j]));

			if (dr > worst_row)
				worst_row = dr;
			if (df > worst_fp32)
				worst_fp32 = df;
			if (rf[j] > rf[af])
				af = j;
			if (rb[j] > rb[ab])
				ab = j;
		}
		agree += af == ab;
	}
	/*
	 * Up to summation order: a float difference in one layer's output can move an activation
	 * across a bf16 rounding boundary of the next layer's input (a relative step of 2^-8).
	 */
	ok(worst_row < 2e-3, "%s: one image equals its row of the batch up to summation order (worst %.2g)",
	   archs, worst_row);
	ok(worst_fp32 < 5e-2, "%s: bf16 logits close to fp32 (worst relative %.2g)", archs, worst_fp32);
	ok(worst_fp32 > 0, "%s: and not the fp32 arithmetic itself", archs);
	ok(agree >= B * 9 / 10, "%s: top-1 agrees with fp32 on %d of %d images", archs, agree, B);
	free(x);
	free(fp32);
	free(bf16);
	free(one);
	free(scratch);
	free(w16);
	mlp_model_bf16_free(&w);
	mlp_model_free(&m);
}

int
main(void)
{
	char		err[256];
	static const int widths[] = {1, 2, 17, 31, 32, 33, 63, 64, 65, 100, 784};

	mlp_rng_seed(&rng, 20261202, 0);
	if (mlp_blas_init(err, sizeof(err)) != 0)
		diag("OpenBLAS not loaded (%s): fp32 products use the reference loops", err);
	mlp_blas_set_threads(1);
	if (!mlp_gemm_bf16_supported())
	{
		float		x = 1.0f,
					y = 0.0f;
		uint16_t	a = mlp_float_to_bf16(1.0f);

		diag("this CPU has no AVX512_BF16: bf16 scoring is skipped");
		is_int(mlp_gemv_bf16(1, 1, &a, 1, &x, 0.0f, &y), -1, "bf16 gemv refused without AVX512_BF16");
		return tap_done();
	}
	for (int i = 0; i < (int) (sizeof(widths) / sizeof(widths[0])); i++)
		test_gemv(7, widths[i], 0.0f);
	test_gemv(64, 96, 1.0f);
	test_gemv(5, 40, 0.5f);
	{
		float		x = 1.0f,
					y = 0.0f;
		uint16_t	a = 0;

		is_int(mlp_gemv_bf16(0, 1, &a, 1, &x, 0.0f, &y), -1, "gemv with no rows refused");
		is_int(mlp_gemv_bf16(1, 0, &a, 1, &x, 0.0f, &y), -1, "gemv with no columns refused");
	}
	test_model("B_2-Wi_64", 3 * 8 * 8, 10, 40);
	test_model("S_3-Wi_48", 1 * 7 * 7, 5, 24);
	return tap_done();
}
