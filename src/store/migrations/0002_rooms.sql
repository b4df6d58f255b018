-- 0002_rooms.sql - rooms, their cameras and who may see them; and the
-- tables the recorder fills (recordings, tracks, segments, spans, markers),
-- created now so the first recorder needs no migration of its own.
--
-- Times are UTC milliseconds unless a column says otherwise. Text a caller
-- may leave out is NOT NULL DEFAULT '', as in 0001.

-- Groups gain the updated_at every other editable row has.
ALTER TABLE groups ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
UPDATE groups SET updated_at = created_at;

CREATE TABLE rooms (
  id          INTEGER PRIMARY KEY,
  name        TEXT    NOT NULL UNIQUE COLLATE NOCASE
                      CHECK (length(name) BETWEEN 1 AND 128),
  description TEXT    NOT NULL DEFAULT '',
  disabled    INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);

-- password_enc is the nonce followed by the secretbox ciphertext (see
-- src/app/secrets.h); NULL when the camera has no password. url and
-- substream_url never carry a userinfo part: credentials live in their own
-- columns.
CREATE TABLE cameras (
  id            INTEGER PRIMARY KEY,
  room_id       INTEGER NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
  name          TEXT    NOT NULL COLLATE NOCASE CHECK (length(name) BETWEEN 1 AND 128),
  url           TEXT    NOT NULL,
  substream_url TEXT    NOT NULL DEFAULT '',
  username      TEXT    NOT NULL DEFAULT '',
  password_enc  BLOB,
  transport     TEXT    NOT NULL DEFAULT 'tcp' CHECK (transport IN ('tcp', 'udp')),
  enabled       INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  continuous    INTEGER NOT NULL DEFAULT 0 CHECK (continuous IN (0, 1)),
  position      INTEGER NOT NULL DEFAULT 0,
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL,
  UNIQUE (room_id, name)
);

CREATE INDEX cameras_room_position ON cameras (room_id, position);

-- A right to see a room, given to one user or to one group.
CREATE TABLE room_access (
  id         INTEGER PRIMARY KEY,
  room_id    INTEGER NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
  user_id    INTEGER REFERENCES users (id) ON DELETE CASCADE,
  group_id   INTEGER REFERENCES groups (id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  CHECK ((user_id IS NULL) <> (group_id IS NULL)),
  UNIQUE (room_id, user_id),
  UNIQUE (room_id, group_id)
);

CREATE INDEX room_access_user ON room_access (user_id);
CREATE INDEX room_access_group ON room_access (group_id);

-- A room with recordings cannot be deleted (RESTRICT): video is never lost
-- as a side effect. author_id has no foreign key: recordings outlive the
-- users who made them, and author_name keeps the name.
CREATE TABLE recordings (
  id              INTEGER PRIMARY KEY,
  room_id         INTEGER NOT NULL REFERENCES rooms (id) ON DELETE RESTRICT,
  title           TEXT    NOT NULL DEFAULT '',
  author_id       INTEGER NOT NULL DEFAULT 0,
  author_name     TEXT    NOT NULL DEFAULT '',
  state           TEXT    NOT NULL CHECK (state IN ('recording', 'paused', 'stopped')),
  started_at      INTEGER NOT NULL,
  ended_at        INTEGER,
  locked          INTEGER NOT NULL DEFAULT 0 CHECK (locked IN (0, 1)),
  retention_until INTEGER,
  created_at      INTEGER NOT NULL
);

CREATE INDEX recordings_room_started ON recordings (room_id, started_at);
CREATE INDEX recordings_started ON recordings (started_at);

-- One track per camera of a recording. camera_id has no foreign key: a
-- camera may be deleted later and its video remains; camera_name keeps its
-- name.
CREATE TABLE recording_tracks (
  id           INTEGER PRIMARY KEY,
  recording_id INTEGER NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
  camera_id    INTEGER NOT NULL,
  camera_name  TEXT    NOT NULL DEFAULT '',
  started_at   INTEGER NOT NULL,
  ended_at     INTEGER,
  bytes        INTEGER NOT NULL DEFAULT 0,
  sha256       TEXT,
  UNIQUE (recording_id, camera_id)
);

-- The segment index: one row per fMP4 file on disk. recording_id is NULL
-- for 24/7 recording outside any session. sha256 is set when the file is
-- closed. The index is the truth `vigil verify` checks the files against.
CREATE TABLE segments (
  id           INTEGER PRIMARY KEY,
  camera_id    INTEGER NOT NULL,
  recording_id INTEGER REFERENCES recordings (id) ON DELETE SET NULL,
  path         TEXT    NOT NULL UNIQUE,
  start_ms     INTEGER NOT NULL,
  end_ms       INTEGER NOT NULL,
  bytes        INTEGER NOT NULL DEFAULT 0,
  frames       INTEGER NOT NULL DEFAULT 0,
  sha256       TEXT,
  state        TEXT    NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed', 'repaired'))
);

CREATE INDEX segments_camera_start ON segments (camera_id, start_ms);
CREATE INDEX segments_recording ON segments (recording_id);

-- The spans of a recording that were not paused; end_ms is NULL while the
-- span is running.
CREATE TABLE recording_spans (
  id           INTEGER PRIMARY KEY,
  recording_id INTEGER NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
  start_ms     INTEGER NOT NULL,
  end_ms       INTEGER
);

CREATE INDEX recording_spans_recording ON recording_spans (recording_id, start_ms);

-- time_s is seconds from the start of the recording (fractions allowed).
CREATE TABLE markers (
  id           INTEGER PRIMARY KEY,
  recording_id INTEGER NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
  time_s       REAL    NOT NULL CHECK (time_s >= 0),
  label        TEXT    NOT NULL DEFAULT '',
  color        TEXT    NOT NULL DEFAULT '',
  note         TEXT    NOT NULL DEFAULT '',
  author_id    INTEGER NOT NULL DEFAULT 0,
  author_name  TEXT    NOT NULL DEFAULT '',
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL
);

CREATE INDEX markers_recording_time ON markers (recording_id, time_s);
