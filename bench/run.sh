#!/bin/sh
# make bench: fidelity against the published VMMC figures and the speed of
# the simulator itself.  Writes CSV files under BUILD/bench/ and prints a
# short table.  Wall-clock figures are medians of several runs (this
# machine is shared and noisy); simulated-time figures are exact.
#
#   sh bench/run.sh [BUILD]      (default build/)
set -eu
B=${1:-build}
V="$B/vmmcsim"
OUT="$B/bench"
RUNS=${BENCH_RUNS:-5}
mkdir -p "$OUT"

num() { # num FIELD < json: a top-level numeric field of vmmcsim --json
    sed -n "s/.*\"$1\":\([0-9.eE+-]*\).*/\1/p"
}
show() { # a CSV file as aligned columns when column(1) is there
    if command -v column >/dev/null 2>&1; then column -s, -t < "$1"; else cat "$1"; fi
}
median() { # median of numbers on stdin
    sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.6g\n", (a[NR/2]+a[NR/2+1])/2}'
}

echo "== fidelity (simulated time, exact) =="
"$V" run pingpong --csv > "$OUT/pingpong.csv"
"$V" run bandwidth --csv > "$OUT/bandwidth.csv"
"$V" run bandwidth --bidir --csv > "$OUT/bandwidth_bidir.csv"
lat=$(awk -F, 'NR==2 {print $2}' "$OUT/pingpong.csv")
peak=$(awk -F, 'NR>1 && $3>m {m=$3} END {print m}' "$OUT/bandwidth.csv")
bidir=$(awk -F, 'NR>1 && $3>m {m=$3} END {print m}' "$OUT/bandwidth_bidir.csv")
{
    echo "metric,simulated,published,error_pct,source"
    awk -v s="$lat" 'BEGIN {printf "one_word_latency_us,%.3f,9.8,%+.2f,Dubnicki et al. IPPS 1997\n", s, 100*(s-9.8)/9.8}'
    awk -v s="$peak" 'BEGIN {printf "peak_bandwidth_MBps,%.3f,108.4,%+.2f,Dubnicki et al. IPPS 1997\n", s, 100*(s-108.4)/108.4}'
    awk -v s="$bidir" 'BEGIN {printf "peak_bidir_bandwidth_MBps,%.3f,,,not published\n", s}'
} > "$OUT/fidelity.csv"
show "$OUT/fidelity.csv"

echo
echo "== simulator speed (wall clock, median of $RUNS runs) =="
speed() { # speed NAME ARGS...: runs vmmcsim --json RUNS times
    name=$1; shift
    : > "$OUT/$name.runs"
    i=0
    while [ $i -lt "$RUNS" ]; do
        "$V" run --json "$@" > "$OUT/$name.json"
        w=$(num wall_s < "$OUT/$name.json")
        p=$(num packets < "$OUT/$name.json")
        e=$(num events < "$OUT/$name.json")
        r=$(num peak_rss_kb < "$OUT/$name.json")
        echo "$w $p $e $r" >> "$OUT/$name.runs"
        i=$((i + 1))
    done
    mw=$(awk '{print $1}' "$OUT/$name.runs" | median)
    mp=$(awk '{print $2/$1}' "$OUT/$name.runs" | median)
    me=$(awk '{print $3/$1}' "$OUT/$name.runs" | median)
    rss=$(awk '$4>m {m=$4} END {print m}' "$OUT/$name.runs")
    pk=$(awk 'NR==1 {print $2}' "$OUT/$name.runs")
    echo "$name,$RUNS,$pk,$mw,$mp,$me,$rss" >> "$OUT/speed.csv"
}
echo "scenario,runs,packets,median_wall_s,median_packets_per_s,median_events_per_s,peak_rss_kb" > "$OUT/speed.csv"
speed stream_2nodes bandwidth --sizes 1M --count 200
speed alltoall_16nodes --platform configs/myrinet-16.xml alltoall --sizes 4096,65536 --count 16
show "$OUT/speed.csv"
echo
echo "CSV files: $OUT/fidelity.csv $OUT/speed.csv (curves: $OUT/pingpong.csv, $OUT/bandwidth.csv)"
