#!/usr/bin/env bash
# Storage of the image column for the speed of the training read (issue 13, item 2): for
# 28x28 (Fashion-MNIST), 32x32x3 (CIFAR-10) and 64x64x3 (CIFAR-10 upsampled) images, a table
# per storage choice -- extended with pglz, extended with lz4, external (out of line,
# uncompressed), main with lz4, plain (inline, only where a row fits a page) -- and for each:
# the load rate (INSERT ... SELECT of N rows), the table size with its TOAST, and the read
# rate of every image detoasted (what the training worker's read costs per row).
#
#   bench/storage_bench.sh [--rows N] [--reps R]        (make bench-storage)
#
# Needs Fashion-MNIST (Debian's dataset-fashion-mnist) and CIFAR-10 (default
# ../shared/data/cifar10, which the product does not need); its own cluster unless
# PGHOST/PGPORT name one.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CIFAR=$ROOT/../shared/data/cifar10
FASHION=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
N=20000
REPS=3
while [ $# -gt 0 ]; do
    case $1 in
        --rows) N=$2; shift 2 ;;
        --reps) REPS=$2; shift 2 ;;
        --cifar) CIFAR=$2; shift 2 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "storage_bench.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
. "$ROOT/bench/bench_db.sh"
bench_db storage_bench
"$ROOT/mlpscale-load" -q -d "$DB" --table src28 --split train --limit "$N" "$FASHION" >/dev/null
"$ROOT/mlpscale-load" -q -d "$DB" --table src32 "$CIFAR"/data_batch_{1,2}.bin >/dev/null
q "DELETE FROM src32 WHERE id > $N" >/dev/null
q "CREATE TABLE src64 AS SELECT id, label, image_resize(image, 64, 64) AS image FROM src32" >/dev/null
lz4=$(q "SELECT count(*) FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)")
now() { date +%s.%N; }
best() {    # best SQL: the best of REPS wall seconds
    local b=""
    for _ in $(seq 1 "$REPS"); do
        local t0 t1; t0=$(now); q "$1" >/dev/null; t1=$(now)
        b=$(awk -v a="$t0" -v c="$t1" -v b="$b" 'BEGIN { d = c - a; print (b == "" || d < b) ? d : b }')
    done
    echo "$b"
}
echo "RESULT storage_bench rows=$N reps=$REPS cpu=\"$(lscpu | sed -n 's/^Model name: *//p' | head -1)\" lz4=$lz4"
for shape in 28 32 64; do
    for choice in extended-pglz extended-lz4 external main-lz4 plain; do
        storage=${choice%%-*}; comp=${choice#*-}; [ "$comp" = "$choice" ] && comp=
        [ "$comp" = lz4 ] && [ "$lz4" = 0 ] && continue
        t="t${shape}_${choice//-/_}"
        q "SET client_min_messages = warning; DROP TABLE IF EXISTS $t; CREATE TABLE $t (id bigint, label int, image image);
           ALTER TABLE $t ALTER COLUMN image SET STORAGE $storage" >/dev/null
        [ -n "$comp" ] && q "ALTER TABLE $t ALTER COLUMN image SET COMPRESSION $comp" >/dev/null
        t0=$(now)
        # image_convert to its own channels detoasts: every row is stored anew with this choice
        if ! q "INSERT INTO $t SELECT id, label, image_convert(image, image_channels(image)) FROM src$shape" >/dev/null 2>&1; then
            echo "RESULT storage shape=$shape choice=$choice refused (a row does not fit a page)"
            continue
        fi
        t1=$(now)
        size=$(q "SELECT pg_total_relation_size('$t')")
        read_s=$(best "SELECT sum(image_height(image)) FROM $t")
        awk -v s="$shape" -v c="$choice" -v n="$N" -v a="$t0" -v b="$t1" -v z="$size" -v r="$read_s" 'BEGIN {
            printf "RESULT storage shape=%s choice=%s load %.0f rows/s, size %.1f MB (%.0f bytes/row), read %.0f rows/s (%.0f MB/s of table)\n",
                   s, c, n / (b - a), z / 1048576, z / n, n / r, z / 1048576 / r }'
    done
done
