#!/bin/sh
# make mutants: proof that a seed sweep catches protocol bugs.  Each patch
# under tests/mutants/ plants one bug; for each, this copies the tracked
# tree to a scratch folder, applies the patch, builds vmmcsim, runs the
# reliability sweep and reports whether (and on which seed, by which
# invariant) it was caught.  The production code carries no mutation
# switches.  Exit status 1 if any mutant survives.
#
#   sh scripts/mutants.sh [SEEDS]      (default 1-50)
set -eu
SEEDS=${1:-1-50}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCRATCH=$(mktemp -d /tmp/vmmcsim-mutants-XXXXXX)
trap 'rm -rf "$SCRATCH"' EXIT INT TERM
SCENARIO="--platform configs/myrinet-8.xml --faults drop=0.05,corrupt=0.01,dup=0.01 --max-time 5s alltoall --messages 100 --max-size 64K --verify"

printf '%-24s %-7s %-16s %-10s\n' mutant caught first_failing_seed invariant
survivors=0
for patch in "$ROOT"/tests/mutants/*.patch; do
    name=$(basename "$patch" .patch)
    tree="$SCRATCH/$name"
    mkdir -p "$tree"
    (cd "$ROOT" && git ls-files -z | xargs -0 tar -cf -) | tar -xf - -C "$tree"
    if ! (cd "$tree" && patch -s -p1 < "$patch"); then
        echo "mutants: $name: the patch does not apply" >&2
        exit 2
    fi
    if ! make -s -C "$tree" -j2 build/vmmcsim > "$tree/build.log" 2>&1; then
        echo "mutants: $name: does not build; the end of its log:" >&2
        tail -n 15 "$tree/build.log" >&2
        exit 2
    fi
    # shellcheck disable=SC2086
    (cd "$tree" && ./build/vmmcsim sweep --seeds "$SEEDS" --jobs 2 --json \
        $SCENARIO > "$tree/sweep.json" 2> "$tree/sweep.err") && rc=0 || rc=$?
    first=$(sed -n 's/.*"failed_seeds":\[\([0-9]*\).*/\1/p' "$tree/sweep.json")
    inv=-
    for k in liveness delivery protection resources simulator input; do
        n=$(sed -n "s/.*\"$k\":\([0-9]*\).*/\1/p" "$tree/sweep.json")
        if [ -n "$n" ] && [ "$n" -gt 0 ]; then inv=$k; break; fi
    done
    if [ "$rc" -eq 1 ]; then
        printf '%-24s %-7s %-16s %-10s\n' "$name" yes "$first" "$inv"
    else
        printf '%-24s %-7s %-16s %-10s\n' "$name" NO - -
        survivors=$((survivors + 1))
    fi
done
[ "$survivors" -eq 0 ] || { echo "mutants: $survivors mutant(s) survived" >&2; exit 1; }
