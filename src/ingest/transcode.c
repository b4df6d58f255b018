/* transcode.c - G.711 to AAC-LC 16 kHz mono with libavcodec and
 * libswresample; see transcode.h. */
#include "transcode.h"

#include <libavcodec/avcodec.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"

struct vg_transcode {
  AVCodecContext *dec;
  AVCodecContext *enc;
  SwrContext *swr;
  AVAudioFifo *fifo;
  AVPacket *pkt;
  AVFrame *in;  /* decoded G.711 */
  AVFrame *out; /* one encoder frame */
  int in_rate;
  bool started;
  int64_t next_pts;    /* pts of the first sample in the FIFO (1/16000) */
  int64_t expected_in; /* where the next input should start (1/16000) */
};

void vg_transcode_free(vg_transcode *t) {
  if (!t) return;
  avcodec_free_context(&t->dec);
  avcodec_free_context(&t->enc);
  swr_free(&t->swr);
  if (t->fifo) av_audio_fifo_free(t->fifo);
  av_packet_free(&t->pkt);
  av_frame_free(&t->in);
  av_frame_free(&t->out);
  free(t);
}

int vg_transcode_new(vg_g711_law law, int in_rate, int in_channels, vg_transcode **out) {
  *out = NULL;
  if (in_rate <= 0 || in_rate > 192000 || in_channels <= 0 || in_channels > 8) return VG_EINVAL;
  vg_transcode *t = calloc(1, sizeof *t);
  if (!t) return VG_ENOMEM;
  t->in_rate = in_rate;
  int rc = VG_ENOMEM;

  const AVCodec *dc =
      avcodec_find_decoder(law == VG_G711_ALAW ? AV_CODEC_ID_PCM_ALAW : AV_CODEC_ID_PCM_MULAW);
  const AVCodec *ec = avcodec_find_encoder_by_name("aac");
  if (!dc || !ec) {
    vg_log_error("transcode: FFmpeg lacks the G.711 decoder or the aac encoder");
    rc = VG_EINVAL;
    goto fail;
  }
  t->dec = avcodec_alloc_context3(dc);
  t->enc = avcodec_alloc_context3(ec);
  t->pkt = av_packet_alloc();
  t->in = av_frame_alloc();
  t->out = av_frame_alloc();
  if (!t->dec || !t->enc || !t->pkt || !t->in || !t->out) goto fail;

  t->dec->sample_rate = in_rate;
  av_channel_layout_default(&t->dec->ch_layout, in_channels);
  if (avcodec_open2(t->dec, dc, NULL) < 0) goto fail_io;

  t->enc->sample_fmt = AV_SAMPLE_FMT_FLTP;
  t->enc->sample_rate = VG_TRANSCODE_RATE;
  av_channel_layout_default(&t->enc->ch_layout, 1);
  t->enc->bit_rate = VG_TRANSCODE_BITRATE;
  t->enc->time_base = (AVRational){1, VG_TRANSCODE_RATE};
  t->enc->profile = FF_PROFILE_AAC_LOW;
  /* The AudioSpecificConfig goes to extradata instead of ADTS headers. */
  t->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  if (avcodec_open2(t->enc, ec, NULL) < 0) goto fail_io;
  if (t->enc->frame_size <= 0 || t->enc->extradata_size <= 0) goto fail_io;

  if (swr_alloc_set_opts2(&t->swr, &t->enc->ch_layout, AV_SAMPLE_FMT_FLTP, VG_TRANSCODE_RATE,
                          &t->dec->ch_layout, t->dec->sample_fmt, in_rate, 0, NULL) < 0 ||
      swr_init(t->swr) < 0)
    goto fail_io;
  t->fifo = av_audio_fifo_alloc(AV_SAMPLE_FMT_FLTP, 1, t->enc->frame_size * 4);
  if (!t->fifo) goto fail;

  t->out->nb_samples = t->enc->frame_size;
  t->out->format = AV_SAMPLE_FMT_FLTP;
  t->out->sample_rate = VG_TRANSCODE_RATE;
  if (av_channel_layout_copy(&t->out->ch_layout, &t->enc->ch_layout) < 0) goto fail;
  if (av_frame_get_buffer(t->out, 0) < 0) goto fail;
  *out = t;
  return 0;

fail_io:
  rc = VG_EIO;
  vg_log_error("transcode: cannot set up G.711 -> AAC");
fail:
  vg_transcode_free(t);
  return rc;
}

void vg_transcode_params(const vg_transcode *t, vg_codec_params *p) {
  memset(p, 0, sizeof *p);
  p->codec = VG_CODEC_AAC;
  p->timescale = VG_TRANSCODE_RATE;
  p->sample_rate = VG_TRANSCODE_RATE;
  p->channels = 1;
  size_t n = (size_t)t->enc->extradata_size;
  if (n > sizeof p->extradata) n = sizeof p->extradata;
  memcpy(p->extradata, t->enc->extradata, n);
  p->extradata_len = n;
}

/* Sends full encoder frames from the FIFO and hands out what comes back. */
static int encode_fifo(vg_transcode *t, vg_transcode_out_fn fn, void *ud) {
  int fs = t->enc->frame_size;
  while (av_audio_fifo_size(t->fifo) >= fs) {
    if (av_frame_make_writable(t->out) < 0) return VG_ENOMEM;
    if (av_audio_fifo_read(t->fifo, (void **)t->out->data, fs) != fs) return VG_EIO;
    t->out->pts = t->next_pts;
    t->next_pts += fs;
    if (avcodec_send_frame(t->enc, t->out) < 0) return VG_EIO;
    for (;;) {
      int r = avcodec_receive_packet(t->enc, t->pkt);
      if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) break;
      if (r < 0) return VG_EIO;
      fn(ud, t->pkt->data, (size_t)t->pkt->size, t->pkt->pts,
         t->pkt->duration > 0 ? t->pkt->duration : fs);
      av_packet_unref(t->pkt);
    }
  }
  return 0;
}

int vg_transcode_push(vg_transcode *t, const uint8_t *data, size_t len, int64_t pts,
                      vg_transcode_out_fn fn, void *ud) {
  if (!len || len > INT_MAX / 2) return 0;
  int64_t gap = VG_TRANSCODE_RATE * VG_TRANSCODE_GAP_MS / 1000;
  if (!t->started || pts > t->expected_in + gap || pts < t->expected_in - gap) {
    /* First input, or the input jumped: restart the count here, dropping
     * the samples still waiting (they belong to the old time line). */
    if (t->started)
      vg_log_debug("transcode: audio gap of %lld samples, restarting",
                   (long long)(pts - t->expected_in));
    av_audio_fifo_reset(t->fifo);
    t->next_pts = pts;
    t->expected_in = pts;
    t->started = true;
  }

  if (av_new_packet(t->pkt, (int)len) < 0) return VG_ENOMEM;
  memcpy(t->pkt->data, data, len);
  int r = avcodec_send_packet(t->dec, t->pkt);
  av_packet_unref(t->pkt);
  if (r < 0) return VG_EIO;
  for (;;) {
    r = avcodec_receive_frame(t->dec, t->in);
    if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) break;
    if (r < 0) return VG_EIO;
    int n_out = swr_get_out_samples(t->swr, t->in->nb_samples);
    if (n_out < 0) {
      av_frame_unref(t->in);
      return VG_EIO;
    }
    uint8_t *buf = NULL;
    if (av_samples_alloc(&buf, NULL, 1, n_out, AV_SAMPLE_FMT_FLTP, 0) < 0) {
      av_frame_unref(t->in);
      return VG_ENOMEM;
    }
    int got =
        swr_convert(t->swr, &buf, n_out, (const uint8_t **)t->in->extended_data, t->in->nb_samples);
    t->expected_in += av_rescale(t->in->nb_samples, VG_TRANSCODE_RATE, t->in_rate);
    av_frame_unref(t->in);
    if (got > 0 && av_audio_fifo_write(t->fifo, (void **)&buf, got) < got) got = -1;
    av_freep(&buf);
    if (got < 0) return VG_EIO;
  }
  return encode_fifo(t, fn, ud);
}
