/* cache.c - see cache.h.
 *
 * Layout: one doubly linked list of entries, most recently used first;
 * an entry carries its key inline. Look-ups walk the list: the cache is
 * meant for tens of large values (MP4 sample tables of megabytes), where a
 * walk costs nothing next to what a hit saves. An evicted entry that is
 * still held leaves the list at once (so no new request finds it) and is
 * freed at its last release. */
#include "cache.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

struct vg_cache_entry {
  vg_cache_entry *prev, *next;
  void *value;
  uint64_t bytes;
  uint64_t last_used; /* now_ms of the last release (or of the put) */
  int refs;
  bool listed; /* in the cache's list (counted in its bytes) */
  char key[];
};

struct vg_cache {
  vg_cache_entry *head, *tail;
  size_t count;
  uint64_t bytes, max_bytes, idle_ms;
  vg_cache_free_fn free_value;
  size_t held; /* entries with references, listed or not */
  bool dying;  /* vg_cache_free ran: free the struct with the last held entry */
};

int vg_cache_new(uint64_t max_bytes, uint64_t idle_ms, vg_cache_free_fn free_value,
                 vg_cache **out) {
  *out = NULL;
  vg_cache *c = calloc(1, sizeof *c);
  if (!c) return VG_ENOMEM;
  c->max_bytes = max_bytes;
  c->idle_ms = idle_ms;
  c->free_value = free_value;
  *out = c;
  return 0;
}

static void unlink_entry(vg_cache *c, vg_cache_entry *e) {
  assert(e->listed);
  if (e->prev)
    e->prev->next = e->next;
  else
    c->head = e->next;
  if (e->next)
    e->next->prev = e->prev;
  else
    c->tail = e->prev;
  e->prev = e->next = NULL;
  e->listed = false;
  c->count--;
  c->bytes -= e->bytes;
}

static void push_front(vg_cache *c, vg_cache_entry *e) {
  e->prev = NULL;
  e->next = c->head;
  if (c->head) c->head->prev = e;
  c->head = e;
  if (!c->tail) c->tail = e;
  e->listed = true;
  c->count++;
  c->bytes += e->bytes;
}

static void entry_free(vg_cache *c, vg_cache_entry *e) {
  if (c->free_value) c->free_value(e->value);
  free(e);
}

/* Takes e out of the cache: freed now when nobody holds it, else at its
 * last release. */
static void drop(vg_cache *c, vg_cache_entry *e) {
  unlink_entry(c, e);
  if (e->refs == 0) entry_free(c, e);
}

/* Drops the least recently used entries nobody holds while over the
 * bound. */
static void evict(vg_cache *c) {
  vg_cache_entry *e = c->tail;
  while (c->bytes > c->max_bytes && e) {
    vg_cache_entry *prev = e->prev;
    if (e->refs == 0) drop(c, e);
    e = prev;
  }
}

size_t vg_cache_sweep(vg_cache *c, uint64_t now_ms) {
  size_t n = 0;
  vg_cache_entry *e = c->tail;
  while (e) {
    vg_cache_entry *prev = e->prev;
    if (e->refs == 0 && now_ms - e->last_used >= c->idle_ms && now_ms >= e->last_used) {
      drop(c, e);
      n++;
    }
    e = prev;
  }
  return n;
}

vg_cache_entry *vg_cache_get(vg_cache *c, const char *key, uint64_t now_ms) {
  vg_cache_sweep(c, now_ms);
  for (vg_cache_entry *e = c->head; e; e = e->next) {
    if (strcmp(e->key, key) != 0) continue;
    if (e != c->head) {
      unlink_entry(c, e);
      push_front(c, e);
    }
    if (e->refs++ == 0) c->held++;
    return e;
  }
  return NULL;
}

vg_cache_entry *vg_cache_put(vg_cache *c, const char *key, void *value, uint64_t bytes,
                             uint64_t now_ms) {
  vg_cache_entry *old = vg_cache_get(c, key, now_ms);
  if (old) {
    if (c->free_value) c->free_value(value);
    return old;
  }
  size_t klen = strlen(key);
  vg_cache_entry *e = klen <= VG_CACHE_MAX_KEY ? calloc(1, sizeof *e + klen + 1) : NULL;
  if (!e) {
    if (c->free_value) c->free_value(value);
    return NULL;
  }
  memcpy(e->key, key, klen + 1);
  e->value = value;
  e->bytes = bytes;
  e->last_used = now_ms;
  e->refs = 1;
  c->held++;
  push_front(c, e);
  evict(c);
  return e;
}

void vg_cache_release(vg_cache *c, vg_cache_entry *e, uint64_t now_ms) {
  if (!e) return;
  assert(e->refs > 0);
  e->last_used = now_ms;
  if (--e->refs > 0) return;
  c->held--;
  if (!e->listed) {
    entry_free(c, e);
  } else {
    evict(c);
  }
  if (c->dying && c->held == 0) free(c);
}

void *vg_cache_value(const vg_cache_entry *e) { return e->value; }
uint64_t vg_cache_bytes(const vg_cache *c) { return c->bytes; }
size_t vg_cache_count(const vg_cache *c) { return c->count; }

void vg_cache_free(vg_cache *c) {
  if (!c) return;
  while (c->head) drop(c, c->head);
  if (c->held == 0)
    free(c);
  else
    c->dying = true;
}
