/* hls.c - LL-HLS media playlists, URI names and the blocking decision. */
#include "hls.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/err.h"

#define MAX_MSN (UINT64_C(1) << 53)

double vg_hls_seg_duration(const vg_hls_seg_info *s) {
  double d = 0;
  for (size_t i = 0; i < s->nparts; i++) d += s->parts[i].duration;
  return d;
}

/* ISO 8601 with milliseconds, as EXT-X-PROGRAM-DATE-TIME wants. */
static void iso_time(int64_t ms, char out[32]) {
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}

/* A query goes into quoted URIs: no quote, no control byte, no space. */
static bool query_ok(const char *q) {
  size_t n = strlen(q);
  if (n > VG_HLS_MAX_QUERY || (n && q[0] != '?')) return false;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)q[i] <= 0x20 || q[i] == '"' || q[i] == 0x7f) return false;
  return true;
}

int vg_hls_playlist(const vg_hls_seg_info *segs, size_t n, const vg_hls_playlist_cfg *cfg,
                    vg_str *out) {
  const char *q = cfg->query ? cfg->query : "";
  if (n == 0 || !query_ok(q) || !(cfg->part_target > 0)) return VG_EINVAL;
  double longest = 0;
  for (size_t i = 0; i < n; i++) {
    if (i && segs[i].msn != segs[i - 1].msn + 1) return VG_EINVAL;
    if (!segs[i].complete && i + 1 < n) return VG_EINVAL;
    double d = vg_hls_seg_duration(&segs[i]);
    if (d > longest) longest = d;
  }
  /* EXTINF rounded to the nearest integer must not exceed it. */
  long target = lround(ceil(longest));
  if (target < 1) target = 1;
  bool any_disc = cfg->disc_seq > 0;
  for (size_t i = 0; i < n; i++) any_disc |= segs[i].discontinuity;
  /* The init's URI: its version first, then the query's own parameters. */
  char map_q[VG_HLS_MAX_QUERY + 32];
  if (cfg->map_version)
    snprintf(map_q, sizeof map_q, "?v=%llu%s%s", (unsigned long long)cfg->map_version,
             q[0] ? "&" : "", q[0] ? q + 1 : "");
  else
    snprintf(map_q, sizeof map_q, "%s", q);
  int rc = 0;
  rc |= vg_str_printf(out,
                      "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:%ld\n"
                      "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=%.3f\n"
                      "#EXT-X-PART-INF:PART-TARGET=%.3f\n#EXT-X-MEDIA-SEQUENCE:%llu\n",
                      target, 3 * cfg->part_target, cfg->part_target,
                      (unsigned long long)segs[0].msn);
  if (any_disc)
    rc |= vg_str_printf(out, "#EXT-X-DISCONTINUITY-SEQUENCE:%llu\n",
                        (unsigned long long)cfg->disc_seq);
  rc |= vg_str_printf(out, "#EXT-X-MAP:URI=\"init.mp4%s\"\n", map_q);
  size_t first_parts = n > cfg->parts_window ? n - cfg->parts_window : 0;
  for (size_t i = 0; i < n; i++) {
    const vg_hls_seg_info *s = &segs[i];
    char when[32];
    iso_time(s->wall_ms, when);
    if (s->discontinuity) rc |= vg_str_printf(out, "#EXT-X-DISCONTINUITY\n");
    rc |= vg_str_printf(out, "#EXT-X-PROGRAM-DATE-TIME:%s\n", when);
    if (i >= first_parts)
      for (size_t k = 0; k < s->nparts; k++)
        rc |= vg_str_printf(out, "#EXT-X-PART:DURATION=%.5f,URI=\"p%llu.%zu.mp4%s\"%s\n",
                            s->parts[k].duration, (unsigned long long)s->msn, k, q,
                            s->parts[k].independent ? ",INDEPENDENT=YES" : "");
    if (s->complete)
      rc |= vg_str_printf(out, "#EXTINF:%.5f,\ns%llu.mp4%s\n", vg_hls_seg_duration(s),
                          (unsigned long long)s->msn, q);
  }
  const vg_hls_seg_info *last = &segs[n - 1];
  uint64_t hint_msn = last->complete ? last->msn + 1 : last->msn;
  size_t hint_part = last->complete ? 0 : last->nparts;
  rc |= vg_str_printf(out, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"p%llu.%zu.mp4%s\"\n",
                      (unsigned long long)hint_msn, hint_part, q);
  return rc ? VG_ENOMEM : 0;
}

vg_hls_wait vg_hls_wait_state(uint64_t last_msn, size_t last_nparts, bool last_complete,
                              uint64_t msn, int64_t part) {
  if (msn < last_msn) return VG_HLS_READY;
  if (msn == last_msn) {
    if (last_complete) return VG_HLS_READY;
    if (part >= 0 && (uint64_t)part < last_nparts) return VG_HLS_READY;
    return VG_HLS_WAIT;
  }
  /* "more than two Partial Segments... / segments beyond the end": 400 */
  return msn - last_msn > 2 ? VG_HLS_TOO_FAR : VG_HLS_WAIT;
}

/* Reads a decimal number without sign or leading zeros from s[*i..len)
 * up to the first non-digit; false when none or when it passes max. */
static bool read_num(const char *s, size_t len, size_t *i, uint64_t max, uint64_t *out) {
  size_t start = *i;
  uint64_t v = 0;
  while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
    if (*i - start >= 16) return false;
    v = v * 10 + (uint64_t)(s[*i] - '0');
    (*i)++;
  }
  if (*i == start || (s[start] == '0' && *i - start > 1) || v >= max) return false;
  *out = v;
  return true;
}

int vg_hls_parse_name(const char *name, size_t len, vg_hls_name *out) {
  memset(out, 0, sizeof *out);
  if (len == 10 && memcmp(name, "index.m3u8", 10) == 0) {
    out->kind = VG_HLS_PLAYLIST;
    return 0;
  }
  if (len == 8 && memcmp(name, "init.mp4", 8) == 0) {
    out->kind = VG_HLS_INIT;
    return 0;
  }
  if (len < 6 || memcmp(name + len - 4, ".mp4", 4) != 0 || (name[0] != 'p' && name[0] != 's'))
    return VG_EINVAL;
  size_t end = len - 4, i = 1;
  uint64_t msn, part = 0;
  if (!read_num(name, end, &i, MAX_MSN, &msn)) return VG_EINVAL;
  if (name[0] == 'p') {
    if (i >= end || name[i] != '.') return VG_EINVAL;
    i++;
    if (!read_num(name, end, &i, VG_HLS_MAX_PARTS * 2, &part)) return VG_EINVAL;
  }
  if (i != end) return VG_EINVAL;
  out->kind = name[0] == 'p' ? VG_HLS_PART : VG_HLS_SEGMENT;
  out->msn = msn;
  out->part = (uint32_t)part;
  return 0;
}
