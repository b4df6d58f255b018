/* test_config.c - settings: defaults, INI files, environment, precedence and
 * the error messages an operator reads when a setting is wrong. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/config.h"
#include "base/err.h"
#include "base/log.h"

static int parse(vg_config *c, const char *text, char *err, size_t errlen) {
  return vg_config_parse_ini(c, text, strlen(text), err, errlen);
}

/* Parses text that must fail and checks the message names the line. */
static void expect_error(const char *text, const char *line_tag) {
  vg_config c;
  vg_config_defaults(&c);
  char err[256] = "";
  int rc = parse(&c, text, err, sizeof err);
  cr_assert_lt(rc, 0, "accepted: %s", text);
  cr_assert_not_null(strstr(err, line_tag), "error '%s' does not name '%s'", err, line_tag);
}

Test(config, defaults) {
  vg_config c;
  memset(&c, 0x5a, sizeof c);
  vg_config_defaults(&c);
  cr_assert_str_eq(c.bind, "0.0.0.0");
  cr_assert_eq(c.http_port, 8080);
  cr_assert_eq(c.https_port, 8443);
  cr_assert_eq(c.media_port, 1935);
  cr_assert_eq(c.media_tls_port, 1936);
  cr_assert_str_eq(c.data_dir, "data");
  cr_assert_str_empty(c.tls_cert);
  cr_assert_str_empty(c.tls_key);
  cr_assert_str_empty(c.database);
  cr_assert_eq(c.log_level, VG_LOG_INFO);
  cr_assert_eq(c.max_header_bytes, 16384);
  cr_assert_eq(c.max_body_bytes, 1048576);
  cr_assert_eq(c.header_timeout_ms, 10000);
  cr_assert_eq(c.idle_timeout_ms, 60000);
  cr_assert_eq(c.max_connections, 10000);
  cr_assert_eq(c.ws_max_message, 65536);
  cr_assert_eq(c.session_ttl_s, 43200);
  cr_assert_eq(c.login_max_failures, 5);
  cr_assert_eq(c.login_max_failures_addr, 20);
  cr_assert_eq(c.login_window_s, 900);
  cr_assert_eq(c.record_sync_ms, 5000);
  cr_assert_eq(c.ingest_tick_ms, 50);
  char err[256];
  cr_assert_eq(vg_config_validate(&c, err, sizeof err), 0, "%s", err);
}

/* The recording trade-offs: sync interval (0 allowed: every fragment) and
 * the reader's tick (5..200 ms), out-of-range values refused by line. */
Test(config, recording_sync_and_tick) {
  vg_config c;
  vg_config_defaults(&c);
  char err[256] = "";
  cr_assert_eq(parse(&c, "record_sync_ms = 0\ningest_tick_ms = 20\n", err, sizeof err), 0, "%s",
               err);
  cr_assert_eq(c.record_sync_ms, 0);
  cr_assert_eq(c.ingest_tick_ms, 20);
  expect_error("ingest_tick_ms = 4\n", "line 1");
  expect_error("ingest_tick_ms = 201\n", "line 1");
  expect_error("\nrecord_sync_ms = -1\n", "line 2");
}

Test(config, ini_full) {
  vg_config c;
  vg_config_defaults(&c);
  char err[256] = "";
  const char *text =
      "# a comment\n"
      "; another comment\n"
      "\n"
      "   \t\n"
      "[http]\n"
      "http_port=9001\n"
      "https-port   =   9443  \n"
      "  [ media ]  \n"
      "media_port\t=\t0\n"
      "bind = \"127.0.0.1\"\n"
      "tls_cert = 'cert file.pem'\n"
      "tls_key = \"key.pem\"\n"
      "data = /x\n"
      "log-level = debug\n"
      "max_body_bytes = 42\n"
      "HTTP_PORT = 9002";
  cr_assert_eq(parse(&c, text, err, sizeof err), 0, "%s", err);
  cr_assert_eq(c.http_port, 9002, "later line wins, key case does not matter");
  cr_assert_eq(c.https_port, 9443);
  cr_assert_eq(c.media_port, 0);
  cr_assert_eq(c.media_tls_port, 1936, "untouched keys keep their defaults");
  cr_assert_str_eq(c.bind, "127.0.0.1");
  cr_assert_str_eq(c.tls_cert, "cert file.pem");
  cr_assert_str_eq(c.tls_key, "key.pem");
  cr_assert_str_eq(c.data_dir, "/x");
  cr_assert_eq(c.log_level, VG_LOG_DEBUG);
  cr_assert_eq(c.max_body_bytes, 42);
}

Test(config, ini_crlf_and_empty) {
  vg_config c;
  vg_config_defaults(&c);
  char err[256] = "";
  cr_assert_eq(parse(&c, "http_port = 1234\r\ndata_dir = d\r\n", err, sizeof err), 0, "%s", err);
  cr_assert_eq(c.http_port, 1234);
  cr_assert_str_eq(c.data_dir, "d");
  cr_assert_eq(parse(&c, "", err, sizeof err), 0);
  cr_assert_eq(c.http_port, 1234);
}

Test(config, ini_empty_value_clears_string) {
  vg_config c;
  vg_config_defaults(&c);
  char err[256] = "";
  cr_assert_eq(parse(&c, "tls_cert = a\ntls_cert =\n", err, sizeof err), 0, "%s", err);
  cr_assert_str_empty(c.tls_cert);
  cr_assert_eq(parse(&c, "tls_key = \"\"\n", err, sizeof err), 0, "%s", err);
  cr_assert_str_empty(c.tls_key);
}

Test(config, ini_errors_name_the_line) {
  expect_error("http_port = 1\nbogus_key = 3\n", "line 2");
  expect_error("http_port = 1\nbogus_key = 3\n", "bogus_key");
  expect_error("\n\n\nhttp_port = eighty\n", "line 4");
  expect_error("http_port = 80x\n", "line 1");
  expect_error("http_port = \n", "line 1");
  expect_error("# ok\nhttp_port = 65536\n", "line 2");
  expect_error("https_port = -1\n", "line 1");
  expect_error("http_port = 99999999999999999999999\n", "line 1");
  expect_error("max_header_bytes = 10\n", "line 1");
  expect_error("log_level = loud\n", "line 1");
  expect_error("ok = \n", "line 1");
  expect_error("[http]\nhttp_port 8080\n", "line 2");
  expect_error("[http]\n[media\n", "line 2");
  expect_error("[\n", "line 1");
}

Test(config, ini_error_leaves_earlier_lines) {
  /* Lines before the error are applied; the caller exits on error anyway,
   * but the port must never be half-parsed garbage. */
  vg_config c;
  vg_config_defaults(&c);
  char err[256];
  cr_assert_lt(parse(&c, "http_port = 70000\n", err, sizeof err), 0);
  cr_assert_eq(c.http_port, 8080);
}

Test(config, ini_long_line) {
  size_t n = 5000;
  char *text = malloc(n + 32);
  strcpy(text, "http_port = 1\ndata_dir = ");
  size_t l = strlen(text);
  memset(text + l, 'a', n);
  strcpy(text + l + n, "\n");
  expect_error(text, "line 2");

  /* A long but legal path is kept whole. */
  vg_config c;
  vg_config_defaults(&c);
  char err[256] = "";
  char line[VG_PATH_MAX + 32];
  int k = snprintf(line, sizeof line, "data_dir = ");
  memset(line + k, 'b', VG_PATH_MAX - 1);
  line[k + VG_PATH_MAX - 1] = 0;
  cr_assert_eq(parse(&c, line, err, sizeof err), 0, "%s", err);
  cr_assert_eq(strlen(c.data_dir), VG_PATH_MAX - 1);
  /* One more character does not fit: a clean error, not truncation. */
  memset(line + k, 'b', VG_PATH_MAX);
  line[k + VG_PATH_MAX] = 0;
  expect_error(line, "line 1");
  free(text);
}

Test(config, ini_nul_byte) {
  vg_config c;
  vg_config_defaults(&c);
  char err[256] = "";
  static const char text[] = "http_port = 1\nhttp_port = 2\0 3\n";
  cr_assert_lt(vg_config_parse_ini(&c, text, sizeof text - 1, err, sizeof err), 0);
  cr_assert_not_null(strstr(err, "line 2"), "%s", err);
}

Test(config, set_dash_and_underscore) {
  vg_config c;
  vg_config_defaults(&c);
  char err[256] = "";
  cr_assert_eq(vg_config_set(&c, "max-header-bytes", "2048", err, sizeof err), 0, "%s", err);
  cr_assert_eq(c.max_header_bytes, 2048);
  cr_assert_eq(vg_config_set(&c, "max_header_bytes", "4096", err, sizeof err), 0, "%s", err);
  cr_assert_eq(c.max_header_bytes, 4096);
  cr_assert_eq(vg_config_set(&c, "data", "/srv/vigil", err, sizeof err), 0, "%s", err);
  cr_assert_str_eq(c.data_dir, "/srv/vigil");
  cr_assert_eq(vg_config_set(&c, "no-such-key", "1", err, sizeof err), VG_ENOTFOUND);
  cr_assert_not_null(strstr(err, "no-such-key"), "%s", err);
  cr_assert_eq(vg_config_set(&c, "http_port", "x", err, sizeof err), VG_EINVAL);
  cr_assert_not_null(strstr(err, "http_port"), "%s", err);
  cr_assert_eq(vg_config_set(&c, "http_port", "65535", err, sizeof err), 0);
  cr_assert_eq(c.http_port, 65535);
  cr_assert_eq(vg_config_set(&c, "http_port", "0", err, sizeof err), 0);
  cr_assert_eq(c.http_port, 0);
}

Test(config, env_applies) {
  vg_config c;
  vg_config_defaults(&c);
  char err[256] = "";
  char *env[] = {"PATH=/usr/bin",
                 "VIGIL_HTTP_PORT=9000",
                 "VIGIL_DATA_DIR=/var/lib/vigil",
                 "VIGIL_LOG_LEVEL=warn",
                 "HOME=/root",
                 "VIGIL_BIN=/usr/bin/vigil",
                 "VIGIL_CONFIG=/etc/vigil.ini",
                 NULL};
  cr_assert_eq(vg_config_load_env(&c, env, err, sizeof err), 0, "%s", err);
  cr_assert_eq(c.http_port, 9000);
  cr_assert_str_eq(c.data_dir, "/var/lib/vigil");
  cr_assert_eq(c.log_level, VG_LOG_WARN);
  cr_assert_eq(c.https_port, 8443);
}

Test(config, env_unknown_is_error) {
  vg_config c;
  vg_config_defaults(&c);
  char err[256] = "";
  char *env[] = {"VIGIL_HTTP_PORT=9000", "VIGIL_FOO=1", NULL};
  cr_assert_lt(vg_config_load_env(&c, env, err, sizeof err), 0);
  cr_assert_not_null(strstr(err, "VIGIL_FOO"), "%s", err);
}

Test(config, env_bad_value_is_error) {
  vg_config c;
  vg_config_defaults(&c);
  char err[256] = "";
  char *env[] = {"VIGIL_HTTP_PORT=90000", NULL};
  cr_assert_lt(vg_config_load_env(&c, env, err, sizeof err), 0);
  cr_assert_not_null(strstr(err, "VIGIL_HTTP_PORT"), "%s", err);
  cr_assert_eq(c.http_port, 8080);
}

Test(config, env_null_and_empty) {
  vg_config c;
  vg_config_defaults(&c);
  char err[256] = "";
  cr_assert_eq(vg_config_load_env(&c, NULL, err, sizeof err), 0);
  char *env[] = {NULL};
  cr_assert_eq(vg_config_load_env(&c, env, err, sizeof err), 0);
  cr_assert_eq(c.http_port, 8080);
}

Test(config, validate) {
  vg_config c;
  vg_config_defaults(&c);
  char err[256] = "";
  strcpy(c.tls_cert, "cert.pem");
  cr_assert_lt(vg_config_validate(&c, err, sizeof err), 0);
  cr_assert_not_null(strstr(err, "tls_key"), "%s", err);
  strcpy(c.tls_key, "key.pem");
  cr_assert_eq(vg_config_validate(&c, err, sizeof err), 0, "%s", err);
  c.tls_cert[0] = 0;
  cr_assert_lt(vg_config_validate(&c, err, sizeof err), 0, "key without cert");
  c.tls_key[0] = 0;
  c.data_dir[0] = 0;
  cr_assert_lt(vg_config_validate(&c, err, sizeof err), 0, "empty data_dir");
}

static char *write_temp(const char *text) {
  char *path = strdup("/tmp/vigil-config-XXXXXX");
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  return path;
}

Test(config, precedence_file_env_set) {
  char *path = write_temp("http_port = 1111\nhttps_port = 2222\nmedia_port = 3333\n");
  vg_config c;
  vg_config_defaults(&c);
  char err[512] = "";
  cr_assert_eq(vg_config_load_file(&c, path, err, sizeof err), 0, "%s", err);
  char *env[] = {"VIGIL_HTTPS_PORT=4444", "VIGIL_MEDIA_PORT=5555", NULL};
  cr_assert_eq(vg_config_load_env(&c, env, err, sizeof err), 0, "%s", err);
  cr_assert_eq(vg_config_set(&c, "media-port", "6666", err, sizeof err), 0, "%s", err);
  cr_assert_eq(c.http_port, 1111, "file over default");
  cr_assert_eq(c.https_port, 4444, "env over file");
  cr_assert_eq(c.media_port, 6666, "flag over env");
  cr_assert_eq(c.media_tls_port, 1936, "default when nobody sets it");
  unlink(path);
  free(path);
}

Test(config, load_file_errors_name_path) {
  vg_config c;
  vg_config_defaults(&c);
  char err[512] = "";
  const char *missing = "/nonexistent/dir/vigil.ini";
  cr_assert_eq(vg_config_load_file(&c, missing, err, sizeof err), VG_EIO);
  cr_assert_not_null(strstr(err, missing), "%s", err);

  char *path = write_temp("http_port = 1\n\nwhat = 2\n");
  cr_assert_lt(vg_config_load_file(&c, path, err, sizeof err), 0);
  cr_assert_not_null(strstr(err, path), "%s", err);
  cr_assert_not_null(strstr(err, "line 3"), "%s", err);
  unlink(path);
  free(path);
}

Test(config, load_empty_file) {
  char *path = write_temp("");
  vg_config c;
  vg_config_defaults(&c);
  char err[512] = "";
  cr_assert_eq(vg_config_load_file(&c, path, err, sizeof err), 0, "%s", err);
  cr_assert_eq(c.http_port, 8080);
  unlink(path);
  free(path);
}

Test(config, print_keys_lists_flags) {
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  vg_config_print_keys(f);
  fclose(f);
  cr_assert_not_null(strstr(out, "--http-port"), "%s", out);
  cr_assert_not_null(strstr(out, "--data "), "%s", out);
  cr_assert_not_null(strstr(out, "--max-body-bytes"), "%s", out);
  cr_assert_null(strstr(out, "_"), "flags use dashes: %s", out);
  free(out);
}
