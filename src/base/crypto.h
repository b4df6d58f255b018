/* crypto.h - hashing, randomness and tokens (OpenSSL).
 *
 * Tokens are 32 random bytes in unpadded base64url (43 characters). The
 * store keeps only their SHA-256 (hex), so a stolen database does not give
 * away live sessions. */
#ifndef VG_CRYPTO_H
#define VG_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VG_TOKEN_LEN 43
#define VG_SHA256_HEX_LEN 64

int vg_random_bytes(void *out, size_t len);
void vg_sha256(const void *data, size_t len, uint8_t out[32]);
/* Writes 2*len hex digits and a NUL to out. */
void vg_hex(const uint8_t *data, size_t len, char *out);
/* Unpadded base64url of len bytes into out (needs 4*ceil(len/3)+1 bytes). */
size_t vg_base64url(const uint8_t *data, size_t len, char *out);
/* Standard padded base64 (for WebSocket accept keys). */
size_t vg_base64(const uint8_t *data, size_t len, char *out);
/* A fresh random token, VG_TOKEN_LEN chars + NUL. */
int vg_token_new(char out[VG_TOKEN_LEN + 1]);
/* SHA-256 of a token as hex, VG_SHA256_HEX_LEN chars + NUL. */
void vg_token_hash(const char *token, size_t len, char out[VG_SHA256_HEX_LEN + 1]);
/* Compares two byte strings in time that does not depend on where they differ. */
bool vg_ct_equal(const void *a, size_t alen, const void *b, size_t blen);
/* True when s looks like a token: VG_TOKEN_LEN base64url characters. */
bool vg_token_valid(const char *s, size_t len);

#endif
