/* liveclient.c - many live WebSocket viewers in one process, for
 * bench/live.sh: M connections to /live/{camera} on loopback, one epoll
 * loop that reads everything and counts it, and per fragment the arrival
 * time of its last byte.
 *
 * After every viewer has its 101 answer it waits --warmup seconds, then
 * measures --seconds: delivered bytes, fragments per viewer, sequence gaps
 * (a viewer the server skipped forward), closes, the spread of each
 * fragment's arrival across viewers (its last byte at this viewer minus
 * its earliest arrival anywhere), and when --server-pid is given the
 * server's CPU time over the window (utime+stime) and peak RSS (VmHWM).
 * With --stats PATH it GETs PATH?reset=1 at the window's start and PATH at
 * its end (Vigil's /live/stats: server-added latency) and prints the body.
 * Ends with one JSON line on stdout.
 *
 * A viewer "kept up" when it was open to the end, had no sequence gap in
 * the window (the server skipped it forward), and its newest fragment,
 * once what already sits in its socket is read, is within 2 of the newest
 * any viewer had at the window's end: the server got every fragment to it
 * in time. "read_up" counts those that were there without that last read
 * (this one thread's reading keeping pace too). Not installed; loopback
 * IPv4 only. */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_BUF (256 * 1024)
/* Fragments per viewer recorded in the window at most (25 fps x 60 s x 4). */
#define MAX_SEQS 6000

typedef struct viewer {
  int fd;
  int state; /* 0 head, 1 frames, 2 closed */
  char head[2048];
  size_t head_len;
  uint8_t hdr[14];
  size_t hdr_have, hdr_need;
  uint64_t left; /* payload bytes of the current message still to come */
  int opcode;
  uint8_t first[24];
  size_t first_have;
  uint32_t last_seq;
  uint64_t bytes, frags, gaps;
  uint32_t *arrive_us; /* per seq - base, the window only; 0 = none */
} viewer;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int port;
static const char *path = "/live/1";
static int nviewers = 100;
static double seconds = 10, warmup = 3;
static int server_pid = 0;
static const char *stats_path = NULL;
static int rcvbuf = 0;

static bool measuring;
static bool draining; /* after the window: sequence numbers only */
static double window_start;
static uint32_t base_seq; /* first sequence number counted in the window */
static uint32_t newest_seq;

static int connect_one(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  /* A viewer with room for a keyframe (the kernel caps it at rmem_max):
   * the server-added latency should not be the client's window. */
  if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 && errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  return fd;
}

/* Plain blocking HTTP/1.0 GET; the body into out. */
static int http_get(const char *p, char *out, size_t cap) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  char req[2048];
  int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", p);
  if (write(fd, req, (size_t)n) != n) {
    close(fd);
    return -1;
  }
  size_t got = 0;
  ssize_t r;
  while (got + 1 < cap && (r = read(fd, out + got, cap - 1 - got)) > 0) got += (size_t)r;
  close(fd);
  out[got] = 0;
  char *body = strstr(out, "\r\n\r\n");
  if (!body) return -1;
  memmove(out, body + 4, strlen(body + 4) + 1);
  return 0;
}

static void proc_cpu(double *cpu_s, long *hwm_kb) {
  char f[64], buf[4096];
  *cpu_s = 0;
  *hwm_kb = 0;
  if (!server_pid) return;
  snprintf(f, sizeof f, "/proc/%d/stat", server_pid);
  FILE *fp = fopen(f, "r");
  if (fp) {
    if (fgets(buf, sizeof buf, fp)) {
      char *p = strrchr(buf, ')');
      unsigned long ut = 0, st = 0;
      if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
        *cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    }
    fclose(fp);
  }
  snprintf(f, sizeof f, "/proc/%d/status", server_pid);
  fp = fopen(f, "r");
  if (fp) {
    while (fgets(buf, sizeof buf, fp))
      if (strncmp(buf, "VmHWM:", 6) == 0) *hwm_kb = atol(buf + 6);
    fclose(fp);
  }
}

/* A whole message arrived: a binary one starting with moof counts. */
static void message_done(viewer *v, double t) {
  if (v->opcode == 8) {
    v->state = 2;
    return;
  }
  if (v->opcode != 2 || v->first_have < 24 || memcmp(v->first + 4, "moof", 4) != 0) return;
  uint32_t seq = (uint32_t)v->first[20] << 24 | (uint32_t)v->first[21] << 16 |
                 (uint32_t)v->first[22] << 8 | v->first[23];
  if (measuring) {
    if (!base_seq) base_seq = seq;
    if (v->last_seq && seq > v->last_seq + 1 && v->last_seq >= base_seq) v->gaps++;
    if (seq >= base_seq && !draining) {
      v->frags++;
      uint32_t k = seq - base_seq;
      if (k < MAX_SEQS) v->arrive_us[k] = (uint32_t)((t - window_start) * 1e6) + 1;
      if (seq > newest_seq) newest_seq = seq;
    }
  }
  v->last_seq = seq;
}

/* Consumes bytes of the frame stream. */
static void frames(viewer *v, const uint8_t *p, size_t n, double t) {
  while (n > 0) {
    if (v->left == 0 && v->hdr_need == 0) {
      v->hdr_have = 0;
      v->hdr_need = 2;
    }
    if (v->hdr_need) {
      while (n > 0 && v->hdr_have < v->hdr_need) {
        v->hdr[v->hdr_have++] = *p++;
        n--;
        if (v->hdr_have == 2) {
          uint8_t l = v->hdr[1] & 127;
          v->hdr_need = l == 126 ? 4 : l == 127 ? 10 : 2;
        }
      }
      if (v->hdr_have < v->hdr_need) return;
      uint64_t len = v->hdr[1] & 127;
      if (len == 126) len = (uint64_t)v->hdr[2] << 8 | v->hdr[3];
      if (len == 127) {
        len = 0;
        for (int i = 2; i < 10; i++) len = len << 8 | v->hdr[i];
      }
      v->opcode = v->hdr[0] & 15;
      v->left = len;
      v->first_have = 0;
      v->hdr_need = 0;
      if (len == 0) {
        message_done(v, t);
        continue;
      }
    }
    size_t take = n < v->left ? n : (size_t)v->left;
    if (v->first_have < 24) {
      size_t c = 24 - v->first_have < take ? 24 - v->first_have : take;
      memcpy(v->first + v->first_have, p, c);
      v->first_have += c;
    }
    if (measuring && !draining) v->bytes += take;
    p += take;
    n -= take;
    v->left -= take;
    if (v->left == 0) message_done(v, t);
  }
}

/* This process's CPU seconds, and the machine's busy and total jiffies. */
static double self_cpu(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

static void machine(unsigned long long *busy, unsigned long long *total) {
  unsigned long long v[10] = {0};
  *busy = *total = 0;
  FILE *fp = fopen("/proc/stat", "r");
  if (!fp) return;
  if (fscanf(fp, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
             &v[5], &v[6], &v[7]) == 8) {
    for (int i = 0; i < 8; i++) *total += v[i];
    *busy = *total - v[3] - v[4];
  }
  fclose(fp);
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  static const struct option opts[] = {
      {"port", 1, 0, 'p'},    {"path", 1, 0, 'P'},   {"viewers", 1, 0, 'n'},
      {"seconds", 1, 0, 's'}, {"warmup", 1, 0, 'w'}, {"server-pid", 1, 0, 'S'},
      {"stats", 1, 0, 't'},   {"rcvbuf", 1, 0, 'r'}, {0, 0, 0, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
      case 'p':
        port = atoi(optarg);
        break;
      case 'P':
        path = optarg;
        break;
      case 'n':
        nviewers = atoi(optarg);
        break;
      case 's':
        seconds = atof(optarg);
        break;
      case 'w':
        warmup = atof(optarg);
        break;
      case 'S':
        server_pid = atoi(optarg);
        break;
      case 't':
        stats_path = optarg;
        break;
      case 'r':
        rcvbuf = atoi(optarg);
        break;
      default:
        fprintf(
            stderr,
            "usage: vigil-liveclient --port P --path /live/ID?grant=G --viewers M "
            "[--seconds S] [--warmup W] [--server-pid PID] [--stats /live/stats?access_token=T] "
            "[--rcvbuf BYTES]\n");
        return 2;
    }
  }
  if (port <= 0 || nviewers <= 0) {
    fprintf(stderr, "vigil-liveclient: --port and --viewers are required\n");
    return 2;
  }
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);

  viewer *vs = calloc((size_t)nviewers, sizeof *vs);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  char req[2048];
  int reqlen = snprintf(req, sizeof req,
                        "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                        "Sec-WebSocket-Version: 13\r\n\r\n",
                        path);
  int opened = 0, upgraded = 0, failed = 0;
  uint8_t *buf = malloc(READ_BUF);
  double t0 = now_s();
  /* Connections are opened in batches so the listen backlog never overflows. */
  int next = 0;
  double end_at = 0, cpu0 = 0, self0 = 0;
  unsigned long long busy0 = 0, total0 = 0, busy1, total1;
  long hwm = 0;
  char stats_body[8192] = "";
  struct epoll_event evs[512];
  for (;;) {
    while (next < nviewers && next - upgraded - failed < 256) {
      viewer *v = &vs[next];
      v->fd = connect_one();
      v->arrive_us = calloc(MAX_SEQS, sizeof *v->arrive_us);
      if (v->fd < 0) {
        v->state = 2;
        failed++;
      } else {
        struct epoll_event e = {.events = EPOLLOUT | EPOLLIN, .data.u32 = (uint32_t)next};
        epoll_ctl(ep, EPOLL_CTL_ADD, v->fd, &e);
        opened++;
      }
      next++;
    }
    double t = now_s();
    if (!measuring && upgraded + failed == nviewers && end_at == 0) {
      if (t0 + 0 < t && window_start == 0) window_start = t + warmup;
    }
    if (!measuring && window_start > 0 && t >= window_start) {
      if (stats_path) {
        char p[1200];
        snprintf(p, sizeof p, "%s%creset=1", stats_path, strchr(stats_path, '?') ? '&' : '?');
        http_get(p, stats_body, sizeof stats_body);
      }
      long h;
      proc_cpu(&cpu0, &h);
      self0 = self_cpu();
      machine(&busy0, &total0);
      window_start = now_s();
      measuring = true;
      end_at = window_start + seconds;
    }
    if (measuring && t >= end_at) break;
    if (t - t0 > 120 + warmup + seconds) {
      fprintf(stderr, "vigil-liveclient: only %d of %d viewers connected in 120 s\n", upgraded,
              nviewers);
      break;
    }
    int n = epoll_wait(ep, evs, 512, 50);
    for (int i = 0; i < n; i++) {
      viewer *v = &vs[evs[i].data.u32];
      if (v->state == 2) continue;
      if (evs[i].events & EPOLLOUT) {
        /* Connected: the upgrade request fits in one write. */
        if (write(v->fd, req, (size_t)reqlen) != reqlen) {
          v->state = 2;
          failed++;
          close(v->fd);
          continue;
        }
        struct epoll_event e = {.events = EPOLLIN, .data.u32 = evs[i].data.u32};
        epoll_ctl(ep, EPOLL_CTL_MOD, v->fd, &e);
      }
      if (!(evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
      for (;;) {
        ssize_t r = read(v->fd, buf, READ_BUF);
        if (r < 0 && errno == EAGAIN) break;
        if (r <= 0) {
          if (v->state == 0) failed++;
          v->state = 2;
          close(v->fd);
          break;
        }
        double at = now_s();
        size_t off = 0;
        if (v->state == 0) {
          size_t take = (size_t)r < sizeof v->head - 1 - v->head_len
                            ? (size_t)r
                            : sizeof v->head - 1 - v->head_len;
          memcpy(v->head + v->head_len, buf, take);
          v->head_len += take;
          v->head[v->head_len] = 0;
          char *e = strstr(v->head, "\r\n\r\n");
          if (!e) continue;
          if (strncmp(v->head, "HTTP/1.1 101", 12) != 0) {
            fprintf(stderr, "vigil-liveclient: refused: %.40s\n", v->head);
            v->state = 2;
            failed++;
            close(v->fd);
            break;
          }
          upgraded++;
          v->state = 1;
          off = take - ((size_t)(v->head + v->head_len - (e + 4)));
        }
        if (v->state == 1) frames(v, buf + off, (size_t)r - off, at);
        if (v->state == 2) {
          close(v->fd);
          break;
        }
      }
    }
  }
  double window = now_s() - window_start;
  double cpu1 = 0;
  proc_cpu(&cpu1, &hwm);
  double self1 = self_cpu();
  machine(&busy1, &total1);
  if (stats_path) http_get(stats_path, stats_body, sizeof stats_body);

  /* Judged against the newest fragment at the window's end: first each
   * open viewer reads what the server has already put in its socket (a
   * single reading thread gets round to 8000 sockets only so fast; that is
   * this client's lag, not the server's). read_up counts the viewers that
   * were there before this drain. */
  uint32_t newest_at_end = newest_seq;
  int read_up = 0;
  for (int i = 0; i < nviewers; i++) {
    viewer *v = &vs[i];
    if (v->state == 1 && v->gaps == 0 && v->last_seq + 2 >= newest_at_end) read_up++;
  }
  draining = true;
  for (int i = 0; i < nviewers; i++) {
    viewer *v = &vs[i];
    ssize_t r;
    while (v->state == 1 && (r = read(v->fd, buf, READ_BUF)) > 0) frames(v, buf, (size_t)r, now_s());
  }

  /* Results. */
  uint64_t bytes = 0, frags = 0;
  int kept = 0, open_end = 0, skipped = 0;
  uint32_t nseq = newest_seq >= base_seq && base_seq ? newest_seq - base_seq + 1 : 0;
  if (nseq > MAX_SEQS) nseq = MAX_SEQS;
  for (int i = 0; i < nviewers; i++) {
    viewer *v = &vs[i];
    bytes += v->bytes;
    frags += v->frags;
    if (v->state == 1) open_end++;
    if (v->gaps) skipped++;
    if (v->state == 1 && v->gaps == 0 && v->last_seq + 2 >= newest_at_end) kept++;
  }
  /* Arrival spread: each fragment's last byte here minus its first arrival anywhere. */
  size_t ns = 0;
  uint32_t *spread = malloc((size_t)nviewers * (nseq ? nseq : 1) * sizeof *spread);
  for (uint32_t k = 0; k < nseq && spread; k++) {
    uint32_t first = UINT32_MAX;
    for (int i = 0; i < nviewers; i++)
      if (vs[i].arrive_us[k] && vs[i].arrive_us[k] < first) first = vs[i].arrive_us[k];
    if (first == UINT32_MAX) continue;
    for (int i = 0; i < nviewers; i++)
      if (vs[i].arrive_us[k]) spread[ns++] = vs[i].arrive_us[k] - first;
  }
  uint32_t p50 = 0, p99 = 0;
  if (ns) {
    qsort(spread, ns, sizeof *spread, cmp_u32);
    p50 = spread[ns / 2];
    p99 = spread[(size_t)((double)ns * 0.99)];
  }
  char *nl;
  while ((nl = strchr(stats_body, '\n'))) *nl = ' ';
  printf(
      "{\"viewers\":%d,\"connected\":%d,\"open_at_end\":%d,\"kept_up\":%d,\"read_up\":%d,"
      "\"skipped\":%d,"
      "\"window_s\":%.3f,\"bytes\":%llu,\"bytes_per_s\":%.0f,\"fragments\":%llu,"
      "\"fragments_in_window\":%u,\"spread_us_p50\":%u,\"spread_us_p99\":%u,"
      "\"server_cpu_s\":%.2f,\"server_hwm_kb\":%ld,\"client_cpu_s\":%.2f,"
      "\"machine_busy\":%.3f,\"server_stats\":%s}\n",
      nviewers, upgraded, open_end, kept, read_up, skipped, window, (unsigned long long)bytes,
      window > 0 ? (double)bytes / window : 0, (unsigned long long)frags, nseq, p50, p99,
      cpu1 - cpu0, hwm, self1 - self0,
      total1 > total0 ? (double)(busy1 - busy0) / (double)(total1 - total0) : 0,
      stats_body[0] == '{' ? stats_body : "null");
  for (int i = 0; i < nviewers; i++) {
    if (vs[i].state != 2 && vs[i].fd >= 0) close(vs[i].fd);
    free(vs[i].arrive_us);
  }
  free(spread);
  free(vs);
  free(buf);
  return 0;
}
