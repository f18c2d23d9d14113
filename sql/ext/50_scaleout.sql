
-- ---------------------------------------------------------------------------------------
-- Scale-out: scoring with one pinned model version
-- ---------------------------------------------------------------------------------------
-- IMMUTABLE, unlike classify(model, img): a 'name@N' reference stands for one stored version,
-- which is read-only (mlpscale.refuse_model_change) and whose number is never given again
-- (mlpscale.model_versions_issued), so the result depends on the arguments alone.  That is
-- what lets postgres_fdw run them on the server that holds the rows, in the WHERE, GROUP BY
-- and ORDER BY ... LIMIT clauses it pushes down.

CREATE FUNCTION classify_pinned(model_ref text, img image) RETURNS int
    AS 'MODULE_PATHNAME', 'mlp_classify_pinned' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 1000;
COMMENT ON FUNCTION classify_pinned(text, image) IS
    'class number (from 0) that one model version (''name@N'') predicts for the image; immutable, so postgres_fdw can ship it';

CREATE FUNCTION predict_proba_pinned(model_ref text, img image) RETURNS real[]
    AS 'MODULE_PATHNAME', 'mlp_predict_proba_pinned' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 1000;
COMMENT ON FUNCTION predict_proba_pinned(text, image) IS
    'class probabilities of one model version (''name@N'') for the image; immutable, so postgres_fdw can ship it';
