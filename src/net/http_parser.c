/* http_parser.c - strict HTTP/1.1 request heads (RFC 9112), chunked bodies and
 * the small value grammars a server needs (percent-encoding, query strings,
 * cookies, byte ranges), all as pure functions over the caller's bytes.
 *
 * The head parser keeps no state between calls: the server calls it again
 * from the start of the head after every read. It makes one pass over at
 * most max_header_bytes bytes, so the cost is bounded by the limit, and it
 * writes only scalars and the headers it finds (no memset of the 2 KiB
 * header array on the hot path).
 *
 * Strictness is deliberate: every ambiguity two HTTP implementations could
 * resolve differently (bare CR or LF, obs-fold, whitespace before the colon,
 * Content-Length together with Transfer-Encoding, duplicate Host) is a
 * request-smuggling vector when Vigil sits behind a proxy, so it is a 400. */
#include "http_parser.h"

#include <limits.h>
#include <string.h>

#include "base/err.h"

/* Used when the caller passes no limits (or zeros). */
#define DEFAULT_MAX_HEADER_BYTES 8192

/* A chunk-size line (with extensions) or a trailer line longer than this is
 * no honest client's; trailers as a whole are bounded too, because they are
 * read and thrown away and max_body does not count them. */
#define CHUNK_LINE_MAX 4096
#define CHUNK_TRAILERS_MAX 8192

/* Character classes, one bit each, indexed by byte. */
enum {
  C_TCHAR = 1,  /* token (RFC 9110 5.6.2) */
  C_FIELD = 2,  /* field-value byte: VCHAR, obs-text, SP, HTAB */
  C_TARGET = 4, /* request-target byte: VCHAR but '#' */
  C_HOST = 8,   /* Host value: unreserved, sub-delims, ':', '[', ']', '%' */
};

/* Generated from the RFC grammars; see the enum above for the bits.
 * Request targets take every visible ASCII byte but '#' (browsers send '|',
 * '^', '{' raw in queries, and rejecting them would break real clients);
 * control bytes, space, DEL and non-ASCII (which browsers always escape)
 * are refused. */
/* clang-format off */
static const unsigned char cls[256] = {
    0,  0,  0,  0,  0,  0,  0,  0,  0,  2,  0,  0,  0,  0,  0,  0,  /* 0x00 */
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 0x10 */
    2,  15, 6,  3,  15, 15, 15, 15, 14, 14, 15, 15, 14, 15, 15, 6,  /* 0x20 */
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 14, 14, 6,  14, 6,  6,  /* 0x30 */
    6,  15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, /* 0x40 */
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 14, 6,  14, 7,  15, /* 0x50 */
    7,  15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, /* 0x60 */
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 6,  7,  6,  15, 0,  /* 0x70 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0x80 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0x90 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xa0 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xb0 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xc0 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xd0 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xe0 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xf0 */
};
/* clang-format on */

static inline bool is_class(char c, int bit) { return (cls[(unsigned char)c] & bit) != 0; }

static inline bool is_ows(char c) { return c == ' ' || c == '\t'; }

static inline int lower(int c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; }

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* True when s[0..n) equals the NUL-terminated lit, ignoring ASCII case. */
static bool eq_nocase(const char *s, size_t n, const char *lit) {
  size_t i = 0;
  for (; i < n; i++) {
    if (!lit[i] || lower((unsigned char)s[i]) != lower((unsigned char)lit[i])) return false;
  }
  return lit[i] == 0;
}

static void trim_ows(const char **s, size_t *n) {
  const char *p = *s, *e = *s + *n;
  while (p < e && is_ows(*p)) p++;
  while (e > p && is_ows(e[-1])) e--;
  *s = p;
  *n = (size_t)(e - p);
}

/* ---- request head ------------------------------------------------------ */

/* What the header pass learns about framing and connection handling; turned
 * into request fields once the head is complete. */
typedef struct head_state {
  int host_count;
  int te_count;
  bool te_chunked; /* the only Transfer-Encoding seen is "chunked" */
  bool conn_close;
  bool conn_keep_alive;
  bool conn_upgrade;
  bool upgrade_ws;
  bool expect_continue;
} head_state;

static int fail(int *status, int code) {
  *status = code;
  return code == 431 ? VG_ETOOBIG : VG_EPROTO;
}

/* HTTP-version = "HTTP/" DIGIT "." DIGIT (case-sensitive). Something shaped
 * like a version but not 1.0/1.1 (HTTP/2.0, HTTP/9, HTTP/1.2) is 505; any
 * other text is 400. */
static int parse_version(const char *v, size_t n, int *minor, int *status) {
  if (n == 8 && memcmp(v, "HTTP/1.", 7) == 0 && (v[7] == '0' || v[7] == '1')) {
    *minor = v[7] - '0';
    return 0;
  }
  if (n < 6 || memcmp(v, "HTTP/", 5) != 0) return fail(status, 400);
  size_t i = 5, digits = 0;
  while (i < n && v[i] >= '0' && v[i] <= '9') i++, digits++;
  if (!digits) return fail(status, 400);
  if (i < n) {
    if (v[i] != '.' || i + 1 == n) return fail(status, 400);
    for (i++; i < n; i++) {
      if (v[i] < '0' || v[i] > '9') return fail(status, 400);
    }
  }
  return fail(status, 505);
}

/* Splits the request-target into path and query and checks its form:
 * origin-form ("/p?q"), asterisk-form ("*", OPTIONS only) or absolute-form
 * ("http://host/p?q", RFC 9112 3.2.2 says servers must accept it). For
 * absolute-form, path is the path component after the authority, so routing
 * sees the same path either way (it may be empty: "http://h?q"). */
static int split_target(vg_http_request *req, int *status) {
  const char *t = req->target, *end = t + req->target_len;
  const char *path = t;
  if (t[0] == '*') {
    if (req->target_len != 1 || req->method_len != 7 || memcmp(req->method, "OPTIONS", 7) != 0)
      return fail(status, 400);
  } else if (t[0] != '/') {
    size_t skip;
    if (req->target_len >= 7 && eq_nocase(t, 7, "http://")) {
      skip = 7;
    } else if (req->target_len >= 8 && eq_nocase(t, 8, "https://")) {
      skip = 8;
    } else {
      return fail(status, 400); /* authority-form (CONNECT) or junk: no proxying here */
    }
    const char *auth = t + skip;
    path = auth;
    while (path < end && *path != '/' && *path != '?') {
      /* userinfo in an http(s) URI is deprecated and a phishing trick. */
      if (!is_class(*path, C_HOST) || *path == '@') return fail(status, 400);
      path++;
    }
    if (path == auth) return fail(status, 400); /* empty host is invalid for http */
  }
  const char *q = memchr(path, '?', (size_t)(end - path));
  req->path = path;
  if (q) {
    req->path_len = (size_t)(q - path);
    req->query = q + 1;
    req->query_len = (size_t)(end - q - 1);
  } else {
    req->path_len = (size_t)(end - path);
    req->query = NULL;
    req->query_len = 0;
  }
  return 0;
}

/* Content-Length = 1*DIGIT; values past INT64_MAX are refused rather than
 * wrapped, and a list ("5, 5") is refused rather than guessed at. */
static int parse_content_length(const char *v, size_t n, int64_t *out) {
  if (n == 0) return -1;
  int64_t cl = 0;
  for (size_t i = 0; i < n; i++) {
    if (v[i] < '0' || v[i] > '9') return -1;
    int d = v[i] - '0';
    if (cl > (INT64_MAX - d) / 10) return -1;
    cl = cl * 10 + d;
  }
  *out = cl;
  return 0;
}

/* Looks at the headers that change framing or connection handling. Only a
 * few lengths can match, so most headers cost one switch. */
static int note_header(vg_http_request *req, head_state *hs, const vg_http_header *h, int *status) {
  const char *n = h->name, *v = h->value;
  size_t vl = h->value_len;
  switch (h->name_len) {
    case 4:
      if (eq_nocase(n, 4, "host")) {
        /* RFC 9112 3.2: more than one Host, or an invalid one, is a 400. */
        if (++hs->host_count > 1) return fail(status, 400);
        for (size_t i = 0; i < vl; i++) {
          if (!is_class(v[i], C_HOST)) return fail(status, 400);
        }
      }
      break;
    case 6:
      if (eq_nocase(n, 6, "expect") && eq_nocase(v, vl, "100-continue")) hs->expect_continue = true;
      break;
    case 7:
      if (eq_nocase(n, 7, "upgrade") && vg_http_header_has_token(v, vl, "websocket"))
        hs->upgrade_ws = true;
      break;
    case 10:
      if (eq_nocase(n, 10, "connection")) {
        if (vg_http_header_has_token(v, vl, "close")) hs->conn_close = true;
        if (vg_http_header_has_token(v, vl, "keep-alive")) hs->conn_keep_alive = true;
        if (vg_http_header_has_token(v, vl, "upgrade")) hs->conn_upgrade = true;
      }
      break;
    case 14:
      if (eq_nocase(n, 14, "content-length")) {
        int64_t cl;
        if (parse_content_length(v, vl, &cl) != 0) return fail(status, 400);
        if (req->content_length >= 0 && req->content_length != cl) return fail(status, 400);
        req->content_length = cl;
      }
      break;
    case 17:
      if (eq_nocase(n, 17, "transfer-encoding")) {
        if (vl == 0) return fail(status, 400);
        /* Two lines mean "chunked, chunked" or a coding list: both 501. */
        hs->te_count++;
        hs->te_chunked = hs->te_count == 1 && eq_nocase(v, vl, "chunked");
      }
      break;
    default:
      break;
  }
  return 0;
}

/* Parses a head from buf[0..len) where len is already clipped to the byte
 * limit, so running out of bytes simply means VG_EAGAIN. Every early error
 * is one that no continuation of the bytes could repair. */
static int parse_head(const char *buf, size_t len, size_t max_headers, vg_http_request *req,
                      int *status) {
  const char *p = buf, *end = buf + len;
  head_state hs = {0};

  req->method = req->target = req->path = req->query = NULL;
  req->method_len = req->target_len = req->path_len = req->query_len = 0;
  req->version_minor = 1;
  req->num_headers = 0;
  req->header_bytes = 0;
  req->content_length = -1;
  req->chunked = req->keep_alive = req->upgrade_websocket = req->expect_continue = false;

  /* RFC 9112 2.2: ignore empty lines before the request-line (clients send
   * a stray CRLF after a POST body). */
  while (p < end && *p == '\r') {
    if (p + 1 == end) return VG_EAGAIN;
    if (p[1] != '\n') return fail(status, 400);
    p += 2;
  }

  /* method SP */
  const char *m = p;
  while (p < end && is_class(*p, C_TCHAR)) p++;
  if (p == end) return VG_EAGAIN;
  if (*p != ' ' || p == m) return fail(status, 400);
  req->method = m;
  req->method_len = (size_t)(p - m);

  /* request-target SP */
  const char *t = ++p;
  while (p < end && is_class(*p, C_TARGET)) p++;
  if (p == end) return VG_EAGAIN;
  if (*p != ' ' || p == t) return fail(status, 400);
  req->target = t;
  req->target_len = (size_t)(p - t);

  /* HTTP-version CRLF. Compare the prefix as it arrives so that a TLS
   * handshake or other junk on the plain port fails at once. */
  const char *v = ++p;
  while (p < end && is_class(*p, C_TARGET)) p++;
  size_t vlen = (size_t)(p - v);
  if (memcmp(v, "HTTP/", vlen < 5 ? vlen : 5) != 0) return fail(status, 400);
  if (p == end) return VG_EAGAIN;
  if (*p != '\r') return fail(status, 400);
  if (p + 1 == end) return VG_EAGAIN;
  if (p[1] != '\n') return fail(status, 400);
  int rc = parse_version(v, vlen, &req->version_minor, status);
  if (rc) return rc;
  rc = split_target(req, status);
  if (rc) return rc;
  p += 2;

  /* *( field-line CRLF ) CRLF */
  for (;;) {
    if (p == end) return VG_EAGAIN;
    if (*p == '\r') {
      if (p + 1 == end) return VG_EAGAIN;
      if (p[1] != '\n') return fail(status, 400);
      p += 2;
      break;
    }
    /* A line starting with whitespace is obs-fold (or whitespace before the
     * first field): RFC 9112 5.2 lets a server reject it, and we do. */
    const char *name = p;
    while (p < end && is_class(*p, C_TCHAR)) p++;
    if (p == end) return VG_EAGAIN;
    if (*p != ':' || p == name) return fail(status, 400);
    size_t name_len = (size_t)(p - name);
    p++;
    while (p < end && is_ows(*p)) p++;
    const char *value = p;
    while (p < end && is_class(*p, C_FIELD)) p++;
    if (p == end) return VG_EAGAIN;
    if (*p != '\r') return fail(status, 400); /* control byte or bare LF */
    if (p + 1 == end) return VG_EAGAIN;
    if (p[1] != '\n') return fail(status, 400); /* bare CR */
    const char *vend = p;
    while (vend > value && is_ows(vend[-1])) vend--;
    p += 2;

    if (req->num_headers >= max_headers) return fail(status, 431);
    vg_http_header *h = &req->headers[req->num_headers++];
    h->name = name;
    h->name_len = name_len;
    h->value = value;
    h->value_len = (size_t)(vend - value);
    rc = note_header(req, &hs, h, status);
    if (rc) return rc;
  }

  /* The whole head is here: settle framing. Content-Length with
   * Transfer-Encoding is the classic smuggling pair (RFC 9112 6.1), and
   * HTTP/1.0 has no transfer codings at all. */
  bool v11 = req->version_minor == 1;
  if (v11 && hs.host_count == 0) return fail(status, 400);
  if (hs.te_count) {
    if (!v11 || req->content_length >= 0) return fail(status, 400);
    if (!hs.te_chunked) return fail(status, 501);
    req->chunked = true;
  }
  req->keep_alive = v11 ? !hs.conn_close : hs.conn_keep_alive && !hs.conn_close;
  /* RFC 9110 7.8: Upgrade in an HTTP/1.0 request is ignored; so is Expect. */
  req->upgrade_websocket = v11 && hs.upgrade_ws && hs.conn_upgrade;
  req->expect_continue = v11 && hs.expect_continue;
  req->header_bytes = (size_t)(p - buf);
  return 0;
}

int vg_http_parse_request(const char *buf, size_t len, const vg_http_limits *lim,
                          vg_http_request *req, int *status) {
  int dummy;
  if (!status) status = &dummy;
  *status = 0;
  size_t max_bytes =
      lim && lim->max_header_bytes ? lim->max_header_bytes : DEFAULT_MAX_HEADER_BYTES;
  size_t max_headers = lim && lim->max_headers ? lim->max_headers : VG_HTTP_MAX_HEADERS;
  if (max_headers > VG_HTTP_MAX_HEADERS) max_headers = VG_HTTP_MAX_HEADERS;

  /* Looking only at the first max_bytes bytes makes "no complete head
   * within the limit" and "complete head longer than the limit" the same
   * case: the clipped parse wants more and no more is allowed. */
  int rc = parse_head(buf, len < max_bytes ? len : max_bytes, max_headers, req, status);
  if (rc == VG_EAGAIN && len >= max_bytes) return fail(status, 431);
  return rc;
}

const vg_http_header *vg_http_find_header(const vg_http_request *req, const char *name) {
  size_t n = strlen(name);
  for (size_t i = 0; i < req->num_headers; i++) {
    const vg_http_header *h = &req->headers[i];
    if (h->name_len == n && eq_nocase(h->name, n, name)) return h;
  }
  return NULL;
}

bool vg_http_header_has_token(const char *value, size_t len, const char *token) {
  const char *p = value, *end = value + len;
  while (p < end) {
    const char *e = memchr(p, ',', (size_t)(end - p));
    if (!e) e = end;
    const char *s = p;
    size_t n = (size_t)(e - p);
    trim_ows(&s, &n);
    if (n && eq_nocase(s, n, token)) return true;
    if (e == end) break;
    p = e + 1;
  }
  return false;
}

/* ---- chunked transfer coding ---------------------------------------------- */

enum {
  CH_SIZE = 0,   /* hex digits of chunk-size */
  CH_SIZE_WS,    /* BWS after the size; only ';' may follow */
  CH_EXT,        /* chunk extensions, skipped up to CR */
  CH_SIZE_LF,    /* LF ending the size line */
  CH_DATA,       /* chunk data, 'remaining' bytes left */
  CH_DATA_CR,    /* CR after the data */
  CH_DATA_LF,    /* LF after the data */
  CH_TRAILER,    /* start of a trailer line, or the final CRLF */
  CH_TRAILER_IN, /* inside a trailer line */
  CH_TRAILER_LF, /* LF ending a trailer line */
  CH_END_LF,     /* LF of the final empty line */
  CH_DONE,
  CH_ERR_PROTO,
  CH_ERR_BIG,
};

void vg_http_chunked_init(vg_http_chunked *c) {
  c->state = CH_SIZE;
  c->remaining = 0;
  c->line_bytes = 0;
  c->total = 0;
}

/* Byte-at-a-time state machine except for chunk data, which is moved in one
 * block. Every byte of input is consumed unless the body ends or an error
 * occurs, so the caller never has to keep a partial line around. In the
 * trailer states 'remaining' counts trailer bytes against CHUNK_TRAILERS_MAX.
 * out must have room for len bytes; decoding only ever shrinks. */
int vg_http_chunked_decode(vg_http_chunked *c, const char *in, size_t len, size_t *consumed,
                           char *out, size_t *produced, uint64_t max_body) {
  size_t i = 0, o = 0;
  int rc = VG_EAGAIN;

  if (c->state == CH_DONE) {
    rc = 0;
    goto out;
  }
  if (c->state == CH_ERR_PROTO || c->state == CH_ERR_BIG) {
    rc = c->state == CH_ERR_BIG ? VG_ETOOBIG : VG_EPROTO;
    goto out;
  }
  if (c->total > max_body) goto too_big;

  while (i < len) {
    char ch = in[i];
    switch (c->state) {
      case CH_SIZE: {
        int d = hexval(ch);
        if (d >= 0) {
          if (c->remaining > (UINT64_MAX >> 4)) goto too_big;
          c->remaining = (c->remaining << 4) | (uint64_t)d;
          if (c->remaining > max_body - c->total) goto too_big;
        } else if (c->line_bytes == 0) {
          goto proto; /* chunk-size = 1*HEXDIG */
        } else if (ch == '\r') {
          c->state = CH_SIZE_LF;
        } else if (ch == ';') {
          c->state = CH_EXT;
        } else if (is_ows(ch)) {
          c->state = CH_SIZE_WS;
        } else {
          goto proto;
        }
        break;
      }
      case CH_SIZE_WS:
        if (ch == ';') {
          c->state = CH_EXT;
        } else if (!is_ows(ch)) {
          goto proto;
        }
        break;
      case CH_EXT:
        if (ch == '\r') {
          c->state = CH_SIZE_LF;
        } else if (!is_class(ch, C_FIELD)) {
          goto proto;
        }
        break;
      case CH_SIZE_LF:
        if (ch != '\n') goto proto;
        c->line_bytes = 0;
        c->state = c->remaining ? CH_DATA : CH_TRAILER;
        i++;
        continue;
      case CH_DATA: {
        size_t n = len - i;
        if ((uint64_t)n > c->remaining) n = (size_t)c->remaining;
        if (out + o != in + i) memmove(out + o, in + i, n);
        o += n;
        i += n;
        c->remaining -= n;
        c->total += n;
        if (!c->remaining) c->state = CH_DATA_CR;
        continue;
      }
      case CH_DATA_CR:
        if (ch != '\r') goto proto;
        c->state = CH_DATA_LF;
        i++;
        continue;
      case CH_DATA_LF:
        if (ch != '\n') goto proto;
        c->state = CH_SIZE;
        i++;
        continue;
      case CH_TRAILER:
        if (ch == '\r') {
          c->state = CH_END_LF;
          i++;
          continue;
        }
        /* A trailer field line like a header line: no obs-fold. */
        if (!is_class(ch, C_TCHAR)) goto proto;
        c->state = CH_TRAILER_IN;
        break;
      case CH_TRAILER_IN:
        if (ch == '\r') {
          c->state = CH_TRAILER_LF;
        } else if (!is_class(ch, C_FIELD)) {
          goto proto;
        }
        break;
      case CH_TRAILER_LF:
        if (ch != '\n') goto proto;
        c->line_bytes = 0;
        c->state = CH_TRAILER;
        i++;
        continue;
      case CH_END_LF:
        if (ch != '\n') goto proto;
        c->state = CH_DONE;
        i++;
        rc = 0;
        goto out;
      default:
        goto proto;
    }
    /* Only line bytes reach here: bound each line, and trailers overall. */
    i++;
    if (++c->line_bytes > CHUNK_LINE_MAX) goto too_big;
    if (c->state >= CH_TRAILER && ++c->remaining > CHUNK_TRAILERS_MAX) goto too_big;
  }
  goto out;

proto:
  c->state = CH_ERR_PROTO;
  rc = VG_EPROTO;
  goto out;
too_big:
  c->state = CH_ERR_BIG;
  rc = VG_ETOOBIG;
out:
  if (consumed) *consumed = i;
  if (produced) *produced = o;
  return rc;
}

/* ---- values ---------------------------------------------------------------- */

int vg_http_url_decode(const char *src, size_t len, char *out, size_t outlen, bool plus_is_space) {
  if (!out || outlen == 0) return VG_EINVAL;
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)src[i];
    if (ch == '%') {
      int hi = i + 2 < len ? hexval(src[i + 1]) : -1;
      int lo = i + 2 < len ? hexval(src[i + 2]) : -1;
      if (hi < 0 || lo < 0) goto bad;
      ch = (unsigned char)(hi << 4 | lo);
      i += 2;
    } else if (ch == '+' && plus_is_space) {
      ch = ' ';
    }
    /* A NUL, raw or encoded, would silently cut the C string short. */
    if (ch == 0 || o + 1 >= outlen || o >= INT_MAX) goto bad;
    out[o++] = (char)ch;
  }
  out[o] = 0;
  return (int)o;
bad:
  out[0] = 0;
  return VG_EINVAL;
}

/* True when the still-encoded query key k[0..n) decodes to key. */
static bool query_key_is(const char *k, size_t n, const char *key) {
  size_t j = 0;
  for (size_t i = 0; i < n; i++, j++) {
    int ch = (unsigned char)k[i];
    if (ch == '%') {
      int hi = i + 2 < n ? hexval(k[i + 1]) : -1;
      int lo = i + 2 < n ? hexval(k[i + 2]) : -1;
      if (hi < 0 || lo < 0) return false;
      ch = hi << 4 | lo;
      i += 2;
    } else if (ch == '+') {
      ch = ' ';
    }
    if (!key[j] || (unsigned char)key[j] != ch) return false;
  }
  return key[j] == 0;
}

int vg_http_query_get(const char *query, size_t len, const char *key, char *out, size_t outlen) {
  if (!query) return VG_ENOTFOUND;
  const char *p = query, *end = query + len;
  while (p < end) {
    const char *e = memchr(p, '&', (size_t)(end - p));
    if (!e) e = end;
    const char *eq = memchr(p, '=', (size_t)(e - p));
    const char *kend = eq ? eq : e;
    if (kend > p && query_key_is(p, (size_t)(kend - p), key)) {
      const char *val = eq ? eq + 1 : e;
      return vg_http_url_decode(val, (size_t)(e - val), out, outlen, true);
    }
    if (e == end) break;
    p = e + 1;
  }
  return VG_ENOTFOUND;
}

int vg_http_cookie_get(const char *value, size_t len, const char *name, const char **val,
                       size_t *vlen) {
  if (!value) return VG_ENOTFOUND;
  size_t name_len = strlen(name);
  const char *p = value, *end = value + len;
  while (p < end) {
    const char *e = memchr(p, ';', (size_t)(end - p));
    if (!e) e = end;
    const char *eq = memchr(p, '=', (size_t)(e - p));
    if (eq) {
      const char *n = p, *v = eq + 1;
      size_t nl = (size_t)(eq - p), vl = (size_t)(e - v);
      trim_ows(&n, &nl);
      trim_ows(&v, &vl);
      /* Cookie names are case-sensitive (RFC 6265 5.3). */
      if (nl == name_len && nl && memcmp(n, name, nl) == 0) {
        *val = v;
        *vlen = vl;
        return 0;
      }
    }
    if (e == end) break;
    p = e + 1;
  }
  return VG_ENOTFOUND;
}

/* Reads 1*DIGIT at *p, saturating at UINT64_MAX: a position that large is
 * past any resource, which is what the caller decides anyway. */
static bool range_number(const char **p, const char *end, uint64_t *out) {
  const char *s = *p;
  uint64_t n = 0;
  while (*p < end && **p >= '0' && **p <= '9') {
    unsigned d = (unsigned)(**p - '0');
    n = n > (UINT64_MAX - d) / 10 ? UINT64_MAX : n * 10 + d;
    (*p)++;
  }
  *out = n;
  return *p > s;
}

int vg_http_parse_range(const char *value, size_t len, uint64_t size, uint64_t *start,
                        uint64_t *end) {
  const char *v = value;
  size_t n = len;
  if (!v) return VG_ENOTFOUND;
  trim_ows(&v, &n);
  if (n < 6 || !eq_nocase(v, 6, "bytes=")) return VG_ENOTFOUND;
  v += 6;
  n -= 6;
  /* Serving multipart/byteranges is not worth it for video seeking; RFC
   * 9110 14.2 lets a server ignore Range and send the whole resource. */
  if (memchr(v, ',', n)) return VG_ENOTFOUND;
  trim_ows(&v, &n);
  const char *p = v, *e = v + n;
  uint64_t a = 0, b = 0;
  bool has_a = range_number(&p, e, &a);
  if (p == e || *p != '-') return VG_ENOTFOUND;
  p++;
  bool has_b = range_number(&p, e, &b);
  if (p != e || (!has_a && !has_b)) return VG_ENOTFOUND;

  if (!has_a) { /* suffix: the last b bytes */
    if (b == 0 || size == 0) return VG_EINVAL;
    *start = b >= size ? 0 : size - b;
    *end = size - 1;
    return 0;
  }
  if (has_b && b < a) return VG_ENOTFOUND; /* invalid, so ignored (RFC 9110 14.1.1) */
  if (a >= size) return VG_EINVAL;
  *start = a;
  *end = !has_b || b >= size ? size - 1 : b;
  return 0;
}

const char *vg_http_reason(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Range Not Satisfiable";
    case 417:
      return "Expectation Failed";
    case 422:
      return "Unprocessable Content";
    case 426:
      return "Upgrade Required";
    case 428:
      return "Precondition Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}
