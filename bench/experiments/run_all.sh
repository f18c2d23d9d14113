#!/usr/bin/env bash
# The four experiments of docs/experiments.md (the paper's findings at CPU scale), one after the
# other, each one mlp_sweep and the SQL that analyses it; then the CSVs and the PNGs.
#
#   bench/experiments/run_all.sh [EXPERIMENT...]     (default: all four, e.g. 1_augmentation)
#
# Needs mlpscale installed (make install) and the CIFAR-10 binary batches of /work/shared
# (CIFAR10_DIR, default ../shared/data/cifar10 from the repository root). Trains on
# data_batch_1-4 (table cifar_train, 40,000 images) and validates on data_batch_5 (cifar_val,
# 10,000 images), which stands in for the test set the paper reports.
#
# Restartable: the cluster, the loaded tables and the sweeps are kept; running it again calls
# mlp_sweep with the same names and definitions, which returns the existing sweeps, waits for
# whatever is still queued or running and redoes the analysis.
#
# Environment:
#   PGHOST/PGPORT      use that running server (mlpscale in shared_preload_libraries) instead
#                      of the script's own cluster; PGDATABASE as usual (default: mlpscale_exp)
#   MLPSCALE_EXP_DIR   the script's cluster (/tmp/mlpscale-experiments), kept between runs
#   MLPSCALE_PGBIN     PostgreSQL's bin directory (from pg_config)
#   CIFAR10_DIR        the data_batch_N.bin files
#   THREADS            OpenBLAS threads of each run (all cores); runs go one at a time
#   OUT                CSVs, PNGs and the analyses' output (bench/experiments/results)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CIFAR10_DIR=${CIFAR10_DIR:-$ROOT/../shared/data/cifar10}
OUT=${OUT:-$HERE/results}
THREADS=${THREADS:-$(nproc)}
EXPERIMENTS=("$@")
[ ${#EXPERIMENTS[@]} -gt 0 ] || EXPERIMENTS=(1_augmentation 2_bottleneck 3_batch_size 4_scaling)
export PGOPTIONS="${PGOPTIONS:+$PGOPTIONS }-c client_min_messages=warning -c mlpscale.training_threads=$THREADS"
export PGDATABASE=${PGDATABASE:-mlpscale_exp}
die() { echo "run_all: $*" >&2; exit 1; }

for n in 1 2 3 4 5; do
    [ -r "$CIFAR10_DIR/data_batch_$n.bin" ] ||
        die "no $CIFAR10_DIR/data_batch_$n.bin: set CIFAR10_DIR to the CIFAR-10 binary batches"
done
for e in "${EXPERIMENTS[@]}"; do
    [ -r "$HERE/$e.sql" ] || die "no experiment $e (bench/experiments/$e.sql)"
done
command -v gnuplot >/dev/null || die "gnuplot is not installed"
LOADER=$ROOT/mlpscale-load
[ -x "$LOADER" ] || LOADER=$(command -v mlpscale-load) || die "no mlpscale-load: run make"

# A cluster of our own unless PGHOST/PGPORT name a server; an existing one is started again.
if [ -z "${PGHOST:-}" ] && [ -z "${PGPORT:-}" ]; then
    # shellcheck source=../../scripts/pg-cluster.sh
    . "$ROOT/scripts/pg-cluster.sh"
    DIR=${MLPSCALE_EXP_DIR:-/tmp/mlpscale-experiments}
    if [ -f "$DIR/data/PG_VERSION" ]; then
        export MLPSCALE_PGDATA=$DIR/data PGHOST=$DIR
        PGPORT=$(sed -n 's/^port = //p' "$DIR/data/postgresql.conf" | tail -1)
        export PGPORT PGUSER=${MLPSCALE_PGUSER:-$( [ "$(id -u)" = 0 ] && echo postgres || id -un )}
        if ! mlp_pgctl status >/dev/null 2>&1; then
            mlp_pgctl -w -t 60 start >/dev/null || die "cannot start the cluster in $DIR (log: $DIR/data/server.log)"
        fi
    else
        mlp_cluster_start "$DIR" || die "cannot start a cluster in $DIR"
    fi
    echo "cluster: $DIR (port $PGPORT)"
fi
psql -X -q -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$PGDATABASE'" | grep -q 1 ||
    psql -X -q -d postgres -c "CREATE DATABASE \"$PGDATABASE\""
psql -X -q -v ON_ERROR_STOP=1 -c "CREATE EXTENSION IF NOT EXISTS mlpscale"

# CIFAR-10 once: batches 1-4 for training, batch 5 for validation.
count() { psql -X -tAc "SELECT count(*) FROM $1" 2>/dev/null || echo 0; }
if [ "$(count cifar_train)" != 40000 ]; then
    "$LOADER" -q --replace --table cifar_train "$CIFAR10_DIR"/data_batch_{1,2,3,4}.bin
fi
if [ "$(count cifar_val)" != 10000 ]; then
    "$LOADER" -q --replace --table cifar_val "$CIFAR10_DIR/data_batch_5.bin"
fi
echo "data: cifar_train $(count cifar_train) rows, cifar_val $(count cifar_val) rows"

mkdir -p "$OUT"
start=$(date +%s)
for e in "${EXPERIMENTS[@]}"; do
    t0=$(date +%s)
    echo "== $e (started $(date -u +%H:%M:%S) UTC)"
    psql -X -q -v ON_ERROR_STOP=1 -P pager=off -v outdir="$OUT" -f "$HERE/$e.sql" | tee "$OUT/$e.txt"
    gnuplot -e "outdir='$OUT'" "$HERE/$e.gp"
    echo "== $e: $(( $(date +%s) - t0 )) s; $OUT/$e.png"
done
echo "== all: $(( $(date +%s) - start )) s of wall time"
psql -X -P pager=off -c "SELECT name, runs, succeeded, failed, status, round(seconds) AS seconds
                           FROM mlpscale.sweeps ORDER BY id" | tee "$OUT/sweeps.txt"
