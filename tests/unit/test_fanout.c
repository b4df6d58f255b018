/* test_fanout.c - live sender threads over real loopback TCP: a viewer
 * gets the 101 head, its start messages and then every message of its
 * group whole and in order, also when messages are posted in bursts (they
 * go out together) and the socket takes only part of each write; a viewer
 * that does not read is skipped to the next sync message; one that hangs
 * up is reported gone; freeing the fan-out closes every viewer. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/buf.h"
#include "net/fanout.h"
#include "net/ws.h"

#define HEAD "HTTP/1.1 101 Switching Protocols\r\n\r\n"

static int gone_count;
static void on_gone(uint64_t group, void *ud) {
  (void)group;
  (void)ud;
  gone_count++;
}

/* A connected loopback pair: *server goes to the fan-out, *client reads. */
static void tcp_pair(int *server, int *client, int sndbuf) {
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  cr_assert_geq(ls, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  cr_assert_eq(bind(ls, (struct sockaddr *)&a, sizeof a), 0);
  cr_assert_eq(getsockname(ls, (struct sockaddr *)&a, &al), 0);
  cr_assert_eq(listen(ls, 4), 0);
  *client = socket(AF_INET, SOCK_STREAM, 0);
  if (sndbuf) {
    int rcv = 4096;
    setsockopt(*client, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
  }
  cr_assert_eq(connect(*client, (struct sockaddr *)&a, sizeof a), 0);
  *server = accept(ls, NULL, NULL);
  cr_assert_geq(*server, 0);
  if (sndbuf) setsockopt(*server, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  close(ls);
}

/* Reads exactly len bytes within 10 s. */
static void read_exact(int fd, uint8_t *out, size_t len) {
  size_t got = 0;
  while (got < len) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    cr_assert_gt(poll(&p, 1, 10000), 0, "no data for 10 s after %zu of %zu bytes", got, len);
    ssize_t r = read(fd, out + got, len - got);
    cr_assert_gt(r, 0, "the server closed after %zu of %zu bytes", got, len);
    got += (size_t)r;
  }
}

/* Reads one unmasked server frame; returns its payload (malloc'd). */
static uint8_t *read_frame(int fd, int *opcode, size_t *len) {
  uint8_t h[10];
  read_exact(fd, h, 2);
  cr_assert(h[0] & 0x80, "FIN set");
  cr_assert_eq(h[1] & 0x80, 0, "a server frame is not masked");
  *opcode = h[0] & 0x0f;
  uint64_t n = h[1] & 0x7f;
  if (n == 126) {
    read_exact(fd, h, 2);
    n = (uint64_t)h[0] << 8 | h[1];
  } else if (n == 127) {
    read_exact(fd, h, 8);
    n = 0;
    for (int i = 0; i < 8; i++) n = n << 8 | h[i];
  }
  cr_assert_lt(n, 10u << 20);
  uint8_t *p = malloc(n ? n : 1);
  read_exact(fd, p, n);
  *len = n;
  return p;
}

static void expect_frame(int fd, int opcode, const vg_buf *want) {
  int op = 0;
  size_t len = 0;
  uint8_t *p = read_frame(fd, &op, &len);
  cr_assert_eq(op, opcode);
  cr_assert_eq(len, want->len, "a message of %zu bytes, want %zu", len, want->len);
  cr_assert(memcmp(p, want->data, len) == 0, "message bytes differ");
  free(p);
}

static vg_buf *pattern(size_t len, uint8_t seed) {
  vg_buf *b = vg_buf_new(len);
  for (size_t i = 0; i < len; i++) b->data[i] = (uint8_t)(seed + i * 7 + i / 251);
  return b;
}

typedef struct fixture {
  uv_loop_t loop;
  uv_timer_t alive; /* the fan-out's own handle does not keep a loop alive */
  vg_fanout *f;
  vg_buf *head, *text, *init, *catchup;
  vg_fanout_start start;
} fixture;

static void fixture_init(fixture *x, size_t skip_bytes) {
  memset(x, 0, sizeof *x);
  gone_count = 0;
  cr_assert_eq(uv_loop_init(&x->loop), 0);
  uv_timer_init(&x->loop, &x->alive);
  uv_timer_start(&x->alive, (uv_timer_cb)abort, 3600000, 0);
  vg_fanout_cfg cfg = {.threads = 1, .skip_bytes = skip_bytes, .stuck_ms = 60000, .ws_max_message = 4096};
  cr_assert_eq(vg_fanout_new(&x->loop, &cfg, on_gone, NULL, &x->f), 0);
  x->head = vg_buf_from(HEAD, strlen(HEAD));
  x->text = vg_buf_from("avc1.640028", 11);
  x->init = pattern(700, 1);
  x->catchup = pattern(30000, 2);
  x->start.text[0] = x->text;
  x->start.init = x->init;
  x->start.catchup = x->catchup;
}

static void fixture_fini(fixture *x) {
  uv_close((uv_handle_t *)&x->alive, NULL);
  vg_fanout_free(x->f);
  uv_run(&x->loop, UV_RUN_NOWAIT);
  cr_assert_eq(uv_loop_close(&x->loop), 0);
  vg_buf_unref(x->head);
  vg_buf_unref(x->text);
  vg_buf_unref(x->init);
  vg_buf_unref(x->catchup);
}

static void expect_start(fixture *x, int client) {
  uint8_t head[sizeof HEAD - 1];
  read_exact(client, head, sizeof head);
  cr_assert(memcmp(head, HEAD, sizeof head) == 0);
  expect_frame(client, VG_WS_TEXT, x->text);
  expect_frame(client, VG_WS_BINARY, x->init);
  expect_frame(client, VG_WS_BINARY, x->catchup);
}

/* sndbuf 0: the kernel's default; else a small send buffer, so most
 * writes are taken only in part and the rest waits in libuv's queue. */
static void bursts_arrive_whole_and_in_order(int sndbuf) {
  fixture x;
  fixture_init(&x, 64u << 20); /* no skipping: the client reads only at the end */
  int server, client;
  tcp_pair(&server, &client, sndbuf);
  cr_assert_eq(vg_fanout_add(x.f, 7, server, x.head, NULL, 0, &x.start, "test"), 0);
  /* A message to another group must not reach this viewer. */
  vg_buf *other = pattern(100, 9);
  enum { N = 40 };
  vg_buf *msgs[N];
  for (int i = 0; i < N; i++) {
    /* sizes from a few bytes to past 64 KiB (the 8-byte length form) */
    size_t len = i % 5 == 0 ? 70000 + (size_t)i : 3 + (size_t)i * 997;
    msgs[i] = pattern(len, (uint8_t)(10 + i));
  }
  /* In bursts of up to 9 posted at once, as a camera tick hands over
   * several frames: the thread takes them together. */
  for (int i = 0; i < N;) {
    int burst = 1 + i % 9;
    for (int k = 0; k < burst && i < N; k++, i++) {
      vg_fanout_send(x.f, 7, msgs[i], i % 10 == 0, uv_hrtime() / 1000);
      if (k == 1) vg_fanout_send(x.f, 8, other, true, 0);
    }
    usleep(2000);
  }
  expect_start(&x, client);
  for (int i = 0; i < N; i++) expect_frame(client, VG_WS_BINARY, msgs[i]);
  /* nothing more */
  struct pollfd p = {.fd = client, .events = POLLIN};
  cr_assert_eq(poll(&p, 1, 200), 0, "bytes after the last message");

  vg_fanout_stats st = {0};
  uint32_t *lat = calloc(VG_FANOUT_LAT_BUCKETS, sizeof *lat);
  st.lat = lat;
  vg_fanout_stats_get(x.f, &st, false);
  size_t total = 0;
  for (int i = 0; i < N; i++) total += msgs[i]->len;
  cr_assert_eq(st.bytes_queued, total, "bytes queued %llu, sent %zu",
               (unsigned long long)st.bytes_queued, total);
  cr_assert_eq(st.lat_count, N, "one latency per message written: %llu",
               (unsigned long long)st.lat_count);
  cr_assert_eq(st.skips, 0);
  free(lat);

  /* The viewer hangs up: the owner's loop hears it is gone. */
  close(client);
  uint64_t until = uv_hrtime() + 10000000000ull;
  while (gone_count == 0 && uv_hrtime() < until) {
    uv_run(&x.loop, UV_RUN_NOWAIT);
    usleep(1000);
  }
  cr_assert_eq(gone_count, 1, "the viewer is reported gone once");
  cr_assert_eq(vg_fanout_viewers(x.f), 0);
  fixture_fini(&x);
  for (int i = 0; i < N; i++) vg_buf_unref(msgs[i]);
  vg_buf_unref(other);
}

Test(fanout, bursts_arrive_whole_and_in_order) { bursts_arrive_whole_and_in_order(0); }

Test(fanout, partial_writes_keep_order_and_bytes) { bursts_arrive_whole_and_in_order(8192); }

Test(fanout, a_viewer_that_does_not_read_is_skipped_to_the_next_sync) {
  fixture x;
  fixture_init(&x, 256 * 1024);
  int server, client;
  tcp_pair(&server, &client, 8192);
  cr_assert_eq(vg_fanout_add(x.f, 1, server, x.head, NULL, 0, &x.start, "slow"), 0);
  /* Far more than skip_bytes while the client reads nothing. */
  enum { N = 40 };
  vg_buf *msgs[N];
  for (int i = 0; i < N; i++) {
    msgs[i] = pattern(50000, (uint8_t)i);
    vg_fanout_send(x.f, 1, msgs[i], false, 0);
    usleep(1000);
  }
  usleep(100000);
  /* A sync message: the viewer resumes there once it has drained. */
  vg_buf *key = pattern(1234, 99);
  expect_start(&x, client);
  /* Drain what was queued before the skip, frame by frame. */
  int seen = 0;
  for (; seen < N; seen++) {
    struct pollfd p = {.fd = client, .events = POLLIN};
    if (poll(&p, 1, 300) <= 0) break;
    expect_frame(client, VG_WS_BINARY, msgs[seen]);
  }
  cr_assert_lt(seen, N, "every message arrived: nothing was skipped");
  vg_fanout_stats st = {0};
  uint32_t *lat = calloc(VG_FANOUT_LAT_BUCKETS, sizeof *lat);
  st.lat = lat;
  vg_fanout_stats_get(x.f, &st, false);
  cr_assert_geq(st.skips, 1, "the skip is counted");
  /* Not a sync: still skipped. Then a sync: delivered. */
  vg_buf *after = pattern(300, 5);
  vg_fanout_send(x.f, 1, after, false, 0);
  vg_fanout_send(x.f, 1, key, true, 0);
  expect_frame(client, VG_WS_BINARY, key);
  free(lat);
  /* Freeing the fan-out closes the viewer's socket. */
  fixture_fini(&x);
  uint8_t b;
  cr_assert_eq(read(client, &b, 1), 0, "the viewer's socket is closed");
  close(client);
  for (int i = 0; i < N; i++) vg_buf_unref(msgs[i]);
  vg_buf_unref(key);
  vg_buf_unref(after);
}
