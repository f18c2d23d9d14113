# Helpers of the training integration scripts (3*.sh); source after lib.sh.

# wait_until SQL SECONDS: polls until SQL returns 't'; returns 1 on timeout.
wait_until() {
    local sql=$1 limit=$2 start=$SECONDS
    while [ $((SECONDS - start)) -lt "$limit" ]; do
        [ "$(q "$sql" 2>/dev/null)" = t ] && return 0
        sleep 0.2
    done
    return 1
}

# ended RUN EXPR [SECONDS]: waits for the run to end (mlp_wait), then prints EXPR over its
# row, read by a later statement: one that also called mlp_wait would see the row as it was
# when the statement began (queued or running, no error yet).
ended() {
    q "SELECT mlp_wait($1${3:+, $3})" >/dev/null
    q "SELECT $2 FROM mlpscale.runs WHERE id = $1"
}

# wait_log FROM REGEX SECONDS: polls until the server log, from byte FROM on, has a line
# matching REGEX; returns 1 on timeout.
wait_log() {
    local from=$1 re=$2 limit=$3 start=$SECONDS
    while [ $((SECONDS - start)) -lt "$limit" ]; do
        tail -c +"$from" "$MLPSCALE_PGDATA/server.log" | grep -q -- "$re" && return 0
        sleep 0.2
    done
    return 1
}

# make_bands TABLE N SEED: N separable 1x8x8 images in 3 classes (a bright horizontal band in
# the third of the image given by the label, over noise), labels in column label.
make_bands() {
    q "SELECT setseed($3);
       CREATE TABLE $1 AS
       SELECT i AS id, k AS label,
              image_from_bytes((SELECT decode(string_agg(lpad(to_hex(
                  CASE WHEN (p / 8) * 3 / 8 = k THEN 150 ELSE 40 END + (random() * 80)::int), 2, '0'),
                  '' ORDER BY p), 'hex') FROM generate_series(0, 63) p), 1, 8, 8) AS image
       FROM (SELECT i, floor(random() * 3)::int AS k FROM generate_series(1, $2) i) s;" >/dev/null
}

# load_fashion TABLE SPLIT LIMIT: Fashion-MNIST rows (1x28x28) with mlpscale-load.
load_fashion() {
    local loader
    loader=$(command -v mlpscale-load || echo "$MLPSCALE_ROOT/mlpscale-load")
    "$loader" -q -d "$TESTDB" --table "$1" --split "$2" --limit "$3" "$FASHION_MNIST_DIR" >/dev/null
}

# ---- hold points ----------------------------------------------------------------------------
# With mlpscale.test_hold_points on (the test cluster of run_all.sh), a training worker waits
# at hold point (run, e) while another session holds pg_advisory_lock(run, e): e = 0 once it
# has loaded its data, before its first step; e = N right after epoch N is committed.  These
# helpers keep one such session open (a psql coprocess, so only the calling shell, not a
# $(...) subshell, may use hold_train, hold_run, release_run and hold_end):
#   hold_train EXPR E...   queues the run EXPR returns (mlp_train(...), mlp_resume(...)) and
#                          holds its points E... in the same transaction; sets held_run
#   hold_run RUN E...      holds points of an existing run (one it cannot have reached yet)
#   wait_held RUN E [S]    waits (at most S seconds, default 300) until the run's worker
#                          waits at point E; returns 1 on timeout
#   release_run RUN E      lets the worker go on from point E
#   hold_end               closes the session, releasing whatever it still holds (a server
#                          restart closes it too)
held_run=

# hold_sql SQL: runs SQL (a ";" is added) in the hold session (opened on first use) and
# prints its non-empty output lines, which _hold_exec leaves in hold_out; both return 1 when
# the session is gone or does not answer.
hold_out=
_hold_exec() {
    local line marker="@@hold-done-$RANDOM$RANDOM"
    hold_out=
    # bash unsets HOLD when it reaps an ended coprocess, which may be before or after
    # kill -0 stops seeing it (a server restart ends the session): check both
    if [ -z "${HOLD_PID:-}" ] || ! kill -0 "$HOLD_PID" 2>/dev/null || [ -z "${HOLD[1]:-}" ]; then
        [ "$(q "SELECT current_setting('mlpscale.test_hold_points')")" = on ] ||
            { hold_out="hold_sql: mlpscale.test_hold_points is not on in this database"; return 1; }
        coproc HOLD { PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning" \
                      psql -X -A -t -q -d "$TESTDB" 2>&1; }
    fi
    local in=${HOLD[1]:-} out=${HOLD[0]:-}
    [ -n "$in" ] && [ -n "$out" ] || { hold_out="hold_sql: the hold session could not start"; return 1; }
    printf '%s\n;\n\\echo %s\n' "$1" "$marker" >&"$in" || return 1
    while IFS= read -r -t 120 line <&"$out"; do
        [ "$line" = "$marker" ] && return 0
        [ -n "$line" ] && hold_out+="${hold_out:+$'\n'}$line"
    done
    return 1
}

hold_sql() {
    local rc
    _hold_exec "$1"; rc=$?
    [ -n "$hold_out" ] && printf '%s\n' "$hold_out"
    return $rc
}

_hold_points() {            # _hold_points RUN E...: the SELECT that takes the locks
    local run=$1; shift
    echo "SELECT pg_advisory_lock($run, e) FROM unnest(ARRAY[$(IFS=,; echo "$*")]::int[]) e;"
}

hold_train() {
    local expr=$1; shift
    _hold_exec "\\unset hold_id
BEGIN;
SELECT $expr AS hold_id \\gset
$(_hold_points :hold_id "$@")
COMMIT;
\\echo :hold_id"
    held_run=$hold_out
}

hold_run() {
    local run=$1; shift
    hold_sql "$(_hold_points "$run" "$@")"
}

release_run() {
    [ -n "${HOLD_PID:-}" ] && kill -0 "$HOLD_PID" 2>/dev/null || return 0
    _hold_exec "SELECT pg_advisory_unlock($1, $2) \\g /dev/null"
}

wait_held() {
    wait_until "SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN mlpscale.runs r ON r.worker_pid = l.pid
                               WHERE r.id = $1 AND l.locktype = 'advisory' AND NOT l.granted
                                 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                                 AND l.classid = $1 AND l.objid = $2 AND l.objsubid = 2)" "${3:-300}"
}

hold_end() {
    if [ -n "${HOLD_PID:-}" ] && kill -0 "$HOLD_PID" 2>/dev/null; then
        local pid=$HOLD_PID
        [ -n "${HOLD[1]:-}" ] && exec {HOLD[1]}>&-
        wait "$pid" 2>/dev/null
    fi
    return 0
}
