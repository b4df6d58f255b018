/* tls.c - TLS contexts and memory-BIO connections. */
#include "tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/err.h"
#include "base/log.h"

struct vg_tls {
  SSL *ssl;
  BIO *rbio; /* ciphertext from the peer */
  BIO *wbio; /* ciphertext to the peer */
};

int vg_tls_ctx_new(const char *cert, const char *key, vg_tls_ctx **out, char *err, size_t errlen) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) return VG_ENOMEM;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
    snprintf(err, errlen, "tls_cert %s: %s", cert, ERR_reason_error_string(ERR_get_error()));
    SSL_CTX_free(ctx);
    return VG_ECONFIG;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    snprintf(err, errlen, "tls_key %s: %s", key, ERR_reason_error_string(ERR_get_error()));
    SSL_CTX_free(ctx);
    return VG_ECONFIG;
  }
  *out = ctx;
  return 0;
}

void vg_tls_ctx_free(vg_tls_ctx *ctx) { SSL_CTX_free(ctx); }

int vg_tls_new(vg_tls_ctx *ctx, vg_tls **out) {
  vg_tls *t = calloc(1, sizeof *t);
  if (!t) return VG_ENOMEM;
  t->ssl = SSL_new(ctx);
  t->rbio = BIO_new(BIO_s_mem());
  t->wbio = BIO_new(BIO_s_mem());
  if (!t->ssl || !t->rbio || !t->wbio) {
    BIO_free(t->rbio);
    BIO_free(t->wbio);
    SSL_free(t->ssl);
    free(t);
    return VG_ENOMEM;
  }
  /* An empty read BIO means "want more", not end of file. */
  BIO_set_mem_eof_return(t->rbio, -1);
  SSL_set_bio(t->ssl, t->rbio, t->wbio);
  SSL_set_accept_state(t->ssl);
  *out = t;
  return 0;
}

void vg_tls_free(vg_tls *t) {
  if (!t) return;
  SSL_free(t->ssl); /* frees both BIOs */
  free(t);
}

int vg_tls_feed(vg_tls *t, const void *data, size_t len) {
  return BIO_write(t->rbio, data, (int)len) == (int)len ? 0 : VG_ENOMEM;
}

int vg_tls_read(vg_tls *t, void *out, size_t cap, size_t *n) {
  *n = 0;
  int r = SSL_read(t->ssl, out, (int)(cap > INT32_MAX ? INT32_MAX : cap));
  if (r > 0) {
    *n = (size_t)r;
    return 0;
  }
  switch (SSL_get_error(t->ssl, r)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      return VG_EAGAIN;
    case SSL_ERROR_ZERO_RETURN:
      return VG_ECLOSED;
    default:
      vg_log_debug("tls: %s", ERR_reason_error_string(ERR_peek_last_error()));
      ERR_clear_error();
      return VG_EPROTO;
  }
}

int vg_tls_write(vg_tls *t, const void *data, size_t len) {
  const char *p = data;
  while (len > 0) {
    int chunk = len > (1 << 30) ? 1 << 30 : (int)len;
    int r = SSL_write(t->ssl, p, chunk);
    if (r <= 0) {
      ERR_clear_error();
      return VG_EPROTO;
    }
    p += r;
    len -= (size_t)r;
  }
  return 0;
}

void vg_tls_shutdown(vg_tls *t) {
  SSL_shutdown(t->ssl);
  ERR_clear_error();
}

vg_buf *vg_tls_take_output(vg_tls *t) {
  size_t pending = BIO_ctrl_pending(t->wbio);
  if (pending == 0) return NULL;
  vg_buf *b = vg_buf_new(pending);
  if (!b) return NULL;
  int r = BIO_read(t->wbio, b->data, (int)pending);
  b->len = r > 0 ? (size_t)r : 0;
  return b;
}
