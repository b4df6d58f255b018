/* test_segwriter.c - segment files written off the loop: bytes on disk in
 * order, the hash computed while writing equals the file's, errors
 * reported, back-pressure bounded. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/crypto.h"
#include "base/err.h"
#include "media/segwriter.h"

typedef struct result {
  int calls;
  vg_segfile_info info;
} result;

static void done(void *ud, const vg_segfile_info *info) {
  result *r = ud;
  r->calls++;
  r->info = *info;
}

static void noop(uv_timer_t *t) {}

/* The writer's wake-up handle does not keep a loop alive (the server's
 * listeners do): a timer stands in for them here. */
static void run_until(uv_loop_t *loop, result *r) {
  uv_timer_t keep;
  uv_timer_init(loop, &keep);
  uv_timer_start(&keep, noop, 60000, 0);
  for (int i = 0; i < 500 && r->calls == 0; i++) {
    uv_run(loop, UV_RUN_NOWAIT);
    usleep(2000);
  }
  uv_close((uv_handle_t *)&keep, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
}

Test(segwriter, writes_init_and_fragments_in_order_with_hash) {
  char dir[] = "/tmp/vg-segw-XXXXXX";
  cr_assert_not_null(mkdtemp(dir));
  char path[256];
  snprintf(path, sizeof path, "%s/media/7/2026/11/26/1000.mp4", dir);
  uv_loop_t loop;
  uv_loop_init(&loop);
  vg_segwriter *w;
  cr_assert_eq(vg_segwriter_new(&loop, &w), 0);
  vg_buf *init = vg_buf_from("INIT", 4);
  vg_segfile *f = vg_segfile_open(w, path, init, 1000);
  cr_assert_not_null(f);
  for (int i = 0; i < 10; i++) {
    char frag[32];
    int n = snprintf(frag, sizeof frag, "[fragment %d]", i);
    vg_buf *b = vg_buf_from(frag, (size_t)n);
    cr_assert_eq(vg_segfile_append(f, b, 1000 + (i + 1) * 100, 3), 0);
    vg_buf_unref(b);
  }
  cr_assert_eq(vg_segfile_frames(f), 30);
  result r = {0};
  vg_segfile_close(f, done, &r);
  run_until(&loop, &r);
  cr_assert_eq(r.calls, 1);
  cr_assert_eq(r.info.error, 0);
  cr_assert_eq(r.info.frames, 30);
  cr_assert_eq(r.info.fragments, 10);
  cr_assert_eq(r.info.start_ms, 1000);
  cr_assert_eq(r.info.end_ms, 2000);

  FILE *fp = fopen(path, "rb");
  cr_assert_not_null(fp);
  char content[512] = {0};
  size_t len = fread(content, 1, sizeof content - 1, fp);
  fclose(fp);
  cr_assert_eq(r.info.bytes, len);
  cr_assert(strncmp(content, "INIT[fragment 0][fragment 1]", 28) == 0);
  cr_assert(strstr(content, "[fragment 9]") != NULL);
  char sha[65];
  uint64_t bytes;
  cr_assert_eq(vg_file_sha256(path, sha, &bytes), 0);
  cr_assert_str_eq(sha, r.info.sha256);
  cr_assert_eq(bytes, len);

  vg_buf_unref(init);
  vg_segwriter_free(w);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  cr_assert_eq(system(cmd), 0);
}

/* Fragments in parts (the recorder's way): head and samples land back to
 * back, in order, hashed; more parts than one writev takes, too. */
Test(segwriter, parts_are_gathered_in_order_with_hash) {
  char dir[] = "/tmp/vg-segw-XXXXXX";
  cr_assert_not_null(mkdtemp(dir));
  char path[256];
  snprintf(path, sizeof path, "%s/1000.mp4", dir);
  uv_loop_t loop;
  uv_loop_init(&loop);
  vg_segwriter *w;
  cr_assert_eq(vg_segwriter_new(&loop, &w), 0);
  vg_buf *init = vg_buf_from("INIT", 4);
  vg_segfile *f = vg_segfile_open(w, path, init, 1000);
  cr_assert_not_null(f);
  char want[8192] = "INIT";
  size_t wlen = 4;
  for (int i = 0; i < 2; i++) {
    size_t n = i == 0 ? 3 : 700; /* the second needs several writev calls */
    vg_fmp4_parts p = {0};
    char head[32];
    int hn = snprintf(head, sizeof head, "<head %d>", i);
    p.head = vg_buf_from(head, (size_t)hn);
    p.samples = calloc(n, sizeof *p.samples);
    p.n = n;
    p.bytes = (size_t)hn;
    memcpy(want + wlen, head, (size_t)hn);
    wlen += (size_t)hn;
    for (size_t k = 0; k < n; k++) {
      char s[16];
      int sn = snprintf(s, sizeof s, "%zu.", k);
      p.samples[k] = vg_buf_from(s, (size_t)sn);
      p.bytes += (size_t)sn;
      cr_assert_lt(wlen + (size_t)sn, sizeof want);
      memcpy(want + wlen, s, (size_t)sn);
      wlen += (size_t)sn;
    }
    cr_assert_eq(vg_segfile_append_parts(f, &p, 1000 + (i + 1) * 500, 5), 0);
    cr_assert_null(p.head, "the parts were taken");
    cr_assert_null(p.samples);
  }
  result r = {0};
  vg_segfile_close(f, done, &r);
  run_until(&loop, &r);
  cr_assert_eq(r.calls, 1);
  cr_assert_eq(r.info.error, 0);
  cr_assert_eq(r.info.frames, 10);
  cr_assert_eq(r.info.fragments, 2);
  cr_assert_eq(r.info.end_ms, 2000);
  cr_assert_eq(r.info.bytes, wlen);
  FILE *fp = fopen(path, "rb");
  cr_assert_not_null(fp);
  char content[8192];
  size_t len = fread(content, 1, sizeof content, fp);
  fclose(fp);
  cr_assert_eq(len, wlen);
  cr_assert_eq(memcmp(content, want, wlen), 0);
  char sha[65];
  uint64_t bytes;
  cr_assert_eq(vg_file_sha256(path, sha, &bytes), 0);
  cr_assert_str_eq(sha, r.info.sha256);
  vg_buf_unref(init);
  vg_segwriter_free(w);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  cr_assert_eq(system(cmd), 0);
}

Test(segwriter, unwritable_place_reports_an_error) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  vg_segwriter *w;
  cr_assert_eq(vg_segwriter_new(&loop, &w), 0);
  vg_buf *init = vg_buf_from("INIT", 4);
  vg_segfile *f = vg_segfile_open(w, "/proc/vigil-nowhere/x.mp4", init, 0);
  cr_assert_not_null(f);
  result r = {0};
  vg_segfile_close(f, done, &r);
  run_until(&loop, &r);
  cr_assert_eq(r.calls, 1);
  cr_assert_eq(r.info.error, VG_EIO);
  cr_assert(strstr(r.info.error_msg, "/proc/vigil-nowhere") != NULL);
  vg_buf_unref(init);
  vg_segwriter_free(w);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
}

Test(segwriter, existing_file_is_never_overwritten) {
  char dir[] = "/tmp/vg-segw-XXXXXX";
  cr_assert_not_null(mkdtemp(dir));
  char path[256];
  snprintf(path, sizeof path, "%s/a.mp4", dir);
  FILE *fp = fopen(path, "wb");
  fputs("recorded video", fp);
  fclose(fp);
  uv_loop_t loop;
  uv_loop_init(&loop);
  vg_segwriter *w;
  cr_assert_eq(vg_segwriter_new(&loop, &w), 0);
  vg_buf *init = vg_buf_from("INIT", 4);
  vg_segfile *f = vg_segfile_open(w, path, init, 0);
  result r = {0};
  vg_segfile_close(f, done, &r);
  run_until(&loop, &r);
  cr_assert_eq(r.info.error, VG_EIO);
  char sha[65];
  uint64_t bytes = 0;
  cr_assert_eq(vg_file_sha256(path, sha, &bytes), 0);
  cr_assert_eq(bytes, 14);
  vg_buf_unref(init);
  vg_segwriter_free(w);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  cr_assert_eq(system(cmd), 0);
}
