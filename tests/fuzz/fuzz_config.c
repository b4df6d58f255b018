/* fuzz_config.c - libFuzzer target for the INI parser.
 *
 * Beyond "does not crash": a successful parse leaves every port in range,
 * every string NUL-terminated inside its field and every bounded number
 * within its key's bounds; an error always names a line. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/config.h"
#include "base/err.h"

#define CHECK(cond)                                                                \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      abort();                                                                     \
    }                                                                              \
  } while (0)

static bool port_ok(int p) { return p >= 0 && p <= 65535; }

static bool terminated(const char *s, size_t size) { return memchr(s, 0, size) != NULL; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  vg_config c;
  vg_config_defaults(&c);
  char err[256] = "";
  int rc = vg_config_parse_ini(&c, (const char *)data, size, err, sizeof err);
  CHECK(memchr(err, 0, sizeof err));
  if (rc != 0) {
    CHECK(rc == VG_EINVAL || rc == VG_ECONFIG);
    CHECK(strncmp(err, "line ", 5) == 0);
    return 0;
  }
  CHECK(port_ok(c.http_port) && port_ok(c.https_port));
  CHECK(port_ok(c.media_port) && port_ok(c.media_tls_port));
  CHECK(terminated(c.bind, sizeof c.bind) && terminated(c.data_dir, sizeof c.data_dir));
  CHECK(terminated(c.tls_cert, sizeof c.tls_cert) && terminated(c.tls_key, sizeof c.tls_key));
  CHECK(terminated(c.web_dir, sizeof c.web_dir) && terminated(c.database, sizeof c.database));
  CHECK(c.log_level >= 0 && c.log_level <= 3);
  CHECK(c.max_header_bytes >= 1024 && c.max_header_bytes <= (1 << 20));
  CHECK(c.max_body_bytes >= 0 && c.max_body_bytes <= (INT64_C(1) << 40));
  CHECK(c.max_connections >= 1 && c.ws_max_message >= 125);
  CHECK(c.login_window_s >= 1 && c.login_window_s <= 86400);
  (void)vg_config_validate(&c, err, sizeof err);
  return 0;
}
