/* http_parser.h - HTTP/1.1 request parsing as pure functions over a buffer.
 *
 * Nothing here does I/O or allocates: the server hands the bytes it has, the
 * parser answers "complete", "need more" or "malformed, answer with status
 * N". The parsed request points into the caller's buffer, which must stay
 * unchanged while the request is in use. Unit tests and the fuzz target call
 * these functions directly. */
#ifndef VG_HTTP_PARSER_H
#define VG_HTTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VG_HTTP_MAX_HEADERS 64

typedef struct vg_http_header {
  const char *name;
  size_t name_len;
  const char *value; /* leading and trailing spaces/tabs trimmed */
  size_t value_len;
} vg_http_header;

typedef struct vg_http_request {
  const char *method;
  size_t method_len;
  const char *target; /* the raw request-target */
  size_t target_len;
  const char *path; /* target up to '?' (still percent-encoded) */
  size_t path_len;
  const char *query; /* after '?', without it; NULL when absent */
  size_t query_len;
  int version_minor; /* HTTP/1.0 -> 0, HTTP/1.1 -> 1 */
  vg_http_header headers[VG_HTTP_MAX_HEADERS];
  size_t num_headers;
  size_t header_bytes;    /* bytes of the head, including the blank line */
  int64_t content_length; /* -1 when no Content-Length */
  bool chunked;           /* Transfer-Encoding: chunked */
  bool keep_alive;        /* from version and Connection */
  bool upgrade_websocket; /* Upgrade: websocket and Connection: upgrade */
  bool expect_continue;   /* Expect: 100-continue */
} vg_http_request;

typedef struct vg_http_limits {
  size_t max_header_bytes; /* request line + headers; past it -> 431 */
  size_t max_headers;      /* at most VG_HTTP_MAX_HEADERS; past it -> 431 */
} vg_http_limits;

/* Parses one request head from buf[0..len).
 * Returns 0 when a complete head was parsed (req filled, req->header_bytes
 * is what it used), VG_EAGAIN when more bytes are needed (and the limit is
 * not reached yet), or a negative error with *status set to the HTTP status
 * to answer: 400 malformed, 431 head too large or too many headers, 501
 * unsupported transfer coding, 505 unsupported version, 413 is never set
 * here (bodies are the caller's). Content-Length together with chunked, two
 * differing Content-Lengths, obs-fold, bare CR, control characters and
 * invalid token characters are all 400. */
int vg_http_parse_request(const char *buf, size_t len, const vg_http_limits *lim,
                          vg_http_request *req, int *status);

/* Case-insensitive header lookup; NULL when absent. */
const vg_http_header *vg_http_find_header(const vg_http_request *req, const char *name);

/* True when a comma-separated header value holds token (case-insensitive). */
bool vg_http_header_has_token(const char *value, size_t len, const char *token);

/* Incremental chunked transfer-coding decoder. */
typedef struct vg_http_chunked {
  int state;
  uint64_t remaining; /* bytes left in the current chunk */
  size_t line_bytes;  /* bytes of the current size or trailer line */
  uint64_t total;     /* decoded bytes so far */
} vg_http_chunked;

void vg_http_chunked_init(vg_http_chunked *c);
/* Decodes from in[0..len) into out (which may equal in: decoding never
 * writes ahead of reading). Sets *consumed and *produced. Returns 0 when
 * the last chunk and trailers are complete, VG_EAGAIN when more input is
 * needed, VG_EPROTO when malformed, VG_ETOOBIG when the decoded total would
 * pass max_body or a size/trailer line is absurdly long. */
int vg_http_chunked_decode(vg_http_chunked *c, const char *in, size_t len, size_t *consumed,
                           char *out, size_t *produced, uint64_t max_body);

/* Percent-decodes src into out (NUL-terminated); '+' becomes ' ' when
 * plus_is_space. Returns the decoded length or VG_EINVAL for a bad escape,
 * an encoded NUL or output longer than outlen-1. */
int vg_http_url_decode(const char *src, size_t len, char *out, size_t outlen, bool plus_is_space);

/* Finds key in an application/x-www-form-urlencoded query and decodes its
 * value into out. Returns the length, VG_ENOTFOUND or VG_EINVAL. */
int vg_http_query_get(const char *query, size_t len, const char *key, char *out, size_t outlen);

/* Finds a cookie by name in a Cookie header value; sets *val and *vlen to point
 * into value. Returns 0 or VG_ENOTFOUND. */
int vg_http_cookie_get(const char *value, size_t len, const char *name, const char **val,
                       size_t *vlen);

/* Parses a single "bytes=a-b", "bytes=a-" or "bytes=-n" Range against a
 * resource of size bytes. Returns 0 with the inclusive [*start, *end],
 * VG_ENOTFOUND when the header should be ignored (multiple ranges, other
 * units, syntax errors), VG_EINVAL when unsatisfiable (-> 416). */
int vg_http_parse_range(const char *value, size_t len, uint64_t size, uint64_t *start,
                        uint64_t *end);

/* Reason phrase for a status code ("Not Found"). */
const char *vg_http_reason(int status);

#endif
