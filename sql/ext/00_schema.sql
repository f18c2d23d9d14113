-- mlpscale extension script.  Assembled by the Makefile from sql/ext/*.sql in name order:
-- 00 schema and tables, 10 the image type, 20 models and scoring, 30 training.

\echo Use "CREATE EXTENSION mlpscale" to load this file. \quit

-- ---------------------------------------------------------------------------------------
-- Schema and experiment tables
-- ---------------------------------------------------------------------------------------
-- The tables are written only by the extension's functions, which switch to the extension
-- owner for bookkeeping.  Every role may select from them, but row-level security shows a
-- role only its own rows (those of roles whose privileges it has) and the models shared with
-- it; superusers and the extension owner see everything.

CREATE SCHEMA mlpscale;
GRANT USAGE ON SCHEMA mlpscale TO PUBLIC;

-- One row per sweep (mlp_sweep): its definition; its status and timings come from its runs
-- (the view mlpscale.sweeps).  arguments holds every other argument of the call, so that
-- calling mlp_sweep again with the same definition finds it.
CREATE TABLE mlpscale.sweep_definitions (
    id              bigserial PRIMARY KEY,
    name            text NOT NULL UNIQUE,
    owner           oid NOT NULL,           -- role that called mlp_sweep; its runs are this role's
    source          text NOT NULL,
    grid            jsonb NOT NULL,
    trials          integer,                -- NULL: every combination
    trials_seed     bigint NOT NULL,
    arguments       jsonb NOT NULL,
    runs            integer NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE mlpscale.sweep_definitions IS 'one row per sweep: the grid and arguments it was queued with';

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
    finished_at     timestamptz,
    best_epoch      integer,                -- runs with validation: the epoch of the lowest val_loss
    sweep_id        bigint REFERENCES mlpscale.sweep_definitions (id)   -- the sweep that queued it
);
COMMENT ON TABLE mlpscale.runs IS 'one row per training or fine-tuning run';
CREATE INDEX runs_status_idx ON mlpscale.runs (status) WHERE status IN ('queued', 'running');
CREATE INDEX runs_sweep_idx ON mlpscale.runs (sweep_id) WHERE sweep_id IS NOT NULL;

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
    content_sha256  bytea NOT NULL,         -- SHA-256 of weights: what 'name@N' stands for
    UNIQUE (name, version)
);
ALTER TABLE mlpscale.models ALTER COLUMN weights SET STORAGE EXTERNAL;
COMMENT ON TABLE mlpscale.models IS 'trained and imported models; a name means its latest version';

-- A stored version never changes what it computes: 'name@N' is a function of its content
-- (classify_pinned is IMMUTABLE on it, mlp_publish copies it by hash).  The extension's own
-- code never updates these columns; the trigger stops anyone else who could.
CREATE FUNCTION mlpscale.refuse_model_change() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'model version %@% is read-only', OLD.name, OLD.version
        USING ERRCODE = 'object_not_in_prerequisite_state',
              HINT = 'Store changed weights as a new version (mlp_import).';
END $$;
CREATE TRIGGER models_read_only
    BEFORE UPDATE OF name, version, arch, input_shape, classes, mean, std, weights, content_sha256
    ON mlpscale.models FOR EACH ROW EXECUTE FUNCTION mlpscale.refuse_model_change();

-- The highest version ever given to each model name, so that a dropped version's number is
-- never given again (a pinned 'name@N' must never come to mean other weights).
CREATE TABLE mlpscale.model_versions_issued (
    name            text PRIMARY KEY,
    last_version    integer NOT NULL
);
COMMENT ON TABLE mlpscale.model_versions_issued IS 'the highest version number ever given to each model name';

ALTER TABLE mlpscale.runs
    ADD FOREIGN KEY (model_id) REFERENCES mlpscale.models (id) ON DELETE SET NULL;

-- Last checkpoint of each run: parameters and optimizer state, for mlp_resume.
CREATE TABLE mlpscale.checkpoints (
    run_id          bigint PRIMARY KEY REFERENCES mlpscale.runs (id) ON DELETE CASCADE,
    epochs_done     integer NOT NULL,
    state           bytea NOT NULL,
    saved_at        timestamptz NOT NULL DEFAULT now(),
    best_epoch      integer,                -- early_stop: the epoch of the lowest val_loss
    best_state      bytea                   -- its checkpoint; null while that is state
);
ALTER TABLE mlpscale.checkpoints ALTER COLUMN state SET STORAGE EXTERNAL;
ALTER TABLE mlpscale.checkpoints ALTER COLUMN best_state SET STORAGE EXTERNAL;
COMMENT ON TABLE mlpscale.checkpoints IS 'last checkpoint of each run (parameters and optimizer state)';

-- The model that classify(image) uses in this database.
CREATE TABLE mlpscale.deployment (
    singleton       boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    model_name      text NOT NULL,
    deployed_at     timestamptz NOT NULL DEFAULT now(),
    deployed_by     oid NOT NULL
);
COMMENT ON TABLE mlpscale.deployment IS 'the deployed model of this database';

-- Models shared by their owner (mlp_grant): grantee 0 means every role (PUBLIC).  owner is
-- the model's owner, kept here so that the policies need not read mlpscale.models.
CREATE TABLE mlpscale.model_acl (
    model_name      text NOT NULL,
    grantee         oid NOT NULL,
    owner           oid NOT NULL,
    granted_by      oid NOT NULL,
    granted_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (model_name, grantee)
);
COMMENT ON TABLE mlpscale.model_acl IS 'models shared by their owners (grantee 0 = every role)';

GRANT SELECT ON mlpscale.runs, mlpscale.epochs, mlpscale.models, mlpscale.checkpoints,
    mlpscale.deployment, mlpscale.model_acl, mlpscale.sweep_definitions TO PUBLIC;

-- Privacy.  pg_has_role(r, 'USAGE') is true for r itself and the roles whose privileges the
-- current role has (members of r), the same rule as for owning a table.  The expressions
-- are bound when this script runs, so no caller's search_path can change them.
ALTER TABLE mlpscale.runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE mlpscale.epochs ENABLE ROW LEVEL SECURITY;
ALTER TABLE mlpscale.checkpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE mlpscale.models ENABLE ROW LEVEL SECURITY;
ALTER TABLE mlpscale.model_acl ENABLE ROW LEVEL SECURITY;
ALTER TABLE mlpscale.sweep_definitions ENABLE ROW LEVEL SECURITY;

CREATE POLICY runs_own ON mlpscale.runs FOR SELECT TO PUBLIC
    USING (pg_catalog.pg_has_role(run_as, 'USAGE'));
CREATE POLICY sweep_definitions_own ON mlpscale.sweep_definitions FOR SELECT TO PUBLIC
    USING (pg_catalog.pg_has_role(owner, 'USAGE'));
CREATE POLICY epochs_own ON mlpscale.epochs FOR SELECT TO PUBLIC
    USING (EXISTS (SELECT 1 FROM mlpscale.runs r WHERE r.id OPERATOR(pg_catalog.=) run_id));
CREATE POLICY checkpoints_own ON mlpscale.checkpoints FOR SELECT TO PUBLIC
    USING (EXISTS (SELECT 1 FROM mlpscale.runs r WHERE r.id OPERATOR(pg_catalog.=) run_id));
CREATE POLICY model_acl_visible ON mlpscale.model_acl FOR SELECT TO PUBLIC
    USING (grantee OPERATOR(pg_catalog.=) 0::pg_catalog.oid
           OR pg_catalog.pg_has_role(grantee, 'USAGE')
           OR pg_catalog.pg_has_role(owner, 'USAGE'));
CREATE POLICY models_own_or_shared ON mlpscale.models FOR SELECT TO PUBLIC
    USING (pg_catalog.pg_has_role(owner, 'USAGE')
           OR EXISTS (SELECT 1 FROM mlpscale.model_acl g
                       WHERE g.model_name OPERATOR(pg_catalog.=) name
                         AND (g.grantee OPERATOR(pg_catalog.=) 0::pg_catalog.oid
                              OR pg_catalog.pg_has_role(g.grantee, 'USAGE'))));

-- Column comments (\d+ shows them): what each column of the experiment tables holds.
COMMENT ON COLUMN mlpscale.runs.id IS 'run id, returned by mlp_train and mlp_finetune';
COMMENT ON COLUMN mlpscale.runs.model_name IS 'the model this run makes a new version of';
COMMENT ON COLUMN mlpscale.runs.kind IS 'train or finetune';
COMMENT ON COLUMN mlpscale.runs.status IS 'queued, running, succeeded, failed, canceled or interrupted';
COMMENT ON COLUMN mlpscale.runs.run_as IS 'role that queued the run: the worker reads the data as it, and it owns the run';
COMMENT ON COLUMN mlpscale.runs.database IS 'database of the run';
COMMENT ON COLUMN mlpscale.runs.source IS 'training data: a query, or the schema-qualified relation resolved when the run was queued';
COMMENT ON COLUMN mlpscale.runs.validation IS 'validation data, as source; null for none';
COMMENT ON COLUMN mlpscale.runs.base_model IS 'fine-tuning: the base model as name@version';
COMMENT ON COLUMN mlpscale.runs.arch IS 'architecture, e.g. B_6-Wi_512';
COMMENT ON COLUMN mlpscale.runs.epochs IS 'epochs asked for';
COMMENT ON COLUMN mlpscale.runs.epochs_done IS 'epochs finished and checkpointed';
COMMENT ON COLUMN mlpscale.runs.config IS 'every option of the run, defaults filled in';
COMMENT ON COLUMN mlpscale.runs.params IS 'parameter count of the model';
COMMENT ON COLUMN mlpscale.runs.flops_per_image IS 'forward FLOPs of one image';
COMMENT ON COLUMN mlpscale.runs.train_rows IS 'rows of the training data';
COMMENT ON COLUMN mlpscale.runs.validation_rows IS 'rows of the validation data';
COMMENT ON COLUMN mlpscale.runs.error IS 'why the run failed or stopped';
COMMENT ON COLUMN mlpscale.runs.cancel_requested IS 'mlp_cancel asked the running worker to stop';
COMMENT ON COLUMN mlpscale.runs.worker_pid IS 'process id of the worker while it runs';
COMMENT ON COLUMN mlpscale.runs.model_id IS 'the model version the run made';
COMMENT ON COLUMN mlpscale.runs.created_at IS 'when the run was queued';
COMMENT ON COLUMN mlpscale.runs.started_at IS 'when a worker first started it';
COMMENT ON COLUMN mlpscale.runs.finished_at IS 'when it last ended';
COMMENT ON COLUMN mlpscale.runs.best_epoch IS 'runs with validation: the epoch of the lowest val_loss so far (with early_stop, the epoch whose weights the model has)';
COMMENT ON COLUMN mlpscale.epochs.run_id IS 'the run';
COMMENT ON COLUMN mlpscale.epochs.epoch IS 'epoch number, from 1';
COMMENT ON COLUMN mlpscale.epochs.train_loss IS 'mean training loss of the epoch (with smoothing and MixUp)';
COMMENT ON COLUMN mlpscale.epochs.train_accuracy IS 'training accuracy of the epoch';
COMMENT ON COLUMN mlpscale.epochs.val_loss IS 'validation cross-entropy after the epoch';
COMMENT ON COLUMN mlpscale.epochs.val_accuracy IS 'validation top-1 accuracy after the epoch';
COMMENT ON COLUMN mlpscale.epochs.val_top5 IS 'validation top-5 accuracy after the epoch';
COMMENT ON COLUMN mlpscale.epochs.images_per_second IS 'training throughput of the epoch';
COMMENT ON COLUMN mlpscale.epochs.examples_seen IS 'training examples seen so far in the run';
COMMENT ON COLUMN mlpscale.epochs.cumulative_flops IS 'training compute so far: forward FLOPs x 3 x examples seen (paper eq. 4)';
COMMENT ON COLUMN mlpscale.epochs.lr IS 'learning rate of the epoch';
COMMENT ON COLUMN mlpscale.epochs.seconds IS 'wall time of the epoch';
COMMENT ON COLUMN mlpscale.epochs.finished_at IS 'when the epoch was committed';
COMMENT ON COLUMN mlpscale.models.id IS 'id of this version';
COMMENT ON COLUMN mlpscale.models.name IS 'model name; a name alone means its latest version';
COMMENT ON COLUMN mlpscale.models.version IS 'version, from 1; name@N refers to it';
COMMENT ON COLUMN mlpscale.models.arch IS 'architecture, e.g. B_6-Wi_512';
COMMENT ON COLUMN mlpscale.models.input_shape IS '{channels, height, width}';
COMMENT ON COLUMN mlpscale.models.classes IS 'number of classes';
COMMENT ON COLUMN mlpscale.models.mean IS 'per-channel mean on the 0-1 pixel scale';
COMMENT ON COLUMN mlpscale.models.std IS 'per-channel std on the 0-1 pixel scale';
COMMENT ON COLUMN mlpscale.models.class_names IS 'names of the classes, or null';
COMMENT ON COLUMN mlpscale.models.params IS 'parameter count';
COMMENT ON COLUMN mlpscale.models.weights IS 'safetensors file with the reference PyTorch tensor names';
COMMENT ON COLUMN mlpscale.models.run_id IS 'the run that made it; null when imported';
COMMENT ON COLUMN mlpscale.models.parent_model_id IS 'fine-tuning: the base model version';
COMMENT ON COLUMN mlpscale.models.owner IS 'role that owns the model name';
COMMENT ON COLUMN mlpscale.models.created_at IS 'when the version was stored';
COMMENT ON COLUMN mlpscale.checkpoints.run_id IS 'the run';
COMMENT ON COLUMN mlpscale.checkpoints.epochs_done IS 'epochs the checkpoint covers';
COMMENT ON COLUMN mlpscale.checkpoints.state IS 'parameters and optimizer state (private to the run''s role)';
COMMENT ON COLUMN mlpscale.checkpoints.saved_at IS 'when it was written';
COMMENT ON COLUMN mlpscale.checkpoints.best_epoch IS 'runs with early_stop: the epoch of the lowest val_loss, whose weights become the model';
COMMENT ON COLUMN mlpscale.checkpoints.best_state IS 'runs with early_stop: the checkpoint of best_epoch; null while that is state itself (best_epoch = epochs_done)';
COMMENT ON COLUMN mlpscale.deployment.model_name IS 'the model classify(image) uses (a name follows new versions)';
COMMENT ON COLUMN mlpscale.deployment.deployed_by IS 'role that deployed it';
COMMENT ON COLUMN mlpscale.model_acl.model_name IS 'the shared model (every version)';
COMMENT ON COLUMN mlpscale.model_acl.grantee IS 'role it is shared with; 0 = every role';
COMMENT ON COLUMN mlpscale.model_acl.owner IS 'owner of the model when it was shared';
COMMENT ON COLUMN mlpscale.model_acl.granted_by IS 'role that shared it';

SELECT pg_catalog.pg_extension_config_dump('mlpscale.runs', '');
SELECT pg_catalog.pg_extension_config_dump('mlpscale.runs_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mlpscale.epochs', '');
SELECT pg_catalog.pg_extension_config_dump('mlpscale.models', '');
SELECT pg_catalog.pg_extension_config_dump('mlpscale.models_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mlpscale.checkpoints', '');
SELECT pg_catalog.pg_extension_config_dump('mlpscale.deployment', '');
SELECT pg_catalog.pg_extension_config_dump('mlpscale.model_acl', '');
SELECT pg_catalog.pg_extension_config_dump('mlpscale.sweep_definitions', '');
SELECT pg_catalog.pg_extension_config_dump('mlpscale.model_versions_issued', '');
SELECT pg_catalog.pg_extension_config_dump('mlpscale.sweep_definitions_id_seq', '');
