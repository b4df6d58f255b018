/* codec.c - Annex-B / length-prefixed conversions, avcC and hvcC records
 * and RFC 6381 codec strings.
 *
 * The SPS fields the records need sit near the start of the SPS, so the
 * parsers unescape at most SPS_PARSE_MAX bytes of RBSP and read them with a
 * bounded bit reader that turns any overrun into an error. */
#include "media/codec.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"

/* Unescaped SPS bytes examined; the fields used lie in the first ~40. */
#define SPS_PARSE_MAX 256

/* ---- byte and bit helpers ---- */

typedef struct wbuf {
  uint8_t *p;
  size_t cap;
  size_t pos;
  bool overflow;
} wbuf;

static void w_u8(wbuf *w, uint8_t v) {
  if (w->pos < w->cap) {
    w->p[w->pos] = v;
  } else {
    w->overflow = true;
  }
  w->pos++;
}

static void w_u16(wbuf *w, uint16_t v) {
  w_u8(w, (uint8_t)(v >> 8));
  w_u8(w, (uint8_t)v);
}

static void w_bytes(wbuf *w, const uint8_t *d, size_t n) {
  for (size_t i = 0; i < n; i++) w_u8(w, d[i]);
}

typedef struct bits {
  const uint8_t *p;
  size_t len; /* bytes */
  size_t pos; /* bits */
  bool err;
} bits;

static uint32_t bits_u(bits *b, int n) {
  uint32_t v = 0;
  for (int i = 0; i < n; i++) {
    if (b->pos >= b->len * 8) {
      b->err = true;
      return 0;
    }
    v = (v << 1) | ((b->p[b->pos >> 3] >> (7 - (b->pos & 7))) & 1);
    b->pos++;
  }
  return v;
}

static void bits_skip(bits *b, size_t n) {
  if (n > b->len * 8 - b->pos) {
    b->err = true;
    b->pos = b->len * 8;
    return;
  }
  b->pos += n;
}

/* Exp-Golomb ue(v); more than 31 leading zeros is malformed. */
static uint32_t bits_ue(bits *b) {
  int zeros = 0;
  while (!b->err && bits_u(b, 1) == 0) {
    if (++zeros > 31) {
      b->err = true;
      return 0;
    }
  }
  if (b->err) return 0;
  return (uint32_t)(((uint64_t)1 << zeros) - 1 + bits_u(b, zeros));
}

/* Removes emulation prevention bytes (00 00 03 -> 00 00) from a NAL unit,
 * skipping its hdr-byte header, into out (at most cap bytes). */
static size_t nal_to_rbsp(const uint8_t *nal, size_t len, size_t hdr, uint8_t *out, size_t cap) {
  size_t n = 0;
  int zeros = 0;
  for (size_t i = hdr; i < len && n < cap; i++) {
    if (zeros >= 2 && nal[i] == 3) {
      zeros = 0;
      continue;
    }
    zeros = nal[i] == 0 ? zeros + 1 : 0;
    out[n++] = nal[i];
  }
  return n;
}

/* ---- Annex-B ---- */

/* Offset of the next 00 00 01 at or after pos, or len. */
static size_t find_start_code(const uint8_t *d, size_t len, size_t pos) {
  while (pos + 3 <= len) {
    if (d[pos + 2] > 1) {
      pos += 3;
    } else if (d[pos] == 0 && d[pos + 1] == 0 && d[pos + 2] == 1) {
      return pos;
    } else {
      pos++;
    }
  }
  return len;
}

int vg_annexb_next(const uint8_t *data, size_t len, size_t *pos, const uint8_t **nal,
                   size_t *nal_len) {
  while (*pos < len) {
    size_t sc = find_start_code(data, len, *pos);
    if (sc >= len) {
      *pos = len;
      return 0;
    }
    size_t start = sc + 3;
    size_t end = find_start_code(data, len, start);
    *pos = end;
    /* Zero bytes before the next start code are its leading zero or
     * trailing_zero_8bits, not part of this unit. */
    while (end > start && data[end - 1] == 0) end--;
    if (end > start) {
      *nal = data + start;
      *nal_len = end - start;
      return 1;
    }
  }
  return 0;
}

static int nal_type(vg_codec_id codec, const uint8_t *nal) {
  return codec == VG_CODEC_H265 ? (nal[0] >> 1) & 0x3f : nal[0] & 0x1f;
}

static bool nal_dropped(vg_codec_id codec, int type, unsigned flags) {
  if (codec == VG_CODEC_H265) {
    if ((flags & VG_LP_STRIP_PARAMS) && type >= 32 && type <= 34) return true;
    if ((flags & VG_LP_STRIP_AUD) && type == 35) return true;
  } else {
    if ((flags & VG_LP_STRIP_PARAMS) && (type == 7 || type == 8)) return true;
    if ((flags & VG_LP_STRIP_AUD) && type == 9) return true;
  }
  return false;
}

int vg_annexb_to_lp(vg_codec_id codec, const uint8_t *data, size_t len, unsigned flags,
                    vg_buf **out) {
  *out = NULL;
  if (codec != VG_CODEC_H264 && codec != VG_CODEC_H265) return VG_EINVAL;
  const uint8_t *nal;
  size_t nlen, pos = 0, total = 0;
  while (vg_annexb_next(data, len, &pos, &nal, &nlen)) {
    if (nlen > UINT32_MAX) return VG_ETOOBIG;
    if (!nal_dropped(codec, nal_type(codec, nal), flags)) total += 4 + nlen;
  }
  if (total == 0) return VG_EINVAL;
  vg_buf *b = vg_buf_new(total);
  if (!b) return VG_ENOMEM;
  uint8_t *p = b->data;
  pos = 0;
  while (vg_annexb_next(data, len, &pos, &nal, &nlen)) {
    if (nal_dropped(codec, nal_type(codec, nal), flags)) continue;
    p[0] = (uint8_t)(nlen >> 24);
    p[1] = (uint8_t)(nlen >> 16);
    p[2] = (uint8_t)(nlen >> 8);
    p[3] = (uint8_t)nlen;
    memcpy(p + 4, nal, nlen);
    p += 4 + nlen;
  }
  *out = b;
  return 0;
}

typedef struct nal_ref {
  const uint8_t *p;
  size_t len;
} nal_ref;

/* Collects up to VG_CODEC_MAX_PARAM_SETS units of type `type`. */
static int collect(vg_codec_id codec, const uint8_t *data, size_t len, int type, nal_ref *out) {
  const uint8_t *nal;
  size_t nlen, pos = 0;
  int n = 0;
  while (vg_annexb_next(data, len, &pos, &nal, &nlen)) {
    if (nal_type(codec, nal) != type || nlen > UINT16_MAX) continue;
    if (n == VG_CODEC_MAX_PARAM_SETS) break;
    out[n].p = nal;
    out[n].len = nlen;
    n++;
  }
  return n;
}

/* ---- avcC ---- */

typedef struct avc_sps {
  uint8_t profile, compat, level;
  uint32_t chroma_format_idc, bit_depth_luma_m8, bit_depth_chroma_m8;
} avc_sps;

static bool avc_profile_has_chroma_info(uint8_t profile) {
  switch (profile) {
    case 100:
    case 110:
    case 122:
    case 244:
    case 44:
    case 83:
    case 86:
    case 118:
    case 128:
    case 138:
    case 139:
    case 134:
    case 135:
      return true;
    default:
      return false;
  }
}

static int avc_parse_sps(const uint8_t *nal, size_t len, avc_sps *s) {
  uint8_t rbsp[SPS_PARSE_MAX];
  size_t n = nal_to_rbsp(nal, len, 1, rbsp, sizeof rbsp);
  if (n < 4) return VG_EINVAL;
  bits b = {rbsp, n, 0, false};
  s->profile = (uint8_t)bits_u(&b, 8);
  s->compat = (uint8_t)bits_u(&b, 8);
  s->level = (uint8_t)bits_u(&b, 8);
  bits_ue(&b); /* seq_parameter_set_id */
  s->chroma_format_idc = 1;
  s->bit_depth_luma_m8 = s->bit_depth_chroma_m8 = 0;
  if (avc_profile_has_chroma_info(s->profile)) {
    s->chroma_format_idc = bits_ue(&b);
    if (s->chroma_format_idc == 3) bits_u(&b, 1);
    s->bit_depth_luma_m8 = bits_ue(&b);
    s->bit_depth_chroma_m8 = bits_ue(&b);
  }
  if (b.err || s->chroma_format_idc > 3 || s->bit_depth_luma_m8 > 6 || s->bit_depth_chroma_m8 > 6)
    return VG_EINVAL;
  return 0;
}

int vg_avcc_from_annexb(const uint8_t *data, size_t len, uint8_t *out, size_t cap, size_t *outlen) {
  nal_ref sps[VG_CODEC_MAX_PARAM_SETS], pps[VG_CODEC_MAX_PARAM_SETS];
  int nsps = collect(VG_CODEC_H264, data, len, 7, sps);
  int npps = collect(VG_CODEC_H264, data, len, 8, pps);
  if (nsps == 0 || npps == 0) return VG_EINVAL;
  avc_sps s;
  if (avc_parse_sps(sps[0].p, sps[0].len, &s)) return VG_EINVAL;

  wbuf w = {out, cap, 0, false};
  w_u8(&w, 1); /* configurationVersion */
  w_u8(&w, s.profile);
  w_u8(&w, s.compat);
  w_u8(&w, s.level);
  w_u8(&w, 0xfc | 3); /* lengthSizeMinusOne = 3 */
  w_u8(&w, (uint8_t)(0xe0 | nsps));
  for (int i = 0; i < nsps; i++) {
    w_u16(&w, (uint16_t)sps[i].len);
    w_bytes(&w, sps[i].p, sps[i].len);
  }
  w_u8(&w, (uint8_t)npps);
  for (int i = 0; i < npps; i++) {
    w_u16(&w, (uint16_t)pps[i].len);
    w_bytes(&w, pps[i].p, pps[i].len);
  }
  /* The spec's list of profiles whose record carries chroma information. */
  if (s.profile == 100 || s.profile == 110 || s.profile == 122 || s.profile == 144) {
    w_u8(&w, (uint8_t)(0xfc | s.chroma_format_idc));
    w_u8(&w, (uint8_t)(0xf8 | s.bit_depth_luma_m8));
    w_u8(&w, (uint8_t)(0xf8 | s.bit_depth_chroma_m8));
    w_u8(&w, 0); /* numOfSequenceParameterSetExt */
  }
  if (w.overflow) return VG_ETOOBIG;
  *outlen = w.pos;
  return 0;
}

/* ---- hvcC ---- */

typedef struct hevc_sps {
  uint8_t ptl[12]; /* general profile_space..level_idc, as hvcC bytes 1..12 */
  uint32_t max_sub_layers_m1, temporal_id_nesting;
  uint32_t chroma_format_idc, bit_depth_luma_m8, bit_depth_chroma_m8;
} hevc_sps;

static int hevc_parse_sps(const uint8_t *nal, size_t len, hevc_sps *s) {
  uint8_t rbsp[SPS_PARSE_MAX];
  size_t n = nal_to_rbsp(nal, len, 2, rbsp, sizeof rbsp);
  bits b = {rbsp, n, 0, false};
  bits_u(&b, 4); /* sps_video_parameter_set_id */
  s->max_sub_layers_m1 = bits_u(&b, 3);
  s->temporal_id_nesting = bits_u(&b, 1);
  if (b.err || s->max_sub_layers_m1 > 6) return VG_EINVAL;
  /* general_profile_tier_level: 2+1+5 bits, 32 compat flags, 48
   * constraint bits, level_idc - exactly the 12 bytes hvcC repeats. */
  for (int i = 0; i < 12; i++) s->ptl[i] = (uint8_t)bits_u(&b, 8);
  bool prof[8] = {0}, lvl[8] = {0};
  for (uint32_t i = 0; i < s->max_sub_layers_m1; i++) {
    prof[i] = bits_u(&b, 1);
    lvl[i] = bits_u(&b, 1);
  }
  if (s->max_sub_layers_m1 > 0) bits_skip(&b, 2 * (8 - s->max_sub_layers_m1));
  for (uint32_t i = 0; i < s->max_sub_layers_m1; i++) {
    if (prof[i]) bits_skip(&b, 88);
    if (lvl[i]) bits_skip(&b, 8);
  }
  bits_ue(&b); /* sps_seq_parameter_set_id */
  s->chroma_format_idc = bits_ue(&b);
  if (s->chroma_format_idc == 3) bits_u(&b, 1);
  bits_ue(&b); /* pic_width_in_luma_samples */
  bits_ue(&b); /* pic_height_in_luma_samples */
  if (bits_u(&b, 1)) {
    for (int i = 0; i < 4; i++) bits_ue(&b); /* conformance window */
  }
  s->bit_depth_luma_m8 = bits_ue(&b);
  s->bit_depth_chroma_m8 = bits_ue(&b);
  if (b.err || s->chroma_format_idc > 3 || s->bit_depth_luma_m8 > 7 || s->bit_depth_chroma_m8 > 7)
    return VG_EINVAL;
  return 0;
}

int vg_hvcc_from_annexb(const uint8_t *data, size_t len, uint8_t *out, size_t cap, size_t *outlen) {
  static const int types[3] = {32, 33, 34}; /* VPS, SPS, PPS */
  nal_ref sets[3][VG_CODEC_MAX_PARAM_SETS];
  int count[3];
  for (int i = 0; i < 3; i++) {
    count[i] = collect(VG_CODEC_H265, data, len, types[i], sets[i]);
    if (count[i] == 0) return VG_EINVAL;
  }
  hevc_sps s;
  if (hevc_parse_sps(sets[1][0].p, sets[1][0].len, &s)) return VG_EINVAL;

  wbuf w = {out, cap, 0, false};
  w_u8(&w, 1); /* configurationVersion */
  w_bytes(&w, s.ptl, 12);
  w_u16(&w, 0xf000); /* min_spatial_segmentation_idc = 0 (unknown) */
  w_u8(&w, 0xfc);    /* parallelismType = 0 (unknown) */
  w_u8(&w, (uint8_t)(0xfc | s.chroma_format_idc));
  w_u8(&w, (uint8_t)(0xf8 | s.bit_depth_luma_m8));
  w_u8(&w, (uint8_t)(0xf8 | s.bit_depth_chroma_m8));
  w_u16(&w, 0); /* avgFrameRate unknown */
  /* constantFrameRate 0, numTemporalLayers, temporalIdNested,
   * lengthSizeMinusOne 3 */
  w_u8(&w, (uint8_t)(((s.max_sub_layers_m1 + 1) << 3) | (s.temporal_id_nesting << 2) | 3));
  w_u8(&w, 3); /* numOfArrays */
  for (int i = 0; i < 3; i++) {
    w_u8(&w, (uint8_t)(0x80 | types[i])); /* array_completeness = 1 */
    w_u16(&w, (uint16_t)count[i]);
    for (int j = 0; j < count[i]; j++) {
      w_u16(&w, (uint16_t)sets[i][j].len);
      w_bytes(&w, sets[i][j].p, sets[i][j].len);
    }
  }
  if (w.overflow) return VG_ETOOBIG;
  *outlen = w.pos;
  return 0;
}

/* ---- RFC 6381 ---- */

static uint32_t reverse32(uint32_t v) {
  uint32_t r = 0;
  for (int i = 0; i < 32; i++) r |= ((v >> i) & 1u) << (31 - i);
  return r;
}

/* "hvc1.<space><profile>.<compat reversed>.<tier><level>[.<constraint>...]"
 * per ISO/IEC 14496-15 Annex E; trailing zero constraint bytes are left
 * out. */
static int hevc_codec_string(const uint8_t *c, size_t len, char *out, size_t outlen) {
  if (len < 13) return VG_EINVAL;
  static const char *spaces[4] = {"", "A", "B", "C"};
  uint32_t compat = (uint32_t)c[2] << 24 | (uint32_t)c[3] << 16 | (uint32_t)c[4] << 8 | c[5];
  int n = snprintf(out, outlen, "hvc1.%s%u.%X.%c%u", spaces[c[1] >> 6], c[1] & 0x1f,
                   reverse32(compat), (c[1] & 0x20) ? 'H' : 'L', c[12]);
  int last = -1;
  for (int i = 0; i < 6; i++) {
    if (c[6 + i]) last = i;
  }
  for (int i = 0; i <= last && n >= 0 && (size_t)n < outlen; i++)
    n += snprintf(out + n, outlen - (size_t)n, ".%02X", c[6 + i]);
  return n < 0 || (size_t)n >= outlen ? VG_EINVAL : 0;
}

int vg_codec_string(const vg_codec_params *p, char *out, size_t outlen) {
  if (!p || !out || outlen == 0) return VG_EINVAL;
  const uint8_t *x = p->extradata;
  size_t len = p->extradata_len;
  int n;
  switch (p->codec) {
    case VG_CODEC_H264:
      if (len < 4) return VG_EINVAL;
      n = snprintf(out, outlen, "avc1.%02x%02x%02x", x[1], x[2], x[3]);
      break;
    case VG_CODEC_H265:
      return hevc_codec_string(x, len, out, outlen);
    case VG_CODEC_AAC: {
      if (len < 1) return VG_EINVAL;
      /* audioObjectType: 5 bits, 31 escapes to 32 + 6 more bits. */
      unsigned aot = x[0] >> 3;
      if (aot == 31) {
        if (len < 2) return VG_EINVAL;
        aot = 32 + (((x[0] & 7u) << 3) | (x[1] >> 5));
      }
      n = snprintf(out, outlen, "mp4a.40.%u", aot);
      break;
    }
    default:
      return VG_EINVAL;
  }
  return n < 0 || (size_t)n >= outlen ? VG_EINVAL : 0;
}
