#!/usr/bin/env bash
# The soak test (issue 17; not part of tests/run.sh): on a database that
# already holds 30,000 imported returns (PREFILL; their notifications sent
# first), 30 minutes of mixed load on the release binary (posts, receipts,
# admin pages, an import every few minutes, slow clients), kill -9 every 3
# minutes, the SMTP server away
# for 45 s every 7 minutes. Passes when no acknowledged return or
# notification is lost, repeats carry the same Message-ID, peak RSS of the
# last 10 minutes is within 10% of the first 10, and descriptors do not grow.
#
#   tests/soak.sh                      # 30 minutes
#   DURATION=300 KILL_EVERY=60 SMTP_EVERY=120 tests/soak.sh   # a short one
#   PREFILL=0 tests/soak.sh            # from an empty database
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
cd "$repo"
PROFILE=${PROFILE:-release}
echo "building the $PROFILE binary..." >&2
if [ "$PROFILE" = release ]; then cargo build --release --quiet --bin gazette; else cargo build --quiet --bin gazette; fi
bin="${CARGO_TARGET_DIR:-$repo/target}/$PROFILE/gazette"
work=$(mktemp -d /tmp/gazette-soak.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp gazette.toml "$work/"
mkdir -p "$work/content"
cp -r content/forms "$work/content/"
python3 "$here/soak.py" "$bin" "$work" "$here"
