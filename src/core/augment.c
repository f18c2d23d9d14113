/*
 * augment.c - random-resized crop, area resampling, flip, normalisation and MixUp.
 *
 * Resampling is separable: each axis gets a table of (first source index, weights) per output
 * index, computed once per call, and each output row is the weighted sum of a few source rows
 * followed by a weighted sum along the row.  The weights are the overlap of the output pixel's
 * footprint with each source pixel, fractional at the edges, as in OpenCV's INTER_AREA (which
 * the reference code's FFCV pipeline uses) in both directions: downscaling averages, and
 * upscaling by an integer factor replicates pixels, mixing two only where a footprint
 * straddles a source pixel boundary at non-integer factors.  The common case of a training
 * image that is already at the model's resolution and not cropped skips resampling and
 * normalises through a 256-entry table.
 */
#include "augment.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void
mlp_augment_defaults(MlpAugmentConfig *cfg, MlpImageSpec in, MlpImageSpec out)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->in = in;
	cfg->out = out;
	cfg->random_crop = true;
	cfg->flip = true;
	cfg->scale_min = 0.08;
	cfg->scale_max = 1.0;
	cfg->ratio_min = 3.0 / 4.0;
	cfg->ratio_max = 4.0 / 3.0;
	for (int c = 0; c < MLP_MAX_CHANNELS; c++)
	{
		cfg->mean[c] = 0.0f;
		cfg->std[c] = 1.0f;
	}
}

/* torch.randint(lo, hi + 1): uniform integer in [lo, hi] */
static int
rand_int_inclusive(MlpRng *rng, int lo, int hi)
{
	return lo + (int) mlp_rng_below(rng, (uint64_t) (hi - lo) + 1);
}

void
mlp_random_crop_params(const MlpAugmentConfig *cfg, MlpRng *rng,
					   int *top, int *left, int *height, int *width)
{
	int			H = cfg->in.height;
	int			W = cfg->in.width;
	double		area = (double) H * W;
	double		log_rmin = log(cfg->ratio_min);
	double		log_rmax = log(cfg->ratio_max);
	double		in_ratio;
	int			h,
				w;

	for (int attempt = 0; attempt < 10; attempt++)
	{
		double		target_area = area * mlp_rng_uniform_range(rng, cfg->scale_min, cfg->scale_max);
		double		aspect = exp(mlp_rng_uniform_range(rng, log_rmin, log_rmax));

		/* Python's round() rounds halves to even, as nearbyint does in the default mode */
		w = (int) nearbyint(sqrt(target_area * aspect));
		h = (int) nearbyint(sqrt(target_area / aspect));
		if (w > 0 && w <= W && h > 0 && h <= H)
		{
			*top = rand_int_inclusive(rng, 0, H - h);
			*left = rand_int_inclusive(rng, 0, W - w);
			*height = h;
			*width = w;
			return;
		}
	}

	/* fallback: the centre crop with the aspect ratio clamped to the allowed range */
	in_ratio = (double) W / H;
	if (in_ratio < cfg->ratio_min)
	{
		w = W;
		h = (int) nearbyint(w / cfg->ratio_min);
	}
	else if (in_ratio > cfg->ratio_max)
	{
		h = H;
		w = (int) nearbyint(h * cfg->ratio_max);
	}
	else
	{
		w = W;
		h = H;
	}
	if (h > H)
		h = H;
	if (w > W)
		w = W;
	if (h < 1)
		h = 1;
	if (w < 1)
		w = 1;
	*top = (H - h) / 2;
	*left = (W - w) / 2;
	*height = h;
	*width = w;
}

/* ---- resampling ------------------------------------------------------------------------ */

/* Output index o of an axis covers source [start + o*scale, start + (o+1)*scale). */
typedef struct AxisMap
{
	double		start;
	double		scale;
	int			src_len;
} AxisMap;

/* Below this a weight is rounding noise from the footprint arithmetic. */
#define WEIGHT_EPS 1e-9

/*
 * The source span of output o: [*first, *first + *count).  Returns false when the weights are
 * the single pixel *first with weight 1 (a degenerate footprint outside the image).
 */
static bool
axis_span(const AxisMap *m, int o, int *first, int *count)
{
	double		a = m->start + o * m->scale;
	double		b = a + m->scale;
	int			k;

	if (a < 0.0)
		a = 0.0;
	if (b > m->src_len)
		b = m->src_len;
	if (b - a > WEIGHT_EPS)
	{
		int			k0 = (int) floor(a);
		int			k1 = (int) ceil(b);

		/* drop end pixels that the footprint only grazes through rounding */
		if (k0 + 1 - a <= WEIGHT_EPS && k0 + 1 < k1)
			k0++;
		if (b - (k1 - 1) <= WEIGHT_EPS && k1 - 1 > k0)
			k1--;
		*first = k0;
		*count = k1 - k0;
		return true;
	}
	k = (int) floor(m->start + (o + 0.5) * m->scale);
	*first = k < 0 ? 0 : k > m->src_len - 1 ? m->src_len - 1 : k;
	*count = 1;
	return false;
}


/* Unnormalised weight of source pixel k for output o: the overlap of [k, k+1) and o's footprint. */
static double
axis_raw_weight(const AxisMap *m, int o, int k)
{
	double		a = m->start + o * m->scale;
	double		b = a + m->scale;
	double		lo = a > k ? a : k;
	double		hi = b < k + 1 ? b : k + 1;

	return hi > lo ? hi - lo : 0.0;
}

typedef struct AxisTable
{
	int		   *first;			/* [n] first source index of output o */
	int		   *count;			/* [n] its number of weights */
	int		   *pos;			/* [n] index of its first weight in weight[] */
	float	   *weight;
	int			taps;			/* padded: every count is taps; else 0 */
	int			lo,
				hi;				/* union of the spans */
} AxisTable;

/* Upper bound on the number of weights of an axis. */
static size_t
axis_weight_bound(const AxisMap *m, int n)
{
	return (size_t) n * ((size_t) (m->scale >= 1.0 ? ceil(m->scale) : 1.0) + 2);
}

/*
 * Fills t for n outputs.  With pad, every output gets the same number of weights (the largest
 * count, zeros after its own), shifting spans left at the right edge to stay inside the image:
 * a fixed trip count keeps the inner loop free of branch mispredictions, which otherwise
 * dominate when counts alternate between 1 and 2 (non-integer upscaling).
 */
static void
axis_build(const AxisMap *m, int n, bool pad, AxisTable *t)
{
	int			p = 0;

	t->taps = 0;
	if (pad)
	{
		for (int o = 0; o < n; o++)
		{
			axis_span(m, o, &t->first[o], &t->count[o]);
			if (t->count[o] > t->taps)
				t->taps = t->count[o];
		}
	}
	t->lo = m->src_len;
	t->hi = 0;
	for (int o = 0; o < n; o++)
	{
		int			first,
					count,
					shift = 0,
					width;
		bool		area = axis_span(m, o, &first, &count);
		float	   *w = t->weight + p;

		width = pad ? t->taps : count;
		if (first + width > m->src_len)
			shift = first + width - m->src_len;
		for (int k = 0; k < width; k++)
			w[k] = 0.0f;
		if (area)
		{
			double		sum = 0.0;

			for (int k = 0; k < count; k++)
				sum += axis_raw_weight(m, o, first + k);
			for (int k = 0; k < count; k++)
				w[shift + k] = (float) (axis_raw_weight(m, o, first + k) / sum);
		}
		else
			w[shift] = 1.0f;
		t->first[o] = first - shift;
		t->count[o] = width;
		t->pos[o] = p;
		p += width;
		if (t->first[o] < t->lo)
			t->lo = t->first[o];
		if (t->first[o] + width > t->hi)
			t->hi = t->first[o] + width;
	}
}

/* Where resampled values go: floats v*mul + add, or rounded bytes. */
typedef struct ResampleOut
{
	float	   *f32;
	uint8_t    *u8;
	const float *mul;
	const float *add;
} ResampleOut;

static inline uint8_t
round_u8(float v)
{
	float		r = floorf(v + 0.5f);

	return (uint8_t) (r < 0.0f ? 0.0f : r > 255.0f ? 255.0f : r);
}

static inline void
emit_value(const ResampleOut *out, size_t i, int c, float v)
{
	if (out->f32)
		out->f32[i] = v * out->mul[c] + out->add[c];
	else
		out->u8[i] = round_u8(v);
}

/* One output row of channel c starting at dst index base, mirrored when flip. */
static void
emit_line(const ResampleOut *out, size_t base, int c, const float *line, int n, bool flip)
{
	if (out->f32)
	{
		float	   *d = out->f32 + base;
		float		mul = out->mul[c],
					add = out->add[c];

		if (flip)
			for (int i = 0; i < n; i++)
				d[n - 1 - i] = line[i] * mul + add;
		else
			for (int i = 0; i < n; i++)
				d[i] = line[i] * mul + add;
	}
	else
	{
		uint8_t    *d = out->u8 + base;

		if (flip)
			for (int i = 0; i < n; i++)
				d[n - 1 - i] = round_u8(line[i]);
		else
			for (int i = 0; i < n; i++)
				d[i] = round_u8(line[i]);
	}
}

/*
 * Without memory for the tables (the allocation failed), resample computes every output
 * value from scratch: the same weights, the same sums in the same order and the same
 * expressions as the table path below, so the result is bit-identical, only slower (the
 * weights of each pixel are recomputed for every output).
 */

/* Weight k of output o as axis_build stores it: 0 outside the span, which starts at shift. */
static float
axis_weight_at(const AxisMap *m, int o, int first, int count, bool area, double sum,
			   int shift, int k)
{
	if (k < shift || k >= shift + count)
		return 0.0f;
	if (!area)
		return 1.0f;
	return (float) (axis_raw_weight(m, o, first + k - shift) / sum);
}

/* The sum of axis_build's weights of output o (only when its span is an area). */
static double
axis_weight_sum(const AxisMap *m, int o, int first, int count)
{
	double		sum = 0.0;

	for (int k = 0; k < count; k++)
		sum += axis_raw_weight(m, o, first + k);
	return sum;
}

/* The padded width axis_build gives every output: the largest count. */
static int
axis_taps(const AxisMap *m, int n)
{
	int			taps = 0;

	for (int o = 0; o < n; o++)
	{
		int			first,
					count;

		axis_span(m, o, &first, &count);
		if (count > taps)
			taps = count;
	}
	return taps;
}

/* One horizontal value of resample: source row s at output column ox, with taps weights. */
static float
direct_row_value(const AxisMap *mx, int ox, int taps, const uint8_t *s)
{
	int			first,
				count,
				shift = 0;
	bool		area = axis_span(mx, ox, &first, &count);
	double		sum = area ? axis_weight_sum(mx, ox, first, count) : 0.0;
	const uint8_t *p;
	float		v;

	if (first + taps > mx->src_len)
		shift = first + taps - mx->src_len;
	p = s + first - shift;
#define WX(k) axis_weight_at(mx, ox, first, count, area, sum, shift, (k))
	if (taps == 1)
		v = WX(0) * p[0];
	else if (taps == 2)
		v = WX(0) * p[0] + WX(1) * p[1];
	else
	{
		v = 0.0f;
		for (int k = 0; k < taps; k++)
			v += WX(k) * p[k];
	}
#undef WX
	return v;
}

static void
resample_direct(const uint8_t *src, int channels, int sh, int sw,
				const AxisMap *my, const AxisMap *mx, int dh, int dw, bool flip,
				const ResampleOut *out)
{
	int			taps = axis_taps(mx, dw);

	for (int c = 0; c < channels; c++)
	{
		const uint8_t *plane = src + (size_t) c * sh * sw;

		for (int oy = 0; oy < dh; oy++)
		{
			int			fy,
						ny;
			bool		area_y = axis_span(my, oy, &fy, &ny);
			double		sum_y = area_y ? axis_weight_sum(my, oy, fy, ny) : 0.0;
			size_t		base = (size_t) c * dh * dw + (size_t) oy * dw;

			for (int j = 0; j < dw; j++)
			{
				int			ox = flip ? dw - 1 - j : j;
				float		w0 = axis_weight_at(my, oy, fy, ny, area_y, sum_y, 0, 0);
				float		r0 = direct_row_value(mx, ox, taps, plane + (size_t) fy * sw);
				float		v;

				if (ny == 1 && out->f32)
				{
					out->f32[base + j] = r0 * (out->mul[c] * w0) + out->add[c];
					continue;
				}
				v = w0 * r0;
				for (int k = 1; k < ny; k++)
					v += axis_weight_at(my, oy, fy, ny, area_y, sum_y, 0, k) *
						direct_row_value(mx, ox, taps, plane + (size_t) (fy + k) * sw);
				emit_value(out, base + j, c, v);
			}
		}
	}
}

/* Where resample's tables come from: malloc, or a test's allocator that fails. */
static void *(*scratch_alloc) (size_t) = malloc;

void
mlp_augment_test_set_alloc(void *(*alloc) (size_t))
{
	scratch_alloc = alloc ? alloc : malloc;
}

/*
 * Horizontal pass first, over only the source rows the vertical table touches, into float rows
 * of the output width (mirrored here when flipping); then each output row is a short weighted
 * sum of those rows, vectorised over the output width, with the normalisation fused in.
 */
static void
resample(const uint8_t *src, int channels, int sh, int sw,
		 double y0, double x0, double ch, double cw, int dh, int dw, bool flip,
		 const ResampleOut *out)
{
	AxisMap		my = {y0, ch / dh, sh};
	AxisMap		mx = {x0, cw / dw, sw};
	size_t		ny = axis_weight_bound(&my, dh);
	size_t		nx = axis_weight_bound(&mx, dw);
	size_t		ints = 3 * ((size_t) dh + dw);
	size_t		floats = ny + nx + (size_t) sh * dw + (size_t) dw;
	size_t		bytes = ints * sizeof(int) + floats * sizeof(float);
	float		stack_buf[4096];	/* enough for images up to about 48 pixels a side */
	void	   *heap = NULL;
	char	   *mem;
	AxisTable	ty,
				tx;
	float	   *rows,
			   *line;

	if (channels < 1 || sh < 1 || sw < 1 || dh < 1 || dw < 1 || !(ch > 0.0) || !(cw > 0.0))
		return;
	if (bytes <= sizeof(stack_buf))
		mem = (char *) stack_buf;
	else if ((heap = scratch_alloc(bytes)) != NULL)
		mem = heap;
	else
	{
		resample_direct(src, channels, sh, sw, &my, &mx, dh, dw, flip, out);
		return;
	}
	/* floats first, so they stay aligned */
	ty.weight = (float *) mem;
	tx.weight = ty.weight + ny;
	rows = tx.weight + nx;
	line = rows + (size_t) sh * dw;
	ty.first = (int *) (line + dw);
	ty.count = ty.first + dh;
	ty.pos = ty.count + dh;
	tx.first = ty.pos + dh;
	tx.count = tx.first + dw;
	tx.pos = tx.count + dw;
	axis_build(&my, dh, false, &ty);
	axis_build(&mx, dw, true, &tx);

	for (int c = 0; c < channels; c++)
	{
		const uint8_t *plane = src + (size_t) c * sh * sw;
		int			taps = tx.taps;

		/* horizontal: rows[y - ty.lo] is source row y resampled to dw columns */
		for (int y = ty.lo; y < ty.hi; y++)
		{
			const uint8_t *s = plane + (size_t) y * sw;
			float	   *r = rows + (size_t) (y - ty.lo) * dw;

			for (int ox = 0; ox < dw; ox++)
			{
				const float *wx = tx.weight + (size_t) taps * ox;
				const uint8_t *p = s + tx.first[ox];
				float		v;

				if (taps == 1)
					v = wx[0] * p[0];
				else if (taps == 2)
					v = wx[0] * p[0] + wx[1] * p[1];
				else
				{
					v = 0.0f;
					for (int k = 0; k < taps; k++)
						v += wx[k] * p[k];
				}
				r[flip ? dw - 1 - ox : ox] = v;
			}
		}
		/* vertical */
		for (int oy = 0; oy < dh; oy++)
		{
			const float *wy = ty.weight + ty.pos[oy];
			const float *r0 = rows + (size_t) (ty.first[oy] - ty.lo) * dw;
			size_t		base = (size_t) c * dh * dw + (size_t) oy * dw;

			if (ty.count[oy] == 1 && out->f32)
			{
				/* the common case, fused with the normalisation */
				float	   *d = out->f32 + base;
				float		mul = out->mul[c] * wy[0],
							add = out->add[c];

				for (int ox = 0; ox < dw; ox++)
					d[ox] = r0[ox] * mul + add;
				continue;
			}
			for (int ox = 0; ox < dw; ox++)
				line[ox] = wy[0] * r0[ox];
			for (int k = 1; k < ty.count[oy]; k++)
			{
				const float *rk = r0 + (size_t) k * dw;
				float		w = wy[k];

				for (int ox = 0; ox < dw; ox++)
					line[ox] += w * rk[ox];
			}
			emit_line(out, base, c, line, dw, false);
		}
	}
	free(heap);
}

void
mlp_resample_area(const uint8_t *src, int channels, int sh, int sw,
				  double y0, double x0, double ch, double cw,
				  float *dst, int dh, int dw, bool flip)
{
	static const float ones[MLP_MAX_CHANNELS] = {1, 1, 1, 1};
	static const float zeros[MLP_MAX_CHANNELS] = {0, 0, 0, 0};
	ResampleOut out = {dst, NULL, ones, zeros};

	resample(src, channels, sh, sw, y0, x0, ch, cw, dh, dw, flip, &out);
}

void
mlp_resize_area_u8(const uint8_t *src, int channels, int sh, int sw,
				   uint8_t *dst, int dh, int dw)
{
	ResampleOut out = {NULL, dst, NULL, NULL};

	if (sh == dh && sw == dw)
	{
		memcpy(dst, src, (size_t) channels * sh * sw);
		return;
	}
	resample(src, channels, sh, sw, 0.0, 0.0, sh, sw, dh, dw, false, &out);
}

/* (pixel/255 - mean)/std as pixel * mul + add: one multiply-add per value. */
static void
normalisation_coeffs(const MlpAugmentConfig *cfg, float *mul, float *add)
{
	for (int c = 0; c < cfg->in.channels && c < MLP_MAX_CHANNELS; c++)
	{
		mul[c] = 1.0f / (255.0f * cfg->std[c]);
		add[c] = -cfg->mean[c] / cfg->std[c];
	}
}

/* Fast path: no resampling, normalise through a lookup table, optionally mirrored. */
static void
normalise_copy(const MlpAugmentConfig *cfg, const uint8_t *src, float *dst, bool flip,
			   const float *mul, const float *add)
{
	int			H = cfg->in.height,
				W = cfg->in.width;
	float		lut[256];

	for (int c = 0; c < cfg->in.channels; c++)
	{
		const uint8_t *s = src + (size_t) c * H * W;
		float	   *d = dst + (size_t) c * H * W;

		for (int v = 0; v < 256; v++)
			lut[v] = (float) v * mul[c] + add[c];
		if (!flip)
		{
			for (size_t i = 0; i < (size_t) H * W; i++)
				d[i] = lut[s[i]];
		}
		else
		{
			for (int y = 0; y < H; y++)
			{
				const uint8_t *sr = s + (size_t) y * W;
				float	   *dr = d + (size_t) y * W;

				for (int x = 0; x < W; x++)
					dr[W - 1 - x] = lut[sr[x]];
			}
		}
	}
}

static void
crop_resample_normalise(const MlpAugmentConfig *cfg, const uint8_t *src, float *dst,
						int top, int left, int h, int w, bool flip)
{
	float		mul[MLP_MAX_CHANNELS],
				add[MLP_MAX_CHANNELS];
	ResampleOut out = {dst, NULL, mul, add};

	normalisation_coeffs(cfg, mul, add);
	if (top == 0 && left == 0 && h == cfg->in.height && w == cfg->in.width &&
		h == cfg->out.height && w == cfg->out.width)
		normalise_copy(cfg, src, dst, flip, mul, add);
	else
		resample(src, cfg->in.channels, cfg->in.height, cfg->in.width, top, left, h, w,
				 cfg->out.height, cfg->out.width, flip, &out);
}

void
mlp_augment_image(const MlpAugmentConfig *cfg, const uint8_t *src, float *dst, MlpRng *rng)
{
	int			top = 0,
				left = 0,
				h = cfg->in.height,
				w = cfg->in.width;
	bool		flip = false;

	if (cfg->random_crop)
		mlp_random_crop_params(cfg, rng, &top, &left, &h, &w);
	if (cfg->flip)
		flip = mlp_rng_uniform(rng) < 0.5;
	crop_resample_normalise(cfg, src, dst, top, left, h, w, flip);
}

void
mlp_preprocess_image(const MlpAugmentConfig *cfg, const uint8_t *src, float *dst)
{
	crop_resample_normalise(cfg, src, dst, 0, 0, cfg->in.height, cfg->in.width, false);
}

/* Columns per block: the saved slice of the last row stays on the stack and in L1. */
#define MIXUP_BLOCK 512

void
mlp_mixup_batch(float *x, int B, int64_t D, float lam)
{
	float		last[MIXUP_BLOCK];
	float		mu = 1.0f - lam;

	if (B <= 0)
		return;
	for (int64_t d0 = 0; d0 < D; d0 += MIXUP_BLOCK)
	{
		int64_t		n = D - d0 < MIXUP_BLOCK ? D - d0 : MIXUP_BLOCK;

		/* row 0 mixes with the ORIGINAL last row, which the downward sweep overwrites */
		memcpy(last, x + (int64_t) (B - 1) * D + d0, (size_t) n * sizeof(float));
		for (int i = B - 1; i >= 1; i--)
		{
			float	   *cur = x + (int64_t) i * D + d0;
			const float *prev = cur - D;

			for (int64_t k = 0; k < n; k++)
				cur[k] = lam * cur[k] + mu * prev[k];
		}
		for (int64_t k = 0; k < n; k++)
			x[d0 + k] = lam * x[d0 + k] + mu * last[k];
	}
}

/* mean and std (0-1 scale) of count pixels of one channel from their histogram */
static void
stats_from_hist(const uint64_t *hist, double count, float *mean, float *std)
{
	double		s1 = 0.0,
				s2 = 0.0,
				m,
				var;

	for (int v = 0; v < 256; v++)
	{
		s1 += (double) hist[v] * v;
		s2 += (double) hist[v] * v * v;
	}
	if (count <= 0.0)
	{
		*mean = 0.0f;
		*std = 1.0f;
		return;
	}
	m = s1 / count;
	var = s2 / count - m * m;
	if (var < 0.0)
		var = 0.0;
	*mean = (float) (m / 255.0);
	*std = var > 0.0 ? (float) (sqrt(var) / 255.0) : 1.0f;
}

static void
add_channel(uint64_t *hist, const uint8_t *images, int64_t n, MlpImageSpec spec, int c)
{
	size_t		plane = (size_t) spec.height * spec.width;

	for (int64_t i = 0; i < n; i++)
	{
		const uint8_t *p = images + ((size_t) i * spec.channels + c) * plane;

		for (size_t k = 0; k < plane; k++)
			hist[p[k]]++;
	}
}

void
mlp_channel_stats(const uint8_t *images, int64_t n, MlpImageSpec spec, float *mean, float *std)
{
	for (int c = 0; c < spec.channels; c++)
	{
		/* a histogram keeps the sums exact whatever the number of pixels */
		uint64_t	hist[256] = {0};

		add_channel(hist, images, n, spec, c);
		stats_from_hist(hist, (double) n * spec.height * spec.width, &mean[c], &std[c]);
	}
}

void
mlp_channel_hist_add(MlpChannelHist *h, const uint8_t *images, int64_t n, MlpImageSpec spec)
{
	for (int c = 0; c < spec.channels; c++)
		add_channel(h->hist[c], images, n, spec, c);
	h->n += n;
}

void
mlp_channel_hist_stats(const MlpChannelHist *h, MlpImageSpec spec, float *mean, float *std)
{
	for (int c = 0; c < spec.channels; c++)
		stats_from_hist(h->hist[c], (double) h->n * spec.height * spec.width, &mean[c], &std[c]);
}
