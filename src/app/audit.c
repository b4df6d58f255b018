/* audit.c - writing audit rows for API actions, and GET /api/v1/audit.
 *
 * The store keeps the rows and their hash chain; this file only decides who
 * the actor is (the signed-in caller, or "system" for work that has no
 * request) and turns rows back into JSON for admins. Writing an audit row
 * never fails the action it records: a failure is logged and forgotten. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"

void vg_audit_as(vg_app *app, int64_t user_id, const char *username, const char *addr,
                 const char *action, const char *target, json_t *detail) {
  char *text = NULL;
  if (detail) {
    text = json_dumps(detail, JSON_COMPACT);
    json_decref(detail);
    if (!text)
      vg_log_warn("audit %s %s: cannot serialise the detail", action, target ? target : "");
  }
  int rc = vg_store_audit_append(app->store, vg_now_ms(), user_id, username ? username : "",
                                 addr ? addr : "", action, target ? target : "", text);
  if (rc)
    vg_log_warn("audit %s %s by %s: %s", action, target ? target : "", username ? username : "",
                vg_strerror(rc));
  free(text);
}

void vg_audit(vg_app *app, const vg_req *r, const char *action, const char *target,
              json_t *detail) {
  if (!r) {
    vg_audit_as(app, 0, "system", "", action, target, detail);
    return;
  }
  if (r->authed)
    vg_audit_as(app, r->user.id, r->user.username, r->addr, action, target, detail);
  else
    vg_audit_as(app, 0, "", r->addr, action, target, detail);
}

/* One row as the API shows it; detail is parsed back so clients get an
 * object rather than a string holding JSON. */
static json_t *entry_json(const vg_audit_entry *e) {
  json_t *detail = e->detail ? json_loads(e->detail, 0, NULL) : NULL;
  return json_pack("{sI sI sI ss ss ss ss so ss}", "id", (json_int_t)e->id, "at", (json_int_t)e->at,
                   "user_id", (json_int_t)e->user_id, "username", e->username, "addr", e->addr,
                   "action", e->action, "target", e->target, "detail",
                   detail ? detail : json_null(), "hash", e->hash);
}

void vg_audit_handle(vg_req *r, const char *sub) {
  if (!vg_api_require_admin(r)) return;
  if (sub[0]) {
    vg_api_error(r, 404, "not_found", "no such route");
    return;
  }
  if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
    vg_api_method_not_allowed(r, "GET");
    return;
  }
  int64_t limit, offset;
  if (vg_api_paging(r, &limit, &offset)) return;

  vg_audit_entry *items = NULL;
  size_t n = 0;
  int64_t total = 0;
  int rc = vg_store_audit_list(r->app->store, limit, offset, &items, &n, &total);
  if (rc) {
    vg_log_error("audit list: %s", vg_strerror(rc));
    vg_api_error(r, 500, "internal", "cannot read the audit log");
    return;
  }
  json_t *arr = json_array();
  for (size_t i = 0; arr && i < n; i++) {
    json_t *row = entry_json(&items[i]);
    if (!row || json_array_append_new(arr, row)) {
      json_decref(arr);
      arr = NULL;
    }
  }
  vg_audit_entries_free(items, n);
  vg_api_list(r, arr, total);
}
