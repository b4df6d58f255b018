/* buf.c - reference-counted buffers and growable strings. */
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

vg_buf *vg_buf_new(size_t len) {
  if (len > SIZE_MAX - sizeof(vg_buf)) return NULL;
  vg_buf *b = malloc(sizeof(vg_buf) + len);
  if (!b) return NULL;
  b->refs = 1;
  b->len = len;
  return b;
}

vg_buf *vg_buf_from(const void *data, size_t len) {
  vg_buf *b = vg_buf_new(len);
  if (b && len) memcpy(b->data, data, len);
  return b;
}

vg_buf *vg_buf_ref(vg_buf *b) {
  __atomic_add_fetch(&b->refs, 1, __ATOMIC_RELAXED);
  return b;
}

void vg_buf_unref(vg_buf *b) {
  if (b && __atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) == 0) free(b);
}

static int str_reserve(vg_str *s, size_t extra) {
  if (extra > SIZE_MAX - s->len - 1) return VG_ENOMEM;
  size_t need = s->len + extra + 1;
  if (need <= s->cap) return 0;
  size_t cap = s->cap ? s->cap : 64;
  while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  char *d = realloc(s->data, cap);
  if (!d) return VG_ENOMEM;
  s->data = d;
  s->cap = cap;
  return 0;
}

int vg_str_append(vg_str *s, const void *data, size_t len) {
  int rc = str_reserve(s, len);
  if (rc) return rc;
  if (len) memcpy(s->data + s->len, data, len);
  s->len += len;
  s->data[s->len] = 0;
  return 0;
}

int vg_str_appends(vg_str *s, const char *cstr) { return vg_str_append(s, cstr, strlen(cstr)); }

int vg_str_vprintf(vg_str *s, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) return VG_EINVAL;
  int rc = str_reserve(s, (size_t)n);
  if (rc) return rc;
  vsnprintf(s->data + s->len, (size_t)n + 1, fmt, ap);
  s->len += (size_t)n;
  return 0;
}

int vg_str_printf(vg_str *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = vg_str_vprintf(s, fmt, ap);
  va_end(ap);
  return rc;
}

vg_buf *vg_str_to_buf(vg_str *s) {
  vg_buf *b = vg_buf_from(s->data, s->len);
  vg_str_reset(s);
  return b;
}

void vg_str_reset(vg_str *s) {
  s->len = 0;
  if (s->data) s->data[0] = 0;
}

void vg_str_free(vg_str *s) {
  free(s->data);
  s->data = NULL;
  s->len = s->cap = 0;
}
