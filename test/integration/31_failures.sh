#!/usr/bin/env bash
# Training failures: every one ends as a run row with a status and a message, never as a
# silent worker death.  Rollback, permission denied, bad sources, the memory limit, kill -9
# of a worker, and a queue limited to one run at a time.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/training_helpers.sh"
new_db it_failures
psql -X -q -d postgres -c "DROP ROLE IF EXISTS it_mallory" >/dev/null
make_bands bands 300 0.5

# train_fail SOURCE [ARGS]: queues a run of SOURCE (B_1-Wi_16 unless ARGS name an arch),
# waits, prints "status|error".
train_fail() {
    local run args="epochs => 1${2:+, $2}"
    [[ "$args" == *arch* ]] || args="arch => 'B_1-Wi_16', $args"
    run=$(q "SELECT mlp_train('bad', \$\$$1\$\$, $args)") || { echo "$run"; return; }
    ended $run "status || '|' || coalesce(error, '')"
}

# ---- rollback -------------------------------------------------------------------------------
# The launcher starts runs in the order they were posted: once a run queued after the
# rolled-back one has trained, anything the rolled-back one could have started has started.
before=$(q "SELECT count(*) FROM mlpscale.runs")
log_from=$(($(stat -c %s "$MLPSCALE_PGDATA/server.log") + 1))
rolled=$(q "BEGIN; SELECT mlp_train('rolled', 'bands', arch => 'B_1-Wi_16', epochs => 1); ROLLBACK;")
is "$(q "SELECT count(*) FROM mlpscale.runs")" "$before" "a rolled-back mlp_train leaves no row"
after=$(q "SELECT mlp_train('after_rollback', 'bands', arch => 'B_1-Wi_16', epochs => 1)")
is "$(q "SELECT mlp_wait($after, 300)")" succeeded "a run queued after it trains"
is "$(tail -c +"$log_from" "$MLPSCALE_PGDATA/server.log" | grep -c "mlpscale: training run $rolled ")" 0 \
   "... and no worker trained the rolled-back run ($rolled)"
is "$(q "SELECT count(*) FROM mlpscale.models WHERE name = 'rolled'")" 0 "... which made no model"

# ---- permission denied ------------------------------------------------------------------------
q "CREATE ROLE it_mallory; CREATE TABLE secret AS SELECT * FROM bands;
   CREATE TABLE mallory_own AS SELECT * FROM bands; ALTER TABLE mallory_own OWNER TO it_mallory;" >/dev/null
before=$(q "SELECT count(*) FROM mlpscale.runs")
like "$(q "SET ROLE it_mallory; SELECT mlp_train('stolen', 'secret', arch => 'B_1-Wi_16', epochs => 1)")" \
   "permission denied to read source relation .*secret" "a role that cannot read the source is refused by mlp_train"
is "$(q "SELECT count(*) FROM mlpscale.runs")" "$before" "... and nothing is queued"
q "GRANT SELECT (image) ON secret TO it_mallory" >/dev/null
like "$(q "SET ROLE it_mallory; SELECT mlp_train('stolen', 'secret', arch => 'B_1-Wi_16', epochs => 1)")" \
   "no SELECT privilege on .*secret column label" "SELECT on the image column alone is not enough: the label column is named"
q "GRANT SELECT (label) ON secret TO it_mallory" >/dev/null
run=$(q "SET ROLE it_mallory; SELECT mlp_train('columns', 'secret', arch => 'B_1-Wi_16', epochs => 1)")
is "$(q "SELECT mlp_wait($run)")" succeeded "SELECT on the two columns is enough: the worker reads only those"
q "REVOKE SELECT (image, label) ON secret FROM it_mallory" >/dev/null
run=$(q "SET ROLE it_mallory; SELECT mlp_train('own', 'mallory_own', arch => 'B_1-Wi_16', epochs => 1)")
is "$(q "SELECT mlp_wait($run)")" succeeded "the same NOLOGIN role trains on its own table"
is "$(q "SELECT owner = 'it_mallory'::regrole FROM mlpscale.models WHERE name = 'own'")" t \
   "... and owns the model"

# ---- a source dropped after the call resolved it -------------------------------------------------
# The worker reads the relation mlp_train resolved (by OID); dropped before the run starts, the
# run fails naming it, and nothing of another relation of the same name is read.
q "CREATE TABLE gone AS SELECT * FROM bands" >/dev/null
run=$(q "BEGIN; SELECT mlp_train('gone', 'gone', arch => 'B_1-Wi_16', epochs => 1);
         DROP TABLE gone; CREATE TABLE gone AS SELECT * FROM bands; COMMIT;")
like "$(ended $run "status || '|' || coalesce(error, '')")" \
   '^failed\|source relation .*gone.* \(OID [0-9]+\) does not exist any more' \
   "a source relation dropped before the worker starts fails the run, naming it (its namesake is not read)"
q "DROP TABLE gone" >/dev/null

# ---- bad sources ---------------------------------------------------------------------------------
q "CREATE TABLE empty_src (image image, label int);
   CREATE TABLE mixed AS SELECT * FROM bands;
   INSERT INTO mixed (image, label) SELECT image_from_bytes(decode(repeat('10', 48), 'hex'), 3, 4, 4), 1;
   CREATE TABLE null_labels AS SELECT * FROM bands; UPDATE null_labels SET label = NULL WHERE id = 7;
   CREATE TABLE no_label AS SELECT id, image FROM bands;" >/dev/null
like "$(train_fail empty_src)" "^failed\|.*no rows" "a source without rows fails the run"
like "$(train_fail mixed)" "^failed\|.*(shape|size|3x4x4|1x8x8)" "images of mixed shapes fail the run"
like "$(train_fail null_labels)" "^failed\|.*(null|NULL)" "a NULL label fails the run"
like "$(train_fail bands "classes => 2")" "^failed\|.*label.*(range|2)" "a label out of range fails the run"
like "$(train_fail "SELECT image, label - 1 AS label FROM bands")" "^failed\|.*label.*-1" \
   "a negative label fails the run"
like "$(train_fail no_label)" "(failed\|)?.*(no column \"label\"|label.*not exist)" "a missing label column is reported"
like "$(train_fail bands "image_column => 'picture'")" "(failed\|)?.*picture" "a missing image column is reported"
like "$(train_fail "SELECT label AS image, label FROM bands")" "(failed\|)?.*image" \
   "an image column of another type is reported"
like "$(train_fail "SELECT image, label FROM bands WHERE 1/0 = 1")" "^failed\|division by zero" \
   "an error of the source query fails the run with its message"
like "$(train_fail bands "validation => 'mixed'")" "^failed\|" "a bad validation source fails the run"
q "CREATE TABLE rgb AS SELECT image_from_bytes(decode(repeat('10', 192), 'hex'), 3, 8, 8) AS image, 1 AS label
   FROM generate_series(1, 5)" >/dev/null
like "$(train_fail bands "validation => 'rgb'")" "^failed\|validation images have 3 channels but the source's have 1" \
   "validation images of other channels fail the run"
q "CREATE TABLE big_val AS SELECT image_from_bytes(decode(repeat('10', 256), 'hex'), 1, 16, 16) AS image, 1 AS label
   FROM generate_series(1, 5)" >/dev/null
like "$(train_fail bands "validation => 'big_val'")" "^succeeded\|" "validation images of another size are resized"
like "$(train_fail bands "resolution => 4")" "^succeeded\|" \
   "a resolution other than the images' trains at that resolution"
is "$(q "SELECT input_shape FROM mlpscale.models WHERE name = 'bad' ORDER BY version DESC LIMIT 1")" "{1,4,4}" \
   "... and the model takes that input"

# ---- memory limit ----------------------------------------------------------------------------------
# A new session sees the reloaded value once the postmaster, which forks the workers too,
# has read it.
q "ALTER SYSTEM SET mlpscale.max_training_memory = '20MB'" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
ok "$(wait_until "SELECT current_setting('mlpscale.max_training_memory') = '20MB'" 60; echo $?)" \
   "mlpscale.max_training_memory reloaded"
like "$(train_fail bands "arch => 'B_4-Wi_1024'")" \
   "^failed\|training would need [0-9]+ MB .*more than mlpscale.max_training_memory \(20 MB\)" \
   "a run over mlpscale.max_training_memory fails with the figures"
q "ALTER SYSTEM RESET mlpscale.max_training_memory" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
ok "$(wait_until "SELECT current_setting('mlpscale.max_training_memory') = '8GB'" 60; echo $?)" \
   "... and reset"

# ---- two runs with a limit of one --------------------------------------------------------------------
# The first is held before its first step (hold_train, training_helpers.sh) while the
# second is queued and checked.
make_bands bands_mid 3000 0.6
hold_train "mlp_train('first', 'bands_mid', arch => 'B_2-Wi_128', epochs => 3, batch_size => 32, seed => 1)" 0
a=$held_run
b=$(q "SELECT mlp_train('second', 'bands_mid', arch => 'B_2-Wi_128', epochs => 3, batch_size => 32, seed => 1)")
ok "$(wait_held "$a" 0; echo $?)" "the first run starts"
is "$(q "SELECT status FROM mlpscale.runs WHERE id = $b")" queued "the second waits while the first runs (limit 1)"
like "$(q "SET ROLE it_mallory; SELECT mlp_cancel($a)")" "permission denied to cancel run $a" \
   "another role's run cannot be canceled"
release_run "$a" 0
is "$(q "SELECT mlp_wait($a) || ' ' || mlp_wait($b)")" "succeeded succeeded" "both end"
like "$(q "SET ROLE it_mallory; SELECT mlp_train('first', 'mallory_own')")" \
   'permission denied to add a version to model "first"' "a new version of another role's model is refused at once (one message with the store's)"
is "$(q "SELECT b.started_at >= a.finished_at FROM mlpscale.runs a, mlpscale.runs b WHERE a.id = $a AND b.id = $b")" t \
   "the second started after the first finished"

# ---- the launcher alone is terminated ------------------------------------------------------------------
# It comes back (exit code 1, restarted after bgw_restart_time), and the worker its
# predecessor started still counts against the limit of one.
# The running one is held before its first step the whole time.
hold_train "mlp_train('long', 'bands_mid', arch => 'B_2-Wi_128', epochs => 1000, batch_size => 32, seed => 1)" 0
long=$held_run
ok "$(wait_held "$long" 0; echo $?)" "a long run starts"
old=$(q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'mlpscale launcher'")
q "SELECT pg_terminate_backend($old)" >/dev/null
ok "$(wait_until "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'mlpscale launcher'
                                 AND pid <> $old)" 300; echo $?)" "a terminated launcher comes back"
next=$(q "SELECT mlp_train('next', 'bands_mid', arch => 'B_2-Wi_128', epochs => 1, batch_size => 32, seed => 1)")
is "$(q "SELECT status FROM mlpscale.runs WHERE id = $next")" queued \
   "the new launcher keeps the limit of one: the next run waits for the running one"
is "$(q "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'mlpscale training'")" 1 \
   "... one training worker"
q "SELECT mlp_cancel($long)" >/dev/null
release_run "$long" 0
is "$(q "SELECT mlp_wait($long) || ' ' || mlp_wait($next)")" "canceled succeeded" \
   "the waiting run starts when the running one ends"
is "$(q "SELECT b.started_at >= a.finished_at FROM mlpscale.runs a, mlpscale.runs b WHERE a.id = $long AND b.id = $next")" t \
   "... and not before"

# ---- pg_terminate_backend of a worker -------------------------------------------------------------------
# While it reads its data, the worker dies at once: the launcher notices and marks the run
# interrupted.  Its source waits for an advisory lock the test holds (key (0, 1): no run
# has id 0), so the worker is certain to be inside the read.
hold_sql "SELECT pg_advisory_lock(0, 1)"
run=$(q "SELECT mlp_train('terminated',
                          'SELECT image, label FROM bands WHERE (SELECT true FROM pg_advisory_xact_lock_shared(0, 1))',
                          arch => 'B_1-Wi_16', epochs => 1)")
ok "$(wait_until "SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN mlpscale.runs r ON r.worker_pid = l.pid
                                 WHERE r.id = $run AND l.locktype = 'advisory' AND NOT l.granted
                                   AND l.classid = 0 AND l.objid = 1)" 300; echo $?)" "the worker reads its data"
is "$(q "SELECT query LIKE '%reading the training data%' FROM pg_stat_activity
         WHERE pid = (SELECT worker_pid FROM mlpscale.runs WHERE id = $run)")" t "... as pg_stat_activity says"
q "SELECT pg_terminate_backend(worker_pid) FROM mlpscale.runs WHERE id = $run" >/dev/null
ok "$(wait_until "SELECT status = 'interrupted' FROM mlpscale.runs WHERE id = $run" 300; echo $?)" \
   "terminated while reading, the run is interrupted"
like "$(q "SELECT error FROM mlpscale.runs WHERE id = $run")" "exited unexpectedly" "... as a worker that exited unexpectedly"
hold_sql "SELECT pg_advisory_unlock(0, 1)" >/dev/null
# While it trains, the worker finishes its mini-batch and records the interruption itself.
# Let go after epoch 1 with the end of epoch 2 held, it is terminated inside epoch 2 (which
# takes a good fraction of a second) or, on a slow enough machine, at its end.
hold_train "mlp_train('terminated2', 'bands_mid', arch => 'B_4-Wi_512', epochs => 50, batch_size => 16)" 1 2
run=$held_run
ok "$(wait_held "$run" 1; echo $?)" "the worker trains"
release_run "$run" 1
q "SELECT pg_terminate_backend(pid) FROM mlpscale.progress WHERE run_id = $run" >/dev/null
is "$(q "SELECT mlp_wait($run, 300)")" interrupted "terminated while training, the run is interrupted"
like "$(q "SELECT epochs_done FROM mlpscale.runs WHERE id = $run")" "^[12]$" "... after epoch 1 or 2"
like "$(q "SELECT error FROM mlpscale.runs WHERE id = $run")" "mlp_resume continues" "... with a hint to resume"
hold_end

# ---- kill -9 of a worker ---------------------------------------------------------------------------------
hold_train "mlp_train('killed', 'bands_mid', arch => 'B_2-Wi_128', epochs => 50, batch_size => 32, seed => 2)" 1
run=$held_run
ok "$(wait_held "$run" 1; echo $?)" "the run has done an epoch"
pid=$(q "SELECT worker_pid FROM mlpscale.runs WHERE id = $run")
kill -9 "$pid"
# The postmaster restarts every process after a crash (the hold session too); the
# launcher's sweep then finds the run.
ok "$(wait_until "SELECT status = 'interrupted' FROM mlpscale.runs WHERE id = $run" 300; echo $?)" \
   "after kill -9 of its worker the run is interrupted"
hold_end
like "$(q "SELECT error FROM mlpscale.runs WHERE id = $run")" "server stopped" "... with a message"
done_before=$(q "SELECT epochs_done FROM mlpscale.runs WHERE id = $run")
is "$done_before" 1 "its completed epoch is kept"
is "$(q "SELECT count(*) = $done_before FROM mlpscale.epochs WHERE run_id = $run")" t "... with their rows"
q "UPDATE mlpscale.runs SET epochs = $done_before + 1 WHERE id = $run" >/dev/null
is "$(q "SELECT mlp_resume($run)")" "$run" "mlp_resume queues it again"
is "$(q "SELECT mlp_wait($run, 300)")" succeeded "the resumed run completes"
is "$(q "SELECT count(*) FROM mlpscale.epochs WHERE run_id = $run")" "$((done_before + 1))" \
   "one row per epoch of the whole run"
like "$(q "SELECT mlp_resume($run)")" "is succeeded" "a succeeded run cannot be resumed"

# ---- more runs at once than the launch queue holds ------------------------------------------------
# 1,030 runs in one transaction: 1,024 fit in the launcher's shared queue, the rest overflow
# and must be found by a sweep of the database once the queue has room again.
last=$(q "SELECT max(id) FROM (SELECT mlp_train('flood', 'bands', arch => 'B_1-Wi_16', epochs => 1) AS id
                              FROM generate_series(1, 1030)) s")
is "$(q "SELECT count(*) FROM mlpscale.runs WHERE model_name = 'flood'")" 1030 \
   "1,030 runs queued at once"
q "SELECT count(mlp_cancel(id)) FROM mlpscale.runs WHERE model_name = 'flood' AND id < $last" >/dev/null
is "$(q "SELECT mlp_wait($last, 300)")" succeeded \
   "the last of them, past the end of the launch queue, still runs (found by the overflow sweep)"

done_testing
