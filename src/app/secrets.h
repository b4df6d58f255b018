/* secrets.h - the key file and sealed secrets (camera passwords).
 *
 * A site has one 32-byte key in DATA/secret.key, made on first start and
 * readable by its owner only. Secrets are sealed with libsodium's secretbox
 * (XSalsa20-Poly1305): a blob is the 24-byte random nonce followed by the
 * ciphertext and its 16-byte tag, so a blob is VG_SECRET_OVERHEAD bytes
 * longer than what it holds, and a changed byte or a wrong key is found
 * when it is opened. The database alone therefore gives no camera away. */
#ifndef VG_SECRETS_H
#define VG_SECRETS_H

#include <stddef.h>
#include <stdint.h>

#define VG_SECRET_KEY_BYTES 32
#define VG_SECRET_OVERHEAD 40 /* nonce (24) + tag (16) */
#define VG_SECRET_KEY_FILE "secret.key"

/* Reads DATA/secret.key into key, creating it (mode 0600, random) when it
 * does not exist. Refuses, with the reason in err, a file of another size,
 * not a regular file, owned by someone else, or open to group or others.
 * Returns 0, VG_EIO or VG_EPERM. */
int vg_secret_key_load(const char *data_dir, uint8_t key[VG_SECRET_KEY_BYTES], char *err,
                       size_t errlen);

/* Seals len bytes of plain into out[outcap]; *outlen = len +
 * VG_SECRET_OVERHEAD. VG_ETOOBIG when out is too small. */
int vg_secret_seal(const uint8_t key[VG_SECRET_KEY_BYTES], const void *plain, size_t len,
                   uint8_t *out, size_t outcap, size_t *outlen);

/* Opens a sealed blob into out[outcap] and NUL-terminates it (outcap must
 * leave room for the NUL); *outlen is the plain length. VG_EAUTH when the
 * blob was changed or sealed with another key, VG_EINVAL when it is too
 * short, VG_ETOOBIG when out is too small. */
int vg_secret_open(const uint8_t key[VG_SECRET_KEY_BYTES], const uint8_t *blob, size_t len,
                   char *out, size_t outcap, size_t *outlen);

#endif
