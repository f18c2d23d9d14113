#!/usr/bin/env bash
# mlpscale-load's rate on a Tiny-ImageNet-like tree (issue 13): CLASSES class folders of N RGB
# JPEGs of SIZE x SIZE each under <class>/images/, written by test/integration/loader_fixture.c
# (libjpeg, quality 95), loaded with --jobs 1 and --jobs 2, into a table (--replace) and with
# --dry-run (reading and decoding only), RUNS times each in alternation; prints the median
# rows/s of each.
#
#   bench/loader_bench.sh [--classes 100] [--per-class 200] [--size 64] [--runs 3]
#                         [--loader PATH]                             (make bench-loader)
#
# Needs the extension installed (make install) and mlpscale-load built; starts its own
# cluster (scripts/pg-cluster.sh) unless PGHOST and PGPORT name one.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CLASSES=100
PER=200
SIZE=64
RUNS=3
LOADER=$ROOT/mlpscale-load
while [ $# -gt 0 ]; do
    case $1 in
        --classes) CLASSES=$2; shift 2 ;;
        --per-class) PER=$2; shift 2 ;;
        --size) SIZE=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        --loader) LOADER=$2; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "loader_bench.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

WORK=$(mktemp -d /tmp/mlpscale-loader-bench.XXXXXX)
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT
. "$ROOT/scripts/pg-cluster.sh"
if [ -z "${PGHOST:-}" ] || [ -z "${PGPORT:-}" ]; then
    [ "$(id -u)" = 0 ] && chown postgres: "$WORK"
    mlp_cluster_start "$WORK/cluster" >/dev/null
    trap 'mlp_cluster_stop; cleanup' EXIT
fi
DB=loader_bench
psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
psql -X -q -d "$DB" -c "CREATE EXTENSION mlpscale"

cc -std=c11 -O2 -o "$WORK/fixture" "$ROOT/test/integration/loader_fixture.c" -lpng -ljpeg
"$WORK/fixture" tree "$WORK/tree" "$CLASSES" "$PER" "$SIZE" "$SIZE"
echo "# $((CLASSES * PER)) JPEGs of 3x${SIZE}x${SIZE}, $(du -sh "$WORK/tree" | cut -f1), $(nproc) CPUs, load average $(cut -d' ' -f1 /proc/loadavg)"

rate() { sed -n 's/.*(\([0-9]*\) rows\/s).*/\1/p' | head -1; }
declare -A got
for r in $(seq 1 "$RUNS"); do
    for j in 1 2; do
        got[table-$j]+=" $("$LOADER" -d "$DB" --table bench --replace -q --jobs $j "$WORK/tree" | rate)"
        got[dry-$j]+=" $("$LOADER" --dry-run -q --jobs $j "$WORK/tree" | rate)"
    done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
for k in table-1 table-2 dry-1 dry-2; do
    echo "RESULT ${k%-*} jobs=${k#*-} median_rows_per_s=$(echo "${got[$k]}" | median) runs:${got[$k]}"
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
