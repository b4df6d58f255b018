/* recfixture.c - writes a long recording into a Vigil data folder without
 * waiting for it: a benchmark fixture, not part of the server.
 *
 *   vigil-recfixture DATA_DIR ROOM_ID CAMERA_ID CLIP.mp4 MINUTES
 *
 * CLIP.mp4 is a short H.264 (+ AAC) file, e.g. one minute made by ffmpeg.
 * Its packets are read once (libavformat, no re-encoding) and written
 * MINUTES times over as one-minute fMP4 segment files by Vigil's own
 * writer (media/fmp4.c, a fragment per GOP, times from zero per file, as
 * the recorder writes them), under DATA_DIR/media/CAMERA_ID/yyyy/mm/dd/.
 * Then the store gets the rows the recorder would have made: a stopped
 * recording of ROOM_ID that ended a minute ago, one span, the camera's
 * track and every segment with its size, frame count and SHA-256. Stop
 * the server while this runs (SQLite, one writer). Prints the recording
 * id on stdout. */
#include <libavformat/avformat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "app/recorder.h"
#include "base/clock.h"
#include "base/err.h"
#include "media/fmp4.h"
#include "media/segwriter.h"
#include "store/store.h"

typedef struct pkt {
  vg_frame f;
} pkt;

static int mkdirs(const char *path) {
  char tmp[1200];
  snprintf(tmp, sizeof tmp, "%s", path);
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    mkdir(tmp, 0755);
    *p = '/';
  }
  return 0;
}

static void die(const char *what, int rc) {
  fprintf(stderr, "vigil-recfixture: %s (%d)\n", what, rc);
  exit(1);
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: vigil-recfixture DATA_DIR ROOM_ID CAMERA_ID CLIP.mp4 MINUTES\n");
    return 2;
  }
  const char *data = argv[1];
  int64_t room_id = atoll(argv[2]), camera_id = atoll(argv[3]);
  int minutes = atoi(argv[5]);
  if (room_id <= 0 || camera_id <= 0 || minutes <= 0) die("bad arguments", 0);

  AVFormatContext *fmt = NULL;
  if (avformat_open_input(&fmt, argv[4], NULL, NULL) < 0 ||
      avformat_find_stream_info(fmt, NULL) < 0)
    die("cannot read the clip", 0);
  int vi = -1, ai = -1;
  vg_codec_params vp, ap;
  memset(&vp, 0, sizeof vp);
  memset(&ap, 0, sizeof ap);
  for (unsigned i = 0; i < fmt->nb_streams; i++) {
    AVCodecParameters *c = fmt->streams[i]->codecpar;
    if (c->codec_id == AV_CODEC_ID_H264 && vi < 0 && c->extradata_size > 0 &&
        c->extradata_size <= VG_EXTRADATA_MAX) {
      vi = (int)i;
      vp.codec = VG_CODEC_H264;
      vp.timescale = 90000;
      vp.width = c->width;
      vp.height = c->height;
      AVRational r = fmt->streams[i]->avg_frame_rate;
      vp.fps_num = r.num;
      vp.fps_den = r.den;
      memcpy(vp.extradata, c->extradata, (size_t)c->extradata_size);
      vp.extradata_len = (size_t)c->extradata_size;
    } else if (c->codec_id == AV_CODEC_ID_AAC && ai < 0 && c->extradata_size > 0 &&
               c->extradata_size <= VG_EXTRADATA_MAX) {
      ai = (int)i;
      ap.codec = VG_CODEC_AAC;
      ap.timescale = (uint32_t)c->sample_rate;
      ap.sample_rate = c->sample_rate;
      ap.channels = c->ch_layout.nb_channels;
      memcpy(ap.extradata, c->extradata, (size_t)c->extradata_size);
      ap.extradata_len = (size_t)c->extradata_size;
    }
  }
  if (vi < 0) die("the clip has no H.264 video with avcC", 0);

  /* Every packet of the clip, timestamps from the first video frame. */
  pkt *pk = NULL;
  size_t n = 0, cap = 0;
  AVPacket *p = av_packet_alloc();
  int64_t base_us = INT64_MIN;
  while (av_read_frame(fmt, p) >= 0) {
    if (p->stream_index != vi && p->stream_index != ai) {
      av_packet_unref(p);
      continue;
    }
    bool video = p->stream_index == vi;
    AVRational tb = fmt->streams[p->stream_index]->time_base;
    AVRational ts = {1, (int)(video ? vp.timescale : ap.timescale)};
    int64_t dts = p->dts == AV_NOPTS_VALUE ? p->pts : p->dts;
    if (video && base_us == INT64_MIN) base_us = av_rescale_q(dts, tb, (AVRational){1, 1000000});
    if (base_us == INT64_MIN) {
      av_packet_unref(p);
      continue;
    }
    int64_t shift = av_rescale_q(base_us, (AVRational){1, 1000000}, ts);
    if (n == cap) {
      cap = cap ? cap * 2 : 4096;
      pk = realloc(pk, cap * sizeof *pk);
    }
    vg_frame *f = &pk[n].f;
    f->track = video ? VG_TRACK_VIDEO : VG_TRACK_AUDIO;
    f->dts = av_rescale_q(dts, tb, ts) - shift;
    f->pts = av_rescale_q(p->pts, tb, ts) - shift;
    f->duration = av_rescale_q(p->duration, tb, ts);
    f->keyframe = video && (p->flags & AV_PKT_FLAG_KEY);
    f->wall_ms = 0;
    f->data = vg_buf_from(p->data, (size_t)p->size);
    if (f->dts >= 0)
      n++;
    else
      vg_buf_unref(f->data);
    av_packet_unref(p);
  }
  av_packet_free(&p);
  avformat_close_input(&fmt);
  int64_t clip_ms = 0;
  for (size_t i = 0; i < n; i++)
    if (pk[i].f.track == VG_TRACK_VIDEO) clip_ms = pk[i].f.dts * 1000 / 90000 + 40;
  if (clip_ms < 1000) die("the clip is too short", 0);

  char url[1200], err[256];
  snprintf(url, sizeof url, "%s/vigil.db", data);
  vg_store *st;
  int rc = vg_store_open(&st, url, err, sizeof err);
  if (rc) die(err, rc);
  int64_t seg_ms = clip_ms;
  int64_t start = (vg_now_ms() - 60000 - (int64_t)minutes * seg_ms) / 1000 * 1000;
  int64_t end = start + (int64_t)minutes * seg_ms;
  vg_recording rec;
  memset(&rec, 0, sizeof rec);
  rec.room_id = room_id;
  snprintf(rec.title, sizeof rec.title, "fixture: %d x %lld ms of %s", minutes, (long long)seg_ms,
           argv[4]);
  rec.author_id = 1;
  snprintf(rec.author_name, sizeof rec.author_name, "bench");
  snprintf(rec.state, sizeof rec.state, "stopped");
  rec.started_at = start;
  rec.ended_at = end;
  if ((rc = vg_store_recording_create(st, &rec))) die("recording_create", rc);
  if ((rc = vg_store_span_open(st, rec.id, start)) || (rc = vg_store_span_close(st, rec.id, end)))
    die("span", rc);
  char media[1100];
  snprintf(media, sizeof media, "%s/media", data);
  int64_t bytes = 0;
  for (int m = 0; m < minutes; m++) {
    int64_t s0 = start + (int64_t)m * seg_ms;
    char path[1200];
    vg_recorder_segment_path(media, camera_id, s0, path, sizeof path);
    mkdirs(path);
    FILE *out = fopen(path, "wb");
    if (!out) die(path, 0);
    vg_fmp4 *w;
    if ((rc = vg_fmp4_new(&vp, ai >= 0 ? &ap : NULL, &w))) die("fmp4_new", rc);
    vg_buf *b;
    vg_fmp4_init_segment(w, &b);
    fwrite(b->data, 1, b->len, out);
    vg_buf_unref(b);
    int64_t frames = 0;
    for (size_t i = 0; i < n; i++) {
      if (pk[i].f.keyframe && vg_fmp4_pending(w) > 0) {
        vg_fmp4_fragment(w, &b, NULL);
        fwrite(b->data, 1, b->len, out);
        vg_buf_unref(b);
      }
      if (vg_fmp4_add(w, &pk[i].f) == 0 && pk[i].f.track == VG_TRACK_VIDEO) frames++;
    }
    if (vg_fmp4_fragment(w, &b, NULL) == 0) {
      fwrite(b->data, 1, b->len, out);
      vg_buf_unref(b);
    }
    vg_fmp4_free(w);
    fclose(out);
    vg_segment g;
    memset(&g, 0, sizeof g);
    g.camera_id = camera_id;
    g.recording_id = rec.id;
    snprintf(g.path, sizeof g.path, "%s", path);
    g.start_ms = s0;
    g.end_ms = s0 + seg_ms;
    uint64_t size;
    if ((rc = vg_file_sha256(path, g.sha256, &size))) die("sha256", rc);
    g.bytes = (int64_t)size;
    g.frames = frames;
    snprintf(g.state, sizeof g.state, "closed");
    if ((rc = vg_store_segment_create(st, &g))) die("segment_create", rc);
    bytes += g.bytes;
  }
  vg_track t;
  memset(&t, 0, sizeof t);
  t.recording_id = rec.id;
  t.camera_id = camera_id;
  snprintf(t.camera_name, sizeof t.camera_name, "fixture");
  t.started_at = start;
  t.ended_at = end;
  t.bytes = bytes;
  if ((rc = vg_store_track_put(st, &t))) die("track_put", rc);
  vg_store_close(st);
  for (size_t i = 0; i < n; i++) vg_buf_unref(pk[i].f.data);
  free(pk);
  printf("%lld\n", (long long)rec.id);
  return 0;
}
