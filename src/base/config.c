/* config.c - defaults, INI files, environment and flags, one table of keys. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "log.h"

enum key_type { K_STR, K_PORT, K_INT, K_LEVEL };

typedef struct key_def {
  const char *name;
  enum key_type type;
  size_t offset;
  size_t size; /* for strings */
  int64_t min, max;
  const char *help;
} key_def;

#define STR(f, h) \
  { #f, K_STR, offsetof(vg_config, f), sizeof(((vg_config *)0)->f), 0, 0, h }
#define PORT(f, h) \
  { #f, K_PORT, offsetof(vg_config, f), 0, 0, 65535, h }
#define INT(f, lo, hi, h) \
  { #f, K_INT, offsetof(vg_config, f), 0, lo, hi, h }

static const key_def keys[] = {
    STR(bind, "address to listen on (default 0.0.0.0)"),
    PORT(http_port, "web app and API over HTTP (default 8080, 0 = off)"),
    PORT(https_port,
         "web app and API over HTTPS (default 8443 when a certificate is set, 0 = off)"),
    PORT(media_port,
         "media listener: live video (WebSocket, LL-HLS), RTMP/TLS/HTTP told apart by the first bytes "
         "(default 1935, 0 = off)"),
    PORT(media_tls_port,
         "the media listener over TLS, with --tls-cert and --tls-key (default 1936, 0 = off)"),
    STR(data_dir, "data folder: database, key files, media (default ./data)"),
    STR(tls_cert, "PEM certificate chain for HTTPS"),
    STR(tls_key, "PEM private key for HTTPS"),
    STR(web_dir, "folder of the browser UI"),
    STR(database, "store URL: a SQLite path (default DATA/vigil.db)"),
    {"log_level", K_LEVEL, offsetof(vg_config, log_level), 0, 0, 3, "error, warn, info or debug"},
    INT(max_header_bytes, 1024, 1 << 20, "request line and headers, past it 431 (default 16384)"),
    INT(max_body_bytes, 0, INT64_C(1) << 40, "request body, past it 413 (default 1048576)"),
    INT(header_timeout_ms, 100, 3600000,
        "time to receive a request head, then 408 (default 10000)"),
    INT(idle_timeout_ms, 100, 86400000, "idle keep-alive connection time-out (default 60000)"),
    INT(send_stall_ms, 100, 86400000,
        "a streamed response (recorded video, export package) whose client accepts no byte this "
        "long is closed (default 60000)"),
    INT(max_connections, 1, 1000000, "open connections at most (default 10000)"),
    INT(ws_max_message, 125, 1 << 30, "largest WebSocket message accepted (default 65536)"),
    INT(session_ttl_s, 1, 31536000, "sign-in session lifetime in seconds (default 43200)"),
    INT(login_max_failures, 1, 1000000,
        "failed logins per account per window before 429 (default 5)"),
    INT(login_max_failures_addr, 1, 1000000, "failed logins per address per window (default 20)"),
    INT(login_window_s, 1, 86400, "login throttling window in seconds (default 900)"),
    INT(segment_seconds, 2, 3600, "recording files roll on a keyframe after this (default 60)"),
    INT(record_sync_ms, 0, 3600000,
        "open recording files are synced to disk this often, for power loss; 0: after every "
        "fragment (default 5000)"),
    INT(ingest_tick_ms, 5, 200,
        "TCP cameras are read this often: added live latency against CPU (default 50)"),
    INT(retention_check_seconds, 1, 86400,
        "seconds between sweeps deleting expired recordings (default 600)"),
    INT(disk_floor_mb, 0, INT64_C(1) << 40,
        "free space kept in the data folder, in MB (default 1024)"),
    INT(live_skip_bytes, 4096, INT64_C(1) << 30,
        "live viewer with more queued skips to the next keyframe (default 2097152)"),
    INT(live_stuck_ms, 100, 3600000,
        "live viewer above --live-skip-bytes this long is disconnected (default 10000)"),
    INT(live_threads, 0, 256,
        "threads writing live video to WebSocket viewers; 0: the main loop does it "
        "(default: the number of cores)"),
    INT(hls_part_ms, 100, 2000, "LL-HLS part target duration in ms (default 334)"),
    INT(hls_segments, 3, 60, "LL-HLS segments kept in memory per camera (default 6)"),
    INT(playback_cache_mb, 0, 65536,
        "memory for built recording MP4s reused by further requests, in MB (default 64)"),
};

/* Spellings that differ from the key name: --data is the documented flag. */
static const struct {
  const char *alias, *name;
} aliases[] = {{"data", "data_dir"}, {"web", "web_dir"}};

void vg_config_defaults(vg_config *c) {
  memset(c, 0, sizeof *c);
  snprintf(c->bind, sizeof c->bind, "0.0.0.0");
  c->http_port = 8080;
  c->https_port = 8443;
  c->media_port = 1935;
  c->media_tls_port = 1936;
  snprintf(c->data_dir, sizeof c->data_dir, "data");
  snprintf(c->web_dir, sizeof c->web_dir, "%s", VIGIL_WEB_DIR);
  c->log_level = VG_LOG_INFO;
  c->max_header_bytes = 16384;
  c->max_body_bytes = 1 << 20;
  c->header_timeout_ms = 10000;
  c->idle_timeout_ms = 60000;
  c->send_stall_ms = 60000;
  c->max_connections = 10000;
  c->ws_max_message = 65536;
  c->session_ttl_s = 12 * 3600;
  c->login_max_failures = 5;
  c->login_max_failures_addr = 20;
  c->login_window_s = 900;
  c->segment_seconds = 60;
  c->record_sync_ms = 5000;
  c->ingest_tick_ms = 50;
  c->disk_floor_mb = 1024;
  c->retention_check_seconds = 600;
  c->live_skip_bytes = 2 << 20;
  c->live_stuck_ms = 10000;
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  c->live_threads = cores < 1 ? 1 : cores > 256 ? 256 : cores;
  c->hls_part_ms = 334;
  c->hls_segments = 6;
  c->playback_cache_mb = 64;
}

static const key_def *find_key(const char *key) {
  char norm[64];
  size_t n = strlen(key);
  if (n >= sizeof norm) return NULL;
  for (size_t i = 0; i <= n; i++)
    norm[i] = key[i] == '-' ? '_' : (char)tolower((unsigned char)key[i]);
  for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
    if (strcmp(norm, aliases[i].alias) == 0) return find_key(aliases[i].name);
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    if (strcmp(norm, keys[i].name) == 0) return &keys[i];
  return NULL;
}

static int parse_int(const char *v, int64_t *out) {
  char *end;
  errno = 0;
  long long x = strtoll(v, &end, 10);
  if (errno || end == v || *end) return VG_EINVAL;
  *out = x;
  return 0;
}

int vg_config_set(vg_config *c, const char *key, const char *value, char *err, size_t errlen) {
  const key_def *k = find_key(key);
  if (!k) {
    snprintf(err, errlen, "unknown setting '%s'", key);
    return VG_ENOTFOUND;
  }
  char *field = (char *)c + k->offset;
  int64_t x;
  switch (k->type) {
    case K_STR:
      if (strlen(value) >= k->size) {
        snprintf(err, errlen, "%s: value too long", k->name);
        return VG_EINVAL;
      }
      memcpy(field, value, strlen(value) + 1);
      return 0;
    case K_LEVEL: {
      int lvl = vg_log_level_parse(value);
      if (lvl < 0) {
        snprintf(err, errlen, "%s: '%s' is not error, warn, info or debug", k->name, value);
        return VG_EINVAL;
      }
      *(int *)field = lvl;
      return 0;
    }
    case K_PORT:
    case K_INT:
      if (parse_int(value, &x) || x < (k->type == K_PORT ? 0 : k->min) ||
          x > (k->type == K_PORT ? 65535 : k->max)) {
        snprintf(err, errlen, "%s: '%s' is not a number from %lld to %lld", k->name, value,
                 (long long)(k->type == K_PORT ? 0 : k->min),
                 (long long)(k->type == K_PORT ? 65535 : k->max));
        return VG_EINVAL;
      }
      if (k->type == K_PORT)
        *(int *)field = (int)x;
      else
        *(int64_t *)field = x;
      return 0;
  }
  return VG_EINVAL;
}

static char *trim(char *s, char *end) {
  while (s < end && isspace((unsigned char)*s)) s++;
  while (end > s && isspace((unsigned char)end[-1])) end--;
  *end = 0;
  return s;
}

int vg_config_parse_ini(vg_config *c, const char *text, size_t len, char *err, size_t errlen) {
  char line[2048];
  size_t pos = 0;
  int lineno = 0;
  while (pos < len) {
    lineno++;
    const char *nl = memchr(text + pos, '\n', len - pos);
    size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
    if (n >= sizeof line) {
      snprintf(err, errlen, "line %d: too long", lineno);
      return VG_EINVAL;
    }
    memcpy(line, text + pos, n);
    line[n] = 0;
    pos += n + (nl ? 1 : 0);
    if (memchr(line, 0, n)) {
      snprintf(err, errlen, "line %d: NUL byte", lineno);
      return VG_EINVAL;
    }
    char *s = trim(line, line + n);
    if (*s == 0 || *s == '#' || *s == ';') continue;
    if (*s == '[') {
      if (s[strlen(s) - 1] != ']') {
        snprintf(err, errlen, "line %d: unterminated section header", lineno);
        return VG_EINVAL;
      }
      continue;
    }
    char *eq = strchr(s, '=');
    if (!eq) {
      snprintf(err, errlen, "line %d: expected key = value", lineno);
      return VG_EINVAL;
    }
    char *key = trim(s, eq);
    char *val = trim(eq + 1, eq + 1 + strlen(eq + 1));
    size_t vl = strlen(val);
    if (vl >= 2 &&
        ((val[0] == '"' && val[vl - 1] == '"') || (val[0] == '\'' && val[vl - 1] == '\''))) {
      val[vl - 1] = 0;
      val++;
    }
    char kerr[256];
    if (vg_config_set(c, key, val, kerr, sizeof kerr)) {
      snprintf(err, errlen, "line %d: %s", lineno, kerr);
      return VG_ECONFIG;
    }
  }
  return 0;
}

int vg_config_load_file(vg_config *c, const char *path, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return VG_EIO;
  }
  char *text = NULL;
  size_t len = 0, cap = 0;
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
    if (len + n > (1 << 20)) {
      fclose(f);
      free(text);
      snprintf(err, errlen, "%s: larger than 1 MiB", path);
      return VG_ETOOBIG;
    }
    if (len + n > cap) {
      cap = (len + n) * 2;
      char *t = realloc(text, cap);
      if (!t) {
        fclose(f);
        free(text);
        return VG_ENOMEM;
      }
      text = t;
    }
    memcpy(text + len, chunk, n);
    len += n;
  }
  fclose(f);
  char lerr[300];
  int rc = vg_config_parse_ini(c, text ? text : "", len, lerr, sizeof lerr);
  if (rc) snprintf(err, errlen, "%s: %s", path, lerr);
  free(text);
  return rc;
}

int vg_config_load_env(vg_config *c, char **envp, char *err, size_t errlen) {
  for (; envp && *envp; envp++) {
    if (strncmp(*envp, "VIGIL_", 6) != 0) continue;
    const char *eq = strchr(*envp, '=');
    if (!eq) continue;
    char key[64];
    size_t n = (size_t)(eq - *envp) - 6;
    if (n >= sizeof key) continue;
    memcpy(key, *envp + 6, n);
    key[n] = 0;
    if (strcmp(key, "BIN") == 0 || strcmp(key, "CONFIG") == 0) continue;
    char kerr[256];
    int rc = vg_config_set(c, key, eq + 1, kerr, sizeof kerr);
    if (rc) {
      snprintf(err, errlen, "environment VIGIL_%s: %s", key, kerr);
      return VG_ECONFIG;
    }
  }
  return 0;
}

int vg_config_validate(const vg_config *c, char *err, size_t errlen) {
  if (!c->tls_cert[0] != !c->tls_key[0]) {
    snprintf(err, errlen, "tls_cert and tls_key must be set together");
    return VG_ECONFIG;
  }
  if (!c->data_dir[0]) {
    snprintf(err, errlen, "data_dir is empty");
    return VG_ECONFIG;
  }
  return 0;
}

void vg_config_print_keys(void *file) {
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    char flag[64];
    snprintf(flag, sizeof flag, "%s", keys[i].name);
    for (char *p = flag; *p; p++)
      if (*p == '_') *p = '-';
    if (strcmp(keys[i].name, "data_dir") == 0) snprintf(flag, sizeof flag, "data");
    fprintf(file, "  --%-26s %s\n", flag, keys[i].help);
  }
}
