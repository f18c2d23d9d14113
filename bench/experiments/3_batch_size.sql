-- Experiment 3 (docs/experiments.md): batch size at a fixed number of epochs.
-- Paper: unlike CNNs, MLPs generalise better with larger batches.  Here: B_4-Wi_256, 20 epochs
-- of the 40,000 training images, batch 256 to 4096 at the same learning rate (LION 5e-5, the
-- paper's recipe otherwise); error on data_batch_5.
--   psql -v outdir=DIR -f bench/experiments/3_batch_size.sql    (run_all.sh does this)
\set ON_ERROR_STOP 1
\if :{?outdir}
\else
\set outdir bench/experiments/results
\endif

SELECT mlp_sweep('exp3_batch_size', 'cifar_train',
                 '{"batch_size": [256, 512, 1024, 2048, 4096]}',
                 arch => 'B_4-Wi_256', epochs => 20,
                 validation => 'cifar_val', seed => 1, matmul_precision => 'bf16') AS sweep \gset
SELECT mlp_wait_sweep(:sweep) AS status;

\set f :outdir '/3_batch_size.csv'
\o :f
COPY (SELECT * FROM mlpscale.results WHERE sweep_id = :sweep ORDER BY run_id)
  TO STDOUT WITH (FORMAT csv, HEADER);
\o

-- The plot's table: final and best error, and the error at a fixed number of optimizer steps.
\set f :outdir '/3_batch_size_plot.csv'
\o :f
COPY (SELECT r.batch_size, r.final_val_error, r.best_val_error,
             ceil(r.train_size::float8 / r.batch_size) * r.epochs AS steps, r.seconds
        FROM mlpscale.results r WHERE r.sweep_id = :sweep ORDER BY r.batch_size)
  TO STDOUT WITH (FORMAT csv, HEADER);
\o

\set f :outdir '/3_batch_size_epochs.csv'
\o :f
COPY (SELECT r.batch_size, e.epoch, e.epoch * ceil(r.train_size::float8 / r.batch_size) AS steps,
             1 - e.val_accuracy AS val_error, 1 - e.train_accuracy AS train_error
        FROM mlpscale.results r JOIN mlpscale.epochs e USING (run_id)
       WHERE r.sweep_id = :sweep ORDER BY r.batch_size, e.epoch)
  TO STDOUT WITH (FORMAT csv, HEADER);
\o

\echo 'validation error (data_batch_5) after 20 epochs by batch size'
SELECT batch_size, round(final_val_error::numeric, 3) AS final_error,
       round(best_val_error::numeric, 3) AS best_error, best_epoch,
       (ceil(train_size::float8 / batch_size) * epochs)::int AS steps,
       round(seconds::numeric) AS seconds
  FROM mlpscale.results WHERE sweep_id = :sweep ORDER BY batch_size;

\echo 'the same runs at (about) equal optimizer steps: error at the epoch whose step count is nearest'
\echo 'the 200, 400 and 800 steps that batch 4096, 2048 and 1024 take in 20 epochs (empty: none within 25%)'
SELECT t.steps AS target_steps,
       max(round(q.val_error::numeric, 3)) FILTER (WHERE q.batch_size = 256)  AS "256",
       max(round(q.val_error::numeric, 3)) FILTER (WHERE q.batch_size = 512)  AS "512",
       max(round(q.val_error::numeric, 3)) FILTER (WHERE q.batch_size = 1024) AS "1024",
       max(round(q.val_error::numeric, 3)) FILTER (WHERE q.batch_size = 2048) AS "2048",
       max(round(q.val_error::numeric, 3)) FILTER (WHERE q.batch_size = 4096) AS "4096"
  FROM (VALUES (200), (400), (800)) t(steps)
  CROSS JOIN LATERAL (
        SELECT DISTINCT ON (r.batch_size) r.batch_size, 1 - e.val_accuracy AS val_error
          FROM mlpscale.results r JOIN mlpscale.epochs e USING (run_id)
         WHERE r.sweep_id = :sweep
           AND abs(e.epoch * ceil(r.train_size::float8 / r.batch_size) - t.steps) <= 0.25 * t.steps
         ORDER BY r.batch_size, abs(e.epoch * ceil(r.train_size::float8 / r.batch_size) - t.steps)) q
 GROUP BY t.steps ORDER BY t.steps;
