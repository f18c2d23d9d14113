/*
 * fuzz_image_codec.c - PNG and JPEG decoding (image_decode) on any bytes, with the server's
 * side limit.  A decoded image has 1 or 3 channels and sides within the limit; a small one
 * encodes as PNG and decodes back to the same pixels.
 */
#include "fuzz.h"
#include "image_codec.h"
#include "image_format.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	MlpDecodedImage img,
				again;
	char		err[256];
	size_t		n;
	unsigned	sum = 0;

	if (mlp_image_sniff(data, size) == MLP_IMAGE_UNKNOWN)
		return 0;
	err[0] = '\0';
	memset(&img, 0, sizeof(img));
	if (mlp_image_decode(data, size, MLP_IMAGE_FORMAT_MAX_SIDE, &img, err, sizeof(err)) != 0)
	{
		FUZZ_CHECK(err[0] != '\0');
		return 0;
	}
	FUZZ_CHECK(img.channels == 1 || img.channels == 3);
	FUZZ_CHECK(img.height >= 1 && img.height <= MLP_IMAGE_FORMAT_MAX_SIDE);
	FUZZ_CHECK(img.width >= 1 && img.width <= MLP_IMAGE_FORMAT_MAX_SIDE);
	FUZZ_CHECK(img.data != NULL);
	n = (size_t) img.channels * img.height * img.width;
	for (size_t i = 0; i < n; i++)
		sum += img.data[i];		/* every byte inside the buffer (ASan) */
	FUZZ_CHECK(sum <= 255u * n);

	if (n <= 64 * 64 * 3)
	{
		uint8_t    *png = NULL;
		size_t		len = 0;

		FUZZ_CHECK(mlp_image_encode_png(img.data, img.channels, img.height, img.width,
										&png, &len, err, sizeof(err)) == 0);
		FUZZ_CHECK(mlp_image_decode(png, len, MLP_IMAGE_FORMAT_MAX_SIDE, &again, err,
									sizeof(err)) == 0);
		FUZZ_CHECK(again.channels == img.channels && again.height == img.height &&
				   again.width == img.width && memcmp(again.data, img.data, n) == 0);
		mlp_decoded_image_free(&again);
		free(png);
	}
	mlp_decoded_image_free(&img);
	return 0;
}
