#!/bin/sh
# make plots: latency and bandwidth against message size for each profile
# in configs/ (on the 2-node platform), drawn by gnuplot into PNG files
# under BUILD/plots/, with the profile's published figures ([reference]
# latency_us at 4 bytes, bandwidth_MBps as the peak) as points.  The
# curves are the simulator's exact output (vmmcsim run ... --csv), also
# kept next to the pictures.
#
#   sh scripts/plots.sh [BUILD]      (default build)
set -eu
B=${1:-build}
V="$B/vmmcsim"
OUT="$B/plots"
mkdir -p "$OUT"
command -v gnuplot >/dev/null 2>&1 || {
    echo "plots: gnuplot is missing (apt-get install gnuplot-nox, or make plots as root)" >&2
    exit 2
}
SIZES=4,8,16,32,64,128,256,512,1K,2K,4K,8K,16K,32K,64K,128K,256K,512K,1M
made=""
for prof in configs/*.ini; do
    name=$(basename "$prof" .ini)
    "$V" run --profile "$prof" pingpong --sizes "$SIZES" --csv > "$OUT/$name-pingpong.csv"
    "$V" run --profile "$prof" bandwidth --sizes "$SIZES" --csv > "$OUT/$name-bandwidth.csv"
    # The [reference] figures, if the profile has them (0: none).
    ref_lat=$(sed -n 's/^latency_us[[:space:]]*=[[:space:]]*\([0-9.eE+-]*\).*/\1/p' "$prof" | head -n 1)
    ref_bw=$(sed -n 's/^bandwidth_MBps[[:space:]]*=[[:space:]]*\([0-9.eE+-]*\).*/\1/p' "$prof" | head -n 1)
    : > "$OUT/$name-published.dat"
    [ -n "$ref_lat" ] && echo "4,$ref_lat,latency" >> "$OUT/$name-published.dat"
    [ -n "$ref_bw" ] && echo "1048576,$ref_bw,bandwidth" >> "$OUT/$name-published.dat"
    gnuplot <<GP
set datafile separator ","
set terminal pngcairo size 900,600 noenhanced
set logscale x 2
set format x "%.0b%B"
set xlabel "message size (bytes; Ki = 1024, Mi = 1024 Ki)"
set grid
set key top left

set output "$OUT/$name-latency.png"
set logscale y 10
set ylabel "one-way latency (us)"
set title "$name: pingpong latency (simulated, configs/myrinet-2.xml)"
plot "$OUT/$name-pingpong.csv" skip 1 using 1:2 with linespoints title "simulated", \
     "$OUT/$name-published.dat" using 1:(strcol(3) eq "latency" ? \$2 : 1/0) \
        with points pt 7 ps 2 title "published"

set output "$OUT/$name-bandwidth.png"
unset logscale y
set key bottom right
set ylabel "bandwidth (MB/s)"
set title "$name: streaming bandwidth (simulated, configs/myrinet-2.xml)"
plot "$OUT/$name-bandwidth.csv" skip 1 using 1:3 with linespoints title "simulated", \
     "$OUT/$name-published.dat" using 1:(strcol(3) eq "bandwidth" ? \$2 : 1/0) \
        with points pt 7 ps 2 title "published (peak)"
GP
    made="$made $OUT/$name-latency.png $OUT/$name-bandwidth.png"
done
echo "plots:$made"
