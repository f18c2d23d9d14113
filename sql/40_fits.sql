-- Scaling studies: mlp_fit_power_law and mlp_compute_optimal over generated points, and
-- each bad input (the error's SQLSTATE and message; a few also with their hints).

CREATE SCHEMA fits_test;
SET search_path = fits_test, public;

CREATE FUNCTION try(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- 30 points of E = 30*(1e9 + C)^(-0.2) + 0.05 across 7 decades of compute
CREATE TABLE curve AS
SELECT i, 10 ^ (8 + 7 * i / 29.0) AS compute,
       30 * (1e9 + 10 ^ (8 + 7 * i / 29.0)) ^ (-0.2) + 0.05 AS error
FROM generate_series(0, 29) i;

SELECT round(a::numeric, 4) AS a, round((b / 1e9)::numeric, 4) AS b_over_1e9,
       round(alpha::numeric, 5) AS alpha, round(e_inf::numeric, 5) AS e_inf,
       rmse < 1e-9 AS exact, n
FROM mlp_fit_power_law('SELECT compute, error FROM curve');

-- The same with columns of other names (the first two), float8 and noise of sd 0.002
-- drawn with a fixed seed: the parameters within the noise's reach, the rmse near 0.002.
SELECT setseed(0.25);
CREATE TABLE noisy AS
SELECT compute::float8 AS flops, (error + 0.002 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))::float8 AS err
FROM curve;
SELECT abs(alpha - 0.2) < 0.03 AS alpha_near, abs(e_inf - 0.05) < 0.01 AS e_inf_near,
       rmse BETWEEN 0.0012 AND 0.0028 AS rmse_near, n
FROM mlp_fit_power_law('SELECT flops, err FROM noisy');

-- By name in any order, with other columns; a VALUES list; integer and real columns
SELECT round(alpha::numeric, 5) AS alpha
FROM mlp_fit_power_law('SELECT i, error, compute FROM curve');
SELECT round(a::numeric, 3) AS a, round(b::numeric, 3) AS b, round(alpha::numeric, 3) AS alpha,
       round(e_inf::numeric, 3) AS e_inf, n
FROM mlp_fit_power_law($$VALUES (1, 2.0::real), (10, 1.0), (100, 0.5), (1000, 0.25), (10000, 0.125)$$);

-- Bad inputs
SELECT try($$SELECT * FROM mlp_fit_power_law(NULL)$$);
SELECT try($$SELECT * FROM mlp_fit_power_law('SELECT compute, error FROM curve', NULL)$$);
SELECT try($$SELECT * FROM mlp_fit_power_law('SELECT compute, error FROM curve', 0)$$);
SELECT try($$SELECT * FROM mlp_fit_power_law('SELECT compute, error FROM curve WHERE i < 3')$$);
SELECT try($$SELECT * FROM mlp_fit_power_law('SELECT compute, error FROM curve WHERE false')$$);
SELECT try($$SELECT * FROM mlp_fit_power_law('SELECT CASE WHEN i = 4 THEN NULL ELSE compute END AS compute, error FROM curve')$$);
SELECT try($$SELECT * FROM mlp_fit_power_law('SELECT compute, CASE WHEN i = 5 THEN NULL ELSE error END AS error FROM curve')$$);
SELECT try($$SELECT * FROM mlp_fit_power_law('SELECT compute, CASE WHEN i = 5 THEN ''NaN'' ELSE error END AS error FROM curve')$$);
SELECT try($$SELECT * FROM mlp_fit_power_law('SELECT CASE WHEN i = 2 THEN ''Infinity''::float8 ELSE compute END, error FROM curve')$$);
SELECT try($$SELECT * FROM mlp_fit_power_law('SELECT CASE WHEN i = 2 THEN 0 ELSE compute END AS compute, error FROM curve')$$);
SELECT try($$SELECT * FROM mlp_fit_power_law('SELECT CASE WHEN i = 2 THEN -1e9 ELSE compute END AS compute, error FROM curve')$$);
SELECT try($$SELECT * FROM mlp_fit_power_law('SELECT compute, CASE WHEN i = 0 THEN 0 ELSE error END AS error FROM curve')$$);
SELECT try($$SELECT * FROM mlp_fit_power_law('SELECT compute::text, error FROM curve')$$);
SELECT try($$SELECT * FROM mlp_fit_power_law('SELECT compute FROM curve')$$);
SELECT try($$SELECT * FROM mlp_fit_power_law('SELECT compute, error AS err FROM curve')$$);
SELECT try($$SELECT * FROM mlp_fit_power_law('SELECT compute, error, error FROM curve')$$);
SELECT try($$SELECT * FROM mlp_fit_power_law('SELECT compute, error, compute FROM curve')$$);
SELECT try($$SELECT * FROM mlp_fit_power_law('DELETE FROM curve RETURNING compute, error')$$);
SELECT try($$SELECT * FROM mlp_fit_power_law('SELECT 1, 2; SELECT 3, 4')$$);
SELECT try($$SELECT * FROM mlp_fit_power_law('SELEC compute, error FROM curve')$$);
SELECT try($$SELECT * FROM mlp_fit_power_law('SELECT flops, err FROM noisy', max_iterations => 1)$$);
SELECT count(*) AS rows_kept FROM curve;
-- with their hints
SELECT * FROM mlp_fit_power_law('SELECT compute, NULL::float8 AS error FROM curve');
SELECT * FROM mlp_fit_power_law('SELECT -compute AS compute, error FROM curve');
SELECT * FROM mlp_fit_power_law('SELECT -compute, error FROM curve');
SELECT * FROM mlp_fit_power_law('SELECT flops, err FROM noisy', max_iterations => 1);

-- The compute-optimal frontier of a grid: seven compute levels 1e10 .. 1e16, five runs each
-- with params P*·f (f = 1/4 .. 4) and examples C / (6 params); the error is lowest at f = 1,
-- where P* = 0.5·C^0.35 and N* = C^0.65 / 3.
CREATE TABLE grid AS
SELECT 10::float8 ^ k AS compute, 0.1 + 2.0 / k + ln(f) ^ 2 AS error,
       0.5 * (10::float8 ^ k) ^ 0.35 * f AS params,
       10::float8 ^ k / (6 * 0.5 * (10::float8 ^ k) ^ 0.35 * f) AS examples
FROM generate_series(10, 16) k, unnest(ARRAY[0.25, 0.5, 1, 2, 4]::float8[]) f;
SELECT quantity, round(exponent::numeric, 6) AS exponent, round(coefficient::numeric, 6) AS coefficient,
       round(r2::numeric, 6) AS r2, points
FROM mlp_compute_optimal('SELECT compute, error, params, examples FROM grid');
-- Compute within a third of a decade is one level: 1e10 and 2e10 share a bucket, its best run
-- is kept; integer and numeric columns by position
SELECT quantity, round(exponent::numeric, 4) AS exponent, points
FROM mlp_compute_optimal($$VALUES (1e10, 0.5, 1000, 1000000), (2e10, 0.4, 2000, 2000000),
                                  (1e11, 0.3, 4000, 4000000), (1e12, 0.2, 8000, 20000000)$$);

SELECT try($$SELECT * FROM mlp_compute_optimal(NULL)$$);
SELECT try($$SELECT * FROM mlp_compute_optimal('SELECT compute, error, params, examples FROM grid WHERE compute = 1e12')$$);
SELECT try($$SELECT * FROM mlp_compute_optimal('SELECT compute, error, params, examples FROM grid WHERE false')$$);
SELECT try($$SELECT * FROM mlp_compute_optimal('SELECT compute, error, params, NULL::bigint AS examples FROM grid')$$);
SELECT try($$SELECT * FROM mlp_compute_optimal('SELECT compute, error, 0 AS params, examples FROM grid')$$);
SELECT try($$SELECT * FROM mlp_compute_optimal('SELECT compute - 1e10 AS compute, error, params, examples FROM grid')$$);
SELECT try($$SELECT * FROM mlp_compute_optimal('SELECT compute, ''NaN''::numeric AS error, params, examples FROM grid')$$);
SELECT try($$SELECT * FROM mlp_compute_optimal('SELECT compute, error, params::text, examples FROM grid')$$);
SELECT try($$SELECT * FROM mlp_compute_optimal('SELECT compute, error, params FROM grid')$$);
SELECT try($$SELECT * FROM mlp_compute_optimal('SELECT compute, error FROM grid')$$);
SELECT try($$SELECT * FROM mlp_compute_optimal('UPDATE grid SET error = 0 RETURNING *')$$);
SELECT * FROM mlp_compute_optimal('SELECT compute, error, params, examples FROM grid WHERE compute = 1e12');

DROP SCHEMA fits_test CASCADE;
