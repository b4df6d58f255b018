/* http.h - the HTTP/1.1 and WebSocket server on libuv.
 *
 * One vg_http_server owns any number of listeners (plain or TLS) on one
 * loop. A request flows through named phases: head (parsed by
 * http_parser.c, bounded by max_header_bytes and header_timeout_ms), body
 * (Content-Length or chunked, bounded by max_body_bytes, decoded in place),
 * handle (the handler is called once with the whole request), respond. One
 * request is handled at a time per connection, so pipelined requests are
 * answered in order; the request and its body stay valid until the
 * response is sent, which may happen later (after thread-pool work) as long
 * as the handler took a hold on the connection.
 *
 * Responses and WebSocket messages are written from reference-counted
 * vg_bufs: the connection holds a reference until the kernel has the bytes,
 * so one buffer can be queued on many sockets without a copy. */
#ifndef VG_HTTP_H
#define VG_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "base/buf.h"
#include "net/http_parser.h"

typedef struct vg_http_server vg_http_server;
typedef struct vg_http_conn vg_http_conn;
typedef struct ssl_ctx_st vg_tls_ctx; /* OpenSSL's SSL_CTX */

typedef struct vg_http_limits_cfg {
  size_t max_header_bytes;
  uint64_t max_body_bytes;
  uint64_t header_timeout_ms; /* head must arrive within this, else 408 */
  uint64_t idle_timeout_ms;   /* keep-alive and WebSocket idle limit */
  uint64_t send_stall_ms;     /* streamed response: no byte taken this long closes; 0 never */
  size_t max_connections;
  size_t ws_max_message;
} vg_http_limits_cfg;

/* Called once per complete request. method HEAD is passed as is; the
 * server drops the body of a HEAD answer itself. */
typedef void (*vg_http_handler)(vg_http_conn *c, const vg_http_request *req, const uint8_t *body,
                                size_t body_len, void *ud);

int vg_http_server_new(uv_loop_t *loop, const vg_http_limits_cfg *lim, vg_http_handler handler,
                       void *ud, vg_http_server **out);
/* Adds a listener. tls NULL = plain. redirect_port > 0 makes this plain
 * listener answer every request with 308 to https on that port. Returns 0,
 * or a negative libuv error (UV_EADDRINUSE...) which vg_http_strerror
 * names. *bound_port receives the actual port (for port 0). */
int vg_http_server_listen(vg_http_server *s, const char *addr, int port, vg_tls_ctx *tls,
                          int redirect_port, int *bound_port);
/* A connection the sniffer routed away from HTTP (an RTMP handshake, also
 * inside TLS): data holds the bytes read so far. The handler owns the
 * connection from here; HTTP never parses it. Until the RTMP server exists
 * (a later issue) the media listener's handler logs and calls
 * vg_http_conn_end. */
typedef void (*vg_http_raw_handler)(vg_http_conn *c, const uint8_t *data, size_t len, void *ud);

typedef struct vg_http_listen_opts {
  vg_tls_ctx *tls;              /* TLS from the first byte (a TLS port), or NULL */
  int redirect_port;            /* as in vg_http_server_listen */
  bool sniff;                   /* route on the first bytes: see net/sniff.h */
  vg_tls_ctx *sniff_tls;        /* sniff on a plain port: a ClientHello starts TLS
                                   with this; NULL: such connections are closed */
  vg_http_raw_handler on_rtmp;  /* sniff: RTMP connections; NULL: closed */
  void *rtmp_ud;
} vg_http_listen_opts;

/* vg_http_server_listen with every option. A sniffing listener reads the
 * first bytes of a connection before anything else (bounded by
 * header_timeout_ms like a request head); after a TLS handshake it sniffs
 * the plaintext again, so one TLS port carries WSS and RTMPS. */
int vg_http_server_listen_opts(vg_http_server *s, const char *addr, int port,
                               const vg_http_listen_opts *o, int *bound_port);
/* Stops listening and closes every connection; cb runs when all is freed. */
void vg_http_server_close(vg_http_server *s, void (*cb)(void *ud), void *ud);
size_t vg_http_server_connections(const vg_http_server *s);
/* Frees a server whose close callback has run. */
void vg_http_server_free(vg_http_server *s);

/* Connection facts. */
const char *vg_http_conn_peer(const vg_http_conn *c); /* "127.0.0.1" */
bool vg_http_conn_is_tls(const vg_http_conn *c);
/* Keeps c alive past the handler's return (for async work); every hold
 * needs one release. A response on a connection that closed meanwhile is
 * dropped quietly. */
vg_http_conn *vg_http_conn_hold(vg_http_conn *c);
void vg_http_conn_release(vg_http_conn *c);
/* Ends c gracefully: what is queued is written, then the write side shuts. */
void vg_http_conn_end(vg_http_conn *c);
bool vg_http_conn_closed(const vg_http_conn *c);
void vg_http_conn_set_data(vg_http_conn *c, void *data);
void *vg_http_conn_data(const vg_http_conn *c);

/* Sends a response. headers: extra header lines, each ending in "\r\n"
 * (or NULL). body is taken (may be NULL). Content-Length, Date, Server and
 * Connection are added here. Returns 0 or VG_ESTATE when a response was
 * already sent. */
int vg_http_respond(vg_http_conn *c, int status, const char *content_type, const char *headers,
                    vg_buf *body);
/* Same with a body copied from memory. */
int vg_http_respond_mem(vg_http_conn *c, int status, const char *content_type, const char *headers,
                        const void *body, size_t len);
/* Responds with a shared buffer slice [off, off+len) without copying; the
 * buffer is referenced, not taken. content_length is what the header says
 * (equal to len except for HEAD). */
int vg_http_respond_slice(vg_http_conn *c, int status, const char *content_type,
                          const char *headers, vg_buf *body, size_t off, size_t len);

/* Streamed responses: the body is produced piece by piece (off the loop,
 * e.g. files read in the thread pool) and handed over as shared buffers.
 * on_drain runs on the loop whenever a write completes with less than a
 * low-water mark (256 KiB) still queued, and once more when the
 * connection closes (check vg_http_conn_closed); the producer keeps the
 * queue bounded by writing only while vg_http_conn_queued is small, and
 * holds the connection (vg_http_conn_hold) until it is done with it.
 * content_length -1 sends the body chunked (close-delimited for
 * HTTP/1.0). For HEAD the head goes out and written chunks are dropped. */
typedef void (*vg_http_drain_cb)(vg_http_conn *c, void *ud);
int vg_http_stream_begin(vg_http_conn *c, int status, const char *content_type, const char *headers,
                         int64_t content_length, vg_http_drain_cb on_drain, void *ud);
/* Queues chunk (referenced, never copied on plain connections). VG_ECLOSED
 * once the connection is going. */
int vg_http_stream_write(vg_http_conn *c, vg_buf *chunk);
/* Finishes the body; the connection moves on to the next request. The
 * drain callback is not called after this. */
int vg_http_stream_end(vg_http_conn *c);
/* The body cannot be finished (a read failed): closes the connection so
 * the client sees a short body, not a wrong one. */
void vg_http_stream_abort(vg_http_conn *c);

/* WebSocket. */
typedef struct vg_ws_handlers {
  /* A complete text or binary message; data is valid during the call. */
  void (*on_message)(vg_http_conn *c, int opcode, const uint8_t *data, size_t len, void *ud);
  /* The socket is gone (close handshake done, error, time-out): last call. */
  void (*on_close)(vg_http_conn *c, uint16_t code, void *ud);
} vg_ws_handlers;

/* Answers 101 and turns c into a WebSocket. Returns VG_EINVAL (after
 * answering 400) when the handshake headers are wrong. */
int vg_http_upgrade_ws(vg_http_conn *c, const vg_http_request *req, const vg_ws_handlers *h,
                       void *ud);
/* Answers the WebSocket handshake like vg_http_upgrade_ws but hands the
 * socket over instead of serving it here: *fd gets a duplicate of the
 * socket (the caller owns it), *head the 101 answer, which is NOT sent
 * (the new owner writes it first), *input the bytes the client sent after
 * its request or NULL. c is closed on this loop without shutting the
 * socket down (no WebSocket handlers run). VG_ESTATE when c cannot move
 * (TLS, output still queued, already answered): serve it with
 * vg_http_upgrade_ws; VG_EINVAL after answering 400 to a bad handshake. */
int vg_http_ws_detach(vg_http_conn *c, const vg_http_request *req, int *fd, vg_buf **head,
                      vg_buf **input);
/* Queues one message; payload referenced (not taken) so one buffer can go
 * to many sockets. Returns VG_ECLOSED when the socket is closing. */
int vg_ws_send(vg_http_conn *c, int opcode, vg_buf *payload);
int vg_ws_send_text(vg_http_conn *c, const char *text, size_t len);
/* vg_ws_send whose write carries stamp_us (vg_mono_us of when the payload
 * was made): once the kernel took its last byte, the server's write probe
 * gets it (for latency statistics of live video). */
int vg_ws_send_stamped(vg_http_conn *c, int opcode, vg_buf *payload, uint64_t stamp_us);
/* Called on the loop when a stamped write completed; stamp_us as sent. */
void vg_http_server_set_write_probe(vg_http_server *s, void (*probe)(uint64_t stamp_us, void *ud),
                                    void *ud);
/* Starts the close handshake with code and reason. */
void vg_ws_close(vg_http_conn *c, uint16_t code, const char *reason);
/* Bytes queued to the kernel but not yet written (for back-pressure). */
size_t vg_http_conn_queued(const vg_http_conn *c);

/* Builds a TLS server context (TLS 1.2 and later) from PEM files. */
int vg_tls_ctx_new(const char *cert, const char *key, vg_tls_ctx **out, char *err, size_t errlen);
void vg_tls_ctx_free(vg_tls_ctx *ctx);

#endif
