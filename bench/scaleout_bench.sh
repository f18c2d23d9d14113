#!/usr/bin/env bash
# Scale-out benchmark (issue 15): scoring N 3x32x32 images with a B_6-Wi_256 model on one
# PostgreSQL (the coordinator alone), on one shard, and on two shards at once, through
# mlp_classify_batch(..., servers) and through ad-hoc SQL over a partitioned table of foreign
# partitions (classify_pinned in a GROUP BY); and a sweep of tiny runs here, on one shard and
# on two.  Three loopback clusters on this machine, every scoring backend with
# mlpscale.scoring_threads = 1, so one shard has one core and two shards two.
#
#   bench/scaleout_bench.sh [--rows N] [--reps R]        (make bench-scaleout)
#
# Needs the extension installed (make install) and postgres_fdw (in postgresql-15).  Prints
# RESULT lines: rows/s of each way, the scaling efficiency of two shards (rate / (2 x the
# one-shard rate)), and where the time goes (transfer: the same rows fetched without scoring;
# scoring: mlp_classify_batch run on the shard itself; merging: the rest).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N=60000
REPS=3
while [ $# -gt 0 ]; do
    case $1 in
        --rows) N=$2; shift 2 ;;
        --reps) REPS=$2; shift 2 ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "scaleout_bench.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
HALF=$((N / 2))
. "$ROOT/scripts/pg-cluster.sh"
WORK=$(mktemp -d /tmp/mlpscale-scaleout-bench.XXXXXX)
[ "$(id -u)" = 0 ] && chown postgres: "$WORK"
declare -A H P D
cleanup() {
    for c in coord shard1 shard2; do [ -n "${D[$c]:-}" ] && MLPSCALE_PGDATA=${D[$c]} mlp_cluster_stop; done
    rm -rf "$WORK"
}
trap cleanup EXIT
for c in coord shard1 shard2; do
    MLPSCALE_CLUSTER_EXTRA_CONF="mlpscale.scoring_threads = 1
mlpscale.training_threads = 1
mlpscale.max_concurrent_runs = 1" mlp_cluster_start "$WORK/$c" >/dev/null
    H[$c]=$PGHOST P[$c]=$PGPORT D[$c]=$MLPSCALE_PGDATA
    psql -X -q -h "${H[$c]}" -p "${P[$c]}" -d postgres -c "CREATE DATABASE bench" >/dev/null
    psql -X -q -h "${H[$c]}" -p "${P[$c]}" -d bench -c "CREATE EXTENSION mlpscale" >/dev/null
done
on() { psql -X -A -t -q -v ON_ERROR_STOP=1 -h "${H[$1]}" -p "${P[$1]}" -d bench -c "$2"; }
now() { date +%s.%N; }
# best of REPS wall seconds of SQL on cluster $1
timed() {
    local best=""
    for _ in $(seq 1 "$REPS"); do
        local t0 t1
        t0=$(now); on "$1" "$2" >/dev/null; t1=$(now)
        best=$(awk -v a="$t0" -v b="$t1" -v best="$best" 'BEGIN { d = b - a; print (best == "" || d < best) ? d : best }')
    done
    echo "$best"
}

IMG="image_from_bytes(decode(repeat(md5(i::text), 192), 'hex'), 3, 32, 32)"
on coord "CREATE TABLE images_local AS SELECT i::bigint AS id, $IMG AS image, (i % 10)::int AS label, (i > $HALF)::int AS part FROM generate_series(1, $N) i"
on shard1 "CREATE TABLE all_p AS SELECT i::bigint AS id, $IMG AS image, (i % 10)::int AS label FROM generate_series(1, $N) i;
           CREATE TABLE half_p AS SELECT id, image, label, 0 AS part FROM all_p WHERE id <= $HALF"
on shard2 "CREATE TABLE half_p AS SELECT i::bigint AS id, $IMG AS image, (i % 10)::int AS label, 1 AS part FROM generate_series($HALF + 1, $N) i"
for c in shard1 shard2; do on $c "CREATE TABLE train_p AS SELECT * FROM half_p WHERE id % 7 = 0" >/dev/null; done
on coord "CREATE TABLE train_p AS SELECT * FROM images_local WHERE id % 7 = 0 AND id <= $HALF" >/dev/null

# the model: one short run here, published to both shards
run=$(on coord "SELECT mlp_train('m', 'SELECT image, label FROM images_local WHERE id <= 2048', arch => 'B_6-Wi_256', epochs => 1, batch_size => 256, seed => 1)")
[ "$(on coord "SELECT mlp_wait($run)")" = succeeded ] || { echo "training the model failed" >&2; exit 1; }
on coord "CREATE EXTENSION postgres_fdw" >/dev/null
for s in shard1 shard2; do
    on coord "CREATE SERVER $s FOREIGN DATA WRAPPER postgres_fdw
                OPTIONS (host '${H[$s]}', port '${P[$s]}', dbname 'bench', extensions 'mlpscale', async_capable 'true', fetch_size '10000');
              CREATE USER MAPPING FOR CURRENT_USER SERVER $s OPTIONS (user '$PGUSER');
              SELECT mlp_publish('m@1', '$s')" >/dev/null
done
on coord "CREATE TABLE images (id bigint, image image, label int, part int) PARTITION BY LIST (part);
          CREATE FOREIGN TABLE images_1 PARTITION OF images FOR VALUES IN (0) SERVER shard1 OPTIONS (table_name 'half_p');
          CREATE FOREIGN TABLE images_2 PARTITION OF images FOR VALUES IN (1) SERVER shard2 OPTIONS (table_name 'half_p');
          ANALYZE images_1, images_2" >/dev/null
# the pattern for ad-hoc SQL that must score where the rows are: a view on each shard that
# calls classify_pinned, and a foreign partition over each view
for s in shard1 shard2; do
    on $s "CREATE VIEW scored AS SELECT id, part, classify_pinned('m@1', image) AS class FROM half_p" >/dev/null
done
on coord "CREATE TABLE scored (id bigint, part int, class int) PARTITION BY LIST (part);
          CREATE FOREIGN TABLE scored_1 PARTITION OF scored FOR VALUES IN (0) SERVER shard1 OPTIONS (table_name 'scored');
          CREATE FOREIGN TABLE scored_2 PARTITION OF scored FOR VALUES IN (1) SERVER shard2 OPTIONS (table_name 'scored')" >/dev/null

cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
echo "RESULT scaleout_bench rows=$N reps=$REPS cpu=\"$cpu\" cores=$(nproc) model=B_6-Wi_256 shape=3x32x32"
local_s=$(timed coord "SELECT count(*) FROM mlp_classify_batch('m@1', 'SELECT id, image FROM images_local')")
one_s=$(timed coord "SELECT count(*) FROM mlp_classify_batch('m@1', 'SELECT id, image FROM all_p', servers => ARRAY['shard1'])")
two_s=$(timed coord "SELECT count(*) FROM mlp_classify_batch('m@1', 'SELECT id, image FROM half_p', servers => ARRAY['shard1', 'shard2'])")
# where the time goes on two shards: scoring on a shard alone, and the rows moved without scoring
score_s=$(timed shard1 "SELECT count(*) FROM mlp_classify_batch('m@1', 'SELECT id, image FROM half_p')")
transfer_s=$(timed coord "SELECT count(*) FROM images")
sql_local_s=$(timed coord "SELECT c, count(*) FROM (SELECT classify_pinned('m@1', image) AS c FROM images_local) x GROUP BY 1")
# with the partition key in the GROUP BY and partitionwise aggregation, each shard aggregates
# its rows whole; without it, postgres_fdw ships only an ORDER BY and the coordinator
# classifies the fetched images again (user guide, "Which queries ship")
sql_two_s=$(timed coord "SET enable_partitionwise_aggregate = on; SELECT part, classify_pinned('m@1', image) AS c, count(*) FROM images GROUP BY 1, 2")
sql_two_plain_s=$(timed coord "SELECT classify_pinned('m@1', image) AS c, count(*) FROM images GROUP BY 1")
sql_views_s=$(timed coord "SELECT class, count(*) FROM scored GROUP BY 1")
awk -v n="$N" -v l="$local_s" -v o="$one_s" -v t="$two_s" -v sc="$score_s" -v tr="$transfer_s" -v ql="$sql_local_s" -v q2="$sql_two_s" -v qp="$sql_two_plain_s" -v qv="$sql_views_s" 'BEGIN {
    printf "RESULT scoring mlp_classify_batch here        %.2f s %8.0f rows/s\n", l, n / l
    printf "RESULT scoring mlp_classify_batch 1 shard     %.2f s %8.0f rows/s\n", o, n / o
    printf "RESULT scoring mlp_classify_batch 2 shards    %.2f s %8.0f rows/s  speed-up %.2fx over 1 shard, %.2fx over here; efficiency %.0f %%\n", t, n / t, o / t, l / t, 100 * o / t / 2
    printf "RESULT scoring where the time goes (2 shards): scoring on a shard %.2f s, fetching the images of both without scoring %.2f s, the rest (connect, results, merge) %.2f s\n", sc, tr, t - sc
    printf "RESULT scoring classify_pinned GROUP BY here  %.2f s %8.0f rows/s\n", ql, n / ql
    printf "RESULT scoring classify_pinned GROUP BY part, class over 2 foreign partitions (partitionwise) %.2f s %8.0f rows/s  speed-up %.2fx\n", q2, n / q2, ql / q2
    printf "RESULT scoring classify_pinned GROUP BY class over 2 foreign partitions (ORDER BY shipped) %.2f s %8.0f rows/s  speed-up %.2fx\n", qp, n / qp, ql / qp
    printf "RESULT scoring GROUP BY class over 2 foreign partitions of views that call classify_pinned %.2f s %8.0f rows/s  speed-up %.2fx\n", qv, n / qv, ql / qv
}'

# ---- sweeps: 8 tiny runs here, on one shard, on two -----------------------------------------
ARGS="arch => 'B_1-Wi_64', epochs => 2, batch_size => 128, mixup => 0, augment => false"
sweep_time() {  # sweep_time NAME SERVERS-ARG
    local t0 t1 id
    t0=$(now)
    id=$(on coord "SELECT mlp_sweep('$1', 'train_p', '{\"seed\": [1, 2, 3, 4, 5, 6, 7, 8]}', $ARGS $2)")
    [ "$(on coord "SELECT mlp_wait_sweep($id)")" = succeeded ] ||
        { echo "sweep $1 failed:" >&2; on coord "SELECT error FROM mlpscale.runs WHERE error IS NOT NULL LIMIT 1" >&2; exit 1; }
    t1=$(now)
    awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'
}
sw_here=$(sweep_time here "")
sw_one=$(sweep_time one ", servers => ARRAY['shard1']")
sw_two=$(sweep_time two ", servers => ARRAY['shard1', 'shard2']")
awk -v h="$sw_here" -v o="$sw_one" -v t="$sw_two" 'BEGIN {
    printf "RESULT sweep 8 runs here %.1f s, on 1 shard %.1f s, on 2 shards %.1f s: speed-up %.2fx over 1 shard (efficiency %.0f %%)\n", h, o, t, o / t, 100 * o / t / 2
}'
