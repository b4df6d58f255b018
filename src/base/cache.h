/* cache.h - a small shared cache of reference-counted values with an LRU
 * bounded by bytes and a time-out for idle entries.
 *
 * Pure bookkeeping (no I/O, no clock of its own: callers pass now_ms), so
 * unit tests drive it directly; one thread uses it (the event loop).
 *
 * An entry is a key (a string), a value the cache owns (freed with the
 * free function given to vg_cache_new) and the bytes it holds. get and
 * put hand out a reference; while one is out the entry is never freed,
 * even when evicted or when the cache is freed: it goes when its last
 * reference is released. Entries nobody holds are kept while the total
 * bytes stay within max_bytes (the least recently used go first) and
 * until they have been idle for idle_ms. Entries in use count towards
 * the total but are never dropped, so the total may exceed the bound
 * only by what is in use at that moment. */
#ifndef VG_CACHE_H
#define VG_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct vg_cache vg_cache;
typedef struct vg_cache_entry vg_cache_entry;
typedef void (*vg_cache_free_fn)(void *value);

/* Keys longer than this are refused (put returns NULL). */
#define VG_CACHE_MAX_KEY 255

int vg_cache_new(uint64_t max_bytes, uint64_t idle_ms, vg_cache_free_fn free_value, vg_cache **out);
/* Frees every entry nobody holds; held ones go at their last release. */
void vg_cache_free(vg_cache *c);

/* The entry of key with a new reference, or NULL. Drops idle entries
 * first. */
vg_cache_entry *vg_cache_get(vg_cache *c, const char *key, uint64_t now_ms);
/* Adds value (taken) under key and returns the entry with a reference.
 * When key is there already (another caller put it first) value is freed
 * and the existing entry is returned. NULL (value freed) when out of
 * memory or the key is too long. May evict other entries. */
vg_cache_entry *vg_cache_put(vg_cache *c, const char *key, void *value, uint64_t bytes,
                             uint64_t now_ms);
/* Drops a reference from get or put. */
void vg_cache_release(vg_cache *c, vg_cache_entry *e, uint64_t now_ms);
void *vg_cache_value(const vg_cache_entry *e);

/* Frees entries nobody held for idle_ms; returns how many. */
size_t vg_cache_sweep(vg_cache *c, uint64_t now_ms);
/* Bytes of the entries the cache holds (in use or not) and their count. */
uint64_t vg_cache_bytes(const vg_cache *c);
size_t vg_cache_count(const vg_cache *c);

#endif
