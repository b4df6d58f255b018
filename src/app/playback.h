/* playback.h - a camera of a recording as one MP4: the endpoint
 * GET /api/v1/recordings/{id}/media/{camera_id}.mp4?from=&to= and the
 * helper that turns recording seconds into segment files and wall-clock
 * spans for media/mp4build.h. */
#ifndef VG_PLAYBACK_H
#define VG_PLAYBACK_H

#include <stddef.h>
#include <stdint.h>

#include "app/app.h"
#include "media/mp4build.h"

/* What to build: the segment files of one camera and the wall-clock spans
 * of the asked-for stretch of recording time. */
typedef struct vg_playback_plan {
  vg_mp4build_input *segs; /* paths owned by the plan */
  size_t nsegs;
  vg_mp4build_span *spans;
  size_t nspans;
  double from_s, to_s; /* recording seconds, as resolved (to_s: the end when asked for < 0) */
  double recorded_s;   /* the recording's whole recorded time */
  uint64_t fingerprint; /* changes when the segment list or an open file grows */
} vg_playback_plan;

/* Store look-ups only (call it on the loop). from/to: recording seconds
 * (pauses left out, like marker times); to_s < 0: the end. Returns 0,
 * VG_EINVAL (err says why: from after to, negative, past the recording),
 * VG_ENOTFOUND (no such recording, or camera not in it) or VG_EDB. */
int vg_playback_plan_make(vg_app *app, int64_t recording_id, int64_t camera_id, double from_s,
                          double to_s, vg_playback_plan *out, char *err, size_t errlen);
void vg_playback_plan_free(vg_playback_plan *p);

/* Plan and build in one blocking call (store queries and file reads):
 * for the CLI and exports that run off the loop with their own store
 * access. VG_EINVAL / VG_ENOTFOUND as above. */
int vg_playback_open(vg_app *app, int64_t recording_id, int64_t camera_id, double from_s,
                     double to_s, vg_mp4build **out);

/* The cache of built MP4s (see playback.c): drops entries idle too long
 * (the housekeeping timer calls it), and frees it at shutdown. */
void vg_playback_cache_sweep(vg_app *app);
void vg_playback_cache_free(vg_app *app);

/* Router entry: rest is what follows "/api/v1/recordings/{id}/media/"
 * ("{camera_id}.mp4"). Answers itself. */
void vg_playback_handle(vg_req *r, int64_t recording_id, const char *rest);

#endif
