#!/bin/bash
# A private single-node Slurm for `make test-slurm` (Debian 12, no systemd).
#
#   bash scripts/slurm.sh start  DIR   install if missing, configure, start, wait until ready
#   bash scripts/slurm.sh stop   DIR   cancel jobs, stop exactly the processes start started
#   bash scripts/slurm.sh status DIR   one line per daemon; exit 0 only if all three run
#
# DIR is a private, short directory (use `mktemp -d /tmp/vs-slurm.XXXXXX`):
# Unix socket paths are limited to 107 bytes and slurmd keeps its step
# sockets under DIR.  Everything lives there: DIR/slurm.conf, cgroup.conf,
# the munge key and socket, state, spool and logs (DIR/log/*.log).  Point
# the Slurm commands at it with `export SLURM_CONF=DIR/slurm.conf`.
#
# munged, slurmctld and slurmd run in the foreground, each in its own
# session (setsid), in the background; DIR/pids records "name pid
# starttime" for each, and stop signals a PID only while its start time in
# /proc/PID/stat still matches (a recycled PID is never signalled).
# Needs root: slurmd runs jobs as their user, and the packages
# (slurmctld slurmd slurm-client munge) are installed when missing.
# SLURM_SH_TIMEOUT (seconds, default 30) bounds each readiness wait.
set -eu

PROG=slurm.sh
TIMEOUT=${SLURM_SH_TIMEOUT:-30}
GRACE=10
PKGS="slurmctld slurmd slurm-client munge"

die() { echo "$PROG: error: $*" >&2; exit 1; }
say() { echo "$PROG: $*" >&2; }

usage() {
    echo "usage: $PROG start|stop|status DIR" >&2
    exit 2
}

need_root() {
    [ "$(id -u)" = 0 ] || die "must run as root (slurmd runs jobs as their user; the packages $PKGS are installed with apt-get)"
}

# --- /proc helpers -------------------------------------------------------

# Fields of /proc/PID/stat after "pid (comm) ", so F[0] is field 3 (state),
# F[1] ppid, F[3] session, F[19] starttime.  Returns 1 if PID is gone.
read_stat() {
    local s=""
    { read -r s < "/proc/$1/stat"; } 2> /dev/null || [ -n "$s" ] || return 1
    [ -n "$s" ] || return 1
    # shellcheck disable=SC2206
    F=(${s##*) })
}

# alive PID STARTTIME: the same process (not a recycled PID) and not a zombie.
alive() {
    read_stat "$1" || return 1
    [ "${F[19]}" = "$2" ] || return 1
    case ${F[0]} in Z | X | x) return 1 ;; esac
    return 0
}

# Signal PID only if it is still the process that started at STARTTIME.
signal() { # SIG PID STARTTIME
    if alive "$2" "$3"; then kill "-$1" "$2" 2>/dev/null || true; fi
}

# --- configuration -------------------------------------------------------

port_in_use() { # PORT
    local hex
    hex=$(printf '%04X' "$1")
    cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
        awk -v h="$hex" 'NR > 1 { split($2, a, ":"); if (a[2] == h) f = 1 } END { exit !f }'
}

pick_ports() {
    local p i
    if ! port_in_use 6817 && ! port_in_use 6818; then
        echo "6817 6818"
        return
    fi
    for i in $(seq 1 100); do
        p=$((20000 + (RANDOM * 2) % 40000))
        if ! port_in_use "$p" && ! port_in_use $((p + 1)); then
            echo "$p $((p + 1))"
            return
        fi
    done
    die "no free pair of TCP ports found for slurmctld/slurmd"
}

install_packages() {
    local missing="" p
    for p in $PKGS; do
        [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] ||
            missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    say "installing missing packages:$missing"
    # Debian's package lists may be absent in a fresh image.
    apt-get update -qq || die "apt-get update failed"
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >&2 ||
        die "apt-get install$missing failed"
}

write_config() { # DIR CTLDPORT SLURMDPORT
    local d=$1 host node
    host=$(hostname -s 2>/dev/null || hostname)
    # Every topology field slurmd -C reports (else slurmd refuses to register:
    # "Node reconfigured socket/core boundaries").
    node=$(slurmd -C 2>/dev/null | sed -n 's/^NodeName=[^ ]* //p' | head -n 1)
    [ -n "$node" ] || die "slurmd -C printed no node line"
    mkdir -p "$d/log" "$d/run" "$d/ctld" "$d/spool" "$d/munge"
    chmod 0755 "$d" "$d/run"  # munged: the socket's directory must be 0755
    chmod 0700 "$d/munge" "$d/ctld" "$d/spool"
    cat > "$d/slurm.conf" <<EOF
# Written by scripts/slurm.sh for a private single-node Slurm; do not edit.
ClusterName=vmmcsim
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$2
SlurmdPort=$3
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$d/run/munge.socket
StateSaveLocation=$d/ctld
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/run/slurmctld.pid
SlurmdPidFile=$d/run/slurmd.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd.log
MailProg=/bin/true
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$host NodeAddr=127.0.0.1 $node State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    cat > "$d/cgroup.conf" <<EOF
# Written by scripts/slurm.sh.  proctrack/linuxproc and task/none do not
# use cgroups; this only keeps slurmd from probing the host's hierarchy.
CgroupPlugin=cgroup/v1
EOF
    if [ ! -s "$d/munge/munge.key" ]; then
        (umask 077 && head -c 1024 /dev/urandom > "$d/munge/munge.key")
    fi
    chmod 0400 "$d/munge/munge.key"
}

# --- daemons -------------------------------------------------------------

# launch NAME CMD...: start CMD in its own session, in the background, and
# record "NAME PID STARTTIME" in DIR/pids.  In a non-interactive shell a
# background job is not a process-group leader, so setsid execs CMD in
# place and $! is the daemon itself; we wait until the exec has happened.
launch() {
    local name=$1 pid i comm
    shift
    VS_SLURM_DIR=$D setsid "$@" > "$D/log/$name.out" 2>&1 < /dev/null &
    pid=$!
    for i in $(seq 1 100); do
        comm=$(cat "/proc/$pid/comm" 2>/dev/null) || break
        [ "$comm" = "$name" ] && break
        sleep 0.02
    done
    read_stat "$pid" || { show_log "$name"; fail_start "$name exited at once"; }
    echo "$name $pid ${F[19]}" >> "$D/pids"
}

pid_of() { # NAME -> "PID STARTTIME" from DIR/pids, or nothing
    [ -f "$D/pids" ] || return 0
    awk -v n="$1" '$1 == n { p = $2 " " $3 } END { if (p != "") print p }' "$D/pids"
}

daemon_alive() { # NAME
    local p
    p=$(pid_of "$1")
    [ -n "$p" ] || return 1
    # shellcheck disable=SC2086
    alive $p
}

# Last lines of a daemon's log (or of its stdout/stderr if the log is
# empty), minus the lines every start prints and that mean nothing: PMIx
# not loaded, no state files yet, host name lookups.
show_log() { # NAME
    local f=$D/log/$1.log
    [ -s "$f" ] || f=$D/log/$1.out  # messages before the log file opens
    if [ -s "$f" ]; then
        echo "---- last lines of $f" >&2
        grep -v -e 'mpi/pmix' -e 'state file' -e 'Trying backup state save file' \
            -e 'auth_p_get_host: Lookup failed' "$f" | tail -n 15 >&2 || true
    fi
}

# wait_for NAME WHAT CMD...: poll CMD until it succeeds, while NAME lives.
wait_for() {
    local name=$1 what=$2 deadline
    shift 2
    deadline=$(($(date +%s) + TIMEOUT))
    while ! "$@" > /dev/null 2>&1; do
        if ! daemon_alive "$name"; then
            show_log "$name"
            fail_start "$name died before $what"
        fi
        if [ "$(date +%s)" -ge "$deadline" ]; then
            show_log "$name"
            fail_start "$name: no $what after ${TIMEOUT}s"
        fi
        sleep 0.1
    done
}

fail_start() {
    echo "$PROG: error: $*" >&2
    echo "$PROG: stopping what was started; logs are in $D/log" >&2
    do_stop || true
    exit 1
}

munge_ok() { munge -n -S "$D/run/munge.socket" | unmunge -S "$D/run/munge.socket"; }
ctld_ok() { scontrol ping | grep -q 'is UP'; }
node_idle() { [ "$(sinfo -h -N -o %T)" = idle ]; }
sched_ok() {
    local n
    n=$(sdiag | sed -n 's/^[[:space:]]*Total cycles:[[:space:]]*\([0-9]*\).*/\1/p' | head -n 1)
    [ -n "$n" ] && [ "$n" -ge 1 ]
}

do_start() {
    local ports ctld_port slurmd_port host n
    need_root
    case $D in
        /*) ;;
        *) die "DIR must be an absolute path: $D" ;;
    esac
    [ ${#D} -le 70 ] || die "DIR is ${#D} characters long; keep it under 70 (socket paths are limited to 107 bytes): use mktemp -d /tmp/vs-slurm.XXXXXX"
    mkdir -p "$D"
    if [ -f "$D/pids" ]; then
        for n in munged slurmctld slurmd; do
            daemon_alive "$n" && die "a Slurm started in $D still runs ($n); run: $PROG stop $D"
        done
        rm -f "$D/pids"
    fi
    install_packages
    ports=$(pick_ports)
    ctld_port=${ports% *}
    slurmd_port=${ports#* }
    write_config "$D" "$ctld_port" "$slurmd_port"
    host=$(hostname -s 2>/dev/null || hostname)
    export SLURM_CONF=$D/slurm.conf
    : > "$D/pids"
    cd "$D"  # the daemons and slurmstepd keep their working directory

    launch munged munged -F --force --key-file="$D/munge/munge.key" \
        --socket="$D/run/munge.socket" --pid-file="$D/run/munged.pid" \
        --log-file="$D/log/munged.log" --seed-file="$D/munge/munged.seed" \
        --origin=127.0.0.1
    wait_for munged "credential (munge -n | unmunge)" munge_ok

    launch slurmctld slurmctld -D -f "$SLURM_CONF"
    wait_for slurmctld "answer to scontrol ping" ctld_ok

    launch slurmd slurmd -D -f "$SLURM_CONF" -N "$host"
    wait_for slurmd "idle node in sinfo" node_idle
    wait_for slurmctld "first scheduling pass in sdiag" sched_ok

    say "Slurm is up in $D (slurmctld port $ctld_port, slurmd port $slurmd_port)"
    echo "export SLURM_CONF=$SLURM_CONF"
}

# --- stop ----------------------------------------------------------------

# Processes that belong to this Slurm: the daemons, their descendants and
# session members, anything that carries the daemons' marker
# (VS_SLURM_DIR=DIR), a slurmstepd with a file under DIR open (slurmd's
# log), a job of this Slurm (SLURM_CONF=DIR/slurm.conf with SLURM_JOB_ID),
# and the descendants of all of these.  Prints "PID STARTTIME".
belonging() {
    local roots="" sids="" p st pid ppid changed n r s comm
    declare -A PP ST MINE
    for n in slurmd slurmctld munged; do
        p=$(pid_of "$n")
        [ -n "$p" ] || continue
        # shellcheck disable=SC2086
        if alive $p; then
            roots="$roots ${p% *}"
            sids="$sids ${F[3]}"
        fi
    done
    # One grep over every environment (no fork per process).
    for p in $(grep -lzxF "VS_SLURM_DIR=$D" /proc/[0-9]*/environ 2> /dev/null || true); do
        p=${p#/proc/}
        MINE[${p%/environ}]=1
    done
    for p in $(grep -lzxF "SLURM_CONF=$D/slurm.conf" /proc/[0-9]*/environ 2> /dev/null || true); do
        if grep -qz '^SLURM_JOB_ID=' "$p" 2> /dev/null; then
            p=${p#/proc/}
            MINE[${p%/environ}]=1
        fi
    done
    for st in /proc/[0-9]*; do
        pid=${st#/proc/}
        read_stat "$pid" || continue
        PP[$pid]=${F[1]}
        ST[$pid]=${F[19]}
        case ${F[0]} in Z | X | x) continue ;; esac
        for r in $roots; do
            [ "$pid" = "$r" ] && MINE[$pid]=1
        done
        for s in $sids; do
            [ "${F[3]}" = "$s" ] && MINE[$pid]=1
        done
        # slurmstepd runs with an empty environment, outside slurmd's tree
        # and session; it keeps slurmd's log (under DIR) open.
        comm=""
        { read -r comm < "/proc/$pid/comm"; } 2> /dev/null || true
        if [ -z "${MINE[$pid]:-}" ] && [ "$comm" = slurmstepd ] &&
            [ -n "$(find "/proc/$pid/fd" -lname "$D/*" -print -quit 2> /dev/null)" ]; then
            MINE[$pid]=1
        fi
    done
    unset "MINE[$$]"
    # Close over descendants.
    changed=1
    while [ $changed = 1 ]; do
        changed=0
        for pid in "${!PP[@]}"; do
            [ -n "${MINE[$pid]:-}" ] && continue
            ppid=${PP[$pid]}
            if [ -n "${MINE[$ppid]:-}" ]; then
                MINE[$pid]=1
                changed=1
            fi
        done
    done
    for pid in "${!MINE[@]}"; do
        [ -n "${ST[$pid]:-}" ] && echo "$pid ${ST[$pid]}"
    done
    return 0
}

# stop_pids SECONDS PID STARTTIME ...: TERM, wait, then KILL what is left.
stop_pids() {
    local grace=$1 deadline left i k
    shift
    [ $# -gt 0 ] || return 0
    local args=("$@")
    for ((i = 0; i < ${#args[@]}; i += 2)); do
        signal TERM "${args[i]}" "${args[i + 1]}"
    done
    deadline=$(($(date +%s) + grace))
    while :; do
        left=0
        for ((i = 0; i < ${#args[@]}; i += 2)); do
            alive "${args[i]}" "${args[i + 1]}" && left=1
        done
        [ $left = 0 ] && return 0
        [ "$(date +%s)" -ge "$deadline" ] && break
        sleep 0.1
    done
    for ((i = 0; i < ${#args[@]}; i += 2)); do
        if alive "${args[i]}" "${args[i + 1]}"; then
            say "killing PID ${args[i]} ($(cat "/proc/${args[i]}/comm" 2>/dev/null || echo '?')): still alive after ${grace}s"
            signal KILL "${args[i]}" "${args[i + 1]}"
        fi
    done
    # A killed process may stay a zombie for a moment; alive() ignores those.
    for k in $(seq 1 50); do
        : "$k"
        left=0
        for ((i = 0; i < ${#args[@]}; i += 2)); do
            alive "${args[i]}" "${args[i + 1]}" && left=1
        done
        [ $left = 0 ] && return 0
        sleep 0.1
    done
    return 1
}

do_stop() {
    local jobs tree p deadline n k left rc=0
    need_root
    [ -f "$D/pids" ] || { say "nothing was started in $D"; return 0; }
    export SLURM_CONF=$D/slurm.conf
    if daemon_alive slurmctld; then
        jobs=$(squeue -h -o %A 2>/dev/null || true)
        if [ -n "$jobs" ]; then
            # shellcheck disable=SC2086
            scancel $jobs 2>/dev/null || true
            deadline=$(($(date +%s) + 5))
            while [ -n "$(squeue -h -o %A 2>/dev/null || true)" ] &&
                [ "$(date +%s)" -lt "$deadline" ]; do
                sleep 0.2
            done
        fi
    fi
    # Remember the tree before the daemons go: job steps outlive slurmd.
    tree=$(belonging)
    # slurmd first (it reports to slurmctld), munged last (both use it).
    for n in slurmd slurmctld munged; do
        p=$(pid_of "$n")
        [ -n "$p" ] || continue
        # shellcheck disable=SC2086
        stop_pids "$GRACE" $p || { say "$n (PID ${p% *}) would not die"; rc=1; }
    done
    # What is left of the tree (slurmstepd, job processes), found then or now.
    tree=$(printf '%s\n%s\n' "$tree" "$(belonging)" | sort -u | sed '/^$/d')
    if [ -n "$tree" ]; then
        # shellcheck disable=SC2086
        stop_pids 3 $tree || { say "some job processes would not die"; rc=1; }
    fi
    # Give their new parent (init) a moment to reap the daemons' zombies, so
    # that pgrep right after a stop lists nothing.  Zombies are not alive.
    for k in $(seq 1 30); do
        left=0
        for n in slurmd slurmctld munged; do
            p=$(pid_of "$n")
            if [ -n "$p" ] && read_stat "${p% *}" && [ "${F[19]}" = "${p#* }" ]; then
                # A failed start stops its own children: reap them here.
                if [ "${F[1]}" = $$ ]; then wait "${p% *}" 2> /dev/null || true; fi
                left=1
            fi
        done
        [ $left = 0 ] && break
        sleep 0.1
    done
    return $rc
}

do_status() {
    local n p rc=0
    [ -f "$D/pids" ] || { echo "not started in $D"; return 3; }
    for n in munged slurmctld slurmd; do
        p=$(pid_of "$n")
        if [ -n "$p" ] && daemon_alive "$n"; then
            echo "$n running (PID ${p% *})"
        else
            echo "$n stopped"
            rc=1
        fi
    done
    if [ $rc = 0 ]; then
        SLURM_CONF=$D/slurm.conf sinfo -N -o '%N %T %C' 2>/dev/null || true
    fi
    return $rc
}

[ $# -eq 2 ] || usage
D=$2
case $D in
    */) D=${D%/} ;;
esac
case $1 in
    start) do_start ;;
    stop) do_stop ;;
    status) do_status ;;
    *) usage ;;
esac
