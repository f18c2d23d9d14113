#!/usr/bin/env bash
# mlpscale-load: every input format, every bad-input case (each must leave no table, or an
# appended table unchanged), connection settings, and the real Fashion-MNIST (60,000 + 10,000).
. "$(dirname "$0")/lib.sh"

LOADER=${MLPSCALE_LOADER:-$MLPSCALE_ROOT/mlpscale-load}
[ -x "$LOADER" ] || LOADER=$(command -v mlpscale-load)
WORK=$(mktemp -d /tmp/mlpscale-loader-test.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

FIX=$WORK/loader_fixture
cc -std=c11 -O1 -o "$FIX" "$MLPSCALE_ROOT/test/integration/loader_fixture.c" -lpng -ljpeg
ok $? "fixture helper builds"

new_db loader_test

# load ARGS...: runs the loader on the test database; output in $out, exit code in $rc.
load() {
    out=$("$LOADER" -d "$TESTDB" "$@" 2>&1)
    rc=$?
}

no_table() {                # no_table TABLE NAME: the failed load left nothing behind
    is "$(q "SELECT to_regclass('$1') IS NULL")" t "$2: no table left behind"
}

# ---- command line -----------------------------------------------------------------------
"$LOADER" --help >"$WORK/help" 2>&1
ok $? "--help exits 0"
like "$(cat "$WORK/help")" "--table" "--help lists the options"
like "$("$LOADER" --version)" "^mlpscale-load [0-9]+\.[0-9]+" "--version"
"$LOADER" --bogus >/dev/null 2>&1
is $? 2 "an unknown option exits 2"
"$LOADER" /tmp >/dev/null 2>&1
is $? 2 "no --table exits 2"

# ---- IDX, raw and gzip --------------------------------------------------------------------
D=$WORK/idx; mkdir -p "$D"
"$FIX" idx "$D/train-images-idx3-ubyte" "$D/train-labels-idx1-ubyte" 50 5 4 50
"$FIX" idx "$D/t10k-images-idx3-ubyte" "$D/t10k-labels-idx1-ubyte" 20 5 4 20
gzip -k "$D/t10k-images-idx3-ubyte" "$D/t10k-labels-idx1-ubyte"

load --table idx_raw -q --images "$D/train-images-idx3-ubyte" --labels "$D/train-labels-idx1-ubyte"
is "$rc" 0 "IDX raw: exit 0"
like "$out" "loaded 50 rows, 10 classes" "IDX raw: summary names rows and classes"
is "$(q "SELECT count(*), count(DISTINCT label), min(label), max(label) FROM idx_raw")" "50|10|0|9" \
    "IDX raw: 50 rows, labels 0-9"
is "$(q "SELECT image::text FROM idx_raw ORDER BY id LIMIT 1")" "$("$FIX" text 1 5 4 0)" \
    "IDX raw: first image stored byte for byte"
is "$(q "SELECT image::text || ' ' || label FROM idx_raw ORDER BY id DESC LIMIT 1")" \
    "$("$FIX" text 1 5 4 49) 9" "IDX raw: last image and its label"
is "$(q "SELECT string_agg(column_name || ':' || data_type, ',' ORDER BY ordinal_position)
         FROM information_schema.columns WHERE table_name = 'idx_raw'")" \
    "id:bigint,image:USER-DEFINED,label:integer" "IDX raw: columns id, image, label (no split)"

load --table idx_split -q --split train "$D"
is "$rc" 0 "IDX folder with --split train: exit 0"
load --table idx_split -q --split test --append "$D"
is "$rc" 0 "IDX folder with --split test --append (gzip files): exit 0"
is "$(q "SELECT string_agg(split || '=' || n, ',' ORDER BY split) FROM
         (SELECT split, count(*) n FROM idx_split GROUP BY split) s")" "test=20,train=50" \
    "IDX: train and test splits in one table"
is "$(q "SELECT image::text FROM idx_split WHERE split = 'test' ORDER BY id LIMIT 1 OFFSET 7")" \
    "$("$FIX" text 1 5 4 7)" "IDX gzip: pixels survive decompression"

load --table idx_limit -q --limit 7 "$D/train-images-idx3-ubyte"
is "$rc|$(q "SELECT count(*) FROM idx_limit")" "0|7" "--limit 7 loads 7 rows (labels file found by name)"

load --table idx_limit -q "$D/train-images-idx3-ubyte"
is "$rc" 3 "loading into an existing table without --append exits 3"
like "$out" "already exists.*--append" "... and says so, with the options that help"
is "$(q "SELECT count(*) FROM idx_limit")" 7 "... and leaves the table as it was"
load --table idx_limit -q --replace "$D/train-images-idx3-ubyte"
is "$rc|$(q "SELECT count(*) FROM idx_limit")" "0|50" "--replace drops and reloads"

out=$("$LOADER" --dry-run --split train "$D" 2>&1); rc=$?
is "$rc" 0 "--dry-run exits 0 without a database"
like "$out" "checked 50 rows" "--dry-run counts"

# ---- CIFAR-10 and CIFAR-100 -------------------------------------------------------------
C=$WORK/cifar; mkdir -p "$C"
"$FIX" cifar "$C/data_batch_1.bin" 12 10 0
"$FIX" cifar "$C/data_batch_2.bin" 8 10 12
"$FIX" cifar "$C/test_batch.bin" 5 10 100
printf 'airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n' >"$C/batches.meta.txt"
load --table c10 -q --split train "$C"
is "$rc" 0 "CIFAR-10 folder --split train: exit 0"
like "$out" "0=airplane" "CIFAR-10: class names from batches.meta.txt in the summary"
load --table c10 -q --split test --append "$C"
is "$(q "SELECT count(*) FILTER (WHERE split = 'train') || ',' || count(*) FILTER (WHERE split = 'test') FROM c10")" \
    "20,5" "CIFAR-10: both batches for train, test_batch for test"
is "$(q "SELECT image::text || ' ' || label FROM c10 WHERE split = 'train' ORDER BY id OFFSET 13 LIMIT 1")" \
    "$("$FIX" text 3 32 32 13) 3" "CIFAR-10: planar 3x32x32 pixels and label of record 14"
is "$(q "SELECT image_channels(image) || 'x' || image_height(image) || 'x' || image_width(image) FROM c10 LIMIT 1")" \
    "3x32x32" "CIFAR-10: image accessors see 3x32x32"

"$FIX" cifar "$C/c100.bin" 30 100 70
load --table c100_fine -q --format cifar100 "$C/c100.bin"
is "$rc|$(q "SELECT string_agg(label::text, ',' ORDER BY id) FROM (SELECT * FROM c100_fine ORDER BY id LIMIT 3) s")" \
    "0|70,71,72" "CIFAR-100: fine labels by default"
load --table c100_coarse -q --cifar100-labels=coarse "$C/c100.bin"
is "$rc|$(q "SELECT string_agg(label::text, ',' ORDER BY id) FROM (SELECT * FROM c100_coarse ORDER BY id LIMIT 3) s")" \
    "0|10,11,12" "CIFAR-100: --cifar100-labels=coarse (format detected from the record size)"
is "$(q "SELECT image::text FROM c100_coarse ORDER BY id DESC LIMIT 1")" "$("$FIX" text 3 32 32 99)" \
    "CIFAR-100: pixels after the two label bytes"

# ---- a folder of PNG and JPEG files ---------------------------------------------------------
P=$WORK/pets; mkdir -p "$P/dog" "$P/cat" "$P/bird"
"$FIX" png "$P/dog/d1.png" 3 6 5 1
"$FIX" png "$P/dog/d2.PNG" 3 6 5 2
"$FIX" jpeg "$P/cat/c1.jpg" 3 6 5 3
"$FIX" jpeg "$P/cat/c2.jpeg" 3 6 5 4
"$FIX" png "$P/bird/b1.png" 3 6 5 5
echo "not an image" >"$P/bird/README.txt"
load --table pets -q --split train "$P"
is "$rc" 0 "folder of PNG/JPEG: exit 0"
like "$out" "skipped 1 entries" "folder: files that are not images are skipped with a note"
like "$out" "0=bird 1=cat 2=dog" "folder: classes numbered in sorted subfolder order"
is "$(q "SELECT count(*) FROM pets")" 5 "folder: 5 images"
is "$(q "SELECT string_agg(label::text, ',' ORDER BY label) FROM pets")" "0,1,1,2,2" "folder: labels by subfolder"
is "$(q "SELECT image::text FROM pets WHERE label = 2 ORDER BY id LIMIT 1")" "$("$FIX" text 3 6 5 1)" \
    "folder: PNG pixels exact"
is "$(q "SELECT image_channels(image) || 'x' || image_height(image) || 'x' || image_width(image) FROM pets WHERE label = 1 LIMIT 1")" \
    "3x6x5" "folder: JPEG decoded to 3x6x5"
G=$WORK/grey; mkdir -p "$G/a" "$G/b"
"$FIX" png "$G/a/1.png" 1 4 4 9; "$FIX" jpeg "$G/b/1.jpg" 1 4 4 9
load --table grey -q "$G"
is "$rc|$(q "SELECT string_agg(image_channels(image)::text, ',') FROM grey")" "0|1,1" "folder: grey PNG and JPEG give 1 channel"

# ---- trees of class folders: images at any depth, sorted like torchvision's ImageFolder ----------
N=$WORK/nested; mkdir -p "$N/a/images/sub" "$N/b/images" "$N/c/images"
"$FIX" png "$N/a/z.png" 3 6 5 1              # in the class folder itself
"$FIX" png "$N/a/images/b.PNG" 3 6 5 2
"$FIX" jpeg "$N/a/images/a.JPEG" 3 6 5 3
"$FIX" png "$N/a/images/sub/c.png" 3 6 5 4
"$FIX" jpeg "$N/b/images/1.Jpg" 3 6 5 5
"$FIX" png "$N/c/images/x.pNg" 3 6 5 6
echo "a 0 0 5 6" >"$N/a/a_boxes.txt"
load --table nested -q --split train "$N"
is "$rc" 0 "nested tree (depth 2, mixed-case extensions): exit 0"
like "$out" "loaded 6 rows, 3 classes" "nested tree: every image at every depth"
like "$out" "skipped 1 entries .*a_boxes.txt" "nested tree: the boxes file is skipped with a note"
is "$(q "SELECT string_agg(label || ':' || class_name, ',' ORDER BY id) FROM nested")" \
    "0:a,0:a,0:a,0:a,1:b,2:c" "nested tree: labels and class names by top-level folder"
is "$(q "SELECT string_agg(image::text, ',' ORDER BY id) FROM nested WHERE label = 0 AND id <> (SELECT min(id) + 1 FROM nested)")" \
    "$("$FIX" text 3 6 5 1),$("$FIX" text 3 6 5 2),$("$FIX" text 3 6 5 4)" \
    "nested tree: ImageFolder order (a/z.png, then a/images/a.JPEG, b.PNG, then a/images/sub/c.png)"
is "$(q "SELECT image_channels(image) || 'x' || image_height(image) || 'x' || image_width(image) FROM nested ORDER BY id OFFSET 1 LIMIT 1")" \
    "3x6x5" "nested tree: the JPEG second in order"
is "$(q "SELECT image::text FROM nested WHERE label = 2")" "$("$FIX" text 3 6 5 6)" \
    "nested tree: .pNg read as PNG"
is "$(q "SELECT string_agg(column_name || ':' || data_type, ',' ORDER BY ordinal_position)
         FROM information_schema.columns WHERE table_name = 'nested'")" \
    "id:bigint,image:USER-DEFINED,label:integer,class_name:text,split:text" \
    "nested tree: the class names are stored in a class_name column"
is "$(q "SELECT attcompression FROM pg_attribute WHERE attrelid = 'nested'::regclass AND attname = 'image'")" \
    "$(q "SELECT CASE WHEN 'lz4' = ANY (enumvals) THEN 'l' ELSE '' END FROM pg_settings WHERE name = 'default_toast_compression'")" \
    "a new table's image column is compressed with lz4 when the server has it"

# --compression: of a new table's images; none is storage external (out of line, uncompressed)
load --table nested_none -q --split train --compression none "$N"
is "$rc|$(q "SELECT attstorage::text || ':' || attcompression::text FROM pg_attribute WHERE attrelid = 'nested_none'::regclass AND attname = 'image'")" \
    "0|e:" "--compression none: the image column's storage is external, no compression method"
is "$(q "SELECT count(*) FROM nested n JOIN nested_none m USING (id) WHERE n.image::text = m.image::text AND n.label = m.label")" 6 \
    "--compression none: the same rows as the default"
load --table nested_pglz -q --split train --compression pglz "$N"
is "$rc|$(q "SELECT attstorage::text || ':' || attcompression::text FROM pg_attribute WHERE attrelid = 'nested_pglz'::regclass AND attname = 'image'")" \
    "0|m:p" "--compression pglz: storage main, pglz"
load --table nested_pglz -q --split train --append --compression lz4 "$N"
is "$rc|$(q "SELECT count(*) FROM nested_pglz")" "3|6" "--compression on --append to an existing table: exit 3, table unchanged"
like "$out" "already exists; --compression sets the storage of a table the loader creates" \
    "--compression on an existing table: the message says why"
load --table nested_zstd -q --compression zstd "$N"
is "$rc" 2 "--compression zstd: exit 2"
like "$out" "--compression must be lz4, pglz or none" "--compression zstd: the message lists the choices"
no_table nested_zstd "--compression zstd"

# 64x64 images over the TOAST threshold: the pattern compresses, the bench's photo-like ones do not
"$FIX" tree "$WORK/pat64" 1 2 64 64
"$FIX" tree "$WORK/photo64" 1 2 64 64 photo
load --table pat_lz4 -q --compression lz4 "$WORK/pat64"
load --table pat_none -q --compression none "$WORK/pat64"
is "$(q "SELECT max(pg_column_size(image)) < 4000 FROM pat_lz4")|$(q "SELECT min(pg_column_size(image)) >= 12288 FROM pat_none")" "t|t" \
    "--compression none stores 3x64x64 images whole; lz4 compresses the pattern"
is "$(q "SELECT count(*) FROM pat_lz4 a JOIN pat_none b USING (id) WHERE a.image::text = b.image::text")" 2 \
    "--compression none and lz4: the same images"
load --table photo_lz4 -q --compression lz4 "$WORK/photo64"
is "$rc|$(q "SELECT count(*) || ':' || bool_and(pg_column_size(image) > 0.9 * 12300)::int FROM photo_lz4")" "0|2:1" \
    "the fixture's photo-like JPEGs decode, and their pixels hardly compress with lz4 (as photographs)"
q "CREATE EXTENSION IF NOT EXISTS pageinspect" >/dev/null
is "$(q "SELECT count(*) || ':' || count(*) FILTER (WHERE t_infomask & 768 = 768) FROM heap_page_items(get_raw_page('nested', 0))")" "6:6" \
    "rows of a new table are written frozen (COPY FREEZE)"

# the order of ImageFolder's sorted os.walk: folder paths compared whole ("a b" < "a/x")
O=$WORK/order; mkdir -p "$O/k/a/x" "$O/k/a b"
"$FIX" png "$O/k/a/x/1.png" 1 2 2 41; "$FIX" png "$O/k/a b/2.png" 1 2 2 42; "$FIX" png "$O/k/a/3.png" 1 2 2 43
load --table walk_order -q "$O"
is "$rc|$(q "SELECT string_agg(image::text, ',' ORDER BY id) FROM walk_order")" \
    "0|$("$FIX" text 1 2 2 43),$("$FIX" text 1 2 2 42),$("$FIX" text 1 2 2 41)" \
    "files sorted by folder path then name: k/a/3.png, k/a b/2.png, k/a/x/1.png"

# ---- a flat folder with a labels file (Tiny-ImageNet's val/images + val_annotations.txt) ----------
V=$WORK/val; mkdir -p "$V/images"
"$FIX" png "$V/images/v2.png" 3 6 5 12
"$FIX" png "$V/images/v1.png" 3 6 5 11
"$FIX" png "$V/images/v10.PNG" 3 6 5 13
printf 'v1.png\tc\t0\t0\t4\t4\nv2.png\ta\t1\t1\t3\t3\r\n\nv10.PNG b 0 0 5 6\n' >"$V/val_annotations.txt"
load --table nested -q --split val --append --labels-file "$V/val_annotations.txt" "$V/images"
is "$rc" 0 "labels file, classes from the table it is appended to: exit 0"
is "$(q "SELECT string_agg(label || ':' || class_name, ',' ORDER BY id) FROM nested WHERE split = 'val'")" \
    "2:c,1:b,0:a" "labels file: each file's class, files in byte order of the names (v1.png, v10.PNG, v2.png)"
is "$(q "SELECT image::text FROM nested WHERE split = 'val' ORDER BY id LIMIT 1 OFFSET 1")" "$("$FIX" text 3 6 5 13)" \
    "labels file: v10.PNG second"
printf 'a\nb\nc\n' >"$WORK/classes.txt"
load --table val_file -q --labels-file "$V/val_annotations.txt" --classes "$WORK/classes.txt" "$V/images"
is "$rc|$(q "SELECT string_agg(label::text, ',' ORDER BY id) FROM val_file")" "0|2,1,0" \
    "labels file with --classes FILE (one name per line, in label order)"
load --table val_dir -q --labels-file "$V/val_annotations.txt" --classes "$N" "$V/images"
is "$rc|$(q "SELECT string_agg(label::text, ',' ORDER BY id) FROM val_dir")" "0|2,1,0" \
    "labels file with --classes DIR (the training tree's class folders)"
load --table val_from -q --labels-file "$V/val_annotations.txt" --classes-from nested "$V/images"
is "$rc|$(q "SELECT string_agg(label || class_name, ',' ORDER BY id) FROM val_from")" "0|2c,1b,0a" \
    "labels file with --classes-from TABLE"

# bad_labels NAME MESSAGE-REGEX LABELS-FILE-CONTENT: a labels file that must be refused
bad_labels() {
    printf "$3" >"$WORK/labels.txt"
    load --table val_bad -q --labels-file "$WORK/labels.txt" --classes "$WORK/classes.txt" "$V/images"
    is "$rc" 1 "$1: exit 1"
    like "$out" "$2" "$1: message"
    no_table val_bad "$1"
}
bad_labels "labels file: unknown class" "labels.txt line 2: unknown class \"zebra\"" \
    'v1.png a\nv2.png zebra\nv10.PNG b\n'
bad_labels "labels file: a listed file is missing" "labels.txt line 3: .*/images/v3.png does not exist" \
    'v1.png a\nv2.png b\nv3.png c\nv10.PNG b\n'
bad_labels "labels file: an image not listed" "images/v2.png is not in the labels file .*labels.txt" \
    'v1.png a\nv10.PNG b\n'
bad_labels "labels file: a line without a class" "labels.txt line 1: \"v1.png\" has no class" \
    'v1.png\nv2.png a\nv10.PNG b\n'
bad_labels "labels file: a file listed twice" "labels.txt line 4: v1.png is also on line 1" \
    'v1.png a\nv2.png b\nv10.PNG b\nv1.png c\n'
load --table val_bad -q --labels-file "$V/val_annotations.txt" --classes-from idx_raw "$V/images"
is "$rc" 1 "--classes-from a table without class names: exit 1"
like "$out" "no column \"class_name\" of class names.*--classes" "... says so and names --classes"
q "CREATE TABLE two_names (image image, label int, class_name text);
   INSERT INTO two_names VALUES ('1x1x1:00', 0, 'a'), ('1x1x1:00', 0, 'b'), ('1x1x1:00', 1, 'c')" >/dev/null
load --table val_bad -q --labels-file "$V/val_annotations.txt" --classes-from two_names "$V/images"
is "$rc" 1 "--classes-from a table giving one label two names: exit 1"
like "$out" "gives label 0 two names in column \"class_name\" \(\"a\" and \"b\"\)" "... naming the label and both names"
q "UPDATE two_names SET label = 5 WHERE class_name = 'b'" >/dev/null
load --table val_from2 -q --labels-file "$V/val_annotations.txt" --classes-from two_names "$V/images"
is "$rc|$(q "SELECT string_agg(label || class_name, ',' ORDER BY id) FROM val_from2")" "0|1c,5b,0a" \
    "--classes-from takes the table's label numbers as stored (a 0, c 1, b 5: gaps allowed)"
load --table val_bad -q --labels-file "$V/val_annotations.txt" "$V/images"
is "$rc" 2 "a labels file without --classes, --classes-from or --append: exit 2"
printf 'a\n\nc\n' >"$WORK/holes.txt"
load --table val_bad -q --labels-file "$V/val_annotations.txt" --classes "$WORK/holes.txt" "$V/images"
is "$rc" 1 "--classes FILE with an empty line: exit 1"
like "$out" "holes.txt line 2: empty" "... naming the line"

# ---- --channels and --size: a tree of mixed images becomes one shape ------------------------------
M=$WORK/mixed; mkdir -p "$M/g/deep" "$M/k"
"$FIX" png "$M/g/1.png" 1 4 4 21         # grey
"$FIX" png "$M/g/deep/2.png" 2 4 4 22    # grey + alpha
"$FIX" png "$M/k/3.png" 3 4 4 23         # RGB
"$FIX" png "$M/k/4.png" 4 4 4 24         # RGBA
load --table mixed -q "$M"
is "$rc" 1 "mixed grey and RGB without --channels: exit 1"
like "$out" "3.png: image 3 is 3x4x4 .* but the first \(.*1.png\) is 1x4x4.*--channels 1\|3 and --size HxW" \
    "... names both files and the options that help"
no_table mixed "mixed shapes"
# expected pixels: the fixture's pattern with alpha dropped (the first C planes), then converted
ga=$(q "SELECT image_from_bytes(substr(image_to_bytes('$("$FIX" text 2 4 4 22)'::image), 1, 16), 1, 4, 4)")
rgba=$(q "SELECT image_from_bytes(substr(image_to_bytes('$("$FIX" text 4 4 4 24)'::image), 1, 48), 3, 4, 4)")
load --table mixed3 -q --channels 3 "$M"
is "$rc" 0 "--channels 3 on grey, grey+alpha, RGB and RGBA PNGs: exit 0"
is "$(q "SELECT string_agg(image::text, ',' ORDER BY id) FROM mixed3")" \
    "$(q "SELECT concat_ws(',', image_convert('$("$FIX" text 1 4 4 21)', 3), image_convert('$ga', 3),
                              '$("$FIX" text 3 4 4 23)'::image, '$rgba'::image)")" \
    "--channels 3: grey replicated, alpha dropped, RGB kept"
is "$(q "SELECT substr(image::text, 7, 6) FROM mixed3 ORDER BY id LIMIT 1")" \
    "$(printf '%02x' $(( (31 * 21) % 256 )))$(printf '%02x' $(( (31 * 21 + 7) % 256 )))$(printf '%02x' $(( (31 * 21 + 14) % 256 )))" \
    "--channels 3: the first grey pixels as the fixture wrote them"
load --table mixed1 -q --channels 1 "$M"
is "$rc" 0 "--channels 1: exit 0"
is "$(q "SELECT string_agg(image::text, ',' ORDER BY id) FROM mixed1")" \
    "$(q "SELECT concat_ws(',', '$("$FIX" text 1 4 4 21)'::image, '$ga'::image,
                              image_convert('$("$FIX" text 3 4 4 23)', 1), image_convert('$rgba', 1))")" \
    "--channels 1: grey kept, alpha dropped, RGB to BT.601 luma"
# pixel 0 of the RGB image by hand: R, G, B = 31*23 + 7*{0, 16, 32} mod 256
r=$(( (31 * 23) % 256 )); g=$(( (31 * 23 + 112) % 256 )); b=$(( (31 * 23 + 224) % 256 ))
is "$(q "SELECT substr(image::text, 7, 2) FROM mixed1 ORDER BY id OFFSET 2 LIMIT 1")" \
    "$(printf '%02x' $(( (299 * r + 587 * g + 114 * b + 500) / 1000 )))" "--channels 1: luma of the first RGB pixel by hand"

S=$WORK/sizes; mkdir -p "$S/a/x" "$S/b"
"$FIX" png "$S/a/1.png" 3 8 8 31
"$FIX" png "$S/a/x/2.png" 3 6 5 32
"$FIX" png "$S/b/3.png" 1 4 4 33
load --table sized -q --size 4x4 "$S"
is "$rc" 1 "--size alone on grey and RGB: exit 1 (channels still differ)"
like "$out" "--channels" "... with the hint"
load --table sized -q --size 4x4 --channels 3 "$S"
is "$rc" 0 "--size 4x4 --channels 3 on 8x8, 6x5 and 4x4 images: exit 0"
is "$(q "SELECT string_agg(image::text, ',' ORDER BY id) FROM sized")" \
    "$(q "SELECT concat_ws(',', image_resize('$("$FIX" text 3 8 8 31)', 4, 4), image_resize('$("$FIX" text 3 6 5 32)', 4, 4),
                              image_convert('$("$FIX" text 1 4 4 33)', 3))")" \
    "--size: area resampling as image_resize, a 4x4 image unchanged"
load --table sized_bad -q --size 0x4 "$S"
is "$rc" 2 "--size 0x4: exit 2"
load --table sized_bad -q --size 64 "$S"
is "$rc" 2 "--size without HxW: exit 2"
load --table sized_bad -q --channels 2 "$S"
is "$rc|$(printf '%s' "$out" | grep -c 'must be 1 (grey) or 3')" "2|1" "--channels 2: exit 2 naming the values"
load --table sized_bad -q --channels 3 "$D/train-images-idx3-ubyte"
is "$rc" 2 "--channels with IDX input: exit 2"

# ---- decoding threads: --jobs 1 and --jobs 2 give the same table -------------------------------
J=$WORK/jobs
for c in 0 1 2; do
    mkdir -p "$J/c$c/images"
    for k in $(seq 1 15); do
        case $(( k % 3 )) in
            0) "$FIX" png "$J/c$c/images/$k.png" 1 9 7 $(( c * 100 + k )) ;;
            1) "$FIX" jpeg "$J/c$c/images/$k.jpg" 3 12 10 $(( c * 100 + k )) ;;
            2) "$FIX" png "$J/c$c/images/$k.PNG" 4 5 6 $(( c * 100 + k )) ;;
        esac
    done
done
load --table jobs1 -q --jobs 1 --channels 3 --size 6x6 "$J"
is "$rc" 0 "--jobs 1: exit 0"
load --table jobs2 -q --jobs 2 --channels 3 --size 6x6 "$J"
is "$rc" 0 "--jobs 2: exit 0"
is "$(q "SELECT count(*) FROM jobs1 a JOIN jobs2 b ON a.id = b.id AND a.image = b.image AND a.label = b.label")|$(q "SELECT count(*) FROM jobs2")" \
    "45|45" "--jobs 1 and --jobs 2: the same rows in the same order"
"$FIX" png "$J/c1/images/8.png" 3 6 6 1
head -c 40 "$J/c1/images/8.png" >"$J/c1/images/80.png"
head -c 3000 /dev/urandom >"$J/c2/images/9.jpg"
for j in 1 2; do
    load --table jobs_bad -q --jobs $j --channels 3 --size 6x6 "$J"
    is "$rc" 1 "--jobs $j, two corrupt images: exit 1"
    like "$out" "c1/images/80.png: cannot decode" "--jobs $j: the first corrupt file in file order is named"
    no_table jobs_bad "--jobs $j corrupt"
done

# ---- bad inputs: clear message, exit 1, nothing left behind --------------------------------
B=$WORK/bad; mkdir -p "$B"
# bad NAME TABLE MESSAGE-REGEX LOADER-ARGS...
bad() {
    local name=$1 table=$2 re=$3; shift 3
    load --table "$table" -q "$@"
    is "$rc" 1 "$name: exit 1"
    like "$out" "$re" "$name: message"
    no_table "$table" "$name"
}
head -c 300 "$D/train-images-idx3-ubyte" >"$B/cut-images-idx3-ubyte"
cp "$D/train-labels-idx1-ubyte" "$B/cut-labels-idx1-ubyte"
bad "IDX truncated" bad1 "cut-images-idx3-ubyte: truncated IDX image file" "$B/cut-images-idx3-ubyte"

head -c 200 "$D/t10k-images-idx3-ubyte.gz" >"$B/gzcut-images-idx3-ubyte.gz"
cp "$D/t10k-labels-idx1-ubyte.gz" "$B/gzcut-labels-idx1-ubyte.gz"
bad "IDX gzip truncated" bad2 "gzcut-images-idx3-ubyte.gz: corrupt or truncated gzip" "$B/gzcut-images-idx3-ubyte.gz"

bad "IDX wrong magic (labels given as images)" bad3 "wrong magic number 0x00000801.*expected 0x00000803" \
    --images "$D/train-labels-idx1-ubyte" --labels "$D/train-labels-idx1-ubyte"
printf 'garbage garbage garbage' >"$B/junk-labels"
bad "IDX wrong magic in the label file" bad3b "junk-labels: wrong magic number" \
    --images "$D/train-images-idx3-ubyte" --labels "$B/junk-labels"

bad "IDX image and label counts differ" bad4 "holds 20 images but .* holds 50 labels" \
    --images "$D/t10k-images-idx3-ubyte" --labels "$D/train-labels-idx1-ubyte"
"$FIX" idx "$B/short-images-idx3-ubyte" "$B/short-labels-idx1-ubyte" 10 5 4 10
head -c 12 "$B/short-labels-idx1-ubyte" >"$B/x" && mv "$B/x" "$B/short-labels-idx1-ubyte"
bad "IDX label file truncated" bad4b "truncated IDX label file" "$B/short-images-idx3-ubyte"

bad "IDX missing label file" bad5 "missing-labels-idx1-ubyte: No such file" \
    --images "$D/train-images-idx3-ubyte" --labels "$B/missing-labels-idx1-ubyte"
bad "missing input" bad6 "nothing-here: No such file" "$B/nothing-here"

head -c 5000 "$C/data_batch_1.bin" >"$B/cut.bin"
bad "CIFAR-10 truncated" bad7 "cut.bin: 5000 bytes is not a whole number of CIFAR-10 records" --format cifar10 "$B/cut.bin"
# a truncated gzip stream is only noticed mid-COPY: the transaction must roll back
cat "$C/data_batch_1.bin" "$C/data_batch_2.bin" | gzip >"$B/whole.bin.gz"
head -c $(($(stat -c %s "$B/whole.bin.gz") / 2)) "$B/whole.bin.gz" >"$B/cut.bin.gz"
bad "CIFAR-10 gzip truncated mid-load" bad8 "cut.bin.gz: (truncated|corrupt)" --format cifar10 "$B/cut.bin.gz"
"$FIX" cifar "$B/c100as10.bin" 3073 100 0
bad "CIFAR-100 file read as CIFAR-10" bad9 "label .* CIFAR-10 labels are 0 to 9" --format cifar10 "$B/c100as10.bin"

# a garbage image after good ones: the COPY has started, so this tests the rollback
GB=$WORK/garbage; mkdir -p "$GB/a" "$GB/b"
for i in 1 2 3; do "$FIX" png "$GB/a/$i.png" 3 6 5 $i; done
head -c 2000 /dev/urandom >"$GB/b/zz-garbage.png"
bad "folder with a garbage image" bad10 "zz-garbage.png: cannot decode" "$GB"
T=$WORK/truncpng; mkdir -p "$T/a"
"$FIX" png "$T/a/1.png" 3 16 16 1
"$FIX" png "$T/a/2.png" 3 16 16 2
head -c 60 "$T/a/2.png" >"$T/a/3.png"
bad "folder with a truncated PNG" bad11 "3.png: cannot decode" "$T"
E=$WORK/empty; mkdir -p "$E/x"
bad "folder without images" bad12 "no .png, .jpg or .jpeg files" "$E"
mkdir -p "$E/y/images/deeper"; touch "$E/y/images/notes.txt"
bad "tree without images at any depth" bad13 "no .png, .jpg or .jpeg files at any depth in its 2 class folders" "$E"

before=$(q "SELECT count(*) FROM pets")
load --table pets -q --append "$GB"
is "$rc|$(q "SELECT count(*) FROM pets")" "1|$before" "a failed --append leaves the table's rows unchanged"
load --table idx_raw -q --append --split x "$D/train-images-idx3-ubyte"
is "$rc" 3 "--append --split to a table without a split column exits 3"
like "$out" "no column \"split\"" "... naming the missing column"

# ---- connection settings --------------------------------------------------------------------
out=$("$LOADER" -d "dbname=$TESTDB host=$PGHOST port=$PGPORT" --table conn1 -q "$D/train-images-idx3-ubyte" 2>&1)
is "$?|$(q "SELECT count(*) FROM conn1")" "0|50" "-d with a key=value connection string"
out=$("$LOADER" -d "postgresql:///$TESTDB?host=$PGHOST&port=$PGPORT" --table conn1u -q "$D/train-images-idx3-ubyte" 2>&1)
is "$?|$(q "SELECT count(*) FROM conn1u")" "0|50" "-d with a postgresql:// URI"
out=$(PGDATABASE=$TESTDB "$LOADER" --table conn2 -q "$D/train-images-idx3-ubyte" 2>&1)
is "$?|$(q "SELECT count(*) FROM conn2")" "0|50" "PGDATABASE names the database"
out=$("$LOADER" -d "dbname=no_such_db_here" --table conn3 -q "$D/train-images-idx3-ubyte" 2>&1)
is "$?" 3 "an unreachable database exits 3"
like "$out" "cannot connect.*no_such_db_here" "... with libpq's message"
q "CREATE SCHEMA data" >/dev/null
load --table 'data."Mixed Case"' -q "$D/train-images-idx3-ubyte"
is "$rc|$(q "SELECT count(*) FROM data.\"Mixed Case\"")" "0|50" "--table takes a schema-qualified quoted name"

# ---- progress display when stderr is not a terminal -----------------------------------------
out=$("$LOADER" -d "$TESTDB" --table plain --split train "$D" 2>&1 >/dev/null)
unlike_cr=$(printf '%s' "$out" | grep -c $'\r')
is "$unlike_cr" 0 "no carriage-return bar when stderr is not a terminal"

# ---- the real Fashion-MNIST --------------------------------------------------------------------
if [ -f "$FASHION_MNIST_DIR/train-images-idx3-ubyte.gz" ]; then
    start=$(date +%s.%N)
    load --table fashion -q --split train "$FASHION_MNIST_DIR"
    is "$rc" 0 "Fashion-MNIST train: exit 0"
    load --table fashion -q --split test --append "$FASHION_MNIST_DIR"
    is "$rc" 0 "Fashion-MNIST test: exit 0"
    secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
    diag "Fashion-MNIST: 70,000 images loaded in $secs s"
    is "$(q "SELECT string_agg(split || '=' || n, ',' ORDER BY split) FROM (SELECT split, count(*) n FROM fashion GROUP BY split) s")" \
        "test=10000,train=60000" "Fashion-MNIST: 60,000 train + 10,000 test rows"
    is "$(q "SELECT count(*) FROM (SELECT label FROM fashion WHERE split = 'train' GROUP BY label HAVING count(*) = 6000) s")" \
        10 "Fashion-MNIST: 6,000 training images per class"
    is "$(q "SELECT count(*) FROM fashion WHERE image_channels(image) <> 1 OR image_height(image) <> 28 OR image_width(image) <> 28")" \
        0 "Fashion-MNIST: every image 1x28x28"
else
    diag "dataset-fashion-mnist is not installed: skipping the real-data load"
fi

done_testing
