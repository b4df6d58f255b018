/* bmff.c - bounded ISO-BMFF reader and the fragmented-MP4 scan.
 *
 * The iterator never hands out a box whose bytes are not all inside the
 * range it iterates, so the box parsers below only need to check their
 * own field lengths against body_len (rd_* take the length and fail
 * softly). All arithmetic on sizes read from the file is done in 64 bits
 * with explicit overflow checks. */
#include "media/bmff.h"

#include <string.h>

#include "base/err.h"

uint32_t vg_bmff_be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t rd32(const uint8_t *p) { return vg_bmff_be32(p); }

static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) << 32 | rd32(p + 4); }

typedef vg_bmff_rd rd;

uint32_t vg_bmff_rd_u32(vg_bmff_rd *r) {
  if (r->len - r->pos < 4) {
    r->err = true;
    r->pos = r->len;
    return 0;
  }
  uint32_t v = rd32(r->p + r->pos);
  r->pos += 4;
  return v;
}

uint64_t vg_bmff_rd_u64(vg_bmff_rd *r) {
  uint64_t hi = vg_bmff_rd_u32(r);
  return hi << 32 | vg_bmff_rd_u32(r);
}

void vg_bmff_rd_skip(vg_bmff_rd *r, size_t n) {
  if (r->len - r->pos < n) {
    r->err = true;
    r->pos = r->len;
    return;
  }
  r->pos += n;
}

/* ---- iteration ---- */

void vg_bmff_iter_init(vg_bmff_iter *it, const uint8_t *data, size_t len) {
  it->data = data;
  it->len = data ? len : 0;
  it->pos = 0;
  it->depth = 0;
}

int vg_bmff_iter_children(vg_bmff_iter *it, const vg_bmff_box *box, size_t skip) {
  if (box->depth + 1 > VG_BMFF_MAX_DEPTH) return VG_ETOOBIG;
  if (skip > box->body_len) return VG_EINVAL;
  it->data = box->body + skip;
  it->len = box->body_len - skip;
  it->pos = 0;
  it->depth = box->depth + 1;
  return 0;
}

int vg_bmff_next(vg_bmff_iter *it, vg_bmff_box *box) {
  memset(box, 0, sizeof *box);
  if (it->pos >= it->len) return 0;
  size_t left = it->len - it->pos;
  const uint8_t *p = it->data + it->pos;
  box->offset = it->pos;
  box->depth = it->depth;
  if (left < 8) return VG_EAGAIN;
  uint64_t size = rd32(p);
  box->type = rd32(p + 4);
  box->header = 8;
  if (size == 1) {
    box->header = 16;
    if (left < 16) return VG_EAGAIN;
    size = rd64(p + 8);
  } else if (size == 0) {
    size = left; /* the box runs to the end of its container */
  }
  box->size = size;
  if (size < box->header) return VG_EINVAL;
  if (size > left) return VG_EAGAIN;
  box->body = p + box->header;
  box->body_len = (size_t)size - box->header;
  it->pos += (size_t)size;
  return 1;
}

int vg_bmff_find(const vg_bmff_box *box, size_t skip, uint32_t type, vg_bmff_box *out) {
  vg_bmff_iter it;
  int rc = vg_bmff_iter_children(&it, box, skip);
  if (rc) return rc;
  while ((rc = vg_bmff_next(&it, out)) == 1) {
    if (out->type == type) return 1;
  }
  return rc;
}

/* ---- scan: init segment ---- */

typedef struct trex {
  uint32_t id, duration, size;
} trex;

typedef struct scan {
  const uint8_t *data;
  size_t len;
  vg_bmff_scan_result *r;
  trex trex[VG_BMFF_MAX_TRACKS];
  int ntrex;
} scan;

static vg_bmff_track *track_get(vg_bmff_scan_result *r, uint32_t id, bool add) {
  for (int i = 0; i < r->ntracks; i++) {
    if (r->tracks[i].id == id) return &r->tracks[i];
  }
  if (!add || r->ntracks == VG_BMFF_MAX_TRACKS) return NULL;
  vg_bmff_track *t = &r->tracks[r->ntracks++];
  memset(t, 0, sizeof *t);
  t->id = id;
  return t;
}

const vg_bmff_track *vg_bmff_scan_track(const vg_bmff_scan_result *r, uint32_t id) {
  for (int i = 0; i < r->ntracks; i++) {
    if (r->tracks[i].id == id) return &r->tracks[i];
  }
  return NULL;
}

/* Version-dependent offset of a field in tkhd/mdhd: v1 widens the times. */
static int read_versioned_u32(const vg_bmff_box *b, size_t off_v0, size_t off_v1, uint32_t *v) {
  if (b->body_len < 4) return VG_EINVAL;
  size_t off = b->body[0] == 1 ? off_v1 : off_v0;
  if (b->body_len < off + 4) return VG_EINVAL;
  *v = rd32(b->body + off);
  return 0;
}

static int parse_trak(scan *s, const vg_bmff_box *trak) {
  vg_bmff_box tkhd, mdia, x;
  uint32_t id;
  if (vg_bmff_find(trak, 0, VG_FOURCC('t', 'k', 'h', 'd'), &tkhd) != 1) return VG_EINVAL;
  if (read_versioned_u32(&tkhd, 12, 20, &id)) return VG_EINVAL;
  vg_bmff_track *t = track_get(s->r, id, true);
  if (!t) return 0; /* more tracks than we report on */
  if (vg_bmff_find(trak, 0, VG_FOURCC('m', 'd', 'i', 'a'), &mdia) != 1) return 0;
  if (vg_bmff_find(&mdia, 0, VG_FOURCC('m', 'd', 'h', 'd'), &x) == 1)
    read_versioned_u32(&x, 12, 20, &t->timescale);
  if (vg_bmff_find(&mdia, 0, VG_FOURCC('h', 'd', 'l', 'r'), &x) == 1 && x.body_len >= 12)
    t->handler = rd32(x.body + 8);
  return 0;
}

static void parse_mvex(scan *s, const vg_bmff_box *mvex) {
  vg_bmff_iter it;
  vg_bmff_box b;
  if (vg_bmff_iter_children(&it, mvex, 0)) return;
  while (vg_bmff_next(&it, &b) == 1) {
    if (b.type != VG_FOURCC('t', 'r', 'e', 'x') || b.body_len < 24) continue;
    if (s->ntrex == VG_BMFF_MAX_TRACKS) break;
    trex *t = &s->trex[s->ntrex++];
    t->id = rd32(b.body + 4);
    t->duration = rd32(b.body + 12);
    t->size = rd32(b.body + 16);
  }
}

static int parse_moov(scan *s, const vg_bmff_box *moov) {
  vg_bmff_iter it;
  vg_bmff_box b;
  int rc = vg_bmff_iter_children(&it, moov, 0);
  if (rc) return rc;
  while ((rc = vg_bmff_next(&it, &b)) == 1) {
    if (b.type == VG_FOURCC('t', 'r', 'a', 'k')) {
      if (parse_trak(s, &b)) return VG_EINVAL;
    } else if (b.type == VG_FOURCC('m', 'v', 'e', 'x')) {
      parse_mvex(s, &b);
    }
  }
  return rc == 0 ? 0 : VG_EINVAL;
}

/* ---- scan: fragments ---- */

typedef struct traf_info {
  uint32_t id;
  bool has_tfdt;
  uint64_t tfdt;
  uint64_t samples;
  uint64_t duration;
} traf_info;

typedef struct moof_info {
  uint32_t sequence;
  int ntraf;
  traf_info traf[VG_BMFF_MAX_TRACKS];
  uint64_t data_start, data_end; /* absolute range the truns point to */
  bool has_data;
} moof_info;

static const trex *trex_get(const scan *s, uint32_t id) {
  for (int i = 0; i < s->ntrex; i++) {
    if (s->trex[i].id == id) return &s->trex[i];
  }
  return NULL;
}

static bool add_u64(uint64_t *acc, uint64_t v) { return !__builtin_add_overflow(*acc, v, acc); }

/* One trun: adds its samples and duration to ti and its data range to m.
 * *pos is where this run's data starts unless it says otherwise; on return
 * it is where the next run's data would start. */
static int parse_trun(const vg_bmff_box *b, uint64_t base, uint32_t def_dur, uint32_t def_size,
                      uint64_t *pos, traf_info *ti, moof_info *m) {
  rd r = {b->body, b->body_len, 0, false};
  uint32_t vf = vg_bmff_rd_u32(&r);
  uint32_t flags = vf & 0xffffff;
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
  if (flags & 0x4) vg_bmff_rd_skip(&r, 4); /* first_sample_flags */
  if (r.err) return VG_EINVAL;
  size_t per = 0;
  for (uint32_t bit = 0x100; bit <= 0x800; bit <<= 1) per += (flags & bit) ? 4 : 0;
  if (per && count > (r.len - r.pos) / per) return VG_EINVAL;

  uint64_t dur = 0, size = 0;
  if (per) {
    for (uint32_t i = 0; i < count; i++) {
      uint32_t d = (flags & 0x100) ? vg_bmff_rd_u32(&r) : def_dur;
      uint32_t z = (flags & 0x200) ? vg_bmff_rd_u32(&r) : def_size;
      if (flags & 0x400) vg_bmff_rd_u32(&r);
      if (flags & 0x800) vg_bmff_rd_u32(&r);
      dur += d; /* at most 2^32 samples of < 2^32: no overflow */
      size += z;
    }
  } else {
    dur = (uint64_t)count * def_dur;
    size = (uint64_t)count * def_size;
  }
  if (r.err) return VG_EINVAL;
  uint64_t end;
  if (__builtin_add_overflow(*pos, size, &end)) return VG_EINVAL;
  if (size) {
    if (!m->has_data || *pos < m->data_start) m->data_start = *pos;
    if (!m->has_data || end > m->data_end) m->data_end = end;
    m->has_data = true;
  }
  *pos = end;
  if (!add_u64(&ti->samples, count) || !add_u64(&ti->duration, dur)) return VG_EINVAL;
  return 0;
}

/* One traf. *next_base is the implicit base of a traf without
 * base-data-offset or default-base-is-moof: the end of the previous
 * traf's data, or the moof itself for the first. */
static int parse_traf(const scan *s, const vg_bmff_box *traf, uint64_t moof_off,
                      uint64_t *next_base, moof_info *m) {
  vg_bmff_box tfhd, b;
  if (vg_bmff_find(traf, 0, VG_FOURCC('t', 'f', 'h', 'd'), &tfhd) != 1) return VG_EINVAL;
  rd r = {tfhd.body, tfhd.body_len, 0, false};
  uint32_t flags = vg_bmff_rd_u32(&r) & 0xffffff;
  uint32_t id = vg_bmff_rd_u32(&r);
  uint64_t base = *next_base;
  if (flags & 0x1) base = vg_bmff_rd_u64(&r);
  if (flags & 0x2) vg_bmff_rd_skip(&r, 4);
  const trex *tx = trex_get(s, id);
  uint32_t def_dur = tx ? tx->duration : 0, def_size = tx ? tx->size : 0;
  if (flags & 0x8) def_dur = vg_bmff_rd_u32(&r);
  if (flags & 0x10) def_size = vg_bmff_rd_u32(&r);
  if (r.err) return VG_EINVAL;
  if (!(flags & 0x1) && (flags & 0x20000)) base = moof_off;

  traf_info *ti = NULL;
  for (int i = 0; i < m->ntraf; i++) {
    if (m->traf[i].id == id) ti = &m->traf[i];
  }
  if (!ti) {
    if (m->ntraf == VG_BMFF_MAX_TRACKS) return VG_EINVAL;
    ti = &m->traf[m->ntraf++];
    memset(ti, 0, sizeof *ti);
    ti->id = id;
  }

  vg_bmff_iter it;
  int rc = vg_bmff_iter_children(&it, traf, 0);
  if (rc) return rc;
  uint64_t pos = base;
  while ((rc = vg_bmff_next(&it, &b)) == 1) {
    if (b.type == VG_FOURCC('t', 'f', 'd', 't') && !ti->has_tfdt) {
      rd t = {b.body, b.body_len, 0, false};
      uint32_t vf = vg_bmff_rd_u32(&t);
      ti->tfdt = (vf >> 24) == 1 ? vg_bmff_rd_u64(&t) : vg_bmff_rd_u32(&t);
      if (t.err) return VG_EINVAL;
      ti->has_tfdt = true;
    } else if (b.type == VG_FOURCC('t', 'r', 'u', 'n')) {
      rc = parse_trun(&b, base, def_dur, def_size, &pos, ti, m);
      if (rc) return rc;
    }
  }
  if (rc) return VG_EINVAL;
  *next_base = pos;
  return 0;
}

static int parse_moof(const scan *s, const vg_bmff_box *moof, uint64_t moof_off, moof_info *m) {
  memset(m, 0, sizeof *m);
  vg_bmff_iter it;
  vg_bmff_box b;
  bool has_mfhd = false;
  uint64_t next_base = moof_off;
  int rc = vg_bmff_iter_children(&it, moof, 0);
  if (rc) return rc;
  while ((rc = vg_bmff_next(&it, &b)) == 1) {
    if (b.type == VG_FOURCC('m', 'f', 'h', 'd')) {
      if (b.body_len < 8) return VG_EINVAL;
      m->sequence = rd32(b.body + 4);
      has_mfhd = true;
    } else if (b.type == VG_FOURCC('t', 'r', 'a', 'f')) {
      rc = parse_traf(s, &b, moof_off, &next_base, m);
      if (rc) return rc;
    }
  }
  if (rc || !has_mfhd) return VG_EINVAL;
  return 0;
}

static void commit_fragment(vg_bmff_scan_result *r, const moof_info *m) {
  if (r->fragments == 0) {
    r->first_sequence = m->sequence;
  } else if (m->sequence <= r->last_sequence) {
    r->sequence_ok = false;
  }
  r->last_sequence = m->sequence;
  r->fragments++;
  for (int i = 0; i < m->ntraf; i++) {
    const traf_info *ti = &m->traf[i];
    vg_bmff_track *t = track_get(r, ti->id, true);
    if (!t) continue;
    uint64_t end = t->last_tfdt + t->last_duration;
    uint64_t tfdt = ti->has_tfdt ? ti->tfdt : (t->fragments ? end : 0);
    if (t->fragments == 0) {
      t->first_tfdt = tfdt;
    } else if (tfdt != end) {
      t->gaps++;
    }
    t->last_tfdt = tfdt;
    t->last_duration = ti->duration;
    t->fragments++;
    t->samples += ti->samples;
    t->duration += ti->duration;
  }
}

int vg_bmff_scan(const uint8_t *data, size_t len, vg_bmff_scan_result *r) {
  if (!r || (!data && len)) return VG_EINVAL;
  memset(r, 0, sizeof *r);
  r->sequence_ok = true;
  scan s = {data, len, r, {{0}}, 0};
  bool have_ftyp = false;
  vg_bmff_iter it;
  vg_bmff_box b;
  vg_bmff_iter_init(&it, data, len);
  for (;;) {
    int rc = vg_bmff_next(&it, &b);
    if (rc != 1) {
      r->stop = rc == 0 ? VG_BMFF_END : rc == VG_EAGAIN ? VG_BMFF_TRUNCATED : VG_BMFF_MALFORMED;
      r->stop_offset = rc == 0 ? len : b.offset;
      break;
    }
    size_t end = b.offset + (size_t)b.size;
    if (b.type == VG_FOURCC('f', 't', 'y', 'p')) {
      have_ftyp = true;
    } else if (b.type == VG_FOURCC('m', 'o', 'o', 'v') && have_ftyp && !r->has_init &&
               r->fragments == 0) {
      if (parse_moov(&s, &b)) {
        r->stop = VG_BMFF_MALFORMED;
        r->stop_offset = b.offset;
        break;
      }
      r->has_init = true;
      r->init_end = r->complete_end = end;
    } else if (b.type == VG_FOURCC('m', 'o', 'o', 'f')) {
      moof_info m;
      vg_bmff_box mdat;
      if (parse_moof(&s, &b, b.offset, &m)) {
        r->stop = VG_BMFF_MALFORMED;
        r->stop_offset = b.offset;
        break;
      }
      rc = vg_bmff_next(&it, &mdat);
      if (rc == 0 || rc == VG_EAGAIN) {
        r->stop = VG_BMFF_TRUNCATED;
        r->stop_offset = b.offset;
        break;
      }
      uint64_t body = mdat.offset + mdat.header, mdat_end = mdat.offset + mdat.size;
      if (rc < 0 || mdat.type != VG_FOURCC('m', 'd', 'a', 't') ||
          (m.has_data && (m.data_start < body || m.data_end > mdat_end))) {
        r->stop = VG_BMFF_MALFORMED;
        r->stop_offset = b.offset;
        break;
      }
      commit_fragment(r, &m);
      r->complete_end = (size_t)mdat_end;
    }
  }
  return 0;
}
