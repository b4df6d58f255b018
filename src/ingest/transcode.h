/* transcode.h - G.711 (A-law, mu-law) to AAC for a camera's audio.
 *
 * Browsers and MP4 players do not take G.711, so the camera session turns
 * it into AAC-LC at 16 kHz mono: libavcodec's PCM decoder, swresample to
 * the encoder's planar float format, a sample FIFO cutting 1024-sample
 * frames, and FFmpeg's native "aac" encoder. Timestamps are counted in
 * output samples from the first input, so the AAC track is continuous;
 * a gap in the input (lost packets, > VG_TRANSCODE_GAP_MS) restarts the
 * count at the new input time. */
#ifndef VG_TRANSCODE_H
#define VG_TRANSCODE_H

#include <stddef.h>
#include <stdint.h>

#include "media/frame.h"

#define VG_TRANSCODE_RATE 16000
#define VG_TRANSCODE_BITRATE 32000
#define VG_TRANSCODE_GAP_MS 200

typedef enum vg_g711_law {
  VG_G711_ALAW = 0,
  VG_G711_MULAW,
} vg_g711_law;

typedef struct vg_transcode vg_transcode;

/* One AAC frame out: raw (no ADTS), pts and duration in 1/16000 s. */
typedef void (*vg_transcode_out_fn)(void *ud, const uint8_t *data, size_t len, int64_t pts,
                                    int64_t duration);

/* A transcoder for G.711 at in_rate Hz (8000 for RTP) with in_channels
 * channels. Returns 0, VG_EINVAL or VG_ENOMEM. */
int vg_transcode_new(vg_g711_law law, int in_rate, int in_channels, vg_transcode **out);
/* The AAC stream's parameters: codec, timescale and sample rate 16000,
 * one channel, the AudioSpecificConfig as extradata. */
void vg_transcode_params(const vg_transcode *t, vg_codec_params *p);
/* Feeds one G.711 packet whose first sample is at pts (1/16000 s); every
 * AAC frame completed by it goes to fn before this returns. Returns 0 or
 * VG_EIO (the decoder or encoder failed; the transcoder stays usable). */
int vg_transcode_push(vg_transcode *t, const uint8_t *data, size_t len, int64_t pts,
                      vg_transcode_out_fn fn, void *ud);
void vg_transcode_free(vg_transcode *t);

#endif
