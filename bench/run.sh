#!/usr/bin/env bash
# The mlpscale benchmark (what `make bench` runs; docs/performance.md explains the figures).
#
#   bench/run.sh [--accuracy] [--no-sql] [--no-bf16] [--quick] [--runs N] [--threads N]
#                [--epochs N] [--out DIR]
#
# Both sides get the same thread count, the same architecture, batch size and recipe, and the
# fast OpenBLAS kernel (mlpscale picks it itself; PyTorch gets OPENBLAS_CORETYPE=SkylakeX).
# Every figure is the median over --runs processes per side (run alternately, so a noisy
# neighbour hurts both sides alike), each process itself reporting the median of its
# repetitions after a warm-up.
#
#   default      headline throughput (B_6-Wi_256, B_6-Wi_1024 at batch 1024) in fp32 and in
#                bf16 (mlpscale's AVX512_BF16 GEMM; PyTorch's autocast, i.e. oneDNN) with the
#                roofline and peak memory, width and batch sweeps, epoch time vs dataset size,
#                one Fashion-MNIST epoch incl. loading, inference, and the SQL end-to-end part
#                when the extension is installed (10 to 14 minutes on 2 cores)
#   --accuracy   also accuracy parity: B_6-Wi_256, 10 epochs of Fashion-MNIST, 3 seeds per side,
#                in fp32 and in bf16 (35 to 40 more minutes on 2 cores)
#   --accuracy-only   only the accuracy parity part
#   --epochs N   epochs of the accuracy runs (10; fewer for a smoke test of that part)
#   --no-bf16    skip the bf16 rows (skipped anyway on a CPU without avx512_bf16)
#   --no-sql     skip the SQL part          --quick   one run per side, fewer steps (a smoke test)
#
# Output: DIR/results.txt (every RESULT line), DIR/summary.md (the tables), DIR/scaling.png.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

THREADS=$(nproc)
RUNS=3
ACCURACY=0
ONLY_ACCURACY=0
SQL=1
QUICK=0
BF16=1
EPOCHS=10
OUT=$ROOT/bench/results
while [ $# -gt 0 ]; do
    case $1 in
        --accuracy) ACCURACY=1; shift ;;
        --accuracy-only) ACCURACY=1; ONLY_ACCURACY=1; shift ;;
        --no-sql) SQL=0; shift ;;
        --no-bf16) BF16=0; shift ;;
        --epochs) EPOCHS=$2; shift 2 ;;
        --quick) QUICK=1; RUNS=1; shift ;;
        --runs) RUNS=$2; shift 2 ;;
        --threads) THREADS=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
    esac
done

if [ $BF16 = 1 ] && ! grep -qw avx512_bf16 /proc/cpuinfo; then
    echo "run.sh: this CPU has no avx512_bf16; the bf16 rows are skipped" >&2
    BF16=0
fi

PY=/usr/bin/python3
TB=$ROOT/bench/bin/train_bench
TORCH=$ROOT/bench/torch_train.py
mkdir -p "$OUT"
RESULTS=$OUT/results.txt
LOG=$OUT/stderr.log
: >"$RESULTS"
: >"$LOG"

# What the benchmark needs, checked before anything uses it: the build tools and PostgreSQL's
# pg_config (the Makefile is PGXS; scripts/install-deps.sh installs them), PyTorch for the
# other side, gnuplot for the plot.
if ! command -v pg_config >/dev/null || ! command -v make >/dev/null; then
    echo "run.sh: no pg_config or make: install the packages first (bash scripts/install-deps.sh, as root)" >&2
    exit 1
fi
if ! $PY -c "import torch" 2>/dev/null; then
    echo "run.sh: $PY cannot import torch (Debian package python3-torch)" >&2
    exit 1
fi
command -v gnuplot >/dev/null || { echo "run.sh: no gnuplot (Debian package gnuplot-nox)" >&2; exit 1; }

echo "== build"
make -s bench/bin/train_bench >>"$LOG" 2>&1 || { tail -20 "$LOG"; echo "run.sh: build failed" >&2; exit 1; }

# record GROUP COMMAND...: runs COMMAND, keeps its RESULT lines tagged with GROUP.
record() {
    local group=$1; shift
    local t0=$SECONDS
    "$@" 2>>"$LOG" | sed -u -n "s/^RESULT /RESULT group=$group /p" |
        sed -u "s/\$/ load_avg=$(cut -d' ' -f1 /proc/loadavg)/" | tee -a "$RESULTS" | cut -c1-150
    local rc=${PIPESTATUS[0]}
    [ "$rc" = 0 ] || echo "  (failed with status $rc after $((SECONDS - t0)) s: $*; see $LOG)"
    return 0
}
ours() { record "$1" "$TB" "${@:2}" --threads "$THREADS"; }
torch_side() { record "$1" "$PY" "$TORCH" "${@:2}" --threads "$THREADS"; }

START=$SECONDS
{
    echo "RESULT group=env date=$(date -u +%Y-%m-%dT%H:%MZ) host_cpus=$(nproc) threads=$THREADS" \
         "cpu=\"$(lscpu | sed -n 's/^Model name: *//p' | head -1)\"" \
         "load_avg=$(cut -d' ' -f1 /proc/loadavg) commit=$(git rev-parse --short HEAD 2>/dev/null || echo none)"
} | tee -a "$RESULTS"
ours env info
torch_side env info
# The machine's arithmetic peak, with the same threads: every throughput is also a % of it.
record env "$ROOT/bench/bin/peak" --threads "$THREADS"

# Steps per repetition: enough images per repetition that one step's noise does not dominate.
if [ $QUICK = 1 ]; then S256=2; S1024=1; REPS=2; else S256=6; S1024=2; REPS=3; fi
INFER_REPS=$REPS

if [ $ONLY_ACCURACY = 0 ]; then
echo "== 1. training throughput at batch 1024 (and the SGEMM roofline, peak memory)"
# Each run: fp32 pair, then bf16 pair, per architecture, so that the bf16 rows are measured in
# the same minutes as the fp32 ones they are compared with (mlpscale bf16 against PyTorch fp32
# is the pair ours-bf16 / torch-fp32 of the same run).  bf16: mlpscale's own AVX512_BF16 GEMM
# (--sgemm then times that kernel at the step's shapes), PyTorch's autocast to bfloat16 (oneDNN).
for r in $(seq "$RUNS"); do
    ours headline throughput --arch B_6-Wi_256 --batch 1024 --steps $S256 --reps $REPS --sgemm
    torch_side headline throughput --arch B_6-Wi_256 --batch 1024 --steps $S256 --reps $REPS
    if [ $BF16 = 1 ]; then
        ours headline-bf16 throughput --arch B_6-Wi_256 --batch 1024 --steps $S256 --reps $REPS --sgemm --precision bf16
        torch_side headline-bf16 throughput --arch B_6-Wi_256 --batch 1024 --steps $S256 --reps $REPS --precision bf16
    fi
    ours headline throughput --arch B_6-Wi_1024 --batch 1024 --steps $S1024 --reps $REPS --warmup 1 --sgemm
    torch_side headline throughput --arch B_6-Wi_1024 --batch 1024 --steps $S1024 --reps $REPS --warmup 1
    if [ $BF16 = 1 ]; then
        ours headline-bf16 throughput --arch B_6-Wi_1024 --batch 1024 --steps $S1024 --reps $REPS --warmup 1 --sgemm --precision bf16
        torch_side headline-bf16 throughput --arch B_6-Wi_1024 --batch 1024 --steps $S1024 --reps $REPS --warmup 1 --precision bf16
    fi
done
# PyTorch as installed: GNU OpenMP's default waiting, which fights OpenBLAS for the cores.
torch_side torch-omp-default throughput --arch B_6-Wi_256 --batch 1024 --steps $S256 --reps $REPS --omp-wait-policy default
torch_side torch-omp-default throughput --arch B_6-Wi_1024 --batch 1024 --steps $S1024 --reps $REPS --warmup 1 --omp-wait-policy default

echo "== 2. width sweep (512; 256 and 1024 above) and batch sweep at B_6-Wi_256"
for r in $(seq "$RUNS"); do
    ours width throughput --arch B_6-Wi_512 --batch 1024 --steps 3 --reps $REPS --sgemm
    torch_side width throughput --arch B_6-Wi_512 --batch 1024 --steps 3 --reps $REPS
done
# 1024 again here, so that every point of the sweep comes from the same minutes.
for b in 256 512 1024 2048 4096; do
    steps=$(( 4096 / b < 1 ? 1 : 4096 / b ))
    [ $QUICK = 1 ] && steps=$(( (steps + 1) / 2 ))
    ours batch throughput --arch B_6-Wi_256 --batch $b --steps $steps --reps $REPS
    torch_side batch throughput --arch B_6-Wi_256 --batch $b --steps $steps --reps $REPS
done

echo "== 3. epoch time vs dataset size (B_6-Wi_256, batch 1024)"
if [ $QUICK = 1 ]; then sizes=4096,8192,16384; else sizes=8192,16384,32768,65536; fi
ours scale epoch-scale --arch B_6-Wi_256 --batch 1024 --sizes $sizes

echo "== 4. one Fashion-MNIST epoch including loading the IDX files (B_6-Wi_256, batch 1024)"
ours fashion fashion-epoch --arch B_6-Wi_256 --batch 1024
torch_side fashion fashion-epoch --arch B_6-Wi_256 --batch 1024
if [ "$BF16" = 1 ]; then
    ours fashion fashion-epoch --arch B_6-Wi_256 --batch 1024 --precision bf16
    torch_side fashion fashion-epoch --arch B_6-Wi_256 --batch 1024 --precision bf16
fi

echo "== 5. inference"
ours infer infer --arch B_6-Wi_512 --n 10000 --reps $REPS
torch_side infer infer --arch B_6-Wi_512 --n 10000 --reps $REPS
ours infer infer --arch B_6-Wi_256 --shape 1x28x28 --n 10000 --reps $REPS
torch_side infer infer --arch B_6-Wi_256 --shape 1x28x28 --n 10000 --reps $REPS

echo "== 6. SQL end to end (mlp_train of one Fashion-MNIST epoch, classify, mlp_classify_batch)"
if [ $SQL = 1 ]; then
    set +e
    "$ROOT/bench/sql_bench.sh" --threads "$THREADS" --arch B_6-Wi_256 --batch 1024 2>>"$LOG" |
        sed -u -e "s/^RESULT /RESULT group=sql /" | tee -a "$RESULTS" | cut -c1-150
    # bench/inference_bench.sh: the same B_6-Wi_512 3x32x32 model in SQL and in PyTorch.
    # fp32, and bf16 scoring against PyTorch's autocast where the CPU has AVX512_BF16; batch
    # scoring and PyTorch alternate $INFER_REPS times (medians)
    if [ -x "$ROOT/bench/inference_bench.sh" ] && ! grep -q '^SKIP' "$RESULTS"; then
        precs=fp32
        [ "$BF16" = 1 ] && precs="fp32 bf16"
        for prec in $precs; do
            inf=$("$ROOT/bench/inference_bench.sh" "$THREADS" "$prec" "$INFER_REPS" 2>>"$LOG")
            echo "$inf" >>"$LOG"
            field() { grep -F "$1" <<<"$inf" | head -1 | awk '{print $NF}'; }
            echo "RESULT group=sql side=sql mode=sql-infer512 arch=B_6-Wi_512 shape=3x32x32 n=10000" \
                 "classify_rows_per_s=$(field 'one backend') parallel_rows_per_s=$(field 'parallel workers')" \
                 "batch_rows_per_s=$(field 'mlp_classify_batch()') torch_images_per_s=$(field 'PyTorch')" \
                 "agree=\"$(grep -F 'same class' <<<"$inf" | sed 's/.*: //')\" threads=$THREADS precision=$prec" |
                tee -a "$RESULTS" | cut -c1-150
        done
    fi
    # bf16 scoring's agreement with fp32 and its per-row rate at B_6-Wi_256 3x32x32 (issue 14):
    # needs CIFAR-10 from ../shared/data/cifar10, which only this benchmark uses
    if [ "$BF16" = 1 ] && [ -f "$ROOT/../shared/data/cifar10/data_batch_5.bin" ] &&
       [ -x "$ROOT/mlpscale-load" ]; then
        pb=$("$ROOT/bench/scoring_precision_bench.sh" --epochs 5 --reps "$INFER_REPS" 2>>"$LOG")
        echo "$pb" >>"$LOG"
        awk '/agrees with fp32 on/ { a = $8; n = $10; x = $(NF - 2); y = $NF; sub(/,/, "", x) }
             /per-row classify:/ { r32 = $5; r16 = $8 }
             /mlp_classify_batch:/ { b32 = $4; b16 = $7 }
             END { if (n) printf "RESULT group=sql side=sql mode=sql-precision arch=B_6-Wi_256 shape=3x32x32 agree=%s n=%s acc_fp32=%s acc_bf16=%s row_fp32=%s row_bf16=%s batch_fp32=%s batch_bf16=%s\n", a, n, x, y, r32, r16, b32, b16 }' \
            <<<"$pb" | tee -a "$RESULTS" | cut -c1-150
    fi
    set -e
else
    echo "skipped (--no-sql)"
fi

fi  # ONLY_ACCURACY

if [ $ACCURACY = 1 ]; then
    echo "== 7. accuracy parity: B_6-Wi_256, $EPOCHS epochs of Fashion-MNIST, 3 seeds per side"
    for seed in 0 1 2; do
        ours accuracy accuracy --arch B_6-Wi_256 --batch 1024 --epochs $EPOCHS --seed $seed
        torch_side accuracy accuracy --arch B_6-Wi_256 --batch 1024 --epochs $EPOCHS --seed $seed
    done
    if [ $BF16 = 1 ]; then
        # bf16 against the float PyTorch reference above; PyTorch bf16 (autocast) for like for like.
        echo "== 7b. accuracy in bf16: the same, mlpscale bf16 and PyTorch bf16"
        for seed in 0 1 2; do
            ours accuracy-bf16 accuracy --arch B_6-Wi_256 --batch 1024 --epochs $EPOCHS --seed $seed --precision bf16
            torch_side accuracy-bf16 accuracy --arch B_6-Wi_256 --batch 1024 --epochs $EPOCHS --seed $seed --precision bf16
        done
    fi
else
    echo "== 7. accuracy parity: not run (bench/run.sh --accuracy, or make bench BENCH_ARGS=--accuracy)"
fi

echo "RESULT group=env elapsed_s=$((SECONDS - START)) load_avg_end=$(cut -d' ' -f1 /proc/loadavg)" | tee -a "$RESULTS"
echo "== summary"
$PY "$ROOT/bench/summarize.py" "$RESULTS" "$OUT"
