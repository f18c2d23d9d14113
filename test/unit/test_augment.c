/* test_augment.c - resampling, crop parameters, flip, normalisation, MixUp, channel stats */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "augment.h"
#include "tap.h"

static void
fill_random(uint8_t *p, size_t n, uint64_t seed)
{
	MlpRng		r;

	mlp_rng_seed(&r, seed, 0);
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t) mlp_rng_below(&r, 256);
}

/* Reference area resampling in double: every source pixel weighted by its overlap with the
 * output pixel's footprint, no tables, no separability. */
static double
overlap(double a, double b, int k)
{
	double		lo = a > k ? a : k,
				hi = b < k + 1 ? b : k + 1;

	return hi > lo ? hi - lo : 0.0;
}

static void
reference_resample(const uint8_t *src, int C, int sh, int sw, double y0, double x0, double ch,
				   double cw, double *dst, int dh, int dw)
{
	double		sy = ch / dh,
				sx = cw / dw;

	for (int c = 0; c < C; c++)
		for (int oy = 0; oy < dh; oy++)
			for (int ox = 0; ox < dw; ox++)
			{
				double		acc = 0,
							wsum = 0;

				for (int y = 0; y < sh; y++)
				{
					double		wy = overlap(y0 + oy * sy, y0 + (oy + 1) * sy, y);

					if (wy == 0)
						continue;
					for (int x = 0; x < sw; x++)
					{
						double		w = wy * overlap(x0 + ox * sx, x0 + (ox + 1) * sx, x);

						acc += w * src[(c * sh + y) * sw + x];
						wsum += w;
					}
				}
				dst[(c * dh + oy) * dw + ox] = acc / wsum;
			}
}

static void
test_against_reference(void)
{
	enum
	{
	C = 2, SH = 19, SW = 23};
	static uint8_t src[C * SH * SW];
	static float got[C * 40 * 40];
	static double want[C * 40 * 40];
	MlpRng		r;
	double		maxerr = 0;
	int			up = 0,
				down = 0;

	fill_random(src, sizeof(src), 8);
	mlp_rng_seed(&r, 8, 1);
	for (int t = 0; t < 200; t++)
	{
		int			ch = 1 + (int) mlp_rng_below(&r, SH),
					cw = 1 + (int) mlp_rng_below(&r, SW),
					y0 = (int) mlp_rng_below(&r, SH - ch + 1),
					x0 = (int) mlp_rng_below(&r, SW - cw + 1),
					dh = 1 + (int) mlp_rng_below(&r, 40),
					dw = 1 + (int) mlp_rng_below(&r, 40);

		mlp_resample_area(src, C, SH, SW, y0, x0, ch, cw, got, dh, dw, false);
		reference_resample(src, C, SH, SW, y0, x0, ch, cw, want, dh, dw);
		for (int i = 0; i < C * dh * dw; i++)
			maxerr = fmax(maxerr, fabs(got[i] - want[i]));
		up += dh > ch;
		down += dh < ch;
	}
	ok(maxerr < 1e-3, "200 random crops and sizes (%d up, %d down) match the reference "
	   "(max err %g)", up, down, maxerr);

	/* 2 -> 3: the middle output straddles both source pixels, as OpenCV's INTER_AREA does */
	uint8_t		row[2] = {40, 100};
	float		out[3];

	mlp_resample_area(row, 1, 1, 2, 0, 0, 1, 2, out, 1, 3, false);
	ok(fabsf(out[0] - 40) < 1e-4f && fabsf(out[1] - 70) < 1e-4f && fabsf(out[2] - 100) < 1e-4f,
	   "2->3 upscale gives 40, 70, 100 (got %g, %g, %g)", out[0], out[1], out[2]);
}

static void
test_constant_resize(void)
{
	static uint8_t src[3 * 37 * 23];
	static float dst[3 * 40 * 40];
	int			sizes[][2] = {{10, 7}, {37, 23}, {40, 40}, {1, 1}, {13, 29}};

	for (int c = 0; c < 3; c++)
		memset(src + c * 37 * 23, 50 + 70 * c, 37 * 23);
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
	{
		int			dh = sizes[s][0],
					dw = sizes[s][1];
		double		maxerr = 0;

		mlp_resample_area(src, 3, 37, 23, 0, 0, 37, 23, dst, dh, dw, false);
		for (int c = 0; c < 3; c++)
			for (int i = 0; i < dh * dw; i++)
				maxerr = fmax(maxerr, fabs(dst[c * dh * dw + i] - (50 + 70 * c)));
		ok(maxerr < 1e-3, "constant 37x23 image resized to %dx%d stays constant (max err %g)",
		   dh, dw, maxerr);
	}

	/* a crop that starts inside the image */
	mlp_resample_area(src, 3, 37, 23, 5, 3, 20, 11, dst, 7, 9, true);
	double		maxerr = 0;

	for (int c = 0; c < 3; c++)
		for (int i = 0; i < 63; i++)
			maxerr = fmax(maxerr, fabs(dst[c * 63 + i] - (50 + 70 * c)));
	ok(maxerr < 1e-3, "constant crop stays constant (max err %g)", maxerr);
}

static void
test_exact_cases(void)
{
	enum
	{
	C = 3, H = 8, W = 6};
	uint8_t		src[C * H * W];
	float		dst[C * H * W * 4];
	int			good;

	fill_random(src, sizeof(src), 1);

	/* 2x downscale is the mean of each 2x2 block */
	mlp_resample_area(src, C, H, W, 0, 0, H, W, dst, H / 2, W / 2, false);
	good = 1;
	for (int c = 0; c < C; c++)
		for (int y = 0; y < H / 2; y++)
			for (int x = 0; x < W / 2; x++)
			{
				const uint8_t *p = src + c * H * W;
				float		want = (p[(2 * y) * W + 2 * x] + p[(2 * y) * W + 2 * x + 1] +
									p[(2 * y + 1) * W + 2 * x] + p[(2 * y + 1) * W + 2 * x + 1]) / 4.0f;

				if (fabsf(dst[c * (H / 2) * (W / 2) + y * (W / 2) + x] - want) > 1e-4f)
					good = 0;
			}
	ok(good, "2x downscale equals the 2x2 mean");

	/* identity is exact */
	mlp_resample_area(src, C, H, W, 0, 0, H, W, dst, H, W, false);
	good = 1;
	for (int i = 0; i < C * H * W; i++)
		good &= dst[i] == (float) src[i];
	ok(good, "identity resample is exact");

	/* flip mirrors each row */
	mlp_resample_area(src, C, H, W, 0, 0, H, W, dst, H, W, true);
	good = 1;
	for (int c = 0; c < C; c++)
		for (int y = 0; y < H; y++)
			for (int x = 0; x < W; x++)
				good &= dst[(c * H + y) * W + x] == (float) src[(c * H + y) * W + (W - 1 - x)];
	ok(good, "flipped identity resample mirrors rows");

	/* 2x upscale replicates pixels */
	mlp_resample_area(src, C, H, W, 0, 0, H, W, dst, 2 * H, 2 * W, false);
	good = 1;
	for (int c = 0; c < C; c++)
		for (int y = 0; y < 2 * H; y++)
			for (int x = 0; x < 2 * W; x++)
				good &= dst[(c * 2 * H + y) * 2 * W + x] == (float) src[(c * H + y / 2) * W + x / 2];
	ok(good, "2x upscale replicates pixels");

	/* 3 -> 2 along a row: fractional edge weights (p0 + p1/2)/1.5 and (p1/2 + p2)/1.5 */
	uint8_t		row[3] = {30, 60, 120};
	float		out[2];

	mlp_resample_area(row, 1, 1, 3, 0, 0, 1, 3, out, 1, 2, false);
	is_close(out[0], (30 + 30) / 1.5, 1e-6, 1e-4, "3->2 first output uses weights 1, 1/2");
	is_close(out[1], (30 + 120) / 1.5, 1e-6, 1e-4, "3->2 second output uses weights 1/2, 1");

	/* a crop at an offset: the 2x2 block at (2, 2) downscaled to one pixel */
	float		one;

	mlp_resample_area(src, 1, H, W, 2, 2, 2, 2, &one, 1, 1, false);
	is_close(one, (src[2 * W + 2] + src[2 * W + 3] + src[3 * W + 2] + src[3 * W + 3]) / 4.0,
			 1e-6, 1e-4, "offset crop averages its own block");

	/* u8 resize: rounded mean, identity copy */
	uint8_t		u8[C * H * W];

	mlp_resize_area_u8(src, C, H, W, u8, H / 2, W / 2);
	good = 1;
	for (int c = 0; c < C; c++)
		for (int y = 0; y < H / 2; y++)
			for (int x = 0; x < W / 2; x++)
			{
				const uint8_t *p = src + c * H * W;
				int			sum = p[(2 * y) * W + 2 * x] + p[(2 * y) * W + 2 * x + 1] +
					p[(2 * y + 1) * W + 2 * x] + p[(2 * y + 1) * W + 2 * x + 1];
				int			got = u8[c * (H / 2) * (W / 2) + y * (W / 2) + x];

				/* round half up of sum/4, allowing float noise at exact halves */
				good &= abs(got * 4 - sum) <= 2;
			}
	ok(good, "u8 2x downscale is the rounded 2x2 mean");
	mlp_resize_area_u8(src, C, H, W, u8, H, W);
	ok(memcmp(u8, src, sizeof(src)) == 0, "u8 identity resize is a copy");

	/* large downscale through the heap path: 600x500 constant-per-channel -> 7x5 */
	size_t		big_n = 2 * 600 * 500;
	uint8_t    *big = malloc(big_n);
	float		small[2 * 35];

	memset(big, 17, 600 * 500);
	memset(big + 600 * 500, 230, 600 * 500);
	mlp_resample_area(big, 2, 600, 500, 0, 0, 600, 500, small, 7, 5, false);
	good = 1;
	for (int i = 0; i < 35; i++)
		good &= fabsf(small[i] - 17) < 1e-3f && fabsf(small[35 + i] - 230) < 1e-3f;
	ok(good, "large downscale (heap tables) keeps constants");
	free(big);
}

static void
test_normalisation(void)
{
	enum
	{
	C = 3, H = 32, W = 32};
	static uint8_t src[C * H * W];
	static float fast[C * H * W],
				ref[C * H * W];
	MlpAugmentConfig cfg;
	MlpImageSpec spec = {C, H, W};
	const float mean[3] = {0.4914f, 0.4822f, 0.4465f};
	const float std[3] = {0.2470f, 0.2435f, 0.2616f};
	double		maxerr = 0;

	fill_random(src, sizeof(src), 2);
	mlp_augment_defaults(&cfg, spec, spec);
	ok(cfg.random_crop && cfg.flip && cfg.scale_min == 0.08 && cfg.scale_max == 1.0 &&
	   fabs(cfg.ratio_min - 0.75) < 1e-12 && fabs(cfg.ratio_max - 4.0 / 3) < 1e-12 &&
	   cfg.mean[0] == 0 && cfg.std[2] == 1, "defaults");
	memcpy(cfg.mean, mean, sizeof(mean));
	memcpy(cfg.std, std, sizeof(std));

	mlp_preprocess_image(&cfg, src, fast);
	for (int c = 0; c < C; c++)
		for (int i = 0; i < H * W; i++)
		{
			double		want = (src[c * H * W + i] / 255.0 - mean[c]) / std[c];

			maxerr = fmax(maxerr, fabs(fast[c * H * W + i] - want));
		}
	ok(maxerr < 1e-5, "preprocess normalises (pixel/255 - mean)/std (max err %g)", maxerr);

	/* the fast path agrees with the general resampling path */
	mlp_resample_area(src, C, H, W, 0, 0, H, W, ref, H, W, false);
	maxerr = 0;
	for (int c = 0; c < C; c++)
		for (int i = 0; i < H * W; i++)
			maxerr = fmax(maxerr, fabs(fast[c * H * W + i] - (ref[c * H * W + i] / 255.0 - mean[c]) / std[c]));
	ok(maxerr < 1e-5, "fast path equals resample + normalise (max err %g)", maxerr);

	/* evaluation resize 32 -> 16 then normalise */
	MlpImageSpec half = {C, 16, 16};
	float		small[C * 16 * 16],
				small_ref[C * 16 * 16];

	mlp_augment_defaults(&cfg, spec, half);
	memcpy(cfg.mean, mean, sizeof(mean));
	memcpy(cfg.std, std, sizeof(std));
	mlp_preprocess_image(&cfg, src, small);
	mlp_resample_area(src, C, H, W, 0, 0, H, W, small_ref, 16, 16, false);
	maxerr = 0;
	for (int c = 0; c < C; c++)
		for (int i = 0; i < 256; i++)
			maxerr = fmax(maxerr, fabs(small[c * 256 + i] - (small_ref[c * 256 + i] / 255.0 - mean[c]) / std[c]));
	ok(maxerr < 1e-5, "preprocess with resize normalises the resampled image (max err %g)", maxerr);
}

static void
test_augment_flip_and_determinism(void)
{
	enum
	{
	C = 3, H = 32, W = 32};
	static uint8_t src[C * H * W];
	static float a[C * H * W],
				b[C * H * W];
	MlpAugmentConfig cfg;
	MlpImageSpec spec = {C, H, W};
	MlpRng		r1,
				r2;
	int			flips = 0,
				plain = 0,
				other = 0;

	fill_random(src, sizeof(src), 3);
	mlp_augment_defaults(&cfg, spec, spec);
	cfg.random_crop = false;
	mlp_rng_seed(&r1, 5, 0);
	for (int t = 0; t < 400; t++)
	{
		int			is_plain = 1,
					is_flip = 1;

		mlp_augment_image(&cfg, src, a, &r1);
		for (int c = 0; c < C; c++)
			for (int y = 0; y < H; y++)
				for (int x = 0; x < W; x++)
				{
					float		v = a[(c * H + y) * W + x];

					is_plain &= fabsf(v - src[(c * H + y) * W + x] / 255.0f) < 1e-6f;
					is_flip &= fabsf(v - src[(c * H + y) * W + (W - 1 - x)] / 255.0f) < 1e-6f;
				}
		plain += is_plain;
		flips += is_flip;
		other += !is_plain && !is_flip;
	}
	ok(other == 0, "without crop every image is the original or its mirror");
	ok(flips > 150 && plain > 150, "flip p = 0.5 (%d flipped, %d not of 400)", flips, plain);

	cfg.random_crop = true;
	mlp_rng_seed(&r1, 9, 1);
	mlp_rng_seed(&r2, 9, 1);
	mlp_augment_image(&cfg, src, a, &r1);
	mlp_augment_image(&cfg, src, b, &r2);
	ok(memcmp(a, b, sizeof(a)) == 0, "same rng state gives the same augmented image");
	int			in_range = 1;

	for (int i = 0; i < C * H * W; i++)
		in_range &= a[i] >= 0.0f && a[i] <= 1.0f;
	ok(in_range, "augmented values lie in the pixel range");
}

static void
test_crop_params(void)
{
	MlpAugmentConfig cfg;
	MlpImageSpec in = {3, 32, 32};
	MlpRng		r;
	int			inside = 1,
				area_ok = 1,
				ratio_ok = 1;
	double		min_area = 1,
				max_area = 0,
				min_ratio = 10,
				max_ratio = 0;
	int			tops[32] = {0};

	mlp_augment_defaults(&cfg, in, in);
	mlp_rng_seed(&r, 21, 0);
	for (int t = 0; t < 20000; t++)
	{
		int			top,
					left,
					h,
					w;

		mlp_random_crop_params(&cfg, &r, &top, &left, &h, &w);
		inside &= top >= 0 && left >= 0 && h >= 1 && w >= 1 && top + h <= 32 && left + w <= 32;
		double		frac = (double) h * w / (32.0 * 32.0);
		double		ratio = (double) w / h;

		/* rounding w and h to integers moves the area and ratio by at most a pixel's worth */
		area_ok &= frac >= 0.08 * 0.75 && frac <= 1.0;
		ratio_ok &= ratio >= 0.75 * 0.8 && ratio <= 4.0 / 3 * 1.25;
		min_area = fmin(min_area, frac);
		max_area = fmax(max_area, frac);
		min_ratio = fmin(min_ratio, ratio);
		max_ratio = fmax(max_ratio, ratio);
		if (top < 32)
			tops[top]++;
	}
	ok(inside, "crops lie inside the image");
	ok(area_ok, "crop area fraction within [0.08, 1] up to rounding (%.3f .. %.3f)",
	   min_area, max_area);
	ok(ratio_ok, "crop aspect ratio within [3/4, 4/3] up to rounding (%.3f .. %.3f)",
	   min_ratio, max_ratio);
	ok(min_area < 0.1 && max_area > 0.9, "crop areas span the range");
	ok(tops[0] > 0 && tops[20] > 0, "crop positions vary");

	/* a large image, where rounding is negligible: the ranges hold tightly */
	MlpImageSpec big = {3, 1000, 1000};

	mlp_augment_defaults(&cfg, big, in);
	area_ok = ratio_ok = 1;
	for (int t = 0; t < 5000; t++)
	{
		int			top,
					left,
					h,
					w;

		mlp_random_crop_params(&cfg, &r, &top, &left, &h, &w);
		double		frac = (double) h * w / 1e6;
		double		ratio = (double) w / h;

		area_ok &= frac >= 0.08 * 0.99 && frac <= 1.0;
		ratio_ok &= ratio >= 0.75 * 0.99 && ratio <= 4.0 / 3 * 1.01;
	}
	ok(area_ok && ratio_ok, "1000x1000: area and ratio in range to 1%%");

	/* impossible scale: the centre-crop fallback, with the ratio clamped */
	MlpImageSpec tall = {1, 100, 20};
	int			top,
				left,
				h,
				w;

	mlp_augment_defaults(&cfg, tall, tall);
	cfg.scale_min = 2.0;
	cfg.scale_max = 3.0;
	mlp_random_crop_params(&cfg, &r, &top, &left, &h, &w);
	ok(top == 36 && left == 0 && h == 27 && w == 20,
	   "fallback on a tall image: centre crop 27x20 at (36, 0) (got %dx%d at (%d, %d))",
	   h, w, top, left);
	MlpImageSpec square = {1, 30, 30};

	mlp_augment_defaults(&cfg, square, square);
	cfg.scale_min = 2.0;
	cfg.scale_max = 3.0;
	mlp_random_crop_params(&cfg, &r, &top, &left, &h, &w);
	ok(top == 0 && left == 0 && h == 30 && w == 30, "fallback on a square image: whole image");
}

static void
test_mixup(void)
{
	enum
	{
	B = 5, D = 1300};				/* D spans several internal column blocks */
	static float x[B * D],
				orig[B * D];
	MlpRng		r;
	float		lam = 0.3f;
	double		maxerr = 0;

	mlp_rng_seed(&r, 4, 0);
	for (int i = 0; i < B * D; i++)
		x[i] = orig[i] = (float) mlp_rng_normal(&r);
	mlp_mixup_batch(x, B, D, lam);
	for (int i = 0; i < B; i++)
		for (int d = 0; d < D; d++)
		{
			int			prev = (i + B - 1) % B;
			float		want = lam * orig[i * D + d] + (1 - lam) * orig[prev * D + d];

			maxerr = fmax(maxerr, fabs(x[i * D + d] - want));
		}
	ok(maxerr < 1e-6, "mixup x[i] = lam x[i] + (1-lam) x[i-1] (max err %g)", maxerr);
	ok(fabsf(x[3] - (lam * orig[3] + (1 - lam) * orig[(B - 1) * D + 3])) < 1e-6f,
	   "mixup row 0 uses the original last row");

	float		y[2] = {1.0f, 5.0f};

	mlp_mixup_batch(y, 2, 1, 0.25f);
	ok(y[0] == 0.25f * 1 + 0.75f * 5 && y[1] == 0.25f * 5 + 0.75f * 1, "mixup of two rows swaps partners");
	mlp_mixup_batch(y, 2, 1, 1.0f);
	ok(y[0] == 4.0f && y[1] == 2.0f, "lam = 1 leaves the batch unchanged");
}

static void
test_channel_stats(void)
{
	enum
	{
	N = 4, C = 3, H = 4, W = 4};
	uint8_t		imgs[N * C * H * W];
	float		mean[3],
				std[3];
	MlpImageSpec spec = {C, H, W};

	for (int n = 0; n < N; n++)
	{
		uint8_t    *p = imgs + n * C * H * W;

		memset(p, 51, H * W);	/* channel 0: constant 0.2 */
		for (int i = 0; i < H * W; i++)
		{
			p[H * W + i] = (i % 2) ? 255 : 0;	/* channel 1: half 0, half 1 */
			p[2 * H * W + i] = (uint8_t) (n * 60);	/* channel 2: 0, 60, 120, 180 by image */
		}
	}
	mlp_channel_stats(imgs, N, spec, mean, std);
	is_close(mean[0], 0.2, 1e-6, 1e-7, "constant channel mean");
	is_close(std[0], 1.0, 0, 0, "constant channel std falls back to 1");
	is_close(mean[1], 0.5, 1e-6, 1e-7, "half-black half-white mean");
	is_close(std[1], 0.5, 1e-6, 1e-7, "half-black half-white std");
	is_close(mean[2], 90.0 / 255, 1e-6, 1e-7, "per-image channel mean");
	is_close(std[2], sqrt(4500.0) / 255, 1e-5, 1e-7, "per-image channel std");
}

/* ---- resampling without memory for its tables ---------------------------------------- */

static int	failed_allocs;

static void *
failing_alloc(size_t n)
{
	(void) n;
	failed_allocs++;
	return NULL;
}

/*
 * Every shape here needs more than the stack buffer, so resample allocates its tables; with
 * an allocator that fails it must give the same bytes without them.
 */
static void
test_without_memory(void)
{
	static const struct
	{
		int			C, sh, sw;
		double		y0, x0, ch, cw;
		int			dh, dw;
		bool		flip;
		const char *what;
	}			cases[] = {
		{3, 200, 150, 0, 0, 200, 150, 37, 53, false, "downscale by non-integer factors"},
		{1, 50, 40, 0, 0, 50, 40, 123, 97, false, "upscale by non-integer factors"},
		{2, 64, 64, 0, 0, 64, 64, 128, 192, false, "upscale by 2 and 3"},
		{3, 120, 90, 3.3, 1.7, 101.5, 77.2, 64, 64, true, "a fractional crop, flipped"},
		{1, 900, 7, 10.25, 0, 850.5, 7, 300, 5, true, "a tall strip"},
		{4, 160, 160, 150, 150, 20, 20, 64, 64, false, "a crop reaching past the image"},
	};
	int			ncases = (int) (sizeof(cases) / sizeof(cases[0]));

	for (int i = 0; i < ncases; i++)
	{
		size_t		nsrc = (size_t) cases[i].C * cases[i].sh * cases[i].sw;
		size_t		ndst = (size_t) cases[i].C * cases[i].dh * cases[i].dw;
		uint8_t    *src = malloc(nsrc);
		float	   *with = malloc(ndst * sizeof(float));
		float	   *without = malloc(ndst * sizeof(float));
		uint8_t    *u8_with = malloc(ndst);
		uint8_t    *u8_without = malloc(ndst);
		int			before;

		fill_random(src, nsrc, 40 + i);
		mlp_resample_area(src, cases[i].C, cases[i].sh, cases[i].sw, cases[i].y0, cases[i].x0,
						  cases[i].ch, cases[i].cw, with, cases[i].dh, cases[i].dw,
						  cases[i].flip);
		mlp_resize_area_u8(src, cases[i].C, cases[i].sh, cases[i].sw, u8_with, cases[i].dh,
						   cases[i].dw);
		mlp_augment_test_set_alloc(failing_alloc);
		before = failed_allocs;
		mlp_resample_area(src, cases[i].C, cases[i].sh, cases[i].sw, cases[i].y0, cases[i].x0,
						  cases[i].ch, cases[i].cw, without, cases[i].dh, cases[i].dw,
						  cases[i].flip);
		mlp_resize_area_u8(src, cases[i].C, cases[i].sh, cases[i].sw, u8_without, cases[i].dh,
						   cases[i].dw);
		mlp_augment_test_set_alloc(NULL);
		is_int(failed_allocs - before, 2, cases[i].what);
		ok(memcmp(with, without, ndst * sizeof(float)) == 0,
		   "... bit-identical floats without the tables");
		ok(memcmp(u8_with, u8_without, ndst) == 0, "... and the same bytes of a resize");
		free(src);
		free(with);
		free(without);
		free(u8_with);
		free(u8_without);
	}

	/* The normalising path (an augmented image) without memory: the same floats too. */
	{
		MlpAugmentConfig cfg;
		MlpImageSpec in = {3, 96, 96},
					out = {3, 80, 80};
		uint8_t    *src = malloc(3 * 96 * 96);
		float	   *a = malloc(3 * 80 * 80 * sizeof(float));
		float	   *b = malloc(3 * 80 * 80 * sizeof(float));
		int			same = 1;

		fill_random(src, 3 * 96 * 96, 77);
		mlp_augment_defaults(&cfg, in, out);
		for (int c = 0; c < 3; c++)
		{
			cfg.mean[c] = 0.4f + 0.05f * c;
			cfg.std[c] = 0.25f - 0.01f * c;
		}
		for (uint64_t seed = 0; seed < 20; seed++)
		{
			MlpRng		r1,
						r2;

			mlp_rng_seed(&r1, seed, 0);
			mlp_rng_seed(&r2, seed, 0);
			mlp_augment_image(&cfg, src, a, &r1);
			mlp_augment_test_set_alloc(failing_alloc);
			mlp_augment_image(&cfg, src, b, &r2);
			mlp_augment_test_set_alloc(NULL);
			same &= memcmp(a, b, 3 * 80 * 80 * sizeof(float)) == 0;
		}
		ok(same, "20 random-resized crops, normalised: bit-identical without the tables");
		free(src);
		free(a);
		free(b);
	}
}

/* The u8 resize mlpscale-load --size and image_resize use, pixel by pixel on small cases. */
static void
test_resize_u8_exact(void)
{
	const uint8_t row3[3] = {0, 30, 90};
	const uint8_t block[4] = {10, 20, 30, 41};
	const uint8_t pair[2] = {10, 20};
	const uint8_t two_planes[8] = {0, 4, 8, 12, 100, 100, 200, 200};
	uint8_t		out[8];

	mlp_resize_area_u8(row3, 1, 1, 3, out, 1, 2);
	ok(out[0] == 10 && out[1] == 70, "1x3 -> 1x2: (0 + 30/2)/1.5, (30/2 + 90)/1.5 (%d %d)",
	   out[0], out[1]);
	mlp_resize_area_u8(block, 1, 2, 2, out, 1, 1);
	is_int(out[0], 25, "2x2 -> 1x1: the rounded mean 25.25");
	mlp_resize_area_u8(pair, 1, 1, 2, out, 1, 4);
	ok(out[0] == 10 && out[1] == 10 && out[2] == 20 && out[3] == 20,
	   "1x2 -> 1x4: an integer upscale repeats pixels");
	mlp_resize_area_u8(pair, 1, 1, 2, out, 1, 3);
	ok(out[0] == 10 && out[1] == 15 && out[2] == 20,
	   "1x2 -> 1x3: the middle pixel covers half of each (%d %d %d)", out[0], out[1], out[2]);
	mlp_resize_area_u8(two_planes, 2, 2, 2, out, 2, 1);
	ok(out[0] == 2 && out[1] == 10 && out[2] == 100 && out[3] == 200,
	   "2x2x2 -> 2x2x1: each channel plane on its own (%d %d %d %d)", out[0], out[1], out[2],
	   out[3]);
}

int
main(void)
{
	test_constant_resize();
	test_exact_cases();
	test_resize_u8_exact();
	test_against_reference();
	test_normalisation();
	test_augment_flip_and_determinism();
	test_crop_params();
	test_mixup();
	test_channel_stats();
	test_without_memory();
	return tap_done();
}
