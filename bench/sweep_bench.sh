#!/usr/bin/env bash
# The queue's overhead per run (issue 12): N tiny runs (B_1-Wi_16, one epoch of 64 8x8
# images, so training is a few milliseconds) queued as one mlp_sweep, against the same N
# runs queued and waited for one by one (mlp_train, then mlp_wait, in one session).
#
#   bench/sweep_bench.sh [--runs N] [--concurrent N]     (make bench-sweep)
#
# Needs the extension installed (make install); starts its own cluster (scripts/pg-cluster.sh)
# unless PGHOST and PGPORT name one with mlpscale preloaded.  Prints RESULT lines: wall
# seconds, runs per minute, and the wall time per run beyond its training epochs (the
# overhead: queueing, launching a background worker, reading the data, storing the model).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N=200
CONCURRENT=1
while [ $# -gt 0 ]; do
    case $1 in
        --runs) N=$2; shift 2 ;;
        --concurrent) CONCURRENT=$2; shift 2 ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) echo "sweep_bench.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

. "$ROOT/bench/bench_db.sh"
bench_db sweep_bench
q "ALTER SYSTEM SET mlpscale.max_concurrent_runs = $CONCURRENT" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
q "SELECT setseed(0.5);
   CREATE TABLE tiny AS SELECT i AS id, i % 2 AS label,
       image_from_bytes((SELECT decode(string_agg(lpad(to_hex((random() * 255)::int), 2, '0'), ''), 'hex')
                         FROM generate_series(1, 64) p WHERE i > 0), 1, 8, 8) AS image
   FROM generate_series(1, 64) i" >/dev/null
ARGS="arch => 'B_1-Wi_16', epochs => 1, batch_size => 64, mixup => 0, augment => false"
now() { date +%s.%N; }

# ---- one sweep -----------------------------------------------------------------------------
t0=$(now)
sweep=$(q "SELECT mlp_sweep('bench', 'tiny', jsonb_build_object('seed', (SELECT jsonb_agg(i) FROM generate_series(1, $N) i)), $ARGS)")
status=$(q "SELECT mlp_wait_sweep($sweep)")
t1=$(now)
[ "$status" = succeeded ] || { echo "the sweep ended $status" >&2; exit 1; }
sweep_train=$(q "SELECT sum(e.seconds) FROM mlpscale.epochs e JOIN mlpscale.runs r ON r.id = e.run_id WHERE r.sweep_id = $sweep")

# ---- the same runs one by one --------------------------------------------------------------
script=$(mktemp)
for i in $(seq 1 "$N"); do
    echo "SELECT mlp_train('single', 'tiny', seed => $i, $ARGS) AS r \\gset"
    echo "SELECT mlp_wait(:r) \\g /dev/null"
done >"$script"
t2=$(now)
psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$DB" -f "$script" >/dev/null
t3=$(now)
rm -f "$script"
single_train=$(q "SELECT sum(e.seconds) FROM mlpscale.epochs e JOIN mlpscale.runs r ON r.id = e.run_id WHERE r.model_name = 'single'")
[ "$(q "SELECT count(*) FROM mlpscale.runs WHERE model_name = 'single' AND status = 'succeeded'")" = "$N" ] ||
    { echo "not every single run succeeded" >&2; exit 1; }

awk -v n="$N" -v c="$CONCURRENT" -v a="$t0" -v b="$t1" -v c2="$t2" -v d="$t3" -v st="$sweep_train" -v ot="$single_train" 'BEGIN {
    ws = b - a; wo = d - c2
    printf "RESULT sweep_bench runs=%d max_concurrent_runs=%d\n", n, c
    printf "RESULT sweep     wall %.1f s, %.0f runs/min, training %.2f s, overhead %.0f ms/run\n", ws, n / ws * 60, st, (ws - st) / n * 1000
    printf "RESULT one-by-one wall %.1f s, %.0f runs/min, training %.2f s, overhead %.0f ms/run\n", wo, n / wo * 60, ot, (wo - ot) / n * 1000
    printf "RESULT sweep/one-by-one speed %.2fx\n", wo / ws
}'
