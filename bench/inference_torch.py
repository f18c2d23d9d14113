#!/usr/bin/python3
"""PyTorch peer of the inference benchmark (bench/inference_bench.sh); not a test.

  inference_torch.py make DIR     writes DIR/model.safetensors (B_6-Wi_512, 3x32x32, 10 classes,
                                  PyTorch default init, seed 0) and DIR/images.copy (10,000
                                  random images, COPY text format: id, CxHxW:hex)
  inference_torch.py run DIR B T [P]  times PyTorch inference of the same images, batch B, T threads,
                               P fp32 (default) or bf16 (torch.autocast);
                                  prints images/s and writes DIR/torch_classes.txt

Normalisation (pixel/255 - mean)/std is part of the timed work, as it is inside the database.
safetensors is written by hand (Debian has no python3-safetensors).
"""
import json
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn

N_IMAGES = 10000
SHAPE = (3, 32, 32)
MEAN = [0.4914, 0.4822, 0.4465]
STD = [0.2470, 0.2435, 0.2616]


class BottleneckMLP(nn.Module):
    """B_L-Wi_W of the reference code: linear_in, L blocks x + block(LayerNorm(x)), linear_out."""

    def __init__(self, in_dim, width, depth, classes, expansion=4):
        super().__init__()
        self.linear_in = nn.Linear(in_dim, width)
        self.blocks = nn.ModuleList([nn.Module() for _ in range(depth)])
        for b in self.blocks:
            b.block = nn.Sequential(nn.Linear(width, expansion * width), nn.GELU(),
                                    nn.Linear(expansion * width, width))
        self.layernorms = nn.ModuleList([nn.LayerNorm(width) for _ in range(depth)])
        self.linear_out = nn.Linear(width, classes)

    def forward(self, x):
        # The residual stream and LayerNorm in float (as in mlpscale's bf16 mode and
        # bench/torch_train.py): under CPU autocast a Linear returns bf16, which 1.13's
        # layer_norm refuses with float weights.  Without autocast .float() is a no-op.
        x = self.linear_in(x.flatten(1)).float()
        for b, norm in zip(self.blocks, self.layernorms):
            x = x + b.block(norm(x)).float()
        return self.linear_out(x).float()


def make_model():
    torch.manual_seed(0)
    return BottleneckMLP(int(np.prod(SHAPE)), 512, 6, 10).eval()


def write_safetensors(path, model):
    header, blobs, offset = {}, [], 0
    for name, t in model.state_dict().items():
        data = t.detach().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"format": "mlpscale", "arch": "B_6-Wi_512",
                              "input_shape": ",".join(map(str, SHAPE)), "classes": "10",
                              "mean": ",".join(map(str, MEAN)), "std": ",".join(map(str, STD))}
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def images():
    return np.random.default_rng(1).integers(0, 256, size=(N_IMAGES,) + SHAPE, dtype=np.uint8)


def make(out_dir):
    write_safetensors(os.path.join(out_dir, "model.safetensors"), make_model())
    prefix = "%dx%dx%d:" % SHAPE
    with open(os.path.join(out_dir, "images.copy"), "w") as f:
        for i, img in enumerate(images()):
            f.write("%d\t%s%s\n" % (i + 1, prefix, img.tobytes().hex()))


def run(out_dir, batch, threads, precision="fp32"):
    torch.set_num_threads(threads)
    model = make_model()
    data = torch.from_numpy(images())
    mean = torch.tensor(MEAN).view(1, -1, 1, 1)
    std = torch.tensor(STD).view(1, -1, 1, 1)

    def classify_all():
        out = []
        # bf16: the linear layers under CPU autocast (oneDNN), as mlpscale's bf16 products
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16,
                                             enabled=precision == "bf16"):
            for s in range(0, N_IMAGES, batch):
                x = (data[s:s + batch].float() / 255.0 - mean) / std
                out.append(model(x).argmax(1))
        return torch.cat(out)

    classify_all()  # warm-up: thread pool, allocator
    t0 = time.perf_counter()
    classes = classify_all()
    seconds = time.perf_counter() - t0
    with open(os.path.join(out_dir, "torch_classes.txt"), "w") as f:
        f.write("\n".join(str(int(c)) for c in classes) + "\n")
    print("%.1f" % (N_IMAGES / seconds))


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        run(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]),
            sys.argv[5] if len(sys.argv) > 5 else "fp32")
