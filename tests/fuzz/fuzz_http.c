/* fuzz_http.c - libFuzzer target for the request-head parser.
 *
 * Beyond "does not crash", it checks what the server relies on: a parsed
 * head lies inside the bytes given, ends with the blank line, parses the
 * same from exactly its own bytes, and every shorter prefix only asks for
 * more. Errors always carry one of the statuses the header promises. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "net/http_parser.h"

#define CHECK(cond)                                                                \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      abort();                                                                     \
    }                                                                              \
  } while (0)

static bool within(const char *p, size_t n, const char *buf, size_t len) {
  return p >= buf && n <= len && p - buf <= (ptrdiff_t)(len - n);
}

static bool has_ctl(const char *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    if ((c < 0x20 && c != '\t') || c == 0x7f) return true;
  }
  return false;
}

/* Exercises the value helpers on a parsed request. */
static void poke_values(const vg_http_request *req) {
  char out[64];
  if (req->query) {
    int rc = vg_http_query_get(req->query, req->query_len, "a", out, sizeof(out));
    CHECK(rc == VG_ENOTFOUND || rc == VG_EINVAL || (rc >= 0 && (size_t)rc < sizeof(out)));
  }
  int rc = vg_http_url_decode(req->path, req->path_len, out, sizeof(out), false);
  CHECK(rc == VG_EINVAL || (rc >= 0 && (size_t)rc <= req->path_len && out[rc] == 0));

  const vg_http_header *h = vg_http_find_header(req, "cookie");
  if (h) {
    const char *val;
    size_t vlen;
    if (vg_http_cookie_get(h->value, h->value_len, "session", &val, &vlen) == 0)
      CHECK(within(val, vlen, h->value, h->value_len));
  }
  h = vg_http_find_header(req, "range");
  if (h) {
    uint64_t sizes[] = {0, 1, 1000, UINT64_MAX};
    for (size_t i = 0; i < 4; i++) {
      uint64_t s, e;
      rc = vg_http_parse_range(h->value, h->value_len, sizes[i], &s, &e);
      CHECK(rc == 0 || rc == VG_EINVAL || rc == VG_ENOTFOUND);
      if (rc == 0) CHECK(s <= e && e < sizes[i]);
    }
  }
}

static void check_one(const char *buf, size_t len, const vg_http_limits *lim) {
  vg_http_request req;
  int status = -1;
  int rc = vg_http_parse_request(buf, len, lim, &req, &status);
  if (rc == VG_EAGAIN) {
    CHECK(len < lim->max_header_bytes);
    return;
  }
  if (rc != 0) {
    CHECK(rc == VG_EPROTO || rc == VG_ETOOBIG);
    CHECK((rc == VG_ETOOBIG) == (status == 431));
    CHECK(status == 400 || status == 431 || status == 501 || status == 505);
    return;
  }

  size_t hb = req.header_bytes;
  CHECK(status == 0);
  CHECK(hb >= 16 && hb <= len && hb <= lim->max_header_bytes);
  CHECK(memcmp(buf + hb - 4, "\r\n\r\n", 4) == 0);
  CHECK(req.method_len > 0 && within(req.method, req.method_len, buf, hb));
  CHECK(req.target_len > 0 && within(req.target, req.target_len, buf, hb));
  CHECK(within(req.path, req.path_len, req.target, req.target_len));
  if (req.query) {
    CHECK(within(req.query, req.query_len, req.target, req.target_len));
    CHECK(req.query[-1] == '?');
  }
  CHECK(!has_ctl(req.target, req.target_len) && !memchr(req.target, ' ', req.target_len));
  CHECK(req.version_minor == 0 || req.version_minor == 1);
  CHECK(req.num_headers <= lim->max_headers && req.num_headers <= VG_HTTP_MAX_HEADERS);
  CHECK(req.content_length >= -1);
  CHECK(!(req.chunked && req.content_length >= 0));
  CHECK(!req.chunked || req.version_minor == 1);
  CHECK(req.version_minor == 0 || vg_http_find_header(&req, "host"));
  for (size_t i = 0; i < req.num_headers; i++) {
    const vg_http_header *h = &req.headers[i];
    CHECK(h->name_len > 0 && within(h->name, h->name_len, buf, hb));
    CHECK(within(h->value, h->value_len, buf, hb));
    CHECK(!memchr(h->name, ':', h->name_len) && !memchr(h->name, ' ', h->name_len));
    CHECK(!has_ctl(h->value, h->value_len));
    if (h->value_len) {
      CHECK(h->value[0] != ' ' && h->value[0] != '\t');
      CHECK(h->value[h->value_len - 1] != ' ' && h->value[h->value_len - 1] != '\t');
    }
    CHECK(vg_http_find_header(&req, "x") != h || h->name_len == 1);
    (void)vg_http_header_has_token(h->value, h->value_len, "close");
  }
  poke_values(&req);

  /* No look-ahead: the head's own bytes parse the same, and its prefixes
   * only ever ask for more. */
  vg_http_request again;
  CHECK(vg_http_parse_request(buf, hb, lim, &again, &status) == 0);
  CHECK(again.header_bytes == hb && again.num_headers == req.num_headers);
  CHECK(again.content_length == req.content_length && again.keep_alive == req.keep_alive);
  CHECK(vg_http_parse_request(buf, hb - 1, lim, &again, &status) == VG_EAGAIN);
  CHECK(vg_http_parse_request(buf, hb / 2, lim, &again, &status) == VG_EAGAIN);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *buf = (const char *)data;
  vg_http_limits big = {.max_header_bytes = 8192, .max_headers = VG_HTTP_MAX_HEADERS};
  vg_http_limits small = {.max_header_bytes = 200, .max_headers = 3};
  check_one(buf, size, &big);
  check_one(buf, size, &small);
  return 0;
}
