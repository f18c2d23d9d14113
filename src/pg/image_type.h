/*
 * image_type.h - the "image" SQL type: a uint8 tensor (channels, height, width), planar.
 *
 * On disk: varlena header, then channels, height, width as uint16 and a reserved uint16
 * (zero), then channels*height*width bytes: all of channel 0 row by row, then channel 1, ...
 * Text form:   CxHxW:hex   e.g. 1x2x2:00ff10a0
 * Binary form (COPY BINARY, send/recv): int32 channels, int32 height, int32 width (network
 * order), then the pixel bytes.
 * Both forms are parsed and checked by src/core/image_format.c; this layer words the errors.
 */
#ifndef MLP_IMAGE_TYPE_H
#define MLP_IMAGE_TYPE_H

#include "postgres.h"
#include "fmgr.h"

#include "core/image_format.h"

#define MLP_IMAGE_MAX_SIDE MLP_IMAGE_FORMAT_MAX_SIDE

typedef struct MlpImage
{
	int32		vl_len_;		/* varlena header (do not touch directly) */
	uint16		channels;
	uint16		height;
	uint16		width;
	uint16		reserved;		/* zero */
	uint8		data[FLEXIBLE_ARRAY_MEMBER];
} MlpImage;

#define MLP_IMAGE_HEADER_SIZE offsetof(MlpImage, data)
#define MlpImageNumBytes(img) ((Size) (img)->channels * (img)->height * (img)->width)
#define DatumGetMlpImageP(x) ((MlpImage *) PG_DETOAST_DATUM(x))
#define PG_GETARG_MLP_IMAGE_P(n) DatumGetMlpImageP(PG_GETARG_DATUM(n))
#define PG_RETURN_MLP_IMAGE_P(x) PG_RETURN_POINTER(x)

/* Allocates an image with uninitialised pixels after checking the shape (ERROR when bad). */
extern MlpImage *MlpImageAlloc(int channels, int height, int width);

/* ERROR unless 1 <= channels <= 4 and 1 <= height, width <= 4096; names the bad value. */
extern void CheckImageShape(int channels, int height, int width);

/* Oid of the image type (looked up once per backend). */
extern Oid	MlpImageTypeOid(void);

#endif
