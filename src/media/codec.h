/* codec.h - conversions between the bitstream layouts encoders and cameras
 * produce and the ones MP4 stores.
 *
 * Encoders (libx264/libx265 with a global header) and RTSP cameras hand out
 * H.264/H.265 as an Annex-B byte stream: NAL units separated by start codes
 * (00 00 01 or 00 00 00 01), parameter sets in-band or in extradata. A
 * vg_frame carries the MP4 layout instead (see frame.h): 4-byte big-endian
 * length prefixes, with the parameter sets gathered in an avcC / hvcC
 * record. The RTSP ingest and the tests both convert with these functions,
 * so there is one implementation of each conversion.
 *
 * All functions are pure over buffers and bounded by their inputs.
 * vg_codec_string (RFC 6381) is declared in frame.h and lives in codec.c. */
#ifndef VG_CODEC_H
#define VG_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "media/frame.h"

/* Parameter sets copied into one avcC / hvcC record, at most. */
#define VG_CODEC_MAX_PARAM_SETS 16

/* Finds the next NAL unit of an Annex-B stream at or after *pos. On return
 * 1, *nal and *nal_len hold the unit (without start code and trailing zero
 * bytes) and *pos has moved past it; 0 means no more units. Bytes before
 * the first start code are skipped. */
int vg_annexb_next(const uint8_t *data, size_t len, size_t *pos, const uint8_t **nal,
                   size_t *nal_len);

/* What vg_annexb_to_lp leaves out. Parameter sets belong in the sample
 * entry for 'avc1'/'hvc1' (for hvc1 the hvcC promises that none are
 * in-band), and access unit delimiters carry nothing MP4 needs. */
enum {
  VG_LP_STRIP_PARAMS = 1 << 0, /* H.264 SPS/PPS, H.265 VPS/SPS/PPS */
  VG_LP_STRIP_AUD = 1 << 1,    /* access unit delimiters */
};

/* Converts one Annex-B access unit of codec (VG_CODEC_H264/H265) into
 * 4-byte length-prefixed NAL units in a new buffer (one allocation, sized
 * first). Returns 0, VG_EINVAL when no NAL unit is left to write, or
 * VG_ENOMEM. */
int vg_annexb_to_lp(vg_codec_id codec, const uint8_t *data, size_t len, unsigned flags,
                    vg_buf **out);

/* Builds an AVCDecoderConfigurationRecord (avcC, ISO/IEC 14496-15 5.3.3)
 * from the SPS and PPS found in an Annex-B buffer (encoder extradata or a
 * keyframe), lengthSizeMinusOne = 3. Writes at most cap bytes to out and
 * the length to *outlen. Returns 0, VG_EINVAL (no SPS or PPS, malformed
 * SPS) or VG_ETOOBIG (does not fit cap). */
int vg_avcc_from_annexb(const uint8_t *data, size_t len, uint8_t *out, size_t cap, size_t *outlen);

/* Builds an HEVCDecoderConfigurationRecord (hvcC, ISO/IEC 14496-15 8.3.3)
 * from the VPS, SPS and PPS in an Annex-B buffer, with profile, tier,
 * level, chroma format and bit depths read from the SPS and
 * array_completeness set (the layout 'hvc1' requires). Same returns as
 * vg_avcc_from_annexb. */
int vg_hvcc_from_annexb(const uint8_t *data, size_t len, uint8_t *out, size_t cap, size_t *outlen);

#endif
