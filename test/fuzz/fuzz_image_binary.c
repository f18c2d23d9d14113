/*
 * fuzz_image_binary.c - the binary receive of the image type (image_recv) on any message.
 * An accepted message has exactly channels*height*width pixel bytes after its header, and
 * sending the image (image_send's layout) gives back the same bytes.
 */
#include "fuzz.h"
#include "image_format.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	MlpImageBinary b;
	MlpImageBinaryStatus st = mlp_image_binary_parse(data, size, &b);
	uint8_t    *sent;
	MlpImageDim d;

	switch (st)
	{
		case MLP_IMAGE_BINARY_OK:
			break;
		case MLP_IMAGE_BINARY_SHORT_HEADER:
			FUZZ_CHECK(size < MLP_IMAGE_BINARY_HEADER_SIZE);
			return 0;
		case MLP_IMAGE_BINARY_BAD_SHAPE:
			FUZZ_CHECK(mlp_image_check_shape(b.channels, b.height, b.width, &d) != 0);
			FUZZ_CHECK(d == b.dim);
			return 0;
		case MLP_IMAGE_BINARY_BAD_LENGTH:
			FUZZ_CHECK(b.pixels_len != b.nbytes);
			FUZZ_CHECK(b.pixels_len == size - MLP_IMAGE_BINARY_HEADER_SIZE);
			return 0;
		default:
			FUZZ_CHECK(!"a known status");
	}
	FUZZ_CHECK(mlp_image_check_shape(b.channels, b.height, b.width, &d) == 0);
	FUZZ_CHECK(b.nbytes == (size_t) b.channels * b.height * b.width);
	FUZZ_CHECK(b.pixels == data + MLP_IMAGE_BINARY_HEADER_SIZE && b.nbytes == b.pixels_len);

	/* image_send: the three dimensions in network order, then the pixels */
	sent = malloc(MLP_IMAGE_BINARY_HEADER_SIZE + b.nbytes);
	FUZZ_CHECK(sent != NULL);
	{
		const uint32_t v[3] = {(uint32_t) b.channels, (uint32_t) b.height, (uint32_t) b.width};

		for (int i = 0; i < 3; i++)
			for (int k = 0; k < 4; k++)
				sent[4 * i + k] = (uint8_t) (v[i] >> (24 - 8 * k));
	}
	memcpy(sent + MLP_IMAGE_BINARY_HEADER_SIZE, b.pixels, b.nbytes);
	FUZZ_CHECK(memcmp(sent, data, size) == 0);
	free(sent);
	return 0;
}
