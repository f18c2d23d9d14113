# Throwaway PostgreSQL 15 cluster for tests and the demo; source this file.
#   mlp_cluster_start DIR [PORT]   initdb + start with mlpscale preloaded; exports PGHOST,
#                                  PGPORT, PGUSER, MLPSCALE_PGDATA, MLPSCALE_PGBIN
#   mlp_test_cluster_start DIR [PORT]  the same for the test suites, with the testing aid
#                                  mlpscale.test_hold_points on (not for the demo)
#   mlp_cluster_stop               stop it (the directory stays, for the logs)
#   mlp_pgctl ARGS...              pg_ctl on it, as the postgres user
# PostgreSQL refuses to run as root, so as root everything runs as the Debian "postgres" user.
# Source it after the packages are installed (scripts/install-deps.sh): it needs pg_config, the
# server binaries and, as root, the postgres user that postgresql-15 creates.

if [ -z "${MLPSCALE_PGBIN:-}" ]; then
    MLPSCALE_PGBIN=$(pg_config --bindir 2>/dev/null) || MLPSCALE_PGBIN=/usr/lib/postgresql/15/bin
fi
export MLPSCALE_PGBIN

# As root, from / : the caller's directory (a clone under /root, say) may be closed to postgres.
mlp_as_postgres() {
    if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

mlp_pgctl() {
    mlp_as_postgres "$MLPSCALE_PGBIN/pg_ctl" -D "$MLPSCALE_PGDATA" -l "$MLPSCALE_PGDATA/server.log" "$@"
}

mlp_free_port() {
    local p
    for p in $(seq 54300 54399); do
        if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null && [ ! -e "/tmp/.s.PGSQL.$p" ]; then
            echo "$p"; return 0
        fi
    done
    return 1
}

mlp_cluster_start() {
    local dir=$1 port=${2:-$(mlp_free_port)}
    if [ ! -x "$MLPSCALE_PGBIN/initdb" ]; then
        echo "pg-cluster: no $MLPSCALE_PGBIN/initdb: install postgresql-15 (scripts/install-deps.sh)" >&2
        return 1
    fi
    if [ "$(id -u)" = 0 ] && ! id -u postgres >/dev/null 2>&1; then
        echo "pg-cluster: there is no postgres user (the postgresql-15 package creates it)" >&2
        return 1
    fi
    mkdir -p "$dir" && dir=$(cd "$dir" && pwd) || return 1
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    export MLPSCALE_PGDATA="$dir/data" PGHOST="$dir" PGPORT="$port"
    export PGUSER=${MLPSCALE_PGUSER:-$( [ "$(id -u)" = 0 ] && echo postgres || id -un )}
    mlp_as_postgres "$MLPSCALE_PGBIN/initdb" -D "$MLPSCALE_PGDATA" -A trust -E UTF8 \
        --no-locale -U "$PGUSER" >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log"; return 1; }
    cat >>"$MLPSCALE_PGDATA/postgresql.conf" <<CONF
listen_addresses = ''
port = $port
unix_socket_directories = '$dir'
shared_preload_libraries = 'mlpscale'
max_worker_processes = 16
fsync = off
synchronous_commit = off
full_page_writes = off
log_min_messages = log
${MLPSCALE_CLUSTER_EXTRA_CONF:-}
CONF
    mlp_pgctl -w -t 60 start >/dev/null || { cat "$MLPSCALE_PGDATA/server.log"; return 1; }
}

# Training workers stop at the hold points that the integration tests hold
# (test/integration/training_helpers.sh); nothing waits where no session holds a point.
mlp_test_cluster_start() {
    MLPSCALE_CLUSTER_EXTRA_CONF="mlpscale.test_hold_points = on" mlp_cluster_start "$@"
}

mlp_cluster_stop() {
    [ -n "${MLPSCALE_PGDATA:-}" ] && [ -f "$MLPSCALE_PGDATA/postmaster.pid" ] && mlp_pgctl -m fast -w stop >/dev/null
    return 0
}
