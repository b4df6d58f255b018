/* test_rtp.c - the RTP depacketizers with hand-built packets: what comes
 * out is what the recorder stores (length-prefixed NAL units, parameter
 * sets beside them, raw AAC frames), whatever way the camera cut it up;
 * losses drop the broken access unit and video waits for a keyframe;
 * 32-bit timestamps are extended across the wrap. Also the SPS picture
 * size. */
#include <stdio.h>
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "ingest/rtp.h"
#include "ingest/sdp.h"

#define MAX_AUS 16

typedef struct sink {
  int n;
  uint8_t data[MAX_AUS][4096];
  size_t len[MAX_AUS];
  uint8_t params[MAX_AUS][512];
  size_t params_len[MAX_AUS];
  int64_t ts[MAX_AUS];
  bool key[MAX_AUS];
} sink;

static void collect(void *ud, const vg_rtp_au *au) {
  sink *s = ud;
  cr_assert_lt(s->n, MAX_AUS);
  cr_assert_leq(au->len, sizeof s->data[0]);
  memcpy(s->data[s->n], au->data, au->len);
  s->len[s->n] = au->len;
  s->params_len[s->n] = au->params_len;
  if (au->params_len) memcpy(s->params[s->n], au->params, au->params_len);
  s->ts[s->n] = au->ts;
  s->key[s->n] = au->key;
  s->n++;
}

/* An RTP packet: 12-byte header and payload into out; returns its size. */
static size_t rtp(uint8_t *out, bool marker, uint16_t seq, uint32_t ts, const uint8_t *pl,
                  size_t n) {
  out[0] = 0x80;
  out[1] = (uint8_t)((marker ? 0x80 : 0) | 96);
  out[2] = (uint8_t)(seq >> 8);
  out[3] = (uint8_t)seq;
  out[4] = (uint8_t)(ts >> 24);
  out[5] = (uint8_t)(ts >> 16);
  out[6] = (uint8_t)(ts >> 8);
  out[7] = (uint8_t)ts;
  memset(out + 8, 0x11, 4); /* SSRC */
  memcpy(out + 12, pl, n);
  return 12 + n;
}

static void push(vg_rtp_depack *d, sink *s, bool marker, uint16_t seq, uint32_t ts,
                 const uint8_t *pl, size_t n) {
  uint8_t pkt[2048];
  size_t len = rtp(pkt, marker, seq, ts, pl, n);
  cr_assert_eq(vg_rtp_depack_push(d, pkt, len, collect, s), 0);
}

static const uint8_t SPS[] = {0x67, 0x64, 0x00, 0x28, 0xac, 0xd9, 0x40, 0x78, 0x02,
                              0x27, 0xe5, 0xc0, 0x44, 0x00, 0x00, 0x03, 0x00, 0x04,
                              0x00, 0x00, 0x03, 0x00, 0xc8, 0x3c, 0x60, 0xc6, 0x58};
static const uint8_t PPS[] = {0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0};

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

Test(rtp, h264_single_nal_units_make_one_length_prefixed_au) {
  vg_rtp_depack *d;
  cr_assert_eq(vg_rtp_depack_new(VG_RTP_H264, NULL, &d), 0);
  sink s = {0};
  const uint8_t aud[] = {0x09, 0xf0};
  const uint8_t idr[] = {0x65, 0x88, 0x84, 0x00, 0x33};
  push(d, &s, false, 100, 9000, aud, sizeof aud);
  push(d, &s, false, 101, 9000, SPS, sizeof SPS);
  push(d, &s, false, 102, 9000, PPS, sizeof PPS);
  cr_assert_eq(s.n, 0, "nothing before the marker");
  push(d, &s, true, 103, 9000, idr, sizeof idr);
  cr_assert_eq(s.n, 1);
  cr_assert(s.key[0]);
  cr_assert_eq(s.ts[0], 9000);
  cr_assert_eq(s.len[0], 4 + sizeof idr, "the AUD and parameter sets are not in the frame");
  cr_assert_eq(be32(s.data[0]), sizeof idr);
  cr_assert_arr_eq(s.data[0] + 4, idr, sizeof idr);
  cr_assert_eq(s.params_len[0], 4 + sizeof SPS + 4 + sizeof PPS, "params as Annex-B");
  cr_assert_eq(be32(s.params[0]), 1);
  cr_assert_arr_eq(s.params[0] + 4, SPS, sizeof SPS);
  const uint8_t p[] = {0x41, 0x9a, 0x02};
  push(d, &s, true, 104, 12600, p, sizeof p);
  cr_assert_eq(s.n, 2);
  cr_assert_not(s.key[1]);
  cr_assert_eq(s.params_len[1], 0);
  vg_rtp_depack_free(d);
}

Test(rtp, h264_stap_a_and_fu_a) {
  vg_rtp_depack *d;
  cr_assert_eq(vg_rtp_depack_new(VG_RTP_H264, NULL, &d), 0);
  sink s = {0};
  uint8_t stap[64];
  size_t n = 0;
  stap[n++] = 0x78; /* F=0 NRI=3 type 24 */
  stap[n++] = 0;
  stap[n++] = sizeof SPS;
  memcpy(stap + n, SPS, sizeof SPS);
  n += sizeof SPS;
  stap[n++] = 0;
  stap[n++] = sizeof PPS;
  memcpy(stap + n, PPS, sizeof PPS);
  n += sizeof PPS;
  push(d, &s, false, 7, 1000, stap, n);
  /* an IDR (header 0x65) in three fragments */
  const uint8_t f1[] = {0x7c, 0x85, 1, 2, 3};
  const uint8_t f2[] = {0x7c, 0x05, 4, 5};
  const uint8_t f3[] = {0x7c, 0x45, 6};
  push(d, &s, false, 8, 1000, f1, sizeof f1);
  push(d, &s, false, 9, 1000, f2, sizeof f2);
  push(d, &s, true, 10, 1000, f3, sizeof f3);
  cr_assert_eq(s.n, 1);
  const uint8_t want[] = {0, 0, 0, 7, 0x65, 1, 2, 3, 4, 5, 6};
  cr_assert_eq(s.len[0], sizeof want);
  cr_assert_arr_eq(s.data[0], want, sizeof want);
  cr_assert(s.key[0]);
  cr_assert_eq(s.params_len[0], 8 + sizeof SPS + sizeof PPS);
  vg_rtp_stats st;
  vg_rtp_depack_stats(d, &st);
  cr_assert_eq(st.packets, 4);
  cr_assert_eq(st.lost, 0);
  vg_rtp_depack_free(d);
}

Test(rtp, h264_loss_drops_the_au_and_waits_for_a_keyframe) {
  vg_rtp_depack *d;
  cr_assert_eq(vg_rtp_depack_new(VG_RTP_H264, NULL, &d), 0);
  sink s = {0};
  const uint8_t idr[] = {0x65, 1};
  const uint8_t fa[] = {0x7c, 0x81, 1}, fc[] = {0x7c, 0x41, 3}; /* a P slice in 3 parts */
  const uint8_t p[] = {0x41, 9};
  push(d, &s, true, 1, 0, idr, sizeof idr);
  push(d, &s, false, 2, 3600, fa, sizeof fa);
  /* seq 3 (the middle fragment) is lost */
  push(d, &s, true, 4, 3600, fc, sizeof fc);
  push(d, &s, true, 5, 7200, p, sizeof p); /* decodable only with the lost frame */
  push(d, &s, true, 6, 10800, idr, sizeof idr);
  push(d, &s, true, 7, 14400, p, sizeof p);
  cr_assert_eq(s.n, 3, "the keyframe, then the next keyframe and what follows it");
  cr_assert_eq(s.ts[0], 0);
  cr_assert_eq(s.ts[1], 10800);
  cr_assert(s.key[1]);
  cr_assert_eq(s.ts[2], 14400);
  vg_rtp_stats st;
  vg_rtp_depack_stats(d, &st);
  cr_assert_eq(st.lost, 1);
  cr_assert_eq(st.dropped_aus, 2);
  /* a late copy of the lost packet changes nothing */
  push(d, &s, false, 3, 3600, fa, sizeof fa);
  cr_assert_eq(s.n, 3);
  vg_rtp_depack_free(d);
}

Test(rtp, au_ends_on_a_new_timestamp_when_the_marker_is_lost_and_timestamps_wrap) {
  vg_rtp_depack *d;
  cr_assert_eq(vg_rtp_depack_new(VG_RTP_H264, NULL, &d), 0);
  sink s = {0};
  const uint8_t idr[] = {0x65, 1}, p[] = {0x41, 2};
  push(d, &s, false, 65535, 0xffffff00u, idr, sizeof idr); /* marker missing */
  push(d, &s, true, 0, 0x00000100u, p, sizeof p);          /* seq and ts wrap */
  cr_assert_eq(s.n, 2);
  cr_assert_eq(s.ts[0], 0xffffff00LL);
  cr_assert_eq(s.ts[1], 0x100000100LL, "64-bit time line across the wrap");
  vg_rtp_stats st;
  vg_rtp_depack_stats(d, &st);
  cr_assert_eq(st.lost, 0);
  vg_rtp_depack_free(d);
}

Test(rtp, h265_single_ap_and_fu) {
  vg_rtp_depack *d;
  cr_assert_eq(vg_rtp_depack_new(VG_RTP_H265, NULL, &d), 0);
  sink s = {0};
  const uint8_t vps[] = {0x40, 0x01, 0x0c}, sps[] = {0x42, 0x01, 0x01}, pps[] = {0x44, 0x01, 0xc0};
  uint8_t ap[32];
  size_t n = 0;
  ap[n++] = 48 << 1; /* AP */
  ap[n++] = 1;
  const uint8_t *sets[3] = {vps, sps, pps};
  for (int i = 0; i < 3; i++) {
    ap[n++] = 0;
    ap[n++] = 3;
    memcpy(ap + n, sets[i], 3);
    n += 3;
  }
  push(d, &s, false, 50, 500, ap, n);
  /* IDR_W_RADL (19): header 0x26 0x01, in two FU packets */
  const uint8_t f1[] = {49 << 1, 1, 0x80 | 19, 0xaa, 0xbb};
  const uint8_t f2[] = {49 << 1, 1, 0x40 | 19, 0xcc};
  push(d, &s, false, 51, 500, f1, sizeof f1);
  push(d, &s, true, 52, 500, f2, sizeof f2);
  cr_assert_eq(s.n, 1);
  const uint8_t want[] = {0, 0, 0, 5, 0x26, 0x01, 0xaa, 0xbb, 0xcc};
  cr_assert_eq(s.len[0], sizeof want);
  cr_assert_arr_eq(s.data[0], want, sizeof want);
  cr_assert(s.key[0]);
  cr_assert_eq(s.params_len[0], 3 * 7);
  const uint8_t trail[] = {0x02, 0x01, 0x55}; /* TRAIL_R, single */
  push(d, &s, true, 53, 3500, trail, sizeof trail);
  cr_assert_eq(s.n, 2);
  cr_assert_not(s.key[1]);
  cr_assert_eq(s.len[1], 7);
  vg_rtp_depack_free(d);
}

static void aac_media(vg_sdp_media *m) {
  memset(m, 0, sizeof *m);
  snprintf(m->encoding, sizeof m->encoding, "MPEG4-GENERIC");
  snprintf(m->mode, sizeof m->mode, "AAC-hbr");
  m->clock_rate = 48000;
  m->sizelength = 13;
  m->indexlength = 3;
  m->indexdeltalength = 3;
}

Test(rtp, aac_au_headers_several_frames_per_packet) {
  vg_sdp_media m;
  aac_media(&m);
  cr_assert_eq(vg_rtp_format_of(&m), VG_RTP_AAC);
  vg_rtp_depack *d;
  cr_assert_eq(vg_rtp_depack_new(VG_RTP_AAC, &m, &d), 0);
  sink s = {0};
  /* two AU headers (16 bits each: 13-bit size, 3-bit index): sizes 3, 2 */
  const uint8_t pl[] = {0x00, 0x20, 0x00, 0x18, 0x00, 0x10, 'a', 'b', 'c', 'd', 'e'};
  push(d, &s, true, 1, 48000, pl, sizeof pl);
  cr_assert_eq(s.n, 2);
  cr_assert_eq(s.len[0], 3);
  cr_assert_arr_eq(s.data[0], "abc", 3);
  cr_assert_eq(s.len[1], 2);
  cr_assert_arr_eq(s.data[1], "de", 2);
  cr_assert_eq(s.ts[0], 48000);
  cr_assert_eq(s.ts[1], 48000 + 1024, "one frame later");
  /* a header claiming more bytes than the packet holds, with two AUs: invalid */
  uint8_t bad[] = {0x00, 0x20, 0x00, 0x18, 0x00, 0x90, 'a', 'b', 'c'};
  uint8_t pkt[64];
  size_t n = rtp(pkt, true, 2, 50048, bad, sizeof bad);
  cr_assert_eq(vg_rtp_depack_push(d, pkt, n, collect, &s), VG_EINVAL);
  cr_assert_eq(s.n, 2);
  /* one AU header of size 0 (found by fuzz_rtp): nothing, not an empty frame */
  const uint8_t empty[] = {0x00, 0x10, 0x00, 0x00};
  n = rtp(pkt, true, 3, 51072, empty, sizeof empty);
  cr_assert_eq(vg_rtp_depack_push(d, pkt, n, collect, &s), VG_EINVAL);
  cr_assert_eq(s.n, 2);
  vg_rtp_depack_free(d);
}

Test(rtp, aac_fragmented_au_and_a_lost_fragment) {
  vg_sdp_media m;
  aac_media(&m);
  vg_rtp_depack *d;
  cr_assert_eq(vg_rtp_depack_new(VG_RTP_AAC, &m, &d), 0);
  sink s = {0};
  /* one AU of 5 bytes over two packets; each carries the AU's full size */
  const uint8_t a1[] = {0x00, 0x10, 0x00, 0x28, '1', '2', '3'};
  const uint8_t a2[] = {0x00, 0x10, 0x00, 0x28, '4', '5'};
  push(d, &s, false, 10, 1024, a1, sizeof a1);
  cr_assert_eq(s.n, 0);
  push(d, &s, true, 11, 1024, a2, sizeof a2);
  cr_assert_eq(s.n, 1);
  cr_assert_eq(s.len[0], 5);
  cr_assert_arr_eq(s.data[0], "12345", 5);
  /* the same again with the second fragment's packet lost */
  push(d, &s, false, 12, 2048, a1, sizeof a1);
  push(d, &s, true, 14, 3072, a1, sizeof a1); /* seq 13 missing: a new AU begins */
  cr_assert_eq(s.n, 1, "the broken AU is not handed out");
  vg_rtp_stats st;
  vg_rtp_depack_stats(d, &st);
  cr_assert_eq(st.lost, 1);
  cr_assert_geq(st.dropped_aus, 1);
  vg_rtp_depack_free(d);
}

Test(rtp, g711_payload_passes_through) {
  vg_sdp media;
  const char *sdp = "v=0\r\nm=audio 0 RTP/AVP 8\r\n";
  cr_assert_eq(vg_sdp_parse(sdp, strlen(sdp), &media), 0);
  cr_assert_eq(vg_rtp_format_of(&media.media[0]), VG_RTP_PCMA);
  vg_rtp_depack *d;
  cr_assert_eq(vg_rtp_depack_new(VG_RTP_PCMA, NULL, &d), 0);
  sink s = {0};
  uint8_t pl[160];
  memset(pl, 0xd5, sizeof pl);
  push(d, &s, true, 1, 160, pl, sizeof pl);
  push(d, &s, false, 2, 320, pl, sizeof pl);
  cr_assert_eq(s.n, 2);
  cr_assert_eq(s.len[1], 160);
  cr_assert_eq(s.ts[1], 320);
  vg_rtp_depack_free(d);
}

Test(rtp, malformed_packets_are_refused) {
  vg_rtp_depack *d;
  cr_assert_eq(vg_rtp_depack_new(VG_RTP_H264, NULL, &d), 0);
  sink s = {0};
  const uint8_t short_pkt[] = {0x80, 0x60, 0, 1};
  cr_assert_eq(vg_rtp_depack_push(d, short_pkt, sizeof short_pkt, collect, &s), VG_EINVAL);
  uint8_t pkt[64];
  const uint8_t stap_bad[] = {0x78, 0, 200, 0x67}; /* size past the end */
  size_t n = rtp(pkt, true, 1, 0, stap_bad, sizeof stap_bad);
  cr_assert_eq(vg_rtp_depack_push(d, pkt, n, collect, &s), VG_EINVAL);
  n = rtp(pkt, true, 2, 0, (const uint8_t *)"\x65\x01", 2);
  pkt[0] |= 0x20; /* padding bit with a zero count */
  pkt[n - 1] = 0;
  cr_assert_eq(vg_rtp_depack_push(d, pkt, n, collect, &s), VG_EINVAL);
  cr_assert_eq(s.n, 0);
  vg_rtp_depack_free(d);
}

Test(rtp, picture_size_from_the_sps) {
  uint8_t annexb[64] = {0, 0, 0, 1};
  memcpy(annexb + 4, SPS, sizeof SPS);
  int w = 0, h = 0;
  cr_assert_eq(vg_rtp_video_size(VG_CODEC_H264, annexb, 4 + sizeof SPS, &w, &h), 0);
  cr_assert_eq(w, 1920);
  cr_assert_eq(h, 1080, "1088 cropped to 1080");
  /* x265's SPS for 320x240 (from vigil-simcam) */
  const uint8_t hsps[] = {0x00, 0x00, 0x00, 0x01, 0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00,
                          0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x3f,
                          0xa0, 0x0a, 0x08, 0x0f, 0x16, 0x5b, 0xa4, 0xa4, 0xc2, 0xff, 0xf0,
                          0x00, 0x10, 0x00, 0x16, 0xa0, 0xc0, 0xc0, 0xc0, 0x80, 0x00, 0x00,
                          0x03, 0x00, 0x80, 0x00, 0x00, 0x0c, 0x84};
  cr_assert_eq(vg_rtp_video_size(VG_CODEC_H265, hsps, sizeof hsps, &w, &h), 0);
  cr_assert_eq(w, 320);
  cr_assert_eq(h, 240);
  cr_assert_eq(vg_rtp_video_size(VG_CODEC_H264, hsps, 8, &w, &h), VG_EINVAL);
}
