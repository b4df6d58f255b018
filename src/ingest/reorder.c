/* reorder.c - decode time stamps for video with B-frames (see reorder.h). */
#include "ingest/reorder.h"

#include <stddef.h>

static void drop_held(vg_reorder *r, vg_reorder_out_fn out, void *cb) {
  for (int i = 0; i < r->n; i++) {
    r->dropped++;
    out(cb, r->q[i].item, r->q[i].pts, r->q[i].pts, r->q[i].key, false);
  }
  r->n = r->npool = 0;
  r->shift_set = false;
}

static int64_t pool_pop_min(vg_reorder *r) {
  int m = 0;
  for (int i = 1; i < r->npool; i++)
    if (r->pool[i] < r->pool[m]) m = i;
  int64_t v = r->pool[m];
  r->pool[m] = r->pool[--r->npool];
  return v;
}

/* One frame step from the pts held: the smallest positive difference. */
static void learn_dur(vg_reorder *r, int64_t pts) {
  for (int i = 0; i < r->nhist; i++) {
    int64_t d = pts - r->hist[i];
    if (d < 0) d = -d;
    if (d > 0 && (r->dur == 0 || d < r->dur)) r->dur = d;
  }
}

/* The oldest held frame goes out; false when it could not (dropped). */
static bool out_one(vg_reorder *r, vg_reorder_out_fn out, void *cb) {
  vg_reorder_slot f = r->q[0];
  for (int i = 1; i < r->n; i++) r->q[i - 1] = r->q[i];
  r->n--;
  int64_t m = pool_pop_min(r);
  if (!r->shift_set) {
    r->shift = (int64_t)r->depth * (r->dur > 0 ? r->dur : 1);
    r->shift_set = true;
  }
  int64_t dts = m - r->shift;
  if (r->have_last && dts <= r->last_dts) dts = r->last_dts + 1;
  if (dts > f.pts) { /* no room behind the frames already out */
    r->dropped++;
    out(cb, f.item, f.pts, f.pts, f.key, false);
    drop_held(r, out, cb);
    r->skip = true;
    return false;
  }
  r->last_dts = dts;
  r->have_last = true;
  out(cb, f.item, f.pts, dts, f.key, true);
  return true;
}

void vg_reorder_announce(vg_reorder *r, int depth, vg_reorder_out_fn out, void *cb) {
  if (depth > VG_REORDER_MAX) depth = VG_REORDER_MAX;
  if (depth <= r->depth) return;
  drop_held(r, out, cb);
  r->depth = depth;
}

void vg_reorder_push(vg_reorder *r, int64_t pts, bool key, void *item, vg_reorder_out_fn out,
                     void *cb) {
  /* Frames in before this one that show after it. A keyframe is never
   * one shown before those, and a pts below all the recent ones is a
   * jump back (a camera clock reset), not reordering. */
  int later = 0;
  bool inside = false;
  for (int i = 0; i < r->nhist; i++) {
    if (r->hist[i] > pts) later++;
    if (r->hist[i] < pts) inside = true;
  }
  if (key || !inside) later = 0;
  learn_dur(r, pts);
  r->hist[r->hpos] = pts;
  r->hpos = (r->hpos + 1) % VG_REORDER_HIST;
  if (r->nhist < VG_REORDER_HIST) r->nhist++;
  if (later > r->depth && r->depth < VG_REORDER_MAX) {
    drop_held(r, out, cb);
    r->depth = later > VG_REORDER_MAX ? VG_REORDER_MAX : later;
    r->skip = true;
  }
  if (key) r->skip = false;
  if (r->skip) {
    r->dropped++;
    out(cb, item, pts, pts, key, false);
    return;
  }
  if (r->depth == 0) {                        /* no reordering: straight through, dts = pts */
    if (r->have_last && pts <= r->last_dts) { /* went back: dropped, as without this module */
      r->dropped++;
      out(cb, item, pts, pts, key, false);
      return;
    }
    r->last_dts = pts;
    r->have_last = true;
    out(cb, item, pts, pts, key, true);
    return;
  }
  r->q[r->n++] = (vg_reorder_slot){.pts = pts, .key = key, .item = item};
  r->pool[r->npool++] = pts;
  while (r->n > r->depth)
    if (!out_one(r, out, cb)) break;
}

void vg_reorder_drain(vg_reorder *r, vg_reorder_out_fn out, void *cb) {
  while (r->n > 0)
    if (!out_one(r, out, cb)) break;
}

void vg_reorder_clear(vg_reorder *r, vg_reorder_out_fn out, void *cb) {
  drop_held(r, out, cb);
  *r = (vg_reorder){0};
}
