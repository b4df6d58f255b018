/* rooms.c - the /api/v1/rooms routes: rooms, with their cameras, and who
 * may see them (room_access rows for users and groups).
 *
 * Rights, first cut: admins and operators see every room; anyone else sees
 * the rooms shared with them or with one of their groups. The store holds
 * the one statement of that rule (vg_store_room_visible and the room
 * list). A room the caller may not see answers 404 whatever they ask of it,
 * so ids do not reveal which rooms exist; writes on a visible room by a
 * non-admin answer 403.
 *
 * Also here: the small request helpers shared with cameras.c and
 * groups.c (id paths, bounded text fields, loading a visible room). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "base/err.h"
#include "base/log.h"

/* ---- shared helpers ---------------------------------------------------- */

bool vg_api_parse_id(const char *sub, int64_t *id, const char **rest) {
  if (sub[0] != '/' || sub[1] < '0' || sub[1] > '9') return false;
  int64_t v = 0;
  const char *p = sub + 1;
  for (; *p >= '0' && *p <= '9'; p++) {
    int d = *p - '0';
    if (v > (INT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  if (*p && *p != '/') return false;
  if (!rest && *p) return false;
  *id = v;
  if (rest) *rest = p;
  return true;
}

int vg_api_text(vg_req *r, json_t *body, const char *key, bool required, size_t max,
                bool single_line, const char **out) {
  json_t *v = json_object_get(body, key);
  if (!v || json_is_null(v)) {
    if (!required) return 0;
    vg_api_error(r, 422, "invalid_field", "%s is required", key);
    return -1;
  }
  if (!json_is_string(v)) {
    vg_api_error(r, 422, "invalid_field", "%s must be a string", key);
    return -1;
  }
  const char *s = json_string_value(v);
  size_t len = json_string_length(v);
  if (len > max) {
    vg_api_error(r, 422, "invalid_field", "%s must be at most %zu bytes", key, max);
    return -1;
  }
  if (strlen(s) != len) {
    vg_api_error(r, 422, "invalid_field", "%s must not contain NUL characters", key);
    return -1;
  }
  if (single_line) {
    for (size_t i = 0; i < len; i++) {
      if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
        vg_api_error(r, 422, "invalid_field", "%s must not contain control characters", key);
        return -1;
      }
    }
  }
  *out = s;
  return 1;
}

bool vg_room_load_visible(vg_req *r, int64_t id, vg_room *out) {
  bool visible = false;
  int rc = vg_store_room_visible(r->app->store, id, r->user.id, &visible);
  if (rc) {
    vg_api_store_error(r, "check the room", rc);
    return false;
  }
  if (visible) rc = vg_store_room_get(r->app->store, id, out);
  if (!visible || rc == VG_ENOTFOUND) {
    vg_api_error(r, 404, "not_found", "no room %" PRId64, id);
    return false;
  }
  if (rc) {
    vg_api_store_error(r, "read the room", rc);
    return false;
  }
  return true;
}

/* A name: required (or optional on PATCH), 1..VG_NAME_MAX bytes, one line,
 * not blank. */
static int name_field(vg_req *r, json_t *body, bool required, const char **out) {
  int got = vg_api_text(r, body, "name", required, VG_NAME_MAX, true, out);
  if (got != 1) return got;
  const char *p = *out;
  while (*p == ' ') p++;
  if (!*p) {
    vg_api_error(r, 422, "invalid_field", "name must not be empty");
    return -1;
  }
  return 1;
}

/* Refuses keys of body not in allowed (NULL-terminated); answers 422. */
static bool known_fields(vg_req *r, json_t *body, const char *const *allowed, const char *list) {
  const char *key;
  json_t *v;
  json_object_foreach(body, key, v) {
    bool ok = false;
    for (const char *const *a = allowed; *a && !ok; a++) ok = strcmp(*a, key) == 0;
    if (!ok) {
      vg_api_error(r, 422, "invalid_field", "unknown field %s (expected %s)", key, list);
      return false;
    }
  }
  return true;
}

/* ---- JSON -------------------------------------------------------------- */

/* A room with its cameras in their order. NULL on failure (logged). */
static json_t *room_json(vg_app *app, const vg_room *room) {
  vg_camera_row *cams = NULL;
  size_t n = 0;
  int rc = vg_store_camera_list(app->store, room->id, &cams, &n);
  if (rc) {
    vg_log_error("rooms: cameras of room %" PRId64 ": %s", room->id, vg_strerror(rc));
    return NULL;
  }
  json_t *arr = json_array();
  for (size_t i = 0; arr && i < n; i++) {
    json_t *c = vg_camera_json(app, &cams[i]);
    if (!c || json_array_append_new(arr, c)) {
      json_decref(arr);
      arr = NULL;
    }
  }
  free(cams);
  if (!arr) return NULL;
  int64_t days = -1;
  vg_store_room_retention_get(app->store, room->id, &days);
  return json_pack("{sI ss ss sb sI sI so so}", "id", (json_int_t)room->id, "name", room->name,
                   "description", room->description, "disabled", room->disabled, "created_at",
                   (json_int_t)room->created_at, "updated_at", (json_int_t)room->updated_at,
                   "cameras", arr, "retention_days", days >= 0 ? json_integer(days) : json_null());
}

static void answer_room(vg_req *r, int status, const vg_room *room) {
  json_t *j = room_json(r->app, room);
  if (!j) {
    vg_api_error(r, 500, "internal", "cannot build the room");
    return;
  }
  vg_api_json(r, status, j);
}

static json_t *access_json(const vg_room_access *a) {
  return json_pack("{sI sI so so ss sI}", "id", (json_int_t)a->id, "room_id",
                   (json_int_t)a->room_id, "user_id",
                   a->user_id ? json_integer(a->user_id) : json_null(), "group_id",
                   a->group_id ? json_integer(a->group_id) : json_null(), "name", a->name,
                   "created_at", (json_int_t)a->created_at);
}

/* Tells the events channel a room changed: the room itself to those who
 * may see it. */
static void publish_room(vg_app *app, const char *action, const vg_room *room) {
  if (strcmp(action, "updated") == 0) vg_media_room_changed(app, room->id);
  json_t *j = room_json(app, room);
  if (!j) return;
  vg_events_publish(
      app->events, "room.changed", room->id,
      json_pack("{ss sI so}", "action", action, "room_id", (json_int_t)room->id, "room", j));
}

static void audit_room(vg_req *r, const char *action, int64_t id, json_t *detail) {
  char target[32];
  snprintf(target, sizeof target, "room:%" PRId64, id);
  vg_audit(r->app, r, action, target, detail);
}

/* ---- /api/v1/rooms ----------------------------------------------------- */

static void list_rooms(vg_req *r) {
  int64_t limit, offset;
  if (vg_api_paging(r, &limit, &offset)) return;
  vg_room *rooms = NULL;
  size_t n = 0;
  int64_t total = 0;
  int rc = vg_store_room_list(r->app->store, r->user.id, limit, offset, &rooms, &n, &total);
  if (rc) {
    vg_api_store_error(r, "list rooms", rc);
    return;
  }
  json_t *items = json_array();
  for (size_t i = 0; items && i < n; i++) {
    json_t *j = room_json(r->app, &rooms[i]);
    if (!j || json_array_append_new(items, j)) {
      json_decref(items);
      items = NULL;
    }
  }
  free(rooms);
  json_t *out = items ? json_pack("{so sI}", "items", items, "total", (json_int_t)total) : NULL;
  if (!out) {
    vg_api_error(r, 500, "internal", "cannot list rooms");
    return;
  }
  vg_api_json(r, 200, out);
}

static void create_room(vg_req *r) {
  if (!vg_api_require_admin(r)) return;
  json_t *body;
  if (vg_api_body(r, &body)) return;
  static const char *const allowed[] = {"name", "description", "disabled", NULL};
  const char *name = NULL, *description = "";
  bool disabled = false;
  if (!known_fields(r, body, allowed, "name, description or disabled") ||
      name_field(r, body, true, &name) < 0 ||
      vg_api_text(r, body, "description", false, VG_DESCRIPTION_MAX, false, &description) < 0)
    goto out;
  json_t *d = json_object_get(body, "disabled");
  if (d && !json_is_boolean(d)) {
    vg_api_error(r, 422, "invalid_field", "disabled must be true or false");
    goto out;
  }
  disabled = json_is_true(d);

  vg_room room;
  memset(&room, 0, sizeof room);
  snprintf(room.name, sizeof room.name, "%s", name);
  snprintf(room.description, sizeof room.description, "%s", description);
  room.disabled = disabled;
  int rc = vg_store_room_create(r->app->store, &room);
  if (rc == VG_EEXIST) {
    vg_api_error(r, 409, "name_taken", "a room named %s exists", name);
    goto out;
  }
  if (rc) {
    vg_api_store_error(r, "create the room", rc);
    goto out;
  }
  audit_room(r, "room.create", room.id, json_pack("{ss}", "name", room.name));
  publish_room(r->app, "created", &room);
  answer_room(r, 201, &room);
out:
  json_decref(body);
}

/* ---- /api/v1/rooms/ID -------------------------------------------------- */

static void patch_room(vg_req *r, vg_room *room) {
  json_t *body;
  if (vg_api_body(r, &body)) return;
  static const char *const allowed[] = {"name", "description", "disabled", "retention_days", NULL};
  const char *name = NULL, *description = NULL;
  int has_name = 0, has_desc = 0;
  if (!known_fields(r, body, allowed, "name, description, disabled or retention_days") ||
      (has_name = name_field(r, body, false, &name)) < 0 ||
      (has_desc =
           vg_api_text(r, body, "description", false, VG_DESCRIPTION_MAX, false, &description)) < 0)
    goto out;
  json_t *d = json_object_get(body, "disabled");
  if (d && !json_is_boolean(d)) {
    vg_api_error(r, 422, "invalid_field", "disabled must be true or false");
    goto out;
  }
  /* Default retention of the room's recordings: days after their end,
   * null keeps them forever. */
  json_t *rd = json_object_get(body, "retention_days");
  if (rd && !json_is_null(rd) &&
      (!json_is_integer(rd) || json_integer_value(rd) < 0 || json_integer_value(rd) > 36500)) {
    vg_api_error(r, 422, "invalid_field",
                 "retention_days must be null (keep forever) or a whole number from 0 to 36500");
    goto out;
  }
  if (!has_name && !has_desc && !d && !rd) {
    vg_api_error(r, 422, "invalid_field",
                 "nothing to change: give name, description, disabled or retention_days");
    goto out;
  }
  json_t *fields = json_array();
  if (has_name) {
    snprintf(room->name, sizeof room->name, "%s", name);
    json_array_append_new(fields, json_string("name"));
  }
  if (has_desc) {
    snprintf(room->description, sizeof room->description, "%s", description);
    json_array_append_new(fields, json_string("description"));
  }
  if (d) {
    room->disabled = json_is_true(d);
    json_array_append_new(fields, json_string("disabled"));
  }
  if (rd) json_array_append_new(fields, json_string("retention_days"));
  int rc = vg_store_room_update(r->app->store, room);
  if (!rc && rd)
    rc = vg_store_room_retention_set(r->app->store, room->id,
                                     json_is_null(rd) ? -1 : json_integer_value(rd));
  if (rc == VG_EEXIST) {
    vg_api_error(r, 409, "name_taken", "a room named %s exists", room->name);
    json_decref(fields);
    goto out;
  }
  if (rc == VG_ENOTFOUND) {
    vg_api_error(r, 404, "not_found", "no room %" PRId64, room->id);
    json_decref(fields);
    goto out;
  }
  if (rc) {
    vg_api_store_error(r, "update the room", rc);
    json_decref(fields);
    goto out;
  }
  vg_store_room_get(r->app->store, room->id, room); /* the new updated_at */
  audit_room(r, "room.update", room->id,
             json_pack("{ss so}", "name", room->name, "fields", fields));
  publish_room(r->app, "updated", room);
  answer_room(r, 200, room);
out:
  json_decref(body);
}

static void delete_room(vg_req *r, const vg_room *room) {
  int rc = vg_store_room_delete(r->app->store, room->id);
  if (rc == VG_ESTATE) {
    vg_api_error(r, 409, "room_has_recordings",
                 "room %s has recordings; it cannot be deleted while they exist", room->name);
    return;
  }
  if (rc == VG_ENOTFOUND) {
    vg_api_error(r, 404, "not_found", "no room %" PRId64, room->id);
    return;
  }
  if (rc) {
    vg_api_store_error(r, "delete the room", rc);
    return;
  }
  audit_room(r, "room.delete", room->id, json_pack("{ss}", "name", room->name));
  vg_media_room_changed(r->app, room->id);
  /* Nobody can see a deleted room any more: tell everyone its id, and
   * nothing else about it. */
  vg_events_publish(r->app->events, "room.changed", VG_EVENTS_ALL,
                    json_pack("{ss sI}", "action", "deleted", "room_id", (json_int_t)room->id));
  vg_api_no_content(r);
}

/* ---- /api/v1/rooms/ID/access ------------------------------------------- */

static void list_access(vg_req *r, const vg_room *room) {
  vg_room_access *items = NULL;
  size_t n = 0;
  int rc = vg_store_access_list(r->app->store, room->id, &items, &n);
  if (rc) {
    vg_api_store_error(r, "list the room's rights", rc);
    return;
  }
  json_t *arr = json_array();
  for (size_t i = 0; arr && i < n; i++) {
    json_t *j = access_json(&items[i]);
    if (!j || json_array_append_new(arr, j)) {
      json_decref(arr);
      arr = NULL;
    }
  }
  free(items);
  vg_api_list(r, arr, (int64_t)n);
}

/* Reads {user_id} or {group_id} (exactly one, a positive integer) from
 * body; answers 422 and returns false otherwise. */
static bool access_target(vg_req *r, json_t *body, int64_t *user_id, int64_t *group_id) {
  static const char *const allowed[] = {"user_id", "group_id", NULL};
  if (!known_fields(r, body, allowed, "user_id or group_id")) return false;
  json_t *u = json_object_get(body, "user_id"), *g = json_object_get(body, "group_id");
  if (u && json_is_null(u)) u = NULL;
  if (g && json_is_null(g)) g = NULL;
  if (!u == !g) {
    vg_api_error(r, 422, "invalid_field", "give exactly one of user_id and group_id");
    return false;
  }
  json_t *v = u ? u : g;
  if (!json_is_integer(v) || json_integer_value(v) <= 0) {
    vg_api_error(r, 422, "invalid_field", "%s must be a positive integer",
                 u ? "user_id" : "group_id");
    return false;
  }
  *user_id = u ? json_integer_value(u) : 0;
  *group_id = g ? json_integer_value(g) : 0;
  return true;
}

static void audit_access(vg_req *r, const char *action, const vg_room *room,
                         const vg_room_access *a) {
  json_t *detail = json_pack("{ss sI}", "room", room->name, "access_id", (json_int_t)a->id);
  if (a->user_id) json_object_set_new(detail, "user_id", json_integer(a->user_id));
  if (a->group_id) json_object_set_new(detail, "group_id", json_integer(a->group_id));
  json_object_set_new(detail, "name", json_string(a->name));
  audit_room(r, action, room->id, detail);
}

static void add_access(vg_req *r, vg_room *room) {
  json_t *body;
  if (vg_api_body(r, &body)) return;
  vg_room_access a;
  memset(&a, 0, sizeof a);
  a.room_id = room->id;
  if (!access_target(r, body, &a.user_id, &a.group_id)) goto out;
  int rc = vg_store_access_add(r->app->store, &a);
  if (rc == VG_EEXIST) {
    vg_api_error(r, 409, "already_shared", "the room is already shared with this %s",
                 a.user_id ? "user" : "group");
    goto out;
  }
  if (rc == VG_ENOTFOUND) {
    /* The room was checked: the user or group is what is missing. */
    vg_api_error(r, 422, "invalid_field", "no %s %" PRId64, a.user_id ? "user" : "group",
                 a.user_id ? a.user_id : a.group_id);
    goto out;
  }
  if (rc) {
    vg_api_store_error(r, "share the room", rc);
    goto out;
  }
  audit_access(r, "room.access.add", room, &a);
  publish_room(r->app, "access", room);
  json_t *j = access_json(&a);
  if (j)
    vg_api_json(r, 201, j);
  else
    vg_api_error(r, 500, "internal", "out of memory");
out:
  json_decref(body);
}

static void remove_access(vg_req *r, vg_room *room, const vg_room_access *a) {
  int rc = vg_store_access_delete(r->app->store, a->id);
  if (rc == VG_ENOTFOUND) {
    vg_api_error(r, 404, "not_found", "no such right on this room");
    return;
  }
  if (rc) {
    vg_api_store_error(r, "remove the right", rc);
    return;
  }
  audit_access(r, "room.access.remove", room, a);
  publish_room(r->app, "access", room);
  vg_api_no_content(r);
}

/* DELETE /rooms/ID/access with {user_id} or {group_id}. */
static void remove_access_by_body(vg_req *r, vg_room *room) {
  json_t *body;
  if (vg_api_body(r, &body)) return;
  int64_t user_id = 0, group_id = 0;
  if (access_target(r, body, &user_id, &group_id)) {
    vg_room_access a;
    int rc = vg_store_access_find(r->app->store, room->id, user_id, group_id, &a);
    if (rc == VG_ENOTFOUND)
      vg_api_error(r, 404, "not_found", "the room is not shared with %s %" PRId64,
                   user_id ? "user" : "group", user_id ? user_id : group_id);
    else if (rc)
      vg_api_store_error(r, "find the right", rc);
    else
      remove_access(r, room, &a);
  }
  json_decref(body);
}

static void handle_access(vg_req *r, vg_room *room, const char *sub) {
  if (!sub[0]) {
    if (!vg_req_is_get(r) && !vg_req_method(r, "POST") && !vg_req_method(r, "DELETE")) {
      vg_api_method_not_allowed(r, "GET, POST, DELETE");
      return;
    }
    if (!vg_api_require_admin(r)) return;
    if (vg_req_is_get(r))
      list_access(r, room);
    else if (vg_req_method(r, "POST"))
      add_access(r, room);
    else
      remove_access_by_body(r, room);
    return;
  }
  int64_t access_id;
  if (!vg_api_parse_id(sub, &access_id, NULL)) {
    vg_api_error(r, 404, "not_found", "no such route");
    return;
  }
  if (!vg_req_method(r, "DELETE")) {
    vg_api_method_not_allowed(r, "DELETE");
    return;
  }
  if (!vg_api_require_admin(r)) return;
  vg_room_access a;
  int rc = vg_store_access_get(r->app->store, access_id, &a);
  if (rc == VG_ENOTFOUND || (!rc && a.room_id != room->id)) {
    vg_api_error(r, 404, "not_found", "no right %" PRId64 " on this room", access_id);
    return;
  }
  if (rc) {
    vg_api_store_error(r, "read the right", rc);
    return;
  }
  remove_access(r, room, &a);
}

void vg_rooms_handle(vg_req *r, const char *sub) {
  if (!vg_api_require_user(r)) return;
  if (!sub[0]) {
    if (vg_req_is_get(r))
      list_rooms(r);
    else if (vg_req_method(r, "POST"))
      create_room(r);
    else
      vg_api_method_not_allowed(r, "GET, POST");
    return;
  }
  int64_t id;
  const char *rest;
  if (!vg_api_item_id(r, sub, &id, &rest)) return;
  vg_room room;
  if (!vg_room_load_visible(r, id, &room)) return;
  if (strcmp(rest, "/access") == 0 || strncmp(rest, "/access/", 8) == 0) {
    handle_access(r, &room, rest + 7);
    return;
  }
  if (strcmp(rest, "/status") == 0 || strncmp(rest, "/record/", 8) == 0) {
    vg_recordings_room_handle(r, &room, rest);
    return;
  }
  if (rest[0]) {
    vg_api_error(r, 404, "not_found", "no such route");
    return;
  }
  if (vg_req_is_get(r)) {
    answer_room(r, 200, &room);
  } else if (vg_req_method(r, "PATCH") || vg_req_method(r, "DELETE")) {
    if (!vg_api_require_admin(r)) return;
    if (vg_req_method(r, "PATCH"))
      patch_room(r, &room);
    else
      delete_room(r, &room);
  } else {
    vg_api_method_not_allowed(r, "GET, PATCH, DELETE");
  }
}
