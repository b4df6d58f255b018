/* test_camera.c - the RTSP camera session and the connection probe against
 * the simulated camera (tools/vigil-simcam): what an installer sees when
 * testing a camera, and what the live hub and recorder receive: params,
 * keyframe-first frames with monotonic time stamps, OFFLINE when the camera
 * dies, ONLINE again when it comes back, and a prompt stop.
 *
 * The simcam is found through $VIGIL_SIMCAM or next to this binary
 * (../../tools/vigil-simcam). Every simcam a test starts is killed by the
 * test (and by the kernel if the test dies: PR_SET_PDEATHSIG). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <libavutil/error.h>

#include "base/clock.h"
#include "base/err.h"
#include "ingest/camera.h"
#include "ingest/probe.h"

/* ---- the simulated camera ---- */

typedef struct simcam {
  pid_t pid;
  int port;
  char url[256];
} simcam;

static const char *simcam_path(void) {
  static char path[PATH_MAX];
  const char *env = getenv("VIGIL_SIMCAM");
  if (env && *env) return env;
  char self[PATH_MAX - 32];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return "vigil-simcam";
  self[n] = 0;
  char *slash = strrchr(self, '/');
  if (slash) *slash = 0;
  snprintf(path, sizeof path, "%s/../../tools/vigil-simcam", self);
  return path;
}

/* Starts a simcam with the given extra arguments (NULL-terminated) and
 * waits for its "simcam ready URL" line. */
static void simcam_start_args(simcam *s, int port, const char *const *extra) {
  const char *bin = simcam_path();
  cr_assert(access(bin, X_OK) == 0, "no simcam at %s (set VIGIL_SIMCAM)", bin);
  int fds[2];
  cr_assert(pipe(fds) == 0);
  char portarg[16];
  snprintf(portarg, sizeof portarg, "%d", port);
  const char *argv[40] = {bin, "--port", portarg};
  int argc = 3;
  for (int i = 0; extra && extra[i] && argc < 38; i++) argv[argc++] = extra[i];
  argv[argc] = NULL;
  pid_t pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) dup2(devnull, 2);
    execv(bin, (char *const *)argv);
    _exit(127);
  }
  close(fds[1]);
  s->pid = pid;
  char buf[512] = {0};
  size_t len = 0;
  uint64_t until = vg_mono_ms() + 10000;
  while (!strchr(buf, '\n') && vg_mono_ms() < until && len < sizeof buf - 1) {
    struct pollfd p = {.fd = fds[0], .events = POLLIN};
    if (poll(&p, 1, 100) <= 0) continue;
    ssize_t n = read(fds[0], buf + len, sizeof buf - 1 - len);
    if (n <= 0) break;
    len += (size_t)n;
  }
  close(fds[0]);
  const char *ready = strstr(buf, "simcam ready ");
  if (!ready) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    cr_assert_fail("simcam did not get ready: '%s'", buf);
  }
  sscanf(ready + 13, "%255s", s->url);
  const char *colon = strrchr(s->url + 7, ':');
  s->port = colon ? atoi(colon + 1) : 0;
}

static void simcam_kill(simcam *s) {
  if (s->pid > 0) {
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
  }
}

/* A port where nothing listens: bound once, then released. */
static int closed_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  cr_assert(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
  socklen_t l = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &l);
  close(fd);
  return ntohs(a.sin_port);
}

/* A black hole: a listening socket that never accepts nor answers, so the
 * client connects and then waits forever for the RTSP reply. */
static int black_hole(int *port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  cr_assert(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
  cr_assert(listen(fd, 8) == 0);
  socklen_t l = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &l);
  *port = ntohs(a.sin_port);
  return fd;
}

/* ---- probe ---- */

#define SMALL "--width", "320", "--height", "240"

Test(probe, h264_aac_ok, .timeout = 30) {
  simcam s;
  const char *args[] = {"--video", "h264",     "--audio", "aac", "--width",
                        "640",     "--height", "360",     NULL};
  simcam_start_args(&s, 0, args);
  vg_probe_result r;
  uint64_t t0 = vg_mono_ms();
  int rc = vg_probe_camera(s.url, NULL, NULL, false, 5000, &r);
  uint64_t took = vg_mono_ms() - t0;
  simcam_kill(&s);
  cr_assert_eq(rc, 0, "%s: %s", vg_probe_error_name(r.error), r.message);
  cr_assert_eq(r.error, VG_PROBE_OK);
  cr_assert_str_eq(r.video_codec, "h264");
  cr_assert_eq(r.width, 640);
  cr_assert_eq(r.height, 360);
  cr_assert_str_eq(r.audio_codec, "aac");
  cr_assert_gt(r.sample_rate, 0);
  cr_assert_str_eq(vg_probe_error_name(r.error), "ok");
  cr_log_info("probe took %llu ms: %s", (unsigned long long)took, r.message);
}

Test(probe, wrong_password_is_unauthorized, .timeout = 30) {
  simcam s;
  const char *args[] = {"--audio", "none", SMALL, "--user", "admin", "--password", "right", NULL};
  simcam_start_args(&s, 0, args);
  vg_probe_result r;
  int rc = vg_probe_camera(s.url, "admin", "wrong", false, 5000, &r);
  vg_probe_result ok;
  int rc_ok = vg_probe_camera(s.url, "admin", "right", false, 5000, &ok);
  simcam_kill(&s);
  cr_assert_eq(rc, VG_EIO);
  cr_assert_eq(r.error, VG_PROBE_UNAUTHORIZED, "%s: %s", vg_probe_error_name(r.error), r.message);
  cr_assert_str_eq(vg_probe_error_name(r.error), "unauthorized");
  cr_assert(strstr(r.message, "401"), "%s", r.message);
  cr_assert_eq(rc_ok, 0, "%s", ok.message);
}

Test(probe, wrong_path_is_not_found, .timeout = 30) {
  simcam s;
  const char *args[] = {"--audio", "none", SMALL, NULL};
  simcam_start_args(&s, 0, args);
  char url[300];
  snprintf(url, sizeof url, "rtsp://127.0.0.1:%d/no-such-stream", s.port);
  vg_probe_result r;
  int rc = vg_probe_camera(url, NULL, NULL, false, 5000, &r);
  simcam_kill(&s);
  cr_assert_eq(rc, VG_EIO);
  cr_assert_eq(r.error, VG_PROBE_NOT_FOUND, "%s: %s", vg_probe_error_name(r.error), r.message);
  cr_assert_str_eq(vg_probe_error_name(r.error), "not_found");
}

Test(probe, closed_port_is_unreachable, .timeout = 30) {
  char url[100];
  snprintf(url, sizeof url, "rtsp://127.0.0.1:%d/cam", closed_port());
  vg_probe_result r;
  uint64_t t0 = vg_mono_ms();
  int rc = vg_probe_camera(url, "u", "p", false, 3000, &r);
  cr_assert_eq(rc, VG_EIO);
  cr_assert_eq(r.error, VG_PROBE_UNREACHABLE, "%s: %s", vg_probe_error_name(r.error), r.message);
  cr_assert_lt(vg_mono_ms() - t0, 1000);
}

Test(probe, silent_server_is_timeout, .timeout = 30) {
  int port;
  int fd = black_hole(&port);
  char url[100];
  snprintf(url, sizeof url, "rtsp://127.0.0.1:%d/cam", port);
  vg_probe_result r;
  uint64_t t0 = vg_mono_ms();
  int rc = vg_probe_camera(url, NULL, NULL, false, 1000, &r);
  uint64_t took = vg_mono_ms() - t0;
  close(fd);
  cr_assert_eq(rc, VG_EIO);
  cr_assert_eq(r.error, VG_PROBE_TIMEOUT, "%s: %s", vg_probe_error_name(r.error), r.message);
  cr_assert(took >= 900 && took < 2000, "took %llu ms", (unsigned long long)took);
}

Test(probe, error_names) {
  cr_assert_str_eq(vg_probe_error_name(VG_PROBE_UNREACHABLE), "unreachable");
  cr_assert_str_eq(vg_probe_error_name(VG_PROBE_UNSUPPORTED), "unsupported");
  cr_assert_str_eq(vg_probe_error_name(VG_PROBE_TIMEOUT), "timeout");
  cr_assert_str_eq(vg_probe_error_name(VG_PROBE_PROTOCOL), "protocol");
}

/* ---- URL ---- */

Test(camera, url_credentials_percent_encoded) {
  char out[256];
  cr_assert_eq(vg_camera_build_url("rtsp://10.0.0.5:554/Streaming/101", "admin", "p@ss:w/rd%", out,
                                   sizeof out),
               0);
  cr_assert_str_eq(out, "rtsp://admin:p%40ss%3Aw%2Frd%25@10.0.0.5:554/Streaming/101");
  cr_assert_eq(vg_camera_build_url("rtsp://old:x@cam/a?b=c", "new user", "", out, sizeof out), 0);
  cr_assert_str_eq(out, "rtsp://new%20user@cam/a?b=c");
  cr_assert_eq(vg_camera_build_url("rtsp://u:p@cam/a", "", "", out, sizeof out), 0);
  cr_assert_str_eq(out, "rtsp://u:p@cam/a");
  cr_assert_eq(vg_camera_build_url("http://cam/a", "u", "p", out, sizeof out), VG_EINVAL);
  cr_assert_eq(vg_camera_build_url("rtsp://cam/a", "u", "p", out, 12), VG_ETOOBIG);
}

/* ---- sessions ---- */

#define MAX_STATUS 64

typedef struct watcher {
  vg_camera_status status[MAX_STATUS];
  char reason[MAX_STATUS][160];
  uint64_t status_at[MAX_STATUS];
  int nstatus;
  int nparams;
  vg_codec_params video, audio;
  bool have_audio;
  int frames[2];
  int64_t first_dts[2], last_dts[2];
  int64_t max_audio_step;
  uint64_t first_frame_at;
  int64_t last_wall;
  bool first_was_key;
  bool dts_ok, wall_ok;
  int frames_since_params;
  bool closed;
  uint64_t closed_at;
} watcher;

static vg_camera_status current(const watcher *w) {
  return w->nstatus ? w->status[w->nstatus - 1] : VG_CAMERA_CONNECTING;
}

static void on_status(void *ud, vg_camera_status s, const char *reason) {
  watcher *w = ud;
  if (w->nstatus < MAX_STATUS) {
    w->status[w->nstatus] = s;
    snprintf(w->reason[w->nstatus], sizeof w->reason[0], "%s", reason);
    w->status_at[w->nstatus] = vg_mono_ms();
    w->nstatus++;
  }
  cr_log_info("status %s %s", vg_camera_status_name(s), reason);
}

static void on_params(void *ud, const vg_codec_params *v, const vg_codec_params *a) {
  watcher *w = ud;
  w->nparams++;
  w->video = *v;
  w->have_audio = a != NULL;
  if (a) w->audio = *a;
  w->frames_since_params = 0;
}

static void on_frame(void *ud, vg_frame *f) {
  watcher *w = ud;
  int t = f->track;
  if (w->frames[0] + w->frames[1] == 0) {
    w->first_was_key = f->track == VG_TRACK_VIDEO && f->keyframe;
    w->first_frame_at = vg_mono_ms();
  }
  if (w->frames_since_params++ == 0 && !(f->track == VG_TRACK_VIDEO && f->keyframe))
    w->first_was_key = false; /* each connection starts on a keyframe */
  if (w->frames[t] == 0)
    w->first_dts[t] = f->dts;
  else if (f->dts <= w->last_dts[t])
    w->dts_ok = false;
  else if (t == VG_TRACK_AUDIO && f->dts - w->last_dts[t] > w->max_audio_step)
    w->max_audio_step = f->dts - w->last_dts[t];
  if (t == VG_TRACK_VIDEO) {
    if (f->wall_ms < w->last_wall) w->wall_ok = false;
    w->last_wall = f->wall_ms;
    /* length-prefixed NAL units that fill the payload exactly */
    size_t pos = 0;
    while (pos + 4 <= f->data->len) {
      const uint8_t *p = f->data->data + pos;
      pos += 4 + ((size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3]);
    }
    if (pos != f->data->len) w->dts_ok = false;
  }
  w->last_dts[t] = f->dts;
  w->frames[t]++;
  vg_buf_unref(f->data);
}

static void on_closed(void *ud) {
  watcher *w = ud;
  w->closed = true;
  w->closed_at = vg_mono_ms();
}

static const vg_camera_callbacks callbacks = {on_status, on_params, on_frame};

typedef bool (*cond_fn)(const watcher *w, const void *arg);

/* Runs the loop in this thread until cond holds or ms pass. */
static bool run_until(uv_loop_t *loop, watcher *w, cond_fn cond, const void *arg, int ms) {
  uint64_t until = vg_mono_ms() + (uint64_t)ms;
  while (vg_mono_ms() < until) {
    uv_run(loop, UV_RUN_NOWAIT);
    if (cond(w, arg)) return true;
    usleep(5000);
  }
  uv_run(loop, UV_RUN_NOWAIT);
  return cond(w, arg);
}

static bool is_status(const watcher *w, const void *arg) {
  return current(w) == *(const vg_camera_status *)arg;
}
static bool video_frames_at_least(const watcher *w, const void *arg) {
  return w->frames[VG_TRACK_VIDEO] >= *(const int *)arg;
}
static bool is_closed(const watcher *w, const void *arg) { return w->closed; }

static void watcher_init(watcher *w) {
  memset(w, 0, sizeof *w);
  w->dts_ok = w->wall_ok = true;
}

static void camera_config(vg_camera_config *cfg, const char *url, const char *user,
                          const char *pass) {
  memset(cfg, 0, sizeof *cfg);
  cfg->id = 7;
  snprintf(cfg->url, sizeof cfg->url, "%s", url);
  if (user) snprintf(cfg->username, sizeof cfg->username, "%s", user);
  if (pass) snprintf(cfg->password, sizeof cfg->password, "%s", pass);
  cfg->open_timeout_ms = 5000;
  cfg->read_timeout_ms = 2000;
  cfg->backoff_min_ms = 200;
  cfg->backoff_max_ms = 800;
}

static void stop_and_wait(uv_loop_t *loop, vg_camera *cam, watcher *w, uint64_t *took) {
  uint64_t t0 = vg_mono_ms();
  vg_camera_stop(cam, on_closed, w);
  cr_assert(run_until(loop, w, is_closed, NULL, 5000), "on_closed never ran");
  if (took) *took = w->closed_at - t0;
  cr_assert_eq(uv_loop_close(loop), 0, "handles left on the loop");
}

Test(camera, h265_pcma_session_reconnects, .timeout = 60) {
  const char *user = "operator", *pass = "s3cr@t:/%";
  simcam s;
  const char *args[] = {"--video", "h265",   "--audio", "pcma",       SMALL, "--fps",
                        "25",      "--user", user,      "--password", pass,  NULL};
  simcam_start_args(&s, 0, args);
  uv_loop_t loop;
  uv_loop_init(&loop);
  watcher w;
  watcher_init(&w);
  vg_camera_config cfg;
  camera_config(&cfg, s.url, user, pass);
  vg_camera *cam;
  uint64_t t0 = vg_mono_ms();
  cr_assert_eq(vg_camera_start(&loop, &cfg, &callbacks, &w, &cam), 0);

  vg_camera_status want = VG_CAMERA_ONLINE;
  bool online = run_until(&loop, &w, is_status, &want, 10000);
  if (!online) simcam_kill(&s);
  cr_assert(online, "not online within 10 s: %s %s", vg_camera_status_name(current(&w)),
            w.nstatus ? w.reason[w.nstatus - 1] : "");
  cr_log_info("online after %llu ms", (unsigned long long)(vg_mono_ms() - t0));
  cr_assert_eq(w.status[0], VG_CAMERA_CONNECTING);
  cr_assert_eq(w.nparams, 1);
  cr_assert_eq(w.video.codec, VG_CODEC_H265);
  cr_assert_eq(w.video.timescale, 90000);
  cr_assert_eq(w.video.width, 320);
  cr_assert_eq(w.video.height, 240);
  cr_assert_gt(w.video.extradata_len, 23);
  cr_assert_eq(w.video.extradata[0], 1, "hvcC configurationVersion");
  char codec[64];
  cr_assert_eq(vg_codec_string(&w.video, codec, sizeof codec), 0);
  cr_assert(strncmp(codec, "hvc1.", 5) == 0, "%s", codec);
  cr_assert(w.have_audio);
  cr_assert_eq(w.audio.codec, VG_CODEC_AAC);
  cr_assert_eq(w.audio.sample_rate, 16000);
  cr_assert_eq(w.audio.timescale, 16000);
  cr_assert_eq(w.audio.channels, 1);
  cr_assert_geq(w.audio.extradata_len, 2);

  int want_frames = 60; /* 2.4 s at 25 fps */
  cr_assert(run_until(&loop, &w, video_frames_at_least, &want_frames, 8000), "frames: %d",
            w.frames[0]);
  cr_assert(w.first_was_key, "the first frame is a keyframe");
  cr_assert(w.dts_ok, "dts monotonic, payload length-prefixed");
  cr_assert(w.wall_ok, "wall clock never backwards");
  cr_assert_geq(w.last_dts[0] - w.first_dts[0], 2 * 90000, "at least 2 s of video");
  cr_assert_gt(w.frames[1], 20, "audio frames: %d", w.frames[1]);
  /* Audio ends near where video ends: 16 kHz vs 90 kHz on one time line. */
  double vend = (double)w.last_dts[0] / 90000, aend = (double)w.last_dts[1] / 16000;
  cr_assert(aend > vend - 1.0 && aend < vend + 1.0, "video ends %.2f s, audio %.2f s", vend, aend);
  int64_t now = vg_now_ms();
  cr_assert(w.last_wall > now - 3000 && w.last_wall <= now + 100, "wall %lld vs now %lld",
            (long long)w.last_wall, (long long)now);
  vg_camera_stats st;
  vg_camera_get_stats(cam, &st);
  cr_assert(st.fps > 15 && st.fps < 35, "fps %.1f", st.fps);
  cr_assert_gt(st.bitrate_kbps, 10);
  cr_assert_gt(st.frames, 50);
  cr_assert_gt(st.bytes, 1000);
  cr_assert_eq(st.reconnects, 0);
  cr_log_info("fps %.1f, %.0f kbit/s", st.fps, st.bitrate_kbps);

  /* The camera dies. */
  int port = s.port;
  uint64_t killed = vg_mono_ms();
  simcam_kill(&s);
  want = VG_CAMERA_OFFLINE;
  cr_assert(run_until(&loop, &w, is_status, &want, cfg.read_timeout_ms + 1000),
            "not offline within read_timeout + 1 s");
  cr_log_info("offline %llu ms after the kill: %s", (unsigned long long)(vg_mono_ms() - killed),
              w.reason[w.nstatus - 1]);
  cr_assert_neq(w.reason[w.nstatus - 1][0], 0, "offline has a reason");
  int64_t last_dts_before = w.last_dts[0];

  /* It comes back on the same port. */
  simcam_start_args(&s, port, args);
  uint64_t restarted = vg_mono_ms();
  want = VG_CAMERA_ONLINE;
  online = run_until(&loop, &w, is_status, &want, 10000);
  if (!online) simcam_kill(&s);
  cr_assert(online, "not online again");
  cr_log_info("online again %llu ms after the restart",
              (unsigned long long)(vg_mono_ms() - restarted));
  cr_assert_eq(w.nparams, 2, "params again after the reconnect");
  int more = w.frames[0] + 10;
  cr_assert(run_until(&loop, &w, video_frames_at_least, &more, 5000));
  cr_assert(w.first_was_key && w.dts_ok && w.wall_ok);
  cr_assert_gt(w.last_dts[0], last_dts_before);
  vg_camera_get_stats(cam, &st);
  cr_assert_eq(st.reconnects, 1);
  char reason[64];
  cr_assert_eq(vg_camera_get_status(cam, reason, sizeof reason), VG_CAMERA_ONLINE);

  uint64_t took;
  int statuses = w.nstatus;
  stop_and_wait(&loop, cam, &w, &took);
  simcam_kill(&s);
  cr_assert_eq(w.nstatus, statuses, "no callback after stop");
  cr_assert_lt(took, 1000, "stop took %llu ms", (unsigned long long)took);
  cr_log_info("stopped in %llu ms", (unsigned long long)took);
}

Test(camera, h264_aac_passthrough, .timeout = 30) {
  simcam s;
  const char *args[] = {"--video", "h264", "--audio", "aac", SMALL, NULL};
  simcam_start_args(&s, 0, args);
  uv_loop_t loop;
  uv_loop_init(&loop);
  watcher w;
  watcher_init(&w);
  vg_camera_config cfg;
  camera_config(&cfg, s.url, NULL, NULL);
  vg_camera *cam;
  cr_assert_eq(vg_camera_start(&loop, &cfg, &callbacks, &w, &cam), 0);
  int want_frames = 25;
  bool ok = run_until(&loop, &w, video_frames_at_least, &want_frames, 10000);
  /* A frozen camera keeps its TCP connection open but sends nothing: the
   * read deadline, not the socket, declares it offline. */
  kill(s.pid, SIGSTOP);
  uint64_t frozen = vg_mono_ms();
  vg_camera_status want = VG_CAMERA_OFFLINE;
  bool offline = ok && run_until(&loop, &w, is_status, &want, cfg.read_timeout_ms + 1000);
  uint64_t offline_after = vg_mono_ms() - frozen;
  uint64_t took;
  stop_and_wait(&loop, cam, &w, &took);
  simcam_kill(&s);
  cr_assert(ok, "frames: %d", w.frames[0]);
  cr_assert(offline, "not offline within read_timeout + 1 s of freezing");
  cr_assert(strstr(w.reason[w.nstatus - 1], "no data"), "%s", w.reason[w.nstatus - 1]);
  cr_assert_geq(offline_after, (uint64_t)cfg.read_timeout_ms - 100);
  cr_log_info("frozen camera offline after %llu ms", (unsigned long long)offline_after);
  cr_assert_eq(w.video.codec, VG_CODEC_H264);
  cr_assert_eq(w.video.extradata[0], 1, "avcC configurationVersion");
  cr_assert(w.have_audio);
  cr_assert_eq(w.audio.codec, VG_CODEC_AAC);
  cr_assert_eq(w.audio.timescale, (uint32_t)w.audio.sample_rate);
  cr_assert_gt(w.frames[1], 10);
  cr_assert_eq(w.max_audio_step, 1024, "AAC frames 1024 samples apart");
  cr_assert(w.first_was_key && w.dts_ok && w.wall_ok);
  cr_assert_lt(took, 1000);
}

Test(camera, wrong_password_is_error_with_reason, .timeout = 30) {
  simcam s;
  const char *args[] = {"--audio", "none", SMALL, "--user", "admin", "--password", "right", NULL};
  simcam_start_args(&s, 0, args);
  uv_loop_t loop;
  uv_loop_init(&loop);
  watcher w;
  watcher_init(&w);
  vg_camera_config cfg;
  camera_config(&cfg, s.url, "admin", "wrong");
  vg_camera *cam;
  cr_assert_eq(vg_camera_start(&loop, &cfg, &callbacks, &w, &cam), 0);
  vg_camera_status want = VG_CAMERA_ERROR;
  bool ok = run_until(&loop, &w, is_status, &want, 5000);
  stop_and_wait(&loop, cam, &w, NULL);
  simcam_kill(&s);
  cr_assert(ok);
  cr_assert(strstr(w.reason[w.nstatus - 1], "401"), "%s", w.reason[w.nstatus - 1]);
  cr_assert_eq(w.frames[0], 0);
}

Test(camera, stop_is_prompt_while_connecting, .timeout = 30) {
  int port;
  int fd = black_hole(&port);
  char url[100];
  snprintf(url, sizeof url, "rtsp://127.0.0.1:%d/cam", port);
  uv_loop_t loop;
  uv_loop_init(&loop);
  watcher w;
  watcher_init(&w);
  vg_camera_config cfg;
  camera_config(&cfg, url, "u", "p");
  cfg.open_timeout_ms = 20000;
  vg_camera *cam;
  cr_assert_eq(vg_camera_start(&loop, &cfg, &callbacks, &w, &cam), 0);
  vg_camera_status want = VG_CAMERA_CONNECTING;
  run_until(&loop, &w, is_status, &want, 300);
  usleep(300000); /* the thread is blocked waiting for the RTSP answer */
  uint64_t t0 = vg_mono_ms();
  vg_camera_stop(cam, on_closed, &w);
  uint64_t returned = vg_mono_ms() - t0;
  cr_assert(run_until(&loop, &w, is_closed, NULL, 5000));
  uint64_t took = w.closed_at - t0;
  cr_assert_eq(uv_loop_close(&loop), 0);
  close(fd);
  cr_assert_lt(returned, 50);
  cr_assert_lt(took, 1000, "closed after %llu ms", (unsigned long long)took);
  cr_log_info("stop returned in %llu ms, closed in %llu ms", (unsigned long long)returned,
              (unsigned long long)took);
}

Test(camera, offline_with_reason_when_nothing_listens, .timeout = 30) {
  char url[100];
  snprintf(url, sizeof url, "rtsp://127.0.0.1:%d/cam", closed_port());
  uv_loop_t loop;
  uv_loop_init(&loop);
  watcher w;
  watcher_init(&w);
  vg_camera_config cfg;
  camera_config(&cfg, url, NULL, NULL);
  vg_camera *cam;
  cr_assert_eq(vg_camera_start(&loop, &cfg, &callbacks, &w, &cam), 0);
  vg_camera_status want = VG_CAMERA_OFFLINE;
  bool ok = run_until(&loop, &w, is_status, &want, 3000);
  usleep(1500000); /* several retries: the status is not repeated */
  uv_run(&loop, UV_RUN_NOWAIT);
  int n = w.nstatus;
  stop_and_wait(&loop, cam, &w, NULL);
  cr_assert(ok);
  cr_assert(strstr(w.reason[1], "refused"), "%s", w.reason[1]);
  cr_assert_eq(n, 2, "connecting, offline: %d statuses", n);
}

Test(probe, classify_maps_errors_an_installer_can_act_on) {
  char m[160];
  cr_assert_eq(vg_probe_classify(AVERROR(EHOSTUNREACH), false, 5000, "", m, sizeof m),
               VG_PROBE_UNREACHABLE);
  cr_assert_eq(vg_probe_classify(AVERROR(ENETUNREACH), false, 5000, "", m, sizeof m),
               VG_PROBE_UNREACHABLE);
  cr_assert_eq(vg_probe_classify(AVERROR(EIO), false, 5000,
                                 "Failed to resolve hostname cam.invalid: Name or service "
                                 "not known",
                                 m, sizeof m),
               VG_PROBE_UNREACHABLE);
  /* a generic code with the RTSP status only in FFmpeg's log line */
  cr_assert_eq(vg_probe_classify(AVERROR_INVALIDDATA, false, 5000,
                                 "method DESCRIBE failed: 401 Unauthorized", m, sizeof m),
               VG_PROBE_UNAUTHORIZED);
  cr_assert_eq(vg_probe_classify(AVERROR_INVALIDDATA, false, 5000,
                                 "method DESCRIBE failed: 404 Not Found", m, sizeof m),
               VG_PROBE_NOT_FOUND);
  cr_assert_eq(vg_probe_classify(AVERROR_EXIT, true, 1500, "", m, sizeof m), VG_PROBE_TIMEOUT);
  cr_assert(strstr(m, "1500 ms"), "%s", m);
  cr_assert_eq(vg_probe_classify(AVERROR(ETIMEDOUT), false, 5000, "", m, sizeof m),
               VG_PROBE_TIMEOUT);
  cr_assert_eq(vg_probe_classify(AVERROR_INVALIDDATA, false, 5000,
                                 "method SETUP failed: 461 Unsupported transport", m, sizeof m),
               VG_PROBE_PROTOCOL);
  cr_assert(strstr(m, "461"), "%s", m);
}

Test(camera, udp_transport, .timeout = 30) {
  simcam s;
  const char *args[] = {"--video", "h264", "--audio", "pcmu", SMALL, NULL};
  simcam_start_args(&s, 0, args);
  uv_loop_t loop;
  uv_loop_init(&loop);
  watcher w;
  watcher_init(&w);
  vg_camera_config cfg;
  camera_config(&cfg, s.url, NULL, NULL);
  cfg.udp = true;
  vg_camera *cam;
  cr_assert_eq(vg_camera_start(&loop, &cfg, &callbacks, &w, &cam), 0);
  int want_frames = 25;
  bool ok = run_until(&loop, &w, video_frames_at_least, &want_frames, 10000);
  stop_and_wait(&loop, cam, &w, NULL);
  simcam_kill(&s);
  cr_assert(ok, "frames: %d", w.frames[0]);
  cr_assert(w.first_was_key && w.dts_ok && w.wall_ok);
  cr_assert(w.have_audio);
  cr_assert_eq(w.audio.sample_rate, 16000);
}

/* Every playing TCP camera is read by one shared thread: two sessions on
 * one simcam both deliver, and stopping one (promptly) leaves the other
 * delivering, keyframe-first and in order. */
Test(camera, two_cameras_share_the_reader, .timeout = 60) {
  simcam s;
  const char *args[] = {"--video", "h264", "--audio", "aac", SMALL, NULL};
  simcam_start_args(&s, 0, args);
  uv_loop_t loop;
  uv_loop_init(&loop);
  watcher w1, w2;
  watcher_init(&w1);
  watcher_init(&w2);
  vg_camera_config c1, c2;
  camera_config(&c1, s.url, NULL, NULL);
  camera_config(&c2, s.url, NULL, NULL);
  c2.id = 8;
  vg_camera *cam1, *cam2;
  cr_assert_eq(vg_camera_start(&loop, &c1, &callbacks, &w1, &cam1), 0);
  cr_assert_eq(vg_camera_start(&loop, &c2, &callbacks, &w2, &cam2), 0);
  int want = 25;
  bool ok1 = run_until(&loop, &w1, video_frames_at_least, &want, 10000);
  bool ok2 = run_until(&loop, &w2, video_frames_at_least, &want, 10000);
  uint64_t t0 = vg_mono_ms();
  vg_camera_stop(cam1, on_closed, &w1);
  bool closed1 = run_until(&loop, &w1, is_closed, NULL, 5000);
  uint64_t took = w1.closed_at - t0;
  int more = w2.frames[VG_TRACK_VIDEO] + 25;
  bool goes_on = run_until(&loop, &w2, video_frames_at_least, &more, 10000);
  stop_and_wait(&loop, cam2, &w2, NULL);
  simcam_kill(&s);
  cr_assert(ok1 && ok2, "frames: %d and %d", w1.frames[0], w2.frames[0]);
  cr_assert(closed1, "the first camera did not close");
  cr_assert_lt(took, 1000, "stop took %llu ms", (unsigned long long)took);
  cr_assert(goes_on, "the second camera stopped with the first: %d frames", w2.frames[0]);
  cr_assert(w1.first_was_key && w1.dts_ok && w2.first_was_key && w2.dts_ok);
  cr_assert_eq(w2.nstatus, 2, "connecting, online, nothing else");
}
