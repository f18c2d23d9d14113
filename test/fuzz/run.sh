#!/usr/bin/env bash
# Runs every libFuzzer target of test/fuzz for SECONDS each (default 20) and prints TAP: one
# "ok" or "not ok" line per target, then the plan.  Builds them first (make fuzz-build; clang
# with AddressSanitizer and UBSan).  A crash, leak, timeout, out-of-memory or UBSan report is a
# "not ok"; its reproducer is kept and its path printed.  Exit status 0 only when all passed.
#
#   test/fuzz/run.sh [SECONDS]            all targets
#   FUZZ_TARGETS="json arch" test/fuzz/run.sh 60
#
# Seeds come from test/fuzz/corpus/<target> (read only); what a run adds goes to its log
# directory, $MLPSCALE_FUZZ_DIR (default $MLPSCALE_TEST_DIR/fuzz, or /tmp/mlpscale-test/fuzz):
# <target>/fuzz.log, <target>/corpus/ and <target>/artifacts/ (the reproducers).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
SECS=${1:-20}
OUT=${MLPSCALE_FUZZ_DIR:-${MLPSCALE_TEST_DIR:-/tmp/mlpscale-test}/fuzz}
mkdir -p "$OUT"

if ! make -s WERROR=-Werror fuzz-build >"$OUT/build.log" 2>&1; then
    echo "not ok 1 - fuzz-build (log $OUT/build.log)"
    sed 's/^/# /' "$OUT/build.log" | tail -30
    echo "1..1"
    exit 1
fi

targets=${FUZZ_TARGETS:-$(for b in test/fuzz/bin/fuzz_*; do [ -x "$b" ] && echo "${b##*/fuzz_}"; done)}
n=0
failed=0
for t in $targets; do
    n=$((n + 1))
    bin=test/fuzz/bin/fuzz_$t
    dir=$OUT/$t
    rm -rf "$dir"
    mkdir -p "$dir/corpus" "$dir/artifacts"
    args=(-max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len=65536
          -print_final_stats=1 -artifact_prefix="$dir/artifacts/")
    [ -f "test/fuzz/dict/$t.dict" ] && args+=(-dict="test/fuzz/dict/$t.dict")
    seeds=()
    [ -d "test/fuzz/corpus/$t" ] && seeds+=("test/fuzz/corpus/$t")
    # UBSan aborts (built with -fno-sanitize-recover), so libFuzzer keeps the input
    ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        timeout $((SECS + 120)) "$bin" "${args[@]}" "$dir/corpus" "${seeds[@]}" >"$dir/fuzz.log" 2>&1
    rc=$?
    repro=$(find "$dir/artifacts" -type f | head -1)
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/fuzz.log" | tail -1)
    if [ "$rc" = 0 ] && [ -z "$repro" ] && ! grep -q "runtime error:" "$dir/fuzz.log"; then
        echo "ok $n - $t (${runs:-?} inputs in ${SECS}s)"
    else
        failed=$((failed + 1))
        echo "not ok $n - $t (exit $rc)"
        grep -m1 -E "^SUMMARY|runtime error:|invariant failed|ERROR: libFuzzer" "$dir/fuzz.log" | sed 's/^/# /'
        [ -n "$repro" ] && echo "# reproducer: $repro  (replay: $bin $repro)"
        echo "# log: $dir/fuzz.log"
    fi
done
echo "1..$n"
[ "$failed" = 0 ]
