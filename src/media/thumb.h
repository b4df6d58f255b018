/* thumb.h - a JPEG picture of one keyframe of a recorded fMP4 file.
 *
 * A segment file is ftyp, moov (with the avcC/hvcC record) and moof+mdat
 * fragments. vg_thumb_locate reads the moov and the moofs (never the video
 * between them) and picks the last keyframe at or before a time; then
 * vg_thumb_jpeg reads that one sample, decodes it with libavcodec and
 * encodes a JPEG of a given width with libavcodec's MJPEG encoder. No other
 * frame is decoded: a keyframe needs nothing before it.
 *
 * The scaling is an area average over the 8-bit planes, done here rather
 * than with libswscale: a thumbnail needs one plain downscale, and that
 * keeps the build to the FFmpeg libraries it already links.
 *
 * The parsers are pure functions over buffers (the fuzz target calls them);
 * the two file functions block on reads and belong off the event loop. */
#ifndef VG_THUMB_H
#define VG_THUMB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "media/frame.h"

#define VG_THUMB_WIDTH_MIN 16
#define VG_THUMB_WIDTH_MAX 1920
/* Bounds on what is read from a file: a moov, one moof, one sample. */
#define VG_THUMB_MOOV_MAX (4u << 20)
#define VG_THUMB_MOOF_MAX (4u << 20)
#define VG_THUMB_SAMPLE_MAX (32u << 20)
/* Largest picture decoded (either side). */
#define VG_THUMB_SOURCE_MAX 8192

/* The video track of an init segment. */
typedef struct vg_thumb_track {
  uint32_t track_id;
  uint32_t timescale;
  vg_codec_id codec; /* VG_CODEC_H264 or VG_CODEC_H265 */
  uint8_t extradata[VG_EXTRADATA_MAX];
  size_t extradata_len;
  uint32_t trex_duration, trex_size, trex_flags; /* defaults from mvex/trex */
} vg_thumb_track;

/* A keyframe picked in a file. */
typedef struct vg_thumb_key {
  bool found;
  uint64_t offset;      /* of the sample's bytes in the file */
  uint32_t size;        /* of the sample */
  uint64_t pts;         /* presentation time, track ticks */
  int64_t ms;           /* its time from the file's first frame, ms */
  vg_thumb_track track; /* what decodes it */
} vg_thumb_key;

/* Reads the video track of a moov box (data: the whole box, header
 * included). Returns 0, VG_ENOTFOUND when it has no H.264/H.265 video
 * track, VG_EINVAL when malformed. */
int vg_thumb_parse_moov(const uint8_t *data, size_t len, vg_thumb_track *out);

/* Walks the samples of t's track in one moof box (data: the whole box;
 * moof_offset: where it sits in the file) and updates *best with the last
 * keyframe whose presentation time (decode time + composition offset),
 * counted from *first_dts, is at or before at (track ticks), or the first
 * keyframe seen while none is. *first_dts is set from the first sample
 * seen (pass UINT64_MAX at the start); a fragment without tfdt follows on
 * from the pick.
 * Sets *past when a sample after at was seen (later fragments cannot give
 * a better pick). Returns 0 or VG_EINVAL when malformed. */
int vg_thumb_parse_moof(const vg_thumb_track *t, const uint8_t *data, size_t len,
                        uint64_t moof_offset, uint64_t at, uint64_t *first_dts, vg_thumb_key *best,
                        bool *past);

/* Picks the keyframe at or before at_ms (from the file's first frame; the
 * first keyframe when none is before) in the segment file at path.
 * Blocking. Returns 0, VG_EIO, VG_ENOTFOUND (no video keyframe),
 * VG_EINVAL (malformed), VG_ETOOBIG (a box past the bounds above). */
int vg_thumb_locate(const char *path, int64_t at_ms, vg_thumb_key *key);

/* Decodes the keyframe key of the file at path and encodes it as a JPEG
 * width pixels wide (VG_THUMB_WIDTH_MIN..MAX), its height keeping the
 * picture's aspect (rounded to even). Blocking. *out is a new buffer.
 * Returns 0, VG_EIO, VG_EINVAL (bad width, or the sample does not
 * decode), VG_ENOMEM. */
int vg_thumb_jpeg(const char *path, const vg_thumb_key *key, int width, vg_buf **out);

#endif
