/* rtp.c - RTP depacketizers; see rtp.h.
 *
 * Video access units are assembled in place, in their final layout: each
 * NAL unit is written as a 4-byte length and its bytes, so a finished AU
 * is handed out without another pass. A fragmented unit (FU-A / FU) gets
 * its length slot when its first fragment comes and the length is filled
 * in by the last one. Parameter sets go to a second, small buffer as
 * Annex-B, which is what codec.c's avcC/hvcC builders read.
 *
 * Buffers grow by doubling up to VG_RTP_AU_MAX and are kept for the next
 * access unit, so a steady stream allocates nothing per packet. */
#include "ingest/rtp.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"

#define AAC_MAX_AUS 64 /* AU headers per packet */

typedef struct bytes {
  uint8_t *p;
  size_t len, cap;
} bytes;

struct vg_rtp_depack {
  vg_rtp_format fmt;
  vg_rtp_stats stats;
  /* sequence and time */
  bool have_seq;
  uint16_t next_seq;
  bool have_ts;
  uint32_t last_ts;
  int64_t ext_ts;
  /* video access unit being assembled */
  bytes au;
  bytes params;
  bool in_au;
  int64_t au_ts;
  bool au_key;
  bool au_broken;
  bool in_fu;
  size_t fu_at; /* offset of the fragmented unit's length slot */
  bool wait_key;
  /* AAC */
  int sizelength, indexlength, indexdeltalength;
  int frame_samples;
  bytes frag; /* a fragmented AAC AU */
  size_t frag_size;
  int64_t frag_ts;
  bool in_frag;
};

static int grow(bytes *b, size_t need, size_t max) {
  if (need <= b->cap) return 0;
  if (need > max) return VG_ETOOBIG;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < need) cap *= 2;
  if (cap > max) cap = max;
  uint8_t *p = realloc(b->p, cap);
  if (!p) return VG_ENOMEM;
  b->p = p;
  b->cap = cap;
  return 0;
}

static int put(bytes *b, const uint8_t *d, size_t n, size_t max) {
  int rc = grow(b, b->len + n, max);
  if (rc) return rc;
  memcpy(b->p + b->len, d, n);
  b->len += n;
  return 0;
}

vg_rtp_format vg_rtp_format_of(const vg_sdp_media *m) {
  if (strcmp(m->encoding, "H264") == 0) return VG_RTP_H264;
  if (strcmp(m->encoding, "H265") == 0 || strcmp(m->encoding, "HEVC") == 0) return VG_RTP_H265;
  if (strcmp(m->encoding, "PCMU") == 0) return VG_RTP_PCMU;
  if (strcmp(m->encoding, "PCMA") == 0) return VG_RTP_PCMA;
  if (strcmp(m->encoding, "MPEG4-GENERIC") == 0 && m->sizelength > 0 && m->sizelength <= 16 &&
      m->indexlength >= 0 && m->indexlength <= 8 && m->indexdeltalength >= 0 &&
      m->indexdeltalength <= 8 && (m->mode[0] == 0 || strncasecmp(m->mode, "AAC", 3) == 0))
    return VG_RTP_AAC;
  return VG_RTP_NONE;
}

int vg_rtp_depack_new(vg_rtp_format fmt, const vg_sdp_media *m, vg_rtp_depack **out) {
  *out = NULL;
  if (fmt == VG_RTP_NONE || fmt > VG_RTP_PCMA) return VG_EINVAL;
  if (fmt == VG_RTP_AAC && (!m || vg_rtp_format_of(m) != VG_RTP_AAC)) return VG_EINVAL;
  vg_rtp_depack *d = calloc(1, sizeof *d);
  if (!d) return VG_ENOMEM;
  d->fmt = fmt;
  if (fmt == VG_RTP_AAC) {
    d->sizelength = m->sizelength;
    d->indexlength = m->indexlength;
    d->indexdeltalength = m->indexdeltalength;
    d->frame_samples = m->constant_duration > 0 ? m->constant_duration : 1024;
  }
  *out = d;
  return 0;
}

void vg_rtp_depack_free(vg_rtp_depack *d) {
  if (!d) return;
  free(d->au.p);
  free(d->params.p);
  free(d->frag.p);
  free(d);
}

void vg_rtp_depack_stats(const vg_rtp_depack *d, vg_rtp_stats *out) { *out = d->stats; }

/* ---- video ---- */

static bool is_video(const vg_rtp_depack *d) {
  return d->fmt == VG_RTP_H264 || d->fmt == VG_RTP_H265;
}

static int nal_type_of(const vg_rtp_depack *d, uint8_t b0) {
  return d->fmt == VG_RTP_H265 ? (b0 >> 1) & 0x3f : b0 & 0x1f;
}

static bool type_is_param(const vg_rtp_depack *d, int t) {
  return d->fmt == VG_RTP_H265 ? (t >= 32 && t <= 34) : (t == 7 || t == 8);
}

static bool type_is_aud(const vg_rtp_depack *d, int t) {
  return d->fmt == VG_RTP_H265 ? t == 35 : t == 9;
}

static bool type_is_key(const vg_rtp_depack *d, int t) {
  return d->fmt == VG_RTP_H265 ? (t >= 16 && t <= 21) : t == 5;
}

static void put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* Hands out the access unit being assembled (or drops it) and starts
 * afresh. Parameter sets of an AU without slices carry over to the next. */
static void au_finish(vg_rtp_depack *d, vg_rtp_emit_fn fn, void *ud) {
  if (!d->in_au) return;
  bool broken = d->au_broken || d->in_fu;
  if (broken) {
    d->stats.dropped_aus++;
    d->wait_key = true;
    d->params.len = 0;
  } else if (d->au.len > 0) {
    if (d->wait_key && !d->au_key) {
      d->stats.dropped_aus++;
    } else {
      d->wait_key = false;
      vg_rtp_au au = {.data = d->au.p,
                      .len = d->au.len,
                      .params = d->params.len ? d->params.p : NULL,
                      .params_len = d->params.len,
                      .ts = d->au_ts,
                      .key = d->au_key};
      fn(ud, &au);
    }
    d->params.len = 0;
  }
  d->au.len = 0;
  d->in_au = false;
  d->au_key = false;
  d->au_broken = false;
  d->in_fu = false;
}

/* True when the AU's parameter sets hold this unit already. They are
 * written by add_nal only, each after a 4-byte start code, so walking
 * them needs no start code search. */
static bool has_param(const vg_rtp_depack *d, const uint8_t *nal, size_t n) {
  size_t i = 0;
  while (i + 4 <= d->params.len) {
    size_t s = i + 4, e = s;
    while (e + 4 <= d->params.len && !(d->params.p[e] == 0 && d->params.p[e + 1] == 0 &&
                                       d->params.p[e + 2] == 0 && d->params.p[e + 3] == 1))
      e++;
    if (e + 4 > d->params.len) e = d->params.len;
    if (e - s == n && memcmp(d->params.p + s, nal, n) == 0) return true;
    i = e;
  }
  return false;
}

/* One whole NAL unit of the current AU. */
static void add_nal(vg_rtp_depack *d, const uint8_t *nal, size_t n) {
  if (n < (d->fmt == VG_RTP_H265 ? 2u : 1u)) {
    d->au_broken = true;
    return;
  }
  int t = nal_type_of(d, nal[0]);
  if (type_is_aud(d, t)) return;
  if (type_is_param(d, t)) {
    static const uint8_t sc[4] = {0, 0, 0, 1};
    if (has_param(d, nal, n)) return; /* repeated (payloader and encoder both sent it) */
    if (d->params.len + 4 + n <= VG_RTP_PARAMS_MAX) {
      put(&d->params, sc, 4, VG_RTP_PARAMS_MAX);
      put(&d->params, nal, n, VG_RTP_PARAMS_MAX);
    }
    return;
  }
  if (type_is_key(d, t)) d->au_key = true;
  uint8_t len[4];
  put_be32(len, (uint32_t)n);
  if (grow(&d->au, d->au.len + 4 + n, VG_RTP_AU_MAX)) {
    d->au_broken = true;
    return;
  }
  memcpy(d->au.p + d->au.len, len, 4);
  memcpy(d->au.p + d->au.len + 4, nal, n);
  d->au.len += 4 + n;
}

/* Aggregation packet (STAP-A / AP): 16-bit sizes and units after a
 * header of hdr bytes. */
static int add_aggregate(vg_rtp_depack *d, const uint8_t *p, size_t n, size_t hdr) {
  size_t i = hdr;
  if (i >= n) return VG_EINVAL;
  while (i < n) {
    if (i + 2 > n) return VG_EINVAL;
    size_t sz = (size_t)p[i] << 8 | p[i + 1];
    i += 2;
    if (sz == 0 || i + sz > n) return VG_EINVAL;
    add_nal(d, p + i, sz);
    i += sz;
  }
  return 0;
}

/* Fragmentation unit: hdr bytes of payload header, then the FU header
 * (S, E, type) and the fragment. */
static int add_fragment(vg_rtp_depack *d, const uint8_t *p, size_t n) {
  bool h265 = d->fmt == VG_RTP_H265;
  size_t hdr = h265 ? 3 : 2;
  if (n <= hdr) return VG_EINVAL;
  uint8_t fu = p[hdr - 1];
  bool start = fu & 0x80, end = fu & 0x40;
  int t = fu & (h265 ? 0x3f : 0x1f);
  const uint8_t *frag = p + hdr;
  size_t flen = n - hdr;
  if (start) {
    if (d->in_fu) d->au_broken = true; /* the previous unit lost its end */
    uint8_t nh[2];
    size_t nhl;
    if (h265) {
      nh[0] = (uint8_t)((p[0] & 0x81) | (t << 1));
      nh[1] = p[1];
      nhl = 2;
    } else {
      nh[0] = (uint8_t)((p[0] & 0xe0) | t);
      nhl = 1;
    }
    static const uint8_t zero[4] = {0};
    d->fu_at = d->au.len;
    if (put(&d->au, zero, 4, VG_RTP_AU_MAX) || put(&d->au, nh, nhl, VG_RTP_AU_MAX)) {
      d->au_broken = true;
      d->au.len = d->fu_at;
      return 0;
    }
    d->in_fu = true;
  } else if (!d->in_fu) {
    d->au_broken = true; /* its start was lost */
    return 0;
  }
  if (put(&d->au, frag, flen, VG_RTP_AU_MAX)) {
    d->au_broken = true;
    d->in_fu = false;
    d->au.len = d->fu_at;
    return 0;
  }
  if (end) {
    d->in_fu = false;
    size_t nal_len = d->au.len - d->fu_at - 4;
    const uint8_t *nal = d->au.p + d->fu_at + 4;
    int nt = nal_type_of(d, nal[0]);
    if (type_is_param(d, nt) || type_is_aud(d, nt)) {
      /* rare (a parameter set too big for one packet): move it out */
      uint8_t *tmp = malloc(nal_len);
      if (tmp) {
        memcpy(tmp, nal, nal_len);
        d->au.len = d->fu_at;
        add_nal(d, tmp, nal_len);
        free(tmp);
      } else {
        d->au.len = d->fu_at;
        d->au_broken = true;
      }
    } else {
      put_be32(d->au.p + d->fu_at, (uint32_t)nal_len);
      if (type_is_key(d, nt)) d->au_key = true;
    }
  }
  return 0;
}

static int video_payload(vg_rtp_depack *d, const uint8_t *p, size_t n) {
  if (d->fmt == VG_RTP_H264) {
    if (n < 1) return VG_EINVAL;
    int t = p[0] & 0x1f;
    if (t >= 1 && t <= 23) {
      if (d->in_fu) d->au_broken = true;
      d->in_fu = false;
      add_nal(d, p, n);
      return 0;
    }
    if (t == 24) return add_aggregate(d, p, n, 1); /* STAP-A */
    if (t == 28) return add_fragment(d, p, n);     /* FU-A */
    return VG_EINVAL;                              /* STAP-B, MTAP, FU-B: interleaved mode */
  }
  if (n < 2) return VG_EINVAL;
  int t = (p[0] >> 1) & 0x3f;
  if (t < 48) {
    if (d->in_fu) d->au_broken = true;
    d->in_fu = false;
    add_nal(d, p, n);
    return 0;
  }
  if (t == 48) return add_aggregate(d, p, n, 2); /* AP */
  if (t == 49) return add_fragment(d, p, n);     /* FU */
  if (t == 50) return 0;                         /* PACI: not used by cameras, ignored */
  return VG_EINVAL;
}

/* ---- audio ---- */

typedef struct bitreader {
  const uint8_t *p;
  size_t len, pos; /* bits */
} bitreader;

static uint32_t br_get(bitreader *b, int n) {
  uint32_t v = 0;
  for (int i = 0; i < n; i++) {
    size_t at = b->pos++;
    v = v << 1 | (at < b->len ? (b->p[at >> 3] >> (7 - (at & 7))) & 1 : 0);
  }
  return v;
}

static void frag_reset(vg_rtp_depack *d) {
  d->in_frag = false;
  d->frag.len = 0;
}

static int aac_payload(vg_rtp_depack *d, const uint8_t *p, size_t n, int64_t ts, bool marker,
                       vg_rtp_emit_fn fn, void *ud) {
  if (n < 2) return VG_EINVAL;
  size_t hbits = (size_t)p[0] << 8 | p[1];
  size_t hbytes = (hbits + 7) / 8;
  if (2 + hbytes > n) return VG_EINVAL;
  bitreader br = {p + 2, hbits, 0};
  size_t sizes[AAC_MAX_AUS];
  int count = 0;
  while (br.pos < hbits) {
    if (count == AAC_MAX_AUS) return VG_EINVAL;
    int il = count == 0 ? d->indexlength : d->indexdeltalength;
    if (br.pos + (size_t)(d->sizelength + il) > hbits) return VG_EINVAL;
    sizes[count++] = br_get(&br, d->sizelength);
    br_get(&br, il);
  }
  if (count == 0) return VG_EINVAL;
  const uint8_t *data = p + 2 + hbytes;
  size_t left = n - 2 - hbytes;
  if (count == 1 && sizes[0] == 0) return VG_EINVAL;
  if (count == 1 && (sizes[0] > left || d->in_frag)) {
    /* one AU over several packets, all with its timestamp */
    if (d->in_frag && (d->frag_ts != ts || d->frag_size != sizes[0])) {
      d->stats.dropped_aus++;
      frag_reset(d);
    }
    if (!d->in_frag) {
      d->in_frag = true;
      d->frag_ts = ts;
      d->frag_size = sizes[0];
      d->frag.len = 0;
    }
    if (d->frag.len + left > d->frag_size || put(&d->frag, data, left, VG_RTP_AU_MAX) != 0) {
      d->stats.dropped_aus++;
      frag_reset(d);
      return VG_EINVAL;
    }
    if (d->frag.len == d->frag_size) {
      vg_rtp_au au = {.data = d->frag.p, .len = d->frag.len, .ts = ts, .key = true};
      fn(ud, &au);
      frag_reset(d);
    } else if (marker) {
      d->stats.dropped_aus++; /* the last fragment came short */
      frag_reset(d);
    }
    return 0;
  }
  size_t total = 0;
  for (int i = 0; i < count; i++) total += sizes[i];
  if (total > left) return VG_EINVAL;
  for (int i = 0; i < count; i++) {
    if (sizes[i] == 0) continue;
    vg_rtp_au au = {
        .data = data, .len = sizes[i], .ts = ts + (int64_t)i * d->frame_samples, .key = true};
    fn(ud, &au);
    data += sizes[i];
  }
  return 0;
}

/* ---- packets ---- */

int vg_rtp_depack_push(vg_rtp_depack *d, const uint8_t *pkt, size_t len, vg_rtp_emit_fn fn,
                       void *ud) {
  if (len < 12 || (pkt[0] >> 6) != 2) {
    d->stats.malformed++;
    return VG_EINVAL;
  }
  size_t off = 12 + 4u * (pkt[0] & 0x0f);
  if (pkt[0] & 0x10) { /* header extension */
    if (off + 4 > len) goto bad;
    off += 4 + 4u * ((size_t)pkt[off + 2] << 8 | pkt[off + 3]);
  }
  size_t end = len;
  if (pkt[0] & 0x20) { /* padding */
    size_t pad = pkt[len - 1];
    if (pad == 0 || pad > len) goto bad;
    end = len - pad;
  }
  if (off > end) goto bad;
  bool marker = pkt[1] & 0x80;
  uint16_t seq = (uint16_t)(pkt[2] << 8 | pkt[3]);
  uint32_t ts = (uint32_t)pkt[4] << 24 | (uint32_t)pkt[5] << 16 | (uint32_t)pkt[6] << 8 | pkt[7];

  if (d->have_seq && seq != d->next_seq) {
    int16_t gap = (int16_t)(seq - d->next_seq);
    if (gap < 0) return 0; /* late or repeated: already given up on */
    d->stats.lost += gap;
    if (is_video(d)) {
      if (d->in_au)
        d->au_broken = true;
      else
        d->wait_key = true;
    } else if (d->in_frag) {
      d->stats.dropped_aus++;
      frag_reset(d);
    }
  }
  d->have_seq = true;
  d->next_seq = (uint16_t)(seq + 1);
  d->stats.packets++;

  if (!d->have_ts) {
    d->ext_ts = ts;
    d->have_ts = true;
  } else {
    d->ext_ts += (int32_t)(ts - d->last_ts);
  }
  d->last_ts = ts;

  const uint8_t *pl = pkt + off;
  size_t n = end - off;
  if (is_video(d)) {
    if (d->in_au && d->au_ts != d->ext_ts) au_finish(d, fn, ud); /* marker lost */
    if (!d->in_au) {
      d->in_au = true;
      d->au_ts = d->ext_ts;
    }
    int rc = video_payload(d, pl, n);
    if (rc) {
      d->au_broken = true;
      d->stats.malformed++;
    }
    if (marker) au_finish(d, fn, ud);
    return rc;
  }
  if (d->fmt == VG_RTP_AAC) {
    int rc = aac_payload(d, pl, n, d->ext_ts, marker, fn, ud);
    if (rc) d->stats.malformed++;
    return rc;
  }
  if (n == 0) return 0;
  vg_rtp_au au = {.data = pl, .len = n, .ts = d->ext_ts, .key = true};
  fn(ud, &au);
  return 0;

bad:
  d->stats.malformed++;
  return VG_EINVAL;
}

/* ---- SPS picture size ---- */

#define SPS_RBSP_MAX 512

typedef struct sps_bits {
  uint8_t b[SPS_RBSP_MAX];
  size_t len, pos; /* len in bytes, pos in bits */
  bool err;
} sps_bits;

static uint32_t sb_u(sps_bits *s, int n) {
  uint32_t v = 0;
  for (int i = 0; i < n; i++) {
    if (s->pos >= s->len * 8) {
      s->err = true;
      return 0;
    }
    v = v << 1 | ((s->b[s->pos >> 3] >> (7 - (s->pos & 7))) & 1);
    s->pos++;
  }
  return v;
}

static uint32_t sb_ue(sps_bits *s) {
  int zeros = 0;
  while (!s->err && sb_u(s, 1) == 0)
    if (++zeros > 31) {
      s->err = true;
      return 0;
    }
  if (s->err) return 0;
  return (uint32_t)(((uint64_t)1 << zeros) - 1 + sb_u(s, zeros));
}

static int32_t sb_se(sps_bits *s) {
  uint32_t k = sb_ue(s);
  return k & 1 ? (int32_t)((k + 1) / 2) : -(int32_t)(k / 2);
}

/* RBSP of a NAL unit after its hdr header bytes (emulation prevention
 * bytes removed), at most SPS_RBSP_MAX bytes. */
static void sb_load(sps_bits *s, const uint8_t *nal, size_t n, size_t hdr) {
  s->len = s->pos = 0;
  s->err = false;
  int zeros = 0;
  for (size_t i = hdr; i < n && s->len < SPS_RBSP_MAX; i++) {
    if (zeros >= 2 && nal[i] == 3) {
      zeros = 0;
      continue;
    }
    zeros = nal[i] == 0 ? zeros + 1 : 0;
    s->b[s->len++] = nal[i];
  }
}

/* The first NAL unit of type want in an Annex-B buffer. */
static bool find_nal(vg_codec_id codec, const uint8_t *d, size_t len, int want, const uint8_t **nal,
                     size_t *nlen) {
  size_t i = 0;
  while (i + 3 <= len) {
    if (d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1) {
      size_t s = i + 3, e = s;
      while (e + 3 <= len && !(d[e] == 0 && d[e + 1] == 0 && (d[e + 2] == 1 || d[e + 2] == 0))) e++;
      if (e + 3 > len) e = len;
      if (s < e) {
        int t = codec == VG_CODEC_H265 ? (d[s] >> 1) & 0x3f : d[s] & 0x1f;
        if (t == want) {
          *nal = d + s;
          *nlen = e - s;
          return true;
        }
      }
      i = s;
    } else {
      i++;
    }
  }
  return false;
}

static void hrd_skip(sps_bits *s) {
  uint32_t cpb = sb_ue(s) + 1;
  if (cpb > 32) {
    s->err = true;
    return;
  }
  sb_u(s, 8); /* bit_rate_scale, cpb_size_scale */
  for (uint32_t i = 0; i < cpb && !s->err; i++) {
    sb_ue(s);
    sb_ue(s);
    sb_u(s, 1);
  }
  sb_u(s, 20); /* four 5-bit lengths */
}

/* max_num_reorder_frames of the VUI after frame cropping, or -1 when the
 * SPS does not say. */
static int h264_vui_reorder(sps_bits *s) {
  if (!sb_u(s, 1)) return -1;                       /* vui_parameters_present_flag */
  if (sb_u(s, 1) && sb_u(s, 8) == 255) sb_u(s, 32); /* aspect ratio, extended SAR */
  if (sb_u(s, 1)) sb_u(s, 1);                       /* overscan */
  if (sb_u(s, 1)) {                                 /* video_signal_type */
    sb_u(s, 4);
    if (sb_u(s, 1)) sb_u(s, 24);
  }
  if (sb_u(s, 1)) { /* chroma_loc_info */
    sb_ue(s);
    sb_ue(s);
  }
  if (sb_u(s, 1)) { /* timing_info */
    sb_u(s, 32);
    sb_u(s, 32);
    sb_u(s, 1);
  }
  bool nal = sb_u(s, 1);
  if (nal) hrd_skip(s);
  bool vcl = sb_u(s, 1);
  if (vcl) hrd_skip(s);
  if (nal || vcl) sb_u(s, 1);           /* low_delay_hrd_flag */
  sb_u(s, 1);                           /* pic_struct_present_flag */
  if (!sb_u(s, 1) || s->err) return -1; /* bitstream_restriction_flag */
  sb_u(s, 1);
  sb_ue(s);
  sb_ue(s);
  sb_ue(s);
  sb_ue(s);
  uint32_t reorder = sb_ue(s);
  if (s->err || reorder > 16) return -1;
  return (int)reorder;
}

static int h264_size(sps_bits *s, int *w, int *h, int *reorder) {
  uint32_t profile = sb_u(s, 8);
  sb_u(s, 16); /* constraint flags, level */
  sb_ue(s);    /* seq_parameter_set_id */
  uint32_t chroma = 1;
  if (profile == 100 || profile == 110 || profile == 122 || profile == 244 || profile == 44 ||
      profile == 83 || profile == 86 || profile == 118 || profile == 128 || profile == 138 ||
      profile == 139 || profile == 134 || profile == 135) {
    chroma = sb_ue(s);
    if (chroma == 3) sb_u(s, 1);
    sb_ue(s);         /* bit_depth_luma_minus8 */
    sb_ue(s);         /* bit_depth_chroma_minus8 */
    sb_u(s, 1);       /* qpprime_y_zero_transform_bypass_flag */
    if (sb_u(s, 1)) { /* seq_scaling_matrix_present_flag */
      for (int i = 0; i < (chroma != 3 ? 8 : 12) && !s->err; i++) {
        if (!sb_u(s, 1)) continue;
        int size = i < 6 ? 16 : 64, last = 8, next = 8;
        for (int j = 0; j < size && !s->err; j++) {
          if (next != 0) next = (last + sb_se(s) + 256) % 256;
          last = next == 0 ? last : next;
        }
      }
    }
  }
  sb_ue(s); /* log2_max_frame_num_minus4 */
  uint32_t poc = sb_ue(s);
  if (poc == 0) {
    sb_ue(s);
  } else if (poc == 1) {
    sb_u(s, 1);
    sb_se(s);
    sb_se(s);
    uint32_t cycle = sb_ue(s);
    if (cycle > 255) return VG_EINVAL;
    for (uint32_t i = 0; i < cycle && !s->err; i++) sb_se(s);
  }
  sb_ue(s);   /* max_num_ref_frames */
  sb_u(s, 1); /* gaps_in_frame_num_value_allowed_flag */
  uint32_t wmbs = sb_ue(s) + 1, hmaps = sb_ue(s) + 1;
  uint32_t frame_mbs_only = sb_u(s, 1);
  if (!frame_mbs_only) sb_u(s, 1);
  sb_u(s, 1); /* direct_8x8_inference_flag */
  uint32_t cl = 0, cr = 0, ct = 0, cb = 0;
  if (sb_u(s, 1)) {
    cl = sb_ue(s);
    cr = sb_ue(s);
    ct = sb_ue(s);
    cb = sb_ue(s);
  }
  if (s->err || wmbs > 1024 || hmaps > 1024 || chroma > 3) return VG_EINVAL;
  if (reorder) *reorder = h264_vui_reorder(s);
  uint32_t cux = chroma == 0 || chroma == 3 ? 1 : 2;
  uint32_t cuy = (chroma == 1 ? 2 : 1) * (2 - frame_mbs_only);
  int64_t width = (int64_t)wmbs * 16 - (int64_t)cux * (cl + cr);
  int64_t height = (int64_t)(2 - frame_mbs_only) * hmaps * 16 - (int64_t)cuy * (ct + cb);
  if (width <= 0 || height <= 0) return VG_EINVAL;
  *w = (int)width;
  *h = (int)height;
  return 0;
}

static int h265_size(sps_bits *s, int *w, int *h, int *reorder) {
  sb_u(s, 4); /* sps_video_parameter_set_id */
  uint32_t sub = sb_u(s, 3);
  sb_u(s, 1);
  if (sub > 6) return VG_EINVAL;
  sb_u(s, 8);  /* profile space, tier, profile idc */
  sb_u(s, 32); /* compatibility flags */
  sb_u(s, 24);
  sb_u(s, 24); /* constraint flags (48 bits) */
  sb_u(s, 8);  /* level */
  bool prof[8] = {0}, lvl[8] = {0};
  for (uint32_t i = 0; i < sub; i++) {
    prof[i] = sb_u(s, 1);
    lvl[i] = sb_u(s, 1);
  }
  if (sub > 0)
    for (uint32_t i = sub; i < 8; i++) sb_u(s, 2);
  for (uint32_t i = 0; i < sub; i++) {
    if (prof[i]) {
      sb_u(s, 32);
      sb_u(s, 32);
      sb_u(s, 24);
    }
    if (lvl[i]) sb_u(s, 8);
  }
  sb_ue(s); /* sps_seq_parameter_set_id */
  uint32_t chroma = sb_ue(s);
  if (chroma == 3) sb_u(s, 1);
  uint32_t width = sb_ue(s), height = sb_ue(s);
  uint32_t cl = 0, cr = 0, ct = 0, cb = 0;
  if (sb_u(s, 1)) {
    cl = sb_ue(s);
    cr = sb_ue(s);
    ct = sb_ue(s);
    cb = sb_ue(s);
  }
  if (s->err || chroma > 3 || width > 16888 || height > 16888) return VG_EINVAL;
  if (reorder) {
    sb_ue(s);              /* bit_depth_luma_minus8 */
    sb_ue(s);              /* bit_depth_chroma_minus8 */
    sb_ue(s);              /* log2_max_pic_order_cnt_lsb_minus4 */
    bool all = sb_u(s, 1); /* sps_sub_layer_ordering_info_present_flag */
    uint32_t n = 0;
    for (uint32_t i = all ? 0 : sub; i <= sub && !s->err; i++) {
      sb_ue(s); /* sps_max_dec_pic_buffering_minus1 */
      n = sb_ue(s);
      sb_ue(s); /* sps_max_latency_increase_plus1 */
    }
    *reorder = s->err || n > 16 ? -1 : (int)n; /* of the highest sub-layer */
  }
  uint32_t sw = chroma == 1 || chroma == 2 ? 2 : 1, shh = chroma == 1 ? 2 : 1;
  int64_t ww = (int64_t)width - (int64_t)sw * (cl + cr);
  int64_t hh = (int64_t)height - (int64_t)shh * (ct + cb);
  if (ww <= 0 || hh <= 0) return VG_EINVAL;
  *w = (int)ww;
  *h = (int)hh;
  return 0;
}

static int video_sps(vg_codec_id codec, const uint8_t *annexb, size_t len, int *width, int *height,
                     int *reorder) {
  const uint8_t *nal;
  size_t n;
  if (codec != VG_CODEC_H264 && codec != VG_CODEC_H265) return VG_EINVAL;
  if (!find_nal(codec, annexb, len, codec == VG_CODEC_H265 ? 33 : 7, &nal, &n)) return VG_EINVAL;
  sps_bits *s = malloc(sizeof *s);
  if (!s) return VG_ENOMEM;
  sb_load(s, nal, n, codec == VG_CODEC_H265 ? 2 : 1);
  int rc = codec == VG_CODEC_H265 ? h265_size(s, width, height, reorder)
                                  : h264_size(s, width, height, reorder);
  free(s);
  return rc;
}

int vg_rtp_video_size(vg_codec_id codec, const uint8_t *annexb, size_t len, int *width,
                      int *height) {
  return video_sps(codec, annexb, len, width, height, NULL);
}

int vg_rtp_video_reorder(vg_codec_id codec, const uint8_t *annexb, size_t len, int *depth) {
  int w, h, r = -1;
  int rc = video_sps(codec, annexb, len, &w, &h, &r);
  if (rc != 0) return rc;
  if (r < 0) return VG_ENOTFOUND;
  *depth = r;
  return 0;
}
