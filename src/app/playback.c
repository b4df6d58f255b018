/* playback.c - GET /api/v1/recordings/{id}/media/{camera_id}.mp4: one
 * camera of a recording (or a stretch of it) as a progressive MP4.
 *
 * The request is checked on the loop (rights, camera, from/to against the
 * recording's spans) and turned into a plan: segment files and wall-clock
 * spans. The MP4's header is built in the thread pool (media/mp4build.c
 * reads only the segments' moov and moof boxes), so the first byte goes
 * out as soon as that is done. The body is then streamed: one read of at
 * most READ_CHUNK in the thread pool at a time, handed to the connection
 * as a buffer, and the next read starts only while less than
 * QUEUE_HIGH is queued on the socket, so a slow client holds at most
 * about a megabyte of memory. Range requests read only their bytes.
 *
 * Built MP4s are shared: a small cache on the loop (base/cache.c) keyed by
 * recording, camera, the span asked for and a fingerprint of the segment
 * list (count, ids, ends, sizes, and the size on disk of a segment still
 * being written), so the Range requests of a seeking player reuse one
 * header and one chunk map, and a running recording that gained frames
 * gets a new build. A response holds its entry until it is done; entries
 * nobody holds are kept within playback_cache_mb (least recently used go
 * first) and for CACHE_IDLE_MS. Requests for a key whose build is under
 * way wait for it (a pending entry with a list of waiting jobs) rather
 * than build it again. */
#include "app/playback.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/cache.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"

#define READ_CHUNK (512u << 10)
#define QUEUE_HIGH (512u << 10) /* start a read only below this: <= ~1 MiB queued */
/* to may exceed the recorded time by this much (a client's rounding). */
#define END_SLACK_S 0.001
/* A cached build nobody used for this long is freed. */
#define CACHE_IDLE_MS 120000

/* ---- plan ---- */

void vg_playback_plan_free(vg_playback_plan *p) {
  if (!p) return;
  for (size_t i = 0; i < p->nsegs; i++) free((char *)p->segs[i].path);
  free(p->segs);
  free(p->spans);
  memset(p, 0, sizeof *p);
}

int vg_playback_plan_make(vg_app *app, int64_t recording_id, int64_t camera_id, double from_s,
                          double to_s, vg_playback_plan *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  snprintf(err, errlen, "%s", "");
  vg_recording rec;
  if (vg_store_recording_get(app->store, recording_id, &rec) != 0) {
    snprintf(err, errlen, "no such recording");
    return VG_ENOTFOUND;
  }
  vg_track *tracks = NULL;
  size_t nt = 0;
  if (vg_store_track_list(app->store, recording_id, &tracks, &nt) != 0) return VG_EDB;
  bool found = false;
  for (size_t i = 0; i < nt; i++) found |= tracks[i].camera_id == camera_id;
  free(tracks);
  if (!found) {
    snprintf(err, errlen, "camera %" PRId64 " is not in recording %" PRId64, camera_id,
             recording_id);
    return VG_ENOTFOUND;
  }
  vg_span *spans = NULL;
  size_t ns = 0;
  if (vg_store_span_list(app->store, recording_id, &spans, &ns) != 0) return VG_EDB;
  int64_t now = vg_now_ms();
  double recorded = 0;
  /* The fingerprint of what the build depends on besides the span asked
   * for: the spans as stored, the segment rows, and for a file still being
   * written its size now (it grows fragment by fragment while its row stays
   * the same). FNV-1a over the numbers' bytes. */
  uint64_t fp = 1469598103934665603ull;
#define FP_MIX(x)                                                                            \
  do {                                                                                       \
    uint64_t v_ = (uint64_t)(x);                                                             \
    for (int k_ = 0; k_ < 8; k_++) fp = (fp ^ ((v_ >> (8 * k_)) & 0xff)) * 1099511628211ull; \
  } while (0)
  FP_MIX(ns);
  for (size_t i = 0; i < ns; i++) {
    FP_MIX(spans[i].start_ms);
    FP_MIX(spans[i].end_ms);
    int64_t end = spans[i].end_ms ? spans[i].end_ms : now;
    if (end > spans[i].start_ms) recorded += (double)(end - spans[i].start_ms) / 1000.0;
  }
  out->recorded_s = recorded;
  if (to_s < 0) to_s = recorded;
  int rc = 0;
  if (!isfinite(from_s) || !isfinite(to_s) || from_s < 0) {
    snprintf(err, errlen, "from and to must be numbers of seconds >= 0");
    rc = VG_EINVAL;
  } else if (from_s >= recorded) {
    snprintf(err, errlen, "from %.3f is not inside the recording (%.3f s recorded)", from_s,
             recorded);
    rc = VG_EINVAL;
  } else if (to_s > recorded + END_SLACK_S) {
    snprintf(err, errlen, "to %.3f is past the end of the recording (%.3f s recorded)", to_s,
             recorded);
    rc = VG_EINVAL;
  } else if (to_s <= from_s) {
    snprintf(err, errlen, "from %.3f must be before to %.3f", from_s, to_s);
    rc = VG_EINVAL;
  }
  if (rc) {
    free(spans);
    return rc;
  }
  out->from_s = from_s;
  out->to_s = to_s;
  /* Recording seconds [from, to) as wall-clock pieces of the spans. */
  out->spans = calloc(ns ? ns : 1, sizeof *out->spans);
  if (!out->spans) {
    free(spans);
    return VG_ENOMEM;
  }
  int64_t from_ms = llround(from_s * 1000.0), to_ms = llround(to_s * 1000.0);
  int64_t acc = 0; /* recorded ms before span i */
  for (size_t i = 0; i < ns; i++) {
    int64_t end = spans[i].end_ms ? spans[i].end_ms : now;
    int64_t len = end - spans[i].start_ms;
    if (len <= 0) continue;
    int64_t a = from_ms > acc ? from_ms - acc : 0, b = to_ms - acc < len ? to_ms - acc : len;
    if (b > a)
      out->spans[out->nspans++] = (vg_mp4build_span){spans[i].start_ms + a, spans[i].start_ms + b};
    acc += len;
  }
  free(spans);
  if (out->nspans == 0) {
    snprintf(err, errlen, "nothing was recorded between %.3f and %.3f", from_s, to_s);
    vg_playback_plan_free(out);
    return VG_EINVAL;
  }
  vg_segment *segs = NULL;
  size_t ng = 0;
  if (vg_store_segment_list(app->store, recording_id, camera_id, &segs, &ng) != 0) {
    vg_playback_plan_free(out);
    return VG_EDB;
  }
  FP_MIX(ng);
  for (size_t i = 0; i < ng; i++) {
    FP_MIX(segs[i].id);
    FP_MIX(segs[i].start_ms);
    FP_MIX(segs[i].end_ms);
    FP_MIX(segs[i].bytes);
    struct stat st;
    if (strcmp(segs[i].state, "open") == 0 && stat(segs[i].path, &st) == 0) FP_MIX(st.st_size);
  }
#undef FP_MIX
  out->fingerprint = fp;
  out->segs = calloc(ng ? ng : 1, sizeof *out->segs);
  if (!out->segs) {
    free(segs);
    vg_playback_plan_free(out);
    return VG_ENOMEM;
  }
  for (size_t i = 0; i < ng; i++) {
    char *path = strdup(segs[i].path);
    if (!path) {
      free(segs);
      vg_playback_plan_free(out);
      return VG_ENOMEM;
    }
    bool open = strcmp(segs[i].state, "open") == 0;
    out->segs[out->nsegs++] =
        (vg_mp4build_input){path, segs[i].start_ms, open ? 0 : segs[i].end_ms};
  }
  free(segs);
  return 0;
}

int vg_playback_open(vg_app *app, int64_t recording_id, int64_t camera_id, double from_s,
                     double to_s, vg_mp4build **out) {
  *out = NULL;
  vg_playback_plan p;
  char err[256];
  int rc = vg_playback_plan_make(app, recording_id, camera_id, from_s, to_s, &p, err, sizeof err);
  if (rc) return rc;
  rc = vg_mp4build_open(p.segs, p.nsegs, p.spans, p.nspans, out);
  vg_playback_plan_free(&p);
  return rc;
}

/* ---- the request ---- */

typedef struct job {
  uv_work_t work;
  vg_app *app;
  vg_http_conn *conn;
  vg_playback_plan plan;
  char key[128];         /* in the cache of builds */
  struct job *next_wait; /* waiting for another job's build of key */
  struct pending *pend;  /* the builder: who waits for this build */
  vg_cache_entry *entry; /* the build this response streams from */
  vg_mp4build *mp4;      /* its builder (owned by the entry) */
  struct built *fresh;   /* made by build_work, until it joins the cache */
  int rc;                /* of the build or of the last read */
  /* What the client asked for. */
  bool head;
  bool range_asked; /* a usable single range */
  bool range_suffix;
  uint64_t range_a, range_b; /* bytes=a-b (b UINT64_MAX: to the end), or -a */
  bool download;
  char if_range[128];
  char filename[160];
  /* Streaming. */
  uint64_t pos, end; /* next byte to read; one past the last */
  vg_buf *chunk;     /* the read in flight */
  bool busy;         /* a read is in the thread pool */
  bool finished;
} job;

/* A cache value: the builder and its validator, made in the thread pool. */
typedef struct built {
  vg_mp4build *mp4;
  char etag[64];
} built;

static void built_free(void *v) {
  built *b = v;
  if (!b) return;
  vg_mp4build_free(b->mp4);
  free(b);
}

/* A build in the thread pool and the requests for the same key that
 * came meanwhile. */
typedef struct pending {
  struct pending *next;
  char key[128];
  struct job *waiters, **tail;
} pending;

struct vg_playback_cache {
  vg_cache *cache;
  pending *pending;
};

/* The app's cache, made on first use; NULL when out of memory. */
static struct vg_playback_cache *cache_of(vg_app *app) {
  if (app->playback) return app->playback;
  struct vg_playback_cache *pc = calloc(1, sizeof *pc);
  if (!pc) return NULL;
  if (vg_cache_new((uint64_t)app->cfg.playback_cache_mb << 20, CACHE_IDLE_MS, built_free,
                   &pc->cache)) {
    free(pc);
    return NULL;
  }
  app->playback = pc;
  return pc;
}

void vg_playback_cache_sweep(vg_app *app) {
  if (app->playback) vg_cache_sweep(app->playback->cache, (uint64_t)vg_mono_ms());
}

void vg_playback_cache_free(vg_app *app) {
  if (!app->playback) return;
  assert(!app->playback->pending); /* the loop ran until every build was done */
  vg_cache_free(app->playback->cache);
  free(app->playback);
  app->playback = NULL;
}

static void job_free(job *j) {
  /* The build may stay cached long after this response: it must not keep
   * segment files open (retention deletes them to free space). */
  if (j->mp4) vg_mp4build_close_files(j->mp4);
  if (j->entry) vg_cache_release(j->app->playback->cache, j->entry, (uint64_t)vg_mono_ms());
  built_free(j->fresh);
  vg_playback_plan_free(&j->plan);
  vg_buf_unref(j->chunk);
  if (j->conn) vg_http_conn_release(j->conn);
  free(j);
}

/* Parses "bytes=a-b", "bytes=a-" or "bytes=-n"; anything else (several
 * ranges, other units, garbage) is ignored, as RFC 9110 allows, and the
 * whole file is sent. */
static void parse_range(job *j, const char *v, size_t len) {
  char s[96];
  if (len >= sizeof s) return;
  memcpy(s, v, len);
  s[len] = 0;
  if (strncmp(s, "bytes=", 6) != 0 || strchr(s, ',')) return;
  const char *p = s + 6;
  char *end;
  if (*p == '-') {
    if (p[1] < '0' || p[1] > '9') return;
    unsigned long long n = strtoull(p + 1, &end, 10);
    if (*end) return;
    j->range_suffix = true;
    j->range_a = n;
    j->range_asked = true;
    return;
  }
  if (*p < '0' || *p > '9') return;
  unsigned long long a = strtoull(p, &end, 10);
  if (*end != '-') return;
  p = end + 1;
  unsigned long long b = UINT64_MAX;
  if (*p) {
    if (*p < '0' || *p > '9') return;
    b = strtoull(p, &end, 10);
    if (*end || b < a) return;
  }
  j->range_a = a;
  j->range_b = b;
  j->range_asked = true;
}

static void header_copy(const vg_http_request *req, const char *name, char *out, size_t cap) {
  const vg_http_header *h = vg_http_find_header(req, name);
  out[0] = 0;
  if (h && h->value_len < cap) {
    memcpy(out, h->value, h->value_len);
    out[h->value_len] = 0;
  }
}

/* A strong validator: the file's size and a hash of its header (which
 * holds every sample's size and place), so a recording that grew, or a
 * different span, gets a different tag. */
static void make_etag(const vg_mp4build *b, char *out, size_t cap) {
  uint64_t h = 1469598103934665603ull;
  size_t n = (size_t)vg_mp4build_header_size(b);
  uint8_t buf[4096];
  for (size_t off = 0; off < n; off += sizeof buf) {
    size_t got = 0;
    vg_mp4build_read((vg_mp4build *)b, off, buf, sizeof buf, &got);
    for (size_t i = 0; i < got && off + i < n; i++) h = (h ^ buf[i]) * 1099511628211ull;
  }
  snprintf(out, cap, "\"%" PRIx64 "-%" PRIx64 "\"", vg_mp4build_size(b), h);
}

static void start_read(job *j);

static void finish(job *j) {
  j->finished = true;
  if (!j->busy) job_free(j);
}

static void read_work(uv_work_t *w) {
  job *j = w->data;
  size_t n = j->end - j->pos < READ_CHUNK ? (size_t)(j->end - j->pos) : READ_CHUNK;
  j->chunk = vg_buf_new(n);
  if (!j->chunk) {
    j->rc = VG_ENOMEM;
    return;
  }
  size_t got = 0;
  j->rc = vg_mp4build_read(j->mp4, j->pos, j->chunk->data, n, &got);
  if (j->rc == 0 && got != n) j->rc = VG_EIO;
}

static void read_done(uv_work_t *w, int status) {
  job *j = w->data;
  j->busy = false;
  vg_buf *chunk = j->chunk;
  j->chunk = NULL;
  if (j->finished || vg_http_conn_closed(j->conn)) {
    vg_buf_unref(chunk);
    if (!j->finished) vg_http_stream_abort(j->conn);
    finish(j);
    return;
  }
  if (status != 0 || j->rc != 0) {
    vg_log_error("playback: recording media read failed at byte %" PRIu64 ": %s", j->pos,
                 vg_strerror(status ? VG_EIO : j->rc));
    vg_buf_unref(chunk);
    vg_http_stream_abort(j->conn);
    finish(j);
    return;
  }
  j->pos += chunk->len;
  int rc = vg_http_stream_write(j->conn, chunk);
  vg_buf_unref(chunk);
  if (rc) {
    vg_http_stream_abort(j->conn);
    finish(j);
    return;
  }
  if (j->pos >= j->end) {
    vg_http_stream_end(j->conn);
    finish(j);
    return;
  }
  if (vg_http_conn_queued(j->conn) < QUEUE_HIGH) start_read(j);
}

static void start_read(job *j) {
  if (j->busy || j->finished) return;
  j->busy = true;
  j->work.data = j;
  if (uv_queue_work(j->app->loop, &j->work, read_work, read_done) != 0) {
    j->busy = false;
    vg_http_stream_abort(j->conn);
    finish(j);
  }
}

static void on_drain(vg_http_conn *c, void *ud) {
  job *j = ud;
  if (j->finished) return;
  if (vg_http_conn_closed(c)) {
    if (!j->busy) finish(j); /* otherwise read_done sees the close */
    return;
  }
  if (vg_http_conn_queued(c) < QUEUE_HIGH) start_read(j);
}

static void respond_plain_error(job *j, int status, const char *code, const char *msg) {
  json_t *e = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
  char *text = json_dumps(e, JSON_COMPACT);
  json_decref(e);
  vg_http_respond_mem(j->conn, status, "application/json", "Cache-Control: no-store\r\n", text,
                      text ? strlen(text) : 0);
  free(text);
}

static void build_work(uv_work_t *w) {
  job *j = w->data;
  j->fresh = calloc(1, sizeof *j->fresh);
  if (!j->fresh) {
    j->rc = VG_ENOMEM;
    return;
  }
  j->rc =
      vg_mp4build_open(j->plan.segs, j->plan.nsegs, j->plan.spans, j->plan.nspans, &j->fresh->mp4);
  if (j->rc == 0) make_etag(j->fresh->mp4, j->fresh->etag, sizeof j->fresh->etag);
}

static void respond(job *j);

static void built_or_failed(job *j, int status);

static void build_done(uv_work_t *w, int status) {
  job *j = w->data;
  j->busy = false;
  struct vg_playback_cache *pc = j->app->playback; /* made before the build started */
  if (status == 0 && j->rc == 0) {
    /* Cached even when this client left: the next request wants it. */
    built *b = j->fresh;
    j->fresh = NULL;
    j->entry =
        vg_cache_put(pc->cache, j->key, b, vg_mp4build_memory(b->mp4), (uint64_t)vg_mono_ms());
    if (!j->entry) j->rc = VG_ENOMEM;
  }
  /* The requests that waited for this build get its outcome too. */
  pending *p = j->pend, **pp = &pc->pending;
  while (*pp && *pp != p) pp = &(*pp)->next;
  if (*pp) *pp = p->next;
  job *waiter = p ? p->waiters : NULL;
  free(p);
  j->pend = NULL;
  while (waiter) {
    job *next = waiter->next_wait;
    waiter->next_wait = NULL;
    waiter->rc = j->rc;
    if (j->entry) waiter->entry = vg_cache_get(pc->cache, j->key, (uint64_t)vg_mono_ms());
    if (j->rc == 0 && !waiter->entry) waiter->rc = VG_ENOMEM;
    built_or_failed(waiter, status);
    waiter = next;
  }
  built_or_failed(j, status);
}

/* Answers j once its build is done (j->entry) or failed (j->rc, status). */
static void built_or_failed(job *j, int status) {
  if (vg_http_conn_closed(j->conn)) {
    job_free(j);
    return;
  }
  if (status != 0 || j->rc != 0) {
    if (j->rc == VG_ENOTFOUND)
      respond_plain_error(j, 404, "not_found", "this camera recorded no video in that span");
    else {
      vg_log_error("playback: cannot build the MP4: %s", vg_strerror(status ? VG_EIO : j->rc));
      respond_plain_error(j, 500, "internal", "cannot read the recording's files");
    }
    job_free(j);
    return;
  }
  respond(j);
}

/* The build is there (j->entry): answers the headers and starts the body. */
static void respond(job *j) {
  const built *bt = vg_cache_value(j->entry);
  j->mp4 = bt->mp4;
  uint64_t size = vg_mp4build_size(j->mp4);
  const char *etag = bt->etag;
  if (j->if_range[0] && strcmp(j->if_range, etag) != 0) j->range_asked = false;

  vg_str h = VG_STR_INIT;
  vg_str_printf(&h, "Accept-Ranges: bytes\r\nETag: %s\r\nCache-Control: private, no-cache\r\n",
                etag);
  vg_str_printf(&h, "X-Vigil-Duration: %.3f\r\n", vg_mp4build_duration(j->mp4));
  size_t ngaps;
  const vg_mp4build_gap *g = vg_mp4build_gaps(j->mp4, &ngaps);
  if (ngaps) {
    vg_str_appends(&h, "X-Vigil-Gaps: ");
    for (size_t i = 0; i < ngaps; i++)
      vg_str_printf(&h, "%s%.3f-%.3f", i ? "," : "", g[i].start_s, g[i].end_s);
    vg_str_appends(&h, "\r\n");
  }
  if (j->download)
    vg_str_printf(&h, "Content-Disposition: attachment; filename=\"%s\"\r\n", j->filename);

  int code = 200;
  uint64_t a = 0, b = size;
  if (j->range_asked) {
    if (j->range_suffix) {
      uint64_t n = j->range_a < size ? j->range_a : size;
      a = size - n;
      if (n == 0) a = size; /* bytes=-0: nothing, unsatisfiable */
    } else {
      a = j->range_a;
      b = j->range_b == UINT64_MAX || j->range_b >= size ? size : j->range_b + 1;
    }
    if (a >= size) {
      vg_str_printf(&h, "Content-Range: bytes */%" PRIu64 "\r\n", size);
      json_t *e = json_pack("{s:{s:s,s:s}}", "error", "code", "range_not_satisfiable", "message",
                            "the range starts past the end of the file");
      char *text = json_dumps(e, JSON_COMPACT);
      json_decref(e);
      vg_http_respond_mem(j->conn, 416, "application/json", h.data, text, text ? strlen(text) : 0);
      free(text);
      vg_str_free(&h);
      job_free(j);
      return;
    }
    code = 206;
    vg_str_printf(&h, "Content-Range: bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64 "\r\n", a, b - 1,
                  size);
  }
  j->pos = a;
  j->end = b;
  int rc = vg_http_stream_begin(j->conn, code, "video/mp4", h.data, (int64_t)(b - a), on_drain, j);
  vg_str_free(&h);
  if (rc) {
    job_free(j);
    return;
  }
  if (j->head || a == b) {
    vg_http_stream_end(j->conn);
    job_free(j);
    return;
  }
  start_read(j);
}

/* Reads ?name= as seconds: absent leaves *out; bad answers 400. */
static int query_seconds(vg_req *r, const char *name, double *out) {
  char v[64];
  int rc = vg_api_query(r, name, v, sizeof v);
  if (rc == VG_ENOTFOUND) return 0;
  char *end = NULL;
  double x = rc == 0 && v[0] ? strtod(v, &end) : NAN;
  if (rc || !end || *end || !isfinite(x) || x < 0) {
    vg_api_error(r, 400, "invalid_parameter", "%s must be a number of seconds >= 0", name);
    return VG_EINVAL;
  }
  *out = x;
  return 0;
}

void vg_playback_handle(vg_req *r, int64_t recording_id, const char *rest) {
  if (!vg_api_require_user(r)) return;
  /* rest: "{camera_id}.mp4" */
  int64_t camera_id = 0;
  const char *p = rest;
  while (*p >= '0' && *p <= '9' && camera_id < INT64_MAX / 10)
    camera_id = camera_id * 10 + (*p++ - '0');
  if (p == rest || strcmp(p, ".mp4") != 0 || camera_id <= 0) {
    vg_api_error(r, 404, "not_found", "no such route; use /media/{camera_id}.mp4");
    return;
  }
  if (!vg_req_is_get(r)) {
    vg_api_method_not_allowed(r, "GET, HEAD");
    return;
  }
  vg_recording rec;
  if (vg_store_recording_get(r->app->store, recording_id, &rec) != 0) {
    vg_api_error(r, 404, "not_found", "no such recording");
    return;
  }
  bool visible = false;
  vg_store_room_visible(r->app->store, rec.room_id, r->user.id, &visible);
  if (!visible) {
    vg_api_error(r, 403, "forbidden", "you may not view the recordings of this room");
    return;
  }
  double from = 0, to = -1;
  if (query_seconds(r, "from", &from) || query_seconds(r, "to", &to)) return;
  char dl[8] = "";
  vg_api_query(r, "download", dl, sizeof dl);
  job *j = calloc(1, sizeof *j);
  if (!j) {
    vg_api_error(r, 500, "internal", "out of memory");
    return;
  }
  char err[256];
  int rc =
      vg_playback_plan_make(r->app, recording_id, camera_id, from, to, &j->plan, err, sizeof err);
  if (rc) {
    free(j);
    if (rc == VG_EINVAL)
      vg_api_error(r, 400, "invalid_span", "%s", err);
    else if (rc == VG_ENOTFOUND)
      vg_api_error(r, 404, "not_found", "%s", err);
    else
      vg_api_store_error(r, "read the recording", rc);
    return;
  }
  j->app = r->app;
  j->head = strcmp(r->method, "HEAD") == 0;
  j->download = strcmp(dl, "1") == 0 || strcmp(dl, "true") == 0;
  const vg_http_header *range = vg_http_find_header(r->http, "Range");
  if (range) parse_range(j, range->value, range->value_len);
  header_copy(r->http, "If-Range", j->if_range, sizeof j->if_range);
  bool whole = to < 0 && from == 0;
  if (whole)
    snprintf(j->filename, sizeof j->filename, "recording-%" PRId64 "-camera-%" PRId64 ".mp4",
             recording_id, camera_id);
  else
    snprintf(j->filename, sizeof j->filename,
             "recording-%" PRId64 "-camera-%" PRId64 "-%.3f-%.3f.mp4", recording_id, camera_id,
             j->plan.from_s, j->plan.to_s);
  /* One audit row per view or download: the request that starts it (no
   * range, or one from byte 0), not each seek of a player. */
  if (!j->head && (!j->range_asked || (!j->range_suffix && j->range_a == 0))) {
    char target[48];
    snprintf(target, sizeof target, "recording:%" PRId64, recording_id);
    vg_audit(r->app, r, j->download ? "recording.download" : "recording.media", target,
             json_pack("{s:I,s:I,s:f,s:f}", "recording_id", (json_int_t)recording_id, "camera_id",
                       (json_int_t)camera_id, "from", j->plan.from_s, "to", j->plan.to_s));
  }
  j->conn = vg_http_conn_hold(r->conn);
  snprintf(j->key, sizeof j->key, "%" PRId64 "/%" PRId64 "/%" PRId64 "/%" PRId64 "/%016" PRIx64,
           recording_id, camera_id, (int64_t)llround(from * 1000.0),
           to < 0 ? INT64_C(-1) : (int64_t)llround(to * 1000.0), j->plan.fingerprint);
  struct vg_playback_cache *pc = cache_of(r->app);
  if (!pc) {
    job_free(j);
    vg_api_error(r, 500, "internal", "out of memory");
    return;
  }
  if ((j->entry = vg_cache_get(pc->cache, j->key, (uint64_t)vg_mono_ms()))) {
    respond(j);
    return;
  }
  for (pending *q = pc->pending; q; q = q->next) {
    if (strcmp(q->key, j->key) != 0) continue;
    *q->tail = j; /* answered by build_done of the job building it */
    q->tail = &j->next_wait;
    return;
  }
  pending *pend = calloc(1, sizeof *pend);
  if (!pend) {
    job_free(j);
    vg_api_error(r, 500, "internal", "out of memory");
    return;
  }
  memcpy(pend->key, j->key, sizeof pend->key);
  pend->tail = &pend->waiters;
  j->busy = true;
  j->work.data = j;
  if (uv_queue_work(r->app->loop, &j->work, build_work, build_done) != 0) {
    free(pend);
    job_free(j);
    vg_api_error(r, 503, "busy", "try again");
    return;
  }
  pend->next = pc->pending;
  pc->pending = pend;
  j->pend = pend;
}
