#!/usr/bin/env bash
# Two gazette binaries against each other on one site, runs interleaved
# (A B A B ...), so that a slow spell of this shared, noisy machine hits both
# alike. Not part of the test run. For a change to the build's speed:
#
#   git stash; cargo build --release --bin gazette; cp target/release/gazette /tmp/gazette.old
#   git stash pop; cargo build --release --bin gazette
#   RAYON_NUM_THREADS=1 tests/bench/ab.sh /tmp/gazette.old target/release/gazette /dev/shm/c10k 8
#
# (corpus: python3 ../shared/bench/gen_corpus.py /dev/shm/c10k --pages 10000
# --seed 1 --flavor gazette --force). Prints for each binary the median wall
# time, CPU time (user + sys), the search index's time (what `RUST_LOG=debug`
# logs, summed over threads) and its share of the CPU, the minimum of each,
# and the peak RSS. One thread (RAYON_NUM_THREADS=1) gives the steadier
# figures on a shared machine; each binary writes over its own output.
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 BIN_A BIN_B SITE_ROOT [RUNS]" >&2; exit 2; }
A=$1 B=$2 SITE=$3 RUNS=${4:-6}
work=$(mktemp -d "${TMPDIR:-/dev/shm}/gazette-ab.XXXXXX")
trap 'rm -rf "$work"' EXIT
for _ in $(seq "$RUNS"); do
  for t in A B; do
    bin=${!t}
    t0=$EPOCHREALTIME
    RUST_LOG=site=debug /usr/bin/time -o "$work/cpu" -f '%U %S %M' \
      "$bin" build --root "$SITE" --output "$work/out-$t" 2>"$work/log" >/dev/null
    t1=$EPOCHREALTIME
    index=$(grep -oE "search index: [0-9.]+" "$work/log" | grep -oE "[0-9.]+$")
    echo "$t $t0 $t1 $(cat "$work/cpu") $index" >> "$work/runs"
  done
done
python3 - "$work/runs" "$A" "$B" <<'PY'
import statistics as st, sys
rows = [l.split() for l in open(sys.argv[1])]
for t, name in zip("AB", sys.argv[2:]):
    r = [x for x in rows if x[0] == t]
    wall = [float(x[2]) - float(x[1]) for x in r]
    cpu = [(float(x[3]) + float(x[4])) * 1000 for x in r]
    index = [float(x[6]) for x in r]
    share = [i / c for i, c in zip(index, cpu)]
    peak = max(int(x[5]) for x in r) / 1024
    print(f"{t} {name}: median wall {st.median(wall):.3f} s, CPU {st.median(cpu):.0f} ms, "
          f"index {st.median(index):.0f} ms ({100 * st.median(share):.1f} % of the CPU); "
          f"min wall {min(wall):.3f} s, CPU {min(cpu):.0f} ms, index {min(index):.0f} ms; peak {peak:.0f} MiB")
PY
