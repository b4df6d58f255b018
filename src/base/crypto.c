/* crypto.c - hashing, randomness and tokens on OpenSSL. */
#include "crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

#include "err.h"

int vg_random_bytes(void *out, size_t len) { return RAND_bytes(out, (int)len) == 1 ? 0 : VG_EIO; }

void vg_sha256(const void *data, size_t len, uint8_t out[32]) {
  unsigned int n = 32;
  EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

void vg_hex(const uint8_t *data, size_t len, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < len; i++) {
    out[2 * i] = digits[data[i] >> 4];
    out[2 * i + 1] = digits[data[i] & 15];
  }
  out[2 * len] = 0;
}

static size_t base64_with(const char *alphabet, bool pad, const uint8_t *in, size_t len,
                          char *out) {
  size_t o = 0, i = 0;
  for (; i + 2 < len; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    out[o++] = alphabet[v >> 18];
    out[o++] = alphabet[(v >> 12) & 63];
    out[o++] = alphabet[(v >> 6) & 63];
    out[o++] = alphabet[v & 63];
  }
  if (i < len) {
    uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);
    out[o++] = alphabet[v >> 18];
    out[o++] = alphabet[(v >> 12) & 63];
    if (i + 1 < len)
      out[o++] = alphabet[(v >> 6) & 63];
    else if (pad)
      out[o++] = '=';
    if (pad) out[o++] = '=';
  }
  out[o] = 0;
  return o;
}

size_t vg_base64url(const uint8_t *data, size_t len, char *out) {
  return base64_with("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", false,
                     data, len, out);
}

size_t vg_base64(const uint8_t *data, size_t len, char *out) {
  return base64_with("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", true, data,
                     len, out);
}

int vg_token_new(char out[VG_TOKEN_LEN + 1]) {
  uint8_t raw[32];
  int rc = vg_random_bytes(raw, sizeof raw);
  if (rc) return rc;
  vg_base64url(raw, sizeof raw, out);
  return 0;
}

void vg_token_hash(const char *token, size_t len, char out[VG_SHA256_HEX_LEN + 1]) {
  uint8_t digest[32];
  vg_sha256(token, len, digest);
  vg_hex(digest, 32, out);
}

bool vg_ct_equal(const void *a, size_t alen, const void *b, size_t blen) {
  if (alen != blen) return false;
  return CRYPTO_memcmp(a, b, alen) == 0;
}

bool vg_token_valid(const char *s, size_t len) {
  if (len != VG_TOKEN_LEN) return false;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_'))
      return false;
  }
  return true;
}
