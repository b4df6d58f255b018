/* err.h - Vigil's error codes.
 *
 * Every function that can fail returns 0 or one of these negative codes;
 * vg_strerror() names them for logs and API messages. */
#ifndef VG_ERR_H
#define VG_ERR_H

enum {
  VG_OK = 0,
  VG_ENOMEM = -1,    /* out of memory */
  VG_EINVAL = -2,    /* invalid argument or malformed input */
  VG_EAGAIN = -3,    /* need more input */
  VG_ETOOBIG = -4,   /* input past a configured limit */
  VG_EIO = -5,       /* I/O error */
  VG_ENOTFOUND = -6, /* no such object */
  VG_EEXIST = -7,    /* already exists */
  VG_EPERM = -8,     /* not allowed */
  VG_ESTATE = -9,    /* wrong state for this operation */
  VG_ETIMEDOUT = -10,
  VG_EPROTO = -11,  /* protocol violation */
  VG_EDB = -12,     /* database error */
  VG_EAUTH = -13,   /* bad credentials */
  VG_ECONFIG = -14, /* bad configuration */
  VG_ECLOSED = -15, /* peer or object closed */
  VG_EBUSY = -16,   /* resource busy, try later */
};

/* Returns a static, human-readable name for an error code. */
const char *vg_strerror(int err);

#endif
