/* test_crypto.c - tokens, their stored hashes, base64 (RFC 4648 vectors)
 * and constant-time comparison. */
#include <criterion/criterion.h>
#include <string.h>

#include "base/crypto.h"

static bool is_b64url_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

Test(crypto, token_new_shape) {
  char a[VG_TOKEN_LEN + 1], b[VG_TOKEN_LEN + 1];
  memset(a, '!', sizeof a);
  cr_assert_eq(vg_token_new(a), 0);
  cr_assert_eq(vg_token_new(b), 0);
  cr_assert_eq(VG_TOKEN_LEN, 43);
  cr_assert_eq(strlen(a), 43, "%s", a);
  cr_assert_eq(strlen(b), 43, "%s", b);
  for (size_t i = 0; i < 43; i++) cr_assert(is_b64url_char(a[i]), "char %zu of %s", i, a);
  cr_assert_str_neq(a, b, "two tokens must differ");
  cr_assert(vg_token_valid(a, strlen(a)));
  cr_assert(vg_token_valid(b, strlen(b)));
}

Test(crypto, tokens_are_random) {
  /* 32 random bytes: over many tokens every base64url character shows up
   * and no token repeats. */
  enum { N = 200 };
  static char toks[N][VG_TOKEN_LEN + 1];
  bool seen[256] = {false};
  for (int i = 0; i < N; i++) {
    cr_assert_eq(vg_token_new(toks[i]), 0);
    for (int k = 0; k < VG_TOKEN_LEN; k++) seen[(unsigned char)toks[i][k]] = true;
    for (int j = 0; j < i; j++) cr_assert_str_neq(toks[i], toks[j]);
  }
  int distinct = 0;
  for (int ch = 0; ch < 256; ch++) distinct += seen[ch];
  cr_assert_eq(distinct, 64, "saw %d distinct characters", distinct);
}

Test(crypto, token_valid_rejects) {
  char t[VG_TOKEN_LEN + 2];
  cr_assert_eq(vg_token_new(t), 0);
  cr_assert_not(vg_token_valid(t, 42), "too short");
  cr_assert_not(vg_token_valid("", 0));
  char longer[VG_TOKEN_LEN + 2];
  memcpy(longer, t, VG_TOKEN_LEN);
  longer[VG_TOKEN_LEN] = 'A';
  longer[VG_TOKEN_LEN + 1] = 0;
  cr_assert_not(vg_token_valid(longer, VG_TOKEN_LEN + 1), "too long");
  const char bad[] = "+/=. \"\n\x80";
  for (size_t i = 0; i < sizeof bad - 1; i++) {
    char x[VG_TOKEN_LEN + 1];
    memcpy(x, t, sizeof x);
    x[17] = bad[i];
    cr_assert_not(vg_token_valid(x, VG_TOKEN_LEN), "accepted 0x%02x", (unsigned char)bad[i]);
  }
  char nul[VG_TOKEN_LEN + 1];
  memcpy(nul, t, sizeof nul);
  nul[5] = 0;
  cr_assert_not(vg_token_valid(nul, VG_TOKEN_LEN), "embedded NUL");
  cr_assert(vg_token_valid("AZaz09-_AZaz09-_AZaz09-_AZaz09-_AZaz09-_abc", VG_TOKEN_LEN));
}

Test(crypto, token_hash_known_vectors) {
  char h[VG_SHA256_HEX_LEN + 1];
  memset(h, 'X', sizeof h);
  vg_token_hash("abc", 3, h);
  cr_assert_str_eq(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  vg_token_hash("", 0, h);
  cr_assert_str_eq(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  vg_token_hash(m, strlen(m), h);
  cr_assert_str_eq(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

Test(crypto, token_hash_shape) {
  char t[VG_TOKEN_LEN + 1], h1[VG_SHA256_HEX_LEN + 1], h2[VG_SHA256_HEX_LEN + 1];
  cr_assert_eq(vg_token_new(t), 0);
  vg_token_hash(t, VG_TOKEN_LEN, h1);
  vg_token_hash(t, VG_TOKEN_LEN, h2);
  cr_assert_eq(strlen(h1), 64);
  for (int i = 0; i < 64; i++)
    cr_assert((h1[i] >= '0' && h1[i] <= '9') || (h1[i] >= 'a' && h1[i] <= 'f'), "%s", h1);
  cr_assert_str_eq(h1, h2, "same token, same hash");
  t[0] = t[0] == 'A' ? 'B' : 'A';
  vg_token_hash(t, VG_TOKEN_LEN, h2);
  cr_assert_str_neq(h1, h2);
  cr_assert_neq(memcmp(h1, t, 43), 0, "the hash does not contain the token");
}

Test(crypto, sha256_and_hex) {
  uint8_t d[32];
  vg_sha256("abc", 3, d);
  cr_assert_eq(d[0], 0xba);
  cr_assert_eq(d[31], 0xad);
  char hex[9];
  const uint8_t in[4] = {0x00, 0x0f, 0xa0, 0xff};
  vg_hex(in, 4, hex);
  cr_assert_str_eq(hex, "000fa0ff");
  vg_hex(in, 0, hex);
  cr_assert_str_eq(hex, "");
}

typedef struct vec {
  const char *in, *std, *url;
} vec;

/* RFC 4648 section 10. */
static const vec rfc4648[] = {
    {"", "", ""},
    {"f", "Zg==", "Zg"},
    {"fo", "Zm8=", "Zm8"},
    {"foo", "Zm9v", "Zm9v"},
    {"foob", "Zm9vYg==", "Zm9vYg"},
    {"fooba", "Zm9vYmE=", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
};

Test(crypto, base64_rfc4648) {
  for (size_t i = 0; i < sizeof rfc4648 / sizeof rfc4648[0]; i++) {
    char out[32];
    memset(out, '#', sizeof out);
    size_t n = vg_base64((const uint8_t *)rfc4648[i].in, strlen(rfc4648[i].in), out);
    cr_assert_str_eq(out, rfc4648[i].std, "base64(\"%s\")", rfc4648[i].in);
    cr_assert_eq(n, strlen(rfc4648[i].std));
  }
}

Test(crypto, base64url_rfc4648_unpadded) {
  for (size_t i = 0; i < sizeof rfc4648 / sizeof rfc4648[0]; i++) {
    char out[32];
    memset(out, '#', sizeof out);
    size_t n = vg_base64url((const uint8_t *)rfc4648[i].in, strlen(rfc4648[i].in), out);
    cr_assert_str_eq(out, rfc4648[i].url, "base64url(\"%s\")", rfc4648[i].in);
    cr_assert_eq(n, strlen(rfc4648[i].url));
  }
}

Test(crypto, base64_alphabets_differ) {
  /* 0xfb 0xff -> "+/8=" in base64, "-_8" in base64url. */
  const uint8_t in[] = {0xfb, 0xff};
  char out[8];
  vg_base64(in, 2, out);
  cr_assert_str_eq(out, "+/8=");
  vg_base64url(in, 2, out);
  cr_assert_str_eq(out, "-_8");
  /* RFC 6455 1.3: SHA-1 of the example key and GUID, as its accept value. */
  uint8_t d[20] = {0xb3, 0x7a, 0x4f, 0x2c, 0xc0, 0x62, 0x4f, 0x16, 0x90, 0xf6,
                   0x46, 0x06, 0xcf, 0x38, 0x59, 0x45, 0xb2, 0xbe, 0xc4, 0xea};
  char acc[29];
  cr_assert_eq(vg_base64(d, 20, acc), 28);
  cr_assert_str_eq(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

Test(crypto, ct_equal) {
  cr_assert(vg_ct_equal("secret", 6, "secret", 6));
  cr_assert_not(vg_ct_equal("secret", 6, "secreT", 6));
  cr_assert_not(vg_ct_equal("Secret", 6, "secret", 6));
  cr_assert_not(vg_ct_equal("secret", 6, "secret!", 7), "prefix is not equal");
  cr_assert_not(vg_ct_equal("secret!", 7, "secret", 6));
  cr_assert(vg_ct_equal("", 0, "", 0));
  cr_assert(vg_ct_equal("a\0b", 3, "a\0b", 3), "binary safe");
  cr_assert_not(vg_ct_equal("a\0b", 3, "a\0c", 3), "binary safe");
}

Test(crypto, random_bytes) {
  uint8_t a[64] = {0}, b[64] = {0};
  cr_assert_eq(vg_random_bytes(a, sizeof a), 0);
  cr_assert_eq(vg_random_bytes(b, sizeof b), 0);
  cr_assert_neq(memcmp(a, b, sizeof a), 0);
  cr_assert_eq(vg_random_bytes(a, 0), 0);
}
