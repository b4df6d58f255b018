/* test_http_parser.c - request heads, chunked bodies and value grammars as a
 * client would send them: what parses, what is refused and with which
 * status. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "net/http_parser.h"

static const vg_http_limits LIM = {.max_header_bytes = 8192, .max_headers = 64};

/* The request points into the parsed bytes, so the copy lives until the
 * next parse or the end of the test. */
static char *last_copy;

static void free_last_copy(void) {
  free(last_copy);
  last_copy = NULL;
}

TestSuite(http_parser, .fini = free_last_copy);

/* Parses s from a heap copy of exactly its length, so ASan catches any read
 * past the bytes the server actually has. */
static int parse_n(const char *s, size_t n, const vg_http_limits *lim, vg_http_request *req,
                   int *status) {
  free_last_copy();
  last_copy = malloc(n ? n : 1);
  memcpy(last_copy, s, n);
  *status = 0;
  return vg_http_parse_request(last_copy, n, lim, req, status);
}

static int parse(const char *s, vg_http_request *req, int *status) {
  return parse_n(s, strlen(s), &LIM, req, status);
}

/* Asserts the request is refused with the given status. */
static void expect_status(const char *s, size_t n, int want) {
  vg_http_request req;
  int status = 0;
  int rc = parse_n(s, n, &LIM, &req, &status);
  cr_assert(rc < 0 && rc != VG_EAGAIN, "rc=%d for %s", rc, s);
  cr_assert_eq(status, want, "status=%d want %d for %s", status, want, s);
}

#define STATUS(s, code) expect_status(s, sizeof(s) - 1, code)
#define BAD(s) STATUS(s, 400)

static bool field_is(const char *p, size_t n, const char *want) {
  return p && n == strlen(want) && memcmp(p, want, n) == 0;
}

/* ---- valid requests ---------------------------------------------------- */

Test(http_parser, simple_get) {
  const char *s =
      "GET /api/v1/rooms?limit=10&x=y HTTP/1.1\r\nHost: vigil.local\r\n"
      "User-Agent:  curl/8.0 \t\r\nAccept: */*\r\n\r\n";
  vg_http_request req;
  int status;
  cr_assert_eq(parse(s, &req, &status), 0);
  cr_assert(field_is(req.method, req.method_len, "GET"));
  cr_assert(field_is(req.target, req.target_len, "/api/v1/rooms?limit=10&x=y"));
  cr_assert(field_is(req.path, req.path_len, "/api/v1/rooms"));
  cr_assert(field_is(req.query, req.query_len, "limit=10&x=y"));
  cr_assert_eq(req.version_minor, 1);
  cr_assert_eq(req.num_headers, 3);
  cr_assert_eq(req.header_bytes, strlen(s));
  cr_assert_eq(req.content_length, -1);
  cr_assert(!req.chunked);
  cr_assert(req.keep_alive);
  cr_assert(!req.upgrade_websocket);
  cr_assert(!req.expect_continue);
  const vg_http_header *ua = vg_http_find_header(&req, "user-agent");
  cr_assert_not_null(ua);
  cr_assert(field_is(ua->value, ua->value_len, "curl/8.0"), "value trimmed");
  cr_assert_null(vg_http_find_header(&req, "cookie"));
}

Test(http_parser, post_with_body_leaves_body) {
  const char *s =
      "POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 13\r\n\r\n{\"a\":\"b\"}1234";
  vg_http_request req;
  int status;
  cr_assert_eq(parse(s, &req, &status), 0);
  cr_assert(field_is(req.method, req.method_len, "POST"));
  cr_assert_eq(req.content_length, 13);
  cr_assert_eq(req.header_bytes, strlen(s) - 13);
  cr_assert_null(req.query);
}

Test(http_parser, empty_query_and_empty_header_value) {
  vg_http_request req;
  int status;
  cr_assert_eq(parse("GET /a? HTTP/1.1\r\nHost: x\r\nX-Empty:\r\nX-Sp:   \r\n\r\n", &req, &status),
               0);
  cr_assert(field_is(req.path, req.path_len, "/a"));
  cr_assert_not_null(req.query);
  cr_assert_eq(req.query_len, 0);
  cr_assert_eq(req.headers[1].value_len, 0);
  cr_assert_eq(req.headers[2].value_len, 0);
}

Test(http_parser, http10_without_host) {
  vg_http_request req;
  int status;
  cr_assert_eq(parse("GET / HTTP/1.0\r\n\r\n", &req, &status), 0);
  cr_assert_eq(req.version_minor, 0);
  cr_assert(!req.keep_alive);
}

Test(http_parser, keep_alive_rules) {
  vg_http_request req;
  int status;
  cr_assert_eq(parse("GET / HTTP/1.1\r\nHost: x\r\n\r\n", &req, &status), 0);
  cr_assert(req.keep_alive);
  cr_assert_eq(parse("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &req, &status), 0);
  cr_assert(!req.keep_alive);
  cr_assert_eq(parse("GET / HTTP/1.1\r\nHost: x\r\nConnection: foo, CLOSE\r\n\r\n", &req, &status),
               0);
  cr_assert(!req.keep_alive);
  cr_assert_eq(parse("GET / HTTP/1.1\r\nHost: x\r\nConnection: closed\r\n\r\n", &req, &status), 0);
  cr_assert(req.keep_alive, "closed is not the token close");
  cr_assert_eq(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &req, &status), 0);
  cr_assert(req.keep_alive);
  cr_assert_eq(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &req, &status), 0);
  cr_assert(req.keep_alive);
  cr_assert_eq(parse("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", &req, &status), 0);
  cr_assert(!req.keep_alive);
  cr_assert_eq(parse("GET / HTTP/1.0\r\n\r\n", &req, &status), 0);
  cr_assert(!req.keep_alive);
  cr_assert_eq(
      parse("GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n",
            &req, &status),
      0);
  cr_assert(!req.keep_alive, "every Connection line counts");
}

Test(http_parser, websocket_upgrade) {
  vg_http_request req;
  int status;
  cr_assert_eq(parse("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\n"
                     "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     &req, &status),
               0);
  cr_assert(req.upgrade_websocket);
  cr_assert_eq(parse("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n", &req, &status),
               0);
  cr_assert(!req.upgrade_websocket, "needs Connection: upgrade");
  cr_assert_eq(parse("GET /ws HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\n\r\n", &req, &status),
               0);
  cr_assert(!req.upgrade_websocket, "needs Upgrade: websocket");
  cr_assert_eq(
      parse("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websockets\r\nConnection: upgrade\r\n\r\n",
            &req, &status),
      0);
  cr_assert(!req.upgrade_websocket, "token, not substring");
  cr_assert_eq(
      parse("GET /ws HTTP/1.0\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n", &req, &status),
      0);
  cr_assert(!req.upgrade_websocket, "HTTP/1.0 Upgrade is ignored");
}

Test(http_parser, expect_continue) {
  vg_http_request req;
  int status;
  cr_assert_eq(
      parse("PUT /f HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 5\r\n\r\n", &req,
            &status),
      0);
  cr_assert(req.expect_continue);
  cr_assert_eq(
      parse("PUT /f HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", &req, &status),
      0);
  cr_assert(!req.expect_continue);
}

Test(http_parser, chunked_request) {
  vg_http_request req;
  int status;
  cr_assert_eq(
      parse("POST /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n", &req, &status), 0);
  cr_assert(req.chunked);
  cr_assert_eq(req.content_length, -1);
}

Test(http_parser, same_content_length_twice_is_fine) {
  vg_http_request req;
  int status;
  cr_assert_eq(
      parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\nContent-Length: 007\r\n\r\n", &req,
            &status),
      0);
  cr_assert_eq(req.content_length, 7);
  cr_assert_eq(parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 9223372036854775807\r\n\r\n",
                     &req, &status),
               0);
  cr_assert_eq(req.content_length, INT64_MAX);
}

Test(http_parser, target_forms) {
  vg_http_request req;
  int status;
  cr_assert_eq(parse("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", &req, &status), 0);
  cr_assert(field_is(req.path, req.path_len, "*"));
  cr_assert_eq(
      parse("GET http://vigil.local:8080/a/b?c=d HTTP/1.1\r\nHost: vigil.local:8080\r\n\r\n", &req,
            &status),
      0);
  cr_assert(field_is(req.target, req.target_len, "http://vigil.local:8080/a/b?c=d"));
  cr_assert(field_is(req.path, req.path_len, "/a/b"));
  cr_assert(field_is(req.query, req.query_len, "c=d"));
  cr_assert_eq(parse("GET HTTPS://[::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n", &req, &status),
               0);
  cr_assert_eq(req.path_len, 0);
  cr_assert_eq(parse("GET //double HTTP/1.1\r\nHost: x\r\n\r\n", &req, &status), 0);
  cr_assert_eq(parse("GET /a|b^c{d}?q=`x` HTTP/1.1\r\nHost: x\r\n\r\n", &req, &status), 0);
}

Test(http_parser, leading_empty_lines_are_skipped) {
  vg_http_request req;
  int status;
  const char *s = "\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n";
  cr_assert_eq(parse(s, &req, &status), 0);
  cr_assert(field_is(req.method, req.method_len, "GET"));
  cr_assert_eq(req.header_bytes, strlen(s));
}

Test(http_parser, pipelined_requests) {
  const char *s =
      "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
      "GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  vg_http_request req;
  int status;
  cr_assert_eq(parse(s, &req, &status), 0);
  cr_assert(field_is(req.path, req.path_len, "/a"));
  size_t next = req.header_bytes + (size_t)req.content_length;
  cr_assert_eq(parse(s + next, &req, &status), 0);
  cr_assert(field_is(req.path, req.path_len, "/b"));
  cr_assert(!req.keep_alive);
  cr_assert_eq(next + req.header_bytes, strlen(s));
}

Test(http_parser, every_prefix_needs_more) {
  const char *reqs[] = {
      "GET /api/v1/rooms?x=1 HTTP/1.1\r\nHost: vigil.local\r\nConnection: keep-alive\r\n"
      "Cookie: a=b; session=123\r\nX-Tab:\tv\t\r\n\r\n",
      "\r\nPOST http://h/x HTTP/1.0\r\nContent-Length: 10\r\n\r\n",
      "OPTIONS * HTTP/1.1\r\nHost: \r\nTransfer-Encoding: chunked\r\n\r\n",
  };
  for (size_t r = 0; r < sizeof(reqs) / sizeof(reqs[0]); r++) {
    size_t n = strlen(reqs[r]);
    vg_http_request req;
    int status;
    for (size_t i = 0; i < n; i++) {
      int rc = parse_n(reqs[r], i, &LIM, &req, &status);
      cr_assert_eq(rc, VG_EAGAIN, "request %zu prefix %zu: rc=%d status=%d", r, i, rc, status);
    }
    cr_assert_eq(parse_n(reqs[r], n, &LIM, &req, &status), 0, "request %zu", r);
    cr_assert_eq(req.header_bytes, n);
  }
}

Test(http_parser, head_at_exact_limit_is_accepted) {
  const char *s = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  size_t n = strlen(s);
  vg_http_limits lim = {.max_header_bytes = n, .max_headers = 4};
  vg_http_request req;
  int status;
  cr_assert_eq(parse_n(s, n, &lim, &req, &status), 0);
  lim.max_header_bytes = n - 1;
  cr_assert_eq(parse_n(s, n, &lim, &req, &status), VG_ETOOBIG);
  cr_assert_eq(status, 431);
}

/* ---- refused requests -------------------------------------------------- */

Test(http_parser, bad_request_line) {
  BAD("G@T / HTTP/1.1\r\nHost: x\r\n\r\n");
  BAD("GE(T / HTTP/1.1\r\nHost: x\r\n\r\n");
  BAD(" GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  BAD("GET  / HTTP/1.1\r\nHost: x\r\n\r\n");
  BAD("GET /  HTTP/1.1\r\nHost: x\r\n\r\n");
  BAD("GET\t/ HTTP/1.1\r\nHost: x\r\n\r\n");
  BAD("GET / \r\nHost: x\r\n\r\n");
  BAD("GET /\r\nHost: x\r\n\r\n");
  BAD("GET / HTTP/1.1 \r\nHost: x\r\n\r\n");
  BAD("\r\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
  BAD("\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
}

Test(http_parser, bad_version) {
  BAD("GET / http/1.1\r\nHost: x\r\n\r\n");
  BAD("GET / HTTP/1.\r\nHost: x\r\n\r\n");
  BAD("GET / HTTP/1.1x\r\nHost: x\r\n\r\n");
  BAD("GET / HTTP/\r\nHost: x\r\n\r\n");
  BAD("GET / HTTP/a.b\r\nHost: x\r\n\r\n");
  BAD("GET / HTTP/1..1\r\nHost: x\r\n\r\n");
  BAD("GET / HTTPS/1.1\r\nHost: x\r\n\r\n");
  BAD("GET / FOO\r\nHost: x\r\n\r\n");
}

Test(http_parser, unsupported_version_is_505) {
  STATUS("GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505);
  STATUS("GET / HTTP/9\r\n\r\n", 505);
  STATUS("GET / HTTP/1.2\r\nHost: x\r\n\r\n", 505);
  STATUS("GET / HTTP/0.9\r\n\r\n", 505);
  STATUS("GET / HTTP/10.0\r\n\r\n", 505);
}

Test(http_parser, bad_target) {
  BAD("GET foo HTTP/1.1\r\nHost: x\r\n\r\n");
  BAD("GET * HTTP/1.1\r\nHost: x\r\n\r\n");
  BAD("OPTIONS *x HTTP/1.1\r\nHost: x\r\n\r\n");
  BAD("GET /a#frag HTTP/1.1\r\nHost: x\r\n\r\n");
  BAD("GET /a\x7f HTTP/1.1\r\nHost: x\r\n\r\n");
  BAD("GET /\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n");
  BAD("GET /a\x01 HTTP/1.1\r\nHost: x\r\n\r\n");
  BAD("GET ftp://h/ HTTP/1.1\r\nHost: x\r\n\r\n");
  BAD("GET http:///x HTTP/1.1\r\nHost: x\r\n\r\n");
  BAD("GET http://user@evil/ HTTP/1.1\r\nHost: x\r\n\r\n");
  BAD("CONNECT vigil.local:443 HTTP/1.1\r\nHost: vigil.local:443\r\n\r\n");
  BAD("GET /a\0b HTTP/1.1\r\nHost: x\r\n\r\n");
}

Test(http_parser, bad_header_names) {
  BAD("GET / HTTP/1.1\r\nHost : x\r\n\r\n");
  BAD("GET / HTTP/1.1\r\nHost: x\r\nX Y: z\r\n\r\n");
  BAD("GET / HTTP/1.1\r\nHost: x\r\n: z\r\n\r\n");
  BAD("GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n");
  BAD("GET / HTTP/1.1\r\nHost: x\r\nX(y): z\r\n\r\n");
  BAD("GET / HTTP/1.1\r\nHost: x\r\nX\x01: z\r\n\r\n");
  BAD("GET / HTTP/1.1\r\nHost: x\r\nX\xff: z\r\n\r\n");
}

Test(http_parser, obs_fold_and_leading_whitespace) {
  BAD("GET / HTTP/1.1\r\nHost: x\r\nX-A: one\r\n two\r\n\r\n");
  BAD("GET / HTTP/1.1\r\nHost: x\r\nX-A: one\r\n\ttwo\r\n\r\n");
  BAD("GET / HTTP/1.1\r\n Host: x\r\n\r\n");
}

Test(http_parser, control_bytes_in_values) {
  BAD("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n");
  BAD("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x7f\r\n\r\n");
  BAD("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x1b[0m\r\n\r\n");
  BAD("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x0b\r\n\r\n");
}

Test(http_parser, bare_cr_and_bare_lf) {
  BAD("GET / HTTP/1.1\rHost: x\r\n\r\n");
  BAD("GET / HTTP/1.1\r\nHost: x\rX: y\r\n\r\n");
  BAD("GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n");
  BAD("GET / HTTP/1.1\r\nHost: x\r\n\rX\r\n");
  BAD("GET / HTTP/1.1\nHost: x\n\n");
  BAD("GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n");
  BAD("GET / HTTP/1.1\r\nHost: x\r\n\n");
}

Test(http_parser, host_rules) {
  BAD("GET / HTTP/1.1\r\n\r\n");
  BAD("GET / HTTP/1.1\r\nX-Host: x\r\n\r\n");
  BAD("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n");
  BAD("GET / HTTP/1.1\r\nHost: a b\r\n\r\n");
  BAD("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n");
  BAD("GET / HTTP/1.1\r\nHost: user@a\r\n\r\n");
}

Test(http_parser, content_length_rules) {
  BAD("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n");
  BAD("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n");
  BAD("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\n");
  BAD("POST / HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n");
  BAD("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1 2\r\n\r\n");
  BAD("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x10\r\n\r\n");
  BAD("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\n");
  BAD("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 9223372036854775808\r\n\r\n");
  BAD("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n");
  BAD("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n");
}

Test(http_parser, transfer_encoding_rules) {
  BAD("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n");
  BAD("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n");
  BAD("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n");
  BAD("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n\r\n");
  const char *te501[] = {
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
      "chunked\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunkedx\r\n\r\n",
  };
  for (size_t i = 0; i < sizeof(te501) / sizeof(te501[0]); i++)
    expect_status(te501[i], strlen(te501[i]), 501);
}

Test(http_parser, too_many_headers) {
  char s[4096];
  size_t n = (size_t)snprintf(s, sizeof(s), "GET / HTTP/1.1\r\nHost: x\r\n");
  for (int i = 0; i < 9; i++) n += (size_t)snprintf(s + n, sizeof(s) - n, "X-%d: v\r\n", i);
  n += (size_t)snprintf(s + n, sizeof(s) - n, "\r\n");
  vg_http_limits lim = {.max_header_bytes = 8192, .max_headers = 10};
  vg_http_request req;
  int status;
  cr_assert_eq(parse_n(s, n, &lim, &req, &status), 0, "exactly 10 headers");
  lim.max_headers = 9;
  cr_assert_eq(parse_n(s, n, &lim, &req, &status), VG_ETOOBIG);
  cr_assert_eq(status, 431);

  /* A limit past the array size is capped at VG_HTTP_MAX_HEADERS. */
  n = (size_t)snprintf(s, sizeof(s), "GET / HTTP/1.1\r\nHost: x\r\n");
  for (int i = 0; i < VG_HTTP_MAX_HEADERS; i++)
    n += (size_t)snprintf(s + n, sizeof(s) - n, "X-%d: v\r\n", i);
  n += (size_t)snprintf(s + n, sizeof(s) - n, "\r\n");
  lim.max_headers = 1000;
  cr_assert_eq(parse_n(s, n, &lim, &req, &status), VG_ETOOBIG);
  cr_assert_eq(status, 431);
}

Test(http_parser, oversized_head_is_431) {
  size_t big = 10000;
  char *s = malloc(big + 64);
  size_t n = (size_t)sprintf(s, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ");
  memset(s + n, 'a', big);
  n += big;
  vg_http_request req;
  int status;
  /* Incomplete, and already at the limit. */
  cr_assert_eq(parse_n(s, n, &LIM, &req, &status), VG_ETOOBIG);
  cr_assert_eq(status, 431);
  /* Complete, but longer than the limit. */
  memcpy(s + n, "\r\n\r\n", 4);
  cr_assert_eq(parse_n(s, n + 4, &LIM, &req, &status), VG_ETOOBIG);
  cr_assert_eq(status, 431);
  /* A long request-target counts the same. */
  n = (size_t)sprintf(s, "GET /");
  memset(s + n, 'a', big);
  cr_assert_eq(parse_n(s, n + big, &LIM, &req, &status), VG_ETOOBIG);
  cr_assert_eq(status, 431);
  free(s);
}

Test(http_parser, junk_fails_fast) {
  vg_http_request req;
  int status;
  /* The first bytes of a TLS ClientHello on the plain port. */
  cr_assert_eq(parse_n("\x16\x03\x01", 3, &LIM, &req, &status), VG_EPROTO);
  cr_assert_eq(status, 400);
  cr_assert_eq(parse_n("GET / XTTP", 10, &LIM, &req, &status), VG_EPROTO);
  cr_assert_eq(parse_n("GET / HT", 8, &LIM, &req, &status), VG_EAGAIN);
  cr_assert_eq(parse_n("", 0, &LIM, &req, &status), VG_EAGAIN);
}

Test(http_parser, null_limits_use_defaults) {
  vg_http_request req;
  int status;
  const char *s = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  cr_assert_eq(vg_http_parse_request(s, strlen(s), NULL, &req, &status), 0);
  cr_assert_eq(vg_http_parse_request(s, strlen(s), NULL, &req, NULL), 0);
}

Test(http_parser, header_has_token) {
  const char *v = "keep-alive ,\tUpgrade, , foo";
  cr_assert(vg_http_header_has_token(v, strlen(v), "upgrade"));
  cr_assert(vg_http_header_has_token(v, strlen(v), "KEEP-ALIVE"));
  cr_assert(vg_http_header_has_token(v, strlen(v), "foo"));
  cr_assert(!vg_http_header_has_token(v, strlen(v), "fo"));
  cr_assert(!vg_http_header_has_token(v, strlen(v), "keep"));
  cr_assert(!vg_http_header_has_token("", 0, "x"));
  cr_assert(!vg_http_header_has_token(",,", 2, ""));
}

/* ---- chunked bodies ---------------------------------------------------- */

static const char CHUNKED[] =
    "5\r\nhello\r\n6;name=value;q=\"a b\"\r\n world\r\n"
    "1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Sum: 1\r\nX-T: 2\r\n\r\n";
static const char DECODED[] = "hello worldabcdefghijklmnopqrstuvwxyz";

Test(http_chunked, one_shot) {
  vg_http_chunked c;
  vg_http_chunked_init(&c);
  char out[sizeof(CHUNKED)];
  size_t consumed, produced;
  size_t n = sizeof(CHUNKED) - 1;
  cr_assert_eq(vg_http_chunked_decode(&c, CHUNKED, n, &consumed, out, &produced, 1000), 0);
  cr_assert_eq(consumed, n);
  cr_assert_eq(produced, sizeof(DECODED) - 1);
  cr_assert_eq(memcmp(out, DECODED, produced), 0);
  cr_assert_eq(c.total, produced);
  /* Once done, it stays done and takes nothing more. */
  cr_assert_eq(vg_http_chunked_decode(&c, "x", 1, &consumed, out, &produced, 1000), 0);
  cr_assert_eq(consumed, 0);
  cr_assert_eq(produced, 0);
}

Test(http_chunked, split_at_every_offset_in_place) {
  size_t n = sizeof(CHUNKED) - 1;
  for (size_t cut = 0; cut <= n; cut++) {
    char buf[sizeof(CHUNKED)];
    memcpy(buf, CHUNKED, n);
    vg_http_chunked c;
    vg_http_chunked_init(&c);
    char got[sizeof(DECODED) + 8];
    size_t got_len = 0, consumed, produced;
    int rc = vg_http_chunked_decode(&c, buf, cut, &consumed, buf, &produced, 1000);
    if (cut < n) {
      cr_assert_eq(rc, VG_EAGAIN, "cut %zu", cut);
      cr_assert_eq(consumed, cut);
    }
    if (cut == n) cr_assert_eq(rc, 0);
    memcpy(got, buf, produced);
    got_len = produced;
    if (cut < n) {
      rc = vg_http_chunked_decode(&c, buf + cut, n - cut, &consumed, buf + cut, &produced, 1000);
      cr_assert_eq(rc, 0, "cut %zu", cut);
      cr_assert_eq(consumed, n - cut);
      memcpy(got + got_len, buf + cut, produced);
      got_len += produced;
    }
    cr_assert_eq(got_len, sizeof(DECODED) - 1, "cut %zu", cut);
    cr_assert_eq(memcmp(got, DECODED, got_len), 0, "cut %zu", cut);
  }
}

Test(http_chunked, byte_at_a_time) {
  vg_http_chunked c;
  vg_http_chunked_init(&c);
  char out[sizeof(DECODED)];
  size_t o = 0, n = sizeof(CHUNKED) - 1;
  int rc = VG_EAGAIN;
  for (size_t i = 0; i < n; i++) {
    size_t consumed, produced;
    rc = vg_http_chunked_decode(&c, CHUNKED + i, 1, &consumed, out + o, &produced, 1000);
    cr_assert_eq(consumed, 1);
    o += produced;
    if (i + 1 < n) cr_assert_eq(rc, VG_EAGAIN, "byte %zu", i);
  }
  cr_assert_eq(rc, 0);
  cr_assert_eq(o, sizeof(DECODED) - 1);
  cr_assert_eq(memcmp(out, DECODED, o), 0);
}

Test(http_chunked, stops_at_end_of_body) {
  const char *s = "3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
  vg_http_chunked c;
  vg_http_chunked_init(&c);
  char out[64];
  size_t consumed, produced;
  cr_assert_eq(vg_http_chunked_decode(&c, s, strlen(s), &consumed, out, &produced, 100), 0);
  cr_assert_eq(consumed, 13);
  cr_assert_eq(produced, 3);
}

Test(http_chunked, extensions_with_whitespace) {
  const char *s = "3 ;a=b\r\nabc\r\n0\t; last\r\n\r\n";
  vg_http_chunked c;
  vg_http_chunked_init(&c);
  char out[64];
  size_t consumed, produced;
  cr_assert_eq(vg_http_chunked_decode(&c, s, strlen(s), &consumed, out, &produced, 100), 0);
  cr_assert_eq(produced, 3);
}

static int chunked_rc(const char *s, size_t n, uint64_t max_body) {
  vg_http_chunked c;
  vg_http_chunked_init(&c);
  char *out = malloc(n + 1);
  size_t consumed, produced;
  int rc = vg_http_chunked_decode(&c, s, n, &consumed, out, &produced, max_body);
  free(out);
  return rc;
}

#define CHUNK_RC(s, max) chunked_rc(s, sizeof(s) - 1, max)

Test(http_chunked, malformed) {
  cr_assert_eq(CHUNK_RC("G\r\nhello\r\n", 100), VG_EPROTO, "bad hex");
  cr_assert_eq(CHUNK_RC("\r\n", 100), VG_EPROTO, "empty size");
  cr_assert_eq(CHUNK_RC("-1\r\n", 100), VG_EPROTO);
  cr_assert_eq(CHUNK_RC("0x5\r\n", 100), VG_EPROTO);
  cr_assert_eq(CHUNK_RC(" 5\r\n", 100), VG_EPROTO);
  cr_assert_eq(CHUNK_RC("5 \r\nhello\r\n", 100), VG_EPROTO, "BWS only before ';'");
  cr_assert_eq(CHUNK_RC("5\nhello\r\n", 100), VG_EPROTO, "bare LF");
  cr_assert_eq(CHUNK_RC("5\rhello\r\n", 100), VG_EPROTO, "bare CR");
  cr_assert_eq(CHUNK_RC("5\r\nhelloX\r\n", 100), VG_EPROTO, "data longer than size");
  cr_assert_eq(CHUNK_RC("5\r\nhello\n0\r\n\r\n", 100), VG_EPROTO, "LF without CR after data");
  cr_assert_eq(CHUNK_RC("5\r\nhello\r0\r\n\r\n", 100), VG_EPROTO);
  cr_assert_eq(CHUNK_RC("5;a\x01\r\nhello\r\n", 100), VG_EPROTO, "control byte in extension");
  cr_assert_eq(CHUNK_RC("0\r\nX: a\rb\r\n\r\n", 100), VG_EPROTO, "bare CR in trailer");
  cr_assert_eq(CHUNK_RC("0\r\n folded\r\n\r\n", 100), VG_EPROTO, "obs-fold trailer");
  cr_assert_eq(CHUNK_RC("0\r\n\rx", 100), VG_EPROTO);
}

Test(http_chunked, limits) {
  cr_assert_eq(CHUNK_RC("FFFFFFFFFFFFFFFFF\r\n", UINT64_MAX), VG_ETOOBIG, "size overflow");
  cr_assert_eq(CHUNK_RC("FFFFFFFFFFFFFFFF\r\n", UINT64_MAX), VG_EAGAIN, "2^64-1 fits");
  cr_assert_eq(CHUNK_RC("65\r\n", 100), VG_ETOOBIG, "101 > max_body");
  cr_assert_eq(CHUNK_RC("64\r\n", 100), VG_EAGAIN, "100 == max_body");
  cr_assert_eq(CHUNK_RC("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", 5), 0);
  cr_assert_eq(CHUNK_RC("3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n", 5), VG_ETOOBIG, "total counts");
  cr_assert_eq(CHUNK_RC("1\r\na\r\n0\r\n\r\n", 0), VG_ETOOBIG, "0 allows no body");
  cr_assert_eq(CHUNK_RC("0\r\n\r\n", 0), 0);

  /* Leading zeros are fine until the line is absurd. */
  char line[5000];
  memset(line, '0', sizeof(line));
  cr_assert_eq(chunked_rc(line, 4000, 100), VG_EAGAIN);
  cr_assert_eq(chunked_rc(line, sizeof(line), 100), VG_ETOOBIG);

  /* A huge extension, one huge trailer line, and endless small trailers. */
  char *s = malloc(100000);
  size_t n = (size_t)sprintf(s, "1;");
  memset(s + n, 'e', 5000);
  cr_assert_eq(chunked_rc(s, n + 5000, 100), VG_ETOOBIG);
  n = (size_t)sprintf(s, "0\r\nX: ");
  memset(s + n, 'v', 5000);
  cr_assert_eq(chunked_rc(s, n + 5000, 100), VG_ETOOBIG);
  n = (size_t)sprintf(s, "0\r\n");
  for (int i = 0; i < 2000; i++) n += (size_t)sprintf(s + n, "X-%d: v\r\n", i);
  cr_assert_eq(chunked_rc(s, n, 100), VG_ETOOBIG);
  free(s);
}

Test(http_chunked, errors_are_sticky) {
  vg_http_chunked c;
  vg_http_chunked_init(&c);
  char out[16];
  size_t consumed, produced;
  cr_assert_eq(vg_http_chunked_decode(&c, "Z", 1, &consumed, out, &produced, 100), VG_EPROTO);
  cr_assert_eq(vg_http_chunked_decode(&c, "0\r\n\r\n", 5, &consumed, out, &produced, 100),
               VG_EPROTO);
  cr_assert_eq(consumed, 0);
}

/* ---- values ------------------------------------------------------------ */

Test(http_values, url_decode) {
  char out[16];
  cr_assert_eq(vg_http_url_decode("a%20b%2Fc%2f", 12, out, sizeof(out), false), 6);
  cr_assert_str_eq(out, "a b/c/");
  cr_assert_eq(vg_http_url_decode("a+b", 3, out, sizeof(out), true), 3);
  cr_assert_str_eq(out, "a b");
  cr_assert_eq(vg_http_url_decode("a+b", 3, out, sizeof(out), false), 3);
  cr_assert_str_eq(out, "a+b");
  cr_assert_eq(vg_http_url_decode("", 0, out, sizeof(out), false), 0);
  cr_assert_str_eq(out, "");
  cr_assert_eq(vg_http_url_decode("%e2%9c%93", 9, out, sizeof(out), false), 3);
  cr_assert_str_eq(out, "\xe2\x9c\x93");
  cr_assert_eq(vg_http_url_decode("%2", 2, out, sizeof(out), false), VG_EINVAL);
  cr_assert_eq(vg_http_url_decode("%", 1, out, sizeof(out), false), VG_EINVAL);
  cr_assert_eq(vg_http_url_decode("%zz", 3, out, sizeof(out), false), VG_EINVAL);
  cr_assert_eq(vg_http_url_decode("%g0", 3, out, sizeof(out), false), VG_EINVAL);
  cr_assert_eq(vg_http_url_decode("a%00b", 5, out, sizeof(out), false), VG_EINVAL);
  cr_assert_eq(vg_http_url_decode("a\0b", 3, out, sizeof(out), false), VG_EINVAL);
  /* Exactly fits (15 + NUL), then one too many. */
  cr_assert_eq(vg_http_url_decode("0123456789abcde", 15, out, sizeof(out), false), 15);
  cr_assert_eq(vg_http_url_decode("0123456789abcdef", 16, out, sizeof(out), false), VG_EINVAL);
  cr_assert_eq(vg_http_url_decode("a", 1, out, 0, false), VG_EINVAL);
  cr_assert_eq(vg_http_url_decode("a", 1, out, 1, false), VG_EINVAL);
}

Test(http_values, query_get) {
  const char *q = "room=lab%201&b=2&flag&empty=&my+key=x%2By&b=3&bad=%zz";
  size_t n = strlen(q);
  char out[32];
  cr_assert_eq(vg_http_query_get(q, n, "room", out, sizeof(out)), 5);
  cr_assert_str_eq(out, "lab 1");
  cr_assert_eq(vg_http_query_get(q, n, "b", out, sizeof(out)), 1);
  cr_assert_str_eq(out, "2", "first match wins");
  cr_assert_eq(vg_http_query_get(q, n, "flag", out, sizeof(out)), 0);
  cr_assert_eq(vg_http_query_get(q, n, "empty", out, sizeof(out)), 0);
  cr_assert_eq(vg_http_query_get(q, n, "my key", out, sizeof(out)), 3);
  cr_assert_str_eq(out, "x+y");
  cr_assert_eq(vg_http_query_get(q, n, "roo", out, sizeof(out)), VG_ENOTFOUND);
  cr_assert_eq(vg_http_query_get(q, n, "rooms", out, sizeof(out)), VG_ENOTFOUND);
  cr_assert_eq(vg_http_query_get(q, n, "missing", out, sizeof(out)), VG_ENOTFOUND);
  cr_assert_eq(vg_http_query_get(q, n, "bad", out, sizeof(out)), VG_EINVAL);
  cr_assert_eq(vg_http_query_get(NULL, 0, "a", out, sizeof(out)), VG_ENOTFOUND);
  cr_assert_eq(vg_http_query_get("a=1", 3, "a", out, 1), VG_EINVAL, "no room");
  cr_assert_eq(vg_http_query_get("&&=x&a=1&", 9, "a", out, sizeof(out)), 1);
}

Test(http_values, cookie_get) {
  const char *v = "theme=dark; vigil_session=abc.def; empty=; Vigil_Session=other;x=\"q\"";
  size_t n = strlen(v);
  const char *val;
  size_t vlen;
  cr_assert_eq(vg_http_cookie_get(v, n, "vigil_session", &val, &vlen), 0);
  cr_assert(field_is(val, vlen, "abc.def"));
  cr_assert(val >= v && val + vlen <= v + n);
  cr_assert_eq(vg_http_cookie_get(v, n, "Vigil_Session", &val, &vlen), 0);
  cr_assert(field_is(val, vlen, "other"), "names are case-sensitive");
  cr_assert_eq(vg_http_cookie_get(v, n, "theme", &val, &vlen), 0);
  cr_assert(field_is(val, vlen, "dark"));
  cr_assert_eq(vg_http_cookie_get(v, n, "empty", &val, &vlen), 0);
  cr_assert_eq(vlen, 0);
  cr_assert_eq(vg_http_cookie_get(v, n, "x", &val, &vlen), 0);
  cr_assert(field_is(val, vlen, "\"q\""));
  cr_assert_eq(vg_http_cookie_get(v, n, "vigil", &val, &vlen), VG_ENOTFOUND);
  cr_assert_eq(vg_http_cookie_get(v, n, "dark", &val, &vlen), VG_ENOTFOUND);
  cr_assert_eq(vg_http_cookie_get("", 0, "a", &val, &vlen), VG_ENOTFOUND);
  cr_assert_eq(vg_http_cookie_get("=x; a", 5, "", &val, &vlen), VG_ENOTFOUND);
}

static int range(const char *v, uint64_t size, uint64_t *s, uint64_t *e) {
  return vg_http_parse_range(v, strlen(v), size, s, e);
}

Test(http_values, range) {
  uint64_t s, e;
  cr_assert_eq(range("bytes=0-99", 1000, &s, &e), 0);
  cr_assert(s == 0 && e == 99);
  cr_assert_eq(range("bytes=500-", 1000, &s, &e), 0);
  cr_assert(s == 500 && e == 999);
  cr_assert_eq(range("bytes=-100", 1000, &s, &e), 0);
  cr_assert(s == 900 && e == 999);
  cr_assert_eq(range("bytes=-2000", 1000, &s, &e), 0);
  cr_assert(s == 0 && e == 999, "suffix longer than the resource");
  cr_assert_eq(range("bytes=10-5000", 1000, &s, &e), 0);
  cr_assert(s == 10 && e == 999, "end clamped");
  cr_assert_eq(range("Bytes=999-999", 1000, &s, &e), 0);
  cr_assert(s == 999 && e == 999);
  cr_assert_eq(range(" bytes= 1-2 ", 1000, &s, &e), 0);
  cr_assert(s == 1 && e == 2);
  cr_assert_eq(range("bytes=0-99999999999999999999999", 1000, &s, &e), 0);
  cr_assert(s == 0 && e == 999);

  cr_assert_eq(range("bytes=1000-", 1000, &s, &e), VG_EINVAL);
  cr_assert_eq(range("bytes=1000-2000", 1000, &s, &e), VG_EINVAL);
  cr_assert_eq(range("bytes=-0", 1000, &s, &e), VG_EINVAL);
  cr_assert_eq(range("bytes=0-", 0, &s, &e), VG_EINVAL);
  cr_assert_eq(range("bytes=-5", 0, &s, &e), VG_EINVAL);
  cr_assert_eq(range("bytes=99999999999999999999999-", 1000, &s, &e), VG_EINVAL);

  cr_assert_eq(range("bytes=0-1,5-6", 1000, &s, &e), VG_ENOTFOUND, "multiple ranges");
  cr_assert_eq(range("bytes=0-1, -5", 1000, &s, &e), VG_ENOTFOUND);
  cr_assert_eq(range("items=0-1", 1000, &s, &e), VG_ENOTFOUND);
  cr_assert_eq(range("bytes=5-1", 1000, &s, &e), VG_ENOTFOUND);
  cr_assert_eq(range("bytes=abc", 1000, &s, &e), VG_ENOTFOUND);
  cr_assert_eq(range("bytes=-", 1000, &s, &e), VG_ENOTFOUND);
  cr_assert_eq(range("bytes=", 1000, &s, &e), VG_ENOTFOUND);
  cr_assert_eq(range("bytes=1-2x", 1000, &s, &e), VG_ENOTFOUND);
  cr_assert_eq(range("bytes=--1", 1000, &s, &e), VG_ENOTFOUND);
  cr_assert_eq(range("", 1000, &s, &e), VG_ENOTFOUND);
}

Test(http_values, reason) {
  int codes[] = {100, 101, 200, 201, 204, 206, 301, 302, 304, 400, 401, 403, 404, 405,
                 408, 409, 411, 413, 415, 416, 422, 429, 431, 500, 501, 503, 505};
  for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
    cr_assert_str_neq(vg_http_reason(codes[i]), "Unknown", "status %d", codes[i]);
  cr_assert_str_eq(vg_http_reason(404), "Not Found");
  cr_assert_str_eq(vg_http_reason(431), "Request Header Fields Too Large");
  cr_assert_str_eq(vg_http_reason(799), "Unknown");
}
