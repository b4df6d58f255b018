/* views.c - the /api/v1/views routes: saved views of the Observe page.
 *
 * A view is one user's named set of cameras, from any rooms, in order, with
 * a grid layout ("1", "2x2", "3x3", "4x4"). Views are private: a user lists,
 * reads and edits only their own (anyone else's answers 404, admins
 * included, so ids reveal nothing). Saving a camera the user may not view
 * (or that does not exist: the two are not told apart) is refused with 403;
 * a camera that the user may no longer view, because a right was taken
 * away or the camera moved, stays in the row but is left out of every
 * answer, and comes back if the right does. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "base/err.h"
#include "base/log.h"

static bool layout_valid(const char *s) {
  return strcmp(s, "1") == 0 || strcmp(s, "2x2") == 0 || strcmp(s, "3x3") == 0 ||
         strcmp(s, "4x4") == 0;
}

/* Whether the caller may view camera id (false for no such camera). */
static int camera_visible(vg_req *r, int64_t id, bool *visible) {
  *visible = false;
  vg_camera_row cam;
  int rc = vg_store_camera_get(r->app->store, id, &cam);
  if (rc == VG_ENOTFOUND) return 0;
  if (rc) return rc;
  return vg_store_room_visible(r->app->store, cam.room_id, r->user.id, visible);
}

/* The JSON of a view with only the cameras the caller may view; NULL on
 * failure (answered). */
static json_t *view_json(vg_req *r, const vg_view *v) {
  json_t *ids = json_array();
  for (size_t i = 0; ids && i < v->ncameras; i++) {
    bool visible;
    int rc = camera_visible(r, v->camera_ids[i], &visible);
    if (rc) {
      json_decref(ids);
      vg_api_store_error(r, "check the view's cameras", rc);
      return NULL;
    }
    if (visible && json_array_append_new(ids, json_integer(v->camera_ids[i]))) {
      json_decref(ids);
      ids = NULL;
    }
  }
  json_t *j = ids ? json_pack("{sI ss ss so sI sI}", "id", (json_int_t)v->id, "name", v->name,
                              "layout", v->layout, "camera_ids", ids, "created_at",
                              (json_int_t)v->created_at, "updated_at", (json_int_t)v->updated_at)
                  : NULL;
  if (!j) vg_api_error(r, 500, "internal", "out of memory");
  return j;
}

static void answer_view(vg_req *r, int status, const vg_view *v) {
  json_t *j = view_json(r, v);
  if (j) vg_api_json(r, status, j);
}

/* Reads name, layout and camera_ids (no other key) into v; on create name
 * and camera_ids are required. Checks the caller's right on every camera.
 * Returns false after answering 4xx or 500. */
static bool read_view(vg_req *r, json_t *body, vg_view *v, bool create) {
  const char *key;
  json_t *val;
  json_object_foreach(body, key, val) {
    if (strcmp(key, "name") != 0 && strcmp(key, "layout") != 0 && strcmp(key, "camera_ids") != 0) {
      vg_api_error(r, 422, "invalid_field", "unknown field %s (expected name, layout, camera_ids)",
                   key);
      return false;
    }
  }
  const char *name = NULL, *layout = NULL;
  int has_name = vg_api_text(r, body, "name", create, VG_NAME_MAX, true, &name);
  if (has_name < 0) return false;
  int has_layout = vg_api_text(r, body, "layout", false, sizeof v->layout - 1, true, &layout);
  if (has_layout < 0) return false;
  json_t *ids = json_object_get(body, "camera_ids");
  if (ids && json_is_null(ids)) ids = NULL;
  if (!has_name && !has_layout && !ids) {
    vg_api_error(r, 422, "invalid_field", "nothing to change: give name, layout or camera_ids");
    return false;
  }
  if (create && !ids) {
    vg_api_error(r, 422, "invalid_field", "camera_ids is required");
    return false;
  }
  if (has_name) {
    const char *p = name;
    while (*p == ' ') p++;
    if (!*p) {
      vg_api_error(r, 422, "invalid_field", "name must not be empty");
      return false;
    }
    snprintf(v->name, sizeof v->name, "%s", name);
  }
  if (has_layout) {
    if (!layout_valid(layout)) {
      vg_api_error(r, 422, "invalid_field", "layout must be one of 1, 2x2, 3x3, 4x4");
      return false;
    }
    snprintf(v->layout, sizeof v->layout, "%s", layout);
  }
  if (!ids) return true;
  size_t n = json_is_array(ids) ? json_array_size(ids) : 0;
  if (!json_is_array(ids) || n == 0 || n > VG_VIEW_CAMERAS_MAX) {
    vg_api_error(r, 422, "invalid_field", "camera_ids must be a list of 1 to %d camera ids",
                 VG_VIEW_CAMERAS_MAX);
    return false;
  }
  int64_t got[VG_VIEW_CAMERAS_MAX];
  for (size_t i = 0; i < n; i++) {
    json_t *e = json_array_get(ids, i);
    if (!json_is_integer(e) || json_integer_value(e) <= 0) {
      vg_api_error(r, 422, "invalid_field", "camera_ids must hold positive integers");
      return false;
    }
    got[i] = json_integer_value(e);
    for (size_t j = 0; j < i; j++) {
      if (got[j] == got[i]) {
        vg_api_error(r, 422, "invalid_field", "camera %" PRId64 " is given twice", got[i]);
        return false;
      }
    }
  }
  for (size_t i = 0; i < n; i++) {
    bool visible;
    int rc = camera_visible(r, got[i], &visible);
    if (rc) {
      vg_api_store_error(r, "check the cameras", rc);
      return false;
    }
    if (!visible) {
      vg_api_error(r, 403, "camera_forbidden",
                   "camera %" PRId64 " does not exist or you may not view it", got[i]);
      return false;
    }
  }
  memcpy(v->camera_ids, got, n * sizeof got[0]);
  v->ncameras = n;
  return true;
}

static void list_views(vg_req *r) {
  int64_t limit, offset;
  if (vg_api_paging(r, &limit, &offset)) return;
  vg_view *views = NULL;
  size_t n = 0;
  int64_t total = 0;
  int rc = vg_store_view_list(r->app->store, r->user.id, limit, offset, &views, &n, &total);
  if (rc) {
    vg_api_store_error(r, "list the views", rc);
    return;
  }
  json_t *items = json_array();
  for (size_t i = 0; items && i < n; i++) {
    json_t *j = view_json(r, &views[i]);
    if (!j) { /* answered */
      json_decref(items);
      free(views);
      return;
    }
    json_array_append_new(items, j);
  }
  free(views);
  vg_api_list(r, items, total);
}

/* An audit row per change of a saved view: which view, its name, and how
 * many cameras it holds (the ids are in the view itself). */
static void audit_view(vg_req *r, const char *action, const vg_view *v) {
  char target[32];
  snprintf(target, sizeof target, "view:%" PRId64, v->id);
  vg_audit(r->app, r, action, target,
           json_pack("{s:s,s:s,s:I}", "name", v->name, "layout", v->layout, "cameras",
                     (json_int_t)v->ncameras));
}

static void create_view(vg_req *r) {
  json_t *body;
  if (vg_api_body(r, &body)) return;
  vg_view v;
  memset(&v, 0, sizeof v);
  v.user_id = r->user.id;
  snprintf(v.layout, sizeof v.layout, "2x2");
  if (read_view(r, body, &v, true)) {
    vg_view *none = NULL;
    size_t n = 0;
    int64_t count = 0;
    int rc = vg_store_view_list(r->app->store, r->user.id, 0, 0, &none, &n, &count);
    free(none);
    if (!rc && count >= VG_VIEWS_PER_USER_MAX) {
      vg_api_error(r, 409, "too_many_views", "you have %d views, the most one user may keep",
                   VG_VIEWS_PER_USER_MAX);
    } else {
      if (!rc) rc = vg_store_view_create(r->app->store, &v);
      if (rc == VG_EEXIST)
        vg_api_error(r, 409, "name_taken", "you have a view named %s", v.name);
      else if (rc == VG_ENOTFOUND)
        vg_api_error(r, 403, "camera_forbidden", "a camera of the view no longer exists");
      else if (rc)
        vg_api_store_error(r, "save the view", rc);
      else {
        audit_view(r, "view.create", &v);
        answer_view(r, 201, &v);
      }
    }
  }
  json_decref(body);
}

/* Loads view id when it is the caller's; otherwise answers 404. */
static bool load_view(vg_req *r, int64_t id, vg_view *v) {
  int rc = vg_store_view_get(r->app->store, id, v);
  if (rc == VG_ENOTFOUND || (!rc && v->user_id != r->user.id)) {
    vg_api_error(r, 404, "not_found", "no view %" PRId64, id);
    return false;
  }
  if (rc) {
    vg_api_store_error(r, "read the view", rc);
    return false;
  }
  return true;
}

static void patch_view(vg_req *r, vg_view *v) {
  json_t *body;
  if (vg_api_body(r, &body)) return;
  vg_view next = *v;
  if (read_view(r, body, &next, false)) {
    /* Cameras the caller may no longer view stay out of what they save:
     * the answer they saw did not list them either. */
    if (!json_object_get(body, "camera_ids") || json_is_null(json_object_get(body, "camera_ids"))) {
      size_t kept = 0;
      for (size_t i = 0; i < next.ncameras; i++) {
        bool visible = false;
        if (camera_visible(r, next.camera_ids[i], &visible) == 0 && visible)
          next.camera_ids[kept++] = next.camera_ids[i];
      }
      next.ncameras = kept;
    }
    int rc = vg_store_view_update(r->app->store, &next);
    if (rc == VG_EEXIST) {
      vg_api_error(r, 409, "name_taken", "you have a view named %s", next.name);
    } else if (rc == VG_ENOTFOUND) {
      vg_api_error(r, 404, "not_found", "no view %" PRId64 " (or a camera went)", v->id);
    } else if (rc) {
      vg_api_store_error(r, "save the view", rc);
    } else {
      if (vg_store_view_get(r->app->store, v->id, &next) != 0) next.updated_at = v->updated_at;
      audit_view(r, "view.update", &next);
      answer_view(r, 200, &next);
    }
  }
  json_decref(body);
}

static void delete_view(vg_req *r, const vg_view *v) {
  int rc = vg_store_view_delete(r->app->store, v->id);
  if (rc == VG_ENOTFOUND) {
    vg_api_error(r, 404, "not_found", "no view %" PRId64, v->id);
    return;
  }
  if (rc) {
    vg_api_store_error(r, "delete the view", rc);
    return;
  }
  audit_view(r, "view.delete", v);
  vg_api_no_content(r);
}

void vg_views_handle(vg_req *r, const char *sub) {
  if (!vg_api_require_user(r)) return;
  if (!sub[0]) {
    if (vg_req_is_get(r))
      list_views(r);
    else if (vg_req_method(r, "POST"))
      create_view(r);
    else
      vg_api_method_not_allowed(r, "GET, POST");
    return;
  }
  int64_t id;
  const char *rest;
  if (!vg_api_item_id(r, sub, &id, &rest)) return;
  if (rest[0]) {
    vg_api_error(r, 404, "not_found", "no such route");
    return;
  }
  vg_view v;
  if (!load_view(r, id, &v)) return;
  if (vg_req_is_get(r))
    answer_view(r, 200, &v);
  else if (vg_req_method(r, "PATCH"))
    patch_view(r, &v);
  else if (vg_req_method(r, "DELETE"))
    delete_view(r, &v);
  else
    vg_api_method_not_allowed(r, "GET, PATCH, DELETE");
}
