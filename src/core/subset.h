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

#endif
