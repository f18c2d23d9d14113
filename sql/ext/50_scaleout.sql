
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

-- mlp_publish copies one version to a postgres_fdw foreign server (the caller's user mapping;
-- postgres_fdw's password rules) under the same 'name@N', through the remote's mlp_import(...,
-- version => N); both sides compare the SHA-256 of the stored weights before it commits.
CREATE FUNCTION mlp_publish(model_ref text, server text) RETURNS text
    AS 'MODULE_PATHNAME', 'mlp_publish' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION mlp_publish(text, text) IS
    'copies one model version to a postgres_fdw foreign server under the same name@N (a no-op when it is there already) and returns the reference';
