# bench/lib/fixture.sh - sourced by bench/export.sh and bench/package.sh:
# checks the tools and settings, writes a MINUTES-long recording of one
# camera (one-minute H.264 + AAC segments at BITRATE, encoded once by ffmpeg
# and laid out by tools/recfixture.c with Vigil's own fMP4 writer and the
# rows the recorder makes) into a fresh data folder, and leaves Vigil
# serving it on a free loopback port. Expects REPO, VIGIL_BIN, FIXTURE_BIN,
# MINUTES, FROM, TO, BITRATE, RUNS, PASSWORD and ME set, EXTRA_TOOLS
# optionally; sets TMP, DATA, PORT, API, TOKEN, ROOM, CAM, REC and
# defines die, jget, api, start_vigil, stop_vigil (cleanup on exit).
die() { echo "$ME: $*" >&2; exit 1; }
for tool in curl python3 ffmpeg ffprobe ${EXTRA_TOOLS:-}; do
  command -v "$tool" >/dev/null || { echo "$ME: $tool is not installed" >&2; exit 2; }
done
for v in MINUTES FROM TO BITRATE RUNS; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || { echo "$ME: $v must be a whole number" >&2; exit 2; }
done
[ "$TO" -gt "$FROM" ] && [ "$TO" -le $((MINUTES * 60)) ] || die "need FROM < TO <= MINUTES*60"
if [ ! -x "$VIGIL_BIN" ] || [ ! -x "$FIXTURE_BIN" ]; then
  make -C "$REPO" all >/dev/null
fi
[ -x "$VIGIL_BIN" ] || die "no server at $VIGIL_BIN"
[ -x "$FIXTURE_BIN" ] || die "no fixture tool at $FIXTURE_BIN"

TMP="$(mktemp -d "/tmp/vigil-${ME##*/}.XXXXXX")"
VIGIL_PID=""
cleanup() {
  [ -n "$VIGIL_PID" ] && kill "$VIGIL_PID" 2>/dev/null && wait "$VIGIL_PID" 2>/dev/null || true
  [ "${KEEP:-0}" = 1 ] && echo "$ME: kept $TMP" || rm -rf "$TMP"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
jget() { python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"; }
API=""
TOKEN=""
api() {
  local code
  code="$(curl -sS --max-time 30 -o "$TMP/api.body" -w '%{http_code}' -X "$1" \
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    ${3:+--data "$3"} "$API$2")" || die "$1 $2: no answer"
  case "$code" in
    2??) cat "$TMP/api.body" ;;
    *) die "$1 $2 answered $code: $(head -c 300 "$TMP/api.body")" ;;
  esac
}
start_vigil() {
  "$VIGIL_BIN" serve --data "$DATA" --bind 127.0.0.1 --http-port "$PORT" --https-port 0 \
    --media-port 0 --log-level warn >>"$TMP/vigil.log" 2>&1 &
  VIGIL_PID=$!
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null --max-time 1 "$API/health" 2>/dev/null && return 0
    sleep 0.1
  done
  tail -n 20 "$TMP/vigil.log" >&2
  die "vigil did not start"
}
stop_vigil() {
  kill -TERM "$VIGIL_PID"
  wait "$VIGIL_PID" || die "vigil did not exit 0 on SIGTERM"
  VIGIL_PID=""
}

# ---- the fixture ----
echo "$ME: encoding a one-minute clip (1280x720 25 fps, ${BITRATE} kbit/s H.264 + AAC)"
ffmpeg -v error -y -f lavfi -i "testsrc2=size=1280x720:rate=25" -f lavfi -i "sine=frequency=440:sample_rate=48000" \
  -t 60 -c:v libx264 -preset ultrafast -bf 0 -g 50 -b:v "${BITRATE}k" -minrate "${BITRATE}k" \
  -maxrate "${BITRATE}k" -bufsize "$((BITRATE * 2))k" -x264-params nal-hrd=cbr -c:a aac -b:a 128k \
  "$TMP/clip.mp4"
DATA="$TMP/data"
mkdir -p "$DATA"
PORT="$(free_port)"
API="http://127.0.0.1:$PORT/api/v1"
printf '%s\n' "$PASSWORD" | "$VIGIL_BIN" user add bench --role admin --password-stdin --data "$DATA" >>"$TMP/vigil.log" 2>&1
start_vigil
TOKEN="$(api POST /login "{\"username\":\"bench\",\"password\":\"$PASSWORD\"}" | jget 'j["access_token"]')"
ROOM="$(api POST /rooms '{"name":"bench"}' | jget 'j["id"]')"
CAM="$(api POST /cameras "{\"room_id\":$ROOM,\"name\":\"fixture\",\"url\":\"rtsp://127.0.0.1:9/none\",\"enabled\":false}" | jget 'j["id"]')"
stop_vigil
echo "$ME: writing $MINUTES one-minute segments with vigil-recfixture"
REC="$("$FIXTURE_BIN" "$DATA" "$ROOM" "$CAM" "$TMP/clip.mp4" "$MINUTES")"
start_vigil
TOKEN="$(api POST /login "{\"username\":\"bench\",\"password\":\"$PASSWORD\"}" | jget 'j["access_token"]')"
