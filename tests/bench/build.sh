#!/usr/bin/env bash
# Build benchmark: gazette against Hugo and Zola (when on PATH) on the same
# generated corpus, on a RAM disk and on disk. Not part of the test run.
#
#   tests/bench/build.sh [PAGES...]        default: 1000 10000
#   RUNS=5 tests/bench/build.sh 10000
#
# Prints a table: median wall time, pages/s, peak RSS, and the ratio to the
# "floor" (a bare read → pulldown-cmark → write loop, run in the same command;
# the tools take turns run after run, so noise on this machine hits all alike).
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-5}
SIZES=("$@"); [ ${#SIZES[@]} -gt 0 ] || SIZES=(1000 10000)
GEN=../shared/bench/gen_corpus.py
[ -f "$GEN" ] || { echo "needs $GEN"; exit 2; }
command -v /usr/bin/time >/dev/null || { apt-get -o DPkg::Lock::Timeout=600 install -y -qq time >/dev/null; }
if ! command -v hugo >/dev/null && [ "${INSTALL_HUGO:-1}" = 1 ]; then
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq hugo >/dev/null 2>&1 || echo "(hugo not installable; skipped)"
fi
cargo build --release --quiet --bin gazette
cargo build --release --quiet -p gazette-site --example floor
GAZETTE=$PWD/target/release/gazette
FLOOR=$PWD/target/release/examples/floor

# One timed run of a command: appends "TOOL WALL_S RSS_KIB" to $dir/runs.txt.
run() {
  local dir=$1 tool=$2; shift 2
  /usr/bin/time -o "$dir/time.txt" -f '%e %M' "$@" >/dev/null 2>&1 || { echo "$tool failed: $*" >&2; exit 1; }
  echo "$tool $(tail -1 "$dir/time.txt")" >> "$dir/runs.txt"
}

printf '%-8s %-10s %-8s %9s %10s %10s %8s\n' disk tool pages wall_s pages/s peak_MiB vs_floor
for base in /dev/shm "${TMPDIR:-/var/tmp}"; do
  for n in "${SIZES[@]}"; do
    work="$base/gazette-bench-$n"
    rm -rf "$work"; mkdir -p "$work"
    tools=(floor gazette)
    for flavor in gazette hugo zola; do
      python3 "$GEN" "$work/$flavor" --pages "$n" --seed 1 --flavor "$flavor" --force >/dev/null 2>&1
    done
    command -v hugo >/dev/null && tools+=(hugo)
    command -v zola >/dev/null && tools+=(zola)
    # The tools take turns, run after run, so that a slow spell of this
    # (shared, noisy) machine hits all of them alike. Each writes over its own
    # previous output, as a rebuild does.
    for _ in $(seq "$RUNS"); do
      for tool in "${tools[@]}"; do
        case $tool in
          floor) run "$work" floor "$FLOOR" "$work/gazette/content" "$work/floor-out" ;;
          gazette) run "$work" gazette "$GAZETTE" build --root "$work/gazette" --output "$work/gazette/public" ;;
          hugo) run "$work" hugo hugo --quiet -s "$work/hugo" -d "$work/hugo/public" ;;
          zola) run "$work" zola zola --root "$work/zola" build --output-dir "$work/zola/public" --force ;;
        esac
      done
    done
    # Median wall time, max RSS, ratio to the floor's median; then gazette/other.
    python3 - "$work/runs.txt" "$(basename "$base")" "$n" "${tools[@]}" <<'PY'
import statistics, sys
path, disk, n, tools = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
runs = [line.split() for line in open(path)]
wall = {t: statistics.median(float(r[1]) for r in runs if r[0] == t) for t in tools}
rss = {t: max(int(r[2]) for r in runs if r[0] == t) for t in tools}
for t in tools:
    print(f"{disk:<8} {t:<10} {n:<8d} {wall[t]:9.3f} {n / wall[t]:10.0f} {rss[t] / 1024:10.1f} {wall[t] / wall['floor']:8.2f}")
for t in tools[2:]:
    print(f"         gazette/{t} = {wall['gazette'] / wall[t]:.2f}")
PY
    rm -rf "$work"
  done
done
