-- Scoring: classify, predict_proba, classify_label, classify_topk, mlp_classify_batch,
-- mlp_evaluate; parity with PyTorch on the fixture of test/fixtures/make_scoring_fixture.py.

CREATE SCHEMA scoring_test;
SET search_path = scoring_test, public;
\set ECHO none
\i test/fixtures/scoring_fixture.sql
\set ECHO all
SELECT model, count(*), min(image_height(img)) AS h FROM fixture_images GROUP BY model ORDER BY model;

SELECT mlp_import('sc_b', data, input_shape => ARRAY[3, 8, 8],
                  mean => ARRAY[0.4914, 0.4822, 0.4465], std => ARRAY[0.2470, 0.2435, 0.2616])
FROM fixture_files WHERE name = 'bottleneck_bare';
SELECT mlp_import('sc_s', data) FROM fixture_files WHERE name = 'standard_meta';

-- Parity with PyTorch: same class for every image, probabilities within 1e-5.
-- bottleneck_resized holds 16x16 images, area-resized to the model's 8x8 inside.
CREATE VIEW parity AS
SELECT f.model, f.id, f.torch_class, f.torch_probs, f.label,
       classify(m.ref, f.img) AS class, predict_proba(m.ref, f.img) AS probs
FROM fixture_images f
JOIN (VALUES ('bottleneck', 'sc_b'), ('bottleneck_resized', 'sc_b'), ('standard', 'sc_s')) m(model, ref)
  ON m.model = f.model;
SELECT model, count(*) AS images,
       bool_and(class = torch_class) AS classes_equal,
       max((SELECT max(abs(p - t)) FROM unnest(probs, torch_probs) u(p, t))) < 1e-5 AS probs_within_1e5,
       bool_and(cardinality(probs) = 10) AS ten_classes,
       bool_and(abs((SELECT sum(p) FROM unnest(probs) p) - 1) < 1e-5) AS sum_to_one
FROM parity GROUP BY model ORDER BY model;
SELECT count(DISTINCT class) > 1 AS not_constant FROM parity;

-- Class names
SELECT classify_label('sc_s', img) = (ARRAY['airplane', 'automobile', 'bird', 'cat', 'deer',
       'dog', 'frog', 'horse', 'ship', 'truck'])[classify('sc_s', img) + 1] AS named
FROM fixture_images WHERE model = 'standard' AND id < 3;
SELECT classify_label('sc_b', img) = classify('sc_b', img)::text AS numbered
FROM fixture_images WHERE model = 'bottleneck' AND id < 3;

-- Top k, most probable first
SELECT t.rank, t.class = f.torch_class AS is_top, t.class_name,
       abs(t.probability - f.torch_probs[t.class + 1]) < 1e-5 AS prob_ok
FROM fixture_images f, classify_topk('sc_s', f.img, 3) t
WHERE f.model = 'standard' AND f.id = 0 ORDER BY t.rank;
SELECT count(*), bool_and(class_name IS NULL) FROM classify_topk('sc_b', '3x1x1:808080', 100);
SELECT count(*) FROM classify_topk('sc_b', '3x1x1:808080');
SELECT * FROM classify_topk('sc_b', '3x1x1:808080', 0);
SELECT * FROM classify_topk('sc_b', '3x1x1:808080', -3);
SELECT count(*) FROM classify_topk('sc_b', NULL, 3);
SELECT count(*) FROM classify_topk(NULL, '3x1x1:808080', 3);

-- Other sizes are area-resized (up and down); channels are never converted
SELECT classify('sc_b', '3x1x1:808080') BETWEEN 0 AND 9 AS upsampled,
       classify('sc_b', image_from_bytes(decode(repeat('7f', 3 * 100 * 60), 'hex'), 3, 100, 60)) BETWEEN 0 AND 9 AS downsampled;
SELECT classify('sc_b', ('1x8x8:' || repeat('00', 64))::image);
SELECT predict_proba('sc_b', ('4x8x8:' || repeat('00', 256))::image);
SELECT classify_label('sc_s', '1x1x1:00');
SELECT * FROM classify_topk('sc_s', '2x1x1:0000');

-- NULLs, unknown models, bad references
SELECT classify('sc_b', NULL) IS NULL AS a, classify(NULL, '3x1x1:000000') IS NULL AS b,
       predict_proba('sc_b', NULL) IS NULL AS c, classify_label(NULL, NULL) IS NULL AS d,
       classify(NULL::image) IS NULL AS e;
SELECT classify('sc_nope', '3x1x1:000000');
SELECT predict_proba('sc_b@9', '3x1x1:000000');
SELECT classify('sc_b@two', '3x1x1:000000');
SELECT classify('', '3x1x1:000000');
SELECT classify(repeat('x', 200), '3x1x1:000000');

-- A new version is used from the next statement on, by name and through the deployment
SELECT mlp_deploy('sc_b');
CREATE TABLE probe AS SELECT img FROM fixture_images WHERE model = 'bottleneck' AND id = 5;
SELECT predict_proba('sc_b', img) = predict_proba('sc_b@1', img) AS v1 FROM probe;
SELECT mlp_import('sc_b', data, input_shape => ARRAY[3, 8, 8]) FROM fixture_files WHERE name = 'bottleneck_bare';
SELECT predict_proba('sc_b', img) = predict_proba('sc_b@2', img) AS now_v2,
       predict_proba('sc_b', img) <> predict_proba('sc_b@1', img) AS not_v1,
       classify(img) = classify('sc_b@2', img) AS deployed_follows
FROM probe;
SELECT mlp_deploy('sc_b@1');
SELECT classify(img) = classify('sc_b@1', img) AS pinned_deployment,
       predict_proba('sc_b@1', img) = (SELECT predict_proba('sc_b@1', img) FROM probe) AS stable
FROM probe;
-- Inside a function, scoring after an import sees the new version (the next command)
DO $$
DECLARE
    img image := (SELECT img FROM scoring_test.probe);
    before real[] := predict_proba('sc_b', img);
BEGIN
    PERFORM mlp_import('sc_b', data, input_shape => ARRAY[3, 8, 8],
                       mean => ARRAY[0.4914, 0.4822, 0.4465], std => ARRAY[0.2470, 0.2435, 0.2616])
    FROM scoring_test.fixture_files WHERE name = 'bottleneck_bare';
    RAISE NOTICE 'changed: %, now version 3: %', predict_proba('sc_b', img) <> before,
        predict_proba('sc_b', img) = predict_proba('sc_b@3', img);
END $$;

-- mlp_classify_batch equals the per-row functions; partial last batch
SET mlpscale.scoring_batch_size = 5;
SELECT count(*) AS rows, bool_and(b.class = f.torch_class) AS classes_equal,
       max(abs(b.confidence - f.torch_probs[b.class + 1])) < 1e-5 AS confidence_ok
FROM mlp_classify_batch('sc_s', 'SELECT id, img AS image FROM scoring_test.fixture_images WHERE model = ''standard''') b
JOIN fixture_images f ON f.model = 'standard' AND f.id = b.id;
-- images of several sizes in one query; other column names when unambiguous
SELECT count(*) AS rows, bool_and(b.class = classify('sc_b@1', f.img)) AS same_as_classify
FROM mlp_classify_batch('sc_b@1', 'SELECT (model = ''bottleneck'')::int * 1000 + id AS key, img AS picture, model AS note
                                  FROM scoring_test.fixture_images WHERE model LIKE ''bottleneck%''') b
JOIN fixture_images f ON (f.model = 'bottleneck')::int * 1000 + f.id = b.id AND f.model LIKE 'bottleneck%';
RESET mlpscale.scoring_batch_size;
-- NULL images give NULL classes; NULL ids stay NULL; smallint ids; an empty result
SELECT id, class BETWEEN 0 AND 9 AS has_class, confidence BETWEEN 0.1 AND 1 AS has_confidence
FROM mlp_classify_batch('sc_b', $$SELECT * FROM (VALUES (1::smallint, NULL::image), (NULL, '3x1x1:000000'::image)) v(id, image)$$)
ORDER BY id;
SELECT count(*) FROM mlp_classify_batch('sc_b', 'SELECT id, img AS image FROM scoring_test.fixture_images WHERE false');
-- Bad queries
SELECT * FROM mlp_classify_batch('sc_b', '');
SELECT * FROM mlp_classify_batch('sc_b', '   ');
SELECT * FROM mlp_classify_batch('sc_b', 'SELECT 1');
SELECT * FROM mlp_classify_batch('sc_b', 'SELECT 1 AS id');
SELECT * FROM mlp_classify_batch('sc_b', 'SELECT 1 AS id, 2 AS image');
SELECT * FROM mlp_classify_batch('sc_b', $$SELECT 'x'::text AS id, '3x1x1:000000'::image AS image$$);
SELECT * FROM mlp_classify_batch('sc_b', $$SELECT 1 AS a, 2 AS b, '3x1x1:000000'::image AS image$$);
SELECT * FROM mlp_classify_batch('sc_b', $$SELECT 1 AS id, '1x1x1:00'::image AS image$$);
SELECT * FROM mlp_classify_batch('sc_b', 'SELECT 1; SELECT 2');
SELECT * FROM mlp_classify_batch('sc_b', 'SELEKT 1');
SELECT * FROM mlp_classify_batch('sc_b', 'SELECT id, image FROM no_such_table');
SELECT * FROM mlp_classify_batch('sc_b', 'CREATE TABLE batch_side_effect (x int)');
SELECT * FROM mlp_classify_batch('sc_b', 'INSERT INTO probe VALUES (NULL) RETURNING 1 AS id, img AS image');
SELECT * FROM mlp_classify_batch('sc_nope', 'SELECT 1 AS id, img AS image FROM probe');
SELECT * FROM mlp_classify_batch(NULL, 'SELECT 1 AS id, img AS image FROM probe');
SELECT * FROM mlp_classify_batch('sc_b', NULL);
SELECT count(*) AS probe_rows FROM probe;

-- mlp_evaluate: accuracy, top-5 and cross-entropy equal PyTorch's on the same images
SELECT e.n, abs(e.accuracy - t.accuracy) < 1e-9 AS accuracy_ok, abs(e.top5 - t.top5) < 1e-9 AS top5_ok,
       abs(e.loss - t.loss) < 1e-5 AS loss_ok, e.accuracy BETWEEN 0 AND 1 AS in_range
FROM mlp_evaluate('sc_s', 'SELECT img AS image, label FROM scoring_test.fixture_images WHERE model = ''standard''') e,
     (SELECT avg((torch_class = label)::int) AS accuracy,
             avg((SELECT (count(*) FILTER (WHERE p > torch_probs[label + 1])) < 5 FROM unnest(torch_probs) p)::int) AS top5,
             avg(-ln(torch_probs[label + 1])) AS loss
      FROM fixture_images WHERE model = 'standard') t;
CREATE TABLE eval_set AS SELECT img AS picture, label AS y, label::smallint AS image, img AS label FROM fixture_images WHERE model = 'bottleneck';
SELECT n, accuracy = (SELECT avg((classify('sc_b@1', picture) = y)::int) FROM eval_set) AS matches_classify
FROM mlp_evaluate('sc_b@1', 'scoring_test.eval_set', image_column => 'picture', label_column => 'y');
SELECT n FROM mlp_evaluate('sc_b@1', 'SELECT img AS image, label FROM scoring_test.fixture_images WHERE model = ''bottleneck_resized''');
-- Bad sources
SELECT * FROM mlp_evaluate('sc_b', 'no_such_table');
SELECT * FROM mlp_evaluate('sc_b', '');
SELECT * FROM mlp_evaluate('sc_b', 'scoring_test.eval_set');
SELECT * FROM mlp_evaluate('sc_b', 'scoring_test.eval_set', image_column => 'picture');
SELECT * FROM mlp_evaluate('sc_b', 'scoring_test.eval_set', image_column => 'y', label_column => 'y');
SELECT * FROM mlp_evaluate('sc_b', 'scoring_test.eval_set', image_column => 'picture', label_column => 'picture');
SELECT * FROM mlp_evaluate('sc_b', 'SELECT img AS image, label FROM scoring_test.fixture_images WHERE false');
SELECT * FROM mlp_evaluate('sc_b', 'SELECT img AS image, label FROM scoring_test.fixture_images');
SELECT * FROM mlp_evaluate('sc_b', $$SELECT '3x1x1:000000'::image AS image, 10 AS label$$);
SELECT * FROM mlp_evaluate('sc_b', $$SELECT '3x1x1:000000'::image AS image, -1 AS label$$);
SELECT * FROM mlp_evaluate('sc_b', $$SELECT '3x1x1:000000'::image AS image, NULL::int AS label$$);
SELECT * FROM mlp_evaluate('sc_b', $$SELECT NULL::image AS image, 1 AS label$$);
SELECT * FROM mlp_evaluate('sc_b', $$SELECT '1x1x1:00'::image AS image, 1 AS label$$);
SELECT * FROM mlp_evaluate('sc_b', $$SELECT '3x1x1:000000'::image AS image, 'cat' AS label$$);
SELECT * FROM mlp_evaluate('sc_b', 'SELECT image FROM nowhere');
SELECT * FROM mlp_evaluate('sc_nope', 'scoring_test.eval_set');
SELECT * FROM mlp_evaluate(NULL, 'scoring_test.eval_set');
SELECT * FROM mlp_evaluate('sc_b', NULL);
SET mlpscale.evaluate_max_memory = '1MB';
SELECT * FROM mlp_evaluate('sc_b', $$SELECT image_from_bytes(decode(repeat('00', 3 * 100 * 100), 'hex'), 3, 100, 100) AS image, 0 AS label FROM generate_series(1, 200)$$);
RESET mlpscale.evaluate_max_memory;
SELECT n, accuracy FROM mlp_evaluate('sc_b', $$SELECT '3x1x1:000000'::image AS image, classify('sc_b', '3x1x1:000000') AS label$$);

-- Test-time augmentation.  tta => 0 (and any tta_seed with it) is the call without tta, bit
-- for bit; the fixture's images are 8x8, views are crops resampled back to 8x8.
CREATE TABLE tta_set AS SELECT img AS image, label FROM fixture_images WHERE model = 'bottleneck';
CREATE TEMP TABLE tta_runs AS
SELECT 'plain' AS call, * FROM mlp_evaluate('sc_b@1', 'scoring_test.tta_set')
UNION ALL SELECT 'tta 0', * FROM mlp_evaluate('sc_b@1', 'scoring_test.tta_set', tta => 0)
UNION ALL SELECT 'tta 0 positional', * FROM mlp_evaluate('sc_b@1', 'scoring_test.tta_set', 'image', 'label', 0, 77)
UNION ALL SELECT 'tta 4', * FROM mlp_evaluate('sc_b@1', 'scoring_test.tta_set', tta => 4, tta_seed => 1)
UNION ALL SELECT 'tta 4 again', * FROM mlp_evaluate('sc_b@1', 'scoring_test.tta_set', tta => 4, tta_seed => 1)
UNION ALL SELECT 'tta 4 seed 2', * FROM mlp_evaluate('sc_b@1', 'scoring_test.tta_set', tta => 4, tta_seed => 2)
UNION ALL SELECT 'tta 4 seed -1', * FROM mlp_evaluate('sc_b@1', 'scoring_test.tta_set', tta => 4, tta_seed => -1)
UNION ALL SELECT 'tta 64', * FROM mlp_evaluate('sc_b@1', 'scoring_test.tta_set', tta => 64);
SET mlpscale.scoring_batch_size = 3;
INSERT INTO tta_runs SELECT 'tta 4, scoring_batch_size 3', * FROM mlp_evaluate('sc_b@1', 'scoring_test.tta_set', tta => 4, tta_seed => 1);
RESET mlpscale.scoring_batch_size;
SELECT r.call, r.n = p.n AS same_n,
       (r.accuracy, r.top5, r.loss) = (p.accuracy, p.top5, p.loss) AS same_as_plain,
       (r.accuracy, r.top5, r.loss) = (t.accuracy, t.top5, t.loss) AS same_as_tta_4,
       r.accuracy BETWEEN 0 AND 1 AND r.top5 BETWEEN r.accuracy AND 1 AND r.loss > 0 AS in_range
FROM tta_runs r, tta_runs p, tta_runs t
WHERE p.call = 'plain' AND t.call = 'tta 4' ORDER BY r.call;
-- another batch size: the same views, the same counts, the loss up to the products' rounding
SELECT (r.accuracy, r.top5) = (t.accuracy, t.top5) AS same_counts, abs(r.loss - t.loss) < 1e-6 * t.loss AS same_loss
FROM tta_runs r, tta_runs t WHERE r.call = 'tta 4, scoring_batch_size 3' AND t.call = 'tta 4';
-- With tta the source is read without synchronized scans (image i's views are drawn from
-- stream i, so the rows must come in the same order every time); the setting is back after
-- it, and without tta the source reads under the session's setting, as before
SET synchronize_seqscans = on;
SELECT n FROM mlp_evaluate('sc_b@1', $$SELECT image, label FROM scoring_test.tta_set WHERE current_setting('synchronize_seqscans') = 'off'$$, tta => 2);
SELECT n FROM mlp_evaluate('sc_b@1', $$SELECT image, label FROM scoring_test.tta_set WHERE current_setting('synchronize_seqscans') = 'off'$$);
SHOW synchronize_seqscans;
RESET synchronize_seqscans;
-- Bad tta and tta_seed
SELECT * FROM mlp_evaluate('sc_b@1', 'scoring_test.tta_set', tta => -1);
SELECT * FROM mlp_evaluate('sc_b@1', 'scoring_test.tta_set', tta => 65);
SELECT * FROM mlp_evaluate('sc_b@1', 'scoring_test.tta_set', tta => NULL);
SELECT * FROM mlp_evaluate('sc_b@1', 'scoring_test.tta_set', tta => 2, tta_seed => NULL);

-- Settings
SET mlpscale.scoring_batch_size = 0;
SET mlpscale.scoring_threads = -1;
SET mlpscale.scoring_threads = 1;
SELECT classify('sc_b@1', img) = (SELECT torch_class FROM fixture_images WHERE model = 'bottleneck' AND id = 5) FROM probe;
RESET mlpscale.scoring_threads;
SET mlpscale.model_cache_size = 1;
SELECT bool_and(classify('sc_b@1', img) BETWEEN 0 AND 9 AND classify('sc_s', img) BETWEEN 0 AND 9 AND classify('sc_b', img) BETWEEN 0 AND 9)
FROM fixture_images WHERE model = 'bottleneck';
RESET mlpscale.model_cache_size;
SELECT 'session still usable' AS status;
