#!/usr/bin/env bash
# Streaming training (docs/design.md, "Streaming training"): with mlpscale.streaming = on,
# or data over mlpscale.max_training_memory, the worker reads the source window by window
# each epoch instead of holding it.  Every row is seen once per epoch, a seed repeats a run
# bit for bit and another seed does not, accuracy is that of the in-memory run, a view and
# a query stream, an epoch sees the table as of its start, resume and cancel work, and a
# run that cannot fit even streaming fails with the sizes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/training_helpers.sh"
new_db it_stream
make_bands bands 600 0.5
make_bands bands_val 150 0.7
export PGOPTIONS="-c mlpscale.training_threads=1"
args="arch => 'B_1-Wi_16', epochs => 3, batch_size => 32, seed => 11, lr => 0.003, validation => 'bands_val'"
# windows of 50 rows: twelve per epoch, batches carried over from one to the next
S="SET mlpscale.streaming = on; SET mlpscale.stream_buffer_rows = 50;"

# per-epoch examples of a run: "600,600,600" when every row is seen once per epoch
per_epoch() {
    q "SELECT string_agg(d::text, ',' ORDER BY epoch) FROM (
         SELECT epoch, examples_seen - coalesce(lag(examples_seen) OVER (ORDER BY epoch), 0) AS d
         FROM mlpscale.epochs WHERE run_id = $1) e"
}

# ---- a table, mlpscale.streaming = on ------------------------------------------------------
run=$(q "$S SELECT mlp_train('st_table', 'bands', $args)")
is "$(ended $run "status || ' ' || coalesce(error, '')")" "succeeded " "a table source streams with mlpscale.streaming = on"
is "$(q "SELECT config->>'streaming' || ' ' || (config->>'streamed') || ' ' || (config->>'stream_window_rows')
         FROM mlpscale.runs WHERE id = $run")" "true true 50" \
   "the run records the setting and that it streamed, with its window of rows"
is "$(per_epoch $run)" "600,600,600" "every row is visited once per epoch (examples_seen)"
is "$(q "SELECT train_rows || ' ' || validation_rows FROM mlpscale.runs WHERE id = $run")" "600 150" \
   "rows of the source and the validation, from the survey"
is "$(q "SELECT count(*) FILTER (WHERE val_loss IS NOT NULL AND val_accuracy IS NOT NULL) FROM mlpscale.epochs WHERE run_id = $run")" 3 \
   "validation streams too: figures for every epoch"

# without the cap, a source that fits is still read in 8 windows, so that reading overlaps
eighth=$(q "SET mlpscale.streaming = on; SELECT mlp_train('st_windows', 'bands', arch => 'B_1-Wi_16', epochs => 1, batch_size => 32)")
is "$(ended $eighth "status || ' ' || (config->>'stream_window_rows')")" "succeeded 75" \
   "a streamed source that would fit in one window is read in windows of an eighth"

# the same seed: the same order, the same weights; another seed: other weights
again=$(q "$S SELECT mlp_train('st_again', 'bands', $args)")
other=$(q "$S SELECT mlp_train('st_other', 'bands', $(echo "$args" | sed 's/seed => 11/seed => 12/'))")
is "$(ended $again status) $(ended $other status)" "succeeded succeeded" "two more streamed runs"
is "$(q "SELECT encode(sha256(mlp_export('st_table')), 'hex') = encode(sha256(mlp_export('st_again')), 'hex')")" t \
   "the same seed gives the same weights (mlp_export)"
is "$(q "SELECT count(*) FROM mlpscale.epochs a JOIN mlpscale.epochs b USING (epoch)
         WHERE a.run_id = $run AND b.run_id = $again AND a.train_loss = b.train_loss AND a.val_loss = b.val_loss")" 3 \
   "... and the same losses in every epoch"
is "$(q "SELECT a.weights = b.weights FROM mlpscale.models a, mlpscale.models b
         WHERE a.name = 'st_table' AND b.name = 'st_other'")" f "another seed gives other weights"

# the in-memory run of the same recipe: the order differs (a window shuffle, not a full
# permutation), so the weights differ; the accuracy is the same within noise
mem=$(q "SELECT mlp_train('in_memory', 'bands', $args)")
is "$(ended $mem "status || ' ' || (config ? 'streamed')")" "succeeded false" "the in-memory run does not stream"
acc=$(q "SELECT round(s.val_accuracy::numeric, 3) || ' ' || round(m.val_accuracy::numeric, 3)
         FROM mlpscale.epochs s, mlpscale.epochs m
         WHERE s.run_id = $run AND m.run_id = $mem AND s.epoch = 3 AND m.epoch = 3")
diag "validation accuracy after 3 epochs: streamed, in memory: $acc"
is "$(q "SELECT s.val_accuracy >= 0.95 AND m.val_accuracy >= 0.95 AND abs(s.val_accuracy - m.val_accuracy) <= 0.05
         FROM mlpscale.epochs s, mlpscale.epochs m
         WHERE s.run_id = $run AND m.run_id = $mem AND s.epoch = 3 AND m.epoch = 3")" t \
   "streamed and in-memory runs reach the same validation accuracy (within 0.05, both >= 0.95)"

# ---- a view and a query ---------------------------------------------------------------------
q "CREATE VIEW bands_view AS SELECT image, label FROM bands WHERE id <= 500" >/dev/null
run=$(q "$S SELECT mlp_train('st_view', 'bands_view', arch => 'B_1-Wi_16', epochs => 2, batch_size => 32, seed => 1)")
is "$(ended $run "status || ' ' || (config->>'streamed')")" "succeeded true" "a view streams (a cursor with a shuffle window)"
is "$(per_epoch $run)" "500,500" "... every row once per epoch"
run=$(q "$S SELECT mlp_train('st_query', 'SELECT image, label FROM bands WHERE id % 2 = 0', arch => 'B_1-Wi_16',
                             epochs => 2, batch_size => 32, seed => 1, validation => 'SELECT image, label FROM bands_val')")
is "$(ended $run "status || ' ' || (config->>'streamed') || ' ' || validation_rows")" "succeeded true 150" "a query streams, its validation too"
is "$(per_epoch $run)" "300,300" "... every row once per epoch"

# ---- a source that changes during the run ------------------------------------------------------
q "CREATE TABLE bands_growing AS SELECT * FROM bands" >/dev/null
# the hold session queues the held runs: the settings are its own
hold_sql "$S" >/dev/null
hold_train "mlp_train('st_growing', 'bands_growing', arch => 'B_1-Wi_16', epochs => 2, batch_size => 32, seed => 1)" 1
run=$held_run
ok "$(wait_held "$run" 1; echo $?)" "a run is held after its first epoch"
q "INSERT INTO bands_growing SELECT * FROM bands WHERE id <= 50" >/dev/null
release_run "$run" 1
hold_end
is "$(ended $run status)" succeeded "released, it completes"
is "$(per_epoch $run)" "600,650" "each epoch reads the table as of its own start: the second sees the 50 new rows"

# ---- resume after a terminated worker, cancel -------------------------------------------------------
hold_sql "$S" >/dev/null
hold_train "mlp_train('st_resumed', 'bands', $args)" 1
run=$held_run
ok "$(wait_held "$run" 1; echo $?)" "a streamed run is held after epoch 1"
q "SELECT pg_terminate_backend(worker_pid) FROM mlpscale.runs WHERE id = $run" >/dev/null
is "$(ended $run "status || ' ' || epochs_done")" "interrupted 1" "terminated, it is interrupted with epoch 1 kept"
hold_end
is "$(q "SELECT mlp_resume($run)")" "$run" "mlp_resume"
is "$(ended $run "status || ' ' || (config->>'streamed')")" "succeeded true" "the resumed run streams to the end"
is "$(per_epoch $run)" "600,600,600" "... every row once in each of its epochs"
is "$(q "SELECT a.weights = b.weights FROM mlpscale.models a, mlpscale.models b
         WHERE a.name = 'st_table' AND b.name = 'st_resumed'")" t \
   "resumed at the epoch boundary, its weights are those of the uninterrupted run"

hold_sql "$S" >/dev/null
hold_train "mlp_train('st_canceled', 'bands', $args)" 0
run=$held_run
ok "$(wait_held "$run" 0; echo $?)" "a streamed run is held before its first step"
is "$(q "SELECT mlp_cancel($run)")" t "mlp_cancel"
release_run "$run" 0
hold_end
is "$(ended $run "status || ' ' || epochs_done || ' ' || (config->>'streamed')")" "canceled 0 true" \
   "released, it stops at its first step: canceled"

# ---- train_size: each read keeps the rows of the subset --------------------------------------
# the subset rebuilt in SQL (the user guide's query), in the order of id
subset_sql() {
    echo "SELECT image, label FROM (
              SELECT id, image, label,
                     row_number() OVER (PARTITION BY label ORDER BY mlp_subset_key(image, $1)) AS r
                FROM bands) s
           WHERE r <= $2 ORDER BY id"
}
sub_args="arch => 'B_1-Wi_16', epochs => 2, batch_size => 32, seed => 11, lr => 0.003, augment => false"
run=$(q "$S SELECT mlp_train('st_subset', 'bands', $sub_args, train_size => 300, validation => 'bands_val')")
is "$(ended $run "status || ' ' || coalesce(error, '') || (config->>'streamed') || ' ' || train_rows || ' ' || (config->>'per_class')")" \
   "succeeded true 300 100" "train_size with a streamed table: 300 rows, 100 of each class"
is "$(per_epoch $run)" "300,300" "... each epoch trains on the subset, every row of it once"
# a query in id order: the cursor reads the same rows in the same order as the rebuilt subset
# does, so both runs shuffle the same windows and train to the same weights
run=$(q "$S SELECT mlp_train('st_subset_q', \$src\$SELECT image, label FROM bands ORDER BY id\$src\$, $sub_args, train_size => 300)")
rebuilt=$(q "$S SELECT mlp_train('st_subset_sql', \$src\$$(subset_sql 11 100)\$src\$, $sub_args)")
is "$(ended $run "status || ' ' || (config->>'streamed')") $(ended $rebuilt "status || ' ' || train_rows")" \
   "succeeded true succeeded 300" "a streamed query with train_size, and the same subset rebuilt in SQL"
is "$(q "SELECT a.weights = b.weights FROM mlpscale.models a, mlpscale.models b
         WHERE a.name = 'st_subset_q' AND b.name = 'st_subset_sql'")" t \
   "... train to the same weights: the streamed subset is the one mlp_subset_key gives"
# the same under the in-memory path, which takes the subset of the loaded rows
mem=$(q "SET mlpscale.streaming = off; SELECT mlp_train('st_subset_mem', \$src\$SELECT image, label FROM bands ORDER BY id\$src\$, $sub_args, train_size => 300)")
is "$(ended $mem "status || ' ' || (config ? 'streamed')")" "succeeded false" "the in-memory run of the same subset"
is "$(q "SELECT m.mean = s.mean AND m.std = s.std FROM mlpscale.models m, mlpscale.models s
         WHERE m.name = 'st_subset_mem' AND s.name = 'st_subset_q'")" t \
   "... has the same normalisation statistics as the streamed one: the subset's"
most=$(q "SELECT 3 * min(n) FROM (SELECT count(*) AS n FROM bands GROUP BY label) s")
run=$(q "$S SELECT mlp_train('st_subset_big', 'bands', $sub_args, train_size => $most)")
is "$(ended $run "status || ' ' || train_rows")" "succeeded $most" "the largest train_size, all of the smallest class, streams"
is "$(per_epoch $run)" "$most,$most" "... each epoch as many rows"
# the source loses rows of a class after the call: the survey finds that the subset cannot be taken
q "CREATE TABLE bands_gone AS SELECT * FROM bands" >/dev/null
run=$(q "BEGIN; $S SELECT mlp_train('st_subset_gone', 'bands_gone', $sub_args, train_size => 300);
         DELETE FROM bands_gone WHERE label = 2 AND id % 4 <> 0; COMMIT;" | head -1)
like "$(ended $run "status || '|' || error")" \
   "^failed|the subset of train_size 300 cannot be taken from the source as it is now: class 2 has [0-9]+ rows, fewer than the 100 of each class" \
   "a class that lost rows after the call: the streamed run fails, naming the class"

# ---- bad rows, found by the survey or by an epoch's read -------------------------------------------
# st_fail SOURCE [ARGS]: a one-epoch streamed run on SOURCE; prints "status|error"
st_fail() {
    local run
    run=$(q "$S SELECT mlp_train('st_bad', \$src\$$1\$src\$, arch => 'B_1-Wi_16', epochs => 1${2:+, $2})")
    [[ $run =~ ^[0-9]+$ ]] || { echo "refused: $run"; return; }
    ended "$run" "status || '|' || coalesce(error, '')"
}
like "$(st_fail "SELECT CASE WHEN id = 77 THEN NULL ELSE image END AS image, label FROM bands")" \
   "^failed\|row [0-9]+ read of the source has a null image" "a null image fails a streamed run"
like "$(st_fail "SELECT image, CASE WHEN id = 77 THEN NULL ELSE label END AS label FROM bands")" \
   "^failed\|row [0-9]+ read of the source has a null label" "a null label fails it"
like "$(st_fail "SELECT CASE WHEN id = 77 THEN image_from_bytes('\\x00'::bytea, 1, 1, 1) ELSE image END AS image, label FROM bands")" \
   "^failed\|row [0-9]+ read of the source has an image of shape 1x1x1, not 1x8x8" "an image of another shape fails it"
like "$(st_fail "SELECT image, label FROM bands" "classes => 2")" \
   "^failed\|row [0-9]+ read of the source has label 2, outside \[0, 2\)" "a label out of range fails it"
like "$(st_fail "SELECT image, label FROM bands WHERE false")" \
   "^failed\|source .* has no rows" "an empty source fails it"
like "$(st_fail "bands" "validation => 'SELECT image, label + 5 AS label FROM bands_val'")" \
   "^failed\|row [0-9]+ read of the validation has label [5-7], outside \[0, 3\)" \
   "a validation label the source does not have fails it"

# ---- the user's SQL runs as the run's role, in every read of every epoch ---------------------------
q "DO \$\$BEGIN CREATE ROLE st_role LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END\$\$;
   GRANT SELECT ON bands TO st_role; GRANT USAGE ON SCHEMA mlpscale TO st_role" >/dev/null
run=$(q_as st_role "$S SELECT mlp_train('st_role_run', 'SELECT image, label FROM public.bands
          WHERE current_user = ''st_role'' AND session_user = ''st_role''
            AND pg_catalog.current_setting(''is_superuser'') = ''off''
            AND pg_catalog.set_config(''search_path'', ''pg_temp'', false) IS NOT NULL',
          arch => 'B_1-Wi_16', epochs => 2, batch_size => 32, seed => 1)")
is "$(ended $run "status || ' ' || coalesce(error, '')")" "succeeded " \
   "a query that sees only the run's role (not superuser) and sets search_path streams"
is "$(per_epoch $run)" "600,600" "... every read of every epoch ran as the role"

# ---- data over the memory budget ------------------------------------------------------------------
load_fashion fashion train 24000
q "ALTER SYSTEM SET mlpscale.max_training_memory = '16MB'" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
ok "$(wait_until "SELECT current_setting('mlpscale.max_training_memory') = '16MB'" 60; echo $?)" \
   "mlpscale.max_training_memory = 16MB"
# 24,000 images of 784 bytes: 18.8 MB, more than the budget, with mlpscale.streaming off
run=$(q "SELECT mlp_train('st_budget', 'fashion', arch => 'B_1-Wi_16', epochs => 2, batch_size => 128, seed => 2, lr => 0.003)")
is "$(ended $run "status || ' ' || coalesce(error, '') || (config ? 'streaming') || ' ' || (config->>'streamed')" 600)" \
   "succeeded false true" "a source larger than the budget streams (mlpscale.streaming off) and succeeds"
is "$(q "SELECT (config->>'stream_window_rows')::int < 24000 FROM mlpscale.runs WHERE id = $run")" t \
   "... through a window smaller than the source"
is "$(per_epoch $run)" "24000,24000" "... every row once per epoch"
# what the worker really held (its private memory beyond what it held before reading data)
is "$(q "SELECT (config->>'peak_memory_bytes')::bigint - (config->>'base_memory_bytes')::bigint <= 16 * 1048576
              AND (config->>'peak_memory_bytes')::bigint > (config->>'base_memory_bytes')::bigint
              AND (config->>'base_memory_bytes')::bigint > 0
         FROM mlpscale.runs WHERE id = $run")" t \
   "... and its peak private memory beyond the backend's own is within the budget"
run=$(q "SELECT mlp_train('st_too_big', 'fashion', arch => 'B_4-Wi_1024', epochs => 1)")
like "$(ended $run "status || '|' || error")" \
   "^failed\|training would need [0-9]+ MB even when streaming \(model and buffers [0-9]+ MB, .*more than mlpscale.max_training_memory \(16 MB\): In bytes: model, optimizer and activations [0-9]+" \
   "a model that cannot fit even streaming fails with the sizes"
q "ALTER SYSTEM RESET mlpscale.max_training_memory" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
ok "$(wait_until "SELECT current_setting('mlpscale.max_training_memory') = '8GB'" 60; echo $?)" "... reset"

done_testing
