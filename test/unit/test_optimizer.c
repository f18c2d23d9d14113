/*
 * test_optimizer.c - LION, AdamW and SGD against double-precision references of their
 * definitions (PyTorch semantics, decoupled weight decay), learning-rate split, clipping and
 * the cosine schedule.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "optimizer.h"
#include "tap.h"

#define N 37
#define HEAD 30

static double
sgn(double x)
{
	return (x > 0) - (x < 0);
}

/* Runs 3 steps of kind in C and in the reference; returns the worst parameter error. */
static double
run(MlpOptKind kind, float body_mult, float wd)
{
	MlpOptConfig cfg;
	MlpOptimizer o;
	float		p[N],
				g[N];
	double		rp[N],
				rm[N] = {0},
				rv[N] = {0};
	double		worst = 0;
	char		err[128];

	mlp_opt_defaults(&cfg, kind, N);
	cfg.weight_decay = wd;
	cfg.body_lr_mult = body_mult;
	cfg.head_offset = HEAD;
	if (kind == MLP_OPT_LION)
		cfg.lr = 1e-2f;
	if (mlp_opt_create(&o, &cfg, N, err, sizeof(err)) != 0)
		return 1e9;
	for (int i = 0; i < N; i++)
		rp[i] = p[i] = (float) sin(i * 1.3) * 0.5f;
	for (int step = 1; step <= 3; step++)
	{
		float		lr = cfg.lr * (step == 3 ? 0.5f : 1.0f);	/* the caller's schedule */

		for (int i = 0; i < N; i++)
			g[i] = (float) (cos(i * 0.7 + step) * (i % 5 == 0 ? 1e-3 : 1.0));
		mlp_opt_step(&o, p, g, lr);
		for (int i = 0; i < N; i++)
		{
			double		l = (double) lr * (i < HEAD ? body_mult : 1.0);
			double		b1 = cfg.beta1,
						b2 = cfg.beta2;

			rp[i] *= 1 - l * wd;
			switch (kind)
			{
				case MLP_OPT_LION:
					rp[i] -= l * sgn(b1 * rm[i] + (1 - b1) * g[i]);
					rm[i] = b2 * rm[i] + (1 - b2) * g[i];
					break;
				case MLP_OPT_ADAMW:
					rm[i] = b1 * rm[i] + (1 - b1) * g[i];
					rv[i] = b2 * rv[i] + (1 - b2) * (double) g[i] * g[i];
					rp[i] -= l / (1 - pow(b1, step)) * rm[i] /
						(sqrt(rv[i]) / sqrt(1 - pow(b2, step)) + cfg.eps);
					break;
				case MLP_OPT_SGD:
					rm[i] = cfg.momentum * rm[i] + g[i];
					rp[i] -= l * rm[i];
					break;
			}
		}
	}
	is_int(o.step, 3, "three steps counted");
	for (int i = 0; i < N; i++)
		worst = fmax(worst, fabs(p[i] - rp[i]));
	mlp_opt_free(&o);
	return worst;
}

int
main(void)
{
	MlpOptConfig cfg;
	MlpOptimizer o;
	char		err[128];
	double		e;

	mlp_opt_defaults(&cfg, MLP_OPT_LION, 100);
	ok(cfg.lr == 5e-5f && cfg.beta1 == 0.9f && cfg.beta2 == 0.99f && cfg.weight_decay == 5e-5f &&
	   cfg.body_lr_mult == 1.0f && cfg.head_offset == 100, "LION defaults");
	mlp_opt_defaults(&cfg, MLP_OPT_ADAMW, 100);
	ok(cfg.lr == 1e-3f && cfg.beta1 == 0.9f && cfg.beta2 == 0.999f && cfg.eps == 1e-8f &&
	   cfg.weight_decay == 0.05f, "AdamW defaults");
	mlp_opt_defaults(&cfg, MLP_OPT_SGD, 100);
	ok(cfg.lr == 0.01f && cfg.momentum == 0.9f && cfg.weight_decay == 0.0f, "SGD defaults");
	ok(mlp_opt_kind_parse("lion") == MLP_OPT_LION && mlp_opt_kind_parse("AdamW") == MLP_OPT_ADAMW &&
	   mlp_opt_kind_parse("sgd") == MLP_OPT_SGD && mlp_opt_kind_parse("adam") == -1 &&
	   mlp_opt_kind_parse("") == -1 && mlp_opt_kind_parse(NULL) == -1, "kind names parse");
	ok(strcmp(mlp_opt_kind_name(MLP_OPT_ADAMW), "adamw") == 0, "kind name");

	e = run(MLP_OPT_LION, 1.0f, 0.1f);
	ok(e < 1e-6, "LION with weight decay, 3 steps (err %.2g)", e);
	e = run(MLP_OPT_LION, 0.1f, 0.1f);
	ok(e < 1e-6, "LION with body lr x0.1 (err %.2g)", e);
	e = run(MLP_OPT_ADAMW, 1.0f, 0.05f);
	ok(e < 1e-6, "AdamW with weight decay, bias correction, 3 steps (err %.2g)", e);
	e = run(MLP_OPT_ADAMW, 0.1f, 0.05f);
	ok(e < 1e-6, "AdamW with body lr x0.1 (err %.2g)", e);
	e = run(MLP_OPT_SGD, 1.0f, 0.0f);
	ok(e < 1e-6, "SGD momentum, 3 steps (err %.2g)", e);
	e = run(MLP_OPT_SGD, 0.1f, 0.01f);
	ok(e < 1e-6, "SGD with body lr x0.1 and decoupled decay (err %.2g)", e);

	/* body multiplier 0 freezes the body exactly, and the head still moves */
	{
		float		p[4] = {1, 2, 3, 4},
					g[4] = {1, 1, 1, 1};

		mlp_opt_defaults(&cfg, MLP_OPT_SGD, 4);
		cfg.body_lr_mult = 0;
		cfg.head_offset = 2;
		cfg.weight_decay = 0.5f;
		mlp_opt_create(&o, &cfg, 4, err, sizeof(err));
		mlp_opt_step(&o, p, g, 0.1f);
		ok(p[0] == 1 && p[1] == 2 && p[2] != 3 && p[3] != 4, "body_lr_mult 0 freezes the body");
		mlp_opt_free(&o);
	}

	mlp_opt_defaults(&cfg, MLP_OPT_LION, 4);
	cfg.lr = -1;
	ok(mlp_opt_create(&o, &cfg, 4, err, sizeof(err)) == -1 && strstr(err, "-1"),
	   "negative learning rate refused: %s", err);

	/* clipping as torch.nn.utils.clip_grad_norm_ */
	{
		size_t		n = 3000;
		float	   *g = malloc(sizeof(float) * n);
		double		norm,
					after = 0;

		for (size_t i = 0; i < n; i++)
			g[i] = (i % 2 ? 1.0f : -1.0f) * 0.1f;
		norm = mlp_clip_grad_norm(g, n, 0.0);
		is_close(norm, sqrt(n * 0.01), 1e-6, 0, "gradient norm without clipping");
		ok(g[0] == -0.1f, "max_norm 0 leaves gradients alone");
		norm = mlp_clip_grad_norm(g, n, 1.0);
		for (size_t i = 0; i < n; i++)
			after += (double) g[i] * g[i];
		is_close(norm, sqrt(n * 0.01), 1e-6, 0, "returns the norm before clipping");
		is_close(sqrt(after), 1.0, 1e-5, 0, "clipped to norm 1");
		norm = mlp_clip_grad_norm(g, n, 10.0);
		ok(fabs(norm - 1) < 1e-5 && fabs(g[1] - 1 / sqrt(n)) < 1e-6, "norm below max is left alone");
		free(g);
	}

	is_close(mlp_cosine_lr(1.0f, 0, 10), 1.0, 1e-7, 0, "cosine starts at the base");
	is_close(mlp_cosine_lr(1.0f, 5, 10), 0.5, 1e-6, 0, "cosine halfway is half");
	is_close(mlp_cosine_lr(2.0f, 9, 10), 2 * 0.5 * (1 + cos(M_PI * 0.9)), 1e-6, 0,
			 "cosine in the last epoch");
	is_close(mlp_cosine_lr(2.0f, 3, 0), 2.0, 0, 0, "0 epochs: constant");
	return tap_done();
}
