/* live.c - the live hub: fragmented MP4 over WebSocket to Media Source
 * Extensions, one hub per camera and quality.
 *
 * A hub exists only while someone watches: then it runs its own fMP4
 * writer that cuts a fragment after every video frame (audio rides along
 * in the next fragment), so latency is the network's, not the GOP's. Each
 * fragment is one shared buffer queued on every viewer without a copy. A
 * new viewer gets the MIME type (text), an init segment and one catch-up
 * fragment built from the current GOP, so the picture starts at once. A
 * viewer with more than live_skip_bytes queued skips frames until a
 * keyframe finds it below that bound again; one that stays above it for
 * live_stuck_ms is closed (1008). Memory per viewer is therefore about
 * live_skip_bytes plus one fragment. Nothing here ever waits for a viewer.
 *
 * The main quality follows the recorder's camera session (its GOP is the
 * catch-up). ?quality=sub runs a second camera session on the camera's
 * substream URL while sub viewers watch (never recorded), keeping its own
 * GOP; a camera without a substream serves the main stream instead and
 * says so in the first text message. LL-HLS (app/hls.c) is fed from here.
 *
 * Who writes: with live_threads > 0 a plain viewer's socket is handed,
 * right after the grant check and the handshake, to a sender thread
 * (net/fanout.c) that writes it every fragment of its hub with the same
 * skip and stuck rules; the hub counts those viewers in `remote` and
 * learns of their end through hub_gone. TLS viewers, whose encryption
 * state lives in the main loop's connection, are written from here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "app/recorder.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "media/fmp4.h"
#include "net/fanout.h"
#include "net/ws.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/crypto.h"

/* Lifetime of a live grant: long enough to open the socket, short enough
 * that a leaked URL is soon worthless. */
#define LIVE_GRANT_TTL_MS 300000
/* An HLS player (Safari's own) reloads one playlist URL for as long as it
 * plays and cannot swap in a new grant without a break in the picture, so
 * a grant asked for with ?for=hls lasts a working day's session. */
#define LIVE_HLS_GRANT_TTL_MS (8 * 3600 * 1000LL)
/* The substream's own catch-up GOP: frames kept at most (past it no
 * catch-up until the next keyframe). */
#define SUB_GOP_MAX 600
/* Server-added latency histogram: 10 us buckets up to 100 ms. */
#define LAT_BUCKET_US VG_FANOUT_LAT_BUCKET_US
#define LAT_BUCKETS VG_FANOUT_LAT_BUCKETS
/* The first text message a viewer gets (VG_FANOUT_VARIANTS of them). */
enum { TEXT_MIME, TEXT_JSON, TEXT_JSON_FALLBACK };

typedef struct hub hub;

typedef struct viewer {
  struct viewer *prev, *next;
  hub *h;
  vg_http_conn *conn;
  bool skipping;        /* waiting for a keyframe */
  bool json_first;      /* ?quality= given: the first text is JSON */
  bool fallback;        /* asked for sub, gets main */
  uint64_t stuck_since; /* mono ms, 0 when flowing */
} viewer;

struct hub {
  struct hub *next;
  vg_live *live;
  uint64_t id; /* the fan-out group of its viewers on sender threads */
  int64_t camera_id;
  bool sub;        /* the substream session of the camera */
  viewer *viewers; /* viewers served on the main loop (TLS, or live_threads 0) */
  size_t nviewers;
  size_t remote;                    /* viewers handed to the sender threads and not yet gone */
  vg_fmp4 *mux;                     /* while watched and the streams are known */
  vg_buf *mime;                     /* text message: video/mp4; codecs="..." */
  vg_buf *text[VG_FANOUT_VARIANTS]; /* first text messages, built on demand */
  /* What a joining viewer gets, built once and shared by every viewer
   * that joins while the GOP is the same (viewers come in crowds). */
  vg_buf *init;
  vg_buf *catchup;
  size_t catchup_n; /* frames in it, 0: none built */
  int64_t catchup_first_dts, catchup_last_dts;
  /* sub only: its session, streams and GOP */
  vg_camera *session;
  bool online, has_video, has_audio;
  vg_codec_params video, audio;
  vg_frame *gop;
  size_t ngop, gop_cap;
};

struct vg_live {
  vg_app *app;
  hub *hubs;
  uint64_t next_hub_id;
  vg_hlsd *hls;
  vg_fanout *fan; /* the sender threads; NULL with live_threads 0 */
  /* statistics since start or the last ?reset=1 */
  uint64_t fragments, bytes_queued, skips, drops;
  uint64_t lat_count, lat_max_us;
  uint32_t *lat; /* LAT_BUCKETS, the last one "or more" */
};

static uint64_t mono_us(void) { return uv_hrtime() / 1000; }

static void hub_gone(uint64_t id, void *ud);

static void on_write_done(uint64_t stamp_us, void *ud) {
  vg_live *l = ud;
  uint64_t d = mono_us() - stamp_us;
  size_t b = d / LAT_BUCKET_US;
  l->lat[b < LAT_BUCKETS ? b : LAT_BUCKETS - 1]++;
  l->lat_count++;
  if (d > l->lat_max_us) l->lat_max_us = d;
}

int vg_live_new(vg_app *app, vg_live **out) {
  vg_live *l = calloc(1, sizeof *l);
  if (!l) return VG_ENOMEM;
  l->lat = calloc(LAT_BUCKETS, sizeof *l->lat);
  if (!l->lat || vg_hlsd_new(app, &l->hls) != 0) {
    free(l->lat);
    free(l);
    return VG_ENOMEM;
  }
  l->app = app;
  if (app->http) vg_http_server_set_write_probe(app->http, on_write_done, l);
  if (app->cfg.live_threads > 0) {
    vg_fanout_cfg fc = {.threads = (int)app->cfg.live_threads,
                        .skip_bytes = (size_t)app->cfg.live_skip_bytes,
                        .stuck_ms = (uint64_t)app->cfg.live_stuck_ms,
                        .ws_max_message = (size_t)app->cfg.ws_max_message};
    int rc = vg_fanout_new(app->loop, &fc, hub_gone, l, &l->fan);
    if (rc) {
      vg_hlsd_free(l->hls);
      free(l->lat);
      free(l);
      return rc;
    }
  }
  *out = l;
  return 0;
}

static void gop_clear(hub *h) {
  for (size_t i = 0; i < h->ngop; i++) vg_buf_unref(h->gop[i].data);
  h->ngop = 0;
}

static void catchup_drop(hub *h) {
  vg_buf_unref(h->catchup);
  h->catchup = NULL;
  h->catchup_n = 0;
}

static void hub_reset(hub *h) {
  vg_fmp4_free(h->mux);
  h->mux = NULL;
  vg_buf_unref(h->mime);
  h->mime = NULL;
  for (int i = 0; i < VG_FANOUT_VARIANTS; i++) {
    vg_buf_unref(h->text[i]);
    h->text[i] = NULL;
  }
  vg_buf_unref(h->init);
  h->init = NULL;
  catchup_drop(h);
}

static void hub_free(hub *h) {
  hub_reset(h);
  gop_clear(h);
  free(h->gop);
  free(h);
}

void vg_live_free(vg_live *l) {
  if (!l) return;
  /* The sender threads close their viewers and stop before any hub goes. */
  vg_fanout_free(l->fan);
  l->fan = NULL;
  /* Viewers are closed with the HTTP server first; their on_close unlinks
   * and stops substream sessions. */
  for (hub *h = l->hubs, *next; h; h = next) {
    next = h->next;
    if (h->session) vg_camera_stop(h->session, NULL, NULL);
    hub_free(h);
  }
  vg_hlsd_free(l->hls);
  free(l->lat);
  free(l);
}

static hub *find_hub(vg_live *l, int64_t camera_id, bool sub, bool create) {
  for (hub *h = l->hubs; h; h = h->next)
    if (h->camera_id == camera_id && h->sub == sub) return h;
  if (!create) return NULL;
  hub *h = calloc(1, sizeof *h);
  if (!h) return NULL;
  h->live = l;
  h->id = ++l->next_hub_id;
  h->camera_id = camera_id;
  h->sub = sub;
  h->next = l->hubs;
  l->hubs = h;
  return h;
}

static void hub_unlink(vg_live *l, hub *h) {
  for (hub **p = &l->hubs; *p; p = &(*p)->next)
    if (*p == h) {
      *p = h->next;
      return;
    }
}

/* The MIME type a SourceBuffer needs for these streams. */
static vg_buf *mime_of(const vg_codec_params *video, const vg_codec_params *audio) {
  char v[64] = "", a[64] = "", text[200];
  if (video && vg_codec_string(video, v, sizeof v) != 0) return NULL;
  if (audio && vg_codec_string(audio, a, sizeof a) != 0) audio = NULL;
  int n = snprintf(text, sizeof text, "video/mp4; codecs=\"%s%s%s\"", v, audio ? "," : "",
                   audio ? a : "");
  return vg_buf_from(text, (size_t)n);
}

/* The streams a hub serves and its current GOP: the recorder's session
 * for the main quality, the hub's own for the substream. */
static bool hub_streams(vg_live *l, hub *h, vg_codec_params *video, vg_codec_params *audio,
                        bool *has_audio, bool *online) {
  if (h->sub) {
    if (!h->has_video) return false;
    *video = h->video;
    *audio = h->audio;
    *has_audio = h->has_audio;
    *online = h->online;
    return true;
  }
  vg_recorder_camera_info info;
  if (vg_recorder_camera_info_get(l->app->recorder, h->camera_id, &info) != 0 || !info.has_video)
    return false;
  *video = info.video;
  *audio = info.audio;
  *has_audio = info.has_audio;
  *online = info.status == VG_CAMERA_ONLINE;
  return true;
}

static void hub_gop(vg_live *l, hub *h, const vg_frame **gop, size_t *n) {
  *n = 0;
  if (h->sub) {
    *gop = h->gop;
    *n = h->ngop;
  } else if (vg_recorder_gop(l->app->recorder, h->camera_id, gop, n) != 0) {
    *n = 0;
  }
}

static bool hub_watched(const hub *h) { return h->viewers || h->remote; }

static int text_variant(bool json_first, bool fallback) {
  return !json_first ? TEXT_MIME : fallback ? TEXT_JSON_FALLBACK : TEXT_JSON;
}

/* The first text message: the MIME type, or with ?quality= a JSON object
 * naming the quality served. Built once per hub and streams. */
static vg_buf *first_text(hub *h, int variant) {
  if (!h->mime) return NULL;
  if (variant == TEXT_MIME) return h->mime;
  if (h->text[variant]) return h->text[variant];
  bool fallback = variant == TEXT_JSON_FALLBACK;
  json_t *j = json_pack("{s:s%,s:s,s:b}", "mime", (const char *)h->mime->data, h->mime->len,
                        "quality", h->sub ? "sub" : "main", "fallback", fallback);
  if (fallback)
    json_object_set_new(j, "note", json_string("the camera has no substream: main stream sent"));
  char *text = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  if (text) h->text[variant] = vg_buf_from(text, strlen(text));
  free(text);
  return h->text[variant];
}

/* Brings the hub's init segment and catch-up fragment (the current GOP)
 * up to date for a joining viewer. False when there is nothing to send
 * yet (streams unknown). */
static bool hub_prepare(vg_live *l, hub *h) {
  vg_codec_params video, audio;
  bool has_audio, online;
  if (!h->mime || !hub_streams(l, h, &video, &audio, &has_audio, &online)) return false;
  const vg_frame *gop;
  size_t n = 0;
  hub_gop(l, h, &gop, &n);
  bool same = n > 0 && h->catchup && n == h->catchup_n && gop[0].dts == h->catchup_first_dts &&
              gop[n - 1].dts == h->catchup_last_dts;
  if (!h->init || !same) {
    /* A writer of its own: the catch-up fragment starts at sequence 1 and
     * leaves the hub's writer where it is. */
    vg_fmp4 *tmp;
    if (vg_fmp4_new(&video, has_audio ? &audio : NULL, &tmp) != 0) return false;
    if (!h->init) vg_fmp4_init_segment(tmp, &h->init);
    if (!same) {
      catchup_drop(h);
      for (size_t i = 0; i < n; i++) vg_fmp4_add(tmp, &gop[i]);
      if (n > 0 && vg_fmp4_fragment(tmp, &h->catchup, NULL) == 0) {
        h->catchup_n = n;
        h->catchup_first_dts = gop[0].dts;
        h->catchup_last_dts = gop[n - 1].dts;
      }
    }
    vg_fmp4_free(tmp);
  }
  return true;
}

/* What a viewer on a sender thread gets first (all NULL: nothing yet). */
static void hub_start_msgs(vg_live *l, hub *h, vg_fanout_start *st) {
  memset(st, 0, sizeof *st);
  if (!hub_prepare(l, h)) return;
  for (int i = 0; i < VG_FANOUT_VARIANTS; i++) st->text[i] = first_text(h, i);
  st->init = h->init;
  st->catchup = h->catchup;
}

/* Sends a new viewer (or every viewer after new streams) the MIME type,
 * an init segment and the current GOP as one fragment. */
static void viewer_start(vg_live *l, hub *h, viewer *v) {
  if (!hub_prepare(l, h)) return;
  vg_buf *text = first_text(h, text_variant(v->json_first, v->fallback));
  if (text) vg_ws_send(v->conn, VG_WS_TEXT, text);
  if (h->init) vg_ws_send(v->conn, VG_WS_BINARY, h->init);
  /* Without a catch-up GOP the viewer waits for the next keyframe. */
  if (h->catchup) vg_ws_send(v->conn, VG_WS_BINARY, h->catchup);
  v->skipping = h->catchup == NULL;
}

/* Every viewer of the hub starts again (new streams, or the first frame). */
static void hub_restart_all(vg_live *l, hub *h) {
  for (viewer *v = h->viewers; v; v = v->next) viewer_start(l, h, v);
  if (h->remote && l->fan) {
    vg_fanout_start st;
    hub_start_msgs(l, h, &st);
    vg_fanout_restart(l->fan, h->id, &st);
  }
}

/* (Re)builds the hub's writer from the current view of the streams. */
static void hub_open(vg_live *l, hub *h) {
  hub_reset(h);
  vg_codec_params video, audio;
  bool has_audio, online;
  if (!hub_streams(l, h, &video, &audio, &has_audio, &online) || !online) return;
  if (vg_fmp4_new(&video, has_audio ? &audio : NULL, &h->mux) != 0) return;
  h->mime = mime_of(&video, has_audio ? &audio : NULL);
}

static void hub_params(vg_live *l, hub *h) {
  if (!hub_watched(h)) return;
  hub_open(l, h);
  hub_restart_all(l, h);
}

void vg_live_camera_params(vg_live *l, int64_t camera_id) {
  hub *h = find_hub(l, camera_id, false, false);
  if (h) hub_params(l, h);
  vg_hlsd_params(l->hls, camera_id);
}

void vg_live_camera_status(vg_live *l, int64_t camera_id, vg_camera_status status) {
  hub *h = find_hub(l, camera_id, false, false);
  if (h && status != VG_CAMERA_ONLINE) hub_reset(h);
  vg_hlsd_status(l->hls, camera_id, status);
}

static void send_fragment(hub *h, vg_buf *frag, bool keyframe, uint64_t made_us) {
  vg_live *l = h->live;
  uint64_t now = vg_mono_ms();
  size_t skip = (size_t)l->app->cfg.live_skip_bytes;
  uint64_t stuck_ms = (uint64_t)l->app->cfg.live_stuck_ms;
  l->fragments++;
  /* The sender threads write it to their viewers meanwhile. */
  if (h->remote && l->fan) vg_fanout_send(l->fan, h->id, frag, keyframe, made_us);
  for (viewer *v = h->viewers, *next; v; v = next) {
    next = v->next;
    if (vg_http_conn_closed(v->conn)) continue;
    size_t queued = vg_http_conn_queued(v->conn);
    if (queued > skip) {
      if (!v->stuck_since) {
        v->stuck_since = now;
      } else if (now - v->stuck_since > stuck_ms) {
        l->drops++;
        vg_log_info("live: camera %lld viewer %s stuck for %llu ms with %zu bytes queued: closed",
                    (long long)h->camera_id, vg_http_conn_peer(v->conn),
                    (unsigned long long)(now - v->stuck_since), queued);
        vg_ws_close(v->conn, 1008, "viewer too slow");
        continue;
      }
      if (!v->skipping) l->skips++;
      v->skipping = true; /* even a keyframe waits until it is below the bound */
      continue;
    }
    v->stuck_since = 0;
    if (v->skipping && !keyframe) continue;
    v->skipping = false;
    if (vg_ws_send_stamped(v->conn, VG_WS_BINARY, frag, made_us) == 0) l->bytes_queued += frag->len;
  }
}

static void hub_frame(vg_live *l, hub *h, const vg_frame *f) {
  if (!hub_watched(h)) return;
  uint64_t made_us = mono_us();
  if (!h->mux) {
    /* Streams known but no writer yet (first frame after a reconnect). */
    hub_open(l, h);
    if (!h->mux) return;
    hub_restart_all(l, h);
    return; /* the catch-up GOP holds this frame already */
  }
  if (vg_fmp4_add(h->mux, f) != 0) return; /* out of order: dropped for live only */
  if (f->track != VG_TRACK_VIDEO) return;
  vg_buf *frag = NULL;
  vg_fmp4_info info;
  if (vg_fmp4_fragment(h->mux, &frag, &info) != 0) return;
  send_fragment(h, frag, info.keyframe, made_us);
  vg_buf_unref(frag);
}

void vg_live_camera_frame(vg_live *l, int64_t camera_id, const vg_frame *f) {
  vg_hlsd_frame(l->hls, camera_id, f);
  hub *h = find_hub(l, camera_id, false, false);
  if (h) hub_frame(l, h, f);
}

/* ---- the substream session ---- */

static void sub_status(void *ud, vg_camera_status status, const char *reason) {
  hub *h = ud;
  h->online = status == VG_CAMERA_ONLINE;
  if (!h->online) {
    hub_reset(h);
    gop_clear(h);
  }
}

static void sub_params(void *ud, const vg_codec_params *video, const vg_codec_params *audio) {
  hub *h = ud;
  gop_clear(h);
  h->has_video = video != NULL;
  if (video) h->video = *video;
  h->has_audio = audio != NULL;
  if (audio) h->audio = *audio;
  h->online = true;
  hub_params(h->live, h);
}

static void sub_frame(void *ud, vg_frame *f) {
  hub *h = ud;
  /* Keep the GOP for the next viewer's catch-up (it takes f's reference). */
  if (f->track == VG_TRACK_VIDEO && f->keyframe) gop_clear(h);
  if ((h->ngop > 0 || (f->track == VG_TRACK_VIDEO && f->keyframe)) && h->ngop < SUB_GOP_MAX) {
    if (h->ngop == h->gop_cap) {
      size_t cap = h->gop_cap ? h->gop_cap * 2 : 64;
      vg_frame *g = realloc(h->gop, cap * sizeof *g);
      if (g) {
        h->gop = g;
        h->gop_cap = cap;
      }
    }
    if (h->ngop < h->gop_cap) {
      h->gop[h->ngop++] = *f;
      hub_frame(h->live, h, f);
      return;
    }
  }
  hub_frame(h->live, h, f);
  vg_buf_unref(f->data);
}

static const vg_camera_callbacks sub_callbacks = {sub_status, sub_params, sub_frame};

/* ---- statistics ---- */

static uint64_t lat_percentile(const vg_live *l, double q) {
  if (!l->lat_count) return 0;
  uint64_t want = (uint64_t)(q * (double)l->lat_count + 0.5), seen = 0;
  if (want < 1) want = 1;
  for (size_t i = 0; i < LAT_BUCKETS; i++) {
    seen += l->lat[i];
    if (seen >= want) return (uint64_t)(i + 1) * LAT_BUCKET_US;
  }
  return (uint64_t)LAT_BUCKETS * LAT_BUCKET_US;
}

/* GET /live/stats (admins): viewers and what the hubs did since start or
 * the last ?reset=1. Latency is fragment made -> libuv reported its last
 * byte taken by the kernel, an upper bound of the server-added delay. */
static void stats_handle(vg_req *r) {
  if (!vg_api_require_admin(r)) return;
  vg_live *l = r->app->live;
  size_t viewers = 0, hubs = 0, threaded = 0;
  for (hub *h = l->hubs; h; h = h->next) {
    hubs++;
    viewers += h->nviewers + h->remote;
    threaded += h->remote;
  }
  char reset[8];
  bool do_reset = vg_api_query(r, "reset", reset, sizeof reset) == 0 && strcmp(reset, "1") == 0;
  /* The main loop's own viewers and every sender thread's, in one sum. */
  vg_live sum = *l;
  sum.lat = calloc(LAT_BUCKETS, sizeof *sum.lat);
  if (!sum.lat) {
    vg_api_error(r, 500, "internal", "out of memory");
    return;
  }
  memcpy(sum.lat, l->lat, LAT_BUCKETS * sizeof *sum.lat);
  if (l->fan) {
    vg_fanout_stats fs = {.lat = sum.lat};
    vg_fanout_stats_get(l->fan, &fs, do_reset);
    sum.bytes_queued += fs.bytes_queued;
    sum.skips += fs.skips;
    sum.drops += fs.drops;
    sum.lat_count += fs.lat_count;
    if (fs.lat_max_us > sum.lat_max_us) sum.lat_max_us = fs.lat_max_us;
  }
  json_t *j = json_pack(
      "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:{s:I,s:I,s:I,s:I}}", "hubs", (json_int_t)hubs, "viewers",
      (json_int_t)viewers, "threads", (json_int_t)(l->fan ? vg_fanout_threads(l->fan) : 0),
      "viewers_threaded", (json_int_t)threaded, "fragments", (json_int_t)sum.fragments,
      "bytes_queued", (json_int_t)sum.bytes_queued, "skips", (json_int_t)sum.skips, "drops",
      (json_int_t)sum.drops, "latency_us", "count", (json_int_t)sum.lat_count, "p50",
      (json_int_t)lat_percentile(&sum, 0.5), "p99", (json_int_t)lat_percentile(&sum, 0.99), "max",
      (json_int_t)sum.lat_max_us);
  free(sum.lat);
  /* How the viewers on sender threads are spread over them. */
  json_t *per = json_array();
  for (int i = 0; l->fan && i < vg_fanout_threads(l->fan); i++)
    json_array_append_new(per, json_integer((json_int_t)vg_fanout_thread_viewers(l->fan, i)));
  json_object_set_new(j, "viewers_per_thread", per);
  if (do_reset) {
    l->fragments = l->bytes_queued = l->skips = l->drops = 0;
    l->lat_count = l->lat_max_us = 0;
    memset(l->lat, 0, LAT_BUCKETS * sizeof *l->lat);
  }
  vg_api_json(r, 200, j);
}

/* ---- grants ---- */

static void grant_mac(const vg_app *app, const char *msg, size_t len, char out[44]) {
  uint8_t key[32], mac[32];
  unsigned int maclen = 32;
  /* A key of its own, derived from the secret key: the same secret never
   * seals passwords and signs URLs directly. */
  vg_str k = VG_STR_INIT;
  vg_str_append(&k, "vigil live grant v1", 19);
  vg_str_append(&k, app->secret_key, sizeof app->secret_key);
  vg_sha256(k.data, k.len, key);
  explicit_bzero(k.data, k.len);
  vg_str_free(&k);
  HMAC(EVP_sha256(), key, sizeof key, (const uint8_t *)msg, len, mac, &maclen);
  explicit_bzero(key, sizeof key);
  vg_base64url(mac, 32, out);
}

int vg_live_grant_make(const vg_app *app, int64_t camera_id, int64_t user_id, int64_t expires_at,
                       char *out, size_t outlen) {
  char msg[96], mac[48];
  int n = snprintf(msg, sizeof msg, "%lld.%lld.%lld", (long long)camera_id, (long long)user_id,
                   (long long)expires_at);
  grant_mac(app, msg, (size_t)n, mac);
  if ((size_t)snprintf(out, outlen, "%s.%s", msg, mac) >= outlen) return VG_ETOOBIG;
  return 0;
}

int vg_live_grant_check(const vg_app *app, const char *grant, int64_t camera_id, int64_t now) {
  const char *dot = strrchr(grant, '.');
  long long cam, user, expires;
  char tail;
  if (!dot || dot - grant > 90 ||
      sscanf(grant, "%lld.%lld.%lld%c", &cam, &user, &expires, &tail) != 4 || tail != '.')
    return VG_EAUTH;
  char mac[48];
  grant_mac(app, grant, (size_t)(dot - grant), mac);
  if (!vg_ct_equal(mac, strlen(mac), dot + 1, strlen(dot + 1))) return VG_EAUTH;
  if (cam != camera_id || expires < now) return VG_EAUTH;
  return 0;
}

void vg_live_grant_handle(vg_req *r, const vg_camera_row *cam) {
  char use[8];
  bool hls = vg_api_query(r, "for", use, sizeof use) == 0 && strcmp(use, "hls") == 0;
  int64_t expires = vg_now_ms() + (hls ? LIVE_HLS_GRANT_TTL_MS : LIVE_GRANT_TTL_MS);
  char grant[160], ws[256];
  if (vg_live_grant_make(r->app, cam->id, r->user.id, expires, grant, sizeof grant) != 0) {
    vg_api_error(r, 500, "internal", "could not sign the grant");
    return;
  }
  snprintf(ws, sizeof ws, "/live/%lld?grant=%s", (long long)cam->id, grant);
  vg_api_json(r, 200,
              json_pack("{s:I,s:s,s:I,s:s}", "camera_id", (json_int_t)cam->id, "grant", grant,
                        "expires_at", (json_int_t)expires, "ws", ws));
}

/* ---- viewers ---- */

static void on_message(vg_http_conn *c, int opcode, const uint8_t *data, size_t len, void *ud) {
  /* Viewers have nothing to say. */
}

/* A viewer left: when it was the last, the hub stops its writer, and a
 * substream hub its camera session too (it runs only while watched). */
static void hub_left(hub *h) {
  if (hub_watched(h)) return;
  hub_reset(h);
  if (h->sub) {
    vg_camera_stop(h->session, NULL, NULL);
    h->session = NULL;
    hub_unlink(h->live, h);
    hub_free(h);
  }
}

static void on_close(vg_http_conn *c, uint16_t code, void *ud) {
  viewer *v = ud;
  hub *h = v->h;
  if (v->prev)
    v->prev->next = v->next;
  else
    h->viewers = v->next;
  if (v->next) v->next->prev = v->prev;
  h->nviewers--;
  vg_http_conn_release(v->conn);
  free(v);
  hub_left(h);
}

/* A viewer on a sender thread has gone (on the main loop). */
static void hub_gone(uint64_t id, void *ud) {
  vg_live *l = ud;
  for (hub *h = l->hubs; h; h = h->next)
    if (h->id == id) {
      if (h->remote) h->remote--;
      hub_left(h);
      return;
    }
}

static const vg_ws_handlers viewer_handlers = {on_message, on_close};

bool vg_live_authorize(vg_req *r, int64_t id) {
  char grant[160];
  if (vg_api_query(r, "grant", grant, sizeof grant) == 0) {
    /* A signed grant stands for the rights check: no database needed. */
    if (vg_live_grant_check(r->app, grant, id, vg_now_ms()) != 0) {
      vg_api_error(r, 401, "bad_grant", "the grant is invalid or expired; ask for a new one");
      return false;
    }
    return true;
  }
  if (!vg_api_require_user(r)) return false;
  vg_camera_row cam;
  bool visible = false;
  if (vg_store_camera_get(r->app->store, id, &cam) != 0 ||
      vg_store_room_visible(r->app->store, cam.room_id, r->user.id, &visible) != 0 || !visible) {
    vg_api_error(r, 404, "not_found", "no such camera");
    return false;
  }
  return true;
}

/* Starts the substream session of a camera for its first sub viewer.
 * Returns NULL when the camera has none (the caller falls back). */
static hub *sub_hub(vg_live *l, int64_t id) {
  hub *h = find_hub(l, id, true, false);
  if (h) return h;
  vg_camera_config cfg;
  if (vg_media_substream_config(l->app, id, &cfg) != 0) return NULL;
  h = find_hub(l, id, true, true);
  if (h && vg_camera_start(l->app->loop, &cfg, &sub_callbacks, h, &h->session) != 0) {
    hub_unlink(l, h);
    hub_free(h);
    h = NULL;
  }
  explicit_bzero(cfg.password, sizeof cfg.password);
  return h;
}

void vg_live_handle(vg_req *r, const char *sub) {
  if (strcmp(sub, "/stats") == 0) {
    stats_handle(r);
    return;
  }
  int64_t id;
  const char *rest;
  if (!vg_api_parse_id(sub, &id, &rest) || (rest[0] && (rest[0] != '/' || !rest[1]))) {
    vg_api_error(r, 404, "not_found", "no such live stream");
    return;
  }
  if (!vg_req_is_get(r)) {
    vg_api_method_not_allowed(r, "GET");
    return;
  }
  if (!vg_live_authorize(r, id)) return;
  if (rest[0]) {
    vg_hlsd_handle(r->app->live->hls, r, id, rest + 1);
    return;
  }
  char quality[16] = "";
  bool has_quality = vg_api_query(r, "quality", quality, sizeof quality) == 0;
  if (has_quality && strcmp(quality, "main") != 0 && strcmp(quality, "sub") != 0) {
    vg_api_error(r, 400, "bad_quality", "quality is main or sub");
    return;
  }
  if (!r->http->upgrade_websocket) {
    vg_api_error(r, 400, "websocket_required",
                 "live video is a WebSocket: send Upgrade: websocket");
    return;
  }
  vg_live *l = r->app->live;
  bool want_sub = strcmp(quality, "sub") == 0;
  hub *h = want_sub ? sub_hub(l, id) : NULL;
  bool fallback = want_sub && !h;
  if (!h) h = find_hub(l, id, false, true);
  viewer *v = calloc(1, sizeof *v);
  if (!h || !v) {
    free(v);
    vg_api_error(r, 500, "internal", "out of memory");
    return;
  }
  v->h = h;
  v->conn = r->conn;
  v->json_first = has_quality;
  v->fallback = fallback;
  if (l->fan && vg_fanout_viewers(l->fan) + vg_http_server_connections(r->app->http) >
                    (size_t)r->app->cfg.max_connections) {
    /* Viewers on the threads left the server's count, not the limit. */
    free(v);
    hub_left(h);
    vg_api_error(r, 503, "too_many_connections", "too many connections; try again later");
    return;
  }
  if (l->fan) {
    /* Plain connections go to a sender thread; TLS ones (and any the
     * server cannot move) stay here. */
    int fd;
    vg_buf *head = NULL, *input = NULL;
    int rc = vg_http_ws_detach(r->conn, r->http, &fd, &head, &input);
    if (rc == 0) {
      free(v);
      h->remote++;
      if (!h->mux) hub_open(l, h);
      vg_fanout_start st;
      hub_start_msgs(l, h, &st);
      if (vg_fanout_add(l->fan, h->id, fd, head, input, text_variant(has_quality, fallback), &st,
                        vg_http_conn_peer(r->conn)) != 0) {
        h->remote--; /* the socket is closed: the viewer just sees it go */
        hub_left(h);
      }
      vg_buf_unref(head);
      vg_buf_unref(input);
      return;
    }
    if (rc != VG_ESTATE) {
      free(v);
      hub_left(h);
      return;
    }
  }
  if (vg_http_upgrade_ws(r->conn, r->http, &viewer_handlers, v) != 0) {
    free(v);
    hub_left(h);
    return;
  }
  vg_http_conn_hold(r->conn);
  v->next = h->viewers;
  if (h->viewers) h->viewers->prev = v;
  h->viewers = v;
  h->nviewers++;
  if (!h->mux) hub_open(l, h);
  viewer_start(l, h, v);
}
