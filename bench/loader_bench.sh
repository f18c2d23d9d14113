#!/usr/bin/env bash
# mlpscale-load's rate on a Tiny-ImageNet-like tree (issue 13): CLASSES class folders of N RGB
# JPEGs of SIZE x SIZE each under <class>/images/, written by test/integration/loader_fixture.c
# (libjpeg): "photo" images (photo-like: smooth shapes and noise, quality 90, about 2 KB, their
# pixels do not compress, as photographs' do not) and "pattern" images (the tests' pattern,
# quality 95, about 4 KB, pixels that compress 22x). For each kind it loads the tree into a
# new table (dropped before each run, untimed) with --jobs 1 and --jobs 2 (photo also with
# --compression none), and with --dry-run (reading and decoding only), RUNS times each in
# alternation; prints the median rows/s and the loader's CPU seconds (user + system) of each,
# and with --backend-cpu the CPU seconds of the server's backend (perf stat; needs perf).
# --compare PATH runs a second mlpscale-load (say, an older build) in the same alternation,
# its lines labelled "compare" (it is given no --compression).
#
#   bench/loader_bench.sh [--kind photo|pattern|both] [--classes 100] [--per-class 200]
#                         [--size 64] [--runs 3] [--loader PATH] [--compare PATH]
#                         [--backend-cpu]                             (make bench-loader)
#
# Needs the extension installed (make install) and mlpscale-load built; starts its own
# cluster (scripts/pg-cluster.sh) unless PGHOST and PGPORT name one.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KINDS="photo pattern"
CLASSES=100
PER=200
SIZE=64
RUNS=3
LOADER=$ROOT/mlpscale-load
COMPARE=
BACKEND_CPU=0
while [ $# -gt 0 ]; do
    case $1 in
        --kind) case $2 in both) KINDS="photo pattern" ;; photo|pattern) KINDS=$2 ;;
                    *) echo "loader_bench.sh: --kind is photo, pattern or both" >&2; exit 2 ;; esac
                shift 2 ;;
        --classes) CLASSES=$2; shift 2 ;;
        --per-class) PER=$2; shift 2 ;;
        --size) SIZE=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        --loader) LOADER=$2; shift 2 ;;
        --compare) COMPARE=$2; shift 2 ;;
        --backend-cpu) BACKEND_CPU=1; shift ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "loader_bench.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
if [ "$BACKEND_CPU" = 1 ] && ! perf stat -e task-clock true >/dev/null 2>&1; then
    echo "loader_bench.sh: --backend-cpu needs perf (perf stat -e task-clock)" >&2
    exit 2
fi

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
for kind in $KINDS; do
    "$WORK/fixture" tree "$WORK/$kind" "$CLASSES" "$PER" "$SIZE" "$SIZE" $([ "$kind" = photo ] && echo photo)
    echo "# $kind: $((CLASSES * PER)) JPEGs of 3x${SIZE}x${SIZE}, $(du -s --apparent-size -B1 "$WORK/$kind" | awk -v n=$((CLASSES * PER)) '{printf "%.0f bytes each", $1 / n}')"
done
echo "# $(nproc) CPUs, wal_level $(psql -X -Atq -d "$DB" -c 'SHOW wal_level'), load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# run KEY ARGS...: one load by $BIN, its rate, the loader's CPU and (--backend-cpu) the
# backend's
declare -A rate cpu bcpu
run() {
    local key="${TAG:+$TAG }$1" pid="" sp=""
    shift
    # bash's time (user and system seconds of the loader) to $WORK/cpu, the loader's own
    # messages to $WORK/err
    ( TIMEFORMAT='%U %S'; { time "$BIN" "$@" -q >"$WORK/out" 2>"$WORK/err"; } 2>"$WORK/cpu" ) &
    local lp=$!
    if [ "$BACKEND_CPU" = 1 ] && [ "$1" != --dry-run ]; then
        for _ in $(seq 1 500); do
            pid=$(psql -X -Atq -d postgres -c "SELECT pid FROM pg_stat_activity WHERE query LIKE 'COPY %' AND pid <> pg_backend_pid() LIMIT 1")
            [ -n "$pid" ] && break
            sleep 0.01
        done
        [ -n "$pid" ] && { perf stat -e task-clock -x, -o "$WORK/stat" -p "$pid" >/dev/null 2>&1 & sp=$!; }
    fi
    wait $lp || { cat "$WORK/err" >&2; exit 1; }
    [ -n "$sp" ] && wait "$sp"
    rate[$key]+=" $(sed -n 's/.*(\([0-9]*\) rows\/s).*/\1/p' "$WORK/out" | head -1)"
    cpu[$key]+=" $(awk '{printf "%.2f", $1 + $2}' "$WORK/cpu")"
    [ -n "$sp" ] && bcpu[$key]+=" $(awk -F, '/task-clock/ {printf "%.2f", $1 / 1000}' "$WORK/stat")"
    return 0
}
load_table() {
    psql -X -q -d "$DB" -c "SET client_min_messages = warning" -c "DROP TABLE IF EXISTS bench"
    run "$@"
}
TAGS=""
[ -n "$COMPARE" ] && TAGS=compare
for r in $(seq 1 "$RUNS"); do
    for kind in $KINDS; do
        for j in 1 2; do
            for TAG in "" $TAGS; do
                BIN=$LOADER
                [ -n "$TAG" ] && BIN=$COMPARE
                load_table "$kind table jobs=$j" -d "$DB" --table bench --jobs $j "$WORK/$kind"
                [ "$kind" = photo ] && [ $j = 2 ] && [ -z "$TAG" ] &&
                    load_table "$kind table jobs=$j --compression none" -d "$DB" --table bench --jobs $j --compression none "$WORK/$kind"
                run "$kind dry-run jobs=$j" --dry-run --jobs $j "$WORK/$kind"
            done
        done
    done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
for kind in $KINDS; do
    for key in {"","compare "}"$kind "{"table jobs=1","table jobs=2","table jobs=2 --compression none","dry-run jobs=1","dry-run jobs=2"}; do
        [ -n "${rate[$key]:-}" ] || continue
        line="RESULT $key median_rows_per_s=$(echo "${rate[$key]}" | median) loader_cpu_s=$(echo "${cpu[$key]}" | median)"
        [ -n "${bcpu[$key]:-}" ] && line+=" backend_cpu_s=$(echo "${bcpu[$key]}" | median)"
        echo "$line runs:${rate[$key]}"
    done
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
