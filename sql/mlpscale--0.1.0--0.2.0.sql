-- mlpscale upgrade script from 0.1.0 to 0.2.0.
--
-- Every change to an SQL object in sql/ext (the 0.2.0 script) is also made here, in the same
-- commit, so that ALTER EXTENSION mlpscale UPDATE turns a 0.1.0 database into exactly what
-- CREATE EXTENSION mlpscale builds; test/upgrade/upgrade_test.sh compares the two catalogs.
-- Existing rows (runs, epochs, checkpoints, models) must survive every statement.

\echo Use "ALTER EXTENSION mlpscale UPDATE TO '0.2.0'" to load this file. \quit

-- ---- privacy: row-level security and model sharing (security issue) --------------------

CREATE TABLE mlpscale.model_acl (
    model_name      text NOT NULL,
    grantee         oid NOT NULL,
    owner           oid NOT NULL,
    granted_by      oid NOT NULL,
    granted_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (model_name, grantee)
);
COMMENT ON TABLE mlpscale.model_acl IS 'models shared by their owners (grantee 0 = every role)';
GRANT SELECT ON mlpscale.model_acl TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('mlpscale.model_acl', '');

ALTER TABLE mlpscale.runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE mlpscale.epochs ENABLE ROW LEVEL SECURITY;
ALTER TABLE mlpscale.checkpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE mlpscale.models ENABLE ROW LEVEL SECURITY;
ALTER TABLE mlpscale.model_acl ENABLE ROW LEVEL SECURITY;

CREATE POLICY runs_own ON mlpscale.runs FOR SELECT TO PUBLIC
    USING (pg_catalog.pg_has_role(run_as, 'USAGE'));
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

CREATE FUNCTION mlp_grant(model text, role_name text) RETURNS void
    AS 'MODULE_PATHNAME', 'mlp_grant' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION mlp_grant(text, text) IS
    'shares a model (all its versions) with a role, or with every role when role_name is ''public''; owner or superuser only';

CREATE FUNCTION mlp_revoke(model text, role_name text) RETURNS void
    AS 'MODULE_PATHNAME', 'mlp_revoke' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION mlp_revoke(text, text) IS
    'stops sharing a model with a role (or with every role: ''public''); owner or superuser only';

CREATE VIEW mlpscale.model_grants WITH (security_invoker = true) AS
    SELECT g.model_name,
           CASE WHEN g.grantee OPERATOR(pg_catalog.=) 0::pg_catalog.oid THEN 'public'
                ELSE pg_catalog.pg_get_userbyid(g.grantee)::pg_catalog.text END AS grantee,
           pg_catalog.pg_get_userbyid(g.owner) AS owner,
           pg_catalog.pg_get_userbyid(g.granted_by) AS granted_by,
           g.granted_at
      FROM mlpscale.model_acl g;
COMMENT ON VIEW mlpscale.model_grants IS
    'who each model is shared with (mlp_grant); a role sees the shares of its models and those made to it';
GRANT SELECT ON mlpscale.model_grants TO PUBLIC;

CREATE OR REPLACE VIEW mlpscale.progress WITH (security_invoker = true) AS
    SELECT p.run_id, r.model_name, r.arch, p.epoch, p.epochs, p.step, p.steps,
           p.loss, p.images_per_second,
           make_interval(secs => p.seconds_left) AS time_left,
           p.pid, p.started_at, p.updated_at
      FROM mlpscale.progress_rows() p
      JOIN mlpscale.runs r ON r.id = p.run_id;
COMMENT ON VIEW mlpscale.progress IS
    'running runs of the current role: epoch, step of steps, current loss, images per second and estimated time left';
COMMENT ON FUNCTION mlpscale.progress_rows() IS
    'live state of the training workers of this database (shared memory), for the runs the current role may see';

-- ---- the run-config codec (maintainability issue) ----------------------------------------

CREATE FUNCTION mlpscale.decode_run_config(config jsonb) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'mlp_decode_run_config' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mlpscale.decode_run_config(jsonb) IS
    'a run''s config as the training worker reads it, written back as mlp_train writes it (for tests of the config codec)';

-- ---- runs queued before the update ------------------------------------------------------
-- The sweeper leaves the queued runs of a database at another version than the library's;
-- they are posted to the launcher when this update commits.  The function is not part of
-- 0.2.0: created and dropped here.
CREATE FUNCTION mlpscale.post_queued_runs() RETURNS int
    AS 'MODULE_PATHNAME', 'mlp_post_queued_runs' LANGUAGE C VOLATILE;
SELECT mlpscale.post_queued_runs();
DROP FUNCTION mlpscale.post_queued_runs();

-- ---- column comments (maintainability issue) ---------------------------------------------
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
COMMENT ON COLUMN mlpscale.deployment.model_name IS 'the model classify(image) uses (a name follows new versions)';
COMMENT ON COLUMN mlpscale.deployment.deployed_by IS 'role that deployed it';
COMMENT ON COLUMN mlpscale.model_acl.model_name IS 'the shared model (every version)';
COMMENT ON COLUMN mlpscale.model_acl.grantee IS 'role it is shared with; 0 = every role';
COMMENT ON COLUMN mlpscale.model_acl.owner IS 'owner of the model when it was shared';
COMMENT ON COLUMN mlpscale.model_acl.granted_by IS 'role that shared it';

-- ---- scaling studies: the fits (scaling-studies issue) ------------------------------------
CREATE FUNCTION mlp_fit_power_law(query text, max_iterations int DEFAULT 1000)
    RETURNS TABLE (a float8, b float8, alpha float8, e_inf float8, rmse float8, n int)
    AS 'MODULE_PATHNAME', 'mlp_fit_power_law' LANGUAGE C VOLATILE PARALLEL RESTRICTED ROWS 1;
COMMENT ON FUNCTION mlp_fit_power_law(text, int) IS
    'fits E(C) = a*(b + C)^(-alpha) + e_inf to the (compute, error) rows of a query by bounded Levenberg-Marquardt (a, alpha > 0, b >= 0, 0 <= e_inf < min error)';

CREATE FUNCTION mlp_compute_optimal(query text)
    RETURNS TABLE (quantity text, exponent float8, coefficient float8, r2 float8, points int)
    AS 'MODULE_PATHNAME', 'mlp_compute_optimal' LANGUAGE C VOLATILE PARALLEL RESTRICTED ROWS 2;
COMMENT ON FUNCTION mlp_compute_optimal(text) IS
    'the compute-optimal frontier of the (compute, error, params, examples) rows of a query (the lowest error per third of a decade of compute) and params* = coefficient*C^exponent, examples* likewise, fitted in log space';

-- ---- train_size and early_stop (issue 12) -----------------------------------------------
ALTER TABLE mlpscale.runs ADD COLUMN best_epoch integer;
ALTER TABLE mlpscale.checkpoints ADD COLUMN best_epoch integer, ADD COLUMN best_state bytea;
ALTER TABLE mlpscale.checkpoints ALTER COLUMN best_state SET STORAGE EXTERNAL;
COMMENT ON COLUMN mlpscale.runs.best_epoch IS 'runs with validation: the epoch of the lowest val_loss so far (with early_stop, the epoch whose weights the model has)';
COMMENT ON COLUMN mlpscale.checkpoints.best_epoch IS 'runs with early_stop: the epoch of the lowest val_loss, whose weights become the model';
COMMENT ON COLUMN mlpscale.checkpoints.best_state IS 'runs with early_stop: the checkpoint of best_epoch; null while that is state itself (best_epoch = epochs_done)';

-- The signatures gain train_size and early_stop at their end: the old ones go (no grants
-- were made on them; EXECUTE is PUBLIC's by default).
DROP FUNCTION mlp_train(text, text, text, integer, integer, text, real, real, real, real,
                        boolean, integer, text, bigint, text, text, boolean, real,
                        integer, real[], real[], text);
DROP FUNCTION mlp_finetune(text, text, text, integer, integer, text, real, real, real,
                           real, boolean, integer, text, bigint, text, text, boolean,
                           real, integer, real[], real[], real, text);
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

CREATE FUNCTION mlp_subset_key(img image, seed bigint) RETURNS bigint
    AS 'MODULE_PATHNAME', 'mlp_subset_key' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mlp_subset_key(image, bigint) IS
    'the 64-bit hash of seed and the image (shape and pixels) by which train_size keeps the rows of each class with the smallest keys';
