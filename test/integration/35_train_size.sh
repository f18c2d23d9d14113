#!/usr/bin/env bash
# train_size end to end: the worker trains on per_class rows of each class, chosen by the
# seed and the images alone; the subset rebuilt in SQL with mlp_subset_key is exactly the
# one it trained on (same weights when trained on as a plain source); the statistics and
# runs.train_rows are the subset's; the physical row order does not matter; a source that
# changed after the call fails the run with the reason.  The call's checks are in
# sql/30_training.sql.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/training_helpers.sh"
new_db it_train_size
export PGOPTIONS="-c mlpscale.training_threads=1"
make_bands bands 600 0.1
make_bands bands_val 90 0.2
q "CREATE TABLE bands_shuffled AS SELECT * FROM bands ORDER BY md5(id::text)" >/dev/null
counts=$(q "SELECT string_agg(n::text, ',' ORDER BY label) FROM (SELECT label, count(*) AS n FROM bands GROUP BY label) s")
diag "rows by class: $counts"
args="arch => 'B_1-Wi_16', epochs => 2, batch_size => 32, optimizer => 'adamw', lr => 0.001,
      augment => false, mixup => 0, label_smoothing => 0"

# rebuild SEED PER_CLASS TABLE: the subset in SQL, as the user guide writes it, in row order
rebuild() {
    echo "SELECT id, image, label FROM (
              SELECT id, image, label,
                     row_number() OVER (PARTITION BY label ORDER BY mlp_subset_key(image, $1)) AS r
                FROM $3) s
           WHERE r <= $2"
}

run=$(q "SELECT mlp_train('sub', 'bands', $args, seed => 11, train_size => 300, validation => 'bands_val')")
is "$(q "SELECT mlp_wait($run)")" succeeded "a run with train_size 300 of 600 rows in 3 classes"
is "$(q "SELECT train_rows || ' ' || validation_rows || ' ' || (config->>'train_size') || ' ' || (config->>'per_class')
         FROM mlpscale.runs WHERE id = $run")" "300 90 300 100" \
   "train_rows is train_size, per_class 100 is recorded; the validation source is whole"
is "$(q "SELECT string_agg(examples_seen::text, ',' ORDER BY epoch) FROM mlpscale.epochs WHERE run_id = $run")" \
   "300,600" "each epoch sees the subset"

# The statistics are the subset's: the histogram the worker sums is exact, so the model's
# mean equals the subset's pixel mean computed in SQL, and not the whole source's.
pixel_mean() {
    q "SELECT round(avg(get_byte(image_to_bytes(image), p)) / 255, 6)
         FROM ($1) s, generate_series(0, 63) p"
}
sub_mean=$(pixel_mean "$(rebuild 11 100 bands)")
all_mean=$(pixel_mean "SELECT image FROM bands")
is "$(q "SELECT round(mean[1]::numeric, 6) FROM mlpscale.models WHERE name = 'sub'")" "$sub_mean" \
   "the model's mean is the pixel mean of the subset rebuilt in SQL ($sub_mean)"
ok "$([ "$sub_mean" != "$all_mean" ]; echo $?)" "... not the whole source's ($all_mean)"
is "$(q "SELECT label || ':' || count(*) FROM ($(rebuild 11 100 bands)) s GROUP BY label ORDER BY label" | tr '\n' ' ')" \
   "0:100 1:100 2:100 " "the rebuilt subset has 100 rows of each class"

# The rebuilt rows, in the source's order, given as a plain source with the same seed and
# one thread: the same weights, so the worker trained on exactly these rows.
rebuilt=$(q "SELECT mlp_train('rebuilt', \$\$SELECT image, label FROM ($(rebuild 11 100 bands)) s ORDER BY id\$\$,
                              $args, seed => 11, validation => 'bands_val')")
is "$(q "SELECT mlp_wait($rebuilt)")" succeeded "a run on the subset rebuilt in SQL"
is "$(q "SELECT a.weights = b.weights AND a.mean = b.mean AND a.std = b.std
         FROM mlpscale.models a, mlpscale.models b WHERE a.name = 'sub' AND b.name = 'rebuilt'")" t \
   "... has byte-identical weights and the same statistics: the SQL rebuild is the worker's subset"

# Independent of the physical order: the shuffled table gives the same subset (statistics
# are exact sums, so equal sets give equal values).
shuffled=$(q "SELECT mlp_train('shuffled', 'bands_shuffled', $args, seed => 11, train_size => 300)")
is "$(q "SELECT mlp_wait($shuffled)")" succeeded "the same train_size and seed on the rows in another order"
is "$(q "SELECT a.mean = b.mean AND a.std = b.std FROM mlpscale.models a, mlpscale.models b
         WHERE a.name = 'sub' AND b.name = 'shuffled'")" t "... trains on the same subset (same statistics)"
is "$(q "SELECT count(*) FROM ($(rebuild 11 100 bands)) a FULL JOIN ($(rebuild 11 100 bands_shuffled)) b USING (id)
         WHERE a.id IS NULL OR b.id IS NULL")" 0 "... and in SQL the same rows are chosen from both tables"

# Another seed, another subset.
other=$(q "SELECT mlp_train('other_seed', 'bands', $args, seed => 12, train_size => 300)")
is "$(q "SELECT mlp_wait($other)")" succeeded "another seed"
ok "$([ "$(q "SELECT count(*) FROM ($(rebuild 11 100 bands)) a JOIN ($(rebuild 12 100 bands)) b USING (id)")" -lt 300 ]; echo $?)" \
   "... chooses other rows"
is "$(q "SELECT a.mean <> b.mean FROM mlpscale.models a, mlpscale.models b
         WHERE a.name = 'sub' AND b.name = 'other_seed'")" t "... and the worker trains on them (other statistics)"

# A resumed run takes the same subset again: interrupted by a restart after its first
# epoch, it ends with the weights of the uninterrupted run.
hold_train "mlp_train('sub_resumed', 'bands', $args, seed => 11, train_size => 300, validation => 'bands_val')" 1
run=$held_run
ok "$(wait_held "$run" 1; echo $?)" "a run like the first is held after its first epoch"
server_restart
hold_end
is "$(q "SELECT status || ' ' || epochs_done FROM mlpscale.runs WHERE id = $run")" "interrupted 1" \
   "... and interrupted by a restart"
q "SELECT mlp_resume($run)" >/dev/null
is "$(ended $run "status || ' ' || train_rows")" "succeeded 300" "resumed, it completes on 300 rows"
is "$(q "SELECT a.weights = b.weights FROM mlpscale.models a, mlpscale.models b
         WHERE a.name = 'sub' AND b.name = 'sub_resumed'")" t \
   "... with the weights of the uninterrupted run: the resumed worker took the same subset"

# A fine-tune takes a subset the same way.
ft=$(q "SELECT mlp_finetune('sub_ft', 'sub', 'bands', epochs => 1, batch_size => 32, seed => 3, train_size => 150)")
is "$(q "SELECT mlp_wait($ft) || ' ' || train_rows || ' ' || (config->>'per_class') FROM mlpscale.runs WHERE id = $ft")" \
   "succeeded 150 50" "mlp_finetune with train_size 150: 50 rows of each class"
like "$(q "SELECT mlp_finetune('sub_ft', 'sub', 'bands', train_size => 100)")" \
   "train_size 100 is not a multiple of 3" "mlp_finetune checks train_size in the call"

# The source changes between the call and the worker: the run fails with the reason.
q "CREATE TABLE changing AS SELECT * FROM bands" >/dev/null
run=$(q "BEGIN; SELECT mlp_train('changed', 'changing', $args, seed => 1, train_size => 300);
         DELETE FROM changing WHERE label = 1
                                AND id NOT IN (SELECT id FROM changing WHERE label = 1 ORDER BY id LIMIT 40);
         COMMIT;")
like "$(ended $run "status || '|' || error")" \
   '^failed\|the subset of train_size 300 cannot be taken from the source as it is now: class 1 has 40 rows, fewer than the 100 of each class that the subset takes \(The source changed after the run was queued; queue it again' \
   "a class left with 40 rows after the call fails the run, naming the class and its rows"
q "CREATE TABLE losing AS SELECT * FROM bands" >/dev/null
run=$(q "BEGIN; SELECT mlp_train('lost', 'losing', $args, seed => 1, train_size => 300);
         DELETE FROM losing WHERE label = 2; COMMIT;")
like "$(ended $run "status || '|' || error")" \
   '^failed\|.*there are rows of 2 classes, not of the 3 the subset was sized for' \
   "a class gone after the call fails the run"
is "$(q "SELECT count(*) FROM mlpscale.models WHERE name IN ('changed', 'lost')")" 0 "... and neither made a model"

done_testing
