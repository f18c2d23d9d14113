#!/usr/bin/env bash
# Fine-tuning: a model trained on Fashion-MNIST classes 0-4 is fine-tuned onto classes 5-9
# with the paper's recipe (new head, SGD with momentum, head lr 0.01, body lr x 0.1, clip 1).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/training_helpers.sh"
new_db it_finetune
load_fashion fashion_train train 12000
load_fashion fashion_test test 10000
q "CREATE VIEW first_half AS SELECT image, label FROM fashion_train WHERE label < 5;
   CREATE VIEW second_half AS SELECT image, label - 5 AS label FROM fashion_train WHERE label >= 5;
   CREATE VIEW second_half_test AS SELECT image, label - 5 AS label FROM fashion_test WHERE label >= 5;" >/dev/null

base=$(q "SELECT mlp_train('fashion_0_4', 'first_half', arch => 'B_2-Wi_128', epochs => 2,
                           batch_size => 128, optimizer => 'adamw', lr => 0.001, augment => false,
                           mixup => 0, label_smoothing => 0, seed => 1)")
is "$(q "SELECT mlp_wait($base)")" succeeded "the base model trains on classes 0-4"
base_acc=$(q "SELECT round(accuracy::numeric, 4) FROM mlp_evaluate('fashion_0_4',
               'SELECT image, label FROM fashion_test WHERE label < 5')")
diag "base model on test classes 0-4: accuracy $base_acc"

# Errors of the call
like "$(q "SELECT mlp_finetune('ft', 'fashion_0_4@7', 'second_half')")" "has no version 7" \
   "a base version that does not exist is refused"
like "$(q "SELECT mlp_finetune('ft', 'fashion_0_4', 'second_half', mean => ARRAY[0.5]::real[], std => ARRAY[0.5]::real[])")" \
   "base model" "normalisation comes from the base model"

run=$(q "SELECT mlp_finetune('fashion_5_9', 'fashion_0_4', 'second_half', epochs => 2,
                              batch_size => 64, augment => false, mixup => 0, seed => 2,
                              validation => 'second_half_test')")
is "$(q "SELECT mlp_wait($run, 600)")" succeeded "fine-tuning onto classes 5-9 succeeds"
is "$(q "SELECT kind || ' ' || base_model || ' ' || arch || ' ' || (config->>'optimizer') || ' ' ||
                (config->>'lr')::real || ' ' || (config->>'body_lr_mult')::real || ' ' ||
                (config->>'clip_norm')::real FROM mlpscale.runs WHERE id = $run")" \
   "finetune fashion_0_4@1 B_2-Wi_128 sgd 0.01 0.1 1" "the paper's fine-tuning recipe is recorded"
is "$(q "SELECT m.parent_model_id = b.id AND m.classes = 5 AND m.input_shape = b.input_shape
                AND m.mean = b.mean AND m.std = b.std AND m.params = r.params
         FROM mlpscale.models m JOIN mlpscale.runs r ON r.model_id = m.id,
              mlpscale.models b
         WHERE m.name = 'fashion_5_9' AND b.name = 'fashion_0_4'")" t \
   "the new model records its parent, has 5 classes and the base's input and normalisation"
acc=$(q "SELECT round(accuracy::numeric, 4) FROM mlp_evaluate('fashion_5_9', 'second_half_test')")
ge "$acc" 0.8 "fine-tuned model on test classes 5-9"
diag "fine-tuned model (classes 5-9, 2 epochs, 6,000 images): test accuracy $acc"
is "$(q "SELECT round(val_accuracy::numeric, 4) FROM mlpscale.epochs WHERE run_id = $run AND epoch = 2")" "$acc" \
   "the last epoch's validation accuracy equals mlp_evaluate's"

is "$(q "SELECT count(*) FROM mlpscale.epochs WHERE run_id = $run")" 2 "two epoch rows"

# Fine-tuning a model whose input does not match the source
q "CREATE TABLE rgb AS SELECT image_from_bytes(decode(repeat('80', 3 * 28 * 28), 'hex'), 3, 28, 28) AS image, 0 AS label
   FROM generate_series(1, 10)" >/dev/null
run=$(q "SELECT mlp_finetune('bad_ft', 'fashion_0_4', 'rgb', epochs => 1, classes => 2)")
is "$(q "SELECT mlp_wait($run, 600)")" failed "images of other channels than the base's fail the run"
like "$(q "SELECT error FROM mlpscale.runs WHERE id = $run")" "3 channels but the base model takes 1" "... saying so"

done_testing
