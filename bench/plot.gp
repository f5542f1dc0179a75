# Training samples/s against batch size, one line per model and thread count (issue 7).
#   gnuplot -e "datafile='train.dat'; outfile='train.svg'; nblocks=8" bench/plot.gp
# datafile: blocks written by bench/run --plot (a quoted title line, then "batch samples/s"
# lines), separated by two blank lines so each block is one gnuplot index.
if (!exists("datafile")) datafile = 'bench/results.dat'
if (!exists("outfile")) outfile = 'docs/bench/train_samples_per_s.svg'
# the output file's extension picks the terminal: .png (cairo) or SVG otherwise
if (strstrt(outfile, ".png") > 0) {
    set terminal pngcairo size 800,500 font 'Helvetica,10'
} else {
    set terminal svg size 800,500 dynamic enhanced font 'Helvetica,12' background rgb 'white'
}
set output outfile
set title 'libdeepctr training throughput (Criteo shape, k = 8, DNN 256-128)'
set xlabel 'batch size'
set ylabel 'samples / s'
set logscale xy
set format y '%.0s%c'
set xtics (256, 1024, 4096)
set xrange [180:5800]
set grid
set key outside right top
set style data linespoints
if (!exists("nblocks")) nblocks = 8
# odd blocks are the 2-thread runs: dashed, open points
dash(i) = i % 2 + 1
plot for [i=0:nblocks-1] datafile index i using 1:2 title columnheader(1) \
     linetype (i / 2 + 1) linewidth 2 pointtype (7 - i % 2) dashtype dash(i)
