
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

-- Sharing: a model (every version of a name) is private to its owner until shared.  A
-- grantee may score it, export it and fine-tune from it; only the owner may drop, deploy,
-- add versions or share it.  role_name 'public' shares with every role.
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
                             label_column text DEFAULT 'label', tta int DEFAULT 0,
                             tta_seed bigint DEFAULT 0)
    RETURNS TABLE (n bigint, accuracy float8, top5 float8, loss float8)
    AS 'MODULE_PATHNAME', 'mlp_evaluate' LANGUAGE C VOLATILE PARALLEL RESTRICTED ROWS 1;
COMMENT ON FUNCTION mlp_evaluate(text, text, text, text, int, bigint) IS
    'top-1 and top-5 accuracy and mean cross-entropy (no smoothing) of the model on a labelled table, view or query; tta > 0 averages the softmax probabilities of that many random-resized crops with flips per image (0-64, seeded by tta_seed)';
