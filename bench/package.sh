#!/usr/bin/env bash
# bench/package.sh - a verifiable export package of 10 minutes out of a
# long recording: Vigil's export endpoint (ZIP with the MP4, markers, a
# SHA-256 manifest signed with Ed25519) next to making the same kind of
# package by hand with the usual tools, same run, same machine, loopback.
#
# The recording (MINUTES one-minute segments of H.264 + AAC at BITRATE) is
# written by tools/recfixture.c as in bench/export.sh. Then, with the
# segment files in the page cache for both sides, RUNS times each,
# alternating:
#   vigil   curl GET /api/v1/recordings/ID/export?from=FROM&to=TO
#           (time to first byte and to the last, curl -w); then
#           `vigil verify` and `unzip -t` on the package (not timed)
#   by hand ffmpeg -ss FROM -to TO -i FULL.mp4 -c copy cam.mp4, then
#           sha256sum cam.mp4 > SHA256SUMS, then zip -0 (stored, like
#           Vigil's) of both: what a person does without Vigil, and still
#           without a signature; FULL.mp4 is the segments concatenated
#           once beforehand with the concat demuxer (not timed)
# and prints the medians and the ratio.
#
# Environment: MINUTES (default 30), FROM / TO (s, default 1200 / 1800),
# BITRATE (video kbit/s, default 4000), RUNS (default 3), VIGIL_BIN
# (default build/vigil), FIXTURE_BIN (default build/tools/vigil-recfixture),
# both built by `make` when missing; KEEP=1 keeps the temporary folder.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VIGIL_BIN="${VIGIL_BIN:-$REPO/build/vigil}"
FIXTURE_BIN="${FIXTURE_BIN:-$REPO/build/tools/vigil-recfixture}"
MINUTES="${MINUTES:-30}"
FROM="${FROM:-1200}"
TO="${TO:-1800}"
BITRATE="${BITRATE:-4000}"
RUNS="${RUNS:-3}"
PASSWORD="pw12345678"
ME="bench/package.sh"

EXTRA_TOOLS="zip unzip sha256sum"
# shellcheck source=lib/fixture.sh
source "$REPO/bench/lib/fixture.sh"
api POST "/recordings/$REC/markers" "{\"time\":$((FROM + 30)),\"label\":\"bench marker\"}" >/dev/null
find "$DATA/media" -name '*.mp4' | sort | sed "s/.*/file '&'/" >"$TMP/list.txt"
echo "$ME: concatenating the segments into one file for ffmpeg (not timed)"
ffmpeg -v error -y -f concat -safe 0 -i "$TMP/list.txt" -c copy "$TMP/full.mp4"
cat $(find "$DATA/media" -name '*.mp4') "$TMP/full.mp4" >/dev/null

URL="$API/recordings/$REC/export?from=$FROM&to=$TO"
vigil_run() {
  rm -f "$TMP/vigil.zip"
  curl -sS --max-time 900 -o "$TMP/vigil.zip" -H "Authorization: Bearer $TOKEN" \
    -w '%{http_code} %{time_starttransfer} %{time_total}\n' "$URL"
}
hand_run() {
  python3 - "$TMP" "$FROM" "$TO" <<'EOF'
import os, shutil, subprocess, sys, time
tmp, a, b = sys.argv[1:4]
d = os.path.join(tmp, "hand")
shutil.rmtree(d, ignore_errors=True)
os.makedirs(d)
t0 = time.monotonic()
rc = subprocess.call(["ffmpeg", "-v", "error", "-y", "-ss", a, "-to", b, "-i",
                      os.path.join(tmp, "full.mp4"), "-c", "copy", os.path.join(d, "cam.mp4")])
with open(os.path.join(d, "SHA256SUMS"), "w") as f:
    rc = rc or subprocess.call(["sha256sum", "cam.mp4"], cwd=d, stdout=f)
rc = rc or subprocess.call(["zip", "-q", "-0", os.path.join(tmp, "hand.zip"), "cam.mp4", "SHA256SUMS"], cwd=d)
print(rc, f"{time.monotonic() - t0:.6f}")
os.remove(os.path.join(tmp, "hand.zip"))
EOF
}

V_FIRST=() V_TOTAL=() H_TOTAL=()
for ((i = 1; i <= RUNS; i++)); do
  read -r code first total < <(vigil_run)
  [ "$code" = 200 ] || die "vigil answered $code"
  V_FIRST+=("$first") V_TOTAL+=("$total")
  read -r code total < <(hand_run)
  [ "$code" = 0 ] || die "the hand-made package failed ($code)"
  H_TOTAL+=("$total")
  echo "  run $i: vigil first byte ${V_FIRST[-1]} s, complete ${V_TOTAL[-1]} s; by hand ${H_TOTAL[-1]} s"
done

# The package is right: verify passes, unzip agrees, the MP4 lasts TO-FROM.
"$VIGIL_BIN" verify "$TMP/vigil.zip" >"$TMP/verify.txt" || { cat "$TMP/verify.txt" >&2; die "vigil verify failed"; }
unzip -tq "$TMP/vigil.zip" >/dev/null || die "unzip -t failed"
unzip -p "$TMP/vigil.zip" "cam-$CAM.mp4" >"$TMP/cam.mp4"
d="$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$TMP/cam.mp4")"
python3 -c "import sys; sys.exit(0 if abs(float('$d') - ($TO - $FROM)) <= 2.5 else 1)" ||
  die "the package's MP4 lasts $d s, want $((TO - FROM))"
echo "  package: $(stat -c %s "$TMP/vigil.zip") bytes, MP4 $d s, $(tail -n 1 "$TMP/verify.txt" | cut -c1-60)..."
stop_vigil

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
vf="$(median "${V_FIRST[@]}")" vt="$(median "${V_TOTAL[@]}")" ht="$(median "${H_TOTAL[@]}")"
python3 - "$vf" "$vt" "$ht" "$FROM" "$TO" "$MINUTES" <<'EOF'
import sys
vf, vt, ht = map(float, sys.argv[1:4])
a, b, m = sys.argv[4:7]
print(f"signed package of {a}-{b} s of a {m}-minute recording (medians):")
print(f"  vigil export: first byte {vf*1000:.1f} ms, complete {vt:.3f} s")
print(f"  by hand (ffmpeg -c copy, sha256sum, zip -0): {ht:.3f} s")
print(f"  ratio by hand / vigil: {ht/vt:.2f}x")
EOF
