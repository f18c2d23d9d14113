
-- ---------------------------------------------------------------------------------------
-- Training: runs in background workers
-- ---------------------------------------------------------------------------------------
-- mlp_train queues a run in the caller's transaction and returns its id; once the
-- transaction commits, the launcher starts a background worker for it (at most
-- mlpscale.max_concurrent_runs at a time).  Defaults follow the paper's recipe (LION,
-- label smoothing 0.3, MixUp 0.8, random-resized crop and flip, constant learning rate); the
-- architecture default B_6-Wi_512 is the paper's smallest bottleneck width that trains on a
-- CPU in reasonable time, and batch_size 1024 replaces the paper's 4096-16384, which needs
-- GPU memory and large datasets.  lr and weight_decay NULL mean the optimizer's defaults
-- (LION 5e-5 / 5e-5, AdamW 1e-3 / 0.05, SGD 0.01 / 0); seed NULL draws one (recorded in the
-- run's config); resolution NULL trains at the images' own size; classes NULL is the largest
-- label + 1; mean and std NULL are computed from the training images.  matmul_precision
-- 'bf16' rounds the operands of the matrix products to bfloat16 (sums stay float), which
-- trains up to about 1.9x faster on CPUs with AVX512_BF16 and is refused on others; 'fp32'
-- is the default.  train_size trains on a class-balanced subset: train_size / K rows of each
-- of the K classes of the source, those with the smallest mlp_subset_key(image, seed) in
-- their class (NULL: every row).  early_stop stops a run with validation once its
-- validation loss has not improved for that many epochs, and the best epoch's weights
-- become the model (NULL: off).  New arguments come last, so older positional calls mean
-- the same.

CREATE FUNCTION mlp_train(
    model_name      text,
    source          text,
    arch            text    DEFAULT 'B_6-Wi_512',
    epochs          integer DEFAULT 10,
    batch_size      integer DEFAULT 1024,
    optimizer       text    DEFAULT 'lion',
    lr              real    DEFAULT NULL,
    weight_decay    real    DEFAULT NULL,
    label_smoothing real    DEFAULT 0.3,
    mixup           real    DEFAULT 0.8,
    augment         boolean DEFAULT true,
    resolution      integer DEFAULT NULL,
    validation      text    DEFAULT NULL,
    seed            bigint  DEFAULT NULL,
    image_column    text    DEFAULT 'image',
    label_column    text    DEFAULT 'label',
    cosine          boolean DEFAULT false,
    clip_norm       real    DEFAULT NULL,
    classes         integer DEFAULT NULL,
    mean            real[]  DEFAULT NULL,
    std             real[]  DEFAULT NULL,
    matmul_precision text   DEFAULT 'fp32',
    train_size      bigint  DEFAULT NULL,
    early_stop      integer DEFAULT NULL)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'mlp_train' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mlp_train(text, text, text, integer, integer, text, real, real, real, real,
                              boolean, integer, text, bigint, text, text, boolean, real,
                              integer, real[], real[], text, bigint, integer) IS
    'queues a training run of a new model version from a table, view or SELECT of (image, label) rows and returns the run id; the work happens in a background worker once the transaction commits';

-- Fine-tuning (the paper's recipe): a fresh head for the new classes, SGD with momentum 0.9,
-- head lr 0.01, body lr 0.01 x body_lr_mult (0.1), gradient clipping at norm 1.0.  The input
-- shape and normalisation are the base model's; matmul_precision, train_size and early_stop
-- are as for mlp_train.
CREATE FUNCTION mlp_finetune(
    model_name      text,
    base_model      text,
    source          text,
    epochs          integer DEFAULT 10,
    batch_size      integer DEFAULT 1024,
    optimizer       text    DEFAULT 'sgd',
    lr              real    DEFAULT 0.01,
    weight_decay    real    DEFAULT NULL,
    label_smoothing real    DEFAULT 0.3,
    mixup           real    DEFAULT 0.8,
    augment         boolean DEFAULT true,
    resolution      integer DEFAULT NULL,
    validation      text    DEFAULT NULL,
    seed            bigint  DEFAULT NULL,
    image_column    text    DEFAULT 'image',
    label_column    text    DEFAULT 'label',
    cosine          boolean DEFAULT false,
    clip_norm       real    DEFAULT 1.0,
    classes         integer DEFAULT NULL,
    mean            real[]  DEFAULT NULL,
    std             real[]  DEFAULT NULL,
    body_lr_mult    real    DEFAULT 0.1,
    matmul_precision text   DEFAULT 'fp32',
    train_size      bigint  DEFAULT NULL,
    early_stop      integer DEFAULT NULL)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'mlp_finetune' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mlp_finetune(text, text, text, integer, integer, text, real, real, real,
                                 real, boolean, integer, text, bigint, text, text, boolean,
                                 real, integer, real[], real[], real, text, bigint, integer) IS
    'queues a fine-tuning run: the body of base_model with a new head for the classes of source; returns the run id';

-- The key that orders the rows of each class for train_size: a user rebuilds a run's subset
-- with row_number() OVER (PARTITION BY label ORDER BY mlp_subset_key(image, seed)) <= per_class.
CREATE FUNCTION mlp_subset_key(img image, seed bigint) RETURNS bigint
    AS 'MODULE_PATHNAME', 'mlp_subset_key' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mlp_subset_key(image, bigint) IS
    'the 64-bit hash of seed and the image (shape and pixels) by which train_size keeps the rows of each class with the smallest keys';

CREATE FUNCTION mlpscale.decode_run_config(config jsonb) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'mlp_decode_run_config' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mlpscale.decode_run_config(jsonb) IS
    'a run''s config as the training worker reads it, written back as mlp_train writes it (for tests of the config codec)';

CREATE FUNCTION mlp_wait(run_id bigint, timeout_seconds float8 DEFAULT NULL) RETURNS text
    AS 'MODULE_PATHNAME', 'mlp_wait' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mlp_wait(bigint, float8) IS
    'waits until the run has ended (or timeout_seconds have passed) and returns its status';

CREATE FUNCTION mlp_cancel(run_id bigint) RETURNS boolean
    AS 'MODULE_PATHNAME', 'mlp_cancel' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mlp_cancel(bigint) IS
    'cancels a queued run, or stops a running one after its current mini-batch (its last checkpoint becomes a model version); false when the run had already ended';

CREATE FUNCTION mlp_resume(run_id bigint) RETURNS bigint
    AS 'MODULE_PATHNAME', 'mlp_resume' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mlp_resume(bigint) IS
    'queues an interrupted, failed or canceled run again; it continues from its last checkpoint to the epochs it asked for';

-- ---------------------------------------------------------------------------------------
-- Monitoring
-- ---------------------------------------------------------------------------------------

CREATE FUNCTION mlpscale.progress_rows(
    OUT run_id bigint, OUT pid integer, OUT epoch integer, OUT epochs integer,
    OUT step bigint, OUT steps bigint, OUT loss float8, OUT images_per_second float8,
    OUT seconds_left float8, OUT started_at timestamptz, OUT updated_at timestamptz)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'mlp_progress_rows' LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION mlpscale.progress_rows() IS
    'live state of the training workers of this database (shared memory), for the runs the current role may see';

-- security_invoker: the runs it joins are those the caller may see (row-level security);
-- progress_rows() itself returns only the caller's runs.
CREATE VIEW mlpscale.progress WITH (security_invoker = true) AS
    SELECT p.run_id, r.model_name, r.arch, p.epoch, p.epochs, p.step, p.steps,
           p.loss, p.images_per_second,
           make_interval(secs => p.seconds_left) AS time_left,
           p.pid, p.started_at, p.updated_at
      FROM mlpscale.progress_rows() p
      JOIN mlpscale.runs r ON r.id = p.run_id;
COMMENT ON VIEW mlpscale.progress IS
    'running runs of the current role: epoch, step of steps, current loss, images per second and estimated time left';
GRANT SELECT ON mlpscale.progress TO PUBLIC;
