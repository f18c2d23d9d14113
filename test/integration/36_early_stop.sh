#!/usr/bin/env bash
# early_stop end to end, on data made to overfit (a small clean training set, a validation
# set with 40 % of its labels wrong, so the validation loss falls and then rises): the run
# stops before its epochs, best_epoch is the argmin of val_loss, the model has the best
# epoch's weights (mlp_evaluate on the validation set gives that epoch's val_loss, not the
# last one's), and the best weights survive a server restart (resumed, the run ends with the
# weights of an uninterrupted one) and a cancel.  best_epoch is recorded for every run with
# validation.  The call's checks are in sql/30_training.sql.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/training_helpers.sh"
new_db it_early_stop
export PGOPTIONS="-c mlpscale.training_threads=1"
make_bands es_train 60 0.1
make_bands es_val 300 0.2
q "UPDATE es_val SET label = (label + 1 + id % 2) % 3 WHERE id % 5 < 2" >/dev/null
args="arch => 'B_1-Wi_32', batch_size => 20, optimizer => 'adamw', lr => 0.0003,
      augment => false, mixup => 0, label_smoothing => 0, validation => 'es_val', seed => 3"

# val_loss RUN EPOCH
val_loss() { q "SELECT val_loss FROM mlpscale.epochs WHERE run_id = $1 AND epoch = $2"; }
# close A B: |A - B| <= 1e-5 (1 + |B|): the same loss summed in other batches
close() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; m = b < 0 ? -b : b; exit !(a != "" && d <= 1e-5 * (1 + m)) }'; }
eval_loss() { q "SELECT loss FROM mlp_evaluate('$1', 'es_val')"; }

ref=$(q "SELECT mlp_train('es_ref', 'es_train', $args, epochs => 30, early_stop => 3)")
is "$(q "SELECT mlp_wait($ref)")" succeeded "a run with early_stop 3 succeeds"
read -r done best <<<"$(q "SELECT epochs_done || ' ' || best_epoch FROM mlpscale.runs WHERE id = $ref" | tr '|' ' ')"
diag "val_loss by epoch: $(q "SELECT string_agg(epoch || ':' || round(val_loss::numeric, 4), ' ' ORDER BY epoch)
                               FROM mlpscale.epochs WHERE run_id = $ref")"
ok "$([ "$done" -lt 30 ]; echo $?)" "it stopped before its 30 epochs (after $done)"
is "$(q "SELECT count(*) FROM mlpscale.epochs WHERE run_id = $ref")" "$done" "... with one epochs row per epoch done"
is "$best" "$(q "SELECT epoch FROM mlpscale.epochs WHERE run_id = $ref ORDER BY val_loss, epoch LIMIT 1")" \
   "runs.best_epoch ($best) is the argmin of val_loss in mlpscale.epochs"
ok "$([ "$best" -gt 1 ] && [ "$done" = $((best + 3)) ]; echo $?)" \
   "the loss fell for a while, and the run stopped 3 epochs after its best"
like "$(q "SELECT error FROM mlpscale.runs WHERE id = $ref")" \
   "^stopped early after epoch $done of 30: the validation loss had not improved for 3 epochs; the model has the weights of epoch $best, the best$" \
   "the run's row says that it stopped early, and which epoch the model is"
is "$(q "SELECT best_epoch || ' ' || (best_state IS NOT NULL) || ' ' || epochs_done FROM mlpscale.checkpoints WHERE run_id = $ref")" \
   "$best true $done" "the checkpoint keeps the best epoch's state beside the last one"
best_loss=$(val_loss "$ref" "$best")
last_loss=$(val_loss "$ref" "$done")
got=$(eval_loss es_ref)
ok "$(close "$got" "$best_loss"; echo $?)" \
   "mlp_evaluate of the model on the validation set gives the best epoch's val_loss ($got, epoch $best: $best_loss)"
ok "$(! close "$got" "$last_loss"; echo $?)" "... not the last epoch's ($last_loss)"

# Without early_stop the same run trains every epoch, records its best epoch, and its model
# is the last epoch's.
plain=$(q "SELECT mlp_train('es_plain', 'es_train', $args, epochs => $((done + 1)))")
is "$(q "SELECT mlp_wait($plain)")" succeeded "the same run without early_stop"
is "$(q "SELECT epochs_done || ' ' || best_epoch || ' ' || (error IS NULL) FROM mlpscale.runs WHERE id = $plain")" \
   "$((done + 1)) $best true" "... trains every epoch and records the same best_epoch"
is "$(q "SELECT (best_epoch IS NULL) || ' ' || (best_state IS NULL) FROM mlpscale.checkpoints WHERE run_id = $plain")" \
   "true true" "... keeps no best state"
ok "$(close "$(eval_loss es_plain)" "$(val_loss "$plain" $((done + 1)))"; echo $?)" "... and its model is the last epoch's"
nov=$(q "SELECT mlp_train('es_noval', 'es_train', arch => 'B_1-Wi_16', epochs => 1, seed => 1)")
is "$(q "SELECT mlp_wait($nov) || ' ' || coalesce(best_epoch::text, 'null') FROM mlpscale.runs WHERE id = $nov")" \
   "succeeded null" "a run without validation has no best_epoch"

# A server restart after the best epoch and before the stop: the resumed run ends exactly
# as the uninterrupted one, with the best weights read back from the checkpoint.
hold_train "mlp_train('es_restarted', 'es_train', $args, epochs => 30, early_stop => 3)" $((best + 1))
run=$held_run
ok "$(wait_held "$run" $((best + 1)); echo $?)" "a second run is held after epoch $((best + 1))"
server_restart
hold_end
is "$(q "SELECT status || ' ' || epochs_done || ' ' || best_epoch FROM mlpscale.runs WHERE id = $run")" \
   "interrupted $((best + 1)) $best" "the restart interrupts it past its best epoch"
is "$(q "SELECT mlp_resume($run)")" "$run" "it resumes"
is "$(ended $run "status || ' ' || epochs_done || ' ' || best_epoch")" \
   "succeeded $done $best" "... and stops where the uninterrupted run stopped, with the same best epoch"
is "$(q "SELECT a.weights = b.weights FROM mlpscale.models a, mlpscale.models b
         WHERE a.name = 'es_ref' AND b.name = 'es_restarted'")" t \
   "its model has the uninterrupted run's weights: the best state survived the restart"

# Canceled after its best epoch, a run with early_stop keeps the best weights too.  On the
# way, the checkpoint holds one state while the newest is the best, and moves it aside when
# an epoch is not better.
hold_train "mlp_train('es_canceled', 'es_train', $args, epochs => 30, early_stop => 3)" $best $((best + 1)) $((best + 2))
run=$held_run
ok "$(wait_held "$run" $best; echo $?)" "a third run is held after epoch $best, its best"
is "$(q "SELECT epochs_done || ' ' || best_epoch || ' ' || (best_state IS NULL) FROM mlpscale.checkpoints WHERE run_id = $run")" \
   "$best $best true" "... its checkpoint is the best state, not stored twice"
release_run "$run" $best
ok "$(wait_held "$run" $((best + 1)); echo $?)" "... then after epoch $((best + 1))"
is "$(q "SELECT epochs_done || ' ' || best_epoch || ' ' || (best_state IS NOT NULL) FROM mlpscale.checkpoints WHERE run_id = $run")" \
   "$((best + 1)) $best true" "... the best state is kept aside beside the newest"
is "$(q "SELECT mlp_cancel($run)")" t "it is canceled"
release_run "$run" $((best + 1))
is "$(ended $run "status || ' ' || epochs_done")" "canceled $((best + 1))" "... in its next epoch"
hold_end
is "$(q "SELECT a.weights = b.weights FROM mlpscale.models a, mlpscale.models b
         WHERE a.name = 'es_ref' AND b.name = 'es_canceled'")" t \
   "its model is the best epoch's (the weights of the first run's model)"

# A fine-tune stops early the same way.
ft=$(q "SELECT mlp_finetune('es_ft', 'es_plain', 'es_train', epochs => 30, batch_size => 20,
                            augment => false, mixup => 0, label_smoothing => 0, lr => 0.05,
                            validation => 'es_val', seed => 4, early_stop => 2)")
is "$(q "SELECT mlp_wait($ft)")" succeeded "a fine-tune with early_stop 2"
read -r ft_done ft_best <<<"$(q "SELECT epochs_done || ' ' || best_epoch FROM mlpscale.runs WHERE id = $ft" | tr '|' ' ')"
diag "fine-tune val_loss by epoch: $(q "SELECT string_agg(epoch || ':' || round(val_loss::numeric, 4), ' ' ORDER BY epoch)
                                        FROM mlpscale.epochs WHERE run_id = $ft")"
ok "$([ "$ft_done" -lt 30 ] && [ "$ft_done" = $((ft_best + 2)) ]; echo $?)" \
   "... stops 2 epochs after its best (epoch $ft_best of $ft_done)"
ok "$(close "$(eval_loss es_ft)" "$(val_loss "$ft" "$ft_best")"; echo $?)" "... and its model is the best epoch's"

done_testing
