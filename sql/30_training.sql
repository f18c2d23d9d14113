-- Training: synchronous argument checks of mlp_train and mlp_finetune, transactional
-- queueing (a rolled-back call leaves nothing), wait, cancel and resume of runs that do not
-- train.  Runs that really train are tested in test/integration/3*.sh.

CREATE SCHEMA training_test;
SET search_path = training_test, public;

-- Declared volatility and parallel safety, and a comment on every object
SELECT p.oid::regprocedure AS function, p.provolatile, p.proparallel, p.proisstrict,
       obj_description(p.oid, 'pg_proc') IS NOT NULL AS commented
FROM pg_proc p
WHERE p.proname IN ('mlp_train', 'mlp_finetune', 'mlp_wait', 'mlp_cancel', 'mlp_resume',
                    'progress_rows')
ORDER BY 1::text;
SELECT obj_description('mlpscale.progress'::regclass, 'pg_class') IS NOT NULL AS commented;

-- The settings
SHOW mlpscale.max_concurrent_runs;
SHOW mlpscale.max_training_memory;
SHOW mlpscale.training_threads;
SET mlpscale.max_concurrent_runs = 2;	-- only in postgresql.conf
SET mlpscale.training_threads = 0;

-- Twelve 1x4x4 images with labels 0..2
CREATE TABLE tiny AS
SELECT i AS id, i % 3 AS label,
       image_from_bytes(decode(repeat(lpad(to_hex(i * 20), 2, '0'), 16), 'hex'), 1, 4, 4) AS image
FROM generate_series(1, 12) i;
CREATE VIEW tiny_view AS SELECT image, label FROM tiny;

-- Run ids depend on the tests before this one: messages show them as N
CREATE FUNCTION try(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, 'run -?[0-9]+', 'run N', 'g');
END $$;

-- Bad arguments are errors of the call: nothing is queued
SELECT mlp_train('m', 'tiny', arch => 'B_6-Wi');
SELECT mlp_train('m', 'tiny', arch => 'X_6-Wi_512');
SELECT mlp_train('m', 'tiny', arch => 'B_0-Wi_512');
SELECT mlp_train('m', 'tiny', optimizer => 'adam');
SELECT mlp_train('m', 'tiny', epochs => 0);
SELECT mlp_train('m', 'tiny', epochs => -5);
SELECT mlp_train('m', 'tiny', epochs => 2000000);
SELECT mlp_train('m', 'tiny', batch_size => 0);
SELECT mlp_train('m', 'tiny', batch_size => 100000000);
SELECT mlp_train('m', 'tiny', lr => 0);
SELECT mlp_train('m', 'tiny', lr => -0.1);
SELECT mlp_train('m', 'tiny', lr => 'NaN');
SELECT mlp_train('m', 'tiny', lr => 1000);
SELECT mlp_train('m', 'tiny', weight_decay => -1);
SELECT mlp_train('m', 'tiny', label_smoothing => 1);
SELECT mlp_train('m', 'tiny', label_smoothing => -0.1);
SELECT mlp_train('m', 'tiny', mixup => -0.5);
SELECT mlp_train('m', 'tiny', mixup => 'Infinity');
SELECT mlp_train('m', 'tiny', resolution => 0);
SELECT mlp_train('m', 'tiny', resolution => 100000);
SELECT mlp_train('m', 'tiny', clip_norm => -1);
SELECT mlp_train('m', 'tiny', classes => 1);
SELECT mlp_train('m', 'tiny', mean => ARRAY[0.5]::real[]);
SELECT mlp_train('m', 'tiny', mean => ARRAY[0.5, 0.5]::real[], std => ARRAY[0.2]::real[]);
SELECT mlp_train('m', 'tiny', mean => ARRAY[0.5]::real[], std => ARRAY[0]::real[]);
SELECT mlp_train('m', 'tiny', mean => ARRAY[1,2,3,4,5]::real[], std => ARRAY[1,2,3,4,5]::real[]);
SELECT mlp_train(NULL, 'tiny');
SELECT mlp_train('m', NULL);
SELECT mlp_train('m', 'tiny', arch => NULL);
SELECT mlp_train('m', 'tiny', epochs => NULL);
SELECT mlp_train('m', 'tiny', optimizer => NULL);
SELECT mlp_train('m', 'tiny', augment => NULL);
SELECT mlp_train('m', 'tiny', image_column => NULL);
SELECT mlp_train('m', 'tiny', matmul_precision => 'fp16');
SELECT mlp_train('m', 'tiny', matmul_precision => 'BF16');
SELECT mlp_train('m', 'tiny', matmul_precision => '');
SELECT mlp_train('m', 'tiny', matmul_precision => NULL);
SELECT v AS matmul_precision,
       try(format('SELECT mlp_train(%L, %L, matmul_precision => %L)', 'm', 'tiny', v)) AS error
FROM (VALUES ('fp16'), ('BF16'), (''), (' fp32'), (NULL)) t(v);
SELECT mlp_train('', 'tiny');
SELECT mlp_train('m', '');
SELECT mlp_train('m', 'no_such_table');
SELECT mlp_train('m', 'no_such_schema.tiny');
SELECT mlp_train('m', 'tiny', validation => 'no_such_table');
-- train_size: a positive multiple of the classes of the source (tiny: 3 classes of 4 rows)
-- that every class can give; early_stop: at least 1, with a validation source
SELECT mlp_train('m', 'tiny', train_size => 0);
SELECT mlp_train('m', 'tiny', train_size => -5);
SELECT mlp_train('m', 'tiny', train_size => 7);
SELECT mlp_train('m', 'tiny', train_size => 2);
SELECT mlp_train('m', 'tiny', train_size => 15);
SELECT mlp_train('m', 'SELECT image, label FROM tiny WHERE id NOT IN (3, 6)', train_size => 9);
SELECT mlp_train('m', 'SELECT image, label FROM tiny WHERE false', train_size => 3);
SELECT mlp_train('m', 'SELECT image, NULL::int AS label FROM tiny', train_size => 3);
-- beyond 20 classes the detail lists the first 20 and names the smallest (class 22, 1 row)
SELECT mlp_train('m', 'SELECT image_from_bytes(''\x00''::bytea, 1, 1, 1) AS image, g % 25 AS label
                       FROM generate_series(1, 75) g WHERE g NOT IN (22, 47)', train_size => 50);
SELECT mlp_train('m', 'tiny', train_size => 6, label_column => 'no_such_column');
SELECT mlp_train('m', 'tiny', early_stop => 2);
SELECT mlp_train('m', 'tiny', early_stop => 0, validation => 'tiny');
SELECT mlp_train('m', 'tiny', early_stop => -1, validation => 'tiny');
SELECT mlp_train('m', 'tiny', early_stop => 2000000, validation => 'tiny');
SELECT count(*) AS runs_after_errors FROM mlpscale.runs;

-- Fine-tuning needs an existing base model
SELECT mlp_finetune('ft', 'no_such_model', 'tiny');
SELECT mlp_finetune('ft', NULL, 'tiny');
SELECT mlp_finetune('ft', 'no_such_model', 'tiny', body_lr_mult => -1);
SELECT mlp_finetune('ft', 'no_such_model', 'tiny', matmul_precision => 'fp16');
SELECT mlp_finetune('ft', 'no_such_model', 'tiny', matmul_precision => NULL);
SELECT mlp_finetune('ft', 'no_such_model', 'tiny', early_stop => 3);
SELECT mlp_finetune('ft', 'no_such_model', 'tiny', train_size => -1);

-- 'bf16' is a valid value: queued where the CPU has AVX512_BF16, refused with 0A000 elsewhere
-- (test/integration/30_training.sh trains with it)
BEGIN;
SELECT try($$SELECT mlp_train('bf16', 'tiny', arch => 'B_1-Wi_8', epochs => 1,
                              matmul_precision => 'bf16')$$)
       IN ('no error', '0A000: matmul_precision ''bf16'' needs a CPU with AVX512_BF16')
       AS bf16_queued_or_unsupported;
ROLLBACK;

-- Positional calls written before matmul_precision existed still work (and mean fp32)
BEGIN;
SELECT mlp_train('positional', 'tiny', 'B_1-Wi_8', 1, 4, 'adamw', 0.001, 0, 0, 0, false,
                 NULL, NULL, 1, 'image', 'label', false, NULL, 3,
                 ARRAY[0.5]::real[], ARRAY[0.25]::real[]) > 0 AS queued;
SELECT config->>'optimizer' AS optimizer, config->>'classes' AS classes, config->>'std' AS std,
       config->>'matmul_precision' AS matmul_precision, config->'train_size' AS train_size,
       config->'early_stop' AS early_stop
FROM mlpscale.runs WHERE model_name = 'positional';
ROLLBACK;
-- ... and train_size and early_stop follow matmul_precision
BEGIN;
SELECT mlp_train('positional2', 'tiny', 'B_1-Wi_8', 1, 4, 'adamw', 0.001, 0, 0, 0, false,
                 NULL, 'tiny', 1, 'image', 'label', false, NULL, 3, NULL, NULL, 'fp32',
                 9, 2) > 0 AS queued;
SELECT config->'train_size' AS train_size, config->'per_class' AS per_class,
       config->'early_stop' AS early_stop
FROM mlpscale.runs WHERE model_name = 'positional2';
ROLLBACK;

-- mlp_subset_key: the core's key (test/unit/test_subset.c checks the same value), by which
-- a run's subset is rebuilt in SQL
SELECT p.oid::regprocedure AS function, p.provolatile, p.proparallel, p.proisstrict,
       obj_description(p.oid, 'pg_proc') IS NOT NULL AS commented
FROM pg_proc p WHERE p.proname = 'mlp_subset_key';
SELECT mlp_subset_key('1x2x2:00ff10a0'::image, 42) AS key_42,
       mlp_subset_key('1x2x2:00ff10a0'::image, 43) <> mlp_subset_key('1x2x2:00ff10a0'::image, 42) AS seed_matters,
       mlp_subset_key('1x4x1:00ff10a0'::image, 42) <> mlp_subset_key('1x2x2:00ff10a0'::image, 42) AS shape_matters,
       mlp_subset_key(NULL, 42) IS NULL AND mlp_subset_key('1x1x1:00'::image, NULL) IS NULL AS strict;
-- the 2 rows of each class of tiny that train_size => 6, seed => 5 keeps
SELECT label, string_agg(id::text, ',' ORDER BY id) AS ids
FROM (SELECT id, label,
             row_number() OVER (PARTITION BY label ORDER BY mlp_subset_key(image, 5)) AS r
        FROM tiny) s
WHERE r <= 2 GROUP BY label ORDER BY label;

-- A rolled-back mlp_train leaves no row (and starts no worker)
BEGIN;
SELECT mlp_train('rolled_back', 'tiny', arch => 'B_1-Wi_8', epochs => 1) > 0 AS queued;
SELECT status, kind, arch, epochs, config->>'optimizer' AS optimizer,
       config->>'lr' AS lr, config->>'label_smoothing' AS smoothing, config->>'mixup' AS mixup,
       config->>'augment' AS augment, config->>'batch_size' AS batch_size
FROM mlpscale.runs WHERE model_name = 'rolled_back';
ROLLBACK;
SELECT count(*) AS rolled_back_rows FROM mlpscale.runs WHERE model_name = 'rolled_back';

-- ... and so does one rolled back to a savepoint
BEGIN;
SAVEPOINT s;
SELECT mlp_train('savepoint', 'tiny', arch => 'B_1-Wi_8', epochs => 1) > 0 AS queued;
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT count(*) AS savepoint_rows FROM mlpscale.runs WHERE model_name = 'savepoint';

-- Waiting for a run queued in the same transaction cannot work
BEGIN;
SELECT mlp_train('same_xact', 'tiny_view', arch => 'B_1-Wi_8', epochs => 1) AS run \gset
SELECT try('SELECT mlp_wait(' || :run || ')');
ROLLBACK;

-- A run canceled while queued never trains; the defaults are recorded in its config
BEGIN;
SELECT mlp_train('canceled', 'SELECT image, label FROM tiny', arch => 'B_1-Wi_8', seed => 42) AS run \gset
SELECT mlp_cancel(:run) AS canceled;
COMMIT;
SELECT mlp_wait(:run);
SELECT mlp_cancel(:run) AS canceled_again;
SELECT status, arch, epochs, error, finished_at IS NOT NULL AS finished, cancel_requested,
       config - 'threads' AS config
FROM mlpscale.runs WHERE id = :run;
SELECT mlp_wait(:run, timeout_seconds => 0);

-- Resume: only interrupted, failed or canceled runs; the run must exist
SELECT mlp_resume(-1);
SELECT mlp_cancel(-1);
SELECT mlp_wait(-1);
SELECT mlp_wait(:run, timeout_seconds => -1);

-- Runs are readable by everyone, changed only by their role
CREATE ROLE regress_training_stranger;
GRANT USAGE ON SCHEMA training_test TO regress_training_stranger;
SET ROLE regress_training_stranger;
SELECT count(*) AS sees_other_roles_runs FROM mlpscale.runs WHERE id = :run;
SELECT try('SELECT mlp_resume(' || :run || ')');
SELECT try('SELECT mlp_cancel(' || :run || ')');
INSERT INTO mlpscale.runs (model_name, run_as, database, source, arch, epochs, config)
VALUES ('forged', 10, 1, 'x', 'B_1-Wi_8', 1, '{}');
SELECT count(*) AS progress_rows FROM mlpscale.progress;
RESET ROLE;
REVOKE USAGE ON SCHEMA training_test FROM regress_training_stranger;
DROP ROLE regress_training_stranger;

-- mlp_wait in a REPEATABLE READ transaction would never see the run end
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT mlp_wait(:run);
ROLLBACK;

-- The config codec: every option mlp_train stores reads back as written, which is what the
-- worker trains with (mlpscale.decode_run_config runs the worker's reader, then the writer)
BEGIN;
SELECT mlp_train('codec', 'tiny', arch => 'S_3-Wi_16', epochs => 7, batch_size => 33,
                 optimizer => 'adamw', lr => 0.002, weight_decay => 0.01,
                 label_smoothing => 0.1, mixup => 0.5, augment => false, resolution => 4,
                 validation => 'tiny', seed => 1234567890123, image_column => 'image',
                 label_column => 'label', cosine => true, clip_norm => 2.5, classes => 5,
                 mean => ARRAY[0.25]::real[], std => ARRAY[0.5]::real[],
                 matmul_precision => 'fp32', train_size => 6, early_stop => 3) AS codec_run \gset
SELECT config = mlpscale.decode_run_config(config) AS round_trips,
       (SELECT count(*) FROM jsonb_object_keys(config)) AS keys,
       source, validation,
       (config->>'source_relid')::oid = 'training_test.tiny'::regclass
         AND config->'validation_relid' = config->'source_relid' AS resolved_oids,
       config->>'search_path' AS search_path
  FROM mlpscale.runs WHERE id = :codec_run;
SELECT config - 'threads' - 'source_relid' - 'validation_relid' - 'search_path' AS config
  FROM mlpscale.runs WHERE id = :codec_run;
ROLLBACK;
-- a fine-tune's base model, and a config of 0.1.0 (no relids, no search_path): defaults
SELECT mlpscale.decode_run_config('{"base_model_id": 42, "body_lr_mult": 0.1, "seed": -3}');
SELECT mlpscale.decode_run_config('{"arch": "B_1-Wi_8", "epochs": 2, "mean": [0.5, 0.25], "std": [0.1, 0.2]}')
       - 'lr' - 'mixup' AS old_config;
-- mean without std is dropped (the worker computes both), as mlp_train never stores it
SELECT mlpscale.decode_run_config('{"mean": [0.5]}')->'mean' AS mean_alone;
SELECT mlpscale.decode_run_config('{"lr": "fast"}');
SELECT mlpscale.decode_run_config('{"augment": 1}');
SELECT mlpscale.decode_run_config('{"mean": [1, 2, 3, 4, 5]}');
SELECT mlpscale.decode_run_config('{"matmul_precision": "fp16"}');
SELECT mlpscale.decode_run_config('[1, 2]');

-- PREPARE TRANSACTION cannot carry a queued run
BEGIN;
SELECT mlp_train('prepared', 'tiny', arch => 'B_1-Wi_8', epochs => 1) > 0 AS queued;
PREPARE TRANSACTION 'training_test';
SELECT count(*) AS prepared_rows FROM mlpscale.runs WHERE model_name = 'prepared';

DELETE FROM mlpscale.runs WHERE id = :run;
RESET search_path;
DROP SCHEMA training_test CASCADE;

-- runs that do not exist
SELECT mlp_wait(999999999);
SELECT mlp_cancel(999999999);
SELECT mlp_resume(999999999);
