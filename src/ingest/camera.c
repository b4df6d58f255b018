/* camera.c - one RTSP camera session; see camera.h.
 *
 * Two sides share a vg_camera:
 *
 *   session thread   connects, reads packets, turns them into vg_frames
 *                    and appends events (status, params, frame) to a
 *                    queue under c->mu, then wakes the loop (uv_async).
 *   loop thread      drains the queue in on_async and runs the callbacks.
 *
 * The queue is bounded: past CAM_QUEUE_MAX frames the oldest frames go,
 * up to the next video keyframe so the consumer never sees a broken GOP.
 * Status and params events are never dropped.
 *
 * Two readers: Vigil's RTSP client (rtsp.c, rtp.c) for TCP interleaved,
 * whose playing connections are read in large blocks by one shared thread
 * (see "the shared reader"), and libavformat for UDP and rtsps://, read
 * by the session thread. Both hand cam_pkts to the same video_packet /
 * audio_packet.
 *
 * Every blocking call is cut short by the interrupt callback:
 * at once when stop was requested, or when the current deadline passed
 * (open_timeout while connecting, read_timeout since the last packet).
 * vg_camera_stop therefore ends the thread within one poll slice of
 * FFmpeg's network code (~100 ms); the join runs on the thread pool so the
 * loop never waits for it.
 *
 * Time stamps. Each connection is mapped onto one session time line: the
 * first video keyframe of a connection sits at the end of the previous
 * connection plus the wall time that passed, so dts is monotonic for the
 * life of the vg_camera. Audio shares the origin (the keyframe's instant),
 * which keeps libavformat's A/V alignment. */
#include "camera.h"

#include <ctype.h>
#include <errno.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/dict.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "ingest/clock_anchor.h"
#include "ingest/probe.h"
#include "ingest/reorder.h"
#include "ingest/rtp.h"
#include "ingest/rtsp.h"
#include "ingest/transcode.h"
#include "media/codec.h"

/* After losing a connection that delivered frames, retries come at least this often for
 * FAST_RETRY_WINDOW_MS before the back-off grows to backoff_max_ms. */
#define FAST_RETRY_MAX_MS 1000
#define FAST_RETRY_WINDOW_MS 60000
#define CAM_QUEUE_MAX 2000     /* frames waiting for the loop */
#define CAM_PROBESIZE 500000   /* bytes find_stream_info may read */
#define CAM_ANALYZE_US 1000000 /* stream time find_stream_info may read */
#define CAM_STABLE_MS 10000    /* a connection this long resets the back-off */
#define CAM_STATS_BUCKETS 8    /* one-second buckets */
#define CAM_STATS_WINDOW_S 4   /* seconds the rates cover */
#define CAM_AUDIO_FUZZ_S 1     /* audio this far back is re-stamped, not dropped */
#define CAM_REASON_MAX 192
#define CAM_READ_MAX_RECVS 8 /* reads per camera per tick, at most */
/* Audio frames queued without waking the loop, at most: the loop wakes for
 * every video frame, status and params event anyway, and drains the audio
 * queued before them first (same order, only delivered together). A few
 * AAC frames are some 85 ms at 48 kHz, so audio alone (video stalled) is
 * still delivered promptly. One wake per frame was most of the loop's
 * work: ~72 wakes/s per 25 fps camera with 47 AAC frames/s. */
#define CAM_AUDIO_BATCH 4

typedef enum { EV_STATUS, EV_PARAMS, EV_FRAME } ev_type;

typedef struct cam_event {
  struct cam_event *next;
  ev_type type;
  vg_camera_status status;
  char reason[CAM_REASON_MAX];
  vg_codec_params *video, *audio; /* EV_PARAMS, owned */
  vg_frame frame;                 /* EV_FRAME, owns frame.data */
} cam_event;

typedef struct stats_bucket {
  int64_t sec;
  int64_t frames;
  int64_t bytes;
} stats_bucket;

struct vg_camera {
  uv_loop_t *loop;
  vg_camera_config cfg;
  vg_camera_callbacks cb;
  void *ud;

  /* loop side */
  uv_async_t async;
  uv_work_t join_work;
  bool closing;
  void (*on_closed)(void *);
  void *closed_ud;

  pthread_t thread;
  atomic_bool stop;
  atomic_uint_fast64_t deadline; /* mono ms; 0 = none */
  atomic_bool timed_out;

  /* shared, under mu */
  pthread_mutex_t mu;
  pthread_cond_t cond; /* signalled on stop, wakes the back-off sleep */
  cam_event *head, *tail;
  size_t queued_frames;
  int unsignalled;  /* audio frames queued since the last uv_async_send */
  bool skip_to_key; /* after an overflow: drop until a video keyframe */
  int64_t dropped;
  vg_camera_status status;
  char reason[CAM_REASON_MAX];
  int64_t reconnects, frames, bytes, last_frame_ms;
  uint64_t stats_first_ms;
  stats_bucket buckets[CAM_STATS_BUCKETS];
};

/* A stream packet, whichever reader produced it. */
typedef struct cam_pkt {
  const uint8_t *data; /* video: Annex-B (libavformat); audio: the frame */
  size_t size;
  vg_buf *lp;            /* video from Vigil's client: the frame, length-prefixed (owned) */
  const uint8_t *params; /* in-band parameter sets as Annex-B, or NULL: look in data */
  size_t params_len;
  int64_t dts, pts; /* unwrapped, in the track's time base */
  int64_t duration; /* 0 when unknown */
  bool key;
} cam_pkt;

typedef struct cam_held {
  cam_pkt pkt;
  vg_buf *lp;
  uint8_t *params;
} cam_held;

/* Session-thread state of one connection. */
typedef struct cam_conn {
  /* libavformat (UDP, rtsps://) */
  AVFormatContext *fmt;
  AVPacket *pkt;
  AVStream *vst, *ast;
  /* Vigil's RTSP client (TCP interleaved) */
  vg_rtsp *rtsp;
  vg_rtp_depack *vdp, *adp;
  int vch, ach; /* interleaved RTP channels; -1 when none */
  bool got_media;
  bool v_rtptime_ok, a_rtptime_ok; /* RTP-Info of the PLAY answer */
  uint32_t v_rtptime, a_rtptime;
  uint64_t vkey_arrival; /* mono ms the first keyframe arrived */
  cam_held held;         /* the first keyframe, kept until the next frame gives the rate */
  vg_reorder reorder;    /* decode time stamps for B-frames (decode order in and out) */
  bool fps_known;
  /* both */
  AVRational vtb, atb; /* time bases of the stream time stamps */
  vg_codec_id vcodec;
  vg_codec_params vparams, aparams;
  bool vparams_ok;     /* extradata holds an avcC / hvcC */
  bool vparams_inband; /* ... built from parameter sets seen in the stream */
  bool has_audio;      /* aparams describe the audio we emit */
  vg_transcode *tc;    /* G.711 -> AAC, or NULL for AAC passthrough */
  int audio_frame;     /* samples per AAC frame */
  bool started;        /* the first keyframe went out */
  int64_t vorigin;     /* unwrapped dts of that keyframe (vtb) */
  bool aorigin_ok;
  int64_t aorigin; /* the same instant in atb */
  vg_ts_unwrap vunwrap, aunwrap;
  uint64_t online_ms; /* mono time of the first frame */
  int64_t nframes;
  char reason[CAM_REASON_MAX];
  bool error; /* reason is an ERROR (configuration) rather than OFFLINE */
} cam_conn;

/* Session-thread state across connections. */
typedef struct cam_session {
  vg_clock_anchor anchor; /* fed the session video time line (90 kHz) */
  bool have_v, have_a;
  int64_t last_vdts; /* 90 kHz */
  int64_t last_adts; /* audio timescale */
  uint32_t a_timescale;
  uint64_t last_frame_mono;
  int64_t vbase, abase; /* session time of this connection's origin */
  bool ever_online;
} cam_session;

/* ---- URL ---- */

static bool unreserved(unsigned char ch) {
  return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
         ch == '-' || ch == '.' || ch == '_' || ch == '~';
}

static int put_encoded(char *out, size_t outlen, size_t *pos, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*pos + 4 > outlen) return VG_ETOOBIG;
    if (unreserved(*p)) {
      out[(*pos)++] = (char)*p;
    } else {
      out[(*pos)++] = '%';
      out[(*pos)++] = hex[*p >> 4];
      out[(*pos)++] = hex[*p & 15];
    }
  }
  out[*pos] = 0;
  return 0;
}

static int put_raw(char *out, size_t outlen, size_t *pos, const char *s, size_t n) {
  if (*pos + n + 1 > outlen) return VG_ETOOBIG;
  memcpy(out + *pos, s, n);
  *pos += n;
  out[*pos] = 0;
  return 0;
}

int vg_camera_build_url(const char *url, const char *username, const char *password, char *out,
                        size_t outlen) {
  size_t scheme;
  if (strncasecmp(url, "rtsp://", 7) == 0)
    scheme = 7;
  else if (strncasecmp(url, "rtsps://", 8) == 0)
    scheme = 8;
  else
    return VG_EINVAL;
  if (!outlen) return VG_ETOOBIG;
  if (!username || !*username) {
    size_t n = strlen(url);
    if (n + 1 > outlen) return VG_ETOOBIG;
    memcpy(out, url, n + 1);
    return 0;
  }
  const char *auth = url + scheme;
  size_t alen = strcspn(auth, "/?#");
  const char *host = auth;
  for (size_t i = 0; i < alen; i++) /* the last '@' ends an existing userinfo */
    if (auth[i] == '@') host = auth + i + 1;
  size_t pos = 0;
  out[0] = 0;
  int rc = put_raw(out, outlen, &pos, url, scheme);
  if (!rc) rc = put_encoded(out, outlen, &pos, username);
  if (!rc && password && *password) {
    rc = put_raw(out, outlen, &pos, ":", 1);
    if (!rc) rc = put_encoded(out, outlen, &pos, password);
  }
  if (!rc) rc = put_raw(out, outlen, &pos, "@", 1);
  if (!rc) rc = put_raw(out, outlen, &pos, host, strlen(host));
  return rc;
}

const char *vg_camera_status_name(vg_camera_status s) {
  switch (s) {
    case VG_CAMERA_CONNECTING:
      return "connecting";
    case VG_CAMERA_ONLINE:
      return "online";
    case VG_CAMERA_OFFLINE:
      return "offline";
    case VG_CAMERA_ERROR:
      return "error";
  }
  return "error";
}

/* ---- the queue (session thread side) ---- */

static void event_free(cam_event *e) {
  if (e->type == EV_FRAME) vg_buf_unref(e->frame.data);
  free(e->video);
  free(e->audio);
  free(e);
}

/* Drops the oldest frames up to the next video keyframe. Called with mu
 * held when the queue is full. */
static void drop_oldest_gop(vg_camera *c) {
  cam_event **pp = &c->head;
  bool dropped_any = false;
  c->tail = NULL;
  while (*pp) {
    cam_event *e = *pp;
    if (e->type == EV_FRAME) {
      if (dropped_any && e->frame.track == VG_TRACK_VIDEO && e->frame.keyframe) break;
      *pp = e->next;
      c->queued_frames--;
      c->dropped++;
      dropped_any = true;
      event_free(e);
      continue;
    }
    pp = &e->next;
  }
  if (!*pp) c->skip_to_key = true; /* no keyframe queued: wait for the next */
  for (cam_event *e = c->head; e; e = e->next) c->tail = e;
}

static void queue_push(vg_camera *c, cam_event *e) {
  pthread_mutex_lock(&c->mu);
  if (e->type == EV_FRAME) {
    if (c->skip_to_key) {
      if (e->frame.track == VG_TRACK_VIDEO && e->frame.keyframe) {
        c->skip_to_key = false;
      } else {
        c->dropped++;
        pthread_mutex_unlock(&c->mu);
        event_free(e);
        return;
      }
    }
    if (c->queued_frames >= CAM_QUEUE_MAX) {
      int64_t before = c->dropped;
      drop_oldest_gop(c);
      vg_log_warn("camera %lld: loop behind, dropped %lld frames (%lld in all)",
                  (long long)c->cfg.id, (long long)(c->dropped - before), (long long)c->dropped);
      if (c->skip_to_key && !(e->frame.track == VG_TRACK_VIDEO && e->frame.keyframe)) {
        c->dropped++;
        pthread_mutex_unlock(&c->mu);
        event_free(e);
        return;
      }
      c->skip_to_key = false;
    }
    c->queued_frames++;
  }
  e->next = NULL;
  if (c->tail)
    c->tail->next = e;
  else
    c->head = e;
  c->tail = e;
  bool wake = true;
  if (e->type == EV_FRAME && e->frame.track == VG_TRACK_AUDIO && ++c->unsignalled < CAM_AUDIO_BATCH)
    wake = false;
  if (wake) c->unsignalled = 0;
  pthread_mutex_unlock(&c->mu);
  if (wake) uv_async_send(&c->async);
}

/* Queues a status change; repeated identical statuses are not queued. */
static void set_status(vg_camera *c, vg_camera_status s, const char *reason) {
  if (!reason) reason = "";
  pthread_mutex_lock(&c->mu);
  bool same = c->status == s && strcmp(c->reason, reason) == 0;
  if (!same) {
    c->status = s;
    snprintf(c->reason, sizeof c->reason, "%s", reason);
    if (s == VG_CAMERA_ONLINE) c->stats_first_ms = vg_mono_ms();
  }
  pthread_mutex_unlock(&c->mu);
  if (same) return;
  vg_log_info("camera %lld: %s%s%s", (long long)c->cfg.id, vg_camera_status_name(s),
              *reason ? ": " : "", reason);
  cam_event *e = calloc(1, sizeof *e);
  if (!e) return;
  e->type = EV_STATUS;
  e->status = s;
  snprintf(e->reason, sizeof e->reason, "%s", reason);
  queue_push(c, e);
}

static void push_params(vg_camera *c, const vg_codec_params *v, const vg_codec_params *a) {
  cam_event *e = calloc(1, sizeof *e);
  if (!e) return;
  e->type = EV_PARAMS;
  e->video = malloc(sizeof *e->video);
  if (a) e->audio = malloc(sizeof *e->audio);
  if (!e->video || (a && !e->audio)) {
    event_free(e);
    return;
  }
  *e->video = *v;
  if (a) *e->audio = *a;
  queue_push(c, e);
}

static void stats_add(vg_camera *c, const vg_frame *f) {
  uint64_t now = vg_mono_ms();
  int64_t sec = (int64_t)(now / 1000);
  pthread_mutex_lock(&c->mu);
  stats_bucket *b = &c->buckets[sec % CAM_STATS_BUCKETS];
  if (b->sec != sec) *b = (stats_bucket){.sec = sec};
  b->bytes += (int64_t)f->data->len;
  if (f->track == VG_TRACK_VIDEO) {
    b->frames++;
    c->frames++;
  }
  c->bytes += (int64_t)f->data->len;
  if (f->wall_ms > c->last_frame_ms) c->last_frame_ms = f->wall_ms;
  pthread_mutex_unlock(&c->mu);
}

static void push_frame(vg_camera *c, vg_frame *f) {
  cam_event *e = calloc(1, sizeof *e);
  if (!e) {
    vg_buf_unref(f->data);
    return;
  }
  e->type = EV_FRAME;
  e->frame = *f;
  stats_add(c, f);
  queue_push(c, e);
}

/* ---- the loop side ---- */

static void on_async(uv_async_t *h) {
  vg_camera *c = h->data;
  pthread_mutex_lock(&c->mu);
  cam_event *list = c->head;
  c->head = c->tail = NULL;
  c->queued_frames = 0;
  pthread_mutex_unlock(&c->mu);
  while (list) {
    cam_event *e = list;
    list = e->next;
    if (c->closing) { /* a callback stopped the camera: no more callbacks */
      event_free(e);
      continue;
    }
    switch (e->type) {
      case EV_STATUS:
        if (c->cb.on_status) c->cb.on_status(c->ud, e->status, e->reason);
        break;
      case EV_PARAMS:
        if (c->cb.on_params) c->cb.on_params(c->ud, e->video, e->audio);
        break;
      case EV_FRAME:
        if (c->cb.on_frame) {
          c->cb.on_frame(c->ud, &e->frame);
          e->frame.data = NULL; /* the callee took it */
        }
        break;
    }
    event_free(e);
  }
}

/* ---- the session thread ---- */

static int interrupt_cb(void *opaque) {
  vg_camera *c = opaque;
  if (atomic_load_explicit(&c->stop, memory_order_relaxed)) return 1;
  uint64_t d = atomic_load_explicit(&c->deadline, memory_order_relaxed);
  if (d && vg_mono_ms() > d) {
    atomic_store(&c->timed_out, true);
    return 1;
  }
  return 0;
}

/* Moves the deadline; timed_out stays as it is: once the deadline passed,
 * the connection is over even if libavformat still hands out what its
 * parsers held back (it flushes them when a read fails). */
static void set_deadline(vg_camera *c, int ms) {
  atomic_store(&c->deadline, vg_mono_ms() + (uint64_t)ms);
}

static bool stopping(vg_camera *c) { return atomic_load(&c->stop); }

/* Sleeps ms unless stop is requested first. */
static void sleep_interruptible(vg_camera *c, int ms) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  ts.tv_sec += ms / 1000;
  ts.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&c->mu);
  while (!stopping(c))
    if (pthread_cond_timedwait(&c->cond, &c->mu, &ts) == ETIMEDOUT) break;
  pthread_mutex_unlock(&c->mu);
}

/* Writes avcC/hvcC built from Annex-B (or copies a record that already is
 * one) into p, and the picture size when the SPS gives it. */
static int record_from(vg_codec_id codec, const uint8_t *d, size_t n, vg_codec_params *p) {
  if (n >= 7 && d[0] == 1) { /* already avcC / hvcC (configurationVersion 1) */
    if (n > sizeof p->extradata) return VG_ETOOBIG;
    memcpy(p->extradata, d, n);
    p->extradata_len = n;
    return 0;
  }
  size_t len = 0;
  int rc = codec == VG_CODEC_H264
               ? vg_avcc_from_annexb(d, n, p->extradata, sizeof p->extradata, &len)
               : vg_hvcc_from_annexb(d, n, p->extradata, sizeof p->extradata, &len);
  if (rc == 0) {
    p->extradata_len = len;
    int w, h;
    if (vg_rtp_video_size(codec, d, n, &w, &h) == 0) {
      p->width = w;
      p->height = h;
    }
  }
  return rc;
}

/* AudioSpecificConfig for AAC-LC when the SDP carried none. */
static size_t make_asc(int rate, int channels, uint8_t out[2]) {
  static const int rates[] = {96000, 88200, 64000, 48000, 44100, 32000, 24000,
                              22050, 16000, 12000, 11025, 8000,  7350};
  int idx = -1;
  for (int i = 0; i < 13; i++)
    if (rates[i] == rate) idx = i;
  if (idx < 0 || channels < 1 || channels > 7) return 0;
  unsigned v = (2u << 11) | ((unsigned)idx << 7) | ((unsigned)channels << 3);
  out[0] = (uint8_t)(v >> 8);
  out[1] = (uint8_t)v;
  return 2;
}

static void conn_fail(cam_conn *k, bool error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void conn_fail(cam_conn *k, bool error, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(k->reason, sizeof k->reason, fmt, ap);
  va_end(ap);
  k->error = error;
}

/* Turns a libavformat error into the connection's reason. */
static void conn_fail_av(vg_camera *c, cam_conn *k, int averr, int timeout_ms,
                         const vg_avlog_capture *cap) {
  char msg[CAM_REASON_MAX];
  vg_probe_error pe = vg_probe_classify(averr, atomic_load(&c->timed_out), timeout_ms,
                                        cap->last_error, msg, sizeof msg);
  bool error =
      pe == VG_PROBE_UNAUTHORIZED || pe == VG_PROBE_NOT_FOUND || pe == VG_PROBE_UNSUPPORTED;
  conn_fail(k, error, "%s", msg);
}

/* The same for an error of Vigil's RTSP client. */
static void conn_fail_rtsp(cam_conn *k, const vg_rtsp_error *e, int timeout_ms) {
  char msg[CAM_REASON_MAX];
  vg_probe_error pe = vg_rtsp_error_text(e, timeout_ms, msg, sizeof msg);
  bool error =
      pe == VG_PROBE_UNAUTHORIZED || pe == VG_PROBE_NOT_FOUND || pe == VG_PROBE_UNSUPPORTED;
  conn_fail(k, error, "%s", msg);
}

/* AAC (passed through) or G.711 (transcoded) audio parameters; false when
 * this audio cannot be carried. */
static bool audio_setup(vg_camera *c, cam_conn *k, bool aac, bool alaw, int rate, int ch,
                        const uint8_t *asc, size_t asc_len, int frame_size) {
  if (aac) {
    vg_codec_params *p = &k->aparams;
    p->codec = VG_CODEC_AAC;
    p->sample_rate = rate;
    p->channels = ch;
    p->timescale = (uint32_t)rate;
    if (asc_len > 0 && asc_len <= sizeof p->extradata) {
      memcpy(p->extradata, asc, asc_len);
      p->extradata_len = asc_len;
    } else {
      p->extradata_len = make_asc(rate, ch, p->extradata);
    }
    k->audio_frame = frame_size > 0 ? frame_size : 1024;
    k->has_audio = p->extradata_len > 0 && rate > 0;
  } else if (vg_transcode_new(alaw ? VG_G711_ALAW : VG_G711_MULAW, rate > 0 ? rate : 8000, ch,
                              &k->tc) == 0) {
    vg_transcode_params(k->tc, &k->aparams);
    k->has_audio = true;
  }
  if (!k->has_audio)
    vg_log_warn("camera %lld: cannot carry its audio, video only", (long long)c->cfg.id);
  return k->has_audio;
}

/* Opens the stream with libavformat and picks the tracks. Returns false
 * with k->reason set. */
static bool conn_open_av(vg_camera *c, cam_conn *k, const vg_avlog_capture *cap) {
  char url[2048];
  if (vg_camera_build_url(c->cfg.url, c->cfg.username, c->cfg.password, url, sizeof url) != 0) {
    conn_fail(k, true, "not an rtsp:// or rtsps:// address");
    return false;
  }
  k->fmt = avformat_alloc_context();
  k->pkt = av_packet_alloc();
  if (!k->fmt || !k->pkt) {
    conn_fail(k, false, "out of memory");
    return false;
  }
  k->fmt->interrupt_callback.callback = interrupt_cb;
  k->fmt->interrupt_callback.opaque = c;
  AVDictionary *opts = NULL;
  int io_timeout = c->cfg.open_timeout_ms > c->cfg.read_timeout_ms ? c->cfg.open_timeout_ms
                                                                   : c->cfg.read_timeout_ms;
  av_dict_set(&opts, "rtsp_transport", c->cfg.udp ? "udp" : "tcp", 0);
  av_dict_set_int(&opts, "timeout", (int64_t)io_timeout * 1000, 0); /* µs; was stimeout */
  av_dict_set_int(&opts, "probesize", CAM_PROBESIZE, 0);
  av_dict_set_int(&opts, "analyzeduration", CAM_ANALYZE_US, 0);
  av_dict_set(&opts, "allowed_media_types", "video+audio", 0);

  set_deadline(c, c->cfg.open_timeout_ms);
  uint64_t t0 = vg_mono_ms();
  int rc = avformat_open_input(&k->fmt, url, NULL, &opts);
  av_dict_free(&opts);
  if (rc < 0) { /* k->fmt was freed */
    conn_fail_av(c, k, rc, c->cfg.open_timeout_ms, cap);
    return false;
  }
  uint64_t t1 = vg_mono_ms();
  rc = avformat_find_stream_info(k->fmt, NULL);
  if (rc < 0) {
    conn_fail_av(c, k, rc, c->cfg.open_timeout_ms, cap);
    return false;
  }
  vg_log_debug("camera %lld: opened in %llu ms, stream info in %llu ms", (long long)c->cfg.id,
               (unsigned long long)(t1 - t0), (unsigned long long)(vg_mono_ms() - t1));

  AVStream *other_v = NULL;
  for (unsigned i = 0; i < k->fmt->nb_streams; i++) {
    AVStream *st = k->fmt->streams[i];
    enum AVCodecID id = st->codecpar->codec_id;
    if (st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) {
      if (!k->vst && (id == AV_CODEC_ID_H264 || id == AV_CODEC_ID_HEVC))
        k->vst = st;
      else if (!other_v)
        other_v = st;
    } else if (st->codecpar->codec_type == AVMEDIA_TYPE_AUDIO && !k->ast) {
      if (id == AV_CODEC_ID_AAC || id == AV_CODEC_ID_PCM_ALAW || id == AV_CODEC_ID_PCM_MULAW)
        k->ast = st;
      else
        vg_log_info("camera %lld: audio %s not carried", (long long)c->cfg.id,
                    avcodec_get_name(id));
    }
  }
  if (!k->vst) {
    if (other_v)
      conn_fail(k, true, "unsupported codec: %s", avcodec_get_name(other_v->codecpar->codec_id));
    else
      conn_fail(k, true, "the stream has no video");
    return false;
  }
  for (unsigned i = 0; i < k->fmt->nb_streams; i++)
    if (k->fmt->streams[i] != k->vst && k->fmt->streams[i] != k->ast)
      k->fmt->streams[i]->discard = AVDISCARD_ALL;

  AVCodecParameters *vp = k->vst->codecpar;
  k->vtb = k->vst->time_base;
  k->vcodec = vp->codec_id == AV_CODEC_ID_H264 ? VG_CODEC_H264 : VG_CODEC_H265;
  k->vparams.codec = k->vcodec;
  k->vparams.timescale = 90000;
  k->vparams.width = vp->width;
  k->vparams.height = vp->height;
  AVRational fr = k->vst->avg_frame_rate.num > 0 ? k->vst->avg_frame_rate : k->vst->r_frame_rate;
  if (fr.num > 0 && fr.den > 0) {
    k->vparams.fps_num = fr.num;
    k->vparams.fps_den = fr.den;
  }
  k->fps_known = true;
  if (vp->extradata_size > 0)
    k->vparams_ok =
        record_from(k->vcodec, vp->extradata, (size_t)vp->extradata_size, &k->vparams) == 0;

  if (k->ast) {
    AVCodecParameters *ap = k->ast->codecpar;
    int ch = ap->ch_layout.nb_channels > 0 ? ap->ch_layout.nb_channels : 1;
    k->atb = k->ast->time_base;
    if (!audio_setup(c, k, ap->codec_id == AV_CODEC_ID_AAC, ap->codec_id == AV_CODEC_ID_PCM_ALAW,
                     ap->sample_rate, ch, ap->extradata,
                     (size_t)(ap->extradata_size > 0 ? ap->extradata_size : 0), ap->frame_size)) {
      k->ast->discard = AVDISCARD_ALL;
      k->ast = NULL;
    }
  }
  return true;
}

static int rtsp_interrupt(void *ud) { return interrupt_cb(ud); }

/* Opens the stream with Vigil's RTSP client: describe, pick the tracks,
 * set them up, play. Returns false with k->reason set. */
static bool conn_open_rtsp(vg_camera *c, cam_conn *k) {
  vg_rtsp_config rc = {.url = c->cfg.url,
                       .username = c->cfg.username,
                       .password = c->cfg.password,
                       .interrupt = rtsp_interrupt,
                       .ud = c};
  vg_rtsp_error err;
  set_deadline(c, c->cfg.open_timeout_ms);
  uint64_t t0 = vg_mono_ms();
  if (vg_rtsp_open(&rc, &k->rtsp, &err) != 0) {
    conn_fail_rtsp(k, &err, c->cfg.open_timeout_ms);
    return false;
  }
  const vg_sdp *sdp = vg_rtsp_sdp(k->rtsp);
  int vi = -1, ai = -1, other_v = -1;
  for (size_t i = 0; i < sdp->nmedia; i++) {
    const vg_sdp_media *m = &sdp->media[i];
    vg_rtp_format f = vg_rtp_format_of(m);
    if (strcmp(m->type, "video") == 0) {
      if (vi < 0 && (f == VG_RTP_H264 || f == VG_RTP_H265))
        vi = (int)i;
      else if (other_v < 0)
        other_v = (int)i;
    } else if (strcmp(m->type, "audio") == 0 && ai < 0) {
      if (f == VG_RTP_AAC || f == VG_RTP_PCMA || f == VG_RTP_PCMU)
        ai = (int)i;
      else
        vg_log_info("camera %lld: audio %s not carried", (long long)c->cfg.id,
                    m->encoding[0] ? m->encoding : "(unnamed)");
    }
  }
  if (vi < 0) {
    if (other_v >= 0) {
      char name[32];
      snprintf(name, sizeof name, "%s",
               sdp->media[other_v].encoding[0] ? sdp->media[other_v].encoding : "unknown");
      for (char *p = name; *p; p++) *p = (char)tolower((unsigned char)*p);
      conn_fail(k, true, "unsupported codec: %s", name);
    } else {
      conn_fail(k, true, "the stream has no video");
    }
    return false;
  }
  const vg_sdp_media *vm = &sdp->media[vi];
  vg_rtp_format vf = vg_rtp_format_of(vm);
  k->vcodec = vf == VG_RTP_H264 ? VG_CODEC_H264 : VG_CODEC_H265;
  k->vtb = (AVRational){1, vm->clock_rate > 0 ? vm->clock_rate : 90000};
  k->vparams.codec = k->vcodec;
  k->vparams.timescale = 90000;
  if (vm->framerate > 0) {
    k->vparams.fps_num = (int)(vm->framerate * 1000 + 0.5);
    k->vparams.fps_den = 1000;
    k->fps_known = true;
  }
  if (vm->sprop_len > 0)
    k->vparams_ok = record_from(k->vcodec, vm->sprop, vm->sprop_len, &k->vparams) == 0;
  if (vg_rtp_depack_new(vf, vm, &k->vdp) != 0) {
    conn_fail(k, false, "out of memory");
    return false;
  }
  if (ai >= 0) {
    const vg_sdp_media *am = &sdp->media[ai];
    vg_rtp_format af = vg_rtp_format_of(am);
    int rate = am->clock_rate > 0 ? am->clock_rate : 8000;
    k->atb = (AVRational){1, rate};
    if (!audio_setup(c, k, af == VG_RTP_AAC, af == VG_RTP_PCMA, rate, am->channels, am->config,
                     am->config_len, am->constant_duration) ||
        vg_rtp_depack_new(af, am, &k->adp) != 0)
      ai = -1;
  }
  k->vch = k->ach = -1;
  if (vg_rtsp_setup(k->rtsp, (size_t)vi, &k->vch, &err) != 0 ||
      (ai >= 0 && vg_rtsp_setup(k->rtsp, (size_t)ai, &k->ach, &err) != 0) ||
      vg_rtsp_play(k->rtsp, &err) != 0) {
    conn_fail_rtsp(k, &err, c->cfg.open_timeout_ms);
    return false;
  }
  if (ai < 0) k->has_audio = false;
  k->v_rtptime_ok = vg_rtsp_rtptime(k->rtsp, (size_t)vi, &k->v_rtptime);
  k->a_rtptime_ok = ai >= 0 && vg_rtsp_rtptime(k->rtsp, (size_t)ai, &k->a_rtptime);
  vg_log_debug("camera %lld: playing in %llu ms (%s%s%s)", (long long)c->cfg.id,
               (unsigned long long)(vg_mono_ms() - t0), vm->encoding, ai >= 0 ? " + " : "",
               ai >= 0 ? sdp->media[ai].encoding : "");
  return true;
}

/* A video frame waiting in the reorder window. */
typedef struct cam_rframe {
  vg_buf *lp;
  uint8_t *params; /* Annex-B, or NULL */
  size_t params_len;
} cam_rframe;

static void rframe_free(cam_rframe *f) {
  if (!f) return;
  vg_buf_unref(f->lp);
  free(f->params);
  free(f);
}

static void reorder_free(void *cb, void *item, int64_t pts, int64_t dts, bool key, bool keep) {
  (void)cb, (void)pts, (void)dts, (void)key, (void)keep;
  rframe_free(item);
}

static void conn_close(cam_conn *k) {
  avformat_close_input(&k->fmt);
  av_packet_free(&k->pkt);
  vg_rtsp_close(k->rtsp);
  k->rtsp = NULL;
  vg_rtp_depack_free(k->vdp);
  vg_rtp_depack_free(k->adp);
  k->vdp = k->adp = NULL;
  vg_buf_unref(k->held.lp);
  free(k->held.params);
  k->held = (cam_held){0};
  vg_reorder_clear(&k->reorder, reorder_free, NULL);
  vg_transcode_free(k->tc);
  k->tc = NULL;
}

/* First keyframe of a connection: settle the parameters, place the
 * connection on the session time line, announce it. */
static bool conn_start(vg_camera *c, cam_conn *k, cam_session *s, const cam_pkt *p) {
  /* In-band parameter sets are what the decoder will meet: they win over
   * the SDP's when both exist. */
  vg_codec_params inband = k->vparams;
  const uint8_t *pd = p->params ? p->params : p->data;
  size_t pn = p->params ? p->params_len : p->size;
  if (pd && pn && record_from(k->vcodec, pd, pn, &inband) == 0) {
    k->vparams = inband;
    k->vparams_ok = k->vparams_inband = true;
  }
  if (!k->vparams_ok) {
    vg_log_debug("camera %lld: keyframe without parameter sets, waiting", (long long)c->cfg.id);
    return false;
  }
  k->started = true;
  k->vorigin = p->dts;
  if (k->fmt && k->ast) { /* libavformat put both tracks on one time line */
    k->aorigin = av_rescale_q(p->dts, k->vtb, k->atb);
    k->aorigin_ok = true;
  }
  uint64_t now = vg_mono_ms();
  if (s->have_v) {
    int64_t gap = (int64_t)(now - s->last_frame_mono) * 90;
    s->vbase = s->last_vdts + (gap > 3000 ? gap : 3000);
  } else {
    s->vbase = 0;
  }
  if (k->has_audio) {
    int64_t ab = av_rescale(s->vbase, k->aparams.timescale, 90000);
    if (s->have_a && s->a_timescale == k->aparams.timescale && ab <= s->last_adts)
      ab = s->last_adts + 1;
    if (s->a_timescale != k->aparams.timescale) s->have_a = false;
    s->abase = ab;
    s->a_timescale = k->aparams.timescale;
  }
  push_params(c, &k->vparams, k->has_audio ? &k->aparams : NULL);
  if (s->ever_online) {
    pthread_mutex_lock(&c->mu);
    c->reconnects++;
    pthread_mutex_unlock(&c->mu);
  }
  s->ever_online = true;
  k->online_ms = now;
  set_status(c, VG_CAMERA_ONLINE, "");
  return true;
}

/* One video access unit: p->lp (taken) or p->data as Annex-B. */
static void video_packet(vg_camera *c, cam_conn *k, cam_session *s, cam_pkt *p) {
  vg_buf *lp = p->lp;
  p->lp = NULL;
  if (!k->started) {
    /* every connection starts on a keyframe */
    if (!p->key || !conn_start(c, k, s, p)) goto drop;
  } else if (p->key) {
    vg_codec_params np = k->vparams;
    const uint8_t *pd = p->params ? p->params : p->data;
    size_t pn = p->params ? p->params_len : p->size;
    if (pd && pn && record_from(k->vcodec, pd, pn, &np) == 0 &&
        (np.extradata_len != k->vparams.extradata_len ||
         memcmp(np.extradata, k->vparams.extradata, np.extradata_len) != 0)) {
      if (k->vparams_inband) {
        /* New SPS mid-stream (resolution or profile changed): reconnect
         * so stream info and params are read afresh. */
        conn_fail(k, false, "the camera changed its stream parameters");
        goto drop;
      }
      /* The first in-band sets differ from the SDP's: the stream's own
       * win, announced before this keyframe. (No reconnect, which would
       * start again from the SDP's and loop.) */
      k->vparams = np;
      k->vparams_inband = true;
      push_params(c, &k->vparams, k->has_audio ? &k->aparams : NULL);
    }
  }
  int64_t rel = p->dts - k->vorigin;
  int64_t out = s->vbase + av_rescale_q(rel, k->vtb, (AVRational){1, 90000});
  if (rel < 0 || (s->have_v && out <= s->last_vdts)) {
    vg_log_debug("camera %lld: video dts went back (%lld <= %lld), packet dropped",
                 (long long)c->cfg.id, (long long)out, (long long)s->last_vdts);
    goto drop;
  }
  vg_frame f = {.track = VG_TRACK_VIDEO, .dts = out, .pts = out, .keyframe = p->key};
  if (p->pts != p->dts) f.pts = out + av_rescale_q(p->pts - p->dts, k->vtb, (AVRational){1, 90000});
  if (p->duration > 0) f.duration = av_rescale_q(p->duration, k->vtb, (AVRational){1, 90000});
  if (lp) {
    f.data = lp;
    lp = NULL;
  } else if (vg_annexb_to_lp(k->vcodec, p->data, p->size, VG_LP_STRIP_AUD | VG_LP_STRIP_PARAMS,
                             &f.data) != 0) {
    return;
  }
  f.wall_ms = vg_clock_anchor_map(&s->anchor, out, vg_now_ms());
  s->have_v = true;
  s->last_vdts = out;
  s->last_frame_mono = vg_mono_ms();
  k->nframes++;
  push_frame(c, &f);
  return;
drop:
  vg_buf_unref(lp);
}

typedef struct audio_out_ctx {
  vg_camera *c;
  cam_session *s;
} audio_out_ctx;

/* One AAC frame on the session's audio time line. */
static void emit_audio(vg_camera *c, cam_session *s, const uint8_t *data, size_t len, int64_t dts,
                       int64_t duration) {
  if (dts < 0 || (s->have_a && dts <= s->last_adts)) {
    vg_log_debug("camera %lld: audio dts went back, packet dropped", (long long)c->cfg.id);
    return;
  }
  vg_frame f = {.track = VG_TRACK_AUDIO, .dts = dts, .pts = dts, .duration = duration};
  f.data = vg_buf_from(data, len);
  if (!f.data) return;
  f.wall_ms = vg_clock_anchor_peek(&s->anchor, av_rescale(dts, 90000, s->a_timescale));
  s->have_a = true;
  s->last_adts = dts;
  push_frame(c, &f);
}

static void transcoded_out(void *ud, const uint8_t *data, size_t len, int64_t pts,
                           int64_t duration) {
  audio_out_ctx *o = ud;
  emit_audio(o->c, o->s, data, len, pts, duration);
}

/* Vigil's client: the audio time stamp of the video keyframe's instant,
 * worked out at the first audio frame after it. With RTP-Info both
 * tracks' time stamps at the same instant are known; without it, the
 * arrival times stand in (as libavformat does before an RTCP report). */
static void audio_origin_rtsp(cam_conn *k, int64_t adts) {
  int64_t v_at = av_rescale_q(k->vorigin, k->vtb, k->atb);
  if (k->v_rtptime_ok && k->a_rtptime_ok) {
    /* each rtptime into its track's extended time line, near its frames */
    int64_t v_info = k->vorigin - (int32_t)((uint32_t)k->vorigin - k->v_rtptime);
    int64_t a_info = adts - (int32_t)((uint32_t)adts - k->a_rtptime);
    k->aorigin = a_info + av_rescale_q(k->vorigin - v_info, k->vtb, k->atb);
  } else {
    int64_t since_key = (int64_t)(vg_mono_ms() - k->vkey_arrival);
    k->aorigin = adts - av_rescale(since_key, k->atb.den, 1000LL * k->atb.num);
  }
  (void)v_at;
  k->aorigin_ok = true;
}

static void audio_packet(vg_camera *c, cam_conn *k, cam_session *s, const cam_pkt *p) {
  if (!k->started) return; /* nothing before the first keyframe */
  if (!k->aorigin_ok) audio_origin_rtsp(k, p->dts);
  int64_t rel = p->dts - k->aorigin;
  if (rel < 0) return; /* captured before the keyframe */
  AVRational out_tb = {1, (int)s->a_timescale};
  int64_t out = s->abase + av_rescale_q(rel, k->atb, out_tb);
  if (k->tc) {
    audio_out_ctx o = {c, s};
    if (vg_transcode_push(k->tc, p->data, p->size, out, transcoded_out, &o) != 0)
      vg_log_debug("camera %lld: G.711 packet not transcoded", (long long)c->cfg.id);
    return;
  }
  if (s->have_a) {
    int64_t expect = s->last_adts + k->audio_frame;
    int64_t d = out - expect;
    /* RTP time stamps derived from a nanosecond clock are off by a sample
     * now and then; MP4 wants the constant frame duration. And several AAC
     * frames of one RTP packet share its time stamp: place the later ones
     * one frame apart instead of dropping them. */
    if (d >= -k->audio_frame / 4 && d <= k->audio_frame / 4)
      out = expect;
    else if (out <= s->last_adts && s->last_adts - out < (int64_t)s->a_timescale * CAM_AUDIO_FUZZ_S)
      out = expect;
  }
  emit_audio(c, s, p->data, p->size, out, k->audio_frame);
}

/* ---- the libavformat reader (UDP, rtsps://) ---- */

/* The raw dts of a packet (pts when dts is missing), unwrapped. */
static bool packet_dts(cam_conn *k, AVStream *st, vg_ts_unwrap *u, int64_t *dts) {
  int64_t t = k->pkt->dts != AV_NOPTS_VALUE ? k->pkt->dts : k->pkt->pts;
  if (t == AV_NOPTS_VALUE) return false;
  *dts = vg_ts_unwrap_next(u, t, st->pts_wrap_bits);
  return true;
}

static void av_packet_in(vg_camera *c, cam_conn *k, cam_session *s) {
  AVPacket *pkt = k->pkt;
  bool video = pkt->stream_index == k->vst->index;
  if (!video && !(k->ast && pkt->stream_index == k->ast->index)) return;
  cam_pkt p = {.data = pkt->data, .size = (size_t)pkt->size, .key = pkt->flags & AV_PKT_FLAG_KEY};
  if (!packet_dts(k, video ? k->vst : k->ast, video ? &k->vunwrap : &k->aunwrap, &p.dts)) {
    vg_log_debug("camera %lld: packet without time stamp dropped", (long long)c->cfg.id);
    return;
  }
  p.pts = p.dts;
  if (pkt->pts != AV_NOPTS_VALUE && pkt->dts != AV_NOPTS_VALUE) p.pts = p.dts + pkt->pts - pkt->dts;
  if (pkt->duration > 0) p.duration = pkt->duration;
  if (video) {
    k->vkey_arrival = vg_mono_ms();
    video_packet(c, k, s, &p);
  } else {
    audio_packet(c, k, s, &p);
  }
}

static void read_av(vg_camera *c, cam_conn *k, cam_session *s, const vg_avlog_capture *cap) {
  set_deadline(c, c->cfg.read_timeout_ms);
  while (!stopping(c) && !k->reason[0]) {
    int rc = av_read_frame(k->fmt, k->pkt);
    if (rc < 0) {
      if (stopping(c)) break;
      if (atomic_load(&c->timed_out))
        conn_fail(k, false, "no data for %d ms", c->cfg.read_timeout_ms);
      else if (rc == AVERROR_EOF)
        conn_fail(k, false, "the camera ended the stream");
      else
        conn_fail_av(c, k, rc, c->cfg.read_timeout_ms, cap);
      break;
    }
    set_deadline(c, c->cfg.read_timeout_ms);
    av_packet_in(c, k, s);
    av_packet_unref(k->pkt);
    if (atomic_load(&c->timed_out) && !k->reason[0])
      conn_fail(k, false, "no data for %d ms", c->cfg.read_timeout_ms);
  }
}

/* ---- Vigil's RTSP client (TCP interleaved) ---- */

typedef struct rtsp_ctx {
  vg_camera *c;
  cam_conn *k;
  cam_session *s;
} rtsp_ctx;

/* The rate from the first two frames' time stamps: a whole number of
 * frames per second when it is close to one. */
static void fps_from_delta(cam_conn *k, int64_t delta) {
  if (delta <= 0) return;
  double f = (double)k->vtb.den / ((double)delta * k->vtb.num);
  if (f < 0.5 || f > 300) return;
  long r = lround(f);
  if (fabs(f - (double)r) < 0.02 * f) {
    k->vparams.fps_num = (int)r;
    k->vparams.fps_den = 1;
  } else {
    k->vparams.fps_num = (int)lround(f * 1000);
    k->vparams.fps_den = 1000;
  }
}

/* A frame out of the reorder window, in decode order with its dts. */
static void rtsp_video_frame(void *ud, void *item, int64_t pts, int64_t dts, bool key, bool keep) {
  rtsp_ctx *x = ud;
  cam_conn *k = x->k;
  cam_rframe *rf = item;
  if (!keep || k->reason[0]) {
    rframe_free(rf);
    return;
  }
  cam_pkt p = {.params = rf->params,
               .params_len = rf->params_len,
               .dts = dts,
               .pts = pts,
               .key = key,
               .lp = rf->lp};
  rf->lp = NULL;
  uint8_t *params = rf->params;
  free(rf);
  if (!k->started && !k->fps_known) {
    /* The SDP gave no frame rate: keep the keyframe until the next frame
     * tells it (one frame interval, once per connection). */
    if (!k->held.lp) {
      k->held.pkt = p;
      k->held.lp = p.lp;
      k->held.params = NULL;
      k->held.pkt.params = NULL;
      if (p.params_len) {
        k->held.params = malloc(p.params_len);
        if (k->held.params) memcpy(k->held.params, p.params, p.params_len);
        k->held.pkt.params = k->held.params;
      }
      k->held.pkt.params_len = k->held.params ? p.params_len : 0;
      k->vkey_arrival = vg_mono_ms();
      free(params);
      return;
    }
    fps_from_delta(k, p.dts - k->held.pkt.dts);
    k->fps_known = true;
    cam_pkt h = k->held.pkt;
    h.lp = k->held.lp;
    k->held.lp = NULL;
    video_packet(x->c, k, x->s, &h);
    free(k->held.params);
    k->held.params = NULL;
  } else if (!k->started) {
    k->vkey_arrival = vg_mono_ms();
  }
  video_packet(x->c, k, x->s, &p);
  free(params);
}

static void rtsp_video_au(void *ud, const vg_rtp_au *au) {
  rtsp_ctx *x = ud;
  cam_conn *k = x->k;
  if (k->reason[0]) return;
  if (!k->started && !au->key && !k->held.lp && k->reorder.n == 0)
    return; /* waiting for a keyframe */
  int depth;
  if (au->key && au->params_len &&
      vg_rtp_video_reorder(k->vcodec, au->params, au->params_len, &depth) == 0)
    vg_reorder_announce(&k->reorder, depth, rtsp_video_frame, x);
  cam_rframe *rf = calloc(1, sizeof *rf);
  if (!rf) return;
  rf->lp = vg_buf_from(au->data, au->len);
  if (au->params_len) {
    rf->params = malloc(au->params_len);
    if (rf->params) {
      memcpy(rf->params, au->params, au->params_len);
      rf->params_len = au->params_len;
    }
  }
  if (!rf->lp || (au->params_len && !rf->params)) {
    rframe_free(rf);
    return;
  }
  vg_reorder_push(&k->reorder, au->ts, au->key, rf, rtsp_video_frame, x);
}

static void rtsp_audio_au(void *ud, const vg_rtp_au *au) {
  rtsp_ctx *x = ud;
  if (x->k->reason[0]) return;
  cam_pkt p = {.data = au->data, .size = au->len, .dts = au->ts, .pts = au->ts, .key = true};
  audio_packet(x->c, x->k, x->s, &p);
}

static void rtsp_data(void *ud, int channel, const uint8_t *data, size_t len) {
  rtsp_ctx *x = ud;
  cam_conn *k = x->k;
  if (channel == k->vch) {
    k->got_media = true;
    vg_rtp_depack_push(k->vdp, data, len, rtsp_video_au, x);
  } else if (channel == k->ach && k->adp) {
    k->got_media = true;
    vg_rtp_depack_push(k->adp, data, len, rtsp_audio_au, x);
  } /* RTCP (odd channels) is not needed: RTP-Info aligns the tracks */
}

/* ---- the shared reader ----
 *
 * Every playing TCP connection of Vigil's client is read by one thread,
 * not by its camera's: the reader wakes every tick (read_tick_ms, see
 * vg_camera_set_read_tick_ms; 50 ms by default), reads
 * what each socket holds (one recv into a large buffer, more when it
 * filled), and runs the depacketizers and the frame code for it. So the
 * wake-ups (and the loop's, since the frames of one tick reach it
 * together) do not grow with the number of cameras: ~1000 / tick a second
 * in all, instead of one or more per camera per frame. The camera's own
 * thread connects, sets up and plays (blocking, with its time-outs), then
 * hands the connection over and sleeps until the reader gives it back:
 * connection lost, read time-out, or stop.
 *
 * reader.mu is held while a tick runs, so an entry is never touched by
 * the reader once its camera thread has taken it out. Lock order:
 * reader.mu, then a camera's mu. */

typedef struct rd_entry {
  struct rd_entry *next;
  vg_camera *c;
  cam_conn *k;
  cam_session *s;
  bool done; /* under c->mu: the reader gave the connection back */
} rd_entry;

static struct {
  pthread_mutex_t mu;
  pthread_cond_t cond; /* an entry was added */
  rd_entry *list;
} reader = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL};
static pthread_once_t reader_once = PTHREAD_ONCE_INIT;
static bool reader_ok;
static atomic_int read_tick_ms = VG_CAMERA_TICK_MS;

void vg_camera_set_read_tick_ms(int ms) {
  if (ms < VG_CAMERA_TICK_MIN_MS) ms = VG_CAMERA_TICK_MIN_MS;
  if (ms > VG_CAMERA_TICK_MAX_MS) ms = VG_CAMERA_TICK_MAX_MS;
  atomic_store(&read_tick_ms, ms);
}

/* Reads one connection's bytes of this tick; false when it is over. */
static bool reader_step(rd_entry *e) {
  vg_camera *c = e->c;
  cam_conn *k = e->k;
  rtsp_ctx x = {c, k, e->s};
  if (stopping(c)) return false;
  for (int i = 0; i < CAM_READ_MAX_RECVS; i++) {
    vg_rtsp_error err = {0};
    int rc = vg_rtsp_read(k->rtsp, 0, rtsp_data, &x, &err);
    if (rc < 0) {
      if (stopping(c)) return false;
      if (!k->reason[0]) {
        if (rc == VG_ECLOSED && !err.sys_errno)
          conn_fail(k, false, "the camera ended the stream");
        else
          conn_fail_rtsp(k, &err, c->cfg.read_timeout_ms);
      }
      return false;
    }
    if (k->reason[0]) return false;
    if (rc < VG_RTSP_BUF / 2) break; /* the socket is drained */
  }
  if (k->got_media) {
    k->got_media = false;
    set_deadline(c, c->cfg.read_timeout_ms);
  }
  if (interrupt_cb(c)) {
    if (!stopping(c) && !k->reason[0])
      conn_fail(k, false, "no data for %d ms", c->cfg.read_timeout_ms);
    return false;
  }
  return true;
}

static void *reader_main(void *arg) {
  (void)arg;
  struct timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  pthread_mutex_lock(&reader.mu);
  for (;;) {
    while (!reader.list) {
      pthread_cond_wait(&reader.cond, &reader.mu);
      clock_gettime(CLOCK_MONOTONIC, &next);
    }
    for (rd_entry *e = reader.list; e; e = e->next) {
      if (e->done) continue;
      if (!reader_step(e)) {
        pthread_mutex_lock(&e->c->mu);
        e->done = true;
        pthread_cond_broadcast(&e->c->cond);
        pthread_mutex_unlock(&e->c->mu);
      }
    }
    pthread_mutex_unlock(&reader.mu);
    /* a steady tick: a late one is not followed by a short one */
    next.tv_nsec += atomic_load(&read_tick_ms) * 1000000L;
    if (next.tv_nsec >= 1000000000L) {
      next.tv_sec++;
      next.tv_nsec -= 1000000000L;
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec > next.tv_sec || (now.tv_sec == next.tv_sec && now.tv_nsec > next.tv_nsec))
      next = now;
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR) {
    }
    pthread_mutex_lock(&reader.mu);
  }
  return NULL;
}

static void reader_start(void) {
  pthread_t th;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  reader_ok = pthread_create(&th, &attr, reader_main, NULL) == 0;
  pthread_attr_destroy(&attr);
}

/* Plays the connection through the shared reader until it is over. */
static void read_rtsp(vg_camera *c, cam_conn *k, cam_session *s) {
  pthread_once(&reader_once, reader_start);
  if (!reader_ok) {
    conn_fail(k, false, "out of threads");
    return;
  }
  set_deadline(c, c->cfg.read_timeout_ms);
  rd_entry e = {.c = c, .k = k, .s = s};
  pthread_mutex_lock(&reader.mu);
  e.next = reader.list;
  reader.list = &e;
  pthread_cond_signal(&reader.cond);
  pthread_mutex_unlock(&reader.mu);

  pthread_mutex_lock(&c->mu);
  while (!e.done && !stopping(c)) pthread_cond_wait(&c->cond, &c->mu);
  pthread_mutex_unlock(&c->mu);

  pthread_mutex_lock(&reader.mu); /* waits for a tick in progress */
  for (rd_entry **pp = &reader.list; *pp; pp = &(*pp)->next)
    if (*pp == &e) {
      *pp = e.next;
      break;
    }
  pthread_mutex_unlock(&reader.mu);
}

/* TCP interleaved goes through Vigil's client; UDP and rtsps:// through
 * libavformat. */
static bool use_own_client(const vg_camera *c) {
  return !c->cfg.udp && strncasecmp(c->cfg.url, "rtsp://", 7) == 0;
}

/* One connection, from open to loss. Returns true when it delivered
 * frames for longer than CAM_STABLE_MS. */
static bool run_connection(vg_camera *c, cam_session *s, vg_avlog_capture *cap) {
  cam_conn k = {0};
  cap->last_error[0] = 0;
  vg_clock_anchor_reset(&s->anchor);
  atomic_store(&c->timed_out, false);
  bool stable = false;
  if (use_own_client(c)) {
    if (!conn_open_rtsp(c, &k)) goto done;
    read_rtsp(c, &k, s);
  } else {
    if (!conn_open_av(c, &k, cap)) goto done;
    read_av(c, &k, s, cap);
  }
  stable = k.started && vg_mono_ms() - k.online_ms > CAM_STABLE_MS;

done:
  atomic_store(&c->deadline, 0);
  conn_close(&k);
  if (!stopping(c))
    set_status(c, k.error ? VG_CAMERA_ERROR : VG_CAMERA_OFFLINE,
               k.reason[0] ? k.reason : "connection lost");
  return stable;
}

static void *session_main(void *arg) {
  vg_camera *c = arg;
  vg_avlog_capture cap;
  vg_avlog_capture_begin(&cap);
  cam_session s = {0};
  vg_clock_anchor_init(&s.anchor, 90000);
  s.anchor.wrap_bits = 0; /* the session time line is unwrapped already */
  int backoff = c->cfg.backoff_min_ms;
  uint64_t stable_ended = 0; /* when the last connection that delivered frames ended */
  set_status(c, VG_CAMERA_CONNECTING, "");
  while (!stopping(c)) {
    pthread_mutex_lock(&c->mu);
    int64_t frames_before = c->frames;
    pthread_mutex_unlock(&c->mu);
    if (run_connection(c, &s, &cap)) backoff = c->cfg.backoff_min_ms;
    pthread_mutex_lock(&c->mu);
    bool delivered = c->frames > frames_before;
    pthread_mutex_unlock(&c->mu);
    if (delivered) stable_ended = vg_mono_ms();
    if (stopping(c)) break;
    /* A camera that was just recording is most likely back in seconds (a
     * reboot, a cable): retry quickly for a while, so the gap in the
     * recording is the outage, not the back-off. */
    int wait = backoff;
    if (stable_ended && vg_mono_ms() - stable_ended < FAST_RETRY_WINDOW_MS &&
        wait > FAST_RETRY_MAX_MS)
      wait = FAST_RETRY_MAX_MS;
    vg_log_debug("camera %lld: reconnecting in %d ms", (long long)c->cfg.id, wait);
    sleep_interruptible(c, wait);
    backoff = backoff > c->cfg.backoff_max_ms / 2 ? c->cfg.backoff_max_ms : backoff * 2;
  }
  vg_avlog_capture_end();
  return NULL;
}

/* ---- public ---- */

static void config_defaults(vg_camera_config *cfg) {
  if (cfg->open_timeout_ms <= 0) cfg->open_timeout_ms = 5000;
  if (cfg->read_timeout_ms <= 0) cfg->read_timeout_ms = 5000;
  if (cfg->backoff_min_ms <= 0) cfg->backoff_min_ms = 500;
  if (cfg->backoff_max_ms <= 0) cfg->backoff_max_ms = 30000;
  if (cfg->backoff_max_ms < cfg->backoff_min_ms) cfg->backoff_max_ms = cfg->backoff_min_ms;
}

static void free_on_close(uv_handle_t *h) { free(h->data); }

/* Heap retention. Each session thread gets its own glibc arena; frames
 * allocated there live a GOP or more (the recorder's pre-roll), and the
 * bigger ones (keyframes, libavformat's packet and parser buffers) sit
 * between them. With glibc's dynamic mmap threshold, the first large free
 * (avformat_find_stream_info's decoder frames) lifts the threshold to a few
 * MiB and the trim threshold to twice that, so all of it stays in the arena
 * and each arena settles around 8 MiB of RSS (measured: 8.5 MiB per 1080p25
 * 4 Mbit/s stream at N=10). A fixed threshold at glibc's default (128 KiB)
 * keeps large buffers in their own mappings, returned on free, and arenas
 * trimmed: 2.5 MiB per stream, for some hundred more minor faults a second
 * per process. Process-wide, set once before the first session starts. */
#define CAM_MMAP_THRESHOLD (128 * 1024)

static pthread_once_t net_once = PTHREAD_ONCE_INIT;
static void net_init(void) {
#ifdef __GLIBC__
  mallopt(M_MMAP_THRESHOLD, CAM_MMAP_THRESHOLD);
#endif
  avformat_network_init();
}

int vg_camera_start(uv_loop_t *loop, const vg_camera_config *cfg, const vg_camera_callbacks *cb,
                    void *ud, vg_camera **out) {
  *out = NULL;
  char probe_url[2048];
  if (vg_camera_build_url(cfg->url, cfg->username, cfg->password, probe_url, sizeof probe_url))
    return VG_EINVAL;
  pthread_once(&net_once, net_init);
  vg_camera *c = calloc(1, sizeof *c);
  if (!c) return VG_ENOMEM;
  c->loop = loop;
  c->cfg = *cfg;
  config_defaults(&c->cfg);
  c->cb = *cb;
  c->ud = ud;
  c->status = (vg_camera_status)-1; /* so the first CONNECTING is queued */
  pthread_mutex_init(&c->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&c->cond, &ca);
  pthread_condattr_destroy(&ca);
  int rc = uv_async_init(loop, &c->async, on_async);
  if (rc) {
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->mu);
    free(c);
    return VG_EIO;
  }
  c->async.data = c;
  if (pthread_create(&c->thread, NULL, session_main, c) != 0) {
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->mu);
    uv_close((uv_handle_t *)&c->async, free_on_close);
    return VG_ENOMEM;
  }
  *out = c;
  return 0;
}

static void on_async_closed(uv_handle_t *h) {
  vg_camera *c = h->data;
  cam_event *e = c->head;
  while (e) {
    cam_event *next = e->next;
    event_free(e);
    e = next;
  }
  void (*done)(void *) = c->on_closed;
  void *done_ud = c->closed_ud;
  pthread_cond_destroy(&c->cond);
  pthread_mutex_destroy(&c->mu);
  free(c);
  if (done) done(done_ud);
}

static void join_work(uv_work_t *w) {
  vg_camera *c = w->data;
  pthread_join(c->thread, NULL);
}

static void join_done(uv_work_t *w, int status) {
  vg_camera *c = w->data;
  /* The thread is gone, so nothing can uv_async_send any more. */
  uv_close((uv_handle_t *)&c->async, on_async_closed);
}

void vg_camera_stop(vg_camera *c, void (*on_closed)(void *ud), void *ud) {
  if (!c || c->closing) return;
  c->closing = true;
  c->on_closed = on_closed;
  c->closed_ud = ud;
  pthread_mutex_lock(&c->mu);
  atomic_store(&c->stop, true);
  pthread_cond_broadcast(&c->cond);
  pthread_mutex_unlock(&c->mu);
  c->join_work.data = c;
  if (uv_queue_work(c->loop, &c->join_work, join_work, join_done) != 0) {
    pthread_join(c->thread, NULL); /* cannot happen with valid arguments */
    join_done(&c->join_work, 0);
  }
}

void vg_camera_get_stats(vg_camera *c, vg_camera_stats *out) {
  memset(out, 0, sizeof *out);
  uint64_t now = vg_mono_ms();
  int64_t sec = (int64_t)(now / 1000);
  pthread_mutex_lock(&c->mu);
  int64_t frames = 0, bytes = 0;
  for (int i = 0; i < CAM_STATS_BUCKETS; i++) {
    const stats_bucket *b = &c->buckets[i];
    if (b->sec > sec - CAM_STATS_WINDOW_S && b->sec <= sec) {
      frames += b->frames;
      bytes += b->bytes;
    }
  }
  /* The window is the last WINDOW-1 whole seconds plus the current one so
   * far, or less just after going online. */
  double span = (CAM_STATS_WINDOW_S - 1) + (double)(now % 1000) / 1000.0;
  if (c->stats_first_ms) {
    double up = (double)(now - c->stats_first_ms) / 1000.0;
    if (up < span) span = up;
  }
  if (span < 0.5) span = 0.5;
  out->fps = (double)frames / span;
  out->bitrate_kbps = (double)bytes * 8.0 / 1000.0 / span;
  out->last_frame_ms = c->last_frame_ms;
  out->reconnects = c->reconnects;
  out->frames = c->frames;
  out->bytes = c->bytes;
  pthread_mutex_unlock(&c->mu);
}

vg_camera_status vg_camera_get_status(vg_camera *c, char *reason, size_t reason_len) {
  pthread_mutex_lock(&c->mu);
  vg_camera_status s = c->status;
  if (reason && reason_len) snprintf(reason, reason_len, "%s", c->reason);
  pthread_mutex_unlock(&c->mu);
  return (int)s < 0 ? VG_CAMERA_CONNECTING : s;
}
