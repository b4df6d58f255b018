#!/usr/bin/env bash
# bench/live.sh - live fan-out: one 4 Mbit/s simulated camera watched by M
# WebSocket viewers on loopback, next to the loopback TCP limit measured by
# iperf3 in the same run (before and after the sweep; the ratio uses the
# better of the two: one 5 s sample can catch a busy moment).
#
# A vigil-simcam serves 1080p25 H.264 + AAC at BITRATE kbit/s. For each M
# (100, 500, 1000, then doubling while every viewer keeps up, at most
# MAX_VIEWERS) a fresh `vigil serve` gets one camera on the simcam URL, a
# live grant, and `vigil-liveclient` (tools/liveclient.c: M sockets, one
# epoll loop that reads and counts) opens M viewers of /live/{id} on the
# media port, waits WARMUP s and measures DURATION s. Printed per M:
# delivered bytes/s, the share of viewers that kept up (open to the end, no
# fragment skipped, at the newest fragment once what already sits in its
# socket is read: the server got every fragment to it in time; how many
# the client's one reading thread itself kept at the newest is printed
# too), the server's CPU over the
# window (utime+stime / wall) and peak RSS (VmHWM), and the server-added
# latency p50/p99: inside the server, from a fragment's creation to libuv
# reporting its last byte taken by the kernel, per viewer write
# (GET /live/stats). The client's own view, the spread of each fragment's
# arrival across viewers, is printed too. Doubling stops at the first M
# where not every viewer kept up; then the script bisects between it and
# the last good M (to BISECT_PCT percent, at most BISECT_STEPS runs) and
# takes the ratio to iperf3 at the largest M where all kept up.
#
# Environment: DURATION (s, default 10), WARMUP (s, default 3), COUNTS
# (default "100 500 1000"; doubling goes on after the last), MAX_VIEWERS
# (default 16000), WIDTH HEIGHT FPS BITRATE (default 1920 1080 25 4000),
# VIGIL_BIN (default build/vigil), SIMCAM_BIN (default
# build/tools/vigil-simcam), LIVECLIENT_BIN (default
# build/tools/vigil-liveclient), all built by `make` when missing; RCVBUF
# (each viewer's SO_RCVBUF, default 1048576: room for a keyframe, so the
# latency measured is the server's, not a small client window's; 0 leaves
# the kernel's autotuning), LIVE_THREADS (the server's live_threads; unset:
# its default, one sender thread per core; 0: fan-out on the main loop),
# BISECT_PCT (default 10), BISECT_STEPS (default 4).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VIGIL_BIN="${VIGIL_BIN:-$REPO/build/vigil}"
SIMCAM_BIN="${SIMCAM_BIN:-$REPO/build/tools/vigil-simcam}"
LIVECLIENT_BIN="${LIVECLIENT_BIN:-$REPO/build/tools/vigil-liveclient}"
DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-3}"
COUNTS="${COUNTS:-100 500 1000}"
MAX_VIEWERS="${MAX_VIEWERS:-16000}"
WIDTH="${WIDTH:-1920}"
HEIGHT="${HEIGHT:-1080}"
FPS="${FPS:-25}"
BITRATE="${BITRATE:-4000}"
RCVBUF="${RCVBUF:-1048576}"
BISECT_PCT="${BISECT_PCT:-10}"
BISECT_STEPS="${BISECT_STEPS:-4}"
PASSWORD="pw12345678"
ME="bench/live.sh"

die() { echo "$ME: $*" >&2; exit 1; }
for tool in curl python3 iperf3 ffprobe; do
  command -v "$tool" >/dev/null || { echo "$ME: $tool is not installed (scripts/deps.sh)" >&2; exit 2; }
done
for v in DURATION WARMUP FPS WIDTH HEIGHT BITRATE MAX_VIEWERS BISECT_PCT; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || { echo "$ME: $v must be a positive integer" >&2; exit 2; }
done
[[ "$BISECT_STEPS" =~ ^[0-9]+$ ]] || { echo "$ME: BISECT_STEPS must be a non-negative integer" >&2; exit 2; }
for n in $COUNTS; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "$ME: COUNTS must be positive integers" >&2; exit 2; }
done
if [ ! -x "$VIGIL_BIN" ] || [ ! -x "$SIMCAM_BIN" ] || [ ! -x "$LIVECLIENT_BIN" ]; then
  echo "== building the release binaries (make)" >&2
  make -C "$REPO" >&2
fi
[ -x "$VIGIL_BIN" ] || die "no binary at $VIGIL_BIN"
[ -x "$SIMCAM_BIN" ] || die "no simulated camera at $SIMCAM_BIN (it needs gstreamer-rtsp-server-1.0: scripts/deps.sh)"
[ -x "$LIVECLIENT_BIN" ] || die "no live client at $LIVECLIENT_BIN"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/vigil-bench-live.XXXXXX")"
SIMCAM_PID=""
VIGIL_PID=""
IPERF_PID=""

stop_pid() { # PID SECONDS: SIGTERM, wait, then SIGKILL; returns its status
  local pid="$1" secs="$2" i rc=0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < secs * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ] &&
    { echo "$ME: pid $pid still running ${secs} s after SIGTERM, killed" >&2; kill -KILL "$pid" 2>/dev/null || true; }
  wait "$pid" 2>/dev/null || rc=$?
  return "$rc"
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ -n "$IPERF_PID" ] && { stop_pid "$IPERF_PID" 3 || true; }
  [ -n "$VIGIL_PID" ] && { stop_pid "$VIGIL_PID" 20 || true; }
  [ -n "$SIMCAM_PID" ] && { stop_pid "$SIMCAM_PID" 5 || true; }
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
calc() { python3 -c "import sys; print($1)"; }
jget() { python3 -c "import json,sys; j=json.loads(sys.stdin.read()); print($1)"; }

# ---- the loopback limit ----
# iperf_once: one 5 s iperf3 run over loopback; prints bytes/s
iperf_once() {
  local iport
  iport="$(free_port)"
  iperf3 -s -1 -B 127.0.0.1 -p "$iport" >"$TMP/iperf-s.log" 2>&1 &
  IPERF_PID=$!
  sleep 0.5
  iperf3 -c 127.0.0.1 -p "$iport" -t 5 -J >"$TMP/iperf.json" 2>"$TMP/iperf.err" || die "iperf3 failed: $(cat "$TMP/iperf.err")"
  wait "$IPERF_PID" 2>/dev/null || true
  IPERF_PID=""
  jget 'j["end"]["sum_received"]["bits_per_second"] / 8' <"$TMP/iperf.json"
}
IPERF_BPS="$(iperf_once)"
IPERF_GBIT="$(calc "round($IPERF_BPS * 8 / 1e9, 2)")"

# ---- the camera ----
"$SIMCAM_BIN" --port 0 --width "$WIDTH" --height "$HEIGHT" --fps "$FPS" --bitrate "$BITRATE" \
  --audio aac --shared --label "bench live" >"$TMP/simcam.out" 2>"$TMP/simcam.log" &
SIMCAM_PID=$!
URL=""
for _ in $(seq 1 100); do
  URL="$(awk '$1 == "simcam" && $2 == "ready" {print $3}' "$TMP/simcam.out")"
  [ -n "$URL" ] && break
  kill -0 "$SIMCAM_PID" 2>/dev/null || break
  sleep 0.1
done
[ -n "$URL" ] || { cat "$TMP/simcam.log" >&2; die "the simulated camera did not start"; }
SRC="$(ffprobe -v error -rtsp_transport tcp -show_entries stream=codec_name,width,height -of csv=p=0 "$URL" | sort | tr '\n' ' ')"

echo "== $("$VIGIL_BIN" version 2>/dev/null | head -n1 || true), $(nproc) CPUs, loopback"
echo "== camera: vigil-simcam ${WIDTH}x${HEIGHT} ${FPS} fps H.264 ${BITRATE} kbit/s + AAC (ffprobe: $SRC)"
echo "== iperf3 loopback, one TCP stream, 5 s: ${IPERF_GBIT} Gbit/s ($(calc "round($IPERF_BPS / 1e6)") MB/s)"
echo "== viewers: vigil-liveclient, one epoll thread, SO_RCVBUF ${RCVBUF}"
echo "== per M: ${WARMUP} s warm-up, ${DURATION} s measured; latency = fragment made -> its last byte taken by the kernel (inside the server)"

# run_m M: one fresh server, one camera, M viewers; prints a line, sets ALL_KEPT and BPS
run_m() {
  local m="$1" data port mport token cam grant out
  data="$TMP/data-$m"
  mkdir -p "$data"
  port="$(free_port)"
  mport="$(free_port)"
  printf '%s\n' "$PASSWORD" | "$VIGIL_BIN" user add bench --role admin --password-stdin --data "$data" >"$TMP/user-$m.log" 2>&1 ||
    die "vigil user add failed: $(cat "$TMP/user-$m.log")"
  "$VIGIL_BIN" serve --data "$data" --bind 127.0.0.1 --http-port "$port" --https-port 0 \
    --media-port "$mport" --log-level warn --max-connections $((m + 100)) ${LIVE_THREADS:+--live-threads "$LIVE_THREADS"} \
    >"$TMP/vigil-$m.log" 2>&1 &
  VIGIL_PID=$!
  for _ in $(seq 1 200); do
    curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$port/api/v1/health" 2>/dev/null && break
    kill -0 "$VIGIL_PID" 2>/dev/null || die "vigil exited: $(tail -n 20 "$TMP/vigil-$m.log")"
    sleep 0.1
  done
  token="$(curl -fsS -H 'Content-Type: application/json' --data "{\"username\":\"bench\",\"password\":\"$PASSWORD\"}" \
    "http://127.0.0.1:$port/api/v1/login" | jget 'j["access_token"]')"
  local auth=(-H "Authorization: Bearer $token" -H 'Content-Type: application/json')
  local room
  room="$(curl -fsS "${auth[@]}" --data '{"name":"Bench"}' "http://127.0.0.1:$port/api/v1/rooms" | jget 'j["id"]')"
  cam="$(curl -fsS "${auth[@]}" --data "{\"room_id\":$room,\"name\":\"Cam\",\"url\":\"$URL\"}" \
    "http://127.0.0.1:$port/api/v1/cameras" | jget 'j["id"]')"
  for _ in $(seq 1 200); do
    [ "$(curl -fsS "${auth[@]}" "http://127.0.0.1:$port/api/v1/cameras/$cam" | jget 'j["status"]')" = online ] && break
    sleep 0.1
  done
  sleep 2 # a whole GOP for the catch-up
  grant="$(curl -fsS "${auth[@]}" "http://127.0.0.1:$port/api/v1/cameras/$cam/live" | jget 'j["grant"]')"
  out="$("$LIVECLIENT_BIN" --port "$mport" --path "/live/$cam?grant=$grant" --viewers "$m" \
    --seconds "$DURATION" --warmup "$WARMUP" --server-pid "$VIGIL_PID" \
    --stats "/live/stats?access_token=$token" --rcvbuf "$RCVBUF")" || die "vigil-liveclient failed at M=$m"
  echo "$out" >"$TMP/result-$m.json"
  [ -n "${LIVE_BENCH_RAW:-}" ] && echo "$out" >&2
  stop_pid "$VIGIL_PID" 20 || die "vigil did not exit 0 on SIGTERM at M=$m: $(tail -n 20 "$TMP/vigil-$m.log")"
  VIGIL_PID=""
  python3 - "$out" "$m" "$IPERF_BPS" "$DURATION" <<'EOF'
import json, sys
r = json.loads(sys.argv[1]); m = int(sys.argv[2]); iperf = float(sys.argv[3])
s = r.get("server_stats") or {}
lat = s.get("latency_us", {})
kept = r["kept_up"] / m
cpu = 100 * r["server_cpu_s"] / r["window_s"]
print(f"M={m} ({s.get('threads', 0)} sender threads): delivered {r['bytes_per_s'] / 1e6:.1f} MB/s ({r['bytes_per_s'] * 8 / 1e9:.2f} Gbit/s, "
      f"{r['bytes_per_s'] / iperf:.3f} x iperf3); kept up {r['kept_up']}/{m} ({100 * kept:.1f}%; "
      f"{r.get('read_up', 0)} also read to the newest by the client), "
      f"skipped {r['skipped']}, connected {r['connected']}; server CPU {cpu:.0f}% of a core, "
      f"peak RSS {r['server_hwm_kb'] / 1024:.1f} MiB; client CPU {100 * r['client_cpu_s'] / r['window_s']:.0f}%, "
      f"machine {100 * r['machine_busy']:.0f}% busy; server-added latency p50 {lat.get('p50', 0) / 1000:.2f} ms "
      f"p99 {lat.get('p99', 0) / 1000:.2f} ms (max {lat.get('max', 0) / 1000:.2f}, {lat.get('count', 0)} writes); "
      f"client arrival spread p50 {r['spread_us_p50'] / 1000:.2f} ms p99 {r['spread_us_p99'] / 1000:.2f} ms; "
      f"{r['fragments_in_window']} fragments in {r['window_s']:.1f} s")
EOF
  ALL_KEPT="$(jget "int(j['kept_up'] == $m)" <<<"$out")"
  BPS="$(jget "j['bytes_per_s']" <<<"$out")"
  P99="$(jget "(j.get('server_stats') or {}).get('latency_us', {}).get('p99', 0)" <<<"$out")"
}

LAST_ALL=0 LAST_ALL_BPS=0 P99_1000="" ALL_1000=""
m=0
for m in $COUNTS; do
  run_m "$m"
  [ "$ALL_KEPT" = 1 ] && { LAST_ALL="$m"; LAST_ALL_BPS="$BPS"; }
  [ "$m" = 1000 ] && { P99_1000="$P99"; ALL_1000="$ALL_KEPT"; }
done
while [ "$ALL_KEPT" = 1 ] && [ $((m * 2)) -le "$MAX_VIEWERS" ]; do
  m=$((m * 2))
  run_m "$m"
  [ "$ALL_KEPT" = 1 ] && { LAST_ALL="$m"; LAST_ALL_BPS="$BPS"; }
done
# Doubling knows the limit only to within a factor 2: bisect between the
# last M where all kept up and the first where not, down to BISECT_PCT
# percent of the good one (at most BISECT_STEPS more runs, M a multiple of 50).
if [ "$ALL_KEPT" != 1 ] && [ "$LAST_ALL" -gt 0 ] && [ "$m" -gt "$LAST_ALL" ]; then
  bad="$m" steps=0
  echo "== bisecting between M=$LAST_ALL (all kept up) and M=$bad (not all)"
  while [ $(((bad - LAST_ALL) * 100)) -gt $((LAST_ALL * BISECT_PCT)) ] && [ "$steps" -lt "$BISECT_STEPS" ]; do
    mid=$(((LAST_ALL + bad) / 2 / 50 * 50))
    [ "$mid" -le "$LAST_ALL" ] && break
    run_m "$mid"
    if [ "$ALL_KEPT" = 1 ]; then LAST_ALL="$mid" LAST_ALL_BPS="$BPS"; else bad="$mid"; fi
    steps=$((steps + 1))
  done
fi

# The same measurement again after the sweep: on a shared machine one 5 s
# sample can catch a busy moment (25-33 Gbit/s seen on the same machine
# within an hour), which would flatter the ratio; the limit is the better
# of the two.
IPERF_END_BPS="$(iperf_once)"
echo "== iperf3 loopback again after the sweep: $(calc "round($IPERF_END_BPS * 8 / 1e9, 2)") Gbit/s; the ratio below uses the higher figure"
IPERF_BPS="$(calc "max($IPERF_BPS, $IPERF_END_BPS)")"
IPERF_GBIT="$(calc "round($IPERF_BPS * 8 / 1e9, 2)")"

echo "== summary"
if [ -n "$ALL_1000" ]; then
  echo "every viewer keeps up at 1000: $([ "$ALL_1000" = 1 ] && echo yes || echo NO)"
  echo "p99 server-added latency at 1000: $(calc "round($P99_1000 / 1000, 2)") ms (target < 5 ms: $([ "$(calc "int($P99_1000 < 5000)")" = 1 ] && echo met || echo NOT met))"
fi
if [ "$LAST_ALL" -gt 0 ]; then
  RATIO="$(calc "round($LAST_ALL_BPS / $IPERF_BPS, 3)")"
  echo "largest M where all kept up: $LAST_ALL (the ratio is taken there), delivering $(calc "round($LAST_ALL_BPS * 8 / 1e9, 2)") Gbit/s = $RATIO x iperf3's ${IPERF_GBIT} Gbit/s (target >= 0.7: $([ "$(calc "int($RATIO >= 0.7)")" = 1 ] && echo met || echo NOT met))"
else
  echo "no M where every viewer kept up"
fi
