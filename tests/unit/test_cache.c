/* test_cache.c - the shared cache of reference-counted values (the one
 * playback.c keeps built MP4s in): hits hand out the same object, other
 * keys get their own, the byte bound evicts the least recently used
 * entries nobody holds, idle entries go, and an entry in use is never
 * freed under its holder (ASan would report the use after free). */
#include <stdio.h>
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "base/cache.h"
#include "base/err.h"

/* A value that records when it is freed. */
typedef struct val {
  int id;
  char payload[64];
} val;

static int freed_count;
static int freed_ids[64];

static void val_free(void *v) {
  val *x = v;
  freed_ids[freed_count++ % 64] = x->id;
  free(x);
}

static val *val_new(int id) {
  val *x = calloc(1, sizeof *x);
  x->id = id;
  memset(x->payload, 'a' + id % 26, sizeof x->payload);
  return x;
}

static bool was_freed(int id) {
  for (int i = 0; i < freed_count && i < 64; i++)
    if (freed_ids[i] == id) return true;
  return false;
}

static void reset(void) { freed_count = 0; }

TestSuite(cache, .init = reset);

Test(cache, same_key_gives_the_same_object) {
  vg_cache *c;
  cr_assert_eq(vg_cache_new(1000, 60000, val_free, &c), 0);
  cr_assert_null(vg_cache_get(c, "1/2/0/-1/abc", 0));
  val *v = val_new(1);
  vg_cache_entry *e = vg_cache_put(c, "1/2/0/-1/abc", v, 100, 0);
  cr_assert_not_null(e);
  cr_assert_eq(vg_cache_value(e), v);
  vg_cache_release(c, e, 1);
  /* A later request finds the very same build. */
  vg_cache_entry *e2 = vg_cache_get(c, "1/2/0/-1/abc", 2);
  cr_assert_not_null(e2);
  cr_assert_eq(vg_cache_value(e2), v, "the cached object is reused, not rebuilt");
  cr_assert_eq(vg_cache_count(c), 1);
  cr_assert_eq(vg_cache_bytes(c), 100);
  vg_cache_release(c, e2, 3);
  cr_assert_eq(freed_count, 0);
  vg_cache_free(c);
  cr_assert_eq(freed_count, 1);
}

Test(cache, another_fingerprint_is_another_entry) {
  vg_cache *c;
  cr_assert_eq(vg_cache_new(1000, 60000, val_free, &c), 0);
  vg_cache_entry *a = vg_cache_put(c, "1/2/0/-1/0000000000000001", val_new(1), 100, 0);
  /* The recording gained a segment: its fingerprint, hence its key, moved. */
  cr_assert_null(vg_cache_get(c, "1/2/0/-1/0000000000000002", 0));
  vg_cache_entry *b = vg_cache_put(c, "1/2/0/-1/0000000000000002", val_new(2), 100, 0);
  cr_assert_neq(vg_cache_value(a), vg_cache_value(b));
  cr_assert_eq(((val *)vg_cache_value(b))->id, 2);
  cr_assert_eq(vg_cache_count(c), 2);
  vg_cache_release(c, a, 1);
  vg_cache_release(c, b, 1);
  vg_cache_free(c);
  cr_assert_eq(freed_count, 2);
}

Test(cache, racing_puts_keep_one) {
  vg_cache *c;
  cr_assert_eq(vg_cache_new(1000, 60000, val_free, &c), 0);
  val *first = val_new(1);
  vg_cache_entry *a = vg_cache_put(c, "k", first, 100, 0);
  /* A second build of the same key finished later: it is dropped and the
   * first one shared. */
  vg_cache_entry *b = vg_cache_put(c, "k", val_new(2), 100, 0);
  cr_assert_eq(a, b);
  cr_assert_eq(vg_cache_value(b), first);
  cr_assert(was_freed(2));
  cr_assert_eq(vg_cache_count(c), 1);
  cr_assert_eq(vg_cache_bytes(c), 100);
  vg_cache_release(c, a, 0);
  vg_cache_release(c, b, 0);
  vg_cache_free(c);
}

Test(cache, eviction_keeps_the_bytes_under_the_bound) {
  vg_cache *c;
  cr_assert_eq(vg_cache_new(1000, 60000, val_free, &c), 0);
  char key[32];
  for (int i = 0; i < 20; i++) {
    snprintf(key, sizeof key, "k%d", i);
    vg_cache_entry *e = vg_cache_put(c, key, val_new(i), 300, (uint64_t)i);
    cr_assert_not_null(e);
    /* Touch k0 each time: the most recently used stays. */
    vg_cache_entry *k0 = vg_cache_get(c, "k0", (uint64_t)i);
    cr_assert_not_null(k0, "k0 was evicted although it was used last (round %d)", i);
    vg_cache_release(c, k0, (uint64_t)i);
    vg_cache_release(c, e, (uint64_t)i);
    cr_assert_leq(vg_cache_bytes(c), 1000, "%llu bytes cached",
                  (unsigned long long)vg_cache_bytes(c));
  }
  cr_assert_eq(vg_cache_count(c), 3);
  cr_assert_eq(freed_count, 17);
  cr_assert(!was_freed(0) && !was_freed(19) && was_freed(1));
  vg_cache_free(c);
  cr_assert_eq(freed_count, 20);
}

Test(cache, entry_in_use_is_never_freed_under_its_holder) {
  vg_cache *c;
  cr_assert_eq(vg_cache_new(1000, 50, val_free, &c), 0);
  vg_cache_entry *held = vg_cache_put(c, "held", val_new(1), 800, 0);
  val *v = vg_cache_value(held);
  /* More than the bound comes in while "held" streams: the others are
   * evicted instead, and "held" may push the total past the bound only by
   * itself. */
  for (int i = 2; i < 6; i++) {
    char key[8];
    snprintf(key, sizeof key, "k%d", i);
    vg_cache_release(c, vg_cache_put(c, key, val_new(i), 800, 1), 1);
    cr_assert(!was_freed(1));
    cr_assert_leq(vg_cache_bytes(c), 1000 + 800);
  }
  /* Idle sweeps skip it too. */
  cr_assert_eq(vg_cache_count(c), 1, "only the held entry is left");
  cr_assert_eq(vg_cache_sweep(c, 100000), 0);
  cr_assert(!was_freed(1));
  cr_assert_eq(v->id, 1);
  cr_assert_eq(v->payload[10], 'b', "the held value is intact");
  /* Freeing the cache (shutdown) while it is held: freed at the release. */
  vg_cache_free(c);
  cr_assert(!was_freed(1));
  cr_assert_eq(v->payload[63], 'b');
  vg_cache_release(c, held, 100001);
  cr_assert(was_freed(1));
}

Test(cache, idle_entries_go_after_the_timeout) {
  vg_cache *c;
  cr_assert_eq(vg_cache_new(1 << 20, 1000, val_free, &c), 0);
  vg_cache_release(c, vg_cache_put(c, "a", val_new(1), 10, 0), 0);
  vg_cache_release(c, vg_cache_put(c, "b", val_new(2), 10, 0), 500);
  cr_assert_eq(vg_cache_sweep(c, 999), 0);
  cr_assert_eq(vg_cache_sweep(c, 1000), 1, "a was idle for 1000 ms");
  cr_assert(was_freed(1) && !was_freed(2));
  /* A get drops idle entries first: b (released at 500) is gone at 1500. */
  cr_assert_null(vg_cache_get(c, "b", 1500));
  cr_assert_eq(vg_cache_count(c), 0);
  cr_assert_eq(vg_cache_bytes(c), 0);
  vg_cache_free(c);
}

Test(cache, refuses_an_overlong_key_and_frees_the_value) {
  vg_cache *c;
  cr_assert_eq(vg_cache_new(1000, 1000, val_free, &c), 0);
  char key[VG_CACHE_MAX_KEY + 2];
  memset(key, 'x', sizeof key - 1);
  key[sizeof key - 1] = 0;
  cr_assert_null(vg_cache_put(c, key, val_new(7), 10, 0));
  cr_assert(was_freed(7));
  cr_assert_eq(vg_cache_count(c), 0);
  vg_cache_free(c);
}
