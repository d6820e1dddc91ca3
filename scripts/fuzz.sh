#!/bin/sh
# vmmcsim: runs each libFuzzer harness that `make fuzz` built into
# build-fuzz/ for SECONDS, then prints a table: harness, executions (from
# libFuzzer's final stats), findings (the crash-, leak-, timeout- and oom-
# files it left in build-fuzz/findings/NAME/).  Exit 1 if any harness found
# something.
#
# Each harness works on a scratch corpus, build-fuzz/corpus/NAME/, kept
# between runs and topped up every run with copies of its seeds: the
# shipped files it parses (configs/), fuzz/seeds/NAME/ and the regression
# inputs tests/fuzz-regress/NAME/.  The repository's files are only read.
# A harness's log is build-fuzz/logs/NAME.log.
#
# Usage: sh scripts/fuzz.sh SECONDS NAME...

if [ $# -lt 2 ]; then
    echo "usage: sh scripts/fuzz.sh SECONDS NAME..." >&2
    exit 2
fi
secs=$1
shift
case $secs in
'' | *[!0-9]*)
    echo "fuzz: FUZZ_S must be a whole number of seconds, got '$secs'" >&2
    exit 2
    ;;
esac

root=$(dirname "$0")/..
cd "$root" || exit 2
out=build-fuzz

# seed NAME FILE...: copies the files into NAME's corpus, named after
# where they came from so that runs do not pile up copies.
seed() {
    name=$1
    shift
    for f in "$@"; do
        [ -f "$f" ] || continue
        cp "$f" "$out/corpus/$name/seed-$(echo "$f" | tr '/' '-')"
    done
}

# The shipped files each harness's parser reads.
shipped_seeds() {
    case $1 in
    ini | profile) seed "$1" configs/*.ini ;;
    baseline) seed "$1" configs/baselines/*.json ;;
    trace) seed "$1" workloads/traces/*/*_files/*.txt ;;
    platform)
        # Host and link names, one a line, as the platforms write them.
        seed "$1" configs/*.xml
        for f in configs/*.xml; do
            sed -n 's/.*[[:space:]]id="\([^"]*\)".*/\1/p' "$f" \
                >"$out/corpus/$1/seed-ids-$(basename "$f")"
        done
        ;;
    esac
}

status=0
rows=""
for name in "$@"; do
    bin=$out/fuzz_$name
    if [ ! -x "$bin" ]; then
        echo "fuzz: $bin is missing (run make fuzz)" >&2
        exit 2
    fi
    mkdir -p "$out/corpus/$name" "$out/logs"
    rm -rf "$out/findings/$name"
    mkdir -p "$out/findings/$name"
    shipped_seeds "$name"
    seed "$name" fuzz/seeds/"$name"/* tests/fuzz-regress/"$name"/*
    log=$out/logs/$name.log
    echo "fuzz: $name for ${secs}s (log $log)" >&2
    # -close_fd_mask=3: the parsers' own error lines go nowhere (libFuzzer
    # keeps a copy of stderr for its reports).
    "$bin" -max_total_time="$secs" -print_final_stats=1 -close_fd_mask=3 \
        -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$out/findings/$name/" \
        "$out/corpus/$name" >"$log" 2>&1
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    found=$(find "$out/findings/$name" -type f \( -name 'crash-*' -o \
        -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
    found=$(echo "$found" | tr -d ' ')
    [ "$found" -eq 0 ] || status=1
    rows="$rows$(printf '%-10s %12s %9s' "$name" "${execs:-?}" "$found")
"
done

printf '\n%-10s %12s %9s\n' harness executions findings
printf '%s' "$rows"
if [ "$status" -ne 0 ]; then
    echo
    echo "findings (each one: minimise with the harness's -minimize_crash=1,"
    echo "then keep it in tests/fuzz-regress/NAME/ and fix the parser):"
    for name in "$@"; do
        find "$out/findings/$name" -type f \( -name 'crash-*' -o \
            -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \)
    done | LC_ALL=C sort | sed 's/^/  /'
fi
exit "$status"
