#!/usr/bin/env bash
# The browser suite (issue 6): Debian's Chromium, headless, driven by
# playwright-core; axe-core; the Nu HTML checker (vnu.jar, Java).
#
# Installs what is missing (chromium, a CJK font, a JRE, poppler-utils, Node),
# runs `npm ci`, builds the release binary and the site, and runs
# test/*.test.js with node's test runner against two targets in turn:
#   static  the intake and a small static server that passes the intake's
#           paths through to it (one origin, as behind the production web
#           server);
#   serve   `gazette serve` on a copy of the bundled site (the README's first
#           command: site and intake on one address, live reload injected),
#           with every test that talks to a server (not file.test.js, which
#           opens the files from disk, nor harness.test.js).
# Then it stops everything it started.
#
#   tests/browser/run.sh                          # everything, both targets
#   GAZETTE_TARGET=serve tests/browser/run.sh     # one target
#   tests/browser/run.sh test/axe.test.js         # some files only
#
# Environment: GAZETTE_BIN (a gazette binary to use instead of building one),
# GAZETTE_TARGET (static, serve or both; default both), CHROMIUM (default
# /usr/bin/chromium), BROWSER_TEST_TIMEOUT (seconds per target, 900).
# Artefacts (screenshots, PDFs, downloads, vnu report, the built site) go to
# tests/browser/artifacts/ (the serve run's to artifacts/serve/).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"

# --- system packages -------------------------------------------------------
need=()
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || need+=(chromium)
if ! ls /usr/share/fonts/truetype/wqy/wqy-microhei.ttc /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc >/dev/null 2>&1 \
   && ! { command -v fc-list >/dev/null && fc-list :lang=zh | grep -q .; }; then
  need+=(fonts-wqy-microhei)
fi
command -v java >/dev/null 2>&1 || need+=(default-jre-headless)
command -v pdftotext >/dev/null 2>&1 || need+=(poppler-utils)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ "${#need[@]}" -gt 0 ]; then
  echo "== browser tests: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' || {
  echo "browser tests: playwright-core needs Node.js 20 or later (found $(node --version))" >&2
  exit 1
}

# --- npm packages (playwright-core, axe-core, vnu-jar) ---------------------
# --ignore-scripts: vnu-jar's postinstall would download a Java runtime; we
# use the system's. playwright-core downloads nothing by itself.
if [ ! -f "$HERE/node_modules/.package-lock.json" ] || [ "$HERE/package-lock.json" -nt "$HERE/node_modules/.package-lock.json" ]; then
  echo "== browser tests: npm ci"
  (cd "$HERE" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi

# --- the binary and the site -----------------------------------------------
# gazette reads every GAZETTE_* variable as a setting and refuses unknown ones,
# so the suite's own variables are read here and not passed on.
GAZETTE_BIN="${GAZETTE_BIN:-}"
GAZETTE_TARGET="${GAZETTE_TARGET:-both}"
export -n GAZETTE_BIN GAZETTE_TARGET
case "$GAZETTE_TARGET" in
  static | serve | both) ;;
  *) echo "GAZETTE_TARGET: static, serve or both, not $GAZETTE_TARGET" >&2; exit 2 ;;
esac
if [ -z "$GAZETTE_BIN" ]; then
  echo "== browser tests: cargo build --release"
  cargo build --release --quiet --bin gazette
  GAZETTE_BIN="$ROOT/target/release/gazette"
fi
ART="$HERE/artifacts"
rm -rf "$ART"
mkdir -p "$ART"
SITE="$ART/site"
"$GAZETTE_BIN" build --root "$ROOT" --output "$SITE"

# --- servers on free loopback ports ----------------------------------------
WORK="$(mktemp -d)"
pids=()
cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A copy whose 附件1 refuses late returns, built after its deadline: its form
# page must be built closed (test/publishing.test.js).
CLOSED_SITE="$ART/closed-site"
mkdir -p "$WORK/closed"
for part in gazette.toml content manuals; do cp -r "$ROOT/$part" "$WORK/closed/"; done
sed -i 's/^after_deadline = "accept"/after_deadline = "refuse"/' "$WORK/closed/content/forms/departments.toml"
"$GAZETTE_BIN" build --root "$WORK/closed" --output "$CLOSED_SITE" >/dev/null 2>&1

# Waits for "<prefix>http://…" in a log; prints the URL.
wait_for_url() {
  local log="$1" pid="$2" what="$3" prefix="${4:-listening on }"
  for _ in $(seq 1 300); do
    if url="$(grep -o -m1 "${prefix}http://[0-9.:]*" "$log" 2>/dev/null)"; then
      echo "${url#"$prefix"}"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$what exited before it listened:" >&2
      cat "$log" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "$what did not start within 30 s:" >&2
  cat "$log" >&2
  return 1
}

# Both targets: their own database and mail folder; port 0 = any free port;
# no rate limit (the suite sends a few dozen returns from one address); an
# admin password, so the admin login page is served and checked. Run in the
# background only: `exec` makes the server the job itself, so `cleanup`'s kill
# reaches it (a function's subshell would die and leave it running).
ADMIN_HASH="$(echo 'browser-suite-admin' | "$GAZETTE_BIN" admin hash-password)"
with_intake_env() {
  local name="$1"
  shift
  GAZETTE_ADMIN_PASSWORD_HASH="$ADMIN_HASH" \
  GAZETTE_INTAKE_LISTEN=127.0.0.1:0 \
  GAZETTE_INTAKE_DATABASE="$WORK/$name.db" \
  GAZETTE_INTAKE_RATE_LIMIT=0 \
  GAZETTE_MAIL_TRANSPORT="$WORK/$name-outbox" \
    exec "$@"
}

# Runs the suite against one target: NAME URL ARTEFACTS FILES...
run_suite() {
  local name="$1" url="$2" art="$3"
  shift 3
  echo "== browser tests ($name): site $url, $(find "$SITE" -name '*.html' | wc -l) built pages, $# files"
  # Two files at a time: the Java checker or one browser beside another.
  (cd "$HERE" && GAZETTE_SITE_DIR="$SITE" GAZETTE_BASE_URL="$url" GAZETTE_INTAKE=1 GAZETTE_ARTIFACTS="$art" BROWSER_CLOSED_SITE="$CLOSED_SITE" \
    timeout "${BROWSER_TEST_TIMEOUT:-900}" node --test --test-reporter=spec --test-concurrency=2 "$@")
}

if [ "$#" -gt 0 ]; then
  files=("$@")
  serve_files=("$@")
else
  files=()
  serve_files=()
  for f in "$HERE"/test/*.test.js; do
    rel="test/$(basename "$f")"
    files+=("$rel")
    case "$rel" in test/file.test.js | test/harness.test.js) ;; *) serve_files+=("$rel") ;; esac
  done
fi
status=0

# --- target 1: static server + gazette intake --------------------------------
if [ "$GAZETTE_TARGET" != serve ]; then
  GAZETTE_INTAKE_SITE_DIR="$SITE" with_intake_env intake "$GAZETTE_BIN" intake --root "$ROOT" >"$ART/intake.log" 2>&1 &
  pids+=($!)
  INTAKE_URL="$(wait_for_url "$ART/intake.log" "${pids[-1]}" "gazette intake")"
  node "$HERE/lib/server.js" "$SITE" "$INTAKE_URL" >"$ART/server.log" 2>&1 &
  pids+=($!)
  BASE_URL="$(wait_for_url "$ART/server.log" "${pids[-1]}" "the static server")"
  echo "== browser tests (static): intake $INTAKE_URL"
  run_suite static "$BASE_URL" "$ART" "${files[@]}" || status=1
fi

# --- target 2: gazette serve on a copy of the bundled site -------------------
if [ "$GAZETTE_TARGET" != static ]; then
  COPY="$WORK/site"
  mkdir -p "$COPY" "$ART/serve"
  for part in gazette.toml content manuals templates static; do
    [ -e "$ROOT/$part" ] && cp -r "$ROOT/$part" "$COPY/"
  done
  with_intake_env serve "$GAZETTE_BIN" serve --root "$COPY" --port 0 >"$ART/serve/serve.log" 2>&1 &
  pids+=($!)
  SERVE_URL="$(wait_for_url "$ART/serve/serve.log" "${pids[-1]}" "gazette serve" "gazette serve: ")"
  run_suite serve "$SERVE_URL" "$ART/serve" "${serve_files[@]}" || status=1
fi

echo "== browser tests: artefacts in $ART"
exit "$status"
