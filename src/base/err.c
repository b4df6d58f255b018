/* err.c - names for Vigil's error codes. */
#include "err.h"

const char *vg_strerror(int err) {
  switch (err) {
    case VG_OK:
      return "success";
    case VG_ENOMEM:
      return "out of memory";
    case VG_EINVAL:
      return "invalid input";
    case VG_EAGAIN:
      return "incomplete input";
    case VG_ETOOBIG:
      return "too large";
    case VG_EIO:
      return "input/output error";
    case VG_ENOTFOUND:
      return "not found";
    case VG_EEXIST:
      return "already exists";
    case VG_EPERM:
      return "not allowed";
    case VG_ESTATE:
      return "wrong state";
    case VG_ETIMEDOUT:
      return "timed out";
    case VG_EPROTO:
      return "protocol error";
    case VG_EDB:
      return "database error";
    case VG_EAUTH:
      return "bad credentials";
    case VG_ECONFIG:
      return "bad configuration";
    case VG_ECLOSED:
      return "closed";
    case VG_EBUSY:
      return "busy";
  }
  return "unknown error";
}
