/* http.c - HTTP/1.1 and WebSocket server connections on libuv.
 *
 * A connection moves through phases: HEAD (waiting for a request head,
 * bounded by header_timeout_ms once its first byte arrived, or by
 * idle_timeout_ms between requests), BODY (Content-Length or chunked,
 * bounded by max_body_bytes), HANDLING (the handler has the request; input
 * is kept but not parsed, so pipelined requests wait their turn), WS (after
 * an upgrade) and LINGER (the answer is out, the write side is shut, input
 * is drained briefly so the peer reads the answer instead of a reset).
 *
 * Input accumulates in one growable buffer per connection; a request's
 * head and body point into it until the response is sent, then the
 * buffer is shifted. Output goes straight from reference-counted buffers
 * to uv_write; under TLS it is encrypted into a fresh buffer first. */
#include "http.h"

#include <assert.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "net/sniff.h"
#include "net/tls.h"
#include "net/ws.h"

#define READ_CHUNK 65536
#define LINGER_MS 2000
#define WS_PING_MS 30000
#define WS_IDLE_MS 90000
#define HEAD_INLINE 1024
/* A streamed body's producer is called back when the queued output falls
 * below this. */
#define STREAM_LOW_WATER (256u << 10)
/* How often a streamed response checks that its client still takes bytes
 * (at most; send_stall_ms itself when shorter). */
#define STALL_CHECK_MS 1000

enum phase { P_HEAD, P_BODY, P_HANDLING, P_WS, P_LINGER };

typedef struct listener {
  uv_tcp_t tcp;
  vg_http_server *srv;
  vg_tls_ctx *tls;
  int redirect_port;
  bool sniff;            /* media listener: route on the first bytes */
  vg_tls_ctx *sniff_tls; /* sniff: TLS for a ClientHello on a plain port */
  vg_http_raw_handler on_rtmp;
  void *rtmp_ud;
  struct listener *next;
} listener;

struct vg_http_server {
  uv_loop_t *loop;
  vg_http_limits_cfg lim;
  vg_http_handler handler;
  void *ud;
  listener *listeners;
  vg_http_conn *conns; /* doubly linked */
  size_t nconns;
  size_t open_handles; /* listeners still closing */
  bool closing;
  void (*close_cb)(void *);
  void *close_ud;
  char date[64];
  time_t date_at;
  void (*write_probe)(uint64_t stamp_us, void *ud);
  void *probe_ud;
};

struct vg_http_conn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  vg_http_server *srv;
  listener *lis;
  vg_http_conn *prev, *next;
  int refs;         /* the socket's own reference plus holds */
  int open_handles; /* tcp and timer until their close callbacks ran */
  bool closing;     /* handles are closing or closed */
  bool ending;      /* the last answer is queued; shut down after it */
  bool read_paused;
  bool in_process;   /* inside conn_process: defer re-entry */
  bool done_pending; /* answered from inside the handler: shift input after it */
  bool sniffing;     /* media listener: the first bytes are not classified yet */
  bool detached;     /* the socket went elsewhere (vg_http_ws_detach): not counted */
  char peer[64];
  void *data;
  vg_tls *tls;

  uint8_t *in;
  size_t in_len, in_cap;

  enum phase phase;
  bool head_timer; /* the timer counts the head time-out, not idleness */
  vg_http_request req;
  size_t consumed; /* bytes of the current request (head + raw body) */
  vg_http_chunked chunked;
  size_t raw_off; /* chunked: raw body bytes consumed so far */
  size_t decoded; /* chunked: body bytes decoded so far */
  bool responded;
  bool keep_alive;
  bool is_head;
  size_t queued; /* bytes handed to uv_write and not yet written */
  /* A streamed response (vg_http_stream_begin) in progress. */
  bool streaming;
  bool stream_chunked;
  bool stream_sent_chunk;
  bool in_drain;
  vg_http_drain_cb on_drain;
  void *drain_ud;
  uint64_t stall_progress; /* vg_mono_ms when the kernel last took bytes of the stream */
  size_t stall_wq;         /* libuv's unwritten bytes at the last check */
  uint64_t stamp_us;       /* set around a stamped send, copied into its write */

  vg_ws_parser ws;
  const vg_ws_handlers *wsh;
  void *ws_ud;
  bool ws_close_sent;
  bool ws_closed_cb;
  uint16_t ws_close_code;
  uint64_t last_read;
};

typedef struct wreq {
  uv_write_t req;
  vg_http_conn *c;
  vg_buf *hold[2];
  size_t bytes;
  uint64_t stamp_us; /* vg_ws_send_stamped: reported to the write probe */
  char *head;        /* points at inline or a malloc'd block */
  char inline_head[HEAD_INLINE];
} wreq;

static void conn_process(vg_http_conn *c);
static void stream_drain(vg_http_conn *c);
static void conn_close(vg_http_conn *c);
static void conn_end(vg_http_conn *c);
static void timer_arm(vg_http_conn *c, uint64_t ms);
static void request_finish(vg_http_conn *c);
static void ws_feed(vg_http_conn *c);
static void read_start(vg_http_conn *c);
static bool tls_drain(vg_http_conn *c);

/* ---- small helpers ---- */

static const char *http_date(vg_http_server *s) {
  time_t now = time(NULL);
  if (now != s->date_at) {
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(s->date, sizeof s->date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    s->date_at = now;
  }
  return s->date;
}

const char *vg_http_conn_peer(const vg_http_conn *c) { return c->peer; }
bool vg_http_conn_is_tls(const vg_http_conn *c) { return c->tls != NULL; }
bool vg_http_conn_closed(const vg_http_conn *c) { return c->closing || c->ending; }
void vg_http_conn_set_data(vg_http_conn *c, void *data) { c->data = data; }
void *vg_http_conn_data(const vg_http_conn *c) { return c->data; }
size_t vg_http_conn_queued(const vg_http_conn *c) { return c->queued; }
size_t vg_http_server_connections(const vg_http_server *s) { return s->nconns; }

void vg_http_conn_end(vg_http_conn *c) { conn_end(c); }

vg_http_conn *vg_http_conn_hold(vg_http_conn *c) {
  c->refs++;
  return c;
}

static void conn_free(vg_http_conn *c) {
  free(c->in);
  vg_ws_parser_free(&c->ws);
  vg_tls_free(c->tls);
  free(c);
}

void vg_http_conn_release(vg_http_conn *c) {
  assert(c->refs > 0);
  if (--c->refs == 0) conn_free(c);
}

/* ---- output ---- */

static void write_done(uv_write_t *req, int status) {
  wreq *w = (wreq *)req;
  vg_http_conn *c = w->c;
  c->queued -= w->bytes;
  if (w->stamp_us && status == 0 && c->srv->write_probe)
    c->srv->write_probe(w->stamp_us, c->srv->probe_ud);
  for (int i = 0; i < 2; i++) vg_buf_unref(w->hold[i]);
  if (w->head != w->inline_head) free(w->head);
  free(w);
  if (c->streaming && status == 0) c->stall_progress = vg_mono_ms();
  if (status < 0 && !c->closing) conn_close(c);
  if (c->streaming && !c->closing && c->queued < STREAM_LOW_WATER) stream_drain(c);
  vg_http_conn_release(c);
}

/* Queues head bytes (copied) followed by a slice of a shared buffer
 * (referenced). Under TLS both are encrypted into one new buffer. */
static int conn_write(vg_http_conn *c, const char *head, size_t head_len, vg_buf *body, size_t off,
                      size_t len) {
  if (c->closing) return VG_ECLOSED;
  wreq *w = malloc(sizeof *w);
  if (!w) return VG_ENOMEM;
  w->c = c;
  w->hold[0] = w->hold[1] = NULL;
  w->head = w->inline_head;
  w->stamp_us = c->stamp_us;
  uv_buf_t bufs[2];
  int n = 0;
  if (c->tls) {
    if ((head_len && vg_tls_write(c->tls, head, head_len)) ||
        (len && vg_tls_write(c->tls, body->data + off, len))) {
      free(w);
      conn_close(c);
      return VG_EPROTO;
    }
    vg_buf *out = vg_tls_take_output(c->tls);
    if (!out) {
      free(w);
      return 0;
    }
    w->hold[0] = out;
    bufs[n++] = uv_buf_init((char *)out->data, (unsigned)out->len);
    w->bytes = out->len;
  } else {
    if (head_len > HEAD_INLINE) {
      w->head = malloc(head_len);
      if (!w->head) {
        free(w);
        return VG_ENOMEM;
      }
    }
    if (head_len) {
      memcpy(w->head, head, head_len);
      bufs[n++] = uv_buf_init(w->head, (unsigned)head_len);
    }
    if (len) {
      w->hold[0] = vg_buf_ref(body);
      bufs[n++] = uv_buf_init((char *)body->data + off, (unsigned)len);
    }
    w->bytes = head_len + len;
  }
  c->queued += w->bytes;
  vg_http_conn_hold(c);
  int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, bufs, (unsigned)n, write_done);
  if (rc < 0) {
    c->queued -= w->bytes;
    vg_buf_unref(w->hold[0]);
    if (w->head != w->inline_head) free(w->head);
    free(w);
    vg_http_conn_release(c);
    conn_close(c);
    return VG_EIO;
  }
  if (w->stamp_us && c->tcp.write_queue_size == 0 && c->srv->write_probe) {
    /* libuv wrote it all at once: the kernel has the last byte now, not
     * when the callback runs on the next loop turn. */
    c->srv->write_probe(w->stamp_us, c->srv->probe_ud);
    w->stamp_us = 0;
  }
  return 0;
}

/* Sends whatever TLS produced on its own (handshake records, alerts). */
static void tls_flush(vg_http_conn *c) {
  vg_buf *out;
  while (c->tls && !c->closing && (out = vg_tls_take_output(c->tls))) {
    wreq *w = malloc(sizeof *w);
    if (!w) {
      vg_buf_unref(out);
      conn_close(c);
      return;
    }
    w->c = c;
    w->hold[0] = out;
    w->hold[1] = NULL;
    w->head = w->inline_head;
    w->stamp_us = 0;
    w->bytes = out->len;
    uv_buf_t b = uv_buf_init((char *)out->data, (unsigned)out->len);
    c->queued += w->bytes;
    vg_http_conn_hold(c);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, write_done) < 0) {
      c->queued -= w->bytes;
      vg_buf_unref(out);
      free(w);
      vg_http_conn_release(c);
      conn_close(c);
    }
  }
}

/* ---- closing ---- */

static void handle_closed(uv_handle_t *h) {
  vg_http_conn *c = h->data;
  if (--c->open_handles > 0) return;
  vg_http_server *s = c->srv;
  if (c->streaming) stream_drain(c); /* the producer learns the conn is gone */
  if (c->wsh && !c->ws_closed_cb) {
    c->ws_closed_cb = true;
    if (c->wsh->on_close) c->wsh->on_close(c, c->ws_close_code ? c->ws_close_code : 1006, c->ws_ud);
  }
  if (c->prev)
    c->prev->next = c->next;
  else
    s->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  if (!c->detached) s->nconns--;
  vg_http_conn_release(c);
  if (s->closing && s->nconns == 0 && s->open_handles == 0 && s->close_cb) {
    void (*cb)(void *) = s->close_cb;
    s->close_cb = NULL;
    cb(s->close_ud);
  }
}

static void conn_close(vg_http_conn *c) {
  if (c->closing) return;
  c->closing = true;
  uv_close((uv_handle_t *)&c->tcp, handle_closed);
  uv_close((uv_handle_t *)&c->timer, handle_closed);
}

static void shutdown_done(uv_shutdown_t *req, int status) {
  vg_http_conn *c = req->data;
  free(req);
  if (status < 0) conn_close(c);
  vg_http_conn_release(c);
}

/* Ends the connection gracefully: everything queued is written, then the
 * write side shuts and input is drained for a moment (lingering close). */
static void conn_end(vg_http_conn *c) {
  if (c->closing || c->ending) return;
  c->ending = true;
  c->phase = P_LINGER;
  if (c->tls) {
    vg_tls_shutdown(c->tls);
    tls_flush(c);
  }
  uv_shutdown_t *req = malloc(sizeof *req);
  if (!req) {
    conn_close(c);
    return;
  }
  req->data = c;
  vg_http_conn_hold(c);
  if (uv_shutdown(req, (uv_stream_t *)&c->tcp, shutdown_done) < 0) {
    free(req);
    vg_http_conn_release(c);
    conn_close(c);
    return;
  }
  if (c->read_paused) {
    c->read_paused = false;
    c->in_len = 0;
  }
  timer_arm(c, LINGER_MS);
}

/* ---- responses ---- */

static int respond_head(vg_http_conn *c, int status, const char *content_type, const char *headers,
                        size_t content_length, char *out, size_t cap) {
  bool no_body_status = status == 204 || status == 304 || (status >= 100 && status < 200);
  int n = snprintf(out, cap, "HTTP/1.1 %d %s\r\nServer: vigil\r\nDate: %s\r\n", status,
                   vg_http_reason(status), http_date(c->srv));
  if (!no_body_status)
    n += snprintf(out + n, cap - (size_t)n, "Content-Length: %zu\r\n", content_length);
  if (content_type && !no_body_status)
    n += snprintf(out + n, cap - (size_t)n, "Content-Type: %s\r\n", content_type);
  if (!c->keep_alive)
    n += snprintf(out + n, cap - (size_t)n, "Connection: close\r\n");
  else if (c->req.version_minor == 0)
    n += snprintf(out + n, cap - (size_t)n, "Connection: keep-alive\r\n");
  return n;
}

/* Called once the answer to the current request is queued: drops its
 * bytes from the input and moves on to the next request. */
static void request_done(vg_http_conn *c) {
  if (!c->keep_alive) {
    conn_end(c);
    return;
  }
  if (c->in_process) {
    /* The handler may still read the request: finish when it returns. */
    c->done_pending = true;
    return;
  }
  request_finish(c);
  conn_process(c);
}

static void request_finish(vg_http_conn *c) {
  c->done_pending = false;
  if (c->consumed < c->in_len) memmove(c->in, c->in + c->consumed, c->in_len - c->consumed);
  c->in_len -= c->consumed;
  c->consumed = 0;
  c->phase = P_HEAD;
  c->head_timer = false;
  timer_arm(c, c->srv->lim.idle_timeout_ms);
}

int vg_http_respond_slice(vg_http_conn *c, int status, const char *content_type,
                          const char *headers, vg_buf *body, size_t off, size_t len) {
  if (c->phase != P_HANDLING || c->responded) return VG_ESTATE;
  c->responded = true;
  if (c->closing) return 0;
  char head[HEAD_INLINE];
  size_t extra = headers ? strlen(headers) : 0;
  char *h = head;
  size_t cap = sizeof head;
  if (extra + 512 > cap) {
    cap = extra + 512;
    h = malloc(cap);
    if (!h) {
      conn_close(c);
      return VG_ENOMEM;
    }
  }
  int n = respond_head(c, status, content_type, headers, len, h, cap);
  if (extra) memcpy(h + n, headers, extra);
  n += (int)extra;
  memcpy(h + n, "\r\n", 2);
  n += 2;
  bool no_body = c->is_head || status == 204 || status == 304;
  int rc = conn_write(c, h, (size_t)n, body, off, no_body ? 0 : len);
  if (h != head) free(h);
  if (rc == 0) request_done(c);
  return rc;
}

int vg_http_respond(vg_http_conn *c, int status, const char *content_type, const char *headers,
                    vg_buf *body) {
  int rc = vg_http_respond_slice(c, status, content_type, headers, body, 0, body ? body->len : 0);
  vg_buf_unref(body);
  return rc;
}

int vg_http_respond_mem(vg_http_conn *c, int status, const char *content_type, const char *headers,
                        const void *body, size_t len) {
  vg_buf *b = NULL;
  if (len) {
    b = vg_buf_from(body, len);
    if (!b) return VG_ENOMEM;
  }
  return vg_http_respond(c, status, content_type, headers, b);
}

/* ---- streamed responses ---- */

static void stream_drain(vg_http_conn *c) {
  if (c->in_drain || !c->on_drain) return;
  c->in_drain = true;
  vg_http_conn_hold(c);
  c->on_drain(c, c->drain_ud);
  c->in_drain = false;
  vg_http_conn_release(c);
}

int vg_http_stream_begin(vg_http_conn *c, int status, const char *content_type, const char *headers,
                         int64_t content_length, vg_http_drain_cb on_drain, void *ud) {
  if (c->phase != P_HANDLING || c->responded) return VG_ESTATE;
  c->responded = true;
  if (c->closing) return VG_ECLOSED;
  bool chunked = content_length < 0;
  /* HTTP/1.0 knows no chunks: the body then ends with the connection. */
  if (chunked && c->req.version_minor == 0) c->keep_alive = false;
  size_t extra = headers ? strlen(headers) : 0;
  size_t cap = extra + 512;
  char *h = malloc(cap);
  if (!h) {
    conn_close(c);
    return VG_ENOMEM;
  }
  int n =
      respond_head(c, status, content_type, headers, chunked ? 0 : (size_t)content_length, h, cap);
  if (chunked) {
    /* respond_head wrote a Content-Length line first after Date: drop it. */
    char *cl = strstr(h, "Content-Length: ");
    char *eol = cl ? strstr(cl, "\r\n") : NULL;
    if (cl && eol) {
      memmove(cl, eol + 2, (size_t)(h + n - (eol + 2)) + 1);
      n -= (int)(eol + 2 - cl);
    }
    if (c->req.version_minor != 0)
      n += snprintf(h + n, cap - (size_t)n, "Transfer-Encoding: chunked\r\n");
  }
  if (extra) memcpy(h + n, headers, extra);
  n += (int)extra;
  memcpy(h + n, "\r\n", 2);
  n += 2;
  int rc = conn_write(c, h, (size_t)n, NULL, 0, 0);
  free(h);
  if (rc) return rc;
  c->streaming = true;
  c->stream_chunked = chunked && c->req.version_minor != 0;
  c->stream_sent_chunk = false;
  c->on_drain = on_drain;
  c->drain_ud = ud;
  c->stall_progress = vg_mono_ms();
  c->stall_wq = c->tcp.write_queue_size;
  uint64_t stall = c->srv->lim.send_stall_ms;
  if (stall) timer_arm(c, stall < STALL_CHECK_MS ? stall : STALL_CHECK_MS);
  return 0;
}

/* The send-stall check of a streamed response: progress is a completed
 * write or libuv's unwritten bytes going down (the kernel took part of a
 * large buffer); an empty queue is the producer's turn, not a stall. */
static void stall_check(vg_http_conn *c) {
  uint64_t stall = c->srv->lim.send_stall_ms;
  if (!c->streaming || !stall) return;
  uint64_t now = vg_mono_ms();
  size_t wq = c->tcp.write_queue_size;
  if (c->queued == 0 || wq < c->stall_wq) c->stall_progress = now;
  c->stall_wq = wq;
  if (now - c->stall_progress >= stall) {
    vg_log_info("http: %s took no byte of a streamed response for %llu ms: closing", c->peer,
                (unsigned long long)(now - c->stall_progress));
    conn_close(c);
    return;
  }
  uint64_t left = stall - (now - c->stall_progress);
  timer_arm(c, left < STALL_CHECK_MS ? left : STALL_CHECK_MS);
}

int vg_http_stream_write(vg_http_conn *c, vg_buf *chunk) {
  if (!c->streaming) return VG_ESTATE;
  if (c->closing || c->ending) return VG_ECLOSED;
  if (c->is_head || !chunk || chunk->len == 0) return 0;
  if (!c->stream_chunked) return conn_write(c, NULL, 0, chunk, 0, chunk->len);
  char head[32];
  int n = snprintf(head, sizeof head, "%s%zx\r\n", c->stream_sent_chunk ? "\r\n" : "", chunk->len);
  c->stream_sent_chunk = true;
  return conn_write(c, head, (size_t)n, chunk, 0, chunk->len);
}

int vg_http_stream_end(vg_http_conn *c) {
  if (!c->streaming) return VG_ESTATE;
  c->streaming = false;
  c->on_drain = NULL;
  if (c->closing || c->ending) return VG_ECLOSED;
  if (c->stream_chunked && !c->is_head) {
    const char *end = c->stream_sent_chunk ? "\r\n0\r\n\r\n" : "0\r\n\r\n";
    int rc = conn_write(c, end, strlen(end), NULL, 0, 0);
    if (rc) return rc;
  }
  request_done(c);
  return 0;
}

void vg_http_stream_abort(vg_http_conn *c) {
  c->streaming = false;
  c->on_drain = NULL;
  conn_close(c);
}

/* Answers an error the parser or a limit found, then ends the connection:
 * after a malformed request the stream cannot be trusted. */
static void respond_fatal(vg_http_conn *c, int status, const char *message) {
  char body[256];
  int n = snprintf(body, sizeof body, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}",
                   status == 431   ? "headers_too_large"
                   : status == 413 ? "body_too_large"
                   : status == 408 ? "timeout"
                                   : "bad_request",
                   message);
  c->phase = P_HANDLING;
  c->responded = false;
  c->keep_alive = false;
  c->is_head = false;
  vg_http_respond_mem(c, status, "application/json", NULL, body, (size_t)n);
}

/* ---- request phases ---- */

static void dispatch(vg_http_conn *c, const uint8_t *body, size_t body_len) {
  c->phase = P_HANDLING;
  c->responded = false;
  c->keep_alive = c->req.keep_alive && !c->srv->closing;
  c->is_head = c->req.method_len == 4 && memcmp(c->req.method, "HEAD", 4) == 0;
  uv_timer_stop(&c->timer);
  c->head_timer = false;
  if (c->lis->redirect_port > 0) {
    /* TLS is on: send every plain request to the same place over HTTPS. */
    const vg_http_header *host = vg_http_find_header(&c->req, "Host");
    char hostname[256] = "localhost";
    if (host && host->value_len < sizeof hostname) {
      size_t hl = host->value_len;
      const char *colon = hl && host->value[0] != '[' ? memchr(host->value, ':', hl) : NULL;
      if (host->value[0] == '[') {
        const char *rb = memchr(host->value, ']', hl);
        if (rb) hl = (size_t)(rb - host->value) + 1;
      } else if (colon) {
        hl = (size_t)(colon - host->value);
      }
      memcpy(hostname, host->value, hl);
      hostname[hl] = 0;
    }
    char headers[2048];
    int tl = c->req.target_len > 1500 ? 1 : (int)c->req.target_len;
    snprintf(headers, sizeof headers, "Location: https://%s:%d%.*s\r\n", hostname,
             c->lis->redirect_port, tl, tl == 1 && c->req.target_len > 1500 ? "/" : c->req.target);
    vg_http_respond_mem(c, 308, NULL, headers, NULL, 0);
    return;
  }
  c->srv->handler(c, &c->req, body, body_len, c->srv->ud);
}

static void process_head(vg_http_conn *c) {
  vg_http_limits lim = {c->srv->lim.max_header_bytes, VG_HTTP_MAX_HEADERS};
  int status = 400;
  int rc = vg_http_parse_request((const char *)c->in, c->in_len, &lim, &c->req, &status);
  if (rc == VG_EAGAIN) {
    if (!c->head_timer) {
      c->head_timer = true;
      timer_arm(c, c->srv->lim.header_timeout_ms);
    }
    return;
  }
  if (rc < 0) {
    respond_fatal(c, status, status == 431 ? "request head too large" : "malformed request");
    return;
  }
  c->consumed = c->req.header_bytes;
  if (c->req.content_length > 0 && (uint64_t)c->req.content_length > c->srv->lim.max_body_bytes) {
    respond_fatal(c, 413, "request body too large");
    return;
  }
  if (c->req.chunked || c->req.content_length > 0) {
    c->phase = P_BODY;
    vg_http_chunked_init(&c->chunked);
    c->raw_off = c->decoded = 0;
    if (c->req.expect_continue) {
      static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
      conn_write(c, cont, sizeof cont - 1, NULL, 0, 0);
    }
    timer_arm(c, c->srv->lim.header_timeout_ms);
    return;
  }
  dispatch(c, NULL, 0);
}

static void process_body(vg_http_conn *c) {
  size_t head = c->req.header_bytes;
  if (!c->req.chunked) {
    size_t need = (size_t)c->req.content_length;
    if (c->in_len - head < need) return;
    c->consumed = head + need;
    dispatch(c, c->in + head, need);
    return;
  }
  size_t used = 0, produced = 0;
  char *base = (char *)c->in + head;
  int rc = vg_http_chunked_decode(&c->chunked, base + c->raw_off, c->in_len - head - c->raw_off,
                                  &used, base + c->decoded, &produced, c->srv->lim.max_body_bytes);
  c->raw_off += used;
  c->decoded += produced;
  if (rc == VG_EAGAIN) return;
  if (rc == VG_ETOOBIG) {
    respond_fatal(c, 413, "request body too large");
    return;
  }
  if (rc < 0) {
    respond_fatal(c, 400, "malformed chunked body");
    return;
  }
  c->consumed = head + c->raw_off;
  dispatch(c, c->in + head, c->decoded);
}

static void conn_process(vg_http_conn *c) {
  if (c->in_process) return;
  c->in_process = true;
  for (;;) {
    if (c->closing || c->ending) break;
    enum phase before = c->phase;
    size_t len_before = c->in_len;
    if (c->phase == P_HEAD) {
      if (c->in_len == 0) break;
      process_head(c);
    } else if (c->phase == P_BODY) {
      process_body(c);
    } else if (c->phase == P_WS) {
      ws_feed(c);
      break;
    } else {
      break;
    }
    if (c->done_pending) {
      request_finish(c);
      continue;
    }
    if (c->phase == before && c->in_len == len_before) break;
  }
  c->in_process = false;
  if (c->read_paused && !c->closing && !c->ending && c->in_len < c->in_cap) {
    c->read_paused = false;
    read_start(c);
    if (c->tls && tls_drain(c) && c->in_len) conn_process(c);
  }
}

/* ---- input ---- */

static size_t input_cap(const vg_http_server *s) {
  size_t http = s->lim.max_header_bytes + (size_t)s->lim.max_body_bytes + READ_CHUNK;
  size_t ws = s->lim.ws_max_message + VG_WS_MAX_HEADER + READ_CHUNK;
  return http > ws ? http : ws;
}

/* Moves the parsed request's pointers after the input buffer moved. Only
 * done before the handler runs: handlers may keep pointers, so input never
 * moves while a request is being handled (reading pauses instead). */
static void req_rebase(vg_http_conn *c, const uint8_t *old, uint8_t *now) {
  if (c->phase != P_BODY || !old) return;
#define REBASE(p) \
  if (p) p = (const char *)now + ((p) - (const char *)old)
  REBASE(c->req.method);
  REBASE(c->req.target);
  REBASE(c->req.path);
  REBASE(c->req.query);
  for (size_t i = 0; i < c->req.num_headers; i++) {
    REBASE(c->req.headers[i].name);
    REBASE(c->req.headers[i].value);
  }
#undef REBASE
}

/* Makes room for `extra` more input bytes within the connection's cap.
 * Never moves the buffer while a handler has the request. */
static int input_reserve(vg_http_conn *c, size_t extra) {
  size_t max = input_cap(c->srv);
  if (c->in_cap - c->in_len >= extra) return 0;
  if (c->phase == P_HANDLING && c->in) return VG_EBUSY;
  if (c->in_cap >= max) return VG_ETOOBIG;
  size_t cap = c->in_cap ? c->in_cap : 4096;
  while (cap - c->in_len < extra && cap < max) cap *= 2;
  if (cap > max) cap = max;
  /* malloc+copy rather than realloc: the request's pointers are rebased
   * while the old block is still there. */
  uint8_t *in = malloc(cap);
  if (!in) return VG_ENOMEM;
  if (c->in_len) memcpy(in, c->in, c->in_len);
  req_rebase(c, c->in, in);
  free(c->in);
  c->in = in;
  c->in_cap = cap;
  return 0;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  vg_http_conn *c = h->data;
  static char scratch[READ_CHUNK]; /* TLS ciphertext is copied into the BIO at once */
  if (c->tls || c->phase == P_LINGER) {
    *buf = uv_buf_init(scratch, sizeof scratch);
    return;
  }
  input_reserve(c, READ_CHUNK / 4);
  /* A zero-length buffer makes libuv report UV_ENOBUFS: reading pauses. */
  *buf = uv_buf_init((char *)c->in + c->in_len, (unsigned)(c->in_cap - c->in_len));
}

/* Moves decrypted bytes from OpenSSL into the input buffer. Returns false
 * when the connection failed. */
static bool tls_drain(vg_http_conn *c) {
  for (;;) {
    if (input_reserve(c, READ_CHUNK / 4) && c->in_cap == c->in_len) {
      /* Plaintext backs up while a handler works: wait for it. */
      uv_read_stop((uv_stream_t *)&c->tcp);
      c->read_paused = true;
      break;
    }
    size_t n = 0;
    int rc = vg_tls_read(c->tls, c->in + c->in_len, c->in_cap - c->in_len, &n);
    if (rc == VG_EAGAIN) break;
    if (rc < 0) {
      tls_flush(c); /* send the alert, if any */
      conn_close(c);
      return false;
    }
    c->in_len += n;
  }
  tls_flush(c);
  return !c->closing;
}

/* Media listener: decides from the first bytes (plain, or decrypted after
 * a TLS handshake) what the connection speaks. Returns true when it goes
 * on as HTTP; false while undecided (the head timer bounds the wait) or
 * when it went elsewhere. */
static bool sniff_route(vg_http_conn *c) {
  vg_sniff_proto p;
  if (vg_sniff_classify(c->in, c->in_len, &p) == VG_EAGAIN) return false;
  if (p == VG_SNIFF_TLS && c->tls) p = VG_SNIFF_HTTP; /* TLS inside TLS: junk, 400 */
  if (p == VG_SNIFF_HTTP) {
    c->sniffing = false;
    return true;
  }
  if (p == VG_SNIFF_RTMP) {
    c->sniffing = false;
    /* Not HTTP any more: input is kept, never parsed. */
    c->phase = P_HANDLING;
    c->responded = true;
    uv_timer_stop(&c->timer);
    if (c->lis->on_rtmp)
      c->lis->on_rtmp(c, c->in, c->in_len, c->lis->rtmp_ud);
    else
      conn_close(c);
    return false;
  }
  /* A ClientHello on the plain port: TLS from here, then sniff again. */
  if (!c->lis->sniff_tls || vg_tls_new(c->lis->sniff_tls, &c->tls) < 0) {
    vg_log_info("media connection from %s: TLS ClientHello but no TLS configured: closed", c->peer);
    conn_close(c);
    return false;
  }
  int rc = vg_tls_feed(c->tls, c->in, c->in_len);
  c->in_len = 0;
  if (rc || !tls_drain(c)) {
    conn_close(c);
    return false;
  }
  return c->in_len > 0 && sniff_route(c);
}

static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  vg_http_conn *c = stream->data;
  if (nread == UV_ENOBUFS) {
    uv_read_stop(stream);
    c->read_paused = true;
    return;
  }
  if (nread == UV_EOF && c->phase == P_HANDLING && !c->responded && !c->tls) {
    /* The peer half-closed after its request: answer, then end. */
    uv_read_stop(stream);
    c->keep_alive = false;
    return;
  }
  if (nread < 0) {
    conn_close(c);
    return;
  }
  if (nread == 0) return;
  c->last_read = vg_mono_ms();
  if (c->phase == P_LINGER) return;
  if (!c->tls) {
    c->in_len += (size_t)nread;
  } else {
    if (vg_tls_feed(c->tls, buf->base, (size_t)nread)) {
      conn_close(c);
      return;
    }
    if (!tls_drain(c)) return;
  }
  if (c->sniffing && !sniff_route(c)) return;
  if (c->phase == P_BODY) timer_arm(c, c->srv->lim.header_timeout_ms);
  conn_process(c);
  if (!c->closing && !c->ending && c->in_len == c->in_cap && !c->read_paused &&
      c->phase == P_HANDLING) {
    uv_read_stop(stream);
    c->read_paused = true;
  }
}

static void read_start(vg_http_conn *c) {
  uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
}

/* ---- timers ---- */

static void timer_cb(uv_timer_t *t) {
  vg_http_conn *c = t->data;
  if (c->closing) return;
  switch (c->phase) {
    case P_HEAD:
      if (c->head_timer && c->in_len > 0)
        respond_fatal(c, 408, "request head timed out");
      else
        conn_close(c);
      break;
    case P_BODY:
      respond_fatal(c, 408, "request body timed out");
      break;
    case P_WS:
      if (c->ws_close_sent || vg_mono_ms() - c->last_read >= WS_IDLE_MS) {
        if (!c->ws_close_sent) c->ws_close_code = 1001;
        conn_close(c);
      } else {
        uint8_t frame[2] = {0x80 | VG_WS_PING, 0};
        conn_write(c, (const char *)frame, 2, NULL, 0, 0);
        timer_arm(c, WS_PING_MS);
      }
      break;
    case P_LINGER:
      conn_close(c);
      break;
    case P_HANDLING:
      stall_check(c);
      break;
  }
}

static void timer_arm(vg_http_conn *c, uint64_t ms) {
  if (c->closing) return;
  uv_timer_start(&c->timer, timer_cb, ms, 0);
}

/* ---- WebSocket ---- */

/* Checks the WebSocket handshake of req and computes the accept key;
 * answers 400 and returns VG_EINVAL when it is wrong. */
static int ws_handshake(vg_http_conn *c, const vg_http_request *req, char accept[29]) {
  const vg_http_header *key = vg_http_find_header(req, "Sec-WebSocket-Key");
  const vg_http_header *ver = vg_http_find_header(req, "Sec-WebSocket-Version");
  if (!req->upgrade_websocket || !key || !ver || ver->value_len != 2 ||
      memcmp(ver->value, "13", 2) != 0 || req->method_len != 3 ||
      memcmp(req->method, "GET", 3) != 0 ||
      vg_ws_accept_key(key->value, key->value_len, accept) != 0) {
    static const char body[] =
        "{\"error\":{\"code\":\"bad_request\",\"message\":\"not a valid WebSocket handshake\"}}";
    vg_http_respond_mem(c, 400, "application/json", "Sec-WebSocket-Version: 13\r\n", body,
                        sizeof body - 1);
    return VG_EINVAL;
  }
  return 0;
}

int vg_http_upgrade_ws(vg_http_conn *c, const vg_http_request *req, const vg_ws_handlers *h,
                       void *ud) {
  char accept[29];
  if (ws_handshake(c, req, accept)) return VG_EINVAL;
  if (c->phase != P_HANDLING || c->responded) return VG_ESTATE;
  char head[256];
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                   accept);
  c->responded = true;
  int rc = conn_write(c, head, (size_t)n, NULL, 0, 0);
  if (rc) return rc;
  c->wsh = h;
  c->ws_ud = ud;
  vg_ws_parser_init(&c->ws, true, c->srv->lim.ws_max_message);
  if (c->consumed < c->in_len) memmove(c->in, c->in + c->consumed, c->in_len - c->consumed);
  c->in_len -= c->consumed;
  c->consumed = 0;
  c->phase = P_WS;
  c->last_read = vg_mono_ms();
  timer_arm(c, WS_PING_MS);
  if (!c->in_process && c->in_len) conn_process(c);
  return 0;
}

int vg_http_ws_detach(vg_http_conn *c, const vg_http_request *req, int *fd, vg_buf **head,
                      vg_buf **input) {
  /* TLS state lives in this connection, and bytes still queued here would
   * be lost when the handle closes: such connections stay on this loop. */
  if (c->tls || c->queued || c->closing || c->phase != P_HANDLING || c->responded) return VG_ESTATE;
  char accept[29];
  if (ws_handshake(c, req, accept)) return VG_EINVAL;
  uv_os_fd_t own;
  if (uv_fileno((uv_handle_t *)&c->tcp, &own) != 0) return VG_EIO;
  int dup = fcntl(own, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return VG_EIO;
  char text[256];
  int n = snprintf(text, sizeof text,
                   "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                   accept);
  vg_buf *h = vg_buf_from(text, (size_t)n);
  vg_buf *in = NULL;
  if (h && c->consumed < c->in_len) in = vg_buf_from(c->in + c->consumed, c->in_len - c->consumed);
  if (!h || (c->consumed < c->in_len && !in)) {
    vg_buf_unref(h);
    close(dup);
    return VG_ENOMEM;
  }
  /* Closing the handle closes only this loop's descriptor: no shutdown,
   * so the socket lives on in dup. The request stays readable until the
   * close callback (a later turn of the loop). */
  c->responded = true;
  /* Out of the count at once: the new owner counts it from now on, and a
   * crowd detached in one loop turn must not be counted twice. */
  c->detached = true;
  c->srv->nconns--;
  uv_read_stop((uv_stream_t *)&c->tcp);
  conn_close(c);
  *fd = dup;
  *head = h;
  *input = in;
  return 0;
}

static int ws_send_raw(vg_http_conn *c, int opcode, vg_buf *payload, const void *mem, size_t len) {
  uint8_t hdr[VG_WS_MAX_HEADER];
  size_t plen = payload ? payload->len : len;
  size_t hl = vg_ws_frame_header(hdr, opcode, true, plen);
  if (payload) return conn_write(c, (const char *)hdr, hl, payload, 0, plen);
  char frame[VG_WS_MAX_HEADER + VG_WS_MAX_CONTROL];
  if (len > VG_WS_MAX_CONTROL) return VG_EINVAL;
  memcpy(frame, hdr, hl);
  if (len) memcpy(frame + hl, mem, len);
  return conn_write(c, frame, hl + len, NULL, 0, 0);
}

int vg_ws_send(vg_http_conn *c, int opcode, vg_buf *payload) {
  if (c->phase != P_WS || c->closing || c->ws_close_sent) return VG_ECLOSED;
  return ws_send_raw(c, opcode, payload, NULL, 0);
}

int vg_ws_send_stamped(vg_http_conn *c, int opcode, vg_buf *payload, uint64_t stamp_us) {
  c->stamp_us = stamp_us;
  int rc = vg_ws_send(c, opcode, payload);
  c->stamp_us = 0;
  return rc;
}

void vg_http_server_set_write_probe(vg_http_server *s, void (*probe)(uint64_t, void *), void *ud) {
  s->write_probe = probe;
  s->probe_ud = ud;
}

int vg_ws_send_text(vg_http_conn *c, const char *text, size_t len) {
  if (c->phase != P_WS || c->closing || c->ws_close_sent) return VG_ECLOSED;
  vg_buf *b = vg_buf_from(text, len);
  if (!b) return VG_ENOMEM;
  int rc = ws_send_raw(c, VG_WS_TEXT, b, NULL, 0);
  vg_buf_unref(b);
  return rc;
}

void vg_ws_close(vg_http_conn *c, uint16_t code, const char *reason) {
  if (c->phase != P_WS || c->closing || c->ws_close_sent) return;
  uint8_t payload[VG_WS_MAX_CONTROL];
  size_t rl = reason ? strlen(reason) : 0;
  if (rl > VG_WS_MAX_CONTROL - 2) rl = VG_WS_MAX_CONTROL - 2;
  payload[0] = (uint8_t)(code >> 8);
  payload[1] = (uint8_t)code;
  if (rl) memcpy(payload + 2, reason, rl);
  ws_send_raw(c, VG_WS_CLOSE, NULL, payload, rl + 2);
  c->ws_close_sent = true;
  c->ws_close_code = code;
  /* Wait briefly for the peer's close frame, then give up. */
  timer_arm(c, LINGER_MS);
}

static int ws_message(void *ud, int opcode, const uint8_t *data, size_t len) {
  vg_http_conn *c = ud;
  switch (opcode) {
    case VG_WS_TEXT:
    case VG_WS_BINARY:
      if (!c->ws_close_sent && c->wsh->on_message)
        c->wsh->on_message(c, opcode, data, len, c->ws_ud);
      break;
    case VG_WS_PING:
      if (!c->ws_close_sent) ws_send_raw(c, VG_WS_PONG, NULL, data, len);
      break;
    case VG_WS_PONG:
      break;
    case VG_WS_CLOSE: {
      uint16_t code = len >= 2 ? (uint16_t)(data[0] << 8 | data[1]) : 1005;
      if (!c->ws_close_sent) {
        /* Echo the peer's code, as RFC 6455 5.5.1 asks. */
        ws_send_raw(c, VG_WS_CLOSE, NULL, data, len >= 2 ? 2 : 0);
        c->ws_close_sent = true;
      }
      c->ws_close_code = code;
      conn_end(c);
      return 1;
    }
  }
  return c->closing || c->ending ? 1 : 0;
}

static void ws_feed(vg_http_conn *c) {
  size_t used = 0;
  uint16_t close_code = 0;
  int rc = vg_ws_parser_feed(&c->ws, c->in, c->in_len, &used, ws_message, c, &close_code);
  if (c->closing) return;
  if (used && used <= c->in_len) {
    memmove(c->in, c->in + used, c->in_len - used);
    c->in_len -= used;
  }
  if (rc < 0) {
    vg_log_debug("websocket from %s: protocol error %d", c->peer, close_code);
    if (!c->ws_close_sent) {
      uint8_t p[2] = {(uint8_t)(close_code >> 8), (uint8_t)close_code};
      ws_send_raw(c, VG_WS_CLOSE, NULL, p, 2);
      c->ws_close_sent = true;
    }
    c->ws_close_code = close_code;
    conn_end(c);
  }
}

/* ---- accepting ---- */

static void on_connection(uv_stream_t *server, int status) {
  listener *l = server->data;
  vg_http_server *s = l->srv;
  if (status < 0) return;
  vg_http_conn *c = calloc(1, sizeof *c);
  if (!c) return;
  c->srv = s;
  c->lis = l;
  c->refs = 1;
  c->open_handles = 2;
  uv_tcp_init(s->loop, &c->tcp);
  uv_timer_init(s->loop, &c->timer);
  c->tcp.data = c;
  c->timer.data = c;
  c->next = s->conns;
  if (s->conns) s->conns->prev = c;
  s->conns = c;
  s->nconns++;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0 || s->nconns > s->lim.max_connections ||
      s->closing) {
    conn_close(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  struct sockaddr_storage ss;
  int len = sizeof ss;
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
    if (ss.ss_family == AF_INET6)
      uv_ip6_name((struct sockaddr_in6 *)&ss, c->peer, sizeof c->peer);
    else
      uv_ip4_name((struct sockaddr_in *)&ss, c->peer, sizeof c->peer);
  }
  if (l->tls && vg_tls_new(l->tls, &c->tls) < 0) {
    conn_close(c);
    return;
  }
  c->phase = P_HEAD;
  c->keep_alive = true;
  c->sniffing = l->sniff;
  timer_arm(c, s->lim.header_timeout_ms);
  c->head_timer = false;
  read_start(c);
}

int vg_http_server_new(uv_loop_t *loop, const vg_http_limits_cfg *lim, vg_http_handler handler,
                       void *ud, vg_http_server **out) {
  vg_http_server *s = calloc(1, sizeof *s);
  if (!s) return VG_ENOMEM;
  s->loop = loop;
  s->lim = *lim;
  s->handler = handler;
  s->ud = ud;
  *out = s;
  return 0;
}

int vg_http_server_listen(vg_http_server *s, const char *addr, int port, vg_tls_ctx *tls,
                          int redirect_port, int *bound_port) {
  vg_http_listen_opts o = {.tls = tls, .redirect_port = redirect_port};
  return vg_http_server_listen_opts(s, addr, port, &o, bound_port);
}

int vg_http_server_listen_opts(vg_http_server *s, const char *addr, int port,
                               const vg_http_listen_opts *o, int *bound_port) {
  vg_tls_ctx *tls = o->tls;
  int redirect_port = o->redirect_port;
  struct sockaddr_storage ss;
  if (uv_ip4_addr(addr, port, (struct sockaddr_in *)&ss) != 0 &&
      uv_ip6_addr(addr, port, (struct sockaddr_in6 *)&ss) != 0)
    return UV_EINVAL;
  listener *l = calloc(1, sizeof *l);
  if (!l) return UV_ENOMEM;
  l->srv = s;
  l->tls = tls;
  l->redirect_port = redirect_port;
  l->sniff = o->sniff;
  l->sniff_tls = o->sniff_tls;
  l->on_rtmp = o->on_rtmp;
  l->rtmp_ud = o->rtmp_ud;
  uv_tcp_init(s->loop, &l->tcp);
  l->tcp.data = l;
  s->open_handles++;
  l->next = s->listeners;
  s->listeners = l;
  int rc = uv_tcp_bind(&l->tcp, (struct sockaddr *)&ss, 0);
  if (rc == 0) rc = uv_listen((uv_stream_t *)&l->tcp, 511, on_connection);
  if (rc == 0 && bound_port) {
    int len = sizeof ss;
    uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&ss, &len);
    *bound_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  }
  return rc;
}

static void listener_closed(uv_handle_t *h) {
  listener *l = h->data;
  vg_http_server *s = l->srv;
  free(l);
  s->open_handles--;
  if (s->closing && s->nconns == 0 && s->open_handles == 0 && s->close_cb) {
    void (*cb)(void *) = s->close_cb;
    s->close_cb = NULL;
    cb(s->close_ud);
  }
}

void vg_http_server_close(vg_http_server *s, void (*cb)(void *), void *ud) {
  s->closing = true;
  s->close_cb = cb;
  s->close_ud = ud;
  for (listener *l = s->listeners, *next; l; l = next) {
    next = l->next;
    uv_close((uv_handle_t *)&l->tcp, listener_closed);
  }
  s->listeners = NULL;
  for (vg_http_conn *c = s->conns; c; c = c->next) {
    if (c->phase == P_WS) c->ws_close_code = 1001;
    conn_close(c);
  }
}

void vg_http_server_free(vg_http_server *s) { free(s); }
