/*
 * idx_source.c - IDX files (MNIST, Fashion-MNIST): an image file of magic 0x00000803
 * (uint8, dimensions count x rows x columns) and a label file of magic 0x00000801 (uint8,
 * count).  Both are read whole (gzip or raw) and checked before a single row is sent.
 */
#include "loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IDX_IMAGES_MAGIC 0x00000803u
#define IDX_LABELS_MAGIC 0x00000801u

typedef struct IdxState
{
	uint8_t    *images;
	size_t		images_len;
	uint8_t    *labels;
	size_t		labels_len;
	long long	count;
	int			rows;
	int			cols;
	long long	next;
	const char *images_path;
} IdxState;

static uint32_t
read_be32(const uint8_t *p)
{
	return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) | ((uint32_t) p[2] << 8) | p[3];
}

static int
idx_next(LoadSource *src, LoadSample *out, char *err, size_t errlen)
{
	IdxState   *st = src->state;
	size_t		pixels = (size_t) st->rows * st->cols;

	(void) err;
	(void) errlen;
	if (st->next >= st->count)
		return 0;
	out->channels = 1;
	out->height = st->rows;
	out->width = st->cols;
	out->pixels = st->images + 16 + (size_t) st->next * pixels;
	out->label = st->labels[8 + st->next];
	st->next++;
	return 1;
}

static void
idx_close(LoadSource *src)
{
	IdxState   *st = src->state;

	free(st->images);
	free(st->labels);
	free(st);
	free(src);
}

/* Describes a magic number a user may have swapped: the other IDX file, or a gzip header. */
static const char *
idx_magic_hint(uint32_t magic)
{
	if (magic == IDX_IMAGES_MAGIC)
		return " (that is an image file)";
	if (magic == IDX_LABELS_MAGIC)
		return " (that is a label file)";
	if ((magic >> 16) == 0x1f8b)
		return " (gzip data inside gzip data?)";
	return "";
}

LoadSource *
idx_source_open(const char *images_path, const char *labels_path, char *err, size_t errlen)
{
	IdxState   *st = calloc(1, sizeof(IdxState));
	LoadSource *src = calloc(1, sizeof(LoadSource));
	uint32_t	magic;
	long long	nlabels;
	size_t		want;

	if (!st || !src)
	{
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	st->images_path = images_path;
	if (load_read_file(images_path, &st->images, &st->images_len, err, errlen) != 0)
		goto fail;
	if (load_read_file(labels_path, &st->labels, &st->labels_len, err, errlen) != 0)
		goto fail;

	if (st->images_len < 16)
	{
		snprintf(err, errlen, "%s: truncated IDX image file (%zu bytes, the header alone is 16)",
				 images_path, st->images_len);
		goto fail;
	}
	magic = read_be32(st->images);
	if (magic != IDX_IMAGES_MAGIC)
	{
		snprintf(err, errlen, "%s: wrong magic number 0x%08x for an IDX image file, expected "
				 "0x%08x%s", images_path, magic, IDX_IMAGES_MAGIC, idx_magic_hint(magic));
		goto fail;
	}
	if (st->labels_len < 8)
	{
		snprintf(err, errlen, "%s: truncated IDX label file (%zu bytes, the header alone is 8)",
				 labels_path, st->labels_len);
		goto fail;
	}
	magic = read_be32(st->labels);
	if (magic != IDX_LABELS_MAGIC)
	{
		snprintf(err, errlen, "%s: wrong magic number 0x%08x for an IDX label file, expected "
				 "0x%08x%s", labels_path, magic, IDX_LABELS_MAGIC, idx_magic_hint(magic));
		goto fail;
	}

	st->count = read_be32(st->images + 4);
	st->rows = (int) read_be32(st->images + 8);
	st->cols = (int) read_be32(st->images + 12);
	nlabels = read_be32(st->labels + 4);
	if (st->rows < 1 || st->cols < 1 || st->rows > LOAD_MAX_SIDE || st->cols > LOAD_MAX_SIDE)
	{
		snprintf(err, errlen, "%s: image size %dx%d is out of range (1 to %d)", images_path,
				 st->rows, st->cols, LOAD_MAX_SIDE);
		goto fail;
	}
	if (st->count != nlabels)
	{
		snprintf(err, errlen, "%s holds %lld images but %s holds %lld labels", images_path,
				 st->count, labels_path, nlabels);
		goto fail;
	}
	want = 16 + (size_t) st->count * st->rows * st->cols;
	if (st->images_len != want)
	{
		snprintf(err, errlen, "%s: %s: the header announces %lld images of %dx%d (%zu bytes) "
				 "but the file has %zu", images_path,
				 st->images_len < want ? "truncated IDX image file" : "trailing bytes",
				 st->count, st->rows, st->cols, want, st->images_len);
		goto fail;
	}
	if (st->labels_len != 8 + (size_t) nlabels)
	{
		snprintf(err, errlen, "%s: %s: the header announces %lld labels (%lld bytes) but the "
				 "file has %zu", labels_path,
				 st->labels_len < 8 + (size_t) nlabels ? "truncated IDX label file" :
				 "trailing bytes", nlabels, 8 + nlabels, st->labels_len);
		goto fail;
	}

	src->format = "idx";
	src->total = st->count;
	src->nclasses = 0;
	src->next = idx_next;
	src->close = idx_close;
	src->state = st;
	return src;

fail:
	if (st)
	{
		free(st->images);
		free(st->labels);
	}
	free(st);
	free(src);
	return NULL;
}
