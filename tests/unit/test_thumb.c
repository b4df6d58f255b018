/* test_thumb.c - keyframe thumbnails of fragmented MP4 files.
 *
 * The fixture has ffmpeg write small fragmented MP4 files (a fragment per
 * GOP, 15 fps, a keyframe a second, H.264 and H.265) from its test
 * pattern, whose picture changes every frame. vg_thumb_locate must pick
 * the keyframe at or before a time; vg_thumb_jpeg's JPEG must be what
 * ffprobe calls a JPEG of the asked width, and look like the frame ffmpeg
 * itself decodes at that keyframe (mean luma difference after both are
 * scaled the same way), not like another second of the file. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "media/thumb.h"

static char dir[] = "/tmp/vigil-thumb-XXXXXX";
static char h264[256], h265[256];

static void sh(const char *cmd) {
  int rc = system(cmd);
  cr_assert_eq(rc, 0, "command failed (%d): %s", rc, cmd);
}

static void make(const char *path, const char *codec) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd,
           "ffmpeg -v error -y -f lavfi -i testsrc2=size=640x360:rate=15 -t 4 -c:v %s -g 15 "
           "-keyint_min 15 -sc_threshold 0 -pix_fmt yuv420p %s "
           "-movflags +frag_keyframe+empty_moov+default_base_moof -f mp4 '%s' </dev/null",
           codec, strcmp(codec, "libx265") == 0 ? "-x265-params log-level=none:scenecut=0" : "",
           path);
  sh(cmd);
}

static void setup(void) {
  cr_assert(mkdtemp(dir), "mkdtemp");
  snprintf(h264, sizeof h264, "%s/h264.mp4", dir);
  snprintf(h265, sizeof h265, "%s/h265.mp4", dir);
  make(h264, "libx264");
  make(h265, "libx265");
}

static void teardown(void) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  system(cmd);
}

TestSuite(thumb, .init = setup, .fini = teardown, .timeout = 120);

static void write_file(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  cr_assert(f);
  cr_assert_eq(fwrite(data, 1, len, f), len);
  fclose(f);
}

/* Reads a command's standard output (at most cap bytes). */
static size_t run_read(const char *cmd, uint8_t *out, size_t cap) {
  FILE *p = popen(cmd, "r");
  cr_assert(p, "popen %s", cmd);
  size_t n = fread(out, 1, cap, p);
  int rc = pclose(p);
  cr_assert_eq(rc, 0, "exit %d: %s", rc, cmd);
  return n;
}

/* Mean absolute difference of two grey pictures of w x h, decoded by
 * ffmpeg from a and (at time t seconds) from b, both scaled to w x h. */
static double luma_difference(const char *jpeg, const char *video, double t, int w, int h) {
  size_t n = (size_t)w * h;
  uint8_t *a = malloc(n), *b = malloc(n);
  char cmd[1024];
  snprintf(cmd, sizeof cmd,
           "ffmpeg -v error -i '%s' -vf scale=%d:%d -pix_fmt gray -f rawvideo - </dev/null", jpeg,
           w, h);
  cr_assert_eq(run_read(cmd, a, n), n, "%s", cmd);
  snprintf(cmd, sizeof cmd,
           "ffmpeg -v error -ss %.3f -i '%s' -frames:v 1 -vf scale=%d:%d:in_range=tv:out_range=pc "
           "-pix_fmt gray -f rawvideo - </dev/null",
           t, video, w, h);
  cr_assert_eq(run_read(cmd, b, n), n, "%s", cmd);
  double sum = 0;
  for (size_t i = 0; i < n; i++) sum += abs((int)a[i] - (int)b[i]);
  free(a);
  free(b);
  return sum / (double)n;
}

static void check_jpeg(const char *video, int64_t at_ms, int64_t want_key_ms, int width,
                       int want_height) {
  vg_thumb_key key;
  cr_assert_eq(vg_thumb_locate(video, at_ms, &key), 0, "locate %s at %lld", video,
               (long long)at_ms);
  cr_expect_eq(key.ms, want_key_ms, "%s at %lld ms: keyframe at %lld ms, want %lld", video,
               (long long)at_ms, (long long)key.ms, (long long)want_key_ms);
  vg_buf *jpeg = NULL;
  cr_assert_eq(vg_thumb_jpeg(video, &key, width, &jpeg), 0);
  cr_assert(jpeg->len > 100);
  cr_expect(jpeg->data[0] == 0xff && jpeg->data[1] == 0xd8, "JPEG SOI marker");
  char path[512];
  snprintf(path, sizeof path, "%s/t-%lld-%d.jpg", dir, (long long)at_ms, width);
  write_file(path, jpeg->data, jpeg->len);
  vg_buf_unref(jpeg);

  char cmd[1024], out[256] = {0};
  snprintf(cmd, sizeof cmd,
           "ffprobe -v error -show_entries stream=codec_name,width,height -of csv=p=0 '%s'", path);
  run_read(cmd, (uint8_t *)out, sizeof out - 1);
  char want[64];
  snprintf(want, sizeof want, "mjpeg,%d,%d", width, want_height);
  cr_expect(strncmp(out, want, strlen(want)) == 0, "ffprobe: %s, want %s", out, want);

  /* The picture is the keyframe's, not a neighbouring second's. */
  double same = luma_difference(path, video, (double)want_key_ms / 1000.0, 160, 90);
  double other = luma_difference(path, video, (double)(want_key_ms + 1000) / 1000.0, 160, 90);
  cr_expect(same < 6.0, "%s at %lld: mean luma difference %.2f from ffmpeg's frame", video,
            (long long)at_ms, same);
  cr_expect(other > same * 1.5, "the next second's frame is as close (%.2f vs %.2f)", other, same);
}

Test(thumb, h264_keyframe_at_or_before) {
  check_jpeg(h264, 0, 0, 320, 180);
  check_jpeg(h264, 1500, 1000, 320, 180);
  check_jpeg(h264, 2000, 2000, 160, 90);
}

Test(thumb, h265_keyframe_at_or_before) { check_jpeg(h265, 2999, 2000, 320, 180); }

Test(thumb, past_the_end_gives_the_last_keyframe) {
  vg_thumb_key key;
  cr_assert_eq(vg_thumb_locate(h264, 60000, &key), 0);
  cr_expect_eq(key.ms, 3000);
}

Test(thumb, odd_width_keeps_aspect_even_height) {
  vg_thumb_key key;
  cr_assert_eq(vg_thumb_locate(h264, 0, &key), 0);
  vg_buf *jpeg = NULL;
  cr_assert_eq(vg_thumb_jpeg(h264, &key, 101, &jpeg), 0);
  char path[512], cmd[1024], out[128] = {0};
  snprintf(path, sizeof path, "%s/odd.jpg", dir);
  write_file(path, jpeg->data, jpeg->len);
  vg_buf_unref(jpeg);
  snprintf(cmd, sizeof cmd, "ffprobe -v error -show_entries stream=width,height -of csv=p=0 '%s'",
           path);
  run_read(cmd, (uint8_t *)out, sizeof out - 1);
  cr_expect(strncmp(out, "101,56", 6) == 0, "ffprobe: %s", out);
}

Test(thumb, bad_input) {
  vg_thumb_key key;
  vg_buf *jpeg = NULL;
  char path[512];
  cr_expect_eq(vg_thumb_locate("/nonexistent/x.mp4", 0, &key), VG_EIO);
  cr_expect_eq(vg_thumb_locate(h264, -1, &key), VG_EINVAL);
  cr_assert_eq(vg_thumb_locate(h264, 0, &key), 0);
  cr_expect_eq(vg_thumb_jpeg(h264, &key, VG_THUMB_WIDTH_MIN - 1, &jpeg), VG_EINVAL);
  cr_expect_eq(vg_thumb_jpeg(h264, &key, VG_THUMB_WIDTH_MAX + 1, &jpeg), VG_EINVAL);
  cr_expect_null(jpeg);

  /* Not an MP4 at all. */
  snprintf(path, sizeof path, "%s/garbage.mp4", dir);
  uint8_t junk[4096];
  for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)(i * 7 + 3);
  write_file(path, junk, sizeof junk);
  int rc = vg_thumb_locate(path, 0, &key);
  cr_expect(rc == VG_EINVAL || rc == VG_ENOTFOUND, "garbage: %d", rc);

  /* Cut in the middle of the second fragment: the first keyframe still
   * comes out, the fragment being written is left alone. */
  FILE *f = fopen(h264, "rb");
  cr_assert(f);
  static uint8_t whole[1 << 20];
  size_t n = fread(whole, 1, sizeof whole, f);
  fclose(f);
  cr_assert(n > 0 && n < sizeof whole);
  vg_thumb_key full;
  cr_assert_eq(vg_thumb_locate(h264, 1000, &full), 0);
  snprintf(path, sizeof path, "%s/cut.mp4", dir);
  write_file(path, whole, (size_t)full.offset + full.size / 2);
  cr_assert_eq(vg_thumb_locate(path, 1000, &key), 0);
  cr_expect_eq(key.ms, 0);
  cr_assert_eq(vg_thumb_jpeg(path, &key, 64, &jpeg), 0);
  vg_buf_unref(jpeg);

  /* A sample pointing past the end of the file is refused, not read. */
  key.offset = n + 10;
  jpeg = NULL;
  cr_expect_neq(vg_thumb_jpeg(h264, &key, 64, &jpeg), 0);
  cr_expect_null(jpeg);
}
