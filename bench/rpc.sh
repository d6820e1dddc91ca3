#!/bin/sh
# libs/rpc next to sockets (libs/sock, from bench/sock.sh's sock.csv when
# it ran first) and raw VMMC on the same platform (simulated time, exact):
# the null-RPC round trip and the bandwidth of a bulk opaque argument,
# with the stubs rpcgen writes for examples/rpc/types.x (docs/rpc.md).
# Writes OUT/rpc.csv (the comparison) and OUT/rpc_curve.csv (argument
# size against round trip and bandwidth).
#
#   sh bench/rpc.sh [BUILD]     (CSV to $BENCH_OUT, default BUILD/bench)
set -eu
. "$(dirname "$0")/lib.sh"
B=${1:-build}
OUT=${BENCH_OUT:-"$B/bench"}
COUNT=${RPC_BENCH_CALLS:-200}
mkdir -p "$OUT"
echo
echo "== rpc: ONC RPC over VMMC (libs/rpc) next to sockets and raw VMMC (exact) =="
ROOT=$(pwd)
[ -x "$B/vmmcsim-cc" ] || make --no-print-directory BUILD="$B" "$B/vmmcsim-cc" > /dev/null
CC="$ROOT/$B/vmmcsim-cc"
case $B in /*) CC="$B/vmmcsim-cc" ;; esac
D=$(mktemp -d /tmp/vmmcsim-rpcbench-XXXXXX)
trap 'rm -rf "$D"' EXIT
cp examples/rpc/types.x "$D/"
(cd "$D" && rpcgen -h -o types.h types.x && rpcgen -c -o types_xdr.c types.x &&
    rpcgen -l -o types_clnt.c types.x && rpcgen -m -o types_svc.c types.x &&
    "$CC" -O2 -I. -o types "$ROOT/examples/rpc/types_main.c" types_xdr.c \
        types_clnt.c types_svc.c)
"$B/vmmcsim" exec -n 2 "$D/types" bench "$COUNT" > "$D/rpc.out"
"$B/vmmcsim" run pingpong --sizes 4 --csv > "$D/raw_lat.csv"
"$B/vmmcsim" run bandwidth --sizes 4,1K,8K,64K,256K --csv > "$D/raw_bw.csv"
{
    echo "size_bytes,rpc_round_trip_us,rpc_bandwidth_MBps,vmmc_bandwidth_MBps"
    awk -F, 'FNR == 1 { f++ } f == 1 && FNR > 1 { bw[$1] = $3 }
             f == 2 && $1 == "bulk_arg" { print $2 "," $3 "," $4 "," bw[$2] }' \
        "$D/raw_bw.csv" "$D/rpc.out"
} > "$OUT/rpc_curve.csv"
null=$(sed -n 's/^null_rtt_us,//p' "$D/rpc.out")
raw=$(awk -F, 'NR == 2 { print $2 }' "$D/raw_lat.csv")
# The socket figures of bench/sock.sh (libs/sock, same platform), when it
# ran first (bench/run.sh runs it just before): a 4-byte round trip is twice
# its one-way latency; its bandwidth is a stream.
SOCK="$OUT/sock.csv"
[ -f "$SOCK" ] || SOCK=/dev/null
{
    echo "metric,rpc,sockets,raw_vmmc,rpc_over_vmmc"
    awk -F, -v r="$null" -v v="$raw" '
        NR > 1 && $1 == 4 { s = sprintf("%.3f", 2 * $3) }
        END { printf "null_round_trip_us,%.3f,%s,%.3f,%.3f\n", r, s, 2 * v, r / (2 * v) }' "$SOCK"
    awk -F, -v sf="$SOCK" '
        FNR == 1 { next }
        FILENAME == sf { sb[$1] = $6; next }
        $1 == 65536 || $1 == 262144 {
            printf "bulk_arg_%dKiB_MBps,%.3f,%s,%.3f,%.3f\n", $1 / 1024, $3, sb[$1], $4, $3 / $4 }' \
        "$SOCK" "$OUT/rpc_curve.csv"
} > "$OUT/rpc.csv"
show "$OUT/rpc.csv"
echo "(raw_vmmc: twice the one-word pingpong latency, and the bandwidth workload's"
echo " stream at that size; sockets: bench/sock.sh's figures (empty if it did not"
echo " run first); RPC bandwidth is per call, the others are streams.  XDR work is"
echo " not charged in simulated time: docs/rpc.md."
echo " CSV files in $OUT: rpc.csv rpc_curve.csv)"
