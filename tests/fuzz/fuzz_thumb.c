/* fuzz_thumb.c - libFuzzer target for the thumbnail parsers: the moov's
 * video sample entry and the sample tables of moof boxes (thumb.h).
 *
 * The input is a file: every top-level moov goes through
 * vg_thumb_parse_moov, and with the track found, every moof through
 * vg_thumb_parse_moof at a few target times. A pick must be a keyframe
 * that the walk saw (offset and size set), never a read outside the box,
 * and its decoder configuration must fit its buffer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "media/bmff.h"
#include "media/thumb.h"

#define CHECK(cond)                                                                \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      abort();                                                                     \
    }                                                                              \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  vg_bmff_iter it;
  vg_bmff_box b;
  vg_thumb_track track;
  bool have = false;
  static const uint64_t ats[] = {0, 1, 90000, UINT64_MAX / 2};
  vg_thumb_key best[4];
  uint64_t first[4];
  bool past[4];
  memset(best, 0, sizeof best);
  for (int i = 0; i < 4; i++) first[i] = UINT64_MAX, past[i] = false;
  vg_bmff_iter_init(&it, data, len);
  while (vg_bmff_next(&it, &b) == 1) {
    const uint8_t *box = data + b.offset;
    size_t box_len = (size_t)b.size;
    if (b.type == VG_FOURCC('m', 'o', 'o', 'v')) {
      int rc = vg_thumb_parse_moov(box, box_len, &track);
      CHECK(rc == 0 || rc == VG_EINVAL || rc == VG_ENOTFOUND);
      if (rc == 0) {
        CHECK(track.extradata_len > 0 && track.extradata_len <= sizeof track.extradata);
        CHECK(track.timescale > 0);
        CHECK(track.codec == VG_CODEC_H264 || track.codec == VG_CODEC_H265);
        have = true;
      }
    } else if (b.type == VG_FOURCC('m', 'o', 'o', 'f') && have) {
      for (int i = 0; i < 4; i++) {
        int rc = vg_thumb_parse_moof(&track, box, box_len, b.offset, ats[i], &first[i], &best[i],
                                     &past[i]);
        CHECK(rc == 0 || rc == VG_EINVAL);
        if (best[i].found) CHECK(first[i] != UINT64_MAX);
      }
    }
  }
  return 0;
}
