/* media.c - the recorder inside the app: which cameras run, what their
 * files become in the index, crash repair at start, and the disk floor.
 *
 * The recorder (recorder.c) knows cameras and files; this file knows the
 * store and the events channel. Every camera row that is enabled runs a
 * camera session; camera changes made through the API restart or stop it.
 * Segment files become rows when opened (state open) and are completed
 * when closed; rows still open at start-up are what a crash left behind,
 * and repair cuts their file back to the last whole fragment, hashes it and
 * indexes it, never deleting video. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "app/app.h"
#include "app/recorder.h"
#include "app/secrets.h"
#include "base/clock.h"
#include "base/crypto.h"
#include "base/err.h"
#include "base/log.h"
#include "media/bmff.h"

#define DISK_CHECK_MS 5000

/* ---- recorder hooks ---- */

static int64_t room_of_camera(vg_app *app, int64_t camera_id) {
  vg_camera_row cam;
  return vg_store_camera_get(app->store, camera_id, &cam) == 0 ? cam.room_id : 0;
}

static int64_t on_segment_opened(void *ud, int64_t camera_id, int64_t recording_id,
                                 const char *path, int64_t start_ms) {
  vg_app *app = ud;
  vg_segment g;
  memset(&g, 0, sizeof g);
  g.camera_id = camera_id;
  g.recording_id = recording_id;
  snprintf(g.path, sizeof g.path, "%s", path);
  g.start_ms = g.end_ms = start_ms;
  snprintf(g.state, sizeof g.state, "open");
  if (vg_store_segment_create(app->store, &g) != 0) {
    vg_log_error("index: cannot add segment %s: %s", path, vg_store_errmsg(app->store));
    return 0;
  }
  if (recording_id > 0) {
    vg_recording rec;
    vg_track t;
    memset(&t, 0, sizeof t);
    if (vg_store_recording_get(app->store, recording_id, &rec) == 0) {
      vg_track *tracks = NULL;
      size_t n = 0;
      vg_store_track_list(app->store, recording_id, &tracks, &n);
      for (size_t i = 0; i < n; i++)
        if (tracks[i].camera_id == camera_id) t = tracks[i];
      free(tracks);
      if (t.started_at == 0) {
        t.recording_id = recording_id;
        t.camera_id = camera_id;
        /* Files start with pre-roll; the track starts with the recording. */
        t.started_at = start_ms > rec.started_at ? start_ms : rec.started_at;
        vg_camera_row cam;
        if (!t.camera_name[0] && vg_store_camera_get(app->store, camera_id, &cam) == 0)
          snprintf(t.camera_name, sizeof t.camera_name, "%s", cam.name);
        vg_store_track_put(app->store, &t);
      }
    }
  }
  return g.id;
}

/* The hash of a track: SHA-256 over its segment hashes in order, so one
 * value vouches for every file of the camera in the recording. */
void vg_media_track_seal(vg_app *app, int64_t recording_id, int64_t camera_id) {
  vg_segment *segs = NULL;
  size_t n = 0;
  if (vg_store_segment_list(app->store, recording_id, camera_id, &segs, &n) != 0) return;
  vg_track *tracks = NULL;
  size_t nt = 0;
  vg_store_track_list(app->store, recording_id, &tracks, &nt);
  for (size_t i = 0; i < nt; i++) {
    if (tracks[i].camera_id != camera_id) continue;
    vg_track t = tracks[i];
    vg_str all = VG_STR_INIT;
    int64_t bytes = 0, end = 0;
    bool complete = true;
    for (size_t k = 0; k < n; k++) {
      if (strcmp(segs[k].state, "open") == 0) complete = false;
      vg_str_append(&all, segs[k].sha256, strlen(segs[k].sha256));
      bytes += segs[k].bytes;
      if (segs[k].end_ms > end) end = segs[k].end_ms;
    }
    t.bytes = bytes;
    if (end) t.ended_at = end;
    if (complete && n > 0) {
      uint8_t d[32];
      vg_sha256(all.data ? all.data : "", all.len, d);
      vg_hex(d, 32, t.sha256);
    }
    vg_str_free(&all);
    vg_store_track_put(app->store, &t);
  }
  free(tracks);
  free(segs);
}

static void on_segment_closed(void *ud, int64_t segment_id, int64_t camera_id, int64_t recording_id,
                              const vg_segfile_info *info) {
  vg_app *app = ud;
  vg_segment g;
  if (segment_id <= 0 || vg_store_segment_get(app->store, segment_id, &g) != 0) return;
  g.end_ms = info->end_ms;
  g.bytes = (int64_t)info->bytes;
  g.frames = info->frames;
  snprintf(g.sha256, sizeof g.sha256, "%s", info->sha256);
  snprintf(g.state, sizeof g.state, "closed");
  if (vg_store_segment_update(app->store, &g) != 0)
    vg_log_error("index: cannot complete segment %s", g.path);
  if (info->error) {
    vg_audit(app, NULL, "segment.error", "",
             json_pack("{s:s,s:s}", "path", g.path, "error", info->error_msg));
    vg_events_publish(app->events, "alarm", VG_EVENTS_ADMINS,
                      json_pack("{s:s,s:s}", "code", "write_failed", "message", info->error_msg));
  }
  if (recording_id > 0) vg_media_track_seal(app, recording_id, camera_id);
}

static void on_camera_status(void *ud, int64_t camera_id, vg_camera_status status,
                             const char *reason) {
  vg_app *app = ud;
  int64_t room_id = room_of_camera(app, camera_id);
  vg_live_camera_status(app->live, camera_id, status);
  json_t *p = json_pack("{s:I,s:I,s:s}", "camera_id", (json_int_t)camera_id, "room_id",
                        (json_int_t)room_id, "status", vg_camera_status_name(status));
  if (reason[0]) json_object_set_new(p, "error", json_string(reason));
  vg_events_publish(app->events, "camera.status", room_id, p);
}

static void on_camera_params(void *ud, int64_t camera_id, const vg_codec_params *video,
                             const vg_codec_params *audio) {
  vg_app *app = ud;
  vg_live_camera_params(app->live, camera_id);
}

static void on_camera_frame(void *ud, int64_t camera_id, const vg_frame *f) {
  vg_app *app = ud;
  vg_live_camera_frame(app->live, camera_id, f);
}

/* ---- cameras ---- */

static int camera_config(vg_app *app, const vg_camera_row *row, vg_camera_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->id = row->id;
  snprintf(cfg->url, sizeof cfg->url, "%s", row->url);
  snprintf(cfg->username, sizeof cfg->username, "%s", row->username);
  cfg->udp = strcmp(row->transport, "udp") == 0;
  if (row->password_enc_len) {
    size_t len;
    int rc = vg_secret_open(app->secret_key, row->password_enc, row->password_enc_len,
                            cfg->password, sizeof cfg->password, &len);
    if (rc) {
      vg_log_error("camera %lld: its password cannot be opened with this key file",
                   (long long)row->id);
      return rc;
    }
  }
  return 0;
}

int vg_media_substream_config(vg_app *app, int64_t camera_id, vg_camera_config *cfg) {
  vg_camera_row row;
  int rc = vg_store_camera_get(app->store, camera_id, &row);
  if (rc) return rc;
  if (!row.substream_url[0]) return VG_ENOTFOUND;
  rc = camera_config(app, &row, cfg);
  if (rc) return rc;
  /* Same credentials and transport, the substream's address. */
  snprintf(cfg->url, sizeof cfg->url, "%s", row.substream_url);
  return 0;
}

static void camera_run(vg_app *app, const vg_camera_row *row) {
  vg_room room;
  bool on =
      row->enabled && vg_store_room_get(app->store, row->room_id, &room) == 0 && !room.disabled;
  if (!on) {
    vg_recorder_remove_camera(app->recorder, row->id);
    return;
  }
  vg_camera_config cfg;
  if (camera_config(app, row, &cfg) == 0) {
    vg_recorder_add_camera(app->recorder, &cfg, row->continuous);
    /* A camera added to a room that is recording joins the recording. */
    vg_recording rec;
    if (vg_store_recording_active(app->store, row->room_id, &rec) == 0 &&
        strcmp(rec.state, "recording") == 0)
      vg_recorder_start(app->recorder, row->id, rec.id, vg_now_ms());
  }
  explicit_bzero(cfg.password, sizeof cfg.password);
}

void vg_media_camera_changed(vg_app *app, const char *action, const vg_camera_row *cam) {
  if (!app->recorder) return;
  if (strcmp(action, "deleted") == 0)
    vg_recorder_remove_camera(app->recorder, cam->id);
  else
    camera_run(app, cam);
}

void vg_media_room_changed(vg_app *app, int64_t room_id) {
  vg_camera_row *cams = NULL;
  size_t n = 0;
  if (!app->recorder || vg_store_camera_list(app->store, room_id, &cams, &n) != 0) return;
  for (size_t i = 0; i < n; i++) camera_run(app, &cams[i]);
  free(cams);
  /* Cameras whose rows are gone (a room deleted with them) stop. */
  int64_t ids[1024];
  size_t count = vg_recorder_camera_ids(app->recorder, ids, 1024);
  for (size_t i = 0; i < count && i < 1024; i++) {
    vg_camera_row row;
    if (vg_store_camera_get(app->store, ids[i], &row) == VG_ENOTFOUND)
      vg_recorder_remove_camera(app->recorder, ids[i]);
  }
}

void vg_media_camera_json(vg_app *app, int64_t camera_id, json_t *j) {
  vg_recorder_camera_info info;
  if (!app->recorder || vg_recorder_camera_info_get(app->recorder, camera_id, &info) != 0) {
    json_object_set_new(j, "status", json_string("offline"));
    return;
  }
  json_object_set_new(j, "status", json_string(vg_camera_status_name(info.status)));
  if (info.reason[0]) json_object_set_new(j, "error", json_string(info.reason));
  if (info.has_video) {
    double fps = info.video.fps_den ? (double)info.video.fps_num / info.video.fps_den : 0;
    json_object_set_new(
        j, "video",
        json_pack("{s:s,s:i,s:i,s:f}", "codec", info.video.codec == VG_CODEC_H265 ? "h265" : "h264",
                  "width", info.video.width, "height", info.video.height, "fps", fps));
  }
  if (info.has_audio)
    json_object_set_new(j, "audio",
                        json_pack("{s:s,s:i,s:i}", "codec", "aac", "sample_rate",
                                  info.audio.sample_rate, "channels", info.audio.channels));
  json_object_set_new(
      j, "stats",
      json_pack("{s:f,s:f,s:I,s:I,s:I}", "bitrate_kbps", info.stats.bitrate_kbps, "fps",
                info.stats.fps, "last_frame_at", (json_int_t)info.stats.last_frame_ms, "reconnects",
                (json_int_t)info.stats.reconnects, "frames", (json_int_t)info.stats.frames));
  json_object_set_new(j, "recording", json_boolean(info.writing));
}

int vg_media_record(vg_app *app, int64_t room_id, int64_t recording_id, int64_t not_before) {
  vg_camera_row *cams = NULL;
  size_t n = 0;
  int rc = vg_store_camera_list(app->store, room_id, &cams, &n);
  if (rc) return rc;
  for (size_t i = 0; i < n; i++) {
    if (!cams[i].enabled) continue;
    if (recording_id > 0)
      vg_recorder_start(app->recorder, cams[i].id, recording_id, not_before);
    else
      vg_recorder_stop(app->recorder, cams[i].id);
  }
  free(cams);
  return 0;
}

/* ---- crash repair ---- */

static int read_file(const char *path, uint8_t **out, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? VG_ENOTFOUND : VG_EIO;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close(fd);
    return VG_EIO;
  }
  uint8_t *data = malloc(st.st_size ? (size_t)st.st_size : 1);
  size_t got = 0;
  while (data && got < (size_t)st.st_size) {
    ssize_t r = read(fd, data + got, (size_t)st.st_size - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fd);
  if (!data) return VG_ENOMEM;
  *out = data;
  *len = got;
  return 0;
}

/* Cuts a file left open by a crash back to its last whole fragment and
 * indexes what it holds. */
static void repair_segment(vg_app *app, vg_segment *g) {
  uint8_t *data = NULL;
  size_t len = 0;
  int rc = read_file(g->path, &data, &len);
  if (rc) {
    vg_log_warn("repair: %s: %s; its index row says nothing was kept", g->path, vg_strerror(rc));
    g->bytes = 0;
    snprintf(g->state, sizeof g->state, "repaired");
    vg_store_segment_update(app->store, g);
    return;
  }
  vg_bmff_scan_result scan;
  vg_bmff_scan(data, len, &scan);
  free(data);
  if (scan.has_init && scan.complete_end < len && truncate(g->path, (off_t)scan.complete_end) != 0)
    vg_log_error("repair: cannot cut %s: %s", g->path, strerror(errno));
  /* The file's span from the main track's fragments. */
  for (int i = 0; i < scan.ntracks; i++) {
    const vg_bmff_track *t = &scan.tracks[i];
    if (t->timescale == 0 || t->fragments == 0) continue;
    int64_t span_ms =
        (int64_t)((t->last_tfdt + t->last_duration - t->first_tfdt) * 1000 / t->timescale);
    if (i == 0 || t->handler == 0x76696465 /* vide */) g->end_ms = g->start_ms + span_ms;
    if (t->handler == 0x76696465) g->frames = (int64_t)t->samples;
  }
  uint64_t bytes = 0;
  if (vg_file_sha256(g->path, g->sha256, &bytes) == 0) g->bytes = (int64_t)bytes;
  snprintf(g->state, sizeof g->state, "repaired");
  vg_store_segment_update(app->store, g);
  vg_log_info("repair: %s kept %u fragments, %lld ms", g->path, scan.fragments,
              (long long)(g->end_ms - g->start_ms));
}

static void repair(vg_app *app) {
  vg_segment *open_segs = NULL;
  size_t n = 0;
  if (vg_store_segment_list_open(app->store, &open_segs, &n) == 0) {
    for (size_t i = 0; i < n; i++) repair_segment(app, &open_segs[i]);
    free(open_segs);
  }
  /* Sessions that were running when the server died end where their video
   * ends: nobody can know what was said after. */
  vg_recording *active = NULL;
  size_t na = 0;
  if (vg_store_recording_list_active(app->store, &active, &na) != 0) return;
  for (size_t i = 0; i < na; i++) {
    vg_recording *rec = &active[i];
    vg_segment *segs = NULL;
    size_t ns = 0;
    int64_t end = rec->started_at;
    vg_store_segment_list(app->store, rec->id, 0, &segs, &ns);
    for (size_t k = 0; k < ns; k++)
      if (segs[k].end_ms > end) end = segs[k].end_ms;
    if (strcmp(rec->state, "recording") == 0) vg_store_span_close(app->store, rec->id, end);
    snprintf(rec->state, sizeof rec->state, "stopped");
    rec->ended_at = end;
    vg_store_recording_update(app->store, rec);
    vg_track *tracks = NULL;
    size_t nt = 0;
    vg_store_track_list(app->store, rec->id, &tracks, &nt);
    for (size_t k = 0; k < nt; k++) vg_media_track_seal(app, rec->id, tracks[k].camera_id);
    free(tracks);
    free(segs);
    char target[32];
    snprintf(target, sizeof target, "recording:%lld", (long long)rec->id);
    vg_audit(app, NULL, "recording.interrupted", target,
             json_pack("{s:I}", "ended_at", (json_int_t)end));
    vg_log_warn("recording %lld was interrupted; stopped at its last video", (long long)rec->id);
  }
  free(active);
}

/* ---- disk floor ---- */

int64_t vg_media_free_mb(vg_app *app) {
  struct statvfs st;
  if (statvfs(app->cfg.data_dir, &st) != 0) return -1;
  return (int64_t)((uint64_t)st.f_bavail * st.f_frsize / (1024 * 1024));
}

bool vg_media_disk_low(vg_app *app) {
  int64_t free_mb = vg_media_free_mb(app);
  return free_mb >= 0 && free_mb < app->cfg.disk_floor_mb;
}

static int cmp_id(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* Thumbnails are pictures of the recording (DATA/cache/thumbs/<segment
 * id>-<keyframe ms>-<width>.jpg): they go with the segments they show. */
static void unlink_thumbs(const char *data_dir, const vg_segment *segs, size_t n) {
  char dir[VG_MEDIA_PATH_MAX + 32];
  snprintf(dir, sizeof dir, "%s/cache/thumbs", data_dir);
  DIR *d = opendir(dir);
  if (!d) return;
  int64_t *ids = malloc(n * sizeof *ids);
  if (!ids) {
    closedir(d);
    return;
  }
  for (size_t i = 0; i < n; i++) ids[i] = segs[i].id;
  qsort(ids, n, sizeof *ids, cmp_id);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    char *end;
    errno = 0;
    long long id = strtoll(e->d_name, &end, 10);
    if (errno || end == e->d_name || *end != '-') continue;
    int64_t key = id;
    if (!bsearch(&key, ids, n, sizeof *ids, cmp_id)) continue;
    if (unlinkat(dirfd(d), e->d_name, 0) != 0 && errno != ENOENT)
      vg_log_error("delete: cannot delete %s/%s: %s", dir, e->d_name, strerror(errno));
  }
  closedir(d);
  free(ids);
}

void vg_media_unlink_segments(const char *data_dir, const vg_segment *segs, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (unlink(segs[i].path) != 0 && errno != ENOENT)
      vg_log_error("delete: cannot delete %s: %s", segs[i].path, strerror(errno));
  if (n) unlink_thumbs(data_dir, segs, n);
}

int vg_media_recording_forget(vg_app *app, const vg_recording *rec, const char *reason,
                              vg_segment **segs, size_t *n) {
  int rc = vg_store_segment_list(app->store, rec->id, 0, segs, n);
  if (!rc) rc = vg_store_recording_delete(app->store, rec->id);
  if (rc) {
    vg_log_error("delete: recording %lld: %s", (long long)rec->id, vg_strerror(rc));
    free(*segs);
    *segs = NULL;
    *n = 0;
    return rc;
  }
  char target[32];
  snprintf(target, sizeof target, "recording:%lld", (long long)rec->id);
  vg_audit(app, NULL, "recording.delete", target,
           json_pack("{s:s,s:I,s:s,s:I,s:I}", "reason", reason, "room_id", (json_int_t)rec->room_id,
                     "title", rec->title, "ended_at", (json_int_t)rec->ended_at, "files",
                     (json_int_t)*n));
  vg_events_publish(app->events, "recording.changed", rec->room_id,
                    json_pack("{s:s,s:I,s:s}", "action", "deleted", "recording_id",
                              (json_int_t)rec->id, "reason", reason));
  return 0;
}

/* Deletes one expired recording's files and rows. */
static void delete_recording(vg_app *app, const vg_recording *rec) {
  vg_segment *segs = NULL;
  size_t n = 0;
  if (vg_media_recording_forget(app, rec, "retention_and_disk_floor", &segs, &n) != 0) return;
  vg_media_unlink_segments(app->cfg.data_dir, segs, n);
  free(segs);
}

static void disk_check(uv_timer_t *t) {
  vg_app *app = t->data;
  if (!vg_media_disk_low(app)) return;
  int64_t now = vg_now_ms();
  for (int round = 0; round < 100 && vg_media_disk_low(app); round++) {
    vg_recording *old = NULL;
    size_t n = 0;
    if (vg_store_recording_list_expired(app->store, now, 1, &old, &n) != 0 || n == 0) {
      free(old);
      break;
    }
    delete_recording(app, &old[0]);
    free(old);
  }
  if (!vg_media_disk_low(app)) return;
  vg_recording *active = NULL;
  size_t n = 0;
  if (vg_store_recording_list_active(app->store, &active, &n) != 0) return;
  for (size_t i = 0; i < n; i++) vg_recordings_stop_by_system(app, &active[i], "disk_full");
  free(active);
  char msg[160];
  snprintf(msg, sizeof msg, "free space %lld MB is below the floor of %lld MB: recording stopped",
           (long long)vg_media_free_mb(app), (long long)app->cfg.disk_floor_mb);
  static int64_t last_alarm;
  if (n > 0 || now - last_alarm > 60000) {
    last_alarm = now;
    vg_log_error("disk: %s", msg);
    vg_events_publish(app->events, "alarm", VG_EVENTS_ADMINS,
                      json_pack("{s:s,s:s}", "code", "disk_full", "message", msg));
    if (n > 0) vg_audit(app, NULL, "disk.full", "", json_pack("{s:s}", "message", msg));
  }
}

/* ---- start and stop ---- */

int vg_media_start(vg_app *app) {
  char media[VG_PATH_MAX + 8];
  snprintf(media, sizeof media, "%s/media", app->cfg.data_dir);
  if (mkdir(media, 0750) != 0 && errno != EEXIST) {
    fprintf(stderr, "vigil: cannot create %s: %s\n", media, strerror(errno));
    return VG_EIO;
  }
  repair(app);
  int lrc = vg_live_new(app, &app->live);
  if (lrc) return lrc;
  vg_recorder_hooks hooks = {app,         on_segment_opened, on_segment_closed, on_camera_status,
                             on_camera_params, on_camera_frame};
  vg_camera_set_read_tick_ms((int)app->cfg.ingest_tick_ms);
  int rc = vg_recorder_new(app->loop, media, (int)app->cfg.segment_seconds, &hooks, &app->recorder);
  if (rc) return rc;
  vg_recorder_set_sync_ms(app->recorder, app->cfg.record_sync_ms);
  vg_media_room_changed(app, 0);
  uv_timer_init(app->loop, &app->disk_timer);
  app->disk_timer.data = app;
  uv_timer_start(&app->disk_timer, disk_check, 0, DISK_CHECK_MS);
  return 0;
}

void vg_media_stop(vg_app *app, void (*cb)(void *), void *ud) {
  uv_close((uv_handle_t *)&app->disk_timer, NULL);
  vg_recorder_close(app->recorder, cb, ud);
}
