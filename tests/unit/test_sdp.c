/* test_sdp.c - SDP as cameras write it: GStreamer's (what vigil-simcam
 * serves), an H.265 + G.711 one with static payload types, and broken
 * input that must not make up tracks. */
#include <criterion/criterion.h>
#include <string.h>

#include "base/err.h"
#include "ingest/rtp.h"
#include "ingest/sdp.h"

static const char GST_SDP[] =
    "v=0\r\n"
    "o=- 1188340656180883 1 IN IP4 127.0.0.1\r\n"
    "s=Session streamed with GStreamer\r\n"
    "t=0 0\r\n"
    "a=tool:GStreamer\r\n"
    "a=type:broadcast\r\n"
    "a=control:*\r\n"
    "a=range:npt=now-\r\n"
    "m=video 0 RTP/AVP 96\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=rtpmap:96 H264/90000\r\n"
    "a=framerate:25\r\n"
    "a=fmtp:96 "
    "packetization-mode=1;sprop-parameter-sets=Z0LAH9kAUAW7ARAAAAMAEAAAAwPI8YMkgA==,aMuMsg==;"
    "profile-level-id=42c01f\r\n"
    "a=control:stream=0\r\n"
    "m=audio 0 RTP/AVP 97\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=rtpmap:97 MPEG4-GENERIC/48000/2\r\n"
    "a=fmtp:97 streamtype=5;profile-level-id=2;mode=AAC-hbr;config=1190;sizelength=13;"
    "indexlength=3;indexdeltalength=3\r\n"
    "a=control:stream=1\r\n";

Test(sdp, gstreamer_h264_and_aac) {
  vg_sdp s;
  cr_assert_eq(vg_sdp_parse(GST_SDP, strlen(GST_SDP), &s), 0);
  cr_assert_str_eq(s.control, "*");
  cr_assert_eq(s.nmedia, 2);
  const vg_sdp_media *v = &s.media[0], *a = &s.media[1];
  cr_assert_str_eq(v->type, "video");
  cr_assert_eq(v->payload, 96);
  cr_assert_str_eq(v->encoding, "H264");
  cr_assert_eq(v->clock_rate, 90000);
  cr_assert_str_eq(v->control, "stream=0");
  cr_assert_eq(v->packetization_mode, 1);
  cr_assert_eq(v->framerate, 25.0);
  /* two parameter sets, each behind a 4-byte start code */
  cr_assert_gt(v->sprop_len, 8);
  const uint8_t sc[4] = {0, 0, 0, 1};
  cr_assert_arr_eq(v->sprop, sc, 4);
  cr_assert_eq(v->sprop[4], 0x67, "SPS first");
  cr_assert_eq(vg_rtp_format_of(v), VG_RTP_H264);
  cr_assert_str_eq(a->encoding, "MPEG4-GENERIC");
  cr_assert_eq(a->clock_rate, 48000);
  cr_assert_eq(a->channels, 2);
  cr_assert_eq(a->config_len, 2);
  cr_assert_eq(a->config[0], 0x11);
  cr_assert_eq(a->config[1], 0x90);
  cr_assert_eq(a->sizelength, 13);
  cr_assert_eq(a->indexlength, 3);
  cr_assert_eq(a->indexdeltalength, 3);
  cr_assert_str_eq(a->control, "stream=1");
  cr_assert_eq(vg_rtp_format_of(a), VG_RTP_AAC);
}

Test(sdp, h265_sprops_and_static_g711) {
  const char *t =
      "v=0\n"
      "m=video 0 RTP/AVP 98\n"
      "a=rtpmap:98 H265/90000\n"
      "a=fmtp:98 sprop-vps=QAEMAf//AWAAAAMAkAAAAwAAAwA/ugJA; "
      "sprop-sps=QgEBAWAAAAMAkAAAAwAAAwA/oAoIDxZbpKTC//AAEAAWoMDAwIAAAAMAgAAADIQ=; "
      "sprop-pps=RAHAcYMS\n"
      "a=control:rtsp://10.0.0.5/media/video1\n"
      "m=audio 0 RTP/AVP 0\n"
      "a=control:trackID=2\n";
  vg_sdp s;
  cr_assert_eq(vg_sdp_parse(t, strlen(t), &s), 0);
  cr_assert_eq(s.nmedia, 2);
  cr_assert_eq(vg_rtp_format_of(&s.media[0]), VG_RTP_H265);
  cr_assert_str_eq(s.media[0].control, "rtsp://10.0.0.5/media/video1");
  /* VPS, SPS, PPS in that order */
  cr_assert_eq(s.media[0].sprop[4], 0x40);
  int w, h;
  cr_assert_eq(vg_rtp_video_size(VG_CODEC_H265, s.media[0].sprop, s.media[0].sprop_len, &w, &h), 0);
  cr_assert_eq(w, 320);
  cr_assert_eq(h, 240);
  cr_assert_str_eq(s.media[1].encoding, "PCMU", "static payload type 0");
  cr_assert_eq(s.media[1].clock_rate, 8000);
  cr_assert_eq(vg_rtp_format_of(&s.media[1]), VG_RTP_PCMU);
}

Test(sdp, unsupported_and_broken_input) {
  const char *mjpeg = "v=0\r\nm=video 0 RTP/AVP 26\r\na=control:x\r\n";
  vg_sdp s;
  cr_assert_eq(vg_sdp_parse(mjpeg, strlen(mjpeg), &s), 0);
  cr_assert_eq(vg_rtp_format_of(&s.media[0]), VG_RTP_NONE);
  cr_assert_eq(vg_sdp_parse("", 0, &s), VG_EINVAL);
  const char *no_media = "v=0\r\ns=x\r\n";
  cr_assert_eq(vg_sdp_parse(no_media, strlen(no_media), &s), VG_EINVAL);
  const char *garbage = "v=0\r\nm=\r\na=rtpmap:zz\r\na=fmtp:96 sprop-parameter-sets=!!!\r\n";
  cr_assert_eq(vg_sdp_parse(garbage, strlen(garbage), &s), 0);
  cr_assert_eq(s.media[0].sprop_len, 0);
  cr_assert_eq(vg_rtp_format_of(&s.media[0]), VG_RTP_NONE);
  /* AAC without AU-header sizes cannot be depacketized */
  const char *aac = "v=0\r\nm=audio 0 RTP/AVP 97\r\na=rtpmap:97 mpeg4-generic/16000\r\n";
  cr_assert_eq(vg_sdp_parse(aac, strlen(aac), &s), 0);
  cr_assert_str_eq(s.media[0].encoding, "MPEG4-GENERIC");
  cr_assert_eq(vg_rtp_format_of(&s.media[0]), VG_RTP_NONE);
  uint8_t out[8];
  cr_assert_eq(vg_sdp_base64_decode("aMuMsg==", 8, out, sizeof out), 4);
  cr_assert_eq(vg_sdp_base64_decode("aMuMsg==", 8, out, 3), VG_ETOOBIG);
}
