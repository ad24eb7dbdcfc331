-- +goose Up
-- Attempts in flight per counter: each is reserved before its secret is compared, so that requests sent
-- at once see each other and get no more tries than requests sent one after the other.
ALTER TABLE throttles ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE throttles DROP COLUMN pending;
