/* fuzz_rtsp.c - libFuzzer target for what a camera's RTSP connection
 * sends: the interleaved stream ('$' packets and RTSP messages, in
 * arbitrary reads), the headers the client reads out of answers
 * (WWW-Authenticate into a Digest/Basic answer, Session, Transport,
 * RTP-Info) and rtsp:// URLs.
 *
 * Byte 0 picks how the input is cut into reads. Every item must lie
 * inside the bytes given, consume at least one byte, and header values
 * must come back NUL-terminated within their buffer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "ingest/rtsp.h"

#define CHECK(cond)                                                                \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      abort();                                                                     \
    }                                                                              \
  } while (0)

static void headers(const vg_rtsp_msg *m) {
  static const char *names[] = {"CSeq",         "Session",          "Transport", "RTP-Info",
                                "Content-Base", "WWW-Authenticate", "Public"};
  char v[1024];
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    for (size_t idx = 0; idx < 3; idx++) {
      int rc = vg_rtsp_msg_header(m, names[i], idx, v, sizeof v);
      CHECK(rc == 0 || rc == VG_ENOTFOUND || rc == VG_ETOOBIG);
      if (rc) continue;
      CHECK(strlen(v) < sizeof v);
      if (i == 5) {
        vg_rtsp_auth a = {0};
        if (vg_rtsp_auth_challenge(&a, v) == 0) {
          char out[2048];
          int hr = vg_rtsp_auth_header(&a, "DESCRIBE", "rtsp://h/x", "user", "pw", "cn", out,
                                       sizeof out);
          CHECK(hr == 0 || hr == VG_ETOOBIG || hr == VG_EINVAL);
          if (hr == 0) CHECK(strlen(out) < sizeof out);
        }
      }
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t step = (size_t)data[0] * 7 + 1;
  data++;
  size--;
  uint8_t *buf = malloc(size + 1);
  if (!buf) return 0;
  size_t have = 0, pos = 0;
  while (have < size) {
    size_t n = size - have < step ? size - have : step;
    memcpy(buf + have, data + have, n);
    have += n;
    for (;;) {
      vg_rtsp_item it;
      int rc = vg_rtsp_next(buf + pos, have - pos, &it);
      if (rc == VG_EAGAIN) break;
      if (rc < 0) {
        CHECK(rc == VG_ETOOBIG || rc == VG_EINVAL);
        pos = have; /* the client drops the connection */
        break;
      }
      CHECK(rc > 0 && (size_t)rc <= have - pos);
      if (it.kind == VG_RTSP_ITEM_DATA) {
        CHECK(it.data >= buf + pos && it.data + it.len <= buf + have);
      } else if (it.kind == VG_RTSP_ITEM_MSG) {
        CHECK(it.msg.body + it.msg.body_len <= buf + have);
        headers(&it.msg);
      } else {
        CHECK(it.kind == VG_RTSP_ITEM_SKIP);
      }
      pos += (size_t)rc;
    }
  }
  /* the same bytes as a URL */
  char url[2048];
  size_t un = size < sizeof url - 1 ? size : sizeof url - 1;
  memcpy(url, data, un);
  url[un] = 0;
  vg_rtsp_url u;
  if (vg_rtsp_url_parse(url, &u) == 0) {
    CHECK(u.port >= 1 && u.port <= 65535 && u.host[0]);
    char out[1024];
    int rc = vg_rtsp_url_resolve(u.uri, u.host, out, sizeof out);
    CHECK(rc == 0 || rc == VG_ETOOBIG);
  }
  free(buf);
  return 0;
}
