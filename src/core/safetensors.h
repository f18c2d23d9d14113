/*
 * safetensors.h - reader and writer of the safetensors format.
 *
 * Layout: 8-byte little-endian header length N, N bytes of JSON (an object: tensor name ->
 * {"dtype", "shape", "data_offsets": [begin, end]} plus an optional "__metadata__" object of
 * string -> string), then the raw little-endian tensor bytes; offsets are relative to the end
 * of the header.  The reader trusts nothing: header length within the buffer, valid JSON,
 * known dtypes, shapes whose element count matches the byte range, ranges inside the buffer
 * and not overlapping, no duplicate names.
 */
#ifndef MLP_SAFETENSORS_H
#define MLP_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define ST_MAX_DIMS 8

typedef enum StDtype
{
	ST_F32,
	ST_F16,
	ST_BF16,
	ST_F64,
	ST_I64,
	ST_I32,
	ST_U8
} StDtype;

typedef struct StTensor
{
	char	   *name;
	StDtype		dtype;
	int			ndim;
	int64_t		shape[ST_MAX_DIMS];
	int64_t		numel;
	const uint8_t *data;		/* points into the parsed buffer */
	size_t		nbytes;
} StTensor;

typedef struct StFile
{
	int			num_tensors;
	StTensor   *tensors;
	int			num_meta;
	char	  **meta_keys;
	char	  **meta_values;
} StFile;

/* Parses buf (which must outlive the StFile).  0, or -1 with a message naming the problem. */
int			st_parse(const uint8_t *buf, size_t len, StFile *out, char *err, size_t errlen);
void		st_free(StFile *f);

const StTensor *st_find(const StFile *f, const char *name);
const char *st_meta(const StFile *f, const char *key);

/*
 * Converts a tensor of a float dtype (F32, F16, BF16, F64) to float32; refuses NaN and
 * infinity, naming the tensor.  0 or -1.
 */
int			st_tensor_to_f32(const StTensor *t, float *dst, char *err, size_t errlen);

/* Writer: collect tensors (F32 only) and metadata, then serialise. */
typedef struct StWriter StWriter;

StWriter   *st_writer_create(void);
/* Data is copied at st_writer_finish time; the pointer must stay valid until then. */
int			st_writer_add(StWriter *w, const char *name, const float *data, int ndim,
						  const int64_t *shape);
int			st_writer_meta(StWriter *w, const char *key, const char *value);
/* Serialises into a malloc'd buffer; frees the writer.  0 or -1 (out of memory). */
int			st_writer_finish(StWriter *w, uint8_t **out, size_t *outlen);
void		st_writer_abort(StWriter *w);

#endif
