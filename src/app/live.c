/* live.c - the live hub: fragmented MP4 over WebSocket to Media Source
 * Extensions, one hub per camera.
 *
 * A hub exists only while someone watches: then it runs its own fMP4
 * writer that cuts a fragment after every video frame (audio rides along
 * in the next fragment), so latency is the network's, not the GOP's. Each
 * fragment is one shared buffer queued on every viewer without a copy. A
 * new viewer gets the MIME type (text), an init segment and one catch-up
 * fragment built from the recorder's current GOP, so the picture starts at
 * once. A viewer whose socket backs up skips to the next keyframe; one
 * that stays stuck is closed. Nothing here ever waits for a viewer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "app/recorder.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "media/fmp4.h"
#include "net/ws.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/crypto.h"

/* A viewer with more than this queued skips to the next keyframe. */
#define LIVE_SKIP_QUEUED (2u << 20)
/* A viewer above this for LIVE_STUCK_MS is closed. */
#define LIVE_STUCK_QUEUED (8u << 20)
#define LIVE_STUCK_MS 10000
/* Lifetime of a live grant: long enough to open the socket, short enough
 * that a leaked URL is soon worthless. */
#define LIVE_GRANT_TTL_MS 300000

typedef struct hub hub;

typedef struct viewer {
  struct viewer *prev, *next;
  hub *h;
  vg_http_conn *conn;
  bool skipping;        /* waiting for a keyframe */
  uint64_t stuck_since; /* mono ms, 0 when flowing */
} viewer;

struct hub {
  struct hub *next;
  vg_live *live;
  int64_t camera_id;
  viewer *viewers;
  size_t nviewers;
  vg_fmp4 *mux; /* while watched and the streams are known */
  vg_buf *mime; /* text message: video/mp4; codecs="..." */
};

struct vg_live {
  vg_app *app;
  hub *hubs;
};

int vg_live_new(vg_app *app, vg_live **out) {
  vg_live *l = calloc(1, sizeof *l);
  if (!l) return VG_ENOMEM;
  l->app = app;
  *out = l;
  return 0;
}

static void hub_reset(hub *h) {
  vg_fmp4_free(h->mux);
  h->mux = NULL;
  vg_buf_unref(h->mime);
  h->mime = NULL;
}

void vg_live_free(vg_live *l) {
  if (!l) return;
  /* Viewers are closed with the HTTP server first; their on_close unlinks. */
  for (hub *h = l->hubs, *next; h; h = next) {
    next = h->next;
    hub_reset(h);
    free(h);
  }
  free(l);
}

static hub *find_hub(vg_live *l, int64_t camera_id, bool create) {
  for (hub *h = l->hubs; h; h = h->next)
    if (h->camera_id == camera_id) return h;
  if (!create) return NULL;
  hub *h = calloc(1, sizeof *h);
  if (!h) return NULL;
  h->live = l;
  h->camera_id = camera_id;
  h->next = l->hubs;
  l->hubs = h;
  return h;
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

/* Sends a new viewer (or every viewer after new streams) the MIME type,
 * an init segment and the current GOP as one fragment. */
static void viewer_start(vg_live *l, hub *h, viewer *v) {
  vg_recorder_camera_info info;
  if (!h->mime || vg_recorder_camera_info_get(l->app->recorder, h->camera_id, &info) != 0 ||
      !info.has_video)
    return;
  vg_fmp4 *tmp;
  if (vg_fmp4_new(&info.video, info.has_audio ? &info.audio : NULL, &tmp) != 0) return;
  vg_buf *init = NULL, *catchup = NULL;
  const vg_frame *gop;
  size_t n = 0;
  vg_fmp4_init_segment(tmp, &init);
  if (vg_recorder_gop(l->app->recorder, h->camera_id, &gop, &n) == 0) {
    for (size_t i = 0; i < n; i++) vg_fmp4_add(tmp, &gop[i]);
    vg_fmp4_fragment(tmp, &catchup, NULL);
  }
  vg_fmp4_free(tmp);
  vg_ws_send(v->conn, VG_WS_TEXT, h->mime);
  if (init) vg_ws_send(v->conn, VG_WS_BINARY, init);
  /* Without a catch-up GOP the viewer waits for the next keyframe. */
  if (catchup) vg_ws_send(v->conn, VG_WS_BINARY, catchup);
  v->skipping = catchup == NULL;
  vg_buf_unref(init);
  vg_buf_unref(catchup);
}

/* (Re)builds the hub's writer from the recorder's view of the streams. */
static void hub_open(vg_live *l, hub *h) {
  hub_reset(h);
  vg_recorder_camera_info info;
  if (vg_recorder_camera_info_get(l->app->recorder, h->camera_id, &info) != 0 || !info.has_video ||
      info.status != VG_CAMERA_ONLINE)
    return;
  const vg_codec_params *audio = info.has_audio ? &info.audio : NULL;
  if (vg_fmp4_new(&info.video, audio, &h->mux) != 0) return;
  h->mime = mime_of(&info.video, audio);
}

void vg_live_camera_params(vg_live *l, int64_t camera_id) {
  hub *h = find_hub(l, camera_id, false);
  if (!h || !h->viewers) return;
  hub_open(l, h);
  for (viewer *v = h->viewers; v; v = v->next) viewer_start(l, h, v);
}

void vg_live_camera_status(vg_live *l, int64_t camera_id, vg_camera_status status) {
  hub *h = find_hub(l, camera_id, false);
  if (h && status != VG_CAMERA_ONLINE) hub_reset(h);
}

static void send_fragment(hub *h, vg_buf *frag, bool keyframe) {
  uint64_t now = vg_mono_ms();
  for (viewer *v = h->viewers, *next; v; v = next) {
    next = v->next;
    size_t queued = vg_http_conn_queued(v->conn);
    if (queued > LIVE_STUCK_QUEUED) {
      if (!v->stuck_since) v->stuck_since = now;
      else if (now - v->stuck_since > LIVE_STUCK_MS) {
        vg_ws_close(v->conn, 1008, "viewer too slow");
        continue;
      }
    } else {
      v->stuck_since = 0;
    }
    if (queued > LIVE_SKIP_QUEUED) v->skipping = true;
    if (v->skipping && !keyframe) continue;
    v->skipping = false;
    vg_ws_send(v->conn, VG_WS_BINARY, frag);
  }
}

void vg_live_camera_frame(vg_live *l, int64_t camera_id, const vg_frame *f) {
  hub *h = find_hub(l, camera_id, false);
  if (!h || !h->viewers) return;
  if (!h->mux) {
    /* Streams known but no writer yet (first frame after a reconnect). */
    hub_open(l, h);
    if (!h->mux) return;
    for (viewer *v = h->viewers; v; v = v->next) viewer_start(l, h, v);
    return; /* the catch-up fragment holds this frame already */
  }
  if (vg_fmp4_add(h->mux, f) != 0) return; /* out of order: dropped for live only */
  if (f->track != VG_TRACK_VIDEO) return;
  vg_buf *frag = NULL;
  vg_fmp4_info info;
  if (vg_fmp4_fragment(h->mux, &frag, &info) != 0) return;
  send_fragment(h, frag, info.keyframe);
  vg_buf_unref(frag);
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
  int64_t expires = vg_now_ms() + LIVE_GRANT_TTL_MS;
  char grant[160], ws[256];
  if (vg_live_grant_make(r->app, cam->id, r->user.id, expires, grant, sizeof grant) != 0) {
    vg_api_error(r, 500, "internal", "could not sign the grant");
    return;
  }
  snprintf(ws, sizeof ws, "/live/%lld?grant=%s", (long long)cam->id, grant);
  vg_api_json(r, 200, json_pack("{s:I,s:s,s:I,s:s}", "camera_id", (json_int_t)cam->id, "grant",
                                grant, "expires_at", (json_int_t)expires, "ws", ws));
}

/* ---- viewers ---- */

static void on_message(vg_http_conn *c, int opcode, const uint8_t *data, size_t len, void *ud) {
  /* Viewers have nothing to say. */
}

static void on_close(vg_http_conn *c, uint16_t code, void *ud) {
  viewer *v = ud;
  hub *h = v->h;
  if (v->prev) v->prev->next = v->next;
  else h->viewers = v->next;
  if (v->next) v->next->prev = v->prev;
  h->nviewers--;
  if (!h->viewers) hub_reset(h); /* nobody watches: no writer */
  vg_http_conn_release(v->conn);
  free(v);
}

static const vg_ws_handlers viewer_handlers = {on_message, on_close};

void vg_live_handle(vg_req *r, const char *sub) {
  int64_t id;
  const char *rest;
  if (!vg_api_parse_id(sub, &id, &rest) || rest[0]) {
    vg_api_error(r, 404, "not_found", "no such live stream");
    return;
  }
  if (!vg_req_is_get(r)) {
    vg_api_method_not_allowed(r, "GET");
    return;
  }
  char grant[160];
  if (vg_api_query(r, "grant", grant, sizeof grant) == 0) {
    /* A signed grant stands for the rights check: no database needed. */
    if (vg_live_grant_check(r->app, grant, id, vg_now_ms()) != 0) {
      vg_api_error(r, 401, "bad_grant", "the grant is invalid or expired; ask for a new one");
      return;
    }
  } else {
    if (!vg_api_require_user(r)) return;
    vg_camera_row cam;
    bool visible = false;
    if (vg_store_camera_get(r->app->store, id, &cam) != 0 ||
        vg_store_room_visible(r->app->store, cam.room_id, r->user.id, &visible) != 0 || !visible) {
      vg_api_error(r, 404, "not_found", "no such camera");
      return;
    }
  }
  if (!r->http->upgrade_websocket) {
    vg_api_error(r, 400, "websocket_required", "live video is a WebSocket: send Upgrade: websocket");
    return;
  }
  vg_live *l = r->app->live;
  hub *h = find_hub(l, id, true);
  viewer *v = calloc(1, sizeof *v);
  if (!h || !v) {
    free(v);
    vg_api_error(r, 500, "internal", "out of memory");
    return;
  }
  v->h = h;
  v->conn = r->conn;
  if (vg_http_upgrade_ws(r->conn, r->http, &viewer_handlers, v) != 0) {
    free(v);
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
