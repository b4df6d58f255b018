/* sniff.h - tells the protocols of the media listener apart by the first
 * bytes of a connection.
 *
 * One port carries RTMP and HTTP/WebSocket, and one TLS port RTMPS and
 * WSS (DESIGN.md "Ports"). The first bytes decide: RTMP's handshake opens
 * with C0 = 0x03 (the version byte), TLS with a handshake record holding a
 * ClientHello (0x16 0x03 0x0N, a length, then handshake type 0x01), and
 * anything else is taken for HTTP, whose parser answers 400 to junk.
 * Pure: no I/O, so unit tests and the fuzz target call it directly. */
#ifndef VG_SNIFF_H
#define VG_SNIFF_H

#include <stddef.h>
#include <stdint.h>

typedef enum vg_sniff_proto {
  VG_SNIFF_HTTP = 0, /* HTTP/1.1 or a WebSocket upgrade (and junk) */
  VG_SNIFF_TLS,      /* a TLS ClientHello */
  VG_SNIFF_RTMP,     /* an RTMP handshake (C0) */
} vg_sniff_proto;

/* Bytes the sniffer may need before it decides (the TLS record header
 * plus the handshake type). */
#define VG_SNIFF_MAX_BYTES 6

/* Classifies a connection from its first len bytes. Returns 0 with *out
 * set, or VG_EAGAIN when the bytes so far could still be more than one
 * protocol (never more than VG_SNIFF_MAX_BYTES are needed). */
int vg_sniff_classify(const uint8_t *data, size_t len, vg_sniff_proto *out);

/* "http", "tls", "rtmp" */
const char *vg_sniff_name(vg_sniff_proto p);

#endif
