/* recordings.c - room recording sessions and what they produced:
 * record/start|pause|resume|stop and status of a room, the recordings list
 * and details, and markers.
 *
 * A recording's state lives in the store (recording, paused, stopped) and
 * its un-paused stretches in spans; the recorder is told which cameras
 * write into which recording. Times are UTC ms; "duration" and marker
 * "time" are seconds of recorded time, pauses left out. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "app/review.h"
#include "app/playback.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/json.h"
#include "base/log.h"

/* A hole in a camera's files shorter than this is the seam of a roll or
 * the wait for a keyframe after a resume, not a gap (a camera that drops
 * is away for longer: the reconnect alone takes more). */
#define GAP_MIN_MS 2000
/* Markers may be dropped this far past the duration last seen by a slow
 * client. */
#define MARKER_SLACK_S 2.0

static bool may_record(vg_req *r) {
  if (!vg_api_require_user(r)) return false;
  if (strcmp(r->user.role, "admin") == 0 || strcmp(r->user.role, "operator") == 0) return true;
  vg_api_error(r, 403, "forbidden", "only operators and administrators may record");
  return false;
}

/* Seconds recorded: the spans, an open one counted up to now. */
static double recorded_seconds(const vg_span *spans, size_t n, int64_t now) {
  int64_t ms = 0;
  for (size_t i = 0; i < n; i++) {
    int64_t end = spans[i].end_ms ? spans[i].end_ms : now;
    if (end > spans[i].start_ms) ms += end - spans[i].start_ms;
  }
  return (double)ms / 1000.0;
}

static double recording_duration(vg_app *app, int64_t id) {
  vg_span *spans = NULL;
  size_t n = 0;
  vg_store_span_list(app->store, id, &spans, &n);
  double d = recorded_seconds(spans, n, vg_now_ms());
  free(spans);
  return d;
}

static json_t *time_or_null(int64_t ms) { return ms ? json_integer(ms) : json_null(); }

static json_t *marker_json(const vg_marker *m) {
  return json_pack("{s:I,s:I,s:f,s:s,s:s,s:s,s:s,s:I,s:I,s:I}", "id", (json_int_t)m->id,
                   "recording_id", (json_int_t)m->recording_id, "time", m->time_s, "label",
                   m->label, "color", m->color, "note", m->note, "author", m->author_name,
                   "author_id", (json_int_t)m->author_id, "created_at", (json_int_t)m->created_at,
                   "updated_at", (json_int_t)m->updated_at);
}

static json_t *recording_summary(vg_app *app, const vg_recording *rec) {
  json_t *j = json_pack(
      "{s:I,s:I,s:s,s:s,s:I,s:s,s:I,s:o,s:f,s:b,s:o}", "id", (json_int_t)rec->id, "room_id",
      (json_int_t)rec->room_id, "title", rec->title, "author", rec->author_name, "author_id",
      (json_int_t)rec->author_id, "state", rec->state, "start", (json_int_t)rec->started_at, "end",
      time_or_null(rec->ended_at), "duration", recording_duration(app, rec->id), "locked",
      rec->locked, "retention_until", time_or_null(rec->retention_until));
  int64_t count = 0;
  vg_store_marker_count(app->store, rec->id, &count);
  json_object_set_new(j, "marker_count", json_integer(count));
  json_object_set_new(j, "retention", vg_retention_json(app, rec->id));
  return j;
}

/* Holes in a camera's files inside the recording's spans. */
static json_t *track_gaps(const vg_span *spans, size_t nspans, const vg_segment *segs, size_t nsegs,
                          int64_t now) {
  json_t *gaps = json_array();
  for (size_t s = 0; s < nspans; s++) {
    int64_t from = spans[s].start_ms;
    int64_t to = spans[s].end_ms ? spans[s].end_ms : now;
    int64_t covered = from; /* everything before this is accounted for */
    for (size_t k = 0; k < nsegs; k++) {
      const vg_segment *g = &segs[k];
      int64_t gend = strcmp(g->state, "open") == 0 ? now : g->end_ms;
      if (gend <= covered || g->start_ms >= to) continue;
      if (g->start_ms - covered >= GAP_MIN_MS)
        json_array_append_new(gaps, json_pack("{s:I,s:I}", "start", (json_int_t)covered, "end",
                                              (json_int_t)g->start_ms));
      if (gend > covered) covered = gend;
    }
    /* A camera still away at the end of a finished span. */
    if (spans[s].end_ms && to - covered >= GAP_MIN_MS)
      json_array_append_new(
          gaps, json_pack("{s:I,s:I}", "start", (json_int_t)covered, "end", (json_int_t)to));
  }
  return gaps;
}

static json_t *recording_details(vg_app *app, const vg_recording *rec) {
  json_t *j = recording_summary(app, rec);
  int64_t now = vg_now_ms();
  vg_span *spans = NULL;
  size_t nspans = 0;
  vg_store_span_list(app->store, rec->id, &spans, &nspans);
  json_t *jspans = json_array();
  for (size_t i = 0; i < nspans; i++)
    json_array_append_new(jspans, json_pack("{s:I,s:o}", "start", (json_int_t)spans[i].start_ms,
                                            "end", time_or_null(spans[i].end_ms)));
  json_object_set_new(j, "spans", jspans);

  vg_track *tracks = NULL;
  size_t nt = 0;
  vg_store_track_list(app->store, rec->id, &tracks, &nt);
  json_t *jtracks = json_array();
  for (size_t i = 0; i < nt; i++) {
    vg_segment *segs = NULL;
    size_t ns = 0;
    vg_store_segment_list(app->store, rec->id, tracks[i].camera_id, &segs, &ns);
    json_t *jsegs = json_array();
    for (size_t k = 0; k < ns; k++)
      json_array_append_new(
          jsegs, json_pack("{s:I,s:I,s:I,s:I,s:I,s:s,s:s}", "id", (json_int_t)segs[k].id, "start",
                           (json_int_t)segs[k].start_ms, "end", (json_int_t)segs[k].end_ms, "bytes",
                           (json_int_t)segs[k].bytes, "frames", (json_int_t)segs[k].frames,
                           "sha256", segs[k].sha256, "state", segs[k].state));
    json_t *jt =
        json_pack("{s:I,s:s,s:o,s:o,s:I,s:o,s:o}", "camera_id", (json_int_t)tracks[i].camera_id,
                  "camera_name", tracks[i].camera_name, "start", time_or_null(tracks[i].started_at),
                  "end", time_or_null(tracks[i].ended_at), "bytes", (json_int_t)tracks[i].bytes,
                  "segments", jsegs, "gaps", track_gaps(spans, nspans, segs, ns, now));
    if (tracks[i].sha256[0]) json_object_set_new(jt, "sha256", json_string(tracks[i].sha256));
    json_array_append_new(jtracks, jt);
    free(segs);
  }
  json_object_set_new(j, "tracks", jtracks);
  free(tracks);
  free(spans);

  vg_marker *markers = NULL;
  size_t nm = 0;
  vg_store_marker_list(app->store, rec->id, &markers, &nm);
  json_t *jm = json_array();
  for (size_t i = 0; i < nm; i++) json_array_append_new(jm, marker_json(&markers[i]));
  free(markers);
  json_object_set_new(j, "markers", jm);
  json_object_set_new(j, "clips", vg_clips_json(app, rec->id));
  return j;
}

static void publish_recording(vg_app *app, const char *action, const vg_recording *rec) {
  vg_events_publish(
      app->events, "recording.changed", rec->room_id,
      json_pack("{s:s,s:o}", "action", action, "recording", recording_summary(app, rec)));
}

static void audit_recording(vg_app *app, const vg_req *r, const char *action,
                            const vg_recording *rec, json_t *detail) {
  char target[32];
  snprintf(target, sizeof target, "recording:%lld", (long long)rec->id);
  if (!detail) detail = json_object();
  json_object_set_new(detail, "room_id", json_integer(rec->room_id));
  vg_audit(app, r, action, target, detail);
}

/* ---- state changes ---- */

static int stop_recording(vg_app *app, vg_recording *rec) {
  int64_t now = vg_now_ms();
  if (strcmp(rec->state, "recording") == 0) vg_store_span_close(app->store, rec->id, now);
  snprintf(rec->state, sizeof rec->state, "stopped");
  rec->ended_at = now;
  int rc = vg_store_recording_update(app->store, rec);
  vg_media_record(app, rec->room_id, 0, 0);
  vg_track *tracks = NULL;
  size_t nt = 0;
  vg_store_track_list(app->store, rec->id, &tracks, &nt);
  for (size_t i = 0; i < nt; i++) vg_media_track_seal(app, rec->id, tracks[i].camera_id);
  free(tracks);
  return rc;
}

void vg_recordings_stop_by_system(vg_app *app, vg_recording *rec, const char *reason) {
  stop_recording(app, rec);
  audit_recording(app, NULL, "recording.stop", rec, json_pack("{s:s}", "reason", reason));
  publish_recording(app, "stopped", rec);
}

static void record_start(vg_req *r, const vg_room *room) {
  vg_app *app = r->app;
  json_t *body = NULL;
  const char *title = "";
  if (r->body_len > 0) {
    if (vg_api_body(r, &body)) return;
    if (vg_api_text(r, body, "title", false, VG_TITLE_MAX, true, &title) < 0) {
      json_decref(body);
      return;
    }
    if (!title) title = "";
  }
  vg_recording rec;
  const char *code = NULL, *why = NULL;
  vg_camera_row *cams = NULL;
  size_t ncams = 0, enabled = 0;
  vg_store_camera_list(app->store, room->id, &cams, &ncams);
  for (size_t i = 0; i < ncams; i++) enabled += cams[i].enabled;
  free(cams);
  if (room->disabled)
    code = "room_disabled", why = "the room is disabled";
  else if (vg_store_recording_active(app->store, room->id, &rec) == 0)
    code = "already_recording", why = "the room is already recording";
  else if (enabled == 0)
    code = "no_cameras", why = "the room has no enabled camera";
  else if (vg_media_disk_low(app))
    code = "disk_full", why = "free space is below the floor; recording is refused";
  if (code) {
    json_decref(body);
    vg_api_error(r, 409, code, "%s", why);
    return;
  }
  memset(&rec, 0, sizeof rec);
  rec.room_id = room->id;
  snprintf(rec.title, sizeof rec.title, "%s", title[0] ? title : room->name);
  json_decref(body);
  rec.author_id = r->user.id;
  snprintf(rec.author_name, sizeof rec.author_name, "%s", r->user.username);
  snprintf(rec.state, sizeof rec.state, "recording");
  rec.started_at = vg_now_ms();
  if (vg_store_recording_create(app->store, &rec) != 0 ||
      vg_store_span_open(app->store, rec.id, rec.started_at) != 0) {
    vg_api_error(r, 500, "internal", "could not store the recording");
    return;
  }
  vg_media_record(app, room->id, rec.id, 0);
  audit_recording(app, r, "recording.start", &rec, NULL);
  publish_recording(app, "started", &rec);
  json_t *j = json_pack("{s:I,s:o}", "recording_id", (json_int_t)rec.id, "recording",
                        recording_details(app, &rec));
  vg_api_json(r, 201, j);
}

static void record_change(vg_req *r, const vg_room *room, const char *what) {
  vg_app *app = r->app;
  vg_recording rec;
  if (vg_store_recording_active(app->store, room->id, &rec) != 0) {
    vg_api_error(r, 409, "wrong_state", "the room is not recording");
    return;
  }
  int64_t now = vg_now_ms();
  const char *action;
  if (strcmp(what, "pause") == 0) {
    if (strcmp(rec.state, "recording") != 0) {
      vg_api_error(r, 409, "wrong_state", "the recording is %s, not recording", rec.state);
      return;
    }
    vg_store_span_close(app->store, rec.id, now);
    snprintf(rec.state, sizeof rec.state, "paused");
    vg_store_recording_update(app->store, &rec);
    vg_media_record(app, room->id, 0, 0);
    action = "paused";
  } else if (strcmp(what, "resume") == 0) {
    if (strcmp(rec.state, "paused") != 0) {
      vg_api_error(r, 409, "wrong_state", "the recording is %s, not paused", rec.state);
      return;
    }
    if (vg_media_disk_low(app)) {
      vg_api_error(r, 409, "disk_full", "free space is below the floor; recording is refused");
      return;
    }
    vg_store_span_open(app->store, rec.id, now);
    snprintf(rec.state, sizeof rec.state, "recording");
    vg_store_recording_update(app->store, &rec);
    vg_media_record(app, room->id, rec.id, now);
    action = "resumed";
  } else {
    stop_recording(app, &rec);
    action = "stopped";
  }
  char audit_action[32];
  snprintf(audit_action, sizeof audit_action, "recording.%s", what);
  audit_recording(app, r, audit_action, &rec, NULL);
  publish_recording(app, action, &rec);
  vg_api_json(r, 200, recording_details(app, &rec));
}

void vg_recordings_room_handle(vg_req *r, const vg_room *room, const char *rest) {
  if (strcmp(rest, "/status") == 0) {
    if (!vg_req_is_get(r)) {
      vg_api_method_not_allowed(r, "GET");
      return;
    }
    vg_recording rec;
    json_t *j;
    if (room->disabled)
      j = json_pack("{s:s}", "status", "locked");
    else if (vg_store_recording_active(r->app->store, room->id, &rec) == 0)
      j = json_pack("{s:s,s:I,s:f,s:I}", "status", rec.state, "recording_id", (json_int_t)rec.id,
                    "duration", recording_duration(r->app, rec.id), "start",
                    (json_int_t)rec.started_at);
    else
      j = json_pack("{s:s}", "status", "available");
    vg_api_json(r, 200, j);
    return;
  }
  const char *what = rest + 8; /* after "/record/" */
  if (strcmp(what, "start") && strcmp(what, "pause") && strcmp(what, "resume") &&
      strcmp(what, "stop")) {
    vg_api_error(r, 404, "not_found", "no such route");
    return;
  }
  if (!vg_req_method(r, "POST")) {
    vg_api_method_not_allowed(r, "POST");
    return;
  }
  if (!may_record(r)) return;
  if (strcmp(what, "start") == 0)
    record_start(r, room);
  else
    record_change(r, room, what);
}

/* ---- recordings and markers ---- */

/* Loads a recording whose room the caller may see; answers 404 otherwise. */
static bool load_recording(vg_req *r, int64_t id, vg_recording *rec) {
  if (vg_store_recording_get(r->app->store, id, rec) != 0) {
    vg_api_error(r, 404, "not_found", "no such recording");
    return false;
  }
  bool visible = false;
  vg_store_room_visible(r->app->store, rec->room_id, r->user.id, &visible);
  if (!visible) {
    vg_api_error(r, 404, "not_found", "no such recording");
    return false;
  }
  return true;
}

static int query_i64(vg_req *r, const char *key, int64_t *out) {
  char v[32];
  if (vg_api_query(r, key, v, sizeof v) != 0) return 0;
  char *end;
  long long x = strtoll(v, &end, 10);
  if (!v[0] || *end || x < 0) {
    vg_api_error(r, 400, "invalid_parameter", "%s must be a whole number >= 0", key);
    return VG_EINVAL;
  }
  *out = x;
  return 0;
}

static void list_recordings(vg_req *r) {
  int64_t limit, offset;
  if (vg_api_paging(r, &limit, &offset)) return;
  vg_recording_filter f;
  memset(&f, 0, sizeof f);
  char q[VG_TITLE_MAX + 1], author[VG_USERNAME_MAX + 1], marker[VG_LABEL_MAX + 1], sort[16];
  if (query_i64(r, "room_id", &f.room_id) || query_i64(r, "from", &f.from) ||
      query_i64(r, "to", &f.to))
    return;
  if (vg_api_query(r, "q", q, sizeof q) == 0 && q[0]) f.q = q;
  if (vg_api_query(r, "author", author, sizeof author) == 0 && author[0]) f.author = author;
  if (vg_api_query(r, "marker", marker, sizeof marker) == 0 && marker[0]) f.marker = marker;
  if (vg_api_query(r, "sort", sort, sizeof sort) == 0 && sort[0]) {
    if (strcmp(sort, "date_asc") == 0)
      f.oldest_first = true;
    else if (strcmp(sort, "date_desc") != 0) {
      vg_api_error(r, 400, "invalid_parameter", "sort must be date_desc or date_asc");
      return;
    }
  }
  f.user_id = r->user.id;
  vg_recording *items = NULL;
  size_t n = 0;
  int64_t total = 0;
  if (vg_store_recording_list(r->app->store, &f, limit, offset, &items, &n, &total) != 0) {
    vg_api_error(r, 500, "internal", "could not list recordings");
    return;
  }
  json_t *arr = json_array();
  for (size_t i = 0; i < n; i++) {
    json_t *j = recording_summary(r->app, &items[i]);
    /* The library shows which cameras each recording has. */
    vg_track *tracks = NULL;
    size_t nt = 0;
    vg_store_track_list(r->app->store, items[i].id, &tracks, &nt);
    json_t *cams = json_array();
    for (size_t k = 0; k < nt; k++)
      json_array_append_new(
          cams, json_pack("{s:I,s:s}", "camera_id", (json_int_t)tracks[k].camera_id, "camera_name",
                          tracks[k].camera_name));
    free(tracks);
    json_object_set_new(j, "cameras", cams);
    json_array_append_new(arr, j);
  }
  free(items);
  vg_api_list(r, arr, total);
}

static bool color_valid(const char *c) {
  if (strlen(c) != 7 || c[0] != '#') return false;
  for (int i = 1; i < 7; i++)
    if (!strchr("0123456789abcdefABCDEF", c[i])) return false;
  return true;
}

static void add_marker(vg_req *r, const vg_recording *rec) {
  json_t *body;
  if (vg_api_body(r, &body)) return;
  json_t *t = json_object_get(body, "time");
  const char *label = NULL, *color = NULL, *note = NULL;
  double duration = recording_duration(r->app, rec->id);
  double time = t && json_is_number(t) ? json_number_value(t) : NAN;
  if (!t || !json_is_number(t) || !isfinite(time) || time < 0) {
    vg_api_error(r, 422, "invalid_field", "time must be a number of seconds >= 0");
  } else if (time > duration + MARKER_SLACK_S) {
    vg_api_error(r, 422, "invalid_field", "time %.3f is past the recording's %.3f s", time,
                 duration);
  } else if (vg_api_text(r, body, "label", true, VG_LABEL_MAX, true, &label) >= 0 &&
             vg_api_text(r, body, "color", false, 15, true, &color) >= 0 &&
             vg_api_text(r, body, "note", false, VG_NOTE_MAX, false, &note) >= 0) {
    if (!label || !label[0]) {
      vg_api_error(r, 422, "invalid_field", "label must not be empty");
    } else if (color && color[0] && !color_valid(color)) {
      vg_api_error(r, 422, "invalid_field", "color must look like #rrggbb");
    } else {
      vg_marker m;
      memset(&m, 0, sizeof m);
      m.recording_id = rec->id;
      m.time_s = time;
      snprintf(m.label, sizeof m.label, "%s", label);
      snprintf(m.color, sizeof m.color, "%s", color ? color : "");
      snprintf(m.note, sizeof m.note, "%s", note ? note : "");
      m.author_id = r->user.id;
      snprintf(m.author_name, sizeof m.author_name, "%s", r->user.username);
      if (vg_store_marker_create(r->app->store, &m) != 0) {
        vg_api_error(r, 500, "internal", "could not store the marker");
      } else {
        audit_recording(r->app, r, "marker.create", rec,
                        json_pack("{s:I,s:f}", "marker_id", (json_int_t)m.id, "time", m.time_s));
        vg_events_publish(r->app->events, "marker.created", rec->room_id,
                          json_pack("{s:o}", "marker", marker_json(&m)));
        vg_api_json(r, 201, marker_json(&m));
      }
    }
  }
  json_decref(body);
}

/* Checks the fields of a marker body that are present and applies them
 * to *m. Returns false after answering 422. */
static bool marker_fields(vg_req *r, json_t *body, const vg_recording *rec, vg_marker *m) {
  static const char *const allowed[] = {"time", "label", "color", "note"};
  const char *key;
  json_t *v;
  json_object_foreach(body, key, v) {
    size_t i = 0;
    while (i < 4 && strcmp(allowed[i], key) != 0) i++;
    if (i == 4) {
      vg_api_error(r, 422, "invalid_field",
                   "unknown field %s (expected time, label, color or note)", key);
      return false;
    }
  }
  json_t *t = json_object_get(body, "time");
  const char *label = NULL, *color = NULL, *note = NULL;
  if (t) {
    double time = json_is_number(t) ? json_number_value(t) : NAN;
    double duration = recording_duration(r->app, rec->id);
    if (!isfinite(time) || time < 0) {
      vg_api_error(r, 422, "invalid_field", "time must be a number of seconds >= 0");
      return false;
    }
    if (time > duration + MARKER_SLACK_S) {
      vg_api_error(r, 422, "invalid_field", "time %.3f is past the recording's %.3f s", time,
                   duration);
      return false;
    }
    m->time_s = time;
  }
  int has_label = vg_api_text(r, body, "label", false, VG_LABEL_MAX, true, &label);
  if (has_label < 0) return false;
  if (json_object_get(body, "label") && (!label || !label[0])) {
    vg_api_error(r, 422, "invalid_field", "label must not be empty");
    return false;
  }
  if (vg_api_text(r, body, "color", false, 15, true, &color) < 0 ||
      vg_api_text(r, body, "note", false, VG_NOTE_MAX, false, &note) < 0)
    return false;
  if (color && color[0] && !color_valid(color)) {
    vg_api_error(r, 422, "invalid_field", "color must look like #rrggbb");
    return false;
  }
  if (label) snprintf(m->label, sizeof m->label, "%s", label);
  if (json_object_get(body, "color")) snprintf(m->color, sizeof m->color, "%s", color ? color : "");
  if (json_object_get(body, "note")) snprintf(m->note, sizeof m->note, "%s", note ? note : "");
  return true;
}

/* PATCH|DELETE /recordings/ID/markers/MID: who may see the room, as for
 * adding one. The author and created_at stay; updated_at moves. */
static void one_marker(vg_req *r, const vg_recording *rec, const char *sub) {
  int64_t mid;
  const char *rest;
  if (!vg_api_item_id(r, sub, &mid, &rest)) return;
  vg_marker m;
  if (rest[0] || vg_store_marker_get(r->app->store, mid, &m) != 0 || m.recording_id != rec->id) {
    vg_api_error(r, 404, "not_found", "no such marker");
    return;
  }
  if (vg_req_is_get(r)) {
    vg_api_json(r, 200, marker_json(&m));
  } else if (vg_req_method(r, "PATCH")) {
    json_t *body;
    if (vg_api_body(r, &body)) return;
    bool ok = marker_fields(r, body, rec, &m);
    json_t *fields = json_array();
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v) json_array_append_new(fields, json_string(key));
    json_decref(body);
    if (!ok) {
      json_decref(fields);
      return;
    }
    int rc = vg_store_marker_update(r->app->store, &m);
    if (rc) {
      json_decref(fields);
      vg_api_store_error(r, "update the marker", rc);
      return;
    }
    audit_recording(r->app, r, "marker.update", rec,
                    json_pack("{s:I,s:o}", "marker_id", (json_int_t)m.id, "fields", fields));
    vg_events_publish(r->app->events, "marker.updated", rec->room_id,
                      json_pack("{s:o}", "marker", marker_json(&m)));
    vg_api_json(r, 200, marker_json(&m));
  } else if (vg_req_method(r, "DELETE")) {
    int rc = vg_store_marker_delete(r->app->store, m.id);
    if (rc) {
      vg_api_store_error(r, "delete the marker", rc);
      return;
    }
    audit_recording(r->app, r, "marker.delete", rec,
                    json_pack("{s:I,s:f,s:s}", "marker_id", (json_int_t)m.id, "time", m.time_s,
                              "label", m.label));
    vg_events_publish(r->app->events, "marker.deleted", rec->room_id,
                      json_pack("{s:o}", "marker", marker_json(&m)));
    vg_api_no_content(r);
  } else {
    vg_api_method_not_allowed(r, "GET, PATCH, DELETE");
  }
}

static void list_markers(vg_req *r, const vg_recording *rec) {
  vg_marker *markers = NULL;
  size_t n = 0;
  if (vg_store_marker_list(r->app->store, rec->id, &markers, &n) != 0) {
    vg_api_error(r, 500, "internal", "could not list markers");
    return;
  }
  json_t *arr = json_array();
  for (size_t i = 0; i < n; i++) json_array_append_new(arr, marker_json(&markers[i]));
  free(markers);
  vg_api_list(r, arr, (int64_t)n);
}

void vg_recordings_handle(vg_req *r, const char *sub) {
  if (!vg_api_require_user(r)) return;
  if (!sub[0]) {
    if (vg_req_is_get(r))
      list_recordings(r);
    else
      vg_api_method_not_allowed(r, "GET");
    return;
  }
  int64_t id;
  const char *rest;
  if (!vg_api_item_id(r, sub, &id, &rest)) return;
  if (strncmp(rest, "/media/", 7) == 0) {
    vg_playback_handle(r, id, rest + 7); /* its own rights check: 403, not 404 */
    return;
  }
  if (strcmp(rest, "/clips") == 0) {
    vg_clips_recording_handle(r, id); /* 403 too (review.h) */
    return;
  }
  if (strcmp(rest, "/export") == 0) {
    vg_recording erec;
    if (vg_review_load(r, id, &erec)) vg_export_handle(r, &erec, NULL);
    return;
  }
  vg_recording rec;
  if (!load_recording(r, id, &rec)) return;
  if (!rest[0]) {
    if (vg_req_is_get(r))
      vg_api_json(r, 200, recording_details(r->app, &rec));
    else if (vg_req_method(r, "PATCH"))
      vg_retention_patch(r, &rec, recording_details); /* retention, locked, title */
    else
      vg_api_method_not_allowed(r, "GET, PATCH");
  } else if (strcmp(rest, "/markers") == 0) {
    if (vg_req_is_get(r))
      list_markers(r, &rec);
    else if (vg_req_method(r, "POST"))
      add_marker(r, &rec);
    else
      vg_api_method_not_allowed(r, "GET, POST");
  } else if (strncmp(rest, "/markers/", 9) == 0) {
    one_marker(r, &rec, rest + 8);
  } else if (strcmp(rest, "/thumbnail.jpg") == 0) {
    vg_thumbs_handle(r, &rec);
  } else {
    vg_api_error(r, 404, "not_found", "no such route");
  }
}
