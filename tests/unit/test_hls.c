/* test_hls.c - LL-HLS playlists as a player reads them: the tags RFC
 * 8216bis asks for, part and segment lines with the grant in every URI,
 * the preload hint, the blocking-reload decision and URI names. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "media/hls.h"

static const vg_hls_part_info parts_a[] = {{0.333, true}, {0.333, false}, {0.334, false}};
static const vg_hls_part_info parts_b[] = {{0.3, true}, {0.2, false}};

static char *build(const vg_hls_seg_info *segs, size_t n, const char *query, size_t window) {
  vg_hls_playlist_cfg cfg = {0.334, query, window, 0, 0};
  vg_str s = VG_STR_INIT;
  cr_assert_eq(vg_hls_playlist(segs, n, &cfg, &s), 0);
  return s.data;
}

Test(hls, playlist_has_the_ll_hls_tags_and_the_grant_in_every_uri) {
  vg_hls_seg_info segs[] = {{7, 1700000000123, true, 3, parts_a, false},
                            {8, 1700000001123, false, 2, parts_b, false}};
  char *p = build(segs, 2, "?grant=1.2.3.abc", 4);
  cr_assert(strncmp(p, "#EXTM3U\n", 8) == 0);
  cr_assert_not_null(strstr(p, "#EXT-X-VERSION:9\n"));
  cr_assert_not_null(strstr(p, "#EXT-X-TARGETDURATION:1\n"));
  cr_assert_not_null(
      strstr(p, "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.002\n"));
  cr_assert_not_null(strstr(p, "#EXT-X-PART-INF:PART-TARGET=0.334\n"));
  cr_assert_not_null(strstr(p, "#EXT-X-MEDIA-SEQUENCE:7\n"));
  cr_assert_not_null(strstr(p, "#EXT-X-MAP:URI=\"init.mp4?grant=1.2.3.abc\"\n"));
  cr_assert_not_null(strstr(p, "#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:20.123Z\n"));
  cr_assert_not_null(
      strstr(p, "#EXT-X-PART:DURATION=0.33300,URI=\"p7.0.mp4?grant=1.2.3.abc\",INDEPENDENT=YES\n"));
  cr_assert_not_null(strstr(p, "#EXT-X-PART:DURATION=0.33300,URI=\"p7.1.mp4?grant=1.2.3.abc\"\n"));
  cr_assert_not_null(strstr(p, "#EXTINF:1.00000,\ns7.mp4?grant=1.2.3.abc\n"));
  /* The open segment: parts, no EXTINF; the hint names its next part. */
  cr_assert_null(strstr(p, "s8.mp4"));
  cr_assert_not_null(strstr(p, "URI=\"p8.1.mp4?grant=1.2.3.abc\"\n"));
  cr_assert(strstr(p, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"p8.2.mp4?grant=1.2.3.abc\"\n") != NULL);
  cr_assert(p[strlen(p) - 1] == '\n');
  free(p);
}

Test(hls, complete_last_segment_hints_the_next_one_and_old_parts_drop_out) {
  vg_hls_seg_info segs[] = {{1, 0, true, 3, parts_a, false},
                            {2, 1000, true, 3, parts_a, false},
                            {3, 2000, true, 2, parts_b, false}};
  char *p = build(segs, 3, "", 2);
  cr_assert_null(strstr(p, "p1.0.mp4"), "parts of old segments are left out");
  cr_assert_not_null(strstr(p, "p2.0.mp4\""));
  cr_assert_not_null(strstr(p, "#EXTINF:1.00000,\ns1.mp4\n"));
  cr_assert_not_null(strstr(p, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"p4.0.mp4\"\n"));
  free(p);
}

Test(hls, a_discontinuity_is_tagged_counted_and_gives_the_init_a_new_uri) {
  vg_hls_seg_info segs[] = {{10, 0, true, 3, parts_a, false},
                            {11, 1000, true, 3, parts_a, true},
                            {12, 2000, false, 2, parts_b, false}};
  vg_hls_playlist_cfg cfg = {0.334, "?grant=g.1", 4, 2, 3};
  vg_str s = VG_STR_INIT;
  cr_assert_eq(vg_hls_playlist(segs, 3, &cfg, &s), 0);
  const char *p = s.data;
  cr_assert_not_null(strstr(p, "#EXT-X-DISCONTINUITY-SEQUENCE:2\n"), "%s", p);
  cr_assert_not_null(strstr(p, "#EXT-X-MAP:URI=\"init.mp4?v=3&grant=g.1\"\n"), "%s", p);
  /* The tag stands right before the segment it marks, once. */
  const char *tag = strstr(p, "#EXT-X-DISCONTINUITY\n");
  cr_assert_not_null(tag, "%s", p);
  cr_assert(strncmp(tag + strlen("#EXT-X-DISCONTINUITY\n"),
                    "#EXT-X-PROGRAM-DATE-TIME:1970-01-01T00:00:01.000Z\n", 49) == 0,
            "%s", p);
  cr_assert_null(strstr(tag + 1, "#EXT-X-DISCONTINUITY\n"));
  cr_assert(strstr(p, "#EXT-X-DISCONTINUITY-SEQUENCE") < strstr(p, "#EXT-X-PROGRAM-DATE-TIME"));
  vg_str_free(&s);
  /* Without a version and without a query the init keeps its plain URI;
   * with neither a discontinuity nor a count the sequence tag is left out. */
  cfg = (vg_hls_playlist_cfg){0.334, "", 4, 0, 1};
  segs[1].discontinuity = false;
  cr_assert_eq(vg_hls_playlist(segs, 3, &cfg, &s), 0);
  cr_assert_null(strstr(s.data, "DISCONTINUITY"), "%s", s.data);
  cr_assert_not_null(strstr(s.data, "#EXT-X-MAP:URI=\"init.mp4?v=1\"\n"), "%s", s.data);
  vg_str_free(&s);
}

Test(hls, target_duration_covers_the_longest_segment) {
  vg_hls_part_info long_parts[8];
  for (int i = 0; i < 8; i++) long_parts[i] = (vg_hls_part_info){0.33, i == 0};
  vg_hls_seg_info segs[] = {{1, 0, true, 8, long_parts, false},
                            {2, 2640, false, 1, parts_b, false}};
  char *p = build(segs, 2, NULL, 3);
  cr_assert_not_null(strstr(p, "#EXT-X-TARGETDURATION:3\n"), "%s", p);
  free(p);
}

Test(hls, refuses_gaps_open_segments_in_the_middle_and_bad_queries) {
  vg_hls_playlist_cfg cfg = {0.334, "", 3, 0, 0};
  vg_str s = VG_STR_INIT;
  vg_hls_seg_info gap[] = {{1, 0, true, 3, parts_a, false}, {3, 0, false, 1, parts_b, false}};
  cr_assert_eq(vg_hls_playlist(gap, 2, &cfg, &s), VG_EINVAL);
  vg_hls_seg_info open_first[] = {{1, 0, false, 3, parts_a, false},
                                  {2, 0, false, 1, parts_b, false}};
  cr_assert_eq(vg_hls_playlist(open_first, 2, &cfg, &s), VG_EINVAL);
  cr_assert_eq(vg_hls_playlist(gap, 0, &cfg, &s), VG_EINVAL);
  cfg.query = "?grant=\"x";
  cr_assert_eq(vg_hls_playlist(gap, 1, &cfg, &s), VG_EINVAL);
  cfg.query = "grant=x";
  cr_assert_eq(vg_hls_playlist(gap, 1, &cfg, &s), VG_EINVAL);
  vg_str_free(&s);
}

Test(hls, blocking_reload_decision) {
  /* newest: segment 10, open, with 2 parts (0 and 1) */
  cr_assert_eq(vg_hls_wait_state(10, 2, false, 9, -1), VG_HLS_READY);
  cr_assert_eq(vg_hls_wait_state(10, 2, false, 10, 1), VG_HLS_READY);
  cr_assert_eq(vg_hls_wait_state(10, 2, false, 10, 2), VG_HLS_WAIT);
  cr_assert_eq(vg_hls_wait_state(10, 2, false, 10, -1), VG_HLS_WAIT);
  cr_assert_eq(vg_hls_wait_state(10, 2, true, 10, -1), VG_HLS_READY);
  cr_assert_eq(vg_hls_wait_state(10, 2, true, 10, 5), VG_HLS_READY);
  cr_assert_eq(vg_hls_wait_state(10, 2, false, 12, 0), VG_HLS_WAIT);
  cr_assert_eq(vg_hls_wait_state(10, 2, false, 13, 0), VG_HLS_TOO_FAR);
}

Test(hls, uri_names) {
  vg_hls_name n;
  cr_assert_eq(vg_hls_parse_name("index.m3u8", 10, &n), 0);
  cr_assert_eq(n.kind, VG_HLS_PLAYLIST);
  cr_assert_eq(vg_hls_parse_name("init.mp4", 8, &n), 0);
  cr_assert_eq(n.kind, VG_HLS_INIT);
  cr_assert_eq(vg_hls_parse_name("p12.3.mp4", 9, &n), 0);
  cr_assert(n.kind == VG_HLS_PART && n.msn == 12 && n.part == 3);
  cr_assert_eq(vg_hls_parse_name("s0.mp4", 6, &n), 0);
  cr_assert(n.kind == VG_HLS_SEGMENT && n.msn == 0);
  const char *bad[] = {"p12.mp4",  "s1.2.mp4", "p01.0.mp4", "p1.00.mp4", "p1.128.mp4",
                       "s.mp4",    "x1.mp4",   "s1.mp3",    "p1.-1.mp4", "s99999999999999999.mp4",
                       "index.m3u"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    cr_assert_eq(vg_hls_parse_name(bad[i], strlen(bad[i]), &n), VG_EINVAL, "%s", bad[i]);
}
