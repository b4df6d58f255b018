/* rtp.h - RTP depacketizers for camera streams: H.264 (RFC 6184: single
 * NAL unit, STAP-A, FU-A), H.265 (RFC 7798: single, AP, FU; without
 * DONL), AAC in mpeg4-generic (RFC 3640 AU headers, fragmented AUs) and
 * G.711 (RFC 3551 PCMU/PCMA).
 *
 * A depacketizer takes RTP packets in arrival order and hands out whole
 * access units: video when the marker bit ends one (or the timestamp
 * moves on without it), as 4-byte length-prefixed NAL units - the MP4
 * layout of media/frame.h - with the parameter sets and access unit
 * delimiters left out and the parameter sets given beside it as Annex-B;
 * audio as one raw AAC frame, or the G.711 samples of one packet.
 *
 * Losses: a sequence-number gap breaks the access unit being assembled,
 * which is dropped; video then waits for the next keyframe, since the
 * frames after a lost one cannot be decoded. Old or repeated packets are
 * ignored. Timestamps are extended from 32 bits to 64 (wrap-around).
 *
 * Pure over buffers: no I/O, no clock. */
#ifndef VG_RTP_H
#define VG_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ingest/sdp.h"
#include "media/frame.h"

#define VG_RTP_AU_MAX (8 * 1024 * 1024) /* bytes of one access unit */
#define VG_RTP_PARAMS_MAX 4096          /* bytes of parameter sets kept per access unit */

typedef enum vg_rtp_format {
  VG_RTP_NONE = 0,
  VG_RTP_H264,
  VG_RTP_H265,
  VG_RTP_AAC,
  VG_RTP_PCMU,
  VG_RTP_PCMA,
} vg_rtp_format;

typedef struct vg_rtp_au {
  const uint8_t *data; /* valid during the callback only */
  size_t len;
  const uint8_t *params; /* video: parameter sets met in this AU, Annex-B; else NULL */
  size_t params_len;
  int64_t ts; /* RTP timestamp, extended to 64 bits */
  bool key;   /* video: IDR (H.264) or IRAP (H.265); audio: always */
} vg_rtp_au;

typedef void (*vg_rtp_emit_fn)(void *ud, const vg_rtp_au *au);

typedef struct vg_rtp_stats {
  int64_t packets;     /* accepted */
  int64_t lost;        /* missing sequence numbers */
  int64_t dropped_aus; /* access units not handed out (broken, or waiting for a keyframe) */
  int64_t malformed;   /* packets that did not parse */
} vg_rtp_stats;

typedef struct vg_rtp_depack vg_rtp_depack;

/* The format of an SDP media section, VG_RTP_NONE when not one of ours
 * (AAC needs mode AAC-hbr/AAC-lbr style AU headers: sizelength > 0). */
vg_rtp_format vg_rtp_format_of(const vg_sdp_media *m);

/* A depacketizer for fmt; m (may be NULL for video and G.711) gives the
 * AAC AU-header layout. Returns 0, VG_EINVAL or VG_ENOMEM. */
int vg_rtp_depack_new(vg_rtp_format fmt, const vg_sdp_media *m, vg_rtp_depack **out);
/* Feeds one RTP packet; complete access units go to fn before it returns.
 * Returns 0, or VG_EINVAL for a packet that is not valid RTP or not valid
 * payload (skipped; the AU it belonged to is dropped). */
int vg_rtp_depack_push(vg_rtp_depack *d, const uint8_t *pkt, size_t len, vg_rtp_emit_fn fn,
                       void *ud);
void vg_rtp_depack_stats(const vg_rtp_depack *d, vg_rtp_stats *out);
void vg_rtp_depack_free(vg_rtp_depack *d);

/* Picture size from the SPS in an Annex-B buffer of codec (H.264 with
 * cropping and interlace, H.265 with its conformance window). Returns 0 or
 * VG_EINVAL. */
int vg_rtp_video_size(vg_codec_id codec, const uint8_t *annexb, size_t len, int *width,
                      int *height);
/* The decoder's reorder depth the SPS announces (H.264 VUI
 * max_num_reorder_frames, H.265 sps_max_num_reorder_pics of the highest
 * sub-layer): frames that may come before others that show earlier, 0
 * for a stream without B-frames. Returns 0, VG_ENOTFOUND when the SPS does
 * not say (H.264 without bitstream_restriction), or VG_EINVAL. */
int vg_rtp_video_reorder(vg_codec_id codec, const uint8_t *annexb, size_t len, int *depth);

#endif
