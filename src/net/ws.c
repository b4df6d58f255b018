/* ws.c - WebSocket (RFC 6455) framing: the frame parser, frame headers for
 * what the server sends, the handshake accept key and UTF-8 validation.
 *
 * The parser never consumes part of a frame: a frame is handled only once
 * all of its bytes are in the caller's buffer, so the caller keeps the tail
 * and feeds it again with more bytes. Everything a header alone can prove
 * wrong (reserved bits, opcodes, masking, control-frame rules, a length
 * past max_message) is refused as soon as the header is in, before any of
 * the payload has to be buffered.
 *
 * Memory: an unfragmented frame is unmasked in place and handed to the
 * callback as a pointer into the caller's buffer, so the common case (one
 * video chunk, one frame) copies nothing. Only fragmented messages are
 * copied into p->msg, which grows geometrically and never past
 * max_message. */
#include "ws.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "base/crypto.h"
#include "base/err.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_KEY_LEN 24 /* base64 of 16 bytes, with "==" */
#define WS_MSG_MIN_CAP 256

enum {
  WS_CLOSE_PROTOCOL = 1002,
  WS_CLOSE_BAD_DATA = 1007,
  WS_CLOSE_TOO_BIG = 1009,
  WS_CLOSE_INTERNAL = 1011,
};

/* A frame header as read off the wire. */
typedef struct ws_frame {
  bool fin;
  int opcode;
  bool masked;
  uint8_t mask[4];
  uint64_t len;   /* payload length */
  size_t hdr_len; /* bytes before the payload */
} ws_frame;

static const uint8_t ws_empty[1];

void vg_ws_parser_init(vg_ws_parser *p, bool expect_masked, size_t max_message) {
  memset(p, 0, sizeof *p);
  p->expect_masked = expect_masked;
  p->max_message = max_message;
}

void vg_ws_parser_free(vg_ws_parser *p) {
  free(p->msg);
  p->msg = NULL;
  p->msg_len = p->msg_cap = 0;
  p->msg_opcode = 0;
}

static bool ws_is_control(int opcode) { return opcode & 0x8; }

static int ws_fail(uint16_t *close_code, uint16_t code, int err) {
  if (close_code) *close_code = code;
  return err;
}

/* Reads and checks the header at buf[0..len). Returns 0 with *f filled,
 * VG_EAGAIN when more bytes are needed to finish the checks, or an error
 * with *close_code set. Every check that the first two bytes allow runs
 * before waiting for the rest, so a bad header is refused early. */
static int ws_read_header(const vg_ws_parser *p, const uint8_t *buf, size_t len, ws_frame *f,
                          uint16_t *close_code) {
  if (len < 2) return VG_EAGAIN;
  uint8_t b0 = buf[0], b1 = buf[1];
  f->fin = b0 & 0x80;
  f->opcode = b0 & 0x0F;
  f->masked = b1 & 0x80;
  uint8_t len7 = b1 & 0x7F;

  /* No extension is ever negotiated, so the reserved bits must be clear. */
  if (b0 & 0x70) return ws_fail(close_code, WS_CLOSE_PROTOCOL, VG_EPROTO);
  switch (f->opcode) {
    case VG_WS_CONT:
      if (!p->msg_opcode) return ws_fail(close_code, WS_CLOSE_PROTOCOL, VG_EPROTO);
      break;
    case VG_WS_TEXT:
    case VG_WS_BINARY:
      if (p->msg_opcode) return ws_fail(close_code, WS_CLOSE_PROTOCOL, VG_EPROTO);
      break;
    case VG_WS_CLOSE:
    case VG_WS_PING:
    case VG_WS_PONG:
      if (!f->fin || len7 > VG_WS_MAX_CONTROL)
        return ws_fail(close_code, WS_CLOSE_PROTOCOL, VG_EPROTO);
      break;
    default:
      return ws_fail(close_code, WS_CLOSE_PROTOCOL, VG_EPROTO);
  }
  if (f->masked != p->expect_masked) return ws_fail(close_code, WS_CLOSE_PROTOCOL, VG_EPROTO);

  size_t ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
  f->hdr_len = 2 + ext + (f->masked ? 4 : 0);
  if (len < 2 + ext) return VG_EAGAIN;
  if (len7 == 126) {
    f->len = (uint64_t)buf[2] << 8 | buf[3];
  } else if (len7 == 127) {
    f->len = 0;
    for (int i = 0; i < 8; i++) f->len = f->len << 8 | buf[2 + i];
    if (f->len >> 63) return ws_fail(close_code, WS_CLOSE_PROTOCOL, VG_EPROTO);
  } else {
    f->len = len7;
  }

  /* Refuse an oversized message on its declared length, before buffering
   * a byte of it; msg_len <= max_message holds, so this cannot wrap. */
  if (!ws_is_control(f->opcode)) {
    size_t have = f->opcode == VG_WS_CONT ? p->msg_len : 0;
    if (f->len > (uint64_t)(p->max_message - have))
      return ws_fail(close_code, WS_CLOSE_TOO_BIG, VG_ETOOBIG);
  }

  if (len < f->hdr_len) return VG_EAGAIN;
  if (f->masked) memcpy(f->mask, buf + 2 + ext, 4);
  return 0;
}

/* XORs data with the 4-byte mask, eight bytes per step; data need not be
 * aligned (memcpy loads and stores compile to plain unaligned moves). */
static void ws_unmask(uint8_t *data, size_t len, const uint8_t mask[4]) {
  uint8_t m8[8];
  memcpy(m8, mask, 4);
  memcpy(m8 + 4, mask, 4);
  uint64_t m;
  memcpy(&m, m8, 8);
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t v;
    memcpy(&v, data + i, 8);
    v ^= m;
    memcpy(data + i, &v, 8);
  }
  for (; i < len; i++) data[i] ^= mask[i & 3];
}

static bool ws_close_code_valid(unsigned code) {
  if (code >= 1000 && code <= 1003) return true;
  /* 1004 is reserved; 1005, 1006 and 1015 must never be on the wire.
   * 1012-1014 were registered after RFC 6455 and Autobahn accepts them. */
  if (code >= 1007 && code <= 1014) return true;
  return code >= 3000 && code <= 4999;
}

/* Checks a close payload: empty, or a valid code and a UTF-8 reason. */
static int ws_check_close(const uint8_t *data, size_t len, uint16_t *close_code) {
  if (len == 0) return 0;
  if (len == 1) return ws_fail(close_code, WS_CLOSE_PROTOCOL, VG_EPROTO);
  unsigned code = (unsigned)data[0] << 8 | data[1];
  if (!ws_close_code_valid(code)) return ws_fail(close_code, WS_CLOSE_PROTOCOL, VG_EPROTO);
  if (!vg_utf8_valid(data + 2, len - 2)) return ws_fail(close_code, WS_CLOSE_BAD_DATA, VG_EINVAL);
  return 0;
}

/* Appends a fragment to the reassembly buffer. The caller has checked that
 * msg_len + len <= max_message, so growth stops at max_message. */
static int ws_msg_append(vg_ws_parser *p, const uint8_t *data, size_t len) {
  size_t need = p->msg_len + len;
  if (need > p->msg_cap) {
    size_t cap = p->msg_cap ? p->msg_cap : WS_MSG_MIN_CAP;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > p->max_message) cap = p->max_message;
    uint8_t *m = realloc(p->msg, cap);
    if (!m) return VG_ENOMEM;
    p->msg = m;
    p->msg_cap = cap;
  }
  if (len) memcpy(p->msg + p->msg_len, data, len);
  p->msg_len = need;
  return 0;
}

/* A message ready for the callback. */
typedef struct ws_msg {
  int opcode; /* 0 when the frame completed nothing (a middle fragment) */
  const uint8_t *data;
  size_t len;
} ws_msg;

/* Handles one complete frame whose payload (already unmasked) is data, and
 * fills *out with the message it completes, if any. Returns 0 or an error
 * with *close_code set. */
static int ws_on_frame(vg_ws_parser *p, const ws_frame *f, const uint8_t *data, size_t len,
                       ws_msg *out, uint16_t *close_code) {
  int rc;
  *out = (ws_msg){0, NULL, 0};
  if (ws_is_control(f->opcode)) {
    if (f->opcode == VG_WS_CLOSE) {
      if ((rc = ws_check_close(data, len, close_code))) return rc;
      p->closed = true;
    }
    *out = (ws_msg){f->opcode, data, len};
    return 0;
  }

  if (f->opcode != VG_WS_CONT && f->fin) {
    /* The common case: a whole message in one frame, zero-copy. */
    if (f->opcode == VG_WS_TEXT && !vg_utf8_valid(data, len))
      return ws_fail(close_code, WS_CLOSE_BAD_DATA, VG_EINVAL);
    *out = (ws_msg){f->opcode, data, len};
    return 0;
  }

  if (f->opcode != VG_WS_CONT) {
    p->msg_opcode = f->opcode;
    p->msg_len = 0;
  }
  if ((rc = ws_msg_append(p, data, len))) return ws_fail(close_code, WS_CLOSE_INTERNAL, rc);
  if (!f->fin) return 0;

  /* A code point may straddle fragments, so check the whole message. */
  int opcode = p->msg_opcode;
  size_t mlen = p->msg_len;
  p->msg_opcode = 0;
  p->msg_len = 0;
  const uint8_t *msg = p->msg ? p->msg : ws_empty;
  if (opcode == VG_WS_TEXT && !vg_utf8_valid(msg, mlen))
    return ws_fail(close_code, WS_CLOSE_BAD_DATA, VG_EINVAL);
  *out = (ws_msg){opcode, msg, mlen};
  return 0;
}

int vg_ws_parser_feed(vg_ws_parser *p, uint8_t *buf, size_t len, size_t *consumed,
                      vg_ws_message_cb cb, void *ud, uint16_t *close_code) {
  size_t off = 0;
  int rc = 0;
  while (!p->closed && off < len) {
    ws_frame f;
    rc = ws_read_header(p, buf + off, len - off, &f, close_code);
    if (rc == VG_EAGAIN) {
      rc = 0;
      break;
    }
    if (rc) break;
    /* ws_read_header saw all hdr_len bytes, so this cannot wrap. */
    if (f.len > (uint64_t)(len - off - f.hdr_len)) break;
    size_t plen = (size_t)f.len;
    uint8_t *payload = buf + off + f.hdr_len;
    if (f.masked) ws_unmask(payload, plen, f.mask);
    ws_msg m;
    /* A refused frame stays unconsumed, so *consumed marks where the
     * peer went wrong; the connection is failed after this anyway. */
    if ((rc = ws_on_frame(p, &f, plen ? payload : ws_empty, plen, &m, close_code))) break;
    /* The frame is consumed before the callback runs: it is unmasked in
     * place now and must never be parsed again. */
    off += f.hdr_len + plen;
    if (m.opcode && cb && (rc = cb(ud, m.opcode, m.data, m.len))) break;
  }
  /* After a close frame nothing the peer sends matters. */
  if (p->closed) off = len;
  *consumed = off;
  return rc;
}

size_t vg_ws_frame_header(uint8_t out[VG_WS_MAX_HEADER], int opcode, bool fin, uint64_t len) {
  out[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0F));
  if (len < 126) {
    out[1] = (uint8_t)len;
    return 2;
  }
  if (len <= 0xFFFF) {
    out[1] = 126;
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
    return 4;
  }
  out[1] = 127;
  for (int i = 0; i < 8; i++) out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
  return 10;
}

static int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

int vg_ws_accept_key(const char *key, size_t len, char out[29]) {
  /* 16 bytes encode to 22 characters and "==". */
  if (len != WS_KEY_LEN || key[22] != '=' || key[23] != '=') return VG_EINVAL;
  for (size_t i = 0; i < 22; i++)
    if (b64_value(key[i]) < 0) return VG_EINVAL;

  char in[WS_KEY_LEN + sizeof WS_GUID - 1];
  memcpy(in, key, WS_KEY_LEN);
  memcpy(in + WS_KEY_LEN, WS_GUID, sizeof WS_GUID - 1);
  uint8_t digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(in, sizeof in, digest, &n, EVP_sha1(), NULL) != 1 || n != 20) return VG_EIO;
  vg_base64(digest, 20, out);
  return 0;
}

bool vg_utf8_valid(const uint8_t *s, size_t len) {
  size_t i = 0;
  while (i < len) {
    /* Most text is ASCII: skip it eight bytes at a time. */
    while (i + 8 <= len) {
      uint64_t v;
      memcpy(&v, s + i, 8);
      if (v & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= len) break;
    uint8_t c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t n;
    uint8_t lo = 0x80, hi = 0xBF; /* bounds on the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
      n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 3;
      if (c == 0xE0)
        lo = 0xA0; /* overlong */
      else if (c == 0xED)
        hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 4;
      if (c == 0xF0)
        lo = 0x90; /* overlong */
      else if (c == 0xF4)
        hi = 0x8F; /* past U+10FFFF */
    } else {
      return false; /* stray continuation, C0/C1 overlong, or F5-FF */
    }
    if (len - i < n) return false;
    if (s[i + 1] < lo || s[i + 1] > hi) return false;
    for (size_t k = 2; k < n; k++)
      if ((s[i + k] & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}
