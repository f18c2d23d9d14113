# Plot of experiment 2 from its CSVs: gnuplot -e "outdir='DIR'" bench/experiments/2_bottleneck.gp
if (!exists("outdir")) outdir = "bench/experiments/results"
set terminal pngcairo size 1400,520 font "sans,11"
set output outdir."/2_bottleneck.png"
set datafile separator ","
set datafile missing "NaN"
set multiplot layout 1,2 title "Experiment 2: inverted bottleneck (B) vs standard MLP (S) at equal parameters (depth 4, 20 epochs, paper recipe; error on CIFAR-10 data\\_batch\\_5)"
set grid
set style data linespoints

set title "validation error after 20 epochs vs parameters"
set xlabel "parameters"
set ylabel "top-1 validation error"
set logscale x
set format x "%.0s%c"
set xrange [6e5:1.5e7]
set key top right
f = outdir."/2_bottleneck_plot.csv"
plot f using 1:2 skip 1 title "B\\_4-Wi\\_W, W = 128, 256, 512 (inverted bottleneck)" lw 2 pt 7, \
     f using 3:4 skip 1 title "S\\_4-Wi\\_W, W = 240, 592, 1376 (standard)" lw 2 pt 5

unset logscale x
set format x "%g"
set xrange [*:*]
set title "validation error along training"
set xlabel "epoch"
g = outdir."/2_bottleneck_epochs.csv"
# odd i: B, even i: the S of the same size (same colour, dashed)
archs = "B_4-Wi_128 S_4-Wi_240 B_4-Wi_256 S_4-Wi_592 B_4-Wi_512 S_4-Wi_1376"
plot for [i=1:words(archs)] g using ((strcol(1) eq word(archs, i)) ? $4 : NaN):5 skip 1 \
     title word(archs, i) noenhanced with lines lw 2 lc int((i + 1) / 2) dt 2 - i % 2
unset multiplot
