# shellcheck shell=bash
# bench/lib/nginx.sh - the nginx peer of the benchmarks: one worker, no
# access log, sendfile, every temp path under DIR (so it runs unprivileged
# in a temporary folder).
#
# nginx_config DIR CONNECTIONS writes DIR/nginx.conf: the http block gets
# the lines read from standard input (the server block and any extras).
# Start it with: nginx -p DIR -e DIR.log -c DIR/nginx.conf
nginx_config() {
  local dir="$1" conns="$2" user=""
  [ "$(id -u)" = 0 ] && user="user root;"
  mkdir -p "$dir"
  {
    cat <<CONF
$user
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir.log warn;
events { worker_connections $conns; }
http {
  access_log off;
  sendfile on;
  keepalive_requests 1000000;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
CONF
    cat
    echo "}"
  } >"$dir/nginx.conf"
}
