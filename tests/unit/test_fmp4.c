/* test_fmp4.c - the fragmented MP4 writer and the codec conversions, with
 * real encoded media.
 *
 * Each test encodes a few seconds of synthetic video (libx264 / libx265)
 * and audio (FFmpeg's native AAC) with libavcodec, converts the encoder's
 * Annex-B output the way the RTSP ingest does (codec.h), writes init +
 * fragments to a file and checks it three ways: our own BMFF scan, ffprobe's
 * view of the streams, and a full decode by ffmpeg that must print nothing. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <libavcodec/avcodec.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "media/bmff.h"
#include "media/codec.h"
#include "media/fmp4.h"

#define W 320
#define H 240
#define FPS 25
#define VIDEO_TS 90000
#define AUDIO_RATE 48000

/* Encoder chatter would bury Criterion's report. */
__attribute__((constructor)) static void quiet_ffmpeg(void) { av_log_set_level(AV_LOG_ERROR); }

/* libx265 keeps some per-encoder buffers past x265_encoder_close; the
 * leak is theirs, so LeakSanitizer ignores it (and only it). */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libx265.so\n"; }
const char *__lsan_default_options(void);
const char *__lsan_default_options(void) { return "print_suppressions=0"; }

/* VG_TEST_KEEP=1 leaves the written files in /tmp for a look. */
static void remove_file(const char *path) {
  if (!getenv("VG_TEST_KEEP")) unlink(path);
}

typedef struct stream {
  vg_codec_params params;
  vg_frame *frames;
  size_t n, cap;
} stream;

static void stream_push(stream *s, const vg_frame *f) {
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 64;
    s->frames = realloc(s->frames, s->cap * sizeof *s->frames);
    cr_assert(s->frames);
  }
  s->frames[s->n++] = *f;
}

static void stream_free(stream *s) {
  for (size_t i = 0; i < s->n; i++) vg_buf_unref(s->frames[i].data);
  free(s->frames);
  memset(s, 0, sizeof *s);
}

/* Shifts timestamps so the first dts is 0, as the ingest anchors them. */
static void stream_rebase(stream *s) {
  if (s->n == 0) return;
  int64_t d0 = s->frames[0].dts;
  for (size_t i = 0; i < s->n; i++) {
    s->frames[i].dts -= d0;
    s->frames[i].pts -= d0;
  }
}

static void collect_video(AVCodecContext *ctx, AVPacket *pkt, vg_codec_id codec, stream *s) {
  while (avcodec_receive_packet(ctx, pkt) == 0) {
    vg_frame f = {0};
    f.track = VG_TRACK_VIDEO;
    f.pts = pkt->pts * (VIDEO_TS / FPS);
    f.dts = pkt->dts * (VIDEO_TS / FPS);
    f.keyframe = pkt->flags & AV_PKT_FLAG_KEY;
    f.wall_ms = 1700000000000 + f.dts / 90;
    cr_assert_eq(vg_annexb_to_lp(codec, pkt->data, (size_t)pkt->size,
                                 VG_LP_STRIP_PARAMS | VG_LP_STRIP_AUD, &f.data),
                 0);
    stream_push(s, &f);
    av_packet_unref(pkt);
  }
}

/* Encodes seconds of a moving test pattern at 320x240, 25 fps, one
 * keyframe per second, with bframes B-frames. */
static void encode_video(vg_codec_id codec, int seconds, int bframes, stream *s) {
  memset(s, 0, sizeof *s);
  const char *name = codec == VG_CODEC_H265 ? "libx265" : "libx264";
  const AVCodec *c = avcodec_find_encoder_by_name(name);
  cr_assert(c, "encoder %s missing", name);
  AVCodecContext *ctx = avcodec_alloc_context3(c);
  ctx->width = W;
  ctx->height = H;
  ctx->time_base = (AVRational){1, FPS};
  ctx->framerate = (AVRational){FPS, 1};
  ctx->pix_fmt = AV_PIX_FMT_YUV420P;
  ctx->gop_size = FPS;
  ctx->keyint_min = FPS;
  ctx->max_b_frames = bframes;
  ctx->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  av_opt_set(ctx->priv_data, "preset", "ultrafast", 0);
  if (codec == VG_CODEC_H265) {
    char params[128];
    snprintf(params, sizeof params, "log-level=none:scenecut=0:bframes=%d:keyint=%d:min-keyint=%d",
             bframes, FPS, FPS);
    av_opt_set(ctx->priv_data, "x265-params", params, 0);
  } else {
    av_opt_set(ctx->priv_data, "x264-params", "scenecut=0", 0);
  }
  cr_assert_eq(avcodec_open2(ctx, c, NULL), 0);

  s->params.codec = codec;
  s->params.timescale = VIDEO_TS;
  s->params.width = W;
  s->params.height = H;
  s->params.fps_num = FPS;
  s->params.fps_den = 1;
  int rc =
      codec == VG_CODEC_H265
          ? vg_hvcc_from_annexb(ctx->extradata, (size_t)ctx->extradata_size, s->params.extradata,
                                VG_EXTRADATA_MAX, &s->params.extradata_len)
          : vg_avcc_from_annexb(ctx->extradata, (size_t)ctx->extradata_size, s->params.extradata,
                                VG_EXTRADATA_MAX, &s->params.extradata_len);
  cr_assert_eq(rc, 0, "parameter sets from extradata: %d", rc);

  AVFrame *fr = av_frame_alloc();
  fr->format = AV_PIX_FMT_YUV420P;
  fr->width = W;
  fr->height = H;
  cr_assert_eq(av_frame_get_buffer(fr, 0), 0);
  AVPacket *pkt = av_packet_alloc();
  for (int i = 0; i < seconds * FPS; i++) {
    cr_assert_eq(av_frame_make_writable(fr), 0);
    for (int y = 0; y < H; y++)
      for (int x = 0; x < W; x++) fr->data[0][y * fr->linesize[0] + x] = (uint8_t)(x + y + i * 3);
    for (int y = 0; y < H / 2; y++)
      for (int x = 0; x < W / 2; x++) {
        fr->data[1][y * fr->linesize[1] + x] = (uint8_t)(128 + y + i * 2);
        fr->data[2][y * fr->linesize[2] + x] = (uint8_t)(64 + x - i);
      }
    fr->pts = i;
    cr_assert_eq(avcodec_send_frame(ctx, fr), 0);
    collect_video(ctx, pkt, codec, s);
  }
  avcodec_send_frame(ctx, NULL);
  collect_video(ctx, pkt, codec, s);
  cr_assert_eq(s->n, (size_t)(seconds * FPS));
  stream_rebase(s);
  av_packet_free(&pkt);
  av_frame_free(&fr);
  avcodec_free_context(&ctx);
}

static void collect_audio(AVCodecContext *ctx, AVPacket *pkt, stream *s) {
  while (avcodec_receive_packet(ctx, pkt) == 0) {
    vg_frame f = {0};
    f.track = VG_TRACK_AUDIO;
    f.pts = f.dts = pkt->pts;
    f.duration = pkt->duration;
    f.keyframe = true;
    f.data = vg_buf_from(pkt->data, (size_t)pkt->size);
    stream_push(s, &f);
    av_packet_unref(pkt);
  }
}

/* Encodes seconds of a 440 Hz stereo tone with the native AAC encoder. */
static void encode_audio(int seconds, stream *s) {
  memset(s, 0, sizeof *s);
  const AVCodec *c = avcodec_find_encoder_by_name("aac");
  cr_assert(c);
  AVCodecContext *ctx = avcodec_alloc_context3(c);
  ctx->sample_rate = AUDIO_RATE;
  av_channel_layout_default(&ctx->ch_layout, 2);
  ctx->sample_fmt = AV_SAMPLE_FMT_FLTP;
  ctx->bit_rate = 128000;
  ctx->time_base = (AVRational){1, AUDIO_RATE};
  ctx->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  cr_assert_eq(avcodec_open2(ctx, c, NULL), 0);
  s->params.codec = VG_CODEC_AAC;
  s->params.timescale = AUDIO_RATE;
  s->params.sample_rate = AUDIO_RATE;
  s->params.channels = 2;
  cr_assert(ctx->extradata_size > 0 && ctx->extradata_size <= VG_EXTRADATA_MAX);
  memcpy(s->params.extradata, ctx->extradata, (size_t)ctx->extradata_size);
  s->params.extradata_len = (size_t)ctx->extradata_size;

  AVFrame *fr = av_frame_alloc();
  fr->format = AV_SAMPLE_FMT_FLTP;
  fr->nb_samples = ctx->frame_size;
  fr->sample_rate = AUDIO_RATE;
  av_channel_layout_copy(&fr->ch_layout, &ctx->ch_layout);
  cr_assert_eq(av_frame_get_buffer(fr, 0), 0);
  AVPacket *pkt = av_packet_alloc();
  int64_t t = 0;
  while (t < (int64_t)seconds * AUDIO_RATE) {
    cr_assert_eq(av_frame_make_writable(fr), 0);
    for (int ch = 0; ch < 2; ch++) {
      float *d = (float *)fr->data[ch];
      for (int i = 0; i < fr->nb_samples; i++)
        d[i] = 0.3f * sinf(2 * 3.14159265f * 440 * (t + i) / AUDIO_RATE);
    }
    fr->pts = t;
    t += fr->nb_samples;
    cr_assert_eq(avcodec_send_frame(ctx, fr), 0);
    collect_audio(ctx, pkt, s);
  }
  avcodec_send_frame(ctx, NULL);
  collect_audio(ctx, pkt, s);
  stream_rebase(s);
  av_packet_free(&pkt);
  av_frame_free(&fr);
  avcodec_free_context(&ctx);
}

/* ---- writing files ---- */

enum { CUT_GOP, CUT_FRAME };

#define MAX_FRAGS 4096

typedef struct written {
  char path[64];
  size_t init_size;
  size_t nfrags;
  size_t frag_end[MAX_FRAGS]; /* file offset after each fragment */
  vg_fmp4_info info[MAX_FRAGS];
  size_t size;
} written;

static void emit(vg_fmp4 *w, FILE *fp, written *out) {
  vg_buf *b;
  vg_fmp4_info info;
  cr_assert_eq(vg_fmp4_fragment(w, &b, &info), 0);
  cr_assert_eq(info.bytes, b->len);
  cr_assert_eq(fwrite(b->data, 1, b->len, fp), b->len);
  out->size += b->len;
  cr_assert(out->nfrags < MAX_FRAGS);
  out->info[out->nfrags] = info;
  out->frag_end[out->nfrags++] = out->size;
  vg_buf_unref(b);
}

/* Writes init + fragments of video and/or audio (merged in decode-time
 * order) to a new temporary file. CUT_GOP cuts before every video keyframe
 * (every 48 audio frames without video); CUT_FRAME after every sample. */
static void write_file(stream *v, stream *a, int cut, written *out) {
  memset(out, 0, sizeof *out);
  strcpy(out->path, "/tmp/vg-fmp4-XXXXXX.mp4");
  int fd = mkstemps(out->path, 4);
  cr_assert(fd >= 0);
  FILE *fp = fdopen(fd, "wb");
  vg_fmp4 *w;
  cr_assert_eq(vg_fmp4_new(v ? &v->params : NULL, a ? &a->params : NULL, &w), 0);
  vg_buf *init;
  cr_assert_eq(vg_fmp4_init_segment(w, &init), 0);
  fwrite(init->data, 1, init->len, fp);
  out->init_size = out->size = init->len;
  vg_buf_unref(init);

  size_t i = 0, j = 0, na = 0;
  size_t vn = v ? v->n : 0, an = a ? a->n : 0;
  while (i < vn || j < an) {
    bool take_video = j >= an || (i < vn && v->frames[i].dts * (int64_t)AUDIO_RATE <=
                                                a->frames[j].dts * (int64_t)VIDEO_TS);
    const vg_frame *f = take_video ? &v->frames[i++] : &a->frames[j++];
    if (cut == CUT_GOP && vg_fmp4_pending(w) > 0) {
      bool boundary = v ? (take_video && f->keyframe) : (na > 0 && na % 48 == 0);
      if (boundary) emit(w, fp, out);
    }
    cr_assert_eq(vg_fmp4_add(w, f), 0);
    if (!take_video) na++;
    if (cut == CUT_FRAME) emit(w, fp, out);
  }
  if (vg_fmp4_pending(w) > 0) emit(w, fp, out);
  vg_buf *none = (vg_buf *)1;
  cr_assert_eq(vg_fmp4_fragment(w, &none, NULL), VG_EAGAIN);
  cr_assert_null(none);
  vg_fmp4_free(w);
  fclose(fp);
}

static uint8_t *read_all(const char *path, size_t *len) {
  FILE *fp = fopen(path, "rb");
  cr_assert(fp);
  fseek(fp, 0, SEEK_END);
  long n = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  uint8_t *d = malloc((size_t)n + 1);
  cr_assert_eq(fread(d, 1, (size_t)n, fp), (size_t)n);
  fclose(fp);
  *len = (size_t)n;
  return d;
}

/* Runs cmd, returns its stdout (malloc'd, NUL-terminated). */
static char *run(const char *cmd) {
  FILE *p = popen(cmd, "r");
  cr_assert(p, "popen %s", cmd);
  size_t cap = 4096, len = 0;
  char *out = malloc(cap);
  size_t n;
  while ((n = fread(out + len, 1, cap - len - 1, p)) > 0) {
    len += n;
    if (cap - len < 2) out = realloc(out, cap *= 2);
  }
  out[len] = 0;
  pclose(p);
  return out;
}

typedef struct probe {
  json_t *root;
  double duration;
} probe;

/* ffprobe's view of the file; its stderr must stay empty. */
static void ffprobe(const char *path, probe *p) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "ffprobe -v error -show_streams -show_format -of json '%s' 2>'%s.err'",
           path, path);
  char *out = run(cmd);
  json_error_t jerr;
  p->root = json_loads(out, 0, &jerr);
  cr_assert(p->root, "ffprobe output is not JSON: %s", out);
  free(out);
  snprintf(cmd, sizeof cmd, "cat '%s.err'; rm -f '%s.err'", path, path);
  char *err = run(cmd);
  cr_expect_str_empty(err, "ffprobe complained: %s", err);
  free(err);
  const char *d =
      json_string_value(json_object_get(json_object_get(p->root, "format"), "duration"));
  cr_assert(d, "no format duration");
  p->duration = atof(d);
}

static json_t *probe_stream(probe *p, const char *codec_type) {
  size_t i;
  json_t *s;
  json_array_foreach(json_object_get(p->root, "streams"), i, s) {
    if (strcmp(json_string_value(json_object_get(s, "codec_type")), codec_type) == 0) return s;
  }
  return NULL;
}

/* A full decode of every stream must print nothing at -v error. */
static void ffmpeg_decodes_cleanly(const char *path) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "ffmpeg -nostdin -v error -i '%s' -f null - 2>&1", path);
  char *out = run(cmd);
  cr_expect_str_empty(out, "ffmpeg decode errors: %s", out);
  free(out);
}

static void check_video_stream(probe *p, const char *codec_name, int nstreams) {
  cr_assert_eq(json_array_size(json_object_get(p->root, "streams")), (size_t)nstreams);
  json_t *s = probe_stream(p, "video");
  cr_assert(s, "no video stream");
  cr_expect_str_eq(json_string_value(json_object_get(s, "codec_name")), codec_name);
  cr_expect_eq(json_integer_value(json_object_get(s, "width")), W);
  cr_expect_eq(json_integer_value(json_object_get(s, "height")), H);
}

static void check_audio_stream(probe *p) {
  json_t *s = probe_stream(p, "audio");
  cr_assert(s, "no audio stream");
  cr_expect_str_eq(json_string_value(json_object_get(s, "codec_name")), "aac");
  cr_expect_str_eq(json_string_value(json_object_get(s, "sample_rate")), "48000");
  cr_expect_eq(json_integer_value(json_object_get(s, "channels")), 2);
}

/* Our own reader: complete init, all fragments, sample counts, no gaps. */
static void check_scan(const written *wr, size_t vframes, size_t aframes) {
  size_t len;
  uint8_t *d = read_all(wr->path, &len);
  cr_assert_eq(len, wr->size);
  vg_bmff_scan_result r;
  cr_assert_eq(vg_bmff_scan(d, len, &r), 0);
  cr_expect(r.has_init);
  cr_expect_eq(r.init_end, wr->init_size);
  cr_expect_eq(r.fragments, wr->nfrags);
  cr_expect_eq(r.complete_end, len);
  cr_expect_eq(r.stop, VG_BMFF_END);
  cr_expect(r.sequence_ok);
  cr_expect_eq(r.first_sequence, 1);
  cr_expect_eq(r.last_sequence, wr->nfrags);
  uint32_t id = 1;
  if (vframes) {
    const vg_bmff_track *t = vg_bmff_scan_track(&r, id++);
    cr_assert(t);
    cr_expect_eq(t->handler, VG_FOURCC('v', 'i', 'd', 'e'));
    cr_expect_eq(t->timescale, VIDEO_TS);
    cr_expect_eq(t->samples, vframes);
    cr_expect_eq(t->first_tfdt, 0);
    cr_expect_eq(t->gaps, 0, "video tfdt not continuous");
    cr_expect_eq(t->duration, vframes * (VIDEO_TS / FPS));
  }
  if (aframes) {
    const vg_bmff_track *t = vg_bmff_scan_track(&r, id);
    cr_assert(t);
    cr_expect_eq(t->handler, VG_FOURCC('s', 'o', 'u', 'n'));
    cr_expect_eq(t->timescale, AUDIO_RATE);
    cr_expect_eq(t->samples, aframes);
    cr_expect_eq(t->gaps, 0, "audio tfdt not continuous");
  }
  free(d);
}

/* ---- codec conversions ---- */

Test(codec, annexb_to_length_prefixed) {
  /* 4-byte and 3-byte start codes, an AUD, SPS, PPS, a slice whose body
   * holds an emulation prevention byte, and trailing zeros. */
  static const uint8_t in[] = {0,    0,    0,    1,    0x09, 0xf0, 0, 0,    0,    1,
                               0x67, 0x42, 0,    0x1e, 0,    0,    1, 0x68, 0xce, 0,
                               0,    1,    0x65, 0x88, 0,    0,    3, 1,    0,    0};
  vg_buf *b;
  cr_assert_eq(vg_annexb_to_lp(VG_CODEC_H264, in, sizeof in, 0, &b), 0);
  static const uint8_t all[] = {0, 0, 0, 2,    0x09, 0xf0, 0, 0, 0, 4,    0x67, 0x42, 0, 0x1e, 0,
                                0, 0, 2, 0x68, 0xce, 0,    0, 0, 6, 0x65, 0x88, 0,    0, 3,    1};
  cr_assert_eq(b->len, sizeof all);
  cr_assert_arr_eq(b->data, all, sizeof all);
  vg_buf_unref(b);
  cr_assert_eq(
      vg_annexb_to_lp(VG_CODEC_H264, in, sizeof in, VG_LP_STRIP_PARAMS | VG_LP_STRIP_AUD, &b), 0);
  static const uint8_t slice[] = {0, 0, 0, 6, 0x65, 0x88, 0, 0, 3, 1};
  cr_assert_eq(b->len, sizeof slice);
  cr_assert_arr_eq(b->data, slice, sizeof slice);
  vg_buf_unref(b);
  /* Nothing left to write, or no start code at all. */
  static const uint8_t only_aud[] = {0, 0, 1, 0x09, 0xf0};
  cr_assert_eq(vg_annexb_to_lp(VG_CODEC_H264, only_aud, sizeof only_aud, VG_LP_STRIP_AUD, &b),
               VG_EINVAL);
  cr_assert_null(b);
  cr_assert_eq(vg_annexb_to_lp(VG_CODEC_H264, slice + 4, 6, 0, &b), VG_EINVAL);
}

Test(codec, avcc_record_and_string) {
  stream v;
  encode_video(VG_CODEC_H264, 1, 0, &v);
  const uint8_t *c = v.params.extradata;
  cr_assert_geq(v.params.extradata_len, 11);
  cr_expect_eq(c[0], 1);
  cr_expect_eq(c[4], 0xff); /* 4-byte lengths */
  cr_expect_eq(c[5], 0xe1); /* one SPS */
  char s[64], want[64];
  cr_assert_eq(vg_codec_string(&v.params, s, sizeof s), 0);
  snprintf(want, sizeof want, "avc1.%02x%02x%02x", c[1], c[2], c[3]);
  cr_expect_str_eq(s, want);
  cr_expect_eq(c[8], 0x67, "SPS NAL header follows its length");
  cr_expect_eq(vg_codec_string(&v.params, s, 8), VG_EINVAL, "too small for the string");
  stream_free(&v);
}

Test(codec, hevc_string) {
  vg_codec_params p = {.codec = VG_CODEC_H265};
  /* Main profile, compatible with profiles 1 and 2, progressive source
   * flag etc. (0xb0), Main tier, level 3.1. */
  static const uint8_t hvcc[13] = {1, 0x01, 0x60, 0, 0, 0, 0xb0, 0, 0, 0, 0, 0, 93};
  memcpy(p.extradata, hvcc, sizeof hvcc);
  p.extradata_len = 23;
  char s[64];
  cr_assert_eq(vg_codec_string(&p, s, sizeof s), 0);
  cr_expect_str_eq(s, "hvc1.1.6.L93.B0");
  /* High tier, profile space 1, Main 10, two constraint bytes. */
  p.extradata[1] = 0x40 | 0x20 | 2;
  p.extradata[2] = 0x20;
  p.extradata[7] = 0x01;
  p.extradata[12] = 150;
  cr_assert_eq(vg_codec_string(&p, s, sizeof s), 0);
  cr_expect_str_eq(s, "hvc1.A2.4.H150.B0.01");
  p.extradata_len = 12;
  cr_expect_eq(vg_codec_string(&p, s, sizeof s), VG_EINVAL);
}

Test(codec, aac_string) {
  vg_codec_params p = {.codec = VG_CODEC_AAC, .extradata = {0x11, 0x90}, .extradata_len = 2};
  char s[32];
  cr_assert_eq(vg_codec_string(&p, s, sizeof s), 0);
  cr_expect_str_eq(s, "mp4a.40.2");
  p.extradata[0] = 0xf9; /* escape: 32 + 10 = 42 (USAC) */
  p.extradata[1] = 0x40;
  cr_assert_eq(vg_codec_string(&p, s, sizeof s), 0);
  cr_expect_str_eq(s, "mp4a.40.42");
  stream a;
  encode_audio(1, &a);
  cr_assert_eq(vg_codec_string(&a.params, s, sizeof s), 0);
  cr_expect_str_eq(s, "mp4a.40.2");
  stream_free(&a);
  p.codec = VG_CODEC_NONE;
  cr_expect_eq(vg_codec_string(&p, s, sizeof s), VG_EINVAL);
}

/* ---- writer: boxes and limits ---- */

static const uint8_t *find_path(const uint8_t *d, size_t len, const char *path, vg_bmff_box *out) {
  vg_bmff_iter it;
  vg_bmff_iter_init(&it, d, len);
  const char *p = path;
  vg_bmff_box b;
  for (;;) {
    uint32_t want = VG_FOURCC(p[0], p[1], p[2], p[3]);
    int rc;
    while ((rc = vg_bmff_next(&it, &b)) == 1 && b.type != want) {
    }
    if (rc != 1) return NULL;
    p += 4;
    if (*p == 0) break;
    p++; /* '/' */
    size_t skip = 0;
    if (b.type == VG_FOURCC('s', 't', 's', 'd'))
      skip = 8;
    else if (b.type == VG_FOURCC('a', 'v', 'c', '1') || b.type == VG_FOURCC('h', 'v', 'c', '1'))
      skip = 78;
    else if (b.type == VG_FOURCC('m', 'p', '4', 'a'))
      skip = 28;
    cr_assert_eq(vg_bmff_iter_children(&it, &b, skip), 0);
  }
  *out = b;
  return b.body;
}

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

Test(fmp4, init_segment_boxes) {
  stream v, a;
  encode_video(VG_CODEC_H264, 1, 0, &v);
  encode_audio(1, &a);
  vg_fmp4 *w;
  cr_assert_eq(vg_fmp4_new(&v.params, &a.params, &w), 0);
  vg_buf *init;
  cr_assert_eq(vg_fmp4_init_segment(w, &init), 0);
  const uint8_t *d = init->data;
  size_t len = init->len;
  vg_bmff_box b;
  cr_assert(find_path(d, len, "ftyp", &b));
  cr_expect_arr_eq(b.body, "iso6\0\0\0\0iso6mp41dash", 20);
  cr_assert(find_path(d, len, "moov/mvhd", &b));
  cr_expect_eq(be32(b.body + 4 + 8), 1000, "movie timescale");
  cr_expect_eq(be32(b.body + 96), 3, "next_track_ID");
  cr_assert(find_path(d, len, "moov/trak/mdia/minf/stbl/stsd/avc1/avcC", &b));
  cr_expect_eq(b.body_len, v.params.extradata_len);
  cr_expect_arr_eq(b.body, v.params.extradata, v.params.extradata_len);
  cr_assert(find_path(d, len, "moov/trak/mdia/minf/stbl/stsd/avc1", &b));
  cr_expect_eq(b.body[24] << 8 | b.body[25], W);
  cr_expect_eq(b.body[26] << 8 | b.body[27], H);
  cr_assert(find_path(d, len, "moov/trak/mdia/minf/vmhd", &b));
  cr_assert(find_path(d, len, "moov/trak/mdia/minf/dinf/dref", &b));
  static const char *tables[] = {"stts", "stsc", "stco"};
  for (int i = 0; i < 3; i++) {
    char path[64];
    snprintf(path, sizeof path, "moov/trak/mdia/minf/stbl/%s", tables[i]);
    cr_assert(find_path(d, len, path, &b), "%s", path);
    cr_expect_eq(be32(b.body + 4), 0, "%s is empty", tables[i]);
  }
  cr_assert(find_path(d, len, "moov/mvex/trex", &b));
  cr_expect_eq(be32(b.body + 4), 1);

  /* The second trak is the audio one: mp4a with the ASC inside esds. */
  vg_bmff_iter it;
  vg_bmff_box moov, trak;
  cr_assert(find_path(d, len, "moov", &moov));
  vg_bmff_iter_children(&it, &moov, 0);
  int traks = 0;
  while (vg_bmff_next(&it, &trak) == 1) {
    if (trak.type == VG_FOURCC('t', 'r', 'a', 'k')) traks++;
  }
  cr_expect_eq(traks, 2);
  const uint8_t *esds = memmem(d, len, "esds", 4);
  cr_assert(esds);
  cr_assert(memmem(esds, len - (size_t)(esds - d), a.params.extradata, a.params.extradata_len));
  cr_assert(memmem(d, len, "smhd", 4));
  cr_assert(memmem(d, len, "soun", 4));

  vg_buf_unref(init);
  vg_fmp4_free(w);
  stream_free(&v);
  stream_free(&a);
}

Test(fmp4, fragment_layout) {
  stream v;
  encode_video(VG_CODEC_H264, 1, 0, &v);
  vg_fmp4 *w;
  cr_assert_eq(vg_fmp4_new(&v.params, NULL, &w), 0);
  vg_buf *frag = (vg_buf *)1;
  cr_assert_eq(vg_fmp4_fragment(w, &frag, NULL), VG_EAGAIN);
  cr_assert_null(frag);
  for (int i = 0; i < 5; i++) cr_assert_eq(vg_fmp4_add(w, &v.frames[i]), 0);
  cr_expect_eq(vg_fmp4_pending(w), 5);
  vg_fmp4_info info;
  cr_assert_eq(vg_fmp4_fragment(w, &frag, &info), 0);
  cr_expect_eq(vg_fmp4_pending(w), 0);
  cr_expect_eq(info.sequence, 1);
  cr_expect(info.keyframe);
  cr_expect_eq(info.frames, 5);
  cr_expect_eq(info.samples[VG_TRACK_VIDEO], 5);
  cr_expect_eq(info.samples[VG_TRACK_AUDIO], 0);
  cr_expect_eq(info.first_dts[VG_TRACK_VIDEO], 0);
  cr_expect_eq(info.duration[VG_TRACK_VIDEO], 5 * 3600);
  cr_expect_eq(info.bytes, frag->len);
  cr_expect_eq(info.first_wall_ms, v.frames[0].wall_ms);

  vg_bmff_box moof, mdat, trun, tfdt, tfhd;
  vg_bmff_iter it;
  vg_bmff_iter_init(&it, frag->data, frag->len);
  cr_assert_eq(vg_bmff_next(&it, &moof), 1);
  cr_assert_eq(moof.type, VG_FOURCC('m', 'o', 'o', 'f'));
  cr_assert_eq(vg_bmff_next(&it, &mdat), 1);
  cr_assert_eq(mdat.type, VG_FOURCC('m', 'd', 'a', 't'));
  cr_assert_eq(vg_bmff_next(&it, &mdat), 0, "nothing after mdat");
  cr_assert(find_path(frag->data, frag->len, "moof/traf/tfhd", &tfhd));
  cr_expect_eq(be32(tfhd.body), 0x020000, "default-base-is-moof");
  cr_assert(find_path(frag->data, frag->len, "moof/traf/tfdt", &tfdt));
  cr_expect_eq(tfdt.body[0], 1, "64-bit tfdt");
  cr_assert(find_path(frag->data, frag->len, "moof/traf/trun", &trun));
  cr_expect_eq(be32(trun.body), 0x000701, "no composition offsets without B-frames");
  cr_expect_eq(be32(trun.body + 4), 5);
  uint32_t off = be32(trun.body + 8);
  const uint8_t *p = trun.body + 12;
  for (int i = 0; i < 5; i++, p += 12) {
    const vg_buf *s = v.frames[i].data;
    cr_expect_eq(be32(p), 3600);
    cr_expect_eq(be32(p + 4), s->len);
    cr_expect_eq(be32(p + 8), i == 0 ? 0x02000000u : 0x01010000u);
    cr_assert_leq(off + s->len, frag->len);
    cr_expect_arr_eq(frag->data + off, s->data, s->len, "payload copied untouched");
    off += (uint32_t)s->len;
  }
  cr_expect_eq(off, frag->len);
  vg_buf_unref(frag);

  /* Next fragment: sequence 2, tfdt continues, a single sample takes the
   * previous sample's duration. */
  cr_assert_eq(vg_fmp4_add(w, &v.frames[5]), 0);
  cr_assert_eq(vg_fmp4_fragment(w, &frag, &info), 0);
  cr_expect_eq(info.sequence, 2);
  cr_expect_not(info.keyframe);
  cr_expect_eq(info.first_dts[VG_TRACK_VIDEO], 5 * 3600);
  cr_expect_eq(info.duration[VG_TRACK_VIDEO], 3600);
  vg_buf_unref(frag);
  vg_fmp4_free(w);
  stream_free(&v);
}

Test(fmp4, rejects_bad_frames_and_limits) {
  stream v;
  encode_video(VG_CODEC_H264, 1, 0, &v);
  vg_fmp4 *w;
  vg_codec_params bad = v.params;
  bad.codec = VG_CODEC_AAC;
  cr_expect_eq(vg_fmp4_new(&bad, NULL, &w), VG_EINVAL);
  cr_expect_eq(vg_fmp4_new(NULL, NULL, &w), VG_EINVAL);
  bad = v.params;
  bad.extradata_len = 0;
  cr_expect_eq(vg_fmp4_new(&bad, NULL, &w), VG_EINVAL);
  cr_assert_eq(vg_fmp4_new(&v.params, NULL, &w), 0);

  vg_frame f = v.frames[0];
  f.track = VG_TRACK_AUDIO;
  cr_expect_eq(vg_fmp4_add(w, &f), VG_EINVAL, "no audio track");
  f = v.frames[0];
  f.dts = -1;
  cr_expect_eq(vg_fmp4_add(w, &f), VG_EINVAL, "negative dts");
  cr_assert_eq(vg_fmp4_add(w, &v.frames[1]), 0);
  cr_expect_eq(vg_fmp4_add(w, &v.frames[1]), VG_EINVAL, "dts must increase");
  cr_expect_eq(vg_fmp4_add(w, &v.frames[0]), VG_EINVAL, "dts must increase");

  /* The per-fragment sample bound. */
  f = v.frames[2];
  size_t n = vg_fmp4_pending(w);
  int rc = 0;
  for (; n < VG_FMP4_MAX_SAMPLES + 1; n++) {
    f.dts = f.pts = 10000 + (int64_t)n * 10;
    if ((rc = vg_fmp4_add(w, &f))) break;
  }
  cr_expect_eq(rc, VG_ETOOBIG);
  cr_expect_eq(vg_fmp4_pending(w), VG_FMP4_MAX_SAMPLES);
  vg_buf *frag;
  vg_fmp4_info info;
  cr_assert_eq(vg_fmp4_fragment(w, &frag, &info), 0);
  cr_expect_eq(info.samples[VG_TRACK_VIDEO], VG_FMP4_MAX_SAMPLES);
  vg_buf_unref(frag);
  f.dts = f.pts = 10000 + (int64_t)n * 10;
  cr_expect_eq(vg_fmp4_add(w, &f), 0, "room again after a fragment");
  vg_fmp4_free(w); /* drops the queued reference */
  stream_free(&v);
}

Test(fmp4, reset_time_keeps_timeline_continuous) {
  stream v;
  encode_video(VG_CODEC_H264, 2, 0, &v);
  vg_fmp4 *w;
  cr_assert_eq(vg_fmp4_new(&v.params, NULL, &w), 0);
  vg_buf *frag;
  vg_fmp4_info info;
  for (int i = 0; i < 25; i++) cr_assert_eq(vg_fmp4_add(w, &v.frames[i]), 0);
  cr_assert_eq(vg_fmp4_fragment(w, &frag, &info), 0);
  vg_buf_unref(frag);
  /* The camera reconnects and its clock starts again at 0. */
  vg_fmp4_reset_time(w);
  for (int i = 0; i < 25; i++) {
    vg_frame f = v.frames[25 + i];
    f.dts -= 25 * 3600;
    f.pts -= 25 * 3600;
    cr_assert_eq(vg_fmp4_add(w, &f), 0);
  }
  cr_assert_eq(vg_fmp4_fragment(w, &frag, &info), 0);
  cr_expect_eq(info.first_dts[VG_TRACK_VIDEO], 25 * 3600);
  cr_expect_eq(info.duration[VG_TRACK_VIDEO], 25 * 3600);
  vg_buf_unref(frag);
  vg_fmp4_free(w);
  stream_free(&v);
}

/* ---- whole files, checked by the scan, ffprobe and ffmpeg ---- */

static void check_duration(const probe *p, double want, double frame) {
  cr_expect(fabs(p->duration - want) <= frame + 1e-6, "ffprobe duration %.3f, wrote %.3f",
            p->duration, want);
}

Test(file, h264_gop_fragments) {
  stream v;
  encode_video(VG_CODEC_H264, 3, 0, &v);
  written wr;
  write_file(&v, NULL, CUT_GOP, &wr);
  cr_expect_eq(wr.nfrags, 3, "one fragment per GOP");
  for (size_t i = 0; i < wr.nfrags; i++) {
    cr_expect(wr.info[i].keyframe);
    cr_expect_eq(wr.info[i].frames, FPS);
    cr_expect_eq(wr.info[i].first_dts[VG_TRACK_VIDEO], (int64_t)i * VIDEO_TS);
  }
  check_scan(&wr, v.n, 0);
  probe p;
  ffprobe(wr.path, &p);
  check_video_stream(&p, "h264", 1);
  check_duration(&p, 3.0, 1.0 / FPS);
  json_decref(p.root);
  ffmpeg_decodes_cleanly(wr.path);
  remove_file(wr.path);
  stream_free(&v);
}

Test(file, h265_gop_fragments) {
  stream v;
  encode_video(VG_CODEC_H265, 2, 0, &v);
  char s[64];
  cr_assert_eq(vg_codec_string(&v.params, s, sizeof s), 0);
  cr_expect_eq(strncmp(s, "hvc1.1.6.L", 10), 0, "Main profile codec string, got %s", s);
  written wr;
  write_file(&v, NULL, CUT_GOP, &wr);
  cr_expect_eq(wr.nfrags, 2);
  check_scan(&wr, v.n, 0);
  probe p;
  ffprobe(wr.path, &p);
  check_video_stream(&p, "hevc", 1);
  json_t *st = probe_stream(&p, "video");
  cr_expect_str_eq(json_string_value(json_object_get(st, "codec_tag_string")), "hvc1");
  check_duration(&p, 2.0, 1.0 / FPS);
  json_decref(p.root);
  ffmpeg_decodes_cleanly(wr.path);
  remove_file(wr.path);
  stream_free(&v);
}

Test(file, aac_only) {
  stream a;
  encode_audio(2, &a);
  written wr;
  write_file(NULL, &a, CUT_GOP, &wr);
  check_scan(&wr, 0, a.n);
  probe p;
  ffprobe(wr.path, &p);
  cr_assert_eq(json_array_size(json_object_get(p.root, "streams")), 1);
  check_audio_stream(&p);
  check_duration(&p, (double)a.n * 1024 / AUDIO_RATE, 1024.0 / AUDIO_RATE);
  json_decref(p.root);
  ffmpeg_decodes_cleanly(wr.path);
  remove_file(wr.path);
  stream_free(&a);
}

Test(file, h264_with_aac) {
  stream v, a;
  encode_video(VG_CODEC_H264, 3, 0, &v);
  encode_audio(3, &a);
  written wr;
  write_file(&v, &a, CUT_GOP, &wr);
  cr_expect_eq(wr.nfrags, 3);
  size_t asamples = 0;
  for (size_t i = 0; i < wr.nfrags; i++) asamples += wr.info[i].samples[VG_TRACK_AUDIO];
  cr_expect_eq(asamples, a.n);
  check_scan(&wr, v.n, a.n);
  probe p;
  ffprobe(wr.path, &p);
  check_video_stream(&p, "h264", 2);
  check_audio_stream(&p);
  check_duration(&p, 3.0, 1.0 / FPS);
  json_decref(p.root);
  ffmpeg_decodes_cleanly(wr.path);
  remove_file(wr.path);
  stream_free(&v);
  stream_free(&a);
}

Test(file, live_fragment_per_frame) {
  stream v, a;
  encode_video(VG_CODEC_H264, 2, 0, &v);
  encode_audio(2, &a);
  written wr;
  write_file(&v, &a, CUT_FRAME, &wr);
  cr_expect_eq(wr.nfrags, v.n + a.n, "one fragment per sample");
  check_scan(&wr, v.n, a.n);
  probe p;
  ffprobe(wr.path, &p);
  check_video_stream(&p, "h264", 2);
  check_audio_stream(&p);
  check_duration(&p, 2.0, 1.0 / FPS);
  json_decref(p.root);
  ffmpeg_decodes_cleanly(wr.path);
  remove_file(wr.path);
  stream_free(&v);
  stream_free(&a);
}

/* B-frames: pts != dts, so truns carry signed composition offsets. */
static void bframes_file(vg_codec_id codec, const char *name) {
  stream v;
  encode_video(codec, 2, 2, &v);
  bool reordered = false;
  for (size_t i = 0; i < v.n; i++) reordered |= v.frames[i].pts != v.frames[i].dts;
  cr_assert(reordered, "encoder produced no B-frames");
  written wr;
  write_file(&v, NULL, CUT_GOP, &wr);
  size_t len;
  uint8_t *d = read_all(wr.path, &len);
  vg_bmff_box trun;
  cr_assert(find_path(d + wr.init_size, len - wr.init_size, "moof/traf/trun", &trun));
  cr_expect_eq(trun.body[0], 1, "trun version 1");
  cr_expect_eq(be32(trun.body) & 0xffffff, 0x000f01, "with composition offsets");
  /* Each sample's offset is its pts - dts. */
  const uint8_t *p = trun.body + 12;
  for (int i = 0; i < FPS; i++, p += 16)
    cr_expect_eq((int32_t)be32(p + 12), (int32_t)(v.frames[i].pts - v.frames[i].dts));
  free(d);
  check_scan(&wr, v.n, 0);
  probe pr;
  ffprobe(wr.path, &pr);
  check_video_stream(&pr, name, 1);
  json_t *st = probe_stream(&pr, "video");
  cr_expect_gt(json_integer_value(json_object_get(st, "has_b_frames")), 0);
  check_duration(&pr, 2.0, 1.0 / FPS);
  json_decref(pr.root);
  ffmpeg_decodes_cleanly(wr.path);
  /* Every frame decodes, in presentation order. */
  char cmd[512];
  snprintf(cmd, sizeof cmd,
           "ffprobe -v error -count_frames -select_streams v -show_entries stream=nb_read_frames "
           "-of csv=p=0 '%s'",
           wr.path);
  char *out = run(cmd);
  cr_expect_eq(atoi(out), (int)v.n, "decoded frames: %s", out);
  free(out);
  remove_file(wr.path);
  stream_free(&v);
}

Test(file, h264_bframes) { bframes_file(VG_CODEC_H264, "h264"); }

Test(file, h265_bframes) { bframes_file(VG_CODEC_H265, "hevc"); }

/* A crash mid-fragment: the scan finds the end of the last complete
 * fragment, and the file cut there is clean for ffprobe and ffmpeg. */
Test(file, truncated_repair) {
  stream v, a;
  encode_video(VG_CODEC_H264, 4, 0, &v);
  encode_audio(4, &a);
  written wr;
  write_file(&v, &a, CUT_GOP, &wr);
  cr_assert_eq(wr.nfrags, 4);
  size_t len;
  uint8_t *d = read_all(wr.path, &len);
  /* Cuts inside the third fragment: in the moof header, in the moof, in
   * the mdat header and in the mdat payload. */
  size_t start = wr.frag_end[1], end = wr.frag_end[2];
  size_t cuts[] = {start + 3, start + 40, end - (end - start) / 2, end - 1};
  for (size_t c = 0; c < sizeof cuts / sizeof *cuts; c++) {
    vg_bmff_scan_result r;
    cr_assert_eq(vg_bmff_scan(d, cuts[c], &r), 0);
    cr_expect(r.has_init);
    cr_expect_eq(r.fragments, 2, "cut at %zu", cuts[c]);
    cr_expect_eq(r.complete_end, start, "cut at %zu", cuts[c]);
    cr_expect_eq(r.stop, VG_BMFF_TRUNCATED);
    cr_expect_eq(r.stop_offset, start);
  }
  vg_bmff_scan_result r;
  cr_assert_eq(vg_bmff_scan(d, end - 100, &r), 0);
  cr_assert_eq(truncate(wr.path, (off_t)r.complete_end), 0);
  free(d);

  probe p;
  ffprobe(wr.path, &p);
  check_video_stream(&p, "h264", 2);
  check_audio_stream(&p);
  check_duration(&p, 2.0, 1.0 / FPS);
  json_decref(p.root);
  ffmpeg_decodes_cleanly(wr.path);
  d = read_all(wr.path, &len);
  cr_assert_eq(vg_bmff_scan(d, len, &r), 0);
  cr_expect_eq(r.fragments, 2);
  cr_expect_eq(r.stop, VG_BMFF_END);
  cr_expect_eq(vg_bmff_scan_track(&r, 1)->samples, 2 * FPS);
  free(d);
  remove_file(wr.path);
  stream_free(&v);
  stream_free(&a);
}

/* The recorder's way: a fragment in parts (head + the frames' own buffers,
 * gathered by writev) is byte for byte the one-buffer fragment, with the
 * same info, fragment after fragment. */
static void compare_parts(vg_fmp4 *one, vg_fmp4 *parts, size_t *nfrags) {
  vg_buf *b;
  vg_fmp4_info i1, i2;
  vg_fmp4_parts p;
  cr_assert_eq(vg_fmp4_fragment(one, &b, &i1), 0);
  cr_assert_eq(vg_fmp4_fragment_parts(parts, &p, &i2), 0);
  cr_assert_eq(p.bytes, b->len);
  cr_assert_eq(memcmp(&i1, &i2, sizeof i1), 0);
  cr_assert_eq(memcmp(p.head->data, b->data, p.head->len), 0);
  size_t at = p.head->len;
  for (size_t k = 0; k < p.n; k++) {
    cr_assert_leq(at + p.samples[k]->len, b->len);
    cr_assert_eq(memcmp(p.samples[k]->data, b->data + at, p.samples[k]->len), 0);
    at += p.samples[k]->len;
  }
  cr_assert_eq(at, b->len);
  cr_assert_eq(vg_fmp4_pending(parts), 0);
  vg_fmp4_parts_release(&p);
  cr_assert_null(p.head);
  vg_buf_unref(b);
  (*nfrags)++;
}

Test(fmp4, fragment_parts_are_the_fragment_bytes) {
  stream v, a;
  encode_video(VG_CODEC_H264, 3, 0, &v);
  encode_audio(3, &a);
  vg_fmp4 *one, *parts;
  cr_assert_eq(vg_fmp4_new(&v.params, &a.params, &one), 0);
  cr_assert_eq(vg_fmp4_new(&v.params, &a.params, &parts), 0);
  size_t i = 0, j = 0, nfrags = 0;
  while (i < v.n || j < a.n) {
    bool take_video = j >= a.n || (i < v.n && v.frames[i].dts * (int64_t)AUDIO_RATE <=
                                                  a.frames[j].dts * (int64_t)VIDEO_TS);
    const vg_frame *f = take_video ? &v.frames[i++] : &a.frames[j++];
    if (take_video && f->keyframe && vg_fmp4_pending(one) > 0) compare_parts(one, parts, &nfrags);
    cr_assert_eq(vg_fmp4_add(one, f), 0);
    cr_assert_eq(vg_fmp4_add(parts, f), 0);
  }
  compare_parts(one, parts, &nfrags);
  cr_expect_eq(nfrags, 3);
  vg_fmp4_parts p = {(vg_buf *)1, NULL, 1, 1};
  cr_assert_eq(vg_fmp4_fragment_parts(parts, &p, NULL), VG_EAGAIN);
  cr_assert_null(p.head);
  cr_assert_eq(p.n, 0);
  vg_fmp4_free(one);
  vg_fmp4_free(parts);
  stream_free(&v);
  stream_free(&a);
}
