/* reorder.h - decode time stamps for video with B-frames.
 *
 * RTP carries presentation times only. A camera that sends B-frames sends
 * its frames in decode order with presentation times that go back now and
 * then (I0 P3 B1 B2 P6 B4 B5 ...). MP4 needs a decode time stamp per
 * frame that strictly increases and is never after the presentation time.
 *
 * The window holds `depth` frames: frame i (decode order) goes out when
 * frame i + depth has come in, with dts = the smallest presentation time
 * not yet used, minus depth frame durations (the "reorder delay"). So the
 * dts are the sorted pts shifted by the delay: dts <= pts, and dts
 * increases. The depth is the one the SPS announces (vg_reorder_announce),
 * else 0 - frames go straight through with dts = pts, no added latency,
 * exactly as without this module - until a pts going back shows reordering
 * deeper than the window: then the depth grows to what was seen (at most
 * VG_REORDER_MAX), the frames held and those up to the next keyframe are
 * dropped (they cannot get a dts that fits behind the ones already handed
 * on), and the stream goes on from that keyframe with the deeper window.
 *
 * Time stamps are 64-bit (already unwrapped) in any unit. Pure: no I/O,
 * no clock, no allocation. A zeroed struct is a valid empty window. */
#ifndef VG_REORDER_H
#define VG_REORDER_H

#include <stdbool.h>
#include <stdint.h>

#define VG_REORDER_MAX 4  /* frames */
#define VG_REORDER_HIST 8 /* recent pts kept to see reordering */

/* out is called with keep = true for a frame handed on (in decode order,
 * with its dts), false for a frame dropped (dts meaningless); either way
 * the frame's item is the callee's again. */
typedef void (*vg_reorder_out_fn)(void *cb, void *item, int64_t pts, int64_t dts, bool key,
                                  bool keep);

typedef struct vg_reorder_slot {
  int64_t pts;
  bool key;
  void *item;
} vg_reorder_slot;

typedef struct vg_reorder {
  int depth;                             /* frames held back */
  vg_reorder_slot q[VG_REORDER_MAX + 1]; /* held frames, decode order */
  int n;                                 /* ... how many */
  int64_t pool[VG_REORDER_MAX + 1];      /* pts not yet given out as a dts */
  int npool;
  int64_t hist[VG_REORDER_HIST]; /* pts of the last frames in, decode order */
  int nhist, hpos;
  int64_t dur;   /* smallest pts step seen: one frame */
  int64_t shift; /* the reorder delay, set at the first frame out after a change */
  bool shift_set;
  int64_t last_dts;
  bool have_last;
  bool skip; /* dropping until a keyframe */
  int64_t dropped;
} vg_reorder;

/* The decoder's reorder depth as the SPS gives it (H.264 VUI
 * max_num_reorder_frames, H.265 sps_max_num_reorder_pics). Only deepens
 * the window (capped at VG_REORDER_MAX); call before the keyframe that
 * carried the SPS is pushed. Frames held are dropped when it changes. */
void vg_reorder_announce(vg_reorder *r, int depth, vg_reorder_out_fn out, void *cb);
/* One frame, in decode (arrival) order. Frames come out through out. */
void vg_reorder_push(vg_reorder *r, int64_t pts, bool key, void *item, vg_reorder_out_fn out,
                     void *cb);
/* End of stream: the held frames go out (keep = true). */
void vg_reorder_drain(vg_reorder *r, vg_reorder_out_fn out, void *cb);
/* Drops the held frames (keep = false) and empties the window. */
void vg_reorder_clear(vg_reorder *r, vg_reorder_out_fn out, void *cb);

#endif
