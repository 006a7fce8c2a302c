#!/usr/bin/env bash
# Instructions two gazette binaries execute to build one site, counted by
# valgrind (cachegrind, one thread, each into a fresh output folder). Not
# part of the test run. On a shared VM the wall and CPU times of ab.sh move
# by 20 % between batches; the count moves by well under 0.1 %, so a change
# of 1 % shows. It does not see cache misses or the kernel's time: confirm a
# change that is mostly memory or I/O with ab.sh.
#
#   tests/bench/instructions.sh /tmp/gazette.old target/release/gazette /dev/shm/c1k
#
# (valgrind from apt: installed if missing.)
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 BIN_A BIN_B SITE_ROOT" >&2; exit 2; }
A=$1 B=$2 SITE=$3
command -v valgrind >/dev/null || apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends valgrind >/dev/null
work=$(mktemp -d "${TMPDIR:-/dev/shm}/gazette-ir.XXXXXX")
trap 'rm -rf "$work"' EXIT
count() {
  rm -rf "$work/out"
  RAYON_NUM_THREADS=1 valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
    "$1" build --root "$SITE" --output "$work/out" 2>&1 >/dev/null |
    grep -E 'I +refs' | grep -oE '[0-9,]+$' | tr -d ,
}
a=$(count "$A")
b=$(count "$B")
python3 -c "
a, b = $a, $b
print(f'A $A: {a / 1e6:,.1f} M instructions')
print(f'B $B: {b / 1e6:,.1f} M instructions ({100 * (b - a) / a:+.2f} %)')"
