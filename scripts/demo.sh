#!/usr/bin/env bash
# Vigil demo: two simulated cameras, the server on http://localhost:8080/,
# and on first run an admin and a "Demo room" with both cameras, made
# through the HTTP API. Ctrl-C stops everything. See docs/demo.md.
#
#   scripts/demo.sh            (what `make demo` runs after building)
#
# Environment: BUILD (build), PORT (8080), DEMO_DATA (.data/demo),
# CAM1_PORT (8554), CAM2_PORT (8555), DEMO_SIZE (960x540), DEMO_FPS (15).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
PORT=${PORT:-8080}
DATA=${DEMO_DATA:-.data/demo}
CAM1_PORT=${CAM1_PORT:-8554}
CAM2_PORT=${CAM2_PORT:-8555}
SIZE=${DEMO_SIZE:-960x540}
FPS=${DEMO_FPS:-15}
WIDTH=${SIZE%x*}
HEIGHT=${SIZE#*x}
VIGIL=$BUILD/vigil
SIMCAM=$BUILD/tools/vigil-simcam
API=http://127.0.0.1:$PORT/api/v1
LOGS=$DATA/logs

say() { printf 'demo: %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

[ -x "$VIGIL" ] || die "$VIGIL is missing: run make first"
[ -x "$SIMCAM" ] || die "$SIMCAM is missing: it needs gstreamer-rtsp-server-1.0 (scripts/deps.sh installs it), then make"
command -v curl >/dev/null || die "curl is missing"

mkdir -p "$DATA" "$LOGS"
pids=()

# Stop what this script started, newest first; what has not ended after
# STOP_SECONDS is killed.
STOP_SECONDS=10
stop_all() {
  trap - INT TERM EXIT
  local i pid
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for ((i = 0; i < STOP_SECONDS * 10; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      say "process $pid did not stop within $STOP_SECONDS s: killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
}
trap 'echo; say "stopping"; stop_all; exit 0' INT TERM
trap stop_all EXIT

# start_camera NAME PORT ARGS...: starts one, waits for its ready line and
# sets CAM_URL.
start_camera() {
  local name=$1 port=$2 log=$LOGS/$1.log pid i
  shift 2
  : >"$log"
  "$SIMCAM" --port "$port" --width "$WIDTH" --height "$HEIGHT" --fps "$FPS" --bitrate 1200 \
    --label "Vigil demo: $name" "$@" >"$log" 2>&1 &
  pid=$!
  pids+=("$pid")
  for ((i = 0; i < 100; i++)); do
    CAM_URL=$(sed -n 's/^simcam ready \(rtsp:[^ ]*\).*/\1/p' "$log" | head -n 1)
    [ -n "$CAM_URL" ] && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$log" >&2
  die "the camera $name did not start (port $port taken? set CAM1_PORT / CAM2_PORT)"
}

start_camera camera-1 "$CAM1_PORT" --video h264 --audio aac
CAM1_URL=$CAM_URL
start_camera camera-2 "$CAM2_PORT" --video h265 --audio pcma --user demo --password demo123
CAM2_URL=$CAM_URL
say "camera 1: $CAM1_URL (H.264 + AAC, ${WIDTH}x${HEIGHT} at $FPS fps)"
say "camera 2: $CAM2_URL (H.265 + G.711 A-law, user demo, password demo123)"

"$VIGIL" serve --data "$DATA" --http-port "$PORT" >"$LOGS/vigil.log" 2>&1 &
VIGIL_PID=$!
pids+=($VIGIL_PID)
for ((i = 0; ; i++)); do
  curl -fs "$API/health" >/dev/null 2>&1 && break
  if ! kill -0 "$VIGIL_PID" 2>/dev/null || [ "$i" -ge 150 ]; then
    cat "$LOGS/vigil.log" >&2
    die "vigil did not start (port $PORT taken? set PORT)"
  fi
  sleep 0.1
done

# json_get KEY: the first "KEY": string or number in the JSON on stdin.
json_get() {
  grep -o "\"$1\": *\"\{0,1\}[^\",}]*" | head -n 1 | sed 's/^[^:]*: *"\{0,1\}//'
}

# call METHOD PATH [BODY]: the answer body; fails on a non-2xx status.
call() {
  local out status
  out=$(curl -s -w '\n%{http_code}' -X "$1" "$API$2" -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' ${3:+--data "$3"})
  status=${out##*$'\n'}
  out=${out%$'\n'*}
  [ "${status:0:1}" = 2 ] || die "$1 $2 answered $status: $out"
  printf '%s' "$out"
}

if curl -fs "$API/setup" | grep -q '"needs_setup": *true'; then
  PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | cut -c1-16)
  answer=$(curl -fs -X POST "$API/setup" -H 'Content-Type: application/json' \
    --data "{\"username\":\"admin\",\"password\":\"$PASSWORD\"}") || die "first-run setup failed"
  TOKEN=$(printf '%s' "$answer" | json_get access_token)
  [ -n "$TOKEN" ] || die "no token in the setup answer: $answer"
  room=$(call POST /rooms '{"name":"Demo room","description":"Two simulated cameras from scripts/demo.sh"}')
  ROOM_ID=$(printf '%s' "$room" | json_get id)
  call POST /cameras "{\"room_id\":$ROOM_ID,\"name\":\"Camera 1 (H.264)\",\"url\":\"$CAM1_URL\"}" >/dev/null
  call POST /cameras "{\"room_id\":$ROOM_ID,\"name\":\"Camera 2 (H.265)\",\"url\":\"$CAM2_URL\",\"username\":\"demo\",\"password\":\"demo123\"}" >/dev/null
  call POST /logout >/dev/null || true
  cat <<EOF

  Vigil demo is running: http://localhost:$PORT/

  Sign in as   admin
  password     $PASSWORD      (shown only this once; the data lives in $DATA)

  "Demo room" has both cameras. Ctrl-C stops everything.

EOF
else
  cat <<EOF

  Vigil demo is running: http://localhost:$PORT/

  Sign in with the admin password printed when $DATA was first made
  (forgotten? stop, delete $DATA and run again). Ctrl-C stops everything.

EOF
fi

say "logs: $LOGS/"
wait "$VIGIL_PID" || status=$?
say "vigil exited (status ${status:-0}); see $LOGS/vigil.log"
exit "${status:-0}"
