-- +goose Up
CREATE TABLE tenants (
    id              TEXT PRIMARY KEY,
    slug            TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    mfa_enabled     BOOLEAN NOT NULL DEFAULT FALSE,
    mfa_updated_at  TIMESTAMPTZ,
    mfa_updated_by  TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL
);

CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    email           TEXT NOT NULL,
    name            TEXT NOT NULL DEFAULT '',
    password_hash   TEXT NOT NULL,
    role            TEXT NOT NULL,
    disabled        BOOLEAN NOT NULL DEFAULT FALSE,
    email_verified  BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (tenant_id, email)
);

CREATE TABLE clients (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    secret_hash       TEXT NOT NULL DEFAULT '',
    public            BOOLEAN NOT NULL DEFAULT FALSE,
    redirect_uris     TEXT NOT NULL DEFAULT '',
    post_logout_uris  TEXT NOT NULL DEFAULT '',
    grants            TEXT NOT NULL DEFAULT '',
    scopes            TEXT NOT NULL DEFAULT '',
    admin             BOOLEAN NOT NULL DEFAULT FALSE,
    created_at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX clients_tenant ON clients (tenant_id);

CREATE TABLE auth_requests (
    id                     TEXT PRIMARY KEY,
    tenant_id              TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    client_id              TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    redirect_uri           TEXT NOT NULL,
    state                  TEXT NOT NULL DEFAULT '',
    nonce                  TEXT NOT NULL DEFAULT '',
    scopes                 TEXT NOT NULL DEFAULT '',
    response_type          TEXT NOT NULL,
    response_mode          TEXT NOT NULL DEFAULT '',
    code_challenge         TEXT NOT NULL DEFAULT '',
    code_challenge_method  TEXT NOT NULL DEFAULT '',
    prompt                 TEXT NOT NULL DEFAULT '',
    max_age                BIGINT,
    login_hint             TEXT NOT NULL DEFAULT '',
    acr_values             TEXT NOT NULL DEFAULT '',
    ui_locales             TEXT NOT NULL DEFAULT '',
    require_mfa            BOOLEAN NOT NULL DEFAULT FALSE,
    created_at             TIMESTAMPTZ NOT NULL,
    expires_at             TIMESTAMPTZ NOT NULL,
    browser_hash           TEXT NOT NULL DEFAULT '',
    user_id                TEXT NOT NULL DEFAULT '',
    factors                TEXT NOT NULL DEFAULT '',
    auth_time              TIMESTAMPTZ,
    code_hash              TEXT UNIQUE,
    code_expires_at        TIMESTAMPTZ,
    code_used_at           TIMESTAMPTZ,
    consumed_at            TIMESTAMPTZ
);
CREATE INDEX auth_requests_expires ON auth_requests (expires_at);

CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    factors     TEXT NOT NULL DEFAULT '',
    auth_time   TIMESTAMPTZ NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE access_tokens (
    id          TEXT PRIMARY KEY,
    grant_id    TEXT NOT NULL,
    tenant_id   TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    subject     TEXT NOT NULL,
    scopes      TEXT NOT NULL DEFAULT '',
    audience    TEXT NOT NULL DEFAULT '',
    amr         TEXT NOT NULL DEFAULT '',
    acr         TEXT NOT NULL DEFAULT '',
    auth_time   TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ
);
CREATE INDEX access_tokens_grant ON access_tokens (grant_id);
CREATE INDEX access_tokens_subject ON access_tokens (subject);
CREATE INDEX access_tokens_expires ON access_tokens (expires_at);

CREATE TABLE refresh_tokens (
    id          TEXT PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    grant_id    TEXT NOT NULL,
    tenant_id   TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    subject     TEXT NOT NULL,
    scopes      TEXT NOT NULL DEFAULT '',
    audience    TEXT NOT NULL DEFAULT '',
    amr         TEXT NOT NULL DEFAULT '',
    acr         TEXT NOT NULL DEFAULT '',
    auth_time   TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    used_at     TIMESTAMPTZ,
    revoked_at  TIMESTAMPTZ
);
CREATE INDEX refresh_tokens_grant ON refresh_tokens (grant_id);
CREATE INDEX refresh_tokens_subject ON refresh_tokens (subject);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);

CREATE TABLE signing_keys (
    id              TEXT PRIMARY KEY,
    algorithm       TEXT NOT NULL,
    private_sealed  BYTEA NOT NULL,
    public_pem      BYTEA NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    retired_at      TIMESTAMPTZ,
    expires_at      TIMESTAMPTZ
);

CREATE TABLE throttles (
    key           TEXT PRIMARY KEY,
    failures      INTEGER NOT NULL DEFAULT 0,
    locked_until  TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX throttles_updated ON throttles (updated_at);

CREATE TABLE authenticators (
    id             TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL UNIQUE REFERENCES users(id) ON DELETE CASCADE,
    tenant_id      TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    secret_sealed  BYTEA NOT NULL,
    state          TEXT NOT NULL,
    last_step      BIGINT NOT NULL DEFAULT 0,
    created_at     TIMESTAMPTZ NOT NULL,
    confirmed_at   TIMESTAMPTZ,
    last_used_at   TIMESTAMPTZ
);

CREATE TABLE recovery_codes (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    hash        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    used_at     TIMESTAMPTZ
);
CREATE INDEX recovery_codes_user ON recovery_codes (user_id);

CREATE TABLE audit_events (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    actor_id    TEXT NOT NULL DEFAULT '',
    action      TEXT NOT NULL,
    target_id   TEXT NOT NULL DEFAULT '',
    address     TEXT NOT NULL DEFAULT '',
    detail      TEXT NOT NULL DEFAULT '{}',
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX audit_events_tenant_created ON audit_events (tenant_id, created_at);

-- +goose Down
DROP TABLE audit_events;
DROP TABLE recovery_codes;
DROP TABLE authenticators;
DROP TABLE throttles;
DROP TABLE signing_keys;
DROP TABLE refresh_tokens;
DROP TABLE access_tokens;
DROP TABLE sessions;
DROP TABLE auth_requests;
DROP TABLE clients;
DROP TABLE users;
DROP TABLE tenants;
