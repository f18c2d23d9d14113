/*
 * fuzz_arch.c - mlp_arch_parse on any string.  A string it accepts must format back to a
 * string that parses to the same architecture; validation and the counts must not overflow
 * for any in_dim and classes (taken from the input's first bytes).
 */
#include "arch.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *s;
	MlpArch		a,
				b;
	char		err[256],
				text[64];

	if (size > 256)
		return 0;
	s = fuzz_cstring(data, size);
	err[0] = '\0';
	memset(&a, 0, sizeof(a));
	if (mlp_arch_parse(s, &a, err, sizeof(err)) != 0)
	{
		FUZZ_CHECK(err[0] != '\0');
		free(s);
		return 0;
	}
	FUZZ_CHECK(a.depth >= 1 && a.depth <= MLP_ARCH_MAX_DEPTH);
	FUZZ_CHECK(a.width >= 1 && a.width <= MLP_ARCH_MAX_WIDTH);
	FUZZ_CHECK(a.kind == MLP_KIND_STANDARD ||
			   (a.expansion >= 1 && a.expansion <= MLP_ARCH_MAX_EXPANSION));
	mlp_arch_format(&a, text, sizeof(text));
	memset(&b, 0, sizeof(b));
	FUZZ_CHECK(mlp_arch_parse(text, &b, err, sizeof(err)) == 0);
	FUZZ_CHECK(a.kind == b.kind && a.depth == b.depth && a.width == b.width);
	FUZZ_CHECK(a.kind == MLP_KIND_STANDARD || a.expansion == b.expansion);

	/* in_dim and classes from the first bytes, including 0 and values past the limits */
	a.in_dim = size >= 4 ? (int64_t) ((uint32_t) data[0] << 24 | (uint32_t) data[1] << 16 |
									  (uint32_t) data[2] << 8 | data[3]) : 3072;
	a.classes = size >= 6 ? (int) (data[4] << 16 | data[5] << 8) : 10;
	if (mlp_arch_validate(&a, err, sizeof(err)) == 0)
	{
		FUZZ_CHECK(mlp_arch_param_count(&a) > 0);
		FUZZ_CHECK(mlp_arch_forward_flops(&a) > 0);
	}
	free(s);
	return 0;
}
