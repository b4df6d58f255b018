/* events.c - the events channel: a WebSocket per signed-in browser or
 * integration that pushes what changed, as JSON text messages.
 *
 * This replaces the separate messaging service of commercial suites. Each
 * event is serialised once into a shared buffer and queued on every
 * subscriber allowed to see it, without copying. Subscribers are a plain
 * doubly linked list: events are rare next to video, and the list is
 * walked only when one happens. */
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/json.h"
#include "base/log.h"
#include "net/ws.h"

/* A subscriber whose socket backs up past this is too slow to follow
 * events: it is closed and will reconnect and reload. */
#define EVENTS_MAX_QUEUED (4 << 20)

typedef struct sub {
  struct sub *prev, *next;
  vg_events *events;
  vg_http_conn *conn;
  int64_t user_id;
  bool admin;
  char token_hash[65];
} sub;

struct vg_events {
  vg_app *app;
  sub *subs;
  size_t count;
};

int vg_events_new(vg_app *app, vg_events **out) {
  vg_events *e = calloc(1, sizeof *e);
  if (!e) return VG_ENOMEM;
  e->app = app;
  *out = e;
  return 0;
}

void vg_events_free(vg_events *e) {
  /* Sockets are closed by the HTTP server first; their on_close unlinks. */
  free(e);
}

static void unlink_sub(sub *s) {
  vg_events *e = s->events;
  if (s->prev)
    s->prev->next = s->next;
  else
    e->subs = s->next;
  if (s->next) s->next->prev = s->prev;
  e->count--;
}

static void on_message(vg_http_conn *c, int opcode, const uint8_t *data, size_t len, void *ud) {
  /* Clients have nothing to say on this channel yet. */
}

static void on_close(vg_http_conn *c, uint16_t code, void *ud) {
  sub *s = ud;
  unlink_sub(s);
  vg_http_conn_release(s->conn);
  free(s);
}

static const vg_ws_handlers handlers = {on_message, on_close};

static void send_to(sub *s, vg_buf *b) {
  if (vg_http_conn_queued(s->conn) > EVENTS_MAX_QUEUED) {
    vg_log_warn("events: subscriber %s is too slow, closing", vg_http_conn_peer(s->conn));
    vg_ws_close(s->conn, 1008, "too slow");
    return;
  }
  vg_ws_send(s->conn, VG_WS_TEXT, b);
}

void vg_events_handle(vg_req *r) {
  if (strcmp(r->method, "GET") != 0) {
    vg_api_method_not_allowed(r, "GET");
    return;
  }
  if (!vg_api_require_user(r)) return;
  sub *s = calloc(1, sizeof *s);
  if (!s) {
    vg_api_error(r, 500, "internal", "out of memory");
    return;
  }
  s->events = r->app->events;
  s->conn = r->conn;
  s->user_id = r->user.id;
  s->admin = vg_req_is_admin(r);
  memcpy(s->token_hash, r->token_hash, sizeof s->token_hash);
  if (vg_http_upgrade_ws(r->conn, r->http, &handlers, s) != 0) {
    free(s);
    return;
  }
  vg_http_conn_hold(r->conn);
  vg_events *e = s->events;
  s->next = e->subs;
  if (e->subs) e->subs->prev = s;
  e->subs = s;
  e->count++;
  json_t *hello = json_pack("{s:s,s:o,s:I}", "type", "hello", "user", vg_user_json(&r->user), "at",
                            (json_int_t)vg_now_ms());
  vg_buf *b = vg_json_to_buf(hello);
  json_decref(hello);
  if (b) send_to(s, b);
  vg_buf_unref(b);
}

void vg_events_user_changed(vg_events *e, const char *action, const vg_user *u) {
  if (!e || !e->subs) return;
  json_t *j = json_pack("{s:s,s:s,s:o,s:I}", "type", "user.changed", "action", action, "user",
                        vg_user_json(u), "at", (json_int_t)vg_now_ms());
  vg_buf *b = vg_json_to_buf(j);
  json_decref(j);
  if (!b) return;
  for (sub *s = e->subs, *next; s; s = next) {
    next = s->next;
    if (s->user_id == u->id) s->admin = strcmp(u->role, "admin") == 0 && !u->disabled;
    if (s->admin || s->user_id == u->id) send_to(s, b);
  }
  vg_buf_unref(b);
}

void vg_events_end_sessions(vg_events *e, int64_t user_id, const char *token_hash) {
  if (!e) return;
  for (sub *s = e->subs, *next; s; s = next) {
    next = s->next;
    if (s->user_id == user_id && (!token_hash || strcmp(token_hash, s->token_hash) == 0))
      vg_ws_close(s->conn, 4001, "session ended");
  }
}

void vg_events_publish(vg_events *e, const char *type, int64_t room_id, json_t *payload) {
  if (!e || !e->subs || !payload) {
    json_decref(payload);
    return;
  }
  json_object_set_new(payload, "type", json_string(type));
  json_object_set_new(payload, "at", json_integer(vg_now_ms()));
  vg_buf *b = vg_json_to_buf(payload);
  json_decref(payload);
  if (!b) return;
  for (sub *s = e->subs, *next; s; s = next) {
    next = s->next;
    bool to = s->admin || room_id == VG_EVENTS_ALL;
    /* The store's rule decides, so events never show a room its pages hide. */
    if (!to && room_id > 0 && vg_store_room_visible(e->app->store, room_id, s->user_id, &to))
      to = false;
    if (to) send_to(s, b);
  }
  vg_buf_unref(b);
}
