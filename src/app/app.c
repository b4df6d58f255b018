/* app.c - `vigil serve`: opens the store, starts the listeners and runs the
 * loop until SIGINT or SIGTERM, then shuts down in order (listeners and
 * connections first, then the store). */
#include "app/app.h"

#include "app/recorder.h"

#include <errno.h>
#include <sodium.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "app/playback.h"
#include "app/review.h"
#include "app/secrets.h"

#define HOUSEKEEPING_MS 60000

/* mkdir -p, then proves the folder is writable with a probe file. */
static int prepare_data_dir(const char *dir, char *err, size_t errlen) {
  char path[VG_PATH_MAX];
  snprintf(path, sizeof path, "%s", dir);
  for (char *p = path + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(path, 0750) != 0 && errno != EEXIST) {
      snprintf(err, errlen, "data folder %s: cannot create %s: %s", dir, path, strerror(errno));
      return VG_EIO;
    }
    *p = '/';
  }
  if (mkdir(path, 0750) != 0 && errno != EEXIST) {
    snprintf(err, errlen, "data folder %s: %s", dir, strerror(errno));
    return VG_EIO;
  }
  char probe[VG_PATH_MAX + 32];
  snprintf(probe, sizeof probe, "%s/.write-test", dir);
  int fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) {
    snprintf(err, errlen, "data folder %s is not writable: %s", dir, strerror(errno));
    return VG_EIO;
  }
  close(fd);
  unlink(probe);
  return 0;
}

int vg_app_open_store(const vg_config *cfg, vg_store **out) {
  char err[3 * VG_PATH_MAX];
  if (prepare_data_dir(cfg->data_dir, err, sizeof err)) {
    fprintf(stderr, "vigil: %s\n", err);
    return VG_EIO;
  }
  char url[VG_PATH_MAX + 16];
  if (cfg->database[0])
    snprintf(url, sizeof url, "%s", cfg->database);
  else
    snprintf(url, sizeof url, "%s/vigil.db", cfg->data_dir);
  int rc = vg_store_open(out, url, err, sizeof err);
  if (rc) fprintf(stderr, "vigil: store %s: %s\n", url, err);
  return rc;
}

static void housekeeping(uv_timer_t *t) {
  vg_app *app = t->data;
  int64_t now = vg_now_ms();
  vg_store_session_purge(app->store, now);
  vg_throttle_purge(app->throttle_user, now);
  vg_throttle_purge(app->throttle_addr, now);
  vg_playback_cache_sweep(app);
}

static void media_stopped(void *ud) {
  vg_app *app = ud;
  vg_retention_stop(app);
  uv_close((uv_handle_t *)&app->housekeeping, NULL);
  uv_close((uv_handle_t *)&app->sigint, NULL);
  uv_close((uv_handle_t *)&app->sigterm, NULL);
}

/* Connections are gone: now stop the cameras and close their files, so
 * the index is complete before the store closes. */
static void server_closed(void *ud) {
  vg_app *app = ud;
  if (app->recorder)
    vg_media_stop(app, media_stopped, app);
  else
    media_stopped(app);
}

static void on_signal(uv_signal_t *h, int signum) {
  vg_app *app = h->data;
  if (app->stopping) return;
  app->stopping = true;
  vg_log_info("signal %d: shutting down", signum);
  vg_http_server_close(app->http, server_closed, app);
}

/* The RTMP hook of the media listener: a connection that opened with an
 * RTMP handshake (0x03), plain or inside TLS. The RTMP server (a later
 * issue) takes it over here; until then it is ended cleanly. */
static void on_rtmp(vg_http_conn *c, const uint8_t *data, size_t len, void *ud) {
  vg_log_info("media: RTMP%s handshake from %s (%zu bytes): no RTMP server yet, closing",
              vg_http_conn_is_tls(c) ? "S" : "", vg_http_conn_peer(c), len);
  vg_http_conn_end(c);
}

static int listen_opts_or_explain(vg_app *app, int port, const vg_http_listen_opts *o, int *bound,
                                  const char *what) {
  int rc = vg_http_server_listen_opts(app->http, app->cfg.bind, port, o, bound);
  if (rc) {
    fprintf(stderr, "vigil: cannot listen for %s on %s:%d: %s\n", what, app->cfg.bind, port,
            uv_strerror(rc));
    return VG_EIO;
  }
  return 0;
}

static int listen_or_explain(vg_app *app, int port, vg_tls_ctx *tls, int redirect, int *bound,
                             const char *what) {
  int rc = vg_http_server_listen(app->http, app->cfg.bind, port, tls, redirect, bound);
  if (rc) {
    fprintf(stderr, "vigil: cannot listen for %s on %s:%d: %s\n", what, app->cfg.bind, port,
            uv_strerror(rc));
    return VG_EIO;
  }
  return 0;
}

int vg_app_serve(const vg_config *cfg) {
  vg_app app;
  memset(&app, 0, sizeof app);
  app.cfg = *cfg;
  vg_log_set_level(cfg->log_level);
  signal(SIGPIPE, SIG_IGN);
  uv_loop_t *loop = uv_default_loop();
  app.loop = loop;
  int exit_code = 1;
  char err[512];

  struct stat st;
  if (stat(cfg->web_dir, &st) != 0 || !S_ISDIR(st.st_mode))
    vg_log_warn("web folder %s not found: the browser UI will answer 404", cfg->web_dir);
  if (vg_app_open_store(cfg, &app.store)) return 1;
  if (vg_secret_key_load(cfg->data_dir, app.secret_key, err, sizeof err)) {
    fprintf(stderr, "vigil: %s\n", err);
    goto out;
  }
  bool tls_on = cfg->tls_cert[0] && cfg->https_port > 0;
  bool media_tls_on = cfg->tls_cert[0] && cfg->media_port > 0 && cfg->media_tls_port > 0;
  if ((tls_on || media_tls_on) && vg_tls_ctx_new(cfg->tls_cert, cfg->tls_key, &app.tls, err, sizeof err)) {
    fprintf(stderr, "vigil: %s\n", err);
    goto out;
  }
  vg_http_limits_cfg lim = {
      .max_header_bytes = (size_t)cfg->max_header_bytes,
      .max_body_bytes = (uint64_t)cfg->max_body_bytes,
      .header_timeout_ms = (uint64_t)cfg->header_timeout_ms,
      .idle_timeout_ms = (uint64_t)cfg->idle_timeout_ms,
      .send_stall_ms = (uint64_t)cfg->send_stall_ms,
      .max_connections = (size_t)cfg->max_connections,
      .ws_max_message = (size_t)cfg->ws_max_message,
  };
  if (vg_static_new(cfg->web_dir, &app.statics) || vg_events_new(&app, &app.events) ||
      vg_throttle_new(cfg->login_max_failures, cfg->login_window_s * 1000, &app.throttle_user) ||
      vg_throttle_new(cfg->login_max_failures_addr, cfg->login_window_s * 1000,
                      &app.throttle_addr) ||
      vg_http_server_new(loop, &lim, vg_api_dispatch, &app, &app.http)) {
    fprintf(stderr, "vigil: out of memory\n");
    goto out;
  }
  if (tls_on && listen_or_explain(&app, cfg->https_port, app.tls, 0, &app.https_port, "HTTPS"))
    goto close;
  if (cfg->http_port > 0 && listen_or_explain(&app, cfg->http_port, NULL,
                                              tls_on ? app.https_port : 0, &app.http_port, "HTTP"))
    goto close;
  /* The media listener: live video now; RTMP shares it, told apart by
   * the first bytes (net/sniff.h), and so does TLS when a certificate is
   * set. Its TLS twin sniffs again after the handshake. In the all-in-one
   * role both run the same handler as the web port. */
  vg_http_listen_opts media = {.sniff = true, .sniff_tls = app.tls, .on_rtmp = on_rtmp};
  if (cfg->media_port > 0 &&
      listen_opts_or_explain(&app, cfg->media_port, &media, &app.media_port, "media"))
    goto close;
  media.tls = app.tls;
  if (media_tls_on && listen_opts_or_explain(&app, cfg->media_tls_port, &media,
                                             &app.media_tls_port, "media over TLS"))
    goto close;
  if (!cfg->http_port && !tls_on) {
    fprintf(stderr, "vigil: no listener: set http_port, or https_port with tls_cert and tls_key\n");
    goto close;
  }

  if (vg_media_start(&app)) goto close;
  if (vg_retention_start(&app)) goto close;
  uv_timer_init(loop, &app.housekeeping);
  app.housekeeping.data = &app;
  uv_timer_start(&app.housekeeping, housekeeping, HOUSEKEEPING_MS, HOUSEKEEPING_MS);
  uv_signal_init(loop, &app.sigint);
  uv_signal_init(loop, &app.sigterm);
  app.sigint.data = app.sigterm.data = &app;
  uv_signal_start(&app.sigint, on_signal, SIGINT);
  uv_signal_start(&app.sigterm, on_signal, SIGTERM);

  const char *shown = strcmp(cfg->bind, "0.0.0.0") == 0 ? "localhost" : cfg->bind;
  if (app.http_port)
    printf("Vigil %s listening on http://%s:%d/\n", VIGIL_VERSION, shown, app.http_port);
  if (app.https_port)
    printf("Vigil %s listening on https://%s:%d/\n", VIGIL_VERSION, shown, app.https_port);
  if (app.media_port) printf("Live video on ws://%s:%d/live/{camera}\n", shown, app.media_port);
  if (app.media_tls_port)
    printf("Live video on wss://%s:%d/live/{camera}\n", shown, app.media_tls_port);
  int64_t users = 0;
  vg_store_user_count(app.store, &users);
  if (users == 0)
    printf(
        "No user yet: open the address above to create the first administrator,\n"
        "or run: vigil user add NAME --role admin --data %s\n",
        cfg->data_dir);
  fflush(stdout);
  uv_run(loop, UV_RUN_DEFAULT);
  exit_code = 0;
  goto out;

close:
  vg_http_server_close(app.http, NULL, NULL);
  uv_run(loop, UV_RUN_DEFAULT);
out:
  if (app.recorder) {
    vg_recorder_free(app.recorder); /* joins the writer thread */
    uv_run(loop, UV_RUN_DEFAULT);
  }
  vg_live_free(app.live);
  vg_playback_cache_free(&app);
  vg_http_server_free(app.http);
  vg_events_free(app.events);
  vg_static_free(app.statics);
  vg_throttle_free(app.throttle_user);
  vg_throttle_free(app.throttle_addr);
  if (app.tls) vg_tls_ctx_free(app.tls);
  vg_store_close(app.store);
  sodium_memzero(app.secret_key, sizeof app.secret_key);
  uv_loop_close(loop);
  if (exit_code == 0) vg_log_info("stopped");
  return exit_code;
}
