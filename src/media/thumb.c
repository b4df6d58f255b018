/* thumb.c - keyframe pictures of segment files (see thumb.h).
 *
 * Box walking uses the bounded reader of bmff.c; sample tables are read
 * here with the same discipline: every field read is checked against its
 * box body, every file offset computed in 64 bits with overflow checks,
 * and a sample is only read when it lies inside the file. */
#include "media/thumb.h"

#include <errno.h>
#include <fcntl.h>
#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "media/bmff.h"

/* sample_is_non_sync_sample (ISO/IEC 14496-12 8.8.3.1). */
#define SAMPLE_NON_SYNC 0x00010000u
/* JPEG quality: qscale 3 (2 best .. 31 worst). */
#define JPEG_QSCALE 3

static uint32_t rd32(const uint8_t *p) { return vg_bmff_be32(p); }

typedef vg_bmff_rd rd;

/* ---- init segment ---- */

/* The sample entry of a video trak: codec and decoder configuration. */
static int parse_stsd(const vg_bmff_box *stsd, vg_thumb_track *t) {
  vg_bmff_iter it;
  vg_bmff_box e, cfg;
  if (vg_bmff_iter_children(&it, stsd, 8)) return VG_EINVAL;
  if (vg_bmff_next(&it, &e) != 1) return VG_EINVAL;
  uint32_t want;
  if (e.type == VG_FOURCC('a', 'v', 'c', '1') || e.type == VG_FOURCC('a', 'v', 'c', '3')) {
    t->codec = VG_CODEC_H264;
    want = VG_FOURCC('a', 'v', 'c', 'C');
  } else if (e.type == VG_FOURCC('h', 'v', 'c', '1') || e.type == VG_FOURCC('h', 'e', 'v', '1')) {
    t->codec = VG_CODEC_H265;
    want = VG_FOURCC('h', 'v', 'c', 'C');
  } else {
    return VG_ENOTFOUND;
  }
  /* VisualSampleEntry: 78 bytes of fixed fields before the child boxes. */
  if (vg_bmff_find(&e, 78, want, &cfg) != 1) return VG_EINVAL;
  if (cfg.body_len == 0 || cfg.body_len > sizeof t->extradata) return VG_EINVAL;
  memcpy(t->extradata, cfg.body, cfg.body_len);
  t->extradata_len = cfg.body_len;
  return 0;
}

static int parse_trak(const vg_bmff_box *trak, vg_thumb_track *t) {
  vg_bmff_box tkhd, mdia, hdlr, mdhd, minf, stbl, stsd;
  if (vg_bmff_find(trak, 0, VG_FOURCC('m', 'd', 'i', 'a'), &mdia) != 1) return VG_EINVAL;
  if (vg_bmff_find(&mdia, 0, VG_FOURCC('h', 'd', 'l', 'r'), &hdlr) != 1 || hdlr.body_len < 12)
    return VG_EINVAL;
  if (rd32(hdlr.body + 8) != VG_FOURCC('v', 'i', 'd', 'e')) return VG_ENOTFOUND;
  if (vg_bmff_find(trak, 0, VG_FOURCC('t', 'k', 'h', 'd'), &tkhd) != 1 || tkhd.body_len < 4)
    return VG_EINVAL;
  size_t id_off = tkhd.body[0] == 1 ? 20 : 12;
  if (tkhd.body_len < id_off + 4) return VG_EINVAL;
  t->track_id = rd32(tkhd.body + id_off);
  if (vg_bmff_find(&mdia, 0, VG_FOURCC('m', 'd', 'h', 'd'), &mdhd) != 1 || mdhd.body_len < 4)
    return VG_EINVAL;
  size_t ts_off = mdhd.body[0] == 1 ? 20 : 12;
  if (mdhd.body_len < ts_off + 4) return VG_EINVAL;
  t->timescale = rd32(mdhd.body + ts_off);
  if (t->timescale == 0) return VG_EINVAL;
  if (vg_bmff_find(&mdia, 0, VG_FOURCC('m', 'i', 'n', 'f'), &minf) != 1 ||
      vg_bmff_find(&minf, 0, VG_FOURCC('s', 't', 'b', 'l'), &stbl) != 1 ||
      vg_bmff_find(&stbl, 0, VG_FOURCC('s', 't', 's', 'd'), &stsd) != 1)
    return VG_EINVAL;
  return parse_stsd(&stsd, t);
}

int vg_thumb_parse_moov(const uint8_t *data, size_t len, vg_thumb_track *out) {
  if (!data || !out) return VG_EINVAL;
  memset(out, 0, sizeof *out);
  vg_bmff_iter it;
  vg_bmff_box moov, b;
  vg_bmff_iter_init(&it, data, len);
  if (vg_bmff_next(&it, &moov) != 1 || moov.type != VG_FOURCC('m', 'o', 'o', 'v')) return VG_EINVAL;
  int rc = vg_bmff_iter_children(&it, &moov, 0);
  if (rc) return VG_EINVAL;
  bool found = false;
  vg_bmff_box mvex = {0};
  bool has_mvex = false;
  while ((rc = vg_bmff_next(&it, &b)) == 1) {
    if (b.type == VG_FOURCC('t', 'r', 'a', 'k') && !found) {
      vg_thumb_track t;
      memset(&t, 0, sizeof t);
      int r = parse_trak(&b, &t);
      if (r == 0) {
        *out = t;
        found = true;
      } else if (r != VG_ENOTFOUND) {
        return VG_EINVAL;
      }
    } else if (b.type == VG_FOURCC('m', 'v', 'e', 'x')) {
      mvex = b;
      has_mvex = true;
    }
  }
  if (rc < 0) return VG_EINVAL;
  if (!found) return VG_ENOTFOUND;
  if (has_mvex) {
    vg_bmff_iter mi;
    if (vg_bmff_iter_children(&mi, &mvex, 0) == 0) {
      while (vg_bmff_next(&mi, &b) == 1) {
        if (b.type != VG_FOURCC('t', 'r', 'e', 'x') || b.body_len < 24) continue;
        if (rd32(b.body + 4) != out->track_id) continue;
        out->trex_duration = rd32(b.body + 12);
        out->trex_size = rd32(b.body + 16);
        out->trex_flags = rd32(b.body + 20);
      }
    }
  }
  return 0;
}

/* ---- fragments ---- */

typedef struct walk {
  const vg_thumb_track *t;
  uint64_t at;
  uint64_t *first_dts;
  vg_thumb_key *best;
  bool *past;
} walk;

/* Considers one sample: a keyframe at or before at replaces the pick; the
 * first keyframe seen is the pick while nothing better is known. */
static void consider(walk *w, uint64_t pts, uint64_t offset, uint32_t size, uint32_t flags) {
  uint64_t rel = pts >= *w->first_dts ? pts - *w->first_dts : 0;
  if (rel > w->at) *w->past = true;
  if (flags & SAMPLE_NON_SYNC) return;
  bool before = rel <= w->at;
  vg_thumb_key *b = w->best;
  uint64_t best_rel = b->found && b->pts >= *w->first_dts ? b->pts - *w->first_dts : 0;
  bool best_before = b->found && best_rel <= w->at;
  if (!b->found || (before && (!best_before || rel >= best_rel))) {
    b->found = true;
    b->pts = pts;
    b->offset = offset;
    b->size = size;
  }
}

static int parse_trun(walk *w, const vg_bmff_box *box, uint64_t base, uint64_t *pos, uint64_t *dts,
                      uint32_t def_dur, uint32_t def_size, uint32_t def_flags) {
  rd r = {box->body, box->body_len, 0, false};
  uint32_t vf = vg_bmff_rd_u32(&r);
  uint32_t flags = vf & 0xffffff;
  bool signed_cto = (vf >> 24) == 1;
  uint32_t count = vg_bmff_rd_u32(&r);
  if (flags & 0x1) {
    int32_t off = (int32_t)vg_bmff_rd_u32(&r);
    if (off < 0) {
      if ((uint64_t)(-(int64_t)off) > base) return VG_EINVAL;
      *pos = base - (uint64_t)(-(int64_t)off);
    } else if (__builtin_add_overflow(base, (uint64_t)off, pos)) {
      return VG_EINVAL;
    }
  }
  bool has_first = flags & 0x4;
  uint32_t first_flags = has_first ? vg_bmff_rd_u32(&r) : 0;
  if (r.err) return VG_EINVAL;
  size_t per = 0;
  for (uint32_t bit = 0x100; bit <= 0x800; bit <<= 1) per += (flags & bit) ? 4 : 0;
  if (per && count > (r.len - r.pos) / per) return VG_EINVAL;
  for (uint32_t i = 0; i < count; i++) {
    uint32_t d = (flags & 0x100) ? vg_bmff_rd_u32(&r) : def_dur;
    uint32_t z = (flags & 0x200) ? vg_bmff_rd_u32(&r) : def_size;
    uint32_t f =
        (flags & 0x400) ? vg_bmff_rd_u32(&r) : (i == 0 && has_first ? first_flags : def_flags);
    int64_t cto = 0;
    if (flags & 0x800) {
      uint32_t c = vg_bmff_rd_u32(&r);
      cto = signed_cto ? (int64_t)(int32_t)c : (int64_t)c;
    }
    if (r.err) return VG_EINVAL;
    /* Presentation time: with B-frames a keyframe shows later than it
     * decodes, and the times a user asks for are presentation times. */
    uint64_t pts = *dts;
    if (cto < 0)
      pts = (uint64_t)-cto > pts ? 0 : pts - (uint64_t)-cto;
    else if (__builtin_add_overflow(pts, (uint64_t)cto, &pts))
      return VG_EINVAL;
    if (*w->first_dts == UINT64_MAX) *w->first_dts = pts;
    consider(w, pts, *pos, z, f);
    if (__builtin_add_overflow(*pos, (uint64_t)z, pos) ||
        __builtin_add_overflow(*dts, (uint64_t)d, dts))
      return VG_EINVAL;
  }
  return 0;
}

static int parse_traf(walk *w, const vg_bmff_box *traf, uint64_t moof_offset) {
  vg_bmff_box tfhd, b;
  if (vg_bmff_find(traf, 0, VG_FOURCC('t', 'f', 'h', 'd'), &tfhd) != 1) return VG_EINVAL;
  rd r = {tfhd.body, tfhd.body_len, 0, false};
  uint32_t flags = vg_bmff_rd_u32(&r) & 0xffffff;
  uint32_t id = vg_bmff_rd_u32(&r);
  if (r.err) return VG_EINVAL;
  if (id != w->t->track_id) return 0;
  uint64_t base = moof_offset;
  if (flags & 0x1) base = vg_bmff_rd_u64(&r);
  if (flags & 0x2) vg_bmff_rd_u32(&r);
  uint32_t def_dur = w->t->trex_duration, def_size = w->t->trex_size, def_flags = w->t->trex_flags;
  if (flags & 0x8) def_dur = vg_bmff_rd_u32(&r);
  if (flags & 0x10) def_size = vg_bmff_rd_u32(&r);
  if (flags & 0x20) def_flags = vg_bmff_rd_u32(&r);
  if (r.err) return VG_EINVAL;

  uint64_t dts = 0;
  bool has_tfdt = false;
  if (vg_bmff_find(traf, 0, VG_FOURCC('t', 'f', 'd', 't'), &b) == 1) {
    rd t = {b.body, b.body_len, 0, false};
    uint32_t vf = vg_bmff_rd_u32(&t);
    dts = (vf >> 24) == 1 ? vg_bmff_rd_u64(&t) : vg_bmff_rd_u32(&t);
    if (t.err) return VG_EINVAL;
    has_tfdt = true;
  }
  /* Without a tfdt a fragment follows on from the last known time. */
  if (!has_tfdt && *w->first_dts != UINT64_MAX && w->best->found) dts = w->best->pts;

  vg_bmff_iter it;
  if (vg_bmff_iter_children(&it, traf, 0)) return VG_EINVAL;
  uint64_t pos = base;
  int rc;
  while ((rc = vg_bmff_next(&it, &b)) == 1) {
    if (b.type != VG_FOURCC('t', 'r', 'u', 'n')) continue;
    rc = parse_trun(w, &b, base, &pos, &dts, def_dur, def_size, def_flags);
    if (rc) return rc;
  }
  return rc < 0 ? VG_EINVAL : 0;
}

int vg_thumb_parse_moof(const vg_thumb_track *t, const uint8_t *data, size_t len,
                        uint64_t moof_offset, uint64_t at, uint64_t *first_dts, vg_thumb_key *best,
                        bool *past) {
  if (!t || !data || !first_dts || !best || !past) return VG_EINVAL;
  vg_bmff_iter it;
  vg_bmff_box moof, b;
  vg_bmff_iter_init(&it, data, len);
  if (vg_bmff_next(&it, &moof) != 1 || moof.type != VG_FOURCC('m', 'o', 'o', 'f')) return VG_EINVAL;
  if (vg_bmff_iter_children(&it, &moof, 0)) return VG_EINVAL;
  walk w = {t, at, first_dts, best, past};
  int rc;
  while ((rc = vg_bmff_next(&it, &b)) == 1) {
    if (b.type != VG_FOURCC('t', 'r', 'a', 'f')) continue;
    rc = parse_traf(&w, &b, moof_offset);
    if (rc) return rc;
  }
  return rc < 0 ? VG_EINVAL : 0;
}

/* ---- file access ---- */

static int read_at(int fd, uint64_t off, void *dst, size_t len) {
  uint8_t *p = dst;
  while (len) {
    ssize_t n = pread(fd, p, len, (off_t)off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return VG_EIO;
    p += n;
    off += (uint64_t)n;
    len -= (size_t)n;
  }
  return 0;
}

/* Reads a whole top-level box of at most max bytes into a new buffer. */
static int read_box(int fd, uint64_t off, uint64_t size, size_t max, uint8_t **out) {
  if (size > max) return VG_ETOOBIG;
  uint8_t *buf = malloc(size ? (size_t)size : 1);
  if (!buf) return VG_ENOMEM;
  int rc = read_at(fd, off, buf, (size_t)size);
  if (rc) {
    free(buf);
    return rc;
  }
  *out = buf;
  return 0;
}

int vg_thumb_locate(const char *path, int64_t at_ms, vg_thumb_key *key) {
  if (!path || !key || at_ms < 0) return VG_EINVAL;
  memset(key, 0, sizeof *key);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return VG_EIO;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close(fd);
    return VG_EIO;
  }
  uint64_t file_size = (uint64_t)st.st_size, off = 0;
  bool have_track = false, past = false;
  uint64_t first_dts = UINT64_MAX, at = 0;
  int rc = 0;
  while (off + 8 <= file_size && !past) {
    uint8_t h[16];
    size_t hlen = file_size - off >= 16 ? 16 : 8;
    if ((rc = read_at(fd, off, h, hlen))) break;
    uint64_t size = rd32(h);
    uint32_t type = rd32(h + 4);
    if (size == 1) {
      if (hlen < 16) break;
      size = (uint64_t)rd32(h + 8) << 32 | rd32(h + 12);
      if (size < 16) {
        rc = VG_EINVAL;
        break;
      }
    } else if (size == 0) {
      size = file_size - off;
    } else if (size < 8) {
      rc = VG_EINVAL;
      break;
    }
    if (size > file_size - off) break; /* a fragment still being written */
    if (type == VG_FOURCC('m', 'o', 'o', 'v') && !have_track) {
      uint8_t *box;
      if ((rc = read_box(fd, off, size, VG_THUMB_MOOV_MAX, &box))) break;
      rc = vg_thumb_parse_moov(box, (size_t)size, &key->track);
      free(box);
      if (rc) break;
      have_track = true;
      at = (uint64_t)at_ms * key->track.timescale / 1000;
    } else if (type == VG_FOURCC('m', 'o', 'o', 'f') && have_track) {
      /* Its mdat must be all there: the last fragment may be in flight. */
      uint8_t mh[8];
      if (file_size - off - size < 8 || read_at(fd, off + size, mh, 8) != 0) break;
      uint64_t msize = rd32(mh);
      if (msize == 0) msize = file_size - off - size;
      if (rd32(mh + 4) != VG_FOURCC('m', 'd', 'a', 't') || msize < 8 ||
          msize > file_size - off - size)
        break;
      uint8_t *box;
      if ((rc = read_box(fd, off, size, VG_THUMB_MOOF_MAX, &box))) break;
      vg_thumb_track t = key->track;
      rc = vg_thumb_parse_moof(&t, box, (size_t)size, off, at, &first_dts, key, &past);
      free(box);
      if (rc) break;
    }
    off += size;
  }
  close(fd);
  if (rc) return rc;
  if (!have_track || !key->found) return VG_ENOTFOUND;
  if (key->size == 0 || key->size > VG_THUMB_SAMPLE_MAX || key->offset > file_size ||
      key->size > file_size - key->offset)
    return VG_EINVAL;
  uint64_t rel = key->pts >= first_dts ? key->pts - first_dts : 0;
  key->ms = (int64_t)(rel * 1000 / key->track.timescale);
  return 0;
}

/* ---- decode, scale, encode ---- */

static int decode(const vg_thumb_key *key, const uint8_t *sample, AVFrame *frame) {
  const AVCodec *dec =
      avcodec_find_decoder(key->track.codec == VG_CODEC_H265 ? AV_CODEC_ID_HEVC : AV_CODEC_ID_H264);
  if (!dec) return VG_EINVAL;
  AVCodecContext *ctx = avcodec_alloc_context3(dec);
  AVPacket *pkt = av_packet_alloc();
  int rc = VG_ENOMEM;
  if (!ctx || !pkt) goto out;
  ctx->extradata = av_mallocz(key->track.extradata_len + AV_INPUT_BUFFER_PADDING_SIZE);
  if (!ctx->extradata) goto out;
  memcpy(ctx->extradata, key->track.extradata, key->track.extradata_len);
  ctx->extradata_size = (int)key->track.extradata_len;
  ctx->thread_count = 1;
  rc = VG_EINVAL;
  if (avcodec_open2(ctx, dec, NULL) < 0) goto out;
  if (av_new_packet(pkt, (int)key->size) < 0) {
    rc = VG_ENOMEM;
    goto out;
  }
  memcpy(pkt->data, sample, key->size);
  pkt->flags |= AV_PKT_FLAG_KEY;
  if (avcodec_send_packet(ctx, pkt) < 0) goto out;
  avcodec_send_packet(ctx, NULL); /* drain: the one picture comes out now */
  if (avcodec_receive_frame(ctx, frame) < 0) goto out;
  if (frame->width <= 0 || frame->height <= 0 || frame->width > VG_THUMB_SOURCE_MAX ||
      frame->height > VG_THUMB_SOURCE_MAX)
    goto out;
  rc = 0;
out:
  av_packet_free(&pkt);
  avcodec_free_context(&ctx);
  return rc;
}

/* Scales one 8-bit plane by averaging the source area under each output
 * pixel (nearest pixel when enlarging), mapping values through lut. */
static void scale_plane(const uint8_t *src, int sstride, int sw, int sh, uint8_t *dst, int dstride,
                        int dw, int dh, const uint8_t lut[256]) {
  for (int y = 0; y < dh; y++) {
    int y0 = (int)((int64_t)y * sh / dh);
    int y1 = (int)((int64_t)(y + 1) * sh / dh);
    if (y1 <= y0) y1 = y0 + 1;
    for (int x = 0; x < dw; x++) {
      int x0 = (int)((int64_t)x * sw / dw);
      int x1 = (int)((int64_t)(x + 1) * sw / dw);
      if (x1 <= x0) x1 = x0 + 1;
      uint32_t sum = 0;
      for (int yy = y0; yy < y1; yy++) {
        const uint8_t *row = src + (ptrdiff_t)yy * sstride;
        for (int xx = x0; xx < x1; xx++) sum += row[xx];
      }
      uint32_t n = (uint32_t)((y1 - y0) * (x1 - x0));
      dst[(ptrdiff_t)y * dstride + x] = lut[(sum + n / 2) / n];
    }
  }
}

/* The decoded picture as a full-range 4:2:0 frame of dw x dh. */
static int to_jpeg_frame(const AVFrame *in, int dw, int dh, AVFrame *out) {
  const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(in->format);
  if (!d || !(d->flags & AV_PIX_FMT_FLAG_PLANAR) || (d->flags & AV_PIX_FMT_FLAG_RGB) ||
      d->nb_components < 3 || d->comp[0].depth != 8)
    return VG_EINVAL; /* 10-bit and RGB pictures are not thumbnailed */
  out->format = AV_PIX_FMT_YUVJ420P;
  out->width = dw;
  out->height = dh;
  if (av_frame_get_buffer(out, 0) < 0) return VG_ENOMEM;
  /* Limited-range video (16-235, 16-240) is stretched to JPEG's 0-255. */
  bool full = in->color_range == AVCOL_RANGE_JPEG || in->format == AV_PIX_FMT_YUVJ420P ||
              in->format == AV_PIX_FMT_YUVJ422P || in->format == AV_PIX_FMT_YUVJ444P;
  uint8_t luma[256], chroma[256];
  for (int v = 0; v < 256; v++) {
    int l = full ? v : (v - 16) * 255 / 219;
    int c = full ? v : (v - 128) * 255 / 224 + 128;
    luma[v] = (uint8_t)(l < 0 ? 0 : l > 255 ? 255 : l);
    chroma[v] = (uint8_t)(c < 0 ? 0 : c > 255 ? 255 : c);
  }
  int cw = -((-in->width) >> d->log2_chroma_w), ch = -((-in->height) >> d->log2_chroma_h);
  scale_plane(in->data[0], in->linesize[0], in->width, in->height, out->data[0], out->linesize[0],
              dw, dh, luma);
  for (int p = 1; p <= 2; p++)
    scale_plane(in->data[p], in->linesize[p], cw, ch, out->data[p], out->linesize[p], (dw + 1) / 2,
                (dh + 1) / 2, chroma);
  return 0;
}

static int encode_jpeg(const AVFrame *f, vg_buf **out) {
  const AVCodec *enc = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
  if (!enc) return VG_EINVAL;
  AVCodecContext *ctx = avcodec_alloc_context3(enc);
  AVPacket *pkt = av_packet_alloc();
  int rc = VG_ENOMEM;
  if (!ctx || !pkt) goto out;
  ctx->width = f->width;
  ctx->height = f->height;
  ctx->pix_fmt = AV_PIX_FMT_YUVJ420P;
  ctx->color_range = AVCOL_RANGE_JPEG;
  ctx->time_base = (AVRational){1, 25};
  ctx->flags |= AV_CODEC_FLAG_QSCALE;
  ctx->global_quality = FF_QP2LAMBDA * JPEG_QSCALE;
  ctx->thread_count = 1;
  rc = VG_EINVAL;
  if (avcodec_open2(ctx, enc, NULL) < 0) goto out;
  AVFrame *in = av_frame_clone(f);
  if (!in) {
    rc = VG_ENOMEM;
    goto out;
  }
  in->quality = ctx->global_quality;
  in->pict_type = AV_PICTURE_TYPE_I;
  int s = avcodec_send_frame(ctx, in);
  av_frame_free(&in);
  if (s < 0 || avcodec_receive_packet(ctx, pkt) < 0) goto out;
  *out = vg_buf_from(pkt->data, (size_t)pkt->size);
  rc = *out ? 0 : VG_ENOMEM;
out:
  av_packet_free(&pkt);
  avcodec_free_context(&ctx);
  return rc;
}

int vg_thumb_jpeg(const char *path, const vg_thumb_key *key, int width, vg_buf **out) {
  if (!path || !key || !out || !key->found || width < VG_THUMB_WIDTH_MIN ||
      width > VG_THUMB_WIDTH_MAX || key->size == 0 || key->size > VG_THUMB_SAMPLE_MAX)
    return VG_EINVAL;
  *out = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return VG_EIO;
  uint8_t *sample = malloc(key->size);
  int rc = sample ? read_at(fd, key->offset, sample, key->size) : VG_ENOMEM;
  close(fd);
  AVFrame *pic = av_frame_alloc(), *small = av_frame_alloc();
  if (!rc && (!pic || !small)) rc = VG_ENOMEM;
  if (!rc) rc = decode(key, sample, pic);
  if (!rc) {
    /* Square pixels assumed, as cameras send them. */
    /* The nearest even height (4:2:0 chroma needs even sizes). */
    int64_t h = ((int64_t)pic->height * width + pic->width) / (2 * (int64_t)pic->width) * 2;
    if (h < 2) h = 2;
    if (h > VG_THUMB_SOURCE_MAX) h = VG_THUMB_SOURCE_MAX;
    rc = to_jpeg_frame(pic, width, (int)h, small);
  }
  if (!rc) rc = encode_jpeg(small, out);
  av_frame_free(&pic);
  av_frame_free(&small);
  free(sample);
  return rc;
}
