/* ws.h - WebSocket (RFC 6455) framing as pure functions over a buffer.
 *
 * vg_ws_parser turns bytes from a client into whole messages: it checks the
 * masking rule, reassembles fragmented text/binary messages (bounded by
 * max_message), lets control frames interleave, validates UTF-8 of text
 * messages and close reasons, and reports the close code to send when the
 * peer breaks a rule (1002 protocol, 1007 bad UTF-8, 1009 too big). The
 * parser owns one growable reassembly buffer; everything else points into
 * the caller's bytes. Frames the server sends are built with
 * vg_ws_frame_header (servers never mask). */
#ifndef VG_WS_H
#define VG_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
  VG_WS_CONT = 0x0,
  VG_WS_TEXT = 0x1,
  VG_WS_BINARY = 0x2,
  VG_WS_CLOSE = 0x8,
  VG_WS_PING = 0x9,
  VG_WS_PONG = 0xA,
};

#define VG_WS_MAX_HEADER 14
#define VG_WS_MAX_CONTROL 125

/* Called for every complete message: text/binary after reassembly, and each
 * ping, pong, close (data = payload; for close, code + reason as sent).
 * data is valid only during the call. A non-zero return stops feeding and
 * is returned by vg_ws_parser_feed. */
typedef int (*vg_ws_message_cb)(void *ud, int opcode, const uint8_t *data, size_t len);

typedef struct vg_ws_parser {
  bool expect_masked; /* true on the server side: clients must mask */
  size_t max_message; /* bound on a reassembled message */
  int msg_opcode;     /* opcode of the fragmented message in progress, 0 if none */
  uint8_t *msg;       /* reassembly buffer */
  size_t msg_len, msg_cap;
  bool closed; /* a close frame was seen: ignore everything after */
} vg_ws_parser;

void vg_ws_parser_init(vg_ws_parser *p, bool expect_masked, size_t max_message);
void vg_ws_parser_free(vg_ws_parser *p);

/* Consumes as many complete frames from buf[0..len) as there are, calling
 * cb for each complete message, and sets *consumed (the caller keeps the
 * rest for the next call; the parser may unmask frames in place, so buf is
 * writable). Returns 0, the callback's non-zero value, or VG_EPROTO /
 * VG_ETOOBIG / VG_EINVAL with *close_code set (1002, 1009, 1007). */
int vg_ws_parser_feed(vg_ws_parser *p, uint8_t *buf, size_t len, size_t *consumed,
                      vg_ws_message_cb cb, void *ud, uint16_t *close_code);

/* Writes an unmasked frame header for a payload of len bytes; returns its
 * size (2 to 10 bytes). */
size_t vg_ws_frame_header(uint8_t out[VG_WS_MAX_HEADER], int opcode, bool fin, uint64_t len);

/* Computes Sec-WebSocket-Accept for a client key (29 chars + NUL). Returns
 * VG_EINVAL when the key is not 16 bytes of base64. */
int vg_ws_accept_key(const char *key, size_t len, char out[29]);

/* True when data is valid UTF-8 (no overlongs, surrogates or > U+10FFFF). */
bool vg_utf8_valid(const uint8_t *data, size_t len);

#endif
