/* fuzz_bmff.c - libFuzzer target for the ISO-BMFF reader and the
 * fragmented-MP4 scan used for crash repair.
 *
 * The input is a file. The scan must stay inside it and report a result
 * that holds together: complete_end inside the data and on the boundaries
 * it claims, and the same answer again when the file is cut at
 * complete_end (what the recorder does after a crash). A recursive walk of
 * the box tree checks the iterator's promises at every depth.
 *
 * The same bytes also go through the codec.h conversions, which read what
 * cameras send (Annex-B access units, parameter sets) and have no target
 * of their own: the length-prefixed output must walk back to its end, and
 * the records and codec strings must stay inside their buffers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "media/bmff.h"
#include "media/codec.h"

#define CHECK(cond)                                                                \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      abort();                                                                     \
    }                                                                              \
  } while (0)

/* Every box handed out lies inside its range; children recurse until the
 * depth bound refuses. Returns the number of boxes seen. */
static size_t walk(vg_bmff_iter *it, const uint8_t *lo, const uint8_t *hi) {
  vg_bmff_box b;
  size_t n = 0;
  int rc;
  while ((rc = vg_bmff_next(it, &b)) == 1) {
    n++;
    CHECK(b.header == 8 || b.header == 16);
    CHECK(b.size == b.header + b.body_len);
    CHECK(b.body >= lo && b.body + b.body_len <= hi);
    CHECK(b.depth <= VG_BMFF_MAX_DEPTH);
    volatile uint8_t sink = 0;
    if (b.body_len) sink ^= b.body[0] ^ b.body[b.body_len - 1];
    (void)sink;
    vg_bmff_iter child;
    int crc = vg_bmff_iter_children(&child, &b, 0);
    if (crc == 0) {
      n += walk(&child, b.body, b.body + b.body_len);
    } else {
      CHECK(crc == VG_ETOOBIG && b.depth == VG_BMFF_MAX_DEPTH);
    }
  }
  CHECK(rc == 0 || rc == VG_EAGAIN || rc == VG_EINVAL);
  return n;
}

static void check_result(const vg_bmff_scan_result *r, size_t len) {
  CHECK(r->complete_end <= len);
  CHECK(r->init_end <= r->complete_end);
  CHECK(r->has_init == (r->init_end > 0));
  CHECK(r->fragments > 0 || r->complete_end == r->init_end);
  CHECK(r->stop_offset <= len);
  CHECK(r->stop_offset >= r->complete_end);
  CHECK(r->stop == VG_BMFF_END || r->stop == VG_BMFF_TRUNCATED || r->stop == VG_BMFF_MALFORMED);
  if (r->stop == VG_BMFF_END) CHECK(r->stop_offset == len);
  CHECK(r->ntracks >= 0 && r->ntracks <= VG_BMFF_MAX_TRACKS);
  for (int i = 0; i < r->ntracks; i++) {
    const vg_bmff_track *t = &r->tracks[i];
    CHECK(t->fragments <= r->fragments);
    CHECK(t->fragments > 0 || (t->samples == 0 && t->duration == 0));
    CHECK(t->gaps <= t->fragments);
    CHECK(vg_bmff_scan_track(r, t->id) != NULL);
  }
}

static void check_codec(const uint8_t *data, size_t size) {
  for (int c = 0; c < 2; c++) {
    vg_codec_id codec = c ? VG_CODEC_H265 : VG_CODEC_H264;
    vg_buf *lp = NULL;
    int rc = vg_annexb_to_lp(codec, data, size, size & 1 ? VG_LP_STRIP_PARAMS : 0, &lp);
    CHECK((rc == 0) == (lp != NULL));
    if (lp) {
      size_t pos = 0;
      while (pos < lp->len) {
        CHECK(lp->len - pos >= 4);
        uint32_t n = (uint32_t)lp->data[pos] << 24 | (uint32_t)lp->data[pos + 1] << 16 |
                     (uint32_t)lp->data[pos + 2] << 8 | lp->data[pos + 3];
        CHECK(n > 0 && n <= lp->len - pos - 4);
        pos += 4 + n;
      }
      CHECK(lp->len <= size + size / 3 + 4);
      vg_buf_unref(lp);
    }
    vg_codec_params p = {.codec = codec};
    size_t cap = size % 512; /* small caps reach VG_ETOOBIG */
    rc = c ? vg_hvcc_from_annexb(data, size, p.extradata, cap, &p.extradata_len)
           : vg_avcc_from_annexb(data, size, p.extradata, cap, &p.extradata_len);
    CHECK(rc == 0 || rc == VG_EINVAL || rc == VG_ETOOBIG);
    if (rc == 0) {
      CHECK(p.extradata_len <= cap);
      char s[64];
      CHECK(vg_codec_string(&p, s, sizeof s) == 0);
      CHECK(strlen(s) < sizeof s);
    }
  }
  vg_codec_params a = {.codec = VG_CODEC_AAC};
  a.extradata_len = size < 4 ? size : 4;
  memcpy(a.extradata, data, a.extradata_len);
  char s[32];
  int rc = vg_codec_string(&a, s, sizeof s);
  CHECK(rc == 0 || (rc == VG_EINVAL && size < 2));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  check_codec(data, size);

  vg_bmff_iter it;
  vg_bmff_iter_init(&it, data, size);
  walk(&it, data, data + size);

  vg_bmff_scan_result r;
  CHECK(vg_bmff_scan(data, size, &r) == 0);
  check_result(&r, size);

  /* Cutting at complete_end keeps exactly what was complete. */
  if (r.complete_end > 0) {
    uint8_t *cut = malloc(r.complete_end);
    CHECK(cut);
    memcpy(cut, data, r.complete_end);
    vg_bmff_scan_result c;
    CHECK(vg_bmff_scan(cut, r.complete_end, &c) == 0);
    check_result(&c, r.complete_end);
    CHECK(c.has_init == r.has_init);
    CHECK(c.fragments == r.fragments);
    CHECK(c.complete_end == r.complete_end);
    CHECK(c.stop == VG_BMFF_END);
    free(cut);
  }
  return 0;
}
