-- Experiment 2 (docs/experiments.md): the inverted-bottleneck MLP against the standard MLP at
-- about equal parameter counts.  Paper: B_L-Wi_W beats S_L-Wi_W of the same size.  Here: three
-- pairs at depth 4 (0.9M, 2.9M and 10M parameters), 20 epochs on the 40,000 training images
-- with the paper's recipe (LION, crops+flips, MixUp 0.8, label smoothing 0.3); error on
-- data_batch_5.  The S widths were chosen with the paper's parameter formula:
--   B_L-Wi_W: 3073W + L(8W^2 + 7W) + 10W + 10   (expansion 4: a block is 8W^2 + 7W)
--   S_L-Wi_W: 3073W + (L-1)(W^2 + 3W) + 10W + 10 (LayerNorm and a W x W layer per hidden layer)
--   psql -v outdir=DIR -f bench/experiments/2_bottleneck.sql    (run_all.sh does this)
\set ON_ERROR_STOP 1
\if :{?outdir}
\else
\set outdir bench/experiments/results
\endif

SELECT mlp_sweep('exp2_bottleneck', 'cifar_train',
                 '{"arch": ["B_4-Wi_128", "S_4-Wi_240", "B_4-Wi_256", "S_4-Wi_592",
                            "B_4-Wi_512", "S_4-Wi_1376"]}',
                 epochs => 20, batch_size => 1024,
                 validation => 'cifar_val', seed => 1, matmul_precision => 'bf16') AS sweep \gset
SELECT mlp_wait_sweep(:sweep) AS status;

\set f :outdir '/2_bottleneck.csv'
\o :f
COPY (SELECT * FROM mlpscale.results WHERE sweep_id = :sweep ORDER BY run_id)
  TO STDOUT WITH (FORMAT csv, HEADER);
\o

-- One row per size class: the B and S runs side by side (the plot's table).
\set f :outdir '/2_bottleneck_plot.csv'
\o :f
COPY (SELECT b.params AS b_params, b.final_val_error AS b_error, s.params AS s_params,
             s.final_val_error AS s_error, b.arch AS b_arch, s.arch AS s_arch
        FROM mlpscale.results b
        JOIN mlpscale.results s ON s.sweep_id = b.sweep_id AND s.kind = 'S'
             AND abs(ln(s.params::float8 / b.params)) < 0.1
       WHERE b.sweep_id = :sweep AND b.kind = 'B' ORDER BY b.params)
  TO STDOUT WITH (FORMAT csv, HEADER);
\o

\set f :outdir '/2_bottleneck_epochs.csv'
\o :f
COPY (SELECT r.arch, r.kind, r.params, e.epoch, 1 - e.val_accuracy AS val_error
        FROM mlpscale.results r JOIN mlpscale.epochs e USING (run_id)
       WHERE r.sweep_id = :sweep ORDER BY r.params, r.kind, e.epoch)
  TO STDOUT WITH (FORMAT csv, HEADER);
\o

\echo 'parameters: mlpscale.runs.params against the paper formula'
SELECT arch, kind, depth, width, expansion, params,
       CASE kind WHEN 'B' THEN 3073 * width + depth * (2 * expansion * width ^ 2 + (expansion + 3) * width)
                               + 10 * width + 10
                 ELSE 3073 * width + (depth - 1) * (width ^ 2 + 3 * width) + 10 * width + 10 END
           AS formula
  FROM mlpscale.results WHERE sweep_id = :sweep ORDER BY params, kind;

\echo 'validation error (data_batch_5) after 20 epochs at about equal parameter counts'
SELECT b.arch AS b_arch, b.params AS b_params, round(b.final_val_error::numeric, 3) AS b_error,
       s.arch AS s_arch, s.params AS s_params, round(s.final_val_error::numeric, 3) AS s_error,
       round(100 * (s.final_val_error - b.final_val_error)::numeric, 1) AS b_ahead_points,
       round(b.seconds::numeric) AS b_seconds, round(s.seconds::numeric) AS s_seconds
  FROM mlpscale.results b
  JOIN mlpscale.results s ON s.sweep_id = b.sweep_id AND s.kind = 'S'
       AND abs(ln(s.params::float8 / b.params)) < 0.1
 WHERE b.sweep_id = :sweep AND b.kind = 'B' ORDER BY b.params;
