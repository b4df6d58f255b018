#!/usr/bin/env bash
# bench/download.sh - the Review page's download of a long camera MP4 in
# Chromium: streamed into the picked file (the page's own code) and read
# whole into the page (the old Blob path), next to curl -o on the same URL,
# same run, loopback only. Prints time, throughput and how much memory
# Chromium's processes took on during each (bench/download.mjs says how).
#
# The recording (MINUTES one-minute segments of H.264 + AAC at BITRATE) is
# written by tools/recfixture.c as for bench/export.sh (bench/lib/fixture.sh).
#
# Environment: MINUTES (default 10), BITRATE (video kbit/s, default 4000),
# VIGIL_BIN (default build/vigil), FIXTURE_BIN (default
# build/tools/vigil-recfixture), both built by `make` when missing; KEEP=1
# keeps the temporary folder. Needs /usr/bin/chromium and `npm ci`.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VIGIL_BIN="${VIGIL_BIN:-$REPO/build/vigil}"
FIXTURE_BIN="${FIXTURE_BIN:-$REPO/build/tools/vigil-recfixture}"
MINUTES="${MINUTES:-10}"
FROM=0
TO=$((MINUTES * 60))
BITRATE="${BITRATE:-4000}"
RUNS=1
PASSWORD="pw12345678"
ME="bench/download.sh"
EXTRA_TOOLS="node"

[ -x /usr/bin/chromium ] || { echo "$ME: /usr/bin/chromium is not installed" >&2; exit 2; }
# shellcheck source=lib/fixture.sh
source "$REPO/bench/lib/fixture.sh"
node "$REPO/bench/download.mjs" "http://127.0.0.1:$PORT" bench "$PASSWORD" "$REC" "$CAM" "$TOKEN" "$TMP"
stop_vigil
