-- Experiment 4 (docs/experiments.md): error as a power law of compute, and where compute is
-- best spent.  Paper: E(C) = a(b + C)^(-alpha) + E_inf with alpha between 0.12 and 0.35
-- (depending on the dataset), and compute-optimal parameters ~ C^0.35, examples ~ C^0.65.
-- Here: B_4-Wi_W for W = 32, 64, 128, 256 (0.13M to 2.9M parameters) x 5,000 to 39,750 training
-- images, 40 epochs each with the paper's recipe.  The learning rate is constant, so a run's
-- epoch e is what an e-epoch run would give: the epochs axis of the grid (1, 2, 5, 10, 20, 40)
-- is read from mlpscale.epochs instead of being trained again.  Compute = forward FLOPs x 3 x
-- examples seen (paper eq. 4); error on data_batch_5.
--   psql -v outdir=DIR -f bench/experiments/4_scaling.sql    (run_all.sh does this)
\set ON_ERROR_STOP 1
\if :{?outdir}
\else
\set outdir bench/experiments/results
\endif

SELECT mlp_sweep('exp4_scaling', 'cifar_train',
                 '{"arch": ["B_4-Wi_32", "B_4-Wi_64", "B_4-Wi_128", "B_4-Wi_256"],
                   "train_size": [5000, 10000, 20000, 39750]}',
                 epochs => 40, batch_size => 1024,
                 validation => 'cifar_val', seed => 1, matmul_precision => 'bf16') AS sweep \gset
SELECT mlp_wait_sweep(:sweep) AS status;

-- The points: model x data x epochs.
CREATE TEMP VIEW points AS
SELECT r.run_id, r.arch, r.width, r.params, r.train_size, e.epoch,
       e.examples_seen AS examples, e.cumulative_flops AS compute, 1 - e.val_accuracy AS error
  FROM mlpscale.results r JOIN mlpscale.epochs e USING (run_id)
 WHERE r.sweep_id = :sweep AND e.epoch IN (1, 2, 5, 10, 20, 40);

-- The Pareto frontier: the points with a lower error than every point of less compute.
CREATE TEMP VIEW frontier AS
SELECT * FROM (SELECT p.*, min(error) OVER (ORDER BY compute ROWS BETWEEN UNBOUNDED PRECEDING
                                                              AND 1 PRECEDING) AS best_before
                 FROM points p) q
 WHERE best_before IS NULL OR error < best_before;

\set f :outdir '/4_scaling.csv'
\o :f
COPY (SELECT * FROM mlpscale.results WHERE sweep_id = :sweep ORDER BY run_id)
  TO STDOUT WITH (FORMAT csv, HEADER);
\o
\set f :outdir '/4_scaling_points.csv'
\o :f
COPY (SELECT p.*, f.run_id IS NOT NULL AS on_frontier
        FROM points p LEFT JOIN frontier f USING (run_id, epoch)
       ORDER BY p.width, p.train_size, p.epoch)
  TO STDOUT WITH (FORMAT csv, HEADER);
\o

-- The fits; their figures also go to a CSV for the plot (the fitted curve).
CREATE TEMP TABLE fits AS
SELECT 'frontier' AS points, * FROM mlp_fit_power_law('SELECT compute, error FROM frontier')
UNION ALL
SELECT 'all', * FROM mlp_fit_power_law('SELECT compute, error FROM points');
\set f :outdir '/4_scaling_fit.csv'
\o :f
COPY (SELECT * FROM fits) TO STDOUT WITH (FORMAT csv, HEADER);
\o

CREATE TEMP TABLE optimal AS
SELECT * FROM mlp_compute_optimal('SELECT compute, error, params, examples FROM points');
\set f :outdir '/4_scaling_optimal.csv'
\o :f
COPY (SELECT * FROM optimal) TO STDOUT WITH (FORMAT csv, HEADER);
\o

\echo 'E(C) = a (b + C)^(-alpha) + E_inf, C in FLOPs (paper: alpha 0.12 to 0.35 by dataset)'
SELECT points, round(a::numeric, 3) AS a, to_char(b, '9.99EEEE') AS b, round(alpha::numeric, 3) AS alpha,
       round(e_inf::numeric, 3) AS e_inf, round(rmse::numeric, 4) AS rmse, n
  FROM fits;

\echo 'compute-optimal parameters and examples ~ C^exponent (paper: 0.35 and 0.65)'
SELECT quantity, round(exponent::numeric, 3) AS exponent,
       to_char(coefficient, '9.999EEEE') AS coefficient, round(r2::numeric, 3) AS r2,
       points
  FROM optimal;

\echo 'the frontier: which model and data size are best at each compute'
SELECT arch, params, train_size, epoch, examples, to_char(compute, '9.99EEEE') AS flops,
       round(error::numeric, 3) AS error
  FROM frontier ORDER BY compute;

\echo 'validation error after 40 epochs by model and training-set size'
SELECT train_size,
       round(max(final_val_error) FILTER (WHERE width = 32)::numeric, 3)  AS "B_4-Wi_32",
       round(max(final_val_error) FILTER (WHERE width = 64)::numeric, 3)  AS "B_4-Wi_64",
       round(max(final_val_error) FILTER (WHERE width = 128)::numeric, 3) AS "B_4-Wi_128",
       round(max(final_val_error) FILTER (WHERE width = 256)::numeric, 3) AS "B_4-Wi_256"
  FROM mlpscale.results WHERE sweep_id = :sweep GROUP BY train_size ORDER BY train_size;
