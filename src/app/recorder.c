/* recorder.c - camera sessions in, segment files out.
 *
 * Per camera: the camera session (ingest/camera.c) delivers frames on the
 * loop; the recorder keeps the current GOP (references, no copies) and,
 * while the camera records, a "run": one fMP4 writer and one open segment
 * file. Fragments are cut before each keyframe and whenever a fragment
 * would span more than FRAGMENT_MAX_MS, so a crash loses at most that much.
 * Timestamps in a file start at zero: every track of a run is shifted by
 * the same time offset (the first video frame's), which keeps audio and
 * video in sync. */
#include "app/recorder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "base/log.h"
#include "media/fmp4.h"

#define FRAGMENT_MAX_MS 1000
#define GOP_MAX_FRAMES 4000

typedef struct run {
  vg_recorder *owner; /* for the close callback, which may outlive the cam */
  int64_t camera_id;
  vg_fmp4 *mux;
  vg_segfile *seg;
  int64_t seg_id;
  int64_t recording_id;
  int64_t start_ms;      /* wall clock of the file's first frame */
  int64_t frag_start_ms; /* wall clock of the first frame of the pending fragment */
  int64_t base_us;       /* the run's zero, in microseconds of stream time */
  int64_t last_dts[2];   /* last dts written per track, after shifting */
  int64_t end_ms;        /* wall clock just after the newest main-track frame */
} run;

typedef struct cam {
  struct cam *next;
  vg_recorder *r;
  int64_t id;
  vg_camera_config cfg;
  bool continuous;
  vg_camera *session;
  vg_camera_status status;
  char reason[256];
  bool has_video, has_audio;
  vg_codec_params video, audio;
  vg_frame *gop;
  size_t gop_len, gop_cap;
  bool gop_valid;     /* gop starts with a video keyframe */
  int64_t target;     /* -1 none, 0 continuous, > 0 a recording */
  int64_t not_before; /* a file may not begin with a frame older than this */
  int64_t last_name_ms; /* the newest file's name (see run_open) */
  run *run;
} cam;

struct vg_recorder {
  uv_loop_t *loop;
  char media_dir[1024];
  int roll_s;
  vg_recorder_hooks hooks;
  vg_segwriter *writer;
  cam *cams;
  size_t closing_sessions; /* camera sessions still shutting down */
  size_t closing_files;    /* segment files whose close has not completed */
  bool closing;
  void (*close_cb)(void *);
  void *close_ud;
};

static void maybe_closed(vg_recorder *r) {
  if (r->closing && r->closing_sessions == 0 && r->closing_files == 0 && r->close_cb) {
    void (*cb)(void *) = r->close_cb;
    r->close_cb = NULL;
    cb(r->close_ud);
  }
}

void vg_recorder_segment_path(const char *media_dir, int64_t camera_id, int64_t start_ms, char *out,
                              size_t outlen) {
  time_t t = (time_t)(start_ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  snprintf(out, outlen, "%s/%lld/%04d/%02d/%02d/%lld.mp4", media_dir, (long long)camera_id,
           tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, (long long)start_ms);
}

/* ---- the GOP buffer ---- */

static void gop_clear(cam *c) {
  for (size_t i = 0; i < c->gop_len; i++) vg_buf_unref(c->gop[i].data);
  c->gop_len = 0;
  c->gop_valid = false;
}

static void gop_push(cam *c, const vg_frame *f) {
  if (c->gop_len == GOP_MAX_FRAMES) {
    /* No keyframe for thousands of frames: the pre-roll would not decode. */
    gop_clear(c);
    return;
  }
  if (c->gop_len == c->gop_cap) {
    size_t cap = c->gop_cap ? c->gop_cap * 2 : 128;
    vg_frame *g = realloc(c->gop, cap * sizeof *g);
    if (!g) {
      gop_clear(c);
      return;
    }
    c->gop = g;
    c->gop_cap = cap;
  }
  c->gop[c->gop_len] = *f;
  vg_buf_ref(f->data);
  c->gop_len++;
}

/* ---- runs: one open file ---- */

static uint32_t track_timescale(const cam *c, int track) {
  return track == VG_TRACK_VIDEO ? c->video.timescale : c->audio.timescale;
}

static void file_closed(void *ud, const vg_segfile_info *info) {
  run *rn = ud;
  vg_recorder *r = rn->owner;
  if (r->hooks.segment_closed)
    r->hooks.segment_closed(r->hooks.ud, rn->seg_id, rn->camera_id, rn->recording_id, info);
  r->closing_files--;
  free(rn);
  maybe_closed(r);
}

/* Writes the pending samples as one fragment into the run's file. */
static void run_cut(cam *c) {
  run *rn = c->run;
  vg_fmp4_parts parts;
  vg_fmp4_info info;
  /* in parts: the writer gathers the frames' own buffers, nothing copied */
  if (vg_fmp4_fragment_parts(rn->mux, &parts, &info) != 0) return;
  if (vg_segfile_append_parts(rn->seg, &parts, rn->end_ms, info.frames) != 0)
    vg_log_error("recorder: camera %lld: the disk is not keeping up, fragment dropped",
                 (long long)c->id);
  rn->frag_start_ms = -1;
}

static void run_close(cam *c) {
  run *rn = c->run;
  if (!rn) return;
  run_cut(c);
  c->run = NULL;
  vg_fmp4_free(rn->mux);
  rn->mux = NULL;
  c->r->closing_files++;
  vg_segfile_close(rn->seg, file_closed, rn);
}

/* One frame interval at the nominal rate, for where a file ends. */
static int64_t frame_ms(const cam *c) {
  if (c->video.fps_num > 0 && c->video.fps_den > 0)
    return (int64_t)c->video.fps_den * 1000 / c->video.fps_num;
  return 40;
}

static int run_add(cam *c, const vg_frame *f) {
  run *rn = c->run;
  vg_frame g = *f;
  uint32_t ts = track_timescale(c, f->track);
  int64_t shift = rn->base_us * (int64_t)ts / 1000000;
  g.dts -= shift;
  g.pts -= shift;
  /* Audio captured before the run's first video frame, or a backwards
   * step from the camera, cannot go into this file. */
  if (g.dts < 0 || g.dts <= rn->last_dts[f->track]) return 0;
  if (rn->frag_start_ms < 0) rn->frag_start_ms = f->wall_ms;
  int rc = vg_fmp4_add(rn->mux, &g);
  if (rc == VG_ETOOBIG) {
    run_cut(c);
    rn->frag_start_ms = f->wall_ms;
    rc = vg_fmp4_add(rn->mux, &g);
  }
  if (rc == 0) {
    rn->last_dts[f->track] = g.dts;
    if (f->track == VG_TRACK_VIDEO) rn->end_ms = f->wall_ms + frame_ms(c);
  }
  return rc;
}

/* Opens a file starting with the GOP buffer (which begins on a keyframe). */
static void run_open(cam *c) {
  vg_recorder *r = c->r;
  if (!c->gop_valid || c->gop_len == 0 || !c->has_video) return;
  if (c->gop[0].wall_ms < c->not_before) return; /* wait for the next keyframe */
  run *rn = calloc(1, sizeof *rn);
  if (!rn) return;
  if (vg_fmp4_new(&c->video, c->has_audio ? &c->audio : NULL, &rn->mux) != 0) {
    vg_log_error("recorder: camera %lld: cannot mux these streams", (long long)c->id);
    free(rn);
    return;
  }
  vg_buf *init = NULL;
  if (vg_fmp4_init_segment(rn->mux, &init) != 0) {
    vg_fmp4_free(rn->mux);
    free(rn);
    return;
  }
  const vg_frame *first = &c->gop[0];
  rn->owner = r;
  rn->camera_id = c->id;
  rn->start_ms = first->wall_ms;
  rn->frag_start_ms = -1;
  rn->recording_id = c->target;
  rn->base_us = first->dts * 1000000 / (int64_t)c->video.timescale;
  rn->last_dts[0] = rn->last_dts[1] = -1;
  /* A file is named by its first frame's time. A run that begins on the
   * GOP an earlier run of this camera began on (stopped and started again
   * within one GOP; a session taking over from continuous recording)
   * would get that file's name, and the open would fail: it takes the
   * next free millisecond instead. The index keeps the true start. */
  int64_t name_ms = rn->start_ms > c->last_name_ms ? rn->start_ms : c->last_name_ms + 1;
  c->last_name_ms = name_ms;
  char path[1200];
  vg_recorder_segment_path(r->media_dir, c->id, name_ms, path, sizeof path);
  rn->seg = vg_segfile_open(r->writer, path, init, rn->start_ms);
  vg_buf_unref(init);
  if (!rn->seg) {
    vg_fmp4_free(rn->mux);
    free(rn);
    return;
  }
  rn->seg_id = r->hooks.segment_opened
                   ? r->hooks.segment_opened(r->hooks.ud, c->id, c->target, path, rn->start_ms)
                   : 0;
  c->run = rn;
  for (size_t i = 0; i < c->gop_len; i++) run_add(c, &c->gop[i]);
}

/* ---- camera session callbacks ---- */

static void on_status(void *ud, vg_camera_status status, const char *reason) {
  cam *c = ud;
  c->status = status;
  snprintf(c->reason, sizeof c->reason, "%s", reason ? reason : "");
  if (status != VG_CAMERA_ONLINE) {
    /* The connection is gone: close the file; the next one starts when the
     * camera is back, and the hole between them is the gap. */
    run_close(c);
    gop_clear(c);
  }
  if (c->r->hooks.camera_status)
    c->r->hooks.camera_status(c->r->hooks.ud, c->id, status, c->reason);
}

static void on_params(void *ud, const vg_codec_params *video, const vg_codec_params *audio) {
  cam *c = ud;
  run_close(c);
  gop_clear(c);
  c->has_video = video != NULL;
  c->has_audio = audio != NULL;
  if (video) c->video = *video;
  if (audio) c->audio = *audio;
  if (c->r->hooks.camera_params) c->r->hooks.camera_params(c->r->hooks.ud, c->id, video, audio);
}

static void on_frame(void *ud, vg_frame *f) {
  cam *c = ud;
  if (f->track == VG_TRACK_AUDIO && !c->has_audio) {
    vg_buf_unref(f->data);
    return;
  }
  bool key = f->track == VG_TRACK_VIDEO && f->keyframe;
  if (key) {
    gop_clear(c);
    c->gop_valid = true;
  }
  if (c->gop_valid) gop_push(c, f);
  if (c->target >= 0) {
    if (!c->run) {
      run_open(c); /* the GOP holds f already */
    } else if (key) {
      run_cut(c);
      if (f->wall_ms - c->run->start_ms >= (int64_t)c->r->roll_s * 1000) {
        run_close(c);
        run_open(c);
      } else {
        run_add(c, f);
      }
    } else {
      if (c->run->frag_start_ms >= 0 && f->wall_ms - c->run->frag_start_ms >= FRAGMENT_MAX_MS)
        run_cut(c);
      run_add(c, f);
    }
  }
  if (c->r->hooks.camera_frame) c->r->hooks.camera_frame(c->r->hooks.ud, c->id, f);
  vg_buf_unref(f->data);
}

static const vg_camera_callbacks camera_cbs = {on_status, on_params, on_frame};

/* ---- cameras ---- */

static cam *find_cam(vg_recorder *r, int64_t id, cam ***link) {
  cam **pp = &r->cams;
  while (*pp && (*pp)->id != id) pp = &(*pp)->next;
  if (link) *link = pp;
  return *pp;
}

static void session_closed(void *ud) {
  cam *c = ud;
  vg_recorder *r = c->r;
  gop_clear(c);
  free(c->gop);
  free(c);
  r->closing_sessions--;
  maybe_closed(r);
}

static void cam_drop(cam *c) {
  run_close(c);
  gop_clear(c);
  c->r->closing_sessions++;
  vg_camera_stop(c->session, session_closed, c);
}

int vg_recorder_new(uv_loop_t *loop, const char *media_dir, int roll_s,
                    const vg_recorder_hooks *hooks, vg_recorder **out) {
  vg_recorder *r = calloc(1, sizeof *r);
  if (!r) return VG_ENOMEM;
  r->loop = loop;
  snprintf(r->media_dir, sizeof r->media_dir, "%s", media_dir);
  r->roll_s = roll_s > 0 ? roll_s : 60;
  if (hooks) r->hooks = *hooks;
  int rc = vg_segwriter_new(loop, &r->writer);
  if (rc) {
    free(r);
    return rc;
  }
  *out = r;
  return 0;
}

void vg_recorder_set_sync_ms(vg_recorder *r, int64_t ms) { vg_segwriter_set_sync_ms(r->writer, ms); }

void vg_recorder_close(vg_recorder *r, void (*cb)(void *ud), void *ud) {
  r->closing = true;
  r->close_cb = cb;
  r->close_ud = ud;
  while (r->cams) {
    cam *c = r->cams;
    r->cams = c->next;
    cam_drop(c);
  }
  maybe_closed(r);
}

void vg_recorder_free(vg_recorder *r) {
  if (!r) return;
  vg_segwriter_free(r->writer);
  free(r);
}

static bool same_connection(const vg_camera_config *a, const vg_camera_config *b) {
  return strcmp(a->url, b->url) == 0 && strcmp(a->username, b->username) == 0 &&
         strcmp(a->password, b->password) == 0 && a->udp == b->udp &&
         a->open_timeout_ms == b->open_timeout_ms && a->read_timeout_ms == b->read_timeout_ms;
}

int vg_recorder_add_camera(vg_recorder *r, const vg_camera_config *cfg, bool continuous) {
  cam **link;
  cam *old = find_cam(r, cfg->id, &link);
  int64_t target = continuous ? 0 : -1;
  if (old && same_connection(&old->cfg, cfg)) {
    /* Nothing about the connection changed (a rename, a room edit): keep
     * the session, and the recording, running. */
    old->continuous = continuous;
    if (old->target <= 0 && old->target != target) {
      run_close(old);
      old->target = target;
      old->not_before = 0;
      if (target == 0) run_open(old);
    }
    return 0;
  }
  if (old) {
    if (old->target > 0) target = old->target;
    *link = old->next;
    cam_drop(old);
  }
  cam *c = calloc(1, sizeof *c);
  if (!c) return VG_ENOMEM;
  c->r = r;
  c->id = cfg->id;
  c->cfg = *cfg;
  c->continuous = continuous;
  c->target = target;
  c->status = VG_CAMERA_CONNECTING;
  int rc = vg_camera_start(r->loop, cfg, &camera_cbs, c, &c->session);
  if (rc) {
    free(c);
    return rc;
  }
  c->next = r->cams;
  r->cams = c;
  return 0;
}

int vg_recorder_remove_camera(vg_recorder *r, int64_t camera_id) {
  cam **link;
  cam *c = find_cam(r, camera_id, &link);
  if (!c) return VG_ENOTFOUND;
  *link = c->next;
  cam_drop(c);
  return 0;
}

int vg_recorder_start(vg_recorder *r, int64_t camera_id, int64_t recording_id, int64_t not_before) {
  cam *c = find_cam(r, camera_id, NULL);
  if (!c) return VG_ENOTFOUND;
  /* Already recording into it (or waiting for its first keyframe): an
   * edit of the room or the camera asks again, and must not cut the file. */
  if (recording_id > 0 && c->target == recording_id) return 0;
  run_close(c);
  c->target = recording_id;
  c->not_before = not_before;
  run_open(c); /* now, with the GOP as pre-roll if allowed; else at the next keyframe */
  return 0;
}

int vg_recorder_stop(vg_recorder *r, int64_t camera_id) {
  cam *c = find_cam(r, camera_id, NULL);
  if (!c) return VG_ENOTFOUND;
  run_close(c);
  c->target = c->continuous ? 0 : -1;
  c->not_before = 0;
  if (c->target == 0) run_open(c);
  return 0;
}

int vg_recorder_camera_info_get(vg_recorder *r, int64_t camera_id, vg_recorder_camera_info *out) {
  cam *c = find_cam(r, camera_id, NULL);
  if (!c) return VG_ENOTFOUND;
  memset(out, 0, sizeof *out);
  out->status = c->status;
  snprintf(out->reason, sizeof out->reason, "%s", c->reason);
  out->has_video = c->has_video;
  out->has_audio = c->has_audio;
  if (c->has_video) out->video = c->video;
  if (c->has_audio) out->audio = c->audio;
  vg_camera_get_stats(c->session, &out->stats);
  out->recording_id = c->target;
  out->writing = c->run != NULL;
  return 0;
}

size_t vg_recorder_camera_ids(vg_recorder *r, int64_t *out, size_t max) {
  size_t n = 0;
  for (cam *c = r->cams; c; c = c->next) {
    if (n < max) out[n] = c->id;
    n++;
  }
  return n;
}

int vg_recorder_gop(vg_recorder *r, int64_t camera_id, const vg_frame **frames, size_t *n) {
  cam *c = find_cam(r, camera_id, NULL);
  if (!c) return VG_ENOTFOUND;
  *frames = c->gop;
  *n = c->gop_valid ? c->gop_len : 0;
  return 0;
}
