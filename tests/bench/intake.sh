#!/usr/bin/env bash
# Benchmark (not a test) of `gazette intake`: wrk in a separate process posts
# valid, distinct returns to POST /forms/departments of the release binary;
# we report accepted (durably stored) submissions per second and p50/p99
# latency for each setup, beside each engine's own single-row durable commit
# rate measured in the same session:
#
#   sqlite  one node on the embedded SQLite file (WAL, synchronous=FULL);
#           reference: plain SQLite inserts, same schema and pragmas;
#   pg      one node on PostgreSQL (a throwaway cluster started here, fsync
#           and synchronous_commit on); reference: pgbench, one client, one
#           single-row INSERT per transaction;
#   pg2     two nodes on that PostgreSQL, each getting half the connections
#           (one wrk per node, started together; figures summed/merged).
#
#   tests/bench/intake.sh                 # all three, 10 s, 32 connections
#   SETUPS="pg pg2" DURATION=20 CONNECTIONS=64 tests/bench/intake.sh
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
SETUPS=${SETUPS:-sqlite pg pg2}
# MAIL=off: no [office] email, so no outbox rows (to see what notifications cost).
MAIL=${MAIL:-on}

if ! command -v wrk >/dev/null 2>&1; then
  echo "installing wrk (Debian package)" >&2
  apt-get -o DPkg::Lock::Timeout=600 install -y wrk >/dev/null
fi
case " $SETUPS " in
  *" pg"*)
    if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
      echo "installing postgresql (Debian package)" >&2
      apt-get -o DPkg::Lock::Timeout=600 install -y postgresql >/dev/null
    fi
    ;;
esac

cd "$repo"
# BUILD=0: use the release binaries already built.
if [ "${BUILD:-1}" = 1 ]; then
  echo "building release binaries..." >&2
  cargo build --release --quiet --bin gazette
  cargo build --release --quiet -p gazette-intake --example sqlite_baseline
fi
target="${CARGO_TARGET_DIR:-$repo/target}/release"

work=$(mktemp -d /tmp/gazette-bench.XXXXXX)
pids=()
pgbin=""
pgdata="$work/pg/data"
pg_as() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  if [ -n "$pgbin" ] && [ -f "$pgdata/postmaster.pid" ]; then
    pg_as "$pgbin/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

export GAZETTE_INTAKE_RATE_LIMIT=0
export NO_COLOR=1
if [ "$MAIL" = off ]; then export GAZETTE_OFFICE_EMAIL=""; fi

# A throwaway PostgreSQL with its durable defaults (fsync, synchronous_commit).
start_pg() {
  pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  mkdir -p "$work/pg"
  # As root the cluster runs as postgres, which must reach its folder.
  if [ "$(id -u)" = 0 ]; then chmod 755 "$work"; chown postgres "$work/pg"; fi
  pg_as "$pgbin/initdb" -D "$pgdata" -A trust -U gazette -E UTF8 >/dev/null
  pgport=$((PORT + 100))
  pg_as "$pgbin/pg_ctl" -D "$pgdata" -l "$work/pg/log" -w \
    -o "-p $pgport -k $work/pg -c listen_addresses=127.0.0.1 -c max_connections=100" start >/dev/null
  pgurl() { echo "postgres://gazette@127.0.0.1:$pgport/$1"; }
}

# One node: a site folder of its own, listening on $2, database $3.
start_node() {
  local dir=$1 port=$2 db=$3
  mkdir -p "$dir/content"
  cp gazette.toml "$dir/"
  cp -r content/forms "$dir/content/"
  GAZETTE_INTAKE_LISTEN="127.0.0.1:$port" GAZETTE_MAIL_TRANSPORT="$dir/outbox" \
    GAZETTE_INTAKE_DATABASE="$db" \
    "$target/gazette" intake --root "$dir" >"$dir/stdout" 2>"$dir/stderr" &
  pids+=($!)
  for _ in $(seq 1 300); do
    grep -q "listening on" "$dir/stdout" 2>/dev/null && break
    sleep 0.1
  done
  grep -q "listening on" "$dir/stdout" || { cat "$dir/stderr" >&2; exit 1; }
}

submissions() {
  GAZETTE_INTAKE_DATABASE="$2" "$target/gazette" outbox --root "$1" | sed -nE '1s/^([0-9]+) submission.*/\1/p'
}

stop_nodes() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  pids=()
}

# wrk's latency figure in ms.
ms() { awk '{ v = $1; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 } printf "%.2f", v }'; }

# run SETUP NODES DB: warm-up, then $DURATION s of posts spread over NODES.
run_setup() {
  local setup=$1 nodes=$2 db=$3
  local base="$work/$setup"
  for n in $(seq 1 "$nodes"); do start_node "$base/node$n" $((PORT + n)) "$db"; done
  for n in $(seq 1 "$nodes"); do
    wrk -t1 -c8 -d2s -s "$here/intake_post.lua" "http://127.0.0.1:$((PORT + n))" -- "warm$n" >/dev/null
  done
  local before; before=$(submissions "$base/node1" "$db")
  local per=$((CONNECTIONS / nodes)) wpids=()
  for n in $(seq 1 "$nodes"); do
    wrk -t"$THREADS" -c"$per" -d"${DURATION}s" --latency -s "$here/intake_post.lua" \
      "http://127.0.0.1:$((PORT + n))" -- "run$$-$setup-$n" >"$base/wrk$n.txt" &
    wpids+=($!)
  done
  for p in "${wpids[@]}"; do wait "$p"; done
  local after; after=$(submissions "$base/node1" "$db")
  local outbox_line; outbox_line=$(GAZETTE_INTAKE_DATABASE="$db" "$target/gazette" outbox --root "$base/node1" | sed -n 1p)
  stop_nodes
  local accepted=$((after - before))
  local rate; rate=$(awk -v n="$accepted" -v s="$DURATION" 'BEGIN { printf "%.0f", n / s }')
  local non3xx=0 p50s="" p99s=""
  for n in $(seq 1 "$nodes"); do
    local f="$base/wrk$n.txt"
    local bad; bad=$(sed -nE 's/.*Non-2xx or 3xx responses: ([0-9]+).*/\1/p' "$f" | head -1)
    non3xx=$((non3xx + ${bad:-0}))
    p50s="$p50s $(awk '$1 == "50%" { print $2 }' "$f" | ms)"
    p99s="$p99s $(awk '$1 == "99%" { print $2 }' "$f" | ms)"
  done
  echo
  echo "== $setup: $nodes node(s), $CONNECTIONS connections, ${DURATION}s =="
  echo "accepted (new durable rows): $accepted = $rate submissions/s"
  echo "latency p50 (ms, per node):$p50s; p99 (ms, per node):$p99s"
  echo "responses other than 303: $non3xx"
  echo "outbox after the run: $outbox_line"
  grep -ho "database writer done.*" "$base"/node*/stderr | sed 's/^/group commit: /' || true
  grep -ho "database writer: transactions over.*" "$base"/node*/stderr | sed 's/^/slow commits: /' || true
  printf '%s\t%s\t%s\t%s\t%s\n' "$setup" "$nodes" "$rate" "$p50s" "$p99s" >>"$work/summary.tsv"
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for setup in $SETUPS; do
  case "$setup" in
    sqlite) run_setup sqlite 1 "var/gazette.db" ;;
    pg | pg2)
      [ -n "$pgbin" ] || start_pg
      "$pgbin/psql" -h 127.0.0.1 -p "$pgport" -U gazette -d postgres -qc "CREATE DATABASE $setup" >/dev/null
      if [ "$setup" = pg ]; then run_setup pg 1 "$(pgurl pg)"; else run_setup pg2 2 "$(pgurl pg2)"; fi
      ;;
    *) echo "unknown setup $setup (sqlite, pg, pg2)" >&2; exit 2 ;;
  esac
done

echo
echo "== references: each engine's own single-row durable commits, one client =="
case " $SETUPS " in *" sqlite "*)
  "$target/examples/sqlite_baseline" 5 "$work" ;;
esac
if [ -n "$pgbin" ]; then
  "$pgbin/psql" -h 127.0.0.1 -p "$pgport" -U gazette -d postgres -qc "CREATE DATABASE ref" >/dev/null
  "$pgbin/psql" -h 127.0.0.1 -p "$pgport" -U gazette -d ref -qc \
    "CREATE TABLE t (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, reference TEXT UNIQUE, answers JSONB, at BIGINT)" >/dev/null
  cat >"$work/pg/insert.sql" <<'SQL'
INSERT INTO t (reference, answers, at) VALUES (md5(random()::text), '[["unit_name","梅州市教育局"],["uscc","11441700007280420Y"]]', 0);
SQL
  tps=$("$pgbin/pgbench" -h 127.0.0.1 -p "$pgport" -U gazette -n -c1 -T5 -f "$work/pg/insert.sql" ref 2>/dev/null \
    | sed -nE 's/^tps = ([0-9.]+).*/\1/p' | head -1)
  echo "PostgreSQL (pgbench, synchronous_commit on): ${tps%.*} single-row commits/s"
fi
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "setup	nodes	accepted/s	p50 ms	p99 ms"
cat "$work/summary.tsv"
