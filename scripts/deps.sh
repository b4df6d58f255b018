#!/usr/bin/env bash
# Installs what Vigil needs to build, run and test, when it is missing:
# Debian packages with apt-get, and the npm test tools with npm ci.
# Idempotent and quiet when everything is there already.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential meson ninja-build pkg-config clang libclang-rt-14-dev
  libuv1-dev libssl-dev libjansson-dev libsodium-dev libsqlite3-dev libpq-dev
  libcriterion-dev openssl curl ca-certificates
  libavformat-dev libavcodec-dev libavutil-dev libswresample-dev ffmpeg
  libgstrtspserver-1.0-dev libgstreamer1.0-dev gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly
  gstreamer1.0-libav gstreamer1.0-x
  nodejs npm chromium nginx-light wrk iperf3
)

missing=()
for p in "${packages[@]}"; do
  # nodejs/npm may come from elsewhere (NodeSource, nvm): a working command is enough.
  case "$p" in
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm) command -v npm >/dev/null 2>&1 && continue ;;
  esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "${1:-}" = "--npm" ]; then
  # node_modules is fresh when it was installed from this exact lock file.
  if [ ! -f node_modules/.package-lock.json ] || ! cmp -s <(sed -n '1,3p' package-lock.json) <(sed -n '1,3p' node_modules/.package-lock.json) || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "deps: npm ci"
    npm ci --no-audit --no-fund --loglevel=error >/dev/null
  fi
fi
