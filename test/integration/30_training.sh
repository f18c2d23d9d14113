#!/usr/bin/env bash
# Training end to end: a separable synthetic problem learns (validation accuracy), the
# experiment tables are filled, progress is live, cancel stops a run, a short Fashion-MNIST
# run reaches a useful test accuracy, and a seeded one-thread run is reproducible bit for bit.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/training_helpers.sh"
new_db it_training

# ---- a separable problem -----------------------------------------------------------------
make_bands bands_train 600 0.1
make_bands bands_val 300 0.2
run=$(q "SELECT mlp_train('bands', 'bands_train', arch => 'B_2-Wi_64', epochs => 5, batch_size => 64,
                          optimizer => 'adamw', lr => 0.001, validation => 'bands_val', seed => 3)")
like "$run" '^[0-9]+$' "mlp_train returns a run id at once"
is "$(q "SELECT mlp_wait($run)")" succeeded "the run succeeds"
is "$(q "SELECT count(*) FROM mlpscale.epochs WHERE run_id = $run")" 5 "one epochs row per epoch"
val=$(q "SELECT round(val_accuracy::numeric, 4) FROM mlpscale.epochs WHERE run_id = $run AND epoch = 5")
ge "$val" 0.95 "validation accuracy of the separable problem"
diag "synthetic bands: validation accuracy $val after 5 epochs"
is "$(q "SELECT bool_and(val_loss IS NOT NULL AND val_top5 IS NOT NULL AND train_loss > 0
                        AND train_accuracy BETWEEN 0 AND 1 AND images_per_second > 0
                        AND seconds > 0 AND lr > 0)
         FROM mlpscale.epochs WHERE run_id = $run")" t "epoch rows carry losses, accuracies, speed, lr"
is "$(q "SELECT string_agg(examples_seen::text, ',' ORDER BY epoch) FROM mlpscale.epochs WHERE run_id = $run")" \
   "600,1200,1800,2400,3000" "examples_seen is cumulative"
is "$(q "SELECT bool_and(abs(e.cumulative_flops - r.flops_per_image * 3 * e.examples_seen) < 1)
         FROM mlpscale.epochs e JOIN mlpscale.runs r ON r.id = e.run_id WHERE r.id = $run")" t \
   "cumulative_flops = flops_per_image x 3 x examples_seen"
is "$(q "SELECT r.params = m.params AND r.params = 8*64*64*2 + 7*64*2 + 64*64 + 64 + 3*64 + 3
                AND r.flops_per_image > 2 * r.params * 0.9 AND r.train_rows = 600
                AND r.validation_rows = 300 AND r.epochs_done = 5 AND r.error IS NULL
                AND r.started_at <= r.finished_at AND r.worker_pid IS NULL
         FROM mlpscale.runs r JOIN mlpscale.models m ON m.id = r.model_id WHERE r.id = $run")" t \
   "the run records params, FLOPs, rows and its model"
is "$(q "SELECT name || ' ' || version || ' ' || arch || ' ' || array_to_string(input_shape, 'x') || ' ' || classes
         FROM mlpscale.models WHERE run_id = $run")" "bands 1 B_2-Wi_64 1x8x8 3" "the model version"
is "$(q "SELECT epochs_done FROM mlpscale.checkpoints WHERE run_id = $run")" 5 "the last checkpoint is kept"
ok "$(wait_until "SELECT NOT EXISTS (SELECT 1 FROM mlpscale.progress)" 300; echo $?)" \
   "no progress row once the run has ended (its worker has exited)"

# ---- progress and cancel -----------------------------------------------------------------
# The run is held after its first epoch (hold_train, training_helpers.sh) while its
# progress is read, and canceled there with the end of its second epoch held: it can only
# end by stopping inside epoch 2, at the first mini-batch after the cancel.
make_bands bands_big 4000 0.3
hold_train "mlp_train('bands_long', 'bands_big', arch => 'B_4-Wi_256', epochs => 200,
                      batch_size => 32, seed => 4)" 1 2
run=$held_run
ok "$(wait_held "$run" 1; echo $?)" "the run has trained its first epoch"
row=$(q "SELECT model_name, epoch, epochs, step, steps, loss > 0, images_per_second > 0,
                time_left > interval '0', pid > 0
         FROM mlpscale.progress WHERE run_id = $run")
is "$row" "bands_long|1|200|125|125|t|t|t|t" \
   "mlpscale.progress: epoch of epochs, step of steps, loss, speed, time left"
is "$(q "SELECT status FROM mlpscale.runs WHERE id = $run")" running "the run is running"
like "$(q "SELECT query FROM pg_stat_activity WHERE backend_type = 'mlpscale training'")" \
   "mlpscale: run $run training epoch 1 of 200" \
   "the worker reports its activity in pg_stat_activity"
is "$(q "SELECT mlp_cancel($run)")" t "mlp_cancel of a running run"
release_run "$run" 1
is "$(ended $run "status || ' ' || epochs_done" 300)" "canceled 1" \
   "the run is canceled at its next mini-batch, not at the end of the epoch"
is "$(q "SELECT count(*) FROM mlpscale.epochs WHERE run_id = $run")" 1 "... which has no epochs row"
hold_end
is "$(q "SELECT m.version || ' ' || (r.epochs_done > 0) || ' ' || (r.model_id = m.id)
         FROM mlpscale.runs r JOIN mlpscale.models m ON m.run_id = r.id WHERE r.id = $run")" "1 true true" \
   "the last checkpoint of the canceled run is kept as a model version"
is "$(q "SELECT mlp_cancel($run)")" f "canceling an ended run returns false"

# ---- Fashion-MNIST ------------------------------------------------------------------------
load_fashion fashion_train train 10000
load_fashion fashion_test test 10000
run=$(q "SELECT mlp_train('fashion', 'fashion_train', arch => 'B_2-Wi_128', epochs => 1,
                          batch_size => 128, optimizer => 'adamw', lr => 0.001, augment => false,
                          mixup => 0, label_smoothing => 0, seed => 1)")
is "$(q "SELECT mlp_wait($run)")" succeeded "Fashion-MNIST run (B_2-Wi_128, 1 epoch, 10,000 images)"
acc=$(q "SELECT round(accuracy::numeric, 4) FROM mlp_evaluate('fashion', 'fashion_test')")
ge "$acc" 0.75 "Fashion-MNIST test accuracy through mlp_evaluate"
diag "Fashion-MNIST B_2-Wi_128, 1 epoch on 10,000 images: test accuracy $acc"
is "$(q "SELECT m.mean[1] BETWEEN 0.2 AND 0.4 AND m.std[1] BETWEEN 0.25 AND 0.45
         FROM mlpscale.models m WHERE name = 'fashion'")" t \
   "normalisation computed from the training images"

# ---- reproducibility: seed and one thread ---------------------------------------------------
r1=$(PGOPTIONS="-c mlpscale.training_threads=1" q "SELECT mlp_train('rep_a', 'bands_train', arch => 'B_2-Wi_64',
            epochs => 3, batch_size => 50, seed => 11, validation => 'bands_val')")
r2=$(PGOPTIONS="-c mlpscale.training_threads=1" q "SELECT mlp_train('rep_b', 'bands_train', arch => 'B_2-Wi_64',
            epochs => 3, batch_size => 50, seed => 11, validation => 'bands_val')")
is "$(q "SELECT mlp_wait($r1) || ' ' || mlp_wait($r2)")" "succeeded succeeded" "two seeded runs"
is "$(q "SELECT config->>'threads' FROM mlpscale.runs WHERE id = $r1")" 1 "the thread count is recorded"
is "$(q "SELECT a.weights = b.weights FROM mlpscale.models a, mlpscale.models b
         WHERE a.name = 'rep_a' AND b.name = 'rep_b'")" t "same seed, one thread: byte-identical weights"
is "$(q "SELECT count(*) FROM mlpscale.epochs a JOIN mlpscale.epochs b USING (epoch)
         WHERE a.run_id = $r1 AND b.run_id = $r2 AND a.train_loss = b.train_loss
           AND a.val_accuracy = b.val_accuracy")" 3 "... and identical epoch metrics"
r3=$(PGOPTIONS="-c mlpscale.training_threads=1" q "SELECT mlp_train('rep_c', 'bands_train', arch => 'B_2-Wi_64',
            epochs => 3, batch_size => 50, seed => 12)")
q "SELECT mlp_wait($r3)" >/dev/null
is "$(q "SELECT a.weights = c.weights FROM mlpscale.models a, mlpscale.models c
         WHERE a.name = 'rep_a' AND c.name = 'rep_c'")" f "another seed gives other weights"

# ---- matmul_precision ----------------------------------------------------------------------
is "$(q "SELECT string_agg(DISTINCT config->>'matmul_precision', ',') FROM mlpscale.runs
         WHERE model_name IN ('bands', 'rep_a', 'rep_b', 'rep_c', 'fashion')")" fp32 \
   "runs record matmul_precision fp32 by default"
if has_bf16; then
    # The separable problem again, with one thread so that the fp32 run it is compared with
    # repeats bit for bit: only the precision differs.
    bands_args="'bands_train', arch => 'B_2-Wi_64', epochs => 5, batch_size => 64,
                optimizer => 'adamw', lr => 0.001, validation => 'bands_val', seed => 3"
    r32=$(PGOPTIONS="-c mlpscale.training_threads=1" q "SELECT mlp_train('bands_fp32', $bands_args,
                                                                         matmul_precision => 'fp32')")
    r16=$(PGOPTIONS="-c mlpscale.training_threads=1" q "SELECT mlp_train('bands_bf16', $bands_args,
                                                                         matmul_precision => 'bf16')")
    is "$(q "SELECT mlp_wait($r32) || ' ' || mlp_wait($r16)")" "succeeded succeeded" \
       "a bf16 run of the separable problem succeeds (and its fp32 twin)"
    is "$(q "SELECT (a.config->>'matmul_precision') || ' ' || (b.config->>'matmul_precision') || ' ' ||
                    (a.config - ARRAY['matmul_precision', 'peak_memory_bytes', 'base_memory_bytes'] =
                     b.config - ARRAY['matmul_precision', 'peak_memory_bytes', 'base_memory_bytes'])
             FROM mlpscale.runs a, mlpscale.runs b WHERE a.id = $r16 AND b.id = $r32")" \
       "bf16 fp32 true" \
       "the bf16 run records matmul_precision 'bf16', its other options as given"
    val=$(q "SELECT round(val_accuracy::numeric, 4) FROM mlpscale.epochs WHERE run_id = $r16 AND epoch = 5")
    ge "$val" 0.95 "validation accuracy of the separable problem with bf16 products"
    diag "synthetic bands, bf16 products: validation accuracy $val after 5 epochs (fp32: $(q "SELECT round(val_accuracy::numeric, 4) FROM mlpscale.epochs WHERE run_id = $r32 AND epoch = 5"))"
    is "$(q "SELECT a.weights <> b.weights FROM mlpscale.models a, mlpscale.models b
             WHERE a.name = 'bands_fp32' AND b.name = 'bands_bf16'")" t \
       "the worker trained with bf16 products: weights differ from the fp32 run's"
    ft=$(q "SELECT mlp_finetune('bands_ft_bf16', 'bands_bf16', 'bands_train', epochs => 1,
                                batch_size => 64, matmul_precision => 'bf16')")
    is "$(q "SELECT mlp_wait($ft) || ' ' || (config->>'matmul_precision') FROM mlpscale.runs WHERE id = $ft")" \
       "succeeded bf16" "mlp_finetune with matmul_precision 'bf16'"
else
    skip "matmul_precision 'bf16' runs: this CPU has no avx512_bf16 in /proc/cpuinfo"
    like "$(q "SELECT mlp_train('bands_bf16', 'bands_train', matmul_precision => 'bf16')")" \
         "matmul_precision 'bf16' needs a CPU with AVX512_BF16" "mlp_train refuses bf16 on this CPU"
fi

# The worker checks the stored value again (a run may be resumed on another machine): a bad
# one fails the run with the message in runs.error.
bad=$(if has_bf16; then echo fp16; else echo bf16; fi)
q "DO \$\$
   DECLARE
       run bigint := mlp_train('bands_bad', 'bands_train', arch => 'B_1-Wi_8', epochs => 1);
   BEGIN
       UPDATE mlpscale.runs SET config = config || '{\"matmul_precision\": \"$bad\"}'
        WHERE id = run;
   END \$\$" >/dev/null
run=$(q "SELECT id FROM mlpscale.runs WHERE model_name = 'bands_bad'")
is "$(ended $run "status || ': ' || error")" \
   "$(if has_bf16; then echo "failed: invalid matmul_precision \"fp16\" (Use 'fp32' or 'bf16'.)"
      else echo "failed: matmul_precision 'bf16' needs a CPU with AVX512_BF16 (Use matmul_precision => 'fp32', the default.)"; fi)" \
   "the worker fails a run whose stored matmul_precision it cannot use ($bad), with the reason and its hint"

done_testing
