/* clock_anchor.h - maps a camera's stream timestamps to UTC milliseconds.
 *
 * A camera stamps frames with its own clock (90 kHz RTP time); recordings
 * are indexed by wall time. The anchor ties the first frame's dts to the
 * system time it arrived, then follows the camera clock, correcting it
 * towards the arrival times:
 *
 *   - Arrival is capture plus network latency, never earlier than capture.
 *     So a frame that arrives *before* its mapped time proves the mapping is
 *     late, and the mapping is pulled back to it at once. A frame arriving
 *     after its mapped time proves nothing (latency varies); only when every
 *     frame of a window (VG_ANCHOR_WINDOW_MS of arrival time) arrived late
 *     is the mapping moved forward, by at most VG_ANCHOR_SLEW_MS_PER_S per
 *     second. The mapping thus rides the lower envelope of arrival times and
 *     absorbs a drift of a few ms per second between the two clocks.
 *   - A camera clock jump (dts moving backwards, or the mapping more than
 *     VG_ANCHOR_REANCHOR_MS away from arrival) re-anchors at the arrival.
 *   - Raw timestamps that wrap (33-bit MPEG, 32-bit RTP) are unwrapped.
 *   - Output never goes backwards between consecutive frames.
 *
 * Pure: time comes in as an argument, so tests replay synthetic sequences. */
#ifndef VG_CLOCK_ANCHOR_H
#define VG_CLOCK_ANCHOR_H

#include <stdbool.h>
#include <stdint.h>

#define VG_ANCHOR_REANCHOR_MS 2000
#define VG_ANCHOR_SLEW_MS_PER_S 5
#define VG_ANCHOR_WINDOW_MS 2000
#define VG_ANCHOR_WRAP_BITS 33

/* Unwraps a timestamp counter of `bits` bits into a continuous int64: a
 * step of more than half the period is taken as a wrap. bits >= 63 passes
 * values through. */
typedef struct vg_ts_unwrap {
  bool init;
  int64_t last;   /* last raw value */
  int64_t offset; /* added to raw values */
} vg_ts_unwrap;

int64_t vg_ts_unwrap_next(vg_ts_unwrap *u, int64_t raw, int bits);

typedef struct vg_clock_anchor {
  uint32_t timescale;
  int wrap_bits;
  vg_ts_unwrap unwrap;
  bool anchored;
  int64_t dts0;      /* unwrapped dts at the anchor */
  int64_t wall0_us;  /* wall time at the anchor, plus all corrections */
  int64_t last_dts;  /* unwrapped dts of the previous frame */
  int64_t last_out;  /* output of the previous frame (ms) */
  int64_t win_start; /* arrival ms where the current window began */
  int64_t win_min_err_us;
  int64_t reanchors; /* how many times the clock jumped */
} vg_clock_anchor;

void vg_clock_anchor_init(vg_clock_anchor *a, uint32_t timescale);
/* Forgets the anchor (a new connection); the next frame anchors again. */
void vg_clock_anchor_reset(vg_clock_anchor *a);
/* Maps one frame's dts (raw, possibly wrapping) that arrived at arrival_ms
 * (UTC ms) to its capture time in UTC ms, updating the anchor. Frames must
 * come in decode order. */
int64_t vg_clock_anchor_map(vg_clock_anchor *a, int64_t dts, int64_t arrival_ms);
/* Maps a time given in the anchor's timescale (already unwrapped, same
 * origin as the frames mapped so far) without changing the anchor; used to
 * stamp another track against this one. Returns 0 before the first frame. */
int64_t vg_clock_anchor_peek(const vg_clock_anchor *a, int64_t unwrapped_dts);

#endif
