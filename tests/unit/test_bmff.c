/* test_bmff.c - the bounded ISO-BMFF reader and the fragment scan.
 *
 * Boxes are built by hand where a test needs a specific shape (largesize,
 * size 0, defaults in tfhd/trex, broken sizes); whole files come from the
 * fMP4 writer with synthetic payloads, since the scan does not look inside
 * samples. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "media/bmff.h"
#include "media/fmp4.h"

typedef struct bb {
  uint8_t d[8192];
  size_t n;
} bb;

static void u8(bb *b, uint8_t v) {
  cr_assert(b->n < sizeof b->d);
  b->d[b->n++] = v;
}

static void u32(bb *b, uint32_t v) {
  for (int i = 3; i >= 0; i--) u8(b, (uint8_t)(v >> (8 * i)));
}

static void u64(bb *b, uint64_t v) {
  u32(b, (uint32_t)(v >> 32));
  u32(b, (uint32_t)v);
}

static void cc(bb *b, const char *t) {
  for (int i = 0; i < 4; i++) u8(b, (uint8_t)t[i]);
}

static size_t open_box(bb *b, const char *type) {
  size_t at = b->n;
  u32(b, 0);
  cc(b, type);
  return at;
}

static void close_box(bb *b, size_t at) {
  uint32_t size = (uint32_t)(b->n - at);
  for (int i = 0; i < 4; i++) b->d[at + i] = (uint8_t)(size >> (24 - 8 * i));
}

Test(bmff, iterates_sizes_largesize_and_to_end) {
  bb b = {.n = 0};
  size_t a = open_box(&b, "ftyp");
  cc(&b, "iso6");
  close_box(&b, a);
  u32(&b, 1); /* largesize */
  cc(&b, "free");
  u64(&b, 16 + 3);
  u8(&b, 1), u8(&b, 2), u8(&b, 3);
  u32(&b, 0); /* to the end */
  cc(&b, "mdat");
  u8(&b, 9), u8(&b, 9);

  vg_bmff_iter it;
  vg_bmff_box x;
  vg_bmff_iter_init(&it, b.d, b.n);
  cr_assert_eq(vg_bmff_next(&it, &x), 1);
  cr_expect_eq(x.type, VG_FOURCC('f', 't', 'y', 'p'));
  cr_expect_eq(x.size, 12);
  cr_expect_eq(x.body_len, 4);
  cr_assert_eq(vg_bmff_next(&it, &x), 1);
  cr_expect_eq(x.type, VG_FOURCC('f', 'r', 'e', 'e'));
  cr_expect_eq(x.offset, 12);
  cr_expect_eq(x.header, 16);
  cr_expect_eq(x.body_len, 3);
  cr_expect_eq(x.body[2], 3);
  cr_assert_eq(vg_bmff_next(&it, &x), 1);
  cr_expect_eq(x.type, VG_FOURCC('m', 'd', 'a', 't'));
  cr_expect_eq(x.size, 10);
  cr_expect_eq(x.body_len, 2);
  cr_expect_eq(vg_bmff_next(&it, &x), 0);
  cr_expect_eq(vg_bmff_next(&it, &x), 0);
}

Test(bmff, distrusts_sizes) {
  vg_bmff_iter it;
  vg_bmff_box x;
  /* Size below the header. */
  static const uint8_t small[] = {0, 0, 0, 7, 'f', 'r', 'e', 'e'};
  vg_bmff_iter_init(&it, small, sizeof small);
  cr_expect_eq(vg_bmff_next(&it, &x), VG_EINVAL);
  /* Largesize below 16. */
  static const uint8_t large[] = {0, 0, 0, 1, 'f', 'r', 'e', 'e', 0, 0, 0, 0, 0, 0, 0, 15};
  vg_bmff_iter_init(&it, large, sizeof large);
  cr_expect_eq(vg_bmff_next(&it, &x), VG_EINVAL);
  /* Largesize that would wrap a 64-bit offset. */
  static const uint8_t huge[] = {0,    0,    0,    1,    'm',  'd',  'a',  't',
                                 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf0};
  vg_bmff_iter_init(&it, huge, sizeof huge);
  cr_expect_eq(vg_bmff_next(&it, &x), VG_EAGAIN);
  cr_expect_eq(x.type, VG_FOURCC('m', 'd', 'a', 't'), "header still reported");
  /* Past the end, and a header cut short. */
  static const uint8_t past[] = {0, 0, 0, 9, 'm', 'o', 'o', 'f'};
  vg_bmff_iter_init(&it, past, sizeof past);
  cr_expect_eq(vg_bmff_next(&it, &x), VG_EAGAIN);
  cr_expect_eq(x.size, 9);
  vg_bmff_iter_init(&it, past, 5);
  cr_expect_eq(vg_bmff_next(&it, &x), VG_EAGAIN);
  /* A child larger than its parent stays inside the parent's range. */
  bb b = {.n = 0};
  size_t a = open_box(&b, "moov");
  u32(&b, 100);
  cc(&b, "trak");
  close_box(&b, a);
  u32(&b, 0);
  u32(&b, 0); /* bytes after moov that the child must not reach */
  vg_bmff_iter_init(&it, b.d, b.n);
  cr_assert_eq(vg_bmff_next(&it, &x), 1);
  vg_bmff_iter child;
  cr_assert_eq(vg_bmff_iter_children(&child, &x, 0), 0);
  vg_bmff_box y;
  cr_expect_eq(vg_bmff_next(&child, &y), VG_EAGAIN);
  cr_expect_eq(vg_bmff_iter_children(&child, &x, x.body_len + 1), VG_EINVAL);
}

Test(bmff, depth_is_bounded) {
  bb b = {.n = 0};
  size_t at[20];
  for (int i = 0; i < 20; i++) at[i] = open_box(&b, "dinf");
  for (int i = 19; i >= 0; i--) close_box(&b, at[i]);
  vg_bmff_iter it;
  vg_bmff_box x;
  vg_bmff_iter_init(&it, b.d, b.n);
  cr_assert_eq(vg_bmff_next(&it, &x), 1);
  int depth = 0, rc;
  while ((rc = vg_bmff_iter_children(&it, &x, 0)) == 0) {
    cr_assert_eq(vg_bmff_next(&it, &x), 1);
    depth++;
  }
  cr_expect_eq(rc, VG_ETOOBIG);
  cr_expect_eq(depth, VG_BMFF_MAX_DEPTH);
  cr_expect_eq(x.depth, VG_BMFF_MAX_DEPTH);
}

Test(bmff, find_child) {
  bb b = {.n = 0};
  size_t a = open_box(&b, "traf");
  size_t c = open_box(&b, "tfhd");
  close_box(&b, c);
  c = open_box(&b, "trun");
  u32(&b, 42);
  close_box(&b, c);
  close_box(&b, a);
  vg_bmff_iter it;
  vg_bmff_box x, y;
  vg_bmff_iter_init(&it, b.d, b.n);
  cr_assert_eq(vg_bmff_next(&it, &x), 1);
  cr_assert_eq(vg_bmff_find(&x, 0, VG_FOURCC('t', 'r', 'u', 'n'), &y), 1);
  cr_expect_eq(y.body[3], 42);
  cr_expect_eq(vg_bmff_find(&x, 0, VG_FOURCC('t', 'f', 'd', 't'), &y), 0);
}

/* ---- scan ---- */

static vg_codec_params fake_video(void) {
  vg_codec_params p = {.codec = VG_CODEC_H264,
                       .timescale = 90000,
                       .width = 64,
                       .height = 48,
                       .fps_num = 25,
                       .fps_den = 1};
  static const uint8_t avcc[] = {1, 0x42, 0xc0, 0x0d, 0xff, 0xe1, 0, 2, 0x67, 0x42, 1, 0, 1, 0x68};
  memcpy(p.extradata, avcc, sizeof avcc);
  p.extradata_len = sizeof avcc;
  return p;
}

static vg_codec_params fake_audio(void) {
  vg_codec_params p = {.codec = VG_CODEC_AAC,
                       .timescale = 48000,
                       .sample_rate = 48000,
                       .channels = 2,
                       .extradata = {0x11, 0x90},
                       .extradata_len = 2};
  return p;
}

typedef struct file {
  uint8_t *d;
  size_t len;
  size_t init_end;
  size_t ends[64];
  size_t nfrag;
} file;

static void append(file *f, vg_buf *b) {
  f->d = realloc(f->d, f->len + b->len);
  memcpy(f->d + f->len, b->data, b->len);
  f->len += b->len;
  vg_buf_unref(b);
}

/* nfrag fragments of 10 video frames (keyframe first) and 12 audio frames
 * of varied payload sizes. */
static void make_file(file *f, int nfrag) {
  memset(f, 0, sizeof *f);
  vg_codec_params v = fake_video(), a = fake_audio();
  vg_fmp4 *w;
  cr_assert_eq(vg_fmp4_new(&v, &a, &w), 0);
  vg_buf *b;
  cr_assert_eq(vg_fmp4_init_segment(w, &b), 0);
  append(f, b);
  f->init_end = f->len;
  int64_t vd = 0, ad = 0;
  for (int k = 0; k < nfrag; k++) {
    for (int i = 0; i < 10; i++, vd += 3600) {
      vg_frame fr = {.track = VG_TRACK_VIDEO, .pts = vd, .dts = vd, .keyframe = i == 0};
      fr.data = vg_buf_new((size_t)(50 + 7 * i + k));
      memset(fr.data->data, i, fr.data->len);
      cr_assert_eq(vg_fmp4_add(w, &fr), 0);
      vg_buf_unref(fr.data);
    }
    for (int i = 0; i < 12; i++, ad += 1024) {
      vg_frame fr = {.track = VG_TRACK_AUDIO, .pts = ad, .dts = ad, .duration = 1024};
      fr.data = vg_buf_new((size_t)(20 + i));
      memset(fr.data->data, 0xa0 + i, fr.data->len);
      cr_assert_eq(vg_fmp4_add(w, &fr), 0);
      vg_buf_unref(fr.data);
    }
    cr_assert_eq(vg_fmp4_fragment(w, &b, NULL), 0);
    append(f, b);
    f->ends[f->nfrag++] = f->len;
  }
  vg_fmp4_free(w);
}

Test(scan, whole_file) {
  file f;
  make_file(&f, 3);
  vg_bmff_scan_result r;
  cr_assert_eq(vg_bmff_scan(f.d, f.len, &r), 0);
  cr_expect(r.has_init);
  cr_expect_eq(r.init_end, f.init_end);
  cr_expect_eq(r.fragments, 3);
  cr_expect_eq(r.complete_end, f.len);
  cr_expect_eq(r.stop, VG_BMFF_END);
  cr_expect_eq(r.first_sequence, 1);
  cr_expect_eq(r.last_sequence, 3);
  cr_expect(r.sequence_ok);
  cr_assert_eq(r.ntracks, 2);
  const vg_bmff_track *v = vg_bmff_scan_track(&r, 1), *a = vg_bmff_scan_track(&r, 2);
  cr_assert(v && a);
  cr_expect_eq(v->handler, VG_FOURCC('v', 'i', 'd', 'e'));
  cr_expect_eq(v->timescale, 90000);
  cr_expect_eq(v->samples, 30);
  cr_expect_eq(v->duration, 30 * 3600);
  cr_expect_eq(v->first_tfdt, 0);
  cr_expect_eq(v->last_tfdt, 20 * 3600);
  cr_expect_eq(v->fragments, 3);
  cr_expect_eq(v->gaps, 0);
  cr_expect_eq(a->handler, VG_FOURCC('s', 'o', 'u', 'n'));
  cr_expect_eq(a->timescale, 48000);
  cr_expect_eq(a->samples, 36);
  cr_expect_eq(a->duration, 36 * 1024);
  cr_expect_eq(a->last_tfdt, 24 * 1024);
  cr_expect_eq(a->gaps, 0);
  free(f.d);
}

/* Every possible crash point: the scan never reads past the cut and
 * reports exactly the fragments that were complete before it. */
Test(scan, every_truncation) {
  file f;
  make_file(&f, 3);
  size_t ftyp_end = f.d[3];
  for (size_t cut = 0; cut <= f.len; cut++) {
    uint8_t *copy = malloc(cut ? cut : 1); /* ASan sees any read past cut */
    memcpy(copy, f.d, cut);
    vg_bmff_scan_result r;
    cr_assert_eq(vg_bmff_scan(copy, cut, &r), 0);
    size_t want_frags = 0, want_end = cut >= f.init_end ? f.init_end : 0;
    for (size_t i = 0; i < f.nfrag; i++) {
      if (f.ends[i] <= cut) {
        want_frags = i + 1;
        want_end = f.ends[i];
      }
    }
    cr_assert_eq(r.has_init, cut >= f.init_end, "cut %zu", cut);
    cr_assert_eq(r.fragments, want_frags, "cut %zu", cut);
    cr_assert_eq(r.complete_end, want_end, "cut %zu", cut);
    /* The walk ends cleanly only on a box boundary outside a fragment. */
    bool boundary = cut == want_end || cut == ftyp_end;
    cr_assert_eq(r.stop, boundary ? VG_BMFF_END : VG_BMFF_TRUNCATED, "cut %zu", cut);
    if (want_frags) cr_assert_eq(vg_bmff_scan_track(&r, 1)->samples, 10 * want_frags);
    free(copy);
  }
  free(f.d);
}

static size_t find_type(const uint8_t *d, size_t len, size_t from, const char *type) {
  for (size_t i = from; i + 4 <= len; i++) {
    if (memcmp(d + i, type, 4) == 0) return i - 4; /* the box starts at its size */
  }
  cr_assert_fail("no %s", type);
  return 0;
}

Test(scan, trun_outside_mdat_is_malformed) {
  file f;
  make_file(&f, 3);
  /* Point the second fragment's first trun far past its mdat. */
  size_t trun = find_type(f.d, f.len, f.ends[0], "trun");
  f.d[trun + 16] = 0x7f;
  vg_bmff_scan_result r;
  cr_assert_eq(vg_bmff_scan(f.d, f.len, &r), 0);
  cr_expect_eq(r.fragments, 1);
  cr_expect_eq(r.complete_end, f.ends[0]);
  cr_expect_eq(r.stop, VG_BMFF_MALFORMED);
  cr_expect_eq(r.stop_offset, f.ends[0]);
  free(f.d);
}

Test(scan, moof_without_mdat_is_malformed) {
  file f;
  make_file(&f, 2);
  size_t mdat = find_type(f.d, f.len, f.ends[0], "mdat");
  memcpy(f.d + mdat + 4, "free", 4);
  vg_bmff_scan_result r;
  cr_assert_eq(vg_bmff_scan(f.d, f.len, &r), 0);
  cr_expect_eq(r.fragments, 1);
  cr_expect_eq(r.stop, VG_BMFF_MALFORMED);
  free(f.d);
}

Test(scan, no_init_and_garbage) {
  vg_bmff_scan_result r;
  cr_assert_eq(vg_bmff_scan(NULL, 0, &r), 0);
  cr_expect_not(r.has_init);
  cr_expect_eq(r.complete_end, 0);
  cr_expect_eq(r.stop, VG_BMFF_END);
  static const uint8_t junk[] = "this is not an mp4 file at all";
  cr_assert_eq(vg_bmff_scan(junk, sizeof junk, &r), 0);
  cr_expect_not(r.has_init);
  cr_expect_eq(r.fragments, 0);
  cr_expect_neq(r.stop, VG_BMFF_END);
  cr_expect_eq(vg_bmff_scan(junk, sizeof junk, NULL), VG_EINVAL);
  /* A moov without ftyp is not an init segment. */
  file f;
  make_file(&f, 1);
  memcpy(f.d + 4, "free", 4);
  cr_assert_eq(vg_bmff_scan(f.d, f.len, &r), 0);
  cr_expect_not(r.has_init);
  cr_expect_eq(r.fragments, 1, "fragments still counted");
  free(f.d);
}

/* A hand-built fragment relying on tfhd and trex defaults, without
 * default-base-is-moof, with a 32-bit tfdt, after one with a gap. */
static void defaults_fragment(bb *b, uint32_t seq, uint32_t tfdt, uint32_t count) {
  size_t moof = b->n;
  size_t m = open_box(b, "moof");
  size_t x = open_box(b, "mfhd");
  u32(b, 0);
  u32(b, seq);
  close_box(b, x);
  size_t traf = open_box(b, "traf");
  x = open_box(b, "tfhd");
  u32(b, 0x08); /* default-sample-duration present, size from trex */
  u32(b, 1);
  u32(b, 1000);
  close_box(b, x);
  x = open_box(b, "tfdt");
  u32(b, 0);
  u32(b, tfdt);
  close_box(b, x);
  x = open_box(b, "trun");
  u32(b, 0x01);
  u32(b, count);
  size_t off_at = b->n;
  u32(b, 0);
  close_box(b, x);
  close_box(b, traf);
  close_box(b, m);
  uint32_t off = (uint32_t)(b->n - moof + 8);
  for (int i = 0; i < 4; i++) b->d[off_at + i] = (uint8_t)(off >> (24 - 8 * i));
  x = open_box(b, "mdat");
  for (uint32_t i = 0; i < count * 10; i++) u8(b, (uint8_t)i);
  close_box(b, x);
}

Test(scan, defaults_and_gaps) {
  bb b = {.n = 0};
  size_t x = open_box(&b, "ftyp");
  cc(&b, "iso6");
  u32(&b, 0);
  close_box(&b, x);
  size_t moov = open_box(&b, "moov");
  size_t trak = open_box(&b, "trak");
  x = open_box(&b, "tkhd");
  u32(&b, 0);
  u32(&b, 0), u32(&b, 0); /* times */
  u32(&b, 1);             /* track_ID */
  close_box(&b, x);
  close_box(&b, trak);
  size_t mvex = open_box(&b, "mvex");
  x = open_box(&b, "trex");
  u32(&b, 0);
  u32(&b, 1), u32(&b, 1), u32(&b, 500), u32(&b, 10), u32(&b, 0);
  close_box(&b, x);
  close_box(&b, mvex);
  close_box(&b, moov);
  defaults_fragment(&b, 1, 0, 5);
  defaults_fragment(&b, 2, 5000, 3);  /* continuous: 5 x 1000 */
  defaults_fragment(&b, 2, 99999, 2); /* a gap, and a repeated sequence */
  vg_bmff_scan_result r;
  cr_assert_eq(vg_bmff_scan(b.d, b.n, &r), 0);
  cr_expect(r.has_init);
  cr_expect_eq(r.fragments, 3);
  cr_expect_eq(r.stop, VG_BMFF_END);
  cr_expect_not(r.sequence_ok);
  const vg_bmff_track *t = vg_bmff_scan_track(&r, 1);
  cr_assert(t);
  cr_expect_eq(t->samples, 10);
  cr_expect_eq(t->duration, 10 * 1000, "tfhd default duration beats trex");
  cr_expect_eq(t->first_tfdt, 0);
  cr_expect_eq(t->last_tfdt, 99999);
  cr_expect_eq(t->last_duration, 2000);
  cr_expect_eq(t->gaps, 1);
}
