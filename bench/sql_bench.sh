#!/usr/bin/env bash
# End-to-end part of the benchmark, through SQL (called by bench/run.sh; runs on its own too).
#
#   bench/sql_bench.sh [--threads N] [--arch A] [--batch B]
#
# Starts a throwaway cluster (scripts/pg-cluster.sh) with the installed extension, loads
# Fashion-MNIST with mlpscale-load, then measures
#   - mlp_train of one epoch over the 60,000 training rows, from the call to the end of
#     mlp_wait (the worker's data loading included), the worker's own load + setup time and
#     its rows per second (derived: first epoch's end - start of the run - epoch seconds), and
#     the worker's peak resident memory (VmHWM and peak RssAnon, sampled from /proc);
#   - scoring of the 10,000 test rows: per-row classify() in a query and mlp_classify_batch().
# Prints "RESULT side=sql ..." lines.  Exits 3 (with a message) when it cannot run: extension
# not installed, no mlpscale-load, no cluster.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
THREADS=$(nproc)
ARCH=B_6-Wi_256
BATCH=1024
DATA=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
DIR=${MLPSCALE_BENCH_CLUSTER:-/tmp/mlpscale-bench-cluster}
while [ $# -gt 0 ]; do
    case $1 in
        --threads) THREADS=$2; shift 2 ;;
        --arch) ARCH=$2; shift 2 ;;
        --batch) BATCH=$2; shift 2 ;;
        *) echo "sql_bench: unknown argument $1" >&2; exit 2 ;;
    esac
done

skip() { echo "SKIP sql: $*"; exit 3; }

SHAREDIR=$(pg_config --sharedir 2>/dev/null) || skip "no pg_config: install the packages first (bash scripts/install-deps.sh, as root)"
[ -f "$SHAREDIR/extension/mlpscale.control" ] ||
    skip "the extension is not installed (make install, as root)"
LOADER=$(command -v mlpscale-load || true)
[ -n "$LOADER" ] || { [ -x "$ROOT/mlpscale-load" ] && LOADER=$ROOT/mlpscale-load; }
[ -n "$LOADER" ] || skip "mlpscale-load not found (make)"
[ -f "$DATA/train-images-idx3-ubyte.gz" ] || skip "no Fashion-MNIST in $DATA"

. "$ROOT/scripts/pg-cluster.sh"
if [ -f "$DIR/data/postmaster.pid" ]; then
    MLPSCALE_PGDATA=$DIR/data mlp_cluster_stop
fi
rm -rf "$DIR"
mlp_cluster_start "$DIR" >/dev/null 2>&1 || skip "could not start a cluster in $DIR (log: $DIR/data/server.log)"
trap 'mlp_cluster_stop' EXIT
# One training run at a time, with the thread count every side of the benchmark uses.
cat >>"$MLPSCALE_PGDATA/postgresql.conf" <<CONF
mlpscale.training_threads = $THREADS
mlpscale.scoring_threads = $THREADS
CONF
mlp_pgctl -w reload >/dev/null 2>&1

DB=mlpscale_bench
psql -X -q -d postgres -c "CREATE DATABASE $DB" || skip "createdb failed"
sql() { psql -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
val() { psql -X -q -t -A -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }
sql -c "CREATE EXTENSION mlpscale" || skip "CREATE EXTENSION mlpscale failed"

now() { date +%s.%N; }
t0=$(now)
"$LOADER" -q -d "$DB" --table fashion --replace --split train "$DATA" >/dev/null &&
    "$LOADER" -q -d "$DB" --table fashion --append --split test "$DATA" >/dev/null ||
    skip "mlpscale-load failed"
t1=$(now)
sql -c "CREATE VIEW fashion_train AS SELECT id, image, label FROM fashion WHERE split = 'train'" \
    -c "CREATE VIEW fashion_test AS SELECT id, image, label FROM fashion WHERE split = 'test'" \
    -c "VACUUM ANALYZE fashion" || skip "could not create the views"
echo "RESULT side=sql mode=sql-load rows=70000 load_s=$(echo "$t1 - $t0" | bc -l | xargs printf '%.3f') rows_per_s=$(echo "70000 / ($t1 - $t0)" | bc -l | xargs printf '%.1f')"

# ---- training: one epoch, the worker's data loading included, per matmul precision ----------
# train_epoch MODEL PRECISION
train_epoch() {
    local model=$1 prec=$2 t0 t1 RUN hwm anon pid status h a final worker_s epoch_s ips rows setup_s params
    t0=$(now)
    RUN=$(val "SELECT mlp_train('$model', 'fashion_train', arch => '$ARCH', epochs => 1,
                                batch_size => $BATCH, seed => 0, matmul_precision => '$prec')") ||
        skip "mlp_train failed"
    hwm=0; anon=0
    while :; do
        pid=$(val "SELECT coalesce(worker_pid, 0) || ' ' || status FROM mlpscale.runs WHERE id = $RUN")
        status=${pid#* }; pid=${pid%% *}
        if [ "$pid" != 0 ] && [ -r "/proc/$pid/status" ]; then
            h=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
            a=$(awk '/^RssAnon:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
            [ -n "$h" ] && [ "$h" -gt "$hwm" ] && hwm=$h
            [ -n "$a" ] && [ "$a" -gt "$anon" ] && anon=$a
        fi
        case $status in queued|running) sleep 0.2 ;; *) break ;; esac
    done
    final=$(val "SELECT mlp_wait($RUN)")
    t1=$(now)
    if [ "$final" != succeeded ]; then
        echo "sql_bench: run $RUN ended $final: $(val "SELECT error FROM mlpscale.runs WHERE id = $RUN")" >&2
        echo "RESULT side=sql mode=sql-train status=$final precision=$prec"
    else
        read -r worker_s epoch_s ips rows setup_s params <<<"$(val "
            SELECT round(extract(epoch FROM r.finished_at - r.started_at)::numeric, 3),
                   round(e.seconds::numeric, 3), round(e.images_per_second::numeric, 1),
                   r.train_rows,
                   round((extract(epoch FROM e.finished_at - r.started_at) - e.seconds)::numeric, 3),
                   r.params
              FROM mlpscale.runs r JOIN mlpscale.epochs e ON e.run_id = r.id AND e.epoch = 1
             WHERE r.id = $RUN" | tr '|' ' ')"
        echo "RESULT side=sql mode=sql-train arch=$ARCH batch=$BATCH rows=$rows params=$params" \
             "total_s=$(echo "$t1 - $t0" | bc -l | xargs printf '%.3f') worker_s=$worker_s" \
             "epoch_s=$epoch_s images_per_s=$ips load_setup_s=$setup_s" \
             "load_rows_per_s=$(echo "$rows / $setup_s" | bc -l | xargs printf '%.1f')" \
             "peak_rss_mb=$(echo "$hwm / 1024" | bc -l | xargs printf '%.1f')" \
             "peak_anon_mb=$(echo "$anon / 1024" | bc -l | xargs printf '%.1f') threads=$THREADS" \
             "precision=$prec"
    fi
}

train_epoch bench fp32
# bf16 products where the CPU has them (the scoring below uses the fp32 model)
if grep -qw avx512_bf16 /proc/cpuinfo; then
    train_epoch bench_bf16 bf16
fi

# ---- scoring: per-row classify() and mlp_classify_batch() over the 10,000 test rows ------------
# in fp32, and with mlpscale.scoring_precision = 'bf16' where the CPU has AVX512_BF16
score() {
    local prec=$1 out per_row batch
    out=$(psql -X -q -t -A -v ON_ERROR_STOP=1 -d "$DB" <<SQL
SET max_parallel_workers_per_gather = 0;
SET mlpscale.scoring_precision = '$prec';
SELECT classify('bench', image) FROM fashion_test LIMIT 1 \g /dev/null
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT count(classify('bench', image)) FROM fashion_test \g /dev/null
SELECT round((10000 / (extract(epoch FROM clock_timestamp()) - :t0))::numeric, 1) AS per_row \gset
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT count(*) FROM mlp_classify_batch('bench', 'SELECT id, image FROM fashion_test') \g /dev/null
SELECT round((10000 / (extract(epoch FROM clock_timestamp()) - :t0))::numeric, 1) AS batch \gset
\echo :per_row :batch
SQL
)
    read -r per_row batch <<<"$(echo "$out" | tail -1)"
    echo "RESULT side=sql mode=sql-infer arch=$ARCH shape=1x28x28 n=10000" \
         "classify_rows_per_s=$per_row batch_rows_per_s=$batch threads=$THREADS precision=$prec"
}
if [ "$(val "SELECT count(*) FROM mlpscale.models WHERE name = 'bench'")" != 0 ]; then
    score fp32
    if grep -qw avx512_bf16 /proc/cpuinfo; then
        score bf16
    fi
fi
