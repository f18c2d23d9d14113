/*
 * augment.h - image preprocessing and augmentation on uint8 planar (C, H, W) images.
 *
 * Training: random-resized crop (scale 0.08-1 of the area, aspect ratio 3/4-4/3 drawn
 * log-uniform, torchvision's 10 tries then a centre crop), area resampling back to the
 * training resolution, horizontal flip with p = 0.5, per-channel normalisation
 * (pixel/255 - mean) / std, then MixUp over the batch.  Evaluation: resize (area) and normalise.
 *
 * Area resampling: each output pixel is the mean of the source rectangle it covers, with
 * fractional weights at the edges (OpenCV's INTER_AREA, which the reference code's FFCV
 * pipeline uses); for upsampling by an integer factor this replicates pixels.
 */
#ifndef MLP_AUGMENT_H
#define MLP_AUGMENT_H

#include <stdbool.h>
#include <stdint.h>

#include "image_format.h"
#include "rng.h"

typedef struct MlpImageSpec
{
	int			channels;
	int			height;
	int			width;
} MlpImageSpec;

typedef struct MlpAugmentConfig
{
	MlpImageSpec in;			/* stored images */
	MlpImageSpec out;			/* model input (same channels) */
	bool		random_crop;
	bool		flip;
	double		scale_min, scale_max;	/* 0.08, 1.0 */
	double		ratio_min, ratio_max;	/* 3/4, 4/3 */
	float		mean[MLP_MAX_CHANNELS];	/* 0-1 scale */
	float		std[MLP_MAX_CHANNELS];
} MlpAugmentConfig;

/* Defaults: crop and flip on, the ranges above, mean 0 and std 1. */
void		mlp_augment_defaults(MlpAugmentConfig *cfg, MlpImageSpec in, MlpImageSpec out);

/* One training image: crop/flip as configured, resample, normalise into dst [C*oh*ow]. */
void		mlp_augment_image(const MlpAugmentConfig *cfg, const uint8_t *src, float *dst,
							  MlpRng *rng);

/*
 * The crop of torchvision's RandomResizedCrop.get_params for cfg->in with cfg's scale and ratio
 * ranges: top row, left column, height and width in pixels.  mlp_augment_image draws it first.
 */
void		mlp_random_crop_params(const MlpAugmentConfig *cfg, MlpRng *rng,
								   int *top, int *left, int *height, int *width);

/* No randomness: area-resize to cfg->out and normalise (evaluation and scoring). */
void		mlp_preprocess_image(const MlpAugmentConfig *cfg, const uint8_t *src, float *dst);

/* x[i] <- lam * x[i] + (1 - lam) * x[i-1], cyclic (x[-1] is x[B-1]), in place; x [B, D]. */
void		mlp_mixup_batch(float *x, int B, int64_t D, float lam);

/*
 * Area-resample the rectangle (y0, x0, ch, cw) of a planar uint8 image of size sh x sw into a
 * float planar image dh x dw (values 0-255, not normalised), optionally flipped horizontally.
 */
void		mlp_resample_area(const uint8_t *src, int channels, int sh, int sw,
							  double y0, double x0, double ch, double cw,
							  float *dst, int dh, int dw, bool flip);

/* Area-resize a whole uint8 image to uint8 (rounded), for image_resize(). */
void		mlp_resize_area_u8(const uint8_t *src, int channels, int sh, int sw,
							   uint8_t *dst, int dh, int dw);

/*
 * Tests only: the allocator of the resampling tables (NULL: malloc).  When it fails, the
 * result is the same, computed without the tables.
 */
void		mlp_augment_test_set_alloc(void *(*alloc) (size_t));

/*
 * Per-channel mean and std (0-1 scale) of n images; std falls back to 1 when zero.
 */
void		mlp_channel_stats(const uint8_t *images, int64_t n, MlpImageSpec spec,
							  float *mean, float *std);

/*
 * The same statistics in parts, for a source read in chunks: a histogram per channel is
 * exact, so the result does not depend on how the images were split (it is bit for bit
 * mlp_channel_stats of all of them).
 */
typedef struct MlpChannelHist
{
	uint64_t	hist[MLP_MAX_CHANNELS][256];
	int64_t		n;				/* images added */
} MlpChannelHist;

void		mlp_channel_hist_add(MlpChannelHist *h, const uint8_t *images, int64_t n,
								 MlpImageSpec spec);
void		mlp_channel_hist_stats(const MlpChannelHist *h, MlpImageSpec spec, float *mean,
								   float *std);

#endif
