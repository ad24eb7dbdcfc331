-- +goose Up
-- The user named by a verified id_token_hint of the /authorize request: a browser session of another
-- user must not answer it (OIDC Core 3.1.2.2).
ALTER TABLE auth_requests ADD COLUMN hint_subject TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE auth_requests DROP COLUMN hint_subject;
