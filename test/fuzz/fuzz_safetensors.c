/*
 * fuzz_safetensors.c - st_parse on any bytes.  For a file it accepts: every tensor lies inside
 * the buffer with numel * element size bytes, is found by name, converts to float32 (or is
 * refused with a message); and a file of F32 tensors written again by the writer parses to
 * the same names, shapes, bytes and metadata.
 */
#include "fuzz.h"
#include "safetensors.h"

static size_t
dtype_size(StDtype d)
{
	switch (d)
	{
		case ST_F64:
		case ST_I64:
			return 8;
		case ST_F32:
		case ST_I32:
			return 4;
		case ST_F16:
		case ST_BF16:
			return 2;
		case ST_U8:
			return 1;
	}
	FUZZ_CHECK(!"a known dtype");
	return 0;
}

static void
check_rewrite(const StFile *f)
{
	StWriter   *w = st_writer_create();
	uint8_t    *buf = NULL;
	size_t		len = 0;
	StFile		g;
	char		err[256];
	float	  **copies = calloc((size_t) f->num_tensors + 1, sizeof(float *));

	FUZZ_CHECK(w != NULL && copies != NULL);
	for (int i = 0; i < f->num_tensors; i++)
	{
		const StTensor *t = &f->tensors[i];

		/* the writer copies floats at finish time; the file's bytes may be unaligned */
		copies[i] = malloc(t->nbytes + 1);
		FUZZ_CHECK(copies[i] != NULL);
		memcpy(copies[i], t->data, t->nbytes);
		FUZZ_CHECK(st_writer_add(w, t->name, copies[i], t->ndim, t->shape) == 0);
	}
	for (int i = 0; i < f->num_meta; i++)
		FUZZ_CHECK(st_writer_meta(w, f->meta_keys[i], f->meta_values[i]) == 0);
	FUZZ_CHECK(st_writer_finish(w, &buf, &len) == 0);
	if (st_parse(buf, len, &g, err, sizeof(err)) != 0)
	{
		fprintf(stderr, "rewritten file refused: %s\n", err);
		FUZZ_CHECK(!"the rewritten file parses");
	}
	FUZZ_CHECK(g.num_tensors == f->num_tensors);
	for (int i = 0; i < f->num_tensors; i++)
	{
		const StTensor *a = &f->tensors[i];
		const StTensor *b = st_find(&g, a->name);

		FUZZ_CHECK(b != NULL && b->dtype == ST_F32 && b->ndim == a->ndim);
		FUZZ_CHECK(memcmp(a->shape, b->shape, sizeof(int64_t) * (size_t) a->ndim) == 0);
		FUZZ_CHECK(b->nbytes == a->nbytes);
		FUZZ_CHECK(a->nbytes == 0 || memcmp(a->data, b->data, a->nbytes) == 0);
	}
	FUZZ_CHECK(g.num_meta == f->num_meta);
	for (int i = 0; i < f->num_meta; i++)
	{
		const char *v = st_meta(&g, f->meta_keys[i]);

		FUZZ_CHECK(v != NULL && strcmp(v, f->meta_values[i]) == 0);
	}
	st_free(&g);
	free(buf);
	for (int i = 0; i < f->num_tensors; i++)
		free(copies[i]);
	free(copies);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	StFile		f;
	char		err[256];
	bool		all_f32 = true;

	err[0] = '\0';
	if (st_parse(data, size, &f, err, sizeof(err)) != 0)
	{
		FUZZ_CHECK(err[0] != '\0');
		return 0;
	}
	for (int i = 0; i < f.num_tensors; i++)
	{
		const StTensor *t = &f.tensors[i];
		uint64_t	numel = 1;
		bool		overflow = false;
		float	   *dst;

		FUZZ_CHECK(t->name != NULL && st_find(&f, t->name) == t);
		FUZZ_CHECK(t->ndim >= 0 && t->ndim <= ST_MAX_DIMS);
		for (int d = 0; d < t->ndim; d++)
		{
			FUZZ_CHECK(t->shape[d] >= 0);
			overflow |= __builtin_mul_overflow(numel, (uint64_t) t->shape[d], &numel);
		}
		for (int d = 0; d < t->ndim; d++)
			if (t->shape[d] == 0)
				numel = 0, overflow = false;
		FUZZ_CHECK(!overflow && numel == (uint64_t) t->numel);
		FUZZ_CHECK(t->nbytes == (size_t) t->numel * dtype_size(t->dtype));
		FUZZ_CHECK(t->nbytes == 0 ||
				   (t->data >= data + 8 && t->data + t->nbytes <= data + size));
		dst = malloc((size_t) t->numel * sizeof(float) + 1);
		FUZZ_CHECK(dst != NULL);
		err[0] = '\0';
		if (st_tensor_to_f32(t, dst, err, sizeof(err)) != 0)
			FUZZ_CHECK(err[0] != '\0');
		free(dst);
		all_f32 = all_f32 && t->dtype == ST_F32;
	}
	for (int i = 0; i < f.num_meta; i++)
		FUZZ_CHECK(st_meta(&f, f.meta_keys[i]) == f.meta_values[i]);
	if (all_f32)
		check_rewrite(&f);
	st_free(&f);
	return 0;
}
