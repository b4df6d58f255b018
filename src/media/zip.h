/* zip.h - ZIP archives of stored (not deflated) files: a streaming writer
 * whose whole layout is planned before the first byte, and a reader of the
 * central directory over a caller's read function.
 *
 * Writer. Every entry's name and size are added first; the writer then
 * knows every offset and the archive's exact size (so an HTTP answer can
 * carry a Content-Length), and hands out the bytes that go around the
 * entries' data one piece at a time: a local header before each entry,
 * a data descriptor after it (bit 3: the CRC-32 is known only once the
 * data went out), and the central directory at the end. ZIP64 fields are
 * used for an entry whose size or offset passes 4 GiB and for the end
 * record when the directory does (or everywhere, when forced, for tests).
 * The writer does no I/O; the caller sends the data between the pieces.
 *
 * Reader. Finds the end record (and the ZIP64 one), reads the central
 * directory and every local header through read_fn, and checks that every
 * entry's data lies inside the archive before the directory. Bounded by
 * VG_ZIP_MAX_ENTRIES and VG_ZIP_MAX_DIRECTORY; anything malformed is
 * VG_EINVAL with the reason in err. No I/O but through read_fn, so the
 * unit tests and the fuzz target run it over memory. */
#ifndef VG_ZIP_H
#define VG_ZIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define VG_ZIP_MAX_ENTRIES 65536
#define VG_ZIP_MAX_DIRECTORY (16u << 20) /* central directory bytes */
#define VG_ZIP_MAX_NAME 1024

/* zlib-style CRC-32: start with crc 0, feed pieces in order. */
uint32_t vg_zip_crc32(uint32_t crc, const void *data, size_t len);

/* ---- writer ---- */

typedef struct vg_zip_writer vg_zip_writer;

/* mtime_ms: the entries' modification time (UTC ms); force_zip64 writes
 * ZIP64 fields even where 32 bits would do. */
int vg_zip_writer_new(int64_t mtime_ms, bool force_zip64, vg_zip_writer **out);
void vg_zip_writer_free(vg_zip_writer *w);
/* Plans one more entry of exactly size bytes. VG_EINVAL for an empty,
 * too long or unsafe name ("..", leading "/"), VG_ETOOBIG past
 * VG_ZIP_MAX_ENTRIES. */
int vg_zip_writer_add(vg_zip_writer *w, const char *name, uint64_t size);
size_t vg_zip_writer_count(const vg_zip_writer *w);
/* The archive's size in bytes, final once every entry is added. */
uint64_t vg_zip_writer_total(const vg_zip_writer *w);
/* Where entry i's data begins in the archive. */
uint64_t vg_zip_writer_data_offset(const vg_zip_writer *w, size_t i);
/* Appends the local header of entry i to out. */
int vg_zip_writer_local_header(vg_zip_writer *w, size_t i, vg_str *out);
/* Appends the data descriptor of entry i (its data's CRC-32) to out. */
int vg_zip_writer_descriptor(vg_zip_writer *w, size_t i, uint32_t crc, vg_str *out);
/* Appends the central directory and end records to out; every entry's
 * descriptor must have been made (VG_ESTATE otherwise). */
int vg_zip_writer_central(vg_zip_writer *w, vg_str *out);

/* ---- reader ---- */

/* Reads exactly len bytes at off into dst: 0, or a negative VG_E* code. */
typedef int (*vg_zip_read_fn)(void *ud, uint64_t off, void *dst, size_t len);

typedef struct vg_zip_item {
  char *name;             /* NUL-terminated, no NUL inside */
  uint64_t size;          /* uncompressed */
  uint64_t comp_size;     /* equal to size for stored entries */
  uint64_t header_offset; /* of the local header */
  uint64_t data_offset;   /* of the entry's first data byte */
  uint32_t crc;
  uint16_t method; /* 0 stored, 8 deflated, ... */
  uint16_t flags;
  bool zip64;
} vg_zip_item;

typedef struct vg_zip_reader vg_zip_reader;

int vg_zip_reader_open(vg_zip_read_fn read_fn, void *ud, uint64_t file_size, vg_zip_reader **out,
                       char *err, size_t errlen);
void vg_zip_reader_free(vg_zip_reader *r);
size_t vg_zip_reader_count(const vg_zip_reader *r);
const vg_zip_item *vg_zip_reader_item(const vg_zip_reader *r, size_t i);
/* The first entry named name, or NULL. */
const vg_zip_item *vg_zip_reader_find(const vg_zip_reader *r, const char *name);

#endif
