/* test_mp4build.c - the progressive MP4 built from fMP4 segment files.
 *
 * Segment files are written by the real fMP4 writer (media/fmp4.c) the way
 * the recorder writes them: a writer per file, decode times from zero at
 * the file's first video frame, a fragment per GOP. Payloads are numbered
 * bytes, so every sample of the output can be traced back to the frame it
 * came from. The output is parsed back with the bmff reader: sample
 * tables, sync samples, the edit list, and the bytes of every sample. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "media/bmff.h"
#include "media/fmp4.h"
#include "media/mp4build.h"

#define FPS 15
#define VTS 90000
#define ATS 48000
#define GOP 15
#define SEG_S 10
#define T0 1700000000000LL /* wall clock of the first frame */

/* Frame payload: a header naming (track, index) and filler. */
static vg_buf *payload(int track, int idx) {
  size_t len = track == VG_TRACK_VIDEO ? 200 + (size_t)(idx % 7) * 50 + (idx % GOP ? 0 : 3000)
                                       : 100 + (size_t)(idx % 3);
  vg_buf *b = vg_buf_new(len);
  for (size_t i = 0; i < len; i++) b->data[i] = (uint8_t)(idx * 31 + track * 7 + i);
  b->data[0] = (uint8_t)track;
  b->data[1] = (uint8_t)(idx >> 8);
  b->data[2] = (uint8_t)idx;
  return b;
}

static int payload_index(const uint8_t *p) { return p[1] << 8 | p[2]; }

static vg_codec_params video_params(void) {
  vg_codec_params p = {.codec = VG_CODEC_H264, .timescale = VTS, .width = 640, .height = 360};
  p.fps_num = FPS;
  p.fps_den = 1;
  static const uint8_t avcc[] = {1, 0x42, 0, 0x1e, 0xff, 0xe1, 0,    4,    0x67, 0x42,
                                 0, 0x1e, 1, 0,    4,    0x68, 0xce, 0x3c, 0x80};
  memcpy(p.extradata, avcc, sizeof avcc);
  p.extradata_len = sizeof avcc;
  return p;
}

static vg_codec_params audio_params(void) {
  vg_codec_params p = {.codec = VG_CODEC_AAC, .timescale = ATS, .sample_rate = ATS, .channels = 1};
  p.extradata[0] = 0x11;
  p.extradata[1] = 0x88;
  p.extradata_len = 2;
  return p;
}

typedef struct seg {
  char path[300];
  int64_t start_ms, end_ms;
  size_t len;
} seg;

static void append(FILE *f, vg_buf *b) {
  cr_assert_eq(fwrite(b->data, 1, b->len, f), b->len);
  vg_buf_unref(b);
}

/* Writes video frames [v0, v1) and the audio between as one segment
 * file, decode times from zero, one fragment per GOP. */
/* The width of the video the next segment is written with (a camera whose
 * settings changed gives files with another sample entry). */
static int video_width = 640;
/* Composition offset of every video frame (a camera with B-frames shows a
 * frame this long after it is decoded). */
static int64_t video_cto = 0;

static void write_segment(seg *s, int v0, int v1) {
  static int serial;
  snprintf(s->path, 256, "/tmp/test_mp4build_%d_%d.mp4", (int)getpid(), serial++);
  vg_codec_params vp = video_params(), ap = audio_params();
  vp.width = video_width;
  vg_fmp4 *w;
  cr_assert_eq(vg_fmp4_new(&vp, &ap, &w), 0);
  FILE *f = fopen(s->path, "wb");
  cr_assert(f);
  vg_buf *init;
  cr_assert_eq(vg_fmp4_init_segment(w, &init), 0);
  append(f, init);
  /* Audio frame k starts at k*1024/48000 s; video frame i at i/15 s. */
  int a = (int)((int64_t)v0 * ATS / FPS / 1024);
  if ((int64_t)a * 1024 * FPS < (int64_t)v0 * ATS) a++;
  for (int i = v0; i < v1; i++) {
    if (i > v0 && i % GOP == 0) {
      vg_buf *frag;
      cr_assert_eq(vg_fmp4_fragment(w, &frag, NULL), 0);
      append(f, frag);
    }
    vg_frame fr = {VG_TRACK_VIDEO,
                   (int64_t)(i - v0) * (VTS / FPS) + video_cto,
                   (int64_t)(i - v0) * (VTS / FPS),
                   VTS / FPS,
                   T0 + (int64_t)i * 1000 / FPS,
                   i % GOP == 0,
                   payload(0, i)};
    cr_assert_eq(vg_fmp4_add(w, &fr), 0);
    vg_buf_unref(fr.data);
    /* The audio of this frame's interval. */
    while ((int64_t)a * 1024 * FPS < (int64_t)(i + 1) * ATS) {
      int64_t dts = (int64_t)a * 1024 - (int64_t)v0 * ATS / FPS;
      vg_frame au = {VG_TRACK_AUDIO, dts, dts, 1024, 0, true, payload(1, a)};
      cr_assert_eq(vg_fmp4_add(w, &au), 0);
      vg_buf_unref(au.data);
      a++;
    }
  }
  vg_buf *frag;
  cr_assert_eq(vg_fmp4_fragment(w, &frag, NULL), 0);
  append(f, frag);
  s->len = (size_t)ftell(f);
  fclose(f);
  vg_fmp4_free(w);
  s->start_ms = T0 + (int64_t)v0 * 1000 / FPS;
  s->end_ms = T0 + (int64_t)v1 * 1000 / FPS;
}

/* 30 s in three 10 s files. */
static seg segs[3];
static void setup_segments(void) {
  for (int i = 0; i < 3; i++) write_segment(&segs[i], i * SEG_S * FPS, (i + 1) * SEG_S * FPS);
}
static void remove_segments(void) {
  for (int i = 0; i < 3; i++) unlink(segs[i].path);
}

static vg_mp4build_input input(const seg *s) {
  return (vg_mp4build_input){s->path, s->start_ms, s->end_ms};
}

/* ---- reading the output back ---- */

static uint32_t rd32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

typedef struct parsed_track {
  uint32_t handler, timescale;
  size_t n;
  uint32_t *size, *dur;
  uint64_t *offset;
  size_t nsync;
  uint32_t *sync;
  uint32_t elst_n;
  int64_t empty_ms, edit_ms, media_time;
  uint64_t mdhd_dur;
} parsed_track;

typedef struct parsed {
  uint32_t mvhd_ts, mvhd_dur;
  int ntracks;
  parsed_track t[2];
} parsed;

static bool child(const vg_bmff_box *b, size_t skip, const char *type, vg_bmff_box *out) {
  return vg_bmff_find(b, skip, VG_FOURCC(type[0], type[1], type[2], type[3]), out) == 1;
}

static void parse_stbl(const vg_bmff_box *stbl, parsed_track *t) {
  vg_bmff_box x;
  cr_assert(child(stbl, 0, "stsz", &x));
  uint32_t fixed = rd32(x.body + 4);
  t->n = rd32(x.body + 8);
  t->size = calloc(t->n, 4);
  t->dur = calloc(t->n, 4);
  t->offset = calloc(t->n, 8);
  for (size_t i = 0; i < t->n; i++) t->size[i] = fixed ? fixed : rd32(x.body + 12 + 4 * i);
  cr_assert(child(stbl, 0, "stts", &x));
  size_t k = 0;
  for (uint32_t e = 0; e < rd32(x.body + 4); e++) {
    uint32_t c = rd32(x.body + 8 + 8 * e), d = rd32(x.body + 12 + 8 * e);
    for (uint32_t j = 0; j < c; j++) t->dur[k++] = d;
  }
  cr_assert_eq(k, t->n, "stts covers %zu of %zu samples", k, t->n);
  if (child(stbl, 0, "stss", &x)) {
    t->nsync = rd32(x.body + 4);
    t->sync = calloc(t->nsync, 4);
    for (size_t i = 0; i < t->nsync; i++) t->sync[i] = rd32(x.body + 8 + 4 * i);
  }
  /* Chunk offsets and the sample-to-chunk map give each sample's offset. */
  vg_bmff_box stco, stsc;
  bool co64 = child(stbl, 0, "co64", &stco);
  cr_assert(co64 || child(stbl, 0, "stco", &stco));
  cr_assert(child(stbl, 0, "stsc", &stsc));
  uint32_t nchunks = rd32(stco.body + 4), nstsc = rd32(stsc.body + 4);
  size_t s = 0;
  for (uint32_t c = 1; c <= nchunks; c++) {
    uint32_t per = 0;
    for (uint32_t e = 0; e < nstsc; e++)
      if (rd32(stsc.body + 8 + 12 * e) <= c) per = rd32(stsc.body + 12 + 12 * e);
    uint64_t off = co64 ? (uint64_t)rd32(stco.body + 8 + 8 * (c - 1)) << 32 |
                              rd32(stco.body + 12 + 8 * (c - 1))
                        : rd32(stco.body + 8 + 4 * (c - 1));
    for (uint32_t j = 0; j < per; j++) {
      cr_assert(s < t->n);
      t->offset[s] = off;
      off += t->size[s++];
    }
  }
  cr_assert_eq(s, t->n);
}

static void parse_output(const uint8_t *data, size_t len, parsed *p) {
  memset(p, 0, sizeof *p);
  vg_bmff_iter it;
  vg_bmff_box b, moov, x;
  vg_bmff_iter_init(&it, data, len);
  cr_assert_eq(vg_bmff_next(&it, &b), 1);
  cr_assert_eq(b.type, VG_FOURCC('f', 't', 'y', 'p'));
  cr_assert_eq(vg_bmff_next(&it, &moov), 1);
  cr_assert_eq(moov.type, VG_FOURCC('m', 'o', 'o', 'v'), "moov comes first");
  cr_assert_eq(vg_bmff_next(&it, &b), 1);
  cr_assert_eq(b.type, VG_FOURCC('m', 'd', 'a', 't'));
  cr_assert_eq(vg_bmff_next(&it, &b), 0, "nothing after the mdat");
  cr_assert(child(&moov, 0, "mvhd", &x));
  p->mvhd_ts = rd32(x.body + 12);
  p->mvhd_dur = rd32(x.body + 16);
  vg_bmff_iter ti;
  cr_assert_eq(vg_bmff_iter_children(&ti, &moov, 0), 0);
  while (vg_bmff_next(&ti, &b) == 1) {
    if (b.type != VG_FOURCC('t', 'r', 'a', 'k')) continue;
    parsed_track *t = &p->t[p->ntracks++];
    vg_bmff_box edts, elst, mdia, minf, stbl;
    cr_assert(child(&b, 0, "edts", &edts));
    cr_assert(child(&edts, 0, "elst", &elst));
    cr_assert_eq(elst.body[0], 0);
    t->elst_n = rd32(elst.body + 4);
    const uint8_t *e = elst.body + 8;
    if (t->elst_n == 2) {
      cr_assert_eq(rd32(e + 4), UINT32_MAX, "the first of two edits is empty");
      t->empty_ms = rd32(e);
      e += 12;
    }
    t->edit_ms = rd32(e);
    t->media_time = (int32_t)rd32(e + 4);
    cr_assert(child(&b, 0, "mdia", &mdia));
    cr_assert(child(&mdia, 0, "mdhd", &x));
    t->timescale = rd32(x.body + 12);
    t->mdhd_dur = rd32(x.body + 16);
    cr_assert(child(&mdia, 0, "hdlr", &x));
    t->handler = rd32(x.body + 8);
    cr_assert(child(&mdia, 0, "minf", &minf));
    cr_assert(child(&minf, 0, "stbl", &stbl));
    parse_stbl(&stbl, t);
  }
}

static void parsed_free(parsed *p) {
  for (int i = 0; i < p->ntracks; i++) {
    free(p->t[i].size);
    free(p->t[i].dur);
    free(p->t[i].offset);
    free(p->t[i].sync);
  }
}

static uint8_t *read_all(vg_mp4build *b, size_t *len) {
  *len = (size_t)vg_mp4build_size(b);
  uint8_t *d = malloc(*len);
  size_t got;
  cr_assert_eq(vg_mp4build_read(b, 0, d, *len, &got), 0);
  cr_assert_eq(got, *len);
  return d;
}

/* Every sample's bytes are those of the frame its first bytes name, and
 * the frames follow each other from first on. Returns the first index. */
static int check_samples(const uint8_t *data, const parsed_track *t, int track) {
  int first = -1;
  for (size_t i = 0; i < t->n; i++) {
    const uint8_t *s = data + t->offset[i];
    cr_assert_eq(s[0], track);
    int idx = payload_index(s);
    if (first < 0) first = idx;
    cr_assert_eq(idx, first + (int)i, "sample %zu is frame %d", i, idx);
    vg_buf *want = payload(track, idx);
    cr_assert_eq(t->size[i], want->len);
    cr_assert(memcmp(s, want->data, want->len) == 0, "bytes of sample %zu", i);
    vg_buf_unref(want);
  }
  return first;
}

/* ---- tests ---- */

TestSuite(mp4build, .init = setup_segments, .fini = remove_segments);

Test(mp4build, whole_recording) {
  vg_mp4build_input in[3] = {input(&segs[0]), input(&segs[1]), input(&segs[2])};
  vg_mp4build_span span = {T0, T0 + 30000};
  vg_mp4build *b;
  cr_assert_eq(vg_mp4build_open(in, 3, &span, 1, &b), 0);
  cr_assert_float_eq(vg_mp4build_duration(b), 30.0, 0.001);
  size_t ngaps;
  vg_mp4build_gaps(b, &ngaps);
  cr_assert_eq(ngaps, 0);
  size_t len;
  uint8_t *data = read_all(b, &len);
  parsed p;
  parse_output(data, len, &p);
  cr_assert_eq(p.mvhd_ts, 1000);
  cr_assert_eq(p.mvhd_dur, 30000);
  cr_assert_eq(p.ntracks, 2);
  parsed_track *v = &p.t[0], *a = &p.t[1];
  cr_assert_eq(v->handler, VG_FOURCC('v', 'i', 'd', 'e'));
  cr_assert_eq(v->n, 30 * FPS);
  for (size_t i = 0; i < v->n; i++) cr_assert_eq(v->dur[i], VTS / FPS);
  cr_assert_eq(v->nsync, 30);
  for (size_t i = 0; i < v->nsync; i++) cr_assert_eq(v->sync[i], 1 + i * GOP);
  cr_assert_eq(v->elst_n, 1);
  cr_assert_eq(v->media_time, 0);
  cr_assert_eq(v->edit_ms, 30000);
  cr_assert_eq(check_samples(data, v, 0), 0);
  cr_assert_eq(a->handler, VG_FOURCC('s', 'o', 'u', 'n'));
  cr_assert_eq(a->timescale, ATS);
  cr_assert_eq(a->n, (size_t)(30 * ATS + 1023) / 1024);
  cr_assert_eq(check_samples(data, a, 1), 0);
  parsed_free(&p);
  free(data);
  vg_mp4build_free(b);
}

Test(mp4build, span_starts_on_the_frame) {
  vg_mp4build_input in[3] = {input(&segs[0]), input(&segs[1]), input(&segs[2])};
  vg_mp4build_span span = {T0 + 7300, T0 + 12800};
  vg_mp4build *b;
  cr_assert_eq(vg_mp4build_open(in, 3, &span, 1, &b), 0);
  /* Output time 0 is frame 109 (7.2667 s), the one on screen at 7.3 s: a
   * demuxer starts a video track at a whole frame, so the sound starts
   * there too. */
  cr_assert_float_eq(vg_mp4build_duration(b), 5.5 + (7.3 - 109.0 / FPS), 0.001);
  size_t len;
  uint8_t *data = read_all(b, &len);
  parsed p;
  parse_output(data, len, &p);
  parsed_track *v = &p.t[0], *a = &p.t[1];
  /* Begins at the keyframe of 7.0 s; the edit hides frames 105..108. */
  cr_assert_eq(check_samples(data, v, 0), 7 * FPS);
  cr_assert_eq(v->sync[0], 1);
  cr_assert_eq(v->n, 192 - 105, "frames 105..191 (12.8 s is frame 192, outside)");
  cr_assert_eq(v->media_time, 4 * (VTS / FPS));
  cr_assert_eq(v->edit_ms, 5533);
  cr_assert_eq(v->mdhd_dur, (uint64_t)v->n * (VTS / FPS));
  /* Audio: the frame under 109/15 s first, trimmed to the same instant. */
  int a0 = check_samples(data, a, 1);
  cr_assert_eq(a0, 109 * ATS / FPS / 1024);
  cr_assert_eq(a->media_time, 109 * ATS / FPS - a0 * 1024);
  cr_assert_eq(a->edit_ms, 5533);
  parsed_free(&p);
  free(data);
  vg_mp4build_free(b);
}

Test(mp4build, pause_is_left_out) {
  vg_mp4build_input in[3] = {input(&segs[0]), input(&segs[1]), input(&segs[2])};
  vg_mp4build_span spans[2] = {{T0, T0 + 10000}, {T0 + 13000, T0 + 30000}};
  vg_mp4build *b;
  cr_assert_eq(vg_mp4build_open(in, 3, spans, 2, &b), 0);
  cr_assert_float_eq(vg_mp4build_duration(b), 27.0, 0.001);
  size_t len;
  uint8_t *data = read_all(b, &len);
  parsed p;
  parse_output(data, len, &p);
  parsed_track *v = &p.t[0];
  cr_assert_eq(v->n, 27 * FPS);
  /* No frame of the pause: 149 is followed by 195. */
  size_t k = 10 * FPS;
  cr_assert_eq(payload_index(data + v->offset[k - 1]), 149);
  cr_assert_eq(payload_index(data + v->offset[k]), 195);
  for (size_t i = 0; i < v->n; i++) cr_assert_eq(v->dur[i], VTS / FPS, "no hole: sample %zu", i);
  parsed_free(&p);
  free(data);
  vg_mp4build_free(b);
}

Test(mp4build, camera_drop_is_a_gap) {
  /* The middle file is missing: 10 s to 20 s has no frames. */
  vg_mp4build_input in[2] = {input(&segs[0]), input(&segs[2])};
  vg_mp4build_span span = {T0, T0 + 30000};
  vg_mp4build *b;
  cr_assert_eq(vg_mp4build_open(in, 2, &span, 1, &b), 0);
  size_t ngaps;
  const vg_mp4build_gap *g = vg_mp4build_gaps(b, &ngaps);
  cr_assert_eq(ngaps, 1);
  cr_assert_float_eq(g[0].start_s, 10.0, 0.001);
  cr_assert_float_eq(g[0].end_s, 20.0, 0.001);
  cr_assert_float_eq(vg_mp4build_duration(b), 30.0, 0.001);
  size_t len;
  uint8_t *data = read_all(b, &len);
  parsed p;
  parse_output(data, len, &p);
  parsed_track *v = &p.t[0];
  cr_assert_eq(v->n, 20 * FPS);
  /* True timestamps: the last frame before the hole lasts until 20 s. */
  cr_assert_eq(v->dur[149], (uint32_t)(VTS * 10 + VTS / FPS));
  parsed_free(&p);
  free(data);
  vg_mp4build_free(b);
}

Test(mp4build, crash_cut_segment_ends_at_its_last_fragment) {
  /* Cut the last file in the middle of its last fragment. */
  seg cut = segs[2];
  snprintf(cut.path, sizeof cut.path, "%.256s.cut", segs[2].path);
  FILE *f = fopen(segs[2].path, "rb");
  uint8_t *buf = malloc(segs[2].len);
  cr_assert_eq(fread(buf, 1, segs[2].len, f), segs[2].len);
  fclose(f);
  f = fopen(cut.path, "wb");
  fwrite(buf, 1, segs[2].len - 500, f);
  fclose(f);
  free(buf);
  vg_mp4build_input in[3] = {input(&segs[0]), input(&segs[1]), input(&cut)};
  vg_mp4build_span span = {T0, T0 + 30000};
  vg_mp4build *b;
  cr_assert_eq(vg_mp4build_open(in, 3, &span, 1, &b), 0);
  cr_assert_float_eq(vg_mp4build_duration(b), 29.0, 0.05, "the last GOP is gone: %f",
                     vg_mp4build_duration(b));
  size_t len;
  uint8_t *data = read_all(b, &len);
  parsed p;
  parse_output(data, len, &p);
  cr_assert_eq(p.t[0].n, 29 * FPS);
  check_samples(data, &p.t[0], 0);
  parsed_free(&p);
  free(data);
  vg_mp4build_free(b);
  unlink(cut.path);
}

Test(mp4build, ranges_equal_the_whole) {
  vg_mp4build_input in[3] = {input(&segs[0]), input(&segs[1]), input(&segs[2])};
  vg_mp4build_span span = {T0 + 1234, T0 + 28765};
  vg_mp4build *b;
  cr_assert_eq(vg_mp4build_open(in, 3, &span, 1, &b), 0);
  size_t len;
  uint8_t *whole = read_all(b, &len);
  srand(7);
  uint8_t *part = malloc(len);
  for (int i = 0; i < 200; i++) {
    size_t off = (size_t)rand() % len;
    size_t n = (size_t)rand() % (i % 2 ? 100000 : 700);
    size_t got;
    cr_assert_eq(vg_mp4build_read(b, off, part, n, &got), 0);
    cr_assert_eq(got, n < len - off ? n : len - off);
    cr_assert(memcmp(part, whole + off, got) == 0, "range %zu+%zu", off, n);
  }
  size_t got = 1;
  cr_assert_eq(vg_mp4build_read(b, len, part, 10, &got), 0);
  cr_assert_eq(got, 0);
  free(part);
  free(whole);
  vg_mp4build_free(b);
}

/* Several threads reading one builder at once (a cached build serving
 * concurrent responses), with its open files closed now and then as a
 * finished response does: every range is still right. */
typedef struct reader_arg {
  vg_mp4build *b;
  const uint8_t *whole;
  size_t len;
  unsigned seed;
  int bad; /* ranges that came back wrong */
} reader_arg;

static void *reader_main(void *p) {
  reader_arg *r = p;
  uint8_t *part = malloc(200000);
  for (int i = 0; i < 300; i++) {
    size_t off = (size_t)rand_r(&r->seed) % r->len;
    size_t n = (size_t)rand_r(&r->seed) % 200000;
    size_t got = 0;
    if (vg_mp4build_read(r->b, off, part, n, &got) != 0 ||
        got != (n < r->len - off ? n : r->len - off) || memcmp(part, r->whole + off, got) != 0)
      r->bad++;
    if (i % 50 == 0) vg_mp4build_close_files(r->b);
  }
  free(part);
  return NULL;
}

Test(mp4build, threads_read_one_builder) {
  vg_mp4build_input in[3] = {input(&segs[0]), input(&segs[1]), input(&segs[2])};
  vg_mp4build_span span = {T0, T0 + 30000};
  vg_mp4build *b;
  cr_assert_eq(vg_mp4build_open(in, 3, &span, 1, &b), 0);
  size_t len;
  uint8_t *whole = read_all(b, &len);
  pthread_t th[4];
  reader_arg args[4];
  for (int i = 0; i < 4; i++) {
    args[i] = (reader_arg){b, whole, len, (unsigned)(11 + i), 0};
    cr_assert_eq(pthread_create(&th[i], NULL, reader_main, &args[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    cr_assert_eq(args[i].bad, 0, "reader %d: %d wrong ranges", i, args[i].bad);
  }
  free(whole);
  vg_mp4build_free(b);
}

Test(mp4build, nothing_in_the_spans) {
  vg_mp4build_input in[1] = {input(&segs[0])};
  vg_mp4build_span span = {T0 + 60000, T0 + 70000};
  vg_mp4build *b = NULL;
  cr_assert_eq(vg_mp4build_open(in, 1, &span, 1, &b), VG_ENOTFOUND);
  cr_assert_null(b);
  vg_mp4build_span bad = {T0 + 10, T0};
  cr_assert_eq(vg_mp4build_open(in, 1, &bad, 1, &b), VG_EINVAL);
  vg_mp4build_input missing = {"/nonexistent/x.mp4", T0, T0 + 10000};
  cr_assert_eq(vg_mp4build_open(&missing, 1, &span, 1, &b), VG_ENOTFOUND);
}

/* One second of video only: 15 frames of 1 MiB, one fragment, in memory. */
#define BIG_FRAME (1u << 20)
static vg_buf *big_frame(int idx) {
  vg_buf *b = vg_buf_new(BIG_FRAME);
  for (size_t i = 0; i < BIG_FRAME; i++) b->data[i] = (uint8_t)(idx * 31 + i);
  b->data[0] = 0;
  b->data[1] = 0;
  b->data[2] = (uint8_t)idx;
  return b;
}

static uint8_t *big_segment(size_t *len) {
  vg_codec_params vp = video_params();
  vg_fmp4 *w;
  cr_assert_eq(vg_fmp4_new(&vp, NULL, &w), 0);
  vg_buf *init, *frag;
  cr_assert_eq(vg_fmp4_init_segment(w, &init), 0);
  for (int i = 0; i < FPS; i++) {
    vg_frame fr = {
        VG_TRACK_VIDEO, (int64_t)i * (VTS / FPS), (int64_t)i * (VTS / FPS), VTS / FPS, 0, i == 0,
        big_frame(i)};
    cr_assert_eq(vg_fmp4_add(w, &fr), 0);
    vg_buf_unref(fr.data);
  }
  cr_assert_eq(vg_fmp4_fragment(w, &frag, NULL), 0);
  *len = init->len + frag->len;
  uint8_t *out = malloc(*len);
  memcpy(out, init->data, init->len);
  memcpy(out + init->len, frag->data, frag->len);
  vg_buf_unref(init);
  vg_buf_unref(frag);
  vg_fmp4_free(w);
  return out;
}

Test(mp4build, past_4_gib_uses_co64) {
  /* 300 one-second segments of 15 MiB: a 4.4 GiB file, built over the
   * same bytes in memory (the offsets are what is tested, not the disk). */
  size_t len;
  uint8_t *file = big_segment(&len);
  size_t n = 300;
  vg_mp4build_mem *m = calloc(n, sizeof *m);
  for (size_t i = 0; i < n; i++)
    m[i] = (vg_mp4build_mem){file, len, T0 + (int64_t)i * 1000, T0 + (int64_t)(i + 1) * 1000};
  vg_mp4build_span span = {T0, T0 + (int64_t)n * 1000};
  vg_mp4build *b;
  cr_assert_eq(vg_mp4build_open_mem(m, n, &span, 1, &b), 0);
  uint64_t size = vg_mp4build_size(b);
  cr_assert_gt(size, 4ull << 30);
  cr_assert_float_eq(vg_mp4build_duration(b), (double)n, 0.001);
  size_t hl = (size_t)vg_mp4build_header_size(b), got;
  uint8_t *hdr = malloc(hl);
  cr_assert_eq(vg_mp4build_read(b, 0, hdr, hl, &got), 0);
  cr_assert_eq(got, hl);
  cr_assert_null(memmem(hdr, hl, "stco", 4), "32-bit offsets cannot reach past 4 GiB");
  const uint8_t *co = memmem(hdr, hl, "co64", 4);
  cr_assert_not_null(co, "64-bit chunk offsets");
  cr_assert_eq(rd32(co + 8), n, "a chunk per fragment");
  /* The mdat's 64-bit size, and the last chunk past 4 GiB starting with
   * frame 0 of the last second. */
  cr_assert_eq(memcmp(hdr + hl - 16, "\0\0\0\1mdat", 8), 0, "largesize mdat header");
  const uint8_t *last = co + 12 + 8 * (n - 1);
  uint64_t off = (uint64_t)rd32(last) << 32 | rd32(last + 4);
  cr_assert_gt(off, 4ull << 30);
  cr_assert_eq(off, size - (uint64_t)FPS * BIG_FRAME);
  uint8_t head[3];
  cr_assert_eq(vg_mp4build_read(b, off, head, 3, &got), 0);
  cr_assert(got == 3 && head[0] == 0 && head[1] == 0 && head[2] == 0);
  /* The file's last bytes are the last frame's. */
  uint8_t tail[256];
  cr_assert_eq(vg_mp4build_read(b, size - sizeof tail, tail, sizeof tail, &got), 0);
  cr_assert_eq(got, sizeof tail);
  vg_buf *want = big_frame(FPS - 1);
  cr_assert(memcmp(tail, want->data + BIG_FRAME - sizeof tail, sizeof tail) == 0);
  vg_buf_unref(want);
  free(hdr);
  vg_mp4build_free(b);
  free(m);
  free(file);
}

Test(mp4build, a_keyframe_shown_after_the_start_waits_in_an_empty_edit) {
  /* Frames shown two frames after they are decoded: asked from 7.1 s, the
   * keyframe decoded at 7.0 s is shown at 7.133 s and no kept frame is on
   * screen before. The video must not be pulled to 0 (a player would show
   * it ahead of the sound): an empty edit until 7.133 s, then the media
   * from the keyframe's composition time. */
  seg bf;
  video_cto = 2 * (VTS / FPS);
  write_segment(&bf, 0, SEG_S * FPS);
  video_cto = 0;
  vg_mp4build_input in = input(&bf);
  vg_mp4build_span span = {T0 + 7100, T0 + 9000};
  vg_mp4build *b;
  cr_assert_eq(vg_mp4build_open(&in, 1, &span, 1, &b), 0);
  size_t len;
  uint8_t *data = read_all(b, &len);
  parsed p;
  parse_output(data, len, &p);
  parsed_track *v = &p.t[0], *a = &p.t[1];
  cr_assert_eq(check_samples(data, v, 0), 105, "starts at the keyframe decoded at 7.0 s");
  cr_assert_eq(v->empty_ms, 33, "shown from 7.133 s: %lld", (long long)v->empty_ms);
  cr_assert_eq(v->media_time, 2 * (VTS / FPS), "the keyframe's composition time");
  /* The sound starts at the requested 7.1 s itself. */
  int a0 = check_samples(data, a, 1);
  cr_assert_eq(a0, 7100 * ATS / 1000 / 1024);
  cr_assert_eq(a->empty_ms, 0);
  cr_assert_eq(a->media_time, 7100 * ATS / 1000 - a0 * 1024);
  parsed_free(&p);
  free(data);
  vg_mp4build_free(b);
  unlink(bf.path);
}

Test(mp4build, new_camera_settings_add_a_sample_entry) {
  /* 10 s more at another size after the 30 s: a second avc1 entry, and the
   * chunks of the new file point at it. */
  seg more;
  video_width = 1280;
  write_segment(&more, 30 * FPS, 40 * FPS);
  video_width = 640;
  vg_mp4build_input in[4] = {input(&segs[0]), input(&segs[1]), input(&segs[2]), input(&more)};
  vg_mp4build_span span = {T0 + 25000, T0 + 35000};
  vg_mp4build *b;
  cr_assert_eq(vg_mp4build_open(in, 4, &span, 1, &b), 0);
  size_t len;
  uint8_t *data = read_all(b, &len);
  parsed p;
  parse_output(data, len, &p);
  cr_assert_eq(p.t[0].n, 10 * FPS);
  cr_assert_eq(check_samples(data, &p.t[0], 0), 25 * FPS);
  /* stsd: two entries; stsc: the first chunks use entry 1, the rest 2. */
  const uint8_t *stsd = memmem(data, len, "stsd", 4);
  cr_assert_not_null(stsd);
  cr_assert_eq(rd32(stsd + 8), 2, "two sample entries");
  const uint8_t *stsc = memmem(data, len, "stsc", 4);
  cr_assert_not_null(stsc);
  uint32_t n = rd32(stsc + 8);
  cr_assert_geq(n, 2);
  cr_assert_eq(rd32(stsc + 12 + 8), 1, "the first chunk: entry 1");
  cr_assert_eq(rd32(stsc + 12 + 12 * (n - 1) + 8), 2, "the last chunks: entry 2");
  parsed_free(&p);
  free(data);
  vg_mp4build_free(b);
  unlink(more.path);
}
