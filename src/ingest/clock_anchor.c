/* clock_anchor.c - stream timestamps to UTC ms; see clock_anchor.h for the
 * model (lower envelope of arrival times, bounded slew, re-anchor on jumps). */
#include "clock_anchor.h"

#include <limits.h>
#include <string.h>

int64_t vg_ts_unwrap_next(vg_ts_unwrap *u, int64_t raw, int bits) {
  if (bits <= 0 || bits >= 63) return raw;
  if (!u->init) {
    u->init = true;
    u->last = raw;
    u->offset = 0;
    return raw;
  }
  int64_t period = (int64_t)1 << bits;
  int64_t d = raw - u->last;
  /* A late value from before the wrap steps back over it, so the offset
   * follows the raw value in both directions. */
  if (d < -period / 2)
    u->offset += period;
  else if (d > period / 2)
    u->offset -= period;
  u->last = raw;
  return raw + u->offset;
}

void vg_clock_anchor_init(vg_clock_anchor *a, uint32_t timescale) {
  memset(a, 0, sizeof *a);
  a->timescale = timescale ? timescale : 90000;
  a->wrap_bits = VG_ANCHOR_WRAP_BITS;
}

void vg_clock_anchor_reset(vg_clock_anchor *a) {
  uint32_t ts = a->timescale;
  int bits = a->wrap_bits;
  int64_t reanchors = a->reanchors;
  int64_t last_out = a->last_out;
  memset(a, 0, sizeof *a);
  a->timescale = ts;
  a->wrap_bits = bits;
  a->reanchors = reanchors;
  a->last_out = last_out; /* a new connection still never goes backwards */
}

/* Stream ticks since the anchor, in microseconds; 128-bit so that months
 * of 90 kHz ticks cannot overflow. */
static int64_t ticks_to_us(const vg_clock_anchor *a, int64_t ticks) {
  __int128 v = (__int128)ticks * 1000000;
  return (int64_t)(v / a->timescale);
}

static int64_t floor_div(int64_t x, int64_t d) {
  int64_t q = x / d;
  return (x % d != 0 && ((x < 0) != (d < 0))) ? q - 1 : q;
}

static void anchor_at(vg_clock_anchor *a, int64_t u, int64_t arrival_ms) {
  a->anchored = true;
  a->dts0 = u;
  a->wall0_us = arrival_ms * 1000;
  a->win_start = arrival_ms;
  a->win_min_err_us = INT64_MAX;
}

int64_t vg_clock_anchor_map(vg_clock_anchor *a, int64_t dts, int64_t arrival_ms) {
  int64_t u = vg_ts_unwrap_next(&a->unwrap, dts, a->wrap_bits);
  int64_t arr_us = arrival_ms * 1000;
  int64_t mapped;

  if (!a->anchored) {
    anchor_at(a, u, arrival_ms);
    mapped = arr_us;
  } else if (u < a->last_dts) {
    /* The camera clock went back: nothing before it says where we are. */
    a->reanchors++;
    anchor_at(a, u, arrival_ms);
    mapped = arr_us;
  } else {
    mapped = a->wall0_us + ticks_to_us(a, u - a->dts0);
    int64_t err = arr_us - mapped;
    if (err < -(int64_t)VG_ANCHOR_REANCHOR_MS * 1000) {
      /* Arrived seconds before it was captured: the camera clock jumped. */
      a->reanchors++;
      anchor_at(a, u, arrival_ms);
      mapped = arr_us;
    } else if (err < 0) {
      /* Early arrival proves the mapping late; pull it back at once. */
      a->wall0_us += err;
      mapped = arr_us;
    } else {
      if (err < a->win_min_err_us) a->win_min_err_us = err;
      int64_t span = arrival_ms - a->win_start;
      if (span >= VG_ANCHOR_WINDOW_MS) {
        int64_t step = a->win_min_err_us;
        if (step > (int64_t)VG_ANCHOR_REANCHOR_MS * 1000) {
          /* Late all window long by seconds: the camera clock jumped back
           * by less than the time that passed. Move to the envelope. */
          a->reanchors++;
        } else {
          int64_t cap = span * VG_ANCHOR_SLEW_MS_PER_S; /* ms * ms/s = us */
          if (step > cap) step = cap;
        }
        a->wall0_us += step;
        mapped += step;
        a->win_start = arrival_ms;
        a->win_min_err_us = INT64_MAX;
      }
    }
  }
  a->last_dts = u;
  int64_t out = floor_div(mapped, 1000);
  if (out < a->last_out) out = a->last_out;
  a->last_out = out;
  return out;
}

int64_t vg_clock_anchor_peek(const vg_clock_anchor *a, int64_t unwrapped_dts) {
  if (!a->anchored) return 0;
  return floor_div(a->wall0_us + ticks_to_us(a, unwrapped_dts - a->dts0), 1000);
}
