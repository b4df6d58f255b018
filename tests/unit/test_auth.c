/* test_auth.c - the failed-login throttle: how many tries, how long the
 * wait, when it lifts, and that it cannot be dodged by changing case. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "app/app.h"
#include "base/err.h"

/* Criterion's workers leave without LeakSanitizer's exit check, so tests
 * that care about ownership ask for it explicitly. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define EXPECT_NO_LEAKS() \
  cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "memory leaked (LeakSanitizer report above)")
#else
#define EXPECT_NO_LEAKS() ((void)0)
#endif

#define WINDOW 60000
#define T0 1000000

static vg_throttle *make(int64_t max) {
  vg_throttle *t = NULL;
  cr_assert_eq(vg_throttle_new(max, WINDOW, &t), 0);
  cr_assert_not_null(t);
  return t;
}

Test(throttle, unknown_key_allowed) {
  vg_throttle *t = make(3);
  cr_assert_eq(vg_throttle_wait(t, "alice", T0), 0);
  vg_throttle_reset(t, "nobody");
  vg_throttle_purge(t, T0);
  vg_throttle_free(t);
  EXPECT_NO_LEAKS();
}

Test(throttle, blocks_after_max_failures) {
  vg_throttle *t = make(3);
  vg_throttle_fail(t, "alice", T0);
  cr_assert_eq(vg_throttle_wait(t, "alice", T0 + 1), 0);
  vg_throttle_fail(t, "alice", T0 + 1000);
  cr_assert_eq(vg_throttle_wait(t, "alice", T0 + 1001), 0, "below max: still allowed");
  vg_throttle_fail(t, "alice", T0 + 2000);
  int64_t w = vg_throttle_wait(t, "alice", T0 + 2000);
  cr_assert_gt(w, 0, "max failures reached: must wait");
  cr_assert_leq(w, WINDOW);
  /* The wait counts down to the end of the window that began with the
   * first failure. */
  cr_assert_eq(w, WINDOW - 2000);
  cr_assert_eq(vg_throttle_wait(t, "alice", T0 + 30000), WINDOW - 30000);
  cr_assert_eq(vg_throttle_wait(t, "bob", T0 + 2000), 0, "other keys unaffected");
  vg_throttle_free(t);
  EXPECT_NO_LEAKS();
}

Test(throttle, allowed_after_window) {
  vg_throttle *t = make(2);
  vg_throttle_fail(t, "alice", T0);
  vg_throttle_fail(t, "alice", T0);
  cr_assert_gt(vg_throttle_wait(t, "alice", T0 + WINDOW - 1), 0);
  cr_assert_eq(vg_throttle_wait(t, "alice", T0 + WINDOW), 0);
  cr_assert_eq(vg_throttle_wait(t, "alice", T0 + 10 * WINDOW), 0);
  /* A failure after the window starts a fresh count. */
  vg_throttle_fail(t, "alice", T0 + WINDOW + 5);
  cr_assert_eq(vg_throttle_wait(t, "alice", T0 + WINDOW + 6), 0);
  vg_throttle_fail(t, "alice", T0 + WINDOW + 7);
  int64_t w = vg_throttle_wait(t, "alice", T0 + WINDOW + 7);
  cr_assert_gt(w, 0);
  cr_assert_leq(w, WINDOW);
  vg_throttle_free(t);
  EXPECT_NO_LEAKS();
}

Test(throttle, reset_clears) {
  vg_throttle *t = make(2);
  vg_throttle_fail(t, "alice", T0);
  vg_throttle_fail(t, "alice", T0);
  cr_assert_gt(vg_throttle_wait(t, "alice", T0), 0);
  vg_throttle_reset(t, "alice");
  cr_assert_eq(vg_throttle_wait(t, "alice", T0), 0);
  /* The count starts over: one failure is not enough to block again. */
  vg_throttle_fail(t, "alice", T0);
  cr_assert_eq(vg_throttle_wait(t, "alice", T0), 0);
  vg_throttle_free(t);
  EXPECT_NO_LEAKS();
}

Test(throttle, keys_case_insensitive) {
  vg_throttle *t = make(3);
  vg_throttle_fail(t, "Alice", T0);
  vg_throttle_fail(t, "ALICE", T0);
  vg_throttle_fail(t, "alice", T0);
  cr_assert_gt(vg_throttle_wait(t, "aLiCe", T0), 0);
  cr_assert_gt(vg_throttle_wait(t, "alice", T0), 0);
  vg_throttle_reset(t, "ALICE");
  cr_assert_eq(vg_throttle_wait(t, "alice", T0), 0);
  vg_throttle_free(t);
  EXPECT_NO_LEAKS();
}

Test(throttle, purge_drops_expired) {
  vg_throttle *t = make(1);
  char key[32];
  for (int i = 0; i < 500; i++) {
    snprintf(key, sizeof key, "user%d", i);
    vg_throttle_fail(t, key, T0 + (i < 250 ? 0 : WINDOW / 2));
  }
  cr_assert_gt(vg_throttle_wait(t, "user0", T0 + 1), 0);
  /* At T0 + WINDOW the first half expired, the second half has WINDOW/2 left. */
  vg_throttle_purge(t, T0 + WINDOW);
  for (int i = 0; i < 500; i++) {
    snprintf(key, sizeof key, "user%d", i);
    int64_t w = vg_throttle_wait(t, key, T0 + WINDOW);
    if (i < 250)
      cr_assert_eq(w, 0, "%s", key);
    else
      cr_assert_eq(w, WINDOW / 2, "%s kept by purge", key);
  }
  vg_throttle_purge(t, T0 + 2 * WINDOW);
  cr_assert_eq(vg_throttle_wait(t, "user499", T0 + WINDOW), 0, "purged, not just expired");
  /* After a purge failures count from scratch. */
  vg_throttle_fail(t, "user0", T0 + 3 * WINDOW);
  cr_assert_gt(vg_throttle_wait(t, "user0", T0 + 3 * WINDOW), 0);
  vg_throttle_free(t);
  EXPECT_NO_LEAKS(); /* purge and free released every key */
}

Test(throttle, many_keys_stay_bounded) {
  /* An attacker spraying addresses must not grow memory without bound or
   * crash; a fresh key past the table's limit may simply go uncounted. */
  vg_throttle *t = make(1);
  char key[32];
  for (int i = 0; i < 100010; i++) {
    snprintf(key, sizeof key, "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
    vg_throttle_fail(t, key, T0);
  }
  cr_assert_gt(vg_throttle_wait(t, "10.0.0.0", T0), 0, "early keys stay counted");
  vg_throttle_free(t);
  EXPECT_NO_LEAKS();
}
