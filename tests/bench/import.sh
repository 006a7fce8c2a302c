#!/usr/bin/env bash
# Benchmark (not a test) of `gazette import` beside a running intake (issue
# 17, defect 4): ROWS rows imported into a database of RETURNS returns while
# a client posts a web return every 100 ms. Reports how long the import
# took and what became of each post (target: none refused, import < 30 s).
#
#   tests/bench/import.sh                       # 60,000 rows into 100,000
#   ROWS=2000 RETURNS=39000 tests/bench/import.sh
#   PROFILE=debug ROWS=2000 tests/bench/import.sh   # try the script quickly
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
ROWS=${ROWS:-60000}
RETURNS=${RETURNS:-100000}
PORT=${PORT:-18732}

cd "$repo"
# PROFILE=debug: the test build (to try the script; figures need release).
PROFILE=${PROFILE:-release}
echo "building the $PROFILE binary..." >&2
if [ "$PROFILE" = release ]; then cargo build --release --quiet --bin gazette; else cargo build --quiet --bin gazette; fi
bin="${CARGO_TARGET_DIR:-$repo/target}/$PROFILE/gazette"

work=$(mktemp -d /tmp/gazette-import-bench.XXXXXX)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

cp gazette.toml "$work/"
mkdir -p "$work/content"
cp -r content/forms "$work/content/"
export GAZETTE_INTAKE_LISTEN="127.0.0.1:$PORT" GAZETTE_INTAKE_RATE_LIMIT=0 NO_COLOR=1
export GAZETTE_MAIL_TRANSPORT="$work/outbox"
"$bin" intake --root "$work" >"$work/stdout" 2>"$work/stderr" &
pid=$!
for _ in $(seq 1 300); do
  grep -q "listening on" "$work/stdout" 2>/dev/null && break
  sleep 0.1
done
grep -q "listening on" "$work/stdout" || { cat "$work/stderr" >&2; exit 1; }

echo "storing $RETURNS earlier returns, writing $ROWS rows to import..." >&2
python3 - "$work/var/gazette.db" "$RETURNS" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=30)
db.execute("""WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
  INSERT INTO submissions (reference, token, form_id, form_title, unit, answers, hash, received_at)
  SELECT printf('OLD%07d', i), printf('OLD%07d', i), 'departments', '市直主管部门信息一览表',
         '单位' || i, '[["unit_name","单位' || i || '"]]', lower(hex(randomblob(32))), 1000 FROM n""",
           (int(sys.argv[2]),))
db.commit()
PY
python3 "$here/make_xlsx.py" "$ROWS" "$work/rows.xlsx"

# The web client: one new return every 100 ms until told to stop.
poster() {
  local i=0
  while [ ! -e "$work/stop" ]; do
    curl -s -o /dev/null -w '%{http_code} %{time_total}\n' --max-time 60 \
      --data-urlencode "unit_name=网上单位$i" --data-urlencode "uscc=11441700007280420Y" \
      --data-urlencode "unit_type=机关" --data-urlencode "address=梅州市梅江区江南路1号" \
      --data-urlencode "admin_name=张三" --data-urlencode "office_phone=0753-2128309" \
      --data-urlencode "mobile=13812345678" --data-urlencode "email=admin@example.org" \
      --data-urlencode "filled_by=李四" \
      "http://127.0.0.1:$PORT/forms/departments" >>"$work/posts" || echo "000 60" >>"$work/posts"
    i=$((i + 1))
    sleep 0.1
  done
}
poster &
poster_pid=$!
sleep 1
start=$(date +%s.%N)
RUST_LOG=intake=debug "$bin" import departments "$work/rows.xlsx" --root "$work" >"$work/import.out" 2>"$work/import.err" || {
  cat "$work/import.err" >&2; touch "$work/stop"; wait "$poster_pid"; exit 1; }
end=$(date +%s.%N)
sleep 1
touch "$work/stop"
wait "$poster_pid"

echo "== gazette import: $ROWS rows into $RETURNS returns, a web post every 100 ms"
head -1 "$work/import.out"
awk -v a="$start" -v b="$end" 'BEGIN { printf "import took %.2f s\n", b - a }'
echo "its phases (from start):"
grep -o '[0-9T:.-]*Z.*import: .*' "$work/import.err" | sed 's/^/  /' || true
refused=$(awk '$1 != "303"' "$work/posts" | wc -l)
sort -n -k2 "$work/posts" | awk -v bad="$refused" '{ t[NR] = $2 } END {
  p99 = int(NR * 0.99); if (p99 < 1) p99 = 1; p50 = int(NR / 2); if (p50 < 1) p50 = 1
  printf "web posts: %d, refused (not 303): %d, slowest %.3f s, p99 %.3f s, p50 %.3f s\n", NR, bad, t[NR], t[p99], t[p50] }'
echo "stored returns now: $(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from submissions').fetchone()[0])" "$work/var/gazette.db")"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
