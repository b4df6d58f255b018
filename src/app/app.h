/* app.h - the app role: state shared by the API handlers, and the helpers
 * every handler uses to read a request and answer it.
 *
 * A vg_app lives as long as `vigil serve`. Each API request becomes a
 * vg_req (on the stack of the router, or on the heap when a handler holds
 * it across thread-pool work) carrying the caller once authenticated. */
#ifndef VG_APP_H
#define VG_APP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "base/config.h"
#include "ingest/camera.h"
#include "net/http.h"
#include "store/store.h"

typedef struct vg_events vg_events;
typedef struct vg_static vg_static;
typedef struct vg_throttle vg_throttle;
typedef struct vg_live vg_live;

typedef struct vg_app {
  uv_loop_t *loop;
  vg_config cfg;
  vg_store *store;
  vg_http_server *http;
  vg_tls_ctx *tls;
  vg_events *events;
  vg_static *statics;
  vg_throttle *throttle_user; /* failed logins per account */
  vg_throttle *throttle_addr; /* failed logins per address */
  uint8_t secret_key[32];     /* DATA/secret.key: seals camera passwords (secrets.h) */
  uv_timer_t housekeeping;    /* purges expired sessions and throttle entries */
  uv_signal_t sigint, sigterm;
  struct vg_recorder *recorder; /* camera sessions and segment files (media.c) */
  vg_live *live;                /* live video hubs (live.c) */
  struct vg_playback_cache *playback; /* built recording MP4s shared by requests (playback.c) */
  uv_timer_t disk_timer;        /* the free-space floor */
  uv_timer_t retention_timer;   /* deletes expired recordings (retention.c) */
  bool retention_busy;          /* a retention sweep is deleting files */
  int http_port, https_port, media_port; /* bound ports */
  int media_tls_port;                    /* bound TLS twin of media_port, 0 when off */
  bool stopping;
} vg_app;

typedef struct vg_req {
  vg_app *app;
  vg_http_conn *conn;
  const vg_http_request *http;
  const uint8_t *body;
  size_t body_len;
  char method[16];
  char path[1024]; /* percent-decoded path */
  const char *addr;
  /* Set by authentication. */
  bool authed;
  bool via_cookie;
  vg_user user;
  vg_session session;
  char token_hash[65];
} vg_req;

/* Runs the server until SIGINT/SIGTERM. Returns a process exit code. */
int vg_app_serve(const vg_config *cfg);

/* Creates the data folder if needed and opens the store in it (for serve
 * and the CLI). Prints the reason on failure. */
int vg_app_open_store(const vg_config *cfg, vg_store **out);

/* Router entry, called by the HTTP server for every request. */
void vg_api_dispatch(vg_http_conn *c, const vg_http_request *req, const uint8_t *body,
                     size_t body_len, void *ud);

/* Answers. json is taken. */
void vg_api_json(vg_req *r, int status, json_t *json);
/* 200 {"items", "total"}: a page of a list; items is taken, NULL (out of
 * memory while building it) answers 500. */
void vg_api_list(vg_req *r, json_t *items, int64_t total);
void vg_api_error(vg_req *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void vg_api_no_content(vg_req *r);
/* 405 with an Allow header. */
void vg_api_method_not_allowed(vg_req *r, const char *allow);

/* Reads the body as a JSON object; on failure answers 400/415 itself and
 * returns non-zero. */
int vg_api_body(vg_req *r, json_t **out);
/* Reads limit/offset; on bad values answers 400 and returns non-zero. */
int vg_api_paging(vg_req *r, int64_t *limit, int64_t *offset);
/* Query parameter into out; VG_ENOTFOUND when absent. */
int vg_api_query(vg_req *r, const char *key, char *out, size_t outlen);

/* Authorisation helpers: answer 401/403 themselves and return false. */
bool vg_api_require_user(vg_req *r);
bool vg_api_require_admin(vg_req *r);
bool vg_req_is_admin(const vg_req *r);
/* The request's method is m; GET or HEAD (a HEAD is answered like a GET). */
bool vg_req_method(const vg_req *r, const char *m);
bool vg_req_is_get(const vg_req *r);

/* The public JSON form of a user (never the password hash). */
json_t *vg_user_json(const vg_user *u);
/* Validation shared by the API, setup and the CLI. */
bool vg_username_valid(const char *name, size_t len);
bool vg_role_valid(const char *role);

/* Appends an audit row for the caller of r (or the system when r is NULL).
 * detail is taken (may be NULL). Failures are logged, never fatal. */
void vg_audit(vg_app *app, const vg_req *r, const char *action, const char *target, json_t *detail);
/* Same with explicit actor, for logins where r has no user yet. */
void vg_audit_as(vg_app *app, int64_t user_id, const char *username, const char *addr,
                 const char *action, const char *target, json_t *detail);

/* Handlers by area; sub is the path after the area's prefix ("" or "/12"). */
void vg_auth_handle_login(vg_req *r);
void vg_auth_handle_logout(vg_req *r);
void vg_auth_handle_me(vg_req *r);
void vg_auth_handle_setup(vg_req *r);
/* Authenticates r from bearer header, ?access_token= or cookie. Sets
 * r->authed; never answers. */
void vg_auth_identify(vg_req *r);
void vg_users_handle(vg_req *r, const char *sub);
void vg_audit_handle(vg_req *r, const char *sub);
void vg_events_handle(vg_req *r);
void vg_rooms_handle(vg_req *r, const char *sub);
void vg_cameras_handle(vg_req *r, const char *sub);
void vg_groups_handle(vg_req *r, const char *sub);
/* Saved views of the Observe page, the caller's own (views.c). */
void vg_views_handle(vg_req *r, const char *sub);

/* Shared by the rooms, cameras and groups handlers (rooms.c). */
/* Parses "/ID" or "/ID/rest..." (digits fitting int64); *rest points after
 * the digits ("" or "/..."). */
bool vg_api_parse_id(const char *sub, int64_t *id, const char **rest);
/* vg_api_parse_id that answers 404 itself when sub is not "/ID...". */
bool vg_api_item_id(vg_req *r, const char *sub, int64_t *id, const char **rest);
/* Logs a store failure with its detail and answers 500 "cannot <what>". */
void vg_api_store_error(vg_req *r, const char *what, int rc);
/* Reads an optional string field of at most max bytes. Returns 1 when
 * present (into *out), 0 when absent or null (and required is false);
 * otherwise answers 422 naming the field and returns -1. single_line
 * refuses control characters (names); otherwise only NUL is refused. */
int vg_api_text(vg_req *r, json_t *body, const char *key, bool required, size_t max,
                bool single_line, const char **out);
/* Loads room id when the caller may see it; otherwise answers 404 (also
 * for rooms that exist but are not theirs: their existence is private)
 * or 500, and returns false. */
bool vg_room_load_visible(vg_req *r, int64_t id, vg_room *out);
/* The public JSON form of a camera: never the password, the url without
 * any userinfo; live status from the ingest side. */
json_t *vg_camera_json(vg_app *app, const vg_camera_row *cam);

/* Static files of the web UI (static.c). */
int vg_static_new(const char *root, vg_static **out);
void vg_static_free(vg_static *s);
/* Answers GET/HEAD of a path under root, with ETag/304 and Range/206. */
void vg_static_serve(vg_static *s, vg_http_conn *c, const vg_http_request *req, const char *path);

/* Events channel (events.c). */
int vg_events_new(vg_app *app, vg_events **out);
void vg_events_free(vg_events *e);
/* Sends a user.changed event to admins and to that user. */
void vg_events_user_changed(vg_events *e, const char *action, const vg_user *u);
/* Closes every socket of a user (4001), e.g. on logout or disable; when
 * token_hash is non-NULL only that session's sockets. */
void vg_events_end_sessions(vg_events *e, int64_t user_id, const char *token_hash);
/* Sends {"type": type, ...payload, "at"} to the subscribers allowed to
 * see it: room_id > 0, admins and whoever may see that room;
 * VG_EVENTS_ADMINS (0), admins only; VG_EVENTS_ALL, everyone. payload
 * (an object) is taken. */
#define VG_EVENTS_ADMINS 0
#define VG_EVENTS_ALL (-1)
void vg_events_publish(vg_events *e, const char *type, int64_t room_id, json_t *payload);

/* Login throttling (auth.c). */
int vg_throttle_new(int64_t max, int64_t window_ms, vg_throttle **out);
void vg_throttle_free(vg_throttle *t);
/* Milliseconds until key may try again; 0 when allowed now. */
int64_t vg_throttle_wait(vg_throttle *t, const char *key, int64_t now);
void vg_throttle_fail(vg_throttle *t, const char *key, int64_t now);
void vg_throttle_reset(vg_throttle *t, const char *key);
void vg_throttle_purge(vg_throttle *t, int64_t now);

/* The recorder inside the app (media.c). */
int vg_media_start(vg_app *app);
void vg_media_stop(vg_app *app, void (*cb)(void *ud), void *ud);
/* A camera row was created, updated or deleted: start, restart or stop it. */
void vg_media_camera_changed(vg_app *app, const char *action, const vg_camera_row *cam);
/* A room was changed (enabled, disabled): its cameras follow; 0 = all. */
void vg_media_room_changed(vg_app *app, int64_t room_id);
/* The session settings of a camera's substream (its credentials, the
 * substream URL), for live viewing only. VG_ENOTFOUND: none. */
int vg_media_substream_config(vg_app *app, int64_t camera_id, vg_camera_config *cfg);
/* Adds the live fields (status, error, video, audio, stats) to a camera. */
void vg_media_camera_json(vg_app *app, int64_t camera_id, json_t *j);
/* Points every enabled camera of a room at recording_id (> 0), or stops
 * their session recording (0). not_before: see vg_recorder_start (0 at a
 * start, for pre-roll; the resume time at a resume). */
int vg_media_record(vg_app *app, int64_t room_id, int64_t recording_id, int64_t not_before);
/* Recomputes a track's bytes, end and (when every file is closed) hash. */
void vg_media_track_seal(vg_app *app, int64_t recording_id, int64_t camera_id);
bool vg_media_disk_low(vg_app *app);
/* Deletes a recording's rows (segments, tracks, spans, markers, clips) and
 * audits it as the system with reason; *segs receives its segment rows
 * (malloc'd) so the caller unlinks the files, on or off the loop. */
int vg_media_recording_forget(vg_app *app, const vg_recording *rec, const char *reason,
                              vg_segment **segs, size_t *n);
/* Unlinks the segments' files and their cached thumbnails under data_dir
 * (blocking; a missing file is no error). */
void vg_media_unlink_segments(const char *data_dir, const vg_segment *segs, size_t n);
int64_t vg_media_free_mb(vg_app *app);

/* Live video (live.c): WebSocket /live/{camera_id}; sub is "/{id}". */
int vg_live_new(vg_app *app, vg_live **out);
void vg_live_free(vg_live *l);
void vg_live_handle(vg_req *r, const char *sub);
/* GET /api/v1/cameras/{id}/live: a short-lived signed grant for the live
 * stream of a camera the caller may see. */
void vg_live_grant_handle(vg_req *r, const vg_camera_row *cam);
/* Grants: "<camera>.<user>.<expires_ms>.<hmac>", HMAC-SHA256 under a key
 * derived from the data folder's secret key, so a media server holding
 * the key checks them without the database. */
int vg_live_grant_make(const vg_app *app, int64_t camera_id, int64_t user_id, int64_t expires_at,
                       char *out, size_t outlen);
/* 0 when grant is valid for camera_id now; VG_EAUTH otherwise. */
int vg_live_grant_check(const vg_app *app, const char *grant, int64_t camera_id, int64_t now);
/* The access check of /live and its HLS URIs: a valid ?grant= for the
 * camera, or a caller who may see its room; answers 401/404 itself and
 * returns false. */
bool vg_live_authorize(vg_req *r, int64_t camera_id);
void vg_live_camera_params(vg_live *l, int64_t camera_id);
void vg_live_camera_status(vg_live *l, int64_t camera_id, vg_camera_status status);
void vg_live_camera_frame(vg_live *l, int64_t camera_id, const vg_frame *f);

/* LL-HLS of live cameras (hls.c), fed by the live hub: /live/{id}/<name>
 * where name is index.m3u8, init.mp4, p<msn>.<part>.mp4 or s<msn>.mp4
 * (media/hls.h). Packaging runs while HLS clients ask, and stops when none
 * has asked for a while. */
typedef struct vg_hlsd vg_hlsd;
int vg_hlsd_new(vg_app *app, vg_hlsd **out);
void vg_hlsd_free(vg_hlsd *d);
/* Answers an authorised request for name of camera_id's live HLS. */
void vg_hlsd_handle(vg_hlsd *d, vg_req *r, int64_t camera_id, const char *name);
void vg_hlsd_frame(vg_hlsd *d, int64_t camera_id, const vg_frame *f);
void vg_hlsd_params(vg_hlsd *d, int64_t camera_id);
void vg_hlsd_status(vg_hlsd *d, int64_t camera_id, vg_camera_status status);

/* Recording sessions (recordings.c). rest is "/status" or "/record/..." */
void vg_recordings_room_handle(vg_req *r, const vg_room *room, const char *rest);
void vg_recordings_handle(vg_req *r, const char *sub);
/* GET /recordings/ID/thumbnail.jpg of a recording the caller may see
 * (thumbs.c). */
void vg_thumbs_handle(vg_req *r, const vg_recording *rec);
/* Stops a running recording without a caller (disk floor, shutdown). */
void vg_recordings_stop_by_system(vg_app *app, vg_recording *rec, const char *reason);

#endif
