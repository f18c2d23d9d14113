/* test_image_format.c - the text and binary forms of the image type (image_in, image_recv) */
#include <stdint.h>
#include <string.h>

#include "image_format.h"
#include "tap.h"

static void
test_text(void)
{
	MlpImageText t;
	uint8_t		px[16];
	char		out[64];

	is_int(mlp_image_text_parse("1x2x2:00ff10a0", &t), MLP_IMAGE_TEXT_OK, "1x2x2:00ff10a0 parses");
	ok(t.channels == 1 && t.height == 2 && t.width == 2 && t.nbytes == 4, "its shape");
	is_int(mlp_image_text_decode(&t, px), MLP_IMAGE_TEXT_OK, "its hex decodes");
	ok(px[0] == 0x00 && px[1] == 0xff && px[2] == 0x10 && px[3] == 0xa0, "to its bytes");
	is_int(mlp_image_text_length(1, 2, 2), 14, "text length of 1x2x2");
	mlp_image_text_format(px, 1, 2, 2, out);
	ok(strcmp(out, "1x2x2:00ff10a0") == 0, "formats back (%s)", out);

	is_int(mlp_image_text_parse(" \t1x1x1:AB \n", &t), MLP_IMAGE_TEXT_OK, "spaces around, upper case");
	mlp_image_text_decode(&t, px);
	is_int(px[0], 0xab, "AB is 0xab");

	is_int(mlp_image_text_parse("", &t), MLP_IMAGE_TEXT_SYNTAX, "empty: syntax");
	is_int(mlp_image_text_parse("1x2:0000", &t), MLP_IMAGE_TEXT_SYNTAX, "two dimensions: syntax");
	is_int(mlp_image_text_parse("1x2x2;00ff10a0", &t), MLP_IMAGE_TEXT_SYNTAX, "no colon: syntax");
	is_int(mlp_image_text_parse("-1x1x1:00", &t), MLP_IMAGE_TEXT_SYNTAX, "a sign: syntax");

	is_int(mlp_image_text_parse("5x1x1:0000000000", &t), MLP_IMAGE_TEXT_DIM_TOO_LARGE, "5 channels");
	ok(t.dim == MLP_IMAGE_DIM_CHANNELS && t.ndigits == 1 && t.digits[0] == '5', "names channels, digit 5");
	is_int(mlp_image_text_parse("1x99999999999x1:00", &t), MLP_IMAGE_TEXT_DIM_TOO_LARGE, "huge height");
	ok(t.dim == MLP_IMAGE_DIM_HEIGHT && t.ndigits == 11, "names height with all 11 digits");
	is_int(mlp_image_text_parse("1x1x4097:00", &t), MLP_IMAGE_TEXT_DIM_TOO_LARGE, "width 4097");
	ok(strcmp(mlp_image_dim_name(t.dim), "width") == 0 && mlp_image_dim_limit(t.dim) == 4096,
	   "width, limit 4096");

	is_int(mlp_image_text_parse("0x2x2:", &t), MLP_IMAGE_TEXT_BAD_SHAPE, "0 channels: bad shape");
	is_int(t.dim, MLP_IMAGE_DIM_CHANNELS, "channels named");
	is_int(mlp_image_text_parse("1x2x0:", &t), MLP_IMAGE_TEXT_BAD_SHAPE, "width 0: bad shape");
	is_int(t.dim, MLP_IMAGE_DIM_WIDTH, "width named");

	is_int(mlp_image_text_parse("1x2x2:00ff10", &t), MLP_IMAGE_TEXT_HEX_LENGTH, "short hex");
	ok(t.hex_len == 6 && t.nbytes == 4, "6 digits of 8");
	is_int(mlp_image_text_parse("1x2x2:00ff10zz", &t), MLP_IMAGE_TEXT_OK, "bad digits parse");
	is_int(mlp_image_text_decode(&t, px), MLP_IMAGE_TEXT_NOT_HEX, "and do not decode");
	is_int(t.bad_byte, 3, "at byte 3");
	is_int(mlp_image_text_parse("1x1x2:0 1 ", &t), MLP_IMAGE_TEXT_HEX_LENGTH, "inner space counts");
}

static void
test_binary(void)
{
	const uint8_t good[] = {0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0xaa, 0xbb};
	const uint8_t neg[] = {0, 0, 0, 1, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xaa};
	const uint8_t big[] = {0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0, 0, 0, 1};
	MlpImageBinary b;

	is_int(mlp_image_binary_parse(good, sizeof(good), &b), MLP_IMAGE_BINARY_OK, "1x1x2 message");
	ok(b.channels == 1 && b.height == 1 && b.width == 2 && b.nbytes == 2 &&
	   b.pixels == good + 12 && b.pixels[1] == 0xbb, "shape and pixels");
	is_int(mlp_image_binary_parse(good, sizeof(good) - 1, &b), MLP_IMAGE_BINARY_BAD_LENGTH,
		   "a byte short");
	ok(b.nbytes == 2 && b.pixels_len == 1, "2 needed, 1 there");
	is_int(mlp_image_binary_parse(good, 8, &b), MLP_IMAGE_BINARY_SHORT_HEADER, "8-byte header");
	is_int(mlp_image_binary_parse(neg, sizeof(neg), &b), MLP_IMAGE_BINARY_BAD_SHAPE, "width -1");
	ok(b.dim == MLP_IMAGE_DIM_WIDTH && b.width == -1, "width named, read as -1");
	is_int(mlp_image_binary_parse(big, sizeof(big), &b), MLP_IMAGE_BINARY_BAD_SHAPE, "2^31-1 channels");
	ok(b.dim == MLP_IMAGE_DIM_CHANNELS && b.channels == INT32_MAX, "channels named");
}

/* Channel conversion (image_convert, mlpscale-load --channels), pixel by pixel. */
static void
test_convert(void)
{
	/* a 1x2 image: planes of 2 pixels */
	const uint8_t grey[2] = {7, 200};
	const uint8_t grey_alpha[4] = {7, 200, 255, 0};
	const uint8_t rgb[6] = {255, 10, 0, 128, 0, 255};
	const uint8_t rgba[8] = {255, 10, 0, 128, 0, 255, 1, 2};
	const uint8_t white_black[6] = {255, 0, 255, 0, 255, 0};
	uint8_t		out[6];
	uint8_t		untouched[6] = {42, 42, 42, 42, 42, 42};

	is_int(mlp_image_convert_channels(grey, 1, 1, 2, out, 3), 0, "1 -> 3 converts");
	ok(memcmp(out, (const uint8_t[]) {7, 200, 7, 200, 7, 200}, 6) == 0, "grey replicated into R, G, B");
	is_int(mlp_image_convert_channels(grey, 1, 1, 2, out, 1), 0, "1 -> 1 converts");
	ok(out[0] == 7 && out[1] == 200, "1 -> 1 is the identity");
	is_int(mlp_image_convert_channels(rgb, 3, 1, 2, out, 3), 0, "3 -> 3 converts");
	ok(memcmp(out, rgb, 6) == 0, "3 -> 3 is the identity");

	/* planar: pixel 0 is (255, 0, 0): .299*255 = 76.245 -> 76; pixel 1 is (10, 128, 255):
	 * 2.99 + 75.136 + 29.07 = 107.196 -> 107 */
	is_int(mlp_image_convert_channels(rgb, 3, 1, 2, out, 1), 0, "3 -> 1 converts");
	ok(out[0] == 76 && out[1] == 107, "BT.601 luma, rounded (%d %d)", out[0], out[1]);
	mlp_image_convert_channels(white_black, 3, 1, 2, out, 1);
	ok(out[0] == 255 && out[1] == 0, "white stays 255, black 0 (%d %d)", out[0], out[1]);
	{
		/* 0.299*1 + 0.587*1 + 0.114*0 = 0.886 -> 1; 0.114*5 = 0.57 -> 1; 0.299*1 = 0.299 -> 0 */
		const uint8_t small[9] = {1, 0, 1, 1, 0, 0, 0, 5, 0};

		mlp_image_convert_channels(small, 3, 1, 3, out, 1);
		ok(out[0] == 1 && out[1] == 1 && out[2] == 0, "rounding near 0 (%d %d %d)", out[0],
		   out[1], out[2]);
	}
	{
		/* (0, 0, 250): .114*250 = 28.5 exactly, which rounds half up to 29 */
		const uint8_t half[3] = {0, 0, 250};

		mlp_image_convert_channels(half, 3, 1, 1, out, 1);
		is_int(out[0], 29, "an exact half (28.5) rounds up");
	}

	is_int(mlp_image_convert_channels(grey_alpha, 2, 1, 2, out, 1), 0, "2 -> 1 converts");
	ok(out[0] == 7 && out[1] == 200, "grey+alpha -> grey drops alpha");
	is_int(mlp_image_convert_channels(grey_alpha, 2, 1, 2, out, 3), 0, "2 -> 3 converts");
	ok(memcmp(out, (const uint8_t[]) {7, 200, 7, 200, 7, 200}, 6) == 0, "grey+alpha -> RGB");
	is_int(mlp_image_convert_channels(rgba, 4, 1, 2, out, 3), 0, "4 -> 3 converts");
	ok(memcmp(out, rgb, 6) == 0, "RGBA -> RGB drops alpha");
	is_int(mlp_image_convert_channels(rgba, 4, 1, 2, out, 1), 0, "4 -> 1 converts");
	ok(out[0] == 76 && out[1] == 107, "RGBA -> grey: luma of RGB");

	is_int(mlp_image_convert_channels(rgb, 3, 1, 2, untouched, 2), -1, "3 -> 2 refused");
	is_int(mlp_image_convert_channels(rgb, 3, 1, 2, untouched, 4), -1, "3 -> 4 refused");
	is_int(mlp_image_convert_channels(rgb, 3, 1, 2, untouched, 0), -1, "3 -> 0 refused");
	is_int(mlp_image_convert_channels(rgb, 5, 1, 2, untouched, 3), -1, "5 -> 3 refused");
	is_int(mlp_image_convert_channels(rgb, 0, 1, 2, untouched, 3), -1, "0 -> 3 refused");
	ok(untouched[0] == 42 && untouched[5] == 42, "a refused conversion leaves dst alone");
}

int
main(void)
{
	test_text();
	test_binary();
	test_convert();
	return tap_done();
}
