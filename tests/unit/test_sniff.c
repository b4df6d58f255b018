/* test_sniff.c - the media listener's first bytes: RTMP's C0, a real TLS
 * ClientHello record header, HTTP requests and junk. */
#include <criterion/criterion.h>
#include <string.h>

#include "base/err.h"
#include "net/sniff.h"

static int classify(const char *bytes, size_t len, vg_sniff_proto *p) {
  return vg_sniff_classify((const uint8_t *)bytes, len, p);
}

Test(sniff, rtmp_handshake_is_decided_by_its_first_byte) {
  vg_sniff_proto p;
  cr_assert_eq(classify("\x03\x00\x00\x00", 1, &p), 0);
  cr_assert_eq(p, VG_SNIFF_RTMP);
}

Test(sniff, client_hello_needs_six_bytes) {
  /* TLS 1.2 ClientHello record: handshake, 3.1, length 0x0200, type 1 */
  const char hello[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc";
  vg_sniff_proto p;
  for (size_t n = 0; n < 6; n++) cr_assert_eq(classify(hello, n, &p), VG_EAGAIN, "%zu bytes", n);
  cr_assert_eq(classify(hello, 6, &p), 0);
  cr_assert_eq(p, VG_SNIFF_TLS);
  cr_assert_eq(classify(hello, 9, &p), 0);
  cr_assert_eq(p, VG_SNIFF_TLS);
}

Test(sniff, http_and_junk_go_to_http) {
  vg_sniff_proto p;
  cr_assert_eq(classify("GET / HTTP/1.1\r\n", 16, &p), 0);
  cr_assert_eq(p, VG_SNIFF_HTTP);
  cr_assert_eq(classify("\xff\xfe", 1, &p), 0);
  cr_assert_eq(p, VG_SNIFF_HTTP);
  /* 0x16 but not a ClientHello: bad version, record too long, not type 1 */
  cr_assert_eq(classify("\x16\x02", 2, &p), 0);
  cr_assert_eq(p, VG_SNIFF_HTTP);
  cr_assert_eq(classify("\x16\x03\x07", 3, &p), 0);
  cr_assert_eq(p, VG_SNIFF_HTTP);
  cr_assert_eq(classify("\x16\x03\x01\x50\x00", 5, &p), 0);
  cr_assert_eq(p, VG_SNIFF_HTTP);
  cr_assert_eq(classify("\x16\x03\x01\x00\x30\x02", 6, &p), 0);
  cr_assert_eq(p, VG_SNIFF_HTTP);
  cr_assert_str_eq(vg_sniff_name(VG_SNIFF_RTMP), "rtmp");
}
