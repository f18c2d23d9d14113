/*
 * idx.h - IDX files (MNIST, Fashion-MNIST): an image file of magic 0x00000803 (uint8,
 * dimensions count x rows x columns) and a label file of magic 0x00000801 (uint8, count),
 * gzip-compressed or raw.
 *
 * Both files are read whole and checked together (magic numbers, sizes, counts, lengths)
 * before anything is used, by mlpscale-load and by the benchmark alike.
 */
#ifndef MLP_IDX_H
#define MLP_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define MLP_IDX_IMAGES_MAGIC 0x00000803u
#define MLP_IDX_LABELS_MAGIC 0x00000801u

typedef struct MlpIdxPair
{
	uint8_t    *image_file;		/* the whole files, malloc'd */
	size_t		image_len;
	uint8_t    *label_file;
	size_t		label_len;
	int64_t		count;			/* filled in by the check */
	int			rows;
	int			cols;
	const uint8_t *images;		/* count images of rows x cols bytes, inside image_file */
	const uint8_t *labels;		/* count labels, inside label_file */
} MlpIdxPair;

/*
 * Checks the two files in p->image_file and p->label_file and fills in the rest; the
 * messages name the files by the given names.  Image sides are 1 to max_side.  A pair that
 * is not a valid IDX pair is MLP_ERR_DATA_CORRUPTED.
 */
MlpStatus	mlp_idx_check(MlpIdxPair *p, const char *images_name, const char *labels_name,
						  int max_side, MlpError *err);

/* Reads both files whole (file_read.h) and checks them; on failure *p holds nothing. */
MlpStatus	mlp_idx_read(const char *images_path, const char *labels_path, int max_side,
						 MlpIdxPair *p, MlpError *err);

void		mlp_idx_free(MlpIdxPair *p);

#endif
