/* segwriter.c - the writer thread behind segment files.
 *
 * Commands form one FIFO guarded by a mutex; the thread pops a command,
 * does its I/O without the lock, and pushes finished closes onto a second
 * list that the loop drains in its uv_async callback. Loop-side fields of
 * a vg_segfile (frames, closing) are touched only by the loop; thread-side
 * fields (fd, hash, bytes) only by the thread, until the close completes. */
#include "segwriter.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/crypto.h"
#include "base/err.h"
#include "base/log.h"

/* iovecs of one writev (IOV_MAX is 1024 on Linux) */
#define SEG_IOV_MAX 256

enum cmd_type { CMD_OPEN, CMD_APPEND, CMD_CLOSE, CMD_QUIT };

typedef struct cmd {
  struct cmd *next;
  enum cmd_type type;
  vg_segfile *f;
  vg_buf *buf;
  vg_fmp4_parts parts; /* APPEND of parts: buf is NULL */
  uint64_t bytes;      /* queued bytes: buf or parts */
  int64_t end_ms;
  int64_t frames;
} cmd;

struct vg_segfile {
  vg_segwriter *w;
  struct vg_segfile *done_next;
  /* loop side */
  int64_t frames_queued;
  bool closing;
  vg_segfile_done_cb done;
  void *done_ud;
  /* thread side */
  int fd;
  EVP_MD_CTX *md;
  uint64_t last_sync;
  vg_segfile_info info;
};

struct vg_segwriter {
  uv_loop_t *loop;
  uv_async_t async;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cond;
  cmd *head, *tail;
  vg_segfile *done_head; /* finished closes, for the loop */
  uint64_t queued;       /* bytes in APPEND/OPEN commands not yet written */
  _Atomic int64_t sync_ms;
};

static void push(vg_segwriter *w, cmd *c) {
  pthread_mutex_lock(&w->mu);
  if (w->tail)
    w->tail->next = c;
  else
    w->head = c;
  w->tail = c;
  w->queued += c->bytes;
  pthread_cond_signal(&w->cond);
  pthread_mutex_unlock(&w->mu);
}

static int mkdirs_for(const char *path) {
  char dir[1024];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (!slash) return 0;
  *slash = 0;
  for (char *p = dir + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) return VG_EIO;
    *p = '/';
  }
  if (mkdir(dir, 0750) != 0 && errno != EEXIST) return VG_EIO;
  return 0;
}

static void fail(vg_segfile *f, const char *what) {
  if (f->info.error) return;
  f->info.error = VG_EIO;
  snprintf(f->info.error_msg, sizeof f->info.error_msg, "%s %s: %s", what, f->info.path,
           strerror(errno));
  vg_log_error("recorder: %s", f->info.error_msg);
}

static void write_all(vg_segfile *f, const uint8_t *data, size_t len) {
  if (f->fd < 0 || f->info.error) return;
  EVP_DigestUpdate(f->md, data, len);
  while (len > 0) {
    ssize_t n = write(f->fd, data, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      fail(f, "write");
      return;
    }
    data += n;
    len -= (size_t)n;
    f->info.bytes += (uint64_t)n;
  }
}

/* Writes head and samples with as few writev calls as IOV_MAX allows. */
static void writev_all(vg_segfile *f, const vg_fmp4_parts *p) {
  if (f->fd < 0 || f->info.error) return;
  struct iovec iov[SEG_IOV_MAX];
  size_t next = 0; /* next part to queue: 0 is head, i + 1 is samples[i] */
  size_t nparts = p->n + 1;
  while (next < nparts) {
    int cnt = 0;
    size_t want = 0;
    while (next < nparts && cnt < SEG_IOV_MAX) {
      const vg_buf *b = next == 0 ? p->head : p->samples[next - 1];
      EVP_DigestUpdate(f->md, b->data, b->len);
      iov[cnt].iov_base = (void *)b->data;
      iov[cnt].iov_len = b->len;
      want += b->len;
      cnt++;
      next++;
    }
    struct iovec *v = iov;
    while (want > 0) {
      ssize_t n = writev(f->fd, v, cnt);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        fail(f, "write");
        return;
      }
      f->info.bytes += (uint64_t)n;
      want -= (size_t)n;
      /* a short write: skip what went, resume in the middle of a part */
      size_t done = (size_t)n;
      while (cnt > 0 && done >= v->iov_len) {
        done -= v->iov_len;
        v++;
        cnt--;
      }
      if (cnt > 0) {
        v->iov_base = (uint8_t *)v->iov_base + done;
        v->iov_len -= done;
      }
    }
  }
}

static void do_open(vg_segfile *f, vg_buf *init) {
  if (mkdirs_for(f->info.path) != 0) {
    fail(f, "create folder for");
    return;
  }
  f->fd = open(f->info.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (f->fd < 0) {
    fail(f, "open");
    return;
  }
  write_all(f, init->data, init->len);
  f->last_sync = vg_mono_ms();
}

static void do_append(vg_segfile *f, const cmd *c) {
  if (c->buf)
    write_all(f, c->buf->data, c->buf->len);
  else
    writev_all(f, &c->parts);
  if (f->info.error) return;
  int64_t end_ms = c->end_ms, frames = c->frames;
  f->info.end_ms = end_ms;
  f->info.frames += frames;
  f->info.fragments++;
  uint64_t now = vg_mono_ms();
  if (now - f->last_sync >= (uint64_t)atomic_load(&f->w->sync_ms)) {
    fdatasync(f->fd);
    f->last_sync = now;
  }
}

static void do_close(vg_segfile *f) {
  if (f->fd >= 0) {
    if (fsync(f->fd) != 0) fail(f, "sync");
    if (close(f->fd) != 0) fail(f, "close");
    f->fd = -1;
  }
  uint8_t digest[32];
  unsigned int n = 32;
  EVP_DigestFinal_ex(f->md, digest, &n);
  vg_hex(digest, 32, f->info.sha256);
}

static void *thread_main(void *arg) {
  vg_segwriter *w = arg;
  for (;;) {
    pthread_mutex_lock(&w->mu);
    while (!w->head) pthread_cond_wait(&w->cond, &w->mu);
    cmd *c = w->head;
    w->head = c->next;
    if (!w->head) w->tail = NULL;
    pthread_mutex_unlock(&w->mu);

    enum cmd_type type = c->type;
    switch (type) {
      case CMD_OPEN:
        do_open(c->f, c->buf);
        break;
      case CMD_APPEND:
        do_append(c->f, c);
        break;
      case CMD_CLOSE:
        do_close(c->f);
        break;
      case CMD_QUIT:
        break;
    }
    pthread_mutex_lock(&w->mu);
    w->queued -= c->bytes;
    if (type == CMD_CLOSE) {
      c->f->done_next = w->done_head;
      w->done_head = c->f;
    }
    pthread_mutex_unlock(&w->mu);
    if (type == CMD_CLOSE) uv_async_send(&w->async);
    vg_buf_unref(c->buf);
    vg_fmp4_parts_release(&c->parts);
    free(c);
    if (type == CMD_QUIT) return NULL;
  }
}

static void finish_file(vg_segfile *f) {
  EVP_MD_CTX_free(f->md);
  if (f->done) f->done(f->done_ud, &f->info);
  free(f);
}

static void on_async(uv_async_t *a) {
  vg_segwriter *w = a->data;
  pthread_mutex_lock(&w->mu);
  vg_segfile *list = w->done_head;
  w->done_head = NULL;
  pthread_mutex_unlock(&w->mu);
  /* The list is newest first: finish in the order files were closed. */
  vg_segfile *rev = NULL;
  while (list) {
    vg_segfile *next = list->done_next;
    list->done_next = rev;
    rev = list;
    list = next;
  }
  while (rev) {
    vg_segfile *next = rev->done_next;
    finish_file(rev);
    rev = next;
  }
}

int vg_segwriter_new(uv_loop_t *loop, vg_segwriter **out) {
  vg_segwriter *w = calloc(1, sizeof *w);
  if (!w) return VG_ENOMEM;
  w->loop = loop;
  atomic_store(&w->sync_ms, VG_SEG_SYNC_MS);
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cond, NULL);
  uv_async_init(loop, &w->async, on_async);
  w->async.data = w;
  /* The writer outlives everything else on the loop: it must not keep the
   * loop running at shutdown (vg_segwriter_free closes it). */
  uv_unref((uv_handle_t *)&w->async);
  if (pthread_create(&w->thread, NULL, thread_main, w) != 0) {
    uv_close((uv_handle_t *)&w->async, NULL);
    free(w);
    return VG_ENOMEM;
  }
  *out = w;
  return 0;
}

static void async_closed(uv_handle_t *h) { free(h->data); }

void vg_segwriter_free(vg_segwriter *w) {
  if (!w) return;
  cmd *q = calloc(1, sizeof *q);
  if (q) {
    q->type = CMD_QUIT;
    push(w, q);
    pthread_join(w->thread, NULL);
  }
  on_async(&w->async); /* closes that finished after the loop stopped */
  pthread_mutex_destroy(&w->mu);
  pthread_cond_destroy(&w->cond);
  uv_close((uv_handle_t *)&w->async, async_closed);
}

void vg_segwriter_set_sync_ms(vg_segwriter *w, int64_t ms) {
  atomic_store(&w->sync_ms, ms < 0 ? 0 : ms);
}

uint64_t vg_segwriter_queued(vg_segwriter *w) {
  pthread_mutex_lock(&w->mu);
  uint64_t q = w->queued;
  pthread_mutex_unlock(&w->mu);
  return q;
}

vg_segfile *vg_segfile_open(vg_segwriter *w, const char *path, vg_buf *init, int64_t start_ms) {
  vg_segfile *f = calloc(1, sizeof *f);
  cmd *c = calloc(1, sizeof *c);
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  if (!f || !c || !md || strlen(path) >= sizeof f->info.path) {
    free(f);
    free(c);
    EVP_MD_CTX_free(md);
    return NULL;
  }
  EVP_DigestInit_ex(md, EVP_sha256(), NULL);
  f->w = w;
  f->fd = -1;
  f->md = md;
  snprintf(f->info.path, sizeof f->info.path, "%s", path);
  f->info.start_ms = f->info.end_ms = start_ms;
  c->type = CMD_OPEN;
  c->f = f;
  c->buf = vg_buf_ref(init);
  c->bytes = init->len;
  push(w, c);
  return f;
}

int vg_segfile_append(vg_segfile *f, vg_buf *fragment, int64_t end_ms, int64_t frames) {
  assert(!f->closing);
  if (vg_segwriter_queued(f->w) + fragment->len > VG_SEG_MAX_QUEUED) return VG_ETOOBIG;
  cmd *c = calloc(1, sizeof *c);
  if (!c) return VG_ENOMEM;
  c->type = CMD_APPEND;
  c->f = f;
  c->buf = vg_buf_ref(fragment);
  c->bytes = fragment->len;
  c->end_ms = end_ms;
  c->frames = frames;
  f->frames_queued += frames;
  push(f->w, c);
  return 0;
}

int vg_segfile_append_parts(vg_segfile *f, vg_fmp4_parts *p, int64_t end_ms, int64_t frames) {
  assert(!f->closing);
  if (vg_segwriter_queued(f->w) + p->bytes > VG_SEG_MAX_QUEUED) {
    vg_fmp4_parts_release(p);
    return VG_ETOOBIG;
  }
  cmd *c = calloc(1, sizeof *c);
  if (!c) {
    vg_fmp4_parts_release(p);
    return VG_ENOMEM;
  }
  c->type = CMD_APPEND;
  c->f = f;
  c->parts = *p;
  memset(p, 0, sizeof *p);
  c->bytes = c->parts.bytes;
  c->end_ms = end_ms;
  c->frames = frames;
  f->frames_queued += frames;
  push(f->w, c);
  return 0;
}

void vg_segfile_close(vg_segfile *f, vg_segfile_done_cb done, void *ud) {
  cmd *c = calloc(1, sizeof *c);
  f->closing = true;
  f->done = done;
  f->done_ud = ud;
  if (!c) {
    /* Out of memory: the thread can't be told; leak the fd rather than race. */
    vg_log_error("recorder: out of memory closing %s", f->info.path);
    return;
  }
  c->type = CMD_CLOSE;
  c->f = f;
  push(f->w, c);
}

const char *vg_segfile_path(const vg_segfile *f) { return f->info.path; }
int64_t vg_segfile_start_ms(const vg_segfile *f) { return f->info.start_ms; }
int64_t vg_segfile_frames(const vg_segfile *f) { return f->frames_queued; }

int vg_file_sha256(const char *path, char out[65], uint64_t *bytes) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? VG_ENOTFOUND : VG_EIO;
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  if (!md) {
    close(fd);
    return VG_ENOMEM;
  }
  EVP_DigestInit_ex(md, EVP_sha256(), NULL);
  static __thread uint8_t chunk[1 << 16];
  uint64_t total = 0;
  int rc = 0;
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      rc = VG_EIO;
      break;
    }
    if (n == 0) break;
    EVP_DigestUpdate(md, chunk, (size_t)n);
    total += (uint64_t)n;
  }
  close(fd);
  uint8_t digest[32];
  unsigned int dl = 32;
  EVP_DigestFinal_ex(md, digest, &dl);
  EVP_MD_CTX_free(md);
  if (rc) return rc;
  vg_hex(digest, 32, out);
  if (bytes) *bytes = total;
  return 0;
}
