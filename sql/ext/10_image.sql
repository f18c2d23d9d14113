
-- ---------------------------------------------------------------------------------------
-- The image type: uint8 (channels, height, width), planar
-- ---------------------------------------------------------------------------------------

CREATE TYPE image;

CREATE FUNCTION image_in(cstring) RETURNS image
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION image_out(image) RETURNS cstring
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION image_recv(internal) RETURNS image
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION image_send(image) RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- STORAGE main: an image is compressed if that keeps its row in the page, and moved out of
-- line only as a last resort.  Measured (make bench-storage, docs/performance.md), the training
-- read of inline rows is 1.6x (32x32x3) to 1.8x (64x64x3) that of extended, which TOASTs every
-- image over 2 kB; columns can still be set to extended or external per table.
CREATE TYPE image (
    INPUT = image_in,
    OUTPUT = image_out,
    RECEIVE = image_recv,
    SEND = image_send,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = int4,
    STORAGE = main
);
COMMENT ON TYPE image IS
    'uint8 image tensor (channels, height, width), planar; text form CxHxW:hex';

-- Constructors

CREATE FUNCTION image_from_bytes(data bytea, channels int, height int, width int) RETURNS image
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION image_from_bytes(bytea, int, int, int) IS
    'image from raw planar bytes: all of channel 0 row by row, then channel 1, ...';

CREATE FUNCTION image_decode(data bytea) RETURNS image
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION image_decode(bytea) IS
    'image from a PNG or JPEG file (grey gives 1 channel, colour 3; alpha is dropped)';

-- Accessors and conversions

CREATE FUNCTION image_channels(image) RETURNS int
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION image_channels(image) IS 'number of channels of an image';

CREATE FUNCTION image_height(image) RETURNS int
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION image_height(image) IS 'height of an image in pixels';

CREATE FUNCTION image_width(image) RETURNS int
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION image_width(image) IS 'width of an image in pixels';

CREATE FUNCTION image_to_bytes(image) RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION image_to_bytes(image) IS
    'raw planar bytes of an image (the inverse of image_from_bytes)';

CREATE FUNCTION image_encode_png(image) RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION image_encode_png(image) IS
    'PNG file of a grey (1 channel) or RGB (3 channel) image';

CREATE FUNCTION image_resize(img image, height int, width int) RETURNS image
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION image_resize(image, int, int) IS
    'image resized to height x width with area resampling (box filter)';

CREATE FUNCTION image_convert(img image, channels int) RETURNS image
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION image_convert(image, int) IS
    'image with 1 (grey, BT.601 luma of RGB) or 3 (RGB, grey replicated) channels; alpha of 2 and 4 channels is dropped';

-- Equality

CREATE FUNCTION image_eq(image, image) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION image_eq(image, image) IS 'true when two images have the same shape and pixels';

CREATE OPERATOR = (
    LEFTARG = image,
    RIGHTARG = image,
    PROCEDURE = image_eq,
    COMMUTATOR = =,
    RESTRICT = eqsel,
    JOIN = eqjoinsel
);
COMMENT ON OPERATOR =(image, image) IS 'same shape and pixels';
