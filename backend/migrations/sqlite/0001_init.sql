-- Users, their local passwords, and revoked session token ids.
CREATE TABLE users (
    id                TEXT PRIMARY KEY NOT NULL,
    email             TEXT NOT NULL,
    name              TEXT NOT NULL,
    role              TEXT NOT NULL CHECK (role IN ('admin', 'user', 'pending')),
    profile_image_url TEXT NOT NULL DEFAULT '',
    -- 'local', or the name of the issuer / provider that vouches for the user
    source            TEXT NOT NULL DEFAULT 'local',
    -- the subject at that issuer; NULL for local accounts
    subject           TEXT,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_local_email ON users (email) WHERE source = 'local';
CREATE UNIQUE INDEX users_external_subject ON users (source, subject) WHERE subject IS NOT NULL;

CREATE TABLE passwords (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hash    TEXT NOT NULL
);

CREATE TABLE groups (
    id         TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);

-- A revoked token id stays here until the token itself would have expired
-- (forever when it never expires: expires_at NULL).
CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY NOT NULL,
    expires_at INTEGER
);
