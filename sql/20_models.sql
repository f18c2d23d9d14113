-- Models: mlp_import, mlp_export, versions, ownership, mlp_deploy, mlp_drop_model.
-- The fixture holds small PyTorch models written as safetensors by
-- test/fixtures/make_scoring_fixture.py.

CREATE SCHEMA models_test;
SET search_path = models_test, public;
\set ECHO none
\i test/fixtures/scoring_fixture.sql
\set ECHO all
SELECT name, length(data) > 0 AS has_data FROM fixture_files ORDER BY name;

-- Declared volatility and parallel safety, and a comment on every object
SELECT p.oid::regprocedure AS function, p.provolatile, p.proparallel, p.proisstrict,
       obj_description(p.oid, 'pg_proc') IS NOT NULL AS commented
FROM pg_proc p
WHERE p.proname IN ('mlp_import', 'mlp_export', 'mlp_deploy', 'mlp_drop_model', 'classify',
                    'classify_label', 'predict_proba', 'classify_topk', 'mlp_classify_batch',
                    'mlp_evaluate')
ORDER BY 1::text;

-- A bare PyTorch state dict needs the input shape; mean and std default to 0 and 1
SELECT mlp_import('fx_bare', data) FROM fixture_files WHERE name = 'bottleneck_bare';
SELECT mlp_import('fx_bottleneck', data, input_shape => ARRAY[3, 8, 8],
                  mean => ARRAY[0.4914, 0.4822, 0.4465], std => ARRAY[0.2470, 0.2435, 0.2616])
FROM fixture_files WHERE name = 'bottleneck_bare';
-- A file with mlpscale metadata imports without arguments
SELECT mlp_import('fx_standard', data) FROM fixture_files WHERE name = 'standard_meta';
-- Half-precision tensors are converted
SELECT mlp_import('fx_f16', data, input_shape => ARRAY[3, 8, 8]) FROM fixture_files WHERE name = 'f16_weights';
SELECT name, version, arch, input_shape, classes, mean, std, class_names, params,
       run_id, parent_model_id, owner = (SELECT oid FROM pg_roles WHERE rolname = current_user) AS owned
FROM mlpscale.models WHERE name LIKE 'fx\_%' ORDER BY name, version;

-- Arguments override the metadata
SELECT mlp_import('fx_override', data, mean => ARRAY[0.5, 0.5, 0.5], std => ARRAY[0.25, 0.25, 0.25],
                  class_names => ARRAY['a','b','c','d','e','f','g','h','i','j'])
FROM fixture_files WHERE name = 'standard_meta';
SELECT mean, std, class_names FROM mlpscale.models WHERE name = 'fx_override';

-- A second import makes a new version; the name means the latest one
SELECT mlp_import('fx_bottleneck', data, input_shape => ARRAY[3, 8, 8]) FROM fixture_files WHERE name = 'bottleneck_bare';
SELECT name, version, mean FROM mlpscale.models WHERE name = 'fx_bottleneck' ORDER BY version;

-- Export: safetensors with the metadata, which imports again without arguments
SELECT get_byte(e, 0) + 256 * get_byte(e, 1) + 65536 * get_byte(e, 2) + length(e) > 8 AS header_length_ok,
       position('__metadata__'::bytea IN e) > 0 AS has_metadata,
       position('linear_in.weight'::bytea IN e) > 0 AS has_reference_names,
       position('"B_2-Wi_32"'::bytea IN e) > 0 AS has_arch
FROM (SELECT mlp_export('fx_bottleneck@1') AS e) s;
SELECT mlp_import('fx_roundtrip', mlp_export('fx_bottleneck@1'));
SELECT input_shape, mean, std FROM mlpscale.models WHERE name = 'fx_roundtrip';
SELECT mlp_export('fx_roundtrip') = mlp_export('fx_bottleneck@1') AS same_bytes,
       mlp_export('fx_bottleneck') = mlp_export('fx_bottleneck@2') AS latest,
       mlp_export('fx_bottleneck') <> mlp_export('fx_bottleneck@1') AS versions_differ;
SELECT mlp_import('fx_roundtrip_s', mlp_export('fx_standard'));
SELECT class_names FROM mlpscale.models WHERE name = 'fx_roundtrip_s';

-- Invalid arguments
SELECT mlp_import(NULL, '\x00'::bytea);
SELECT mlp_import('fx_null', NULL);
SELECT mlp_import('', data) FROM fixture_files WHERE name = 'standard_meta';
SELECT mlp_import('fx@2', data) FROM fixture_files WHERE name = 'standard_meta';
SELECT mlp_import(repeat('m', 64), data) FROM fixture_files WHERE name = 'standard_meta';
SELECT mlp_import('fx_shape', data, input_shape => ARRAY[3, 8]) FROM fixture_files WHERE name = 'bottleneck_bare';
SELECT mlp_import('fx_shape', data, input_shape => ARRAY[[3, 8, 8]]) FROM fixture_files WHERE name = 'bottleneck_bare';
SELECT mlp_import('fx_shape', data, input_shape => ARRAY[3, NULL, 8]) FROM fixture_files WHERE name = 'bottleneck_bare';
SELECT mlp_import('fx_shape', data, input_shape => ARRAY[0, 8, 8]) FROM fixture_files WHERE name = 'bottleneck_bare';
SELECT mlp_import('fx_shape', data, input_shape => ARRAY[3, 8, -8]) FROM fixture_files WHERE name = 'bottleneck_bare';
SELECT mlp_import('fx_shape', data, input_shape => ARRAY[3, 8, 5000]) FROM fixture_files WHERE name = 'bottleneck_bare';
SELECT mlp_import('fx_shape', data, input_shape => ARRAY[1, 8, 8]) FROM fixture_files WHERE name = 'bottleneck_bare';
SELECT mlp_import('fx_shape', data, input_shape => ARRAY[3, 16, 16]) FROM fixture_files WHERE name = 'standard_meta';
SELECT mlp_import('fx_mean', data, mean => ARRAY[0.5, 0.5]) FROM fixture_files WHERE name = 'standard_meta';
SELECT mlp_import('fx_mean', data, mean => ARRAY[0.5, 0.5, 0.5, 0.5, 0.5]) FROM fixture_files WHERE name = 'standard_meta';
SELECT mlp_import('fx_mean', data, mean => ARRAY[0.5, 'NaN', 0.5]) FROM fixture_files WHERE name = 'standard_meta';
SELECT mlp_import('fx_std', data, std => ARRAY[0.5, 0, 0.5]) FROM fixture_files WHERE name = 'standard_meta';
SELECT mlp_import('fx_std', data, std => ARRAY[0.5, -1, 0.5]) FROM fixture_files WHERE name = 'standard_meta';
SELECT mlp_import('fx_std', data, std => ARRAY[0.5, 'Infinity', 0.5]) FROM fixture_files WHERE name = 'standard_meta';
SELECT mlp_import('fx_std', data, std => '{}') FROM fixture_files WHERE name = 'standard_meta';
SELECT mlp_import('fx_names', data, class_names => ARRAY['a', 'b']) FROM fixture_files WHERE name = 'standard_meta';
SELECT mlp_import('fx_names', data, class_names => ARRAY['a', NULL]) FROM fixture_files WHERE name = 'standard_meta';
SELECT mlp_import('fx_names', data, class_names => '{}') FROM fixture_files WHERE name = 'standard_meta';

-- Corrupt and truncated safetensors files
SELECT mlp_import('fx_bad', '\x'::bytea);
SELECT mlp_import('fx_bad', '\x0102030405'::bytea);
SELECT mlp_import('fx_bad', '\xffffffffffffffff7b7d'::bytea);
SELECT mlp_import('fx_bad', '\x02000000000000007b7d'::bytea);
SELECT mlp_import('fx_bad', '\x0400000000000000226162'::bytea);
SELECT mlp_import('fx_bad', 'not a safetensors file at all'::bytea);
SELECT mlp_import('fx_bad', substring(data FROM 1 FOR 8)) FROM fixture_files WHERE name = 'standard_meta';
SELECT mlp_import('fx_bad', substring(data FROM 1 FOR 100)) FROM fixture_files WHERE name = 'standard_meta';
SELECT mlp_import('fx_bad', substring(data FROM 1 FOR length(data) - 1)) FROM fixture_files WHERE name = 'standard_meta';
SELECT mlp_import('fx_bad', overlay(data PLACING '\x00000000'::bytea FROM 20)) FROM fixture_files WHERE name = 'standard_meta';
-- Valid files that do not hold a usable model
SELECT mlp_import('fx_bad', '\x02000000000000007b7d'::bytea, input_shape => ARRAY[3, 8, 8]);
SELECT mlp_import('fx_bad', data, input_shape => ARRAY[3, 8, 8]) FROM fixture_files WHERE name = 'wrong_shape';
SELECT mlp_import('fx_bad', data, input_shape => ARRAY[3, 8, 8]) FROM fixture_files WHERE name = 'missing_tensor';
SELECT mlp_import('fx_bad', data, input_shape => ARRAY[3, 8, 8]) FROM fixture_files WHERE name = 'extra_tensor';
SELECT mlp_import('fx_bad', data) FROM fixture_files WHERE name = 'wrong_arch_meta';
SELECT count(*) AS no_bad_models FROM mlpscale.models WHERE name IN ('fx_bad', 'fx_shape', 'fx_mean', 'fx_std', 'fx_names', 'fx_null', 'fx_bare');

-- Unknown models and bad references
SELECT mlp_export('fx_nope');
SELECT mlp_export('fx_bottleneck@9');
SELECT mlp_export('fx_bottleneck@0');
SELECT mlp_export('fx_bottleneck@x');
SELECT mlp_export('fx_bottleneck@');
SELECT mlp_export('@1');
SELECT mlp_export('');
SELECT mlp_export(NULL) IS NULL AS null_export;

-- A rolled-back import leaves nothing behind
BEGIN;
SELECT mlp_import('fx_rolled_back', data) FROM fixture_files WHERE name = 'standard_meta';
ROLLBACK;
SELECT count(*) FROM mlpscale.models WHERE name = 'fx_rolled_back';

-- Users cannot write the bookkeeping tables themselves
CREATE ROLE regress_mlp_alice;
CREATE ROLE regress_mlp_bob;
GRANT USAGE ON SCHEMA models_test TO regress_mlp_alice, regress_mlp_bob;
GRANT SELECT ON fixture_files TO regress_mlp_alice, regress_mlp_bob;
SET ROLE regress_mlp_alice;
SELECT mlp_import('fx_alice', data) FROM fixture_files WHERE name = 'standard_meta';
DELETE FROM mlpscale.models WHERE name = 'fx_alice';
INSERT INTO mlpscale.deployment (model_name, deployed_by) VALUES ('fx_alice', 1);
SET ROLE regress_mlp_bob;
-- Only the owner of a name (or a superuser) adds versions, deploys or drops it
SELECT mlp_import('fx_alice', data) FROM fixture_files WHERE name = 'standard_meta';
SELECT mlp_deploy('fx_alice');
SELECT mlp_drop_model('fx_alice');
SELECT classify('fx_alice', '3x1x1:000000'::image) BETWEEN 0 AND 9 AS unshared_refused;
SELECT mlp_grant('fx_alice', 'regress_mlp_bob');
SET ROLE regress_mlp_alice;
SELECT mlp_grant('fx_alice', 'regress_mlp_bob');
SET ROLE regress_mlp_bob;
SELECT classify('fx_alice', '3x1x1:000000'::image) BETWEEN 0 AND 9 AS shared_can_score;
SELECT mlp_deploy('fx_alice');
SET ROLE regress_mlp_alice;
SELECT mlp_grant('fx_alice@1', 'regress_mlp_bob');
SELECT mlp_revoke('fx_alice', 'regress_mlp_bob');
SET ROLE regress_mlp_bob;
SELECT classify('fx_alice', '3x1x1:000000'::image) BETWEEN 0 AND 9 AS revoked_refused;
SET ROLE regress_mlp_alice;
SELECT mlp_import('fx_alice', data) FROM fixture_files WHERE name = 'standard_meta';
RESET ROLE;
SELECT mlp_import('fx_alice', data) FROM fixture_files WHERE name = 'standard_meta';
SELECT version, pg_get_userbyid(owner) FROM mlpscale.models WHERE name = 'fx_alice' ORDER BY version;
SET ROLE regress_mlp_alice;
SELECT mlp_import('fx_alice', data) FROM fixture_files WHERE name = 'standard_meta';
RESET ROLE;

-- Deployment
SELECT classify('3x1x1:000000'::image);
SELECT mlp_deploy('fx_nope');
SELECT mlp_deploy('fx_bottleneck@7');
SELECT mlp_deploy('fx_bottleneck');
SELECT model_name, deployed_by = (SELECT oid FROM pg_roles WHERE rolname = current_user) AS by_me
FROM mlpscale.deployment;
SELECT classify(i) = classify('fx_bottleneck', i) AS uses_deployed
FROM (SELECT ('3x8x8:' || repeat('40', 192))::image AS i) s;
SELECT mlp_deploy('fx_standard@1');
SELECT model_name FROM mlpscale.deployment;
SELECT classify(i) = classify('fx_standard', i) AS uses_new_deployment
FROM (SELECT ('3x8x8:' || repeat('40', 192))::image AS i) s;
SELECT mlp_deploy(NULL) IS NULL AS null_deploy;

-- Dropping versions
SELECT mlp_drop_model('fx_standard');
SELECT mlp_drop_model('fx_standard@1');
SELECT mlp_drop_model('fx_bottleneck@1');
SELECT name, version FROM mlpscale.models WHERE name = 'fx_bottleneck' ORDER BY version;
SELECT mlp_drop_model('fx_roundtrip');
SELECT mlp_drop_model('fx_roundtrip');
SELECT mlp_drop_model('fx_nope@2');
SET ROLE regress_mlp_alice;
SELECT mlp_drop_model('fx_alice');
RESET ROLE;
SELECT count(*) FROM mlpscale.models WHERE name = 'fx_alice';
-- A version number continues after the highest existing one
SELECT mlp_import('fx_bottleneck', mlp_export('fx_bottleneck'));

DROP OWNED BY regress_mlp_alice, regress_mlp_bob;
DROP ROLE regress_mlp_alice;
DROP ROLE regress_mlp_bob;
SELECT 'session still usable' AS status;
