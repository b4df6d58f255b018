/* fanout.h - one message to many WebSocket sockets from sender threads.
 *
 * Live video sends each fragment to every viewer. From one event-loop
 * thread that is one kernel send after another (on loopback most of a
 * send is the receiver's side run in the sender's context), so the last
 * viewer of a thousand waits for 999 sends. A vg_fanout runs K sender
 * threads, each with its own libuv loop and its own share of the sockets:
 * a message is posted once to every thread (a mutex-guarded queue woken by
 * uv_async) and each thread writes it to its viewers, so a fan-out takes
 * about 1/K of the time on K free cores. Messages of one group that a
 * thread finds queued together (a burst: the camera reader hands over a
 * tick's frames at once, or the thread fell behind) go to each viewer in
 * one write, up to 8 at a time: one pass and one send for the burst.
 *
 * A viewer is an upgraded plain WebSocket connection handed over as a
 * socket (vg_http_ws_detach) with the 101 answer still to write. Viewers
 * belong to a group (a caller's id: one live stream); messages go to a
 * group. From then on the thread owns the socket: it writes the group's
 * messages, answers pings, pings an idle viewer, sees close frames and
 * errors, and applies the back-pressure rules of live video: a viewer
 * with more than skip_bytes queued gets nothing until a sync message (a
 * keyframe) finds it below the bound again, and one that stays above it
 * for stuck_ms is closed (1008). Memory per viewer is thus about
 * skip_bytes plus one message. Messages are shared vg_bufs (atomic
 * reference count, never written after they are posted): nothing is
 * copied per thread or per viewer.
 *
 * The owner's loop learns that a viewer is gone through the gone callback
 * (on the owner's loop), so it can count its viewers. Statistics (bytes
 * queued, skips, drops, the latency histogram from a message's making to
 * the kernel taking its last byte, per viewer write) are kept per thread
 * and merged on request. Every function is called on the owner's loop. */
#ifndef VG_FANOUT_H
#define VG_FANOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "base/buf.h"

/* Latency histogram: 10 us buckets up to 100 ms, the last "or more". */
#define VG_FANOUT_LAT_BUCKET_US 10
#define VG_FANOUT_LAT_BUCKETS 10000
/* Variants of a group's first text message (a viewer picks one). */
#define VG_FANOUT_VARIANTS 3

typedef struct vg_fanout vg_fanout;

typedef struct vg_fanout_cfg {
  int threads;           /* sender threads, >= 1 */
  size_t skip_bytes;     /* queued past this: skip to the next sync message */
  uint64_t stuck_ms;     /* above skip_bytes this long: closed (1008) */
  size_t ws_max_message; /* largest message a viewer may send */
} vg_fanout_cfg;

/* What a viewer gets first, and every viewer of a group again when its
 * streams change: a text message (by variant; NULL: none), an init
 * message and a catch-up message (NULL: the viewer waits for the next
 * sync message). Buffers are referenced, not taken. */
typedef struct vg_fanout_start {
  vg_buf *text[VG_FANOUT_VARIANTS];
  vg_buf *init;
  vg_buf *catchup;
} vg_fanout_start;

/* Statistics summed over the threads. lat points at VG_FANOUT_LAT_BUCKETS
 * counters that vg_fanout_stats adds to. */
typedef struct vg_fanout_stats {
  uint64_t bytes_queued, skips, drops;
  uint64_t lat_count, lat_max_us;
  uint32_t *lat;
} vg_fanout_stats;

/* Called on the owner's loop when a viewer of group has gone. */
typedef void (*vg_fanout_gone_cb)(uint64_t group, void *ud);

/* Starts cfg->threads sender threads. The owner's loop gets one unreferenced
 * uv_async (it never keeps the loop alive). */
int vg_fanout_new(uv_loop_t *loop, const vg_fanout_cfg *cfg, vg_fanout_gone_cb gone, void *ud,
                  vg_fanout **out);
/* Closes every viewer's socket, stops and joins the threads, and frees f.
 * Runs one non-blocking turn of the owner's loop to close its handle, so
 * call it after the owner's loop has stopped. */
void vg_fanout_free(vg_fanout *f);

/* Hands a viewer of group to the thread with the fewest viewers: fd is
 * taken (closed on any failure, and the gone callback then runs), head
 * holds raw bytes to write before anything else (the 101 answer), input
 * bytes the peer already sent (may be NULL); both referenced. The viewer
 * gets start with its variant's text. peer names it in logs. */
int vg_fanout_add(vg_fanout *f, uint64_t group, int fd, vg_buf *head, vg_buf *input, int variant,
                  const vg_fanout_start *start, const char *peer);
/* Sends start again to every viewer of group (its streams changed). */
void vg_fanout_restart(vg_fanout *f, uint64_t group, const vg_fanout_start *start);
/* Sends a binary message to every viewer of group; sync marks a point a
 * skipping viewer may resume at (a keyframe); made_us (uv_hrtime / 1000)
 * is when it was made, for the latency histogram. */
void vg_fanout_send(vg_fanout *f, uint64_t group, vg_buf *msg, bool sync, uint64_t made_us);
/* Adds the threads' statistics to *acc; reset zeroes them afterwards. */
void vg_fanout_stats_get(vg_fanout *f, vg_fanout_stats *acc, bool reset);
/* Viewers handed over and not yet gone, in all and per thread. */
size_t vg_fanout_viewers(const vg_fanout *f);
int vg_fanout_threads(const vg_fanout *f);
size_t vg_fanout_thread_viewers(const vg_fanout *f, int thread);

#endif
