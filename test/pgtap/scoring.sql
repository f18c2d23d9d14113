-- pgTAP tests of the image type, the model store and scoring, with the PyTorch parity
-- fixture of test/fixtures/make_scoring_fixture.py.  Run from the repository root:
--   pg_prove -d DB test/pgtap/scoring.sql   (DB has the extensions pgtap and mlpscale)
\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
CREATE SCHEMA tap_scoring;
SET search_path = tap_scoring, public;
\i test/fixtures/scoring_fixture.sql
\i test/fixtures/image_fixture.sql

SELECT plan(62);

-- ---- objects, volatility, parallel safety ----------------------------------------------
SELECT has_type('public', 'image', 'type image exists');
SELECT has_function('public', 'image_from_bytes', ARRAY['bytea', 'integer', 'integer', 'integer']);
SELECT has_function('public', 'image_decode', ARRAY['bytea']);
SELECT has_function('public', 'image_resize', ARRAY['image', 'integer', 'integer']);
SELECT has_function('public', 'classify', ARRAY['text', 'image']);
SELECT has_function('public', 'classify', ARRAY['image']);
SELECT has_function('public', 'predict_proba', ARRAY['text', 'image']);
SELECT has_function('public', 'mlp_classify_batch', ARRAY['text', 'text']);
SELECT has_function('public', 'mlp_evaluate', ARRAY['text', 'text', 'text', 'text', 'integer', 'bigint']);
SELECT function_returns('public', 'mlp_import', ARRAY['text', 'bytea', 'integer[]', 'real[]', 'real[]', 'text[]'], 'integer');
SELECT function_returns('public', 'mlp_export', ARRAY['text'], 'bytea');
SELECT volatility_is('public', 'classify', ARRAY['text', 'image'], 'stable');
SELECT volatility_is('public', 'image_from_bytes', ARRAY['bytea', 'integer', 'integer', 'integer'], 'immutable');
SELECT volatility_is('public', 'mlp_import', ARRAY['text', 'bytea', 'integer[]', 'real[]', 'real[]', 'text[]'], 'volatile');
SELECT is((SELECT string_agg(DISTINCT proparallel::text, ',') FROM pg_proc
           WHERE proname IN ('classify', 'predict_proba', 'classify_label', 'classify_topk')
             AND pronamespace = 'public'::regnamespace),
          's', 'per-row scoring functions are PARALLEL SAFE');
SELECT is((SELECT count(*)::int FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
           WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'mlpscale')
             AND d.deptype = 'e' AND obj_description(p.oid, 'pg_proc') IS NULL
             AND (p.proname LIKE 'image%' OR p.proname LIKE 'classify%' OR p.proname IN
                  ('predict_proba', 'mlp_import', 'mlp_export', 'mlp_deploy', 'mlp_drop_model',
                   'mlp_classify_batch', 'mlp_evaluate'))
             AND p.proname NOT IN ('image_in', 'image_out', 'image_recv', 'image_send')),
          0, 'every image and scoring function has a comment');

-- ---- the image type ----------------------------------------------------------------------
SELECT is('2x1x2:0a0b0c0d'::image::text, '2x1x2:0a0b0c0d', 'text form round-trips');
SELECT is(image_to_bytes(image_from_bytes('\x010203040506'::bytea, 3, 2, 1)), '\x010203040506'::bytea,
          'image_from_bytes and image_to_bytes are inverse');
SELECT throws_ok($$SELECT image_from_bytes('\x0102'::bytea, 1, 1, 1)$$, '22023',
                 'image data of 2 bytes do not match shape 1x1x1', 'length mismatch refused');
SELECT throws_ok($$SELECT image_from_bytes('\x01'::bytea, 1, 0, 1)$$, '22023', NULL, 'zero height refused');
SELECT throws_ok($$SELECT '9x1x1:00'::image$$, '22023', 'image channels must be between 1 and 4, not 9',
                 'too many channels refused');
SELECT throws_ok($$SELECT '1x1x1:0'::image$$, '22P02', NULL, 'odd hex refused');
SELECT is(image_resize('1x2x2:00ff10a0', 1, 1)::text, '1x1x1:6c', 'area resize averages (107.75 rounds to 108)');
SELECT ok(bool_and(image_decode(data) = expected), 'PNG and JPEG files decode to the pixels PIL reads')
FROM image_files WHERE expected IS NOT NULL;
SELECT throws_ok($$SELECT image_decode(data) FROM tap_scoring.image_files WHERE name = 'jpeg_cmyk'$$,
                 '22023', NULL, 'CMYK JPEG refused');
SELECT throws_ok($$SELECT image_decode(substring(data FROM 1 FOR 30)) FROM tap_scoring.image_files WHERE name = 'png_rgb'$$,
                 '22023', NULL, 'truncated PNG refused');

-- ---- import ---------------------------------------------------------------------------
SELECT is(mlp_import('tap_b', data, input_shape => ARRAY[3, 8, 8],
                     mean => ARRAY[0.4914, 0.4822, 0.4465], std => ARRAY[0.2470, 0.2435, 0.2616]), 1,
          'bare state dict imports with input_shape, mean and std')
FROM fixture_files WHERE name = 'bottleneck_bare';
SELECT is(mlp_import('tap_s', data), 1, 'file with metadata imports without arguments')
FROM fixture_files WHERE name = 'standard_meta';
SELECT throws_ok($$SELECT mlp_import('tap_x', data) FROM tap_scoring.fixture_files WHERE name = 'bottleneck_bare'$$,
                 '22023', NULL, 'unknown input shape refused');
CREATE FUNCTION hint_of(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE h text;
BEGIN
    EXECUTE sql;
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT;
    RETURN h;
END $$;
SELECT is(hint_of($$SELECT mlp_import('tap_x', data) FROM tap_scoring.fixture_files WHERE name = 'bottleneck_bare'$$),
          'Pass input_shape => ARRAY[C,H,W], for example ARRAY[3,32,32].', '... with a hint naming input_shape');
SELECT throws_ok($$SELECT mlp_import('tap_x', substring(data FROM 1 FOR 300)) FROM tap_scoring.fixture_files WHERE name = 'standard_meta'$$,
                 '22P03', NULL, 'truncated safetensors refused');
SELECT throws_ok($$SELECT mlp_import('tap_x', '\x0800000000000000'::bytea)$$, '22P03', NULL, 'empty header refused');
SELECT throws_ok($$SELECT mlp_import('tap_x', data, input_shape => ARRAY[3, 8, 8]) FROM tap_scoring.fixture_files WHERE name = 'wrong_shape'$$,
                 '22023', NULL, 'tensor of the wrong shape refused');
SELECT throws_ok($$SELECT mlp_import('tap_x', data, input_shape => ARRAY[3, 8, 8]) FROM tap_scoring.fixture_files WHERE name = 'missing_tensor'$$,
                 '22023', NULL, 'missing tensor refused');
SELECT throws_ok($$SELECT mlp_import('tap_x', data, input_shape => ARRAY[3, 8, 8], mean => ARRAY[0.5]) FROM tap_scoring.fixture_files WHERE name = 'bottleneck_bare'$$,
                 '22023', NULL, 'mean of the wrong length refused');
SELECT is((SELECT count(*)::int FROM mlpscale.models WHERE name = 'tap_x'), 0, 'no failed import left a row');
SELECT is(mlp_import('tap_rt', mlp_export('tap_b')), 1, 'an export imports again without arguments');
SELECT is(mlp_export('tap_rt'), mlp_export('tap_b'), 'export of the re-import is byte-identical');

-- ---- parity with PyTorch ----------------------------------------------------------------
CREATE TEMP VIEW parity AS
SELECT f.model, f.torch_class, classify(CASE WHEN f.model = 'standard' THEN 'tap_s' ELSE 'tap_b' END, f.img) AS class,
       (SELECT max(abs(p - t)) FROM unnest(predict_proba(CASE WHEN f.model = 'standard' THEN 'tap_s' ELSE 'tap_b' END, f.img),
                                          f.torch_probs) u(p, t)) AS max_diff
FROM fixture_images f;
SELECT is((SELECT count(*)::int FROM parity WHERE class <> torch_class), 0,
          'the class of every test image equals PyTorch''s (54 images, 2 models, 6 resized)');
SELECT cmp_ok((SELECT max(max_diff) FROM parity), '<', 1e-5::real, 'probabilities within 1e-5 of PyTorch''s');
SELECT diag('parity: ' || count(*) || ' images, max |p - p_torch| = ' || max(max_diff)
            || ', classes equal: ' || bool_and(class = torch_class)) FROM parity;

-- ---- the per-row and batch functions agree ------------------------------------------------
SELECT is((SELECT count(*)::int FROM mlp_classify_batch('tap_b', 'SELECT id, img AS image FROM tap_scoring.fixture_images WHERE model = ''bottleneck''') b
           JOIN fixture_images f ON f.model = 'bottleneck' AND f.id = b.id AND b.class = f.torch_class), 24,
          'mlp_classify_batch gives PyTorch''s class for every image');
SELECT is((SELECT classify_label('tap_s', img) FROM fixture_images WHERE model = 'standard' AND id = 0),
          (SELECT (ARRAY['airplane','automobile','bird','cat','deer','dog','frog','horse','ship','truck'])[torch_class + 1]
           FROM fixture_images WHERE model = 'standard' AND id = 0), 'classify_label uses the class names');
SELECT is((SELECT class FROM classify_topk('tap_s', (SELECT img FROM fixture_images WHERE model = 'standard' AND id = 3), 3) WHERE rank = 1),
          (SELECT torch_class FROM fixture_images WHERE model = 'standard' AND id = 3), 'classify_topk ranks the top class first');
SELECT throws_ok($$SELECT * FROM mlp_classify_batch('tap_b', 'SELECT 1 AS id')$$, '42703', NULL, 'query without an image column refused');
SELECT throws_ok($$SELECT * FROM mlp_classify_batch('tap_b', '')$$, '22023', NULL, 'empty query refused');
SELECT is((SELECT count(*)::int FROM mlp_classify_batch('tap_b', 'SELECT 1 AS id, NULL::image AS image WHERE false')), 0,
          'a query without rows gives no rows');

-- ---- evaluation ---------------------------------------------------------------------------
SELECT ok((SELECT abs(e.loss - t.loss) < 1e-5 AND e.accuracy = t.acc AND e.n = 24
           FROM mlp_evaluate('tap_s', 'SELECT img AS image, label FROM tap_scoring.fixture_images WHERE model = ''standard''') e,
                (SELECT avg(-ln(torch_probs[label + 1])) AS loss, avg((torch_class = label)::int)::float8 AS acc
                 FROM fixture_images WHERE model = 'standard') t),
          'mlp_evaluate loss and accuracy equal PyTorch''s');
SELECT throws_ok($$SELECT * FROM mlp_evaluate('tap_s', 'SELECT img AS image FROM tap_scoring.fixture_images')$$,
                 '42703', NULL, 'source without a label column refused');
SELECT throws_ok($$SELECT * FROM mlp_evaluate('tap_s', 'tap_scoring.no_table')$$, '42P01', NULL, 'unknown source refused');

-- ---- errors and unknown models ---------------------------------------------------------------
SELECT throws_ok($$SELECT classify('tap_nope', '3x1x1:000000')$$, '42704', 'model "tap_nope" does not exist', 'unknown model');
SELECT throws_ok($$SELECT classify('tap_b@5', '3x1x1:000000')$$, '42704', 'model "tap_b" has no version 5', 'unknown version');
SELECT throws_ok($$SELECT classify('tap_b', '1x8x8:' || repeat('00', 64))$$, '42883', NULL, 'text is not an image');
SELECT throws_ok($$SELECT classify('tap_b', ('2x8x8:' || repeat('00', 128))::image)$$, '22023',
                 'image has 2 channels but model "tap_b" expects 3', 'channel mismatch names both');
SELECT is(classify('tap_b', NULL), NULL, 'NULL image gives NULL');

-- ---- versions and deployment ----------------------------------------------------------------
SELECT is(mlp_import('tap_b', data, input_shape => ARRAY[3, 8, 8]), 2, 'second import is version 2')
FROM fixture_files WHERE name = 'bottleneck_bare';
SELECT ok(predict_proba('tap_b', img) = predict_proba('tap_b@2', img) AND predict_proba('tap_b', img) <> predict_proba('tap_b@1', img),
          'the name now means version 2') FROM fixture_images WHERE model = 'bottleneck' AND id = 0;
SELECT lives_ok($$SELECT mlp_deploy('tap_s')$$, 'deploy');
SELECT is(classify(img), classify('tap_s', img), 'classify(image) uses the deployed model')
FROM fixture_images WHERE model = 'standard' AND id = 1;
SELECT is(mlp_drop_model('tap_b@1'), 1, 'drop one version');
SELECT throws_ok($$SELECT mlp_drop_model('tap_s')$$, '55006', NULL, 'the deployed model cannot be dropped');
SELECT is((SELECT count(*)::int FROM mlpscale.models WHERE name = 'tap_b'), 1, 'one version of tap_b left');

-- ---- mutated files never crash the server ---------------------------------------------------
-- Random byte flips, insertions and truncations of a PNG, a JPEG and a safetensors file; each
-- attempt runs in a subtransaction, so failures roll back and the next attempt goes on.
CREATE FUNCTION mutate(data bytea, seed int) RETURNS bytea LANGUAGE plpgsql AS $$
DECLARE pos int; n int := length(data);
BEGIN
    PERFORM setseed(seed / 100000.0);
    FOR k IN 1 .. 1 + (random() * 4)::int LOOP
        pos := (random() * (n - 1))::int;
        CASE (random() * 3)::int
            WHEN 0 THEN data := set_byte(data, pos, (random() * 255)::int);
            WHEN 1 THEN data := substring(data FROM 1 FOR pos);
            ELSE data := overlay(data PLACING '\xff00'::bytea FROM pos + 1 FOR 0);
        END CASE;
        n := length(data);
        EXIT WHEN n < 2;
    END LOOP;
    RETURN data;
END $$;
CREATE FUNCTION fuzz(sql text, data bytea, attempts int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE refused int := 0; accepted int := 0;
BEGIN
    FOR i IN 1 .. attempts LOOP
        BEGIN
            EXECUTE sql USING mutate(data, i);
            accepted := accepted + 1;
        EXCEPTION WHEN OTHERS THEN
            refused := refused + 1;
        END;
    END LOOP;
    RETURN accepted || ' accepted, ' || refused || ' refused';
END $$;
SELECT diag('image_decode of mutated files: ' ||
            fuzz('SELECT image_decode($1)', (SELECT data FROM image_files WHERE name = 'png_palette'), 300) || ' (PNG), ' ||
            fuzz('SELECT image_decode($1)', (SELECT data FROM image_files WHERE name = 'jpeg_rgb'), 300) || ' (JPEG)');
SELECT diag('mlp_import of mutated safetensors: ' ||
            fuzz('SELECT mlp_import(''tap_fuzz'', $1, input_shape => ARRAY[3, 8, 8])',
                 (SELECT data FROM fixture_files WHERE name = 'tiny'), 300));
SELECT is(image_width('1x1x3:000000'), 3, 'the server survives mutated PNG, JPEG and safetensors files');

SELECT * FROM finish();
ROLLBACK;
