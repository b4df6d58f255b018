/* export.c - export packages: GET or POST /api/v1/recordings/{id}/export
 * and /api/v1/clips/{id}/export answer a ZIP (stored, streamed, no
 * temporary file) holding one MP4 per camera (media/mp4build.h), the
 * markers of the span as markers.json and markers.csv, manifest.json
 * (every file's size and SHA-256, what was exported, by whom, when, the
 * server's Ed25519 public key) and manifest.sig, the detached Ed25519
 * signature of manifest.json's exact bytes in base64. `vigil verify
 * PACKAGE.zip` checks them offline (vg_export_verify_file). docs/export.md
 * is the format.
 *
 * Sizes are known before the first byte: every MP4's size comes from its
 * builder, the markers are made in memory, and the manifest's length does
 * not depend on the hashes it will carry (64 hex digits each), so the
 * answer has a Content-Length and the page can show progress. The hashes
 * and CRCs are computed while the bytes go out; the manifest, which comes
 * after the files, is written once they are known.
 *
 * Phases: on the loop, the request is checked and planned (store look-ups:
 * segments, spans, markers); in the thread pool the MP4s are built; on the
 * loop the head goes out; then each chunk (up to CHUNK bytes) is made in
 * the thread pool and written on the loop, the next one only while the
 * connection's queue is short. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <openssl/evp.h>
#include <zlib.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "app/playback.h"
#include "app/review.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "media/mp4build.h"
#include "media/zip.h"

#define CHUNK (256 * 1024)
/* Below this many queued bytes the next chunk is made at once, so reading
 * the next chunk overlaps sending this one; at most about this much plus a
 * chunk is queued per connection. */
#define QUEUE_LOW (1024 * 1024)
#define MAX_CAMERAS 64
#define FILES_MAX (MAX_CAMERAS + 4)
#define MANIFEST_MAX (16u << 20)
#define SIG_B64_LEN 88 /* base64 of 64 bytes, padded */
#define FORMAT "vigil-export/1"

/* ---- the signing key ---- */

static int write_all(int fd, const void *p, size_t len) {
  const uint8_t *b = p;
  while (len) {
    ssize_t n = write(fd, b, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    b += n;
    len -= (size_t)n;
  }
  return 0;
}

int vg_export_key_load(const char *data_dir, uint8_t pk[32], uint8_t sk[64], char *err,
                       size_t errlen) {
  char path[VG_PATH_MAX + 32];
  snprintf(path, sizeof path, "%s/%s", data_dir, VG_SIGN_SECRET_FILE);
  for (int attempt = 0; attempt < 2; attempt++) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0) {
      struct stat st;
      ssize_t got = -1;
      if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 64 &&
          (st.st_mode & 077) == 0 && st.st_uid == geteuid())
        got = read(fd, sk, 64);
      close(fd);
      if (got != 64) {
        snprintf(err, errlen,
                 "%s must be a 64-byte file of this user, mode 0600 (an Ed25519 secret key)", path);
        return VG_EPERM;
      }
      crypto_sign_ed25519_sk_to_pk(pk, sk);
      return 0;
    }
    if (errno != ENOENT) {
      snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
      return VG_EIO;
    }
    /* Made whole under a private name, then linked: a crash or a race
     * never leaves half a key. */
    char tmp[VG_PATH_MAX + 64];
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
      snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
      return VG_EIO;
    }
    uint8_t npk[32], nsk[64];
    crypto_sign_keypair(npk, nsk);
    int ok = write_all(fd, nsk, 64) == 0 && fsync(fd) == 0;
    sodium_memzero(nsk, sizeof nsk);
    close(fd);
    int linked = ok ? link(tmp, path) : -1;
    int e = errno;
    unlink(tmp);
    if (!ok || (linked != 0 && e != EEXIST)) {
      snprintf(err, errlen, "cannot write %s: %s", path, strerror(e));
      return VG_EIO;
    }
  }
  snprintf(err, errlen, "cannot read %s", path);
  return VG_EIO;
}

/* The public key in base64 and its id (hex of the first 8 bytes of its
 * SHA-256), as manifests name them. */
static void key_names(const uint8_t pk[32], char b64[64], char id[17]) {
  sodium_bin2base64(b64, 64, pk, 32, sodium_base64_VARIANT_ORIGINAL);
  uint8_t d[32];
  crypto_hash_sha256(d, pk, 32);
  sodium_bin2hex(id, 17, d, 8);
}

void vg_export_key_handle(vg_req *r) {
  if (!vg_api_require_user(r)) return;
  if (!vg_req_is_get(r)) {
    vg_api_method_not_allowed(r, "GET");
    return;
  }
  uint8_t pk[32], sk[64];
  char err[256];
  int rc = vg_export_key_load(r->app->cfg.data_dir, pk, sk, err, sizeof err);
  sodium_memzero(sk, sizeof sk);
  if (rc) {
    vg_log_error("export: %s", err);
    vg_api_error(r, 500, "internal", "the signing key cannot be read");
    return;
  }
  char b64[64], id[17];
  key_names(pk, b64, id);
  vg_api_json(r, 200,
              json_pack("{s:s,s:s,s:s}", "algorithm", "Ed25519", "public_key", b64, "key_id", id));
}

/* ---- the package ---- */

typedef struct pkg_file {
  char name[64];
  uint64_t size;
  vg_mp4build *mp4;  /* a camera's MP4, or */
  uint8_t *mem;      /* bytes in memory (markers, manifest, signature) */
  int64_t camera_id; /* for MP4s */
  EVP_MD_CTX *sha;   /* OpenSSL's SHA-256 uses the CPU's SHA instructions */
  uint32_t crc;
  char sha_hex[65];
} pkg_file;

typedef struct export_job {
  uv_work_t work;
  vg_app *app;
  vg_http_conn *conn;
  int64_t recording_id;
  vg_playback_plan plans[MAX_CAMERAS];
  size_t nplans;
  pkg_file files[FILES_MAX];
  size_t nfiles;
  size_t manifest_idx; /* files[manifest_idx] is manifest.json, the next manifest.sig */
  json_t *manifest;    /* the template: files[].sha256 are filled in when known */
  uint8_t sk[64];
  vg_zip_writer *zip;
  /* Where the stream is: entry cur (nfiles: the central directory), part
   * 0 header, 1 data, 2 descriptor; pos within the data. */
  size_t cur;
  int part;
  uint64_t pos;
  vg_buf *chunk; /* made by the worker, written on the loop */
  int rc;        /* of the worker */
  char err[256];
  bool in_work, finished, closed;
  bool streaming; /* between vg_http_stream_begin and its end or abort */
  bool head;      /* a HEAD request: the head only, no audit row */
  uint64_t sent;
} export_job;

/* Ends the response if it is still open (a short body: the client sees
 * the package is incomplete) and frees everything. */
static void job_free(export_job *j) {
  if (j->streaming) vg_http_stream_abort(j->conn);
  for (size_t i = 0; i < j->nplans; i++) vg_playback_plan_free(&j->plans[i]);
  for (size_t i = 0; i < j->nfiles; i++) {
    vg_mp4build_free(j->files[i].mp4);
    EVP_MD_CTX_free(j->files[i].sha);
    free(j->files[i].mem);
  }
  json_decref(j->manifest);
  vg_zip_writer_free(j->zip);
  if (j->chunk) vg_buf_unref(j->chunk);
  sodium_memzero(j->sk, sizeof j->sk);
  if (j->conn) vg_http_conn_release(j->conn);
  free(j);
}

static void iso_time(int64_t ms, char *out, size_t len) {
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  char base[32];
  strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out, len, "%s.%03dZ", base, (int)(ms % 1000));
}

/* A CSV field, always quoted, quotes doubled (RFC 4180). */
static void csv_field(vg_str *s, const char *v) {
  vg_str_append(s, "\"", 1);
  for (const char *p = v; *p; p++) {
    if (*p == '"') vg_str_append(s, "\"", 1);
    vg_str_append(s, p, 1);
  }
  vg_str_append(s, "\"", 1);
}

/* markers.json and markers.csv of the markers inside [from, to]. */
static void make_markers(vg_app *app, int64_t recording_id, double from, double to,
                         vg_str *json_out, vg_str *csv_out) {
  vg_marker *m = NULL;
  size_t n = 0;
  vg_span *spans = NULL;
  size_t ns = 0;
  vg_store_marker_list(app->store, recording_id, &m, &n);
  vg_store_span_list(app->store, recording_id, &spans, &ns);
  json_t *arr = json_array();
  vg_str_appends(csv_out, "time,recording_time,utc,label,color,note,author\r\n");
  for (size_t i = 0; i < n; i++) {
    if (m[i].time_s < from || m[i].time_s > to) continue;
    int64_t utc = vg_review_wall_ms(spans, ns, m[i].time_s);
    char iso[40] = "";
    if (utc) iso_time(utc, iso, sizeof iso);
    json_array_append_new(
        arr, json_pack("{s:I,s:f,s:f,s:s,s:I,s:s,s:s,s:s,s:s}", "id", (json_int_t)m[i].id, "time",
                       m[i].time_s - from, "recording_time", m[i].time_s, "utc", iso, "utc_ms",
                       (json_int_t)utc, "label", m[i].label, "color", m[i].color, "note", m[i].note,
                       "author", m[i].author_name));
    vg_str_printf(csv_out, "%.3f,%.3f,%s,", m[i].time_s - from, m[i].time_s, iso);
    csv_field(csv_out, m[i].label);
    vg_str_append(csv_out, ",", 1);
    csv_field(csv_out, m[i].color);
    vg_str_append(csv_out, ",", 1);
    csv_field(csv_out, m[i].note);
    vg_str_append(csv_out, ",", 1);
    csv_field(csv_out, m[i].author_name);
    vg_str_append(csv_out, "\r\n", 2);
  }
  char *text = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  vg_str_appends(json_out, text ? text : "[]");
  vg_str_append(json_out, "\n", 1);
  free(text);
  json_decref(arr);
  free(m);
  free(spans);
}

static const char ZERO_HASH[] = "0000000000000000000000000000000000000000000000000000000000000000";

static char *manifest_text(json_t *manifest, size_t *len) {
  char *t = json_dumps(manifest, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  if (t) {
    size_t n = strlen(t);
    char *grown = realloc(t, n + 2);
    if (!grown) {
      free(t);
      return NULL;
    }
    t = grown;
    t[n] = '\n';
    t[n + 1] = 0;
    *len = n + 1;
  }
  return t;
}

/* ---- the worker: one chunk at a time ---- */

static int file_read(export_job *j, pkg_file *f, uint8_t *dst, size_t len, size_t *got) {
  if (f->mp4) return vg_mp4build_read(f->mp4, j->pos, dst, len, got);
  memcpy(dst, f->mem + j->pos, len);
  *got = len;
  return 0;
}

/* The manifest's bytes once every other file's hash is known, and the
 * signature's. */
static int seal_manifest(export_job *j) {
  json_t *list = json_object_get(j->manifest, "files");
  for (size_t i = 0; i < j->manifest_idx; i++)
    json_object_set_new(json_array_get(list, i), "sha256", json_string(j->files[i].sha_hex));
  size_t len = 0;
  char *text = manifest_text(j->manifest, &len);
  pkg_file *mf = &j->files[j->manifest_idx], *sf = &j->files[j->manifest_idx + 1];
  if (!text) return VG_ENOMEM;
  if (len != mf->size) {
    snprintf(j->err, sizeof j->err, "the manifest came out %zu bytes, planned %llu", len,
             (unsigned long long)mf->size);
    free(text);
    return VG_ESTATE;
  }
  free(mf->mem);
  mf->mem = (uint8_t *)text;
  uint8_t sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, NULL, mf->mem, len, j->sk);
  char b64[SIG_B64_LEN + 1];
  sodium_bin2base64(b64, sizeof b64, sig, sizeof sig, sodium_base64_VARIANT_ORIGINAL);
  memcpy(sf->mem, b64, SIG_B64_LEN);
  sf->mem[SIG_B64_LEN] = '\n';
  return 0;
}

static void fill_chunk(uv_work_t *w) {
  export_job *j = w->data;
  vg_buf *b = vg_buf_new(CHUNK);
  if (!b) {
    j->rc = VG_ENOMEM;
    return;
  }
  size_t used = 0;
  vg_str small = VG_STR_INIT;
  while (used < CHUNK && !j->finished) {
    if (j->cur == j->nfiles) {
      if ((j->rc = vg_zip_writer_central(j->zip, &small))) break;
      j->finished = true;
    } else if (j->part == 0) {
      if (j->cur == j->manifest_idx && (j->rc = seal_manifest(j))) break;
      if ((j->rc = vg_zip_writer_local_header(j->zip, j->cur, &small))) break;
      pkg_file *nf = &j->files[j->cur];
      if (!nf->sha) nf->sha = EVP_MD_CTX_new();
      if (!nf->sha || !EVP_DigestInit_ex(nf->sha, EVP_sha256(), NULL)) {
        j->rc = VG_ENOMEM;
        break;
      }
      j->files[j->cur].crc = 0;
      j->part = 1;
      j->pos = 0;
    } else if (j->part == 1) {
      pkg_file *f = &j->files[j->cur];
      uint64_t left = f->size - j->pos;
      size_t want = left < CHUNK - used ? (size_t)left : CHUNK - used;
      size_t got = 0;
      if (want && (j->rc = file_read(j, f, b->data + used, want, &got))) break;
      if (got != want) {
        j->rc = VG_EIO;
        snprintf(j->err, sizeof j->err, "%s came out shorter than planned", f->name);
        break;
      }
      EVP_DigestUpdate(f->sha, b->data + used, got);
      f->crc = vg_zip_crc32(f->crc, b->data + used, got);
      used += got;
      j->pos += got;
      if (j->pos == f->size) j->part = 2;
      continue;
    } else {
      pkg_file *f = &j->files[j->cur];
      uint8_t d[32];
      EVP_DigestFinal_ex(f->sha, d, NULL);
      sodium_bin2hex(f->sha_hex, sizeof f->sha_hex, d, sizeof d);
      if ((j->rc = vg_zip_writer_descriptor(j->zip, j->cur, f->crc, &small))) break;
      j->cur++;
      j->part = 0;
    }
    /* Headers and descriptors: small pieces, copied after the data. */
    if (small.len) {
      if (small.len > CHUNK - used) {
        /* Does not fit this chunk: keep it for a bigger buffer. */
        vg_buf *bigger = vg_buf_new(used + small.len);
        if (!bigger) {
          j->rc = VG_ENOMEM;
          break;
        }
        memcpy(bigger->data, b->data, used);
        vg_buf_unref(b);
        b = bigger;
      }
      memcpy(b->data + used, small.data, small.len);
      used += small.len;
      vg_str_reset(&small);
    }
  }
  vg_str_free(&small);
  b->len = used;
  j->chunk = b;
}

static void next_chunk(export_job *j);

static void chunk_done(uv_work_t *w, int status) {
  export_job *j = w->data;
  j->in_work = false;
  if (j->closed || vg_http_conn_closed(j->conn)) {
    job_free(j);
    return;
  }
  if (j->rc || status) {
    vg_log_error("export of recording %lld: %s%s%s", (long long)j->recording_id,
                 vg_strerror(j->rc ? j->rc : VG_EIO), j->err[0] ? ": " : "", j->err);
    job_free(j);
    return;
  }
  vg_buf *b = j->chunk;
  j->chunk = NULL;
  j->sent += b->len;
  int rc = b->len ? vg_http_stream_write(j->conn, b) : 0;
  vg_buf_unref(b);
  if (rc) {
    job_free(j);
    return;
  }
  if (j->finished) {
    if (j->sent != vg_zip_writer_total(j->zip))
      vg_log_error("export of recording %lld: sent %llu bytes, planned %llu",
                   (long long)j->recording_id, (unsigned long long)j->sent,
                   (unsigned long long)vg_zip_writer_total(j->zip));
    j->streaming = false;
    vg_http_stream_end(j->conn);
    job_free(j);
    return;
  }
  if (vg_http_conn_queued(j->conn) < QUEUE_LOW) next_chunk(j);
}

static void next_chunk(export_job *j) {
  if (j->in_work || j->finished) return;
  j->in_work = true;
  j->work.data = j;
  if (uv_queue_work(j->app->loop, &j->work, fill_chunk, chunk_done) != 0) {
    j->in_work = false;
    job_free(j);
  }
}

static void on_drain(vg_http_conn *c, void *ud) {
  export_job *j = ud;
  if (vg_http_conn_closed(c)) {
    j->closed = true;
    j->streaming = false; /* the connection is gone: nothing to end */
    if (!j->in_work) job_free(j);
    return;
  }
  next_chunk(j);
}

/* ---- building the MP4s, then the head ---- */

typedef struct open_job {
  uv_work_t work;
  export_job *job;
  int rc;
  size_t failed_idx;
  vg_req *req; /* a heap copy: answers after the work */
  json_t *audit_detail;
  char disposition[96];
} open_job;

static void open_work(uv_work_t *w) {
  open_job *o = w->data;
  export_job *j = o->job;
  for (size_t i = 0; i < j->nplans; i++) {
    vg_playback_plan *p = &j->plans[i];
    int rc = vg_mp4build_open(p->segs, p->nsegs, p->spans, p->nspans, &j->files[i].mp4);
    if (rc) {
      o->rc = rc;
      o->failed_idx = i;
      return;
    }
    j->files[i].size = vg_mp4build_size(j->files[i].mp4);
  }
}

static void open_done(uv_work_t *w, int status) {
  open_job *o = w->data;
  export_job *j = o->job;
  vg_req *r = o->req;
  if (vg_http_conn_closed(j->conn)) goto fail;
  if (o->rc || status) {
    int rc = o->rc ? o->rc : VG_EIO;
    if (rc == VG_ENOTFOUND)
      vg_api_error(r, 404, "no_video", "camera %lld has no video in this span",
                   (long long)j->files[o->failed_idx].camera_id);
    else
      vg_api_error(r, 500, "internal", "cannot build the MP4 of camera %lld: %s",
                   (long long)j->files[o->failed_idx].camera_id, vg_strerror(rc));
    goto fail;
  }
  /* The plan: MP4s, markers, then the manifest and its signature. */
  int zrc = vg_zip_writer_new(vg_now_ms(), false, &j->zip);
  json_t *list = json_object_get(j->manifest, "files");
  for (size_t i = 0; !zrc && i < j->nfiles; i++) {
    if (i < j->manifest_idx)
      json_array_append_new(list, json_pack("{s:s,s:I,s:s}", "name", j->files[i].name, "size",
                                            (json_int_t)j->files[i].size, "sha256", ZERO_HASH));
  }
  size_t mlen = 0;
  char *mtext = zrc ? NULL : manifest_text(j->manifest, &mlen);
  if (!mtext) zrc = zrc ? zrc : VG_ENOMEM;
  free(mtext);
  j->files[j->manifest_idx].size = mlen;
  for (size_t i = 0; !zrc && i < j->nfiles; i++)
    zrc = vg_zip_writer_add(j->zip, j->files[i].name, j->files[i].size);
  if (zrc) {
    vg_api_error(r, 500, "internal", "cannot plan the package: %s", vg_strerror(zrc));
    goto fail;
  }
  uint64_t total = vg_zip_writer_total(j->zip);
  json_object_set_new(o->audit_detail, "bytes", json_integer((json_int_t)total));
  char target[32];
  snprintf(target, sizeof target, "recording:%lld", (long long)j->recording_id);
  if (!j->head) {
    vg_audit(j->app, r, "recording.export", target, o->audit_detail);
    o->audit_detail = NULL;
  }
  char headers[256];
  snprintf(headers, sizeof headers,
           "Content-Disposition: attachment; filename=\"%s\"\r\n"
           "X-Vigil-Export-Size: %llu\r\nCache-Control: no-store\r\n",
           o->disposition, (unsigned long long)total);
  if (vg_http_stream_begin(j->conn, 200, "application/zip", headers, (int64_t)total, on_drain, j) !=
      0)
    goto fail;
  j->streaming = true;
  free(r);
  json_decref(o->audit_detail);
  free(o);
  if (j->head) {
    j->streaming = false;
    vg_http_stream_end(j->conn);
    job_free(j);
    return;
  }
  next_chunk(j);
  return;
fail:
  free(r);
  json_decref(o->audit_detail);
  free(o);
  job_free(j);
}

/* Reads from/to: JSON body fields (POST) or query parameters. Returns 0,
 * or -1 after answering. */
static int span_params(vg_req *r, double *from, double *to) {
  *from = 0;
  *to = -1;
  const char *keys[2] = {"from", "to"};
  double *outs[2] = {from, to};
  json_t *body = NULL;
  if (vg_req_method(r, "POST") && r->body_len > 0 && vg_api_body(r, &body)) return -1;
  for (int i = 0; i < 2; i++) {
    json_t *v = body ? json_object_get(body, keys[i]) : NULL;
    char text[64];
    double x;
    if (v && !json_is_null(v)) {
      x = json_is_number(v) ? json_number_value(v) : NAN;
    } else if (vg_api_query(r, keys[i], text, sizeof text) == 0) {
      char *end = NULL;
      x = text[0] ? strtod(text, &end) : NAN;
      if (!end || *end) x = NAN;
    } else {
      continue;
    }
    if (!isfinite(x) || x < 0) {
      vg_api_error(r, 400, "invalid_parameter", "%s must be a number of seconds >= 0", keys[i]);
      json_decref(body);
      return -1;
    }
    *outs[i] = x;
  }
  json_decref(body);
  if (*to >= 0 && *from >= *to) {
    vg_api_error(r, 422, "invalid_span", "from (%.3f) must be before to (%.3f)", *from, *to);
    return -1;
  }
  return 0;
}

void vg_export_handle(vg_req *r, const vg_recording *rec, const vg_clip *clip) {
  if (!vg_req_is_get(r) && !vg_req_method(r, "POST")) {
    vg_api_method_not_allowed(r, "GET, POST");
    return;
  }
  vg_app *app = r->app;
  double from, to;
  if (span_params(r, &from, &to)) return;
  if (clip) {
    /* A clip's from/to narrow it: seconds from the clip's start. */
    double len = clip->to_s - clip->from_s;
    if (from >= len) {
      vg_api_error(r, 422, "invalid_span", "from (%.3f) is past the clip's %.3f s", from, len);
      return;
    }
    to = to < 0 || to > len ? clip->to_s : clip->from_s + to;
    from = clip->from_s + from;
  }
  vg_track *tracks = NULL;
  size_t nt = 0;
  vg_store_track_list(app->store, rec->id, &tracks, &nt);
  if (nt == 0) {
    free(tracks);
    vg_api_error(r, 404, "no_video", "recording %lld has no camera track", (long long)rec->id);
    return;
  }
  if (nt > MAX_CAMERAS) nt = MAX_CAMERAS;
  export_job *j = calloc(1, sizeof *j);
  if (!j) {
    free(tracks);
    vg_api_error(r, 500, "internal", "out of memory");
    return;
  }
  j->app = app;
  j->recording_id = rec->id;
  j->head = vg_req_method(r, "HEAD");
  char err[256] = "";
  for (size_t i = 0; i < nt; i++) {
    int rc = vg_playback_plan_make(app, rec->id, tracks[i].camera_id, from, to,
                                   &j->plans[j->nplans], err, sizeof err);
    if (rc == VG_EINVAL) {
      free(tracks);
      job_free(j);
      vg_api_error(r, 422, "invalid_span", "%s",
                   err[0] ? err : "the span is outside the recording");
      return;
    }
    if (rc == VG_ENOTFOUND) continue; /* a camera without files */
    if (rc) {
      free(tracks);
      job_free(j);
      vg_api_store_error(r, "plan the export", rc);
      return;
    }
    pkg_file *f = &j->files[j->nplans];
    f->camera_id = tracks[i].camera_id;
    snprintf(f->name, sizeof f->name, "cam-%lld.mp4", (long long)tracks[i].camera_id);
    j->nplans++;
  }
  if (j->nplans == 0) {
    free(tracks);
    job_free(j);
    vg_api_error(r, 404, "no_video", "no camera has video in this span");
    return;
  }
  double span_from = j->plans[0].from_s, span_to = j->plans[0].to_s;
  /* Markers in memory. */
  vg_str mj = VG_STR_INIT, mc = VG_STR_INIT;
  make_markers(app, rec->id, span_from, span_to, &mj, &mc);
  j->nfiles = j->nplans;
  pkg_file *f = &j->files[j->nfiles++];
  snprintf(f->name, sizeof f->name, "markers.json");
  f->size = mj.len;
  f->mem = (uint8_t *)mj.data;
  f = &j->files[j->nfiles++];
  snprintf(f->name, sizeof f->name, "markers.csv");
  f->size = mc.len;
  f->mem = (uint8_t *)mc.data;
  j->manifest_idx = j->nfiles;
  f = &j->files[j->nfiles++];
  snprintf(f->name, sizeof f->name, "manifest.json");
  f = &j->files[j->nfiles++];
  snprintf(f->name, sizeof f->name, "manifest.sig");
  f->size = SIG_B64_LEN + 1;
  f->mem = calloc(1, SIG_B64_LEN + 1);

  /* The key, made on first use. */
  uint8_t pk[32];
  int krc = vg_export_key_load(app->cfg.data_dir, pk, j->sk, err, sizeof err);
  if (krc || !f->mem || !mj.data || !mc.data) {
    free(tracks);
    job_free(j);
    if (krc) vg_log_error("export: %s", err);
    vg_api_error(r, 500, "internal", "cannot sign the export: %s",
                 krc ? "the signing key cannot be read" : "out of memory");
    return;
  }
  char pk_b64[64], key_id[17];
  key_names(pk, pk_b64, key_id);

  vg_room room;
  if (vg_store_room_get(app->store, rec->room_id, &room) != 0) room.name[0] = 0;
  vg_span *spans = NULL;
  size_t ns = 0;
  vg_store_span_list(app->store, rec->id, &spans, &ns);
  int64_t now = vg_now_ms();
  char now_iso[40];
  iso_time(now, now_iso, sizeof now_iso);
  json_t *cams = json_array();
  for (size_t i = 0; i < j->nplans; i++) {
    const char *name = "";
    for (size_t k = 0; k < nt; k++)
      if (tracks[k].camera_id == j->files[i].camera_id) name = tracks[k].camera_name;
    json_array_append_new(
        cams, json_pack("{s:I,s:s,s:s}", "camera_id", (json_int_t)j->files[i].camera_id, "name",
                        name, "file", j->files[i].name));
  }
  free(tracks);
  j->manifest = json_pack(
      "{s:s,s:s,s:I,s:{s:I,s:s},s:{s:s,s:s,s:s,s:s},s:{s:I,s:s,s:I,s:s,s:I,s:o},s:o,"
      "s:{s:f,s:f,s:f,s:I,s:I},s:o,s:[]}",
      "format", FORMAT, "created_at", now_iso, "created_at_ms", (json_int_t)now, "exported_by",
      "user_id", (json_int_t)r->user.id, "username", r->user.username, "server", "software",
      "vigil " VIGIL_VERSION, "signature",
      "Ed25519 over the bytes of manifest.json, base64 in manifest.sig", "public_key", pk_b64,
      "key_id", key_id, "recording", "id", (json_int_t)rec->id, "title", rec->title, "room_id",
      (json_int_t)rec->room_id, "room", room.name, "start", (json_int_t)rec->started_at, "end",
      rec->ended_at ? json_integer(rec->ended_at) : json_null(), "clip",
      clip ? json_pack("{s:I,s:s,s:f,s:f}", "id", (json_int_t)clip->id, "title", clip->title,
                       "from", clip->from_s, "to", clip->to_s)
           : json_null(),
      "span", "from", span_from, "to", span_to, "duration", span_to - span_from, "start_utc_ms",
      (json_int_t)vg_review_wall_ms(spans, ns, span_from), "end_utc_ms",
      (json_int_t)vg_review_wall_ms(spans, ns, span_to), "cameras", cams, "files");
  free(spans);
  if (!j->manifest) {
    job_free(j);
    vg_api_error(r, 500, "internal", "cannot build the manifest");
    return;
  }

  open_job *o = calloc(1, sizeof *o);
  vg_req *copy = malloc(sizeof *copy);
  if (!o || !copy) {
    free(o);
    free(copy);
    job_free(j);
    vg_api_error(r, 500, "internal", "out of memory");
    return;
  }
  *copy = *r;
  copy->http = NULL; /* the request is not read after this */
  copy->body = NULL;
  copy->body_len = 0;
  o->req = copy;
  o->job = j;
  o->audit_detail = json_pack("{s:f,s:f,s:I,s:s}", "from", span_from, "to", span_to, "cameras",
                              (json_int_t)j->nplans, "key_id", key_id);
  if (clip) json_object_set_new(o->audit_detail, "clip_id", json_integer(clip->id));
  if (clip)
    snprintf(o->disposition, sizeof o->disposition, "clip-%lld.zip", (long long)clip->id);
  else
    snprintf(o->disposition, sizeof o->disposition, "recording-%lld.zip", (long long)rec->id);
  j->conn = vg_http_conn_hold(r->conn);
  o->work.data = o;
  if (uv_queue_work(app->loop, &o->work, open_work, open_done) != 0) {
    json_decref(o->audit_detail);
    free(o);
    free(copy);
    job_free(j);
    vg_api_error(r, 500, "internal", "cannot start the export");
  }
}

/* ---- vigil verify PACKAGE.zip ---- */

static int fd_read(void *ud, uint64_t off, void *dst, size_t len) {
  int fd = *(int *)ud;
  uint8_t *p = dst;
  while (len) {
    ssize_t n = pread(fd, p, len, (off_t)off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return VG_EIO;
    p += n;
    off += (uint64_t)n;
    len -= (size_t)n;
  }
  return 0;
}

#define PIECE (1 << 20)

typedef int (*piece_fn)(void *ud, const uint8_t *p, size_t n);

/* Hands an entry's bytes to cb in pieces: as stored, or inflated (method
 * 8), since a recipient may have re-zipped the package with compression;
 * the manifest vouches for the files, not for the container. Never more
 * than the directory's size comes out. Returns 0, VG_EIO, VG_ENOMEM,
 * VG_EPROTO (another method), VG_EINVAL (damaged deflate data, or not
 * exactly the directory's size), or cb's error. */
static int entry_read(int fd, const vg_zip_item *it, piece_fn cb, void *ud) {
  if (it->method != 0 && it->method != 8) return VG_EPROTO;
  uint8_t *in = malloc(PIECE), *outb = it->method == 8 ? malloc(PIECE) : NULL;
  z_stream z;
  memset(&z, 0, sizeof z);
  bool zinit = false;
  int rc = 0, zr = Z_OK;
  uint64_t at = 0, produced = 0;
  if (!in || (it->method == 8 && !outb)) rc = VG_ENOMEM;
  if (!rc && it->method == 8) {
    if (inflateInit2(&z, -15) != Z_OK)
      rc = VG_ENOMEM;
    else
      zinit = true;
  }
  while (!rc && at < it->comp_size && zr != Z_STREAM_END) {
    size_t n = it->comp_size - at < PIECE ? (size_t)(it->comp_size - at) : PIECE;
    if ((rc = fd_read(&fd, it->data_offset + at, in, n))) break;
    at += n;
    if (it->method == 0) {
      produced += n;
      rc = cb(ud, in, n);
      continue;
    }
    z.next_in = in;
    z.avail_in = (uInt)n;
    for (;;) {
      z.next_out = outb;
      z.avail_out = PIECE;
      zr = inflate(&z, Z_NO_FLUSH);
      if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) {
        rc = VG_EINVAL;
        break;
      }
      size_t got = PIECE - z.avail_out;
      produced += got;
      if (produced > it->size) {
        rc = VG_EINVAL;
        break;
      }
      if (got && (rc = cb(ud, outb, got))) break;
      if (zr == Z_STREAM_END || got == 0 || (z.avail_in == 0 && z.avail_out != 0)) break;
    }
  }
  if (!rc && it->method == 8 && zr != Z_STREAM_END) rc = VG_EINVAL;
  if (!rc && produced != it->size) rc = VG_EINVAL;
  if (zinit) inflateEnd(&z);
  free(in);
  free(outb);
  return rc;
}

typedef struct collect {
  char *b;
  size_t len, cap;
} collect;

static int collect_piece(void *ud, const uint8_t *p, size_t n) {
  collect *c = ud;
  if (n > c->cap - c->len) return VG_ETOOBIG;
  memcpy(c->b + c->len, p, n);
  c->len += n;
  return 0;
}

/* Reads a whole entry of at most max bytes into a NUL-terminated buffer. */
static int read_entry(int fd, const vg_zip_item *it, size_t max, char **out) {
  if (it->size > max) return VG_ETOOBIG;
  collect c = {malloc((size_t)it->size + 1), 0, (size_t)it->size};
  if (!c.b) return VG_ENOMEM;
  int rc = entry_read(fd, it, collect_piece, &c);
  if (rc) {
    free(c.b);
    return rc;
  }
  c.b[c.len] = 0;
  *out = c.b;
  return 0;
}

typedef struct hashing {
  EVP_MD_CTX *sha;
  uint32_t crc;
} hashing;

static int hash_piece(void *ud, const uint8_t *p, size_t n) {
  hashing *h = ud;
  EVP_DigestUpdate(h->sha, p, n);
  h->crc = vg_zip_crc32(h->crc, p, n);
  return 0;
}

int vg_export_verify_file(const char *path, const char *pin, void *out_file) {
  FILE *out = out_file;
  int problems = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    fprintf(out, "%s: cannot open: %s\n", path, strerror(errno));
    return 1;
  }
  struct stat st;
  vg_zip_reader *zr = NULL;
  char err[256] = "";
  char *mtext = NULL, *stext = NULL;
  json_t *m = NULL;
  if (fstat(fd, &st) != 0 ||
      vg_zip_reader_open(fd_read, &fd, (uint64_t)st.st_size, &zr, err, sizeof err) != 0) {
    fprintf(out, "%s: not a readable ZIP archive: %s\n", path, err[0] ? err : strerror(errno));
    close(fd);
    return 1;
  }
  const vg_zip_item *mi = vg_zip_reader_find(zr, "manifest.json");
  const vg_zip_item *si = vg_zip_reader_find(zr, "manifest.sig");
  int mrc = mi ? read_entry(fd, mi, MANIFEST_MAX, &mtext) : VG_ENOTFOUND;
  if (mrc) {
    fprintf(out, "manifest.json: %s; nothing can be checked\n",
            mrc == VG_ENOTFOUND ? "missing from the package"
            : mrc == VG_EINVAL  ? "its compressed data is damaged"
            : mrc == VG_ETOOBIG ? "larger than any Vigil manifest"
                                : "unreadable");
    problems++;
    goto out;
  }
  json_error_t jerr;
  m = json_loadb(mtext, (size_t)mi->size, 0, &jerr);
  if (!json_is_object(m)) {
    fprintf(out, "manifest.json: not a JSON object (%s)\n", jerr.text);
    problems++;
    goto out;
  }
  /* The signature. */
  const char *pk_b64 =
      json_string_value(json_object_get(json_object_get(m, "server"), "public_key"));
  uint8_t pk[32], sig[crypto_sign_BYTES];
  size_t pk_len = 0, sig_len = 0;
  bool key_ok = pk_b64 &&
                sodium_base642bin(pk, sizeof pk, pk_b64, strlen(pk_b64), NULL, &pk_len, NULL,
                                  sodium_base64_VARIANT_ORIGINAL) == 0 &&
                pk_len == 32;
  if (!key_ok) {
    fprintf(out, "manifest.json: no valid server public_key; the signature cannot be checked\n");
    problems++;
  } else if (!si || read_entry(fd, si, 1024, &stext)) {
    fprintf(out, "manifest.sig: missing or unreadable; the manifest is not signed\n");
    problems++;
  } else {
    size_t sl = strlen(stext);
    while (sl && (stext[sl - 1] == '\n' || stext[sl - 1] == '\r')) stext[--sl] = 0;
    if (sodium_base642bin(sig, sizeof sig, stext, sl, NULL, &sig_len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        sig_len != sizeof sig) {
      fprintf(out, "manifest.sig: not a base64 Ed25519 signature\n");
      problems++;
    } else if (crypto_sign_verify_detached(sig, (const uint8_t *)mtext, (size_t)mi->size, pk) !=
               0) {
      fprintf(out,
              "manifest.json: the signature does not match (the manifest was changed, or signed "
              "by another key)\n");
      problems++;
    }
    if (pin && strcmp(pin, pk_b64) != 0) {
      fprintf(out, "manifest.json: signed by key %s, not by the expected %s\n", pk_b64, pin);
      problems++;
    }
  }
  /* Every listed file. */
  json_t *files = json_object_get(m, "files");
  if (!json_is_array(files) || json_array_size(files) == 0) {
    fprintf(out, "manifest.json: lists no files\n");
    problems++;
  }
  size_t i;
  json_t *fj;
  json_array_foreach(files, i, fj) {
    const char *name = json_string_value(json_object_get(fj, "name"));
    const char *want = json_string_value(json_object_get(fj, "sha256"));
    json_t *size = json_object_get(fj, "size");
    if (!name || !want || !json_is_integer(size)) {
      fprintf(out, "manifest.json: entry %zu lacks a name, size or sha256\n", i + 1);
      problems++;
      continue;
    }
    const vg_zip_item *it = vg_zip_reader_find(zr, name);
    if (!it) {
      fprintf(out, "%s: listed in the manifest but missing from the package\n", name);
      problems++;
      continue;
    }
    if ((json_int_t)it->size != json_integer_value(size)) {
      fprintf(out, "%s: size %llu differs from the manifest's %lld\n", name,
              (unsigned long long)it->size, (long long)json_integer_value(size));
      problems++;
      continue;
    }
    EVP_MD_CTX *sh = EVP_MD_CTX_new();
    if (!sh || !EVP_DigestInit_ex(sh, EVP_sha256(), NULL)) {
      EVP_MD_CTX_free(sh);
      fprintf(out, "%s: out of memory\n", name);
      problems++;
      continue;
    }
    hashing hs = {sh, 0};
    int rrc = entry_read(fd, it, hash_piece, &hs);
    uint32_t crc = hs.crc;
    if (rrc) {
      EVP_MD_CTX_free(sh);
      if (rrc == VG_EPROTO)
        fprintf(out, "%s: compressed with method %u, which verify cannot read\n", name, it->method);
      else if (rrc == VG_EINVAL)
        fprintf(out, "%s: its compressed data is damaged or not of its listed size\n", name);
      else
        fprintf(out, "%s: cannot be read: %s\n", name, vg_strerror(rrc));
      problems++;
      continue;
    }
    uint8_t d[32];
    char hex[65];
    EVP_DigestFinal_ex(sh, d, NULL);
    EVP_MD_CTX_free(sh);
    sodium_bin2hex(hex, sizeof hex, d, sizeof d);
    if (strcasecmp(hex, want) != 0) {
      fprintf(out, "%s: SHA-256 differs from the manifest (is %s, manifest says %s)\n", name, hex,
              want);
      problems++;
    } else if (crc != it->crc) {
      fprintf(out, "%s: CRC-32 differs from the ZIP directory\n", name);
      problems++;
    } else {
      fprintf(out, "ok       %s  %llu bytes  sha256 %s\n", name, (unsigned long long)it->size, hex);
    }
  }
  /* Files nobody vouches for. */
  for (size_t k = 0; k < vg_zip_reader_count(zr); k++) {
    const char *name = vg_zip_reader_item(zr, k)->name;
    if (!strcmp(name, "manifest.json") || !strcmp(name, "manifest.sig")) continue;
    bool listed = false;
    json_array_foreach(files, i, fj) {
      const char *n = json_string_value(json_object_get(fj, "name"));
      if (n && strcmp(n, name) == 0) listed = true;
    }
    if (!listed) {
      fprintf(out, "%s: in the package but not in the manifest\n", name);
      problems++;
    }
  }
  if (!problems)
    fprintf(out, "%s: signature and %zu file(s) verified; signed by key %s (key id %s)\n", path,
            json_array_size(files), pk_b64,
            json_string_value(json_object_get(json_object_get(m, "server"), "key_id"))
                ? json_string_value(json_object_get(json_object_get(m, "server"), "key_id"))
                : "?");
  else
    fprintf(out, "%s: %d problem(s) found\n", path, problems);
out:
  json_decref(m);
  free(mtext);
  free(stext);
  vg_zip_reader_free(zr);
  close(fd);
  return problems ? 1 : 0;
}
