-- Sessions that live as long as the provider's grant (issue 18, refresh):
-- the provider's refresh token, sealed (AES-256-GCM under a key derived
-- from the session secret, bound to the row's jti; never in the clear, never
-- in the browser), when the provider's access token expires, when the
-- server renews it, and a lease so that of several replicas only one uses
-- the refresh token at a time (providers that rotate refresh tokens refuse,
-- and may revoke the grant at, a second use of the old one).
ALTER TABLE sso_sessions ADD COLUMN refresh_token TEXT;
ALTER TABLE sso_sessions ADD COLUMN access_expires_at BIGINT;
ALTER TABLE sso_sessions ADD COLUMN refresh_at BIGINT;
ALTER TABLE sso_sessions ADD COLUMN lease_until BIGINT;
