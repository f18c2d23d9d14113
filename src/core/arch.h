/*
 * arch.h - the architecture strings of the paper and what follows from them.
 *
 *   B_L-Wi_W[-X_k]  inverted-bottleneck MLP: linear_in (D -> W), L residual blocks
 *                   x <- x + Linear(kW -> W)(GELU(Linear(W -> kW)(LayerNorm(x)))), linear_out.
 *   S_L-Wi_W        standard MLP: linear_in, then L-1 times LayerNorm -> GELU -> Linear(W -> W),
 *                   then linear_out.
 */
#ifndef MLP_ARCH_H
#define MLP_ARCH_H

#include <stddef.h>
#include <stdint.h>

#define MLP_ARCH_MAX_DEPTH		256
#define MLP_ARCH_MAX_WIDTH		65536
#define MLP_ARCH_MAX_EXPANSION	64
#define MLP_ARCH_DEFAULT_EXPANSION 4
#define MLP_ARCH_MAX_CLASSES	100000

typedef enum MlpKind
{
	MLP_KIND_BOTTLENECK,		/* "B_" */
	MLP_KIND_STANDARD			/* "S_" */
} MlpKind;

typedef struct MlpArch
{
	MlpKind		kind;
	int			depth;			/* L */
	int			width;			/* W */
	int			expansion;		/* k (bottleneck only; 4 unless -X_k) */
	int64_t		in_dim;			/* C*H*W, set by the caller */
	int			classes;		/* set by the caller */
} MlpArch;

/*
 * Parses "B_6-Wi_512", "B_12-Wi_512-X_4", "S_6-Wi_1024".  Sets kind, depth, width, expansion;
 * leaves in_dim and classes untouched.  Returns 0, or -1 with a message naming the bad part.
 */
int			mlp_arch_parse(const char *s, MlpArch *out, char *err, size_t errlen);

/* Canonical string ("-X_k" only when k != 4). */
void		mlp_arch_format(const MlpArch *a, char *buf, size_t len);

/* Checks in_dim and classes too.  Returns 0 or -1 with a message. */
int			mlp_arch_validate(const MlpArch *a, char *err, size_t errlen);

/* Number of parameters (weights and biases, LayerNorm affine included). */
int64_t		mlp_arch_param_count(const MlpArch *a);

/* Forward FLOPs of one image: 2 per multiply-add of every linear layer. */
double		mlp_arch_forward_flops(const MlpArch *a);

#endif
