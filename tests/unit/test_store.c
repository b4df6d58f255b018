/* test_store.c - the store against a real SQLite file in a temp directory:
 * schema and migrations, users, sessions, and the audit chain, including
 * what verify says after someone edits a row behind the store's back. */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "store/migrations.h"
#include "store/store.h"

static char dir[64];
static char path[128];
static vg_store *st;

static void rm_rf(void) {
  const char *suffix[] = {"", "-wal", "-shm", "-journal"};
  char p[160];
  for (size_t i = 0; i < sizeof suffix / sizeof *suffix; i++) {
    snprintf(p, sizeof p, "%s%s", path, suffix[i]);
    unlink(p);
  }
  rmdir(dir);
}

static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/vigil-store-XXXXXX");
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

TestSuite(store, .init = setup, .fini = teardown);

static int64_t add_user(const char *name, const char *role) {
  vg_user u = {0};
  snprintf(u.username, sizeof u.username, "%s", name);
  snprintf(u.role, sizeof u.role, "%s", role);
  snprintf(u.pwhash, sizeof u.pwhash, "$argon2id$fake");
  int rc = vg_store_user_create(st, &u);
  cr_assert_eq(rc, 0, "create %s: %d", name, rc);
  cr_assert_gt(u.id, 0);
  return u.id;
}

/* A raw connection, as an attacker with file access would have. */
static sqlite3 *raw_open(void) {
  sqlite3 *db;
  cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
  return db;
}

static int64_t raw_int(sqlite3 *db, const char *sql) {
  sqlite3_stmt *p;
  cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &p, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
  cr_assert_eq(sqlite3_step(p), SQLITE_ROW);
  int64_t v = sqlite3_column_int64(p, 0);
  sqlite3_finalize(p);
  return v;
}

Test(store, open_creates_file_and_schema) {
  struct stat sb;
  cr_assert_eq(stat(path, &sb), 0);
  cr_assert_eq(sb.st_mode & 077, 0, "database must not be readable by others");
  cr_assert_eq(vg_store_schema_version(st), (int)vg_migrations_count());
  cr_assert_geq(vg_store_schema_version(st), 1);
  cr_assert_str_eq(vg_store_backend_name(st), "sqlite");

  sqlite3 *db = raw_open();
  cr_assert_eq(raw_int(db, "SELECT count(*) FROM schema_migrations"),
               (int64_t)vg_migrations_count());
  cr_assert_eq(raw_int(db,
                       "SELECT count(*) FROM sqlite_master WHERE name IN ('users', 'groups',"
                       " 'group_members', 'sessions', 'api_tokens', 'audit_log')"),
               6);
  sqlite3_stmt *p;
  cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &p, NULL), SQLITE_OK);
  cr_assert_eq(sqlite3_step(p), SQLITE_ROW);
  cr_assert_str_eq((const char *)sqlite3_column_text(p, 0), "wal");
  sqlite3_finalize(p);
  sqlite3_close(db);
}

Test(store, reopen_applies_nothing_twice) {
  add_user("alice", "admin");
  vg_store_close(st);
  char err[256];
  cr_assert_eq(vg_store_open(&st, path, err, sizeof err), 0, "%s", err);
  cr_assert_eq(vg_store_schema_version(st), (int)vg_migrations_count());
  vg_user u;
  cr_assert_eq(vg_store_user_by_name(st, "alice", &u), 0);

  sqlite3 *db = raw_open();
  cr_assert_eq(raw_int(db, "SELECT count(*) FROM schema_migrations"),
               (int64_t)vg_migrations_count());
  sqlite3_close(db);
}

Test(store, sqlite_url_prefix) {
  char url[160], err[256];
  snprintf(url, sizeof url, "sqlite:%s", path);
  vg_store *s2;
  cr_assert_eq(vg_store_open(&s2, url, err, sizeof err), 0, "%s", err);
  int64_t n = -1;
  cr_assert_eq(vg_store_user_count(s2, &n), 0);
  cr_assert_eq(n, 0);
  vg_store_close(s2);
}

Test(store, newer_schema_is_refused) {
  vg_store_close(st);
  st = NULL;
  sqlite3 *db = raw_open();
  cr_assert_eq(sqlite3_exec(db, "INSERT INTO schema_migrations VALUES (9999, 0)", 0, 0, 0),
               SQLITE_OK);
  sqlite3_close(db);
  char err[256];
  cr_assert_eq(vg_store_open(&st, path, err, sizeof err), VG_EDB);
  cr_assert_not_null(strstr(err, "newer"), "%s", err);
  cr_assert_null(st);
}

Test(store, postgres_refused) {
  vg_store *s2 = (vg_store *)1;
  char err[256];
  cr_assert_eq(vg_store_open(&s2, "postgres://vigil@localhost/vigil", err, sizeof err), VG_ECONFIG);
  cr_assert_str_eq(err, "PostgreSQL back end not built yet");
  cr_assert_null(s2);
  cr_assert_eq(vg_store_open(&s2, "postgresql://localhost/vigil", err, sizeof err), VG_ECONFIG);
  cr_assert_str_eq(err, "PostgreSQL back end not built yet");
}

Test(store, user_crud) {
  vg_user u = {0};
  strcpy(u.username, "Alice");
  strcpy(u.role, "operator");
  strcpy(u.pwhash, "$argon2id$x");
  cr_assert_eq(vg_store_user_create(st, &u), 0);
  cr_assert_gt(u.id, 0);
  cr_assert_gt(u.created_at, 0);
  cr_assert_eq(u.created_at, u.updated_at);

  vg_user g;
  cr_assert_eq(vg_store_user_get(st, u.id, &g), 0);
  cr_assert_str_eq(g.username, "Alice");
  cr_assert_str_eq(g.role, "operator");
  cr_assert_str_eq(g.pwhash, "$argon2id$x");
  cr_assert_not(g.disabled);

  /* Names are case-insensitive, for lookup and for uniqueness. */
  cr_assert_eq(vg_store_user_by_name(st, "aLiCe", &g), 0);
  cr_assert_eq(g.id, u.id);
  vg_user dup = {0};
  strcpy(dup.username, "ALICE");
  strcpy(dup.role, "viewer");
  cr_assert_eq(vg_store_user_create(st, &dup), VG_EEXIST);

  strcpy(g.role, "admin");
  g.disabled = true;
  strcpy(g.username, "alice2");
  cr_assert_eq(vg_store_user_update(st, &g), 0);
  vg_user h;
  cr_assert_eq(vg_store_user_get(st, u.id, &h), 0);
  cr_assert_str_eq(h.username, "alice2");
  cr_assert_str_eq(h.role, "admin");
  cr_assert(h.disabled);
  cr_assert_geq(h.updated_at, h.created_at);
  cr_assert_eq(vg_store_user_by_name(st, "alice", &h), VG_ENOTFOUND);

  /* Renaming onto someone else's name. */
  int64_t bob = add_user("bob", "viewer");
  strcpy(g.username, "BOB");
  cr_assert_eq(vg_store_user_update(st, &g), VG_EEXIST);

  cr_assert_eq(vg_store_user_delete(st, u.id), 0);
  cr_assert_eq(vg_store_user_get(st, u.id, &h), VG_ENOTFOUND);
  cr_assert_eq(vg_store_user_delete(st, u.id), VG_ENOTFOUND);
  cr_assert_eq(vg_store_user_delete(st, 424242), VG_ENOTFOUND);
  g.id = 424242;
  cr_assert_eq(vg_store_user_update(st, &g), VG_ENOTFOUND);
  cr_assert_eq(vg_store_user_get(st, bob, &h), 0);
}

Test(store, user_invalid) {
  vg_user u = {0};
  strcpy(u.username, "carol");
  strcpy(u.role, "root");
  cr_assert_eq(vg_store_user_create(st, &u), VG_EINVAL);
  strcpy(u.role, "viewer");
  u.username[0] = 0;
  cr_assert_eq(vg_store_user_create(st, &u), VG_EINVAL);
  strcpy(u.username, "a\nb");
  cr_assert_eq(vg_store_user_create(st, &u), VG_EINVAL);
  /* A name that is an SQL fragment is just a name. */
  strcpy(u.username, "x'; DROP TABLE users; --");
  cr_assert_eq(vg_store_user_create(st, &u), 0);
  vg_user g;
  cr_assert_eq(vg_store_user_by_name(st, "x'; DROP TABLE users; --", &g), 0);
}

Test(store, user_list_paging_and_counts) {
  const char *names[] = {"delta", "Alpha", "charlie", "Bravo", "echo"};
  for (int i = 0; i < 5; i++) add_user(names[i], i < 2 ? "admin" : "viewer");

  int64_t count = 0;
  cr_assert_eq(vg_store_user_count(st, &count), 0);
  cr_assert_eq(count, 5);
  cr_assert_eq(vg_store_admin_count(st, &count), 0);
  cr_assert_eq(count, 2);

  vg_user *items;
  size_t n;
  int64_t total;
  cr_assert_eq(vg_store_user_list(st, 2, 0, &items, &n, &total), 0);
  cr_assert_eq(n, 2);
  cr_assert_eq(total, 5);
  cr_assert_str_eq(items[0].username, "Alpha");
  cr_assert_str_eq(items[1].username, "Bravo");
  free(items);

  cr_assert_eq(vg_store_user_list(st, 2, 4, &items, &n, &total), 0);
  cr_assert_eq(n, 1);
  cr_assert_str_eq(items[0].username, "echo");
  free(items);

  cr_assert_eq(vg_store_user_list(st, 10, 10, &items, &n, &total), 0);
  cr_assert_eq(n, 0);
  cr_assert_eq(total, 5);
  free(items);

  cr_assert_eq(vg_store_user_list(st, 100, 0, &items, &n, &total), 0);
  cr_assert_eq(n, 5);
  const char *want[] = {"Alpha", "Bravo", "charlie", "delta", "echo"};
  for (int i = 0; i < 5; i++) cr_assert_str_eq(items[i].username, want[i]);

  /* A disabled admin does not count. */
  vg_user a = items[0];
  free(items);
  a.disabled = true;
  cr_assert_eq(vg_store_user_update(st, &a), 0);
  cr_assert_eq(vg_store_admin_count(st, &count), 0);
  cr_assert_eq(count, 1);

  cr_assert_eq(vg_store_user_list(st, -1, 0, &items, &n, &total), VG_EINVAL);
}

static void make_session(vg_session *s, int64_t user, char c, int64_t expires) {
  memset(s, 0, sizeof *s);
  s->user_id = user;
  memset(s->token_hash, c, 64);
  s->token_hash[64] = 0;
  strcpy(s->csrf, "csrf-token");
  strcpy(s->kind, "cookie");
  strcpy(s->addr, "192.0.2.7");
  s->created_at = 1000;
  s->expires_at = expires;
}

Test(store, sessions) {
  int64_t uid = add_user("alice", "admin");
  vg_session s, g;
  make_session(&s, uid, 'a', 5000);
  cr_assert_eq(vg_store_session_create(st, &s), 0);
  cr_assert_gt(s.id, 0);

  cr_assert_eq(vg_store_session_get(st, s.token_hash, 4999, &g), 0);
  cr_assert_eq(g.id, s.id);
  cr_assert_eq(g.user_id, uid);
  cr_assert_str_eq(g.csrf, "csrf-token");
  cr_assert_str_eq(g.kind, "cookie");
  cr_assert_str_eq(g.addr, "192.0.2.7");
  cr_assert_eq(g.expires_at, 5000);
  /* Expired at its expiry instant. */
  cr_assert_eq(vg_store_session_get(st, s.token_hash, 5000, &g), VG_ENOTFOUND);

  char other[65];
  memset(other, 'f', 64);
  other[64] = 0;
  cr_assert_eq(vg_store_session_get(st, other, 0, &g), VG_ENOTFOUND);

  /* Same token twice, unknown user, bad kind. */
  vg_session d = s;
  cr_assert_eq(vg_store_session_create(st, &d), VG_EEXIST);
  make_session(&d, 999, 'b', 5000);
  cr_assert_eq(vg_store_session_create(st, &d), VG_ENOTFOUND);
  make_session(&d, uid, 'b', 5000);
  strcpy(d.kind, "magic");
  cr_assert_eq(vg_store_session_create(st, &d), VG_EINVAL);

  cr_assert_eq(vg_store_session_delete(st, s.token_hash), 0);
  cr_assert_eq(vg_store_session_get(st, s.token_hash, 0, &g), VG_ENOTFOUND);
  cr_assert_eq(vg_store_session_delete(st, s.token_hash), 0);

  /* delete_user removes only that user's rows. */
  int64_t bob = add_user("bob", "viewer");
  make_session(&s, uid, 'c', 5000);
  cr_assert_eq(vg_store_session_create(st, &s), 0);
  make_session(&d, bob, 'd', 5000);
  strcpy(d.kind, "bearer");
  cr_assert_eq(vg_store_session_create(st, &d), 0);
  cr_assert_eq(vg_store_session_delete_user(st, uid), 0);
  cr_assert_eq(vg_store_session_get(st, s.token_hash, 0, &g), VG_ENOTFOUND);
  cr_assert_eq(vg_store_session_get(st, d.token_hash, 0, &g), 0);
  cr_assert_str_eq(g.kind, "bearer");

  /* purge drops expired rows only. */
  make_session(&s, uid, 'e', 100);
  cr_assert_eq(vg_store_session_create(st, &s), 0);
  cr_assert_eq(vg_store_session_purge(st, 200), 0);
  sqlite3 *db = raw_open();
  cr_assert_eq(raw_int(db, "SELECT count(*) FROM sessions"), 1);
  sqlite3_close(db);
  cr_assert_eq(vg_store_session_get(st, d.token_hash, 0, &g), 0);
}

Test(store, delete_user_cascades_sessions) {
  int64_t uid = add_user("alice", "admin");
  vg_session s, g;
  make_session(&s, uid, 'a', 5000);
  cr_assert_eq(vg_store_session_create(st, &s), 0);
  cr_assert_eq(vg_store_user_delete(st, uid), 0);
  cr_assert_eq(vg_store_session_get(st, s.token_hash, 0, &g), VG_ENOTFOUND);
  sqlite3 *db = raw_open();
  cr_assert_eq(raw_int(db, "SELECT count(*) FROM sessions"), 0);
  sqlite3_close(db);
}

static void append3(void) {
  cr_assert_eq(
      vg_store_audit_append(st, 1000, 0, "mallory", "198.51.100.1", "login.failed", "", NULL), 0);
  cr_assert_eq(
      vg_store_audit_append(st, 2000, 1, "alice", "192.0.2.7", "login", "user:1", "{\"a\":1}"), 0);
  cr_assert_eq(vg_store_audit_append(st, 3000, 1, "alice", "192.0.2.7", "user.create", "user:2",
                                     "{\"name\":\"line\\nbreak\"}"),
               0);
}

Test(store, audit_append_list_verify) {
  append3();
  vg_audit_entry *items;
  size_t n;
  int64_t total;
  cr_assert_eq(vg_store_audit_list(st, 10, 0, &items, &n, &total), 0);
  cr_assert_eq(n, 3);
  cr_assert_eq(total, 3);
  cr_assert_str_eq(items[0].action, "user.create");
  cr_assert_str_eq(items[1].action, "login");
  cr_assert_str_eq(items[2].action, "login.failed");
  cr_assert_eq(items[0].at, 3000);
  cr_assert_eq(items[1].user_id, 1);
  cr_assert_str_eq(items[1].detail, "{\"a\":1}");
  cr_assert_str_eq(items[2].detail, "{}");
  cr_assert_eq(items[2].user_id, 0);
  cr_assert_str_eq(items[2].username, "mallory");
  cr_assert_eq(strlen(items[0].hash), 64);
  cr_assert_str_neq(items[0].hash, items[1].hash);
  vg_audit_entries_free(items, n);

  cr_assert_eq(vg_store_audit_list(st, 1, 1, &items, &n, &total), 0);
  cr_assert_eq(n, 1);
  cr_assert_str_eq(items[0].action, "login");
  vg_audit_entries_free(items, n);

  int64_t bad = -1;
  cr_assert_eq(vg_store_audit_verify(st, &bad), 0);
  cr_assert_eq(bad, 0);

  /* The first row links to 64 zeros. */
  sqlite3 *db = raw_open();
  cr_assert_eq(raw_int(db, "SELECT prev_hash = printf('%.64c', '0') FROM audit_log WHERE id = 1"),
               1);
  sqlite3_close(db);

  /* Detail must be JSON. */
  cr_assert_eq(vg_store_audit_append(st, 4000, 1, "alice", "", "x", "", "{not json"), VG_EINVAL);
}

Test(store, audit_long_fields_are_cut) {
  char name[300];
  memset(name, 'n', sizeof name - 1);
  name[sizeof name - 1] = 0;
  cr_assert_eq(vg_store_audit_append(st, 1, 0, name, "", "login.failed", "", NULL), 0);
  vg_audit_entry *items;
  size_t n;
  cr_assert_eq(vg_store_audit_list(st, 10, 0, &items, &n, NULL), 0);
  cr_assert_eq(strlen(items[0].username), VG_USERNAME_MAX);
  vg_audit_entries_free(items, n);
  int64_t bad;
  cr_assert_eq(vg_store_audit_verify(st, &bad), 0);
}

Test(store, audit_is_append_only) {
  append3();
  sqlite3 *db = raw_open();
  cr_assert_neq(sqlite3_exec(db, "UPDATE audit_log SET action = 'x' WHERE id = 2", 0, 0, 0),
                SQLITE_OK);
  cr_assert_neq(sqlite3_exec(db, "DELETE FROM audit_log WHERE id = 2", 0, 0, 0), SQLITE_OK);
  cr_assert_eq(raw_int(db, "SELECT count(*) FROM audit_log"), 3);
  sqlite3_close(db);
}

Test(store, audit_tamper_is_found) {
  append3();
  sqlite3 *db = raw_open();
  cr_assert_eq(sqlite3_exec(db,
                            "DROP TRIGGER audit_log_no_update;"
                            "UPDATE audit_log SET username = 'bob' WHERE id = 2",
                            0, 0, 0),
               SQLITE_OK, "%s", sqlite3_errmsg(db));
  sqlite3_close(db);
  int64_t bad = 0;
  cr_assert_eq(vg_store_audit_verify(st, &bad), VG_EINVAL);
  cr_assert_eq(bad, 2);
}

Test(store, audit_deleted_row_is_found) {
  append3();
  sqlite3 *db = raw_open();
  cr_assert_eq(sqlite3_exec(db,
                            "DROP TRIGGER audit_log_no_delete;"
                            "DELETE FROM audit_log WHERE id = 2",
                            0, 0, 0),
               SQLITE_OK, "%s", sqlite3_errmsg(db));
  sqlite3_close(db);
  int64_t bad = 0;
  cr_assert_eq(vg_store_audit_verify(st, &bad), VG_EINVAL);
  cr_assert_eq(bad, 3);
}
