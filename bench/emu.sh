#!/bin/sh
# make bench, the emulated backend: pingpong and bandwidth on `vmmcsim emu`
# (two node processes, UDP over loopback, real time), medians of RUNS runs,
# next to the simulator's prediction on configs/loopback.ini with
# configs/loopback-2.xml (a profile whose NIC clock, link rate and link
# latency were fitted to the emulator's measurements), and the emulator's
# own overheads: the NIC loop's software cost per datagram and the share of
# it spent in sendmsg/recvmmsg.  It also refits the three parameters to
# this run's measurements, to show how far the shipped profile is from
# today's machine.
#
#   sh bench/emu.sh [BUILD]     (default build/; CSV to $BENCH_OUT, default
#                                BUILD/bench; BENCH_RUNS runs, default 5)
# Writes emu.csv (the comparison), emu_loop.csv (overheads), emu_fit.csv
# (the fitted parameters, shipped and refitted now).  Real time on a shared
# machine is noisy: the figures move by 2x between runs.
set -eu
B=${1:-build}
V="$B/vmmcsim"
OUT=${BENCH_OUT:-"$B/bench"}
RUNS=${BENCH_RUNS:-5}
ITERS=${EMU_ITERS:-300}
PROF=configs/loopback.ini
PLAT=configs/loopback-2.xml
PP_SIZES=4,64,1K,4K,16K,64K
BW_SIZES=4K,64K,1M
T="$OUT/emu-runs"
mkdir -p "$OUT"
rm -rf "$T"
mkdir -p "$T"

. "$(dirname "$0")/lib.sh"
rows() { # the rows of vmmcsim --json: "size latency_us bandwidth_MBps"
    tr '{' '\n' |
        sed -n 's/.*"size_bytes":\([0-9]*\),"latency_us":\([0-9.]*\),"bandwidth_MBps":\([0-9.]*\).*/\1 \2 \3/p'
}
csvrows() { # the rows of vmmcsim --csv, the same way
    awk -F, 'NR > 1 {print $1, $2, $3}'
}
ini() { # ini FILE KEY: a profile's value
    sed -n "s/^$2 *= *\([0-9.]*\).*/\1/p" "$1" | head -n 1
}

echo "== emulator (loopback, real time, median of $RUNS runs) next to the simulator on $PROF =="
i=0
while [ "$i" -lt "$RUNS" ]; do
    for w in pingpong bandwidth; do
        if [ $w = pingpong ]; then
            "$V" emu --nodes 2 --json pingpong --sizes "$PP_SIZES" --iters "$ITERS" > "$T/$w.$i.json"
        else
            "$V" emu --nodes 2 --json bandwidth --sizes "$BW_SIZES" > "$T/$w.$i.json"
        fi
        rows < "$T/$w.$i.json" >> "$T/$w.rows"
        f="$T/$w.$i.json"
        # Per datagram sent, both nodes' NIC threads together (a datagram
        # is sent by one and received by the other): their CPU time, the
        # busy time of their callbacks (real time: preemption included),
        # the share of that inside sendmsg/recvmmsg, and those calls.
        awk -v b="$(jnum "$f" nic_loop_busy_ns)" -v s="$(jnum "$f" nic_loop_syscall_ns)" \
            -v c="$(jnum "$f" nic_loop_syscalls)" -v d="$(jnum "$f" datagrams_sent)" \
            -v u="$(jnum "$f" nic_loop_cpu_ns)" \
            'BEGIN {if (d > 0 && b > 0) printf "%.1f %.2f %.3f %.1f\n", b/d, 100*s/b, c/d, u/d}' >> "$T/$w.loop"
    done
    i=$((i + 1))
done

# The simulator on a profile and platform: "size latency bandwidth" rows.
sim() { # sim PROFILE PLATFORM WORKLOAD SIZES
    "$V" run --profile "$1" --platform "$2" --csv "$3" --sizes "$4" | csvrows
}
sim "$PROF" "$PLAT" pingpong "$PP_SIZES" > "$T/sim_pingpong.rows"
sim "$PROF" "$PLAT" bandwidth "$BW_SIZES" > "$T/sim_bandwidth.rows"

# ---- Refit the three parameters to this run ----
med_of() { # med_of ROWS SIZE COLUMN
    awk -v s="$2" -v c="$3" '$1 == s {print $c}' "$1" | median
}
lat4=$(med_of "$T/pingpong.rows" 4 2)
# The peak of the stream's medians over the sizes: under load the longest
# stream is the likeliest to meet a spurious retransmission time-out, whose
# go-back-N costs more than the link.
bwsize=$(for s in $(awk '{print $1}' "$T/bandwidth.rows" | sort -un); do
    echo "$s $(med_of "$T/bandwidth.rows" "$s" 3)"
done | sort -k2 -g | tail -n 1 | awk '{print $1}')
bw1m=$(med_of "$T/bandwidth.rows" "$bwsize" 3)
per_dg=$(awk '{print $4}' "$T/bandwidth.loop" | median)
cyc=$(($(ini "$PROF" send_pkt_cycles) + $(ini "$PROF" recv_pkt_cycles)))
clock=$(awk -v c="$cyc" -v ns="$per_dg" 'BEGIN {printf "%.2f", c / (ns / 1000)}')
sed "s/^clock_mhz *= *[0-9.]*/clock_mhz = $clock/" "$PROF" > "$OUT/loopback-fit.ini"
platform() { # platform BW_MBps LAT_us FILE
    sed -e "s/bw=\"[0-9.]*MBps\"/bw=\"$1MBps\"/" -e "s/lat=\"[0-9.]*us\"/lat=\"$2us\"/" "$PLAT" > "$3"
}
platform "$bw1m" 0 "$OUT/loopback-fit0.xml"
l0=$(sim "$OUT/loopback-fit.ini" "$OUT/loopback-fit0.xml" pingpong 4 | awk '{print $2}')
b0=$(sim "$OUT/loopback-fit.ini" "$OUT/loopback-fit0.xml" bandwidth "$bwsize" | awk '{print $3}')
fit_bw=$(awk -v e="$bw1m" -v s="$b0" 'BEGIN {printf "%.1f", e * e / s}')
fit_lat=$(awk -v e="$lat4" -v s="$l0" 'BEGIN {d = (e - s) / 2; printf "%.2f", (d > 0 ? d : 0)}')
platform "$fit_bw" "$fit_lat" "$OUT/loopback-fit.xml"
sim "$OUT/loopback-fit.ini" "$OUT/loopback-fit.xml" pingpong "$PP_SIZES" > "$T/fit_pingpong.rows"
sim "$OUT/loopback-fit.ini" "$OUT/loopback-fit.xml" bandwidth "$BW_SIZES" > "$T/fit_bandwidth.rows"

# ---- emu.csv ----
{
    echo "workload,size_bytes,emu_latency_us,emu_latency_min_us,emu_latency_max_us,emu_bandwidth_MBps,sim_latency_us,sim_bandwidth_MBps,sim_refit_latency_us,sim_refit_bandwidth_MBps"
    for w in pingpong bandwidth; do
        for s in $(awk '{print $1}' "$T/sim_$w.rows"); do
            el=$(med_of "$T/$w.rows" "$s" 2)
            lo=$(awk -v s="$s" '$1 == s {print $2}' "$T/$w.rows" | sort -g | head -n 1)
            hi=$(awk -v s="$s" '$1 == s {print $2}' "$T/$w.rows" | sort -g | tail -n 1)
            eb=$(med_of "$T/$w.rows" "$s" 3)
            sl=$(med_of "$T/sim_$w.rows" "$s" 2)
            sb=$(med_of "$T/sim_$w.rows" "$s" 3)
            fl=$(med_of "$T/fit_$w.rows" "$s" 2)
            fb=$(med_of "$T/fit_$w.rows" "$s" 3)
            echo "$w,$s,$el,$lo,$hi,$eb,$sl,$sb,$fl,$fb"
        done
    done
} > "$OUT/emu.csv"
show "$OUT/emu.csv"

# ---- emu_loop.csv ----
echo
echo "== the emulator's NIC loop: software cost per datagram (median of $RUNS runs) =="
{
    echo "workload,cpu_ns_per_datagram,busy_ns_per_datagram,syscall_share_of_busy_pct,syscalls_per_datagram"
    for w in pingpong bandwidth; do
        echo "$w,$(awk '{print $4}' "$T/$w.loop" | median),$(awk '{print $1}' "$T/$w.loop" | median),$(awk '{print $2}' "$T/$w.loop" | median),$(awk '{print $3}' "$T/$w.loop" | median)"
    done
} > "$OUT/emu_loop.csv"
show "$OUT/emu_loop.csv"
echo "(per datagram sent, both nodes' NIC threads: cpu = the threads' CPU time"
echo " (pthread_getcpuclockid), epoll waits included; busy = CLOCK_MONOTONIC time"
echo " in the libev callbacks (ev_invoke_pending), preemption included; syscall"
echo " share = time inside sendmsg/recvmmsg over busy, timed the same way)"

# ---- emu_fit.csv ----
echo
echo "== the loopback profile's fitted parameters: shipped, and refitted to this run =="
ship_clock=$(ini "$PROF" clock_mhz)
ship_bw=$(sed -n 's/.*bw="\([0-9.]*\)MBps".*/\1/p' "$PLAT")
ship_lat=$(sed -n 's/.*lat="\([0-9.]*\)us".*/\1/p' "$PLAT")
{
    echo "parameter,shipped,refitted_now,fitted_to"
    echo "nic_clock_mhz,$ship_clock,$clock,(send_pkt_cycles+recv_pkt_cycles) / NIC threads' CPU time per datagram of bandwidth ($per_dg ns)"
    echo "link_bw_MBps,$ship_bw,$fit_bw,emulator peak stream bandwidth ($bw1m MB/s at $bwsize B) x its ratio to the simulator's there with bw = that ($b0 MB/s)"
    echo "link_lat_us,$ship_lat,$fit_lat,(emulator 4 B one-way latency ($lat4 us) - simulator's with lat = 0 ($l0 us)) / 2 links"
} > "$OUT/emu_fit.csv"
show "$OUT/emu_fit.csv"
echo "CSV files in $OUT: emu.csv emu_loop.csv emu_fit.csv (raw runs in $T)"
