#!/usr/bin/python3
"""Turns the RESULT lines of bench/run.sh into summary.md (the tables of docs/performance.md)
and scaling.png (gnuplot).

  /usr/bin/python3 bench/summarize.py RESULTS.txt OUTDIR
"""
import os
import shlex
import statistics
import subprocess
import sys

TARGET_256 = 2.0        # x PyTorch at B_6-Wi_256
TARGET_1024 = 1.2       # x PyTorch at B_6-Wi_1024
# The throughput targets are judged on mlpscale at its fastest precision against PyTorch as a
# user runs it (fp32 on the fast OpenBLAS kernel): mlpscale bf16 / PyTorch fp32 when the bf16
# rows were measured, fp32 / fp32 otherwise.  The other ratios are printed next to it.
TARGET_SGEMM = 0.80     # training step GFLOP/s over GEMM GFLOP/s at B_6-Wi_1024 (same precision)
TARGET_MEMORY = 1.3     # peak RSS over the lower bound
TARGET_ACCURACY = 0.01  # mean test accuracy within one point of PyTorch's
# Round two (issue 14): against the machine's peak and PyTorch's bf16.
R2_BF16_PEAK_1024 = 0.80    # bf16 training step at B_6-Wi_1024 over the bf16 peak
R2_BF16_TORCH_256 = 2.0     # mlpscale bf16 / PyTorch bf16 at B_6-Wi_256
R2_FP32_PEAK_1024 = 0.85    # fp32 training step at B_6-Wi_1024 over the FP32 FMA peak
R2_BATCH_FP32 = 3.0         # mlp_classify_batch fp32 / PyTorch fp32 batch inference
R2_BATCH_BF16 = 1.2         # mlp_classify_batch bf16 / PyTorch bf16 autocast inference
R2_ROW_BF16 = 2.0           # per-row classify() bf16 / fp32 at the same model


def parse(path):
    recs, skips = [], []
    with open(path) as f:
        for line in f:
            if line.startswith("SKIP"):
                skips.append(line.strip())
            if not line.startswith("RESULT "):
                continue
            rec = {}
            for tok in shlex.split(line[len("RESULT "):]):
                if "=" in tok:
                    k, v = tok.split("=", 1)
                    rec[k] = v
            recs.append(rec)
    return recs, skips


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def precision(r):
    """fp32 or bf16; RESULT lines of runs before the bf16 rows carry no precision field."""
    return r.get("precision") or ("bf16" if r.get("group", "").endswith("-bf16") else "fp32")


def select(recs, precision_=None, **kv):
    return [r for r in recs if all(r.get(k) == v for k, v in kv.items())
            and (precision_ is None or precision(r) == precision_)]


def med(recs, key):
    vals = [num(r.get(key)) for r in recs if num(r.get(key)) is not None]
    return statistics.median(vals) if vals else None


def fmt(v, digits=1, unit=""):
    if v is None:
        return "not measured"
    return f"{v:,.{digits}f}{unit}"


def verdict(ok):
    if ok is None:
        return "not measured"
    return "met" if ok else "**missed**"


def arch_dims(arch):
    parts = arch.split("-")
    depth = int(parts[0][2:])
    width = int(parts[1][3:])
    k = int(parts[2][2:]) if len(parts) > 2 else 4
    return depth, width, k


def memory_bound_mb(arch, n, in_dim, classes, params, batch):
    """Same lower bound as bench/train_bench.c: dataset, params x (1 + grad + 1 LION state),
    activations of one batch (input, per block residual, LayerNorm out, both expansions, last
    residual, logits)."""
    L, W, k = arch_dims(arch)
    per_image = in_dim + L * (2 * W + 2 * k * W) + W + classes
    return (n * (in_dim + 4) + params * 3 * 4 + batch * per_image * 4) / 1048576.0


def throughput(recs, side, arch, batch="1024", groups=("headline", "width", "batch"),
               prec="fp32"):
    rs = [r for r in select(recs, prec, mode="throughput", side=side, arch=arch, batch=batch)
          if r.get("group") in groups]
    return med(rs, "images_per_s"), len(rs)


def headline_runs(recs, side, arch, prec):
    """The headline throughput records of one side and precision, in run order."""
    group = "headline-bf16" if prec == "bf16" else "headline"
    return select(recs, prec, group=group, mode="throughput", side=side, arch=arch)


def round_two(w, recs, peaks, ips, runs, ratios, per_run, sql_infer, sql_512, mean, acc):
    """The targets of issue 14, each judged on this run's figures."""
    w("### Against the targets of round two (issue 14)")
    w("")
    w("| target | measured in this run | |")
    w("|---|---|---|")
    cpu = peaks.get("cpu", "?")
    fp, bf, amx = (num(peaks.get(k)) for k in ("fp32_gflops", "bf16_gflops", "amx_gflops"))
    w(f"| 1. the CPU's peak measured in the run, CPU named | {cpu}: FP32 FMA {fmt(fp)}, "
      f"VDPBF16PS {fmt(bf)}, " + (f"AMX {fmt(amx)}" if amx else "no AMX") + " GFLOP/s | "
      f"{verdict(fp is not None)} |")

    def step_pct(arch, prec):
        rs = runs.get(("mlpscale", arch, prec)) or []
        mo = ips.get(("mlpscale", arch, prec))
        g = med(rs, "train_gflops")
        peak = bf if prec == "bf16" else fp
        return (g / peak if g and peak else None), mo, g, peak

    pct, mo, g, peak = step_pct("B_6-Wi_1024", "bf16")
    w(f"| 2. bf16 training at B_6-Wi_1024 >= {100 * R2_BF16_PEAK_1024:.0f} % of the bf16 peak | "
      f"{fmt(None if pct is None else 100 * pct, 0, ' %')} ({fmt(mo)} images/s, {fmt(g)} of "
      f"{fmt(peak)} GFLOP/s) | {verdict(None if pct is None else pct >= R2_BF16_PEAK_1024)} |")
    o, t = ips.get(("mlpscale", "B_6-Wi_256", "bf16")), ips.get(("torch", "B_6-Wi_256", "bf16"))
    like_for_like = ("B_6-Wi_256", "mlpscale bf16 / PyTorch bf16")
    r = ratios.get(like_for_like)
    w(f"| 2. bf16 training at B_6-Wi_256 >= {R2_BF16_TORCH_256}x PyTorch bf16 | "
      f"{fmt(r, 2, 'x')} on the medians ({fmt(o)} against {fmt(t)} images/s; per-run "
      f"{', '.join(f'{x:.2f}' for x in per_run.get(like_for_like, [])) or '-'}) | "
      f"{verdict(None if r is None else r >= R2_BF16_TORCH_256)} |")
    f32, b16 = acc.get(("mlpscale", "fp32")) or [], acc.get(("mlpscale", "bf16")) or []
    if len(f32) >= 2 and len(b16) >= 2:
        d = mean[("mlpscale", "bf16")] - mean[("mlpscale", "fp32")]
        se = (statistics.variance([a for _, a in f32]) / len(f32) +
              statistics.variance([a for _, a in b16]) / len(b16)) ** 0.5
        w(f"| 2. bf16 accuracy equal to fp32 within noise (3 seeds) | bf16 - fp32 "
          f"{100 * d:+.2f} points, two standard errors of the difference "
          f"{200 * se:.2f} points | {verdict(abs(d) <= 2 * se + 1e-9)} |")
    else:
        w("| 2. bf16 accuracy equal to fp32 within noise (3 seeds) | not measured in this run "
          "(make bench BENCH_ARGS=--accuracy) | not measured |")
    pct, mo, g, peak = step_pct("B_6-Wi_1024", "fp32")
    w(f"| 3. fp32 training at B_6-Wi_1024 >= {100 * R2_FP32_PEAK_1024:.0f} % of the FP32 peak | "
      f"{fmt(None if pct is None else 100 * pct, 0, ' %')} ({fmt(mo)} images/s, {fmt(g)} of "
      f"{fmt(peak)} GFLOP/s) | {verdict(None if pct is None else pct >= R2_FP32_PEAK_1024)} |")
    for prec, target in (("fp32", R2_BATCH_FP32), ("bf16", R2_BATCH_BF16)):
        rs = sql_512.get(prec) or []
        b = num(rs[0].get("batch_rows_per_s")) if rs else None
        t = num(rs[0].get("torch_images_per_s")) if rs else None
        r = b / t if b and t else None
        w(f"| 4. `mlp_classify_batch` {prec} >= {target}x PyTorch {prec} batch inference "
          f"(B_6-Wi_512 3x32x32) | {fmt(r, 2, 'x')} ({fmt(b)} against {fmt(t)} images/s, "
          f"medians) | {verdict(None if r is None else r >= target)} |")
    # the model (B_6-Wi_256 3x32x32, bench/scoring_precision_bench.sh) where it ran,
    # else the Fashion-MNIST B_6-Wi_256 of sql_bench.sh
    pr = select(recs, group="sql", mode="sql-precision")
    a, b = sql_infer.get("fp32") or [], sql_infer.get("bf16") or []
    if pr:
        ra, rb = num(pr[0].get("row_fp32")), num(pr[0].get("row_bf16"))
        model = "B_6-Wi_256 3x32x32, CIFAR-10"
    else:
        ra = num(a[0].get("classify_rows_per_s")) if a else None
        rb = num(b[0].get("classify_rows_per_s")) if b else None
        model = "B_6-Wi_256 1x28x28, Fashion-MNIST"
    r = rb / ra if ra and rb else None
    w(f"| 4. per-row `classify` with bf16 scoring >= {R2_ROW_BF16}x the fp32 rate ({model}) | "
      f"{fmt(r, 2, 'x')} ({fmt(rb)} against {fmt(ra)} rows/s) | "
      f"{verdict(None if r is None else r >= R2_ROW_BF16)} |")
    if pr and num(pr[0].get("n")):
        ag, n = num(pr[0].get("agree")), num(pr[0].get("n"))
        w(f"| 4. bf16 top-1 agrees with fp32 on >= 99.5 % of the test split (CIFAR-10 "
          f"data_batch_5, 5 epochs) | {100 * ag / n:.2f} % ({ag:,.0f} of {n:,.0f}; test "
          f"accuracy fp32 {pr[0].get('acc_fp32')}, bf16 {pr[0].get('acc_bf16')}) | "
          f"{verdict(ag / n >= 0.995)} |")
    else:
        w("| 4. bf16 top-1 agrees with fp32 on >= 99.5 % of the test split | not measured "
          "(needs CIFAR-10 in ../shared/data/cifar10; `make bench-precision`) | not measured |")
    kernels = sorted({r.get("bf16_kernel") for r in recs
                      if precision(r) == "bf16" and r.get("bf16_kernel")})
    w(f"| 5. AMX tiles in the training products where the CPU has them | bf16 kernel of this "
      f"run: {', '.join(kernels) or 'not reported'}; "
      + ("AMX on this CPU" if amx else "this CPU has no AMX") + " | "
      + ("met" if amx and kernels == ["amx"] else ("**missed**" if amx else "no AMX here"))
      + " |")
    w("")


def main():
    path, out = sys.argv[1], sys.argv[2]
    recs, skips = parse(path)
    lines = []
    w = lines.append
    env = select(recs, group="env")
    info = {}
    for r in env:
        if r.get("mode") not in ("info", "peak"):
            info.update(r)
    w(f"Run of {info.get('date', '?')} at commit {info.get('commit', '?')} on "
      f"{info.get('cpu', '?')}, {info.get('host_cpus', '?')} CPUs, {info.get('threads', '?')} "
      f"threads for every side; load average {info.get('load_avg', '?')} at the start and "
      f"{info.get('load_avg_end', '?')} at the end; {info.get('elapsed_s', '?')} s in all.")
    w("")
    ours_core = [r for r in env if r.get("mode") == "info" and r.get("side") != "torch"]
    torch_info = [r for r in env if r.get("mode") == "info" and r.get("side") == "torch"]
    if ours_core:
        w(f"mlpscale: OpenBLAS kernel {ours_core[0].get('blas_core')} "
          f"(chosen by mlpscale: {ours_core[0].get('chosen_coretype') or 'set by the user'}).")
        w("")
    if torch_info:
        t = torch_info[0]
        w(f"PyTorch {t.get('torch')}: OpenBLAS kernel {t.get('blas_core')} through "
          f"{t.get('blas_libs', '').replace(',', ', ')}.")
    w("")
    peaks = next((r for r in env if r.get("mode") == "peak"), {})

    def pct_of_peak(gflops, prec):
        peak = num(peaks.get("bf16_gflops" if prec == "bf16" else "fp32_gflops"))
        return fmt(100 * gflops / peak if gflops and peak else None, 0, " %")
    if peaks:
        w(f"Peak of this machine ({peaks.get('cpu', '?')}, {peaks.get('threads', '?')} threads, "
          f"bench/bin/peak): FP32 FMA ({peaks.get('fp32_isa', '?')}) "
          f"{fmt(num(peaks.get('fp32_gflops')))} GFLOP/s"
          + (f", VDPBF16PS {fmt(num(peaks.get('bf16_gflops')))} GFLOP/s"
             if peaks.get("bf16_gflops") else ", no AVX512_BF16")
          + (f", AMX TDPBF16PS {fmt(num(peaks.get('amx_gflops')))} GFLOP/s"
             if peaks.get("amx_gflops") else ", no AMX") + ".")
        w("")

    # ---- 1. headline -------------------------------------------------------------------------
    archs = ("B_6-Wi_256", "B_6-Wi_1024")
    runs = {(side, arch, p): headline_runs(recs, side, arch, p)
            for side in ("mlpscale", "torch") for arch in archs for p in ("fp32", "bf16")}
    have_bf16 = any(runs[("mlpscale", a, "bf16")] for a in archs)
    w("### Training throughput, batch 1024, 3x32x32 (images/s, median over runs)")
    w("")
    if have_bf16:
        w("fp32: float products on both sides (OpenBLAS SGEMM, the same library and kernel). "
          "bf16: the products' operands rounded to bfloat16 with float sums: mlpscale's own "
          "AVX512_BF16 kernel, PyTorch's `torch.autocast(\"cpu\", dtype=torch.bfloat16)` "
          "(oneDNN, not OpenBLAS); weights, gradients and LION's state stay float on both sides. "
          "bf16 changes the arithmetic, so its rows are not the same computation as the fp32 "
          "rows.")
        w("")
    w("% of peak: training GFLOP/s (images/s x 3 x forward FLOPs of one image, paper eq. 4) "
      "over the machine's peak measured in this run by bench/bin/peak (register-only FMA "
      "loops on every thread: VFMADD for fp32, VDPBF16PS for bf16" +
      (", and AMX TDPBF16PS, whose peak is given below" if peaks.get("amx_gflops") else "") + ").")
    w("")
    w("| architecture | precision | mlpscale | PyTorch | mlpscale / PyTorch | mlpscale % of peak | PyTorch % of peak |")
    w("|---|---|---:|---:|---:|---:|---:|")
    ips = {}
    for arch in archs:
        for p in ("fp32", "bf16") if have_bf16 else ("fp32",):
            o, t = (runs[(side, arch, p)] for side in ("mlpscale", "torch"))
            ips[("mlpscale", arch, p)] = mo = med(o, "images_per_s")
            ips[("torch", arch, p)] = mt = med(t, "images_per_s")
            gpi = med(o, "train_gflops") / mo if mo and med(o, "train_gflops") else None
            w(f"| {arch} | {p} | {fmt(mo)} ({len(o)} runs) | {fmt(mt)} ({len(t)} runs) | "
              f"{fmt(mo / mt if mo and mt else None, 2, 'x')} | "
              f"{pct_of_peak(mo * gpi if mo and gpi else None, p)} | "
              f"{pct_of_peak(mt * gpi if mt and gpi else None, p)} |")
    w("")

    # The comparisons: (label, numerator, denominator), each (side, precision).
    comparisons = [("mlpscale fp32 / PyTorch fp32", ("mlpscale", "fp32"), ("torch", "fp32"))]
    if have_bf16:
        comparisons += [
            ("mlpscale bf16 / PyTorch fp32", ("mlpscale", "bf16"), ("torch", "fp32")),
            ("mlpscale bf16 / PyTorch bf16", ("mlpscale", "bf16"), ("torch", "bf16")),
            ("mlpscale bf16 / mlpscale fp32", ("mlpscale", "bf16"), ("mlpscale", "fp32"))]
    judged = comparisons[1][0] if have_bf16 else comparisons[0][0]
    targets = {"B_6-Wi_256": TARGET_256, "B_6-Wi_1024": TARGET_1024}
    # The machine may be shared: wall-clock rates swing with the neighbours' load.  Two views
    # that depend less on it: the ratio within each run (the four measurements of one
    # architecture follow each other), and CPU time per image.
    if have_bf16:
        w("The comparisons: mlpscale fp32 / PyTorch fp32 is the same arithmetic on the same "
          "SGEMM; mlpscale bf16 / PyTorch fp32 is the issue's comparison (PyTorch in its default "
          "precision, with the fast OpenBLAS kernel), on which the throughput targets are "
          "judged; mlpscale bf16 / PyTorch bf16 is like for like in bf16 (PyTorch's products on "
          "oneDNN); mlpscale bf16 / mlpscale fp32 is what bf16 gains.")
        w("")
    w("\"medians\": the ratio of the medians above. Per-run ratios: each run measures, per "
      "architecture, " + ("mlpscale fp32, PyTorch fp32, mlpscale bf16 and PyTorch bf16"
                          if have_bf16 else "mlpscale and then PyTorch") +
      " right after each other; the ratio within each run, and their median. Images per "
      "CPU-second: images / CPU time of the whole process, all threads (it does not grow when "
      "other processes take the cores, while busy-waiting still counts against its side). "
      "The target is judged on the medians of the row that carries it.")
    w("")
    w("| architecture | comparison | medians | per-run ratios | their median | images/CPU-s ratio | target | |")
    w("|---|---|---:|---|---:|---:|---:|---|")
    ratios, per_run = {}, {}
    for arch in archs:
        for label, num_, den in comparisons:
            a, b = runs[(num_[0], arch, num_[1])], runs[(den[0], arch, den[1])]
            va, vb = ips.get((num_[0], arch, num_[1])), ips.get((den[0], arch, den[1]))
            ratio = va / vb if va and vb else None
            ratios[(arch, label)] = ratio
            pairs = [num(x["images_per_s"]) / num(y["images_per_s"]) for x, y in zip(a, b)]
            per_run[(arch, label)] = pairs
            ca, cb = med(a, "images_per_cpu_s"), med(b, "images_per_cpu_s")
            target = targets[arch] if label == judged else None
            w(f"| {arch} | {label} | {fmt(ratio, 2, 'x')} | "
              f"{', '.join(f'{x:.2f}' for x in pairs) or 'not measured'} | "
              f"{fmt(statistics.median(pairs) if pairs else None, 2, 'x')} | "
              f"{fmt(ca / cb if ca and cb else None, 2, 'x')} | "
              f"{f'>= {target}x' if target else '-'} | "
              f"{verdict(None if ratio is None else ratio >= target) if target else ''} |")
    w("")
    for arch in archs:
        r = ratios.get((arch, judged))
        w(f"Target at {arch}: mlpscale >= {targets[arch]}x PyTorch, judged on {judged}: "
          f"{fmt(r, 2, 'x')} (medians), {verdict(None if r is None else r >= targets[arch])}."
          + (f" Same arithmetic (fp32 / fp32): {fmt(ratios.get((arch, comparisons[0][0])), 2, 'x')}; "
             f"like for like in bf16: {fmt(ratios.get((arch, comparisons[2][0])), 2, 'x')}."
             if have_bf16 else " (No bf16 rows in this run.)"))
        w("")
    rows = []
    for arch in archs:
        o = ips.get(("mlpscale", arch, "fp32"))
        d, nd = throughput(recs, "torch", arch, groups=("torch-omp-default",))
        if d:
            rows.append(f"{arch}: {fmt(d)} images/s ({nd} run), mlpscale fp32 {fmt(o / d if o else None, 2, 'x')} of it")
    if rows:
        w("PyTorch above runs with OMP_WAIT_POLICY=PASSIVE, its faster setting here. As installed "
          "(GNU OpenMP's default waiting, whose spinning threads compete with OpenBLAS's; fp32): "
          + "; ".join(rows) + ".")
        w("")

    w("### Roofline: training step vs GEMM at the same shapes and precision, batch 1024")
    w("")
    w("Training GFLOP/s = images/s x 3 x forward FLOPs of one image (paper eq. 4). GEMM "
      "GFLOP/s = one training step's mlp_sgemm calls (forward, and backward dX and dW of "
      "every linear layer) timed alone in the same process, alternating with training epochs: "
      "OpenBLAS SGEMM in fp32, mlpscale's own bf16 kernel in bf16. The ratio is the median of "
      "the per-pair ratios; the target is judged per precision, each against its own GEMM.")
    w("")
    w("| architecture | precision | training GFLOP/s | % of peak | GEMM GFLOP/s | GEMM % of peak | ratio | target | |")
    w("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for arch in ("B_6-Wi_256", "B_6-Wi_512", "B_6-Wi_1024"):
        for p in ("fp32", "bf16"):
            rs = select(recs, p, mode="sgemm", arch=arch, batch="1024")
            if p == "bf16" and not rs:
                continue
            tg, sg = med(rs, "train_gflops"), med(rs, "sgemm_gflops")
            ratio = med(rs, "train_over_sgemm")
            tgt = TARGET_SGEMM if arch == "B_6-Wi_1024" else None
            w(f"| {arch} | {p} | {fmt(tg)} | {pct_of_peak(tg, p)} | {fmt(sg)} | "
              f"{pct_of_peak(sg, p)} | "
              f"{fmt(None if ratio is None else 100 * ratio, 0, ' %')} | "
              f"{f'>= {100 * tgt:.0f} %' if tgt else '-'} | "
              f"{verdict(None if ratio is None else ratio >= tgt) if tgt else ''} |")
    w("")

    # ---- memory ----------------------------------------------------------------------------
    w("### Peak resident memory against the lower bound")
    w("")
    w("Lower bound = dataset bytes + parameters x 4 bytes x (weights, gradients, one LION "
      "state) + activations of one batch (input, and per block the residual stream, the "
      "LayerNorm output and the expansion before and after GELU; last residual, logits).")
    w("")
    w("| what | peak RSS MB | bound MB | ratio | target | |")
    w("|---|---:|---:|---:|---:|---|")
    for arch in ("B_6-Wi_256", "B_6-Wi_1024"):
        for p in ("fp32", "bf16"):
            rs = headline_runs(recs, "mlpscale", arch, p)
            if p == "bf16" and not rs:
                continue
            rss, bound = med(rs, "peak_rss_mb"), med(rs, "bound_mb")
            ratio = rss / bound if rss and bound else None
            w(f"| train_bench {arch} {p}, synthetic data, whole process | {fmt(rss)} | "
              f"{fmt(bound)} | {fmt(ratio, 2, 'x')} | <= {TARGET_MEMORY}x | "
              f"{verdict(None if ratio is None else ratio <= TARGET_MEMORY)} |")
    st = select(recs, "fp32", group="sql", mode="sql-train")
    if st and num(st[0].get("peak_rss_mb")):
        r = st[0]
        bound = memory_bound_mb(r["arch"], int(r["rows"]), 784, 10, int(r["params"]),
                                int(r["batch"]))
        for key, label in (("peak_anon_mb", "private memory (peak RssAnon, sampled)"),
                           ("peak_rss_mb", "VmHWM, incl. shared buffers it touched")):
            rss = num(r.get(key))
            ratio = rss / bound if rss else None
            w(f"| training worker, Fashion-MNIST {r['arch']}: {label} | {fmt(rss)} | "
              f"{fmt(bound)} | {fmt(ratio, 2, 'x')} | <= {TARGET_MEMORY}x | "
              f"{verdict(None if ratio is None else ratio <= TARGET_MEMORY)} |")
    else:
        w("| training worker (SQL) | not measured | | | | |")
    w("")

    # ---- sweeps ----------------------------------------------------------------------------
    w("### Width sweep, B_6-Wi_W, batch 1024, fp32 (images/s)")
    w("")
    w("| width | mlpscale | PyTorch | ratio | mlpscale GFLOP/s | SGEMM GFLOP/s |")
    w("|---:|---:|---:|---:|---:|---:|")
    width_rows = []
    for W in (256, 512, 1024):
        arch = f"B_6-Wi_{W}"
        o, _ = throughput(recs, "mlpscale", arch)
        t, _ = throughput(recs, "torch", arch)
        rs = select(recs, "fp32", mode="sgemm", arch=arch, batch="1024")
        width_rows.append((W, o, t))
        w(f"| {W} | {fmt(o)} | {fmt(t)} | {fmt(o / t if o and t else None, 2, 'x')} | "
          f"{fmt(med(rs, 'train_gflops'))} | {fmt(med(rs, 'sgemm_gflops'))} |")
    w("")
    w("### Batch sweep, B_6-Wi_256, fp32 (images/s)")
    w("")
    w("| batch | mlpscale | PyTorch | ratio |")
    w("|---:|---:|---:|---:|")
    batch_rows = []
    for b in (256, 512, 1024, 2048, 4096):
        grp = ("batch",) if select(recs, group="batch", batch=str(b)) else ("headline",)
        o, _ = throughput(recs, "mlpscale", "B_6-Wi_256", str(b), groups=grp)
        t, _ = throughput(recs, "torch", "B_6-Wi_256", str(b), groups=grp)
        batch_rows.append((b, o, t))
        w(f"| {b} | {fmt(o)} | {fmt(t)} | {fmt(o / t if o and t else None, 2, 'x')} |")
    w("")
    w("### Epoch time vs dataset size, mlpscale, B_6-Wi_256, batch 1024")
    w("")
    w("| images | epoch s | ms per 1,000 images |")
    w("|---:|---:|---:|")
    scale_rows = []
    for r in select(recs, mode="epoch-scale"):
        n, s = int(r["n"]), num(r["epoch_s"])
        scale_rows.append((n, s))
        w(f"| {n:,} | {s:.2f} | {1e6 * s / n:.1f} |")
    if len(scale_rows) >= 2:
        # Least squares through the origin: linear cost means a constant time per image.
        k = sum(n * s for n, s in scale_rows) / sum(n * n for n, _ in scale_rows)
        worst = max(abs(s - k * n) / (k * n) for n, s in scale_rows)
        w("")
        w(f"A line through the origin fits every point within {100 * worst:.0f} % "
          f"({1e6 * k:.1f} ms per 1,000 images).")
    w("")

    # ---- end to end ------------------------------------------------------------------------
    w("### One Fashion-MNIST epoch (60,000 images 1x28x28, B_6-Wi_256, batch 1024), loading included")
    w("")
    w("| side | load s | epoch s | total s | images/s in the epoch |")
    w("|---|---:|---:|---:|---:|")
    for p in ("fp32", "bf16"):
        for side, label in (("mlpscale", "mlpscale core (train_bench, IDX files)"),
                            ("torch", "PyTorch (IDX files)")):
            rs = select(recs, p, mode="fashion-epoch", side=side)
            if rs:
                r = rs[0]
                w(f"| {label}, {p} | {fmt(num(r['load_s']), 2)} | {fmt(num(r['train_s']), 2)} | "
                  f"{fmt(num(r['total_s']), 2)} | {fmt(num(r['images_per_s']))} |")
            elif p == "fp32":
                w(f"| {label}, {p} | not measured | | | |")
        st = select(recs, p, group="sql", mode="sql-train")
        if st and num(st[0].get("total_s")):
            r = st[0]
            w(f"| mlpscale SQL, {p}: mlp_train(...) to end of mlp_wait, from the table | "
              f"{fmt(num(r['load_setup_s']), 2)} (worker load + setup) | {fmt(num(r['epoch_s']), 2)} | "
              f"{fmt(num(r['total_s']), 2)} | {fmt(num(r['images_per_s']))} |")
        elif p == "fp32":
            w("| mlpscale SQL | not measured | | | |")
    st = select(recs, "fp32", group="sql", mode="sql-train")
    if st and num(st[0].get("total_s")):
        r = st[0]
        w("")
        w(f"The worker read the {int(r['rows']):,} training rows at "
          f"{fmt(num(r['load_rows_per_s']), 0)} rows/s (derived: end of epoch 1 - start of the "
          f"run - epoch seconds, so it includes model setup).")
    ld = select(recs, mode="sql-load")
    if ld:
        w(f"mlpscale-load wrote the 70,000 Fashion-MNIST rows at {fmt(num(ld[0]['rows_per_s']), 0)} "
          f"rows/s (not part of the epoch above).")
    w("")

    w("### Inference (images/s)")
    w("")
    w("| model and path | mlpscale | PyTorch |")
    w("|---|---:|---:|")
    for arch, shape in (("B_6-Wi_512", "3x32x32"), ("B_6-Wi_256", "1x28x28")):
        o = select(recs, mode="infer", side="mlpscale", arch=arch, shape=shape)
        t = select(recs, mode="infer", side="torch", arch=arch, shape=shape)
        w(f"| {arch} {shape}, core, batches of 1024, 10,000 images | {fmt(med(o, 'images_per_s'))} | "
          f"{fmt(med(t, 'images_per_s'))} |")
        w(f"| {arch} {shape}, core, one image per call | {fmt(med(o, 'single_images_per_s'))} | "
          f"{fmt(med(t, 'single_images_per_s'))} |")
    sql_infer = {p: select(recs, p, group="sql", mode="sql-infer") for p in ("fp32", "bf16")}
    if sql_infer["fp32"]:
        for p in ("fp32", "bf16"):
            if not sql_infer[p]:
                continue
            r = sql_infer[p][0]
            w(f"| B_6-Wi_256 1x28x28, SQL `classify()` per row over 10,000 rows, {p} | "
              f"{fmt(num(r.get('classify_rows_per_s')))} | - |")
            w(f"| B_6-Wi_256 1x28x28, SQL `mlp_classify_batch()` over 10,000 rows, {p} | "
              f"{fmt(num(r.get('batch_rows_per_s')))} | - |")
    else:
        w("| SQL classify / mlp_classify_batch | not measured | - |")
    sql_512 = {p: select(recs, p, group="sql", mode="sql-infer512") for p in ("fp32", "bf16")}
    for p in ("fp32", "bf16"):
        if not sql_512[p]:
            continue
        r = sql_512[p][0]
        torch_label = "PyTorch fp32, batches of 256" if p == "fp32" else "PyTorch bf16 autocast, batches of 256"
        w(f"| B_6-Wi_512 3x32x32, SQL `classify()` per row, one backend (inference_bench.sh), {p} | "
          f"{fmt(num(r.get('classify_rows_per_s')))} | |")
        w(f"| B_6-Wi_512 3x32x32, SQL `classify()` per row, parallel workers, {p} | "
          f"{fmt(num(r.get('parallel_rows_per_s')))} | |")
        w(f"| B_6-Wi_512 3x32x32, SQL `mlp_classify_batch()` against {torch_label}, {p} | "
          f"{fmt(num(r.get('batch_rows_per_s')))} | {fmt(num(r.get('torch_images_per_s')))} |")
        if r.get("agree"):
            w(f"| (same class in mlp_classify_batch and PyTorch, {p}: {r['agree']}) | | |")
    w("")

    accs = select(recs, mode="accuracy")
    epochs = sorted({r.get("epochs", "?") for r in accs}) or ["10"]
    w(f"### Accuracy parity (B_6-Wi_256, {', '.join(epochs)} epoch{'' if epochs == ['1'] else 's'} "
      f"of Fashion-MNIST, batch 1024, test set)")
    w("")
    acc = {(s_, p): [(int(r["seed"]), num(r["test_accuracy"])) for r in select(accs, p, side=s_)]
           for s_ in ("mlpscale", "torch") for p in ("fp32", "bf16")}
    mean = {k: statistics.mean(a for _, a in v) if v else None for k, v in acc.items()}
    if any(acc.values()):
        w("| side | precision | seeds | test accuracy per seed | mean |")
        w("|---|---|---|---|---:|")
        for (s_, p), v in acc.items():
            if v:
                w(f"| {'PyTorch' if s_ == 'torch' else 'mlpscale'} | {p} | "
                  f"{', '.join(str(x) for x, _ in v)} | {', '.join(f'{a:.4f}' for _, a in v)} | "
                  f"{mean[(s_, p)]:.4f} |")
        w("")
        ref = mean[("torch", "fp32")]
        for (s_, p), label in ((("mlpscale", "fp32"), "mlpscale fp32"),
                               (("mlpscale", "bf16"), "mlpscale bf16")):
            if mean[(s_, p)] is None:
                continue
            d = mean[(s_, p)] - ref if ref is not None else None
            w(f"Target, {label} against PyTorch fp32 (the reference): difference of the means "
              f"{'not measured' if d is None else f'{100 * d:+.2f} points'} (within 1 point): "
              f"{verdict(None if d is None else abs(d) <= TARGET_ACCURACY)}.")
            w("")
        tb = mean[("torch", "bf16")]
        if tb is not None:
            extra = []
            if ref is not None:
                extra.append(f"PyTorch bf16 - PyTorch fp32: {100 * (tb - ref):+.2f} points")
            if mean[("mlpscale", "bf16")] is not None:
                extra.append(f"mlpscale bf16 - PyTorch bf16: "
                             f"{100 * (mean[('mlpscale', 'bf16')] - tb):+.2f} points")
            w("For comparison (no target): " + "; ".join(extra) + ".")
            w("")
    else:
        w("Not measured in this run (bench/run.sh --accuracy).")
        w("")
    round_two(w, recs, peaks, ips, runs, ratios, per_run, sql_infer, sql_512, mean, acc)
    for s in skips:
        w(f"Skipped: {s}")

    summary = "\n".join(lines) + "\n"
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write(summary)
    print(summary)

    # ---- plot --------------------------------------------------------------------------------
    def dat(name, rows):
        with open(os.path.join(out, name), "w") as f:
            for row in rows:
                f.write(" ".join("NaN" if v is None else str(v) for v in row) + "\n")

    dat("headline.dat", [(f'"{a.replace("B_6-Wi_", "")} {p}"',
                          ips.get(("mlpscale", a, p)), ips.get(("torch", a, p)))
                         for a in archs for p in (("fp32", "bf16") if have_bf16 else ("fp32",))])
    dat("width.dat", width_rows)
    dat("batch.dat", batch_rows)
    dat("scale.dat", sorted(scale_rows))
    gp = os.path.join(os.path.dirname(os.path.abspath(__file__)), "plot.gp")
    try:
        subprocess.run(["gnuplot", "-e", f"outdir='{out}'", gp], check=True)
        print(f"plot: {os.path.join(out, 'scaling.png')}")
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"no plot: {e}")


if __name__ == "__main__":
    main()
