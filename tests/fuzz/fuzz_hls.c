/* fuzz_hls.c - libFuzzer target for the LL-HLS URI name parser and the
 * playlist writer fed with the parsed numbers. */
#undef NDEBUG /* the checks are the point of this file */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "media/hls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  vg_hls_name n;
  int rc = vg_hls_parse_name((const char *)data, len, &n);
  assert(rc == 0 || rc == VG_EINVAL);
  if (rc) return 0;
  assert(n.kind != VG_HLS_PART || n.part < VG_HLS_MAX_PARTS * 2);
  vg_hls_part_info parts[2] = {{0.3, true}, {0.2, false}};
  vg_hls_seg_info seg = {n.msn, 0, n.kind == VG_HLS_SEGMENT, 2, parts, (n.part & 1) != 0};
  vg_hls_playlist_cfg cfg = {0.334, n.part & 2 ? "?grant=x" : "", 3, n.msn, n.part};
  vg_str s = VG_STR_INIT;
  assert(vg_hls_playlist(&seg, 1, &cfg, &s) == 0);
  assert(s.len > 0 && s.data[s.len - 1] == '\n');
  vg_str_free(&s);
  (void)vg_hls_wait_state(n.msn, n.part, false, n.msn + 1, n.part);
  return 0;
}
