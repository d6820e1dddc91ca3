#!/bin/sh
# vmmcsim: enforces the layering rule of DESIGN.md on #include lines.
#   vmmc/, libs/      no sim/ nicmodel/ emu/ cli/ workloads/
#   hw/, util/        no sim/ nicmodel/ emu/ vmmc/ libs/ workloads/ cli/
#   nicmodel/         no vmmc/ libs/ workloads/ cli/ emu/
#   sim/              no nicmodel/ vmmc/ libs/ workloads/ cli/ emu/ hw/
#   everywhere        only sim/ may include <simgrid/...> or <xbt/...>,
#                     only emu/ may include <ev.h>
# Scans *.c and *.h recursively; a directory that does not exist is fine.
# Usage: sh scripts/check-deps.sh [ROOT]   (ROOT defaults to the repo root)
# Prints file:line: forbidden include <what> (rule) per violation, exit 1;
# or "check-deps: OK (N files)", exit 0.

root=${1:-$(dirname "$0")/..}
cd "$root" || exit 2

# Layer directories, plus tests/ and bench/ for the SimGrid / libev rule.
DIRS="util hw sim nicmodel vmmc libs emu workloads cli tests bench"

existing=""
for d in $DIRS; do
    [ -d "$d" ] && existing="$existing $d"
done

list=$(mktemp "${TMPDIR:-/tmp}/check-deps.XXXXXX") || exit 2
trap 'rm -f "$list"' EXIT HUP INT TERM

if [ -n "$existing" ]; then
    # shellcheck disable=SC2086
    find $existing -type f \( -name '*.c' -o -name '*.h' \) | LC_ALL=C sort >"$list"
fi
nfiles=$(wc -l <"$list" | tr -d ' ')

[ "$nfiles" -gt 0 ] || { echo "check-deps: OK (0 files)"; exit 0; }

# One file name per line in $list (names with newlines are not supported);
# awk reads the list itself so one run sees every file.
LC_ALL=C awk -v list="$list" '
function forbid(file, lineno, what, rule) {
    printf "%s:%d: forbidden include %s (%s)\n", file, lineno, what, rule
    bad++
}
# Which project directory an include path points at ("" if none).
function target_dir(p,    q) {
    q = p
    while (sub(/^\.\.?\//, "", q))
        ;
    if (q !~ /\//)
        return ""
    sub(/\/.*/, "", q)
    return q
}
function check(file, lineno, text, layer,    rest, openc, closec, n, path, what, t) {
    if (text !~ /^[ \t]*#[ \t]*include[ \t]*[<"]/)
        return
    rest = text
    sub(/^[ \t]*#[ \t]*include[ \t]*/, "", rest)
    openc = substr(rest, 1, 1)
    closec = (openc == "<") ? ">" : "\""
    rest = substr(rest, 2)
    n = index(rest, closec)
    if (n == 0)
        return
    path = substr(rest, 1, n - 1)
    what = openc path closec

    # Third-party engines: SimGrid only in sim/, libev only in emu/.
    if ((path ~ /^(simgrid|xbt)\// || path == "xbt.h") && layer != "sim")
        forbid(file, lineno, what, "only sim/ may include <simgrid/...> and <xbt/...>")
    if ((path == "ev.h" || path == "ev++.h") && layer != "emu")
        forbid(file, lineno, what, "only emu/ may include <ev.h>")

    t = target_dir(path)
    if (t != "" && (layer in banned) && index(" " banned[layer] " ", " " t " "))
        forbid(file, lineno, what, layer "/ must not include from " t "/")
}
BEGIN {
    banned["vmmc"]     = "sim nicmodel emu cli workloads"
    banned["libs"]     = "sim nicmodel emu cli workloads"
    banned["hw"]       = "sim nicmodel emu vmmc libs workloads cli"
    banned["util"]     = "sim nicmodel emu vmmc libs workloads cli"
    banned["nicmodel"] = "vmmc libs workloads cli emu"
    banned["sim"]      = "nicmodel vmmc libs workloads cli emu hw"
    bad = 0
    while ((getline file < list) > 0) {
        layer = file
        sub(/\/.*/, "", layer)
        lineno = 0
        while ((r = (getline text < file)) > 0)
            check(file, ++lineno, text, layer)
        if (r < 0) {
            printf "check-deps: cannot read %s\n", file > "/dev/stderr"
            exit 2
        }
        close(file)
    }
    exit bad > 0
}
' || status=$?

if [ "${status:-0}" -ne 0 ]; then
    [ "$status" -eq 1 ] || echo "check-deps: failed (status $status)" >&2
    exit 1
fi
echo "check-deps: OK ($nfiles files)"
