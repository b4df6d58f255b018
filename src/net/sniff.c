/* sniff.c - first-bytes protocol detection for the media listener. */
#include "sniff.h"

#include <stdbool.h>

#include "base/err.h"

#define TLS_HANDSHAKE 0x16
#define TLS_CLIENT_HELLO 0x01
/* Largest TLSPlaintext fragment (RFC 8446 5.1); a ClientHello record is
 * never longer. */
#define TLS_MAX_RECORD 16384
#define RTMP_VERSION 0x03

const char *vg_sniff_name(vg_sniff_proto p) {
  switch (p) {
    case VG_SNIFF_TLS:
      return "tls";
    case VG_SNIFF_RTMP:
      return "rtmp";
    default:
      return "http";
  }
}

int vg_sniff_classify(const uint8_t *data, size_t len, vg_sniff_proto *out) {
  if (len == 0) return VG_EAGAIN;
  if (data[0] == RTMP_VERSION) {
    *out = VG_SNIFF_RTMP;
    return 0;
  }
  if (data[0] != TLS_HANDSHAKE) {
    *out = VG_SNIFF_HTTP;
    return 0;
  }
  /* Each further byte either keeps the ClientHello reading alive or
   * settles it as "not TLS": the HTTP parser then answers 400. */
  static const int need = VG_SNIFF_MAX_BYTES;
  for (size_t i = 1; i < (size_t)need; i++) {
    if (i >= len) return VG_EAGAIN;
    uint8_t b = data[i];
    bool ok = true;
    switch (i) {
      case 1: /* legacy record version major */
        ok = b == 0x03;
        break;
      case 2: /* minor: SSL 3.0 (0) to TLS 1.3's 4; ClientHellos say 1 */
        ok = b <= 0x04;
        break;
      case 4: {
        unsigned rec = (unsigned)data[3] << 8 | b;
        ok = rec >= 4 && rec <= TLS_MAX_RECORD;
        break;
      }
      case 5:
        ok = b == TLS_CLIENT_HELLO;
        break;
      default:
        break;
    }
    if (!ok) {
      *out = VG_SNIFF_HTTP;
      return 0;
    }
  }
  *out = VG_SNIFF_TLS;
  return 0;
}
