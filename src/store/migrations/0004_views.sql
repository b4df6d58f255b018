-- 0004_views.sql - saved views of the Observe page: a user's named set of
-- cameras, from any rooms, in order, with a grid layout.
--
-- A view belongs to one user and goes with them. Its cameras go with the
-- cameras (a deleted camera simply leaves the view); whether the user may
-- still see a camera is checked when the view is read, not stored here.

CREATE TABLE views (
  id         INTEGER PRIMARY KEY,
  user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name       TEXT    NOT NULL COLLATE NOCASE CHECK (length(name) BETWEEN 1 AND 128),
  layout     TEXT    NOT NULL DEFAULT '2x2' CHECK (layout IN ('1', '2x2', '3x3', '4x4')),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (user_id, name)
);

CREATE INDEX views_user ON views (user_id);

-- The cameras of a view; position orders them (0, 1, 2, ...).
CREATE TABLE view_cameras (
  view_id   INTEGER NOT NULL REFERENCES views (id) ON DELETE CASCADE,
  position  INTEGER NOT NULL,
  camera_id INTEGER NOT NULL REFERENCES cameras (id) ON DELETE CASCADE,
  PRIMARY KEY (view_id, position),
  UNIQUE (view_id, camera_id)
);

CREATE INDEX view_cameras_camera ON view_cameras (camera_id);
