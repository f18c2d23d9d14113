# Plot of experiment 3 from its CSVs: gnuplot -e "outdir='DIR'" bench/experiments/3_batch_size.gp
if (!exists("outdir")) outdir = "bench/experiments/results"
set terminal pngcairo size 1400,520 font "sans,11"
set output outdir."/3_batch_size.png"
set datafile separator ","
set datafile missing "NaN"
set multiplot layout 1,2 title "Experiment 3: batch size at 20 epochs (B\\_4-Wi\\_256, LION lr 5e-5, paper recipe; error on CIFAR-10 data\\_batch\\_5)"
set grid
set style data linespoints

set title "validation error after 20 epochs vs batch size"
set xlabel "batch size"
set ylabel "top-1 validation error"
set logscale x 2
set xtics (256, 512, 1024, 2048, 4096)
set xrange [200:5200]
set key top left
f = outdir."/3_batch_size_plot.csv"
plot f using 1:2 skip 1 title "final (epoch 20)" lw 2 pt 7, \
     f using 1:3 skip 1 title "best epoch" lw 1 pt 5 dt 2

set title "validation error against optimizer steps"
set xlabel "optimizer steps"
set xtics auto
set xrange [*:*]
set logscale x 10
set key top right
g = outdir."/3_batch_size_epochs.csv"
plot for [b in "256 512 1024 2048 4096"] \
     g using (($1 == b + 0) ? $3 : NaN):4 skip 1 with linespoints lw 2 pt 7 ps 0.6 title "batch ".b
unset multiplot
