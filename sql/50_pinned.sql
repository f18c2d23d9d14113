-- Pinned scoring: classify_pinned and predict_proba_pinned are IMMUTABLE over 'name@N', a
-- stored version is read-only, and a version number is never given twice.

CREATE SCHEMA pinned_test;
SET search_path = pinned_test, public;
\set ECHO none
\i test/fixtures/scoring_fixture.sql
\set ECHO all

SELECT mlp_import('pn', data) FROM fixture_files WHERE name = 'standard_meta';
SELECT mlp_import('pn', data) FROM fixture_files WHERE name = 'standard_meta';

-- Immutable and parallel safe, unlike classify(model, img).
SELECT p.proname, p.provolatile, p.proparallel, p.proisstrict
FROM pg_proc p WHERE p.proname IN ('classify_pinned', 'predict_proba_pinned', 'classify')
ORDER BY 1, 2;

-- Same answers as the name@N scoring of the same version.
SELECT count(*) AS images,
       bool_and(classify_pinned('pn@1', img) = classify('pn@1', img)) AS classes_equal,
       bool_and(predict_proba_pinned('pn@2', img) = predict_proba('pn@2', img)) AS probs_equal,
       bool_and(classify_pinned('pn@1', img) = torch_class) AS torch_classes
FROM fixture_images WHERE model = 'standard';

-- Only one version may be named.
SELECT classify_pinned('pn', img) FROM fixture_images WHERE model = 'standard' LIMIT 1;
SELECT predict_proba_pinned('pn', img) FROM fixture_images WHERE model = 'standard' LIMIT 1;
SELECT classify_pinned('pn@', img) FROM fixture_images WHERE model = 'standard' LIMIT 1;
SELECT classify_pinned('pn@0', img) FROM fixture_images WHERE model = 'standard' LIMIT 1;
SELECT classify_pinned('pn@x', img) FROM fixture_images WHERE model = 'standard' LIMIT 1;
SELECT classify_pinned('pn@9', img) FROM fixture_images WHERE model = 'standard' LIMIT 1;
SELECT classify_pinned('nosuch@1', img) FROM fixture_images WHERE model = 'standard' LIMIT 1;
SELECT classify_pinned(NULL, img) IS NULL AS strict FROM fixture_images WHERE model = 'standard' LIMIT 1;

-- Every version carries the SHA-256 of its weights.
SELECT count(*) AS versions, bool_and(content_sha256 = sha256(weights)) AS hashes_match,
       bool_and(length(content_sha256) = 32) AS sha256_length
FROM mlpscale.models WHERE name = 'pn';

-- A stored version is read-only: weights, shape, normalisation, name and number.
UPDATE mlpscale.models SET weights = weights || '\x00'::bytea WHERE name = 'pn' AND version = 1;
UPDATE mlpscale.models SET mean = ARRAY[0, 0, 0]::real[] WHERE name = 'pn' AND version = 1;
UPDATE mlpscale.models SET version = 7 WHERE name = 'pn' AND version = 1;
UPDATE mlpscale.models SET content_sha256 = NULL WHERE name = 'pn' AND version = 1;
-- class names do not change what it computes
UPDATE mlpscale.models SET class_names = class_names WHERE name = 'pn' AND version = 1;

-- A dropped version's number is not given again: the next import is version 3.
SELECT mlp_drop_model('pn@2');
SELECT mlp_import('pn', data) FROM fixture_files WHERE name = 'standard_meta';
SELECT version FROM mlpscale.models WHERE name = 'pn' ORDER BY version;
SELECT last_version FROM mlpscale.model_versions_issued WHERE name = 'pn';
SELECT classify_pinned('pn@2', img) FROM fixture_images WHERE model = 'standard' LIMIT 1;
-- and dropping every version keeps the count
SELECT mlp_drop_model('pn');
SELECT mlp_import('pn', data) FROM fixture_files WHERE name = 'standard_meta';
SELECT version FROM mlpscale.models WHERE name = 'pn' ORDER BY version;
SELECT mlp_drop_model('pn');

RESET search_path;
DROP SCHEMA pinned_test CASCADE;
