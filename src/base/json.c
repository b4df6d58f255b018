/* json.c - jansson helpers. */
#include "json.h"

#include <stdio.h>
#include <string.h>

#include "err.h"

int vg_json_parse_object(const void *data, size_t len, json_t **out, char *err, size_t errlen) {
  json_error_t e;
  json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &e);
  if (!j) {
    snprintf(err, errlen, "malformed JSON at line %d, column %d: %s", e.line, e.column, e.text);
    return VG_EINVAL;
  }
  if (!json_is_object(j)) {
    json_decref(j);
    snprintf(err, errlen, "the body must be a JSON object");
    return VG_EINVAL;
  }
  *out = j;
  return 0;
}

int vg_json_string(json_t *obj, const char *key, const char **out, size_t *len) {
  json_t *v = json_object_get(obj, key);
  if (!v || json_is_null(v)) return VG_ENOTFOUND;
  if (!json_is_string(v)) return VG_EINVAL;
  *out = json_string_value(v);
  if (len) *len = json_string_length(v);
  return 0;
}

int vg_json_int(json_t *obj, const char *key, int64_t *out) {
  json_t *v = json_object_get(obj, key);
  if (!v || json_is_null(v)) return VG_ENOTFOUND;
  if (!json_is_integer(v)) return VG_EINVAL;
  *out = json_integer_value(v);
  return 0;
}

int vg_json_bool(json_t *obj, const char *key, bool *out) {
  json_t *v = json_object_get(obj, key);
  if (!v || json_is_null(v)) return VG_ENOTFOUND;
  if (!json_is_boolean(v)) return VG_EINVAL;
  *out = json_is_true(v);
  return 0;
}

vg_buf *vg_json_to_buf(const json_t *j) {
  size_t n = json_dumpb(j, NULL, 0, JSON_COMPACT);
  if (n == 0) return NULL;
  vg_buf *b = vg_buf_new(n);
  if (!b) return NULL;
  json_dumpb(j, (char *)b->data, n, JSON_COMPACT);
  return b;
}
