
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
