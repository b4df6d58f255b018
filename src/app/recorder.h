/* recorder.h - keeps every enabled camera connected and writes what it
 * sends into segment files while the camera is recording.
 *
 * Per camera the recorder holds the frames since the last keyframe (the
 * current GOP). A recording starts with that GOP as pre-roll, so the first
 * file of every camera begins on a keyframe at or before the start and the
 * cameras of a room start together; pause and stop cut at once, and a
 * resume waits for the next keyframe, so nothing from a pause is written. Each recording run writes
 * its own fMP4 files (init + one fragment per GOP), rolled on a keyframe every roll_s seconds,
 * closed (and hashed) when the camera drops, pauses or stops. A camera that comes back continues
 * into a new file: the hole between files is the gap.
 *
 * The recorder knows nothing of the store: it reports files through
 * hooks, which the app turns into index rows. All calls and hooks run on
 * the loop thread. */
#ifndef VG_RECORDER_H
#define VG_RECORDER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "ingest/camera.h"
#include "media/frame.h"
#include "media/segwriter.h"

typedef struct vg_recorder vg_recorder;

typedef struct vg_recorder_hooks {
  void *ud;
  /* A segment file was opened; returns its index id (0 if none). */
  int64_t (*segment_opened)(void *ud, int64_t camera_id, int64_t recording_id, const char *path,
                            int64_t start_ms);
  /* A segment file was synced, hashed and closed (info->error on failure). */
  void (*segment_closed)(void *ud, int64_t segment_id, int64_t camera_id, int64_t recording_id,
                         const vg_segfile_info *info);
  /* The camera's status changed. */
  void (*camera_status)(void *ud, int64_t camera_id, vg_camera_status status, const char *reason);
  /* The camera's streams (again after a reconnect); audio may be NULL. */
  void (*camera_params)(void *ud, int64_t camera_id, const vg_codec_params *video,
                        const vg_codec_params *audio);
  /* Every frame, for the live hub; f->data is lent for the call (take a
   * reference to keep it). */
  void (*camera_frame)(void *ud, int64_t camera_id, const vg_frame *f);
} vg_recorder_hooks;

typedef struct vg_recorder_camera_info {
  vg_camera_status status;
  char reason[256];
  bool has_video, has_audio;
  vg_codec_params video, audio;
  vg_camera_stats stats;
  int64_t recording_id; /* what it records into: -1 none, 0 continuous, else a recording */
  bool writing;         /* a segment file is open */
} vg_recorder_camera_info;

/* roll_s: a new file starts on the first keyframe after this many seconds. */
int vg_recorder_new(uv_loop_t *loop, const char *media_dir, int roll_s,
                    const vg_recorder_hooks *hooks, vg_recorder **out);
/* How often an open segment file is synced for power loss (see
 * vg_segwriter_set_sync_ms). */
void vg_recorder_set_sync_ms(vg_recorder *r, int64_t ms);
/* Stops every camera, closes every file (their segment_closed hooks run),
 * then calls cb. */
void vg_recorder_close(vg_recorder *r, void (*cb)(void *ud), void *ud);
void vg_recorder_free(vg_recorder *r);

/* Starts keeping a camera connected. continuous: record it whenever no
 * session records it. Adding an existing id replaces its configuration
 * (the connection restarts; a running recording continues in a new file). */
int vg_recorder_add_camera(vg_recorder *r, const vg_camera_config *cfg, bool continuous);
/* Disconnects a camera, closing its file. VG_ENOTFOUND when unknown. */
int vg_recorder_remove_camera(vg_recorder *r, int64_t camera_id);

/* Records camera into recording_id from now on. The first file begins
 * with the current GOP as pre-roll when its keyframe is not older than
 * not_before (UTC ms; 0 allows any), else at the next keyframe: a resume
 * passes its own time, so nothing from the pause is written. A camera
 * already recording into recording_id goes on undisturbed. VG_ENOTFOUND
 * when unknown. */
int vg_recorder_start(vg_recorder *r, int64_t camera_id, int64_t recording_id, int64_t not_before);
/* Stops recording camera into a session (pause or stop): the open file is
 * cut now and closed. A continuous camera goes back to continuous
 * recording. */
int vg_recorder_stop(vg_recorder *r, int64_t camera_id);

/* The frames since the camera's last keyframe (the current GOP), lent
 * until the loop runs again: a new live viewer starts from them. *n is 0
 * when there is no GOP yet. VG_ENOTFOUND when unknown. */
int vg_recorder_gop(vg_recorder *r, int64_t camera_id, const vg_frame **frames, size_t *n);

/* Ids of the cameras the recorder runs, at most max; returns the count. */
size_t vg_recorder_camera_ids(vg_recorder *r, int64_t *out, size_t max);

int vg_recorder_camera_info_get(vg_recorder *r, int64_t camera_id, vg_recorder_camera_info *out);

/* Path of a segment file: MEDIA/<camera>/<yyyy>/<mm>/<dd>/<start-ms>.mp4 */
void vg_recorder_segment_path(const char *media_dir, int64_t camera_id, int64_t start_ms, char *out,
                              size_t outlen);

#endif
