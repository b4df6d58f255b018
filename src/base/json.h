/* json.h - small helpers over jansson for request and response bodies. */
#ifndef VG_JSON_H
#define VG_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Parses a request body that must be one JSON object. Duplicate keys are
 * refused. Returns 0, or VG_EINVAL with a message in err. */
int vg_json_parse_object(const void *data, size_t len, json_t **out, char *err, size_t errlen);

/* Field readers: 0 when present with the right type, VG_ENOTFOUND when
 * absent (or null), VG_EINVAL when present with another type. */
int vg_json_string(json_t *obj, const char *key, const char **out, size_t *len);
int vg_json_int(json_t *obj, const char *key, int64_t *out);
int vg_json_bool(json_t *obj, const char *key, bool *out);

/* Serialises compactly into a new buffer (NULL on OOM). Steals nothing. */
vg_buf *vg_json_to_buf(const json_t *j);

#endif
