#!/bin/sh
# vmmcsim: checks the Debian packages the build and tests need, and installs
# the missing ones when run as root (else says which command to run).
# Silent with exit 0 when everything is present.  With --fuzz: also clang
# and its libFuzzer/sanitizer runtimes, for `make fuzz` only (they are
# large, so `make test` does not ask for them); with --plots: gnuplot.

PKGS="pkg-config libsimgrid-dev libev-dev libcunit1-dev libtirpc-dev rpcsvc-proto"
[ "$1" = --fuzz ] && PKGS="$PKGS clang libclang-rt-14-dev"
# --plots: gnuplot without X, for `make plots` only.
[ "$1" = --plots ] && PKGS="$PKGS gnuplot-nox"

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "vmmcsim: dpkg-query not found; cannot check packages (a Debian/Ubuntu system is expected)." >&2
    echo "vmmcsim: install by hand: gcc, make, pkg-config, SimGrid 3.32, libev, CUnit" >&2
    echo "vmmcsim: (Debian packages: build-essential $PKGS)" >&2
    exit 1
fi

installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

missing=""
# gcc and make are enough.  If one is missing, ask for build-essential: it
# brings libc6-dev too, which a bare `gcc` with --no-install-recommends lacks.
if ! installed build-essential && { ! installed gcc || ! installed make; }; then
    missing=" build-essential"
fi
for p in $PKGS; do
    installed "$p" || missing="$missing $p"
done
missing=${missing# }

[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ]; then
    echo "vmmcsim: installing missing packages: $missing" >&2
    apt-get update -qq || exit $?
    # $missing is deliberately unquoted: one argument per package.
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
    exit $?
fi

echo "vmmcsim: missing packages: $missing" >&2
echo "vmmcsim: install them with: sudo apt-get install -y $missing" >&2
exit 1
