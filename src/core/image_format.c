/*
 * image_format.c - the text and binary forms of the image type (see image_format.h).
 */
#include "image_format.h"

#include <ctype.h>
#include <string.h>

static const char *const dim_names[] = {"channels", "height", "width"};
static const int dim_limits[] = {MLP_MAX_CHANNELS, MLP_IMAGE_FORMAT_MAX_SIDE,
MLP_IMAGE_FORMAT_MAX_SIDE};

const char *
mlp_image_dim_name(MlpImageDim d)
{
	return dim_names[d];
}

int
mlp_image_dim_limit(MlpImageDim d)
{
	return dim_limits[d];
}

int
mlp_image_check_shape(int64_t channels, int64_t height, int64_t width, MlpImageDim *bad)
{
	const int64_t v[3] = {channels, height, width};

	for (int d = 0; d < 3; d++)
		if (v[d] < 1 || v[d] > dim_limits[d])
		{
			*bad = (MlpImageDim) d;
			return -1;
		}
	return 0;
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* One decimal dimension at *p; stops at the first digit that takes it past its limit. */
static MlpImageTextStatus
parse_dimension(const char **p, MlpImageDim dim, int *value, MlpImageText *out)
{
	const char *s = *p;
	long		v = 0;

	if (*s < '0' || *s > '9')
		return MLP_IMAGE_TEXT_SYNTAX;
	while (*s >= '0' && *s <= '9')
	{
		v = v * 10 + (*s - '0');
		if (v > dim_limits[dim])
		{
			const char *end = s;

			while (*end >= '0' && *end <= '9')
				end++;
			out->dim = dim;
			out->digits = *p;
			out->ndigits = (size_t) (end - *p);
			return MLP_IMAGE_TEXT_DIM_TOO_LARGE;
		}
		s++;
	}
	*p = s;
	*value = (int) v;
	return MLP_IMAGE_TEXT_OK;
}

MlpImageTextStatus
mlp_image_text_parse(const char *input, MlpImageText *out)
{
	static const char after[3] = {'x', 'x', ':'};
	const char *p = input;
	int			v[3] = {0, 0, 0};
	size_t		len;

	memset(out, 0, sizeof(*out));
	while (isspace((unsigned char) *p))
		p++;
	for (int d = 0; d < 3; d++)
	{
		MlpImageTextStatus st = parse_dimension(&p, (MlpImageDim) d, &v[d], out);

		if (st != MLP_IMAGE_TEXT_OK)
			return st;
		if (*p != after[d])
			return MLP_IMAGE_TEXT_SYNTAX;
		p++;
	}
	out->channels = v[0];
	out->height = v[1];
	out->width = v[2];
	if (mlp_image_check_shape(v[0], v[1], v[2], &out->dim) != 0)
		return MLP_IMAGE_TEXT_BAD_SHAPE;
	out->nbytes = (size_t) v[0] * v[1] * v[2];
	out->hex = p;
	len = strlen(p);
	while (len > 0 && isspace((unsigned char) p[len - 1]))
		len--;
	out->hex_len = len;
	if (len != 2 * out->nbytes)
		return MLP_IMAGE_TEXT_HEX_LENGTH;
	return MLP_IMAGE_TEXT_OK;
}

MlpImageTextStatus
mlp_image_text_decode(MlpImageText *t, uint8_t *dst)
{
	for (size_t i = 0; i < t->nbytes; i++)
	{
		int			hi = hex_value(t->hex[2 * i]);
		int			lo = hex_value(t->hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
		{
			t->bad_byte = i;
			return MLP_IMAGE_TEXT_NOT_HEX;
		}
		dst[i] = (uint8_t) (hi << 4 | lo);
	}
	return MLP_IMAGE_TEXT_OK;
}

static size_t
decimal_digits(int v)
{
	size_t		n = 1;

	while (v >= 10)
	{
		v /= 10;
		n++;
	}
	return n;
}

size_t
mlp_image_text_length(int channels, int height, int width)
{
	return decimal_digits(channels) + decimal_digits(height) + decimal_digits(width) + 3 +
		2 * (size_t) channels * height * width;
}

static char *
put_decimal(char *out, int v, char after)
{
	size_t		n = decimal_digits(v);

	for (size_t i = n; i > 0; i--)
	{
		out[i - 1] = (char) ('0' + v % 10);
		v /= 10;
	}
	out[n] = after;
	return out + n + 1;
}

void
mlp_image_text_format(const uint8_t *pixels, int channels, int height, int width, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t		nbytes = (size_t) channels * height * width;

	out = put_decimal(out, channels, 'x');
	out = put_decimal(out, height, 'x');
	out = put_decimal(out, width, ':');
	for (size_t i = 0; i < nbytes; i++)
	{
		*out++ = digits[pixels[i] >> 4];
		*out++ = digits[pixels[i] & 15];
	}
	*out = '\0';
}

/* A network-order int32, without relying on how a conversion to a signed type wraps. */
static int32_t
read_int32(const uint8_t *p)
{
	uint32_t	u = (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];

	if (u <= INT32_MAX)
		return (int32_t) u;
	return (int32_t) (u - 2147483648u) + INT32_MIN;
}

MlpImageBinaryStatus
mlp_image_binary_parse(const uint8_t *buf, size_t len, MlpImageBinary *out)
{
	memset(out, 0, sizeof(*out));
	if (len < MLP_IMAGE_BINARY_HEADER_SIZE)
		return MLP_IMAGE_BINARY_SHORT_HEADER;
	out->channels = read_int32(buf);
	out->height = read_int32(buf + 4);
	out->width = read_int32(buf + 8);
	out->pixels = buf + MLP_IMAGE_BINARY_HEADER_SIZE;
	out->pixels_len = len - MLP_IMAGE_BINARY_HEADER_SIZE;
	if (mlp_image_check_shape(out->channels, out->height, out->width, &out->dim) != 0)
		return MLP_IMAGE_BINARY_BAD_SHAPE;
	out->nbytes = (size_t) out->channels * out->height * out->width;
	if (out->pixels_len != out->nbytes)
		return MLP_IMAGE_BINARY_BAD_LENGTH;
	return MLP_IMAGE_BINARY_OK;
}

int
mlp_image_convert_channels(const uint8_t *src, int src_channels, int height, int width,
						   uint8_t *dst, int dst_channels)
{
	size_t		plane = (size_t) height * width;
	int			colour = src_channels >= 3;	/* 2 and 4 carry alpha in their last plane */

	if (src_channels < 1 || src_channels > 4 || (dst_channels != 1 && dst_channels != 3) ||
		height < 1 || width < 1)
		return -1;
	if (dst_channels == 3 && colour)
		memcpy(dst, src, 3 * plane);
	else if (dst_channels == 3)
		for (int c = 0; c < 3; c++)
			memcpy(dst + c * plane, src, plane);
	else if (!colour)
		memcpy(dst, src, plane);
	else
	{
		const uint8_t *r = src,
				   *g = src + plane,
				   *b = src + 2 * plane;

		/* exact: the weights sum to 1000, so the largest value is (255000 + 500) / 1000 */
		for (size_t i = 0; i < plane; i++)
			dst[i] = (uint8_t) ((299u * r[i] + 587u * g[i] + 114u * b[i] + 500u) / 1000u);
	}
	return 0;
}
