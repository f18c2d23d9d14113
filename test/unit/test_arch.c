/*
 * test_arch.c - architecture strings, validation, parameter and FLOP counts.
 */
#include <string.h>

#include "arch.h"
#include "tap.h"

static void
parses(const char *s, MlpKind kind, int depth, int width, int expansion, const char *canon)
{
	MlpArch		a = {0};
	char		err[256] = "",
				buf[64];

	if (!ok(mlp_arch_parse(s, &a, err, sizeof(err)) == 0, "\"%s\" parses", s))
	{
		diag("  %s", err);
		return;
	}
	ok(a.kind == kind && a.depth == depth && a.width == width && a.expansion == expansion,
	   "\"%s\": kind %d depth %d width %d expansion %d", s, a.kind, a.depth, a.width, a.expansion);
	mlp_arch_format(&a, buf, sizeof(buf));
	ok(strcmp(buf, canon) == 0, "\"%s\" formats as \"%s\" (got \"%s\")", s, canon, buf);
}

/* The message must name the offending part. */
static void
refuses(const char *s, const char *must_mention)
{
	MlpArch		a = {0};
	char		err[256] = "";
	int			rc = mlp_arch_parse(s, &a, err, sizeof(err));

	ok(rc == -1 && strstr(err, must_mention) != NULL, "\"%s\" refused, message mentions \"%s\"",
	   s ? s : "(null)", must_mention);
	diag("  %s", err);
}

int
main(void)
{
	MlpArch		a = {0};
	char		err[256];

	parses("B_6-Wi_512", MLP_KIND_BOTTLENECK, 6, 512, 4, "B_6-Wi_512");
	parses("B_12-Wi_512-X_4", MLP_KIND_BOTTLENECK, 12, 512, 4, "B_12-Wi_512");
	parses("B_12-Wi_1024-X_2", MLP_KIND_BOTTLENECK, 12, 1024, 2, "B_12-Wi_1024-X_2");
	parses("S_6-Wi_1024", MLP_KIND_STANDARD, 6, 1024, 4, "S_6-Wi_1024");
	parses("S_1-Wi_8", MLP_KIND_STANDARD, 1, 8, 4, "S_1-Wi_8");
	parses("B_256-Wi_65536-X_64", MLP_KIND_BOTTLENECK, 256, 65536, 64, "B_256-Wi_65536-X_64");

	refuses("", "empty");
	refuses(NULL, "empty");
	refuses("X_6-Wi_512", "X_");
	refuses("b_6-Wi_512", "b_");
	refuses("B_", "depth");
	refuses("B_x-Wi_512", "depth");
	refuses("B_0-Wi_512", "depth \"0\"");
	refuses("B_-6-Wi_512", "depth");
	refuses("B_+6-Wi_512", "depth");
	refuses("B_257-Wi_512", "depth \"257\"");
	refuses("B_99999999999999999999-Wi_512", "depth");
	refuses("B_6", "-Wi_");
	refuses("B_6-W_512", "-W_512");
	refuses("B_6-Wi_", "width");
	refuses("B_6-Wi_0", "width \"0\"");
	refuses("B_6-Wi_65537", "width \"65537\"");
	refuses("B_6-Wi_512-X_0", "expansion \"0\"");
	refuses("B_6-Wi_512-X_65", "expansion \"65\"");
	refuses("B_6-Wi_512-X_", "expansion");
	refuses("S_6-Wi_512-X_4", "-X_4");
	refuses("B_6-Wi_512 ", "trailing \" \"");
	refuses("B_6-Wi_512x", "trailing \"x\"");
	refuses("B_6-Wi_512-X_4-X_4", "trailing \"-X_4\"");
	refuses(" B_6-Wi_512", "prefix");

	/* the paper's counts at 3x32x32 with 10 classes */
	mlp_arch_parse("B_6-Wi_512", &a, err, sizeof(err));
	a.in_dim = 3072;
	a.classes = 10;
	is_int(mlp_arch_param_count(&a), 14182922, "B_6-Wi_512 has 14,182,922 parameters");
	is_int(mlp_arch_validate(&a, err, sizeof(err)), 0, "B_6-Wi_512 at 3072 -> 10 validates");
	/* 2 per multiply-add: linear_in, 6 blocks of two kW x W products, head */
	is_close(mlp_arch_forward_flops(&a), 2.0 * (3072.0 * 512 + 6 * 2 * 2048.0 * 512 + 512 * 10),
			 0, 0, "B_6-Wi_512 forward FLOPs");
	mlp_arch_parse("B_6-Wi_1024", &a, err, sizeof(err));
	is_int(mlp_arch_param_count(&a), 53531658, "B_6-Wi_1024 has 53,531,658 parameters");
	mlp_arch_parse("B_12-Wi_512-X_2", &a, err, sizeof(err));
	/* per block 2kW^2 + kW + 3W with k = 2 */
	is_int(mlp_arch_param_count(&a),
		   3072LL * 512 + 512 + 12LL * (2 * 1024 * 512 + 1024 + 3 * 512) + 512 * 10 + 10,
		   "B_12-Wi_512-X_2 parameter count");
	mlp_arch_parse("S_6-Wi_1024", &a, err, sizeof(err));
	/* linear_in, 5 x (Linear(W->W) + LayerNorm), head */
	is_int(mlp_arch_param_count(&a),
		   3072LL * 1024 + 1024 + 5LL * (1024 * 1024 + 1024 + 2048) + 1024 * 10 + 10,
		   "S_6-Wi_1024 parameter count");
	is_close(mlp_arch_forward_flops(&a), 2.0 * (3072.0 * 1024 + 5.0 * 1024 * 1024 + 10240),
			 0, 0, "S_6-Wi_1024 forward FLOPs");

	/* validation of the caller's part */
	a.in_dim = 0;
	ok(mlp_arch_validate(&a, err, sizeof(err)) == -1 && strstr(err, "input dimension 0"),
	   "in_dim 0 refused: %s", err);
	a.in_dim = 3072;
	a.classes = 0;
	ok(mlp_arch_validate(&a, err, sizeof(err)) == -1 && strstr(err, "classes 0"),
	   "0 classes refused: %s", err);
	a.classes = 10;
	a.depth = 0;
	ok(mlp_arch_validate(&a, err, sizeof(err)) == -1 && strstr(err, "depth 0"),
	   "depth 0 refused: %s", err);
	mlp_arch_parse("B_256-Wi_65536-X_64", &a, err, sizeof(err));
	ok(mlp_arch_validate(&a, err, sizeof(err)) == -1 && strstr(err, "parameters"),
	   "an absurdly large model is refused: %s", err);
	return tap_done();
}
