#!/usr/bin/env bash
# Runs every test suite of mlpscale and ends with the line "N passed, N failed".
#
#   1. installs the Debian packages it needs (as root; MLPSCALE_SKIP_APT=1 skips)
#   2. builds with warnings as errors and installs the extension
#   3. C unit tests of the numeric core, plain and under AddressSanitizer + UBSan, then the
#      libFuzzer targets of its parsers, 16 s each (test/fuzz/run.sh; MLPSCALE_FUZZ_SECONDS)
#   4. starts a throwaway cluster with mlpscale in shared_preload_libraries (and the testing
#      aid mlpscale.test_hold_points on)
#   5. pg_regress (sql/ + expected/), pgTAP (test/pgtap, with pg_prove), integration
#      scripts (test/integration/*.sh)
#   6. the upgrade test (test/upgrade: a 0.1.0 database updated to the development version)
# Logs go to $MLPSCALE_TEST_DIR (default /tmp/mlpscale-test).  Exit status 0 only when
# nothing failed.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export MLPSCALE_ROOT=$ROOT
OUT=${MLPSCALE_TEST_DIR:-/tmp/mlpscale-test}

passed=0
failed=0
skipped=0
declare -a failures=()

# count_tap SUITE NAME LOGFILE EXITCODE: adds the ok / not ok lines of a TAP log; an
# "ok N # skip" line (a test this machine cannot run) is a skip, not a pass.
count_tap() {
    local suite=$1 name=$2 log=$3 rc=$4 p f s
    s=$(grep -ciE '^[[:space:]]*ok [0-9]+[^#]*# skip' "$log")
    p=$(( $(grep -cE '^[[:space:]]*ok [0-9]+' "$log") - s ))
    f=$(grep -cE '^[[:space:]]*not ok [0-9]+' "$log")
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi   # crashed or bad plan
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    [ "$f" != 0 ] && failures+=("$suite $name ($f failed, log $log)")
    printf '%-12s %-32s %4d passed %4d failed' "$suite" "$name" "$p" "$f"
    [ "$s" != 0 ] && printf ' %4d skipped' "$s"
    printf '\n'
}

echo "== dependencies"
scripts/install-deps.sh || { echo "0 passed, 1 failed"; exit 1; }

rm -rf "$OUT"; mkdir -p "$OUT"
[ "$(id -u)" = 0 ] && chown postgres: "$OUT"

echo "== build (warnings are errors)"
if ! { make -s WERROR=-Werror all && make -s install && make -s WERROR=-Werror unit unit-asan; } >"$OUT/build.log" 2>&1; then
    tail -50 "$OUT/build.log"
    echo "build failed; log in $OUT/build.log"
    echo "0 passed, 1 failed"
    exit 1
fi

echo "== C unit tests"
for t in test/unit/bin/test_* test/unit/bin-asan/test_*; do
    [ -x "$t" ] || continue
    suite=unit; case $t in *bin-asan*) suite=unit-asan ;; esac
    log="$OUT/$suite-$(basename "$t").log"
    ASAN_OPTIONS=detect_leaks=1 MLPSCALE_FIXTURES="$ROOT/test/fixtures" timeout 600 "$t" >"$log" 2>&1
    count_tap "$suite" "$(basename "$t")" "$log" $?
done

echo "== fuzz"
log="$OUT/fuzz.log"
MLPSCALE_FUZZ_DIR="$OUT/fuzz" timeout 900 test/fuzz/run.sh "${MLPSCALE_FUZZ_SECONDS:-16}" >"$log" 2>&1
count_tap fuzz "test/fuzz/run.sh" "$log" $?

echo "== throwaway cluster"
. scripts/pg-cluster.sh
if ! mlp_test_cluster_start "$OUT/cluster"; then
    echo "could not start the test cluster"; echo "$passed passed, $((failed + 1)) failed"; exit 1
fi
trap mlp_cluster_stop EXIT
echo "port $PGPORT, socket $PGHOST, data $MLPSCALE_PGDATA"

echo "== pg_regress"
if [ -n "$(make -s print-regress 2>/dev/null)" ]; then
    make -s installcheck >"$OUT/pg_regress.log" 2>&1
    rc=$?
    p=$(grep -cE '\.\.\. ok' "$OUT/pg_regress.log")
    f=$(grep -cE '\.\.\. FAILED|\.\.\. failed' "$OUT/pg_regress.log")
    [ "$rc" != 0 ] && [ "$f" = 0 ] && f=1
    passed=$((passed + p)); failed=$((failed + f))
    [ "$f" != 0 ] && { failures+=("pg_regress ($f failed, diffs in $ROOT/regression.diffs)"); cat "$OUT/pg_regress.log"; }
    printf '%-12s %-32s %4d passed %4d failed\n' pg_regress "sql/*.sql" "$p" "$f"
fi

echo "== pgTAP"
for t in test/pgtap/*.sql; do
    [ -f "$t" ] || continue
    db="tap_$(basename "$t" .sql)"
    psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
    psql -X -q -d "$db" -c "CREATE EXTENSION pgtap" -c "CREATE EXTENSION mlpscale" >/dev/null
    log="$OUT/pgtap-$(basename "$t" .sql).log"
    MLPSCALE_ROOT=$ROOT timeout 900 pg_prove -v -d "$db" "$t" >"$log" 2>&1
    count_tap pgtap "$(basename "$t")" "$log" $?
done

echo "== integration"
for t in test/integration/[0-9]*.sh; do
    [ -f "$t" ] || continue
    log="$OUT/integration-$(basename "$t" .sh).log"
    timeout 1200 bash "$t" >"$log" 2>&1
    count_tap integration "$(basename "$t")" "$log" $?
done

# The upgrade suite: its own cluster, and the 0.1.0 library installed for a while (it holds
# /tmp/mlpscale-install.lock, or runs inside a caller's hold of it).
echo "== upgrade"
for t in test/upgrade/*_test.sh; do
    [ -f "$t" ] || continue
    log="$OUT/upgrade-$(basename "$t" .sh).log"
    MLPSCALE_UPGRADE_DIR="$OUT/upgrade-$(basename "$t" .sh)" timeout 1200 bash "$t" >"$log" 2>&1
    count_tap upgrade "$(basename "$t")" "$log" $?
done

# ---- fresh machine: the README's first command in a brand-new Debian 12 chroot --------
# (test/fresh/fresh_machine.sh).  As root under CI=true (.ci/run sets it) or with
# MLPSCALE_FRESH=1; MLPSCALE_FRESH=0 turns it off (the nested run_all.sh of
# MLPSCALE_FRESH_TESTS=1 does, so that it does not start a check of its own).
echo "== fresh machine"
if [ "$(id -u)" = 0 ] && [ "${MLPSCALE_FRESH:-}" != 0 ] &&
   { [ "${MLPSCALE_FRESH:-}" = 1 ] || [ "${CI:-}" = true ]; }; then
    log="$OUT/fresh-machine.log"
    MLPSCALE_FRESH_LOGS="$OUT/fresh" timeout 2700 bash test/fresh/fresh_machine.sh >"$log" 2>&1
    count_tap fresh fresh_machine.sh "$log" $?
else
    if [ "${MLPSCALE_FRESH:-}" = 0 ]; then echo "skipped (MLPSCALE_FRESH=0)"
    else echo "skipped (runs as root with CI=true or MLPSCALE_FRESH=1: test/fresh/fresh_machine.sh)"; fi
fi

if [ ${#failures[@]} -gt 0 ]; then
    echo "== failures"
    for x in "${failures[@]}"; do echo "  $x"; done
    for x in "${failures[@]}"; do
        log=$(sed -n 's/.*log \(.*\))$/\1/p' <<<"$x")
        [ -n "$log" ] && [ -f "$log" ] && { echo "--- $log"; grep -vE '^[[:space:]]*ok ' "$log" | tail -40; }
    done
fi
[ "$skipped" != 0 ] && echo "($skipped skipped: tests this machine cannot run, in the logs as '# skip')"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
