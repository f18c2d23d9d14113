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

-- ---- sweeps (scaling-studies issue) -----------------------------------------------------

CREATE TABLE mlpscale.sweep_definitions (
    id              bigserial PRIMARY KEY,
    name            text NOT NULL UNIQUE,
    owner           oid NOT NULL,
    source          text NOT NULL,
    grid            jsonb NOT NULL,
    trials          integer,
    trials_seed     bigint NOT NULL,
    arguments       jsonb NOT NULL,
    runs            integer NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    servers         text[]                  -- NULL: its runs are here; else where they went
);
COMMENT ON TABLE mlpscale.sweep_definitions IS 'one row per sweep: the grid and arguments it was queued with';
GRANT SELECT ON mlpscale.sweep_definitions TO PUBLIC;
ALTER TABLE mlpscale.sweep_definitions ENABLE ROW LEVEL SECURITY;
CREATE POLICY sweep_definitions_own ON mlpscale.sweep_definitions FOR SELECT TO PUBLIC
    USING (pg_catalog.pg_has_role(owner, 'USAGE'));
SELECT pg_catalog.pg_extension_config_dump('mlpscale.sweep_definitions', '');
SELECT pg_catalog.pg_extension_config_dump('mlpscale.sweep_definitions_id_seq', '');

-- The runs of a sweep spread over servers (mlp_sweep(..., servers)): where each went, the
-- statement that queued it (to queue it again elsewhere), and its status as last seen there.
CREATE TABLE mlpscale.sweep_remote_runs (
    sweep_id        bigint NOT NULL REFERENCES mlpscale.sweep_definitions (id) ON DELETE CASCADE,
    k               integer NOT NULL,       -- the run's number in the sweep (model 'sweep/k')
    server          text NOT NULL,
    remote_run_id   bigint NOT NULL,
    combination     jsonb NOT NULL,
    call_sql        text NOT NULL,          -- with %s for the remote mlpscale schema
    call_params     text[] NOT NULL,
    status          text NOT NULL DEFAULT 'queued',   -- a runs.status, or 'unreachable'
    started_at      timestamptz,
    finished_at     timestamptz,
    checked_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (sweep_id, k)
);
COMMENT ON TABLE mlpscale.sweep_remote_runs IS 'runs of sweeps spread over servers: where each runs and its status as last seen';
GRANT SELECT ON mlpscale.sweep_remote_runs TO PUBLIC;
ALTER TABLE mlpscale.sweep_remote_runs ENABLE ROW LEVEL SECURITY;
CREATE POLICY sweep_remote_runs_own ON mlpscale.sweep_remote_runs FOR SELECT TO PUBLIC
    USING (EXISTS (SELECT 1 FROM mlpscale.sweep_definitions s WHERE s.id OPERATOR(pg_catalog.=) sweep_id));
SELECT pg_catalog.pg_extension_config_dump('mlpscale.sweep_remote_runs', '');

ALTER TABLE mlpscale.runs ADD COLUMN sweep_id bigint REFERENCES mlpscale.sweep_definitions (id);
CREATE INDEX runs_sweep_idx ON mlpscale.runs (sweep_id) WHERE sweep_id IS NOT NULL;
-- ---------------------------------------------------------------------------------------
-- Sweeps: a grid of runs in one statement
-- ---------------------------------------------------------------------------------------
-- mlp_sweep queues one run per combination of the grid's values (or trials of them, drawn
-- with trials_seed), each checked as mlp_train checks its arguments, all in the caller's
-- transaction: an error in any of them queues nothing.  Every other argument is mlp_train's,
-- with the same default, and applies to every run.  Run k of sweep s makes the model 's/k'.
-- Called again with the same name and definition, it returns the existing sweep.

CREATE FUNCTION mlp_sweep(
    sweep_name      text,
    source          text,
    grid            jsonb,
    trials          integer DEFAULT NULL,
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
    early_stop      integer DEFAULT NULL,
    trials_seed     bigint  DEFAULT 0,
    servers         text[]  DEFAULT NULL)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'mlp_sweep' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mlp_sweep(text, text, jsonb, integer, text, integer, integer, text, real,
                              real, real, real, boolean, integer, text, bigint, text, text,
                              boolean, real, integer, real[], real[], text, bigint, integer,
                              bigint, text[]) IS
    'queues one training run per combination of the grid (a JSON object of mlp_train arguments to lists of values), or trials of them drawn at random, here or round robin on postgres_fdw servers; returns the sweep id';

CREATE FUNCTION mlp_wait_sweep(sweep_id bigint, timeout_seconds float8 DEFAULT NULL) RETURNS text
    AS 'MODULE_PATHNAME', 'mlp_wait_sweep' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mlp_wait_sweep(bigint, float8) IS
    'waits until no run of the sweep is queued or running (or timeout_seconds have passed) and returns the sweep''s status';

CREATE FUNCTION mlp_resume_sweep(sweep_id bigint, servers text[] DEFAULT NULL) RETURNS integer
    AS 'MODULE_PATHNAME', 'mlp_resume_sweep' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mlp_resume_sweep(bigint, text[]) IS
    'queues the sweep''s interrupted, failed, canceled or unreachable runs again (on their servers, or with servers, anew on those) and returns how many';

CREATE FUNCTION mlp_cancel_sweep(sweep_id bigint) RETURNS integer
    AS 'MODULE_PATHNAME', 'mlp_cancel_sweep' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mlp_cancel_sweep(bigint) IS
    'cancels every queued or running run of the sweep (as mlp_cancel does) and returns how many';

-- security_invoker: a role counts only the runs it may see, which are all the runs of its
-- own sweeps (those on other servers as last seen, see mlp_wait_sweep).  Status: queued
-- while every run is queued, running while any is queued or running, then failed,
-- interrupted (also: its server could not be reached) or canceled if any run ended so, else
-- succeeded.
CREATE VIEW mlpscale.sweeps WITH (security_invoker = true) AS
    SELECT s.id, s.name, pg_catalog.pg_get_userbyid(s.owner) AS owner, s.source, s.grid,
           s.trials, s.runs,
           count(*) FILTER (WHERE r.status = 'queued') AS queued,
           count(*) FILTER (WHERE r.status = 'running') AS running,
           count(*) FILTER (WHERE r.status = 'succeeded') AS succeeded,
           count(*) FILTER (WHERE r.status = 'failed') AS failed,
           count(*) FILTER (WHERE r.status = 'canceled') AS canceled,
           count(*) FILTER (WHERE r.status = 'interrupted') AS interrupted,
           CASE WHEN count(r.id) = 0 THEN 'empty'
                WHEN count(*) FILTER (WHERE r.status = 'queued') = count(r.id) THEN 'queued'
                WHEN count(*) FILTER (WHERE r.status IN ('queued', 'running')) > 0 THEN 'running'
                WHEN count(*) FILTER (WHERE r.status = 'failed') > 0 THEN 'failed'
                WHEN count(*) FILTER (WHERE r.status IN ('interrupted', 'unreachable')) > 0 THEN 'interrupted'
                WHEN count(*) FILTER (WHERE r.status = 'canceled') > 0 THEN 'canceled'
                ELSE 'succeeded' END AS status,
           s.created_at,
           min(r.started_at) AS started_at,
           CASE WHEN count(*) FILTER (WHERE r.status IN ('queued', 'running')) = 0
                THEN max(r.finished_at) END AS finished_at,
           extract(epoch FROM coalesce(
               CASE WHEN count(*) FILTER (WHERE r.status IN ('queued', 'running')) = 0
                    THEN max(r.finished_at) END, now()) - min(r.started_at))::float8 AS seconds,
           s.arguments, s.servers,
           count(*) FILTER (WHERE r.status = 'unreachable') AS unreachable
      FROM mlpscale.sweep_definitions s
      LEFT JOIN (SELECT sweep_id, id, status, started_at, finished_at
                   FROM mlpscale.runs WHERE sweep_id IS NOT NULL
                 UNION ALL
                 SELECT sweep_id, -k, status, started_at, finished_at
                   FROM mlpscale.sweep_remote_runs) r ON r.sweep_id = s.id
     GROUP BY s.id;
COMMENT ON VIEW mlpscale.sweeps IS
    'the sweeps of the current role: definition, runs by status, the status derived from them, and timings';
GRANT SELECT ON mlpscale.sweeps TO PUBLIC;

-- One row per succeeded run, in the terms of the paper.  compute is paper eq. 4: forward
-- FLOPs of one image x 3 x examples seen; errors are 1 - accuracy on the validation source
-- (NULL without one); best_epoch is the epoch of the lowest validation loss; seconds are
-- those of the training epochs.
CREATE VIEW mlpscale.results WITH (security_invoker = true) AS
    SELECT r.id AS run_id, r.sweep_id, s.name AS sweep, r.model_name, r.kind AS run_kind,
           r.arch,
           substring(r.arch FROM '^([BS])_') AS kind,
           substring(r.arch FROM '^[BS]_([0-9]+)')::integer AS depth,
           substring(r.arch FROM '-Wi_([0-9]+)')::integer AS width,
           CASE WHEN r.arch LIKE 'B\_%'
                THEN coalesce(substring(r.arch FROM '-X_([0-9]+)')::integer, 4) END AS expansion,
           r.params, r.train_rows AS train_size, r.epochs_done AS epochs,
           (r.config ->> 'batch_size')::integer AS batch_size,
           (r.config ->> 'augment')::boolean AS augment,
           (r.config ->> 'mixup')::real AS mixup,
           r.config ->> 'optimizer' AS optimizer,
           (r.config ->> 'lr')::real AS lr,
           (r.config ->> 'seed')::bigint AS seed,
           r.config ->> 'matmul_precision' AS matmul_precision,
           fin.examples_seen,
           r.flops_per_image * 3 * fin.examples_seen AS compute,
           agg.best_val_error, 1 - fin.val_accuracy AS final_val_error,
           agg.best_top5_error, 1 - fin.val_top5 AS final_top5_error,
           best.epoch AS best_epoch,
           agg.seconds
      FROM mlpscale.runs r
      LEFT JOIN mlpscale.sweep_definitions s ON s.id = r.sweep_id
      LEFT JOIN LATERAL (SELECT e.examples_seen, e.val_accuracy, e.val_top5
                           FROM mlpscale.epochs e WHERE e.run_id = r.id
                          ORDER BY e.epoch DESC LIMIT 1) fin ON true
      LEFT JOIN LATERAL (SELECT e.epoch FROM mlpscale.epochs e
                          WHERE e.run_id = r.id AND e.val_loss IS NOT NULL
                          ORDER BY e.val_loss, e.epoch LIMIT 1) best ON true
      LEFT JOIN LATERAL (SELECT 1 - max(e.val_accuracy) AS best_val_error,
                                1 - max(e.val_top5) AS best_top5_error,
                                sum(e.seconds) AS seconds
                           FROM mlpscale.epochs e WHERE e.run_id = r.id) agg ON true
     WHERE r.status = 'succeeded';
COMMENT ON VIEW mlpscale.results IS
    'one row per succeeded run of the current role: architecture, data, recipe, compute (paper eq. 4), best and final validation errors';
GRANT SELECT ON mlpscale.results TO PUBLIC;

CREATE FUNCTION mlp_sweep_results(sweep_id bigint) RETURNS SETOF mlpscale.results
    AS 'MODULE_PATHNAME', 'mlp_sweep_results' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mlp_sweep_results(bigint) IS
    'the mlpscale.results rows of a sweep''s succeeded runs, read from the servers they ran on (or from here)';

CREATE FUNCTION mlp_sweep_epochs(sweep_id bigint)
    RETURNS TABLE (k int, server text, run_id bigint, epoch int, train_loss float8,
                   train_accuracy float8, val_loss float8, val_accuracy float8, val_top5 float8,
                   examples_seen bigint, cumulative_flops float8, seconds float8)
    AS 'MODULE_PATHNAME', 'mlp_sweep_epochs' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mlp_sweep_epochs(bigint) IS
    'one row per epoch of the sweep''s runs (k of the model ''sweep/k'', the server, its run id there), read from the servers they ran on (or from here)';

-- ---- pinned model versions (scale-out issue) ------------------------------------------

ALTER TABLE mlpscale.models ADD COLUMN content_sha256 bytea;
UPDATE mlpscale.models SET content_sha256 = pg_catalog.sha256(weights);
ALTER TABLE mlpscale.models ALTER COLUMN content_sha256 SET NOT NULL;

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

CREATE TABLE mlpscale.model_versions_issued (
    name            text PRIMARY KEY,
    last_version    integer NOT NULL
);
COMMENT ON TABLE mlpscale.model_versions_issued IS 'the highest version number ever given to each model name';
INSERT INTO mlpscale.model_versions_issued (name, last_version)
    SELECT name, pg_catalog.max(version) FROM mlpscale.models GROUP BY name;
SELECT pg_catalog.pg_extension_config_dump('mlpscale.model_versions_issued', '');

-- ---------------------------------------------------------------------------------------
-- Scale-out: scoring with one pinned model version
-- ---------------------------------------------------------------------------------------
-- IMMUTABLE, unlike classify(model, img): a 'name@N' reference stands for one stored version,
-- which is read-only (mlpscale.refuse_model_change) and whose number is never given again
-- (mlpscale.model_versions_issued), so the result depends on the arguments alone.  That is
-- what lets postgres_fdw run them on the server that holds the rows, in the WHERE, GROUP BY
-- and ORDER BY ... LIMIT clauses it pushes down.

-- model_ref: the text 'name@N' of one version, checked on input.  Not collatable, unlike
-- text: postgres_fdw ships a call only when no input collation comes from outside the
-- foreign table's columns, and a text argument (even a literal) brings the default one.
CREATE TYPE model_ref;
CREATE FUNCTION model_ref_in(cstring) RETURNS model_ref
    AS 'MODULE_PATHNAME', 'mlp_model_ref_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION model_ref_out(model_ref) RETURNS cstring
    AS 'MODULE_PATHNAME', 'mlp_model_ref_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION model_ref_recv(internal) RETURNS model_ref
    AS 'MODULE_PATHNAME', 'mlp_model_ref_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION model_ref_send(model_ref) RETURNS bytea
    AS 'MODULE_PATHNAME', 'mlp_model_ref_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE model_ref (
    INPUT = model_ref_in, OUTPUT = model_ref_out,
    RECEIVE = model_ref_recv, SEND = model_ref_send,
    INTERNALLENGTH = VARIABLE, STORAGE = extended, CATEGORY = 'S');
COMMENT ON TYPE model_ref IS 'one model version, ''name@N'' (not collatable, so that postgres_fdw can ship classify_pinned)';
CREATE CAST (text AS model_ref) WITHOUT FUNCTION AS IMPLICIT;
CREATE CAST (model_ref AS text) WITHOUT FUNCTION AS ASSIGNMENT;

CREATE FUNCTION classify_pinned(model_ref model_ref, img image) RETURNS int
    AS 'MODULE_PATHNAME', 'mlp_classify_pinned' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 1000;
COMMENT ON FUNCTION classify_pinned(model_ref, image) IS
    'class number (from 0) that one model version (''name@N'') predicts for the image; immutable, so postgres_fdw can ship it';

CREATE FUNCTION predict_proba_pinned(model_ref model_ref, img image) RETURNS real[]
    AS 'MODULE_PATHNAME', 'mlp_predict_proba_pinned' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 1000;
COMMENT ON FUNCTION predict_proba_pinned(model_ref, image) IS
    'class probabilities of one model version (''name@N'') for the image; immutable, so postgres_fdw can ship it';

-- ---- test-time augmentation in mlp_evaluate (issue 12) -------------------------------------
-- Two arguments at the end, so positional calls keep their meaning; a new signature, so the
-- old function is dropped (nothing in the extension depends on it).
DROP FUNCTION mlp_evaluate(text, text, text, text);
CREATE FUNCTION mlp_evaluate(model text, source text, image_column text DEFAULT 'image',
                             label_column text DEFAULT 'label', tta int DEFAULT 0,
                             tta_seed bigint DEFAULT 0)
    RETURNS TABLE (n bigint, accuracy float8, top5 float8, loss float8)
    AS 'MODULE_PATHNAME', 'mlp_evaluate' LANGUAGE C VOLATILE PARALLEL RESTRICTED ROWS 1;
COMMENT ON FUNCTION mlp_evaluate(text, text, text, text, int, bigint) IS
    'top-1 and top-5 accuracy and mean cross-entropy (no smoothing) of the model on a labelled table, view or query; tta > 0 averages the softmax probabilities of that many random-resized crops with flips per image (0-64, seeded by tta_seed)';

-- ---- mlp_publish and scoring on servers (scale-out issue) ------------------------------
DROP FUNCTION mlp_import(text, bytea, int[], real[], real[], text[]);
CREATE FUNCTION mlp_import(model_name text, data bytea, input_shape int[] DEFAULT NULL,
                           mean real[] DEFAULT NULL, std real[] DEFAULT NULL,
                           class_names text[] DEFAULT NULL, version int DEFAULT NULL)
    RETURNS int
    AS 'MODULE_PATHNAME', 'mlp_import' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mlp_import(text, bytea, int[], real[], real[], text[], int) IS
    'stores a safetensors model (reference PyTorch tensor names) as a new version of model_name and returns the version; arguments override the file''s metadata; version => N stores exactly version N (nothing when it already holds the same content), as mlp_publish does';

DROP FUNCTION mlp_classify_batch(text, text);
CREATE FUNCTION mlp_classify_batch(model text, query text, servers text[] DEFAULT NULL)
    RETURNS TABLE (id bigint, class int, confidence real)
    AS 'MODULE_PATHNAME', 'mlp_classify_batch' LANGUAGE C VOLATILE PARALLEL RESTRICTED
    ROWS 1000;
COMMENT ON FUNCTION mlp_classify_batch(text, text, text[]) IS
    'classifies the (id, image) rows of a query in batches of mlpscale.scoring_batch_size through matrix-matrix products; confidence is the top probability; with servers (postgres_fdw servers holding the published version) the query runs and is scored on each of them at once, and the rows come back merged';

-- mlp_publish copies one version to a postgres_fdw foreign server (the caller's user mapping;
-- postgres_fdw's password rules) under the same 'name@N', through the remote's mlp_import(...,
-- version => N); both sides compare the SHA-256 of the stored weights before it commits.
CREATE FUNCTION mlp_publish(model_ref text, server text) RETURNS text
    AS 'MODULE_PATHNAME', 'mlp_publish' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION mlp_publish(text, text) IS
    'copies one model version to a postgres_fdw foreign server under the same name@N (a no-op when it is there already) and returns the reference';

-- ---- image_convert: channel conversion (issue 13) ---------------------------------------

CREATE FUNCTION image_convert(img image, channels int) RETURNS image
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION image_convert(image, int) IS
    'image with 1 (grey, BT.601 luma of RGB) or 3 (RGB, grey replicated) channels; alpha of 2 and 4 channels is dropped';

-- ---- the image type's storage (issue 13): main instead of extended ---------------------
-- New columns of type image keep their rows inline when they fit (the training read is
-- 1.6-1.8x faster, docs/performance.md); existing columns keep the storage they have.
ALTER TYPE image SET (STORAGE = main);
