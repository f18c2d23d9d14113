/*
 * arch.c - parsing the paper's architecture strings, parameter and FLOP counts.
 */
#include "arch.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* in_dim is an int dimension of the SGEMMs; 2^24 floats is a 4-channel 2048x2048 image. */
#define MLP_ARCH_MAX_IN_DIM ((int64_t) 1 << 24)
/* 2^32 parameters are 16 GiB of weights alone, before gradients and optimizer state. */
#define MLP_ARCH_MAX_PARAMS ((int64_t) 1 << 32)

/*
 * Reads a positive decimal number at *p (digits only, no sign) of at most max; advances *p.
 * On failure writes a message naming what (e.g. "depth") and the offending text.
 */
static int
parse_number(const char **p, const char *what, int max, const char *whole, int *out,
			 char *err, size_t errlen)
{
	const char *q = *p;
	long long	v = 0;
	int			ndigits = 0;

	while (isdigit((unsigned char) *q))
	{
		if (v <= max)
			v = v * 10 + (*q - '0');
		q++;
		ndigits++;
	}
	if (ndigits == 0)
	{
		if (err && errlen)
			snprintf(err, errlen, "architecture \"%s\": %s must be a positive number, found \"%.20s\"",
					 whole, what, *p);
		return -1;
	}
	if (v == 0 || v > max)
	{
		if (err && errlen)
			snprintf(err, errlen, "architecture \"%s\": %s \"%.*s\" is out of range 1..%d",
					 whole, what, ndigits, *p, max);
		return -1;
	}
	*out = (int) v;
	*p = q;
	return 0;
}

int
mlp_arch_parse(const char *s, MlpArch *out, char *err, size_t errlen)
{
	const char *p;
	MlpKind		kind;
	int			depth,
				width,
				expansion = MLP_ARCH_DEFAULT_EXPANSION;

	if (s == NULL || s[0] == '\0')
	{
		if (err && errlen)
			snprintf(err, errlen, "architecture string is empty, expected e.g. \"B_6-Wi_512\"");
		return -1;
	}
	if (strncmp(s, "B_", 2) == 0)
		kind = MLP_KIND_BOTTLENECK;
	else if (strncmp(s, "S_", 2) == 0)
		kind = MLP_KIND_STANDARD;
	else
	{
		if (err && errlen)
			snprintf(err, errlen,
					 "architecture \"%s\": unknown prefix \"%.2s\", expected \"B_\" (inverted bottleneck) or \"S_\" (standard)",
					 s, s);
		return -1;
	}
	p = s + 2;
	if (parse_number(&p, "depth", MLP_ARCH_MAX_DEPTH, s, &depth, err, errlen) != 0)
		return -1;
	if (strncmp(p, "-Wi_", 4) != 0)
	{
		if (err && errlen)
			snprintf(err, errlen, "architecture \"%s\": expected \"-Wi_<width>\" after the depth, found \"%s\"",
					 s, *p ? p : "end of string");
		return -1;
	}
	p += 4;
	if (parse_number(&p, "width", MLP_ARCH_MAX_WIDTH, s, &width, err, errlen) != 0)
		return -1;
	if (strncmp(p, "-X_", 3) == 0)
	{
		if (kind != MLP_KIND_BOTTLENECK)
		{
			if (err && errlen)
				snprintf(err, errlen, "architecture \"%s\": expansion \"%s\" applies only to \"B_\" architectures",
						 s, p);
			return -1;
		}
		p += 3;
		if (parse_number(&p, "expansion", MLP_ARCH_MAX_EXPANSION, s, &expansion, err, errlen) != 0)
			return -1;
	}
	if (*p != '\0')
	{
		if (err && errlen)
			snprintf(err, errlen, "architecture \"%s\": unexpected trailing \"%s\"", s, p);
		return -1;
	}
	out->kind = kind;
	out->depth = depth;
	out->width = width;
	out->expansion = expansion;	/* unused by S_ */
	return 0;
}

void
mlp_arch_format(const MlpArch *a, char *buf, size_t len)
{
	if (a->kind == MLP_KIND_STANDARD)
		snprintf(buf, len, "S_%d-Wi_%d", a->depth, a->width);
	else if (a->expansion != MLP_ARCH_DEFAULT_EXPANSION)
		snprintf(buf, len, "B_%d-Wi_%d-X_%d", a->depth, a->width, a->expansion);
	else
		snprintf(buf, len, "B_%d-Wi_%d", a->depth, a->width);
}

int
mlp_arch_validate(const MlpArch *a, char *err, size_t errlen)
{
	const char *bad = NULL;
	long long	value = 0,
				max = 0;

	if (a->kind != MLP_KIND_BOTTLENECK && a->kind != MLP_KIND_STANDARD)
	{
		if (err && errlen)
			snprintf(err, errlen, "unknown architecture kind %d", (int) a->kind);
		return -1;
	}
	if (a->depth < 1 || a->depth > MLP_ARCH_MAX_DEPTH)
		bad = "depth", value = a->depth, max = MLP_ARCH_MAX_DEPTH;
	else if (a->width < 1 || a->width > MLP_ARCH_MAX_WIDTH)
		bad = "width", value = a->width, max = MLP_ARCH_MAX_WIDTH;
	else if (a->kind == MLP_KIND_BOTTLENECK &&
			 (a->expansion < 1 || a->expansion > MLP_ARCH_MAX_EXPANSION))
		bad = "expansion", value = a->expansion, max = MLP_ARCH_MAX_EXPANSION;
	else if (a->in_dim < 1 || a->in_dim > MLP_ARCH_MAX_IN_DIM)
		bad = "input dimension", value = a->in_dim, max = MLP_ARCH_MAX_IN_DIM;
	else if (a->classes < 1 || a->classes > MLP_ARCH_MAX_CLASSES)
		bad = "number of classes", value = a->classes, max = MLP_ARCH_MAX_CLASSES;
	if (bad)
	{
		if (err && errlen)
			snprintf(err, errlen, "%s %lld is out of range 1..%lld", bad, value, max);
		return -1;
	}
	if (mlp_arch_param_count(a) > MLP_ARCH_MAX_PARAMS)
	{
		char		name[64];

		mlp_arch_format(a, name, sizeof(name));
		if (err && errlen)
			snprintf(err, errlen, "architecture %s has %lld parameters, more than the limit of %lld",
					 name, (long long) mlp_arch_param_count(a), (long long) MLP_ARCH_MAX_PARAMS);
		return -1;
	}
	return 0;
}

/* Computed in int64 from int fields: W <= 2^16, k <= 2^6, so k*W*W <= 2^38 per layer. */
int64_t
mlp_arch_param_count(const MlpArch *a)
{
	int64_t		W = a->width,
				D = a->in_dim,
				C = a->classes,
				L = a->depth;
	int64_t		n = D * W + W + W * C + C;

	if (a->kind == MLP_KIND_BOTTLENECK)
	{
		int64_t		kW = (int64_t) a->expansion * W;

		/* Linear(W->kW) + Linear(kW->W) + LayerNorm(W): 8W^2 + 7W for k = 4 */
		n += L * (W * kW + kW + kW * W + W + 2 * W);
	}
	else
		n += (L - 1) * (W * W + W + 2 * W);
	return n;
}

double
mlp_arch_forward_flops(const MlpArch *a)
{
	double		W = a->width,
				D = (double) a->in_dim,
				C = a->classes,
				L = a->depth;
	double		macs = D * W + W * C;

	if (a->kind == MLP_KIND_BOTTLENECK)
		macs += L * 2.0 * W * (a->expansion * W);
	else
		macs += (L - 1) * W * W;
	return 2.0 * macs;
}
