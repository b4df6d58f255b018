#!/usr/bin/env bash
# bench/record.sh - recording cost of Vigil next to ffmpeg, same run, same
# machine, same camera, loopback only.
#
# A vigil-simcam serves a shared 1080p25 H.264 + AAC stream (encoded once,
# whatever the number of readers; a fresh one per side). For each N in COUNTS:
#   vigil   one `vigil serve`, one room with N cameras on the simcam URL, all
#           online, then record/start .. DURATION s .. record/stop
#   ffmpeg  N processes `ffmpeg -rtsp_transport tcp -i URL -c copy -f segment`
#           on the same URL, all writing, then DURATION s, then SIGINT
# and prints the recorders' CPU seconds per stream-minute (utime+stime from
# /proc, over the recording window; the simcam's CPU is never counted), their
# memory per stream, and checks that both sides wrote files of about the
# right length with every frame (ffprobe).
#
# Environment: DURATION (s, default 60), COUNTS (default "10 50"),
# WIDTH HEIGHT FPS BITRATE (default 1920 1080 25 4000 kbit/s; a lighter
# profile: WIDTH=1280 HEIGHT=720 BITRATE=2000), SIDES (default
# "vigil ffmpeg"; "ffmpeg" alone runs the peer half), VIGIL_BIN (default
# build/vigil), SIMCAM_BIN (default build/tools/vigil-simcam), both built by
# `make` when missing; START_TIMEOUT (s to get every camera online or every
# ffmpeg writing once all are added, default 60); STAGGER (s between two
# cameras joining, default 1).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VIGIL_BIN="${VIGIL_BIN:-$REPO/build/vigil}"
SIMCAM_BIN="${SIMCAM_BIN:-$REPO/build/tools/vigil-simcam}"
DURATION="${DURATION:-60}"
COUNTS="${COUNTS:-10 50}"
WIDTH="${WIDTH:-1920}"
HEIGHT="${HEIGHT:-1080}"
FPS="${FPS:-25}"
BITRATE="${BITRATE:-4000}"
SIDES="${SIDES:-vigil ffmpeg}"
START_TIMEOUT="${START_TIMEOUT:-60}"
# Seconds between two cameras joining (a Vigil camera added, an ffmpeg
# started). vigil-simcam's shared media stalls for good when tens of RTSP
# clients join it within a few hundred ms (every client then waits, nothing
# is encoded); 1 s apart, 50 join fine. Setup only: the measured window
# starts once every camera is online / every ffmpeg is writing.
STAGGER="${STAGGER:-1}"
PASSWORD="pw12345678"
ME="bench/record.sh"

die() { echo "$ME: $*" >&2; exit 1; }
for tool in curl python3 ffmpeg ffprobe getconf; do
  command -v "$tool" >/dev/null || { echo "$ME: $tool is not installed" >&2; exit 2; }
done
for v in DURATION FPS WIDTH HEIGHT BITRATE START_TIMEOUT; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || { echo "$ME: $v must be a positive integer" >&2; exit 2; }
done
[[ "$STAGGER" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "$ME: STAGGER must be a number of seconds" >&2; exit 2; }
for n in $COUNTS; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "$ME: COUNTS must be positive integers" >&2; exit 2; }
done
DO_VIGIL=0 DO_FFMPEG=0
for s in $SIDES; do
  case "$s" in
    vigil) DO_VIGIL=1 ;;
    ffmpeg) DO_FFMPEG=1 ;;
    *) echo "$ME: SIDES takes vigil and/or ffmpeg" >&2; exit 2 ;;
  esac
done

if [ ! -x "$VIGIL_BIN" ] || [ ! -x "$SIMCAM_BIN" ]; then
  echo "== building the release binaries (make)" >&2
  make -C "$REPO" >&2
fi
[ -x "$VIGIL_BIN" ] || { echo "$ME: no binary at $VIGIL_BIN" >&2; exit 2; }
[ -x "$SIMCAM_BIN" ] || { echo "$ME: no simulated camera at $SIMCAM_BIN (it needs gstreamer-rtsp-server-1.0: scripts/deps.sh)" >&2; exit 2; }

HZ="$(getconf CLK_TCK)"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/vigil-bench-record.XXXXXX")"
SIMCAM_PID=""
VIGIL_PID=""
SAMPLER_PID=""
FF_PIDS=()

# stop_pid PID SIGNAL SECONDS [NAME]: signal (none for "-": already sent), wait up
# to SECONDS, then SIGKILL. Returns the exit status of the process.
stop_pid() {
  local pid="$1" sig="$2" secs="$3" name="${4:-pid $1}" i rc=0
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || rc=$?; return "$rc"; }
  [ "$sig" = - ] || kill "-$sig" "$pid" 2>/dev/null || true
  for ((i = 0; i < secs * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    # a zombie child still answers kill -0: look at its state
    [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]; then
    echo "$ME: $name still running ${secs} s after SIG${sig/#-/INT}, killed" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || rc=$?
  return "$rc"
}

cleanup() {
  local rc=$?
  local pid
  trap - EXIT INT TERM
  [ -n "$SAMPLER_PID" ] && { stop_pid "$SAMPLER_PID" TERM 2 || true; }
  for pid in "${FF_PIDS[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
  for pid in "${FF_PIDS[@]}"; do stop_pid "$pid" - 10 || true; done
  [ -n "$VIGIL_PID" ] && { stop_pid "$VIGIL_PID" TERM 20 vigil || true; }
  [ -n "$SIMCAM_PID" ] && { stop_pid "$SIMCAM_PID" TERM 10 vigil-simcam || true; }
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
now() { date +%s.%N; }
calc() { python3 -c "import sys; print($1)"; }

# cpu_ticks PID...: utime+stime (clock ticks) summed over the processes
cpu_ticks() {
  local pid line rest sum=0
  for pid in "$@"; do
    line="$(cat "/proc/$pid/stat" 2>/dev/null)" || die "process $pid is gone"
    rest="${line##*) }"
    # shellcheck disable=SC2086
    set -- $rest
    sum=$((sum + ${12} + ${13}))
  done
  echo "$sum"
}
# status_kb PID FIELD: a kB field of /proc/PID/status (VmRSS, VmHWM)
status_kb() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"; }
# pss_kb PID: proportional set size (shared library pages split among users)
pss_kb() { awk '$1 == "Pss:" {print $2}' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
# machine_ticks: "busy total" jiffies over all CPUs
machine_ticks() { awk '$1 == "cpu" {t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t}' /proc/stat; }

# probe FILE...: "seconds video_frames codecs" over the files: seconds is
# the sum of each file's video span (first to last frame, plus one frame),
# not the container's duration, which counts the audio that ffmpeg keeps
# from before the first keyframe
probe() {
  python3 - "$FPS" "$@" <<'EOF'
import json, subprocess, sys
fps, files = float(sys.argv[1]), sys.argv[2:]
secs, frames, codecs = 0.0, 0, set()
def run(*args):
    out = subprocess.run(["ffprobe", "-v", "error", *args], capture_output=True, text=True, timeout=120)
    return out.stdout if out.returncode == 0 else ""
for f in files:
    j = json.loads(run("-show_entries", "stream=codec_name", "-of", "json", f) or "{}")
    codecs.update(s.get("codec_name", "?") for s in j.get("streams", []))
    pts = [float(t) for t in run("-select_streams", "v:0", "-show_entries", "packet=pts_time",
                                 "-of", "csv=p=0", f).split() if t.strip() not in ("", "N/A")]
    if pts:
        frames += len(pts)
        secs += max(pts) - min(pts) + 1 / fps
print(f"{secs:.2f} {frames} {'+'.join(sorted(codecs)) or 'none'}")
EOF
}

# rss_sampler PID FILE: VmRSS (kB) every second while PID lives
rss_sampler() {
  while kill -0 "$1" 2>/dev/null; do
    status_kb "$1" VmRSS >>"$2" 2>/dev/null || true
    sleep 1
  done
}

# ---- vigil API helpers ----
API=""
TOKEN=""
VIGIL_LOG=/dev/null
api_fail() { echo "$ME: $*" >&2; echo "-- the end of vigil's log:" >&2; tail -n 20 "$VIGIL_LOG" >&2; exit 1; }
# api METHOD PATH [JSON]: prints the body; fails unless 2xx
api() {
  local code
  code="$(curl -sS --max-time 30 -o "$TMP/api.body" -w '%{http_code}' -X "$1" \
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    ${3:+--data "$3"} "$API$2")" || api_fail "$1 $2: no answer (curl failed)"
  case "$code" in
    2??) cat "$TMP/api.body" ;;
    *) api_fail "$1 $2 answered $code: $(head -c 500 "$TMP/api.body")" ;;
  esac
}
# jget EXPR: a Python expression on the JSON `j` from standard input
# (quietly fails on an empty input: api already said why)
jget() { python3 -c "import json,sys; t=sys.stdin.read(); t.strip() or sys.exit(1); j=json.loads(t); print($1)"; }

wait_http() { # url, name, log
  local _
  for _ in $(seq 1 200); do
    if curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null; then return 0; fi
    kill -0 "$VIGIL_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "$ME: $2 did not answer $1 within 20 s" >&2
  tail -n 30 "$3" >&2
  exit 1
}

# ---- the simulated camera ----
# A fresh one for each side of each N: no side inherits the other's clients
# leaving the shared media (see STAGGER).
start_simcam() {
  "$SIMCAM_BIN" --port 0 --width "$WIDTH" --height "$HEIGHT" --fps "$FPS" --bitrate "$BITRATE" \
    --audio aac --shared --label "bench ${WIDTH}x${HEIGHT}" >"$TMP/simcam.out" 2>>"$TMP/simcam.log" &
  SIMCAM_PID=$!
  URL=""
  for _ in $(seq 1 100); do
    URL="$(awk '$1 == "simcam" && $2 == "ready" {print $3}' "$TMP/simcam.out")"
    [ -n "$URL" ] && break
    kill -0 "$SIMCAM_PID" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$URL" ] || { cat "$TMP/simcam.log" >&2; die "the simulated camera did not start"; }
}
# simcam_note: its CPU over the last 2 s; near 0 means its shared media
# stalled (seen when tens of clients join it), not that the recorder failed
simcam_note() {
  local a b
  a="$(cpu_ticks "$SIMCAM_PID" 2>/dev/null)" || { echo "the simcam is gone"; return; }
  sleep 2
  b="$(cpu_ticks "$SIMCAM_PID" 2>/dev/null)" || { echo "the simcam is gone"; return; }
  echo "the simcam used $(((b - a) * 100 / HZ / 2))% of a core over the last 2 s; near 0 it has stalled: retry, or raise STAGGER"
}
stop_simcam() {
  kill -0 "$SIMCAM_PID" 2>/dev/null || { tail -n 20 "$TMP/simcam.log" >&2; die "the simulated camera died during the run"; }
  # after many clients it may not exit on SIGTERM: then SIGKILL after 5 s
  stop_pid "$SIMCAM_PID" TERM 5 vigil-simcam 2>/dev/null || true
  SIMCAM_PID=""
}
start_simcam
# the stream must be what we think before anything is measured
SRC="$(ffprobe -v error -rtsp_transport tcp -show_entries stream=codec_name,width,height -of csv=p=0 "$URL" | sort | tr '\n' ' ')"
stop_simcam
echo "== $("$VIGIL_BIN" version 2>/dev/null | head -n1 || true) vs $(ffmpeg -version | head -n1 | awk '{print "ffmpeg " $3}'), $(nproc) CPUs, loopback"
echo "== camera: vigil-simcam, ${WIDTH}x${HEIGHT} ${FPS} fps H.264 ${BITRATE} kbit/s + AAC, shared (one encode); ffprobe: $SRC"
echo "== ${DURATION} s recording per side, COUNTS=\"$COUNTS\"; CPU and memory are the recorders' only (never the simcam's)"

FAILED=0
SUMMARY=()

# window_begin / window_end: simcam CPU and machine load over a window
window_begin() { W_T0="$(now)"; W_SC0="$(cpu_ticks "$SIMCAM_PID")"; read -r W_MB0 W_MT0 < <(machine_ticks); }
window_end() {
  local sc1 mb1 mt1
  W_T1="$(now)"
  sc1="$(cpu_ticks "$SIMCAM_PID")"
  read -r mb1 mt1 < <(machine_ticks)
  W_WALL="$(calc "$W_T1 - $W_T0")"
  W_SIMCAM="$(calc "round(100 * ($sc1 - $W_SC0) / $HZ / $W_WALL)")"
  W_BUSY="$(calc "round(100 * ($mb1 - $W_MB0) / max(1, $mt1 - $W_MT0))")"
}

# check_files SECONDS FRAMES LO HI: something recorded, LO..HI seconds long,
# every frame there; sets CHECK (a text) and CHECK_OK (0/1)
check_files() {
  local secs="$1" frames="$2" lo="$3" hi="$4" fps
  fps="$(calc "round($frames / $secs, 1) if $secs > 0 else 0")"
  CHECK_OK=1
  CHECK="${secs} s, $frames frames ($fps fps)"
  if [ "$frames" = 0 ] || [ "$(calc "int($secs <= 0)")" = 1 ]; then
    CHECK="$CHECK: NO MEDIA"
    CHECK_OK=0
    return
  fi
  if [ "$(calc "int($secs < $lo or $secs > $hi)")" = 1 ]; then
    CHECK="$CHECK: WRONG LENGTH (expected $lo..$hi s)"
    CHECK_OK=0
  fi
  if [ "$(calc "int($fps < 0.95 * $FPS)")" = 1 ]; then
    CHECK="$CHECK: FRAMES MISSING (the camera sends $FPS fps)"
    CHECK_OK=0
  else
    CHECK="$CHECK: ok"
  fi
}

# ---- vigil side: sets V_* ----
run_vigil() {
  local n="$1"
  local data="$TMP/vigil-$n" port log room ids=() i body online rec c0 c1 hwm base max tracks nonempty files cam1
  mkdir -p "$data"
  log="$TMP/vigil-$n.log"
  VIGIL_LOG="$log"
  port="$(free_port)"
  printf '%s\n' "$PASSWORD" | "$VIGIL_BIN" user add bench --role admin --password-stdin --data "$data" >>"$log" 2>&1 ||
    { tail -n 20 "$log" >&2; die "vigil user add failed"; }
  "$VIGIL_BIN" serve --data "$data" --bind 127.0.0.1 --http-port "$port" --https-port 0 \
    --media-port 0 --log-level warn >>"$log" 2>&1 &
  VIGIL_PID=$!
  API="http://127.0.0.1:$port/api/v1"
  TOKEN=""
  wait_http "$API/health" vigil "$log"
  TOKEN="$(api POST /login "{\"username\":\"bench\",\"password\":\"$PASSWORD\"}" | jget 'j["access_token"]')"
  room="$(api POST /rooms "{\"name\":\"bench $n\"}" | jget 'j["id"]')"
  base="$(status_kb "$VIGIL_PID" VmRSS)"
  for ((i = 1; i <= n; i++)); do
    ids+=("$(api POST /cameras "{\"room_id\":$room,\"name\":\"cam $i\",\"url\":\"$URL\"}" | jget 'j["id"]')")
    sleep "$STAGGER"
  done
  for ((i = 0; i < START_TIMEOUT * 2; i++)); do
    body="$(api GET "/rooms/$room")"
    online="$(jget 'sum(1 for c in j["cameras"] if c["status"] == "online")' <<<"$body")"
    [ "$online" = "$n" ] && break
    kill -0 "$VIGIL_PID" 2>/dev/null || { tail -n 30 "$log" >&2; die "vigil died while its cameras connected"; }
    sleep 0.5
  done
  if [ "$online" != "$n" ]; then
    jget "'\\n'.join('  camera %s: %s %s' % (c['id'], c['status'], c.get('error', '')) for c in j['cameras'] if c['status'] != 'online')" <<<"$body" >&2 || true
    die "vigil: only $online of $n cameras online after ${START_TIMEOUT} s ($(simcam_note))"
  fi
  sleep 2 # every camera past its first keyframe
  : >"$TMP/rss-$n"
  rss_sampler "$VIGIL_PID" "$TMP/rss-$n" &
  SAMPLER_PID=$!
  c0="$(cpu_ticks "$VIGIL_PID")"
  window_begin
  rec="$(api POST "/rooms/$room/record/start" '{"title":"bench"}' | jget 'j["recording_id"]')"
  sleep "$DURATION"
  api POST "/rooms/$room/record/stop" >/dev/null
  c1="$(cpu_ticks "$VIGIL_PID")"
  window_end
  status_kb "$VIGIL_PID" VmRSS >>"$TMP/rss-$n"
  stop_pid "$SAMPLER_PID" TERM 2 || true
  SAMPLER_PID=""
  hwm="$(status_kb "$VIGIL_PID" VmHWM)"
  max="$(sort -n "$TMP/rss-$n" | tail -n1)"
  V_CPU="$(calc "($c1 - $c0) / $HZ")"
  V_PER_MIN="$(calc "round($V_CPU / ($n * $W_WALL / 60), 3)")"
  V_MEM="$(calc "round(($max - $base) / 1024 / $n, 2)")"
  V_MEM_TXT="window max $(calc "round($max / 1024, 1)") MiB - $(calc "round($base / 1024, 1)") MiB before the cameras, VmHWM $(calc "round($hwm / 1024, 1)") MiB"
  V_SIMCAM="$W_SIMCAM" V_BUSY="$W_BUSY" V_WALL="$W_WALL"
  # what the server says it recorded, then the files themselves
  body="$(api GET "/recordings/$rec")"
  tracks="$(jget 'len(j.get("tracks", []))' <<<"$body")"
  nonempty="$(jget 'sum(1 for t in j.get("tracks", []) if (t.get("bytes") or 0) > 0)' <<<"$body")"
  files="$(find "$data/media" -name '*.mp4' -size +0 2>/dev/null | wc -l)"
  cam1="$(find "$data/media/${ids[0]}" -name '*.mp4' -size +0 2>/dev/null | sort)"
  # shellcheck disable=SC2086
  read -r V_SECS V_FRAMES V_CODECS < <(probe $cam1)
  check_files "$V_SECS" "$V_FRAMES" "$(calc "round(0.9 * $W_WALL, 1)")" "$(calc "round($W_WALL + 5, 1)")"
  V_FILES="$nonempty/$n tracks with bytes ($tracks tracks, $files files); camera 1: $V_CODECS, $CHECK"
  V_OK="$CHECK_OK"
  if [ "$nonempty" != "$n" ] || [ "$files" = 0 ]; then V_OK=0; fi
  local rc=0
  stop_pid "$VIGIL_PID" TERM 20 vigil || rc=$?
  VIGIL_PID=""
  if [ "$rc" != 0 ]; then
    echo "$ME: vigil exited $rc after SIGTERM" >&2
    tail -n 30 "$log" >&2
    FAILED=1
  fi
  rm -rf "$data"
}

# ff_start I DIR: (re)start ffmpeg number I (FF_PIDS[I-1])
ff_start() {
  ffmpeg -nostdin -loglevel error -rtsp_transport tcp -i "$URL" -c copy -f segment \
    -segment_time 60 -reset_timestamps 1 "$2/cam$1-%03d.mp4" >>"$2/ffmpeg$1.log" 2>&1 &
  FF_PIDS[$1 - 1]=$!
}

# ---- ffmpeg side: sets F_* ----
run_ffmpeg() {
  local n="$1"
  local dir="$TMP/ffmpeg-$n" t i pid started c0 c1 hwm_sum=0 hwm_max=0 pss_sum=0 h t_launch lo hi files cams rc
  mkdir -p "$dir"
  FF_RESTARTS=0
  FF_PIDS=()
  t_launch="$(now)"
  # one process per camera, STAGGER seconds apart (see STAGGER above); one
  # that exits before writing is started again, at most 3 times, as Vigil
  # reconnects a camera
  local tries=() dead
  for ((i = 1; i <= n; i++)); do
    ff_start "$i" "$dir"
    tries[i]=0
    sleep "$STAGGER"
  done
  # recording starts when every ffmpeg has written its first file's header
  for ((t = 0; t < START_TIMEOUT * 10; t++)); do
    started="$(find "$dir" -name 'cam*-000.mp4' | wc -l)"
    [ "$started" = "$n" ] && break
    for ((i = 1; i <= n; i++)); do
      pid="${FF_PIDS[i - 1]}"
      dead=0
      kill -0 "$pid" 2>/dev/null || dead=1
      [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && dead=1
      [ "$dead" = 1 ] || continue
      wait "$pid" 2>/dev/null || true
      [ -s "$dir/cam$i-000.mp4" ] && continue
      tries[i]=$((tries[i] + 1))
      if [ "${tries[i]}" -gt 3 ]; then
        cat "$dir/ffmpeg$i.log" >&2
        die "ffmpeg $i exited 4 times before writing"
      fi
      FF_RESTARTS=$((FF_RESTARTS + 1))
      ff_start "$i" "$dir"
    done
    sleep 0.1
  done
  [ "$started" = "$n" ] || die "ffmpeg: only $started of $n processes writing after ${START_TIMEOUT} s ($(simcam_note))"
  c0="$(cpu_ticks "${FF_PIDS[@]}")"
  window_begin
  sleep "$DURATION"
  c1="$(cpu_ticks "${FF_PIDS[@]}")"
  window_end
  for pid in "${FF_PIDS[@]}"; do
    h="$(status_kb "$pid" VmHWM)"
    hwm_sum=$((hwm_sum + h))
    [ "$h" -gt "$hwm_max" ] && hwm_max="$h"
    pss_sum=$((pss_sum + $(pss_kb "$pid")))
  done
  # one SIGINT each: ffmpeg closes its file cleanly (a second signal would not)
  for pid in "${FF_PIDS[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
  for pid in "${FF_PIDS[@]}"; do
    rc=0
    stop_pid "$pid" - 20 || rc=$?
    # 255: ffmpeg's status when a signal ended it
    case "$rc" in 0 | 255) ;; *) echo "$ME: an ffmpeg exited $rc" >&2; FAILED=1 ;; esac
  done
  FF_PIDS=()
  F_CPU="$(calc "($c1 - $c0) / $HZ")"
  F_PER_MIN="$(calc "round($F_CPU / ($n * $W_WALL / 60), 3)")"
  F_MEM="$(calc "round($hwm_sum / 1024 / $n, 2)")"
  F_MEM_TXT="VmHWM sum $(calc "round($hwm_sum / 1024, 1)") MiB, largest process $(calc "round($hwm_max / 1024, 1)") MiB, PSS sum $(calc "round($pss_sum / 1024, 1)") MiB"
  F_SIMCAM="$W_SIMCAM" F_BUSY="$W_BUSY" F_WALL="$W_WALL"
  files="$(find "$dir" -name 'cam*.mp4' -size +0 | wc -l)"
  cams="$(find "$dir" -name 'cam*-000.mp4' -size +0 | wc -l)"
  # the files run from the connection to SIGINT: the window plus the start-up
  lo="$(calc "round(0.9 * $W_WALL, 1)")"
  hi="$(calc "round($W_T1 - $t_launch + 5, 1)")"
  # shellcheck disable=SC2046
  read -r F_SECS F_FRAMES F_CODECS < <(probe $(find "$dir" -name 'cam1-*.mp4' -size +0 | sort))
  check_files "$F_SECS" "$F_FRAMES" "$lo" "$hi"
  F_FILES="$cams/$n cameras with files ($files files); camera 1: $F_CODECS, $CHECK"
  F_OK="$CHECK_OK"
  [ "$cams" = "$n" ] || F_OK=0
  rm -rf "$dir"
}

LIGHT="WIDTH=1280 HEIGHT=720 BITRATE=2000"
for n in $COUNTS; do
  echo
  echo "== N=$n"
  V_OK=1 F_OK=1
  if [ "$DO_VIGIL" = 1 ]; then
    start_simcam
    run_vigil "$n"
    stop_simcam
    echo "vigil  N=$n: CPU $V_PER_MIN s per stream-minute ($V_CPU s in $(calc "round($V_WALL, 1)") s)"
    echo "vigil  N=$n: memory $V_MEM MiB per stream ($V_MEM_TXT)"
    echo "vigil  N=$n: files: $V_FILES"
    echo "vigil  N=$n: simcam $V_SIMCAM% of one core, machine ${V_BUSY}% busy during the window"
    [ "$V_OK" = 1 ] || { echo "vigil  N=$n: FAILED: its recording is missing or wrong (see above)"; FAILED=1; }
  fi
  if [ "$DO_FFMPEG" = 1 ]; then
    start_simcam
    run_ffmpeg "$n"
    stop_simcam
    echo "ffmpeg N=$n: CPU $F_PER_MIN s per stream-minute ($F_CPU s in $(calc "round($F_WALL, 1)") s over $n processes; $FF_RESTARTS restarted before writing)"
    echo "ffmpeg N=$n: memory $F_MEM MiB per stream ($F_MEM_TXT)"
    echo "ffmpeg N=$n: files: $F_FILES"
    echo "ffmpeg N=$n: simcam $F_SIMCAM% of one core, machine ${F_BUSY}% busy during the window"
    [ "$F_OK" = 1 ] || { echo "ffmpeg N=$n: FAILED: its recording is missing or wrong (see above)"; FAILED=1; }
  fi
  # frames missing on a side whose files are otherwise there: the simcam
  # (or the machine) did not keep real time at this N
  for side in V F; do
    fr="${side}_FRAMES"; sc="${side}_SECS"
    [ -n "${!fr:-}" ] || continue
    if [ "$(calc "int(${!sc} > 0 and ${!fr} / ${!sc} < 0.95 * $FPS)")" = 1 ]; then
      echo "WARNING N=$n: ${FPS} fps not kept: the simcam at ${WIDTH}x${HEIGHT} could not keep real time next to $n recorders on $(nproc) CPUs; try a lighter profile: $LIGHT $ME"
      break
    fi
  done
  if [ "$DO_VIGIL" = 1 ] && [ "$DO_FFMPEG" = 1 ]; then
    ratio="$(calc "round($V_PER_MIN / $F_PER_MIN, 3) if $F_PER_MIN > 0 else float('nan')")"
    cpu_ok="$(calc "'met' if $ratio <= 0.2 else 'NOT met'")"
    mem_ok="$(calc "'yes' if $V_MEM <= 2 else 'NO'")"
    SUMMARY+=("N=$n: CPU s per stream-minute vigil $V_PER_MIN, ffmpeg $F_PER_MIN, ratio $ratio (target <= 0.2: $cpu_ok); memory per stream vigil $V_MEM MiB, ffmpeg $F_MEM MiB (vigil <= 2 MiB per stream: $mem_ok); files: vigil $([ "$V_OK" = 1 ] && echo ok || echo FAILED), ffmpeg $([ "$F_OK" = 1 ] && echo ok || echo FAILED)")
  fi
done

if [ "${#SUMMARY[@]}" -gt 0 ]; then
  echo
  echo "== summary (${WIDTH}x${HEIGHT} ${FPS} fps ${BITRATE} kbit/s, ${DURATION} s)"
  printf '%s\n' "${SUMMARY[@]}"
fi
[ "$FAILED" = 0 ] || exit 1
