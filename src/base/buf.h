/* buf.h - reference-counted byte buffers and a growable string.
 *
 * A vg_buf is one allocation: a small header (reference count, length)
 * followed by the bytes. It is immutable once shared, so one buffer can be
 * queued on many sockets at once without copying; each writer holds a
 * reference until its write completes. The count is atomic because recorder
 * and ingest threads hand buffers to the loop thread.
 *
 * vg_str is the opposite trade-off: a private, growable, NUL-terminated byte
 * string used to build responses and SQL before they are shared. */
#ifndef VG_BUF_H
#define VG_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct vg_buf {
  int refs; /* touched only through __atomic builtins */
  size_t len;
  uint8_t data[];
} vg_buf;

/* New buffer of len bytes (uninitialised), reference count 1; NULL on OOM. */
vg_buf *vg_buf_new(size_t len);
/* New buffer holding a copy of data. */
vg_buf *vg_buf_from(const void *data, size_t len);
vg_buf *vg_buf_ref(vg_buf *b);
void vg_buf_unref(vg_buf *b);

typedef struct vg_str {
  char *data; /* NUL-terminated when non-NULL */
  size_t len;
  size_t cap;
} vg_str;

#define VG_STR_INIT \
  { NULL, 0, 0 }

int vg_str_append(vg_str *s, const void *data, size_t len);
int vg_str_appends(vg_str *s, const char *cstr);
int vg_str_printf(vg_str *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int vg_str_vprintf(vg_str *s, const char *fmt, va_list ap);
/* Moves the bytes into a new vg_buf and empties s. */
vg_buf *vg_str_to_buf(vg_str *s);
void vg_str_reset(vg_str *s);
void vg_str_free(vg_str *s);

#endif
