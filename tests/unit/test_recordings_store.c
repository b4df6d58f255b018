/* test_recordings_store.c - recordings, their tracks, spans, segments and
 * markers in the store (a real SQLite file): the NULL mapping of open-ended
 * times, the filters and visibility of the recording list, expiry, and what
 * a delete takes with it. */
#include <criterion/criterion.h>
#include <math.h>
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
