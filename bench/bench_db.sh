# Sourced by the SQL benchmarks (after ROOT is set): `bench_db NAME` uses the cluster of
# PGHOST/PGPORT when both are set, or else starts a throwaway one (scripts/pg-cluster.sh,
# stopped and removed on exit), makes database NAME afresh with mlpscale in it and sets DB;
# `q SQL` runs SQL there and prints the rows unaligned.
. "$ROOT/scripts/pg-cluster.sh"

bench_db() {
    if [ -z "${PGHOST:-}" ] || [ -z "${PGPORT:-}" ]; then
        BENCH_DIR=$(mktemp -d "/tmp/mlpscale-$1.XXXXXX")
        [ "$(id -u)" = 0 ] && chown postgres: "$BENCH_DIR"
        mlp_cluster_start "$BENCH_DIR" >/dev/null
        trap 'mlp_cluster_stop; rm -rf "$BENCH_DIR"' EXIT
    fi
    DB=$1
    psql -X -q -d postgres -c "SET client_min_messages = warning" \
         -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
    q "CREATE EXTENSION mlpscale" >/dev/null
}

q() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }
