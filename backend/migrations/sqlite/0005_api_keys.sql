-- Permissions granted to a user or to a group's members, and API keys (one
-- active key per user, stored only as a keyed hash).
CREATE TABLE permissions (
    subject_kind TEXT NOT NULL CHECK (subject_kind IN ('user', 'group')),
    subject_id   TEXT NOT NULL,
    permission   TEXT NOT NULL,
    PRIMARY KEY (subject_kind, subject_id, permission)
);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY NOT NULL,
    user_id      TEXT NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    prefix       TEXT NOT NULL,
    -- HMAC-SHA256 of the whole key under the server's API-key secret, hex
    digest       TEXT NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
);
