#!/usr/bin/env bash
# Benchmark (not a test) of `gazette intake`: wrk in a separate process posts
# valid, distinct returns to POST /forms/departments of the release binary;
# we report accepted (durably stored) submissions per second and p50/p99
# latency, beside a baseline run in the same session of plain SQLite inserts
# with the same schema and durability settings (WAL, synchronous=FULL).
#
#   tests/bench/intake.sh            # 10 s, 32 connections, 1 wrk thread
#   DURATION=20 CONNECTIONS=64 tests/bench/intake.sh
#
# Rate limiting is off for the run (GAZETTE_INTAKE_RATE_LIMIT=0); mail goes to
# .eml files in the temporary site (the embedded default transport), so the
# outbox worker runs during the measurement as it would in production.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-1}
PORT=${PORT:-18731}
# MAIL=off: no [office] email, so no outbox rows (to see what notifications cost).
MAIL=${MAIL:-on}

if ! command -v wrk >/dev/null 2>&1; then
  echo "installing wrk (Debian package)" >&2
  apt-get -o DPkg::Lock::Timeout=600 install -y wrk >/dev/null
fi

cd "$repo"
echo "building release binaries..." >&2
cargo build --release --quiet --bin gazette
cargo build --release --quiet -p gazette-intake --example sqlite_baseline
target="${CARGO_TARGET_DIR:-$repo/target}/release"

work=$(mktemp -d /tmp/gazette-bench.XXXXXX)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

cp gazette.toml "$work/"
mkdir -p "$work/content"
cp -r content/forms "$work/content/"

export GAZETTE_INTAKE_LISTEN="127.0.0.1:$PORT"
export GAZETTE_INTAKE_RATE_LIMIT=0
export NO_COLOR=1
export GAZETTE_MAIL_TRANSPORT="$work/outbox"
if [ "$MAIL" = off ]; then export GAZETTE_OFFICE_EMAIL=""; fi
"$target/gazette" intake --root "$work" >"$work/stdout" 2>"$work/stderr" &
pid=$!
for _ in $(seq 1 300); do
  grep -q "listening on" "$work/stdout" 2>/dev/null && break
  sleep 0.1
done
grep -q "listening on" "$work/stdout" || { cat "$work/stderr" >&2; exit 1; }

submissions() {
  "$target/gazette" outbox --root "$work" | sed -nE '1s/^([0-9]+) submission.*/\1/p'
}

# CPU seconds used so far by the server's threads, by thread name.
cpu_by_thread() {
  for t in /proc/"$pid"/task/*; do
    echo "$(tr ' ' '_' < "$t/comm") $(awk '{ print $14 + $15 }' "$t/stat")"
  done | awk -v hz="$(getconf CLK_TCK)" '{ a[$1] += $2 } END { for (k in a) printf "%s %.2f\n", k, a[k] / hz }'
}

# Warm-up (connections, page cache, WAL file growth).
wrk -t1 -c8 -d2s -s "$here/intake_post.lua" "http://127.0.0.1:$PORT" -- warmup >/dev/null
before=$(submissions)
cpu_by_thread | sort >"$work/cpu.before"
proc_before=$(awk '{ print $14 + $15 }' /proc/"$pid"/stat)
wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$here/intake_post.lua" \
  "http://127.0.0.1:$PORT" -- "run$$" >"$work/wrk.txt"
after=$(submissions)
cpu_by_thread | sort >"$work/cpu.after"
proc_after=$(awk '{ print $14 + $15 }' /proc/"$pid"/stat)
outbox_line=$("$target/gazette" outbox --root "$work" | sed -n 1p)
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""

cat "$work/wrk.txt"
secs=$(sed -nE 's/.* requests in ([0-9.]+)(m?s),.*/\1 \2/p' "$work/wrk.txt" | awk '{ if ($2 == "ms") print $1/1000; else print $1 }')
non3xx=$(sed -nE 's/.*Non-2xx or 3xx responses: ([0-9]+).*/\1/p' "$work/wrk.txt")
p50=$(awk '$1 == "50%" { print $2 }' "$work/wrk.txt")
p99=$(awk '$1 == "99%" { print $2 }' "$work/wrk.txt")
accepted=$((after - before))
rate=$(awk -v n="$accepted" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')

echo
echo "== baseline: plain SQLite, same schema and pragmas, one thread =="
"$target/examples/sqlite_baseline" 5 "$work"

echo
echo "== intake =="
echo "accepted (new durable rows): $accepted in ${secs}s = $rate submissions/s"
echo "latency p50 $p50, p99 $p99 ($CONNECTIONS connections, $THREADS wrk thread(s))"
echo "responses other than 303: ${non3xx:-0}"
echo "outbox after the run: $outbox_line"
grep -o "database writer done.*" "$work/stderr" | sed 's/^/group commit (whole server life): /' || true
echo "server CPU during the run, by thread (s):"
join -a2 -e0 -o 0,1.2,2.2 "$work/cpu.before" "$work/cpu.after" \
  | awk '{ printf "  %-18s %6.2f\n", $1, $3 - $2 }'
awk -v a="$proc_before" -v b="$proc_after" -v hz="$(getconf CLK_TCK)" -v n="$accepted" -v s="$secs" \
  'BEGIN { t = (b - a) / hz; printf "  %-18s %6.2f  (%.2f cores; %.0f us per accepted submission)\n", "whole process", t, t / s, n ? t * 1e6 / n : 0 }'
