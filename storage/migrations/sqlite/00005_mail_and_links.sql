-- +goose Up
-- Mail is written here in the same transaction as the change that causes it; a worker on any
-- instance claims a row with a lease (compare-and-set), sends it, and marks it sent. The bodies are
-- emptied once sent (they may carry a link).
CREATE TABLE mail_outbox (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL DEFAULT '',
    to_addr          TEXT NOT NULL,
    subject          TEXT NOT NULL,
    text_body        TEXT NOT NULL,
    html_body        TEXT NOT NULL,
    kind             TEXT NOT NULL DEFAULT '',
    user_id          TEXT NOT NULL DEFAULT '',
    created_at       DATETIME NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  DATETIME NOT NULL,
    lease_owner      TEXT NOT NULL DEFAULT '',
    lease_until      DATETIME,
    sent_at          DATETIME,
    last_error       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX mail_outbox_due ON mail_outbox (sent_at, next_attempt_at);
CREATE INDEX mail_outbox_user ON mail_outbox (user_id, kind, created_at);

-- Emailed links (password reset, invitation): a random token stored by its keyed hash, bound to its
-- purpose, user and tenant, single use (used_at set by compare-and-set), expiring.
CREATE TABLE email_links (
    id          TEXT PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    purpose     TEXT NOT NULL,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_by  TEXT NOT NULL DEFAULT '',
    created_at  DATETIME NOT NULL,
    expires_at  DATETIME NOT NULL,
    used_at     DATETIME,
    revoked_at  DATETIME
);
CREATE INDEX email_links_user ON email_links (user_id, purpose);
CREATE INDEX email_links_expires ON email_links (expires_at);

-- +goose Down
DROP TABLE email_links;
DROP TABLE mail_outbox;
