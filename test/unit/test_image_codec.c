/* test_image_codec.c - PNG and JPEG decoding: formats, limits, corrupt input, fuzzing */
#include <setjmp.h>
#include <stdio.h>

#include <png.h>
#include <jpeglib.h>

#include "image_codec.h"
#include "rng.h"
#include "tap.h"

/* ---- test-side writers, straight libpng and libjpeg ---------------------------------- */

typedef struct MemOut
{
	uint8_t    *data;
	size_t		len,
				cap;
} MemOut;

static void
mem_write(png_structp png, png_bytep src, size_t n)
{
	MemOut	   *m = png_get_io_ptr(png);

	if (m->len + n > m->cap)
	{
		m->cap = (m->len + n) * 2;
		m->data = realloc(m->data, m->cap);
	}
	memcpy(m->data + m->len, src, n);
	m->len += n;
}

static void
mem_flush(png_structp png)
{
	(void) png;
}

/* rows: packed as libpng expects for the colour type and depth (16-bit big-endian) */
static const png_byte *trns_alpha;	/* when set, write_png adds a tRNS chunk */
static int	trns_count;
static png_color_16 trns_colour;

static uint8_t *
write_png(int w, int h, int color_type, int depth, int interlace, const png_color *palette,
		  int npal, uint8_t **rows, size_t *len)
{
	MemOut		m = {NULL, 0, 0};
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop	info = png_create_info_struct(png);

	if (setjmp(png_jmpbuf(png)))
	{
		fprintf(stderr, "test PNG writer failed\n");
		exit(2);
	}
	png_set_write_fn(png, &m, mem_write, mem_flush);
	png_set_IHDR(png, info, w, h, depth, color_type, interlace, PNG_COMPRESSION_TYPE_DEFAULT,
				 PNG_FILTER_TYPE_DEFAULT);
	if (palette)
		png_set_PLTE(png, info, palette, npal);
	if (trns_alpha || trns_count < 0)
		png_set_tRNS(png, info, trns_alpha, trns_alpha ? trns_count : 0,
					 trns_alpha ? NULL : &trns_colour);
	png_write_info(png, info);
	png_write_image(png, rows);
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &info);
	*len = m.len;
	return m.data;
}

static uint8_t *
write_jpeg(int w, int h, int components, J_COLOR_SPACE space, const uint8_t *interleaved,
		   int quality, size_t *len)
{
	struct jpeg_compress_struct cinfo;
	struct jpeg_error_mgr jerr;
	unsigned char *out = NULL;
	unsigned long outlen = 0;

	cinfo.err = jpeg_std_error(&jerr);
	jpeg_create_compress(&cinfo);
	jpeg_mem_dest(&cinfo, &out, &outlen);
	cinfo.image_width = w;
	cinfo.image_height = h;
	cinfo.input_components = components;
	cinfo.in_color_space = space;
	jpeg_set_defaults(&cinfo);
	jpeg_set_quality(&cinfo, quality, TRUE);
	jpeg_start_compress(&cinfo, TRUE);
	while (cinfo.next_scanline < cinfo.image_height)
	{
		JSAMPROW	row = (JSAMPROW) interleaved + (size_t) cinfo.next_scanline * w * components;

		jpeg_write_scanlines(&cinfo, &row, 1);
	}
	jpeg_finish_compress(&cinfo);
	jpeg_destroy_compress(&cinfo);
	*len = outlen;
	return out;
}

static void
fill_random(uint8_t *p, size_t n, uint64_t seed)
{
	MlpRng		r;

	mlp_rng_seed(&r, seed, 0);
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t) mlp_rng_below(&r, 256);
}

/* ---- tests --------------------------------------------------------------------------- */

static void
test_png_round_trip(void)
{
	int			chans[2] = {1, 3};

	for (int k = 0; k < 2; k++)
	{
		int			C = chans[k],
					H = 23,
					W = 17;
		uint8_t    *img = malloc((size_t) C * H * W);
		uint8_t    *png;
		size_t		len;
		char		err[256] = "";
		MlpDecodedImage d;

		fill_random(img, (size_t) C * H * W, 10 + k);
		ok(mlp_image_encode_png(img, C, H, W, &png, &len, err, sizeof(err)) == 0,
		   "encode %d-channel PNG", C);
		ok(mlp_image_sniff(png, len) == MLP_IMAGE_PNG, "sniffed as PNG");
		if (!ok(mlp_image_decode(png, len, 1000, &d, err, sizeof(err)) == 0, "decode it back"))
			diag("%s", err);
		ok(d.channels == C && d.height == H && d.width == W &&
		   memcmp(d.data, img, (size_t) C * H * W) == 0, "%d-channel PNG round trip is exact", C);
		mlp_decoded_image_free(&d);
		free(png);
		free(img);
	}

	uint8_t		one = 7,
			   *png;
	size_t		len;
	char		err[256] = "";

	ok(mlp_image_encode_png(&one, 2, 1, 1, &png, &len, err, sizeof(err)) == -1 &&
	   strstr(err, "2-channel"), "encoding 2 channels refused: %s", err);
}

static void
test_png_formats(void)
{
	enum
	{
	W = 6, H = 5};
	uint8_t		buf[H][W * 8];
	uint8_t    *rows[H];
	size_t		len;
	uint8_t    *png;
	MlpDecodedImage d;
	char		err[256] = "";
	int			good;

	for (int y = 0; y < H; y++)
		rows[y] = buf[y];

	/* palette, 8 bit */
	png_color	pal[4] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {10, 20, 30}};

	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++)
			buf[y][x] = (uint8_t) ((x + y) % 4);
	png = write_png(W, H, PNG_COLOR_TYPE_PALETTE, 8, PNG_INTERLACE_NONE, pal, 4, rows, &len);
	good = mlp_image_decode(png, len, 100, &d, err, sizeof(err)) == 0 && d.channels == 3;
	for (int y = 0; good && y < H; y++)
		for (int x = 0; x < W; x++)
		{
			const png_color *p = &pal[(x + y) % 4];

			good &= d.data[y * W + x] == p->red && d.data[H * W + y * W + x] == p->green &&
				d.data[2 * H * W + y * W + x] == p->blue;
		}
	ok(good, "8-bit palette PNG decodes to RGB %s", err);
	mlp_decoded_image_free(&d);
	free(png);

	/* palette, 2 bit (packed) */
	for (int y = 0; y < H; y++)
	{
		memset(buf[y], 0, 2);
		for (int x = 0; x < W; x++)
			buf[y][x / 4] |= (uint8_t) (((x + y) % 4) << (6 - 2 * (x % 4)));
	}
	png = write_png(W, H, PNG_COLOR_TYPE_PALETTE, 2, PNG_INTERLACE_NONE, pal, 4, rows, &len);
	good = mlp_image_decode(png, len, 100, &d, err, sizeof(err)) == 0 && d.channels == 3;
	for (int y = 0; good && y < H; y++)
		for (int x = 0; x < W; x++)
			good &= d.data[H * W + y * W + x] == pal[(x + y) % 4].green;
	ok(good, "2-bit palette PNG decodes to RGB %s", err);
	mlp_decoded_image_free(&d);
	free(png);

	/* palette with transparency (tRNS): the transparency is dropped like alpha */
	{
		static const png_byte alpha[4] = {0, 128, 255, 7};

		for (int y = 0; y < H; y++)
			for (int x = 0; x < W; x++)
				buf[y][x] = (uint8_t) ((x + y) % 4);
		trns_alpha = alpha;
		trns_count = 4;
		png = write_png(W, H, PNG_COLOR_TYPE_PALETTE, 8, PNG_INTERLACE_NONE, pal, 4, rows, &len);
		trns_alpha = NULL;
		trns_count = 0;
		good = mlp_image_decode(png, len, 100, &d, err, sizeof(err)) == 0 && d.channels == 3;
		for (int y = 0; good && y < H; y++)
			for (int x = 0; x < W; x++)
				good &= d.data[2 * H * W + y * W + x] == pal[(x + y) % 4].blue;
		ok(good, "palette PNG with tRNS decodes to RGB %s", err);
		mlp_decoded_image_free(&d);
		free(png);
	}

	/* grey 4-bit and RGB with a tRNS colour key */
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x += 2)
			buf[y][x / 2] = (uint8_t) ((x % 16) << 4 | ((x + 1) % 16));
	trns_count = -1;
	trns_colour.gray = 2;
	png = write_png(W, H, PNG_COLOR_TYPE_GRAY, 4, PNG_INTERLACE_NONE, NULL, 0, rows, &len);
	good = mlp_image_decode(png, len, 100, &d, err, sizeof(err)) == 0 && d.channels == 1;
	for (int y = 0; good && y < H; y++)
		for (int x = 0; x < W; x++)
			good &= d.data[y * W + x] == (x % 16) * 17;
	ok(good, "4-bit grey PNG with a tRNS key decodes to 8-bit grey %s", err);
	mlp_decoded_image_free(&d);
	free(png);
	for (int y = 0; y < H; y++)
		for (int x = 0; x < 3 * W; x++)
			buf[y][x] = (uint8_t) (x * 9 + y);
	trns_colour.red = 9;
	trns_colour.green = 18;
	trns_colour.blue = 27;
	png = write_png(W, H, PNG_COLOR_TYPE_RGB, 8, PNG_INTERLACE_NONE, NULL, 0, rows, &len);
	trns_count = 0;
	good = mlp_image_decode(png, len, 100, &d, err, sizeof(err)) == 0 && d.channels == 3;
	for (int y = 0; good && y < H; y++)
		for (int x = 0; x < W; x++)
			for (int c = 0; c < 3; c++)
				good &= d.data[c * H * W + y * W + x] == (uint8_t) ((3 * x + c) * 9 + y);
	ok(good, "RGB PNG with a tRNS key decodes to RGB %s", err);
	mlp_decoded_image_free(&d);
	free(png);

	/* RGBA: alpha dropped, colours kept as stored */
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++)
		{
			buf[y][4 * x] = (uint8_t) (10 * x);
			buf[y][4 * x + 1] = (uint8_t) (20 * y);
			buf[y][4 * x + 2] = 200;
			buf[y][4 * x + 3] = (uint8_t) (40 * x);	/* varying alpha, even 0 */
		}
	png = write_png(W, H, PNG_COLOR_TYPE_RGB_ALPHA, 8, PNG_INTERLACE_NONE, NULL, 0, rows, &len);
	good = mlp_image_decode(png, len, 100, &d, err, sizeof(err)) == 0 && d.channels == 3;
	for (int y = 0; good && y < H; y++)
		for (int x = 0; x < W; x++)
			good &= d.data[y * W + x] == 10 * x && d.data[H * W + y * W + x] == 20 * y &&
				d.data[2 * H * W + y * W + x] == 200;
	ok(good, "RGBA PNG decodes to RGB with alpha dropped %s", err);
	mlp_decoded_image_free(&d);
	free(png);

	/* grey + alpha */
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++)
		{
			buf[y][2 * x] = (uint8_t) (x * 40 + y);
			buf[y][2 * x + 1] = 7;
		}
	png = write_png(W, H, PNG_COLOR_TYPE_GRAY_ALPHA, 8, PNG_INTERLACE_NONE, NULL, 0, rows, &len);
	good = mlp_image_decode(png, len, 100, &d, err, sizeof(err)) == 0 && d.channels == 1;
	for (int y = 0; good && y < H; y++)
		for (int x = 0; x < W; x++)
			good &= d.data[y * W + x] == x * 40 + y;
	ok(good, "grey+alpha PNG decodes to grey %s", err);
	mlp_decoded_image_free(&d);
	free(png);

	/* 16-bit RGB: v*257 scales back to v exactly */
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++)
			for (int c = 0; c < 3; c++)
			{
				unsigned	v = (unsigned) (x * 30 + y * 5 + c * 7) * 257;

				buf[y][6 * x + 2 * c] = (uint8_t) (v >> 8);
				buf[y][6 * x + 2 * c + 1] = (uint8_t) v;
			}
	png = write_png(W, H, PNG_COLOR_TYPE_RGB, 16, PNG_INTERLACE_NONE, NULL, 0, rows, &len);
	good = mlp_image_decode(png, len, 100, &d, err, sizeof(err)) == 0 && d.channels == 3;
	for (int y = 0; good && y < H; y++)
		for (int x = 0; x < W; x++)
			for (int c = 0; c < 3; c++)
				good &= d.data[c * H * W + y * W + x] == x * 30 + y * 5 + c * 7;
	ok(good, "16-bit RGB PNG scales to 8 bit %s", err);
	mlp_decoded_image_free(&d);
	free(png);

	/* 16-bit grey with alpha */
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++)
		{
			unsigned	v = (unsigned) (x * 41 + y) * 257;

			buf[y][4 * x] = (uint8_t) (v >> 8);
			buf[y][4 * x + 1] = (uint8_t) v;
			buf[y][4 * x + 2] = 0xFF;
			buf[y][4 * x + 3] = 0x00;
		}
	png = write_png(W, H, PNG_COLOR_TYPE_GRAY_ALPHA, 16, PNG_INTERLACE_NONE, NULL, 0, rows, &len);
	good = mlp_image_decode(png, len, 100, &d, err, sizeof(err)) == 0 && d.channels == 1;
	for (int y = 0; good && y < H; y++)
		for (int x = 0; x < W; x++)
			good &= d.data[y * W + x] == x * 41 + y;
	ok(good, "16-bit grey+alpha PNG decodes to 8-bit grey %s", err);
	mlp_decoded_image_free(&d);
	free(png);

	/* 1-bit grey expands to 0 and 255 */
	for (int y = 0; y < H; y++)
		buf[y][0] = (uint8_t) (y % 2 ? 0xA8 : 0x54);	/* 101010 / 010101 */
	png = write_png(W, H, PNG_COLOR_TYPE_GRAY, 1, PNG_INTERLACE_NONE, NULL, 0, rows, &len);
	good = mlp_image_decode(png, len, 100, &d, err, sizeof(err)) == 0 && d.channels == 1;
	for (int y = 0; good && y < H; y++)
		for (int x = 0; x < W; x++)
			good &= d.data[y * W + x] == ((((y % 2) + x) % 2 == 1) ? 255 : 0);
	ok(good, "1-bit grey PNG expands to 0/255 %s", err);
	mlp_decoded_image_free(&d);
	free(png);

	/* Adam7-interlaced RGB */
	for (int y = 0; y < H; y++)
		for (int x = 0; x < 3 * W; x++)
			buf[y][x] = (uint8_t) (y * 31 + x * 3);
	png = write_png(W, H, PNG_COLOR_TYPE_RGB, 8, PNG_INTERLACE_ADAM7, NULL, 0, rows, &len);
	good = mlp_image_decode(png, len, 100, &d, err, sizeof(err)) == 0 && d.channels == 3;
	for (int y = 0; good && y < H; y++)
		for (int x = 0; x < W; x++)
			for (int c = 0; c < 3; c++)
				good &= d.data[c * H * W + y * W + x] == (uint8_t) (y * 31 + (3 * x + c) * 3);
	ok(good, "interlaced RGB PNG %s", err);
	mlp_decoded_image_free(&d);

	/* size limit, before decoding */
	ok(mlp_image_decode(png, len, 5, &d, err, sizeof(err)) == -1 &&
	   strstr(err, "6x5 pixels; the largest side allowed is 5"), "PNG wider than max_side refused: %s", err);
	ok(mlp_image_decode(png, len, 6, &d, err, sizeof(err)) == 0, "PNG at max_side accepted");
	mlp_decoded_image_free(&d);
	free(png);
}

static double
mean_abs_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
	double		s = 0;

	for (size_t i = 0; i < n; i++)
		s += abs((int) a[i] - (int) b[i]);
	return s / n;
}

static void
test_jpeg(void)
{
	enum
	{
	W = 64, H = 48};
	static uint8_t rgb[H * W * 3],
				planar[3 * H * W],
				grey[H * W];
	size_t		len;
	uint8_t    *jpg;
	MlpDecodedImage d;
	char		err[256] = "";

	/* smooth content, which JPEG keeps well */
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++)
		{
			uint8_t		v[3] = {(uint8_t) (x * 4), (uint8_t) (y * 5), (uint8_t) (128 + 60 * sin(x / 9.0))};

			for (int c = 0; c < 3; c++)
			{
				rgb[(y * W + x) * 3 + c] = v[c];
				planar[c * H * W + y * W + x] = v[c];
			}
			grey[y * W + x] = (uint8_t) ((x + y) * 2);
		}
	jpg = write_jpeg(W, H, 3, JCS_RGB, rgb, 95, &len);
	ok(mlp_image_sniff(jpg, len) == MLP_IMAGE_JPEG, "sniffed as JPEG");
	if (!ok(mlp_image_decode(jpg, len, 1000, &d, err, sizeof(err)) == 0 && d.channels == 3 &&
			d.height == H && d.width == W, "RGB JPEG decodes to 3x48x64"))
		diag("%s", err);
	else
	{
		double		mad = mean_abs_diff(d.data, planar, sizeof(planar));

		ok(mad < 3.0, "RGB JPEG is near the source (mean abs diff %.2f)", mad);
	}
	mlp_decoded_image_free(&d);
	ok(mlp_image_decode(jpg, len, 63, &d, err, sizeof(err)) == -1 &&
	   strstr(err, "64x48 pixels; the largest side allowed is 63"), "JPEG above max_side refused: %s", err);

	/* truncated JPEG: refused, not padded with grey */
	ok(mlp_image_decode(jpg, len / 2, 1000, &d, err, sizeof(err)) == -1, "truncated JPEG refused: %s", err);
	free(jpg);

	jpg = write_jpeg(W, H, 1, JCS_GRAYSCALE, grey, 95, &len);
	if (!ok(mlp_image_decode(jpg, len, 1000, &d, err, sizeof(err)) == 0 && d.channels == 1 &&
			d.height == H && d.width == W, "grey JPEG decodes to 1x48x64"))
		diag("%s", err);
	else
	{
		double		mad = mean_abs_diff(d.data, grey, sizeof(grey));

		ok(mad < 2.0, "grey JPEG is near the source (mean abs diff %.2f)", mad);
	}
	mlp_decoded_image_free(&d);
	free(jpg);

	/* CMYK */
	static uint8_t cmyk[H * W * 4];

	memset(cmyk, 100, sizeof(cmyk));
	jpg = write_jpeg(W, H, 4, JCS_CMYK, cmyk, 90, &len);
	ok(mlp_image_decode(jpg, len, 1000, &d, err, sizeof(err)) == -1 && strstr(err, "not supported"),
	   "CMYK JPEG refused: %s", err);
	free(jpg);
}

static void
test_garbage(void)
{
	uint8_t		junk[300];
	MlpDecodedImage d;
	char		err[256] = "";
	uint8_t    *png;
	size_t		len;
	uint8_t		img[3 * 20 * 20];
	int			all_refused = 1;

	fill_random(junk, sizeof(junk), 5);
	junk[0] = 'x';
	ok(mlp_image_decode(junk, sizeof(junk), 100, &d, err, sizeof(err)) == -1 &&
	   strstr(err, "neither PNG nor JPEG"), "random bytes refused: %s", err);
	ok(mlp_image_decode(junk, 0, 100, &d, err, sizeof(err)) == -1, "empty input refused");
	memcpy(junk, "\x89PNG\r\n\x1a\n", 8);
	ok(mlp_image_decode(junk, sizeof(junk), 100, &d, err, sizeof(err)) == -1 &&
	   strstr(err, "invalid PNG"), "PNG signature then garbage refused: %s", err);
	ok(mlp_image_decode(junk, 8, 100, &d, err, sizeof(err)) == -1, "bare PNG signature refused: %s", err);
	junk[0] = 0xFF;
	junk[1] = 0xD8;
	junk[2] = 0xFF;
	ok(mlp_image_decode(junk, sizeof(junk), 100, &d, err, sizeof(err)) == -1 &&
	   strstr(err, "invalid JPEG"), "JPEG SOI then garbage refused: %s", err);
	ok(mlp_image_decode(junk, 3, 100, &d, err, sizeof(err)) == -1, "bare JPEG SOI refused: %s", err);

	/* every truncation of a valid PNG is refused */
	fill_random(img, sizeof(img), 6);
	mlp_image_encode_png(img, 3, 20, 20, &png, &len, err, sizeof(err));
	for (size_t n = 0; n < len; n++)
		if (mlp_image_decode(png, n, 100, &d, err, sizeof(err)) == 0)
		{
			all_refused = 0;
			mlp_decoded_image_free(&d);
		}
	ok(all_refused, "every truncated prefix of a %zu-byte PNG is refused", len);
	free(png);
}

/* Mutated PNG and JPEG files decode or fail with a message; they never crash. */
static void
test_fuzz(void)
{
	enum
	{
	W = 24, H = 16};
	static uint8_t planar[3 * H * W],
				rgb[H * W * 3];
	uint8_t    *files[2];
	size_t		lens[2];
	char		err[256];
	MlpRng		r;
	int			decoded = 0,
				refused = 0,
				bad = 0;

	for (int i = 0; i < H * W * 3; i++)
		planar[i] = rgb[i] = (uint8_t) (i * 7 % 251);
	mlp_image_encode_png(planar, 3, H, W, &files[0], &lens[0], err, sizeof(err));
	files[1] = write_jpeg(W, H, 3, JCS_RGB, rgb, 80, &lens[1]);
	mlp_rng_seed(&r, 123, 0);
	for (int iter = 0; iter < 4000; iter++)
	{
		int			f = iter % 2;
		size_t		len = lens[f];
		uint8_t    *buf = malloc(len);
		MlpDecodedImage d;
		int			nmut = 1 + (int) mlp_rng_below(&r, 6);

		memcpy(buf, files[f], len);
		for (int m = 0; m < nmut; m++)
		{
			/* keep the signature mostly intact so the decoders get exercised */
			size_t		pos = 3 + mlp_rng_below(&r, len - 3);

			buf[pos] = (uint8_t) mlp_rng_below(&r, 256);
		}
		if (mlp_rng_below(&r, 4) == 0)
			len = mlp_rng_below(&r, len + 1);
		err[0] = '\0';
		if (mlp_image_decode(buf, len, 64, &d, err, sizeof(err)) == 0)
		{
			decoded++;
			if ((d.channels != 1 && d.channels != 3) || d.height < 1 || d.width < 1 ||
				d.height > 64 || d.width > 64 || !d.data)
				bad++;
			mlp_decoded_image_free(&d);
		}
		else
		{
			refused++;
			if (err[0] == '\0')
				bad++;
		}
		free(buf);
	}
	diag("fuzz: %d decoded, %d refused", decoded, refused);
	ok(refused > 1000 && decoded > 0, "fuzz loop ran without crashing");
	is_int(bad, 0, "decoded images are sane and refusals have messages");
	free(files[0]);
	free(files[1]);
}

int
main(void)
{
	test_png_round_trip();
	test_png_formats();
	test_jpeg();
	test_garbage();
	test_fuzz();
	return tap_done();
}
