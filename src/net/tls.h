/* tls.h - OpenSSL over memory BIOs, so TLS rides on libuv's sockets.
 *
 * The connection feeds ciphertext in with vg_tls_feed, reads plaintext
 * with vg_tls_read, writes plaintext with vg_tls_write and sends whatever
 * vg_tls_take_output returns. No I/O happens here. */
#ifndef VG_TLS_H
#define VG_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "net/http.h"

typedef struct vg_tls vg_tls;

int vg_tls_new(vg_tls_ctx *ctx, vg_tls **out);
void vg_tls_free(vg_tls *t);
/* Hands received ciphertext to OpenSSL. */
int vg_tls_feed(vg_tls *t, const void *data, size_t len);
/* Reads decrypted bytes: 0 with *n > 0, VG_EAGAIN when none are ready,
 * VG_ECLOSED on close_notify, VG_EPROTO on a TLS error (handshake
 * failures included). Drives the handshake as needed. */
int vg_tls_read(vg_tls *t, void *out, size_t cap, size_t *n);
/* Encrypts plaintext; the result is taken with vg_tls_take_output. */
int vg_tls_write(vg_tls *t, const void *data, size_t len);
/* Queues close_notify. */
void vg_tls_shutdown(vg_tls *t);
/* Ciphertext waiting to be sent, as a new buffer, or NULL when none. */
vg_buf *vg_tls_take_output(vg_tls *t);

#endif
