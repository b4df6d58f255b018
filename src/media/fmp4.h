/* fmp4.h - fragmented MP4 (ISO/IEC 14496-12) writer.
 *
 * One writer per camera session. It turns the session's codec parameters
 * into an init segment (ftyp + moov, no samples) and its vg_frames into
 * fragments (moof + mdat). Init and each fragment are separate, immutable
 * vg_bufs, because two consumers use them differently:
 *
 *  - the recorder appends init + fragments to a file; the file is playable
 *    (ffprobe, Chromium) after every fragment, so a crash loses at most the
 *    fragment in flight;
 *  - the live hub sends init and fragments over WebSocket to Media Source
 *    Extensions, sharing each buffer between viewers.
 *
 * The caller decides where fragments are cut: before each keyframe (one
 * GOP per fragment) for recording, after every frame for low-latency live.
 *
 * Track IDs: video is track 1 when present, audio the next one. Timescales
 * are the vg_codec_params timescales; the movie timescale is 1000. */
#ifndef VG_FMP4_H
#define VG_FMP4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "media/frame.h"

/* Samples one track may queue for one fragment; more is VG_ETOOBIG. */
#define VG_FMP4_MAX_SAMPLES 4096
/* Payload bytes one fragment may carry (all tracks); more is VG_ETOOBIG. */
#define VG_FMP4_MAX_FRAGMENT_BYTES (256u * 1024 * 1024)

typedef struct vg_fmp4 vg_fmp4;

/* What a fragment holds, for the segment index and the live hub. Arrays
 * are indexed by VG_TRACK_VIDEO / VG_TRACK_AUDIO; times are in that
 * track's timescale. */
typedef struct vg_fmp4_info {
  uint32_t sequence; /* mfhd sequence number, 1 for the first fragment */
  size_t bytes;      /* moof + mdat */
  bool keyframe;     /* first video sample is a sync sample (true without video) */
  uint32_t frames;   /* video samples, or audio samples without a video track */
  uint32_t samples[2];
  int64_t first_dts[2];  /* as written to tfdt; valid when samples[t] > 0 */
  int64_t duration[2];   /* sum of the written sample durations */
  int64_t first_wall_ms; /* wall_ms of the first sample of the main track */
} vg_fmp4_info;

/* New writer for a video stream (H.264/H.265) and/or an audio stream
 * (AAC); either may be NULL, not both. The params are copied. Returns 0,
 * VG_EINVAL (unsupported codec, empty extradata, zero timescale) or
 * VG_ENOMEM. */
int vg_fmp4_new(const vg_codec_params *video, const vg_codec_params *audio, vg_fmp4 **out);

/* Frees the writer and drops the references of queued samples. */
void vg_fmp4_free(vg_fmp4 *w);

/* The init segment: ftyp + moov with one trak per stream and mvex. New
 * buffer, reference count 1, owned by the caller. */
int vg_fmp4_init_segment(vg_fmp4 *w, vg_buf **out);

/* Queues a sample; the writer takes its own reference to f->data. Per
 * track, dts must be >= 0 (tfdt is unsigned) and strictly increasing, and
 * pts - dts must fit in 32 bits. Returns 0, VG_EINVAL (bad track, empty
 * payload, timestamps as above) or VG_ETOOBIG (VG_FMP4_MAX_SAMPLES or
 * VG_FMP4_MAX_FRAGMENT_BYTES reached: cut a fragment first). */
int vg_fmp4_add(vg_fmp4 *w, const vg_frame *f);

/* Number of samples queued, all tracks. */
size_t vg_fmp4_pending(const vg_fmp4 *w);

/* Writes every queued sample into one new buffer holding moof + mdat (one
 * allocation, sized before writing) and empties the queue. A sample's
 * duration is the next sample's dts minus its own; the last sample of a
 * track takes its frame's duration if set, else the one before it (in
 * this or an earlier fragment), else one frame at the nominal rate (1024
 * samples for AAC). info may be NULL. Returns 0, VG_EAGAIN with *out NULL
 * when nothing is queued, or VG_ENOMEM. */
int vg_fmp4_fragment(vg_fmp4 *w, vg_buf **out, vg_fmp4_info *info);

/* A fragment in parts, for a writer that gathers them (writev) instead of
 * copying every payload into one buffer: head holds moof and the mdat
 * header; samples are the payloads in mdat order, the frames' own
 * buffers. head then the samples, back to back, are the bytes
 * vg_fmp4_fragment would give. The caller owns every reference and the
 * array (vg_fmp4_parts_release drops them). */
typedef struct vg_fmp4_parts {
  vg_buf *head;
  vg_buf **samples;
  size_t n;
  size_t bytes; /* head and samples */
} vg_fmp4_parts;

/* vg_fmp4_fragment, as parts: the same bytes, the same info, the same
 * state afterwards. Returns 0, VG_EAGAIN (nothing queued; out emptied) or
 * VG_ENOMEM (the queue is kept). */
int vg_fmp4_fragment_parts(vg_fmp4 *w, vg_fmp4_parts *out, vg_fmp4_info *info);
void vg_fmp4_parts_release(vg_fmp4_parts *p);

/* After a timestamp discontinuity (camera reconnect, clock reset): the next
 * sample of each track is placed where that track's previous fragment
 * ended, and later samples keep their distance to it. Queued samples are
 * kept as they are. */
void vg_fmp4_reset_time(vg_fmp4 *w);

#endif
