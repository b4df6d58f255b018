/* test_recorder.c - the recorder against a real RTSP peer (vigil-simcam):
 * files on disk that ffprobe reads with the right codecs and duration,
 * starting on a keyframe, rolled, and hooks reporting every file. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app/recorder.h"
#include "base/clock.h"
#include "base/err.h"

typedef struct seg {
  int64_t id, camera_id, recording_id;
  char path[1200];
  int64_t start_ms;
  bool closed;
  vg_segfile_info info;
} seg;

typedef struct ctx {
  seg segs[64];
  int nsegs;
  int closed;
  vg_camera_status status;
  bool recorder_closed;
} ctx;

static int64_t on_opened(void *ud, int64_t camera_id, int64_t recording_id, const char *path,
                         int64_t start_ms) {
  ctx *x = ud;
  cr_assert_lt(x->nsegs, 64);
  seg *s = &x->segs[x->nsegs++];
  s->id = x->nsegs;
  s->camera_id = camera_id;
  s->recording_id = recording_id;
  snprintf(s->path, sizeof s->path, "%s", path);
  s->start_ms = start_ms;
  return s->id;
}

static void on_closed(void *ud, int64_t segment_id, int64_t camera_id, int64_t recording_id,
                      const vg_segfile_info *info) {
  ctx *x = ud;
  cr_assert(segment_id >= 1 && segment_id <= x->nsegs);
  seg *s = &x->segs[segment_id - 1];
  cr_assert_eq(s->camera_id, camera_id);
  cr_assert_eq(s->recording_id, recording_id);
  s->closed = true;
  s->info = *info;
  x->closed++;
}

static void on_status(void *ud, int64_t camera_id, vg_camera_status st, const char *reason) {
  ((ctx *)ud)->status = st;
}

static void recorder_closed(void *ud) { ((ctx *)ud)->recorder_closed = true; }

static pid_t simcam_pid;

static void simcam_start(char *url, size_t len) {
  const char *bin = getenv("VIGIL_SIMCAM");
  char path[1024];
  if (!bin) {
    char self[1024];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    cr_assert_gt(n, 0);
    self[n] = 0;
    *strrchr(self, '/') = 0;
    snprintf(path, sizeof path, "%s/../../tools/vigil-simcam", self);
    bin = path;
  }
  int fds[2];
  cr_assert_eq(pipe(fds), 0);
  simcam_pid = fork();
  if (simcam_pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    execl(bin, bin, "--port", "0", "--video", "h264", "--audio", "aac", "--width", "640",
          "--height", "360", "--fps", "15", "--gop", "15", (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  FILE *f = fdopen(fds[0], "r");
  char line[512] = {0};
  cr_assert_not_null(fgets(line, sizeof line, f), "simcam did not start (%s)", bin);
  fclose(f);
  char *u = strstr(line, "rtsp://");
  cr_assert_not_null(u, "unexpected simcam output: %s", line);
  u[strcspn(u, "\r\n")] = 0;
  snprintf(url, len, "%s", u);
}

static void simcam_stop(void) {
  if (simcam_pid > 0) {
    kill(simcam_pid, SIGTERM);
    waitpid(simcam_pid, NULL, 0);
    simcam_pid = 0;
  }
}

static void run_for(uv_loop_t *loop, int ms, bool *until) {
  uint64_t end = vg_mono_ms() + (uint64_t)ms;
  while (vg_mono_ms() < end && !(until && *until)) {
    uv_run(loop, UV_RUN_NOWAIT);
    usleep(5000);
  }
}

/* ffprobe's view of a file: "codec_name,codec_name duration". */
static void probe(const char *path, char *out, size_t len) {
  char cmd[1400];
  snprintf(cmd, sizeof cmd,
           "ffprobe -v error -show_entries stream=codec_name:format=duration -of "
           "default=nw=1:nk=1 '%s' 2>&1",
           path);
  FILE *p = popen(cmd, "r");
  cr_assert_not_null(p);
  size_t n = fread(out, 1, len - 1, p);
  out[n] = 0;
  cr_assert_eq(pclose(p), 0, "ffprobe failed on %s: %s", path, out);
}

/* A recorder on a simulated camera (id camera_id), online and with a GOP
 * for the pre-roll; files roll every roll_s. */
typedef struct rig {
  char dir[32];
  uv_loop_t loop;
  ctx x;
  vg_recorder *r;
} rig;

static void rig_up(rig *g, int roll_s, int64_t camera_id) {
  char url[256];
  simcam_start(url, sizeof url);
  snprintf(g->dir, sizeof g->dir, "/tmp/vg-rec-XXXXXX");
  cr_assert_not_null(mkdtemp(g->dir));
  uv_loop_init(&g->loop);
  memset(&g->x, 0, sizeof g->x);
  vg_recorder_hooks hooks = {&g->x, on_opened, on_closed, on_status, NULL, NULL};
  cr_assert_eq(vg_recorder_new(&g->loop, g->dir, roll_s, &hooks, &g->r), 0);
  vg_camera_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.id = camera_id;
  snprintf(cfg.url, sizeof cfg.url, "%s", url);
  cr_assert_eq(vg_recorder_add_camera(g->r, &cfg, false), 0);
  bool online = false;
  for (int i = 0; i < 200 && !online; i++) {
    run_for(&g->loop, 50, NULL);
    online = g->x.status == VG_CAMERA_ONLINE;
  }
  cr_assert(online, "the camera did not come online");
  run_for(&g->loop, 1500, NULL); /* a GOP for the pre-roll */
}

/* Waits for every file to close. */
static void rig_files_closed(rig *g) {
  bool never = false;
  for (int i = 0; i < 100 && g->x.closed < g->x.nsegs; i++) run_for(&g->loop, 20, &never);
}

static void rig_down(rig *g) {
  vg_recorder_close(g->r, recorder_closed, &g->x);
  run_for(&g->loop, 5000, &g->x.recorder_closed);
  cr_assert(g->x.recorder_closed);
  vg_recorder_free(g->r);
  uv_run(&g->loop, UV_RUN_DEFAULT);
  uv_loop_close(&g->loop);
  simcam_stop();
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", g->dir);
  cr_assert_eq(system(cmd), 0);
}

Test(recorder, records_a_real_camera_into_playable_files, .timeout = 90, .fini = simcam_stop) {
  rig g;
  rig_up(&g, 3, 7);
  ctx *x = &g.x;
  int64_t started = vg_now_ms();
  cr_assert_eq(vg_recorder_start(g.r, 7, 42, 0), 0);
  run_for(&g.loop, 7000, NULL);
  cr_assert_eq(vg_recorder_stop(g.r, 7), 0);
  int64_t stopped = vg_now_ms();
  rig_files_closed(&g);

  /* Rolled every 3 s: at least two files, all closed, contiguous. */
  cr_assert_geq(x->nsegs, 2, "expected the 7 s run to roll at 3 s, got %d file(s)", x->nsegs);
  cr_assert_eq(x->closed, x->nsegs);
  int64_t total_ms = 0;
  for (int i = 0; i < x->nsegs; i++) {
    seg *s = &x->segs[i];
    cr_assert_eq(s->recording_id, 42);
    cr_assert_eq(s->info.error, 0, "%s", s->info.error_msg);
    cr_assert_gt(s->info.frames, 0);
    cr_assert_eq(strlen(s->info.sha256), 64);
    char out[512];
    probe(s->path, out, sizeof out);
    cr_assert(strstr(out, "h264") && strstr(out, "aac"), "streams of %s: %s", s->path, out);
    /* The last line is the file's duration. */
    size_t ol = strlen(out);
    while (ol && out[ol - 1] == '\n') out[--ol] = 0;
    char *last = strrchr(out, '\n');
    double d = atof(last ? last + 1 : out);
    double indexed = (double)(s->info.end_ms - s->info.start_ms) / 1000.0;
    cr_assert(d > indexed - 0.3 && d < indexed + 0.3, "%s lasts %.2f s, index says %.2f s", s->path,
              d, indexed);
    total_ms += s->info.end_ms - s->info.start_ms;
    if (i > 0) cr_assert_leq(s->start_ms - x->segs[i - 1].info.end_ms, 200, "gap between files");
  }
  /* Pre-roll is at most one GOP (1 s) before the start. */
  cr_assert_geq(x->segs[0].start_ms, started - 1100);
  cr_assert_leq(x->segs[0].start_ms, started + 100);
  int64_t wanted = stopped - x->segs[0].start_ms;
  cr_assert(total_ms > wanted - 600 && total_ms < wanted + 600, "recorded %lld ms of %lld",
            (long long)total_ms, (long long)wanted);

  rig_down(&g);
}

/* Stopping and starting again within one GOP gives two files that both
 * begin on that GOP's keyframe: each gets its own name and both are
 * written whole (the second open used to fail on the first's name). */
Test(recorder, a_restart_within_one_gop_writes_both_files, .timeout = 60, .fini = simcam_stop) {
  rig g;
  rig_up(&g, 60, 8);
  ctx *x = &g.x;
  cr_assert_eq(vg_recorder_start(g.r, 8, 1, 0), 0);
  run_for(&g.loop, 200, NULL);
  cr_assert_eq(vg_recorder_stop(g.r, 8), 0);
  cr_assert_eq(vg_recorder_start(g.r, 8, 2, 0), 0);
  run_for(&g.loop, 1000, NULL);
  cr_assert_eq(vg_recorder_stop(g.r, 8), 0);
  rig_files_closed(&g);

  cr_assert_geq(x->nsegs, 2);
  cr_assert_eq(x->closed, x->nsegs);
  cr_assert_eq(x->segs[0].recording_id, 1);
  cr_assert_eq(x->segs[x->nsegs - 1].recording_id, 2);
  for (int i = 0; i < x->nsegs; i++) {
    seg *s = &x->segs[i];
    cr_assert_eq(s->info.error, 0, "file %d (%s): %s", i, s->path, s->info.error_msg);
    cr_assert_gt(s->info.frames, 0, "file %d is empty", i);
    for (int k = 0; k < i; k++) cr_assert_str_neq(s->path, x->segs[k].path);
    char out[512];
    probe(s->path, out, sizeof out);
    cr_assert(strstr(out, "h264"), "streams of %s: %s", s->path, out);
  }
  rig_down(&g);
}
