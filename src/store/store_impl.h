/* store_impl.h - what a store back end provides.
 *
 * store.c keeps the public entry points and dispatches each through a table
 * of functions. A back end defines its own struct whose first member is a
 * vg_store (so a vg_store * converts to it and back) and one
 * vg_store_backend table. Adding PostgreSQL is then a new store_pg.c with
 * its own table and a line in store.c's URL choice; callers do not change.
 *
 * store.c has already checked the arguments it can check without the
 * database (NULL pointers, lengths, limits) before calling into a back end,
 * so back ends check only what needs the data. */
#ifndef VG_STORE_IMPL_H
#define VG_STORE_IMPL_H

#include "store.h"

/* Bounds on list calls and audit fields. */
#define VG_STORE_LIST_MAX 1000
#define VG_AUDIT_DETAIL_MAX 65536

/* The hash of the row before the first one. */
#define VG_AUDIT_GENESIS "0000000000000000000000000000000000000000000000000000000000000000"

typedef struct vg_store_backend vg_store_backend;

struct vg_store {
  const vg_store_backend *be;
  char errmsg[256]; /* the last back-end error, for logs */
};

struct vg_store_backend {
  const char *name; /* "sqlite" */

  /* target is the URL with the scheme removed (a path for SQLite). */
  int (*open)(vg_store **out, const char *target, char *err, size_t errlen);
  void (*close)(vg_store *s);
  int (*schema_version)(vg_store *s);

  int (*user_create)(vg_store *s, vg_user *u);
  int (*user_get)(vg_store *s, int64_t id, vg_user *out);
  int (*user_by_name)(vg_store *s, const char *name, vg_user *out);
  int (*user_update)(vg_store *s, const vg_user *u);
  int (*user_delete)(vg_store *s, int64_t id);
  int (*user_count)(vg_store *s, int64_t *count);
  int (*admin_count)(vg_store *s, int64_t *count);
  int (*user_list)(vg_store *s, int64_t limit, int64_t offset, vg_user **items, size_t *n,
                   int64_t *total);

  int (*session_create)(vg_store *s, vg_session *sess);
  int (*session_get)(vg_store *s, const char *token_hash, int64_t now, vg_session *out);
  int (*session_delete)(vg_store *s, const char *token_hash);
  int (*session_delete_user)(vg_store *s, int64_t user_id);
  int (*session_purge)(vg_store *s, int64_t now);

  /* e->at, user_id, username, addr, action, target, detail are set and
   * within bounds; the back end picks the id, links the chain with
   * vg_store_audit_hash and stores the row, atomically. */
  int (*audit_append)(vg_store *s, const vg_audit_entry *e);
  int (*audit_list)(vg_store *s, int64_t limit, int64_t offset, vg_audit_entry **items, size_t *n,
                    int64_t *total);
  int (*audit_verify)(vg_store *s, int64_t *bad_id);

  /* Rooms, cameras, groups, rights: rows are checked by store.c (bounds,
   * transport, one of user/group); back ends map constraints to codes. */
  int (*room_create)(vg_store *s, vg_room *r);
  int (*room_get)(vg_store *s, int64_t id, vg_room *out);
  int (*room_update)(vg_store *s, const vg_room *r);
  int (*room_delete)(vg_store *s, int64_t id);
  int (*room_list)(vg_store *s, int64_t user_id, int64_t limit, int64_t offset, vg_room **items,
                   size_t *n, int64_t *total);
  int (*room_visible)(vg_store *s, int64_t room_id, int64_t user_id, bool *visible);
  int (*room_recording_count)(vg_store *s, int64_t room_id, int64_t *count);

  int (*camera_create)(vg_store *s, vg_camera_row *c);
  int (*camera_get)(vg_store *s, int64_t id, vg_camera_row *out);
  int (*camera_update)(vg_store *s, const vg_camera_row *c);
  int (*camera_delete)(vg_store *s, int64_t id);
  int (*camera_list)(vg_store *s, int64_t room_id, vg_camera_row **items, size_t *n);

  int (*group_create)(vg_store *s, vg_group *g);
  int (*group_get)(vg_store *s, int64_t id, vg_group *out);
  int (*group_update)(vg_store *s, const vg_group *g);
  int (*group_delete)(vg_store *s, int64_t id);
  int (*group_list)(vg_store *s, int64_t limit, int64_t offset, vg_group **items, size_t *n,
                    int64_t *total);
  int (*group_member_add)(vg_store *s, int64_t group_id, int64_t user_id);
  int (*group_member_remove)(vg_store *s, int64_t group_id, int64_t user_id);
  int (*group_members)(vg_store *s, int64_t group_id, int64_t limit, int64_t offset,
                       vg_user **items, size_t *n, int64_t *total);

  int (*access_add)(vg_store *s, vg_room_access *a);
  int (*access_get)(vg_store *s, int64_t id, vg_room_access *out);
  int (*access_find)(vg_store *s, int64_t room_id, int64_t user_id, int64_t group_id,
                     vg_room_access *out);
  int (*access_delete)(vg_store *s, int64_t id);
  int (*access_list)(vg_store *s, int64_t room_id, vg_room_access **items, size_t *n);

  /* Recordings, tracks, spans, segments, markers: rows are checked by
   * store.c (bounds, states, colour, time); a NULL filter is an empty one. */
  int (*recording_create)(vg_store *s, vg_recording *r);
  int (*recording_get)(vg_store *s, int64_t id, vg_recording *out);
  int (*recording_update)(vg_store *s, const vg_recording *r);
  int (*recording_active)(vg_store *s, int64_t room_id, vg_recording *out);
  int (*recording_list_active)(vg_store *s, vg_recording **items, size_t *n);
  int (*recording_list)(vg_store *s, const vg_recording_filter *f, int64_t limit, int64_t offset,
                        vg_recording **items, size_t *n, int64_t *total);
  int (*recording_list_expired)(vg_store *s, int64_t now, int64_t limit, vg_recording **items,
                                size_t *n);
  int (*recording_delete)(vg_store *s, int64_t id);

  int (*track_put)(vg_store *s, vg_track *t);
  int (*track_list)(vg_store *s, int64_t recording_id, vg_track **items, size_t *n);

  int (*span_open)(vg_store *s, int64_t recording_id, int64_t start_ms);
  int (*span_close)(vg_store *s, int64_t recording_id, int64_t end_ms);
  int (*span_list)(vg_store *s, int64_t recording_id, vg_span **items, size_t *n);

  int (*segment_create)(vg_store *s, vg_segment *g);
  int (*segment_update)(vg_store *s, const vg_segment *g);
  int (*segment_get)(vg_store *s, int64_t id, vg_segment *out);
  int (*segment_list)(vg_store *s, int64_t recording_id, int64_t camera_id, vg_segment **items,
                      size_t *n);
  int (*segment_list_open)(vg_store *s, vg_segment **items, size_t *n);
  int (*segment_delete)(vg_store *s, int64_t id);

  int (*marker_create)(vg_store *s, vg_marker *m);
  int (*marker_list)(vg_store *s, int64_t recording_id, vg_marker **items, size_t *n);
  int (*marker_count)(vg_store *s, int64_t recording_id, int64_t *count);

  /* Saved views: rows checked by store.c (name, layout, distinct cameras). */
  int (*view_create)(vg_store *s, vg_view *v);
  int (*view_get)(vg_store *s, int64_t id, vg_view *out);
  int (*view_update)(vg_store *s, const vg_view *v);
  int (*view_delete)(vg_store *s, int64_t id);
  int (*view_list)(vg_store *s, int64_t user_id, int64_t limit, int64_t offset, vg_view **items,
                   size_t *n, int64_t *total);
  int (*marker_get)(vg_store *s, int64_t id, vg_marker *out);
  int (*marker_update)(vg_store *s, vg_marker *m);
  int (*marker_delete)(vg_store *s, int64_t id);

  /* Clips and retention (0003_review.sql). */
  int (*clip_create)(vg_store *s, vg_clip *c);
  int (*clip_get)(vg_store *s, int64_t id, vg_clip *out);
  int (*clip_update)(vg_store *s, vg_clip *c);
  int (*clip_delete)(vg_store *s, int64_t id);
  int (*clip_list)(vg_store *s, int64_t recording_id, vg_clip **items, size_t *n);
  int (*retention_get)(vg_store *s, int64_t recording_id, vg_retention *out);
  int (*retention_set)(vg_store *s, int64_t recording_id, const vg_retention *r);
  int (*room_retention_get)(vg_store *s, int64_t room_id, int64_t *days);
  int (*room_retention_set)(vg_store *s, int64_t room_id, int64_t days);
  int (*recording_list_expired_kept)(vg_store *s, int64_t now, int64_t limit, vg_recording **items,
                                     size_t *n);
};

extern const vg_store_backend vg_store_sqlite;

/* Computes an audit row's hash into out: hex SHA-256 of prev_hash '\n' id
 * '\n' at '\n' user_id '\n' username '\n' addr '\n' action '\n' target
 * '\n' detail. Numbers are decimal; NULL text is empty; in text fields '\\'
 * and '\n' are written as "\\\\" and "\\n", so no two rows serialise alike.
 * Fields are taken as they are stored, so verify can hash rows of any
 * length. Returns 0 or VG_ENOMEM. */
int vg_store_audit_hash(const char *prev_hash, int64_t id, int64_t at, int64_t user_id,
                        const char *username, const char *addr, const char *action,
                        const char *target, const char *detail, char out[65]);

/* Records a back-end error message on s (printf-style) and returns rc. */
int vg_store_fail(vg_store *s, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Copies src into dst[size], cutting at a UTF-8 character boundary when it
 * does not fit. Returns true when it fit whole. */
bool vg_store_copy(char *dst, size_t size, const char *src);

#endif
