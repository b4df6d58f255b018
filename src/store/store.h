/* store.h - the database interface.
 *
 * Callers see only this header. A back end (SQLite now, PostgreSQL later)
 * fills a table of functions (store_impl.h); vg_store_open picks it by the
 * URL: a path or "sqlite:PATH" for SQLite, "postgres://..." later. Calls are
 * synchronous and short; a vg_store is used from one thread at a time (the
 * CLI, or the event loop). Times are UTC milliseconds. */
#ifndef VG_STORE_H
#define VG_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct vg_store vg_store;

#define VG_USERNAME_MAX 64
#define VG_ROLE_MAX 16
#define VG_PWHASH_MAX 160

typedef struct vg_user {
  int64_t id;
  char username[VG_USERNAME_MAX + 1];
  char role[VG_ROLE_MAX + 1]; /* "admin", "operator", "viewer" */
  char pwhash[VG_PWHASH_MAX + 1];
  bool disabled;
  int64_t created_at;
  int64_t updated_at;
} vg_user;

typedef struct vg_session {
  int64_t id;
  int64_t user_id;
  char token_hash[65]; /* hex SHA-256 of the token */
  char csrf[48];
  char kind[16]; /* "cookie" (browser) or "bearer" */
  char addr[64];
  int64_t created_at;
  int64_t expires_at;
} vg_session;

typedef struct vg_audit_entry {
  int64_t id;
  int64_t at;
  int64_t user_id; /* 0 when none (failed login of an unknown name, CLI) */
  char username[VG_USERNAME_MAX + 1];
  char addr[64];
  char action[64];  /* "login", "login.failed", "user.create", ... */
  char target[128]; /* "user:12" */
  char *detail;     /* JSON text, owned; freed by vg_audit_entries_free */
  char hash[65];    /* hex SHA-256 over the previous hash and this row */
} vg_audit_entry;

/* Opens (creating if needed) the store at url and applies pending
 * migrations. Returns 0 or VG_EDB / VG_EIO with a message in err;
 * VG_ECONFIG for a URL this build cannot serve (PostgreSQL for now). */
int vg_store_open(vg_store **out, const char *url, char *err, size_t errlen);
void vg_store_close(vg_store *s);
/* Number of the newest migration applied. */
int vg_store_schema_version(vg_store *s);

/* Users. Names are unique (case-insensitive). */
int vg_store_user_create(vg_store *s, vg_user *u);            /* fills id, times; VG_EEXIST */
int vg_store_user_get(vg_store *s, int64_t id, vg_user *out); /* VG_ENOTFOUND */
int vg_store_user_by_name(vg_store *s, const char *name, vg_user *out); /* VG_ENOTFOUND */
int vg_store_user_update(vg_store *s, const vg_user *u); /* role, pwhash, disabled, username */
int vg_store_user_delete(vg_store *s, int64_t id);
int vg_store_user_count(vg_store *s, int64_t *count);
/* Count of enabled admins, to refuse removing the last one. */
int vg_store_admin_count(vg_store *s, int64_t *count);
/* Users ordered by name; *items is malloc'd (free()), *total the full count. */
int vg_store_user_list(vg_store *s, int64_t limit, int64_t offset, vg_user **items, size_t *n,
                       int64_t *total);

/* Sessions and API tokens (both are rows of sessions, told apart by kind). */
int vg_store_session_create(vg_store *s, vg_session *sess); /* fills id */
/* Finds an unexpired session by token hash. VG_ENOTFOUND otherwise. */
int vg_store_session_get(vg_store *s, const char *token_hash, int64_t now, vg_session *out);
/* The deletes succeed (0) when there was nothing to delete. */
int vg_store_session_delete(vg_store *s, const char *token_hash);
int vg_store_session_delete_user(vg_store *s, int64_t user_id);
int vg_store_session_purge(vg_store *s, int64_t now); /* drops expired rows */

/* Audit log: append-only; each row's hash covers the previous row's hash. */
int vg_store_audit_append(vg_store *s, int64_t at, int64_t user_id, const char *username,
                          const char *addr, const char *action, const char *target,
                          const char *detail_json);
/* Newest first. *items malloc'd; free with vg_audit_entries_free. */
int vg_store_audit_list(vg_store *s, int64_t limit, int64_t offset, vg_audit_entry **items,
                        size_t *n, int64_t *total);
void vg_audit_entries_free(vg_audit_entry *items, size_t n);
/* Recomputes the chain; returns 0 or VG_EINVAL with *bad_id the first row
 * whose hash does not match. */
int vg_store_audit_verify(vg_store *s, int64_t *bad_id);

/* Rooms, cameras, groups and room rights.
 *
 * Bounds are in bytes of UTF-8. Names are unique case-insensitively (rooms
 * among rooms, groups among groups, cameras within their room). */
#define VG_NAME_MAX 128
#define VG_DESCRIPTION_MAX 4096
#define VG_URL_MAX 1024
#define VG_CAMERA_USERNAME_MAX 128
#define VG_CAMERA_PASSWORD_MAX 256
/* A sealed password: nonce (24) + MAC (16) + the password. */
#define VG_SEALED_MAX (VG_CAMERA_PASSWORD_MAX + 40)

typedef struct vg_room {
  int64_t id;
  char name[VG_NAME_MAX + 1];
  char description[VG_DESCRIPTION_MAX + 1];
  bool disabled;
  int64_t created_at;
  int64_t updated_at;
} vg_room;

/* A camera as stored (the ingest layer's live vg_camera is another thing). */
typedef struct vg_camera_row {
  int64_t id;
  int64_t room_id;
  char name[VG_NAME_MAX + 1];
  char url[VG_URL_MAX + 1];           /* rtsp:// or rtsps://, no userinfo */
  char substream_url[VG_URL_MAX + 1]; /* "" when none */
  char username[VG_CAMERA_USERNAME_MAX + 1];
  uint8_t password_enc[VG_SEALED_MAX]; /* nonce + ciphertext */
  size_t password_enc_len;             /* 0: no password */
  char transport[4];                   /* "tcp" or "udp" */
  bool enabled;
  bool continuous;  /* records 24/7 */
  int64_t position; /* order in the room */
  int64_t created_at;
  int64_t updated_at;
} vg_camera_row;

typedef struct vg_group {
  int64_t id;
  char name[VG_NAME_MAX + 1];
  char description[VG_DESCRIPTION_MAX + 1];
  int64_t member_count; /* filled by get and list */
  int64_t created_at;
  int64_t updated_at;
} vg_group;

/* A right to see a room, given to exactly one of a user or a group. */
typedef struct vg_room_access {
  int64_t id;
  int64_t room_id;
  int64_t user_id;            /* 0 when the right is a group's */
  int64_t group_id;           /* 0 when the right is a user's */
  char name[VG_NAME_MAX + 1]; /* the user's or the group's name, when read */
  int64_t created_at;
} vg_room_access;

int vg_store_room_create(vg_store *s, vg_room *r);            /* fills id, times; VG_EEXIST */
int vg_store_room_get(vg_store *s, int64_t id, vg_room *out); /* VG_ENOTFOUND */
int vg_store_room_update(vg_store *s, const vg_room *r);      /* name, description, disabled */
/* VG_ESTATE when the room has recordings (they are never deleted with it);
 * its cameras and rights go with it. */
int vg_store_room_delete(vg_store *s, int64_t id);
/* The rooms user_id may see, ordered by name: all of them for an enabled
 * admin or operator; for anyone else those shared with them or with one of
 * their groups. user_id 0 means every room (the system). *items is
 * malloc'd (free()), *total the full count. */
int vg_store_room_list(vg_store *s, int64_t user_id, int64_t limit, int64_t offset, vg_room **items,
                       size_t *n, int64_t *total);
/* Whether user_id may see room_id, by the rule of vg_store_room_list;
 * false (and 0) when either does not exist. */
int vg_store_room_visible(vg_store *s, int64_t room_id, int64_t user_id, bool *visible);
/* Number of recordings of a room. */
int vg_store_room_recording_count(vg_store *s, int64_t room_id, int64_t *count);

/* Cameras. create fills id and times; a negative position puts the camera
 * last in its room. VG_EEXIST for a name taken in the room, VG_ENOTFOUND
 * for a room that does not exist. */
int vg_store_camera_create(vg_store *s, vg_camera_row *c);
int vg_store_camera_get(vg_store *s, int64_t id, vg_camera_row *out); /* VG_ENOTFOUND */
int vg_store_camera_update(vg_store *s, const vg_camera_row *c);      /* every field but times */
int vg_store_camera_delete(vg_store *s, int64_t id);
/* Cameras of a room (room_id 0: of every room) ordered by room, position,
 * id; *items malloc'd (free()), NULL when none. */
int vg_store_camera_list(vg_store *s, int64_t room_id, vg_camera_row **items, size_t *n);

/* Groups and membership. */
int vg_store_group_create(vg_store *s, vg_group *g);            /* fills id, times; VG_EEXIST */
int vg_store_group_get(vg_store *s, int64_t id, vg_group *out); /* VG_ENOTFOUND */
int vg_store_group_update(vg_store *s, const vg_group *g);      /* name, description */
int vg_store_group_delete(vg_store *s, int64_t id);
/* Ordered by name; *items malloc'd (free()). */
int vg_store_group_list(vg_store *s, int64_t limit, int64_t offset, vg_group **items, size_t *n,
                        int64_t *total);
/* VG_EEXIST when already a member; VG_ENOTFOUND when the group or the
 * user does not exist. */
int vg_store_group_member_add(vg_store *s, int64_t group_id, int64_t user_id);
int vg_store_group_member_remove(vg_store *s, int64_t group_id, int64_t user_id); /* VG_ENOTFOUND */
/* Members ordered by name, without their password hashes; *items
 * malloc'd (free()). */
int vg_store_group_members(vg_store *s, int64_t group_id, int64_t limit, int64_t offset,
                           vg_user **items, size_t *n, int64_t *total);

/* Room rights. add fills id and created_at; VG_EEXIST when the user or
 * group already has the room; VG_ENOTFOUND when the room, user or group
 * does not exist. */
int vg_store_access_add(vg_store *s, vg_room_access *a);
int vg_store_access_get(vg_store *s, int64_t id, vg_room_access *out); /* VG_ENOTFOUND */
/* The right of user_id or of group_id (the other 0) on a room. */
int vg_store_access_find(vg_store *s, int64_t room_id, int64_t user_id, int64_t group_id,
                         vg_room_access *out);
int vg_store_access_delete(vg_store *s, int64_t id); /* VG_ENOTFOUND */
/* Rights on a room, users first then groups, by name; *items malloc'd. */
int vg_store_access_list(vg_store *s, int64_t room_id, vg_room_access **items, size_t *n);

/* ---- recordings, their tracks, spans, segments and markers ---- */

#define VG_TITLE_MAX 256
#define VG_LABEL_MAX 200
#define VG_NOTE_MAX 4096
#define VG_MEDIA_PATH_MAX 1024

typedef struct vg_recording {
  int64_t id;
  int64_t room_id;
  char title[VG_TITLE_MAX + 1];
  int64_t author_id;
  char author_name[VG_USERNAME_MAX + 1];
  char state[16]; /* "recording", "paused", "stopped" */
  int64_t started_at;
  int64_t ended_at; /* 0 while running */
  bool locked;
  int64_t retention_until; /* 0: keep */
  int64_t created_at;
} vg_recording;

/* One camera's part of a recording. */
typedef struct vg_track {
  int64_t id;
  int64_t recording_id;
  int64_t camera_id;
  char camera_name[VG_NAME_MAX + 1];
  int64_t started_at; /* first frame at or after the recording's start; 0 before */
  int64_t ended_at;   /* 0 while running */
  int64_t bytes;
  char sha256[65]; /* "" until the recording stops */
} vg_track;

/* An un-paused stretch of a recording. */
typedef struct vg_span {
  int64_t id;
  int64_t recording_id;
  int64_t start_ms;
  int64_t end_ms; /* 0 while open */
} vg_span;

/* One fMP4 file on disk. */
typedef struct vg_segment {
  int64_t id;
  int64_t camera_id;
  int64_t recording_id; /* 0 for continuous recording */
  char path[VG_MEDIA_PATH_MAX + 1];
  int64_t start_ms, end_ms;
  int64_t bytes, frames;
  char sha256[65]; /* "" while open */
  char state[16];  /* "open", "closed", "repaired" */
} vg_segment;

typedef struct vg_marker {
  int64_t id;
  int64_t recording_id;
  double time_s; /* seconds from the start, pauses left out */
  char label[VG_LABEL_MAX + 1];
  char color[16]; /* "#rrggbb" or "" */
  char note[VG_NOTE_MAX + 1];
  int64_t author_id;
  char author_name[VG_USERNAME_MAX + 1];
  int64_t created_at, updated_at;
} vg_marker;

typedef struct vg_recording_filter {
  int64_t room_id;  /* 0: any */
  const char *q;    /* substring of the title (case-insensitive), NULL: any */
  int64_t from, to; /* on started_at, inclusive; 0: open-ended */
  int64_t user_id;  /* only rooms this user may see (vg_store_room_visible rule); 0: all */
  const char *author; /* substring of the author's name (case-insensitive), NULL: any */
  const char *marker; /* substring of a marker's label or note (case-insensitive), NULL: any */
  bool oldest_first;  /* by start ascending; default newest first */
} vg_recording_filter;

/* Recordings. create fills id and created_at. */
int vg_store_recording_create(vg_store *s, vg_recording *r);
int vg_store_recording_get(vg_store *s, int64_t id, vg_recording *out); /* VG_ENOTFOUND */
/* title, state, ended_at, locked, retention_until (non-zero: the "until"
 * retention mode on that date; zero turns "until" back to "inherit"; the
 * other modes are set with vg_store_retention_set). */
int vg_store_recording_update(vg_store *s, const vg_recording *r);
/* The room's recording in state recording or paused; VG_ENOTFOUND. */
int vg_store_recording_active(vg_store *s, int64_t room_id, vg_recording *out);
/* Every recording in state recording or paused (for start-up after a
 * crash); *items malloc'd. */
int vg_store_recording_list_active(vg_store *s, vg_recording **items, size_t *n);
/* Newest first; *items malloc'd (free()), *total the full count. */
int vg_store_recording_list(vg_store *s, const vg_recording_filter *f, int64_t limit,
                            int64_t offset, vg_recording **items, size_t *n, int64_t *total);
/* Expired by their retention rule (vg_retention: expires_at set and <=
 * now), stopped, not locked and without a kept clip; oldest first, at most
 * limit. For the retention task and the disk floor. */
int vg_store_recording_list_expired(vg_store *s, int64_t now, int64_t limit, vg_recording **items,
                                    size_t *n);
/* Deletes the recording with its tracks, spans, markers and segment rows
 * (the caller deletes the files first). */
int vg_store_recording_delete(vg_store *s, int64_t id);

/* Tracks: insert, or update the row of (recording_id, camera_id); fills id. */
int vg_store_track_put(vg_store *s, vg_track *t);
/* By camera_id; *items malloc'd. */
int vg_store_track_list(vg_store *s, int64_t recording_id, vg_track **items, size_t *n);

/* Spans: opens one at start_ms; ends the open one (VG_ENOTFOUND if none). */
int vg_store_span_open(vg_store *s, int64_t recording_id, int64_t start_ms);
int vg_store_span_close(vg_store *s, int64_t recording_id, int64_t end_ms);
/* By start; *items malloc'd. */
int vg_store_span_list(vg_store *s, int64_t recording_id, vg_span **items, size_t *n);

/* Segments. create fills id (VG_EEXIST for a path already indexed). */
int vg_store_segment_create(vg_store *s, vg_segment *g);
/* end_ms, bytes, frames, sha256, state, recording_id */
int vg_store_segment_update(vg_store *s, const vg_segment *g);
int vg_store_segment_get(vg_store *s, int64_t id, vg_segment *out); /* VG_ENOTFOUND */
/* A recording's segments (camera_id 0: every camera) by camera, start;
 * *items malloc'd. */
int vg_store_segment_list(vg_store *s, int64_t recording_id, int64_t camera_id, vg_segment **items,
                          size_t *n);
/* Segments still in state open (after a crash); *items malloc'd. */
int vg_store_segment_list_open(vg_store *s, vg_segment **items, size_t *n);
int vg_store_segment_delete(vg_store *s, int64_t id);

/* Markers. create fills id and times; VG_ENOTFOUND for an unknown recording. */
int vg_store_marker_create(vg_store *s, vg_marker *m);
/* By time; *items malloc'd. */
int vg_store_marker_list(vg_store *s, int64_t recording_id, vg_marker **items, size_t *n);
int vg_store_marker_count(vg_store *s, int64_t recording_id, int64_t *count);
int vg_store_marker_get(vg_store *s, int64_t id, vg_marker *out); /* VG_ENOTFOUND */
/* time_s, label, color, note (author and created_at are kept); fills
 * updated_at. VG_ENOTFOUND. */
int vg_store_marker_update(vg_store *s, vg_marker *m);
int vg_store_marker_delete(vg_store *s, int64_t id); /* VG_ENOTFOUND */

/* ---- saved views of the Observe page (0004_views.sql) ---- */

/* Cameras in one view: a 4x4 grid. */
#define VG_VIEW_CAMERAS_MAX 16
/* Views one user may keep. */
#define VG_VIEWS_PER_USER_MAX 100

/* A user's named set of cameras, from any rooms, in order. */
typedef struct vg_view {
  int64_t id;
  int64_t user_id;
  char name[VG_NAME_MAX + 1];
  char layout[8]; /* "1", "2x2", "3x3", "4x4" */
  int64_t camera_ids[VG_VIEW_CAMERAS_MAX];
  size_t ncameras;
  int64_t created_at, updated_at;
} vg_view;

/* create fills id and times; VG_EEXIST for a name the user already has;
 * VG_ENOTFOUND for an unknown user or camera; VG_EINVAL for a bad layout,
 * name, or a camera given twice. Rights are the caller's to check. */
int vg_store_view_create(vg_store *s, vg_view *v);
int vg_store_view_get(vg_store *s, int64_t id, vg_view *out); /* VG_ENOTFOUND */
/* name, layout and the cameras (replaced as a whole). */
int vg_store_view_update(vg_store *s, const vg_view *v);
int vg_store_view_delete(vg_store *s, int64_t id); /* VG_ENOTFOUND */
/* A user's views by name; *items malloc'd (free()), *total the full count. */
int vg_store_view_list(vg_store *s, int64_t user_id, int64_t limit, int64_t offset, vg_view **items,
                       size_t *n, int64_t *total);

/* ---- clips and retention (0003_review.sql) ---- */

/* A named stretch of a recording, in recording seconds (pauses left out,
 * like marker times). keep: when the recording expires, the segments this
 * clip needs are kept (and the recording's rows with them). */
typedef struct vg_clip {
  int64_t id;
  int64_t recording_id;
  double from_s, to_s; /* 0 <= from_s < to_s */
  char title[VG_TITLE_MAX + 1];
  int64_t author_id;
  char author_name[VG_USERNAME_MAX + 1];
  bool keep;
  int64_t created_at, updated_at;
} vg_clip;

/* create fills id and times; VG_ENOTFOUND for an unknown recording. */
int vg_store_clip_create(vg_store *s, vg_clip *c);
int vg_store_clip_get(vg_store *s, int64_t id, vg_clip *out); /* VG_ENOTFOUND */
/* from_s, to_s, title, keep; fills updated_at. VG_ENOTFOUND. */
int vg_store_clip_update(vg_store *s, vg_clip *c);
int vg_store_clip_delete(vg_store *s, int64_t id); /* VG_ENOTFOUND */
/* A recording's clips by from_s; *items malloc'd. */
int vg_store_clip_list(vg_store *s, int64_t recording_id, vg_clip **items, size_t *n);

/* A recording's retention rule. mode "inherit" (the room's
 * retention_days), "days" (days after the end), "until" (a date),
 * "forever". */
typedef struct vg_retention {
  char mode[16];
  int64_t days;  /* for "days"; for "inherit" the room's (-1: forever) */
  int64_t until; /* for "until", UTC ms */
  /* Read only: when the rule lets the recording go (UTC ms), 0 never or
   * not yet known (running); kept: a kept clip holds it. */
  int64_t expires_at;
  bool kept;
} vg_retention;

int vg_store_retention_get(vg_store *s, int64_t recording_id, vg_retention *out);
/* Sets mode, days and until. VG_EINVAL for an unknown mode or a negative
 * number; VG_ENOTFOUND. */
int vg_store_retention_set(vg_store *s, int64_t recording_id, const vg_retention *r);
/* A room's default: days after a recording ends, -1 keep forever. */
int vg_store_room_retention_get(vg_store *s, int64_t room_id, int64_t *days);
int vg_store_room_retention_set(vg_store *s, int64_t room_id, int64_t days);
/* Like vg_store_recording_list_expired but only the recordings a kept clip
 * holds: their video outside the kept clips may go. */
int vg_store_recording_list_expired_kept(vg_store *s, int64_t now, int64_t limit,
                                         vg_recording **items, size_t *n);

/* The last back-end error message on s, for logs ("" when none). */
const char *vg_store_errmsg(const vg_store *s);
/* "sqlite" (later "postgres"). */
const char *vg_store_backend_name(const vg_store *s);

#endif
