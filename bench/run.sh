#!/bin/sh
# make bench: fidelity against the published VMMC figures and the speed of
# the simulator itself.  Writes CSV files under BUILD/bench/ and prints a
# short table.  Wall-clock figures are medians of several runs (this
# machine is shared and noisy); simulated-time figures are exact.
#
#   sh bench/run.sh [BUILD]      (default build/; CSV to $BENCH_OUT, default
#                                 BUILD/bench)
set -eu
B=${1:-build}
V="$B/vmmcsim"
OUT=${BENCH_OUT:-"$B/bench"}
RUNS=${BENCH_RUNS:-5}
mkdir -p "$OUT"
. "$(dirname "$0")/lib.sh"


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
echo "== reliability: cost of the VMMC-2 link protocol with no faults (exact) =="
sed 's/^enabled = 1 /enabled = 0 /' configs/myrinet.ini > "$OUT/myrinet-unreliable.ini"
"$V" run --json pingpong --sizes 4 > "$OUT/rel_on_lat.json"
"$V" run --json --profile "$OUT/myrinet-unreliable.ini" pingpong --sizes 4 > "$OUT/rel_off_lat.json"
"$V" run --json bandwidth --sizes 64K,1M > "$OUT/rel_on_bw.json"
"$V" run --json --profile "$OUT/myrinet-unreliable.ini" bandwidth --sizes 64K,1M > "$OUT/rel_off_bw.json"
"$V" run --json bandwidth --sizes 4 > "$OUT/rel_on_small.json"
"$V" run --json --profile "$OUT/myrinet-unreliable.ini" bandwidth --sizes 4 > "$OUT/rel_off_small.json"
lon=$(jnum "$OUT/rel_on_lat.json" latency_us); loff=$(jnum "$OUT/rel_off_lat.json" latency_us)
bon=$(jnum "$OUT/rel_on_bw.json" bandwidth_MBps); boff=$(jnum "$OUT/rel_off_bw.json" bandwidth_MBps)
{
    echo "metric,reliable,unreliable,overhead_pct"
    awk -v a="$lon" -v b="$loff" 'BEGIN {printf "one_word_latency_us,%.3f,%.3f,%+.2f\n", a, b, 100*(a-b)/b}'
    awk -v a="$bon" -v b="$boff" 'BEGIN {printf "bandwidth_64KiB_MBps,%.3f,%.3f,%+.2f\n", a, b, 100*(b-a)/b}'
    son=$(jnum "$OUT/rel_on_small.json" latency_us); soff=$(jnum "$OUT/rel_off_small.json" latency_us)
    awk -v a="$son" -v b="$soff" 'BEGIN {printf "stream_4B_us_per_message,%.3f,%.3f,%+.2f\n", a, b, 100*(a-b)/b}'
} > "$OUT/reliability.csv"
show "$OUT/reliability.csv"

echo
echo "== UTLB: translation cache hit versus miss (exact) =="
"$V" run --json pingpong --sizes 4 --src-span 4K > "$OUT/utlb_hit.json"
"$V" run --json pingpong --sizes 4 --src-span 16M > "$OUT/utlb_miss.json"
"$V" run --json bandwidth --sizes 64K --count 400 --src-span 1M > "$OUT/utlb_stream_fits.json"
"$V" run --json bandwidth --sizes 64K --count 400 --src-span 32M > "$OUT/utlb_stream_big.json"
{
    echo "case,latency_us,bandwidth_MBps,utlb_hits,utlb_misses,miss_rate"
    for c in hit miss stream_fits stream_big; do
        f="$OUT/utlb_$c.json"
        h=$(jnum "$f" utlb_hits); m=$(jnum "$f" utlb_misses)
        awk -v c="$c" -v l="$(jnum "$f" latency_us)" -v b="$(jnum "$f" bandwidth_MBps)" -v h="$h" -v m="$m" \
            'BEGIN {printf "%s,%.3f,%.3f,%d,%d,%.4f\n", c, l, b, h, m, (h+m) ? m/(h+m) : 0}'
    done
} > "$OUT/utlb.csv"
show "$OUT/utlb.csv"
echo "(hit: 4-byte pingpong from one page; miss: from a 16 MiB span, 4x the"
echo " cache's reach; stream_fits: 64 KiB messages over 1 MiB; stream_big: over 32 MiB)"

echo
echo "== simulator speed (wall clock, median of $RUNS runs; bench/speed.sh, docs/speed.md) =="
sh bench/speed.sh "$B" "$OUT"
echo
echo "CSV files in $OUT: fidelity.csv reliability.csv utlb.csv speed.csv (curves: pingpong.csv, bandwidth.csv)"

echo
echo "== msg: libs/msg next to raw VMMC, eager versus rendezvous (exact) =="
# Latency is half a round trip; bandwidth a stream into posted receives
# (raw: the bandwidth workload).  eager_* sends every size up to 64 KiB
# eagerly, rndv_* every size by rendezvous, msg_* uses the default limit.
MS=4,64,256,512,768,1K,1088,1536,2K,4K,8K,16K,64K,256K,1M
"$V" run pingpong --sizes "$MS" --csv > "$OUT/msg_vmmc_lat.csv"
"$V" run bandwidth --sizes "$MS" --csv > "$OUT/msg_vmmc_bw.csv"
"$V" run msg --sizes "$MS" --csv > "$OUT/msg_default.csv"
"$V" run msg-eager --sizes "$MS" --csv > "$OUT/msg_eager.csv"
"$V" run msg-rndv --sizes "$MS" --csv > "$OUT/msg_rndv.csv"
awk -F, '
    FNR == 1 { f++; next }
    f == 1 { size[++n] = $1; vl[$1] = $2 }
    f == 2 { vb[$1] = $3 }
    f == 3 { ml[$1] = $2; mb[$1] = $3 }
    f == 4 { el[$1] = $2; eb[$1] = $3 }
    f == 5 { rl[$1] = $2; rb[$1] = $3 }
    END {
        print "size_bytes,vmmc_latency_us,msg_latency_us,eager_latency_us,rndv_latency_us,vmmc_bandwidth_MBps,msg_bandwidth_MBps,eager_bandwidth_MBps,rndv_bandwidth_MBps"
        for (i = 1; i <= n; i++) {
            s = size[i]
            print s "," vl[s] "," ml[s] "," el[s] "," rl[s] "," vb[s] "," mb[s] "," eb[s] "," rb[s]
        }
    }' "$OUT/msg_vmmc_lat.csv" "$OUT/msg_vmmc_bw.csv" "$OUT/msg_default.csv" \
    "$OUT/msg_eager.csv" "$OUT/msg_rndv.csv" > "$OUT/msg.csv"
show "$OUT/msg.csv"
awk -F, 'NR > 1 && $4 != "" && !l && $4 > $5 { l = $1 }
         NR > 1 && $8 != "" && !b && $8 < $9 { b = $1 }
         END { printf "eager is slower than rendezvous from %s bytes (latency), %s bytes (stream bandwidth)\n", l, b }' "$OUT/msg.csv"
echo "CSV file in $OUT: msg.csv (the default eager limit is 1024 bytes: libs/msg/msg.h, docs/msg.md)"

echo
echo "== replay: SimGrid's SMPI replay next to vmmcsim replay (same traces, same platform) =="
# The checked-in traces (workloads/traces/) and, for the speed figures, a
# longer halo (1000 iterations) recorded here with SMPI as README.md there
# says.  SMPI replays with the Debian package's smpireplaymain (smpirun
# -replay INDEX, run from the index's folder: the index lists its files
# relative to it); its predicted time is the "Simulation time" it prints.
# vmmcsim replays the same index on the same platform file (packet-level
# fabric, NIC model, real firmware, msg).  Wall times are the whole
# command's (process start, parsing, simulation), median of $RUNS runs.
RP_PLATFORM=configs/myrinet-8.xml
RP_HOSTS=workloads/traces/src/hostfile
ROOT=$(pwd)
RP_OUT=$(cd "$OUT" && pwd) # SMPI runs from the traces' folders
RP_DIR="$RP_OUT/replay-traces"
now() { date +%s.%N; }
jtop() { # jtop FIELD < json: a field of vmmcsim replay --json before its per-rank list
    sed -n "s/^[^[]*\"$1\":\([0-9.eE+-]*\).*/\1/p"
}
have_smpi=1
command -v smpirun >/dev/null 2>&1 && command -v smpicc >/dev/null 2>&1 || have_smpi=0
rm -rf "$RP_DIR"
mkdir -p "$RP_DIR"
RP_TRACES="ring:workloads/traces/ring/ring.txt halo:workloads/traces/halo/halo.txt colls:workloads/traces/colls/colls.txt"
if [ $have_smpi = 1 ] && mkdir "$RP_DIR/halo-1000" &&
    smpicc -O2 -o "$RP_DIR/halo-bin" workloads/traces/src/halo.c > /dev/null 2>&1 &&
    (cd "$RP_DIR/halo-1000" && smpirun -trace-ti --cfg=tracing/filename:halo-1000.txt \
        --cfg=smpi/simulate-computation:no -np 4 -platform "$ROOT/$RP_PLATFORM" \
        -hostfile "$ROOT/$RP_HOSTS" ../halo-bin 1000 > /dev/null 2>&1); then
    RP_TRACES="$RP_TRACES halo-1000:$RP_DIR/halo-1000/halo-1000.txt"
elif [ $have_smpi = 1 ]; then
    echo "(recording the 1000-iteration halo with smpirun failed: left out)"
fi
echo "trace,ranks,actions,smpi_predicted_s,vmmcsim_predicted_s,predicted_ratio,smpi_wall_s,vmmcsim_wall_s,smpi_actions_per_s,vmmcsim_actions_per_s,speed_ratio" > "$OUT/replay.csv"
for spec in $RP_TRACES; do
    name=${spec%%:*}
    index=${spec#*:}
    case $index in /*) ;; *) index="$ROOT/$index" ;; esac
    : > "$OUT/replay_$name.runs"
    i=0
    while [ $i -lt "$RUNS" ]; do
        t0=$(now)
        "$V" replay --json --platform "$RP_PLATFORM" "$index" > "$OUT/replay_$name.json"
        t1=$(now)
        ts=""
        if [ $have_smpi = 1 ]; then
            np=$(jtop ranks < "$OUT/replay_$name.json")
            # An SMPI failure leaves its columns empty (no "Simulation time").
            (cd "$(dirname "$index")" && smpirun -np "$np" \
                -platform "$ROOT/$RP_PLATFORM" -hostfile "$ROOT/$RP_HOSTS" \
                -replay "$(basename "$index")" > "$RP_OUT/replay_${name}_smpi.log" 2>&1) || true
            ts=$(now)
        fi
        echo "$t0 $t1 $ts" | awk '{printf "%.6f %s\n", $2-$1, ($3 == "" ? "" : sprintf("%.6f", $3-$2))}' >> "$OUT/replay_$name.runs"
        i=$((i + 1))
    done
    ranks=$(jtop ranks < "$OUT/replay_$name.json")
    actions=$(jtop actions < "$OUT/replay_$name.json")
    vpred=$(jtop sim_time_s < "$OUT/replay_$name.json")
    vwall=$(awk '{print $1}' "$OUT/replay_$name.runs" | median)
    spred=""
    swall=""
    if [ $have_smpi = 1 ]; then
        spred=$(sed -n 's/.*Simulation time \([0-9.eE+-]*\).*/\1/p' "$OUT/replay_${name}_smpi.log" | tail -n 1)
        [ -z "$spred" ] || swall=$(awk '{print $2}' "$OUT/replay_$name.runs" | median)
    fi
    awk -v n="$name" -v r="$ranks" -v a="$actions" -v sp="$spred" -v vp="$vpred" -v sw="$swall" -v vw="$vwall" 'BEGIN {
        printf "%s,%d,%d,%s,%.6f,%s,%s,%.3f,%s,%.0f,%s\n", n, r, a,
            sp == "" ? "" : sprintf("%.6f", sp), vp,
            sp == "" ? "" : sprintf("%.3f", vp / sp),
            sw == "" ? "" : sprintf("%.3f", sw), vw,
            sw == "" ? "" : sprintf("%.0f", a / sw), a / vw,
            sw == "" ? "" : sprintf("%.3f", (a / vw) / (a / sw))
    }' >> "$OUT/replay.csv"
done
show "$OUT/replay.csv"
if [ $have_smpi = 0 ]; then
    echo "(smpirun/smpicc not found: install libsimgrid-dev for the SMPI columns)"
fi
echo "(predicted_ratio: vmmcsim / SMPI; speed_ratio: vmmcsim's actions/s over SMPI's,"
echo " the target being >= 0.33, within 3x.  CSV file in $OUT: replay.csv)"

BENCH_OUT="$OUT" sh bench/sock.sh "$B" # libs/sock next to raw VMMC: sock.csv
BENCH_OUT="$OUT" sh bench/rpc.sh "$B" # libs/rpc next to sockets and raw VMMC: rpc.csv
BENCH_OUT="$OUT" sh bench/flow.sh "$B" # --fabric flow next to packet: flow.csv (docs/fabric-flow.md)
BENCH_OUT="$OUT" sh bench/svm.sh "$B" # libs/svm applications: speed-up and protocol counts: svm.csv

echo
BENCH_OUT="$OUT" sh bench/emu.sh "$B" # the emulator next to the simulator on configs/loopback.ini: emu.csv
