-- 0003_review.sql - clips and retention.
--
-- Retention: a room has a default (retention_days, NULL = keep forever);
-- a recording inherits it or overrides it with a number of days after its
-- end, a date (retention_until, already in 0002), or forever. A recording
-- expires when its rule gives a time at or before now; locked recordings,
-- running ones and those holding a kept clip never expire (the queries in
-- store_sqlite.c say so once).

ALTER TABLE rooms ADD COLUMN retention_days INTEGER
  CHECK (retention_days IS NULL OR retention_days >= 0);

ALTER TABLE recordings ADD COLUMN retention_mode TEXT NOT NULL DEFAULT 'inherit'
  CHECK (retention_mode IN ('inherit', 'days', 'until', 'forever'));
ALTER TABLE recordings ADD COLUMN retention_days INTEGER
  CHECK (retention_days IS NULL OR retention_days >= 0);
UPDATE recordings SET retention_mode = 'until' WHERE retention_until IS NOT NULL;

-- A clip is a named stretch of a recording, in recording seconds (pauses
-- left out, like marker times); rows only, never a copy of the video.
-- keep = 1 keeps its recording from expiring.
CREATE TABLE clips (
  id           INTEGER PRIMARY KEY,
  recording_id INTEGER NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
  from_s       REAL    NOT NULL CHECK (from_s >= 0),
  to_s         REAL    NOT NULL CHECK (to_s > from_s),
  title        TEXT    NOT NULL DEFAULT '',
  author_id    INTEGER NOT NULL DEFAULT 0,
  author_name  TEXT    NOT NULL DEFAULT '',
  keep         INTEGER NOT NULL DEFAULT 0 CHECK (keep IN (0, 1)),
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL
);

CREATE INDEX clips_recording ON clips (recording_id, from_s);
CREATE INDEX clips_keep ON clips (recording_id) WHERE keep = 1;
