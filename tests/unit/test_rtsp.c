/* test_rtsp.c - the RTSP client's parsers: responses (split anywhere,
 * bodies by Content-Length, repeated headers), the interleaved TCP stream
 * cut at every byte, URLs with credentials and control URL resolution,
 * Basic and Digest authentication against RFC 2617's worked example, and
 * the error sentences an installer reads. The client itself runs against
 * vigil-simcam in test_camera and the system tests. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "base/err.h"
#include "ingest/rtsp.h"

static const char DESCRIBE_OK[] =
    "RTSP/1.0 200 OK\r\n"
    "CSeq: 2\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Base: rtsp://127.0.0.1:8554/cam/\r\n"
    "Content-Length: 10\r\n"
    "\r\n"
    "v=0\r\ns=x\r\n";

Test(rtsp, response_with_body_at_every_split) {
  size_t total = strlen(DESCRIBE_OK);
  for (size_t cut = 0; cut < total; cut++) {
    vg_rtsp_msg m;
    int rc = vg_rtsp_msg_parse((const uint8_t *)DESCRIBE_OK, cut, &m);
    cr_assert(rc == VG_EAGAIN || (cut == 0 && rc == VG_EAGAIN), "cut %zu: %d", cut, rc);
  }
  vg_rtsp_msg m;
  cr_assert_eq(vg_rtsp_msg_parse((const uint8_t *)DESCRIBE_OK, total, &m), (int)total);
  cr_assert(m.response);
  cr_assert_eq(m.status, 200);
  cr_assert_eq(m.body_len, 10);
  cr_assert_arr_eq(m.body, "v=0\r\ns=x\r\n", 10);
  char v[128];
  cr_assert_eq(vg_rtsp_msg_header(&m, "content-base", 0, v, sizeof v), 0, "case-insensitive");
  cr_assert_str_eq(v, "rtsp://127.0.0.1:8554/cam/");
  cr_assert_eq(vg_rtsp_msg_header(&m, "Session", 0, v, sizeof v), VG_ENOTFOUND);
  cr_assert_eq(vg_rtsp_msg_header(&m, "Content-Base", 0, v, 8), VG_ETOOBIG);
}

Test(rtsp, repeated_headers_and_bad_responses) {
  const char *r401 =
      "RTSP/1.0 401 Unauthorized\r\nCSeq: 3\r\n"
      "WWW-Authenticate: Basic realm=\"cam\"\r\n"
      "WWW-Authenticate: Digest realm=\"cam\", nonce=\"n1\"\r\n\r\n";
  vg_rtsp_msg m;
  cr_assert_gt(vg_rtsp_msg_parse((const uint8_t *)r401, strlen(r401), &m), 0);
  cr_assert_eq(m.status, 401);
  char v[128];
  cr_assert_eq(vg_rtsp_msg_header(&m, "WWW-Authenticate", 1, v, sizeof v), 0);
  cr_assert_str_eq(v, "Digest realm=\"cam\", nonce=\"n1\"");
  cr_assert_eq(vg_rtsp_msg_header(&m, "WWW-Authenticate", 2, v, sizeof v), VG_ENOTFOUND);
  const char *http = "HTTP/1.1 200 OK\r\n\r\n";
  cr_assert_eq(vg_rtsp_msg_parse((const uint8_t *)http, strlen(http), &m), VG_EINVAL);
  const char *badlen = "RTSP/1.0 200 OK\r\nContent-Length: -1\r\n\r\n";
  cr_assert_eq(vg_rtsp_msg_parse((const uint8_t *)badlen, strlen(badlen), &m), VG_EINVAL);
  const char *huge = "RTSP/1.0 200 OK\r\nContent-Length: 999999\r\n\r\n";
  cr_assert_eq(vg_rtsp_msg_parse((const uint8_t *)huge, strlen(huge), &m), VG_ETOOBIG);
  const char *nostatus = "RTSP/1.0 abc OK\r\n\r\n";
  cr_assert_eq(vg_rtsp_msg_parse((const uint8_t *)nostatus, strlen(nostatus), &m), VG_EINVAL);
}

/* An interleaved stream: RTP on 0, a keep-alive answer, RTCP on 1, RTP on 2. */
static size_t build_stream(uint8_t *out) {
  size_t n = 0;
  const uint8_t p0[] = {'$', 0, 0, 5, 1, 2, 3, 4, 5};
  memcpy(out + n, p0, sizeof p0);
  n += sizeof p0;
  const char *ka = "RTSP/1.0 200 OK\r\nCSeq: 9\r\n\r\n";
  memcpy(out + n, ka, strlen(ka));
  n += strlen(ka);
  const uint8_t p1[] = {'$', 1, 0, 2, 0x81, 0xc8};
  memcpy(out + n, p1, sizeof p1);
  n += sizeof p1;
  out[n++] = '$';
  out[n++] = 2;
  out[n++] = 0x01; /* 300 bytes */
  out[n++] = 0x2c;
  memset(out + n, 0xab, 300);
  n += 300;
  return n;
}

Test(rtsp, interleaved_stream_cut_at_every_byte) {
  uint8_t stream[1024];
  size_t total = build_stream(stream);
  for (size_t cut = 0; cut <= total; cut++) {
    /* feed [0, cut) then the rest, like two reads */
    uint8_t buf[1024];
    size_t have = 0, pos = 0, fed = 0;
    int kinds[8], channels[8], nitems = 0;
    size_t lens[8];
    for (int read = 0; read < 2; read++) {
      size_t upto = read == 0 ? cut : total;
      memcpy(buf + have, stream + fed, upto - fed);
      have += upto - fed;
      fed = upto;
      for (;;) {
        vg_rtsp_item it;
        int rc = vg_rtsp_next(buf + pos, have - pos, &it);
        if (rc == VG_EAGAIN) break;
        cr_assert_gt(rc, 0, "cut %zu: %d", cut, rc);
        cr_assert_lt(nitems, 8);
        kinds[nitems] = it.kind;
        channels[nitems] = it.channel;
        lens[nitems] = it.len;
        nitems++;
        pos += (size_t)rc;
      }
    }
    cr_assert_eq(pos, total, "cut %zu: all consumed", cut);
    cr_assert_eq(nitems, 4, "cut %zu", cut);
    cr_assert_eq(kinds[0], VG_RTSP_ITEM_DATA);
    cr_assert_eq(channels[0], 0);
    cr_assert_eq(lens[0], 5);
    cr_assert_eq(kinds[1], VG_RTSP_ITEM_MSG);
    cr_assert_eq(kinds[2], VG_RTSP_ITEM_DATA);
    cr_assert_eq(channels[2], 1);
    cr_assert_eq(channels[3], 2);
    cr_assert_eq(lens[3], 300);
  }
}

Test(rtsp, garbage_is_skipped_up_to_the_next_packet) {
  const uint8_t s[] = {0x00, 0x17, 'x', '$', 0, 0, 1, 9};
  vg_rtsp_item it;
  int rc = vg_rtsp_next(s, sizeof s, &it);
  cr_assert_eq(rc, 3);
  cr_assert_eq(it.kind, VG_RTSP_ITEM_SKIP);
  rc = vg_rtsp_next(s + 3, sizeof s - 3, &it);
  cr_assert_eq(rc, 5);
  cr_assert_eq(it.kind, VG_RTSP_ITEM_DATA);
  cr_assert_eq(it.data[0], 9);
}

Test(rtsp, urls) {
  vg_rtsp_url u;
  cr_assert_eq(
      vg_rtsp_url_parse("rtsp://op%40site:s3cr%40t%3A%2F@cam.local:8554/live/main?x=1", &u), 0);
  cr_assert_str_eq(u.host, "cam.local");
  cr_assert_eq(u.port, 8554);
  cr_assert_str_eq(u.user, "op@site");
  cr_assert_str_eq(u.password, "s3cr@t:/");
  cr_assert_str_eq(u.uri, "rtsp://cam.local:8554/live/main?x=1", "no credentials in requests");
  cr_assert_eq(vg_rtsp_url_parse("rtsp://[::1]/cam", &u), 0);
  cr_assert_str_eq(u.host, "::1");
  cr_assert_eq(u.port, 554);
  cr_assert_eq(vg_rtsp_url_parse("http://cam/x", &u), VG_EINVAL);
  cr_assert_eq(vg_rtsp_url_parse("rtsp://:554/x", &u), VG_EINVAL);
  cr_assert_eq(vg_rtsp_url_parse("rtsp://cam:99999/x", &u), VG_EINVAL);
  cr_assert_eq(vg_rtsp_url_parse("rtsp://cam/a b", &u), VG_EINVAL);

  char out[256];
  cr_assert_eq(vg_rtsp_url_resolve("rtsp://h/cam/", "stream=0", out, sizeof out), 0);
  cr_assert_str_eq(out, "rtsp://h/cam/stream=0");
  cr_assert_eq(vg_rtsp_url_resolve("rtsp://h/cam", "trackID=1", out, sizeof out), 0);
  cr_assert_str_eq(out, "rtsp://h/cam/trackID=1");
  cr_assert_eq(vg_rtsp_url_resolve("rtsp://h/cam", "*", out, sizeof out), 0);
  cr_assert_str_eq(out, "rtsp://h/cam");
  cr_assert_eq(vg_rtsp_url_resolve("rtsp://h/cam", "rtsp://other/v1", out, sizeof out), 0);
  cr_assert_str_eq(out, "rtsp://other/v1");
  cr_assert_eq(vg_rtsp_url_resolve("rtsp://h:1/cam", "/media/v", out, sizeof out), 0);
  cr_assert_str_eq(out, "rtsp://h:1/media/v");
  cr_assert_eq(vg_rtsp_url_resolve("rtsp://h/cam", "stream=0", out, 10), VG_ETOOBIG);
}

Test(rtsp, digest_rfc2617_example_with_qop_auth) {
  vg_rtsp_auth a = {0};
  cr_assert_eq(vg_rtsp_auth_challenge(&a,
                                      "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", "
                                      "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
                                      "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""),
               0);
  cr_assert_eq(a.scheme, VG_RTSP_AUTH_DIGEST);
  cr_assert(a.qop_auth);
  char h[1024];
  cr_assert_eq(vg_rtsp_auth_header(&a, "GET", "/dir/index.html", "Mufasa", "Circle Of Life",
                                   "0a4f113b", h, sizeof h),
               0);
  cr_assert(strstr(h, "response=\"6629fae49393a05397450978507c4ef1\""), "%s", h);
  cr_assert(strstr(h, "nc=00000001"), "%s", h);
  cr_assert(strstr(h, "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""), "%s", h);
  cr_assert_eq(vg_rtsp_auth_header(&a, "GET", "/dir/index.html", "Mufasa", "Circle Of Life",
                                   "0a4f113b", h, sizeof h),
               0);
  cr_assert(strstr(h, "nc=00000002"), "the nonce count goes up: %s", h);
}

Test(rtsp, digest_without_qop_and_basic) {
  vg_rtsp_auth a = {0};
  /* Basic first, Digest after: Digest wins; Basic after Digest changes nothing */
  cr_assert_eq(vg_rtsp_auth_challenge(&a, "Basic realm=\"cam realm\""), 0);
  cr_assert_eq(a.scheme, VG_RTSP_AUTH_BASIC);
  cr_assert_eq(vg_rtsp_auth_challenge(&a, "Digest realm=\"cam realm\", nonce=\"abc123\""), 0);
  cr_assert_eq(vg_rtsp_auth_challenge(&a, "Basic realm=\"cam realm\""), 0);
  cr_assert_eq(a.scheme, VG_RTSP_AUTH_DIGEST);
  char h[1024];
  cr_assert_eq(vg_rtsp_auth_header(&a, "DESCRIBE", "rtsp://127.0.0.1:8554/cam", "admin", "s3cret",
                                   "x", h, sizeof h),
               0);
  /* MD5(MD5("admin:cam realm:s3cret") ":abc123:" MD5("DESCRIBE:rtsp://127.0.0.1:8554/cam")) */
  cr_assert(strstr(h, "response=\"2974353a6dbd630eaaeb2b5348ffd16e\""), "%s", h);
  cr_assert_null(strstr(h, "qop"), "%s", h);
  vg_rtsp_auth b = {0};
  cr_assert_eq(vg_rtsp_auth_challenge(&b, "Basic realm=\"x\""), 0);
  cr_assert_eq(
      vg_rtsp_auth_header(&b, "OPTIONS", "rtsp://h/", "Aladdin", "open sesame", "", h, sizeof h),
      0);
  cr_assert_str_eq(h, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
  vg_rtsp_auth c = {0};
  cr_assert_eq(vg_rtsp_auth_challenge(&c, "Digest realm=\"r\", nonce=\"n\", algorithm=SHA-256"),
               VG_EINVAL, "only MD5 is answered");
  cr_assert_eq(vg_rtsp_auth_challenge(&c, "Digest realm=\"r\""), VG_EINVAL, "no nonce");
  cr_assert_eq(vg_rtsp_auth_challenge(&c, "Negotiate abc"), VG_EINVAL);
  cr_assert_eq(c.scheme, VG_RTSP_AUTH_NONE);
}

Test(rtsp, error_sentences_match_the_libavformat_path) {
  char m[256];
  vg_rtsp_error e = {.code = VG_EPROTO, .status = 401};
  cr_assert_eq(vg_rtsp_error_text(&e, 5000, m, sizeof m), VG_PROBE_UNAUTHORIZED);
  cr_assert_str_eq(m, "401 Unauthorized: wrong credentials");
  e.status = 404;
  cr_assert_eq(vg_rtsp_error_text(&e, 5000, m, sizeof m), VG_PROBE_NOT_FOUND);
  cr_assert_str_eq(m, "404 Not Found: no stream at this path");
  e.status = 461;
  cr_assert_eq(vg_rtsp_error_text(&e, 5000, m, sizeof m), VG_PROBE_PROTOCOL);
  cr_assert(strstr(m, "461"), "%s", m);
  e = (vg_rtsp_error){.code = VG_EIO, .sys_errno = ECONNREFUSED};
  cr_assert_eq(vg_rtsp_error_text(&e, 5000, m, sizeof m), VG_PROBE_UNREACHABLE);
  cr_assert(strstr(m, "refused"), "%s", m);
  e = (vg_rtsp_error){.code = VG_ETIMEDOUT};
  cr_assert_eq(vg_rtsp_error_text(&e, 1500, m, sizeof m), VG_PROBE_TIMEOUT);
  cr_assert(strstr(m, "1500 ms"), "%s", m);
  e = (vg_rtsp_error){.code = VG_EIO, .dns = true};
  cr_assert_eq(vg_rtsp_error_text(&e, 5000, m, sizeof m), VG_PROBE_UNREACHABLE);
  e = (vg_rtsp_error){.code = VG_EPROTO};
  cr_assert_eq(vg_rtsp_error_text(&e, 5000, m, sizeof m), VG_PROBE_PROTOCOL);
  cr_assert(strstr(m, "not valid RTSP"), "%s", m);
}
