#!/usr/bin/env bash
# Sweeps: mlp_sweep queues one run per grid combination (or trials of them), in grid order,
# named after the sweep; the same call again returns the same sweep; every invalid grid or
# value is an error of the call that queues nothing; mlp_wait_sweep and mlp_cancel_sweep act
# on all its runs; mlpscale.sweeps and mlpscale.results describe them; a sweep and its runs
# belong to the role that queued it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/training_helpers.sh"
new_db it_sweeps
trap hold_end EXIT

make_bands bands_train 240 0.1
make_bands bands_val 90 0.2
args="epochs => 2, optimizer => 'adamw', lr => 0.001, validation => 'bands_val', seed => 5"

# ---- a sweep of 8 tiny runs end to end ----------------------------------------------------
grid='{"arch": ["B_1-Wi_16", "S_2-Wi_16"], "batch_size": [32, 64], "augment": [true, false]}'
sweep=$(q "SELECT mlp_sweep('grid8', 'bands_train', '$grid', $args)")
like "$sweep" '^[0-9]+$' "mlp_sweep returns the sweep id"
is "$(q "SELECT count(*) FROM mlpscale.runs WHERE sweep_id = $sweep")" 8 "one run per combination"
is "$(q "SELECT string_agg(model_name, ',' ORDER BY id) FROM mlpscale.runs WHERE sweep_id = $sweep")" \
   "grid8/1,grid8/2,grid8/3,grid8/4,grid8/5,grid8/6,grid8/7,grid8/8" "models are named sweep/k"
# jsonb orders keys by length then bytes: arch, augment, batch_size; the last varies fastest
is "$(q "SELECT string_agg(arch || ':' || (config->>'augment') || ':' || (config->>'batch_size'), ' ' ORDER BY id)
         FROM mlpscale.runs WHERE sweep_id = $sweep")" \
   "B_1-Wi_16:true:32 B_1-Wi_16:true:64 B_1-Wi_16:false:32 B_1-Wi_16:false:64 S_2-Wi_16:true:32 S_2-Wi_16:true:64 S_2-Wi_16:false:32 S_2-Wi_16:false:64" \
   "runs in grid order, the last key fastest"
is "$(q "SELECT bool_and((config->>'epochs')::int = 2 AND config->>'optimizer' = 'adamw' AND
                        (config->>'seed')::bigint = 5 AND validation IS NOT NULL)
         FROM mlpscale.runs WHERE sweep_id = $sweep")" t "the other arguments apply to every run"
is "$(q "SELECT mlp_wait_sweep($sweep)")" succeeded "mlp_wait_sweep waits for all and returns succeeded"
is "$(q "SELECT runs || ' ' || succeeded || ' ' || queued || ' ' || running || ' ' || status ||
                ' ' || (finished_at >= started_at AND started_at >= created_at AND seconds >= 0)
         FROM mlpscale.sweeps WHERE id = $sweep")" "8 8 0 0 succeeded true" "mlpscale.sweeps: counts, status, timings"
is "$(q "SELECT count(*) FROM mlpscale.results WHERE sweep_id = $sweep AND sweep = 'grid8'")" 8 \
   "mlpscale.results has a row per finished run"
is "$(q "SELECT bool_and(compute = r.flops_per_image * 3 * x.examples_seen AND x.examples_seen = 480
                        AND x.train_size = 240 AND x.epochs = 2 AND x.params = r.params
                        AND x.final_val_error BETWEEN 0 AND 1 AND x.best_val_error <= x.final_val_error
                        AND x.best_epoch BETWEEN 1 AND 2 AND x.seconds > 0 AND x.lr = 0.001::real
                        AND x.optimizer = 'adamw' AND x.mixup = 0.8::real)
         FROM mlpscale.results x JOIN mlpscale.runs r ON r.id = x.run_id WHERE x.sweep_id = $sweep")" t \
   "results: compute (paper eq. 4), sizes, errors, recipe"
is "$(q "SELECT string_agg(DISTINCT kind || depth || '/' || width || '/' || coalesce(expansion::text, '-'), ' ')
         FROM mlpscale.results WHERE sweep_id = $sweep")" "B1/16/4 S2/16/-" "results: kind, depth, width, expansion from arch"
is "$(q "SELECT bool_and(x.best_val_error = (SELECT min(1 - e.val_accuracy) FROM mlpscale.epochs e WHERE e.run_id = x.run_id)
                        AND x.best_epoch = (SELECT e.epoch FROM mlpscale.epochs e WHERE e.run_id = x.run_id ORDER BY e.val_loss LIMIT 1))
         FROM mlpscale.results x WHERE x.sweep_id = $sweep")" t "best error and best epoch from the epochs"

# ---- data size and early stopping as grid keys ---------------------------------------------
sized=$(q "SELECT mlp_sweep('sized', 'bands_train', '{\"train_size\": [60, 120], \"early_stop\": [1, 5]}', $args)")
is "$(q "SELECT mlp_wait_sweep($sized)")" succeeded "a sweep over train_size and early_stop runs"
is "$(q "SELECT string_agg(train_size || '/' || (r.config->>'early_stop'), ' ' ORDER BY x.run_id)
         FROM mlpscale.results x JOIN mlpscale.runs r ON r.id = x.run_id WHERE x.sweep_id = $sized")" \
   "60/1 120/1 60/5 120/5" "each run trains on its train_size (keys of equal length in byte order: train_size fastest)"
q "SELECT mlp_cancel_sweep($sized)" >/dev/null

# ---- the same call again is the same sweep ------------------------------------------------
is "$(q "SELECT mlp_sweep('grid8', 'bands_train', '$grid', $args)")" "$sweep" "the same definition returns the same sweep"
is "$(q "SELECT count(*) FROM mlpscale.runs")" 12 "and queues nothing"
like "$(q "SELECT mlp_sweep('grid8', 'bands_train', '$grid', epochs => 3)")" \
     'ERROR:.*sweep "grid8" already exists with a different definition' "another definition under the name is refused"
like "$(q "SELECT mlp_sweep('grid8', 'bands_train', '{\"arch\": [\"B_1-Wi_16\"]}', $args)")" \
     'ERROR:.*different definition' "another grid under the name is refused"

# ---- trials --------------------------------------------------------------------------------
draw() {    # draw SEED: the combinations that trials => 3 draws, in a rolled-back transaction
    psql -X -A -t -q -d "$TESTDB" 2>&1 <<SQL
BEGIN;
SELECT mlp_sweep('drawn', 'bands_train', '$grid', trials => 3, trials_seed => $1, $args) \\g /dev/null
SELECT string_agg(arch || ':' || (config->>'augment') || ':' || (config->>'batch_size'), ' ' ORDER BY r.id)
  FROM mlpscale.runs r JOIN mlpscale.sweep_definitions s ON s.id = r.sweep_id WHERE s.name = 'drawn';
ROLLBACK;
SQL
}
d1=$(draw 7); d2=$(draw 7); d3=$(draw 8)
is "$(echo "$d1" | wc -w)" 3 "trials => 3 queues 3 runs"
is "$d2" "$d1" "the draw repeats for the same trials_seed"
ok "$([ "$d3" != "$d1" ]; echo $?)" "another trials_seed draws other combinations ($d1 | $d3)"
is "$(q "SELECT count(*) FROM mlpscale.sweep_definitions WHERE name = 'drawn'")" 0 "a rolled-back sweep leaves nothing"

# ---- invalid grids and values: errors of the call, nothing queued --------------------------
bad() {     # bad GRID REGEX NAME [EXTRA ARGS]
    like "$(q "SELECT mlp_sweep('bad', 'bands_train', '$1'${4:+, $4})")" "$2" "$3"
}
bad '{"widht": [64]}' 'ERROR:.*unknown grid key "widht".*HINT:.*arch, epochs, batch_size' "an unknown key, with the keys in the hint"
bad '{"trials": [2]}' 'ERROR:.*unknown grid key "trials"' "a key of mlp_sweep itself is not a grid key"
bad '{"source": ["bands_val"]}' 'ERROR:.*grid key "source" is not allowed' "source cannot vary"
bad '{"model_name": ["x"]}' 'ERROR:.*grid key "model_name" is not allowed' "model_name cannot be set"
bad '{"arch": []}' 'ERROR:.*grid key "arch" must be a non-empty JSON array' "an empty list"
bad '{"arch": "B_1-Wi_16"}' 'ERROR:.*grid key "arch" must be a non-empty JSON array of values, not "B_1-Wi_16"' "a value that is not a list"
bad '[1, 2]' 'ERROR:.*grid must be a JSON object' "a grid that is not an object"
bad '3' 'ERROR:.*grid must be a JSON object' "a scalar grid"
bad '{}' 'ERROR:.*grid must have at least one key' "an empty grid"
bad '{"batch_size": [32, 32]}' 'ERROR:.*grid key "batch_size" lists 32 twice' "a value listed twice"
bad '{"batch_size": ["big"]}' 'ERROR:.*grid key "batch_size": value "big" is not a number' "a string for an integer"
bad '{"batch_size": [1.5]}' 'ERROR:.*grid key "batch_size": value 1.5 is not an integer' "a fraction for an integer"
bad '{"batch_size": [99999999999]}' 'ERROR:.*grid key "batch_size": value 99999999999 is not an integer between' "an integer out of range"
bad '{"augment": [1]}' 'ERROR:.*grid key "augment": value 1 is not true or false' "a number for a boolean"
bad '{"arch": [16]}' 'ERROR:.*grid key "arch": value 16 is not a string' "a number for text"
bad '{"lr": [1e40]}' 'ERROR:.*grid key "lr": value .* is not a number within the range of real' "a real out of range"
bad '{"mean": [0.5]}' 'ERROR:.*grid key "mean": value 0.5 is not an array of numbers' "a scalar for real[]"
bad '{"batch_size": [32, 0]}' 'ERROR:.*grid key "batch_size", value 0: batch_size must be between 1 and' "a value one run refuses names key and value"
bad '{"arch": ["B_1-Wi_16", "C_1-Wi_16"]}' 'ERROR:.*grid key "arch", value "C_1-Wi_16": invalid architecture' "a bad architecture"
bad '{"optimizer": ["lion", "adam"]}' 'ERROR:.*grid key "optimizer", value "adam": unknown optimizer' "a bad optimizer"
bad '{"epochs": [null]}' 'ERROR:.*grid key "epochs", value null: epochs must not be null' "null where a run needs a value"
bad '{"matmul_precision": ["fp16"]}' 'ERROR:.*grid key "matmul_precision", value "fp16": invalid matmul_precision' "a bad precision"
bad '{"validation": ["no_such_table"]}' 'ERROR:.*no_such_table.*CONTEXT:.*run 1 of sweep "bad": \{"validation": "no_such_table"\}' \
    "an error of one combination names the run and its values"
bad '{"train_size": [60, 121]}' 'ERROR:.*121.*CONTEXT:.*run 2 of sweep "bad": \{"train_size": 121\}' "a train_size the source cannot give names its run"
bad '{"early_stop": [2]}' 'ERROR:.*grid key "early_stop", value 2: .*validation' "early_stop without validation" "epochs => 3"
bad '{"seed": [1, 2]}' 'ERROR:.*trials 5 is more than the 2 combinations' "more trials than combinations" "trials => 5"
bad '{"seed": [1, 2]}' 'ERROR:.*trials must be at least 1' "trials 0" "trials => 0"
like "$(q "SELECT mlp_sweep('big', 'bands_train', jsonb_build_object('seed', (SELECT jsonb_agg(i) FROM generate_series(1, 101) i),
                                                                    'epochs', (SELECT jsonb_agg(i) FROM generate_series(1, 100) i)))")" \
     'ERROR:.*at most 10000 runs' "more than 10000 combinations"
like "$(q "SELECT mlp_sweep('', 'bands_train', '{\"seed\": [1]}')")" 'ERROR:.*sweep_name must not be empty' "an empty sweep name"
like "$(q "SELECT mlp_sweep(NULL, 'bands_train', '{\"seed\": [1]}')")" 'ERROR:.*sweep_name must not be null' "a null sweep name"
like "$(q "SELECT mlp_sweep('nogrid', 'bands_train', NULL)")" 'ERROR:.*grid must not be null' "a null grid"
like "$(q "SELECT mlp_sweep('nosrc', 'no_such_table', '{\"seed\": [1]}')")" 'ERROR:.*no_such_table' "a missing source"
like "$(q "SELECT mlp_sweep('x@1', 'bands_train', '{\"seed\": [1]}')")" 'ERROR:.*must not contain "@"' "a sweep name that makes bad model names"
is "$(q "SELECT count(*) FROM mlpscale.runs")/$(q "SELECT count(*) FROM mlpscale.sweep_definitions")" "12/2" \
   "no invalid call queued a run or a sweep"
like "$(q "SELECT mlp_wait_sweep(999)")" 'ERROR:.*sweep 999 does not exist' "waiting for a missing sweep"
like "$(q "SELECT mlp_cancel_sweep(999)")" 'ERROR:.*sweep 999 does not exist' "canceling a missing sweep"
like "$(q "SELECT mlp_wait_sweep($sweep, -1)")" 'ERROR:.*timeout_seconds must be in' "a negative timeout"
like "$(psql -X -A -t -q -d "$TESTDB" 2>&1 <<SQL
BEGIN;
SELECT mlp_sweep('intx', 'bands_train', '{"seed": [1]}', $args) \\g /dev/null
SELECT mlp_wait_sweep((SELECT id FROM mlpscale.sweep_definitions WHERE name = 'intx'));
ROLLBACK;
SQL
)" 'ERROR:.*was queued in this transaction' "waiting in the transaction that queued the sweep"

# ---- cancel a whole sweep, its runs held at a known point ----------------------------------
hold_sql "BEGIN;
SELECT mlp_sweep('held', 'bands_train', '{\"seed\": [1, 2, 3]}', epochs => 3, batch_size => 32) AS sid \\gset
SELECT pg_advisory_lock(id::int, 0) FROM mlpscale.runs WHERE sweep_id = :sid \\g /dev/null
COMMIT" >/dev/null
held=$(q "SELECT id FROM mlpscale.sweep_definitions WHERE name = 'held'")
first=$(q "SELECT min(id) FROM mlpscale.runs WHERE sweep_id = $held")
ok "$(wait_held "$first" 0; echo $?)" "the sweep's first run waits at its start"
is "$(q "SELECT mlp_wait_sweep($held, 0)")" running "mlp_wait_sweep with a timeout returns the running status"
is "$(q "SELECT running || ' ' || queued FROM mlpscale.sweeps WHERE id = $held")" "1 2" \
   "one run at a time (max_concurrent_runs = 1), the others queued"
is "$(q "SELECT mlp_cancel_sweep($held)")" 3 "mlp_cancel_sweep cancels the running and the queued runs"
hold_sql "SELECT pg_advisory_unlock_all()" >/dev/null
is "$(q "SELECT mlp_wait_sweep($held)")" canceled "the canceled sweep ends canceled"
is "$(q "SELECT string_agg(status, ',') FROM mlpscale.runs WHERE sweep_id = $held")" "canceled,canceled,canceled" \
   "every run of it is canceled"
is "$(q "SELECT mlp_cancel_sweep($held)")" 0 "canceling it again cancels nothing"
is "$(q "SELECT count(*) FROM mlpscale.results WHERE sweep_id = $held")" 0 "canceled runs are not results"

# ---- privileges: a sweep and its runs belong to the caller ---------------------------------
q "DO \$\$BEGIN CREATE ROLE sw_alice LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END\$\$;
   DO \$\$BEGIN CREATE ROLE sw_bob LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END\$\$;
   GRANT SELECT ON bands_train, bands_val TO sw_alice, sw_bob" >/dev/null
asweep=$(q_as sw_alice "SELECT mlp_sweep('alice_sweep', 'bands_train', '{\"seed\": [1, 2]}', $args)")
is "$(q_as sw_alice "SELECT mlp_wait_sweep($asweep)")" succeeded "alice's sweep runs"
is "$(q "SELECT count(*) FROM mlpscale.runs r WHERE sweep_id = $asweep AND run_as = 'sw_alice'::regrole")" 2 \
   "its runs belong to alice"
is "$(q "SELECT string_agg(DISTINCT m.owner::regrole::text, ',') FROM mlpscale.models m JOIN mlpscale.runs r ON r.model_id = m.id
         WHERE r.sweep_id = $asweep")" sw_alice "its models belong to alice"
is "$(q_as sw_alice "SELECT count(*) FROM mlpscale.sweeps")/$(q_as sw_alice "SELECT count(*) FROM mlpscale.results")" "1/2" \
   "alice sees her sweep and results only"
is "$(q_as sw_bob "SELECT count(*) FROM mlpscale.sweeps")/$(q_as sw_bob "SELECT count(*) FROM mlpscale.results")/$(q_as sw_bob "SELECT count(*) FROM mlpscale.sweep_definitions")" \
   "0/0/0" "bob sees none of it"
like "$(q_as sw_bob "SELECT mlp_wait_sweep($asweep)")" 'ERROR:.*permission denied to wait for sweep' "bob cannot wait for it"
like "$(q_as sw_bob "SELECT mlp_cancel_sweep($asweep)")" 'ERROR:.*permission denied to cancel sweep' "bob cannot cancel it"
like "$(q_as sw_bob "SELECT mlp_sweep('alice_sweep', 'bands_train', '{\"seed\": [1, 2]}', $args)")" \
     'ERROR:.*already exists and belongs to another role' "bob cannot take over its name"
bsweep=$(q_as sw_bob "SELECT mlp_sweep('bob_sweep', 'bands_train', '{\"seed\": [1]}', $args)")
like "$bsweep" '^[0-9]+$' "bob queues a sweep of his own"
is "$(q_as sw_bob "SELECT mlp_wait_sweep($bsweep)")/$(q_as sw_bob "SELECT string_agg(name, ',') FROM mlpscale.sweeps")" \
   "succeeded/bob_sweep" "and sees it only"
is "$(q "SELECT count(*) FROM mlpscale.sweeps")" 5 "a superuser sees every sweep"

done_testing
