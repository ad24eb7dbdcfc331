-- +goose Up
-- WebAuthn credentials (passkeys and security keys), per user. credential_id is unique across the
-- whole server: a credential belongs to exactly one user of one tenant.
CREATE TABLE webauthn_credentials (
    id               TEXT PRIMARY KEY,
    credential_id    BYTEA NOT NULL UNIQUE,
    user_id          TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    tenant_id        TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    public_key       BYTEA NOT NULL,
    sign_count       BIGINT NOT NULL DEFAULT 0,
    transports       TEXT NOT NULL DEFAULT '',
    aaguid           BYTEA,
    attestation_type TEXT NOT NULL DEFAULT '',
    user_verified    BOOLEAN NOT NULL DEFAULT FALSE,
    backup_eligible  BOOLEAN NOT NULL DEFAULT FALSE,
    backup_state     BOOLEAN NOT NULL DEFAULT FALSE,
    name             TEXT NOT NULL DEFAULT '',
    created_at       TIMESTAMPTZ NOT NULL,
    last_used_at     TIMESTAMPTZ
);
CREATE INDEX webauthn_credentials_user ON webauthn_credentials (user_id);

-- A ceremony's challenge belongs to the sign-in (auth request, itself bound to one browser) that began
-- it, one per purpose; taking it deletes it (single use). It goes with its auth request.
CREATE TABLE webauthn_challenges (
    id               TEXT PRIMARY KEY,
    auth_request_id  TEXT NOT NULL REFERENCES auth_requests(id) ON DELETE CASCADE,
    purpose          TEXT NOT NULL,
    user_id          TEXT NOT NULL DEFAULT '',
    tenant_id        TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    session_data     TEXT NOT NULL,
    expires_at       TIMESTAMPTZ NOT NULL,
    UNIQUE (auth_request_id, purpose)
);

-- The second factors a tenant allows: a comma-separated subset of totp,webauthn.
ALTER TABLE tenants ADD COLUMN mfa_methods TEXT NOT NULL DEFAULT 'totp,webauthn';

-- +goose Down
ALTER TABLE tenants DROP COLUMN mfa_methods;
DROP TABLE webauthn_challenges;
DROP TABLE webauthn_credentials;
