/* mp4build.c - progressive MP4 from fMP4 segment files, built on the fly.
 *
 * Opening runs in three steps:
 *
 *  1. scan: each segment file is walked box by box with small preads. Its
 *     moov gives the tracks (the first 'vide' and the first 'soun' trak),
 *     their timescales, sample entries and trex defaults; each moof is read
 *     whole and turned into samples (time, size, duration, composition
 *     offset, sync) and runs (one per trun: bytes contiguous in the file).
 *     A moof counts only when the mdat after it is whole, so a file cut by
 *     a crash or still being written ends at its last whole fragment. mdat
 *     payloads are never read.
 *  2. select: every sample gets a place on the output timeline (the
 *     concatenated spans) from its segment's wall-clock start and its
 *     decode time; what lies outside the spans is dropped, except the
 *     frames from the keyframe before the first span's start (the edit
 *     list hides them). Video after a dropped frame resumes at a keyframe.
 *  3. layout: kept samples become chunks (contiguous kept samples of one
 *     run), laid out in the order the segments held them (video and audio
 *     interleaved per fragment), and ftyp + moov + the mdat header are
 *     written into one buffer by box writers named after their box.
 *
 * Memory: about 40 bytes per sample plus the moov (about 4-12 bytes per
 * sample); the payload is read at vg_mp4build_read time with pread. */
#include "media/mp4build.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "media/bmff.h"

#define MOVIE_TIMESCALE 1000
#define MAX_ENTRIES 32 /* distinct sample entries per track */
#define FD_CACHE 8     /* segment files kept open while reading */
#define MAX_TRAKS 16   /* traks looked at in one init segment */
#define MAX_RUNS (8u << 20)

#define TFHD_BASE_DATA_OFFSET 0x000001u
#define TFHD_SAMPLE_DESC 0x000002u
#define TFHD_DEFAULT_DURATION 0x000008u
#define TFHD_DEFAULT_SIZE 0x000010u
#define TFHD_DEFAULT_FLAGS 0x000020u
#define TFHD_DEFAULT_BASE_IS_MOOF 0x020000u
#define TRUN_DATA_OFFSET 0x000001u
#define TRUN_FIRST_FLAGS 0x000004u
#define TRUN_DURATION 0x000100u
#define TRUN_SIZE 0x000200u
#define TRUN_FLAGS 0x000400u
#define TRUN_CTO 0x000800u
#define SAMPLE_NON_SYNC 0x00010000u

enum { T_VIDEO = 0, T_AUDIO = 1, NTRACKS = 2 };
/* Where a sample falls, besides a span index >= 0. */
enum { PLACE_OUT = -1, PLACE_BEFORE = -2 };

typedef struct src {
  char *path; /* NULL for memory */
  const uint8_t *mem;
  uint64_t size; /* bytes up to the end of the last whole fragment */
  int64_t start_ms, end_ms;
} src;

typedef struct sample {
  int64_t t; /* decode time: raw while scanning, then on the output timeline */
  uint32_t size;
  uint32_t dur; /* as the segment says */
  int32_t cto;
  int32_t place; /* span index, PLACE_OUT or PLACE_BEFORE */
  uint32_t run;
  uint8_t sync;
  uint8_t keep;
} sample;

typedef struct run {
  uint64_t file_off; /* of its first sample */
  uint64_t first;    /* index of its first sample in its track */
  uint32_t count;
  uint32_t src;
  uint16_t entry; /* sample entry index in its track */
  uint8_t track;
} run;

typedef struct entry {
  uint8_t *box;
  size_t len;
} entry;

typedef struct trk {
  bool present;
  uint32_t timescale;
  uint32_t width, height; /* tkhd 16.16 */
  entry entries[MAX_ENTRIES];
  size_t nentries;
  sample *s;
  size_t n, cap;
  /* After selection. */
  size_t nkeep;
  int64_t t0, tend; /* first kept sample's time and the end of the last one */
  uint32_t chunks;  /* how many */
  uint64_t edit_empty_ms, edit_ms;
  int64_t edit_media_time; /* where the edit starts in the track's media */
} trk;

/* Output chunk: kept samples of one run, contiguous in the file and in
 * the mdat. */
typedef struct chunk {
  uint64_t out_off; /* from the start of the mdat payload */
  uint64_t file_off;
  uint64_t bytes;
  uint32_t src;
  uint32_t nsamples;
  uint16_t entry;
  uint8_t track;
} chunk;

typedef struct fdslot {
  int fd;
  uint32_t src;
  int busy; /* reads using fd now: the slot is not reused meanwhile */
} fdslot;

struct vg_mp4build {
  src *srcs;
  size_t nsrcs;
  const vg_mp4build_span *spans; /* during open only */
  size_t nspans;
  int64_t *span_off; /* output ms at each span's start */
  int64_t total_ms;  /* sum of the spans */
  trk tracks[NTRACKS];
  run *runs;
  size_t nruns, runs_cap;
  uint64_t nsamples;
  chunk *chunks;
  size_t nchunks;
  uint8_t *header;
  size_t header_len;
  uint64_t payload;
  uint64_t size;
  uint64_t duration_ms;
  vg_mp4build_gap *gaps;
  size_t ngaps;
  /* Open files, shared by readers on several threads (a cached build
   * serves many responses): the lock guards the slots, never a read. */
  pthread_mutex_t fd_lock;
  fdslot fds[FD_CACHE];
  unsigned next_slot;
};

/* ---- reading sources ---- */

static uint32_t rd32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) << 32 | rd32(p + 4); }

/* An open descriptor of source si and the slot that holds it (marked
 * busy; give it back with src_fd_done), or, when every slot is busy with
 * other files, a descriptor of its own (*slot NULL: closed when done). */
static int src_fd(vg_mp4build *b, uint32_t si, fdslot **slot) {
  *slot = NULL;
  pthread_mutex_lock(&b->fd_lock);
  for (int i = 0; i < FD_CACHE; i++)
    if (b->fds[i].fd >= 0 && b->fds[i].src == si) {
      b->fds[i].busy++;
      *slot = &b->fds[i];
      pthread_mutex_unlock(&b->fd_lock);
      return (*slot)->fd;
    }
  pthread_mutex_unlock(&b->fd_lock);
  int fd = open(b->srcs[si].path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  pthread_mutex_lock(&b->fd_lock);
  for (int k = 0; k < FD_CACHE && !*slot; k++) {
    fdslot *s = &b->fds[b->next_slot++ % FD_CACHE];
    if (s->busy) continue;
    if (s->fd >= 0) close(s->fd);
    s->fd = fd;
    s->src = si;
    s->busy = 1;
    *slot = s;
  }
  pthread_mutex_unlock(&b->fd_lock);
  return fd;
}

static void src_fd_done(vg_mp4build *b, fdslot *slot, int fd) {
  if (!slot) {
    if (fd >= 0) close(fd);
    return;
  }
  pthread_mutex_lock(&b->fd_lock);
  slot->busy--;
  pthread_mutex_unlock(&b->fd_lock);
}

/* Reads exactly len bytes at off of source si; VG_EIO when they are not
 * all there. */
static int src_read(vg_mp4build *b, uint32_t si, uint64_t off, void *dst, size_t len) {
  const src *s = &b->srcs[si];
  if (s->mem) {
    if (off > s->size || len > s->size - off) return VG_EIO;
    memcpy(dst, s->mem + off, len);
    return 0;
  }
  fdslot *slot;
  int fd = src_fd(b, si, &slot);
  if (fd < 0) return VG_EIO;
  uint8_t *p = dst;
  int rc = 0;
  while (len > 0) {
    ssize_t n = pread(fd, p, len, (off_t)off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      rc = VG_EIO;
      break;
    }
    p += n;
    off += (uint64_t)n;
    len -= (size_t)n;
  }
  src_fd_done(b, slot, fd);
  return rc;
}

/* ---- scan: init segment ---- */

typedef struct segtrack {
  uint32_t id;
  int track; /* T_VIDEO / T_AUDIO, -1 ignored */
  uint16_t entry;
  uint32_t def_dur, def_size, def_flags;
} segtrack;

typedef struct segscan {
  segtrack st[MAX_TRAKS];
  int nst;
  bool have_init;
  bool have_base;
  double base_s;           /* decode time of the segment's first sample, main track */
  uint64_t first[NTRACKS]; /* index of the segment's first sample per track */
} segscan;

static int entry_index(trk *t, const uint8_t *box, size_t len, uint16_t *out) {
  for (size_t i = 0; i < t->nentries; i++) {
    if (t->entries[i].len == len && memcmp(t->entries[i].box, box, len) == 0) {
      *out = (uint16_t)i;
      return 0;
    }
  }
  if (t->nentries == MAX_ENTRIES) return VG_ETOOBIG;
  uint8_t *copy = malloc(len);
  if (!copy) return VG_ENOMEM;
  memcpy(copy, box, len);
  t->entries[t->nentries].box = copy;
  t->entries[t->nentries].len = len;
  *out = (uint16_t)t->nentries++;
  return 0;
}

static bool find_path(const vg_bmff_box *from, const uint32_t *types, int n, vg_bmff_box *out) {
  vg_bmff_box cur = *from;
  for (int i = 0; i < n; i++) {
    if (vg_bmff_find(&cur, 0, types[i], out) != 1) return false;
    cur = *out;
  }
  return true;
}

/* One trak of an init segment: joins it to the builder's track of its
 * kind when the timescale agrees. */
static int parse_trak(vg_mp4build *b, segscan *ss, const vg_bmff_box *trak) {
  vg_bmff_box tkhd, mdhd, hdlr, stsd;
  static const uint32_t p_mdhd[] = {VG_FOURCC('m', 'd', 'i', 'a'), VG_FOURCC('m', 'd', 'h', 'd')};
  static const uint32_t p_hdlr[] = {VG_FOURCC('m', 'd', 'i', 'a'), VG_FOURCC('h', 'd', 'l', 'r')};
  static const uint32_t p_stsd[] = {VG_FOURCC('m', 'd', 'i', 'a'), VG_FOURCC('m', 'i', 'n', 'f'),
                                    VG_FOURCC('s', 't', 'b', 'l'), VG_FOURCC('s', 't', 's', 'd')};
  if (vg_bmff_find(trak, 0, VG_FOURCC('t', 'k', 'h', 'd'), &tkhd) != 1 || tkhd.body_len < 4)
    return 0;
  if (!find_path(trak, p_mdhd, 2, &mdhd) || !find_path(trak, p_hdlr, 2, &hdlr) ||
      !find_path(trak, p_stsd, 4, &stsd))
    return 0;
  bool v1 = tkhd.body[0] == 1;
  size_t id_off = v1 ? 20 : 12, wh_off = v1 ? 88 : 76;
  if (tkhd.body_len < wh_off + 8 || hdlr.body_len < 12 || mdhd.body_len < 4) return 0;
  size_t ts_off = mdhd.body[0] == 1 ? 20 : 12;
  if (mdhd.body_len < ts_off + 4) return 0;
  uint32_t handler = rd32(hdlr.body + 8);
  int kind = handler == VG_FOURCC('v', 'i', 'd', 'e')   ? T_VIDEO
             : handler == VG_FOURCC('s', 'o', 'u', 'n') ? T_AUDIO
                                                        : -1;
  if (kind < 0 || ss->nst == MAX_TRAKS) return 0;
  for (int i = 0; i < ss->nst; i++)
    if (ss->st[i].track == kind) return 0; /* the first of each kind only */
  uint32_t timescale = rd32(mdhd.body + ts_off);
  if (timescale == 0) return 0;
  /* The first sample entry, whole. */
  vg_bmff_iter it;
  vg_bmff_box e;
  if (vg_bmff_iter_children(&it, &stsd, 8) != 0 || vg_bmff_next(&it, &e) != 1) return 0;
  trk *t = &b->tracks[kind];
  if (t->present && t->timescale != timescale) return 0; /* cannot join: a gap */
  uint16_t ei;
  const uint8_t *box = e.body - e.header;
  int rc = entry_index(t, box, (size_t)e.size, &ei);
  if (rc) return rc == VG_ETOOBIG ? 0 : rc;
  if (!t->present) {
    t->present = true;
    t->timescale = timescale;
    t->width = rd32(tkhd.body + wh_off);
    t->height = rd32(tkhd.body + wh_off + 4);
  }
  segtrack *st = &ss->st[ss->nst++];
  memset(st, 0, sizeof *st);
  st->id = rd32(tkhd.body + id_off);
  st->track = kind;
  st->entry = ei;
  return 0;
}

/* The moov of a segment: pure over its bytes. */
static int parse_init(vg_mp4build *b, segscan *ss, const uint8_t *moov, size_t len) {
  vg_bmff_iter top;
  vg_bmff_box m, x;
  vg_bmff_iter_init(&top, moov, len);
  if (vg_bmff_next(&top, &m) != 1 || m.type != VG_FOURCC('m', 'o', 'o', 'v')) return VG_EINVAL;
  vg_bmff_iter it;
  if (vg_bmff_iter_children(&it, &m, 0)) return VG_EINVAL;
  int rc;
  while ((rc = vg_bmff_next(&it, &x)) == 1) {
    if (x.type == VG_FOURCC('t', 'r', 'a', 'k')) {
      int r = parse_trak(b, ss, &x);
      if (r) return r;
    }
  }
  if (rc < 0) return VG_EINVAL;
  vg_bmff_box mvex, trex;
  if (vg_bmff_find(&m, 0, VG_FOURCC('m', 'v', 'e', 'x'), &mvex) == 1) {
    vg_bmff_iter ti;
    if (vg_bmff_iter_children(&ti, &mvex, 0) == 0) {
      while (vg_bmff_next(&ti, &trex) == 1) {
        if (trex.type != VG_FOURCC('t', 'r', 'e', 'x') || trex.body_len < 24) continue;
        uint32_t id = rd32(trex.body + 4);
        for (int i = 0; i < ss->nst; i++) {
          if (ss->st[i].id != id) continue;
          ss->st[i].def_dur = rd32(trex.body + 12);
          ss->st[i].def_size = rd32(trex.body + 16);
          ss->st[i].def_flags = rd32(trex.body + 20);
        }
      }
    }
  }
  ss->have_init = ss->nst > 0;
  return 0;
}

/* ---- scan: fragments ---- */

static int sample_push(vg_mp4build *b, trk *t, const sample *x) {
  if (b->nsamples >= VG_MP4BUILD_MAX_SAMPLES) return VG_ETOOBIG;
  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 1024;
    sample *s = realloc(t->s, cap * sizeof *s);
    if (!s) return VG_ENOMEM;
    t->s = s;
    t->cap = cap;
  }
  t->s[t->n++] = *x;
  b->nsamples++;
  return 0;
}

static int run_push(vg_mp4build *b, const run *r) {
  if (b->nruns >= MAX_RUNS) return VG_ETOOBIG;
  if (b->nruns == b->runs_cap) {
    size_t cap = b->runs_cap ? b->runs_cap * 2 : 256;
    run *n = realloc(b->runs, cap * sizeof *n);
    if (!n) return VG_ENOMEM;
    b->runs = n;
    b->runs_cap = cap;
  }
  b->runs[b->nruns++] = *r;
  return 0;
}

/* A fragment's samples, staged so that a fragment that turns out bad
 * adds nothing. */
typedef struct staged {
  size_t nruns0;
  size_t n0[NTRACKS];
  uint64_t nsamples0;
} staged;

static void unstage(vg_mp4build *b, const staged *s) {
  b->nruns = s->nruns0;
  for (int k = 0; k < NTRACKS; k++) b->tracks[k].n = s->n0[k];
  b->nsamples = s->nsamples0;
}

/* One traf: its truns become runs and samples. data_lo/hi bound the
 * absolute file range sample bytes may occupy (the following mdat's
 * body). *next_data: where a trun without data offset starts. */
static int parse_traf(vg_mp4build *b, segscan *ss, uint32_t si, const vg_bmff_box *traf,
                      uint64_t moof_off, uint64_t data_lo, uint64_t data_hi, uint64_t *next_data) {
  vg_bmff_box tfhd, x;
  if (vg_bmff_find(traf, 0, VG_FOURCC('t', 'f', 'h', 'd'), &tfhd) != 1 || tfhd.body_len < 8)
    return VG_EINVAL;
  uint32_t tf_flags = rd32(tfhd.body) & 0xffffff;
  uint32_t id = rd32(tfhd.body + 4);
  segtrack *st = NULL;
  for (int i = 0; i < ss->nst; i++)
    if (ss->st[i].id == id) st = &ss->st[i];
  size_t p = 8;
  uint64_t base = *next_data;
  uint32_t def_dur = st ? st->def_dur : 0, def_size = st ? st->def_size : 0;
  uint32_t def_flags = st ? st->def_flags : 0;
  if (tf_flags & TFHD_BASE_DATA_OFFSET) {
    if (tfhd.body_len < p + 8) return VG_EINVAL;
    base = rd64(tfhd.body + p);
    p += 8;
  } else if (tf_flags & TFHD_DEFAULT_BASE_IS_MOOF) {
    base = moof_off;
  }
  if (tf_flags & TFHD_SAMPLE_DESC) p += 4;
  if (tf_flags & TFHD_DEFAULT_DURATION) {
    if (tfhd.body_len < p + 4) return VG_EINVAL;
    def_dur = rd32(tfhd.body + p);
    p += 4;
  }
  if (tf_flags & TFHD_DEFAULT_SIZE) {
    if (tfhd.body_len < p + 4) return VG_EINVAL;
    def_size = rd32(tfhd.body + p);
    p += 4;
  }
  if (tf_flags & TFHD_DEFAULT_FLAGS) {
    if (tfhd.body_len < p + 4) return VG_EINVAL;
    def_flags = rd32(tfhd.body + p);
    p += 4;
  }
  if (tfhd.body_len < p) return VG_EINVAL;
  bool have_tfdt = false;
  uint64_t dts = 0;
  if (vg_bmff_find(traf, 0, VG_FOURCC('t', 'f', 'd', 't'), &x) == 1 && x.body_len >= 8) {
    have_tfdt = true;
    dts = x.body[0] == 1 ? (x.body_len >= 12 ? rd64(x.body + 4) : 0) : rd32(x.body + 4);
  }
  bool use = st && st->track >= 0 && have_tfdt;
  trk *t = use ? &b->tracks[st->track] : NULL;
  if (use && dts > (uint64_t)INT64_MAX / 2) return VG_EINVAL;

  vg_bmff_iter it;
  if (vg_bmff_iter_children(&it, traf, 0)) return VG_EINVAL;
  int rc;
  uint64_t data = base;
  bool first_trun = true;
  while ((rc = vg_bmff_next(&it, &x)) == 1) {
    if (x.type != VG_FOURCC('t', 'r', 'u', 'n')) continue;
    if (x.body_len < 8) return VG_EINVAL;
    uint8_t version = x.body[0];
    uint32_t fl = rd32(x.body) & 0xffffff;
    uint32_t count = rd32(x.body + 4);
    size_t q = 8;
    if (fl & TRUN_DATA_OFFSET) {
      if (x.body_len < q + 4) return VG_EINVAL;
      int32_t off = (int32_t)rd32(x.body + q);
      q += 4;
      /* base may be any 64-bit value a file names: no signed overflow. */
      uint64_t mag = off < 0 ? (uint64_t)(-(int64_t)off) : (uint64_t)off;
      if (off < 0 ? mag > base : base > UINT64_MAX - mag) return VG_EINVAL;
      data = off < 0 ? base - mag : base + mag;
    } else if (!first_trun) {
      /* continues after the previous trun */
    } else {
      data = base;
    }
    first_trun = false;
    uint32_t first_flags = def_flags;
    bool has_first = fl & TRUN_FIRST_FLAGS;
    if (has_first) {
      if (x.body_len < q + 4) return VG_EINVAL;
      first_flags = rd32(x.body + q);
      q += 4;
    }
    size_t per = 4u * (size_t)(!!(fl & TRUN_DURATION) + !!(fl & TRUN_SIZE) + !!(fl & TRUN_FLAGS) +
                               !!(fl & TRUN_CTO));
    if (count > (x.body_len - q) / (per ? per : 1) && per) return VG_EINVAL;
    if (!per && count > VG_MP4BUILD_MAX_SAMPLES) return VG_EINVAL;
    run r = {data, t ? t->n : 0, count, si, st ? st->entry : 0, (uint8_t)(st ? st->track : 0)};
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < count; i++) {
      uint32_t dur = def_dur, size = def_size,
               flags = i == 0 && has_first ? first_flags : def_flags;
      int32_t cto = 0;
      if (fl & TRUN_DURATION) dur = rd32(x.body + q), q += 4;
      if (fl & TRUN_SIZE) size = rd32(x.body + q), q += 4;
      if (fl & TRUN_FLAGS) {
        uint32_t f = rd32(x.body + q);
        q += 4;
        if (!(i == 0 && has_first)) flags = f;
      }
      if (fl & TRUN_CTO) {
        uint32_t c = rd32(x.body + q);
        q += 4;
        cto = version == 0 && c > INT32_MAX ? INT32_MAX : (int32_t)c;
      }
      bytes += size;
      if (bytes > data_hi - (data < data_hi ? data : data_hi)) return VG_EINVAL;
      if (!t) continue;
      if (size == 0) return VG_EINVAL;
      sample s = {(int64_t)dts, size, dur, cto, PLACE_OUT, (uint32_t)b->nruns, 0, 0};
      s.sync = st->track == T_AUDIO || !(flags & SAMPLE_NON_SYNC);
      rc = sample_push(b, t, &s);
      if (rc) return rc;
      dts += dur;
      if (dts > (uint64_t)INT64_MAX / 2) return VG_EINVAL;
    }
    if (count && (data < data_lo || data + bytes > data_hi)) return VG_EINVAL;
    if (t && count) {
      rc = run_push(b, &r);
      if (rc) return rc;
    }
    data += bytes;
  }
  if (rc < 0) return VG_EINVAL;
  *next_data = data;
  return 0;
}

/* One moof (its bytes in moof[0..len), found at file offset moof_off)
 * whose mdat body spans [data_lo, data_hi) of the file. Pure. */
static int parse_moof(vg_mp4build *b, segscan *ss, uint32_t si, const uint8_t *moof, size_t len,
                      uint64_t moof_off, uint64_t data_lo, uint64_t data_hi) {
  vg_bmff_iter top, it;
  vg_bmff_box m, x;
  vg_bmff_iter_init(&top, moof, len);
  if (vg_bmff_next(&top, &m) != 1 || m.type != VG_FOURCC('m', 'o', 'o', 'f')) return VG_EINVAL;
  if (vg_bmff_iter_children(&it, &m, 0)) return VG_EINVAL;
  staged sg = {b->nruns, {b->tracks[0].n, b->tracks[1].n}, b->nsamples};
  uint64_t next_data = moof_off;
  int rc;
  while ((rc = vg_bmff_next(&it, &x)) == 1) {
    if (x.type != VG_FOURCC('t', 'r', 'a', 'f')) continue;
    int r = parse_traf(b, ss, si, &x, moof_off, data_lo, data_hi, &next_data);
    if (r) {
      unstage(b, &sg);
      return r;
    }
  }
  if (rc < 0) {
    unstage(b, &sg);
    return VG_EINVAL;
  }
  /* Decode times only grow within a track; a fragment going back is bad. */
  for (int k = 0; k < NTRACKS; k++) {
    trk *t = &b->tracks[k];
    size_t from = sg.n0[k];
    if (from == t->n) continue;
    size_t lo = from > ss->first[k] ? from - 1 : from;
    for (size_t i = lo + 1; i < t->n; i++) {
      if (t->s[i].t <= t->s[i - 1].t) {
        unstage(b, &sg);
        return VG_EINVAL;
      }
    }
  }
  return 0;
}

/* Reads a top-level box header at off: type, whole size, header length.
 * Returns 1, 0 at the end, or VG_EINVAL for garbage / truncation. */
static int read_box_header(vg_mp4build *b, uint32_t si, uint64_t off, uint64_t file_size,
                           uint32_t *type, uint64_t *size, unsigned *hlen) {
  if (off >= file_size) return 0;
  if (file_size - off < 8) return VG_EINVAL;
  uint8_t h[16];
  if (src_read(b, si, off, h, 8)) return VG_EIO;
  uint64_t sz = rd32(h);
  *type = rd32(h + 4);
  *hlen = 8;
  if (sz == 1) {
    if (file_size - off < 16 || src_read(b, si, off + 8, h + 8, 8)) return VG_EINVAL;
    sz = rd64(h + 8);
    *hlen = 16;
  } else if (sz == 0) {
    sz = file_size - off;
  }
  if (sz < *hlen) return VG_EINVAL;
  *size = sz;
  return 1;
}

/* Walks one segment file; keeps what is whole. */
static int scan_segment(vg_mp4build *b, uint32_t si, uint64_t file_size) {
  segscan ss;
  memset(&ss, 0, sizeof ss);
  for (int k = 0; k < NTRACKS; k++) ss.first[k] = b->tracks[k].n;
  uint64_t off = 0, good = 0;
  uint8_t *buf = NULL;
  int rc = 0;
  for (;;) {
    uint32_t type;
    uint64_t size;
    unsigned hl;
    int r = read_box_header(b, si, off, file_size, &type, &size, &hl);
    if (r <= 0) break;
    if (size > file_size - off) break; /* truncated */
    if (type == VG_FOURCC('m', 'o', 'o', 'v') || type == VG_FOURCC('m', 'o', 'o', 'f')) {
      uint64_t max =
          type == VG_FOURCC('m', 'o', 'o', 'v') ? VG_MP4BUILD_MAX_MOOV : VG_MP4BUILD_MAX_MOOF;
      if (size > max) break;
      if (type == VG_FOURCC('m', 'o', 'o', 'v') && ss.have_init) break; /* one init only */
      if (type == VG_FOURCC('m', 'o', 'o', 'f') && !ss.have_init) break;
      uint8_t *nb = realloc(buf, (size_t)size);
      if (!nb) {
        rc = VG_ENOMEM;
        break;
      }
      buf = nb;
      if (src_read(b, si, off, buf, (size_t)size)) break;
      if (type == VG_FOURCC('m', 'o', 'o', 'v')) {
        r = parse_init(b, &ss, buf, (size_t)size);
        if (r == VG_ENOMEM) rc = r;
        if (r || !ss.have_init) break;
        off += size;
        good = off;
        continue;
      }
      /* moof: the mdat after it must be whole. */
      uint64_t moff = off + size;
      uint32_t mtype;
      uint64_t msize;
      unsigned mhl;
      if (read_box_header(b, si, moff, file_size, &mtype, &msize, &mhl) != 1 ||
          mtype != VG_FOURCC('m', 'd', 'a', 't') || msize > file_size - moff)
        break;
      r = parse_moof(b, &ss, si, buf, (size_t)size, off, moff + mhl, moff + msize);
      if (r == VG_ENOMEM || r == VG_ETOOBIG) rc = r;
      if (r) break;
      off = moff + msize;
      good = off;
      continue;
    }
    off += size; /* ftyp, styp, free, sidx, a stray mdat */
  }
  free(buf);
  b->srcs[si].size = good;
  if (rc) return rc;

  /* The segment's zero: the first decode time of its main track. */
  int main = ss.first[T_VIDEO] < b->tracks[T_VIDEO].n ? T_VIDEO : T_AUDIO;
  trk *mt = &b->tracks[main];
  if (ss.first[main] >= mt->n) return 0;
  double base_s = (double)mt->s[ss.first[main]].t / mt->timescale;
  const src *s = &b->srcs[si];
  for (int k = 0; k < NTRACKS; k++) {
    trk *t = &b->tracks[k];
    if (ss.first[k] >= t->n) continue;
    int64_t base_ts = llround(base_s * t->timescale);
    size_t span = 0;
    for (size_t i = ss.first[k]; i < t->n; i++) {
      sample *x = &t->s[i];
      int64_t rel = x->t - base_ts; /* since the segment's zero, timescale units */
      double wall = (double)s->start_ms + (double)rel * 1000.0 / t->timescale;
      while (span < b->nspans && wall >= (double)b->spans[span].end_ms) span++;
      const vg_mp4build_span *sp;
      if (span == b->nspans) {
        x->place = PLACE_OUT;
        sp = &b->spans[b->nspans - 1];
      } else if (wall >= (double)b->spans[span].start_ms) {
        x->place = (int32_t)span;
        sp = &b->spans[span];
      } else {
        x->place = span == 0 ? PLACE_BEFORE : PLACE_OUT;
        sp = &b->spans[span];
      }
      /* Samples of one segment in one span keep their exact distances. */
      int64_t at_ms = s->start_ms - sp->start_ms + b->span_off[sp - b->spans];
      x->t = llround((double)at_ms * t->timescale / 1000.0) + rel;
    }
  }
  return 0;
}

/* ---- select ---- */

/* Keeps what a track needs of the samples: those in the spans, and before
 * the first span's start the keyframe (video) or the frames (audio) from
 * which output time `from` (track units, <= 0) can be shown. */
static void select_track(vg_mp4build *b, trk *t, bool video, int64_t from) {
  size_t first = t->n;
  for (size_t i = 0; i < t->n; i++) {
    if (t->s[i].place >= 0) {
      first = i;
      break;
    }
  }
  t->nkeep = 0;
  if (first == t->n) return;
  size_t start = first;
  const sample *f = &t->s[first];
  if (f->place == 0 && f->t > (video ? 0 : from)) {
    /* Back to the keyframe (video) or the frames (audio) under the start. */
    for (size_t j = first; j-- > 0;) {
      if (t->s[j].place != PLACE_BEFORE) break;
      if (!video) {
        if (t->s[j].t + (int64_t)t->s[j].dur <= from) break;
        start = j;
        continue;
      }
      if (t->s[j].sync) {
        start = j;
        break;
      }
    }
  } else if (f->place == 0 && video && !f->sync) {
    for (size_t j = first; j-- > 0;) {
      if (t->s[j].place != PLACE_BEFORE) break;
      if (t->s[j].sync) {
        start = j;
        break;
      }
    }
  }
  bool need_sync = true;
  for (size_t i = start; i < t->n; i++) {
    sample *x = &t->s[i];
    bool in = i < first ? true : x->place >= 0;
    if (in && (!need_sync || x->sync || !video)) {
      x->keep = 1;
      need_sync = false;
      t->nkeep++;
    } else {
      need_sync = true;
    }
  }
  if (t->nkeep == 0) return;
  /* Output decode times: strictly increasing; durations reach the next. */
  sample *prev = NULL;
  for (size_t i = 0; i < t->n; i++) {
    sample *x = &t->s[i];
    if (!x->keep) continue;
    if (!prev) {
      t->t0 = x->t;
    } else {
      if (x->t <= prev->t) x->t = prev->t + 1;
      int64_t d = x->t - prev->t;
      prev->dur = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
    }
    prev = x;
  }
  if (prev->dur == 0) prev->dur = 1;
  t->tend = prev->t + prev->dur;
}

static void add_gap(vg_mp4build *b, double s, double e) {
  vg_mp4build_gap *g = realloc(b->gaps, (b->ngaps + 1) * sizeof *g);
  if (!g) return;
  b->gaps = g;
  g[b->ngaps].start_s = s;
  g[b->ngaps].end_s = e;
  b->ngaps++;
}

/* Holes in the main track on the output timeline: where two kept frames
 * lie VG_MP4BUILD_GAP_MS or more apart, from the end the first would have
 * had at the usual frame interval to the second. */
static void find_gaps(vg_mp4build *b, const trk *t, double shift_s) {
  double ts = t->timescale;
  int64_t min = (int64_t)VG_MP4BUILD_GAP_MS * t->timescale / 1000;
  if (t->t0 >= min) add_gap(b, 0, (double)t->t0 / ts + shift_s);
  const sample *prev = NULL;
  int64_t usual = 0;
  for (size_t i = 0; i < t->n; i++) {
    const sample *x = &t->s[i];
    if (!x->keep) continue;
    if (prev) {
      int64_t d = x->t - prev->t;
      if (d >= min)
        add_gap(b, (double)(prev->t + usual) / ts + shift_s, (double)x->t / ts + shift_s);
      else
        usual = d;
    }
    prev = x;
  }
}

/* ---- layout ---- */

static int build_chunks(vg_mp4build *b) {
  size_t cap = 0;
  uint64_t out = 0;
  for (size_t ri = 0; ri < b->nruns; ri++) {
    const run *r = &b->runs[ri];
    trk *t = &b->tracks[r->track];
    uint64_t file_off = r->file_off;
    chunk *cur = NULL;
    for (uint64_t i = r->first; i < r->first + r->count; i++) {
      const sample *x = &t->s[i];
      if (!x->keep) {
        cur = NULL;
        file_off += x->size;
        continue;
      }
      if (!cur) {
        if (b->nchunks == cap) {
          cap = cap ? cap * 2 : 256;
          chunk *n = realloc(b->chunks, cap * sizeof *n);
          if (!n) return VG_ENOMEM;
          b->chunks = n;
        }
        cur = &b->chunks[b->nchunks++];
        *cur = (chunk){out, file_off, 0, r->src, 0, r->entry, r->track};
        t->chunks++;
      }
      cur->bytes += x->size;
      cur->nsamples++;
      file_off += x->size;
      out += x->size;
    }
  }
  b->payload = out;
  return 0;
}

/* With p == NULL it only counts; otherwise it writes into p[0..cap). */
typedef struct bw {
  uint8_t *p;
  size_t cap;
  size_t pos;
} bw;

static void put_bytes(bw *w, const void *d, size_t n) {
  if (w->p) {
    assert(w->pos + n <= w->cap);
    memcpy(w->p + w->pos, d, n);
  }
  w->pos += n;
}

static void put_zeros(bw *w, size_t n) {
  if (w->p) {
    assert(w->pos + n <= w->cap);
    memset(w->p + w->pos, 0, n);
  }
  w->pos += n;
}

static void put16(bw *w, uint16_t v) {
  uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
  put_bytes(w, x, 2);
}

static void put32(bw *w, uint32_t v) {
  uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
  put_bytes(w, x, 4);
}

static void put64(bw *w, uint64_t v) {
  put32(w, (uint32_t)(v >> 32));
  put32(w, (uint32_t)v);
}

static void put_fourcc(bw *w, const char *cc) { put_bytes(w, cc, 4); }

static size_t box_open(bw *w, const char *type) {
  size_t start = w->pos;
  put32(w, 0);
  put_fourcc(w, type);
  return start;
}

static size_t fullbox_open(bw *w, const char *type, uint8_t version, uint32_t flags) {
  size_t start = box_open(w, type);
  put32(w, (uint32_t)version << 24 | (flags & 0xffffff));
  return start;
}

static void box_close(bw *w, size_t start) {
  if (!w->p) return;
  uint32_t v = (uint32_t)(w->pos - start);
  uint8_t *q = w->p + start;
  q[0] = (uint8_t)(v >> 24);
  q[1] = (uint8_t)(v >> 16);
  q[2] = (uint8_t)(v >> 8);
  q[3] = (uint8_t)v;
}

static void put_matrix(bw *w) {
  static const uint32_t unity[9] = {0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000};
  for (int i = 0; i < 9; i++) put32(w, unity[i]);
}

typedef struct layout {
  const vg_mp4build *b;
  bool co64;
  uint64_t data_base; /* file offset of the mdat payload */
} layout;

static void write_ftyp(bw *w) {
  size_t s = box_open(w, "ftyp");
  put_fourcc(w, "isom");
  put32(w, 0x200);
  put_fourcc(w, "isom");
  put_fourcc(w, "iso2");
  put_fourcc(w, "avc1");
  put_fourcc(w, "mp41");
  box_close(w, s);
}

static uint32_t track_id(const vg_mp4build *b, int k) {
  return k == T_AUDIO && b->tracks[T_VIDEO].nkeep ? 2 : 1;
}

static void write_mvhd(bw *w, const vg_mp4build *b) {
  bool v1 = b->duration_ms > UINT32_MAX;
  size_t s = fullbox_open(w, "mvhd", v1, 0);
  if (v1) {
    put64(w, 0);
    put64(w, 0);
    put32(w, MOVIE_TIMESCALE);
    put64(w, b->duration_ms);
  } else {
    put32(w, 0);
    put32(w, 0);
    put32(w, MOVIE_TIMESCALE);
    put32(w, (uint32_t)b->duration_ms);
  }
  put32(w, 0x00010000);
  put16(w, 0x0100);
  put_zeros(w, 10);
  put_matrix(w);
  put_zeros(w, 24);
  put32(w, 3); /* next_track_ID */
  box_close(w, s);
}

static void write_tkhd(bw *w, const vg_mp4build *b, int k) {
  const trk *t = &b->tracks[k];
  uint64_t dur = t->edit_empty_ms + t->edit_ms;
  bool v1 = dur > UINT32_MAX;
  size_t s = fullbox_open(w, "tkhd", v1, 0x3);
  if (v1) {
    put64(w, 0);
    put64(w, 0);
    put32(w, track_id(b, k));
    put32(w, 0);
    put64(w, dur);
  } else {
    put32(w, 0);
    put32(w, 0);
    put32(w, track_id(b, k));
    put32(w, 0);
    put32(w, (uint32_t)dur);
  }
  put_zeros(w, 8);
  put16(w, 0);
  put16(w, 0);
  put16(w, k == T_AUDIO ? 0x0100 : 0);
  put16(w, 0);
  put_matrix(w);
  put32(w, k == T_VIDEO ? t->width : 0);
  put32(w, k == T_VIDEO ? t->height : 0);
  box_close(w, s);
}

/* The edit list: an empty edit while the track has not begun, then the
 * media from the requested start (frames before it hidden). */
static void write_edts(bw *w, const trk *t) {
  /* Output time 0 is media time -t0 on the decode-time axis the tracks
   * share: a B-frame stream's first composition offset is not hidden as
   * well, since the audio was lined up with the pictures' presentation
   * times at ingest and hiding it would show the picture that much early. */
  int64_t media_time = t->edit_media_time;
  bool v1 = media_time > INT32_MAX || t->edit_ms > UINT32_MAX || t->edit_empty_ms > UINT32_MAX;
  size_t s = box_open(w, "edts");
  size_t e = fullbox_open(w, "elst", v1, 0);
  put32(w, t->edit_empty_ms ? 2 : 1);
  if (t->edit_empty_ms) {
    if (v1) {
      put64(w, t->edit_empty_ms);
      put64(w, UINT64_MAX); /* -1: empty */
    } else {
      put32(w, (uint32_t)t->edit_empty_ms);
      put32(w, UINT32_MAX);
    }
    put32(w, 0x00010000);
  }
  if (v1) {
    put64(w, t->edit_ms);
    put64(w, (uint64_t)media_time);
  } else {
    put32(w, (uint32_t)t->edit_ms);
    put32(w, (uint32_t)media_time);
  }
  put32(w, 0x00010000); /* media_rate 1.0 */
  box_close(w, e);
  box_close(w, s);
}

static void write_mdhd(bw *w, const trk *t) {
  uint64_t dur = (uint64_t)(t->tend - t->t0);
  bool v1 = dur > UINT32_MAX;
  size_t s = fullbox_open(w, "mdhd", v1, 0);
  if (v1) {
    put64(w, 0);
    put64(w, 0);
    put32(w, t->timescale);
    put64(w, dur);
  } else {
    put32(w, 0);
    put32(w, 0);
    put32(w, t->timescale);
    put32(w, (uint32_t)dur);
  }
  put16(w, 0x55c4); /* "und" */
  put16(w, 0);
  box_close(w, s);
}

static void write_hdlr(bw *w, int k) {
  const char *name = k == T_VIDEO ? "VideoHandler" : "SoundHandler";
  size_t s = fullbox_open(w, "hdlr", 0, 0);
  put32(w, 0);
  put_fourcc(w, k == T_VIDEO ? "vide" : "soun");
  put_zeros(w, 12);
  put_bytes(w, name, strlen(name) + 1);
  box_close(w, s);
}

static void write_dinf(bw *w) {
  size_t s = box_open(w, "dinf");
  size_t d = fullbox_open(w, "dref", 0, 0);
  put32(w, 1);
  size_t u = fullbox_open(w, "url ", 0, 1);
  box_close(w, u);
  box_close(w, d);
  box_close(w, s);
}

static void write_stsd(bw *w, const trk *t) {
  size_t s = fullbox_open(w, "stsd", 0, 0);
  put32(w, (uint32_t)t->nentries);
  for (size_t i = 0; i < t->nentries; i++) put_bytes(w, t->entries[i].box, t->entries[i].len);
  box_close(w, s);
}

/* Run-length tables walk the kept samples of a track. */
#define FOR_KEPT(t, x)                                     \
  for (const sample *x = (t)->s; x < (t)->s + (t)->n; x++) \
    if (x->keep)

static void write_stts(bw *w, const trk *t) {
  size_t s = fullbox_open(w, "stts", 0, 0);
  size_t at = w->pos;
  put32(w, 0);
  uint32_t entries = 0, count = 0, cur = 0;
  FOR_KEPT(t, x) {
    if (count && x->dur == cur) {
      count++;
      continue;
    }
    if (count) {
      put32(w, count);
      put32(w, cur);
      entries++;
    }
    cur = x->dur;
    count = 1;
  }
  if (count) {
    put32(w, count);
    put32(w, cur);
    entries++;
  }
  if (w->p) {
    uint8_t *q = w->p + at;
    q[0] = (uint8_t)(entries >> 24), q[1] = (uint8_t)(entries >> 16);
    q[2] = (uint8_t)(entries >> 8), q[3] = (uint8_t)entries;
  }
  box_close(w, s);
}

static void patch32_at(bw *w, size_t at, uint32_t v) {
  if (!w->p) return;
  uint8_t *q = w->p + at;
  q[0] = (uint8_t)(v >> 24), q[1] = (uint8_t)(v >> 16), q[2] = (uint8_t)(v >> 8), q[3] = (uint8_t)v;
}

static void write_ctts(bw *w, const trk *t) {
  bool any = false, neg = false;
  FOR_KEPT(t, x) {
    any |= x->cto != 0;
    neg |= x->cto < 0;
  }
  if (!any) return;
  size_t s = fullbox_open(w, "ctts", neg ? 1 : 0, 0);
  size_t at = w->pos;
  put32(w, 0);
  uint32_t entries = 0, count = 0;
  int32_t cur = 0;
  FOR_KEPT(t, x) {
    if (count && x->cto == cur) {
      count++;
      continue;
    }
    if (count) {
      put32(w, count);
      put32(w, (uint32_t)cur);
      entries++;
    }
    cur = x->cto;
    count = 1;
  }
  put32(w, count);
  put32(w, (uint32_t)cur);
  entries++;
  patch32_at(w, at, entries);
  box_close(w, s);
}

static void write_stss(bw *w, const trk *t) {
  bool all = true;
  FOR_KEPT(t, x) all &= x->sync;
  if (all) return; /* every sample is a sync sample */
  size_t s = fullbox_open(w, "stss", 0, 0);
  size_t at = w->pos;
  put32(w, 0);
  uint32_t n = 0, idx = 0;
  FOR_KEPT(t, x) {
    idx++;
    if (x->sync) {
      put32(w, idx);
      n++;
    }
  }
  patch32_at(w, at, n);
  box_close(w, s);
}

static void write_stsz(bw *w, const trk *t) {
  bool same = true;
  uint32_t first = 0;
  bool have = false;
  FOR_KEPT(t, x) {
    if (!have) first = x->size, have = true;
    same &= x->size == first;
  }
  size_t s = fullbox_open(w, "stsz", 0, 0);
  put32(w, same ? first : 0);
  put32(w, (uint32_t)t->nkeep);
  if (!same) FOR_KEPT(t, x) put32(w, x->size);
  box_close(w, s);
}

static void write_stsc(bw *w, const vg_mp4build *b, int k) {
  size_t s = fullbox_open(w, "stsc", 0, 0);
  size_t at = w->pos;
  put32(w, 0);
  uint32_t entries = 0, idx = 0, last_n = 0, last_e = UINT32_MAX;
  for (size_t i = 0; i < b->nchunks; i++) {
    const chunk *c = &b->chunks[i];
    if (c->track != k) continue;
    idx++;
    if (c->nsamples == last_n && c->entry + 1u == last_e) continue;
    put32(w, idx);
    put32(w, c->nsamples);
    put32(w, c->entry + 1u);
    last_n = c->nsamples;
    last_e = c->entry + 1u;
    entries++;
  }
  patch32_at(w, at, entries);
  box_close(w, s);
}

static void write_stco(bw *w, const layout *l, int k) {
  const vg_mp4build *b = l->b;
  size_t s = fullbox_open(w, l->co64 ? "co64" : "stco", 0, 0);
  put32(w, b->tracks[k].chunks);
  for (size_t i = 0; i < b->nchunks; i++) {
    const chunk *c = &b->chunks[i];
    if (c->track != k) continue;
    uint64_t off = l->data_base + c->out_off;
    if (l->co64)
      put64(w, off);
    else
      put32(w, (uint32_t)off);
  }
  box_close(w, s);
}

static void write_trak(bw *w, const layout *l, int k) {
  const vg_mp4build *b = l->b;
  const trk *t = &b->tracks[k];
  size_t s = box_open(w, "trak");
  write_tkhd(w, b, k);
  write_edts(w, t);
  size_t md = box_open(w, "mdia");
  write_mdhd(w, t);
  write_hdlr(w, k);
  size_t mi = box_open(w, "minf");
  if (k == T_VIDEO) {
    size_t v = fullbox_open(w, "vmhd", 0, 1);
    put_zeros(w, 8);
    box_close(w, v);
  } else {
    size_t v = fullbox_open(w, "smhd", 0, 0);
    put32(w, 0);
    box_close(w, v);
  }
  write_dinf(w);
  size_t st = box_open(w, "stbl");
  write_stsd(w, t);
  write_stts(w, t);
  write_ctts(w, t);
  if (k == T_VIDEO) write_stss(w, t);
  write_stsz(w, t);
  write_stsc(w, b, k);
  write_stco(w, l, k);
  box_close(w, st);
  box_close(w, mi);
  box_close(w, md);
  box_close(w, s);
}

static void write_header(bw *w, const layout *l) {
  const vg_mp4build *b = l->b;
  write_ftyp(w);
  size_t s = box_open(w, "moov");
  write_mvhd(w, b);
  for (int k = 0; k < NTRACKS; k++)
    if (b->tracks[k].nkeep) write_trak(w, l, k);
  box_close(w, s);
  /* mdat header: 64-bit size when the payload needs it. */
  uint64_t mdat = b->payload + 8;
  if (mdat > UINT32_MAX) {
    put32(w, 1);
    put_fourcc(w, "mdat");
    put64(w, b->payload + 16);
  } else {
    put32(w, (uint32_t)mdat);
    put_fourcc(w, "mdat");
  }
}

static int build_header(vg_mp4build *b) {
  layout l = {b, false, 0};
  bw m = {NULL, 0, 0};
  write_header(&m, &l);
  if (m.pos + b->payload > UINT32_MAX) {
    l.co64 = true;
    m.pos = 0;
    write_header(&m, &l);
  }
  l.data_base = m.pos;
  b->header = malloc(m.pos);
  if (!b->header) return VG_ENOMEM;
  bw w = {b->header, m.pos, 0};
  write_header(&w, &l);
  assert(w.pos == m.pos);
  b->header_len = w.pos;
  b->size = w.pos + b->payload;
  return 0;
}

/* ---- open ---- */

static int64_t ms_ceil(int64_t v, uint32_t ts) {
  return (int64_t)((v * 1000 + (int64_t)ts - 1) / (int64_t)ts);
}

static int build(vg_mp4build *b, const vg_mp4build_span *spans, size_t nspans) {
  b->spans = spans;
  b->nspans = nspans;
  b->span_off = calloc(nspans, sizeof *b->span_off);
  if (!b->span_off) return VG_ENOMEM;
  int64_t acc = 0;
  for (size_t i = 0; i < nspans; i++) {
    b->span_off[i] = acc;
    acc += spans[i].end_ms - spans[i].start_ms;
  }
  b->total_ms = acc;
  int rc = 0;
  for (size_t i = 0; i < b->nsrcs && !rc; i++) {
    const src *s = &b->srcs[i];
    uint64_t size = s->size;
    if (!s->mem) {
      struct stat st;
      fdslot *slot;
      int fd = src_fd(b, (uint32_t)i, &slot);
      bool ok = fd >= 0 && fstat(fd, &st) == 0;
      src_fd_done(b, slot, fd);
      if (!ok) continue; /* gone: its time is a gap */
      size = (uint64_t)st.st_size;
    }
    rc = scan_segment(b, (uint32_t)i, size);
  }
  if (rc) return rc;
  /* Output time 0 is when the video frame on screen at the requested start
   * began (its presentation time on the axis the tracks share, at most a
   * frame early), for every track: a demuxer such as FFmpeg's, and so
   * Chromium's, begins a video track at a whole frame, so an edit that
   * starts inside a frame would show the picture that much ahead of the
   * sound (the audio edit is cut to the sample). */
  trk *vt = &b->tracks[T_VIDEO];
  select_track(b, vt, true, 0);
  int64_t p0 = 0;
  if (vt->nkeep && vt->t0 < 0) {
    int64_t best = INT64_MIN;
    for (size_t i = 0; i < vt->n; i++) {
      const sample *x = &vt->s[i];
      int64_t p = x->t + x->cto;
      if (x->keep && p <= 0 && p > best) best = p;
    }
    if (best != INT64_MIN) p0 = best;
  }
  double shift_s = vt->nkeep ? -(double)p0 / vt->timescale : 0;
  trk *at = &b->tracks[T_AUDIO];
  select_track(b, at, false, -llround(shift_s * at->timescale));
  if (!vt->nkeep && !at->nkeep) return VG_ENOTFOUND;
  /* Edits in movie units: a track plays from its first sample (an empty
   * edit before it when it begins after output time 0) to its end, cut at
   * the end of the spans. */
  int64_t total_ms = b->total_ms + llround(shift_s * 1000);
  for (int k = 0; k < NTRACKS; k++) {
    trk *t = &b->tracks[k];
    if (!t->nkeep) continue;
    int64_t zero = k == T_VIDEO ? p0 : -llround(shift_s * t->timescale);
    /* The first sample shown (with B-frames the keyframe may be shown
     * after the start it is decoded before): an empty edit until then. */
    int64_t first = INT64_MAX;
    for (size_t i = 0; i < t->n; i++)
      if (t->s[i].keep && t->s[i].t + t->s[i].cto < first) first = t->s[i].t + t->s[i].cto;
    int64_t rel0 = first - zero; /* on the output timeline */
    int64_t start_ms = rel0 > 0 ? rel0 * 1000 / t->timescale : 0;
    /* media time (composition) of what output time 0 or the first shown sample shows */
    t->edit_media_time = (rel0 > 0 ? first : zero) - t->t0;
    int64_t end_ms = ms_ceil(t->tend - zero, t->timescale);
    if (end_ms > total_ms) end_ms = total_ms;
    if (end_ms <= start_ms) end_ms = start_ms + 1;
    t->edit_empty_ms = (uint64_t)start_ms;
    t->edit_ms = (uint64_t)(end_ms - start_ms);
    if ((uint64_t)end_ms > b->duration_ms) b->duration_ms = (uint64_t)end_ms;
  }
  find_gaps(b, vt->nkeep ? vt : at, shift_s);
  rc = build_chunks(b);
  if (rc) return rc;
  rc = build_header(b);
  b->spans = NULL;
  /* Reads need only the header and the chunk map: the per-sample tables
   * (most of the memory of a long build) go now, as the builder may be
   * kept for many requests. */
  for (int k = 0; k < NTRACKS; k++) {
    free(b->tracks[k].s);
    b->tracks[k].s = NULL;
    b->tracks[k].cap = 0;
  }
  free(b->runs);
  b->runs = NULL;
  b->runs_cap = 0;
  return rc;
}

static int check_spans(const vg_mp4build_span *spans, size_t nspans) {
  if (!spans || nspans == 0) return VG_EINVAL;
  for (size_t i = 0; i < nspans; i++) {
    if (spans[i].end_ms <= spans[i].start_ms) return VG_EINVAL;
    if (i && spans[i].start_ms < spans[i - 1].end_ms) return VG_EINVAL;
  }
  return 0;
}

static vg_mp4build *alloc_builder(size_t nsegs) {
  vg_mp4build *b = calloc(1, sizeof *b);
  if (!b) return NULL;
  for (int i = 0; i < FD_CACHE; i++) b->fds[i].fd = -1;
  pthread_mutex_init(&b->fd_lock, NULL);
  b->srcs = calloc(nsegs ? nsegs : 1, sizeof *b->srcs);
  if (!b->srcs) {
    pthread_mutex_destroy(&b->fd_lock);
    free(b);
    return NULL;
  }
  return b;
}

/* A segment that cannot hold a frame of the spans is not read at all. */
static bool seg_useful(int64_t start_ms, int64_t end_ms, const vg_mp4build_span *spans,
                       size_t nspans) {
  if (start_ms >= spans[nspans - 1].end_ms) return false;
  if (end_ms > 0 && end_ms <= spans[0].start_ms) return false;
  return true;
}

int vg_mp4build_open(const vg_mp4build_input *segs, size_t nsegs, const vg_mp4build_span *spans,
                     size_t nspans, vg_mp4build **out) {
  *out = NULL;
  if ((nsegs && !segs) || check_spans(spans, nspans)) return VG_EINVAL;
  if (nsegs > VG_MP4BUILD_MAX_SEGMENTS) return VG_ETOOBIG;
  vg_mp4build *b = alloc_builder(nsegs);
  if (!b) return VG_ENOMEM;
  for (size_t i = 0; i < nsegs; i++) {
    if (!segs[i].path || !seg_useful(segs[i].start_ms, segs[i].end_ms, spans, nspans)) continue;
    src *s = &b->srcs[b->nsrcs];
    s->path = strdup(segs[i].path);
    if (!s->path) {
      vg_mp4build_free(b);
      return VG_ENOMEM;
    }
    s->start_ms = segs[i].start_ms;
    s->end_ms = segs[i].end_ms;
    b->nsrcs++;
  }
  int rc = build(b, spans, nspans);
  if (rc) {
    vg_mp4build_free(b);
    return rc;
  }
  *out = b;
  return 0;
}

int vg_mp4build_open_mem(const vg_mp4build_mem *segs, size_t nsegs, const vg_mp4build_span *spans,
                         size_t nspans, vg_mp4build **out) {
  *out = NULL;
  if ((nsegs && !segs) || check_spans(spans, nspans)) return VG_EINVAL;
  if (nsegs > VG_MP4BUILD_MAX_SEGMENTS) return VG_ETOOBIG;
  vg_mp4build *b = alloc_builder(nsegs);
  if (!b) return VG_ENOMEM;
  for (size_t i = 0; i < nsegs; i++) {
    if (!segs[i].data || !seg_useful(segs[i].start_ms, segs[i].end_ms, spans, nspans)) continue;
    src *s = &b->srcs[b->nsrcs++];
    s->mem = segs[i].data;
    s->size = segs[i].len;
    s->start_ms = segs[i].start_ms;
    s->end_ms = segs[i].end_ms;
  }
  int rc = build(b, spans, nspans);
  if (rc) {
    vg_mp4build_free(b);
    return rc;
  }
  *out = b;
  return 0;
}

uint64_t vg_mp4build_size(const vg_mp4build *b) { return b->size; }
double vg_mp4build_duration(const vg_mp4build *b) { return (double)b->duration_ms / 1000.0; }
uint64_t vg_mp4build_header_size(const vg_mp4build *b) { return b->header_len; }

uint64_t vg_mp4build_memory(const vg_mp4build *b) {
  uint64_t n = sizeof *b + b->nsrcs * sizeof *b->srcs + b->header_len +
               b->nchunks * sizeof *b->chunks + b->ngaps * sizeof *b->gaps +
               b->nspans * sizeof *b->span_off;
  for (size_t i = 0; i < b->nsrcs; i++) n += b->srcs[i].path ? strlen(b->srcs[i].path) + 1 : 0;
  for (int k = 0; k < NTRACKS; k++) n += b->tracks[k].cap * sizeof(sample);
  return n + b->runs_cap * sizeof(run);
}

const vg_mp4build_gap *vg_mp4build_gaps(const vg_mp4build *b, size_t *n) {
  *n = b->ngaps;
  return b->gaps;
}

int vg_mp4build_read(vg_mp4build *b, uint64_t offset, uint8_t *dst, size_t len, size_t *got) {
  *got = 0;
  if (offset >= b->size) return 0;
  if (len > b->size - offset) len = (size_t)(b->size - offset);
  size_t done = 0;
  if (offset < b->header_len) {
    size_t n = b->header_len - (size_t)offset;
    if (n > len) n = len;
    memcpy(dst, b->header + offset, n);
    done = n;
  }
  while (done < len) {
    uint64_t p = offset + done - b->header_len;
    /* The chunk holding payload byte p. */
    size_t lo = 0, hi = b->nchunks;
    while (hi - lo > 1) {
      size_t mid = (lo + hi) / 2;
      if (b->chunks[mid].out_off <= p)
        lo = mid;
      else
        hi = mid;
    }
    const chunk *c = &b->chunks[lo];
    uint64_t in = p - c->out_off;
    assert(in < c->bytes);
    size_t n = len - done;
    if (n > c->bytes - in) n = (size_t)(c->bytes - in);
    if (src_read(b, c->src, c->file_off + in, dst + done, n)) return VG_EIO;
    done += n;
  }
  *got = done;
  return 0;
}

void vg_mp4build_close_files(vg_mp4build *b) {
  pthread_mutex_lock(&b->fd_lock);
  for (int i = 0; i < FD_CACHE; i++)
    if (b->fds[i].fd >= 0 && !b->fds[i].busy) {
      close(b->fds[i].fd);
      b->fds[i].fd = -1;
    }
  pthread_mutex_unlock(&b->fd_lock);
}

void vg_mp4build_free(vg_mp4build *b) {
  if (!b) return;
  for (int i = 0; i < FD_CACHE; i++)
    if (b->fds[i].fd >= 0) close(b->fds[i].fd);
  for (size_t i = 0; i < b->nsrcs; i++) free(b->srcs[i].path);
  free(b->srcs);
  for (int k = 0; k < NTRACKS; k++) {
    for (size_t i = 0; i < b->tracks[k].nentries; i++) free(b->tracks[k].entries[i].box);
    free(b->tracks[k].s);
  }
  free(b->runs);
  free(b->chunks);
  free(b->header);
  free(b->gaps);
  free(b->span_off);
  pthread_mutex_destroy(&b->fd_lock);
  free(b);
}
