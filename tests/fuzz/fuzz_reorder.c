/* fuzz_reorder.c - libFuzzer target for the B-frame decode times
 * (ingest/reorder.c) and the SPS reorder depth (vg_rtp_video_reorder).
 * Byte 0 picks H.264 or H.265 and the rest, read as an SPS, may announce
 * a depth; then every 3 bytes are one frame: a signed pts step (16 bits)
 * and a keyframe flag. What comes out must be what MP4 needs: each frame
 * once (out or dropped), in decode order, dts strictly increasing and
 * never after pts. */
#include <stdio.h>
#include <stdlib.h>

#include "ingest/reorder.h"
#include "ingest/rtp.h"

#define CHECK(cond)                                                                \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      abort();                                                                     \
    }                                                                              \
  } while (0)

typedef struct sink {
  long seen, last_idx;
  int64_t last_dts;
  bool any;
} sink;

static void on_out(void *cb, void *item, int64_t pts, int64_t dts, bool key, bool keep) {
  sink *s = cb;
  (void)key;
  s->seen++;
  if (!keep) return;
  long idx = (long)(intptr_t)item;
  CHECK(dts <= pts);
  if (s->any) {
    CHECK(dts > s->last_dts);
    CHECK(idx > s->last_idx);
  }
  s->any = true;
  s->last_dts = dts;
  s->last_idx = idx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  vg_codec_id codec = data[0] & 1 ? VG_CODEC_H265 : VG_CODEC_H264;
  size_t spslen = size > 1 ? data[0] >> 1 : 0;
  if (spslen > size - 1) spslen = size - 1;
  vg_reorder r = {0};
  sink s = {0};
  int depth;
  if (vg_rtp_video_reorder(codec, data + 1, spslen, &depth) == 0) {
    CHECK(depth >= 0 && depth <= 16);
    vg_reorder_announce(&r, depth, on_out, &s);
  }
  int64_t pts = 1 << 20;
  long n = 0;
  for (size_t i = 1 + spslen; i + 3 <= size; i += 3, n++) {
    pts += (int16_t)(data[i] << 8 | data[i + 1]);
    vg_reorder_push(&r, pts, data[i + 2] & 1, (void *)(intptr_t)n, on_out, &s);
  }
  vg_reorder_drain(&r, on_out, &s);
  vg_reorder_clear(&r, on_out, &s);
  CHECK(s.seen == n);
  return 0;
}
