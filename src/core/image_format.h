/*
 * image_format.h - parsing and checking the text and binary forms of the image type, in
 * plain C so that the fuzzers reach them without a server.
 *
 *   text:    [spaces]CxHxW:hex[spaces]   e.g. 1x2x2:00ff10a0 (hex digits of either case)
 *   binary:  int32 channels, int32 height, int32 width (network order), then exactly
 *            channels*height*width pixel bytes
 *
 * Both accept at most MLP_MAX_CHANNELS channels and sides of 1 to MLP_IMAGE_FORMAT_MAX_SIDE.
 * The functions only report what is wrong (a status and the values involved); the caller
 * words the message, so src/image_type.c keeps the server's messages and error codes.
 * Nothing here allocates.
 */
#ifndef MLP_IMAGE_FORMAT_H
#define MLP_IMAGE_FORMAT_H

#include <stddef.h>
#include <stdint.h>

/* The channels of an image, and so of a model's input and its per-channel mean and std. */
#define MLP_MAX_CHANNELS 4
#define MLP_IMAGE_FORMAT_MAX_SIDE 4096
#define MLP_IMAGE_BINARY_HEADER_SIZE 12

typedef enum MlpImageDim
{
	MLP_IMAGE_DIM_CHANNELS,
	MLP_IMAGE_DIM_HEIGHT,
	MLP_IMAGE_DIM_WIDTH
} MlpImageDim;

/* "channels", "height", "width" */
const char *mlp_image_dim_name(MlpImageDim d);

/* The largest value of a dimension (4 channels, 4096 a side). */
int			mlp_image_dim_limit(MlpImageDim d);

/* 0 when 1 <= c <= 4 and 1 <= h, w <= 4096; else -1 with the first bad dimension in *bad. */
int			mlp_image_check_shape(int64_t channels, int64_t height, int64_t width,
								  MlpImageDim *bad);

typedef enum MlpImageTextStatus
{
	MLP_IMAGE_TEXT_OK = 0,
	MLP_IMAGE_TEXT_SYNTAX,		/* not CxHxW:hex */
	MLP_IMAGE_TEXT_DIM_TOO_LARGE,	/* the digits of dim exceed its limit (digits, ndigits) */
	MLP_IMAGE_TEXT_BAD_SHAPE,	/* a dimension out of range after parsing (dim) */
	MLP_IMAGE_TEXT_HEX_LENGTH,	/* hex_len is not 2 * nbytes */
	MLP_IMAGE_TEXT_NOT_HEX		/* from mlp_image_text_decode: bad_byte is no hex byte */
} MlpImageTextStatus;

typedef struct MlpImageText
{
	int			channels;
	int			height;
	int			width;
	size_t		nbytes;			/* channels * height * width, once the shape is valid */
	const char *hex;			/* first hex digit, in the input */
	size_t		hex_len;		/* digits up to the trailing spaces */
	MlpImageDim dim;			/* DIM_TOO_LARGE, BAD_SHAPE: the dimension */
	const char *digits;			/* DIM_TOO_LARGE: the whole run of digits, in the input */
	size_t		ndigits;
	size_t		bad_byte;		/* NOT_HEX: index of the pixel byte (hex + 2 * bad_byte) */
} MlpImageText;

/*
 * Parses the shape of a NUL-terminated text form and checks the hex length; the checks run
 * in this order: syntax and size of each dimension as it is read, the shape, the number of
 * hex digits.  Fills what it found into *out.
 */
MlpImageTextStatus mlp_image_text_parse(const char *input, MlpImageText *out);

/* Decodes the nbytes pixel bytes of a parsed text form into dst (nbytes long). */
MlpImageTextStatus mlp_image_text_decode(MlpImageText *t, uint8_t *dst);

/* Length of the text form of an image of this shape, without the NUL. */
size_t		mlp_image_text_length(int channels, int height, int width);

/* Writes the text form (lowercase hex) and a NUL into out, mlp_image_text_length() + 1 bytes. */
void		mlp_image_text_format(const uint8_t *pixels, int channels, int height, int width,
								  char *out);

typedef enum MlpImageBinaryStatus
{
	MLP_IMAGE_BINARY_OK = 0,
	MLP_IMAGE_BINARY_SHORT_HEADER,	/* fewer than 12 bytes */
	MLP_IMAGE_BINARY_BAD_SHAPE, /* dim out of range */
	MLP_IMAGE_BINARY_BAD_LENGTH /* pixels_len is not nbytes */
} MlpImageBinaryStatus;

typedef struct MlpImageBinary
{
	int32_t		channels;
	int32_t		height;
	int32_t		width;
	size_t		nbytes;			/* channels * height * width, once the shape is valid */
	const uint8_t *pixels;		/* in the input, after the header */
	size_t		pixels_len;		/* bytes after the header */
	MlpImageDim dim;			/* BAD_SHAPE: the dimension */
} MlpImageBinary;

/* Parses and checks the binary form in buf[0..len). */
MlpImageBinaryStatus mlp_image_binary_parse(const uint8_t *buf, size_t len, MlpImageBinary *out);

/*
 * Channel conversion of a planar image, for image_convert() and mlpscale-load --channels.
 * The source has 1 (grey), 2 (grey+alpha), 3 (RGB) or 4 (RGBA) channels, the result 1 or 3:
 * alpha is dropped, grey is replicated into R, G and B, and RGB becomes grey by the ITU-R
 * BT.601 luma weights, rounded half up: (299 R + 587 G + 114 B + 500) / 1000.  dst holds
 * dst_channels * height * width bytes and must not overlap src.  Returns 0, or -1 (dst
 * untouched) when either channel count is not one of those.
 */
int			mlp_image_convert_channels(const uint8_t *src, int src_channels, int height,
									   int width, uint8_t *dst, int dst_channels);

#endif
