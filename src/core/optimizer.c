/*
 * optimizer.c - LION, AdamW and SGD with momentum over one flat parameter buffer, gradient
 * clipping and the cosine schedule.
 *
 * Each update is one pass over contiguous floats, done twice when fine-tuning (body with
 * lr * body_lr_mult, then the head with lr); the loops are branch-free so they vectorise.
 */
#include "optimizer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void
mlp_opt_defaults(MlpOptConfig *cfg, MlpOptKind kind, size_t n)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->kind = kind;
	cfg->body_lr_mult = 1.0f;
	cfg->head_offset = n;
	switch (kind)
	{
		case MLP_OPT_LION:
			cfg->lr = 5e-5f;
			cfg->beta1 = 0.9f;
			cfg->beta2 = 0.99f;
			cfg->weight_decay = 5e-5f;
			break;
		case MLP_OPT_ADAMW:
			cfg->lr = 1e-3f;
			cfg->beta1 = 0.9f;
			cfg->beta2 = 0.999f;
			cfg->eps = 1e-8f;
			cfg->weight_decay = 0.05f;
			break;
		case MLP_OPT_SGD:
			cfg->lr = 0.01f;
			cfg->momentum = 0.9f;
			cfg->weight_decay = 0.0f;
			break;
	}
}

int
mlp_opt_kind_parse(const char *s)
{
	if (s == NULL)
		return -1;
	if (strcasecmp(s, "lion") == 0)
		return MLP_OPT_LION;
	if (strcasecmp(s, "adamw") == 0)
		return MLP_OPT_ADAMW;
	if (strcasecmp(s, "sgd") == 0)
		return MLP_OPT_SGD;
	return -1;
}

const char *
mlp_opt_kind_name(MlpOptKind kind)
{
	switch (kind)
	{
		case MLP_OPT_LION:
			return "lion";
		case MLP_OPT_ADAMW:
			return "adamw";
		case MLP_OPT_SGD:
			return "sgd";
	}
	return "unknown";
}

int
mlp_opt_check_config(const MlpOptConfig *cfg, char *err, size_t errlen)
{
	if (cfg->kind != MLP_OPT_LION && cfg->kind != MLP_OPT_ADAMW && cfg->kind != MLP_OPT_SGD)
	{
		if (err && errlen)
			snprintf(err, errlen, "unknown optimizer kind %d", (int) cfg->kind);
		return -1;
	}
	if (!(cfg->lr >= 0.0f) || !(cfg->weight_decay >= 0.0f) || !(cfg->body_lr_mult >= 0.0f))
	{
		if (err && errlen)
			snprintf(err, errlen, "learning rate %g, weight decay %g and body multiplier %g must be non-negative",
					 cfg->lr, cfg->weight_decay, cfg->body_lr_mult);
		return -1;
	}
	return 0;
}

int
mlp_opt_create(MlpOptimizer *o, const MlpOptConfig *cfg, size_t n, char *err, size_t errlen)
{
	memset(o, 0, sizeof(*o));
	if (mlp_opt_check_config(cfg, err, errlen) != 0)
		return -1;
	o->cfg = *cfg;
	if (o->cfg.head_offset > n)
		o->cfg.head_offset = n;
	o->n = n;
	o->m = calloc(n ? n : 1, sizeof(float));
	if (o->m && cfg->kind == MLP_OPT_ADAMW)
		o->v = calloc(n ? n : 1, sizeof(float));
	if (o->m == NULL || (cfg->kind == MLP_OPT_ADAMW && o->v == NULL))
	{
		if (err && errlen)
			snprintf(err, errlen, "out of memory for the %s state of %zu parameters",
					 mlp_opt_kind_name(cfg->kind), n);
		mlp_opt_free(o);
		return -1;
	}
	return 0;
}

void
mlp_opt_free(MlpOptimizer *o)
{
	free(o->m);
	free(o->v);
	memset(o, 0, sizeof(*o));
}

static void
lion_update(float *restrict p, const float *restrict g, float *restrict m, size_t n,
			float lr, float wd, float b1, float b2)
{
	float		decay = 1.0f - lr * wd;

	for (size_t i = 0; i < n; i++)
	{
		float		c = b1 * m[i] + (1.0f - b1) * g[i];
		float		u = (float) ((c > 0.0f) - (c < 0.0f));	/* sign, 0 at 0 like torch */

		p[i] = p[i] * decay - lr * u;
		m[i] = b2 * m[i] + (1.0f - b2) * g[i];
	}
}

/* PyTorch's AdamW: step_size = lr / bc1, denom = sqrt(v) / sqrt(bc2) + eps. */
static void
adamw_update(float *restrict p, const float *restrict g, float *restrict m, float *restrict v,
			 size_t n, float lr, float wd, float b1, float b2, float eps, int64_t step)
{
	float		decay = 1.0f - lr * wd;
	float		step_size = (float) (lr / (1.0 - pow(b1, (double) step)));
	float		inv_bc2_sqrt = (float) (1.0 / sqrt(1.0 - pow(b2, (double) step)));

	for (size_t i = 0; i < n; i++)
	{
		float		mi = b1 * m[i] + (1.0f - b1) * g[i];
		float		vi = b2 * v[i] + (1.0f - b2) * g[i] * g[i];

		m[i] = mi;
		v[i] = vi;
		p[i] = p[i] * decay - step_size * mi / (sqrtf(vi) * inv_bc2_sqrt + eps);
	}
}

static void
sgd_update(float *restrict p, const float *restrict g, float *restrict buf, size_t n,
		   float lr, float wd, float momentum)
{
	float		decay = 1.0f - lr * wd;

	for (size_t i = 0; i < n; i++)
	{
		float		b = momentum * buf[i] + g[i];

		buf[i] = b;
		p[i] = p[i] * decay - lr * b;
	}
}

static void
update_range(MlpOptimizer *o, float *params, const float *grads, size_t from, size_t to,
			 float lr)
{
	const MlpOptConfig *c = &o->cfg;
	size_t		n = to - from;

	if (n == 0)
		return;
	switch (c->kind)
	{
		case MLP_OPT_LION:
			lion_update(params + from, grads + from, o->m + from, n, lr, c->weight_decay,
						c->beta1, c->beta2);
			break;
		case MLP_OPT_ADAMW:
			adamw_update(params + from, grads + from, o->m + from, o->v + from, n, lr,
						 c->weight_decay, c->beta1, c->beta2, c->eps, o->step);
			break;
		case MLP_OPT_SGD:
			sgd_update(params + from, grads + from, o->m + from, n, lr, c->weight_decay,
					   c->momentum);
			break;
	}
}

void
mlp_opt_step(MlpOptimizer *o, float *params, const float *grads, float lr)
{
	o->step++;
	update_range(o, params, grads, 0, o->cfg.head_offset, lr * o->cfg.body_lr_mult);
	update_range(o, params, grads, o->cfg.head_offset, o->n, lr);
}

/*
 * Sum of squares in float over short chunks (16 independent lanes the compiler vectorises),
 * chunks summed in double: accurate for a hundred million parameters, and fast.
 */
double
mlp_clip_grad_norm(float *grads, size_t n, double max_norm)
{
	enum
	{
		LANES = 16, CHUNK = 1024
	};
	double		total = 0.0,
				norm;
	size_t		i = 0;

	while (i < n)
	{
		size_t		end = n - i < CHUNK ? n : i + CHUNK;
		float		acc[LANES] = {0};
		float		s = 0.0f;

		for (; i + LANES <= end; i += LANES)
			for (int k = 0; k < LANES; k++)
				acc[k] += grads[i + k] * grads[i + k];
		for (; i < end; i++)
			s += grads[i] * grads[i];
		for (int k = 0; k < LANES; k++)
			s += acc[k];
		total += s;
	}
	norm = sqrt(total);
	/* torch.nn.utils.clip_grad_norm_: coefficient max_norm / (norm + 1e-6), only when < 1 */
	if (max_norm > 0.0 && norm > max_norm)
	{
		float		scale = (float) (max_norm / (norm + 1e-6));

		for (size_t j = 0; j < n; j++)
			grads[j] *= scale;
	}
	return norm;
}

float
mlp_cosine_lr(float base, int epoch, int epochs)
{
	if (epochs <= 0)
		return base;
	return (float) (base * 0.5 * (1.0 + cos(M_PI * (double) epoch / epochs)));
}
