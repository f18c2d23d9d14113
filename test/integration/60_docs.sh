#!/usr/bin/env bash
# Runs every ```sql block of docs/user-guide.md, in order, in one psql session against a fresh
# database that holds 2,000 training and 500 test images of Fashion-MNIST (the guide's table
# "fashion"), so every SQL example of the guide is tested.  One test per block: a block
# passes when psql gets through it without an error.
. "$(dirname "$0")/lib.sh"

GUIDE=$MLPSCALE_ROOT/docs/user-guide.md
LOADER=${MLPSCALE_LOADER:-$MLPSCALE_ROOT/mlpscale-load}
[ -x "$LOADER" ] || LOADER=$(command -v mlpscale-load)
WORK=$(mktemp -d /tmp/mlpscale-docs-test.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

new_db docs_test
"$LOADER" -q -d "$TESTDB" --table fashion --split train --limit 2000 "$FASHION_MNIST_DIR" >/dev/null
ok $? "2,000 Fashion-MNIST training images loaded"
"$LOADER" -q -d "$TESTDB" --table fashion --split test --limit 500 --append "$FASHION_MNIST_DIR" >/dev/null
ok $? "500 Fashion-MNIST test images loaded"

# One script: a marker line before each block, then the block as written.
awk -v script="$WORK/guide.sql" -v lines="$WORK/lines" '
    /^```sql[[:space:]]*$/ { inside = 1; n++; printf "\\echo @@block %d\n", n > script;
                             print NR + 1 > lines; next }
    /^```/ && inside       { inside = 0; next }
    inside                 { print > script }
    END                    { printf "\\echo @@block end\n" > script }
' "$GUIDE"
blocks=$(wc -l <"$WORK/lines")
ge "$blocks" 20 "the guide has sql examples"

start=$(date +%s)
psql -X -v ON_ERROR_STOP=1 -d "$TESTDB" -f "$WORK/guide.sql" >"$WORK/out" 2>&1
rc=$?
diag "the guide's $blocks sql blocks ran in $(( $(date +%s) - start )) s (psql exit $rc)"

for i in $(seq 1 "$blocks"); do
    line=$(sed -n "${i}p" "$WORK/lines")
    next=$((i + 1)); [ "$i" = "$blocks" ] && next=end
    if grep -q "^@@block $next\$" "$WORK/out"; then
        ok 0 "sql block $i (docs/user-guide.md line $line)"
    else
        ok 1 "sql block $i (docs/user-guide.md line $line)"
        if grep -q "^@@block $i\$" "$WORK/out"; then
            sed -n "/^@@block $i\$/,\$p" "$WORK/out" | head -40 | sed 's/^/#   /'
        fi
    fi
done
is "$rc" 0 "psql ran the whole guide without an error"

# How long the examples take is reported, not tested (a test never bets on the machine's
# speed); the guide keeps them small.
diag "the examples took $(( $(date +%s) - start )) s"

done_testing
