-- 0001_foundation.sql - users, groups, sessions, API tokens and the audit log.
--
-- Times are UTC milliseconds. Text columns that a caller may leave out are
-- NOT NULL DEFAULT '' so the audit hash has one spelling for "nothing".

CREATE TABLE users (
  id         INTEGER PRIMARY KEY,
  username   TEXT    NOT NULL UNIQUE COLLATE NOCASE
                     CHECK (length(username) BETWEEN 1 AND 64),
  role       TEXT    NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
  pwhash     TEXT    NOT NULL DEFAULT '',
  disabled   INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE groups (
  id          INTEGER PRIMARY KEY,
  name        TEXT    NOT NULL UNIQUE COLLATE NOCASE,
  description TEXT    NOT NULL DEFAULT '',
  created_at  INTEGER NOT NULL
);

CREATE TABLE group_members (
  group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
  user_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;

-- Finding a user's groups walks the second column of the key.
CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE sessions (
  id         INTEGER PRIMARY KEY,
  user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  token_hash TEXT    NOT NULL UNIQUE,
  csrf       TEXT    NOT NULL DEFAULT '',
  kind       TEXT    NOT NULL CHECK (kind IN ('cookie', 'bearer', 'api')),
  addr       TEXT    NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);

CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE api_tokens (
  id           INTEGER PRIMARY KEY,
  user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name         TEXT    NOT NULL,
  token_hash   TEXT    NOT NULL UNIQUE,
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER,
  expires_at   INTEGER
);

CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- user_id has no foreign key: the log outlives the users it names.
-- hash = hex SHA-256 over prev_hash, '\n' and the row's fields (see store.c).
CREATE TABLE audit_log (
  id        INTEGER PRIMARY KEY,
  at        INTEGER NOT NULL,
  user_id   INTEGER NOT NULL DEFAULT 0,
  username  TEXT    NOT NULL DEFAULT '',
  addr      TEXT    NOT NULL DEFAULT '',
  action    TEXT    NOT NULL,
  target    TEXT    NOT NULL DEFAULT '',
  detail    TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(detail)),
  prev_hash TEXT    NOT NULL,
  hash      TEXT    NOT NULL
);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
  SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
  SELECT RAISE(ABORT, 'audit_log is append-only');
END;
