/* zip.c - stored ZIP archives: the planned streaming writer and the
 * central-directory reader (see zip.h).
 *
 * Records follow PKWARE's APPNOTE 6.3: little-endian, a local header
 * (30 bytes + name + extra) before each entry, a data descriptor (16 or
 * 24 bytes) after it, central headers (46 bytes + name + extra), and the
 * end record (22 bytes) preceded, when needed, by the ZIP64 end record
 * (56) and its locator (20). */
#include "media/zip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "base/err.h"

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_DESCRIPTOR 0x08074b50u
#define SIG_END 0x06054b50u
#define SIG_END64 0x06064b50u
#define SIG_LOCATOR64 0x07064b50u

#define LOCAL_LEN 30
#define CENTRAL_LEN 46
#define END_LEN 22
#define END64_LEN 56
#define LOCATOR64_LEN 20
#define EXTRA64_LOCAL_LEN 20   /* tag, size, two 8-byte sizes */
#define EXTRA64_CENTRAL_LEN 28 /* tag, size, two sizes and the offset */

#define FLAG_DESCRIPTOR 0x0008
#define FLAG_UTF8 0x0800
#define MAX32 0xffffffffu
#define MAX16 0xffffu
#define VERSION_PLAIN 20
#define VERSION_ZIP64 45
#define MADE_BY_UNIX (3 << 8)
#define MODE_FILE 0100644u

/* zlib's: folded with carry-less multiplication where the CPU has it,
 * several GB/s, so the CRC never limits an export. */
uint32_t vg_zip_crc32(uint32_t crc, const void *data, size_t len) {
  const uint8_t *p = data;
  while (len > 0) {
    uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;
    crc = (uint32_t)crc32(crc, p, n);
    p += n;
    len -= n;
  }
  return crc;
}

/* ---- byte order ---- */

static void put16(vg_str *s, uint16_t v) {
  uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
  vg_str_append(s, b, 2);
}

static void put32(vg_str *s, uint32_t v) {
  uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
  vg_str_append(s, b, 4);
}

static void put64(vg_str *s, uint64_t v) {
  put32(s, (uint32_t)v);
  put32(s, (uint32_t)(v >> 32));
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }

/* ---- writer ---- */

typedef struct wentry {
  char *name;
  size_t name_len;
  uint64_t size;
  uint64_t offset; /* of the local header */
  uint32_t crc;
  bool zip64;
  bool done; /* descriptor made */
} wentry;

struct vg_zip_writer {
  wentry *e;
  size_t n, cap;
  uint64_t end; /* where the next local header goes: the directory's offset at the end */
  uint16_t dos_time, dos_date;
  bool force64;
};

int vg_zip_writer_new(int64_t mtime_ms, bool force_zip64, vg_zip_writer **out) {
  vg_zip_writer *w = calloc(1, sizeof *w);
  if (!w) return VG_ENOMEM;
  time_t t = (time_t)(mtime_ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  if (tm.tm_year < 80) tm.tm_year = 80, tm.tm_mon = 0, tm.tm_mday = 1;
  w->dos_time = (uint16_t)(tm.tm_hour << 11 | tm.tm_min << 5 | tm.tm_sec / 2);
  w->dos_date = (uint16_t)((tm.tm_year - 80) << 9 | (tm.tm_mon + 1) << 5 | tm.tm_mday);
  w->force64 = force_zip64;
  *out = w;
  return 0;
}

void vg_zip_writer_free(vg_zip_writer *w) {
  if (!w) return;
  for (size_t i = 0; i < w->n; i++) free(w->e[i].name);
  free(w->e);
  free(w);
}

static bool name_safe(const char *name, size_t len) {
  if (len == 0 || len > VG_ZIP_MAX_NAME || name[0] == '/' || strchr(name, '\\')) return false;
  for (const char *p = name; *p;) {
    const char *slash = strchr(p, '/');
    size_t part = slash ? (size_t)(slash - p) : strlen(p);
    if ((part == 2 && p[0] == '.' && p[1] == '.') || part == 0) return false;
    if (!slash) break;
    p = slash + 1;
  }
  return true;
}

static uint64_t local_len(const wentry *e) {
  return LOCAL_LEN + e->name_len + (e->zip64 ? EXTRA64_LOCAL_LEN : 0);
}

static uint64_t descriptor_len(const wentry *e) { return e->zip64 ? 24 : 16; }

int vg_zip_writer_add(vg_zip_writer *w, const char *name, uint64_t size) {
  size_t len = name ? strlen(name) : 0;
  if (!name_safe(name ? name : "", len)) return VG_EINVAL;
  if (w->n >= VG_ZIP_MAX_ENTRIES) return VG_ETOOBIG;
  if (w->n == w->cap) {
    size_t cap = w->cap ? w->cap * 2 : 8;
    wentry *grown = realloc(w->e, cap * sizeof *grown);
    if (!grown) return VG_ENOMEM;
    w->e = grown;
    w->cap = cap;
  }
  wentry *e = &w->e[w->n];
  memset(e, 0, sizeof *e);
  e->name = strdup(name);
  if (!e->name) return VG_ENOMEM;
  e->name_len = len;
  e->size = size;
  e->offset = w->end;
  e->zip64 = w->force64 || size >= MAX32 || e->offset >= MAX32;
  w->end = e->offset + local_len(e) + size + descriptor_len(e);
  w->n++;
  return 0;
}

size_t vg_zip_writer_count(const vg_zip_writer *w) { return w->n; }

static uint64_t central_len(const vg_zip_writer *w) {
  uint64_t len = 0;
  for (size_t i = 0; i < w->n; i++)
    len += CENTRAL_LEN + w->e[i].name_len + (w->e[i].zip64 ? EXTRA64_CENTRAL_LEN : 0);
  return len;
}

static bool end_zip64(const vg_zip_writer *w, uint64_t cd_len) {
  return w->force64 || w->n >= MAX16 || cd_len >= MAX32 || w->end >= MAX32;
}

uint64_t vg_zip_writer_total(const vg_zip_writer *w) {
  uint64_t cd = central_len(w);
  return w->end + cd + (end_zip64(w, cd) ? END64_LEN + LOCATOR64_LEN : 0) + END_LEN;
}

uint64_t vg_zip_writer_data_offset(const vg_zip_writer *w, size_t i) {
  return i < w->n ? w->e[i].offset + local_len(&w->e[i]) : 0;
}

int vg_zip_writer_local_header(vg_zip_writer *w, size_t i, vg_str *out) {
  if (i >= w->n) return VG_EINVAL;
  const wentry *e = &w->e[i];
  size_t before = out->len;
  put32(out, SIG_LOCAL);
  put16(out, e->zip64 ? VERSION_ZIP64 : VERSION_PLAIN);
  put16(out, FLAG_DESCRIPTOR | FLAG_UTF8);
  put16(out, 0); /* stored */
  put16(out, w->dos_time);
  put16(out, w->dos_date);
  /* Bit 3: CRC and sizes come in the descriptor; a ZIP64 entry says so
   * with 0xffffffff sizes and a ZIP64 extra field. */
  put32(out, 0);
  put32(out, e->zip64 ? MAX32 : 0);
  put32(out, e->zip64 ? MAX32 : 0);
  put16(out, (uint16_t)e->name_len);
  put16(out, e->zip64 ? EXTRA64_LOCAL_LEN : 0);
  vg_str_append(out, e->name, e->name_len);
  if (e->zip64) {
    put16(out, 0x0001);
    put16(out, 16);
    put64(out, 0);
    put64(out, 0);
  }
  return out->len - before == local_len(e) ? 0 : VG_ENOMEM;
}

int vg_zip_writer_descriptor(vg_zip_writer *w, size_t i, uint32_t crc, vg_str *out) {
  if (i >= w->n) return VG_EINVAL;
  wentry *e = &w->e[i];
  size_t before = out->len;
  put32(out, SIG_DESCRIPTOR);
  put32(out, crc);
  if (e->zip64) {
    put64(out, e->size);
    put64(out, e->size);
  } else {
    put32(out, (uint32_t)e->size);
    put32(out, (uint32_t)e->size);
  }
  if (out->len - before != descriptor_len(e)) return VG_ENOMEM;
  e->crc = crc;
  e->done = true;
  return 0;
}

int vg_zip_writer_central(vg_zip_writer *w, vg_str *out) {
  for (size_t i = 0; i < w->n; i++)
    if (!w->e[i].done) return VG_ESTATE;
  size_t before = out->len;
  uint64_t cd_len = central_len(w);
  for (size_t i = 0; i < w->n; i++) {
    const wentry *e = &w->e[i];
    put32(out, SIG_CENTRAL);
    put16(out, MADE_BY_UNIX | (e->zip64 ? VERSION_ZIP64 : VERSION_PLAIN));
    put16(out, e->zip64 ? VERSION_ZIP64 : VERSION_PLAIN);
    put16(out, FLAG_DESCRIPTOR | FLAG_UTF8);
    put16(out, 0);
    put16(out, w->dos_time);
    put16(out, w->dos_date);
    put32(out, e->crc);
    put32(out, e->zip64 ? MAX32 : (uint32_t)e->size);
    put32(out, e->zip64 ? MAX32 : (uint32_t)e->size);
    put16(out, (uint16_t)e->name_len);
    put16(out, e->zip64 ? EXTRA64_CENTRAL_LEN : 0);
    put16(out, 0); /* comment */
    put16(out, 0); /* disk */
    put16(out, 0); /* internal attributes */
    put32(out, MODE_FILE << 16);
    put32(out, e->zip64 ? MAX32 : (uint32_t)e->offset);
    vg_str_append(out, e->name, e->name_len);
    if (e->zip64) {
      put16(out, 0x0001);
      put16(out, 24);
      put64(out, e->size);
      put64(out, e->size);
      put64(out, e->offset);
    }
  }
  bool z64 = end_zip64(w, cd_len);
  if (z64) {
    uint64_t end64_at = w->end + cd_len;
    put32(out, SIG_END64);
    put64(out, END64_LEN - 12);
    put16(out, MADE_BY_UNIX | VERSION_ZIP64);
    put16(out, VERSION_ZIP64);
    put32(out, 0);
    put32(out, 0);
    put64(out, w->n);
    put64(out, w->n);
    put64(out, cd_len);
    put64(out, w->end);
    put32(out, SIG_LOCATOR64);
    put32(out, 0);
    put64(out, end64_at);
    put32(out, 1);
  }
  put32(out, SIG_END);
  put16(out, 0);
  put16(out, 0);
  put16(out, z64 ? MAX16 : (uint16_t)w->n);
  put16(out, z64 ? MAX16 : (uint16_t)w->n);
  put32(out, z64 ? MAX32 : (uint32_t)cd_len);
  put32(out, z64 ? MAX32 : (uint32_t)w->end);
  put16(out, 0);
  uint64_t want = cd_len + (z64 ? END64_LEN + LOCATOR64_LEN : 0) + END_LEN;
  return out->len - before == want ? 0 : VG_ENOMEM;
}

/* ---- reader ---- */

struct vg_zip_reader {
  vg_zip_item *items;
  size_t n;
};

#define FAIL(...)                       \
  do {                                  \
    snprintf(err, errlen, __VA_ARGS__); \
    rc = VG_EINVAL;                     \
    goto out;                           \
  } while (0)

/* Reads the ZIP64 extra field of a central header for the fields that
 * were 0xffffffff. Returns false when it is missing or too short. */
static bool read_extra64(const uint8_t *x, size_t len, vg_zip_item *it, bool want_size,
                         bool want_comp, bool want_off) {
  while (len >= 4) {
    uint16_t tag = get16(x), sz = get16(x + 2);
    if ((size_t)sz + 4 > len) return false;
    if (tag == 0x0001) {
      const uint8_t *p = x + 4;
      size_t left = sz;
      if (want_size) {
        if (left < 8) return false;
        it->size = get64(p), p += 8, left -= 8;
      }
      if (want_comp) {
        if (left < 8) return false;
        it->comp_size = get64(p), p += 8, left -= 8;
      }
      if (want_off) {
        if (left < 8) return false;
        it->header_offset = get64(p);
      }
      it->zip64 = true;
      return true;
    }
    x += 4 + sz;
    len -= 4 + (size_t)sz;
  }
  return false;
}

int vg_zip_reader_open(vg_zip_read_fn read_fn, void *ud, uint64_t file_size, vg_zip_reader **out,
                       char *err, size_t errlen) {
  int rc = 0;
  uint8_t *tail = NULL, *cd = NULL;
  vg_zip_reader *r = calloc(1, sizeof *r);
  if (!r) return VG_ENOMEM;
  if (errlen) err[0] = 0;
  if (file_size < END_LEN) FAIL("not a ZIP archive: %llu bytes", (unsigned long long)file_size);
  size_t tail_len = file_size < END_LEN + 0xffff ? (size_t)file_size : END_LEN + 0xffff;
  uint64_t tail_at = file_size - tail_len;
  tail = malloc(tail_len);
  if (!tail) {
    rc = VG_ENOMEM;
    goto out;
  }
  if ((rc = read_fn(ud, tail_at, tail, tail_len)) != 0) {
    snprintf(err, errlen, "cannot read the end of the archive");
    goto out;
  }
  /* The end record is the last signature whose comment reaches the end. */
  size_t pos = tail_len - END_LEN + 1;
  bool found = false;
  while (pos-- > 0) {
    if (get32(tail + pos) == SIG_END && pos + END_LEN + get16(tail + pos + 20) == tail_len) {
      found = true;
      break;
    }
  }
  if (!found) FAIL("not a ZIP archive: no end of central directory record");
  const uint8_t *e = tail + pos;
  uint64_t end_at = tail_at + pos;
  uint64_t count = get16(e + 10), cd_len = get32(e + 12), cd_at = get32(e + 16);
  if (get16(e + 4) != 0 || get16(e + 6) != 0 || get16(e + 8) != get16(e + 10))
    FAIL("multi-disk archives are not supported");
  uint64_t dir_end = end_at; /* the directory ends where the end records begin */
  if (pos >= LOCATOR64_LEN && get32(e - LOCATOR64_LEN) == SIG_LOCATOR64) {
    const uint8_t *loc = e - LOCATOR64_LEN;
    uint64_t end64_at = get64(loc + 8);
    if (get32(loc + 4) != 0 || get32(loc + 16) != 1) FAIL("multi-disk archives are not supported");
    if (end64_at > end_at - LOCATOR64_LEN || end_at - LOCATOR64_LEN - end64_at < END64_LEN)
      FAIL("the ZIP64 end record lies outside the archive");
    uint8_t e64[END64_LEN];
    if ((rc = read_fn(ud, end64_at, e64, sizeof e64)) != 0) {
      snprintf(err, errlen, "cannot read the ZIP64 end record");
      goto out;
    }
    if (get32(e64) != SIG_END64) FAIL("the ZIP64 end record has a wrong signature");
    if (get32(e64 + 16) != 0 || get32(e64 + 20) != 0 || get64(e64 + 24) != get64(e64 + 32))
      FAIL("multi-disk archives are not supported");
    count = get64(e64 + 32);
    cd_len = get64(e64 + 40);
    cd_at = get64(e64 + 48);
    dir_end = end64_at;
  }
  if (count > VG_ZIP_MAX_ENTRIES)
    FAIL("the archive lists %llu entries; at most %d are read", (unsigned long long)count,
         VG_ZIP_MAX_ENTRIES);
  if (cd_len > VG_ZIP_MAX_DIRECTORY) FAIL("the central directory is too large");
  if (cd_at > dir_end || dir_end - cd_at != cd_len)
    FAIL("the central directory's offset or size does not match the end record");
  cd = malloc(cd_len ? (size_t)cd_len : 1);
  if (!cd) {
    rc = VG_ENOMEM;
    goto out;
  }
  if (cd_len && (rc = read_fn(ud, cd_at, cd, (size_t)cd_len)) != 0) {
    snprintf(err, errlen, "cannot read the central directory");
    goto out;
  }
  r->items = calloc(count ? (size_t)count : 1, sizeof *r->items);
  if (!r->items) {
    rc = VG_ENOMEM;
    goto out;
  }
  size_t at = 0;
  for (uint64_t i = 0; i < count; i++) {
    if (cd_len - at < CENTRAL_LEN || get32(cd + at) != SIG_CENTRAL)
      FAIL("central directory entry %llu is damaged", (unsigned long long)i + 1);
    const uint8_t *h = cd + at;
    size_t nlen = get16(h + 28), xlen = get16(h + 30), clen = get16(h + 32);
    if (cd_len - at - CENTRAL_LEN < nlen + xlen + clen)
      FAIL("central directory entry %llu runs past the directory", (unsigned long long)i + 1);
    if (nlen == 0 || nlen > VG_ZIP_MAX_NAME || memchr(h + CENTRAL_LEN, 0, nlen))
      FAIL("central directory entry %llu has a bad name", (unsigned long long)i + 1);
    vg_zip_item *it = &r->items[r->n];
    it->name = malloc(nlen + 1);
    if (!it->name) {
      rc = VG_ENOMEM;
      goto out;
    }
    memcpy(it->name, h + CENTRAL_LEN, nlen);
    it->name[nlen] = 0;
    r->n++;
    it->flags = get16(h + 8);
    it->method = get16(h + 10);
    it->crc = get32(h + 16);
    it->comp_size = get32(h + 20);
    it->size = get32(h + 24);
    it->header_offset = get32(h + 42);
    bool ws = it->size == MAX32, wc = it->comp_size == MAX32, wo = it->header_offset == MAX32;
    if ((ws || wc || wo) && !read_extra64(h + CENTRAL_LEN + nlen, xlen, it, ws, wc, wo))
      FAIL("%s: its ZIP64 sizes are missing", it->name);
    if (get16(h + 34) != 0) FAIL("%s: multi-disk archives are not supported", it->name);
    at += CENTRAL_LEN + nlen + xlen + clen;
    /* The local header and the data must lie before the directory. */
    uint8_t lh[LOCAL_LEN];
    if (it->header_offset > cd_at || cd_at - it->header_offset < LOCAL_LEN)
      FAIL("%s: its local header lies outside the archive", it->name);
    if ((rc = read_fn(ud, it->header_offset, lh, sizeof lh)) != 0) {
      snprintf(err, errlen, "%s: cannot read its local header", it->name);
      goto out;
    }
    if (get32(lh) != SIG_LOCAL) FAIL("%s: its local header has a wrong signature", it->name);
    uint64_t data_at = it->header_offset + LOCAL_LEN + get16(lh + 26) + get16(lh + 28);
    if (data_at > cd_at || cd_at - data_at < it->comp_size)
      FAIL("%s: its data runs past the start of the central directory", it->name);
    it->data_offset = data_at;
  }
  if (at != cd_len)
    FAIL("the central directory holds more than its %llu entries", (unsigned long long)count);
out:
  free(tail);
  free(cd);
  if (rc) {
    vg_zip_reader_free(r);
    return rc;
  }
  *out = r;
  return 0;
}

void vg_zip_reader_free(vg_zip_reader *r) {
  if (!r) return;
  for (size_t i = 0; i < r->n; i++) free(r->items[i].name);
  free(r->items);
  free(r);
}

size_t vg_zip_reader_count(const vg_zip_reader *r) { return r->n; }

const vg_zip_item *vg_zip_reader_item(const vg_zip_reader *r, size_t i) {
  return i < r->n ? &r->items[i] : NULL;
}

const vg_zip_item *vg_zip_reader_find(const vg_zip_reader *r, const char *name) {
  for (size_t i = 0; i < r->n; i++)
    if (strcmp(r->items[i].name, name) == 0) return &r->items[i];
  return NULL;
}
