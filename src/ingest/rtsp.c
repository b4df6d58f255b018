/* rtsp.c - the RTSP client of camera ingest; see rtsp.h.
 *
 * The receive buffer is one fixed array: recv appends at wpos, items are
 * cut from rpos, and what is left of a partial item is moved to the front
 * before the next read. An item never exceeds VG_RTSP_MSG_MAX or 4 + 65535
 * bytes, so it always fits. */
#include "ingest/rtsp.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/crypto.h"
#include "base/err.h"
#include "base/log.h"

#define USER_AGENT "Vigil/" VIGIL_VERSION

/* ---- messages ---- */

/* Offset just past the blank line ending the header, or 0. */
static size_t head_end(const uint8_t *b, size_t len) {
  for (size_t i = 0; i + 1 < len; i++) {
    if (b[i] != '\n') continue;
    if (b[i + 1] == '\n') return i + 2;
    if (i + 2 < len && b[i + 1] == '\r' && b[i + 2] == '\n') return i + 3;
  }
  return 0;
}

/* Finds header name in head; on success *v / *vn is the trimmed value. */
static bool find_header(const char *head, size_t hl, const char *name, size_t idx, const char **v,
                        size_t *vn) {
  size_t nl = strlen(name);
  const char *p = memchr(head, '\n', hl); /* skip the start line */
  const char *end = head + hl;
  while (p && p < end) {
    p++;
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    const char *le = eol ? eol : end;
    if ((size_t)(le - p) > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0) {
      if (idx == 0) {
        const char *s = p + nl + 1;
        while (s < le && (*s == ' ' || *s == '\t')) s++;
        const char *e = le;
        while (e > s && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t')) e--;
        *v = s;
        *vn = (size_t)(e - s);
        return true;
      }
      idx--;
    }
    p = eol;
  }
  return false;
}

int vg_rtsp_msg_parse(const uint8_t *buf, size_t len, vg_rtsp_msg *m) {
  memset(m, 0, sizeof *m);
  /* it must look like RTSP from its first bytes on, or it is garbage */
  size_t probe = len < 5 ? len : 5;
  if (memcmp(buf, "RTSP/", probe) == 0) {
    m->response = true;
  } else {
    for (size_t i = 0; i < len && buf[i] != ' '; i++)
      if (!isupper(buf[i]) && buf[i] != '_' && buf[i] != '-') return VG_EINVAL;
    if (len && buf[0] == ' ') return VG_EINVAL;
  }
  size_t hl = head_end(buf, len < VG_RTSP_MSG_MAX ? len : VG_RTSP_MSG_MAX);
  if (!hl) return len >= VG_RTSP_MSG_MAX ? VG_ETOOBIG : VG_EAGAIN;
  const char *head = (const char *)buf;
  if (m->response) {
    if (hl < 12 || memcmp(buf, "RTSP/1.", 7) != 0) return VG_EINVAL;
    const char *s = memchr(head, ' ', hl);
    if (!s || s + 4 > head + hl) return VG_EINVAL;
    int st = 0;
    for (int i = 1; i <= 3; i++) {
      if (!isdigit((unsigned char)s[i])) return VG_EINVAL;
      st = st * 10 + (s[i] - '0');
    }
    if (st < 100) return VG_EINVAL;
    m->status = st;
  } else {
    const char *eol = memchr(head, '\n', hl);
    if (!eol || !memmem(head, (size_t)(eol - head), " RTSP/1.", 8)) return VG_EINVAL;
  }
  size_t body = 0;
  const char *v;
  size_t vn;
  if (find_header(head, hl, "Content-Length", 0, &v, &vn)) {
    if (vn == 0 || vn > 6) return VG_EINVAL;
    for (size_t i = 0; i < vn; i++) {
      if (!isdigit((unsigned char)v[i])) return VG_EINVAL;
      body = body * 10 + (size_t)(v[i] - '0');
    }
  }
  if (hl + body > VG_RTSP_MSG_MAX) return VG_ETOOBIG;
  if (len < hl + body) return VG_EAGAIN;
  m->head = head;
  m->head_len = hl;
  m->body = buf + hl;
  m->body_len = body;
  return (int)(hl + body);
}

int vg_rtsp_msg_header(const vg_rtsp_msg *m, const char *name, size_t idx, char *out, size_t cap) {
  const char *v;
  size_t vn;
  if (!m->head || !find_header(m->head, m->head_len, name, idx, &v, &vn)) return VG_ENOTFOUND;
  if (vn + 1 > cap) return VG_ETOOBIG;
  memcpy(out, v, vn);
  out[vn] = 0;
  return 0;
}

int vg_rtsp_next(const uint8_t *buf, size_t len, vg_rtsp_item *it) {
  memset(it, 0, sizeof *it);
  if (len == 0) return VG_EAGAIN;
  if (buf[0] == '$') {
    if (len < 4) return VG_EAGAIN;
    size_t n = (size_t)buf[2] << 8 | buf[3];
    if (len < 4 + n) return VG_EAGAIN;
    it->kind = VG_RTSP_ITEM_DATA;
    it->channel = buf[1];
    it->data = buf + 4;
    it->len = n;
    return (int)(4 + n);
  }
  int rc = vg_rtsp_msg_parse(buf, len, &it->msg);
  if (rc == VG_EINVAL) {
    /* not ours: skip to the next '$' or 'R' (a response) */
    size_t i = 1;
    while (i < len && buf[i] != '$' && buf[i] != 'R') i++;
    it->kind = VG_RTSP_ITEM_SKIP;
    it->data = buf;
    it->len = i;
    return (int)i;
  }
  if (rc < 0) return rc;
  it->kind = VG_RTSP_ITEM_MSG;
  it->data = buf;
  it->len = (size_t)rc;
  return rc;
}

/* ---- URLs ---- */

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = tolower(c);
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int pct_decode(const char *s, size_t n, char *out, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    int ch = (unsigned char)s[i];
    if (ch == '%') {
      int hi = i + 1 < n ? hexval((unsigned char)s[i + 1]) : -1;
      int lo = i + 2 < n ? hexval((unsigned char)s[i + 2]) : -1;
      if (hi < 0 || lo < 0) return VG_EINVAL;
      ch = hi << 4 | lo;
      i += 2;
    }
    if (ch == 0) return VG_EINVAL;
    if (o + 1 >= cap) return VG_ETOOBIG;
    out[o++] = (char)ch;
  }
  out[o] = 0;
  return 0;
}

int vg_rtsp_url_parse(const char *url, vg_rtsp_url *out) {
  memset(out, 0, sizeof *out);
  if (strncasecmp(url, "rtsp://", 7) != 0) return VG_EINVAL;
  const char *a = url + 7;
  size_t alen = strcspn(a, "/?#");
  const char *host = a;
  for (size_t i = 0; i < alen; i++)
    if (a[i] == '@') host = a + i + 1;
  if (host != a) {
    size_t ulen = (size_t)(host - 1 - a);
    const char *colon = memchr(a, ':', ulen);
    size_t un = colon ? (size_t)(colon - a) : ulen;
    int rc = pct_decode(a, un, out->user, sizeof out->user);
    if (!rc && colon)
      rc = pct_decode(colon + 1, ulen - un - 1, out->password, sizeof out->password);
    if (rc) return rc;
  }
  size_t hlen = (size_t)(a + alen - host);
  const char *port = NULL;
  const char *hs = host;
  size_t hn;
  if (hlen && host[0] == '[') {
    const char *rb = memchr(host, ']', hlen);
    if (!rb) return VG_EINVAL;
    hs = host + 1;
    hn = (size_t)(rb - hs);
    if (rb + 1 < host + hlen) {
      if (rb[1] != ':') return VG_EINVAL;
      port = rb + 2;
    }
  } else {
    const char *colon = memchr(host, ':', hlen);
    hn = colon ? (size_t)(colon - host) : hlen;
    if (colon) port = colon + 1;
  }
  if (hn == 0) return VG_EINVAL;
  if (hn >= sizeof out->host) return VG_ETOOBIG;
  memcpy(out->host, hs, hn);
  out->port = VG_RTSP_DEFAULT_PORT;
  if (port) {
    const char *pe = host + hlen;
    int p = 0;
    if (port == pe || pe - port > 5) return VG_EINVAL;
    for (const char *q = port; q < pe; q++) {
      if (!isdigit((unsigned char)*q)) return VG_EINVAL;
      p = p * 10 + (*q - '0');
    }
    if (p < 1 || p > 65535) return VG_EINVAL;
    out->port = p;
  }
  /* the request URI: scheme, host[:port], path - no userinfo */
  int n = snprintf(out->uri, sizeof out->uri, "rtsp://%.*s%s", (int)hlen, host, a + alen);
  if (n < 0 || (size_t)n >= sizeof out->uri) return VG_ETOOBIG;
  for (char *c = out->uri; *c; c++)
    if ((unsigned char)*c <= ' ') return VG_EINVAL;
  return 0;
}

int vg_rtsp_url_resolve(const char *base, const char *control, char *out, size_t cap) {
  int n;
  if (!control[0] || strcmp(control, "*") == 0)
    n = snprintf(out, cap, "%s", base);
  else if (strncasecmp(control, "rtsp://", 7) == 0)
    n = snprintf(out, cap, "%s", control);
  else if (control[0] == '/') { /* absolute path on the base's host */
    const char *h = strstr(base, "://");
    const char *slash = h ? strchr(h + 3, '/') : NULL;
    size_t keep = slash ? (size_t)(slash - base) : strlen(base);
    n = snprintf(out, cap, "%.*s%s", (int)keep, base, control);
  } else {
    size_t bl = strlen(base);
    n = snprintf(out, cap, "%s%s%s", base, bl && base[bl - 1] == '/' ? "" : "/", control);
  }
  return n < 0 || (size_t)n >= cap ? VG_ETOOBIG : 0;
}

/* ---- authentication ---- */

/* Value of param key in a challenge (key=value or key="value"). */
static bool auth_param(const char *s, const char *key, char *out, size_t cap) {
  size_t kl = strlen(key);
  const char *p = s;
  while (*p) {
    while (*p == ' ' || *p == ',' || *p == '\t') p++;
    const char *k = p;
    while (*p && *p != '=' && *p != ',' && *p != ' ') p++;
    size_t kn = (size_t)(p - k);
    while (*p == ' ') p++;
    if (*p != '=') {
      continue;
    }
    p++;
    while (*p == ' ') p++;
    const char *v;
    size_t vn;
    if (*p == '"') {
      v = ++p;
      while (*p && *p != '"') p++;
      vn = (size_t)(p - v);
      if (*p) p++;
    } else {
      v = p;
      while (*p && *p != ',' && *p != ' ') p++;
      vn = (size_t)(p - v);
    }
    if (kn == kl && strncasecmp(k, key, kl) == 0) {
      if (vn + 1 > cap) return false;
      memcpy(out, v, vn);
      out[vn] = 0;
      return true;
    }
  }
  return false;
}

int vg_rtsp_auth_challenge(vg_rtsp_auth *a, const char *value) {
  while (*value == ' ') value++;
  if (strncasecmp(value, "Digest", 6) == 0 && (value[6] == ' ' || value[6] == 0)) {
    vg_rtsp_auth d = {.scheme = VG_RTSP_AUTH_DIGEST};
    const char *params = value + 6;
    char alg[32], qop[64];
    if (auth_param(params, "algorithm", alg, sizeof alg) && strcasecmp(alg, "MD5") != 0)
      return VG_EINVAL;
    if (!auth_param(params, "nonce", d.nonce, sizeof d.nonce)) return VG_EINVAL;
    auth_param(params, "realm", d.realm, sizeof d.realm);
    auth_param(params, "opaque", d.opaque, sizeof d.opaque);
    if (auth_param(params, "qop", qop, sizeof qop)) {
      /* a list such as "auth,auth-int": we answer auth, when offered */
      char *save = NULL;
      for (char *t = strtok_r(qop, ", ", &save); t; t = strtok_r(NULL, ", ", &save))
        if (strcasecmp(t, "auth") == 0) d.qop_auth = true;
      if (!d.qop_auth) return VG_EINVAL;
    }
    *a = d;
    return 0;
  }
  if (strncasecmp(value, "Basic", 5) == 0 && (value[5] == ' ' || value[5] == 0)) {
    if (a->scheme == VG_RTSP_AUTH_DIGEST) return 0; /* keep the stronger one */
    vg_rtsp_auth b = {.scheme = VG_RTSP_AUTH_BASIC};
    auth_param(value + 5, "realm", b.realm, sizeof b.realm);
    *a = b;
    return 0;
  }
  return VG_EINVAL;
}

static void md5_hex(const char *s, char out[33]) {
  uint8_t d[16];
  unsigned n = 0;
  EVP_Digest(s, strlen(s), d, &n, EVP_md5(), NULL);
  vg_hex(d, 16, out);
}

int vg_rtsp_auth_header(vg_rtsp_auth *a, const char *method, const char *uri, const char *user,
                        const char *password, const char *cnonce, char *out, size_t cap) {
  if (!user) user = "";
  if (!password) password = "";
  int n;
  if (a->scheme == VG_RTSP_AUTH_BASIC) {
    char raw[300], b64[420];
    n = snprintf(raw, sizeof raw, "%s:%s", user, password);
    if (n < 0 || (size_t)n >= sizeof raw) return VG_ETOOBIG;
    vg_base64((const uint8_t *)raw, (size_t)n, b64);
    n = snprintf(out, cap, "Basic %s", b64);
    return n < 0 || (size_t)n >= cap ? VG_ETOOBIG : 0;
  }
  if (a->scheme != VG_RTSP_AUTH_DIGEST) return VG_EINVAL;
  char tmp[2048], ha1[33], ha2[33], resp[33];
  n = snprintf(tmp, sizeof tmp, "%s:%s:%s", user, a->realm, password);
  if (n < 0 || (size_t)n >= sizeof tmp) return VG_ETOOBIG;
  md5_hex(tmp, ha1);
  n = snprintf(tmp, sizeof tmp, "%s:%s", method, uri);
  if (n < 0 || (size_t)n >= sizeof tmp) return VG_ETOOBIG;
  md5_hex(tmp, ha2);
  char nc[9] = "";
  if (a->qop_auth) {
    a->nc++;
    snprintf(nc, sizeof nc, "%08x", a->nc);
    n = snprintf(tmp, sizeof tmp, "%s:%s:%s:%s:auth:%s", ha1, a->nonce, nc, cnonce, ha2);
  } else {
    n = snprintf(tmp, sizeof tmp, "%s:%s:%s", ha1, a->nonce, ha2);
  }
  if (n < 0 || (size_t)n >= sizeof tmp) return VG_ETOOBIG;
  md5_hex(tmp, resp);
  n = snprintf(out, cap,
               "Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", uri=\"%s\", response=\"%s\"",
               user, a->realm, a->nonce, uri, resp);
  if (n < 0 || (size_t)n >= cap) return VG_ETOOBIG;
  size_t pos = (size_t)n;
  if (a->opaque[0]) {
    n = snprintf(out + pos, cap - pos, ", opaque=\"%s\"", a->opaque);
    if (n < 0 || (size_t)n >= cap - pos) return VG_ETOOBIG;
    pos += (size_t)n;
  }
  if (a->qop_auth) {
    n = snprintf(out + pos, cap - pos, ", qop=auth, nc=%s, cnonce=\"%s\"", nc, cnonce);
    if (n < 0 || (size_t)n >= cap - pos) return VG_ETOOBIG;
  }
  return 0;
}

/* ---- errors ---- */

vg_probe_error vg_rtsp_error_text(const vg_rtsp_error *e, int timeout_ms, char *msg, size_t cap) {
  switch (e->status) {
    case 0:
      break;
    case 401:
      snprintf(msg, cap, "401 Unauthorized: wrong credentials");
      return VG_PROBE_UNAUTHORIZED;
    case 403:
      snprintf(msg, cap, "403 Forbidden: this user may not view the stream");
      return VG_PROBE_UNAUTHORIZED;
    case 404:
      snprintf(msg, cap, "404 Not Found: no stream at this path");
      return VG_PROBE_NOT_FOUND;
    default:
      snprintf(msg, cap, "the camera answered RTSP %d", e->status);
      return VG_PROBE_PROTOCOL;
  }
  if (e->dns) {
    snprintf(msg, cap, "cannot resolve the camera's host name");
    return VG_PROBE_UNREACHABLE;
  }
  switch (e->code) {
    case VG_ETIMEDOUT:
      snprintf(msg, cap, "no answer within %d ms", timeout_ms);
      return VG_PROBE_TIMEOUT;
    case VG_ECLOSED:
      snprintf(msg, cap, "the camera closed the connection");
      return VG_PROBE_PROTOCOL;
    case VG_EPROTO:
      snprintf(msg, cap, "the answer is not valid RTSP (is this the camera's RTSP port?)");
      return VG_PROBE_PROTOCOL;
    case VG_EAUTH:
      snprintf(msg, cap, "the camera asks for an authentication scheme Vigil cannot answer");
      return VG_PROBE_UNAUTHORIZED;
    default:
      break;
  }
  switch (e->sys_errno) {
    case ECONNREFUSED:
      snprintf(msg, cap, "connection refused: nothing listens at this address and port");
      return VG_PROBE_UNREACHABLE;
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EHOSTDOWN:
    case ENETDOWN:
      snprintf(msg, cap, "no route to the camera's address");
      return VG_PROBE_UNREACHABLE;
    case ETIMEDOUT:
      snprintf(msg, cap, "no answer within %d ms", timeout_ms);
      return VG_PROBE_TIMEOUT;
    case ECONNRESET:
    case EPIPE:
      snprintf(msg, cap, "the camera closed the connection");
      return VG_PROBE_PROTOCOL;
    case 0:
      break;
    default:
      snprintf(msg, cap, "%s", strerror(e->sys_errno));
      return VG_PROBE_PROTOCOL;
  }
  snprintf(msg, cap, "%s", vg_strerror(e->code));
  return VG_PROBE_PROTOCOL;
}

/* ---- the connection ---- */

#define MAX_TRACKS VG_SDP_MAX_MEDIA

struct vg_rtsp {
  vg_rtsp_config cfg;
  vg_rtsp_url url;
  char user[128], password[128];
  int fd;
  int cseq;
  vg_rtsp_auth auth;
  char session[512];
  int timeout_s;
  bool get_parameter;
  uint64_t next_keepalive; /* mono ms */
  char base[1024];         /* control URLs are relative to it */
  vg_sdp sdp;
  int setup_count;
  bool playing;
  bool rtptime_ok[MAX_TRACKS];
  uint32_t rtptime[MAX_TRACKS];
  char track_url[MAX_TRACKS][1024];
  size_t rpos, wpos;
  uint8_t buf[VG_RTSP_BUF];
};

static int fail(vg_rtsp_error *err, int code, int sys) {
  err->code = code;
  err->sys_errno = sys;
  return code;
}

static bool interrupted(vg_rtsp *r) { return r->cfg.interrupt && r->cfg.interrupt(r->cfg.ud); }

/* Waits for events on the socket, in slices, asking the interrupt
 * callback between them. Returns 1 when ready, 0 after ms, <0 on error. */
static int wait_fd(vg_rtsp *r, short events, int ms, vg_rtsp_error *err) {
  uint64_t until = vg_mono_ms() + (uint64_t)(ms < 0 ? 0 : ms);
  for (;;) {
    if (interrupted(r)) return fail(err, VG_ETIMEDOUT, 0);
    uint64_t now = vg_mono_ms();
    int slice = ms < 0 ? VG_RTSP_SLICE_MS : (int)(until > now ? until - now : 0);
    if (slice > VG_RTSP_SLICE_MS) slice = VG_RTSP_SLICE_MS;
    struct pollfd pfd = {.fd = r->fd, .events = events};
    int n = poll(&pfd, 1, slice);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(err, VG_EIO, errno);
    }
    if (n > 0) return 1;
    if (ms >= 0 && vg_mono_ms() >= until) return 0;
  }
}

static int send_all(vg_rtsp *r, const char *d, size_t n, vg_rtsp_error *err) {
  while (n) {
    ssize_t w = send(r->fd, d, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        int rc = wait_fd(r, POLLOUT, -1, err);
        if (rc < 0) return rc;
        continue;
      }
      return fail(err, VG_EIO, errno);
    }
    d += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Reads what the socket has into the buffer (after moving the unread
 * part to the front). Returns bytes read, 0 when nothing was there,
 * VG_ECLOSED at the end of the stream, VG_EIO. */
static int fill(vg_rtsp *r, vg_rtsp_error *err) {
  if (r->rpos > 0) {
    memmove(r->buf, r->buf + r->rpos, r->wpos - r->rpos);
    r->wpos -= r->rpos;
    r->rpos = 0;
  }
  if (r->wpos == sizeof r->buf) return fail(err, VG_EPROTO, 0); /* cannot happen: items fit */
  ssize_t n = recv(r->fd, r->buf + r->wpos, sizeof r->buf - r->wpos, MSG_DONTWAIT);
  if (n == 0) return fail(err, VG_ECLOSED, 0);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return 0;
    return fail(err, errno == ECONNRESET ? VG_ECLOSED : VG_EIO, errno);
  }
  r->wpos += (size_t)n;
  return (int)n;
}

static int connect_to(vg_rtsp *r, vg_rtsp_error *err) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
  char port[8];
  snprintf(port, sizeof port, "%d", r->url.port);
  int grc = getaddrinfo(r->url.host, port, &hints, &res);
  if (grc != 0 || !res) {
    err->dns = true;
    return fail(err, VG_EIO, 0);
  }
  int rc = VG_EIO, last_errno = ECONNREFUSED;
  for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
      last_errno = errno;
      continue;
    }
    r->fd = fd;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
      last_errno = errno;
      close(fd);
      r->fd = -1;
      continue;
    }
    int w = wait_fd(r, POLLOUT, -1, err);
    if (w < 0) {
      freeaddrinfo(res);
      return w; /* interrupted: the caller's deadline */
    }
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
    if (soerr == 0) {
      rc = 0;
      break;
    }
    last_errno = soerr;
    close(fd);
    r->fd = -1;
  }
  freeaddrinfo(res);
  if (rc) return fail(err, VG_EIO, last_errno);
  int one = 1;
  setsockopt(r->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return 0;
}

/* Writes one request into out; extra holds further header lines
 * ("K: v\r\n"). Returns its length or VG_ETOOBIG. */
static int format_request(vg_rtsp *r, const char *method, const char *uri, const char *extra,
                          char *out, size_t cap) {
  char auth[1024] = "";
  if (r->auth.scheme != VG_RTSP_AUTH_NONE) {
    char cnonce[17], value[900];
    uint8_t rnd[8] = {0};
    vg_random_bytes(rnd, sizeof rnd);
    vg_hex(rnd, sizeof rnd, cnonce);
    if (vg_rtsp_auth_header(&r->auth, method, uri, r->user, r->password, cnonce, value,
                            sizeof value) == 0)
      snprintf(auth, sizeof auth, "Authorization: %s\r\n", value);
  }
  char session[600] = "";
  if (r->session[0]) snprintf(session, sizeof session, "Session: %s\r\n", r->session);
  int n = snprintf(out, cap, "%s %s RTSP/1.0\r\nCSeq: %d\r\nUser-Agent: %s\r\n%s%s%s\r\n", method,
                   uri, ++r->cseq, USER_AGENT, auth, session, extra ? extra : "");
  return n < 0 || (size_t)n >= cap ? VG_ETOOBIG : n;
}

static int send_request(vg_rtsp *r, const char *method, const char *uri, const char *extra,
                        vg_rtsp_error *err) {
  char req[4096];
  int n = format_request(r, method, uri, extra, req, sizeof req);
  if (n < 0) return fail(err, n, 0);
  snprintf(err->method, sizeof err->method, "%s", method);
  return send_all(r, req, (size_t)n, err);
}

/* Waits for the answer to the last request. Interleaved data before it
 * is dropped (nothing plays yet). On success *m points into the buffer
 * (valid until the next read) and the bytes stay consumed. */
static int read_response(vg_rtsp *r, vg_rtsp_msg *m, vg_rtsp_error *err) {
  for (;;) {
    while (r->rpos < r->wpos) {
      vg_rtsp_item it;
      int rc = vg_rtsp_next(r->buf + r->rpos, r->wpos - r->rpos, &it);
      if (rc == VG_EAGAIN) break;
      if (rc < 0) return fail(err, VG_EPROTO, 0);
      r->rpos += (size_t)rc;
      if (it.kind == VG_RTSP_ITEM_SKIP && !r->playing) return fail(err, VG_EPROTO, 0);
      if (it.kind != VG_RTSP_ITEM_MSG || !it.msg.response) continue;
      char cseq[16];
      if (vg_rtsp_msg_header(&it.msg, "CSeq", 0, cseq, sizeof cseq) == 0 && atoi(cseq) != r->cseq)
        continue; /* an earlier keep-alive's answer */
      *m = it.msg;
      return 0;
    }
    int w = wait_fd(r, POLLIN, -1, err);
    if (w < 0) return w;
    int n = fill(r, err);
    if (n < 0) return n;
  }
}

/* One request and its answer, answering one auth challenge (401) with
 * the credentials. Fails with err->status for any status but 2xx. */
static int transact(vg_rtsp *r, const char *method, const char *uri, const char *extra,
                    vg_rtsp_msg *m, vg_rtsp_error *err) {
  for (int attempt = 0;; attempt++) {
    int rc = send_request(r, method, uri, extra, err);
    if (!rc) rc = read_response(r, m, err);
    if (rc) return rc;
    if (m->status == 401 && attempt == 0 && r->user[0]) {
      vg_rtsp_auth a = r->auth;
      bool any = false;
      char v[1024];
      for (size_t i = 0; vg_rtsp_msg_header(m, "WWW-Authenticate", i, v, sizeof v) != VG_ENOTFOUND;
           i++)
        if (vg_rtsp_auth_challenge(&a, v) == 0) any = true;
      if (!any) {
        err->status = 0;
        return fail(err, VG_EAUTH, 0);
      }
      r->auth = a;
      continue;
    }
    if (m->status < 200 || m->status >= 300) {
      err->status = m->status;
      return fail(err, VG_EPROTO, 0);
    }
    return 0;
  }
}

int vg_rtsp_open(const vg_rtsp_config *cfg, vg_rtsp **out, vg_rtsp_error *err) {
  memset(err, 0, sizeof *err);
  *out = NULL;
  vg_rtsp *r = calloc(1, sizeof *r);
  if (!r) return fail(err, VG_ENOMEM, 0);
  r->fd = -1;
  r->cfg = *cfg;
  r->timeout_s = VG_RTSP_DEFAULT_TIMEOUT_S;
  int rc = vg_rtsp_url_parse(cfg->url, &r->url);
  if (rc) {
    free(r);
    return fail(err, rc, 0);
  }
  if (cfg->username && cfg->username[0]) {
    snprintf(r->user, sizeof r->user, "%s", cfg->username);
    snprintf(r->password, sizeof r->password, "%s", cfg->password ? cfg->password : "");
  } else {
    memcpy(r->user, r->url.user, sizeof r->user);
    memcpy(r->password, r->url.password, sizeof r->password);
  }
  r->cfg.url = NULL; /* not kept */
  vg_rtsp_msg m;
  rc = connect_to(r, err);
  if (!rc) rc = transact(r, "OPTIONS", r->url.uri, NULL, &m, err);
  if (!rc) {
    char pub[512];
    if (vg_rtsp_msg_header(&m, "Public", 0, pub, sizeof pub) == 0 &&
        strcasestr(pub, "GET_PARAMETER"))
      r->get_parameter = true;
    rc = transact(r, "DESCRIBE", r->url.uri, "Accept: application/sdp\r\n", &m, err);
  }
  if (!rc) {
    if (vg_rtsp_msg_header(&m, "Content-Base", 0, r->base, sizeof r->base) != 0 &&
        vg_rtsp_msg_header(&m, "Content-Location", 0, r->base, sizeof r->base) != 0)
      snprintf(r->base, sizeof r->base, "%s", r->url.uri);
    if (vg_sdp_parse((const char *)m.body, m.body_len, &r->sdp) != 0) rc = fail(err, VG_EPROTO, 0);
  }
  if (rc) {
    vg_rtsp_close(r);
    return rc;
  }
  *out = r;
  return 0;
}

const vg_sdp *vg_rtsp_sdp(const vg_rtsp *r) { return &r->sdp; }

int vg_rtsp_setup(vg_rtsp *r, size_t media, int *channel, vg_rtsp_error *err) {
  memset(err, 0, sizeof *err);
  if (media >= r->sdp.nmedia) return fail(err, VG_EINVAL, 0);
  char *url = r->track_url[media];
  if (vg_rtsp_url_resolve(r->base, r->sdp.media[media].control, url, sizeof r->track_url[0]))
    return fail(err, VG_ETOOBIG, 0);
  int ch = r->setup_count * 2;
  char transport[128];
  snprintf(transport, sizeof transport, "Transport: RTP/AVP/TCP;unicast;interleaved=%d-%d\r\n", ch,
           ch + 1);
  vg_rtsp_msg m;
  int rc = transact(r, "SETUP", url, transport, &m, err);
  if (rc) return rc;
  char v[512];
  if (vg_rtsp_msg_header(&m, "Transport", 0, v, sizeof v) == 0) {
    const char *il = strcasestr(v, "interleaved=");
    if (il) ch = atoi(il + 12);
  }
  if (ch < 0 || ch > 254) return fail(err, VG_EPROTO, 0);
  if (!r->session[0] && vg_rtsp_msg_header(&m, "Session", 0, v, sizeof v) == 0) {
    char *semi = strchr(v, ';');
    if (semi) {
      const char *t = strcasestr(semi, "timeout=");
      if (t && atoi(t + 8) > 0) r->timeout_s = atoi(t + 8);
      *semi = 0;
    }
    snprintf(r->session, sizeof r->session, "%s", v);
  }
  r->setup_count++;
  *channel = ch;
  return 0;
}

/* "url=...;seq=..;rtptime=..,url=..." */
static void parse_rtp_info(vg_rtsp *r, const char *info) {
  const char *p = info;
  while (*p) {
    const char *e = strchr(p, ',');
    /* a URL may hold commas only in theory; cameras do not */
    size_t n = e ? (size_t)(e - p) : strlen(p);
    char item[1200];
    if (n < sizeof item) {
      memcpy(item, p, n);
      item[n] = 0;
      char *u = strcasestr(item, "url=");
      char *t = strcasestr(item, "rtptime=");
      if (u && t) {
        u += 4;
        size_t ul = strcspn(u, ";");
        uint32_t ts = (uint32_t)strtoul(t + 8, NULL, 10);
        for (size_t i = 0; i < r->sdp.nmedia && i < MAX_TRACKS; i++) {
          size_t tl = strlen(r->track_url[i]);
          if (!tl) continue;
          /* the camera may answer with the full URL or just its end */
          bool match = (ul == tl && strncmp(u, r->track_url[i], ul) == 0) ||
                       (ul < tl && ul > 0 && strncmp(r->track_url[i] + tl - ul, u, ul) == 0 &&
                        r->track_url[i][tl - ul - 1] == '/');
          if (match) {
            r->rtptime[i] = ts;
            r->rtptime_ok[i] = true;
          }
        }
      }
    }
    if (!e) break;
    p = e + 1;
  }
}

int vg_rtsp_play(vg_rtsp *r, vg_rtsp_error *err) {
  memset(err, 0, sizeof *err);
  char url[1024];
  if (vg_rtsp_url_resolve(r->base, r->sdp.control, url, sizeof url))
    return fail(err, VG_ETOOBIG, 0);
  vg_rtsp_msg m;
  int rc = transact(r, "PLAY", url, "Range: npt=0.000-\r\n", &m, err);
  if (rc) return rc;
  char info[4096];
  if (vg_rtsp_msg_header(&m, "RTP-Info", 0, info, sizeof info) == 0) parse_rtp_info(r, info);
  r->playing = true;
  r->next_keepalive = vg_mono_ms() + (uint64_t)r->timeout_s * 1000 / 2;
  return 0;
}

bool vg_rtsp_rtptime(const vg_rtsp *r, size_t media, uint32_t *rtptime) {
  if (media >= MAX_TRACKS || !r->rtptime_ok[media]) return false;
  *rtptime = r->rtptime[media];
  return true;
}

/* A keep-alive's answer was an error. Only 454 (Session Not Found) ends
 * the session: a camera that lists GET_PARAMETER but refuses it gets
 * OPTIONS next time, and a 401 (Digest nonce gone stale) brings the new
 * nonce for the next request. Returns 0 to go on, or VG_EPROTO. */
static int keepalive_refused(vg_rtsp *r, const vg_rtsp_msg *m) {
  if (m->status == 454) return VG_EPROTO;
  if (m->status == 401) {
    char v[1024];
    vg_rtsp_auth a = r->auth;
    for (size_t i = 0; vg_rtsp_msg_header(m, "WWW-Authenticate", i, v, sizeof v) != VG_ENOTFOUND;
         i++)
      vg_rtsp_auth_challenge(&a, v);
    r->auth = a;
    return 0;
  }
  if (r->get_parameter) r->get_parameter = false;
  vg_log_debug("rtsp: keep-alive answered %d", m->status);
  return 0;
}

int vg_rtsp_read(vg_rtsp *r, int wait_ms, vg_rtsp_data_fn fn, void *ud, vg_rtsp_error *err) {
  uint64_t now = vg_mono_ms();
  if (now >= r->next_keepalive) {
    char url[1024];
    vg_rtsp_url_resolve(r->base, r->sdp.control, url, sizeof url);
    int rc = send_request(r, r->get_parameter ? "GET_PARAMETER" : "OPTIONS",
                          r->get_parameter ? url : r->url.uri, NULL, err);
    if (rc) return rc;
    r->next_keepalive = now + (uint64_t)r->timeout_s * 1000 / 2;
  }
  if (wait_ms > 0) {
    struct pollfd pfd = {.fd = r->fd, .events = POLLIN};
    if (poll(&pfd, 1, wait_ms) < 0 && errno != EINTR) return fail(err, VG_EIO, errno);
  }
  int n = fill(r, err);
  if (n <= 0) return n;
  while (r->rpos < r->wpos) {
    vg_rtsp_item it;
    int rc = vg_rtsp_next(r->buf + r->rpos, r->wpos - r->rpos, &it);
    if (rc == VG_EAGAIN) break;
    if (rc < 0) return fail(err, VG_EPROTO, 0);
    r->rpos += (size_t)rc;
    if (it.kind == VG_RTSP_ITEM_DATA) {
      fn(ud, it.channel, it.data, it.len);
    } else if (it.kind == VG_RTSP_ITEM_MSG && it.msg.response && it.msg.status >= 400) {
      int refused = keepalive_refused(r, &it.msg);
      if (refused) {
        err->status = it.msg.status;
        return fail(err, refused, 0);
      }
    }
  }
  return n;
}

void vg_rtsp_close(vg_rtsp *r) {
  if (!r) return;
  if (r->fd >= 0) {
    char url[1024], req[4096];
    /* best effort and never waiting: the socket buffer takes it or not */
    if (r->session[0] && vg_rtsp_url_resolve(r->base, r->sdp.control, url, sizeof url) == 0) {
      int n = format_request(r, "TEARDOWN", url, NULL, req, sizeof req);
      if (n > 0) (void)!send(r->fd, req, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    close(r->fd);
  }
  free(r);
}
