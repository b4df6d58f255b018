/* sdp.h - the parts of an SDP (RFC 4566) session description an RTSP
 * camera client needs: one entry per m= section with its first payload
 * type's encoding (rtpmap, or the static types 0 PCMU and 8 PCMA), its
 * control URL and the fmtp parameters of H.264 (RFC 6184), H.265 (RFC
 * 7798) and AAC in mpeg4-generic (RFC 3640).
 *
 * Pure: vg_sdp_parse reads a buffer and fills a fixed-size struct; every
 * field is bounded, lines that do not fit or do not parse are skipped. */
#ifndef VG_SDP_H
#define VG_SDP_H

#include <stddef.h>
#include <stdint.h>

#define VG_SDP_MAX_MEDIA 8
#define VG_SDP_CONTROL_MAX 512
#define VG_SDP_SPROP_MAX 2048 /* Annex-B parameter sets from the fmtp line */
#define VG_SDP_CONFIG_MAX 64  /* AAC AudioSpecificConfig */
#define VG_SDP_MAX_BYTES 65536

typedef struct vg_sdp_media {
  char type[16];     /* "video", "audio", ... */
  int payload;       /* first payload type of the m= line, -1 when none */
  char encoding[32]; /* upper-cased: "H264", "H265", "MPEG4-GENERIC", "PCMU", "PCMA" */
  int clock_rate;    /* Hz; 0 when unknown */
  int channels;      /* from rtpmap; 1 when absent */
  char control[VG_SDP_CONTROL_MAX]; /* a=control, "" when absent */
  double framerate;                 /* a=framerate, 0 when absent */
  /* H.264 / H.265 */
  int packetization_mode;
  uint8_t sprop[VG_SDP_SPROP_MAX]; /* parameter sets as Annex-B (00 00 00 01 before each) */
  size_t sprop_len;
  /* AAC (mpeg4-generic) */
  char mode[32];
  uint8_t config[VG_SDP_CONFIG_MAX];
  size_t config_len;
  int sizelength, indexlength, indexdeltalength;
  int constant_duration; /* samples per AU; 0 when absent */
} vg_sdp_media;

typedef struct vg_sdp {
  char control[VG_SDP_CONTROL_MAX]; /* session-level a=control */
  size_t nmedia;
  vg_sdp_media media[VG_SDP_MAX_MEDIA];
} vg_sdp;

/* Parses len bytes of SDP into out. Returns 0, VG_EINVAL (no v= line or
 * no m= section) or VG_ETOOBIG (more than VG_SDP_MAX_BYTES). Sections past
 * VG_SDP_MAX_MEDIA are ignored. */
int vg_sdp_parse(const char *text, size_t len, vg_sdp *out);

/* Decodes standard base64 (padding optional) into out; returns the byte
 * count or VG_EINVAL / VG_ETOOBIG. */
int vg_sdp_base64_decode(const char *in, size_t len, uint8_t *out, size_t cap);

#endif
