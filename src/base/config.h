/* config.h - settings read once at start (the other allowed global is the
 * logger; this struct is passed around, never global).
 *
 * Precedence, lowest first: built-in defaults, the INI file, VIGIL_*
 * environment variables, command-line flags. Every key has the same
 * spelling in all three: `http_port` in the file, VIGIL_HTTP_PORT in the
 * environment, --http-port on the command line. INI section headers
 * ("[http]") only group keys for the reader; key names are global. */
#ifndef VG_CONFIG_H
#define VG_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define VG_PATH_MAX 1024

typedef struct vg_config {
  char bind[64];
  int http_port;      /* 0 = off */
  int https_port;     /* 0 = off; needs tls_cert and tls_key */
  int media_port;     /* 0 = off */
  int media_tls_port; /* 0 = off */
  char data_dir[VG_PATH_MAX];
  char tls_cert[VG_PATH_MAX];
  char tls_key[VG_PATH_MAX];
  char web_dir[VG_PATH_MAX];
  char database[VG_PATH_MAX]; /* store URL; empty = DATA/vigil.db */
  int log_level;
  int64_t max_header_bytes;
  int64_t max_body_bytes;
  int64_t header_timeout_ms;
  int64_t idle_timeout_ms;
  int64_t send_stall_ms; /* a streamed response whose client takes no byte this long closes */
  int64_t max_connections;
  int64_t ws_max_message;
  int64_t session_ttl_s;
  int64_t login_max_failures;      /* per account within login_window_s */
  int64_t login_max_failures_addr; /* per address within login_window_s */
  int64_t login_window_s;
  int64_t segment_seconds;         /* roll recording files on a keyframe after this */
  int64_t record_sync_ms;          /* fdatasync of open recording files this often */
  int64_t ingest_tick_ms;          /* the shared RTSP reader reads every camera this often */
  int64_t disk_floor_mb;           /* free space kept in the data folder */
  int64_t retention_check_seconds; /* period of the retention sweep */
  int64_t live_skip_bytes;         /* a live viewer with more queued skips to the next keyframe */
  int64_t live_stuck_ms;           /* ...and is closed when it stays above that this long */
  int64_t live_threads;            /* sender threads of live viewers; 0: the main loop */
  int64_t hls_part_ms;             /* LL-HLS part target */
  int64_t hls_segments;            /* LL-HLS segments kept per camera */
  int64_t playback_cache_mb;       /* built recording MP4s kept for further requests */
} vg_config;

void vg_config_defaults(vg_config *c);

/* Sets key (underscore or dash spelling) to a textual value. Returns 0,
 * VG_ENOTFOUND for an unknown key, VG_EINVAL for a bad value; err names
 * the key and the problem. */
int vg_config_set(vg_config *c, const char *key, const char *value, char *err, size_t errlen);

/* Applies an INI text (pure: no I/O). Errors name the line. */
int vg_config_parse_ini(vg_config *c, const char *text, size_t len, char *err, size_t errlen);

/* Reads and applies an INI file. */
int vg_config_load_file(vg_config *c, const char *path, char *err, size_t errlen);

/* Applies VIGIL_<KEY> variables from envp (NULL-terminated). Unknown
 * VIGIL_ variables are an error, so a typo does not go unnoticed; VIGIL_BIN
 * and VIGIL_CONFIG are reserved for tools and ignored. */
int vg_config_load_env(vg_config *c, char **envp, char *err, size_t errlen);

/* Checks cross-key rules (TLS port needs cert and key...). */
int vg_config_validate(const vg_config *c, char *err, size_t errlen);

/* Prints every key with a one-line description (for --help). */
void vg_config_print_keys(void *file);

#endif
