/* bmff.h - bounded ISO-BMFF (MP4) reader over a buffer.
 *
 * Pure functions, no I/O: the caller maps or reads the file. Nothing in
 * the bytes is trusted: a box smaller than its header, a size running past
 * its parent, or nesting deeper than VG_BMFF_MAX_DEPTH ends the walk with
 * an error code instead of a read out of bounds.
 *
 * vg_bmff_scan walks a fragmented MP4 file (ftyp, moov, then moof+mdat
 * pairs) and reports what is complete. The recorder uses it after a crash
 * to cut a file back to its last complete fragment; tests use it to check
 * what the writer produced. */
#ifndef VG_BMFF_H
#define VG_BMFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VG_BMFF_MAX_DEPTH 16
#define VG_BMFF_MAX_TRACKS 8

/* Four-character code as a big-endian integer: VG_FOURCC('m','o','o','v'). */
#define VG_FOURCC(a, b, c, d)                                                                  \
  ((uint32_t)(uint8_t)(a) << 24 | (uint32_t)(uint8_t)(b) << 16 | (uint32_t)(uint8_t)(c) << 8 | \
   (uint32_t)(uint8_t)(d))

/* A bounded big-endian reader over one box body: a read past the end
 * gives 0, moves to the end and sets err, so a parser checks err once. */
typedef struct vg_bmff_rd {
  const uint8_t *p;
  size_t len, pos;
  bool err;
} vg_bmff_rd;

uint32_t vg_bmff_be32(const uint8_t *p);
uint32_t vg_bmff_rd_u32(vg_bmff_rd *r);
uint64_t vg_bmff_rd_u64(vg_bmff_rd *r);
void vg_bmff_rd_skip(vg_bmff_rd *r, size_t n);

typedef struct vg_bmff_box {
  uint32_t type;
  size_t offset;       /* of the header, from the start of the iterated range */
  uint64_t size;       /* whole box as declared (after size 0 = "to the end") */
  size_t header;       /* 8, or 16 with a 64-bit largesize */
  const uint8_t *body; /* size - header bytes, all inside the buffer */
  size_t body_len;
  int depth; /* 0 for top-level boxes */
} vg_bmff_box;

typedef struct vg_bmff_iter {
  const uint8_t *data;
  size_t len;
  size_t pos;
  int depth;
} vg_bmff_iter;

/* Iterates the boxes of data[0..len) at depth 0. */
void vg_bmff_iter_init(vg_bmff_iter *it, const uint8_t *data, size_t len);

/* Iterates the children of box, starting skip bytes into its body (4 for
 * a full box's version and flags, 8 for stsd's, and so on). Returns 0,
 * VG_ETOOBIG past VG_BMFF_MAX_DEPTH, VG_EINVAL when skip > body_len. */
int vg_bmff_iter_children(vg_bmff_iter *it, const vg_bmff_box *box, size_t skip);

/* Next box. Returns 1 with *box filled, 0 at the end of the range,
 * VG_EAGAIN when the header or the body runs past the range (box->offset,
 * type, size and header are filled when the header was readable, so a
 * caller can tell a truncated mdat from garbage), or VG_EINVAL for a size
 * below the header length. After an error the iterator stays at the bad
 * box. */
int vg_bmff_next(vg_bmff_iter *it, vg_bmff_box *box);

/* First child of box (after skip bytes) of the given type: 1 found, 0 not,
 * or a negative code from the iteration. */
int vg_bmff_find(const vg_bmff_box *box, size_t skip, uint32_t type, vg_bmff_box *out);

typedef struct vg_bmff_track {
  uint32_t id;
  uint32_t handler;               /* hdlr type: 'vide', 'soun', 0 unknown */
  uint32_t timescale;             /* from mdhd, 0 unknown */
  uint32_t fragments;             /* complete fragments holding this track */
  uint64_t first_tfdt, last_tfdt; /* of the first and last such fragment */
  uint64_t samples;               /* sum of trun sample counts */
  uint64_t duration;              /* sum of sample durations (trun, tfhd or trex) */
  uint64_t last_duration;         /* of the last fragment: it ends at last_tfdt + this */
  uint32_t gaps;                  /* fragments whose tfdt != previous tfdt + duration */
} vg_bmff_track;

enum {
  VG_BMFF_END = 0,       /* walked to the end of the data */
  VG_BMFF_TRUNCATED = 1, /* the last box runs past the data */
  VG_BMFF_MALFORMED = 2, /* a box broke a rule; the walk stopped there */
};

typedef struct vg_bmff_scan_result {
  bool has_init;                          /* ftyp and a complete moov before any fragment */
  size_t init_end;                        /* end of the moov, 0 without init */
  uint32_t fragments;                     /* complete moof + mdat pairs */
  size_t complete_end;                    /* end of the last complete fragment, else init_end */
  uint32_t first_sequence, last_sequence; /* mfhd of those fragments */
  bool sequence_ok;                       /* each mfhd sequence number above the one before */
  int stop;                               /* VG_BMFF_END / TRUNCATED / MALFORMED */
  size_t stop_offset;                     /* where the walk stopped */
  int ntracks;
  vg_bmff_track tracks[VG_BMFF_MAX_TRACKS];
} vg_bmff_scan_result;

/* Walks a fragmented MP4 file in data[0..len) and fills *r. A fragment
 * counts as complete when a moof parses, is followed at once by an mdat
 * whose bytes are all present, and its truns point inside that mdat.
 * Returns 0 (the result says how far the walk got) or VG_EINVAL for NULL
 * arguments. */
int vg_bmff_scan(const uint8_t *data, size_t len, vg_bmff_scan_result *r);

/* The track of r with track_ID id, or NULL. */
const vg_bmff_track *vg_bmff_scan_track(const vg_bmff_scan_result *r, uint32_t id);

#endif
