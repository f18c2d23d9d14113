/*
 * idx_source.c - IDX files (MNIST, Fashion-MNIST) as a source: the pair is read and checked
 * whole by the core's IDX reader (src/core/idx.h) before a single row is sent.
 */
#include "loader.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/idx.h"

typedef struct IdxState
{
	MlpIdxPair	pair;
	long long	next;
} IdxState;

static int
idx_next(LoadSource *src, LoadSample *out, char *err, size_t errlen)
{
	IdxState   *st = src->state;
	size_t		pixels = (size_t) st->pair.rows * st->pair.cols;

	(void) err;
	(void) errlen;
	if (st->next >= st->pair.count)
		return 0;
	out->channels = 1;
	out->height = st->pair.rows;
	out->width = st->pair.cols;
	out->pixels = st->pair.images + (size_t) st->next * pixels;
	out->label = st->pair.labels[st->next];
	st->next++;
	return 1;
}

static void
idx_close(LoadSource *src)
{
	IdxState   *st = src->state;

	mlp_idx_free(&st->pair);
	free(st);
	free(src);
}

LoadSource *
idx_source_open(const char *images_path, const char *labels_path, char *err, size_t errlen)
{
	IdxState   *st = calloc(1, sizeof(IdxState));
	LoadSource *src = calloc(1, sizeof(LoadSource));
	MlpError	e;

	if (!st || !src)
		snprintf(err, errlen, "out of memory");
	else if (mlp_idx_read(images_path, labels_path, LOAD_MAX_SIDE, &st->pair, &e) != MLP_OK)
		snprintf(err, errlen, "%s", e.message);
	else
	{
		*src = (LoadSource) {
			.format = "idx", .total = st->pair.count, .next = idx_next, .close = idx_close,
			.state = st
		};
		return src;
	}
	free(st);
	free(src);
	return NULL;
}
