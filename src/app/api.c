/* api.c - the router of /api/v1 and the helpers every handler answers
 * with. Requests outside /api/ and /live/ are static files of the UI. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app/app.h"
#include "app/review.h"
#include "base/crypto.h"
#include "base/err.h"
#include "base/json.h"
#include "base/log.h"
#include "net/http_parser.h"

#define JSON_TYPE "application/json"
#define API_HEADERS "Cache-Control: no-store\r\n"
#define PAGE_LIMIT_DEFAULT 100
#define PAGE_LIMIT_MAX 500

void vg_api_json(vg_req *r, int status, json_t *json) {
  vg_buf *b = vg_json_to_buf(json);
  json_decref(json);
  if (!b) {
    vg_http_respond_mem(r->conn, 500, JSON_TYPE, API_HEADERS,
                        "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}", 54);
    return;
  }
  vg_http_respond(r->conn, status, JSON_TYPE, API_HEADERS, b);
}

static void error_with_headers(vg_req *r, int status, const char *headers, const char *code,
                               const char *message) {
  json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message);
  vg_buf *b = vg_json_to_buf(j);
  json_decref(j);
  char h[512];
  snprintf(h, sizeof h, "%s%s", API_HEADERS, headers ? headers : "");
  vg_http_respond(r->conn, status, JSON_TYPE, h, b);
}

void vg_api_list(vg_req *r, json_t *items, int64_t total) {
  json_t *out = items ? json_pack("{so sI}", "items", items, "total", (json_int_t)total) : NULL;
  if (!out) {
    vg_api_error(r, 500, "internal", "out of memory");
    return;
  }
  vg_api_json(r, 200, out);
}

void vg_api_error(vg_req *r, int status, const char *code, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  const char *extra = status == 401 ? "WWW-Authenticate: Bearer realm=\"vigil\"\r\n" : NULL;
  error_with_headers(r, status, extra, code, msg);
}

void vg_api_no_content(vg_req *r) { vg_http_respond(r->conn, 204, NULL, API_HEADERS, NULL); }

void vg_api_method_not_allowed(vg_req *r, const char *allow) {
  char h[128];
  snprintf(h, sizeof h, "Allow: %s\r\n", allow);
  char msg[160];
  snprintf(msg, sizeof msg, "%s is not allowed here; use %s", r->method, allow);
  error_with_headers(r, 405, h, "method_not_allowed", msg);
}

int vg_api_body(vg_req *r, json_t **out) {
  const vg_http_header *ct = vg_http_find_header(r->http, "Content-Type");
  /* HTML forms can post these cross-site without a preflight: never take
   * them as JSON. */
  if (ct && ((ct->value_len >= 33 &&
              strncasecmp(ct->value, "application/x-www-form-urlencoded", 33) == 0) ||
             (ct->value_len >= 10 && strncasecmp(ct->value, "multipart/", 10) == 0))) {
    vg_api_error(r, 415, "unsupported_media_type", "the body must be application/json");
    return VG_EINVAL;
  }
  char err[256];
  if (vg_json_parse_object(r->body ? (const char *)r->body : "", r->body_len, out, err,
                           sizeof err)) {
    vg_api_error(r, 400, "malformed_json", "%s", err);
    return VG_EINVAL;
  }
  return 0;
}

int vg_api_query(vg_req *r, const char *key, char *out, size_t outlen) {
  if (!r->http->query) return VG_ENOTFOUND;
  int n = vg_http_query_get(r->http->query, r->http->query_len, key, out, outlen);
  return n < 0 ? n : 0;
}

static int query_int(vg_req *r, const char *key, int64_t lo, int64_t hi, int64_t *out) {
  char v[32];
  int rc = vg_api_query(r, key, v, sizeof v);
  if (rc == VG_ENOTFOUND) return 0;
  char *end = NULL;
  long long x = rc == 0 ? strtoll(v, &end, 10) : 0;
  if (rc || !v[0] || *end || x < lo || x > hi) {
    vg_api_error(r, 400, "invalid_parameter", "%s must be a whole number from %lld to %lld", key,
                 (long long)lo, (long long)hi);
    return VG_EINVAL;
  }
  *out = x;
  return 0;
}

int vg_api_paging(vg_req *r, int64_t *limit, int64_t *offset) {
  *limit = PAGE_LIMIT_DEFAULT;
  *offset = 0;
  if (query_int(r, "limit", 1, PAGE_LIMIT_MAX, limit)) return VG_EINVAL;
  if (query_int(r, "offset", 0, INT64_MAX / 2, offset)) return VG_EINVAL;
  return 0;
}

bool vg_api_item_id(vg_req *r, const char *sub, int64_t *id, const char **rest) {
  if (vg_api_parse_id(sub, id, rest)) return true;
  vg_api_error(r, 404, "not_found", "no such route");
  return false;
}

void vg_api_store_error(vg_req *r, const char *what, int rc) {
  vg_log_error("store: %s: %s (%s)", what, vg_strerror(rc), vg_store_errmsg(r->app->store));
  vg_api_error(r, 500, "internal", "cannot %s", what);
}

bool vg_api_require_user(vg_req *r) {
  if (r->authed) return true;
  vg_api_error(r, 401, "unauthorized", "sign in first");
  return false;
}

bool vg_req_method(const vg_req *r, const char *m) { return strcmp(r->method, m) == 0; }

bool vg_req_is_get(const vg_req *r) { return vg_req_method(r, "GET") || vg_req_method(r, "HEAD"); }

bool vg_req_is_admin(const vg_req *r) { return r->authed && strcmp(r->user.role, "admin") == 0; }

bool vg_api_require_admin(vg_req *r) {
  if (!vg_api_require_user(r)) return false;
  if (vg_req_is_admin(r)) return true;
  vg_api_error(r, 403, "forbidden", "only administrators may do this");
  return false;
}

json_t *vg_user_json(const vg_user *u) {
  return json_pack("{s:I,s:s,s:s,s:b,s:I,s:I}", "id", (json_int_t)u->id, "username", u->username,
                   "role", u->role, "disabled", u->disabled, "created_at",
                   (json_int_t)u->created_at, "updated_at", (json_int_t)u->updated_at);
}

bool vg_username_valid(const char *name, size_t len) {
  if (len == 0 || len > VG_USERNAME_MAX) return false;
  for (size_t i = 0; i < len; i++) {
    char ch = name[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
          ch == '.' || ch == '_' || ch == '-' || ch == '@'))
      return false;
  }
  return true;
}

bool vg_role_valid(const char *role) {
  return strcmp(role, "admin") == 0 || strcmp(role, "operator") == 0 || strcmp(role, "viewer") == 0;
}

static bool is_write(const char *method) {
  return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
         strcmp(method, "OPTIONS") != 0;
}

/* Cookie sessions must prove the page is ours for every write. */
static bool csrf_ok(vg_req *r) {
  if (!r->authed || !r->via_cookie || !is_write(r->method)) return true;
  const vg_http_header *h = vg_http_find_header(r->http, "X-CSRF-Token");
  return h && r->session.csrf[0] &&
         vg_ct_equal(h->value, h->value_len, r->session.csrf, strlen(r->session.csrf));
}

static bool path_is(const char *path, const char *prefix, const char **rest) {
  size_t n = strlen(prefix);
  if (strncmp(path, prefix, n) != 0) return false;
  if (path[n] != 0 && path[n] != '/') return false;
  *rest = path + n;
  return true;
}

static void handle_health(vg_req *r) {
  if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD")) {
    vg_api_method_not_allowed(r, "GET, HEAD");
    return;
  }
  static const char body[] = "{\"status\":\"ok\",\"version\":\"" VIGIL_VERSION "\"}";
  vg_http_respond_mem(r->conn, 200, JSON_TYPE, API_HEADERS, body, sizeof body - 1);
}

static void route_api(vg_req *r) {
  const char *rest;
  const char *p = r->path;
  if (strcmp(p, "/api/v1/health") == 0) {
    handle_health(r);
    return;
  }
  vg_auth_identify(r);
  if (!csrf_ok(r)) {
    vg_api_error(r, 403, "csrf", "missing or wrong X-CSRF-Token header");
    return;
  }
  if (strcmp(p, "/api/v1/login") == 0)
    vg_auth_handle_login(r);
  else if (strcmp(p, "/api/v1/logout") == 0)
    vg_auth_handle_logout(r);
  else if (strcmp(p, "/api/v1/me") == 0)
    vg_auth_handle_me(r);
  else if (strcmp(p, "/api/v1/setup") == 0)
    vg_auth_handle_setup(r);
  else if (strcmp(p, "/api/v1/events") == 0)
    vg_events_handle(r);
  else if (path_is(p, "/api/v1/users", &rest))
    vg_users_handle(r, rest);
  else if (path_is(p, "/api/v1/audit", &rest))
    vg_audit_handle(r, rest);
  else if (path_is(p, "/api/v1/rooms", &rest))
    vg_rooms_handle(r, rest);
  else if (path_is(p, "/api/v1/cameras", &rest))
    vg_cameras_handle(r, rest);
  else if (path_is(p, "/api/v1/groups", &rest))
    vg_groups_handle(r, rest);
  else if (path_is(p, "/api/v1/views", &rest))
    vg_views_handle(r, rest);
  else if (path_is(p, "/api/v1/recordings", &rest))
    vg_recordings_handle(r, rest);
  else if (path_is(p, "/api/v1/clips", &rest))
    vg_clips_handle(r, rest);
  else if (strcmp(p, "/api/v1/signing-key") == 0)
    vg_export_key_handle(r);
  else
    vg_api_error(r, 404, "not_found", "no such API route");
}

void vg_api_dispatch(vg_http_conn *c, const vg_http_request *req, const uint8_t *body,
                     size_t body_len, void *ud) {
  vg_app *app = ud;
  vg_req r;
  r.app = app;
  r.conn = c;
  r.http = req;
  r.body = body;
  r.body_len = body_len;
  r.addr = vg_http_conn_peer(c);
  r.authed = false;
  r.via_cookie = false;
  size_t ml = req->method_len < sizeof r.method ? req->method_len : sizeof r.method - 1;
  memcpy(r.method, req->method, ml);
  r.method[ml] = 0;
  if (vg_http_url_decode(req->path, req->path_len, r.path, sizeof r.path, false) < 0 ||
      r.path[0] != '/') {
    vg_api_error(&r, 400, "bad_path", "malformed request path");
    return;
  }
  if (strncmp(r.path, "/api/", 5) == 0) {
    route_api(&r);
    return;
  }
  if (strncmp(r.path, "/live/", 6) == 0) {
    vg_auth_identify(&r);
    vg_live_handle(&r, r.path + 5);
    return;
  }
  vg_static_serve(app->statics, c, req, r.path);
}
