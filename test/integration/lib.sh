# TAP helpers for the integration scripts (test/integration/*.sh); source this file.
# test/run_all.sh runs each script against a throwaway cluster with PGHOST, PGPORT, PGUSER,
# MLPSCALE_PGDATA and MLPSCALE_ROOT set; each script makes its own database with new_db.
set -u
MLPSCALE_ROOT=${MLPSCALE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
. "$MLPSCALE_ROOT/scripts/pg-cluster.sh"

_tap_n=0
_tap_failed=0

ok() {                      # ok CONDITION_EXIT_CODE NAME
    local rc=$1; shift
    _tap_n=$((_tap_n + 1))
    if [ "$rc" = 0 ]; then echo "ok $_tap_n - $*"; else echo "not ok $_tap_n - $*"; _tap_failed=$((_tap_failed + 1)); fi
}

is() {                      # is GOT WANT NAME
    local got=$1 want=$2; shift 2
    if [ "$got" = "$want" ]; then ok 0 "$@"; else ok 1 "$@"; echo "#   got:  '$got'"; echo "#   want: '$want'"; fi
}

like() {                    # like GOT REGEX NAME
    local got=$1 re=$2; shift 2
    if [[ "$got" =~ $re ]]; then ok 0 "$@"; else ok 1 "$@"; echo "#   got:  '$got'"; echo "#   want match: '$re'"; fi
}

# is_close GOT WANT TOL NAME: the same text token by token (split at blanks, commas and
# braces), except that tokens with a decimal point may differ by TOL (absolute).
is_close() {
    local got=$1 want=$2 tol=$3; shift 3
    if awk -v g="$got" -v w="$want" -v tol="$tol" 'BEGIN {
           ng = split(g, a, /[ ,{}\n]+/); nw = split(w, b, /[ ,{}\n]+/)
           if (ng != nw) exit 1
           for (i = 1; i <= ng; i++) {
               if (a[i] == b[i]) continue
               if (a[i] !~ /^-?[0-9]*\.[0-9]+(e[-+]?[0-9]+)?$/ || b[i] !~ /^-?[0-9]*\.[0-9]+(e[-+]?[0-9]+)?$/) exit 1
               d = a[i] - b[i]; if (d < 0) d = -d
               if (d > tol) exit 1
           }
           exit 0 }'; then ok 0 "$@"
    else ok 1 "$@"; echo "#   got:  '$got'"; echo "#   want: '$want' (numbers within $tol)"; fi
}

ge() {                      # ge GOT MIN NAME (numbers)
    local got=$1 min=$2; shift 2
    if awk -v g="$got" -v m="$min" 'BEGIN { exit !(g + 0 >= m + 0 && g != "") }'; then ok 0 "$@ ($got >= $min)"
    else ok 1 "$@"; echo "#   got: '$got', want >= $min"; fi
}

skip() {                    # skip NAME: a test that cannot run here, TAP "ok N # skip" (not a pass)
    _tap_n=$((_tap_n + 1))
    echo "ok $_tap_n # skip $*"
}

# has_bf16: true when this CPU has the AVX512_BF16 instructions (matmul_precision 'bf16').
has_bf16() { grep -qw avx512_bf16 /proc/cpuinfo; }

diag() { echo "# $*"; }

done_testing() {
    echo "1..$_tap_n"
    [ "$_tap_failed" = 0 ]
    exit $?
}

# q SQL: one value (or rows) from the test database, errors to stdout prefixed "ERROR:".
q() {
    psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$TESTDB" -c "$1" 2>&1
}

# q_as ROLE SQL
q_as() {
    psql -X -A -t -q -v ON_ERROR_STOP=1 -U "$1" -d "$TESTDB" -c "$2" 2>&1
}

new_db() {                  # new_db NAME: fresh database with mlpscale, sets TESTDB
    TESTDB=$1
    psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $TESTDB WITH (FORCE)" >/dev/null
    psql -X -q -d postgres -c "CREATE DATABASE $TESTDB" >/dev/null
    psql -X -q -d "$TESTDB" -c "CREATE EXTENSION mlpscale" >/dev/null
    export TESTDB
}

server_restart() {          # restart the cluster (fast shutdown)
    mlp_pgctl -m fast -w -t 120 restart >/dev/null
}

# The Fashion-MNIST IDX files of Debian's dataset-fashion-mnist.
FASHION_MNIST_DIR=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
