/* fuzz_sniff.c - libFuzzer target for the media listener's first-bytes
 * sniffer: any prefix decides within VG_SNIFF_MAX_BYTES, and a decision
 * never changes when more bytes arrive. */
#undef NDEBUG /* the checks are the point of this file */
#include <assert.h>
#include <stdint.h>

#include "base/err.h"
#include "net/sniff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  int decided = -1;
  for (size_t n = 0; n <= len; n++) {
    vg_sniff_proto p;
    int rc = vg_sniff_classify(data, n, &p);
    assert(rc == 0 || rc == VG_EAGAIN);
    if (rc == VG_EAGAIN) {
      assert(decided < 0 && n < VG_SNIFF_MAX_BYTES);
      continue;
    }
    assert(p == VG_SNIFF_HTTP || p == VG_SNIFF_TLS || p == VG_SNIFF_RTMP);
    assert(decided < 0 || decided == (int)p);
    decided = (int)p;
  }
  return 0;
}
