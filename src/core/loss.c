/*
 * loss.c - softmax cross-entropy with label smoothing and MixUp targets.
 *
 * With target t = (1 - eps) (lam e_a + (1 - lam) e_b) + eps / C (which sums to 1), the loss
 * of a row is  -sum_j t_j log p_j = logsumexp(z) - sum_j t_j z_j,  and its gradient with
 * respect to z is p - t.  The log-sum-exp is taken around the row maximum, so large logits
 * neither overflow nor lose the small ones.
 */
#include "loss.h"

#include <math.h>
#include <stddef.h>

MlpLossResult
mlp_softmax_xent(const float *logits, int B, int C,
				 const int32_t *label_a, const int32_t *label_b, float lam,
				 float smoothing, float *dlogits)
{
	MlpLossResult res = {0.0, 0, 0};
	double		total = 0.0;
	double		keep = 1.0 - (double) smoothing;
	double		spread = (double) smoothing / C;
	double		wa = label_b ? (double) lam : 1.0;
	double		wb = label_b ? 1.0 - (double) lam : 0.0;

	for (int i = 0; i < B; i++)
	{
		const float *z = logits + (size_t) i * C;
		int			a = label_a[i],
					b = label_b ? label_b[i] : a;
		float		zmax = z[0];
		int			argmax = 0,
					above = 0;
		double		sumexp = 0.0,
					sumz = 0.0,
					lse;

		for (int j = 1; j < C; j++)
			if (z[j] > zmax)
				zmax = z[j], argmax = j;
		for (int j = 0; j < C; j++)
		{
			sumexp += exp((double) z[j] - zmax);
			sumz += z[j];
			/* rank of the true class; ties count against it only before it, like argmax */
			if (z[j] > z[a] || (z[j] == z[a] && j < a))
				above++;
		}
		lse = zmax + log(sumexp);
		total += lse - keep * (wa * z[a] + wb * z[b]) - spread * sumz;
		res.correct += argmax == a;
		res.correct_top5 += above < 5;

		if (dlogits)
		{
			float	   *d = dlogits + (size_t) i * C;
			double		inv_b = 1.0 / B;

			for (int j = 0; j < C; j++)
				d[j] = (float) ((exp((double) z[j] - lse) - spread) * inv_b);
			d[a] -= (float) (keep * wa * inv_b);
			d[b] -= (float) (keep * wb * inv_b);
		}
	}
	res.loss = B > 0 ? total / B : 0.0;
	return res;
}

void
mlp_softmax(const float *logits, int B, int C, float *probs)
{
	for (int i = 0; i < B; i++)
	{
		const float *z = logits + (size_t) i * C;
		float	   *p = probs + (size_t) i * C;
		float		zmax = z[0];
		double		sum = 0.0;

		for (int j = 1; j < C; j++)
			if (z[j] > zmax)
				zmax = z[j];
		/* z and p may alias: read z[j] before writing p[j] */
		for (int j = 0; j < C; j++)
		{
			double		e = exp((double) z[j] - zmax);

			p[j] = (float) e;
			sum += e;
		}
		for (int j = 0; j < C; j++)
			p[j] = (float) (p[j] / sum);
	}
}
