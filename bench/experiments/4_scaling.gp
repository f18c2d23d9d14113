# Plot of experiment 4 from its CSVs: gnuplot -e "outdir='DIR'" bench/experiments/4_scaling.gp
if (!exists("outdir")) outdir = "bench/experiments/results"
set terminal pngcairo size 1400,560 font "sans,11"
set output outdir."/4_scaling.png"
set datafile separator ","
set datafile missing "NaN"
p = outdir."/4_scaling_points.csv"
fits = outdir."/4_scaling_fit.csv"
opt = outdir."/4_scaling_optimal.csv"
# The fitted figures (first row of the fits: the Pareto frontier; then params, examples).
stats fits every ::0::0 using (fa = $2, fb = $3, falpha = $4, feinf = $5) skip 1 nooutput
stats opt every ::0::0 using (pexp = $2, pcoef = $3) skip 1 nooutput
stats opt every ::1::1 using (xexp = $2, xcoef = $3) skip 1 nooutput
E(c) = fa * (fb + c) ** (-falpha) + feinf

set multiplot layout 1,2 title "Experiment 4: scaling (B\\_4-Wi\\_W, W = 32-256, 5k-39.75k images, epochs 1-40, paper recipe; error on CIFAR-10 data\\_batch\\_5)"
set grid
set logscale x
set format x "10^{%T}"

set title sprintf("error vs compute; fit on the frontier: E = %.3g (%.3g + C)^{-%.3f} + %.3f", fa, fb, falpha, feinf)
set xlabel "training compute C (FLOPs, paper eq. 4)"
set ylabel "top-1 validation error"
set key bottom left
set xrange [*:*]
plot for [w in "32 64 128 256"] p using (($3 == w + 0) ? $8 : NaN):9 skip 1 with points pt 7 ps 0.7 \
         title "B\\_4-Wi\\_".w, \
     p using ((strcol(10) eq "t") ? $8 : NaN):9 skip 1 with points pt 6 ps 1.8 lc rgb "black" title "Pareto frontier", \
     E(x) with lines lw 2 lc rgb "black" title "power-law fit"

set title sprintf("compute-optimal size: params ∝ C^{%.2f}, examples ∝ C^{%.2f} (paper: 0.35, 0.65)", pexp, xexp)
set ylabel "parameters / examples seen"
set logscale y
set format y "10^{%T}"
set key top left
plot p using ((strcol(10) eq "t") ? $8 : NaN):4 skip 1 with points pt 7 ps 1.2 title "params (frontier points)", \
     p using ((strcol(10) eq "t") ? $8 : NaN):7 skip 1 with points pt 5 ps 1.2 title "examples (frontier points)", \
     pcoef * x ** pexp with lines lw 2 title "params* fit (mlp\\_compute\\_optimal)", \
     xcoef * x ** xexp with lines lw 2 title "examples* fit (mlp\\_compute\\_optimal)"
unset multiplot
