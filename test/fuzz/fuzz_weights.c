/*
 * fuzz_weights.c - mlp_weights_import (what mlp_import runs on a user's bytea) on any bytes,
 * with or without the overrides the SQL function passes.  The first byte chooses the
 * overrides; the rest is the file.  A model it accepts is exported and must import again
 * to the same architecture, metadata and parameters.
 */
#include "fuzz.h"
#include "weights.h"

static void
check_round_trip(const MlpModel *m, const MlpModelMeta *meta)
{
	uint8_t    *buf = NULL;
	size_t		len = 0;
	MlpModel	m2;
	MlpModelMeta meta2;
	char		err[512];

	if (mlp_weights_export(m, meta, &buf, &len, err, sizeof(err)) != MLP_WEIGHTS_OK)
	{
		fprintf(stderr, "export refused: %s\n", err);
		FUZZ_CHECK(!"an imported model exports");
	}
	if (mlp_weights_import(buf, len, NULL, &m2, &meta2, err, sizeof(err)) != MLP_WEIGHTS_OK)
	{
		fprintf(stderr, "re-import refused: %s\n", err);
		FUZZ_CHECK(!"an exported model imports");
	}
	FUZZ_CHECK(m->arch.kind == m2.arch.kind && m->arch.depth == m2.arch.depth &&
			   m->arch.width == m2.arch.width && m->arch.in_dim == m2.arch.in_dim &&
			   m->arch.classes == m2.arch.classes);
	FUZZ_CHECK(m->arch.kind == MLP_KIND_STANDARD || m->arch.expansion == m2.arch.expansion);
	FUZZ_CHECK(m->num_params == m2.num_params);
	FUZZ_CHECK(memcmp(m->params, m2.params, m->num_params * sizeof(float)) == 0);
	FUZZ_CHECK(meta->input.channels == meta2.input.channels &&
			   meta->input.height == meta2.input.height &&
			   meta->input.width == meta2.input.width && meta->classes == meta2.classes);
	for (int c = 0; c < meta->input.channels; c++)
		FUZZ_CHECK(meta->mean[c] == meta2.mean[c] && meta->std[c] == meta2.std[c]);
	FUZZ_CHECK(meta->num_class_names == meta2.num_class_names);
	for (int i = 0; i < meta->num_class_names; i++)
		FUZZ_CHECK(strcmp(meta->class_names[i], meta2.class_names[i]) == 0);
	mlp_model_free(&m2);
	mlp_model_meta_free(&meta2);
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {"a", "b", "c", "d", "e", "f", "g", "h"};
	MlpImportOverrides ov;
	MlpModel	m;
	MlpModelMeta meta;
	char		err[512];
	MlpWeightsStatus st;
	uint8_t		mode;

	if (size < 1)
		return 0;
	mode = data[0];
	memset(&ov, 0, sizeof(ov));
	if (mode & 1)
	{
		/* input_shape => {C,H,W}: 1..4 channels, small sides */
		ov.has_input = true;
		ov.input.channels = 1 + (mode >> 1 & 3);
		ov.input.height = 1 + (mode >> 3 & 3);
		ov.input.width = ov.input.height;
	}
	if (mode & 0x20)
	{
		ov.num_mean = ov.num_std = 1 + (mode >> 1 & 3);
		for (int c = 0; c < ov.num_mean; c++)
		{
			ov.mean[c] = 0.5f;
			ov.std[c] = (mode & 0x80) ? 0.0f : 0.25f;
		}
	}
	if (mode & 0x40)
	{
		ov.num_class_names = 1 + (mode >> 3 & 7);
		ov.class_names = names;
	}

	err[0] = '\0';
	st = mlp_weights_import(data + 1, size - 1, &ov, &m, &meta, err, sizeof(err));
	if (st != MLP_WEIGHTS_OK)
	{
		FUZZ_CHECK(err[0] != '\0');
		FUZZ_CHECK(m.params == NULL && meta.class_names == NULL);
		return 0;
	}
	FUZZ_CHECK(m.params != NULL && m.grads == NULL);
	FUZZ_CHECK((int64_t) meta.input.channels * meta.input.height * meta.input.width ==
			   m.arch.in_dim);
	FUZZ_CHECK(meta.classes == m.arch.classes);
	check_round_trip(&m, &meta);
	mlp_model_free(&m);
	mlp_model_meta_free(&meta);
	return 0;
}
