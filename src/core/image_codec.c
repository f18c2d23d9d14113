/*
 * image_codec.c - PNG (libpng) and JPEG (libjpeg) decoding into planar uint8 images.
 *
 * Both libraries report errors by calling an error hook that must not return; ours records the
 * message and longjmps back to the decoder, which frees everything it allocated.  State that
 * changes after setjmp lives in a context struct reached through a pointer that itself does
 * not change, so the longjmp cannot leave a stale copy in a register.
 */
#include "image_codec.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>
#include <jpeglib.h>
#include <jerror.h>

/* JPEG's format limit; also the cap when the caller gives no max_side. */
#define MLP_IMAGE_MAX_SIDE 65500

__attribute__((format(printf, 3, 4)))
static void
set_err(char *err, size_t errlen, const char *fmt,...)
{
	va_list		ap;

	if (err && errlen > 0)
	{
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
}

MlpImageFormat
mlp_image_sniff(const uint8_t *data, size_t len)
{
	static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

	if (len >= 8 && memcmp(data, png_sig, 8) == 0)
		return MLP_IMAGE_PNG;
	if (len >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)
		return MLP_IMAGE_JPEG;
	return MLP_IMAGE_UNKNOWN;
}

void
mlp_decoded_image_free(MlpDecodedImage *img)
{
	if (!img)
		return;
	free(img->data);
	memset(img, 0, sizeof(*img));
}

/* Interleaved rows (channels per pixel, stride bytes per row) to planar. */
static void
deinterleave(const uint8_t *src, size_t stride, int channels, int height, int width, uint8_t *dst)
{
	size_t		plane = (size_t) height * width;

	for (int y = 0; y < height; y++)
	{
		const uint8_t *row = src + (size_t) y * stride;

		if (channels == 1)
			memcpy(dst + (size_t) y * width, row, (size_t) width);
		else if (channels == 3)
		{
			/* the common case, written so that the compiler vectorises it */
			uint8_t    *restrict r = dst + (size_t) y * width;
			uint8_t    *restrict g = r + plane;
			uint8_t    *restrict b = g + plane;

			for (int x = 0; x < width; x++)
			{
				r[x] = row[3 * x];
				g[x] = row[3 * x + 1];
				b[x] = row[3 * x + 2];
			}
		}
		else
			for (int x = 0; x < width; x++)
				for (int c = 0; c < channels; c++)
					dst[c * plane + (size_t) y * width + x] = row[(size_t) x * channels + c];
	}
}

static int
effective_max_side(int max_side)
{
	return max_side > 0 && max_side < MLP_IMAGE_MAX_SIDE ? max_side : MLP_IMAGE_MAX_SIDE;
}

/* ---- PNG ----------------------------------------------------------------------------- */

typedef struct PngContext
{
	jmp_buf		jmp;
	char		msg[200];
	const uint8_t *data;
	size_t		len;
	size_t		pos;
	png_bytep	pixels;			/* interleaved decode buffer */
	png_bytepp	rows;
	int			limit;			/* largest side accepted */
	bool		too_large;
	/* encoding */
	uint8_t    *out;
	size_t		out_len;
	size_t		out_cap;
	bool		out_failed;
} PngContext;

static void
png_error_hook(png_structp png, png_const_charp msg)
{
	PngContext *ctx = png_get_error_ptr(png);

	snprintf(ctx->msg, sizeof(ctx->msg), "%s", msg);
	longjmp(ctx->jmp, 1);
}

static void
png_warning_hook(png_structp png, png_const_charp msg)
{
	(void) png;
	(void) msg;
}

static void
png_read_hook(png_structp png, png_bytep out, size_t n)
{
	PngContext *ctx = png_get_io_ptr(png);

	if (n > ctx->len - ctx->pos)
		png_error(png, "file is truncated");
	memcpy(out, ctx->data + ctx->pos, n);
	ctx->pos += n;
}

static int
decode_png(const uint8_t *data, size_t len, int max_side, MlpDecodedImage *out,
		   char *err, size_t errlen)
{
	PngContext *ctx = calloc(1, sizeof(PngContext));
	png_structp png = NULL;
	png_infop	info = NULL;
	png_uint_32 width,
				height;
	int			bit_depth,
				color_type,
				channels;
	size_t		rowbytes;

	if (!ctx)
	{
		set_err(err, errlen, "out of memory decoding a PNG image");
		return -1;
	}
	ctx->data = data;
	ctx->len = len;
	ctx->limit = effective_max_side(max_side);
	png = png_create_read_struct(PNG_LIBPNG_VER_STRING, ctx, png_error_hook, png_warning_hook);
	if (png)
		info = png_create_info_struct(png);
	if (!png || !info)
	{
		png_destroy_read_struct(&png, &info, NULL);
		free(ctx);
		set_err(err, errlen, "out of memory decoding a PNG image");
		return -1;
	}
	if (setjmp(ctx->jmp))
	{
		if (ctx->too_large)
			set_err(err, errlen, "%s", ctx->msg);
		else
			set_err(err, errlen, "invalid PNG: %s", ctx->msg);
		free(out->data);
		out->data = NULL;
		png_destroy_read_struct(&png, &info, NULL);
		free(ctx->rows);
		free(ctx->pixels);
		free(ctx);
		return -1;
	}
	png_set_read_fn(png, ctx, png_read_hook);
	/* the header is read before any pixel buffer exists, so large images cost nothing */
	png_set_user_limits(png, MLP_IMAGE_MAX_SIDE, MLP_IMAGE_MAX_SIDE);
	png_read_info(png, info);
	png_get_IHDR(png, info, &width, &height, &bit_depth, &color_type, NULL, NULL, NULL);
	if (width > (png_uint_32) ctx->limit || height > (png_uint_32) ctx->limit)
	{
		snprintf(ctx->msg, sizeof(ctx->msg), "image is %ux%u pixels; the largest side allowed is %d",
				 (unsigned) width, (unsigned) height, ctx->limit);
		ctx->too_large = true;
		longjmp(ctx->jmp, 1);
	}

	/* to 8-bit grey or RGB, whatever the stored format */
	if (bit_depth == 16)
		png_set_scale_16(png);
	if (color_type == PNG_COLOR_TYPE_PALETTE)
		png_set_palette_to_rgb(png);
	if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8)
		png_set_expand_gray_1_2_4_to_8(png);
	/* palette expansion turns a tRNS chunk into an alpha channel, which goes like any alpha */
	if ((color_type & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS))
		png_set_strip_alpha(png);
	png_set_interlace_handling(png);
	png_read_update_info(png, info);
	channels = png_get_channels(png, info);
	rowbytes = png_get_rowbytes(png, info);
	if ((channels != 1 && channels != 3) || rowbytes < (size_t) width * channels)
		png_error(png, "unexpected pixel layout after conversion");

	ctx->pixels = malloc(rowbytes * height);
	ctx->rows = malloc(sizeof(png_bytep) * height);
	out->data = malloc((size_t) channels * width * height);
	if (!ctx->pixels || !ctx->rows || !out->data)
	{
		free(out->data);
		out->data = NULL;
		png_error(png, "out of memory");
	}
	for (png_uint_32 y = 0; y < height; y++)
		ctx->rows[y] = ctx->pixels + (size_t) y * rowbytes;
	png_read_image(png, ctx->rows);
	png_read_end(png, NULL);

	deinterleave(ctx->pixels, rowbytes, channels, (int) height, (int) width, out->data);
	out->channels = channels;
	out->height = (int) height;
	out->width = (int) width;
	png_destroy_read_struct(&png, &info, NULL);
	free(ctx->rows);
	free(ctx->pixels);
	free(ctx);
	return 0;
}

/* ---- JPEG ---------------------------------------------------------------------------- */

typedef struct JpegContext
{
	struct jpeg_error_mgr pub;	/* first, so the library's error pointer is ours */
	struct jpeg_decompress_struct cinfo;	/* here, not on the stack: setjmp-safe */
	jmp_buf		jmp;
	char		msg[JMSG_LENGTH_MAX];
	uint8_t    *pixels;
	JSAMPROW   *rows;
	int			limit;			/* largest side accepted */
} JpegContext;

static void
jpeg_error_hook(j_common_ptr cinfo)
{
	JpegContext *ctx = (JpegContext *) cinfo->err;

	(*cinfo->err->format_message) (cinfo, ctx->msg);
	longjmp(ctx->jmp, 1);
}

/*
 * libjpeg's warnings: a truncated file is only a warning to libjpeg, which pads it with grey;
 * we refuse it like any other corrupt input.  Other warnings (stray bytes between markers and
 * the like) are tolerated, as image viewers do.
 */
static void
jpeg_message_hook(j_common_ptr cinfo, int msg_level)
{
	if (msg_level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF)
		jpeg_error_hook(cinfo);
}

static void
jpeg_output_hook(j_common_ptr cinfo)
{
	(void) cinfo;
}

static int
decode_jpeg(const uint8_t *data, size_t len, int max_side, MlpDecodedImage *out,
			char *err, size_t errlen)
{
	JpegContext *ctx = calloc(1, sizeof(JpegContext));
	struct jpeg_decompress_struct *cinfo;
	int			channels;
	size_t		stride;

	if (!ctx)
	{
		set_err(err, errlen, "out of memory decoding a JPEG image");
		return -1;
	}
	cinfo = &ctx->cinfo;
	ctx->limit = effective_max_side(max_side);
	cinfo->err = jpeg_std_error(&ctx->pub);
	ctx->pub.error_exit = jpeg_error_hook;
	ctx->pub.emit_message = jpeg_message_hook;
	ctx->pub.output_message = jpeg_output_hook;
	if (setjmp(ctx->jmp))
	{
		set_err(err, errlen, "invalid JPEG: %s", ctx->msg);
		goto fail;
	}
	jpeg_create_decompress(cinfo);
	/* bounds the coefficient buffers of progressive files as well */
	cinfo->mem->max_memory_to_use = 512L * 1024 * 1024;
	jpeg_mem_src(cinfo, data, (unsigned long) len);
	jpeg_read_header(cinfo, TRUE);

	if (cinfo->image_width > (JDIMENSION) ctx->limit ||
		cinfo->image_height > (JDIMENSION) ctx->limit)
	{
		set_err(err, errlen, "image is %ux%u pixels; the largest side allowed is %d",
				(unsigned) cinfo->image_width, (unsigned) cinfo->image_height, ctx->limit);
		goto fail;
	}
	if (cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK)
	{
		set_err(err, errlen, "%s JPEG images are not supported; convert them to RGB",
				cinfo->jpeg_color_space == JCS_CMYK ? "CMYK" : "YCCK");
		goto fail;
	}
	cinfo->out_color_space = cinfo->num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
	jpeg_start_decompress(cinfo);
	channels = cinfo->output_components;
	if (channels != 1 && channels != 3)
	{
		set_err(err, errlen, "JPEG images with %d colour components are not supported", channels);
		goto fail;
	}
	stride = (size_t) cinfo->output_width * channels;
	ctx->pixels = malloc(stride * cinfo->output_height);
	ctx->rows = malloc(sizeof(JSAMPROW) * cinfo->output_height);
	out->data = malloc(stride * cinfo->output_height);
	if (!ctx->pixels || !ctx->rows || !out->data)
		ERREXIT(cinfo, JERR_OUT_OF_MEMORY);
	for (JDIMENSION y = 0; y < cinfo->output_height; y++)
		ctx->rows[y] = ctx->pixels + (size_t) y * stride;

	/*
	 * All the remaining rows asked for in each call (libjpeg returns what it has): one row
	 * per call went through libjpeg's controllers and colour conversion once per row, a
	 * sixth of the decoding time of a 64x64 JPEG.  The pixels are the same.
	 */
	while (cinfo->output_scanline < cinfo->output_height)
		jpeg_read_scanlines(cinfo, ctx->rows + cinfo->output_scanline,
							cinfo->output_height - cinfo->output_scanline);
	jpeg_finish_decompress(cinfo);

	deinterleave(ctx->pixels, stride, channels, (int) cinfo->output_height,
				 (int) cinfo->output_width, out->data);
	out->channels = channels;
	out->height = (int) cinfo->output_height;
	out->width = (int) cinfo->output_width;
	jpeg_destroy_decompress(cinfo);
	free(ctx->rows);
	free(ctx->pixels);
	free(ctx);
	return 0;

fail:
	free(out->data);
	out->data = NULL;
	jpeg_destroy_decompress(cinfo);
	free(ctx->rows);
	free(ctx->pixels);
	free(ctx);
	return -1;
}

int
mlp_image_decode(const uint8_t *data, size_t len, int max_side, MlpDecodedImage *out,
				 char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	switch (mlp_image_sniff(data, len))
	{
		case MLP_IMAGE_PNG:
			return decode_png(data, len, max_side, out, err, errlen);
		case MLP_IMAGE_JPEG:
			return decode_jpeg(data, len, max_side, out, err, errlen);
		case MLP_IMAGE_UNKNOWN:
			break;
	}
	set_err(err, errlen, "unrecognised image format: %zu bytes that are neither PNG nor JPEG", len);
	return -1;
}

/* ---- PNG encoding -------------------------------------------------------------------- */

static void
png_write_hook(png_structp png, png_bytep src, size_t n)
{
	PngContext *ctx = png_get_io_ptr(png);

	if (ctx->out_len + n > ctx->out_cap)
	{
		size_t		cap = ctx->out_cap ? ctx->out_cap : 4096;
		uint8_t    *p;

		while (ctx->out_len + n > cap)
			cap *= 2;
		p = realloc(ctx->out, cap);
		if (!p)
			png_error(png, "out of memory");
		ctx->out = p;
		ctx->out_cap = cap;
	}
	memcpy(ctx->out + ctx->out_len, src, n);
	ctx->out_len += n;
}

static void
png_flush_hook(png_structp png)
{
	(void) png;
}

int
mlp_image_encode_png(const uint8_t *planar, int channels, int height, int width,
					 uint8_t **out, size_t *outlen, char *err, size_t errlen)
{
	PngContext *ctx;
	png_structp png = NULL;
	png_infop	info = NULL;
	size_t		plane = (size_t) height * width;

	*out = NULL;
	*outlen = 0;
	if ((channels != 1 && channels != 3) || height < 1 || width < 1 ||
		height > MLP_IMAGE_MAX_SIDE || width > MLP_IMAGE_MAX_SIDE)
	{
		set_err(err, errlen, "cannot encode a %d-channel %dx%d image as PNG (1 or 3 channels, "
				"sides 1 to %d)", channels, height, width, MLP_IMAGE_MAX_SIDE);
		return -1;
	}
	ctx = calloc(1, sizeof(PngContext));
	if (!ctx)
	{
		set_err(err, errlen, "out of memory encoding a PNG image");
		return -1;
	}
	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, ctx, png_error_hook, png_warning_hook);
	if (png)
		info = png_create_info_struct(png);
	if (!png || !info)
	{
		png_destroy_write_struct(&png, &info);
		free(ctx);
		set_err(err, errlen, "out of memory encoding a PNG image");
		return -1;
	}
	if (setjmp(ctx->jmp))
	{
		set_err(err, errlen, "PNG encoding failed: %s", ctx->msg);
		png_destroy_write_struct(&png, &info);
		free(ctx->pixels);
		free(ctx->out);
		free(ctx);
		return -1;
	}
	png_set_write_fn(png, ctx, png_write_hook, png_flush_hook);
	png_set_IHDR(png, info, (png_uint_32) width, (png_uint_32) height, 8,
				 channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
				 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	ctx->pixels = malloc((size_t) width * channels);
	if (!ctx->pixels)
		png_error(png, "out of memory");
	for (int y = 0; y < height; y++)
	{
		for (int x = 0; x < width; x++)
			for (int c = 0; c < channels; c++)
				ctx->pixels[(size_t) x * channels + c] = planar[c * plane + (size_t) y * width + x];
		png_write_row(png, ctx->pixels);
	}
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &info);
	*out = ctx->out;
	*outlen = ctx->out_len;
	free(ctx->pixels);
	free(ctx);
	return 0;
}
