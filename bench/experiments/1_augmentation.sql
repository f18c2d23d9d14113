-- Experiment 1 (docs/experiments.md): data augmentation as the training set grows.
-- Paper: augmentation (random-resized crops, flips, MixUp) matters far more for MLPs than for
-- CNNs, about +20 points of accuracy after long training.  Here: B_4-Wi_256 trained for 50
-- epochs on class-balanced subsets of 5,000 to 39,750 CIFAR-10 images (39,750: all 3,975
-- images of the rarest class, times 10, the largest balanced subset of data_batch_1-4), with
-- crops+flips on or off and MixUp 0.8 or 0 (the full 2x2, so the parts can be told apart);
-- error on data_batch_5.
--   psql -v outdir=DIR -f bench/experiments/1_augmentation.sql    (run_all.sh does this)
\set ON_ERROR_STOP 1
\if :{?outdir}
\else
\set outdir bench/experiments/results
\endif

SELECT mlp_sweep('exp1_augmentation', 'cifar_train',
                 '{"train_size": [5000, 10000, 20000, 39750],
                   "augment": [true, false], "mixup": [0.8, 0]}',
                 arch => 'B_4-Wi_256', epochs => 50, batch_size => 1024,
                 validation => 'cifar_val', seed => 1, matmul_precision => 'bf16') AS sweep \gset
SELECT mlp_wait_sweep(:sweep) AS status;

-- Every run of the sweep, as mlpscale.results has it.
\set f :outdir '/1_augmentation.csv'
\o :f
COPY (SELECT * FROM mlpscale.results WHERE sweep_id = :sweep ORDER BY run_id)
  TO STDOUT WITH (FORMAT csv, HEADER);
\o

-- One row per training-set size, one column per recipe (the plot's table).
\set f :outdir '/1_augmentation_plot.csv'
\o :f
COPY (SELECT train_size,
             max(final_val_error) FILTER (WHERE augment AND mixup > 0)         AS crops_mixup,
             max(final_val_error) FILTER (WHERE augment AND mixup = 0)         AS crops_only,
             max(final_val_error) FILTER (WHERE NOT augment AND mixup > 0)     AS mixup_only,
             max(final_val_error) FILTER (WHERE NOT augment AND mixup = 0)     AS none
        FROM mlpscale.results WHERE sweep_id = :sweep
       GROUP BY train_size ORDER BY train_size)
  TO STDOUT WITH (FORMAT csv, HEADER);
\o

-- The error along training (every epoch of every run), for the plot's second panel.
\set f :outdir '/1_augmentation_epochs.csv'
\o :f
COPY (SELECT r.train_size, r.augment, r.mixup, e.epoch, 1 - e.val_accuracy AS val_error
        FROM mlpscale.results r JOIN mlpscale.epochs e USING (run_id)
       WHERE r.sweep_id = :sweep ORDER BY r.train_size, r.augment DESC, r.mixup DESC, e.epoch)
  TO STDOUT WITH (FORMAT csv, HEADER);
\o

\echo 'validation error (data_batch_5) after 50 epochs, the gain of crops+flips+MixUp (points), and the lowest error and lowest-loss epoch without augmentation'
SELECT train_size,
       round(max(final_val_error) FILTER (WHERE NOT augment AND mixup = 0)::numeric, 3) AS no_aug,
       round(max(final_val_error) FILTER (WHERE augment AND mixup > 0)::numeric, 3)     AS aug_mixup,
       round(max(final_val_error) FILTER (WHERE augment AND mixup = 0)::numeric, 3)     AS crops_only,
       round(max(final_val_error) FILTER (WHERE NOT augment AND mixup > 0)::numeric, 3) AS mixup_only,
       round(100 * (max(final_val_error) FILTER (WHERE NOT augment AND mixup = 0)
                    - max(final_val_error) FILTER (WHERE augment AND mixup > 0))::numeric, 1)
           AS gain_points,
       round(min(best_val_error) FILTER (WHERE NOT augment AND mixup = 0)::numeric, 3)  AS no_aug_best,
       max(best_epoch) FILTER (WHERE NOT augment AND mixup = 0)              AS no_aug_min_loss_epoch
  FROM mlpscale.results WHERE sweep_id = :sweep
 GROUP BY train_size ORDER BY train_size;

\echo 'the first epoch from which crops+flips+MixUp stays ahead of no augmentation (empty: not at the end)'
SELECT ra.train_size,
       nullif(1 + coalesce(max(a.epoch) FILTER (WHERE a.val_accuracy <= n.val_accuracy), 0),
              1 + max(a.epoch))
           AS aug_ahead_from_epoch
  FROM (mlpscale.results ra JOIN mlpscale.epochs a USING (run_id))
  JOIN (mlpscale.results rn JOIN mlpscale.epochs n USING (run_id))
       ON rn.sweep_id = ra.sweep_id AND rn.train_size = ra.train_size AND n.epoch = a.epoch
 WHERE ra.sweep_id = :sweep AND ra.augment AND ra.mixup > 0 AND NOT rn.augment AND rn.mixup = 0
 GROUP BY ra.train_size ORDER BY ra.train_size;
