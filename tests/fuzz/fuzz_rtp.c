/* fuzz_rtp.c - libFuzzer target for the RTP depacketizers: byte 0 picks
 * the format (H.264, H.265, AAC with its AU-header layout, G.711), the
 * rest is a series of packets, each behind a 2-byte length. Access units
 * handed out must be well-formed: video as 4-byte length-prefixed units
 * that exactly fill the AU, parameter sets as Annex-B; nothing outside
 * the bytes given. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "ingest/rtp.h"

#define CHECK(cond)                                                                \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      abort();                                                                     \
    }                                                                              \
  } while (0)

typedef struct ctx {
  vg_rtp_format fmt;
  uint64_t sum; /* touches every byte, so ASan sees any overread */
} ctx;

static void on_au(void *ud, const vg_rtp_au *au) {
  ctx *c = ud;
  for (size_t i = 0; i < au->len; i++) c->sum += au->data[i];
  for (size_t i = 0; i < au->params_len; i++) c->sum += au->params[i];
  CHECK(au->len > 0);
  if (c->fmt == VG_RTP_H264 || c->fmt == VG_RTP_H265) {
    size_t pos = 0;
    while (pos < au->len) {
      CHECK(pos + 4 <= au->len);
      size_t n = (size_t)au->data[pos] << 24 | (size_t)au->data[pos + 1] << 16 |
                 (size_t)au->data[pos + 2] << 8 | au->data[pos + 3];
      CHECK(n > 0 && pos + 4 + n <= au->len);
      pos += 4 + n;
    }
    CHECK(au->params_len <= VG_RTP_PARAMS_MAX);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  vg_sdp_media m = {0};
  snprintf(m.encoding, sizeof m.encoding, "MPEG4-GENERIC");
  m.sizelength = 13 - (data[1] & 7);
  m.indexlength = data[1] >> 5 & 3;
  m.indexdeltalength = m.indexlength;
  vg_rtp_format fmt = (vg_rtp_format)(data[0] % 5 + 1);
  ctx c = {.fmt = fmt};
  vg_rtp_depack *d;
  if (vg_rtp_depack_new(fmt, &m, &d) != 0) return 0;
  size_t pos = 2;
  while (pos + 2 <= size) {
    size_t n = (size_t)data[pos] << 8 | data[pos + 1];
    pos += 2;
    if (n > size - pos) n = size - pos;
    uint8_t *pkt = malloc(n ? n : 1); /* its own allocation: overreads are caught */
    if (!pkt) break;
    memcpy(pkt, data + pos, n);
    int rc = vg_rtp_depack_push(d, pkt, n, on_au, &c);
    CHECK(rc == 0 || rc == VG_EINVAL);
    free(pkt);
    pos += n;
  }
  vg_rtp_stats st;
  vg_rtp_depack_stats(d, &st);
  CHECK(st.packets >= 0 && st.lost >= 0);
  vg_rtp_depack_free(d);
  return 0;
}
