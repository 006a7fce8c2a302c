#!/usr/bin/env bash
# Build benchmark: gazette against Hugo and Zola (when on PATH) on the same
# generated corpus, on a RAM disk and on disk. Not part of the test run.
#
#   tests/bench/build.sh [PAGES...]        default: 1000 10000
#   RUNS=5 tests/bench/build.sh 10000
#
# Prints a table: median wall time, pages/s, peak RSS, and the ratio to the
# "floor" (a bare read → pulldown-cmark → write loop, run in the same command).
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-5}
SIZES=("$@"); [ ${#SIZES[@]} -gt 0 ] || SIZES=(1000 10000)
GEN=../shared/bench/gen_corpus.py
[ -f "$GEN" ] || { echo "needs $GEN"; exit 2; }
command -v /usr/bin/time >/dev/null || { apt-get install -y -qq time >/dev/null; }
if ! command -v hugo >/dev/null && [ "${INSTALL_HUGO:-1}" = 1 ]; then
  apt-get install -y -qq hugo >/dev/null 2>&1 || echo "(hugo not installable; skipped)"
fi
cargo build --release --quiet --bin gazette
cargo build --release --quiet -p gazette-site --example floor
GAZETTE=$PWD/target/release/gazette
FLOOR=$PWD/target/release/examples/floor

# median of wall seconds and max RSS (KiB) over $RUNS runs of a command
measure() {
  local dir=$1; shift
  local walls=() rss=0
  for _ in $(seq "$RUNS"); do
    local out
    /usr/bin/time -o "$dir/time.txt" -f '%e %M' "$@" >/dev/null 2>&1
    out=$(tail -1 "$dir/time.txt")
    walls+=("${out% *}")
    local r=${out#* }; [ "$r" -gt "$rss" ] && rss=$r
  done
  local med
  med=$(printf '%s\n' "${walls[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "$med $rss"
}

printf '%-8s %-10s %-8s %9s %10s %10s %8s\n' disk tool pages wall_s pages/s peak_MiB vs_floor
for base in /dev/shm "${TMPDIR:-/var/tmp}"; do
  for n in "${SIZES[@]}"; do
    work="$base/gazette-bench-$n"
    rm -rf "$work"; mkdir -p "$work"
    for flavor in gazette hugo zola; do
      python3 "$GEN" "$work/$flavor" --pages "$n" --seed 1 --flavor "$flavor" --force >/dev/null 2>&1
    done
    read -r floor_s floor_rss < <(measure "$work" "$FLOOR" "$work/gazette/content" "$work/floor-out")
    report() {
      local tool=$1 s=$2 rss=$3
      awk -v d="$(basename "$base")" -v t="$tool" -v n="$n" -v s="$s" -v r="$rss" -v f="$floor_s" \
        'BEGIN { printf "%-8s %-10s %-8d %9.3f %10.0f %10.1f %8.2f\n", d, t, n, s, (s>0?n/s:0), r/1024, (f>0?s/f:0) }'
    }
    report floor "$floor_s" "$floor_rss"
    read -r s rss < <(measure "$work" "$GAZETTE" build --root "$work/gazette" --output "$work/gazette/public")
    report gazette "$s" "$rss"; g=$s
    if command -v hugo >/dev/null; then
      read -r s rss < <(measure "$work" hugo --quiet -s "$work/hugo" -d "$work/hugo/public")
      report hugo "$s" "$rss"
      awk -v g="$g" -v h="$s" 'BEGIN { printf "         gazette/hugo = %.2f\n", g/h }'
    fi
    if command -v zola >/dev/null; then
      read -r s rss < <(measure "$work" zola --root "$work/zola" build --output-dir "$work/zola/public" --force)
      report zola "$s" "$rss"
      awk -v g="$g" -v z="$s" 'BEGIN { printf "         gazette/zola = %.2f\n", g/z }'
    fi
    rm -rf "$work"
  done
done
