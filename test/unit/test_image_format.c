/* test_image_format.c - the text and binary forms of the image type (image_in, image_recv) */
#include <stdint.h>

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

int
main(void)
{
	test_text();
	test_binary();
	return tap_done();
}
