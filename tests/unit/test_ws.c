/* test_ws.c - WebSocket framing: RFC 6455 examples, every protocol violation
 * with the close code a peer would see, size limits, UTF-8, frame headers and
 * the handshake accept key. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "net/ws.h"

#define MAX_MSGS 16

/* What the callback saw, copied out because data is valid only during it. */
typedef struct rec {
  int n;
  int opcode[MAX_MSGS];
  uint8_t *data[MAX_MSGS];
  size_t len[MAX_MSGS];
  int stop_after; /* return 1 from the callback after this many, 0 = never */
} rec;

static int rec_cb(void *ud, int opcode, const uint8_t *data, size_t len) {
  rec *r = ud;
  cr_assert_lt(r->n, MAX_MSGS);
  cr_assert_not_null(data);
  r->opcode[r->n] = opcode;
  r->data[r->n] = malloc(len ? len : 1);
  if (len) memcpy(r->data[r->n], data, len);
  r->len[r->n] = len;
  r->n++;
  return r->stop_after && r->n >= r->stop_after ? 1 : 0;
}

static void rec_free(rec *r) {
  for (int i = 0; i < r->n; i++) free(r->data[i]);
  memset(r, 0, sizeof *r);
}

/* Outcome of feeding a byte stream the way a connection would. */
typedef struct result {
  int rc;
  uint16_t code;
  size_t left; /* bytes the caller still holds after the last feed */
} result;

/* Feeds in[0..len) in pieces cut at cuts[0..ncuts) (ascending), keeping the
 * unconsumed tail like a caller does. Stops at the first non-zero return. */
static result feed_cut(vg_ws_parser *p, const uint8_t *in, size_t len, const size_t *cuts,
                       size_t ncuts, rec *r) {
  uint8_t *pending = malloc(len ? len : 1);
  size_t have = 0, pos = 0;
  result res = {0, 0, 0};
  for (size_t k = 0; k <= ncuts; k++) {
    size_t end = k < ncuts ? cuts[k] : len;
    memcpy(pending + have, in + pos, end - pos);
    have += end - pos;
    pos = end;
    size_t consumed = 0;
    res.rc = vg_ws_parser_feed(p, pending, have, &consumed, rec_cb, r, &res.code);
    cr_assert_leq(consumed, have);
    memmove(pending, pending + consumed, have - consumed);
    have -= consumed;
    if (res.rc) break;
  }
  res.left = have;
  free(pending);
  return res;
}

static result feed_all(vg_ws_parser *p, const uint8_t *in, size_t len, rec *r) {
  return feed_cut(p, in, len, NULL, 0, r);
}

/* One-shot: a fresh parser, the whole input at once. */
static result parse(bool masked, size_t max, const uint8_t *in, size_t len, rec *r) {
  vg_ws_parser p;
  vg_ws_parser_init(&p, masked, max);
  result res = feed_all(&p, in, len, r);
  vg_ws_parser_free(&p);
  return res;
}

/* Appends a frame to out at *off, masked with key when key is non-NULL;
 * raw_b0 lets a test set reserved bits or odd opcodes. */
static void put_frame(uint8_t *out, size_t *off, uint8_t b0, const uint8_t *key,
                      const void *payload, size_t len) {
  uint8_t hdr[VG_WS_MAX_HEADER];
  size_t h = vg_ws_frame_header(hdr, 0, false, len);
  hdr[0] = b0;
  if (key) hdr[1] |= 0x80;
  memcpy(out + *off, hdr, h);
  *off += h;
  if (key) {
    memcpy(out + *off, key, 4);
    *off += 4;
  }
  for (size_t i = 0; i < len; i++)
    out[*off + i] = ((const uint8_t *)payload)[i] ^ (key ? key[i & 3] : 0);
  *off += len;
}

static const uint8_t KEY[4] = {0x37, 0xfa, 0x21, 0x3d};

static void expect_msg(const rec *r, int i, int opcode, const void *data, size_t len) {
  cr_assert_gt(r->n, i);
  cr_assert_eq(r->opcode[i], opcode, "message %d: opcode %d, want %d", i, r->opcode[i], opcode);
  cr_assert_eq(r->len[i], len, "message %d: %zu bytes, want %zu", i, r->len[i], len);
  cr_assert(len == 0 || memcmp(r->data[i], data, len) == 0, "message %d differs", i);
}

/* Expects in[0..len) to fail on a fresh parser with rc and code. */
static void expect_fail(bool masked, const uint8_t *in, size_t len, int rc, uint16_t code) {
  rec r = {0};
  result res = parse(masked, 1 << 20, in, len, &r);
  cr_assert_eq(res.rc, rc, "rc %d (%s), want %d", res.rc, vg_strerror(res.rc), rc);
  cr_assert_eq(res.code, code, "close code %u, want %u", res.code, code);
  rec_free(&r);
}

/* ---- RFC 6455 section 5.7 examples ---- */

Test(ws, rfc_unmasked_hello) {
  uint8_t in[] = {0x81, 0x05, 'H', 'e', 'l', 'l', 'o'};
  rec r = {0};
  result res = parse(false, 1024, in, sizeof in, &r);
  cr_assert_eq(res.rc, 0);
  cr_assert_eq(res.left, 0);
  cr_assert_eq(r.n, 1);
  expect_msg(&r, 0, VG_WS_TEXT, "Hello", 5);
  rec_free(&r);
}

Test(ws, rfc_masked_hello) {
  uint8_t in[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
  rec r = {0};
  result res = parse(true, 1024, in, sizeof in, &r);
  cr_assert_eq(res.rc, 0);
  cr_assert_eq(res.left, 0);
  cr_assert_eq(r.n, 1);
  expect_msg(&r, 0, VG_WS_TEXT, "Hello", 5);
  rec_free(&r);
}

Test(ws, rfc_fragmented_hello) {
  uint8_t in[] = {0x01, 0x03, 'H', 'e', 'l', 0x80, 0x02, 'l', 'o'};
  rec r = {0};
  vg_ws_parser p;
  vg_ws_parser_init(&p, false, 1024);
  result res = feed_all(&p, in, sizeof in, &r);
  cr_assert_eq(res.rc, 0);
  cr_assert_eq(r.n, 1);
  expect_msg(&r, 0, VG_WS_TEXT, "Hello", 5);
  cr_assert_eq(p.msg_opcode, 0, "no message left in progress");
  vg_ws_parser_free(&p);
  rec_free(&r);
}

Test(ws, rfc_ping_pong_masked) {
  uint8_t in[] = {0x89, 0x05, 'H', 'e', 'l', 'l', 'o'};
  rec r = {0};
  cr_assert_eq(parse(false, 1024, in, sizeof in, &r).rc, 0);
  expect_msg(&r, 0, VG_WS_PING, "Hello", 5);
  rec_free(&r);

  uint8_t pong[] = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
  cr_assert_eq(parse(true, 1024, pong, sizeof pong, &r).rc, 0);
  expect_msg(&r, 0, VG_WS_PONG, "Hello", 5);
  rec_free(&r);
}

Test(ws, ping_interleaves_fragments) {
  uint8_t in[64];
  size_t n = 0;
  put_frame(in, &n, 0x01, KEY, "Hel", 3);
  put_frame(in, &n, 0x89, KEY, "ping", 4);
  put_frame(in, &n, 0x00, KEY, "l", 1);
  put_frame(in, &n, 0x8a, KEY, "", 0);
  put_frame(in, &n, 0x80, KEY, "o", 1);
  rec r = {0};
  result res = parse(true, 1024, in, n, &r);
  cr_assert_eq(res.rc, 0);
  cr_assert_eq(r.n, 3);
  expect_msg(&r, 0, VG_WS_PING, "ping", 4);
  expect_msg(&r, 1, VG_WS_PONG, "", 0);
  expect_msg(&r, 2, VG_WS_TEXT, "Hello", 5);
  rec_free(&r);
}

Test(ws, rfc_binary_256_bytes) {
  uint8_t in[4 + 256];
  memcpy(in, (uint8_t[]){0x82, 0x7E, 0x01, 0x00}, 4);
  for (int i = 0; i < 256; i++) in[4 + i] = (uint8_t)i;
  rec r = {0};
  result res = parse(false, 1 << 20, in, sizeof in, &r);
  cr_assert_eq(res.rc, 0);
  expect_msg(&r, 0, VG_WS_BINARY, in + 4, 256);
  rec_free(&r);
}

Test(ws, rfc_binary_64k_masked) {
  size_t len = 65536;
  uint8_t *payload = malloc(len), *in = malloc(len + 14);
  for (size_t i = 0; i < len; i++) payload[i] = (uint8_t)(i * 31 + 7);
  size_t n = 0;
  put_frame(in, &n, 0x82, KEY, payload, len);
  uint8_t want_hdr[] = {0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0};
  cr_assert_arr_eq(in, want_hdr, sizeof want_hdr, "64-bit length for 64 KiB");
  rec r = {0};
  result res = parse(true, 1 << 20, in, n, &r);
  cr_assert_eq(res.rc, 0);
  expect_msg(&r, 0, VG_WS_BINARY, payload, len);
  rec_free(&r);
  free(payload);
  free(in);
}

static int ptr_cb(void *ud, int opcode, const uint8_t *data, size_t len) {
  *(const uint8_t **)ud = data;
  return 0;
}

Test(ws, unfragmented_frame_is_not_copied) {
  uint8_t in[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
  vg_ws_parser p;
  vg_ws_parser_init(&p, true, 1024);
  size_t consumed = 0;
  uint16_t code = 0;
  /* The callback sees the caller's bytes, unmasked in place. */
  const uint8_t *seen = NULL;
  cr_assert_eq(vg_ws_parser_feed(&p, in, sizeof in, &consumed, ptr_cb, &seen, &code), 0);
  cr_assert_eq(seen, in + 6);
  cr_assert_eq(consumed, sizeof in);
  cr_assert_arr_eq(in + 6, "Hello", 5);
  cr_assert_null(p.msg, "no reassembly buffer for a single frame");
  vg_ws_parser_free(&p);
}

Test(ws, unmask_all_lengths_and_alignments) {
  for (size_t off = 0; off < 8; off++) {
    for (size_t len = 0; len < 40; len++) {
      uint8_t payload[40], in[64];
      for (size_t i = 0; i < len; i++) payload[i] = (uint8_t)(i * 13 + off);
      /* A leading ping of off bytes shifts the frame to every alignment. */
      size_t n = 0;
      put_frame(in, &n, 0x89, KEY, "abcdefgh", off);
      put_frame(in, &n, 0x82, KEY, payload, len);
      rec r = {0};
      cr_assert_eq(parse(true, 1024, in, n, &r).rc, 0);
      cr_assert_eq(r.n, 2);
      expect_msg(&r, 1, VG_WS_BINARY, payload, len);
      rec_free(&r);
    }
  }
}

/* ---- feeding in pieces ---- */

/* A stream exercising every frame kind and all three length encodings. */
static size_t build_stream(uint8_t *in) {
  static uint8_t big[300];
  for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)i;
  size_t n = 0;
  put_frame(in, &n, 0x81, KEY, "Hello", 5);
  put_frame(in, &n, 0x01, KEY, "\xce\xba\xe1", 3); /* κ, then half of ό */
  put_frame(in, &n, 0x89, KEY, "p", 1);
  put_frame(in, &n, 0x80, KEY, "\xbd\xb9\xcf\x83", 4);
  put_frame(in, &n, 0x82, KEY, big, sizeof big);
  put_frame(in, &n, 0x02, KEY, big, 10);
  put_frame(in, &n, 0x00, KEY, "", 0);
  put_frame(in, &n, 0x80, KEY, big + 10, 200);
  put_frame(in, &n, 0x81, KEY, "", 0);
  put_frame(in, &n, 0x88, KEY,
            "\x03\xe8"
            "bye",
            5);
  return n;
}

static void expect_stream(const rec *r) {
  static uint8_t big[300];
  for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)i;
  cr_assert_eq(r->n, 7);
  expect_msg(r, 0, VG_WS_TEXT, "Hello", 5);
  expect_msg(r, 1, VG_WS_PING, "p", 1);
  expect_msg(r, 2, VG_WS_TEXT, "\xce\xba\xe1\xbd\xb9\xcf\x83", 7);
  expect_msg(r, 3, VG_WS_BINARY, big, 300);
  expect_msg(r, 4, VG_WS_BINARY, big, 210);
  expect_msg(r, 5, VG_WS_TEXT, "", 0);
  expect_msg(r, 6, VG_WS_CLOSE,
             "\x03\xe8"
             "bye",
             5);
}

Test(ws, split_at_every_offset) {
  uint8_t in[1024];
  size_t n = build_stream(in);
  for (size_t cut = 0; cut <= n; cut++) {
    vg_ws_parser p;
    vg_ws_parser_init(&p, true, 4096);
    rec r = {0};
    result res = feed_cut(&p, in, n, &cut, 1, &r);
    cr_assert_eq(res.rc, 0, "cut at %zu", cut);
    cr_assert_eq(res.left, 0);
    expect_stream(&r);
    cr_assert(p.closed);
    rec_free(&r);
    vg_ws_parser_free(&p);
  }
}

Test(ws, split_every_pair_of_offsets_in_small_frames) {
  uint8_t in[64];
  size_t n = 0;
  put_frame(in, &n, 0x01, KEY, "Hel", 3);
  put_frame(in, &n, 0x89, KEY, "x", 1);
  put_frame(in, &n, 0x80, KEY, "lo", 2);
  for (size_t a = 0; a <= n; a++) {
    for (size_t b = a; b <= n; b++) {
      size_t cuts[2] = {a, b};
      vg_ws_parser p;
      vg_ws_parser_init(&p, true, 64);
      rec r = {0};
      cr_assert_eq(feed_cut(&p, in, n, cuts, 2, &r).rc, 0);
      cr_assert_eq(r.n, 2);
      expect_msg(&r, 0, VG_WS_PING, "x", 1);
      expect_msg(&r, 1, VG_WS_TEXT, "Hello", 5);
      rec_free(&r);
      vg_ws_parser_free(&p);
    }
  }
}

Test(ws, one_byte_at_a_time) {
  uint8_t in[1024];
  size_t n = build_stream(in);
  size_t cuts[1024];
  for (size_t i = 0; i < n; i++) cuts[i] = i;
  vg_ws_parser p;
  vg_ws_parser_init(&p, true, 4096);
  rec r = {0};
  result res = feed_cut(&p, in, n, cuts, n, &r);
  cr_assert_eq(res.rc, 0);
  expect_stream(&r);
  rec_free(&r);
  vg_ws_parser_free(&p);
}

Test(ws, incomplete_frame_is_kept_by_the_caller) {
  uint8_t in[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
  for (size_t len = 0; len < sizeof in; len++) {
    vg_ws_parser p;
    vg_ws_parser_init(&p, true, 1024);
    uint8_t copy[sizeof in];
    memcpy(copy, in, sizeof in);
    size_t consumed = 99;
    uint16_t code = 0;
    rec r = {0};
    cr_assert_eq(vg_ws_parser_feed(&p, copy, len, &consumed, rec_cb, &r, &code), 0);
    cr_assert_eq(consumed, 0);
    cr_assert_eq(r.n, 0);
    cr_assert_arr_eq(copy, in, sizeof in, "a partial frame is left untouched");
    vg_ws_parser_free(&p);
  }
}

Test(ws, callback_stop_returns_its_value) {
  uint8_t in[64];
  size_t n = 0;
  put_frame(in, &n, 0x81, KEY, "a", 1);
  size_t first = n;
  put_frame(in, &n, 0x81, KEY, "b", 1);
  vg_ws_parser p;
  vg_ws_parser_init(&p, true, 64);
  rec r = {.stop_after = 1};
  size_t consumed = 0;
  uint16_t code = 0;
  cr_assert_eq(vg_ws_parser_feed(&p, in, n, &consumed, rec_cb, &r, &code), 1);
  cr_assert_eq(consumed, first, "the delivered frame counts as consumed");
  cr_assert_eq(r.n, 1);
  r.stop_after = 0;
  cr_assert_eq(vg_ws_parser_feed(&p, in + first, n - first, &consumed, rec_cb, &r, &code), 0);
  expect_msg(&r, 1, VG_WS_TEXT, "b", 1);
  rec_free(&r);
  vg_ws_parser_free(&p);
}

Test(ws, everything_after_close_is_ignored) {
  uint8_t in[64];
  size_t n = 0;
  put_frame(in, &n, 0x88, KEY, "\x03\xe8", 2);
  put_frame(in, &n, 0x81, KEY, "late", 4);
  in[n++] = 0xFF; /* garbage that would be a protocol error */
  vg_ws_parser p;
  vg_ws_parser_init(&p, true, 64);
  rec r = {0};
  size_t consumed = 0;
  uint16_t code = 0;
  cr_assert_eq(vg_ws_parser_feed(&p, in, n, &consumed, rec_cb, &r, &code), 0);
  cr_assert_eq(consumed, n);
  cr_assert(p.closed);
  cr_assert_eq(r.n, 1);
  expect_msg(&r, 0, VG_WS_CLOSE, "\x03\xe8", 2);
  uint8_t more[] = {0x81, 0x00, 0x70};
  cr_assert_eq(vg_ws_parser_feed(&p, more, sizeof more, &consumed, rec_cb, &r, &code), 0);
  cr_assert_eq(consumed, sizeof more);
  cr_assert_eq(r.n, 1);
  rec_free(&r);
  vg_ws_parser_free(&p);
}

Test(ws, close_without_payload_and_with_reason) {
  uint8_t in[64];
  size_t n = 0;
  put_frame(in, &n, 0x88, KEY, "", 0);
  rec r = {0};
  cr_assert_eq(parse(true, 64, in, n, &r).rc, 0);
  expect_msg(&r, 0, VG_WS_CLOSE, "", 0);
  rec_free(&r);
  n = 0;
  put_frame(in, &n, 0x88, KEY,
            "\x0f\xa0"
            "gr\xc3\xbc\xc3\x9f",
            8); /* 4000, UTF-8 reason */
  cr_assert_eq(parse(true, 64, in, n, &r).rc, 0);
  expect_msg(&r, 0, VG_WS_CLOSE,
             "\x0f\xa0"
             "gr\xc3\xbc\xc3\x9f",
             8);
  rec_free(&r);
}

/* ---- protocol violations ---- */

Test(ws, reserved_bits_are_refused) {
  for (uint8_t rsv = 0x10; rsv <= 0x40; rsv <<= 1) {
    uint8_t in[16];
    size_t n = 0;
    put_frame(in, &n, 0x81 | rsv, KEY, "a", 1);
    expect_fail(true, in, n, VG_EPROTO, 1002);
    /* Refused from the first two bytes, before the rest arrives. */
    expect_fail(true, in, 2, VG_EPROTO, 1002);
  }
}

Test(ws, unknown_opcodes_are_refused) {
  int ops[] = {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF};
  for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
    uint8_t in[16];
    size_t n = 0;
    put_frame(in, &n, (uint8_t)(0x80 | ops[i]), KEY, "a", 1);
    expect_fail(true, in, n, VG_EPROTO, 1002);
  }
}

Test(ws, masking_rule) {
  uint8_t in[16];
  size_t n = 0;
  put_frame(in, &n, 0x81, NULL, "a", 1);
  expect_fail(true, in, n, VG_EPROTO, 1002); /* client frame not masked */
  n = 0;
  put_frame(in, &n, 0x81, KEY, "a", 1);
  expect_fail(false, in, n, VG_EPROTO, 1002); /* server frame masked */
}

Test(ws, length_with_msb_set_is_refused) {
  uint8_t in[] = {0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 5, 1, 2, 3, 4};
  expect_fail(true, in, sizeof in, VG_EPROTO, 1002);
  expect_fail(true, in, 10, VG_EPROTO, 1002);
}

Test(ws, non_minimal_lengths_are_accepted) {
  uint8_t in16[] = {0x82, 0x7E, 0x00, 0x03, 'a', 'b', 'c'};
  uint8_t in64[] = {0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0, 3, 'a', 'b', 'c'};
  rec r = {0};
  cr_assert_eq(parse(false, 64, in16, sizeof in16, &r).rc, 0);
  cr_assert_eq(parse(false, 64, in64, sizeof in64, &r).rc, 0);
  expect_msg(&r, 0, VG_WS_BINARY, "abc", 3);
  expect_msg(&r, 1, VG_WS_BINARY, "abc", 3);
  rec_free(&r);
}

Test(ws, control_frames_must_be_final_and_short) {
  uint8_t big[126] = {0};
  int ops[] = {0x8, 0x9, 0xA};
  for (size_t i = 0; i < 3; i++) {
    uint8_t in[256];
    size_t n = 0;
    put_frame(in, &n, (uint8_t)ops[i], KEY, "", 0); /* FIN clear */
    expect_fail(true, in, n, VG_EPROTO, 1002);
    n = 0;
    put_frame(in, &n, (uint8_t)(0x80 | ops[i]), KEY, big, 126);
    expect_fail(true, in, n, VG_EPROTO, 1002);
    expect_fail(true, in, 2, VG_EPROTO, 1002); /* known from the header alone */
  }
  /* 125 bytes is fine. */
  uint8_t in[256];
  size_t n = 0;
  put_frame(in, &n, 0x89, KEY, big, 125);
  rec r = {0};
  cr_assert_eq(parse(true, 64, in, n, &r).rc, 0);
  expect_msg(&r, 0, VG_WS_PING, big, 125);
  rec_free(&r);
}

Test(ws, continuation_without_message) {
  uint8_t in[32];
  size_t n = 0;
  put_frame(in, &n, 0x80, KEY, "a", 1);
  expect_fail(true, in, n, VG_EPROTO, 1002);
  n = 0;
  put_frame(in, &n, 0x00, KEY, "a", 1);
  expect_fail(true, in, n, VG_EPROTO, 1002);
  /* Also right after a message completed. */
  n = 0;
  put_frame(in, &n, 0x01, KEY, "a", 1);
  put_frame(in, &n, 0x80, KEY, "b", 1);
  put_frame(in, &n, 0x80, KEY, "c", 1);
  expect_fail(true, in, n, VG_EPROTO, 1002);
}

Test(ws, new_message_during_fragmented_one) {
  uint8_t firsts[] = {0x01, 0x02};
  uint8_t seconds[] = {0x81, 0x82, 0x01, 0x02};
  for (size_t i = 0; i < 2; i++) {
    for (size_t j = 0; j < 4; j++) {
      uint8_t in[32];
      size_t n = 0;
      put_frame(in, &n, firsts[i], KEY, "a", 1);
      put_frame(in, &n, seconds[j], KEY, "b", 1);
      expect_fail(true, in, n, VG_EPROTO, 1002);
    }
  }
}

Test(ws, error_leaves_the_bad_frame_unconsumed) {
  uint8_t in[32];
  size_t n = 0;
  put_frame(in, &n, 0x81, KEY, "ok", 2);
  size_t good = n;
  put_frame(in, &n, 0xC1, KEY, "x", 1);
  vg_ws_parser p;
  vg_ws_parser_init(&p, true, 64);
  rec r = {0};
  size_t consumed = 0;
  uint16_t code = 0;
  cr_assert_eq(vg_ws_parser_feed(&p, in, n, &consumed, rec_cb, &r, &code), VG_EPROTO);
  cr_assert_eq(code, 1002);
  cr_assert_eq(consumed, good);
  cr_assert_eq(r.n, 1);
  rec_free(&r);
  vg_ws_parser_free(&p);
}

Test(ws, close_payload_of_one_byte) {
  uint8_t in[16];
  size_t n = 0;
  put_frame(in, &n, 0x88, KEY, "\x03", 1);
  expect_fail(true, in, n, VG_EPROTO, 1002);
}

Test(ws, close_codes) {
  unsigned valid[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
                      1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999};
  unsigned invalid[] = {0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535};
  for (size_t i = 0; i < sizeof valid / sizeof *valid; i++) {
    uint8_t pl[2] = {(uint8_t)(valid[i] >> 8), (uint8_t)valid[i]}, in[16];
    size_t n = 0;
    put_frame(in, &n, 0x88, KEY, pl, 2);
    rec r = {0};
    result res = parse(true, 64, in, n, &r);
    cr_assert_eq(res.rc, 0, "close code %u should be accepted", valid[i]);
    expect_msg(&r, 0, VG_WS_CLOSE, pl, 2);
    rec_free(&r);
  }
  for (size_t i = 0; i < sizeof invalid / sizeof *invalid; i++) {
    uint8_t pl[2] = {(uint8_t)(invalid[i] >> 8), (uint8_t)invalid[i]}, in[16];
    size_t n = 0;
    put_frame(in, &n, 0x88, KEY, pl, 2);
    expect_fail(true, in, n, VG_EPROTO, 1002);
  }
}

Test(ws, close_reason_must_be_utf8) {
  uint8_t in[16];
  size_t n = 0;
  put_frame(in, &n, 0x88, KEY, "\x03\xe8\xc0\xaf", 4);
  expect_fail(true, in, n, VG_EINVAL, 1007);
}

Test(ws, text_must_be_utf8) {
  uint8_t in[32];
  size_t n = 0;
  put_frame(in, &n, 0x81, KEY, "ab\xff", 3);
  expect_fail(true, in, n, VG_EINVAL, 1007);
  /* Binary carries any bytes. */
  n = 0;
  put_frame(in, &n, 0x82, KEY, "ab\xff", 3);
  rec r = {0};
  cr_assert_eq(parse(true, 64, in, n, &r).rc, 0);
  rec_free(&r);
}

/* ---- size limits ---- */

Test(ws, declared_length_past_limit_is_refused_from_the_header) {
  /* 1 TiB declared: refused with only the 14 header bytes in hand. */
  uint8_t in[] = {0x82, 0xFF, 0, 0, 0x01, 0, 0, 0, 0, 0, 1, 2, 3, 4};
  expect_fail(true, in, sizeof in, VG_ETOOBIG, 1009);
  expect_fail(true, in, 10, VG_ETOOBIG, 1009);
  uint8_t in16[] = {0x81, 0xFE, 0x04, 0x01}; /* 1025 > 1024 */
  rec r = {0};
  result res = parse(true, 1024, in16, sizeof in16, &r);
  cr_assert_eq(res.rc, VG_ETOOBIG);
  cr_assert_eq(res.code, 1009);
  rec_free(&r);
}

Test(ws, message_of_exactly_the_limit) {
  uint8_t payload[1024], in[1100];
  memset(payload, 'x', sizeof payload);
  size_t n = 0;
  put_frame(in, &n, 0x81, KEY, payload, 1024);
  rec r = {0};
  cr_assert_eq(parse(true, 1024, in, n, &r).rc, 0);
  expect_msg(&r, 0, VG_WS_TEXT, payload, 1024);
  rec_free(&r);
  n = 0;
  put_frame(in, &n, 0x02, KEY, payload, 1000);
  put_frame(in, &n, 0x80, KEY, payload, 24);
  vg_ws_parser p;
  vg_ws_parser_init(&p, true, 1024);
  cr_assert_eq(feed_all(&p, in, n, &r).rc, 0);
  expect_msg(&r, 0, VG_WS_BINARY, payload, 1024);
  cr_assert_leq(p.msg_cap, 1024, "the buffer never grows past max_message");
  vg_ws_parser_free(&p);
  rec_free(&r);
}

Test(ws, fragmented_message_past_limit) {
  uint8_t payload[500], in[2048];
  memset(payload, 'x', sizeof payload);
  size_t n = 0;
  put_frame(in, &n, 0x02, KEY, payload, 500);
  put_frame(in, &n, 0x00, KEY, payload, 500);
  size_t before_third = n;
  put_frame(in, &n, 0x80, KEY, payload, 25);
  vg_ws_parser p;
  vg_ws_parser_init(&p, true, 1024);
  rec r = {0};
  /* Refused on the third header: 1000 + 25 > 1024. */
  size_t consumed = 0;
  uint16_t code = 0;
  int rc = vg_ws_parser_feed(&p, in, before_third + 4, &consumed, rec_cb, &r, &code);
  cr_assert_eq(rc, VG_ETOOBIG);
  cr_assert_eq(code, 1009);
  cr_assert_eq(consumed, before_third);
  cr_assert_eq(r.n, 0);
  cr_assert_leq(p.msg_cap, 1024);
  vg_ws_parser_free(&p);
  rec_free(&r);
}

Test(ws, control_frames_do_not_count_toward_the_limit) {
  uint8_t in[64];
  size_t n = 0;
  put_frame(in, &n, 0x89, KEY, "0123456789", 10);
  rec r = {0};
  cr_assert_eq(parse(true, 4, in, n, &r).rc, 0);
  expect_msg(&r, 0, VG_WS_PING, "0123456789", 10);
  rec_free(&r);
}

/* ---- UTF-8 ---- */

#define U(s) (const uint8_t *)(s), sizeof(s) - 1

Test(utf8, valid) {
  cr_assert(vg_utf8_valid(U("")));
  cr_assert(vg_utf8_valid(U("plain ascii, long enough for the fast path")));
  cr_assert(vg_utf8_valid(U("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"))); /* κόσμε */
  cr_assert(vg_utf8_valid(U("\xf0\x9f\x98\x80")));                             /* U+1F600 */
  cr_assert(vg_utf8_valid(U("\xc2\x80")));                                     /* U+0080 */
  cr_assert(vg_utf8_valid(U("\xe0\xa0\x80")));                                 /* U+0800 */
  cr_assert(vg_utf8_valid(U("\xed\x9f\xbf")));                                 /* U+D7FF */
  cr_assert(vg_utf8_valid(U("\xee\x80\x80")));                                 /* U+E000 */
  cr_assert(vg_utf8_valid(U("\xef\xbf\xbf")));                                 /* U+FFFF */
  cr_assert(vg_utf8_valid(U("\xf0\x90\x80\x80")));                             /* U+10000 */
  cr_assert(vg_utf8_valid(U("\xf4\x8f\xbf\xbf")));                             /* U+10FFFF */
  cr_assert(
      vg_utf8_valid(U("12345678\xf4\x8f\xbf\xbf"
                      "abcdefgh")));
}

Test(utf8, invalid) {
  cr_assert_not(vg_utf8_valid(U("\xc0\xaf")));         /* overlong '/' */
  cr_assert_not(vg_utf8_valid(U("\xc1\xbf")));         /* overlong */
  cr_assert_not(vg_utf8_valid(U("\xe0\x80\xaf")));     /* overlong 3-byte */
  cr_assert_not(vg_utf8_valid(U("\xe0\x9f\xbf")));     /* overlong 3-byte */
  cr_assert_not(vg_utf8_valid(U("\xf0\x80\x80\xaf"))); /* overlong 4-byte */
  cr_assert_not(vg_utf8_valid(U("\xf0\x8f\xbf\xbf"))); /* overlong 4-byte */
  cr_assert_not(vg_utf8_valid(U("\xed\xa0\x80")));     /* U+D800 */
  cr_assert_not(vg_utf8_valid(U("\xed\xbf\xbf")));     /* U+DFFF */
  cr_assert_not(vg_utf8_valid(U("\xf4\x90\x80\x80"))); /* U+110000 */
  cr_assert_not(vg_utf8_valid(U("\xf5\x80\x80\x80")));
  cr_assert_not(vg_utf8_valid(U("\xff")));
  cr_assert_not(vg_utf8_valid(U("\x80")));             /* lone continuation */
  cr_assert_not(vg_utf8_valid(U("a\xe2\x82")));        /* truncated */
  cr_assert_not(vg_utf8_valid(U("\xf0\x9f\x98")));     /* truncated */
  cr_assert_not(vg_utf8_valid(U("\xe2\x28\xa1")));     /* bad continuation */
  cr_assert_not(vg_utf8_valid(U("\xf0\x9f\x28\x80"))); /* bad third byte */
  cr_assert_not(vg_utf8_valid(U("\xf0\x9f\x98\x28"))); /* bad fourth byte */
  cr_assert_not(vg_utf8_valid(U("abcdefgh\xce")));     /* truncated after fast path */
}

Test(ws, utf8_split_across_fragments) {
  /* U+1F600 cut after each of its bytes: valid once reassembled. */
  const uint8_t cp[] = {0xf0, 0x9f, 0x98, 0x80};
  for (size_t cut = 1; cut < 4; cut++) {
    uint8_t in[64];
    size_t n = 0;
    put_frame(in, &n, 0x01, KEY, cp, cut);
    put_frame(in, &n, 0x80, KEY, cp + cut, 4 - cut);
    rec r = {0};
    cr_assert_eq(parse(true, 64, in, n, &r).rc, 0, "cut %zu", cut);
    expect_msg(&r, 0, VG_WS_TEXT, cp, 4);
    rec_free(&r);
  }
  /* A message that ends mid-code-point is refused. */
  uint8_t in[64];
  size_t n = 0;
  put_frame(in, &n, 0x01, KEY, "ok", 2);
  put_frame(in, &n, 0x80, KEY, cp, 3);
  expect_fail(true, in, n, VG_EINVAL, 1007);
  /* So is a surrogate assembled from two fragments. */
  n = 0;
  put_frame(in, &n, 0x01, KEY, "\xed", 1);
  put_frame(in, &n, 0x80, KEY, "\xa0\x80", 2);
  expect_fail(true, in, n, VG_EINVAL, 1007);
}

/* ---- frame headers ---- */

Test(ws, frame_header_encoding) {
  uint8_t h[VG_WS_MAX_HEADER];
  cr_assert_eq(vg_ws_frame_header(h, VG_WS_TEXT, true, 5), 2);
  cr_assert_arr_eq(h, ((uint8_t[]){0x81, 0x05}), 2);
  cr_assert_eq(vg_ws_frame_header(h, VG_WS_BINARY, true, 125), 2);
  cr_assert_arr_eq(h, ((uint8_t[]){0x82, 125}), 2);
  cr_assert_eq(vg_ws_frame_header(h, VG_WS_BINARY, true, 126), 4);
  cr_assert_arr_eq(h, ((uint8_t[]){0x82, 126, 0, 126}), 4);
  cr_assert_eq(vg_ws_frame_header(h, VG_WS_BINARY, false, 65535), 4);
  cr_assert_arr_eq(h, ((uint8_t[]){0x02, 126, 0xff, 0xff}), 4);
  cr_assert_eq(vg_ws_frame_header(h, VG_WS_CONT, true, 65536), 10);
  cr_assert_arr_eq(h, ((uint8_t[]){0x80, 127, 0, 0, 0, 0, 0, 1, 0, 0}), 10);
  cr_assert_eq(vg_ws_frame_header(h, VG_WS_BINARY, true, 0x0123456789ull), 10);
  cr_assert_arr_eq(h, ((uint8_t[]){0x82, 127, 0, 0, 0, 0x01, 0x23, 0x45, 0x67, 0x89}), 10);
}

Test(ws, frame_header_round_trip) {
  size_t lens[] = {0, 1, 125, 126, 127, 65535, 65536, 100000};
  uint8_t *buf = malloc(100000 + VG_WS_MAX_HEADER);
  for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
    size_t h = vg_ws_frame_header(buf, VG_WS_BINARY, true, lens[i]);
    for (size_t k = 0; k < lens[i]; k++) buf[h + k] = (uint8_t)(k ^ i);
    vg_ws_parser p;
    vg_ws_parser_init(&p, false, 1 << 20);
    rec r = {0};
    size_t consumed = 0;
    uint16_t code = 0;
    /* A client parses what the server sends: unmasked. */
    cr_assert_eq(vg_ws_parser_feed(&p, buf, h + lens[i], &consumed, rec_cb, &r, &code), 0);
    cr_assert_eq(consumed, h + lens[i]);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.len[0], lens[i]);
    cr_assert(lens[i] == 0 || memcmp(r.data[0], buf + h, lens[i]) == 0);
    rec_free(&r);
    vg_ws_parser_free(&p);
  }
  free(buf);
}

/* ---- handshake ---- */

Test(ws, accept_key_rfc_example) {
  char out[29];
  const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
  cr_assert_eq(vg_ws_accept_key(key, strlen(key), out), 0);
  cr_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

Test(ws, accept_key_rejects_bad_keys) {
  char out[29];
  const char *bad[] = {
      "",
      "dGhlIHNhbXBsZSBub25jZQ",    /* unpadded */
      "dGhlIHNhbXBsZSBub25jZQ=",   /* short padding */
      "dGhlIHNhbXBsZSBub25jZQ===", /* 25 chars */
      "dGhlIHNhbXBsZSBub25j",      /* 15 bytes */
      "dGhlIHNhbXBsZSBub25jZQ1=",  /* 17 bytes */
      "dGhlIHNhbXBsZSBub25jZ!==",  /* not base64 */
      "dGhlIHNhbXBsZSBub2 jZQ==",  /* space inside */
      "dGhlIHNhbXBsZSBub25jZQ-_",  /* base64url padding */
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    cr_assert_eq(vg_ws_accept_key(bad[i], strlen(bad[i]), out), VG_EINVAL, "key %s", bad[i]);
}
