#!/usr/bin/env bash
# Benchmark (not a test) of the mailbox reader: N messages (default 1,000),
# each with a one-row 附件1 table, waiting in a throwaway Dovecot's inbox on
# loopback; one `gazette mailbox --once` of the release binary reads, stores
# (source 邮件), queues the answers and moves them all. Reports messages per
# second and the peak RSS, beside the single-row SQLite commit rate measured
# in the same run (examples/sqlite_baseline.rs: WAL, synchronous=FULL).
#
#   tests/bench/mailbox.sh            # 1000 messages
#   N=5000 tests/bench/mailbox.sh
#
# Needs Dovecot (apt-get install dovecot-imapd; tests/run.sh installs it).
# Run as root, Dovecot's mail processes run as nobody and its logins as dovenull.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
N=${N:-1000}
PORT=${PORT:-18143}

if [ ! -x /usr/sbin/dovecot ]; then
  echo "installing dovecot-imapd (Debian package)" >&2
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends dovecot-imapd >/dev/null
fi

cd "$repo"
echo "building release binaries..." >&2
cargo build --release --quiet --bin gazette
cargo build --release --quiet -p gazette-intake --example sqlite_baseline --example mailbox_corpus
target="${CARGO_TARGET_DIR:-$repo/target}/release"

# WORK=/dev/shm keeps fsync out of it (the disk of a shared machine can be slow).
work=$(mktemp -d "${WORK:-/tmp}/gazette-mailbench.XXXXXX")
chmod 755 "$work"
dpid=""
cleanup() {
  if [ -n "$dpid" ]; then kill "$dpid" 2>/dev/null || true; wait "$dpid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

if [ "$(id -u)" = 0 ]; then
  uid=65534; gid=65534; internal=dovecot; login=dovenull
else
  uid=$(id -u); gid=$(id -g); internal=$(id -un); login=$(id -un)
fi
mkdir -p "$work/run" "$work/state" "$work/home/office" "$work/site/content"
echo "office:{PLAIN}bench-pass" >"$work/passwd"
cat >"$work/dovecot.conf" <<CONF
base_dir = $work/run
state_dir = $work/state
log_path = $work/dovecot.log
protocols = imap
mail_fsync = ${MAIL_FSYNC:-optimized}
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
first_valid_uid = 0
default_internal_user = $internal
default_internal_group = $internal
default_login_user = $login
mail_location = maildir:$work/home/%u/Maildir
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $work/passwd
}
userdb {
  driver = static
  args = uid=$uid gid=$gid home=$work/home/%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $PORT
  }
  inet_listener imaps {
    port = 0
  }
}
CONF
"$target/examples/mailbox_corpus" "$work/home/office/Maildir" "$N" >&2
chown -R "$uid:$gid" "$work/home"
/usr/sbin/dovecot -F -c "$work/dovecot.conf" &
dpid=$!
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  sleep 0.1
done

cp gazette.toml "$work/site/"
cp -r content/forms "$work/site/content/"
export NO_COLOR=1
export GAZETTE_MAILBOX_SERVER="127.0.0.1:$PORT" GAZETTE_MAILBOX_TLS=none
export GAZETTE_MAILBOX_USER=office GAZETTE_MAILBOX_PASSWORD=bench-pass
export GAZETTE_MAIL_TRANSPORT="$work/outbox"

# Dovecot indexes the new Maildir on the first login: not part of the reader's time.
python3 - "$PORT" <<'PY'
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1])); m.login("office", "bench-pass")
print("inbox holds", m.select("INBOX")[1][0].decode(), "messages", file=sys.stderr); m.logout()
PY

echo "reading $N messages..." >&2
python3 - "$target/gazette" "$work/site" "$N" <<'PY' | tee "$work/result"
import resource, subprocess, sys, time
gazette, site, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
t = time.monotonic()
out = subprocess.run([gazette, "mailbox", "--once", "--root", site], capture_output=True, text=True)
elapsed = time.monotonic() - t
if out.returncode != 0:
    sys.exit(out.stderr)
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(out.stdout.strip())
print(f"mailbox: {n} messages in {elapsed:.2f} s = {n / elapsed:.0f} messages/s, peak RSS {rss:.1f} MiB")
PY

rows=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"SELECT COUNT(*) FROM submissions WHERE source='mail'\").fetchone()[0])" "$work/site/var/gazette.db")
replies=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT COUNT(*) FROM replies').fetchone()[0])" "$work/site/var/gazette.db")
echo "stored rows: $rows, queued answers: $replies (of $N)"
[ "$rows" = "$N" ] || { echo "expected $N rows" >&2; exit 1; }

echo "SQLite reference on the same disk ($work):"
"$target/examples/sqlite_baseline" 3 "$work"
