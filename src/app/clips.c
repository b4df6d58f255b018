/* clips.c - named stretches of a recording: POST/GET
 * /api/v1/recordings/{id}/clips, GET/PATCH/DELETE /api/v1/clips/{id},
 * and the clip's own media and export URLs.
 *
 * A clip is a row (recording, from, to in recording seconds, title, keep),
 * never a copy of the video: its MP4 is built from the recording's segment
 * files like any other span. Reading needs the right to see the room;
 * creating, changing and deleting are for operators and administrators,
 * as recording is. Media, clip and export URLs of a room the caller may
 * not see answer 403. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "app/playback.h"
#include "app/review.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"

/* The end of a clip may pass the recording's duration by this much (the
 * duration a client saw a moment ago, rounding). */
#define CLIP_SLACK_S 0.5

json_t *vg_clip_json(const vg_clip *c) {
  return json_pack("{s:I,s:I,s:f,s:f,s:f,s:s,s:s,s:I,s:b,s:I,s:I}", "id", (json_int_t)c->id,
                   "recording_id", (json_int_t)c->recording_id, "from", c->from_s, "to", c->to_s,
                   "duration", c->to_s - c->from_s, "title", c->title, "author", c->author_name,
                   "author_id", (json_int_t)c->author_id, "keep", c->keep, "created_at",
                   (json_int_t)c->created_at, "updated_at", (json_int_t)c->updated_at);
}

json_t *vg_clips_json(vg_app *app, int64_t recording_id) {
  vg_clip *clips = NULL;
  size_t n = 0;
  json_t *arr = json_array();
  if (vg_store_clip_list(app->store, recording_id, &clips, &n) == 0)
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, vg_clip_json(&clips[i]));
  free(clips);
  return arr;
}

int64_t vg_review_wall_ms(const vg_span *spans, size_t n, double t) {
  int64_t want = (int64_t)llround(t * 1000.0), seen = 0, now = vg_now_ms();
  for (size_t i = 0; i < n; i++) {
    int64_t end = spans[i].end_ms ? spans[i].end_ms : now;
    int64_t len = end > spans[i].start_ms ? end - spans[i].start_ms : 0;
    if (want <= seen + len) return spans[i].start_ms + (want - seen);
    seen += len;
  }
  return 0;
}

double vg_review_recorded_seconds(vg_app *app, int64_t recording_id) {
  vg_span *spans = NULL;
  size_t n = 0;
  vg_store_span_list(app->store, recording_id, &spans, &n);
  int64_t now = vg_now_ms(), ms = 0;
  for (size_t i = 0; i < n; i++) {
    int64_t end = spans[i].end_ms ? spans[i].end_ms : now;
    if (end > spans[i].start_ms) ms += end - spans[i].start_ms;
  }
  free(spans);
  return (double)ms / 1000.0;
}

bool vg_review_load(vg_req *r, int64_t recording_id, vg_recording *rec) {
  if (!vg_api_require_user(r)) return false;
  int rc = vg_store_recording_get(r->app->store, recording_id, rec);
  if (rc == VG_ENOTFOUND) {
    vg_api_error(r, 404, "not_found", "no recording %lld", (long long)recording_id);
    return false;
  }
  if (rc) {
    vg_api_store_error(r, "read the recording", rc);
    return false;
  }
  bool visible = false;
  vg_store_room_visible(r->app->store, rec->room_id, r->user.id, &visible);
  if (!visible) {
    vg_api_error(r, 403, "forbidden", "you may not see the room of recording %lld",
                 (long long)recording_id);
    return false;
  }
  return true;
}

bool vg_review_may_edit(vg_req *r) {
  if (strcmp(r->user.role, "admin") == 0 || strcmp(r->user.role, "operator") == 0) return true;
  vg_api_error(r, 403, "forbidden", "only operators and administrators may do this");
  return false;
}

/* Reads a number of recording seconds: 1 present, 0 absent, -1 answered. */
static int seconds_field(vg_req *r, json_t *body, const char *key, double *out) {
  json_t *v = json_object_get(body, key);
  if (!v || json_is_null(v)) return 0;
  double x = json_is_number(v) ? json_number_value(v) : NAN;
  if (!isfinite(x) || x < 0) {
    vg_api_error(r, 422, "invalid_field", "%s must be a number of seconds >= 0", key);
    return -1;
  }
  *out = x;
  return 1;
}

static bool known_fields(vg_req *r, json_t *body) {
  const char *key;
  json_t *v;
  json_object_foreach(body, key, v) {
    if (strcmp(key, "from") && strcmp(key, "to") && strcmp(key, "title") && strcmp(key, "keep")) {
      vg_api_error(r, 422, "invalid_field", "unknown field %s: give from, to, title or keep", key);
      return false;
    }
  }
  return true;
}

/* Applies the fields of body to c (all checked before any is set).
 * create: from and to are required. */
static bool clip_fields(vg_req *r, json_t *body, const vg_recording *rec, vg_clip *c, bool create,
                        json_t *changed) {
  double from = c->from_s, to = c->to_s;
  const char *title = NULL;
  int hf, ht, hti;
  if (!known_fields(r, body) || (hf = seconds_field(r, body, "from", &from)) < 0 ||
      (ht = seconds_field(r, body, "to", &to)) < 0 ||
      (hti = vg_api_text(r, body, "title", false, VG_TITLE_MAX, true, &title)) < 0)
    return false;
  json_t *keep = json_object_get(body, "keep");
  if (keep && !json_is_boolean(keep)) {
    vg_api_error(r, 422, "invalid_field", "keep must be true or false");
    return false;
  }
  if (create && (!hf || !ht)) {
    vg_api_error(r, 422, "invalid_field", "from and to (recording seconds) are required");
    return false;
  }
  if (!create && !hf && !ht && !hti && !keep) {
    vg_api_error(r, 422, "invalid_field", "nothing to change: give from, to, title or keep");
    return false;
  }
  if (from >= to) {
    vg_api_error(r, 422, "invalid_span", "from (%.3f) must be before to (%.3f)", from, to);
    return false;
  }
  double duration = vg_review_recorded_seconds(r->app, rec->id);
  if (to > duration + CLIP_SLACK_S) {
    vg_api_error(r, 422, "invalid_span", "to (%.3f) is past the recording's %.3f s", to, duration);
    return false;
  }
  if (hf) json_array_append_new(changed, json_string("from"));
  if (ht) json_array_append_new(changed, json_string("to"));
  if (hti) json_array_append_new(changed, json_string("title"));
  if (keep) json_array_append_new(changed, json_string("keep"));
  c->from_s = from;
  c->to_s = to;
  if (hti) snprintf(c->title, sizeof c->title, "%s", title ? title : "");
  if (keep) c->keep = json_is_true(keep);
  return true;
}

static void audit_clip(vg_req *r, const char *action, const vg_clip *c, const vg_recording *rec,
                       json_t *detail) {
  char target[32];
  snprintf(target, sizeof target, "clip:%lld", (long long)c->id);
  if (!detail) detail = json_object();
  json_object_set_new(detail, "recording_id", json_integer(rec->id));
  json_object_set_new(detail, "room_id", json_integer(rec->room_id));
  json_object_set_new(detail, "from", json_real(c->from_s));
  json_object_set_new(detail, "to", json_real(c->to_s));
  vg_audit(r->app, r, action, target, detail);
}

static void publish_clip(vg_app *app, const char *action, const vg_clip *c, int64_t room_id) {
  vg_events_publish(app->events, "clip.changed", room_id,
                    json_pack("{s:s,s:o}", "action", action, "clip", vg_clip_json(c)));
}

static void create_clip(vg_req *r, const vg_recording *rec) {
  if (!vg_review_may_edit(r)) return;
  json_t *body;
  if (vg_api_body(r, &body)) return;
  vg_clip c;
  memset(&c, 0, sizeof c);
  c.recording_id = rec->id;
  json_t *changed = json_array();
  if (clip_fields(r, body, rec, &c, true, changed)) {
    c.author_id = r->user.id;
    snprintf(c.author_name, sizeof c.author_name, "%s", r->user.username);
    int rc = vg_store_clip_create(r->app->store, &c);
    if (rc) {
      vg_api_store_error(r, "store the clip", rc);
    } else {
      audit_clip(r, "clip.create", &c, rec,
                 json_pack("{s:s,s:b}", "title", c.title, "keep", c.keep));
      publish_clip(r->app, "created", &c, rec->room_id);
      vg_api_json(r, 201, vg_clip_json(&c));
    }
  }
  json_decref(changed);
  json_decref(body);
}

void vg_clips_recording_handle(vg_req *r, int64_t recording_id) {
  vg_recording rec;
  if (!vg_review_load(r, recording_id, &rec)) return;
  if (vg_req_is_get(r)) {
    json_t *items = vg_clips_json(r->app, rec.id);
    vg_api_list(r, items, (int64_t)json_array_size(items));
  } else if (vg_req_method(r, "POST")) {
    create_clip(r, &rec);
  } else {
    vg_api_method_not_allowed(r, "GET, POST");
  }
}

static void patch_clip(vg_req *r, vg_clip *c, const vg_recording *rec) {
  if (!vg_review_may_edit(r)) return;
  json_t *body;
  if (vg_api_body(r, &body)) return;
  json_t *changed = json_array();
  if (clip_fields(r, body, rec, c, false, changed)) {
    int rc = vg_store_clip_update(r->app->store, c);
    if (rc == VG_ENOTFOUND) {
      vg_api_error(r, 404, "not_found", "no clip %lld", (long long)c->id);
    } else if (rc) {
      vg_api_store_error(r, "update the clip", rc);
    } else {
      audit_clip(r, "clip.update", c, rec,
                 json_pack("{s:O,s:b}", "fields", changed, "keep", c->keep));
      publish_clip(r->app, "updated", c, rec->room_id);
      vg_api_json(r, 200, vg_clip_json(c));
    }
  }
  json_decref(changed);
  json_decref(body);
}

static void delete_clip(vg_req *r, const vg_clip *c, const vg_recording *rec) {
  if (!vg_review_may_edit(r)) return;
  int rc = vg_store_clip_delete(r->app->store, c->id);
  if (rc == VG_ENOTFOUND) {
    vg_api_error(r, 404, "not_found", "no clip %lld", (long long)c->id);
    return;
  }
  if (rc) {
    vg_api_store_error(r, "delete the clip", rc);
    return;
  }
  audit_clip(r, "clip.delete", c, rec, json_pack("{s:s}", "title", c->title));
  publish_clip(r->app, "deleted", c, rec->room_id);
  vg_api_no_content(r);
}

void vg_clips_handle(vg_req *r, const char *sub) {
  if (!vg_api_require_user(r)) return;
  int64_t id;
  const char *rest;
  if (!vg_api_item_id(r, sub, &id, &rest)) return;
  vg_clip c;
  int rc = vg_store_clip_get(r->app->store, id, &c);
  if (rc == VG_ENOTFOUND) {
    vg_api_error(r, 404, "not_found", "no clip %lld", (long long)id);
    return;
  }
  if (rc) {
    vg_api_store_error(r, "read the clip", rc);
    return;
  }
  vg_recording rec;
  if (!vg_review_load(r, c.recording_id, &rec)) return;
  if (!rest[0]) {
    if (vg_req_is_get(r))
      vg_api_json(r, 200, vg_clip_json(&c));
    else if (vg_req_method(r, "PATCH"))
      patch_clip(r, &c, &rec);
    else if (vg_req_method(r, "DELETE"))
      delete_clip(r, &c, &rec);
    else
      vg_api_method_not_allowed(r, "GET, PATCH, DELETE");
  } else if (strncmp(rest, "/media/", 7) == 0) {
    vg_review_clip_media(r, &c, &rec, rest + 7);
  } else if (strcmp(rest, "/export") == 0) {
    vg_export_handle(r, &rec, &c);
  } else {
    vg_api_error(r, 404, "not_found", "no such route");
  }
}

/* The recording's media endpoint (playback.c) serves the clip, asked for
 * the clip's span: one MP4 path, one Range and audit logic for both. Its
 * handler reads the span from the query, so it gets a copy of the request
 * whose query names the clip's span (and keeps ?download=). */
void vg_review_clip_media(vg_req *r, const vg_clip *c, const vg_recording *rec, const char *rest) {
  char dl[8] = "";
  vg_api_query(r, "download", dl, sizeof dl);
  bool download = strcmp(dl, "1") == 0 || strcmp(dl, "true") == 0;
  char q[128];
  snprintf(q, sizeof q, "from=%.17g&to=%.17g%s", c->from_s, c->to_s, download ? "&download=1" : "");
  vg_http_request h = *r->http;
  h.query = q;
  h.query_len = strlen(q);
  vg_req copy = *r;
  copy.http = &h;
  vg_playback_handle(&copy, rec->id, rest);
}
