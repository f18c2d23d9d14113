#!/usr/bin/env bash
# The upgrade test (TAP): a database made by the 0.1.0 release, with its runs, epochs,
# checkpoints and models, is updated with ALTER EXTENSION mlpscale UPDATE under the current
# build, and then
#   1. its catalog equals that of a fresh install of the development version (catalog.sql:
#      functions, tables, columns, constraints, indexes, policies, views, types, operators,
#      ACLs, config-dump tables; a unified diff when they differ);
#   2. the old models score as before (the same classes, numbers to float rounding), the
#      canceled and the interrupted runs resume and succeed, and every old row is still
#      there, unchanged.
# The 0.1.0 library is built from git (git archive of the release commit, same flags) and
# installed into the system PostgreSQL only while this test holds /tmp/mlpscale-install.lock;
# the current build is installed again at the end, also on failure.  The test runs its own
# throwaway cluster.  Runs are stopped deterministically: a run is held at the commit of its
# second epoch by a row its epoch would conflict with, or in its source by an advisory lock
# this test holds; nothing sleeps to reach a state.
#
#   MLPSCALE_UPGRADE_FROM_COMMIT  release commit to upgrade from (default 990130c, 0.1.0)
#   MLPSCALE_UPGRADE_FROM_VERSION its version (default 0.1.0)
#   MLPSCALE_UPGRADE_DIR          work directory (default a new /tmp/mlpscale-upgrade.XXXXXX,
#                                 removed when everything passed)
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/training_helpers.sh"
ROOT=$MLPSCALE_ROOT
FROM_COMMIT=${MLPSCALE_UPGRADE_FROM_COMMIT:-990130c}
FROM_VERSION=${MLPSCALE_UPGRADE_FROM_VERSION:-0.1.0}
LOCK=/tmp/mlpscale-install.lock
PKGLIBDIR=$(${PG_CONFIG:-pg_config} --pkglibdir)
EXTDIR=$(${PG_CONFIG:-pg_config} --sharedir)/extension
CURRENT_VERSION=$(sed -n "s/^default_version *= *'\(.*\)'.*/\1/p" "$ROOT/mlpscale.control")
WORK=${MLPSCALE_UPGRADE_DIR:-$(mktemp -d /tmp/mlpscale-upgrade.XXXXXX)}
mkdir -p "$WORK"
[ "$(id -u)" = 0 ] && chown postgres: "$WORK"
diag "work directory $WORK, upgrading $FROM_VERSION ($FROM_COMMIT) to $CURRENT_VERSION"

bail() { echo "Bail out! $*"; exit 1; }

# ---- installing builds into the system PostgreSQL ------------------------------------------
# install_file SRC DIR MODE: copy to a temporary name in DIR, then rename over the old file, so
# a process that has the old library mapped keeps its inode and nobody sees half a file.
install_file() {
    local tmp="$2/.$(basename "$1").upgrade-test.$$"
    install -m "$3" "$1" "$tmp" && mv -f "$tmp" "$2/$(basename "$1")"
}

# install_build DIR: the library, control file and scripts of the build in DIR.
install_build() {
    local f
    install_file "$1/mlpscale.so" "$PKGLIBDIR" 755 || return 1
    for f in $(make -s -C "$1" print-data 2>/dev/null || echo mlpscale.control sql/mlpscale--$FROM_VERSION.sql); do
        install_file "$1/$f" "$EXTDIR" 644 || return 1
    done
}

# The lock is held from the installation of the old library until the current build is back
# and the test cluster has stopped.  A caller may already hold it (for example
# flock /tmp/mlpscale-install.lock bash test/run_all.sh): then taking it again would wait for
# ever, so an ancestor process that holds it counts as ours.
lock_held_by_ancestor() {
    local ino pids pid p
    [ -e "$LOCK" ] || return 1
    ino=$(stat -c %i "$LOCK")
    pids=$(awk -v ino="$ino" '$2 == "FLOCK" { n = split($6, f, ":"); if (f[n] == ino) print $5 }' /proc/locks)
    [ -n "$pids" ] || return 1
    p=$$
    while [ -n "$p" ] && [ "$p" -gt 1 ]; do
        for pid in $pids; do [ "$pid" = "$p" ] && return 0; done
        p=$(awk '{ print $4 }' "/proc/$p/stat" 2>/dev/null)
    done
    return 1
}

old_installed=0
cluster_up=0
cleanup() {
    local rc=$?
    [ "$cluster_up" = 1 ] && mlp_cluster_stop
    if [ "$old_installed" = 1 ]; then
        install_build "$ROOT" && old_installed=0
        [ "$old_installed" = 0 ] || echo "# could not put the current build back: run make install" >&2
    fi
    exec 9>&-
    if [ "$rc" = 0 ] && [ -z "${MLPSCALE_UPGRADE_DIR:-}" ]; then rm -rf "$WORK"; else diag "logs in $WORK"; fi
}
trap cleanup EXIT
trap 'exit 143' TERM INT

# Each cluster command runs without the lock's descriptor, so no server keeps the lock.
start_cluster() { mlp_pgctl -w -t 60 start 9>&- >/dev/null && cluster_up=1; }
stop_cluster() { mlp_pgctl -m fast -w -t 120 stop 9>&- >/dev/null && cluster_up=0; }

# ---- the 0.1.0 build ---------------------------------------------------------------------
if ! git -C "$ROOT" cat-file -e "$FROM_COMMIT^{commit}" 2>/dev/null; then
    skip "commit $FROM_COMMIT of release $FROM_VERSION is not in this checkout (no git history): no upgrade test"
    done_testing
fi
make -s -C "$ROOT" all >"$WORK/build-current.log" 2>&1 || bail "the current tree does not build ($WORK/build-current.log)"
mkdir -p "$WORK/old"
git -C "$ROOT" archive "$FROM_COMMIT" | tar -x -C "$WORK/old" || bail "git archive $FROM_COMMIT failed"
# The same flags as the current build: WERROR and OPTFLAGS from the environment, if set.
ok "$(make -s -C "$WORK/old" -j2 all >"$WORK/build-old.log" 2>&1; echo $?)" "the $FROM_VERSION library builds from $FROM_COMMIT"
[ -f "$WORK/old/mlpscale.so" ] || bail "no $FROM_VERSION library ($WORK/build-old.log)"
ok "$(cmp "$WORK/old/sql/mlpscale--$FROM_VERSION.sql" "$ROOT/sql/mlpscale--$FROM_VERSION.sql" >&2; echo $?)" \
   "sql/mlpscale--$FROM_VERSION.sql is the script $FROM_COMMIT built"

exec 9>>"$LOCK"
if lock_held_by_ancestor; then diag "the install lock is held by a caller"
else flock -w 900 9 || bail "waited 15 minutes for $LOCK"; fi

old_installed=1
install_build "$WORK/old" || bail "could not install the $FROM_VERSION build"

# ---- a 0.1.0 database with history ------------------------------------------------------
mlp_cluster_start "$WORK/cluster" 9>&- || bail "could not start the test cluster"
cluster_up=1
LOG=$MLPSCALE_PGDATA/server.log
# No JIT: its inlining would read the bitcode of whichever build is installed.
q_db() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$1" -c "$2" 2>&1; }
q_db postgres "ALTER SYSTEM SET jit = off" >/dev/null
q_db postgres "SELECT pg_reload_conf()" >/dev/null
TESTDB=upgraded
q_db postgres "CREATE DATABASE $TESTDB" >/dev/null
is "$(q "CREATE EXTENSION mlpscale VERSION '$FROM_VERSION'; SELECT extversion FROM pg_extension WHERE extname = 'mlpscale'")" \
   "$FROM_VERSION" "CREATE EXTENSION mlpscale VERSION '$FROM_VERSION' with the $FROM_VERSION library"
make_bands bands 240 0.5
q "CREATE TABLE probe AS SELECT id, image FROM bands WHERE id <= 6" >/dev/null
small="arch => 'B_1-Wi_16', batch_size => 32, optimizer => 'adamw', lr => 0.01"

finished=$(q "SELECT mlp_train('finished', 'bands', $small, epochs => 2, seed => 1)")
is "$(q "SELECT mlp_wait($finished, 120)")" succeeded "a finished run"
tuned=$(q "SELECT mlp_finetune('tuned', 'finished', 'bands', epochs => 1, batch_size => 32, seed => 2)")
is "$(q "SELECT mlp_wait($tuned, 120)")" succeeded "a fine-tuning run (a model with a parent)"

# A second session holds the runs: an advisory lock that a run's source waits for, and an
# uncommitted epochs row that the run's second epoch conflicts with.
coproc HOLDER { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$TESTDB" 2>&1 9>&-; }
holder() {                  # holder SQL: runs SQL in the holding session, waits for it
    local line
    printf '%s;\n\\echo __done__\n' "$1" >&"${HOLDER[1]}"
    while IFS= read -r -t 60 line <&"${HOLDER[0]}"; do
        [ "$line" = __done__ ] && return 0
        [ -n "$line" ] && echo "# holder: $line"
    done
    return 1
}
blocking_source="SELECT b.image, b.label FROM bands b, (SELECT pg_advisory_xact_lock_shared(4242)) l"
holder "SELECT pg_advisory_lock(4242)"
held=$(q "SELECT mlp_train('held', '$blocking_source', $small, epochs => 3, seed => 3)")
holder "BEGIN; INSERT INTO mlpscale.epochs (run_id, epoch) VALUES ($held, 2); SELECT pg_advisory_unlock(4242)"
ok "$(wait_until "SELECT EXISTS (SELECT 1 FROM mlpscale.checkpoints WHERE run_id = $held AND epochs_done = 1)
                  AND EXISTS (SELECT 1 FROM pg_stat_activity a JOIN mlpscale.runs r ON r.worker_pid = a.pid
                               WHERE r.id = $held AND a.wait_event_type = 'Lock')" 120; echo $?)" \
   "a run has committed its first epoch and waits at the commit of its second"
is "$(q "SELECT mlp_cancel($held)")" t "it is canceled"
holder "ROLLBACK"
is "$(q "SELECT mlp_wait($held, 120)")" canceled "... and ends canceled"
is "$(q "SELECT r.epochs_done || ' ' || c.epochs_done || ' ' || (SELECT count(*) FROM mlpscale.models m WHERE m.run_id = r.id)
         FROM mlpscale.runs r JOIN mlpscale.checkpoints c ON c.run_id = r.id WHERE r.id = $held")" "2 2 1" \
   "... after two epochs, with their checkpoint and a model version from it"
dropped=$(q "WITH r AS (SELECT mlp_train('dropped', 'bands', $small, epochs => 1) AS id) SELECT id FROM r WHERE mlp_cancel(id)")
is "$(q "SELECT status FROM mlpscale.runs WHERE id = ${dropped:-0}")" canceled "a run canceled while still queued"
is "$(q "SELECT mlp_import('copy', mlp_export('finished'), class_names => '{low,middle,high}')")" 1 \
   "mlp_import of an mlp_export"
q "SELECT mlp_deploy('finished')" >/dev/null

# Scores of every model, exactly (real[] prints the shortest text that reads back the same bits).
scores_sql="SELECT string_agg(p.id || ' ' || classify('finished', p.image) || ' ' || classify(p.image) || ' '
                   || predict_proba('finished', p.image)::text || ' ' || predict_proba('held', p.image)::text || ' '
                   || predict_proba('tuned', p.image)::text || ' ' || classify_label('copy', p.image) || ' '
                   || predict_proba('copy', p.image)::text, E'\n' ORDER BY p.id) FROM probe p"
batch_sql="SELECT string_agg(id || ' ' || class || ' ' || confidence, ',' ORDER BY id)
             FROM mlp_classify_batch('held', 'SELECT id, image FROM probe')"
eval_sql="SELECT n || ' ' || accuracy || ' ' || top5 || ' ' || loss FROM mlp_evaluate('finished', 'bands')"
scores_before=$(q "$scores_sql")
batch_before=$(q "$batch_sql")
eval_before=$(q "$eval_sql")
like "$scores_before" "^1 [0-2] [0-2] \{" "the $FROM_VERSION models score"

# A run stopped by the server before it read its data: interrupted, no checkpoint.
holder "SELECT pg_advisory_lock(4242)"
stopped=$(q "SELECT mlp_train('stopped', '$blocking_source', $small, epochs => 2, seed => 4)")
ok "$(wait_until "SELECT EXISTS (SELECT 1 FROM pg_stat_activity a JOIN mlpscale.runs r ON r.worker_pid = a.pid
                                  WHERE r.id = $stopped AND a.wait_event = 'advisory')" 120; echo $?)" \
   "a run waits for its source"
# With the only slot taken by that run, a second one stays queued through the restart.
waiting=$(q "SELECT mlp_train('waiting', 'bands', $small, epochs => 1, seed => 6)")
is "$(q "SELECT status FROM mlpscale.runs WHERE id = $waiting")" queued "a second run waits in the queue"

# The old rows, over the columns they have in 0.1.0.
checksums_sql=$(q "SELECT string_agg(format('SELECT %L || '' '' || count(*) || '' '' || coalesce(md5(string_agg(t::text, ''|'' ORDER BY t::text)), '''')'
                                           ' FROM (SELECT %s FROM %s%s) t', c.relname, cols, c.oid::regclass,
                                           CASE c.relname WHEN 'runs' THEN ' WHERE id NOT IN ($stopped, $waiting)'
                                                           WHEN 'models' THEN ' WHERE run_id IS DISTINCT FROM $waiting'
                                                           WHEN 'epochs' THEN ' WHERE run_id <> $waiting'
                                                           WHEN 'checkpoints' THEN ' WHERE run_id <> $waiting'
                                                           ELSE '' END),
                                    ' UNION ALL ' ORDER BY c.relname)
                     FROM pg_class c,
                          LATERAL (SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) AS cols
                                     FROM pg_attribute WHERE attrelid = c.oid AND attnum > 0 AND NOT attisdropped) a
                    WHERE c.relnamespace = 'mlpscale'::regnamespace AND c.relkind = 'r'")
rows_before=$(q "$checksums_sql")
diag "rows: $(tr '\n' ';' <<<"$rows_before" | sed 's/ [0-9a-f]\{32\}//g')"

stop_cluster || bail "could not stop the test cluster"
holder_pid=$HOLDER_PID
eval "exec ${HOLDER[1]}>&- ${HOLDER[0]}<&-"
wait "$holder_pid" 2>/dev/null

# ---- the current build on the 0.1.0 database ---------------------------------------------
install_build "$ROOT" || bail "could not install the current build"
old_installed=0
log_from=$(stat -c %s "$LOG")
start_cluster || bail "could not start the test cluster with the current build"
is "$(q "SELECT extversion FROM pg_extension WHERE extname = 'mlpscale'")" "$FROM_VERSION" \
   "the current library starts on a database still at $FROM_VERSION"
ok "$(wait_until "SELECT status <> 'running' FROM mlpscale.runs WHERE id = $stopped" 60; echo $?)" \
   "the run stopped by the server is no longer 'running'"
is "$(q "SELECT status FROM mlpscale.runs WHERE id = $waiting")" queued \
   "a queued run waits while the database is at $FROM_VERSION (its worker could not read it)"
# Before the update the library may score the old models, or refuse with a message that says
# to update; anything else is a failure.
early=$(q "$scores_sql")
if [ "$early" = "$scores_before" ]; then
    ok 0 "before the update, the current library scores the old models as before"
elif [[ "$early" =~ ^ERROR:.*ALTER\ EXTENSION ]]; then
    ok 0 "before the update, scoring is refused with a message that says to update"
    diag "$early"
else
    is "$early" "$scores_before" "before the update, the current library scores the old models as before (or says to update)"
fi

is "$(q "ALTER EXTENSION mlpscale UPDATE; SELECT extversion FROM pg_extension WHERE extname = 'mlpscale'")" \
   "$CURRENT_VERSION" "ALTER EXTENSION mlpscale UPDATE goes to $CURRENT_VERSION"
log_updated=$(stat -c %s "$LOG")

# ---- 1. the catalog equals a fresh install's ---------------------------------------------
q_db postgres "CREATE DATABASE fresh" >/dev/null
q_db fresh "CREATE EXTENSION mlpscale" >/dev/null
dump() {                    # dump DB FILE: the sorted catalog of the extension in DB
    psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$1" -f "$(dirname "$0")/catalog.sql" >"$2.raw" 2>&1
    local rc=$?
    LC_ALL=C sort "$2.raw" >"$2"
    return $rc
}
dump upgraded "$WORK/catalog-upgraded.txt"; rc_u=$?
dump fresh "$WORK/catalog-fresh.txt"; rc_f=$?
ok "$([ $rc_u = 0 ] && [ $rc_f = 0 ]; echo $?)" "the catalog dumps of both databases"
[ $rc_u = 0 ] && [ $rc_f = 0 ] || sed 's/^/# /' "$WORK/catalog-upgraded.txt.raw" "$WORK/catalog-fresh.txt.raw" | grep -i error
diag "$(wc -l <"$WORK/catalog-fresh.txt") catalog rows"
if diff -u --label "fresh $CURRENT_VERSION install" --label "updated from $FROM_VERSION" \
        "$WORK/catalog-fresh.txt" "$WORK/catalog-upgraded.txt" >"$WORK/catalog.diff"; then
    ok 0 "the updated database's catalog equals a fresh $CURRENT_VERSION install's"
else
    ok 1 "the updated database's catalog equals a fresh $CURRENT_VERSION install's"
    diag "sql/mlpscale--$FROM_VERSION--$CURRENT_VERSION.sql and sql/ext disagree (- fresh install, + updated):"
    sed 's/^/#   /' "$WORK/catalog.diff"
fi
# Column order is not compared: ALTER TABLE ADD COLUMN appends.  A note when they differ.
order_sql="SELECT string_agg(c.oid::regclass || ': ' || cols, E'\n' ORDER BY c.oid::regclass::text)
             FROM pg_class c, LATERAL (SELECT string_agg(attname, ',' ORDER BY attnum) AS cols FROM pg_attribute
                                       WHERE attrelid = c.oid AND attnum > 0 AND NOT attisdropped) a
            WHERE c.relnamespace = 'mlpscale'::regnamespace AND c.relkind IN ('r', 'v', 'p')"
if [ "$(q_db upgraded "$order_sql")" != "$(q_db fresh "$order_sql")" ]; then
    diag "note: column positions differ (added columns come last in an updated table):"
    diff <(q_db fresh "$order_sql") <(q_db upgraded "$order_sql") | sed 's/^/#   /'
fi

# ---- 2. the old data works ------------------------------------------------------------
is "$(q "$checksums_sql")" "$rows_before" "every old row is there, unchanged (runs, epochs, checkpoints, models, deployment)"
# The same classes and labels; probabilities and loss to float rounding, which a new library
# may change (docs/releasing.md, "What an upgrade keeps").
is_close "$(q "$scores_sql")" "$scores_before" 1e-6 "the old models score as before (classify, predict_proba, classify_label)"
is_close "$(q "$batch_sql")" "$batch_before" 1e-6 "... and in batches (mlp_classify_batch)"
is_close "$(q "$eval_sql")" "$eval_before" 1e-6 "... and mlp_evaluate gives the same figures"

is "$(q "SELECT mlp_resume($held)")" "$held" "the canceled run resumes"
is "$(q "SELECT mlp_wait($held, 120)")" succeeded "... and succeeds"
is "$(q "SELECT r.epochs_done || ' ' || string_agg(e.epoch::text, ',' ORDER BY e.epoch) || ' '
                || (SELECT string_agg(m.version::text, ',' ORDER BY m.version) FROM mlpscale.models m WHERE m.name = 'held')
         FROM mlpscale.runs r JOIN mlpscale.epochs e ON e.run_id = r.id WHERE r.id = $held GROUP BY r.id")" \
   "3 1,2,3 1,2" "... from its checkpoint: epoch 3 added to the old two, a second model version"
like "$(q "SELECT status || ' ' || epochs_done FROM mlpscale.runs WHERE id = $stopped")" "^(interrupted|failed) 0$" \
   "the run the server stopped is resumable"
is "$(q "SELECT mlp_resume($stopped)")" "$stopped" "... it resumes"
is "$(q "SELECT mlp_wait($stopped, 120)")" succeeded "... and succeeds"
is "$(q "SELECT mlp_wait($waiting, 120)")" succeeded "the run queued before the update trains once the update commits"
new=$(q "SELECT mlp_train('new', 'bands', $small, epochs => 1, seed => 5)")
is "$(q "SELECT mlp_wait($new, 120)")" succeeded "a new run trains in the updated database"
is "$(q "SELECT string_agg(name || '@' || version, ',' ORDER BY name, version) FROM mlpscale.models")" \
   "copy@1,finished@1,held@1,held@2,new@1,stopped@1,tuned@1,waiting@1" "every model version is there"

# ---- the launcher on a database still at 0.1.0, and after the update ------------------------
before_update=$(head -c "$log_updated" "$LOG" | tail -c +"$((log_from + 1))")
is "$(grep -c 'mlpscale launcher started' <<<"$before_update")" 1 "the launcher started once on the $FROM_VERSION database"
is "$(grep -E 'ERROR|FATAL|PANIC|exited with exit code|terminated by signal' <<<"$before_update" | head -5)" "" \
   "no errors in the server log before the update"
after_start=$(tail -c +"$((log_from + 1))" "$LOG")
is "$(grep -c 'mlpscale launcher started' <<<"$after_start")" 1 "the launcher never restarted"
is "$(grep -E 'PANIC|terminated by signal|exited with exit code [^0]' <<<"$after_start" | head -5)" "" \
   "no crash in the server log"

stop_cluster
done_testing
