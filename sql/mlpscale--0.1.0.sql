-- mlpscale extension script.  Assembled by the Makefile from sql/ext/*.sql in name order:
-- 00 schema and tables, 10 the image type, 20 models and scoring, 30 training.

\echo Use "CREATE EXTENSION mlpscale" to load this file. \quit

-- ---------------------------------------------------------------------------------------
-- Schema and experiment tables
-- ---------------------------------------------------------------------------------------
-- The tables are written only by the extension's functions, which switch to the extension
-- owner for bookkeeping; every role may read them.

CREATE SCHEMA mlpscale;
GRANT USAGE ON SCHEMA mlpscale TO PUBLIC;

CREATE TABLE mlpscale.runs (
    id              bigserial PRIMARY KEY,
    model_name      text NOT NULL,
    kind            text NOT NULL DEFAULT 'train' CHECK (kind IN ('train', 'finetune')),
    status          text NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'canceled',
                                      'interrupted')),
    run_as          oid NOT NULL,           -- role that called mlp_train; the worker runs as it
    database        oid NOT NULL,
    source          text NOT NULL,
    validation      text,
    base_model      text,                   -- fine-tuning: the model it starts from
    arch            text NOT NULL,
    epochs          integer NOT NULL,
    epochs_done     integer NOT NULL DEFAULT 0,
    config          jsonb NOT NULL,         -- every hyperparameter, defaults filled in
    params          bigint,                 -- parameter count
    flops_per_image float8,                 -- forward FLOPs of one image
    train_rows      bigint,
    validation_rows bigint,
    error           text,
    cancel_requested boolean NOT NULL DEFAULT false,
    worker_pid      integer,
    model_id        bigint,                 -- the model version this run made
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz
);
COMMENT ON TABLE mlpscale.runs IS 'one row per training or fine-tuning run';
CREATE INDEX runs_status_idx ON mlpscale.runs (status) WHERE status IN ('queued', 'running');

CREATE TABLE mlpscale.epochs (
    run_id          bigint NOT NULL REFERENCES mlpscale.runs (id) ON DELETE CASCADE,
    epoch           integer NOT NULL,       -- 1-based
    train_loss      float8,
    train_accuracy  float8,
    val_loss        float8,
    val_accuracy    float8,
    val_top5        float8,
    images_per_second float8,
    examples_seen   bigint,                 -- cumulative over the run
    cumulative_flops float8,                -- forward FLOPs x 3 x examples seen (paper eq. 4)
    lr              float8,
    seconds         float8,
    finished_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, epoch)
);
COMMENT ON TABLE mlpscale.epochs IS 'one row per run and completed epoch';

CREATE TABLE mlpscale.models (
    id              bigserial PRIMARY KEY,
    name            text NOT NULL,
    version         integer NOT NULL,
    arch            text NOT NULL,
    input_shape     integer[] NOT NULL,     -- {channels, height, width}
    classes         integer NOT NULL,
    mean            real[] NOT NULL,        -- per channel, 0-1 pixel scale
    std             real[] NOT NULL,
    class_names     text[],
    params          bigint NOT NULL,
    weights         bytea NOT NULL,         -- safetensors, reference PyTorch tensor names
    run_id          bigint REFERENCES mlpscale.runs (id) ON DELETE SET NULL,
    parent_model_id bigint REFERENCES mlpscale.models (id) ON DELETE SET NULL,
    owner           oid NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (name, version)
);
ALTER TABLE mlpscale.models ALTER COLUMN weights SET STORAGE EXTERNAL;
COMMENT ON TABLE mlpscale.models IS 'trained and imported models; a name means its latest version';

ALTER TABLE mlpscale.runs
    ADD FOREIGN KEY (model_id) REFERENCES mlpscale.models (id) ON DELETE SET NULL;

-- Last checkpoint of each run: parameters and optimizer state, for mlp_resume.
CREATE TABLE mlpscale.checkpoints (
    run_id          bigint PRIMARY KEY REFERENCES mlpscale.runs (id) ON DELETE CASCADE,
    epochs_done     integer NOT NULL,
    state           bytea NOT NULL,
    saved_at        timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE mlpscale.checkpoints ALTER COLUMN state SET STORAGE EXTERNAL;
COMMENT ON TABLE mlpscale.checkpoints IS 'last checkpoint of each run (parameters and optimizer state)';

-- The model that classify(image) uses in this database.
CREATE TABLE mlpscale.deployment (
    singleton       boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    model_name      text NOT NULL,
    deployed_at     timestamptz NOT NULL DEFAULT now(),
    deployed_by     oid NOT NULL
);
COMMENT ON TABLE mlpscale.deployment IS 'the deployed model of this database';

GRANT SELECT ON mlpscale.runs, mlpscale.epochs, mlpscale.models, mlpscale.checkpoints,
    mlpscale.deployment TO PUBLIC;

SELECT pg_catalog.pg_extension_config_dump('mlpscale.runs', '');
SELECT pg_catalog.pg_extension_config_dump('mlpscale.runs_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mlpscale.epochs', '');
SELECT pg_catalog.pg_extension_config_dump('mlpscale.models', '');
SELECT pg_catalog.pg_extension_config_dump('mlpscale.models_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mlpscale.checkpoints', '');
SELECT pg_catalog.pg_extension_config_dump('mlpscale.deployment', '');

-- ---------------------------------------------------------------------------------------
-- The image type: uint8 (channels, height, width), planar
-- ---------------------------------------------------------------------------------------

CREATE TYPE image;

CREATE FUNCTION image_in(cstring) RETURNS image
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION image_out(image) RETURNS cstring
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION image_recv(internal) RETURNS image
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION image_send(image) RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE image (
    INPUT = image_in,
    OUTPUT = image_out,
    RECEIVE = image_recv,
    SEND = image_send,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = int4,
    STORAGE = extended
);
COMMENT ON TYPE image IS
    'uint8 image tensor (channels, height, width), planar; text form CxHxW:hex';

-- Constructors

CREATE FUNCTION image_from_bytes(data bytea, channels int, height int, width int) RETURNS image
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION image_from_bytes(bytea, int, int, int) IS
    'image from raw planar bytes: all of channel 0 row by row, then channel 1, ...';

CREATE FUNCTION image_decode(data bytea) RETURNS image
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION image_decode(bytea) IS
    'image from a PNG or JPEG file (grey gives 1 channel, colour 3; alpha is dropped)';

-- Accessors and conversions

CREATE FUNCTION image_channels(image) RETURNS int
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION image_channels(image) IS 'number of channels of an image';

CREATE FUNCTION image_height(image) RETURNS int
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION image_height(image) IS 'height of an image in pixels';

CREATE FUNCTION image_width(image) RETURNS int
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION image_width(image) IS 'width of an image in pixels';

CREATE FUNCTION image_to_bytes(image) RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION image_to_bytes(image) IS
    'raw planar bytes of an image (the inverse of image_from_bytes)';

CREATE FUNCTION image_encode_png(image) RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION image_encode_png(image) IS
    'PNG file of a grey (1 channel) or RGB (3 channel) image';

CREATE FUNCTION image_resize(img image, height int, width int) RETURNS image
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION image_resize(image, int, int) IS
    'image resized to height x width with area resampling (box filter)';

-- Equality

CREATE FUNCTION image_eq(image, image) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION image_eq(image, image) IS 'true when two images have the same shape and pixels';

CREATE OPERATOR = (
    LEFTARG = image,
    RIGHTARG = image,
    PROCEDURE = image_eq,
    COMMUTATOR = =,
    RESTRICT = eqsel,
    JOIN = eqjoinsel
);
COMMENT ON OPERATOR =(image, image) IS 'same shape and pixels';

-- ---------------------------------------------------------------------------------------
-- Models: import, export, deployment
-- ---------------------------------------------------------------------------------------
-- A model reference is a name, meaning its latest version, or 'name@N' for version N.

CREATE FUNCTION mlp_import(model_name text, data bytea, input_shape int[] DEFAULT NULL,
                           mean real[] DEFAULT NULL, std real[] DEFAULT NULL,
                           class_names text[] DEFAULT NULL) RETURNS int
    AS 'MODULE_PATHNAME', 'mlp_import' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mlp_import(text, bytea, int[], real[], real[], text[]) IS
    'stores a safetensors model (reference PyTorch tensor names) as a new version of model_name and returns the version; arguments override the file''s metadata';

CREATE FUNCTION mlp_export(model text) RETURNS bytea
    AS 'MODULE_PATHNAME', 'mlp_export' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mlp_export(text) IS
    'the model as a safetensors file with its metadata (loads in PyTorch with load_state_dict(strict=True))';

CREATE FUNCTION mlp_deploy(model text) RETURNS void
    AS 'MODULE_PATHNAME', 'mlp_deploy' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION mlp_deploy(text) IS
    'makes the model the one classify(image) uses in this database (a bare name follows new versions); only the model''s owner or a superuser may deploy it';

CREATE FUNCTION mlp_drop_model(model text) RETURNS int
    AS 'MODULE_PATHNAME', 'mlp_drop_model' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION mlp_drop_model(text) IS
    'deletes every version of a model (or only version N of ''name@N'') and returns how many were deleted; owner or superuser only';

-- ---------------------------------------------------------------------------------------
-- Scoring
-- ---------------------------------------------------------------------------------------
-- Per-row functions read the model once per backend and statement (see mlpscale.model_cache_size);
-- images are normalised with the model's mean and std, and area-resized when only their height
-- and width differ from the model's input.  A forward pass costs far more than an operator:
-- the declared COST lets the planner choose parallel plans for scoring queries.

CREATE FUNCTION classify(model text, img image) RETURNS int
    AS 'MODULE_PATHNAME', 'mlp_classify' LANGUAGE C STABLE STRICT PARALLEL SAFE COST 1000;
COMMENT ON FUNCTION classify(text, image) IS 'class number (from 0) the model predicts for the image';

CREATE FUNCTION classify(img image) RETURNS int
    AS 'MODULE_PATHNAME', 'mlp_classify_deployed' LANGUAGE C STABLE STRICT PARALLEL SAFE COST 1000;
COMMENT ON FUNCTION classify(image) IS 'class number the deployed model (mlp_deploy) predicts for the image';

CREATE FUNCTION classify_label(model text, img image) RETURNS text
    AS 'MODULE_PATHNAME', 'mlp_classify_label' LANGUAGE C STABLE STRICT PARALLEL SAFE COST 1000;
COMMENT ON FUNCTION classify_label(text, image) IS
    'class name the model predicts for the image (the class number as text when the model has no class names)';

CREATE FUNCTION predict_proba(model text, img image) RETURNS real[]
    AS 'MODULE_PATHNAME', 'mlp_predict_proba' LANGUAGE C STABLE STRICT PARALLEL SAFE COST 1000;
COMMENT ON FUNCTION predict_proba(text, image) IS
    'softmax probabilities of every class; element i + 1 is class i';

CREATE FUNCTION classify_topk(model text, img image, k int DEFAULT 5)
    RETURNS TABLE (rank int, class int, class_name text, probability real)
    AS 'MODULE_PATHNAME', 'mlp_classify_topk' LANGUAGE C STABLE STRICT PARALLEL SAFE COST 1000 ROWS 5;
COMMENT ON FUNCTION classify_topk(text, image, int) IS
    'the k most probable classes of the image, most probable first';

-- These two run the caller's SQL, which may read temporary tables: not in parallel workers.
CREATE FUNCTION mlp_classify_batch(model text, query text)
    RETURNS TABLE (id bigint, class int, confidence real)
    AS 'MODULE_PATHNAME', 'mlp_classify_batch' LANGUAGE C VOLATILE PARALLEL RESTRICTED
    ROWS 1000;
COMMENT ON FUNCTION mlp_classify_batch(text, text) IS
    'classifies the (id, image) rows of a query in batches of mlpscale.scoring_batch_size through matrix-matrix products; confidence is the top probability';

CREATE FUNCTION mlp_evaluate(model text, source text, image_column text DEFAULT 'image',
                             label_column text DEFAULT 'label')
    RETURNS TABLE (n bigint, accuracy float8, top5 float8, loss float8)
    AS 'MODULE_PATHNAME', 'mlp_evaluate' LANGUAGE C VOLATILE PARALLEL RESTRICTED ROWS 1;
COMMENT ON FUNCTION mlp_evaluate(text, text, text, text) IS
    'top-1 and top-5 accuracy and mean cross-entropy (no smoothing) of the model on a labelled table, view or query';

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
-- is the default.  It is the last argument so that older positional calls mean the same.

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
    matmul_precision text   DEFAULT 'fp32')
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'mlp_train' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mlp_train(text, text, text, integer, integer, text, real, real, real, real,
                              boolean, integer, text, bigint, text, text, boolean, real,
                              integer, real[], real[], text) IS
    'queues a training run of a new model version from a table, view or SELECT of (image, label) rows and returns the run id; the work happens in a background worker once the transaction commits';

-- Fine-tuning (the paper's recipe): a fresh head for the new classes, SGD with momentum 0.9,
-- head lr 0.01, body lr 0.01 x body_lr_mult (0.1), gradient clipping at norm 1.0.  The input
-- shape and normalisation are the base model's; matmul_precision is as for mlp_train.
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
    matmul_precision text   DEFAULT 'fp32')
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'mlp_finetune' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mlp_finetune(text, text, text, integer, integer, text, real, real, real,
                                 real, boolean, integer, text, bigint, text, text, boolean,
                                 real, integer, real[], real[], real, text) IS
    'queues a fine-tuning run: the body of base_model with a new head for the classes of source; returns the run id';

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
    'live state of the training workers of this database (shared memory)';

CREATE VIEW mlpscale.progress AS
    SELECT p.run_id, r.model_name, r.arch, p.epoch, p.epochs, p.step, p.steps,
           p.loss, p.images_per_second,
           make_interval(secs => p.seconds_left) AS time_left,
           p.pid, p.started_at, p.updated_at
      FROM mlpscale.progress_rows() p
      LEFT JOIN mlpscale.runs r ON r.id = p.run_id;
COMMENT ON VIEW mlpscale.progress IS
    'running runs: epoch, step of steps, current loss, images per second and estimated time left';
GRANT SELECT ON mlpscale.progress TO PUBLIC;
