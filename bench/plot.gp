# Plot of bench/run.sh (via bench/summarize.py): gnuplot -e "outdir='DIR'" bench/plot.gp
# Reads DIR/headline.dat (label, mlpscale, PyTorch), DIR/width.dat, DIR/batch.dat (x, mlpscale,
# PyTorch) and DIR/scale.dat (images, seconds).
if (!exists("outdir")) outdir = "bench/results"
set terminal pngcairo size 2000,460 font "sans,11"
set output outdir."/scaling.png"
set datafile missing "NaN"
set multiplot layout 1,4 title "mlpscale vs PyTorch on the same CPU and thread count (median images/s)"
set grid

set title "training throughput (B\\_6-Wi\\_W, batch 1024, 3x32x32)"
set xlabel "width W and precision of the products"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set ylabel "images/s"
set logscale y 2
set yrange [256:32768]
set key top right
plot outdir."/headline.dat" using 2:xtic(1) title "mlpscale", "" using 3 title "PyTorch"
unset logscale y
set yrange [*:*]

set key top right
set style data linespoints

set title "training throughput vs width (B\\_6-Wi\\_W, batch 1024)"
set xlabel "width W"
set ylabel "images/s"
set logscale xy 2
set xtics (256, 512, 1024)
set xrange [200:1300]
plot outdir."/width.dat" using 1:2 title "mlpscale" lw 2 pt 7, \
     "" using 1:3 title "PyTorch" lw 2 pt 5

set title "training throughput vs batch (B\\_6-Wi\\_256)"
set xlabel "batch size"
set xtics (256, 512, 1024, 2048, 4096)
set xrange [200:5200]
set key bottom right
unset logscale y
set yrange [0:*]
plot outdir."/batch.dat" using 1:2 title "mlpscale" lw 2 pt 7, \
     "" using 1:3 title "PyTorch" lw 2 pt 5

set title "epoch time vs dataset size (mlpscale, B\\_6-Wi\\_256)"
set xlabel "images in the epoch"
set ylabel "seconds"
unset logscale
set xtics auto
set yrange [0:*]
set xrange [0:*]
set fit quiet
set fit logfile "/dev/null"
f(x) = k * x
k = 0.0003
fit f(x) outdir."/scale.dat" using 1:2 via k
set key top left
plot f(x) title "line through 0 (least squares)" with lines dt 2 lw 2, \
     outdir."/scale.dat" using 1:2 title "measured" with points pt 7 ps 1.5
unset multiplot
