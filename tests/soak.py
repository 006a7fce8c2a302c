"""The soak test (issue 17): mixed load on a release `gazette intake` for
DURATION seconds, killed with SIGKILL every KILL_EVERY seconds and started
again, while the SMTP server goes away for OUTAGE seconds every
SMTP_EVERY seconds. Then: every acknowledged return is stored, every
notification was received (repeats only with the same Message-ID), memory
and descriptors did not grow. Run through tests/soak.sh.
"""
import http.client
import os
import random
import re
import signal
import socket
import socketserver
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse

BIN, SITE, HERE = sys.argv[1], sys.argv[2], sys.argv[3]
DURATION = int(os.environ.get("DURATION", "1800"))
KILL_EVERY = int(os.environ.get("KILL_EVERY", "180"))
SMTP_EVERY = int(os.environ.get("SMTP_EVERY", "420"))
OUTAGE = int(os.environ.get("OUTAGE", "45"))
IMPORT_EVERY = int(os.environ.get("IMPORT_EVERY", "360"))
POSTERS = int(os.environ.get("POSTERS", "3"))
PORT = int(os.environ.get("PORT", "18741"))
SMTP_PORT = int(os.environ.get("SMTP_PORT", "18742"))
# Returns imported before the load starts, their notifications sent first:
# both measured windows then see a database larger than SQLite's page
# caches, as a server does in its second week, so memory growth is a leak
# and not the caches filling up.
PREFILL = int(os.environ.get("PREFILL", "30000"))
PASSWORD = "soak admin 密码"
DB = os.path.join(SITE, "var", "gazette.db")

stop = threading.Event()
lock = threading.Lock()
acked_web = []       # receipt tokens answered with 303
acked_import = []    # references `gazette import` reported stored
counts = {"posts": 0, "refused": 0, "errors": 0, "receipts": 0, "admin": 0,
          "kills": 0, "outages": 0, "imports": 0, "slow": 0}
samples = []         # (seconds since start, rss kB, descriptors)


def bump(key, n=1):
    with lock:
        counts[key] += n


# ---------------------------------------------------------------- SMTP sink
received = []        # Message-IDs, in arrival order
mail_log = open(os.path.join(SITE, "received.txt"), "a")


class Smtp(socketserver.StreamRequestHandler):
    def handle(self):
        with sink_lock:
            sink_conns.add(self.connection)
        try:
            self.wfile.write(b"220 soak sink\r\n")
            while True:
                line = self.rfile.readline()
                if not line:
                    return
                cmd = line.strip().upper()
                if cmd.startswith(b"EHLO") or cmd.startswith(b"HELO"):
                    self.wfile.write(b"250 soak sink\r\n")
                elif cmd.startswith(b"DATA"):
                    self.wfile.write(b"354 go on\r\n")
                    data = []
                    while True:
                        l = self.rfile.readline()
                        if not l or l in (b".\r\n", b".\n"):
                            break
                        data.append(l)
                    text = b"".join(data).decode("utf-8", "replace")
                    m = re.search(r"^Message-ID:\s*(<[^>]+>)", text, re.M | re.I)
                    mid = m.group(1) if m else "(none)"
                    # Durable before the 250: accepted means kept.
                    with sink_lock:
                        mail_log.write(mid + "\n")
                        mail_log.flush()
                        os.fsync(mail_log.fileno())
                        received.append(mid)
                    self.wfile.write(b"250 kept\r\n")
                elif cmd.startswith(b"QUIT"):
                    self.wfile.write(b"221 bye\r\n")
                    return
                else:
                    self.wfile.write(b"250 ok\r\n")
        except OSError:
            pass
        finally:
            with sink_lock:
                sink_conns.discard(self.connection)


sink_lock = threading.Lock()
sink_conns = set()


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def start_sink():
    s = Server(("127.0.0.1", SMTP_PORT), Smtp)
    threading.Thread(target=s.serve_forever, daemon=True).start()
    return s


def stop_sink(s):
    s.shutdown()
    s.server_close()
    with sink_lock:
        for c in list(sink_conns):
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


# ------------------------------------------------------------------ intake
env = dict(os.environ)
env.update({
    "GAZETTE_INTAKE_LISTEN": f"127.0.0.1:{PORT}",
    "GAZETTE_INTAKE_RATE_LIMIT": "0",
    "GAZETTE_MAIL_TRANSPORT": f"smtp://127.0.0.1:{SMTP_PORT}",
    "GAZETTE_MAIL_RETRY_BASE": "200ms",
    "GAZETTE_MAIL_RETRY_MAX": "1000",
    "NO_COLOR": "1",
})
env["GAZETTE_ADMIN_PASSWORD_HASH"] = subprocess.run(
    [BIN, "admin", "hash-password"], input=PASSWORD, capture_output=True,
    text=True, check=True).stdout.strip()
proc = None
log = open(os.path.join(SITE, "intake.log"), "a")


def start_intake():
    global proc
    proc = subprocess.Popen([BIN, "intake", "--root", SITE], env=env,
                            stdout=log, stderr=log)
    for _ in range(300):
        try:
            c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=2)
            c.request("GET", "/healthz")
            c.getresponse().read()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the intake did not start: see intake.log")


def request(method, path, body=None, headers=None, timeout=30):
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        headers = {}
        for k, v in r.getheaders():
            k = k.lower()
            headers[k] = headers[k] + "\n" + v if k in headers else v
        return r.status, headers, data
    finally:
        c.close()


FORM = {
    "uscc": "11441700007280420Y", "unit_type": "机关",
    "address": "梅州市梅江区江南路1号", "admin_name": "张三",
    "office_phone": "0753-2128309", "mobile": "13812345678",
    "email": "admin@example.org", "filled_by": "李四",
}


def poster(n):
    i = 0
    while not stop.is_set():
        i += 1
        body = urllib.parse.urlencode(dict(FORM, unit_name=f"浸泡测试{n}号{i}单位{random.randrange(10**9)}"))
        try:
            status, h, _ = request("POST", "/forms/departments", body,
                                   {"Content-Type": "application/x-www-form-urlencoded"})
            bump("posts")
            if status == 303 and "/receipts/" in h.get("location", ""):
                token = h["location"].rsplit("/", 1)[-1]
                with lock:
                    acked_web.append(token)
            else:
                bump("refused")
        except OSError:
            bump("errors")
            time.sleep(0.2)
        time.sleep(0.05)


def reader():
    while not stop.is_set():
        with lock:
            token = random.choice(acked_web) if acked_web else None
        try:
            request("GET", f"/receipts/{token or 'ZZZZZZZZ' + '0' * 32}")
            request("GET", f"/receipts/MADEUP{random.randrange(10**12)}")
            request("GET", "/healthz")
            bump("receipts")
        except OSError:
            time.sleep(0.2)
        time.sleep(0.1)


def admin():
    cookie = None
    while not stop.is_set():
        try:
            if cookie is None:
                body = urllib.parse.urlencode({"password": PASSWORD})
                status, h, _ = request("POST", "/admin/login", body,
                                       {"Content-Type": "application/x-www-form-urlencoded"})
                m = re.search(r"gazette_admin=([0-9a-f]{64})", h.get("set-cookie", ""))
                cookie = m.group(1) if m else None
            if cookie:
                for page in ("/admin/", "/admin/forms/departments", "/admin/outbox"):
                    status, _, _ = request("GET", page, headers={"Cookie": f"gazette_admin={cookie}"})
                    if status != 200:
                        cookie = None  # a restart logs everybody out
                        break
                    bump("admin")
        except OSError:
            cookie = None
        time.sleep(1)


def slow_clients():
    while not stop.is_set():
        socks = []
        for _ in range(20):
            try:
                s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                socks.append(s)
            except OSError:
                pass
        bump("slow", len(socks))
        for _ in range(12):
            if stop.is_set():
                break
            for s in socks:
                try:
                    s.sendall(b"a")
                except OSError:
                    pass
            time.sleep(1)
        for s in socks:
            s.close()


def importer():
    n = 0
    while not stop.wait(IMPORT_EVERY / 2 if n == 0 else IMPORT_EVERY):
        n += 1
        path = os.path.join(SITE, f"batch{n}.xlsx")
        subprocess.run([sys.executable, os.path.join(HERE, "bench", "make_xlsx.py"),
                        "300", path, f"浸泡导入{n}批{random.randrange(10**6)}号"], check=True)
        r = subprocess.run([BIN, "import", "departments", path, "--root", SITE],
                           capture_output=True, text=True, env=env)
        refs = re.findall(r"^([0-9A-Z]{8})  ", r.stdout, re.M)
        if r.returncode == 0:
            with lock:
                acked_import.extend(refs)
            bump("imports")
        else:
            print("import failed:", r.stdout[:300], r.stderr[:300], flush=True)


def rss_and_fds(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            rss = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
        return rss, len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, AttributeError):
        return None


def pending_notifications(db):
    return db.execute("SELECT COUNT(*) FROM outbox WHERE status = 'pending'").fetchone()[0]


def prefill():
    path = os.path.join(SITE, "prefill.xlsx")
    subprocess.run([sys.executable, os.path.join(HERE, "bench", "make_xlsx.py"),
                    str(PREFILL), path, "浸泡预置单位"], check=True)
    r = subprocess.run([BIN, "import", "departments", path, "--root", SITE],
                       capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise SystemExit(f"prefill import failed: {r.stdout[:300]} {r.stderr[:300]}")
    acked_import.extend(re.findall(r"^([0-9A-Z]{8})  ", r.stdout, re.M))
    db = sqlite3.connect(DB, timeout=30)
    deadline = time.time() + 900
    while pending_notifications(db) and time.time() < deadline:
        time.sleep(2)
    print(f"prefilled {len(acked_import)} returns, their notifications sent "
          f"(pending {pending_notifications(db)})", flush=True)
    # A fresh process for the load: its memory is what the windows compare.
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    db.close()


# -------------------------------------------------------------------- run
sink = start_sink()
start_intake()
if PREFILL:
    prefill()
    start_intake()
threads = [threading.Thread(target=poster, args=(i,), daemon=True) for i in range(POSTERS)]
threads += [threading.Thread(target=f, daemon=True) for f in (reader, admin, slow_clients, importer)]
for t in threads:
    t.start()
t0 = time.time()
next_kill, next_outage, sink_back = t0 + KILL_EVERY, t0 + SMTP_EVERY, None
while time.time() - t0 < DURATION:
    now = time.time()
    s = rss_and_fds(proc.pid)
    if s:
        samples.append((now - t0, s[0], s[1]))
    if now >= next_kill:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        bump("kills")
        start_intake()
        next_kill = now + KILL_EVERY
    if sink_back is None and now >= next_outage:
        stop_sink(sink)
        bump("outages")
        sink_back = now + OUTAGE
    if sink_back is not None and now >= sink_back:
        sink = start_sink()
        sink_back, next_outage = None, now + SMTP_EVERY
    time.sleep(2)
print("load done; stopping the clients", flush=True)
stop.set()
for t in threads:
    t.join(timeout=60)
if sink_back is not None:
    sink = start_sink()

print("draining the outbox", flush=True)
# Drain: the outbox sends what is left (the intake keeps running).
db = sqlite3.connect(DB, timeout=30)
deadline = time.time() + 600
while time.time() < deadline:
    if pending_notifications(db) == 0:
        break
    time.sleep(2)
proc.send_signal(signal.SIGTERM)
proc.wait(timeout=60)
stop_sink(sink)

# ----------------------------------------------------------------- verdict
refs = set(r for (r,) in db.execute("SELECT reference FROM submissions"))
lost_web = [t for t in acked_web if t[:8] not in refs]
lost_import = [r for r in acked_import if r not in refs]
status = dict(db.execute("SELECT status, COUNT(*) FROM outbox WHERE channel = 'email' GROUP BY status").fetchall())
expected = set("<%s@gazette>" % r for (r,) in db.execute(
    "SELECT s.reference FROM outbox o JOIN submissions s ON s.id = o.submission_id WHERE o.channel = 'email'"))
got = set(received)
missing = expected - got
unknown = got - expected
dupes = len(received) - len(got)
window = min(600, DURATION / 3)
first = [s for s in samples if s[0] <= window]
last = [s for s in samples if s[0] >= DURATION - window]
peak_first = max(s[1] for s in first)
peak_last = max(s[1] for s in last)
fd_first = max(s[2] for s in first)
fd_last = max(s[2] for s in last)
growth = (peak_last - peak_first) / peak_first * 100

print(f"== soak: {DURATION} s on {PREFILL} prefilled returns, kill -9 every {KILL_EVERY} s, SMTP away {OUTAGE} s every {SMTP_EVERY} s")
print("load:", ", ".join(f"{k} {v}" for k, v in counts.items()))
print(f"acknowledged: {len(acked_web)} web returns, {len(acked_import)} imported rows; "
      f"lost: {len(lost_web)} web, {len(lost_import)} imported")
print(f"notifications: outbox {status}; expected {len(expected)}, received {len(got)} distinct "
      f"(+{dupes} repeats with the same Message-ID), missing {len(missing)}, unknown {len(unknown)}")
print(f"peak RSS: first {window:.0f} s {peak_first / 1024:.1f} MiB, last {window:.0f} s "
      f"{peak_last / 1024:.1f} MiB ({growth:+.1f}%)")
print(f"descriptors: first window max {fd_first}, last window max {fd_last}")
print(f"load average at the end: {open('/proc/loadavg').read().split()[:3]}")
ok = (not lost_web and not lost_import and not missing and not unknown
      and status.get("pending", 0) == 0 and status.get("failed", 0) == 0
      and growth <= 10 and fd_last <= fd_first + 8)
print("PASS" if ok else "FAIL")
if missing:
    print("missing e.g.", sorted(missing)[:5])
sys.exit(0 if ok else 1)
