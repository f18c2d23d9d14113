#!/usr/bin/python3
"""PyTorch peer of the mlpscale benchmark: the reference BottleneckMLP and the paper's recipe.

Run with Debian's interpreter (/usr/bin/python3, which sees python3-torch).  Every mode prints
machine-readable lines "RESULT key=value ..." on stdout; everything else goes to stderr.

  throughput    --arch B_6-Wi_256 --batch 1024 --steps 4 --reps 5   synthetic 3x32x32 uint8
  fashion-epoch                                                    one epoch incl. IDX loading
  accuracy      --arch B_6-Wi_256 --epochs 10 --seed 0             Fashion-MNIST test accuracy
  infer         --arch B_6-Wi_512 --n 10000                        images/s, no gradients
  info                                                             which BLAS and kernel

--precision bf16 (throughput, fashion-epoch, accuracy): the forward pass and the loss run under
torch.autocast("cpu", dtype=torch.bfloat16), PyTorch's own mixed precision: the linear layers
take bfloat16 operands through oneDNN (not OpenBLAS), while the weights, their gradients and
LION's state stay float.  See BottleneckMLP.forward for what stays float.

The recipe is that of design.md section 4: random-resized crop (scale 0.08-1, log-uniform ratio
3/4-4/3, torchvision's 10 tries then centre crop) with area resampling back to the training
resolution, horizontal flip p=0.5, per-channel normalisation, MixUp with roll(1) and one
lam ~ Beta(0.8, 0.8) per batch, cross-entropy with label smoothing 0.3, LION (lr 5e-5, betas
0.9/0.99, decoupled weight decay 5e-5), constant learning rate.
"""
import argparse
import ctypes
import gzip
import os
import statistics
import struct
import sys
import time

FASHION_DIR = "/usr/share/datasets/fashion-mnist"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["throughput", "fashion-epoch", "accuracy", "infer", "info"])
    p.add_argument("--arch", default="B_6-Wi_256")
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--steps", type=int, default=4, help="training steps per repetition")
    p.add_argument("--reps", type=int, default=5, help="timed repetitions (throughput, infer)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n", type=int, default=10000, help="images (infer)")
    p.add_argument("--infer-batch", type=int, default=1024)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--data-dir", default=FASHION_DIR)
    p.add_argument("--no-augment", action="store_true")
    p.add_argument("--shape", default="3x32x32", help="CxHxW of the synthetic images")
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                   help="bf16: autocast to bfloat16 around forward and loss (not infer)")
    p.add_argument("--omp-wait-policy", default="PASSIVE",
                   help="OMP_WAIT_POLICY for torch's OpenMP threads; 'default' leaves it unset")
    return p.parse_args()


ARGS = parse_args()
# OpenBLAS reads these once, when torch loads it.  Debian's OpenBLAS 0.3.21 does not recognise
# recent CPUs and falls back to slow Prescott kernels; the benchmark gives PyTorch the fast one.
os.environ.setdefault("OPENBLAS_CORETYPE", "SkylakeX")
os.environ["OPENBLAS_NUM_THREADS"] = str(ARGS.threads)
os.environ["OMP_NUM_THREADS"] = str(ARGS.threads)
# Torch's OpenMP threads and OpenBLAS's pthreads share the cores; with GNU OpenMP's default
# busy-waiting they fight over them after every BLAS call and torch runs at half speed (2.1-2.4k
# against 4.1-5.1k images/s at B_6-Wi_256 on the 2-core machine).  We give PyTorch the better
# setting; --omp-wait-policy default shows torch as installed.
if ARGS.omp_wait_policy != "default":
    os.environ["OMP_WAIT_POLICY"] = ARGS.omp_wait_policy

import torch  # noqa: E402  (must come after the environment above)
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(ARGS.threads)


def result(**kv):
    print("RESULT side=torch " + " ".join(f"{k}={v}" for k, v in kv.items()), flush=True)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def blas_info():
    """The BLAS libraries mapped into this process and OpenBLAS's kernel name."""
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1] if len(line.split()) >= 6 else ""
            name = os.path.basename(path)
            if "blas" in name or "lapack" in name or name.startswith("libmkl"):
                libs.add(os.path.realpath(path))
    core = "unknown"
    try:
        ob = ctypes.CDLL("libopenblas.so.0")
        ob.openblas_get_corename.restype = ctypes.c_char_p
        ob.openblas_get_config.restype = ctypes.c_char_p
        core = ob.openblas_get_corename().decode()
        ob.openblas_get_num_threads.restype = ctypes.c_int
        threads = ob.openblas_get_num_threads()
    except OSError:
        threads = -1
    return sorted(libs), core, threads


# ---- the reference model (Bachmann et al., scaling_mlps/models/networks.py) -----------------

class BottleneckBlock(nn.Module):
    def __init__(self, thin, wide):
        super().__init__()
        self.block = nn.Sequential(nn.Linear(thin, wide), nn.GELU(), nn.Linear(wide, thin))

    def forward(self, x):
        return self.block(x)


class BottleneckMLP(nn.Module):
    def __init__(self, dim_in, dim_out, block_dims):
        super().__init__()
        self.linear_in = nn.Linear(dim_in, block_dims[0][1])
        self.linear_out = nn.Linear(block_dims[-1][1], dim_out)
        self.blocks = nn.ModuleList([BottleneckBlock(thin=t, wide=w) for w, t in block_dims])
        self.layernorms = nn.ModuleList([nn.LayerNorm(t) for _, t in block_dims])

    def forward(self, x):
        if torch.is_autocast_cpu_enabled():
            return self.forward_autocast(x)
        x = self.linear_in(x)
        for block, norm in zip(self.blocks, self.layernorms):
            x = x + block(norm(x))
        return self.linear_out(x)

    def forward_autocast(self, x):
        """The same forward under CPU autocast (--precision bf16).  Every nn.Linear then
        multiplies bfloat16 operands (oneDNN's bf16 matmul, float accumulation) and returns
        bfloat16; GELU runs on that bfloat16.  Kept float, as in mlpscale's bf16 path: the
        residual stream (linear_in's output is cast back; float + bfloat16 is float), the
        LayerNorms, and the logits.  The LayerNorms also run outside autocast because torch
        1.13's CPU autocast breaks layer_norm of a bfloat16 input ("expected scalar type
        BFloat16 but found Float")."""
        x = self.linear_in(x).float()
        for block, norm in zip(self.blocks, self.layernorms):
            with torch.autocast("cpu", enabled=False):
                h = norm(x.float())
            x = x + block(h)
        return self.linear_out(x).float()


def make_model(arch, dim_in, classes):
    """B_L-Wi_W[-X_k] as in the reference code's get_architecture()."""
    parts = arch.split("-")
    if not parts[0].startswith("B_"):
        sys.exit(f"only bottleneck architectures are benchmarked, not {arch}")
    depth = int(parts[0][2:])
    width = int(parts[1][3:])
    expansion = int(parts[2][2:]) if len(parts) > 2 else 4
    return BottleneckMLP(dim_in, classes, [[expansion * width, width]] * depth)


# ---- the recipe ------------------------------------------------------------------------------

class Lion:
    """LION (Chen et al. 2023) with decoupled weight decay, as in design.md section 4."""

    def __init__(self, params, lr=5e-5, betas=(0.9, 0.99), weight_decay=5e-5):
        self.params = [p for p in params if p.requires_grad]
        self.lr, self.b1, self.b2, self.wd = lr, betas[0], betas[1], weight_decay
        self.m = [torch.zeros_like(p) for p in self.params]

    @torch.no_grad()
    def step(self):
        for p, m in zip(self.params, self.m):
            g = p.grad
            p.mul_(1.0 - self.lr * self.wd)
            u = torch.lerp(g, m, self.b1).sign_()        # sign(b1*m + (1-b1)*g)
            p.add_(u, alpha=-self.lr)
            m.lerp_(g, 1.0 - self.b2)                     # b2*m + (1-b2)*g

    def zero_grad(self):
        for p in self.params:
            p.grad = None


def crop_params(n, H, W, gen, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
    """torchvision's RandomResizedCrop.get_params for n images at once: 10 tries, first valid
    wins, otherwise the centre crop.  Returns top, left, height, width (int64 tensors)."""
    area = H * W
    tries = 10
    target = area * torch.empty(n, tries).uniform_(scale[0], scale[1], generator=gen)
    logr = torch.empty(n, tries).uniform_(torch.log(torch.tensor(ratio[0])).item(),
                                          torch.log(torch.tensor(ratio[1])).item(),
                                          generator=gen)
    ar = torch.exp(logr)
    w = torch.round(torch.sqrt(target * ar)).long()
    h = torch.round(torch.sqrt(target / ar)).long()
    valid = (w > 0) & (w <= W) & (h > 0) & (h <= H)
    first = torch.argmax(valid.int(), dim=1)             # first valid try (0 when none)
    any_valid = valid.any(dim=1)
    idx = torch.arange(n)
    h = h[idx, first]
    w = w[idx, first]
    in_ratio = W / H
    if in_ratio < ratio[0]:
        cw, ch = W, int(round(W / ratio[0]))
    elif in_ratio > ratio[1]:
        ch, cw = H, int(round(H * ratio[1]))
    else:
        cw, ch = W, H
    h = torch.where(any_valid, h, torch.full_like(h, ch))
    w = torch.where(any_valid, w, torch.full_like(w, cw))
    top = (torch.rand(n, generator=gen) * (H - h + 1).double()).long()
    left = (torch.rand(n, generator=gen) * (W - w + 1).double()).long()
    top = torch.where(any_valid, top, (H - h) // 2)
    left = torch.where(any_valid, left, (W - w) // 2)
    return top, left, h, w


def area_weights(start, length, src, dst):
    """[n, dst, src] matrices of the area (box) filter: output pixel o averages the source
    interval [start + o*length/dst, start + (o+1)*length/dst) with fractional edge weights."""
    step = (length.double() / dst)[:, None, None]
    o = torch.arange(dst, dtype=torch.float64)[None, :, None]
    a = start.double()[:, None, None] + o * step
    b = a + step
    p = torch.arange(src, dtype=torch.float64)[None, None, :]
    overlap = (torch.minimum(p + 1, b) - torch.maximum(p, a)).clamp_(min=0)
    return (overlap / step).float()


def area_taps(start, length, src, dst):
    """Sparse form of the area filter: output pixel o averages the source interval
    [start + o*length/dst, start + (o+1)*length/dst) with fractional edge weights.  Returns
    index and weight tensors [n, dst, K]; K taps cover the widest interval (2 when upsampling,
    which is every random crop resampled back to the source size)."""
    step = (length.double() / dst)[:, None, None]
    o = torch.arange(dst, dtype=torch.float64)[None, :, None]
    a = start.double()[:, None, None] + o * step
    b = a + step
    taps = int(torch.ceil(step.max()).item()) + 1
    p = torch.floor(a) + torch.arange(taps, dtype=torch.float64)[None, None, :]
    overlap = (torch.minimum(p + 1, b) - torch.maximum(p, a)).clamp_(min=0)
    return p.long().clamp_(max=src - 1), (overlap / step).float()


def resample(x, ty, tx):
    """x float [n, C, H, W]; ty, tx: (index, weight) [n, oh, K] and [n, ow, K] of area_taps
    -> [n, C, oh, ow] by gathers along each axis.  (Measured on torch 1.13: about as fast as
    two batched matmuls with dense [oh, H] matrices and faster than advanced indexing.)"""
    n, C, H, W = x.shape
    (iy, wy), (ix, wx) = ty, tx
    oh, ow = iy.shape[1], ix.shape[1]
    # Per-tap slices made contiguous first: gather and mul are much slower on strided views.
    iy, wy = iy.permute(2, 0, 1).contiguous(), wy.permute(2, 0, 1).contiguous()
    ix, wx = ix.permute(2, 0, 1).contiguous(), wx.permute(2, 0, 1).contiguous()
    rows = None
    for k in range(iy.shape[0]):
        g = x.gather(2, iy[k].view(n, 1, oh, 1).expand(n, C, oh, W)).mul_(wy[k].view(n, 1, oh, 1))
        rows = g if rows is None else rows.add_(g)
    out = None
    for k in range(ix.shape[0]):
        g = rows.gather(3, ix[k].view(n, 1, 1, ow).expand(n, C, oh, ow)).mul_(
            wx[k].view(n, 1, 1, ow))
        out = g if out is None else out.add_(g)
    return out


def augment_batch(xb, out_hw, gen, mean, std, augment=True):
    """uint8 [n, C, H, W] -> normalised float [n, C*oh*ow]: random-resized crop with area
    resampling (two small batched matmuls), random horizontal flip."""
    n, C, H, W = xb.shape
    oh, ow = out_hw
    x = xb.float()
    if augment:
        top, left, h, w = crop_params(n, H, W, gen)
        flip = torch.rand(n, generator=gen) < 0.5
        iy, wy = area_taps(top, h, H, oh)
        ix, wx = area_taps(left, w, W, ow)
        # A flipped image reads output column o from the interval of column ow-1-o.
        ix = torch.where(flip[:, None, None], ix.flip(1), ix)
        wx = torch.where(flip[:, None, None], wx.flip(1), wx)
        x = resample(x, (iy, wy), (ix, wx))
    elif (H, W) != (oh, ow):
        zero = torch.zeros(n, dtype=torch.long)
        x = resample(x, area_taps(zero, torch.full((n,), H), H, oh),
                     area_taps(zero, torch.full((n,), W), W, ow))
    x = (x * (1.0 / 255.0) - mean[None, :, None, None]) / std[None, :, None, None]
    return x.reshape(n, -1)


class Trainer:
    def __init__(self, arch, spec, classes, batch, seed, mean, std, augment=True,
                 precision="fp32"):
        torch.manual_seed(seed)
        self.C, self.H, self.W = spec
        self.model = make_model(arch, self.C * self.H * self.W, classes)
        self.opt = Lion(self.model.parameters())
        self.batch = batch
        self.gen = torch.Generator().manual_seed(seed + 1)
        self.mean = torch.tensor(mean, dtype=torch.float32)
        self.std = torch.tensor(std, dtype=torch.float32)
        self.augment = augment
        self.params = sum(p.numel() for p in self.model.parameters())
        self.bf16 = precision == "bf16"

    def autocast(self):
        """bf16: autocast to bfloat16 (the model and its float parameters are untouched);
        fp32: a no-op context."""
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16)

    def step(self, xb, yb):
        x = augment_batch(xb, (self.H, self.W), self.gen, self.mean, self.std, self.augment)
        lam = float(torch.distributions.Beta(0.8, 0.8).sample())
        x = lam * x + (1.0 - lam) * x.roll(1, 0)
        y2 = yb.roll(1, 0)
        with self.autocast():
            logits = self.model(x)          # float in both precisions
            loss = (lam * F.cross_entropy(logits, yb, label_smoothing=0.3)
                    + (1.0 - lam) * F.cross_entropy(logits, y2, label_smoothing=0.3))
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return loss.item()

    def epoch(self, images, labels):
        """One pass in shuffled order, the last partial batch included."""
        self.model.train()
        n = images.shape[0]
        perm = torch.randperm(n, generator=self.gen)
        total = 0.0
        steps = 0
        for s in range(0, n, self.batch):
            idx = perm[s:s + self.batch]
            total += self.step(images[idx], labels[idx])
            steps += 1
        return total / max(steps, 1)

    @torch.no_grad()
    def evaluate(self, images, labels, batch=2048):
        self.model.eval()
        correct = 0
        for s in range(0, images.shape[0], batch):
            x = augment_batch(images[s:s + batch], (self.H, self.W), self.gen, self.mean,
                              self.std, augment=False)
            with self.autocast():
                logits = self.model(x)
            correct += (logits.argmax(1) == labels[s:s + batch]).sum().item()
        return correct / images.shape[0]


# ---- data --------------------------------------------------------------------------------------

def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    t = torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8)
    return t.reshape(dims)


def load_fashion(split):
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(os.path.join(ARGS.data_dir, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(ARGS.data_dir, f"{prefix}-labels-idx1-ubyte.gz"))
    return images[:, None].contiguous(), labels.long()


def channel_stats(images):
    x = images.float().div_(255.0)
    c = x.shape[1]
    x = x.transpose(0, 1).reshape(c, -1)
    std = x.std(dim=1, unbiased=False)
    std = torch.where(std > 0, std, torch.ones_like(std))
    return x.mean(dim=1).tolist(), std.tolist()


CIFAR_MEAN = [0.4914, 0.4822, 0.4465]
CIFAR_STD = [0.2470, 0.2435, 0.2616]


def synthetic_shape():
    c, h, w = (int(v) for v in ARGS.shape.split("x"))
    return c, h, w


def synthetic(n, seed):
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n,) + synthetic_shape(), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, 10, (n,), generator=g)
    return images, labels


# ---- modes -------------------------------------------------------------------------------------

def common_fields():
    libs, core, threads = blas_info()
    return dict(torch=torch.__version__, threads=torch.get_num_threads(), blas_core=core,
                precision=ARGS.precision,
                omp_wait_policy=os.environ.get("OMP_WAIT_POLICY", "default"),
                blas_threads=threads, blas_lib=",".join(os.path.basename(x) for x in libs))


def mode_info():
    libs, core, threads = blas_info()
    log(torch.__config__.show())
    result(mode="info", torch=torch.__version__, threads=torch.get_num_threads(),
           blas_core=core, blas_threads=threads,
           OPENBLAS_CORETYPE=os.environ.get("OPENBLAS_CORETYPE", ""),
           blas_libs=",".join(libs))


def mode_throughput():
    B = ARGS.batch
    images, labels = synthetic(B * ARGS.steps, ARGS.seed)
    c = synthetic_shape()[0]
    tr = Trainer(ARGS.arch, synthetic_shape(), 10, B, ARGS.seed, CIFAR_MEAN[:c], CIFAR_STD[:c],
                 augment=not ARGS.no_augment, precision=ARGS.precision)
    for i in range(ARGS.warmup):
        idx = torch.randint(0, images.shape[0], (B,))
        tr.step(images[idx], labels[idx])
    rates, cpu_rates = [], []
    for r in range(ARGS.reps):
        t0, c0 = time.perf_counter(), time.process_time()
        tr.epoch(images, labels)
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        rates.append(images.shape[0] / dt)
        cpu_rates.append(images.shape[0] / dc)
        log(f"rep {r}: {rates[-1]:.1f} images/s, {cpu_rates[-1]:.1f} images per CPU-second")
    result(mode="throughput", arch=ARGS.arch, batch=B, shape=ARGS.shape, params=tr.params,
           images_per_s=f"{statistics.median(rates):.1f}",
           min=f"{min(rates):.1f}", max=f"{max(rates):.1f}", reps=len(rates),
           images_per_cpu_s=f"{statistics.median(cpu_rates):.1f}", **common_fields())


def mode_fashion_epoch():
    t0 = time.perf_counter()
    images, labels = load_fashion("train")
    mean, std = channel_stats(images)
    t_load = time.perf_counter() - t0
    tr = Trainer(ARGS.arch, tuple(images.shape[1:]), 10, ARGS.batch, ARGS.seed, mean, std,
                 augment=not ARGS.no_augment, precision=ARGS.precision)
    t1 = time.perf_counter()
    loss = tr.epoch(images, labels)
    t_train = time.perf_counter() - t1
    total = time.perf_counter() - t0
    result(mode="fashion-epoch", arch=ARGS.arch, batch=ARGS.batch, n=images.shape[0],
           load_s=f"{t_load:.3f}", train_s=f"{t_train:.3f}", total_s=f"{total:.3f}",
           images_per_s=f"{images.shape[0] / t_train:.1f}", loss=f"{loss:.4f}",
           **common_fields())


def mode_accuracy():
    images, labels = load_fashion("train")
    test_x, test_y = load_fashion("test")
    mean, std = channel_stats(images)
    tr = Trainer(ARGS.arch, tuple(images.shape[1:]), 10, ARGS.batch, ARGS.seed, mean, std,
                 augment=not ARGS.no_augment, precision=ARGS.precision)
    t0 = time.perf_counter()
    for e in range(ARGS.epochs):
        loss = tr.epoch(images, labels)
        log(f"epoch {e + 1}: loss {loss:.4f}")
    t_train = time.perf_counter() - t0
    acc = tr.evaluate(test_x, test_y)
    result(mode="accuracy", arch=ARGS.arch, batch=ARGS.batch, epochs=ARGS.epochs,
           seed=ARGS.seed, test_accuracy=f"{acc:.4f}", train_s=f"{t_train:.1f}",
           final_loss=f"{loss:.4f}", **common_fields())


@torch.no_grad()
def mode_infer():
    if ARGS.precision != "fp32":
        sys.exit("infer measures float inference only (--precision fp32)")
    images, _ = synthetic(ARGS.n, ARGS.seed)
    torch.manual_seed(ARGS.seed)
    c, h, w = synthetic_shape()
    model = make_model(ARGS.arch, c * h * w, 10).eval()
    mean = torch.tensor(CIFAR_MEAN[:c])
    std = torch.tensor(CIFAR_STD[:c])
    gen = torch.Generator()

    def run(batch, n):
        for s in range(0, n, batch):
            x = augment_batch(images[s:min(s + batch, n)], (h, w), gen, mean, std,
                              augment=False)
            model(x).argmax(1)

    run(ARGS.infer_batch, min(ARGS.n, 2 * ARGS.infer_batch))    # warm-up
    rates = []
    for _ in range(ARGS.reps):
        t0 = time.perf_counter()
        run(ARGS.infer_batch, ARGS.n)
        rates.append(ARGS.n / (time.perf_counter() - t0))
    # One image per call: what a per-row scoring function pays.
    n1 = min(ARGS.n, 1000)
    run(1, 50)
    t0 = time.perf_counter()
    run(1, n1)
    single = n1 / (time.perf_counter() - t0)
    result(mode="infer", arch=ARGS.arch, shape=ARGS.shape, n=ARGS.n, batch=ARGS.infer_batch,
           images_per_s=f"{statistics.median(rates):.1f}", single_images_per_s=f"{single:.1f}",
           **common_fields())


if __name__ == "__main__":
    {"throughput": mode_throughput, "fashion-epoch": mode_fashion_epoch,
     "accuracy": mode_accuracy, "infer": mode_infer, "info": mode_info}[ARGS.mode]()
