/* hls.c - LL-HLS of live cameras: the packager and the HTTP side.
 *
 * Per camera, while HLS clients ask (packaging stops HLS_IDLE_MS after the
 * last request), an fMP4 writer of its own cuts the camera's frames into
 * parts: a part ends before the video frame that would take it past
 * hls_part_ms, and before every keyframe, so each part starts at its first
 * frame and a part that starts with a keyframe is INDEPENDENT. A segment
 * is the parts from one keyframe up to the first keyframe at least
 * HLS_MIN_SEGMENT_MS later (GOP-aligned, so every segment is independent).
 * The last hls_segments complete segments and the open one are kept as
 * shared buffers; a whole segment is its parts copied once into one
 * buffer when it closes.
 *
 * Blocking: a playlist request with _HLS_msn (and _HLS_part) and a request
 * for a part that does not exist yet are held (the connection is held,
 * nothing else waits) until the part exists, and answered then; after
 * three target durations they get 503, and a request more than two
 * segments ahead gets 400 at once, as RFC 8216bis 6.2.5.2 says. Waiting
 * requests are checked whenever a part is cut and on every frame, so no
 * timer runs; a camera going offline answers them all with 503. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "app/recorder.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "media/fmp4.h"
#include "media/hls.h"

/* Packaging stops when no HLS request came for this long. */
#define HLS_IDLE_MS 30000
/* A segment closes at the first keyframe this long after it started. */
#define HLS_MIN_SEGMENT_MS 1000
/* A blocked request waits at least this long (else 3 target durations). */
#define HLS_MIN_HOLD_MS 3000
/* Parts listed with EXT-X-PART: the last this many segments (the open
 * one and three complete ones, over three target durations). */
#define HLS_PARTS_WINDOW 4
/* Requests waiting per camera at most; past it 503 at once. */
#define HLS_MAX_WAITERS 4096

#define PLAYLIST_TYPE "application/vnd.apple.mpegurl"
/* Access is the grant in the URL, never a cookie: any origin may read
 * (a player on the web port fetching from the media port). */
#define CORS "Access-Control-Allow-Origin: *\r\n"
#define NO_CACHE "Cache-Control: no-cache\r\n" CORS

typedef struct seg {
  uint64_t msn;
  int64_t wall_ms;
  bool complete;
  size_t nparts;
  vg_buf *parts[VG_HLS_MAX_PARTS];
  vg_hls_part_info info[VG_HLS_MAX_PARTS];
  vg_buf *whole;      /* once complete */
  bool discontinuity; /* the first after packaging started over */
} seg;

typedef enum { W_PLAYLIST, W_PART } wait_kind;

typedef struct waiter {
  struct waiter *next;
  vg_http_conn *conn;
  wait_kind kind;
  uint64_t msn;
  int64_t part; /* -1: the whole segment (playlist without _HLS_part) */
  bool any;     /* playlist: answer once any part exists */
  uint64_t deadline;
  char query[VG_HLS_MAX_QUERY + 1];
} waiter;

typedef struct hcam {
  struct hcam *next;
  int64_t camera_id;
  uint64_t last_request; /* mono ms */
  vg_fmp4 *mux;
  vg_buf *init;
  uint32_t video_timescale;
  /* the part being filled */
  bool part_open;
  bool part_independent;
  int64_t part_first_dts;
  int64_t part_first_wall;
  int64_t last_video_dts, last_delta;
  int64_t seg_first_dts; /* video dts the open segment starts at */
  /* segments, oldest first; the last may be open */
  seg **segs;
  size_t nsegs, cap;
  uint64_t next_msn;
  /* Packaging that starts over (new streams, the camera back, HLS asked
   * for again) makes a discontinuity: the next segment carries
   * EXT-X-DISCONTINUITY, the tags of segments gone from the playlist are
   * counted in disc_seq, and each new init gets a new URI version. */
  bool disc_next;
  uint64_t disc_seq;
  uint64_t inits; /* init segments made */
  waiter *waiters;
  size_t nwaiters;
} hcam;

struct vg_hlsd {
  vg_app *app;
  hcam *cams;
};

int vg_hlsd_new(vg_app *app, vg_hlsd **out) {
  vg_hlsd *d = calloc(1, sizeof *d);
  if (!d) return VG_ENOMEM;
  d->app = app;
  *out = d;
  return 0;
}

static void seg_free(seg *s) {
  for (size_t i = 0; i < s->nparts; i++) vg_buf_unref(s->parts[i]);
  vg_buf_unref(s->whole);
  free(s);
}

/* Drops the stream state (not the waiters): after new streams or when
 * nobody asks any more. Sequence numbers keep counting. */
static void cam_reset(hcam *c) {
  if (c->next_msn > 1) c->disc_next = true;
  for (size_t i = 0; i < c->nsegs; i++) c->disc_seq += c->segs[i]->discontinuity;
  vg_fmp4_free(c->mux);
  c->mux = NULL;
  vg_buf_unref(c->init);
  c->init = NULL;
  for (size_t i = 0; i < c->nsegs; i++) seg_free(c->segs[i]);
  c->nsegs = 0;
  c->part_open = false;
  c->last_delta = 0;
}

static void answer(waiter *w, int status, const char *msg) {
  char body[160];
  int n = snprintf(body, sizeof body, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}",
                   status == 503   ? "unavailable"
                   : status == 404 ? "not_found"
                                   : "bad_request",
                   msg);
  vg_http_respond_mem(w->conn, status, "application/json", NO_CACHE, body, (size_t)n);
}

static void waiter_drop(hcam *c, waiter **link) {
  waiter *w = *link;
  *link = w->next;
  c->nwaiters--;
  vg_http_conn_release(w->conn);
  free(w);
}

void vg_hlsd_free(vg_hlsd *d) {
  if (!d) return;
  for (hcam *c = d->cams, *next; c; c = next) {
    next = c->next;
    while (c->waiters) waiter_drop(c, &c->waiters);
    cam_reset(c);
    free(c->segs);
    free(c);
  }
  free(d);
}

static hcam *find_cam(vg_hlsd *d, int64_t id, bool create) {
  for (hcam *c = d->cams; c; c = c->next)
    if (c->camera_id == id) return c;
  if (!create) return NULL;
  hcam *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->camera_id = id;
  c->next_msn = 1;
  c->next = d->cams;
  d->cams = c;
  return c;
}

static seg *last_seg(hcam *c) { return c->nsegs ? c->segs[c->nsegs - 1] : NULL; }

static seg *find_seg(hcam *c, uint64_t msn) {
  for (size_t i = 0; i < c->nsegs; i++)
    if (c->segs[i]->msn == msn) return c->segs[i];
  return NULL;
}

/* ---- answers ---- */

static void respond_playlist(vg_hlsd *d, hcam *c, vg_http_conn *conn, const char *query) {
  vg_hls_seg_info infos[64];
  size_t n = c->nsegs < 64 ? c->nsegs : 64;
  size_t first = c->nsegs - n;
  for (size_t i = 0; i < n; i++) {
    const seg *s = c->segs[first + i];
    infos[i] =
        (vg_hls_seg_info){s->msn, s->wall_ms, s->complete, s->nparts, s->info, s->discontinuity};
  }
  uint64_t disc_seq = c->disc_seq;
  for (size_t i = 0; i < first; i++) disc_seq += c->segs[i]->discontinuity;
  vg_hls_playlist_cfg cfg = {(double)d->app->cfg.hls_part_ms / 1000.0, query, HLS_PARTS_WINDOW,
                             disc_seq, c->inits > 1 ? c->inits - 1 : 0};
  vg_str text = VG_STR_INIT;
  if (vg_hls_playlist(infos, n, &cfg, &text) != 0) {
    vg_str_free(&text);
    static const char body[] =
        "{\"error\":{\"code\":\"unavailable\",\"message\":\"no video yet\"}}";
    vg_http_respond_mem(conn, 503, "application/json", NO_CACHE, body, sizeof body - 1);
    return;
  }
  vg_buf *body = vg_str_to_buf(&text);
  vg_str_free(&text);
  vg_http_respond(conn, 200, PLAYLIST_TYPE, NO_CACHE, body);
}

static void respond_buf(vg_http_conn *conn, vg_buf *b) {
  vg_http_respond_slice(conn, 200, "video/mp4", "Cache-Control: max-age=60\r\n" CORS, b, 0, b->len);
}

/* Answers a waiting request when it can be; true when it was. */
static bool waiter_try(vg_hlsd *d, hcam *c, waiter *w, uint64_t now) {
  if (vg_http_conn_closed(w->conn)) return true;
  seg *last = last_seg(c);
  if (w->kind == W_PLAYLIST) {
    bool ready = last && (w->any || vg_hls_wait_state(last->msn, last->nparts, last->complete,
                                                      w->msn, w->part) == VG_HLS_READY);
    if (ready) {
      respond_playlist(d, c, w->conn, w->query);
      return true;
    }
  } else {
    seg *s = find_seg(c, w->msn);
    if (s && (uint64_t)w->part < s->nparts) {
      respond_buf(w->conn, s->parts[w->part]);
      return true;
    }
    if ((s && s->complete) || (last && w->msn < last->msn && !s) ||
        (c->nsegs && w->msn < c->segs[0]->msn)) {
      answer(w, 404, "that part was never made");
      return true;
    }
  }
  if (now >= w->deadline) {
    answer(w, 503, "the part did not appear in time");
    return true;
  }
  return false;
}

static void wake(vg_hlsd *d, hcam *c) {
  uint64_t now = vg_mono_ms();
  for (waiter **link = &c->waiters; *link;) {
    if (waiter_try(d, c, *link, now))
      waiter_drop(c, link);
    else
      link = &(*link)->next;
  }
}

/* ---- packaging ---- */

static int64_t window_segments(vg_hlsd *d) { return d->app->cfg.hls_segments; }

static void seg_close(hcam *c, seg *s) {
  size_t total = 0;
  for (size_t i = 0; i < s->nparts; i++) total += s->parts[i]->len;
  s->whole = vg_buf_new(total ? total : 1);
  if (s->whole) {
    size_t off = 0;
    for (size_t i = 0; i < s->nparts; i++) {
      memcpy(s->whole->data + off, s->parts[i]->data, s->parts[i]->len);
      off += s->parts[i]->len;
    }
    s->whole->len = total;
  }
  s->complete = true;
}

static seg *seg_open(vg_hlsd *d, hcam *c, int64_t wall_ms) {
  size_t keep = (size_t)window_segments(d);
  while (c->nsegs > keep) {
    c->disc_seq += c->segs[0]->discontinuity;
    seg_free(c->segs[0]);
    memmove(c->segs, c->segs + 1, (c->nsegs - 1) * sizeof *c->segs);
    c->nsegs--;
  }
  if (c->nsegs == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 8;
    seg **s = realloc(c->segs, cap * sizeof *s);
    if (!s) return NULL;
    c->segs = s;
    c->cap = cap;
  }
  seg *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->msn = c->next_msn++;
  s->wall_ms = wall_ms;
  s->discontinuity = c->disc_next;
  c->disc_next = false;
  c->segs[c->nsegs++] = s;
  return s;
}

/* Cuts the queued samples into a part of the open segment. */
static void part_cut(vg_hlsd *d, hcam *c) {
  seg *s = last_seg(c);
  vg_buf *frag = NULL;
  vg_fmp4_info info;
  c->part_open = false;
  if (!s || s->complete || vg_fmp4_fragment(c->mux, &frag, &info) != 0) return;
  if (s->nparts == VG_HLS_MAX_PARTS) { /* cannot happen: segments close first */
    vg_buf_unref(frag);
    return;
  }
  double dur = c->video_timescale ? (double)info.duration[VG_TRACK_VIDEO] / c->video_timescale : 0;
  s->parts[s->nparts] = frag;
  s->info[s->nparts] = (vg_hls_part_info){dur, c->part_independent};
  s->nparts++;
  wake(d, c);
}

static bool cam_open(vg_hlsd *d, hcam *c) {
  vg_recorder_camera_info info;
  if (vg_recorder_camera_info_get(d->app->recorder, c->camera_id, &info) != 0 || !info.has_video ||
      info.status != VG_CAMERA_ONLINE)
    return false;
  if (vg_fmp4_new(&info.video, info.has_audio ? &info.audio : NULL, &c->mux) != 0) return false;
  if (vg_fmp4_init_segment(c->mux, &c->init) != 0) {
    vg_fmp4_free(c->mux);
    c->mux = NULL;
    return false;
  }
  c->video_timescale = info.video.timescale;
  c->inits++;
  return true;
}

static void cam_frame(vg_hlsd *d, hcam *c, const vg_frame *f) {
  seg *s = last_seg(c);
  bool in_seg = s && !s->complete;
  if (f->track == VG_TRACK_VIDEO) {
    int64_t part_ms = d->app->cfg.hls_part_ms;
    int64_t delta = c->last_delta ? c->last_delta : 0;
    if (f->duration > 0) delta = f->duration;
    if (c->part_open) {
      int64_t would = f->dts - c->part_first_dts + delta;
      int64_t seg_ms =
          (f->dts - c->seg_first_dts) * 1000 / (c->video_timescale ? c->video_timescale : 1);
      bool too_long = would * 1000 > part_ms * (int64_t)c->video_timescale;
      if (f->keyframe || too_long) part_cut(d, c);
      s = last_seg(c);
      if (s && !s->complete &&
          ((f->keyframe && seg_ms >= HLS_MIN_SEGMENT_MS) || s->nparts == VG_HLS_MAX_PARTS)) {
        seg_close(c, s);
        in_seg = false;
      }
    }
    if (!in_seg) {
      if (!f->keyframe && !(s && s->complete && s->nparts == VG_HLS_MAX_PARTS)) return;
      s = seg_open(d, c, f->wall_ms);
      if (!s) return;
      c->seg_first_dts = f->dts;
    }
    if (c->last_video_dts && f->dts > c->last_video_dts) c->last_delta = f->dts - c->last_video_dts;
    c->last_video_dts = f->dts;
    if (vg_fmp4_add(c->mux, f) != 0) return;
    if (!c->part_open) {
      c->part_open = true;
      c->part_first_dts = f->dts;
      c->part_independent = f->keyframe;
      c->part_first_wall = f->wall_ms;
    }
    return;
  }
  if (in_seg && c->part_open) vg_fmp4_add(c->mux, f);
}

/* Starts packaging a camera: the recorder's current GOP goes in first, so
 * the first segment exists at once. */
static bool cam_start(vg_hlsd *d, hcam *c) {
  if (c->mux) return true;
  if (!cam_open(d, c)) return false;
  const vg_frame *gop;
  size_t n = 0;
  if (vg_recorder_gop(d->app->recorder, c->camera_id, &gop, &n) == 0)
    for (size_t i = 0; i < n; i++) cam_frame(d, c, &gop[i]);
  return true;
}

void vg_hlsd_frame(vg_hlsd *d, int64_t camera_id, const vg_frame *f) {
  hcam *c = find_cam(d, camera_id, false);
  if (!c) return;
  uint64_t now = vg_mono_ms();
  if (now - c->last_request > HLS_IDLE_MS && !c->waiters) {
    cam_reset(c); /* nobody asks: stop packaging */
    return;
  }
  if (c->mux) cam_frame(d, c, f);
  if (c->waiters) wake(d, c);
}

void vg_hlsd_params(vg_hlsd *d, int64_t camera_id) {
  hcam *c = find_cam(d, camera_id, false);
  if (!c || !c->mux) return;
  /* New streams: start over with a new init segment. */
  cam_reset(c);
  cam_start(d, c);
}

void vg_hlsd_status(vg_hlsd *d, int64_t camera_id, vg_camera_status status) {
  hcam *c = find_cam(d, camera_id, false);
  if (!c || status == VG_CAMERA_ONLINE) return;
  cam_reset(c);
  while (c->waiters) {
    answer(c->waiters, 503, "the camera is offline");
    waiter_drop(c, &c->waiters);
  }
}

/* ---- requests ---- */

/* The query every URI of a playlist carries: the credential this request
 * came with, when its characters need no escaping. */
static void uri_query(vg_req *r, char *out, size_t outlen) {
  char v[VG_HLS_MAX_QUERY - 16];
  const char *key = "grant";
  out[0] = 0;
  if (vg_api_query(r, key, v, sizeof v) != 0) {
    key = "access_token";
    if (vg_api_query(r, key, v, sizeof v) != 0) return;
  }
  for (const char *p = v; *p; p++)
    if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
          *p == '.' || *p == '-' || *p == '_'))
      return;
  snprintf(out, outlen, "?%s=%s", key, v);
}

/* Reads _HLS_msn / _HLS_part: 0 absent, 1 present, -1 answered 400. */
static int hls_param(vg_req *r, const char *key, int64_t max, int64_t *out) {
  char v[24];
  if (vg_api_query(r, key, v, sizeof v) != 0) return 0;
  char *end;
  long long x = strtoll(v, &end, 10);
  if (!v[0] || *end || x < 0 || x > max) {
    vg_api_error(r, 400, "invalid_parameter", "%s must be a whole number from 0 to %lld", key,
                 (long long)max);
    return -1;
  }
  *out = x;
  return 1;
}

static uint64_t hold_ms(vg_hlsd *d, hcam *c) {
  double longest = 0;
  for (size_t i = 0; i < c->nsegs; i++) {
    vg_hls_seg_info si = {0, 0, false, c->segs[i]->nparts, c->segs[i]->info, false};
    double dur = vg_hls_seg_duration(&si);
    if (dur > longest) longest = dur;
  }
  uint64_t ms = (uint64_t)(3 * (longest < 1 ? 1 : longest + 1) * 1000);
  return ms < HLS_MIN_HOLD_MS ? HLS_MIN_HOLD_MS : ms;
}

static void hold(vg_hlsd *d, hcam *c, vg_req *r, wait_kind kind, uint64_t msn, int64_t part,
                 bool any, const char *query) {
  waiter *w = c->nwaiters < HLS_MAX_WAITERS ? calloc(1, sizeof *w) : NULL;
  if (!w) {
    vg_api_error(r, 503, "unavailable", "too many waiting requests");
    return;
  }
  w->conn = vg_http_conn_hold(r->conn);
  w->kind = kind;
  w->msn = msn;
  w->part = part;
  w->any = any;
  w->deadline = vg_mono_ms() + hold_ms(d, c);
  snprintf(w->query, sizeof w->query, "%s", query);
  w->next = c->waiters;
  c->waiters = w;
  c->nwaiters++;
}

void vg_hlsd_handle(vg_hlsd *d, vg_req *r, int64_t camera_id, const char *name) {
  vg_hls_name n;
  if (vg_hls_parse_name(name, strlen(name), &n) != 0) {
    vg_api_error(r, 404, "not_found", "no such HLS resource");
    return;
  }
  vg_recorder_camera_info info;
  if (!d->app->recorder || vg_recorder_camera_info_get(d->app->recorder, camera_id, &info) != 0) {
    vg_api_error(r, 404, "not_found", "no such camera");
    return;
  }
  hcam *c = find_cam(d, camera_id, true);
  if (!c) {
    vg_api_error(r, 500, "internal", "out of memory");
    return;
  }
  c->last_request = vg_mono_ms();
  if (!cam_start(d, c)) {
    vg_api_error(r, 503, "unavailable", "the camera is not online");
    return;
  }
  seg *last = last_seg(c);
  switch (n.kind) {
    case VG_HLS_INIT:
      respond_buf(r->conn, c->init);
      return;
    case VG_HLS_SEGMENT: {
      seg *s = find_seg(c, n.msn);
      if (!s || !s->complete || !s->whole) {
        vg_api_error(r, 404, "not_found", "no such segment (now)");
        return;
      }
      respond_buf(r->conn, s->whole);
      return;
    }
    case VG_HLS_PART: {
      seg *s = find_seg(c, n.msn);
      if (s && n.part < s->nparts) {
        respond_buf(r->conn, s->parts[n.part]);
        return;
      }
      /* The preload-hinted part (or one just after it): held until made. */
      vg_hls_wait st =
          last ? vg_hls_wait_state(last->msn, last->nparts, last->complete, n.msn, n.part)
               : VG_HLS_WAIT;
      bool next_only = !last || (n.msn == last->msn && !last->complete) ||
                       (n.msn == last->msn + 1 && n.part == 0);
      if (st != VG_HLS_WAIT || !next_only || (s && s->complete)) {
        vg_api_error(r, 404, "not_found", "no such part");
        return;
      }
      hold(d, c, r, W_PART, n.msn, n.part, false, "");
      return;
    }
    case VG_HLS_PLAYLIST: {
      char query[VG_HLS_MAX_QUERY + 1];
      uri_query(r, query, sizeof query);
      int64_t msn = 0, part = -1;
      int hm = hls_param(r, "_HLS_msn", INT64_C(1) << 52, &msn);
      if (hm < 0) return;
      int hp = hls_param(r, "_HLS_part", VG_HLS_MAX_PARTS * 2, &part);
      if (hp < 0) return;
      if (hp && !hm) {
        vg_api_error(r, 400, "invalid_parameter", "_HLS_part needs _HLS_msn");
        return;
      }
      if (!last) {
        hold(d, c, r, W_PLAYLIST, 0, -1, true, query);
        return;
      }
      if (hm) {
        vg_hls_wait st =
            vg_hls_wait_state(last->msn, last->nparts, last->complete, (uint64_t)msn, part);
        if (st == VG_HLS_TOO_FAR) {
          vg_api_error(r, 400, "invalid_parameter", "_HLS_msn is more than two segments ahead");
          return;
        }
        if (st == VG_HLS_WAIT) {
          hold(d, c, r, W_PLAYLIST, (uint64_t)msn, part, false, query);
          return;
        }
      }
      respond_playlist(d, c, r->conn, query);
      return;
    }
  }
}
