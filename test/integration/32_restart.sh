#!/usr/bin/env bash
# A server restart during a run: the run becomes 'interrupted' with its finished epochs and
# checkpoint kept, a queued run survives the restart, and mlp_resume continues the run to
# the end, with weights byte-identical to a run that was never interrupted.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/training_helpers.sh"
new_db it_restart
load_fashion fashion train 4000
export PGOPTIONS="-c mlpscale.training_threads=1"
args="arch => 'B_2-Wi_128', epochs => 6, batch_size => 64, seed => 5, lr => 0.0001"

ref=$(q "SELECT mlp_train('reference', 'fashion', $args)")
is "$(q "SELECT mlp_wait($ref)")" succeeded "an uninterrupted reference run"

# The run is held after its second epoch (hold_train, training_helpers.sh), so the
# restart finds it there whatever the speed of the machine.
hold_train "mlp_train('restarted', 'fashion', $args)" 2
run=$held_run
queued=$(q "SELECT mlp_train('waiting', 'fashion', arch => 'B_1-Wi_16', epochs => 1)")
ok "$(wait_held "$run" 2; echo $?)" "the run has done two epochs (held after the second)"
is "$(q "SELECT status FROM mlpscale.runs WHERE id = $queued")" queued "a second run waits in the queue"
server_restart
hold_end
is "$(q "SELECT status FROM mlpscale.runs WHERE id = $run")" interrupted "after a restart the run is interrupted"
like "$(q "SELECT error FROM mlpscale.runs WHERE id = $run")" "mlp_resume|server" "... with a message"
is "$(q "SELECT epochs_done FROM mlpscale.runs WHERE id = $run")" 2 "its two finished epochs are kept"
is "$(q "SELECT (SELECT count(*) FROM mlpscale.epochs WHERE run_id = $run) || ' ' ||
                (SELECT epochs_done FROM mlpscale.checkpoints WHERE run_id = $run)")" \
   "2 2" "... with their rows and the checkpoint of the last one"
is "$(q "SELECT count(*) FROM mlpscale.models WHERE run_id = $run")" 0 "an interrupted run makes no model"
is "$(q "SELECT mlp_wait($queued, 600)")" succeeded "the queued run is started after the restart"

is "$(q "SELECT mlp_resume($run)")" "$run" "mlp_resume returns the run id"
like "$(q "SELECT mlp_resume($run)")" "is (queued|running)" "a run cannot be resumed twice"
is "$(q "SELECT mlp_wait($run, 600)")" succeeded "the resumed run completes"
is "$(q "SELECT count(*) || ' ' || max(examples_seen) || ' ' || min(epoch) || ' ' || max(epoch)
         FROM mlpscale.epochs WHERE run_id = $run")" "6 24000 1 6" "epochs 1 to 6, 24,000 examples seen"
is "$(q "SELECT a.weights = b.weights FROM mlpscale.models a, mlpscale.models b
         WHERE a.name = 'reference' AND b.name = 'restarted'")" t \
   "the resumed run's weights are byte-identical to the uninterrupted run's"
is "$(q "SELECT count(*) FROM mlpscale.epochs a JOIN mlpscale.epochs b USING (epoch)
         WHERE a.run_id = $ref AND b.run_id = $run AND a.train_loss = b.train_loss")" 6 \
   "... and so are the losses of every epoch"

# A run interrupted in its first epoch, before any checkpoint, starts again from the
# beginning.  Held before its first step, then let go with its end of epoch 1 held: the
# restart lands inside epoch 1 (its epochs take seconds) or, on a slow enough machine, at
# the end of it, and the run can get no further either way.
load_fashion fashion_10k train 10000
args="arch => 'B_2-Wi_256', epochs => 2, batch_size => 64, seed => 7, lr => 0.0001"
hold_train "mlp_train('early', 'fashion_10k', $args)" 0 1
run=$held_run
ok "$(wait_held "$run" 0; echo $?)" "a new run is about to train its first epoch"
release_run "$run" 0
server_restart
hold_end
like "$(q "SELECT status || ' ' || epochs_done FROM mlpscale.runs WHERE id = $run")" "^interrupted [01]$" \
   "restarted early in the run"
q "SELECT mlp_resume($run)" >/dev/null
is "$(q "SELECT mlp_wait($run, 600)")" succeeded "resumed, it completes"
ref=$(q "SELECT mlp_train('early_reference', 'fashion_10k', $args)")
is "$(q "SELECT mlp_wait($ref, 600)")" succeeded "the same run without a restart"
is "$(q "SELECT a.weights = b.weights FROM mlpscale.models a, mlpscale.models b
         WHERE a.name = 'early_reference' AND b.name = 'early'")" t "... gives the same weights"

# The resumed worker reads matmul_precision from the run's config: a bf16 run restarted the
# same way ends with the weights of an uninterrupted bf16 run.  Held after its first epoch,
# the restart leaves it with one epoch done of four.
if has_bf16; then
    args_bf16="arch => 'B_2-Wi_256', epochs => 4, batch_size => 64, seed => 7, lr => 0.0001,
               matmul_precision => 'bf16'"
    hold_train "mlp_train('early_bf16', 'fashion_10k', $args_bf16)" 1
    run=$held_run
    ok "$(wait_held "$run" 1; echo $?)" "a bf16 run has done its first epoch"
    server_restart
    hold_end
    is "$(q "SELECT status || ' ' || epochs_done FROM mlpscale.runs WHERE id = $run")" "interrupted 1" \
       "the bf16 run is interrupted"
    q "SELECT mlp_resume($run)" >/dev/null
    is "$(q "SELECT mlp_wait($run, 600) || ' ' || (config->>'matmul_precision') FROM mlpscale.runs WHERE id = $run")" \
       "succeeded bf16" "resumed, it completes and is still bf16"
    ref=$(q "SELECT mlp_train('early_bf16_reference', 'fashion_10k', $args_bf16)")
    is "$(q "SELECT mlp_wait($ref, 600)")" succeeded "the same bf16 run without a restart"
    is "$(q "SELECT a.weights = b.weights FROM mlpscale.models a, mlpscale.models b
             WHERE a.name = 'early_bf16_reference' AND b.name = 'early_bf16'")" t \
       "... gives the same weights: the resumed worker trained with bf16 products"
    # the first epoch does not depend on the epoch count: it is the fp32 run's but for bf16
    is "$(q "SELECT a.train_loss <> b.train_loss FROM mlpscale.epochs a, mlpscale.epochs b
             WHERE a.run_id = $ref AND b.run_id = (SELECT id FROM mlpscale.runs WHERE model_name = 'early_reference')
               AND a.epoch = 1 AND b.epoch = 1")" t \
       "... whose first epoch differs from the fp32 run's"
else
    skip "mlp_resume of a bf16 run: this CPU has no avx512_bf16 in /proc/cpuinfo"
fi

# ---- no background worker slot left -------------------------------------------------------------------
# Two slots: the logical replication launcher and ours take them.  Ours warns in the server
# log, retries, and the run waits queued until there are slots again (the warning comes
# after the failed attempt, so the run is still queued when it is seen).
q "ALTER SYSTEM SET max_worker_processes = 2" >/dev/null
server_restart
log_from=$(($(stat -c %s "$MLPSCALE_PGDATA/server.log") + 1))
starved=$(q "SELECT mlp_train('starved', 'fashion', arch => 'B_1-Wi_16', epochs => 1)")
ok "$(wait_log "$log_from" "out of background worker slots for training runs" 300; echo $?)" \
   "without a free worker slot the launcher warns in the server log"
like "$(tail -c +"$log_from" "$MLPSCALE_PGDATA/server.log" | grep -A1 "out of background worker slots" | tail -1)" \
   "Increase max_worker_processes" "... with a hint"
is "$(q "SELECT status FROM mlpscale.runs WHERE id = $starved")" queued "... and the run stays queued"
q "ALTER SYSTEM RESET max_worker_processes" >/dev/null
server_restart
is "$(q "SELECT mlp_wait($starved, 600)")" succeeded "with slots again after a restart, the run trains"

done_testing
