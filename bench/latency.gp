# Latency from the writer's close to the handler's start, as a cumulative
# distribution per tool (log scale).
# Called by bench/report.sh: gnuplot -e "dir='DIR'; out='PNG'; subtitle='TEXT'" latency.gp
# DIR holds inboxd.dat, limit.dat, inotifywait.dat and incron.dat, each with
# lines "MILLISECONDS FRACTION"; values below 0.1 ms (a handler can log its
# start before the writer, descheduled after close, takes its timestamp) are
# drawn at 0.1 ms.
set xrange [0.1:*]
set terminal pngcairo size 900,520 font "sans,10" noenhanced
set output out
set title "Close-to-handler-start latency, ".subtitle
set logscale x 10
set xlabel "milliseconds (log scale)"
set ylabel "fraction of files"
set yrange [0:1.02]
set grid xtics ytics mxtics
set key top left
set linetype 1 lc rgb "#1f77b4" lw 2
set linetype 2 lc rgb "#7f7f7f" lw 2
set linetype 3 lc rgb "#2ca02c" lw 2
set linetype 4 lc rgb "#d62728" lw 2
plot dir."/inboxd.dat" using 1:2 with steps title "inboxd", \
     dir."/limit.dat" using 1:2 with steps title "limit (posix_spawn)", \
     dir."/inotifywait.dat" using 1:2 with steps title "inotifywait | xargs -P2", \
     dir."/incron.dat" using 1:2 with steps title "incrond"
