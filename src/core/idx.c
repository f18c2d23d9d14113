/*
 * idx.c - reading and checking IDX image and label files (idx.h).
 */
#include "idx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file_read.h"

#define IMAGES_HEADER 16
#define LABELS_HEADER 8

static uint32_t
read_be32(const uint8_t *p)
{
	return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) | ((uint32_t) p[2] << 8) | p[3];
}

/* Describes a magic number a user may have swapped: the other IDX file, or a gzip header. */
static const char *
magic_note(uint32_t magic)
{
	if (magic == MLP_IDX_IMAGES_MAGIC)
		return " (that is an image file)";
	if (magic == MLP_IDX_LABELS_MAGIC)
		return " (that is a label file)";
	if ((magic >> 16) == 0x1f8b)
		return " (gzip data inside gzip data?)";
	return "";
}

/* The header of one file: long enough, and the magic number of its kind. */
static MlpStatus
check_header(const uint8_t *file, size_t len, size_t header, uint32_t want, const char *kind,
			 const char *name, MlpError *err)
{
	uint32_t	magic;

	if (len < header)
		return mlp_error_set(err, MLP_ERR_DATA_CORRUPTED,
							 "%s: truncated IDX %s file (%zu bytes, the header alone is %zu)",
							 name, kind, len, header);
	magic = read_be32(file);
	if (magic != want)
		return mlp_error_set(err, MLP_ERR_DATA_CORRUPTED,
							 "%s: wrong magic number 0x%08x for an IDX %s file, expected 0x%08x%s",
							 name, magic, kind, want, magic_note(magic));
	return MLP_OK;
}

/* The length a header announces against the file's. */
static MlpStatus
check_length(size_t len, size_t want, const char *kind, const char *name, const char *what,
			 MlpError *err)
{
	if (len < want)
		return mlp_error_set(err, MLP_ERR_DATA_CORRUPTED,
							 "%s: truncated IDX %s file: the header announces %s (%zu bytes) but the file has %zu",
							 name, kind, what, want, len);
	if (len > want)
		return mlp_error_set(err, MLP_ERR_DATA_CORRUPTED,
							 "%s: trailing bytes: the header announces %s (%zu bytes) but the file has %zu",
							 name, what, want, len);
	return MLP_OK;
}

MlpStatus
mlp_idx_check(MlpIdxPair *p, const char *images_name, const char *labels_name, int max_side,
			  MlpError *err)
{
	MlpStatus	st;
	long long	nlabels;
	char		what[96];

	if ((st = check_header(p->image_file, p->image_len, IMAGES_HEADER, MLP_IDX_IMAGES_MAGIC,
						   "image", images_name, err)) != MLP_OK ||
		(st = check_header(p->label_file, p->label_len, LABELS_HEADER, MLP_IDX_LABELS_MAGIC,
						   "label", labels_name, err)) != MLP_OK)
		return st;
	p->count = read_be32(p->image_file + 4);
	p->rows = (int) read_be32(p->image_file + 8);
	p->cols = (int) read_be32(p->image_file + 12);
	nlabels = read_be32(p->label_file + 4);
	if (p->rows < 1 || p->cols < 1 || p->rows > max_side || p->cols > max_side)
		return mlp_error_set(err, MLP_ERR_DATA_CORRUPTED,
							 "%s: image size %dx%d is out of range (1 to %d)", images_name,
							 p->rows, p->cols, max_side);
	if (p->count != nlabels)
		return mlp_error_set(err, MLP_ERR_DATA_CORRUPTED,
							 "%s holds %lld images but %s holds %lld labels", images_name,
							 (long long) p->count, labels_name, nlabels);
	snprintf(what, sizeof(what), "%lld images of %dx%d", (long long) p->count, p->rows, p->cols);
	if ((st = check_length(p->image_len,
						   IMAGES_HEADER + (size_t) p->count * p->rows * p->cols, "image",
						   images_name, what, err)) != MLP_OK)
		return st;
	snprintf(what, sizeof(what), "%lld labels", nlabels);
	if ((st = check_length(p->label_len, LABELS_HEADER + (size_t) nlabels, "label",
						   labels_name, what, err)) != MLP_OK)
		return st;
	p->images = p->image_file + IMAGES_HEADER;
	p->labels = p->label_file + LABELS_HEADER;
	return MLP_OK;
}

MlpStatus
mlp_idx_read(const char *images_path, const char *labels_path, int max_side, MlpIdxPair *p,
			 MlpError *err)
{
	MlpStatus	st;

	memset(p, 0, sizeof(*p));
	if ((st = mlp_read_file(images_path, &p->image_file, &p->image_len, err)) != MLP_OK ||
		(st = mlp_read_file(labels_path, &p->label_file, &p->label_len, err)) != MLP_OK ||
		(st = mlp_idx_check(p, images_path, labels_path, max_side, err)) != MLP_OK)
		mlp_idx_free(p);
	return st;
}

void
mlp_idx_free(MlpIdxPair *p)
{
	free(p->image_file);
	free(p->label_file);
	memset(p, 0, sizeof(*p));
}
