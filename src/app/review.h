/* review.h - clips (clips.c), retention and locks (retention.c), export
 * packages and their signatures (export.c).
 *
 * The routes: /api/v1/recordings/{id}/clips and /export and PATCH
 * /api/v1/recordings/{id} come through recordings.c; /api/v1/clips/...
 * through the router. */
#ifndef VG_REVIEW_H
#define VG_REVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/app.h"

/* ---- clips.c ---- */

json_t *vg_clip_json(const vg_clip *c);
/* The clips of a recording as a JSON array (empty on failure). */
json_t *vg_clips_json(vg_app *app, int64_t recording_id);
/* GET/POST /api/v1/recordings/{id}/clips. */
void vg_clips_recording_handle(vg_req *r, int64_t recording_id);
/* /api/v1/clips/{id}[/media/{camera}.mp4|/export]; sub after "/clips". */
void vg_clips_handle(vg_req *r, const char *sub);
/* Wall-clock ms of recording second t through the spans (pauses left
 * out); 0 when t is past them. */
int64_t vg_review_wall_ms(const vg_span *spans, size_t n, double t);
/* Seconds recorded (spans, an open one up to now). */
double vg_review_recorded_seconds(vg_app *app, int64_t recording_id);
/* Loads a recording for a review URL: 401 without a user, 404 when it
 * does not exist, 403 when the caller may not see its room. */
bool vg_review_load(vg_req *r, int64_t recording_id, vg_recording *rec);
/* Operators and administrators; answers 403 otherwise. */
bool vg_review_may_edit(vg_req *r);
/* GET /api/v1/clips/{id}/media/{camera_id}.mp4 (rest: "{camera_id}.mp4"). */
void vg_review_clip_media(vg_req *r, const vg_clip *c, const vg_recording *rec, const char *rest);

/* ---- retention.c ---- */

/* {"mode", "days"?, "until"?, "expires_at", "kept"} of a recording. */
json_t *vg_retention_json(vg_app *app, int64_t recording_id);
/* PATCH /api/v1/recordings/{id}: {"retention", "locked", "title"}.
 * Answers with details(app, rec) on success. */
void vg_retention_patch(vg_req *r, vg_recording *rec,
                        json_t *(*details)(vg_app *app, const vg_recording *rec));
/* The background task: a timer every cfg.retention_check_seconds (and once at
 * start) deleting expired recordings. */
int vg_retention_start(vg_app *app);
void vg_retention_stop(vg_app *app);

/* ---- export.c ---- */

#define VG_SIGN_PUBLIC_FILE "sign.pub"
#define VG_SIGN_SECRET_FILE "sign.key"

/* GET or POST /api/v1/recordings/{id}/export (clip NULL) or
 * /api/v1/clips/{id}/export: the ZIP package. */
void vg_export_handle(vg_req *r, const vg_recording *rec, const vg_clip *clip);
/* GET /api/v1/signing-key: the public key export manifests are signed
 * with, {"algorithm", "public_key", "key_id"}, for `vigil verify --key`. */
void vg_export_key_handle(vg_req *r);
/* Loads DATA/sign.key (the Ed25519 secret key, 0600), creating it on first
 * use; pk is derived from it. */
int vg_export_key_load(const char *data_dir, uint8_t pk[32], uint8_t sk[64], char *err,
                       size_t errlen);
/* `vigil verify PACKAGE.zip`: checks manifest.sig over manifest.json with
 * the key the manifest names (and, when pin is non-NULL, that key is pin,
 * base64), then every listed file's size and SHA-256, and that no file is
 * missing or unlisted. Prints what does not match to out. Returns 0 when
 * everything matches, 1 otherwise. */
int vg_export_verify_file(const char *path, const char *pin, void *out_file);

#endif
