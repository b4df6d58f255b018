/* store.c - the public store calls: URL choice, argument checks, dispatch.
 *
 * Everything that does not need the database lives here, once, so each back
 * end stays a thin mapping from calls to SQL: which back end a URL means,
 * the bounds on names and fields, and the audit hash chain's serialisation
 * (which must be the same whatever database holds the rows). */
#include "store.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/crypto.h"
#include "base/err.h"
#include "store_impl.h"

static void set_err(char *err, size_t errlen, const char *msg) {
  if (err && errlen) snprintf(err, errlen, "%s", msg);
}

static bool has_prefix(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* True when s has a NUL within size bytes, i.e. it fits a char[size]. */
static bool fits(const char *s, size_t size) { return memchr(s, 0, size) != NULL; }

static bool valid_role(const char *role) {
  return strcmp(role, "admin") == 0 || strcmp(role, "operator") == 0 || strcmp(role, "viewer") == 0;
}

/* A user name is 1..VG_USERNAME_MAX bytes without control characters, so
 * it is safe in logs, headers and the audit serialisation. */
static bool valid_username(const char *name) {
  size_t len = strnlen(name, VG_USERNAME_MAX + 1);
  if (len == 0 || len > VG_USERNAME_MAX) return false;
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f) return false;
  return true;
}

static bool valid_user(const vg_user *u) {
  return valid_username(u->username) && fits(u->role, sizeof u->role) && valid_role(u->role) &&
         fits(u->pwhash, sizeof u->pwhash);
}

int vg_store_open(vg_store **out, const char *url, char *err, size_t errlen) {
  set_err(err, errlen, "");
  if (!out) return VG_EINVAL;
  *out = NULL;
  if (!url || !*url) {
    set_err(err, errlen, "empty database URL");
    return VG_ECONFIG;
  }
  if (has_prefix(url, "postgres://") || has_prefix(url, "postgresql://")) {
    set_err(err, errlen, "PostgreSQL back end not built yet");
    return VG_ECONFIG;
  }
  const char *target = url;
  if (has_prefix(url, "sqlite:")) {
    target = url + strlen("sqlite:");
    /* "sqlite:///var/lib/vigil.db" names the same file as "sqlite:/var/...". */
    if (has_prefix(target, "//")) target += 2;
  } else if (strstr(url, "://")) {
    set_err(err, errlen, "unknown database URL scheme");
    return VG_ECONFIG;
  }
  if (!*target) {
    set_err(err, errlen, "empty database path");
    return VG_ECONFIG;
  }
  return vg_store_sqlite.open(out, target, err, errlen);
}

void vg_store_close(vg_store *s) {
  if (s) s->be->close(s);
}

int vg_store_schema_version(vg_store *s) { return s->be->schema_version(s); }

const char *vg_store_errmsg(const vg_store *s) { return s ? s->errmsg : ""; }

const char *vg_store_backend_name(const vg_store *s) { return s->be->name; }

int vg_store_user_create(vg_store *s, vg_user *u) {
  if (!u || !valid_user(u)) return VG_EINVAL;
  return s->be->user_create(s, u);
}

int vg_store_user_get(vg_store *s, int64_t id, vg_user *out) {
  if (!out) return VG_EINVAL;
  if (id <= 0) return VG_ENOTFOUND;
  return s->be->user_get(s, id, out);
}

int vg_store_user_by_name(vg_store *s, const char *name, vg_user *out) {
  if (!name || !out) return VG_EINVAL;
  if (!valid_username(name)) return VG_ENOTFOUND;
  return s->be->user_by_name(s, name, out);
}

int vg_store_user_update(vg_store *s, const vg_user *u) {
  if (!u || !valid_user(u)) return VG_EINVAL;
  if (u->id <= 0) return VG_ENOTFOUND;
  return s->be->user_update(s, u);
}

int vg_store_user_delete(vg_store *s, int64_t id) {
  if (id <= 0) return VG_ENOTFOUND;
  return s->be->user_delete(s, id);
}

int vg_store_user_count(vg_store *s, int64_t *count) {
  if (!count) return VG_EINVAL;
  return s->be->user_count(s, count);
}

int vg_store_admin_count(vg_store *s, int64_t *count) {
  if (!count) return VG_EINVAL;
  return s->be->admin_count(s, count);
}

int vg_store_user_list(vg_store *s, int64_t limit, int64_t offset, vg_user **items, size_t *n,
                       int64_t *total) {
  if (!items || !n) return VG_EINVAL;
  *items = NULL;
  *n = 0;
  if (limit < 0 || offset < 0) return VG_EINVAL;
  if (limit > VG_STORE_LIST_MAX) limit = VG_STORE_LIST_MAX;
  int64_t dummy;
  return s->be->user_list(s, limit, offset, items, n, total ? total : &dummy);
}

static bool valid_kind(const char *kind) {
  return strcmp(kind, "cookie") == 0 || strcmp(kind, "bearer") == 0 || strcmp(kind, "api") == 0;
}

static bool valid_token_hash(const char *h) {
  return h && strnlen(h, VG_SHA256_HEX_LEN + 1) == VG_SHA256_HEX_LEN;
}

int vg_store_session_create(vg_store *s, vg_session *sess) {
  if (!sess || sess->user_id <= 0 || !fits(sess->token_hash, sizeof sess->token_hash) ||
      !valid_token_hash(sess->token_hash) || !fits(sess->csrf, sizeof sess->csrf) ||
      !fits(sess->kind, sizeof sess->kind) || !valid_kind(sess->kind) ||
      !fits(sess->addr, sizeof sess->addr))
    return VG_EINVAL;
  return s->be->session_create(s, sess);
}

int vg_store_session_get(vg_store *s, const char *token_hash, int64_t now, vg_session *out) {
  if (!out) return VG_EINVAL;
  if (!valid_token_hash(token_hash)) return VG_ENOTFOUND;
  return s->be->session_get(s, token_hash, now, out);
}

int vg_store_session_delete(vg_store *s, const char *token_hash) {
  if (!token_hash) return VG_EINVAL;
  if (!valid_token_hash(token_hash)) return 0; /* no such row can exist */
  return s->be->session_delete(s, token_hash);
}

int vg_store_session_delete_user(vg_store *s, int64_t user_id) {
  return s->be->session_delete_user(s, user_id);
}

int vg_store_session_purge(vg_store *s, int64_t now) { return s->be->session_purge(s, now); }

bool vg_store_copy(char *dst, size_t size, const char *src) {
  if (!size) return false;
  if (!src) src = "";
  size_t len = strnlen(src, size);
  if (len < size) {
    memcpy(dst, src, len + 1);
    return true;
  }
  len = size - 1;
  /* Do not leave half a UTF-8 sequence: back up over continuation bytes,
   * then drop the lead byte they belonged to. */
  size_t cut = len;
  while (cut > 0 && ((unsigned char)src[cut] & 0xC0) == 0x80) cut--;
  memcpy(dst, src, cut);
  dst[cut] = 0;
  return false;
}

int vg_store_audit_append(vg_store *s, int64_t at, int64_t user_id, const char *username,
                          const char *addr, const char *action, const char *target,
                          const char *detail_json) {
  if (!action || !*action || user_id < 0) return VG_EINVAL;
  if (!detail_json || !*detail_json) detail_json = "{}";
  if (strnlen(detail_json, VG_AUDIT_DETAIL_MAX + 1) > VG_AUDIT_DETAIL_MAX) return VG_ETOOBIG;

  /* Long names and addresses are cut, not refused: a failed login with an
   * absurd user name must still leave a trace. */
  vg_audit_entry e = {0};
  e.at = at;
  e.user_id = user_id;
  vg_store_copy(e.username, sizeof e.username, username);
  vg_store_copy(e.addr, sizeof e.addr, addr);
  vg_store_copy(e.action, sizeof e.action, action);
  vg_store_copy(e.target, sizeof e.target, target);
  e.detail = (char *)detail_json;
  return s->be->audit_append(s, &e);
}

int vg_store_audit_list(vg_store *s, int64_t limit, int64_t offset, vg_audit_entry **items,
                        size_t *n, int64_t *total) {
  if (!items || !n) return VG_EINVAL;
  *items = NULL;
  *n = 0;
  if (limit < 0 || offset < 0) return VG_EINVAL;
  if (limit > VG_STORE_LIST_MAX) limit = VG_STORE_LIST_MAX;
  int64_t dummy;
  return s->be->audit_list(s, limit, offset, items, n, total ? total : &dummy);
}

void vg_audit_entries_free(vg_audit_entry *items, size_t n) {
  if (!items) return;
  for (size_t i = 0; i < n; i++) free(items[i].detail);
  free(items);
}

int vg_store_audit_verify(vg_store *s, int64_t *bad_id) {
  int64_t dummy;
  if (!bad_id) bad_id = &dummy;
  *bad_id = 0;
  return s->be->audit_verify(s, bad_id);
}

static int append_field(vg_str *buf, const char *text) {
  int rc = vg_str_append(buf, "\n", 1);
  for (const char *p = text ? text : ""; !rc && *p; p++) {
    if (*p == '\\')
      rc = vg_str_append(buf, "\\\\", 2);
    else if (*p == '\n')
      rc = vg_str_append(buf, "\\n", 2);
    else
      rc = vg_str_append(buf, p, 1);
  }
  return rc;
}

int vg_store_audit_hash(const char *prev_hash, int64_t id, int64_t at, int64_t user_id,
                        const char *username, const char *addr, const char *action,
                        const char *target, const char *detail, char out[65]) {
  vg_str buf = VG_STR_INIT;
  int rc = vg_str_appends(&buf, prev_hash ? prev_hash : "");
  if (!rc)
    rc =
        vg_str_printf(&buf, "\n%lld\n%lld\n%lld", (long long)id, (long long)at, (long long)user_id);
  if (!rc) rc = append_field(&buf, username);
  if (!rc) rc = append_field(&buf, addr);
  if (!rc) rc = append_field(&buf, action);
  if (!rc) rc = append_field(&buf, target);
  if (!rc) rc = append_field(&buf, detail);
  if (rc) {
    vg_str_free(&buf);
    return VG_ENOMEM;
  }
  uint8_t digest[32];
  vg_sha256(buf.data, buf.len, digest);
  vg_hex(digest, sizeof digest, out);
  vg_str_free(&buf);
  return 0;
}

int vg_store_fail(vg_store *s, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->errmsg, sizeof s->errmsg, fmt, ap);
  va_end(ap);
  return rc;
}

/* ---- rooms, cameras, groups, rights ---- */

/* A name is 1..VG_NAME_MAX bytes without control characters. */
static bool valid_name(const char *name) {
  size_t len = strnlen(name, VG_NAME_MAX + 1);
  if (len == 0 || len > VG_NAME_MAX) return false;
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f) return false;
  return true;
}

static bool valid_room(const vg_room *r) {
  return valid_name(r->name) && fits(r->description, sizeof r->description);
}

static bool valid_camera(const vg_camera_row *c) {
  return c->room_id > 0 && valid_name(c->name) && fits(c->url, sizeof c->url) && c->url[0] &&
         fits(c->substream_url, sizeof c->substream_url) && fits(c->username, sizeof c->username) &&
         c->password_enc_len <= sizeof c->password_enc && fits(c->transport, sizeof c->transport) &&
         (strcmp(c->transport, "tcp") == 0 || strcmp(c->transport, "udp") == 0);
}

static bool valid_group(const vg_group *g) {
  return valid_name(g->name) && fits(g->description, sizeof g->description);
}

/* Clamps list bounds the way every list call does. */
static int list_bounds(int64_t *limit, int64_t offset) {
  if (*limit < 0 || offset < 0) return VG_EINVAL;
  if (*limit > VG_STORE_LIST_MAX) *limit = VG_STORE_LIST_MAX;
  return 0;
}

int vg_store_room_create(vg_store *s, vg_room *r) {
  if (!r || !valid_room(r)) return VG_EINVAL;
  return s->be->room_create(s, r);
}

int vg_store_room_get(vg_store *s, int64_t id, vg_room *out) {
  if (!out) return VG_EINVAL;
  if (id <= 0) return VG_ENOTFOUND;
  return s->be->room_get(s, id, out);
}

int vg_store_room_update(vg_store *s, const vg_room *r) {
  if (!r || !valid_room(r)) return VG_EINVAL;
  if (r->id <= 0) return VG_ENOTFOUND;
  return s->be->room_update(s, r);
}

int vg_store_room_delete(vg_store *s, int64_t id) {
  if (id <= 0) return VG_ENOTFOUND;
  return s->be->room_delete(s, id);
}

int vg_store_room_list(vg_store *s, int64_t user_id, int64_t limit, int64_t offset, vg_room **items,
                       size_t *n, int64_t *total) {
  if (!items || !n) return VG_EINVAL;
  *items = NULL;
  *n = 0;
  if (user_id < 0 || list_bounds(&limit, offset)) return VG_EINVAL;
  int64_t dummy;
  return s->be->room_list(s, user_id, limit, offset, items, n, total ? total : &dummy);
}

int vg_store_room_visible(vg_store *s, int64_t room_id, int64_t user_id, bool *visible) {
  if (!visible) return VG_EINVAL;
  *visible = false;
  if (room_id <= 0 || user_id <= 0) return 0;
  return s->be->room_visible(s, room_id, user_id, visible);
}

int vg_store_room_recording_count(vg_store *s, int64_t room_id, int64_t *count) {
  if (!count) return VG_EINVAL;
  *count = 0;
  if (room_id <= 0) return 0;
  return s->be->room_recording_count(s, room_id, count);
}

int vg_store_camera_create(vg_store *s, vg_camera_row *c) {
  if (!c || !valid_camera(c)) return VG_EINVAL;
  return s->be->camera_create(s, c);
}

int vg_store_camera_get(vg_store *s, int64_t id, vg_camera_row *out) {
  if (!out) return VG_EINVAL;
  if (id <= 0) return VG_ENOTFOUND;
  return s->be->camera_get(s, id, out);
}

int vg_store_camera_update(vg_store *s, const vg_camera_row *c) {
  if (!c || !valid_camera(c)) return VG_EINVAL;
  if (c->id <= 0) return VG_ENOTFOUND;
  return s->be->camera_update(s, c);
}

int vg_store_camera_delete(vg_store *s, int64_t id) {
  if (id <= 0) return VG_ENOTFOUND;
  return s->be->camera_delete(s, id);
}

int vg_store_camera_list(vg_store *s, int64_t room_id, vg_camera_row **items, size_t *n) {
  if (!items || !n) return VG_EINVAL;
  *items = NULL;
  *n = 0;
  if (room_id < 0) return VG_EINVAL;
  return s->be->camera_list(s, room_id, items, n);
}

int vg_store_group_create(vg_store *s, vg_group *g) {
  if (!g || !valid_group(g)) return VG_EINVAL;
  return s->be->group_create(s, g);
}

int vg_store_group_get(vg_store *s, int64_t id, vg_group *out) {
  if (!out) return VG_EINVAL;
  if (id <= 0) return VG_ENOTFOUND;
  return s->be->group_get(s, id, out);
}

int vg_store_group_update(vg_store *s, const vg_group *g) {
  if (!g || !valid_group(g)) return VG_EINVAL;
  if (g->id <= 0) return VG_ENOTFOUND;
  return s->be->group_update(s, g);
}

int vg_store_group_delete(vg_store *s, int64_t id) {
  if (id <= 0) return VG_ENOTFOUND;
  return s->be->group_delete(s, id);
}

int vg_store_group_list(vg_store *s, int64_t limit, int64_t offset, vg_group **items, size_t *n,
                        int64_t *total) {
  if (!items || !n) return VG_EINVAL;
  *items = NULL;
  *n = 0;
  if (list_bounds(&limit, offset)) return VG_EINVAL;
  int64_t dummy;
  return s->be->group_list(s, limit, offset, items, n, total ? total : &dummy);
}

int vg_store_group_member_add(vg_store *s, int64_t group_id, int64_t user_id) {
  if (group_id <= 0 || user_id <= 0) return VG_ENOTFOUND;
  return s->be->group_member_add(s, group_id, user_id);
}

int vg_store_group_member_remove(vg_store *s, int64_t group_id, int64_t user_id) {
  if (group_id <= 0 || user_id <= 0) return VG_ENOTFOUND;
  return s->be->group_member_remove(s, group_id, user_id);
}

int vg_store_group_members(vg_store *s, int64_t group_id, int64_t limit, int64_t offset,
                           vg_user **items, size_t *n, int64_t *total) {
  if (!items || !n) return VG_EINVAL;
  *items = NULL;
  *n = 0;
  if (list_bounds(&limit, offset)) return VG_EINVAL;
  int64_t dummy;
  if (!total) total = &dummy;
  *total = 0;
  if (group_id <= 0) return 0;
  return s->be->group_members(s, group_id, limit, offset, items, n, total);
}

int vg_store_access_add(vg_store *s, vg_room_access *a) {
  if (!a || a->room_id <= 0 || a->user_id < 0 || a->group_id < 0 ||
      (a->user_id > 0) == (a->group_id > 0))
    return VG_EINVAL;
  return s->be->access_add(s, a);
}

int vg_store_access_get(vg_store *s, int64_t id, vg_room_access *out) {
  if (!out) return VG_EINVAL;
  if (id <= 0) return VG_ENOTFOUND;
  return s->be->access_get(s, id, out);
}

int vg_store_access_find(vg_store *s, int64_t room_id, int64_t user_id, int64_t group_id,
                         vg_room_access *out) {
  if (!out || user_id < 0 || group_id < 0 || (user_id > 0) == (group_id > 0)) return VG_EINVAL;
  if (room_id <= 0) return VG_ENOTFOUND;
  return s->be->access_find(s, room_id, user_id, group_id, out);
}

int vg_store_access_delete(vg_store *s, int64_t id) {
  if (id <= 0) return VG_ENOTFOUND;
  return s->be->access_delete(s, id);
}

int vg_store_access_list(vg_store *s, int64_t room_id, vg_room_access **items, size_t *n) {
  if (!items || !n) return VG_EINVAL;
  *items = NULL;
  *n = 0;
  if (room_id <= 0) return 0;
  return s->be->access_list(s, room_id, items, n);
}

/* ---- recordings, tracks, spans, segments, markers ---- */

static bool valid_recording_state(const char *state) {
  return strcmp(state, "recording") == 0 || strcmp(state, "paused") == 0 ||
         strcmp(state, "stopped") == 0;
}

static bool valid_segment_state(const char *state) {
  return strcmp(state, "open") == 0 || strcmp(state, "closed") == 0 ||
         strcmp(state, "repaired") == 0;
}

static bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A digest is "" (not known yet) or 64 hex digits. */
static bool valid_sha256(const char *h, size_t size) {
  if (!fits(h, size)) return false;
  size_t len = strlen(h);
  if (len == 0) return true;
  if (len != VG_SHA256_HEX_LEN) return false;
  for (size_t i = 0; i < len; i++)
    if (!is_hex(h[i])) return false;
  return true;
}

/* A marker colour is "" or "#rrggbb". */
static bool valid_color(const char *c, size_t size) {
  if (!fits(c, size)) return false;
  if (!c[0]) return true;
  if (c[0] != '#' || strlen(c) != 7) return false;
  for (int i = 1; i < 7; i++)
    if (!is_hex(c[i])) return false;
  return true;
}

/* The fields vg_store_recording_update writes. */
static bool valid_recording_fields(const vg_recording *r) {
  return fits(r->title, sizeof r->title) && fits(r->state, sizeof r->state) &&
         valid_recording_state(r->state) && r->ended_at >= 0 && r->retention_until >= 0;
}

static bool valid_segment(const vg_segment *g) {
  return g->camera_id > 0 && g->recording_id >= 0 && fits(g->path, sizeof g->path) && g->path[0] &&
         g->start_ms >= 0 && g->end_ms >= 0 && g->bytes >= 0 && g->frames >= 0 &&
         valid_sha256(g->sha256, sizeof g->sha256) && fits(g->state, sizeof g->state) &&
         valid_segment_state(g->state);
}

int vg_store_recording_create(vg_store *s, vg_recording *r) {
  if (!r || r->room_id <= 0 || r->author_id < 0 || r->started_at < 0 ||
      !fits(r->author_name, sizeof r->author_name) || !valid_recording_fields(r))
    return VG_EINVAL;
  return s->be->recording_create(s, r);
}

int vg_store_recording_get(vg_store *s, int64_t id, vg_recording *out) {
  if (!out) return VG_EINVAL;
  if (id <= 0) return VG_ENOTFOUND;
  return s->be->recording_get(s, id, out);
}

int vg_store_recording_update(vg_store *s, const vg_recording *r) {
  if (!r || !valid_recording_fields(r)) return VG_EINVAL;
  if (r->id <= 0) return VG_ENOTFOUND;
  return s->be->recording_update(s, r);
}

int vg_store_recording_active(vg_store *s, int64_t room_id, vg_recording *out) {
  if (!out) return VG_EINVAL;
  if (room_id <= 0) return VG_ENOTFOUND;
  return s->be->recording_active(s, room_id, out);
}

int vg_store_recording_list_active(vg_store *s, vg_recording **items, size_t *n) {
  if (!items || !n) return VG_EINVAL;
  *items = NULL;
  *n = 0;
  return s->be->recording_list_active(s, items, n);
}

int vg_store_recording_list(vg_store *s, const vg_recording_filter *f, int64_t limit,
                            int64_t offset, vg_recording **items, size_t *n, int64_t *total) {
  if (!items || !n) return VG_EINVAL;
  *items = NULL;
  *n = 0;
  int64_t dummy;
  if (!total) total = &dummy;
  *total = 0;
  vg_recording_filter none = {0};
  if (!f) f = &none;
  if (list_bounds(&limit, offset) || f->room_id < 0 || f->user_id < 0 || f->from < 0 || f->to < 0)
    return VG_EINVAL;
  /* A search longer than any title is a caller's mistake, not a scan. */
  if (f->q && strnlen(f->q, VG_TITLE_MAX + 1) > VG_TITLE_MAX) return VG_EINVAL;
  if (f->author && strnlen(f->author, VG_USERNAME_MAX + 1) > VG_USERNAME_MAX) return VG_EINVAL;
  if (f->marker && strnlen(f->marker, VG_NOTE_MAX + 1) > VG_NOTE_MAX) return VG_EINVAL;
  return s->be->recording_list(s, f, limit, offset, items, n, total);
}

int vg_store_recording_list_expired(vg_store *s, int64_t now, int64_t limit, vg_recording **items,
                                    size_t *n) {
  if (!items || !n) return VG_EINVAL;
  *items = NULL;
  *n = 0;
  if (list_bounds(&limit, 0)) return VG_EINVAL;
  if (limit == 0) return 0;
  return s->be->recording_list_expired(s, now, limit, items, n);
}

int vg_store_recording_delete(vg_store *s, int64_t id) {
  if (id <= 0) return VG_ENOTFOUND;
  return s->be->recording_delete(s, id);
}

int vg_store_track_put(vg_store *s, vg_track *t) {
  if (!t || t->recording_id <= 0 || t->camera_id <= 0 ||
      !fits(t->camera_name, sizeof t->camera_name) || t->started_at < 0 || t->ended_at < 0 ||
      t->bytes < 0 || !valid_sha256(t->sha256, sizeof t->sha256))
    return VG_EINVAL;
  return s->be->track_put(s, t);
}

int vg_store_track_list(vg_store *s, int64_t recording_id, vg_track **items, size_t *n) {
  if (!items || !n) return VG_EINVAL;
  *items = NULL;
  *n = 0;
  if (recording_id <= 0) return 0;
  return s->be->track_list(s, recording_id, items, n);
}

int vg_store_span_open(vg_store *s, int64_t recording_id, int64_t start_ms) {
  if (start_ms < 0) return VG_EINVAL;
  if (recording_id <= 0) return VG_ENOTFOUND;
  return s->be->span_open(s, recording_id, start_ms);
}

int vg_store_span_close(vg_store *s, int64_t recording_id, int64_t end_ms) {
  if (end_ms < 0) return VG_EINVAL;
  if (recording_id <= 0) return VG_ENOTFOUND;
  return s->be->span_close(s, recording_id, end_ms);
}

int vg_store_span_list(vg_store *s, int64_t recording_id, vg_span **items, size_t *n) {
  if (!items || !n) return VG_EINVAL;
  *items = NULL;
  *n = 0;
  if (recording_id <= 0) return 0;
  return s->be->span_list(s, recording_id, items, n);
}

int vg_store_segment_create(vg_store *s, vg_segment *g) {
  if (!g) return VG_EINVAL;
  /* A new file is open unless the caller says otherwise. */
  if (fits(g->state, sizeof g->state) && !g->state[0]) snprintf(g->state, sizeof g->state, "open");
  if (!valid_segment(g)) return VG_EINVAL;
  return s->be->segment_create(s, g);
}

int vg_store_segment_update(vg_store *s, const vg_segment *g) {
  if (!g || !valid_segment(g)) return VG_EINVAL;
  if (g->id <= 0) return VG_ENOTFOUND;
  return s->be->segment_update(s, g);
}

int vg_store_segment_get(vg_store *s, int64_t id, vg_segment *out) {
  if (!out) return VG_EINVAL;
  if (id <= 0) return VG_ENOTFOUND;
  return s->be->segment_get(s, id, out);
}

int vg_store_segment_list(vg_store *s, int64_t recording_id, int64_t camera_id, vg_segment **items,
                          size_t *n) {
  if (!items || !n) return VG_EINVAL;
  *items = NULL;
  *n = 0;
  if (recording_id < 0 || camera_id < 0) return VG_EINVAL;
  if (recording_id == 0) return 0;
  return s->be->segment_list(s, recording_id, camera_id, items, n);
}

int vg_store_segment_list_open(vg_store *s, vg_segment **items, size_t *n) {
  if (!items || !n) return VG_EINVAL;
  *items = NULL;
  *n = 0;
  return s->be->segment_list_open(s, items, n);
}

int vg_store_segment_delete(vg_store *s, int64_t id) {
  if (id <= 0) return VG_ENOTFOUND;
  return s->be->segment_delete(s, id);
}

int vg_store_marker_create(vg_store *s, vg_marker *m) {
  if (!m) return VG_EINVAL;
  size_t label_len = strnlen(m->label, sizeof m->label);
  if (label_len == 0 || label_len > VG_LABEL_MAX || !valid_color(m->color, sizeof m->color) ||
      !fits(m->note, sizeof m->note) || !fits(m->author_name, sizeof m->author_name) ||
      m->author_id < 0 || !isfinite(m->time_s) || m->time_s < 0)
    return VG_EINVAL;
  if (m->recording_id <= 0) return VG_ENOTFOUND;
  return s->be->marker_create(s, m);
}

int vg_store_marker_list(vg_store *s, int64_t recording_id, vg_marker **items, size_t *n) {
  if (!items || !n) return VG_EINVAL;
  *items = NULL;
  *n = 0;
  if (recording_id <= 0) return 0;
  return s->be->marker_list(s, recording_id, items, n);
}

int vg_store_marker_get(vg_store *s, int64_t id, vg_marker *out) {
  if (!out) return VG_EINVAL;
  if (id <= 0) return VG_ENOTFOUND;
  return s->be->marker_get(s, id, out);
}

int vg_store_marker_update(vg_store *s, vg_marker *m) {
  if (!m) return VG_EINVAL;
  size_t label_len = strnlen(m->label, sizeof m->label);
  if (label_len == 0 || label_len > VG_LABEL_MAX || !valid_color(m->color, sizeof m->color) ||
      !fits(m->note, sizeof m->note) || !isfinite(m->time_s) || m->time_s < 0)
    return VG_EINVAL;
  if (m->id <= 0) return VG_ENOTFOUND;
  return s->be->marker_update(s, m);
}

int vg_store_marker_delete(vg_store *s, int64_t id) {
  if (id <= 0) return VG_ENOTFOUND;
  return s->be->marker_delete(s, id);
}

int vg_store_marker_count(vg_store *s, int64_t recording_id, int64_t *count) {
  if (!count) return VG_EINVAL;
  *count = 0;
  if (recording_id <= 0) return 0;
  return s->be->marker_count(s, recording_id, count);
}

/* ---- saved views ---- */

static bool valid_layout(const char *layout, size_t size) {
  if (!fits(layout, size)) return false;
  return strcmp(layout, "1") == 0 || strcmp(layout, "2x2") == 0 || strcmp(layout, "3x3") == 0 ||
         strcmp(layout, "4x4") == 0;
}

/* A view names itself, has a known layout and at most
 * VG_VIEW_CAMERAS_MAX cameras, each a positive id given once. */
static bool valid_view(const vg_view *v) {
  if (!valid_name(v->name) || !valid_layout(v->layout, sizeof v->layout) ||
      v->ncameras > VG_VIEW_CAMERAS_MAX)
    return false;
  for (size_t i = 0; i < v->ncameras; i++) {
    if (v->camera_ids[i] <= 0) return false;
    for (size_t j = 0; j < i; j++)
      if (v->camera_ids[j] == v->camera_ids[i]) return false;
  }
  return true;
}

int vg_store_view_create(vg_store *s, vg_view *v) {
  if (!v || !valid_view(v)) return VG_EINVAL;
  if (v->user_id <= 0) return VG_ENOTFOUND;
  return s->be->view_create(s, v);
}

int vg_store_view_get(vg_store *s, int64_t id, vg_view *out) {
  if (!out) return VG_EINVAL;
  if (id <= 0) return VG_ENOTFOUND;
  return s->be->view_get(s, id, out);
}

int vg_store_view_update(vg_store *s, const vg_view *v) {
  if (!v || !valid_view(v)) return VG_EINVAL;
  if (v->id <= 0) return VG_ENOTFOUND;
  return s->be->view_update(s, v);
}

int vg_store_view_delete(vg_store *s, int64_t id) {
  if (id <= 0) return VG_ENOTFOUND;
  return s->be->view_delete(s, id);
}

int vg_store_view_list(vg_store *s, int64_t user_id, int64_t limit, int64_t offset, vg_view **items,
                       size_t *n, int64_t *total) {
  if (!items || !n) return VG_EINVAL;
  *items = NULL;
  *n = 0;
  int64_t dummy;
  if (!total) total = &dummy;
  *total = 0;
  if (list_bounds(&limit, offset)) return VG_EINVAL;
  if (user_id <= 0) return 0;
  return s->be->view_list(s, user_id, limit, offset, items, n, total);
}

/* ---- clips and retention ---- */

static bool valid_clip(const vg_clip *c) {
  return isfinite(c->from_s) && isfinite(c->to_s) && c->from_s >= 0 && c->to_s > c->from_s &&
         fits(c->title, sizeof c->title) && fits(c->author_name, sizeof c->author_name) &&
         c->author_id >= 0;
}

int vg_store_clip_create(vg_store *s, vg_clip *c) {
  if (!c || !valid_clip(c)) return VG_EINVAL;
  if (c->recording_id <= 0) return VG_ENOTFOUND;
  return s->be->clip_create(s, c);
}

int vg_store_clip_get(vg_store *s, int64_t id, vg_clip *out) {
  if (!out) return VG_EINVAL;
  if (id <= 0) return VG_ENOTFOUND;
  return s->be->clip_get(s, id, out);
}

int vg_store_clip_update(vg_store *s, vg_clip *c) {
  if (!c || !valid_clip(c)) return VG_EINVAL;
  if (c->id <= 0) return VG_ENOTFOUND;
  return s->be->clip_update(s, c);
}

int vg_store_clip_delete(vg_store *s, int64_t id) {
  if (id <= 0) return VG_ENOTFOUND;
  return s->be->clip_delete(s, id);
}

int vg_store_clip_list(vg_store *s, int64_t recording_id, vg_clip **items, size_t *n) {
  if (!items || !n) return VG_EINVAL;
  *items = NULL;
  *n = 0;
  if (recording_id <= 0) return 0;
  return s->be->clip_list(s, recording_id, items, n);
}

int vg_store_retention_get(vg_store *s, int64_t recording_id, vg_retention *out) {
  if (!out) return VG_EINVAL;
  if (recording_id <= 0) return VG_ENOTFOUND;
  return s->be->retention_get(s, recording_id, out);
}

int vg_store_retention_set(vg_store *s, int64_t recording_id, const vg_retention *r) {
  if (!r || !fits(r->mode, sizeof r->mode)) return VG_EINVAL;
  if (strcmp(r->mode, "inherit") && strcmp(r->mode, "days") && strcmp(r->mode, "until") &&
      strcmp(r->mode, "forever"))
    return VG_EINVAL;
  if ((strcmp(r->mode, "days") == 0 && r->days < 0) ||
      (strcmp(r->mode, "until") == 0 && r->until <= 0))
    return VG_EINVAL;
  if (recording_id <= 0) return VG_ENOTFOUND;
  return s->be->retention_set(s, recording_id, r);
}

int vg_store_room_retention_get(vg_store *s, int64_t room_id, int64_t *days) {
  if (!days) return VG_EINVAL;
  if (room_id <= 0) return VG_ENOTFOUND;
  return s->be->room_retention_get(s, room_id, days);
}

int vg_store_room_retention_set(vg_store *s, int64_t room_id, int64_t days) {
  if (room_id <= 0) return VG_ENOTFOUND;
  return s->be->room_retention_set(s, room_id, days < 0 ? -1 : days);
}

int vg_store_recording_list_expired_kept(vg_store *s, int64_t now, int64_t limit,
                                         vg_recording **items, size_t *n) {
  if (!items || !n) return VG_EINVAL;
  *items = NULL;
  *n = 0;
  if (list_bounds(&limit, 0)) return VG_EINVAL;
  if (limit == 0) return 0;
  return s->be->recording_list_expired_kept(s, now, limit, items, n);
}
