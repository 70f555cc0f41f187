-- SSO providers saved in the admin settings (they override or add to the
-- `[[oidc_providers]]` of the config file), and SSO identities linked to an
-- existing account by verified e-mail (`merge_accounts_by_email`).
CREATE TABLE oidc_providers (
    name          TEXT PRIMARY KEY NOT NULL,
    -- OidcProviderSettings as JSON, without the client secret
    settings      TEXT NOT NULL,
    client_secret TEXT,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE oidc_links (
    provider   TEXT NOT NULL,
    subject    TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (provider, subject)
);
