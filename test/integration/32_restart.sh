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

run=$(q "SELECT mlp_train('restarted', 'fashion', $args)")
queued=$(q "SELECT mlp_train('waiting', 'fashion', arch => 'B_1-Wi_16', epochs => 1)")
ok "$(wait_until "SELECT epochs_done >= 2 FROM mlpscale.runs WHERE id = $run" 120; echo $?)" \
   "the run has done two epochs"
is "$(q "SELECT status FROM mlpscale.runs WHERE id = $queued")" queued "a second run waits in the queue"
server_restart
is "$(q "SELECT status FROM mlpscale.runs WHERE id = $run")" interrupted "after a restart the run is interrupted"
like "$(q "SELECT error FROM mlpscale.runs WHERE id = $run")" "mlp_resume|server" "... with a message"
done_before=$(q "SELECT epochs_done FROM mlpscale.runs WHERE id = $run")
ge "$done_before" 2 "its finished epochs are kept"
is "$(q "SELECT (SELECT count(*) FROM mlpscale.epochs WHERE run_id = $run) || ' ' ||
                (SELECT epochs_done FROM mlpscale.checkpoints WHERE run_id = $run)")" \
   "$done_before $done_before" "... with their rows and the checkpoint of the last one"
is "$(q "SELECT count(*) FROM mlpscale.models WHERE run_id = $run")" 0 "an interrupted run makes no model"
is "$(q "SELECT mlp_wait($queued, 60)")" succeeded "the queued run is started after the restart"

is "$(q "SELECT mlp_resume($run)")" "$run" "mlp_resume returns the run id"
like "$(q "SELECT mlp_resume($run)")" "is (queued|running)" "a run cannot be resumed twice"
is "$(q "SELECT mlp_wait($run, 120)")" succeeded "the resumed run completes"
is "$(q "SELECT count(*) || ' ' || max(examples_seen) || ' ' || min(epoch) || ' ' || max(epoch)
         FROM mlpscale.epochs WHERE run_id = $run")" "6 24000 1 6" "epochs 1 to 6, 24,000 examples seen"
is "$(q "SELECT a.weights = b.weights FROM mlpscale.models a, mlpscale.models b
         WHERE a.name = 'reference' AND b.name = 'restarted'")" t \
   "the resumed run's weights are byte-identical to the uninterrupted run's"
is "$(q "SELECT count(*) FROM mlpscale.epochs a JOIN mlpscale.epochs b USING (epoch)
         WHERE a.run_id = $ref AND b.run_id = $run AND a.train_loss = b.train_loss")" 6 \
   "... and so are the losses of every epoch"

# A run interrupted in its first epoch (usually before any checkpoint) starts again from the
# beginning, or from its only checkpoint when the epoch ended before the server stopped.  Its
# epochs are long enough (about two seconds) for the restart to land inside the first one.
load_fashion fashion_10k train 10000
args="arch => 'B_2-Wi_256', epochs => 2, batch_size => 64, seed => 7, lr => 0.0001"
run=$(q "SELECT mlp_train('early', 'fashion_10k', $args)")
ok "$(wait_until "SELECT EXISTS (SELECT 1 FROM mlpscale.progress WHERE run_id = $run AND epoch = 1 AND step > 0)" 60; echo $?)" \
   "a new run is in its first epoch"
server_restart
like "$(q "SELECT status || ' ' || epochs_done FROM mlpscale.runs WHERE id = $run")" "^interrupted [01]$" \
   "restarted early in the run"
q "SELECT mlp_resume($run)" >/dev/null
is "$(q "SELECT mlp_wait($run, 120)")" succeeded "resumed, it completes"
ref=$(q "SELECT mlp_train('early_reference', 'fashion_10k', $args)")
is "$(q "SELECT mlp_wait($ref, 120)")" succeeded "the same run without a restart"
is "$(q "SELECT a.weights = b.weights FROM mlpscale.models a, mlpscale.models b
         WHERE a.name = 'early_reference' AND b.name = 'early'")" t "... gives the same weights"

done_testing
