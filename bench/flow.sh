#!/bin/sh
# --fabric flow next to --fabric packet (docs/fabric-flow.md): the same
# workloads in both modes, what they measure (simulated time, exact) and how
# fast the simulator ran (wall clock, median of $BENCH_RUNS runs).  Writes
# BUILD/bench/flow.csv (or $BENCH_OUT/flow.csv) and prints it.
#
#   sh bench/flow.sh [BUILD]      (default build/)
#
# Workloads: pingpong 4 B (latency), bandwidth 64 KiB, a 16-node alltoall
# --verify on configs/myrinet-16.xml and a 64-node one: on
# configs/fattree-64.xml with configs/modern.ini when both are there,
# otherwise on a 64-node SimGrid <cluster> written here (Myrinet links and
# a backbone 8 links wide, the Myrinet profile).
# Columns: the workload's figure (latency_us, or bandwidth_MBps for
# bandwidth) in each mode and flow's difference in percent; the simulated
# completion time (sim_time_us) in each mode; wall seconds and events per
# second (the simulator's own events; in flow mode SimGrid's work is not
# counted in them) in each mode, and packet's wall time over flow's
# (above 1: flow mode is faster).
set -eu
B=${1:-build}
V="$B/vmmcsim"
OUT=${BENCH_OUT:-"$B/bench"}
RUNS=${BENCH_RUNS:-5}
mkdir -p "$OUT"
. "$(dirname "$0")/lib.sh"

if [ -f configs/fattree-64.xml ] && [ -f configs/modern.ini ]; then
    P64="--platform configs/fattree-64.xml --profile configs/modern.ini"
    N64="alltoall_64_fattree"
else
    cat > "$OUT/flow-cluster-64.xml" <<'EOF'
<?xml version='1.0'?>
<!DOCTYPE platform SYSTEM "https://simgrid.org/simgrid.dtd">
<!-- bench/flow.sh: 64 nodes, Myrinet links, one backbone 8 links wide. -->
<platform version="4.1">
  <zone id="world" routing="Full">
    <cluster id="c64" prefix="node-" suffix="" radical="0-63" speed="166Mf"
             bw="160MBps" lat="0.05us" sharing_policy="SPLITDUPLEX"
             bb_bw="1280MBps" bb_lat="0.05us"/>
  </zone>
</platform>
EOF
    P64="--platform $OUT/flow-cluster-64.xml"
    N64="alltoall_64_cluster"
fi

# name|nodes|figure|run arguments
CASES="pingpong_4B|2|latency_us|pingpong --sizes 4
bandwidth_64KiB|2|bandwidth_MBps|bandwidth --sizes 64K
alltoall_16|16|latency_us|--platform configs/myrinet-16.xml alltoall --verify
$N64|64|latency_us|$P64 alltoall --verify"

echo
echo "== fabric: --fabric flow next to --fabric packet (simulated time exact, wall median of $RUNS) =="
echo "workload,nodes,figure,packet,flow,flow_diff_pct,packet_sim_time_us,flow_sim_time_us,sim_time_diff_pct,packet_wall_s,flow_wall_s,packet_events_per_s,flow_events_per_s,wall_packet_over_flow" > "$OUT/flow.csv"
echo "$CASES" | while IFS='|' read -r name nodes fig args; do
    for mode in packet flow; do
        : > "$OUT/flow_${name}_$mode.walls"
        i=0
        while [ $i -lt "$RUNS" ]; do
            # shellcheck disable=SC2086
            "$V" run --json --fabric $mode $args > "$OUT/flow_${name}_$mode.json"
            num wall_s < "$OUT/flow_${name}_$mode.json" >> "$OUT/flow_${name}_$mode.walls"
            i=$((i + 1))
        done
        if [ "$(num bytes_verified < "$OUT/flow_${name}_$mode.json")" != \
             "$(num bytes_delivered < "$OUT/flow_${name}_$mode.json")" ]; then
            echo "bench/flow.sh: $name --fabric $mode: bytes not verified" >&2
            exit 1
        fi
    done
    pj="$OUT/flow_${name}_packet.json"
    fj="$OUT/flow_${name}_flow.json"
    awk -v n="$name" -v nodes="$nodes" -v fig="$fig" \
        -v pv="$(num "$fig" < "$pj")" -v fv="$(num "$fig" < "$fj")" \
        -v ps="$(num sim_time_us < "$pj")" -v fs="$(num sim_time_us < "$fj")" \
        -v pe="$(num events < "$pj")" -v fe="$(num events < "$fj")" \
        -v pw="$(median < "$OUT/flow_${name}_packet.walls")" \
        -v fw="$(median < "$OUT/flow_${name}_flow.walls")" 'BEGIN {
        printf "%s,%d,%s,%.3f,%.3f,%+.2f,%.3f,%.3f,%+.2f,%.4f,%.4f,%.0f,%.0f,%.2f\n",
            n, nodes, fig, pv, fv, 100 * (fv - pv) / pv, ps, fs,
            100 * (fs - ps) / ps, pw, fw, pe / pw, fe / fw, pw / fw
    }' >> "$OUT/flow.csv"
done
show "$OUT/flow.csv"
echo "(flow: SimGrid's flow model as the wire, docs/fabric-flow.md; wall: median"
echo " of $RUNS runs; wall_packet_over_flow above 1 means flow mode ran faster."
echo " CSV file in $OUT: flow.csv)"
