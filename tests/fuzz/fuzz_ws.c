/* fuzz_ws.c - libFuzzer target for the WebSocket frame parser.
 *
 * Input layout: byte 0 picks max_message; byte 1 says how many of the
 * following bytes are piece sizes; the rest is the byte stream, fed in those
 * pieces (cycled) the way a connection feeds it, keeping the unconsumed
 * tail. Every input runs once as a server (clients mask) and once as a
 * client (servers do not). */
#undef NDEBUG /* the checks are the point of this file */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "net/ws.h"

static const size_t max_messages[4] = {0, 16, 1024, 1 << 20};

typedef struct check {
  size_t max_message;
} check;

static int on_message(void *ud, int opcode, const uint8_t *data, size_t len) {
  const check *c = ud;
  assert(data != NULL);
  /* Read every byte so ASan sees any pointer past the buffer. */
  volatile uint8_t sink = 0;
  for (size_t i = 0; i < len; i++) sink ^= data[i];
  (void)sink;
  switch (opcode) {
    case VG_WS_TEXT:
      assert(vg_utf8_valid(data, len));
      /* fall through */
    case VG_WS_BINARY:
      assert(len <= c->max_message);
      break;
    case VG_WS_CLOSE:
      assert(len != 1 && len <= VG_WS_MAX_CONTROL);
      break;
    case VG_WS_PING:
    case VG_WS_PONG:
      assert(len <= VG_WS_MAX_CONTROL);
      break;
    default:
      assert(!"unexpected opcode");
  }
  return 0;
}

static void run(bool masked, size_t max_message, const uint8_t *sizes, size_t nsizes,
                const uint8_t *data, size_t len) {
  vg_ws_parser p;
  vg_ws_parser_init(&p, masked, max_message);
  check c = {max_message};
  uint8_t *pending = malloc(len ? len : 1);
  size_t have = 0, pos = 0, k = 0;
  while (pos < len) {
    size_t piece = nsizes ? (size_t)sizes[k++ % nsizes] + 1 : len;
    if (piece > len - pos) piece = len - pos;
    memcpy(pending + have, data + pos, piece);
    have += piece;
    pos += piece;
    size_t consumed = 0;
    uint16_t code = 0;
    int rc = vg_ws_parser_feed(&p, pending, have, &consumed, on_message, &c, &code);
    assert(consumed <= have);
    if (rc) {
      assert(rc == VG_EPROTO || rc == VG_EINVAL || rc == VG_ETOOBIG || rc == VG_ENOMEM);
      assert(code == 1002 || code == 1007 || code == 1009 || code == 1011);
      break;
    }
    memmove(pending, pending + consumed, have - consumed);
    have -= consumed;
    if (p.closed) assert(have == 0);
  }
  assert(p.msg_cap <= max_message);
  free(pending);
  vg_ws_parser_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  if (len < 2) return 0;
  size_t max_message = max_messages[data[0] & 3];
  size_t nsizes = data[1] & 15;
  data += 2;
  len -= 2;
  if (nsizes > len) nsizes = len;
  const uint8_t *sizes = data;
  data += nsizes;
  len -= nsizes;
  run(true, max_message, sizes, nsizes, data, len);
  run(false, max_message, sizes, nsizes, data, len);
  return 0;
}
