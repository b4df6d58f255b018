/* test_clock_anchor.c - the wall-clock anchor against synthetic frame
 * sequences: what a recording's index would show for a steady camera, a
 * drifting one, one whose clock jumps, and one whose timestamps wrap. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>

#include "ingest/clock_anchor.h"

#define T0 1700000000000LL /* some UTC ms */

Test(clock_anchor, steady_25fps_exact_40ms_steps) {
  vg_clock_anchor a;
  vg_clock_anchor_init(&a, 90000);
  int64_t prev = 0;
  for (int i = 0; i < 25 * 600; i++) {
    int64_t w = vg_clock_anchor_map(&a, 123456 + (int64_t)i * 3600, T0 + i * 40);
    if (i == 0)
      cr_assert_eq(w, T0);
    else
      cr_assert_eq(w - prev, 40, "frame %d step %lld", i, (long long)(w - prev));
    prev = w;
  }
  cr_assert_eq(a.reanchors, 0);
}

Test(clock_anchor, network_jitter_keeps_capture_time) {
  /* Arrival = capture + 20..80 ms of latency; the first frame is late by
   * 80 ms, later ones reach the 20 ms floor: the mapping finds the floor
   * and stays within it instead of following the jitter. */
  vg_clock_anchor a;
  vg_clock_anchor_init(&a, 90000);
  srand(7);
  int64_t prev = 0;
  for (int i = 0; i < 25 * 120; i++) {
    int lat = i == 0 ? 80 : 20 + rand() % 61;
    int64_t w = vg_clock_anchor_map(&a, (int64_t)i * 3600, T0 + i * 40 + lat);
    cr_assert_geq(w, prev);
    if (i > 25 * 10) {
      int64_t capture = T0 + i * 40;
      cr_assert(w >= capture + 19 && w <= capture + 31, "frame %d off by %lld", i,
                (long long)(w - capture));
    }
    prev = w;
  }
}

static void drift_case(double rate) {
  /* The camera's clock runs at `rate` times real time. */
  vg_clock_anchor a;
  vg_clock_anchor_init(&a, 90000);
  int64_t prev = 0;
  for (int i = 0; i < 25 * 1200; i++) { /* 20 minutes */
    int64_t dts = (int64_t)((double)i * 3600.0 * rate);
    int64_t arrival = T0 + i * 40;
    int64_t w = vg_clock_anchor_map(&a, dts, arrival);
    cr_assert_geq(w, prev, "never backwards");
    if (i > 25 * 10) {
      /* Uncorrected, 0.1% would be 1.2 s off after 20 minutes. */
      cr_assert(llabs(w - arrival) <= 5, "rate %f frame %d off by %lld", rate, i,
                (long long)(w - arrival));
      cr_assert(w - prev >= 38 && w - prev <= 42, "step %lld", (long long)(w - prev));
    }
    prev = w;
  }
  cr_assert_eq(a.reanchors, 0);
}

Test(clock_anchor, drift_fast_camera_converges) { drift_case(1.001); }
Test(clock_anchor, drift_slow_camera_converges) { drift_case(0.999); }

static void jump_case(int64_t jump_ticks) {
  vg_clock_anchor a;
  vg_clock_anchor_init(&a, 90000);
  int64_t prev = 0;
  for (int i = 0; i < 500; i++) {
    int64_t dts = 900000000LL + (int64_t)i * 3600 + (i >= 250 ? jump_ticks : 0);
    int64_t arrival = T0 + i * 40;
    int64_t w = vg_clock_anchor_map(&a, dts, arrival);
    cr_assert_geq(w, prev);
    cr_assert(llabs(w - arrival) <= 1, "frame %d off by %lld", i, (long long)(w - arrival));
    prev = w;
  }
  cr_assert_eq(a.reanchors, 1);
}

Test(clock_anchor, jump_forward_one_hour_reanchors) { jump_case(3600LL * 90000); }
Test(clock_anchor, jump_backward_one_hour_reanchors) { jump_case(-3600LL * 90000); }

Test(clock_anchor, network_stall_does_not_reanchor) {
  /* 3 s without packets, then the backlog in a burst: the frames keep the
   * times they were captured at. */
  vg_clock_anchor a;
  vg_clock_anchor_init(&a, 90000);
  int64_t prev = 0;
  for (int i = 0; i < 500; i++) {
    int64_t arrival = T0 + i * 40;
    if (i >= 200 && i < 275) arrival = T0 + 275 * 40;
    int64_t w = vg_clock_anchor_map(&a, (int64_t)i * 3600, arrival);
    cr_assert_eq(w, T0 + i * 40);
    cr_assert_geq(w, prev);
    prev = w;
  }
  cr_assert_eq(a.reanchors, 0);
}

Test(clock_anchor, wrap_at_2_pow_33_continues) {
  vg_clock_anchor a;
  vg_clock_anchor_init(&a, 90000);
  const int64_t period = (int64_t)1 << 33;
  int64_t start = period - 3600 * 100;
  int64_t prev = 0;
  for (int i = 0; i < 300; i++) {
    int64_t dts = (start + (int64_t)i * 3600) % period; /* wraps at i == 100 */
    int64_t w = vg_clock_anchor_map(&a, dts, T0 + i * 40);
    if (i) cr_assert_eq(w - prev, 40, "frame %d", i);
    prev = w;
  }
  cr_assert_eq(a.reanchors, 0);
}

Test(clock_anchor, unwrap_handles_late_value_across_wrap) {
  vg_ts_unwrap u = {0};
  const int64_t p = (int64_t)1 << 33;
  cr_assert_eq(vg_ts_unwrap_next(&u, p - 10, 33), p - 10);
  cr_assert_eq(vg_ts_unwrap_next(&u, 5, 33), p + 5);
  cr_assert_eq(vg_ts_unwrap_next(&u, p - 2, 33), p - 2); /* late, from before the wrap */
  cr_assert_eq(vg_ts_unwrap_next(&u, 20, 33), p + 20);
  cr_assert_eq(vg_ts_unwrap_next(&u, 42, 64), 42);
}

Test(clock_anchor, peek_maps_other_track_and_reset_reanchors) {
  vg_clock_anchor a;
  vg_clock_anchor_init(&a, 90000);
  cr_assert_eq(vg_clock_anchor_peek(&a, 0), 0);
  vg_clock_anchor_map(&a, 90000, T0);
  cr_assert_eq(vg_clock_anchor_peek(&a, 90000 + 45000), T0 + 500);
  vg_clock_anchor_reset(&a);
  cr_assert_eq(vg_clock_anchor_map(&a, 5, T0 + 10000), T0 + 10000);
  /* output never goes backwards, even across a reset */
  cr_assert_eq(vg_clock_anchor_map(&a, 5 + 3600, T0 - 5000), T0 + 10000);
}
