/* fuzz_chunked.c - libFuzzer target for the chunked body decoder.
 *
 * Byte 0 picks the size of the reads, byte 1 the body limit, the rest is
 * the body. The decoder must give the same answer and the same bytes in
 * one call, in small reads, and in place, and never pass the limit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "net/http_parser.h"

#define CHECK(cond)                                                                \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      abort();                                                                     \
    }                                                                              \
  } while (0)

typedef struct result {
  int rc;
  size_t consumed, produced;
} result;

/* Feeds in[0..len) in reads of step bytes; in place when out == in. */
static result run(const char *in, size_t len, char *out, size_t step, uint64_t max_body) {
  vg_http_chunked c;
  vg_http_chunked_init(&c);
  result r = {VG_EAGAIN, 0, 0};
  do {
    size_t n = len - r.consumed < step ? len - r.consumed : step;
    size_t consumed = SIZE_MAX, produced = SIZE_MAX;
    char *dst = out == in ? out + r.consumed : out + r.produced;
    r.rc = vg_http_chunked_decode(&c, in + r.consumed, n, &consumed, dst, &produced, max_body);
    CHECK(consumed <= n && produced <= consumed);
    CHECK(r.rc == 0 || r.rc == VG_EAGAIN || r.rc == VG_EPROTO || r.rc == VG_ETOOBIG);
    CHECK(r.rc != VG_EAGAIN || consumed == n);
    if (out == in && produced) memmove(out + r.produced, dst, produced);
    r.consumed += consumed;
    r.produced += produced;
    CHECK(c.total == r.produced && c.total <= max_body);
  } while (r.rc == VG_EAGAIN && r.consumed < len);
  return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  size_t step = data[0] % 17 + 1;
  uint64_t max_body = data[1] == 255 ? UINT64_MAX : (uint64_t)data[1] * 8;
  const char *in = (const char *)data + 2;
  size_t len = size - 2;

  char *out1 = malloc(len + 1), *out2 = malloc(len + 1), *buf = malloc(len + 1);
  memcpy(buf, in, len);
  result whole = run(in, len, out1, len ? len : 1, max_body);
  result parts = run(in, len, out2, step, max_body);
  result inplace = run(buf, len, buf, step, max_body);

  CHECK(whole.rc == parts.rc && whole.rc == inplace.rc);
  CHECK(whole.consumed == parts.consumed && whole.consumed == inplace.consumed);
  CHECK(whole.produced == parts.produced && whole.produced == inplace.produced);
  CHECK(memcmp(out1, out2, whole.produced) == 0);
  CHECK(memcmp(out1, buf, whole.produced) == 0);
  if (whole.rc == 0) CHECK(whole.consumed >= 5 && memcmp(in + whole.consumed - 2, "\r\n", 2) == 0);
  free(out1);
  free(out2);
  free(buf);
  return 0;
}
