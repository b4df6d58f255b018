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
  Q_ROOM_INSERT,
  Q_ROOM_GET,
  Q_ROOM_UPDATE,
  Q_ROOM_DELETE,
  Q_ROOM_COUNT,
  Q_ROOM_LIST,
  Q_ROOM_VISIBLE,
  Q_ROOM_RECORDINGS,
  Q_CAMERA_INSERT,
  Q_CAMERA_GET,
  Q_CAMERA_UPDATE,
  Q_CAMERA_DELETE,
  Q_CAMERA_LIST,
  Q_GROUP_INSERT,
  Q_GROUP_GET,
  Q_GROUP_UPDATE,
  Q_GROUP_DELETE,
  Q_GROUP_COUNT,
  Q_GROUP_LIST,
  Q_MEMBER_ADD,
  Q_MEMBER_REMOVE,
  Q_MEMBER_COUNT,
  Q_MEMBER_LIST,
  Q_ACCESS_INSERT,
  Q_ACCESS_GET,
  Q_ACCESS_FIND,
  Q_ACCESS_DELETE,
  Q_ACCESS_LIST,
  Q_RECORDING_INSERT,
  Q_RECORDING_GET,
  Q_RECORDING_UPDATE,
  Q_RECORDING_ACTIVE,
  Q_RECORDING_LIST_ACTIVE,
  Q_RECORDING_COUNT,
  Q_RECORDING_LIST,
  Q_RECORDING_EXPIRED,
  Q_RECORDING_DELETE_SEGMENTS,
  Q_RECORDING_DELETE,
  Q_TRACK_PUT,
  Q_TRACK_LIST,
  Q_SPAN_OPEN_COUNT,
  Q_SPAN_INSERT,
  Q_SPAN_CLOSE,
  Q_SPAN_LIST,
  Q_SEGMENT_INSERT,
  Q_SEGMENT_UPDATE,
  Q_SEGMENT_GET,
  Q_SEGMENT_LIST,
  Q_SEGMENT_LIST_OPEN,
  Q_SEGMENT_DELETE,
  Q_MARKER_INSERT,
  Q_MARKER_LIST,
  Q_MARKER_COUNT,
  Q_MARKER_GET,
  Q_MARKER_UPDATE,
  Q_MARKER_DELETE,
  Q_RECORDING_LIST_ASC,
  Q_VIEW_INSERT,
  Q_VIEW_GET,
  Q_VIEW_UPDATE,
  Q_VIEW_DELETE,
  Q_VIEW_COUNT,
  Q_VIEW_LIST,
  Q_VIEW_CAMERAS,
  Q_VIEW_CAMERAS_CLEAR,
  Q_VIEW_CAMERA_ADD,
  Q_CLIP_INSERT,
  Q_CLIP_GET,
  Q_CLIP_UPDATE,
  Q_CLIP_DELETE,
  Q_CLIP_LIST,
  Q_RETENTION_GET,
  Q_RETENTION_SET,
  Q_ROOM_RETENTION_GET,
  Q_ROOM_RETENTION_SET,
  Q_RECORDING_EXPIRED_KEPT,
  Q_COUNT
};

#define USER_COLS "id, username, role, pwhash, disabled, created_at, updated_at"
#define SESSION_COLS "id, user_id, token_hash, csrf, kind, addr, created_at, expires_at"
#define AUDIT_COLS "id, at, user_id, username, addr, action, target, detail, prev_hash, hash"
#define ROOM_COLS "r.id, r.name, r.description, r.disabled, r.created_at, r.updated_at"
#define CAMERA_COLS                                                                    \
  "id, room_id, name, url, substream_url, username, password_enc, transport, enabled," \
  " continuous, position, created_at, updated_at"
#define GROUP_COLS                                                                 \
  "g.id, g.name, g.description,"                                                   \
  " (SELECT count(*) FROM group_members m WHERE m.group_id = g.id), g.created_at," \
  " g.updated_at"
#define ACCESS_FROM                                                          \
  "SELECT a.id, a.room_id, coalesce(a.user_id, 0), coalesce(a.group_id, 0)," \
  " coalesce(u.username, g.name, ''), a.created_at FROM room_access a"       \
  " LEFT JOIN users u ON u.id = a.user_id LEFT JOIN groups g ON g.id = a.group_id"

/* Whether the user bound as ?1 may see room r: an enabled admin or operator
 * sees every room; anyone else the rooms shared with them or with one of
 * their groups. The one statement of the rule: lists, single reads and the
 * events channel all go through it. */
#define ROOM_VISIBLE                                                         \
  "EXISTS (SELECT 1 FROM users u WHERE u.id = ?1 AND u.disabled = 0 AND"     \
  " (u.role IN ('admin', 'operator') OR EXISTS (SELECT 1 FROM room_access a" \
  " WHERE a.room_id = r.id AND (a.user_id = u.id OR a.group_id IN"           \
  " (SELECT m.group_id FROM group_members m WHERE m.user_id = u.id)))))"
/* ?1 = 0 is the system, which sees everything. */
#define ROOM_LISTED "(?1 = 0 OR " ROOM_VISIBLE ")"

/* Columns that may be NULL in the database read back as 0 or "". */
#define RECORDING_COLS                                                                        \
  "rec.id, rec.room_id, rec.title, rec.author_id, rec.author_name, rec.state,"                \
  " rec.started_at, coalesce(rec.ended_at, 0), rec.locked, coalesce(rec.retention_until, 0)," \
  " rec.created_at"
#define RECORDING_ACTIVE "rec.state IN ('recording', 'paused')"
/* The filter of vg_store_recording_list: ?1 user (ROOM_LISTED), ?2 room,
 * ?3 title substring (NULL: any), ?4 from, ?5 to (0: open-ended). lower()
 * folds ASCII only, as SQLite's does without ICU. */
#define RECORDING_FILTER                                                       \
  " FROM recordings rec JOIN rooms r ON r.id = rec.room_id WHERE " ROOM_LISTED \
  " AND (?2 = 0 OR rec.room_id = ?2)"                                          \
  " AND (?3 IS NULL OR instr(lower(rec.title), lower(?3)) > 0)"                \
  " AND (?4 = 0 OR rec.started_at >= ?4) AND (?5 = 0 OR rec.started_at <= ?5)"  \
  " AND (?8 IS NULL OR instr(lower(rec.author_name), lower(?8)) > 0)"           \
  " AND (?9 IS NULL OR EXISTS (SELECT 1 FROM markers m WHERE"                    \
  " m.recording_id = rec.id AND (instr(lower(m.label), lower(?9)) > 0"           \
  " OR instr(lower(m.note), lower(?9)) > 0)))"
#define TRACK_COLS                                                                      \
  "id, recording_id, camera_id, camera_name, started_at, coalesce(ended_at, 0), bytes," \
  " coalesce(sha256, '')"
#define SPAN_COLS "id, recording_id, start_ms, coalesce(end_ms, 0)"
#define SEGMENT_COLS                                                                 \
  "id, camera_id, coalesce(recording_id, 0), path, start_ms, end_ms, bytes, frames," \
  " coalesce(sha256, ''), state"
/* When a recording's retention rule lets it go (NULL: never, or running):
 * a date, days after its end, or its room's default days after its end. */
#define RECORDING_EXPIRES                                                       \
  "(CASE rec.retention_mode WHEN 'until' THEN rec.retention_until"              \
  " WHEN 'days' THEN rec.ended_at + rec.retention_days * 86400000"              \
  " WHEN 'inherit' THEN rec.ended_at + (SELECT rr.retention_days FROM rooms rr" \
  " WHERE rr.id = rec.room_id) * 86400000 END)"
/* A kept clip holds a recording back from deletion (retention.c trims it). */
#define RECORDING_KEPT \
  "EXISTS (SELECT 1 FROM clips kc WHERE kc.recording_id = rec.id AND kc.keep = 1)"
#define CLIP_COLS \
  "id, recording_id, from_s, to_s, title, author_id, author_name, keep, created_at, updated_at"
#define MARKER_COLS \
  "id, recording_id, time_s, label, color, note, author_id, author_name, created_at, updated_at"
#define VIEW_COLS "id, user_id, name, layout, created_at, updated_at"

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
    [Q_ROOM_INSERT] =
        "INSERT INTO rooms (name, description, disabled, created_at, updated_at)"
        " VALUES (?1, ?2, ?3, ?4, ?4)",
    [Q_ROOM_GET] = "SELECT " ROOM_COLS " FROM rooms r WHERE r.id = ?1",
    [Q_ROOM_UPDATE] =
        "UPDATE rooms SET name = ?2, description = ?3, disabled = ?4,"
        " updated_at = ?5 WHERE id = ?1",
    [Q_ROOM_DELETE] = "DELETE FROM rooms WHERE id = ?1",
    [Q_ROOM_COUNT] = "SELECT count(*) FROM rooms r WHERE " ROOM_LISTED,
    [Q_ROOM_LIST] = "SELECT " ROOM_COLS " FROM rooms r WHERE " ROOM_LISTED
                    " ORDER BY r.name COLLATE NOCASE, r.id LIMIT ?2 OFFSET ?3",
    [Q_ROOM_VISIBLE] = "SELECT EXISTS (SELECT 1 FROM rooms r WHERE r.id = ?2 AND " ROOM_VISIBLE ")",
    [Q_ROOM_RECORDINGS] = "SELECT count(*) FROM recordings WHERE room_id = ?1",
    /* A negative position puts the camera after the others of its room. */
    [Q_CAMERA_INSERT] =
        "INSERT INTO cameras (room_id, name, url, substream_url, username, password_enc,"
        " transport, enabled, continuous, position, created_at, updated_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
        " CASE WHEN ?10 < 0 THEN (SELECT coalesce(max(position), -1) + 1 FROM cameras"
        " WHERE room_id = ?1) ELSE ?10 END, ?11, ?11)",
    [Q_CAMERA_GET] = "SELECT " CAMERA_COLS " FROM cameras WHERE id = ?1",
    [Q_CAMERA_UPDATE] =
        "UPDATE cameras SET room_id = ?2, name = ?3, url = ?4, substream_url = ?5,"
        " username = ?6, password_enc = ?7, transport = ?8, enabled = ?9, continuous = ?10,"
        " position = CASE WHEN ?11 < 0 THEN (SELECT coalesce(max(position), -1) + 1"
        " FROM cameras WHERE room_id = ?2 AND id <> ?1) ELSE ?11 END, updated_at = ?12"
        " WHERE id = ?1",
    [Q_CAMERA_DELETE] = "DELETE FROM cameras WHERE id = ?1",
    [Q_CAMERA_LIST] = "SELECT " CAMERA_COLS
                      " FROM cameras WHERE ?1 = 0 OR room_id = ?1"
                      " ORDER BY room_id, position, id",
    [Q_GROUP_INSERT] =
        "INSERT INTO groups (name, description, created_at, updated_at)"
        " VALUES (?1, ?2, ?3, ?3)",
    [Q_GROUP_GET] = "SELECT " GROUP_COLS " FROM groups g WHERE g.id = ?1",
    [Q_GROUP_UPDATE] =
        "UPDATE groups SET name = ?2, description = ?3, updated_at = ?4 WHERE id = ?1",
    [Q_GROUP_DELETE] = "DELETE FROM groups WHERE id = ?1",
    [Q_GROUP_COUNT] = "SELECT count(*) FROM groups",
    [Q_GROUP_LIST] = "SELECT " GROUP_COLS
                     " FROM groups g ORDER BY g.name COLLATE NOCASE, g.id LIMIT ?2 OFFSET ?3",
    [Q_MEMBER_ADD] = "INSERT INTO group_members (group_id, user_id) VALUES (?1, ?2)",
    [Q_MEMBER_REMOVE] = "DELETE FROM group_members WHERE group_id = ?1 AND user_id = ?2",
    [Q_MEMBER_COUNT] = "SELECT count(*) FROM group_members WHERE group_id = ?1",
    [Q_MEMBER_LIST] =
        "SELECT u.id, u.username, u.role, '', u.disabled, u.created_at, u.updated_at"
        " FROM group_members m JOIN users u ON u.id = m.user_id WHERE m.group_id = ?1"
        " ORDER BY u.username COLLATE NOCASE, u.id LIMIT ?2 OFFSET ?3",
    [Q_ACCESS_INSERT] =
        "INSERT INTO room_access (room_id, user_id, group_id, created_at)"
        " VALUES (?1, nullif(?2, 0), nullif(?3, 0), ?4)",
    [Q_ACCESS_GET] = ACCESS_FROM " WHERE a.id = ?1",
    [Q_ACCESS_FIND] = ACCESS_FROM " WHERE a.room_id = ?1 AND (a.user_id = ?2 OR a.group_id = ?3)",
    [Q_ACCESS_DELETE] = "DELETE FROM room_access WHERE id = ?1",
    [Q_ACCESS_LIST] = ACCESS_FROM
    " WHERE a.room_id = ?1"
    " ORDER BY a.user_id IS NULL, 5 COLLATE NOCASE, a.id",
    [Q_RECORDING_INSERT] =
        "INSERT INTO recordings (room_id, title, author_id, author_name, state, started_at,"
        " ended_at, locked, retention_until, created_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, nullif(?7, 0), ?8, nullif(?9, 0), ?10)",
    [Q_RECORDING_GET] = "SELECT " RECORDING_COLS " FROM recordings rec WHERE rec.id = ?1",
    [Q_RECORDING_UPDATE] =
        "UPDATE recordings SET title = ?2, state = ?3, ended_at = nullif(?4, 0), locked = ?5,"
        " retention_until = nullif(?6, 0),"
        /* retention_until is the date of mode 'until' (vg_store_retention_set). */
        " retention_mode = CASE WHEN ?6 <> 0 THEN 'until' WHEN retention_mode = 'until'"
        " THEN 'inherit' ELSE retention_mode END WHERE id = ?1",
    [Q_RECORDING_ACTIVE] =
        "SELECT " RECORDING_COLS " FROM recordings rec WHERE rec.room_id = ?1 AND " RECORDING_ACTIVE
        " ORDER BY rec.started_at DESC, rec.id DESC LIMIT 1",
    [Q_RECORDING_LIST_ACTIVE] =
        "SELECT " RECORDING_COLS " FROM recordings rec WHERE " RECORDING_ACTIVE " ORDER BY rec.id",
    [Q_RECORDING_COUNT] = "SELECT count(*)" RECORDING_FILTER,
    [Q_RECORDING_LIST] = "SELECT " RECORDING_COLS RECORDING_FILTER
                         " ORDER BY rec.started_at DESC, rec.id DESC LIMIT ?6 OFFSET ?7",
    [Q_RECORDING_EXPIRED] = "SELECT " RECORDING_COLS
                            " FROM recordings rec WHERE rec.state = 'stopped' AND rec.locked = 0"
                            " AND " RECORDING_EXPIRES " <= ?1 AND NOT " RECORDING_KEPT
                            " ORDER BY rec.started_at, rec.id LIMIT ?2",
    [Q_RECORDING_DELETE_SEGMENTS] = "DELETE FROM segments WHERE recording_id = ?1",
    [Q_RECORDING_DELETE] = "DELETE FROM recordings WHERE id = ?1",
    /* RETURNING gives the id on the update path too, where
     * sqlite3_last_insert_rowid does not. */
    [Q_TRACK_PUT] =
        "INSERT INTO recording_tracks (recording_id, camera_id, camera_name, started_at,"
        " ended_at, bytes, sha256) VALUES (?1, ?2, ?3, ?4, nullif(?5, 0), ?6, nullif(?7, ''))"
        " ON CONFLICT (recording_id, camera_id) DO UPDATE SET camera_name = excluded.camera_name,"
        " started_at = excluded.started_at, ended_at = excluded.ended_at, bytes = excluded.bytes,"
        " sha256 = excluded.sha256 RETURNING id",
    [Q_TRACK_LIST] =
        "SELECT " TRACK_COLS " FROM recording_tracks WHERE recording_id = ?1 ORDER BY camera_id",
    [Q_SPAN_OPEN_COUNT] =
        "SELECT count(*) FROM recording_spans WHERE recording_id = ?1 AND end_ms IS NULL",
    [Q_SPAN_INSERT] = "INSERT INTO recording_spans (recording_id, start_ms) VALUES (?1, ?2)",
    /* A wall clock stepped back must not make a span end before it began. */
    [Q_SPAN_CLOSE] =
        "UPDATE recording_spans SET end_ms = max(start_ms, ?2)"
        " WHERE recording_id = ?1 AND end_ms IS NULL",
    [Q_SPAN_LIST] =
        "SELECT " SPAN_COLS " FROM recording_spans WHERE recording_id = ?1 ORDER BY start_ms, id",
    [Q_SEGMENT_INSERT] =
        "INSERT INTO segments (camera_id, recording_id, path, start_ms, end_ms, bytes, frames,"
        " sha256, state) VALUES (?1, nullif(?2, 0), ?3, ?4, ?5, ?6, ?7, nullif(?8, ''), ?9)",
    [Q_SEGMENT_UPDATE] =
        "UPDATE segments SET end_ms = ?2, bytes = ?3, frames = ?4, sha256 = nullif(?5, ''),"
        " state = ?6, recording_id = nullif(?7, 0) WHERE id = ?1",
    [Q_SEGMENT_GET] = "SELECT " SEGMENT_COLS " FROM segments WHERE id = ?1",
    [Q_SEGMENT_LIST] = "SELECT " SEGMENT_COLS
                       " FROM segments WHERE recording_id = ?1 AND (?2 = 0 OR camera_id = ?2)"
                       " ORDER BY camera_id, start_ms, id",
    [Q_SEGMENT_LIST_OPEN] = "SELECT " SEGMENT_COLS
                            " FROM segments WHERE state = 'open' ORDER BY camera_id, start_ms, id",
    [Q_SEGMENT_DELETE] = "DELETE FROM segments WHERE id = ?1",
    [Q_MARKER_INSERT] =
        "INSERT INTO markers (recording_id, time_s, label, color, note, author_id, author_name,"
        " created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
    [Q_MARKER_LIST] =
        "SELECT " MARKER_COLS " FROM markers WHERE recording_id = ?1 ORDER BY time_s, id",
    [Q_MARKER_COUNT] = "SELECT count(*) FROM markers WHERE recording_id = ?1",
    [Q_MARKER_GET] = "SELECT " MARKER_COLS " FROM markers WHERE id = ?1",
    [Q_MARKER_UPDATE] =
        "UPDATE markers SET time_s = ?2, label = ?3, color = ?4, note = ?5, updated_at = ?6"
        " WHERE id = ?1",
    [Q_MARKER_DELETE] = "DELETE FROM markers WHERE id = ?1",
    [Q_RECORDING_LIST_ASC] = "SELECT " RECORDING_COLS RECORDING_FILTER
                             " ORDER BY rec.started_at, rec.id LIMIT ?6 OFFSET ?7",
    [Q_VIEW_INSERT] =
        "INSERT INTO views (user_id, name, layout, created_at, updated_at)"
        " VALUES (?1, ?2, ?3, ?4, ?4)",
    [Q_VIEW_GET] = "SELECT " VIEW_COLS " FROM views WHERE id = ?1",
    [Q_VIEW_UPDATE] = "UPDATE views SET name = ?2, layout = ?3, updated_at = ?4 WHERE id = ?1",
    [Q_VIEW_DELETE] = "DELETE FROM views WHERE id = ?1",
    [Q_VIEW_COUNT] = "SELECT count(*) FROM views WHERE user_id = ?1",
    [Q_VIEW_LIST] = "SELECT " VIEW_COLS
                    " FROM views WHERE user_id = ?1 ORDER BY name COLLATE NOCASE, id"
                    " LIMIT ?2 OFFSET ?3",
    [Q_VIEW_CAMERAS] = "SELECT camera_id FROM view_cameras WHERE view_id = ?1 ORDER BY position",
    [Q_VIEW_CAMERAS_CLEAR] = "DELETE FROM view_cameras WHERE view_id = ?1",
    [Q_VIEW_CAMERA_ADD] =
        "INSERT INTO view_cameras (view_id, position, camera_id) VALUES (?1, ?2, ?3)",
    [Q_CLIP_INSERT] =
        "INSERT INTO clips (recording_id, from_s, to_s, title, author_id, author_name, keep,"
        " created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
    [Q_CLIP_GET] = "SELECT " CLIP_COLS " FROM clips WHERE id = ?1",
    [Q_CLIP_UPDATE] =
        "UPDATE clips SET from_s = ?2, to_s = ?3, title = ?4, keep = ?5, updated_at = ?6"
        " WHERE id = ?1",
    [Q_CLIP_DELETE] = "DELETE FROM clips WHERE id = ?1",
    [Q_CLIP_LIST] = "SELECT " CLIP_COLS " FROM clips WHERE recording_id = ?1 ORDER BY from_s, id",
    [Q_RETENTION_GET] =
        "SELECT rec.retention_mode, coalesce(rec.retention_days, -1),"
        " coalesce(rec.retention_until, 0), coalesce(" RECORDING_EXPIRES ", 0), " RECORDING_KEPT
        ", coalesce((SELECT rr.retention_days FROM rooms rr WHERE rr.id = rec.room_id), -1)"
        " FROM recordings rec WHERE rec.id = ?1",
    [Q_RETENTION_SET] =
        "UPDATE recordings SET retention_mode = ?2,"
        " retention_days = CASE WHEN ?2 = 'days' THEN ?3 END,"
        " retention_until = CASE WHEN ?2 = 'until' THEN ?4 END WHERE id = ?1",
    [Q_RECORDING_EXPIRED_KEPT] =
        "SELECT " RECORDING_COLS
        " FROM recordings rec WHERE rec.state = 'stopped'"
        " AND rec.locked = 0 AND " RECORDING_EXPIRES " <= ?1 AND " RECORDING_KEPT
        " ORDER BY rec.started_at, rec.id LIMIT ?2",
    [Q_ROOM_RETENTION_GET] = "SELECT coalesce(retention_days, -1) FROM rooms WHERE id = ?1",
    [Q_ROOM_RETENTION_SET] =
        "UPDATE rooms SET retention_days = CASE WHEN ?2 < 0 THEN NULL ELSE ?2 END,"
        " updated_at = ?3 WHERE id = ?1",
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

/* ---- rows read into growing arrays ---- */

typedef void (*row_reader)(sqlite3_stmt *p, void *item);

/* Steps p to its end, reading each row with read into a malloc'd array of
 * items of size bytes; *items is NULL when there is none. Ends the use of p. */
static int collect(sq_store *st, sqlite3_stmt *p, size_t size, row_reader read, void **items,
                   size_t *n) {
  char *list = NULL;
  size_t len = 0, cap = 0;
  int rc = 0, r;
  while ((r = sqlite3_step(p)) == SQLITE_ROW) {
    if (len == cap) {
      size_t ncap = cap ? cap * 2 : 8;
      char *grown = realloc(list, ncap * size);
      if (!grown) {
        rc = VG_ENOMEM;
        break;
      }
      list = grown;
      cap = ncap;
    }
    read(p, list + len * size);
    len++;
  }
  if (!rc && r != SQLITE_DONE) rc = db_err(st, r);
  done(p);
  if (rc || !len) {
    free(list);
    list = NULL;
    len = 0;
  }
  *items = list;
  *n = len;
  return rc;
}

/* Runs count query count_q and page query list_q (?1 key, ?2 limit, ?3
 * offset) in one read transaction, so the page and the total agree. */
static int paged(sq_store *st, int count_q, int list_q, int64_t key, int64_t limit, int64_t offset,
                 size_t size, row_reader read, void **items, size_t *n, int64_t *total) {
  *items = NULL;
  *n = 0;
  int rc = run(st, Q_BEGIN);
  if (rc) return rc;
  sqlite3_stmt *p = stmt(st, count_q, &rc);
  if (p) {
    if (sqlite3_bind_parameter_count(p) >= 1) sqlite3_bind_int64(p, 1, key);
    int r = sqlite3_step(p);
    if (r == SQLITE_ROW)
      *total = sqlite3_column_int64(p, 0);
    else
      rc = db_err(st, r);
    done(p);
  }
  if (!rc && limit > 0 && *total > offset && (p = stmt(st, list_q, &rc))) {
    sqlite3_bind_int64(p, 1, key);
    sqlite3_bind_int64(p, 2, limit);
    sqlite3_bind_int64(p, 3, offset);
    rc = collect(st, p, size, read, items, n);
  }
  rc = finish(st, rc);
  if (rc) {
    free(*items);
    *items = NULL;
    *n = 0;
  }
  return rc;
}

/* Runs a query with ?1 = key that yields at most one row, read by read. */
static int one_row(sq_store *st, int q, int64_t key, row_reader read, void *out) {
  int rc = 0;
  sqlite3_stmt *p = stmt(st, q, &rc);
  if (!p) return rc;
  sqlite3_bind_int64(p, 1, key);
  int r = sqlite3_step(p);
  if (r == SQLITE_ROW)
    read(p, out);
  else if (r == SQLITE_DONE)
    rc = VG_ENOTFOUND;
  else
    rc = db_err(st, r);
  done(p);
  return rc;
}

/* Runs a count(*) query with ?1 = key. */
static int count_by(sq_store *st, int q, int64_t key, int64_t *count) {
  int rc = 0;
  sqlite3_stmt *p = stmt(st, q, &rc);
  if (!p) return rc;
  sqlite3_bind_int64(p, 1, key);
  int r = sqlite3_step(p);
  if (r == SQLITE_ROW)
    *count = sqlite3_column_int64(p, 0);
  else
    rc = db_err(st, r);
  done(p);
  return rc;
}

/* ---- rooms ---- */

static void read_room(sqlite3_stmt *p, void *item) {
  vg_room *r = item;
  memset(r, 0, sizeof *r);
  r->id = sqlite3_column_int64(p, 0);
  vg_store_copy(r->name, sizeof r->name, col_text(p, 1));
  vg_store_copy(r->description, sizeof r->description, col_text(p, 2));
  r->disabled = sqlite3_column_int(p, 3) != 0;
  r->created_at = sqlite3_column_int64(p, 4);
  r->updated_at = sqlite3_column_int64(p, 5);
}

static int sq_room_create(vg_store *s, vg_room *room) {
  sq_store *st = sq(s);
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_ROOM_INSERT, &rc);
  if (!p) return rc;
  int64_t now = vg_now_ms();
  bind_text(p, 1, room->name);
  bind_text(p, 2, room->description);
  sqlite3_bind_int(p, 3, room->disabled ? 1 : 0);
  sqlite3_bind_int64(p, 4, now);
  int r = sqlite3_step(p);
  if (r == SQLITE_DONE) {
    room->id = sqlite3_last_insert_rowid(st->db);
    room->created_at = room->updated_at = now;
  } else {
    rc = db_err(st, r);
  }
  done(p);
  return rc;
}

static int sq_room_get(vg_store *s, int64_t id, vg_room *out) {
  return one_row(sq(s), Q_ROOM_GET, id, read_room, out);
}

static int sq_room_update(vg_store *s, const vg_room *room) {
  sq_store *st = sq(s);
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_ROOM_UPDATE, &rc);
  if (!p) return rc;
  sqlite3_bind_int64(p, 1, room->id);
  bind_text(p, 2, room->name);
  bind_text(p, 3, room->description);
  sqlite3_bind_int(p, 4, room->disabled ? 1 : 0);
  sqlite3_bind_int64(p, 5, vg_now_ms());
  return write_one(st, p);
}

static int sq_room_delete(vg_store *s, int64_t id) {
  sq_store *st = sq(s);
  /* IMMEDIATE: no recording may start between the count and the delete. */
  int rc = run(st, Q_BEGIN_IMMEDIATE);
  if (rc) return rc;
  int64_t recordings = 0;
  rc = count_by(st, Q_ROOM_RECORDINGS, id, &recordings);
  if (!rc && recordings > 0)
    rc = vg_store_fail(s, VG_ESTATE, "room %lld has %lld recordings", (long long)id,
                       (long long)recordings);
  sqlite3_stmt *p;
  if (!rc && (p = stmt(st, Q_ROOM_DELETE, &rc))) {
    sqlite3_bind_int64(p, 1, id);
    rc = write_one(st, p);
    /* The RESTRICT key says the same as the count, should one slip by. */
    if (rc == VG_ENOTFOUND && sqlite3_extended_errcode(st->db) == SQLITE_CONSTRAINT_FOREIGNKEY)
      rc = VG_ESTATE;
  }
  return finish(st, rc);
}

static int sq_room_list(vg_store *s, int64_t user_id, int64_t limit, int64_t offset,
                        vg_room **items, size_t *n, int64_t *total) {
  return paged(sq(s), Q_ROOM_COUNT, Q_ROOM_LIST, user_id, limit, offset, sizeof **items, read_room,
               (void **)items, n, total);
}

static int sq_room_visible(vg_store *s, int64_t room_id, int64_t user_id, bool *visible) {
  sq_store *st = sq(s);
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_ROOM_VISIBLE, &rc);
  if (!p) return rc;
  sqlite3_bind_int64(p, 1, user_id);
  sqlite3_bind_int64(p, 2, room_id);
  int r = sqlite3_step(p);
  if (r == SQLITE_ROW)
    *visible = sqlite3_column_int(p, 0) != 0;
  else
    rc = db_err(st, r);
  done(p);
  return rc;
}

static int sq_room_recording_count(vg_store *s, int64_t room_id, int64_t *count) {
  return count_by(sq(s), Q_ROOM_RECORDINGS, room_id, count);
}

/* ---- cameras ---- */

static void read_camera(sqlite3_stmt *p, void *item) {
  vg_camera_row *c = item;
  memset(c, 0, sizeof *c);
  c->id = sqlite3_column_int64(p, 0);
  c->room_id = sqlite3_column_int64(p, 1);
  vg_store_copy(c->name, sizeof c->name, col_text(p, 2));
  vg_store_copy(c->url, sizeof c->url, col_text(p, 3));
  vg_store_copy(c->substream_url, sizeof c->substream_url, col_text(p, 4));
  vg_store_copy(c->username, sizeof c->username, col_text(p, 5));
  const void *blob = sqlite3_column_blob(p, 6);
  size_t len = (size_t)sqlite3_column_bytes(p, 6);
  /* A blob too long for the field cannot be a password we sealed: leave it
   * out rather than cut it (it would not open anyway). */
  if (blob && len <= sizeof c->password_enc) {
    memcpy(c->password_enc, blob, len);
    c->password_enc_len = len;
  }
  vg_store_copy(c->transport, sizeof c->transport, col_text(p, 7));
  c->enabled = sqlite3_column_int(p, 8) != 0;
  c->continuous = sqlite3_column_int(p, 9) != 0;
  c->position = sqlite3_column_int64(p, 10);
  c->created_at = sqlite3_column_int64(p, 11);
  c->updated_at = sqlite3_column_int64(p, 12);
}

/* Binds the fields shared by insert and update, from index first on. */
static void bind_camera(sqlite3_stmt *p, int first, const vg_camera_row *c) {
  bind_text(p, first, c->name);
  bind_text(p, first + 1, c->url);
  bind_text(p, first + 2, c->substream_url);
  bind_text(p, first + 3, c->username);
  if (c->password_enc_len)
    sqlite3_bind_blob(p, first + 4, c->password_enc, (int)c->password_enc_len, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null(p, first + 4);
  bind_text(p, first + 5, c->transport);
  sqlite3_bind_int(p, first + 6, c->enabled ? 1 : 0);
  sqlite3_bind_int(p, first + 7, c->continuous ? 1 : 0);
  sqlite3_bind_int64(p, first + 8, c->position);
}

static int sq_camera_get(vg_store *s, int64_t id, vg_camera_row *out) {
  return one_row(sq(s), Q_CAMERA_GET, id, read_camera, out);
}

static int sq_camera_create(vg_store *s, vg_camera_row *c) {
  sq_store *st = sq(s);
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_CAMERA_INSERT, &rc);
  if (!p) return rc;
  sqlite3_bind_int64(p, 1, c->room_id);
  bind_camera(p, 2, c);
  sqlite3_bind_int64(p, 11, vg_now_ms());
  int r = sqlite3_step(p);
  int64_t id = 0;
  if (r == SQLITE_DONE)
    id = sqlite3_last_insert_rowid(st->db);
  else
    rc = db_err(st, r);
  done(p);
  /* Read back the position the database chose. */
  return rc ? rc : sq_camera_get(s, id, c);
}

static int sq_camera_update(vg_store *s, const vg_camera_row *c) {
  sq_store *st = sq(s);
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_CAMERA_UPDATE, &rc);
  if (!p) return rc;
  sqlite3_bind_int64(p, 1, c->id);
  sqlite3_bind_int64(p, 2, c->room_id);
  bind_camera(p, 3, c);
  sqlite3_bind_int64(p, 12, vg_now_ms());
  return write_one(st, p);
}

static int sq_camera_delete(vg_store *s, int64_t id) {
  sq_store *st = sq(s);
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_CAMERA_DELETE, &rc);
  if (!p) return rc;
  sqlite3_bind_int64(p, 1, id);
  return write_one(st, p);
}

static int sq_camera_list(vg_store *s, int64_t room_id, vg_camera_row **items, size_t *n) {
  sq_store *st = sq(s);
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_CAMERA_LIST, &rc);
  if (!p) return rc;
  sqlite3_bind_int64(p, 1, room_id);
  return collect(st, p, sizeof **items, read_camera, (void **)items, n);
}

/* ---- groups ---- */

static void read_group(sqlite3_stmt *p, void *item) {
  vg_group *g = item;
  memset(g, 0, sizeof *g);
  g->id = sqlite3_column_int64(p, 0);
  vg_store_copy(g->name, sizeof g->name, col_text(p, 1));
  vg_store_copy(g->description, sizeof g->description, col_text(p, 2));
  g->member_count = sqlite3_column_int64(p, 3);
  g->created_at = sqlite3_column_int64(p, 4);
  g->updated_at = sqlite3_column_int64(p, 5);
}

static int sq_group_create(vg_store *s, vg_group *g) {
  sq_store *st = sq(s);
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_GROUP_INSERT, &rc);
  if (!p) return rc;
  int64_t now = vg_now_ms();
  bind_text(p, 1, g->name);
  bind_text(p, 2, g->description);
  sqlite3_bind_int64(p, 3, now);
  int r = sqlite3_step(p);
  if (r == SQLITE_DONE) {
    g->id = sqlite3_last_insert_rowid(st->db);
    g->created_at = g->updated_at = now;
    g->member_count = 0;
  } else {
    rc = db_err(st, r);
  }
  done(p);
  return rc;
}

static int sq_group_get(vg_store *s, int64_t id, vg_group *out) {
  return one_row(sq(s), Q_GROUP_GET, id, read_group, out);
}

static int sq_group_update(vg_store *s, const vg_group *g) {
  sq_store *st = sq(s);
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_GROUP_UPDATE, &rc);
  if (!p) return rc;
  sqlite3_bind_int64(p, 1, g->id);
  bind_text(p, 2, g->name);
  bind_text(p, 3, g->description);
  sqlite3_bind_int64(p, 4, vg_now_ms());
  return write_one(st, p);
}

static int sq_group_delete(vg_store *s, int64_t id) {
  sq_store *st = sq(s);
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_GROUP_DELETE, &rc);
  if (!p) return rc;
  sqlite3_bind_int64(p, 1, id);
  return write_one(st, p);
}

static int sq_group_list(vg_store *s, int64_t limit, int64_t offset, vg_group **items, size_t *n,
                         int64_t *total) {
  return paged(sq(s), Q_GROUP_COUNT, Q_GROUP_LIST, 0, limit, offset, sizeof **items, read_group,
               (void **)items, n, total);
}

/* Runs a statement keyed by two integers; VG_ENOTFOUND when no row changed. */
static int write_pair(sq_store *st, int q, int64_t a, int64_t b) {
  int rc = 0;
  sqlite3_stmt *p = stmt(st, q, &rc);
  if (!p) return rc;
  sqlite3_bind_int64(p, 1, a);
  sqlite3_bind_int64(p, 2, b);
  return write_one(st, p);
}

static int sq_group_member_add(vg_store *s, int64_t group_id, int64_t user_id) {
  return write_pair(sq(s), Q_MEMBER_ADD, group_id, user_id);
}

static int sq_group_member_remove(vg_store *s, int64_t group_id, int64_t user_id) {
  return write_pair(sq(s), Q_MEMBER_REMOVE, group_id, user_id);
}

static void read_member(sqlite3_stmt *p, void *item) { read_user(p, item); }

static int sq_group_members(vg_store *s, int64_t group_id, int64_t limit, int64_t offset,
                            vg_user **items, size_t *n, int64_t *total) {
  return paged(sq(s), Q_MEMBER_COUNT, Q_MEMBER_LIST, group_id, limit, offset, sizeof **items,
               read_member, (void **)items, n, total);
}

/* ---- room rights ---- */

static void read_access(sqlite3_stmt *p, void *item) {
  vg_room_access *a = item;
  memset(a, 0, sizeof *a);
  a->id = sqlite3_column_int64(p, 0);
  a->room_id = sqlite3_column_int64(p, 1);
  a->user_id = sqlite3_column_int64(p, 2);
  a->group_id = sqlite3_column_int64(p, 3);
  vg_store_copy(a->name, sizeof a->name, col_text(p, 4));
  a->created_at = sqlite3_column_int64(p, 5);
}

static int sq_access_get(vg_store *s, int64_t id, vg_room_access *out) {
  return one_row(sq(s), Q_ACCESS_GET, id, read_access, out);
}

static int sq_access_add(vg_store *s, vg_room_access *a) {
  sq_store *st = sq(s);
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_ACCESS_INSERT, &rc);
  if (!p) return rc;
  sqlite3_bind_int64(p, 1, a->room_id);
  sqlite3_bind_int64(p, 2, a->user_id);
  sqlite3_bind_int64(p, 3, a->group_id);
  sqlite3_bind_int64(p, 4, vg_now_ms());
  int r = sqlite3_step(p);
  int64_t id = 0;
  if (r == SQLITE_DONE)
    id = sqlite3_last_insert_rowid(st->db);
  else
    rc = db_err(st, r);
  done(p);
  /* Read back with the user's or group's name. */
  return rc ? rc : sq_access_get(s, id, a);
}

static int sq_access_find(vg_store *s, int64_t room_id, int64_t user_id, int64_t group_id,
                          vg_room_access *out) {
  sq_store *st = sq(s);
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_ACCESS_FIND, &rc);
  if (!p) return rc;
  sqlite3_bind_int64(p, 1, room_id);
  sqlite3_bind_int64(p, 2, user_id);
  sqlite3_bind_int64(p, 3, group_id);
  int r = sqlite3_step(p);
  if (r == SQLITE_ROW)
    read_access(p, out);
  else if (r == SQLITE_DONE)
    rc = VG_ENOTFOUND;
  else
    rc = db_err(st, r);
  done(p);
  return rc;
}

static int sq_access_delete(vg_store *s, int64_t id) {
  sq_store *st = sq(s);
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_ACCESS_DELETE, &rc);
  if (!p) return rc;
  sqlite3_bind_int64(p, 1, id);
  return write_one(st, p);
}

static int sq_access_list(vg_store *s, int64_t room_id, vg_room_access **items, size_t *n) {
  sq_store *st = sq(s);
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_ACCESS_LIST, &rc);
  if (!p) return rc;
  sqlite3_bind_int64(p, 1, room_id);
  return collect(st, p, sizeof **items, read_access, (void **)items, n);
}

/* ---- recordings ---- */

static void read_recording(sqlite3_stmt *p, void *item) {
  vg_recording *r = item;
  memset(r, 0, sizeof *r);
  r->id = sqlite3_column_int64(p, 0);
  r->room_id = sqlite3_column_int64(p, 1);
  vg_store_copy(r->title, sizeof r->title, col_text(p, 2));
  r->author_id = sqlite3_column_int64(p, 3);
  vg_store_copy(r->author_name, sizeof r->author_name, col_text(p, 4));
  vg_store_copy(r->state, sizeof r->state, col_text(p, 5));
  r->started_at = sqlite3_column_int64(p, 6);
  r->ended_at = sqlite3_column_int64(p, 7);
  r->locked = sqlite3_column_int(p, 8) != 0;
  r->retention_until = sqlite3_column_int64(p, 9);
  r->created_at = sqlite3_column_int64(p, 10);
}

static int sq_recording_get(vg_store *s, int64_t id, vg_recording *out) {
  return one_row(sq(s), Q_RECORDING_GET, id, read_recording, out);
}

static int sq_recording_active(vg_store *s, int64_t room_id, vg_recording *out) {
  return one_row(sq(s), Q_RECORDING_ACTIVE, room_id, read_recording, out);
}

/* A room has at most one running recording: a second one that would run
 * is VG_ESTATE. IMMEDIATE so no other writer starts one between the check
 * and the insert. */
static int sq_recording_create(vg_store *s, vg_recording *r) {
  sq_store *st = sq(s);
  int rc = run(st, Q_BEGIN_IMMEDIATE);
  if (rc) return rc;
  if (strcmp(r->state, "stopped") != 0) {
    vg_recording running;
    rc = one_row(st, Q_RECORDING_ACTIVE, r->room_id, read_recording, &running);
    if (rc == 0)
      rc = vg_store_fail(s, VG_ESTATE, "room %lld is already recording (%lld)",
                         (long long)r->room_id, (long long)running.id);
    else if (rc == VG_ENOTFOUND)
      rc = 0;
  }
  sqlite3_stmt *p;
  if (!rc && (p = stmt(st, Q_RECORDING_INSERT, &rc))) {
    int64_t now = vg_now_ms();
    sqlite3_bind_int64(p, 1, r->room_id);
    bind_text(p, 2, r->title);
    sqlite3_bind_int64(p, 3, r->author_id);
    bind_text(p, 4, r->author_name);
    bind_text(p, 5, r->state);
    sqlite3_bind_int64(p, 6, r->started_at);
    sqlite3_bind_int64(p, 7, r->ended_at);
    sqlite3_bind_int(p, 8, r->locked ? 1 : 0);
    sqlite3_bind_int64(p, 9, r->retention_until);
    sqlite3_bind_int64(p, 10, now);
    int step = sqlite3_step(p);
    if (step == SQLITE_DONE) {
      r->id = sqlite3_last_insert_rowid(st->db);
      r->created_at = now;
    } else {
      rc = db_err(st, step);
    }
    done(p);
  }
  return finish(st, rc);
}

static int sq_recording_update(vg_store *s, const vg_recording *r) {
  sq_store *st = sq(s);
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_RECORDING_UPDATE, &rc);
  if (!p) return rc;
  sqlite3_bind_int64(p, 1, r->id);
  bind_text(p, 2, r->title);
  bind_text(p, 3, r->state);
  sqlite3_bind_int64(p, 4, r->ended_at);
  sqlite3_bind_int(p, 5, r->locked ? 1 : 0);
  sqlite3_bind_int64(p, 6, r->retention_until);
  return write_one(st, p);
}

static int sq_recording_list_active(vg_store *s, vg_recording **items, size_t *n) {
  sq_store *st = sq(s);
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_RECORDING_LIST_ACTIVE, &rc);
  if (!p) return rc;
  return collect(st, p, sizeof **items, read_recording, (void **)items, n);
}

/* Binds the filter as ?1..?5 of RECORDING_FILTER. */
static void bind_recording_filter(sqlite3_stmt *p, const vg_recording_filter *f) {
  sqlite3_bind_int64(p, 1, f->user_id);
  sqlite3_bind_int64(p, 2, f->room_id);
  if (f->q && f->q[0])
    bind_text(p, 3, f->q);
  else
    sqlite3_bind_null(p, 3);
  sqlite3_bind_int64(p, 4, f->from);
  sqlite3_bind_int64(p, 5, f->to);
  if (f->author && f->author[0])
    bind_text(p, 8, f->author);
  else
    sqlite3_bind_null(p, 8);
  if (f->marker && f->marker[0])
    bind_text(p, 9, f->marker);
  else
    sqlite3_bind_null(p, 9);
}

static int sq_recording_list(vg_store *s, const vg_recording_filter *f, int64_t limit,
                             int64_t offset, vg_recording **items, size_t *n, int64_t *total) {
  sq_store *st = sq(s);
  /* One read transaction, so the page and the total agree. */
  int rc = run(st, Q_BEGIN);
  if (rc) return rc;
  sqlite3_stmt *p = stmt(st, Q_RECORDING_COUNT, &rc);
  if (p) {
    bind_recording_filter(p, f);
    int r = sqlite3_step(p);
    if (r == SQLITE_ROW)
      *total = sqlite3_column_int64(p, 0);
    else
      rc = db_err(st, r);
    done(p);
  }
  if (!rc && limit > 0 && *total > offset &&
      (p = stmt(st, f->oldest_first ? Q_RECORDING_LIST_ASC : Q_RECORDING_LIST, &rc))) {
    bind_recording_filter(p, f);
    sqlite3_bind_int64(p, 6, limit);
    sqlite3_bind_int64(p, 7, offset);
    rc = collect(st, p, sizeof **items, read_recording, (void **)items, n);
  }
  rc = finish(st, rc);
  if (rc) {
    free(*items);
    *items = NULL;
    *n = 0;
  }
  return rc;
}

static int sq_recording_list_expired(vg_store *s, int64_t now, int64_t limit, vg_recording **items,
                                     size_t *n) {
  sq_store *st = sq(s);
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_RECORDING_EXPIRED, &rc);
  if (!p) return rc;
  sqlite3_bind_int64(p, 1, now);
  sqlite3_bind_int64(p, 2, limit);
  return collect(st, p, sizeof **items, read_recording, (void **)items, n);
}

/* The segment rows go first and explicitly: the key on segments would only
 * set their recording_id to NULL, leaving them as continuous video. Tracks,
 * spans and markers go by their ON DELETE CASCADE. */
static int sq_recording_delete(vg_store *s, int64_t id) {
  sq_store *st = sq(s);
  int rc = run(st, Q_BEGIN_IMMEDIATE);
  if (rc) return rc;
  rc = delete_where(st, Q_RECORDING_DELETE_SEGMENTS, NULL, id);
  sqlite3_stmt *p;
  if (!rc && (p = stmt(st, Q_RECORDING_DELETE, &rc))) {
    sqlite3_bind_int64(p, 1, id);
    rc = write_one(st, p);
  }
  return finish(st, rc);
}

/* ---- tracks ---- */

static void read_track(sqlite3_stmt *p, void *item) {
  vg_track *t = item;
  memset(t, 0, sizeof *t);
  t->id = sqlite3_column_int64(p, 0);
  t->recording_id = sqlite3_column_int64(p, 1);
  t->camera_id = sqlite3_column_int64(p, 2);
  vg_store_copy(t->camera_name, sizeof t->camera_name, col_text(p, 3));
  t->started_at = sqlite3_column_int64(p, 4);
  t->ended_at = sqlite3_column_int64(p, 5);
  t->bytes = sqlite3_column_int64(p, 6);
  vg_store_copy(t->sha256, sizeof t->sha256, col_text(p, 7));
}

static int sq_track_put(vg_store *s, vg_track *t) {
  sq_store *st = sq(s);
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_TRACK_PUT, &rc);
  if (!p) return rc;
  sqlite3_bind_int64(p, 1, t->recording_id);
  sqlite3_bind_int64(p, 2, t->camera_id);
  bind_text(p, 3, t->camera_name);
  sqlite3_bind_int64(p, 4, t->started_at);
  sqlite3_bind_int64(p, 5, t->ended_at);
  sqlite3_bind_int64(p, 6, t->bytes);
  bind_text(p, 7, t->sha256);
  int r = sqlite3_step(p);
  if (r == SQLITE_ROW) {
    t->id = sqlite3_column_int64(p, 0);
    r = sqlite3_step(p);
  }
  if (r != SQLITE_DONE) rc = db_err(st, r);
  done(p);
  return rc;
}

static int sq_track_list(vg_store *s, int64_t recording_id, vg_track **items, size_t *n) {
  sq_store *st = sq(s);
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_TRACK_LIST, &rc);
  if (!p) return rc;
  sqlite3_bind_int64(p, 1, recording_id);
  return collect(st, p, sizeof **items, read_track, (void **)items, n);
}

/* ---- spans ---- */

/* At most one span of a recording is open: opening a second is VG_ESTATE.
 * An unknown recording is VG_ENOTFOUND by its foreign key. */
static int sq_span_open(vg_store *s, int64_t recording_id, int64_t start_ms) {
  sq_store *st = sq(s);
  int rc = run(st, Q_BEGIN_IMMEDIATE);
  if (rc) return rc;
  int64_t open = 0;
  rc = count_by(st, Q_SPAN_OPEN_COUNT, recording_id, &open);
  if (!rc && open > 0)
    rc = vg_store_fail(s, VG_ESTATE, "recording %lld has an open span", (long long)recording_id);
  sqlite3_stmt *p;
  if (!rc && (p = stmt(st, Q_SPAN_INSERT, &rc))) {
    sqlite3_bind_int64(p, 1, recording_id);
    sqlite3_bind_int64(p, 2, start_ms);
    int r = sqlite3_step(p);
    if (r != SQLITE_DONE) rc = db_err(st, r);
    done(p);
  }
  return finish(st, rc);
}

static int sq_span_close(vg_store *s, int64_t recording_id, int64_t end_ms) {
  return write_pair(sq(s), Q_SPAN_CLOSE, recording_id, end_ms);
}

static void read_span(sqlite3_stmt *p, void *item) {
  vg_span *sp = item;
  memset(sp, 0, sizeof *sp);
  sp->id = sqlite3_column_int64(p, 0);
  sp->recording_id = sqlite3_column_int64(p, 1);
  sp->start_ms = sqlite3_column_int64(p, 2);
  sp->end_ms = sqlite3_column_int64(p, 3);
}

static int sq_span_list(vg_store *s, int64_t recording_id, vg_span **items, size_t *n) {
  sq_store *st = sq(s);
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_SPAN_LIST, &rc);
  if (!p) return rc;
  sqlite3_bind_int64(p, 1, recording_id);
  return collect(st, p, sizeof **items, read_span, (void **)items, n);
}

/* ---- segments ---- */

static void read_segment(sqlite3_stmt *p, void *item) {
  vg_segment *g = item;
  memset(g, 0, sizeof *g);
  g->id = sqlite3_column_int64(p, 0);
  g->camera_id = sqlite3_column_int64(p, 1);
  g->recording_id = sqlite3_column_int64(p, 2);
  vg_store_copy(g->path, sizeof g->path, col_text(p, 3));
  g->start_ms = sqlite3_column_int64(p, 4);
  g->end_ms = sqlite3_column_int64(p, 5);
  g->bytes = sqlite3_column_int64(p, 6);
  g->frames = sqlite3_column_int64(p, 7);
  vg_store_copy(g->sha256, sizeof g->sha256, col_text(p, 8));
  vg_store_copy(g->state, sizeof g->state, col_text(p, 9));
}

static int sq_segment_create(vg_store *s, vg_segment *g) {
  sq_store *st = sq(s);
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_SEGMENT_INSERT, &rc);
  if (!p) return rc;
  sqlite3_bind_int64(p, 1, g->camera_id);
  sqlite3_bind_int64(p, 2, g->recording_id);
  bind_text(p, 3, g->path);
  sqlite3_bind_int64(p, 4, g->start_ms);
  sqlite3_bind_int64(p, 5, g->end_ms);
  sqlite3_bind_int64(p, 6, g->bytes);
  sqlite3_bind_int64(p, 7, g->frames);
  bind_text(p, 8, g->sha256);
  bind_text(p, 9, g->state);
  int r = sqlite3_step(p);
  if (r == SQLITE_DONE)
    g->id = sqlite3_last_insert_rowid(st->db);
  else
    rc = db_err(st, r);
  done(p);
  return rc;
}

static int sq_segment_update(vg_store *s, const vg_segment *g) {
  sq_store *st = sq(s);
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_SEGMENT_UPDATE, &rc);
  if (!p) return rc;
  sqlite3_bind_int64(p, 1, g->id);
  sqlite3_bind_int64(p, 2, g->end_ms);
  sqlite3_bind_int64(p, 3, g->bytes);
  sqlite3_bind_int64(p, 4, g->frames);
  bind_text(p, 5, g->sha256);
  bind_text(p, 6, g->state);
  sqlite3_bind_int64(p, 7, g->recording_id);
  return write_one(st, p);
}

static int sq_segment_get(vg_store *s, int64_t id, vg_segment *out) {
  return one_row(sq(s), Q_SEGMENT_GET, id, read_segment, out);
}

static int sq_segment_list(vg_store *s, int64_t recording_id, int64_t camera_id, vg_segment **items,
                           size_t *n) {
  sq_store *st = sq(s);
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_SEGMENT_LIST, &rc);
  if (!p) return rc;
  sqlite3_bind_int64(p, 1, recording_id);
  sqlite3_bind_int64(p, 2, camera_id);
  return collect(st, p, sizeof **items, read_segment, (void **)items, n);
}

static int sq_segment_list_open(vg_store *s, vg_segment **items, size_t *n) {
  sq_store *st = sq(s);
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_SEGMENT_LIST_OPEN, &rc);
  if (!p) return rc;
  return collect(st, p, sizeof **items, read_segment, (void **)items, n);
}

static int sq_segment_delete(vg_store *s, int64_t id) {
  sq_store *st = sq(s);
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_SEGMENT_DELETE, &rc);
  if (!p) return rc;
  sqlite3_bind_int64(p, 1, id);
  return write_one(st, p);
}

/* ---- markers ---- */

static void read_marker(sqlite3_stmt *p, void *item) {
  vg_marker *m = item;
  memset(m, 0, sizeof *m);
  m->id = sqlite3_column_int64(p, 0);
  m->recording_id = sqlite3_column_int64(p, 1);
  m->time_s = sqlite3_column_double(p, 2);
  vg_store_copy(m->label, sizeof m->label, col_text(p, 3));
  vg_store_copy(m->color, sizeof m->color, col_text(p, 4));
  vg_store_copy(m->note, sizeof m->note, col_text(p, 5));
  m->author_id = sqlite3_column_int64(p, 6);
  vg_store_copy(m->author_name, sizeof m->author_name, col_text(p, 7));
  m->created_at = sqlite3_column_int64(p, 8);
  m->updated_at = sqlite3_column_int64(p, 9);
}

static int sq_marker_create(vg_store *s, vg_marker *m) {
  sq_store *st = sq(s);
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_MARKER_INSERT, &rc);
  if (!p) return rc;
  int64_t now = vg_now_ms();
  sqlite3_bind_int64(p, 1, m->recording_id);
  sqlite3_bind_double(p, 2, m->time_s);
  bind_text(p, 3, m->label);
  bind_text(p, 4, m->color);
  bind_text(p, 5, m->note);
  sqlite3_bind_int64(p, 6, m->author_id);
  bind_text(p, 7, m->author_name);
  sqlite3_bind_int64(p, 8, now);
  int r = sqlite3_step(p);
  if (r == SQLITE_DONE) {
    m->id = sqlite3_last_insert_rowid(st->db);
    m->created_at = m->updated_at = now;
  } else {
    rc = db_err(st, r);
  }
  done(p);
  return rc;
}

static int sq_marker_list(vg_store *s, int64_t recording_id, vg_marker **items, size_t *n) {
  sq_store *st = sq(s);
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_MARKER_LIST, &rc);
  if (!p) return rc;
  sqlite3_bind_int64(p, 1, recording_id);
  return collect(st, p, sizeof **items, read_marker, (void **)items, n);
}

static int sq_marker_count(vg_store *s, int64_t recording_id, int64_t *count) {
  return count_by(sq(s), Q_MARKER_COUNT, recording_id, count);
}

static int sq_marker_get(vg_store *s, int64_t id, vg_marker *out) {
  return one_row(sq(s), Q_MARKER_GET, id, read_marker, out);
}

static int sq_marker_update(vg_store *s, vg_marker *m) {
  sq_store *st = sq(s);
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_MARKER_UPDATE, &rc);
  if (!p) return rc;
  int64_t now = vg_now_ms();
  sqlite3_bind_int64(p, 1, m->id);
  sqlite3_bind_double(p, 2, m->time_s);
  bind_text(p, 3, m->label);
  bind_text(p, 4, m->color);
  bind_text(p, 5, m->note);
  sqlite3_bind_int64(p, 6, now);
  rc = write_one(st, p);
  if (!rc) m->updated_at = now;
  return rc;
}

static int sq_marker_delete(vg_store *s, int64_t id) {
  sq_store *st = sq(s);
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_MARKER_DELETE, &rc);
  if (!p) return rc;
  sqlite3_bind_int64(p, 1, id);
  return write_one(st, p);
}

/* ---- saved views ---- */

static void read_view(sqlite3_stmt *p, void *item) {
  vg_view *v = item;
  memset(v, 0, sizeof *v);
  v->id = sqlite3_column_int64(p, 0);
  v->user_id = sqlite3_column_int64(p, 1);
  vg_store_copy(v->name, sizeof v->name, col_text(p, 2));
  vg_store_copy(v->layout, sizeof v->layout, col_text(p, 3));
  v->created_at = sqlite3_column_int64(p, 4);
  v->updated_at = sqlite3_column_int64(p, 5);
}

/* Reads the cameras of v (whose id is set), in order. */
static int read_view_cameras(sq_store *st, vg_view *v) {
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_VIEW_CAMERAS, &rc);
  if (!p) return rc;
  sqlite3_bind_int64(p, 1, v->id);
  v->ncameras = 0;
  int r;
  while ((r = sqlite3_step(p)) == SQLITE_ROW)
    if (v->ncameras < VG_VIEW_CAMERAS_MAX)
      v->camera_ids[v->ncameras++] = sqlite3_column_int64(p, 0);
  if (r != SQLITE_DONE) rc = db_err(st, r);
  done(p);
  return rc;
}

/* Replaces the cameras of view v->id by v's; inside the caller's
 * transaction. An unknown camera fails the foreign key: VG_ENOTFOUND. */
static int write_view_cameras(sq_store *st, const vg_view *v) {
  int rc = delete_where(st, Q_VIEW_CAMERAS_CLEAR, NULL, v->id);
  for (size_t i = 0; !rc && i < v->ncameras; i++) {
    sqlite3_stmt *p = stmt(st, Q_VIEW_CAMERA_ADD, &rc);
    if (!p) break;
    sqlite3_bind_int64(p, 1, v->id);
    sqlite3_bind_int64(p, 2, (int64_t)i);
    sqlite3_bind_int64(p, 3, v->camera_ids[i]);
    int r = sqlite3_step(p);
    if (r != SQLITE_DONE) rc = db_err(st, r);
    done(p);
  }
  return rc;
}

static int sq_view_create(vg_store *s, vg_view *v) {
  sq_store *st = sq(s);
  int rc = run(st, Q_BEGIN_IMMEDIATE);
  if (rc) return rc;
  int64_t now = vg_now_ms();
  sqlite3_stmt *p = stmt(st, Q_VIEW_INSERT, &rc);
  if (p) {
    sqlite3_bind_int64(p, 1, v->user_id);
    bind_text(p, 2, v->name);
    bind_text(p, 3, v->layout);
    sqlite3_bind_int64(p, 4, now);
    int r = sqlite3_step(p);
    if (r == SQLITE_DONE)
      v->id = sqlite3_last_insert_rowid(st->db);
    else
      rc = db_err(st, r);
    done(p);
  }
  if (!rc) rc = write_view_cameras(st, v);
  rc = finish(st, rc);
  if (!rc) v->created_at = v->updated_at = now;
  return rc;
}

static int sq_view_get(vg_store *s, int64_t id, vg_view *out) {
  int rc = one_row(sq(s), Q_VIEW_GET, id, read_view, out);
  return rc ? rc : read_view_cameras(sq(s), out);
}

static int sq_view_update(vg_store *s, const vg_view *v) {
  sq_store *st = sq(s);
  int rc = run(st, Q_BEGIN_IMMEDIATE);
  if (rc) return rc;
  sqlite3_stmt *p = stmt(st, Q_VIEW_UPDATE, &rc);
  if (p) {
    sqlite3_bind_int64(p, 1, v->id);
    bind_text(p, 2, v->name);
    bind_text(p, 3, v->layout);
    sqlite3_bind_int64(p, 4, vg_now_ms());
    rc = write_one(st, p);
  }
  if (!rc) rc = write_view_cameras(st, v);
  return finish(st, rc);
}

static int sq_view_delete(vg_store *s, int64_t id) {
  sq_store *st = sq(s);
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_VIEW_DELETE, &rc);
  if (!p) return rc;
  sqlite3_bind_int64(p, 1, id);
  return write_one(st, p);
}

static int sq_view_list(vg_store *s, int64_t user_id, int64_t limit, int64_t offset,
                        vg_view **items, size_t *n, int64_t *total) {
  int rc = paged(sq(s), Q_VIEW_COUNT, Q_VIEW_LIST, user_id, limit, offset, sizeof **items,
                 read_view, (void **)items, n, total);
  for (size_t i = 0; !rc && i < *n; i++) rc = read_view_cameras(sq(s), &(*items)[i]);
  if (rc) {
    free(*items);
    *items = NULL;
    *n = 0;
  }
  return rc;
}

/* ---- clips and retention ---- */

static void read_clip(sqlite3_stmt *p, void *item) {
  vg_clip *c = item;
  memset(c, 0, sizeof *c);
  c->id = sqlite3_column_int64(p, 0);
  c->recording_id = sqlite3_column_int64(p, 1);
  c->from_s = sqlite3_column_double(p, 2);
  c->to_s = sqlite3_column_double(p, 3);
  vg_store_copy(c->title, sizeof c->title, col_text(p, 4));
  c->author_id = sqlite3_column_int64(p, 5);
  vg_store_copy(c->author_name, sizeof c->author_name, col_text(p, 6));
  c->keep = sqlite3_column_int(p, 7) != 0;
  c->created_at = sqlite3_column_int64(p, 8);
  c->updated_at = sqlite3_column_int64(p, 9);
}

static int sq_clip_create(vg_store *s, vg_clip *c) {
  sq_store *st = sq(s);
  vg_recording rec;
  int rc = one_row(st, Q_RECORDING_GET, c->recording_id, read_recording, &rec);
  if (rc) return rc;
  sqlite3_stmt *p = stmt(st, Q_CLIP_INSERT, &rc);
  if (!p) return rc;
  int64_t now = vg_now_ms();
  sqlite3_bind_int64(p, 1, c->recording_id);
  sqlite3_bind_double(p, 2, c->from_s);
  sqlite3_bind_double(p, 3, c->to_s);
  bind_text(p, 4, c->title);
  sqlite3_bind_int64(p, 5, c->author_id);
  bind_text(p, 6, c->author_name);
  sqlite3_bind_int(p, 7, c->keep ? 1 : 0);
  sqlite3_bind_int64(p, 8, now);
  int r = sqlite3_step(p);
  if (r == SQLITE_DONE) {
    c->id = sqlite3_last_insert_rowid(st->db);
    c->created_at = c->updated_at = now;
  } else {
    rc = db_err(st, r);
  }
  done(p);
  return rc;
}

static int sq_clip_get(vg_store *s, int64_t id, vg_clip *out) {
  return one_row(sq(s), Q_CLIP_GET, id, read_clip, out);
}

static int sq_clip_update(vg_store *s, vg_clip *c) {
  sq_store *st = sq(s);
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_CLIP_UPDATE, &rc);
  if (!p) return rc;
  int64_t now = vg_now_ms();
  sqlite3_bind_int64(p, 1, c->id);
  sqlite3_bind_double(p, 2, c->from_s);
  sqlite3_bind_double(p, 3, c->to_s);
  bind_text(p, 4, c->title);
  sqlite3_bind_int(p, 5, c->keep ? 1 : 0);
  sqlite3_bind_int64(p, 6, now);
  rc = write_one(st, p);
  if (!rc) c->updated_at = now;
  return rc;
}

static int sq_clip_delete(vg_store *s, int64_t id) {
  sq_store *st = sq(s);
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_CLIP_DELETE, &rc);
  if (!p) return rc;
  sqlite3_bind_int64(p, 1, id);
  return write_one(st, p);
}

static int sq_clip_list(vg_store *s, int64_t recording_id, vg_clip **items, size_t *n) {
  sq_store *st = sq(s);
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_CLIP_LIST, &rc);
  if (!p) return rc;
  sqlite3_bind_int64(p, 1, recording_id);
  return collect(st, p, sizeof **items, read_clip, (void **)items, n);
}

static void read_retention(sqlite3_stmt *p, void *item) {
  vg_retention *r = item;
  memset(r, 0, sizeof *r);
  vg_store_copy(r->mode, sizeof r->mode, col_text(p, 0));
  r->days = sqlite3_column_int64(p, 1);
  r->until = sqlite3_column_int64(p, 2);
  r->expires_at = sqlite3_column_int64(p, 3);
  r->kept = sqlite3_column_int(p, 4) != 0;
  if (strcmp(r->mode, "inherit") == 0) r->days = sqlite3_column_int64(p, 5);
}

static int sq_retention_get(vg_store *s, int64_t recording_id, vg_retention *out) {
  return one_row(sq(s), Q_RETENTION_GET, recording_id, read_retention, out);
}

static int sq_retention_set(vg_store *s, int64_t recording_id, const vg_retention *r) {
  sq_store *st = sq(s);
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_RETENTION_SET, &rc);
  if (!p) return rc;
  sqlite3_bind_int64(p, 1, recording_id);
  bind_text(p, 2, r->mode);
  sqlite3_bind_int64(p, 3, r->days);
  sqlite3_bind_int64(p, 4, r->until);
  return write_one(st, p);
}

static void read_days(sqlite3_stmt *p, void *item) {
  *(int64_t *)item = sqlite3_column_int64(p, 0);
}

static int sq_recording_list_expired_kept(vg_store *s, int64_t now, int64_t limit,
                                          vg_recording **items, size_t *n) {
  sq_store *st = sq(s);
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_RECORDING_EXPIRED_KEPT, &rc);
  if (!p) return rc;
  sqlite3_bind_int64(p, 1, now);
  sqlite3_bind_int64(p, 2, limit);
  return collect(st, p, sizeof **items, read_recording, (void **)items, n);
}

static int sq_room_retention_get(vg_store *s, int64_t room_id, int64_t *days) {
  return one_row(sq(s), Q_ROOM_RETENTION_GET, room_id, read_days, days);
}

static int sq_room_retention_set(vg_store *s, int64_t room_id, int64_t days) {
  sq_store *st = sq(s);
  int rc = 0;
  sqlite3_stmt *p = stmt(st, Q_ROOM_RETENTION_SET, &rc);
  if (!p) return rc;
  sqlite3_bind_int64(p, 1, room_id);
  sqlite3_bind_int64(p, 2, days);
  sqlite3_bind_int64(p, 3, vg_now_ms());
  return write_one(st, p);
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
    .room_create = sq_room_create,
    .room_get = sq_room_get,
    .room_update = sq_room_update,
    .room_delete = sq_room_delete,
    .room_list = sq_room_list,
    .room_visible = sq_room_visible,
    .room_recording_count = sq_room_recording_count,
    .camera_create = sq_camera_create,
    .camera_get = sq_camera_get,
    .camera_update = sq_camera_update,
    .camera_delete = sq_camera_delete,
    .camera_list = sq_camera_list,
    .group_create = sq_group_create,
    .group_get = sq_group_get,
    .group_update = sq_group_update,
    .group_delete = sq_group_delete,
    .group_list = sq_group_list,
    .group_member_add = sq_group_member_add,
    .group_member_remove = sq_group_member_remove,
    .group_members = sq_group_members,
    .access_add = sq_access_add,
    .access_get = sq_access_get,
    .access_find = sq_access_find,
    .access_delete = sq_access_delete,
    .access_list = sq_access_list,
    .recording_create = sq_recording_create,
    .recording_get = sq_recording_get,
    .recording_update = sq_recording_update,
    .recording_active = sq_recording_active,
    .recording_list_active = sq_recording_list_active,
    .recording_list = sq_recording_list,
    .recording_list_expired = sq_recording_list_expired,
    .recording_delete = sq_recording_delete,
    .track_put = sq_track_put,
    .track_list = sq_track_list,
    .span_open = sq_span_open,
    .span_close = sq_span_close,
    .span_list = sq_span_list,
    .segment_create = sq_segment_create,
    .segment_update = sq_segment_update,
    .segment_get = sq_segment_get,
    .segment_list = sq_segment_list,
    .segment_list_open = sq_segment_list_open,
    .segment_delete = sq_segment_delete,
    .marker_create = sq_marker_create,
    .marker_list = sq_marker_list,
    .marker_count = sq_marker_count,
    .marker_get = sq_marker_get,
    .marker_update = sq_marker_update,
    .marker_delete = sq_marker_delete,
    .view_create = sq_view_create,
    .view_get = sq_view_get,
    .view_update = sq_view_update,
    .view_delete = sq_view_delete,
    .view_list = sq_view_list,
    .clip_create = sq_clip_create,
    .clip_get = sq_clip_get,
    .clip_update = sq_clip_update,
    .clip_delete = sq_clip_delete,
    .clip_list = sq_clip_list,
    .retention_get = sq_retention_get,
    .retention_set = sq_retention_set,
    .room_retention_get = sq_room_retention_get,
    .room_retention_set = sq_room_retention_set,
    .recording_list_expired_kept = sq_recording_list_expired_kept,
};
