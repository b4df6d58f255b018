/* test_zip.c - the planned ZIP writer and the central-directory reader.
 *
 * Archives are built in memory the way the export streams them (header,
 * data, descriptor per entry, then the directory), then read back by our
 * reader and by Info-ZIP's unzip, which is the peer a recipient uses. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "media/zip.h"

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

static int fd_pread(void *ud, uint64_t off, void *dst, size_t len) {
  return pread(*(int *)ud, dst, len, (off_t)off) == (ssize_t)len ? 0 : VG_EIO;
}

typedef struct file {
  const char *name;
  const char *data;
} file;

/* Builds an archive of files as the export does; returns its bytes. */
static vg_str build(const file *files, size_t n, bool force64) {
  vg_zip_writer *w;
  cr_assert_eq(vg_zip_writer_new(1700000000000LL, force64, &w), 0);
  for (size_t i = 0; i < n; i++)
    cr_assert_eq(vg_zip_writer_add(w, files[i].name, strlen(files[i].data)), 0);
  uint64_t total = vg_zip_writer_total(w);
  vg_str out = VG_STR_INIT;
  for (size_t i = 0; i < n; i++) {
    cr_assert_eq(vg_zip_writer_local_header(w, i, &out), 0);
    cr_assert_eq(out.len, vg_zip_writer_data_offset(w, i));
    size_t len = strlen(files[i].data);
    vg_str_append(&out, files[i].data, len);
    cr_assert_eq(vg_zip_writer_descriptor(w, i, vg_zip_crc32(0, files[i].data, len), &out), 0);
  }
  cr_assert_eq(vg_zip_writer_central(w, &out), 0);
  cr_assert_eq(out.len, total, "planned %llu bytes, wrote %zu", (unsigned long long)total, out.len);
  vg_zip_writer_free(w);
  return out;
}

static const file files[] = {
    {"cam-1.mp4", "first camera bytes"},
    {"markers.json", "[{\"time\":1.5}]"},
    {"manifest.json", "{}"},
    {"empty.txt", ""},
};
#define NFILES (sizeof files / sizeof files[0])

static void check_read_back(const vg_str *zip) {
  mem m = {(const uint8_t *)zip->data, zip->len};
  vg_zip_reader *r;
  char err[256];
  cr_assert_eq(vg_zip_reader_open(mem_read, &m, m.n, &r, err, sizeof err), 0, "%s", err);
  cr_assert_eq(vg_zip_reader_count(r), NFILES);
  for (size_t i = 0; i < NFILES; i++) {
    const vg_zip_item *it = vg_zip_reader_find(r, files[i].name);
    cr_assert_not_null(it, "%s", files[i].name);
    size_t len = strlen(files[i].data);
    cr_assert_eq(it->size, len);
    cr_assert_eq(it->comp_size, len);
    cr_assert_eq(it->method, 0);
    cr_assert_eq(it->crc, vg_zip_crc32(0, files[i].data, len));
    cr_assert(it->data_offset + len <= m.n);
    cr_assert_eq(memcmp(m.d + it->data_offset, files[i].data, len), 0);
  }
  cr_assert_null(vg_zip_reader_find(r, "nope"));
  vg_zip_reader_free(r);
}

/* Runs `unzip -t` (test every entry's CRC) on the archive. */
static int unzip_test(const vg_str *zip, char *listing, size_t cap) {
  char path[] = "/tmp/vigil-test-zip-XXXXXX";
  int fd = mkstemp(path);
  cr_assert(fd >= 0);
  cr_assert_eq(write(fd, zip->data, zip->len), (ssize_t)zip->len);
  close(fd);
  char cmd[256];
  snprintf(cmd, sizeof cmd, "unzip -t %s 2>&1; unzip -v %s 2>&1", path, path);
  FILE *p = popen(cmd, "r");
  size_t got = fread(listing, 1, cap - 1, p);
  listing[got] = 0;
  int status = pclose(p);
  unlink(path);
  return status;
}

Test(zip, crc32_known_value) {
  cr_assert_eq(vg_zip_crc32(0, "123456789", 9), 0xcbf43926u);
  uint32_t c = vg_zip_crc32(0, "1234", 4);
  cr_assert_eq(vg_zip_crc32(c, "56789", 5), 0xcbf43926u);
}

Test(zip, round_trip_and_unzip_agrees) {
  vg_str zip = build(files, NFILES, false);
  check_read_back(&zip);
  char out[8192];
  int status = unzip_test(&zip, out, sizeof out);
  cr_assert_eq(status, 0, "unzip said:\n%s", out);
  cr_assert(strstr(out, "No errors detected"), "%s", out);
  cr_assert(strstr(out, "Stored"), "entries are stored, not deflated:\n%s", out);
  cr_assert_null(strstr(out, "Defl"), "%s", out);
  vg_str_free(&zip);
}

Test(zip, zip64_headers_round_trip) {
  vg_str zip = build(files, NFILES, true);
  const uint8_t *d = (const uint8_t *)zip.data;
  /* The ZIP64 end record and its locator sit before the end record. */
  size_t end = zip.len - 22;
  cr_assert_eq(memcmp(d + end, "PK\x05\x06", 4), 0);
  cr_assert_eq(memcmp(d + end - 20, "PK\x06\x07", 4), 0);
  cr_assert_eq(memcmp(d + end - 20 - 56, "PK\x06\x06", 4), 0);
  /* The 32-bit fields of the end record say "look in ZIP64". */
  cr_assert_eq(memcmp(d + end + 12, "\xff\xff\xff\xff\xff\xff\xff\xff", 8), 0);
  /* Each local header carries a ZIP64 extra field (tag 1). */
  cr_assert_eq(d[26 + 2], 20);
  size_t name_len = strlen(files[0].name);
  cr_assert_eq(d[30 + name_len], 1);
  check_read_back(&zip);
  mem m = {d, zip.len};
  vg_zip_reader *r;
  char err[256];
  cr_assert_eq(vg_zip_reader_open(mem_read, &m, m.n, &r, err, sizeof err), 0, "%s", err);
  cr_assert(vg_zip_reader_item(r, 0)->zip64);
  vg_zip_reader_free(r);
  char out[8192];
  cr_assert_eq(unzip_test(&zip, out, sizeof out), 0, "unzip said:\n%s", out);
  vg_str_free(&zip);
}

Test(zip, large_sizes_and_offsets_switch_to_zip64) {
  vg_zip_writer *w;
  cr_assert_eq(vg_zip_writer_new(0, false, &w), 0);
  cr_assert_eq(vg_zip_writer_add(w, "small.bin", 10), 0);
  cr_assert_eq(vg_zip_writer_add(w, "huge.mp4", 5ULL << 30), 0);
  cr_assert_eq(vg_zip_writer_add(w, "after.json", 7), 0);
  /* Plan: small (30+9+10+16), huge with ZIP64 (30+8+20 + 5 GiB + 24), after
   * with ZIP64 (its offset is past 4 GiB). */
  uint64_t small = 30 + 9 + 10 + 16;
  uint64_t huge = 30 + 8 + 20 + (5ULL << 30) + 24;
  cr_assert_eq(vg_zip_writer_data_offset(w, 1), small + 30 + 8 + 20);
  cr_assert_eq(vg_zip_writer_data_offset(w, 2), small + huge + 30 + 10 + 20);
  uint64_t entries = small + huge + (30 + 10 + 20 + 7 + 24);
  uint64_t cd = (46 + 9) + (46 + 8 + 28) + (46 + 10 + 28);
  cr_assert_eq(vg_zip_writer_total(w), entries + cd + 56 + 20 + 22);
  vg_str s = VG_STR_INIT;
  cr_assert_eq(vg_zip_writer_central(w, &s), VG_ESTATE, "descriptors first");
  vg_str_free(&s);
  vg_zip_writer_free(w);
}

Test(zip, refuses_unsafe_names) {
  vg_zip_writer *w;
  cr_assert_eq(vg_zip_writer_new(0, false, &w), 0);
  cr_assert_eq(vg_zip_writer_add(w, "", 1), VG_EINVAL);
  cr_assert_eq(vg_zip_writer_add(w, "/etc/passwd", 1), VG_EINVAL);
  cr_assert_eq(vg_zip_writer_add(w, "a/../../b", 1), VG_EINVAL);
  cr_assert_eq(vg_zip_writer_add(w, "a\\b", 1), VG_EINVAL);
  cr_assert_eq(vg_zip_writer_add(w, "dir/ok.txt", 1), 0);
  vg_zip_writer_free(w);
}

static int open_bytes(const uint8_t *d, size_t n, char *err, size_t errlen) {
  mem m = {d, n};
  vg_zip_reader *r = NULL;
  int rc = vg_zip_reader_open(mem_read, &m, n, &r, err, errlen);
  vg_zip_reader_free(r);
  return rc;
}

Test(zip, corrupted_central_directory_is_refused) {
  vg_str zip = build(files, NFILES, false);
  uint8_t *d = (uint8_t *)zip.data;
  char err[256];
  size_t end = zip.len - 22;
  uint32_t cd_at = d[end + 16] | d[end + 17] << 8 | d[end + 18] << 16 | (uint32_t)d[end + 19] << 24;

  /* A central header's signature. */
  d[cd_at] ^= 0xff;
  cr_assert_eq(open_bytes(d, zip.len, err, sizeof err), VG_EINVAL);
  cr_assert(strstr(err, "central directory entry 1"), "%s", err);
  d[cd_at] ^= 0xff;

  /* An entry's size that runs past the directory. */
  d[cd_at + 24] = 0xfe, d[cd_at + 20] = 0xfe, d[cd_at + 21] = 0xff;
  cr_assert_eq(open_bytes(d, zip.len, err, sizeof err), VG_EINVAL);
  cr_assert(strstr(err, "cam-1.mp4"), "%s", err);
  vg_str_free(&zip);

  /* The directory's offset moved. */
  zip = build(files, NFILES, false);
  d = (uint8_t *)zip.data;
  d[end + 16] ^= 1;
  cr_assert_eq(open_bytes(d, zip.len, err, sizeof err), VG_EINVAL);
  cr_assert(strstr(err, "does not match"), "%s", err);
  d[end + 16] ^= 1;

  /* Cut anywhere: never accepted, never out of bounds. */
  for (size_t cut = 0; cut < zip.len; cut += 7)
    cr_assert_neq(open_bytes(d, cut, err, sizeof err), 0, "cut at %zu", cut);
  cr_assert_eq(open_bytes(d, zip.len, err, sizeof err), 0, "%s", err);

  /* Not a ZIP at all. */
  cr_assert_eq(open_bytes((const uint8_t *)"hello, this is not a zip archive", 32, err, sizeof err),
               VG_EINVAL);
  cr_assert(strstr(err, "not a ZIP"), "%s", err);
  vg_str_free(&zip);
}

/* A real archive past 4 GiB, as a sparse file: a 4.5 GiB entry of zeros
 * (written as a hole) between two small ones, so the entry's size and the
 * next entry's offset both need ZIP64. */
Test(zip, past_4_gib_for_real, .timeout = 240) {
  const uint64_t big = (9ULL << 29); /* 4.5 GiB */
  char path[] = "/tmp/vigil-test-zip64-XXXXXX";
  int fd = mkstemp(path);
  cr_assert(fd >= 0);
  vg_zip_writer *w;
  cr_assert_eq(vg_zip_writer_new(1700000000000LL, false, &w), 0);
  cr_assert_eq(vg_zip_writer_add(w, "first.txt", 5), 0);
  cr_assert_eq(vg_zip_writer_add(w, "big.bin", big), 0);
  cr_assert_eq(vg_zip_writer_add(w, "last.txt", 4), 0);
  /* The CRC of 4.5 GiB of zeros, a MiB at a time. */
  static uint8_t zeros[1 << 20];
  uint32_t zcrc = 0;
  for (uint64_t left = big; left;) {
    size_t n = left < sizeof zeros ? (size_t)left : sizeof zeros;
    zcrc = vg_zip_crc32(zcrc, zeros, n);
    left -= n;
  }
  const char *data[3] = {"hello", NULL, "bye\n"};
  uint64_t at = 0;
  for (size_t i = 0; i < 3; i++) {
    vg_str s = VG_STR_INIT;
    cr_assert_eq(vg_zip_writer_local_header(w, i, &s), 0);
    cr_assert_eq(pwrite(fd, s.data, s.len, (off_t)at), (ssize_t)s.len);
    at += s.len;
    cr_assert_eq(at, vg_zip_writer_data_offset(w, i));
    if (data[i]) {
      size_t n = strlen(data[i]);
      cr_assert_eq(pwrite(fd, data[i], n, (off_t)at), (ssize_t)n);
      at += n;
    } else {
      at += big; /* a hole reads as zeros */
    }
    vg_str_reset(&s);
    uint32_t crc = data[i] ? vg_zip_crc32(0, data[i], strlen(data[i])) : zcrc;
    cr_assert_eq(vg_zip_writer_descriptor(w, i, crc, &s), 0);
    cr_assert_eq(pwrite(fd, s.data, s.len, (off_t)at), (ssize_t)s.len);
    at += s.len;
    vg_str_free(&s);
  }
  vg_str s = VG_STR_INIT;
  cr_assert_eq(vg_zip_writer_central(w, &s), 0);
  cr_assert_eq(pwrite(fd, s.data, s.len, (off_t)at), (ssize_t)s.len);
  at += s.len;
  vg_str_free(&s);
  cr_assert_eq(at, vg_zip_writer_total(w));
  cr_assert_gt(at, 1ULL << 32);
  vg_zip_writer_free(w);

  /* Our reader, through pread. */
  vg_zip_reader *r;
  char err[256];
  cr_assert_eq(vg_zip_reader_open(fd_pread, &fd, at, &r, err, sizeof err), 0, "%s", err);
  const vg_zip_item *b = vg_zip_reader_find(r, "big.bin"), *l = vg_zip_reader_find(r, "last.txt");
  cr_assert(b && l);
  cr_assert_eq(b->size, big);
  cr_assert(b->zip64 && l->zip64);
  cr_assert_gt(l->data_offset, 1ULL << 32);
  char got[5] = {0};
  cr_assert_eq(pread(fd, got, 4, (off_t)l->data_offset), 4);
  cr_assert_str_eq(got, "bye\n");
  vg_zip_reader_free(r);
  close(fd);

  /* Info-ZIP agrees: the listing shows the 64-bit size, and the entry
   * past 4 GiB reads back with its CRC checked (reading the 4.5 GiB one
   * would only test the disk). */
  char cmd[320];
  snprintf(cmd, sizeof cmd,
           "unzip -l %s | grep -q '4831838208 .*big.bin' && unzip -p %s last.txt | grep -qx bye "
           "&& unzip -tq %s last.txt first.txt >/dev/null",
           path, path, path);
  int status = system(cmd);
  unlink(path);
  cr_assert_eq(status, 0, "unzip on the 4.5 GiB archive");
}
