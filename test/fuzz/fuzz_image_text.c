/*
 * fuzz_image_text.c - the text input of the image type (image_in) on any string: parse,
 * then decode the hex into a buffer of the size the parse reported.  An accepted text must
 * format (image_out) to a text that parses to the same shape and pixels.
 */
#include "fuzz.h"
#include "image_format.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *s = fuzz_cstring(data, size);
	MlpImageText t,
				t2;
	MlpImageTextStatus st = mlp_image_text_parse(s, &t);
	uint8_t    *pixels,
			   *again;
	char	   *out;
	size_t		outlen;

	switch (st)
	{
		case MLP_IMAGE_TEXT_OK:
			break;
		case MLP_IMAGE_TEXT_DIM_TOO_LARGE:
			FUZZ_CHECK(t.digits >= s && t.digits + t.ndigits <= s + size && t.ndigits > 0);
			FUZZ_CHECK(mlp_image_dim_name(t.dim) != NULL);
			free(s);
			return 0;
		case MLP_IMAGE_TEXT_BAD_SHAPE:
			{
				MlpImageDim d;

				FUZZ_CHECK(mlp_image_check_shape(t.channels, t.height, t.width, &d) != 0);
				FUZZ_CHECK(d == t.dim);
				free(s);
				return 0;
			}
		case MLP_IMAGE_TEXT_HEX_LENGTH:
			FUZZ_CHECK(t.hex_len != 2 * t.nbytes && t.hex + t.hex_len <= s + size);
			free(s);
			return 0;
		default:
			free(s);
			return 0;
	}
	FUZZ_CHECK(t.nbytes == (size_t) t.channels * t.height * t.width && t.nbytes > 0);
	FUZZ_CHECK(t.hex >= s && t.hex + t.hex_len <= s + size && t.hex_len == 2 * t.nbytes);
	pixels = malloc(t.nbytes);
	FUZZ_CHECK(pixels != NULL);
	if (mlp_image_text_decode(&t, pixels) != MLP_IMAGE_TEXT_OK)
	{
		FUZZ_CHECK(t.bad_byte < t.nbytes);
		free(pixels);
		free(s);
		return 0;
	}

	outlen = mlp_image_text_length(t.channels, t.height, t.width);
	out = malloc(outlen + 1);
	FUZZ_CHECK(out != NULL);
	mlp_image_text_format(pixels, t.channels, t.height, t.width, out);
	FUZZ_CHECK(strlen(out) == outlen);
	FUZZ_CHECK(mlp_image_text_parse(out, &t2) == MLP_IMAGE_TEXT_OK);
	FUZZ_CHECK(t2.channels == t.channels && t2.height == t.height && t2.width == t.width);
	again = malloc(t2.nbytes);
	FUZZ_CHECK(again != NULL);
	FUZZ_CHECK(mlp_image_text_decode(&t2, again) == MLP_IMAGE_TEXT_OK);
	FUZZ_CHECK(memcmp(pixels, again, t.nbytes) == 0);
	free(again);
	free(out);
	free(pixels);
	free(s);
	return 0;
}
