/* static.c - the web UI's files, served from an in-memory cache.
 *
 * Every file served is held in a vg_buf, so a response is a reference to
 * the cached bytes (whole or a Range slice), never a copy. A request costs
 * one stat() of the file, a hash-table lookup and one snprintf for a Range
 * header; the header lines for 200 and 304 are built once, when the file is
 * (re)loaded. The stat is what makes editing files under web/ take effect
 * without a restart: a changed size, mtime or inode reloads the entry.
 *
 * Memory layout: a fixed array of STATIC_BUCKETS chains of entries; each
 * entry owns its key (allocated with it), one reference to its vg_buf, and
 * its prebuilt header lines. At most STATIC_MAX_ENTRIES entries and
 * STATIC_MAX_BYTES file bytes are kept; past either, the entry loaded
 * longest ago goes (connections still sending it keep their reference).
 *
 * Safety: the path must start with '/', and may not hold "..", '\\',
 * control characters or a segment starting with '.' (no dot files); the
 * file's realpath() must stay under the root's, checked on every load. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "app/app.h"
#include "base/err.h"
#include "base/log.h"

#define STATIC_MAX_FILE (8u << 20) /* bigger files are refused (500) */
#define STATIC_MAX_ENTRIES 512
#define STATIC_MAX_BYTES (256u << 20) /* all cached file bytes */
#define STATIC_BUCKETS 1024           /* power of two */
#define STATIC_HEADERS_MAX 768

#define CSP                                                                                   \
  "Content-Security-Policy: default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' " \
  "data: blob:; media-src 'self' blob:; style-src 'self'; frame-ancestors 'none'\r\n"

typedef struct entry {
  struct entry *next; /* bucket chain */
  uint32_t hash;
  uint64_t seq; /* load order, for eviction */
  vg_buf *data;
  off_t size;
  struct timespec mtime;
  dev_t dev;
  ino_t ino;
  const char *type;
  char etag[48];
  char last_modified[32];
  char headers[STATIC_HEADERS_MAX]; /* for 200, 206 and 304 */
  char key[];
} entry;

struct vg_static {
  char root[PATH_MAX]; /* realpath, no trailing slash (unless "/") */
  size_t root_len;
  size_t count;
  size_t bytes;
  uint64_t seq;
  entry *buckets[STATIC_BUCKETS];
};

/* ---- pure helpers ------------------------------------------------------- */

/* True when path may name a file under the root. */
static bool path_safe(const char *path) {
  if (path[0] != '/') return false;
  if (strstr(path, "..") || strchr(path, '\\')) return false;
  for (const char *p = path; *p; p++) {
    unsigned char ch = (unsigned char)*p;
    if (ch < 0x20 || ch == 0x7f) return false;
    if (ch == '/' && p[1] == '.') return false;
  }
  return true;
}

/* Content-Type by file extension (case-insensitive). */
static const char *content_type(const char *path) {
  static const struct {
    const char *ext, *type;
  } types[] = {
      {"html", "text/html; charset=utf-8"},
      {"htm", "text/html; charset=utf-8"},
      {"js", "text/javascript; charset=utf-8"},
      {"mjs", "text/javascript; charset=utf-8"},
      {"css", "text/css; charset=utf-8"},
      {"svg", "image/svg+xml"},
      {"png", "image/png"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},
      {"webp", "image/webp"},
      {"ico", "image/x-icon"},
      {"json", "application/json"},
      {"webmanifest", "application/manifest+json"},
      {"map", "application/json"},
      {"woff2", "font/woff2"},
      {"woff", "font/woff"},
      {"wasm", "application/wasm"},
      {"txt", "text/plain; charset=utf-8"},
  };
  const char *slash = strrchr(path, '/');
  const char *dot = strrchr(path, '.');
  if (!dot || (slash && dot < slash)) return "application/octet-stream";
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
    if (strcasecmp(dot + 1, types[i].ext) == 0) return types[i].type;
  return "application/octet-stream";
}

static uint32_t hash_path(const char *s) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

/* RFC 7231 IMF-fixdate, locale-independent. */
static void http_date(time_t t, char out[32]) {
  static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  struct tm tm;
  gmtime_r(&t, &tm);
  snprintf(out, 32, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
           months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Parses an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"); false otherwise. */
static bool parse_http_date(const char *v, size_t len, time_t *out) {
  static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  char s[40];
  if (len != 29) return false;
  memcpy(s, v, len);
  s[len] = 0;
  char mon[4];
  int d, y, hh, mm, ss;
  if (sscanf(s, "%*3s, %2d %3s %4d %2d:%2d:%2d GMT", &d, mon, &y, &hh, &mm, &ss) != 6) return false;
  const char *m = strstr(months, mon);
  if (!m || (m - months) % 3) return false;
  struct tm tm = {.tm_year = y - 1900,
                  .tm_mon = (int)(m - months) / 3,
                  .tm_mday = d,
                  .tm_hour = hh,
                  .tm_min = mm,
                  .tm_sec = ss};
  *out = timegm(&tm);
  return true;
}

/* True when the If-None-Match value (a list of entity tags, or "*")
 * matches etag; weak comparison, as RFC 7232 asks for this header. */
static bool etag_list_matches(const char *v, size_t len, const char *etag) {
  size_t elen = strlen(etag);
  size_t i = 0;
  while (i < len) {
    while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
    size_t start = i;
    /* A tag is quoted; a comma may not appear inside it, but skip to the
     * closing quote anyway to be safe. */
    if (i + 1 < len && v[i] == 'W' && v[i + 1] == '/') i += 2, start = i;
    if (i < len && v[i] == '"') {
      i++;
      while (i < len && v[i] != '"') i++;
      if (i < len) i++;
    } else {
      while (i < len && v[i] != ',' && v[i] != ' ' && v[i] != '\t') i++;
    }
    size_t n = i - start;
    if (n == 1 && v[start] == '*') return true;
    if (n == elen && memcmp(v + start, etag, n) == 0) return true;
    while (i < len && v[i] != ',') i++;
  }
  return false;
}

static bool header_equals(const vg_http_header *h, const char *s) {
  return h->value_len == strlen(s) && memcmp(h->value, s, h->value_len) == 0;
}

/* ---- cache -------------------------------------------------------------- */

static void entry_unlink(vg_static *s, entry *e) {
  entry **pp = &s->buckets[e->hash & (STATIC_BUCKETS - 1)];
  while (*pp != e) pp = &(*pp)->next;
  *pp = e->next;
  s->count--;
  s->bytes -= e->data ? e->data->len : 0;
  vg_buf_unref(e->data);
  free(e);
}

static void evict_oldest(vg_static *s, const entry *keep) {
  entry *old = NULL;
  for (size_t b = 0; b < STATIC_BUCKETS; b++)
    for (entry *e = s->buckets[b]; e; e = e->next)
      if (e != keep && (!old || e->seq < old->seq)) old = e;
  if (old) entry_unlink(s, old);
}

static entry *cache_find(vg_static *s, const char *key, uint32_t h) {
  for (entry *e = s->buckets[h & (STATIC_BUCKETS - 1)]; e; e = e->next)
    if (e->hash == h && strcmp(e->key, key) == 0) return e;
  return NULL;
}

static bool entry_fresh(const entry *e, const struct stat *st) {
  return e->size == st->st_size && e->mtime.tv_sec == st->st_mtim.tv_sec &&
         e->mtime.tv_nsec == st->st_mtim.tv_nsec && e->ino == st->st_ino && e->dev == st->st_dev;
}

/* Reads the file at full (after the realpath check) into a new buffer and
 * its stat into st. VG_ENOTFOUND for anything that is not a regular file
 * under the root, VG_ETOOBIG past STATIC_MAX_FILE. */
static int read_file(const vg_static *s, const char *full, vg_buf **out, struct stat *st) {
  char real[PATH_MAX];
  if (!realpath(full, real)) return VG_ENOTFOUND;
  if (s->root_len > 1 && (strncmp(real, s->root, s->root_len) != 0 || real[s->root_len] != '/'))
    return VG_ENOTFOUND;
  int fd = open(real, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return VG_ENOTFOUND;
  int rc = 0;
  vg_buf *b = NULL;
  if (fstat(fd, st) || !S_ISREG(st->st_mode)) {
    rc = VG_ENOTFOUND;
  } else if ((uint64_t)st->st_size > STATIC_MAX_FILE) {
    rc = VG_ETOOBIG;
  } else if (!(b = vg_buf_new((size_t)st->st_size))) {
    rc = VG_ENOMEM;
  } else {
    size_t got = 0;
    while (got < b->len) {
      ssize_t n = read(fd, b->data + got, b->len - got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        rc = VG_EIO;
        break;
      }
      if (n == 0) break;
      got += (size_t)n;
    }
    /* A file shrinking under us: serve what was read; its next stat
     * differs from st, so the entry reloads. */
    if (got < b->len) st->st_size = (off_t)got, b->len = got;
  }
  close(fd);
  if (rc) {
    vg_buf_unref(b);
    return rc;
  }
  *out = b;
  return 0;
}

static void entry_fill(entry *e, vg_buf *data, const struct stat *st) {
  vg_buf_unref(e->data);
  e->data = data;
  e->size = st->st_size;
  e->mtime = st->st_mtim;
  e->dev = st->st_dev;
  e->ino = st->st_ino;
  uint64_t ns = (uint64_t)st->st_mtim.tv_sec * 1000000000u + (uint64_t)st->st_mtim.tv_nsec;
  snprintf(e->etag, sizeof e->etag, "\"%llx-%llx\"", (unsigned long long)data->len,
           (unsigned long long)ns);
  http_date(st->st_mtim.tv_sec, e->last_modified);
  bool html = strncmp(e->type, "text/html", 9) == 0;
  snprintf(e->headers, sizeof e->headers,
           "ETag: %s\r\nLast-Modified: %s\r\nCache-Control: no-cache\r\n"
           "Accept-Ranges: bytes\r\nX-Content-Type-Options: nosniff\r\n%s",
           e->etag, e->last_modified,
           html ? CSP "X-Frame-Options: DENY\r\nReferrer-Policy: same-origin\r\n" : "");
}

/* Returns the fresh cache entry for key (file full, whose stat is st),
 * loading or reloading it as needed. */
static int cache_get(vg_static *s, const char *key, const char *full, const struct stat *st,
                     entry **out) {
  uint32_t h = hash_path(key);
  entry *e = cache_find(s, key, h);
  if (e && entry_fresh(e, st)) {
    *out = e;
    return 0;
  }
  vg_buf *data;
  struct stat now;
  int rc = read_file(s, full, &data, &now);
  if (rc) {
    if (e) entry_unlink(s, e);
    return rc;
  }
  if (!e) {
    size_t klen = strlen(key);
    e = calloc(1, sizeof *e + klen + 1);
    if (!e) {
      vg_buf_unref(data);
      return VG_ENOMEM;
    }
    memcpy(e->key, key, klen + 1);
    e->hash = h;
    e->type = content_type(key);
    while (s->count >= STATIC_MAX_ENTRIES) evict_oldest(s, NULL);
    e->next = s->buckets[h & (STATIC_BUCKETS - 1)];
    s->buckets[h & (STATIC_BUCKETS - 1)] = e;
    s->count++;
  } else {
    s->bytes -= e->data->len;
  }
  entry_fill(e, data, &now);
  e->seq = ++s->seq;
  s->bytes += data->len;
  while (s->bytes > STATIC_MAX_BYTES && s->count > 1) evict_oldest(s, e);
  *out = e;
  return 0;
}

/* ---- public ------------------------------------------------------------- */

int vg_static_new(const char *root, vg_static **out) {
  *out = NULL;
  vg_static *s = calloc(1, sizeof *s);
  if (!s) return VG_ENOMEM;
  struct stat st;
  if (!realpath(root, s->root) || stat(s->root, &st) || !S_ISDIR(st.st_mode)) {
    free(s);
    return VG_ENOTFOUND;
  }
  s->root_len = strlen(s->root);
  if (s->root_len > 1 && s->root[s->root_len - 1] == '/') s->root[--s->root_len] = 0;
  *out = s;
  return 0;
}

void vg_static_free(vg_static *s) {
  if (!s) return;
  for (size_t b = 0; b < STATIC_BUCKETS; b++) {
    entry *e = s->buckets[b];
    while (e) {
      entry *next = e->next;
      vg_buf_unref(e->data);
      free(e);
      e = next;
    }
  }
  free(s);
}

static void respond_error(vg_http_conn *c, int status, const char *headers, const char *code,
                          const char *message) {
  char body[160];
  int n = snprintf(body, sizeof body, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}", code,
                   message);
  vg_http_respond_mem(c, status, "application/json", headers, body, (size_t)n);
}

static bool method_is(const vg_http_request *req, const char *m) {
  size_t n = strlen(m);
  return req->method_len == n && memcmp(req->method, m, n) == 0;
}

void vg_static_serve(vg_static *s, vg_http_conn *c, const vg_http_request *req, const char *path) {
  bool get = method_is(req, "GET");
  if (!get && !method_is(req, "HEAD")) {
    respond_error(c, 405, "Allow: GET, HEAD\r\n", "method_not_allowed",
                  "only GET and HEAD are allowed here");
    return;
  }
  if (!path_safe(path)) {
    respond_error(c, 404, NULL, "not_found", "no such file");
    return;
  }
  if (strcmp(path, "/") == 0) path = "/index.html";
  size_t plen = strlen(path);
  char full[PATH_MAX];
  if (s->root_len + plen >= sizeof full) {
    respond_error(c, 404, NULL, "not_found", "no such file");
    return;
  }
  memcpy(full, s->root, s->root_len);
  memcpy(full + s->root_len, path, plen + 1);

  struct stat st;
  entry *e = NULL;
  int rc =
      stat(full, &st) || !S_ISREG(st.st_mode) ? VG_ENOTFOUND : cache_get(s, path, full, &st, &e);
  if (rc) {
    if (rc == VG_ENOTFOUND) {
      entry *old = cache_find(s, path, hash_path(path));
      if (old) entry_unlink(s, old);
      respond_error(c, 404, NULL, "not_found", "no such file");
    } else if (rc == VG_ETOOBIG) {
      respond_error(c, 500, NULL, "file_too_large", "the file is too large to serve");
    } else {
      vg_log_error("static %s: %s", path, vg_strerror(rc));
      respond_error(c, 500, NULL, "internal", "cannot read the file");
    }
    return;
  }

  /* Conditional requests: If-None-Match wins over If-Modified-Since. */
  const vg_http_header *inm = vg_http_find_header(req, "If-None-Match");
  bool not_modified = false;
  if (inm) {
    not_modified = etag_list_matches(inm->value, inm->value_len, e->etag);
  } else {
    const vg_http_header *ims = vg_http_find_header(req, "If-Modified-Since");
    time_t t;
    if (ims && parse_http_date(ims->value, ims->value_len, &t)) not_modified = e->mtime.tv_sec <= t;
  }
  if (not_modified) {
    vg_http_respond(c, 304, NULL, e->headers, NULL);
    return;
  }

  size_t size = e->data->len;
  const vg_http_header *range = get ? vg_http_find_header(req, "Range") : NULL;
  if (range) {
    /* If-Range holding another validator means the client's partial copy
     * is stale: send the whole file. */
    const vg_http_header *ifr = vg_http_find_header(req, "If-Range");
    if (ifr && !header_equals(ifr, e->etag) && !header_equals(ifr, e->last_modified)) range = NULL;
  }
  if (range) {
    uint64_t a, b;
    char headers[STATIC_HEADERS_MAX + 80];
    rc = vg_http_parse_range(range->value, range->value_len, size, &a, &b);
    if (rc == 0) {
      snprintf(headers, sizeof headers, "%sContent-Range: bytes %llu-%llu/%zu\r\n", e->headers,
               (unsigned long long)a, (unsigned long long)b, size);
      vg_http_respond_slice(c, 206, e->type, headers, e->data, (size_t)a, (size_t)(b - a + 1));
      return;
    }
    if (rc == VG_EINVAL) {
      snprintf(headers, sizeof headers, "Content-Range: bytes */%zu\r\n", size);
      vg_http_respond(c, 416, NULL, headers, NULL);
      return;
    }
  }
  vg_http_respond_slice(c, 200, e->type, e->headers, e->data, 0, size);
}
