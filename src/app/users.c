/* users.c - the /api/v1/users routes: list, create, read, change, delete.
 *
 * Password hashing (Argon2id, tens of milliseconds) runs in the libuv thread
 * pool so the loop keeps serving. Such a request moves to a heap job: a
 * copy of the vg_req (the router's copy lives on its stack), the fields the
 * worker needs, and a hold on the connection. Everything that touches the
 * store runs on the loop thread, in the after-work callback; checks that
 * depend on the store (name taken, last admin) are made before hashing, to
 * answer early, and again after it, because the store may have changed
 * meanwhile. */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "base/err.h"
#include "base/log.h"

#include "app/password.h"

/* Which PATCH fields were given. */
enum { SET_ROLE = 1, SET_DISABLED = 2, SET_PASSWORD = 4 };

typedef struct user_job {
  uv_work_t work;
  vg_req req; /* the caller; pointers into the request stay valid while held */
  char addr[64];
  int64_t id; /* PATCH: the target */
  unsigned set;
  char username[VG_USERNAME_MAX + 1];
  char role[VG_ROLE_MAX + 1];
  bool disabled;
  char *password; /* wiped and freed once hashed */
  size_t password_len;
  char pwhash[VG_PWHASH_MAX + 1];
  int hash_rc;
} user_job;

/* Parses "/ID": digits only, fitting int64. */
static bool parse_id(const char *sub, int64_t *id) {
  if (sub[0] != '/' || !sub[1]) return false;
  int64_t v = 0;
  for (const char *p = sub + 1; *p; p++) {
    if (*p < '0' || *p > '9') return false;
    int d = *p - '0';
    if (v > (INT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *id = v;
  return true;
}

static void answer_user(vg_req *r, int status, const vg_user *u) {
  json_t *j = vg_user_json(u);
  if (!j) {
    vg_api_error(r, 500, "internal", "out of memory");
    return;
  }
  vg_api_json(r, status, j);
}

static bool enabled_admin(const vg_user *u) {
  return !u->disabled && strcmp(u->role, "admin") == 0;
}

/* True (after answering 409) when turning `before` into `after` (NULL: the
 * user goes away) would leave no enabled admin. */
static bool refuse_last_admin(vg_req *r, const vg_user *before, const vg_user *after) {
  if (!enabled_admin(before) || (after && enabled_admin(after))) return false;
  int64_t admins = 0;
  int rc = vg_store_admin_count(r->app->store, &admins);
  if (rc) {
    vg_api_store_error(r, "count admins", rc);
    return true;
  }
  if (admins > 1) return false;
  vg_api_error(r, 409, "last_admin", "%s is the last enabled admin", before->username);
  return true;
}

static void end_sessions(vg_app *app, int64_t user_id) {
  int rc = vg_store_session_delete_user(app->store, user_id);
  if (rc)
    vg_log_warn("users: ending the sessions of user %" PRId64 ": %s", user_id, vg_strerror(rc));
  vg_events_end_sessions(app->events, user_id, NULL);
}

/* Password checks shared by create and change; answers 422 itself. */
static bool password_ok(vg_req *r, size_t len) {
  if (len < VG_PASSWORD_MIN || len > VG_PASSWORD_MAX) {
    vg_api_error(r, 422, "invalid_field", "password must be %d to %d bytes long", VG_PASSWORD_MIN,
                 VG_PASSWORD_MAX);
    return false;
  }
  return true;
}

static user_job *job_new(vg_req *r, const char *password, size_t len) {
  user_job *job = calloc(1, sizeof *job);
  if (!job) return NULL;
  job->password = malloc(len + 1);
  if (!job->password) {
    free(job);
    return NULL;
  }
  memcpy(job->password, password, len);
  job->password[len] = 0;
  job->password_len = len;
  job->req = *r;
  snprintf(job->addr, sizeof job->addr, "%s", r->addr ? r->addr : "");
  job->req.addr = job->addr;
  job->work.data = job;
  return job;
}

static void job_free(user_job *job) {
  if (job->password) {
    sodium_memzero(job->password, job->password_len);
    free(job->password);
  }
  sodium_memzero(job->pwhash, sizeof job->pwhash);
  free(job);
}

/* Worker thread: touches nothing but the job. */
static void hash_work(uv_work_t *w) {
  user_job *job = w->data;
  job->hash_rc = vg_password_hash(job->password, job->password_len, job->pwhash);
  sodium_memzero(job->password, job->password_len);
}

/* Starts hashing; on success the job owns a hold on the connection and
 * after_cb will run on the loop. On failure answers 500 and frees job. */
static void job_start(user_job *job, uv_after_work_cb after_cb) {
  vg_req *r = &job->req;
  vg_http_conn_hold(r->conn);
  int rc = uv_queue_work(r->app->loop, &job->work, hash_work, after_cb);
  if (rc) {
    vg_log_error("users: cannot queue password hashing: %s", uv_strerror(rc));
    vg_api_error(r, 500, "internal", "cannot hash the password");
    vg_http_conn_release(r->conn);
    job_free(job);
  }
}

/* ---- GET /api/v1/users ------------------------------------------------ */

static void list_users(vg_req *r) {
  if (!vg_api_require_admin(r)) return;
  int64_t limit, offset;
  if (vg_api_paging(r, &limit, &offset)) return;
  vg_user *users = NULL;
  size_t n = 0;
  int64_t total = 0;
  int rc = vg_store_user_list(r->app->store, limit, offset, &users, &n, &total);
  if (rc) {
    vg_api_store_error(r, "list users", rc);
    return;
  }
  json_t *items = json_array();
  for (size_t i = 0; items && i < n; i++) {
    json_t *u = vg_user_json(&users[i]);
    if (!u || json_array_append_new(items, u)) {
      json_decref(items);
      items = NULL;
    }
  }
  if (users) sodium_memzero(users, n * sizeof *users);
  free(users);
  vg_api_list(r, items, total);
}

/* ---- POST /api/v1/users ----------------------------------------------- */

/* Reads a required string field; answers 422 and returns false when it is
 * absent or not a string. */
static bool required_string(vg_req *r, json_t *body, const char *key, const char **out,
                            size_t *len) {
  json_t *v = json_object_get(body, key);
  if (!v || json_is_null(v)) {
    vg_api_error(r, 422, "invalid_field", "%s is required", key);
    return false;
  }
  if (!json_is_string(v)) {
    vg_api_error(r, 422, "invalid_field", "%s must be a string", key);
    return false;
  }
  *out = json_string_value(v);
  *len = json_string_length(v);
  return true;
}

static void create_done(uv_work_t *w, int status) {
  user_job *job = w->data;
  vg_req *r = &job->req;
  bool gone = vg_http_conn_closed(r->conn);
  if (status == UV_ECANCELED) goto out;
  if (job->hash_rc) {
    vg_log_error("users: password hashing failed: %s", vg_strerror(job->hash_rc));
    if (!gone) vg_api_error(r, 500, "internal", "cannot hash the password");
    goto out;
  }

  vg_user u;
  memset(&u, 0, sizeof u);
  memcpy(u.username, job->username, sizeof u.username);
  memcpy(u.role, job->role, sizeof u.role);
  memcpy(u.pwhash, job->pwhash, sizeof u.pwhash);
  int rc = vg_store_user_create(r->app->store, &u);
  if (rc == VG_EEXIST) {
    if (!gone) vg_api_error(r, 409, "username_taken", "the username %s is taken", job->username);
  } else if (rc) {
    if (gone)
      vg_log_error("users: create user: %s", vg_strerror(rc));
    else
      vg_api_store_error(r, "create the user", rc);
  } else {
    char target[32];
    snprintf(target, sizeof target, "user:%" PRId64, u.id);
    vg_audit(r->app, r, "user.create", target,
             json_pack("{ss ss}", "username", u.username, "role", u.role));
    vg_events_user_changed(r->app->events, "created", &u);
    if (!gone) answer_user(r, 201, &u);
  }
  sodium_memzero(u.pwhash, sizeof u.pwhash);
out:
  vg_http_conn_release(r->conn);
  job_free(job);
}

static void create_user(vg_req *r) {
  if (!vg_api_require_admin(r)) return;
  json_t *body;
  if (vg_api_body(r, &body)) return;

  const char *username, *password, *role;
  size_t ulen, plen, rlen;
  if (!required_string(r, body, "username", &username, &ulen) ||
      !required_string(r, body, "password", &password, &plen) ||
      !required_string(r, body, "role", &role, &rlen))
    goto out;
  if (!vg_username_valid(username, ulen)) {
    vg_api_error(r, 422, "invalid_field",
                 "username must be 1 to %d letters, digits, '.', '_', '-' or '@'", VG_USERNAME_MAX);
    goto out;
  }
  if (!password_ok(r, plen)) goto out;
  if (strlen(role) != rlen || !vg_role_valid(role)) {
    vg_api_error(r, 422, "invalid_field", "role must be admin, operator or viewer");
    goto out;
  }
  /* Answer a taken name before spending a hash on it. */
  vg_user existing;
  int rc = vg_store_user_by_name(r->app->store, username, &existing);
  if (rc == 0) {
    vg_api_error(r, 409, "username_taken", "the username %s is taken", username);
    goto out;
  }
  if (rc != VG_ENOTFOUND) {
    vg_api_store_error(r, "look up the username", rc);
    goto out;
  }

  user_job *job = job_new(r, password, plen);
  if (!job) {
    vg_api_error(r, 500, "internal", "out of memory");
    goto out;
  }
  snprintf(job->username, sizeof job->username, "%s", username);
  snprintf(job->role, sizeof job->role, "%s", role);
  job_start(job, create_done);
out:
  json_decref(body);
}

/* ---- /api/v1/users/ID ------------------------------------------------- */

/* Loads user id; answers 404 (or 500) and returns false when it fails. */
static bool load_user(vg_req *r, int64_t id, vg_user *u) {
  int rc = vg_store_user_get(r->app->store, id, u);
  if (rc == VG_ENOTFOUND) {
    vg_api_error(r, 404, "not_found", "no user %" PRId64, id);
    return false;
  }
  if (rc) {
    vg_api_store_error(r, "read the user", rc);
    return false;
  }
  return true;
}

static void get_user(vg_req *r, int64_t id) {
  /* Others' ids are not revealed to non-admins, existing or not. */
  if (!vg_req_is_admin(r) && r->user.id != id) {
    vg_api_error(r, 403, "forbidden", "only an admin may read other users");
    return;
  }
  vg_user u;
  if (!load_user(r, id, &u)) return;
  answer_user(r, 200, &u);
}

/* Applies the checked PATCH fields in job to user job->id, on the loop
 * thread: reloads the user, checks the last-admin rule, writes, ends
 * sessions, audits, tells the event channel and answers (unless quiet,
 * when the connection has gone). Returns false when it answered an error. */
static bool patch_apply(user_job *job, bool write, bool quiet) {
  vg_req *r = &job->req;
  vg_user before, after;
  if (!load_user(r, job->id, &before)) return false;
  after = before;
  if (job->set & SET_ROLE) memcpy(after.role, job->role, sizeof after.role);
  if (job->set & SET_DISABLED) after.disabled = job->disabled;
  if (job->set & SET_PASSWORD) memcpy(after.pwhash, job->pwhash, sizeof after.pwhash);
  if (refuse_last_admin(r, &before, &after)) return false;
  if (!write) return true;

  int rc = vg_store_user_update(r->app->store, &after);
  if (rc == VG_ENOTFOUND) {
    vg_api_error(r, 404, "not_found", "no user %" PRId64, job->id);
    return false;
  }
  if (rc) {
    vg_api_store_error(r, "update the user", rc);
    return false;
  }
  if ((job->set & SET_PASSWORD) || (after.disabled && !before.disabled))
    end_sessions(r->app, job->id);
  /* Reread for the new updated_at. */
  if (vg_store_user_get(r->app->store, job->id, &after)) after.updated_at = before.updated_at;

  json_t *fields = json_array();
  if (job->set & SET_ROLE) json_array_append_new(fields, json_string("role"));
  if (job->set & SET_DISABLED) json_array_append_new(fields, json_string("disabled"));
  if (job->set & SET_PASSWORD) json_array_append_new(fields, json_string("password"));
  char target[32];
  snprintf(target, sizeof target, "user:%" PRId64, job->id);
  vg_audit(r->app, r, "user.update", target,
           json_pack("{ss so}", "username", after.username, "fields", fields));
  vg_events_user_changed(r->app->events, "updated", &after);
  if (!quiet) answer_user(r, 200, &after);
  sodium_memzero(before.pwhash, sizeof before.pwhash);
  sodium_memzero(after.pwhash, sizeof after.pwhash);
  return true;
}

static void patch_done(uv_work_t *w, int status) {
  user_job *job = w->data;
  vg_req *r = &job->req;
  bool gone = vg_http_conn_closed(r->conn);
  if (status == UV_ECANCELED) goto out;
  if (job->hash_rc) {
    vg_log_error("users: password hashing failed: %s", vg_strerror(job->hash_rc));
    if (!gone) vg_api_error(r, 500, "internal", "cannot hash the password");
    goto out;
  }
  /* Answers on a closed connection are dropped by the server anyway. */
  patch_apply(job, true, gone);
out:
  vg_http_conn_release(r->conn);
  job_free(job);
}

static void patch_user(vg_req *r, int64_t id) {
  bool admin = vg_req_is_admin(r);
  if (!admin && r->user.id != id) {
    vg_api_error(r, 403, "forbidden", "only an admin may change other users");
    return;
  }
  json_t *body;
  if (vg_api_body(r, &body)) return;

  user_job tmp; /* fields for the synchronous path; a heap job when hashing */
  memset(&tmp, 0, sizeof tmp);
  tmp.req = *r;
  tmp.id = id;
  const char *password = NULL;
  size_t plen = 0;

  const char *key;
  json_t *v;
  json_object_foreach(body, key, v) {
    bool is_password = strcmp(key, "password") == 0;
    if (!admin && !is_password) {
      vg_api_error(r, 403, "forbidden", "only an admin may change %s", key);
      goto out;
    }
    if (strcmp(key, "role") == 0) {
      if (!json_is_string(v)) {
        vg_api_error(r, 422, "invalid_field", "role must be a string");
        goto out;
      }
      const char *role = json_string_value(v);
      if (strlen(role) != json_string_length(v) || !vg_role_valid(role)) {
        vg_api_error(r, 422, "invalid_field", "role must be admin, operator or viewer");
        goto out;
      }
      snprintf(tmp.role, sizeof tmp.role, "%s", role);
      tmp.set |= SET_ROLE;
    } else if (strcmp(key, "disabled") == 0) {
      if (!json_is_boolean(v)) {
        vg_api_error(r, 422, "invalid_field", "disabled must be true or false");
        goto out;
      }
      tmp.disabled = json_is_true(v);
      tmp.set |= SET_DISABLED;
    } else if (is_password) {
      if (!json_is_string(v)) {
        vg_api_error(r, 422, "invalid_field", "password must be a string");
        goto out;
      }
      password = json_string_value(v);
      plen = json_string_length(v);
      if (!password_ok(r, plen)) goto out;
      tmp.set |= SET_PASSWORD;
    } else {
      vg_api_error(r, 422, "invalid_field",
                   "unknown field %s (expected role, disabled or password)", key);
      goto out;
    }
  }
  if (!tmp.set) {
    vg_api_error(r, 422, "invalid_field", "nothing to change: give role, disabled or password");
    goto out;
  }

  if (!(tmp.set & SET_PASSWORD)) {
    patch_apply(&tmp, true, false);
    goto out;
  }
  /* Check everything but the hash now, so a refusal does not wait for it. */
  if (!patch_apply(&tmp, false, false)) goto out;
  user_job *job = job_new(r, password, plen);
  if (!job) {
    vg_api_error(r, 500, "internal", "out of memory");
    goto out;
  }
  job->id = id;
  job->set = tmp.set;
  memcpy(job->role, tmp.role, sizeof job->role);
  job->disabled = tmp.disabled;
  job_start(job, patch_done);
out:
  json_decref(body);
}

static void delete_user(vg_req *r, int64_t id) {
  if (!vg_api_require_admin(r)) return;
  vg_user u;
  if (!load_user(r, id, &u)) return;
  if (refuse_last_admin(r, &u, NULL)) return;
  int rc = vg_store_user_delete(r->app->store, id);
  if (rc == VG_ENOTFOUND) {
    vg_api_error(r, 404, "not_found", "no user %" PRId64, id);
    return;
  }
  if (rc) {
    vg_api_store_error(r, "delete the user", rc);
    return;
  }
  end_sessions(r->app, id);
  char target[32];
  snprintf(target, sizeof target, "user:%" PRId64, id);
  vg_audit(r->app, r, "user.delete", target,
           json_pack("{ss ss}", "username", u.username, "role", u.role));
  vg_events_user_changed(r->app->events, "deleted", &u);
  sodium_memzero(u.pwhash, sizeof u.pwhash);
  vg_api_no_content(r);
}

void vg_users_handle(vg_req *r, const char *sub) {
  if (!vg_api_require_user(r)) return;
  if (!sub[0]) {
    if (vg_req_is_get(r))
      list_users(r);
    else if (vg_req_method(r, "POST"))
      create_user(r);
    else
      vg_api_method_not_allowed(r, "GET, POST");
    return;
  }
  int64_t id;
  if (!parse_id(sub, &id)) {
    vg_api_error(r, 404, "not_found", "no such route");
    return;
  }
  if (vg_req_is_get(r))
    get_user(r, id);
  else if (vg_req_method(r, "PATCH"))
    patch_user(r, id);
  else if (vg_req_method(r, "DELETE"))
    delete_user(r, id);
  else
    vg_api_method_not_allowed(r, "GET, PATCH, DELETE");
}
