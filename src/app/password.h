/* password.h - password hashing (Argon2id, libsodium).
 *
 * Hashes are self-describing PHC strings ("$argon2id$v=19$m=...,t=...,p=1$
 * salt$hash") stored in users.pwhash, so the cost can be raised later: a
 * hash made with older parameters still verifies, and
 * vg_password_needs_rehash says when to store a fresh one after a login. */
#ifndef VG_PASSWORD_H
#define VG_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#include "store/store.h" /* VG_PWHASH_MAX */

/* Bounds on a password's length in bytes. The upper one caps the work an
 * unauthenticated request can cause. */
#define VG_PASSWORD_MIN 8
#define VG_PASSWORD_MAX 1024

/* Hashes pw (len bytes, any content) with a fresh salt into out.
 * Returns 0, VG_EINVAL when len is outside [VG_PASSWORD_MIN,
 * VG_PASSWORD_MAX], or VG_ENOMEM. */
int vg_password_hash(const char *pw, size_t len, char out[VG_PWHASH_MAX + 1]);
/* Returns 0 when pw matches hash, VG_EAUTH otherwise (including a
 * malformed or empty hash, which still costs a full verify). */
int vg_password_verify(const char *hash, const char *pw, size_t len);
/* True when hash was made with other parameters than today's (or is not
 * an Argon2id hash at all) and should be replaced after the next login. */
bool vg_password_needs_rehash(const char *hash);
/* Spends the time of one verify and throws the answer away, so a login
 * with an unknown user name takes as long as one with a wrong password. */
void vg_password_dummy_verify(const char *pw, size_t len);

#endif
