/* probe.c - "test connection": open a camera's stream once, read its
 * parameters, and put a name on what went wrong. Over TCP it uses Vigil's
 * RTSP client (rtsp.c), as the camera session does; UDP and rtsps:// go
 * through libavformat. Also the error
 * classification and the per-thread capture of FFmpeg's log lines that the
 * camera session shares. */
#include "probe.h"

#include <ctype.h>
#include <errno.h>
#include <libavformat/avformat.h>
#include <libavutil/dict.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "ingest/camera.h"
#include "ingest/rtp.h"
#include "ingest/rtsp.h"

/* find_stream_info reads this much at most: enough for SPS and a few
 * frames' timing, short enough that a probe answers in about a second. */
#define PROBE_SIZE 500000
#define PROBE_ANALYZE_US 1000000

const char *vg_probe_error_name(vg_probe_error e) {
  switch (e) {
    case VG_PROBE_OK:
      return "ok";
    case VG_PROBE_UNREACHABLE:
      return "unreachable";
    case VG_PROBE_UNAUTHORIZED:
      return "unauthorized";
    case VG_PROBE_NOT_FOUND:
      return "not_found";
    case VG_PROBE_UNSUPPORTED:
      return "unsupported";
    case VG_PROBE_TIMEOUT:
      return "timeout";
    case VG_PROBE_PROTOCOL:
      return "protocol";
  }
  return "protocol";
}

/* ---- FFmpeg log capture ----
 *
 * av_log_set_callback is process-wide, so one callback is installed once
 * and looks up the calling thread's capture through a thread-local
 * pointer; threads without one get FFmpeg's default behaviour. */

static _Thread_local vg_avlog_capture *tl_capture;
static pthread_once_t avlog_once = PTHREAD_ONCE_INIT;

static void avlog_callback(void *avcl, int level, const char *fmt, va_list vl) {
  vg_avlog_capture *cap = tl_capture;
  if (!cap) {
    av_log_default_callback(avcl, level, fmt, vl);
    return;
  }
  if (level > AV_LOG_WARNING) return;
  char line[512];
  int print_prefix = 0;
  av_log_format_line2(avcl, level, fmt, vl, line, sizeof line, &print_prefix);
  size_t n = strlen(line);
  while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
  if (!n) return;
  if (level <= AV_LOG_ERROR) snprintf(cap->last_error, sizeof cap->last_error, "%s", line);
  vg_log_debug("ffmpeg: %s", line);
}

static void avlog_install(void) { av_log_set_callback(avlog_callback); }

void vg_avlog_capture_begin(vg_avlog_capture *cap) {
  pthread_once(&avlog_once, avlog_install);
  cap->last_error[0] = 0;
  tl_capture = cap;
}

void vg_avlog_capture_end(void) { tl_capture = NULL; }

/* ---- error classification ---- */

/* The RTSP status in a libavformat log line ("method DESCRIBE failed: 401
 * Unauthorized"), or 0. */
static int status_in_log(const char *line) {
  const char *p = strstr(line, "failed: ");
  int code = 0;
  if (p && sscanf(p + 8, "%d", &code) == 1 && code >= 100 && code < 600) return code;
  return 0;
}

vg_probe_error vg_probe_classify(int averror, bool timed_out, int timeout_ms, const char *log_line,
                                 char *msg, size_t msglen) {
  if (!log_line) log_line = "";
  int status = status_in_log(log_line);
  if (averror == AVERROR_HTTP_UNAUTHORIZED || status == 401) {
    snprintf(msg, msglen, "401 Unauthorized: wrong credentials");
    return VG_PROBE_UNAUTHORIZED;
  }
  if (averror == AVERROR_HTTP_FORBIDDEN || status == 403) {
    snprintf(msg, msglen, "403 Forbidden: this user may not view the stream");
    return VG_PROBE_UNAUTHORIZED;
  }
  if (averror == AVERROR_HTTP_NOT_FOUND || status == 404) {
    snprintf(msg, msglen, "404 Not Found: no stream at this path");
    return VG_PROBE_NOT_FOUND;
  }
  if (timed_out || averror == AVERROR(ETIMEDOUT)) {
    snprintf(msg, msglen, "no answer within %d ms", timeout_ms);
    return VG_PROBE_TIMEOUT;
  }
  if (averror == AVERROR(ECONNREFUSED)) {
    snprintf(msg, msglen, "connection refused: nothing listens at this address and port");
    return VG_PROBE_UNREACHABLE;
  }
  if (averror == AVERROR(EHOSTUNREACH) || averror == AVERROR(ENETUNREACH) ||
      averror == AVERROR(EHOSTDOWN) || averror == AVERROR(ENETDOWN)) {
    snprintf(msg, msglen, "no route to the camera's address");
    return VG_PROBE_UNREACHABLE;
  }
  if (strstr(log_line, "Failed to resolve hostname")) {
    snprintf(msg, msglen, "cannot resolve the camera's host name");
    return VG_PROBE_UNREACHABLE;
  }
  if (averror == AVERROR(ECONNRESET) || averror == AVERROR(EPIPE) || averror == AVERROR_EOF) {
    snprintf(msg, msglen, "the camera closed the connection");
    return VG_PROBE_PROTOCOL;
  }
  if (averror == AVERROR_INVALIDDATA && !status && !*log_line) {
    snprintf(msg, msglen, "the answer is not valid RTSP (is this the camera's RTSP port?)");
    return VG_PROBE_PROTOCOL;
  }
  if (status) {
    snprintf(msg, msglen, "the camera answered RTSP %d", status);
    return VG_PROBE_PROTOCOL;
  }
  char e[AV_ERROR_MAX_STRING_SIZE];
  av_strerror(averror, e, sizeof e);
  if (*log_line)
    snprintf(msg, msglen, "%s (%s)", e, log_line);
  else
    snprintf(msg, msglen, "%s", e);
  return VG_PROBE_PROTOCOL;
}

/* ---- the probe ---- */

typedef struct probe_ctx {
  uint64_t deadline;
  bool timed_out;
} probe_ctx;

static int probe_interrupt(void *opaque) {
  probe_ctx *p = opaque;
  if (vg_mono_ms() > p->deadline) {
    p->timed_out = true;
    return 1;
  }
  return 0;
}

static const char *audio_name(enum AVCodecID id) {
  switch (id) {
    case AV_CODEC_ID_AAC:
      return "aac";
    case AV_CODEC_ID_PCM_ALAW:
      return "pcm_alaw";
    case AV_CODEC_ID_PCM_MULAW:
      return "pcm_mulaw";
    default:
      return NULL;
  }
}

/* Fills r from the streams of an opened input; returns the verdict. */
static vg_probe_error describe_streams(AVFormatContext *fmt, vg_probe_result *r) {
  const AVStream *v = NULL, *a = NULL, *other_v = NULL, *other_a = NULL;
  for (unsigned i = 0; i < fmt->nb_streams; i++) {
    const AVStream *st = fmt->streams[i];
    const AVCodecParameters *cp = st->codecpar;
    if (cp->codec_type == AVMEDIA_TYPE_VIDEO) {
      if (!v && (cp->codec_id == AV_CODEC_ID_H264 || cp->codec_id == AV_CODEC_ID_HEVC))
        v = st;
      else if (!other_v)
        other_v = st;
    } else if (cp->codec_type == AVMEDIA_TYPE_AUDIO) {
      if (!a && audio_name(cp->codec_id))
        a = st;
      else if (!other_a)
        other_a = st;
    }
  }
  if (!v) {
    if (other_v)
      snprintf(r->message, sizeof r->message, "unsupported codec: %s (H.264 or H.265 needed)",
               avcodec_get_name(other_v->codecpar->codec_id));
    else
      snprintf(r->message, sizeof r->message, "the stream has no video");
    return VG_PROBE_UNSUPPORTED;
  }
  snprintf(r->video_codec, sizeof r->video_codec, "%s",
           v->codecpar->codec_id == AV_CODEC_ID_H264 ? "h264" : "h265");
  r->width = v->codecpar->width;
  r->height = v->codecpar->height;
  AVRational fr = v->avg_frame_rate.num > 0 ? v->avg_frame_rate : v->r_frame_rate;
  r->fps = fr.num > 0 && fr.den > 0 ? av_q2d(fr) : 0;
  if (a) {
    snprintf(r->audio_codec, sizeof r->audio_codec, "%s", audio_name(a->codecpar->codec_id));
    r->sample_rate = a->codecpar->sample_rate;
    r->channels = a->codecpar->ch_layout.nb_channels;
  } else if (other_a) {
    snprintf(r->message, sizeof r->message,
             "unsupported audio codec: %s (AAC or G.711 needed; video alone would record)",
             avcodec_get_name(other_a->codecpar->codec_id));
    return VG_PROBE_UNSUPPORTED;
  }
  snprintf(r->message, sizeof r->message, "%s %dx%d %.2f fps%s%s", r->video_codec, r->width,
           r->height, r->fps, a ? ", audio " : ", no audio", a ? r->audio_codec : "");
  return VG_PROBE_OK;
}

/* ---- the probe over Vigil's RTSP client (TCP) ----
 *
 * The same client the camera session plays with: describe, pick the
 * tracks as the session would, and when the SDP does not give the
 * picture size or the frame rate, play the video for a moment and read
 * them from the first keyframe's parameter sets and the first two
 * frames' time stamps. */

typedef struct rprobe {
  uint64_t deadline;
  bool timed_out;
  vg_codec_id codec;
  int clock;
  bool have_size;
  int64_t first_ts, second_ts;
  int frames;
  vg_probe_result *r;
} rprobe;

static int rprobe_interrupt(void *ud) {
  rprobe *p = ud;
  if (vg_mono_ms() > p->deadline) {
    p->timed_out = true;
    return 1;
  }
  return 0;
}

static void rprobe_au(void *ud, const vg_rtp_au *au) {
  rprobe *p = ud;
  if (!p->have_size && au->params &&
      vg_rtp_video_size(p->codec, au->params, au->params_len, &p->r->width, &p->r->height) == 0)
    p->have_size = true;
  if (p->frames == 0) p->first_ts = au->ts;
  if (p->frames == 1) p->second_ts = au->ts;
  p->frames++;
}

typedef struct rprobe_read {
  rprobe *p;
  vg_rtp_depack *d;
  int channel;
} rprobe_read;

static void rprobe_data(void *ud, int channel, const uint8_t *data, size_t len) {
  rprobe_read *x = ud;
  if (channel == x->channel) vg_rtp_depack_push(x->d, data, len, rprobe_au, x->p);
}

static const char *rprobe_audio_name(vg_rtp_format f) {
  switch (f) {
    case VG_RTP_AAC:
      return "aac";
    case VG_RTP_PCMA:
      return "pcm_alaw";
    case VG_RTP_PCMU:
      return "pcm_mulaw";
    default:
      return NULL;
  }
}

static void rprobe_fail(vg_probe_result *r, const vg_rtsp_error *e, int timeout_ms) {
  r->error = vg_rtsp_error_text(e, timeout_ms, r->message, sizeof r->message);
}

static int probe_rtsp(const char *url, const char *username, const char *password, int timeout_ms,
                      vg_probe_result *r) {
  rprobe p = {.deadline = vg_mono_ms() + (uint64_t)timeout_ms, .r = r};
  vg_rtsp_config cfg = {.url = url,
                        .username = username,
                        .password = password,
                        .interrupt = rprobe_interrupt,
                        .ud = &p};
  vg_rtsp *c = NULL;
  vg_rtp_depack *d = NULL;
  vg_rtsp_error err;
  if (vg_rtsp_open(&cfg, &c, &err) != 0) {
    rprobe_fail(r, &err, timeout_ms);
    goto out;
  }
  const vg_sdp *sdp = vg_rtsp_sdp(c);
  int vi = -1, ai = -1, other_v = -1, other_a = -1;
  for (size_t i = 0; i < sdp->nmedia; i++) {
    vg_rtp_format f = vg_rtp_format_of(&sdp->media[i]);
    if (strcmp(sdp->media[i].type, "video") == 0) {
      if (vi < 0 && (f == VG_RTP_H264 || f == VG_RTP_H265))
        vi = (int)i;
      else if (other_v < 0)
        other_v = (int)i;
    } else if (strcmp(sdp->media[i].type, "audio") == 0) {
      if (ai < 0 && rprobe_audio_name(f))
        ai = (int)i;
      else if (other_a < 0)
        other_a = (int)i;
    }
  }
  if (vi < 0) {
    r->error = VG_PROBE_UNSUPPORTED;
    if (other_v >= 0) {
      char name[32];
      snprintf(name, sizeof name, "%s",
               sdp->media[other_v].encoding[0] ? sdp->media[other_v].encoding : "unknown");
      for (char *q = name; *q; q++) *q = (char)tolower((unsigned char)*q);
      snprintf(r->message, sizeof r->message, "unsupported codec: %s (H.264 or H.265 needed)",
               name);
    } else {
      snprintf(r->message, sizeof r->message, "the stream has no video");
    }
    goto out;
  }
  const vg_sdp_media *vm = &sdp->media[vi];
  vg_rtp_format vf = vg_rtp_format_of(vm);
  p.codec = vf == VG_RTP_H264 ? VG_CODEC_H264 : VG_CODEC_H265;
  p.clock = vm->clock_rate > 0 ? vm->clock_rate : 90000;
  snprintf(r->video_codec, sizeof r->video_codec, "%s", vf == VG_RTP_H264 ? "h264" : "h265");
  if (vm->sprop_len &&
      vg_rtp_video_size(p.codec, vm->sprop, vm->sprop_len, &r->width, &r->height) == 0)
    p.have_size = true;
  r->fps = vm->framerate;
  if (ai >= 0) {
    const vg_sdp_media *am = &sdp->media[ai];
    snprintf(r->audio_codec, sizeof r->audio_codec, "%s", rprobe_audio_name(vg_rtp_format_of(am)));
    r->sample_rate = am->clock_rate;
    r->channels = am->channels;
  } else if (other_a >= 0) {
    r->error = VG_PROBE_UNSUPPORTED;
    snprintf(r->message, sizeof r->message,
             "unsupported audio codec: %s (AAC or G.711 needed; video alone would record)",
             sdp->media[other_a].encoding[0] ? sdp->media[other_a].encoding : "unknown");
    goto out;
  }
  if (!p.have_size || r->fps <= 0) {
    /* play the video until the SPS and two frames have come */
    rprobe_read x = {.p = &p};
    if (vg_rtp_depack_new(vf, vm, &d) != 0) {
      r->error = VG_PROBE_PROTOCOL;
      snprintf(r->message, sizeof r->message, "out of memory");
      goto out;
    }
    x.d = d;
    if (vg_rtsp_setup(c, (size_t)vi, &x.channel, &err) != 0 || vg_rtsp_play(c, &err) != 0) {
      rprobe_fail(r, &err, timeout_ms);
      goto out;
    }
    while (!(p.have_size && p.frames >= 2)) {
      if (rprobe_interrupt(&p)) break;
      int rc = vg_rtsp_read(c, 50, rprobe_data, &x, &err);
      if (rc < 0) {
        rprobe_fail(r, &err, timeout_ms);
        goto out;
      }
    }
    if (r->fps <= 0 && p.frames >= 2 && p.second_ts > p.first_ts)
      r->fps = (double)p.clock / (double)(p.second_ts - p.first_ts);
  }
  if (!p.have_size) {
    r->error = VG_PROBE_TIMEOUT;
    snprintf(r->message, sizeof r->message, "no picture size within %d ms", timeout_ms);
    goto out;
  }
  r->error = VG_PROBE_OK;
  snprintf(r->message, sizeof r->message, "%s %dx%d %.2f fps%s%s", r->video_codec, r->width,
           r->height, r->fps, r->audio_codec[0] ? ", audio " : ", no audio", r->audio_codec);
out:
  vg_rtp_depack_free(d);
  vg_rtsp_close(c);
  return r->error == VG_PROBE_OK ? 0 : VG_EIO;
}

int vg_probe_camera(const char *url, const char *username, const char *password, bool udp,
                    int timeout_ms, vg_probe_result *r) {
  memset(r, 0, sizeof *r);
  if (timeout_ms <= 0) timeout_ms = 5000;
  char full[2048];
  if (vg_camera_build_url(url, username, password, full, sizeof full) != 0) {
    r->error = VG_PROBE_PROTOCOL;
    snprintf(r->message, sizeof r->message, "not an rtsp:// or rtsps:// address");
    return VG_EIO;
  }

  /* TCP goes through the client the camera session reads with */
  if (!udp && strncasecmp(url, "rtsp://", 7) == 0)
    return probe_rtsp(url, username, password, timeout_ms, r);

  vg_avlog_capture cap;
  vg_avlog_capture_begin(&cap);
  probe_ctx pc = {.deadline = vg_mono_ms() + (uint64_t)timeout_ms};
  AVFormatContext *fmt = avformat_alloc_context();
  AVDictionary *opts = NULL;
  int rc;
  if (!fmt) {
    r->error = VG_PROBE_PROTOCOL;
    snprintf(r->message, sizeof r->message, "out of memory");
    vg_avlog_capture_end();
    return VG_EIO;
  }
  fmt->interrupt_callback.callback = probe_interrupt;
  fmt->interrupt_callback.opaque = &pc;
  av_dict_set(&opts, "rtsp_transport", udp ? "udp" : "tcp", 0);
  av_dict_set_int(&opts, "timeout", (int64_t)timeout_ms * 1000, 0); /* FFmpeg 5.1: µs */
  av_dict_set_int(&opts, "probesize", PROBE_SIZE, 0);
  av_dict_set_int(&opts, "analyzeduration", PROBE_ANALYZE_US, 0);
  av_dict_set(&opts, "allowed_media_types", "video+audio", 0);

  rc = avformat_open_input(&fmt, full, NULL, &opts); /* frees fmt on failure */
  av_dict_free(&opts);
  if (rc < 0) {
    r->error = vg_probe_classify(rc, pc.timed_out, timeout_ms, cap.last_error, r->message,
                                 sizeof r->message);
    goto out;
  }
  rc = avformat_find_stream_info(fmt, NULL);
  if (rc < 0) {
    r->error = vg_probe_classify(rc, pc.timed_out, timeout_ms, cap.last_error, r->message,
                                 sizeof r->message);
    goto out;
  }
  r->error = describe_streams(fmt, r);
  if (r->error == VG_PROBE_OK && (r->width <= 0 || r->height <= 0)) {
    /* Stream info gave up before the first parameter sets arrived. */
    r->error = VG_PROBE_TIMEOUT;
    snprintf(r->message, sizeof r->message, "no picture size within %d ms", timeout_ms);
  }

out:
  avformat_close_input(&fmt);
  vg_avlog_capture_end();
  return r->error == VG_PROBE_OK ? 0 : VG_EIO;
}
