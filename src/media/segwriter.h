/* segwriter.h - writes segment files off the event loop.
 *
 * One writer thread serves every camera: the loop queues "open", "append"
 * and "close" commands with shared fragment buffers, the thread does the
 * blocking I/O in order, and completions come back to the loop through
 * uv_async. Each fragment is written with one write(), or one writev()
 * of its parts (head and the frames' own buffers, not copied), and the
 * file is synced (fdatasync) every sync_ms (vg_segwriter_set_sync_ms,
 * VG_SEG_SYNC_MS by default), so a file on disk is always init + whole
 * fragments + at most one torn fragment at its end, which repair cuts off.
 * The sync is for power loss only: a killed process loses nothing written
 * (the page cache holds it), a power cut what was written since the last
 * sync.
 * The SHA-256 of each file is computed as it is written, so closing does
 * not read the file back. */
#ifndef VG_SEGWRITER_H
#define VG_SEGWRITER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "base/buf.h"
#include "media/fmp4.h"

/* Past this many queued bytes the disk is not keeping up: new fragments
 * are refused (and counted) rather than growing memory without bound. */
#define VG_SEG_MAX_QUEUED (256u << 20)
#define VG_SEG_SYNC_MS 5000

typedef struct vg_segwriter vg_segwriter;
typedef struct vg_segfile vg_segfile;

typedef struct vg_segfile_info {
  char path[1024];
  int64_t start_ms, end_ms; /* wall clock of the first and after the last frame */
  uint64_t bytes;
  int64_t frames;
  int64_t fragments;
  char sha256[65];
  int error; /* 0, or the first VG_E* error writing this file */
  char error_msg[1200];
} vg_segfile_info;

typedef void (*vg_segfile_done_cb)(void *ud, const vg_segfile_info *info);

int vg_segwriter_new(uv_loop_t *loop, vg_segwriter **out);
/* Finishes every queued command, then stops the thread. Blocking: call at
 * shutdown only. */
void vg_segwriter_free(vg_segwriter *w);
/* Syncs each open file at most this often (0: after every fragment).
 * Closing a file always syncs it. */
void vg_segwriter_set_sync_ms(vg_segwriter *w, int64_t ms);
/* Bytes queued and not yet written. */
uint64_t vg_segwriter_queued(vg_segwriter *w);

/* Opens path (creating its folders) and writes init as its first bytes.
 * Errors surface in the done callback of vg_segfile_close (and in
 * vg_segfile_failed). init is referenced, not taken. */
vg_segfile *vg_segfile_open(vg_segwriter *w, const char *path, vg_buf *init, int64_t start_ms);
/* Queues a fragment (referenced, not taken) covering frames up to end_ms.
 * Returns VG_ETOOBIG when the writer is too far behind. */
int vg_segfile_append(vg_segfile *f, vg_buf *fragment, int64_t end_ms, int64_t frames);
/* vg_segfile_append of a fragment in parts, which it takes: p is emptied
 * whatever the result (the writer drops the references once written). */
int vg_segfile_append_parts(vg_segfile *f, vg_fmp4_parts *p, int64_t end_ms, int64_t frames);
/* Syncs and closes; done runs on the loop with the file's facts, after
 * which f is gone. */
void vg_segfile_close(vg_segfile *f, vg_segfile_done_cb done, void *ud);
const char *vg_segfile_path(const vg_segfile *f);
int64_t vg_segfile_start_ms(const vg_segfile *f);
/* Bytes and frames appended so far (as queued). */
int64_t vg_segfile_frames(const vg_segfile *f);

/* Hashes a whole file (for verify and repair): SHA-256 hex, size. */
int vg_file_sha256(const char *path, char out[65], uint64_t *bytes);

#endif
