-- The image type: text and binary I/O, constructors, accessors, resizing, decoding.

-- Text form CxHxW:hex round-trips
SELECT '1x2x2:00ff10a0'::image;
SELECT '3x1x2:000102030405'::image;
SELECT ' 1x1x1:AB '::image;
SELECT image_channels('3x2x1:000102030405'), image_height('3x2x1:000102030405'),
       image_width('3x2x1:000102030405');

-- Invalid text input
SELECT ''::image;
SELECT 'x'::image;
SELECT '1x2:0000'::image;
SELECT '1x2x2'::image;
SELECT '1x2x2;00ff10a0'::image;
SELECT '1x2x2:00ff10'::image;
SELECT '1x2x2:00ff10a0ff'::image;
SELECT '1x2x2:00ff10zz'::image;
SELECT '0x2x2:'::image;
SELECT '5x1x1:0000000000'::image;
SELECT '1x0x2:'::image;
SELECT '1x2x4097:00'::image;
SELECT '1x99999999999x1:00'::image;
SELECT '-1x1x1:00'::image;
SELECT '1x1x99999999999999999999999999:00'::image;
SELECT '1x1x1:000000000000000000000000000000000000000000000000000000000000000000000000'::image;

-- image_from_bytes: planar bytes of the given shape
SELECT image_from_bytes('\x000102030405'::bytea, 3, 1, 2);
SELECT image_from_bytes('\x00'::bytea, 1, 1, 1) = '1x1x1:00'::image;
SELECT image_from_bytes('\x0001'::bytea, 1, 1, 1);
SELECT image_from_bytes('\x'::bytea, 1, 1, 1);
SELECT image_from_bytes('\x00'::bytea, 0, 1, 1);
SELECT image_from_bytes('\x00'::bytea, 1, -1, 1);
SELECT image_from_bytes('\x00'::bytea, 1, 1, 5000);
SELECT image_from_bytes('\x00'::bytea, 2147483647, 2147483647, 2147483647);
SELECT image_from_bytes(NULL, 1, 1, 1) IS NULL AS null_data,
       image_from_bytes('\x00'::bytea, NULL, 1, 1) IS NULL AS null_channels;

-- image_to_bytes is its inverse
SELECT image_to_bytes(image_from_bytes('\x000102030405'::bytea, 3, 1, 2));
SELECT image_from_bytes(image_to_bytes(i), 3, 1, 2) = i
FROM (SELECT '3x1x2:0a0b0c0d0e0f'::image AS i) s;

-- Equality
SELECT '1x1x2:0001'::image = '1x1x2:0001'::image AS same,
       '1x1x2:0001'::image = '1x1x2:0002'::image AS other_pixels,
       '1x1x2:0001'::image = '1x2x1:0001'::image AS other_shape;

-- The largest sides and channel count are allowed
SELECT image_channels(i), image_height(i), image_width(i), length(image_to_bytes(i))
FROM (SELECT image_from_bytes(decode(repeat('00', 4 * 4096 * 8), 'hex'), 4, 4096, 8) AS i) s;
SELECT image_height(i), image_width(i)
FROM (SELECT image_from_bytes(decode(repeat('00', 8 * 4096), 'hex'), 1, 8, 4096) AS i) s;

-- Resizing with area resampling
SELECT image_resize('1x2x2:00ff10a0'::image, 1, 1);
SELECT image_resize('1x2x4:0010203040506070'::image, 1, 2);
SELECT image_resize('1x1x1:80'::image, 2, 3);
SELECT image_resize('1x2x2:00ff10a0'::image, 2, 2);
SELECT image_resize('3x2x2:000000006464646400ff00ff'::image, 1, 1);
SELECT image_resize('1x1x1:00'::image, 0, 1);
SELECT image_resize('1x1x1:00'::image, 1, 4097);
SELECT image_resize(NULL, 1, 1) IS NULL;

-- Channel conversion: grey replicated to RGB, RGB to grey by BT.601 luma (rounded), the
-- same channels unchanged, alpha dropped; the target must be 1 or 3
SELECT image_convert('1x1x2:07c8'::image, 3);
SELECT image_convert('3x1x2:ff0a008000ff'::image, 1);
SELECT image_convert('3x1x1:0000fa'::image, 1);
SELECT image_convert('1x1x2:07c8'::image, 1);
SELECT image_convert('3x1x2:ff0a008000ff'::image, 3);
SELECT image_convert('2x1x2:07c8ff00'::image, 1);
SELECT image_convert('2x1x2:07c8ff00'::image, 3);
SELECT image_convert('4x1x2:ff0a008000ff0102'::image, 3);
SELECT image_convert('4x1x2:ff0a008000ff0102'::image, 1);
SELECT image_convert(image_convert('1x2x2:00ff10a0'::image, 3), 1) = '1x2x2:00ff10a0'::image AS round_trip;
SELECT image_convert('1x1x1:00'::image, 0);
SELECT image_convert('1x1x1:00'::image, 2);
SELECT image_convert('3x1x1:000000'::image, 4);
-- the SQLSTATE of a bad channel count
DO $$
BEGIN
    PERFORM image_convert('1x1x1:00'::image, -1);
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END $$;
SELECT image_convert('1x1x1:00'::image, NULL) IS NULL AS null_channels;
SELECT image_convert(NULL, 3) IS NULL AS null_image;

-- COPY in text and binary formats round-trips
CREATE TABLE img_copy (id int, img image);
INSERT INTO img_copy VALUES (1, '1x2x2:00ff10a0'), (2, '3x1x2:000102030405'), (3, NULL),
    (4, image_from_bytes(decode(repeat('7f', 4 * 64 * 48), 'hex'), 4, 64, 48));
COPY img_copy TO '/tmp/mlpscale_img_copy.txt';
COPY img_copy TO '/tmp/mlpscale_img_copy.bin' WITH (FORMAT binary);
CREATE TABLE img_copy_text (LIKE img_copy);
CREATE TABLE img_copy_bin (LIKE img_copy);
COPY img_copy_text FROM '/tmp/mlpscale_img_copy.txt';
COPY img_copy_bin FROM '/tmp/mlpscale_img_copy.bin' WITH (FORMAT binary);
SELECT a.id, a.img = t.img AS text_same, a.img = b.img AS binary_same
FROM img_copy a JOIN img_copy_text t USING (id) JOIN img_copy_bin b USING (id) ORDER BY id;
SELECT image_send('1x1x2:0aff'::image);

-- Binary input is checked like text input: hand-made COPY BINARY files
CREATE FUNCTION pgcopy_file(field bytea) RETURNS bytea LANGUAGE sql AS $$
    SELECT '\x5047434f50590aff0d0a000000000000000000'::bytea || '\x0001'::bytea
        || int4send(length(field)) || field || '\xffff'::bytea $$;
CREATE FUNCTION write_pgcopy(field bytea) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('COPY (SELECT %L) TO PROGRAM %L',
                   translate(encode(pgcopy_file(field), 'base64'), E'\n', ''),
                   'base64 -d > /tmp/mlpscale_img_bad.bin');
END $$;
CREATE TABLE img_bin_bad (img image);
SELECT write_pgcopy(int4send(1) || int4send(1) || int4send(2) || '\xaabb'::bytea);
COPY img_bin_bad FROM '/tmp/mlpscale_img_bad.bin' WITH (FORMAT binary);
SELECT * FROM img_bin_bad;
SELECT write_pgcopy(int4send(1) || int4send(1) || int4send(2) || '\xaa'::bytea);
COPY img_bin_bad FROM '/tmp/mlpscale_img_bad.bin' WITH (FORMAT binary);
SELECT write_pgcopy(int4send(1) || int4send(1) || int4send(2) || '\xaabbcc'::bytea);
COPY img_bin_bad FROM '/tmp/mlpscale_img_bad.bin' WITH (FORMAT binary);
SELECT write_pgcopy(int4send(0) || int4send(1) || int4send(1));
COPY img_bin_bad FROM '/tmp/mlpscale_img_bad.bin' WITH (FORMAT binary);
SELECT write_pgcopy(int4send(1) || int4send(5000) || int4send(1) || '\xaa'::bytea);
COPY img_bin_bad FROM '/tmp/mlpscale_img_bad.bin' WITH (FORMAT binary);
SELECT write_pgcopy(int4send(1) || int4send(1) || int4send(-1) || '\xaa'::bytea);
COPY img_bin_bad FROM '/tmp/mlpscale_img_bad.bin' WITH (FORMAT binary);
SELECT write_pgcopy(int4send(1) || int4send(1));
COPY img_bin_bad FROM '/tmp/mlpscale_img_bad.bin' WITH (FORMAT binary);
SELECT count(*) FROM img_bin_bad;

-- PNG encoding and decoding round-trip (grey and RGB)
SELECT image_decode(image_encode_png('1x2x3:000102030405'::image));
SELECT image_decode(image_encode_png('3x2x2:00102030405060708090a0b0'::image));
SELECT image_decode(image_encode_png(i)) = i
FROM (SELECT image_from_bytes(decode(repeat('0123456789abcdef', 3 * 32 * 32 / 8), 'hex'), 3, 32, 32) AS i) s;
SELECT substring(image_encode_png('1x1x1:00'::image) FROM 1 FOR 8);
SELECT image_encode_png('2x1x1:0000'::image);
SELECT image_encode_png('4x1x1:00000000'::image);

-- Files written by PIL (test/fixtures/make_scoring_fixture.py): grey, RGB, alpha dropped,
-- palettes expanded, 16 bits reduced; JPEG pixels equal those PIL decodes with libjpeg.
\set ECHO none
\i test/fixtures/image_fixture.sql
\set ECHO all
SELECT name, image_channels(image_decode(data)) AS c, image_height(image_decode(data)) AS h,
       image_width(image_decode(data)) AS w, image_decode(data) = expected AS same_pixels
FROM image_files WHERE expected IS NOT NULL ORDER BY name;
SELECT name, (SELECT max(abs(get_byte(image_to_bytes(image_decode(data)), i) - get_byte(image_to_bytes(expected), i)))
              FROM generate_series(0, length(image_to_bytes(expected)) - 1) i) AS max_pixel_difference
FROM image_files WHERE name LIKE 'jpeg%' AND expected IS NOT NULL ORDER BY name;
SELECT image_decode(data) FROM image_files WHERE name = 'jpeg_cmyk';
SELECT image_decode(substring(data FROM 1 FOR length(data) / 2)) FROM image_files WHERE name = 'jpeg_rgb';
SELECT image_decode(substring(data FROM 1 FOR length(data) - 20)) FROM image_files WHERE name = 'png_palette';
SELECT image_decode(data) = image_decode(image_encode_png(image_decode(data))) AS png_reencodes
FROM image_files WHERE name = 'png_rgba';

-- Decoding refuses what is not a valid PNG or JPEG, without crashing
SELECT image_decode('\x'::bytea);
SELECT image_decode('\x00010203'::bytea);
SELECT image_decode('hello world'::bytea);
SELECT image_decode(substring(image_encode_png(('3x8x8:' || repeat('ab', 192))::image) FROM 1 FOR 40));
SELECT image_decode(overlay(image_encode_png(('3x8x8:' || repeat('ab', 192))::image) PLACING '\xdeadbeefdeadbeef'::bytea FROM 30));
SELECT image_decode('\x89504e470d0a1a0a'::bytea);
SELECT image_decode('\xffd8ffe000104a464946'::bytea);
SELECT image_decode('\xffd8ff'::bytea);
SELECT image_decode(NULL) IS NULL;
-- The session is still usable after all these errors
SELECT image_width('1x1x3:000000'::image) AS still_alive;

-- Storage: main (inline when the row fits a page, compressed if need be), for the training
-- read; a column may still be set to extended or external, and either reads the same images.
SELECT typstorage FROM pg_type WHERE typname = 'image';
CREATE TABLE storage_probe (id int, img image);
SELECT attstorage FROM pg_attribute WHERE attrelid = 'storage_probe'::regclass AND attname = 'img';
INSERT INTO storage_probe
SELECT k, image_from_bytes(decode(repeat(md5(k::text), 768), 'hex'), 3, 64, 64)
FROM generate_series(1, 3) k;
ALTER TABLE storage_probe ALTER COLUMN img SET STORAGE EXTERNAL;
INSERT INTO storage_probe
SELECT k, image_from_bytes(decode(repeat(md5(k::text), 768), 'hex'), 3, 64, 64)
FROM generate_series(1, 3) k;
SELECT a.id, image_to_bytes(a.img) = image_to_bytes(b.img) AS same, image_width(a.img)
FROM storage_probe a JOIN storage_probe b ON a.id = b.id AND a.ctid < b.ctid ORDER BY a.id;
DROP TABLE storage_probe;
