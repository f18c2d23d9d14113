#!/usr/bin/env bash
# The hold points the other training tests use to reach a state of a run without racing the
# clock (mlpscale.test_hold_points): a worker waits at (run, 0) before its first step and at
# (run, N) after epoch N is committed while a session holds the key, goes on when it is
# released, does not wait with the setting off (its default), and a worker terminated while
# it waits records its run as interrupted.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/training_helpers.sh"
new_db it_hold
make_bands bands 600 0.4
args="arch => 'B_1-Wi_16', epochs => 3, batch_size => 64, seed => 1"

is "$(q "SELECT boot_val || ' ' || context FROM pg_settings WHERE name = 'mlpscale.test_hold_points'")" \
   "off superuser" "mlpscale.test_hold_points is off by default and superuser-only"
like "$(q "CREATE ROLE it_hold_user; SET ROLE it_hold_user; SET mlpscale.test_hold_points = off")" \
   "permission denied to set parameter" "... an ordinary role cannot set it"
q "DROP ROLE it_hold_user" >/dev/null
is "$(q "SHOW mlpscale.test_hold_points")" on "the test cluster turns it on"

# ---- (run, 0) and (run, N) ---------------------------------------------------------------
hold_train "mlp_train('held', 'bands', $args)" 0 2
run=$held_run
like "$run" '^[0-9]+$' "mlp_train and the holds of (run, 0) and (run, 2) in one transaction"
ok "$(wait_held "$run" 0; echo $?)" "the worker waits at (run, 0)"
is "$(q "SELECT r.status || ' ' || r.epochs_done || ' ' || (r.train_rows IS NOT NULL) || ' ' || count(e.*)
         FROM mlpscale.runs r LEFT JOIN mlpscale.epochs e ON e.run_id = r.id WHERE r.id = $run
         GROUP BY r.id")" "running 0 true 0" "... running, its data read, no epoch trained"
is "$(q "SELECT wait_event_type || ' ' || wait_event FROM pg_stat_activity
         WHERE pid = (SELECT worker_pid FROM mlpscale.runs WHERE id = $run)")" "Lock advisory" \
   "... in a lock wait"
release_run "$run" 0
ok "$(wait_held "$run" 2; echo $?)" "released, it trains up to (run, 2) and waits there"
is "$(q "SELECT r.status || ' ' || r.epochs_done || ' ' || c.epochs_done || ' ' ||
                (SELECT count(*) FROM mlpscale.epochs e WHERE e.run_id = r.id)
         FROM mlpscale.runs r JOIN mlpscale.checkpoints c ON c.run_id = r.id WHERE r.id = $run")" \
   "running 2 2 2" "... with epoch 2's row and checkpoint committed"
release_run "$run" 2
is "$(q "SELECT mlp_wait($run, 300)")" succeeded "released again, it ends"
like "$(grep "run $run waits at test hold point\|run $run leaves test hold point" "$MLPSCALE_PGDATA/server.log" | tail -1)" \
   "leaves test hold point 2 \(released\)" "the server log names the hold points"

# ---- nobody holding a point, or the setting off ----------------------------------------------
run=$(q "SELECT mlp_train('free', 'bands', $args)")
is "$(q "SELECT mlp_wait($run, 300)")" succeeded "a run whose points nobody holds does not wait"
q "ALTER DATABASE it_hold SET mlpscale.test_hold_points = off" >/dev/null
hold_train "mlp_train('off', 'bands', $args)" 0 1 2 3
run=$held_run
is "$(q "SELECT mlp_wait($run, 300)")" succeeded "with the setting off, held points do not stop the worker"
q "ALTER DATABASE it_hold RESET mlpscale.test_hold_points" >/dev/null
hold_end

# ---- interrupts while held ---------------------------------------------------------------------
hold_train "mlp_train('terminated', 'bands', $args)" 1
run=$held_run
ok "$(wait_held "$run" 1; echo $?)" "a run waits at (run, 1)"
q "SELECT pg_terminate_backend(worker_pid) FROM mlpscale.runs WHERE id = $run" >/dev/null
is "$(ended $run "status || ' ' || epochs_done" 300)" \
   "interrupted 1" "pg_terminate_backend ends the wait: the run is interrupted after epoch 1"
like "$(q "SELECT error FROM mlpscale.runs WHERE id = $run")" "mlp_resume continues" "... with the hint to resume"
is "$(q "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = $run AND NOT granted")" 0 \
   "... and waits no more"
# the point is still held by the test: the resumed run stops before its first step
hold_run "$run" 0
is "$(q "SELECT mlp_resume($run)")" "$run" "resumed"
ok "$(wait_held "$run" 0; echo $?)" "the resumed worker waits at (run, 0)"
is "$(q "SELECT mlp_cancel($run)")" t "mlp_cancel while it waits"
release_run "$run" 0
is "$(ended $run "status || ' ' || epochs_done" 300)" \
   "canceled 1" "released, it stops at its first step: canceled, epoch 1 kept"

hold_train "mlp_train('canceled_query', 'bands', $args)" 0
run=$held_run
ok "$(wait_held "$run" 0; echo $?)" "a run waits at (run, 0)"
q "SELECT pg_cancel_backend(worker_pid) FROM mlpscale.runs WHERE id = $run" >/dev/null
like "$(ended $run "status || '|' || error" 300)" \
   "^failed\|canceling statement" "pg_cancel_backend while it waits fails the run as it would while training"

hold_train "mlp_train('restarted', 'bands', $args)" 0
run=$held_run
ok "$(wait_held "$run" 0; echo $?)" "a run waits at (run, 0)"
server_restart
is "$(q "SELECT status || ' ' || epochs_done FROM mlpscale.runs WHERE id = $run")" "interrupted 0" \
   "a fast shutdown ends the wait: the run is interrupted before any epoch"
release_run "$run" 0
hold_end

done_testing
