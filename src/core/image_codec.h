/*
 * image_codec.h - PNG and JPEG files to planar uint8 images, with libpng and libjpeg.
 *
 * Grey, grey+alpha, RGB, RGBA and palette PNGs (8 and 16 bit, 16 bit scaled down); alpha is
 * dropped, so the result has 1 or 3 channels.  Grey and colour JPEGs (CMYK refused).  Corrupt
 * or truncated files give an error message, never a crash: libpng and libjpeg errors are caught
 * with their setjmp handlers and never reach PostgreSQL.
 */
#ifndef MLP_IMAGE_CODEC_H
#define MLP_IMAGE_CODEC_H

#include <stddef.h>
#include <stdint.h>

typedef struct MlpDecodedImage
{
	int			channels;		/* 1 or 3 */
	int			height;
	int			width;
	uint8_t    *data;			/* malloc'd, planar, channels*height*width bytes */
} MlpDecodedImage;

typedef enum MlpImageFormat
{
	MLP_IMAGE_UNKNOWN,
	MLP_IMAGE_PNG,
	MLP_IMAGE_JPEG
} MlpImageFormat;

MlpImageFormat mlp_image_sniff(const uint8_t *data, size_t len);

/*
 * Decodes a PNG or JPEG file held in memory.  Images with a side larger than max_side are
 * refused before their pixels are decoded.  Returns 0, or -1 with a message in err.
 */
int			mlp_image_decode(const uint8_t *data, size_t len, int max_side,
							 MlpDecodedImage *out, char *err, size_t errlen);

void		mlp_decoded_image_free(MlpDecodedImage *img);

/* Encodes a planar 1- or 3-channel uint8 image as PNG (for tests and fixtures). */
int			mlp_image_encode_png(const uint8_t *planar, int channels, int height, int width,
								 uint8_t **out, size_t *outlen, char *err, size_t errlen);

#endif
