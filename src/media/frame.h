/* frame.h - what flows from ingest to the live hub and the recorder.
 *
 * A camera session describes its streams once (vg_codec_params, again
 * after a reconnect if they changed) and then emits vg_frames. Video is
 * never re-encoded: its payload is the access unit as length-prefixed NAL
 * units (4-byte big-endian lengths, the "AVCC"/"HVCC" layout MP4 stores),
 * and the parameter sets live in extradata as an avcC / hvcC record. Audio
 * is raw AAC frames (no ADTS header) with an AudioSpecificConfig in
 * extradata. Payloads are shared vg_bufs so one frame can reach the live
 * hub and the recorder without a copy. */
#ifndef VG_FRAME_H
#define VG_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

typedef enum vg_codec_id {
  VG_CODEC_NONE = 0,
  VG_CODEC_H264,
  VG_CODEC_H265,
  VG_CODEC_AAC,
} vg_codec_id;

enum { VG_TRACK_VIDEO = 0, VG_TRACK_AUDIO = 1 };

#define VG_EXTRADATA_MAX 4096

typedef struct vg_codec_params {
  vg_codec_id codec;
  uint32_t timescale; /* units per second of pts/dts: 90000 video, sample rate audio */
  /* video */
  int width, height;
  int fps_num, fps_den; /* nominal, 0/0 when unknown */
  /* audio */
  int sample_rate, channels;
  /* avcC / hvcC record, or AudioSpecificConfig */
  uint8_t extradata[VG_EXTRADATA_MAX];
  size_t extradata_len;
} vg_codec_params;

typedef struct vg_frame {
  int track;        /* VG_TRACK_VIDEO or VG_TRACK_AUDIO */
  int64_t pts, dts; /* in the track's timescale, continuous within a session */
  int64_t duration; /* in the track's timescale; 0 when unknown */
  int64_t wall_ms;  /* UTC ms when the frame was captured, per the anchor */
  bool keyframe;
  vg_buf *data; /* one reference owned by the frame */
} vg_frame;

/* RFC 6381 codec string of a stream ("avc1.64001f", "hvc1.1.6.L93.B0",
 * "mp4a.40.2") into out. Returns 0 or VG_EINVAL. */
int vg_codec_string(const vg_codec_params *p, char *out, size_t outlen);

#endif
