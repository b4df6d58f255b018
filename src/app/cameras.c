/* cameras.c - the /api/v1/cameras routes: add, read, change and remove
 * the cameras of a room.
 *
 * A camera's password is sealed with the site key (secrets.h) before it
 * reaches the store, and no answer, audit row or event ever carries it.
 * URLs are kept without their userinfo part: credentials written into the
 * URL (rtsp://user:pass@host/...) are moved into the username and password
 * fields when those are not given separately, so the stored and shown URL
 * is always credential-free.
 *
 * Rights follow the camera's room: a camera in a room the caller may not
 * see answers 404; only admins change or test cameras (403 otherwise).
 *
 * A connection test blocks for up to PROBE_TIMEOUT_MS, so it runs in the
 * libuv thread pool on a heap job holding the connection, as users.c does
 * for password hashing; the job carries copies of everything the worker
 * reads, and the plain password is wiped when the job ends. */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app/app.h"
#include "app/secrets.h"
#include "base/err.h"
#include "base/log.h"
#include "ingest/probe.h"
#include "net/http_parser.h"

/* How long a connection test may take: the probe's own time-out. */
#define PROBE_TIMEOUT_MS 10000

/* ---- RTSP URLs ---------------------------------------------------------- */

typedef struct rtsp_url {
  char clean[VG_URL_MAX + 1]; /* the URL without userinfo */
  char user[VG_CAMERA_USERNAME_MAX + 1];
  char pass[VG_CAMERA_PASSWORD_MAX + 1];
  bool has_userinfo;
} rtsp_url;

static bool host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~' || c == '%';
}

/* Checks that url is rtsp:// or rtsps:// with a host (name, IPv4 or
 * [IPv6]) and an optional port 1-65535, in printable ASCII, and splits off
 * any userinfo (percent-decoded into user and pass). A pure function over
 * the string. Returns NULL when valid, else the reason. */
static const char *rtsp_url_parse(const char *url, rtsp_url *out) {
  memset(out, 0, sizeof *out);
  size_t scheme;
  if (strncasecmp(url, "rtsp://", 7) == 0)
    scheme = 7;
  else if (strncasecmp(url, "rtsps://", 8) == 0)
    scheme = 8;
  else
    return "must start with rtsp:// or rtsps://";
  for (const char *p = url; *p; p++)
    if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
      return "must be printable ASCII without spaces (percent-encode other characters)";
  const char *auth = url + scheme;
  size_t alen = strcspn(auth, "/?#");
  const char *host = auth;
  const char *at = NULL;
  for (const char *p = auth; p < auth + alen; p++)
    if (*p == '@') at = p;
  if (at) {
    host = at + 1;
    const char *colon = memchr(auth, ':', (size_t)(at - auth));
    size_t ulen = colon ? (size_t)(colon - auth) : (size_t)(at - auth);
    if (vg_http_url_decode(auth, ulen, out->user, sizeof out->user, false) < 0)
      return "has a user name that is too long or badly percent-encoded";
    if (colon && vg_http_url_decode(colon + 1, (size_t)(at - colon - 1), out->pass,
                                    sizeof out->pass, false) < 0)
      return "has a password that is too long or badly percent-encoded";
    out->has_userinfo = true;
  }
  const char *end = auth + alen;
  const char *port = NULL;
  if (host < end && *host == '[') {
    const char *close = memchr(host, ']', (size_t)(end - host));
    if (!close || close == host + 1) return "has a malformed [IPv6] host";
    for (const char *p = host + 1; p < close; p++)
      if (!(host_char(*p) || *p == ':')) return "has a malformed [IPv6] host";
    if (close + 1 < end) {
      if (close[1] != ':') return "has a malformed [IPv6] host";
      port = close + 2;
    }
  } else {
    const char *p = host;
    for (; p < end && *p != ':'; p++)
      if (!host_char(*p)) return "has a host with characters a host name cannot have";
    if (p == host) return "has no host";
    if (p < end) port = p + 1;
  }
  if (port) {
    long v = 0;
    if (port == end) return "has an empty port";
    for (const char *p = port; p < end; p++) {
      if (*p < '0' || *p > '9') return "has a port that is not a number";
      v = v * 10 + (*p - '0');
      if (v > 65535) break;
    }
    if (v < 1 || v > 65535) return "has a port outside 1-65535";
  }
  snprintf(out->clean, sizeof out->clean, "%.*s%s", (int)scheme, url, host);
  return NULL;
}

/* The URL as shown: stored URLs have no userinfo, but make sure. */
static void public_url(const char *url, char *out, size_t outlen) {
  rtsp_url u;
  if (!url[0] || rtsp_url_parse(url, &u))
    snprintf(out, outlen, "%s", url[0] && !strchr(url, '@') ? url : "");
  else
    snprintf(out, outlen, "%s", u.clean);
  sodium_memzero(&u, sizeof u);
}

/* ---- JSON --------------------------------------------------------------- */

json_t *vg_camera_json(vg_app *app, const vg_camera_row *cam) {
  char url[VG_URL_MAX + 1], sub[VG_URL_MAX + 1];
  public_url(cam->url, url, sizeof url);
  public_url(cam->substream_url, sub, sizeof sub);
  json_t *j =
      json_pack("{sI sI ss ss ss ss sb sb sI sb ss sI sI}", "id", (json_int_t)cam->id, "room_id",
                (json_int_t)cam->room_id, "name", cam->name, "url", url, "substream_url", sub,
                "transport", cam->transport, "enabled", cam->enabled, "continuous", cam->continuous,
                "position", (json_int_t)cam->position, "has_credentials",
                cam->username[0] || cam->password_enc_len, "status", "offline", "created_at",
                (json_int_t)cam->created_at, "updated_at", (json_int_t)cam->updated_at);
  if (j) vg_media_camera_json(app, cam->id, j);
  return j;
}

static void answer_camera(vg_req *r, int status, const vg_camera_row *cam) {
  json_t *j = vg_camera_json(r->app, cam);
  if (!j) {
    vg_api_error(r, 500, "internal", "out of memory");
    return;
  }
  vg_api_json(r, status, j);
}

static void publish_camera(vg_app *app, const char *action, const vg_camera_row *cam) {
  vg_media_camera_changed(app, action, cam);
  json_t *payload = json_pack("{ss sI sI}", "action", action, "camera_id", (json_int_t)cam->id,
                              "room_id", (json_int_t)cam->room_id);
  if (payload && strcmp(action, "deleted") != 0)
    json_object_set_new(payload, "camera", vg_camera_json(app, cam));
  vg_events_publish(app->events, "camera.changed", cam->room_id, payload);
}

static void audit_camera(vg_req *r, const char *action, const vg_camera_row *cam, json_t *detail) {
  char target[32];
  snprintf(target, sizeof target, "camera:%" PRId64, cam->id);
  if (!detail) detail = json_object();
  json_object_set_new(detail, "name", json_string(cam->name));
  json_object_set_new(detail, "room_id", json_integer(cam->room_id));
  vg_audit(r->app, r, action, target, detail);
}

/* ---- reading a body into a camera ---------------------------------------- */

enum {
  F_ROOM = 1 << 0,
  F_NAME = 1 << 1,
  F_URL = 1 << 2,
  F_SUBSTREAM = 1 << 3,
  F_USERNAME = 1 << 4,
  F_PASSWORD = 1 << 5,
  F_TRANSPORT = 1 << 6,
  F_ENABLED = 1 << 7,
  F_CONTINUOUS = 1 << 8,
  F_POSITION = 1 << 9,
};

static const char *const field_names[] = {
    "room_id",  "name",      "url",     "substream_url", "username",
    "password", "transport", "enabled", "continuous",    "position",
};
#define FIELD_COUNT (sizeof field_names / sizeof *field_names)
#define FIELD_LIST                                                                         \
  "room_id, name, url, substream_url, username, password, transport, enabled, continuous " \
  "or position"

/* Checks a room_id field: it must name a room (422 otherwise; the caller is
 * an admin, who sees every room). */
static bool room_exists(vg_req *r, int64_t room_id) {
  vg_room room;
  int rc = vg_store_room_get(r->app->store, room_id, &room);
  if (rc == VG_ENOTFOUND) {
    vg_api_error(r, 422, "invalid_field", "room_id: no room %" PRId64, room_id);
    return false;
  }
  if (rc) {
    vg_api_store_error(r, "read the room", rc);
    return false;
  }
  return true;
}

static bool bool_field(vg_req *r, json_t *v, const char *key, bool *out) {
  if (!json_is_boolean(v)) {
    vg_api_error(r, 422, "invalid_field", "%s must be true or false", key);
    return false;
  }
  *out = json_is_true(v);
  return true;
}

/* Seals password (may be "") into cam; answers 500 on failure. */
static bool set_password(vg_req *r, vg_camera_row *cam, const char *password) {
  size_t len = strlen(password);
  cam->password_enc_len = 0;
  if (!len) return true;
  int rc = vg_secret_seal(r->app->secret_key, password, len, cam->password_enc,
                          sizeof cam->password_enc, &cam->password_enc_len);
  if (rc) {
    vg_log_error("cameras: cannot seal a password: %s", vg_strerror(rc));
    vg_api_error(r, 500, "internal", "cannot store the password");
    return false;
  }
  return true;
}

/* Applies the fields of body to cam (create: required ones must be there).
 * Answers 4xx/500 itself and returns false on a bad field. *set gets the
 * F_* bits of what the body held. */
static bool read_camera(vg_req *r, json_t *body, vg_camera_row *cam, bool create, unsigned *set) {
  *set = 0;
  const char *key;
  json_t *v;
  json_object_foreach(body, key, v) {
    size_t i = 0;
    while (i < FIELD_COUNT && strcmp(field_names[i], key) != 0) i++;
    if (i == FIELD_COUNT) {
      vg_api_error(r, 422, "invalid_field", "unknown field %s (expected %s)", key, FIELD_LIST);
      return false;
    }
    if (!json_is_null(v)) *set |= 1u << i;
  }

  if (create && !(*set & F_ROOM)) {
    vg_api_error(r, 422, "invalid_field", "room_id is required");
    return false;
  }
  if (*set & F_ROOM) {
    v = json_object_get(body, "room_id");
    if (!json_is_integer(v) || json_integer_value(v) <= 0) {
      vg_api_error(r, 422, "invalid_field", "room_id must be a positive integer");
      return false;
    }
    cam->room_id = json_integer_value(v);
  }

  const char *name = NULL, *url = NULL, *substream = NULL, *username = NULL, *password = NULL;
  if (vg_api_text(r, body, "name", create, VG_NAME_MAX, true, &name) < 0 ||
      vg_api_text(r, body, "url", create, VG_URL_MAX, true, &url) < 0 ||
      vg_api_text(r, body, "substream_url", false, VG_URL_MAX, true, &substream) < 0 ||
      vg_api_text(r, body, "username", false, VG_CAMERA_USERNAME_MAX, true, &username) < 0 ||
      vg_api_text(r, body, "password", false, VG_CAMERA_PASSWORD_MAX, false, &password) < 0)
    return false;
  if (name) {
    const char *p = name;
    while (*p == ' ') p++;
    if (!*p) {
      vg_api_error(r, 422, "invalid_field", "name must not be empty");
      return false;
    }
    snprintf(cam->name, sizeof cam->name, "%s", name);
  }

  rtsp_url u;
  memset(&u, 0, sizeof u);
  bool ok = false;
  if (url) {
    const char *why = rtsp_url_parse(url, &u);
    if (why) {
      vg_api_error(r, 422, "invalid_field", "url %s", why);
      goto out;
    }
    snprintf(cam->url, sizeof cam->url, "%s", u.clean);
  }
  if (substream) {
    rtsp_url su;
    const char *why = substream[0] ? rtsp_url_parse(substream, &su) : NULL;
    if (why) {
      vg_api_error(r, 422, "invalid_field", "substream_url %s", why);
      goto out;
    }
    snprintf(cam->substream_url, sizeof cam->substream_url, "%s", substream[0] ? su.clean : "");
    sodium_memzero(&su, sizeof su);
  }
  /* Credentials given as fields win over those written in the URL. */
  if (username)
    snprintf(cam->username, sizeof cam->username, "%s", username);
  else if (u.has_userinfo)
    snprintf(cam->username, sizeof cam->username, "%s", u.user);
  if (password) {
    if (!set_password(r, cam, password)) goto out;
    *set |= F_PASSWORD;
  } else if (json_is_null(json_object_get(body, "password"))) {
    cam->password_enc_len = 0; /* null clears it */
    *set |= F_PASSWORD;
  } else if (u.has_userinfo) {
    if (!set_password(r, cam, u.pass)) goto out;
    *set |= F_PASSWORD | F_USERNAME;
  }

  if (*set & F_TRANSPORT) {
    v = json_object_get(body, "transport");
    const char *t = json_is_string(v) ? json_string_value(v) : "";
    if (strcmp(t, "tcp") != 0 && strcmp(t, "udp") != 0) {
      vg_api_error(r, 422, "invalid_field", "transport must be \"tcp\" or \"udp\"");
      goto out;
    }
    snprintf(cam->transport, sizeof cam->transport, "%s", t);
  }
  if ((*set & F_ENABLED) &&
      !bool_field(r, json_object_get(body, "enabled"), "enabled", &cam->enabled))
    goto out;
  if ((*set & F_CONTINUOUS) &&
      !bool_field(r, json_object_get(body, "continuous"), "continuous", &cam->continuous))
    goto out;
  if (*set & F_POSITION) {
    v = json_object_get(body, "position");
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 1000000) {
      vg_api_error(r, 422, "invalid_field", "position must be an integer from 0 to 1000000");
      goto out;
    }
    cam->position = json_integer_value(v);
  }
  ok = true;
out:
  sodium_memzero(&u, sizeof u);
  return ok;
}

/* The names of the fields in set, for the audit row (never their values). */
static json_t *field_list(unsigned set) {
  json_t *arr = json_array();
  for (size_t i = 0; i < FIELD_COUNT; i++)
    if (set & (1u << i)) json_array_append_new(arr, json_string(field_names[i]));
  return arr;
}

/* ---- routes ------------------------------------------------------------- */

static void create_camera(vg_req *r) {
  if (!vg_api_require_admin(r)) return;
  json_t *body;
  if (vg_api_body(r, &body)) return;
  vg_camera_row cam;
  memset(&cam, 0, sizeof cam);
  snprintf(cam.transport, sizeof cam.transport, "tcp");
  cam.enabled = true;
  cam.position = -1; /* last in the room */
  unsigned set;
  if (!read_camera(r, body, &cam, true, &set) || !room_exists(r, cam.room_id)) goto out;
  int rc = vg_store_camera_create(r->app->store, &cam);
  if (rc == VG_EEXIST) {
    vg_api_error(r, 409, "name_taken", "room %" PRId64 " has a camera named %s", cam.room_id,
                 cam.name);
  } else if (rc == VG_ENOTFOUND) {
    vg_api_error(r, 422, "invalid_field", "room_id: no room %" PRId64, cam.room_id);
  } else if (rc) {
    vg_api_store_error(r, "create the camera", rc);
  } else {
    audit_camera(r, "camera.create", &cam, json_pack("{so}", "fields", field_list(set)));
    publish_camera(r->app, "created", &cam);
    answer_camera(r, 201, &cam);
  }
out:
  sodium_memzero(&cam, sizeof cam);
  json_decref(body);
}

/* Loads camera id when the caller may see its room; 404 otherwise. */
static bool load_camera(vg_req *r, int64_t id, vg_camera_row *cam) {
  int rc = vg_store_camera_get(r->app->store, id, cam);
  bool visible = false;
  if (!rc) rc = vg_store_room_visible(r->app->store, cam->room_id, r->user.id, &visible);
  if (rc == VG_ENOTFOUND || (!rc && !visible)) {
    vg_api_error(r, 404, "not_found", "no camera %" PRId64, id);
    return false;
  }
  if (rc) {
    vg_api_store_error(r, "read the camera", rc);
    return false;
  }
  return true;
}

static void patch_camera(vg_req *r, vg_camera_row *cam) {
  json_t *body;
  if (vg_api_body(r, &body)) return;
  int64_t old_room = cam->room_id;
  unsigned set;
  if (!read_camera(r, body, cam, false, &set)) goto out;
  if (!set) {
    vg_api_error(r, 422, "invalid_field", "nothing to change: give any of %s", FIELD_LIST);
    goto out;
  }
  if (cam->room_id != old_room) {
    if (!room_exists(r, cam->room_id)) goto out;
    if (!(set & F_POSITION)) cam->position = -1; /* last in its new room */
  }
  int rc = vg_store_camera_update(r->app->store, cam);
  if (rc == VG_EEXIST) {
    vg_api_error(r, 409, "name_taken", "room %" PRId64 " has a camera named %s", cam->room_id,
                 cam->name);
    goto out;
  }
  if (rc == VG_ENOTFOUND) {
    vg_api_error(r, 404, "not_found", "no camera %" PRId64, cam->id);
    goto out;
  }
  if (rc) {
    vg_api_store_error(r, "update the camera", rc);
    goto out;
  }
  vg_store_camera_get(r->app->store, cam->id, cam); /* position, updated_at */
  json_t *detail = json_pack("{so}", "fields", field_list(set));
  if (cam->room_id != old_room) json_object_set_new(detail, "from_room_id", json_integer(old_room));
  audit_camera(r, "camera.update", cam, detail);
  if (cam->room_id != old_room) {
    vg_camera_row gone = *cam;
    gone.room_id = old_room;
    publish_camera(r->app, "deleted", &gone);
    sodium_memzero(&gone, sizeof gone);
  }
  publish_camera(r->app, "updated", cam);
  answer_camera(r, 200, cam);
out:
  json_decref(body);
}

static void delete_camera(vg_req *r, const vg_camera_row *cam) {
  int rc = vg_store_camera_delete(r->app->store, cam->id);
  if (rc == VG_ENOTFOUND) {
    vg_api_error(r, 404, "not_found", "no camera %" PRId64, cam->id);
    return;
  }
  if (rc) {
    vg_api_store_error(r, "delete the camera", rc);
    return;
  }
  audit_camera(r, "camera.delete", cam, NULL);
  publish_camera(r->app, "deleted", cam);
  vg_api_no_content(r);
}

/* ---- connection tests --------------------------------------------------- */

typedef struct probe_job {
  uv_work_t work;
  vg_req req; /* the caller; held while the probe runs */
  char addr[64];
  int64_t camera_id; /* 0: a camera not saved yet */
  char url[VG_URL_MAX + 1];
  char username[VG_CAMERA_USERNAME_MAX + 1];
  char password[VG_CAMERA_PASSWORD_MAX + 1];
  bool udp;
  vg_probe_result result;
  int rc;
} probe_job;

static void probe_job_free(probe_job *job) {
  sodium_memzero(job, sizeof *job);
  free(job);
}

/* Worker thread: touches nothing but the job. */
static void probe_work(uv_work_t *w) {
  probe_job *job = w->data;
  job->rc = vg_probe_camera(job->url, job->username[0] ? job->username : NULL,
                            job->password[0] ? job->password : NULL, job->udp, PROBE_TIMEOUT_MS,
                            &job->result);
}

static json_t *probe_json(const probe_job *job) {
  const vg_probe_result *p = &job->result;
  bool ok = job->rc == 0 && p->error == VG_PROBE_OK;
  json_t *j = json_pack("{sb ss}", "ok", ok, "message", p->message);
  if (!j) return NULL;
  if (!ok) json_object_set_new(j, "error", json_string(vg_probe_error_name(p->error)));
  if (p->video_codec[0])
    json_object_set_new(j, "video",
                        json_pack("{ss si si sf}", "codec", p->video_codec, "width", p->width,
                                  "height", p->height, "fps", p->fps));
  if (p->audio_codec[0])
    json_object_set_new(j, "audio",
                        json_pack("{ss si si}", "codec", p->audio_codec, "sample_rate",
                                  p->sample_rate, "channels", p->channels));
  return j;
}

static void probe_done(uv_work_t *w, int status) {
  probe_job *job = w->data;
  vg_req *r = &job->req;
  if (status != UV_ECANCELED) {
    const vg_probe_result *p = &job->result;
    bool ok = job->rc == 0 && p->error == VG_PROBE_OK;
    char target[32] = "camera:new";
    if (job->camera_id) snprintf(target, sizeof target, "camera:%" PRId64, job->camera_id);
    vg_audit(r->app, r, "camera.test", target,
             json_pack("{ss sb ss}", "url", job->url, "ok", ok, "result",
                       vg_probe_error_name(p->error)));
    if (!vg_http_conn_closed(r->conn)) {
      json_t *j = probe_json(job);
      if (j)
        vg_api_json(r, 200, j);
      else
        vg_api_error(r, 500, "internal", "out of memory");
    }
  }
  vg_http_conn_release(r->conn);
  probe_job_free(job);
}

static probe_job *probe_job_new(vg_req *r) {
  probe_job *job = calloc(1, sizeof *job);
  if (!job) {
    vg_api_error(r, 500, "internal", "out of memory");
    return NULL;
  }
  job->req = *r;
  snprintf(job->addr, sizeof job->addr, "%s", r->addr ? r->addr : "");
  job->req.addr = job->addr;
  job->work.data = job;
  return job;
}

/* Queues the probe; the job is owned by the thread pool from here. */
static void probe_start(probe_job *job) {
  vg_req *r = &job->req;
  vg_http_conn_hold(r->conn);
  int rc = uv_queue_work(r->app->loop, &job->work, probe_work, probe_done);
  if (rc) {
    vg_log_error("cameras: cannot queue a connection test: %s", uv_strerror(rc));
    vg_api_error(r, 500, "internal", "cannot run the test");
    vg_http_conn_release(r->conn);
    probe_job_free(job);
  }
}

/* POST /cameras/ID/test: the saved settings. */
static void test_saved(vg_req *r, const vg_camera_row *cam) {
  probe_job *job = probe_job_new(r);
  if (!job) return;
  job->camera_id = cam->id;
  snprintf(job->url, sizeof job->url, "%s", cam->url);
  snprintf(job->username, sizeof job->username, "%s", cam->username);
  job->udp = strcmp(cam->transport, "udp") == 0;
  if (cam->password_enc_len) {
    size_t len;
    int rc = vg_secret_open(r->app->secret_key, cam->password_enc, cam->password_enc_len,
                            job->password, sizeof job->password, &len);
    if (rc) {
      vg_log_error("cameras: the password of camera %" PRId64 " does not open: %s", cam->id,
                   vg_strerror(rc));
      vg_api_error(r, 500, "internal",
                   "the stored password cannot be read (was secret.key replaced?); set it again");
      probe_job_free(job);
      return;
    }
  }
  probe_start(job);
}

/* POST /cameras/test {url, username?, password?, transport?}: settings
 * not saved yet. */
static void test_unsaved(vg_req *r) {
  if (!vg_api_require_admin(r)) return;
  json_t *body;
  if (vg_api_body(r, &body)) return;
  static const char *const allowed[] = {"url", "username", "password", "transport"};
  const char *key;
  json_t *v;
  json_object_foreach(body, key, v) {
    size_t i = 0;
    while (i < 4 && strcmp(allowed[i], key) != 0) i++;
    if (i == 4) {
      vg_api_error(r, 422, "invalid_field",
                   "unknown field %s (expected url, username, password or transport)", key);
      goto out;
    }
  }
  const char *url = NULL, *username = NULL, *password = NULL, *transport = NULL;
  if (vg_api_text(r, body, "url", true, VG_URL_MAX, true, &url) < 0 ||
      vg_api_text(r, body, "username", false, VG_CAMERA_USERNAME_MAX, true, &username) < 0 ||
      vg_api_text(r, body, "password", false, VG_CAMERA_PASSWORD_MAX, false, &password) < 0 ||
      vg_api_text(r, body, "transport", false, 3, true, &transport) < 0)
    goto out;
  if (transport && strcmp(transport, "tcp") != 0 && strcmp(transport, "udp") != 0) {
    vg_api_error(r, 422, "invalid_field", "transport must be \"tcp\" or \"udp\"");
    goto out;
  }
  rtsp_url u;
  const char *why = rtsp_url_parse(url, &u);
  if (why) {
    vg_api_error(r, 422, "invalid_field", "url %s", why);
    goto out;
  }
  probe_job *job = probe_job_new(r);
  if (job) {
    snprintf(job->url, sizeof job->url, "%s", u.clean);
    snprintf(job->username, sizeof job->username, "%s", username ? username : u.user);
    snprintf(job->password, sizeof job->password, "%s", password ? password : u.pass);
    job->udp = transport && strcmp(transport, "udp") == 0;
    probe_start(job);
  }
  sodium_memzero(&u, sizeof u);
out:
  json_decref(body);
}

void vg_cameras_handle(vg_req *r, const char *sub) {
  if (!vg_api_require_user(r)) return;
  if (!sub[0]) {
    if (vg_req_method(r, "POST"))
      create_camera(r);
    else
      vg_api_method_not_allowed(r, "POST");
    return;
  }
  if (strcmp(sub, "/test") == 0) {
    if (vg_req_method(r, "POST"))
      test_unsaved(r);
    else
      vg_api_method_not_allowed(r, "POST");
    return;
  }
  int64_t id;
  const char *rest;
  if (!vg_api_parse_id(sub, &id, &rest) ||
      (rest[0] && strcmp(rest, "/test") != 0 && strcmp(rest, "/live") != 0)) {
    vg_api_error(r, 404, "not_found", "no such route");
    return;
  }
  vg_camera_row cam;
  if (!load_camera(r, id, &cam)) return;
  if (strcmp(rest, "/live") == 0) {
    if (!vg_req_is_get(r))
      vg_api_method_not_allowed(r, "GET");
    else
      vg_live_grant_handle(r, &cam);
  } else if (rest[0]) {
    if (!vg_req_method(r, "POST"))
      vg_api_method_not_allowed(r, "POST");
    else if (vg_api_require_admin(r))
      test_saved(r, &cam);
  } else if (vg_req_is_get(r)) {
    answer_camera(r, 200, &cam);
  } else if (vg_req_method(r, "PATCH") || vg_req_method(r, "DELETE")) {
    if (vg_api_require_admin(r)) {
      if (vg_req_method(r, "PATCH"))
        patch_camera(r, &cam);
      else
        delete_camera(r, &cam);
    }
  } else {
    vg_api_method_not_allowed(r, "GET, PATCH, DELETE");
  }
  sodium_memzero(&cam, sizeof cam);
}
