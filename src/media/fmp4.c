/* fmp4.c - fragmented MP4 writer.
 *
 * Every box is written by a small function named after it (write_tkhd,
 * write_trun, ...) through a byte writer that runs twice: once without a
 * buffer to measure, then into one allocation of exactly that size. The
 * same code computes the size and the bytes, so they cannot disagree, and
 * a fragment costs one malloc and one copy of each payload; or, as parts
 * (vg_fmp4_fragment_parts), a small head and no copy at all.
 *
 * Queued samples keep a reference to their frame's payload until the
 * fragment that holds them is written. Samples are grouped per track in
 * mdat (video then audio); each traf's trun points into mdat with a data
 * offset relative to the moof (default-base-is-moof), the layout MSE and
 * CMAF expect. */
#include "media/fmp4.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

#define MOVIE_TIMESCALE 1000

/* sample_flags (ISO/IEC 14496-12 8.8.3.1): sample_depends_on in bits
 * 24-25, sample_is_non_sync_sample in bit 16. */
#define SAMPLE_FLAGS_SYNC 0x02000000u     /* depends on no other sample */
#define SAMPLE_FLAGS_NON_SYNC 0x01010000u /* depends on others, not sync */

#define TFHD_DEFAULT_BASE_IS_MOOF 0x020000u
#define TRUN_DATA_OFFSET 0x000001u
#define TRUN_SAMPLE_DURATION 0x000100u
#define TRUN_SAMPLE_SIZE 0x000200u
#define TRUN_SAMPLE_FLAGS 0x000400u
#define TRUN_SAMPLE_CTO 0x000800u

typedef struct sample {
  vg_buf *data;
  int64_t dts;            /* on the output timeline (input + track offset) */
  int32_t cto;            /* pts - dts */
  int64_t frame_duration; /* the frame's own duration, 0 when unknown */
  int64_t wall_ms;
  bool sync;
  uint32_t duration; /* set when the fragment is written */
} sample;

typedef struct track {
  vg_codec_params p;
  int kind;    /* VG_TRACK_VIDEO / VG_TRACK_AUDIO */
  uint32_t id; /* track_ID */
  sample *q;
  size_t n, cap;
  bool have_last;        /* a sample was queued or written */
  int64_t last_dts;      /* output dts of the latest sample */
  int64_t last_duration; /* of the latest written sample, 0 before any */
  int64_t offset;        /* added to input pts/dts */
  bool rebase;           /* recompute offset at the next sample */
} track;

struct vg_fmp4 {
  track tracks[2];
  int ntracks;
  int map[2]; /* VG_TRACK_* -> index in tracks, -1 when absent */
  uint32_t sequence;
  size_t pending_bytes;
};

/* ---- byte writer ---- */

/* With p == NULL it only counts; otherwise it writes into p[0..cap). */
typedef struct bw {
  uint8_t *p;
  size_t cap;
  size_t pos;
} bw;

static void put_bytes(bw *b, const void *d, size_t n) {
  if (b->p) {
    assert(b->pos + n <= b->cap);
    memcpy(b->p + b->pos, d, n);
  }
  b->pos += n;
}

static void put_zeros(bw *b, size_t n) {
  if (b->p) {
    assert(b->pos + n <= b->cap);
    memset(b->p + b->pos, 0, n);
  }
  b->pos += n;
}

static void put8(bw *b, uint8_t v) { put_bytes(b, &v, 1); }

static void put16(bw *b, uint16_t v) {
  uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
  put_bytes(b, x, 2);
}

static void put24(bw *b, uint32_t v) {
  uint8_t x[3] = {(uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
  put_bytes(b, x, 3);
}

static void put32(bw *b, uint32_t v) {
  uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
  put_bytes(b, x, 4);
}

static void put64(bw *b, uint64_t v) {
  put32(b, (uint32_t)(v >> 32));
  put32(b, (uint32_t)v);
}

static void put_fourcc(bw *b, const char *cc) { put_bytes(b, cc, 4); }

static void patch32(bw *b, size_t at, uint32_t v) {
  if (!b->p) return;
  b->p[at] = (uint8_t)(v >> 24);
  b->p[at + 1] = (uint8_t)(v >> 16);
  b->p[at + 2] = (uint8_t)(v >> 8);
  b->p[at + 3] = (uint8_t)v;
}

/* Starts a box; box_close fills in its size. Returns the box's offset. */
static size_t box_open(bw *b, const char *type) {
  size_t start = b->pos;
  put32(b, 0);
  put_fourcc(b, type);
  return start;
}

static size_t fullbox_open(bw *b, const char *type, uint8_t version, uint32_t flags) {
  size_t start = box_open(b, type);
  put8(b, version);
  put24(b, flags);
  return start;
}

static void box_close(bw *b, size_t start) { patch32(b, start, (uint32_t)(b->pos - start)); }

/* MPEG-4 descriptors (14496-1) with the fixed 4-byte length form, so the
 * length can be patched like a box size. */
static size_t desc_open(bw *b, uint8_t tag) {
  put8(b, tag);
  size_t start = b->pos;
  put32(b, 0);
  return start;
}

static void desc_close(bw *b, size_t start) {
  if (!b->p) return;
  uint32_t len = (uint32_t)(b->pos - start - 4);
  b->p[start] = (uint8_t)(0x80 | ((len >> 21) & 0x7f));
  b->p[start + 1] = (uint8_t)(0x80 | ((len >> 14) & 0x7f));
  b->p[start + 2] = (uint8_t)(0x80 | ((len >> 7) & 0x7f));
  b->p[start + 3] = (uint8_t)(len & 0x7f);
}

static void put_matrix(bw *b) {
  static const uint32_t unity[9] = {0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000};
  for (int i = 0; i < 9; i++) put32(b, unity[i]);
}

/* ---- init segment ---- */

static void write_ftyp(bw *b) {
  size_t s = box_open(b, "ftyp");
  put_fourcc(b, "iso6"); /* major brand: fragments, tfdt */
  put32(b, 0);           /* minor version */
  put_fourcc(b, "iso6");
  put_fourcc(b, "mp41");
  put_fourcc(b, "dash");
  box_close(b, s);
}

static void write_mvhd(bw *b, uint32_t next_track_id) {
  size_t s = fullbox_open(b, "mvhd", 0, 0);
  put32(b, 0); /* creation_time */
  put32(b, 0); /* modification_time */
  put32(b, MOVIE_TIMESCALE);
  put32(b, 0);          /* duration: unknown, the fragments tell */
  put32(b, 0x00010000); /* rate 1.0 */
  put16(b, 0x0100);     /* volume 1.0 */
  put_zeros(b, 10);
  put_matrix(b);
  put_zeros(b, 24); /* pre_defined */
  put32(b, next_track_id);
  box_close(b, s);
}

static void write_tkhd(bw *b, const track *t) {
  size_t s = fullbox_open(b, "tkhd", 0, 0x3); /* enabled, in movie */
  put32(b, 0);                                /* creation_time */
  put32(b, 0);                                /* modification_time */
  put32(b, t->id);
  put32(b, 0); /* reserved */
  put32(b, 0); /* duration */
  put_zeros(b, 8);
  put16(b, 0); /* layer */
  put16(b, 0); /* alternate_group */
  put16(b, t->kind == VG_TRACK_AUDIO ? 0x0100 : 0);
  put16(b, 0);
  put_matrix(b);
  bool video = t->kind == VG_TRACK_VIDEO;
  put32(b, video ? (uint32_t)t->p.width << 16 : 0);
  put32(b, video ? (uint32_t)t->p.height << 16 : 0);
  box_close(b, s);
}

static void write_mdhd(bw *b, const track *t) {
  size_t s = fullbox_open(b, "mdhd", 0, 0);
  put32(b, 0); /* creation_time */
  put32(b, 0); /* modification_time */
  put32(b, t->p.timescale);
  put32(b, 0);      /* duration */
  put16(b, 0x55c4); /* language "und", packed ISO-639-2/T */
  put16(b, 0);
  box_close(b, s);
}

static void write_hdlr(bw *b, const track *t) {
  bool video = t->kind == VG_TRACK_VIDEO;
  const char *name = video ? "VideoHandler" : "SoundHandler";
  size_t s = fullbox_open(b, "hdlr", 0, 0);
  put32(b, 0); /* pre_defined */
  put_fourcc(b, video ? "vide" : "soun");
  put_zeros(b, 12);
  put_bytes(b, name, strlen(name) + 1);
  box_close(b, s);
}

static void write_vmhd(bw *b) {
  size_t s = fullbox_open(b, "vmhd", 0, 1);
  put16(b, 0);     /* graphicsmode: copy */
  put_zeros(b, 6); /* opcolor */
  box_close(b, s);
}

static void write_smhd(bw *b) {
  size_t s = fullbox_open(b, "smhd", 0, 0);
  put16(b, 0); /* balance */
  put16(b, 0);
  box_close(b, s);
}

static void write_dinf(bw *b) {
  size_t s = box_open(b, "dinf");
  size_t d = fullbox_open(b, "dref", 0, 0);
  put32(b, 1);
  size_t u = fullbox_open(b, "url ", 0, 1); /* media data in this file */
  box_close(b, u);
  box_close(b, d);
  box_close(b, s);
}

static void write_config_box(bw *b, const char *type, const vg_codec_params *p) {
  size_t s = box_open(b, type);
  put_bytes(b, p->extradata, p->extradata_len);
  box_close(b, s);
}

/* VisualSampleEntry (avc1 / hvc1) with its decoder configuration. */
static void write_visual_entry(bw *b, const track *t) {
  bool hevc = t->p.codec == VG_CODEC_H265;
  size_t s = box_open(b, hevc ? "hvc1" : "avc1");
  put_zeros(b, 6);
  put16(b, 1); /* data_reference_index */
  put16(b, 0); /* pre_defined */
  put16(b, 0);
  put_zeros(b, 12); /* pre_defined */
  put16(b, (uint16_t)t->p.width);
  put16(b, (uint16_t)t->p.height);
  put32(b, 0x00480000); /* 72 dpi */
  put32(b, 0x00480000);
  put32(b, 0);
  put16(b, 1);      /* frame_count */
  put_zeros(b, 32); /* compressorname */
  put16(b, 0x0018); /* depth */
  put16(b, 0xffff); /* pre_defined = -1 */
  write_config_box(b, hevc ? "hvcC" : "avcC", &t->p);
  box_close(b, s);
}

/* ES_Descriptor carrying the AudioSpecificConfig (14496-14 5.6). */
static void write_esds(bw *b, const track *t) {
  size_t s = fullbox_open(b, "esds", 0, 0);
  size_t es = desc_open(b, 0x03);
  put16(b, (uint16_t)t->id); /* ES_ID */
  put8(b, 0);                /* no dependency, URL or OCR */
  size_t dc = desc_open(b, 0x04);
  put8(b, 0x40); /* objectTypeIndication: MPEG-4 Audio */
  put8(b, 0x15); /* streamType audio (5) << 2 | reserved 1 */
  put24(b, 0);   /* bufferSizeDB */
  put32(b, 0);   /* maxBitrate */
  put32(b, 0);   /* avgBitrate: variable */
  size_t dsi = desc_open(b, 0x05);
  put_bytes(b, t->p.extradata, t->p.extradata_len);
  desc_close(b, dsi);
  desc_close(b, dc);
  size_t sl = desc_open(b, 0x06);
  put8(b, 0x02); /* predefined: MP4 */
  desc_close(b, sl);
  desc_close(b, es);
  box_close(b, s);
}

static void write_mp4a(bw *b, const track *t) {
  size_t s = box_open(b, "mp4a");
  put_zeros(b, 6);
  put16(b, 1); /* data_reference_index */
  put_zeros(b, 8);
  put16(b, (uint16_t)(t->p.channels > 0 ? t->p.channels : 2));
  put16(b, 16); /* samplesize */
  put16(b, 0);  /* pre_defined */
  put16(b, 0);
  /* 16.16 fixed point; rates past 65535 do not fit and read the mdhd. */
  uint32_t rate = (uint32_t)(t->p.sample_rate > 0 ? t->p.sample_rate : (int)t->p.timescale);
  put32(b, rate <= 0xffff ? rate << 16 : 0);
  write_esds(b, t);
  box_close(b, s);
}

static void write_stsd(bw *b, const track *t) {
  size_t s = fullbox_open(b, "stsd", 0, 0);
  put32(b, 1); /* entry_count */
  if (t->kind == VG_TRACK_VIDEO) {
    write_visual_entry(b, t);
  } else {
    write_mp4a(b, t);
  }
  box_close(b, s);
}

/* Sample tables stay empty: every sample lives in a fragment. */
static void write_empty_table(bw *b, const char *type) {
  size_t s = fullbox_open(b, type, 0, 0);
  put32(b, 0); /* entry_count */
  box_close(b, s);
}

static void write_stsz(bw *b) {
  size_t s = fullbox_open(b, "stsz", 0, 0);
  put32(b, 0); /* sample_size */
  put32(b, 0); /* sample_count */
  box_close(b, s);
}

static void write_stbl(bw *b, const track *t) {
  size_t s = box_open(b, "stbl");
  write_stsd(b, t);
  write_empty_table(b, "stts");
  write_empty_table(b, "stsc");
  write_stsz(b);
  write_empty_table(b, "stco");
  box_close(b, s);
}

static void write_minf(bw *b, const track *t) {
  size_t s = box_open(b, "minf");
  if (t->kind == VG_TRACK_VIDEO) {
    write_vmhd(b);
  } else {
    write_smhd(b);
  }
  write_dinf(b);
  write_stbl(b, t);
  box_close(b, s);
}

static void write_mdia(bw *b, const track *t) {
  size_t s = box_open(b, "mdia");
  write_mdhd(b, t);
  write_hdlr(b, t);
  write_minf(b, t);
  box_close(b, s);
}

static void write_trak(bw *b, const track *t) {
  size_t s = box_open(b, "trak");
  write_tkhd(b, t);
  write_mdia(b, t);
  box_close(b, s);
}

static void write_trex(bw *b, const track *t) {
  size_t s = fullbox_open(b, "trex", 0, 0);
  put32(b, t->id);
  put32(b, 1); /* default_sample_description_index */
  put32(b, 0); /* default_sample_duration */
  put32(b, 0); /* default_sample_size */
  put32(b, 0); /* default_sample_flags */
  box_close(b, s);
}

static void write_mvex(bw *b, const vg_fmp4 *w) {
  size_t s = box_open(b, "mvex");
  for (int i = 0; i < w->ntracks; i++) write_trex(b, &w->tracks[i]);
  box_close(b, s);
}

static void write_moov(bw *b, const vg_fmp4 *w) {
  size_t s = box_open(b, "moov");
  write_mvhd(b, (uint32_t)w->ntracks + 1);
  for (int i = 0; i < w->ntracks; i++) write_trak(b, &w->tracks[i]);
  write_mvex(b, w);
  box_close(b, s);
}

static void write_init(bw *b, const vg_fmp4 *w) {
  write_ftyp(b);
  write_moov(b, w);
}

/* ---- fragment ---- */

static void write_mfhd(bw *b, uint32_t sequence) {
  size_t s = fullbox_open(b, "mfhd", 0, 0);
  put32(b, sequence);
  box_close(b, s);
}

static void write_tfhd(bw *b, const track *t) {
  size_t s = fullbox_open(b, "tfhd", 0, TFHD_DEFAULT_BASE_IS_MOOF);
  put32(b, t->id);
  box_close(b, s);
}

static void write_tfdt(bw *b, const track *t) {
  size_t s = fullbox_open(b, "tfdt", 1, 0);
  put64(b, (uint64_t)t->q[0].dts);
  box_close(b, s);
}

static uint32_t sample_flags(const track *t, const sample *x) {
  if (t->kind == VG_TRACK_AUDIO || x->sync) return SAMPLE_FLAGS_SYNC;
  return SAMPLE_FLAGS_NON_SYNC;
}

/* data_offset: where this track's first sample starts, from the moof. */
static void write_trun(bw *b, const track *t, uint32_t data_offset) {
  bool cto = false;
  for (size_t i = 0; i < t->n; i++) cto |= t->q[i].cto != 0;
  uint32_t flags = TRUN_DATA_OFFSET | TRUN_SAMPLE_DURATION | TRUN_SAMPLE_SIZE | TRUN_SAMPLE_FLAGS;
  if (cto) flags |= TRUN_SAMPLE_CTO;
  /* Version 1 makes the composition offsets signed. */
  size_t s = fullbox_open(b, "trun", cto ? 1 : 0, flags);
  put32(b, (uint32_t)t->n);
  put32(b, data_offset);
  for (size_t i = 0; i < t->n; i++) {
    const sample *x = &t->q[i];
    put32(b, x->duration);
    put32(b, (uint32_t)x->data->len);
    put32(b, sample_flags(t, x));
    if (cto) put32(b, (uint32_t)x->cto);
  }
  box_close(b, s);
}

static void write_traf(bw *b, const track *t, uint32_t data_offset) {
  size_t s = box_open(b, "traf");
  write_tfhd(b, t);
  write_tfdt(b, t);
  write_trun(b, t, data_offset);
  box_close(b, s);
}

static size_t track_payload(const track *t) {
  size_t n = 0;
  for (size_t i = 0; i < t->n; i++) n += t->q[i].data->len;
  return n;
}

/* moof_size is 0 in the measuring pass; data offsets do not change sizes. */
static void write_moof(bw *b, const vg_fmp4 *w, size_t moof_size) {
  size_t s = box_open(b, "moof");
  write_mfhd(b, w->sequence);
  size_t data = moof_size + 8; /* past the mdat header */
  for (int i = 0; i < w->ntracks; i++) {
    const track *t = &w->tracks[i];
    if (t->n == 0) continue;
    write_traf(b, t, (uint32_t)data);
    data += track_payload(t);
  }
  box_close(b, s);
}

static void write_mdat(bw *b, const vg_fmp4 *w) {
  size_t s = box_open(b, "mdat");
  for (int i = 0; i < w->ntracks; i++) {
    const track *t = &w->tracks[i];
    for (size_t j = 0; j < t->n; j++) put_bytes(b, t->q[j].data->data, t->q[j].data->len);
  }
  box_close(b, s);
}

/* ---- writer ---- */

static int64_t default_duration(const track *t) {
  const vg_codec_params *p = &t->p;
  if (t->kind == VG_TRACK_AUDIO) {
    int64_t rate = p->sample_rate > 0 ? (int64_t)p->sample_rate : (int64_t)p->timescale;
    return 1024 * (int64_t)p->timescale / rate; /* one AAC frame */
  }
  if (p->fps_num > 0 && p->fps_den > 0) {
    int64_t d = (int64_t)p->timescale * p->fps_den / p->fps_num;
    if (d > 0) return d;
  }
  return p->timescale / 25 > 0 ? p->timescale / 25 : 1;
}

static bool valid_duration(int64_t d) { return d > 0 && d <= UINT32_MAX; }

/* Fills in the durations of the queued samples of t. */
static void set_durations(track *t) {
  for (size_t i = 0; i + 1 < t->n; i++)
    t->q[i].duration = (uint32_t)(t->q[i + 1].dts - t->q[i].dts);
  sample *last = &t->q[t->n - 1];
  int64_t d;
  if (valid_duration(last->frame_duration)) {
    d = last->frame_duration;
  } else if (t->n >= 2) {
    d = t->q[t->n - 2].duration;
  } else if (valid_duration(t->last_duration)) {
    d = t->last_duration;
  } else {
    d = default_duration(t);
  }
  last->duration = (uint32_t)d;
}

/* Where the next sample of t would start if it followed the latest one. */
static int64_t track_next_dts(const track *t) {
  if (t->n > 0) {
    const sample *last = &t->q[t->n - 1];
    if (valid_duration(last->frame_duration)) return last->dts + last->frame_duration;
    if (t->n >= 2) return last->dts + (last->dts - t->q[t->n - 2].dts);
  }
  if (valid_duration(t->last_duration)) return t->last_dts + t->last_duration;
  return t->last_dts + default_duration(t);
}

static int track_init(track *t, const vg_codec_params *p, int kind, uint32_t id) {
  if (p->timescale == 0 || p->extradata_len == 0 || p->extradata_len > VG_EXTRADATA_MAX)
    return VG_EINVAL;
  if (kind == VG_TRACK_VIDEO && p->codec != VG_CODEC_H264 && p->codec != VG_CODEC_H265)
    return VG_EINVAL;
  if (kind == VG_TRACK_AUDIO && p->codec != VG_CODEC_AAC) return VG_EINVAL;
  if (kind == VG_TRACK_VIDEO &&
      (p->width < 0 || p->width > 0xffff || p->height < 0 || p->height > 0xffff))
    return VG_EINVAL;
  memset(t, 0, sizeof *t);
  t->p = *p;
  t->kind = kind;
  t->id = id;
  return 0;
}

int vg_fmp4_new(const vg_codec_params *video, const vg_codec_params *audio, vg_fmp4 **out) {
  *out = NULL;
  if (!video && !audio) return VG_EINVAL;
  vg_fmp4 *w = calloc(1, sizeof *w);
  if (!w) return VG_ENOMEM;
  w->map[0] = w->map[1] = -1;
  int rc = 0;
  if (video) {
    rc = track_init(&w->tracks[w->ntracks], video, VG_TRACK_VIDEO, (uint32_t)w->ntracks + 1);
    w->map[VG_TRACK_VIDEO] = w->ntracks++;
  }
  if (!rc && audio) {
    rc = track_init(&w->tracks[w->ntracks], audio, VG_TRACK_AUDIO, (uint32_t)w->ntracks + 1);
    w->map[VG_TRACK_AUDIO] = w->ntracks++;
  }
  if (rc) {
    free(w);
    return rc;
  }
  w->sequence = 1;
  *out = w;
  return 0;
}

static void track_drop_queue(track *t) {
  for (size_t i = 0; i < t->n; i++) vg_buf_unref(t->q[i].data);
  t->n = 0;
}

void vg_fmp4_free(vg_fmp4 *w) {
  if (!w) return;
  for (int i = 0; i < w->ntracks; i++) {
    track_drop_queue(&w->tracks[i]);
    free(w->tracks[i].q);
  }
  free(w);
}

/* Runs a writer twice: measure, then fill one exact allocation. */
static int write_twice(void (*fn)(bw *, const vg_fmp4 *), const vg_fmp4 *w, vg_buf **out) {
  bw m = {NULL, 0, 0};
  fn(&m, w);
  vg_buf *buf = vg_buf_new(m.pos);
  if (!buf) return VG_ENOMEM;
  bw b = {buf->data, buf->len, 0};
  fn(&b, w);
  assert(b.pos == buf->len);
  *out = buf;
  return 0;
}

int vg_fmp4_init_segment(vg_fmp4 *w, vg_buf **out) {
  *out = NULL;
  return write_twice(write_init, w, out);
}

size_t vg_fmp4_pending(const vg_fmp4 *w) {
  size_t n = 0;
  for (int i = 0; i < w->ntracks; i++) n += w->tracks[i].n;
  return n;
}

int vg_fmp4_add(vg_fmp4 *w, const vg_frame *f) {
  if (!f || f->track < 0 || f->track > 1 || w->map[f->track] < 0) return VG_EINVAL;
  if (!f->data || f->data->len == 0) return VG_EINVAL;
  track *t = &w->tracks[w->map[f->track]];
  if (t->n >= VG_FMP4_MAX_SAMPLES) return VG_ETOOBIG;
  if (f->data->len > VG_FMP4_MAX_FRAGMENT_BYTES - w->pending_bytes) return VG_ETOOBIG;

  int64_t offset = t->offset;
  if (t->rebase && t->have_last) offset = track_next_dts(t) - f->dts;
  int64_t dts, pts, cto;
  if (__builtin_add_overflow(f->dts, offset, &dts) ||
      __builtin_add_overflow(f->pts, offset, &pts) || __builtin_sub_overflow(pts, dts, &cto))
    return VG_EINVAL;
  if (dts < 0 || cto < INT32_MIN || cto > INT32_MAX) return VG_EINVAL;
  if (t->have_last && (dts <= t->last_dts || dts - t->last_dts > UINT32_MAX)) return VG_EINVAL;

  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 64;
    if (cap > VG_FMP4_MAX_SAMPLES) cap = VG_FMP4_MAX_SAMPLES;
    sample *q = realloc(t->q, cap * sizeof *q);
    if (!q) return VG_ENOMEM;
    t->q = q;
    t->cap = cap;
  }
  t->offset = offset;
  t->rebase = false;
  sample *x = &t->q[t->n++];
  x->data = vg_buf_ref(f->data);
  x->dts = dts;
  x->cto = (int32_t)cto;
  x->frame_duration = f->duration;
  x->wall_ms = f->wall_ms;
  x->sync = f->keyframe;
  x->duration = 0;
  t->have_last = true;
  t->last_dts = dts;
  w->pending_bytes += f->data->len;
  return 0;
}

static void fill_info(const vg_fmp4 *w, size_t bytes, vg_fmp4_info *info) {
  memset(info, 0, sizeof *info);
  info->sequence = w->sequence;
  info->bytes = bytes;
  info->keyframe = true;
  for (int k = 0; k < 2; k++) {
    if (w->map[k] < 0) continue;
    const track *t = &w->tracks[w->map[k]];
    info->samples[k] = (uint32_t)t->n;
    if (t->n == 0) continue;
    info->first_dts[k] = t->q[0].dts;
    for (size_t i = 0; i < t->n; i++) info->duration[k] += t->q[i].duration;
  }
  int main = w->map[VG_TRACK_VIDEO] >= 0 ? VG_TRACK_VIDEO : VG_TRACK_AUDIO;
  const track *m = &w->tracks[w->map[main]];
  info->frames = (uint32_t)m->n;
  if (m->n > 0) {
    info->first_wall_ms = m->q[0].wall_ms;
    if (main == VG_TRACK_VIDEO) info->keyframe = m->q[0].sync;
  }
}

/* The first step of cutting a fragment: the queued samples' durations,
 * and the moof measured with dummy offsets (m goes on counting after it)
 * so that it can be written with real ones. VG_EAGAIN: nothing queued. */
static int measure_moof(vg_fmp4 *w, bw *m, size_t *moof_size) {
  if (vg_fmp4_pending(w) == 0) return VG_EAGAIN;
  for (int i = 0; i < w->ntracks; i++) {
    if (w->tracks[i].n) set_durations(&w->tracks[i]);
  }
  *m = (bw){NULL, 0, 0};
  write_moof(m, w, 0);
  *moof_size = m->pos;
  return 0;
}

int vg_fmp4_fragment(vg_fmp4 *w, vg_buf **out, vg_fmp4_info *info) {
  *out = NULL;
  bw m;
  size_t moof_size;
  int rc = measure_moof(w, &m, &moof_size);
  if (rc) return rc;
  write_mdat(&m, w);
  vg_buf *buf = vg_buf_new(m.pos);
  if (!buf) return VG_ENOMEM;
  bw b = {buf->data, buf->len, 0};
  write_moof(&b, w, moof_size);
  assert(b.pos == moof_size);
  write_mdat(&b, w);
  assert(b.pos == buf->len);

  if (info) fill_info(w, buf->len, info);
  for (int i = 0; i < w->ntracks; i++) {
    track *t = &w->tracks[i];
    if (t->n == 0) continue;
    t->last_duration = t->q[t->n - 1].duration;
    track_drop_queue(t);
  }
  w->pending_bytes = 0;
  w->sequence++;
  *out = buf;
  return 0;
}

/* The mdat header alone: its size counts the payloads written after it. */
static void write_mdat_header(bw *b, const vg_fmp4 *w) {
  size_t payload = 0;
  for (int i = 0; i < w->ntracks; i++) payload += track_payload(&w->tracks[i]);
  put32(b, (uint32_t)(8 + payload));
  put_fourcc(b, "mdat");
}

int vg_fmp4_fragment_parts(vg_fmp4 *w, vg_fmp4_parts *out, vg_fmp4_info *info) {
  memset(out, 0, sizeof *out);
  size_t n = vg_fmp4_pending(w);
  bw m;
  size_t moof_size;
  int rc = measure_moof(w, &m, &moof_size);
  if (rc) return rc;
  write_mdat_header(&m, w);
  vg_buf *head = vg_buf_new(m.pos);
  vg_buf **samples = malloc(n * sizeof *samples);
  if (!head || !samples) {
    vg_buf_unref(head);
    free(samples);
    return VG_ENOMEM;
  }
  bw b = {head->data, head->len, 0};
  write_moof(&b, w, moof_size);
  assert(b.pos == moof_size);
  write_mdat_header(&b, w);
  assert(b.pos == head->len);
  size_t bytes = head->len + w->pending_bytes;
  if (info) fill_info(w, bytes, info);
  /* the queue's references move into the parts */
  size_t k = 0;
  for (int i = 0; i < w->ntracks; i++) {
    track *t = &w->tracks[i];
    if (t->n == 0) continue;
    t->last_duration = t->q[t->n - 1].duration;
    for (size_t j = 0; j < t->n; j++) samples[k++] = t->q[j].data;
    t->n = 0;
  }
  assert(k == n);
  w->pending_bytes = 0;
  w->sequence++;
  out->head = head;
  out->samples = samples;
  out->n = n;
  out->bytes = bytes;
  return 0;
}

void vg_fmp4_parts_release(vg_fmp4_parts *p) {
  if (!p) return;
  vg_buf_unref(p->head);
  for (size_t i = 0; i < p->n; i++) vg_buf_unref(p->samples[i]);
  free(p->samples);
  memset(p, 0, sizeof *p);
}

void vg_fmp4_reset_time(vg_fmp4 *w) {
  for (int i = 0; i < w->ntracks; i++) w->tracks[i].rebase = true;
}
