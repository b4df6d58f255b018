/* thumbs.c - GET /api/v1/recordings/{id}/thumbnail.jpg?camera=&t=&width=
 *
 * A JPEG of the keyframe at or before recording time t (seconds, pauses
 * left out, like marker times) of one camera of the recording. The store
 * is read on the loop (short queries); finding the keyframe, decoding it
 * and encoding the JPEG run in the libuv thread pool. Pictures are cached
 * in DATA/cache/thumbs/<segment id>-<keyframe ms>-<width>.jpg: every t
 * falling on the same keyframe shares one file, and a recorded segment
 * never changes, so the cache needs no invalidation; deleting a segment
 * deletes its pictures too (vg_media_unlink_segments). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/app.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "media/thumb.h"

#define THUMB_WIDTH_DEFAULT 320
/* A cached file larger than this is not ours: rebuild it. */
#define THUMB_CACHE_MAX (4u << 20)
/* A t this far past the recorded duration still means "the end". */
#define THUMB_SLACK_S 2.0
#define THUMB_CACHE_CONTROL "Cache-Control: private, max-age=86400\r\n"

typedef struct thumb_job {
  uv_work_t work;
  vg_req req;
  char addr[64];
  char seg_path[VG_MEDIA_PATH_MAX + 1];
  char cache_dir[VG_PATH_MAX + 32];
  int64_t seg_id;
  int64_t at_ms; /* from the segment's first frame */
  int width;
  int rc;
  vg_buf *jpeg;
} thumb_job;

static int read_small_file(const char *path, vg_buf **out) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return VG_ENOTFOUND;
  struct stat st;
  int rc = VG_EIO;
  if (fstat(fd, &st) == 0 && st.st_size > 0 && (uint64_t)st.st_size <= THUMB_CACHE_MAX) {
    vg_buf *b = vg_buf_new((size_t)st.st_size);
    rc = VG_ENOMEM;
    if (b) {
      size_t got = 0;
      while (got < b->len) {
        ssize_t n = read(fd, b->data + got, b->len - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
      }
      if (got == b->len) {
        *out = b;
        rc = 0;
      } else {
        vg_buf_unref(b);
        rc = VG_EIO;
      }
    }
  }
  close(fd);
  return rc;
}

/* Writes through a temporary name and a rename, so a reader never sees
 * half a picture. Failures only cost the cache. */
static void cache_store(const char *dir, const char *path, const vg_buf *b) {
  char parent[VG_PATH_MAX + 32];
  snprintf(parent, sizeof parent, "%s", dir);
  char *slash = strrchr(parent, '/');
  if (slash) {
    *slash = '\0';
    mkdir(parent, 0750);
  }
  mkdir(dir, 0750);
  char tmp[VG_PATH_MAX + 128];
  snprintf(tmp, sizeof tmp, "%s.%d.%p.tmp", path, (int)getpid(), (const void *)b);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0) return;
  bool ok = write(fd, b->data, b->len) == (ssize_t)b->len;
  ok = close(fd) == 0 && ok;
  if (!ok || rename(tmp, path) != 0) unlink(tmp);
}

static void thumb_work(uv_work_t *w) {
  thumb_job *job = w->data;
  vg_thumb_key key;
  job->rc = vg_thumb_locate(job->seg_path, job->at_ms, &key);
  if (job->rc) return;
  char path[VG_PATH_MAX + 96];
  snprintf(path, sizeof path, "%s/%" PRId64 "-%" PRId64 "-%d.jpg", job->cache_dir, job->seg_id,
           key.ms, job->width);
  if (read_small_file(path, &job->jpeg) == 0) return;
  job->rc = vg_thumb_jpeg(job->seg_path, &key, job->width, &job->jpeg);
  if (job->rc == 0) cache_store(job->cache_dir, path, job->jpeg);
}

static void thumb_done(uv_work_t *w, int status) {
  thumb_job *job = w->data;
  vg_req *r = &job->req;
  if (status != UV_ECANCELED && !vg_http_conn_closed(r->conn)) {
    if (job->rc == 0) {
      vg_http_respond(r->conn, 200, "image/jpeg", THUMB_CACHE_CONTROL, job->jpeg);
      job->jpeg = NULL;
    } else if (job->rc == VG_ENOTFOUND) {
      vg_api_error(r, 404, "not_found", "no picture of this camera at that time");
    } else {
      vg_log_warn("thumbnail: %s at %" PRId64 " ms: %s", job->seg_path, job->at_ms,
                  vg_strerror(job->rc));
      vg_api_error(r, 500, "internal", "the picture cannot be made: %s", vg_strerror(job->rc));
    }
  }
  if (job->jpeg) vg_buf_unref(job->jpeg);
  vg_http_conn_release(r->conn);
  free(job);
}

/* Reads a query number; false after answering 400. */
static bool query_number(vg_req *r, const char *key, double min, double max, double *out) {
  char v[32];
  if (vg_api_query(r, key, v, sizeof v) != 0) return true;
  char *end;
  errno = 0;
  double x = strtod(v, &end);
  if (!v[0] || *end || errno || !isfinite(x) || x < min || x > max) {
    vg_api_error(r, 400, "invalid_parameter", "%s must be a number from %g to %g", key, min, max);
    return false;
  }
  *out = x;
  return true;
}

/* The wall-clock time (UTC ms) of recording second t: spans laid end to
 * end, pauses left out; past the end, the end. */
static int64_t wall_of(const vg_span *spans, size_t n, double t, int64_t now) {
  int64_t want = (int64_t)llround(t * 1000.0), acc = 0, last = 0;
  for (size_t i = 0; i < n; i++) {
    int64_t end = spans[i].end_ms ? spans[i].end_ms : now;
    int64_t len = end > spans[i].start_ms ? end - spans[i].start_ms : 0;
    if (want <= acc + len) return spans[i].start_ms + (want - acc);
    acc += len;
    last = end;
  }
  return last;
}

void vg_thumbs_handle(vg_req *r, const vg_recording *rec) {
  if (!vg_req_is_get(r)) {
    vg_api_method_not_allowed(r, "GET");
    return;
  }
  vg_app *app = r->app;
  double camera = 0, t = 0, width = THUMB_WIDTH_DEFAULT;
  if (!query_number(r, "camera", 1, 9e15, &camera) || !query_number(r, "t", 0, 1e9, &t) ||
      !query_number(r, "width", VG_THUMB_WIDTH_MIN, VG_THUMB_WIDTH_MAX, &width))
    return;
  if (camera != floor(camera) || width != floor(width)) {
    vg_api_error(r, 400, "invalid_parameter", "camera and width must be whole numbers");
    return;
  }
  vg_track *tracks = NULL;
  size_t nt = 0;
  int64_t camera_id = (int64_t)camera;
  vg_store_track_list(app->store, rec->id, &tracks, &nt);
  bool known = false;
  for (size_t i = 0; i < nt && !known; i++) known = !camera_id || tracks[i].camera_id == camera_id;
  if (nt && !camera_id) camera_id = tracks[0].camera_id;
  free(tracks);
  if (!known) {
    if (camera_id)
      vg_api_error(r, 404, "not_found", "camera %" PRId64 " is not in this recording", camera_id);
    else
      vg_api_error(r, 404, "not_found", "this recording has no camera yet");
    return;
  }

  vg_span *spans = NULL;
  size_t ns = 0;
  vg_store_span_list(app->store, rec->id, &spans, &ns);
  int64_t now = vg_now_ms(), recorded = 0;
  for (size_t i = 0; i < ns; i++) {
    int64_t end = spans[i].end_ms ? spans[i].end_ms : now;
    if (end > spans[i].start_ms) recorded += end - spans[i].start_ms;
  }
  if (t > (double)recorded / 1000.0 + THUMB_SLACK_S) {
    free(spans);
    vg_api_error(r, 400, "invalid_parameter", "t %.3f is past the recording's %.3f s", t,
                 (double)recorded / 1000.0);
    return;
  }
  int64_t wall = wall_of(spans, ns, t, now);
  free(spans);

  vg_segment *segs = NULL;
  size_t ng = 0;
  vg_store_segment_list(app->store, rec->id, camera_id, &segs, &ng);
  const vg_segment *pick = NULL;
  for (size_t i = 0; i < ng; i++) {
    if (segs[i].start_ms <= wall || !pick) pick = &segs[i];
    if (segs[i].start_ms > wall) break;
  }
  if (!pick) {
    free(segs);
    vg_api_error(r, 404, "not_found", "no video of this camera was recorded");
    return;
  }
  thumb_job *job = calloc(1, sizeof *job);
  if (!job) {
    free(segs);
    vg_api_error(r, 500, "internal", "out of memory");
    return;
  }
  job->req = *r;
  job->req.http = NULL; /* the request head does not outlive the handler */
  snprintf(job->addr, sizeof job->addr, "%s", r->addr ? r->addr : "");
  job->req.addr = job->addr;
  job->work.data = job;
  snprintf(job->seg_path, sizeof job->seg_path, "%s", pick->path);
  snprintf(job->cache_dir, sizeof job->cache_dir, "%s/cache/thumbs", app->cfg.data_dir);
  job->seg_id = pick->id;
  job->at_ms = wall > pick->start_ms ? wall - pick->start_ms : 0;
  job->width = (int)width;
  free(segs);
  vg_http_conn_hold(r->conn);
  int rc = uv_queue_work(app->loop, &job->work, thumb_work, thumb_done);
  if (rc) {
    vg_log_error("thumbnail: cannot queue: %s", uv_strerror(rc));
    vg_api_error(r, 500, "internal", "cannot make the picture now");
    vg_http_conn_release(r->conn);
    free(job);
  }
}
