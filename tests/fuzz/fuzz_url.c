/* fuzz_url.c - libFuzzer target for the value grammars: percent-decoding,
 * query lookup, cookie lookup, Range and the header token list.
 *
 * Byte 0 sets the output size, then the input is "value\nkey". Results
 * must stay inside the buffers they were given and obey the promised
 * shapes (NUL-terminated, no embedded NUL, start <= end < size). */
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

static void check_decoded(int rc, const char *out, size_t outlen, size_t srclen) {
  CHECK(rc == VG_EINVAL || rc >= 0);
  if (rc < 0) return;
  CHECK((size_t)rc < outlen && (size_t)rc <= srclen);
  CHECK(out[rc] == 0 && strlen(out) == (size_t)rc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t outlen = data[0];
  const char *v = (const char *)data + 1;
  size_t vlen = size - 1;
  const char *nl = memchr(v, '\n', vlen);
  size_t klen = nl ? vlen - (size_t)(nl - v) - 1 : 0;
  if (nl) vlen = (size_t)(nl - v);
  char *key = calloc(1, klen + 1);
  if (klen) memcpy(key, nl + 1, klen);
  klen = strlen(key); /* the key is a C string: an embedded NUL ends it */

  char *out = malloc(outlen ? outlen : 1);
  for (int plus = 0; plus < 2; plus++) {
    int rc = vg_http_url_decode(v, vlen, out, outlen, plus);
    check_decoded(rc, out, outlen, vlen);
    if (rc >= 0) {
      size_t pct = 0;
      for (size_t i = 0; i < vlen; i++) pct += v[i] == '%';
      CHECK((size_t)rc == vlen - 2 * pct);
    }
  }
  int rc = vg_http_query_get(v, vlen, key, out, outlen);
  CHECK(rc == VG_ENOTFOUND || rc == VG_EINVAL || rc >= 0);
  if (rc != VG_ENOTFOUND) check_decoded(rc, out, outlen, vlen);

  const char *val;
  size_t len;
  if (vg_http_cookie_get(v, vlen, key, &val, &len) == 0) {
    CHECK(val >= v && len <= vlen && (size_t)(val - v) <= vlen - len);
    CHECK(!memchr(val, ';', len));
  }

  uint64_t sizes[] = {0, 1, 2, 1000, UINT64_MAX - 1, UINT64_MAX, (uint64_t)outlen * 977};
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    uint64_t s = 0, e = 0;
    rc = vg_http_parse_range(v, vlen, sizes[i], &s, &e);
    CHECK(rc == 0 || rc == VG_EINVAL || rc == VG_ENOTFOUND);
    if (rc == 0) CHECK(s <= e && e < sizes[i]);
  }

  bool has = vg_http_header_has_token(v, vlen, key);
  if (has) CHECK(klen > 0 && klen <= vlen);
  const char *reason = vg_http_reason((int)(vlen ? (unsigned char)v[0] * 3 : 0));
  CHECK(reason && reason[0]);

  free(out);
  free(key);
  return 0;
}
