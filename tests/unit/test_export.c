/* test_export.c - the export package's signing key and `vigil verify
 * PACKAGE.zip` (vg_export_verify_file).
 *
 * Packages are made here the way export.c makes them (the ZIP writer,
 * manifest.json listing every file's size and SHA-256, manifest.sig the
 * base64 Ed25519 signature of the manifest's bytes, with the key that
 * vg_export_key_load made in a temporary data folder), then changed one
 * way at a time; verify must name what changed and return 1. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/review.h"
#include "base/err.h"
#include "media/zip.h"

static char dir[64];

static void setup(void) {
  cr_assert(sodium_init() >= 0);
  snprintf(dir, sizeof dir, "/tmp/vigil-test-export-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  cr_assert_eq(system(cmd), 0);
}

TestSuite(export, .init = setup, .fini = teardown);

typedef struct entry {
  const char *name;
  const char *data;
} entry;

typedef struct opts {
  bool flip_data;       /* one byte of the first file after signing */
  bool change_manifest; /* the manifest after signing */
  bool drop_listed;     /* leave the second file out of the ZIP */
  bool add_unlisted;    /* a file the manifest does not name */
  bool sign_other_key;  /* a key other than the one the manifest names */
} opts;

/* Writes a package to DIR/name and returns its path (static buffer). */
static const char *make_package(const char *name, const opts *o) {
  static char path[128];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  uint8_t pk[32], sk[64];
  char err[256];
  cr_assert_eq(vg_export_key_load(dir, pk, sk, err, sizeof err), 0, "%s", err);
  entry files[] = {{"cam-1.mp4", "not really video, but bytes all the same"},
                   {"markers.json", "[]\n"},
                   {"notes.txt", "unlisted"}};
  json_t *list = json_array();
  for (int i = 0; i < 2; i++) {
    uint8_t d[32];
    char hex[65];
    crypto_hash_sha256(d, (const uint8_t *)files[i].data, strlen(files[i].data));
    sodium_bin2hex(hex, sizeof hex, d, sizeof d);
    json_array_append_new(list, json_pack("{s:s,s:I,s:s}", "name", files[i].name, "size",
                                          (json_int_t)strlen(files[i].data), "sha256", hex));
  }
  char pk64[64];
  sodium_bin2base64(pk64, sizeof pk64, pk, 32, sodium_base64_VARIANT_ORIGINAL);
  json_t *m = json_pack("{s:s,s:{s:s,s:s},s:o}", "format", "vigil-export/1", "server", "public_key",
                        pk64, "key_id", "0011223344556677", "files", list);
  char *mtext = json_dumps(m, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  json_decref(m);
  size_t mlen = strlen(mtext);
  uint8_t sig[64];
  if (o->sign_other_key) {
    uint8_t opk[32], osk[64];
    crypto_sign_keypair(opk, osk);
    crypto_sign_detached(sig, NULL, (const uint8_t *)mtext, mlen, osk);
  } else {
    crypto_sign_detached(sig, NULL, (const uint8_t *)mtext, mlen, sk);
  }
  char sig64[100];
  sodium_bin2base64(sig64, sizeof sig64, sig, sizeof sig, sodium_base64_VARIANT_ORIGINAL);
  strcat(sig64, "\n");
  if (o->change_manifest) mtext[strstr(mtext, "vigil-export") - mtext] = 'V';

  char cam[64];
  snprintf(cam, sizeof cam, "%s", files[0].data);
  if (o->flip_data) cam[5] ^= 1;
  entry out[5];
  size_t n = 0;
  out[n++] = (entry){"cam-1.mp4", cam};
  if (!o->drop_listed) out[n++] = files[1];
  if (o->add_unlisted) out[n++] = files[2];
  out[n++] = (entry){"manifest.json", mtext};
  out[n++] = (entry){"manifest.sig", sig64};

  vg_zip_writer *w;
  cr_assert_eq(vg_zip_writer_new(0, false, &w), 0);
  for (size_t i = 0; i < n; i++)
    cr_assert_eq(vg_zip_writer_add(w, out[i].name, strlen(out[i].data)), 0);
  vg_str z = VG_STR_INIT;
  for (size_t i = 0; i < n; i++) {
    size_t len = strlen(out[i].data);
    vg_zip_writer_local_header(w, i, &z);
    vg_str_append(&z, out[i].data, len);
    vg_zip_writer_descriptor(w, i, vg_zip_crc32(0, out[i].data, len), &z);
  }
  cr_assert_eq(vg_zip_writer_central(w, &z), 0);
  vg_zip_writer_free(w);
  FILE *f = fopen(path, "wb");
  cr_assert_not_null(f);
  cr_assert_eq(fwrite(z.data, 1, z.len, f), z.len);
  fclose(f);
  vg_str_free(&z);
  free(mtext);
  return path;
}

/* Runs verify; returns its exit status and its output in *out (malloc'd). */
static int verify(const char *path, const char *pin, char **out) {
  size_t len = 0;
  FILE *f = open_memstream(out, &len);
  int rc = vg_export_verify_file(path, pin, f);
  fclose(f);
  return rc;
}

Test(export, key_is_made_once_private_and_reloaded) {
  uint8_t pk1[32], sk1[64], pk2[32], sk2[64];
  char err[256];
  cr_assert_eq(vg_export_key_load(dir, pk1, sk1, err, sizeof err), 0, "%s", err);
  char path[128];
  snprintf(path, sizeof path, "%s/%s", dir, VG_SIGN_SECRET_FILE);
  struct stat st;
  cr_assert_eq(stat(path, &st), 0);
  cr_assert_eq(st.st_mode & 0777, 0600);
  cr_assert_eq(st.st_size, 64);
  cr_assert_eq(vg_export_key_load(dir, pk2, sk2, err, sizeof err), 0, "%s", err);
  cr_assert_eq(memcmp(pk1, pk2, 32), 0, "the same key on the second load");
  /* A signature made with it checks with its public key. */
  uint8_t sig[64];
  crypto_sign_detached(sig, NULL, (const uint8_t *)"abc", 3, sk2);
  cr_assert_eq(crypto_sign_verify_detached(sig, (const uint8_t *)"abc", 3, pk1), 0);
  /* Open to others: refused. */
  cr_assert_eq(chmod(path, 0644), 0);
  cr_assert_eq(vg_export_key_load(dir, pk2, sk2, err, sizeof err), VG_EPERM);
  cr_assert(strstr(err, "0600"), "%s", err);
}

Test(export, a_good_package_verifies) {
  opts o = {0};
  char *out = NULL;
  cr_assert_eq(verify(make_package("good.zip", &o), NULL, &out), 0, "%s", out);
  cr_assert(strstr(out, "signature and 2 file(s) verified"), "%s", out);
  cr_assert(strstr(out, "ok       cam-1.mp4"), "%s", out);
  free(out);
}

Test(export, a_changed_byte_is_named) {
  opts o = {.flip_data = true};
  char *out = NULL;
  cr_assert_eq(verify(make_package("flip.zip", &o), NULL, &out), 1, "%s", out);
  cr_assert(strstr(out, "cam-1.mp4: SHA-256 differs from the manifest"), "%s", out);
  cr_assert(strstr(out, "ok       markers.json"), "the other file is fine: %s", out);
  cr_assert_null(strstr(out, "signature does not match"), "%s", out);
  free(out);
}

Test(export, a_changed_manifest_fails_the_signature) {
  opts o = {.change_manifest = true};
  char *out = NULL;
  cr_assert_eq(verify(make_package("manifest.zip", &o), NULL, &out), 1, "%s", out);
  cr_assert(strstr(out, "manifest.json: the signature does not match"), "%s", out);
  free(out);
}

Test(export, another_key_fails_the_signature_and_the_pin) {
  opts o = {.sign_other_key = true};
  char *out = NULL;
  cr_assert_eq(verify(make_package("other.zip", &o), NULL, &out), 1, "%s", out);
  cr_assert(strstr(out, "the signature does not match"), "%s", out);
  free(out);
  opts good = {0};
  cr_assert_eq(verify(make_package("pinned.zip", &good),
                      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", &out),
               1);
  cr_assert(strstr(out, "not by the expected"), "%s", out);
  free(out);
}

Test(export, missing_and_unlisted_files_are_named) {
  opts o = {.drop_listed = true, .add_unlisted = true};
  char *out = NULL;
  cr_assert_eq(verify(make_package("files.zip", &o), NULL, &out), 1, "%s", out);
  cr_assert(strstr(out, "markers.json: listed in the manifest but missing from the package"), "%s",
            out);
  cr_assert(strstr(out, "notes.txt: in the package but not in the manifest"), "%s", out);
  free(out);
}

Test(export, not_a_zip) {
  char path[128];
  snprintf(path, sizeof path, "%s/junk.zip", dir);
  FILE *f = fopen(path, "w");
  fputs("definitely not a zip archive", f);
  fclose(f);
  char *out = NULL;
  cr_assert_eq(verify(path, NULL, &out), 1);
  cr_assert(strstr(out, "not a readable ZIP archive"), "%s", out);
  free(out);
  snprintf(path, sizeof path, "%s/absent.zip", dir);
  cr_assert_eq(verify(path, NULL, &out), 1);
  cr_assert(strstr(out, "cannot open"), "%s", out);
  free(out);
}

/* A recipient re-zips the package with compression (Info-ZIP's default,
 * deflate): the manifest still vouches for every file. */
Test(export, a_rezipped_deflated_package_verifies) {
  opts o = {0};
  const char *good = make_package("orig.zip", &o);
  char cmd[512], path[128];
  snprintf(path, sizeof path, "%s/deflated.zip", dir);
  snprintf(cmd, sizeof cmd,
           "cd %s && mkdir x && cd x && unzip -q ../orig.zip && zip -q -9 ../deflated.zip "
           "cam-1.mp4 markers.json manifest.json manifest.sig",
           dir);
  (void)good;
  cr_assert_eq(system(cmd), 0);
  char *out = NULL;
  cr_assert_eq(verify(path, NULL, &out), 0, "%s", out);
  cr_assert(strstr(out, "signature and 2 file(s) verified"), "%s", out);
  free(out);
  /* Damage inside the compressed manifest: found, never trusted. */
  FILE *f = fopen(path, "r+b");
  cr_assert_not_null(f);
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  uint8_t *b = malloc((size_t)size);
  fseek(f, 0, SEEK_SET);
  cr_assert_eq(fread(b, 1, (size_t)size, f), (size_t)size);
  /* the third local header is manifest.json: damage its deflate data */
  long at = -1;
  for (long i = 0, seen = 0; i + 4 < size; i++)
    if (memcmp(b + i, "PK\x03\x04", 4) == 0 && ++seen == 3) at = i;
  cr_assert_geq(at, 0);
  long data = at + 30 + (b[at + 26] | b[at + 27] << 8) + (b[at + 28] | b[at + 29] << 8);
  b[data + 10] ^= 0x55;
  fseek(f, 0, SEEK_SET);
  fwrite(b, 1, (size_t)size, f);
  fclose(f);
  free(b);
  cr_assert_eq(verify(path, NULL, &out), 1, "%s", out);
  cr_assert(strstr(out, "manifest.json"), "%s", out);
  free(out);
}
