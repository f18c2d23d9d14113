
-- ---------------------------------------------------------------------------------------
-- Scaling studies: fits over the caller's runs
-- ---------------------------------------------------------------------------------------
-- Both read the rows of a query as the caller (like mlp_classify_batch), so they are
-- VOLATILE PARALLEL RESTRICTED.  The columns are found by name, or are the query's first
-- columns in order when none of the names is there; any numeric type.

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
    trials_seed     bigint  DEFAULT 0)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'mlp_sweep' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mlp_sweep(text, text, jsonb, integer, text, integer, integer, text, real,
                              real, real, real, boolean, integer, text, bigint, text, text,
                              boolean, real, integer, real[], real[], text, bigint, integer,
                              bigint) IS
    'queues one training run per combination of the grid (a JSON object of mlp_train arguments to lists of values), or trials of them drawn at random; returns the sweep id';

CREATE FUNCTION mlp_wait_sweep(sweep_id bigint, timeout_seconds float8 DEFAULT NULL) RETURNS text
    AS 'MODULE_PATHNAME', 'mlp_wait_sweep' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mlp_wait_sweep(bigint, float8) IS
    'waits until no run of the sweep is queued or running (or timeout_seconds have passed) and returns the sweep''s status';

CREATE FUNCTION mlp_cancel_sweep(sweep_id bigint) RETURNS integer
    AS 'MODULE_PATHNAME', 'mlp_cancel_sweep' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mlp_cancel_sweep(bigint) IS
    'cancels every queued or running run of the sweep (as mlp_cancel does) and returns how many';

-- security_invoker: a role counts only the runs it may see, which are all the runs of its
-- own sweeps.  Status: queued while every run is queued, running while any is queued or
-- running, then failed, interrupted or canceled if any run ended so, else succeeded.
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
                WHEN count(*) FILTER (WHERE r.status = 'interrupted') > 0 THEN 'interrupted'
                WHEN count(*) FILTER (WHERE r.status = 'canceled') > 0 THEN 'canceled'
                ELSE 'succeeded' END AS status,
           s.created_at,
           min(r.started_at) AS started_at,
           CASE WHEN count(*) FILTER (WHERE r.status IN ('queued', 'running')) = 0
                THEN max(r.finished_at) END AS finished_at,
           extract(epoch FROM coalesce(
               CASE WHEN count(*) FILTER (WHERE r.status IN ('queued', 'running')) = 0
                    THEN max(r.finished_at) END, now()) - min(r.started_at))::float8 AS seconds,
           s.arguments
      FROM mlpscale.sweep_definitions s
      LEFT JOIN mlpscale.runs r ON r.sweep_id = s.id
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
