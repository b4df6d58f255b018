/* fuzz_zip.c - libFuzzer target for the ZIP reader (`vigil verify
 * PACKAGE.zip` reads packages handed around by people).
 *
 * The input is an archive. Whatever the reader accepts must hold together:
 * every entry's name is a C string of the length it claims, and its local
 * header and data lie inside the input, before the central directory. The
 * bytes of every entry are then read, and the whole of `vigil verify`
 * (the manifest's JSON, the base64 key and signature, inflating deflated
 * entries) runs over the input as a file: it must answer 0 or 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "app/review.h"

#include "base/err.h"
#include "media/zip.h"

#define CHECK(cond)                                                                \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      abort();                                                                     \
    }                                                                              \
  } while (0)

typedef struct mem {
  const uint8_t *d;
  size_t n;
} mem;

static int mem_read(void *ud, uint64_t off, void *dst, size_t len) {
  mem *m = ud;
  if (off > m->n || m->n - off < len) return VG_EIO;
  memcpy(dst, m->d + off, len);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static FILE *sink;
  if (!sink) sink = fopen("/dev/null", "w");
  int fd = memfd_create("fuzz-zip", 0);
  if (fd >= 0) {
    if (write(fd, data, size) == (ssize_t)size) {
      char path[64];
      snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
      int v = vg_export_verify_file(path, NULL, sink);
      CHECK(v == 0 || v == 1);
    }
    close(fd);
  }

  mem m = {data, size};
  vg_zip_reader *r = NULL;
  char err[256];
  int rc = vg_zip_reader_open(mem_read, &m, size, &r, err, sizeof err);
  if (rc) {
    CHECK(rc == VG_EINVAL || rc == VG_EIO || rc == VG_ENOMEM);
    CHECK(r == NULL);
    return 0;
  }
  CHECK(vg_zip_reader_count(r) <= VG_ZIP_MAX_ENTRIES);
  for (size_t i = 0; i < vg_zip_reader_count(r); i++) {
    const vg_zip_item *it = vg_zip_reader_item(r, i);
    size_t nlen = strlen(it->name);
    CHECK(nlen > 0 && nlen <= VG_ZIP_MAX_NAME);
    CHECK(it->header_offset + 30 <= it->data_offset);
    CHECK(it->data_offset <= size && size - it->data_offset >= it->comp_size);
    CHECK(vg_zip_reader_find(r, it->name) != NULL);
    uint32_t crc = vg_zip_crc32(0, data + it->data_offset, (size_t)it->comp_size);
    (void)crc;
  }
  CHECK(vg_zip_reader_item(r, vg_zip_reader_count(r)) == NULL);
  vg_zip_reader_free(r);
  return 0;
}
