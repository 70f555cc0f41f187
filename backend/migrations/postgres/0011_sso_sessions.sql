-- What RP-initiated logout needs of a session signed in through an OpenID
-- provider, kept on the server (never in the browser), by the Tessera
-- session's `jti`: the provider and its raw ID token, sent back as
-- `id_token_hint` at sign-out. A row is deleted when its session signs out
-- and purged after `expires_at` (the session's `exp`, or a bounded default
-- for sessions that never expire).
--
-- Meant to grow: the provider's refresh token, encrypted, can be added as a
-- nullable column of this row; `id_token` is nullable so a session with a
-- refresh token but no ID token (plain OAuth 2.0) can have a row too.
CREATE TABLE sso_sessions (
    jti        TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    user_id    TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- the provider's name in Tessera (the {provider} in the paths)
    provider   TEXT COLLATE "C" NOT NULL,
    id_token   TEXT COLLATE "C",
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sso_sessions_expires_at ON sso_sessions (expires_at);
CREATE INDEX sso_sessions_user ON sso_sessions (user_id);
