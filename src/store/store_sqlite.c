/* store_sqlite.c - the SQLite back end.
 *
 * One connection per vg_store, used from one thread at a time. The database
 * runs in WAL mode (readers do not block the writer), with foreign keys on,
 * synchronous=NORMAL (a power cut may lose the last commits, never corrupt
 * the file) and a 5 s busy timeout for the moments the CLI and the server
 * write at once.
 *
 * Statements are prepared once, on first use, and kept in st->stmts until
 * close; every value reaches SQL through a bind, never through the text.
 * Writes that read before they write (the audit chain, migrations) run in
 * BEGIN IMMEDIATE so two processes cannot interleave them. */
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "migrations.h"
#include "store_impl.h"

#define BUSY_TIMEOUT_MS 5000

enum {
  Q_BEGIN,
  Q_BEGIN_IMMEDIATE,
  Q_COMMIT,
  Q_ROLLBACK,
  Q_USER_INSERT,
  Q_USER_GET,
  Q_USER_BY_NAME,
  Q_USER_UPDATE,
  Q_USER_DELETE,
  Q_USER_COUNT,
  Q_ADMIN_COUNT,
  Q_USER_LIST,
  Q_SESSION_INSERT,
  Q_SESSION_GET,
  Q_SESSION_DELETE,
  Q_SESSION_DELETE_USER,
  Q_SESSION_PURGE,
  Q_AUDIT_LAST,
  Q_AUDIT_INSERT,
  Q_AUDIT_COUNT,
  Q_AUDIT_LIST,
  Q_AUDIT_ALL,
  Q_COUNT
};

#define USER_COLS "id, username, role, pwhash, disabled, created_at, updated_at"
#define SESSION_COLS "id, user_id, token_hash, csrf, kind, addr, created_at, expires_at"
#define AUDIT_COLS "id, at, user_id, username, addr, action, target, detail, prev_hash, hash"

static const char *const query_sql[Q_COUNT] = {
    [Q_BEGIN] = "BEGIN",
    [Q_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_USER_INSERT] =
        "INSERT INTO users (username, role, pwhash, disabled, created_at, updated_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
    [Q_USER_GET] = "SELECT " USER_COLS " FROM users WHERE id = ?1",
    [Q_USER_BY_NAME] = "SELECT " USER_COLS " FROM users WHERE username = ?1",
    [Q_USER_UPDATE] =
        "UPDATE users SET username = ?2, role = ?3, pwhash = ?4, disabled = ?5,"
        " updated_at = ?6 WHERE id = ?1",
    [Q_USER_DELETE] = "DELETE FROM users WHERE id = ?1",
    [Q_USER_COUNT] = "SELECT count(*) FROM users",
    [Q_ADMIN_COUNT] = "SELECT count(*) FROM users WHERE role = 'admin' AND disabled = 0",
    [Q_USER_LIST] = "SELECT " USER_COLS
                    " FROM users ORDER BY username COLLATE NOCASE, id"
                    " LIMIT ?1 OFFSET ?2",
    [Q_SESSION_INSERT] =
        "INSERT INTO sessions (user_id, token_hash, csrf, kind, addr, created_at,"
        " expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [Q_SESSION_GET] =
        "SELECT " SESSION_COLS " FROM sessions WHERE token_hash = ?1 AND expires_at > ?2",
    [Q_SESSION_DELETE] = "DELETE FROM sessions WHERE token_hash = ?1",
    [Q_SESSION_DELETE_USER] = "DELETE FROM sessions WHERE user_id = ?1",
    [Q_SESSION_PURGE] = "DELETE FROM sessions WHERE expires_at <= ?1",
    [Q_AUDIT_LAST] = "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1",
    [Q_AUDIT_INSERT] =
        "INSERT INTO audit_log (" AUDIT_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [Q_AUDIT_COUNT] = "SELECT count(*) FROM audit_log",
    [Q_AUDIT_LIST] = "SELECT " AUDIT_COLS " FROM audit_log ORDER BY id DESC LIMIT ?1 OFFSET ?2",
    [Q_AUDIT_ALL] = "SELECT " AUDIT_COLS " FROM audit_log ORDER BY id",
};

typedef struct sq_store {
  vg_store base; /* first, so vg_store * and sq_store * convert */
  sqlite3 *db;
  int version;
  sqlite3_stmt *stmts[Q_COUNT];
} sq_store;

static sq_store *sq(vg_store *s) { return (sq_store *)s; }

/* Maps a SQLite result code (extended codes are on) to a VG_E* code and
 * keeps the message for vg_store_errmsg. */
static int db_err(sq_store *st, int rc) {
  int code;
  switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
      code = VG_EEXIST;
      break;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
      code = VG_ENOTFOUND; /* the row it points at does not exist */
      break;
    case SQLITE_CONSTRAINT_TRIGGER:
      code = VG_EPERM; /* the audit log refuses UPDATE and DELETE */
      break;
    case SQLITE_NOMEM:
      code = VG_ENOMEM;
      break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_BUSY_SNAPSHOT:
      code = VG_EBUSY;
      break;
    default:
      if ((rc & 0xff) == SQLITE_CONSTRAINT)
        code = VG_EINVAL; /* CHECK, NOT NULL */
      else if ((rc & 0xff) == SQLITE_IOERR || rc == SQLITE_FULL || rc == SQLITE_CANTOPEN)
        code = VG_EIO;
      else
        code = VG_EDB;
  }
  vg_store_fail(&st->base, code, "sqlite: %s (%d)", sqlite3_errmsg(st->db), rc);
  if (code == VG_EDB || code == VG_EIO) vg_log_error("store: %s", st->base.errmsg);
  return code;
}

/* Returns the cached statement q, reset and with no bindings, preparing it
 * on first use; NULL with the error recorded when it cannot be prepared. */
static sqlite3_stmt *stmt(sq_store *st, int q, int *err) {
  if (!st->stmts[q]) {
    int rc = sqlite3_prepare_v3(st->db, query_sql[q], -1, SQLITE_PREPARE_PERSISTENT, &st->stmts[q],
                                NULL);
    if (rc != SQLITE_OK) {
      *err = db_err(st, rc);
      return NULL;
    }
  }
  return st->stmts[q];
}

/* Ends a use of a cached statement, dropping its bound text. */
static void done(sqlite3_stmt *q) {
  sqlite3_reset(q);
  sqlite3_clear_bindings(q);
}

/* Runs a statement that returns no rows. */
static int run(sq_store *st, int q) {
  int rc = 0;
  sqlite3_stmt *p = stmt(st, q, &rc);
  if (!p) return rc;
  int r = sqlite3_step(p);
  if (r != SQLITE_DONE && r != SQLITE_ROW) rc = db_err(st, r);
  done(p);
  return rc;
}

static void rollback(sq_store *st) {
  if (!sqlite3_get_autocommit(st->db)) run(st, Q_ROLLBACK);
}

/* Ends a transaction: commits when rc is 0, else rolls back; returns rc or
 * the commit's error. */
static int finish(sq_store *st, int rc) {
  if (rc) {
    rollback(st);
    return rc;
  }
  rc = run(st, Q_COMMIT);
  if (rc) rollback(st);
  return rc;
}

static void bind_text(sqlite3_stmt *p, int i, const char *s) {
  sqlite3_bind_text(p, i, s ? s : "", -1, SQLITE_TRANSIENT);
}

static const char *col_text(sqlite3_stmt *p, int i) {
  const char *s = (const char *)sqlite3_column_text(p, i);
  return s ? s : "";
}

/* Runs a single-value count query. */
static int count_query(sq_store *st, int q, int64_t *count) {
  int rc = 0;
  sqlite3_stmt *p = stmt(st, q, &rc);
  if (!p) return rc;
  int r = sqlite3_step(p);
  if (r == SQLITE_ROW)
    *count = sqlite3_column_int64(p, 0);
  else
    rc = db_err(st, r);
  done(p);
  return rc;
}

/* ---- open, close, migrations ---- */

static int exec_sql(sq_store *st, const char *sql) {
  int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
  return rc == SQLITE_OK ? 0 : db_err(st, rc);
}

/* Reads one integer or text pragma value into buf. */
static int pragma_text(sq_store *st, const char *sql, char *buf, size_t len) {
  sqlite3_stmt *p;
  int rc = sqlite3_prepare_v2(st->db, sql, -1, &p, NULL);
  if (rc != SQLITE_OK) return db_err(st, rc);
  rc = sqlite3_step(p);
  if (rc == SQLITE_ROW) {
    snprintf(buf, len, "%s", col_text(p, 0));
    rc = 0;
  } else {
    rc = db_err(st, rc);
  }
  sqlite3_finalize(p);
  return rc;
}

static int applied_version(sq_store *st, int *version) {
  sqlite3_stmt *p;
  int rc = sqlite3_prepare_v2(st->db, "SELECT coalesce(max(version), 0) FROM schema_migrations", -1,
                              &p, NULL);
  if (rc != SQLITE_OK) return db_err(st, rc);
  rc = sqlite3_step(p);
  if (rc == SQLITE_ROW) {
    *version = sqlite3_column_int(p, 0);
    rc = 0;
  } else {
    rc = db_err(st, rc);
  }
  sqlite3_finalize(p);
  return rc;
}

static int record_version(sq_store *st, int version) {
  sqlite3_stmt *p;
  int rc = sqlite3_prepare_v2(
      st->db, "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)", -1, &p, NULL);
  if (rc != SQLITE_OK) return db_err(st, rc);
  sqlite3_bind_int(p, 1, version);
  sqlite3_bind_int64(p, 2, vg_now_ms());
  rc = sqlite3_step(p);
  rc = rc == SQLITE_DONE ? 0 : db_err(st, rc);
  sqlite3_finalize(p);
  return rc;
}

/* Applies every embedded migration newer than the database, each in its own
 * IMMEDIATE transaction; the version is read again inside each one, so two
 * processes starting together apply each migration once. */
static int migrate(sq_store *st, char *err, size_t errlen) {
  int latest = vg_migrations_latest();
  for (;;) {
    int rc = exec_sql(st, "BEGIN IMMEDIATE");
    if (rc) {
      snprintf(err, errlen, "cannot lock the database: %s", st->base.errmsg);
      return rc;
    }
    int version = 0;
    rc = exec_sql(st,
                  "CREATE TABLE IF NOT EXISTS schema_migrations ("
                  " version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
    if (!rc) rc = applied_version(st, &version);
    if (rc) {
      rollback(st);
      snprintf(err, errlen, "cannot read the schema version: %s", st->base.errmsg);
      return rc;
    }
    if (version > latest) {
      rollback(st);
      snprintf(err, errlen, "database schema version %d is newer than this build (%d)", version,
               latest);
      return VG_EDB;
    }
    if (version == latest) {
      rc = finish(st, 0);
      if (rc) snprintf(err, errlen, "%s", st->base.errmsg);
      st->version = version;
      return rc;
    }
    const vg_migration *m = vg_migration_at((size_t)version);
    rc = exec_sql(st, m->sql);
    if (!rc) rc = record_version(st, m->version);
    rc = finish(st, rc);
    if (rc) {
      snprintf(err, errlen, "migration %04d_%s failed: %s", m->version, m->name, st->base.errmsg);
      return rc;
    }
    vg_log_info("store: applied migration %04d_%s", m->version, m->name);
  }
}

static void sq_close(vg_store *s) {
  sq_store *st = sq(s);
  for (int i = 0; i < Q_COUNT; i++) sqlite3_finalize(st->stmts[i]);
  sqlite3_close(st->db);
  free(st);
}

/* The database holds password hashes and session hashes: create it
 * readable by its owner only. SQLite gives the -wal and -shm files the
 * same mode. */
static void create_private(const char *path) {
  if (strcmp(path, ":memory:") == 0 || strncmp(path, "file:", 5) == 0) return;
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) close(fd);
}

static int sq_open(vg_store **out, const char *path, char *err, size_t errlen) {
  sq_store *st = calloc(1, sizeof *st);
  if (!st) return VG_ENOMEM;
  st->base.be = &vg_store_sqlite;
  create_private(path);
  int r = sqlite3_open_v2(path, &st->db,
                          SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
  if (r != SQLITE_OK) {
    snprintf(err, errlen, "cannot open %s: %s", path,
             st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(r));
    sqlite3_close(st->db);
    free(st);
    return r == SQLITE_NOMEM ? VG_ENOMEM : VG_EIO;
  }
  sqlite3_extended_result_codes(st->db, 1);
  sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);

  char mode[32] = "", fk[8] = "";
  int rc = pragma_text(st, "PRAGMA journal_mode = WAL", mode, sizeof mode);
  if (!rc) rc = exec_sql(st, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL");
  if (!rc) rc = pragma_text(st, "PRAGMA foreign_keys", fk, sizeof fk);
  if (rc) {
    /* A file that is not a database fails here, on its first read. */
    snprintf(err, errlen, "cannot set up %s: %s", path, st->base.errmsg);
    sq_close(&st->base);
    return rc == VG_EIO ? VG_EIO : VG_EDB;
  }
  if (strcmp(fk, "1") != 0) {
    snprintf(err, errlen, "this SQLite has no foreign key support");
    sq_close(&st->base);
    return VG_EDB;
  }
  if (strcmp(mode, "wal") != 0 && strcmp(mode, "memory") != 0)
    vg_log_warn("store: %s: journal mode is %s, not wal", path, mode);

  rc = migrate(st, err, errlen);
  if (rc) {
    sq_close(&st->base);
    return rc;
  }
  *out = &st->base;
  return 0;
}

static int sq_schema_version(vg_store *s) { return sq(s)->version; }

/* ---- users ---- */

static void read_user(sqlite3_stmt *p, vg_user *u) {
  memset(u, 0, sizeof *u);
  u->id = sqlite3_column_int64(p, 0);
  vg_store_copy(u->username, sizeof u->username, col_text(p, 1));
  vg_store_copy(u->role, sizeof u->role, col_text(p, 2));
  vg_store_copy(u->pwhash, sizeof u->pwhash, col_text(p, 3));
  u->disabled = sqlite3_column_int(p, 4) != 0;
  u->created_at = sqlite3_column_int64(p, 5);
  u->updated_at = sqlite3_column_int64(p, 6);
}

static int sq_user_create(vg_store *s, vg_user *u) {
  sq_store *st = sq(s);
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_USER_INSERT, &rc);
  if (!p) return rc;
  int64_t now = vg_now_ms();
  bind_text(p, 1, u->username);
  bind_text(p, 2, u->role);
  bind_text(p, 3, u->pwhash);
  sqlite3_bind_int(p, 4, u->disabled ? 1 : 0);
  sqlite3_bind_int64(p, 5, now);
  int r = sqlite3_step(p);
  if (r == SQLITE_DONE) {
    u->id = sqlite3_last_insert_rowid(st->db);
    u->created_at = u->updated_at = now;
  } else {
    rc = db_err(st, r);
  }
  done(p);
  return rc;
}

/* Runs a query that yields at most one user. */
static int user_query(sq_store *st, sqlite3_stmt *p, vg_user *out) {
  int rc = 0;
  int r = sqlite3_step(p);
  if (r == SQLITE_ROW)
    read_user(p, out);
  else if (r == SQLITE_DONE)
    rc = VG_ENOTFOUND;
  else
    rc = db_err(st, r);
  done(p);
  return rc;
}

static int sq_user_get(vg_store *s, int64_t id, vg_user *out) {
  sq_store *st = sq(s);
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_USER_GET, &rc);
  if (!p) return rc;
  sqlite3_bind_int64(p, 1, id);
  return user_query(st, p, out);
}

static int sq_user_by_name(vg_store *s, const char *name, vg_user *out) {
  sq_store *st = sq(s);
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_USER_BY_NAME, &rc);
  if (!p) return rc;
  bind_text(p, 1, name);
  return user_query(st, p, out);
}

/* Runs a write of one row by key; VG_ENOTFOUND when no row changed. */
static int write_one(sq_store *st, sqlite3_stmt *p) {
  int rc = 0;
  int r = sqlite3_step(p);
  if (r != SQLITE_DONE)
    rc = db_err(st, r);
  else if (sqlite3_changes(st->db) == 0)
    rc = VG_ENOTFOUND;
  done(p);
  return rc;
}

static int sq_user_update(vg_store *s, const vg_user *u) {
  sq_store *st = sq(s);
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_USER_UPDATE, &rc);
  if (!p) return rc;
  sqlite3_bind_int64(p, 1, u->id);
  bind_text(p, 2, u->username);
  bind_text(p, 3, u->role);
  bind_text(p, 4, u->pwhash);
  sqlite3_bind_int(p, 5, u->disabled ? 1 : 0);
  sqlite3_bind_int64(p, 6, vg_now_ms());
  return write_one(st, p);
}

static int sq_user_delete(vg_store *s, int64_t id) {
  sq_store *st = sq(s);
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_USER_DELETE, &rc);
  if (!p) return rc;
  sqlite3_bind_int64(p, 1, id);
  return write_one(st, p);
}

static int sq_user_count(vg_store *s, int64_t *count) {
  return count_query(sq(s), Q_USER_COUNT, count);
}

static int sq_admin_count(vg_store *s, int64_t *count) {
  return count_query(sq(s), Q_ADMIN_COUNT, count);
}

static int sq_user_list(vg_store *s, int64_t limit, int64_t offset, vg_user **items, size_t *n,
                        int64_t *total) {
  sq_store *st = sq(s);
  /* One read transaction, so the page and the total agree. */
  int rc = run(st, Q_BEGIN);
  if (rc) return rc;
  rc = count_query(st, Q_USER_COUNT, total);
  vg_user *list = NULL;
  size_t len = 0;
  if (!rc && limit > 0 && *total > offset) {
    sqlite3_stmt *p = stmt(st, Q_USER_LIST, &rc);
    if (p) {
      size_t cap = (size_t)(limit < *total - offset ? limit : *total - offset);
      list = malloc(cap * sizeof *list);
      if (!list) rc = VG_ENOMEM;
      sqlite3_bind_int64(p, 1, limit);
      sqlite3_bind_int64(p, 2, offset);
      int r = SQLITE_DONE;
      while (!rc && len < cap && (r = sqlite3_step(p)) == SQLITE_ROW) read_user(p, &list[len++]);
      if (!rc && r != SQLITE_ROW && r != SQLITE_DONE) rc = db_err(st, r);
      done(p);
    }
  }
  rc = finish(st, rc);
  if (rc || !len) {
    free(list);
    return rc;
  }
  *items = list;
  *n = len;
  return 0;
}

/* ---- sessions ---- */

static int sq_session_create(vg_store *s, vg_session *sess) {
  sq_store *st = sq(s);
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_SESSION_INSERT, &rc);
  if (!p) return rc;
  if (!sess->created_at) sess->created_at = vg_now_ms();
  sqlite3_bind_int64(p, 1, sess->user_id);
  bind_text(p, 2, sess->token_hash);
  bind_text(p, 3, sess->csrf);
  bind_text(p, 4, sess->kind);
  bind_text(p, 5, sess->addr);
  sqlite3_bind_int64(p, 6, sess->created_at);
  sqlite3_bind_int64(p, 7, sess->expires_at);
  int r = sqlite3_step(p);
  if (r == SQLITE_DONE)
    sess->id = sqlite3_last_insert_rowid(st->db);
  else
    rc = db_err(st, r);
  done(p);
  return rc;
}

static int sq_session_get(vg_store *s, const char *token_hash, int64_t now, vg_session *out) {
  sq_store *st = sq(s);
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_SESSION_GET, &rc);
  if (!p) return rc;
  bind_text(p, 1, token_hash);
  sqlite3_bind_int64(p, 2, now);
  int r = sqlite3_step(p);
  if (r == SQLITE_ROW) {
    memset(out, 0, sizeof *out);
    out->id = sqlite3_column_int64(p, 0);
    out->user_id = sqlite3_column_int64(p, 1);
    vg_store_copy(out->token_hash, sizeof out->token_hash, col_text(p, 2));
    vg_store_copy(out->csrf, sizeof out->csrf, col_text(p, 3));
    vg_store_copy(out->kind, sizeof out->kind, col_text(p, 4));
    vg_store_copy(out->addr, sizeof out->addr, col_text(p, 5));
    out->created_at = sqlite3_column_int64(p, 6);
    out->expires_at = sqlite3_column_int64(p, 7);
  } else if (r == SQLITE_DONE) {
    rc = VG_ENOTFOUND;
  } else {
    rc = db_err(st, r);
  }
  done(p);
  return rc;
}

/* Runs a DELETE keyed by one text or integer; no rows deleted is fine. */
static int delete_where(sq_store *st, int q, const char *text, int64_t num) {
  int rc = 0;
  sqlite3_stmt *p = stmt(st, q, &rc);
  if (!p) return rc;
  if (text)
    bind_text(p, 1, text);
  else
    sqlite3_bind_int64(p, 1, num);
  int r = sqlite3_step(p);
  if (r != SQLITE_DONE) rc = db_err(st, r);
  done(p);
  return rc;
}

static int sq_session_delete(vg_store *s, const char *token_hash) {
  return delete_where(sq(s), Q_SESSION_DELETE, token_hash, 0);
}

static int sq_session_delete_user(vg_store *s, int64_t user_id) {
  return delete_where(sq(s), Q_SESSION_DELETE_USER, NULL, user_id);
}

static int sq_session_purge(vg_store *s, int64_t now) {
  return delete_where(sq(s), Q_SESSION_PURGE, NULL, now);
}

/* ---- audit log ---- */

static int sq_audit_append(vg_store *s, const vg_audit_entry *e) {
  sq_store *st = sq(s);
  /* IMMEDIATE: the id and prev_hash read here must still be the newest
   * when the row is written, even with another process appending. */
  int rc = run(st, Q_BEGIN_IMMEDIATE);
  if (rc) return rc;
  int64_t id = 1;
  char prev[65] = VG_AUDIT_GENESIS, hash[65];
  sqlite3_stmt *p = stmt(st, Q_AUDIT_LAST, &rc);
  if (p) {
    int r = sqlite3_step(p);
    if (r == SQLITE_ROW) {
      id = sqlite3_column_int64(p, 0) + 1;
      vg_store_copy(prev, sizeof prev, col_text(p, 1));
    } else if (r != SQLITE_DONE) {
      rc = db_err(st, r);
    }
    done(p);
  }
  if (!rc)
    rc = vg_store_audit_hash(prev, id, e->at, e->user_id, e->username, e->addr, e->action,
                             e->target, e->detail, hash);
  if (!rc && (p = stmt(st, Q_AUDIT_INSERT, &rc))) {
    sqlite3_bind_int64(p, 1, id);
    sqlite3_bind_int64(p, 2, e->at);
    sqlite3_bind_int64(p, 3, e->user_id);
    bind_text(p, 4, e->username);
    bind_text(p, 5, e->addr);
    bind_text(p, 6, e->action);
    bind_text(p, 7, e->target);
    bind_text(p, 8, e->detail);
    bind_text(p, 9, prev);
    bind_text(p, 10, hash);
    int r = sqlite3_step(p);
    if (r != SQLITE_DONE) rc = db_err(st, r);
    done(p);
  }
  return finish(st, rc);
}

static int read_audit(sqlite3_stmt *p, vg_audit_entry *e) {
  memset(e, 0, sizeof *e);
  e->id = sqlite3_column_int64(p, 0);
  e->at = sqlite3_column_int64(p, 1);
  e->user_id = sqlite3_column_int64(p, 2);
  vg_store_copy(e->username, sizeof e->username, col_text(p, 3));
  vg_store_copy(e->addr, sizeof e->addr, col_text(p, 4));
  vg_store_copy(e->action, sizeof e->action, col_text(p, 5));
  vg_store_copy(e->target, sizeof e->target, col_text(p, 6));
  e->detail = strdup(col_text(p, 7));
  vg_store_copy(e->hash, sizeof e->hash, col_text(p, 9));
  return e->detail ? 0 : VG_ENOMEM;
}

static int sq_audit_list(vg_store *s, int64_t limit, int64_t offset, vg_audit_entry **items,
                         size_t *n, int64_t *total) {
  sq_store *st = sq(s);
  int rc = run(st, Q_BEGIN);
  if (rc) return rc;
  rc = count_query(st, Q_AUDIT_COUNT, total);
  vg_audit_entry *list = NULL;
  size_t len = 0;
  if (!rc && limit > 0 && *total > offset) {
    sqlite3_stmt *p = stmt(st, Q_AUDIT_LIST, &rc);
    if (p) {
      size_t cap = (size_t)(limit < *total - offset ? limit : *total - offset);
      list = calloc(cap, sizeof *list);
      if (!list) rc = VG_ENOMEM;
      sqlite3_bind_int64(p, 1, limit);
      sqlite3_bind_int64(p, 2, offset);
      int r = SQLITE_DONE;
      while (!rc && len < cap && (r = sqlite3_step(p)) == SQLITE_ROW) {
        rc = read_audit(p, &list[len]);
        len++; /* counted even when detail failed, so free sees it */
      }
      if (!rc && r != SQLITE_ROW && r != SQLITE_DONE) rc = db_err(st, r);
      done(p);
    }
  }
  rc = finish(st, rc);
  if (rc) {
    vg_audit_entries_free(list, len);
    return rc;
  }
  if (!len) {
    free(list);
    list = NULL;
  }
  *items = list;
  *n = len;
  return 0;
}

static int sq_audit_verify(vg_store *s, int64_t *bad_id) {
  sq_store *st = sq(s);
  int rc = run(st, Q_BEGIN);
  if (rc) return rc;
  sqlite3_stmt *p = stmt(st, Q_AUDIT_ALL, &rc);
  if (p) {
    char expect[65] = VG_AUDIT_GENESIS, hash[65];
    int r;
    while ((r = sqlite3_step(p)) == SQLITE_ROW) {
      int64_t id = sqlite3_column_int64(p, 0);
      /* Hash the stored text as it is: a row edited to be longer than
       * vg_audit_entry's fields must not be cut back into agreement. */
      rc = vg_store_audit_hash(col_text(p, 8), id, sqlite3_column_int64(p, 1),
                               sqlite3_column_int64(p, 2), col_text(p, 3), col_text(p, 4),
                               col_text(p, 5), col_text(p, 6), col_text(p, 7), hash);
      if (rc) break;
      /* prev_hash links to the row before (a deleted row breaks the link);
       * hash covers this row (an edited row breaks it). */
      if (strcmp(col_text(p, 8), expect) != 0 || strcmp(col_text(p, 9), hash) != 0) {
        *bad_id = id;
        rc = VG_EINVAL;
        break;
      }
      memcpy(expect, hash, sizeof expect);
    }
    if (!rc && r != SQLITE_DONE) rc = db_err(st, r);
    done(p);
  }
  /* A broken chain is an answer, not a failed transaction. */
  if (rc == VG_EINVAL) {
    finish(st, 0);
    return rc;
  }
  return finish(st, rc);
}

const vg_store_backend vg_store_sqlite = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .schema_version = sq_schema_version,
    .user_create = sq_user_create,
    .user_get = sq_user_get,
    .user_by_name = sq_user_by_name,
    .user_update = sq_user_update,
    .user_delete = sq_user_delete,
    .user_count = sq_user_count,
    .admin_count = sq_admin_count,
    .user_list = sq_user_list,
    .session_create = sq_session_create,
    .session_get = sq_session_get,
    .session_delete = sq_session_delete,
    .session_delete_user = sq_session_delete_user,
    .session_purge = sq_session_purge,
    .audit_append = sq_audit_append,
    .audit_list = sq_audit_list,
    .audit_verify = sq_audit_verify,
};
