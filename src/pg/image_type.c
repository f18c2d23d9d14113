/*
 * image_type.c - the "image" SQL type: I/O, constructors, accessors, resizing.
 *
 * Layout and formats are described in image_type.h.  Every entry point checks the shape
 * (at most 4 channels, sides 1 to 4096) before allocating, and binary input checks exactly
 * what text input checks.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "core/augment.h"
#include "core/image_codec.h"
#include "image_type.h"
#include "mlpscale.h"
#include "privilege.h"

#define MLP_IMAGE_SHOWN_CHARS 40

void
CheckImageShape(int channels, int height, int width)
{
	MlpImageDim bad;
	const int	value[3] = {channels, height, width};

	if (mlp_image_check_shape(channels, height, width, &bad) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("image %s must be between 1 and %d, not %d",
						mlp_image_dim_name(bad), mlp_image_dim_limit(bad), value[bad])));
}

MlpImage *
MlpImageAlloc(int channels, int height, int width)
{
	Size		nbytes;
	MlpImage   *img;

	CheckImageShape(channels, height, width);
	nbytes = (Size) channels * height * width;
	img = palloc(MLP_IMAGE_HEADER_SIZE + nbytes);
	SET_VARSIZE(img, MLP_IMAGE_HEADER_SIZE + nbytes);
	img->channels = channels;
	img->height = height;
	img->width = width;
	img->reserved = 0;
	return img;
}

/*
 * The type lives in the schema of the extension, which may be dropped and created again in
 * a backend's life: the cached oid is checked against the catalog (a syscache hit) each time.
 */
Oid
MlpImageTypeOid(void)
{
	static Oid	cached = InvalidOid;
	Oid			nsp;
	Oid			typoid;

	if (OidIsValid(cached))
	{
		HeapTuple	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(cached));

		if (HeapTupleIsValid(tup))
		{
			bool		same = strcmp(NameStr(((Form_pg_type) GETSTRUCT(tup))->typname), "image") == 0;

			ReleaseSysCache(tup);
			if (same)
				return cached;
		}
		cached = InvalidOid;
	}
	nsp = MlpExtensionSchema();
	typoid = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid, CStringGetDatum("image"),
							 ObjectIdGetDatum(nsp));
	if (!OidIsValid(typoid))
		elog(ERROR, "type \"image\" of extension \"mlpscale\" not found");
	cached = typoid;
	return typoid;
}

static char *
ShownInput(const char *s)
{
	if (strlen(s) <= MLP_IMAGE_SHOWN_CHARS)
		return pstrdup(s);
	return psprintf("%.*s...", pg_mbcliplen(s, strlen(s), MLP_IMAGE_SHOWN_CHARS - 3), s);
}

static void ImageSyntaxError(const char *input) pg_attribute_noreturn();

static void
ImageSyntaxError(const char *input)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type image: \"%s\"", ShownInput(input)),
			 errdetail("Expected CxHxW:hex, for example 1x2x2:00ff10a0.")));
}

PG_FUNCTION_INFO_V1(image_in);
Datum
image_in(PG_FUNCTION_ARGS)
{
	const char *input = PG_GETARG_CSTRING(0);
	MlpImageText t;
	MlpImage   *img;

	switch (mlp_image_text_parse(input, &t))
	{
		case MLP_IMAGE_TEXT_OK:
			break;
		case MLP_IMAGE_TEXT_DIM_TOO_LARGE:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("image %s must be between 1 and %d, not %.*s",
							mlp_image_dim_name(t.dim), mlp_image_dim_limit(t.dim),
							(int) Min(t.ndigits, 40), t.digits)));
			break;
		case MLP_IMAGE_TEXT_BAD_SHAPE:
			CheckImageShape(t.channels, t.height, t.width);
			elog(ERROR, "image shape %dx%dx%d refused without a reason",
				 t.channels, t.height, t.width);
			break;
		case MLP_IMAGE_TEXT_HEX_LENGTH:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type image: \"%s\"", ShownInput(input)),
					 errdetail("Shape %dx%dx%d needs %zu hex digits, not %zu.",
							   t.channels, t.height, t.width, 2 * t.nbytes, t.hex_len)));
			break;
		default:
			ImageSyntaxError(input);
	}

	img = MlpImageAlloc(t.channels, t.height, t.width);
	if (mlp_image_text_decode(&t, img->data) != MLP_IMAGE_TEXT_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type image: \"%s\"", ShownInput(input)),
				 errdetail("\"%.2s\" at pixel byte %zu is not a hex byte.",
						   t.hex + 2 * t.bad_byte, t.bad_byte)));
	PG_RETURN_MLP_IMAGE_P(img);
}

PG_FUNCTION_INFO_V1(image_out);
Datum
image_out(PG_FUNCTION_ARGS)
{
	MlpImage   *img = PG_GETARG_MLP_IMAGE_P(0);
	char	   *out;

	out = palloc(mlp_image_text_length(img->channels, img->height, img->width) + 1);
	mlp_image_text_format(img->data, img->channels, img->height, img->width, out);
	PG_RETURN_CSTRING(out);
}

PG_FUNCTION_INFO_V1(image_recv);
Datum
image_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	MlpImageBinary b;
	MlpImage   *img;

	switch (mlp_image_binary_parse((const uint8_t *) buf->data + buf->cursor,
								   buf->len - buf->cursor, &b))
	{
		case MLP_IMAGE_BINARY_OK:
			break;
		case MLP_IMAGE_BINARY_SHORT_HEADER:
			/* what pq_getmsgint says */
			ereport(ERROR,
					(errcode(ERRCODE_PROTOCOL_VIOLATION),
					 errmsg("insufficient data left in message")));
			break;
		case MLP_IMAGE_BINARY_BAD_SHAPE:
			CheckImageShape(b.channels, b.height, b.width);
			elog(ERROR, "image shape %dx%dx%d refused without a reason",
				 b.channels, b.height, b.width);
			break;
		case MLP_IMAGE_BINARY_BAD_LENGTH:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("image of shape %dx%dx%d needs %zu bytes of pixels, not %zu",
							b.channels, b.height, b.width, b.nbytes, b.pixels_len)));
			break;
	}
	img = MlpImageAlloc(b.channels, b.height, b.width);
	memcpy(img->data, b.pixels, b.nbytes);
	buf->cursor = buf->len;
	PG_RETURN_MLP_IMAGE_P(img);
}

PG_FUNCTION_INFO_V1(image_send);
Datum
image_send(PG_FUNCTION_ARGS)
{
	MlpImage   *img = PG_GETARG_MLP_IMAGE_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint32(&buf, img->channels);
	pq_sendint32(&buf, img->height);
	pq_sendint32(&buf, img->width);
	pq_sendbytes(&buf, (const char *) img->data, MlpImageNumBytes(img));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(image_from_bytes);
Datum
image_from_bytes(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	int32		c = PG_GETARG_INT32(1);
	int32		h = PG_GETARG_INT32(2);
	int32		w = PG_GETARG_INT32(3);
	size_t		len = VARSIZE_ANY_EXHDR(data);
	MlpImage   *img;

	CheckImageShape(c, h, w);
	if (len != (size_t) c * h * w)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("image data of %zu bytes do not match shape %dx%dx%d", len, c, h, w),
				 errdetail("Shape %dx%dx%d needs channels*height*width = %zu bytes, planar: channel 0 row by row, then channel 1, ...",
						   c, h, w, (size_t) c * h * w)));
	img = MlpImageAlloc(c, h, w);
	memcpy(img->data, VARDATA_ANY(data), len);
	PG_RETURN_MLP_IMAGE_P(img);
}

PG_FUNCTION_INFO_V1(image_decode);
Datum
image_decode(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	const uint8_t *bytes = (const uint8_t *) VARDATA_ANY(data);
	size_t		len = VARSIZE_ANY_EXHDR(data);
	MlpDecodedImage dec;
	char		err[256];
	MlpImage   *img;

	if (mlp_image_sniff(bytes, len) == MLP_IMAGE_UNKNOWN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("image data of %zu bytes are neither PNG nor JPEG", len),
				 errhint("For raw pixels use image_from_bytes(data, channels, height, width).")));
	if (mlp_image_decode(bytes, len, MLP_IMAGE_MAX_SIDE, &dec, err, sizeof(err)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("could not decode image: %s", err)));
	/* The decoder returns 1 or 3 channels and sides it checked; recheck all the same. */
	if (dec.channels < 1 || dec.channels > MLP_MAX_CHANNELS ||
		dec.height < 1 || dec.height > MLP_IMAGE_MAX_SIDE ||
		dec.width < 1 || dec.width > MLP_IMAGE_MAX_SIDE)
	{
		int			c = dec.channels,
					h = dec.height,
					w = dec.width;

		mlp_decoded_image_free(&dec);
		CheckImageShape(c, h, w);
	}
	img = palloc_extended(MLP_IMAGE_HEADER_SIZE + (Size) dec.channels * dec.height * dec.width,
						  MCXT_ALLOC_NO_OOM);
	if (img == NULL)
	{
		mlp_decoded_image_free(&dec);
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory decoding an image of %dx%dx%d", dec.channels,
						dec.height, dec.width)));
	}
	SET_VARSIZE(img, MLP_IMAGE_HEADER_SIZE + (Size) dec.channels * dec.height * dec.width);
	img->channels = dec.channels;
	img->height = dec.height;
	img->width = dec.width;
	img->reserved = 0;
	memcpy(img->data, dec.data, MlpImageNumBytes(img));
	mlp_decoded_image_free(&dec);
	PG_RETURN_MLP_IMAGE_P(img);
}

PG_FUNCTION_INFO_V1(image_encode_png);
Datum
image_encode_png(PG_FUNCTION_ARGS)
{
	MlpImage   *img = PG_GETARG_MLP_IMAGE_P(0);
	uint8_t    *png = NULL;
	size_t		len = 0;
	char		err[256];
	bytea	   *result;

	if (img->channels != 1 && img->channels != 3)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot encode an image of %d channels as PNG", img->channels),
				 errdetail("Only grey (1 channel) and RGB (3 channels) images are encoded.")));
	if (mlp_image_encode_png(img->data, img->channels, img->height, img->width, &png, &len,
							 err, sizeof(err)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not encode image as PNG: %s", err)));
	result = palloc_extended(len + VARHDRSZ, MCXT_ALLOC_NO_OOM);
	if (result == NULL)
	{
		free(png);
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Failed on a request of size %zu.", len)));
	}
	SET_VARSIZE(result, len + VARHDRSZ);
	memcpy(VARDATA(result), png, len);
	free(png);
	PG_RETURN_BYTEA_P(result);
}

PG_FUNCTION_INFO_V1(image_to_bytes);
Datum
image_to_bytes(PG_FUNCTION_ARGS)
{
	MlpImage   *img = PG_GETARG_MLP_IMAGE_P(0);
	size_t		nbytes = MlpImageNumBytes(img);
	bytea	   *result = palloc(nbytes + VARHDRSZ);

	SET_VARSIZE(result, nbytes + VARHDRSZ);
	memcpy(VARDATA(result), img->data, nbytes);
	PG_RETURN_BYTEA_P(result);
}

PG_FUNCTION_INFO_V1(image_resize);
Datum
image_resize(PG_FUNCTION_ARGS)
{
	MlpImage   *img = PG_GETARG_MLP_IMAGE_P(0);
	int32		h = PG_GETARG_INT32(1);
	int32		w = PG_GETARG_INT32(2);
	MlpImage   *out = MlpImageAlloc(img->channels, h, w);

	mlp_resize_area_u8(img->data, img->channels, img->height, img->width, out->data, h, w);
	PG_RETURN_MLP_IMAGE_P(out);
}

/*
 * The channel conversion of mlpscale-load --channels (src/core/image_format.c): grey to RGB
 * by replication, RGB to grey by BT.601 luma, alpha of 2- and 4-channel images dropped.
 */
PG_FUNCTION_INFO_V1(image_convert);
Datum
image_convert(PG_FUNCTION_ARGS)
{
	MlpImage   *img = PG_GETARG_MLP_IMAGE_P(0);
	int32		channels = PG_GETARG_INT32(1);
	MlpImage   *out;

	if (channels != 1 && channels != 3)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("channels must be 1 or 3, not %d", channels),
				 errhint("1 converts to grey, 3 to RGB.")));
	out = MlpImageAlloc(channels, img->height, img->width);
	if (mlp_image_convert_channels(img->data, img->channels, img->height, img->width,
								   out->data, channels) != 0)
		elog(ERROR, "cannot convert an image of %d channels", img->channels);
	PG_RETURN_MLP_IMAGE_P(out);
}

PG_FUNCTION_INFO_V1(image_channels);
Datum
image_channels(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(PG_GETARG_MLP_IMAGE_P(0)->channels);
}

PG_FUNCTION_INFO_V1(image_height);
Datum
image_height(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(PG_GETARG_MLP_IMAGE_P(0)->height);
}

PG_FUNCTION_INFO_V1(image_width);
Datum
image_width(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(PG_GETARG_MLP_IMAGE_P(0)->width);
}

/* Equality, so that images can be compared in tests and with DISTINCT-free checks. */
PG_FUNCTION_INFO_V1(image_eq);
Datum
image_eq(PG_FUNCTION_ARGS)
{
	MlpImage   *a = PG_GETARG_MLP_IMAGE_P(0);
	MlpImage   *b = PG_GETARG_MLP_IMAGE_P(1);

	PG_RETURN_BOOL(a->channels == b->channels && a->height == b->height &&
				   a->width == b->width &&
				   memcmp(a->data, b->data, MlpImageNumBytes(a)) == 0);
}
