#!/usr/bin/env bash
# A source far larger than the memory budget (issue 13, item 4): a 64x64x3 table of ROWS rows
# (1,000,000 by default: 11.7 GB of pixels) made from CIFAR-10's 50,000 training images
# upsampled to 64x64, each image in 20 variants (a different intermediate size before the
# upsampling, so that no two rows are equal), trained with mlpscale.max_training_memory
# BUDGET (2 GB) for EPOCHS epochs.  Prints the table's size, the run's epoch time and rows/s,
# its window, and the worker's peak private memory (runs.config->'peak_memory_bytes', minus
# what it held before reading: 'base_memory_bytes') against the budget.  The table is
# UNLOGGED (no WAL: only the read is measured) and dropped at the end.  Needs
# ../shared/data/cifar10 (the product does not), about 9 GB of disk, and the extension
# installed; its own cluster unless PGHOST/PGPORT.
#
#   bench/stream_large.sh [--rows N] [--budget 2GB] [--epochs 1] [--arch B_6-Wi_256]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CIFAR=$ROOT/../shared/data/cifar10
ROWS=1000000
BUDGET=2GB
EPOCHS=1
ARCH=B_6-Wi_256
PREC=fp32
grep -qw avx512_bf16 /proc/cpuinfo && PREC=bf16
while [ $# -gt 0 ]; do
    case $1 in
        --rows) ROWS=$2; shift 2 ;;
        --budget) BUDGET=$2; shift 2 ;;
        --epochs) EPOCHS=$2; shift 2 ;;
        --arch) ARCH=$2; shift 2 ;;
        --cifar) CIFAR=$2; shift 2 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "stream_large.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
. "$ROOT/bench/bench_db.sh"
bench_db stream_large
"$ROOT/mlpscale-load" -q -d "$DB" --table c32 "$CIFAR"/data_batch_{1,2,3,4,5}.bin >/dev/null
variants=$(( (ROWS + 49999) / 50000 ))
t0=$(date +%s.%N)
# lz4, as mlpscale-load's tables have; each variant goes through another intermediate size
q "SET default_toast_compression = lz4;
   CREATE UNLOGGED TABLE big (id bigint, label int, image image);
   INSERT INTO big
   SELECT (v - 1) * 50000 + c.id, c.label,
          CASE WHEN v = 1 THEN image_resize(c.image, 64, 64)
               ELSE image_resize(image_resize(c.image, 32 + v, 32 + v), 64, 64) END
     FROM generate_series(1, $variants) v, c32 c
    WHERE (v - 1) * 50000 + c.id <= $ROWS" >/dev/null
q "VACUUM (ANALYZE) big" >/dev/null
t1=$(date +%s.%N)
echo "RESULT stream_large rows=$ROWS arch=$ARCH epochs=$EPOCHS precision=$PREC budget=$BUDGET cpu=\"$(lscpu | sed -n 's/^Model name: *//p' | head -1)\""
q "SELECT 'RESULT stream_large table ' || pg_size_pretty(pg_total_relation_size('big')) || ' on disk, '
          || round(sum(image_channels(image) * image_height(image) * image_width(image)::bigint) / 1073741824.0, 2)
          || ' GiB of pixels, made in ' || round(($t1 - $t0)::numeric, 0) || ' s' FROM big"
q "ALTER SYSTEM SET mlpscale.max_training_memory = '$BUDGET'" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
# the call reads the setting when it queues the run: wait until new sessions see it
until [ "$(q "SELECT pg_size_bytes(current_setting('mlpscale.max_training_memory')) = pg_size_bytes('$BUDGET')")" = t ]; do sleep 0.2; done
id=$(q "SELECT mlp_train('large', 'big', arch => '$ARCH', epochs => $EPOCHS, batch_size => 1024,
                          matmul_precision => '$PREC', seed => 1)")
status=$(q "SELECT mlp_wait($id)")
q "ALTER SYSTEM RESET mlpscale.max_training_memory" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
q "SELECT 'RESULT stream_large run ' || r.status || coalesce(' (' || r.error || ')', '')
          || ', streamed ' || coalesce(r.config->>'streamed', 'false')
          || ', window ' || (r.config->>'stream_window_rows') || ' rows'
          || ', epoch ' || round(percentile_cont(0.5) WITHIN GROUP (ORDER BY e.seconds)::numeric, 1) || ' s'
          || ' (' || round(($ROWS / percentile_cont(0.5) WITHIN GROUP (ORDER BY e.seconds))::numeric, 0) || ' rows/s, '
          || round(($ROWS::numeric * 12288 / 1048576.0 / percentile_cont(0.5) WITHIN GROUP (ORDER BY e.seconds))::numeric, 0) || ' MB/s of pixels)'
          || ', run ' || round(extract(epoch FROM r.finished_at - r.started_at)::numeric, 0) || ' s with the survey'
          || '; peak private memory ' || pg_size_pretty((r.config->>'peak_memory_bytes')::bigint)
          || ', ' || pg_size_pretty((r.config->>'peak_memory_bytes')::bigint - (r.config->>'base_memory_bytes')::bigint)
          || ' beyond the backend''s own, budget $BUDGET'
     FROM mlpscale.runs r JOIN mlpscale.epochs e ON e.run_id = r.id WHERE r.id = $id
    GROUP BY r.id"
q "DROP TABLE big" >/dev/null
[ "$status" = succeeded ]
