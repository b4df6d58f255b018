/* test_http.c - the libuv HTTP/WebSocket server end to end, without the app.
 *
 * Each test starts a server on 127.0.0.1 (port 0) whose handler answers
 * "hello" and upgrades /ws to an echoing WebSocket, runs the loop on the
 * test's thread and a client on a second thread speaking through plain
 * blocking sockets. The client cannot use cr_assert (it long-jumps on the
 * test's thread), so it records its first failure in a message that the test
 * checks once the loop has stopped. The client stops the loop through a
 * uv_async_t; alarm() and socket time-outs keep a broken server from
 * hanging the run. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "base/err.h"
#include "net/http.h"
#include "net/ws.h"

/* Criterion's workers leave without LeakSanitizer's exit check, so tests
 * that care about ownership ask for it explicitly. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define EXPECT_NO_LEAKS() \
  cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "memory leaked (LeakSanitizer report above)")
#else
#define EXPECT_NO_LEAKS() ((void)0)
#endif

#define IO_TIMEOUT_S 5
#define TEST_ALARM_S 30

/* ---- the server side (loop thread) ---- */

typedef struct server_state {
  uv_loop_t loop;
  uv_async_t stop;
  vg_http_server *srv;
  int port;
  bool closed;         /* vg_http_server_close's callback ran */
  int requests;        /* handler calls */
  int ws_messages;     /* WebSocket messages echoed */
  int ws_closes;       /* on_close calls */
  uint16_t close_code; /* last on_close code */
  /* Streamed answers (/stream?n=BYTES[&chunked=1]). */
  size_t stream_max_queued; /* largest queue seen right after a write */
  int stream_closed;        /* drain callbacks that found the conn gone */
  int stream_ended;         /* streams finished with vg_http_stream_end */
} server_state;

static server_state S;

/* ---- a streamed answer: the producer writes 64 KiB pieces of a known
 * pattern only while less than 256 KiB is queued, as a file reader would */

#define STREAM_PIECE (64u << 10)
#define STREAM_LOW (256u << 10)

typedef struct streamer {
  size_t total, sent;
  bool done;
} streamer;

static streamer ST;

static uint8_t pattern_byte(size_t off) { return (uint8_t)(off * 7 + off / 65536); }

static void stream_pump(vg_http_conn *c, void *ud) {
  streamer *st = ud;
  if (st->done) return;
  if (vg_http_conn_closed(c)) {
    __atomic_add_fetch(&S.stream_closed, 1, __ATOMIC_SEQ_CST); /* a client polls it */
    st->done = true;
    vg_http_conn_release(c);
    return;
  }
  while (st->sent < st->total && vg_http_conn_queued(c) < STREAM_LOW) {
    size_t n = st->total - st->sent < STREAM_PIECE ? st->total - st->sent : STREAM_PIECE;
    vg_buf *b = vg_buf_new(n);
    for (size_t i = 0; i < n; i++) b->data[i] = pattern_byte(st->sent + i);
    int rc = vg_http_stream_write(c, b);
    vg_buf_unref(b);
    if (rc) return; /* closing: the drain callback comes once more */
    st->sent += n;
    if (vg_http_conn_queued(c) > S.stream_max_queued) S.stream_max_queued = vg_http_conn_queued(c);
  }
  if (st->sent == st->total) {
    st->done = true;
    __atomic_add_fetch(&S.stream_ended, 1, __ATOMIC_SEQ_CST);
    vg_http_stream_end(c);
    vg_http_conn_release(c);
  }
}

static void stream_start(vg_http_conn *c, const vg_http_request *req) {
  char q[64] = "";
  if (req->query && req->query_len < sizeof q) memcpy(q, req->query, req->query_len);
  size_t n = (size_t)strtoull(q + 2, NULL, 10); /* "n=..." */
  bool chunked = strstr(q, "chunked=1") != NULL;
  ST = (streamer){n, 0, false};
  vg_http_conn_hold(c);
  vg_http_stream_begin(c, 200, "application/octet-stream", "X-Stream: yes\r\n",
                       chunked ? -1 : (int64_t)n, stream_pump, &ST);
  stream_pump(c, &ST);
}

static void ws_on_message(vg_http_conn *c, int opcode, const uint8_t *data, size_t len, void *ud) {
  S.ws_messages++;
  vg_buf *b = vg_buf_from(data, len);
  vg_ws_send(c, opcode, b);
  vg_buf_unref(b);
}

static void ws_on_close(vg_http_conn *c, uint16_t code, void *ud) {
  S.ws_closes++;
  S.close_code = code;
}

static const vg_ws_handlers echo_ws = {ws_on_message, ws_on_close};

/* Answers "hello" with the path and body length in headers, so a client can
 * tell pipelined answers apart; /ws becomes an echoing WebSocket. */
static void handler(vg_http_conn *c, const vg_http_request *req, const uint8_t *body,
                    size_t body_len, void *ud) {
  S.requests++;
  if (req->path_len == 3 && memcmp(req->path, "/ws", 3) == 0) {
    vg_http_upgrade_ws(c, req, &echo_ws, NULL);
    return;
  }
  if (req->path_len == 7 && memcmp(req->path, "/stream", 7) == 0) {
    stream_start(c, req);
    return;
  }
  char headers[512];
  int pl = req->path_len > 200 ? 200 : (int)req->path_len;
  snprintf(headers, sizeof headers, "X-Path: %.*s\r\nX-Body-Length: %zu\r\n", pl, req->path,
           body_len);
  vg_http_respond_mem(c, 200, "text/plain", headers, "hello", 5);
}

static void server_closed(void *ud) { S.closed = true; }

static void stop_cb(uv_async_t *a) {
  vg_http_server_close(S.srv, server_closed, NULL);
  uv_close((uv_handle_t *)a, NULL);
}

static const vg_http_limits_cfg small_limits = {
    .max_header_bytes = 2048,
    .max_body_bytes = 1024,
    .header_timeout_ms = 5000,
    .idle_timeout_ms = 5000,
    .max_connections = 32,
    .ws_max_message = 4096,
};

/* ---- the client side (client thread) ---- */

typedef struct client {
  int port;
  char fail[512]; /* first failure, empty when all went well */
  void (*scenario)(struct client *);
  bool stopped; /* the stop was sent: an async handle is closed after one */
} client;

/* Asks the loop thread to close the server (once). */
static void stop_server(client *cl) {
  if (cl->stopped) return;
  cl->stopped = true;
  uv_async_send(&S.stop);
}

/* Records the first failure; returns false so callers can `return fail(...)`. */
static bool fail(client *cl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(client *cl, const char *fmt, ...) {
  if (cl->fail[0]) return false;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cl->fail, sizeof cl->fail, fmt, ap);
  va_end(ap);
  return false;
}

#define CHECK(cl, cond, ...) \
  do {                       \
    if (!(cond)) {           \
      fail(cl, __VA_ARGS__); \
      return;                \
    }                        \
  } while (0)

typedef struct sock {
  int fd;
  char buf[65536]; /* received and not yet consumed */
  size_t len;
} sock;

static bool sock_open(client *cl, sock *s) {
  memset(s, 0, sizeof *s);
  s->fd = socket(AF_INET, SOCK_STREAM, 0);
  if (s->fd < 0) return fail(cl, "socket: %s", strerror(errno));
  struct timeval tv = {IO_TIMEOUT_S, 0};
  setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(s->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cl->port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(s->fd, (struct sockaddr *)&a, sizeof a) < 0)
    return fail(cl, "connect to %d: %s", cl->port, strerror(errno));
  return true;
}

static void sock_close(sock *s) {
  if (s->fd >= 0) close(s->fd);
  s->fd = -1;
}

static bool send_all(client *cl, sock *s, const void *data, size_t len) {
  const char *p = data;
  while (len) {
    ssize_t n = send(s->fd, p, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail(cl, "send: %s", strerror(errno));
    p += n;
    len -= (size_t)n;
  }
  return true;
}

static bool send_str(client *cl, sock *s, const char *text) {
  return send_all(cl, s, text, strlen(text));
}

/* Reads more bytes into s->buf. Returns >0 bytes, 0 on EOF, <0 on error
 * or time-out. */
static ssize_t fill(sock *s) {
  if (s->len == sizeof s->buf) return -1;
  for (;;) {
    ssize_t n = recv(s->fd, s->buf + s->len, sizeof s->buf - s->len, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n > 0) s->len += (size_t)n;
    return n;
  }
}

static void consume(sock *s, size_t n) {
  memmove(s->buf, s->buf + n, s->len - n);
  s->len -= n;
}

typedef struct response {
  int status;
  char head[4096]; /* NUL-terminated, including the blank line */
  char body[4096];
  size_t body_len;
  long content_length; /* -1 when absent */
} response;

/* Finds a header's value in a response head (case-insensitive name). */
static bool header_value(const response *r, const char *name, char *out, size_t cap) {
  size_t nl = strlen(name);
  for (const char *p = strstr(r->head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
    const char *line = p + 2;
    if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
      const char *v = line + nl + 1;
      while (*v == ' ') v++;
      const char *end = strstr(v, "\r\n");
      size_t vl = (size_t)(end - v);
      if (vl >= cap) vl = cap - 1;
      memcpy(out, v, vl);
      out[vl] = 0;
      return true;
    }
  }
  return false;
}

/* Reads one response (head and Content-Length body). no_body: the answer to
 * HEAD, whose Content-Length describes a body that is not sent. */
static bool read_response(client *cl, sock *s, response *r, bool no_body) {
  memset(r, 0, sizeof *r);
  char *end;
  for (;;) {
    end = memmem(s->buf, s->len, "\r\n\r\n", 4);
    if (end) break;
    ssize_t n = fill(s);
    if (n <= 0)
      return fail(cl, "response head: %s after %zu bytes",
                  n == 0 ? "connection closed" : "read failed or timed out", s->len);
  }
  size_t hl = (size_t)(end - s->buf) + 4;
  if (hl >= sizeof r->head) return fail(cl, "response head too long");
  memcpy(r->head, s->buf, hl);
  r->head[hl] = 0;
  consume(s, hl);
  if (sscanf(r->head, "HTTP/1.1 %d ", &r->status) != 1)
    return fail(cl, "bad status line: %.60s", r->head);
  char v[64];
  r->content_length = header_value(r, "Content-Length", v, sizeof v) ? atol(v) : -1;
  size_t want = no_body || r->content_length < 0 ? 0 : (size_t)r->content_length;
  if (want >= sizeof r->body) return fail(cl, "response body too long: %zu", want);
  while (s->len < want) {
    if (fill(s) <= 0) return fail(cl, "response body: short read (%zu of %zu)", s->len, want);
  }
  memcpy(r->body, s->buf, want);
  r->body[want] = 0;
  r->body_len = want;
  consume(s, want);
  return true;
}

/* True when the server closes the connection (after any bytes it still
 * sends) within the time-out. */
static bool wait_closed(sock *s) {
  for (;;) {
    s->len = 0;
    ssize_t n = fill(s);
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;
  }
}

/* Expects a 200 "hello" answer for path. */
static bool expect_hello(client *cl, sock *s, const char *path) {
  response r;
  if (!read_response(cl, s, &r, false)) return false;
  char v[256];
  if (r.status != 200) return fail(cl, "%s: status %d, want 200", path, r.status);
  if (r.content_length != 5) return fail(cl, "%s: Content-Length %ld", path, r.content_length);
  if (strcmp(r.body, "hello") != 0) return fail(cl, "%s: body '%s'", path, r.body);
  if (!header_value(&r, "X-Path", v, sizeof v) || strcmp(v, path) != 0)
    return fail(cl, "answer for '%s' arrived where '%s' was expected", v, path);
  return true;
}

static void *client_main(void *arg) {
  client *cl = arg;
  cl->scenario(cl);
  stop_server(cl);
  return NULL;
}

/* Runs scenario against a fresh server and checks the server shut down
 * cleanly: the close callback ran and the loop has no handle left. */
static void run(void (*scenario)(client *), const vg_http_limits_cfg *lim) {
  alarm(TEST_ALARM_S);
  memset(&S, 0, sizeof S);
  cr_assert_eq(uv_loop_init(&S.loop), 0);
  cr_assert_eq(uv_async_init(&S.loop, &S.stop, stop_cb), 0);
  cr_assert_eq(vg_http_server_new(&S.loop, lim, handler, NULL, &S.srv), 0);
  int rc = vg_http_server_listen(S.srv, "127.0.0.1", 0, NULL, 0, &S.port);
  cr_assert_eq(rc, 0, "listen: %s", uv_strerror(rc));
  cr_assert_gt(S.port, 0);
  cr_assert_lt(S.port, 65536);

  client cl = {.port = S.port, .scenario = scenario};
  pthread_t th;
  cr_assert_eq(pthread_create(&th, NULL, client_main, &cl), 0);
  uv_run(&S.loop, UV_RUN_DEFAULT);
  pthread_join(th, NULL);

  cr_assert(S.closed, "server close callback did not run");
  cr_assert_eq(vg_http_server_connections(S.srv), 0);
  vg_http_server_free(S.srv);
  cr_assert_eq(uv_loop_close(&S.loop), 0, "handles left open on the loop");
  alarm(0);
  cr_assert_str_empty(cl.fail, "%s", cl.fail);
  EXPECT_NO_LEAKS();
}

/* ---- scenarios ---- */

static void sc_get_hello(client *cl) {
  sock s;
  if (!sock_open(cl, &s)) return;
  if (!send_str(cl, &s, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")) return;
  response r;
  if (!read_response(cl, &s, &r, false)) return;
  CHECK(cl, r.status == 200, "status %d", r.status);
  CHECK(cl, r.content_length == 5, "Content-Length %ld", r.content_length);
  CHECK(cl, r.body_len == 5 && memcmp(r.body, "hello", 5) == 0, "body '%s'", r.body);
  char v[128];
  CHECK(cl, header_value(&r, "Content-Type", v, sizeof v) && strcmp(v, "text/plain") == 0,
        "Content-Type missing or wrong: %s", r.head);
  CHECK(cl, header_value(&r, "Date", v, sizeof v), "no Date header");
  CHECK(cl, !header_value(&r, "Connection", v, sizeof v) || strcasecmp(v, "close") != 0,
        "HTTP/1.1 answer closes the connection");
  CHECK(cl, s.len == 0, "%zu stray bytes after the body", s.len);

  /* Keep-alive: the same connection serves a HEAD and another GET. */
  if (!send_str(cl, &s, "HEAD /h HTTP/1.1\r\nHost: localhost\r\n\r\n")) return;
  if (!read_response(cl, &s, &r, true)) return;
  CHECK(cl, r.status == 200 && r.content_length == 5, "HEAD: %d, length %ld", r.status,
        r.content_length);
  if (!send_str(cl, &s, "GET /again HTTP/1.1\r\nHost: localhost\r\n\r\n")) return;
  if (!expect_hello(cl, &s, "/again")) return; /* a HEAD body would show up here */

  /* Connection: close is honoured: answer, then the server closes. */
  if (!send_str(cl, &s, "GET /last HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"))
    return;
  if (!read_response(cl, &s, &r, false)) return;
  CHECK(cl, r.status == 200, "status %d", r.status);
  CHECK(cl, header_value(&r, "Connection", v, sizeof v) && strcasecmp(v, "close") == 0,
        "no Connection: close");
  CHECK(cl, wait_closed(&s), "server kept the connection open after Connection: close");
  sock_close(&s);
}

Test(http, get_hello) {
  run(sc_get_hello, &small_limits);
  cr_assert_eq(S.requests, 4);
}

static void sc_pipelined(client *cl) {
  sock s;
  if (!sock_open(cl, &s)) return;
  if (!send_str(cl, &s,
                "GET /one HTTP/1.1\r\nHost: x\r\n\r\n"
                "GET /two HTTP/1.1\r\nHost: x\r\n\r\n"))
    return;
  if (!expect_hello(cl, &s, "/one")) return;
  if (!expect_hello(cl, &s, "/two")) return;

  /* Three more in one write, the middle one with a body the next request
   * follows immediately. */
  if (!send_str(cl, &s,
                "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello worldGET /c "
                "HTTP/1.1\r\nHost: x\r\n\r\n"))
    return;
  if (!expect_hello(cl, &s, "/a")) return;
  response r;
  if (!read_response(cl, &s, &r, false)) return;
  char v[64];
  CHECK(cl, r.status == 200 && header_value(&r, "X-Path", v, sizeof v) && !strcmp(v, "/b"),
        "second answer: %d %s", r.status, r.head);
  CHECK(cl, header_value(&r, "X-Body-Length", v, sizeof v) && !strcmp(v, "11"),
        "handler saw a body of %s bytes, want 11", v);
  if (!expect_hello(cl, &s, "/c")) return;

  /* A request trickling in one byte at a time is still one request. */
  const char *slow = "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n";
  for (const char *p = slow; *p; p++)
    if (!send_all(cl, &s, p, 1)) return;
  if (!expect_hello(cl, &s, "/slow")) return;
  sock_close(&s);
}

Test(http, pipelined_in_order) {
  run(sc_pipelined, &small_limits);
  cr_assert_eq(S.requests, 6);
}

static void sc_body_limits(client *cl) {
  sock s;
  response r;
  /* At the limit: accepted and handed over whole. */
  if (!sock_open(cl, &s)) return;
  char req[2048];
  int n =
      snprintf(req, sizeof req, "POST /max HTTP/1.1\r\nHost: x\r\nContent-Length: 1024\r\n\r\n");
  memset(req + n, 'b', 1024);
  if (!send_all(cl, &s, req, (size_t)n + 1024)) return;
  if (!read_response(cl, &s, &r, false)) return;
  char v[64] = "";
  header_value(&r, "X-Body-Length", v, sizeof v);
  CHECK(cl, r.status == 200 && !strcmp(v, "1024"), "1024-byte body: %d, handler saw %s", r.status,
        v);
  sock_close(&s);

  /* Past the limit by Content-Length: 413 before the body is read. */
  if (!sock_open(cl, &s)) return;
  if (!send_str(cl, &s, "POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 1025\r\n\r\n")) return;
  if (!read_response(cl, &s, &r, false)) return;
  CHECK(cl, r.status == 413, "Content-Length 1025: status %d, want 413", r.status);
  CHECK(cl, strstr(r.body, "body_too_large"), "413 body: %s", r.body);
  CHECK(cl, wait_closed(&s), "connection stays open after 413");
  sock_close(&s);

  /* Past the limit in chunks. */
  if (!sock_open(cl, &s)) return;
  if (!send_str(cl, &s, "POST /chunks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"))
    return;
  char chunk[600];
  n = snprintf(chunk, sizeof chunk, "200\r\n");
  memset(chunk + n, 'c', 512);
  memcpy(chunk + n + 512, "\r\n", 2);
  bool sent = true;
  for (int i = 0; i < 3 && sent; i++) sent = send_all(cl, &s, chunk, (size_t)n + 514);
  if (!read_response(cl, &s, &r, false)) return;
  CHECK(cl, r.status == 413, "chunked 1536 bytes: status %d, want 413", r.status);
  sock_close(&s);
}

Test(http, body_too_large_413) {
  run(sc_body_limits, &small_limits);
  cr_assert_eq(S.requests, 1, "the oversized requests must not reach the handler");
}

static void sc_malformed(client *cl) {
  static const char *bad[] = {
      "GARBAGE\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
      "GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    sock s;
    response r;
    if (!sock_open(cl, &s)) return;
    if (!send_str(cl, &s, bad[i])) return;
    if (!read_response(cl, &s, &r, false)) return;
    CHECK(cl, r.status == 400, "request %zu: status %d, want 400", i, r.status);
    char v[64];
    CHECK(cl, header_value(&r, "Connection", v, sizeof v) && !strcasecmp(v, "close"),
          "request %zu: 400 without Connection: close", i);
    CHECK(cl, wait_closed(&s), "request %zu: connection stays open after 400", i);
    sock_close(&s);
  }

  /* A bad request after a good one on the same connection: the good one is
   * answered, then 400. */
  sock s;
  response r;
  if (!sock_open(cl, &s)) return;
  if (!send_str(cl, &s, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\nBLAH BLAH\r\n\r\n")) return;
  if (!expect_hello(cl, &s, "/ok")) return;
  if (!read_response(cl, &s, &r, false)) return;
  CHECK(cl, r.status == 400, "status %d, want 400", r.status);
  sock_close(&s);
}

Test(http, malformed_400) {
  run(sc_malformed, &small_limits);
  cr_assert_eq(S.requests, 1);
}

static void sc_head_limits(client *cl) {
  sock s;
  response r;
  /* A head larger than max_header_bytes: 431. */
  if (!sock_open(cl, &s)) return;
  char req[4096];
  int n = snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: x\r\nX-Fill: ");
  memset(req + n, 'f', 3000);
  memcpy(req + n + 3000, "\r\n\r\n", 4);
  if (!send_all(cl, &s, req, (size_t)n + 3004)) return;
  if (!read_response(cl, &s, &r, false)) return;
  CHECK(cl, r.status == 431, "3 KB head: status %d, want 431", r.status);
  sock_close(&s);

  /* A head that never completes: 408 after header_timeout_ms. */
  if (!sock_open(cl, &s)) return;
  if (!send_str(cl, &s, "GET / HTTP/1.1\r\nHost: x\r\n")) return;
  if (!read_response(cl, &s, &r, false)) return;
  CHECK(cl, r.status == 408, "unfinished head: status %d, want 408", r.status);
  CHECK(cl, wait_closed(&s), "connection stays open after 408");
  sock_close(&s);
}

Test(http, head_limits_431_408) {
  vg_http_limits_cfg lim = small_limits;
  lim.header_timeout_ms = 300;
  run(sc_head_limits, &lim);
  cr_assert_eq(S.requests, 0);
}

/* Sends one masked client frame. */
static bool ws_send_frame(client *cl, sock *s, int opcode, const void *data, size_t len) {
  uint8_t f[16 + 4096];
  if (len > 4096) return fail(cl, "test frame too large");
  size_t h = 0;
  f[h++] = (uint8_t)(0x80 | opcode);
  if (len < 126) {
    f[h++] = (uint8_t)(0x80 | len);
  } else {
    f[h++] = 0x80 | 126;
    f[h++] = (uint8_t)(len >> 8);
    f[h++] = (uint8_t)len;
  }
  const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
  memcpy(f + h, mask, 4);
  h += 4;
  for (size_t i = 0; i < len; i++) f[h + i] = ((const uint8_t *)data)[i] ^ mask[i & 3];
  return send_all(cl, s, f, h + len);
}

/* Reads one server frame; servers never mask. */
static bool ws_read_frame(client *cl, sock *s, int *opcode, uint8_t *out, size_t cap, size_t *len) {
  for (;;) {
    if (s->len >= 2) {
      size_t h = 2, n = s->buf[1] & 0x7f;
      if ((uint8_t)s->buf[1] & 0x80) return fail(cl, "server frame is masked");
      if (n == 126) {
        if (s->len < 4) goto more;
        n = (size_t)(uint8_t)s->buf[2] << 8 | (uint8_t)s->buf[3];
        h = 4;
      } else if (n == 127) {
        return fail(cl, "unexpected 64-bit frame length");
      }
      if (s->len >= h + n) {
        if (!((uint8_t)s->buf[0] & 0x80)) return fail(cl, "server frame without FIN");
        if (n > cap) return fail(cl, "frame of %zu bytes too large", n);
        *opcode = s->buf[0] & 0x0f;
        memcpy(out, s->buf + h, n);
        *len = n;
        consume(s, h + n);
        return true;
      }
    }
  more:
    if (fill(s) <= 0) return fail(cl, "WebSocket frame: short read (%zu bytes)", s->len);
  }
}

static void sc_websocket(client *cl) {
  sock s;
  response r;
  if (!sock_open(cl, &s)) return;
  /* The RFC 6455 example key and its known accept value. */
  if (!send_str(cl, &s,
                "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
    return;
  if (!read_response(cl, &s, &r, true)) return;
  char v[128];
  CHECK(cl, r.status == 101, "handshake: status %d, want 101", r.status);
  CHECK(cl,
        header_value(&r, "Sec-WebSocket-Accept", v, sizeof v) &&
            !strcmp(v, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        "accept key: %s", r.head);
  CHECK(cl, header_value(&r, "Upgrade", v, sizeof v) && !strcasecmp(v, "websocket"), "%s", r.head);

  int op;
  uint8_t got[4096];
  size_t len;
  if (!ws_send_frame(cl, &s, VG_WS_TEXT, "Hello", 5)) return;
  if (!ws_read_frame(cl, &s, &op, got, sizeof got, &len)) return;
  CHECK(cl, op == VG_WS_TEXT && len == 5 && !memcmp(got, "Hello", 5),
        "echo: opcode %d, %zu bytes '%.*s'", op, len, (int)len, got);

  /* A binary message with a 16-bit length comes back byte for byte. */
  uint8_t bin[300];
  for (size_t i = 0; i < sizeof bin; i++) bin[i] = (uint8_t)(i * 7);
  if (!ws_send_frame(cl, &s, VG_WS_BINARY, bin, sizeof bin)) return;
  if (!ws_read_frame(cl, &s, &op, got, sizeof got, &len)) return;
  CHECK(cl, op == VG_WS_BINARY && len == sizeof bin && !memcmp(got, bin, sizeof bin),
        "binary echo: opcode %d, %zu bytes", op, len);

  /* Ping is answered with a pong carrying the same payload. */
  if (!ws_send_frame(cl, &s, VG_WS_PING, "pi", 2)) return;
  if (!ws_read_frame(cl, &s, &op, got, sizeof got, &len)) return;
  CHECK(cl, op == VG_WS_PONG && len == 2 && !memcmp(got, "pi", 2), "pong: opcode %d", op);

  /* Two messages in one write: two echoes, in order. */
  uint8_t two[64];
  size_t tl = 0;
  const uint8_t mask[4] = {1, 2, 3, 4};
  const char *words[2] = {"first", "second"};
  for (int w = 0; w < 2; w++) {
    size_t wl = strlen(words[w]);
    two[tl++] = 0x81;
    two[tl++] = (uint8_t)(0x80 | wl);
    memcpy(two + tl, mask, 4);
    tl += 4;
    for (size_t i = 0; i < wl; i++) two[tl++] = (uint8_t)words[w][i] ^ mask[i & 3];
  }
  if (!send_all(cl, &s, two, tl)) return;
  for (int w = 0; w < 2; w++) {
    if (!ws_read_frame(cl, &s, &op, got, sizeof got, &len)) return;
    CHECK(cl, len == strlen(words[w]) && !memcmp(got, words[w], len), "echo %d: '%.*s'", w,
          (int)len, got);
  }

  /* Close handshake: the server echoes the code and closes. */
  const uint8_t bye[2] = {0x03, 0xe8}; /* 1000 */
  if (!ws_send_frame(cl, &s, VG_WS_CLOSE, bye, 2)) return;
  if (!ws_read_frame(cl, &s, &op, got, sizeof got, &len)) return;
  CHECK(cl, op == VG_WS_CLOSE && len >= 2 && got[0] == 0x03 && got[1] == 0xe8,
        "close reply: opcode %d, %zu bytes", op, len);
  CHECK(cl, wait_closed(&s), "connection stays open after the close handshake");
  sock_close(&s);

  /* An unmasked client frame breaks the protocol: close 1002. */
  if (!sock_open(cl, &s)) return;
  if (!send_str(cl, &s,
                "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
    return;
  if (!read_response(cl, &s, &r, true)) return;
  CHECK(cl, r.status == 101, "second handshake: %d", r.status);
  if (!send_all(cl, &s, "\x81\x02hi", 4)) return;
  if (!ws_read_frame(cl, &s, &op, got, sizeof got, &len)) return;
  CHECK(cl, op == VG_WS_CLOSE && len >= 2 && (got[0] << 8 | got[1]) == 1002,
        "unmasked frame: opcode %d code %d", op, len >= 2 ? got[0] << 8 | got[1] : -1);
  CHECK(cl, wait_closed(&s), "connection stays open after a protocol error");
  sock_close(&s);

  /* A broken handshake (no key) is a plain 400. */
  if (!sock_open(cl, &s)) return;
  if (!send_str(cl, &s,
                "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"))
    return;
  if (!read_response(cl, &s, &r, false)) return;
  CHECK(cl, r.status == 400, "handshake without key: %d, want 400", r.status);
  sock_close(&s);
}

Test(http, websocket_echo) {
  run(sc_websocket, &small_limits);
  cr_assert_eq(S.ws_messages, 4);
  cr_assert_eq(S.ws_closes, 2, "on_close once per WebSocket");
}

static void sc_ws_open_at_stop(client *cl) {
  sock s;
  response r;
  if (!sock_open(cl, &s)) return;
  if (!send_str(cl, &s,
                "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
    return;
  if (!read_response(cl, &s, &r, true)) return;
  CHECK(cl, r.status == 101, "handshake: %d", r.status);
  /* Leave the socket open: closing the server must close it. The keep-alive
   * HTTP connection below is left open too. */
  sock h;
  if (!sock_open(cl, &h)) return;
  if (!send_str(cl, &h, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")) return;
  if (!expect_hello(cl, &h, "/")) return;
  stop_server(cl);
  CHECK(cl, wait_closed(&s), "server close left a WebSocket open");
  CHECK(cl, wait_closed(&h), "server close left a keep-alive connection open");
  sock_close(&s);
  sock_close(&h);
}

Test(http, close_with_open_connections) {
  run(sc_ws_open_at_stop, &small_limits);
  cr_assert_eq(S.ws_closes, 1);
  cr_assert_eq(S.close_code, 1001, "going away");
}

/* ---- streamed responses ---- */

/* Reads n body bytes and checks them against the pattern from off. */
static bool read_pattern(client *cl, sock *s, size_t off, size_t n) {
  while (n > 0) {
    if (s->len == 0 && fill(s) <= 0) return fail(cl, "stream body: short read at %zu", off);
    size_t k = s->len < n ? s->len : n;
    for (size_t i = 0; i < k; i++)
      if ((uint8_t)s->buf[i] != pattern_byte(off + i))
        return fail(cl, "stream body: byte %zu is wrong", off + i);
    consume(s, k);
    off += k;
    n -= k;
  }
  return true;
}

/* Reads one line ending in CRLF (a chunk-size line) into out. */
static bool read_line(client *cl, sock *s, char *out, size_t cap) {
  for (;;) {
    char *e = memmem(s->buf, s->len, "\r\n", 2);
    if (e) {
      size_t l = (size_t)(e - s->buf);
      if (l >= cap) return fail(cl, "line too long");
      memcpy(out, s->buf, l);
      out[l] = 0;
      consume(s, l + 2);
      return true;
    }
    if (fill(s) <= 0) return fail(cl, "chunked body: short read");
  }
}

static void sc_stream(client *cl) {
  sock s;
  response r;
  char v[64];
  if (!sock_open(cl, &s)) return;
  /* 16 MiB with Content-Length, read only after a pause: the kernel's
   * buffers fill and the producer has to wait for drain callbacks. */
  size_t big = 16u << 20;
  char req[128];
  snprintf(req, sizeof req, "GET /stream?n=%zu HTTP/1.1\r\nHost: x\r\n\r\n", big);
  if (!send_str(cl, &s, req)) return;
  if (!read_response(cl, &s, &r, true)) return;
  CHECK(cl, r.status == 200, "status %d", r.status);
  CHECK(cl, r.content_length == (long)big, "Content-Length %ld", r.content_length);
  CHECK(cl, header_value(&r, "X-Stream", v, sizeof v), "extra header missing");
  usleep(300 * 1000);
  if (!read_pattern(cl, &s, 0, big)) return;

  /* Chunked, on the same connection. */
  if (!send_str(cl, &s, "GET /stream?n=200000&chunked=1 HTTP/1.1\r\nHost: x\r\n\r\n")) return;
  if (!read_response(cl, &s, &r, true)) return;
  CHECK(cl, r.status == 200 && r.content_length == -1, "chunked: %d, length %ld", r.status,
        r.content_length);
  CHECK(cl, header_value(&r, "Transfer-Encoding", v, sizeof v) && strcmp(v, "chunked") == 0,
        "no Transfer-Encoding: chunked");
  size_t off = 0;
  for (;;) {
    char line[32];
    if (!read_line(cl, &s, line, sizeof line)) return;
    size_t n = strtoul(line, NULL, 16);
    if (n == 0) break;
    if (!read_pattern(cl, &s, off, n)) return;
    off += n;
    if (!read_line(cl, &s, line, sizeof line)) return;
    CHECK(cl, line[0] == 0, "chunk not followed by CRLF");
  }
  CHECK(cl, off == 200000, "chunked body of %zu bytes", off);
  char line[8];
  if (!read_line(cl, &s, line, sizeof line)) return;
  CHECK(cl, line[0] == 0, "no blank line after the last chunk");

  /* HEAD: the head only, then the connection serves the next request. */
  if (!send_str(cl, &s, "HEAD /stream?n=1000 HTTP/1.1\r\nHost: x\r\n\r\n")) return;
  if (!read_response(cl, &s, &r, true)) return;
  CHECK(cl, r.status == 200 && r.content_length == 1000, "HEAD: %d %ld", r.status,
        r.content_length);
  if (!send_str(cl, &s, "GET /after HTTP/1.1\r\nHost: x\r\n\r\n")) return;
  if (!expect_hello(cl, &s, "/after")) return;

  /* A client that leaves mid-stream: the producer hears of it. */
  sock e;
  if (!sock_open(cl, &e)) return;
  snprintf(req, sizeof req, "GET /stream?n=%zu HTTP/1.1\r\nHost: x\r\n\r\n", big);
  if (!send_str(cl, &e, req)) return;
  if (!read_response(cl, &e, &r, true)) return;
  sock_close(&e);
  usleep(300 * 1000);
  sock_close(&s);
}

Test(http, streamed_responses) {
  /* The server writes to the abandoned socket, as vigil serve does with
   * SIGPIPE ignored (app.c). */
  signal(SIGPIPE, SIG_IGN);
  run(sc_stream, &small_limits);
  cr_assert_eq(S.stream_ended, 3, "16 MiB, chunked and HEAD finished");
  cr_assert_eq(S.stream_closed, 1, "the producer of the abandoned stream was told");
  cr_assert_leq(S.stream_max_queued, STREAM_LOW + STREAM_PIECE,
                "queued %zu bytes: more than the producer's bound", S.stream_max_queued);
  cr_assert_gt(S.stream_max_queued, 0);
}

/* ---- send stall: a client that stops reading a streamed answer ---- */

#define STALL_MS 1000

static const vg_http_limits_cfg stall_limits = {
    .max_header_bytes = 2048,
    .max_body_bytes = 1024,
    .header_timeout_ms = 5000,
    .idle_timeout_ms = 20000,
    .send_stall_ms = STALL_MS,
    .max_connections = 32,
    .ws_max_message = 4096,
};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sc_stall(client *cl) {
  sock s;
  response r;
  char req[128];
  /* A slow reader is not a stalled one: 4 MiB read in 64 KiB sips with a
   * pause of a tenth of the stall time between them (6 s of pauses in all)
   * arrives whole. */
  if (!sock_open(cl, &s)) return;
  size_t slow = 4u << 20;
  snprintf(req, sizeof req, "GET /stream?n=%zu HTTP/1.1\r\nHost: x\r\n\r\n", slow);
  if (!send_str(cl, &s, req)) return;
  if (!read_response(cl, &s, &r, true)) return;
  CHECK(cl, r.status == 200, "status %d", r.status);
  for (size_t off = 0; off < slow;) {
    size_t n = slow - off < (64u << 10) ? slow - off : (64u << 10);
    if (!read_pattern(cl, &s, off, n)) return;
    off += n;
    usleep(STALL_MS / 10 * 1000);
  }
  CHECK(cl, __atomic_load_n(&S.stream_ended, __ATOMIC_SEQ_CST) == 1, "the slow stream did not end");
  sock_close(&s);

  /* A client that asks for 256 MiB, reads the head and then nothing: the
   * kernel's buffers fill, no byte moves for STALL_MS, and the server
   * closes the connection (the client then reads what was in flight and
   * the end of the stream, far short of the whole). */
  if (!sock_open(cl, &s)) return;
  int small = 64 << 10;
  setsockopt(s.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  size_t big = 256u << 20;
  snprintf(req, sizeof req, "GET /stream?n=%zu HTTP/1.1\r\nHost: x\r\n\r\n", big);
  double t0 = now_s();
  if (!send_str(cl, &s, req)) return;
  if (!read_response(cl, &s, &r, true)) return;
  CHECK(cl, r.status == 200, "status %d", r.status);
  /* Wait (without reading) until the producer hears the connection is gone. */
  for (int i = 0; i < 200 && __atomic_load_n(&S.stream_closed, __ATOMIC_SEQ_CST) == 0; i++)
    usleep(100 * 1000);
  double waited = now_s() - t0;
  CHECK(cl, __atomic_load_n(&S.stream_closed, __ATOMIC_SEQ_CST) == 1,
        "the stalled stream was not closed after %.1f s", waited);
  CHECK(cl, waited >= STALL_MS / 1000.0, "closed after %.3f s, before the %d ms stall time-out",
        waited, STALL_MS);
  size_t got = s.len;
  s.len = 0;
  ssize_t n;
  while ((n = fill(&s)) > 0) {
    got += (size_t)n;
    s.len = 0;
  }
  CHECK(cl, n == 0 || errno == ECONNRESET, "after the close: %s", strerror(errno));
  CHECK(cl, got < big, "the whole stream arrived (%zu bytes)", got);
  sock_close(&s);
}

Test(http, send_stall_closes_a_stream_nobody_reads) {
  signal(SIGPIPE, SIG_IGN);
  run(sc_stall, &stall_limits);
  cr_assert_eq(S.stream_ended, 1, "the slow reader's stream finished");
  cr_assert_eq(S.stream_closed, 1, "the stalled stream's producer was told of the close");
}
