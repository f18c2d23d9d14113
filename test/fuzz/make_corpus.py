#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into test/fuzz/corpus/<target>/.

Standard library only; run from anywhere: python3 test/fuzz/make_corpus.py.  The PNG and
JPEG seeds are the PIL-made files of test/fixtures/image_fixture.sql.  Re-running gives the
same files, so the checked-in corpus is exactly what this script writes.
"""
import json
import os
import re
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- safetensors ------------------------------------------------------------------------
DTYPE = {"F32": ("<f", 4), "F16": ("<e", 2), "F64": ("<d", 8), "I64": ("<q", 8),
         "I32": ("<i", 4), "U8": ("<B", 1)}


def safetensors(tensors, metadata=None):
    """tensors: list of (name, dtype, shape, values); BF16 values are raw uint16."""
    header, blobs, off = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, values in tensors:
        if dtype == "BF16":
            blob = b"".join(struct.pack("<H", v) for v in values)
        else:
            blob = b"".join(struct.pack(DTYPE[dtype][0], v) for v in values)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(blob)]}
        blobs.append(blob)
        off += len(blob)
    h = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def values(shape, scale=0.125):
    return [((i % 7) - 3) * scale for i in range(numel(shape))]


def model(kind, depth, width, in_dim, classes, expansion=4, dtype="F32", metadata=None):
    t = [("linear_in.weight", [width, in_dim]), ("linear_in.bias", [width])]
    nl = depth if kind == "B" else depth - 1
    for i in range(nl):
        if kind == "B":
            t += [(f"blocks.{i}.block.0.weight", [expansion * width, width]),
                  (f"blocks.{i}.block.0.bias", [expansion * width]),
                  (f"blocks.{i}.block.2.weight", [width, expansion * width]),
                  (f"blocks.{i}.block.2.bias", [width])]
        else:
            t += [(f"layers.{i}.weight", [width, width]), (f"layers.{i}.bias", [width])]
    for i in range(nl):
        t += [(f"layernorms.{i}.weight", [width]), (f"layernorms.{i}.bias", [width])]
    t += [("linear_out.weight", [classes, width]), ("linear_out.bias", [classes])]
    if dtype == "BF16":
        return safetensors([(n, dtype, s, [0x3e00] * numel(s)) for n, s in t], metadata)
    return safetensors([(n, dtype, s, values(s)) for n, s in t], metadata)


def corpus_safetensors():
    write("safetensors", "all_dtypes", safetensors([
        ("f32", "F32", [2, 3], [1, -2, 3.5, 1e-30, -0.0, 1e30]),
        ("f16", "F16", [3], [0.5, -1, 65504]),
        ("bf16", "BF16", [2], [0x3f80, 0xbf80]),
        ("f64", "F64", [2], [1e300, -2.5]),
        ("i64", "I64", [1], [-1]),
        ("i32", "I32", [1], [7]),
        ("u8", "U8", [4], [0, 1, 254, 255]),
    ], {"format": "pt", "note": "\u00e9\u00e8"}))
    write("safetensors", "empty_and_scalar", safetensors([
        ("empty", "F32", [0, 5], []), ("scalar", "F32", [], [42.0]), ("v", "F32", [1], [1.0])]))
    write("safetensors", "header_only", safetensors([], {}))
    write("safetensors", "nan", safetensors([("x", "F32", [2], [float("nan"), float("inf")])]))
    write("safetensors", "eight_dims", safetensors([("x", "U8", [1] * 8, [3])]))
    good = safetensors([("a", "F32", [2], [1.0, 2.0]), ("b", "F32", [1], [3.0])])
    write("safetensors", "truncated", good[:-3])
    h = b'{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}'
    write("safetensors", "overlap", struct.pack("<Q", len(h)) + h + b"\x00\x01\x02")


# ---- weights (the first byte chooses mlp_import's overrides, see fuzz_weights.c) --------
def corpus_weights():
    meta = {"format": "mlpscale", "arch": "B_1-Wi_4", "input_shape": "1,2,2", "classes": "3",
            "mean": "0.5", "std": "0.25", "class_names": '["a","b","c"]'}
    write("weights", "b1_wi4_meta", b"\x00" + model("B", 1, 4, 4, 3, metadata=meta))
    write("weights", "b1_wi4_input_override", b"\x09" + model("B", 1, 4, 4, 3))
    write("weights", "b2_wi2_x2_rgb", b"\x00" + model("B", 2, 2, 3, 2, expansion=2, metadata={
        "input_shape": "3,1,1", "mean": "0.4914,0.4822,0.4465", "std": "0.247,0.243,0.261"}))
    write("weights", "s1_wi4", b"\x00" + model("S", 1, 4, 4, 2, metadata={"input_shape": "1,2,2"}))
    write("weights", "s3_wi2_bf16", b"\x00" + model("S", 3, 2, 2, 2, dtype="BF16",
                                                     metadata={"input_shape": "2,1,1", "arch": "S_3-Wi_2"}))
    write("weights", "s2_wi2_f16_names", b"\x48" + model("S", 2, 2, 1, 2, dtype="F16",
                                                          metadata={"input_shape": "1,1,1"}))
    write("weights", "no_input_shape", b"\x00" + model("B", 1, 2, 4, 2))
    # 16 KB claiming B_1-Wi_16384 (8 GiB of parameters): refused before allocating (6d20b09)
    w = 16384
    write("weights", "wide_claim", b"\x00" + safetensors([
        ("linear_in.weight", "U8", [w, 1], [0] * w), ("blocks.0.block.0.weight", "U8", [4 * w, 0], []),
        ("linear_out.weight", "U8", [1, 0], [])]))
    write("weights", "wrong_arch_meta", b"\x00" + model("B", 1, 2, 4, 2, metadata={
        "input_shape": "1,2,2", "arch": "B_2-Wi_2", "classes": "3"}))


# ---- image type ---------------------------------------------------------------------------
def corpus_image():
    for name, text in [("grey_2x2", "1x2x2:00ff10a0"), ("rgb_1x2", "3x1x2:000102030405"),
                       ("spaces_upper", " 1x1x1:AB \n"), ("rgba", "4x1x1:00112233"),
                       ("too_many_digits", "1x99999999999x1:00"), ("zero_channels", "0x2x2:"),
                       ("not_hex", "1x2x2:00ff10zz"), ("short_hex", "1x2x2:00ff10"),
                       ("no_colon", "1x2x2;00ff10a0"), ("max_width", "1x1x4097:00"),
                       ("minus", "-1x1x1:00")]:
        write("image_text", name, text)

    def msg(c, h, w, pixels):
        return struct.pack(">iii", c, h, w) + bytes(pixels)

    write("image_binary", "grey_1x2", msg(1, 1, 2, [0xaa, 0xbb]))
    write("image_binary", "rgb_2x2", msg(3, 2, 2, range(12)))
    write("image_binary", "short_pixels", msg(1, 1, 2, [0xaa]))
    write("image_binary", "long_pixels", msg(1, 1, 2, [0xaa, 0xbb, 0xcc]))
    write("image_binary", "zero_channels", msg(0, 1, 1, []))
    write("image_binary", "negative_width", msg(1, 1, -1, [0xaa]))
    write("image_binary", "huge", msg(2147483647, 2147483647, 2147483647, []))
    write("image_binary", "short_header", struct.pack(">ii", 1, 1))


def corpus_image_codec():
    sql = open(os.path.join(ROOT, "test", "fixtures", "image_fixture.sql")).read()
    files = dict(re.findall(r"^INSERT INTO image_files VALUES \('([a-z0-9_]+)', '\\x([0-9a-f]+)'",
                            sql, re.M))
    for name, hexdata in sorted(files.items()):
        write("image_codec", name, bytes.fromhex(hexdata))
    write("image_codec", "png_truncated", bytes.fromhex(files["png_rgb"])[:60])
    write("image_codec", "jpeg_truncated", bytes.fromhex(files["jpeg_rgb"])[:200])


def corpus_arch():
    for s in ["B_6-Wi_512", "B_12-Wi_512-X_4", "S_6-Wi_1024", "B_1-Wi_1-X_1", "S_1-Wi_64",
              "B_256-Wi_65536-X_64", "B_0-Wi_512", "S_6-Wi_512-X_4", "B_6-Wi_512-X_",
              "B_6-Wi_99999999999999999999", "C_6-Wi_512"]:
        write("arch", s.replace("-", "_") or "empty", s)


def corpus_json():
    docs = {
        "object": '{"a": 1, "b": [true, false, null], "c": {"d": "e"}}',
        "numbers": "[0, -0, 1.5, -2.25e-7, 1E+308, 9223372036854775807, -9223372036854775808, 18446744073709551616]",
        "strings": '["", "\\"\\\\\\/\\b\\f\\n\\r\\t", "\\u00e9\\ud83d\\ude00", "\u00e9\u4e2d"]',
        "nested": "[[[[[[[[[[]]]]]]]]]]",
        "header": '{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}',
        "class_names": '["airplane","automobile","bird"]',
        "scalar": ' "just a string" ',
        "duplicate": '{"a":1,"a":2}',
        "trailing_comma": "[1,2,]",
    }
    for name, text in docs.items():
        write("json", name, text)


def main():
    if os.path.isdir(CORPUS):
        shutil.rmtree(CORPUS)
    corpus_safetensors()
    corpus_weights()
    corpus_image()
    corpus_image_codec()
    corpus_arch()
    corpus_json()


if __name__ == "__main__":
    main()
