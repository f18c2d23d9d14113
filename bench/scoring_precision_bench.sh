#!/usr/bin/env bash
# bf16 scoring against fp32 (issue 14, target 4): a B_6-Wi_256 model trained on CIFAR-10
# (data_batch_1-4, a few epochs) scores data_batch_5 with mlpscale.scoring_precision fp32 and
# bf16; prints the top-1 agreement of the two, the test accuracy of each, and the rates of
# per-row classify and of mlp_classify_batch in each precision (medians of --reps,
# alternating).  Needs the CIFAR-10 binary files (default ../shared/data/cifar10, which the
# product does not need) and the extension installed; its own cluster unless PGHOST/PGPORT.
#
#   bench/scoring_precision_bench.sh [--cifar DIR] [--epochs N] [--reps R] [--rows N]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CIFAR=$ROOT/../shared/data/cifar10
EPOCHS=5
REPS=3
ROWS=2000
while [ $# -gt 0 ]; do
    case $1 in
        --cifar) CIFAR=$2; shift 2 ;;
        --epochs) EPOCHS=$2; shift 2 ;;
        --reps) REPS=$2; shift 2 ;;
        --rows) ROWS=$2; shift 2 ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        *) echo "scoring_precision_bench.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
grep -qw avx512_bf16 /proc/cpuinfo || { echo "SKIP this CPU has no AVX512_BF16"; exit 0; }
. "$ROOT/bench/bench_db.sh"
bench_db precision_bench
LOADER=$ROOT/mlpscale-load
"$LOADER" -q -d "$DB" --table cifar_train "$CIFAR"/data_batch_{1,2,3,4}.bin >/dev/null
"$LOADER" -q -d "$DB" --table cifar_test "$CIFAR/data_batch_5.bin" >/dev/null
run=$(q "SELECT mlp_train('m', 'SELECT image, label FROM cifar_train', arch => 'B_6-Wi_256', epochs => $EPOCHS,
                          batch_size => 1024, matmul_precision => 'bf16', seed => 1)")
[ "$(q "SELECT mlp_wait($run)")" = succeeded ] || { echo "training failed" >&2; exit 1; }

q "CREATE TABLE s32 AS SELECT * FROM mlp_classify_batch('m', 'SELECT row_number() OVER () AS id, image FROM cifar_test');
   CREATE TABLE truth AS SELECT row_number() OVER () AS id, label FROM cifar_test" >/dev/null
q "SET mlpscale.scoring_precision = 'bf16';
   CREATE TABLE s16 AS SELECT * FROM mlp_classify_batch('m', 'SELECT row_number() OVER () AS id, image FROM cifar_test')" >/dev/null
n=$(q "SELECT count(*) FROM s32")
agree=$(q "SELECT count(*) FROM s32 a JOIN s16 b USING (id) WHERE a.class = b.class")
acc32=$(q "SELECT round(avg((a.class = t.label)::int)::numeric, 4) FROM s32 a JOIN truth t USING (id)")
acc16=$(q "SELECT round(avg((a.class = t.label)::int)::numeric, 4) FROM s16 a JOIN truth t USING (id)")
echo "RESULT precision_bench cpu=\"$(lscpu | sed -n 's/^Model name: *//p' | head -1)\" model=B_6-Wi_256 epochs=$EPOCHS test_images=$n"
awk -v a="$agree" -v n="$n" -v x="$acc32" -v y="$acc16" 'BEGIN {
    printf "RESULT bf16 top-1 agrees with fp32 on %d of %d test images (%.2f %%); test accuracy fp32 %.4f, bf16 %.4f\n", a, n, 100 * a / n, x, y }'

now() { date +%s.%N; }
rate() {    # rate PRECISION SQL ROWS: rows/s of SQL, median of REPS
    local p=$1 sql=$2 rows=$3 t
    for _ in $(seq 1 "$REPS"); do
        t=$( { psql -X -A -t -q -d "$DB" -c "SET mlpscale.scoring_precision = '$p'" -c "SELECT count(classify('m', image)) FROM cifar_test LIMIT 1" \
                 -c "\\timing on" -c "$sql" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p'; } )
        echo "$t"
    done | sort -n | awk -v r="$rows" '{ v[NR] = $1 } END { printf "%.0f", r / (v[int((NR + 1) / 2)] / 1000) }'
}
ROW_SQL="SELECT count(classify('m', image)) FROM (SELECT image FROM cifar_test LIMIT $ROWS) x"
BATCH_SQL="SELECT count(*) FROM mlp_classify_batch('m', 'SELECT row_number() OVER () AS id, image FROM cifar_test')"
r32=$(rate fp32 "$ROW_SQL" "$ROWS"); r16=$(rate bf16 "$ROW_SQL" "$ROWS")
b32=$(rate fp32 "$BATCH_SQL" "$n"); b16=$(rate bf16 "$BATCH_SQL" "$n")
awk -v r32="$r32" -v r16="$r16" -v b32="$b32" -v b16="$b16" 'BEGIN {
    printf "RESULT per-row classify: fp32 %d images/s, bf16 %d images/s (%.2fx)\n", r32, r16, r16 / r32
    printf "RESULT mlp_classify_batch: fp32 %d images/s, bf16 %d images/s (%.2fx)\n", b32, b16, b16 / b32 }'
