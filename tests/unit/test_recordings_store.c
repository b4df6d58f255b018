/* test_recordings_store.c - recordings, their tracks, spans, segments and
 * markers in the store (a real SQLite file): the NULL mapping of open-ended
 * times, the filters and visibility of the recording list, expiry, and what
 * a delete takes with it. */
#include <criterion/criterion.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "store/store.h"

static char dir[64];
static char path[128];
static vg_store *st;
static int64_t author;
static int64_t room;

static void rm_rf(void) {
  const char *names[] = {"vigil.db", "vigil.db-wal", "vigil.db-shm", "vigil.db-journal"};
  char p[192];
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    snprintf(p, sizeof p, "%s/%s", dir, names[i]);
    unlink(p);
  }
  rmdir(dir);
}

static int64_t add_user(const char *name, const char *role) {
  vg_user u = {0};
  snprintf(u.username, sizeof u.username, "%s", name);
  snprintf(u.role, sizeof u.role, "%s", role);
  snprintf(u.pwhash, sizeof u.pwhash, "$argon2id$fake");
  cr_assert_eq(vg_store_user_create(st, &u), 0);
  return u.id;
}

static int64_t add_room(const char *name) {
  vg_room r = {0};
  snprintf(r.name, sizeof r.name, "%s", name);
  cr_assert_eq(vg_store_room_create(st, &r), 0);
  return r.id;
}

static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/vigil-recstore-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/vigil.db", dir);
  char err[256];
  int rc = vg_store_open(&st, path, err, sizeof err);
  cr_assert_eq(rc, 0, "open: %d %s", rc, err);
  author = add_user("alice", "operator");
  room = add_room("Lecture hall");
}

static void teardown(void) {
  vg_store_close(st);
  st = NULL;
  rm_rf();
}

TestSuite(recordings, .init = setup, .fini = teardown);

/* Creates a recording of room_id started at started (ms) in state. */
static vg_recording add_recording(int64_t room_id, const char *title, const char *state,
                                  int64_t started) {
  vg_recording r = {0};
  r.room_id = room_id;
  snprintf(r.title, sizeof r.title, "%s", title);
  r.author_id = author;
  snprintf(r.author_name, sizeof r.author_name, "alice");
  snprintf(r.state, sizeof r.state, "%s", state);
  r.started_at = started;
  if (strcmp(state, "stopped") == 0) r.ended_at = started + 60000;
  int rc = vg_store_recording_create(st, &r);
  cr_assert_eq(rc, 0, "create %s: %d", title, rc);
  cr_assert_gt(r.id, 0);
  cr_assert_gt(r.created_at, 0);
  return r;
}

static vg_segment segment(int64_t camera_id, int64_t recording_id, const char *p, int64_t start) {
  vg_segment g;
  memset(&g, 0, sizeof g);
  g.camera_id = camera_id;
  g.recording_id = recording_id;
  snprintf(g.path, sizeof g.path, "%s", p);
  g.start_ms = start;
  g.end_ms = start;
  return g;
}

static vg_marker marker(int64_t recording_id, double t, const char *label, const char *color) {
  vg_marker m;
  memset(&m, 0, sizeof m);
  m.recording_id = recording_id;
  m.time_s = t;
  snprintf(m.label, sizeof m.label, "%s", label);
  snprintf(m.color, sizeof m.color, "%s", color);
  m.author_id = author;
  snprintf(m.author_name, sizeof m.author_name, "alice");
  return m;
}

Test(recordings, create_get_update_with_null_times) {
  vg_recording r = add_recording(room, "Monday lecture", "recording", 1700000000000);
  vg_recording got;
  cr_assert_eq(vg_store_recording_get(st, r.id, &got), 0);
  cr_assert_eq(got.room_id, room);
  cr_assert_str_eq(got.title, "Monday lecture");
  cr_assert_eq(got.author_id, author);
  cr_assert_str_eq(got.author_name, "alice");
  cr_assert_str_eq(got.state, "recording");
  cr_assert_eq(got.started_at, 1700000000000);
  cr_assert_eq(got.ended_at, 0);
  cr_assert_eq(got.retention_until, 0);
  cr_assert(!got.locked);
  cr_assert_eq(got.created_at, r.created_at);

  got.ended_at = 1700000060000;
  got.retention_until = 1800000000000;
  got.locked = true;
  snprintf(got.state, sizeof got.state, "stopped");
  snprintf(got.title, sizeof got.title, "Renamed");
  cr_assert_eq(vg_store_recording_update(st, &got), 0);
  vg_recording again;
  cr_assert_eq(vg_store_recording_get(st, r.id, &again), 0);
  cr_assert_str_eq(again.title, "Renamed");
  cr_assert_str_eq(again.state, "stopped");
  cr_assert_eq(again.ended_at, 1700000060000);
  cr_assert_eq(again.retention_until, 1800000000000);
  cr_assert(again.locked);

  /* Back to 0: stored as NULL, read as 0. */
  again.ended_at = 0;
  again.retention_until = 0;
  cr_assert_eq(vg_store_recording_update(st, &again), 0);
  cr_assert_eq(vg_store_recording_get(st, r.id, &got), 0);
  cr_assert_eq(got.ended_at, 0);
  cr_assert_eq(got.retention_until, 0);

  cr_assert_eq(vg_store_recording_get(st, r.id + 100, &got), VG_ENOTFOUND);
  again.id = r.id + 100;
  cr_assert_eq(vg_store_recording_update(st, &again), VG_ENOTFOUND);
  snprintf(again.state, sizeof again.state, "running");
  again.id = r.id;
  cr_assert_eq(vg_store_recording_update(st, &again), VG_EINVAL);
}

Test(recordings, create_refuses_unknown_room_and_bad_state) {
  vg_recording r = {0};
  r.room_id = room + 100;
  snprintf(r.state, sizeof r.state, "recording");
  r.started_at = 1;
  cr_assert_eq(vg_store_recording_create(st, &r), VG_ENOTFOUND);
  r.room_id = room;
  snprintf(r.state, sizeof r.state, "bogus");
  cr_assert_eq(vg_store_recording_create(st, &r), VG_EINVAL);
}

Test(recordings, active_lookup) {
  vg_recording out;
  cr_assert_eq(vg_store_recording_active(st, room, &out), VG_ENOTFOUND);
  add_recording(room, "old", "stopped", 1000);
  cr_assert_eq(vg_store_recording_active(st, room, &out), VG_ENOTFOUND);

  vg_recording r = add_recording(room, "now", "recording", 2000);
  cr_assert_eq(vg_store_recording_active(st, room, &out), 0);
  cr_assert_eq(out.id, r.id);

  /* One running recording per room. */
  vg_recording second = {0};
  second.room_id = room;
  snprintf(second.state, sizeof second.state, "recording");
  cr_assert_eq(vg_store_recording_create(st, &second), VG_ESTATE);

  snprintf(r.state, sizeof r.state, "paused");
  cr_assert_eq(vg_store_recording_update(st, &r), 0);
  cr_assert_eq(vg_store_recording_active(st, room, &out), 0);
  cr_assert_eq(out.id, r.id);
  cr_assert_str_eq(out.state, "paused");

  int64_t other = add_room("Studio");
  vg_recording o = add_recording(other, "studio", "recording", 3000);
  vg_recording *items;
  size_t n;
  cr_assert_eq(vg_store_recording_list_active(st, &items, &n), 0);
  cr_assert_eq(n, 2);
  cr_assert_eq(items[0].id, r.id);
  cr_assert_eq(items[1].id, o.id);
  free(items);

  snprintf(r.state, sizeof r.state, "stopped");
  r.ended_at = 5000;
  cr_assert_eq(vg_store_recording_update(st, &r), 0);
  cr_assert_eq(vg_store_recording_active(st, room, &out), VG_ENOTFOUND);
  cr_assert_eq(vg_store_recording_active(st, 0, &out), VG_ENOTFOUND);
}

Test(recordings, list_newest_first_with_filters_and_paging) {
  int64_t studio = add_room("Studio");
  vg_recording a = add_recording(room, "Physics 101", "stopped", 1000);
  vg_recording b = add_recording(room, "Chemistry", "stopped", 2000);
  vg_recording c = add_recording(studio, "physics lab", "stopped", 3000);
  vg_recording d = add_recording(room, "50% off_sale", "recording", 4000);

  vg_recording *items;
  size_t n;
  int64_t total;
  cr_assert_eq(vg_store_recording_list(st, NULL, 10, 0, &items, &n, &total), 0);
  cr_assert_eq(total, 4);
  cr_assert_eq(n, 4);
  cr_assert_eq(items[0].id, d.id);
  cr_assert_eq(items[1].id, c.id);
  cr_assert_eq(items[2].id, b.id);
  cr_assert_eq(items[3].id, a.id);
  cr_assert_eq(items[3].ended_at, 61000);
  cr_assert_eq(items[0].ended_at, 0);
  free(items);

  vg_recording_filter f = {0};
  f.room_id = room;
  cr_assert_eq(vg_store_recording_list(st, &f, 10, 0, &items, &n, &total), 0);
  cr_assert_eq(total, 3);
  cr_assert_eq(items[0].id, d.id);
  free(items);

  /* q is a case-insensitive substring, not a pattern. */
  memset(&f, 0, sizeof f);
  f.q = "PHYSICS";
  cr_assert_eq(vg_store_recording_list(st, &f, 10, 0, &items, &n, &total), 0);
  cr_assert_eq(total, 2);
  cr_assert_eq(items[0].id, c.id);
  cr_assert_eq(items[1].id, a.id);
  free(items);
  f.q = "%";
  cr_assert_eq(vg_store_recording_list(st, &f, 10, 0, &items, &n, &total), 0);
  cr_assert_eq(total, 1);
  cr_assert_eq(items[0].id, d.id);
  free(items);
  f.q = "_";
  cr_assert_eq(vg_store_recording_list(st, &f, 10, 0, &items, &n, &total), 0);
  cr_assert_eq(total, 1);
  free(items);
  f.q = "' OR 1=1 --";
  cr_assert_eq(vg_store_recording_list(st, &f, 10, 0, &items, &n, &total), 0);
  cr_assert_eq(total, 0);
  cr_assert_null(items);
  cr_assert_eq(n, 0);

  /* from and to bound started_at, inclusive. */
  memset(&f, 0, sizeof f);
  f.from = 2000;
  f.to = 3000;
  cr_assert_eq(vg_store_recording_list(st, &f, 10, 0, &items, &n, &total), 0);
  cr_assert_eq(total, 2);
  cr_assert_eq(items[0].id, c.id);
  cr_assert_eq(items[1].id, b.id);
  free(items);
  f.to = 0;
  f.from = 3001;
  cr_assert_eq(vg_store_recording_list(st, &f, 10, 0, &items, &n, &total), 0);
  cr_assert_eq(total, 1);
  free(items);

  /* Paging keeps the full total. */
  cr_assert_eq(vg_store_recording_list(st, NULL, 2, 1, &items, &n, &total), 0);
  cr_assert_eq(total, 4);
  cr_assert_eq(n, 2);
  cr_assert_eq(items[0].id, c.id);
  cr_assert_eq(items[1].id, b.id);
  free(items);
  cr_assert_eq(vg_store_recording_list(st, NULL, 2, 10, &items, &n, &total), 0);
  cr_assert_eq(total, 4);
  cr_assert_eq(n, 0);
  cr_assert_null(items);
  cr_assert_eq(vg_store_recording_list(st, NULL, -1, 0, &items, &n, &total), VG_EINVAL);
}

Test(recordings, list_follows_room_visibility) {
  int64_t studio = add_room("Studio");
  vg_recording a = add_recording(room, "hall", "stopped", 1000);
  vg_recording b = add_recording(studio, "studio", "stopped", 2000);
  int64_t viewer = add_user("victor", "viewer");
  int64_t other = add_user("olga", "viewer");

  vg_recording *items;
  size_t n;
  int64_t total;
  vg_recording_filter f = {0};
  f.user_id = viewer;
  cr_assert_eq(vg_store_recording_list(st, &f, 10, 0, &items, &n, &total), 0);
  cr_assert_eq(total, 0);
  cr_assert_null(items);

  /* Shared with the viewer directly: the hall; with a group: the studio. */
  vg_room_access acc = {0};
  acc.room_id = room;
  acc.user_id = viewer;
  cr_assert_eq(vg_store_access_add(st, &acc), 0);
  cr_assert_eq(vg_store_recording_list(st, &f, 10, 0, &items, &n, &total), 0);
  cr_assert_eq(total, 1);
  cr_assert_eq(items[0].id, a.id);
  free(items);

  vg_group g = {0};
  snprintf(g.name, sizeof g.name, "students");
  cr_assert_eq(vg_store_group_create(st, &g), 0);
  cr_assert_eq(vg_store_group_member_add(st, g.id, viewer), 0);
  memset(&acc, 0, sizeof acc);
  acc.room_id = studio;
  acc.group_id = g.id;
  cr_assert_eq(vg_store_access_add(st, &acc), 0);
  cr_assert_eq(vg_store_recording_list(st, &f, 10, 0, &items, &n, &total), 0);
  cr_assert_eq(total, 2);
  cr_assert_eq(items[0].id, b.id);
  free(items);

  /* Another viewer sees nothing; an operator sees everything. */
  f.user_id = other;
  cr_assert_eq(vg_store_recording_list(st, &f, 10, 0, &items, &n, &total), 0);
  cr_assert_eq(total, 0);
  f.user_id = author;
  cr_assert_eq(vg_store_recording_list(st, &f, 10, 0, &items, &n, &total), 0);
  cr_assert_eq(total, 2);
  free(items);

  /* The visibility rule combines with the other filters. */
  f.user_id = viewer;
  f.room_id = studio;
  cr_assert_eq(vg_store_recording_list(st, &f, 10, 0, &items, &n, &total), 0);
  cr_assert_eq(total, 1);
  cr_assert_eq(items[0].id, b.id);
  free(items);
}

Test(recordings, list_expired_honours_lock_and_retention) {
  vg_recording old = add_recording(room, "old", "stopped", 1000);
  vg_recording older = add_recording(room, "older", "stopped", 500);
  vg_recording locked = add_recording(room, "locked", "stopped", 100);
  vg_recording keep = add_recording(room, "keep", "stopped", 50);
  vg_recording later = add_recording(room, "later", "stopped", 20);
  vg_recording running = add_recording(room, "running", "recording", 5000);
  old.retention_until = 10000;
  older.retention_until = 9000;
  locked.retention_until = 1000;
  locked.locked = true;
  later.retention_until = 20001;
  running.retention_until = 1;
  cr_assert_eq(vg_store_recording_update(st, &old), 0);
  cr_assert_eq(vg_store_recording_update(st, &older), 0);
  cr_assert_eq(vg_store_recording_update(st, &locked), 0);
  cr_assert_eq(vg_store_recording_update(st, &later), 0);
  cr_assert_eq(vg_store_recording_update(st, &running), 0);
  (void)keep;

  vg_recording *items;
  size_t n;
  cr_assert_eq(vg_store_recording_list_expired(st, 20000, 10, &items, &n), 0);
  cr_assert_eq(n, 2);
  cr_assert_eq(items[0].id, older.id); /* oldest first */
  cr_assert_eq(items[1].id, old.id);
  free(items);
  cr_assert_eq(vg_store_recording_list_expired(st, 20000, 1, &items, &n), 0);
  cr_assert_eq(n, 1);
  cr_assert_eq(items[0].id, older.id);
  free(items);
  cr_assert_eq(vg_store_recording_list_expired(st, 9999, 10, &items, &n), 0);
  cr_assert_eq(n, 1);
  free(items);
  cr_assert_eq(vg_store_recording_list_expired(st, 100, 10, &items, &n), 0);
  cr_assert_eq(n, 0);
  cr_assert_null(items);
}

Test(recordings, delete_takes_tracks_spans_markers_and_segments) {
  vg_recording r = add_recording(room, "gone", "recording", 1000);
  vg_recording k = add_recording(add_room("Other"), "kept", "recording", 1000);
  vg_track t = {0};
  t.recording_id = r.id;
  t.camera_id = 7;
  cr_assert_eq(vg_store_track_put(st, &t), 0);
  cr_assert_eq(vg_store_span_open(st, r.id, 1000), 0);
  vg_marker m = marker(r.id, 1.5, "start", "");
  cr_assert_eq(vg_store_marker_create(st, &m), 0);
  vg_segment g = segment(7, r.id, "/data/7/a.mp4", 1000);
  cr_assert_eq(vg_store_segment_create(st, &g), 0);
  vg_segment kg = segment(7, k.id, "/data/7/b.mp4", 1000);
  cr_assert_eq(vg_store_segment_create(st, &kg), 0);
  vg_segment cont = segment(7, 0, "/data/7/c.mp4", 1000);
  cr_assert_eq(vg_store_segment_create(st, &cont), 0);

  cr_assert_eq(vg_store_recording_delete(st, r.id), 0);
  vg_recording out;
  cr_assert_eq(vg_store_recording_get(st, r.id, &out), VG_ENOTFOUND);
  vg_segment sg;
  cr_assert_eq(vg_store_segment_get(st, g.id, &sg), VG_ENOTFOUND);
  cr_assert_eq(vg_store_segment_get(st, kg.id, &sg), 0);
  cr_assert_eq(vg_store_segment_get(st, cont.id, &sg), 0);

  /* The rows that hung off the recording are gone from the file itself. */
  vg_store_close(st);
  st = NULL;
  sqlite3 *db;
  cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
  const char *tables[] = {"recording_tracks", "recording_spans", "markers", "segments"};
  for (size_t i = 0; i < sizeof tables / sizeof *tables; i++) {
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE recording_id = %lld", tables[i],
             (long long)r.id);
    sqlite3_stmt *p;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &p, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(p), SQLITE_ROW);
    cr_assert_eq(sqlite3_column_int(p, 0), 0, "%s keeps rows", tables[i]);
    sqlite3_finalize(p);
  }
  sqlite3_close(db);
  char err[256];
  cr_assert_eq(vg_store_open(&st, path, err, sizeof err), 0);
  cr_assert_eq(vg_store_recording_delete(st, r.id), VG_ENOTFOUND);
  /* The room can go once its last recording has. */
  cr_assert_eq(vg_store_room_delete(st, room), 0);
}

Test(recordings, track_put_inserts_then_updates) {
  vg_recording r = add_recording(room, "tracks", "recording", 1000);
  vg_track t = {0};
  t.recording_id = r.id;
  t.camera_id = 9;
  snprintf(t.camera_name, sizeof t.camera_name, "Front");
  t.started_at = 1200;
  cr_assert_eq(vg_store_track_put(st, &t), 0);
  cr_assert_gt(t.id, 0);
  int64_t first = t.id;

  vg_track t2 = {0};
  t2.recording_id = r.id;
  t2.camera_id = 3;
  cr_assert_eq(vg_store_track_put(st, &t2), 0);
  cr_assert_neq(t2.id, first);

  t.id = 0;
  t.ended_at = 9000;
  t.bytes = 12345;
  memset(t.sha256, 'a', 64);
  t.sha256[64] = 0;
  cr_assert_eq(vg_store_track_put(st, &t), 0);
  cr_assert_eq(t.id, first);

  vg_track *items;
  size_t n;
  cr_assert_eq(vg_store_track_list(st, r.id, &items, &n), 0);
  cr_assert_eq(n, 2);
  cr_assert_eq(items[0].camera_id, 3); /* by camera */
  cr_assert_eq(items[0].ended_at, 0);
  cr_assert_str_eq(items[0].sha256, "");
  cr_assert_eq(items[1].id, first);
  cr_assert_str_eq(items[1].camera_name, "Front");
  cr_assert_eq(items[1].started_at, 1200);
  cr_assert_eq(items[1].ended_at, 9000);
  cr_assert_eq(items[1].bytes, 12345);
  cr_assert_str_eq(items[1].sha256, t.sha256);
  free(items);

  t.recording_id = r.id + 100;
  cr_assert_eq(vg_store_track_put(st, &t), VG_ENOTFOUND);
  t.recording_id = r.id;
  snprintf(t.sha256, sizeof t.sha256, "nothex");
  cr_assert_eq(vg_store_track_put(st, &t), VG_EINVAL);
  cr_assert_eq(vg_store_track_list(st, r.id + 100, &items, &n), 0);
  cr_assert_eq(n, 0);
  cr_assert_null(items);
}

Test(recordings, spans_open_close_list) {
  vg_recording r = add_recording(room, "spans", "recording", 1000);
  cr_assert_eq(vg_store_span_close(st, r.id, 1500), VG_ENOTFOUND);
  cr_assert_eq(vg_store_span_open(st, r.id, 1000), 0);
  cr_assert_eq(vg_store_span_open(st, r.id, 1100), VG_ESTATE); /* one open at a time */
  cr_assert_eq(vg_store_span_close(st, r.id, 2000), 0);
  cr_assert_eq(vg_store_span_close(st, r.id, 2100), VG_ENOTFOUND);
  cr_assert_eq(vg_store_span_open(st, r.id, 3000), 0);
  cr_assert_eq(vg_store_span_open(st, r.id + 100, 3000), VG_ENOTFOUND);

  vg_span *items;
  size_t n;
  cr_assert_eq(vg_store_span_list(st, r.id, &items, &n), 0);
  cr_assert_eq(n, 2);
  cr_assert_eq(items[0].start_ms, 1000);
  cr_assert_eq(items[0].end_ms, 2000);
  cr_assert_eq(items[1].start_ms, 3000);
  cr_assert_eq(items[1].end_ms, 0); /* open */
  cr_assert_eq(items[1].recording_id, r.id);
  free(items);

  /* A clock stepped back does not give a negative span. */
  cr_assert_eq(vg_store_span_close(st, r.id, 2500), 0);
  cr_assert_eq(vg_store_span_list(st, r.id, &items, &n), 0);
  cr_assert_eq(items[1].end_ms, 3000);
  free(items);
}

Test(recordings, segments) {
  vg_recording r = add_recording(room, "segs", "recording", 1000);
  vg_segment a = segment(2, r.id, "/data/2/0001.mp4", 1000);
  cr_assert_eq(vg_store_segment_create(st, &a), 0);
  cr_assert_gt(a.id, 0);
  vg_segment b = segment(1, r.id, "/data/1/0001.mp4", 1000);
  snprintf(b.state, sizeof b.state, "open");
  cr_assert_eq(vg_store_segment_create(st, &b), 0);
  vg_segment c = segment(1, r.id, "/data/1/0002.mp4", 5000);
  cr_assert_eq(vg_store_segment_create(st, &c), 0);
  vg_segment cont = segment(1, 0, "/data/1/cont.mp4", 100);
  cr_assert_eq(vg_store_segment_create(st, &cont), 0);

  vg_segment dup = segment(3, r.id, "/data/2/0001.mp4", 1000);
  cr_assert_eq(vg_store_segment_create(st, &dup), VG_EEXIST);
  vg_segment orphan = segment(3, r.id + 100, "/data/3/x.mp4", 1000);
  cr_assert_eq(vg_store_segment_create(st, &orphan), VG_ENOTFOUND);

  vg_segment got;
  cr_assert_eq(vg_store_segment_get(st, a.id, &got), 0);
  cr_assert_str_eq(got.path, "/data/2/0001.mp4");
  cr_assert_str_eq(got.state, "open");
  cr_assert_str_eq(got.sha256, "");
  cr_assert_eq(got.recording_id, r.id);
  cr_assert_eq(vg_store_segment_get(st, cont.id, &got), 0);
  cr_assert_eq(got.recording_id, 0);

  a.end_ms = 4000;
  a.bytes = 777;
  a.frames = 90;
  memset(a.sha256, 'f', 64);
  a.sha256[64] = 0;
  snprintf(a.state, sizeof a.state, "closed");
  cr_assert_eq(vg_store_segment_update(st, &a), 0);
  cr_assert_eq(vg_store_segment_get(st, a.id, &got), 0);
  cr_assert_eq(got.end_ms, 4000);
  cr_assert_eq(got.bytes, 777);
  cr_assert_eq(got.frames, 90);
  cr_assert_str_eq(got.sha256, a.sha256);
  cr_assert_str_eq(got.state, "closed");
  snprintf(a.state, sizeof a.state, "broken");
  cr_assert_eq(vg_store_segment_update(st, &a), VG_EINVAL);

  vg_segment *items;
  size_t n;
  cr_assert_eq(vg_store_segment_list(st, r.id, 0, &items, &n), 0);
  cr_assert_eq(n, 3);
  cr_assert_eq(items[0].id, b.id); /* by camera, then start */
  cr_assert_eq(items[1].id, c.id);
  cr_assert_eq(items[2].id, a.id);
  free(items);
  cr_assert_eq(vg_store_segment_list(st, r.id, 1, &items, &n), 0);
  cr_assert_eq(n, 2);
  free(items);
  cr_assert_eq(vg_store_segment_list(st, r.id, 9, &items, &n), 0);
  cr_assert_eq(n, 0);
  cr_assert_null(items);

  cr_assert_eq(vg_store_segment_list_open(st, &items, &n), 0);
  cr_assert_eq(n, 3); /* b, c, cont; a is closed */
  for (size_t i = 0; i < n; i++) {
    cr_assert_str_eq(items[i].state, "open");
    cr_assert_neq(items[i].id, a.id);
  }
  free(items);

  cr_assert_eq(vg_store_segment_delete(st, c.id), 0);
  cr_assert_eq(vg_store_segment_get(st, c.id, &got), VG_ENOTFOUND);
  cr_assert_eq(vg_store_segment_delete(st, c.id), VG_ENOTFOUND);
}

Test(recordings, markers) {
  vg_recording r = add_recording(room, "marks", "recording", 1000);
  vg_marker late = marker(r.id, 90.25, "question", "#FFaa00");
  snprintf(late.note, sizeof late.note, "from the back row");
  cr_assert_eq(vg_store_marker_create(st, &late), 0);
  cr_assert_gt(late.id, 0);
  cr_assert_gt(late.created_at, 0);
  cr_assert_eq(late.updated_at, late.created_at);
  vg_marker early = marker(r.id, 0, "start", "");
  cr_assert_eq(vg_store_marker_create(st, &early), 0);

  vg_marker *items;
  size_t n;
  cr_assert_eq(vg_store_marker_list(st, r.id, &items, &n), 0);
  cr_assert_eq(n, 2);
  cr_assert_eq(items[0].id, early.id); /* by time */
  cr_assert_eq(items[1].id, late.id);
  cr_assert_float_eq(items[1].time_s, 90.25, 1e-9);
  cr_assert_str_eq(items[1].label, "question");
  cr_assert_str_eq(items[1].color, "#FFaa00");
  cr_assert_str_eq(items[1].note, "from the back row");
  cr_assert_eq(items[1].author_id, author);
  cr_assert_str_eq(items[1].author_name, "alice");
  cr_assert_str_eq(items[0].color, "");
  free(items);
  int64_t count = -1;
  cr_assert_eq(vg_store_marker_count(st, r.id, &count), 0);
  cr_assert_eq(count, 2);
  cr_assert_eq(vg_store_marker_count(st, r.id + 100, &count), 0);
  cr_assert_eq(count, 0);

  const char *bad_colors[] = {"red", "#fff", "#12345g", "#1234567", "123456", "#12 456"};
  for (size_t i = 0; i < sizeof bad_colors / sizeof *bad_colors; i++) {
    vg_marker m = marker(r.id, 1, "x", bad_colors[i]);
    cr_assert_eq(vg_store_marker_create(st, &m), VG_EINVAL, "colour %s", bad_colors[i]);
  }
  vg_marker m = marker(r.id, 1, "", "");
  cr_assert_eq(vg_store_marker_create(st, &m), VG_EINVAL);
  m = marker(r.id, 1, "x", "");
  memset(m.label, 'a', sizeof m.label); /* no terminator within VG_LABEL_MAX + 1 */
  cr_assert_eq(vg_store_marker_create(st, &m), VG_EINVAL);
  m.label[VG_LABEL_MAX] = 0; /* exactly VG_LABEL_MAX bytes */
  cr_assert_eq(vg_store_marker_create(st, &m), 0);
  m = marker(r.id, -0.5, "x", "");
  cr_assert_eq(vg_store_marker_create(st, &m), VG_EINVAL);
  m = marker(r.id, NAN, "x", "");
  cr_assert_eq(vg_store_marker_create(st, &m), VG_EINVAL);
  m = marker(r.id, INFINITY, "x", "");
  cr_assert_eq(vg_store_marker_create(st, &m), VG_EINVAL);
  m = marker(r.id + 100, 1, "x", "");
  cr_assert_eq(vg_store_marker_create(st, &m), VG_ENOTFOUND);
  m = marker(0, 1, "x", "");
  cr_assert_eq(vg_store_marker_create(st, &m), VG_ENOTFOUND);
  cr_assert_eq(vg_store_marker_count(st, r.id, &count), 0);
  cr_assert_eq(count, 3);
}

Test(recordings, marker_get_update_delete) {
  vg_recording r = add_recording(room, "edits", "stopped", 1000);
  vg_recording other = add_recording(room, "other", "stopped", 2000);
  vg_marker m = marker(r.id, 3.5, "door", "#112233");
  snprintf(m.note, sizeof m.note, "first note");
  cr_assert_eq(vg_store_marker_create(st, &m), 0);
  vg_marker got;
  cr_assert_eq(vg_store_marker_get(st, m.id, &got), 0);
  cr_assert_str_eq(got.label, "door");
  cr_assert_eq(got.recording_id, r.id);
  cr_assert_eq(vg_store_marker_get(st, m.id + 100, &got), VG_ENOTFOUND);
  cr_assert_eq(vg_store_marker_get(st, 0, &got), VG_ENOTFOUND);

  /* Time, label, colour and note change; author and created_at stay. */
  vg_marker e = got;
  e.time_s = 7.25;
  snprintf(e.label, sizeof e.label, "door closes");
  e.color[0] = '\0';
  snprintf(e.note, sizeof e.note, "second note");
  e.author_id = author + 1; /* not written */
  snprintf(e.author_name, sizeof e.author_name, "mallory");
  usleep(2000);
  cr_assert_eq(vg_store_marker_update(st, &e), 0);
  cr_assert_gt(e.updated_at, got.created_at);
  cr_assert_eq(vg_store_marker_get(st, m.id, &got), 0);
  cr_assert_float_eq(got.time_s, 7.25, 1e-9);
  cr_assert_str_eq(got.label, "door closes");
  cr_assert_str_eq(got.color, "");
  cr_assert_str_eq(got.note, "second note");
  cr_assert_eq(got.author_id, author);
  cr_assert_str_eq(got.author_name, "alice");
  cr_assert_eq(got.created_at, m.created_at);
  cr_assert_eq(got.updated_at, e.updated_at);

  /* Bad rows are refused and change nothing. */
  vg_marker bad = got;
  bad.label[0] = '\0';
  cr_assert_eq(vg_store_marker_update(st, &bad), VG_EINVAL);
  bad = got;
  snprintf(bad.color, sizeof bad.color, "red");
  cr_assert_eq(vg_store_marker_update(st, &bad), VG_EINVAL);
  bad = got;
  bad.time_s = -1;
  cr_assert_eq(vg_store_marker_update(st, &bad), VG_EINVAL);
  bad = got;
  bad.id = m.id + 100;
  cr_assert_eq(vg_store_marker_update(st, &bad), VG_ENOTFOUND);
  cr_assert_eq(vg_store_marker_get(st, m.id, &got), 0);
  cr_assert_str_eq(got.label, "door closes");

  cr_assert_eq(vg_store_marker_delete(st, m.id), 0);
  cr_assert_eq(vg_store_marker_get(st, m.id, &got), VG_ENOTFOUND);
  cr_assert_eq(vg_store_marker_delete(st, m.id), VG_ENOTFOUND);
  int64_t count = -1;
  cr_assert_eq(vg_store_marker_count(st, r.id, &count), 0);
  cr_assert_eq(count, 0);
  cr_assert_eq(vg_store_marker_count(st, other.id, &count), 0);
  cr_assert_eq(count, 0);
}

Test(recordings, list_by_author_marker_text_and_oldest_first) {
  vg_recording a = add_recording(room, "one", "stopped", 1000);
  vg_recording b = add_recording(room, "two", "stopped", 2000);
  vg_recording c = add_recording(room, "three", "stopped", 3000);
  /* Another author. */
  vg_recording nb = {0};
  nb.room_id = room;
  snprintf(nb.title, sizeof nb.title, "four");
  nb.author_id = author;
  snprintf(nb.author_name, sizeof nb.author_name, "Bob_Smith");
  snprintf(nb.state, sizeof nb.state, "stopped");
  nb.started_at = 4000;
  nb.ended_at = 5000;
  cr_assert_eq(vg_store_recording_create(st, &nb), 0);
  vg_marker m = marker(a.id, 1, "Witness arrives", "");
  cr_assert_eq(vg_store_marker_create(st, &m), 0);
  m = marker(c.id, 2, "break", "");
  snprintf(m.note, sizeof m.note, "the WITNESS leaves");
  cr_assert_eq(vg_store_marker_create(st, &m), 0);

  vg_recording *items;
  size_t n;
  int64_t total;
  vg_recording_filter f = {0};
  f.author = "bob_";
  cr_assert_eq(vg_store_recording_list(st, &f, 10, 0, &items, &n, &total), 0);
  cr_assert_eq(total, 1);
  cr_assert_eq(items[0].id, nb.id);
  free(items);
  f.author = "%";
  cr_assert_eq(vg_store_recording_list(st, &f, 10, 0, &items, &n, &total), 0);
  cr_assert_eq(total, 0, "a pattern character is a plain character");

  memset(&f, 0, sizeof f);
  f.marker = "witness"; /* label of a, note of c */
  cr_assert_eq(vg_store_recording_list(st, &f, 10, 0, &items, &n, &total), 0);
  cr_assert_eq(total, 2);
  cr_assert_eq(items[0].id, c.id);
  cr_assert_eq(items[1].id, a.id);
  free(items);
  f.oldest_first = true;
  cr_assert_eq(vg_store_recording_list(st, &f, 1, 1, &items, &n, &total), 0);
  cr_assert_eq(total, 2);
  cr_assert_eq(n, 1);
  cr_assert_eq(items[0].id, c.id);
  free(items);

  memset(&f, 0, sizeof f);
  f.oldest_first = true;
  cr_assert_eq(vg_store_recording_list(st, &f, 10, 0, &items, &n, &total), 0);
  cr_assert_eq(total, 4);
  cr_assert_eq(items[0].id, a.id);
  cr_assert_eq(items[1].id, b.id);
  cr_assert_eq(items[2].id, c.id);
  cr_assert_eq(items[3].id, nb.id);
  free(items);

  char longer[VG_NOTE_MAX + 2];
  memset(longer, 'x', sizeof longer - 1);
  longer[sizeof longer - 1] = 0;
  f.marker = longer;
  cr_assert_eq(vg_store_recording_list(st, &f, 10, 0, &items, &n, &total), VG_EINVAL);
}
