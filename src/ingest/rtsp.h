/* rtsp.h - an RTSP/1.0 client (RFC 2326) for camera ingest: OPTIONS,
 * DESCRIBE (Basic and Digest auth: MD5, qop=auth or none), SETUP per
 * track over TCP interleaved channels, PLAY, keep-alive (GET_PARAMETER
 * when the camera lists it, else OPTIONS) within the session time-out,
 * TEARDOWN.
 *
 * Why Vigil has its own: libavformat's RTSP-over-TCP reader costs some six
 * system calls per RTP packet (poll, then a recv for '$', one for the
 * 3-byte header, one for the payload), ~360 packets a second for a
 * 4 Mbit/s camera. This client reads the socket into one large buffer
 * (VG_RTSP_BUF bytes) and cuts every interleaved packet out of it, so a
 * caller that reads every few milliseconds (camera.c's shared reader)
 * makes one recv per camera per read instead of several per packet.
 *
 * Two layers:
 *   - pure parsers over buffers (messages, interleaved framing, URLs,
 *     WWW-Authenticate and the Digest response), which the unit tests and
 *     fuzz targets call;
 *   - vg_rtsp, one blocking connection for a camera's session thread.
 *     Every wait is cut into slices of at most VG_RTSP_SLICE_MS and the
 *     caller's interrupt callback is asked between them, so a stop or a
 *     deadline ends any call promptly. */
#ifndef VG_RTSP_H
#define VG_RTSP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ingest/probe.h"
#include "ingest/sdp.h"

#define VG_RTSP_MSG_MAX 65536    /* bytes of one message: header plus body */
#define VG_RTSP_BUF (192 * 1024) /* the receive buffer */
#define VG_RTSP_SLICE_MS 100
#define VG_RTSP_DEFAULT_PORT 554
#define VG_RTSP_DEFAULT_TIMEOUT_S 60

/* ---- pure parsers ---- */

typedef struct vg_rtsp_msg {
  bool response;    /* "RTSP/1.0 200 OK"; false for a request from the server */
  int status;       /* responses */
  const char *head; /* start line and headers, not NUL-terminated */
  size_t head_len;
  const uint8_t *body;
  size_t body_len;
} vg_rtsp_msg;

/* Parses one RTSP message at the start of buf. Returns the bytes it spans
 * (header and Content-Length body), VG_EAGAIN when more bytes are needed,
 * VG_EINVAL when it is not RTSP, VG_ETOOBIG past VG_RTSP_MSG_MAX. */
int vg_rtsp_msg_parse(const uint8_t *buf, size_t len, vg_rtsp_msg *m);
/* The idx-th value (0 = first) of header name (case-insensitive), trimmed,
 * into out. Returns 0, VG_ENOTFOUND or VG_ETOOBIG. */
int vg_rtsp_msg_header(const vg_rtsp_msg *m, const char *name, size_t idx, char *out, size_t cap);

typedef enum vg_rtsp_item_kind {
  VG_RTSP_ITEM_DATA = 1, /* an interleaved packet */
  VG_RTSP_ITEM_MSG,      /* an RTSP message */
  VG_RTSP_ITEM_SKIP,     /* bytes that are neither (resynchronising) */
} vg_rtsp_item_kind;

typedef struct vg_rtsp_item {
  vg_rtsp_item_kind kind;
  int channel; /* DATA */
  const uint8_t *data;
  size_t len;
  vg_rtsp_msg msg; /* MSG */
} vg_rtsp_item;

/* The next item of an interleaved TCP stream ('$', channel, 16-bit length,
 * packet; or an RTSP message). Returns the bytes it spans (> 0),
 * VG_EAGAIN, or VG_ETOOBIG / VG_EINVAL from the message parser. */
int vg_rtsp_next(const uint8_t *buf, size_t len, vg_rtsp_item *it);

typedef struct vg_rtsp_url {
  char host[256];
  int port;
  char uri[1024];                /* request URI: the URL without userinfo */
  char user[128], password[128]; /* percent-decoded userinfo, "" when none */
} vg_rtsp_url;

/* Splits rtsp://[user[:pass]@]host[:port][/path]. Returns 0 or VG_EINVAL
 * (other scheme, no host, bad port) or VG_ETOOBIG. */
int vg_rtsp_url_parse(const char *url, vg_rtsp_url *out);
/* The URL of control (absolute, "*", or relative to base) into out.
 * Returns 0 or VG_ETOOBIG. */
int vg_rtsp_url_resolve(const char *base, const char *control, char *out, size_t cap);

typedef enum { VG_RTSP_AUTH_NONE = 0, VG_RTSP_AUTH_BASIC, VG_RTSP_AUTH_DIGEST } vg_rtsp_auth_scheme;

typedef struct vg_rtsp_auth {
  vg_rtsp_auth_scheme scheme;
  char realm[128], nonce[128], opaque[128];
  bool qop_auth;
  unsigned nc;
} vg_rtsp_auth;

/* Takes one WWW-Authenticate value; Digest (MD5) wins over Basic when a
 * camera offers both. Returns 0, or VG_EINVAL for a scheme or algorithm
 * we cannot answer (a keeps what it had). */
int vg_rtsp_auth_challenge(vg_rtsp_auth *a, const char *value);
/* The Authorization value for one request into out ("Basic ...",
 * "Digest username=..."); cnonce is used with qop=auth. */
int vg_rtsp_auth_header(vg_rtsp_auth *a, const char *method, const char *uri, const char *user,
                        const char *password, const char *cnonce, char *out, size_t cap);

/* ---- the connection ---- */

typedef struct vg_rtsp_error {
  int code;      /* VG_E* of the failure */
  int status;    /* RTSP status when the camera refused a request, else 0 */
  int sys_errno; /* socket error, else 0 */
  bool dns;      /* the host name did not resolve */
  char method[16];
} vg_rtsp_error;

/* Puts an error into the words of probe.h (same sentences as the
 * libavformat path): 401, 404, time-out, refused, ... */
vg_probe_error vg_rtsp_error_text(const vg_rtsp_error *e, int timeout_ms, char *msg, size_t cap);

typedef struct vg_rtsp_config {
  const char *url;
  const char *username, *password; /* NULL or "": from the URL's userinfo, if any */
  int (*interrupt)(void *ud);      /* nonzero: give up now (VG_ETIMEDOUT) */
  void *ud;
} vg_rtsp_config;

typedef struct vg_rtsp vg_rtsp;

typedef void (*vg_rtsp_data_fn)(void *ud, int channel, const uint8_t *data, size_t len);

/* Connects and describes: OPTIONS, DESCRIBE (answering one auth
 * challenge), SDP parsed. */
int vg_rtsp_open(const vg_rtsp_config *cfg, vg_rtsp **out, vg_rtsp_error *err);
const vg_sdp *vg_rtsp_sdp(const vg_rtsp *r);
/* SETUP of media i over TCP; *channel receives its RTP channel (RTCP is
 * channel + 1). */
int vg_rtsp_setup(vg_rtsp *r, size_t media, int *channel, vg_rtsp_error *err);
int vg_rtsp_play(vg_rtsp *r, vg_rtsp_error *err);
/* RTP-Info rtptime of media i from the PLAY answer; false when absent. */
bool vg_rtsp_rtptime(const vg_rtsp *r, size_t media, uint32_t *rtptime);
/* Waits up to wait_ms for bytes (0: no wait, one non-blocking recv),
 * reads what arrived and hands every complete interleaved packet to fn.
 * Sends a keep-alive when one is due. Returns the bytes read (0 when none) or
 * VG_ECLOSED (the camera closed), VG_EIO, VG_EPROTO, VG_ETIMEDOUT. */
int vg_rtsp_read(vg_rtsp *r, int wait_ms, vg_rtsp_data_fn fn, void *ud, vg_rtsp_error *err);
/* TEARDOWN (not waiting for its answer) and close. NULL is fine. */
void vg_rtsp_close(vg_rtsp *r);

#endif
