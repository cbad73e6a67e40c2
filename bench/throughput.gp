# Throughput per round and tool, as clustered bars (files per second).
# Called by bench/report.sh: gnuplot -e "data='FILE'; out='PNG'; subtitle='TEXT'" throughput.gp
# The data file has a header line "round inboxd limit inotifywait incron" and
# one row per round.
set terminal pngcairo size 900,520 font "sans,10" noenhanced
set output out
set title "Files per second, ".subtitle
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set ylabel "files per second (first write to last handler end)"
set xlabel "round (tools run alternately: inboxd, limit, inotifywait, incron)"
set yrange [0:*]
set grid ytics
set key top right
set linetype 1 lc rgb "#1f77b4"
set linetype 2 lc rgb "#7f7f7f"
set linetype 3 lc rgb "#2ca02c"
set linetype 4 lc rgb "#d62728"
plot for [i=2:5] data using i:xtic(1) title columnheader(i)
