/* probe.h - "test connection" for a camera: opens the stream once, reads
 * its parameters, and names what went wrong in words an installer can act
 * on. Blocking: call it from the thread pool, never from the loop. */
#ifndef VG_PROBE_H
#define VG_PROBE_H

#include <stdbool.h>
#include <stddef.h>

typedef enum vg_probe_error {
  VG_PROBE_OK = 0,
  VG_PROBE_UNREACHABLE,  /* connection refused, no route, DNS failure */
  VG_PROBE_UNAUTHORIZED, /* RTSP 401: wrong or missing credentials */
  VG_PROBE_NOT_FOUND,    /* RTSP 404: no such stream path */
  VG_PROBE_UNSUPPORTED,  /* no H.264/H.265 video, or audio we cannot carry */
  VG_PROBE_TIMEOUT,      /* no answer or no media within the time-out */
  VG_PROBE_PROTOCOL,     /* anything else the camera got wrong */
} vg_probe_error;

typedef struct vg_probe_result {
  vg_probe_error error;
  char message[256];    /* human-readable detail, also set on success */
  char video_codec[16]; /* "h264", "h265" */
  int width, height;
  double fps;
  char audio_codec[16]; /* "aac", "pcm_alaw", "pcm_mulaw", "" when none */
  int sample_rate, channels;
} vg_probe_result;

/* Short machine name of an error: "ok", "unreachable", "unauthorized",
 * "not_found", "unsupported", "timeout", "protocol". */
const char *vg_probe_error_name(vg_probe_error e);

/* Probes url (rtsp://...) with optional credentials, over TCP unless udp.
 * Always fills r; returns 0 when the stream is usable, else VG_EIO. */
int vg_probe_camera(const char *url, const char *username, const char *password, bool udp,
                    int timeout_ms, vg_probe_result *r);

/* ---- shared with the camera session (camera.c) ---- */

/* Classifies a libavformat error (from opening or reading an RTSP stream)
 * and writes a sentence an installer can act on to msg. timed_out says the
 * interrupt callback's deadline ended the call; log_line is the last error
 * libavformat logged on this thread ("" when none), used when the code
 * alone is vague. */
vg_probe_error vg_probe_classify(int averror, bool timed_out, int timeout_ms, const char *log_line,
                                 char *msg, size_t msglen);

/* Captures libavformat's log lines of the calling thread while active:
 * the last error line is kept, and they go to Vigil's log at debug level
 * instead of stderr. Other threads' lines reach FFmpeg's default
 * callback. */
typedef struct vg_avlog_capture {
  char last_error[256];
} vg_avlog_capture;

void vg_avlog_capture_begin(vg_avlog_capture *cap);
void vg_avlog_capture_end(void);

#endif
