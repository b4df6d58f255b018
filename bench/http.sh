#!/usr/bin/env bash
# bench/http.sh - HTTP throughput of Vigil next to Debian's nginx, same run,
# same machine, loopback only, about a minute in all.
#
# Vigil serves everything from one event loop, so nginx runs with
# worker_processes 1: one loop against one worker.
#
# Runs (wrk -t2 -c64 -d10s each, unless WRK_ARGS says otherwise):
#   small JSON   vigil GET /api/v1/health   vs nginx `return 200` of the same JSON
#   static file  vigil GET /index.html      vs nginx serving the same web/index.html
#
# Environment: VIGIL_BIN (default build/vigil, built when missing),
# WRK_ARGS (default "-t2 -c64 -d10s").
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VIGIL_BIN="${VIGIL_BIN:-$REPO/build/vigil}"
WRK_ARGS="${WRK_ARGS:--t2 -c64 -d10s}"
WEB_DIR="$REPO/web"
# shellcheck source=lib/nginx.sh
source "$REPO/bench/lib/nginx.sh"

for tool in wrk nginx curl python3; do
  command -v "$tool" >/dev/null || { echo "bench/http.sh: $tool is not installed (apt-get install $tool)" >&2; exit 2; }
done
[ -f "$WEB_DIR/index.html" ] || { echo "bench/http.sh: $WEB_DIR/index.html is missing" >&2; exit 2; }

if [ ! -x "$VIGIL_BIN" ]; then
  echo "== building the release binary ($VIGIL_BIN)"
  if [ -f "$REPO/Makefile" ]; then
    make -C "$REPO" >&2
  else
    [ -d "$REPO/build" ] || meson setup "$REPO/build" "$REPO" --buildtype=release >&2
    ninja -C "$REPO/build" vigil >&2
  fi
fi
[ -x "$VIGIL_BIN" ] || { echo "bench/http.sh: no binary at $VIGIL_BIN" >&2; exit 2; }

TMP="$(mktemp -d /tmp/vigil-bench.XXXXXX)"
VIGIL_PID=""
NGINX_PID=""
cleanup() {
  local rc=$?
  local pid
  for pid in $VIGIL_PID $NGINX_PID; do
    if kill "$pid" 2>/dev/null; then wait "$pid" 2>/dev/null || true; fi
  done
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_http() { # url, name
  local _
  for _ in $(seq 1 200); do
    if curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "bench/http.sh: $2 did not answer $1 within 20 s" >&2
  [ -f "$TMP/$2.log" ] && tail -n 30 "$TMP/$2.log" >&2
  exit 1
}

VPORT="$(free_port)"
NPORT="$(free_port)"

# ---- vigil ----
mkdir -p "$TMP/data"
"$VIGIL_BIN" serve --data "$TMP/data" --bind 127.0.0.1 --http-port "$VPORT" \
  --https-port 0 --media-port 0 --log-level warn >"$TMP/vigil.log" 2>&1 &
VIGIL_PID=$!
wait_http "http://127.0.0.1:$VPORT/api/v1/health" vigil

HEALTH_JSON="$(curl -fsS "http://127.0.0.1:$VPORT/api/v1/health")"

# ---- nginx: one worker, no access log, same file ----
# nginx's `return` takes a quoted string: escape backslashes and quotes
HEALTH_NGX="$(printf '%s' "$HEALTH_JSON" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"
nginx_config "$TMP/nginx" 1024 <<EOF
  tcp_nopush on;
  types { text/html html; application/javascript js mjs; text/css css; }
  server {
    listen 127.0.0.1:$NPORT;
    root $WEB_DIR;
    location = /api/v1/health {
      default_type application/json;
      return 200 "$HEALTH_NGX";
    }
  }
EOF
nginx -p "$TMP/nginx" -e "$TMP/nginx.log" -c "$TMP/nginx/nginx.conf" >"$TMP/nginx.out" 2>&1 &
NGINX_PID=$!
wait_http "http://127.0.0.1:$NPORT/index.html" nginx

# both must serve the very same bytes
if ! cmp -s <(curl -fsS "http://127.0.0.1:$VPORT/index.html") <(curl -fsS "http://127.0.0.1:$NPORT/index.html"); then
  echo "bench/http.sh: vigil and nginx serve different /index.html bodies" >&2
  exit 1
fi

# run_wrk URL NAME: sets NAME (requests/s, integer) and NAME_P99; fails on
# non-2xx answers or when wrk prints no rate.
run_wrk() {
  local out rps p99
  # shellcheck disable=SC2086
  out="$(timeout 60 wrk $WRK_ARGS --latency "$1")"
  echo "$out" >>"$TMP/wrk.log"
  if grep -q 'Non-2xx or 3xx responses' <<<"$out"; then
    echo "bench/http.sh: $1 answered non-2xx responses:" >&2
    echo "$out" >&2
    exit 1
  fi
  if grep -qE 'Socket errors: .*(read|write|timeout) [1-9]' <<<"$out"; then
    echo "bench/http.sh: warning, socket errors against $1:" >&2
    grep 'Socket errors' <<<"$out" >&2
  fi
  rps="$(awk '/^Requests\/sec:/ {printf "%d", $2}' <<<"$out")"
  p99="$(awk '$1=="99%" {print $2}' <<<"$out")"
  [ -n "$rps" ] || { echo "bench/http.sh: no Requests/sec from wrk for $1" >&2; echo "$out" >&2; exit 1; }
  printf -v "$2" '%s' "$rps"
  printf -v "$2_P99" '%s' "${p99:-?}"
}

ratio() { python3 -c "print(f'{$1/$2:.2f}' if $2 else 'n/a')"; }

SIZE="$(wc -c <"$WEB_DIR/index.html")"
echo "== vigil $("$VIGIL_BIN" version 2>/dev/null | head -n1 || true) vs $(nginx -v 2>&1 | sed 's/^nginx version: //')"
echo "== wrk $WRK_ARGS on loopback, $(nproc) CPUs; nginx worker_processes 1 (Vigil is one event loop: one worker against one loop)"

run_wrk "http://127.0.0.1:$VPORT/api/v1/health" V_H
run_wrk "http://127.0.0.1:$NPORT/api/v1/health" N_H
run_wrk "http://127.0.0.1:$VPORT/index.html" V_S
run_wrk "http://127.0.0.1:$NPORT/index.html" N_S

# vigil must still be alive and well after the load
kill -0 "$VIGIL_PID" 2>/dev/null || { echo "bench/http.sh: vigil died under load" >&2; tail -n 30 "$TMP/vigil.log" >&2; exit 1; }
curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$VPORT/api/v1/health"

echo "small JSON (GET /api/v1/health): vigil $V_H req/s (p99 $V_H_P99), nginx return-200 $N_H req/s (p99 $N_H_P99), ratio $(ratio "$V_H" "$N_H")"
echo "static file (GET /index.html, $SIZE bytes): vigil $V_S req/s (p99 $V_S_P99), nginx $N_S req/s (p99 $N_S_P99), ratio $(ratio "$V_S" "$N_S")"

# clean shutdown of vigil under SIGTERM
kill -TERM "$VIGIL_PID"
rc=0
wait "$VIGIL_PID" || rc=$?
VIGIL_PID=""
if [ "$rc" != 0 ]; then
  echo "bench/http.sh: vigil exited $rc after SIGTERM" >&2
  tail -n 30 "$TMP/vigil.log" >&2
  exit 1
fi
