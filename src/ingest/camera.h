/* camera.h - one RTSP camera session: a thread that keeps the camera
 * connected (Vigil's RTSP client over TCP interleaved, libavformat for UDP
 * and rtsps://; open and read time-outs, reconnection with capped
 * exponential back-off) and hands what it reads to the event loop. See
 * docs/ingest.md.
 *
 * Callbacks run on the loop thread (the session thread queues events and
 * wakes the loop with uv_async). Frames are in the vg_frame layout of
 * media/frame.h: video passed through as length-prefixed NAL units, G.711
 * audio transcoded to AAC, AAC passed through, wall-clock stamped. */
#ifndef VG_CAMERA_H
#define VG_CAMERA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "media/frame.h"

typedef enum vg_camera_status {
  VG_CAMERA_CONNECTING = 0,
  VG_CAMERA_ONLINE,
  VG_CAMERA_OFFLINE,
  VG_CAMERA_ERROR,
} vg_camera_status;

/* "connecting", "online", "offline", "error" */
const char *vg_camera_status_name(vg_camera_status s);

typedef struct vg_camera_config {
  int64_t id;
  char url[1025];      /* the store's longest URL (VG_URL_MAX 1024) and its NUL */
  char username[129];  /* VG_CAMERA_USERNAME_MAX 128 and its NUL */
  char password[128];
  bool udp;
  int open_timeout_ms; /* default 5000 */
  int read_timeout_ms; /* no packet for this long = connection lost; default 5000 */
  int backoff_min_ms;  /* default 500 */
  int backoff_max_ms;  /* default 30000 */
} vg_camera_config;

typedef struct vg_camera_stats {
  double bitrate_kbps; /* over the last few seconds */
  double fps;
  int64_t last_frame_ms; /* wall clock of the newest frame, 0 when none */
  int64_t reconnects;
  int64_t frames;
  int64_t bytes;
} vg_camera_stats;

typedef struct vg_camera_callbacks {
  /* Status changed; reason is a short sentence for "error"/"offline"
   * ("401 Unauthorized: wrong credentials"), "" otherwise. */
  void (*on_status)(void *ud, vg_camera_status status, const char *reason);
  /* The streams, before the first frame of each connection. audio is NULL
   * when the camera sends none (or one we cannot carry). */
  void (*on_params)(void *ud, const vg_codec_params *video, const vg_codec_params *audio);
  /* One frame; the callee takes f->data's reference. */
  void (*on_frame)(void *ud, vg_frame *f);
} vg_camera_callbacks;

typedef struct vg_camera vg_camera;

/* Vigil's RTSP client hands every playing TCP connection to one shared
 * reader thread, which reads them all every tick: a frame waits up to one
 * tick (half on average) longer, and the reader's CPU follows the ticks
 * (one recv per camera per tick). Process-wide, any time; clamped to
 * VG_CAMERA_TICK_MIN_MS..VG_CAMERA_TICK_MAX_MS. */
#define VG_CAMERA_TICK_MS 50
#define VG_CAMERA_TICK_MIN_MS 5
#define VG_CAMERA_TICK_MAX_MS 200
void vg_camera_set_read_tick_ms(int ms);

int vg_camera_start(uv_loop_t *loop, const vg_camera_config *cfg, const vg_camera_callbacks *cb,
                    void *ud, vg_camera **out);
/* Stops the thread (interrupting a blocking read at once); on_closed runs
 * on the loop when everything is freed. No callback of cb runs after
 * vg_camera_stop returns. */
void vg_camera_stop(vg_camera *c, void (*on_closed)(void *ud), void *ud);
void vg_camera_get_stats(vg_camera *c, vg_camera_stats *out);
vg_camera_status vg_camera_get_status(vg_camera *c, char *reason, size_t reason_len);

/* Writes url with username/password as its userinfo (rtsp://user:pass@host/...),
 * percent-encoding every byte of them but RFC 3986 unreserved ones; an
 * existing userinfo in url is replaced. Without a username url is copied as
 * is. Returns 0, VG_EINVAL (not rtsp:// or rtsps://) or VG_ETOOBIG. */
int vg_camera_build_url(const char *url, const char *username, const char *password, char *out,
                        size_t outlen);

#endif
