#!/usr/bin/env bash
# bench/thumb.sh - keyframe thumbnails: Vigil's endpoint next to ffmpeg,
# same run, same recorded files, loopback only.
#
# Vigil records DURATION s of one simulated camera (1080p25 H.264 at about
# 4 Mbit/s, a keyframe every GOP frames). Then, for COUNT times spread over
# the recording, one after the other:
#   vigil         GET /api/v1/recordings/{id}/thumbnail.jpg?t=T&width=W, each
#                 (T, W) new, so nothing comes from the cache (curl's
#                 time_total: request, keyframe search, decode, scale, JPEG)
#   vigil-cached  the same URLs again (the cached JPEG file)
#   ffmpeg        `ffmpeg -ss OFFSET -noaccurate_seek -i SEGMENT -frames:v 1
#                 -vf scale=W:-2 -q:v 3 out.jpg` on the segment file holding
#                 T (the same keyframe: -noaccurate_seek stops at it, as Vigil
#                 does), one process per picture, as a script would
# and prints the median and mean milliseconds per picture and the ratio
# ffmpeg / vigil. Every picture on both sides is checked with ffprobe
# (mjpeg, W wide).
#
# Environment: DURATION (s, default 30), COUNT (default 20), GOP (frames,
# default 50), WIDTH HEIGHT FPS BITRATE (default 1920 1080 25 4000),
# VIGIL_BIN (default build/vigil), SIMCAM_BIN (default
# build/tools/vigil-simcam), both built by `make` when missing.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VIGIL_BIN="${VIGIL_BIN:-$REPO/build/vigil}"
SIMCAM_BIN="${SIMCAM_BIN:-$REPO/build/tools/vigil-simcam}"
DURATION="${DURATION:-30}"
COUNT="${COUNT:-20}"
GOP="${GOP:-50}"
WIDTH="${WIDTH:-1920}"
HEIGHT="${HEIGHT:-1080}"
FPS="${FPS:-25}"
BITRATE="${BITRATE:-4000}"
PASSWORD="pw12345678"
ME="bench/thumb.sh"

for tool in curl python3 ffmpeg ffprobe; do
  command -v "$tool" >/dev/null || { echo "$ME: $tool is not installed" >&2; exit 2; }
done
for v in DURATION COUNT GOP WIDTH HEIGHT FPS BITRATE; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || { echo "$ME: $v must be a positive integer" >&2; exit 2; }
done
if [ ! -x "$VIGIL_BIN" ] || [ ! -x "$SIMCAM_BIN" ]; then
  if [ "$VIGIL_BIN" = "$REPO/build/vigil" ]; then make -C "$REPO" >/dev/null; fi
fi
[ -x "$VIGIL_BIN" ] || { echo "$ME: no server at $VIGIL_BIN" >&2; exit 2; }
[ -x "$SIMCAM_BIN" ] || { echo "$ME: no simulated camera at $SIMCAM_BIN" >&2; exit 2; }

TMP="$(mktemp -d /tmp/vigil-bench-thumb.XXXXXX)"
VIGIL_PID="" SIMCAM_PID=""
cleanup() {
  [ -n "$VIGIL_PID" ] && kill -TERM "$VIGIL_PID" 2>/dev/null && wait "$VIGIL_PID" 2>/dev/null || true
  [ -n "$SIMCAM_PID" ] && kill -TERM "$SIMCAM_PID" 2>/dev/null && wait "$SIMCAM_PID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
jget() { python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"; }

# The camera.
"$SIMCAM_BIN" --port 0 --video h264 --width "$WIDTH" --height "$HEIGHT" --fps "$FPS" \
  --bitrate "$BITRATE" --gop "$GOP" --label bench >"$TMP/simcam.out" 2>"$TMP/simcam.err" &
SIMCAM_PID=$!
for _ in $(seq 100); do grep -q '^simcam ready' "$TMP/simcam.out" && break; sleep 0.1; done
CAM_URL="$(sed -n 's/^simcam ready \(rtsp:[^ ]*\)$/\1/p' "$TMP/simcam.out")"
[ -n "$CAM_URL" ] || { echo "$ME: the simulated camera did not start" >&2; cat "$TMP/simcam.err" >&2; exit 1; }

# The server, an admin, a room with the camera.
DATA="$TMP/data"
PORT="$(free_port)"
printf '%s\n' "$PASSWORD" | "$VIGIL_BIN" user add bench --role admin --password-stdin --data "$DATA" >/dev/null 2>"$TMP/useradd.err" \
  || { cat "$TMP/useradd.err" >&2; exit 1; }
"$VIGIL_BIN" serve --data "$DATA" --bind 127.0.0.1 --http-port "$PORT" --https-port 0 --media-port 0 \
  --log-level warn >"$TMP/vigil.log" 2>&1 &
VIGIL_PID=$!
API="http://127.0.0.1:$PORT/api/v1"
for _ in $(seq 100); do curl -fs -o /dev/null "$API/health" && break; sleep 0.1; done
TOKEN="$(curl -fsS "$API/login" -H 'Content-Type: application/json' \
  --data "{\"username\":\"bench\",\"password\":\"$PASSWORD\"}" | jget 'j["access_token"]')"
call() { curl -fsS -X "$1" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' ${3:+--data "$3"} "$API$2"; }
ROOM="$(call POST /rooms '{"name":"bench"}' | jget 'j["id"]')"
CAM="$(call POST /cameras "{\"room_id\":$ROOM,\"name\":\"cam\",\"url\":\"$CAM_URL\"}" | jget 'j["id"]')"
for _ in $(seq 300); do
  [ "$(call GET "/cameras/$CAM" | jget 'j["status"]')" = online ] && break
  sleep 0.1
done
REC="$(call POST "/rooms/$ROOM/record/start" '{"title":"bench"}' | jget 'j["recording_id"]')"
echo "recording $DURATION s of ${WIDTH}x${HEIGHT}@${FPS} H.264 ${BITRATE} kbit/s, a keyframe every $GOP frames"
sleep "$DURATION"
call POST "/rooms/$ROOM/record/stop" >/dev/null
for _ in $(seq 100); do
  call GET "/recordings/$REC" >"$TMP/rec.json"
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); s=[g for t in r["tracks"] for g in t["segments"]]; sys.exit(0 if s and all(g.get("sha256") for g in s) else 1)' "$TMP/rec.json" && break
  sleep 0.1
done

# The pictures, and the timings, in Python (curl and ffmpeg do the work).
python3 - "$TMP" "$API" "$TOKEN" "$REC" "$CAM" "$COUNT" "$DATA" <<'EOF'
import glob, json, os, statistics, subprocess, sys, time

tmp, api, token, rec_id, cam, count, data = sys.argv[1:8]
count = int(count)
rec = json.load(open(os.path.join(tmp, "rec.json")))
duration = rec["duration"]
spans = rec["spans"]
segs = sorted(glob.glob(os.path.join(data, "media", cam, "*", "*", "*", "*.mp4")))
starts = [int(os.path.basename(p)[:-4]) for p in segs]

def wall_of(t):
    acc = 0
    for s in spans:
        length = s["end"] - s["start"]
        if t * 1000 <= acc + length:
            return s["start"] + (t * 1000 - acc)
        acc += length
    return spans[-1]["end"]

def probe(path, width):
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width",
                          "-of", "csv=p=0", path], capture_output=True, text=True).stdout.strip()
    if out != f"mjpeg,{width}":
        sys.exit(f"bench/thumb.sh: {path}: ffprobe says {out!r}, want mjpeg,{width}")

times = [round((i + 0.5) * (duration - 1) / count, 3) for i in range(count)]
widths = [320 + 2 * i for i in range(count)]
vigil, cached, ffm = [], [], []
for rnd, bucket in (("vigil", vigil), ("cached", cached)):
    for i, (t, w) in enumerate(zip(times, widths)):
        out = os.path.join(tmp, f"{rnd}-{i}.jpg")
        r = subprocess.run(["curl", "-fsS", "-o", out, "-w", "%{time_total}", "-H", f"Authorization: Bearer {token}",
                            f"{api}/recordings/{rec_id}/thumbnail.jpg?t={t}&width={w}"], capture_output=True, text=True)
        if r.returncode:
            sys.exit(f"bench/thumb.sh: thumbnail t={t}: {r.stderr}")
        bucket.append(float(r.stdout) * 1000)
        probe(out, w)
for i, (t, w) in enumerate(zip(times, widths)):
    wall = wall_of(t)
    k = max([j for j, s in enumerate(starts) if s <= wall] or [0])
    offset = max(0.0, (wall - starts[k]) / 1000)
    out = os.path.join(tmp, f"ffmpeg-{i}.jpg")
    t0 = time.perf_counter()
    r = subprocess.run(["ffmpeg", "-v", "error", "-y", "-ss", f"{offset:.3f}", "-noaccurate_seek", "-i", segs[k],
                        "-frames:v", "1", "-vf", f"scale={w}:-2", "-q:v", "3", out], capture_output=True, text=True)
    ffm.append((time.perf_counter() - t0) * 1000)
    if r.returncode:
        sys.exit(f"bench/thumb.sh: ffmpeg t={t}: {r.stderr}")
    probe(out, w)

def line(name, xs):
    return f"{name:13s} median {statistics.median(xs):7.1f} ms  mean {statistics.mean(xs):7.1f} ms  ({len(xs)} pictures)"
print(line("vigil", vigil))
print(line("vigil-cached", cached))
print(line("ffmpeg", ffm))
print(f"ratio ffmpeg/vigil (median): {statistics.median(ffm) / statistics.median(vigil):.2f}; "
      f"ffmpeg/vigil-cached: {statistics.median(ffm) / statistics.median(cached):.2f}")
EOF
