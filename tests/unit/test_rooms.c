/* test_rooms.c - rooms, cameras, groups and room rights in the store (a
 * real SQLite file), the visibility rule every room route relies on, and
 * sealing of camera passwords with the key file. */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/secrets.h"
#include "base/err.h"
#include "store/store.h"

static char dir[64];
static char path[128];
static vg_store *st;

static void rm_rf(void) {
  const char *names[] = {"vigil.db", "vigil.db-wal", "vigil.db-shm", "vigil.db-journal",
                         VG_SECRET_KEY_FILE};
  char p[192];
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    snprintf(p, sizeof p, "%s/%s", dir, names[i]);
    unlink(p);
  }
  rmdir(dir);
}

static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/vigil-rooms-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/vigil.db", dir);
  char err[256];
  int rc = vg_store_open(&st, path, err, sizeof err);
  cr_assert_eq(rc, 0, "open: %d %s", rc, err);
}

static void teardown(void) {
  vg_store_close(st);
  st = NULL;
  rm_rf();
}

TestSuite(rooms, .init = setup, .fini = teardown);
TestSuite(secrets, .init = setup, .fini = teardown);

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
  snprintf(r.description, sizeof r.description, "about %s", name);
  int rc = vg_store_room_create(st, &r);
  cr_assert_eq(rc, 0, "room %s: %d", name, rc);
  cr_assert_gt(r.id, 0);
  cr_assert_gt(r.created_at, 0);
  return r.id;
}

static int64_t add_group(const char *name) {
  vg_group g = {0};
  snprintf(g.name, sizeof g.name, "%s", name);
  cr_assert_eq(vg_store_group_create(st, &g), 0);
  return g.id;
}

static vg_camera_row camera(int64_t room_id, const char *name) {
  vg_camera_row c;
  memset(&c, 0, sizeof c);
  c.room_id = room_id;
  snprintf(c.name, sizeof c.name, "%s", name);
  snprintf(c.url, sizeof c.url, "rtsp://10.0.0.5/stream1");
  snprintf(c.transport, sizeof c.transport, "tcp");
  c.enabled = true;
  c.position = -1;
  return c;
}

static bool visible(int64_t room, int64_t user) {
  bool v = true;
  cr_assert_eq(vg_store_room_visible(st, room, user, &v), 0);
  return v;
}

static int64_t list_count(int64_t user) {
  vg_room *items = NULL;
  size_t n = 0;
  int64_t total = -1;
  cr_assert_eq(vg_store_room_list(st, user, 100, 0, &items, &n, &total), 0);
  cr_assert_eq((int64_t)n, total);
  free(items);
  return total;
}

Test(rooms, create_get_update_delete) {
  int64_t id = add_room("Interview 1");
  vg_room r;
  cr_assert_eq(vg_store_room_get(st, id, &r), 0);
  cr_assert_str_eq(r.name, "Interview 1");
  cr_assert_str_eq(r.description, "about Interview 1");
  cr_assert_not(r.disabled);

  /* Names are unique whatever their case. */
  vg_room dup = {0};
  snprintf(dup.name, sizeof dup.name, "INTERVIEW 1");
  cr_assert_eq(vg_store_room_create(st, &dup), VG_EEXIST);

  snprintf(r.name, sizeof r.name, "Interview A");
  r.disabled = true;
  cr_assert_eq(vg_store_room_update(st, &r), 0);
  vg_room again;
  cr_assert_eq(vg_store_room_get(st, id, &again), 0);
  cr_assert_str_eq(again.name, "Interview A");
  cr_assert(again.disabled);
  cr_assert_geq(again.updated_at, r.created_at);

  int64_t other = add_room("Other");
  vg_room clash = again;
  clash.id = other;
  cr_assert_eq(vg_store_room_update(st, &clash), VG_EEXIST);

  cr_assert_eq(vg_store_room_delete(st, id), 0);
  cr_assert_eq(vg_store_room_get(st, id, &r), VG_ENOTFOUND);
  cr_assert_eq(vg_store_room_delete(st, id), VG_ENOTFOUND);
  r.id = id;
  cr_assert_eq(vg_store_room_update(st, &r), VG_ENOTFOUND);
}

Test(rooms, bad_names_refused) {
  vg_room r = {0};
  cr_assert_eq(vg_store_room_create(st, &r), VG_EINVAL, "empty name");
  memset(r.name, 'x', VG_NAME_MAX);
  r.name[VG_NAME_MAX] = 0;
  cr_assert_eq(vg_store_room_create(st, &r), 0, "exactly the maximum");
  vg_room ctl = {0};
  snprintf(ctl.name, sizeof ctl.name, "a\nb");
  cr_assert_eq(vg_store_room_create(st, &ctl), VG_EINVAL, "control character");
}

Test(rooms, delete_refused_while_recordings_exist) {
  int64_t id = add_room("Sim lab");
  vg_camera_row c = camera(id, "Cam");
  cr_assert_eq(vg_store_camera_create(st, &c), 0);
  sqlite3 *db;
  cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
  char sql[256];
  snprintf(sql, sizeof sql,
           "INSERT INTO recordings (room_id, state, started_at, created_at)"
           " VALUES (%lld, 'stopped', 1, 1)",
           (long long)id);
  cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
  int64_t count = 0;
  cr_assert_eq(vg_store_room_recording_count(st, id, &count), 0);
  cr_assert_eq(count, 1);
  cr_assert_eq(vg_store_room_delete(st, id), VG_ESTATE);
  vg_room r;
  cr_assert_eq(vg_store_room_get(st, id, &r), 0, "the room is still there");
  vg_camera_row back;
  cr_assert_eq(vg_store_camera_get(st, c.id, &back), 0, "and its camera");

  cr_assert_eq(sqlite3_exec(db, "DELETE FROM recordings", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  cr_assert_eq(vg_store_room_delete(st, id), 0);
  cr_assert_eq(vg_store_camera_get(st, c.id, &back), VG_ENOTFOUND, "cameras go with the room");
}

Test(rooms, cameras_in_order_with_sealed_password) {
  int64_t room = add_room("Suite");
  vg_camera_row a = camera(room, "Wide"), b = camera(room, "Close"), c = camera(room, "Table");
  cr_assert_eq(vg_store_camera_create(st, &a), 0);
  cr_assert_eq(vg_store_camera_create(st, &b), 0);
  c.position = 0; /* explicitly first, tie broken by id */
  memcpy(c.password_enc, "\x01\x02\x03", 3);
  c.password_enc_len = 3;
  snprintf(c.username, sizeof c.username, "admin");
  snprintf(c.transport, sizeof c.transport, "udp");
  cr_assert_eq(vg_store_camera_create(st, &c), 0);
  cr_assert_eq(a.position, 0);
  cr_assert_eq(b.position, 1);

  vg_camera_row dup = camera(room, "wide");
  cr_assert_eq(vg_store_camera_create(st, &dup), VG_EEXIST, "name unique in its room");
  int64_t other = add_room("Other");
  dup.room_id = other;
  cr_assert_eq(vg_store_camera_create(st, &dup), 0, "the same name in another room is fine");
  vg_camera_row orphan = camera(9999, "Lost");
  cr_assert_eq(vg_store_camera_create(st, &orphan), VG_ENOTFOUND);
  vg_camera_row bad = camera(room, "Bad");
  snprintf(bad.transport, sizeof bad.transport, "sip");
  cr_assert_eq(vg_store_camera_create(st, &bad), VG_EINVAL);

  vg_camera_row *items = NULL;
  size_t n = 0;
  cr_assert_eq(vg_store_camera_list(st, room, &items, &n), 0);
  cr_assert_eq(n, 3);
  cr_assert_str_eq(items[0].name, "Wide");
  cr_assert_str_eq(items[1].name, "Table");
  cr_assert_str_eq(items[2].name, "Close");
  cr_assert_eq(items[1].password_enc_len, 3);
  cr_assert_eq(memcmp(items[1].password_enc, "\x01\x02\x03", 3), 0);
  cr_assert_str_eq(items[1].transport, "udp");
  cr_assert_eq(items[0].password_enc_len, 0);
  free(items);
  cr_assert_eq(vg_store_camera_list(st, 0, &items, &n), 0);
  cr_assert_eq(n, 4, "room 0 lists every camera");
  free(items);

  /* Update: move to the other room, last there; drop the password. */
  c.room_id = other;
  c.position = -1;
  c.password_enc_len = 0;
  c.continuous = true;
  cr_assert_eq(vg_store_camera_update(st, &c), 0);
  vg_camera_row back;
  cr_assert_eq(vg_store_camera_get(st, c.id, &back), 0);
  cr_assert_eq(back.room_id, other);
  cr_assert_eq(back.position, 1);
  cr_assert_eq(back.password_enc_len, 0);
  cr_assert(back.continuous);
  cr_assert_eq(vg_store_camera_delete(st, c.id), 0);
  cr_assert_eq(vg_store_camera_delete(st, c.id), VG_ENOTFOUND);
}

Test(rooms, groups_and_members) {
  int64_t g = add_group("Detectives");
  vg_group dup = {0};
  snprintf(dup.name, sizeof dup.name, "detectives");
  cr_assert_eq(vg_store_group_create(st, &dup), VG_EEXIST);
  int64_t u1 = add_user("bob", "viewer"), u2 = add_user("al", "viewer");
  cr_assert_eq(vg_store_group_member_add(st, g, u1), 0);
  cr_assert_eq(vg_store_group_member_add(st, g, u2), 0);
  cr_assert_eq(vg_store_group_member_add(st, g, u1), VG_EEXIST);
  cr_assert_eq(vg_store_group_member_add(st, g, 999), VG_ENOTFOUND);
  cr_assert_eq(vg_store_group_member_add(st, 999, u1), VG_ENOTFOUND);

  vg_group got;
  cr_assert_eq(vg_store_group_get(st, g, &got), 0);
  cr_assert_eq(got.member_count, 2);
  vg_user *members = NULL;
  size_t n = 0;
  int64_t total = 0;
  cr_assert_eq(vg_store_group_members(st, g, 10, 0, &members, &n, &total), 0);
  cr_assert_eq(n, 2);
  cr_assert_eq(total, 2);
  cr_assert_str_eq(members[0].username, "al");
  cr_assert_str_eq(members[0].pwhash, "", "members come without password hashes");
  free(members);

  cr_assert_eq(vg_store_group_member_remove(st, g, u2), 0);
  cr_assert_eq(vg_store_group_member_remove(st, g, u2), VG_ENOTFOUND);

  snprintf(got.name, sizeof got.name, "Investigators");
  cr_assert_eq(vg_store_group_update(st, &got), 0);
  vg_group *list = NULL;
  cr_assert_eq(vg_store_group_list(st, 10, 0, &list, &n, &total), 0);
  cr_assert_eq(n, 1);
  cr_assert_str_eq(list[0].name, "Investigators");
  cr_assert_eq(list[0].member_count, 1);
  free(list);
  cr_assert_eq(vg_store_group_delete(st, g), 0);
  cr_assert_eq(vg_store_group_get(st, g, &got), VG_ENOTFOUND);
}

Test(rooms, visibility_rule) {
  int64_t admin = add_user("root", "admin"), op = add_user("op", "operator");
  int64_t viewer = add_user("vic", "viewer"), other = add_user("olga", "viewer");
  int64_t r1 = add_room("One"), r2 = add_room("Two"), r3 = add_room("Three");

  /* Admins and operators see every room, viewers none yet. */
  cr_assert(visible(r1, admin) && visible(r2, op) && visible(r3, op));
  cr_assert_not(visible(r1, viewer));
  cr_assert_eq(list_count(admin), 3);
  cr_assert_eq(list_count(op), 3);
  cr_assert_eq(list_count(viewer), 0);
  cr_assert_eq(list_count(0), 3, "the system sees everything");

  /* Shared with the viewer directly. */
  vg_room_access a = {.room_id = r1, .user_id = viewer};
  cr_assert_eq(vg_store_access_add(st, &a), 0);
  cr_assert_gt(a.id, 0);
  cr_assert_str_eq(a.name, "vic");
  vg_room_access twice = {.room_id = r1, .user_id = viewer};
  cr_assert_eq(vg_store_access_add(st, &twice), VG_EEXIST);
  cr_assert(visible(r1, viewer));
  cr_assert_not(visible(r1, other));
  cr_assert_eq(list_count(viewer), 1);

  /* Shared through a group. */
  int64_t g = add_group("Team");
  vg_room_access ga = {.room_id = r2, .group_id = g};
  cr_assert_eq(vg_store_access_add(st, &ga), 0);
  cr_assert_str_eq(ga.name, "Team");
  cr_assert_not(visible(r2, viewer), "not a member yet");
  cr_assert_eq(vg_store_group_member_add(st, g, viewer), 0);
  cr_assert(visible(r2, viewer));
  cr_assert_eq(list_count(viewer), 2);
  cr_assert_not(visible(r3, viewer));

  /* Bad rights are refused. */
  vg_room_access both = {.room_id = r3, .user_id = viewer, .group_id = g};
  cr_assert_eq(vg_store_access_add(st, &both), VG_EINVAL);
  vg_room_access none = {.room_id = r3};
  cr_assert_eq(vg_store_access_add(st, &none), VG_EINVAL);
  vg_room_access ghost = {.room_id = r3, .user_id = 4242};
  cr_assert_eq(vg_store_access_add(st, &ghost), VG_ENOTFOUND);
  vg_room_access noroom = {.room_id = 4242, .user_id = viewer};
  cr_assert_eq(vg_store_access_add(st, &noroom), VG_ENOTFOUND);

  vg_room_access *list = NULL;
  size_t n = 0;
  vg_room_access gr = {.room_id = r1, .group_id = g};
  cr_assert_eq(vg_store_access_add(st, &gr), 0);
  cr_assert_eq(vg_store_access_list(st, r1, &list, &n), 0);
  cr_assert_eq(n, 2);
  cr_assert_eq(list[0].user_id, viewer, "users first");
  cr_assert_eq(list[1].group_id, g);
  free(list);

  vg_room_access found;
  cr_assert_eq(vg_store_access_find(st, r2, 0, g, &found), 0);
  cr_assert_eq(found.id, ga.id);
  cr_assert_eq(vg_store_access_find(st, r2, viewer, 0, &found), VG_ENOTFOUND);

  /* A disabled viewer sees nothing; neither does a disabled admin. */
  vg_user u;
  cr_assert_eq(vg_store_user_get(st, viewer, &u), 0);
  u.disabled = true;
  cr_assert_eq(vg_store_user_update(st, &u), 0);
  cr_assert_not(visible(r1, viewer));
  u.disabled = false;
  cr_assert_eq(vg_store_user_update(st, &u), 0);

  /* Removing the group's right, then deleting the group, takes them away. */
  cr_assert_eq(vg_store_access_delete(st, ga.id), 0);
  cr_assert_eq(vg_store_access_delete(st, ga.id), VG_ENOTFOUND);
  cr_assert_not(visible(r2, viewer));
  cr_assert(visible(r1, viewer));
  cr_assert_eq(vg_store_access_delete(st, a.id), 0);
  cr_assert(visible(r1, viewer), "still through the group");
  cr_assert_eq(vg_store_group_delete(st, g), 0);
  cr_assert_not(visible(r1, viewer));
  cr_assert_eq(list_count(viewer), 0);

  /* Unknown ids are simply not visible. */
  cr_assert_not(visible(4242, admin));
  cr_assert_not(visible(r1, 4242));
}

Test(rooms, list_paging) {
  char name[16];
  for (int i = 0; i < 5; i++) {
    snprintf(name, sizeof name, "Room %d", i);
    add_room(name);
  }
  vg_room *items = NULL;
  size_t n = 0;
  int64_t total = 0;
  cr_assert_eq(vg_store_room_list(st, 0, 2, 3, &items, &n, &total), 0);
  cr_assert_eq(total, 5);
  cr_assert_eq(n, 2);
  cr_assert_str_eq(items[0].name, "Room 3");
  free(items);
  cr_assert_eq(vg_store_room_list(st, 0, 2, 10, &items, &n, &total), 0);
  cr_assert_eq(n, 0);
  cr_assert_null(items);
}

/* ---- secrets ---- */

Test(secrets, key_file_created_private_and_stable) {
  uint8_t k1[VG_SECRET_KEY_BYTES], k2[VG_SECRET_KEY_BYTES];
  char err[512] = "";
  cr_assert_eq(vg_secret_key_load(dir, k1, err, sizeof err), 0, "%s", err);
  char kp[160];
  snprintf(kp, sizeof kp, "%s/%s", dir, VG_SECRET_KEY_FILE);
  struct stat sb;
  cr_assert_eq(stat(kp, &sb), 0);
  cr_assert_eq(sb.st_size, VG_SECRET_KEY_BYTES);
  cr_assert_eq(sb.st_mode & 0777, 0600);
  cr_assert_eq(vg_secret_key_load(dir, k2, err, sizeof err), 0, "%s", err);
  cr_assert_eq(memcmp(k1, k2, sizeof k1), 0, "the second start reads the same key");

  chmod(kp, 0640);
  cr_assert_eq(vg_secret_key_load(dir, k2, err, sizeof err), VG_EPERM);
  cr_assert_not_null(strstr(err, "chmod 600"), "%s", err);
  chmod(kp, 0600);

  cr_assert_eq(truncate(kp, 16), 0);
  cr_assert_eq(vg_secret_key_load(dir, k2, err, sizeof err), VG_EPERM);
  cr_assert_not_null(strstr(err, "16 bytes"), "%s", err);
}

Test(secrets, seal_open_round_trip_and_wrong_key) {
  uint8_t key[VG_SECRET_KEY_BYTES], other[VG_SECRET_KEY_BYTES];
  memset(key, 7, sizeof key);
  memset(other, 8, sizeof other);
  const char *pw = "s3cret:p@ss";
  uint8_t blob[VG_SEALED_MAX], blob2[VG_SEALED_MAX];
  size_t len = 0, len2 = 0;
  cr_assert_eq(vg_secret_seal(key, pw, strlen(pw), blob, sizeof blob, &len), 0);
  cr_assert_eq(len, strlen(pw) + VG_SECRET_OVERHEAD);
  cr_assert_null(memmem(blob, len, pw, strlen(pw)), "the password is not in the blob");
  cr_assert_eq(vg_secret_seal(key, pw, strlen(pw), blob2, sizeof blob2, &len2), 0);
  cr_assert_neq(memcmp(blob, blob2, len), 0, "a fresh nonce each time");

  char out[VG_CAMERA_PASSWORD_MAX + 1];
  size_t outlen = 0;
  cr_assert_eq(vg_secret_open(key, blob, len, out, sizeof out, &outlen), 0);
  cr_assert_eq(outlen, strlen(pw));
  cr_assert_str_eq(out, pw);

  cr_assert_eq(vg_secret_open(other, blob, len, out, sizeof out, &outlen), VG_EAUTH);
  blob[len - 1] ^= 1;
  cr_assert_eq(vg_secret_open(key, blob, len, out, sizeof out, &outlen), VG_EAUTH);
  cr_assert_eq(vg_secret_open(key, blob, 10, out, sizeof out, &outlen), VG_EINVAL);

  /* Limits: the largest camera password fits a stored blob. */
  char big[VG_CAMERA_PASSWORD_MAX];
  memset(big, 'p', sizeof big);
  cr_assert_eq(vg_secret_seal(key, big, sizeof big, blob, sizeof blob, &len), 0);
  cr_assert_eq(len, sizeof blob);
  cr_assert_eq(vg_secret_seal(key, big, sizeof big, blob, sizeof blob - 1, &len), VG_ETOOBIG);
  cr_assert_eq(vg_secret_open(key, blob, sizeof blob, out, sizeof out, &outlen), 0);
  cr_assert_eq(vg_secret_open(key, blob, sizeof blob, out, sizeof big, &outlen), VG_ETOOBIG);
}
