/*
 * optimizer.h - LION, AdamW and SGD with momentum over one flat parameter buffer.
 *
 * Weight decay is decoupled for all three: p <- p * (1 - lr * wd), applied before the update.
 * LION (Chen et al. 2023): u = sign(b1*m + (1-b1)*g); p <- p - lr*u; m <- b2*m + (1-b2)*g.
 * AdamW: PyTorch's torch.optim.AdamW (bias-corrected, eps outside the sqrt).
 * SGD: buf <- momentum*buf + g; p <- p - lr*buf (PyTorch, dampening 0, no Nesterov).
 * Parameters before head_offset use lr * body_lr_mult (fine-tuning); after it, lr.
 */
#ifndef MLP_OPTIMIZER_H
#define MLP_OPTIMIZER_H

#include <stddef.h>
#include <stdint.h>

typedef enum MlpOptKind
{
	MLP_OPT_LION,
	MLP_OPT_ADAMW,
	MLP_OPT_SGD
} MlpOptKind;

typedef struct MlpOptConfig
{
	MlpOptKind	kind;
	float		lr;
	float		weight_decay;
	float		beta1;			/* LION 0.9, AdamW 0.9 */
	float		beta2;			/* LION 0.99, AdamW 0.999 */
	float		eps;			/* AdamW 1e-8 */
	float		momentum;		/* SGD 0.9 */
	float		body_lr_mult;	/* 1 unless fine-tuning */
	size_t		head_offset;	/* where the head starts; == n when no split */
} MlpOptConfig;

typedef struct MlpOptimizer
{
	MlpOptConfig cfg;
	size_t		n;
	float	   *m;				/* first moment / momentum, [n] */
	float	   *v;				/* AdamW second moment, [n], NULL otherwise */
	int64_t		step;			/* steps taken */
} MlpOptimizer;

/* Fills cfg with the defaults for kind (lr of the paper's recipe for LION: 5e-5). */
void		mlp_opt_defaults(MlpOptConfig *cfg, MlpOptKind kind, size_t n);
/* "lion", "adamw", "sgd" -> kind; -1 when unknown. */
int			mlp_opt_kind_parse(const char *s);
const char *mlp_opt_kind_name(MlpOptKind kind);

/* 0 when cfg can make an optimizer (a known kind, rates not negative); else -1 with a message. */
int			mlp_opt_check_config(const MlpOptConfig *cfg, char *err, size_t errlen);

/* 0, or -1 with a message: a config mlp_opt_check_config refuses, or out of memory. */
int			mlp_opt_create(MlpOptimizer *o, const MlpOptConfig *cfg, size_t n,
						   char *err, size_t errlen);
void		mlp_opt_free(MlpOptimizer *o);

/* One step with learning rate lr (the schedule is the caller's). */
void		mlp_opt_step(MlpOptimizer *o, float *params, const float *grads, float lr);

/* Global L2 norm of grads; when max_norm > 0 and the norm exceeds it, scales grads down. */
double		mlp_clip_grad_norm(float *grads, size_t n, double max_norm);

/* Cosine schedule per epoch: base * 0.5 * (1 + cos(pi * epoch / epochs)), epoch from 0. */
float		mlp_cosine_lr(float base, int epoch, int epochs);

#endif
