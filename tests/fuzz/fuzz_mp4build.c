/* fuzz_mp4build.c - libFuzzer target for the segment-file reading of
 * media/mp4build.c (init moov, moof + trun parsing, the whole-fragment
 * walk) and for the MP4 it builds.
 *
 * The input is a segment file. It is given twice, as two segments 5 s
 * apart, under two spans with a pause between them, so selection,
 * preroll and the pause all run. When a file comes out it must hold
 * together: moov before mdat, the size it claims, every byte readable,
 * and range reads equal to the whole. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "media/bmff.h"
#include "media/mp4build.h"

#define CHECK(cond)                                                                \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      abort();                                                                     \
    }                                                                              \
  } while (0)

#define T0 1700000000000LL
/* Outputs past this are not read back whole (a fuzzed trun can claim a
 * lot of samples of default size). */
#define MAX_READ (64u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  vg_mp4build_mem segs[2] = {{data, size, T0, T0 + 5000}, {data, size, T0 + 5000, 0}};
  vg_mp4build_span spans[2] = {{T0 - 1000, T0 + 3000}, {T0 + 4000, T0 + 100000}};
  vg_mp4build *b = NULL;
  int rc = vg_mp4build_open_mem(segs, 2, spans, 2, &b);
  CHECK(rc == 0 || rc == VG_ENOTFOUND || rc == VG_EINVAL || rc == VG_ETOOBIG || rc == VG_ENOMEM);
  CHECK((rc == 0) == (b != NULL));
  if (!b) return 0;
  uint64_t total = vg_mp4build_size(b);
  uint64_t head = vg_mp4build_header_size(b);
  CHECK(head > 0 && head <= total);
  CHECK(vg_mp4build_duration(b) >= 0);
  size_t ngaps;
  const vg_mp4build_gap *g = vg_mp4build_gaps(b, &ngaps);
  for (size_t i = 0; i < ngaps; i++) CHECK(g[i].end_s > g[i].start_s);
  if (total <= MAX_READ) {
    uint8_t *all = malloc(total);
    CHECK(all);
    size_t got;
    CHECK(vg_mp4build_read(b, 0, all, total, &got) == 0 && got == total);
    /* ftyp, moov, mdat: nothing else, nothing cut. */
    vg_bmff_iter it;
    vg_bmff_box box;
    vg_bmff_iter_init(&it, all, total);
    CHECK(vg_bmff_next(&it, &box) == 1 && box.type == VG_FOURCC('f', 't', 'y', 'p'));
    CHECK(vg_bmff_next(&it, &box) == 1 && box.type == VG_FOURCC('m', 'o', 'o', 'v'));
    CHECK(vg_bmff_next(&it, &box) == 1 && box.type == VG_FOURCC('m', 'd', 'a', 't'));
    CHECK(box.offset + box.size == total);
    CHECK(vg_bmff_next(&it, &box) == 0);
    /* A few ranges across the seam between header and payload. */
    uint64_t offs[3] = {head > 3 ? head - 3 : 0, total / 2, total > 7 ? total - 7 : 0};
    for (int i = 0; i < 3; i++) {
      uint8_t part[64];
      CHECK(vg_mp4build_read(b, offs[i], part, sizeof part, &got) == 0);
      CHECK(got == (total - offs[i] < sizeof part ? total - offs[i] : sizeof part));
      CHECK(memcmp(part, all + offs[i], got) == 0);
    }
    free(all);
  }
  vg_mp4build_free(b);
  return 0;
}
