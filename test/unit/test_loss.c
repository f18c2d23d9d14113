/*
 * test_loss.c - softmax cross-entropy with label smoothing and MixUp targets.
 */
#include <stdint.h>
#include <string.h>

#include "loss.h"
#include "tap.h"

/* PyTorch's CE(z, y, label_smoothing=eps) of one row, from log-softmax in double. */
static double
ce_row(const float *z, int C, int y, double eps)
{
	double		m = z[0],
				s = 0,
				nll,
				mean_nll = 0;

	for (int j = 1; j < C; j++)
		m = fmax(m, z[j]);
	for (int j = 0; j < C; j++)
		s += exp(z[j] - m);
	for (int j = 0; j < C; j++)
		mean_nll += -(z[j] - m - log(s));
	mean_nll /= C;
	nll = -(z[y] - m - log(s));
	return (1 - eps) * nll + eps * mean_nll;
}

int
main(void)
{
	/* 4 rows of 6 classes */
	float		z[24] = {
		1, 2, 3, -1, 0.5f, 0,
		-2, 4, 4, 1, 0, 3,
		0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f,
		5, -5, 0, 0, 0, 0
	};
	int32_t		a[4] = {2, 2, 0, 0},
				b[4] = {0, 2, 2, 0};	/* roll by one, cyclic */
	float		d[24];
	MlpLossResult r;
	double		want = 0;

	/* no smoothing, no MixUp: plain cross-entropy */
	r = mlp_softmax_xent(z, 1, 6, a, NULL, 0.3f, 0.0f, NULL);
	is_close(r.loss, log(exp(1) + exp(2) + exp(3) + exp(-1) + exp(0.5) + 1) - 3, 1e-12, 1e-12,
			 "plain cross-entropy of one row");
	is_int(r.correct, 1, "argmax 2 == label 2");

	/* smoothing and MixUp equal the PyTorch two-term form */
	r = mlp_softmax_xent(z, 4, 6, a, b, 0.7f, 0.3f, d);
	for (int i = 0; i < 4; i++)
		want += 0.7 * ce_row(z + 6 * i, 6, a[i], 0.3) + 0.3 * ce_row(z + 6 * i, 6, b[i], 0.3);
	want /= 4;
	is_close(r.loss, want, 1e-7, 0, "smoothed MixUp loss = lam CE(a) + (1 - lam) CE(b), eps 0.3");
	/* row 1: tie of 4 at classes 1 and 2: argmax is the first, 1, so label 2 is wrong */
	is_int(r.correct, 2, "top-1: rows 0 and 3 correct (a tie goes to the lower index)");
	/* row 2: label 0 has the smallest logit of 6: not in the top 5 */
	is_int(r.correct_top5, 3, "top-5: all but row 2");

	/* gradient = (softmax - target) / B, against central differences in double */
	{
		double		worst = 0,
					rowsum = 0;

		for (int k = 0; k < 24; k++)
		{
			float		keep = z[k];
			double		fp,
						fm;

			z[k] = keep + 1e-2f;
			fp = mlp_softmax_xent(z, 4, 6, a, b, 0.7f, 0.3f, NULL).loss;
			z[k] = keep - 1e-2f;
			fm = mlp_softmax_xent(z, 4, 6, a, b, 0.7f, 0.3f, NULL).loss;
			z[k] = keep;
			worst = fmax(worst, fabs((fp - fm) / (2 * (double) 1e-2f) - d[k]));
		}
		ok(worst < 1e-5, "dlogits match finite differences (err %.2g)", worst);
		for (int j = 0; j < 6; j++)
			rowsum += d[j];
		is_close(rowsum, 0, 0, 1e-7, "a gradient row sums to 0 (targets sum to 1)");
	}

	/* huge logits neither overflow nor lose the small ones */
	{
		float		big[3] = {1e4f, 1e4f - 1, -1e4f};
		int32_t		y = 1;
		float		db[3];

		r = mlp_softmax_xent(big, 1, 3, &y, NULL, 0, 0, db);
		is_close(r.loss, log(1 + exp(1.0)) - 0.0, 1e-6, 0, "log-sum-exp is stable at 1e4");
		ok(isfinite(db[0]) && isfinite(db[2]) && db[2] == 0.0f, "gradient finite at 1e4");
	}

	/* softmax, in place */
	{
		float		p[12];
		int			good = 1;

		memcpy(p, z, sizeof(p));
		mlp_softmax(p, 2, 6, p);
		for (int i = 0; i < 2; i++)
		{
			double		s = 0;

			for (int j = 0; j < 6; j++)
				s += p[6 * i + j];
			good &= fabs(s - 1) < 1e-6;
		}
		good &= p[7] == p[8];	/* the tie of row 1 */
		ok(good, "softmax rows sum to 1, in place");
		is_close(p[2], exp(3) / (exp(1) + exp(2) + exp(3) + exp(-1) + exp(0.5) + 1), 1e-6, 0,
				 "softmax value");
	}

	/* fewer than 5 classes: top-5 is always right */
	r = mlp_softmax_xent(z, 1, 3, a + 3, NULL, 1, 0, NULL);
	is_int(r.correct_top5, 1, "3 classes: top-5 always correct");
	r = mlp_softmax_xent(z, 0, 6, a, NULL, 1, 0, NULL);
	ok(r.loss == 0 && r.correct == 0, "empty batch gives 0");
	return tap_done();
}
