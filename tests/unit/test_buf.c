/* test_buf.c - reference-counted buffers and growable strings. Run under
 * ASan: a double free or a leak from wrong counting fails the run. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

/* Criterion's workers leave without LeakSanitizer's exit check, so tests
 * that care about ownership ask for it explicitly. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define EXPECT_NO_LEAKS() \
  cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "memory leaked (LeakSanitizer report above)")
#else
#define EXPECT_NO_LEAKS() ((void)0)
#endif

Test(buf, new_and_from) {
  vg_buf *b = vg_buf_from("hello", 5);
  cr_assert_not_null(b);
  cr_assert_eq(b->len, 5);
  cr_assert_eq(memcmp(b->data, "hello", 5), 0);
  vg_buf_unref(b);

  vg_buf *e = vg_buf_from(NULL, 0);
  cr_assert_not_null(e);
  cr_assert_eq(e->len, 0);
  vg_buf_unref(e);

  vg_buf *big = vg_buf_new(1 << 20);
  cr_assert_not_null(big);
  cr_assert_eq(big->len, 1 << 20);
  memset(big->data, 7, big->len); /* the whole length is writable (ASan checks) */
  vg_buf_unref(big);
  EXPECT_NO_LEAKS();
}

Test(buf, new_refuses_absurd_size) {
  cr_assert_null(vg_buf_new(SIZE_MAX));
  cr_assert_null(vg_buf_new(SIZE_MAX - 4));
  EXPECT_NO_LEAKS();
}

Test(buf, ref_twice_unref_thrice) {
  vg_buf *b = vg_buf_from("shared", 6);
  cr_assert_eq(vg_buf_ref(b), b, "ref returns the same buffer");
  cr_assert_eq(vg_buf_ref(b), b);
  vg_buf_unref(b);
  vg_buf_unref(b);
  /* Still alive with one reference: reading it must not touch freed memory. */
  cr_assert_eq(memcmp(b->data, "shared", 6), 0);
  cr_assert_eq(b->len, 6);
  vg_buf_unref(b); /* last one frees; LeakSanitizer reports if it does not */
  EXPECT_NO_LEAKS();
}

Test(buf, unref_null_is_harmless) {
  vg_buf_unref(NULL);
  EXPECT_NO_LEAKS();
}

static void *ref_unref_many(void *arg) {
  vg_buf *b = arg;
  for (int i = 0; i < 100000; i++) {
    vg_buf_ref(b);
    vg_buf_unref(b);
  }
  return NULL;
}

Test(buf, refcount_is_thread_safe) {
  /* A lost update would free the buffer early (ASan) or never (leak). */
  vg_buf *b = vg_buf_from("x", 1);
  pthread_t th[4];
  for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, ref_unref_many, b);
  for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
  cr_assert_eq(b->data[0], 'x');
  vg_buf_unref(b);
  EXPECT_NO_LEAKS();
}

Test(buf, str_append_grows) {
  vg_str s = VG_STR_INIT;
  cr_assert_eq(vg_str_appends(&s, ""), 0);
  cr_assert_not_null(s.data);
  cr_assert_str_eq(s.data, "");
  for (int i = 0; i < 10000; i++)
    cr_assert_eq(vg_str_append(&s, "0123456789", (size_t)(i % 10) + 1), 0);
  size_t expect = 0;
  for (int i = 0; i < 10000; i++) expect += (size_t)(i % 10) + 1;
  cr_assert_eq(s.len, expect);
  cr_assert_eq(strlen(s.data), expect, "NUL-terminated at len");
  cr_assert_geq(s.cap, s.len + 1);
  /* Spot-check content: piece i is the first (i%10)+1 digits. */
  size_t off = 0;
  for (int i = 0; i < 10000; i++) {
    size_t n = (size_t)(i % 10) + 1;
    cr_assert_eq(memcmp(s.data + off, "0123456789", n), 0, "piece %d", i);
    off += n;
  }
  vg_str_free(&s);
  cr_assert_null(s.data);
  cr_assert_eq(s.len, 0);
  cr_assert_eq(s.cap, 0);
  EXPECT_NO_LEAKS();
}

Test(buf, str_append_binary) {
  vg_str s = VG_STR_INIT;
  cr_assert_eq(vg_str_append(&s, "a\0b", 3), 0);
  cr_assert_eq(s.len, 3);
  cr_assert_eq(memcmp(s.data, "a\0b", 4), 0);
  vg_str_free(&s);
  EXPECT_NO_LEAKS();
}

Test(buf, str_printf) {
  vg_str s = VG_STR_INIT;
  cr_assert_eq(vg_str_printf(&s, "%d-%s", 42, "x"), 0);
  cr_assert_str_eq(s.data, "42-x");
  cr_assert_eq(s.len, 4);
  for (int i = 0; i < 5000; i++) cr_assert_eq(vg_str_printf(&s, ",%d", i), 0);
  cr_assert_eq(strlen(s.data), s.len);
  cr_assert_eq(strncmp(s.data, "42-x,0,1,2,3,", 13), 0);
  cr_assert_eq(strcmp(s.data + s.len - 10, ",4998,4999"), 0, "%s", s.data + s.len - 10);
  /* One large formatted piece past any doubling step. */
  char *big = malloc(100001);
  memset(big, 'z', 100000);
  big[100000] = 0;
  size_t before = s.len;
  cr_assert_eq(vg_str_printf(&s, "[%s]", big), 0);
  cr_assert_eq(s.len, before + 100002);
  cr_assert_eq(s.data[s.len - 1], ']');
  cr_assert_eq(s.data[s.len], 0);
  free(big);
  /* Empty output still leaves a valid string. */
  vg_str t = VG_STR_INIT;
  cr_assert_eq(vg_str_printf(&t, "%s", ""), 0);
  cr_assert_not_null(t.data);
  cr_assert_str_eq(t.data, "");
  vg_str_free(&t);
  vg_str_free(&s);
  EXPECT_NO_LEAKS();
}

Test(buf, str_to_buf_moves_and_empties) {
  vg_str s = VG_STR_INIT;
  vg_str_appends(&s, "HTTP/1.1 200 OK\r\n");
  vg_str_printf(&s, "Content-Length: %d\r\n\r\n", 5);
  size_t len = s.len;
  vg_buf *b = vg_str_to_buf(&s);
  cr_assert_not_null(b);
  cr_assert_eq(b->len, len);
  cr_assert_eq(memcmp(b->data, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", len), 0);
  cr_assert_eq(s.len, 0, "the string is empty afterwards");
  cr_assert(s.data == NULL || s.data[0] == 0);
  /* The string is reusable and independent of the buffer. */
  vg_str_appends(&s, "next");
  cr_assert_str_eq(s.data, "next");
  cr_assert_eq(memcmp(b->data, "HTTP", 4), 0);
  vg_buf_unref(b);
  vg_str_free(&s);

  vg_str e = VG_STR_INIT;
  vg_buf *eb = vg_str_to_buf(&e);
  cr_assert_not_null(eb);
  cr_assert_eq(eb->len, 0);
  vg_buf_unref(eb);
  vg_str_free(&e);
  EXPECT_NO_LEAKS();
}

Test(buf, str_reset_keeps_capacity) {
  vg_str s = VG_STR_INIT;
  vg_str_appends(&s, "some text");
  size_t cap = s.cap;
  vg_str_reset(&s);
  cr_assert_eq(s.len, 0);
  cr_assert_str_eq(s.data, "");
  cr_assert_eq(s.cap, cap);
  vg_str_appends(&s, "ab");
  cr_assert_str_eq(s.data, "ab");
  vg_str_free(&s);
  vg_str_free(&s); /* freeing twice is safe: fields are cleared */
  EXPECT_NO_LEAKS();
}
