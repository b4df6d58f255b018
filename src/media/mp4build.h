/* mp4build.h - a progressive MP4 (moov first) built on the fly from one
 * camera's fMP4 segment files, without re-encoding and without a
 * temporary copy.
 *
 * Opening reads only the boxes that describe the media (each segment's
 * moov and its moof boxes, never the mdat payloads) and builds in memory
 * an ftyp + moov with complete sample tables (stts, ctts, stss, stsz,
 * stsc, stco/co64, the segments' own sample entries) and an edit list.
 * The mdat that follows is virtual: a sorted map of runs (output offset
 * range -> segment file, file offset), one run per track per fragment, so
 * vg_mp4build_read serves any byte range (HTTP Range) with a few large
 * preads.
 *
 * Time: the output timeline is the concatenation of the given wall-clock
 * spans (pauses removed), so media time t is recording second t. The file
 * begins at the keyframe at or before the start of the first span and an
 * edit list hides what comes before it (frame-exact start, audio trimmed
 * alike). A camera drop inside a span keeps true timestamps: the sample
 * before the hole lasts until the next frame, and vg_mp4build_gaps names
 * the hole. Segments cut short by a crash, or still being written, are
 * read up to their last whole fragment. */
#ifndef VG_MP4BUILD_H
#define VG_MP4BUILD_H

#include <stddef.h>
#include <stdint.h>

/* Limits on what one build may hold; past them opening fails with
 * VG_ETOOBIG. */
#define VG_MP4BUILD_MAX_SEGMENTS 100000
#define VG_MP4BUILD_MAX_SAMPLES (32u << 20) /* all tracks */
#define VG_MP4BUILD_MAX_MOOV (16u << 20)    /* a segment's init moov */
#define VG_MP4BUILD_MAX_MOOF (16u << 20)    /* one fragment's moof */
/* A hole between two frames of a track at least this long is a gap. */
#define VG_MP4BUILD_GAP_MS 2000

typedef struct vg_mp4build vg_mp4build;

/* Segment files of one camera, in time order. */
typedef struct vg_mp4build_input {
  const char *path;
  int64_t start_ms, end_ms; /* wall clock (UTC ms) of the index; end_ms 0: still open */
} vg_mp4build_input;

/* Wall-clock UTC ms ranges to include, in order; the output timeline is
 * their concatenation (recording time: pauses removed). */
typedef struct vg_mp4build_span {
  int64_t start_ms, end_ms;
} vg_mp4build_span;

/* A hole in the video (or, without video, the audio) on the output
 * timeline, in seconds. */
typedef struct vg_mp4build_gap {
  double start_s, end_s;
} vg_mp4build_gap;

/* Blocking file reads: call it off the event loop. Returns 0,
 * VG_ENOTFOUND when no frame falls in the spans, VG_EINVAL (bad
 * arguments, or segments whose streams cannot be joined), VG_EIO,
 * VG_ETOOBIG or VG_ENOMEM. Segment files that cannot be opened or parsed
 * are skipped (their time becomes a gap). */
int vg_mp4build_open(const vg_mp4build_input *segs, size_t nsegs, const vg_mp4build_span *spans,
                     size_t nspans, vg_mp4build **out);

/* The same over segment files held in memory (tests and fuzzing); the
 * bytes must outlive the builder. */
typedef struct vg_mp4build_mem {
  const uint8_t *data;
  size_t len;
  int64_t start_ms, end_ms;
} vg_mp4build_mem;
int vg_mp4build_open_mem(const vg_mp4build_mem *segs, size_t nsegs, const vg_mp4build_span *spans,
                         size_t nspans, vg_mp4build **out);

/* Size of the whole file in bytes. */
uint64_t vg_mp4build_size(const vg_mp4build *b);
/* Duration of the output (the longest track, as the edit lists show it) in seconds. */
double vg_mp4build_duration(const vg_mp4build *b);
/* Bytes of ftyp + moov + the mdat header: what is served from memory. */
uint64_t vg_mp4build_header_size(const vg_mp4build *b);
/* Bytes of memory the builder holds (header, chunk map, file names):
 * what a cache of builders counts. */
uint64_t vg_mp4build_memory(const vg_mp4build *b);
/* Holes in the output timeline (see VG_MP4BUILD_GAP_MS); *n is their
 * count. Valid until vg_mp4build_free. */
const vg_mp4build_gap *vg_mp4build_gaps(const vg_mp4build *b, size_t *n);
/* Blocking; any offset (HTTP Range). Copies up to len bytes from offset
 * into dst; *got is short only at the end of the file. Several threads
 * may read one builder at once (its open files are shared under a lock,
 * the reads themselves run in parallel). Returns 0 or VG_EIO when a segment file can no
 * longer be read as it was when opened. */
int vg_mp4build_read(vg_mp4build *b, uint64_t offset, uint8_t *dst, size_t len, size_t *got);
/* Closes the segment files no read is using (a later read opens them
 * again): a builder kept in a cache must not hold deleted files' space. */
void vg_mp4build_close_files(vg_mp4build *b);
void vg_mp4build_free(vg_mp4build *b);

#endif
