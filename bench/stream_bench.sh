#!/usr/bin/env bash
# Streaming against in-memory training (issue 13, item 4): the same seeded runs on CIFAR-10
# (data_batch_1-4, 3x32x32; and the same images upsampled to 64x64x3), once held in memory
# and once streamed (mlpscale.streaming = on), alternating; prints the median epoch time of
# each, their ratio, and the validation accuracy of each on data_batch_5 (its first 2,000
# images).  A small model then trains with mlpscale.max_training_memory a quarter of the data.  Needs ../shared/data/cifar10 (the
# product does not) and the extension installed; its own cluster unless PGHOST/PGPORT.
#
#   bench/stream_bench.sh [--epochs N] [--archs "B_6-Wi_256 B_6-Wi_512"] [--rows N]
#                         [--seeds "1 2 3" [--seed-epochs 10]]
# --seeds: also the accuracy part, B_6-Wi_256 at 32 px for --seed-epochs epochs, once in
# memory and once streamed for each seed, validated on all of data_batch_5.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CIFAR=$ROOT/../shared/data/cifar10
EPOCHS=2
ARCHS="B_6-Wi_256 B_6-Wi_512"
SEEDS=""
SEED_EPOCHS=10
ROWS=40000
PREC=fp32
grep -qw avx512_bf16 /proc/cpuinfo && PREC=bf16
while [ $# -gt 0 ]; do
    case $1 in
        --epochs) EPOCHS=$2; shift 2 ;;
        --archs) ARCHS=$2; shift 2 ;;
        --rows) ROWS=$2; shift 2 ;;
        --seeds) SEEDS=$2; shift 2 ;;
        --seed-epochs) SEED_EPOCHS=$2; shift 2 ;;
        --cifar) CIFAR=$2; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "stream_bench.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
. "$ROOT/bench/bench_db.sh"
bench_db stream_bench
"$ROOT/mlpscale-load" -q -d "$DB" --table c32 "$CIFAR"/data_batch_{1,2,3,4}.bin >/dev/null
"$ROOT/mlpscale-load" -q -d "$DB" --table v32 "$CIFAR/data_batch_5.bin" >/dev/null
# 64 px tables compressed with lz4, as mlpscale-load makes them (pglz's decompression would
# be most of the read: docs/performance.md, "Storage of the image column")
q "DELETE FROM c32 WHERE id > $ROWS;
   SET default_toast_compression = lz4;
   CREATE TABLE c64 AS SELECT id, label, image_resize(image, 64, 64) AS image FROM c32;
   CREATE TABLE v64 AS SELECT id, label, image_resize(image, 64, 64) AS image FROM v32 WHERE id <= 2000;
   DELETE FROM v32 WHERE id > 2000" >/dev/null
echo "RESULT stream_bench rows=$ROWS epochs=$EPOCHS precision=$PREC cpu=\"$(lscpu | sed -n 's/^Model name: *//p' | head -1)\""
train() {   # train NAME SOURCE VAL ARCH SETTINGS [BATCH] [SEED] [EPOCHS]: the run id, once it has ended
    local id
    id=$(psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$DB" -c "$5" -c "SELECT mlp_train('$1', '$2', arch => '$4', epochs => ${8:-$EPOCHS},
         batch_size => ${6:-1024}, validation => '$3', matmul_precision => '$PREC', seed => ${7:-7})" | tail -1)
    [ "$(q "SELECT mlp_wait($id)")" = succeeded ] || { echo "run $1 failed: $(q "SELECT error FROM mlpscale.runs WHERE id = $id")" >&2; exit 1; }
    echo "$id"
}
for shape in 32 64; do
    bytes=$(q "SELECT sum(image_channels(image) * image_height(image) * image_width(image)) FROM c$shape")
    quarter=$((bytes / 4 / 1048576 + 1)); [ "$quarter" -lt 16 ] && quarter=16   # the setting's minimum
    for arch in $ARCHS; do
        mem=$(train "mem_${shape}_$arch" c$shape v$shape "$arch" "SET mlpscale.streaming = off")
        str=$(train "str_${shape}_$arch" c$shape v$shape "$arch" "SET mlpscale.streaming = on")
        q "SELECT
             'RESULT stream shape=${shape} arch=${arch} '
             || 'in-memory epoch ' || round(m.s::numeric, 2) || ' s, streamed ' || round(s.s::numeric, 2)
             || ' s (ratio ' || round((s.s / m.s)::numeric, 3) || '); validation accuracy in memory '
             || round(m.a::numeric, 4) || ', streamed ' || round(s.a::numeric, 4)
             || '; streamed: ' || (SELECT coalesce(config->>'streamed', 'false') FROM mlpscale.runs WHERE id = $str)
           FROM (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) AS s, (array_agg(val_accuracy ORDER BY epoch DESC))[1] AS a
                   FROM mlpscale.epochs WHERE run_id = $mem) m,
                (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) AS s, (array_agg(val_accuracy ORDER BY epoch DESC))[1] AS a
                   FROM mlpscale.epochs WHERE run_id = $str) s"
    done
    # a budget a quarter of the data: the run must stream and succeed (a small model, whose
    # memory fits the rest of the budget)
    q "ALTER SYSTEM SET mlpscale.max_training_memory = '${quarter}MB'" >/dev/null
    q "SELECT pg_reload_conf()" >/dev/null
    # the call reads the setting when it queues the run: wait until new sessions see it
    until [ "$(q "SELECT current_setting('mlpscale.max_training_memory') = '${quarter}MB'")" = t ]; do sleep 0.2; done
    low=$(train "low_${shape}" c$shape v$shape B_2-Wi_128 "SET mlpscale.streaming = off" 256)
    q "ALTER SYSTEM RESET mlpscale.max_training_memory" >/dev/null
    q "SELECT pg_reload_conf()" >/dev/null
    q "SELECT 'RESULT stream shape=${shape} budget ${quarter} MB for ' || round($bytes / 1048576.0, 1)
              || ' MB of images: ' || r.status || ', streamed ' || coalesce(r.config->>'streamed', 'false')
              || ', validation accuracy ' || round((SELECT val_accuracy FROM mlpscale.epochs e WHERE e.run_id = r.id ORDER BY epoch DESC LIMIT 1)::numeric, 4)
              || ', peak private memory ' || pg_size_pretty((r.config->>'peak_memory_bytes')::bigint)
              || ' (' || pg_size_pretty((r.config->>'peak_memory_bytes')::bigint - (r.config->>'base_memory_bytes')::bigint)
              || ' beyond the backend''s own ' || pg_size_pretty((r.config->>'base_memory_bytes')::bigint) || ')'
              || ', window ' || coalesce(r.config->>'stream_window_rows', '-') || ' rows'
         FROM mlpscale.runs r WHERE r.id = $low"
done
if [ -n "$SEEDS" ]; then
    # accuracy: the same recipe in memory and streamed, one pair of runs per seed, on all of
    # data_batch_5 (10,000 images)
    "$ROOT/mlpscale-load" -q -d "$DB" --table v32all "$CIFAR/data_batch_5.bin" >/dev/null
    mems=(); strs=()
    for seed in $SEEDS; do
        mems+=("$(train "acc_mem_$seed" c32 v32all B_6-Wi_256 "SET mlpscale.streaming = off" 1024 "$seed" "$SEED_EPOCHS")")
        strs+=("$(train "acc_str_$seed" c32 v32all B_6-Wi_256 "SET mlpscale.streaming = on" 1024 "$seed" "$SEED_EPOCHS")")
    done
    acc() {   # the final validation accuracies of the runs, "0.51 0.52 ..."
        q "SELECT string_agg(round(val_accuracy::numeric, 4)::text, ' ' ORDER BY run_id) FROM mlpscale.epochs
            WHERE run_id IN ($(IFS=,; echo "$*")) AND epoch = $SEED_EPOCHS"
    }
    stats() {
        q "SELECT round(avg(a)::numeric, 4) || ' +- ' || round(stddev_samp(a)::numeric, 4)
             FROM unnest(string_to_array('$1', ' ')::float8[]) a"
    }
    m=$(acc "${mems[@]}"); s=$(acc "${strs[@]}")
    echo "RESULT stream accuracy B_6-Wi_256 32px $SEED_EPOCHS epochs seeds $SEEDS: in memory $m (mean $(stats "$m")), streamed $s (mean $(stats "$s"))"
fi
