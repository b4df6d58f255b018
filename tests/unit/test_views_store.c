/* test_views_store.c - saved views in the store (a real SQLite file): the
 * cameras kept in their order, names unique per user, the bounds store.c
 * checks before SQL, and what deleting a camera or a user takes along. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "store/store.h"

static char dir[64];
static char path[128];
static vg_store *st;
static int64_t alice, bob;
static int64_t cam[4];

static int64_t add_user(const char *name) {
  vg_user u = {0};
  snprintf(u.username, sizeof u.username, "%s", name);
  snprintf(u.role, sizeof u.role, "viewer");
  snprintf(u.pwhash, sizeof u.pwhash, "$argon2id$fake");
  cr_assert_eq(vg_store_user_create(st, &u), 0);
  return u.id;
}

static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/vigil-viewstore-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/vigil.db", dir);
  char err[256];
  int rc = vg_store_open(&st, path, err, sizeof err);
  cr_assert_eq(rc, 0, "open: %d %s", rc, err);
  alice = add_user("alice");
  bob = add_user("bob");
  vg_room r = {0};
  snprintf(r.name, sizeof r.name, "Suite");
  cr_assert_eq(vg_store_room_create(st, &r), 0);
  for (int i = 0; i < 4; i++) {
    vg_camera_row c = {0};
    c.room_id = r.id;
    snprintf(c.name, sizeof c.name, "Cam %d", i);
    snprintf(c.url, sizeof c.url, "rtsp://127.0.0.1:9/c%d", i);
    snprintf(c.transport, sizeof c.transport, "tcp");
    c.enabled = true;
    c.position = -1;
    cr_assert_eq(vg_store_camera_create(st, &c), 0);
    cam[i] = c.id;
  }
}

static void teardown(void) {
  vg_store_close(st);
  const char *names[] = {"vigil.db", "vigil.db-wal", "vigil.db-shm", "vigil.db-journal"};
  char p[192];
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    snprintf(p, sizeof p, "%s/%s", dir, names[i]);
    unlink(p);
  }
  rmdir(dir);
}

TestSuite(views_store, .init = setup, .fini = teardown);

static vg_view make(int64_t user, const char *name, const char *layout, size_t n,
                    const int64_t *ids) {
  vg_view v = {0};
  v.user_id = user;
  snprintf(v.name, sizeof v.name, "%s", name);
  snprintf(v.layout, sizeof v.layout, "%s", layout);
  memcpy(v.camera_ids, ids, n * sizeof *ids);
  v.ncameras = n;
  return v;
}

Test(views_store, create_get_update_keep_the_order) {
  int64_t ids[] = {cam[2], cam[0], cam[3]};
  vg_view v = make(alice, "Wall", "3x3", 3, ids);
  cr_assert_eq(vg_store_view_create(st, &v), 0);
  cr_assert_gt(v.id, 0);
  cr_assert_gt(v.created_at, 0);
  vg_view got;
  cr_assert_eq(vg_store_view_get(st, v.id, &got), 0);
  cr_assert_str_eq(got.name, "Wall");
  cr_assert_str_eq(got.layout, "3x3");
  cr_assert_eq(got.user_id, alice);
  cr_assert_eq(got.ncameras, 3);
  for (size_t i = 0; i < 3; i++) cr_assert_eq(got.camera_ids[i], ids[i]);

  got.ncameras = 2;
  got.camera_ids[0] = cam[1];
  got.camera_ids[1] = cam[2];
  snprintf(got.layout, sizeof got.layout, "1");
  cr_assert_eq(vg_store_view_update(st, &got), 0);
  vg_view again;
  cr_assert_eq(vg_store_view_get(st, v.id, &again), 0);
  cr_assert_str_eq(again.layout, "1");
  cr_assert_eq(again.ncameras, 2);
  cr_assert_eq(again.camera_ids[0], cam[1]);
  cr_assert_eq(again.camera_ids[1], cam[2]);

  cr_assert_eq(vg_store_view_delete(st, v.id), 0);
  cr_assert_eq(vg_store_view_get(st, v.id, &again), VG_ENOTFOUND);
  cr_assert_eq(vg_store_view_delete(st, v.id), VG_ENOTFOUND);
}

Test(views_store, names_are_unique_per_user_and_lists_are_per_user) {
  int64_t ids[] = {cam[0]};
  vg_view a = make(alice, "Wall", "2x2", 1, ids);
  vg_view b = make(bob, "wall", "2x2", 1, ids);
  vg_view dup = make(alice, "WALL", "2x2", 1, ids);
  cr_assert_eq(vg_store_view_create(st, &a), 0);
  cr_assert_eq(vg_store_view_create(st, &b), 0, "another user may use the name");
  cr_assert_eq(vg_store_view_create(st, &dup), VG_EEXIST);
  vg_view *items;
  size_t n;
  int64_t total;
  cr_assert_eq(vg_store_view_list(st, alice, 10, 0, &items, &n, &total), 0);
  cr_assert_eq(n, 1);
  cr_assert_eq(total, 1);
  cr_assert_eq(items[0].id, a.id);
  cr_assert_eq(items[0].ncameras, 1);
  free(items);
  /* A failed write leaves nothing behind: still one view, one camera. */
  vg_view got;
  cr_assert_eq(vg_store_view_get(st, a.id, &got), 0);
  cr_assert_eq(got.ncameras, 1);
}

Test(views_store, bad_rows_are_refused_before_sql) {
  int64_t twice[] = {cam[0], cam[0]};
  vg_view v = make(alice, "Twice", "2x2", 2, twice);
  cr_assert_eq(vg_store_view_create(st, &v), VG_EINVAL);
  int64_t one[] = {cam[0]};
  v = make(alice, "Layout", "5x5", 1, one);
  cr_assert_eq(vg_store_view_create(st, &v), VG_EINVAL);
  v = make(alice, "", "2x2", 1, one);
  cr_assert_eq(vg_store_view_create(st, &v), VG_EINVAL);
  v = make(alice, "Many", "4x4", 1, one);
  v.ncameras = VG_VIEW_CAMERAS_MAX + 1;
  cr_assert_eq(vg_store_view_create(st, &v), VG_EINVAL);
  int64_t zero[] = {0};
  v = make(alice, "Zero", "2x2", 1, zero);
  cr_assert_eq(vg_store_view_create(st, &v), VG_EINVAL);
  /* An unknown camera fails its foreign key, and the view row goes too. */
  int64_t unknown[] = {cam[1], 999999};
  v = make(alice, "Unknown", "2x2", 2, unknown);
  cr_assert_eq(vg_store_view_create(st, &v), VG_ENOTFOUND);
  vg_view *items;
  size_t n;
  int64_t total;
  cr_assert_eq(vg_store_view_list(st, alice, 10, 0, &items, &n, &total), 0);
  cr_assert_eq(total, 0);
  free(items);
}

Test(views_store, a_deleted_camera_leaves_and_a_deleted_user_takes_their_views) {
  int64_t ids[] = {cam[0], cam[1], cam[2]};
  vg_view v = make(alice, "Wall", "2x2", 3, ids);
  cr_assert_eq(vg_store_view_create(st, &v), 0);
  cr_assert_eq(vg_store_camera_delete(st, cam[1]), 0);
  vg_view got;
  cr_assert_eq(vg_store_view_get(st, v.id, &got), 0);
  cr_assert_eq(got.ncameras, 2);
  cr_assert_eq(got.camera_ids[0], cam[0]);
  cr_assert_eq(got.camera_ids[1], cam[2]);
  cr_assert_eq(vg_store_user_delete(st, alice), 0);
  cr_assert_eq(vg_store_view_get(st, v.id, &got), VG_ENOTFOUND);
}
