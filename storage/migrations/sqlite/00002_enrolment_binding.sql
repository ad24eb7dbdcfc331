-- +goose Up
-- A pending TOTP secret belongs to the sign-in (auth request, itself bound to one browser) that created
-- it, not to the user: another sign-in of the same user can neither see, replace nor confirm it. The
-- authenticators table keeps active authenticators only (its UNIQUE user_id: one can become active).
CREATE TABLE pending_enrolments (
    id               TEXT PRIMARY KEY,
    auth_request_id  TEXT NOT NULL UNIQUE REFERENCES auth_requests(id) ON DELETE CASCADE,
    user_id          TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    tenant_id        TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    secret_sealed    BLOB NOT NULL,
    created_at       DATETIME NOT NULL
);
CREATE INDEX pending_enrolments_user ON pending_enrolments (user_id);

-- Pending rows of the old shape are dropped: their users simply see a new secret at the next sign-in.
DELETE FROM authenticators WHERE state <> 'active';
ALTER TABLE authenticators ADD COLUMN enrolled_client_id TEXT NOT NULL DEFAULT '';
ALTER TABLE authenticators ADD COLUMN enrolled_address TEXT NOT NULL DEFAULT '';

-- A one-time code that an admin's reset hands out: the next enrolment of the user needs it (no trust on
-- first use after a reset). One per user; a new reset replaces it; enrolling spends it.
CREATE TABLE enrolment_codes (
    user_id     TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    code_hash   TEXT NOT NULL UNIQUE,
    created_by  TEXT NOT NULL DEFAULT '',
    created_at  DATETIME NOT NULL,
    expires_at  DATETIME NOT NULL
);

-- The sign-in binding rotates at every step; a browser's other sign-ins in flight move with it.
CREATE INDEX auth_requests_browser ON auth_requests (browser_hash);

-- +goose Down
DROP INDEX auth_requests_browser;
DROP TABLE enrolment_codes;
ALTER TABLE authenticators DROP COLUMN enrolled_address;
ALTER TABLE authenticators DROP COLUMN enrolled_client_id;
DROP TABLE pending_enrolments;
