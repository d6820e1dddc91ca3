#!/bin/sh
# Re-records the time-independent traces of workloads/traces/ from the MPI
# programs in src/, with SimGrid's SMPI (Debian: libsimgrid-dev ships
# smpicc and smpirun).  Run from anywhere; see README.md.
#   sh workloads/traces/record.sh            all three traces
#   sh workloads/traces/record.sh halo       one of them
set -e
cd "$(dirname "$0")"
bin=$(mktemp -d "${TMPDIR:-/tmp}/vmmcsim-traces.XXXXXX")
trap 'rm -rf "$bin"' EXIT
for spec in ring:4 halo:4 colls:8; do
    name=${spec%:*}
    np=${spec#*:}
    if [ $# -gt 0 ] && [ "$1" != "$name" ]; then
        continue
    fi
    smpicc -O2 -o "$bin/$name" "src/$name.c"
    rm -rf "$name"
    mkdir "$name"
    # From inside the trace's folder, so the index lists the per-rank
    # files relative to it.  No benchmarking of the real computation
    # (simulate-computation:no): the programs' smpi_execute_flops() calls
    # are the only compute actions, and the trace is the same each time.
    (cd "$name" && smpirun -trace-ti --cfg=tracing/filename:"$name.txt" \
        --cfg=smpi/simulate-computation:no -np "$np" \
        -platform ../../../configs/myrinet-8.xml -hostfile ../src/hostfile \
        "$bin/$name")
done
