#!/usr/bin/env bash
# bench/export.sh - exporting 10 minutes out of a 1-hour recording: Vigil's
# MP4 endpoint next to `ffmpeg -ss -to -c copy` on the same segment files,
# same run, same machine, loopback only.
#
# The recording (MINUTES one-minute segments of H.264 + AAC at BITRATE) is
# written into a fresh data folder by tools/recfixture.c from one clip that
# ffmpeg encodes once (testsrc2 + a sine, 1280x720 25 fps, a keyframe every
# 2 s), with Vigil's own fMP4 writer and the rows the recorder makes, so it
# takes a minute instead of an hour. Then, with the segment files in the
# page cache for both sides, RUNS times each, alternating:
#   vigil   curl GET /api/v1/recordings/ID/media/CAM.mp4?from=FROM&to=TO
#           (time to first byte and to the last, curl -w)
#   ffmpeg  ffmpeg -ss FROM -to TO -i FULL.mp4 -c copy out.mp4, where
#           FULL.mp4 is the segments concatenated once beforehand with the
#           concat demuxer, as ffmpeg needs one file (timed apart, and
#           printed also added to the cut: what ffmpeg needs from the same
#           segment files); first byte = when the output file first has
#           bytes, polled every 2 ms
# and prints the medians and the ratios, after checking both outputs with
# ffprobe (duration TO-FROM, same codecs). Each run also repeats both with
# the output discarded (curl -o /dev/null, ffmpeg -f mp4 /dev/null), which
# leaves the client's disk writes out: then it is the export alone.
# With nginx installed, nginx then sends ffmpeg's finished cut (sendfile)
# to curl -o /dev/null RUNS times: the ceiling for moving those bytes over
# loopback HTTP, printed next to Vigil's figure.
#
# Then a seeking player: 20 successive Range requests (bytes=N-N+1MiB at
# random offsets, one keep-alive connection, Python's http.client) of the
# export URL and of the whole hour's URL, each range checked against the
# whole download, next to nginx serving ffmpeg's FULL.mp4 (a plain file,
# sendfile) with the same requests; prints the medians and the ratios.
#
# Environment: MINUTES (default 60), FROM / TO (s, default 1200 / 1800),
# BITRATE (video kbit/s, default 4000), RUNS (default 3), VIGIL_BIN
# (default build/vigil), FIXTURE_BIN (default build/tools/vigil-recfixture),
# both built by `make` when missing; KEEP=1 keeps the temporary folder.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VIGIL_BIN="${VIGIL_BIN:-$REPO/build/vigil}"
FIXTURE_BIN="${FIXTURE_BIN:-$REPO/build/tools/vigil-recfixture}"
MINUTES="${MINUTES:-60}"
FROM="${FROM:-1200}"
TO="${TO:-1800}"
BITRATE="${BITRATE:-4000}"
RUNS="${RUNS:-3}"
PASSWORD="pw12345678"
ME="bench/export.sh"

# shellcheck source=lib/fixture.sh
source "$REPO/bench/lib/fixture.sh"
# shellcheck source=lib/nginx.sh
source "$REPO/bench/lib/nginx.sh"
api GET "/recordings/$REC" | jget '"%s: %.0f s recorded, %d segments, %.1f MB" % (j["title"], j["duration"], len(j["tracks"][0]["segments"]), j["tracks"][0]["bytes"] / 1e6)'
find "$DATA/media" -name '*.mp4' | sort | sed "s/.*/file '&'/" >"$TMP/list.txt"
echo "$ME: concatenating the segments into one file for ffmpeg (timed apart)"
cat $(find "$DATA/media" -name '*.mp4') >/dev/null
c0="$(date +%s.%N)"
ffmpeg -v error -y -f concat -safe 0 -i "$TMP/list.txt" -c copy "$TMP/full.mp4"
CONCAT_S="$(python3 -c "print(round($(date +%s.%N) - $c0, 3))")"
# both sides read from the page cache
cat $(find "$DATA/media" -name '*.mp4') "$TMP/full.mp4" >/dev/null

URL="$API/recordings/$REC/media/$CAM.mp4?from=$FROM&to=$TO"
# vigil_run OUT, ffmpeg_run OUT: OUT a file, or /dev/null to leave the
# client's disk writes out of the figure.
# A run to a file starts after sync (not timed), so neither side pays for
# the writeback of the other's last 300 MB.
vigil_run() {
  [ "$1" = /dev/null ] || { rm -f "$1" && sync; }
  curl -sS --max-time 600 -o "$1" -H "Authorization: Bearer $TOKEN" \
    -w '%{http_code} %{time_starttransfer} %{time_total}\n' "$URL"
}
ffmpeg_run() {
  [ "$1" = /dev/null ] || { rm -f "$1" && sync; }
  python3 - "$TMP" "$FROM" "$TO" "$1" <<'EOF'
import os, subprocess, sys, time
tmp, a, b, out = sys.argv[1:5]
t0 = time.monotonic()
p = subprocess.Popen(["ffmpeg", "-v", "error", "-y", "-ss", a, "-to", b,
                      "-i", os.path.join(tmp, "full.mp4"), "-c", "copy", "-f", "mp4", out])
first = None
while p.poll() is None:
    if first is None and out != "/dev/null" and os.path.exists(out) and os.path.getsize(out) > 0:
        first = time.monotonic() - t0
    time.sleep(0.002)
total = time.monotonic() - t0
if first is None: first = total
print(p.returncode, f"{first:.6f}", f"{total:.6f}")
EOF
}

V_FIRST=() V_TOTAL=() F_FIRST=() F_TOTAL=() V_NULL=() F_NULL=()
for ((i = 1; i <= RUNS; i++)); do
  read -r code first total < <(vigil_run "$TMP/vigil.mp4")
  [ "$code" = 200 ] || die "vigil answered $code"
  V_FIRST+=("$first") V_TOTAL+=("$total")
  read -r code first total < <(ffmpeg_run "$TMP/ffmpeg.mp4")
  [ "$code" = 0 ] || die "ffmpeg exited $code"
  F_FIRST+=("$first") F_TOTAL+=("$total")
  read -r code _ vnull < <(vigil_run /dev/null)
  [ "$code" = 200 ] || die "vigil answered $code"
  read -r code _ fnull < <(ffmpeg_run /dev/null)
  [ "$code" = 0 ] || die "ffmpeg exited $code"
  V_NULL+=("$vnull") F_NULL+=("$fnull")
  echo "  run $i: to a file: vigil first byte ${V_FIRST[-1]} s, complete ${V_TOTAL[-1]} s;" \
    "ffmpeg first byte ${F_FIRST[-1]} s, complete ${F_TOTAL[-1]} s; output discarded: vigil $vnull s, ffmpeg $fnull s"
done

# ---- a seeking player: 20 Range requests of one URL ----
NPORT="$(free_port)"
nginx_config "$TMP/nginx" 64 <<EOF
  server { listen 127.0.0.1:$NPORT; root $TMP; }
EOF
NGINX_PID=""
if command -v nginx >/dev/null; then
  nginx -p "$TMP/nginx" -e "$TMP/nginx.log" -c "$TMP/nginx/nginx.conf" >"$TMP/nginx.out" 2>&1 &
  NGINX_PID=$!
else
  echo "$ME: nginx is not installed: the Range figures have no peer"
fi
code="$(curl -sS --max-time 600 -o "$TMP/whole.mp4" -H "Authorization: Bearer $TOKEN" \
  -w '%{http_code}' "$API/recordings/$REC/media/$CAM.mp4")"
[ "$code" = 200 ] || die "vigil answered the whole hour with $code"
python3 - "$API/recordings/$REC/media/$CAM.mp4?from=$FROM&to=$TO" "$TMP/vigil.mp4" \
  "$API/recordings/$REC/media/$CAM.mp4" "$TMP/whole.mp4" \
  "http://127.0.0.1:$NPORT/full.mp4" "$TMP/full.mp4" "$TOKEN" "${NGINX_PID:+yes}" <<'PY'
import http.client, random, statistics, sys, time, urllib.parse
exp_url, exp_file, whole_url, whole_file, ngx_url, ngx_file, token, have_nginx = sys.argv[1:9]
MIB = 1 << 20

def ranges(url, file, headers):
    data = open(file, "rb").read()
    u = urllib.parse.urlsplit(url)
    for _ in range(100):  # nginx may still be starting
        try:
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
            conn.connect()
            break
        except OSError:
            time.sleep(0.05)
    rnd = random.Random(20)
    times = []
    for _ in range(20):
        a = rnd.randrange(0, len(data) - MIB)
        t0 = time.monotonic()
        conn.request("GET", u.path + ("?" + u.query if u.query else ""),
                     headers={**headers, "Range": f"bytes={a}-{a + MIB - 1}"})
        r = conn.getresponse()
        body = r.read()
        times.append(time.monotonic() - t0)
        if r.status != 206 or body != data[a:a + MIB]:
            sys.exit(f"{url}: bytes {a}-{a + MIB - 1} answered {r.status}, wrong bytes")
    conn.close()
    return statistics.median(times), sum(times)

auth = {"Authorization": f"Bearer {token}"}
ve = ranges(exp_url, exp_file, auth)
vw = ranges(whole_url, whole_file, auth)
print("seeking: 20 Range requests of 1 MiB at random offsets, one keep-alive connection (median, total):")
line = lambda name, m: f"  {name} {m[0]*1000:.1f} ms, {m[1]*1000:.0f} ms"
if have_nginx:
    n = ranges(ngx_url, ngx_file, {})
    print(line("nginx, ffmpeg's full.mp4:      ", n))
    print(line("vigil, the export URL (10 min):", ve) + f" (vigil/nginx {ve[0]/n[0]:.1f}x)")
    print(line("vigil, the whole hour:         ", vw) + f" (vigil/nginx {vw[0]/n[0]:.1f}x)")
else:
    print(line("vigil, the export URL (10 min):", ve))
    print(line("vigil, the whole hour:         ", vw))
PY
# The ceiling for these bytes over loopback HTTP: nginx sending ffmpeg's
# finished 10-minute file with sendfile (no cut, no header to build),
# output discarded like vigil's second figure.
N_NULL=()
if [ -n "$NGINX_PID" ]; then
  for ((i = 1; i <= RUNS; i++)); do
    read -r code t < <(curl -sS --max-time 600 -o /dev/null -w '%{http_code} %{time_total}\n' \
      "http://127.0.0.1:$NPORT/ffmpeg.mp4")
    [ "$code" = 200 ] || die "nginx answered $code"
    N_NULL+=("$t")
  done
fi
if [ -n "$NGINX_PID" ]; then
  kill "$NGINX_PID" 2>/dev/null || true
  wait "$NGINX_PID" 2>/dev/null || true
fi

# Both outputs hold the asked-for 10 minutes.
for side in vigil ffmpeg; do
  d="$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$TMP/$side.mp4")"
  c="$(ffprobe -v error -show_entries stream=codec_name -of csv=p=0 "$TMP/$side.mp4" | tr '\n' ' ')"
  python3 -c "import sys; d=float('$d'); sys.exit(0 if abs(d - ($TO - $FROM)) <= 2.5 else 1)" ||
    die "$side output lasts $d s, want $((TO - FROM))"
  echo "  $side output: $(stat -c %s "$TMP/$side.mp4") bytes, $d s, codecs $c"
done
stop_vigil

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
vf="$(median "${V_FIRST[@]}")" vt="$(median "${V_TOTAL[@]}")"
ff="$(median "${F_FIRST[@]}")" ft="$(median "${F_TOTAL[@]}")"
vn="$(median "${V_NULL[@]}")" fn="$(median "${F_NULL[@]}")"
nn=0
[ "${#N_NULL[@]}" -gt 0 ] && nn="$(median "${N_NULL[@]}")"
python3 - "$vf" "$vt" "$ff" "$ft" "$FROM" "$TO" "$MINUTES" "$vn" "$fn" "$CONCAT_S" "$nn" <<'EOF'
import sys
vf, vt, ff, ft = map(float, sys.argv[1:5])
a, b, m = sys.argv[5:8]
vn, fn, cc, nn = map(float, sys.argv[8:12])
print(f"export {a}-{b} s of a {m}-minute recording (medians):")
print(f"  first byte: vigil {vf*1000:.1f} ms, ffmpeg {ff*1000:.1f} ms (ffmpeg/vigil {ff/vf:.1f}x); target < 50 ms: {'met' if vf < 0.05 else 'MISSED'}")
print(f"  complete, written to a file:  vigil {vt:.3f} s, ffmpeg {ft:.3f} s (ffmpeg/vigil {ft/vt:.1f}x); target >= 5x: {'met' if ft / vt >= 5 else 'MISSED'}")
print(f"  complete, output discarded:   vigil {vn:.3f} s, ffmpeg {fn:.3f} s (ffmpeg/vigil {fn/vn:.1f}x); target >= 5x: {'met' if fn / vn >= 5 else 'MISSED'}")
print(f"  ffmpeg from the segments themselves (concat {cc:.3f} s once + the cut): {cc + ft:.3f} s (ffmpeg/vigil {(cc + ft)/vt:.1f}x, both to a file)")
if nn > 0:
    print(f"  ceiling: nginx sending ffmpeg's finished cut (sendfile), output discarded: {nn:.3f} s (vigil/nginx {vn/nn:.2f}x)")
EOF
