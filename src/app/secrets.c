/* secrets.c - the site key file and secretbox sealing of secrets.
 *
 * The key file is made atomically: written whole to a private temporary
 * name, then linked to secret.key, which fails when another process got
 * there first (and then its key is the one read). So a crash or a race
 * never leaves a short or mixed key behind. */
#include "app/secrets.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/config.h"

_Static_assert(VG_SECRET_KEY_BYTES == crypto_secretbox_KEYBYTES, "secretbox key size");
_Static_assert(VG_SECRET_OVERHEAD == crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES,
               "secretbox overhead");

/* Writes all of len bytes, retrying short writes. */
static int write_all(int fd, const uint8_t *p, size_t len) {
  while (len) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Makes a new key file at path; 0, or EEXIST when one appeared meanwhile,
 * or another errno value. */
static int create_key(const char *path, char *err, size_t errlen) {
  char tmp[VG_PATH_MAX + 64];
  snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    int e = errno;
    snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(e));
    return e;
  }
  uint8_t key[VG_SECRET_KEY_BYTES];
  randombytes_buf(key, sizeof key);
  errno = 0;
  int rc = write_all(fd, key, sizeof key) == 0 && fsync(fd) == 0 ? 0 : errno ? errno : EIO;
  sodium_memzero(key, sizeof key);
  if (close(fd) != 0 && !rc) rc = errno;
  if (!rc && link(tmp, path) != 0) rc = errno;
  int e = rc;
  unlink(tmp);
  if (e && e != EEXIST) snprintf(err, errlen, "cannot write %s: %s", path, strerror(e));
  return e;
}

int vg_secret_key_load(const char *data_dir, uint8_t key[VG_SECRET_KEY_BYTES], char *err,
                       size_t errlen) {
  if (sodium_init() < 0) {
    snprintf(err, errlen, "libsodium cannot start");
    return VG_EIO;
  }
  char path[VG_PATH_MAX + 32];
  snprintf(path, sizeof path, "%s/%s", data_dir, VG_SECRET_KEY_FILE);
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 && errno == ENOENT) {
    int e = create_key(path, err, errlen);
    if (e && e != EEXIST) return VG_EIO;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  }
  if (fd < 0) {
    snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
    return VG_EIO;
  }
  struct stat sb;
  int rc = 0;
  if (fstat(fd, &sb) != 0) {
    snprintf(err, errlen, "cannot stat %s: %s", path, strerror(errno));
    rc = VG_EIO;
  } else if (!S_ISREG(sb.st_mode)) {
    snprintf(err, errlen, "%s is not a regular file", path);
    rc = VG_EPERM;
  } else if (sb.st_mode & 077) {
    snprintf(err, errlen,
             "%s is open to group or others (mode %04o); it protects the camera passwords: "
             "chmod 600 it",
             path, (unsigned)(sb.st_mode & 07777));
    rc = VG_EPERM;
  } else if (sb.st_uid != geteuid()) {
    snprintf(err, errlen, "%s belongs to uid %u, not to this process's uid %u", path,
             (unsigned)sb.st_uid, (unsigned)geteuid());
    rc = VG_EPERM;
  } else if (sb.st_size != VG_SECRET_KEY_BYTES) {
    snprintf(err, errlen,
             "%s is %lld bytes, not %d: it is not a Vigil key (restore the right file; a new "
             "key would leave the stored camera passwords unreadable)",
             path, (long long)sb.st_size, VG_SECRET_KEY_BYTES);
    rc = VG_EPERM;
  } else {
    size_t got = 0;
    while (got < VG_SECRET_KEY_BYTES) {
      ssize_t n = read(fd, key + got, VG_SECRET_KEY_BYTES - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += (size_t)n;
    }
    if (got != VG_SECRET_KEY_BYTES) {
      snprintf(err, errlen, "cannot read %s", path);
      sodium_memzero(key, VG_SECRET_KEY_BYTES);
      rc = VG_EIO;
    }
  }
  close(fd);
  return rc;
}

int vg_secret_seal(const uint8_t key[VG_SECRET_KEY_BYTES], const void *plain, size_t len,
                   uint8_t *out, size_t outcap, size_t *outlen) {
  if (len > SIZE_MAX - VG_SECRET_OVERHEAD || outcap < len + VG_SECRET_OVERHEAD) return VG_ETOOBIG;
  randombytes_buf(out, crypto_secretbox_NONCEBYTES);
  if (crypto_secretbox_easy(out + crypto_secretbox_NONCEBYTES, plain, len, out, key) != 0)
    return VG_EINVAL;
  *outlen = len + VG_SECRET_OVERHEAD;
  return 0;
}

int vg_secret_open(const uint8_t key[VG_SECRET_KEY_BYTES], const uint8_t *blob, size_t len,
                   char *out, size_t outcap, size_t *outlen) {
  if (len < VG_SECRET_OVERHEAD) return VG_EINVAL;
  size_t plain = len - VG_SECRET_OVERHEAD;
  if (outcap < plain + 1) return VG_ETOOBIG;
  if (crypto_secretbox_open_easy((unsigned char *)out, blob + crypto_secretbox_NONCEBYTES,
                                 len - crypto_secretbox_NONCEBYTES, blob, key) != 0) {
    sodium_memzero(out, outcap);
    return VG_EAUTH;
  }
  out[plain] = 0;
  *outlen = plain;
  return 0;
}
