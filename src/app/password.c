/* password.c - Argon2id password hashes through libsodium.
 *
 * Parameters are libsodium's INTERACTIVE ones (2 passes over 64 MiB), which
 * cost tens of milliseconds: slow enough to hurt offline guessing, fast
 * enough for a login. Two pieces of process state are set once and never
 * change: libsodium's own initialisation and the hash used for dummy
 * verifies. */
#include "password.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "base/err.h"

_Static_assert(crypto_pwhash_STRBYTES <= VG_PWHASH_MAX + 1, "VG_PWHASH_MAX too small");

#define OPSLIMIT crypto_pwhash_OPSLIMIT_INTERACTIVE
#define MEMLIMIT crypto_pwhash_MEMLIMIT_INTERACTIVE

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static int sodium_ok;

static void sodium_setup(void) { sodium_ok = sodium_init() >= 0; }

static bool sodium_ready(void) {
  pthread_once(&sodium_once, sodium_setup);
  return sodium_ok;
}

static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char dummy_hash[crypto_pwhash_STRBYTES];

/* The dummy hash uses today's parameters, so verifying against it costs
 * what verifying a real user's current hash costs. Its password is never
 * used anywhere else. */
static void dummy_setup(void) {
  static const char pw[] = "vigil dummy password, never matches a login";
  if (crypto_pwhash_str_alg(dummy_hash, pw, sizeof pw - 1, OPSLIMIT, MEMLIMIT,
                            crypto_pwhash_ALG_ARGON2ID13) != 0)
    dummy_hash[0] = 0;
}

int vg_password_hash(const char *pw, size_t len, char out[VG_PWHASH_MAX + 1]) {
  if (!pw || !out || len < VG_PASSWORD_MIN || len > VG_PASSWORD_MAX) return VG_EINVAL;
  if (!sodium_ready()) return VG_ENOMEM;
  char buf[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(buf, pw, len, OPSLIMIT, MEMLIMIT, crypto_pwhash_ALG_ARGON2ID13) != 0)
    return VG_ENOMEM; /* the only way it fails with valid limits */
  memcpy(out, buf, sizeof buf);
  out[VG_PWHASH_MAX] = 0;
  return 0;
}

void vg_password_dummy_verify(const char *pw, size_t len) {
  if (!sodium_ready()) return;
  pthread_once(&dummy_once, dummy_setup);
  if (!pw) pw = "";
  if (len > VG_PASSWORD_MAX) len = VG_PASSWORD_MAX;
  if (!dummy_hash[0]) return;
  /* volatile: the answer is unused, but the work must not be skipped. */
  volatile int unused = crypto_pwhash_str_verify(dummy_hash, pw, len);
  (void)unused;
}

/* True when hash is a NUL-terminated Argon2id string that fits a pwhash. */
static bool usable_hash(const char *hash) {
  if (!hash) return false;
  size_t n = strnlen(hash, crypto_pwhash_STRBYTES);
  return n < crypto_pwhash_STRBYTES && strncmp(hash, "$argon2id$", 10) == 0;
}

int vg_password_verify(const char *hash, const char *pw, size_t len) {
  if (!pw) pw = "";
  /* Refuse without hashing only what the length alone gives away anyway. */
  if (len > VG_PASSWORD_MAX) return VG_EAUTH;
  if (!sodium_ready()) return VG_EAUTH;
  if (!usable_hash(hash)) {
    vg_password_dummy_verify(pw, len);
    return VG_EAUTH;
  }
  return crypto_pwhash_str_verify(hash, pw, len) == 0 ? 0 : VG_EAUTH;
}

bool vg_password_needs_rehash(const char *hash) {
  if (!usable_hash(hash) || !sodium_ready()) return true;
  return crypto_pwhash_str_needs_rehash(hash, OPSLIMIT, MEMLIMIT) != 0;
}
