#!/bin/sh
# libs/sock next to raw VMMC on the same platform (configs/myrinet.ini,
# configs/myrinet-2.xml): one-way latency (half a round trip) and
# streaming bandwidth by message size, and the library's cost as a ratio.
# The socket figures come from examples/sock/sockbench.c, an ordinary
# socket program built with vmmcsim-cc and run with vmmcsim exec; the raw
# ones from `vmmcsim run pingpong` and `vmmcsim run bandwidth`.  All
# simulated time, so exact.  Writes OUT/sock.csv.
#
#   sh bench/sock.sh [BUILD]     (CSV to $BENCH_OUT, default BUILD/bench)
set -eu
. "$(dirname "$0")/lib.sh"
B=${1:-build}
V="$B/vmmcsim"
OUT=${BENCH_OUT:-"$B/bench"}
mkdir -p "$OUT"
SIZES=${SOCK_SIZES:-4,64,256,1K,4K,16K,64K,256K,1M}
echo
echo "== sock: libs/sock stream sockets next to raw VMMC (exact) =="
if [ ! -x "$B/vmmcsim-cc" ]; then
    ${MAKE:-make} --no-print-directory BUILD="$B" "$B/vmmcsim-cc" > /dev/null
fi
"$B/vmmcsim-cc" -O2 -o "$OUT/sockbench" examples/sock/sockbench.c
"$V" exec -n 2 "$OUT/sockbench" --sizes "$SIZES" --iters 20 --stream 1M \
    > "$OUT/sock_sockets.csv"
"$V" run pingpong --sizes "$SIZES" --csv > "$OUT/sock_vmmc_lat.csv"
"$V" run bandwidth --sizes "$SIZES" --csv > "$OUT/sock_vmmc_bw.csv"
awk -F, '
    FNR == 1 { f++; next }
    f == 1 { size[++n] = $1; vl[$1] = $2 }
    f == 2 { vb[$1] = $3 }
    f == 3 { sl[$1] = $2; sb[$1] = $3 }
    END {
        print "size_bytes,vmmc_latency_us,sock_latency_us,latency_ratio,vmmc_bandwidth_MBps,sock_bandwidth_MBps,bandwidth_ratio"
        for (i = 1; i <= n; i++) {
            s = size[i]
            lr = vl[s] > 0 ? sl[s] / vl[s] : 0
            br = vb[s] > 0 ? sb[s] / vb[s] : 0
            printf "%s,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f\n", s, vl[s], sl[s], lr, vb[s], sb[s], br
        }
    }' "$OUT/sock_vmmc_lat.csv" "$OUT/sock_vmmc_bw.csv" "$OUT/sock_sockets.csv" \
    > "$OUT/sock.csv"
rm -f "$OUT/sockbench"
show "$OUT/sock.csv"
echo "(latency_ratio: sockets / raw VMMC, 1 = no overhead; bandwidth_ratio:"
echo " sockets / raw VMMC.  CSV file in $OUT: sock.csv; docs/sock.md explains)"
