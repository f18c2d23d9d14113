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
TARGET_SGEMM = 0.80     # training step GFLOP/s over SGEMM GFLOP/s at B_6-Wi_1024
TARGET_MEMORY = 1.3     # peak RSS over the lower bound
TARGET_ACCURACY = 0.01  # mean test accuracy within one point of PyTorch's


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


def select(recs, **kv):
    return [r for r in recs if all(r.get(k) == v for k, v in kv.items())]


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


def throughput(recs, side, arch, batch="1024", groups=("headline", "width", "batch")):
    rs = [r for r in select(recs, mode="throughput", side=side, arch=arch, batch=batch)
          if r.get("group") in groups]
    return med(rs, "images_per_s"), len(rs)


def main():
    path, out = sys.argv[1], sys.argv[2]
    recs, skips = parse(path)
    lines = []
    w = lines.append
    env = select(recs, group="env")
    info = {}
    for r in env:
        if r.get("mode") != "info":
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

    # ---- 1. headline -------------------------------------------------------------------------
    w("### Training throughput, batch 1024, 3x32x32 (images/s, median over runs)")
    w("")
    w("| architecture | mlpscale | PyTorch | ratio | target | |")
    w("|---|---:|---:|---:|---:|---|")
    ratios = {}
    for arch, target in (("B_6-Wi_256", TARGET_256), ("B_6-Wi_1024", TARGET_1024)):
        o, no = throughput(recs, "mlpscale", arch, groups=("headline",))
        t, nt = throughput(recs, "torch", arch, groups=("headline",))
        ratio = o / t if o and t else None
        ratios[arch] = ratio
        w(f"| {arch} | {fmt(o)} ({no} runs) | {fmt(t)} ({nt} runs) | {fmt(ratio, 2, 'x')} | "
          f">= {target}x | {verdict(None if ratio is None else ratio >= target)} |")
    w("")
    # The machine may be shared: wall-clock rates swing with the neighbours' load.  Two views
    # that depend less on it: the ratio within each back-to-back pair, and CPU time per image.
    w("Each run measures mlpscale, then PyTorch right after it. Per-pair ratios (mlpscale / "
      "PyTorch of the same run) and throughput per CPU-second (images / CPU time of the whole "
      "process, all threads; it does not grow when other processes take the cores, while "
      "busy-waiting still counts against its side):")
    w("")
    w("| architecture | per-pair ratios | median | mlpscale images/CPU-s | PyTorch images/CPU-s | ratio |")
    w("|---|---|---:|---:|---:|---:|")
    for arch in ("B_6-Wi_256", "B_6-Wi_1024"):
        os_ = select(recs, group="headline", mode="throughput", side="mlpscale", arch=arch)
        ts_ = select(recs, group="headline", mode="throughput", side="torch", arch=arch)
        pairs = [num(a["images_per_s"]) / num(b["images_per_s"]) for a, b in zip(os_, ts_)]
        oc, tc = med(os_, "images_per_cpu_s"), med(ts_, "images_per_cpu_s")
        w(f"| {arch} | {', '.join(f'{x:.2f}' for x in pairs) or 'not measured'} | "
          f"{fmt(statistics.median(pairs) if pairs else None, 2, 'x')} | {fmt(oc)} | {fmt(tc)} | "
          f"{fmt(oc / tc if oc and tc else None, 2, 'x')} |")
    w("")
    rows = []
    for arch in ("B_6-Wi_256", "B_6-Wi_1024"):
        o, _ = throughput(recs, "mlpscale", arch, groups=("headline",))
        d, nd = throughput(recs, "torch", arch, groups=("torch-omp-default",))
        if d:
            rows.append(f"{arch}: {fmt(d)} images/s ({nd} run), mlpscale {fmt(o / d if o else None, 2, 'x')} of it")
    if rows:
        w("PyTorch above runs with OMP_WAIT_POLICY=PASSIVE, its faster setting here. As installed "
          "(GNU OpenMP's default waiting, whose spinning threads compete with OpenBLAS's): "
          + "; ".join(rows) + ".")
        w("")

    w("### Roofline: training step vs SGEMM at the same shapes, batch 1024")
    w("")
    w("Training GFLOP/s = images/s x 3 x forward FLOPs of one image (paper eq. 4). SGEMM "
      "GFLOP/s = one training step's mlp_sgemm calls (forward, and backward dX and dW of "
      "every linear layer) timed alone in the same process, alternating with training epochs; "
      "the ratio is the median of the per-pair ratios.")
    w("")
    w("| architecture | training GFLOP/s | SGEMM GFLOP/s | ratio | target | |")
    w("|---|---:|---:|---:|---:|---|")
    for arch in ("B_6-Wi_256", "B_6-Wi_512", "B_6-Wi_1024"):
        rs = select(recs, mode="sgemm", arch=arch, batch="1024")
        tg, sg = med(rs, "train_gflops"), med(rs, "sgemm_gflops")
        ratio = med(rs, "train_over_sgemm")
        tgt = TARGET_SGEMM if arch == "B_6-Wi_1024" else None
        w(f"| {arch} | {fmt(tg)} | {fmt(sg)} | {fmt(None if ratio is None else 100 * ratio, 0, ' %')} | "
          f"{'>= 80 %' if tgt else '-'} | "
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
        rs = select(recs, group="headline", mode="throughput", side="mlpscale", arch=arch)
        rss, bound = med(rs, "peak_rss_mb"), med(rs, "bound_mb")
        ratio = rss / bound if rss and bound else None
        w(f"| train_bench {arch}, synthetic data, whole process | {fmt(rss)} | {fmt(bound)} | "
          f"{fmt(ratio, 2, 'x')} | <= {TARGET_MEMORY}x | "
          f"{verdict(None if ratio is None else ratio <= TARGET_MEMORY)} |")
    st = select(recs, group="sql", mode="sql-train")
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
    w("### Width sweep, B_6-Wi_W, batch 1024 (images/s)")
    w("")
    w("| width | mlpscale | PyTorch | ratio | mlpscale GFLOP/s | SGEMM GFLOP/s |")
    w("|---:|---:|---:|---:|---:|---:|")
    width_rows = []
    for W in (256, 512, 1024):
        arch = f"B_6-Wi_{W}"
        o, _ = throughput(recs, "mlpscale", arch)
        t, _ = throughput(recs, "torch", arch)
        rs = select(recs, mode="sgemm", arch=arch, batch="1024")
        width_rows.append((W, o, t))
        w(f"| {W} | {fmt(o)} | {fmt(t)} | {fmt(o / t if o and t else None, 2, 'x')} | "
          f"{fmt(med(rs, 'train_gflops'))} | {fmt(med(rs, 'sgemm_gflops'))} |")
    w("")
    w("### Batch sweep, B_6-Wi_256 (images/s)")
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
    for side, label in (("mlpscale", "mlpscale core (train_bench, IDX files)"),
                        ("torch", "PyTorch (IDX files)")):
        rs = select(recs, mode="fashion-epoch", side=side)
        if rs:
            r = rs[0]
            w(f"| {label} | {fmt(num(r['load_s']), 2)} | {fmt(num(r['train_s']), 2)} | "
              f"{fmt(num(r['total_s']), 2)} | {fmt(num(r['images_per_s']))} |")
        else:
            w(f"| {label} | not measured | | | |")
    if st and num(st[0].get("total_s")):
        r = st[0]
        w(f"| mlpscale SQL: mlp_train(...) to end of mlp_wait, from the table | "
          f"{fmt(num(r['load_setup_s']), 2)} (worker load + setup) | {fmt(num(r['epoch_s']), 2)} | "
          f"{fmt(num(r['total_s']), 2)} | {fmt(num(r['images_per_s']))} |")
        w("")
        w(f"The worker read the {int(r['rows']):,} training rows at "
          f"{fmt(num(r['load_rows_per_s']), 0)} rows/s (derived: end of epoch 1 - start of the "
          f"run - epoch seconds, so it includes model setup).")
    else:
        w("| mlpscale SQL | not measured | | | |")
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
    si = select(recs, group="sql", mode="sql-infer")
    if si:
        w(f"| B_6-Wi_256 1x28x28, SQL `classify()` per row over 10,000 rows | "
          f"{fmt(num(si[0].get('classify_rows_per_s')))} | - |")
        w(f"| B_6-Wi_256 1x28x28, SQL `mlp_classify_batch()` over 10,000 rows | "
          f"{fmt(num(si[0].get('batch_rows_per_s')))} | - |")
    else:
        w("| SQL classify / mlp_classify_batch | not measured | - |")
    si = select(recs, group="sql", mode="sql-infer512")
    if si:
        r = si[0]
        w(f"| B_6-Wi_512 3x32x32, SQL `classify()` per row, one backend (inference_bench.sh) | "
          f"{fmt(num(r.get('classify_rows_per_s')))} | {fmt(num(r.get('torch_images_per_s')))} |")
        w(f"| B_6-Wi_512 3x32x32, SQL `classify()` per row, parallel workers | "
          f"{fmt(num(r.get('parallel_rows_per_s')))} | |")
        w(f"| B_6-Wi_512 3x32x32, SQL `mlp_classify_batch()` | "
          f"{fmt(num(r.get('batch_rows_per_s')))} | |")
        if r.get("agree"):
            w(f"| (classes equal in the SQL paths and PyTorch: {r['agree']}) | | |")
    w("")

    w("### Accuracy parity (B_6-Wi_256, 10 epochs of Fashion-MNIST, batch 1024, test set)")
    w("")
    acc = {s: [(int(r["seed"]), num(r["test_accuracy"])) for r in select(recs, mode="accuracy", side=s)]
           for s in ("mlpscale", "torch")}
    if acc["mlpscale"] and acc["torch"]:
        mo = statistics.mean(a for _, a in acc["mlpscale"])
        mt = statistics.mean(a for _, a in acc["torch"])
        w("| side | seeds | test accuracy per seed | mean |")
        w("|---|---|---|---:|")
        for s, label, m in (("mlpscale", "mlpscale", mo), ("torch", "PyTorch", mt)):
            w(f"| {label} | {', '.join(str(x) for x, _ in acc[s])} | "
              f"{', '.join(f'{a:.4f}' for _, a in acc[s])} | {m:.4f} |")
        w("")
        w(f"Difference of the means: {100 * (mo - mt):+.2f} points (target: within 1 point): "
          f"{verdict(abs(mo - mt) <= TARGET_ACCURACY)}.")
    else:
        w("Not measured in this run (bench/run.sh --accuracy).")
    w("")
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
