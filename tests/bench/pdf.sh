#!/usr/bin/env bash
# PDF benchmark: the cost of the build's PDFs (the notice, the blank forms,
# the manuals; crate `paper`) in the same run as the HTML build, on the
# bundled site and on the generated ~400-chapter book (tests/bench/gen_book.py),
# with Chromium's --print-to-pdf of the big book's print view as the reference.
# Not part of the test run.
#
#   tests/bench/pdf.sh        RUNS=3 CHAPTERS=400 KB=15 DIR=/dev/shm/gazette-pdf
#
# For each site: the `pdfs` step's wall time (from `RUST_LOG=debug`), the
# whole build's wall time and peak RSS with PDFs and without
# (GAZETTE_PDF_ENABLED=false), interleaved run after run, medians printed.
# Target: the big book's PDF in at most a tenth of Chromium's time, under 512 MiB.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-3}
CHAPTERS=${CHAPTERS:-400}
KB=${KB:-15}
DIR=${DIR:-/dev/shm/gazette-pdf}
GAZETTE=${GAZETTE:-target/release/gazette}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$GAZETTE" ] || cargo build --release --bin gazette
command -v /usr/bin/time >/dev/null || apt-get -o DPkg::Lock::Timeout=600 install -y -qq time >/dev/null
command -v pdfinfo >/dev/null || apt-get -o DPkg::Lock::Timeout=600 install -y -qq poppler-utils >/dev/null
[ -x "$CHROMIUM" ] || apt-get -o DPkg::Lock::Timeout=600 install -y -qq chromium >/dev/null
GAZETTE=$(realpath "$GAZETTE")
REPO=$(pwd)

rm -rf "$DIR"
mkdir -p "$DIR"
"$GAZETTE" init "$DIR/book" >/dev/null
python3 tests/bench/gen_book.py "$DIR/book/manuals/big" "$CHAPTERS" "$KB"
echo "book: $(find "$DIR/book/manuals/big/src" -name '*.md' | wc -l) chapters, $(du -sh --apparent-size "$DIR/book/manuals/big/src" | cut -f1) of Markdown"

declare -A WALL RSS STEP
run() { # name, root, pdf (true/false)
  local name=$1 root=$2 pdf=$3
  rm -rf "$DIR/out-$name"
  GAZETTE_PDF_ENABLED=$pdf RUST_LOG=debug /usr/bin/time -f "%e %M" -o "$DIR/time" \
    "$GAZETTE" build --root "$root" --output "$DIR/out-$name" >"$DIR/log" 2>&1 || { cat "$DIR/log"; exit 1; }
  read -r wall rss <"$DIR/time"
  WALL[$name]+="$wall "
  RSS[$name]+="$rss "
  local ms
  ms=$(sed -n 's/.*pdfs: \([0-9.]*\) ms.*/\1/p' "$DIR/log" | head -1)
  STEP[$name]+="${ms:-0} "
}
chromium_print() {
  /usr/bin/time -f "%e %M" -o "$DIR/time" "$CHROMIUM" --headless --no-sandbox --disable-gpu \
    --no-pdf-header-footer --print-to-pdf="$DIR/chromium.pdf" \
    "file://$DIR/out-book+pdf/manuals/big/print.html" >/dev/null 2>&1
  read -r wall rss <"$DIR/time"
  WALL[chromium]+="$wall "
  RSS[chromium]+="$rss "
}
for i in $(seq "$RUNS"); do
  run "bundled+pdf" "$REPO" true
  run "bundled" "$REPO" false
  run "book+pdf" "$DIR/book" true
  run "book" "$DIR/book" false
  chromium_print
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
maxof() { tr ' ' '\n' | grep -v '^$' | sort -n | tail -1; }
printf "%-32s %12s %12s %10s\n" "" "pdfs step" "build wall" "peak RSS"
for name in "bundled+pdf" "bundled" "book+pdf" "book"; do
  printf "%-32s %9s ms %10s s %6s MiB\n" "gazette build ($name)" "$(echo "${STEP[$name]}" | median)" \
    "$(echo "${WALL[$name]}" | median)" "$(( $(echo "${RSS[$name]}" | maxof) / 1024 ))"
done
printf "%-32s %12s %10s s %6s MiB\n" "chromium --print-to-pdf (book)" "" \
  "$(echo "${WALL[chromium]}" | median)" "$(( $(echo "${RSS[chromium]}" | maxof) / 1024 ))"
echo "pages: gazette $(pdfinfo "$DIR/out-book+pdf/manuals/big/big.pdf" | sed -n 's/Pages: *//p'), chromium $(pdfinfo "$DIR/chromium.pdf" | sed -n 's/Pages: *//p')"
echo "(median of $RUNS interleaved runs; chromium's RSS is its browser process only)"
[ -n "${KEEP:-}" ] || rm -rf "$DIR"
