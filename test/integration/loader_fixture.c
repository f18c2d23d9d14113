/*
 * loader_fixture.c - writes small synthetic inputs for test/integration/50_loader.sh and
 * prints the text form (CxHxW:hex) the image type should show for them.
 *
 * Pixel i (planar order) of the image with seed k is (31*k + 7*i) mod 256, so the test can
 * predict every stored byte.  PNG and JPEG files are written with libpng and libjpeg
 * directly, independently of the decoder under test.
 *
 *   idx IMAGES LABELS N ROWS COLS NLABELS   IDX files, image k has seed k, label k % 10
 *   cifar FILE N 10|100 FIRST               CIFAR-10/100 records, seeds FIRST..; CIFAR-10
 *                                           label k % 10; CIFAR-100 coarse k % 20, fine k % 100
 *   png FILE C H W SEED                     a grey (C=1), grey+alpha (2), RGB (3) or RGBA (4)
 *                                           PNG
 *   jpeg FILE C H W SEED                    a grey or RGB JPEG (quality 95)
 *   text C H W SEED                         prints the text form of that image
 *   tree DIR CLASSES N H W [photo]          the benchmark's tree: DIR/cNNN/images/NNNNNN.JPEG,
 *                                           N RGB JPEGs of H x W per class (Tiny-ImageNet's
 *                                           layout), seeds numbered across the tree; "photo"
 *                                           writes photo-like images instead of the pattern
 *
 * The pattern repeats every 256 bytes, so its pixels compress 22x with lz4, where photographs
 * hardly compress at all; a photo-like image (photo_like below) is smooth shapes with
 * sensor-like noise: its pixels do not compress with lz4 and its JPEG (quality 90) is about
 * the size of Tiny-ImageNet's, so the benchmark pays for TOAST and entropy decoding as real
 * trees do.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jpeglib.h>			/* needs stddef.h and stdio.h first */
#include <png.h>

static uint8_t
pixel(int seed, long i)
{
	return (uint8_t) ((31L * seed + 7L * i) & 255);
}

static void
put_be32(FILE *f, uint32_t v)
{
	uint8_t		b[4] = {(uint8_t) (v >> 24), (uint8_t) (v >> 16), (uint8_t) (v >> 8), (uint8_t) v};

	fwrite(b, 1, 4, f);
}

static FILE *
open_or_die(const char *path)
{
	FILE	   *f = fopen(path, "wb");

	if (!f)
	{
		perror(path);
		exit(1);
	}
	return f;
}

static int
write_idx(const char *images, const char *labels, int n, int rows, int cols, int nlabels)
{
	FILE	   *f = open_or_die(images);

	put_be32(f, 0x00000803);
	put_be32(f, (uint32_t) n);
	put_be32(f, (uint32_t) rows);
	put_be32(f, (uint32_t) cols);
	for (int k = 0; k < n; k++)
		for (long i = 0; i < (long) rows * cols; i++)
			fputc(pixel(k, i), f);
	fclose(f);
	f = open_or_die(labels);
	put_be32(f, 0x00000801);
	put_be32(f, (uint32_t) nlabels);
	for (int k = 0; k < nlabels; k++)
		fputc(k % 10, f);
	fclose(f);
	return 0;
}

static int
write_cifar(const char *path, int n, int classes, int first)
{
	FILE	   *f = open_or_die(path);

	for (int k = first; k < first + n; k++)
	{
		if (classes == 100)
		{
			fputc(k % 20, f);
			fputc(k % 100, f);
		}
		else
			fputc(k % 10, f);
		for (long i = 0; i < 3072; i++)
			fputc(pixel(k, i), f);
	}
	fclose(f);
	return 0;
}

/* Interleaved (row, column, channel) copy of the planar test pattern. */
static uint8_t *
interleaved(int c, int h, int w, int seed)
{
	uint8_t    *p = malloc((size_t) c * h * w);

	for (int ch = 0; ch < c; ch++)
		for (long i = 0; i < (long) h * w; i++)
			p[i * c + ch] = pixel(seed, (long) ch * h * w + i);
	return p;
}

static int
write_png(const char *path, int c, int h, int w, int seed)
{
	png_image	img;
	uint8_t    *p = interleaved(c, h, w, seed);

	memset(&img, 0, sizeof(img));
	img.version = PNG_IMAGE_VERSION;
	img.width = (png_uint_32) w;
	img.height = (png_uint_32) h;
	img.format = c == 1 ? PNG_FORMAT_GRAY : c == 2 ? PNG_FORMAT_GA : c == 3 ? PNG_FORMAT_RGB :
		PNG_FORMAT_RGBA;
	if (!png_image_write_to_file(&img, path, 0, p, 0, NULL))
	{
		fprintf(stderr, "%s: %s\n", path, img.message);
		return 1;
	}
	free(p);
	return 0;
}

/* A deterministic 32-bit hash (splitmix-like) for the photo-like images. */
static uint32_t
mix(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352dU;
	x ^= x >> 15;
	x *= 0x846ca68bU;
	x ^= x >> 16;
	return x;
}

/*
 * Interleaved RGB of a photo-like image: a colour gradient and three soft discs of random
 * colour, position and radius, plus uniform noise of +-14 on every sample.
 */
static uint8_t *
photo_like(int h, int w, int seed)
{
	uint8_t    *p = malloc((size_t) 3 * h * w);
	uint32_t	r = mix((uint32_t) seed * 2654435761U + 1);
	double		base[3],
				grad[3];
	double		cx[3],
				cy[3],
				rad[3],
				col[3][3];

#define NEXT() (r = mix(r + 0x9e3779b9U), (double) (r & 0xffff) / 65536.0)
	for (int ch = 0; ch < 3; ch++)
	{
		base[ch] = 40 + 150 * NEXT();
		grad[ch] = 80 * (NEXT() - 0.5);
	}
	for (int d = 0; d < 3; d++)
	{
		cx[d] = w * NEXT();
		cy[d] = h * NEXT();
		rad[d] = (h < w ? h : w) * (0.15 + 0.3 * NEXT());
		for (int ch = 0; ch < 3; ch++)
			col[d][ch] = 200 * (NEXT() - 0.5);
	}
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++)
			for (int ch = 0; ch < 3; ch++)
			{
				double		v = base[ch] + grad[ch] * ((double) x / w + (double) y / h - 1);

				for (int d = 0; d < 3; d++)
				{
					double		dx = x - cx[d],
								dy = y - cy[d];
					double		t = 1 - (dx * dx + dy * dy) / (rad[d] * rad[d]);

					if (t > 0)
						v += col[d][ch] * (t < 0.3 ? t / 0.3 : 1);
				}
				v += (double) (mix(r ^ (uint32_t) ((y * w + x) * 3 + ch)) % 29) - 14;
				p[((size_t) y * w + x) * 3 + ch] = (uint8_t) (v < 0 ? 0 : v > 255 ? 255 : v);
			}
#undef NEXT
	return p;
}

static int
write_jpeg_pixels(const char *path, int c, int h, int w, uint8_t *p, int quality)
{
	struct jpeg_compress_struct cinfo;
	struct jpeg_error_mgr jerr;
	FILE	   *f = open_or_die(path);

	cinfo.err = jpeg_std_error(&jerr);
	jpeg_create_compress(&cinfo);
	jpeg_stdio_dest(&cinfo, f);
	cinfo.image_width = (JDIMENSION) w;
	cinfo.image_height = (JDIMENSION) h;
	cinfo.input_components = c;
	cinfo.in_color_space = c == 1 ? JCS_GRAYSCALE : JCS_RGB;
	jpeg_set_defaults(&cinfo);
	jpeg_set_quality(&cinfo, quality, TRUE);
	jpeg_start_compress(&cinfo, TRUE);
	while (cinfo.next_scanline < cinfo.image_height)
	{
		JSAMPROW	row = p + (size_t) cinfo.next_scanline * w * c;

		jpeg_write_scanlines(&cinfo, &row, 1);
	}
	jpeg_finish_compress(&cinfo);
	jpeg_destroy_compress(&cinfo);
	fclose(f);
	free(p);
	return 0;
}

static int
write_jpeg(const char *path, int c, int h, int w, int seed)
{
	return write_jpeg_pixels(path, c, h, w, interleaved(c, h, w, seed), 95);
}

static int
print_text(int c, int h, int w, int seed)
{
	printf("%dx%dx%d:", c, h, w);
	for (long i = 0; i < (long) c * h * w; i++)
		printf("%02x", pixel(seed, i));
	printf("\n");
	return 0;
}

static int
write_tree(const char *dir, int classes, int n, int h, int w, int photo)
{
	char		path[4096];

	mkdir(dir, 0777);
	for (int c = 0; c < classes; c++)
	{
		snprintf(path, sizeof(path), "%s/c%03d", dir, c);
		mkdir(path, 0777);
		snprintf(path, sizeof(path), "%s/c%03d/images", dir, c);
		mkdir(path, 0777);
		for (int k = 0; k < n; k++)
		{
			snprintf(path, sizeof(path), "%s/c%03d/images/%06d.JPEG", dir, c, c * n + k);
			if ((photo ? write_jpeg_pixels(path, 3, h, w, photo_like(h, w, c * n + k), 90) :
				 write_jpeg(path, 3, h, w, c * n + k)) != 0)
				return 1;
		}
	}
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 8 && strcmp(argv[1], "idx") == 0)
		return write_idx(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]), atoi(argv[6]),
						 atoi(argv[7]));
	if (argc == 6 && strcmp(argv[1], "cifar") == 0)
		return write_cifar(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
	if (argc == 7 && strcmp(argv[1], "png") == 0)
		return write_png(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), atoi(argv[6]));
	if (argc == 7 && strcmp(argv[1], "jpeg") == 0)
		return write_jpeg(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), atoi(argv[6]));
	if ((argc == 7 || (argc == 8 && strcmp(argv[7], "photo") == 0)) &&
		strcmp(argv[1], "tree") == 0)
		return write_tree(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), atoi(argv[6]),
						  argc == 8);
	if (argc == 6 && strcmp(argv[1], "text") == 0)
		return print_text(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
	fprintf(stderr, "usage: see the comment at the top of loader_fixture.c\n");
	return 2;
}
