#!/bin/sh
# libs/svm: the three example applications (examples/svm/: matrix
# multiply, red-black SOR, radix sort) on 1, 2, 4, 8 and 16 simulated
# nodes of configs/myrinet-16.xml, each checking its result against a
# serial computation.  Prints and writes OUT/svm.csv: simulated time of
# the timed part, speed-up against one node, and the protocol's counts
# summed over the nodes (page faults, pages fetched, diffs and their
# changed bytes, protocol messages and bytes, lock acquires and waits,
# barriers and the time the nodes spent in them).  Simulated time, so
# exact; the programs charge their own computation with svm_compute()
# (examples/svm/report.h says at what rate).
#
#   sh bench/svm.sh [BUILD]      (CSV to $BENCH_OUT, default BUILD/bench)
#   SVM_NODES="1 2 4" SVM_MATMUL=128 ... to change the runs
set -eu
. "$(dirname "$0")/lib.sh"
B=${1:-build}
V="$B/vmmcsim"
OUT=${BENCH_OUT:-"$B/bench"}
mkdir -p "$OUT"
NODES=${SVM_NODES:-"1 2 4 8 16"}
MATMUL=${SVM_MATMUL:-256}
SOR=${SVM_SOR:-"256 10"}
RADIX=${SVM_RADIX:-131072}
PLATFORM=configs/myrinet-16.xml
if [ ! -x "$B/vmmcsim-cc" ]; then
    ${MAKE:-make} --no-print-directory BUILD="$B" "$B/vmmcsim-cc" > /dev/null
fi
echo
echo "== svm: shared virtual memory (HLRC) applications, speed-up against 1 node (exact) =="
RAW="$OUT/svm_runs.csv"
: > "$RAW"
for app in matmul sor radix; do
    "$B/vmmcsim-cc" -O2 -o "$OUT/svm-$app" "examples/svm/$app.c"
    case $app in
    matmul) args=$MATMUL ;;
    sor) args=$SOR ;;
    radix) args=$RADIX ;;
    esac
    for n in $NODES; do
        # shellcheck disable=SC2086
        if ! "$V" exec -n "$n" --platform "$PLATFORM" "$OUT/svm-$app" $args \
            > "$OUT/svm_$app.out" 2>&1; then
            echo "svm: $app on $n node(s) failed:" >&2
            cat "$OUT/svm_$app.out" >&2
            exit 1
        fi
        grep '^svm-result,' "$OUT/svm_$app.out" >> "$RAW"
    done
    rm -f "$OUT/svm-$app" "$OUT/svm_$app.out"
done
awk -F, '
    BEGIN {
        print "app,size,nodes,time_us,speedup,read_faults,write_faults,fetches,diffs,diff_bytes,msgs,msg_bytes,lock_acquires,lock_wait_us,barriers,barrier_wait_us,check"
    }
    {
        if ($3 == 1) base[$2] = $5
        sp = ($2 in base) && $5 > 0 ? sprintf("%.2f", base[$2] / $5) : ""
        printf "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n",
            $2, $4, $3, $5, sp, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17
    }' "$RAW" > "$OUT/svm.csv"
rm -f "$RAW"
show "$OUT/svm.csv"
echo "(counts summed over the nodes for the timed part; barrier_wait_us is the nodes' total."
echo " CSV file in $OUT: svm.csv; docs/svm.md explains the columns)"
