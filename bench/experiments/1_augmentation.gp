# Plot of experiment 1 from its CSVs: gnuplot -e "outdir='DIR'" bench/experiments/1_augmentation.gp
if (!exists("outdir")) outdir = "bench/experiments/results"
set terminal pngcairo size 1400,520 font "sans,11"
set output outdir."/1_augmentation.png"
set datafile separator ","
set datafile missing "NaN"
set multiplot layout 1,2 title "Experiment 1: augmentation (B\\_4-Wi\\_256, 50 epochs, batch 1024, LION; error on CIFAR-10 data\\_batch\\_5)"
set grid
set style data linespoints

set title "validation error after 50 epochs vs training-set size"
set xlabel "training images (class-balanced subset of data\\_batch\\_1-4)"
set ylabel "top-1 validation error"
set logscale x 2
set xtics (5000, 10000, 20000, 39750)
set xrange [4000:50000]
set key top right
f = outdir."/1_augmentation_plot.csv"
plot f using 1:2 skip 1 title "crops+flips+MixUp" lw 2 pt 7, \
     f using 1:3 skip 1 title "crops+flips only" lw 1 pt 5 dt 2, \
     f using 1:4 skip 1 title "MixUp only" lw 1 pt 9 dt 2, \
     f using 1:5 skip 1 title "no augmentation" lw 2 pt 13

unset logscale x
set xtics auto
set xrange [*:*]
set title "validation error along training"
set xlabel "epoch"
g = outdir."/1_augmentation_epochs.csv"
stats g using 1 skip 1 nooutput
big = int(STATS_max)
small = int(STATS_min)
plot g using (($1==big && strcol(2) eq "t" && $3>0) ? $4 : NaN):5 skip 1 title sprintf("%d images, crops+flips+MixUp", big) with lines lw 2 lc 1, \
     g using (($1==big && strcol(2) eq "f" && $3==0) ? $4 : NaN):5 skip 1 title sprintf("%d images, none", big) with lines lw 2 lc 2, \
     g using (($1==small && strcol(2) eq "t" && $3>0) ? $4 : NaN):5 skip 1 title sprintf("%d images, crops+flips+MixUp", small) with lines lw 1 dt 2 lc 1, \
     g using (($1==small && strcol(2) eq "f" && $3==0) ? $4 : NaN):5 skip 1 title sprintf("%d images, none", small) with lines lw 1 dt 2 lc 2
unset multiplot
