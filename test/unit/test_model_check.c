/* test_model_check.c - the value bounds of imported models: each refusal names its tensor */
#include <math.h>
#include <string.h>

#include "arch.h"
#include "model.h"
#include "model_check.h"
#include "tap.h"

static void
make(MlpModel *m, MlpModelMeta *meta)
{
	MlpArch		a;
	MlpRng		r;
	char		err[256];

	if (mlp_arch_parse("B_1-Wi_8", &a, err, sizeof(err)) != 0 ||
		(a.in_dim = 12, a.classes = 3, mlp_model_create(m, &a, false, err, sizeof(err))) != 0)
	{
		fprintf(stderr, "%s\n", err);
		exit(2);
	}
	mlp_rng_seed(&r, 1, 0);
	mlp_model_init_weights(m, &r);
	memset(meta, 0, sizeof(*meta));
	meta->input = (MlpImageSpec) {3, 2, 2};
	meta->classes = 3;
	for (int c = 0; c < 3; c++)
	{
		meta->mean[c] = 0.5f;
		meta->std[c] = 0.25f;
	}
}

/* Sets element i of tensor name to v, checks, restores; returns the check's message. */
static const char *
check_with(MlpModel *m, MlpModelMeta *meta, const char *name, size_t i, float v)
{
	static char err[256];
	const MlpTensor *t = mlp_model_find_tensor(m, name);
	float		saved = m->params[t->offset + i];

	err[0] = '\0';
	m->params[t->offset + i] = v;
	if (mlp_model_check_values(m, meta, err, sizeof(err)) == 0)
		strcpy(err, "accepted");
	m->params[t->offset + i] = saved;
	return err;
}

int
main(void)
{
	MlpModel	m;
	MlpModelMeta meta;
	char		err[256];
	const char *msg;

	make(&m, &meta);
	ok(mlp_model_check_values(&m, &meta, err, sizeof(err)) == 0, "a freshly initialised model passes");

	msg = check_with(&m, &meta, "blocks.0.block.2.weight", 5, NAN);
	ok(strstr(msg, "blocks.0.block.2.weight") && strstr(msg, "non-finite") && strstr(msg, "element 5"),
	   "NaN is refused with the tensor and element: %s", msg);
	msg = check_with(&m, &meta, "linear_out.bias", 2, INFINITY);
	ok(strstr(msg, "linear_out.bias") && strstr(msg, "non-finite"), "an infinity is refused: %s", msg);
	msg = check_with(&m, &meta, "linear_in.weight", 0, -1e38f);
	ok(strstr(msg, "linear_in.weight") && strstr(msg, "beyond the bound"), "1e38 is refused: %s", msg);
	msg = check_with(&m, &meta, "layernorms.0.weight", 1, MLP_CHECK_MAX_ABS);
	ok(strcmp(msg, "accepted") == 0, "the bound itself is accepted");
	msg = check_with(&m, &meta, "layernorms.0.weight", 1, nextafterf(MLP_CHECK_MAX_ABS, INFINITY));
	ok(strstr(msg, "layernorms.0.weight") != NULL, "just beyond the bound is refused");

	meta.std[1] = 1e-45f;
	ok(mlp_model_check_values(&m, &meta, err, sizeof(err)) != 0 && strstr(err, "std of channel 1"),
	   "a std of 1e-45 is refused: %s", err);
	meta.std[1] = MLP_CHECK_MIN_STD;
	ok(mlp_model_check_values(&m, &meta, err, sizeof(err)) == 0, "the smallest std is accepted");
	meta.std[1] = NAN;
	ok(mlp_model_check_values(&m, &meta, err, sizeof(err)) != 0, "a NaN std is refused");
	meta.std[1] = 0.25f;
	meta.mean[2] = INFINITY;
	ok(mlp_model_check_values(&m, &meta, err, sizeof(err)) != 0 && strstr(err, "mean of channel 2"),
	   "an infinite mean is refused: %s", err);
	meta.mean[2] = 0.5f;
	/* channels beyond the input's are not looked at */
	meta.std[3] = 0;
	ok(mlp_model_check_values(&m, &meta, err, sizeof(err)) == 0, "only the input's channels count");

	mlp_model_free(&m);
	return tap_done();
}
