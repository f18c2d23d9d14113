/*
 * subset.h - the class-balanced training subset of mlp_train's train_size.
 *
 * The paper subsamples its training sets per class; a run with train_size = K x per_class
 * trains on per_class images of each of the K classes.  Which ones depends only on the seed
 * and the images themselves, never on the order the rows come in: within each class the
 * per_class rows with the smallest subset key are kept, and the key is a 64-bit hash of
 * (seed, shape, pixel bytes).  The server exposes the same key to SQL (mlp_subset_key), so
 * that a user can rebuild the subset with row_number() OVER (PARTITION BY label ORDER BY
 * mlp_subset_key(image, seed)) <= per_class.  Keys compare as signed 64-bit integers, as
 * SQL's bigint does.
 *
 * Plain C, no PostgreSQL headers.
 */
#ifndef MLP_SUBSET_H
#define MLP_SUBSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

/* Classes listed one by one in mlp_subset_describe before it abbreviates. */
#define MLP_SUBSET_LISTED_CLASSES 20
/* Room that mlp_subset_describe never needs more than. */
#define MLP_SUBSET_DESCRIBE_LEN 2048

/*
 * The subset key of an image of shape (channels, height, width) with
 * channels * height * width bytes of pixels, under seed.  Equal images (same shape and
 * pixels) have equal keys; anything else collides with probability about 2^-64.
 */
int64_t		mlp_image_subset_key(int64_t seed, const uint8_t *pixels, int channels, int height,
						   int width);

/*
 * Keeps, of each class present in labels[0..n), the per_class rows with the smallest keys
 * (ties, which only equal images have, broken by position), moving them in place to the
 * front of images (image_bytes each, the shape given) and labels, in their original order;
 * *kept is then per_class x the number of classes.  classes > 0: exactly that many distinct
 * labels must be present (the number train_size was checked against); 0: any.
 * MLP_ERR_INVALID_ARGUMENT when a class has fewer than per_class rows, the number of classes
 * differs, a label is negative or per_class < 1; MLP_ERR_OUT_OF_MEMORY.  Nothing is moved
 * when it fails.
 */
MlpStatus	mlp_subset_take(uint8_t *images, int32_t *labels, int64_t n, int channels,
							int height, int width, int64_t seed, int64_t per_class,
							int classes, int64_t *kept, MlpError *err);

/*
 * "class 0 has 120 rows, class 1 has 80 rows" for the k classes labels[i] with counts[i]
 * (in label order) into buf (at most len bytes, always terminated).  Beyond
 * MLP_SUBSET_LISTED_CLASSES classes the first ones are listed, then how many more there are
 * and the smallest class: "..., class 19 has 95 rows and 80 more classes; the smallest,
 * class 57, has 3 rows".  k < 1 gives "".
 */
void		mlp_subset_describe(const int64_t *labels, const int64_t *counts, int k,
								char *buf, size_t len);

/*
 * The same subset taken from a stream (a source read in parts, larger than memory): a survey
 * of every row (mlp_subset_selector_add) keeps, of each class, the per_class smallest keys;
 * mlp_subset_selector_finish turns them into a threshold per class; then each read of the
 * source keeps, of each class, the rows under its threshold and, of the rows equal to it
 * (equal images), as many as the subset has.  The rows kept are those of mlp_subset_take,
 * in the order they are read.  Memory: 8 bytes per row of the subset.
 */
typedef struct MlpSubsetSelector
{
	int64_t		seed;
	int64_t		per_class;
	int			nlabels;		/* slots for the labels 0..nlabels-1 */
	int64_t   **heaps;			/* [nlabels] max-heap of the smallest keys; NULL: not seen */
	int64_t    *seen;			/* [nlabels] rows of the survey */
	int64_t    *threshold;		/* [nlabels] the per_class-th smallest key (after finish) */
	int64_t    *ties;			/* [nlabels] rows equal to the threshold that the subset has */
	int64_t    *ties_left;		/* [nlabels] of them, still to take in this read */
	int64_t    *taken;			/* [nlabels] rows kept in this read */
	int			classes;		/* present after finish */
	bool		finished;
} MlpSubsetSelector;

void		mlp_subset_selector_init(MlpSubsetSelector *s, int64_t seed, int64_t per_class);

/*
 * Surveys rows [0..n) (images of the shape given, labels >= 0).  MLP_ERR_INVALID_ARGUMENT
 * for a negative label or per_class < 1, MLP_ERR_OUT_OF_MEMORY.
 */
MlpStatus	mlp_subset_selector_add(MlpSubsetSelector *s, const uint8_t *images,
									const int32_t *labels, int64_t n, int channels,
									int height, int width, MlpError *err);

/* After the survey: the errors (and messages) of mlp_subset_take for the rows surveyed. */
MlpStatus	mlp_subset_selector_finish(MlpSubsetSelector *s, int classes, MlpError *err);

/* Before each read of the source: the ties and counts start again. */
void		mlp_subset_selector_rewind(MlpSubsetSelector *s);

/*
 * Keeps, of rows [0..n), those of the subset, moved in place to the front in their order;
 * returns how many.  A class never takes more than per_class rows in one read (rows added to
 * the source after the survey may take the place of rows deleted), and a label the survey did
 * not see is left out.
 */
int64_t		mlp_subset_selector_filter(MlpSubsetSelector *s, uint8_t *images, int32_t *labels,
									   int64_t n, int channels, int height, int width);

/* Bytes the selector holds for a subset of rows rows (its keys). */
size_t		mlp_subset_selector_memory(int64_t rows);

void		mlp_subset_selector_free(MlpSubsetSelector *s);

#endif
