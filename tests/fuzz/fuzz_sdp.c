/* fuzz_sdp.c - libFuzzer target for the SDP parser (a camera's DESCRIBE
 * answer): fields stay NUL-terminated and within their sizes, and the
 * parameter sets it decodes build (or refuse to build) a picture size. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "ingest/rtp.h"
#include "ingest/sdp.h"

#define CHECK(cond)                                                                \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      abort();                                                                     \
    }                                                                              \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static vg_sdp s;
  int rc = vg_sdp_parse((const char *)data, size, &s);
  CHECK(rc == 0 || rc == VG_EINVAL || rc == VG_ETOOBIG);
  if (rc) return 0;
  CHECK(s.nmedia >= 1 && s.nmedia <= VG_SDP_MAX_MEDIA);
  CHECK(strlen(s.control) < sizeof s.control);
  for (size_t i = 0; i < s.nmedia; i++) {
    const vg_sdp_media *m = &s.media[i];
    CHECK(strlen(m->control) < sizeof m->control);
    CHECK(strlen(m->encoding) < sizeof m->encoding);
    CHECK(m->sprop_len <= sizeof m->sprop && m->config_len <= sizeof m->config);
    vg_rtp_format f = vg_rtp_format_of(m);
    if (f == VG_RTP_H264 || f == VG_RTP_H265) {
      int w = 0, h = 0;
      if (vg_rtp_video_size(f == VG_RTP_H264 ? VG_CODEC_H264 : VG_CODEC_H265, m->sprop,
                            m->sprop_len, &w, &h) == 0)
        CHECK(w > 0 && h > 0);
    }
    vg_rtp_depack *d = NULL;
    if (f != VG_RTP_NONE) {
      CHECK(vg_rtp_depack_new(f, m, &d) == 0);
      vg_rtp_depack_free(d);
    }
  }
  return 0;
}
