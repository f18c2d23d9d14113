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
