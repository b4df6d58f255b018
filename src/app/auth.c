/* auth.c - sign-in, sign-out, first-run set-up, caller identification and
 * login throttling.
 *
 * A login creates one session row holding the SHA-256 of a random token;
 * the token itself goes to the client twice, as the bearer token in the
 * answer and in an HttpOnly cookie, so scripts and the browser UI share one
 * mechanism. Argon2id takes tens of milliseconds and a lot of memory, so
 * hashing and verifying run in libuv's thread pool; unknown names and
 * disabled accounts spend the same time, so timing tells nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>

#include "app/app.h"
#include "app/password.h"
#include "base/clock.h"
#include "base/crypto.h"
#include "base/err.h"
#include "base/json.h"
#include "base/log.h"

#define COOKIE_NAME "vigil_session"
#define PASSWORD_MIN 8
#define PASSWORD_MAX 1024
#define THROTTLE_BUCKETS 256
#define THROTTLE_MAX_KEYS 100000

/* ---- throttling ----
 * A fixed window per key: the first failure opens it, up to max failures
 * fit in it, and the key waits until it closes. A chained hash table of
 * small nodes; purge drops closed windows so memory follows attackers'
 * rate, bounded by THROTTLE_MAX_KEYS. */

typedef struct tnode {
  struct tnode *next;
  int64_t window_start;
  int64_t count;
  char key[];
} tnode;

struct vg_throttle {
  int64_t max, window_ms;
  size_t nkeys;
  tnode *buckets[THROTTLE_BUCKETS];
};

int vg_throttle_new(int64_t max, int64_t window_ms, vg_throttle **out) {
  vg_throttle *t = calloc(1, sizeof *t);
  if (!t) return VG_ENOMEM;
  t->max = max;
  t->window_ms = window_ms;
  *out = t;
  return 0;
}

void vg_throttle_free(vg_throttle *t) {
  if (!t) return;
  for (size_t i = 0; i < THROTTLE_BUCKETS; i++)
    for (tnode *n = t->buckets[i], *next; n; n = next) {
      next = n->next;
      free(n);
    }
  free(t);
}

static size_t bucket_of(const char *key) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (const unsigned char *p = (const unsigned char *)key; *p; p++)
    h = (h ^ (uint32_t)tolower(*p)) * 16777619u;
  return h % THROTTLE_BUCKETS;
}

static tnode **find_node(vg_throttle *t, const char *key) {
  tnode **pp = &t->buckets[bucket_of(key)];
  while (*pp && strcasecmp((*pp)->key, key) != 0) pp = &(*pp)->next;
  return pp;
}

int64_t vg_throttle_wait(vg_throttle *t, const char *key, int64_t now) {
  tnode *n = *find_node(t, key);
  if (!n || now - n->window_start >= t->window_ms || n->count < t->max) return 0;
  return n->window_start + t->window_ms - now;
}

void vg_throttle_fail(vg_throttle *t, const char *key, int64_t now) {
  tnode **pp = find_node(t, key);
  tnode *n = *pp;
  if (!n) {
    if (t->nkeys >= THROTTLE_MAX_KEYS) vg_throttle_purge(t, now);
    if (t->nkeys >= THROTTLE_MAX_KEYS) return;
    size_t kl = strlen(key);
    n = calloc(1, sizeof *n + kl + 1);
    if (!n) return;
    memcpy(n->key, key, kl + 1);
    n->window_start = now;
    n->next = t->buckets[bucket_of(key)];
    t->buckets[bucket_of(key)] = n;
    t->nkeys++;
  } else if (now - n->window_start >= t->window_ms) {
    n->window_start = now;
    n->count = 0;
  }
  n->count++;
}

void vg_throttle_reset(vg_throttle *t, const char *key) {
  tnode **pp = find_node(t, key);
  tnode *n = *pp;
  if (!n) return;
  *pp = n->next;
  free(n);
  t->nkeys--;
}

void vg_throttle_purge(vg_throttle *t, int64_t now) {
  for (size_t i = 0; i < THROTTLE_BUCKETS; i++) {
    tnode **pp = &t->buckets[i];
    while (*pp) {
      tnode *n = *pp;
      if (now - n->window_start >= t->window_ms) {
        *pp = n->next;
        free(n);
        t->nkeys--;
      } else {
        pp = &n->next;
      }
    }
  }
}

/* ---- identification ---- */

static bool token_from_request(vg_req *r, char *token, bool *via_cookie) {
  const vg_http_header *h = vg_http_find_header(r->http, "Authorization");
  *via_cookie = false;
  if (h) {
    if (h->value_len > 7 && strncasecmp(h->value, "Bearer ", 7) == 0 &&
        vg_token_valid(h->value + 7, h->value_len - 7)) {
      memcpy(token, h->value + 7, VG_TOKEN_LEN);
      token[VG_TOKEN_LEN] = 0;
      return true;
    }
    return false;
  }
  char q[VG_TOKEN_LEN + 8];
  if (vg_api_query(r, "access_token", q, sizeof q) == 0) {
    if (!vg_token_valid(q, strlen(q))) return false;
    memcpy(token, q, VG_TOKEN_LEN + 1);
    return true;
  }
  h = vg_http_find_header(r->http, "Cookie");
  const char *v;
  size_t vl;
  if (h && vg_http_cookie_get(h->value, h->value_len, COOKIE_NAME, &v, &vl) == 0 &&
      vg_token_valid(v, vl)) {
    memcpy(token, v, VG_TOKEN_LEN);
    token[VG_TOKEN_LEN] = 0;
    *via_cookie = true;
    return true;
  }
  return false;
}

void vg_auth_identify(vg_req *r) {
  char token[VG_TOKEN_LEN + 1];
  bool via_cookie;
  r->authed = false;
  if (!token_from_request(r, token, &via_cookie)) return;
  vg_token_hash(token, VG_TOKEN_LEN, r->token_hash);
  if (vg_store_session_get(r->app->store, r->token_hash, vg_now_ms(), &r->session) != 0) return;
  if (vg_store_user_get(r->app->store, r->session.user_id, &r->user) != 0 || r->user.disabled)
    return;
  r->authed = true;
  r->via_cookie = via_cookie;
}

/* ---- sessions ---- */

/* Creates a session for u and answers with the login shape. */
static void start_session(vg_req *r, const vg_user *u, int status) {
  vg_app *app = r->app;
  char token[VG_TOKEN_LEN + 1], csrf[VG_TOKEN_LEN + 1];
  vg_session s;
  memset(&s, 0, sizeof s);
  if (vg_token_new(token) || vg_token_new(csrf)) {
    vg_api_error(r, 500, "internal", "no randomness");
    return;
  }
  int64_t now = vg_now_ms();
  s.user_id = u->id;
  vg_token_hash(token, VG_TOKEN_LEN, s.token_hash);
  snprintf(s.csrf, sizeof s.csrf, "%s", csrf);
  snprintf(s.kind, sizeof s.kind, "cookie");
  snprintf(s.addr, sizeof s.addr, "%s", r->addr);
  s.created_at = now;
  s.expires_at = now + app->cfg.session_ttl_s * 1000;
  if (vg_store_session_create(app->store, &s) != 0) {
    vg_api_error(r, 500, "internal", "could not store the session");
    return;
  }
  json_t *j = json_pack("{s:s,s:I,s:s,s:{s:I,s:s,s:s}}", "access_token", token, "expires_at",
                        (json_int_t)s.expires_at, "csrf_token", csrf, "user", "id",
                        (json_int_t)u->id, "username", u->username, "role", u->role);
  char headers[256];
  snprintf(headers, sizeof headers,
           "Set-Cookie: " COOKIE_NAME
           "=%s; Path=/; Max-Age=%lld; HttpOnly; SameSite=Strict%s\r\n"
           "Cache-Control: no-store\r\n",
           token, (long long)app->cfg.session_ttl_s,
           vg_http_conn_is_tls(r->conn) ? "; Secure" : "");
  vg_buf *b = vg_json_to_buf(j);
  json_decref(j);
  vg_http_respond(r->conn, status, "application/json", headers, b);
}

/* ---- login ---- */

typedef struct login_job {
  uv_work_t work;
  vg_req r; /* the request stays valid until we answer */
  bool setup;
  bool found;
  vg_user user;
  char password[PASSWORD_MAX + 1];
  size_t password_len;
  char key_user[VG_USERNAME_MAX + 8];
  int rc; /* verify or hash result */
} login_job;

static void login_work(uv_work_t *w) {
  login_job *j = w->data;
  if (j->setup)
    j->rc = vg_password_hash(j->password, j->password_len, j->user.pwhash);
  else if (j->found && !j->user.disabled)
    j->rc = vg_password_verify(j->user.pwhash, j->password, j->password_len);
  else {
    vg_password_dummy_verify(j->password, j->password_len);
    j->rc = VG_EAUTH;
  }
  explicit_bzero(j->password, sizeof j->password);
}

static void login_done(uv_work_t *w, int status) {
  login_job *j = w->data;
  vg_req *r = &j->r;
  vg_app *app = r->app;
  int64_t now = vg_now_ms();
  if (j->setup) {
    int64_t count = 1;
    vg_store_user_count(app->store, &count);
    if (status < 0 || j->rc != 0) {
      if (!vg_http_conn_closed(r->conn)) vg_api_error(r, 500, "internal", "hashing failed");
    } else if (count > 0) {
      if (!vg_http_conn_closed(r->conn))
        vg_api_error(r, 409, "already_set_up", "an administrator already exists; sign in");
    } else if (vg_store_user_create(app->store, &j->user) != 0) {
      if (!vg_http_conn_closed(r->conn))
        vg_api_error(r, 500, "internal", "could not create the user");
    } else {
      vg_audit_as(app, j->user.id, j->user.username, r->addr, "setup", "", NULL);
      char target[32];
      snprintf(target, sizeof target, "user:%lld", (long long)j->user.id);
      vg_audit_as(app, j->user.id, j->user.username, r->addr, "user.create", target,
                  json_pack("{s:s,s:s}", "username", j->user.username, "role", "admin"));
      vg_events_user_changed(app->events, "created", &j->user);
      if (!vg_http_conn_closed(r->conn)) start_session(r, &j->user, 201);
    }
  } else if (status == 0 && j->rc == 0) {
    vg_throttle_reset(app->throttle_user, j->key_user);
    vg_audit_as(app, j->user.id, j->user.username, r->addr, "login", "", NULL);
    if (vg_password_needs_rehash(j->user.pwhash))
      vg_log_debug("login: %s has an old hash", j->user.username);
    if (!vg_http_conn_closed(r->conn)) start_session(r, &j->user, 200);
  } else {
    vg_throttle_fail(app->throttle_user, j->key_user, now);
    vg_throttle_fail(app->throttle_addr, r->addr, now);
    const char *reason = !j->found          ? "unknown_user"
                         : j->user.disabled ? "disabled"
                                            : "wrong_password";
    vg_audit_as(app, j->found ? j->user.id : 0, j->key_user, r->addr, "login.failed", "",
                json_pack("{s:s}", "reason", reason));
    if (!vg_http_conn_closed(r->conn))
      vg_api_error(r, 401, "bad_credentials", "wrong username or password");
  }
  vg_http_conn_release(r->conn);
  free(j);
}

/* Reads {"username", "password"} into a new job; answers on failure. */
static login_job *read_credentials(vg_req *r) {
  json_t *body;
  if (vg_api_body(r, &body)) return NULL;
  const char *name, *pw;
  size_t nl, pl;
  int rn = vg_json_string(body, "username", &name, &nl);
  int rp = vg_json_string(body, "password", &pw, &pl);
  login_job *j = NULL;
  if (rn || rp) {
    vg_api_error(r, 422, "invalid_field", "%s must be a string", rn ? "username" : "password");
  } else if (nl == 0 || nl > VG_USERNAME_MAX || strlen(name) != nl) {
    vg_api_error(r, 422, "invalid_field", "username must be 1 to %d characters", VG_USERNAME_MAX);
  } else if (pl > PASSWORD_MAX) {
    vg_api_error(r, 422, "invalid_field", "password is longer than %d bytes", PASSWORD_MAX);
  } else if (!(j = calloc(1, sizeof *j))) {
    vg_api_error(r, 500, "internal", "out of memory");
  } else {
    j->r = *r;
    j->work.data = j;
    memcpy(j->password, pw, pl);
    j->password_len = pl;
    memcpy(j->key_user, name, nl);
  }
  json_decref(body);
  return j;
}

static void queue_job(vg_req *r, login_job *j) {
  j->r.conn = vg_http_conn_hold(r->conn);
  if (uv_queue_work(r->app->loop, &j->work, login_work, login_done) != 0) {
    vg_http_conn_release(r->conn);
    free(j);
    vg_api_error(r, 503, "busy", "try again");
  }
}

void vg_auth_handle_login(vg_req *r) {
  if (strcmp(r->method, "POST") != 0) {
    vg_api_method_not_allowed(r, "POST");
    return;
  }
  login_job *j = read_credentials(r);
  if (!j) return;
  vg_app *app = r->app;
  int64_t now = vg_now_ms();
  int64_t wait = vg_throttle_wait(app->throttle_addr, r->addr, now);
  int64_t wait_user = vg_throttle_wait(app->throttle_user, j->key_user, now);
  if (wait_user > wait) wait = wait_user;
  if (wait > 0) {
    vg_audit_as(app, 0, j->key_user, r->addr, "login.throttled", "", NULL);
    char headers[64];
    snprintf(headers, sizeof headers, "Retry-After: %lld\r\n", (long long)((wait + 999) / 1000));
    json_t *e = json_pack("{s:{s:s,s:s}}", "error", "code", "too_many_attempts", "message",
                          "too many failed sign-ins; try again later");
    vg_buf *b = vg_json_to_buf(e);
    json_decref(e);
    explicit_bzero(j->password, sizeof j->password);
    free(j);
    vg_http_respond(r->conn, 429, "application/json", headers, b);
    return;
  }
  j->found = vg_store_user_by_name(app->store, j->key_user, &j->user) == 0;
  queue_job(r, j);
}

void vg_auth_handle_setup(vg_req *r) {
  int64_t count = 0;
  if (vg_store_user_count(r->app->store, &count) != 0) {
    vg_api_error(r, 500, "internal", "store unavailable");
    return;
  }
  if (strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0) {
    vg_api_json(r, 200, json_pack("{s:b}", "needs_setup", count == 0));
    return;
  }
  if (strcmp(r->method, "POST") != 0) {
    vg_api_method_not_allowed(r, "GET, POST");
    return;
  }
  if (count > 0) {
    vg_api_error(r, 409, "already_set_up", "an administrator already exists; sign in");
    return;
  }
  login_job *j = read_credentials(r);
  if (!j) return;
  if (!vg_username_valid(j->key_user, strlen(j->key_user)) || j->password_len < PASSWORD_MIN) {
    vg_api_error(r, 422, "invalid_field",
                 !vg_username_valid(j->key_user, strlen(j->key_user))
                     ? "username may hold letters, digits and . _ - @"
                     : "password must be at least 8 bytes");
    explicit_bzero(j->password, sizeof j->password);
    free(j);
    return;
  }
  j->setup = true;
  snprintf(j->user.username, sizeof j->user.username, "%s", j->key_user);
  snprintf(j->user.role, sizeof j->user.role, "admin");
  queue_job(r, j);
}

void vg_auth_handle_logout(vg_req *r) {
  if (strcmp(r->method, "POST") != 0) {
    vg_api_method_not_allowed(r, "POST");
    return;
  }
  if (!vg_api_require_user(r)) return;
  vg_store_session_delete(r->app->store, r->token_hash);
  vg_events_end_sessions(r->app->events, r->user.id, r->token_hash);
  vg_audit(r->app, r, "logout", "", NULL);
  vg_http_respond(r->conn, 204, NULL,
                  "Set-Cookie: " COOKIE_NAME
                  "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict\r\n"
                  "Cache-Control: no-store\r\n",
                  NULL);
}

void vg_auth_handle_me(vg_req *r) {
  if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
    vg_api_method_not_allowed(r, "GET");
    return;
  }
  if (!vg_api_require_user(r)) return;
  json_t *j = vg_user_json(&r->user);
  json_object_set_new(j, "csrf_token", json_string(r->session.csrf));
  json_object_set_new(j, "expires_at", json_integer(r->session.expires_at));
  vg_api_json(r, 200, j);
}
