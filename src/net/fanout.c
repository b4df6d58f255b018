/* fanout.c - sender threads for live WebSocket viewers (see fanout.h).
 *
 * Memory layout: the owner holds a vg_fanout with one sender per thread.
 * A sender has a FIFO of messages (msg: add a viewer, restart a group,
 * send a buffer, stop) guarded by a mutex and woken by its uv_async; the
 * thread takes the whole list at once and runs it in order, so a viewer
 * added before a fragment was posted gets that fragment, and a catch-up
 * built before it never repeats one. Each sender keeps its groups (a
 * short list: one per watched stream) and each group its viewers (a
 * doubly linked list). A viewer that is closing leaves its group at once
 * and waits on the sender's closing list until the peer answers the close
 * frame, its socket shuts, or a deadline passes. Viewers gone are posted
 * back to the owner through a second queue and uv_async.
 *
 * A thread only ever touches its own viewers; the owner only touches the
 * queues (under their mutexes), its per-sender viewer counts and, under
 * each sender's stats mutex, the counters. */
#include "fanout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "net/ws.h"

/* Ping a viewer silent this long; close one silent WS_IDLE_MS (as http.c). */
#define WS_PING_MS 30000
#define WS_IDLE_MS 90000
/* After a close frame, wait this long for the peer's, then close. */
#define LINGER_MS 2000
#define TICK_MS 1000
#define READ_MIN 4096
/* Messages of one group queued together go out in one write per viewer,
 * up to this many: fragments made in one burst (the camera reader hands
 * over what arrived each tick) then cost one pass and one send, and the
 * later ones do not wait behind a whole pass of the earlier. */
#define BATCH_MAX 8

enum { M_ADD, M_RESTART, M_SEND, M_STOP };

typedef struct msg {
  struct msg *next;
  int type;
  uint64_t group;
  /* M_ADD */
  int fd;
  int variant;
  vg_buf *head, *input;
  char peer[64];
  /* M_ADD, M_RESTART */
  vg_fanout_start start;
  /* M_SEND */
  vg_buf *buf;
  bool sync;
  uint64_t made_us;
} msg;

typedef struct sender sender;
typedef struct fgroup fgroup;

typedef struct viewer {
  struct viewer *prev, *next;
  sender *s;
  fgroup *g; /* NULL once closing */
  uint64_t gid;
  bool on_closing; /* on the sender's closing list */
  uv_tcp_t tcp;
  char peer[64];
  int variant;
  bool skipping;                                        /* waiting for a sync message */
  bool close_sent;                                      /* our close frame is queued */
  bool shut;                                            /* the write side is shutting down */
  bool closed;                                          /* uv_close called */
  uint64_t stuck_since, deadline, last_read, last_ping; /* mono ms */
  size_t queued; /* bytes handed to uv_write and not yet written */
  vg_ws_parser ws;
  uint8_t *in;
  size_t in_len, in_cap;
} viewer;

struct fgroup {
  fgroup *next;
  uint64_t id;
  viewer *viewers;
};

/* One piece of a write: raw bytes (a frame header, or a small control
 * message, copied if they have to wait) then a buffer (referenced). */
typedef struct part {
  const uint8_t *raw;
  size_t raw_len;
  vg_buf *buf;
  uint64_t stamp_us; /* latency stamp of this message; 0: none */
} part;

/* The rest of a write the kernel did not take at once. */
typedef struct wreq {
  uv_write_t req;
  viewer *v;
  size_t bytes;
  unsigned nhold, nstamp;
  vg_buf *hold[BATCH_MAX];
  uint64_t stamp_us[BATCH_MAX];
  uint8_t hdr[BATCH_MAX * (VG_WS_MAX_HEADER + VG_WS_MAX_CONTROL)];
} wreq;

struct sender {
  vg_fanout *f;
  int index;
  uv_thread_t thread;
  uv_loop_t loop;
  uv_async_t wake;
  uv_timer_t tick;
  uv_mutex_t mu; /* guards head, tail */
  msg *head, *tail;
  fgroup *groups;
  viewer *closing; /* viewers that left their group, not yet closed */
  bool stopping;
  size_t assigned; /* owner's count of viewers given to this thread */
  uv_mutex_t smu;  /* guards the statistics */
  uint64_t bytes_queued, skips, drops, lat_count, lat_max_us;
  uint32_t *lat;
};

typedef struct gone_item {
  struct gone_item *next;
  uint64_t group;
  int index;
} gone_item;

struct vg_fanout {
  uv_loop_t *owner;
  vg_fanout_cfg cfg;
  vg_fanout_gone_cb gone;
  void *ud;
  uv_async_t back;
  uv_mutex_t gmu; /* guards gone_head */
  gone_item *gone_head;
  sender *senders;
  int nsenders;
  size_t viewers;
};

static uint64_t mono_us(void) { return uv_hrtime() / 1000; }
static uint64_t mono_ms(void) { return uv_hrtime() / 1000000; }

static void start_ref(vg_fanout_start *dst, const vg_fanout_start *src) {
  memset(dst, 0, sizeof *dst);
  if (!src) return;
  for (int i = 0; i < VG_FANOUT_VARIANTS; i++)
    dst->text[i] = src->text[i] ? vg_buf_ref(src->text[i]) : NULL;
  dst->init = src->init ? vg_buf_ref(src->init) : NULL;
  dst->catchup = src->catchup ? vg_buf_ref(src->catchup) : NULL;
}

static void start_unref(vg_fanout_start *st) {
  for (int i = 0; i < VG_FANOUT_VARIANTS; i++) vg_buf_unref(st->text[i]);
  vg_buf_unref(st->init);
  vg_buf_unref(st->catchup);
  memset(st, 0, sizeof *st);
}

static void msg_free(msg *m) {
  if (m->type == M_ADD && m->fd >= 0) close(m->fd);
  vg_buf_unref(m->head);
  vg_buf_unref(m->input);
  vg_buf_unref(m->buf);
  start_unref(&m->start);
  free(m);
}

static void post(sender *s, msg *m) {
  uv_mutex_lock(&s->mu);
  if (s->tail)
    s->tail->next = m;
  else
    s->head = m;
  s->tail = m;
  uv_mutex_unlock(&s->mu);
  uv_async_send(&s->wake);
}

/* ---- the thread side: statistics ---- */

static void lat_record(sender *s, uint64_t stamp_us) {
  uint64_t d = mono_us() - stamp_us;
  size_t b = d / VG_FANOUT_LAT_BUCKET_US;
  s->lat[b < VG_FANOUT_LAT_BUCKETS ? b : VG_FANOUT_LAT_BUCKETS - 1]++;
  s->lat_count++;
  if (d > s->lat_max_us) s->lat_max_us = d;
}

/* ---- the thread side: viewers ---- */

static void gone_post(sender *s, uint64_t group) {
  vg_fanout *f = s->f;
  gone_item *g = malloc(sizeof *g);
  if (!g) return; /* the owner's count stays one high: only statistics suffer */
  g->group = group;
  g->index = s->index;
  uv_mutex_lock(&f->gmu);
  g->next = f->gone_head;
  f->gone_head = g;
  uv_mutex_unlock(&f->gmu);
  uv_async_send(&f->back);
}

static void list_remove(viewer **head, viewer *v) {
  if (v->prev)
    v->prev->next = v->next;
  else
    *head = v->next;
  if (v->next) v->next->prev = v->prev;
  v->prev = v->next = NULL;
}

static void list_push(viewer **head, viewer *v) {
  v->prev = NULL;
  v->next = *head;
  if (*head) (*head)->prev = v;
  *head = v;
}

static fgroup *group_find(sender *s, uint64_t id, bool create) {
  for (fgroup *g = s->groups; g; g = g->next)
    if (g->id == id) return g;
  if (!create) return NULL;
  fgroup *g = calloc(1, sizeof *g);
  if (!g) return NULL;
  g->id = id;
  g->next = s->groups;
  s->groups = g;
  return g;
}

/* Frees g when nobody is left in it. Called only where no loop over g's
 * viewers is running (a viewer leaving never frees its group itself). */
static void group_drop_if_empty(sender *s, fgroup *g) {
  if (g->viewers) return;
  for (fgroup **p = &s->groups; *p; p = &(*p)->next)
    if (*p == g) {
      *p = g->next;
      free(g);
      return;
    }
}

/* Takes v out of its group onto the closing list: no more messages. */
static void viewer_leave(viewer *v) {
  if (!v->g) return;
  list_remove(&v->g->viewers, v);
  v->g = NULL;
  list_push(&v->s->closing, v);
  v->on_closing = true;
}

static void viewer_closed(uv_handle_t *h) {
  viewer *v = h->data;
  gone_post(v->s, v->gid);
  vg_ws_parser_free(&v->ws);
  free(v->in);
  free(v);
}

/* Closes the socket now; pending writes are cancelled, then v is freed. */
static void viewer_close(viewer *v) {
  if (v->closed) return;
  viewer_leave(v);
  if (v->on_closing) list_remove(&v->s->closing, v);
  v->on_closing = false;
  v->closed = true;
  uv_close((uv_handle_t *)&v->tcp, viewer_closed);
}

static void write_done(uv_write_t *req, int status) {
  wreq *w = (wreq *)req;
  viewer *v = w->v;
  v->queued -= w->bytes;
  if (w->nstamp && status == 0) {
    sender *s = v->s;
    uv_mutex_lock(&s->smu);
    for (unsigned i = 0; i < w->nstamp; i++) lat_record(s, w->stamp_us[i]);
    uv_mutex_unlock(&s->smu);
  }
  for (unsigned i = 0; i < w->nhold; i++) vg_buf_unref(w->hold[i]);
  free(w);
  if (status < 0 && status != UV_ECANCELED && !v->closed) viewer_close(v);
}

/* Writes n parts (at most BATCH_MAX) in order: at once as far as the kernel
 * takes them, the rest queued in libuv. A message's latency is taken when
 * its last byte went. */
static int viewer_writev(viewer *v, const part *p, unsigned n) {
  if (v->closed || v->shut) return VG_ECLOSED;
  size_t skip = 0; /* bytes the kernel took at once */
  uv_buf_t bufs[2 * BATCH_MAX];
  unsigned nb = 0;
  for (unsigned i = 0; i < n; i++) {
    if (p[i].raw_len) bufs[nb++] = uv_buf_init((char *)p[i].raw, (unsigned)p[i].raw_len);
    if (p[i].buf && p[i].buf->len)
      bufs[nb++] = uv_buf_init((char *)p[i].buf->data, (unsigned)p[i].buf->len);
  }
  if (v->queued == 0) {
    /* Nothing queued: write straight away, without a request, a callback
     * on the next turn or a change of the poll set. Most writes end here. */
    int rc = nb ? uv_try_write((uv_stream_t *)&v->tcp, bufs, nb) : 0;
    if (rc == UV_EAGAIN) rc = 0;
    if (rc < 0) {
      viewer_close(v);
      return VG_EIO;
    }
    skip = (size_t)rc;
  }
  /* Messages wholly taken are timed now; the rest wait in libuv's queue. */
  wreq *w = NULL;
  nb = 0;
  size_t hoff = 0;
  for (unsigned i = 0; i < n; i++) {
    size_t blen = p[i].buf ? p[i].buf->len : 0;
    if (skip >= p[i].raw_len + blen) {
      skip -= p[i].raw_len + blen;
      if (p[i].stamp_us) lat_record(v->s, p[i].stamp_us);
      continue;
    }
    if (!w && !(w = calloc(1, sizeof *w))) {
      viewer_close(v); /* part of a frame is out: the stream cannot go on */
      return VG_ENOMEM;
    }
    if (skip < p[i].raw_len) {
      size_t len = p[i].raw_len - skip;
      memcpy(w->hdr + hoff, p[i].raw + skip, len);
      bufs[nb++] = uv_buf_init((char *)w->hdr + hoff, (unsigned)len);
      hoff += len;
      w->bytes += len;
      skip = 0;
    } else {
      skip -= p[i].raw_len;
    }
    if (blen > skip) {
      w->hold[w->nhold++] = vg_buf_ref(p[i].buf);
      bufs[nb++] = uv_buf_init((char *)p[i].buf->data + skip, (unsigned)(blen - skip));
      w->bytes += blen - skip;
    }
    skip = 0;
    if (p[i].stamp_us) w->stamp_us[w->nstamp++] = p[i].stamp_us;
  }
  if (!w) return 0;
  w->v = v;
  v->queued += w->bytes;
  int rc = uv_write(&w->req, (uv_stream_t *)&v->tcp, bufs, nb, write_done);
  if (rc < 0) {
    v->queued -= w->bytes;
    for (unsigned i = 0; i < w->nhold; i++) vg_buf_unref(w->hold[i]);
    free(w);
    viewer_close(v);
    return VG_EIO;
  }
  if (v->tcp.write_queue_size == 0) {
    /* uv_write finished it at once after all. */
    for (unsigned i = 0; i < w->nstamp; i++) lat_record(v->s, w->stamp_us[i]);
    w->nstamp = 0;
  }
  return 0;
}

static int viewer_write(viewer *v, const void *raw, size_t raw_len, vg_buf *buf,
                        uint64_t stamp_us) {
  part p = {raw, raw_len, buf, stamp_us};
  return viewer_writev(v, &p, 1);
}

/* One WebSocket message: a frame header, then buf (or small inline data). */
static int viewer_send(viewer *v, int opcode, vg_buf *buf, const void *data, size_t len,
                       uint64_t stamp_us) {
  if (v->close_sent) return VG_ECLOSED;
  uint8_t frame[VG_WS_MAX_HEADER + VG_WS_MAX_CONTROL];
  size_t plen = buf ? buf->len : len;
  size_t hl = vg_ws_frame_header(frame, opcode, true, plen);
  if (buf) return viewer_write(v, frame, hl, buf, stamp_us);
  if (len > VG_WS_MAX_CONTROL) return VG_EINVAL;
  if (len) memcpy(frame + hl, data, len);
  return viewer_write(v, frame, hl + len, NULL, 0);
}

static void shutdown_done(uv_shutdown_t *req, int status) {
  viewer *v = req->data;
  free(req);
  if (!v->closed) viewer_close(v);
}

/* The close handshake is done (or failed): shut the write side after what
 * is queued, then close; the tick closes it at the deadline otherwise. */
static void viewer_end(viewer *v) {
  viewer_leave(v);
  if (v->shut || v->closed) return;
  v->shut = true;
  v->deadline = mono_ms() + LINGER_MS;
  uv_shutdown_t *req = malloc(sizeof *req);
  if (!req) {
    viewer_close(v);
    return;
  }
  req->data = v;
  if (uv_shutdown(req, (uv_stream_t *)&v->tcp, shutdown_done) < 0) {
    free(req);
    viewer_close(v);
  }
}

/* Sends a close frame and waits LINGER_MS for the peer's. */
static void viewer_close_frame(viewer *v, uint16_t code, const char *reason) {
  viewer_leave(v);
  if (v->close_sent || v->closed) return;
  uint8_t p[VG_WS_MAX_CONTROL];
  size_t rl = reason ? strlen(reason) : 0;
  if (rl > VG_WS_MAX_CONTROL - 2) rl = VG_WS_MAX_CONTROL - 2;
  p[0] = (uint8_t)(code >> 8);
  p[1] = (uint8_t)code;
  if (rl) memcpy(p + 2, reason, rl);
  viewer_send(v, VG_WS_CLOSE, NULL, p, rl + 2, 0);
  v->close_sent = true;
  v->deadline = mono_ms() + LINGER_MS;
}

static int on_ws_message(void *ud, int opcode, const uint8_t *data, size_t len) {
  viewer *v = ud;
  switch (opcode) {
    case VG_WS_PING:
      if (!v->close_sent) viewer_send(v, VG_WS_PONG, NULL, data, len, 0);
      break;
    case VG_WS_CLOSE:
      if (!v->close_sent) {
        /* Echo the peer's code, as RFC 6455 5.5.1 asks. */
        viewer_send(v, VG_WS_CLOSE, NULL, data, len >= 2 ? 2 : 0, 0);
        v->close_sent = true;
      }
      viewer_end(v);
      return 1;
    default:
      break; /* viewers have nothing to say */
  }
  return v->closed || v->shut ? 1 : 0;
}

static void viewer_feed(viewer *v) {
  size_t used = 0;
  uint16_t code = 0;
  int rc = vg_ws_parser_feed(&v->ws, v->in, v->in_len, &used, on_ws_message, v, &code);
  if (v->closed) return;
  if (used && used <= v->in_len) {
    memmove(v->in, v->in + used, v->in_len - used);
    v->in_len -= used;
  }
  if (rc < 0) {
    vg_log_debug("websocket from %s: protocol error %d", v->peer, code);
    if (!v->close_sent) {
      uint8_t p[2] = {(uint8_t)(code >> 8), (uint8_t)code};
      viewer_send(v, VG_WS_CLOSE, NULL, p, 2, 0);
      v->close_sent = true;
    }
    viewer_end(v);
  }
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  viewer *v = h->data;
  size_t max = v->s->f->cfg.ws_max_message + VG_WS_MAX_HEADER + READ_MIN;
  if (v->in_cap - v->in_len < READ_MIN && v->in_cap < max) {
    size_t cap = v->in_cap ? v->in_cap * 2 : READ_MIN;
    if (cap > max) cap = max;
    uint8_t *in = realloc(v->in, cap);
    if (in) {
      v->in = in;
      v->in_cap = cap;
    }
  }
  /* A zero-length buffer makes libuv report UV_ENOBUFS. */
  *buf = uv_buf_init((char *)v->in + v->in_len, (unsigned)(v->in_cap - v->in_len));
}

static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  viewer *v = stream->data;
  if (nread == 0) return;
  if (nread < 0) {
    viewer_close(v);
    return;
  }
  v->last_read = mono_ms();
  if (v->shut) return; /* after the close handshake input only drains */
  v->in_len += (size_t)nread;
  viewer_feed(v);
}

/* Sends a viewer its start messages; without a catch-up it waits for a sync. */
static void viewer_start(viewer *v, const vg_fanout_start *st) {
  vg_buf *text = v->variant >= 0 && v->variant < VG_FANOUT_VARIANTS ? st->text[v->variant] : NULL;
  if (text) viewer_send(v, VG_WS_TEXT, text, NULL, 0, 0);
  if (st->init) viewer_send(v, VG_WS_BINARY, st->init, NULL, 0, 0);
  if (st->catchup) viewer_send(v, VG_WS_BINARY, st->catchup, NULL, 0, 0);
  v->skipping = st->catchup == NULL;
}

static void run_add(sender *s, msg *m) {
  viewer *v = calloc(1, sizeof *v);
  fgroup *g = v ? group_find(s, m->group, true) : NULL;
  if (!v || !g || uv_tcp_init(&s->loop, &v->tcp) != 0) {
    free(v);
    if (g) group_drop_if_empty(s, g);
    gone_post(s, m->group);
    return; /* msg_free closes the fd */
  }
  v->tcp.data = v;
  v->s = s;
  v->gid = m->group;
  if (uv_tcp_open(&v->tcp, m->fd) != 0) {
    /* The handle owns no socket (msg_free closes the fd): close it alone. */
    v->closed = true;
    uv_close((uv_handle_t *)&v->tcp, viewer_closed);
    group_drop_if_empty(s, g);
    return;
  }
  m->fd = -1; /* the handle owns it now */
  snprintf(v->peer, sizeof v->peer, "%s", m->peer);
  v->variant = m->variant;
  v->last_read = v->last_ping = mono_ms();
  vg_ws_parser_init(&v->ws, true, s->f->cfg.ws_max_message);
  v->g = g;
  list_push(&g->viewers, v);
  if (m->head) viewer_write(v, m->head->data, 0, m->head, 0);
  if (v->closed) return;
  viewer_start(v, &m->start);
  if (m->input && m->input->len && !v->closed) {
    v->in = malloc(m->input->len + READ_MIN);
    if (v->in) {
      v->in_cap = m->input->len + READ_MIN;
      memcpy(v->in, m->input->data, m->input->len);
      v->in_len = m->input->len;
      viewer_feed(v);
    }
  }
  if (!v->closed && uv_read_start((uv_stream_t *)&v->tcp, alloc_cb, read_cb) != 0) viewer_close(v);
}

/* Sends n messages of one group (consecutive in the queue) to its viewers:
 * one write per viewer. */
static void run_send(sender *s, msg **m, unsigned n) {
  fgroup *g = group_find(s, m[0]->group, false);
  if (!g) return;
  const vg_fanout_cfg *cfg = &s->f->cfg;
  uint64_t now = mono_ms();
  uint64_t bytes = 0, skips = 0, drops = 0;
  /* Frame headers are the same for every viewer. */
  uint8_t hdr[BATCH_MAX][VG_WS_MAX_HEADER];
  part parts[BATCH_MAX];
  size_t from_bytes[BATCH_MAX + 1]; /* payload bytes of messages k..n-1 */
  from_bytes[n] = 0;
  for (unsigned k = n; k-- > 0;) {
    size_t hl = vg_ws_frame_header(hdr[k], VG_WS_BINARY, true, m[k]->buf->len);
    parts[k] = (part){hdr[k], hl, m[k]->buf, m[k]->made_us};
    from_bytes[k] = from_bytes[k + 1] + m[k]->buf->len;
  }
  /* The stats lock is held over the whole pass: write_done never runs in
   * it, and the owner reads the counters rarely. */
  uv_mutex_lock(&s->smu);
  for (viewer *v = g->viewers, *next; v; v = next) {
    next = v->next;
    if (v->queued > cfg->skip_bytes) {
      if (!v->stuck_since) {
        v->stuck_since = now;
      } else if (now - v->stuck_since > cfg->stuck_ms) {
        drops++;
        vg_log_info("live: viewer %s stuck for %llu ms with %zu bytes queued: closed", v->peer,
                    (unsigned long long)(now - v->stuck_since), v->queued);
        viewer_close_frame(v, 1008, "viewer too slow");
        continue;
      }
      if (!v->skipping) skips++;
      v->skipping = true; /* even a sync message waits until it is below the bound */
      continue;
    }
    v->stuck_since = 0;
    unsigned k = 0;
    if (v->skipping)
      while (k < n && !m[k]->sync) k++;
    if (k == n || v->close_sent) continue;
    v->skipping = false;
    if (viewer_writev(v, parts + k, n - k) == 0) bytes += from_bytes[k];
  }
  s->bytes_queued += bytes;
  s->skips += skips;
  s->drops += drops;
  uv_mutex_unlock(&s->smu);
  group_drop_if_empty(s, g);
}

static void run_restart(sender *s, msg *m) {
  fgroup *g = group_find(s, m->group, false);
  if (!g) return;
  for (viewer *v = g->viewers, *next; v; v = next) {
    next = v->next;
    viewer_start(v, &m->start);
  }
  group_drop_if_empty(s, g);
}

static void close_all(sender *s) {
  while (s->groups) {
    fgroup *g = s->groups;
    if (g->viewers) {
      viewer_close(g->viewers);
    } else {
      s->groups = g->next;
      free(g);
    }
  }
  while (s->closing) viewer_close(s->closing);
}

static void run_stop(sender *s) {
  s->stopping = true;
  close_all(s);
  uv_close((uv_handle_t *)&s->wake, NULL);
  uv_close((uv_handle_t *)&s->tick, NULL);
}

static void wake_cb(uv_async_t *a) {
  sender *s = a->data;
  uv_mutex_lock(&s->mu);
  msg *m = s->head;
  s->head = s->tail = NULL;
  uv_mutex_unlock(&s->mu);
  while (m) {
    msg *next = m->next;
    if (!s->stopping) {
      switch (m->type) {
        case M_ADD:
          run_add(s, m);
          break;
        case M_SEND: {
          /* m and the sends to its group right behind it, in one pass */
          msg *batch[BATCH_MAX] = {m};
          unsigned n = 1;
          for (; next && next->type == M_SEND && next->group == m->group && n < BATCH_MAX;
               next = next->next)
            batch[n++] = next;
          run_send(s, batch, n);
          for (unsigned i = 1; i < n; i++) msg_free(batch[i]);
          break;
        }
        case M_RESTART:
          run_restart(s, m);
          break;
        case M_STOP:
          run_stop(s);
          break;
      }
    }
    msg_free(m);
    m = next;
  }
}

/* Once a second: ping quiet viewers, close silent ones and closing ones
 * past their deadline. */
static void tick_cb(uv_timer_t *t) {
  sender *s = t->data;
  uint64_t now = mono_ms();
  for (viewer *v = s->closing, *next; v; v = next) {
    next = v->next;
    if (now >= v->deadline) viewer_close(v);
  }
  for (fgroup *g = s->groups, *gnext; g; g = gnext) {
    gnext = g->next; /* a group goes when its last viewer closes */
    for (viewer *v = g->viewers, *next; v; v = next) {
      next = v->next;
      if (now - v->last_read >= WS_IDLE_MS) {
        viewer_close(v);
      } else if (now - v->last_ping >= WS_PING_MS && now - v->last_read >= WS_PING_MS) {
        uint8_t frame[2] = {0x80 | VG_WS_PING, 0};
        viewer_write(v, frame, 2, NULL, 0);
        v->last_ping = now;
      }
    }
    group_drop_if_empty(s, g);
  }
}

static void thread_main(void *arg) {
  sender *s = arg;
  uv_run(&s->loop, UV_RUN_DEFAULT);
}

/* ---- the owner's side ---- */

static void back_cb(uv_async_t *a) {
  vg_fanout *f = a->data;
  uv_mutex_lock(&f->gmu);
  gone_item *g = f->gone_head;
  f->gone_head = NULL;
  uv_mutex_unlock(&f->gmu);
  /* The list is newest first; order does not matter to a count. */
  while (g) {
    gone_item *next = g->next;
    if (f->senders[g->index].assigned) f->senders[g->index].assigned--;
    if (f->viewers) f->viewers--;
    if (f->gone) f->gone(g->group, f->ud);
    free(g);
    g = next;
  }
}

static void sender_destroy(sender *s) {
  uv_mutex_destroy(&s->mu);
  uv_mutex_destroy(&s->smu);
  free(s->lat);
}

int vg_fanout_new(uv_loop_t *loop, const vg_fanout_cfg *cfg, vg_fanout_gone_cb gone, void *ud,
                  vg_fanout **out) {
  if (cfg->threads < 1) return VG_EINVAL;
  vg_fanout *f = calloc(1, sizeof *f);
  if (!f) return VG_ENOMEM;
  f->senders = calloc((size_t)cfg->threads, sizeof *f->senders);
  if (!f->senders) {
    free(f);
    return VG_ENOMEM;
  }
  f->owner = loop;
  f->cfg = *cfg;
  f->gone = gone;
  f->ud = ud;
  uv_mutex_init(&f->gmu);
  uv_async_init(loop, &f->back, back_cb);
  f->back.data = f;
  uv_unref((uv_handle_t *)&f->back);
  for (int i = 0; i < cfg->threads; i++) {
    sender *s = &f->senders[i];
    s->f = f;
    s->index = i;
    s->lat = calloc(VG_FANOUT_LAT_BUCKETS, sizeof *s->lat);
    uv_mutex_init(&s->mu);
    uv_mutex_init(&s->smu);
    if (!s->lat || uv_loop_init(&s->loop) != 0) {
      sender_destroy(s);
      f->nsenders = i;
      vg_fanout_free(f);
      return VG_ENOMEM;
    }
    uv_async_init(&s->loop, &s->wake, wake_cb);
    s->wake.data = s;
    uv_timer_init(&s->loop, &s->tick);
    s->tick.data = s;
    uv_timer_start(&s->tick, tick_cb, TICK_MS, TICK_MS);
    if (uv_thread_create(&s->thread, thread_main, s) != 0) {
      uv_close((uv_handle_t *)&s->wake, NULL);
      uv_close((uv_handle_t *)&s->tick, NULL);
      uv_run(&s->loop, UV_RUN_DEFAULT);
      uv_loop_close(&s->loop);
      sender_destroy(s);
      f->nsenders = i;
      vg_fanout_free(f);
      return VG_ENOMEM;
    }
    f->nsenders = i + 1;
  }
  *out = f;
  return 0;
}

void vg_fanout_free(vg_fanout *f) {
  if (!f) return;
  for (int i = 0; i < f->nsenders; i++) {
    msg *m = calloc(1, sizeof *m);
    if (m) {
      m->type = M_STOP;
      m->fd = -1;
      post(&f->senders[i], m);
    } else {
      /* No memory even for that: the thread is still woken, and an empty
       * wake with stopping set would not stop it, so spin on calloc. */
      while (!(m = calloc(1, sizeof *m))) uv_sleep(10);
      m->type = M_STOP;
      m->fd = -1;
      post(&f->senders[i], m);
    }
  }
  for (int i = 0; i < f->nsenders; i++) {
    sender *s = &f->senders[i];
    uv_thread_join(&s->thread);
    uv_loop_close(&s->loop);
    for (msg *m = s->head, *next; m; m = next) {
      next = m->next;
      msg_free(m);
    }
    sender_destroy(s);
  }
  for (gone_item *g = f->gone_head, *next; g; g = next) {
    next = g->next;
    free(g);
  }
  uv_close((uv_handle_t *)&f->back, NULL);
  uv_run(f->owner, UV_RUN_NOWAIT);
  uv_mutex_destroy(&f->gmu);
  free(f->senders);
  free(f);
}

static sender *least_loaded(vg_fanout *f) {
  sender *best = &f->senders[0];
  for (int i = 1; i < f->nsenders; i++)
    if (f->senders[i].assigned < best->assigned) best = &f->senders[i];
  return best;
}

int vg_fanout_add(vg_fanout *f, uint64_t group, int fd, vg_buf *head, vg_buf *input, int variant,
                  const vg_fanout_start *start, const char *peer) {
  msg *m = calloc(1, sizeof *m);
  if (!m) {
    close(fd);
    return VG_ENOMEM;
  }
  m->type = M_ADD;
  m->group = group;
  m->fd = fd;
  m->variant = variant;
  m->head = head ? vg_buf_ref(head) : NULL;
  m->input = input ? vg_buf_ref(input) : NULL;
  snprintf(m->peer, sizeof m->peer, "%s", peer ? peer : "");
  start_ref(&m->start, start);
  sender *s = least_loaded(f);
  s->assigned++;
  f->viewers++;
  post(s, m);
  return 0;
}

void vg_fanout_restart(vg_fanout *f, uint64_t group, const vg_fanout_start *start) {
  for (int i = 0; i < f->nsenders; i++) {
    if (!f->senders[i].assigned) continue;
    msg *m = calloc(1, sizeof *m);
    if (!m) continue;
    m->type = M_RESTART;
    m->group = group;
    m->fd = -1;
    start_ref(&m->start, start);
    post(&f->senders[i], m);
  }
}

void vg_fanout_send(vg_fanout *f, uint64_t group, vg_buf *buf, bool sync, uint64_t made_us) {
  for (int i = 0; i < f->nsenders; i++) {
    if (!f->senders[i].assigned) continue;
    msg *m = calloc(1, sizeof *m);
    if (!m) continue;
    m->type = M_SEND;
    m->group = group;
    m->fd = -1;
    m->buf = vg_buf_ref(buf);
    m->sync = sync;
    m->made_us = made_us;
    post(&f->senders[i], m);
  }
}

void vg_fanout_stats_get(vg_fanout *f, vg_fanout_stats *acc, bool reset) {
  for (int i = 0; i < f->nsenders; i++) {
    sender *s = &f->senders[i];
    uv_mutex_lock(&s->smu);
    acc->bytes_queued += s->bytes_queued;
    acc->skips += s->skips;
    acc->drops += s->drops;
    acc->lat_count += s->lat_count;
    if (s->lat_max_us > acc->lat_max_us) acc->lat_max_us = s->lat_max_us;
    for (size_t b = 0; b < VG_FANOUT_LAT_BUCKETS; b++) acc->lat[b] += s->lat[b];
    if (reset) {
      s->bytes_queued = s->skips = s->drops = s->lat_count = s->lat_max_us = 0;
      memset(s->lat, 0, VG_FANOUT_LAT_BUCKETS * sizeof *s->lat);
    }
    uv_mutex_unlock(&s->smu);
  }
}

size_t vg_fanout_viewers(const vg_fanout *f) { return f->viewers; }

int vg_fanout_threads(const vg_fanout *f) { return f->nsenders; }

size_t vg_fanout_thread_viewers(const vg_fanout *f, int thread) {
  return thread >= 0 && thread < f->nsenders ? f->senders[thread].assigned : 0;
}
