/* test_review_store.c - clips and retention rules in the store (a real
 * SQLite file): clip rows and their bounds, the four retention modes and
 * the room default, and which recordings list_expired hands to the sweep
 * (never a locked, running or clip-kept one). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "store/store.h"

#define DAY 86400000LL

static char dir[64];
static vg_store *st;
static int64_t room;

static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/vigil-reviewstore-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  char path[128], err[256];
  snprintf(path, sizeof path, "%s/vigil.db", dir);
  cr_assert_eq(vg_store_open(&st, path, err, sizeof err), 0, "%s", err);
  vg_room r = {0};
  snprintf(r.name, sizeof r.name, "Suite 2");
  cr_assert_eq(vg_store_room_create(st, &r), 0);
  room = r.id;
}

static void teardown(void) {
  vg_store_close(st);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  cr_assert_eq(system(cmd), 0);
}

TestSuite(review, .init = setup, .fini = teardown);

/* A recording that ran from started to started + 60 s (stopped), or is
 * still running. */
static vg_recording add_recording(const char *state, int64_t started) {
  vg_recording r = {0};
  r.room_id = room;
  snprintf(r.title, sizeof r.title, "rec");
  snprintf(r.state, sizeof r.state, "%s", state);
  r.started_at = started;
  if (strcmp(state, "stopped") == 0) r.ended_at = started + 60000;
  cr_assert_eq(vg_store_recording_create(st, &r), 0);
  return r;
}

static vg_clip clip_of(int64_t recording_id, double from, double to, bool keep) {
  vg_clip c = {0};
  c.recording_id = recording_id;
  c.from_s = from;
  c.to_s = to;
  c.keep = keep;
  snprintf(c.title, sizeof c.title, "clip %.0f", from);
  snprintf(c.author_name, sizeof c.author_name, "olga");
  c.author_id = 7;
  return c;
}

/* Ids that list_expired gives at now, in order, as a string "1,2". */
static void expired(int64_t now, char *out, size_t len) {
  vg_recording *items = NULL;
  size_t n = 0;
  cr_assert_eq(vg_store_recording_list_expired(st, now, 100, &items, &n), 0);
  out[0] = 0;
  for (size_t i = 0; i < n; i++)
    snprintf(out + strlen(out), len - strlen(out), "%s%lld", i ? "," : "", (long long)items[i].id);
  free(items);
}

static void set_retention(int64_t id, const char *mode, int64_t days, int64_t until) {
  vg_retention r = {0};
  snprintf(r.mode, sizeof r.mode, "%s", mode);
  r.days = days;
  r.until = until;
  cr_assert_eq(vg_store_retention_set(st, id, &r), 0, "%s", mode);
}

Test(review, clips_round_trip_and_bounds) {
  vg_recording rec = add_recording("stopped", 1000);
  vg_clip a = clip_of(rec.id, 5, 9.5, true), b = clip_of(rec.id, 1, 2, false);
  cr_assert_eq(vg_store_clip_create(st, &a), 0);
  cr_assert_eq(vg_store_clip_create(st, &b), 0);
  cr_assert_gt(a.created_at, 0);
  vg_clip got;
  cr_assert_eq(vg_store_clip_get(st, a.id, &got), 0);
  cr_assert_eq(got.from_s, 5);
  cr_assert_eq(got.to_s, 9.5);
  cr_assert(got.keep);
  cr_assert_str_eq(got.author_name, "olga");
  vg_clip *items = NULL;
  size_t n = 0;
  cr_assert_eq(vg_store_clip_list(st, rec.id, &items, &n), 0);
  cr_assert_eq(n, 2);
  cr_assert_eq(items[0].id, b.id, "by from");
  free(items);

  got.to_s = 12;
  got.keep = false;
  snprintf(got.title, sizeof got.title, "renamed");
  cr_assert_eq(vg_store_clip_update(st, &got), 0);
  cr_assert_eq(vg_store_clip_get(st, a.id, &got), 0);
  cr_assert_eq(got.to_s, 12);
  cr_assert_not(got.keep);
  cr_assert_str_eq(got.title, "renamed");

  /* Bounds before SQL; nothing written. */
  vg_clip bad = clip_of(rec.id, 3, 3, false);
  cr_assert_eq(vg_store_clip_create(st, &bad), VG_EINVAL);
  bad = clip_of(rec.id, -1, 3, false);
  cr_assert_eq(vg_store_clip_create(st, &bad), VG_EINVAL);
  bad = clip_of(rec.id, 0, 1.0 / 0.0, false);
  cr_assert_eq(vg_store_clip_create(st, &bad), VG_EINVAL);
  bad = clip_of(999999, 0, 1, false);
  cr_assert_eq(vg_store_clip_create(st, &bad), VG_ENOTFOUND);
  cr_assert_eq(vg_store_clip_list(st, rec.id, &items, &n), 0);
  cr_assert_eq(n, 2);
  free(items);

  cr_assert_eq(vg_store_clip_delete(st, b.id), 0);
  cr_assert_eq(vg_store_clip_delete(st, b.id), VG_ENOTFOUND);
  /* Clips go with their recording. */
  cr_assert_eq(vg_store_recording_delete(st, rec.id), 0);
  cr_assert_eq(vg_store_clip_get(st, a.id, &got), VG_ENOTFOUND);
}

Test(review, the_four_modes_and_the_room_default) {
  vg_recording inherit = add_recording("stopped", 10 * DAY);
  vg_recording days = add_recording("stopped", 10 * DAY);
  vg_recording until = add_recording("stopped", 10 * DAY);
  vg_recording forever = add_recording("stopped", 10 * DAY);
  int64_t end = 10 * DAY + 60000;
  set_retention(days.id, "days", 3, 0);
  set_retention(until.id, "until", 0, 12 * DAY);
  set_retention(forever.id, "forever", 0, 0);

  vg_retention r;
  cr_assert_eq(vg_store_retention_get(st, inherit.id, &r), 0);
  cr_assert_str_eq(r.mode, "inherit");
  cr_assert_eq(r.days, -1, "the room keeps forever by default");
  cr_assert_eq(r.expires_at, 0);
  cr_assert_eq(vg_store_retention_get(st, days.id, &r), 0);
  cr_assert_eq(r.expires_at, end + 3 * DAY);
  cr_assert_eq(vg_store_retention_get(st, until.id, &r), 0);
  cr_assert_eq(r.until, 12 * DAY);
  cr_assert_eq(r.expires_at, 12 * DAY);
  cr_assert_eq(vg_store_retention_get(st, forever.id, &r), 0);
  cr_assert_eq(r.expires_at, 0);

  char ids[128], want[128];
  expired(100 * DAY, ids, sizeof ids);
  snprintf(want, sizeof want, "%lld,%lld", (long long)days.id, (long long)until.id);
  cr_assert_str_eq(ids, want);

  /* The room default reaches the inheriting one. */
  int64_t d = 0;
  cr_assert_eq(vg_store_room_retention_set(st, room, 30), 0);
  cr_assert_eq(vg_store_room_retention_get(st, room, &d), 0);
  cr_assert_eq(d, 30);
  cr_assert_eq(vg_store_retention_get(st, inherit.id, &r), 0);
  cr_assert_eq(r.days, 30);
  cr_assert_eq(r.expires_at, end + 30 * DAY);
  expired(end + 30 * DAY - 1, ids, sizeof ids);
  cr_assert_str_eq(ids, want, "not a millisecond early");
  expired(end + 30 * DAY, ids, sizeof ids);
  snprintf(want, sizeof want, "%lld,%lld,%lld", (long long)inherit.id, (long long)days.id,
           (long long)until.id);
  cr_assert_str_eq(ids, want);
  cr_assert_eq(vg_store_room_retention_set(st, room, -1), 0);
  cr_assert_eq(vg_store_room_retention_get(st, room, &d), 0);
  cr_assert_eq(d, -1);

  /* Unknown modes and negative numbers are refused. */
  vg_retention bad = {0};
  snprintf(bad.mode, sizeof bad.mode, "sometimes");
  cr_assert_eq(vg_store_retention_set(st, days.id, &bad), VG_EINVAL);
  snprintf(bad.mode, sizeof bad.mode, "days");
  bad.days = -1;
  cr_assert_eq(vg_store_retention_set(st, days.id, &bad), VG_EINVAL);
  cr_assert_eq(vg_store_retention_get(st, days.id, &r), 0);
  cr_assert_eq(r.days, 3, "unchanged");
}

Test(review, locked_running_and_kept_are_never_expired) {
  vg_recording locked = add_recording("stopped", DAY);
  vg_recording running = add_recording("recording", DAY);
  vg_recording kept = add_recording("stopped", DAY);
  vg_recording plain = add_recording("stopped", DAY);
  vg_recording recs[] = {locked, running, kept, plain};
  for (int i = 0; i < 4; i++) set_retention(recs[i].id, "until", 0, 2 * DAY);
  locked.locked = true;
  locked.retention_until = 2 * DAY;
  cr_assert_eq(vg_store_recording_update(st, &locked), 0);
  vg_clip c = clip_of(kept.id, 0, 1, true);
  cr_assert_eq(vg_store_clip_create(st, &c), 0);
  vg_clip loose = clip_of(plain.id, 0, 1, false);
  cr_assert_eq(vg_store_clip_create(st, &loose), 0);

  char ids[128], want[64];
  expired(3 * DAY, ids, sizeof ids);
  snprintf(want, sizeof want, "%lld", (long long)plain.id);
  cr_assert_str_eq(ids, want, "only the plain one (a clip not kept does not hold it)");
  vg_retention r;
  cr_assert_eq(vg_store_retention_get(st, kept.id, &r), 0);
  cr_assert(r.kept);
  cr_assert_str_eq(r.mode, "until", "the lock's update kept the mode");
  /* The kept one is handed to the sweep separately, to be trimmed. */
  vg_recording *items = NULL;
  size_t n = 0;
  cr_assert_eq(vg_store_recording_list_expired_kept(st, 3 * DAY, 10, &items, &n), 0);
  cr_assert_eq(n, 1);
  cr_assert_eq(items[0].id, kept.id);
  free(items);
  cr_assert_eq(vg_store_recording_list_expired_kept(st, DAY, 10, &items, &n), 0);
  cr_assert_eq(n, 0, "not before it expires");

  /* Unkept, the clip lets it go. */
  c.keep = false;
  cr_assert_eq(vg_store_clip_update(st, &c), 0);
  expired(3 * DAY, ids, sizeof ids);
  snprintf(want, sizeof want, "%lld,%lld", (long long)kept.id, (long long)plain.id);
  cr_assert_str_eq(ids, want);
}
