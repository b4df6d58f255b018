/* groups.c - the /api/v1/groups routes: groups of users, and their
 * members. A group is a way to share rooms with many people at once (see
 * room_access in rooms.c). Only admins manage or read groups. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "base/err.h"
#include "base/log.h"

static json_t *group_json(const vg_group *g) {
  return json_pack("{sI ss ss sI sI sI}", "id", (json_int_t)g->id, "name", g->name, "description",
                   g->description, "member_count", (json_int_t)g->member_count, "created_at",
                   (json_int_t)g->created_at, "updated_at", (json_int_t)g->updated_at);
}

static void answer_group(vg_req *r, int status, const vg_group *g) {
  json_t *j = group_json(g);
  if (!j) {
    vg_api_error(r, 500, "internal", "out of memory");
    return;
  }
  vg_api_json(r, status, j);
}

static void audit_group(vg_req *r, const char *action, const vg_group *g, json_t *detail) {
  char target[32];
  snprintf(target, sizeof target, "group:%" PRId64, g->id);
  if (!detail) detail = json_object();
  json_object_set_new(detail, "name", json_string(g->name));
  vg_audit(r->app, r, action, target, detail);
}

/* Groups are an admin matter: their events go to admins only. */
static void publish_group(vg_app *app, const char *action, const vg_group *g) {
  json_t *payload = json_pack("{ss sI}", "action", action, "group_id", (json_int_t)g->id);
  if (payload && strcmp(action, "deleted") != 0)
    json_object_set_new(payload, "group", group_json(g));
  vg_events_publish(app->events, "group.changed", VG_EVENTS_ADMINS, payload);
}

/* Reads name and description (no other key) into g; *fields gets the
 * names of those given. Returns false after answering 422. */
static bool read_group(vg_req *r, json_t *body, vg_group *g, bool create, json_t **fields) {
  const char *key;
  json_t *v;
  json_object_foreach(body, key, v) {
    if (strcmp(key, "name") != 0 && strcmp(key, "description") != 0) {
      vg_api_error(r, 422, "invalid_field", "unknown field %s (expected name or description)", key);
      return false;
    }
  }
  const char *name = NULL, *desc = NULL;
  int has_name = vg_api_text(r, body, "name", create, VG_NAME_MAX, true, &name);
  if (has_name < 0) return false;
  int has_desc = vg_api_text(r, body, "description", false, VG_DESCRIPTION_MAX, false, &desc);
  if (has_desc < 0) return false;
  if (has_name) {
    const char *p = name;
    while (*p == ' ') p++;
    if (!*p) {
      vg_api_error(r, 422, "invalid_field", "name must not be empty");
      return false;
    }
    snprintf(g->name, sizeof g->name, "%s", name);
  }
  if (has_desc) snprintf(g->description, sizeof g->description, "%s", desc);
  if (!has_name && !has_desc) {
    vg_api_error(r, 422, "invalid_field", "nothing to change: give name or description");
    return false;
  }
  *fields = json_array();
  if (has_name) json_array_append_new(*fields, json_string("name"));
  if (has_desc) json_array_append_new(*fields, json_string("description"));
  return true;
}

static void list_groups(vg_req *r) {
  int64_t limit, offset;
  if (vg_api_paging(r, &limit, &offset)) return;
  vg_group *groups = NULL;
  size_t n = 0;
  int64_t total = 0;
  int rc = vg_store_group_list(r->app->store, limit, offset, &groups, &n, &total);
  if (rc) {
    vg_api_store_error(r, "list groups", rc);
    return;
  }
  json_t *items = json_array();
  for (size_t i = 0; items && i < n; i++) {
    json_t *j = group_json(&groups[i]);
    if (!j || json_array_append_new(items, j)) {
      json_decref(items);
      items = NULL;
    }
  }
  free(groups);
  vg_api_list(r, items, total);
}

static void create_group(vg_req *r) {
  json_t *body;
  if (vg_api_body(r, &body)) return;
  vg_group g;
  memset(&g, 0, sizeof g);
  json_t *fields = NULL;
  if (read_group(r, body, &g, true, &fields)) {
    int rc = vg_store_group_create(r->app->store, &g);
    if (rc == VG_EEXIST) {
      vg_api_error(r, 409, "name_taken", "a group named %s exists", g.name);
    } else if (rc) {
      vg_api_store_error(r, "create the group", rc);
    } else {
      audit_group(r, "group.create", &g, NULL);
      publish_group(r->app, "created", &g);
      answer_group(r, 201, &g);
    }
  }
  json_decref(fields);
  json_decref(body);
}

static bool load_group(vg_req *r, int64_t id, vg_group *g) {
  int rc = vg_store_group_get(r->app->store, id, g);
  if (rc == VG_ENOTFOUND) {
    vg_api_error(r, 404, "not_found", "no group %" PRId64, id);
    return false;
  }
  if (rc) {
    vg_api_store_error(r, "read the group", rc);
    return false;
  }
  return true;
}

static void patch_group(vg_req *r, vg_group *g) {
  json_t *body;
  if (vg_api_body(r, &body)) return;
  json_t *fields = NULL;
  if (read_group(r, body, g, false, &fields)) {
    int rc = vg_store_group_update(r->app->store, g);
    if (rc == VG_EEXIST) {
      vg_api_error(r, 409, "name_taken", "a group named %s exists", g->name);
    } else if (rc == VG_ENOTFOUND) {
      vg_api_error(r, 404, "not_found", "no group %" PRId64, g->id);
    } else if (rc) {
      vg_api_store_error(r, "update the group", rc);
    } else {
      vg_store_group_get(r->app->store, g->id, g);
      audit_group(r, "group.update", g, json_pack("{sO}", "fields", fields));
      publish_group(r->app, "updated", g);
      answer_group(r, 200, g);
    }
  }
  json_decref(fields);
  json_decref(body);
}

static void delete_group(vg_req *r, const vg_group *g) {
  int rc = vg_store_group_delete(r->app->store, g->id);
  if (rc == VG_ENOTFOUND) {
    vg_api_error(r, 404, "not_found", "no group %" PRId64, g->id);
    return;
  }
  if (rc) {
    vg_api_store_error(r, "delete the group", rc);
    return;
  }
  audit_group(r, "group.delete", g, NULL);
  publish_group(r->app, "deleted", g);
  vg_api_no_content(r);
}

/* ---- /api/v1/groups/ID/members ----------------------------------------- */

static void list_members(vg_req *r, const vg_group *g) {
  int64_t limit, offset;
  if (vg_api_paging(r, &limit, &offset)) return;
  vg_user *users = NULL;
  size_t n = 0;
  int64_t total = 0;
  int rc = vg_store_group_members(r->app->store, g->id, limit, offset, &users, &n, &total);
  if (rc) {
    vg_api_store_error(r, "list the members", rc);
    return;
  }
  json_t *items = json_array();
  for (size_t i = 0; items && i < n; i++) {
    json_t *j = vg_user_json(&users[i]);
    if (!j || json_array_append_new(items, j)) {
      json_decref(items);
      items = NULL;
    }
  }
  free(users);
  vg_api_list(r, items, total);
}

static void add_member(vg_req *r, vg_group *g) {
  json_t *body;
  if (vg_api_body(r, &body)) return;
  json_t *v = json_object_get(body, "user_id");
  vg_user u;
  if (json_object_size(body) != 1 || !v) {
    vg_api_error(r, 422, "invalid_field", "give user_id, and nothing else");
    goto out;
  }
  if (!json_is_integer(v) || json_integer_value(v) <= 0) {
    vg_api_error(r, 422, "invalid_field", "user_id must be a positive integer");
    goto out;
  }
  int64_t user_id = json_integer_value(v);
  int rc = vg_store_user_get(r->app->store, user_id, &u);
  if (rc == VG_ENOTFOUND) {
    vg_api_error(r, 422, "invalid_field", "user_id: no user %" PRId64, user_id);
    goto out;
  }
  if (!rc) rc = vg_store_group_member_add(r->app->store, g->id, user_id);
  if (rc == VG_EEXIST) {
    vg_api_error(r, 409, "already_member", "%s is already a member of %s", u.username, g->name);
  } else if (rc == VG_ENOTFOUND) {
    vg_api_error(r, 404, "not_found", "no group %" PRId64, g->id);
  } else if (rc) {
    vg_api_store_error(r, "add the member", rc);
  } else {
    audit_group(r, "group.member.add", g,
                json_pack("{sI ss}", "user_id", (json_int_t)u.id, "username", u.username));
    vg_store_group_get(r->app->store, g->id, g);
    publish_group(r->app, "updated", g);
    json_t *j = vg_user_json(&u);
    if (j)
      vg_api_json(r, 201, j);
    else
      vg_api_error(r, 500, "internal", "out of memory");
  }
  memset(u.pwhash, 0, sizeof u.pwhash);
out:
  json_decref(body);
}

static void remove_member(vg_req *r, vg_group *g, int64_t user_id) {
  int rc = vg_store_group_member_remove(r->app->store, g->id, user_id);
  if (rc == VG_ENOTFOUND) {
    vg_api_error(r, 404, "not_found", "user %" PRId64 " is not a member of %s", user_id, g->name);
    return;
  }
  if (rc) {
    vg_api_store_error(r, "remove the member", rc);
    return;
  }
  audit_group(r, "group.member.remove", g, json_pack("{sI}", "user_id", (json_int_t)user_id));
  vg_store_group_get(r->app->store, g->id, g);
  publish_group(r->app, "updated", g);
  vg_api_no_content(r);
}

static void handle_members(vg_req *r, vg_group *g, const char *sub) {
  if (!sub[0]) {
    if (vg_req_is_get(r))
      list_members(r, g);
    else if (vg_req_method(r, "POST"))
      add_member(r, g);
    else
      vg_api_method_not_allowed(r, "GET, POST");
    return;
  }
  int64_t user_id;
  if (!vg_api_parse_id(sub, &user_id, NULL)) {
    vg_api_error(r, 404, "not_found", "no such route");
    return;
  }
  if (vg_req_method(r, "DELETE"))
    remove_member(r, g, user_id);
  else
    vg_api_method_not_allowed(r, "DELETE");
}

void vg_groups_handle(vg_req *r, const char *sub) {
  if (!vg_api_require_admin(r)) return;
  if (!sub[0]) {
    if (vg_req_is_get(r))
      list_groups(r);
    else if (vg_req_method(r, "POST"))
      create_group(r);
    else
      vg_api_method_not_allowed(r, "GET, POST");
    return;
  }
  int64_t id;
  const char *rest;
  if (!vg_api_item_id(r, sub, &id, &rest)) return;
  vg_group g;
  if (!load_group(r, id, &g)) return;
  if (strcmp(rest, "/members") == 0 || strncmp(rest, "/members/", 9) == 0) {
    handle_members(r, &g, rest + 8);
    return;
  }
  if (rest[0]) {
    vg_api_error(r, 404, "not_found", "no such route");
    return;
  }
  if (vg_req_is_get(r))
    answer_group(r, 200, &g);
  else if (vg_req_method(r, "PATCH"))
    patch_group(r, &g);
  else if (vg_req_method(r, "DELETE"))
    delete_group(r, &g);
  else
    vg_api_method_not_allowed(r, "GET, PATCH, DELETE");
}
