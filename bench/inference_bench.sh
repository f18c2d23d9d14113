#!/usr/bin/env bash
# Inference benchmark (not a test): images per second of per-row classify() in a query, of
# mlp_classify_batch(), and of PyTorch, side by side, for B_6-Wi_512 at 3x32x32 over 10,000
# images with the same model and images.
#
#   bench/inference_bench.sh [THREADS] [PRECISION] [REPS]   (default: all cores, fp32, 1)
#
# REPS > 1: mlp_classify_batch() and PyTorch are measured REPS times, alternately, and the
# medians reported (per-row classify() once).
#
# PRECISION bf16: mlpscale.scoring_precision = 'bf16' on our side, torch.autocast bf16 on
# PyTorch's (needs AVX512_BF16).
#
# Uses the cluster of PGHOST/PGPORT when one answers, else starts a throwaway cluster with
# scripts/pg-cluster.sh (mlpscale must be installed).  PyTorch runs through /usr/bin/python3
# with OPENBLAS_CORETYPE=SkylakeX (the kernel mlpscale picks on this CPU) and the same threads.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
THREADS=${1:-$(nproc)}
PRECISION=${2:-fp32}
REPS=${3:-1}
BATCH=256
WORK=$(mktemp -d /tmp/mlp-inference-bench.XXXXXX)
chmod 755 "$WORK"
. scripts/pg-cluster.sh

if ! psql -X -q -d postgres -c 'SELECT 1' >/dev/null 2>&1; then
    echo "starting a throwaway cluster in $WORK/cluster"
    mlp_cluster_start "$WORK/cluster"
    trap mlp_cluster_stop EXIT
fi
DB=mlp_inference_bench
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" >/dev/null
psql -X -q -d "$DB" -c "CREATE EXTENSION mlpscale" >/dev/null

echo "generating the model (B_6-Wi_512, 3x32x32, 10 classes) and 10,000 images"
/usr/bin/python3 bench/inference_torch.py make "$WORK"
# the server (user postgres) reads the model file; the cluster directory keeps its own modes
chmod 644 "$WORK"/*.safetensors "$WORK"/*.copy 2>/dev/null || true

psql -X -q -v ON_ERROR_STOP=1 -d "$DB" >/dev/null <<SQL
CREATE TABLE bench_images (id bigint PRIMARY KEY, img image);
\\copy bench_images FROM '$WORK/images.copy'
ANALYZE bench_images;
SELECT mlp_import('bench', pg_read_binary_file('$WORK/model.safetensors'));
SQL

# One session: a warm-up statement loads the model into the backend's cache, then each
# measured statement runs once; psql's \timing gives the milliseconds.
timings=$(psql -X -A -t -v ON_ERROR_STOP=1 -d "$DB" <<SQL
SET max_parallel_workers_per_gather = 0;
SET mlpscale.scoring_precision = '$PRECISION';
SET mlpscale.scoring_threads = $THREADS;
SET mlpscale.scoring_batch_size = $BATCH;
SELECT count(classify('bench', img)) FROM bench_images WHERE id <= 100;
SELECT count(*) FROM mlp_classify_batch('bench', 'SELECT id, img AS image FROM bench_images WHERE id <= 300');
\\timing on
SELECT count(classify('bench', img)) FROM bench_images;
SELECT count(*) FROM mlp_classify_batch('bench', 'SELECT id, img AS image FROM bench_images');
SQL
)
ms=($(grep -oE '^Time: [0-9.]+' <<<"$timings" | awk '{print $2}'))
row_ips=$(awk -v ms="${ms[0]}" 'BEGIN { printf "%.1f", 10000 / (ms / 1000) }')
batch_ips=$(awk -v ms="${ms[1]}" 'BEGIN { printf "%.1f", 10000 / (ms / 1000) }')

# Per-row classify() with parallel workers (one BLAS thread each), for reference.
par_timing=$(psql -X -A -t -v ON_ERROR_STOP=1 -d "$DB" <<SQL
SET max_parallel_workers_per_gather = $THREADS;
SET mlpscale.scoring_precision = '$PRECISION';
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SELECT count(classify('bench', img)) FROM bench_images WHERE id <= 100;
\\timing on
SELECT count(classify('bench', img)) FROM bench_images;
SQL
)
par_ms=$(grep -oE '^Time: [0-9.]+' <<<"$par_timing" | awk '{print $2}')
par_ips=$(awk -v ms="$par_ms" 'BEGIN { printf "%.1f", 10000 / (ms / 1000) }')

torch_ips=$(OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 bench/inference_torch.py run "$WORK" $BATCH "$THREADS" "$PRECISION")
batch_all=$batch_ips
torch_all=$torch_ips
for ((r = 2; r <= REPS; r++)); do
    t=$(psql -X -A -t -v ON_ERROR_STOP=1 -d "$DB" <<SQL | grep -oE '^Time: [0-9.]+' | awk '{print $2}'
SET mlpscale.scoring_precision = '$PRECISION';
SET mlpscale.scoring_threads = $THREADS;
SET mlpscale.scoring_batch_size = $BATCH;
SELECT count(*) FROM mlp_classify_batch('bench', 'SELECT id, img AS image FROM bench_images WHERE id <= 300');
\\timing on
SELECT count(*) FROM mlp_classify_batch('bench', 'SELECT id, img AS image FROM bench_images');
SQL
)
    batch_all="$batch_all $(awk -v ms="$t" 'BEGIN { printf "%.1f", 10000 / (ms / 1000) }')"
    torch_all="$torch_all $(OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 bench/inference_torch.py run "$WORK" $BATCH "$THREADS" "$PRECISION")"
done
median() { tr ' ' '\n' <<<"$1" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
batch_ips=$(median "$batch_all")
torch_ips=$(median "$torch_all")

# The three paths must agree on the classes (per-row classify() on the first 1,000 images).
psql -X -q -d "$DB" -c "CREATE TABLE torch_classes (id bigserial, class int)" \
     -c "\\copy torch_classes (class) FROM '$WORK/torch_classes.txt'" >/dev/null
agree=$(psql -X -A -t -d "$DB" -c "
    SELECT count(*) FILTER (WHERE b.class = t.class AND (id > 1000 OR b.class = classify('bench', i.img)))
    FROM mlp_classify_batch('bench', 'SELECT id, img AS image FROM bench_images') b
    JOIN torch_classes t USING (id) JOIN bench_images i USING (id)")
kernel=$(grep -h "OpenBLAS kernel" "${MLPSCALE_PGDATA:-/nonexistent}/server.log" 2>/dev/null | tail -1 | sed 's/.*mlpscale: //' || true)

echo
echo "B_6-Wi_512, 3x32x32, 10,000 images, $THREADS threads, batch $BATCH, $PRECISION${kernel:+; $kernel}"
printf '%-44s %10s\n' "path" "images/s"
printf '%-44s %10s\n' "classify() per row, one backend" "$row_ips"
printf '%-44s %10s\n' "classify() per row, $THREADS parallel workers" "$par_ips"
printf '%-44s %10s\n' "mlp_classify_batch()" "$batch_ips"
printf '%-44s %10s\n' "PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)') (OPENBLAS_CORETYPE=SkylakeX)" "$torch_ips"
awk -v b="$batch_ips" -v r="$row_ips" -v t="$torch_ips" \
    'BEGIN { printf "batch / per-row: %.1fx   batch / PyTorch: %.2fx\n", b / r, b / t }'
[ "$REPS" -gt 1 ] && echo "medians of $REPS alternating runs: mlp_classify_batch() $batch_all; PyTorch $torch_all"
echo "same class in mlp_classify_batch and PyTorch (and classify() for the first 1,000): $agree of 10000"
rm -f "$WORK/images.copy" "$WORK/model.safetensors" "$WORK/torch_classes.txt"
