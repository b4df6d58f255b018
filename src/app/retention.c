/* retention.c - how long a recording is kept, its lock, and the task that
 * deletes expired recordings.
 *
 * A recording inherits its room's retention_days (NULL: keep forever), or
 * keeps for N days after its end, until a date, or forever; a lock exempts
 * it. An expired recording with a kept clip is trimmed instead of deleted:
 * the segment files no kept clip touches go, the rows stay. The rule lives
 * in one SQL expression (store_sqlite.c, RECORDING_EXPIRES) shared with the
 * disk floor.
 *
 * The task runs once at start and every retention_check_seconds on the loop: the
 * store is asked for expired recordings (short queries, on the loop, as
 * the store is used from one thread), their rows go and are audited as the
 * system through the disk floor's deletion code (media.c), and the files
 * are unlinked in the thread pool. One sweep at a time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/review.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"

/* Recordings deleted per sweep; the next sweep takes the rest. */
#define SWEEP_MAX 100
/* Days a retention may say, about a century. */
#define DAYS_MAX 36500

json_t *vg_retention_json(vg_app *app, int64_t recording_id) {
  vg_retention ret;
  if (vg_store_retention_get(app->store, recording_id, &ret) != 0) return json_null();
  json_t *j = json_pack("{s:s,s:b}", "mode", ret.mode, "kept", ret.kept);
  if (strcmp(ret.mode, "days") == 0 || strcmp(ret.mode, "inherit") == 0)
    json_object_set_new(j, "days", ret.days >= 0 ? json_integer(ret.days) : json_null());
  if (strcmp(ret.mode, "until") == 0) json_object_set_new(j, "until", json_integer(ret.until));
  json_object_set_new(j, "expires_at", ret.expires_at ? json_integer(ret.expires_at) : json_null());
  /* Expired but held by a kept clip: only the clips' video is kept. */
  json_object_set_new(j, "trimmed",
                      json_boolean(ret.kept && ret.expires_at && ret.expires_at <= vg_now_ms()));
  return j;
}

/* Reads "until": UTC ms as a number, or an ISO 8601 date or date-time in
 * UTC ("2027-01-31" or "2027-01-31T12:00:00Z"). */
static bool parse_until(json_t *v, int64_t *out) {
  if (json_is_integer(v)) {
    *out = json_integer_value(v);
    return *out > 0;
  }
  if (!json_is_string(v)) return false;
  const char *s = json_string_value(v);
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  const char *end = strptime(s, "%Y-%m-%d", &tm);
  if (!end) return false;
  if (*end == 'T') {
    end = strptime(end + 1, "%H:%M:%S", &tm);
    if (!end) return false;
    if (*end == 'Z') end++;
  }
  if (*end) return false;
  time_t t = timegm(&tm);
  if (t <= 0) return false;
  *out = (int64_t)t * 1000;
  return true;
}

/* Parses {"mode", "days"?, "until"?} into ret; answers 422 itself. */
static bool retention_field(vg_req *r, json_t *v, vg_retention *ret) {
  memset(ret, 0, sizeof *ret);
  json_t *mode = json_is_object(v) ? json_object_get(v, "mode") : NULL;
  const char *m = mode && json_is_string(mode) ? json_string_value(mode) : "";
  if (strcmp(m, "inherit") && strcmp(m, "days") && strcmp(m, "until") && strcmp(m, "forever")) {
    vg_api_error(r, 422, "invalid_field",
                 "retention must be {\"mode\": \"inherit\", \"days\", \"until\" or \"forever\"}");
    return false;
  }
  snprintf(ret->mode, sizeof ret->mode, "%s", m);
  const char *key;
  json_t *x;
  json_object_foreach(v, key, x) {
    if (strcmp(key, "mode") && strcmp(key, "days") && strcmp(key, "until")) {
      vg_api_error(r, 422, "invalid_field", "retention: unknown field %s", key);
      return false;
    }
  }
  if (strcmp(m, "days") == 0) {
    json_t *d = json_object_get(v, "days");
    if (!json_is_integer(d) || json_integer_value(d) < 0 || json_integer_value(d) > DAYS_MAX) {
      vg_api_error(r, 422, "invalid_field", "retention days must be a whole number from 0 to %d",
                   DAYS_MAX);
      return false;
    }
    ret->days = json_integer_value(d);
  } else if (strcmp(m, "until") == 0) {
    if (!parse_until(json_object_get(v, "until"), &ret->until)) {
      vg_api_error(r, 422, "invalid_field",
                   "retention until must be UTC ms or a date like 2027-01-31 or "
                   "2027-01-31T12:00:00Z");
      return false;
    }
  }
  return true;
}

static void audit(vg_req *r, const char *action, const vg_recording *rec, json_t *detail) {
  char target[32];
  snprintf(target, sizeof target, "recording:%lld", (long long)rec->id);
  json_object_set_new(detail, "room_id", json_integer(rec->room_id));
  vg_audit(r->app, r, action, target, detail);
}

void vg_retention_patch(vg_req *r, vg_recording *rec,
                        json_t *(*details)(vg_app *app, const vg_recording *rec)) {
  if (!vg_review_may_edit(r)) return;
  json_t *body;
  if (vg_api_body(r, &body)) return;
  const char *key;
  json_t *v;
  json_object_foreach(body, key, v) {
    if (strcmp(key, "retention") && strcmp(key, "locked") && strcmp(key, "title")) {
      vg_api_error(r, 422, "invalid_field", "unknown field %s: give retention, locked or title",
                   key);
      json_decref(body);
      return;
    }
  }
  json_t *jret = json_object_get(body, "retention");
  json_t *locked = json_object_get(body, "locked");
  const char *title = NULL;
  int has_title = vg_api_text(r, body, "title", false, VG_TITLE_MAX, true, &title);
  vg_retention ret;
  if (has_title < 0 || (jret && !retention_field(r, jret, &ret))) goto out;
  if (locked && !json_is_boolean(locked)) {
    vg_api_error(r, 422, "invalid_field", "locked must be true or false");
    goto out;
  }
  if (!jret && !locked && has_title <= 0) {
    vg_api_error(r, 422, "invalid_field", "nothing to change: give retention, locked or title");
    goto out;
  }
  vg_app *app = r->app;
  json_t *old_ret = vg_retention_json(app, rec->id);
  bool old_locked = rec->locked;
  char old_title[VG_TITLE_MAX + 1];
  snprintf(old_title, sizeof old_title, "%s", rec->title);
  if (locked) rec->locked = json_is_true(locked);
  if (has_title > 0) snprintf(rec->title, sizeof rec->title, "%s", title ? title : "");
  int rc = vg_store_recording_update(app->store, rec);
  if (!rc && jret) rc = vg_store_retention_set(app->store, rec->id, &ret);
  if (rc) {
    json_decref(old_ret);
    vg_api_store_error(r, "update the recording", rc);
    goto out;
  }
  vg_store_recording_get(app->store, rec->id, rec);
  if (has_title > 0 && strcmp(old_title, rec->title))
    audit(r, "recording.title", rec, json_pack("{s:s,s:s}", "from", old_title, "to", rec->title));
  if (locked && old_locked != rec->locked)
    audit(r, rec->locked ? "recording.lock" : "recording.unlock", rec, json_object());
  if (jret)
    audit(r, "recording.retention", rec,
          json_pack("{s:o,s:o}", "from", old_ret, "to", vg_retention_json(app, rec->id)));
  else
    json_decref(old_ret);
  vg_events_publish(
      app->events, "recording.changed", rec->room_id,
      json_pack("{s:s,s:I}", "action", "updated", "recording_id", (json_int_t)rec->id));
  vg_api_json(r, 200, details(app, rec));
out:
  json_decref(body);
}

/* ---- the task ---- */

typedef struct sweep {
  uv_work_t work;
  vg_app *app;
  vg_segment *segs;
  size_t nsegs;
  size_t recordings;
} sweep;

static void sweep_work(uv_work_t *w) {
  sweep *s = w->data;
  vg_media_unlink_segments(s->app->cfg.data_dir, s->segs, s->nsegs);
}

static void sweep_done(uv_work_t *w, int status) {
  sweep *s = w->data;
  if (s->recordings)
    vg_log_info("retention: deleted %zu expired recording(s), %zu file(s)", s->recordings,
                s->nsegs);
  s->app->retention_busy = false;
  free(s->segs);
  free(s);
}

/* Moves segs[0..n) into the sweep's list of files to unlink. */
static void sweep_take(sweep *s, vg_segment *segs, size_t n) {
  vg_segment *grown = n ? realloc(s->segs, (s->nsegs + n) * sizeof *grown) : s->segs;
  if (grown) {
    memcpy(grown + s->nsegs, segs, n * sizeof *segs);
    s->segs = grown;
    s->nsegs += n;
  } else {
    vg_media_unlink_segments(s->app->cfg.data_dir, segs, n); /* out of memory: do it here */
  }
}

/* An expired recording that kept clips hold: its segments that no kept
 * clip's span touches go (rows now, files with the sweep); the clips'
 * segments stay whole, so each clip still begins on its keyframe. The
 * recording's rows (spans, markers, clips) stay. Returns files dropped. */
static size_t trim_recording(vg_app *app, const vg_recording *rec, sweep *s) {
  vg_span *spans = NULL;
  vg_clip *clips = NULL;
  vg_segment *segs = NULL;
  size_t nspans = 0, nclips = 0, nsegs = 0, ndrop = 0;
  if (vg_store_span_list(app->store, rec->id, &spans, &nspans) ||
      vg_store_clip_list(app->store, rec->id, &clips, &nclips) ||
      vg_store_segment_list(app->store, rec->id, 0, &segs, &nsegs))
    goto out;
  int64_t last = nspans ? (spans[nspans - 1].end_ms ? spans[nspans - 1].end_ms : INT64_MAX) : 0;
  for (size_t k = 0; k < nsegs; k++) {
    bool needed = strcmp(segs[k].state, "open") == 0;
    for (size_t c = 0; c < nclips && !needed; c++) {
      if (!clips[c].keep) continue;
      int64_t from = vg_review_wall_ms(spans, nspans, clips[c].from_s);
      int64_t to = vg_review_wall_ms(spans, nspans, clips[c].to_s);
      if (!to) to = last;
      needed = segs[k].start_ms < to && segs[k].end_ms > from;
    }
    if (needed) continue;
    if (vg_store_segment_delete(app->store, segs[k].id) != 0) continue;
    segs[ndrop++] = segs[k]; /* compacted: the dropped ones first */
  }
  if (ndrop == 0) goto out;
  vg_track *tracks = NULL;
  size_t nt = 0;
  vg_store_track_list(app->store, rec->id, &tracks, &nt);
  for (size_t i = 0; i < nt; i++) vg_media_track_seal(app, rec->id, tracks[i].camera_id);
  free(tracks);
  char target[32];
  snprintf(target, sizeof target, "recording:%lld", (long long)rec->id);
  vg_audit(
      app, NULL, "recording.trim", target,
      json_pack("{s:s,s:I,s:I,s:I}", "reason", "retention", "room_id", (json_int_t)rec->room_id,
                "files", (json_int_t)ndrop, "kept_files", (json_int_t)(nsegs - ndrop)));
  vg_events_publish(
      app->events, "recording.changed", rec->room_id,
      json_pack("{s:s,s:I}", "action", "trimmed", "recording_id", (json_int_t)rec->id));
  sweep_take(s, segs, ndrop);
out:
  free(spans);
  free(clips);
  free(segs);
  return ndrop;
}

static void sweep_start(uv_timer_t *t) {
  vg_app *app = t->data;
  if (app->retention_busy || app->stopping) return;
  vg_recording *expired = NULL;
  size_t n = 0;
  int rc = vg_store_recording_list_expired(app->store, vg_now_ms(), SWEEP_MAX, &expired, &n);
  if (rc) {
    vg_log_error("retention: cannot list expired recordings: %s", vg_strerror(rc));
    return;
  }
  vg_recording *kept = NULL;
  size_t nkept = 0;
  rc = vg_store_recording_list_expired_kept(app->store, vg_now_ms(), SWEEP_MAX, &kept, &nkept);
  if (rc) vg_log_error("retention: cannot list kept recordings: %s", vg_strerror(rc));
  sweep *s = calloc(1, sizeof *s);
  if (!s) {
    free(expired);
    free(kept);
    return;
  }
  s->app = app;
  for (size_t i = 0; i < n; i++) {
    vg_segment *segs = NULL;
    size_t ns = 0;
    if (vg_media_recording_forget(app, &expired[i], "retention", &segs, &ns) != 0) continue;
    sweep_take(s, segs, ns);
    free(segs);
    s->recordings++;
  }
  free(expired);
  for (size_t i = 0; i < nkept; i++) trim_recording(app, &kept[i], s);
  free(kept);
  if (s->nsegs == 0 && s->recordings == 0) {
    free(s);
    return;
  }
  app->retention_busy = true;
  s->work.data = s;
  if (uv_queue_work(app->loop, &s->work, sweep_work, sweep_done) != 0) {
    vg_media_unlink_segments(s->app->cfg.data_dir, s->segs, s->nsegs);
    sweep_done(&s->work, 0);
  }
}

int vg_retention_start(vg_app *app) {
  uv_timer_init(app->loop, &app->retention_timer);
  app->retention_timer.data = app;
  uint64_t period = (uint64_t)app->cfg.retention_check_seconds * 1000;
  return uv_timer_start(&app->retention_timer, sweep_start, 0, period) == 0 ? 0 : VG_EIO;
}

void vg_retention_stop(vg_app *app) {
  if (app->retention_timer.type == UV_TIMER && !uv_is_closing((uv_handle_t *)&app->retention_timer))
    uv_close((uv_handle_t *)&app->retention_timer, NULL);
}
