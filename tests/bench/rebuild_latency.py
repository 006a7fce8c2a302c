#!/usr/bin/env python3
"""Time from saving one page to the rebuilt page being served by `gazette serve`.

    tests/bench/rebuild_latency.py GAZETTE_BIN SITE_ROOT [--edits 20]

Starts `gazette serve` on SITE_ROOT (a generated corpus), edits one page body
EDITS times, and after each save polls the page until the new text is served.
Prints min / median / max in milliseconds.
"""
import argparse, os, pathlib, re, socket, statistics, subprocess, sys, time, urllib.request

ap = argparse.ArgumentParser()
ap.add_argument("gazette")
ap.add_argument("root")
ap.add_argument("--edits", type=int, default=20)
args = ap.parse_args()

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
env = {k: v for k, v in os.environ.items() if not k.startswith("GAZETTE_")}
env["GAZETTE_INTAKE_DATABASE"] = "/tmp/gazette-bench-serve.db"
env["GAZETTE_MAIL_TRANSPORT"] = "/tmp/gazette-bench-outbox"
proc = subprocess.Popen([args.gazette, "serve", "--root", args.root, "--port", str(port)],
                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
try:
    for line in proc.stdout:
        if "http://" in line:
            break
    page = pathlib.Path(args.root) / "content/section-01/page-0001.md"
    url = f"http://127.0.0.1:{port}/section-01/page-0001/"
    original = page.read_text(encoding="utf-8")
    times = []
    for i in range(args.edits):
        marker = f"latency-marker-{i}-{time.time_ns()}"
        t0 = time.perf_counter()
        page.write_text(original + f"\n{marker}\n", encoding="utf-8")
        while True:
            body = urllib.request.urlopen(url).read().decode("utf-8")
            if marker in body:
                break
            if time.perf_counter() - t0 > 30:
                sys.exit("page not rebuilt within 30 s")
        times.append((time.perf_counter() - t0) * 1000)
        time.sleep(0.2)
    page.write_text(original, encoding="utf-8")
    print(f"one-page rebuild served: min {min(times):.1f} ms, median {statistics.median(times):.1f} ms, max {max(times):.1f} ms over {len(times)} edits")
finally:
    proc.terminate()
    proc.wait()
