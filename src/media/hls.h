/* hls.h - Low-Latency HLS (RFC 8216bis, protocol version 9) media
 * playlists for live video: the text, the names of the media URIs and the
 * blocking-reload decision. Pure functions over plain structs: the live
 * hub (app/hls.c) owns the parts and segments and the waiting requests.
 *
 * Layout of a live stream under /live/{camera}/:
 *   index.m3u8          the media playlist
 *   init.mp4            the init segment (EXT-X-MAP)
 *   p<msn>.<part>.mp4   part <part> of segment <msn> (moof + mdat)
 *   s<msn>.mp4          the whole segment <msn> (its parts in order)
 * Every URI in a playlist carries the query the playlist was asked with
 * (the grant), since HLS clients send no cookie to a media server. */
#ifndef VG_HLS_H
#define VG_HLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* Parts one segment may hold; the packager starts a new segment at the
 * next keyframe past it, or cuts one without a keyframe at twice it. */
#define VG_HLS_MAX_PARTS 64
/* Longest query string copied into playlist URIs. */
#define VG_HLS_MAX_QUERY 512

typedef struct vg_hls_part_info {
  double duration;  /* seconds */
  bool independent; /* starts with a keyframe */
} vg_hls_part_info;

typedef struct vg_hls_seg_info {
  uint64_t msn;    /* media sequence number */
  int64_t wall_ms; /* UTC ms of its first frame (EXT-X-PROGRAM-DATE-TIME) */
  bool complete;   /* closed: has an EXTINF and a segment URI */
  size_t nparts;
  const vg_hls_part_info *parts;
  bool discontinuity; /* not continuous with the segment before (a new init, new timestamps) */
} vg_hls_seg_info;

typedef struct vg_hls_playlist_cfg {
  double part_target;  /* PART-TARGET, seconds */
  const char *query;   /* appended to every URI, e.g. "?grant=..."; "" or NULL: none */
  size_t parts_window; /* list EXT-X-PART lines for this many last segments */
  /* EXT-X-DISCONTINUITY-SEQUENCE: discontinuities before the first
   * segment listed (written when non-zero or a segment has one). */
  uint64_t disc_seq;
  /* 0: the init segment is "init.mp4"; N > 0: "init.mp4?v=N" (with the
   * query after it), so a player fetches the new init after a
   * discontinuity instead of reusing the one it has under the old URI. */
  uint64_t map_version;
} vg_hls_playlist_cfg;

/* The duration of a segment: the sum of its parts. */
double vg_hls_seg_duration(const vg_hls_seg_info *s);

/* Writes the media playlist of segs (oldest first, msn consecutive; only
 * the last may be incomplete) into out; a segment with discontinuity set
 * gets EXT-X-DISCONTINUITY before it (RFC 8216bis 4.4.4.3). The preload hint names the part
 * that comes next. Returns 0, VG_EINVAL (no segment, a gap in msn, an
 * incomplete segment before the last, a bad query) or VG_ENOMEM. */
int vg_hls_playlist(const vg_hls_seg_info *segs, size_t n, const vg_hls_playlist_cfg *cfg,
                    vg_str *out);

/* What a blocking playlist request (_HLS_msn=msn, _HLS_part=part or -1)
 * or a request for part (msn, part) should do, given the newest segment
 * last_msn with last_nparts parts so far (last_complete: it is closed). */
typedef enum vg_hls_wait {
  VG_HLS_READY = 0, /* the part (or the whole segment msn) exists now */
  VG_HLS_WAIT,      /* it is near: hold the request until it exists */
  VG_HLS_TOO_FAR,   /* more than two segments ahead: 400 per the spec */
} vg_hls_wait;

vg_hls_wait vg_hls_wait_state(uint64_t last_msn, size_t last_nparts, bool last_complete,
                              uint64_t msn, int64_t part);

typedef enum vg_hls_kind {
  VG_HLS_PLAYLIST = 0, /* index.m3u8 */
  VG_HLS_INIT,         /* init.mp4 */
  VG_HLS_PART,         /* p<msn>.<part>.mp4 */
  VG_HLS_SEGMENT,      /* s<msn>.mp4 */
} vg_hls_kind;

typedef struct vg_hls_name {
  vg_hls_kind kind;
  uint64_t msn;
  uint32_t part;
} vg_hls_name;

/* Parses the last path element of an HLS URI (no query). Numbers are
 * plain decimal without leading zeros, msn below 2^53, part below
 * VG_HLS_MAX_PARTS * 2. Returns 0 or VG_EINVAL. */
int vg_hls_parse_name(const char *name, size_t len, vg_hls_name *out);

#endif
