#!/bin/bash
# make test-slurm: a seed sweep's round trip through a real single-node
# Slurm.  Builds vmmcsim, starts a private Slurm (scripts/slurm.sh) in a
# fresh directory, emits two sweeps as job arrays (sweep --emit-slurm): the
# README's scenario on seeds 1-40 in 4 tasks, where every seed passes, and
# a small one where some seeds fail (a --max-time bound); runs both with
# `sbatch --wait`, merges the tasks' results (sweep --merge) and checks
# them against local sweeps of the same seeds (JSON fields, exit status,
# output, JUnit); then deletes one task's results and checks that --merge
# refuses them (exit 2, naming the task and its seeds).  Slurm is always
# stopped by the EXIT trap, by the PIDs it was started with.  One PASS/FAIL
# line per check; exit 1 if any failed (the directory is then kept).
#
# Needs root (slurmd; the slurm-wlm and munge packages are installed when
# missing).  Takes about 30 s on 2 cores once the packages are installed.
# Exit status: 0 all passed, 1 a check failed, 2 not root (or make failed).
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SEEDS=1-40
NSEEDS=40
TASKS=4
# shellcheck disable=SC2054  # the commas belong to --faults
SCENARIO=(--platform configs/myrinet-8.xml --faults drop=0.05,corrupt=0.01,dup=0.01
    alltoall --messages 100 --max-size 16K --verify)

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

failures=0
pass() { printf 'PASS  %s\n' "$*"; }
fail() {
    printf 'FAIL  %s\n' "$*"
    failures=$((failures + 1))
}
# The first lines of a file, indented, to explain a failure.
show() { [ -s "$1" ] && sed -n '1,15s/^/      /p' "$1"; return 0; }

if [ "$(id -u)" != 0 ]; then
    echo "test-slurm: must run as root (it installs slurmctld slurmd slurm-client munge and runs slurmd)" >&2
    exit 2
fi

T0=$(now)
${MAKE:-make} --no-print-directory all

S=$(mktemp -d /tmp/vs-slurm.XXXXXX)  # short: Unix socket paths under it
W=$S/sweep                           # what --emit-slurm writes
O=$S/out                             # this script's captured outputs
mkdir -p "$O" "$S/bin"

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "${pid_local:-}" ]; then wait "$pid_local" 2> /dev/null || true; fi
    if bash scripts/slurm.sh stop "$S" > "$O/stop.err" 2>&1; then
        pass "slurm stop: every daemon and job process it started has ended"
    else
        fail "slurm stop"
        show "$O/stop.err"
        rc=1
    fi
    [ "$failures" -eq 0 ] || rc=1
    if [ "$rc" -eq 0 ]; then
        rm -rf "$S"
        echo "test-slurm: all checks passed in $(since "$T0") s"
    else
        echo "test-slurm: FAILED; kept $S (Slurm logs in $S/log, task logs in $W/logs)" >&2
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A private copy of the binary (and of the libraries it loads from its own
# directory): the array tasks run the path that emitted them, and a rebuild
# of build/ during the test must not change what they or the local sweeps run.
cp "$ROOT/build/vmmcsim" "$S/bin/"
for f in "$ROOT"/build/*.so; do
    if [ -e "$f" ]; then cp "$f" "$S/bin/"; fi
done
VMMCSIM=$S/bin/vmmcsim

# --- Slurm ---------------------------------------------------------------
t=$(now)
if bash scripts/slurm.sh start "$S" > "$O/start.out" 2> "$O/start.err"; then
    pass "slurm start: munged, slurmctld, slurmd ready ($(since "$t") s)"
    grep '^slurm.sh: installing' "$O/start.err" | sed 's/^slurm.sh: /      (/; s/$/)/' || true
else
    fail "slurm start"
    cat "$O/start.err" >&2
    exit 1
fi
export SLURM_CONF=$S/slurm.conf

# --- the sweeps, through Slurm -------------------------------------------
# Two job arrays at once: the scenario above (every seed passes), and a
# small one whose simulated-time bound makes some seeds fail (exit 1 path).
WF=$S/sweep-fail
FSEEDS=1-8
FTASKS=2
SCENARIO_F=("${SCENARIO[@]:0:4}" --max-time 140ms "${SCENARIO[@]:4}")

emit() { # NAME DIR NTASKS SEEDS SCENARIO...
    local name=$1 dir=$2 n=$3 seeds=$4
    shift 4
    if ! "$VMMCSIM" sweep --emit-slurm "$dir" --tasks "$n" --seeds "$seeds" "$@" \
        > "$O/$name.emit.out" 2> "$O/$name.emit.err"; then
        fail "emit-slurm ($name) exited with status $?"
        show "$O/$name.emit.err"
        exit 1
    fi
    if ! grep -qF "sbatch --wait $dir/sweep.sbatch" "$O/$name.emit.out"; then
        fail "emit-slurm ($name): stdout does not give 'sbatch --wait $dir/sweep.sbatch'"
        show "$O/$name.emit.out"
    elif ! grep -q "^#SBATCH --array=0-$((n - 1))\$" "$dir/sweep.sbatch"; then
        fail "emit-slurm ($name): $dir/sweep.sbatch has no '#SBATCH --array=0-$((n - 1))'"
        show "$dir/sweep.sbatch"
    else
        pass "emit-slurm ($name): $n-task job array for seeds $seeds"
    fi
}

t_rt=$(now)
emit main "$W" "$TASKS" "$SEEDS" "${SCENARIO[@]}"
emit failing "$WF" "$FTASKS" "$FSEEDS" "${SCENARIO_F[@]}"

# The local sweeps to compare with run meanwhile, at the lowest priority:
# the array tasks keep the CPUs, and `sbatch --wait` sleeps to its next
# poll anyway.  local NAME SEEDS SCENARIO...: $O/NAME.local.{json,xml,txt}
# and the exit status of the --json run in $O/NAME.local.rc.
local_sweep() {
    local name=$1 seeds=$2 rc=0
    shift 2
    nice -n 19 "$VMMCSIM" sweep --json --junit "$O/$name.local.xml" --seeds "$seeds" "$@" \
        > "$O/$name.local.json" 2> "$O/$name.local.err" || rc=$?
    echo "$rc" > "$O/$name.local.rc"
    nice -n 19 "$VMMCSIM" sweep --seeds "$seeds" "$@" > "$O/$name.local.txt" 2>&1 || true
}
(local_sweep main "$SEEDS" "${SCENARIO[@]}" && local_sweep failing "$FSEEDS" "${SCENARIO_F[@]}") &
pid_local=$!

t=$(now)
sbatch --wait "$W/sweep.sbatch" > "$O/main.sbatch.out" 2> "$O/main.sbatch.err" &
pid_main=$!
sbatch --wait "$WF/sweep.sbatch" > "$O/failing.sbatch.out" 2> "$O/failing.sbatch.err" &
pid_failing=$!
rc_main=0
wait "$pid_main" || rc_main=$?
rc_failing=0
wait "$pid_failing" || rc_failing=$?
took=$(since "$t")
for name in main failing; do
    if [ "$name" = main ]; then rc=$rc_main dir=$W n=$TASKS; else rc=$rc_failing dir=$WF n=$FTASKS; fi
    if [ "$rc" -eq 0 ]; then
        pass "sbatch --wait ($name): $(sed -n 's/^Submitted batch job /job /p' "$O/$name.sbatch.out") ended, every task exit 0 ($took s for both)"
    else
        fail "sbatch --wait ($name) exited with status $rc"
        show "$O/$name.sbatch.err"
        for f in "$dir"/logs/*; do
            [ -e "$f" ] && { echo "      -- $f"; show "$f"; }
        done
    fi
    # sbatch --wait only reports tasks slurmctld still remembers: check files.
    missing=""
    for k in $(seq 0 $((n - 1))); do
        [ -s "$dir/results/task-$k.tsv" ] || missing="$missing task-$k.tsv"
    done
    if [ -z "$missing" ]; then
        pass "results ($name): one file per task in $dir/results"
    else
        fail "results ($name): missing or empty:$missing"
    fi
done

rc=0
"$VMMCSIM" sweep --merge "$W" --json > "$O/main.merge.json" 2> "$O/main.merge.err" || rc=$?
echo "test-slurm: round trip (emit-slurm, sbatch --wait, merge) $(since "$t_rt") s"
wait "$pid_local" || true

# --- against local sweeps ----------------------------------------------
# The fields that must match; wall_s and runs_per_s differ from run to run.
fields() {
    local k
    for k in seeds passed failed; do
        sed -n "s/.*\"$k\":\([0-9]*\).*/$k=\1/p" "$1"
    done
    sed -n 's/.*"failures":\({[^}]*}\).*/failures=\1/p' "$1"
    sed -n 's/.*"failed_seeds":\(\[[^]]*\]\).*/failed_seeds=\1/p' "$1"
}

# compare NAME DIR MERGE_RC: --merge DIR (which exited with MERGE_RC)
# against the local sweep: --json fields and exit status, then the plain
# output, identical but for the rate.
compare() {
    local name=$1 dir=$2 mrc=$3 lrc rate='s/[0-9.]* runs\/s/N runs\/s/'
    lrc=$(cat "$O/$name.local.rc" 2> /dev/null || echo none)
    fields "$O/$name.merge.json" > "$O/$name.merge.fields"
    fields "$O/$name.local.json" > "$O/$name.local.fields"
    if [ "$mrc" != "$lrc" ]; then
        fail "merge --json ($name): exit status $mrc, local sweep $lrc"
        show "$O/$name.merge.err"
    elif [ "$(wc -l < "$O/$name.local.fields")" -ne 5 ]; then
        fail "local sweep --json ($name): not the expected fields"
        show "$O/$name.local.json"
    elif ! cmp -s "$O/$name.merge.fields" "$O/$name.local.fields"; then
        fail "merge --json ($name) differs from a local sweep (local <, merge >):"
        diff "$O/$name.local.fields" "$O/$name.merge.fields" | sed 's/^/      /' || true
    else
        pass "merge --json ($name) = local sweep --json, exit $mrc: $(tr '\n' ' ' < "$O/$name.merge.fields")"
    fi
    "$VMMCSIM" sweep --merge "$dir" > "$O/$name.merge.txt" 2>&1 || true
    if diff <(sed "$rate" "$O/$name.local.txt") <(sed "$rate" "$O/$name.merge.txt") > "$O/$name.summary.diff"; then
        pass "merge output ($name) = local sweep output ($(wc -l < "$O/$name.merge.txt") lines): $(grep '^sweep:' "$O/$name.merge.txt" | sed 's/; [0-9.]* runs\/s//')"
    else
        fail "merge output ($name) differs from a local sweep (local <, merge >):"
        show "$O/$name.summary.diff"
    fi
}
compare main "$W" "$rc"

rc=0
"$VMMCSIM" sweep --merge "$WF" --json > "$O/failing.merge.json" 2> "$O/failing.merge.err" || rc=$?
compare failing "$WF" "$rc"
if ! grep -q '"failed":[1-9]' "$O/failing.merge.json"; then
    fail "merge --json (failing): no seed failed; the check of the failure path proves nothing"
fi
# Its JUnit, with failure elements, identical to a local sweep's but for times.
"$VMMCSIM" sweep --merge "$WF" --junit "$O/failing.merge.xml" > /dev/null 2>&1 || true
notime='s/ time="[^"]*"//g'
if [ -s "$O/failing.local.xml" ] &&
    diff <(sed "$notime" "$O/failing.local.xml") <(sed "$notime" "$O/failing.merge.xml") > "$O/failing.junit.diff"; then
    pass "merge --junit (failing) = local sweep --junit but for times: $(grep -c '<failure' "$O/failing.merge.xml") failures"
else
    fail "merge --junit (failing) differs from a local sweep's (local <, merge >):"
    show "$O/failing.junit.diff"
fi

# JUnit: well-formed, one test case per seed.
if "$VMMCSIM" sweep --merge "$W" --junit "$O/junit.xml" > /dev/null 2> "$O/junit.err"; then
    bad=""
    n=$(grep -c '<testcase ' "$O/junit.xml" || true)
    [ "$n" -eq "$NSEEDS" ] || bad="$n test cases, expected $NSEEDS"
    sed -n 's/.*<testcase [^>]*name="seed \([0-9]*\)".*/\1/p' "$O/junit.xml" | sort -n > "$O/junit.seeds"
    seq 1 "$NSEEDS" | cmp -s - "$O/junit.seeds" || bad="$bad; the test cases are not seeds 1-$NSEEDS, one each"
    py=python3
    [ -x /usr/bin/python3 ] && py=/usr/bin/python3  # not a slow version-manager shim
    if command -v "$py" > /dev/null 2>&1 &&
        ! "$py" -c 'import sys, xml.dom.minidom as m
d = m.parse(sys.argv[1])
assert len(d.getElementsByTagName("testcase")) == int(sys.argv[2])' \
            "$O/junit.xml" "$NSEEDS" 2> "$O/junit.py.err"; then
        bad="$bad; not well-formed: $(tail -n 1 "$O/junit.py.err")"
    fi
    if [ -z "$bad" ]; then
        pass "merge --junit (main): well-formed, $NSEEDS test cases, one per seed"
    else
        fail "merge --junit: ${bad#; }"
    fi
else
    fail "merge --junit exited with status $?"
    show "$O/junit.err"
fi

# --- a task's results missing --------------------------------------------
victim=2
range=21-30  # task 2 of seeds 1-40 in 4 tasks
rm -f "$W/results/task-$victim.tsv"
rc=0
"$VMMCSIM" sweep --merge "$W" --json > "$O/neg.out" 2> "$O/neg.err" || rc=$?
if [ "$rc" -ne 2 ]; then
    fail "merge without task $victim's results: exit status $rc, expected 2"
    show "$O/neg.err"
elif ! grep -Eq "task[ -]?$victim([^0-9]|\$)" "$O/neg.err"; then
    fail "merge without task $victim's results: the message does not name task $victim"
    show "$O/neg.err"
elif ! grep -qF "$range" "$O/neg.err"; then
    fail "merge without task $victim's results: the message does not give its seeds $range"
    show "$O/neg.err"
else
    pass "merge without task $victim's results: exit 2: $(head -n 1 "$O/neg.err")"
fi
