#!/bin/sh
# make sweep-10k: the sweep target of the regression-testing issue, 10,000
# seeds of the faulty 8-node all-to-all (drop 5%, corrupt 1%, dup 1%), every
# invariant checked, on all cores.  Prints the sweep's summary and the wall
# time; JUnit XML goes to BUILD/sweep-10k.xml.
#
#   sh scripts/sweep-10k.sh [BUILD] [SEEDS]     (default build 1-10000)
#
# Each seed is 100 messages of 1 B to 16 KiB (about 60 ms of CPU per seed).
# The 10,000-message soak run of the reliability issue costs about 1.1 s
# per seed and is checked by the reliability suite and the baseline
# configs/baselines/myrinet8-alltoall-faults.json instead.
set -eu
B=${1:-build}
SEEDS=${2:-1-10000}
JOBS=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
start=$(date +%s)
rc=0
out="$B/sweep-10k.txt"
"$B/vmmcsim" sweep --seeds "$SEEDS" --jobs "$JOBS" --junit "$B/sweep-10k.xml" \
    --platform configs/myrinet-8.xml --faults drop=0.05,corrupt=0.01,dup=0.01 \
    alltoall --messages 100 --max-size 16K --verify > "$out" || rc=$?
end=$(date +%s)
# The first failures with their reproducers, then the summary.
grep -A1 ' FAILED ' "$out" | head -n 20 || true
tail -n 2 "$out"
echo "sweep-10k: seeds $SEEDS on $JOBS jobs in $((end - start)) s (target: 600 s for 10,000); JUnit in $B/sweep-10k.xml"
exit "$rc"
